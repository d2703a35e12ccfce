/*
 * The second factor against the running notes service, over HTTPS:
 *
 * - enrolment: POST /v1/auth/mfa/enroll answers a base32 secret and the otpauth:// URI holding
 *   that secret (not cached); confirm refuses a wrong code and accepts the code the secret gives
 *   now, answering ten distinct recovery codes and a new session with mfa = true, every older
 *   session of the user ended; enrolling again is refused; API keys cannot enrol;
 * - login: after a correct password, no code is a 401 of its own problem type (a wrong password
 *   still gets the plain 401), a wrong code a 401, the right code a session with mfa = true
 *   (GET /v1/auth/me shows it), the same code again is refused (replay); a recovery code logs
 *   in once, in any case and without dashes, and never again;
 * - throttling: a wrong code is a failure like a wrong password, so after auth.lockout.threshold
 *   of them even the right code gets 429; asking for the code (no code sent) is not a failure;
 * - the .mfa route (DELETE /v1/auth/mfa): refused with 403 and the mfa-required type to a
 *   session without a second factor (no factor, or a pending one) and to an API key; with a
 *   second factor it still needs the password and a current code, then ends every session;
 * - the trail: an audit record for each event, and no secret, URI, code or recovery code in
 *   the audit records or the server's log.
 *
 * Codes are computed at test time from the secret the server handed out (bw_totp_code), and
 * each account's last used step is tracked (totp_client.h), so no test waits for the clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth_client.h"
#include "harness.h"
#include "totp_client.h"

static const char *const PW = "correct horse battery staple";
#define THRESHOLD 3
/* Lockout long enough to outlast the test; route limits and the address limit out of the way. */
static const char CONFIG[] =
    "{\"ratelimit\": {\"route_burst\": 100000}, \"auth\": {\"password\": {\"memlimit_kib\": 19456},"
    " \"lockout\": {\"threshold\": 3, \"base_delay_s\": 120, \"max_delay_s\": 900},"
    " \"address\": {\"max_failures\": 1000, \"window_s\": 60}}}";

#define MFA_TYPE "urn:bulwark:problem:mfa-required"
#define MAX_SECRETS 256
#define RECORD_WAIT_MS 5000

