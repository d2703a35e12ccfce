/*
 * API keys against the running notes service, over HTTPS: a key made with `notes apikey create`
 * authenticates; revoked, expired, tampered keys and keys sent as the session cookie do not; a
 * key never does more than its own roles nor more than its owner holds today; `apikey list`
 * shows use without the secret; the secret is in neither the server's log nor its database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_client.h"
#include "harness.h"
#include "totp_client.h"

static const char *const PW = "correct horse battery staple";
static const char CONFIG[] = "{\"ratelimit\": {\"route_burst\": 100000}, \"auth\": {\"password\": "
                             "{\"memlimit_kib\": 19456}}}";

/* "bw_" + 16 hex id + "_" + 43 base64url secret. */
#define KEY_LEN 63
#define ID_OFF 3
#define ID_LEN 16
#define SECRET_OFF 20
#define SECRET_LEN 43
#define SECRET_BYTES 32
#define MAX_KEYS 32

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char HEX[] = "0123456789abcdef";

typedef struct fixture {
    char *config;
    bw_srv *srv;
    char *keys[MAX_KEYS]; /* every key created, for the leak checks at the end */
    size_t nkeys;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    *state = f;
    if (sodium_init() < 0 || (f->srv = bw_test_srv_start_json(CONFIG, &f->config)) == NULL)
        return -1;
    /* kate owns most keys; olga is demoted and disabled; adam is there to be out of reach. */
    if (bw_test_user_add(f->srv, "kate", PW, "editor") != 0 ||
        bw_test_user_add(f->srv, "olga", PW, "editor") != 0 ||
        bw_test_user_add(f->srv, "adam", PW, "admin") != 0)
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
    for (size_t i = 0; i < f->nkeys; i++) {
        sodium_memzero(f->keys[i], strlen(f->keys[i]));
        free(f->keys[i]);
    }
    free(f);
    return rc == 0 ? 0 : -1;
}

/* A new key (owned by the fixture) of the shape the documentation gives. */
static const char *new_key(fixture *f, const char *user, const char *name, const char *roles,
                           int days)
{
    char *key = NULL;

    assert_true(f->nkeys < MAX_KEYS);
    assert_int_equal(bw_test_apikey_create(f->srv, user, name, roles, days, &key), 0);
    assert_int_equal(strlen(key), KEY_LEN);
    assert_memory_equal(key, "bw_", 3);
    assert_int_equal(key[SECRET_OFF - 1], '_');
    f->keys[f->nkeys++] = key;
    return key;
}

/* The public id of key: the 16 hex digits after "bw_". */
static void key_id(const char *key, char out[ID_LEN + 1])
{
    memcpy(out, key + ID_OFF, ID_LEN);
    out[ID_LEN] = '\0';
}

/* Runs `notes argv...` next to the server; the caller frees res with bw_run_free. */
static void run(fixture *f, const char *const *argv, bw_run_result *res)
{
    assert_int_equal(bw_srv_run(f->srv, argv, NULL, res), 0);
    assert_false(res->timed_out);
}

/* The status of one request with key as bearer token; the body is returned in *body when
 * body is non-NULL (caller decrefs). */
static long status_as(fixture *f, const char *key, const char *method, const char *path,
                      const char *json, json_t **body)
{
    bw_resp r;
    long st;

    assert_int_equal(bw_http_as(f->srv, key, method, path, json, NULL, &r), 0);
    st = r.status;
    if (body != NULL) {
        *body = json_loadb(r.body, r.body_len, 0, NULL);
        assert_non_null(*body);
    }
    bw_resp_free(&r);
    return st;
}

