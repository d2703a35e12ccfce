/*
 * The audit trail of the running notes service over HTTPS (docs/audit.md,
 * docs/audit-store.md):
 *
 * - the events the documentation promises are recorded with the right fields (actor, source,
 *   the X-Request-Id the client sent, target, detail), and an audited route's record is
 *   committed before the client gets its answer;
 * - GET /v1/admin/audit: filters, keyset pages that cover every record exactly once, who may
 *   read it (auditor yes, viewer 403, anonymous 401), bad queries 400, and reading is itself
 *   recorded;
 * - tampering with the database file (an attacker who can write it drops the append-only
 *   triggers first) is found by `notes audit verify`, which names the first bad record; the
 *   chain continues across a restart;
 * - a server killed with SIGKILL in the middle of a burst of audited writes has a record of
 *   every request it acknowledged, and its chain verifies.
 *
 * The harness cannot restart a server in its own folder, so a "restart" is a second server
 * whose config points its store, audit database and keys at the first one's files (absolute
 * paths): the same data, a new process. Not timing-sensitive: every wait is a poll with a
 * generous deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth_client.h"
#include "harness.h"
#include "totp_client.h"

static const char *const PW = "correct horse battery staple";
static const char CONFIG[] = "{\"auth\": {\"password\": {\"memlimit_kib\": 19456}}}";
static const char NOTE[] = "{\"title\":\"audited\",\"body\":\"b\"}";

#define RID_LEN 48
#define POLL_MS 20
#define RECORD_WAIT_MS 5000

typedef struct fixture {
    char *config;
    bw_srv *srv;
    long long started_s;            /* wall clock before the server started */
    char *alice, *boss, *aud, *vic; /* bearer tokens: editor, admin, auditor, viewer */
    char *bart;                     /* admin and auditor whose session passed no factor */
    char boss_b32[BW_TEST_TOTP_B32_SIZE], aud_b32[BW_TEST_TOTP_B32_SIZE];
    uint64_t boss_step, aud_step; /* boss and aud have a second factor: the admin routes */
} fixture;

/* ---- small helpers ----------------------------------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;

    assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* A fresh request id "<tag>-<hex>" (the service accepts [A-Za-z0-9-]{16,64}). */
static void new_rid(char out[RID_LEN + 1], const char *tag)
{
    unsigned char r[12];
    char hex[25];

    randombytes_buf(r, sizeof(r));
    sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
    assert_true((size_t)snprintf(out, RID_LEN + 1, "%s-%s", tag, hex) <= RID_LEN);
}

static void rid_header(char *out, size_t cap, const char *rid)
{
    assert_true((size_t)snprintf(out, cap, "X-Request-Id: %s", rid) < cap);
}

/* A string member of a record, NULL when absent or JSON null. */
static const char *sfield(const json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

static void want_str(const json_t *rec, const char *key, const char *want)
{
    const char *got = sfield(rec, key);
    char *text;

    if (want == NULL ? json_is_null(json_object_get(rec, key))
                     : (got != NULL && strcmp(got, want) == 0))
        return;
    text = json_dumps(rec, JSON_COMPACT);
    fail_msg("record field %s: want %s in %s", key, want != NULL ? want : "null",
             text != NULL ? text : "?");
}

static void want_detail_str(const json_t *rec, const char *key, const char *want)
{
    want_str(json_object_get(rec, "detail"), key, want);
}

static void want_detail_int(const json_t *rec, const char *key, long long want)
{
    const json_t *v = json_object_get(json_object_get(rec, "detail"), key);

    if (!json_is_integer(v) || json_integer_value(v) != want)
        fail_msg("detail.%s: want %lld", key, want);
}

static long long seq_of(const json_t *rec)
{
    const json_t *v = json_object_get(rec, "seq");

    assert_true(json_is_integer(v));
    return (long long)json_integer_value(v);
}

/* "2026-11-25T12:00:00.123Z" in Unix milliseconds. */
static long long ts_ms_of(const json_t *rec)
{
    const char *s = sfield(rec, "ts");
    struct tm tm;
    int ms = -1;
    char *end;

    assert_non_null(s);
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(end);
    assert_int_equal(sscanf(end, ".%3dZ", &ms), 1);
    assert_true(ms >= 0 && ms <= 999);
    return (long long)timegm(&tm) * 1000 + ms;
}

static void exec_sql(sqlite3 *db, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err != NULL ? err : "?");
}

/* ---- the CLI: search and verify ---------------------------------------------------------- */

/* `notes audit search ARGS... --limit 1000` next to srv: the records, newest first. */
static json_t *search_v(bw_srv *srv, const char *const *args)
{
    const char *argv[16] = {"audit", "search"};
    size_t n = 2;
    bw_run_result r;
    json_t *all = json_array();
    const char *p;

    for (size_t i = 0; args != NULL && args[i] != NULL; i++) {
        assert_true(n < 13);
        argv[n++] = args[i];
    }
    argv[n++] = "--limit";
    argv[n++] = "1000";
    argv[n] = NULL;
    assert_non_null(all);
    assert_int_equal(bw_srv_run(srv, argv, NULL, &r), 0);
    if (r.status != 0)
        fail_msg("audit search exited %d: %s", r.status, r.err);
    for (p = r.out; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        json_t *rec = json_loadb(p, len, 0, NULL);

        if (rec == NULL)
            fail_msg("audit search printed a line that is not JSON: %.*s", (int)len, p);
        assert_int_equal(json_array_append_new(all, rec), 0);
        p = nl != NULL ? nl + 1 : p + len;
    }
    bw_run_free(&r);
    return all;
}

static json_t *search_event(bw_srv *srv, const char *event)
{
    const char *args[] = {"--event", event, NULL};

    return search_v(srv, args);
}

/* The record of recs whose request_id is rid (borrowed), or NULL. */
static json_t *with_rid(const json_t *recs, const char *rid)
{
    for (size_t i = 0; i < json_array_size(recs); i++) {
        json_t *rec = json_array_get(recs, i);
        const char *id = sfield(rec, "request_id");

        if (id != NULL && strcmp(id, rid) == 0)
            return rec;
    }
    return NULL;
}

/* The record of event for request rid, read right away: for audited routes, whose record is
 * committed before the answer. Fails the test when there is none. Caller decrefs. */
static json_t *record_now(bw_srv *srv, const char *event, const char *rid)
{
    json_t *all = search_event(srv, event);
    json_t *rec = with_rid(all, rid);

    if (rec == NULL)
        fail_msg("no %s record for request %s when the answer came", event, rid);
    json_incref(rec);
    json_decref(all);
    return rec;
}

/* The same, for events queued without waiting: polls until the record is committed. */
static json_t *record_soon(bw_srv *srv, const char *event, const char *rid)
{
    long long deadline = now_ms() + RECORD_WAIT_MS;

    for (;;) {
        json_t *all = search_event(srv, event);
        json_t *rec = with_rid(all, rid);

        if (rec != NULL) {
            json_incref(rec);
            json_decref(all);
            return rec;
        }
        json_decref(all);
        if (now_ms() > deadline)
            fail_msg("no %s record for request %s after %d ms", event, rid, RECORD_WAIT_MS);
        sleep_ms(POLL_MS);
    }
}

/* The newest record of event (a CLI command's, committed before it exits). Caller decrefs. */
static json_t *newest(bw_srv *srv, const char *event)
{
    const char *args[] = {"--event", event, NULL};
    json_t *all = search_v(srv, args);
    json_t *rec = json_array_get(all, 0);

    if (rec == NULL)
        fail_msg("no %s record", event);
    json_incref(rec);
    json_decref(all);
    return rec;
}

typedef struct verify_out {
    int status;
    char out[512];
} verify_out;

/* `notes audit verify` with the environment env (run from the test, not next to a server). */
static void verify_env(const char *const *env, verify_out *v)
{
    const char *argv[] = {"audit", "verify", NULL};
    bw_run_result r;

    assert_int_equal(bw_run(argv, env, BW_RUN_TIMEOUT_MS, &r), 0);
    assert_false(r.timed_out);
    v->status = r.status;
    snprintf(v->out, sizeof(v->out), "%s%s", r.out, r.err); /* cut is fine: for messages */
    bw_run_free(&r);
}

