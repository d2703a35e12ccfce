/*
 * Sessions against the running notes service over HTTPS: no fixation (a token the client
 * brings is never adopted, a privilege change ends old tokens), no reuse after logout or
 * logout-all, idle and absolute expiry, the session cookie's attributes, and 401 with
 * WWW-Authenticate for every malformed credential.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>

#include "auth_client.h"
#include "harness.h"

#define TOKEN_LEN BW_TEST_TOKEN_LEN

static const char *const PW = "correct horse battery staple";
static const char *const PW2 = "another horse battery staple";
static const char *const SESSION_COOKIE = "__Host-bw_session";
static const char *const CSRF_COOKIE = "__Host-bw_csrf";

/* Argon2 at its smallest allowed memory keeps logins fast. The expiry servers shorten one
 * lifetime each: both keys are global, so each behaviour gets its own server. */
static const char *const CONFIG = "{\"ratelimit\": {\"route_burst\": 100000}, \"auth\": {\"password\": {\"memlimit_kib\": 19456}}}";
static const char *const CONFIG_IDLE =
    "{\"ratelimit\": {\"route_burst\": 100000}, \"auth\": {\"password\": {\"memlimit_kib\": 19456},"
    " \"session\": {\"idle_ttl_s\": 3, \"absolute_ttl_s\": 100}}}";
static const char *const CONFIG_ABSOLUTE =
    "{\"ratelimit\": {\"route_burst\": 100000}, \"auth\": {\"password\": {\"memlimit_kib\": 19456},"
    " \"session\": {\"idle_ttl_s\": 100, \"absolute_ttl_s\": 4}}}";

/* A well-formed token (43 base64url characters, canonical last character) that the server
 * never issued: what an attacker plants in a victim's browser. */
static const char *const PLANTED = "fixAtionAttackerChosenTokenValue0123456789A";

typedef struct fixture {
    char *cfg;
    bw_srv *srv;
    /* The expiry test's own servers, stopped by the group teardown if the test fails. */
    char *cfg_idle, *cfg_abs;
    bw_srv *srv_idle, *srv_abs;
} fixture;

/* One Set-Cookie value taken apart. */
typedef struct cookie {
    char name[64];
    char value[TOKEN_LEN + 1];
    long long max_age; /* -1 when absent */
    bool path_root, secure, http_only, strict;
    bool other; /* an attribute we do not expect (Domain, Expires, a repeat, ...) */
} cookie;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    *state = f;
    f->srv = bw_test_srv_start_json(CONFIG, &f->cfg);
    return f->srv != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc;

    if (f == NULL)
        return -1;
    rc = bw_test_srv_stop(&f->srv, &f->cfg);
    /* A leftover expiry server means its test failed already; still stop it. */
    (void)bw_test_srv_stop(&f->srv_idle, &f->cfg_idle);
    (void)bw_test_srv_stop(&f->srv_abs, &f->cfg_abs);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* --- helpers ------------------------------------------------------------------------------- */

static void add_user(bw_srv *srv, const char *name, const char *roles)
{
    assert_int_equal(bw_test_user_add(srv, name, PW, roles), 0);
}

static char *login(bw_srv *srv, const char *name, const char *pw)
{
    char *tok = NULL;
    long st = 0;

    if (bw_test_login(srv, name, pw, &tok, &st) != 0)
        fail_msg("login %s: status %ld", name, st);
    assert_int_equal(strlen(tok), TOKEN_LEN);
    return tok;
}

static void cookie_header(char *buf, size_t cap, const char *tok)
{
    assert_int_equal(bw_test_session_cookie(buf, cap, tok), 0);
}

/* A request carrying tok as a bearer token (via_cookie false) or as the session cookie. */
static void send_as(bw_srv *srv, const char *tok, bool via_cookie, const char *method,
                    const char *path, const char *json, const char *const *extra, bw_resp *r)
{
    assert_int_equal(via_cookie ? bw_http_as_cookie(srv, tok, method, path, json, extra, r)
                                : bw_http_as(srv, tok, method, path, json, extra, r),
                     0);
}

static long status_as(bw_srv *srv, const char *tok, bool via_cookie, const char *method,
                      const char *path, const char *json, const char *const *extra)
{
    bw_resp r;
    long st;

    send_as(srv, tok, via_cookie, method, path, json, extra, &r);
    st = r.status;
    bw_resp_free(&r);
    return st;
}

