/* Rate limiter: GCRA arithmetic and its boundaries, policy parsing, exactness under threads,
 * keyed hashing against aimed keys, the memory bound and fail-closed overflow with 2 million
 * keys, reclamation of expired entries, the RateLimit header formatters and argument errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/log.h"
#include "bulwark/ratelimit.h"

#define S_NS 1000000000ull
#define T0 (1000ull * S_NS) /* an arbitrary start time, far from 0 */

static int g_logfd = -1;

static bw_rate_policy policy(const char *text, unsigned burst)
{
    bw_rate_policy p;
    char err[128];

    memset(&p, 0, sizeof(p));
    assert_int_equal(bw_ratelimit_policy_parse(text, strlen(text), burst, &p, err, sizeof(err)), 0);
    return p;
}

static bw_ratelimit *limiter(size_t capacity)
{
    char err[128] = "";
    bw_ratelimit *rl = bw_ratelimit_new(capacity, err, sizeof(err));

    assert_non_null(rl);
    return rl;
}

static bw_rate_result check(bw_ratelimit *rl, const bw_rate_policy *p, const char *key,
                            uint64_t now)
{
    bw_rate_result r;

    assert_int_equal(bw_ratelimit_check(rl, p, key, strlen(key), now, &r), 0);
    return r;
}

/* Checks key n (a counter) with a one-byte prefix distinguishing families of keys. */
static bool check_n(bw_ratelimit *rl, const bw_rate_policy *p, char prefix, uint64_t n,
                    uint64_t now)
{
    unsigned char key[9];
    bw_rate_result r;

    key[0] = (unsigned char)prefix;
    memcpy(key + 1, &n, sizeof(n));
    assert_int_equal(bw_ratelimit_check(rl, p, key, sizeof(key), now, &r), 0);
    return r.allowed;
}

static bw_ratelimit_stats stats(bw_ratelimit *rl)
{
    bw_ratelimit_stats s;

    bw_ratelimit_stats_get(rl, &s);
    return s;
}

static int log_setup(void **state)
{
    (void)state;
    g_logfd = memfd_create("bw_ratelimit_log", 0);
    if (g_logfd < 0)
        return -1;
    bw_log_set_fd(g_logfd);
    bw_log_set_level(BW_LOG_INFO);
    return 0;
}

static int log_teardown(void **state)
{
    (void)state;
    bw_log_set_fd(2);
    close(g_logfd);
    return 0;
}

/* Counts log lines with the given event since the last call, and checks each line is JSON. */
static size_t take_events(const char *event)
{
    off_t end = lseek(g_logfd, 0, SEEK_END);
    size_t n = 0;
    char *buf;

    assert_true(end >= 0);
    buf = malloc((size_t)end + 1);
    assert_non_null(buf);
    assert_int_equal(pread(g_logfd, buf, (size_t)end, 0), end);
    assert_int_equal(ftruncate(g_logfd, 0), 0);
    for (char *line = buf; line < buf + end;) {
        char *nl = memchr(line, '\n', (size_t)(buf + end - line));
        json_t *j;

        assert_non_null(nl);
        j = json_loadb(line, (size_t)(nl - line), 0, NULL);
        assert_non_null(j);
        if (strcmp(json_string_value(json_object_get(j, "event")), event) == 0) {
            assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
            n++;
        }
        json_decref(j);
        line = nl + 1;
    }
    free(buf);
    return n;
}

/* ---- policy parsing ---- */

typedef struct parse_case {
    const char *text;
    unsigned burst;
    uint64_t interval_ns;
    uint32_t rate, period_s, burst_out;
} parse_case;

static void test_policy_parse_valid(void **state)
{
    (void)state;
    static const parse_case cases[] = {
        {"30/min", 0, 2000000000ull, 30, 60, 30},
        {"10/s", 0, 100000000ull, 10, 1, 10},
        {"100/hour", 0, 36000000000ull, 100, 3600, 100},
        {"5/sec", 0, 200000000ull, 5, 1, 5},
        {"1000/day", 0, 86400000000ull, 1000, 86400, 1000},
        {"1/second", 0, 1000000000ull, 1, 1, 1},
        {"2/minute", 0, 30000000000ull, 2, 60, 2},
        {"3/h", 0, 1200000000000ull, 3, 3600, 3},
        {"4/d", 0, 21600000000000ull, 4, 86400, 4},
        {"1000000/s", 0, 1000ull, 1000000, 1, 1000000},
        /* 1e9 / 7 = 142857142.86: rounded up, never faster than written */
        {"7/s", 0, 142857143ull, 7, 1, 7},
        {"10/s", 1, 100000000ull, 10, 1, 1},
        {"10/s", 25, 100000000ull, 10, 1, 25},
        /* T * burst = 8.64e13 * 53000 = 4.58e18 <= 2^62 */
        {"1/day", 53000, 86400000000000ull, 1, 86400, 53000},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const parse_case *c = &cases[i];
        bw_rate_policy p;
        char err[128] = "";

        assert_int_equal(
            bw_ratelimit_policy_parse(c->text, strlen(c->text), c->burst, &p, err, sizeof(err)), 0);
        assert_int_equal(p.interval_ns, c->interval_ns);
        assert_int_equal(p.rate, c->rate);
        assert_int_equal(p.period_s, c->period_s);
        assert_int_equal(p.burst, c->burst_out);
        assert_int_equal(p.tolerance_ns, c->interval_ns * (c->burst_out - 1));
        /* the long-run rate never exceeds rate per period */
        assert_true(p.interval_ns * p.rate >= (uint64_t)p.period_s * S_NS);
    }
}

