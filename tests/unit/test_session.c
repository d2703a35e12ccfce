/* Unit tests for sessions: token shape, lookup, expiry, touch, revocation, prune, CSRF. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/session.h"
#include "bulwark/store.h"
#include "temp_store.h"

#define T0 1700000000LL
#define DAY 86400LL
#define NO_IDLE (100LL * DAY)

typedef struct fixture {
    bw_temp_store ts;
    unsigned char key[BW_SESSION_KEY_BYTES];
    long long alice, bob;
} fixture;

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
    f->alice = bw_temp_store_add_user(f->ts.db, "alice");
    f->bob = bw_temp_store_add_user(f->ts.db, "bob");
    return 0;
}

static long long row_count(sqlite3 *db)
{
    return bw_test_sql_int(db, "SELECT count(*) FROM sessions");
}

static long long last_seen(sqlite3 *db, long long id)
{
    char sql[96];
    int n = snprintf(sql, sizeof(sql), "SELECT last_seen_at FROM sessions WHERE id = %lld", id);

    assert_true(n > 0 && (size_t)n < sizeof(sql));
    return bw_test_sql_int(db, sql);
}

/* Creates a session that must succeed. */
static long long make(fixture *f, long long user, long long now, long long ttl, char *tok)
{
    bw_session_info info;

    assert_int_equal(bw_session_create(f->ts.db, f->key, user, false, now, ttl, tok, &info), 0);
    return info.id;
}

static int lookup(fixture *f, const char *tok, long long now, long long idle)
{
    bw_session_info info;

    return bw_session_lookup(f->ts.db, f->key, tok, strlen(tok), now, idle, &info);
}

static bool in_alphabet(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static int b64_value(char c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *p = memchr(alphabet, c, 64);

    assert_non_null(p);
    return (int)(p - alphabet);
}

static void test_create_lookup_roundtrip(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1];
    bw_session_info made, got;

    assert_int_equal(bw_session_create(f->ts.db, f->key, f->alice, true, T0, DAY, tok, &made), 0);
    assert_true(made.id > 0);
    assert_int_equal(made.user_id, f->alice);
    assert_int_equal(made.created_at, T0);
    assert_int_equal(made.last_seen_at, T0);
    assert_int_equal(made.expires_at, T0 + DAY);
    assert_true(made.mfa);

    memset(&got, 0, sizeof(got));
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, strlen(tok), T0 + 5, 3600, &got), 1);
    assert_int_equal(got.id, made.id);
    assert_int_equal(got.user_id, f->alice);
    assert_int_equal(got.created_at, T0);
    assert_int_equal(got.last_seen_at, T0); /* within BW_SESSION_TOUCH_S: not moved */
    assert_int_equal(got.expires_at, T0 + DAY);
    assert_true(got.mfa);

    /* Without mfa, and info may be NULL on create and lookup. */
    assert_int_equal(bw_session_create(f->ts.db, f->key, f->bob, false, T0, DAY, tok, NULL), 0);
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, strlen(tok), T0, 3600, &got), 1);
    assert_int_equal(got.user_id, f->bob);
    assert_false(got.mfa);
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, strlen(tok), T0, 3600, NULL), 1);
    assert_int_equal(row_count(f->ts.db), 2);
}

static void test_token_shape(void **state)
{
    fixture *f = *state;
    char toks[64][BW_SESSION_TOKEN_LEN + 1];

    for (size_t i = 0; i < 64; i++) {
        (void)make(f, f->alice, T0, DAY, toks[i]);
        assert_int_equal(strlen(toks[i]), BW_SESSION_TOKEN_LEN);
        for (size_t j = 0; j < BW_SESSION_TOKEN_LEN; j++)
            assert_true(in_alphabet(toks[i][j]));
        /* 43 * 6 = 258 bits for 256: the last character's 2 low bits are zero. */
        assert_int_equal(b64_value(toks[i][BW_SESSION_TOKEN_LEN - 1]) & 3, 0);
        for (size_t j = 0; j < i; j++)
            assert_memory_not_equal(toks[i], toks[j], BW_SESSION_TOKEN_LEN);
    }
}

