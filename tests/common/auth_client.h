/* Test helpers for the authentication suites: accounts made with the service's own CLI
 * (`notes user add`, `notes apikey create`) next to a running server, and requests carrying a
 * bearer token. Single-threaded test code; functions that allocate say who frees. */
#ifndef BW_TEST_AUTH_CLIENT_H
#define BW_TEST_AUTH_CLIENT_H

#include "harness.h"

/* `notes user add NAME --roles ROLES` with pw on stdin. 0, or -1 after printing the CLI's
 * output. */
int bw_test_user_add(bw_srv *srv, const char *name, const char *pw, const char *roles);

/* POST /v1/auth/login in bearer mode. On 200 returns 0 and a malloc'd token in *token (caller
 * frees); otherwise -1 with the status in *status (may be NULL). */
int bw_test_login(bw_srv *srv, const char *name, const char *pw, char **token, long *status);

/* `notes apikey create USER NAME --roles ROLES [--expires-days DAYS]` (days 0 = none). 0 and a
 * malloc'd key in *key (caller frees), or -1. */
int bw_test_apikey_create(bw_srv *srv, const char *user, const char *name, const char *roles,
                          int days, char **key);

/* bw_http with "Authorization: Bearer <token>" (token NULL: none), a JSON body (NULL: none,
 * else sent with Content-Type: application/json) and extra headers (NULL-terminated, may be
 * NULL). */
int bw_http_as(bw_srv *srv, const char *token, const char *method, const char *path,
               const char *json, const char *const *extra, bw_resp *resp);

/* Writes a config file into a fresh temp dir: the JSON text given. Returns a malloc'd path
 * (caller frees it and removes its folder with bw_test_config_free), or NULL. */
char *bw_test_config_write(const char *json);
void bw_test_config_free(char *path);

#endif