typedef struct fixture {
    char *config;
    bw_srv *srv;
    /* Every secret, URI, code and recovery code the tests saw: none may be in the trail. */
    char *secrets[MAX_SECRETS];
    size_t nsecrets;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    static const char *const users[] = {"alice", "bob",  "carol", "dave",
                                        "erin",  "gina", "hank",  "ivan"};

    if (f == NULL)
        return -1;
    *state = f;
    if (sodium_init() < 0 || (f->srv = bw_test_srv_start_json(CONFIG, &f->config)) == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        if (bw_test_user_add(f->srv, users[i], PW, "editor") != 0)
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc;

    if (f == NULL)
        return -1;
    rc = bw_test_srv_stop(&f->srv, &f->config);
    for (size_t i = 0; i < f->nsecrets; i++)
        free(f->secrets[i]);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Remembers s for the leak checks of test_trail_holds_no_secrets. */
static void remember(fixture *f, const char *s)
{
    assert_true(f->nsecrets < MAX_SECRETS);
    assert_non_null(f->secrets[f->nsecrets] = strdup(s));
    f->nsecrets++;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        assert_int_equal(errno, EINTR);
}

static char *login_or_fail(bw_srv *srv, const char *name)
{
    char *token = NULL;
    long status = 0;

    if (bw_test_login(srv, name, PW, &token, &status) != 0)
        fail_msg("login of %s: status %ld", name, status);
    return token;
}

/* The "type" of a problem answer ("" when none). */
static void want_type(const bw_resp *r, const char *type)
{
    json_t *doc = json_loads(r->body, 0, NULL);
    const char *t = json_string_value(json_object_get(doc, "type"));

    if (t == NULL || strcmp(t, type) != 0)
        fail_msg("problem type %s, want %s; body %s", t != NULL ? t : "(none)", type, r->body);
    json_decref(doc);
}

/* GET /v1/auth/me: the "mfa" object's two flags. */
static void want_me_mfa(bw_srv *srv, const char *token, bool enrolled, bool session)
{
    json_t *me = bw_test_call(srv, token, "GET", "/v1/auth/me", NULL, 200);
    json_t *m = json_object_get(me, "mfa");

    assert_true(json_is_object(m));
    assert_true(json_is_boolean(json_object_get(m, "enrolled")));
    assert_true(json_is_boolean(json_object_get(m, "session")));
    assert_int_equal(json_is_true(json_object_get(m, "enrolled")), enrolled);
    assert_int_equal(json_is_true(json_object_get(m, "session")), session);
    json_decref(me);
}

/* A code that the secret gives at no step near now (so it is wrong whatever the window). */
static void wrong_code(const char *b32, char out[BW_TOTP_DIGITS + 1])
{
    uint64_t cur = bw_test_totp_step_now();
    char near[5][BW_TOTP_DIGITS + 1];
    bool clash;

    for (int i = 0; i < 5; i++)
        assert_int_equal(bw_test_totp_code(b32, cur - 2 + (uint64_t)i, near[i]), 0);
    memcpy(out, near[2], sizeof(near[2]));
    do {
        out[5] = (char)('0' + (out[5] - '0' + 1) % 10);
        clash = false;
        for (int i = 0; i < 5; i++)
            clash = clash || strcmp(out, near[i]) == 0;
    } while (clash);
}

/* Enrols name (a fresh login): the secret into b32, the mfa session's token returned (caller
 * frees), *last set, the codes into codes when not NULL. */
static char *enrol(fixture *f, const char *name, char b32[BW_TEST_TOTP_B32_SIZE], uint64_t *last,
                   char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1])
{
    char *token = login_or_fail(f->srv, name), *mfa_token = NULL;

    assert_int_equal(bw_test_mfa_enrol(f->srv, token, b32, last, &mfa_token, codes), 0);
    remember(f, b32);
    for (size_t i = 0; codes != NULL && i < BW_TOTP_RECOVERY_COUNT; i++)
        remember(f, codes[i]);
    free(token);
    return mfa_token;
}

static void login_code(fixture *f, const char *name, const char *pw, const char *code,
                       const char *recovery, bw_resp *r)
{
    assert_int_equal(bw_test_login_factor(f->srv, name, pw, code, recovery, NULL, r), 0);
}

/* ---- enrolment ------------------------------------------------------------------------------- */

static void test_enrol_and_confirm(void **state)
{
    fixture *f = *state;
    char *token = login_or_fail(f->srv, "alice");
    char b32[BW_TEST_TOTP_B32_SIZE], code[BW_TOTP_DIGITS + 1], bad[BW_TOTP_DIGITS + 1];
    char body[64], expect[128];
    const char *uri, *secret;
    uint64_t last = 0;
    json_t *doc, *arr;
    bw_resp r;

    want_me_mfa(f->srv, token, false, false);

    /* The secret, and the URI holding the same secret, the issuer and the account. */
    assert_int_equal(bw_http_as(f->srv, token, "POST", "/v1/auth/mfa/enroll", "{}", NULL, &r), 0);
    bw_test_want_status(&r, 200, "enroll");
    BW_ASSERT_SECURE_HEADERS(&r, NULL);
    assert_int_equal(bw_resp_header_count(&r, "Cache-Control"), 1);
    assert_string_equal(bw_resp_header(&r, "Cache-Control"), "no-store");
    doc = json_loads(r.body, 0, NULL);
    secret = json_string_value(json_object_get(doc, "secret"));
    uri = json_string_value(json_object_get(doc, "uri"));
    assert_non_null(secret);
    assert_non_null(uri);
    assert_int_equal(strlen(secret), BW_TEST_TOTP_B32_SIZE - 1);
    assert_int_equal(strspn(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), strlen(secret));
    assert_int_equal(snprintf(expect, sizeof(expect), "?secret=%s&", secret) > 0, 1);
    assert_non_null(strstr(uri, expect));
    assert_int_equal(strncmp(uri, "otpauth://totp/Bulwark%20notes:alice?", 37), 0);
    assert_non_null(strstr(uri, "&issuer=Bulwark%20notes"));
    memcpy(b32, secret, sizeof(b32));
    remember(f, b32);
    remember(f, uri);
    json_decref(doc);
    bw_resp_free(&r);

    /* Pending is not enrolled. */
    want_me_mfa(f->srv, token, false, false);

    /* A wrong code, then a malformed one, are refused; nothing is enabled. */
    wrong_code(b32, bad);
    assert_int_equal(snprintf(body, sizeof(body), "{\"code\":\"%s\"}", bad) > 0, 1);
    assert_int_equal(bw_http_as(f->srv, token, "POST", "/v1/auth/mfa/confirm", body, NULL, &r), 0);
    BW_ASSERT_REFUSED(&r, 400);
    bw_resp_free(&r);
    assert_int_equal(
        bw_http_as(f->srv, token, "POST", "/v1/auth/mfa/confirm", "{\"code\":\"12345\"}", NULL, &r),
        0);
    BW_ASSERT_REFUSED(&r, 400);
    bw_resp_free(&r);
    want_me_mfa(f->srv, token, false, false);

    /* The right code: ten distinct codes and a new session with mfa; the old one is ended. */
    assert_int_equal(bw_test_totp_next(b32, &last, code), 0);
    remember(f, code);
    assert_int_equal(snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code) > 0, 1);
    assert_int_equal(bw_http_as(f->srv, token, "POST", "/v1/auth/mfa/confirm", body, NULL, &r), 0);
    bw_test_want_status(&r, 200, "confirm");
    assert_string_equal(bw_resp_header(&r, "Cache-Control"), "no-store");
    doc = json_loads(r.body, 0, NULL);
    arr = json_object_get(doc, "recovery_codes");
    assert_int_equal(json_array_size(arr), BW_TOTP_RECOVERY_COUNT);
    for (size_t i = 0; i < BW_TOTP_RECOVERY_COUNT; i++) {
        const char *c = json_string_value(json_array_get(arr, i));

        assert_non_null(c);
        assert_int_equal(strlen(c), BW_TOTP_RECOVERY_LEN);
        remember(f, c);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(c, json_string_value(json_array_get(arr, j)));
    }
    assert_non_null(json_string_value(json_object_get(doc, "token")));
    {
        char *fresh = strdup(json_string_value(json_object_get(doc, "token")));

        assert_non_null(fresh);
        assert_string_not_equal(fresh, token);
        json_decref(bw_test_call(f->srv, token, "GET", "/v1/auth/me", NULL, 401));
        want_me_mfa(f->srv, fresh, true, true);

        /* Enrolling again, or confirming again, is refused while the factor is on. */
        json_decref(bw_test_call(f->srv, fresh, "POST", "/v1/auth/mfa/enroll", "{}", 409));
        json_decref(bw_test_call(f->srv, fresh, "POST", "/v1/auth/mfa/confirm", body, 409));
        free(fresh);
    }
    json_decref(doc);
    bw_resp_free(&r);
    free(token);
}

