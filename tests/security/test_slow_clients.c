/* Slow clients cannot starve the service: slowhttptest holds several hundred connections open
 * from 127.0.0.1, trickling request heads (Slowloris) or bodies (R-U-Dead-Yet), while a
 * legitimate client on 127.0.0.2 keeps asking for GET /healthz. The per-address connection cap
 * leaves the attacker only a few workers, so every legitimate request must succeed within 2 s.
 * The legitimate client's latencies are printed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth_client.h"
#include "harness.h"

extern char **environ;

#define ATTACK_SECONDS 14
#define WARMUP_MS 3000
#define PROBE_MS 8000
#define PROBE_EVERY_MS 250
#define LATENCY_LIMIT_MS 2000.0

static const char config[] = "{\"limits\": {\"max_connections_per_address\": 8},"
                             " \"auth\": {\"password\": {\"memlimit_kib\": 19456}}}";

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Starts slowhttptest against srv in mode "-H" (slow headers) or "-B" (slow body). */
static pid_t start_attack(bw_srv *srv, const char *mode)
{
    char url[256], len[16];
    posix_spawn_file_actions_t fa;
    pid_t pid = -1;
    int rc;

    assert_int_equal(
        bw_srv_url(srv, strcmp(mode, "-B") == 0 ? "/v1/auth/login" : "/healthz", url, sizeof url),
        0);
    snprintf(len, sizeof len, "%d", ATTACK_SECONDS);
    const char *argv[] = {"slowhttptest", mode, "-c", "400", "-r", "200",
                          "-i",           "5",  "-x", "10",  "-s", "8192",
                          "-l",           len,  "-p", "3",   "-f", "application/json",
                          "-u",           url,  NULL};
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0), 0);
    rc = posix_spawnp(&pid, "slowhttptest", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("cannot run slowhttptest (%s): install the Debian package slowhttptest",
                 strerror(rc));
    return pid;
}

static void stop_attack(pid_t pid)
{
    int st;

    kill(pid, SIGTERM);
    for (int i = 0; i < 50; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return;
        sleep_ms(100);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
}

static void survive(bw_srv *srv, const char *mode, const char *name)
{
    double lat[PROBE_MS / PROBE_EVERY_MS + 8];
    size_t n = 0;
    pid_t pid = start_attack(srv, mode);
    double end;
    int failures = 0;

    sleep_ms(WARMUP_MS);
    assert_int_equal(bw_srv_set_source(srv, "127.0.0.2"), 0);
    end = now_ms() + PROBE_MS;
    while (now_ms() < end && n < sizeof lat / sizeof lat[0]) {
        bw_resp r;
        double t0 = now_ms();
        int rc = bw_http(srv, "GET", "/healthz", NULL, NULL, 0, &r);

        lat[n] = now_ms() - t0;
        if (rc != 0 || r.status != 200 || lat[n] > LATENCY_LIMIT_MS) {
            fprintf(stderr, "[%s] probe %zu: rc %d status %ld after %.0f ms\n", name, n, rc,
                    rc == 0 ? r.status : 0L, lat[n]);
            failures++;
        }
        if (rc == 0)
            bw_resp_free(&r);
        n++;
        sleep_ms(PROBE_EVERY_MS);
    }
    stop_attack(pid);
    assert_int_equal(bw_srv_set_source(srv, NULL), 0);
    qsort(lat, n, sizeof lat[0], cmp_double);
    fprintf(stderr,
            "[%s] legitimate client: %zu requests during the attack, median %.1f ms, "
            "max %.1f ms, %d failed or slower than %.0f ms\n",
            name, n, lat[n / 2], lat[n - 1], failures, LATENCY_LIMIT_MS);
    assert_true(n >= 10);
    assert_int_equal(failures, 0);
    assert_true(bw_srv_alive(srv));
}

static void test_slow_headers(void **state)
{
    survive(*state, "-H", "slowloris");
}

static void test_slow_body(void **state)
{
    survive(*state, "-B", "slow body");
}

static char *config_path;

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
        cmocka_unit_test(test_slow_headers),
        cmocka_unit_test(test_slow_body),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
