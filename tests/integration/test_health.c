/*
 * Health routes, routing errors (404, 405 with Allow), HEAD and OPTIONS, request ids, the
 * problem+json shape, and the notes routes refusing anonymous callers (401).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define HEALTH_ALLOW "GET, HEAD, OPTIONS"

/* Asserts the body is JSON equal to the expected document. */
static void assert_json_body(const bw_resp *r, const char *expected)
{
    json_t *want = json_loads(expected, 0, NULL);
    json_t *got = json_loadb(r->body, r->body_len, 0, NULL);
    assert_non_null(want);
    if (got == NULL || !json_equal(want, got))
        fail_msg("body %.200s, want %s", r->body, expected);
    json_decref(want);
    json_decref(got);
}

static void assert_content_length_matches(const bw_resp *r)
{
    const char *cl = bw_resp_header(r, "Content-Length");
    assert_non_null(cl);
    assert_int_equal(strtoull(cl, NULL, 10), r->body_len);
}

static void test_healthz_ok(void **state)
{
    bw_resp r;
    assert_int_equal(bw_http(*state, "GET", "/healthz", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    const char *ct = bw_resp_header(&r, "Content-Type");
    assert_non_null(ct);
    assert_int_equal(strncmp(ct, "application/json", 16), 0);
    assert_json_body(&r, "{\"status\":\"ok\"}");
    assert_content_length_matches(&r);
    BW_ASSERT_SECURE_HEADERS(&r, NULL);
    bw_resp_free(&r);
}

static void test_readyz_ready(void **state)
{
    bw_resp r;
    assert_int_equal(bw_http(*state, "GET", "/readyz", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    const char *ct = bw_resp_header(&r, "Content-Type");
    assert_non_null(ct);
    assert_int_equal(strncmp(ct, "application/json", 16), 0);
    assert_json_body(&r, "{\"status\":\"ready\"}");
    assert_content_length_matches(&r);
    BW_ASSERT_SECURE_HEADERS(&r, NULL);
    bw_resp_free(&r);
}

static void test_unknown_path_404(void **state)
{
    static const char *const paths[] = {"/nope",    "/v1",           "/v1/notesx", "/healthzz",
                                        "/HEALTHZ", "/v1/notes/1/2", "/v2/notes"};
    static const long want[] = {404};
    int nfail = 0;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        bw_resp r;
        char why[512];
        assert_int_equal(bw_http(*state, "GET", paths[i], NULL, NULL, 0, &r), 0);
        if (!bw_check_refusal(&r, want, 1, why, sizeof why))
            BW_CASE_FAIL(nfail, "GET %s: %s", paths[i], why);
        bw_resp_free(&r);
    }
    BW_CASES_DONE(nfail);
}

static void test_healthz_wrong_method_405(void **state)
{
    static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH"};
    static const long want[] = {405};
    int nfail = 0;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        bw_resp r;
        char why[512];
        assert_int_equal(bw_http(*state, methods[i], "/healthz", NULL, NULL, 0, &r), 0);
        const char *allow = bw_resp_header(&r, "Allow");
        if (!bw_check_refusal(&r, want, 1, why, sizeof why))
            BW_CASE_FAIL(nfail, "%s /healthz: %s", methods[i], why);
        else if (bw_resp_header_count(&r, "Allow") != 1 || strcmp(allow, HEALTH_ALLOW) != 0)
            BW_CASE_FAIL(nfail, "%s /healthz: Allow \"%s\" (%zu), want \"%s\"", methods[i],
                         allow ? allow : "(none)", bw_resp_header_count(&r, "Allow"), HEALTH_ALLOW);
        bw_resp_free(&r);
    }
    BW_CASES_DONE(nfail);
}

static void test_notes_wrong_method_405(void **state)
{
    static const struct {
        const char *method, *path;
        const char *const allowed[3];
    } cases[] = {
        {"PATCH", "/v1/notes", {"GET", "POST", NULL}},
        {"DELETE", "/v1/notes", {"GET", "POST", NULL}},
        {"PATCH", "/v1/notes/42", {"GET", "PUT", "DELETE"}},
        {"POST", "/v1/notes/42", {"GET", "PUT", "DELETE"}},
    };
    static const long want[] = {405}; /* route and method come before authentication */
    int nfail = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bw_resp r;
        char why[512];
        assert_int_equal(bw_http(*state, cases[i].method, cases[i].path, NULL, NULL, 0, &r), 0);
        const char *allow = bw_resp_header(&r, "Allow");
        if (!bw_check_refusal(&r, want, 1, why, sizeof why)) {
            BW_CASE_FAIL(nfail, "%s %s: %s", cases[i].method, cases[i].path, why);
        } else if (allow == NULL || bw_list_has(allow, cases[i].method)) {
            BW_CASE_FAIL(nfail, "%s %s: Allow \"%s\"", cases[i].method, cases[i].path,
                         allow ? allow : "(none)");
        } else {
            for (size_t k = 0; k < 3 && cases[i].allowed[k]; k++) {
                if (!bw_list_has(allow, cases[i].allowed[k]))
                    BW_CASE_FAIL(nfail, "%s %s: Allow \"%s\" lacks %s", cases[i].method,
                                 cases[i].path, allow, cases[i].allowed[k]);
            }
        }
        bw_resp_free(&r);
    }
    BW_CASES_DONE(nfail);
}

static void test_head_healthz(void **state)
{
    bw_resp get;
    assert_int_equal(bw_http(*state, "GET", "/healthz", NULL, NULL, 0, &get), 0);
    assert_int_equal(get.status, 200);
    const char *get_cl = bw_resp_header(&get, "Content-Length");
    assert_non_null(get_cl);

    size_t len;
    char *req = bw_build_request("HEAD", "/healthz", 8, NULL, NULL, 0, &len);
    assert_non_null(req);
    bw_resp r;
    bw_bytes raw;
    size_t used = 0;
    assert_int_equal(bw_raw_exchange(*state, req, len, true, &r, &raw, &used), 0);
    assert_int_equal(r.status, 200);
    BW_ASSERT_SECURE_HEADERS(&r, NULL);
    assert_non_null(bw_resp_header(&r, "Content-Length"));
    assert_string_equal(bw_resp_header(&r, "Content-Length"), get_cl);
    assert_int_equal(used, raw.len); /* not one body byte after the headers */
    bw_resp_free(&r);
    bw_bytes_free(&raw);
    bw_resp_free(&get);
    free(req);
}

static void test_options_healthz(void **state)
{
    size_t len;
    char *req = bw_build_request("OPTIONS", "/healthz", 8, NULL, NULL, 0, &len);
    assert_non_null(req);
    bw_resp r;
    bw_bytes raw;
    size_t used = 0;
    assert_int_equal(bw_raw_exchange(*state, req, len, false, &r, &raw, &used), 0);
    assert_int_equal(r.status, 204);
    BW_ASSERT_SECURE_HEADERS(&r, NULL);
    assert_int_equal(bw_resp_header_count(&r, "Allow"), 1);
    assert_string_equal(bw_resp_header(&r, "Allow"), HEALTH_ALLOW);
    assert_int_equal(used, raw.len); /* no body */
    bw_resp_free(&r);
    bw_bytes_free(&raw);
    free(req);
}

static void test_request_id_fresh_and_unique(void **state)
{
    char first[80] = "";
    for (int i = 0; i < 2; i++) {
        bw_resp r;
        assert_int_equal(bw_http(*state, "GET", i == 0 ? "/healthz" : "/nope", NULL, NULL, 0, &r),
                         0);
        const char *id = bw_resp_header(&r, "X-Request-Id");
        assert_non_null(id);
        assert_true(bw_is_fresh_request_id(id));
        if (i == 0)
            memcpy(first, id, strlen(id) + 1);
        else
            assert_string_not_equal(first, id);
        bw_resp_free(&r);
    }
}

static void test_request_id_echoed_when_valid(void **state)
{
    static const char *const ids[] = {
        "abcdefABCDEF0123", /* 16, the shortest accepted */
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF", /* 64 */
        "trace-4f1c-9a2b-77d0-e5",
        "----------------",
    };
    int nfail = 0;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char hdr[128];
        int n = snprintf(hdr, sizeof hdr, "X-Request-Id: %s", ids[i]);
        assert_true(n > 0 && (size_t)n < sizeof hdr);
        const char *const headers[] = {hdr, NULL};
        for (int k = 0; k < 2; k++) {
            bw_resp r;
            char why[512];
            assert_int_equal(
                bw_http(*state, "GET", k == 0 ? "/healthz" : "/nope", headers, NULL, 0, &r), 0);
            if (!bw_check_secure_headers(&r, ids[i], why, sizeof why) ||
                (k == 1 && !bw_check_problem(&r, 404, why, sizeof why))) /* body's id too */
                BW_CASE_FAIL(nfail, "id \"%s\" on %s: %s", ids[i], k ? "404" : "200", why);
            bw_resp_free(&r);
        }
    }
    BW_CASES_DONE(nfail);
}

