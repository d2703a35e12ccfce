/* The audit store: chain round trip, every kind of tampering found at the right record, the
 * append-only triggers, the wrong key refused at start, queries (filters, prefixes, keyset
 * pages, bad arguments), JSON lines (escaping, null fields, damaged detail), field limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/audit_internal.h"
#include "bulwark/audit.h"
#include "bulwark/log.h"

typedef struct fixture {
    char dir[64];
    char path[128];
    unsigned char key[32];
    int logfd;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || sodium_init() < 0) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "/tmp/bw_audit_store_XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/audit.db", f->dir);
    randombytes_buf(f->key, sizeof(f->key));
    f->logfd = memfd_create("bw_audit_log", 0);
    if (f->logfd < 0) {
        free(f);
        return -1;
    }
    bw_log_set_fd(f->logfd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[160];

    bw_audit_stop();
    bw_log_set_fd(2);
    (void)close(f->logfd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void start(fixture *f, const unsigned char *key)
{
    bw_audit_options o = {.path = f->path,
                          .key = key != NULL ? key : f->key,
                          .keylen = 32,
                          .queue_capacity = 128,
                          .batch_max = 16};
    char err[256] = "";

    assert_int_equal(bw_audit_start(&o, err, sizeof(err)), 0);
}

/* Pushes n records "test.eN" (actor "user<N mod 3>") and waits for all of them. */
static void write_records(fixture *f, int n)
{
    uint64_t last = 0;
    int i;

    start(f, NULL);
    for (i = 1; i <= n; i++) {
        char event[32], actor[32];
        bw_log_field d[] = {BW_LOG_I("n", i), BW_LOG_S("path", "/v1/notes")};
        bw_audit_event ev = {.event = event,
                             .outcome = i % 2 ? BW_AUDIT_SUCCESS : BW_AUDIT_FAILURE,
                             .actor = actor,
                             .source = "192.0.2.1",
                             .request_id = "req",
                             .target = "note:1",
                             .detail = d,
                             .ndetail = 2};

        snprintf(event, sizeof(event), "test.e%d", i);
        snprintf(actor, sizeof(actor), "user%d", i % 3);
        last = bw_audit_push(&ev);
        assert_true(last > 0);
    }
    assert_int_equal(bw_audit_wait(last), 0);
    bw_audit_stop();
}

static bw_audit_verify_result verify_with(fixture *f, const unsigned char *key)
{
    bw_audit_verify_result r;
    char err[256];
    sqlite3 *db = bw_audit_open_readonly(f->path, err, sizeof(err));

    assert_non_null(db);
    assert_int_equal(bw_audit_verify(db, key, 32, &r, err, sizeof(err)), 0);
    sqlite3_close(db);
    return r;
}

/* A read-write connection without the triggers: the attacker's view of the file. */
static sqlite3 *tamper_open(fixture *f)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TRIGGER IF EXISTS audit_log_no_update;"
                                  "DROP TRIGGER IF EXISTS audit_log_no_delete;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    return db;
}

static void tamper(fixture *f, const char *sql)
{
    sqlite3 *db = tamper_open(f);
    char *msg = NULL;

    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK);
    sqlite3_free(msg);
    sqlite3_close(db);
}