static void test_policy_parse_explicit_length(void **state)
{
    (void)state;
    bw_rate_policy p;
    char err[128];

    /* Only p[0..len) is read: "30/minute" cut to 6 bytes is "30/min". */
    assert_int_equal(bw_ratelimit_policy_parse("30/minute", 6, 0, &p, err, sizeof(err)), 0);
    assert_int_equal(p.period_s, 60);
    assert_int_equal(p.rate, 30);
    /* cut to 5 bytes, "30/mi" is no unit */
    assert_int_equal(bw_ratelimit_policy_parse("30/minute", 5, 0, &p, err, sizeof(err)), -1);
    /* an embedded NUL counts as a byte */
    assert_int_equal(bw_ratelimit_policy_parse("30/s\0", 5, 0, &p, err, sizeof(err)), -1);
    assert_int_equal(bw_ratelimit_policy_parse("3\0/s", 4, 0, &p, err, sizeof(err)), -1);
}

static void test_policy_parse_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "/",
        "/min",
        "30/",
        "30",
        "30min",
        "min",
        "-1/s",
        "+1/s",
        "0/s",
        "030/s",
        "00/s",
        " 30/s",
        "30/s ",
        "30 /s",
        "30/ s",
        "30/MIN",
        "30/Min",
        "30/mins",
        "30/ms",
        "30/m",
        "30/sec\n",
        "1000001/s",
        "4294967297/s",
        "99999999999/s",
        "30/min/x",
        "30//min",
        "3a/s",
        "0x10/s",
        "1e3/s",
        "30/min;",
        "\xef\xbc\x93/s",
        "30/\xc2\xa0s",
        "30/hours",
        "30/days",
        "30/week",
        "30/y",
        "1.5/s",
        "30\t/s",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bw_rate_policy p;
        char err[128] = "";

        memset(&p, 0xa5, sizeof(p));
        assert_int_equal(bw_ratelimit_policy_parse(bad[i], strlen(bad[i]), 0, &p, err, sizeof(err)),
                         -1);
        assert_true(strlen(err) > 0);
        /* *out untouched on error */
        for (size_t j = 0; j < sizeof(p); j++)
            assert_int_equal(((unsigned char *)&p)[j], 0xa5);
    }

    bw_rate_policy p;
    char err[128] = "";

    /* burst bounds: above the maximum, and T * burst above 2^62 ns */
    assert_int_equal(
        bw_ratelimit_policy_parse("30/min", 6, BW_RATELIMIT_BURST_MAX + 1, &p, err, sizeof(err)),
        -1);
    assert_int_equal(bw_ratelimit_policy_parse("1/day", 5, 54000, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "burst"));
    assert_int_equal(
        bw_ratelimit_policy_parse("1000000/s", 9, BW_RATELIMIT_BURST_MAX, &p, err, sizeof(err)), 0);
    /* NULL text with a length, NULL out, NULL err */
    assert_int_equal(bw_ratelimit_policy_parse(NULL, 3, 0, &p, err, sizeof(err)), -1);
    assert_int_equal(bw_ratelimit_policy_parse(NULL, 0, 0, &p, err, sizeof(err)), -1);
    assert_int_equal(bw_ratelimit_policy_parse("30/min", 6, 0, NULL, err, sizeof(err)), -1);
    assert_int_equal(bw_ratelimit_policy_parse("30/mn", 5, 0, &p, NULL, 0), -1);
}

/* ---- GCRA arithmetic ---- */

/* A fresh key gets exactly `burst` requests at one instant, remaining counting down; the next is
 * refused and told to retry after exactly T, which is then right to the nanosecond. */
static void test_burst_then_refused(void **state)
{
    (void)state;
    bw_ratelimit *rl = limiter(1024);
    bw_rate_policy p = policy("30/min", 0);
    const uint64_t T = p.interval_ns;
    bw_rate_result r;

    for (unsigned i = 1; i <= 30; i++) {
        r = check(rl, &p, "client", T0);
        assert_true(r.allowed);
        assert_int_equal(r.remaining, 30 - i);
        assert_int_equal(r.reset_ns, i * T);
        assert_int_equal(r.retry_after_ns, i == 30 ? T : 0);
    }
    r = check(rl, &p, "client", T0);
    assert_false(r.allowed);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.retry_after_ns, T);
    assert_int_equal(r.reset_ns, 30 * T);
    assert_int_equal(bw_ratelimit_retry_after_s(&r), 2);

    /* refusals consume nothing: one ns early is still refused, with 1 ns to wait */
    r = check(rl, &p, "client", T0 + T - 1);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ns, 1);
    assert_int_equal(bw_ratelimit_retry_after_s(&r), 1);
    r = check(rl, &p, "client", T0 + T);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 0);
    r = check(rl, &p, "client", T0 + T);
    assert_false(r.allowed);

    /* another key is untouched */
    r = check(rl, &p, "other", T0);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 29);
    bw_ratelimit_free(rl);
}