static void test_bad_shapes_refused(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1];
    char bad[BW_SESSION_TOKEN_LEN + 2];
    char csrf[BW_SESSION_TOKEN_LEN + 1];
    bw_session_info info;
    static const char subst[] = {'+', '/', '=', ' ', '.', '\0', '\n', (char)0xc3};
    int v;

    (void)make(f, f->alice, T0, DAY, tok);
    assert_int_equal(lookup(f, tok, T0, 3600), 1);

    /* 42 and 44 characters. */
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, 42, T0, 3600, &info), 0);
    memcpy(bad, tok, BW_SESSION_TOKEN_LEN);
    bad[BW_SESSION_TOKEN_LEN] = 'A';
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, bad, 44, T0, 3600, &info), 0);
    bad[BW_SESSION_TOKEN_LEN] = '=';
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, bad, 44, T0, 3600, &info), 0);
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, bad, 0, T0, 3600, &info), 0);
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, NULL, 43, T0, 3600, &info), 0);

    /* A foreign character anywhere. */
    for (size_t pos = 0; pos < BW_SESSION_TOKEN_LEN; pos += 7) {
        for (size_t k = 0; k < sizeof(subst); k++) {
            memcpy(bad, tok, BW_SESSION_TOKEN_LEN);
            bad[pos] = subst[k];
            assert_int_equal(
                bw_session_lookup(f->ts.db, f->key, bad, BW_SESSION_TOKEN_LEN, T0, 3600, &info), 0);
            assert_int_equal(bw_session_csrf_token(f->key, bad, BW_SESSION_TOKEN_LEN, csrf), -1);
        }
    }

    /* Non-canonical last characters: the same 32 bytes with padding bits set. */
    v = b64_value(tok[BW_SESSION_TOKEN_LEN - 1]);
    for (int low = 1; low < 4; low++) {
        static const char alphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

        memcpy(bad, tok, BW_SESSION_TOKEN_LEN);
        bad[BW_SESSION_TOKEN_LEN - 1] = alphabet[v | low];
        assert_int_equal(
            bw_session_lookup(f->ts.db, f->key, bad, BW_SESSION_TOKEN_LEN, T0, 3600, &info), 0);
        assert_int_equal(bw_session_csrf_token(f->key, bad, BW_SESSION_TOKEN_LEN, csrf), -1);
    }
    /* The session survives the attempts. */
    assert_int_equal(lookup(f, tok, T0, 3600), 1);
}

/* A malformed token is refused before any query: on a database without the sessions table a
 * well-formed token gets -1 (the query fails), a malformed one 0. */
static void test_bad_shape_needs_no_database(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1];
    sqlite3 *empty = NULL;
    bw_session_info info;

    (void)make(f, f->alice, T0, DAY, tok);
    assert_int_equal(sqlite3_open_v2(":memory:", &empty, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(bw_session_lookup(empty, f->key, tok, BW_SESSION_TOKEN_LEN, T0, 60, &info),
                     -1);
    assert_int_equal(bw_session_lookup(empty, f->key, tok, 42, T0, 60, &info), 0);
    assert_int_equal(bw_session_revoke(empty, 1), -1);
    assert_int_equal(bw_session_revoke_user(empty, 1), -1);
    assert_int_equal(bw_session_prune(empty, T0, 60), -1);
    assert_int_equal(bw_session_create(empty, f->key, f->alice, false, T0, DAY, tok, &info), -1);
    assert_int_equal(tok[0], '\0');
    assert_int_equal(sqlite3_close(empty), SQLITE_OK);
}

static void test_create_errors(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1];

    assert_int_equal(bw_session_create(f->ts.db, f->key, f->alice, false, T0, 0, tok, NULL), -1);
    assert_int_equal(bw_session_create(f->ts.db, f->key, f->alice, false, T0, -5, tok, NULL), -1);
    assert_int_equal(
        bw_session_create(f->ts.db, f->key, f->alice, false, LLONG_MAX - 10, 11, tok, NULL), -1);
    assert_int_equal(bw_session_create(f->ts.db, f->key, f->alice, false, T0, DAY, NULL, NULL), -1);
    assert_int_equal(bw_session_create(NULL, f->key, f->alice, false, T0, DAY, tok, NULL), -1);
    /* No such user: the foreign key refuses it, and no token is handed out. */
    memset(tok, 'x', sizeof(tok));
    assert_int_equal(bw_session_create(f->ts.db, f->key, 424242, false, T0, DAY, tok, NULL), -1);
    assert_int_equal(tok[0], '\0');
    assert_int_equal(row_count(f->ts.db), 0);
    /* The largest end time that fits is fine. */
    assert_int_equal(
        bw_session_create(f->ts.db, f->key, f->alice, false, LLONG_MAX - 10, 10, tok, NULL), 0);
}

