/* Building responses: header refusals, problem+json bodies, JSON bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/internal.h"

static bw_arena *arena;
static bw_res res;

static int setup(void **state)
{
    (void)state;
    arena = bw_arena_new(4096, 1 << 20);
    if (arena == NULL)
        return -1;
    bw_res_init(&res, arena, "0123456789abcdef0123456789abcdef");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bw_arena_free(arena);
    return 0;
}

static void test_header_refusals(void **state)
{
    (void)state;
    assert_int_equal(bw_res_header(&res, "X-Ok", "fine value"), 0);
    assert_int_equal(res.nheaders, 1);
    assert_int_equal(bw_res_header(&res, "X-Bad", "a\r\nSet-Cookie: x=1"), -1);
    assert_int_equal(bw_res_header(&res, "X-Bad", "a\nb"), -1);
    assert_int_equal(bw_res_header(&res, "X-Bad", "a\rb"), -1);
    assert_int_equal(bw_res_header(&res, "X-Bad\r\n", "v"), -1);
    assert_int_equal(bw_res_header(&res, "X Bad", "v"), -1);
    assert_int_equal(bw_res_header(&res, "", "v"), -1);
    assert_int_equal(bw_res_header(&res, "X-Bad", "\x01"), -1);
    /* headers the framework owns */
    assert_int_equal(bw_res_header(&res, "content-length", "0"), -1);
    assert_int_equal(bw_res_header(&res, "Transfer-Encoding", "chunked"), -1);
    assert_int_equal(bw_res_header(&res, "X-Request-Id", "forged"), -1);
    assert_int_equal(bw_res_header(&res, "Connection", "keep-alive"), -1);
    assert_int_equal(bw_res_header(&res, NULL, "v"), -1);
    /* nothing refused was added */
    assert_int_equal(res.nheaders, 1);
}

static void test_header_table_bound(void **state)
{
    size_t i;

    (void)state;
    for (i = res.nheaders; i < BW_RES_MAX_HEADERS; i++)
        assert_int_equal(bw_res_header(&res, "X-Many", "v"), 0);
    assert_int_equal(bw_res_header(&res, "X-One-Too-Many", "v"), -1);
    assert_int_equal(res.nheaders, BW_RES_MAX_HEADERS);
}

static json_t *body_json(void)
{
    json_error_t e;

    return json_loadb(res.body, res.body_len, 0, &e);
}

static void test_problem(void **state)
{
    json_t *o;

    (void)state;
    assert_int_equal(bw_res_problem(&res, 404, NULL), 0);
    assert_int_equal(res.status, 404);
    assert_string_equal(res.content_type, "application/problem+json");
    o = body_json();
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "about:blank");
    assert_string_equal(json_string_value(json_object_get(o, "title")), "Not Found");
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 404);
    assert_string_equal(json_string_value(json_object_get(o, "request_id")),
                        "0123456789abcdef0123456789abcdef");
    assert_null(json_object_get(o, "detail"));
    json_decref(o);

    assert_int_equal(bw_res_problem_typed(&res, 413, "body-too-large", "Too big."), 0);
    o = body_json();
    assert_string_equal(json_string_value(json_object_get(o, "type")),
                        "urn:bulwark:problem:body-too-large");
    assert_string_equal(json_string_value(json_object_get(o, "detail")), "Too big.");
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 413);
    json_decref(o);
}

static void test_json_and_body(void **state)
{
    json_t *o;

    (void)state;
    assert_int_equal(bw_res_json(&res, 201, json_pack("{s:s}", "k", "v\n\"")), 0);
    assert_int_equal(res.status, 201);
    assert_string_equal(res.content_type, "application/json");
    o = body_json();
    assert_string_equal(json_string_value(json_object_get(o, "k")), "v\n\"");
    json_decref(o);
    assert_int_equal(bw_res_json(&res, 200, NULL), -1);
    assert_int_equal(bw_res_body(&res, 200, "text/plain\r\nX: y", "x", 1), -1);
    assert_int_equal(bw_res_body(&res, 99, "text/plain", "x", 1), -1);
    assert_int_equal(bw_res_body(&res, 200, "text/plain", "abc", 3), 0);
    assert_int_equal(res.body_len, 3);
    assert_memory_equal(res.body, "abc", 3);
    bw_res_empty(&res, 204);
    assert_int_equal(bw_res_get_status(&res), 204);
    assert_null(res.content_type);
    assert_int_equal(res.body_len, 0);
}

static void test_problem_extra(void **state)
{
    json_t *o;

    (void)state;
    assert_int_equal(bw_res_problem_extra(&res, 400, "validation-failed", "Bad body.",
                                          json_pack("{s:[{s:s}], s:s}", "errors", "pointer",
                                                    "/title", "status", "spoofed")),
                     0);
    o = body_json();
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "type")),
                        "urn:bulwark:problem:validation-failed");
    /* the framework's members win over the extra ones */
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 400);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(o, "errors"), 0), "pointer")),
                        "/title");
    json_decref(o);
    assert_int_equal(bw_res_problem_extra(&res, 400, "x", NULL, json_array()), -1);
    /* a refusal whose body cannot be built still carries its status, never 200 */
    bw_res_init(&res, arena, "0123456789abcdef0123456789abcdef");
    char kind[200];
    memset(kind, 'k', sizeof(kind) - 1);
    kind[sizeof(kind) - 1] = '\0';
    assert_int_equal(bw_res_problem_typed(&res, 403, kind, NULL), -1);
    assert_int_equal(bw_res_get_status(&res), 403);
    assert_int_equal(res.body_len, 0);
    assert_int_equal(bw_res_problem_extra(&res, 400, "x", NULL, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_header_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_table_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_problem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_and_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_problem_extra, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
