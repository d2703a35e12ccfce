/* Per-thread SQLite connections with hardened settings, and small helpers around them. */
#include "bulwark/err.h"
#include "bulwark/fsutil.h"
#include "bulwark/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One thread's connection; linked into its store so bw_store_close() can reach it. */
typedef struct bw_store_slot {
    bw_store *store;
    sqlite3 *db;
    struct bw_store_slot *prev, *next;
} bw_store_slot;

struct bw_store {
    char *path; /* absolute, so never read as a "file:" URI and immune to chdir */
    int busy_timeout_ms;
    pthread_key_t key;
    pthread_mutex_t mu; /* guards slots, migrations, migrations_n, migrations_set */
    bw_store_slot *slots;
    const bw_migration *migrations;
    size_t migrations_n;
    int migrations_set;
};

/* Runs one constant statement to completion, ignoring any rows. */
static int run_const(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (db == NULL)
        return -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    do {
        rc = sqlite3_step(st);
    } while (rc == SQLITE_ROW);
    if (sqlite3_finalize(st) != SQLITE_OK || rc != SQLITE_DONE)
        return -1;
    return 0;
}

/* Runs a constant statement returning one integer row (a PRAGMA read-back). */
static int query_int(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc, ok = 0;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
        *out = sqlite3_column_int(st, 0);
        ok = 1;
    }
    if (sqlite3_finalize(st) != SQLITE_OK || !ok)
        return -1;
    return 0;
}

/* Switches to WAL; SQLite answers with the mode now in force, which must be "wal" (it stays
 * "delete" on file systems without shared memory, for example). */
static int set_wal(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *mode;
    int ok = 0;

    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        mode = sqlite3_column_text(st, 0);
        ok = mode != NULL && strcmp((const char *)mode, "wal") == 0;
    }
    if (sqlite3_finalize(st) != SQLITE_OK || !ok)
        return -1;
    return 0;
}

/* Sets a boolean/enum PRAGMA and reads it back: a PRAGMA SQLite does not know, or one that is
 * a silent no-op (foreign_keys inside a transaction), would otherwise go unnoticed. */
static int set_pragma(sqlite3 *db, const char *set_sql, const char *get_sql, int want)
{
    int got = -1;

    if (run_const(db, set_sql) != 0 || query_int(db, get_sql, &got) != 0 || got != want)
        return -1;
    return 0;
}

int bw_store_harden(sqlite3 *db, int busy_timeout_ms, const char **what)
{
    int v = -1;

    *what = "SQLITE_DBCONFIG_DEFENSIVE";
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &v) != SQLITE_OK || v != 1)
        return -1;
    /* Double-quoted strings read as identifiers only: "x" silently becoming a string literal
     * when no column x exists hides bugs. */
    *what = "SQLITE_DBCONFIG_DQS_DML/DDL";
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, &v) != SQLITE_OK || v != 0 ||
        sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, &v) != SQLITE_OK || v != 0)
        return -1;
    /* Before the first PRAGMA that may need a lock (WAL switch), so concurrent first opens
     * wait for each other instead of failing. */
    *what = "busy timeout";
    if (sqlite3_busy_timeout(db, busy_timeout_ms) != SQLITE_OK)
        return -1;
    *what = "trusted_schema=OFF";
    if (set_pragma(db, "PRAGMA trusted_schema=OFF", "PRAGMA trusted_schema", 0) != 0)
        return -1;
    return 0;
}

static int configure(sqlite3 *db, int busy_timeout_ms, const char **what)
{
    if (bw_store_harden(db, busy_timeout_ms, what) != 0)
        return -1;
    *what = "journal_mode=WAL";
    if (set_wal(db) != 0)
        return -1;
    *what = "foreign_keys=ON";
    if (set_pragma(db, "PRAGMA foreign_keys=ON", "PRAGMA foreign_keys", 1) != 0)
        return -1;
    *what = "synchronous=NORMAL";
    if (set_pragma(db, "PRAGMA synchronous=NORMAL", "PRAGMA synchronous", 1) != 0)
        return -1;
    return 0;
}

static sqlite3 *open_conn(const bw_store *s, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    const char *what = "open";
    int rc;

    /* No SQLITE_OPEN_CREATE: bw_store_open made the file with mode 0600; if it has vanished
     * since, failing beats recreating it with umask-dependent permissions. */
    rc = sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK && configure(db, s->busy_timeout_ms, &what) == 0)
        return db;
    bw_err_set(err, errlen, "%s: %s: %s", s->path, what,
               db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    (void)sqlite3_close_v2(db);
    return NULL;
}