static long me(bw_srv *srv, const char *tok, bool via_cookie)
{
    return status_as(srv, tok, via_cookie, "GET", "/v1/auth/me", NULL, NULL);
}

/* GET /v1/auth/me must answer 200 for user. */
static void assert_me_is(bw_srv *srv, const char *tok, bool via_cookie, const char *user)
{
    bw_resp r;
    json_t *doc;

    send_as(srv, tok, via_cookie, "GET", "/v1/auth/me", NULL, NULL, &r);
    if (r.status != 200)
        fail_msg("me as %s: %ld %s", user, r.status, r.body);
    doc = json_loads(r.body, 0, NULL);
    bw_resp_free(&r);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "username")), user);
    json_decref(doc);
}

/* A 401 on a protected route that says how to authenticate; invalid: a credential was sent,
 * so the challenge carries error="invalid_token". */
static bool check_401(const bw_resp *r, bool invalid, char *why, size_t cap)
{
    const char *wa = bw_resp_header(r, "WWW-Authenticate");

    if (!bw_check_problem(r, 401, why, cap))
        return false;
    if (wa == NULL || strncmp(wa, "Bearer realm=\"bulwark\"", 22) != 0) {
        snprintf(why, cap, "WWW-Authenticate: %s", wa != NULL ? wa : "(none)");
        return false;
    }
    if ((strstr(wa, "error=\"invalid_token\"") != NULL) != invalid) {
        snprintf(why, cap, "WWW-Authenticate: %s (a credential was%s sent)", wa,
                 invalid ? "" : " not");
        return false;
    }
    return true;
}

/* Parses one Set-Cookie value: name=value, then the attributes. */
static void parse_set_cookie(const char *v, cookie *c)
{
    const char *semi = strchr(v, ';');
    const char *eq = strchr(v, '=');
    size_t end = semi != NULL ? (size_t)(semi - v) : strlen(v);

    memset(c, 0, sizeof(*c));
    c->max_age = -1;
    if (eq == NULL || (size_t)(eq - v) >= end || (size_t)(eq - v) >= sizeof(c->name) ||
        end - (size_t)(eq - v) - 1 >= sizeof(c->value)) {
        c->other = true;
        return;
    }
    memcpy(c->name, v, (size_t)(eq - v));
    memcpy(c->value, eq + 1, end - (size_t)(eq - v) - 1);
    while (semi != NULL) {
        const char *a = semi + 1, *next;
        size_t len;
        bool *flag = NULL;

        while (*a == ' ')
            a++;
        next = strchr(a, ';');
        len = next != NULL ? (size_t)(next - a) : strlen(a);
        if (len == 6 && strncasecmp(a, "Path=/", 6) == 0)
            flag = &c->path_root;
        else if (len == 6 && strncasecmp(a, "Secure", 6) == 0)
            flag = &c->secure;
        else if (len == 8 && strncasecmp(a, "HttpOnly", 8) == 0)
            flag = &c->http_only;
        else if (len == 15 && strncasecmp(a, "SameSite=Strict", 15) == 0)
            flag = &c->strict;
        if (flag != NULL) {
            c->other |= *flag;
            *flag = true;
        } else if (len > 8 && len < 20 && strncasecmp(a, "Max-Age=", 8) == 0 && c->max_age < 0 &&
                   strspn(a + 8, "0123456789") == len - 8) {
            c->max_age = strtoll(a + 8, NULL, 10);
        } else {
            c->other = true;
        }
        semi = next;
    }
}

/* The one Set-Cookie of r that sets name; fails unless there is exactly one. */
static void find_cookie(const bw_resp *r, const char *name, cookie *out)
{
    int found = 0;

    for (size_t i = 0; i < r->nheaders; i++) {
        cookie c;

        if (strcasecmp(r->headers[i].name, "Set-Cookie") != 0)
            continue;
        parse_set_cookie(r->headers[i].value, &c);
        if (strcmp(c.name, name) == 0) {
            *out = c;
            found++;
        }
    }
    if (found != 1)
        fail_msg("%d Set-Cookie headers for %s, want 1", found, name);
}

