/* Unit tests for migrations: loading a folder, applying, checksums, rollback, embedding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "bulwark/migrate.h"
#include "bulwark/store.h"
#include "temp_store.h"

extern char **environ;

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (strstr((hay), (needle)) == NULL) {                                                     \
            print_error("\"%s\" does not contain \"%s\"\n", (hay), (needle));                      \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

typedef struct {
    char dir[256];  /* migrations folder */
    char db[300];   /* database file, beside it */
    char root[256]; /* removed at teardown */
    bw_store *store;
    sqlite3 *conn;
    bw_migration *list;
    size_t n;
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
    char err[256];
    int n;

    if (f == NULL)
        return -1;
    n = snprintf(f->root, sizeof(f->root), "%s/bw_migrate_XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof(f->root) || mkdtemp(f->root) == NULL)
        goto fail;
    n = snprintf(f->dir, sizeof(f->dir), "%s/migrations", f->root);
    if (n < 0 || (size_t)n >= sizeof(f->dir) || mkdir(f->dir, 0700) != 0)
        goto fail;
    n = snprintf(f->db, sizeof(f->db), "%s/app.db", f->root);
    if (n < 0 || (size_t)n >= sizeof(f->db))
        goto fail;
    if (bw_store_open(f->db, 1000, &f->store, err, sizeof(err)) != 0) {
        print_error("%s\n", err);
        goto fail;
    }
    f->conn = bw_store_conn(f->store);
    *state = f;
    return 0;
fail:
    free(f);
    return -1;
}

static int teardown(void **state)
{
    fixture *f = *state;

    bw_migrate_free_list(f->list, f->n);
    bw_store_close(f->store);
    (void)nftw(f->root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void write_bytes(const char *dir, const char *name, const char *data, size_t len)
{
    char path[512];
    int fd;

    assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) < sizeof(path));
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    write_bytes(dir, name, text, strlen(text));
}

static void remove_file(const char *dir, const char *name)
{
    char path[512];

    assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) < sizeof(path));
    assert_int_equal(unlink(path), 0);
}

/* Loads f->dir into f->list, replacing any previous list. */
static void load_ok(fixture *f)
{
    char err[256] = "";

    bw_migrate_free_list(f->list, f->n);
    f->list = NULL;
    f->n = 0;
    if (bw_migrate_load_dir(f->dir, &f->list, &f->n, err, sizeof(err)) != 0) {
        print_error("load: %s\n", err);
        fail();
    }
}

static void apply_ok(fixture *f, int want_applied)
{
    char err[512] = "";
    int applied = -1;

    if (bw_migrate_apply(f->conn, f->list, f->n, &applied, err, sizeof(err)) != 0) {
        print_error("apply: %s\n", err);
        fail();
    }
    assert_int_equal(applied, want_applied);
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

static int exec_sql(sqlite3 *db, const char *sql)
{
    return bw_store_exec_script(db, sql, strlen(sql), NULL, 0);
}

/* Runs a statement that must fail with the given primary result code. */
static void expect_sql_error(sqlite3 *db, const char *sql, int code)
{
    char err[256] = "";

    assert_int_equal(bw_store_exec_script(db, sql, strlen(sql), err, sizeof(err)), -1);
    assert_int_equal(sqlite3_errcode(db) & 0xff, code);
}

/* Files created newest first, so directory order is no help; each appends its number. */
static void test_applies_in_numeric_order(void **state)
{
    fixture *f = *state;
    char name[32], sql[64];
    sqlite3_stmt *st = NULL;
    int i;

    for (i = 10; i >= 1; i--) {
        assert_true((size_t)snprintf(name, sizeof(name), "%04d_step_%d.sql", i, i) < sizeof(name));
        if (i == 1)
            write_file(f->dir, name,
                       "CREATE TABLE log (n INTEGER) STRICT;\n"
                       "INSERT INTO log VALUES (1);\n");
        else {
            assert_true((size_t)snprintf(sql, sizeof(sql), "INSERT INTO log VALUES (%d);", i) <
                        sizeof(sql));
            write_file(f->dir, name, sql);
        }
    }
    load_ok(f);
    assert_int_equal(f->n, 10);
    assert_string_equal(f->list[0].name, "0001_step_1.sql");
    assert_string_equal(f->list[1].name, "0002_step_2.sql");
    assert_string_equal(f->list[9].name, "0010_step_10.sql");
    assert_int_equal(f->list[1].sql_len, strlen("INSERT INTO log VALUES (2);"));
    apply_ok(f, 10);

    assert_int_equal(sqlite3_prepare_v2(f->conn, "SELECT n FROM log ORDER BY rowid", -1, &st, NULL),
                     SQLITE_OK);
    for (i = 1; i <= 10; i++) {
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), i);
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
}