/* A cookie session confirming gets its new session as cookies. */
static void test_confirm_in_cookie_mode(void **state)
{
    fixture *f = *state;
    char tok[BW_TEST_TOKEN_LEN + 1], csrf[BW_TEST_TOKEN_LEN + 1];
    char origin[128], csrf_h[128], body[64], code[BW_TOTP_DIGITS + 1];
    uint64_t last = 0;
    json_t *doc;
    bw_resp r;
    const char *extra[] = {origin, csrf_h, NULL};

    assert_int_equal(bw_test_cookie_login(f->srv, "bob", PW, NULL, tok, csrf), 0);
    assert_int_equal(bw_test_origin(f->srv, origin, sizeof(origin)), 0);
    assert_int_equal(snprintf(csrf_h, sizeof(csrf_h), "X-CSRF-Token: %s", csrf) > 0, 1);
    assert_int_equal(bw_http_as_cookie(f->srv, tok, "POST", "/v1/auth/mfa/enroll", "{}", extra, &r),
                     0);
    bw_test_want_status(&r, 200, "enroll (cookie)");
    doc = json_loads(r.body, 0, NULL);
    {
        char b32[BW_TEST_TOTP_B32_SIZE];

        memcpy(b32, json_string_value(json_object_get(doc, "secret")), sizeof(b32));
        remember(f, b32);
        assert_int_equal(bw_test_totp_next(b32, &last, code), 0);
    }
    json_decref(doc);
    bw_resp_free(&r);
    assert_int_equal(snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code) > 0, 1);
    assert_int_equal(
        bw_http_as_cookie(f->srv, tok, "POST", "/v1/auth/mfa/confirm", body, extra, &r), 0);
    bw_test_want_status(&r, 200, "confirm (cookie)");
    doc = json_loads(r.body, 0, NULL);
    assert_null(json_object_get(doc, "token"));
    assert_string_equal(json_string_value(json_object_get(doc, "session")), "cookie");
    assert_int_equal(json_array_size(json_object_get(doc, "recovery_codes")),
                     BW_TOTP_RECOVERY_COUNT);
    assert_int_equal(bw_resp_header_count(&r, "Set-Cookie"), 2);
    {
        /* The new session cookie works and has mfa; the old one is ended. */
        const char *sc = NULL;
        char fresh[BW_TEST_TOKEN_LEN + 1];

        for (size_t i = 0; i < r.nheaders; i++)
            if (strcasecmp(r.headers[i].name, "Set-Cookie") == 0 &&
                strncmp(r.headers[i].value, "__Host-bw_session=", 18) == 0)
                sc = r.headers[i].value + 18;
        assert_non_null(sc);
        assert_true(strcspn(sc, ";") == BW_TEST_TOKEN_LEN);
        memcpy(fresh, sc, BW_TEST_TOKEN_LEN);
        fresh[BW_TEST_TOKEN_LEN] = '\0';
        bw_resp_free(&r);
        assert_int_equal(bw_http_as_cookie(f->srv, tok, "GET", "/v1/auth/me", NULL, NULL, &r), 0);
        BW_ASSERT_REFUSED(&r, 401);
        bw_resp_free(&r);
        assert_int_equal(bw_http_as_cookie(f->srv, fresh, "GET", "/v1/auth/me", NULL, NULL, &r), 0);
        bw_test_want_status(&r, 200, "me with the new cookie");
        assert_non_null(strstr(r.body, "\"session\":true"));
    }
    for (size_t i = 0; i < json_array_size(json_object_get(doc, "recovery_codes")); i++)
        remember(f, json_string_value(json_array_get(json_object_get(doc, "recovery_codes"), i)));
    json_decref(doc);
    bw_resp_free(&r);
}