/* A login in mode ("bearer" or "cookie") sending extra; it must succeed. */
static void login_request(bw_srv *srv, const char *user, const char *pw, const char *mode,
                          const char *const *extra, bw_resp *r)
{
    assert_int_equal(bw_test_login_request(srv, user, pw, mode, extra, r), 0);
    if (r->status != 200)
        fail_msg("%s login of %s: %ld %s", mode, user, r->status, r->body);
}

/* Cookie-mode login (sending extra, e.g. a planted cookie): the session token into tok and the
 * CSRF token into csrf (either may be NULL). */
static void cookie_login(bw_srv *srv, const char *user, const char *const *extra,
                         char tok[TOKEN_LEN + 1], char csrf[TOKEN_LEN + 1])
{
    if (bw_test_cookie_login(srv, user, PW, extra, tok, csrf) != 0)
        fail_msg("cookie login of %s", user);
}

static double wall_now(void)
{
    struct timespec ts;

    assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    for (double d = t - wall_now(); d > 0; d = t - wall_now()) {
        struct timespec ts = {.tv_sec = (time_t)d,
                              .tv_nsec = (long)((d - (double)(time_t)d) * 1e9)};
        (void)nanosleep(&ts, NULL);
    }
}

/* --- fixation ------------------------------------------------------------------------------ */

static void test_planted_token_never_adopted(void **state)
{
    fixture *f = *state;
    char planted[128], tok[TOKEN_LEN + 1], victim[TOKEN_LEN + 1];
    const char *with_planted[] = {planted, NULL};
    char bearer_planted[128], origin[96], csrf_hdr[128], mcsrf[TOKEN_LEN + 1];
    const char *with_bearer[] = {bearer_planted, NULL};
    const char *with_planted_csrf[] = {planted, origin, csrf_hdr, NULL};
    char *t1, *t2;
    bw_resp r;
    json_t *doc;

    assert_int_equal(strlen(PLANTED), TOKEN_LEN);
    add_user(f->srv, "fix_victim", "editor");
    add_user(f->srv, "fix_mallory", "editor");
    cookie_header(planted, sizeof(planted), PLANTED);
    assert_true(
        snprintf(bearer_planted, sizeof(bearer_planted), "Authorization: Bearer %s", PLANTED) > 0);

    /* Before: the planted value is no session. */
    assert_int_equal(me(f->srv, PLANTED, true), 401);
    assert_int_equal(me(f->srv, PLANTED, false), 401);

    /* Login with it in the cookie: a fresh token, and no token in the answer's body. */
    login_request(f->srv, "fix_victim", PW, "cookie", with_planted, &r);
    assert_null(strstr(r.body, PLANTED));
    doc = json_loads(r.body, 0, NULL);
    assert_non_null(doc);
    assert_null(json_object_get(doc, "token"));
    json_decref(doc);
    bw_resp_free(&r);
    cookie_login(f->srv, "fix_victim", with_planted, tok, NULL);
    assert_string_not_equal(tok, PLANTED);
    assert_me_is(f->srv, tok, true, "fix_victim");

    /* The same in bearer mode, with the planted value as cookie or as bearer. */
    login_request(f->srv, "fix_victim", PW, "bearer", with_planted, &r);
    doc = json_loads(r.body, 0, NULL);
    assert_non_null(doc);
    assert_string_not_equal(json_string_value(json_object_get(doc, "token")), PLANTED);
    json_decref(doc);
    bw_resp_free(&r);
    login_request(f->srv, "fix_victim", PW, "bearer", with_bearer, &r);
    assert_null(strstr(r.body, PLANTED));
    bw_resp_free(&r);

    /* After: still nothing. */
    assert_int_equal(me(f->srv, PLANTED, true), 401);
    assert_int_equal(me(f->srv, PLANTED, false), 401);

    /* An attacker's own live session planted in the victim's browser. A login that carries a
     * live session cookie is a cookie-session POST, so it must pass the CSRF check like any
     * other: without it, 403 and nobody is logged in. */
    cookie_login(f->srv, "fix_mallory", NULL, tok, mcsrf);
    cookie_header(planted, sizeof(planted), tok);
    assert_int_equal(bw_test_login_request(f->srv, "fix_victim", PW, "cookie", with_planted, &r),
                     0);
    BW_ASSERT_REFUSED(&r, 403);
    assert_int_equal(bw_resp_header_count(&r, "Set-Cookie"), 0);
    bw_resp_free(&r);
    /* With the headers our own page sends (its Origin, the CSRF cookie it can read), the
     * victim's login gets a new token, and the attacker's stays the attacker's (no upgrade). */
    assert_int_equal(bw_test_origin(f->srv, origin, sizeof(origin)), 0);
    assert_true(snprintf(csrf_hdr, sizeof(csrf_hdr), "X-CSRF-Token: %s", mcsrf) > 0);
    cookie_login(f->srv, "fix_victim", with_planted_csrf, victim, NULL);
    assert_string_not_equal(victim, tok);
    assert_me_is(f->srv, victim, true, "fix_victim");
    assert_me_is(f->srv, tok, true, "fix_mallory");

    /* Two bearer logins: two tokens, both valid. */
    t1 = login(f->srv, "fix_victim", PW);
    t2 = login(f->srv, "fix_victim", PW);
    assert_string_not_equal(t1, t2);
    assert_me_is(f->srv, t1, false, "fix_victim");
    assert_me_is(f->srv, t2, false, "fix_victim");
    free(t1);
    free(t2);
}

