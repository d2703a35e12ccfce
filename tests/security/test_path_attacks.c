/*
 * Path and query canonicalisation attacks, sent as exact bytes over a raw socket: traversal
 * (plain, encoded, overlong UTF-8), encoded separators, NUL and CR LF, empty segments, invalid
 * escapes and UTF-8, oversized paths and queries. Every one is refused with a problem, nothing
 * is ever served from the file system, and the server stays up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* GETs target (exact bytes) and parses the response. Returns false with why set when there is
 * no response or it serves file content. */
static bool get_target(bw_srv *srv, const char *target, size_t tlen, bw_resp *r, char *why,
                       size_t cap)
{
    size_t len;
    char *req = bw_build_request("GET", target, tlen, NULL, NULL, 0, &len);
    assert_non_null(req);
    bw_bytes raw;
    bool ok = bw_raw_exchange(srv, req, len, false, r, &raw, NULL) == 0;
    if (!ok)
        (void)snprintf(why, cap, "no response (%zu bytes back, %s)", raw.len,
                       raw.peer_closed ? "closed by the server" : "timed out");
    /* Whatever the status, no file content and no directory listing. */
    if (ok && (strstr(raw.data, "root:") != NULL || strstr(raw.data, "Index of") != NULL)) {
        (void)snprintf(why, cap, "file system content in the response");
        bw_resp_free(r);
        ok = false;
    }
    bw_bytes_free(&raw);
    free(req);
    return ok;
}

/* GETs each target and expects a refusal with one of allowed[0..n). */
static void expect_refused(bw_srv *srv, const char *const *targets, size_t count,
                           const long *allowed, size_t n)
{
    int nfail = 0;
    for (size_t i = 0; i < count; i++) {
        char why[512];
        bw_resp r;
        if (!get_target(srv, targets[i], strlen(targets[i]), &r, why, sizeof why)) {
            BW_CASE_FAIL(nfail, "GET %s: %s", targets[i], why);
            continue;
        }
        if (!bw_check_refusal(&r, allowed, n, why, sizeof why))
            BW_CASE_FAIL(nfail, "GET %s: %s", targets[i], why);
        bw_resp_free(&r);
    }
    BW_CASES_DONE(nfail);
}

/* One target that must be answered; fails the test otherwise. */
static void get_one(bw_srv *srv, const char *target, size_t tlen, bw_resp *r)
{
    char why[512];
    if (!get_target(srv, target, tlen, r, why, sizeof why))
        fail_msg("GET %.80s (%zu bytes): %s", target, tlen, why);
}

static const long only_400[] = {400};
static const long any_4xx[] = {400, 401, 403, 404, 405, 406, 408,
                               411, 413, 414, 415, 421, 422, 431};

static void test_refused_paths(void **state)
{
    static const char *const targets[] = {
        /* from the contract */
        "/../etc/passwd", "/healthz/..", "/%2e%2e/x", "/a/%2E./b", "/a%2fb", "/a%5cb", "/a\\b",
        "/a%00b", "/a%0d%0ab", "/a//b", "/%C0%AE%C0%AE/", "/%ff", "/%e2%82", "/%zz", "/healthz/",
        /* more of the same families */
        "/..", "/.", "/./healthz", "/healthz/.", "/a/./b", "/v1/notes/..", "/v1/notes/../healthz",
        "/v1/notes/%2e%2e", "/v1/notes/..%2f..%2fhealthz", "/%2e%2e%2fetc%2fpasswd",
        "/..%5c..%5cwindows", "/healthz%2f", "/%c0%af", "/%e0%80%af", "/%", "/%2", "/a%2", "/%00",
        "/healthz%00", "/healthz%0a", "/a%0db", "//healthz", "/healthz//", "/a/../../b",
        "/%ed%a0%80",       /* a UTF-16 surrogate encoded in UTF-8 */
        "/%f8%88%80%80%80", /* a five-byte sequence */
    };
    expect_refused(*state, targets, sizeof targets / sizeof targets[0], only_400, 1);
    assert_true(bw_srv_alive(*state));
}

/* Relative and absolute-form targets that are not origin-form. */
static void test_refused_target_forms(void **state)
{
    static const char *const targets[] = {"healthz", "../healthz", "\\healthz"};
    expect_refused(*state, targets, sizeof targets / sizeof targets[0], any_4xx,
                   sizeof any_4xx / sizeof any_4xx[0]);
    assert_true(bw_srv_alive(*state));
}

/* The asterisk form and an absolute form naming another host never reach a
 * CivetWeb 1.15 callback: CivetWeb closes the connection without an answer
 * (docs/architecture.md). What must hold: nothing is served, the connection
 * ends, and the server stays up. */