/* schema_migrations records name, SHA-256 of the file bytes (checked with libsodium, an
 * independent implementation) and a UTC time. */
static void test_records_checksums(void **state)
{
    fixture *f = *state;
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    sqlite3_stmt *st = NULL;
    size_t i;

    write_file(f->dir, "0001_one.sql", "CREATE TABLE one (x INTEGER) STRICT;\n");
    write_file(f->dir, "0002_two.sql", "CREATE TABLE two (x INTEGER) STRICT; -- é\n");
    load_ok(f);
    apply_ok(f, 2);
    assert_int_equal(sodium_init() >= 0, 1);
    assert_int_equal(sqlite3_prepare_v2(f->conn,
                                        "SELECT version, name, checksum, applied_at "
                                        "FROM schema_migrations ORDER BY version",
                                        -1, &st, NULL),
                     SQLITE_OK);
    for (i = 0; i < 2; i++) {
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), (int)i + 1);
        assert_string_equal((const char *)sqlite3_column_text(st, 1), f->list[i].name);
        crypto_hash_sha256(digest, (const unsigned char *)f->list[i].sql, f->list[i].sql_len);
        assert_non_null(sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest)));
        assert_string_equal((const char *)sqlite3_column_text(st, 2), hex);
        assert_int_equal(sqlite3_column_bytes(st, 3), 24); /* 2024-01-31T12:00:00.000Z */
        assert_int_equal(sqlite3_column_text(st, 3)[23], 'Z');
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
}

static void test_second_run_applies_nothing(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    int pending = -1;

    write_file(f->dir, "0001_t.sql", "CREATE TABLE t (x INTEGER) STRICT;\n");
    write_file(f->dir, "0002_row.sql", "INSERT INTO t VALUES (1);\n");
    load_ok(f);
    apply_ok(f, 2);
    apply_ok(f, 0);
    load_ok(f);
    apply_ok(f, 0);
    assert_int_equal(bw_test_sql_int(f->conn, "SELECT count(*) FROM t"), 1);
    assert_int_equal(bw_migrate_pending(f->conn, f->list, f->n, &pending, err, sizeof(err)), 0);
    assert_int_equal(pending, 0);
    /* A new file is picked up on its own. */
    write_file(f->dir, "0003_row.sql", "INSERT INTO t VALUES (2);\n");
    load_ok(f);
    assert_int_equal(bw_migrate_pending(f->conn, f->list, f->n, &pending, err, sizeof(err)), 0);
    assert_int_equal(pending, 1);
    apply_ok(f, 1);
    assert_int_equal(bw_test_sql_int(f->conn, "SELECT count(*) FROM t"), 2);
}

static void test_pending_changes_nothing(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    int pending = -1;

    write_file(f->dir, "0001_a.sql", "CREATE TABLE a (x INTEGER) STRICT;");
    write_file(f->dir, "0002_b.sql", "CREATE TABLE b (x INTEGER) STRICT;");
    write_file(f->dir, "0003_c.sql", "CREATE TABLE c (x INTEGER) STRICT;");
    load_ok(f);
    assert_int_equal(bw_migrate_pending(f->conn, f->list, f->n, &pending, err, sizeof(err)), 0);
    assert_int_equal(pending, 3);
    assert_false(table_exists(f->conn, "schema_migrations"));
    assert_false(table_exists(f->conn, "a"));
    assert_int_equal(bw_migrate_apply(f->conn, f->list, 1, NULL, err, sizeof(err)), 0);
    assert_int_equal(bw_migrate_pending(f->conn, f->list, f->n, &pending, err, sizeof(err)), 0);
    assert_int_equal(pending, 2);
    assert_false(table_exists(f->conn, "b"));
    assert_int_equal(bw_migrate_pending(NULL, f->list, f->n, &pending, err, sizeof(err)), -1);
    assert_int_equal(bw_migrate_pending(f->conn, f->list, f->n, NULL, err, sizeof(err)), -1);
}

