/*
 * CSRF protection of cookie sessions against the running notes service over HTTPS. An unsafe
 * request with the session cookie needs the service's own origin (Origin, or Sec-Fetch-Site:
 * same-origin when no Origin is sent) and the session's CSRF token in X-CSRF-Token; anything
 * else is a 403 that changes nothing and echoes no secret. Safe methods and bearer tokens need
 * no CSRF headers.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth_client.h"
#include "harness.h"

#define TOKEN_LEN BW_TEST_TOKEN_LEN

static const char *const PW = "correct horse battery staple";
static const char *const CONFIG = "{\"ratelimit\": {\"route_burst\": 100000}, \"auth\": {\"password\": {\"memlimit_kib\": 19456}}}";
static const char *const NOTE = "{\"title\":\"csrf\",\"body\":\"written by the test\"}";

/* A cookie-mode session: the token from its Set-Cookie, the CSRF token from the answer. */
typedef struct csession {
    char token[TOKEN_LEN + 1];
    char csrf[TOKEN_LEN + 1];
} csession;

typedef struct fixture {
    char *cfg;
    bw_srv *srv;
    char *bearer; /* erin's bearer session: counts her notes without any CSRF rule */
    csession erin, erin2, frank;
    char origin[96]; /* "Origin: https://127.0.0.1:<port>": the Host curl sends, as https */
} fixture;

