/* Unit tests for API keys: format, create/verify, refusals (wrong secret, unknown id, malformed,
 * expired, revoked), last-used throttling, listing, storage (no secret in the database file, the
 * hash depends on the server key), id collisions and database errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "bulwark/apikey.h"
#include "bulwark/store.h"
#include "harness.h"
#include "temp_store.h"

#define SECRET_OFF 20
#define SECRET_LEN 43
#define T0 1700000000LL

/* --- a controllable randombytes_buf ----------------------------------------------------------- */

/* This definition takes the place of libsodium's in this executable, so a test can make the next
 * id-sized draws (8 bytes) return a fixed value and force id collisions. Every other draw goes to
 * the real libsodium function. */
static int forced_id_draws;
static unsigned char forced_id[BW_APIKEY_ID_LEN / 2];

void randombytes_buf(void *const buf, const size_t size)
{
    static void (*real)(void *const, const size_t);

    if (size == sizeof(forced_id) && forced_id_draws > 0) {
        forced_id_draws--;
        memcpy(buf, forced_id, sizeof(forced_id));
        return;
    }
    if (real == NULL) {
        void *sym = dlsym(RTLD_NEXT, "randombytes_buf");

        if (sym == NULL)
            abort();
        memcpy(&real, &sym, sizeof(real));
    }
    real(buf, size);
}

/* --- fixture ---------------------------------------------------------------------------------- */

typedef struct {
    bw_temp_store ts;
    unsigned char key[BW_APIKEY_KEY_BYTES];
    long long alice, bob;
} fixture;

static int teardown(void **state)
{
    fixture *f = *state;

    if (f == NULL)
        return 0;
    bw_temp_store_close(&f->ts);
    free(f);
    return 0;
}

/* A fresh store in a temp dir and a fresh key; with_schema applies migrations/ and adds alice
 * and bob. */
static int open_fixture(void **state, bool with_schema)
{
    fixture *f = calloc(1, sizeof(*f));

    *state = f;
    if (f == NULL || sodium_init() < 0 || bw_temp_store_open(&f->ts, with_schema) != 0) {
        free(f);
        *state = NULL;
        return -1;
    }
    forced_id_draws = 0;
    randombytes_buf(f->key, sizeof(f->key));
    if (with_schema) {
        f->alice = bw_temp_store_add_user(f->ts.db, "alice");
        f->bob = bw_temp_store_add_user(f->ts.db, "bob");
    }
    return 0;
}

static int setup(void **state)
{
    return open_fixture(state, true);
}

static int setup_empty(void **state)
{
    return open_fixture(state, false);
}

/* --- helpers ---------------------------------------------------------------------------------- */

static void create_ok(fixture *f, long long user_id, const char *name, const char *roles,
                      long long expires_at, long long now, char out[BW_APIKEY_LEN + 1],
                      bw_apikey_info *info)
{
    char err[256] = "";
    int rc = bw_apikey_create(f->ts.db, f->key, user_id, name, roles, expires_at, now, out, info,
                              err, sizeof(err));

    if (rc != 0)
        fail_msg("bw_apikey_create(%s) = %d: %s", name, rc, err);
}

static int verify(fixture *f, const char *text, long long now)
{
    return bw_apikey_verify(f->ts.db, f->key, text, strlen(text), now, NULL);
}

/* A column of one key row, as an integer (NULL reads as -1). */
static long long key_column(sqlite3 *db, const char *sql, const char *id)
{
    sqlite3_stmt *st = NULL;
    long long v;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    return v;
}

static long long last_used(fixture *f, const char *id)
{
    return key_column(f->ts.db, "SELECT last_used_at FROM api_keys WHERE id = ?1", id);
}