static void test_edited_migration_detected(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    int applied = -1, pending = -1;

    write_file(f->dir, "0001_init.sql", "CREATE TABLE t (x INTEGER) STRICT;\n");
    write_file(f->dir, "0002_more.sql", "CREATE TABLE u (x INTEGER) STRICT;\n");
    load_ok(f);
    apply_ok(f, 2);
    /* One byte more, and a new migration that must not run while the edit stands. */
    write_file(f->dir, "0002_more.sql", "CREATE TABLE u (x INTEGER) STRICT; \n");
    write_file(f->dir, "0003_next.sql", "CREATE TABLE v (x INTEGER) STRICT;\n");
    load_ok(f);
    assert_int_equal(bw_migrate_apply(f->conn, f->list, f->n, &applied, err, sizeof(err)), -1);
    assert_contains(err, "0002_more.sql was edited after it was applied");
    assert_int_equal(applied, 0);
    assert_false(table_exists(f->conn, "v"));
    err[0] = '\0';
    assert_int_equal(bw_migrate_pending(f->conn, f->list, f->n, &pending, err, sizeof(err)), -1);
    assert_contains(err, "0002_more.sql was edited after it was applied");
    /* Putting the original back makes it acceptable again. */
    write_file(f->dir, "0002_more.sql", "CREATE TABLE u (x INTEGER) STRICT;\n");
    load_ok(f);
    apply_ok(f, 1);
    assert_true(table_exists(f->conn, "v"));
}

static void test_failing_migration_rolls_back(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    int applied = -1;

    write_file(f->dir, "0001_ok.sql", "CREATE TABLE t (x INTEGER) STRICT;\n");
    write_file(f->dir, "0002_bad.sql",
               "CREATE TABLE a (x INTEGER) STRICT;\n"
               "INSERT INTO t VALUES (1);\n"
               "INSERT INTO nosuch VALUES (1);\n");
    write_file(f->dir, "0003_after.sql", "CREATE TABLE c (x INTEGER) STRICT;\n");
    load_ok(f);
    assert_int_equal(bw_migrate_apply(f->conn, f->list, f->n, &applied, err, sizeof(err)), -1);
    assert_int_equal(applied, 1);
    assert_contains(err, "0002_bad.sql");
    assert_contains(err, "line 3");
    assert_contains(err, "no such table: nosuch");
    /* Nothing of 0002 is left, 0003 did not run, and the connection is back to normal. */
    assert_false(table_exists(f->conn, "a"));
    assert_int_equal(bw_test_sql_int(f->conn, "SELECT count(*) FROM t"), 0);
    assert_false(table_exists(f->conn, "c"));
    assert_int_equal(bw_test_sql_int(f->conn, "SELECT max(version) FROM schema_migrations"), 1);
    assert_int_equal(sqlite3_get_autocommit(f->conn), 1);
    assert_int_equal(bw_test_sql_int(f->conn, "PRAGMA foreign_keys"), 1);
    /* Not applied, so it may be fixed. */
    write_file(f->dir, "0002_bad.sql", "CREATE TABLE a (x INTEGER) STRICT;\n");
    load_ok(f);
    apply_ok(f, 2);
    assert_true(table_exists(f->conn, "c"));
}

static void test_transaction_control_refused(void **state)
{
    static const char *const scripts[] = {
        "CREATE TABLE a (x INTEGER) STRICT;\nCOMMIT;\nCREATE TABLE b (x INTEGER) STRICT;\n",
        "CREATE TABLE a (x INTEGER) STRICT;\nROLLBACK;\n",
        "CREATE TABLE a (x INTEGER) STRICT;\nEND;\n",
        "BEGIN;\nCREATE TABLE a (x INTEGER) STRICT;\n",
    };
    fixture *f = *state;
    char err[512];
    size_t i;

    for (i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
        err[0] = '\0';
        write_file(f->dir, "0001_tx.sql", scripts[i]);
        load_ok(f);
        assert_int_equal(bw_migrate_apply(f->conn, f->list, f->n, NULL, err, sizeof(err)), -1);
        assert_contains(err, "0001_tx.sql");
        assert_contains(err, "BEGIN/COMMIT/ROLLBACK");
        assert_false(table_exists(f->conn, "a"));
        assert_false(table_exists(f->conn, "b"));
        assert_int_equal(sqlite3_get_autocommit(f->conn), 1);
    }
    /* Savepoints nest inside the migration's transaction and are allowed. */
    write_file(f->dir, "0001_tx.sql",
               "SAVEPOINT s;\nCREATE TABLE a (x INTEGER) STRICT;\n"
               "RELEASE s;\n");
    load_ok(f);
    apply_ok(f, 1);
    assert_true(table_exists(f->conn, "a"));
}