static void test_unreachable_target_forms(void **state)
{
    static const char *const reqs[] = {
        "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET http://elsewhere.example/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    int nfail = 0;
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        bw_bytes raw;
        if (bw_raw(*state, reqs[i], strlen(reqs[i]), &raw) != 0) {
            BW_CASE_FAIL(nfail, "case %zu: could not send", i);
            continue;
        }
        bool answered_4xx = raw.len > 12 && strncmp(raw.data, "HTTP/1.1 4", 10) == 0;
        if (!(raw.peer_closed && (raw.len == 0 || answered_4xx)))
            BW_CASE_FAIL(nfail, "case %zu: %zu bytes back, %s", i, raw.len,
                         raw.peer_closed ? "closed" : "left open");
        bw_bytes_free(&raw);
    }
    BW_CASES_DONE(nfail);
    assert_true(bw_srv_alive(*state));
}

static void test_path_of_100k(void **state)
{
    size_t n = 100 * 1024;
    char *target = malloc(n);
    assert_non_null(target);
    target[0] = '/';
    memset(target + 1, 'a', n - 1);
    bw_resp r;
    get_one(*state, target, n, &r);
    char why[512];
    if (!bw_check_refusal(&r, any_4xx, sizeof any_4xx / sizeof any_4xx[0], why, sizeof why))
        fail_msg("100 KB path: %s", why);
    bw_resp_free(&r);
    free(target);
    assert_true(bw_srv_alive(*state));
}

/* "/a" repeated segs times into buf. */
static size_t segments(char *buf, size_t cap, size_t segs)
{
    assert_true(segs * 2 < cap);
    for (size_t i = 0; i < segs; i++)
        memcpy(buf + 2 * i, "/a", 2);
    return segs * 2;
}

static void test_segment_limit(void **state)
{
    char target[256];
    bw_resp r;
    size_t len = segments(target, sizeof target, 32); /* at the limit: routed, unknown */
    get_one(*state, target, len, &r);
    assert_int_equal(r.status, 404);
    BW_ASSERT_PROBLEM(&r, 404);
    bw_resp_free(&r);

    len = segments(target, sizeof target, 33);
    get_one(*state, target, len, &r);
    BW_ASSERT_REFUSED(&r, 400);
    bw_resp_free(&r);

    len = segments(target, sizeof target, 100);
    get_one(*state, target, len, &r);
    BW_ASSERT_REFUSED(&r, 400);
    bw_resp_free(&r);
}

/* path + "?" + params "pN=N" joined by '&'. */
static size_t query_params(char *buf, size_t cap, const char *path, size_t params)
{
    int n = snprintf(buf, cap, "%s?", path);
    assert_true(n > 0 && (size_t)n < cap);
    size_t len = (size_t)n;
    for (size_t i = 0; i < params; i++) {
        n = snprintf(buf + len, cap - len, "%sp%zu=%zu", i ? "&" : "", i, i);
        assert_true(n > 0 && (size_t)n < cap - len);
        len += (size_t)n;
    }
    return len;
}

static void test_query_param_limit(void **state)
{
    char target[1024];
    bw_resp r;
    size_t len = query_params(target, sizeof target, "/nope", 32);
    get_one(*state, target, len, &r);
    assert_int_equal(r.status, 404); /* 32 params pass the limit and reach routing */
    bw_resp_free(&r);

    static const char *const paths[] = {"/nope", "/healthz", "/v1/notes"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        len = query_params(target, sizeof target, paths[i], 33);
        get_one(*state, target, len, &r);
        char why[512];
        if (!bw_check_refusal(&r, only_400, 1, why, sizeof why))
            fail_msg("33 query params on %s: %s", paths[i], why);
        bw_resp_free(&r);
    }
    /* Empty parameters count too: "&&&..." is not a way around the limit. */
    memcpy(target, "/nope?", 6);
    len = 6;
    for (size_t i = 0; i < 40; i++) {
        memcpy(target + len, "a&", 2);
        len += 2;
    }
    get_one(*state, target, len, &r);
    BW_ASSERT_REFUSED(&r, 400);
    bw_resp_free(&r);
}

static void test_query_length_limit(void **state)
{
    char *target = malloc(8192);
    assert_non_null(target);
    memcpy(target, "/nope?q=", 8);
    memset(target + 8, 'x', 4000 - 2); /* a 4000-byte query: under the limit */
    bw_resp r;
    get_one(*state, target, 6 + 4000, &r);
    assert_int_equal(r.status, 404);
    bw_resp_free(&r);

    memset(target + 8, 'x', 4097 - 2); /* 4097 bytes */
    get_one(*state, target, 6 + 4097, &r);
    BW_ASSERT_REFUSED(&r, 400);
    bw_resp_free(&r);

    memcpy(target, "/healthz?q=", 11);
    memset(target + 11, 'y', 6000);
    get_one(*state, target, 11 + 6000, &r);
    BW_ASSERT_REFUSED(&r, 400);
    bw_resp_free(&r);
    free(target);
    assert_true(bw_srv_alive(*state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_paths),
        cmocka_unit_test(test_refused_target_forms),
        cmocka_unit_test(test_unreachable_target_forms),
        cmocka_unit_test(test_path_of_100k),
        cmocka_unit_test(test_segment_limit),
        cmocka_unit_test(test_query_param_limit),
        cmocka_unit_test(test_query_length_limit),
    };
    return cmocka_run_group_tests(tests, bw_suite_setup, bw_suite_teardown);
}
