/* Second factor helpers for the test suites: codes as an authenticator app computes them,
 * logins with a code, a whole enrolment. */
#include "totp_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "auth_client.h"

/* A code sent within this many seconds of a step's end may arrive in the next step: the
 * previous step is then too old, so it is not picked. */
#define STEP_MARGIN_S 4

int bw_test_totp_code(const char *b32, uint64_t step, char out[BW_TOTP_DIGITS + 1])
{
    unsigned char secret[BW_TOTP_SECRET_MAX];
    size_t len = 0;
    int rc = -1;

    out[0] = '\0';
    if (b32 != NULL && bw_totp_base32_decode(b32, strlen(b32), secret, sizeof(secret), &len) == 0 &&
        bw_totp_code(secret, len, step, out) == 0)
        rc = 0;
    sodium_memzero(secret, sizeof(secret));
    return rc;
}

uint64_t bw_test_totp_step_now(void)
{
    return (uint64_t)time(NULL) / BW_TOTP_PERIOD_S;
}

static void sleep_s(long s)
{
    struct timespec ts = {s, 0};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int bw_test_totp_next(const char *b32, uint64_t *last_step, char out[BW_TOTP_DIGITS + 1])
{
    for (;;) {
        long long now = (long long)time(NULL);
        uint64_t cur = (uint64_t)now / BW_TOTP_PERIOD_S, step;
        long long left = BW_TOTP_PERIOD_S - now % BW_TOTP_PERIOD_S;

        step = left > STEP_MARGIN_S ? cur - BW_TOTP_WINDOW : cur;
        if (step <= *last_step)
            step = *last_step + 1;
        if (step <= cur + BW_TOTP_WINDOW) {
            if (bw_test_totp_code(b32, step, out) != 0) {
                fprintf(stderr, "[totp_client] not a base32 secret\n");
                return -1;
            }
            *last_step = step;
            return 0;
        }
        /* Three codes used within the window: the next one is good from the next step. */
        sleep_s(left + 1);
    }
}

int bw_test_login_factor(bw_srv *srv, const char *name, const char *pw, const char *code,
                         const char *recovery, const char *mode, bw_resp *resp)
{
    json_t *body = json_pack("{s:s, s:s}", "username", name, "password", pw);
    char *text = NULL;
    int rc = -1;

    if (body != NULL &&
        (code == NULL || json_object_set_new(body, "code", json_string(code)) == 0) &&
        (recovery == NULL ||
         json_object_set_new(body, "recovery_code", json_string(recovery)) == 0) &&
        (mode == NULL || json_object_set_new(body, "session", json_string(mode)) == 0))
        text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text != NULL)
        rc = bw_http_as(srv, NULL, "POST", "/v1/auth/login", text, NULL, resp);
    free(text);
    return rc;
}

/* A malloc'd copy of the string member key of r's JSON body, or NULL. */
static char *body_string(const bw_resp *r, const char *key)
{
    json_t *doc = json_loads(r->body, 0, NULL);
    const char *v = json_string_value(json_object_get(doc, key));
    char *out = v != NULL ? strdup(v) : NULL;

    json_decref(doc);
    return out;
}

static void print_resp(const char *what, const bw_resp *r)
{
    fprintf(stderr, "[totp_client] %s: status %ld, body: %s\n", what, r->status,
            r->body != NULL ? r->body : "");
}

int bw_test_mfa_login(bw_srv *srv, const char *name, const char *pw, const char *b32,
                      uint64_t *last_step, char **token)
{
    char code[BW_TOTP_DIGITS + 1];
    bw_resp r;
    int rc = -1;

    *token = NULL;
    if (bw_test_totp_next(b32, last_step, code) != 0 ||
        bw_test_login_factor(srv, name, pw, code, NULL, NULL, &r) != 0)
        return -1;
    if (r.status == 200 && (*token = body_string(&r, "token")) != NULL)
        rc = 0;
    else
        print_resp("login with a code", &r);
    bw_resp_free(&r);
    return rc;
}

/* Copies the recovery codes of the confirm answer doc into codes. 0, or -1. */
static int copy_codes(const json_t *doc,
                      char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1])
{
    const json_t *arr = json_object_get(doc, "recovery_codes");

    if (json_array_size(arr) != BW_TOTP_RECOVERY_COUNT)
        return -1;
    for (size_t i = 0; i < BW_TOTP_RECOVERY_COUNT; i++) {
        const char *c = json_string_value(json_array_get(arr, i));

        if (c == NULL || strlen(c) != BW_TOTP_RECOVERY_LEN)
            return -1;
        memcpy(codes[i], c, BW_TOTP_RECOVERY_LEN + 1);
    }
    return 0;
}

int bw_test_mfa_enrol(bw_srv *srv, const char *token, char b32[BW_TEST_TOTP_B32_SIZE],
                      uint64_t *last_step, char **new_token,
                      char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1])
{
    char code[BW_TOTP_DIGITS + 1], body[64];
    char *secret = NULL;
    json_t *doc = NULL;
    bw_resp r;
    int rc = -1, n;

    *new_token = NULL;
    *last_step = 0;
    if (bw_http_as(srv, token, "POST", "/v1/auth/mfa/enroll", "{}", NULL, &r) != 0)
        return -1;
    if (r.status != 200 || (secret = body_string(&r, "secret")) == NULL ||
        strlen(secret) != BW_TEST_TOTP_B32_SIZE - 1) {
        print_resp("enroll", &r);
        goto out;
    }
    memcpy(b32, secret, BW_TEST_TOTP_B32_SIZE);
    bw_resp_free(&r);
    n = 0;
    if (bw_test_totp_next(b32, last_step, code) == 0)
        n = snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
    if (n <= 0 || (size_t)n >= sizeof(body) ||
        bw_http_as(srv, token, "POST", "/v1/auth/mfa/confirm", body, NULL, &r) != 0) {
        free(secret);
        return -1;
    }
    doc = json_loads(r.body, 0, NULL);
    if (r.status != 200 || (*new_token = body_string(&r, "token")) == NULL ||
        (codes != NULL && copy_codes(doc, codes) != 0)) {
        print_resp("confirm", &r);
        free(*new_token);
        *new_token = NULL;
        goto out;
    }
    rc = 0;
out:
    json_decref(doc);
    free(secret);
    bw_resp_free(&r);
    return rc;
}

int bw_test_mfa_upgrade(bw_srv *srv, char **token, char b32[BW_TEST_TOTP_B32_SIZE],
                        uint64_t *last_step)
{
    char *fresh = NULL;

    if (bw_test_mfa_enrol(srv, *token, b32, last_step, &fresh, NULL) != 0)
        return -1;
    free(*token);
    *token = fresh;
    return 0;
}

int bw_test_mfa_refused(bw_srv *srv, const char *token, const char *method, const char *path,
                        const char *json)
{
    const char *type;
    json_t *doc;
    bw_resp r;
    int rc = -1;

    if (bw_http_as(srv, token, method, path, json, NULL, &r) != 0)
        return -1;
    doc = json_loads(r.body != NULL ? r.body : "", 0, NULL);
    type = json_string_value(json_object_get(doc, "type"));
    if (r.status == 403 && type != NULL && strcmp(type, BW_TEST_MFA_REQUIRED_TYPE) == 0)
        rc = 0;
    else
        fprintf(stderr, "[totp_client] %s %s: wanted 403 %s, got %ld: %s\n", method, path,
                BW_TEST_MFA_REQUIRED_TYPE, r.status, r.body != NULL ? r.body : "");
    json_decref(doc);
    bw_resp_free(&r);
    return rc;
}
