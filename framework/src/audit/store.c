/* The audit database: schema, chain MACs, batch append, and the readers (query, verify,
 * JSON lines). docs/audit-store.md describes the format and its limits. */
#include "audit_internal.h"

#include "bulwark/err.h"
#include "bulwark/fsutil.h"
#include "bulwark/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

/* Every statement names its columns in this order; row_read relies on it. */
#define COLUMNS "seq, ts_ms, event, outcome, actor, source, request_id, target, detail, mac"

/* Append-only by construction: the triggers refuse UPDATE and DELETE for everyone using SQLite
 * normally (a mistake, a tool, a compromised process using SQL); someone who edits the file
 * itself is the chain's job. STRICT keeps every value the type it was written as. */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS audit_log ("
    " seq INTEGER PRIMARY KEY NOT NULL CHECK (seq > 0),"
    " ts_ms INTEGER NOT NULL,"
    " event TEXT NOT NULL,"
    " outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'info')),"
    " actor TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " request_id TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " detail TEXT NOT NULL,"
    " mac BLOB NOT NULL CHECK (length(mac) = 32)"
    ") STRICT;"
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
    "CREATE INDEX IF NOT EXISTS audit_log_event ON audit_log (event, seq);"
    "CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log (actor, seq);"
    "CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log (ts_ms);";

/* ---- UTF-8 and JSON text ---- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when p starts an invalid one
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t need, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (n < need + 1)
        return 0;
    for (i = 1; i <= need; i++) {
        if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xBF))
            return 0;
    }
    return need + 1;
}

size_t bw_audit_utf8_cut(const char *p, size_t len, size_t max)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;

    if (len <= max)
        return len;
    while (i < len) {
        size_t k = utf8_seq(u + i, len - i);

        if (k == 0)
            k = 1;
        if (k > max - i)
            break;
        i += k;
    }
    return i;
}

int bw_audit_json_raw(char *buf, size_t cap, size_t *pos, const char *s, size_t len)
{
    if (*pos >= cap || len >= cap - *pos)
        return -1;
    memcpy(buf + *pos, s, len);
    *pos += len;
    buf[*pos] = '\0';
    return 0;
}

int bw_audit_json_string(char *buf, size_t cap, size_t *pos, const char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)p;
    size_t start = *pos, i = 0;

    if (bw_audit_json_raw(buf, cap, pos, "\"", 1) != 0)
        return -1;
    while (i < len) {
        unsigned char c = u[i];
        char esc[6];
        const char *out = esc;
        size_t k = utf8_seq(u + i, len - i), olen;

        if (k > 1) {
            out = p + i;
            olen = k;
        } else if (k == 0) {
            out = "\\ufffd";
            olen = 6;
            k = 1;
        } else if (c == '"' || c == '\\') {
            out = c == '"' ? "\\\"" : "\\\\";
            olen = 2;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out = c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
            olen = 2;
        } else if (c < 0x20 || c == 0x7F) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            /* read through out */
            esc[5] = hex[c & 15]; // cppcheck-suppress unreadVariable
            olen = 6;
        } else {
            out = p + i;
            olen = 1;
        }
        if (bw_audit_json_raw(buf, cap, pos, out, olen) != 0) {
            *pos = start;
            buf[start] = '\0';
            return -1;
        }
        i += k;
    }
    if (bw_audit_json_raw(buf, cap, pos, "\"", 1) != 0) {
        *pos = start;
        buf[start] = '\0';
        return -1;
    }
    return 0;
}

/* ---- The chain ---- */

void bw_audit_mac_key(crypto_auth_hmacsha256_state *keyed, const unsigned char *key, size_t keylen)
{
    (void)crypto_auth_hmacsha256_init(keyed, key, keylen);
}