/* A refused credential: 401 problem, WWW-Authenticate naming an invalid token. */
static void assert_rejected(fixture *f, const char *key, const char *what)
{
    bw_resp r;
    const char *www;

    assert_int_equal(bw_http_as(f->srv, key, "GET", "/v1/auth/me", NULL, NULL, &r), 0);
    if (r.status != 401)
        fail_msg("%s (%s): got %ld, want 401: %s", what, key, r.status, r.body);
    BW_ASSERT_PROBLEM(&r, 401);
    www = bw_resp_header(&r, "WWW-Authenticate");
    assert_non_null(www);
    assert_non_null(strstr(www, "Bearer realm=\"bulwark\""));
    assert_non_null(strstr(www, "error=\"invalid_token\""));
    bw_resp_free(&r);
}

/* GET /v1/auth/me as key: the owner's name, "apikey", and the key's one role. */
static void assert_me(fixture *f, const char *key, const char *user, const char *role)
{
    json_t *me = NULL, *roles;

    assert_int_equal(status_as(f, key, "GET", "/v1/auth/me", NULL, &me), 200);
    assert_string_equal(json_string_value(json_object_get(me, "auth")), "apikey");
    assert_string_equal(json_string_value(json_object_get(me, "username")), user);
    roles = json_object_get(me, "roles");
    assert_int_equal(json_array_size(roles), 1);
    assert_string_equal(json_string_value(json_array_get(roles, 0)), role);
    json_decref(me);
}

static const char NOTE[] = "{\"title\":\"from a key\",\"body\":\"b\"}";

static void test_key_authenticates(void **state)
{
    fixture *f = *state;
    const char *key = new_key(f, "kate", "works", "editor", 0);
    json_t *note = NULL;
    char path[64];

    assert_me(f, key, "kate", "editor");
    assert_int_equal(status_as(f, key, "POST", "/v1/notes", NOTE, &note), 201);
    snprintf(path, sizeof(path), "/v1/notes/%s", json_string_value(json_object_get(note, "id")));
    json_decref(note);
    assert_int_equal(status_as(f, key, "GET", path, NULL, NULL), 200);
    assert_int_equal(status_as(f, key, "DELETE", path, NULL, NULL), 204);
    /* A key is not a session: it cannot log out (so cannot end itself that way). */
    assert_int_equal(status_as(f, key, "POST", "/v1/auth/logout", NULL, NULL), 400);
    assert_me(f, key, "kate", "editor");
}

/* The `apikey list` line of key id, copied into line (empty when absent). */
static void list_line(fixture *f, const char *user, const char *id, char *line, size_t cap,
                      bw_run_result *res)
{
    const char *argv[] = {"apikey", "list", user, NULL};
    const char *p;

    run(f, argv, res);
    assert_int_equal(res->status, 0);
    line[0] = '\0';
    for (p = res->out; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);

        if (n > ID_LEN && strncmp(p, id, ID_LEN) == 0 && p[ID_LEN] == '\t') {
            assert_true(n < cap);
            memcpy(line, p, n);
            line[n] = '\0';
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
}

static void test_revoked_key(void **state)
{
    fixture *f = *state;
    const char *key = new_key(f, "kate", "to revoke", "editor", 0);
    const char *other = new_key(f, "kate", "kept", "editor", 0);
    char id[ID_LEN + 1], line[512];
    const char *revoke[] = {"apikey", "revoke", id, NULL};
    const char *bogus[] = {"apikey", "revoke", "not-an-id", NULL};
    bw_run_result r;

    key_id(key, id);
    assert_me(f, key, "kate", "editor");
    run(f, revoke, &r);
    assert_int_equal(r.status, 0);
    bw_run_free(&r);
    assert_rejected(f, key, "revoked key");
    assert_int_equal(status_as(f, key, "GET", "/v1/notes", NULL, NULL), 401);
    /* Only that key: kate's other key still works. */
    assert_me(f, other, "kate", "editor");
    /* Revoking twice, or what is not an id, fails. */
    run(f, revoke, &r);
    assert_int_not_equal(r.status, 0);
    bw_run_free(&r);
    run(f, bogus, &r);
    assert_int_not_equal(r.status, 0);
    bw_run_free(&r);
    list_line(f, "kate", id, line, sizeof(line), &r);
    bw_run_free(&r);
    assert_non_null(strstr(line, "\trevoked"));
    assert_rejected(f, key, "revoked key, later");
}

/* Runs sql (with ?1 bound to id) on the server's database file; returns the rows changed. */
static int db_exec(fixture *f, const char *sql, const char *id)
{
    char path[4096];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int n = snprintf(path, sizeof(path), "%s/bulwark.db", bw_srv_data_dir(f->srv)), changes;

    assert_true(n > 0 && (size_t)n < sizeof(path));
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_busy_timeout(db, 5000), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    changes = sqlite3_changes(db);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return changes;
}

/* One integer column of key id's row. */
static long long db_key_int(fixture *f, const char *column, const char *id)
{
    char path[4096], sql[128];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v;
    int n = snprintf(path, sizeof(path), "%s/bulwark.db", bw_srv_data_dir(f->srv));

    assert_true(n > 0 && (size_t)n < sizeof(path));
    n = snprintf(sql, sizeof(sql), "SELECT %s FROM api_keys WHERE id = ?1", column);
    assert_true(n > 0 && (size_t)n < sizeof(sql));
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_busy_timeout(db, 5000), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(st, 0), SQLITE_INTEGER);
    v = sqlite3_column_int64(st, 0);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return v;
}