static void test_round_trip(void **state)
{
    fixture *f = *state;
    bw_audit_verify_result r;
    bw_audit_record recs[20];
    bw_audit_filter all = {0};
    char err[256];
    struct stat st;
    sqlite3 *db;
    int n, i;

    write_records(f, 10);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    r = verify_with(f, f->key);
    assert_true(r.ok);
    assert_int_equal(r.records, 10);
    assert_int_equal(r.first_bad, 0);

    db = bw_audit_open_readonly(f->path, err, sizeof(err));
    assert_non_null(db);
    n = bw_audit_query(db, &all, recs, 20, err, sizeof(err));
    assert_int_equal(n, 10);
    for (i = 0; i < n; i++) {
        char want[32];

        assert_int_equal(recs[i].seq, 10 - i); /* newest first */
        snprintf(want, sizeof(want), "test.e%d", 10 - i);
        assert_string_equal(recs[i].event, want);
        assert_string_equal(recs[i].outcome, (10 - i) % 2 ? "success" : "failure");
        assert_string_equal(recs[i].source, "192.0.2.1");
        snprintf(want, sizeof(want), "{\"n\":%d,\"path\":\"/v1/notes\"}", 10 - i);
        assert_string_equal(recs[i].detail, want);
        assert_true(recs[i].ts_ms > 1700000000000LL);
        if (i > 0)
            assert_true(recs[i].ts_ms <= recs[i - 1].ts_ms);
    }
    /* A read-only handle cannot write, even SQL that the triggers would allow. */
    assert_int_not_equal(sqlite3_exec(db, "CREATE TABLE x (a)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    /* The empty chain verifies too. */
    snprintf(f->path, sizeof(f->path), "%s/empty.db", f->dir);
    sqlite3_close(bw_audit_db_open(f->path, err, sizeof(err)));
    r = verify_with(f, f->key);
    assert_true(r.ok);
    assert_int_equal(r.records, 0);
}

static void expect_bad(fixture *f, int64_t seq, const char *reason_part, int64_t records)
{
    bw_audit_verify_result r = verify_with(f, f->key);

    assert_false(r.ok);
    assert_int_equal(r.first_bad, seq);
    assert_non_null(strstr(r.reason, reason_part));
    assert_int_equal(r.records, records);
}

static void test_tamper_edit(void **state)
{
    fixture *f = *state;

    write_records(f, 10);
    tamper(f, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 6");
    expect_bad(f, 6, "MAC mismatch", 10);
}

static void test_tamper_edit_time_and_detail(void **state)
{
    fixture *f = *state;

    write_records(f, 10);
    tamper(f, "UPDATE audit_log SET ts_ms = ts_ms + 1 WHERE seq = 9");
    expect_bad(f, 9, "MAC mismatch", 10);
    tamper(f, "UPDATE audit_log SET detail = '{\"n\":2}' WHERE seq = 2");
    expect_bad(f, 2, "MAC mismatch", 10);
}

static void test_tamper_delete_middle(void **state)
{
    fixture *f = *state;

    write_records(f, 10);
    tamper(f, "DELETE FROM audit_log WHERE seq = 5");
    expect_bad(f, 5, "seq 5 missing", 9);
}

static void test_tamper_delete_first(void **state)
{
    fixture *f = *state;

    write_records(f, 10);
    tamper(f, "DELETE FROM audit_log WHERE seq = 1");
    expect_bad(f, 1, "seq 1 missing", 9);
}

static void test_tamper_delete_renumber(void **state)
{
    fixture *f = *state;

    /* Removing a record and closing the gap keeps seq dense: the chain breaks instead. */
    write_records(f, 10);
    tamper(f, "DELETE FROM audit_log WHERE seq = 4;"
              "CREATE TEMP TABLE t AS SELECT * FROM audit_log WHERE seq > 4;"
              "DELETE FROM audit_log WHERE seq > 4;"
              "INSERT INTO audit_log SELECT seq - 1, ts_ms, event, outcome, actor, source,"
              " request_id, target, detail, mac FROM t;");
    expect_bad(f, 4, "MAC mismatch", 9);
}

static void test_tamper_insert(void **state)
{
    fixture *f = *state;

    write_records(f, 10);
    /* Appended with a plausible MAC (a copy of the last one). */
    tamper(f, "INSERT INTO audit_log SELECT 11, ts_ms, 'auth.login.success', 'success',"
              " 'mallory', source, request_id, target, detail, mac FROM audit_log"
              " WHERE seq = 10");
    expect_bad(f, 11, "MAC mismatch", 11);
}

static void test_tamper_insert_middle(void **state)
{
    fixture *f = *state;

    write_records(f, 10);
    /* Shift 5.. up by one and put a forged record at 5. */
    tamper(f, "CREATE TEMP TABLE t AS SELECT * FROM audit_log WHERE seq >= 5;"
              "DELETE FROM audit_log WHERE seq >= 5;"
              "INSERT INTO audit_log SELECT seq + 1, ts_ms, event, outcome, actor, source,"
              " request_id, target, detail, mac FROM t;"
              "INSERT INTO audit_log SELECT 5, ts_ms, 'x.y', 'info', '', '', '', '', '{}', mac"
              " FROM t WHERE seq = 5;");
    expect_bad(f, 5, "MAC mismatch", 11);
}

static void test_tamper_swap(void **state)
{
    fixture *f = *state;

    write_records(f, 10);
    /* Swap the contents (MACs included) of records 3 and 7: reordering. */
    tamper(f, "CREATE TEMP TABLE t AS SELECT * FROM audit_log WHERE seq IN (3, 7);"
              "DELETE FROM audit_log WHERE seq IN (3, 7);"
              "INSERT INTO audit_log SELECT 10 - seq, ts_ms, event, outcome, actor, source,"
              " request_id, target, detail, mac FROM t;");
    expect_bad(f, 3, "MAC mismatch", 10);
}

static void test_triggers_refuse(void **state)
{
    fixture *f = *state;
    sqlite3 *db = NULL;
    char *msg = NULL;

    write_records(f, 3);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "UPDATE audit_log SET actor = 'x'", NULL, NULL, &msg),
                         SQLITE_OK);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "append-only"));
    sqlite3_free(msg);
    msg = NULL;
    assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit_log", NULL, NULL, &msg), SQLITE_OK);
    assert_non_null(strstr(msg, "append-only"));
    sqlite3_free(msg);
    /* Constraints: NULLs, a short MAC, an unknown outcome. */
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO audit_log VALUES (4, 1, 'e', 'info', '', '',"
                                      " '', '', NULL, zeroblob(32))",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO audit_log VALUES (4, 1, 'e', 'info', '', '',"
                                      " '', '', '{}', zeroblob(31))",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO audit_log VALUES (4, 1, 'e', 'maybe', '', '',"
                                      " '', '', '{}', zeroblob(32))",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    sqlite3_close(db);
    assert_true(verify_with(f, f->key).ok);
}

static void test_wrong_key(void **state)
{
    fixture *f = *state;
    unsigned char other[32];
    bw_audit_options o = {
        .path = f->path, .key = other, .keylen = 32, .queue_capacity = 8, .batch_max = 8};
    bw_audit_verify_result r;
    char err[256] = "";

    write_records(f, 3);
    memcpy(other, f->key, sizeof(other));
    other[0] ^= 1;
    assert_int_equal(bw_audit_start(&o, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "seq 3"));
    assert_non_null(strstr(err, "does not verify"));
    r = verify_with(f, other);
    assert_false(r.ok);
    assert_int_equal(r.first_bad, 1);
    /* A writer with the right key still starts: the failed start left nothing behind. */
    start(f, NULL);
    bw_audit_stop();
    /* The tail check also notices an altered last record. */
    tamper(f, "UPDATE audit_log SET target = 'x' WHERE seq = 3");
    assert_int_equal(
        bw_audit_start(
            &(bw_audit_options){
                .path = f->path, .key = f->key, .keylen = 32, .queue_capacity = 8, .batch_max = 8},
            err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "seq 3"));
}

static void test_open_errors(void **state)
{
    fixture *f = *state;
    char err[256] = "", path[160];

    snprintf(path, sizeof(path), "%s/missing.db", f->dir);
    assert_null(bw_audit_open_readonly(path, err, sizeof(err)));
    assert_true(err[0] != '\0');
    assert_int_equal(access(path, F_OK), -1); /* read-only never creates */
    assert_null(bw_audit_open_readonly("", err, sizeof(err)));
    assert_null(bw_audit_db_open(":memory:", err, sizeof(err)));
    snprintf(path, sizeof(path), "%s/nodir/a.db", f->dir);
    assert_null(bw_audit_db_open(path, err, sizeof(err)));
    /* A database without the table. */
    snprintf(path, sizeof(path), "%s/other.db", f->dir);
    {
        sqlite3 *db = NULL;

        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (a)", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
    }
    assert_null(bw_audit_open_readonly(path, err, sizeof(err)));
    assert_non_null(strstr(err, "audit_log"));
}

/* Appends one record with a chosen time through the store's own append (a valid chain). */
static void append_at(sqlite3 *db, const char *event, const char *actor, int64_t ts_ms)
{
    crypto_auth_hmacsha256_state keyed;
    unsigned char key[32] = {1};
    bw_audit_row row, *rows[1] = {&row};
    const char *text[BW_AT_COUNT] = {event, "info", actor, "", "", "", "{}"};
    char err[256];
    int i;

    memset(&row, 0, sizeof(row));
    row.ts_ms = ts_ms;
    for (i = 0; i < BW_AT_COUNT; i++) {
        row.text[i] = text[i];
        row.len[i] = strlen(text[i]);
    }
    bw_audit_mac_key(&keyed, key, sizeof(key));
    assert_int_equal(bw_audit_db_append(db, &keyed, rows, 1, err, sizeof(err)), 0);
}

static int query(fixture *f, const bw_audit_filter *flt, bw_audit_record *out, size_t limit)
{
    char err[256];
    sqlite3 *db = bw_audit_open_readonly(f->path, err, sizeof(err));
    int n;

    assert_non_null(db);
    n = bw_audit_query(db, flt, out, limit, err, sizeof(err));
    sqlite3_close(db);
    return n;
}

static void test_query(void **state)
{
    static const char *const events[] = {"auth.login.failure", "auth.login.success", "authz.denied",
                                         "note.create", "auth.logout"};
    fixture *f = *state;
    bw_audit_record *recs = calloc(1000, sizeof(*recs));
    char err[256];
    sqlite3 *db;
    int i, n;

    assert_non_null(recs);
    db = bw_audit_db_open(f->path, err, sizeof(err));
    assert_non_null(db);
    /* 50 records, 1000 s apart from t = 1e12 ms, events cycling, actors alice/bob. */
    for (i = 0; i < 50; i++)
        append_at(db, events[i % 5], i % 2 ? "bob" : "alice", 1000000000000LL + i * 1000000LL);
    sqlite3_close(db);

    n = query(f, &(bw_audit_filter){.event = "auth.login.failure"}, recs, 1000);
    assert_int_equal(n, 10);
    for (i = 0; i < n; i++)
        assert_string_equal(recs[i].event, "auth.login.failure");
    /* "auth.*" covers auth.login.* and auth.logout but not authz.denied. */
    n = query(f, &(bw_audit_filter){.event = "auth.*"}, recs, 1000);
    assert_int_equal(n, 30);
    for (i = 0; i < n; i++)
        assert_int_equal(strncmp(recs[i].event, "auth.", 5), 0);
    n = query(f, &(bw_audit_filter){.event = "auth.login.*", .actor = "bob"}, recs, 1000);
    for (i = 0; i < n; i++)
        assert_string_equal(recs[i].actor, "bob");
    assert_int_equal(n, 10);
    n = query(f, &(bw_audit_filter){.event = "nothing"}, recs, 1000);
    assert_int_equal(n, 0);
    /* Time: [since, until) */
    n = query(f,
              &(bw_audit_filter){.since_ms = 1000000000000LL + 10 * 1000000LL,
                                 .until_ms = 1000000000000LL + 20 * 1000000LL},
              recs, 1000);
    assert_int_equal(n, 10);
    assert_int_equal(recs[0].seq, 20);
    assert_int_equal(recs[9].seq, 11);
    /* Keyset pages of 7 through the 25 records of alice. */
    {
        bw_audit_filter flt = {.actor = "alice"};
        int64_t seen = 0, last = INT64_MAX;

        for (;;) {
            n = query(f, &flt, recs, 7);
            assert_true(n >= 0 && n <= 7);
            if (n == 0)
                break;
            for (i = 0; i < n; i++) {
                assert_true(recs[i].seq < last);
                assert_string_equal(recs[i].actor, "alice");
                last = recs[i].seq;
            }
            seen += n;
            flt.before_seq = recs[n - 1].seq;
        }
        assert_int_equal(seen, 25);
    }
    /* Bad arguments. */
    db = bw_audit_open_readonly(f->path, err, sizeof(err));
    assert_non_null(db);
    assert_int_equal(bw_audit_query(db, &(bw_audit_filter){0}, recs, 0, err, sizeof(err)), -1);
    assert_int_equal(bw_audit_query(db, &(bw_audit_filter){0}, recs, 1001, err, sizeof(err)), -1);
    {
        static const char *const bad[] = {"Auth.login", "*",   ".*",       "auth*",
                                          "auth.*.x",   "a b", "auth.'--", ""};
        size_t k;

        for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
            assert_int_equal(
                bw_audit_query(db, &(bw_audit_filter){.event = bad[k]}, recs, 10, err, sizeof(err)),
                -1);
    }
    assert_int_equal(
        bw_audit_query(db, &(bw_audit_filter){.since_ms = -1}, recs, 10, err, sizeof(err)), -1);
    assert_int_equal(
        bw_audit_query(db, &(bw_audit_filter){.before_seq = -5}, recs, 10, err, sizeof(err)), -1);
    /* An actor that looks like SQL is just a value. */
    assert_int_equal(
        bw_audit_query(db, &(bw_audit_filter){.actor = "x' OR '1'='1"}, recs, 10, err, sizeof(err)),
        0);
    sqlite3_close(db);
    free(recs);
}

static json_t *parse_line(const char *line)
{
    json_error_t e;
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &e);

    assert_non_null(j);
    assert_null(strchr(line, '\n'));
    assert_null(strchr(line, '\r'));
    return j;
}

static void test_record_json(void **state)
{
    bw_audit_record r;
    char buf[BW_AUDIT_JSON_MAX];
    json_t *j;
    size_t i;
    int n;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.seq = 42;
    r.ts_ms = 1795608000123LL; /* 2026-11-25T12:00:00.123Z */
    snprintf(r.event, sizeof(r.event), "auth.login.failure");
    snprintf(r.outcome, sizeof(r.outcome), "failure");
    snprintf(r.actor, sizeof(r.actor), "a\"b\\c\nd\re\tf\x01g\x7fh");
    {
        static const char src[] = "bad\xff\xfe utf8 \xc3\xa9 \xed\xa0\x80";

        memcpy(r.source, src, sizeof(src));
    }
    snprintf(r.detail, sizeof(r.detail), "{\n \"k\": \"v\",\n \"n\": 3\n}");
    for (i = 0; i < sizeof(r.mac); i++)
        r.mac[i] = (unsigned char)i;
    n = bw_audit_record_json(&r, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(buf));
    j = parse_line(buf);
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), 42);
    assert_string_equal(json_string_value(json_object_get(j, "ts")), "2026-11-25T12:00:00.123Z");
    assert_string_equal(json_string_value(json_object_get(j, "actor")),
                        "a\"b\\c\nd\re\tf\x01g\x7fh");
    assert_string_equal(json_string_value(json_object_get(j, "source")),
                        "bad\xef\xbf\xbd\xef\xbf\xbd utf8 \xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\xef"
                        "\xbf\xbd");
    assert_true(json_is_null(json_object_get(j, "request_id")));
    assert_true(json_is_null(json_object_get(j, "target")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "detail"), "n")), 3);
    assert_string_equal(json_string_value(json_object_get(j, "mac")),
                        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    assert_int_equal(json_object_size(j), 10);
    json_decref(j);

    /* A detail that is not an object (a damaged row) becomes a string, and cannot inject
     * members; a negative time still prints. */
    snprintf(r.detail, sizeof(r.detail), "{}, \"seq\": 1, \"x\": {\n}");
    r.ts_ms = -1;
    n = bw_audit_record_json(&r, buf, sizeof(buf));
    assert_true(n > 0);
    j = parse_line(buf);
    assert_string_equal(json_string_value(json_object_get(j, "detail")), r.detail);
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), 42);
    assert_string_equal(json_string_value(json_object_get(j, "ts")), "1969-12-31T23:59:59.999Z");
    json_decref(j);
    /* Duplicate keys are not an object we pass on either; empty detail is {}. */
    snprintf(r.detail, sizeof(r.detail), "{\"a\":1,\"a\":2}");
    assert_true(bw_audit_record_json(&r, buf, sizeof(buf)) > 0);
    j = parse_line(buf);
    assert_true(json_is_string(json_object_get(j, "detail")));
    json_decref(j);
    r.detail[0] = '\0';
    assert_true(bw_audit_record_json(&r, buf, sizeof(buf)) > 0);
    j = parse_line(buf);
    assert_int_equal(json_object_size(json_object_get(j, "detail")), 0);
    json_decref(j);

    /* Too small: -1 at every size below the line's length, never an overflow. */
    n = bw_audit_record_json(&r, buf, sizeof(buf));
    for (i = 0; i <= (size_t)n; i++)
        assert_int_equal(bw_audit_record_json(&r, buf, i), -1);
    assert_int_equal(bw_audit_record_json(&r, buf, (size_t)n + 1), n);

    /* The worst case fits BW_AUDIT_JSON_MAX: every field full of bytes that escape to six. */
    memset(&r, 0, sizeof(r));
    r.seq = INT64_MAX;
    r.ts_ms = INT64_MIN;
    memset(r.event, 0x01, BW_AUDIT_EVENT_MAX);
    memset(r.outcome, 0x01, sizeof(r.outcome) - 1);
    memset(r.actor, 0x01, BW_AUDIT_FIELD_MAX);
    memset(r.source, 0xff, BW_AUDIT_FIELD_MAX);
    memset(r.request_id, 0x1f, BW_AUDIT_FIELD_MAX);
    memset(r.target, 0x7f, BW_AUDIT_FIELD_MAX);
    memset(r.detail, 0x02, BW_AUDIT_DETAIL_MAX);
    n = bw_audit_record_json(&r, buf, sizeof(buf));
    assert_true(n > 0);
    j = parse_line(buf);
    assert_true(json_is_null(json_object_get(j, "ts")));
    json_decref(j);
}