static int cookie_login(bw_srv *srv, const char *user, csession *s)
{
    return bw_test_cookie_login(srv, user, PW, NULL, s->token, s->csrf);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    *state = f;
    if ((f->srv = bw_test_srv_start_json(CONFIG, &f->cfg)) == NULL ||
        bw_test_origin(f->srv, f->origin, sizeof(f->origin)) != 0)
        return -1;
    if (bw_test_user_add(f->srv, "erin", PW, "editor") != 0 ||
        bw_test_user_add(f->srv, "frank", PW, "editor") != 0 ||
        bw_test_login(f->srv, "erin", PW, &f->bearer, NULL) != 0 ||
        cookie_login(f->srv, "erin", &f->erin) != 0 ||
        cookie_login(f->srv, "erin", &f->erin2) != 0 ||
        cookie_login(f->srv, "frank", &f->frank) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc;

    if (f == NULL)
        return -1;
    rc = bw_test_srv_stop(&f->srv, &f->cfg);
    free(f->bearer);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* A request with the session cookie value given (NULL: s's session token), plus extra. */
static void send_cookie(fixture *f, const csession *s, const char *cookie, const char *method,
                        const char *path, const char *json, const char *const *extra, bw_resp *r)
{
    assert_int_equal(
        bw_http_as_cookie(f->srv, cookie != NULL ? cookie : s->token, method, path, json, extra, r),
        0);
}

static long status_cookie(fixture *f, const csession *s, const char *method, const char *path,
                          const char *json, const char *const *extra)
{
    bw_resp r;
    long st;

    send_cookie(f, s, NULL, method, path, json, extra, &r);
    st = r.status;
    bw_resp_free(&r);
    return st;
}

/* How many notes erin has, read with her bearer token. */
static size_t erin_notes(fixture *f)
{
    bw_resp r;
    json_t *doc;
    size_t n;

    assert_int_equal(bw_http_as(f->srv, f->bearer, "GET", "/v1/notes?limit=100", NULL, NULL, &r),
                     0);
    assert_int_equal(r.status, 200);
    doc = json_loads(r.body, 0, NULL);
    bw_resp_free(&r);
    assert_non_null(doc);
    /* Fewer than a page, so the count is complete. */
    assert_true(json_is_null(json_object_get(doc, "next_after")) ||
                json_object_get(doc, "next_after") == NULL);
    n = json_array_size(json_object_get(doc, "items"));
    json_decref(doc);
    return n;
}

/* True when body contains any token of any test session. */
static bool leaks_secret(const fixture *f, const char *body)
{
    const csession *all[] = {&f->erin, &f->erin2, &f->frank};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strstr(body, all[i]->token) != NULL || strstr(body, all[i]->csrf) != NULL)
            return true;
    }
    return strstr(body, f->bearer) != NULL;
}

static void header_line(char *buf, size_t cap, const char *name, const char *value)
{
    int n = snprintf(buf, cap, "%s: %s", name, value);

    assert_true(n > 0 && (size_t)n < cap);
}

static void test_unsafe_request_matrix(void **state)
{
    fixture *f = *state;
    const unsigned port = (unsigned)bw_srv_port(f->srv);
    char evil[64], lookalike[96], http[64], more_digits[64], no_port[64], slash[96];
    char tok_ok[96], tok_other_session[96], tok_other_user[96], tok_session[96], tok_short[96];
    char cookie_csrf_only[160];
    const char *ok = f->origin;
    const char *same = "Sec-Fetch-Site: same-origin";
    const struct {
        const char *name;
        const char *cookie; /* the session cookie's value; NULL: erin's session token */
        const char *h[4];
        long want;
    } cases[] = {
        {"no Origin, no Sec-Fetch-Site", NULL, {tok_ok}, 403},
        {"no Origin, no Sec-Fetch-Site, no token", NULL, {NULL}, 403},
        {"foreign Origin", NULL, {evil, tok_ok}, 403},
        {"look-alike Origin (our origin + .evil.example)", NULL, {lookalike, tok_ok}, 403},
        {"http:// Origin", NULL, {http, tok_ok}, 403},
        {"Origin with a longer port", NULL, {more_digits, tok_ok}, 403},
        {"Origin without the port", NULL, {no_port, tok_ok}, 403},
        {"Origin with a trailing slash", NULL, {slash, tok_ok}, 403},
        {"Origin: null", NULL, {"Origin: null", tok_ok}, 403},
        {"Sec-Fetch-Site: cross-site", NULL, {"Sec-Fetch-Site: cross-site", tok_ok}, 403},
        {"Sec-Fetch-Site: same-site", NULL, {"Sec-Fetch-Site: same-site", tok_ok}, 403},
        {"Sec-Fetch-Site: none", NULL, {"Sec-Fetch-Site: none", tok_ok}, 403},
        {"our Origin but Sec-Fetch-Site: cross-site",
         NULL,
         {ok, "Sec-Fetch-Site: cross-site", tok_ok},
         403},
        {"foreign Origin but Sec-Fetch-Site: same-origin", NULL, {evil, same, tok_ok}, 403},
        {"our Origin, no token", NULL, {ok}, 403},
        {"our Origin, another session's token", NULL, {ok, tok_other_session}, 403},
        {"our Origin, another user's token", NULL, {ok, tok_other_user}, 403},
        {"our Origin, the session token as CSRF token", NULL, {ok, tok_session}, 403},
        {"our Origin, the token cut short", NULL, {ok, tok_short}, 403},
        {"our Origin, the token only in its cookie", cookie_csrf_only, {ok}, 403},
        {"our Origin and the token", NULL, {ok, tok_ok}, 201},
        {"Sec-Fetch-Site: same-origin and the token", NULL, {same, tok_ok}, 201},
        {"our Origin, Sec-Fetch-Site: same-origin and the token", NULL, {ok, same, tok_ok}, 201},
    };
    size_t count = erin_notes(f);
    int nfail = 0;

    assert_true(snprintf(evil, sizeof(evil), "Origin: https://evil.example") > 0);
    assert_true(snprintf(lookalike, sizeof(lookalike), "Origin: https://127.0.0.1:%u.evil.example",
                         port) > 0);
    assert_true(snprintf(http, sizeof(http), "Origin: http://127.0.0.1:%u", port) > 0);
    assert_true(snprintf(more_digits, sizeof(more_digits), "Origin: https://127.0.0.1:%u0", port) >
                0);
    assert_true(snprintf(no_port, sizeof(no_port), "Origin: https://127.0.0.1") > 0);
    assert_true(snprintf(slash, sizeof(slash), "Origin: https://127.0.0.1:%u/", port) > 0);
    header_line(tok_ok, sizeof(tok_ok), "X-CSRF-Token", f->erin.csrf);
    header_line(tok_other_session, sizeof(tok_other_session), "X-CSRF-Token", f->erin2.csrf);
    header_line(tok_other_user, sizeof(tok_other_user), "X-CSRF-Token", f->frank.csrf);
    header_line(tok_session, sizeof(tok_session), "X-CSRF-Token", f->erin.token);
    assert_true(snprintf(tok_short, sizeof(tok_short), "X-CSRF-Token: %.*s", TOKEN_LEN - 1,
                         f->erin.csrf) > 0);
    /* The value and a second cookie: "Cookie: __Host-bw_session=<token>; __Host-bw_csrf=<csrf>". */
    assert_true(snprintf(cookie_csrf_only, sizeof(cookie_csrf_only), "%s; __Host-bw_csrf=%s",
                         f->erin.token, f->erin.csrf) > 0);
    /* The three sessions are distinct, so are their CSRF tokens. */
    assert_string_not_equal(f->erin.csrf, f->erin2.csrf);
    assert_string_not_equal(f->erin.csrf, f->frank.csrf);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bw_resp r;
        char why[512];
        size_t now;

        send_cookie(f, &f->erin, cases[i].cookie, "POST", "/v1/notes", NOTE, cases[i].h, &r);
        if (r.status != cases[i].want) {
            BW_CASE_FAIL(nfail, "%s: %ld, want %ld (%s)", cases[i].name, r.status, cases[i].want,
                         r.body);
        } else if (cases[i].want == 403) {
            static const long forbidden[] = {403};
            if (!bw_check_refusal(&r, forbidden, 1, why, sizeof(why)))
                BW_CASE_FAIL(nfail, "%s: %s", cases[i].name, why);
            if (leaks_secret(f, r.body))
                BW_CASE_FAIL(nfail, "%s: the 403 body echoes a token: %s", cases[i].name, r.body);
            if (bw_resp_header_count(&r, "Set-Cookie") != 0)
                BW_CASE_FAIL(nfail, "%s: the 403 sets a cookie", cases[i].name);
        }
        bw_resp_free(&r);
        /* A refusal wrote nothing; an acceptance wrote exactly one note. */
        now = erin_notes(f);
        if (now != count + (cases[i].want == 201 ? 1 : 0))
            BW_CASE_FAIL(nfail, "%s: erin has %zu notes, had %zu", cases[i].name, now, count);
        count = now;
    }
    /* Refusals ended no session. */
    assert_int_equal(status_cookie(f, &f->erin, "GET", "/v1/auth/me", NULL, NULL), 200);
    BW_CASES_DONE(nfail);
}

