/*
 * GET /openapi.json: the document describes every route of the running service (path
 * parameters, request bodies from the schemas, bearer security with the permission, public
 * routes with no security), and an independent linter, @redocly/cli (installed from npm by
 * scripts/deps.sh into .tools/), finds no error in it.
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
#include <unistd.h>

#include "harness.h"

static json_t *fetch(bw_srv *srv)
{
    bw_resp r;
    json_error_t e;
    assert_int_equal(bw_http(srv, "GET", "/openapi.json", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    BW_ASSERT_SECURE_HEADERS(&r, NULL);
    json_t *doc = json_loadb(r.body, r.body_len, 0, &e);
    assert_non_null(doc);
    bw_resp_free(&r);
    return doc;
}

static void test_describes_routes(void **state)
{
    json_t *doc = fetch(*state);
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_t *paths = json_object_get(doc, "paths");
    json_t *item = json_object_get(paths, "/v1/notes/{id}");
    assert_non_null(item);
    json_t *param = json_array_get(json_object_get(item, "parameters"), 0);
    assert_string_equal(json_string_value(json_object_get(param, "name")), "id");
    assert_string_equal(json_string_value(json_object_get(param, "in")), "path");

    json_t *put = json_object_get(item, "put");
    assert_string_equal(json_string_value(json_object_get(put, "x-permission")), "notes:write");
    assert_non_null(json_object_get(json_array_get(json_object_get(put, "security"), 0), "bearer"));
    json_t *schema = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(put, "requestBody"), "content"),
                            "application/json"),
            "schema"),
        "properties");
    assert_non_null(json_object_get(schema, "title"));

    json_t *health = json_object_get(json_object_get(paths, "/healthz"), "get");
    assert_int_equal(json_array_size(json_object_get(health, "security")), 0);
    assert_null(json_object_get(health, "x-permission"));
    assert_non_null(json_object_get(json_object_get(paths, "/v1/notes"), "post"));
    /* the query schema of GET /v1/notes becomes a typed query parameter */
    json_t *list_param = json_array_get(
        json_object_get(json_object_get(json_object_get(paths, "/v1/notes"), "get"), "parameters"),
        0);
    assert_string_equal(json_string_value(json_object_get(list_param, "name")), "limit");
    assert_string_equal(json_string_value(json_object_get(list_param, "in")), "query");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(list_param, "schema"), "type")),
        "integer");
    assert_non_null(json_object_get(json_object_get(paths, "/v1/notes/{id}"), "delete"));
    json_decref(doc);
}

static void test_redocly_lint(void **state)
{
    char redocly[1024], doc_path[4200], cmd[6000];
    snprintf(redocly, sizeof redocly, "%s/.tools/redocly/node_modules/.bin/redocly", BW_SOURCE_DIR);
    if (access(redocly, X_OK) != 0)
        fail_msg("%s is missing: run `bash scripts/deps.sh` (it installs @redocly/cli)", redocly);
    json_t *doc = fetch(*state);
    snprintf(doc_path, sizeof doc_path, "%s/openapi.json", bw_srv_data_dir(*state));
    assert_int_equal(json_dump_file(doc, doc_path, JSON_INDENT(2)), 0);
    json_decref(doc);
    snprintf(cmd, sizeof cmd, "timeout 120 %s lint --format=stylish %s 2>&1", redocly, doc_path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    if (status != 0 || strstr(out, "error") != NULL)
        fail_msg("redocly lint (status %d):\n%s", status, out);
}

/* openapi.access "permission" puts the document behind openapi:read (401 without a principal);
 * "off" does not serve it at all. */
static void access_case(const char *access, long want)
{
    char *dir = bw_tmpdir_create();
    assert_non_null(dir);
    char cfg[4200], json[128];
    snprintf(cfg, sizeof cfg, "%s/openapi.json", dir);
    snprintf(json, sizeof json, "{\"openapi\": {\"access\": \"%s\"}}", access);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    assert_true(fputs(json, f) >= 0);
    assert_int_equal(fclose(f), 0);
    bw_srv_opts o = {.config_path = cfg};
    bw_srv *srv = bw_srv_start(&o);
    assert_non_null(srv);
    bw_resp r;
    assert_int_equal(bw_http(srv, "GET", "/openapi.json", NULL, NULL, 0, &r), 0);
    BW_ASSERT_PROBLEM(&r, want);
    bw_resp_free(&r);
    assert_int_equal(bw_srv_stop(srv), 0);
    bw_rm_rf(dir);
    free(dir);
}

static void test_access_config(void **state)
{
    (void)state;
    access_case("permission", 401);
    access_case("off", 404);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describes_routes),
        cmocka_unit_test(test_redocly_lint),
        cmocka_unit_test(test_access_config),
    };
    return cmocka_run_group_tests(tests, bw_suite_setup, bw_suite_teardown);
}
