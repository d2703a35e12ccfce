/* Unit tests for login throttling: account lockout schedule, address windows, address
 * grouping, independence of scopes and keys, pruning, concurrency. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/store.h"
#include "bulwark/netaddr.h"
#include "bulwark/throttle.h"
#include "harness.h"
#include "temp_store.h"

#define T0 1700000000LL

typedef struct fixture {
    bw_temp_store ts;
    unsigned char key[BW_THROTTLE_KEY_BYTES];
    bw_throttle_policy p;
} fixture;

static const bw_throttle_policy default_policy = {
    .account_threshold = 5,
    .account_base_delay_s = 1,
    .account_max_delay_s = 900,
    .account_reset_s = 86400,
    .address_limit = 50,
    .address_window_s = 900,
};

static int teardown(void **state)
{
    fixture *f = *state;

    if (f == NULL)
        return 0;
    bw_temp_store_close(&f->ts);
    free(f);
    *state = NULL;
    return 0;
}

/* A fresh database in a temp dir with every migration applied. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    *state = f;
    if (f == NULL || bw_temp_store_open(&f->ts, true) != 0) {
        free(f);
        *state = NULL;
        return -1;
    }
    randombytes_buf(f->key, sizeof(f->key));
    f->p = default_policy;
    return 0;
}

static void exec_sql(sqlite3 *db, const char *sql)
{
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

/* Sets the failure count of the only row. */
static void set_failures(sqlite3 *db, long long n)
{
    sqlite3_stmt *st = NULL;

    assert_int_equal(
        sqlite3_prepare_v2(db, "UPDATE login_failures SET failures = ?1", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_bind_int64(st, 1, n), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    assert_int_equal(sqlite3_changes(db), 1);
}

static void fail_acct(fixture *f, const char *name, long long now)
{
    assert_int_equal(
        bw_throttle_fail(f->ts.db, f->key, BW_THROTTLE_ACCOUNT, name, strlen(name), now, &f->p), 0);
}

/* The check's result; *retry gets retry_after_s. */
static int check_acct(fixture *f, const char *name, long long now, long long *retry)
{
    return bw_throttle_check(f->ts.db, f->key, BW_THROTTLE_ACCOUNT, name, strlen(name), now, &f->p,
                             retry);
}

/* Asserts that name is locked at now for exactly `want` more seconds: locked at each of
 * now .. now + want - 1 with the retry counting down, free at now + want. */
static void assert_locked_for(fixture *f, const char *name, long long now, long long want)
{
    long long retry = -1;

    assert_int_equal(check_acct(f, name, now, &retry), 1);
    assert_int_equal(retry, want);
    assert_int_equal(check_acct(f, name, now + want - 1, &retry), 1);
    assert_int_equal(retry, 1);
    assert_int_equal(check_acct(f, name, now + want, &retry), 0);
    assert_int_equal(retry, 0);
}

static void test_lockout_schedule(void **state)
{
    fixture *f = *state;
    long long now = T0, retry = -1, expect = 1;

    for (int n = 1; n <= 4; n++) {
        fail_acct(f, "alice", now);
        assert_int_equal(check_acct(f, "alice", now, &retry), 0);
        now += 10;
    }
    /* 5th: 1 s; each further failure doubles it, up to 900 s. */
    for (int n = 5; n <= 40; n++) {
        fail_acct(f, "alice", now);
        assert_locked_for(f, "alice", now, expect);
        now += expect + 1;
        expect = expect * 2 > 900 ? 900 : expect * 2;
    }
    assert_int_equal(expect, 900);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT failures FROM login_failures"), 40);
}

static void test_lockout_huge_counts(void **state)
{
    fixture *f = *state;

    /* Counts around the exponent cap and at the top of the range. */
    static const long long counts[] = {5 + 29, 5 + 30,    5 + 31,        5 + 62,   5 + 63,
                                       5 + 64, 1LL << 40, LLONG_MAX - 1, LLONG_MAX};
    f->p.account_max_delay_s = INT_MAX;
    fail_acct(f, "bob", T0);
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        long long n = counts[i] == LLONG_MAX ? LLONG_MAX : counts[i] + 1; /* after the fail */
        long long want = n - 5 >= 31 ? INT_MAX : 1LL << (n - 5);

        set_failures(f->ts.db, counts[i]);
        fail_acct(f, "bob", T0 + 1);
        assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT failures FROM login_failures"), n);
        assert_locked_for(f, "bob", T0 + 1, want);
    }
    /* A larger base: exact while base * 2^e fits under the cap, capped from there on, and
     * exponents far past 64 bits neither wrap nor turn negative. */
    static const int exps[] = {0, 1, 21, 22, 30, 31, 32, 33, 53, 54, 62, 63, 64, 65, 200};
    f->p.account_base_delay_s = 1000;
    for (size_t i = 0; i < sizeof(exps) / sizeof(exps[0]); i++) {
        long long want = 1000;

        for (int e = 0; e < exps[i]; e++)
            want = want * 2 > INT_MAX ? INT_MAX : want * 2;
        set_failures(f->ts.db, 5 + exps[i] - 1);
        fail_acct(f, "bob", T0 + 1);
        assert_locked_for(f, "bob", T0 + 1, want);
    }

    /* The largest base: any exponent gives the cap, none overflows on the way. */
    f->p.account_base_delay_s = INT_MAX;
    for (size_t i = 0; i < sizeof(exps) / sizeof(exps[0]); i++) {
        set_failures(f->ts.db, 5 + exps[i] - 1);
        fail_acct(f, "bob", T0 + 1);
        assert_locked_for(f, "bob", T0 + 1, INT_MAX);
    }

    /* A clock at the end of time saturates instead of wrapping. */
    long long retry = 0;
    exec_sql(f->ts.db, "UPDATE login_failures SET failures = 40, last_at = 9223372036854775787");
    fail_acct(f, "bob", LLONG_MAX - 10);
    assert_int_equal(check_acct(f, "bob", LLONG_MAX - 10, &retry), 1);
    assert_int_equal(retry, 10);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT locked_until FROM login_failures"),
                     LLONG_MAX);
}