static const char parent_child[] =
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT;\n"
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, owner INTEGER NOT NULL\n"
    "    REFERENCES users (id) ON DELETE CASCADE) STRICT;\n"
    "INSERT INTO users VALUES (1, 'ann');\n"
    "INSERT INTO notes VALUES (10, 1), (11, 1);\n";

static void test_foreign_key_violation_refused(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    int applied = -1;

    write_file(f->dir, "0001_init.sql", parent_child);
    write_file(f->dir, "0002_orphan.sql", "INSERT INTO notes VALUES (12, 99);\n");
    load_ok(f);
    assert_int_equal(bw_migrate_apply(f->conn, f->list, f->n, &applied, err, sizeof(err)), -1);
    assert_int_equal(applied, 1);
    assert_contains(err, "0002_orphan.sql leaves a foreign key violation");
    assert_contains(err, "notes");
    assert_int_equal(bw_test_sql_int(f->conn, "SELECT count(*) FROM notes"), 2);
    assert_int_equal(bw_test_sql_int(f->conn, "PRAGMA foreign_keys"), 1);
}

/* SQLite's table-rebuild recipe drops the parent table: with enforcement on, that would
 * cascade-delete every note. */
static void test_table_rebuild_keeps_children(void **state)
{
    fixture *f = *state;

    write_file(f->dir, "0001_init.sql", parent_child);
    write_file(f->dir, "0002_rebuild.sql",
               "CREATE TABLE users_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL,\n"
               "    email TEXT) STRICT;\n"
               "INSERT INTO users_new (id, name) SELECT id, name FROM users;\n"
               "DROP TABLE users;\n"
               "ALTER TABLE users_new RENAME TO users;\n");
    load_ok(f);
    apply_ok(f, 2);
    assert_int_equal(bw_test_sql_int(f->conn, "SELECT count(*) FROM notes"), 2);
    /* Enforcement is back on afterwards: the cascade still works. */
    assert_int_equal(bw_test_sql_int(f->conn, "PRAGMA foreign_keys"), 1);
    assert_int_equal(exec_sql(f->conn, "DELETE FROM users;"), 0);
    assert_int_equal(bw_test_sql_int(f->conn, "SELECT count(*) FROM notes"), 0);
}

static void expect_load_fails(fixture *f, const char *needle)
{
    bw_migration *list = (bw_migration *)&list; /* must be reset */
    size_t n = 99;
    char err[256] = "";

    assert_int_equal(bw_migrate_load_dir(f->dir, &list, &n, err, sizeof(err)), -1);
    assert_null(list);
    assert_int_equal(n, 0);
    assert_contains(err, needle);
    assert_int_equal(bw_migrate_load_dir(f->dir, &list, &n, NULL, 0), -1);
}

static void test_bad_names_refused(void **state)
{
    static const char *const bad[] = {
        "1_x.sql",       "0001-x.sql",   "0002_X.sql", "0002_.sql",
        "00002_x.sql",   "0002_x.SQL",   "abcd_x.sql", "0002_a.b.sql",
        "0000_zero.sql", "0002_x y.sql", "0002x.sql",  "0002_\x1b[31m.sql",
    };
    fixture *f = *state;
    char err[256];
    size_t i;

    write_file(f->dir, "0001_ok.sql", "SELECT 1;");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(f->dir, bad[i], "SELECT 1;");
        expect_load_fails(f, "bad migration file name");
        err[0] = '\0';
        assert_int_equal(bw_migrate_load_dir(f->dir, &f->list, &f->n, err, sizeof(err)), -1);
        assert_null(strchr(err, '\x1b')); /* names are shown without control bytes */
        remove_file(f->dir, bad[i]);
    }
    /* Not migrations: ignored. */
    write_file(f->dir, "README.md", "docs");
    write_file(f->dir, ".0002_hidden.sql", "SELECT 1;");
    write_file(f->dir, ".sql", "SELECT 1;");
    write_file(f->dir, "0002_notes.txt", "x");
    load_ok(f);
    assert_int_equal(f->n, 1);
}

