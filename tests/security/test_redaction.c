/*
 * Redaction, against the running notes service over HTTPS (docs/audit.md, "Redaction by
 * construction"): passwords, session tokens, CSRF tokens, API keys, cookies and Authorization
 * values never reach a log line or an audit record. The tests send each secret in every place
 * a client can put one (login bodies, Authorization with Bearer and Basic, the session cookie,
 * X-CSRF-Token, query strings, JSON bodies of audited routes, near-miss copies of valid tokens)
 * and in requests that make the service report events (401, 403, 400, 429, lockout, logout,
 * attack signatures). The last test stops the server and searches every byte it left behind
 * (stderr, stdout, the export file, both databases with their -wal/-shm files, everything else
 * under its folder) for each secret, raw and in its base64, base64url and hex spellings.
 *
 * The second factor: adam enrols one (the admin routes demand it), so the TOTP secret (its
 * base32 text, which the otpauth:// URI also holds) and the ten recovery codes, each shown
 * once, are searched for too. Six-digit codes are too short to search for without false hits.
 *
 * The scan proves it is not vacuous: a canary request id sent with one login must be found in
 * the audit database, the export and the server's log, and a user name in the main database.
 * Not timing-sensitive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "totp_client.h"

#include <jansson.h>
#include <libgen.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_client.h"
#include "harness.h"
#include "scan_files.h"

#define TOKEN_LEN BW_TEST_TOKEN_LEN
#define MAX_SECRETS 96
#define MAX_NEEDLES 2048
#define APIKEY_SECRET_OFF 20 /* "bw_" + 16 hex id + "_" */
#define CLI_LOG_MAX (256u * 1024u)

static const char CONFIG[] = "{\"audit\": {\"export\": \"audit.jsonl\"},"
                             " \"auth\": {\"password\": {\"memlimit_kib\": 19456}}}";
static const char NOTE[] = "{\"title\":\"redaction\",\"body\":\"nothing secret here\"}";

/* How a secret is spelt, for the extra forms the scan looks for. */
enum { TEXT = 0, B64URL_TOKEN = 1 };

typedef struct secret {
    char label[64];
    char *value;
    int kind; /* B64URL_TOKEN: also search its decoded bytes and their hex */
} secret;

typedef struct fixture {
    char *config;
    bw_srv *srv;
    secret secrets[MAX_SECRETS];
    size_t nsecrets;
    char pw_rita[40], pw_adam[40], pw_vic[40];
    char *bearer_rita, *bearer_adam, *bearer_vic, *apikey;
    char adam_b32[BW_TEST_TOTP_B32_SIZE]; /* adam's TOTP secret: he has a second factor */
    uint64_t adam_step;
    char cookie_rita[TOKEN_LEN + 1], csrf_rita[TOKEN_LEN + 1];
    char origin[96];
    char canary_rid[64];  /* request id of one login: must be found by the scan */
    char canary_user[64]; /* a user name: must be found in the main database */
    unsigned next_source;
    char *cli_log; /* everything the CLI printed (but the key `apikey create` must print) */
    size_t cli_len;
} fixture;

/* ---- secrets --------------------------------------------------------------------------- */

