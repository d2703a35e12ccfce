/* Test helpers for the authentication suites: a server started with a config of the test's
 * own, accounts made with the service's own CLI (`notes user add`, `notes apikey create`) next
 * to it, logins in either session mode, and requests carrying a bearer token or the session
 * cookie. Functions returning int report failure with -1 (for group set-ups); the bw_test_want_*
 * and bw_test_call family fail the running cmocka test instead (for test bodies).
 * Single-threaded test code; functions that allocate say who frees. */
#ifndef BW_TEST_AUTH_CLIENT_H
#define BW_TEST_AUTH_CLIENT_H

#include <jansson.h>

#include "harness.h"

/* Length of a session token and of a CSRF token: 256 bits in base64url without padding. */
#define BW_TEST_TOKEN_LEN 43

/* Writes json as a config file (bw_test_config_write) and starts a server with it. Returns
 * the server and the config's path in *config (free both with bw_test_srv_stop), or NULL with
 * *config NULL and nothing left behind. */
bw_srv *bw_test_srv_start_json(const char *json, char **config);

/* Stops *srv when it is not NULL, frees *config (may be NULL), and sets both to NULL. Returns
 * the server's exit code as bw_srv_stop does, or -1 when there was no server. */
int bw_test_srv_stop(bw_srv **srv, char **config);

/* Runs `notes argv...` next to srv (bw_srv_run) with input on stdin (may be NULL). 0 when it
 * exited 0, else -1 after printing its output. */
int bw_test_cli(bw_srv *srv, const char *const *argv, const char *input);

/* `notes user add NAME --roles ROLES` with pw on stdin. 0, or -1 after printing the CLI's
 * output. */
int bw_test_user_add(bw_srv *srv, const char *name, const char *pw, const char *roles);

/* POST /v1/auth/login with {"username": name, "password": pw} plus "session": mode when mode
 * is not NULL, and extra headers as bw_http_as. 0 with resp filled (free with bw_resp_free),
 * or -1. */
int bw_test_login_request(bw_srv *srv, const char *name, const char *pw, const char *mode,
                          const char *const *extra, bw_resp *resp);

/* A bearer-mode login. On 200 returns 0 and a malloc'd token in *token (caller frees);
 * otherwise -1 with the status in *status (may be NULL). */
int bw_test_login(bw_srv *srv, const char *name, const char *pw, char **token, long *status);

/* A cookie-mode login sending extra headers (may be NULL). On 200 with exactly one session
 * cookie and one CSRF cookie, each a token of BW_TEST_TOKEN_LEN characters, and a "csrf_token"
 * in the body equal to the CSRF cookie: copies the session token into token and the CSRF token
 * into csrf (each BW_TEST_TOKEN_LEN + 1 bytes, either may be NULL) and returns 0. Otherwise -1,
 * after printing why. */
int bw_test_cookie_login(bw_srv *srv, const char *name, const char *pw, const char *const *extra,
                         char *token, char *csrf);

/* `notes apikey create USER NAME --roles ROLES [--expires-days DAYS]` (days 0 = none). 0 and a
 * malloc'd key in *key (caller frees), or -1. */
int bw_test_apikey_create(bw_srv *srv, const char *user, const char *name, const char *roles,
                          int days, char **key);

/* Writes the header line "Cookie: __Host-bw_session=<value>" into buf. 0, or -1 when it does
 * not fit. */
int bw_test_session_cookie(char *buf, size_t cap, const char *value);

/* Writes the header line "Origin: https://127.0.0.1:<port>", the service's own origin as the
 * harness reaches it, into buf. 0, or -1 when it does not fit. */
int bw_test_origin(const bw_srv *srv, char *buf, size_t cap);

/* bw_http with "Authorization: Bearer <token>" (token NULL: none), a JSON body (NULL: none,
 * else sent with Content-Type: application/json) and extra headers (NULL-terminated, may be
 * NULL). */
int bw_http_as(bw_srv *srv, const char *token, const char *method, const char *path,
               const char *json, const char *const *extra, bw_resp *resp);

/* bw_http_as with value sent as the session cookie (bw_test_session_cookie) instead of a
 * bearer token. */
int bw_http_as_cookie(bw_srv *srv, const char *value, const char *method, const char *path,
                      const char *json, const char *const *extra, bw_resp *resp);

/* Fails the running test unless r->status is want, naming what and quoting the body (in
 * decimal: cmocka's integer assertions print hex). */
void bw_test_want_status(const bw_resp *r, long want, const char *what);

/* bw_http_as with no extra headers, failing the test on a transport error or unless the
 * status is want. Returns the parsed body, an empty object when there is none (caller
 * decrefs). */
json_t *bw_test_call(bw_srv *srv, const char *token, const char *method, const char *path,
                     const char *json, long want);

/* The JSON object in r's body without its per-request "request_id" (which must be a string),
 * compact with keys sorted: what two answers that must not differ are compared by. Returns a
 * malloc'd string (caller frees); fails the test when the body is not such an object. */
char *bw_test_body_sans_request_id(const bw_resp *r);

/* Writes a config file into a fresh temp dir: the JSON text given. Returns a malloc'd path
 * (caller frees it and removes its folder with bw_test_config_free), or NULL. */
char *bw_test_config_write(const char *json);
void bw_test_config_free(char *path);

#endif