static void test_privilege_change_ends_sessions(void **state)
{
    fixture *f = *state;
    const char *set_roles[] = {"user", "set-roles", "priv_gina", "viewer", NULL};
    const char *set_pw[] = {"user", "set-password", "priv_gina", NULL};
    char ck[TOKEN_LEN + 1], input[128];
    char *t1, *t2, *t3, *other;
    long st = 0;
    bw_resp r;
    json_t *doc;
    const json_t *roles;

    add_user(f->srv, "priv_gina", "editor");
    add_user(f->srv, "priv_hank", "editor");
    t1 = login(f->srv, "priv_gina", PW);
    cookie_login(f->srv, "priv_gina", NULL, ck, NULL);
    other = login(f->srv, "priv_hank", PW);
    assert_int_equal(me(f->srv, t1, false), 200);
    assert_int_equal(me(f->srv, ck, true), 200);

    /* A role change (here a demotion) ends every session of that user, bearer and cookie. */
    assert_int_equal(bw_test_cli(f->srv, set_roles, NULL), 0);
    assert_int_equal(me(f->srv, t1, false), 401);
    assert_int_equal(status_as(f->srv, t1, false, "GET", "/v1/notes", NULL, NULL), 401);
    assert_int_equal(me(f->srv, ck, true), 401);
    assert_int_equal(me(f->srv, other, false), 200);
    /* A new login carries the new roles. */
    t2 = login(f->srv, "priv_gina", PW);
    send_as(f->srv, t2, false, "GET", "/v1/auth/me", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    doc = json_loads(r.body, 0, NULL);
    bw_resp_free(&r);
    roles = json_object_get(doc, "roles");
    assert_int_equal(json_array_size(roles), 1);
    assert_string_equal(json_string_value(json_array_get(roles, 0)), "viewer");
    json_decref(doc);

    /* A password change ends them too; the old password is gone. */
    assert_true(snprintf(input, sizeof(input), "%s\n", PW2) > 0);
    assert_int_equal(bw_test_cli(f->srv, set_pw, input), 0);
    assert_int_equal(me(f->srv, t2, false), 401);
    assert_int_equal(bw_test_login(f->srv, "priv_gina", PW, &t3, &st), -1);
    assert_int_equal(st, 401);
    t3 = login(f->srv, "priv_gina", PW2);
    assert_me_is(f->srv, t3, false, "priv_gina");
    assert_int_equal(me(f->srv, other, false), 200);
    free(t1);
    free(t2);
    free(t3);
    free(other);
}

/* --- logout -------------------------------------------------------------------------------- */

static void test_logout_ends_only_that_session(void **state)
{
    fixture *f = *state;
    char *s1, *s2;
    bw_resp r;
    char why[512];

    add_user(f->srv, "out_jack", "editor");
    s1 = login(f->srv, "out_jack", PW);
    s2 = login(f->srv, "out_jack", PW);

    /* With an empty JSON object. */
    send_as(f->srv, s1, false, "POST", "/v1/auth/logout", "{}", NULL, &r);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body_len, 0);
    bw_resp_free(&r);
    assert_int_equal(me(f->srv, s1, false), 401);
    assert_int_equal(status_as(f->srv, s1, false, "GET", "/v1/notes", NULL, NULL), 401);
    assert_int_equal(
        status_as(f->srv, s1, false, "POST", "/v1/notes", "{\"title\":\"t\",\"body\":\"b\"}", NULL),
        401);
    /* The other session of the same user is untouched. */
    assert_me_is(f->srv, s2, false, "out_jack");

    /* Logging out twice: the second time there is no session any more. */
    send_as(f->srv, s1, false, "POST", "/v1/auth/logout", "{}", NULL, &r);
    if (!check_401(&r, true, why, sizeof(why)))
        fail_msg("second logout: %s", why);
    bw_resp_free(&r);

    /* Without a body. */
    assert_int_equal(status_as(f->srv, s2, false, "POST", "/v1/auth/logout", NULL, NULL), 204);
    assert_int_equal(me(f->srv, s2, false), 401);
    assert_int_equal(status_as(f->srv, s2, false, "GET", "/v1/notes", NULL, NULL), 401);
    free(s1);
    free(s2);
}