static void verify_srv(bw_srv *srv, verify_out *v)
{
    const char *argv[] = {"audit", "verify", NULL};
    bw_run_result r;

    assert_int_equal(bw_srv_run(srv, argv, NULL, &r), 0);
    assert_false(r.timed_out);
    v->status = r.status;
    snprintf(v->out, sizeof(v->out), "%s%s", r.out, r.err);
    bw_run_free(&r);
}

/* "audit: N records, chain intact" with exit 0; returns N. */
static long long verify_intact(const verify_out *v)
{
    long long n = -1;

    if (v->status != 0 || sscanf(v->out, "audit: %lld records, chain intact", &n) != 1)
        fail_msg("audit verify: exit %d: %s", v->status, v->out);
    return n;
}

/* ---- fixture ----------------------------------------------------------------------------- */

static char *login(bw_srv *srv, const char *name)
{
    char *token = NULL;
    long st = 0;

    if (bw_test_login(srv, name, PW, &token, &st) != 0)
        fail_msg("login of %s: %ld", name, st);
    return token;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    *state = f;
    f->started_s = (long long)time(NULL);
    if (sodium_init() < 0 || (f->srv = bw_test_srv_start_json(CONFIG, &f->config)) == NULL)
        return -1;
    if (bw_test_user_add(f->srv, "alice", PW, "editor") != 0 ||
        bw_test_user_add(f->srv, "boss", PW, "admin") != 0 ||
        bw_test_user_add(f->srv, "aud", PW, "auditor") != 0 ||
        bw_test_user_add(f->srv, "vic", PW, "viewer") != 0 ||
        bw_test_user_add(f->srv, "rl", PW, "editor") != 0 ||
        bw_test_user_add(f->srv, "bart", PW, "admin,auditor") != 0)
        return -1;
    if (bw_test_login(f->srv, "alice", PW, &f->alice, NULL) != 0 ||
        bw_test_login(f->srv, "boss", PW, &f->boss, NULL) != 0 ||
        bw_test_login(f->srv, "aud", PW, &f->aud, NULL) != 0 ||
        bw_test_login(f->srv, "vic", PW, &f->vic, NULL) != 0 ||
        bw_test_login(f->srv, "bart", PW, &f->bart, NULL) != 0 ||
        bw_test_mfa_upgrade(f->srv, &f->boss, f->boss_b32, &f->boss_step) != 0 ||
        bw_test_mfa_upgrade(f->srv, &f->aud, f->aud_b32, &f->aud_step) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc;

    if (f == NULL)
        return -1;
    rc = bw_test_srv_stop(&f->srv, &f->config);
    free(f->alice);
    free(f->boss);
    free(f->aud);
    free(f->vic);
    free(f->bart);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* One request with a request id; returns the status and the body in *doc when doc is not
 * NULL (caller decrefs; an empty object for an empty body). */
static long call_rid(bw_srv *srv, const char *token, const char *method, const char *path,
                     const char *json, const char *rid, json_t **doc)
{
    char hdr[96];
    const char *extra[] = {hdr, NULL};
    bw_resp r;
    long st;

    rid_header(hdr, sizeof(hdr), rid);
    assert_int_equal(bw_http_as(srv, token, method, path, json, extra, &r), 0);
    st = r.status;
    /* The service echoes the id it was given. */
    assert_non_null(bw_resp_header(&r, "X-Request-Id"));
    assert_string_equal(bw_resp_header(&r, "X-Request-Id"), rid);
    if (doc != NULL) {
        *doc = r.body_len > 0 ? json_loadb(r.body, r.body_len, 0, NULL) : json_object();
        assert_non_null(*doc);
    }
    bw_resp_free(&r);
    return st;
}

/* ---- records of events ------------------------------------------------------------------- */

static void test_login_records(void **state)
{
    fixture *f = *state;
    char rid_fail[RID_LEN + 1], rid_ok[RID_LEN + 1], rid_ck[RID_LEN + 1], hdr[96];
    const char *extra[] = {hdr, NULL};
    long long before = now_ms(), after;
    json_t *rec;
    char *text;
    bw_resp r;

    new_rid(rid_fail, "login-fail");
    new_rid(rid_ok, "login-ok");
    new_rid(rid_ck, "login-cookie");
    rid_header(hdr, sizeof(hdr), rid_fail);
    assert_int_equal(bw_test_login_request(f->srv, "alice", "not her password", NULL, extra, &r),
                     0);
    bw_test_want_status(&r, 401, "wrong password");
    bw_resp_free(&r);
    rid_header(hdr, sizeof(hdr), rid_ok);
    assert_int_equal(bw_test_login_request(f->srv, "alice", PW, NULL, extra, &r), 0);
    bw_test_want_status(&r, 200, "bearer login");
    bw_resp_free(&r);
    rid_header(hdr, sizeof(hdr), rid_ck);
    assert_int_equal(bw_test_login_request(f->srv, "alice", PW, "cookie", extra, &r), 0);
    bw_test_want_status(&r, 200, "cookie login");
    bw_resp_free(&r);
    after = now_ms();

    /* The failure: no actor, no target, and the name tried nowhere in the record. */
    rec = record_soon(f->srv, "auth.login.failure", rid_fail);
    want_str(rec, "outcome", "failure");
    want_str(rec, "actor", NULL);
    want_str(rec, "source", "127.0.0.1");
    want_str(rec, "target", NULL);
    want_detail_str(rec, "mode", "bearer");
    text = json_dumps(rec, JSON_COMPACT);
    assert_non_null(text);
    assert_null(strstr(text, "alice"));
    assert_null(strstr(text, "not her password"));
    free(text);
    assert_true(ts_ms_of(rec) >= before - 1000 && ts_ms_of(rec) <= after + 1000);
    assert_int_equal(strlen(sfield(rec, "mac")), 64);
    json_decref(rec);

    /* The successes: the user as actor and target, the session mode. */
    rec = record_soon(f->srv, "auth.login.success", rid_ok);
    want_str(rec, "outcome", "success");
    want_str(rec, "actor", "alice");
    want_str(rec, "source", "127.0.0.1");
    want_detail_str(rec, "mode", "bearer");
    assert_non_null(sfield(rec, "target"));
    assert_memory_equal(sfield(rec, "target"), "user:", 5);
    assert_true(strlen(sfield(rec, "target")) > 5 &&
                strspn(sfield(rec, "target") + 5, "0123456789") ==
                    strlen(sfield(rec, "target")) - 5);
    json_decref(rec);
    rec = record_soon(f->srv, "auth.login.success", rid_ck);
    want_str(rec, "actor", "alice");
    want_detail_str(rec, "mode", "cookie");
    json_decref(rec);
}

static void test_audited_routes_recorded_before_the_answer(void **state)
{
    fixture *f = *state;
    char rid[RID_LEN + 1], path[96], body[256];
    json_t *doc = NULL, *rec;

    /* Three deletes, each record read the moment its answer arrives (no polling). */
    for (int i = 0; i < 3; i++) {
        doc = bw_test_call(f->srv, f->alice, "POST", "/v1/notes", NOTE, 201);
        snprintf(path, sizeof(path), "/v1/notes/%s", sfield(doc, "id"));
        json_decref(doc);
        new_rid(rid, "delete");
        assert_int_equal(call_rid(f->srv, f->alice, "DELETE", path, NULL, rid, NULL), 204);
        rec = record_now(f->srv, "notes.delete", rid);
        want_str(rec, "outcome", "success");
        want_str(rec, "actor", "alice");
        want_str(rec, "source", "127.0.0.1");
        want_str(rec, "target", path);
        want_detail_str(rec, "method", "DELETE");
        want_detail_str(rec, "route", "/v1/notes/{id}");
        want_detail_int(rec, "status", 204);
        json_decref(rec);
    }
    /* The outcome follows the status: deleting it again is a 404, recorded as a failure. */
    new_rid(rid, "delete-again");
    assert_int_equal(call_rid(f->srv, f->alice, "DELETE", path, NULL, rid, NULL), 404);
    rec = record_now(f->srv, "notes.delete", rid);
    want_str(rec, "outcome", "failure");
    want_detail_int(rec, "status", 404);
    json_decref(rec);

    /* POST /v1/admin/users: admin.user.create by the admin, without the password. */
    new_rid(rid, "admin-create");
    snprintf(body, sizeof(body),
             "{\"username\":\"made.by.boss\",\"password\":\"%s x\",\"roles\":[\"viewer\"]}", PW);
    assert_int_equal(call_rid(f->srv, f->boss, "POST", "/v1/admin/users", body, rid, NULL), 201);
    rec = record_now(f->srv, "admin.user.create", rid);
    want_str(rec, "outcome", "success");
    want_str(rec, "actor", "boss");
    want_str(rec, "target", "/v1/admin/users");
    want_detail_str(rec, "method", "POST");
    want_detail_int(rec, "status", 201);
    json_decref(rec);
    /* The same name again: 409, recorded before the answer as a failure. */
    new_rid(rid, "admin-create-dup");
    assert_int_equal(call_rid(f->srv, f->boss, "POST", "/v1/admin/users", body, rid, NULL), 409);
    rec = record_now(f->srv, "admin.user.create", rid);
    want_str(rec, "outcome", "failure");
    want_detail_int(rec, "status", 409);
    json_decref(rec);
}

/* A DELETE sent from another thread while the test holds the audit database's write lock. */
typedef struct held_request {
    pthread_t th;
    bw_srv *srv;
    const char *token;
    char path[96];
    char hdr[96];
    atomic_bool done;
    long status; /* -1: transport error */
} held_request;

static void *held_request_run(void *arg)
{
    held_request *h = arg;
    const char *extra[] = {h->hdr, NULL};
    bw_resp r;

    h->status = -1;
    if (bw_http_as(h->srv, h->token, "DELETE", h->path, NULL, extra, &r) == 0) {
        h->status = r.status;
        bw_resp_free(&r);
    }
    atomic_store(&h->done, true);
    return NULL;
}

static void test_answer_waits_for_the_commit(void **state)
{
    fixture *f = *state;
    char audit[4200], rid[RID_LEN + 1];
    held_request *h = calloc(1, sizeof(*h));
    sqlite3 *db = NULL;
    json_t *doc, *all, *rec;
    bool answered_early, recorded_early;

    assert_non_null(h);
    doc = bw_test_call(f->srv, f->alice, "POST", "/v1/notes", NOTE, 201);
    snprintf(h->path, sizeof(h->path), "/v1/notes/%s", sfield(doc, "id"));
    json_decref(doc);
    new_rid(rid, "held");
    rid_header(h->hdr, sizeof(h->hdr), rid);
    h->srv = f->srv;
    h->token = f->alice;
    atomic_init(&h->done, false);

    /* Take the audit database's write lock (as another appending process would) so no
     * record can be committed, then delete: the answer must wait for the record. */
    assert_true((size_t)snprintf(audit, sizeof(audit), "%s/audit.db", bw_srv_data_dir(f->srv)) <
                sizeof(audit));
    assert_int_equal(sqlite3_open_v2(audit, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_busy_timeout(db, 5000), SQLITE_OK);
    exec_sql(db, "BEGIN IMMEDIATE");
    assert_int_equal(pthread_create(&h->th, NULL, held_request_run, h), 0);
    /* Well within the writer's busy timeout (5 s): the note is deleted by now, but neither
     * the record nor the answer may exist yet. The lock is released before any assertion, so
     * a failure here does not stall the tests after it. */
    sleep_ms(600);
    answered_early = atomic_load(&h->done);
    all = search_event(f->srv, "notes.delete");
    recorded_early = with_rid(all, rid) != NULL;
    json_decref(all);
    exec_sql(db, "COMMIT");
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_int_equal(pthread_join(h->th, NULL), 0);
    assert_false(answered_early);
    assert_false(recorded_early);
    assert_int_equal(h->status, 204);
    rec = record_now(f->srv, "notes.delete", rid);
    want_str(rec, "outcome", "success");
    want_str(rec, "target", h->path);
    json_decref(rec);
    free(h);
}

static void test_authz_denied(void **state)
{
    fixture *f = *state;
    char rid[RID_LEN + 1], hdr[96], origin[96], cookie[128];
    char token[BW_TEST_TOKEN_LEN + 1], csrf[BW_TEST_TOKEN_LEN + 1];
    const char *extra[] = {hdr, origin, cookie, NULL};
    json_t *rec;
    bw_resp r;

    /* A viewer writing: reason permission. */
    new_rid(rid, "denied");
    assert_int_equal(call_rid(f->srv, f->vic, "POST", "/v1/notes", NOTE, rid, NULL), 403);
    rec = record_soon(f->srv, "authz.denied", rid);
    want_str(rec, "outcome", "failure");
    want_str(rec, "actor", "vic");
    want_str(rec, "source", "127.0.0.1");
    want_str(rec, "target", "/v1/notes");
    want_detail_str(rec, "reason", "permission");
    want_detail_str(rec, "method", "POST");
    json_decref(rec);

    /* A cookie session writing without its CSRF token: reason csrf. */
    assert_int_equal(bw_test_cookie_login(f->srv, "alice", PW, NULL, token, csrf), 0);
    assert_int_equal(bw_test_session_cookie(cookie, sizeof(cookie), token), 0);
    assert_int_equal(bw_test_origin(f->srv, origin, sizeof(origin)), 0);
    new_rid(rid, "csrf");
    rid_header(hdr, sizeof(hdr), rid);
    assert_int_equal(bw_http_as(f->srv, NULL, "POST", "/v1/notes", NOTE, extra, &r), 0);
    bw_test_want_status(&r, 403, "cookie write without CSRF token");
    bw_resp_free(&r);
    rec = record_soon(f->srv, "authz.denied", rid);
    want_str(rec, "actor", "alice");
    want_detail_str(rec, "reason", "csrf");
    json_decref(rec);

    /* An admin route to a session that passed no second factor: reason mfa, on both route
     * families (users and the trail itself), and the answer says so. */
    {
        static const char *const routes[][3] = {
            {"POST", "/v1/admin/users",
             "{\"username\":\"by.bart\",\"password\":\"a long enough one\",\"roles\":[]}"},
            {"GET", "/v1/admin/audit", NULL},
        };

        for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
            json_t *doc = NULL;

            new_rid(rid, "mfa");
            assert_int_equal(
                call_rid(f->srv, f->bart, routes[i][0], routes[i][1], routes[i][2], rid, &doc),
                403);
            want_str(doc, "type", BW_TEST_MFA_REQUIRED_TYPE);
            json_decref(doc);
            rec = record_soon(f->srv, "authz.denied", rid);
            want_str(rec, "outcome", "failure");
            want_str(rec, "actor", "bart");
            want_str(rec, "target", routes[i][1]);
            want_detail_str(rec, "reason", "mfa");
            want_detail_str(rec, "method", routes[i][0]);
            json_decref(rec);
        }
    }
}

static void test_ratelimit_exceeded(void **state)
{
    fixture *f = *state;
    char *token = login(f->srv, "rl");
    char rid[RID_LEN + 1], limited[RID_LEN + 1] = "";
    json_t *rec;

    /* POST /v1/notes allows 30 a minute per principal: the 31st in a row is refused. */
    for (int i = 0; i < 40 && limited[0] == '\0'; i++) {
        long st;

        new_rid(rid, "rate");
        st = call_rid(f->srv, token, "POST", "/v1/notes", NOTE, rid, NULL);
        assert_true(st == 201 || st == 429);
        if (st == 429)
            memcpy(limited, rid, sizeof(limited));
    }
    assert_true(limited[0] != '\0');
    rec = record_soon(f->srv, "ratelimit.exceeded", limited);
    want_str(rec, "outcome", "failure");
    want_str(rec, "actor", "rl");
    want_str(rec, "source", "127.0.0.1");
    want_str(rec, "target", "/v1/notes");
    want_detail_str(rec, "policy", "route");
    want_detail_str(rec, "route", "/v1/notes");
    want_detail_str(rec, "method", "POST");
    json_decref(rec);
    free(token);
}

static void test_cli_records(void **state)
{
    fixture *f = *state;
    const char *ban4[] = {"ban", "add", "192.0.2.77", "5", "abuse report", NULL};
    const char *ban6[] = {"ban", "add", "2001:db8:1:2:3:4:5:6", "1", NULL};
    const char *unban[] = {"ban", "remove", "192.0.2.77", NULL};
    const char *add[] = {"user", "add", "carl", "--roles", "viewer", NULL};
    const char *setpw[] = {"user", "set-password", "carl", NULL};
    const char *roles[] = {"user", "set-roles", "carl", "editor", NULL};
    const char *disable[] = {"user", "disable", "carl", NULL};
    const char *enable[] = {"user", "enable", "carl", NULL};
    char input[64], id[17];
    char *key = NULL;
    long long before_s = (long long)time(NULL);
    json_t *rec;
    const json_t *until;

    /* Bans: committed before the command says it succeeded, so read at once. */
    assert_int_equal(bw_test_cli(f->srv, ban4, NULL), 0);
    rec = newest(f->srv, "ban.added");
    want_str(rec, "outcome", "success");
    want_str(rec, "actor", "cli");
    want_str(rec, "target", "192.0.2.77");
    want_str(rec, "source", NULL);
    want_str(rec, "request_id", NULL);
    want_detail_str(rec, "reason", "abuse report");
    want_detail_int(rec, "duration_s", 300);
    until = json_object_get(json_object_get(rec, "detail"), "until");
    assert_true(json_is_integer(until));
    assert_true(json_integer_value(until) >= before_s + 299 &&
                json_integer_value(until) <= (long long)time(NULL) + 301);
    json_decref(rec);
    assert_int_equal(bw_test_cli(f->srv, ban6, NULL), 0);
    rec = newest(f->srv, "ban.added");
    want_str(rec, "target", "2001:db8:1:2::/64");
    want_detail_int(rec, "duration_s", 60);
    json_decref(rec);
    assert_int_equal(bw_test_cli(f->srv, unban, NULL), 0);
    rec = newest(f->srv, "ban.removed");
    want_str(rec, "actor", "cli");
    want_str(rec, "target", "192.0.2.77");
    json_decref(rec);

    /* Accounts: each command its own event, the user name as target, never the password. */
    snprintf(input, sizeof(input), "%s\n", PW);
    assert_int_equal(bw_test_cli(f->srv, add, input), 0);
    rec = newest(f->srv, "admin.user.create");
    want_str(rec, "actor", "cli");
    want_str(rec, "target", "carl");
    want_detail_str(rec, "roles", "viewer");
    json_decref(rec);
    snprintf(input, sizeof(input), "%s!\n", PW);
    assert_int_equal(bw_test_cli(f->srv, setpw, input), 0);
    rec = newest(f->srv, "admin.user.set_password");
    want_str(rec, "actor", "cli");
    want_str(rec, "target", "carl");
    json_decref(rec);
    assert_int_equal(bw_test_cli(f->srv, roles, NULL), 0);
    rec = newest(f->srv, "admin.user.set_roles");
    want_str(rec, "target", "carl");
    want_detail_str(rec, "roles", "editor");
    json_decref(rec);
    assert_int_equal(bw_test_cli(f->srv, disable, NULL), 0);
    rec = newest(f->srv, "admin.user.disable");
    want_str(rec, "target", "carl");
    json_decref(rec);
    assert_int_equal(bw_test_cli(f->srv, enable, NULL), 0);
    rec = newest(f->srv, "admin.user.enable");
    want_str(rec, "target", "carl");
    json_decref(rec);

    /* API keys: named by their public id. */
    assert_int_equal(bw_test_apikey_create(f->srv, "carl", "k", "viewer", 0, &key), 0);
    memcpy(id, key + 3, 16);
    id[16] = '\0';
    rec = newest(f->srv, "apikey.created");
    want_str(rec, "actor", "cli");
    want_str(rec, "target", id);
    want_detail_str(rec, "roles", "viewer");
    json_decref(rec);
    {
        const char *revoke[] = {"apikey", "revoke", id, NULL};

        assert_int_equal(bw_test_cli(f->srv, revoke, NULL), 0);
    }
    rec = newest(f->srv, "apikey.revoked");
    want_str(rec, "target", id);
    json_decref(rec);
    sodium_memzero(key, strlen(key));
    free(key);
}

/* ---- GET /v1/admin/audit ----------------------------------------------------------------- */

/* GET /v1/admin/audit?query as token, wanting 200: the body (caller decrefs). */
static json_t *audit_get(fixture *f, const char *query)
{
    char path[512];
    json_t *doc;

    snprintf(path, sizeof(path), "/v1/admin/audit%s%s", query[0] != '\0' ? "?" : "", query);
    doc = bw_test_call(f->srv, f->aud, "GET", path, NULL, 200);
    assert_true(json_is_array(json_object_get(doc, "items")));
    assert_true(json_object_get(doc, "next_before") != NULL);
    return doc;
}

static void test_audit_api_filters(void **state)
{
    fixture *f = *state;
    json_t *doc, *items, *rec, *page, *pick = NULL;
    size_t i;
    bool seen_ok = false, seen_fail = false;
    long long t_s;
    char q[128];

    /* No filter: newest first, records as the export writes them. */
    doc = audit_get(f, "");
    items = json_object_get(doc, "items");
    assert_true(json_array_size(items) > 10);
    for (i = 1; i < json_array_size(items); i++)
        assert_true(seq_of(json_array_get(items, i - 1)) > seq_of(json_array_get(items, i)));
    for (i = 0; i < json_array_size(items); i++) {
        rec = json_array_get(items, i);
        assert_non_null(sfield(rec, "event"));
        assert_non_null(sfield(rec, "outcome"));
        assert_int_equal(strlen(sfield(rec, "mac")), 64);
    }
    json_decref(doc);

    /* An exact event. */
    doc = audit_get(f, "event=auth.login.success");
    items = json_object_get(doc, "items");
    assert_true(json_array_size(items) >= 4);
    for (i = 0; i < json_array_size(items); i++)
        want_str(json_array_get(items, i), "event", "auth.login.success");
    json_decref(doc);

    /* A prefix: every auth.* name, and only those. */
    doc = audit_get(f, "event=auth.*&limit=100");
    items = json_object_get(doc, "items");
    for (i = 0; i < json_array_size(items); i++) {
        const char *ev = sfield(json_array_get(items, i), "event");

        assert_memory_equal(ev, "auth.", 5);
        seen_ok |= strcmp(ev, "auth.login.success") == 0;
        seen_fail |= strcmp(ev, "auth.login.failure") == 0;
    }
    assert_true(seen_ok && seen_fail);
    json_decref(doc);
    /* "auth" alone is an exact name nothing has; "aut.*" is no prefix of "auth.". */
    doc = audit_get(f, "event=auth");
    assert_int_equal(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);
    doc = audit_get(f, "event=aut.*");
    assert_int_equal(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);

    /* An actor. */
    doc = audit_get(f, "actor=alice&limit=100");
    items = json_object_get(doc, "items");
    assert_true(json_array_size(items) > 0);
    for (i = 0; i < json_array_size(items); i++)
        want_str(json_array_get(items, i), "actor", "alice");
    json_decref(doc);
    doc = audit_get(f, "actor=nobody-at-all");
    assert_int_equal(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);

    /* Time: [since, until) in seconds. A record of a known second is in its own second's
     * window and not in the next one; nothing is in the future or before the server. */
    doc = audit_get(f, "event=auth.login.failure&limit=1");
    pick = json_incref(json_array_get(json_object_get(doc, "items"), 0));
    assert_non_null(pick);
    json_decref(doc);
    t_s = ts_ms_of(pick) / 1000;
    snprintf(q, sizeof(q), "event=auth.login.failure&since=%lld&until=%lld", t_s, t_s + 1);
    doc = audit_get(f, q);
    assert_non_null(with_rid(json_object_get(doc, "items"), sfield(pick, "request_id")));
    for (i = 0; i < json_array_size(json_object_get(doc, "items")); i++) {
        rec = json_array_get(json_object_get(doc, "items"), i);
        assert_true(ts_ms_of(rec) >= t_s * 1000 && ts_ms_of(rec) < (t_s + 1) * 1000);
    }
    json_decref(doc);
    snprintf(q, sizeof(q), "event=auth.login.failure&since=%lld", t_s + 1);
    doc = audit_get(f, q);
    assert_null(with_rid(json_object_get(doc, "items"), sfield(pick, "request_id")));
    json_decref(doc);
    snprintf(q, sizeof(q), "event=auth.login.failure&until=%lld", t_s);
    doc = audit_get(f, q);
    assert_null(with_rid(json_object_get(doc, "items"), sfield(pick, "request_id")));
    json_decref(doc);
    json_decref(pick);
    snprintf(q, sizeof(q), "since=%lld", (long long)time(NULL) + 3600);
    doc = audit_get(f, q);
    assert_int_equal(json_array_size(json_object_get(doc, "items")), 0);
    assert_true(json_is_null(json_object_get(doc, "next_before")));
    json_decref(doc);
    snprintf(q, sizeof(q), "until=%lld", f->started_s - 3600);
    doc = audit_get(f, q);
    assert_int_equal(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);

    /* A limit of one: one record and where the next page starts. */
    page = audit_get(f, "limit=1");
    assert_int_equal(json_array_size(json_object_get(page, "items")), 1);
    assert_int_equal(json_integer_value(json_object_get(page, "next_before")),
                     seq_of(json_array_get(json_object_get(page, "items"), 0)));
    json_decref(page);
}

/* Follows next_before from the first page of query (limit 7) to the end; returns the seqs in
 * the order read (caller decrefs), asserting each page is newest first and below the last. */
static json_t *all_pages(fixture *f, const char *filter, int *npages)
{
    json_t *seqs = json_array();
    long long before = 0;
    char q[256];

    assert_non_null(seqs);
    *npages = 0;
    for (;;) {
        json_t *doc, *nb;
        size_t i;

        snprintf(q, sizeof(q), "limit=7%s%s", filter[0] != '\0' ? "&" : "", filter);
        if (before > 0)
            snprintf(q + strlen(q), sizeof(q) - strlen(q), "&before=%lld", before);
        doc = audit_get(f, q);
        (*npages)++;
        assert_true(*npages < 1000);
        for (i = 0; i < json_array_size(json_object_get(doc, "items")); i++) {
            long long s = seq_of(json_array_get(json_object_get(doc, "items"), i));
            size_t n = json_array_size(seqs);

            if (n > 0)
                assert_true(s < (long long)json_integer_value(json_array_get(seqs, n - 1)));
            assert_int_equal(json_array_append_new(seqs, json_integer(s)), 0);
        }
        nb = json_object_get(doc, "next_before");
        if (json_is_null(nb)) {
            assert_true(json_array_size(json_object_get(doc, "items")) < 7);
            json_decref(doc);
            return seqs;
        }
        assert_int_equal(json_array_size(json_object_get(doc, "items")), 7);
        before = (long long)json_integer_value(nb);
        assert_int_equal(before,
                         json_integer_value(json_array_get(seqs, json_array_size(seqs) - 1)));
        json_decref(doc);
    }
}

static void test_audit_api_pages(void **state)
{
    fixture *f = *state;
    json_t *seqs, *cli;
    long long top;
    int npages;
    size_t i;
    char before[32];

    /* Unfiltered: the first page's newest record down to seq 1, each exactly once (seqs are
     * 1, 2, 3, ... so a gap or a repeat shows). Reading adds audit.read records above the
     * first page; they are not part of it. */
    seqs = all_pages(f, "", &npages);
    assert_true(npages > 2);
    top = (long long)json_integer_value(json_array_get(seqs, 0));
    assert_int_equal(json_array_size(seqs), (size_t)top);
    for (i = 0; i < json_array_size(seqs); i++)
        assert_int_equal(json_integer_value(json_array_get(seqs, i)), top - (long long)i);
    json_decref(seqs);

    /* Filtered: the same records as the CLI's search below the first page's top. */
    seqs = all_pages(f, "event=auth.*", &npages);
    assert_true(npages >= 2);
    top = (long long)json_integer_value(json_array_get(seqs, 0));
    snprintf(before, sizeof(before), "%lld", top + 1);
    {
        const char *args[] = {"--event", "auth.*", "--before", before, NULL};

        cli = search_v(f->srv, args);
    }
    assert_int_equal(json_array_size(cli), json_array_size(seqs));
    for (i = 0; i < json_array_size(cli); i++)
        assert_int_equal(seq_of(json_array_get(cli, i)),
                         json_integer_value(json_array_get(seqs, i)));
    json_decref(cli);
    json_decref(seqs);
}

static void test_audit_api_access(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {
        "limit=0",  "limit=101", "limit=x",  "event=AUTH", "event=auth.*.*", "event=a%20b",
        "since=-1", "until=-5",  "before=0", "actor=",     "foo=1",          "limit=1&limit=2",
    };
    char rid[RID_LEN + 1], path[128];
    int nfail = 0;
    json_t *rec;
    bw_resp r;

    /* Reading is recorded, before the answer. */
    new_rid(rid, "audit-read");
    assert_int_equal(call_rid(f->srv, f->aud, "GET", "/v1/admin/audit?limit=3", NULL, rid, NULL),
                     200);
    rec = record_now(f->srv, "audit.read", rid);
    want_str(rec, "outcome", "success");
    want_str(rec, "actor", "aud");
    want_str(rec, "source", "127.0.0.1");
    want_str(rec, "target", "/v1/admin/audit");
    want_detail_int(rec, "status", 200);
    json_decref(rec);

    /* Viewers and editors may not; the refusal is itself an authz.denied record. */
    new_rid(rid, "audit-viewer");
    assert_int_equal(call_rid(f->srv, f->vic, "GET", "/v1/admin/audit", NULL, rid, NULL), 403);
    rec = record_soon(f->srv, "authz.denied", rid);
    want_str(rec, "actor", "vic");
    want_str(rec, "target", "/v1/admin/audit");
    json_decref(rec);
    assert_int_equal(bw_http_as(f->srv, f->alice, "GET", "/v1/admin/audit", NULL, NULL, &r), 0);
    BW_ASSERT_PROBLEM(&r, 403);
    bw_resp_free(&r);
    assert_int_equal(bw_http_as(f->srv, f->boss, "GET", "/v1/admin/audit", NULL, NULL, &r), 0);
    BW_ASSERT_PROBLEM(&r, 403);
    bw_resp_free(&r);
    /* Anonymous: 401, and no records in the body. */
    assert_int_equal(bw_http_as(f->srv, NULL, "GET", "/v1/admin/audit", NULL, NULL, &r), 0);
    BW_ASSERT_PROBLEM(&r, 401);
    assert_null(strstr(r.body, "\"items\""));
    bw_resp_free(&r);

    /* Bad queries: 400 problems. */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/v1/admin/audit?%s", bad[i]);
        assert_int_equal(bw_http_as(f->srv, f->aud, "GET", path, NULL, NULL, &r), 0);
        if (r.status != 400 || strstr(r.body, "\"items\"") != NULL)
            BW_CASE_FAIL(nfail, "%s: %ld %s", bad[i], r.status, r.body);
        bw_resp_free(&r);
    }
    BW_CASES_DONE(nfail);
}

/* ---- tampering ----------------------------------------------------------------------------- */

/* Paths inside srv's data folder. */
static void data_path(bw_srv *srv, const char *name, char *out, size_t cap)
{
    assert_true((size_t)snprintf(out, cap, "%s/%s", bw_srv_data_dir(srv), name) < cap);
}

/* A config that runs a server on old's data: its store, audit database and both keys, by
 * absolute path (the harness gives every server a folder of its own). Caller frees. */
static char *restart_config(bw_srv *old)
{
    char store[4200], audit[4200], skey[4200], akey[4200];
    json_t *doc;
    char *text;

    data_path(old, "bulwark.db", store, sizeof(store));
    data_path(old, "audit.db", audit, sizeof(audit));
    snprintf(skey, sizeof(skey), "file:%s/secrets/session.key", bw_srv_data_dir(old));
    snprintf(akey, sizeof(akey), "file:%s/secrets/audit.key", bw_srv_data_dir(old));
    doc = json_pack("{s:{s:{s:i}}, s:{s:s}, s:{s:s}, s:{s:s, s:s}, s:{s:s, s:s, s:i}}", "auth",
                    "password", "memlimit_kib", 19456, "store", "file", store, "audit", "file",
                    audit, "secrets", "session_key", skey, "audit_key", akey, "ratelimit",
                    "address", "100000/s", "principal", "100000/s", "route_burst", 100000);
    assert_non_null(doc);
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_non_null(text);
    return text;
}

/* Stops srv with SIGTERM and waits, keeping its folder (bw_srv_stop would remove it). */
static void stop_keep(bw_srv *srv)
{
    assert_int_equal(bw_srv_signal(srv, SIGTERM), 0);
    assert_int_equal(bw_srv_wait(srv, bw_shutdown_timeout_ms() + 3000), 0);
}

/* Copies the SQLite database src to dst (the backup API: a consistent copy, WAL included). */
static void db_copy(const char *src, const char *dst)
{
    sqlite3 *from = NULL, *to = NULL;
    sqlite3_backup *b;

    assert_int_equal(sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    b = sqlite3_backup_init(to, "main", from, "main");
    assert_non_null(b);
    assert_int_equal(sqlite3_backup_step(b, -1), SQLITE_DONE);
    assert_int_equal(sqlite3_backup_finish(b), SQLITE_OK);
    assert_int_equal(sqlite3_close(to), SQLITE_OK);
    assert_int_equal(sqlite3_close(from), SQLITE_OK);
}

/* Opens the copy as an attacker with write access would: plain SQLite, then drops every
 * trigger on audit_log, named as the file itself lists them. Returns how many. */
static int open_and_disarm(const char *path, sqlite3 **out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char names[8][64];
    int n = 0, rc;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                        " AND tbl_name = 'audit_log'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);

        assert_true(n < 8);
        assert_non_null(name);
        /* Names are identifiers we splice into SQL: letters, digits and '_' only. */
        assert_true(strlen(name) < sizeof(names[0]) &&
                    strspn(name, "abcdefghijklmnopqrstuvwxyz_0123456789") == strlen(name));
        memcpy(names[n++], name, strlen(name) + 1);
    }
    assert_int_equal(rc, SQLITE_DONE);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    for (int i = 0; i < n; i++) {
        char sql[128];

        assert_true((size_t)snprintf(sql, sizeof(sql), "DROP TRIGGER %.63s", names[i]) <
                    sizeof(sql));
        exec_sql(db, sql);
    }
    *out = db;
    return n;
}

/* Which record verify must name for a tampering case. */
enum { AT_M, AT_FIRST, AT_LAST_PLUS_1 };

/* tmpl with every "{m}" replaced by m, into out. */
static void subst_m(const char *tmpl, long long m, char *out, size_t cap)
{
    char num[24];
    size_t used = 0, nlen;

    nlen = (size_t)snprintf(num, sizeof(num), "%lld", m);
    while (*tmpl != '\0') {
        const char *add = tmpl;
        size_t len = 1;

        if (strncmp(tmpl, "{m}", 3) == 0) {
            add = num;
            len = nlen;
            tmpl += 3;
        } else {
            tmpl++;
        }
        assert_true(used + len < cap);
        memcpy(out + used, add, len);
        used += len;
    }
    out[used] = '\0';
}

static void verify_copy(const char *data_dir, const char *copy, const char *const *more_env,
                        verify_out *v)
{
    char e_data[4200], e_cfg[4200];
    const char *env[6] = {e_data, e_cfg, NULL};
    json_t *doc = json_pack("{s:{s:s}}", "audit", "file", copy);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    char *cfg;

    json_decref(doc);
    assert_non_null(text);
    cfg = bw_test_config_write(text);
    free(text);
    assert_non_null(cfg);
    snprintf(e_data, sizeof(e_data), "BULWARK_DATA_DIR=%s", data_dir);
    snprintf(e_cfg, sizeof(e_cfg), "BULWARK_CONFIG=%s", cfg);
    for (size_t i = 0; more_env != NULL && more_env[i] != NULL; i++) {
        assert_true(i < 3);
        env[2 + i] = more_env[i];
    }
    verify_env(env, v);
    bw_test_config_free(cfg);
}

/* A record in the middle of the chain (from n/2 on, with at least two after it) that has
 * both an actor and a target, so every edit below changes it. */
static long long pick_middle(const char *path, long long n)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long m;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT min(seq) FROM audit_log WHERE actor <> ''"
                                        " AND target <> '' AND seq >= ?1 AND seq <= ?2",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_int64(st, 1, n / 2), SQLITE_OK);
    assert_int_equal(sqlite3_bind_int64(st, 2, n - 2), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(st, 0), SQLITE_INTEGER);
    m = sqlite3_column_int64(st, 0);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_true(m >= 2 && m <= n - 2);
    return m;
}

