/*
 * CVE-2025-55763: CivetWeb 1.14-1.16 overflows a heap buffer when it redirects a request for a
 * directory without a trailing slash, appending "/" and the query string to a long URI. Bulwark
 * never serves files (no document_root), so requests shaped like the published trigger - long,
 * directory-like paths without a trailing slash, with and without long query strings, with
 * percent-encoded bytes, runs of slashes, names of directories that exist - must get a 404 or
 * 400 problem, never a redirect, and the server must stay up. Run under the sanitize build this
 * also catches a silent heap corruption on the server side.
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

#define REPEAT 20 /* each shape several times: heap damage does not always crash at once */

typedef struct grow {
    char *p;
    size_t len;
    size_t cap;
} grow;

static void put(grow *g, const char *s, size_t n)
{
    if (g->len + n + 1 > g->cap) {
        size_t cap = (g->len + n + 1) * 2;
        char *p = realloc(g->p, cap);
        assert_non_null(p);
        g->p = p;
        g->cap = cap;
    }
    memcpy(g->p + g->len, s, n);
    g->len += n;
    g->p[g->len] = '\0';
}

static void put_rep(grow *g, const char *s, size_t times)
{
    for (size_t i = 0; i < times; i++)
        put(g, s, strlen(s));
}

/* The request targets, each built fresh. */
static void build_shape(size_t shape, grow *g)
{
    g->len = 0;
    switch (shape) {
    case 0: /* a deep directory-like path, no trailing slash */
        put_rep(g, "/dir", 750);
        break;
    case 1: /* the same with a long query string, which the redirect appends */
        put_rep(g, "/dir", 750);
        put(g, "?", 1);
        put_rep(g, "q", 3000);
        break;
    case 2: /* percent-encoded bytes, expanded in place by the decoder */
        put_rep(g, "/%41%42%43", 300);
        put(g, "?x=", 3);
        put_rep(g, "%41", 1000);
        break;
    case 3: /* the published crash input: a run of slashes */
        put_rep(g, "/", 3000);
        break;
    case 4: /* slashes plus a long query */
        put_rep(g, "/", 2500);
        put(g, "?", 1);
        put_rep(g, "a", 2500);
        break;
    case 5: /* directories that exist next to the server, no trailing slash */
        put(g, "/tests", 6);
        break;
    case 6:
        put(g, "/tmp?", 5);
        put_rep(g, "z", 3000);
        break;
    case 7: /* encoded slashes between directory names */
        put(g, "/usr", 4);
        put_rep(g, "%2fshare", 400);
        break;
    default: /* a single long segment, then a query near its limit */
        put(g, "/", 1);
        put_rep(g, "d", 3500);
        put(g, "?", 1);
        put_rep(g, "k=v&", 8);
        break;
    }
}

#define SHAPES 9

/* One request of the given shape; returns false with why set unless it is refused with a 404 or
 * 400 problem (a HEAD: the secure headers only) and no redirect. */
static bool shape_refused(bw_srv *srv, const char *method, const grow *g, char *why, size_t cap)
{
    static const long allowed[] = {404, 400};
    bool head = strcmp(method, "HEAD") == 0;
    size_t len;
    char *req = bw_build_request(method, g->p, g->len,
                                 strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : NULL, NULL,
                                 0, &len);
    assert_non_null(req);
    bw_resp r;
    bw_bytes raw;
    bool ok = false;
    if (bw_raw_exchange(srv, req, len, head, &r, &raw, NULL) != 0)
        (void)snprintf(why, cap, "no response (%zu bytes back)", raw.len);
    else if (bw_resp_header(&r, "Location") != NULL)
        (void)snprintf(why, cap, "%ld redirect to %.100s", r.status,
                       bw_resp_header(&r, "Location"));
    else if (head && r.status != 404 && r.status != 400)
        (void)snprintf(why, cap, "status %ld, want 404 or 400", r.status);
    else if (head)
        ok = bw_check_secure_headers(&r, NULL, why, cap);
    else
        ok = bw_check_refusal(&r, allowed, 2, why, cap);
    bw_resp_free(&r);
    bw_bytes_free(&raw);
    free(req);
    return ok;
}

static void test_directory_redirect_shapes(void **state)
{
    grow g = {0};
    int nfail = 0;
    for (size_t shape = 0; shape < SHAPES; shape++) {
        build_shape(shape, &g);
        for (int rep = 0; rep < REPEAT; rep++) {
            char why[512];
            if (!shape_refused(*state, "GET", &g, why, sizeof why)) {
                BW_CASE_FAIL(nfail, "GET shape %zu (%zu bytes): %s", shape, g.len, why);
                break;
            }
        }
        if (!bw_srv_alive(*state))
            fail_msg("server down after shape %zu", shape);
    }
    free(g.p);
    BW_CASES_DONE(nfail);
}

/* The same shapes with other methods: they reach the same request handling. */
static void test_other_methods(void **state)
{
    static const char *const methods[] = {"HEAD", "POST", "OPTIONS"};
    grow g = {0};
    int nfail = 0;
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
        for (size_t shape = 0; shape < SHAPES; shape++) {
            build_shape(shape, &g);
            char why[512];
            if (!shape_refused(*state, methods[m], &g, why, sizeof why))
                BW_CASE_FAIL(nfail, "%s shape %zu (%zu bytes): %s", methods[m], shape, g.len, why);
        }
    }
    free(g.p);
    BW_CASES_DONE(nfail);
    assert_true(bw_srv_alive(*state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_directory_redirect_shapes),
        cmocka_unit_test(test_other_methods),
    };
    return cmocka_run_group_tests(tests, bw_suite_setup, bw_suite_teardown);
}