static void test_limits(void **state)
{
    fixture *f = *state;
    char big[600], err[256];
    bw_log_field d[3];
    bw_audit_record rec;
    sqlite3 *db;
    json_t *j;
    size_t i;

    /* 300 x "é" (2 bytes): cut at 256 bytes, on a character boundary. */
    for (i = 0; i < 300; i++)
        memcpy(big + 2 * i, "\xc3\xa9", 2);
    big[600 - 1] = '\0';
    d[0] = BW_LOG_S("long", big);
    d[1] = BW_LOG_I("n", 7);
    d[2] = BW_LOG_I("n", 8); /* a duplicate key: the first wins */
    start(f, NULL);
    assert_int_equal(bw_audit_wait(bw_audit_push(&(bw_audit_event){.event = "test.limits",
                                                                   .outcome = BW_AUDIT_INFO,
                                                                   .actor = big,
                                                                   .detail = d,
                                                                   .ndetail = 3})),
                     0);
    bw_audit_stop();
    db = bw_audit_open_readonly(f->path, err, sizeof(err));
    assert_non_null(db);
    assert_int_equal(bw_audit_query(db, &(bw_audit_filter){0}, &rec, 1, err, sizeof(err)), 1);
    sqlite3_close(db);
    assert_int_equal(strlen(rec.actor), 256);
    assert_string_equal(rec.outcome, "info");
    assert_null(strstr(rec.actor, "\xc3\xc3"));
    j = json_loads(rec.detail, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "long"))), 256);
    assert_int_equal(json_integer_value(json_object_get(j, "n")), 7);
    assert_true(json_is_true(json_object_get(j, "truncated")));
    json_decref(j);

    /* The cut itself: never inside a sequence, invalid bytes are single units. */
    assert_int_equal(bw_audit_utf8_cut("ab\xc3\xa9", 4, 3), 2);
    assert_int_equal(bw_audit_utf8_cut("ab\xe2\x82\xac", 5, 4), 2);
    assert_int_equal(bw_audit_utf8_cut("ab\xff\xff", 4, 3), 3);
    assert_int_equal(bw_audit_utf8_cut("abc", 3, 3), 3);
}

