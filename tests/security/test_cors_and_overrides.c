/*
 * CORS and header overrides, attacked from outside. The server runs with a config that allows
 * one exact origin and weakens one header on one route. A foreign origin, a look-alike origin and
 * a preflight asking for a method or header outside the allowlist must get no
 * Access-Control-Allow-Origin; the start-up must log each weakened header as a risky setting; and
 * a config that pairs "*" with credentials must refuse to start.
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

#define ALLOWED "https://app.example.com"

static char *g_dir;

static char *write_config(const char *json)
{
    size_t cap = strlen(g_dir) + 32;
    char *path = malloc(cap);
    assert_non_null(path);
    assert_true(snprintf(path, cap, "%s/bulwark.json", g_dir) < (int)cap);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(json, f) >= 0);
    assert_int_equal(fclose(f), 0);
    return path;
}

static int setup(void **state)
{
    g_dir = bw_tmpdir_create();
    if (g_dir == NULL)
        return -1;
    char *cfg = write_config("{\"cors\": {\"enabled\": true, \"allowed_origins\": [\"" ALLOWED
                             "\"], \"allow_credentials\": true},"
                             " \"headers\": {\"routes\": {\"/readyz\": {\"remove\": "
                             "[\"X-Frame-Options\"]}}}}");
    bw_srv_opts o = {.config_path = cfg};
    *state = bw_srv_start(&o);
    free(cfg);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    int rc = bw_suite_teardown(state);
    bw_rm_rf(g_dir);
    free(g_dir);
    return rc;
}

static void get_with(bw_srv *srv, const char *method, const char *path, const char *const *hdrs,
                     bw_resp *r)
{
    assert_int_equal(bw_http(srv, method, path, hdrs, NULL, 0, r), 0);
}

static void test_allowed_origin_echoed(void **state)
{
    const char *hdrs[] = {"Origin: " ALLOWED, NULL};
    bw_resp r;
    get_with(*state, "GET", "/healthz", hdrs, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(bw_resp_header(&r, "Access-Control-Allow-Origin"), ALLOWED);
    assert_string_equal(bw_resp_header(&r, "Access-Control-Allow-Credentials"), "true");
    assert_non_null(bw_resp_header(&r, "Vary"));
    bw_resp_free(&r);
}

static void test_foreign_origins_get_nothing(void **state)
{
    static const char *const origins[] = {
        "https://evil.example",         "https://app.example.com.evil.example",
        "http://app.example.com",       "https://app.example.com:8443",
        "https://APP.example.com.evil", "null",
    };
    int nfail = 0;
    for (size_t i = 0; i < sizeof origins / sizeof origins[0]; i++) {
        char h[160];
        snprintf(h, sizeof h, "Origin: %s", origins[i]);
        const char *hdrs[] = {h, NULL};
        bw_resp r;
        get_with(*state, "GET", "/healthz", hdrs, &r);
        if (bw_resp_header(&r, "Access-Control-Allow-Origin") != NULL ||
            bw_resp_header(&r, "Access-Control-Allow-Credentials") != NULL)
            BW_CASE_FAIL(nfail, "origin %s got CORS grants", origins[i]);
        bw_resp_free(&r);
    }
    BW_CASES_DONE(nfail);
}

static void test_preflights(void **state)
{
    const char *ok[] = {"Origin: " ALLOWED, "Access-Control-Request-Method: POST",
                        "Access-Control-Request-Headers: content-type", NULL};
    const char *evil[] = {"Origin: https://evil.example", "Access-Control-Request-Method: POST",
                          NULL};
    const char *bad_method[] = {"Origin: " ALLOWED, "Access-Control-Request-Method: TRACE", NULL};
    const char *bad_header[] = {"Origin: " ALLOWED, "Access-Control-Request-Method: POST",
                                "Access-Control-Request-Headers: x-evil", NULL};
    bw_resp r;

    get_with(*state, "OPTIONS", "/v1/notes", ok, &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(bw_resp_header(&r, "Access-Control-Allow-Origin"), ALLOWED);
    assert_non_null(strstr(bw_resp_header(&r, "Access-Control-Allow-Methods"), "POST"));
    BW_ASSERT_SECURE_HEADERS(&r, NULL);
    bw_resp_free(&r);

    const char *const *denied[] = {evil, bad_method, bad_header};
    for (size_t i = 0; i < 3; i++) {
        get_with(*state, "OPTIONS", "/v1/notes", denied[i], &r);
        assert_int_equal(r.status, 403);
        assert_null(bw_resp_header(&r, "Access-Control-Allow-Origin"));
        BW_ASSERT_PROBLEM(&r, 403);
        bw_resp_free(&r);
    }
}

static void test_override_applies_to_its_route_only(void **state)
{
    bw_resp r;
    get_with(*state, "GET", "/readyz", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_null(bw_resp_header(&r, "X-Frame-Options"));
    assert_non_null(bw_resp_header(&r, "Content-Security-Policy"));
    bw_resp_free(&r);
    get_with(*state, "GET", "/healthz", NULL, &r);
    assert_string_equal(bw_resp_header(&r, "X-Frame-Options"), "DENY");
    bw_resp_free(&r);

    size_t len;
    char *log = bw_srv_stderr(*state, &len);
    assert_non_null(log);
    assert_non_null(strstr(log, "\"event\":\"config.risky_setting\""));
    assert_non_null(strstr(log, "X-Frame-Options"));
    free(log);
}

static void test_wildcard_with_credentials_refused(void **state)
{
    (void)state;
    char *cfg = write_config("{\"cors\": {\"enabled\": true, \"allowed_origins\": [\"*\"],"
                             " \"allow_credentials\": true}}");
    char env_cfg[600];
    snprintf(env_cfg, sizeof env_cfg, "BULWARK_CONFIG=%s", cfg);
    const char *env[] = {env_cfg, "BULWARK_LISTEN=127.0.0.1:9", NULL};
    const char *argv[] = {"serve", NULL};
    bw_run_result res;
    assert_int_equal(bw_run(argv, env, BW_RUN_TIMEOUT_MS, &res), 0);
    assert_false(res.timed_out);
    assert_int_not_equal(res.status, 0);
    if (strstr(res.err, "cors") == NULL)
        fail_msg("status %d, stderr: %s", res.status, res.err);
    bw_run_free(&res);
    free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_origin_echoed),
        cmocka_unit_test(test_foreign_origins_get_nothing),
        cmocka_unit_test(test_preflights),
        cmocka_unit_test(test_override_applies_to_its_route_only),
        cmocka_unit_test(test_wildcard_with_credentials_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