static void test_logout_all(void **state)
{
    fixture *f = *state;
    char ck[TOKEN_LEN + 1];
    char *k1, *k2, *other;

    add_user(f->srv, "all_kate", "editor");
    add_user(f->srv, "all_liam", "editor");
    k1 = login(f->srv, "all_kate", PW);
    k2 = login(f->srv, "all_kate", PW);
    cookie_login(f->srv, "all_kate", NULL, ck, NULL);
    other = login(f->srv, "all_liam", PW);
    assert_int_equal(me(f->srv, k1, false), 200);
    assert_int_equal(me(f->srv, ck, true), 200);

    assert_int_equal(status_as(f->srv, k2, false, "POST", "/v1/auth/logout-all", "{}", NULL), 204);
    assert_int_equal(me(f->srv, k1, false), 401);
    assert_int_equal(me(f->srv, k2, false), 401);
    assert_int_equal(me(f->srv, ck, true), 401);
    assert_int_equal(status_as(f->srv, k1, false, "GET", "/v1/notes", NULL, NULL), 401);
    assert_me_is(f->srv, other, false, "all_liam");
    /* Nothing left to end; a fresh login still works. */
    assert_int_equal(status_as(f->srv, k1, false, "POST", "/v1/auth/logout-all", NULL, NULL), 401);
    free(k1);
    k1 = login(f->srv, "all_kate", PW);
    assert_me_is(f->srv, k1, false, "all_kate");
    free(k1);
    free(k2);
    free(other);
}

/* --- expiry -------------------------------------------------------------------------------- */

/* Times are whole Unix seconds on the server. With L the wall time just before the login on
 * the absolute-expiry server, created_at >= floor(L), so a request that ends by L + 2.5 s is
 * inside the 4 s lifetime with a margin; one that starts 6 s after the login answer is past
 * it. The idle server's unused session gets the same 6 s, twice its 3 s limit, while a second
 * session there, used every second, must live on. */
