/* Schema migrations: load NNNN_name.sql files, check them against schema_migrations, apply. */
#include "bulwark/err.h"
#include "bulwark/migrate.h"
#include "bulwark/store.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_VERSION 9999u
#define NAME_CAP 255u /* NAME_MAX on Linux */
#define HEX_LEN ((size_t)2 * WC_SHA256_DIGEST_SIZE)

/* Copies at most 64 bytes of a name for an error message, with anything unprintable
 * replaced, so a hostile file name cannot inject terminal escapes into logs. */
static const char *printable(const char *in, size_t len, char out[68])
{
    size_t i;

    for (i = 0; i < len && i < 64; i++)
        out[i] = (char)((in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?');
    if (i < len) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

/* Parses "NNNN_name.sql": four digits (>= 1), '_', [a-z0-9_]+, ".sql". */
static int parse_name(const char *name, size_t len, unsigned *version)
{
    unsigned v = 0;
    size_t i;

    if (len < 10 || len > NAME_CAP || name[4] != '_' || memcmp(name + len - 4, ".sql", 4) != 0)
        return -1;
    for (i = 0; i < 4; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        v = v * 10u + (unsigned)(name[i] - '0');
    }
    for (i = 5; i < len - 4; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return -1;
    }
    if (v == 0)
        return -1;
    *version = v;
    return 0;
}

static int read_file(int dfd, const char *name, char **buf, size_t *len, char *err, size_t errlen)
{
    char shown[68], *p;
    struct stat st;
    size_t size, got = 0;
    ssize_t r;
    int fd;

    (void)printable(name, strlen(name), shown);
    fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        bw_err_set(err, errlen, "%s: %s", shown, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        bw_err_set(err, errlen, "%s: not a regular file", shown);
        (void)close(fd);
        return -1;
    }
    if (st.st_size < 0 || (uintmax_t)st.st_size > (uintmax_t)BW_MIGRATE_MAX_FILE) {
        bw_err_set(err, errlen, "%s: larger than %u bytes", shown, BW_MIGRATE_MAX_FILE);
        (void)close(fd);
        return -1;
    }
    size = (size_t)st.st_size;
    p = malloc(size + 1);
    if (p == NULL) {
        bw_err_set(err, errlen, "out of memory");
        (void)close(fd);
        return -1;
    }
    /* Read one byte past the expected size to notice a file that grew meanwhile. */
    while (got <= size) {
        r = read(fd, p + got, size + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (r < 0 || got != size) {
        bw_err_set(err, errlen, "%s: %s", shown, r < 0 ? strerror(errno) : "changed while read");
        free(p);
        (void)close(fd);
        return -1;
    }
    (void)close(fd);
    if (memchr(p, '\0', size) != NULL) {
        bw_err_set(err, errlen, "%s: contains a NUL byte", shown);
        free(p);
        return -1;
    }
    p[size] = '\0';
    *buf = p;
    *len = size;
    return 0;
}

/* Fixed-width numbers sort numerically as bytes; the full name breaks ties so duplicates
 * end up adjacent in a stable order. */
static int cmp_migration(const void *a, const void *b)
{
    const bw_migration *x = a, *y = b;
    int c = memcmp(x->name, y->name, 4);

    return c != 0 ? c : strcmp(x->name, y->name);
}

/* Sorted list: refuses duplicates and gaps, naming the files involved. */
static int check_sequence(const bw_migration *list, size_t n, char *err, size_t errlen)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned v = 0;
        (void)parse_name(list[i].name, strlen(list[i].name), &v);
        if (i > 0 && memcmp(list[i].name, list[i - 1].name, 4) == 0) {
            bw_err_set(err, errlen, "%s and %s have the same number", list[i - 1].name,
                       list[i].name);
            return -1;
        }
        if (v != i + 1) {
            bw_err_set(err, errlen, "migration %04zu is missing (next is %s)", i + 1, list[i].name);
            return -1;
        }
    }
    return 0;
}

int bw_migrate_load_dir(const char *dir, bw_migration **out, size_t *n, char *err, size_t errlen)
{
    bw_migration *list = NULL, *grown;
    size_t count = 0, cap = 0, len, buf_len = 0;
    char *buf = NULL;
    struct dirent *de;
    char shown[68];
    unsigned v;
    DIR *d;

    if (out == NULL || n == NULL || dir == NULL) {
        bw_err_set(err, errlen, "bw_migrate_load_dir: NULL argument");
        return -1;
    }
    *out = NULL;
    *n = 0;
    d = opendir(dir);
    if (d == NULL) {
        bw_err_set(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            if (errno != 0) {
                bw_err_set(err, errlen, "%s: %s", dir, strerror(errno));
                goto fail;
            }
            break;
        }
        len = strlen(de->d_name);
        /* Dot files (editor and OS droppings) and non-SQL files (README) are not ours. */
        if (de->d_name[0] == '.' || len < 4 || strcasecmp(de->d_name + len - 4, ".sql") != 0)
            continue;
        if (parse_name(de->d_name, len, &v) != 0) {
            bw_err_set(err, errlen,
                       "bad migration file name '%s': expected NNNN_name.sql (0001-9999, name "
                       "of a-z, 0-9, _)",
                       printable(de->d_name, len, shown));
            goto fail;
        }
        if (count == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            if (count >= MAX_VERSION) {
                bw_err_set(err, errlen, "%s: more than %u migrations", dir, MAX_VERSION);
                goto fail;
            }
            grown = realloc(list, ncap * sizeof(*list));
            if (grown == NULL) {
                bw_err_set(err, errlen, "out of memory");
                goto fail;
            }
            list = grown;
            cap = ncap;
        }
        if (read_file(dirfd(d), de->d_name, &buf, &buf_len, err, errlen) != 0)
            goto fail;
        list[count].sql = buf;
        list[count].sql_len = buf_len;
        list[count].name = strdup(de->d_name);
        count++; /* now owned by list, freed on failure below */
        if (list[count - 1].name == NULL) {
            bw_err_set(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (count > 1)
        qsort(list, count, sizeof(*list), cmp_migration);
    if (check_sequence(list, count, err, errlen) != 0)
        goto fail;
    (void)closedir(d);
    *out = list;
    *n = count;
    return 0;
fail:
    bw_migrate_free_list(list, count);
    (void)closedir(d);
    return -1;
}

void bw_migrate_free_list(bw_migration *list, size_t n)
{
    size_t i;

    if (list == NULL)
        return;
    for (i = 0; i < n; i++) {
        free((void *)(uintptr_t)list[i].name);
        free((void *)(uintptr_t)list[i].sql);
    }
    free(list);
}

/* Any list handed to apply/pending (embedded or built by hand) obeys the same rules as a
 * directory: valid names, numbered 1..n in order, no NUL in the text. */
static int check_list(const bw_migration *list, size_t n, char *err, size_t errlen)
{
    char shown[68];
    unsigned v;
    size_t i;

    if (n > 0 && list == NULL) {
        bw_err_set(err, errlen, "migration list is NULL");
        return -1;
    }
    if (n > MAX_VERSION) {
        bw_err_set(err, errlen, "more than %u migrations", MAX_VERSION);
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (list[i].name == NULL) {
            bw_err_set(err, errlen, "migration %zu has no name", i + 1);
            return -1;
        }
        size_t len = strnlen(list[i].name, NAME_CAP + 1);
        if (parse_name(list[i].name, len, &v) != 0) {
            bw_err_set(err, errlen, "bad migration name '%s'", printable(list[i].name, len, shown));
            return -1;
        }
        if (v != i + 1) {
            bw_err_set(err, errlen, "migration list out of order: %s at position %zu", list[i].name,
                       i + 1);
            return -1;
        }
        if ((list[i].sql == NULL && list[i].sql_len > 0) || list[i].sql_len > (size_t)INT_MAX) {
            bw_err_set(err, errlen, "%s: bad text", list[i].name);
            return -1;
        }
        if (list[i].sql_len > 0 && memchr(list[i].sql, '\0', list[i].sql_len) != NULL) {
            bw_err_set(err, errlen, "%s: contains a NUL byte", list[i].name);
            return -1;
        }
    }
    return 0;
}

/* Lower-case hex SHA-256 of the migration's bytes. */
static int checksum(const bw_migration *m, char hex[HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char digest[WC_SHA256_DIGEST_SIZE];
    const unsigned char *p = (const unsigned char *)m->sql;
    size_t left = m->sql_len, i;
    wc_Sha256 sha;
    int ok;

    if (wc_InitSha256(&sha) != 0)
        return -1;
    ok = 1;
    while (ok && left > 0) {
        word32 chunk = left > 0x40000000u ? 0x40000000u : (word32)left;
        ok = wc_Sha256Update(&sha, p, chunk) == 0;
        p += chunk;
        left -= chunk;
    }
    if (ok)
        ok = wc_Sha256Final(&sha, digest) == 0;
    wc_Sha256Free(&sha);
    if (!ok)
        return -1;
    for (i = 0; i < sizeof(digest); i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 0x0f];
    }
    hex[HEX_LEN] = '\0';
    return 0;
}

static int table_exists(sqlite3 *db, int *exists)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
                           "name = 'schema_migrations'",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    if (sqlite3_finalize(st) != SQLITE_OK || (rc != SQLITE_ROW && rc != SQLITE_DONE))
        return -1;
    *exists = rc == SQLITE_ROW;
    return 0;
}

/* Compares a recorded checksum with the file's. */
static int same_checksum(sqlite3_stmt *st, int col, const bw_migration *m, int *same)
{
    char hex[HEX_LEN + 1];
    const unsigned char *rec;

    if (checksum(m, hex) != 0)
        return -1;
    rec = sqlite3_column_text(st, col);
    *same = rec != NULL && (size_t)sqlite3_column_bytes(st, col) == HEX_LEN &&
            memcmp(rec, hex, HEX_LEN) == 0;
    return 0;
}

/* Checks what the database records against list: applied versions must be exactly
 * 1..k with k <= n and unchanged checksums. Sets *done = k. */
static int verify(sqlite3 *db, const bw_migration *list, size_t n, size_t *done, char *err,
                  size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char shown[68];
    size_t k = 0;
    int rc, exists = 0, same = 0, ret = -1;

    if (table_exists(db, &exists) != 0) {
        bw_err_set(err, errlen, "schema_migrations: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (!exists) {
        *done = 0;
        return 0;
    }
    if (sqlite3_prepare_v2(db,
                           "SELECT version, name, checksum FROM schema_migrations "
                           "ORDER BY version",
                           -1, &st, NULL) != SQLITE_OK) {
        bw_err_set(err, errlen, "schema_migrations: %s", sqlite3_errmsg(db));
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 v = sqlite3_column_int64(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        size_t name_len = (size_t)sqlite3_column_bytes(st, 1);

        if (v > (sqlite3_int64)n) {
            bw_err_set(err, errlen,
                       "the database has migration %04lld (%s) that this program does not know: "
                       "its schema is newer than the program",
                       (long long)v, name != NULL ? printable(name, name_len, shown) : "?");
            goto out;
        }
        if (v != (sqlite3_int64)k + 1) {
            bw_err_set(err, errlen, "schema_migrations is inconsistent: %04zu is missing", k + 1);
            goto out;
        }
        if (same_checksum(st, 2, &list[k], &same) != 0) {
            bw_err_set(err, errlen, "%s: checksum failed", list[k].name);
            goto out;
        }
        if (!same) {
            bw_err_set(err, errlen, "%s was edited after it was applied", list[k].name);
            goto out;
        }
        k++;
    }
    if (rc != SQLITE_DONE) {
        bw_err_set(err, errlen, "schema_migrations: %s", sqlite3_errmsg(db));
        goto out;
    }
    *done = k;
    ret = 0;
out:
    if (sqlite3_finalize(st) != SQLITE_OK && ret == 0) {
        bw_err_set(err, errlen, "schema_migrations: %s", sqlite3_errmsg(db));
        ret = -1;
    }
    return ret;
}

int bw_migrate_pending(sqlite3 *db, const bw_migration *list, size_t n, int *pending, char *err,
                       size_t errlen)
{
    size_t done = 0;

    if (db == NULL || pending == NULL) {
        bw_err_set(err, errlen, "bw_migrate_pending: NULL argument");
        return -1;
    }
    *pending = 0;
    if (check_list(list, n, err, errlen) != 0 || verify(db, list, n, &done, err, errlen) != 0)
        return -1;
    *pending = (int)(n - done);
    return 0;
}

/* Runs one constant statement that returns no rows. */
static int run_const(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    return bw_store_run(st);
}

static int get_foreign_keys(sqlite3 *db, int *on)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(db, "PRAGMA foreign_keys", -1, &st, NULL) != SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *on = sqlite3_column_int(st, 0);
    if (sqlite3_finalize(st) != SQLITE_OK || rc != SQLITE_ROW)
        return -1;
    return 0;
}

static int set_foreign_keys(sqlite3 *db, int on)
{
    int now = -1;

    if (run_const(db, on ? "PRAGMA foreign_keys=ON" : "PRAGMA foreign_keys=OFF") != 0 ||
        get_foreign_keys(db, &now) != 0 || now != on)
        return -1;
    return 0;
}

/* Authorizer for migration text: BEGIN/COMMIT/ROLLBACK would end the transaction that makes
 * the migration atomic, so they are refused at prepare time. */
static int deny_tx(void *flag, int action, const char *a, const char *b, const char *c,
                   const char *d)
{
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    if (action == SQLITE_TRANSACTION) {
        *(int *)flag = 1;
        return SQLITE_DENY;
    }
    return SQLITE_OK;
}

/* The migration broke a reference (possible because enforcement is off while it runs). */
static int fk_check(sqlite3 *db, const char *name, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = 0;

    if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK) {
        bw_err_set(err, errlen, "%s: foreign_key_check: %s", name, sqlite3_errmsg(db));
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *table = sqlite3_column_text(st, 0);
        const unsigned char *parent = sqlite3_column_text(st, 2);
        bw_err_set(err, errlen,
                   "%s leaves a foreign key violation: %s row %lld references a "
                   "missing %s",
                   name, table != NULL ? (const char *)table : "?",
                   (long long)sqlite3_column_int64(st, 1),
                   parent != NULL ? (const char *)parent : "?");
        ret = -1;
    } else if (rc != SQLITE_DONE) {
        bw_err_set(err, errlen, "%s: foreign_key_check: %s", name, sqlite3_errmsg(db));
        ret = -1;
    }
    if (sqlite3_finalize(st) != SQLITE_OK && ret == 0) {
        bw_err_set(err, errlen, "%s: foreign_key_check: %s", name, sqlite3_errmsg(db));
        ret = -1;
    }
    return ret;
}

static int record(sqlite3 *db, const bw_migration *m, unsigned version, char *err, size_t errlen)
{
    char hex[HEX_LEN + 1];
    sqlite3_stmt *st = NULL;
    int rc;

    if (checksum(m, hex) != 0) {
        bw_err_set(err, errlen, "%s: checksum failed", m->name);
        return -1;
    }
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                           "VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                           -1, &st, NULL) != SQLITE_OK) {
        bw_err_set(err, errlen, "%s: record: %s", m->name, sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_bind_int(st, 1, (int)version) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 3, hex, (int)HEX_LEN, SQLITE_TRANSIENT) != SQLITE_OK) {
        bw_err_set(err, errlen, "%s: record: %s", m->name, sqlite3_errmsg(db));
        (void)sqlite3_finalize(st);
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        bw_err_set(err, errlen, "%s: record: %s", m->name, sqlite3_errmsg(db));
        (void)sqlite3_finalize(st);
        return -1;
    }
    if (sqlite3_finalize(st) != SQLITE_OK) {
        bw_err_set(err, errlen, "%s: record: %s", m->name, sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* Another process may have applied it between verify() and our write lock: look again
 * under the lock. Sets *found, and fails if the recorded checksum differs. */
static int recheck(sqlite3 *db, const bw_migration *m, unsigned version, int *found, char *err,
                   size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc, same = 0, ret = 0;

    if (sqlite3_prepare_v2(db, "SELECT checksum FROM schema_migrations WHERE version = ?1", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_bind_int(st, 1, (int)version) != SQLITE_OK) {
        bw_err_set(err, errlen, "schema_migrations: %s", sqlite3_errmsg(db));
        (void)sqlite3_finalize(st);
        return -1;
    }
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        if (same_checksum(st, 0, m, &same) != 0) {
            bw_err_set(err, errlen, "%s: checksum failed", m->name);
            ret = -1;
        } else if (!same) {
            bw_err_set(err, errlen, "%s was edited after it was applied", m->name);
            ret = -1;
        }
    } else if (rc != SQLITE_DONE) {
        bw_err_set(err, errlen, "schema_migrations: %s", sqlite3_errmsg(db));
        ret = -1;
    }
    if (sqlite3_finalize(st) != SQLITE_OK && ret == 0) {
        bw_err_set(err, errlen, "schema_migrations: %s", sqlite3_errmsg(db));
        ret = -1;
    }
    return ret;
}

/* One migration, all or nothing. *did = 1 when it was applied by this call. */
static int apply_one(sqlite3 *db, const bw_migration *m, unsigned version, int *did, char *err,
                     size_t errlen)
{
    char msg[512];
    int found = 0, denied = 0, rc;

    *did = 0;
    if (bw_store_tx_begin(db) != 0) {
        bw_err_set(err, errlen, "%s: BEGIN IMMEDIATE: %s", m->name, sqlite3_errmsg(db));
        return -1;
    }
    if (recheck(db, m, version, &found, err, errlen) != 0)
        goto fail;
    if (found) { /* applied meanwhile, and identical */
        if (bw_store_tx_rollback(db) == 0)
            return 0;
        bw_err_set(err, errlen, "%s: ROLLBACK: %s", m->name, sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_set_authorizer(db, deny_tx, &denied) != SQLITE_OK) {
        bw_err_set(err, errlen, "%s: cannot set authorizer", m->name);
        goto fail;
    }
    msg[0] = '\0';
    rc = bw_store_exec_script(db, m->sql, m->sql_len, msg, sizeof(msg));
    (void)sqlite3_set_authorizer(db, NULL, NULL);
    if (rc != 0) {
        if (denied)
            bw_err_set(err, errlen,
                       "%s failed: BEGIN/COMMIT/ROLLBACK are not allowed in a migration (each "
                       "runs in its own transaction) (%s)",
                       m->name, msg);
        else
            bw_err_set(err, errlen, "%s failed at %s", m->name, msg);
        goto fail;
    }
    if (fk_check(db, m->name, err, errlen) != 0 || record(db, m, version, err, errlen) != 0)
        goto fail;
    if (bw_store_tx_commit(db) != 0) {
        bw_err_set(err, errlen, "%s: COMMIT: %s", m->name, sqlite3_errmsg(db));
        goto fail;
    }
    *did = 1;
    return 0;
fail:
    (void)bw_store_tx_rollback(db);
    return -1;
}

int bw_migrate_apply(sqlite3 *db, const bw_migration *list, size_t n, int *applied, char *err,
                     size_t errlen)
{
    size_t done = 0, i;
    int fk_was = 1, did = 0, count = 0, ret = 0;

    if (applied != NULL)
        *applied = 0;
    if (db == NULL) {
        bw_err_set(err, errlen, "bw_migrate_apply: NULL database");
        return -1;
    }
    if (!sqlite3_get_autocommit(db)) {
        bw_err_set(err, errlen, "bw_migrate_apply: called inside a transaction");
        return -1;
    }
    if (check_list(list, n, err, errlen) != 0)
        return -1;
    if (run_const(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                      "checksum TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT") != 0) {
        bw_err_set(err, errlen, "schema_migrations: %s", sqlite3_errmsg(db));
        return -1;
    }
    /* Nothing is applied unless everything already applied checks out. */
    if (verify(db, list, n, &done, err, errlen) != 0)
        return -1;
    if (done == n)
        return 0;
    /* Enforcement off while migrations run (a table rebuild must not cascade deletes), with
     * foreign_key_check before each COMMIT instead: SQLite's documented procedure. It can only
     * change outside a transaction. */
    if (get_foreign_keys(db, &fk_was) != 0 || set_foreign_keys(db, 0) != 0) {
        bw_err_set(err, errlen, "cannot turn foreign_keys off: %s", sqlite3_errmsg(db));
        return -1;
    }
    for (i = done; i < n; i++) {
        if (apply_one(db, &list[i], (unsigned)(i + 1), &did, err, errlen) != 0) {
            ret = -1;
            break;
        }
        count += did;
    }
    if (set_foreign_keys(db, fk_was) != 0 && ret == 0) {
        bw_err_set(err, errlen, "cannot restore foreign_keys: %s", sqlite3_errmsg(db));
        ret = -1;
    }
    if (applied != NULL)
        *applied = count;
    return ret;
}