static void put_be(unsigned char *out, uint64_t v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        out[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

void bw_audit_mac(const crypto_auth_hmacsha256_state *keyed,
                  const unsigned char prev[BW_AUDIT_MAC_BYTES], const bw_audit_row *row,
                  unsigned char out[BW_AUDIT_MAC_BYTES])
{
    crypto_auth_hmacsha256_state st;
    unsigned char head[17];
    size_t i;

    memcpy(&st, keyed, sizeof(st));
    head[0] = 1; /* encoding version */
    put_be(head + 1, (uint64_t)row->seq, 8);
    put_be(head + 9, (uint64_t)row->ts_ms, 8);
    (void)crypto_auth_hmacsha256_update(&st, prev, BW_AUDIT_MAC_BYTES);
    (void)crypto_auth_hmacsha256_update(&st, head, sizeof(head));
    for (i = 0; i < BW_AT_COUNT; i++) {
        unsigned char len[4];

        put_be(len, (uint64_t)row->len[i], 4);
        (void)crypto_auth_hmacsha256_update(&st, len, sizeof(len));
        if (row->len[i] > 0)
            (void)crypto_auth_hmacsha256_update(&st, (const unsigned char *)row->text[i],
                                                row->len[i]);
    }
    (void)crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

/* ---- Opening ---- */

static int exec_const(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Reads back a PRAGMA that returns one value and compares it with want (text). */
static int pragma_is(sqlite3 *db, const char *sql, const char *want)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *v;
    int ok = 0;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_text(st, 0);
        ok = v != NULL && strcmp((const char *)v, want) == 0;
    }
    if (sqlite3_finalize(st) != SQLITE_OK || !ok)
        return -1;
    return 0;
}

sqlite3 *bw_audit_db_open(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    const char *what = "open";
    int rc;

    if (path == NULL || path[0] == '\0' || strcmp(path, ":memory:") == 0) {
        bw_err_set(err, errlen, "the audit database path must name a file");
        return NULL;
    }
    if (bw_fs_create_private(path, err, errlen) != 0)
        return NULL;
    /* No SQLITE_OPEN_CREATE: the file exists with mode 0600 now; if it vanished since,
     * failing beats recreating it with umask-dependent permissions. */
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK || bw_store_harden(db, BW_AUDIT_BUSY_MS, &what) != 0)
        goto fail;
    what = "journal_mode=WAL";
    if (pragma_is(db, "PRAGMA journal_mode=WAL", "wal") != 0)
        goto fail;
    /* FULL: a commit is on disk, WAL included, before the writer reports it durable. */
    what = "synchronous=FULL";
    if (exec_const(db, "PRAGMA synchronous=FULL") != 0 ||
        pragma_is(db, "PRAGMA synchronous", "2") != 0)
        goto fail;
    what = "schema";
    if (exec_const(db, "BEGIN IMMEDIATE") != 0)
        goto fail;
    if (exec_const(db, schema_sql) != 0 || exec_const(db, "COMMIT") != 0) {
        bw_err_set(err, errlen, "%s: schema: %s", path, sqlite3_errmsg(db));
        (void)exec_const(db, "ROLLBACK");
        (void)sqlite3_close(db);
        return NULL;
    }
    return db;
fail:
    bw_err_set(err, errlen, "%s: %s: %s", path, what,
               db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    (void)sqlite3_close(db);
    return NULL;
}

sqlite3 *bw_audit_open_readonly(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    const char *what = "open";
    int rc;

    if (path == NULL || path[0] == '\0') {
        bw_err_set(err, errlen, "the audit database path is empty");
        return NULL;
    }
    if (access(path, F_OK) != 0) {
        bw_err_set(err, errlen, "%s: %s (the writer creates it when the server starts)", path,
                   strerror(errno));
        return NULL;
    }
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK || bw_store_harden(db, BW_AUDIT_BUSY_MS, &what) != 0)
        goto fail;
    what = "query_only";
    if (exec_const(db, "PRAGMA query_only=ON") != 0)
        goto fail;
    what = "audit_log table";
    if (sqlite3_prepare_v2(db, "SELECT " COLUMNS " FROM audit_log LIMIT 0", -1, &st, NULL) !=
        SQLITE_OK)
        goto fail;
    (void)sqlite3_finalize(st);
    return db;
fail:
    bw_err_set(err, errlen, "%s: %s: %s", path, what,
               db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    (void)sqlite3_close(db);
    return NULL;
}

/* ---- Reading rows ---- */

/* Points row at the current result row of st (valid until the next step). Returns NULL, or
 * what is malformed about it. */
static const char *row_read(sqlite3_stmt *st, bw_audit_row *row)
{
    int i;

    if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
        sqlite3_column_type(st, 1) != SQLITE_INTEGER)
        return "seq or ts_ms is not an integer";
    row->seq = sqlite3_column_int64(st, 0);
    row->ts_ms = sqlite3_column_int64(st, 1);
    for (i = 0; i < BW_AT_COUNT; i++) {
        const unsigned char *t;

        if (sqlite3_column_type(st, 2 + i) != SQLITE_TEXT)
            return "a text field is not text";
        t = sqlite3_column_text(st, 2 + i);
        if (t == NULL)
            return "out of memory";
        row->text[i] = (const char *)t;
        row->len[i] = (size_t)sqlite3_column_bytes(st, 2 + i);
    }
    if (sqlite3_column_type(st, 9) != SQLITE_BLOB || sqlite3_column_bytes(st, 9) != 32)
        return "malformed MAC";
    memcpy(row->mac, sqlite3_column_blob(st, 9), BW_AUDIT_MAC_BYTES);
    return NULL;
}

/* Copies text into a fixed field of a record, cut at a UTF-8 boundary. */
static void copy_field(char *dst, size_t cap, const char *src, size_t len)
{
    size_t n = bw_audit_utf8_cut(src, len, cap - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

void bw_audit_row_record(const bw_audit_row *row, bw_audit_record *r)
{
    char *dst[BW_AT_COUNT] = {r->event,      r->outcome, r->actor, r->source,
                              r->request_id, r->target,  r->detail};
    size_t cap[BW_AT_COUNT] = {sizeof(r->event),  sizeof(r->outcome),    sizeof(r->actor),
                               sizeof(r->source), sizeof(r->request_id), sizeof(r->target),
                               sizeof(r->detail)};
    int i;

    r->seq = row->seq;
    r->ts_ms = row->ts_ms;
    for (i = 0; i < BW_AT_COUNT; i++)
        copy_field(dst[i], cap[i], row->text[i], row->len[i]);
    memcpy(r->mac, row->mac, sizeof(r->mac));
}

/* The newest record's seq and MAC. Returns 1 found, 0 empty table, -1 on error with a message
 * in err. */
static int read_tail(sqlite3 *db, int64_t *seq, unsigned char mac[BW_AUDIT_MAC_BYTES], char *err,
                     size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc, found = 0;

    if (sqlite3_prepare_v2(db, "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1", -1, &st,
                           NULL) != SQLITE_OK) {
        bw_err_set(err, errlen, "reading the last record: %s", sqlite3_errmsg(db));
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 1) != SQLITE_BLOB || sqlite3_column_bytes(st, 1) != 32) {
            bw_err_set(err, errlen, "the last record has a malformed MAC");
            (void)sqlite3_finalize(st);
            return -1;
        }
        *seq = sqlite3_column_int64(st, 0);
        memcpy(mac, sqlite3_column_blob(st, 1), BW_AUDIT_MAC_BYTES);
        found = 1;
    } else if (rc != SQLITE_DONE) {
        bw_err_set(err, errlen, "reading the last record: %s", sqlite3_errmsg(db));
        (void)sqlite3_finalize(st);
        return -1;
    }
    (void)sqlite3_finalize(st);
    return found;
}

/* Reads the MAC of record seq into mac. 1 found, 0 missing, -1 malformed or error. */
static int read_mac(sqlite3 *db, int64_t seq, unsigned char mac[BW_AUDIT_MAC_BYTES])
{
    sqlite3_stmt *st = NULL;
    int rc, found = -1;

    if (sqlite3_prepare_v2(db, "SELECT mac FROM audit_log WHERE seq = ?", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_bind_int64(st, 1, seq) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        found = 0;
    } else if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_BLOB &&
               sqlite3_column_bytes(st, 0) == BW_AUDIT_MAC_BYTES) {
        memcpy(mac, sqlite3_column_blob(st, 0), BW_AUDIT_MAC_BYTES);
        found = 1;
    }
    (void)sqlite3_finalize(st);
    return found;
}

int bw_audit_db_check_tail(sqlite3 *db, const crypto_auth_hmacsha256_state *keyed, char *err,
                           size_t errlen)
{
    unsigned char prev[BW_AUDIT_MAC_BYTES] = {0}, want[BW_AUDIT_MAC_BYTES];
    sqlite3_stmt *st = NULL;
    bw_audit_row row;
    const char *bad = NULL;
    int64_t last = 0;
    int found;

    /* One read transaction: both records come from the same snapshot even while another
     * process appends. */
    if (exec_const(db, "BEGIN") != 0) {
        bw_err_set(err, errlen, "reading the last record: %s", sqlite3_errmsg(db));
        return -1;
    }
    found = read_tail(db, &last, want, err, errlen);
    if (found <= 0) {
        (void)exec_const(db, "ROLLBACK");
        return found; /* 0: empty table, nothing to check */
    }
    if (last > 1) {
        found = read_mac(db, last - 1, prev);
        if (found < 0)
            bad = "cannot read the record before it";
        else if (found == 0)
            bad = "the record before it is missing";
    }
    if (bad == NULL) {
        if (sqlite3_prepare_v2(db, "SELECT " COLUMNS " FROM audit_log WHERE seq = ?", -1, &st,
                               NULL) != SQLITE_OK ||
            sqlite3_bind_int64(st, 1, last) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
            bad = "cannot read it";
        else
            bad = row_read(st, &row);
    }
    if (bad == NULL) {
        bw_audit_mac(keyed, prev, &row, want);
        if (sodium_memcmp(want, row.mac, sizeof(want)) != 0)
            bad = "its MAC does not verify with this key (wrong secrets.audit_key, or the file "
                  "was altered: run `audit verify`)";
    }
    (void)sqlite3_finalize(st);
    (void)exec_const(db, "ROLLBACK");
    if (bad != NULL) {
        bw_err_set(err, errlen, "the last audit record (seq %" PRId64 "): %s", last, bad);
        return -1;
    }
    return 0;
}

/* ---- Appending ---- */

int bw_audit_db_append(sqlite3 *db, const crypto_auth_hmacsha256_state *keyed,
                       bw_audit_row *const *rows, size_t n, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    unsigned char prev[BW_AUDIT_MAC_BYTES] = {0};
    int64_t seq = 0;
    size_t i;
    int t;

    if (exec_const(db, "BEGIN IMMEDIATE") != 0) {
        bw_err_set(err, errlen, "BEGIN: %s", sqlite3_errmsg(db));
        return -1;
    }
    /* Inside the write lock: another process appending to the same file is serialised with
     * us, so the chain continues from whatever it committed last. */
    if (read_tail(db, &seq, prev, err, errlen) < 0)
        goto fail;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO audit_log (" COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                           "?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        bw_err_set(err, errlen, "INSERT: %s", sqlite3_errmsg(db));
        goto fail;
    }
    for (i = 0; i < n; i++) {
        bw_audit_row *r = rows[i];
        int ok;

        r->seq = ++seq;
        bw_audit_mac(keyed, prev, r, r->mac);
        memcpy(prev, r->mac, sizeof(prev));
        ok = sqlite3_bind_int64(st, 1, r->seq) == SQLITE_OK &&
             sqlite3_bind_int64(st, 2, r->ts_ms) == SQLITE_OK &&
             sqlite3_bind_blob(st, 10, r->mac, BW_AUDIT_MAC_BYTES, SQLITE_STATIC) == SQLITE_OK;
        for (t = 0; ok && t < BW_AT_COUNT; t++)
            ok = sqlite3_bind_text(st, 3 + t, r->text[t], (int)r->len[t], SQLITE_STATIC) ==
                 SQLITE_OK;
        if (!ok || sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK) {
            bw_err_set(err, errlen, "INSERT seq %" PRId64 ": %s", r->seq, sqlite3_errmsg(db));
            goto fail;
        }
    }
    (void)sqlite3_finalize(st);
    st = NULL;
    if (exec_const(db, "COMMIT") != 0) {
        bw_err_set(err, errlen, "COMMIT: %s", sqlite3_errmsg(db));
        goto fail;
    }
    return 0;
fail:
    (void)sqlite3_finalize(st);
    if (!sqlite3_get_autocommit(db))
        (void)exec_const(db, "ROLLBACK");
    return -1;
}

/* ---- Query ---- */

/* [a-z0-9_.] */
static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

/* Checks f->event: an exact name, or a prefix ending in ".*". *prefix_len is the length of the
 * prefix including its dot (0 for an exact name). */
static int event_filter(const char *e, size_t *len, size_t *prefix_len)
{
    size_t n = strnlen(e, BW_AUDIT_EVENT_MAX + 1), i;

    *prefix_len = 0;
    if (n >= 3 && n <= BW_AUDIT_EVENT_MAX && e[n - 2] == '.' && e[n - 1] == '*') {
        *prefix_len = n - 1;
        n -= 2;
    }
    if (n == 0 || n > BW_AUDIT_EVENT_MAX)
        return -1;
    for (i = 0; i < n; i++)
        if (!name_char(e[i]))
            return -1;
    *len = n;
    return 0;
}

int bw_audit_query(sqlite3 *db, const bw_audit_filter *f, bw_audit_record *out, size_t limit,
                   char *err, size_t errlen)
{
    char sql[512] = "SELECT " COLUMNS " FROM audit_log WHERE 1";
    size_t elen = 0, plen = 0, alen = 0, used = strlen(sql);
    sqlite3_stmt *st = NULL;
    int idx = 1, rc, n = 0, ok = 1;

    if (db == NULL || f == NULL || out == NULL || limit < 1 || limit > 1000) {
        bw_err_set(err, errlen, "bad query arguments (limit must be 1..1000)");
        return -1;
    }
    if (f->event != NULL && event_filter(f->event, &elen, &plen) != 0) {
        bw_err_set(err, errlen, "event filter must be a name [a-z0-9_.] or a prefix ending in .*");
        return -1;
    }
    if (f->actor != NULL) {
        alen = strnlen(f->actor, BW_AUDIT_FIELD_MAX + 1);
        if (alen > BW_AUDIT_FIELD_MAX) {
            bw_err_set(err, errlen, "actor filter longer than %d bytes", BW_AUDIT_FIELD_MAX);
            return -1;
        }
    }
    if (f->since_ms < 0 || f->until_ms < 0 || f->before_seq < 0) {
        bw_err_set(err, errlen, "since, until and before must not be negative");
        return -1;
    }
    /* Only constant fragments go into the SQL text; every value is bound. */
#define ADD(frag)                                                                                  \
    do {                                                                                           \
        size_t fl = strlen(frag);                                                                  \
        if (fl >= sizeof(sql) - used)                                                              \
            ok = 0;                                                                                \
        else {                                                                                     \
            memcpy(sql + used, frag, fl + 1);                                                      \
            used += fl;                                                                            \
        }                                                                                          \
    } while (0)
    if (f->event != NULL)
        ADD(plen > 0 ? " AND event >= ? AND event < ?" : " AND event = ?");
    if (f->actor != NULL)
        ADD(" AND actor = ?");
    if (f->since_ms > 0)
        ADD(" AND ts_ms >= ?");
    if (f->until_ms > 0)
        ADD(" AND ts_ms < ?");
    if (f->before_seq > 0)
        ADD(" AND seq < ?");
    ADD(" ORDER BY seq DESC LIMIT ?");
#undef ADD
    if (!ok || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        bw_err_set(err, errlen, "query: %s", ok ? sqlite3_errmsg(db) : "statement too long");
        return -1;
    }
    if (f->event != NULL && plen > 0) {
        char hi[BW_AUDIT_EVENT_MAX + 1];

        /* "auth.*": every name in ["auth.", "auth/"): '/' follows '.' in byte order. */
        memcpy(hi, f->event, plen);
        hi[plen - 1] = '/';
        ok = sqlite3_bind_text(st, idx++, f->event, (int)plen, SQLITE_STATIC) == SQLITE_OK &&
             sqlite3_bind_text(st, idx++, hi, (int)plen, SQLITE_TRANSIENT) == SQLITE_OK;
    } else if (f->event != NULL) {
        ok = sqlite3_bind_text(st, idx++, f->event, (int)elen, SQLITE_STATIC) == SQLITE_OK;
    }
    if (ok && f->actor != NULL)
        ok = sqlite3_bind_text(st, idx++, f->actor, (int)alen, SQLITE_STATIC) == SQLITE_OK;
    if (ok && f->since_ms > 0)
        ok = sqlite3_bind_int64(st, idx++, f->since_ms) == SQLITE_OK;
    if (ok && f->until_ms > 0)
        ok = sqlite3_bind_int64(st, idx++, f->until_ms) == SQLITE_OK;
    if (ok && f->before_seq > 0)
        ok = sqlite3_bind_int64(st, idx++, f->before_seq) == SQLITE_OK;
    if (ok)
        ok = sqlite3_bind_int64(st, idx, (sqlite3_int64)limit) == SQLITE_OK;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        bw_audit_row row;
        const char *bad = row_read(st, &row);

        if (bad != NULL) {
            bw_err_set(err, errlen, "record %lld: %s", (long long)sqlite3_column_int64(st, 0), bad);
            (void)sqlite3_finalize(st);
            return -1;
        }
        bw_audit_row_record(&row, &out[n++]);
    }
    if (!ok || rc != SQLITE_DONE) {
        bw_err_set(err, errlen, "query: %s", sqlite3_errmsg(db));
        (void)sqlite3_finalize(st);
        return -1;
    }
    (void)sqlite3_finalize(st);
    return n;
}

/* ---- Verify ---- */

int bw_audit_verify(sqlite3 *db, const unsigned char *key, size_t keylen,
                    bw_audit_verify_result *out, char *err, size_t errlen)
{
    crypto_auth_hmacsha256_state keyed;
    unsigned char prev[BW_AUDIT_MAC_BYTES] = {0}, want[BW_AUDIT_MAC_BYTES];
    sqlite3_stmt *st = NULL;
    int64_t expect = 1;
    int rc;

    if (db == NULL || key == NULL || keylen == 0 || out == NULL) {
        bw_err_set(err, errlen, "bw_audit_verify: bad arguments");
        return -1;
    }
    memset(out, 0, sizeof(*out));
    out->ok = true;
    if (sqlite3_prepare_v2(db, "SELECT " COLUMNS " FROM audit_log ORDER BY seq", -1, &st, NULL) !=
        SQLITE_OK) {
        bw_err_set(err, errlen, "verify: %s", sqlite3_errmsg(db));
        return -1;
    }
    bw_audit_mac_key(&keyed, key, keylen);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bw_audit_row row;
        const char *bad;

        out->records++;
        if (!out->ok)
            continue; /* only counting now */
        bad = row_read(st, &row);
        if (bad != NULL) {
            out->ok = false;
            out->first_bad = sqlite3_column_int64(st, 0);
            snprintf(out->reason, sizeof(out->reason), "%s", bad);
            continue;
        }
        if (row.seq != expect) {
            /* A gap: the record at `expect` was deleted (or never committed, which a single
             * writer per transaction cannot produce). */
            out->ok = false;
            out->first_bad = expect;
            snprintf(out->reason, sizeof(out->reason), "seq %" PRId64 " missing", expect);
            continue;
        }
        bw_audit_mac(&keyed, prev, &row, want);
        if (sodium_memcmp(want, row.mac, sizeof(want)) != 0) {
            out->ok = false;
            out->first_bad = row.seq;
            snprintf(out->reason, sizeof(out->reason),
                     "MAC mismatch (the record was edited, inserted or reordered, a record "
                     "before it was removed, or the key is wrong)");
            continue;
        }
        memcpy(prev, row.mac, sizeof(prev));
        expect++;
    }
    sodium_memzero(&keyed, sizeof(keyed));
    if (rc != SQLITE_DONE) {
        bw_err_set(err, errlen, "verify: %s", sqlite3_errmsg(db));
        (void)sqlite3_finalize(st);
        return -1;
    }
    (void)sqlite3_finalize(st);
    return 0;
}