static void test_idle_and_absolute_expiry(void **state)
{
    fixture *f = *state;
    char *tb, *idle, *busy, *fresh;
    double l0, l1, idle_seen, final;
    int valid_checks = 0;
    bool b_dead = false;

    f->srv_idle = bw_test_srv_start_json(CONFIG_IDLE, &f->cfg_idle);
    assert_non_null(f->srv_idle);
    f->srv_abs = bw_test_srv_start_json(CONFIG_ABSOLUTE, &f->cfg_abs);
    assert_non_null(f->srv_abs);
    add_user(f->srv_idle, "ttl_ivy", "viewer");
    add_user(f->srv_abs, "ttl_ivy", "viewer");

    l0 = wall_now();
    tb = login(f->srv_abs, "ttl_ivy", PW);
    l1 = wall_now();
    idle = login(f->srv_idle, "ttl_ivy", PW);
    busy = login(f->srv_idle, "ttl_ivy", PW);
    assert_int_equal(me(f->srv_idle, idle, false), 200);
    idle_seen = wall_now();
    assert_int_equal(me(f->srv_abs, tb, false), 200);
    if (wall_now() <= l0 + 2.5)
        valid_checks++;

    final = l0 + 7;
    if (final < l1 + 6)
        final = l1 + 6;
    if (final < idle_seen + 6)
        final = idle_seen + 6;
    /* Once a second: the absolute-expiry session and the busy idle-expiry one. */
    for (int k = 1; l0 + k < final; k++) {
        long st;

        sleep_until(l0 + k);
        st = me(f->srv_abs, tb, false);
        if (wall_now() <= l0 + 2.5) {
            if (st != 200)
                fail_msg("absolute ttl 4 s: refused %d s after login", k);
            valid_checks++;
        }
        if (b_dead && st != 401)
            fail_msg("an expired session came back: %ld at %d s", st, k);
        if (st == 401)
            b_dead = true;
        else
            assert_int_equal(st, 200);
        if (me(f->srv_idle, busy, false) != 200)
            fail_msg("idle ttl 3 s: a session used every second was refused at %d s", k);
    }
    if (valid_checks < 3)
        fail_msg("only %d checks within 2.5 s of login: the machine is too slow for this test",
                 valid_checks);

    sleep_until(final);
    /* Used every second, and still past its absolute lifetime. */
    assert_int_equal(me(f->srv_abs, tb, false), 401);
    /* Unused for over 5 s. */
    assert_int_equal(me(f->srv_idle, idle, false), 401);
    assert_int_equal(status_as(f->srv_idle, idle, false, "GET", "/v1/notes", NULL, NULL), 401);
    /* In use all along: idle expiry is about use, not age. */
    assert_me_is(f->srv_idle, busy, false, "ttl_ivy");
    /* Expiry ends sessions, not the account. */
    fresh = login(f->srv_abs, "ttl_ivy", PW);
    assert_me_is(f->srv_abs, fresh, false, "ttl_ivy");

    assert_int_equal(bw_test_srv_stop(&f->srv_idle, &f->cfg_idle), 0);
    assert_int_equal(bw_test_srv_stop(&f->srv_abs, &f->cfg_abs), 0);
    free(tb);
    free(idle);
    free(busy);
    free(fresh);
}

/* --- the cookie ---------------------------------------------------------------------------- */