static void test_tampering_and_restart(void **state)
{
    (void)state;
    char *cfg = NULL, *cfg2 = NULL, *scratch, *rcfg;
    bw_srv *t, *t2;
    char audit[4200], copy[4300], rid[RID_LEN + 1];
    long long n, m, first_run_last, after_restart_seq;
    verify_out v;
    json_t *rec, *all;
    int nfail = 0;

    /* A first run: a few records from the server and from the CLI beside it. */
    t = bw_test_srv_start_json(CONFIG, &cfg);
    assert_non_null(t);
    assert_int_equal(bw_test_user_add(t, "tess", PW, "editor"), 0);
    assert_int_equal(bw_test_user_add(t, "uma", PW, "viewer"), 0);
    for (int i = 0; i < 3; i++) {
        char *tok = NULL;
        long st;

        (void)bw_test_login(t, "tess", i == 1 ? "wrong password" : PW, &tok, &st);
        free(tok);
    }
    stop_keep(t);
    verify_srv(t, &v);
    first_run_last = verify_intact(&v) + 1; /* verify appended its own record */

    /* The restart: the same files, a new process; the chain continues from the file. */
    rcfg = restart_config(t);
    t2 = bw_test_srv_start_json(rcfg, &cfg2);
    free(rcfg);
    assert_non_null(t2);
    new_rid(rid, "after-restart");
    {
        char hdr[96];
        const char *extra[] = {hdr, NULL};
        bw_resp r;

        rid_header(hdr, sizeof(hdr), rid);
        assert_int_equal(bw_test_login_request(t2, "tess", PW, NULL, extra, &r), 0);
        bw_test_want_status(&r, 200, "login after the restart (same store)");
        bw_resp_free(&r);
    }
    stop_keep(t2);
    verify_srv(t, &v);
    n = verify_intact(&v) + 1;
    rec = record_now(t, "auth.login.success", rid);
    after_restart_seq = seq_of(rec);
    json_decref(rec);
    assert_true(after_restart_seq > first_run_last);
    all = search_event(t, "config.loaded");
    assert_int_equal(json_array_size(all), 2); /* two server starts, one chain */
    json_decref(all);
    assert_true(n >= 10);
    assert_int_equal(bw_test_srv_stop(&t2, &cfg2), 0);

    /* Tampering, each on a fresh copy. */
    data_path(t, "audit.db", audit, sizeof(audit));
    scratch = bw_tmpdir_create();
    assert_non_null(scratch);
    m = pick_middle(audit, n);
    {
        /* The untouched copy verifies; so does a copy whose triggers are merely gone. */
        snprintf(copy, sizeof(copy), "%s/untouched.db", scratch);
        db_copy(audit, copy);
        verify_copy(bw_srv_data_dir(t), copy, NULL, &v);
        assert_int_equal(verify_intact(&v), n);
        snprintf(copy, sizeof(copy), "%s/disarmed.db", scratch);
        db_copy(audit, copy);
        {
            sqlite3 *db = NULL;
            char *err = NULL;

            /* Without dropping them, the triggers refuse edits... */
            assert_int_equal(sqlite3_open_v2(copy, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
            assert_int_not_equal(sqlite3_exec(db, "UPDATE audit_log SET actor = 'x' WHERE seq = 1",
                                              NULL, NULL, &err),
                                 SQLITE_OK);
            assert_non_null(err);
            assert_non_null(strstr(err, "append-only"));
            sqlite3_free(err);
            err = NULL;
            assert_int_not_equal(
                sqlite3_exec(db, "DELETE FROM audit_log WHERE seq = 1", NULL, NULL, &err),
                SQLITE_OK);
            sqlite3_free(err);
            assert_int_equal(sqlite3_close(db), SQLITE_OK);
            /* ...and an attacker drops them (two of them). */
            assert_int_equal(open_and_disarm(copy, &db), 2);
            assert_int_equal(sqlite3_close(db), SQLITE_OK);
        }
        verify_copy(bw_srv_data_dir(t), copy, NULL, &v);
        assert_int_equal(verify_intact(&v), n);
    }

    {
        /* Each statement runs with m in place of every {m}. Renumbering goes through
         * seq + 1000000 because the table checks seq > 0 and seq is the primary key. */
        static const struct {
            const char *what;
            const char *sql;
            int at;
            const char *reason;
        } cases[] = {
            {"actor edited", "UPDATE audit_log SET actor = 'mallory' WHERE seq = {m}", AT_M, "MAC"},
            {"event edited",
             "UPDATE audit_log SET event = CASE event WHEN 'auth.login.success' THEN "
             "'auth.login.failure' ELSE 'auth.login.success' END WHERE seq = {m}",
             AT_M, "MAC"},
            {"timestamp moved by 1 ms", "UPDATE audit_log SET ts_ms = ts_ms + 1 WHERE seq = {m}",
             AT_M, "MAC"},
            {"detail edited", "UPDATE audit_log SET detail = '{\"count\":987654}' WHERE seq = {m}",
             AT_M, "MAC"},
            {"outcome edited",
             "UPDATE audit_log SET outcome = CASE outcome WHEN 'info' THEN 'success' ELSE 'info' "
             "END"
             " WHERE seq = {m}",
             AT_M, "MAC"},
            {"actor moved into target",
             "UPDATE audit_log SET target = actor || target, actor = '' WHERE seq = {m}", AT_M,
             "MAC"},
            {"MAC replaced by its neighbour's",
             "UPDATE audit_log SET mac = (SELECT mac FROM audit_log WHERE seq = {m} - 1)"
             " WHERE seq = {m}",
             AT_M, "MAC"},
            {"a middle record deleted", "DELETE FROM audit_log WHERE seq = {m}", AT_M, "missing"},
            {"the first record deleted", "DELETE FROM audit_log WHERE seq = 1 AND {m} > 0",
             AT_FIRST, "missing"},
            {"a middle record deleted, later ones renumbered",
             "DELETE FROM audit_log WHERE seq = {m};"
             "UPDATE audit_log SET seq = seq + 1000000 WHERE seq > {m};"
             "UPDATE audit_log SET seq = seq - 1000001 WHERE seq > 1000000",
             AT_M, "MAC"},
            {"a forged record appended",
             "INSERT INTO audit_log SELECT seq + 1, ts_ms + 5, 'ban.removed', 'success', 'cli', '',"
             " '', '192.0.2.1', '{}', mac FROM audit_log WHERE seq = (SELECT max(seq) FROM"
             " audit_log) AND {m} > 0",
             AT_LAST_PLUS_1, "MAC"},
            {"a forged record inserted in the middle, later ones renumbered",
             "UPDATE audit_log SET seq = seq + 1000000 WHERE seq >= {m};"
             "UPDATE audit_log SET seq = seq - 999999 WHERE seq > 1000000;"
             "INSERT INTO audit_log SELECT {m}, ts_ms, 'ban.removed', 'success', 'cli', '', '',"
             " '192.0.2.1', '{}', mac FROM audit_log WHERE seq = {m} + 1",
             AT_M, "MAC"},
            {"two records swapped",
             "CREATE TEMP TABLE a AS SELECT * FROM audit_log WHERE seq = {m};"
             "CREATE TEMP TABLE b AS SELECT * FROM audit_log WHERE seq = {m} + 1;"
             "DELETE FROM audit_log WHERE seq IN ({m}, {m} + 1);"
             "INSERT INTO audit_log SELECT {m}, ts_ms, event, outcome, actor, source,"
             " request_id, target, detail, mac FROM b;"
             "INSERT INTO audit_log SELECT {m} + 1, ts_ms, event, outcome, actor, source,"
             " request_id, target, detail, mac FROM a",
             AT_M, "MAC"},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            char sql[1024], want[64];
            sqlite3 *db = NULL;
            long long at = cases[i].at == AT_M ? m : cases[i].at == AT_FIRST ? 1 : n + 1;

            snprintf(copy, sizeof(copy), "%s/case%zu.db", scratch, i);
            db_copy(audit, copy);
            (void)open_and_disarm(copy, &db);
            subst_m(cases[i].sql, m, sql, sizeof(sql));
            exec_sql(db, sql);
            assert_true(sqlite3_total_changes(db) > 0); /* the case did change the file */
            assert_int_equal(sqlite3_close(db), SQLITE_OK);
            verify_copy(bw_srv_data_dir(t), copy, NULL, &v);
            snprintf(want, sizeof(want), "audit: record %lld: ", at);
            if (v.status != 1 || strncmp(v.out, want, strlen(want)) != 0 ||
                strstr(v.out, cases[i].reason) == NULL)
                BW_CASE_FAIL(nfail, "%s (seq %lld): want exit 1 and \"%s...%s\", got exit %d: %s",
                             cases[i].what, at, want, cases[i].reason, v.status, v.out);
        }
    }
    {
        /* The right file with another key: the first record already fails. */
        static const char *const other[] = {
            "BW_OTHER_AUDIT_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
            NULL};
        json_t *doc = json_pack("{s:{s:s}, s:{s:s}}", "audit", "file", audit, "secrets",
                                "audit_key", "env:BW_OTHER_AUDIT_KEY");
        char *text = json_dumps(doc, JSON_COMPACT);
        char *kcfg = bw_test_config_write(text);
        char e_data[4200], e_cfg[4200];
        const char *env[] = {e_data, e_cfg, other[0], NULL};

        json_decref(doc);
        free(text);
        assert_non_null(kcfg);
        snprintf(copy, sizeof(copy), "%s/otherkey.db", scratch);
        db_copy(audit, copy);
        snprintf(e_data, sizeof(e_data), "BULWARK_DATA_DIR=%s", bw_srv_data_dir(t));
        snprintf(e_cfg, sizeof(e_cfg), "BULWARK_CONFIG=%s", kcfg);
        verify_env(env, &v);
        bw_test_config_free(kcfg);
        if (v.status != 1 || strncmp(v.out, "audit: record 1: ", 17) != 0)
            BW_CASE_FAIL(nfail, "another key: exit %d: %s", v.status, v.out);
    }
    /* The original was never touched. */
    verify_srv(t, &v);
    assert_int_equal(verify_intact(&v), n);
    assert_int_equal(bw_rm_rf(scratch), 0);
    free(scratch);
    assert_int_equal(bw_test_srv_stop(&t, &cfg), 0);
    BW_CASES_DONE(nfail);
}

/* ---- crash safety ------------------------------------------------------------------------ */

#define CRASH_THREADS 6
#define CRASH_MAX_PER_THREAD 80
#define CRASH_KILL_AFTER 40

typedef struct crash_worker {
    pthread_t th;
    bw_srv *srv;
    const char *token;
    int index;
    atomic_int *acked_total;
    /* Request ids of the 2xx answers, and which event each must have left. */
    char rids[CRASH_MAX_PER_THREAD][RID_LEN + 1];
    bool is_delete[CRASH_MAX_PER_THREAD];
    int nacked;
    int errors; /* unexpected statuses (transport errors after the kill are expected) */
} crash_worker;

/* One request in a worker thread (no cmocka assertions off the main thread): the status, or
 * -1 on a transport error. */
static long worker_call(crash_worker *w, const char *method, const char *path, const char *json,
                        const char *rid, char *id_out, size_t id_cap)
{
    char hdr[96];
    const char *extra[] = {rid != NULL ? hdr : NULL, NULL};
    bw_resp r;
    long st;

    if (rid != NULL)
        (void)snprintf(hdr, sizeof(hdr), "X-Request-Id: %s", rid);
    if (bw_http_as(w->srv, w->token, method, path, json, extra, &r) != 0)
        return -1;
    st = r.status;
    if (id_out != NULL && st == 201) {
        json_t *doc = json_loadb(r.body, r.body_len, 0, NULL);
        const char *id = json_string_value(json_object_get(doc, "id"));

        if (id == NULL || (size_t)snprintf(id_out, id_cap, "%s", id) >= id_cap)
            st = -2;
        json_decref(doc);
    }
    bw_resp_free(&r);
    return st;
}

/* Even workers create a note and delete it (notes.delete); odd ones create users through
 * the admin route (admin.user.create). Every request id of a 2xx is remembered. Stops at the
 * first transport error: the server is gone. */
static void *crash_worker_run(void *arg)
{
    crash_worker *w = arg;

    for (int i = 0; i < CRASH_MAX_PER_THREAD; i++) {
        char rid[RID_LEN + 1];
        unsigned char r[8];
        char hex[17];
        long st;
        bool del = w->index % 2 == 0;

        randombytes_buf(r, sizeof(r));
        sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
        (void)snprintf(rid, sizeof(rid), "crash-%d-%d-%s", w->index, i, hex);
        if (del) {
            char path[96], id[64];

            st = worker_call(w, "POST", "/v1/notes", NOTE, NULL, id, sizeof(id));
            if (st != 201)
                break;
            (void)snprintf(path, sizeof(path), "/v1/notes/%s", id);
            st = worker_call(w, "DELETE", path, NULL, rid, NULL, 0);
        } else {
            char body[256];

            (void)snprintf(body, sizeof(body),
                           "{\"username\":\"burst%d.%d.%s\",\"password\":\"%s\","
                           "\"roles\":[\"viewer\"]}",
                           w->index, i, hex, PW);
            st = worker_call(w, "POST", "/v1/admin/users", body, rid, NULL, 0);
        }
        if (st == (del ? 204 : 201)) {
            memcpy(w->rids[w->nacked], rid, sizeof(rid));
            w->is_delete[w->nacked] = del;
            w->nacked++;
            atomic_fetch_add(w->acked_total, 1);
        } else if (st >= 0) {
            /* A 5xx can come from a server being killed mid-request (never a 2xx without
             * its record); anything else is a failure of the test's own set-up. */
            if (st < 500)
                w->errors++;
        } else {
            break;
        }
    }
    return NULL;
}

/* Runs the workers against srv and kills it with SIGKILL once CRASH_KILL_AFTER answers came
 * back. With hold_lock (the audit database's path; NULL: no lock), the test first takes that
 * database's write lock (another
 * process appending, a stalled disk) and keeps it for a moment: requests then queue up
 * waiting for their commit, and the kill finds them there. Fills w. */
static void burst_and_kill(bw_srv *srv, const char *token, const char *hold_lock, crash_worker *w)
{
    atomic_int acked = 0;
    long long deadline = now_ms() + 30000;
    int total = 0, unexpected = 0;
    sqlite3 *db = NULL;

    memset(w, 0, CRASH_THREADS * sizeof(*w));
    for (int i = 0; i < CRASH_THREADS; i++) {
        w[i].srv = srv;
        w[i].token = token;
        w[i].index = i;
        w[i].acked_total = &acked;
        assert_int_equal(pthread_create(&w[i].th, NULL, crash_worker_run, &w[i]), 0);
    }
    while (atomic_load(&acked) < CRASH_KILL_AFTER && now_ms() < deadline)
        sleep_ms(2);
    if (hold_lock != NULL) {
        if (sqlite3_open_v2(hold_lock, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
            sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
            (void)sqlite3_close(db);
            db = NULL;
        }
        sleep_ms(300);
    }
    assert_int_equal(bw_srv_signal(srv, SIGKILL), 0);
    for (int i = 0; i < CRASH_THREADS; i++) {
        assert_int_equal(pthread_join(w[i].th, NULL), 0);
        total += w[i].nacked;
        unexpected += w[i].errors;
    }
    if (db != NULL)
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    (void)sqlite3_close(db);
    assert_true(hold_lock == NULL || db != NULL);
    assert_int_equal(bw_srv_wait(srv, 5000), 128 + SIGKILL);
    assert_int_equal(unexpected, 0);
    assert_true(total >= CRASH_KILL_AFTER);
}

/* Next to files (a server, running or not, whose folder holds the audit database): the chain
 * verifies and every request w got a 2xx for has its record, a success. Returns the highest
 * seq among them. */
static long long assert_acked_recorded(bw_srv *files, const crash_worker *w)
{
    json_t *deletes, *creates;
    long long last = 0;
    verify_out v;
    int nfail = 0;

    verify_srv(files, &v);
    (void)verify_intact(&v);
    deletes = search_event(files, "notes.delete");
    creates = search_event(files, "admin.user.create");
    for (int i = 0; i < CRASH_THREADS; i++) {
        for (int j = 0; j < w[i].nacked; j++) {
            json_t *rec = with_rid(w[i].is_delete[j] ? deletes : creates, w[i].rids[j]);

            if (rec == NULL) {
                BW_CASE_FAIL(nfail, "acknowledged request %s has no record", w[i].rids[j]);
                continue;
            }
            if (strcmp(sfield(rec, "outcome"), "success") != 0)
                BW_CASE_FAIL(nfail, "request %s: outcome %s", w[i].rids[j], sfield(rec, "outcome"));
            if (seq_of(rec) > last)
                last = seq_of(rec);
        }
    }
    json_decref(deletes);
    json_decref(creates);
    BW_CASES_DONE(nfail);
    return last;
}

static void test_crash_keeps_every_acknowledged_record(void **state)
{
    (void)state;
    static const char crash_config[] =
        "{\"auth\": {\"password\": {\"memlimit_kib\": 19456}},"
        " \"ratelimit\": {\"address\": \"100000/s\", \"principal\": \"100000/s\","
        "  \"route_burst\": 100000}}";
    crash_worker *w = calloc(CRASH_THREADS, sizeof(*w));
    char *cfg = NULL, *cfg2 = NULL, *cfg3 = NULL, *token = NULL, *rcfg;
    char audit[4200], b32[BW_TEST_TOTP_B32_SIZE];
    uint64_t step = 0;
    bw_srv *c, *c2, *c3;
    long long last;

    assert_non_null(w);
    c = bw_test_srv_start_json(crash_config, &cfg);
    assert_non_null(c);
    assert_int_equal(bw_test_user_add(c, "chief", PW, "admin"), 0);

    /* First crash: killed while it answers, commits and hashes passwords. chief enrols a
     * second factor (the admin routes demand it) and logs in with a code after each restart. */
    assert_int_equal(bw_test_login(c, "chief", PW, &token, NULL), 0);
    assert_int_equal(bw_test_mfa_upgrade(c, &token, b32, &step), 0);
    burst_and_kill(c, token, NULL, w);
    free(token);
    last = assert_acked_recorded(c, w);

    /* Restarted on the same files (its start-up check of the newest record's MAC passes),
     * then killed again, this time with requests waiting for a commit that cannot happen
     * while the test holds the write lock: none of them may have been answered. */
    rcfg = restart_config(c);
    c2 = bw_test_srv_start_json(rcfg, &cfg2);
    assert_non_null(c2);
    assert_int_equal(bw_test_mfa_login(c2, "chief", PW, b32, &step, &token), 0);
    data_path(c, "audit.db", audit, sizeof(audit));
    burst_and_kill(c2, token, audit, w);
    free(token);
    assert_true(assert_acked_recorded(c, w) > last);

    /* And once more: the chain continues after both crashes and still verifies. */
    c3 = bw_test_srv_start_json(rcfg, &cfg3);
    free(rcfg);
    assert_non_null(c3);
    {
        char rid[RID_LEN + 1], path[96];
        json_t *doc, *rec;
        verify_out v;

        assert_int_equal(bw_test_mfa_login(c3, "chief", PW, b32, &step, &token), 0);
        doc = bw_test_call(c3, token, "POST", "/v1/notes", NOTE, 201);
        snprintf(path, sizeof(path), "/v1/notes/%s", sfield(doc, "id"));
        json_decref(doc);
        new_rid(rid, "after-crashes");
        assert_int_equal(call_rid(c3, token, "DELETE", path, NULL, rid, NULL), 204);
        free(token);
        rec = record_now(c, "notes.delete", rid);
        assert_true(seq_of(rec) > last);
        json_decref(rec);
        assert_int_equal(bw_test_srv_stop(&c3, &cfg3), 0);
        verify_srv(c, &v);
        (void)verify_intact(&v);
    }
    /* Both were killed (exit 137, checked above); stopping only removes their folders. The
     * harness prints a killed server's log when it is stopped: expected here. */
    (void)bw_test_srv_stop(&c2, &cfg2);
    (void)bw_test_srv_stop(&c, &cfg);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_records),
        cmocka_unit_test(test_audited_routes_recorded_before_the_answer),
        cmocka_unit_test(test_answer_waits_for_the_commit),
        cmocka_unit_test(test_authz_denied),
        cmocka_unit_test(test_ratelimit_exceeded),
        cmocka_unit_test(test_cli_records),
        cmocka_unit_test(test_audit_api_filters),
        cmocka_unit_test(test_audit_api_pages),
        cmocka_unit_test(test_audit_api_access),
        cmocka_unit_test(test_tampering_and_restart),
        cmocka_unit_test(test_crash_keeps_every_acknowledged_record),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
