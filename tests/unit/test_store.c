/* Unit tests for the store module: per-thread connections, pragmas, ping, helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/store.h"
#include "temp_store.h"

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (strstr((hay), (needle)) == NULL) {                                                     \
            print_error("\"%s\" does not contain \"%s\"\n", (hay), (needle));                      \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

typedef struct {
    char dir[256];
    char db[300];
} fixture;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    int n;

    if (f == NULL)
        return -1;
    n = snprintf(f->dir, sizeof(f->dir), "%s/bw_store_XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof(f->dir) || mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    n = snprintf(f->db, sizeof(f->db), "%s/app.db", f->dir);
    if (n < 0 || (size_t)n >= sizeof(f->db)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    (void)nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char err[256] = "";

    if (bw_store_exec_script(db, sql, strlen(sql), err, sizeof(err)) != 0) {
        print_error("%s: %s\n", sql, err);
        fail();
    }
}

static int table_exists(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    int rc;

    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE name = ?1", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC), SQLITE_OK);
    rc = sqlite3_step(st);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    return rc == SQLITE_ROW;
}

static double now_ms(void)
{
    struct timespec ts;

    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The file is 0600 whatever the umask: 0277 would leave it read-only, 0 world-readable. */
static void test_open_creates_0600_file(void **state)
{
    static const mode_t masks[] = {0277, 0, 022};
    fixture *f = *state;
    char err[256], wal[320];
    struct stat st;
    bw_store *s;
    size_t i;

    for (i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
        mode_t old = umask(masks[i]);
        int rc = bw_store_open(f->db, 1000, &s, err, sizeof(err));
        (void)umask(old);
        assert_int_equal(rc, 0);
        assert_int_equal(stat(f->db, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        exec_ok(bw_store_conn(s), "CREATE TABLE t (x INTEGER) STRICT; INSERT INTO t VALUES (1);");
        /* SQLite gives the WAL the database file's mode. */
        assert_true((size_t)snprintf(wal, sizeof(wal), "%s-wal", f->db) < sizeof(wal));
        assert_int_equal(stat(wal, &st), 0);
        assert_int_equal(st.st_mode & 0077, 0);
        bw_store_close(s);
        assert_int_equal(unlink(f->db), 0);
        (void)unlink(wal);
    }
}

static void test_reopen_keeps_data(void **state)
{
    fixture *f = *state;
    char err[256];
    bw_store *s;

    assert_int_equal(bw_store_open(f->db, 1000, &s, err, sizeof(err)), 0);
    exec_ok(bw_store_conn(s), "CREATE TABLE t (x INTEGER) STRICT; INSERT INTO t VALUES (42);");
    bw_store_close(s);
    assert_int_equal(bw_store_open(f->db, 1000, &s, err, sizeof(err)), 0);
    assert_int_equal(bw_test_sql_int(bw_store_conn(s), "SELECT x FROM t"), 42);
    bw_store_close(s);
}

typedef struct {
    bw_store *s;
    sqlite3 *other; /* the main thread's connection */
    int differs, stable, wal, fk, sync, trusted, defensive, dqs_refused;
} conn_report;

static void report_conn(conn_report *r)
{
    sqlite3 *db = bw_store_conn(r->s);
    sqlite3_stmt *st = NULL;
    int v = -1;

    r->differs = db != NULL && db != r->other;
    r->stable = db != NULL && bw_store_conn(r->s) == db;
    if (db == NULL)
        return;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        r->wal = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    (void)sqlite3_finalize(st);
    r->fk = (int)bw_test_sql_int(db, "PRAGMA foreign_keys");
    r->sync = (int)bw_test_sql_int(db, "PRAGMA synchronous");
    r->trusted = (int)bw_test_sql_int(db, "PRAGMA trusted_schema");
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, -1, &v) == SQLITE_OK)
        r->defensive = v;
    /* "nosuch" must be an unknown column, not the string 'nosuch'. */
    st = NULL;
    r->dqs_refused = sqlite3_prepare_v2(db, "SELECT \"nosuch\"", -1, &st, NULL) != SQLITE_OK;
    (void)sqlite3_finalize(st);
}

static void *report_thread(void *arg)
{
    report_conn(arg);
    return NULL;
}