static void stored_hash(fixture *f, const char *id, unsigned char out[32])
{
    sqlite3_stmt *st = NULL;

    assert_int_equal(sqlite3_prepare_v2(f->ts.db, "SELECT secret_hash FROM api_keys WHERE id = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(st, 0), SQLITE_BLOB);
    assert_int_equal(sqlite3_column_bytes(st, 0), 32);
    memcpy(out, sqlite3_column_blob(st, 0), 32);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
}

/* The id part of a key, NUL-terminated. */
static void key_id(const char *key, char id[BW_APIKEY_ID_LEN + 1])
{
    memcpy(id, key + 3, BW_APIKEY_ID_LEN);
    id[BW_APIKEY_ID_LEN] = '\0';
}

/* Another base64url character than c. */
static char other_b64(char c)
{
    return c == 'A' ? 'B' : 'A';
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char err[256] = "";

    if (bw_store_exec_script(db, sql, strlen(sql), err, sizeof(err)) != 0)
        fail_msg("%s: %s", sql, err);
}

/* --- tests ------------------------------------------------------------------------------------ */

static void test_create_verify_roundtrip(void **state)
{
    fixture *f = *state;
    char key[BW_APIKEY_LEN + 1], id[BW_APIKEY_ID_LEN + 1];
    bw_apikey_info made, got;

    create_ok(f, f->alice, "deploy bot", "editor,viewer", T0 + 3600, T0, key, &made);
    assert_int_equal(strlen(key), BW_APIKEY_LEN);
    assert_true(bw_apikey_looks_like(key, strlen(key)));
    key_id(key, id);
    assert_string_equal(made.id, id);
    assert_int_equal(made.user_id, f->alice);
    assert_string_equal(made.name, "deploy bot");
    assert_string_equal(made.roles, "editor,viewer");
    assert_int_equal(made.created_at, T0);
    assert_int_equal(made.expires_at, T0 + 3600);
    assert_int_equal(made.last_used_at, 0);
    assert_int_equal(made.revoked_at, 0);
    assert_int_equal(last_used(f, id), -1); /* never used: NULL */

    memset(&got, 'x', sizeof(got));
    assert_int_equal(bw_apikey_verify(f->ts.db, f->key, key, strlen(key), T0 + 5, &got), 1);
    assert_string_equal(got.id, id);
    assert_int_equal(got.user_id, f->alice);
    assert_string_equal(got.name, "deploy bot");
    assert_string_equal(got.roles, "editor,viewer");
    assert_int_equal(got.created_at, T0);
    assert_int_equal(got.expires_at, T0 + 3600);
    assert_int_equal(got.last_used_at, T0 + 5);
    assert_int_equal(got.revoked_at, 0);

    /* info may be NULL on create; the key still works. */
    assert_int_equal(bw_apikey_create(f->ts.db, f->key, f->bob, "x", "", 0, T0, key, NULL, NULL, 0),
                     0);
    assert_int_equal(verify(f, key, T0 + 1000000), 1);
}

/* Many keys: the documented shape, distinct ids and secrets, a secret that decodes to 32 bytes; and
 * keys whose secret holds '_' or '-' verify (the parser uses fixed positions). */
static void test_key_format(void **state)
{
    enum { N = 100 };
    fixture *f = *state;
    static char keys[N][BW_APIKEY_LEN + 1];
    unsigned char bin[33];
    size_t binlen;
    int i, j, with_sep = 0;

    for (i = 0; i < N; i++) {
        const char *k = keys[i];

        create_ok(f, f->alice, "k", "", 0, T0, keys[i], NULL);
        assert_memory_equal(k, "bw_", 3);
        for (j = 3; j < 3 + BW_APIKEY_ID_LEN; j++)
            assert_non_null(strchr("0123456789abcdef", k[j]));
        assert_int_equal(k[19], '_');
        assert_int_equal(sodium_base642bin(bin, sizeof(bin), k + SECRET_OFF, SECRET_LEN, NULL,
                                           &binlen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                         0);
        assert_int_equal(binlen, 32);
        for (j = 0; j < i; j++) {
            assert_memory_not_equal(keys[j] + 3, k + 3, BW_APIKEY_ID_LEN);
            assert_memory_not_equal(keys[j] + SECRET_OFF, k + SECRET_OFF, SECRET_LEN);
        }
        if (memchr(k + SECRET_OFF, '_', SECRET_LEN) != NULL ||
            memchr(k + SECRET_OFF, '-', SECRET_LEN) != NULL) {
            with_sep++;
            assert_int_equal(verify(f, k, T0 + 1), 1);
        }
    }
    /* Each key has a ~75 % chance of one; none in 100 would mean a wrong alphabet. */
    assert_true(with_sep > 0);
}

static void test_wrong_secret(void **state)
{
    static const size_t where[] = {SECRET_OFF, SECRET_OFF + SECRET_LEN / 2, BW_APIKEY_LEN - 1};
    fixture *f = *state;
    char key[BW_APIKEY_LEN + 1], bad[BW_APIKEY_LEN + 1], id[BW_APIKEY_ID_LEN + 1];
    bw_apikey_info info;
    size_t i;

    create_ok(f, f->alice, "k", "viewer", 0, T0, key, NULL);
    key_id(key, id);
    for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        memcpy(bad, key, sizeof(bad));
        bad[where[i]] = other_b64(bad[where[i]]);
        assert_true(bw_apikey_looks_like(bad, strlen(bad)));
        memset(&info, 'x', sizeof(info));
        assert_int_equal(bw_apikey_verify(f->ts.db, f->key, bad, strlen(bad), T0 + 100, &info), 0);
        assert_int_equal(info.user_id, 0); /* nothing leaks out on refusal */
        assert_int_equal(info.id[0], '\0');
    }
    /* A refused attempt does not count as a use. */
    assert_int_equal(last_used(f, id), -1);
    assert_int_equal(verify(f, key, T0 + 100), 1);
}

static void test_unknown_id(void **state)
{
    fixture *f = *state;
    char key[BW_APIKEY_LEN + 1], other[BW_APIKEY_LEN + 1];

    create_ok(f, f->alice, "k", "", 0, T0, key, NULL);
    /* Same secret, another id. */
    memcpy(other, key, sizeof(other));
    other[3] = other[3] == '0' ? '1' : '0';
    assert_int_equal(verify(f, other, T0), 0);
    /* A well-formed key for an empty table. */
    assert_int_equal(
        verify(f, "bw_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", T0), 0);
}

static void test_malformed(void **state)
{
    fixture *f = *state;
    char key[BW_APIKEY_LEN + 1], bad[BW_APIKEY_LEN + 8];
    static const struct {
        size_t pos;
        char c;
    } swaps[] = {
        {0, 'B'},                 /* "Bw_" */
        {1, 'x'},                 /* "bx_" */
        {2, '-'},                 /* "bw-" */
        {3, 'A'},                 /* upper-case hex */
        {10, 'g'},                /* not hex */
        {18, ' '},                /* space in the id */
        {19, '-'},                /* separator */
        {19, 'a'},                /* separator */
        {SECRET_OFF, '+'},        /* standard base64, not base64url */
        {SECRET_OFF + 5, '/'},    /* standard base64 */
        {BW_APIKEY_LEN - 1, '='}, /* padding */
        {SECRET_OFF + 7, '.'},
        {SECRET_OFF + 8, '\0'},
        {SECRET_OFF + 9, '\x80'},
        {SECRET_OFF + 9, '\n'},
    };
    size_t i;
    int nfail = 0;

    create_ok(f, f->alice, "k", "", 0, T0, key, NULL);
    assert_true(bw_apikey_looks_like(key, BW_APIKEY_LEN));

    for (i = 0; i < sizeof(swaps) / sizeof(swaps[0]); i++) {
        memcpy(bad, key, BW_APIKEY_LEN + 1);
        bad[swaps[i].pos] = swaps[i].c;
        if (bw_apikey_looks_like(bad, BW_APIKEY_LEN))
            BW_CASE_FAIL(nfail, "swap %zu: looks like a key", i);
        if (bw_apikey_verify(f->ts.db, f->key, bad, BW_APIKEY_LEN, T0, NULL) != 0)
            BW_CASE_FAIL(nfail, "swap %zu: verified", i);
    }
    /* Lengths: one short, one long (extra valid character, padding, newline), empty. */
    memcpy(bad, key, BW_APIKEY_LEN + 1);
    assert_false(bw_apikey_looks_like(bad, BW_APIKEY_LEN - 1));
    assert_int_equal(bw_apikey_verify(f->ts.db, f->key, bad, BW_APIKEY_LEN - 1, T0, NULL), 0);
    assert_false(bw_apikey_looks_like(bad, 0));
    assert_int_equal(bw_apikey_verify(f->ts.db, f->key, bad, 0, T0, NULL), 0);
    bad[BW_APIKEY_LEN] = 'A';
    assert_false(bw_apikey_looks_like(bad, BW_APIKEY_LEN + 1));
    assert_int_equal(bw_apikey_verify(f->ts.db, f->key, bad, BW_APIKEY_LEN + 1, T0, NULL), 0);
    bad[BW_APIKEY_LEN] = '=';
    assert_int_equal(bw_apikey_verify(f->ts.db, f->key, bad, BW_APIKEY_LEN + 1, T0, NULL), 0);
    bad[BW_APIKEY_LEN] = '\n';
    assert_int_equal(bw_apikey_verify(f->ts.db, f->key, bad, BW_APIKEY_LEN + 1, T0, NULL), 0);
    /* The key preceded by a space. */
    bad[0] = ' ';
    memcpy(bad + 1, key, BW_APIKEY_LEN);
    assert_false(bw_apikey_looks_like(bad, BW_APIKEY_LEN + 1));
    assert_false(bw_apikey_looks_like(NULL, BW_APIKEY_LEN));
    assert_int_equal(bw_apikey_verify(f->ts.db, f->key, NULL, BW_APIKEY_LEN, T0, NULL), 0);
    BW_CASES_DONE(nfail);
    /* The real key still works after all that. */
    assert_int_equal(verify(f, key, T0), 1);
}

static void test_expiry_boundary(void **state)
{
    fixture *f = *state;
    char key[BW_APIKEY_LEN + 1], err[256];

    create_ok(f, f->alice, "k", "", T0 + 100, T0, key, NULL);
    assert_int_equal(verify(f, key, T0 + 99), 1);
    assert_int_equal(verify(f, key, T0 + 100), 0);
    assert_int_equal(verify(f, key, T0 + 101), 0);
    assert_int_equal(verify(f, key, T0 + 99), 1);

    /* An expiry that is not in the future is refused at creation. */
    err[0] = '\0';
    assert_int_equal(
        bw_apikey_create(f->ts.db, f->key, f->alice, "k", "", T0, T0, key, NULL, err, sizeof(err)),
        -1);
    assert_true(err[0] != '\0');
    assert_int_equal(bw_apikey_create(f->ts.db, f->key, f->alice, "k", "", 3600, T0, key, NULL, err,
                                      sizeof(err)),
                     -1);
    assert_int_equal(
        bw_apikey_create(f->ts.db, f->key, f->alice, "k", "", -1, T0, key, NULL, err, sizeof(err)),
        -1);
    create_ok(f, f->alice, "k", "", T0 + 1, T0, key, NULL);
    assert_int_equal(verify(f, key, T0), 1);
    assert_int_equal(verify(f, key, T0 + 1), 0);
}

static void test_revoke(void **state)
{
    fixture *f = *state;
    char key[BW_APIKEY_LEN + 1], other[BW_APIKEY_LEN + 1], id[BW_APIKEY_ID_LEN + 1];
    char other_id[BW_APIKEY_ID_LEN + 1];

    create_ok(f, f->alice, "k", "", 0, T0, key, NULL);
    create_ok(f, f->alice, "k2", "", 0, T0, other, NULL);
    key_id(key, id);
    key_id(other, other_id);
    assert_int_equal(verify(f, key, T0 + 1), 1);
    assert_int_equal(bw_apikey_revoke(f->ts.db, id, T0 + 10), 1);
    assert_int_equal(verify(f, key, T0 + 11), 0);
    assert_int_equal(verify(f, key, T0 + 5), 0); /* revoked whatever the clock says */
    assert_int_equal(bw_apikey_revoke(f->ts.db, id, T0 + 20), 0);
    /* The first revocation time stays. */
    assert_int_equal(key_column(f->ts.db, "SELECT revoked_at FROM api_keys WHERE id = ?1", id),
                     T0 + 10);
    /* Only that key. */
    assert_int_equal(verify(f, other, T0 + 11), 1);
    assert_int_equal(
        key_column(f->ts.db, "SELECT revoked_at FROM api_keys WHERE id = ?1", other_id), -1);
    /* Unknown and malformed ids. */
    assert_int_equal(bw_apikey_revoke(f->ts.db, "0000000000000000", T0), 0);
    assert_int_equal(bw_apikey_revoke(f->ts.db, "", T0), 0);
    assert_int_equal(bw_apikey_revoke(f->ts.db, "0123", T0), 0);
    assert_int_equal(bw_apikey_revoke(f->ts.db, "0123456789ABCDEF", T0), 0);
    assert_int_equal(bw_apikey_revoke(f->ts.db, key, T0), 0); /* the whole key is not an id */
    assert_int_equal(bw_apikey_revoke(f->ts.db, NULL, T0), -1);
    assert_int_equal(bw_apikey_revoke(NULL, id, T0), -1);
}

static void test_last_used_throttled(void **state)
{
    fixture *f = *state;
    char key[BW_APIKEY_LEN + 1], id[BW_APIKEY_ID_LEN + 1];
    bw_apikey_info info;
    const long long t1 = T0 + 10;

    create_ok(f, f->alice, "k", "", 0, T0, key, NULL);
    key_id(key, id);
    assert_int_equal(last_used(f, id), -1);
    assert_int_equal(verify(f, key, t1), 1);
    assert_int_equal(last_used(f, id), t1);
    /* Within the window: not written; info reports the stored time. */
    assert_int_equal(
        bw_apikey_verify(f->ts.db, f->key, key, strlen(key), t1 + BW_APIKEY_TOUCH_S - 1, &info), 1);
    assert_int_equal(info.last_used_at, t1);
    assert_int_equal(last_used(f, id), t1);
    /* At the window's end: written. */
    assert_int_equal(
        bw_apikey_verify(f->ts.db, f->key, key, strlen(key), t1 + BW_APIKEY_TOUCH_S, &info), 1);
    assert_int_equal(info.last_used_at, t1 + BW_APIKEY_TOUCH_S);
    assert_int_equal(last_used(f, id), t1 + BW_APIKEY_TOUCH_S);
    /* A clock that went back never moves it backwards. */
    assert_int_equal(verify(f, key, t1), 1);
    assert_int_equal(last_used(f, id), t1 + BW_APIKEY_TOUCH_S);
    /* Refusals do not touch it. */
    assert_int_equal(bw_apikey_revoke(f->ts.db, id, t1 + 1000), 1);
    assert_int_equal(verify(f, key, t1 + 2000), 0);
    assert_int_equal(last_used(f, id), t1 + BW_APIKEY_TOUCH_S);
}

typedef struct {
    bw_apikey_info k[16];
    int n;
    int stop_after; /* 0: never */
} listed;

static int collect(const bw_apikey_info *k, void *ud)
{
    listed *l = ud;

    if (l->n >= (int)(sizeof(l->k) / sizeof(l->k[0])))
        return 1;
    l->k[l->n++] = *k;
    return l->stop_after != 0 && l->n >= l->stop_after;
}

static void test_list(void **state)
{
    fixture *f = *state;
    char key[BW_APIKEY_LEN + 1], tie1[BW_APIKEY_ID_LEN + 1], tie2[BW_APIKEY_ID_LEN + 1];
    bw_apikey_info a1, a2, a3, b1, t1, t2;
    listed l;
    int i;

    create_ok(f, f->alice, "a1", "viewer", 0, T0 + 100, key, &a1);
    create_ok(f, f->alice, "a3", "editor", T0 + 5000, T0 + 300, key, &a3);
    create_ok(f, f->alice, "a2", "", 0, T0 + 200, key, &a2);
    create_ok(f, f->bob, "b1", "admin", 0, T0 + 250, key, &b1);
    assert_int_equal(bw_apikey_revoke(f->ts.db, a2.id, T0 + 400), 1);

    memset(&l, 0, sizeof(l));
    assert_int_equal(bw_apikey_list(f->ts.db, f->alice, collect, &l), 3);
    assert_string_equal(l.k[0].id, a3.id);
    assert_string_equal(l.k[1].id, a2.id);
    assert_string_equal(l.k[2].id, a1.id);
    assert_string_equal(l.k[0].name, "a3");
    assert_string_equal(l.k[0].roles, "editor");
    assert_int_equal(l.k[0].expires_at, T0 + 5000);
    assert_int_equal(l.k[0].created_at, T0 + 300);
    assert_int_equal(l.k[1].revoked_at, T0 + 400);
    assert_int_equal(l.k[2].revoked_at, 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(l.k[i].user_id, f->alice);

    memset(&l, 0, sizeof(l));
    assert_int_equal(bw_apikey_list(f->ts.db, f->bob, collect, &l), 1);
    assert_string_equal(l.k[0].id, b1.id);
    assert_string_equal(l.k[0].roles, "admin");

    memset(&l, 0, sizeof(l));
    assert_int_equal(bw_apikey_list(f->ts.db, -1, collect, &l), 4);
    assert_string_equal(l.k[0].id, a3.id);
    assert_string_equal(l.k[1].id, b1.id);
    assert_string_equal(l.k[2].id, a2.id);
    assert_string_equal(l.k[3].id, a1.id);

    /* Same creation time: ordered by id. */
    create_ok(f, f->bob, "t1", "", 0, T0 + 900, key, &t1);
    create_ok(f, f->bob, "t2", "", 0, T0 + 900, key, &t2);
    memcpy(tie1, strcmp(t1.id, t2.id) < 0 ? t1.id : t2.id, sizeof(tie1));
    memcpy(tie2, strcmp(t1.id, t2.id) < 0 ? t2.id : t1.id, sizeof(tie2));
    memset(&l, 0, sizeof(l));
    assert_int_equal(bw_apikey_list(f->ts.db, f->bob, collect, &l), 3);
    assert_string_equal(l.k[0].id, tie1);
    assert_string_equal(l.k[1].id, tie2);
    assert_string_equal(l.k[2].id, b1.id);

    /* Stop early: the key that stops counts. */
    memset(&l, 0, sizeof(l));
    l.stop_after = 2;
    assert_int_equal(bw_apikey_list(f->ts.db, -1, collect, &l), 2);
    assert_int_equal(l.n, 2);

    /* A user without keys, and bad arguments. */
    memset(&l, 0, sizeof(l));
    assert_int_equal(bw_apikey_list(f->ts.db, f->bob + 100, collect, &l), 0);
    assert_int_equal(bw_apikey_list(f->ts.db, f->alice, NULL, &l), -1);
    assert_int_equal(bw_apikey_list(NULL, f->alice, collect, &l), -1);
    assert_int_equal(l.n, 0);
}

static bool present(const char *file, const void *needle, size_t len)
{
    size_t n = 0;
    char *data = bw_read_file(file, &n);
    bool found = data != NULL && memmem(data, n, needle, len) != NULL;

    free(data);
    return found;
}

/* Neither the secret text, nor its bytes, nor the whole key reach the database file or its WAL; the
 * id and the hash do (which shows the search itself works). */
static void test_secret_not_stored(void **state)
{
    enum { N = 5 };
    fixture *f = *state;
    char keys[N][BW_APIKEY_LEN + 1], wal[600], id[BW_APIKEY_ID_LEN + 1];
    unsigned char bins[N][32], hash[32];
    size_t binlen;
    int i, pass;

    assert_true((size_t)snprintf(wal, sizeof(wal), "%s-wal", f->ts.path) < sizeof(wal));
    for (i = 0; i < N; i++) {
        create_ok(f, f->alice, "k", "", 0, T0, keys[i], NULL);
        assert_int_equal(verify(f, keys[i], T0 + 1), 1);
        assert_int_equal(sodium_base642bin(bins[i], 32, keys[i] + SECRET_OFF, SECRET_LEN, NULL,
                                           &binlen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                         0);
    }
    key_id(keys[0], id);
    assert_int_equal(crypto_generichash(hash, 32, (const unsigned char *)keys[0] + SECRET_OFF,
                                        SECRET_LEN, f->key, sizeof(f->key)),
                     0);
    /* Pass 0 with the store open (the rows may be only in the WAL), pass 1 after closing it
     * (checkpointed into the main file). The id and hash are found each time, which shows the
     * search looks where the rows are. */
    for (pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            bw_store_close(f->ts.store);
            f->ts.store = NULL;
            f->ts.db = NULL;
            assert_int_not_equal(access(wal, F_OK),
                                 0); /* the WAL is gone: all is in the main file */
        }
        assert_true(present(f->ts.path, id, BW_APIKEY_ID_LEN) ||
                    present(wal, id, BW_APIKEY_ID_LEN));
        assert_true(present(f->ts.path, hash, sizeof(hash)) || present(wal, hash, sizeof(hash)));
        for (i = 0; i < N; i++) {
            assert_false(present(f->ts.path, keys[i] + SECRET_OFF, SECRET_LEN));
            assert_false(present(wal, keys[i] + SECRET_OFF, SECRET_LEN));
            assert_false(present(f->ts.path, bins[i], 32));
            assert_false(present(wal, bins[i], 32));
        }
    }
}

/* The stored hash is BLAKE2b-256 of the secret's 43 characters keyed with the server key; with
 * another key the hash differs and verification fails. */
static void test_hash_depends_on_key(void **state)
{
    fixture *f = *state;
    char key[BW_APIKEY_LEN + 1], key2[BW_APIKEY_LEN + 1], id[BW_APIKEY_ID_LEN + 1];
    char id2[BW_APIKEY_ID_LEN + 1];
    unsigned char other[BW_APIKEY_KEY_BYTES], got[32], want[32], want_other[32], unkeyed[32];
    unsigned char got2[32];
    const unsigned char *secret;

    memcpy(other, f->key, sizeof(other));
    other[31] ^= 1;
    create_ok(f, f->alice, "k", "", 0, T0, key, NULL);
    key_id(key, id);
    secret = (const unsigned char *)key + SECRET_OFF;
    stored_hash(f, id, got);
    assert_int_equal(crypto_generichash(want, 32, secret, SECRET_LEN, f->key, 32), 0);
    assert_int_equal(crypto_generichash(want_other, 32, secret, SECRET_LEN, other, 32), 0);
    assert_int_equal(crypto_generichash(unkeyed, 32, secret, SECRET_LEN, NULL, 0), 0);
    assert_memory_equal(got, want, 32);
    assert_memory_not_equal(got, want_other, 32);
    assert_memory_not_equal(got, unkeyed, 32);

    assert_int_equal(bw_apikey_verify(f->ts.db, other, key, strlen(key), T0, NULL), 0);
    assert_int_equal(verify(f, key, T0), 1);

    /* A key made under the other server key verifies only under it. */
    assert_int_equal(
        bw_apikey_create(f->ts.db, other, f->alice, "k2", "", 0, T0, key2, NULL, NULL, 0), 0);
    key_id(key2, id2);
    stored_hash(f, id2, got2);
    assert_int_equal(crypto_generichash(want, 32, (const unsigned char *)key2 + SECRET_OFF,
                                        SECRET_LEN, other, 32),
                     0);
    assert_memory_equal(got2, want, 32);
    assert_int_equal(verify(f, key2, T0), 0);
    assert_int_equal(bw_apikey_verify(f->ts.db, other, key2, strlen(key2), T0, NULL), 1);
}

static void test_create_refuses_bad_input(void **state)
{
    fixture *f = *state;
    char key[BW_APIKEY_LEN + 1], err[256], big[BW_APIKEY_ROLES_MAX + 2];
    bw_apikey_info info;
    listed l;
    static const char *const bad_names[] = {"",        "tab\there",     "new\nline",
                                            "del\x7f", "utf8 \xc3\xa9", "\x1f"};
    size_t i;

    for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        err[0] = '\0';
        assert_int_equal(bw_apikey_create(f->ts.db, f->key, f->alice, bad_names[i], "", 0, T0, key,
                                          NULL, err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, "name"));
    }
    memset(big, 'n', BW_APIKEY_NAME_MAX + 1);
    big[BW_APIKEY_NAME_MAX + 1] = '\0';
    assert_int_equal(
        bw_apikey_create(f->ts.db, f->key, f->alice, big, "", 0, T0, key, NULL, err, sizeof(err)),
        -1);
    /* 64 printable characters, including space and '~', are fine. */
    big[BW_APIKEY_NAME_MAX] = '\0';
    big[0] = ' ';
    big[1] = '~';
    create_ok(f, f->alice, big, "", 0, T0, key, &info);
    assert_string_equal(info.name, big);

    memset(big, 'r', BW_APIKEY_ROLES_MAX);
    big[BW_APIKEY_ROLES_MAX] = '\0';
    assert_int_equal(
        bw_apikey_create(f->ts.db, f->key, f->alice, "k", big, 0, T0, key, NULL, err, sizeof(err)),
        -1);
    big[BW_APIKEY_ROLES_MAX - 1] = '\0';
    create_ok(f, f->alice, "k", big, 0, T0 + 1, key, &info);
    assert_int_equal(verify(f, key, T0 + 2), 1);

    assert_int_equal(
        bw_apikey_create(f->ts.db, f->key, f->alice, NULL, "", 0, T0, key, NULL, err, sizeof(err)),
        -1);
    assert_int_equal(
        bw_apikey_create(f->ts.db, f->key, f->alice, "k", NULL, 0, T0, key, NULL, err, sizeof(err)),
        -1);
    assert_int_equal(
        bw_apikey_create(f->ts.db, NULL, f->alice, "k", "", 0, T0, key, NULL, err, sizeof(err)),
        -1);
    assert_int_equal(
        bw_apikey_create(f->ts.db, f->key, f->alice, "k", "", 0, T0, NULL, NULL, err, sizeof(err)),
        -1);
    assert_int_equal(
        bw_apikey_create(NULL, f->key, f->alice, "k", "", 0, T0, key, NULL, err, sizeof(err)), -1);

    /* A user that does not exist (the store enforces foreign keys). */
    memset(&info, 'x', sizeof(info));
    err[0] = '\0';
    assert_int_equal(bw_apikey_create(f->ts.db, f->key, f->bob + 100, "k", "", 0, T0, key, &info,
                                      err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "FOREIGN KEY"));
    assert_int_equal(info.user_id, 0);
    assert_int_equal(key[0], '\0'); /* no key handed out */

    memset(&l, 0, sizeof(l));
    assert_int_equal(bw_apikey_list(f->ts.db, -1, collect, &l), 2);
}

/* Ids that are taken are retried with fresh ones, a bounded number of times. */
static void test_id_collision_retried(void **state)
{
    static const unsigned char fixed[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    fixture *f = *state;
    char first[BW_APIKEY_LEN + 1], key[BW_APIKEY_LEN + 1], err[256] = "";
    bw_apikey_info info;
    listed l;
    int left;

    memcpy(forced_id, fixed, sizeof(fixed));
    forced_id_draws = 1;
    create_ok(f, f->alice, "first", "", 0, T0, first, &info);
    assert_int_equal(forced_id_draws, 0);
    assert_string_equal(info.id, "0123456789abcdef");

    /* Two collisions, then a free id. */
    forced_id_draws = 2;
    create_ok(f, f->bob, "second", "", 0, T0, key, &info);
    assert_int_equal(forced_id_draws, 0);
    assert_string_not_equal(info.id, "0123456789abcdef");
    assert_int_equal(info.user_id, f->bob);
    assert_int_equal(verify(f, key, T0), 1);

    /* Never a free id: gives up after a few attempts. */
    forced_id_draws = 1000;
    assert_int_equal(
        bw_apikey_create(f->ts.db, f->key, f->bob, "third", "", 0, T0, key, NULL, err, sizeof(err)),
        -1);
    left = forced_id_draws;
    forced_id_draws = 0;
    assert_true(left < 1000 - 1 && left >= 1000 - 10);
    assert_non_null(strstr(err, "id"));

    /* The first key was never overwritten. */
    assert_int_equal(bw_apikey_verify(f->ts.db, f->key, first, strlen(first), T0, &info), 1);
    assert_string_equal(info.name, "first");
    assert_int_equal(info.user_id, f->alice);
    memset(&l, 0, sizeof(l));
    assert_int_equal(bw_apikey_list(f->ts.db, -1, collect, &l), 2);
}

/* Rows another writer stored that do not fit bw_apikey_info, or a hash of the wrong size, are
 * errors, never truncated or trusted. */
static void test_bad_stored_rows(void **state)
{
    fixture *f = *state;
    char key[BW_APIKEY_LEN + 1], id[BW_APIKEY_ID_LEN + 1];
    listed l;

    create_ok(f, f->alice, "k", "", 0, T0, key, NULL);
    key_id(key, id);
    assert_int_equal(verify(f, key, T0), 1);

    exec_ok(f->ts.db, "UPDATE api_keys SET name = substr(hex(zeroblob(65)), 1, 65)");
    assert_int_equal(verify(f, key, T0), -1);
    memset(&l, 0, sizeof(l));
    assert_int_equal(bw_apikey_list(f->ts.db, -1, collect, &l), -1);
    assert_int_equal(l.n, 0);

    exec_ok(f->ts.db,
            "UPDATE api_keys SET name = 'k', roles = substr(hex(zeroblob(1024)), 1, 1024)");
    assert_int_equal(verify(f, key, T0), -1);
    exec_ok(f->ts.db, "UPDATE api_keys SET roles = 'a' || char(0) || 'b'");
    assert_int_equal(verify(f, key, T0), -1);
    exec_ok(f->ts.db, "UPDATE api_keys SET roles = ''");
    assert_int_equal(verify(f, key, T0), 1);

    exec_ok(f->ts.db, "UPDATE api_keys SET secret_hash = substr(secret_hash, 1, 16)");
    assert_int_equal(verify(f, key, T0), -1);
    exec_ok(f->ts.db, "UPDATE api_keys SET secret_hash = zeroblob(32)");
    assert_int_equal(verify(f, key, T0), 0);
}

/* Without the schema every call reports a database error. */
static void test_database_errors(void **state)
{
    fixture *f = *state;
    char key[BW_APIKEY_LEN + 1], err[256] = "";
    listed l;

    memset(&l, 0, sizeof(l));
    assert_int_equal(
        bw_apikey_create(f->ts.db, f->key, 1, "k", "", 0, T0, key, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no such table"));
    assert_int_equal(
        verify(f, "bw_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", T0), -1);
    assert_int_equal(bw_apikey_revoke(f->ts.db, "0123456789abcdef", T0), -1);
    assert_int_equal(bw_apikey_list(f->ts.db, -1, collect, &l), -1);
    assert_int_equal(bw_apikey_list(f->ts.db, 1, collect, &l), -1);
    /* Malformed input is refused before the database is asked. */
    assert_int_equal(verify(f, "bw_short", T0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_verify_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_used_throttled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_not_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_depends_on_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_refuses_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_collision_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_stored_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_errors, setup_empty, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