/* With burst 1, requests exactly T apart are all allowed and one just before each is refused. */
static void test_steady_rate(void **state)
{
    (void)state;
    bw_ratelimit *rl = limiter(1024);
    bw_rate_policy p = policy("10/s", 1);
    const uint64_t T = p.interval_ns;
    unsigned allowed = 0;

    assert_true(check(rl, &p, "k", T0).allowed);
    for (uint64_t k = 1; k <= 1000; k++) {
        bw_rate_result early = check(rl, &p, "k", T0 + k * T - 1);
        bw_rate_result on_time = check(rl, &p, "k", T0 + k * T);

        assert_false(early.allowed);
        assert_int_equal(early.retry_after_ns, 1);
        allowed += on_time.allowed;
    }
    assert_int_equal(allowed, 1000);

    /* burst 10 at the same spacing: the first 10 of a sudden burst, then exactly the rate */
    bw_rate_policy q = policy("10/s", 0);
    unsigned got = 0;

    for (uint64_t ms = 0; ms < 5000; ms++) { /* one request per ms for 5 s */
        got += check(rl, &q, "burst", T0 + ms * 1000000ull).allowed;
    }
    /* at t = 0 .. 4.999 s: 10 at once, then one per 100 ms after the first: 10 + 49 */
    assert_int_equal(got, 10 + 49);
    bw_ratelimit_free(rl);
}

/* An idle key comes back to its full burst, never more. */
static void test_idle_returns_full_burst(void **state)
{
    (void)state;
    bw_ratelimit *rl = limiter(1024);
    bw_rate_policy p = policy("5/s", 0);
    const uint64_t T = p.interval_ns;
    bw_rate_result r;

    for (int i = 0; i < 5; i++)
        assert_true(check(rl, &p, "idle", T0).allowed);
    assert_false(check(rl, &p, "idle", T0).allowed);
    /* at TAT (t0 + 5T) the burst is whole again */
    r = check(rl, &p, "idle", T0 + 5 * T);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 4);
    /* after a day of idleness, still exactly 5 */
    unsigned n = 0;
    for (int i = 0; i < 20; i++)
        n += check(rl, &p, "idle", T0 + 86400 * S_NS).allowed;
    assert_int_equal(n, 5);
    bw_ratelimit_free(rl);
}

static void test_boundaries(void **state)
{
    (void)state;
    bw_ratelimit *rl = limiter(1024);
    bw_rate_policy p = policy("1/s", 1);
    bw_rate_policy b3 = policy("3/s", 0);
    const uint64_t T = p.interval_ns;
    bw_rate_result r;

    /* now == TAT is allowed, TAT - 1 is not */
    assert_true(check(rl, &p, "edge", T0).allowed);
    assert_false(check(rl, &p, "edge", T0 + T - 1).allowed);
    assert_true(check(rl, &p, "edge", T0 + T).allowed);

    /* time 0 works like any other */
    assert_true(check(rl, &p, "zero", 0).allowed);
    r = check(rl, &p, "zero", 0);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ns, T);

    /* huge now: the burst, then refusals, and no wrap-around into free requests */
    for (int i = 0; i < 3; i++)
        assert_true(check(rl, &b3, "huge", UINT64_MAX).allowed);
    for (int i = 0; i < 100; i++) {
        r = check(rl, &b3, "huge", UINT64_MAX - (uint64_t)i);
        assert_false(r.allowed);
        assert_int_equal(r.retry_after_ns, b3.interval_ns);
    }

    /* a key first seen at a normal time and then at a huge one is merely idle */
    assert_true(check(rl, &b3, "jump", T0).allowed);
    unsigned n = 0;
    for (int i = 0; i < 10; i++)
        n += check(rl, &b3, "jump", UINT64_MAX).allowed;
    assert_int_equal(n, 3);

    /* a clock going backwards: only stricter */
    for (int i = 0; i < 3; i++)
        assert_true(check(rl, &b3, "back", T0).allowed);
    r = check(rl, &b3, "back", T0 - S_NS);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ns, S_NS + b3.interval_ns);
    assert_false(check(rl, &b3, "back", 0).allowed);
    assert_true(check(rl, &b3, "back", T0 + b3.interval_ns).allowed);
    assert_false(check(rl, &b3, "back", T0 + b3.interval_ns).allowed);
    bw_ratelimit_free(rl);
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A random walk of times, often backwards: whatever the order, one key never gets more than
 * burst + (latest - earliest) / T requests. */