static void test_api_key_cannot_enrol(void **state)
{
    fixture *f = *state;
    char *key = NULL;
    bw_resp r;

    assert_int_equal(bw_test_apikey_create(f->srv, "carol", "k", "viewer", 0, &key), 0);
    assert_int_equal(bw_http_as(f->srv, key, "POST", "/v1/auth/mfa/enroll", "{}", NULL, &r), 0);
    BW_ASSERT_REFUSED(&r, 403);
    bw_resp_free(&r);
    assert_int_equal(
        bw_http_as(f->srv, key, "POST", "/v1/auth/mfa/confirm", "{\"code\":\"123456\"}", NULL, &r),
        0);
    BW_ASSERT_REFUSED(&r, 403);
    bw_resp_free(&r);
    free(key);
}

/* ---- login ----------------------------------------------------------------------------------- */

static void test_login_needs_the_code(void **state)
{
    fixture *f = *state;
    char b32[BW_TEST_TOTP_B32_SIZE], code[BW_TOTP_DIGITS + 1], bad[BW_TOTP_DIGITS + 1];
    uint64_t last = 0;
    char *mfa_token = enrol(f, "dave", b32, &last, NULL);
    json_t *doc;
    bw_resp r;

    free(mfa_token);
    /* The right password without a code: its own problem type, and no session. */
    login_code(f, "dave", PW, NULL, NULL, &r);
    BW_ASSERT_REFUSED(&r, 401);
    want_type(&r, MFA_TYPE);
    assert_null(strstr(r.body, "token"));
    bw_resp_free(&r);

    /* A wrong password, with or without a code, is the plain 401: the type says nothing. */
    wrong_code(b32, bad);
    login_code(f, "dave", "not the password", NULL, NULL, &r);
    BW_ASSERT_REFUSED(&r, 401);
    want_type(&r, "about:blank");
    bw_resp_free(&r);

    /* A wrong code: 401, not the mfa-required type. */
    login_code(f, "dave", PW, bad, NULL, &r);
    BW_ASSERT_REFUSED(&r, 401);
    want_type(&r, "about:blank");
    bw_resp_free(&r);

    /* The right code: a session with mfa. */
    assert_int_equal(bw_test_totp_next(b32, &last, code), 0);
    remember(f, code);
    login_code(f, "dave", PW, code, NULL, &r);
    bw_test_want_status(&r, 200, "login with the code");
    doc = json_loads(r.body, 0, NULL);
    assert_non_null(json_string_value(json_object_get(doc, "token")));
    want_me_mfa(f->srv, json_string_value(json_object_get(doc, "token")), true, true);
    json_decref(doc);
    bw_resp_free(&r);

    /* The same code again, within its window: replay, refused. */
    login_code(f, "dave", PW, code, NULL, &r);
    BW_ASSERT_REFUSED(&r, 401);
    want_type(&r, "about:blank");
    bw_resp_free(&r);

    /* Both factors at once is a malformed request; a malformed code fails validation. */
    login_code(f, "dave", PW, code, "ABCD-EFGH-JKMN-PQRS", &r);
    BW_ASSERT_REFUSED(&r, 400);
    bw_resp_free(&r);
    login_code(f, "dave", PW, "12a456", NULL, &r);
    BW_ASSERT_REFUSED(&r, 400);
    bw_resp_free(&r);
}