static void test_expired_key(void **state)
{
    fixture *f = *state;
    const char *days0[] = {"apikey", "create",         "kate", "x", "--roles",
                           "viewer", "--expires-days", "0",    NULL};
    const char *days_big[] = {"apikey", "create",         "kate", "x", "--roles",
                              "viewer", "--expires-days", "3651", NULL};
    const char *key = new_key(f, "kate", "short lived", "editor", 1);
    char id[ID_LEN + 1];
    bw_run_result r;

    key_id(key, id);
    /* One day after its creation, and usable until then. */
    assert_int_equal(db_key_int(f, "expires_at", id) - db_key_int(f, "created_at", id), 86400);
    assert_me(f, key, "kate", "editor");
    /* A day passes. */
    assert_int_equal(db_exec(f,
                             "UPDATE api_keys SET expires_at = strftime('%s','now') - 10"
                             " WHERE id = ?1",
                             id),
                     1);
    assert_rejected(f, key, "expired key");
    assert_int_equal(status_as(f, key, "POST", "/v1/notes", NOTE, NULL), 401);

    /* An expiry outside 1..3650 days makes no key. */
    run(f, days0, &r);
    assert_int_not_equal(r.status, 0);
    assert_null(strstr(r.out, "bw_"));
    bw_run_free(&r);
    run(f, days_big, &r);
    assert_int_not_equal(r.status, 0);
    assert_null(strstr(r.out, "bw_"));
    bw_run_free(&r);
}

/* `apikey create kate NAME --roles ROLES` must fail without printing a key or adding one. */
static void assert_create_refused(fixture *f, const char *name, const char *roles)
{
    const char *argv[] = {"apikey", "create", "kate", name, "--roles", roles, NULL};
    const char *list[] = {"apikey", "list", "kate", NULL};
    bw_run_result r;

    run(f, argv, &r);
    if (r.status == 0 || strstr(r.out, "bw_") != NULL)
        fail_msg("a key with roles %s was made: exit %d, %s", roles, r.status, r.out);
    bw_run_free(&r);
    run(f, list, &r);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, name));
    bw_run_free(&r);
}