static void test_backwards_never_more(void **state)
{
    (void)state;
    bw_ratelimit *rl = limiter(1024);
    bw_rate_policy p = policy("4/s", 0);
    const uint64_t T = p.interval_ns;
    uint64_t seed = 0x9e3779b97f4a7c15ull;

    for (int run = 0; run < 50; run++) {
        char key[16];
        uint64_t now = T0, lo = T0, hi = T0;
        unsigned allowed = 0;

        snprintf(key, sizeof(key), "walk%d", run);
        for (int i = 0; i < 2000; i++) {
            uint64_t step = xorshift(&seed) % (3 * T);

            if (xorshift(&seed) % 3 == 0)
                now -= step;
            else
                now += step / 2;
            lo = now < lo ? now : lo;
            hi = now > hi ? now : hi;
            allowed += check(rl, &p, key, now).allowed;
            assert_true(allowed <= p.burst + (hi - lo) / T);
        }
        assert_true(allowed > 0);
    }
    bw_ratelimit_free(rl);
}

/* ---- threads ---- */

enum { NTHREADS = 8 };

typedef struct hammer {
    bw_ratelimit *rl;
    const bw_rate_policy *p;
    pthread_barrier_t *start;
    unsigned nkeys;  /* keys, hammered one after the other, all threads on the same one */
    unsigned checks; /* per thread and key */
    unsigned allowed;
    int errors;
} hammer;

static void *hammer_run(void *arg)
{
    hammer *h = arg;

    for (unsigned k = 0; k < h->nkeys; k++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "key%u", k);

        /* every thread starts on key k at once, so they race for its burst */
        (void)pthread_barrier_wait(h->start);
        for (unsigned i = 0; i < h->checks; i++) {
            bw_rate_result r;

            if (bw_ratelimit_check(h->rl, h->p, key, (size_t)n, T0, &r) != 0)
                h->errors++;
            h->allowed += r.allowed;
        }
    }
    return NULL;
}

static unsigned hammer_all(bw_ratelimit *rl, const bw_rate_policy *p, unsigned nkeys,
                           unsigned checks)
{
    pthread_t th[NTHREADS];
    hammer h[NTHREADS];
    pthread_barrier_t start;
    unsigned total = 0;

    assert_int_equal(pthread_barrier_init(&start, NULL, NTHREADS), 0);
    for (int i = 0; i < NTHREADS; i++) {
        h[i] = (hammer){.rl = rl, .p = p, .start = &start, .nkeys = nkeys, .checks = checks};
        assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(h[i].errors, 0);
        total += h[i].allowed;
    }
    assert_int_equal(pthread_barrier_destroy(&start), 0);
    return total;
}

/* 8 threads hammer one key at a frozen instant: exactly burst requests get through, key after
 * key. */
static void test_threads_one_key(void **state)
{
    (void)state;
    bw_ratelimit *rl = limiter(1024);
    /* bursts long enough that the threads really overlap on the key */
    bw_rate_policy big = policy("1000000/s", 0), mid = policy("5000/s", 0);

    assert_int_equal(hammer_all(rl, &big, 1, 150000), 1000000);
    assert_int_equal(hammer_all(rl, &mid, 20, 800), 20 * 5000);
    assert_int_equal(stats(rl).overflow_hits, 0);
    bw_ratelimit_free(rl);
}

/* ---- keyed hashing ---- */

static void test_keyed_hashing(void **state)
{
    (void)state;
    bw_ratelimit *a = limiter(4096), *b = limiter(4096);
    bw_rate_policy p = policy("1/min", 1);
    const size_t per_shard = stats(a).capacity / BW_RATELIMIT_SHARDS;
    enum { AIMED = 3 * BW_RATELIMIT_PROBE };
    uint64_t aimed[AIMED];
    size_t naimed = 0, same = 0, target = SIZE_MAX;

    assert_int_equal(stats(a).capacity, 4096);
    /* the same key lands in unrelated slots of two limiters */
    for (uint64_t k = 0; k < 256; k++) {
        size_t sa = bw_ratelimit_slot(a, &p, &k, sizeof(k));
        size_t sb = bw_ratelimit_slot(b, &p, &k, sizeof(k));

        assert_true(sa < 4096 && sb < 4096);
        assert_int_equal(sa, bw_ratelimit_slot(a, &p, &k, sizeof(k))); /* stable */
        same += sa == sb;
    }
    assert_true(same < 8); /* expected 256 / 4096 */

    /* An attacker who knew a's hash key: keys aimed at one shard of a. */
    for (uint64_t k = 1000; naimed < AIMED; k++) {
        size_t shard = bw_ratelimit_slot(a, &p, &k, sizeof(k)) / per_shard;

        if (target == SIZE_MAX)
            target = shard;
        if (shard == target)
            aimed[naimed++] = k;
    }
    /* in a they overflow the shard (16 slots for 24 keys) and are limited together ... */
    unsigned allowed_a = 0, allowed_b = 0;
    for (size_t i = 0; i < AIMED; i++) {
        bw_rate_result r;

        assert_int_equal(bw_ratelimit_check(a, &p, &aimed[i], sizeof(aimed[i]), T0, &r), 0);
        allowed_a += r.allowed;
    }
    bw_ratelimit_stats sa = stats(a);
    assert_true(sa.entries_in_use <= per_shard);
    assert_int_equal(sa.overflow_hits, AIMED - sa.entries_in_use);
    assert_true(sa.overflow_hits >= AIMED - per_shard);
    /* one each for the keys that got a slot, one for all the others together */
    assert_int_equal(allowed_a, sa.entries_in_use + 1);
    /* ... while in b they are ordinary keys, spread out, each with its own slot */
    size_t shards_b[AIMED] = {0}, distinct = 0;
    for (size_t i = 0; i < AIMED; i++) {
        bw_rate_result r;
        size_t s = bw_ratelimit_slot(b, &p, &aimed[i], sizeof(aimed[i])) / per_shard;
        bool seen = false;

        for (size_t j = 0; j < distinct; j++)
            seen = seen || shards_b[j] == s;
        if (!seen)
            shards_b[distinct++] = s;
        assert_int_equal(bw_ratelimit_check(b, &p, &aimed[i], sizeof(aimed[i]), T0, &r), 0);
        allowed_b += r.allowed;
    }
    assert_true(distinct >= AIMED / 2);
    assert_int_equal(stats(b).overflow_hits, 0);
    assert_int_equal(allowed_b, AIMED);
    assert_int_equal(take_events("ratelimit.table_full"), 1); /* a's, not b's */
    bw_ratelimit_free(a);
    bw_ratelimit_free(b);
}