static void test_gaps_refused(void **state)
{
    fixture *f = *state;

    write_file(f->dir, "0001_a.sql", "SELECT 1;");
    write_file(f->dir, "0003_c.sql", "SELECT 1;");
    expect_load_fails(f, "migration 0002 is missing (next is 0003_c.sql)");
    remove_file(f->dir, "0001_a.sql");
    remove_file(f->dir, "0003_c.sql");
    write_file(f->dir, "0002_b.sql", "SELECT 1;");
    expect_load_fails(f, "migration 0001 is missing");
    write_file(f->dir, "0001_a.sql", "SELECT 1;");
    write_file(f->dir, "0010_j.sql", "SELECT 1;");
    expect_load_fails(f, "migration 0003 is missing (next is 0010_j.sql)");
}

static void test_duplicates_refused(void **state)
{
    fixture *f = *state;

    write_file(f->dir, "0001_a.sql", "SELECT 1;");
    write_file(f->dir, "0002_b.sql", "SELECT 1;");
    write_file(f->dir, "0002_c.sql", "SELECT 1;");
    expect_load_fails(f, "0002_b.sql and 0002_c.sql have the same number");
}

static void test_load_errors(void **state)
{
    fixture *f = *state;
    char path[512], err[256] = "";
    bw_migration *list = NULL;
    size_t n = 5;
    int fd;

    /* Empty folder: nothing to do, not an error. */
    assert_int_equal(bw_migrate_load_dir(f->dir, &list, &n, err, sizeof(err)), 0);
    assert_null(list);
    assert_int_equal(n, 0);

    write_file(f->dir, "0001_a.sql", "SELECT 1;");
    assert_true((size_t)snprintf(path, sizeof(path), "%s/0002_dir.sql", f->dir) < sizeof(path));
    assert_int_equal(mkdir(path, 0700), 0);
    expect_load_fails(f, "0002_dir.sql: not a regular file");
    assert_int_equal(rmdir(path), 0);

    write_bytes(f->dir, "0002_nul.sql", "SELECT 1;\0DROP TABLE x;", 23);
    expect_load_fails(f, "0002_nul.sql: contains a NUL byte");
    remove_file(f->dir, "0002_nul.sql");

    assert_true((size_t)snprintf(path, sizeof(path), "%s/0002_big.sql", f->dir) < sizeof(path));
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)BW_MIGRATE_MAX_FILE + 1), 0);
    assert_int_equal(close(fd), 0);
    expect_load_fails(f, "0002_big.sql: larger than");
    remove_file(f->dir, "0002_big.sql");

    assert_true((size_t)snprintf(path, sizeof(path), "%s/nosuch", f->dir) < sizeof(path));
    assert_int_equal(bw_migrate_load_dir(path, &list, &n, err, sizeof(err)), -1);
    assert_contains(err, "nosuch");
    assert_true((size_t)snprintf(path, sizeof(path), "%s/0001_a.sql", f->dir) < sizeof(path));
    assert_int_equal(bw_migrate_load_dir(path, &list, &n, err, sizeof(err)), -1);
    assert_int_equal(bw_migrate_load_dir(NULL, &list, &n, err, sizeof(err)), -1);
    assert_int_equal(bw_migrate_load_dir(f->dir, NULL, &n, err, sizeof(err)), -1);
    assert_int_equal(bw_migrate_load_dir(f->dir, &list, NULL, err, sizeof(err)), -1);
    bw_migrate_free_list(NULL, 3);
}

static void test_newer_database_refused(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    int applied = -1, pending = -1;

    write_file(f->dir, "0001_a.sql", "CREATE TABLE a (x INTEGER) STRICT;");
    write_file(f->dir, "0002_b.sql", "CREATE TABLE b (x INTEGER) STRICT;");
    load_ok(f);
    apply_ok(f, 2);
    /* An older binary, knowing only 0001. */
    assert_int_equal(bw_migrate_apply(f->conn, f->list, 1, &applied, err, sizeof(err)), -1);
    assert_contains(err, "0002 (0002_b.sql)");
    assert_contains(err, "newer than the program");
    assert_int_equal(applied, 0);
    err[0] = '\0';
    assert_int_equal(bw_migrate_pending(f->conn, f->list, 1, &pending, err, sizeof(err)), -1);
    assert_contains(err, "newer than the program");
    assert_int_equal(bw_migrate_pending(f->conn, NULL, 0, &pending, err, sizeof(err)), -1);
}