static void test_recovery_codes(void **state)
{
    fixture *f = *state;
    char b32[BW_TEST_TOTP_B32_SIZE], loose[BW_TOTP_RECOVERY_LEN + 1];
    char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    uint64_t last = 0;
    char *mfa_token = enrol(f, "erin", b32, &last, codes);
    json_t *doc;
    bw_resp r;
    size_t n = 0;

    free(mfa_token);
    login_code(f, "erin", PW, NULL, codes[0], &r);
    bw_test_want_status(&r, 200, "login with a recovery code");
    doc = json_loads(r.body, 0, NULL);
    want_me_mfa(f->srv, json_string_value(json_object_get(doc, "token")), true, true);
    json_decref(doc);
    bw_resp_free(&r);

    /* Spent. */
    login_code(f, "erin", PW, NULL, codes[0], &r);
    BW_ASSERT_REFUSED(&r, 401);
    bw_resp_free(&r);

    /* Another code typed in lower case without dashes counts, once. */
    for (const char *p = codes[1]; *p != '\0'; p++)
        if (*p != '-')
            loose[n++] = (char)tolower((unsigned char)*p);
    loose[n] = '\0';
    login_code(f, "erin", PW, NULL, loose, &r);
    bw_test_want_status(&r, 200, "login with a loosely typed recovery code");
    bw_resp_free(&r);
    login_code(f, "erin", PW, NULL, codes[1], &r);
    BW_ASSERT_REFUSED(&r, 401);
    bw_resp_free(&r);

    /* Another user's code is no code here. */
    login_code(f, "dave", PW, NULL, codes[2], &r);
    BW_ASSERT_REFUSED(&r, 401);
    bw_resp_free(&r);
    login_code(f, "erin", PW, NULL, codes[2], &r);
    bw_test_want_status(&r, 200, "the code is still good for its owner");
    bw_resp_free(&r);
}