/* One key under two policies has two independent budgets; two policies with the same T and
 * tau are one. */
static void test_policy_separates_keys(void **state)
{
    (void)state;
    bw_ratelimit *rl = limiter(1024);
    bw_rate_policy one = policy("1/min", 0), two = policy("2/min", 0);
    bw_rate_policy one_again = policy("60/hour", 1);

    assert_true(check(rl, &one, "k", T0).allowed);
    assert_false(check(rl, &one, "k", T0).allowed);
    assert_false(check(rl, &one_again, "k", T0).allowed);
    assert_true(check(rl, &two, "k", T0).allowed);
    assert_true(check(rl, &two, "k", T0).allowed);
    assert_false(check(rl, &two, "k", T0).allowed);
    bw_ratelimit_free(rl);
}

/* ---- memory bound, overflow, reclamation ---- */

static size_t rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kib = 0;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "VmRSS: %zu kB", &kib) == 1)
            break;
    }
    assert_int_equal(fclose(f), 0);
    assert_true(kib > 0);
    return kib;
}

/* 2 million distinct keys against a 65536-entry table at one instant: memory stays at the
 * table's size, the table fills, the rest share the overflow buckets and are refused. */
static void test_memory_bound_2m_keys(void **state)
{
    (void)state;
    enum { NKEYS = 2000000, CAP = 65536 };
    bw_rate_policy p = policy("1/hour", 1);
    size_t before = rss_kib(), after;
    bw_ratelimit *rl = limiter(CAP);
    bw_ratelimit_stats s;
    uint64_t allowed = 0;

    for (uint64_t i = 0; i < NKEYS; i++)
        allowed += check_n(rl, &p, 'm', i, T0);
    after = rss_kib();
    s = stats(rl);
    print_message("rss %zu -> %zu KiB, %" PRIu64 " allowed, %zu in use, %" PRIu64
                  " overflow hits\n",
                  before, after, allowed, s.entries_in_use, s.overflow_hits);
    assert_int_equal(s.capacity, CAP);
    assert_true(bw_ratelimit_bytes_per_entry() >= 16 && bw_ratelimit_bytes_per_entry() <= 32);
    /* 2M keys stored would be 32 MiB; the table is 1 MiB; slack 2 MiB */
    assert_true((after > before ? after - before : 0) * 1024 <=
                CAP * bw_ratelimit_bytes_per_entry() + 2 * 1024 * 1024);
    /* the table is full: ~7800 keys per 256-slot shard leave no hole */
    assert_int_equal(s.entries_in_use, CAP);
    assert_int_equal(s.overflow_hits, NKEYS - s.entries_in_use);
    /* fail closed: each stored key got its 1; the overflow buckets one each, at this instant */
    assert_true(allowed >= s.entries_in_use);
    assert_true(allowed <= s.entries_in_use + BW_RATELIMIT_SHARDS);
    /* a new key now is refused, and so is a stored key's second request */
    assert_false(check_n(rl, &p, 'n', 1, T0));
    assert_false(check_n(rl, &p, 'm', 0, T0));
    assert_int_equal(take_events("ratelimit.table_full"), 1);
    bw_ratelimit_free(rl);
}

