/* A login flood cannot exhaust memory: Argon2id needs memlimit bytes per hash, and the
 * hashing gate lets only auth.password.memory_budget_mib / memlimit of them run at once.
 * Beyond that, a login waits at most auth.password.queue_wait_ms, then gets 503 with
 * Retry-After. Here the budget holds one hash and the wait is 0, so concurrent logins must
 * be shed, and the server's peak memory must grow by about one hash, not one per request. */
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "auth_client.h"
#include "harness.h"

#define FLOOD 12

static const char config[] = "{\"ratelimit\": {\"route_burst\": 100000}, \"auth\": {\"password\": {\"opslimit\": 6, \"memlimit_kib\": 19456,"
                             " \"memory_budget_mib\": 19, \"queue_wait_ms\": 0}}}";

typedef struct shot {
    bw_srv *srv;
    long status;
    bool retry_after;
} shot;

static void *login(void *arg)
{
    shot *s = arg;
    bw_resp r;

    if (bw_http_as(s->srv, NULL, "POST", "/v1/auth/login",
                   "{\"username\":\"alice\",\"password\":\"correct horse battery staple\"}", NULL,
                   &r) == 0) {
        s->status = r.status;
        for (size_t i = 0; i < r.nheaders; i++) {
            if (strcasecmp(r.headers[i].name, "Retry-After") == 0 && atoi(r.headers[i].value) >= 1)
                s->retry_after = true;
        }
        bw_resp_free(&r);
    }
    return NULL;
}

/* Peak resident memory of the server so far, in KiB (VmHWM), or -1. */
static long peak_kib(bw_srv *srv)
{
    char path[64], *text, *p;
    long kib = -1;

    snprintf(path, sizeof path, "/proc/%d/status", (int)bw_srv_pid(srv));
    text = bw_read_file(path, NULL);
    if (text != NULL && (p = strstr(text, "VmHWM:")) != NULL)
        kib = strtol(p + 6, NULL, 10);
    free(text);
    return kib;
}

static void test_flood_is_shed(void **state)
{
    (void)state;
    char *cfg = NULL;
    bw_srv *srv = bw_test_srv_start_json(config, &cfg);
    pthread_t th[FLOOD];
    shot shots[FLOOD];
    int ok = 0, shed = 0;
    long before, after;

    assert_non_null(srv);
    assert_int_equal(bw_test_user_add(srv, "alice", "correct horse battery staple", "viewer"), 0);
    /* One login alone succeeds: the gate only sheds what does not fit. */
    char *token = NULL;
    assert_int_equal(bw_test_login(srv, "alice", "correct horse battery staple", &token, NULL), 0);
    free(token);
    before = peak_kib(srv);
    assert_true(before > 0);

    for (int round = 0; round < 3 && shed == 0; round++) {
        for (int i = 0; i < FLOOD; i++) {
            shots[i] = (shot){.srv = srv};
            assert_int_equal(pthread_create(&th[i], NULL, login, &shots[i]), 0);
        }
        for (int i = 0; i < FLOOD; i++) {
            assert_int_equal(pthread_join(th[i], NULL), 0);
            if (shots[i].status == 200) {
                ok++;
            } else {
                /* Nothing but success or a fast, explained refusal. */
                assert_int_equal(shots[i].status, 503);
                assert_true(shots[i].retry_after);
                shed++;
            }
        }
    }
    after = peak_kib(srv);
    fprintf(stderr, "[flood] %d logins ok, %d shed with 503; peak RSS %ld -> %ld KiB\n", ok, shed,
            before, after);
    assert_true(ok >= 1);
    assert_true(shed >= 1);
    /* Twelve hashes at once would need 12 x 19 MiB; the gate allows one at a time. Generous
     * slack covers allocator and TLS buffers, and stays far below what no gate would cost. */
    assert_true(after - before < 19456 * 4);
    assert_true(bw_srv_alive(srv));
    assert_int_equal(bw_test_srv_stop(&srv, &cfg), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flood_is_shed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
