/* Unit tests for password hashing, verification, the policy and the gate.
 * Hashes use the minimum parameters (19 MiB, 2 passes) to keep them fast. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bulwark/password.h"

#if defined(__SANITIZE_ADDRESS__)
/* In the sanitize build a refused allocation returns NULL, as it does without
 * ASan, instead of ending the process: test_unallocatable_hash needs that. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif

static const bw_password_params MIN_PARAMS = {BW_PASSWORD_MIN_OPSLIMIT, BW_PASSWORD_MIN_MEMLIMIT};

#define PW "correct horse battery staple"
#define PWLEN (sizeof PW - 1)

static double now_ms(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- hashing and verification ---------------------------------------- */

static void test_hash_verify_roundtrip(void **state)
{
    char h1[BW_PASSWORD_HASH_MAX], h2[BW_PASSWORD_HASH_MAX];

    (void)state;
    assert_int_equal(bw_password_hash(&MIN_PARAMS, PW, PWLEN, h1), 0);
    assert_non_null(memchr(h1, '\0', sizeof h1));
    assert_int_equal(strncmp(h1, "$argon2id$v=19$m=19456,t=2,p=1$", 31), 0);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h1, PW, PWLEN), BW_PASSWORD_MATCH);
    /* A fresh salt every time. */
    assert_int_equal(bw_password_hash(&MIN_PARAMS, PW, PWLEN, h2), 0);
    assert_string_not_equal(h1, h2);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h2, PW, PWLEN), BW_PASSWORD_MATCH);
    /* Multibyte text and an empty password hash too (policy is separate). */
    assert_int_equal(bw_password_hash(&MIN_PARAMS, "p\xC3\xA4ssw\xC3\xB6rd", 10, h2), 0);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h2, "p\xC3\xA4ssw\xC3\xB6rd", 10),
                     BW_PASSWORD_MATCH);
    assert_int_equal(bw_password_hash(&MIN_PARAMS, NULL, 0, h2), 0);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h2, "", 0), BW_PASSWORD_MATCH);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h2, "x", 1), BW_PASSWORD_MISMATCH);
}

static void test_wrong_password(void **state)
{
    char h[BW_PASSWORD_HASH_MAX];

    (void)state;
    assert_int_equal(bw_password_hash(&MIN_PARAMS, PW, PWLEN, h), 0);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h, PW, PWLEN - 1), BW_PASSWORD_MISMATCH);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h, "Correct horse battery staple", PWLEN),
                     BW_PASSWORD_MISMATCH);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h, PW "!", PWLEN + 1), BW_PASSWORD_MISMATCH);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h, "", 0), BW_PASSWORD_MISMATCH);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h, NULL, 0), BW_PASSWORD_MISMATCH);
    /* Wrong even with parameters that would ask for a rehash. */
    const bw_password_params more = {3, BW_PASSWORD_MIN_MEMLIMIT};
    assert_int_equal(bw_password_verify(&more, h, "wrong", 5), BW_PASSWORD_MISMATCH);
}

static void test_rehash(void **state)
{
    char h[BW_PASSWORD_HASH_MAX], i13[BW_PASSWORD_HASH_MAX];
    const bw_password_params more_ops = {3, BW_PASSWORD_MIN_MEMLIMIT};
    const bw_password_params more_mem = {2, BW_PASSWORD_MIN_MEMLIMIT + (size_t)1024 * 1024};

    (void)state;
    assert_int_equal(bw_password_hash(&MIN_PARAMS, PW, PWLEN, h), 0);
    assert_int_equal(bw_password_verify(&more_ops, h, PW, PWLEN), BW_PASSWORD_MATCH_REHASH);
    assert_int_equal(bw_password_verify(&more_mem, h, PW, PWLEN), BW_PASSWORD_MATCH_REHASH);
    /* The new hash, made with the new parameters, is current again. */
    assert_int_equal(bw_password_hash(&more_ops, PW, PWLEN, h), 0);
    assert_int_equal(bw_password_verify(&more_ops, h, PW, PWLEN), BW_PASSWORD_MATCH);
    /* Lower parameters than stored also mean "rehash": the config decides. */
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h, PW, PWLEN), BW_PASSWORD_MATCH_REHASH);
    /* Argon2i (which needs 3 passes at least) with today's parameters moves
     * to Argon2id. */
    assert_int_equal(crypto_pwhash_str_alg(i13, PW, PWLEN, more_ops.opslimit, more_ops.memlimit,
                                           crypto_pwhash_ALG_ARGON2I13),
                     0);
    assert_int_equal(strncmp(i13, "$argon2i$", 9), 0);
    assert_int_equal(bw_password_verify(&more_ops, i13, PW, PWLEN), BW_PASSWORD_MATCH_REHASH);
    assert_int_equal(bw_password_verify(&more_ops, i13, "nope", 4), BW_PASSWORD_MISMATCH);
}

