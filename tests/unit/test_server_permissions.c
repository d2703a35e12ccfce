/* A route's permission must be declared in the app's rbac.json: a typo would otherwise deny
 * everyone silently (or, worse, be "fixed" by granting "*"). bw_server_start refuses it before
 * it opens the store or a port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/migrate.h"
#include "bulwark/secret.h"
#include "bulwark/server.h"
#include "harness.h"

static const char rbac_json[] = "{\"permissions\": {\"x:read\": \"Read x\"},"
                                " \"roles\": {\"reader\": {\"permissions\": [\"x:read\"]}}}";
static const bw_embedded_file rbac_file = {
    .name = "rbac.json", .data = rbac_json, .len = sizeof(rbac_json) - 1};

static int ok_handler(bw_req *req, bw_res *res)
{
    (void)req;
    bw_res_empty(res, 204);
    return 0;
}

typedef struct fixture {
    char *dir;
    bw_config *cfg;
    bw_app app;               /* must outlive the server started from it */
    bw_migration *migrations; /* the framework's tables (sessions, bans...) */
    size_t nmigrations;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char json[4300], key[4200], err[256];
    uint16_t port;

    if (f == NULL || (f->dir = bw_tmpdir_create()) == NULL || bw_free_port(&port) != 0)
        return -1;
    snprintf(key, sizeof key, "%s/session.key", f->dir);
    if (bw_secret_generate_file(key, 32, err, sizeof err) != 1)
        return -1;
    snprintf(key, sizeof key, "%s/audit.key", f->dir);
    if (bw_secret_generate_file(key, 32, err, sizeof err) != 1)
        return -1;
    /* Plain HTTP on loopback keeps the test free of certificates; the check under test runs
     * before any listener exists. */
    snprintf(
        json, sizeof json,
        "{\"data_dir\": \"%s\", \"server\": {\"listen\": \"127.0.0.1:%u\", \"plain_http\": true},"
        " \"secrets\": {\"session_key\": \"file:session.key\", \"audit_key\": \"file:audit.key\"},"
        " \"metrics\": {\"listen\": \"\"}}",
        f->dir, (unsigned)port);
    if (bw_migrate_load_dir(BW_SOURCE_DIR "/migrations", &f->migrations, &f->nmigrations, err,
                            sizeof err) != 0 ||
        bw_config_load_buffer(json, strlen(json), "test", NULL, &f->cfg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    bw_config_free(f->cfg);
    bw_migrate_free_list(f->migrations, f->nmigrations);
    bw_rm_rf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static bw_server *start(fixture *f, const bw_route *routes, size_t n, const bw_embedded_file *rbac,
                        char *err, size_t errlen)
{
    f->app = (bw_app){.name = "t",
                      .routes = routes,
                      .nroutes = n,
                      .rbac = rbac,
                      .migrations = f->migrations,
                      .nmigrations = f->nmigrations};
    err[0] = '\0';
    return bw_server_start(&f->app, f->cfg, err, errlen);
}

static void test_undeclared_permission_refused(void **state)
{
    const bw_route r[] = {
        {.method = "GET", .path = "/v1/x", .handler = ok_handler, .permission = "x:read"},
        {.method = "GET", .path = "/v1/y", .handler = ok_handler, .permission = "x:raed"},
    };
    char err[512];

    assert_null(start(*state, r, 2, &rbac_file, err, sizeof err));
    assert_non_null(strstr(err, "GET /v1/y"));
    assert_non_null(strstr(err, "x:raed"));
    assert_non_null(strstr(err, "rbac.json"));
}

static void test_openapi_permission_must_be_declared(void **state)
{
    /* openapi.access "permission" gates the document behind openapi:read, which this rbac.json
     * does not declare. */
    fixture *f = *state;
    const bw_route r[] = {
        {.method = "GET", .path = "/v1/x", .handler = ok_handler, .permission = "x:read"}};
    char err[512];

    free(f->cfg->openapi.access);
    f->cfg->openapi.access = strdup("permission");
    assert_non_null(f->cfg->openapi.access);
    assert_null(start(f, r, 1, &rbac_file, err, sizeof err));
    assert_non_null(strstr(err, "openapi:read"));
}

static void test_app_without_rbac_refused(void **state)
{
    const bw_route r[] = {
        {.method = "GET", .path = "/v1/x", .handler = ok_handler, .permission = "x:read"}};
    char err[512];

    assert_null(start(*state, r, 1, NULL, err, sizeof err));
    assert_non_null(strstr(err, "rbac"));
}

static void test_declared_permissions_start(void **state)
{
    fixture *f = *state;
    const bw_route r[] = {
        {.method = "GET", .path = "/v1/x", .handler = ok_handler, .permission = "x:read"}};
    char err[512];
    bw_server *srv;

    free(f->cfg->openapi.access);
    f->cfg->openapi.access = strdup("off");
    assert_non_null(f->cfg->openapi.access);
    srv = start(f, r, 1, &rbac_file, err, sizeof err);
    if (srv == NULL)
        fail_msg("%s", err);
    assert_int_equal(bw_server_stop(srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_undeclared_permission_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_openapi_permission_must_be_declared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_app_without_rbac_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_declared_permissions_start, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