static void test_inconsistent_record_refused(void **state)
{
    fixture *f = *state;
    char err[512] = "";

    write_file(f->dir, "0001_a.sql", "CREATE TABLE a (x INTEGER) STRICT;");
    write_file(f->dir, "0002_b.sql", "CREATE TABLE b (x INTEGER) STRICT;");
    load_ok(f);
    apply_ok(f, 2);
    assert_int_equal(exec_sql(f->conn, "DELETE FROM schema_migrations WHERE version = 1;"), 0);
    assert_int_equal(bw_migrate_apply(f->conn, f->list, f->n, NULL, err, sizeof(err)), -1);
    assert_contains(err, "inconsistent: 0001 is missing");
}

static void test_bad_lists_refused(void **state)
{
    static const char sql[] = "CREATE TABLE a (x INTEGER) STRICT;";
    static const char nul[] = "SELECT 1;\0DROP TABLE a;";
    const bw_migration order[] = {{"0002_b.sql", sql, sizeof(sql) - 1},
                                  {"0001_a.sql", sql, sizeof(sql) - 1}};
    const bw_migration badname[] = {{"0001_A.sql", sql, sizeof(sql) - 1}};
    const bw_migration noname[] = {{NULL, sql, sizeof(sql) - 1}};
    const bw_migration nultext[] = {{"0001_a.sql", nul, sizeof(nul) - 1}};
    const bw_migration notext[] = {{"0001_a.sql", NULL, 5}};
    const bw_migration good[] = {{"0001_a.sql", sql, sizeof(sql) - 1}};
    fixture *f = *state;
    char err[256];
    int applied;

    err[0] = '\0';
    assert_int_equal(bw_migrate_apply(f->conn, order, 2, NULL, err, sizeof(err)), -1);
    assert_contains(err, "out of order");
    assert_int_equal(bw_migrate_apply(f->conn, badname, 1, NULL, err, sizeof(err)), -1);
    assert_contains(err, "bad migration name");
    assert_int_equal(bw_migrate_apply(f->conn, noname, 1, NULL, err, sizeof(err)), -1);
    assert_int_equal(bw_migrate_apply(f->conn, nultext, 1, NULL, err, sizeof(err)), -1);
    assert_contains(err, "NUL");
    assert_int_equal(bw_migrate_apply(f->conn, notext, 1, NULL, err, sizeof(err)), -1);
    assert_int_equal(bw_migrate_apply(f->conn, NULL, 1, NULL, err, sizeof(err)), -1);
    assert_int_equal(bw_migrate_apply(NULL, good, 1, NULL, err, sizeof(err)), -1);
    assert_false(table_exists(f->conn, "a"));
    /* Inside a caller's transaction it would lose atomicity: refused. */
    assert_int_equal(bw_store_tx_begin(f->conn), 0);
    assert_int_equal(bw_migrate_apply(f->conn, good, 1, &applied, err, sizeof(err)), -1);
    assert_contains(err, "inside a transaction");
    assert_int_equal(bw_store_tx_rollback(f->conn), 0);
    /* An empty list is fine. */
    assert_int_equal(bw_migrate_apply(f->conn, NULL, 0, &applied, err, sizeof(err)), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(bw_migrate_apply(f->conn, good, 1, &applied, NULL, 0), 0);
    assert_int_equal(applied, 1);
}

/* The sample app's own schema: applies, and enforces what it promises. */
static void test_sample_schema(void **state)
{
    fixture *f = *state;
    char err[512] = "";

    assert_int_equal(
        bw_migrate_load_dir(BW_SOURCE_DIR "/migrations", &f->list, &f->n, err, sizeof(err)), 0);
    assert_true(f->n >= 1);
    assert_string_equal(f->list[0].name, "0001_init.sql");
    apply_ok(f, (int)f->n);
    sqlite3 *db = f->conn;
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' "
                                         "AND tbl_name = 'notes' AND sql LIKE '%(owner_id)%'"),
                     1);
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM pragma_table_list "
                                         "WHERE name IN ('users', 'notes') AND strict = 1"),
                     2);
    assert_int_equal(exec_sql(db, "INSERT INTO users (id, username, created_at) "
                                  "VALUES (1, 'ann', '2024-01-01T00:00:00Z');"),
                     0);
    /* UNIQUE username. */
    expect_sql_error(db, "INSERT INTO users (id, username, created_at) VALUES (2, 'ann', 'x');",
                     SQLITE_CONSTRAINT);
    /* STRICT types. */
    expect_sql_error(db,
                     "INSERT INTO notes VALUES ('00000000000000000000000000000001', 'one', "
                     "'t', 'b', 'c', 'u');",
                     SQLITE_CONSTRAINT);
    /* Owner must exist. */
    expect_sql_error(db,
                     "INSERT INTO notes VALUES ('00000000000000000000000000000001', 9, "
                     "'t', 'b', 'c', 'u');",
                     SQLITE_CONSTRAINT);
    /* NOT NULL everywhere. */
    expect_sql_error(db, "INSERT INTO notes VALUES (NULL, 1, 't', 'b', 'c', 'u');",
                     SQLITE_CONSTRAINT);
    expect_sql_error(db,
                     "INSERT INTO notes VALUES ('00000000000000000000000000000002', 1, "
                     "NULL, 'b', 'c', 'u');",
                     SQLITE_CONSTRAINT);
    assert_int_equal(exec_sql(db, "INSERT INTO notes VALUES ('00000000000000000000000000000001', "
                                  "1, 't', 'b', 'c', 'u');"),
                     0);
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM notes"), 1);
    assert_int_equal(exec_sql(db, "DELETE FROM users WHERE id = 1;"), 0);
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM notes"), 0); /* ON DELETE CASCADE */
}