static void check_report(const conn_report *r)
{
    assert_true(r->differs);
    assert_true(r->stable);
    assert_true(r->wal);
    assert_int_equal(r->fk, 1);
    assert_int_equal(r->sync, 1); /* NORMAL */
    assert_int_equal(r->trusted, 0);
    assert_int_equal(r->defensive, 1);
    assert_true(r->dqs_refused);
}

static void test_connection_per_thread_with_pragmas(void **state)
{
    fixture *f = *state;
    conn_report main_r = {0}, thr_r = {0};
    pthread_t t;
    char err[256];
    bw_store *s;

    assert_int_equal(bw_store_open(f->db, 1000, &s, err, sizeof(err)), 0);
    main_r.s = s;
    report_conn(&main_r);
    check_report(&main_r);
    thr_r.s = s;
    thr_r.other = bw_store_conn(s);
    assert_int_equal(pthread_create(&t, NULL, report_thread, &thr_r), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    check_report(&thr_r);
    bw_store_close(s);
}

/* Defensive mode: even with writable_schema requested, sqlite_schema cannot be edited. */
static void test_defensive_blocks_schema_writes(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    sqlite3 *db;
    bw_store *s;

    assert_int_equal(bw_store_open(f->db, 1000, &s, err, sizeof(err)), 0);
    db = bw_store_conn(s);
    exec_ok(db, "CREATE TABLE t (x INTEGER) STRICT;");
    static const char evil[] = "PRAGMA writable_schema=ON;"
                               "UPDATE sqlite_schema SET sql = 'CREATE TABLE t (y)' "
                               "WHERE name = 't';";
    assert_int_equal(bw_store_exec_script(db, evil, strlen(evil), err, sizeof(err)), -1);
    assert_contains(err, "line 1");
    assert_contains(err, "may not be modified");
    bw_store_close(s);
}

typedef struct {
    bw_store *s;
    pthread_barrier_t locked, release;
    int began;
} holder;

/* Takes the write lock on its own connection, then exits without committing. */
static void *hold_then_exit(void *arg)
{
    holder *h = arg;

    h->began = bw_store_tx_begin(bw_store_conn(h->s)) == 0;
    (void)pthread_barrier_wait(&h->locked);
    (void)pthread_barrier_wait(&h->release);
    return NULL;
}

/* When a thread ends, its connection is closed: its open transaction goes away with it. */
static void test_thread_exit_closes_connection(void **state)
{
    fixture *f = *state;
    char err[256];
    holder h;
    pthread_t t;
    sqlite3 *db;

    assert_int_equal(bw_store_open(f->db, 0, &h.s, err, sizeof(err)), 0);
    db = bw_store_conn(h.s);
    assert_int_equal(pthread_barrier_init(&h.locked, NULL, 2), 0);
    assert_int_equal(pthread_barrier_init(&h.release, NULL, 2), 0);
    h.began = 0;
    assert_int_equal(pthread_create(&t, NULL, hold_then_exit, &h), 0);
    (void)pthread_barrier_wait(&h.locked);
    assert_true(h.began);
    assert_int_equal(bw_store_tx_begin(db), -1); /* the other thread holds the lock */
    assert_int_equal(sqlite3_errcode(db), SQLITE_BUSY);
    (void)pthread_barrier_wait(&h.release);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(bw_store_tx_begin(db), 0);
    assert_int_equal(bw_store_tx_commit(db), 0);
    assert_int_equal(pthread_barrier_destroy(&h.locked), 0);
    assert_int_equal(pthread_barrier_destroy(&h.release), 0);
    bw_store_close(h.s);
}

/* Measures how long BEGIN IMMEDIATE waits while another connection holds the lock. */
static double blocked_wait_ms(const char *path, int timeout_ms)
{
    sqlite3 *other = NULL;
    char err[256];
    bw_store *s;
    double t0, t1;

    assert_int_equal(bw_store_open(path, timeout_ms, &s, err, sizeof(err)), 0);
    assert_int_equal(sqlite3_open_v2(path, &other, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(bw_store_tx_begin(other), 0);
    t0 = now_ms();
    assert_int_equal(bw_store_tx_begin(bw_store_conn(s)), -1);
    t1 = now_ms();
    assert_int_equal(sqlite3_errcode(bw_store_conn(s)), SQLITE_BUSY);
    assert_int_equal(bw_store_tx_rollback(other), 0);
    assert_int_equal(sqlite3_close(other), SQLITE_OK);
    bw_store_close(s);
    return t1 - t0;
}

static void test_busy_timeout_applied(void **state)
{
    fixture *f = *state;
    double waited;

    waited = blocked_wait_ms(f->db, 300);
    assert_true(waited >= 280.0);
    assert_true(waited < 5000.0);
    waited = blocked_wait_ms(f->db, 0);
    assert_true(waited < 200.0);
}

static const char mig1[] = "CREATE TABLE a (x INTEGER) STRICT;";
static const char mig2[] = "CREATE TABLE b (x INTEGER) STRICT;";
static const bw_migration two[] = {
    {"0001_a.sql", mig1, sizeof(mig1) - 1},
    {"0002_b.sql", mig2, sizeof(mig2) - 1},
};

typedef struct {
    bw_store *s;
    int rc;
} ping_arg;

static void *ping_thread(void *arg)
{
    ping_arg *p = arg;

    p->rc = bw_store_ping(p->s);
    return NULL;
}

static void test_ping_tracks_migrations(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    ping_arg pa;
    pthread_t t;
    int applied = -1;
    sqlite3 *db;
    bw_store *s;

    assert_int_equal(bw_store_open(f->db, 1000, &s, err, sizeof(err)), 0);
    db = bw_store_conn(s);
    assert_int_equal(bw_store_ping(s), -1); /* no list registered: fail closed */
    bw_store_set_migrations(s, two, 2);
    assert_int_equal(bw_store_ping(s), -1); /* nothing applied */
    assert_int_equal(bw_migrate_apply(db, two, 1, &applied, err, sizeof(err)), 0);
    assert_int_equal(applied, 1);
    assert_int_equal(bw_store_ping(s), -1); /* one pending */
    assert_int_equal(bw_migrate_apply(db, two, 2, &applied, err, sizeof(err)), 0);
    assert_int_equal(applied, 1);
    assert_int_equal(bw_store_ping(s), 0);
    pa.s = s;
    pa.rc = -2;
    assert_int_equal(pthread_create(&t, NULL, ping_thread, &pa), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(pa.rc, 0);
    /* A binary that knows fewer migrations than the database is not ready. */
    bw_store_set_migrations(s, two, 1);
    assert_int_equal(bw_store_ping(s), -1);
    bw_store_set_migrations(s, two, 2);
    assert_int_equal(bw_store_ping(s), 0);
    bw_store_close(s);
}

static void test_ping_with_no_migrations(void **state)
{
    fixture *f = *state;
    char err[256];
    bw_store *s;

    assert_int_equal(bw_store_open(f->db, 1000, &s, err, sizeof(err)), 0);
    bw_store_set_migrations(s, NULL, 0);
    assert_int_equal(bw_store_ping(s), 0);
    bw_store_close(s);
}

static void expect_open_fails(const char *path, int timeout, const char *needle)
{
    bw_store *s = (bw_store *)&s; /* must be reset to NULL */
    char err[256] = "";
    char tiny[4];

    assert_int_equal(bw_store_open(path, timeout, &s, err, sizeof(err)), -1);
    assert_null(s);
    assert_true(err[0] != '\0');
    if (needle != NULL)
        assert_contains(err, needle);
    /* Short or absent error buffers are safe. */
    memset(tiny, 'x', sizeof(tiny));
    assert_int_equal(bw_store_open(path, timeout, &s, tiny, sizeof(tiny)), -1);
    assert_int_equal(tiny[sizeof(tiny) - 1], '\0');
    assert_int_equal(bw_store_open(path, timeout, &s, NULL, 0), -1);
    assert_null(s);
}

static void test_bad_paths(void **state)
{
    fixture *f = *state;
    char garbage[320], err[64];
    int fd;

    expect_open_fails(NULL, 1000, "path");
    expect_open_fails("", 1000, "path");
    expect_open_fails(":memory:", 1000, "per thread");
    expect_open_fails("/nonexistent-bw-dir/sub/app.db", 1000, "nonexistent-bw-dir");
    expect_open_fails(f->dir, 1000, NULL); /* a directory */
    expect_open_fails(f->db, -1, "timeout");
    assert_int_equal(access(f->db, F_OK), -1); /* the timeout check came first */

    assert_true((size_t)snprintf(garbage, sizeof(garbage), "%s/garbage.db", f->dir) <
                sizeof(garbage));
    fd = open(garbage, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    static const char junk[] = "this is definitely not an SQLite database file, not at all....."
                               "................................................................";
    assert_int_equal(write(fd, junk, sizeof(junk) - 1), (ssize_t)(sizeof(junk) - 1));
    assert_int_equal(close(fd), 0);
    expect_open_fails(garbage, 1000, "not a database");

    assert_int_equal(bw_store_open(f->db, 1000, NULL, err, sizeof(err)), -1);
}

/* The path is resolved once: a later chdir does not move the database, and a relative name
 * that looks like a URI is still a plain file. */
static void test_relative_path_resolved(void **state)
{
    fixture *f = *state;
    char cwd[4096], err[256], lit[320];
    conn_report r = {0};
    pthread_t t;
    bw_store *s;

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(f->dir), 0);
    assert_int_equal(bw_store_open("file:uri.db?mode=memory", 1000, &s, err, sizeof(err)), 0);
    assert_int_equal(chdir("/"), 0);
    exec_ok(bw_store_conn(s), "CREATE TABLE t (x INTEGER) STRICT; INSERT INTO t VALUES (7);");
    r.s = s;
    assert_int_equal(pthread_create(&t, NULL, report_thread, &r), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(r.wal); /* an in-memory database would report "memory" */
    bw_store_close(s);
    assert_int_equal(chdir(cwd), 0);
    assert_true((size_t)snprintf(lit, sizeof(lit), "%s/file:uri.db?mode=memory", f->dir) <
                sizeof(lit));
    assert_int_equal(bw_store_open(lit, 1000, &s, err, sizeof(err)), 0);
    assert_int_equal(bw_test_sql_int(bw_store_conn(s), "SELECT x FROM t"), 7);
    bw_store_close(s);
}

static void test_transactions(void **state)
{
    fixture *f = *state;
    char err[256];
    sqlite3 *db;
    bw_store *s;

    assert_int_equal(bw_store_open(f->db, 0, &s, err, sizeof(err)), 0);
    db = bw_store_conn(s);
    exec_ok(db, "CREATE TABLE t (x INTEGER) STRICT;");

    assert_int_equal(bw_store_tx_begin(db), 0);
    assert_int_equal(sqlite3_get_autocommit(db), 0);
    exec_ok(db, "INSERT INTO t VALUES (1);");
    assert_int_equal(bw_store_tx_commit(db), 0);
    assert_int_equal(sqlite3_get_autocommit(db), 1);

    assert_int_equal(bw_store_tx_begin(db), 0);
    exec_ok(db, "INSERT INTO t VALUES (2);");
    assert_int_equal(bw_store_tx_begin(db), -1); /* no nesting */
    assert_int_equal(bw_store_tx_rollback(db), 0);
    assert_int_equal(bw_test_sql_int(db, "SELECT group_concat(x) = '1' FROM t"), 1);

    assert_int_equal(bw_store_tx_rollback(db), 0); /* nothing open: fine */
    assert_int_equal(bw_store_tx_commit(db), -1);  /* nothing open: an error */
    assert_int_equal(bw_store_tx_begin(NULL), -1);
    assert_int_equal(bw_store_tx_commit(NULL), -1);
    assert_int_equal(bw_store_tx_rollback(NULL), -1);
    bw_store_close(s);
}

static void test_exec_script(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    sqlite3 *db;
    bw_store *s;

    assert_int_equal(bw_store_open(f->db, 0, &s, err, sizeof(err)), 0);
    db = bw_store_conn(s);

    static const char ok[] = "-- leading comment\n"
                             "CREATE TABLE t (x INTEGER) STRICT;\n"
                             "/* block */ INSERT INTO t VALUES (1);INSERT INTO t VALUES (2);\n"
                             "SELECT * FROM t; -- rows are stepped over\n"
                             "-- trailing comment";
    assert_int_equal(bw_store_exec_script(db, ok, strlen(ok), err, sizeof(err)), 0);
    assert_int_equal(bw_test_sql_int(db, "SELECT sum(x) FROM t"), 3);

    /* Only len bytes run: the statement after them does not. */
    static const char cut[] = "INSERT INTO t VALUES (10);INSERT INTO t VALUES (100);";
    assert_int_equal(bw_store_exec_script(db, cut, 26, err, sizeof(err)), 0);
    assert_int_equal(bw_test_sql_int(db, "SELECT sum(x) FROM t"), 13);

    /* The failing statement is reported by line; earlier ones have run. */
    static const char bad[] = "INSERT INTO t VALUES (1000);\n\n  INSERT INTO nosuch VALUES (1);\n"
                              "INSERT INTO t VALUES (5000);";
    assert_int_equal(bw_store_exec_script(db, bad, strlen(bad), err, sizeof(err)), -1);
    assert_contains(err, "line 3: no such table: nosuch");
    assert_int_equal(bw_test_sql_int(db, "SELECT sum(x) FROM t"), 1013);

    /* A runtime error (not a prepare error) is reported too. */
    static const char strict[] = "INSERT INTO t VALUES ('text');";
    assert_int_equal(bw_store_exec_script(db, strict, strlen(strict), err, sizeof(err)), -1);
    assert_contains(err, "line 1:");

    static const char syntax[] = "CREATE TABL x (y);";
    assert_int_equal(bw_store_exec_script(db, syntax, strlen(syntax), err, sizeof(err)), -1);
    assert_contains(err, "syntax error");

    /* A NUL would make SQLite skip the rest silently. */
    static const char nul[] = "INSERT INTO t VALUES (1);\n\0DROP TABLE t;";
    assert_int_equal(bw_store_exec_script(db, nul, sizeof(nul) - 1, err, sizeof(err)), -1);
    assert_contains(err, "line 2: NUL");
    assert_int_equal(bw_test_sql_int(db, "SELECT sum(x) FROM t"), 1013);

    assert_int_equal(bw_store_exec_script(db, NULL, 0, err, sizeof(err)), 0);
    assert_int_equal(bw_store_exec_script(db, "  \n-- x", 7, err, sizeof(err)), 0);
    assert_int_equal(bw_store_exec_script(NULL, ok, strlen(ok), err, sizeof(err)), -1);
    assert_int_equal(bw_store_exec_script(db, NULL, 5, err, sizeof(err)), -1);
    assert_int_equal(bw_store_exec_script(db, ok, (size_t)1 << 40, NULL, 0), -1);
    assert_true(table_exists(db, "t"));
    bw_store_close(s);
}

/* Sums the first column; stops at a row holding `stop`, fails at one holding `fail`. */
typedef struct summer {
    long long sum, stop, fail;
} summer;

static int sum_row(sqlite3_stmt *st, void *ud)
{
    summer *m = ud;
    long long v = sqlite3_column_int64(st, 0);

    if (v == m->fail)
        return -1;
    m->sum += v;
    return v == m->stop ? 1 : 0;
}

static void test_each_row(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    sqlite3_stmt *st;
    sqlite3 *db;
    bw_store *s;
    static const char q[] = "SELECT x FROM t ORDER BY x";

    assert_int_equal(bw_store_open(f->db, 0, &s, err, sizeof(err)), 0);
    db = bw_store_conn(s);
    assert_int_equal(
        bw_store_exec_script(db, "CREATE TABLE t (x INTEGER) STRICT;", 34, err, sizeof(err)), 0);
    /* no rows */
    summer m = {0, -1, -1};
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(bw_store_each_row(st, sum_row, &m), 0);
    assert_int_equal(
        bw_store_exec_script(db, "INSERT INTO t VALUES (1),(2),(3),(4);", 37, err, sizeof(err)), 0);
    /* every row */
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(bw_store_each_row(st, sum_row, &m), 4);
    assert_int_equal(m.sum, 10);
    /* stop at 2: two rows handed over, the rest never read */
    m = (summer){0, 2, -1};
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(bw_store_each_row(st, sum_row, &m), 2);
    assert_int_equal(m.sum, 3);
    /* the reader fails at 3: the whole call fails */
    m = (summer){0, -1, 3};
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(bw_store_each_row(st, sum_row, &m), -1);
    bw_store_close(s);
}

static void test_null_store(void **state)
{
    (void)state;
    assert_null(bw_store_conn(NULL));
    assert_int_equal(bw_store_ping(NULL), -1);
    bw_store_set_migrations(NULL, two, 2);
    bw_store_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_0600_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_per_thread_with_pragmas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defensive_blocks_schema_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread_exit_closes_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_timeout_applied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_tracks_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_with_no_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_path_resolved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_row, setup, teardown),
        cmocka_unit_test(test_null_store),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