static void test_absolute_expiry(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1];

    (void)make(f, f->alice, T0, 3600, tok);
    assert_int_equal(lookup(f, tok, T0 + 3599, NO_IDLE), 1);
    assert_int_equal(lookup(f, tok, T0 + 3600, NO_IDLE), 0);
    /* Deleted, not merely refused: an earlier clock no longer finds it. */
    assert_int_equal(row_count(f->ts.db), 0);
    assert_int_equal(lookup(f, tok, T0 + 10, NO_IDLE), 0);
}

static void test_idle_expiry(void **state)
{
    fixture *f = *state;
    char a[BW_SESSION_TOKEN_LEN + 1], b[BW_SESSION_TOKEN_LEN + 1];
    sqlite3_stmt *st = NULL;
    long long ida;

    ida = make(f, f->alice, T0, DAY, a);
    (void)make(f, f->alice, T0, DAY, b);
    /* idle_ttl 600: 599 s idle is fine, 600 s is not. */
    assert_int_equal(lookup(f, a, T0 + 599, 600), 1);
    assert_int_equal(last_seen(f->ts.db, ida), T0 + 599);
    assert_int_equal(lookup(f, b, T0 + 600, 600), 0);
    assert_int_equal(row_count(f->ts.db), 1);
    /* Idle counts from the last touch. */
    assert_int_equal(lookup(f, a, T0 + 599 + 599, 600), 1);
    assert_int_equal(lookup(f, a, T0 + 599 + 599 + 600, 600), 0);
    assert_int_equal(row_count(f->ts.db), 0);

    /* Extreme clocks and periods: compared exactly, without overflow. */
    (void)make(f, f->alice, T0, DAY, a);
    assert_int_equal(lookup(f, a, T0 + 1, LLONG_MAX), 1);
    assert_int_equal(lookup(f, a, LLONG_MIN, 600), 1); /* far before last_seen_at: not idle */
    assert_int_equal(lookup(f, a, T0, LLONG_MIN), 0);
    assert_int_equal(row_count(f->ts.db), 0);
    /* now - last_seen_at beyond LLONG_MAX is idle even for the longest period. */
    ida = make(f, f->alice, T0, DAY, a);
    assert_int_equal(sqlite3_prepare_v2(f->ts.db,
                                        "UPDATE sessions SET last_seen_at = ?1 WHERE id = ?2", -1,
                                        &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_int64(st, 1, LLONG_MIN), SQLITE_OK);
    assert_int_equal(sqlite3_bind_int64(st, 2, ida), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    assert_int_equal(lookup(f, a, T0, LLONG_MAX), 0);
    assert_int_equal(row_count(f->ts.db), 0);
}

static void test_touch_throttled(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1];
    bw_session_info info;
    long long id;

    id = make(f, f->alice, T0, DAY, tok);
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, 43, T0 + 29, 3600, &info), 1);
    assert_int_equal(info.last_seen_at, T0);
    assert_int_equal(last_seen(f->ts.db, id), T0);
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, 43, T0 + 30, 3600, &info), 1);
    assert_int_equal(info.last_seen_at, T0 + 30);
    assert_int_equal(last_seen(f->ts.db, id), T0 + 30);
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, 43, T0 + 59, 3600, &info), 1);
    assert_int_equal(last_seen(f->ts.db, id), T0 + 30);
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, 43, T0 + 60, 3600, &info), 1);
    assert_int_equal(last_seen(f->ts.db, id), T0 + 60);
    /* A clock behind last_seen_at never moves it back. */
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, 43, T0 - 100, 3600, &info), 1);
    assert_int_equal(info.last_seen_at, T0 + 60);
    assert_int_equal(last_seen(f->ts.db, id), T0 + 60);
}

