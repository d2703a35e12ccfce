/* Secure-by-default route declarations: what the server refuses to start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/server.h"

static int ok_handler(bw_req *req, bw_res *res)
{
    (void)req;
    bw_res_empty(res, 204);
    return 0;
}

static int check(const bw_route *r, size_t n, char *err, size_t errlen)
{
    err[0] = '\0';
    return bw_server_check_routes(r, n, err, errlen);
}

static void test_accepts_good_table(void **state)
{
    const bw_route r[] = {
        {.method = "GET", .path = "/healthz", .handler = ok_handler, .public = true},
        {.method = "POST",
         .path = "/v1/x",
         .handler = ok_handler,
         .permission = "x:write",
         .body_schema = "x.json"},
        {.method = "GET", .path = "/v1/x/{id}", .handler = ok_handler, .permission = "x:read"},
    };
    char err[256];

    (void)state;
    assert_int_equal(check(r, 3, err, sizeof(err)), 0);
}

static void test_refuses_missing_permission(void **state)
{
    const bw_route r[] = {{.method = "GET", .path = "/v1/x", .handler = ok_handler}};
    char err[256];

    (void)state;
    assert_int_equal(check(r, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "GET /v1/x"));
    assert_non_null(strstr(err, "public"));
}

static void test_refuses_public_with_permission(void **state)
{
    const bw_route r[] = {
        {.method = "GET",
         .path = "/v1/x",
         .handler = ok_handler,
         .public = true,
         .permission = "x:read"},
    };
    char err[256];

    (void)state;
    assert_int_equal(check(r, 1, err, sizeof(err)), -1);
}

static void test_refuses_body_without_schema(void **state)
{
    const char *methods[] = {"POST", "PUT", "PATCH"};
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < 3; i++) {
        const bw_route r[] = {
            {.method = methods[i], .path = "/v1/x", .handler = ok_handler, .permission = "x:w"},
        };
        assert_int_equal(check(r, 1, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "body_schema"));
    }
}

static void test_refuses_bad_pattern_and_duplicates(void **state)
{
    const bw_route bad[] = {
        {.method = "GET", .path = "/v1//x", .handler = ok_handler, .public = true},
    };
    const bw_route dup[] = {
        {.method = "GET", .path = "/v1/{a}", .handler = ok_handler, .public = true},
        {.method = "GET", .path = "/v1/{a}", .handler = ok_handler, .public = true},
    };
    const bw_route nohandler[] = {{.method = "GET", .path = "/v1/x", .public = true}};
    char err[256];

    (void)state;
    assert_int_equal(check(bad, 1, err, sizeof(err)), -1);
    assert_int_equal(check(dup, 2, err, sizeof(err)), -1);
    assert_int_equal(check(nohandler, 1, err, sizeof(err)), -1);
}

static void test_schemas_checked(void **state)
{
    static const bw_embedded_file files[] = {
        {"good.json", "{\"type\":\"object\",\"additionalProperties\":false}", 48},
        {"open.json",
         "{\"type\":\"object\",\"additionalProperties\":false,"
         "\"properties\":{\"t\":{\"type\":\"string\"}}}",
         0},
        {"broken.json", "{\"type\":", 8},
    };
    bw_embedded_file f[3];
    char err[512];

    (void)state;
    memcpy(f, files, sizeof(f));
    f[0].len = strlen(f[0].data);
    f[1].len = strlen(f[1].data);
    f[2].len = strlen(f[2].data);
    const bw_route ok[] = {{.method = "POST",
                            .path = "/v1/x",
                            .handler = ok_handler,
                            .permission = "x:w",
                            .body_schema = "good.json"}};
    const bw_route open_[] = {{.method = "POST",
                               .path = "/v1/x",
                               .handler = ok_handler,
                               .permission = "x:w",
                               .body_schema = "open.json"}};
    const bw_route broken[] = {{.method = "PUT",
                                .path = "/v1/x",
                                .handler = ok_handler,
                                .permission = "x:w",
                                .body_schema = "broken.json"}};
    const bw_route missing[] = {{.method = "POST",
                                 .path = "/v1/x",
                                 .handler = ok_handler,
                                 .permission = "x:w",
                                 .body_schema = "nope.json"}};

    assert_int_equal(bw_server_check_schemas(ok, 1, f, 3, err, sizeof(err)), 0);
    assert_int_equal(bw_server_check_schemas(open_, 1, f, 3, err, sizeof(err)), -1);
    assert_string_equal(err, "route POST /v1/x: open.json#/properties/t: string without "
                             "maxLength (or enum, const, a bounded format)");
    assert_int_equal(bw_server_check_schemas(broken, 1, f, 3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "broken.json: not valid JSON"));
    assert_int_equal(bw_server_check_schemas(missing, 1, f, 3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "nope.json not found"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_good_table),
        cmocka_unit_test(test_refuses_missing_permission),
        cmocka_unit_test(test_refuses_public_with_permission),
        cmocka_unit_test(test_refuses_body_without_schema),
        cmocka_unit_test(test_refuses_bad_pattern_and_duplicates),
        cmocka_unit_test(test_schemas_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
