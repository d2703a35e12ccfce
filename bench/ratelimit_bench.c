/* Cost of one bw_ratelimit_check() in nanoseconds:
 *   - one thread, random keys from a set of 1M (a 2M-entry table, 32 MiB: mostly cache misses);
 *   - one thread, one hot key;
 *   - two threads on the same hot key (one shard lock, contended);
 *   - two threads on different random keys;
 * and the cost of bw_ratelimit_now_ns(). The time passed to the checks advances every 1024
 * calls so the clock read is not counted in the check. Usage: ratelimit_bench [iterations]. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/ratelimit.h"

#define KEYSPACE (1u << 20)

typedef struct job {
    bw_ratelimit *rl;
    const bw_rate_policy *p;
    uint64_t iters;
    uint64_t seed; /* 0: the hot key */
    uint64_t allowed;
    pthread_barrier_t *start;
} job;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static void *run(void *arg)
{
    job *j = arg;
    unsigned char key[16] = "hot-key-0000000";
    uint64_t now = bw_ratelimit_now_ns(), allowed = 0;

    if (j->start != NULL)
        (void)pthread_barrier_wait(j->start);
    for (uint64_t i = 0; i < j->iters; i++) {
        bw_rate_result r;

        if (j->seed != 0) {
            uint64_t a = mix(j->seed + i) % KEYSPACE, b = mix(a);

            memcpy(key, &a, 8); /* like an IPv6 address: 16 bytes */
            memcpy(key + 8, &b, 8);
        }
        if ((i & 1023) == 0)
            now = bw_ratelimit_now_ns();
        if (bw_ratelimit_check(j->rl, j->p, key, sizeof(key), now, &r) != 0) {
            fprintf(stderr, "check failed\n");
            exit(1);
        }
        allowed += r.allowed;
    }
    j->allowed = allowed; /* once: jobs share a cache line */
    return NULL;
}

/* Runs n jobs in parallel and returns the wall time per check per thread, in ns. */
static double timed(job *jobs, int n)
{
    pthread_t th[2];
    pthread_barrier_t start;
    uint64_t t0, t1;

    if (pthread_barrier_init(&start, NULL, (unsigned)n + 1) != 0)
        exit(1);
    for (int i = 0; i < n; i++) {
        jobs[i].start = &start;
        if (pthread_create(&th[i], NULL, run, &jobs[i]) != 0)
            exit(1);
    }
    (void)pthread_barrier_wait(&start);
    t0 = bw_ratelimit_now_ns();
    for (int i = 0; i < n; i++) {
        if (pthread_join(th[i], NULL) != 0)
            exit(1);
    }
    t1 = bw_ratelimit_now_ns();
    (void)pthread_barrier_destroy(&start);
    return (double)(t1 - t0) / (double)jobs[0].iters;
}

int main(int argc, char **argv)
{
    char *end = NULL;
    uint64_t iters = argc > 1 ? strtoull(argv[1], &end, 10) : 5000000;
    char err[128];
    bw_rate_policy p;
    bw_ratelimit *rl;
    uint64_t t0, sink = 0;

    if (iters == 0 || (end != NULL && *end != '\0')) {
        fprintf(stderr, "usage: ratelimit_bench [iterations > 0]\n");
        return 2;
    }
    if (bw_ratelimit_policy_parse("100/s", 5, 0, &p, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    rl = bw_ratelimit_new(2 * (size_t)KEYSPACE, err, sizeof(err));
    if (rl == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /* warm the table: most keys of the set seen once */
    job warm = {.rl = rl, .p = &p, .iters = KEYSPACE, .seed = 1};
    (void)timed(&warm, 1);

    job rnd = {.rl = rl, .p = &p, .iters = iters, .seed = 1};
    printf("1 thread, random keys (1M):      %6.1f ns/check\n", timed(&rnd, 1));
    job hot = {.rl = rl, .p = &p, .iters = iters};
    printf("1 thread, one hot key:           %6.1f ns/check\n", timed(&hot, 1));
    job hot2[2] = {{.rl = rl, .p = &p, .iters = iters}, {.rl = rl, .p = &p, .iters = iters}};
    printf("2 threads, one hot key:          %6.1f ns/check per thread\n", timed(hot2, 2));
    job rnd2[2] = {{.rl = rl, .p = &p, .iters = iters, .seed = 1},
                   {.rl = rl, .p = &p, .iters = iters, .seed = 7777777}};
    printf("2 threads, random keys:          %6.1f ns/check per thread\n", timed(rnd2, 2));
    t0 = bw_ratelimit_now_ns();
    for (uint64_t i = 0; i < iters; i++)
        sink += bw_ratelimit_now_ns();
    printf("bw_ratelimit_now_ns():           %6.1f ns/call\n",
           (double)(bw_ratelimit_now_ns() - t0) / (double)iters);

    bw_ratelimit_stats s;
    bw_ratelimit_stats_get(rl, &s);
    printf("table: %zu entries x %zu bytes, %zu in use, %" PRIu64 " overflow hits (sink %d)\n",
           s.capacity, bw_ratelimit_bytes_per_entry(), s.entries_in_use, s.overflow_hits,
           (int)(sink & 1));
    bw_ratelimit_free(rl);
    return 0;
}