static void unlink_slot(bw_store *s, bw_store_slot *slot)
{
    if (slot->prev != NULL)
        slot->prev->next = slot->next;
    else
        s->slots = slot->next;
    if (slot->next != NULL)
        slot->next->prev = slot->prev;
}

/* pthread key destructor: the thread is exiting, so its connection goes with it. */
static void slot_destroy(void *p)
{
    bw_store_slot *slot = p;

    if (pthread_mutex_lock(&slot->store->mu) == 0) {
        unlink_slot(slot->store, slot);
        (void)pthread_mutex_unlock(&slot->store->mu);
    }
    (void)sqlite3_close_v2(slot->db);
    free(slot);
}

/* Returns this thread's connection, opening and registering it if needed. */
static sqlite3 *thread_conn(bw_store *s, char *err, size_t errlen)
{
    bw_store_slot *slot;
    sqlite3 *db;

    slot = pthread_getspecific(s->key);
    if (slot != NULL)
        return slot->db;
    db = open_conn(s, err, errlen);
    if (db == NULL)
        return NULL;
    slot = calloc(1, sizeof(*slot));
    if (slot == NULL) {
        bw_err_set(err, errlen, "out of memory");
        (void)sqlite3_close_v2(db);
        return NULL;
    }
    slot->store = s;
    slot->db = db;
    if (pthread_mutex_lock(&s->mu) != 0) {
        bw_err_set(err, errlen, "store mutex failed");
        (void)sqlite3_close_v2(db);
        free(slot);
        return NULL;
    }
    slot->next = s->slots;
    if (s->slots != NULL)
        s->slots->prev = slot;
    s->slots = slot;
    if (pthread_setspecific(s->key, slot) != 0) {
        unlink_slot(s, slot);
        (void)pthread_mutex_unlock(&s->mu);
        bw_err_set(err, errlen, "pthread_setspecific failed");
        (void)sqlite3_close_v2(db);
        free(slot);
        return NULL;
    }
    (void)pthread_mutex_unlock(&s->mu);
    return db;
}