/* A wrong code is a login failure like a wrong password: the account locks, and then even the
 * right code is refused. Asking for the code is no failure. */
static void test_code_failures_lock_the_account(void **state)
{
    fixture *f = *state;
    char b32[BW_TEST_TOTP_B32_SIZE], code[BW_TOTP_DIGITS + 1], bad[BW_TOTP_DIGITS + 1];
    uint64_t last = 0;
    char *mfa_token = enrol(f, "gina", b32, &last, NULL);
    bw_resp r;

    free(mfa_token);
    for (int i = 0; i < THRESHOLD + 2; i++) {
        login_code(f, "gina", PW, NULL, NULL, &r);
        BW_ASSERT_REFUSED(&r, 401);
        want_type(&r, MFA_TYPE);
        bw_resp_free(&r);
    }
    wrong_code(b32, bad);
    for (int i = 0; i < THRESHOLD; i++) {
        login_code(f, "gina", PW, bad, NULL, &r);
        BW_ASSERT_REFUSED(&r, 401);
        bw_resp_free(&r);
    }
    assert_int_equal(bw_test_totp_next(b32, &last, code), 0);
    remember(f, code);
    login_code(f, "gina", PW, code, NULL, &r);
    BW_ASSERT_REFUSED(&r, 429);
    assert_non_null(bw_resp_header(&r, "Retry-After"));
    assert_true(atol(bw_resp_header(&r, "Retry-After")) > 60);
    bw_resp_free(&r);
    /* A recovery code does not get around the lock either, and no code was spent. */
    login_code(f, "gina", PW, NULL, "ABCD-EFGH-JKMN-PQRS", &r);
    BW_ASSERT_REFUSED(&r, 429);
    bw_resp_free(&r);
}

/* ---- the .mfa route -------------------------------------------------------------------------- */

