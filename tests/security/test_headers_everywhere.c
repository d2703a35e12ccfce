/*
 * Every kind of response carries every secure header and nothing that names the server: the
 * framework's own 2xx/4xx, and the 4xx/5xx CivetWeb generates itself for requests it cannot
 * parse. Raw bytes are checked too, so a header curl would hide cannot slip through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness.h"

#define H "Host: 127.0.0.1\r\n"
#define CLOSE "Connection: close\r\n"

typedef struct kind {
    const char *name;
    const char *req;
    size_t req_len; /* 0: strlen(req) */
    bool head;
    long allowed[6]; /* 0-terminated */
} kind;

static const char nul_req[] = "GET /healthz HTTP/1.1\r\n" H CLOSE "X-A: a\0b\r\n\r\n";

static const kind kinds[] = {
    {"200 GET", "GET /healthz HTTP/1.1\r\n" H CLOSE "\r\n", 0, false, {200}},
    {"200 readyz", "GET /readyz HTTP/1.1\r\n" H CLOSE "\r\n", 0, false, {200}},
    {"200 HTTP/1.0", "GET /healthz HTTP/1.0\r\n\r\n", 0, false, {200}},
    {"200 HEAD", "HEAD /healthz HTTP/1.1\r\n" H CLOSE "\r\n", 0, true, {200}},
    {"204 OPTIONS", "OPTIONS /healthz HTTP/1.1\r\n" H CLOSE "\r\n", 0, false, {204}},
    {"400 path", "GET /a//b HTTP/1.1\r\n" H CLOSE "\r\n", 0, false, {400}},
    {"401", "GET /v1/notes HTTP/1.1\r\n" H CLOSE "\r\n", 0, false, {401}},
    {"404", "GET /nope HTTP/1.1\r\n" H CLOSE "\r\n", 0, false, {404}},
    {"405", "DELETE /healthz HTTP/1.1\r\n" H CLOSE "\r\n", 0, false, {405}},
    {"413",
     "POST /v1/notes HTTP/1.1\r\n" H CLOSE "Content-Type: application/json\r\n"
     "Content-Length: 99999999\r\n\r\n",
     0,
     false,
     {413}},
    {"400 framing",
     "POST /v1/notes HTTP/1.1\r\n" H "Content-Length: 1\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     0,
     false,
     {400}},
    /* CivetWeb's own refusals. */
    {"garbage request line", "GARBAGE\r\n\r\n", 0, false, {400, 405, 501}},
    {"no version", "GET /healthz\r\n\r\n", 0, false, {400, 505}},
    {"unknown version", "GET /healthz HTTP/9.9\r\n" H CLOSE "\r\n", 0, false, {400, 505}},
    {"lowercase version", "GET /healthz http/1.1\r\n" H CLOSE "\r\n", 0, false, {400, 505}},
    {"header without colon",
     "GET /healthz HTTP/1.1\r\n" H CLOSE "NoColonHere\r\n\r\n",
     0,
     false,
     {400}},
    {"empty header name", "GET /healthz HTTP/1.1\r\n" H CLOSE ": v\r\n\r\n", 0, false, {400}},
    {"NUL in header", nul_req, sizeof nul_req - 1, false, {400}},
    /* RFC 9112 lets a server accept a bare LF, and turn a bare CR into a space. */
    {"bare LF",
     "GET /healthz HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n\n",
     0,
     false,
     {400, 200}},
    {"bare CR", "GET /healthz HTTP/1.1\r\n" H CLOSE "X-A: a\rb\r\n\r\n", 0, false, {400, 200}},
    {"missing Host", "GET /healthz HTTP/1.1\r\n" CLOSE "\r\n", 0, false, {400}},
    {"two Host",
     "GET /healthz HTTP/1.1\r\n" H "Host: evil.example\r\n" CLOSE "\r\n",
     0,
     false,
     {400}},
    {"space in target", "GET /a b HTTP/1.1\r\n" H CLOSE "\r\n", 0, false, {400, 505}},
    /* CivetWeb 1.15 reports a head over max_request_size as malformed (400);
     * it never reaches a callback that could tell the two apart. */
    {"huge header", NULL, 0, false, {431, 413, 400}},
    {"huge method", NULL, 0, false, {400, 405, 413, 414, 431, 501}},
};

