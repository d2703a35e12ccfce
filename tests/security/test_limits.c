/*
 * Size limits: request bodies over max_body_bytes (1 MiB by default) are refused with 413 before
 * authentication, whether the body is sent or only announced; too many headers and one huge
 * header are refused with a problem. Each control just under a limit still goes through, and
 * the server stays up after every refusal.
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

#define MAX_BODY (1024u * 1024u)

static const char *const json_ct[] = {"Content-Type: application/json", NULL};

/* A JSON document of exactly len bytes: {"t":"xxx..."}. */
static char *json_of_len(size_t len)
{
    assert_true(len >= 8);
    char *b = malloc(len);
    assert_non_null(b);
    memcpy(b, "{\"t\":\"", 6);
    memset(b + 6, 'x', len - 8);
    memcpy(b + len - 2, "\"}", 2);
    return b;
}

static void test_body_over_limit_413(void **state)
{
    char *body = json_of_len(MAX_BODY + 1);
    bw_resp r;
    assert_int_equal(bw_http(*state, "POST", "/v1/notes", json_ct, body, MAX_BODY + 1, &r), 0);
    BW_ASSERT_REFUSED(&r, 413);
    bw_resp_free(&r);

    /* The same with curl waiting for 100-continue: the refusal comes before the body. */
    const char *const expect[] = {"Content-Type: application/json", "Expect: 100-continue", NULL};
    assert_int_equal(bw_http(*state, "POST", "/v1/notes", expect, body, MAX_BODY + 1, &r), 0);
    BW_ASSERT_REFUSED(&r, 413);
    bw_resp_free(&r);
    free(body);
    assert_true(bw_srv_alive(*state));
}

/* Control: a small body gets past the size and content-type checks to authentication. (The
 * app may set a tighter per-route limit than max_body_bytes, so the control stays well under.) */
static void test_small_body_passes_size_check(void **state)
{
    char *body = json_of_len(1024);
    bw_resp r;
    assert_int_equal(bw_http(*state, "POST", "/v1/notes", json_ct, body, 1024, &r), 0);
    if (r.status != 401)
        fail_msg("a 1 KiB body: %ld, want 401 (size ok, then authentication)", r.status);
    BW_ASSERT_PROBLEM(&r, 401);
    bw_resp_free(&r);
    free(body);
}

/* Only the headers are sent: the announced length alone must be enough to refuse. */
static void test_announced_length_over_limit_413(void **state)
{
    static const char *const lengths[] = {"1048577", "10737418240", "9223372036854775807"};
    static const long want[] = {413};
    int nfail = 0;
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        char hdrs[128];
        int n = snprintf(hdrs, sizeof hdrs,
                         "Content-Type: application/json\r\nContent-Length: %s\r\n", lengths[i]);
        assert_true(n > 0 && (size_t)n < sizeof hdrs);
        size_t len;
        char *req = bw_build_request("POST", "/v1/notes", 9, hdrs, NULL, 0, &len);
        assert_non_null(req);
        bw_resp r;
        bw_bytes raw;
        char why[512];
        if (bw_raw_exchange(*state, req, len, false, &r, &raw, NULL) != 0)
            BW_CASE_FAIL(nfail, "Content-Length %s without a body: no response", lengths[i]);
        else if (!bw_check_refusal(&r, want, 1, why, sizeof why))
            BW_CASE_FAIL(nfail, "Content-Length %s: %s", lengths[i], why);
        bw_resp_free(&r);
        bw_bytes_free(&raw);
        free(req);
    }
    BW_CASES_DONE(nfail);
    assert_true(bw_srv_alive(*state));
}

/* count headers "X-Filler-N: v" as one string of raw header lines. */
static char *filler_headers(size_t count, size_t value_len)
{
    size_t cap = count * (value_len + 32) + 1;
    char *h = malloc(cap);
    assert_non_null(h);
    size_t len = 0;
    for (size_t i = 0; i < count; i++) {
        int n = snprintf(h + len, cap - len, "X-Filler-%zu: ", i);
        assert_true(n > 0 && (size_t)n < cap - len);
        len += (size_t)n;
        memset(h + len, 'v', value_len);
        len += value_len;
        memcpy(h + len, "\r\n", 2);
        len += 2;
    }
    h[len] = '\0';
    return h;
}

/* GET /healthz with the extra header lines; expects one of allowed[0..n) (200 means a control
 * that must simply succeed). Counts a failure in *nfail otherwise. */
static void header_case(bw_srv *srv, const char *name, const char *hdrs, const long *allowed,
                        size_t n, int *nfail)
{
    size_t len;
    char *req = bw_build_request("GET", "/healthz", 8, hdrs, NULL, 0, &len);
    assert_non_null(req);
    bw_resp r;
    bw_bytes raw;
    char why[512];
    if (bw_raw_exchange(srv, req, len, false, &r, &raw, NULL) != 0)
        BW_CASE_FAIL(*nfail, "%s: no response (%zu bytes back)", name, raw.len);
    else if (allowed[0] == 200 && r.status != 200)
        BW_CASE_FAIL(*nfail, "%s: %ld, want 200", name, r.status);
    else if (allowed[0] != 200 && !bw_check_refusal(&r, allowed, n, why, sizeof why))
        BW_CASE_FAIL(*nfail, "%s: %s", name, why);
    bw_resp_free(&r);
    bw_bytes_free(&raw);
    free(req);
}

static const long ok_200[] = {200};

static void test_header_count(void **state)
{
    static const long too_many[] = {431, 400};
    int nfail = 0;
    char *hdrs = filler_headers(20, 16);
    header_case(*state, "20 headers (control)", hdrs, ok_200, 1, &nfail);
    free(hdrs);
    hdrs = filler_headers(200, 8);
    header_case(*state, "200 headers", hdrs, too_many, 2, &nfail);
    free(hdrs);
    BW_CASES_DONE(nfail);
    assert_true(bw_srv_alive(*state));
}

static void test_header_size(void **state)
{
    /* CivetWeb 1.15 reports a head over max_request_size as a malformed
     * message (400): see docs/architecture.md. */
    static const long too_big[] = {431, 413, 400};
    static const long block_too_big[] = {431, 413, 400};
    int nfail = 0;
    char *hdrs = filler_headers(1, 1024);
    header_case(*state, "one 1 KB header (control)", hdrs, ok_200, 1, &nfail);
    free(hdrs);
    hdrs = filler_headers(1, 64 * 1024);
    header_case(*state, "one 64 KB header", hdrs, too_big, 3, &nfail);
    free(hdrs);
    /* Many medium headers adding up to far more than any sane header block. */
    hdrs = filler_headers(40, 4000);
    header_case(*state, "40 headers of 4 KB", hdrs, block_too_big, 3, &nfail);
    free(hdrs);
    BW_CASES_DONE(nfail);
    assert_true(bw_srv_alive(*state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_over_limit_413),
        cmocka_unit_test(test_small_body_passes_size_check),
        cmocka_unit_test(test_announced_length_over_limit_413),
        cmocka_unit_test(test_header_count),
        cmocka_unit_test(test_header_size),
    };
    return cmocka_run_group_tests(tests, bw_suite_setup, bw_suite_teardown);
}