static void test_mfa_route(void **state)
{
    fixture *f = *state;
    char b32[BW_TEST_TOTP_B32_SIZE], code[BW_TOTP_DIGITS + 1], bad[BW_TOTP_DIGITS + 1];
    char body[160];
    uint64_t last = 0;
    char *plain = login_or_fail(f->srv, "carol"), *key = NULL, *mfa_token, *again;
    bw_resp r;

    /* carol has no factor: her session cannot use the route. */
    want_me_mfa(f->srv, plain, false, false);
    assert_int_equal(
        snprintf(body, sizeof(body), "{\"password\":\"%s\",\"code\":\"123456\"}", PW) > 0, 1);
    assert_int_equal(bw_http_as(f->srv, plain, "DELETE", "/v1/auth/mfa", body, NULL, &r), 0);
    BW_ASSERT_REFUSED(&r, 403);
    want_type(&r, MFA_TYPE);
    bw_resp_free(&r);

    /* A pending enrolment is no factor either. */
    json_decref(bw_test_call(f->srv, plain, "POST", "/v1/auth/mfa/enroll", "{}", 200));
    assert_int_equal(bw_http_as(f->srv, plain, "DELETE", "/v1/auth/mfa", body, NULL, &r), 0);
    BW_ASSERT_REFUSED(&r, 403);
    want_type(&r, MFA_TYPE);
    bw_resp_free(&r);
    free(plain);

    /* hank has the factor; his API key still has none, though it holds the permission. */
    mfa_token = enrol(f, "hank", b32, &last, NULL);
    assert_int_equal(bw_test_apikey_create(f->srv, "hank", "k", "viewer", 0, &key), 0);
    json_decref(bw_test_call(f->srv, key, "GET", "/v1/auth/me", NULL, 200));
    assert_int_equal(bw_http_as(f->srv, key, "DELETE", "/v1/auth/mfa", body, NULL, &r), 0);
    BW_ASSERT_REFUSED(&r, 403);
    want_type(&r, MFA_TYPE);
    bw_resp_free(&r);

    /* With the factor: a wrong password, then a wrong code, are refused. */
    assert_int_equal(bw_test_totp_next(b32, &last, code), 0);
    remember(f, code);
    assert_int_equal(
        snprintf(body, sizeof(body), "{\"password\":\"wrong password\",\"code\":\"%s\"}", code) > 0,
        1);
    assert_int_equal(bw_http_as(f->srv, mfa_token, "DELETE", "/v1/auth/mfa", body, NULL, &r), 0);
    BW_ASSERT_REFUSED(&r, 403);
    bw_resp_free(&r);
    wrong_code(b32, bad);
    assert_int_equal(
        snprintf(body, sizeof(body), "{\"password\":\"%s\",\"code\":\"%s\"}", PW, bad) > 0, 1);
    assert_int_equal(bw_http_as(f->srv, mfa_token, "DELETE", "/v1/auth/mfa", body, NULL, &r), 0);
    BW_ASSERT_REFUSED(&r, 403);
    bw_resp_free(&r);
    /* The password alone is no request. */
    assert_int_equal(snprintf(body, sizeof(body), "{\"password\":\"%s\"}", PW) > 0, 1);
    assert_int_equal(bw_http_as(f->srv, mfa_token, "DELETE", "/v1/auth/mfa", body, NULL, &r), 0);
    BW_ASSERT_REFUSED(&r, 400);
    bw_resp_free(&r);
    want_me_mfa(f->srv, mfa_token, true, true);

    /* The password and the code (the one the wrong password carried was not spent). */
    assert_int_equal(
        snprintf(body, sizeof(body), "{\"password\":\"%s\",\"code\":\"%s\"}", PW, code) > 0, 1);
    assert_int_equal(bw_http_as(f->srv, mfa_token, "DELETE", "/v1/auth/mfa", body, NULL, &r), 0);
    bw_test_want_status(&r, 204, "disable");
    BW_ASSERT_SECURE_HEADERS(&r, NULL);
    bw_resp_free(&r);
    /* Every session ended; a plain login works again and has no factor. */
    json_decref(bw_test_call(f->srv, mfa_token, "GET", "/v1/auth/me", NULL, 401));
    again = login_or_fail(f->srv, "hank");
    want_me_mfa(f->srv, again, false, false);
    free(again);
    free(mfa_token);
    free(key);
}

/* ---- the trail ------------------------------------------------------------------------------- */

/* `notes audit search ARGS... --limit 1000` output (caller frees), with r's status checked. */
/* A lost authenticator: the operator's `notes user mfa-reset` removes the factor and ends the
 * sessions; the password alone logs in again, and a second reset finds nothing to remove. */