/* Once entries expire, new keys take their slots and get their own budget again. */
static void test_reclaim_expired(void **state)
{
    (void)state;
    bw_ratelimit *rl = limiter(1); /* rounded up to 256 shards * 8 slots */
    bw_rate_policy p = policy("1/min", 1);
    const size_t cap = stats(rl).capacity;
    bw_ratelimit_stats s;
    uint64_t hits;

    assert_int_equal(cap, BW_RATELIMIT_SHARDS * BW_RATELIMIT_PROBE);
    for (uint64_t i = 0; i < 20 * cap; i++)
        (void)check_n(rl, &p, 'a', i, T0);
    s = stats(rl);
    assert_int_equal(s.entries_in_use, cap);
    hits = s.overflow_hits;
    assert_true(hits >= 19 * cap);
    /* still full a nanosecond before the entries expire: a new key overflows */
    (void)check_n(rl, &p, 'b', 0, T0 + p.interval_ns - 1);
    assert_int_equal(stats(rl).overflow_hits, hits + 1);
    hits++;
    /* at TAT every old key is back to full burst: 128 new keys get their own slots */
    for (uint64_t i = 1; i <= 128; i++) {
        assert_true(check_n(rl, &p, 'b', i, T0 + p.interval_ns));
        assert_false(check_n(rl, &p, 'b', i, T0 + p.interval_ns)); /* their own TAT */
    }
    s = stats(rl);
    assert_int_equal(s.overflow_hits, hits);
    assert_int_equal(s.entries_in_use, cap); /* reused, not added */
    /* the log said so once, however many overflows */
    assert_int_equal(take_events("ratelimit.table_full"), 1);
    bw_ratelimit_free(rl);
}

/* ---- headers ---- */

static void test_format_policy(void **state)
{
    (void)state;
    char buf[BW_RATELIMIT_FIELD_SIZE];
    bw_rate_policy p = policy("30/min", 0), d = policy("1000/day", 5);
    int n;

    n = bw_ratelimit_format_policy("default", 7, &p, buf, sizeof(buf));
    assert_string_equal(buf, "\"default\";q=30;w=60");
    assert_int_equal(n, (int)strlen(buf));
    n = bw_ratelimit_format_policy("per-user", 8, &d, buf, sizeof(buf));
    assert_string_equal(buf, "\"per-user\";q=1000;w=86400");
    assert_int_equal(n, (int)strlen(buf));
    /* quote and backslash escaped, space kept */
    n = bw_ratelimit_format_policy("a \"b\\c", 6, &p, buf, sizeof(buf));
    assert_string_equal(buf, "\"a \\\"b\\\\c\";q=30;w=60");
    assert_int_equal(n, 20);
    /* exact fit and one byte short */
    assert_int_equal(bw_ratelimit_format_policy("default", 7, &p, buf, 20), 19);
    assert_int_equal(bw_ratelimit_format_policy("default", 7, &p, buf, 19), -1);
    assert_string_equal(buf, "");
    assert_int_equal(bw_ratelimit_format_policy("default", 7, &p, buf, 3), -1);
    assert_string_equal(buf, "");
    /* the longest, most escaped name fits the documented size */
    char name[BW_RATELIMIT_NAME_MAX + 1];
    memset(name, '\\', sizeof(name));
    n = bw_ratelimit_format_policy(name, BW_RATELIMIT_NAME_MAX, &p, buf, sizeof(buf));
    assert_int_equal(n, 2 * BW_RATELIMIT_NAME_MAX + 2 + (int)strlen(";q=30;w=60"));
    /* refused names and policies */
    assert_int_equal(
        bw_ratelimit_format_policy(name, BW_RATELIMIT_NAME_MAX + 1, &p, buf, sizeof(buf)), -1);
    static const char *const bad[] = {"", "a\nb", "tab\t", "del\x7f", "caf\xc3\xa9", "nul\0x"};
    static const size_t badlen[] = {0, 3, 4, 4, 5, 5};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(buf, "junk", 5);
        assert_int_equal(bw_ratelimit_format_policy(bad[i], badlen[i], &p, buf, sizeof(buf)), -1);
        assert_string_equal(buf, "");
    }
    bw_rate_policy bogus = p;
    bogus.period_s = 7;
    assert_int_equal(bw_ratelimit_format_policy("x", 1, &bogus, buf, sizeof(buf)), -1);
    bogus = p;
    bogus.rate = 0;
    assert_int_equal(bw_ratelimit_format_policy("x", 1, &bogus, buf, sizeof(buf)), -1);
    assert_int_equal(bw_ratelimit_format_policy(NULL, 1, &p, buf, sizeof(buf)), -1);
    assert_int_equal(bw_ratelimit_format_policy("x", 1, NULL, buf, sizeof(buf)), -1);
    assert_int_equal(bw_ratelimit_format_policy("x", 1, &p, NULL, 10), -1);
    assert_int_equal(bw_ratelimit_format_policy("x", 1, &p, buf, 0), -1);
}