/* ---- JSON lines ---- */

/* Appends ts_ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (or null when out of range). */
static int json_time(char *buf, size_t cap, size_t *pos, int64_t ts_ms)
{
    int64_t secs = ts_ms / 1000, ms = ts_ms % 1000;
    char text[48];
    struct tm tm;
    time_t t;
    size_t n;

    if (ms < 0) {
        ms += 1000;
        secs--;
    }
    t = (time_t)secs;
    if ((int64_t)t != secs || gmtime_r(&t, &tm) == NULL || tm.tm_year > 9999 - 1900 ||
        tm.tm_year < -1900)
        return bw_audit_json_raw(buf, cap, pos, "null", 4);
    n = strftime(text, sizeof(text), "\"%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0 || snprintf(text + n, sizeof(text) - n, ".%03dZ\"", (int)ms) != 6)
        return bw_audit_json_raw(buf, cap, pos, "null", 4);
    return bw_audit_json_raw(buf, cap, pos, text, n + 6);
}

/* Appends the detail object: re-serialised (one line, no duplicate keys) when it is a JSON
 * object, else the stored text as a JSON string (a damaged row still shows what it holds). */
static int json_detail(char *buf, size_t cap, size_t *pos, const char *d, size_t len)
{
    json_error_t jerr;
    json_t *obj;
    char *text = NULL;
    int rc = -1;

    if (len == 0)
        return bw_audit_json_raw(buf, cap, pos, "{}", 2);
    obj = json_loadb(d, len, JSON_REJECT_DUPLICATES, &jerr);
    if (obj != NULL && json_is_object(obj))
        text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    /* The bound keeps the worst case of a record's line known (BW_AUDIT_JSON_MAX). */
    if (text != NULL && strlen(text) <= 6 * (size_t)BW_AUDIT_DETAIL_MAX)
        rc = bw_audit_json_raw(buf, cap, pos, text, strlen(text));
    else
        rc = bw_audit_json_string(buf, cap, pos, d, len);
    free(text);
    return rc;
}