static void test_key_scope(void **state)
{
    fixture *f = *state;
    const char *viewer = new_key(f, "kate", "read only", "viewer", 0);
    const char *editor = new_key(f, "kate", "writer", "editor", 0);
    json_t *doc = NULL;
    char path[64];
    bw_resp r;

    assert_me(f, viewer, "kate", "viewer");
    assert_int_equal(status_as(f, viewer, "GET", "/v1/notes", NULL, NULL), 200);
    assert_int_equal(bw_http_as(f->srv, viewer, "POST", "/v1/notes", NOTE, NULL, &r), 0);
    BW_ASSERT_PROBLEM(&r, 403);
    assert_null(strstr(r.body, "notes:write"));
    bw_resp_free(&r);
    /* Kate's own note, reachable for reading but not writing through the viewer key. */
    assert_int_equal(status_as(f, editor, "POST", "/v1/notes", NOTE, &doc), 201);
    snprintf(path, sizeof(path), "/v1/notes/%s", json_string_value(json_object_get(doc, "id")));
    json_decref(doc);
    assert_int_equal(status_as(f, viewer, "GET", path, NULL, NULL), 200);
    assert_int_equal(status_as(f, viewer, "PUT", path, NOTE, NULL), 403);
    assert_int_equal(status_as(f, viewer, "DELETE", path, NULL, NULL), 403);
    assert_int_equal(status_as(f, editor, "GET", path, NULL, NULL), 200);
    /* Never beyond the editor it belongs to. */
    assert_int_equal(status_as(f, editor, "GET", "/v1/admin/users", NULL, NULL), 403);
    /* An admin's key holds the permission but can carry no second factor, which the admin
     * routes demand. */
    assert_int_equal(bw_test_mfa_refused(f->srv, new_key(f, "adam", "admin key", "admin", 0), "GET",
                                         "/v1/admin/users", NULL),
                     0);

    /* A key cannot be given what its owner does not hold, nor a role that does not exist. */
    assert_create_refused(f, "escalate-admin", "admin");
    assert_create_refused(f, "escalate-mixed", "editor,admin");
    assert_create_refused(f, "escalate-auditor", "auditor");
    assert_create_refused(f, "unknown-role", "root");
}

static void set_owner(fixture *f, const char *const *argv)
{
    assert_int_equal(bw_test_cli(f->srv, argv, NULL), 0);
}

static void test_owner_demoted_then_disabled(void **state)
{
    fixture *f = *state;
    const char *demote[] = {"user", "set-roles", "olga", "viewer", NULL};
    const char *restore[] = {"user", "set-roles", "olga", "editor", NULL};
    const char *disable[] = {"user", "disable", "olga", NULL};
    const char *key = new_key(f, "olga", "olga's", "editor", 0);

    assert_int_equal(status_as(f, key, "POST", "/v1/notes", NOTE, NULL), 201);
    /* The key's roles meet the owner's roles of today, at every request. */
    set_owner(f, demote);
    assert_int_equal(status_as(f, key, "POST", "/v1/notes", NOTE, NULL), 403);
    assert_int_equal(status_as(f, key, "GET", "/v1/notes", NULL, NULL), 200);
    set_owner(f, restore);
    assert_int_equal(status_as(f, key, "POST", "/v1/notes", NOTE, NULL), 201);
    set_owner(f, disable);
    assert_rejected(f, key, "key of a disabled owner");
    assert_int_equal(status_as(f, key, "GET", "/v1/notes", NULL, NULL), 401);
}

/* key with character pos replaced by its neighbour in alphabet (index ^ 1). For the last
 * secret character that changes only bits base64url leaves unused: the same 32 bytes, spelt
 * differently. */
static void flip(char *key, size_t pos, const char *alphabet)
{
    const char *at = strchr(alphabet, key[pos]);

    assert_non_null(at);
    key[pos] = alphabet[(size_t)(at - alphabet) ^ 1u];
}

