/* Load shedding: beyond server.max_inflight requests in progress, a new request gets 503 with
 * Retry-After at once instead of waiting for a worker. Here the cap is 1, and a login whose
 * body trickles in holds it; meanwhile another client is refused fast, and served again as soon
 * as the slow request is done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>

#include "auth_client.h"
#include "harness.h"

static const char config[] = "{\"server\": {\"max_inflight\": 1},"
                             " \"auth\": {\"password\": {\"memlimit_kib\": 19456}}}";

static const char body[] = "{\"username\":\"nobody\",\"password\":\"wrong password\"}";

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void test_busy_server_sheds_fast(void **state)
{
    (void)state;
    char *cfg = NULL;
    bw_srv *srv = bw_test_srv_start_json(config, &cfg);
    bw_tls_conn *slow;
    char head[256], out[4096];
    bw_resp r;
    double t0, took;
    int n;

    assert_non_null(srv);
    /* An idle server serves. */
    assert_int_equal(bw_http(srv, "GET", "/healthz", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    bw_resp_free(&r);

    /* The head and half the body: the request is in progress, waiting for the rest. */
    slow = bw_tls_connect(srv);
    assert_non_null(slow);
    n = snprintf(head, sizeof head,
                 "POST /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%.10s",
                 strlen(body), body);
    assert_true(n > 0 && (size_t)n < sizeof head);
    assert_int_equal(bw_tls_exchange(slow, head, (size_t)n, out, sizeof out, 300), 0);

    /* Another client: refused at once, with a reason and a time to come back. */
    t0 = now_ms();
    assert_int_equal(bw_http(srv, "GET", "/healthz", NULL, NULL, 0, &r), 0);
    took = now_ms() - t0;
    assert_int_equal(r.status, 503);
    bool retry = false;
    for (size_t i = 0; i < r.nheaders; i++)
        retry |= strcasecmp(r.headers[i].name, "Retry-After") == 0 && atoi(r.headers[i].value) >= 1;
    assert_true(retry);
    assert_non_null(strstr(r.body, "\"status\":503"));
    bw_resp_free(&r);
    fprintf(stderr, "[shed] 503 answered in %.1f ms while the slow request held the cap\n", took);
    assert_true(took < 1000.0);

    /* The slow request finishes and is answered; then the cap is free again. */
    assert_true(bw_tls_exchange(slow, body + 10, strlen(body) - 10, out, sizeof out, 3000) > 0);
    assert_non_null(strstr(out, "HTTP/1.1 401"));
    bw_tls_close(slow);
    assert_int_equal(bw_http(srv, "GET", "/healthz", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    bw_resp_free(&r);
    assert_int_equal(bw_test_srv_stop(&srv, &cfg), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy_server_sheds_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