/* Formats r's state and checks it is "name";r=<remaining>;t=<t>. */
static void expect_state(const bw_rate_policy *p, const bw_rate_result *r, unsigned rem, unsigned t)
{
    char buf[BW_RATELIMIT_FIELD_SIZE], want[64];
    int n = snprintf(want, sizeof(want), "\"default\";r=%u;t=%u", rem, t);

    assert_int_equal(bw_ratelimit_format_state("default", 7, p, r, buf, sizeof(buf)), n);
    assert_string_equal(buf, want);
    /* r / t never suggests more than the policy's rate */
    assert_true((uint64_t)rem * p->interval_ns <= (uint64_t)t * S_NS);
}

static void test_format_state(void **state)
{
    (void)state;
    char buf[BW_RATELIMIT_FIELD_SIZE];
    bw_ratelimit *rl = limiter(1024);
    bw_rate_policy p = policy("30/min", 0), b10 = policy("30/min", 10);
    bw_rate_result r;

    /* fresh: 29 left; spending them now, the burst would be whole again in 2 + 29 * 2 s */
    r = check(rl, &p, "h", T0);
    expect_state(&p, &r, 29, 60);
    /* 18 used: 12 left, 36 + 24 s */
    for (int i = 0; i < 17; i++)
        r = check(rl, &p, "h", T0);
    expect_state(&p, &r, 12, 60);
    /* half a second later, one more: 11 left, 37.5 + 22 s, rounded up */
    r = check(rl, &p, "h", T0 + S_NS / 2);
    assert_true(r.allowed);
    expect_state(&p, &r, 11, 60);
    /* exhausted: t is the wait for the next request (Retry-After), 60 - 0.5 - 58 s */
    for (int i = 0; i < 30; i++)
        r = check(rl, &p, "h", T0 + S_NS / 2);
    assert_false(r.allowed);
    expect_state(&p, &r, 0, 2);
    assert_int_equal(bw_ratelimit_retry_after_s(&r), 2);
    /* a burst below the count: t is between (burst - 1) * T and burst * T */
    r = check(rl, &b10, "b", T0);
    expect_state(&b10, &r, 9, 20);
    r = check(rl, &b10, "b", T0 + 3 * S_NS / 2);
    expect_state(&b10, &r, 8, 19); /* 2.5 + 8 * 2 = 18.5 s */
    /* allowed with nothing left: t is the wait for the next one */
    bw_rate_policy one = policy("1/min", 0);
    r = check(rl, &one, "o", T0);
    assert_true(r.allowed);
    expect_state(&one, &r, 0, 60);

    /* hand-made extremes saturate and fit the documented size */
    bw_rate_result big = {.allowed = true, .remaining = UINT32_MAX, .reset_ns = UINT64_MAX};
    char name[BW_RATELIMIT_NAME_MAX], want[BW_RATELIMIT_FIELD_SIZE];
    int n = snprintf(want, sizeof(want), ";r=%u;t=%" PRIu64, UINT32_MAX,
                     (uint64_t)(UINT64_MAX / S_NS + 1));

    memset(name, '"', sizeof(name));
    assert_int_equal(bw_ratelimit_format_state(name, sizeof(name), &p, &big, buf, sizeof(buf)),
                     2 * BW_RATELIMIT_NAME_MAX + 2 + n);
    assert_string_equal(buf + 2 * BW_RATELIMIT_NAME_MAX + 2, want);
    /* errors */
    assert_int_equal(bw_ratelimit_format_state("d", 1, &p, &big, buf, 10), -1);
    assert_string_equal(buf, "");
    assert_int_equal(bw_ratelimit_format_state("d", 1, &p, NULL, buf, sizeof(buf)), -1);
    assert_int_equal(bw_ratelimit_format_state("d", 1, NULL, &r, buf, sizeof(buf)), -1);
    bw_rate_policy bogus = p;
    bogus.interval_ns = 0;
    assert_int_equal(bw_ratelimit_format_state("d", 1, &bogus, &r, buf, sizeof(buf)), -1);
    assert_int_equal(bw_ratelimit_format_state("", 0, &p, &r, buf, sizeof(buf)), -1);
    assert_int_equal(bw_ratelimit_format_state("\x1f", 1, &p, &r, buf, sizeof(buf)), -1);
    assert_int_equal(bw_ratelimit_format_state("d", 1, &p, &r, NULL, 5), -1);
    bw_ratelimit_free(rl);
}

static void test_retry_after_s(void **state)
{
    (void)state;
    bw_rate_result r = {.allowed = false, .retry_after_ns = 1};

    assert_int_equal(bw_ratelimit_retry_after_s(&r), 1);
    r.retry_after_ns = S_NS;
    assert_int_equal(bw_ratelimit_retry_after_s(&r), 1);
    r.retry_after_ns = S_NS + 1;
    assert_int_equal(bw_ratelimit_retry_after_s(&r), 2);
    r.retry_after_ns = 0; /* refused means at least one second */
    assert_int_equal(bw_ratelimit_retry_after_s(&r), 1);
    r.allowed = true;
    assert_int_equal(bw_ratelimit_retry_after_s(&r), 0);
    assert_int_equal(bw_ratelimit_retry_after_s(NULL), 0);
}

/* ---- errors and the rest ---- */

