/* Address bans over HTTPS: an address that keeps hitting the rate limit, or keeps presenting
 * bad credentials, is banned for ban.duration_s (every request gets 429 before any other work),
 * the ban expires on its own, and `notes ban add|remove` reach the running server within a
 * second or two. Each case plays its own loopback address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth_client.h"
#include "harness.h"

static const char config[] =
    "{\"ratelimit\": {\"address\": \"60/min\", \"address_burst\": 3},"
    " \"ban\": {\"window_s\": 60, \"duration_s\": 3, \"rate_limited\": 3, \"auth_failures\": 2,"
    "  \"validation_failures\": 0},"
    " \"auth\": {\"password\": {\"memlimit_kib\": 19456}}}";

static char *config_path;

static long get(bw_srv *srv, const char *token, bw_resp *out)
{
    bw_resp r;
    long status;

    assert_int_equal(bw_http_as(srv, token, "GET", "/v1/auth/me", NULL, NULL, &r), 0);
    status = r.status;
    if (out != NULL)
        *out = r;
    else
        bw_resp_free(&r);
    return status;
}

static bool blocked(bw_srv *srv)
{
    bw_resp r;
    bool yes;

    assert_int_equal(bw_http(srv, "GET", "/healthz", NULL, NULL, 0, &r), 0);
    yes = r.status == 429 && strstr(r.body, "blocked") != NULL;
    bw_resp_free(&r);
    return yes;
}

static void test_rate_limit_offences_ban(void **state)
{
    bw_srv *srv = *state;
    int limited = 0;

    assert_int_equal(bw_srv_set_source(srv, "127.0.0.8"), 0);
    /* Three allowed, then three 429s from the limiter: the third bans the address. */
    for (int i = 0; i < 6; i++) {
        bw_resp r;
        assert_int_equal(bw_http(srv, "GET", "/healthz", NULL, NULL, 0, &r), 0);
        if (r.status == 429) {
            assert_null(strstr(r.body, "blocked"));
            limited++;
        }
        bw_resp_free(&r);
    }
    assert_int_equal(limited, 3);
    assert_true(blocked(srv));
    /* Another address is not affected. */
    assert_int_equal(bw_srv_set_source(srv, "127.0.0.12"), 0);
    assert_false(blocked(srv));
    /* The ban lasts 3 s; by then the limiter has refilled too. */
    assert_int_equal(bw_srv_set_source(srv, "127.0.0.8"), 0);
    sleep(4);
    assert_false(blocked(srv));
    assert_int_equal(bw_srv_set_source(srv, NULL), 0);
}

static void test_bad_credentials_ban(void **state)
{
    bw_srv *srv = *state;
    bw_resp r;

    assert_int_equal(bw_srv_set_source(srv, "127.0.0.10"), 0);
    /* A missing credential is not an offence; a forged one is. */
    assert_int_equal(get(srv, NULL, NULL), 401);
    for (int i = 0; i < 2; i++)
        assert_int_equal(get(srv, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL), 401);
    assert_int_equal(get(srv, NULL, &r), 429);
    assert_non_null(strstr(r.body, "blocked"));
    bool retry = false;
    for (size_t i = 0; i < r.nheaders; i++)
        retry |= strcasecmp(r.headers[i].name, "Retry-After") == 0 && atoi(r.headers[i].value) >= 1;
    assert_true(retry);
    bw_resp_free(&r);
    assert_int_equal(bw_srv_set_source(srv, NULL), 0);
}

static void test_cli_bans_reach_the_server(void **state)
{
    bw_srv *srv = *state;
    const char *add[] = {"ban", "add", "127.0.0.9", "5", "abuse report", NULL};
    const char *list[] = {"ban", "list", NULL};
    const char *rm[] = {"ban", "remove", "127.0.0.9", NULL};
    bw_run_result out;
    bool seen = false;

    assert_int_equal(bw_srv_set_source(srv, "127.0.0.9"), 0);
    assert_false(blocked(srv));
    assert_int_equal(bw_test_cli(srv, add, NULL), 0);
    assert_int_equal(bw_srv_run(srv, list, NULL, &out), 0);
    assert_int_equal(out.status, 0);
    assert_non_null(strstr(out.out, "127.0.0.9"));
    assert_non_null(strstr(out.out, "abuse report"));
    bw_run_free(&out);
    /* The server reloads the table at most once a second. */
    for (int i = 0; i < 30 && !seen; i++) {
        usleep(100000);
        seen = blocked(srv);
    }
    assert_true(seen);
    assert_int_equal(bw_test_cli(srv, rm, NULL), 0);
    for (int i = 0; i < 30 && seen; i++) {
        usleep(100000);
        seen = blocked(srv);
    }
    assert_false(seen);
    assert_int_equal(bw_srv_set_source(srv, NULL), 0);
}

static int setup(void **state)
{
    *state = bw_test_srv_start_json(config, &config_path);
    return *state != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    bw_srv *srv = *state;

    return bw_test_srv_stop(&srv, &config_path) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_limit_offences_ban),
        cmocka_unit_test(test_bad_credentials_ban),
        cmocka_unit_test(test_cli_bans_reach_the_server),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