static void test_request_id_replaced_when_invalid(void **state)
{
    static const char *const ids[] = {
        "abcdefABCDEF012",                                                   /* 15: too short */
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEFa", /* 65 */
        "abcdef_0123456789",
        "abcdef.0123456789",
        "abcdef 0123456789",
        "abcdef\"0123456789",
        "abc/def/0123456789",
        "\xc3\xa9_bcdef0123456789x", /* non-ASCII ("_" ends the hex escape) */
        "<script>alert(1)</script>",
        "%30%31%32%33%34%35%36%37%38%39",
        "",
    };
    int nfail = 0;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char hdr[128];
        int n = snprintf(hdr, sizeof hdr, "X-Request-Id: %s", ids[i]);
        assert_true(n > 0 && (size_t)n < sizeof hdr);
        const char *const headers[] = {hdr, NULL};
        bw_resp r;
        char why[512];
        assert_int_equal(bw_http(*state, "GET", "/nope", headers, NULL, 0, &r), 0);
        /* A fresh 32-hex id, and the rejected one not reflected anywhere. */
        if (!bw_check_secure_headers(&r, NULL, why, sizeof why) ||
            !bw_check_problem(&r, 404, why, sizeof why))
            BW_CASE_FAIL(nfail, "id \"%s\": %s", ids[i], why);
        else if (ids[i][0] != '\0' && strstr(r.body, ids[i]) != NULL)
            BW_CASE_FAIL(nfail, "id \"%s\" reflected in the body", ids[i]);
        bw_resp_free(&r);
    }
    BW_CASES_DONE(nfail);
}