static void test_reset_on_success(void **state)
{
    fixture *f = *state;
    long long retry = -1;

    for (int n = 0; n < 6; n++)
        fail_acct(f, "carol", T0 + n);
    assert_int_equal(check_acct(f, "carol", T0 + 5, &retry), 1);
    assert_int_equal(
        bw_throttle_reset(f->ts.db, f->key, BW_THROTTLE_ACCOUNT, "carol", strlen("carol")), 0);
    assert_int_equal(check_acct(f, "carol", T0 + 5, &retry), 0);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT count(*) FROM login_failures"), 0);
    /* Counting starts over: four failures are free, the fifth locks for the base delay. */
    for (int n = 0; n < 4; n++) {
        fail_acct(f, "carol", T0 + 10 + n);
        assert_int_equal(check_acct(f, "carol", T0 + 10 + n, &retry), 0);
    }
    fail_acct(f, "carol", T0 + 20);
    assert_locked_for(f, "carol", T0 + 20, 1);
    /* Resetting an unknown name is fine. */
    assert_int_equal(bw_throttle_reset(f->ts.db, f->key, BW_THROTTLE_ACCOUNT, "nobody", 6), 0);
}

static void test_forget_after_reset_period(void **state)
{
    fixture *f = *state;
    long long retry = -1;

    f->p.account_reset_s = 100;
    for (int n = 0; n < 4; n++)
        fail_acct(f, "dave", T0 + n);
    /* 99 s after the last one: still counted, the 5th locks. */
    fail_acct(f, "dave", T0 + 3 + 99);
    assert_locked_for(f, "dave", T0 + 102, 1);

    for (int n = 0; n < 4; n++)
        fail_acct(f, "erin", T0 + n);
    /* 100 s after the last one: forgotten, this is failure 1. */
    fail_acct(f, "erin", T0 + 3 + 100);
    assert_int_equal(check_acct(f, "erin", T0 + 103, &retry), 0);
    assert_int_equal(
        bw_test_sql_int(f->ts.db, "SELECT first_at FROM login_failures WHERE failures = 1"),
        T0 + 103);
}

/* The address id login uses: the rate-limit key of the address (IPv4, IPv6 /64). */
static size_t addr_key(const char *addr, unsigned char out[16])
{
    bw_netaddr a;
    size_t n;

    assert_int_equal(bw_netaddr_parse(addr, strlen(addr), &a), 0);
    n = bw_netaddr_limit_key(&a, out);
    assert_true(n == 4 || n == 8);
    return n;
}