static void test_malformed_hash(void **state)
{
    char h[BW_PASSWORD_HASH_MAX], bad[BW_PASSWORD_HASH_MAX];
    double t0, real, broken;

    (void)state;
    assert_int_equal(bw_password_hash(&MIN_PARAMS, PW, PWLEN, h), 0);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, NULL, PW, PWLEN), BW_PASSWORD_MISMATCH);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, "", PW, PWLEN), BW_PASSWORD_MISMATCH);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, "not a hash", PW, PWLEN),
                     BW_PASSWORD_MISMATCH);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, "$argon2id$", PW, PWLEN),
                     BW_PASSWORD_MISMATCH);
    /* Truncated: the digest is cut short. */
    memcpy(bad, h, sizeof bad);
    bad[strlen(bad) - 5] = '\0';
    assert_int_equal(bw_password_verify(&MIN_PARAMS, bad, PW, PWLEN), BW_PASSWORD_MISMATCH);
    /* Unknown algorithm, same fields. */
    memcpy(bad, h, sizeof bad);
    memcpy(bad, "$argon2x$", 9);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, bad, PW, PWLEN), BW_PASSWORD_MISMATCH);
    /* No NUL within BW_PASSWORD_HASH_MAX bytes. */
    memset(bad, 'a', sizeof bad);
    memcpy(bad, h, strlen(h));
    assert_int_equal(bw_password_verify(&MIN_PARAMS, bad, PW, PWLEN), BW_PASSWORD_MISMATCH);

    /* An unusable hash costs about as much as a real verification. */
    t0 = now_ms();
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h, PW, PWLEN), BW_PASSWORD_MATCH);
    real = now_ms() - t0;
    t0 = now_ms();
    assert_int_equal(bw_password_verify(&MIN_PARAMS, "garbage", PW, PWLEN), BW_PASSWORD_MISMATCH);
    broken = now_ms() - t0;
    print_message("verify %.1f ms, malformed %.1f ms\n", real, broken);
    assert_true(broken > real / 3);
}