static void test_notes_routes_need_authentication(void **state)
{
    static const char note[] = "{\"title\":\"t\",\"body\":\"b\"}";
    static const struct {
        const char *method, *path;
        bool body;
    } cases[] = {
        {"GET", "/v1/notes", false},      {"POST", "/v1/notes", true},
        {"GET", "/v1/notes/1", false},    {"PUT", "/v1/notes/1", true},
        {"DELETE", "/v1/notes/1", false}, {"GET", "/v1/notes/no-such-note", false},
    };
    const char *const headers[] = {"Content-Type: application/json", NULL};
    static const long want[] = {401};
    int nfail = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bw_resp r;
        assert_int_equal(bw_http(*state, cases[i].method, cases[i].path,
                                 cases[i].body ? headers : NULL, cases[i].body ? note : NULL,
                                 cases[i].body ? sizeof note - 1 : 0, &r),
                         0);
        char why[512];
        if (!bw_check_refusal(&r, want, 1, why, sizeof why))
            BW_CASE_FAIL(nfail, "%s %s: %s", cases[i].method, cases[i].path, why);
        bw_resp_free(&r);
    }
    BW_CASES_DONE(nfail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthz_ok),
        cmocka_unit_test(test_readyz_ready),
        cmocka_unit_test(test_unknown_path_404),
        cmocka_unit_test(test_healthz_wrong_method_405),
        cmocka_unit_test(test_notes_wrong_method_405),
        cmocka_unit_test(test_head_healthz),
        cmocka_unit_test(test_options_healthz),
        cmocka_unit_test(test_request_id_fresh_and_unique),
        cmocka_unit_test(test_request_id_echoed_when_valid),
        cmocka_unit_test(test_request_id_replaced_when_invalid),
        cmocka_unit_test(test_notes_routes_need_authentication),
    };
    return cmocka_run_group_tests(tests, bw_suite_setup, bw_suite_teardown);
}