/* Builds the requests that are too big for a literal. */
static char *make_big(const kind *k, size_t *len)
{
    size_t n = 70 * 1024;
    char *fill = malloc(n + 1);
    assert_non_null(fill);
    memset(fill, 'A', n);
    fill[n] = '\0';
    char *req;
    if (strcmp(k->name, "huge header") == 0) {
        size_t hl = n + 16;
        char *hdr = malloc(hl);
        assert_non_null(hdr);
        int w = snprintf(hdr, hl, "X-Big: %s\r\n", fill);
        assert_true(w > 0 && (size_t)w < hl);
        req = bw_build_request("GET", "/healthz", 8, hdr, NULL, 0, len);
        free(hdr);
    } else {
        req = bw_build_request(fill, "/healthz", 8, NULL, NULL, 0, len);
    }
    free(fill);
    assert_non_null(req);
    return req;
}

/* Checks one response kind; returns false with why set on the first problem. */
static bool check_kind(const kind *k, const bw_resp *r, const bw_bytes *raw, char *why, size_t cap)
{
    bool listed = false;
    for (size_t a = 0; a < 6 && k->allowed[a]; a++)
        listed = listed || r->status == k->allowed[a];
    if (!listed) {
        (void)snprintf(why, cap, "status %ld not expected: %.200s", r->status, r->body);
        return false;
    }
    if (!bw_check_secure_headers(r, NULL, why, cap))
        return false;
    if (r->status >= 400 && !bw_check_problem(r, r->status, why, cap))
        return false;
    /* The raw bytes, not just what the parser kept. */
    for (size_t b = 0; b + 8 <= raw->len; b++) {
        if (strncasecmp(raw->data + b, "civetweb", 8) == 0) {
            (void)snprintf(why, cap, "\"civetweb\" in the response bytes");
            return false;
        }
    }
    const char *ver = mg_version();
    if (ver && *ver && memmem(raw->data, raw->len, ver, strlen(ver)) != NULL) {
        (void)snprintf(why, cap, "CivetWeb's version %s in the response bytes", ver);
        return false;
    }
    return true;
}

static void test_every_kind(void **state)
{
    int nfail = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const kind *k = &kinds[i];
        char *big = NULL;
        const char *req = k->req;
        size_t len = k->req_len ? k->req_len : (req ? strlen(req) : 0);
        if (req == NULL)
            req = big = make_big(k, &len);
        bw_resp r;
        bw_bytes raw;
        char why[512];
        if (bw_raw_exchange(*state, req, len, k->head, &r, &raw, NULL) != 0)
            BW_CASE_FAIL(nfail, "%s: no complete response (%zu bytes, %s): %.200s", k->name,
                         raw.len, raw.peer_closed ? "closed by the server" : "timed out",
                         raw.data ? raw.data : "");
        else if (!check_kind(k, &r, &raw, why, sizeof why))
            BW_CASE_FAIL(nfail, "%s: %s", k->name, why);
        bw_resp_free(&r);
        bw_bytes_free(&raw);
        free(big);
    }
    BW_CASES_DONE(nfail);
    assert_true(bw_srv_alive(*state));
}

/* Through libcurl as well: the client a real caller uses sees the same headers. */
static void test_every_kind_via_curl(void **state)
{
    static const struct {
        const char *method, *path;
        long status;
    } cases[] = {
        {"GET", "/healthz", 200},     {"GET", "/readyz", 200}, {"HEAD", "/healthz", 200},
        {"OPTIONS", "/healthz", 204}, {"GET", "/nope", 404},   {"PUT", "/healthz", 405},
        {"GET", "/v1/notes", 401},    {"GET", "/a%2fb", 400},
    };
    int nfail = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bw_resp r;
        assert_int_equal(bw_http(*state, cases[i].method, cases[i].path, NULL, NULL, 0, &r), 0);
        char why[512];
        if (r.status != cases[i].status)
            BW_CASE_FAIL(nfail, "%s %s: %ld, want %ld", cases[i].method, cases[i].path, r.status,
                         cases[i].status);
        else if (!bw_check_secure_headers(&r, NULL, why, sizeof why))
            BW_CASE_FAIL(nfail, "%s %s: %s", cases[i].method, cases[i].path, why);
        bw_resp_free(&r);
    }
    BW_CASES_DONE(nfail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind),
        cmocka_unit_test(test_every_kind_via_curl),
    };
    return cmocka_run_group_tests(tests, bw_suite_setup, bw_suite_teardown);
}