int bw_store_open(const char *path, int busy_timeout_ms, bw_store **out, char *err, size_t errlen)
{
    bw_store *s;

    if (out == NULL) {
        bw_err_set(err, errlen, "bw_store_open: out is NULL");
        return -1;
    }
    *out = NULL;
    if (path == NULL || path[0] == '\0' || strcmp(path, ":memory:") == 0) {
        bw_err_set(err, errlen, "database path must name a file (connections are per thread)");
        return -1;
    }
    if (busy_timeout_ms < 0) {
        bw_err_set(err, errlen, "busy timeout must be >= 0 ms");
        return -1;
    }
    /* NOMUTEX connections still need SQLite's global mutexes. */
    if (sqlite3_threadsafe() == 0) {
        bw_err_set(err, errlen, "SQLite was built without thread support");
        return -1;
    }
    if (bw_fs_create_private(path, err, errlen) != 0)
        return -1;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        bw_err_set(err, errlen, "out of memory");
        return -1;
    }
    s->busy_timeout_ms = busy_timeout_ms;
    s->path = realpath(path, NULL);
    if (s->path == NULL) {
        bw_err_set(err, errlen, "%s: %s", path, strerror(errno));
        free(s);
        return -1;
    }
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        bw_err_set(err, errlen, "pthread_mutex_init failed");
        free(s->path);
        free(s);
        return -1;
    }
    if (pthread_key_create(&s->key, slot_destroy) != 0) {
        bw_err_set(err, errlen, "pthread_key_create failed");
        (void)pthread_mutex_destroy(&s->mu);
        free(s->path);
        free(s);
        return -1;
    }
    if (thread_conn(s, err, errlen) == NULL) {
        bw_store_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

sqlite3 *bw_store_conn(bw_store *s)
{
    if (s == NULL)
        return NULL;
    return thread_conn(s, NULL, 0);
}

void bw_store_set_migrations(bw_store *s, const bw_migration *list, size_t n)
{
    if (s == NULL || pthread_mutex_lock(&s->mu) != 0)
        return;
    s->migrations = list;
    s->migrations_n = list != NULL ? n : 0;
    s->migrations_set = 1;
    (void)pthread_mutex_unlock(&s->mu);
}

int bw_store_ping(bw_store *s)
{
    const bw_migration *list;
    sqlite3 *db;
    size_t n;
    int one = 0, pending = -1, set;

    db = bw_store_conn(s);
    if (db == NULL || query_int(db, "SELECT 1", &one) != 0 || one != 1)
        return -1;
    if (pthread_mutex_lock(&s->mu) != 0)
        return -1;
    list = s->migrations;
    n = s->migrations_n;
    set = s->migrations_set;
    (void)pthread_mutex_unlock(&s->mu);
    if (!set || bw_migrate_pending(db, list, n, &pending, NULL, 0) != 0 || pending != 0)
        return -1;
    return 0;
}

void bw_store_close(bw_store *s)
{
    bw_store_slot *slot, *next;

    if (s == NULL)
        return;
    /* After the key is deleted no destructor runs for it, so closing below cannot race a
     * thread that exits later. */
    (void)pthread_key_delete(s->key);
    if (pthread_mutex_lock(&s->mu) == 0) {
        for (slot = s->slots; slot != NULL; slot = next) {
            next = slot->next;
            (void)sqlite3_close_v2(slot->db);
            free(slot);
        }
        s->slots = NULL;
        (void)pthread_mutex_unlock(&s->mu);
    }
    (void)pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

/* 1-based line of offset off in sql, for error messages. */
static unsigned long line_of(const char *sql, size_t off)
{
    unsigned long line = 1;
    size_t i;

    for (i = 0; i < off; i++)
        if (sql[i] == '\n')
            line++;
    return line;
}

int bw_store_exec_script(sqlite3 *db, const char *sql, size_t len, char *err, size_t errlen)
{
    const char *p, *tail, *end, *nul;
    sqlite3_stmt *st;
    int rc;

    if (db == NULL || (sql == NULL && len > 0)) {
        bw_err_set(err, errlen, "bw_store_exec_script: NULL argument");
        return -1;
    }
    if (len > (size_t)INT_MAX) {
        bw_err_set(err, errlen, "script too long");
        return -1;
    }
    /* SQLite stops reading at a NUL even when given a length: the rest would be skipped. */
    nul = len > 0 ? memchr(sql, '\0', len) : NULL;
    if (nul != NULL) {
        bw_err_set(err, errlen, "line %lu: NUL byte in script", line_of(sql, (size_t)(nul - sql)));
        return -1;
    }
    p = sql;
    end = sql + len;
    while (p < end) {
        size_t start = (size_t)(p - sql);
        while (start < len && (sql[start] == ' ' || sql[start] == '\t' || sql[start] == '\n' ||
                               sql[start] == '\r'))
            start++;
        st = NULL;
        tail = NULL;
        if (sqlite3_prepare_v2(db, p, (int)(end - p), &st, &tail) != SQLITE_OK) {
            bw_err_set(err, errlen, "line %lu: %s", line_of(sql, start), sqlite3_errmsg(db));
            return -1;
        }
        if (st == NULL) { /* only whitespace or comments left */
            if (tail == NULL || tail <= p)
                break;
            p = tail;
            continue;
        }
        do {
            rc = sqlite3_step(st);
        } while (rc == SQLITE_ROW);
        if (rc != SQLITE_DONE) {
            bw_err_set(err, errlen, "line %lu: %s", line_of(sql, start), sqlite3_errmsg(db));
            (void)sqlite3_finalize(st);
            return -1;
        }
        if (sqlite3_finalize(st) != SQLITE_OK) {
            bw_err_set(err, errlen, "line %lu: %s", line_of(sql, start), sqlite3_errmsg(db));
            return -1;
        }
        if (tail == NULL || tail <= p)
            break;
        p = tail;
    }
    return 0;
}

int bw_store_each_row(sqlite3_stmt *st, int (*row)(sqlite3_stmt *st, void *ud), void *ud)
{
    int rc, count = 0, ret;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int r = row(st, ud);
        if (r < 0) {
            rc = SQLITE_ERROR;
            break;
        }
        count++;
        if (r > 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    ret = rc == SQLITE_DONE ? count : -1;
    if (sqlite3_finalize(st) != SQLITE_OK && rc == SQLITE_DONE)
        ret = -1;
    return ret;
}

int bw_store_run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    if (sqlite3_finalize(st) != SQLITE_OK || rc != SQLITE_DONE)
        return -1;
    return 0;
}

int bw_store_tx_begin(sqlite3 *db)
{
    return run_const(db, "BEGIN IMMEDIATE");
}

int bw_store_tx_commit(sqlite3 *db)
{
    return run_const(db, "COMMIT");
}

int bw_store_tx_rollback(sqlite3 *db)
{
    if (db == NULL)
        return -1;
    if (sqlite3_get_autocommit(db))
        return 0;
    return run_const(db, "ROLLBACK");
}
