/* Audit writer cost (docs/performance.md, "Audit"): records/s and the latency bw_audit_wait
 * adds to one audited request, for T threads that each push a record and wait for it to be
 * durable (the pattern of an audited request), T = 1, 4, 16, 64; and the throughput when
 * nobody waits (a queue of 4096). The database is a fresh file in DIR (its disk is what is
 * measured: fsync per transaction). Usage: audit_bench DIR [records per case]. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bulwark/audit.h"

typedef struct job {
    long n;
    int wait;
    double lat_sum; /* seconds between push and the end of wait */
    double lat_max;
} job;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    job *j = arg;
    bw_log_field d[] = {BW_LOG_S("route", "/v1/notes/{id}"), BW_LOG_I("status", 200)};
    bw_audit_event ev = {.event = "note.update",
                         .outcome = BW_AUDIT_SUCCESS,
                         .actor = "alice",
                         .source = "192.0.2.10",
                         .request_id = "0123456789abcdef",
                         .target = "note:42",
                         .detail = d,
                         .ndetail = 2};

    for (long i = 0; i < j->n; i++) {
        double t0 = now(), dt;
        uint64_t t = bw_audit_push(&ev);

        if (t == 0 || (j->wait && bw_audit_wait(t) != 0)) {
            fprintf(stderr, "audit_bench: a record was not committed\n");
            exit(1);
        }
        dt = now() - t0;
        j->lat_sum += dt;
        if (dt > j->lat_max)
            j->lat_max = dt;
    }
    return NULL;
}

static void bench(const char *dir, int threads, long total, int wait, int round)
{
    char path[4096], err[256];
    unsigned char key[32];
    bw_audit_options o = {
        .path = path, .key = key, .keylen = sizeof(key), .queue_capacity = 4096, .batch_max = 256};
    pthread_t th[64];
    job jobs[64];
    bw_audit_stats s;
    double t0, secs, lat = 0, max = 0;
    int i;

    snprintf(path, sizeof(path), "%s/bench-%d-%d-%d.db", dir, threads, wait, round);
    randombytes_buf(key, sizeof(key));
    if (bw_audit_start(&o, err, sizeof(err)) != 0) {
        fprintf(stderr, "audit_bench: %s\n", err);
        exit(1);
    }
    t0 = now();
    for (i = 0; i < threads; i++) {
        jobs[i] = (job){.n = total / threads, .wait = wait};
        if (pthread_create(&th[i], NULL, run, &jobs[i]) != 0)
            exit(1);
    }
    for (i = 0; i < threads; i++)
        (void)pthread_join(th[i], NULL);
    bw_audit_stop(); /* drains: counted in the time when nobody waits */
    secs = now() - t0;
    bw_audit_stats_get(&s);
    for (i = 0; i < threads; i++) {
        lat += jobs[i].lat_sum;
        if (jobs[i].lat_max > max)
            max = jobs[i].lat_max;
    }
    printf("%-7s threads=%-3d records=%-6llu records/s=%-8.0f per-tx=%-6.1f "
           "commit-mean-us=%-6.0f %s-us mean=%.0f max=%.0f\n",
           wait ? "wait" : "no-wait", threads, (unsigned long long)s.committed,
           (double)s.committed / secs, (double)s.committed / (double)s.batches,
           (double)s.commit_us_sum / (double)s.batches, wait ? "push+wait" : "push",
           lat / (double)s.committed * 1e6, max * 1e6);
    (void)unlink(path);
}

int main(int argc, char **argv)
{
    static const int threads[] = {1, 4, 16, 64};
    long total = argc > 2 ? atol(argv[2]) : 4000;
    size_t i;

    if (argc < 2 || total < 64 || sodium_init() < 0) {
        fprintf(stderr, "usage: audit_bench DIR [records per case, >= 64]\n");
        return 2;
    }
    for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++)
        bench(argv[1], threads[i], threads[i] == 1 ? total / 4 : total, 1, (int)i);
    bench(argv[1], 16, total * 4, 0, 9);
    return 0;
}