static void test_bad_arguments(void **state)
{
    char h[BW_PASSWORD_HASH_MAX], good[BW_PASSWORD_HASH_MAX];
    char big[BW_PASSWORD_MAX_BYTES + 1];
    const bw_password_params few_ops = {BW_PASSWORD_MIN_OPSLIMIT - 1, BW_PASSWORD_MIN_MEMLIMIT};
    const bw_password_params little_mem = {3, BW_PASSWORD_MIN_MEMLIMIT - 1};

    (void)state;
    memset(big, 'x', sizeof big);
    assert_int_equal(bw_password_hash(&MIN_PARAMS, PW, PWLEN, good), 0);
    assert_int_equal(bw_password_hash(NULL, PW, PWLEN, h), -1);
    assert_int_equal(bw_password_hash(&few_ops, PW, PWLEN, h), -1);
    assert_int_equal(bw_password_hash(&little_mem, PW, PWLEN, h), -1);
    assert_int_equal(bw_password_hash(&MIN_PARAMS, NULL, 3, h), -1);
    assert_int_equal(bw_password_hash(&MIN_PARAMS, PW, PWLEN, NULL), -1);
    assert_int_equal(bw_password_hash(&MIN_PARAMS, big, sizeof big, h), -1);
    assert_int_equal(bw_password_hash(&MIN_PARAMS, big, BW_PASSWORD_MAX_BYTES, h), 0);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h, big, BW_PASSWORD_MAX_BYTES),
                     BW_PASSWORD_MATCH);

    assert_int_equal(bw_password_verify(NULL, good, PW, PWLEN), BW_PASSWORD_ERROR);
    assert_int_equal(bw_password_verify(&few_ops, good, PW, PWLEN), BW_PASSWORD_ERROR);
    assert_int_equal(bw_password_verify(&little_mem, good, PW, PWLEN), BW_PASSWORD_ERROR);
    assert_int_equal(bw_password_verify(&MIN_PARAMS, good, NULL, 3), BW_PASSWORD_ERROR);
    /* Longer than any hashable password: cannot match. */
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h, big, sizeof big), BW_PASSWORD_MISMATCH);
    /* Refused without work and without a crash. */
    bw_password_dummy_verify(NULL, PW, PWLEN);
    bw_password_dummy_verify(&few_ops, PW, PWLEN);
    bw_password_dummy_verify(&MIN_PARAMS, NULL, 3);
    bw_password_dummy_verify(&MIN_PARAMS, big, sizeof big);
}

/* A stored hash whose memory cost cannot be allocated fails closed: libsodium
 * reports it like a wrong password, so it is MISMATCH, never MATCH, and no
 * crash. Run in a child whose address space is capped, so the allocation
 * fails however much memory the machine has (and however it overcommits). */
static void test_unallocatable_hash(void **state)
{
    char h[BW_PASSWORD_HASH_MAX], huge[BW_PASSWORD_HASH_MAX];
    const char *m;
    int n, status;
    pid_t pid;

    (void)state;
    assert_int_equal(bw_password_hash(&MIN_PARAMS, PW, PWLEN, h), 0);
    m = strstr(h, "m=19456");
    assert_non_null(m);
    /* 4 TiB: m is in KiB, as large as the format allows. */
    n = snprintf(huge, sizeof huge, "%.*sm=4294967295%s", (int)(m - h), h, m + 7);
    assert_true(n > 0 && (size_t)n < sizeof huge);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit lim;
        char line[128], *end;
        unsigned long pages;
        FILE *f = fopen("/proc/self/statm", "r");
        if (f == NULL || fgets(line, sizeof line, f) == NULL)
            _exit(90);
        (void)fclose(f);
        errno = 0;
        pages = strtoul(line, &end, 10); /* the first field: total pages mapped */
        if (errno != 0 || end == line)
            _exit(90);
        lim.rlim_cur = lim.rlim_max =
            (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (rlim_t)256 * 1024 * 1024;
        if (setrlimit(RLIMIT_AS, &lim) != 0)
            _exit(91);
        _exit((int)bw_password_verify(&MIN_PARAMS, huge, PW, PWLEN));
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), BW_PASSWORD_MISMATCH);
}

static double time_dummy(const bw_password_params *p)
{
    double best = 1e12;
    for (int i = 0; i < 3; i++) {
        double t0 = now_ms(), t;
        bw_password_dummy_verify(p, PW, PWLEN);
        t = now_ms() - t0;
        if (t < best)
            best = t;
    }
    return best;
}