/* nbytes random bytes as base64url: a password or name nobody else could write by chance. */
static void random_text(char *out, size_t cap, size_t nbytes)
{
    unsigned char raw[32];

    assert_true(nbytes <= sizeof(raw));
    assert_true(cap >= sodium_base64_ENCODED_LEN(nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING));
    randombytes_buf(raw, nbytes);
    sodium_bin2base64(out, cap, raw, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    /* A leading '-' or '_' is fine for a password but not for a user name. */
    if (out[0] == '-' || out[0] == '_')
        out[0] = 'Q';
}

static const char *add_secret(fixture *f, const char *label, const char *value, int kind)
{
    secret *s;

    assert_true(f->nsecrets < MAX_SECRETS);
    assert_true(strlen(value) >= 16);
    s = &f->secrets[f->nsecrets++];
    assert_true((size_t)snprintf(s->label, sizeof(s->label), "%s", label) < sizeof(s->label));
    s->value = strdup(value);
    assert_non_null(s->value);
    s->kind = kind;
    return s->value;
}

/* Keeps a CLI run's output for the final scan. */
static void keep_cli_output(fixture *f, const char *p, size_t len)
{
    char *n;

    assert_true(len <= CLI_LOG_MAX && f->cli_len <= CLI_LOG_MAX);
    n = realloc(f->cli_log, f->cli_len + len + 1);
    assert_non_null(n);
    f->cli_log = n;
    memcpy(f->cli_log + f->cli_len, p, len);
    f->cli_len += len;
    f->cli_log[f->cli_len] = '\0';
}

/* Runs `notes argv...` next to the server with input on stdin; keeps both outputs. */
static int cli(fixture *f, const char *const *argv, const char *input)
{
    bw_run_result r;
    int st;

    assert_int_equal(bw_srv_run(f->srv, argv, input, &r), 0);
    keep_cli_output(f, r.out, r.out_len);
    keep_cli_output(f, r.err, r.err_len);
    st = r.status;
    if (st != 0)
        print_error("notes %s %s: exit %d: %s\n", argv[0], argv[1], st, r.err);
    bw_run_free(&r);
    return st;
}

static void user_add(fixture *f, const char *name, const char *pw, const char *roles)
{
    const char *argv[] = {"user", "add", name, "--roles", roles, NULL};
    char input[128];

    assert_true((size_t)snprintf(input, sizeof(input), "%s\n", pw) < sizeof(input));
    assert_int_equal(cli(f, argv, input), 0);
    sodium_memzero(input, sizeof(input));
}

/* Each login leaves from its own loopback address, so the login route's per-address rate
 * limit never refuses one the test needs. */
static void fresh_source(fixture *f)
{
    char addr[32];

    f->next_source++;
    assert_true(f->next_source < 250);
    snprintf(addr, sizeof(addr), "127.0.1.%u", f->next_source);
    assert_int_equal(bw_srv_set_source(f->srv, addr), 0);
}

static char *bearer_login(fixture *f, const char *name, const char *pw)
{
    char *token = NULL;
    long st = 0;

    fresh_source(f);
    if (bw_test_login(f->srv, name, pw, &token, &st) != 0)
        fail_msg("bearer login of %s: status %ld", name, st);
    assert_int_equal(strlen(token), TOKEN_LEN);
    assert_int_equal(bw_srv_set_source(f->srv, NULL), 0);
    return token;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    *state = f;
    if (sodium_init() < 0 || (f->srv = bw_test_srv_start_json(CONFIG, &f->config)) == NULL ||
        bw_test_origin(f->srv, f->origin, sizeof(f->origin)) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc;

    if (f == NULL)
        return -1;
    /* The last test stopped the server itself (exit 0 checked there); its folder goes now. */
    rc = bw_test_srv_stop(&f->srv, &f->config);
    for (size_t i = 0; i < f->nsecrets; i++) {
        sodium_memzero(f->secrets[i].value, strlen(f->secrets[i].value));
        free(f->secrets[i].value);
    }
    free(f->bearer_rita);
    free(f->bearer_adam);
    free(f->bearer_vic);
    free(f->apikey);
    free(f->cli_log);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- requests ---------------------------------------------------------------------------- */

/* One request: token as bearer (NULL: none), json body (NULL: none), extra header lines.
 * Returns the status. */
static long send_req(fixture *f, const char *token, const char *method, const char *path,
                     const char *json, const char *const *extra)
{
    bw_resp r;
    long st;

    assert_int_equal(bw_http_as(f->srv, token, method, path, json, extra, &r), 0);
    st = r.status;
    bw_resp_free(&r);
    return st;
}

static void want(fixture *f, long status, const char *token, const char *method, const char *path,
                 const char *json, const char *const *extra)
{
    char what[600];
    bw_resp r;

    assert_int_equal(bw_http_as(f->srv, token, method, path, json, extra, &r), 0);
    (void)snprintf(what, sizeof(what), "%s %s", method, path); /* cut is fine: a label */
    bw_test_want_status(&r, status, what);
    bw_resp_free(&r);
}

/* A copy of s with one character (at pos) replaced by another of the base64url alphabet,
 * changing the decoded bytes: the near-miss a guesser or a corrupted client sends. */
static void one_char_off(char *dst, size_t cap, const char *s, size_t pos)
{
    size_t n = strlen(s);

    assert_true(n < cap && pos < n);
    memcpy(dst, s, n + 1);
    dst[pos] = dst[pos] == 'A' ? 'B' : 'A';
}

static void login_body(char *out, size_t cap, const char *name, const char *pw, const char *mode)
{
    json_t *o = json_pack("{s:s, s:s}", "username", name, "password", pw);
    char *text;

    assert_non_null(o);
    if (mode != NULL)
        assert_int_equal(json_object_set_new(o, "session", json_string(mode)), 0);
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    assert_non_null(text);
    assert_true(strlen(text) < cap);
    memcpy(out, text, strlen(text) + 1);
    sodium_memzero(text, strlen(text));
    free(text);
}

/* ---- the tests: each sends secrets; the last one searches for them ----------------------- */

static void test_accounts_and_logins(void **state)
{
    fixture *f = *state;
    char wrong[40], typo[40], body[512], rid[96];
    char near[64];

    random_text(f->pw_rita, sizeof(f->pw_rita), 18);
    random_text(f->pw_adam, sizeof(f->pw_adam), 18);
    random_text(f->pw_vic, sizeof(f->pw_vic), 18);
    add_secret(f, "rita's password", f->pw_rita, TEXT);
    add_secret(f, "adam's password", f->pw_adam, TEXT);
    add_secret(f, "vic's password", f->pw_vic, TEXT);
    user_add(f, "rita", f->pw_rita, "editor");
    user_add(f, "adam", f->pw_adam, "admin");
    user_add(f, "vic", f->pw_vic, "viewer");
    {
        unsigned char r[8];
        char pw[40], tag[17];

        randombytes_buf(r, sizeof(r));
        sodium_bin2hex(tag, sizeof(tag), r, sizeof(r));
        snprintf(f->canary_user, sizeof(f->canary_user), "canary.%s", tag);
        random_text(pw, sizeof(pw), 18);
        add_secret(f, "the canary user's password", pw, TEXT);
        user_add(f, f->canary_user, pw, "viewer");
        sodium_memzero(pw, sizeof(pw));
    }

    /* Sessions of both modes; the tokens are secrets from here on. */
    f->bearer_rita = bearer_login(f, "rita", f->pw_rita);
    f->bearer_adam = bearer_login(f, "adam", f->pw_adam);
    f->bearer_vic = bearer_login(f, "vic", f->pw_vic);
    add_secret(f, "rita's bearer token", f->bearer_rita, B64URL_TOKEN);
    add_secret(f, "adam's bearer token", f->bearer_adam, B64URL_TOKEN);
    add_secret(f, "vic's bearer token", f->bearer_vic, B64URL_TOKEN);
    /* adam's session passed no second factor: the admin routes refuse it. He enrols one; the
     * secret, the recovery codes and the new session's token are secrets from here on. */
    assert_int_equal(bw_test_mfa_refused(f->srv, f->bearer_adam, "GET", "/v1/admin/users", NULL),
                     0);
    {
        char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
        char *mfa_token = NULL;

        assert_int_equal(bw_test_mfa_enrol(f->srv, f->bearer_adam, f->adam_b32, &f->adam_step,
                                           &mfa_token, codes),
                         0);
        free(f->bearer_adam);
        f->bearer_adam = mfa_token;
        add_secret(f, "adam's TOTP secret (base32)", f->adam_b32, TEXT);
        for (size_t i = 0; i < BW_TOTP_RECOVERY_COUNT; i++)
            add_secret(f, "one of adam's recovery codes", codes[i], TEXT);
        add_secret(f, "adam's bearer token with the second factor", f->bearer_adam, B64URL_TOKEN);
        sodium_memzero(codes, sizeof(codes));
    }
    fresh_source(f);
    assert_int_equal(
        bw_test_cookie_login(f->srv, "rita", f->pw_rita, NULL, f->cookie_rita, f->csrf_rita), 0);
    add_secret(f, "rita's session cookie", f->cookie_rita, B64URL_TOKEN);
    add_secret(f, "rita's CSRF token", f->csrf_rita, B64URL_TOKEN);

    /* A wrong password, with the canary request id the scan must find. */
    random_text(wrong, sizeof(wrong), 18);
    add_secret(f, "a wrong password", wrong, TEXT);
    {
        unsigned char r[12];
        char hex[25];

        randombytes_buf(r, sizeof(r));
        sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
        snprintf(f->canary_rid, sizeof(f->canary_rid), "canary-%s", hex);
    }
    snprintf(rid, sizeof(rid), "X-Request-Id: %s", f->canary_rid);
    {
        const char *extra[] = {rid, NULL};

        fresh_source(f);
        login_body(body, sizeof(body), "rita", wrong, NULL);
        want(f, 401, NULL, "POST", "/v1/auth/login", body, extra);
        login_body(body, sizeof(body), "rita", wrong, "cookie");
        want(f, 401, NULL, "POST", "/v1/auth/login", body, NULL);
    }
    /* A password typed into the name field: failed names are not recorded at all. */
    random_text(typo, sizeof(typo), 18);
    add_secret(f, "a password typed as the user name", typo, TEXT);
    login_body(body, sizeof(body), typo, f->pw_rita, NULL);
    want(f, 401, NULL, "POST", "/v1/auth/login", body, NULL);
    /* rita's own password in the name field, and a near miss of it as the password. */
    login_body(body, sizeof(body), f->pw_rita, f->pw_rita, "cookie");
    want(f, 401, NULL, "POST", "/v1/auth/login", body, NULL);
    assert_true((size_t)snprintf(near, sizeof(near), "%sx", f->pw_rita) < sizeof(near));
    login_body(body, sizeof(body), "rita", near, NULL);
    want(f, 401, NULL, "POST", "/v1/auth/login", body, NULL);

    /* Lockout and the login route's rate limit, from one address, on a name nobody has
     * (the lock is kept per name, known or not): 429s whose bodies carry a password. */
    {
        char flood[40];
        int limited = 0;

        random_text(flood, sizeof(flood), 18);
        add_secret(f, "a password sent in a login flood", flood, TEXT);
        fresh_source(f);
        login_body(body, sizeof(body), "ghost", flood, NULL);
        for (int i = 0; i < 12; i++) {
            long st = send_req(f, NULL, "POST", "/v1/auth/login", body, NULL);

            assert_true(st == 401 || st == 429);
            limited += st == 429;
        }
        assert_true(limited > 0);
        sodium_memzero(flood, sizeof(flood));
    }
    assert_int_equal(bw_srv_set_source(f->srv, NULL), 0);
    sodium_memzero(body, sizeof(body));
    sodium_memzero(wrong, sizeof(wrong));
    sodium_memzero(typo, sizeof(typo));
    sodium_memzero(near, sizeof(near));
}

static void test_authorization_values(void **state)
{
    fixture *f = *state;
    char bad[128], hdr[256], basic_raw[96], basic[160];

    assert_int_equal(bw_test_apikey_create(f->srv, "rita", "redaction", "editor", 0, &f->apikey),
                     0);
    assert_true(strlen(f->apikey) > APIKEY_SECRET_OFF + 16);
    add_secret(f, "the API key", f->apikey, TEXT);
    add_secret(f, "the API key's secret part", f->apikey + APIKEY_SECRET_OFF, B64URL_TOKEN);

    want(f, 200, f->bearer_rita, "GET", "/v1/auth/me", NULL, NULL);
    want(f, 200, f->apikey, "GET", "/v1/auth/me", NULL, NULL);
    want(f, 201, f->apikey, "POST", "/v1/notes", NOTE, NULL);

    /* Refused credentials (auth.credential.refused): a valid token and key one character
     * off, a password where a token belongs, a key as the cookie. */
    one_char_off(bad, sizeof(bad), f->bearer_rita, 10);
    add_secret(f, "a session token one character off", bad, TEXT);
    want(f, 401, bad, "GET", "/v1/auth/me", NULL, NULL);
    want(f, 401, bad, "POST", "/v1/notes", NOTE, NULL);
    one_char_off(bad, sizeof(bad), f->apikey, APIKEY_SECRET_OFF + 5);
    add_secret(f, "an API key one character off", bad, TEXT);
    want(f, 401, bad, "GET", "/v1/notes", NULL, NULL);
    want(f, 401, f->pw_rita, "GET", "/v1/auth/me", NULL, NULL);
    one_char_off(bad, sizeof(bad), f->cookie_rita, 20);
    add_secret(f, "a session cookie one character off", bad, TEXT);
    {
        bw_resp r;

        assert_int_equal(bw_http_as_cookie(f->srv, bad, "GET", "/v1/auth/me", NULL, NULL, &r), 0);
        bw_test_want_status(&r, 401, "forged cookie");
        bw_resp_free(&r);
        assert_int_equal(bw_http_as_cookie(f->srv, f->apikey, "GET", "/v1/notes", NULL, NULL, &r),
                         0);
        bw_test_want_status(&r, 401, "API key as the cookie");
        bw_resp_free(&r);
    }

    /* Authorization: Basic with rita's name and password (a scheme the service refuses). */
    assert_true((size_t)snprintf(basic_raw, sizeof(basic_raw), "rita:%s", f->pw_rita) <
                sizeof(basic_raw));
    sodium_bin2base64(basic, sizeof(basic), (const unsigned char *)basic_raw, strlen(basic_raw),
                      sodium_base64_VARIANT_ORIGINAL);
    add_secret(f, "the Basic credential (base64)", basic, TEXT);
    add_secret(f, "the Basic credential (decoded)", basic_raw, TEXT);
    snprintf(hdr, sizeof(hdr), "Authorization: Basic %s", basic);
    {
        const char *extra[] = {hdr, NULL};

        assert_int_equal(send_req(f, NULL, "GET", "/v1/auth/me", NULL, extra), 401);
        assert_int_equal(
            send_req(f, NULL, "DELETE", "/v1/notes/00000000000000000000000000000000", NULL, extra),
            401);
    }
    /* Credentials in headers the service does not read. */
    {
        char apihdr[192], ckhdr[256];
        const char *extra[] = {apihdr, ckhdr, NULL};

        snprintf(apihdr, sizeof(apihdr), "X-Api-Key: %s", f->apikey);
        snprintf(ckhdr, sizeof(ckhdr), "Cookie: theme=dark; sid=%s", f->bearer_adam);
        assert_int_equal(send_req(f, NULL, "GET", "/v1/notes", NULL, extra), 401);
        sodium_memzero(apihdr, sizeof(apihdr));
        sodium_memzero(ckhdr, sizeof(ckhdr));
    }
    sodium_memzero(bad, sizeof(bad));
    sodium_memzero(hdr, sizeof(hdr));
    sodium_memzero(basic_raw, sizeof(basic_raw));
}

static void test_query_strings_and_bodies(void **state)
{
    fixture *f = *state;
    char path[512], body[512], pw_nina[40], pw_nina2[40];
    json_t *doc;

    /* Tokens in query strings: refused by the query schema (400, validation.failed) or as
     * anonymous (401). */
    snprintf(path, sizeof(path), "/v1/notes?token=%s", f->bearer_rita);
    want(f, 400, f->bearer_rita, "GET", path, NULL, NULL);
    snprintf(path, sizeof(path), "/v1/notes?access_token=%s", f->apikey);
    want(f, 401, NULL, "GET", path, NULL, NULL);
    snprintf(path, sizeof(path), "/v1/auth/me?api_key=%s&password=%s", f->apikey, f->pw_adam);
    assert_true(send_req(f, f->bearer_vic, "GET", path, NULL, NULL) < 500);
    snprintf(path, sizeof(path), "/v1/admin/audit?token=%s", f->bearer_adam);
    want(f, 403, f->bearer_adam, "GET", path, NULL, NULL);

    /* A token where an id belongs in the path, on a plain and on an audited route. */
    snprintf(path, sizeof(path), "/v1/notes/%s", f->bearer_rita);
    want(f, 400, f->bearer_rita, "GET", path, NULL, NULL);
    want(f, 400, f->bearer_rita, "DELETE", path, NULL, NULL);
    snprintf(path, sizeof(path), "/v1/admin/users/%s", f->apikey);
    want(f, 400, f->bearer_adam, "PATCH", path, "{\"disabled\":false}", NULL);

    /* An attack pattern carrying a secret, in the query and in a login body. */
    snprintf(path, sizeof(path), "/v1/notes?q=%%27%%20or%%201%%3D1%%20--%%20%s", f->bearer_rita);
    want(f, 400, f->bearer_rita, "GET", path, NULL, NULL);
    snprintf(path, sizeof(path), "/v1/notes?q=%%3Cscript%%3E%s%%3C%%2Fscript%%3E", f->apikey);
    want(f, 400, f->apikey, "GET", path, NULL, NULL);
    fresh_source(f);
    login_body(body, sizeof(body), "' or 1=1 -- ", f->pw_rita, NULL);
    want(f, 401, NULL, "POST", "/v1/auth/login", body, NULL);
    assert_int_equal(bw_srv_set_source(f->srv, NULL), 0);

    /* A password in the body of an audited route (admin.user.create / .update). */
    random_text(pw_nina, sizeof(pw_nina), 18);
    random_text(pw_nina2, sizeof(pw_nina2), 18);
    add_secret(f, "a password set through POST /v1/admin/users", pw_nina, TEXT);
    add_secret(f, "a password set through PATCH /v1/admin/users", pw_nina2, TEXT);
    snprintf(body, sizeof(body),
             "{\"username\":\"nina\",\"password\":\"%s\",\"roles\":[\"viewer\"]}", pw_nina);
    doc = bw_test_call(f->srv, f->bearer_adam, "POST", "/v1/admin/users", body, 201);
    assert_true(json_is_integer(json_object_get(doc, "id")));
    snprintf(path, sizeof(path), "/v1/admin/users/%lld",
             (long long)json_integer_value(json_object_get(doc, "id")));
    json_decref(doc);
    snprintf(body, sizeof(body), "{\"password\":\"%s\"}", pw_nina2);
    want(f, 200, f->bearer_adam, "PATCH", path, body, NULL);
    /* ...refused by the schema (400) with a token beside it, and by the permission (403). */
    snprintf(body, sizeof(body),
             "{\"username\":\"nina2\",\"password\":\"%s\",\"roles\":[\"viewer\"],\"token\":\"%s\"}",
             pw_nina, f->bearer_rita);
    want(f, 400, f->bearer_adam, "POST", "/v1/admin/users", body, NULL);
    snprintf(body, sizeof(body),
             "{\"username\":\"nina3\",\"password\":\"%s\",\"roles\":[\"admin\"]}", pw_nina2);
    want(f, 403, f->bearer_rita, "POST", "/v1/admin/users", body, NULL);
    sodium_memzero(body, sizeof(body));
    sodium_memzero(pw_nina, sizeof(pw_nina));
    sodium_memzero(pw_nina2, sizeof(pw_nina2));
}

static void test_cookies_and_csrf(void **state)
{
    fixture *f = *state;
    char cookie[256], csrf[96], bad[TOKEN_LEN + 1];

    snprintf(cookie, sizeof(cookie), "Cookie: __Host-bw_session=%s; __Host-bw_csrf=%s",
             f->cookie_rita, f->csrf_rita);
    /* No CSRF token: 403 (authz.denied, reason csrf), with both cookies on the request. */
    {
        const char *extra[] = {cookie, f->origin, NULL};

        want(f, 200, NULL, "GET", "/v1/auth/me", NULL, extra);
        want(f, 403, NULL, "POST", "/v1/notes", NOTE, extra);
    }
    /* A CSRF token one character off, then the right one. */
    one_char_off(bad, sizeof(bad), f->csrf_rita, 7);
    add_secret(f, "a CSRF token one character off", bad, TEXT);
    snprintf(csrf, sizeof(csrf), "X-CSRF-Token: %s", bad);
    {
        const char *extra[] = {cookie, f->origin, csrf, NULL};

        want(f, 403, NULL, "POST", "/v1/notes", NOTE, extra);
    }
    snprintf(csrf, sizeof(csrf), "X-CSRF-Token: %s", f->csrf_rita);
    {
        const char *extra[] = {cookie, f->origin, csrf, NULL};
        const char *no_origin[] = {cookie, csrf, "Origin: https://evil.example", NULL};

        want(f, 201, NULL, "POST", "/v1/notes", NOTE, extra);
        want(f, 403, NULL, "POST", "/v1/notes", NOTE, no_origin);
    }
    /* Forbidden by permission, with a bearer token (authz.denied, reason permission). */
    want(f, 403, f->bearer_vic, "POST", "/v1/notes", NOTE, NULL);
    want(f, 403, f->bearer_vic, "GET", "/v1/admin/users", NULL, NULL);
    sodium_memzero(cookie, sizeof(cookie));
    sodium_memzero(csrf, sizeof(csrf));
}

static void test_rate_limited(void **state)
{
    fixture *f = *state;
    int limited = 0;

    /* POST /v1/notes allows 30/min per principal: the key's 32nd note in a row is a 429
     * (ratelimit.exceeded) with the key in Authorization. */
    for (int i = 0; i < 32; i++) {
        long st = send_req(f, f->apikey, "POST", "/v1/notes", NOTE, NULL);

        assert_true(st == 201 || st == 429);
        limited += st == 429;
    }
    assert_true(limited > 0);
}

static void test_logout(void **state)
{
    fixture *f = *state;
    char cookie[160], csrf[96];
    char *second;

    /* Cookie-mode logout (session.logout), with the cookie and the CSRF token. */
    assert_int_equal(bw_test_session_cookie(cookie, sizeof(cookie), f->cookie_rita), 0);
    snprintf(csrf, sizeof(csrf), "X-CSRF-Token: %s", f->csrf_rita);
    {
        const char *extra[] = {cookie, f->origin, csrf, NULL};

        want(f, 204, NULL, "POST", "/v1/auth/logout", "{}", extra);
        want(f, 401, NULL, "GET", "/v1/auth/me", NULL, extra);
    }
    /* Logout-all (session.logout_all) ends adam's other session too. */
    fresh_source(f);
    assert_int_equal(
        bw_test_mfa_login(f->srv, "adam", f->pw_adam, f->adam_b32, &f->adam_step, &second), 0);
    assert_int_equal(bw_srv_set_source(f->srv, NULL), 0);
    add_secret(f, "adam's second bearer token", second, B64URL_TOKEN);
    want(f, 204, f->bearer_adam, "POST", "/v1/auth/logout-all", "{}", NULL);
    want(f, 401, second, "GET", "/v1/auth/me", NULL, NULL);
    want(f, 401, f->bearer_adam, "POST", "/v1/auth/logout", "{}", NULL);
    sodium_memzero(second, strlen(second));
    free(second);
    sodium_memzero(cookie, sizeof(cookie));
    sodium_memzero(csrf, sizeof(csrf));
}

static void test_cli_passwords(void **state)
{
    fixture *f = *state;
    const char *setpw[] = {"user", "set-password", "vic", NULL};
    char pw[40], input[64];

    random_text(pw, sizeof(pw), 18);
    add_secret(f, "a password set with `user set-password`", pw, TEXT);
    snprintf(input, sizeof(input), "%s\n", pw);
    assert_int_equal(cli(f, setpw, input), 0);
    random_text(pw, sizeof(pw), 18);
    add_secret(f, "a password set with `user add`", pw, TEXT);
    user_add(f, "carl", pw, "viewer");
    sodium_memzero(pw, sizeof(pw));
    sodium_memzero(input, sizeof(input));
}

/* ---- the scan ---------------------------------------------------------------------------- */

typedef struct needle_set {
    bw_needle n[MAX_NEEDLES];
    unsigned char *own[MAX_NEEDLES]; /* buffers this set allocated */
    size_t count;
    size_t canary_rid, canary_user; /* indexes of the two canaries */
} needle_set;

static void needle_add(needle_set *s, const char *label, const void *bytes, size_t len, bool own)
{
    assert_true(s->count < MAX_NEEDLES);
    assert_true(len >= 8);
    s->n[s->count].label = label;
    s->n[s->count].bytes = bytes;
    s->n[s->count].len = len;
    s->own[s->count] = own ? (unsigned char *)bytes : NULL;
    s->count++;
}

static void needle_copy(needle_set *s, const char *label, const void *bytes, size_t len)
{
    unsigned char *p = malloc(len);

    assert_non_null(p);
    memcpy(p, bytes, len);
    needle_add(s, label, p, len, true);
}

/* The base64 spellings of b: whole (both alphabets), and the characters that are the same
 * wherever b sits in a longer base64 text (b after 0, 1 or 2 other bytes; the first and last
 * 4 characters depend on the neighbours). */
static void add_base64_forms(needle_set *s, const char *label, const unsigned char *b, size_t len)
{
    static const int variants[] = {sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    unsigned char shifted[128];
    char enc[256];

    assert_true(len + 2 <= sizeof(shifted));
    for (size_t v = 0; v < 2; v++) {
        for (size_t k = 0; k < 3; k++) {
            size_t n;

            memset(shifted, 0, k);
            memcpy(shifted + k, b, len);
            sodium_bin2base64(enc, sizeof(enc), shifted, len + k, variants[v]);
            n = strlen(enc);
            if (k == 0)
                needle_copy(s, label, enc, n);
            else if (n > 16)
                needle_copy(s, label, enc + 4, n - 8);
        }
    }
    sodium_memzero(shifted, sizeof(shifted));
    sodium_memzero(enc, sizeof(enc));
}

static void add_hex_forms(needle_set *s, const char *label, const unsigned char *b, size_t len)
{
    char hex[260];

    assert_true(len * 2 + 1 <= sizeof(hex));
    sodium_bin2hex(hex, sizeof(hex), b, len);
    needle_copy(s, label, hex, len * 2);
    for (size_t i = 0; i < len * 2; i++)
        if (hex[i] >= 'a' && hex[i] <= 'f')
            hex[i] = (char)(hex[i] - 'a' + 'A');
    needle_copy(s, label, hex, len * 2);
    sodium_memzero(hex, sizeof(hex));
}

/* Every form of every secret: raw, each half (a value cut short by a length limit), base64,
 * hex; a base64url token also as its decoded bytes and their hex. */
static void build_needles(fixture *f, needle_set *s)
{
    for (size_t i = 0; i < f->nsecrets; i++) {
        const secret *sec = &f->secrets[i];
        const unsigned char *v = (const unsigned char *)sec->value;
        size_t len = strlen(sec->value), half = len / 2;

        needle_add(s, sec->label, v, len, false);
        if (half >= 12) {
            needle_add(s, sec->label, v, half, false);
            needle_add(s, sec->label, v + half, len - half, false);
        }
        add_base64_forms(s, sec->label, v, len);
        add_hex_forms(s, sec->label, v, len);
        if (sec->kind == B64URL_TOKEN) {
            unsigned char raw[64];
            size_t rawlen = 0;

            assert_int_equal(sodium_base642bin(raw, sizeof(raw), sec->value, len, NULL, &rawlen,
                                               NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                             0);
            assert_true(rawlen >= 16);
            needle_copy(s, sec->label, raw, rawlen);
            add_hex_forms(s, sec->label, raw, rawlen);
            sodium_memzero(raw, sizeof(raw));
        }
    }
    s->canary_rid = s->count;
    needle_add(s, "canary: a request id the test sent", f->canary_rid, strlen(f->canary_rid),
               false);
    s->canary_user = s->count;
    needle_add(s, "canary: a user name", f->canary_user, strlen(f->canary_user), false);
}

static void needles_free(needle_set *s)
{
    for (size_t i = 0; i < s->count; i++) {
        if (s->own[i] != NULL) {
            sodium_memzero(s->own[i], s->n[i].len);
            free(s->own[i]);
        }
    }
}

typedef struct scan_state {
    const needle_set *set;
    int leaks;
    long files;
    /* Which files the canaries were found in (by base name). */
    bool rid_in_audit_db, rid_in_export, rid_in_stderr, user_in_store;
    bool saw_audit_db, saw_audit_wal, saw_store, saw_export, saw_stderr;
} scan_state;

static bool named(const char *path, const char *name)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;

    return strcmp(base, name) == 0;
}

static void on_file(void *ctx, const char *path, size_t size)
{
    scan_state *st = ctx;

    st->files++;
    st->saw_audit_db |= named(path, "audit.db") && size > 0;
    st->saw_audit_wal |= named(path, "audit.db-wal") && size > 0;
    st->saw_store |= named(path, "bulwark.db") && size > 0;
    st->saw_export |= named(path, "audit.jsonl") && size > 0;
    st->saw_stderr |= named(path, "stderr.log") && size > 0;
}

static void on_hit(void *ctx, const char *path, size_t idx, size_t offset)
{
    scan_state *st = ctx;

    if (idx == st->set->canary_rid) {
        st->rid_in_audit_db |= named(path, "audit.db") || named(path, "audit.db-wal");
        st->rid_in_export |= named(path, "audit.jsonl");
        st->rid_in_stderr |= named(path, "stderr.log");
        return;
    }
    if (idx == st->set->canary_user) {
        st->user_in_store |= named(path, "bulwark.db") || named(path, "bulwark.db-wal");
        return;
    }
    print_error("LEAK: %s found in %s at offset %zu\n", st->set->n[idx].label, path, offset);
    st->leaks++;
}

/* The events the requests above reported, each of which had a secret on its request. */
static void assert_events_recorded(fixture *f)
{
    static const char *const events[] = {
        "auth.login.success", "auth.login.failure",
        "auth.lockout",       "auth.credential.refused",
        "authz.denied",       "validation.failed",
        "ratelimit.exceeded", "session.logout",
        "session.logout_all", "admin.user.create",
        "admin.user.update",  "attack.suspected",
        "apikey.created",     "admin.user.set_password",
    };
    int nfail = 0;

    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        const char *argv[] = {"audit", "search", "--event", events[i], "--limit", "1", NULL};
        bw_run_result r;

        assert_int_equal(bw_srv_run(f->srv, argv, NULL, &r), 0);
        keep_cli_output(f, r.out, r.out_len);
        keep_cli_output(f, r.err, r.err_len);
        if (r.status != 0 || strstr(r.out, events[i]) == NULL)
            BW_CASE_FAIL(nfail, "no %s record (exit %d): %s", events[i], r.status, r.err);
        bw_run_free(&r);
    }
    BW_CASES_DONE(nfail);
}

/* Scans the server's folder: its data dir (databases, -wal/-shm, export, keys, certificate)
 * and, beside it, the captured stderr and stdout and the config it ran with. */
static void scan_server_folder(fixture *f, scan_state *st)
{
    char *root = strdup(bw_srv_data_dir(f->srv));

    assert_non_null(root);
    assert_true(bw_scan_tree(dirname(root), st->set->n, st->set->count, on_hit, on_file, st) > 0);
    free(root);
}

static void test_no_secret_anywhere(void **state)
{
    fixture *f = *state;
    needle_set *set = calloc(1, sizeof(*set));
    scan_state st = {0};

    assert_non_null(set);
    build_needles(f, set);
    st.set = set;
    /* Once while the server runs: its write-ahead logs hold recent pages that a checkpoint at
     * stop moves into the database and deletes. */
    scan_server_folder(f, &st);
    assert_true(st.saw_audit_wal);
    /* Stop the server the way an operator does (everything queued is committed), check the
     * events carrying secrets were recorded at all, and scan again. */
    assert_int_equal(bw_srv_signal(f->srv, SIGTERM), 0);
    assert_int_equal(bw_srv_wait(f->srv, bw_shutdown_timeout_ms() + 3000), 0);
    assert_events_recorded(f);
    scan_server_folder(f, &st);
    /* What the CLI printed around the server (set-password, user add, audit search...). */
    assert_non_null(f->cli_log);
    (void)bw_scan_buffer("(CLI output)", f->cli_log, f->cli_len, set->n, set->count, on_hit, &st);
    needles_free(set);
    free(set);

    /* Not vacuous: the scan read the files that matter and found what must be there. */
    assert_true(st.saw_audit_db && st.saw_store && st.saw_export && st.saw_stderr);
    if (!st.rid_in_audit_db || !st.rid_in_export || !st.rid_in_stderr || !st.user_in_store)
        fail_msg("the scan missed a canary: request id in audit db %d, export %d, stderr %d;"
                 " user name in the store %d",
                 st.rid_in_audit_db, st.rid_in_export, st.rid_in_stderr, st.user_in_store);
    if (st.leaks > 0)
        fail_msg("%d secret(s) found on disk, listed above (%ld files read)", st.leaks, st.files);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accounts_and_logins),
        cmocka_unit_test(test_authorization_values),
        cmocka_unit_test(test_query_strings_and_bodies),
        cmocka_unit_test(test_cookies_and_csrf),
        cmocka_unit_test(test_rate_limited),
        cmocka_unit_test(test_logout),
        cmocka_unit_test(test_cli_passwords),
        cmocka_unit_test(test_no_secret_anywhere),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