static int fail_addr(fixture *f, const char *addr, long long now)
{
    unsigned char pre[16];
    size_t n = addr_key(addr, pre);

    return bw_throttle_fail(f->ts.db, f->key, BW_THROTTLE_ADDRESS, pre, n, now, &f->p);
}

static int check_addr(fixture *f, const char *addr, long long now, long long *retry)
{
    unsigned char pre[16];
    size_t n = addr_key(addr, pre);

    return bw_throttle_check(f->ts.db, f->key, BW_THROTTLE_ADDRESS, pre, n, now, &f->p, retry);
}

static void test_address_window(void **state)
{
    fixture *f = *state;
    long long retry = -1;
    const long long start = T0;

    f->p.address_limit = 3;
    f->p.address_window_s = 60;
    assert_int_equal(fail_addr(f, "192.0.2.7", start), 0);
    assert_int_equal(fail_addr(f, "192.0.2.7", start + 10), 0);
    assert_int_equal(check_addr(f, "192.0.2.7", start + 10, &retry), 0); /* limit - 1 */
    assert_int_equal(fail_addr(f, "192.0.2.7", start + 20), 0);
    /* limit reached: refused until the window [start, start + 60) ends. */
    assert_int_equal(check_addr(f, "192.0.2.7", start + 20, &retry), 1);
    assert_int_equal(retry, 40);
    assert_int_equal(check_addr(f, "192.0.2.7", start + 59, &retry), 1);
    assert_int_equal(retry, 1);
    assert_int_equal(check_addr(f, "192.0.2.7", start + 60, &retry), 0);
    /* A failure at the window's end opens a new window with one failure. */
    assert_int_equal(fail_addr(f, "192.0.2.7", start + 60), 0);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT failures FROM login_failures"), 1);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT first_at FROM login_failures"), start + 60);

    /* A failure at the window's last second still counts in it. */
    assert_int_equal(fail_addr(f, "198.51.100.1", start), 0);
    assert_int_equal(fail_addr(f, "198.51.100.1", start + 59), 0);
    assert_int_equal(fail_addr(f, "198.51.100.1", start + 59), 0);
    assert_int_equal(check_addr(f, "198.51.100.1", start + 59, &retry), 1);
    assert_int_equal(retry, 1);
    assert_int_equal(check_addr(f, "198.51.100.1", start + 60, &retry), 0);
}

static void test_address_grouping_in_store(void **state)
{
    fixture *f = *state;
    long long retry = 0;

    f->p.address_limit = 1;
    assert_int_equal(fail_addr(f, "2001:db8::1", T0), 0);
    assert_int_equal(check_addr(f, "2001:db8::ffff", T0, &retry), 1);
    assert_int_equal(check_addr(f, "2001:db8::1%eth0", T0, &retry), 1);
    assert_int_equal(check_addr(f, "2001:db8:0:1::1", T0, &retry), 0);
    assert_int_equal(fail_addr(f, "192.0.2.1", T0), 0);
    assert_int_equal(check_addr(f, "::ffff:192.0.2.1", T0, &retry), 1);
    assert_int_equal(check_addr(f, "192.0.2.2", T0, &retry), 0);
}