static void test_dummy_verify_cost(void **state)
{
    char h[BW_PASSWORD_HASH_MAX];
    /* About 18 times the work of the minimum, so the comparisons below hold on a busy machine. */
    const bw_password_params heavy = {6, 3 * BW_PASSWORD_MIN_MEMLIMIT};
    double t0, real, light_t, heavy_t, light_again;

    (void)state;
    assert_int_equal(bw_password_hash(&MIN_PARAMS, PW, PWLEN, h), 0);
    t0 = now_ms();
    assert_int_equal(bw_password_verify(&MIN_PARAMS, h, "wrong password", 14),
                     BW_PASSWORD_MISMATCH);
    real = now_ms() - t0;
    light_t = time_dummy(&MIN_PARAMS);
    /* Other parameters: a new dummy hash, costing what those parameters cost. */
    heavy_t = time_dummy(&heavy);
    light_again = time_dummy(&MIN_PARAMS);
    print_message("wrong %.1f ms, dummy %.1f ms, heavy dummy %.1f ms, again %.1f ms\n", real,
                  light_t, heavy_t, light_again);
    assert_true(light_t > real / 3);
    assert_true(heavy_t > 2 * light_t);
    assert_true(light_again < heavy_t / 2);
}

struct dummy_arg {
    const bw_password_params *p;
};

static void *dummy_thread(void *arg)
{
    const struct dummy_arg *d = arg;
    for (int i = 0; i < 2; i++)
        bw_password_dummy_verify(d->p, PW, PWLEN);
    return NULL;
}

/* Concurrent dummies with changing parameters: no race (sanitize build). */
static void test_dummy_verify_threads(void **state)
{
    const bw_password_params other = {3, BW_PASSWORD_MIN_MEMLIMIT};
    struct dummy_arg args[4] = {{&MIN_PARAMS}, {&other}, {&MIN_PARAMS}, {&other}};
    pthread_t t[4];

    (void)state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, dummy_thread, &args[i]), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
}

/* ---- policy ------------------------------------------------------------ */

static int check(const char *user, const char *pw, size_t pwlen, const char **why)
{
    return bw_password_policy_check(user, user != NULL ? strlen(user) : 0, pw, pwlen, why);
}

