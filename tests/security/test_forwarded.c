/* X-Forwarded-For names the client only when the TCP peer is a trusted proxy
 * (server.trusted_proxies). From any other peer it is ignored, so an attacker cannot pick the
 * address that login throttling (and rate limiting) counts against. Played for real on
 * loopback: 127.0.0.2 is the trusted proxy, 127.0.0.1 an untrusted client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth_client.h"
#include "harness.h"

static const char config[] =
    "{\"server\": {\"trusted_proxies\": [\"127.0.0.2/32\"]},"
    " \"ratelimit\": {\"route_burst\": 100000}, \"auth\": {\"password\": {\"memlimit_kib\": 19456},"
    "  \"lockout\": {\"threshold\": 100}, \"address\": {\"max_failures\": 3, \"window_s\": 600}}}";

static long wrong_login(bw_srv *srv, const char *xff)
{
    char h[128];
    const char *extra[] = {h, NULL};
    bw_resp r;
    long status;

    snprintf(h, sizeof h, "X-Forwarded-For: %s", xff);
    assert_int_equal(bw_http_as(srv, NULL, "POST", "/v1/auth/login",
                                "{\"username\":\"nobody\",\"password\":\"wrong password\"}", extra,
                                &r),
                     0);
    status = r.status;
    bw_resp_free(&r);
    return status;
}

static void test_spoofed_header_ignored_from_untrusted_peer(void **state)
{
    bw_srv *srv = *state;
    char xff[32];

    /* A new made-up address each time: were it believed, the limit would never engage. */
    assert_int_equal(bw_srv_set_source(srv, "127.0.0.1"), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(xff, sizeof xff, "203.0.113.%d", i + 1);
        assert_int_equal(wrong_login(srv, xff), 401);
    }
    assert_int_equal(wrong_login(srv, "203.0.113.99"), 429);
    assert_int_equal(wrong_login(srv, "127.0.0.3"), 429);
}

static void test_trusted_proxy_names_the_client(void **state)
{
    bw_srv *srv = *state;
    char *log;

    assert_int_equal(bw_srv_set_source(srv, "127.0.0.2"), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(wrong_login(srv, "198.51.100.7"), 401);
    /* The client behind the proxy is limited, not the proxy: another client passes. */
    assert_int_equal(wrong_login(srv, "198.51.100.7"), 429);
    assert_int_equal(wrong_login(srv, "198.51.100.8"), 401);
    /* Entries a client wrote before the proxy's own are not believed. */
    assert_int_equal(wrong_login(srv, "198.51.100.8, 198.51.100.7"), 429);
    /* The access log names the client and the proxy it came through. */
    log = bw_srv_stderr(srv, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "\"client\":\"198.51.100.7\",\"peer\":\"127.0.0.2\""));
    assert_null(strstr(log, "\"client\":\"203.0.113."));
    free(log);
    assert_int_equal(bw_srv_set_source(srv, NULL), 0);
}

static int setup(void **state)
{
    char *cfg = bw_test_config_write(config);
    bw_srv_opts o = {.config_path = cfg};

    *state = cfg != NULL ? bw_srv_start(&o) : NULL;
    bw_test_config_free(cfg);
    return *state != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    return *state != NULL && bw_srv_stop(*state) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spoofed_header_ignored_from_untrusted_peer),
        cmocka_unit_test(test_trusted_proxy_names_the_client),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