static void test_argument_errors(void **state)
{
    (void)state;
    char err[128] = "";
    bw_ratelimit *rl;
    bw_rate_policy p = policy("10/s", 0);
    bw_rate_result r;
    unsigned char key[BW_RATELIMIT_KEY_MAX + 1];

    assert_null(bw_ratelimit_new(0, err, sizeof(err)));
    assert_true(strlen(err) > 0);
    err[0] = '\0';
    assert_null(bw_ratelimit_new(BW_RATELIMIT_CAPACITY_MAX + 1, err, sizeof(err)));
    assert_true(strlen(err) > 0);
    assert_null(bw_ratelimit_new(0, NULL, 0));
    bw_ratelimit_free(NULL);

    rl = limiter(100000);
    assert_int_equal(stats(rl).capacity, 100096); /* 391 per shard */
    memset(key, 'k', sizeof(key));
    /* the longest key works, one byte more does not, and fails closed */
    assert_int_equal(bw_ratelimit_check(rl, &p, key, BW_RATELIMIT_KEY_MAX, T0, &r), 0);
    assert_true(r.allowed);
    r.allowed = true;
    assert_int_equal(bw_ratelimit_check(rl, &p, key, BW_RATELIMIT_KEY_MAX + 1, T0, &r), -1);
    assert_false(r.allowed);
    r.allowed = true;
    assert_int_equal(bw_ratelimit_check(rl, &p, NULL, 1, T0, &r), -1);
    assert_false(r.allowed);
    r.allowed = true;
    assert_int_equal(bw_ratelimit_check(NULL, &p, key, 1, T0, &r), -1);
    assert_false(r.allowed);
    r.allowed = true;
    assert_int_equal(bw_ratelimit_check(rl, NULL, key, 1, T0, &r), -1);
    assert_false(r.allowed);
    assert_int_equal(bw_ratelimit_check(rl, &p, key, 1, T0, NULL), -1);
    /* the empty key is a key like any other */
    assert_int_equal(bw_ratelimit_check(rl, &p, NULL, 0, T0, &r), 0);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 9);
    assert_int_equal(bw_ratelimit_check(rl, &p, "", 0, T0, &r), 0);
    assert_int_equal(r.remaining, 8);
    /* hand-made policies the arithmetic cannot take */
    bw_rate_policy bad = p;
    bad.interval_ns = 0;
    r.allowed = true;
    assert_int_equal(bw_ratelimit_check(rl, &bad, key, 1, T0, &r), -1);
    assert_false(r.allowed);
    bad = p;
    bad.tolerance_ns = (1ull << 62);
    assert_int_equal(bw_ratelimit_check(rl, &bad, key, 1, T0, &r), -1);
    bad.interval_ns = UINT64_MAX;
    bad.tolerance_ns = 0;
    assert_int_equal(bw_ratelimit_check(rl, &bad, key, 1, T0, &r), -1);
    assert_int_equal(bw_ratelimit_slot(rl, &bad, key, 1), SIZE_MAX);
    assert_int_equal(bw_ratelimit_slot(rl, &p, key, BW_RATELIMIT_KEY_MAX + 1), SIZE_MAX);
    assert_int_equal(bw_ratelimit_slot(NULL, &p, key, 1), SIZE_MAX);
    /* the largest a hand-made policy may be still counts without overflow */
    bad.interval_ns = 1;
    bad.tolerance_ns = (1ull << 62) - 1;
    assert_int_equal(bw_ratelimit_check(rl, &bad, key, 1, UINT64_MAX, &r), 0);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, UINT32_MAX);
    bw_ratelimit_stats_get(rl, NULL);
    bw_ratelimit_stats_get(NULL, NULL);
    bw_ratelimit_free(rl);
}

static void test_clock(void **state)
{
    (void)state;
    uint64_t a = bw_ratelimit_now_ns(), b;
    struct timespec ts = {0, 20 * 1000 * 1000};

    assert_true(a > 0);
    assert_int_equal(nanosleep(&ts, NULL), 0);
    b = bw_ratelimit_now_ns();
    assert_true(b >= a + 20 * 1000 * 1000);
    assert_true(b < a + 10 * S_NS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_parse_valid),
        cmocka_unit_test(test_policy_parse_explicit_length),
        cmocka_unit_test(test_policy_parse_errors),
        cmocka_unit_test(test_burst_then_refused),
        cmocka_unit_test(test_steady_rate),
        cmocka_unit_test(test_idle_returns_full_burst),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_backwards_never_more),
        cmocka_unit_test(test_threads_one_key),
        cmocka_unit_test_setup_teardown(test_keyed_hashing, log_setup, log_teardown),
        cmocka_unit_test(test_policy_separates_keys),
        cmocka_unit_test_setup_teardown(test_memory_bound_2m_keys, log_setup, log_teardown),
        cmocka_unit_test_setup_teardown(test_reclaim_expired, log_setup, log_teardown),
        cmocka_unit_test(test_format_policy),
        cmocka_unit_test(test_format_state),
        cmocka_unit_test(test_retry_after_s),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