static void test_operator_reset(void **state)
{
    fixture *f = *state;
    char b32[BW_TEST_TOTP_B32_SIZE];
    uint64_t last = 0;
    char *mfa_token = enrol(f, "ivan", b32, &last, NULL);
    const char *reset[] = {"user", "mfa-reset", "ivan", NULL};
    bw_run_result run;
    bw_resp r;

    login_code(f, "ivan", PW, NULL, NULL, &r);
    BW_ASSERT_REFUSED(&r, 401);
    want_type(&r, MFA_TYPE);
    bw_resp_free(&r);
    assert_int_equal(bw_srv_run(f->srv, reset, NULL, &run), 0);
    assert_int_equal(run.status, 0);
    bw_run_free(&run);
    assert_int_equal(bw_http_as(f->srv, mfa_token, "GET", "/v1/auth/me", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 401); /* the reset ended the session */
    bw_resp_free(&r);
    free(mfa_token);
    char *token = login_or_fail(f->srv, "ivan");
    want_me_mfa(f->srv, token, false, false);
    free(token);
    assert_int_equal(bw_srv_run(f->srv, reset, NULL, &run), 0);
    assert_int_equal(run.status, 1);
    assert_non_null(strstr(run.err, "has no second factor"));
    bw_run_free(&run);
}

static char *search(bw_srv *srv, const char *event)
{
    const char *argv[] = {"audit", "search", "--event", event, "--limit", "1000", NULL};
    bw_run_result r;
    char *out;

    assert_int_equal(bw_srv_run(srv, argv, NULL, &r), 0);
    if (r.status != 0)
        fail_msg("audit search exited %d: %s", r.status, r.err);
    assert_non_null(out = strdup(r.out));
    bw_run_free(&r);
    return out;
}

/* How many records of text (one JSON per line) have event and, when reason is not NULL,
 * detail.reason equal to it. */
static size_t count_records(const char *text, const char *event, const char *reason)
{
    size_t n = 0;

    for (const char *p = text; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        json_t *rec = json_loadb(p, len, 0, NULL);
        const char *ev = json_string_value(json_object_get(rec, "event"));
        const char *why =
            json_string_value(json_object_get(json_object_get(rec, "detail"), "reason"));

        if (ev != NULL && strcmp(ev, event) == 0 &&
            (reason == NULL || (why != NULL && strcmp(why, reason) == 0)))
            n++;
        json_decref(rec);
        p = nl != NULL ? nl + 1 : p + len;
    }
    return n;
}

/* True when text holds s; a 6-digit code only counts as a JSON string or a whole word. */
static bool holds(const char *text, const char *s)
{
    size_t len = strlen(s);

    for (const char *p = strstr(text, s); p != NULL; p = strstr(p + 1, s)) {
        bool digits = strspn(s, "0123456789") == len;

        if (!digits ||
            ((p == text || !isdigit((unsigned char)p[-1])) && !isdigit((unsigned char)p[len])))
            return true;
    }
    return false;
}

static void test_trail_holds_no_secrets(void **state)
{
    fixture *f = *state;
    long long waited = 0;
    char *mfa = NULL, *denied = NULL, *log;

    /* Records are queued: wait until the last test's disable is committed. */
    for (;;) {
        free(mfa);
        mfa = search(f->srv, "auth.mfa.*");
        if (count_records(mfa, "auth.mfa.disabled", NULL) >= 1 || waited > RECORD_WAIT_MS)
            break;
        sleep_ms(100);
        waited += 100;
    }
    denied = search(f->srv, "authz.denied");
    assert_true(count_records(mfa, "auth.mfa.enrolled", NULL) >= 6);
    assert_true(count_records(mfa, "auth.mfa.enabled", NULL) >= 6);
    assert_true(count_records(mfa, "auth.mfa.disabled", NULL) == 1);
    assert_true(count_records(mfa, "auth.mfa.required", NULL) >= THRESHOLD + 3);
    assert_true(count_records(mfa, "auth.mfa.recovery_used", NULL) == 3);
    assert_true(count_records(mfa, "auth.mfa.failure", "wrong_code") >= THRESHOLD + 3);
    assert_true(count_records(mfa, "auth.mfa.failure", "wrong_recovery_code") >= 3);
    assert_true(count_records(mfa, "auth.mfa.failure", "wrong_password_or_code") == 2);
    assert_true(count_records(denied, "authz.denied", "mfa") >= 3);

    log = bw_srv_stderr(f->srv, NULL);
    assert_non_null(log);
    for (size_t i = 0; i < f->nsecrets; i++) {
        if (holds(mfa, f->secrets[i]) || holds(denied, f->secrets[i]) || holds(log, f->secrets[i]))
            fail_msg("a secret, URI or code is in the trail or the log: %s", f->secrets[i]);
    }
    free(log);
    free(mfa);
    free(denied);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enrol_and_confirm),
        cmocka_unit_test(test_confirm_in_cookie_mode),
        cmocka_unit_test(test_api_key_cannot_enrol),
        cmocka_unit_test(test_login_needs_the_code),
        cmocka_unit_test(test_recovery_codes),
        cmocka_unit_test(test_code_failures_lock_the_account),
        cmocka_unit_test(test_mfa_route),
        cmocka_unit_test(test_trail_holds_no_secrets),
        cmocka_unit_test(test_operator_reset),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