static void test_scopes_and_keys_independent(void **state)
{
    fixture *f = *state;
    const unsigned char id[4] = {192, 0, 2, 1};
    unsigned char other[BW_THROTTLE_KEY_BYTES];
    long long retry = 0;

    f->p.address_limit = 5;
    for (int n = 0; n < 5; n++)
        assert_int_equal(
            bw_throttle_fail(f->ts.db, f->key, BW_THROTTLE_ACCOUNT, id, sizeof(id), T0, &f->p), 0);
    assert_int_equal(
        bw_throttle_check(f->ts.db, f->key, BW_THROTTLE_ACCOUNT, id, sizeof(id), T0, &f->p, &retry),
        1);
    /* Same bytes, other scope: nothing recorded there. */
    assert_int_equal(
        bw_throttle_check(f->ts.db, f->key, BW_THROTTLE_ADDRESS, id, sizeof(id), T0, &f->p, &retry),
        0);
    for (int n = 0; n < 5; n++)
        assert_int_equal(
            bw_throttle_fail(f->ts.db, f->key, BW_THROTTLE_ADDRESS, id, sizeof(id), T0, &f->p), 0);
    assert_int_equal(
        bw_throttle_check(f->ts.db, f->key, BW_THROTTLE_ADDRESS, id, sizeof(id), T0, &f->p, &retry),
        1);
    /* Resetting the account leaves the address locked. */
    assert_int_equal(bw_throttle_reset(f->ts.db, f->key, BW_THROTTLE_ACCOUNT, id, sizeof(id)), 0);
    assert_int_equal(
        bw_throttle_check(f->ts.db, f->key, BW_THROTTLE_ACCOUNT, id, sizeof(id), T0, &f->p, &retry),
        0);
    assert_int_equal(
        bw_throttle_check(f->ts.db, f->key, BW_THROTTLE_ADDRESS, id, sizeof(id), T0, &f->p, &retry),
        1);
    /* Another name, or the same one under another key, is free. */
    assert_int_equal(
        bw_throttle_check(f->ts.db, f->key, BW_THROTTLE_ADDRESS, id, 3, T0, &f->p, &retry), 0);
    memcpy(other, f->key, sizeof(other));
    other[0] ^= 1;
    assert_int_equal(
        bw_throttle_check(f->ts.db, other, BW_THROTTLE_ADDRESS, id, sizeof(id), T0, &f->p, &retry),
        0);
    /* An empty name is a name like any other. */
    assert_int_equal(bw_throttle_fail(f->ts.db, f->key, BW_THROTTLE_ACCOUNT, NULL, 0, T0, &f->p),
                     0);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT count(*) FROM login_failures"), 2);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    long long retry = 7;
    bw_throttle_policy p = f->p;
    sqlite3 *empty = NULL;

    assert_int_equal(bw_throttle_check(f->ts.db, f->key, BW_THROTTLE_ACCOUNT, "a", 1, T0, &p, NULL),
                     -1);
    assert_int_equal(bw_throttle_check(f->ts.db, NULL, BW_THROTTLE_ACCOUNT, "a", 1, T0, &p, &retry),
                     -1);
    assert_int_equal(
        bw_throttle_check(f->ts.db, f->key, BW_THROTTLE_ACCOUNT, NULL, 1, T0, &p, &retry), -1);
    assert_int_equal(
        bw_throttle_check(f->ts.db, f->key, (bw_throttle_scope)7, "a", 1, T0, &p, &retry), -1);
    assert_int_equal(bw_throttle_check(NULL, f->key, BW_THROTTLE_ACCOUNT, "a", 1, T0, &p, &retry),
                     -1);
    assert_int_equal(
        bw_throttle_check(f->ts.db, f->key, BW_THROTTLE_ACCOUNT, "a", 1, T0, NULL, &retry), -1);
    assert_int_equal(bw_throttle_fail(f->ts.db, f->key, (bw_throttle_scope)-1, "a", 1, T0, &p), -1);
    assert_int_equal(bw_throttle_fail(f->ts.db, f->key, BW_THROTTLE_ADDRESS, NULL, 4, T0, &p), -1);
    assert_int_equal(bw_throttle_reset(f->ts.db, NULL, BW_THROTTLE_ACCOUNT, "a", 1), -1);
    assert_int_equal(bw_throttle_reset(NULL, f->key, BW_THROTTLE_ACCOUNT, "a", 1), -1);
    /* Every field of the policy must be positive. */
    for (int field = 0; field < 6; field++) {
        bw_throttle_policy q = f->p;
        int *fields[] = {&q.account_threshold, &q.account_base_delay_s, &q.account_max_delay_s,
                         &q.account_reset_s,   &q.address_limit,        &q.address_window_s};

        *fields[field] = 0;
        assert_int_equal(bw_throttle_fail(f->ts.db, f->key, BW_THROTTLE_ACCOUNT, "a", 1, T0, &q),
                         -1);
        assert_int_equal(
            bw_throttle_check(f->ts.db, f->key, BW_THROTTLE_ACCOUNT, "a", 1, T0, &q, &retry), -1);
    }
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT count(*) FROM login_failures"), 0);

    /* Database errors: no table. */
    assert_int_equal(sqlite3_open_v2(":memory:", &empty, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(bw_throttle_check(empty, f->key, BW_THROTTLE_ACCOUNT, "a", 1, T0, &p, &retry),
                     -1);
    assert_int_equal(bw_throttle_fail(empty, f->key, BW_THROTTLE_ACCOUNT, "a", 1, T0, &p), -1);
    assert_int_equal(sqlite3_get_autocommit(empty), 1); /* rolled back */
    assert_int_equal(bw_throttle_reset(empty, f->key, BW_THROTTLE_ACCOUNT, "a", 1), -1);
    assert_int_equal(sqlite3_close(empty), SQLITE_OK);
}

static void test_prune_old_rows(void **state)
{
    fixture *f = *state;

    /* Longest period: max(reset 100, window 60, max delay 900) = 900. */
    f->p.account_reset_s = 100;
    f->p.address_window_s = 60;
    fail_acct(f, "old", T0);
    assert_int_equal(fail_addr(f, "192.0.2.1", T0), 0);
    fail_acct(f, "new", T0 + 900);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT count(*) FROM login_failures"), 3);
    fail_acct(f, "new", T0 + 901);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT count(*) FROM login_failures"), 1);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT last_at FROM login_failures"), T0 + 901);
}