/* ---- cmake/embed_migrations.cmake, run with cmake -P and its output read back ---- */

static int run_embed(const char *dir, const char *out)
{
    char d_arg[600], o_arg[600];
    char *argv[] = {"cmake", d_arg, o_arg, "-P", BW_SOURCE_DIR "/cmake/embed_migrations.cmake",
                    NULL};
    posix_spawn_file_actions_t fa;
    int status = 0;
    pid_t pid;

    assert_true((size_t)snprintf(d_arg, sizeof(d_arg), "-DBW_MIGRATIONS_DIR=%s", dir) <
                sizeof(d_arg));
    assert_true((size_t)snprintf(o_arg, sizeof(o_arg), "-DBW_MIGRATIONS_OUT=%s", out) <
                sizeof(o_arg));
    /* cmake's own messages would clutter the test output. */
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0), 0);
    assert_int_equal(posix_spawnp(&pid, "cmake", &fa, NULL, argv, environ), 0);
    assert_int_equal(posix_spawn_file_actions_destroy(&fa), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *read_all(const char *path, size_t *len)
{
    struct stat st;
    char *buf;
    int fd;

    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    assert_int_equal(read(fd, buf, (size_t)st.st_size), (ssize_t)st.st_size);
    assert_int_equal(close(fd), 0);
    buf[st.st_size] = '\0';
    *len = (size_t)st.st_size;
    return buf;
}

/* Decodes the array named `bw_migration_<digits>` from the generated C text: a list of
 * 0xNN values ending in the extra 0x00. Returns the bytes (caller frees) and their count. */
static unsigned char *decode_array(const char *c, const char *digits, size_t *len)
{
    char head[80];
    const char *p;
    unsigned char *out;
    size_t n = 0;

    assert_true((size_t)snprintf(head, sizeof(head),
                                 "static const unsigned char bw_migration_%s[] = {",
                                 digits) < sizeof(head));
    p = strstr(c, head);
    assert_non_null(p);
    p += strlen(head);
    out = malloc(strlen(p) / 5 + 1);
    assert_non_null(out);
    for (;;) {
        unsigned v;
        int used = 0;
        while (*p == '\n' || *p == ' ')
            p++;
        if (*p == '}')
            break;
        assert_int_equal(sscanf(p, "0x%2x%n", &v, &used), 1);
        assert_int_equal(used, 4);
        p += used;
        assert_true(*p == ',' || *p == '}');
        if (*p == ',')
            p++;
        out[n++] = (unsigned char)v;
    }
    assert_true(n >= 1);
    assert_int_equal(out[n - 1], 0); /* the terminator */
    *len = n - 1;
    return out;
}

static void test_embed_script(void **state)
{
    /* Bytes that would break a naive string literal: quotes, backslashes, comment ends,
     * trigraphs, CR, tab, high bytes; and more than 16 bytes, so lines wrap. */
    static const char tricky[] = "CREATE TABLE q (s TEXT) STRICT; -- \"\\\" */ ?\?= \t\r\n"
                                 "INSERT INTO q VALUES ('it''s \\n \xc3\xa9 \xff');\n";
    static const char second[] = "CREATE TABLE r (x INTEGER) STRICT;";
    fixture *f = *state;
    char out[512], entry[160], edir[512];
    unsigned char *bytes;
    bw_migration list[2];
    size_t clen, blen;
    char *c;

    assert_true((size_t)snprintf(out, sizeof(out), "%s/embedded.c", f->root) < sizeof(out));
    write_file(f->dir, "0001_tricky.sql", tricky);
    write_file(f->dir, "0002_second.sql", second);
    write_file(f->dir, "README.md", "ignored");
    write_file(f->dir, ".0003_hidden.sql", "ignored");
    assert_int_equal(run_embed(f->dir, out), 0);
    c = read_all(out, &clen);
    assert_true(clen > 0);
    assert_contains(c, "#include \"bulwark/migrate.h\"");
    assert_contains(c, "const size_t bw_embedded_migrations_count = 2;");
    assert_null(strstr(c, "hidden"));
    assert_true((size_t)snprintf(entry, sizeof(entry),
                                 "{\"0001_tricky.sql\", (const char *)bw_migration_0001, %zuu},",
                                 strlen(tricky)) < sizeof(entry));
    assert_contains(c, entry);
    assert_true((size_t)snprintf(entry, sizeof(entry),
                                 "{\"0002_second.sql\", (const char *)bw_migration_0002, %zuu},",
                                 strlen(second)) < sizeof(entry));
    assert_contains(c, entry);
    assert_true(strstr(c, "0001_tricky.sql") < strstr(c, "0002_second.sql"));

    bytes = decode_array(c, "0001", &blen);
    assert_int_equal(blen, strlen(tricky));
    assert_memory_equal(bytes, tricky, blen);
    free(bytes);
    bytes = decode_array(c, "0002", &blen);
    assert_int_equal(blen, strlen(second));
    assert_memory_equal(bytes, second, blen);
    free(bytes);
    free(c);

    /* What the binary would carry applies like the folder does. */
    list[0] = (bw_migration){"0001_tricky.sql", tricky, strlen(tricky)};
    list[1] = (bw_migration){"0002_second.sql", second, strlen(second)};
    load_ok(f);
    assert_int_equal(f->n, 2);
    assert_memory_equal(f->list[0].sql, list[0].sql, list[0].sql_len);
    assert_int_equal(bw_migrate_apply(f->conn, list, 2, NULL, NULL, 0), 0);
    assert_int_equal(bw_test_sql_int(f->conn, "SELECT count(*) FROM q WHERE s LIKE 'it''s %'"), 1);

    /* Empty folder: a valid file with a count of 0. */
    assert_true((size_t)snprintf(edir, sizeof(edir), "%s/empty", f->root) < sizeof(edir));
    assert_int_equal(mkdir(edir, 0700), 0);
    assert_int_equal(run_embed(edir, out), 0);
    c = read_all(out, &clen);
    assert_contains(c, "const size_t bw_embedded_migrations_count = 0;");
    free(c);
}

/* The build fails on a folder bw_migrate_load_dir() would refuse. */
static void test_embed_script_refuses(void **state)
{
    fixture *f = *state;
    char out[512];

    assert_true((size_t)snprintf(out, sizeof(out), "%s/embedded.c", f->root) < sizeof(out));
    write_file(f->dir, "0001_a.sql", "SELECT 1;");
    write_file(f->dir, "0003_c.sql", "SELECT 1;");
    assert_int_not_equal(run_embed(f->dir, out), 0);
    remove_file(f->dir, "0003_c.sql");
    write_file(f->dir, "0002_Bad.sql", "SELECT 1;");
    assert_int_not_equal(run_embed(f->dir, out), 0);
    remove_file(f->dir, "0002_Bad.sql");
    write_file(f->dir, "0002_x.SQL", "SELECT 1;");
    assert_int_not_equal(run_embed(f->dir, out), 0);
    remove_file(f->dir, "0002_x.SQL");
    write_file(f->dir, "0001_b.sql", "SELECT 1;");
    assert_int_not_equal(run_embed(f->dir, out), 0);
    remove_file(f->dir, "0001_b.sql");
    write_bytes(f->dir, "0002_nul.sql", "SELECT 1;\0", 10);
    assert_int_not_equal(run_embed(f->dir, out), 0);
    remove_file(f->dir, "0002_nul.sql");
    assert_int_equal(run_embed(f->dir, out), 0); /* and the fixed folder passes */
    assert_int_not_equal(run_embed("/nonexistent-bw-dir", out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_applies_in_numeric_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records_checksums, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_run_applies_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edited_migration_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_migration_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction_control_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_key_violation_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_rebuild_keeps_children, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gaps_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_database_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inconsistent_record_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_lists_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_embed_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_embed_script_refuses, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