/* PUT, DELETE and the logouts follow the same rule as POST; the state stays as it was. */
static void test_other_unsafe_methods(void **state)
{
    fixture *f = *state;
    char tok_ok[96], path[64];
    const char *no_csrf[] = {f->origin, NULL};
    const char *foreign[] = {"Origin: https://evil.example", tok_ok, NULL};
    const char *good[] = {f->origin, tok_ok, NULL};
    bw_resp r;
    json_t *doc;

    header_line(tok_ok, sizeof(tok_ok), "X-CSRF-Token", f->erin.csrf);
    assert_int_equal(bw_http_as(f->srv, f->bearer, "POST", "/v1/notes",
                                "{\"title\":\"keep\",\"body\":\"original\"}", NULL, &r),
                     0);
    assert_int_equal(r.status, 201);
    doc = json_loads(r.body, 0, NULL);
    bw_resp_free(&r);
    assert_non_null(doc);
    assert_true(snprintf(path, sizeof(path), "/v1/notes/%s",
                         json_string_value(json_object_get(doc, "id"))) > 0);
    json_decref(doc);

    assert_int_equal(
        status_cookie(f, &f->erin, "PUT", path, "{\"title\":\"changed\",\"body\":\"x\"}", no_csrf),
        403);
    assert_int_equal(status_cookie(f, &f->erin, "DELETE", path, NULL, foreign), 403);
    assert_int_equal(bw_http_as(f->srv, f->bearer, "GET", path, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    doc = json_loads(r.body, 0, NULL);
    bw_resp_free(&r);
    assert_string_equal(json_string_value(json_object_get(doc, "title")), "keep");
    assert_string_equal(json_string_value(json_object_get(doc, "body")), "original");
    json_decref(doc);

    /* A forged logout would be a nuisance: refused too, and the sessions live on. */
    assert_int_equal(status_cookie(f, &f->erin2, "POST", "/v1/auth/logout", NULL, NULL), 403);
    assert_int_equal(status_cookie(f, &f->erin2, "POST", "/v1/auth/logout-all", "{}", foreign),
                     403);
    assert_int_equal(status_cookie(f, &f->erin2, "GET", "/v1/auth/me", NULL, NULL), 200);
    assert_int_equal(status_cookie(f, &f->erin, "GET", "/v1/auth/me", NULL, NULL), 200);

    /* Control: with our Origin and the token the same requests go through. */
    assert_int_equal(
        status_cookie(f, &f->erin, "PUT", path, "{\"title\":\"changed\",\"body\":\"x\"}", good),
        200);
    assert_int_equal(status_cookie(f, &f->erin, "DELETE", path, NULL, good), 204);
    assert_int_equal(bw_http_as(f->srv, f->bearer, "GET", path, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 404);
    bw_resp_free(&r);
}

static void test_safe_methods_need_no_token(void **state)
{
    fixture *f = *state;
    bw_resp r;

    send_cookie(f, &f->erin, NULL, "GET", "/v1/notes", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"items\""));
    bw_resp_free(&r);
    assert_int_equal(status_cookie(f, &f->erin, "GET", "/v1/auth/me", NULL, NULL), 200);
    assert_int_equal(status_cookie(f, &f->frank, "GET", "/v1/notes?limit=1", NULL, NULL), 200);
}

static void test_bearer_needs_no_csrf(void **state)
{
    fixture *f = *state;
    char ck[128];
    const char *frank_cookie[] = {ck, NULL};
    size_t before = erin_notes(f);
    bw_resp r;

    assert_int_equal(bw_http_as(f->srv, f->bearer, "POST", "/v1/notes", NOTE, NULL, &r), 0);
    assert_int_equal(r.status, 201);
    bw_resp_free(&r);
    assert_int_equal(erin_notes(f), before + 1);
    /* The bearer token wins over a cookie sent alongside: no CSRF rule, and the note is the
     * bearer's. */
    assert_int_equal(bw_test_session_cookie(ck, sizeof(ck), f->frank.token), 0);
    assert_int_equal(bw_http_as(f->srv, f->bearer, "POST", "/v1/notes", NOTE, frank_cookie, &r), 0);
    assert_int_equal(r.status, 201);
    bw_resp_free(&r);
    assert_int_equal(erin_notes(f), before + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unsafe_request_matrix),
        cmocka_unit_test(test_other_unsafe_methods),
        cmocka_unit_test(test_safe_methods_need_no_token),
        cmocka_unit_test(test_bearer_needs_no_csrf),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