/* n copies of the UTF-8 sequence s, into a fresh buffer. */
static char *repeat(const char *s, size_t n, size_t *len)
{
    size_t k = strlen(s);
    char *p = malloc(k * n + 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        memcpy(p + i * k, s, k);
    p[k * n] = '\0';
    *len = k * n;
    return p;
}

static void expect_reject(const char *user, const char *pw, size_t pwlen, const char *word)
{
    const char *why = NULL;
    assert_int_equal(check(user, pw, pwlen, &why), -1);
    assert_non_null(why);
    assert_non_null(strstr(why, word));
}

static void expect_accept(const char *user, const char *pw, size_t pwlen)
{
    const char *why = "unset";
    assert_int_equal(check(user, pw, pwlen, &why), 0);
    assert_null(why);
}

static void test_policy_length(void **state)
{
    size_t len;
    char *p;

    (void)state;
    /* 7 code points in 14 bytes is short: characters count, not bytes. */
    p = repeat("\xC3\xA9", 7, &len);
    expect_reject("bob", p, len, "at least 8");
    free(p);
    p = repeat("\xC3\xA9", 8, &len);
    expect_accept("bob", p, len);
    free(p);
    expect_reject("bob", "1234567", 7, "at least 8");
    expect_accept("bob", "12345678", 8);
    expect_reject("bob", "", 0, "at least 8");
    expect_reject("bob", NULL, 0, "at least 8");
    /* 128 four-byte code points (512 bytes) is the longest. */
    p = repeat("\xF0\x9F\x94\x91", 128, &len);
    assert_int_equal(len, BW_PASSWORD_MAX_BYTES);
    expect_accept("bob", p, len);
    free(p);
    p = repeat("\xF0\x9F\x94\x91", 129, &len);
    expect_reject("bob", p, len, "at most 128");
    free(p);
    /* 129 two-byte code points: 258 bytes, under the byte cap, still too long. */
    p = repeat("\xC3\xA9", 129, &len);
    expect_reject("bob", p, len, "at most 128");
    free(p);
    p = repeat("a", 128, &len);
    expect_accept("bob", p, len);
    free(p);
    p = repeat("a", 129, &len);
    expect_reject("bob", p, len, "at most 128");
    free(p);
    /* Composition rules do not exist: all one letter class is fine. */
    expect_accept("bob", "aaaaaaaaaaaa", 12);
}

static void test_policy_bytes(void **state)
{
    (void)state;
    expect_reject("bob", "password\xC3", 9, "UTF-8");
    expect_reject("bob", "pass\xC0\xAEword", 10, "UTF-8");     /* overlong */
    expect_reject("bob", "pass\xED\xA0\x80word", 11, "UTF-8"); /* surrogate */
    expect_reject("bob", "\xFF\xFE\xFD\xFC\xFB\xFA\xF9\xF8", 8, "UTF-8");
    expect_reject("bob", "pass\0word1234", 13, "NUL");
    expect_reject("bob", "12345678\0", 9, "NUL");
    expect_reject("bob", NULL, 12, "could not");
}

static void test_policy_username(void **state)
{
    const char *why = "unset";

    (void)state;
    expect_reject("Alice.Smith", "aLICE.sMITH", 11, "user name");
    expect_reject("alice.smith", "alice.smith", 11, "user name");
    /* Full lengths compare: prefixes and extensions are not equal. */
    expect_accept("alice.smith", "alice.smith1", 12);
    expect_accept("alice.smith1", "alice.smith", 11);
    /* Only ASCII letters fold: E-acute and e-acute differ. */
    expect_accept("\xC3\x89lodie.xyz", "\xC3\xA9lodie.xyz", 11);
    /* Folding touches letters only: '@' (0x40) is not '`' (0x60). */
    expect_accept("12345678@", "12345678`", 9);
    expect_accept(NULL, "alice.smith", 11);
    /* Without a why pointer the answer is the same. */
    assert_int_equal(bw_password_policy_check("bobbobbob", 9, "BOBBOBBOB", 9, NULL), -1);
    assert_int_equal(bw_password_policy_check("bobbobbob", 9, "BOBBOBBOX", 9, NULL), 0);
    /* The explanation never repeats the input. */
    assert_int_equal(check("secretname", "SECRETNAME", 10, &why), -1);
    assert_null(strstr(why, "SECRETNAME"));
    assert_null(strstr(why, "secretname"));
}

/* ---- the gate ---------------------------------------------------------- */

static void test_gate_slots(void **state)
{
    (void)state;
    assert_int_equal(bw_password_gate_slots(100u << 20, 19u << 20), 5);
    assert_int_equal(bw_password_gate_slots(19u << 20, 19u << 20), 1);
    assert_int_equal(bw_password_gate_slots(0, 19u << 20), 1);
    assert_int_equal(bw_password_gate_slots(SIZE_MAX, 1), 64);
    assert_int_equal(bw_password_gate_slots(64u << 20, 1u << 20), 64);
    assert_int_equal(bw_password_gate_slots(63u << 20, 1u << 20), 63);
    assert_int_equal(bw_password_gate_slots(1u << 30, 0), 1);
    assert_null(bw_password_gate_new(0));
    assert_null(bw_password_gate_new(65));
}

static void test_gate_full(void **state)
{
    bw_password_gate *g = bw_password_gate_new(3);
    double t0, waited;

    (void)state;
    assert_non_null(g);
    for (int i = 0; i < 3; i++)
        assert_true(bw_password_gate_enter(g, 0));
    assert_false(bw_password_gate_enter(g, 0));
    assert_false(bw_password_gate_enter(g, -5));
    /* A timed wait gives up after about the time asked. */
    t0 = now_ms();
    assert_false(bw_password_gate_enter(g, 150));
    waited = now_ms() - t0;
    print_message("waited %.1f ms for 150\n", waited);
    assert_true(waited >= 145 && waited < 1500);
    /* Leaving frees exactly one slot. */
    bw_password_gate_leave(g);
    assert_true(bw_password_gate_enter(g, 0));
    assert_false(bw_password_gate_enter(g, 0));
    for (int i = 0; i < 3; i++)
        bw_password_gate_leave(g);
    /* A stray extra leave creates no fourth slot. */
    bw_password_gate_leave(g);
    for (int i = 0; i < 3; i++)
        assert_true(bw_password_gate_enter(g, 0));
    assert_false(bw_password_gate_enter(g, 0));
    bw_password_gate_free(g);
    /* NULL is refused or ignored. */
    assert_false(bw_password_gate_enter(NULL, 0));
    bw_password_gate_leave(NULL);
    bw_password_gate_free(NULL);
}

struct waiter {
    bw_password_gate *g;
    atomic_bool entered;
    double ms;
};

static void *waiter_thread(void *arg)
{
    struct waiter *w = arg;
    double t0 = now_ms();
    bool ok = bw_password_gate_enter(w->g, 10000);
    w->ms = now_ms() - t0;
    atomic_store(&w->entered, ok);
    if (ok)
        bw_password_gate_leave(w->g);
    return NULL;
}

/* A waiter is woken by a leave, long before its deadline. */
static void test_gate_wakeup(void **state)
{
    struct waiter w = {.g = bw_password_gate_new(1)};
    struct timespec pause = {0, 50000000L}; /* 50 ms */
    pthread_t t;

    (void)state;
    assert_non_null(w.g);
    assert_true(bw_password_gate_enter(w.g, 0));
    assert_int_equal(pthread_create(&t, NULL, waiter_thread, &w), 0);
    assert_int_equal(nanosleep(&pause, NULL), 0);
    bw_password_gate_leave(w.g);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(atomic_load(&w.entered));
    assert_true(w.ms < 5000);
    bw_password_gate_free(w.g);
}

#define RACE_THREADS 8
#define RACE_ROUNDS 1000
#define RACE_SLOTS 3

struct race {
    bw_password_gate *g;
    atomic_int inside;
    atomic_int most;
    atomic_int entered;
};

static void *race_thread(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        if (!bw_password_gate_enter(r->g, 10000))
            continue;
        int n = atomic_fetch_add(&r->inside, 1) + 1;
        int m = atomic_load(&r->most);
        while (n > m && !atomic_compare_exchange_weak(&r->most, &m, n))
            ;
        atomic_fetch_add(&r->entered, 1);
        sched_yield(); /* hold the slot a moment: let the others pile up */
        atomic_fetch_sub(&r->inside, 1);
        bw_password_gate_leave(r->g);
    }
    return NULL;
}