/* A detail too big for BW_AUDIT_DETAIL_MAX keeps what fits and says so. */
static void test_detail_overflow(void **state)
{
    fixture *f = *state;
    char val[BW_AUDIT_FIELD_MAX + 1], keys[20][16], err[256];
    bw_log_field d[20];
    bw_audit_record rec;
    sqlite3 *db;
    json_t *j;
    int i;

    memset(val, '\n', BW_AUDIT_FIELD_MAX); /* each escapes to 2 bytes: ~520 per member */
    val[BW_AUDIT_FIELD_MAX] = '\0';
    for (i = 0; i < 20; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        d[i] = BW_LOG_S(keys[i], val);
    }
    start(f, NULL);
    assert_int_equal(bw_audit_wait(bw_audit_push(
                         &(bw_audit_event){.event = "test.big", .detail = d, .ndetail = 20})),
                     0);
    bw_audit_stop();
    db = bw_audit_open_readonly(f->path, err, sizeof(err));
    assert_non_null(db);
    assert_int_equal(bw_audit_query(db, &(bw_audit_filter){0}, &rec, 1, err, sizeof(err)), 1);
    sqlite3_close(db);
    assert_true(strlen(rec.detail) <= BW_AUDIT_DETAIL_MAX);
    j = json_loads(rec.detail, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "truncated")));
    assert_true(json_object_size(j) >= 2 && json_object_size(j) < 20);
    json_decref(j);
    assert_true(verify_with(f, f->key).ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_edit_time_and_detail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_delete_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_delete_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_delete_renumber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_insert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_insert_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_triggers_refuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query, setup, teardown),
        cmocka_unit_test(test_record_json),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detail_overflow, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