static void test_ids_not_stored(void **state)
{
    fixture *f = *state;
    const unsigned char v6[8] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78};
    size_t total = 0;
    char *all;

    fail_acct(f, "victim.name@example.org", T0);
    assert_int_equal(fail_addr(f, "2001:db8:1234:5678::1", T0), 0);
    all = bw_temp_store_files(&f->ts, &total);
    assert_true(total > 0);
    assert_null(memmem(all, total, "victim.name", strlen("victim.name")));
    assert_null(memmem(all, total, v6, sizeof(v6)));
    assert_non_null(memmem(all, total, "login_failures", strlen("login_failures")));
    free(all);
}

/* The stored key is the keyed BLAKE2b-256 of (scope byte || id): 1 for accounts, 2 for
 * addresses. */
static void test_row_key_format(void **state)
{
    fixture *f = *state;
    static const struct {
        bw_throttle_scope scope;
        unsigned char tag;
        const char *sql;
    } scopes[] = {
        {BW_THROTTLE_ACCOUNT, 1, "SELECT key FROM login_failures WHERE scope = 'account'"},
        {BW_THROTTLE_ADDRESS, 2, "SELECT key FROM login_failures WHERE scope = 'address'"},
    };

    for (size_t i = 0; i < 2; i++) {
        unsigned char msg[6] = {scopes[i].tag, 'a', 'l', 'i', 'c', 'e'};
        unsigned char want[32];
        sqlite3_stmt *st = NULL;

        assert_int_equal(bw_throttle_fail(f->ts.db, f->key, scopes[i].scope, "alice", 5, T0, &f->p),
                         0);
        assert_int_equal(
            crypto_generichash(want, sizeof(want), msg, sizeof(msg), f->key, sizeof(f->key)), 0);
        assert_int_equal(sqlite3_prepare_v2(f->ts.db, scopes[i].sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_bytes(st, 0), sizeof(want));
        assert_memory_equal(sqlite3_column_blob(st, 0), want, sizeof(want));
        assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    }
}

#define THREADS 8
#define PER_THREAD 40

typedef struct worker {
    fixture *f;
    int failed;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    sqlite3 *db = bw_store_conn(w->f->ts.store); /* this thread's own connection */

    for (int i = 0; i < PER_THREAD; i++) {
        if (db == NULL || bw_throttle_fail(db, w->f->key, BW_THROTTLE_ACCOUNT, "shared", 6, T0 + i,
                                           &w->f->p) != 0)
            w->failed++;
    }
    return NULL;
}

static void test_concurrent_failures_none_lost(void **state)
{
    fixture *f = *state;
    pthread_t th[THREADS];
    worker w[THREADS];
    long long retry = 0;

    for (int i = 0; i < THREADS; i++) {
        w[i].f = f;
        w[i].failed = 0;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failed, 0);
    }
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT failures FROM login_failures"),
                     THREADS * PER_THREAD);
    assert_int_equal(check_acct(f, "shared", T0 + PER_THREAD, &retry), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lockout_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lockout_huge_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_on_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget_after_reset_period, setup, teardown),
        cmocka_unit_test_setup_teardown(test_address_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_address_grouping_in_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scopes_and_keys_independent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_old_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_not_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_key_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_failures_none_lost, setup, teardown),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
