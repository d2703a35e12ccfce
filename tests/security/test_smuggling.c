/*
 * Request smuggling and ambiguous framing. Each malformed request is followed on the same
 * connection by a pipelined GET /healthz: the server must answer the first with a problem, close
 * the connection, and never answer the smuggled second request. A well-formed pipeline is the
 * control that shows a second response would have been seen.
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

#define POST_HEAD "POST /v1/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
#define SMUGGLED "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

/* Counts the complete responses in raw. */
static size_t count_responses(const bw_bytes *raw)
{
    size_t off = 0, n = 0;
    for (;;) {
        bw_resp r;
        size_t used;
        if (bw_parse_response(raw->data + off, raw->len - off, false, &r, &used) != 0)
            break;
        bw_resp_free(&r);
        off += used;
        n++;
    }
    return n;
}

/* Sends req; expects one refusal with a status in allowed[0..n), the connection closed by the
 * server, and nothing answered after it. Counts a failure in *nfail otherwise. */
static void framing_refused(bw_srv *srv, const char *name, const char *req, const long *allowed,
                            size_t nallowed, int *nfail)
{
    bw_resp r;
    bw_bytes raw;
    size_t used = 0;
    char why[512];
    if (bw_raw_exchange(srv, req, strlen(req), false, &r, &raw, &used) != 0) {
        BW_CASE_FAIL(*nfail, "%s: no response (%zu bytes back)", name, raw.len);
        bw_bytes_free(&raw);
        return;
    }
    if (!bw_check_refusal(&r, allowed, nallowed, why, sizeof why))
        BW_CASE_FAIL(*nfail, "%s: %s", name, why);
    if (!raw.peer_closed)
        BW_CASE_FAIL(*nfail, "%s: connection left open after the response", name);
    if (used != raw.len || memmem(raw.data + used, raw.len - used, "HTTP/1.", 7) != NULL)
        BW_CASE_FAIL(*nfail, "%s: %zu response(s) in all; after the first: %.300s", name,
                     count_responses(&raw), raw.data + used);
    bw_resp_free(&r);
    bw_bytes_free(&raw);
}

static const long only_400[] = {400};
static const long te_refused[] = {400, 501};

static void test_pipeline_control(void **state)
{
    static const char req[] =
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    bw_bytes raw;
    assert_int_equal(bw_raw(*state, req, sizeof req - 1, &raw), 0);
    assert_int_equal(count_responses(&raw), 2);
    assert_true(raw.peer_closed);
    bw_bytes_free(&raw);
}

static void test_content_length_and_transfer_encoding(void **state)
{
    static const char *const reqs[] = {
        POST_HEAD "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
        POST_HEAD "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" SMUGGLED,
        POST_HEAD "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
        /* CL.TE: by Content-Length the body swallows the GET, by chunked it is a request. */
        POST_HEAD "Content-Length: 47\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
    };
    int nfail = 0;
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        char name[32];
        (void)snprintf(name, sizeof name, "CL+TE #%zu", i);
        framing_refused(*state, name, reqs[i], only_400, 1, &nfail);
    }
    BW_CASES_DONE(nfail);
    assert_true(bw_srv_alive(*state));
}

static void test_duplicate_content_length(void **state)
{
    static const char *const reqs[] = {
        POST_HEAD "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}" SMUGGLED,
        POST_HEAD "Content-Length: 2\r\nContent-Length: 45\r\n\r\n{}" SMUGGLED,
        POST_HEAD "Content-Length: 45\r\nContent-Length: 2\r\n\r\n{}" SMUGGLED,
    };
    int nfail = 0;
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        char name[32];
        (void)snprintf(name, sizeof name, "two Content-Length #%zu", i);
        framing_refused(*state, name, reqs[i], only_400, 1, &nfail);
    }
    BW_CASES_DONE(nfail);
    assert_true(bw_srv_alive(*state));
}

static void test_transfer_encoding_not_chunked(void **state)
{
    static const char *const codings[] = {"gzip",       "gzip, chunked",     "identity",
                                          "xchunked",   "chunked, identity", "chunked;x=1",
                                          "\"chunked\""};
    int nfail = 0;
    for (size_t i = 0; i < sizeof codings / sizeof codings[0]; i++) {
        char req[512];
        int n = snprintf(req, sizeof req,
                         POST_HEAD "Transfer-Encoding: %s\r\n\r\n2\r\n{}\r\n0\r\n\r\n" SMUGGLED,
                         codings[i]);
        assert_true(n > 0 && (size_t)n < sizeof req);
        char name[64];
        (void)snprintf(name, sizeof name, "Transfer-Encoding: %s", codings[i]);
        framing_refused(*state, name, req, te_refused, 2, &nfail);
    }
    BW_CASES_DONE(nfail);
    assert_true(bw_srv_alive(*state));
}

static void test_content_length_not_decimal(void **state)
{
    static const char *const values[] = {"+5", "5, 5",  "-1",  "0x5", "5 5",     "5a", "1e1",
                                         "",   "\"5\"", "5.0", " ",   "\xd9\xa5" /* Arabic 5 */};
    int nfail = 0;
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char req[512];
        int n = snprintf(req, sizeof req, POST_HEAD "Content-Length: %s\r\n\r\nhello" SMUGGLED,
                         values[i]);
        assert_true(n > 0 && (size_t)n < sizeof req);
        char name[64];
        (void)snprintf(name, sizeof name, "Content-Length: \"%s\"", values[i]);
        framing_refused(*state, name, req, only_400, 1, &nfail);
    }
    /* Too large to represent: refused as malformed or as too big, never wrapped around. */
    static const long huge_ok[] = {400, 413};
    framing_refused(*state, "Content-Length overflow",
                    POST_HEAD "Content-Length: 18446744073709551621\r\n\r\nhello" SMUGGLED, huge_ok,
                    2, &nfail);
    BW_CASES_DONE(nfail);
    assert_true(bw_srv_alive(*state));
}

/* Whitespace before the colon and obsolete line folding can make a framing header invisible to
 * one parser and visible to another (RFC 9112 5.1 and 5.2: reject with 400). */
static void test_framing_header_obfuscation(void **state)
{
    static const char *const reqs[] = {
        POST_HEAD "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
        POST_HEAD "Content-Length : 5\r\n\r\nhello" SMUGGLED,
        POST_HEAD "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
        POST_HEAD "Content-Length: 2\r\n Content-Length: 45\r\n\r\n{}" SMUGGLED,
    };
    int nfail = 0;
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        char name[48];
        (void)snprintf(name, sizeof name, "obfuscated framing header #%zu", i);
        framing_refused(*state, name, reqs[i], only_400, 1, &nfail);
    }
    BW_CASES_DONE(nfail);
    assert_true(bw_srv_alive(*state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_control),
        cmocka_unit_test(test_content_length_and_transfer_encoding),
        cmocka_unit_test(test_duplicate_content_length),
        cmocka_unit_test(test_transfer_encoding_not_chunked),
        cmocka_unit_test(test_content_length_not_decimal),
        cmocka_unit_test(test_framing_header_obfuscation),
    };
    return cmocka_run_group_tests(tests, bw_suite_setup, bw_suite_teardown);
}