int bw_audit_record_json(const bw_audit_record *r, char *buf, size_t cap)
{
    static const char *const names[] = {"actor", "source", "request_id", "target"};
    const char *vals[] = {r->actor, r->source, r->request_id, r->target};
    const size_t caps[] = {sizeof(r->actor), sizeof(r->source), sizeof(r->request_id),
                           sizeof(r->target)};
    char num[64], hex[2 * BW_AUDIT_MAC_BYTES + 1];
    size_t pos = 0, i;
    int n;

    if (buf == NULL || cap == 0)
        return -1;
    buf[0] = '\0';
    n = snprintf(num, sizeof(num), "{\"seq\":%" PRId64 ",\"ts\":", r->seq);
    if (n < 0 || (size_t)n >= sizeof(num) || bw_audit_json_raw(buf, cap, &pos, num, (size_t)n) ||
        json_time(buf, cap, &pos, r->ts_ms) ||
        bw_audit_json_raw(buf, cap, &pos, ",\"event\":", 9) ||
        bw_audit_json_string(buf, cap, &pos, r->event, strnlen(r->event, sizeof(r->event))) ||
        bw_audit_json_raw(buf, cap, &pos, ",\"outcome\":", 11) ||
        bw_audit_json_string(buf, cap, &pos, r->outcome, strnlen(r->outcome, sizeof(r->outcome))))
        return -1;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t len = strnlen(vals[i], caps[i]);

        n = snprintf(num, sizeof(num), ",\"%s\":", names[i]);
        if (n < 0 || (size_t)n >= sizeof(num) || bw_audit_json_raw(buf, cap, &pos, num, (size_t)n))
            return -1;
        if (len == 0 ? bw_audit_json_raw(buf, cap, &pos, "null", 4)
                     : bw_audit_json_string(buf, cap, &pos, vals[i], len))
            return -1;
    }
    (void)sodium_bin2hex(hex, sizeof(hex), r->mac, sizeof(r->mac));
    if (bw_audit_json_raw(buf, cap, &pos, ",\"detail\":", 10) ||
        json_detail(buf, cap, &pos, r->detail, strnlen(r->detail, sizeof(r->detail))) ||
        bw_audit_json_raw(buf, cap, &pos, ",\"mac\":\"", 8) ||
        bw_audit_json_raw(buf, cap, &pos, hex, (size_t)2 * BW_AUDIT_MAC_BYTES) ||
        bw_audit_json_raw(buf, cap, &pos, "\"}", 2))
        return -1;
    return (int)pos;
}