static void test_tampered_keys(void **state)
{
    fixture *f = *state;
    const char *key = new_key(f, "kate", "tamper target", "editor", 0);
    const char *other = new_key(f, "kate", "tamper donor", "editor", 0);
    char k[KEY_LEN + 8];
    int nfail = 0;

    assert_me(f, key, "kate", "editor");
    for (int c = 0; c < 14; c++) {
        const char *what = NULL;
        bw_resp r;

        memcpy(k, key, KEY_LEN + 1);
        switch (c) {
        case 0:
            what = "first secret character changed";
            flip(k, SECRET_OFF, B64URL);
            break;
        case 1:
            what = "a middle secret character changed";
            flip(k, SECRET_OFF + SECRET_LEN / 2, B64URL);
            break;
        case 2:
            what = "last secret character changed (same decoded bytes)";
            flip(k, KEY_LEN - 1, B64URL);
            break;
        case 3:
            what = "one id digit changed";
            flip(k, ID_OFF + 5, HEX);
            break;
        case 4:
            what = "another key's id with this secret";
            memcpy(k + ID_OFF, other + ID_OFF, ID_LEN);
            break;
        case 5:
            what = "this id with another key's secret";
            memcpy(k + SECRET_OFF, other + SECRET_OFF, SECRET_LEN);
            break;
        case 6:
            what = "one character short";
            k[KEY_LEN - 1] = '\0';
            break;
        case 7:
            what = "prefix and id only";
            k[SECRET_OFF] = '\0';
            break;
        case 8:
            what = "one character too many";
            memcpy(k + KEY_LEN, "A", 2);
            break;
        case 9:
            what = "upper-case prefix";
            memcpy(k, "BW_", 3);
            break;
        case 10:
            what = "another prefix";
            memcpy(k, "bx_", 3);
            break;
        case 11:
            what = "no prefix";
            memmove(k, key + ID_OFF, KEY_LEN - ID_OFF + 1);
            break;
        case 12:
            what = "upper-case id";
            for (size_t i = ID_OFF; i < ID_OFF + ID_LEN; i++)
                if (k[i] >= 'a' && k[i] <= 'f')
                    k[i] = (char)(k[i] - 'a' + 'A');
            if (memcmp(k, key, KEY_LEN) == 0)
                continue; /* an id of digits only: nothing to change */
            break;
        default:
            what = "separator changed";
            k[SECRET_OFF - 1] = '-';
            break;
        }
        assert_int_not_equal(strcmp(k, key), 0);
        assert_int_equal(bw_http_as(f->srv, k, "GET", "/v1/auth/me", NULL, NULL, &r), 0);
        if (r.status != 401)
            BW_CASE_FAIL(nfail, "%s (%s): %ld %s", what, k, r.status, r.body);
        bw_resp_free(&r);
    }
    sodium_memzero(k, sizeof(k));
    BW_CASES_DONE(nfail);
    /* Guessing does not disturb the real key. */
    assert_me(f, key, "kate", "editor");
}

static void test_key_is_not_a_cookie(void **state)
{
    fixture *f = *state;
    const char *key = new_key(f, "kate", "cookie", "editor", 0);
    const char *paths[] = {"/v1/auth/me", "/v1/notes"};

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        bw_resp r;

        assert_int_equal(bw_http_as_cookie(f->srv, key, "GET", paths[i], NULL, NULL, &r), 0);
        BW_ASSERT_PROBLEM(&r, 401);
        bw_resp_free(&r);
    }
    /* The same key as a bearer token is fine. */
    assert_me(f, key, "kate", "editor");
}

/* Value of "last_used=N" in an `apikey list` line. */
static long long last_used(const char *line)
{
    const char *p = strstr(line, "\tlast_used=");
    char *end;
    long long v;

    assert_non_null(p);
    v = strtoll(p + strlen("\tlast_used="), &end, 10);
    assert_true(*end == '\t' || *end == '\0');
    return v;
}

static void assert_no_secrets(fixture *f, const char *text, size_t len, const char *where);

