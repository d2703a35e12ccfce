/*
 * Schema validation attacked from outside, against bw_test_app (tests/apps): a public route whose
 * body must match tests/apps/schemas/item.json. Every malformed or non-conforming body gets a 400
 * problem (type urn:bulwark:problem:validation-failed for schema failures) that lists at most 20
 * errors by JSON pointer and never echoes the value; a catastrophic-backtracking pattern ends in
 * a refusal within the time bound; the handler runs only for a valid body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static const char *const json_ct[] = {"Content-Type: application/json", NULL};

static int setup(void **state)
{
    /* The harness starts whatever BW_NOTES_BIN names. */
    if (setenv("BW_NOTES_BIN", BW_TEST_APP_BIN, 1) != 0)
        return -1;
    return bw_suite_setup(state);
}

static void post(bw_srv *srv, const char *body, size_t len, bw_resp *r)
{
    assert_int_equal(bw_http(srv, "POST", "/v1/items", json_ct, body, len, r), 0);
}

static json_t *body_of(const bw_resp *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_len, 0, &e);
    assert_non_null(j);
    return j;
}

static void test_valid_body_reaches_handler(void **state)
{
    static const char body[] = "{\"name\":\"widget\",\"count\":3,\"tags\":[\"a\"]}";
    bw_resp r;
    post(*state, body, sizeof body - 1, &r);
    assert_int_equal(r.status, 201);
    json_t *j = body_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "created")), "widget");
    json_decref(j);
    bw_resp_free(&r);
}

static void test_schema_failures_listed(void **state)
{
    static const char body[] =
        "{\"name\":\"\",\"count\":\"secret-count-value\",\"extra\":\"secret-extra-value\"}";
    bw_resp r;
    post(*state, body, sizeof body - 1, &r);
    BW_ASSERT_PROBLEM(&r, 400);
    BW_ASSERT_SECURE_HEADERS(&r, NULL);
    json_t *j = body_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "type")),
                        "urn:bulwark:problem:validation-failed");
    json_t *errors = json_object_get(j, "errors");
    assert_true(json_array_size(errors) >= 3);
    bool name = false, count = false, extra = false;
    for (size_t i = 0; i < json_array_size(errors); i++) {
        json_t *e = json_array_get(errors, i);
        const char *p = json_string_value(json_object_get(e, "pointer"));
        assert_non_null(json_string_value(json_object_get(e, "keyword")));
        assert_non_null(json_string_value(json_object_get(e, "message")));
        name |= p != NULL && strcmp(p, "/name") == 0;
        count |= p != NULL && strcmp(p, "/count") == 0;
        extra |= p != NULL && strcmp(p, "/extra") == 0;
    }
    assert_true(name && count && extra);
    assert_null(strstr(r.body, "secret-count-value"));
    assert_null(strstr(r.body, "secret-extra-value"));
    json_decref(j);
    bw_resp_free(&r);
}

static void test_at_most_20_errors(void **state)
{
    char body[8192];
    size_t len = (size_t)snprintf(body, sizeof body, "{\"name\":\"n\",\"nested\":{");
    for (int i = 0; i < 60; i++)
        len += (size_t)snprintf(body + len, sizeof body - len, "%s\"k%d\":\"x\"", i ? "," : "", i);
    len += (size_t)snprintf(body + len, sizeof body - len, "}}");
    bw_resp r;
    post(*state, body, len, &r);
    BW_ASSERT_PROBLEM(&r, 400);
    json_t *j = body_of(&r);
    size_t n = json_array_size(json_object_get(j, "errors"));
    assert_true(n >= 1 && n <= 20);
    json_decref(j);
    bw_resp_free(&r);
}

static void test_malformed_bodies_refused(void **state)
{
    static const struct {
        const char *what;
        const char *body;
        size_t len;
    } cases[] = {
        {"duplicate key", "{\"name\":\"a\",\"name\":\"b\"}", 0},
        {"NUL in a string", "{\"name\":\"a\\u0000b\"}", 0},
        {"invalid UTF-8", "{\"name\":\"\xC0\xAE\"}", 0},
        {"integer beyond 2^53", "{\"name\":\"a\",\"count\":9007199254740993}", 0},
        {"number overflow", "{\"name\":\"a\",\"count\":1e400}", 0},
        {"trailing data", "{\"name\":\"a\"} {}", 0},
        {"not JSON", "name=a", 0},
    };
    int nfail = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bw_resp r;
        post(*state, cases[i].body, strlen(cases[i].body), &r);
        char why[256];
        if (!bw_check_problem(&r, 400, why, sizeof why))
            BW_CASE_FAIL(nfail, "%s: %s", cases[i].what, why);
        bw_resp_free(&r);
    }
    BW_CASES_DONE(nfail);
}

static void test_depth_limit(void **state)
{
    size_t depth = 200, len = 0;
    char *body = malloc(depth * 8 + 64);
    assert_non_null(body);
    len += (size_t)snprintf(body, 64, "{\"name\":\"a\",\"nested\":");
    for (size_t i = 0; i < depth; i++)
        body[len++] = '[';
    for (size_t i = 0; i < depth; i++)
        body[len++] = ']';
    body[len++] = '}';
    bw_resp r;
    post(*state, body, len, &r);
    BW_ASSERT_PROBLEM(&r, 400);
    bw_resp_free(&r);
    free(body);
}

