/* The per-address cap on open TLS connections (limits.max_connections_per_address = 4), over
 * real TLS. CivetWeb gives every open connection a worker for its whole life, so one address
 * holding many connections (or slow handshakes) starves everyone else. With four connections
 * open from 127.0.0.1, a fifth from 127.0.0.1 is closed before its handshake, while 127.0.0.2
 * is served; the cap counts connections that never start their handshake too; closing one
 * makes room for exactly one more, and the count goes back to zero when all are closed.
 * 127.0.0.1 is the address the harness polls /healthz from while starting the server; the
 * connections it leaves behind are released asynchronously, hence the short retries when a
 * connection is expected to succeed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth_client.h"
#include "harness.h"

enum { CAP = 4, SETTLE_MS = 5000 };

/* Long timeouts: the held connections must stay open for the whole test. */
static const char config[] =
    "{\"limits\": {\"max_connections_per_address\": 4},"
    " \"server\": {\"request_timeout_ms\": 30000, \"keep_alive_timeout_ms\": 30000}}";

static long long now_ms(void)
{
    struct timespec ts;

    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    (void)nanosleep(&ts, NULL);
}

static void source(bw_srv *srv, const char *addr)
{
    assert_int_equal(bw_srv_set_source(srv, addr), 0);
}

/* A TLS connection that should be admitted: tried until SETTLE_MS pass, since connections
 * closed just before are released by the server a moment later. */
static bw_tls_conn *connect_admitted(bw_srv *srv)
{
    long long end = now_ms() + SETTLE_MS;

    do {
        bw_tls_conn *c = bw_tls_connect(srv);
        if (c != NULL)
            return c;
        pause_ms(50);
    } while (now_ms() < end);
    fail_msg("a connection that should be admitted was refused for %d ms", SETTLE_MS);
    return NULL;
}

/* GET /healthz over an open connection; its status, or -1. */
static long healthz(bw_tls_conn *c)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    char buf[16384];
    bw_resp r;
    size_t used;
    long status;
    long n = bw_tls_exchange(c, req, sizeof(req) - 1, buf, sizeof(buf), BW_HTTP_TIMEOUT_MS);

    if (n <= 0 || bw_parse_response(buf, (size_t)n, false, &r, &used) != 0)
        return -1;
    status = r.status;
    BW_ASSERT_SECURE_HEADERS(&r, NULL);
    bw_resp_free(&r);
    return status;
}

static void close_all(bw_tls_conn **held, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bw_tls_close(held[i]);
        held[i] = NULL;
    }
}

static void test_cap_per_address(void **state)
{
    bw_srv *srv = *state;
    bw_tls_conn *held[CAP], *other, *late;
    char *log;

    source(srv, "127.0.0.1");
    for (size_t i = 0; i < CAP; i++)
        held[i] = connect_admitted(srv);

    /* The fifth, and any after it, is closed before the handshake completes. */
    for (int i = 0; i < 3; i++) {
        bw_tls_conn *over = bw_tls_connect(srv);
        if (over != NULL) {
            bw_tls_close(over);
            close_all(held, CAP);
            fail_msg("connection %d from 127.0.0.1 admitted past the cap of %d", CAP + 1 + i, CAP);
        }
    }
    /* The connections already open are not disturbed. */
    assert_int_equal(healthz(held[0]), 200);
    assert_int_equal(healthz(held[CAP - 1]), 200);

    /* Another address is served meanwhile, held open and over plain requests alike. */
    source(srv, "127.0.0.2");
    other = connect_admitted(srv);
    assert_int_equal(healthz(other), 200);
    {
        bw_resp r;
        assert_int_equal(bw_http(srv, "GET", "/healthz", NULL, NULL, 0, &r), 0);
        assert_int_equal(r.status, 200);
        bw_resp_free(&r);
    }
    bw_tls_close(other);

    /* Closing one makes room for exactly one, and a request over it works. */
    source(srv, "127.0.0.1");
    bw_tls_close(held[1]);
    held[1] = NULL;
    late = connect_admitted(srv);
    assert_int_equal(healthz(late), 200);
    held[1] = late;
    assert_null(bw_tls_connect(srv));

    /* The refusals are visible to the operator, with the reason. */
    log = bw_srv_stderr(srv, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "refused by the admission check"));
    free(log);

    /* All closed: the address has its whole allowance back. */
    close_all(held, CAP);
    for (size_t i = 0; i < CAP; i++)
        held[i] = connect_admitted(srv);
    assert_null(bw_tls_connect(srv));
    close_all(held, CAP);
    source(srv, NULL);
}

/* A TCP connection from `from` to the server that sends nothing. */
static int silent_from(const bw_srv *srv, const char *from)
{
    struct sockaddr_in src, dst;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&src, 0, sizeof(src));
    src.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, from, &src.sin_addr), 1);
    dst = src;
    assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr), 1);
    dst.sin_port = htons(bw_srv_port(srv));
    assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
    return fd;
}

/* Whether the server closed fd (it sends nothing else on a connection that sends nothing). */
static bool closed_by_server(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};

    return poll(&p, 1, 0) > 0;
}

/* A client that connects and never starts its handshake holds its slot from the moment the
 * worker takes the connection (the cap runs before the handshake), so slow handshakes cannot
 * get around the cap; closing them gives the slots back. Played from 127.0.0.3, an address no
 * earlier connection used: none of its slots can still be in the middle of being released. */
static void test_silent_connections_count(void **state)
{
    bw_srv *srv = *state;
    int raw[CAP];
    bw_tls_conn *c = NULL;
    long long end;
    bool refused = false;

    source(srv, "127.0.0.3");
    for (size_t i = 0; i < CAP; i++)
        raw[i] = silent_from(srv, "127.0.0.3");
    /* Workers take connections in parallel, so a TLS connection made right after the silent
     * ones may be admitted before the last of them, which is then the one refused (closed).
     * So: replace any silent connection the server closed, and count a TLS refusal only when
     * all four are still open a moment later (by then every one of them has been taken). */
    end = now_ms() + SETTLE_MS;
    while (!refused && now_ms() < end) {
        for (size_t i = 0; i < CAP; i++) {
            if (closed_by_server(raw[i])) {
                assert_int_equal(close(raw[i]), 0);
                raw[i] = silent_from(srv, "127.0.0.3");
            }
        }
        c = bw_tls_connect(srv);
        if (c != NULL) {
            bw_tls_close(c);
            pause_ms(100); /* its slot is released a moment after the close */
            continue;
        }
        pause_ms(200);
        refused = true;
        for (size_t i = 0; i < CAP; i++)
            refused = refused && !closed_by_server(raw[i]);
    }
    assert_true(refused);
    /* Still refused while they stay open; another address is not affected. */
    assert_null(bw_tls_connect(srv));
    source(srv, "127.0.0.2");
    c = connect_admitted(srv);
    assert_int_equal(healthz(c), 200);
    bw_tls_close(c);

    source(srv, "127.0.0.3");
    for (size_t i = 0; i < CAP; i++)
        assert_int_equal(close(raw[i]), 0);
    c = connect_admitted(srv);
    assert_int_equal(healthz(c), 200);
    bw_tls_close(c);
    source(srv, NULL);
}

static char *config_path;

static int setup(void **state)
{
    bw_srv *srv = bw_test_srv_start_json(config, &config_path);

    *state = srv;
    return srv != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    bw_srv *srv = *state;

    return bw_test_srv_stop(&srv, &config_path) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_per_address),
        cmocka_unit_test(test_silent_connections_count),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