static void test_cookie_attributes(void **state)
{
    fixture *f = *state;
    char origin[96], csrf_hdr[128], tok[TOKEN_LEN + 1];
    const char *csrf_headers[] = {origin, csrf_hdr, NULL};
    cookie s, c;
    bw_resp r;
    json_t *doc;
    const char *body_csrf;

    add_user(f->srv, "ck_mia", "editor");
    login_request(f->srv, "ck_mia", PW, "cookie", NULL, &r);
    assert_int_equal(bw_resp_header_count(&r, "Set-Cookie"), 2);
    find_cookie(&r, SESSION_COOKIE, &s);
    find_cookie(&r, CSRF_COOKIE, &c);

    /* __Host- demands Secure, Path=/ and no Domain; the token is for the server only. */
    assert_int_equal(strlen(s.value), TOKEN_LEN);
    assert_int_equal(strspn(s.value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789-_"),
                     TOKEN_LEN);
    assert_true(s.secure && s.http_only && s.strict && s.path_root);
    assert_false(s.other);
    /* It lives as long as the session (absolute_ttl_s 43200 by default). */
    assert_in_range(s.max_age, 43200 - 5, 43200);

    /* The CSRF cookie: same scope, readable by the page's script. */
    assert_true(c.secure && c.strict && c.path_root);
    assert_false(c.http_only);
    assert_false(c.other);
    assert_int_equal(c.max_age, s.max_age);
    assert_string_not_equal(c.value, s.value);

    doc = json_loads(r.body, 0, NULL);
    assert_non_null(doc);
    body_csrf = json_string_value(json_object_get(doc, "csrf_token"));
    assert_non_null(body_csrf);
    assert_string_equal(body_csrf, c.value);
    assert_null(json_object_get(doc, "token"));
    assert_null(strstr(r.body, s.value));
    json_decref(doc);
    bw_resp_free(&r);
    memcpy(tok, s.value, sizeof(tok));
    assert_me_is(f->srv, tok, true, "ck_mia");

    /* Bearer mode sets no cookie at all. */
    login_request(f->srv, "ck_mia", PW, "bearer", NULL, &r);
    assert_int_equal(bw_resp_header_count(&r, "Set-Cookie"), 0);
    bw_resp_free(&r);

    /* Logout clears both, with the attributes a browser needs to match them. */
    assert_int_equal(bw_test_origin(f->srv, origin, sizeof(origin)), 0);
    assert_true(snprintf(csrf_hdr, sizeof(csrf_hdr), "X-CSRF-Token: %s", c.value) > 0);
    send_as(f->srv, tok, true, "POST", "/v1/auth/logout", NULL, csrf_headers, &r);
    assert_int_equal(r.status, 204);
    assert_int_equal(bw_resp_header_count(&r, "Set-Cookie"), 2);
    find_cookie(&r, SESSION_COOKIE, &s);
    find_cookie(&r, CSRF_COOKIE, &c);
    bw_resp_free(&r);
    assert_string_equal(s.value, "");
    assert_int_equal(s.max_age, 0);
    assert_true(s.secure && s.http_only && s.strict && s.path_root);
    assert_false(s.other);
    assert_string_equal(c.value, "");
    assert_int_equal(c.max_age, 0);
    assert_true(c.secure && c.strict && c.path_root);
    assert_false(c.other);
    assert_int_equal(me(f->srv, tok, true), 401);
}

/* --- malformed credentials ----------------------------------------------------------------- */

static void test_malformed_credentials(void **state)
{
    fixture *f = *state;
    enum { BIG = 2048 };
    char *tv, *tv2;
    char big_bearer[BIG + 32], big_cookie[BIG + 32], two[160], same_twice[160], eq_bearer[96],
        eq_cookie[96], dot_bearer[96], dot_cookie[96], noncanon[96], spaces[96];
    const char *const paths[] = {"/v1/auth/me", "/v1/notes"};
    struct {
        const char *name;
        const char *header;
    } cases[] = {
        {"Bearer, empty token", "Authorization: Bearer "},
        {"Bearer, no token", "Authorization: Bearer"},
        {"Basic", "Authorization: Basic bWFsX25pbmE6Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ=="},
        {"Digest", "Authorization: Digest username=\"mal_nina\""},
        {"2 KB bearer token", big_bearer},
        {"2 KB cookie token", big_cookie},
        {"two session cookies", two},
        {"one session cookie twice", same_twice},
        {"bearer token with '='", eq_bearer},
        {"cookie token with '='", eq_cookie},
        {"bearer token with '.'", dot_bearer},
        {"cookie token with '.'", dot_cookie},
        {"JWT-shaped bearer", "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."},
        {"non-canonical encoding of a live token", noncanon},
        {"two spaces before the token", spaces},
    };
    int nfail = 0;
    char why[512];
    size_t tlen;
    int n;
    char *alt;
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    add_user(f->srv, "mal_nina", "editor");
    tv = login(f->srv, "mal_nina", PW);
    tv2 = login(f->srv, "mal_nina", PW);
    tlen = strlen(tv);

    memcpy(big_bearer, "Authorization: Bearer ", 22);
    memset(big_bearer + 22, 'A', BIG);
    big_bearer[22 + BIG] = '\0';
    n = snprintf(big_cookie, sizeof(big_cookie), "Cookie: %s=", SESSION_COOKIE);
    assert_true(n > 0 && (size_t)n + BIG < sizeof(big_cookie));
    memset(big_cookie + n, 'A', BIG);
    big_cookie[(size_t)n + BIG] = '\0';
    /* Every malformed value below is built from live tokens, so only the form is wrong. */
    assert_true(snprintf(two, sizeof(two), "Cookie: %s=%s; %s=%s", SESSION_COOKIE, tv,
                         SESSION_COOKIE, tv2) > 0);
    assert_true(snprintf(same_twice, sizeof(same_twice), "Cookie: %s=%s; %s=%s", SESSION_COOKIE, tv,
                         SESSION_COOKIE, tv) > 0);
    assert_true(snprintf(eq_bearer, sizeof(eq_bearer), "Authorization: Bearer %s=", tv) > 0);
    assert_true(snprintf(eq_cookie, sizeof(eq_cookie), "Cookie: %s=%s=", SESSION_COOKIE, tv) > 0);
    assert_true(snprintf(dot_bearer, sizeof(dot_bearer), "Authorization: Bearer %.20s.%s", tv,
                         tv + 20) > 0);
    assert_true(snprintf(dot_cookie, sizeof(dot_cookie), "Cookie: %s=%.20s.%s", SESSION_COOKIE, tv,
                         tv + 20) > 0);
    assert_true(snprintf(spaces, sizeof(spaces), "Authorization: Bearer  %s", tv) > 0);
    /* The last character carries 2 padding bits, zero in the canonical form: its successor in
     * the alphabet decodes to the same bytes but with a padding bit set. */
    alt = strchr(alphabet, tv[tlen - 1]);
    assert_non_null(alt);
    assert_int_equal((alt - alphabet) % 4, 0);
    assert_true(snprintf(noncanon, sizeof(noncanon), "Authorization: Bearer %.*s%c",
                         (int)(tlen - 1), tv, alt[1]) > 0);

    for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
        bw_resp r;

        /* Controls: a live token passes, no credential at all gets the bare challenge. */
        assert_int_equal(status_as(f->srv, tv, false, "GET", paths[p], NULL, NULL), 200);
        assert_int_equal(status_as(f->srv, tv, true, "GET", paths[p], NULL, NULL), 200);
        assert_int_equal(bw_http(f->srv, "GET", paths[p], NULL, NULL, 0, &r), 0);
        if (!check_401(&r, false, why, sizeof(why)))
            BW_CASE_FAIL(nfail, "%s without a credential: %s", paths[p], why);
        bw_resp_free(&r);

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            const char *h[] = {cases[i].header, NULL};

            assert_int_equal(bw_http(f->srv, "GET", paths[p], h, NULL, 0, &r), 0);
            if (r.status != 401)
                BW_CASE_FAIL(nfail, "%s, %s: %ld, want 401", paths[p], cases[i].name, r.status);
            else if (!check_401(&r, true, why, sizeof(why)))
                BW_CASE_FAIL(nfail, "%s, %s: %s", paths[p], cases[i].name, why);
            bw_resp_free(&r);
        }
    }
    /* Two header lines, each valid alone: which one a proxy acted on is unknowable. */
    {
        char a1[96], a2[96], c1[128], c2[128];
        assert_true(snprintf(a1, sizeof(a1), "Authorization: Bearer %s", tv) > 0);
        assert_true(snprintf(a2, sizeof(a2), "Authorization: Bearer %s", tv2) > 0);
        assert_true(snprintf(c1, sizeof(c1), "Cookie: %s=%s", SESSION_COOKIE, tv) > 0);
        assert_true(snprintf(c2, sizeof(c2), "Cookie: %s=%s", SESSION_COOKIE, tv2) > 0);
        const char *two_auth[] = {a1, a2, NULL};
        const char *two_cookie[] = {c1, c2, NULL};
        const char *const *pairs[] = {two_auth, two_cookie};
        for (size_t i = 0; i < 2; i++) {
            bw_resp r;
            assert_int_equal(bw_http(f->srv, "GET", "/v1/auth/me", pairs[i], NULL, 0, &r), 0);
            if (r.status != 401 || !check_401(&r, true, why, sizeof(why)))
                BW_CASE_FAIL(nfail, "two %s headers: %ld", i == 0 ? "Authorization" : "Cookie",
                             r.status);
            bw_resp_free(&r);
        }
    }
    /* Refusing them ended nothing. */
    assert_int_equal(me(f->srv, tv, false), 200);
    assert_int_equal(me(f->srv, tv2, false), 200);
    assert_true(bw_srv_alive(f->srv));
    free(tv);
    free(tv2);
    BW_CASES_DONE(nfail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_planted_token_never_adopted),
        cmocka_unit_test(test_privilege_change_ends_sessions),
        cmocka_unit_test(test_logout_ends_only_that_session),
        cmocka_unit_test(test_logout_all),
        cmocka_unit_test(test_idle_and_absolute_expiry),
        cmocka_unit_test(test_cookie_attributes),
        cmocka_unit_test(test_malformed_credentials),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