static void test_gate_race(void **state)
{
    struct race r = {.g = bw_password_gate_new(RACE_SLOTS)};
    pthread_t t[RACE_THREADS];

    (void)state;
    assert_non_null(r.g);
    for (int i = 0; i < RACE_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race_thread, &r), 0);
    for (int i = 0; i < RACE_THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    print_message("at most %d inside\n", atomic_load(&r.most));
    assert_true(atomic_load(&r.most) >= 1);
    assert_true(atomic_load(&r.most) <= RACE_SLOTS);
    assert_int_equal(atomic_load(&r.entered), RACE_THREADS * RACE_ROUNDS);
    /* Every slot came back. */
    for (int i = 0; i < RACE_SLOTS; i++)
        assert_true(bw_password_gate_enter(r.g, 0));
    assert_false(bw_password_gate_enter(r.g, 0));
    bw_password_gate_free(r.g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_verify_roundtrip),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_rehash),
        cmocka_unit_test(test_malformed_hash),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_unallocatable_hash),
        cmocka_unit_test(test_dummy_verify_cost),
        cmocka_unit_test(test_dummy_verify_threads),
        cmocka_unit_test(test_policy_length),
        cmocka_unit_test(test_policy_bytes),
        cmocka_unit_test(test_policy_username),
        cmocka_unit_test(test_gate_slots),
        cmocka_unit_test(test_gate_full),
        cmocka_unit_test(test_gate_wakeup),
        cmocka_unit_test(test_gate_race),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