/* With a short idle time the touch comes every idle/2 s, so a session used every idle/2 s
 * never idles out; 1 s is the floor. */
static void test_touch_short_idle(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1];
    long long id;

    id = make(f, f->alice, T0, DAY, tok);
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, 43, T0 + 4, 10, NULL), 1);
    assert_int_equal(last_seen(f->ts.db, id), T0);
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, 43, T0 + 5, 10, NULL), 1);
    assert_int_equal(last_seen(f->ts.db, id), T0 + 5);
    for (long long t = T0 + 10; t <= T0 + 60; t += 5)
        assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, 43, t, 10, NULL), 1);
    assert_int_equal(last_seen(f->ts.db, id), T0 + 60);
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, 43, T0 + 61, 2, NULL), 1);
    assert_int_equal(last_seen(f->ts.db, id), T0 + 61);
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, 43, T0 + 71, 10, NULL), 0);
}

static void test_revoke(void **state)
{
    fixture *f = *state;
    char a[BW_SESSION_TOKEN_LEN + 1], b[BW_SESSION_TOKEN_LEN + 1];
    long long ida;

    ida = make(f, f->alice, T0, DAY, a);
    (void)make(f, f->alice, T0, DAY, b);
    assert_int_equal(bw_session_revoke(f->ts.db, ida), 1);
    assert_int_equal(lookup(f, a, T0, 3600), 0);
    assert_int_equal(lookup(f, b, T0, 3600), 1);
    assert_int_equal(bw_session_revoke(f->ts.db, ida), 0);
    assert_int_equal(bw_session_revoke(f->ts.db, -1), 0);
}