static void test_list_shows_use_not_secret(void **state)
{
    fixture *f = *state;
    const char *all[] = {"apikey", "list", NULL};
    const char *key = new_key(f, "kate", "listed", "viewer", 0);
    char id[ID_LEN + 1], line[512];
    long long before, used;
    bw_run_result r;

    key_id(key, id);
    list_line(f, "kate", id, line, sizeof(line), &r);
    assert_no_secrets(f, r.out, r.out_len, "apikey list kate");
    bw_run_free(&r);
    assert_non_null(strstr(line, "\tlisted\troles=viewer\t"));
    assert_non_null(strstr(line, "\tactive"));
    assert_int_equal(last_used(line), 0);

    before = (long long)time(NULL);
    assert_me(f, key, "kate", "viewer");
    list_line(f, "kate", id, line, sizeof(line), &r);
    assert_no_secrets(f, r.out, r.out_len, "apikey list kate");
    bw_run_free(&r);
    used = last_used(line);
    assert_true(used >= before - 1 && used <= (long long)time(NULL) + 1);

    run(f, all, &r);
    assert_int_equal(r.status, 0);
    assert_no_secrets(f, r.out, r.out_len, "apikey list");
    assert_no_secrets(f, r.err, r.err_len, "apikey list (stderr)");
    bw_run_free(&r);
}

static bool contains(const void *hay, size_t len, const void *needle, size_t nlen)
{
    return memmem(hay, len, needle, nlen) != NULL;
}

/* No secret of any key made so far is in text: not whole, not either half (a key one
 * character off, as the tampering test sends, would show a half), not its 32 bytes raw. */
static void assert_no_secrets(fixture *f, const char *text, size_t len, const char *where)
{
    assert_true(f->nkeys > 0);
    for (size_t i = 0; i < f->nkeys; i++) {
        const char *s = f->keys[i] + SECRET_OFF;
        unsigned char raw[SECRET_BYTES];
        size_t rawlen = 0;

        assert_int_equal(sodium_base642bin(raw, sizeof(raw), s, SECRET_LEN, NULL, &rawlen, NULL,
                                           sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                         0);
        assert_int_equal(rawlen, SECRET_BYTES);
        if (contains(text, len, f->keys[i], KEY_LEN) || contains(text, len, s, SECRET_LEN) ||
            contains(text, len, s, SECRET_LEN / 2) ||
            contains(text, len, s + SECRET_LEN / 2, SECRET_LEN - SECRET_LEN / 2) ||
            contains(text, len, raw, sizeof(raw)))
            fail_msg("%s holds (part of) the secret of key %zu", where, i);
        sodium_memzero(raw, sizeof(raw));
    }
}

/* Reads data_dir/name into memory and checks it; a file that does not exist is skipped unless
 * required. */
static void assert_file_clean(fixture *f, const char *name, bool required)
{
    char path[4096];
    size_t len = 0;
    char *data;
    int n = snprintf(path, sizeof(path), "%s/%s", bw_srv_data_dir(f->srv), name);

    assert_true(n > 0 && (size_t)n < sizeof(path));
    data = bw_read_file(path, &len);
    if (data == NULL) {
        if (required)
            fail_msg("cannot read %s", path);
        return;
    }
    assert_no_secrets(f, data, len, path);
    free(data);
}

/* Last: every key above was created, used and tampered with by now. */
static void test_secret_not_logged_or_stored(void **state)
{
    fixture *f = *state;
    size_t len = 0;
    char *log = bw_srv_stderr(f->srv, &len);

    assert_non_null(log);
    assert_true(len > 0);
    assert_no_secrets(f, log, len, "the server's stderr");
    free(log);
    /* The database and its write-ahead log, which holds recent rows before a checkpoint. */
    assert_file_clean(f, "bulwark.db", true);
    assert_file_clean(f, "bulwark.db-wal", false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_authenticates),
        cmocka_unit_test(test_revoked_key),
        cmocka_unit_test(test_expired_key),
        cmocka_unit_test(test_key_scope),
        cmocka_unit_test(test_owner_demoted_then_disabled),
        cmocka_unit_test(test_tampered_keys),
        cmocka_unit_test(test_key_is_not_a_cookie),
        cmocka_unit_test(test_list_shows_use_not_secret),
        cmocka_unit_test(test_secret_not_logged_or_stored),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