static void test_catastrophic_pattern_bounded(void **state)
{
    size_t n = 30000;
    char *body = malloc(n + 64);
    assert_non_null(body);
    size_t len = (size_t)snprintf(body, 64, "{\"name\":\"a\",\"code\":\"");
    memset(body + len, 'a', n);
    len += n;
    memcpy(body + len, "!\"}", 3);
    len += 3;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bw_resp r;
    post(*state, body, len, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    BW_ASSERT_PROBLEM(&r, 400);
    if (secs > 3.0)
        fail_msg("a catastrophic pattern took %.1f s", secs);
    bw_resp_free(&r);
    free(body);
    assert_true(bw_srv_alive(*state));
}

static void test_wrong_content_type(void **state)
{
    static const char *const form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    bw_resp r;
    assert_int_equal(bw_http(*state, "POST", "/v1/items", form, "name=a", 6, &r), 0);
    BW_ASSERT_PROBLEM(&r, 415);
    bw_resp_free(&r);
}

static json_t *get_ok(bw_srv *srv, const char *path)
{
    bw_resp r;
    assert_int_equal(bw_http(srv, "GET", path, NULL, NULL, 0, &r), 0);
    if (r.status != 200)
        fail_msg("GET %s: %ld %.*s", path, r.status, (int)r.body_len, r.body);
    json_t *j = body_of(&r);
    bw_resp_free(&r);
    return j;
}

static void test_path_and_query_coerced(void **state)
{
    json_t *j = get_ok(*state, "/v1/items/42?limit=5&ratio=0.25&full=true&tag=a&tag=b");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 42);
    json_t *q = json_object_get(j, "query");
    assert_true(json_is_integer(json_object_get(q, "limit")));
    assert_int_equal(json_integer_value(json_object_get(q, "limit")), 5);
    assert_true(json_is_real(json_object_get(q, "ratio")));
    assert_true(json_is_true(json_object_get(q, "full")));
    assert_int_equal(json_array_size(json_object_get(q, "tag")), 2);
    json_decref(j);
}

static void test_path_and_query_refused(void **state)
{
    static const struct {
        const char *path, *in, *pointer;
    } cases[] = {
        {"/v1/items/abc", "path", "/id"},
        {"/v1/items/0", "path", "/id"},
        {"/v1/items/1001", "path", "/id"},
        {"/v1/items/+5", "path", "/id"},
        {"/v1/items/1.0", "path", "/id"},
        {"/v1/items/5?limit=0", "query", "/limit"},
        {"/v1/items/5?limit=ten", "query", "/limit"},
        {"/v1/items/5?ratio=2", "query", "/ratio"},
        {"/v1/items/5?full=yes", "query", "/full"},
        {"/v1/items/5?tag=a&tag=b&tag=c&tag=d", "query", "/tag"},
        {"/v1/items/5?other=1", "query", "/other"},
    };
    int nfail = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bw_resp r;
        char why[256];
        assert_int_equal(bw_http(*state, "GET", cases[i].path, NULL, NULL, 0, &r), 0);
        if (!bw_check_problem(&r, 400, why, sizeof why)) {
            BW_CASE_FAIL(nfail, "%s: %s", cases[i].path, why);
            bw_resp_free(&r);
            continue;
        }
        json_t *j = body_of(&r);
        json_t *e = json_array_get(json_object_get(j, "errors"), 0);
        const char *in = json_string_value(json_object_get(e, "in"));
        const char *ptr = json_string_value(json_object_get(e, "pointer"));
        if (in == NULL || ptr == NULL || strcmp(in, cases[i].in) != 0 ||
            strncmp(ptr, cases[i].pointer, strlen(cases[i].pointer)) != 0)
            BW_CASE_FAIL(nfail, "%s: first error %s %s", cases[i].path, in ? in : "-",
                         ptr ? ptr : "-");
        json_decref(j);
        bw_resp_free(&r);
    }
    /* one value expected, two given */
    bw_resp r;
    assert_int_equal(bw_http(*state, "GET", "/v1/items/5?limit=1&limit=2", NULL, NULL, 0, &r), 0);
    BW_ASSERT_PROBLEM(&r, 400);
    bw_resp_free(&r);
    BW_CASES_DONE(nfail);
}

static void test_header_schema(void **state)
{
    static const char *const good[] = {"X-Tenant: acme", NULL};
    static const char *const bad[] = {"X-Tenant: ACME-1", NULL};
    bw_resp r;

    assert_int_equal(bw_http(*state, "GET", "/v1/tenant", good, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    bw_resp_free(&r);

    assert_int_equal(bw_http(*state, "GET", "/v1/tenant", bad, NULL, 0, &r), 0);
    BW_ASSERT_PROBLEM(&r, 400);
    json_t *j = body_of(&r);
    json_t *e = json_array_get(json_object_get(j, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "in")), "header");
    assert_string_equal(json_string_value(json_object_get(e, "pointer")), "/x-tenant");
    assert_null(strstr(r.body, "ACME-1"));
    json_decref(j);
    bw_resp_free(&r);

    assert_int_equal(bw_http(*state, "GET", "/v1/tenant", NULL, NULL, 0, &r), 0);
    BW_ASSERT_PROBLEM(&r, 400);
    bw_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_body_reaches_handler),
        cmocka_unit_test(test_schema_failures_listed),
        cmocka_unit_test(test_at_most_20_errors),
        cmocka_unit_test(test_malformed_bodies_refused),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_catastrophic_pattern_bounded),
        cmocka_unit_test(test_wrong_content_type),
        cmocka_unit_test(test_path_and_query_coerced),
        cmocka_unit_test(test_path_and_query_refused),
        cmocka_unit_test(test_header_schema),
    };
    return cmocka_run_group_tests(tests, setup, bw_suite_teardown);
}