static void test_revoke_user(void **state)
{
    fixture *f = *state;
    char a[3][BW_SESSION_TOKEN_LEN + 1], b[2][BW_SESSION_TOKEN_LEN + 1];

    for (int i = 0; i < 3; i++)
        (void)make(f, f->alice, T0, DAY, a[i]);
    for (int i = 0; i < 2; i++)
        (void)make(f, f->bob, T0, DAY, b[i]);
    assert_int_equal(bw_session_revoke_user(f->ts.db, f->alice), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(lookup(f, a[i], T0, 3600), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(lookup(f, b[i], T0, 3600), 1);
    assert_int_equal(bw_session_revoke_user(f->ts.db, f->alice), 0);
    assert_int_equal(row_count(f->ts.db), 2);
}

static void test_prune(void **state)
{
    fixture *f = *state;
    char live[BW_SESSION_TOKEN_LEN + 1], almost[BW_SESSION_TOKEN_LEN + 1];
    char tok[BW_SESSION_TOKEN_LEN + 1];
    const long long now = T0 + 1000;

    (void)make(f, f->alice, now - 500, 500, tok);  /* absolute: expires_at == now */
    (void)make(f, f->alice, now - 500, 499, tok);  /* absolute: before now */
    (void)make(f, f->alice, now - 600, DAY, tok);  /* idle exactly 600 s */
    (void)make(f, f->bob, now - 599, DAY, almost); /* idle 599 s: kept */
    (void)make(f, f->bob, now - 10, 11, live);     /* expires 1 s after now: kept */
    assert_int_equal(bw_session_prune(f->ts.db, now, 600), 3);
    assert_int_equal(row_count(f->ts.db), 2);
    assert_int_equal(lookup(f, almost, now, 600), 1);
    assert_int_equal(lookup(f, live, now, 600), 1);
    assert_int_equal(bw_session_prune(f->ts.db, now, 600), 0);
    /* Extreme idle periods neither overflow nor misfire. */
    assert_int_equal(bw_session_prune(f->ts.db, LLONG_MIN + 5, LLONG_MAX), 0);
    assert_int_equal(row_count(f->ts.db), 2);
    assert_int_equal(bw_session_prune(f->ts.db, T0, LLONG_MIN), 2);
    assert_int_equal(row_count(f->ts.db), 0);
}

static void test_token_not_in_db_files(void **state)
{
    fixture *f = *state;
    char toks[8][BW_SESSION_TOKEN_LEN + 1];
    unsigned char raw[32];
    size_t raw_len = 0, total = 0;
    char *all;

    for (int i = 0; i < 8; i++)
        (void)make(f, f->alice, T0, DAY, toks[i]);
    all = bw_temp_store_files(&f->ts, &total);
    assert_true(total > 0);
    for (int i = 0; i < 8; i++) {
        assert_null(memmem(all, total, toks[i], BW_SESSION_TOKEN_LEN));
        assert_int_equal(sodium_base642bin(raw, sizeof(raw), toks[i], BW_SESSION_TOKEN_LEN, NULL,
                                           &raw_len, NULL,
                                           sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                         0);
        assert_int_equal(raw_len, sizeof(raw));
        assert_null(memmem(all, total, raw, sizeof(raw)));
    }
    /* The search itself works: the user name is found. */
    assert_non_null(memmem(all, total, "alice", 5));
    free(all);
}

static void test_other_key_not_found(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1];
    unsigned char other[BW_SESSION_KEY_BYTES];
    bw_session_info info;

    (void)make(f, f->alice, T0, DAY, tok);
    memcpy(other, f->key, sizeof(other));
    other[31] ^= 1;
    assert_int_equal(bw_session_lookup(f->ts.db, other, tok, 43, T0, 3600, &info), 0);
    assert_int_equal(row_count(f->ts.db), 1);
    assert_int_equal(bw_session_lookup(f->ts.db, f->key, tok, 43, T0, 3600, &info), 1);
}

static void test_csrf_token(void **state)
{
    fixture *f = *state;
    char a[BW_SESSION_TOKEN_LEN + 1], b[BW_SESSION_TOKEN_LEN + 1];
    char ca[BW_SESSION_TOKEN_LEN + 1], ca2[BW_SESSION_TOKEN_LEN + 1];
    char cb[BW_SESSION_TOKEN_LEN + 1], ck[BW_SESSION_TOKEN_LEN + 1];
    unsigned char k1[BW_SESSION_KEY_BYTES], k2[BW_SESSION_KEY_BYTES];

    randombytes_buf(k1, sizeof(k1));
    memcpy(k2, k1, sizeof(k2));
    k2[0] ^= 0x80;
    (void)make(f, f->alice, T0, DAY, a);
    (void)make(f, f->alice, T0, DAY, b);
    assert_int_equal(bw_session_csrf_token(k1, a, 43, ca), 0);
    assert_int_equal(bw_session_csrf_token(k1, a, 43, ca2), 0);
    assert_int_equal(bw_session_csrf_token(k1, b, 43, cb), 0);
    assert_int_equal(bw_session_csrf_token(k2, a, 43, ck), 0);
    assert_int_equal(strlen(ca), BW_SESSION_TOKEN_LEN);
    for (size_t i = 0; i < BW_SESSION_TOKEN_LEN; i++)
        assert_true(in_alphabet(ca[i]));
    assert_memory_equal(ca, ca2, sizeof(ca));
    assert_memory_not_equal(ca, cb, BW_SESSION_TOKEN_LEN);
    assert_memory_not_equal(ca, ck, BW_SESSION_TOKEN_LEN);
    assert_memory_not_equal(ca, a, BW_SESSION_TOKEN_LEN);
    /* Malformed tokens and missing arguments. */
    assert_int_equal(bw_session_csrf_token(k1, a, 42, ck), -1);
    assert_int_equal(ck[0], '\0');
    assert_int_equal(bw_session_csrf_token(k1, NULL, 43, ck), -1);
    assert_int_equal(bw_session_csrf_token(NULL, a, 43, ck), -1);
    assert_int_equal(bw_session_csrf_token(k1, a, 43, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_lookup_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_shapes_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_shape_needs_no_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_touch_throttled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_touch_short_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_not_in_db_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_key_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csrf_token, setup, teardown),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
