/* Unit tests for the second factor in the store: enrolment, confirmation, verification with
 * replay protection (also from two threads at once), recovery codes, disabling, and what the
 * database holds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bulwark/mfa.h"
#include "bulwark/store.h"
#include "temp_store.h"

#define T0 1700000000LL
#define CODES_BYTES sizeof(char[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1])

typedef struct fixture {
    bw_temp_store ts;
    unsigned char seal_key[BW_TOTP_KEY_BYTES], hash_key[BW_TOTP_KEY_BYTES];
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

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    *state = f;
    if (f == NULL || bw_temp_store_open(&f->ts, true) != 0) {
        free(f);
        *state = NULL;
        return -1;
    }
    randombytes_buf(f->seal_key, sizeof(f->seal_key));
    randombytes_buf(f->hash_key, sizeof(f->hash_key));
    f->alice = bw_temp_store_add_user(f->ts.db, "alice");
    f->bob = bw_temp_store_add_user(f->ts.db, "bob");
    return 0;
}

static void code_at(const unsigned char secret[BW_TOTP_SECRET_BYTES], long long now, char c[7])
{
    assert_int_equal(bw_totp_code(secret, BW_TOTP_SECRET_BYTES, (uint64_t)now / 30, c), 0);
}

static bw_mfa_result verify(fixture *f, long long user, const char *code, long long now)
{
    return bw_mfa_verify(f->ts.db, f->seal_key, user, code, strlen(code), now);
}

static bw_mfa_result recover(fixture *f, long long user, const char *code, long long now)
{
    return bw_mfa_use_recovery(f->ts.db, f->hash_key, user, code, strlen(code), now);
}

/* The first column of sql's first row, with ?1 bound to user. */
static long long user_sql_int(sqlite3 *db, const char *sql, long long user)
{
    sqlite3_stmt *st = NULL;
    long long v;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_bind_int64(st, 1, user), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    return v;
}

/* Enrols user at now and confirms with the code of now; secret and codes receive the secret
 * and the recovery codes. */
static void enrol(fixture *f, long long user, long long now,
                  unsigned char secret[BW_TOTP_SECRET_BYTES],
                  char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1])
{
    char c[7];

    assert_int_equal(bw_mfa_enroll_begin(f->ts.db, f->seal_key, user, now, secret), BW_MFA_OK);
    code_at(secret, now, c);
    assert_int_equal(
        bw_mfa_enroll_confirm(f->ts.db, f->seal_key, f->hash_key, user, c, 6, now, codes),
        BW_MFA_OK);
}

static void test_enrolment_flow(void **state)
{
    fixture *f = *state;
    unsigned char secret[BW_TOTP_SECRET_BYTES], first[BW_TOTP_SECRET_BYTES];
    char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    char c[7], wrong[7];
    int i, j;

    assert_int_equal(bw_mfa_status(f->ts.db, f->alice), BW_MFA_NONE);
    assert_int_equal(bw_mfa_status(f->ts.db, 999), BW_MFA_NONE);
    assert_int_equal(
        bw_mfa_enroll_confirm(f->ts.db, f->seal_key, f->hash_key, f->alice, "123456", 6, T0, codes),
        BW_MFA_NOT_ENROLLED);

    assert_int_equal(bw_mfa_enroll_begin(f->ts.db, f->seal_key, f->alice, T0, first), BW_MFA_OK);
    assert_int_equal(bw_mfa_status(f->ts.db, f->alice), BW_MFA_PENDING);
    /* A pending factor is not a factor: no verification, no recovery. */
    code_at(first, T0, c);
    assert_int_equal(verify(f, f->alice, c, T0), BW_MFA_NOT_ENROLLED);
    assert_int_equal(recover(f, f->alice, "2345-6789-ABCD-EFGH", T0), BW_MFA_NOT_ENROLLED);

    /* Beginning again replaces the pending secret: the first one's codes no longer confirm. */
    assert_int_equal(bw_mfa_enroll_begin(f->ts.db, f->seal_key, f->alice, T0 + 5, secret),
                     BW_MFA_OK);
    assert_memory_not_equal(first, secret, sizeof(secret));
    assert_int_equal(
        user_sql_int(f->ts.db, "SELECT count(*) FROM user_mfa WHERE user_id = ?1", f->alice), 1);
    code_at(secret, T0 + 10, c);
    code_at(first, T0 + 10, wrong);
    if (strcmp(c, wrong) != 0)
        assert_int_equal(bw_mfa_enroll_confirm(f->ts.db, f->seal_key, f->hash_key, f->alice, wrong,
                                               6, T0 + 10, codes),
                         BW_MFA_DENIED);
    /* Malformed codes are a refusal, and the codes buffer stays empty. */
    memset(codes, 'x', CODES_BYTES);
    assert_int_equal(
        bw_mfa_enroll_confirm(f->ts.db, f->seal_key, f->hash_key, f->alice, c, 5, T0 + 10, codes),
        BW_MFA_DENIED);
    assert_int_equal(codes[0][0], '\0');
    assert_int_equal(bw_mfa_status(f->ts.db, f->alice), BW_MFA_PENDING);
    assert_int_equal(bw_mfa_recovery_left(f->ts.db, f->alice), 0);

    assert_int_equal(
        bw_mfa_enroll_confirm(f->ts.db, f->seal_key, f->hash_key, f->alice, c, 6, T0 + 10, codes),
        BW_MFA_OK);
    assert_int_equal(bw_mfa_status(f->ts.db, f->alice), BW_MFA_ENABLED);
    assert_int_equal(
        user_sql_int(f->ts.db, "SELECT last_step FROM user_mfa WHERE user_id = ?1", f->alice),
        (T0 + 10) / 30);
    assert_int_equal(bw_mfa_recovery_left(f->ts.db, f->alice), BW_TOTP_RECOVERY_COUNT);
    for (i = 0; i < BW_TOTP_RECOVERY_COUNT; i++) {
        assert_int_equal(strlen(codes[i]), BW_TOTP_RECOVERY_LEN);
        for (j = 0; j < i; j++)
            assert_string_not_equal(codes[i], codes[j]);
    }

    /* Enabled: neither confirming again nor beginning again replaces it. */
    code_at(secret, T0 + 40, c);
    assert_int_equal(
        bw_mfa_enroll_confirm(f->ts.db, f->seal_key, f->hash_key, f->alice, c, 6, T0 + 40, codes),
        BW_MFA_ALREADY);
    assert_int_equal(codes[0][0], '\0');
    memset(first, 0xee, sizeof(first));
    assert_int_equal(bw_mfa_enroll_begin(f->ts.db, f->seal_key, f->alice, T0 + 40, first),
                     BW_MFA_ALREADY);
    for (i = 0; i < BW_TOTP_SECRET_BYTES; i++)
        assert_int_equal(first[i], 0);
    assert_int_equal(verify(f, f->alice, c, T0 + 40), BW_MFA_OK);
    assert_int_equal(bw_mfa_recovery_left(f->ts.db, f->alice), BW_TOTP_RECOVERY_COUNT);
}

static void test_verify_and_replay(void **state)
{
    fixture *f = *state;
    unsigned char secret[BW_TOTP_SECRET_BYTES];
    char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    char c0[7], c1[7], c2[7], c3[7];
    const long long t = T0 - T0 % 30; /* second 0 of a step S */

    enrol(f, f->alice, t, secret, codes);
    code_at(secret, t, c0);
    code_at(secret, t + 30, c1);
    code_at(secret, t + 60, c2);
    code_at(secret, t + 90, c3);
    if (!strcmp(c0, c1) || !strcmp(c0, c2) || !strcmp(c1, c2) || !strcmp(c2, c3) || !strcmp(c1, c3))
        skip(); /* a one-in-10^5 collision of this random secret */

    /* The confirming code was used: not again, whatever the second. */
    assert_int_equal(verify(f, f->alice, c0, t), BW_MFA_DENIED);
    assert_int_equal(verify(f, f->alice, c0, t + 29), BW_MFA_DENIED);
    /* The next step's code, typed one second early (window +1), works once. */
    assert_int_equal(verify(f, f->alice, c1, t + 29), BW_MFA_OK);
    assert_int_equal(verify(f, f->alice, c1, t + 30), BW_MFA_DENIED);
    assert_int_equal(verify(f, f->alice, c1, t + 59), BW_MFA_DENIED);
    /* S+3 from S+1 is out of the window; S+2 is in, and after it S+1 stays refused. */
    assert_int_equal(verify(f, f->alice, c3, t + 30), BW_MFA_DENIED);
    assert_int_equal(verify(f, f->alice, c2, t + 30), BW_MFA_OK);
    assert_int_equal(
        user_sql_int(f->ts.db, "SELECT last_step FROM user_mfa WHERE user_id = ?1", f->alice),
        t / 30 + 2);
    /* An older code after a newer one is refused even inside the window. */
    assert_int_equal(verify(f, f->alice, c1, t + 60), BW_MFA_DENIED);
    assert_int_equal(verify(f, f->alice, c3, t + 90), BW_MFA_OK);

    /* Malformed and wrong codes; bob is not enrolled; another key cannot open the secret. */
    assert_int_equal(verify(f, f->alice, "12345", t + 120), BW_MFA_DENIED);
    assert_int_equal(verify(f, f->alice, "1234567", t + 120), BW_MFA_DENIED);
    assert_int_equal(verify(f, f->alice, "12 456", t + 120), BW_MFA_DENIED);
    assert_int_equal(bw_mfa_verify(f->ts.db, f->seal_key, f->alice, NULL, 6, t + 120),
                     BW_MFA_DENIED);
    assert_int_equal(verify(f, f->bob, c3, t + 90), BW_MFA_NOT_ENROLLED);
    unsigned char other[BW_TOTP_KEY_BYTES];
    randombytes_buf(other, sizeof(other));
    code_at(secret, t + 150, c0);
    assert_int_equal(bw_mfa_verify(f->ts.db, other, f->alice, c0, 6, t + 150), BW_MFA_FAILED);
    assert_int_equal(verify(f, f->alice, c0, t + 150), BW_MFA_OK);
    /* A clock before 1970 is the caller's error. */
    assert_int_equal(verify(f, f->alice, c0, -1), BW_MFA_FAILED);
}

static void test_recovery_codes(void **state)
{
    fixture *f = *state;
    unsigned char sa[BW_TOTP_SECRET_BYTES], sb[BW_TOTP_SECRET_BYTES];
    char ca[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    char cb[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    char v[32];
    size_t i, n;

    enrol(f, f->alice, T0, sa, ca);
    enrol(f, f->bob, T0, sb, cb);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT count(*) FROM mfa_recovery"),
                     2 * BW_TOTP_RECOVERY_COUNT);

    assert_int_equal(recover(f, f->alice, ca[0], T0 + 100), BW_MFA_OK);
    assert_int_equal(recover(f, f->alice, ca[0], T0 + 101), BW_MFA_DENIED);
    assert_int_equal(bw_mfa_recovery_left(f->ts.db, f->alice), BW_TOTP_RECOVERY_COUNT - 1);
    assert_int_equal(
        user_sql_int(
            f->ts.db,
            "SELECT count(*) FROM mfa_recovery WHERE user_id = ?1 AND used_at = 1700000100",
            f->alice),
        1);
    /* Typed in lower case without dashes, it is the same code, and single use too. */
    for (i = 0, n = 0; ca[1][i] != '\0'; i++)
        if (ca[1][i] != '-')
            v[n++] = (char)(ca[1][i] >= 'A' && ca[1][i] <= 'Z' ? ca[1][i] + 32 : ca[1][i]);
    v[n] = '\0';
    assert_int_equal(recover(f, f->alice, v, T0 + 102), BW_MFA_OK);
    assert_int_equal(recover(f, f->alice, ca[1], T0 + 103), BW_MFA_DENIED);
    /* Another user's codes are nobody else's. */
    assert_int_equal(recover(f, f->alice, cb[0], T0 + 104), BW_MFA_DENIED);
    assert_int_equal(recover(f, f->bob, ca[2], T0 + 104), BW_MFA_DENIED);
    assert_int_equal(bw_mfa_recovery_left(f->ts.db, f->bob), BW_TOTP_RECOVERY_COUNT);
    /* Malformed input and a well-formed stranger. */
    assert_int_equal(recover(f, f->alice, "", T0), BW_MFA_DENIED);
    assert_int_equal(recover(f, f->alice, "123456", T0), BW_MFA_DENIED);
    assert_int_equal(recover(f, f->alice, "2345-6789-ABCD-EFGH", T0), BW_MFA_DENIED);
    assert_int_equal(bw_mfa_use_recovery(f->ts.db, f->hash_key, f->alice, NULL, 5, T0),
                     BW_MFA_DENIED);
    /* A key other than the one that stored them matches nothing. */
    unsigned char other[BW_TOTP_KEY_BYTES];
    randombytes_buf(other, sizeof(other));
    assert_int_equal(
        bw_mfa_use_recovery(f->ts.db, other, f->alice, ca[3], BW_TOTP_RECOVERY_LEN, T0),
        BW_MFA_DENIED);
    /* All of them, then none left. */
    for (i = 2; i < BW_TOTP_RECOVERY_COUNT; i++)
        assert_int_equal(recover(f, f->alice, ca[i], T0 + 200), BW_MFA_OK);
    assert_int_equal(bw_mfa_recovery_left(f->ts.db, f->alice), 0);
    for (i = 0; i < BW_TOTP_RECOVERY_COUNT; i++)
        assert_int_equal(recover(f, f->alice, ca[i], T0 + 300), BW_MFA_DENIED);
    assert_int_equal(recover(f, f->bob, cb[9], T0 + 300), BW_MFA_OK);
}

static void test_disable(void **state)
{
    fixture *f = *state;
    unsigned char secret[BW_TOTP_SECRET_BYTES];
    char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    char c[7];

    assert_int_equal(bw_mfa_disable(f->ts.db, f->alice), 0);
    enrol(f, f->alice, T0, secret, codes);
    assert_int_equal(bw_mfa_disable(f->ts.db, f->alice), 1);
    assert_int_equal(bw_mfa_status(f->ts.db, f->alice), BW_MFA_NONE);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT count(*) FROM mfa_recovery"), 0);
    code_at(secret, T0 + 30, c);
    assert_int_equal(verify(f, f->alice, c, T0 + 30), BW_MFA_NOT_ENROLLED);
    assert_int_equal(recover(f, f->alice, codes[0], T0 + 30), BW_MFA_NOT_ENROLLED);
    assert_int_equal(bw_mfa_disable(f->ts.db, f->alice), 0);

    /* A pending enrolment is removed the same way; then enrolment starts afresh. */
    assert_int_equal(bw_mfa_enroll_begin(f->ts.db, f->seal_key, f->alice, T0, secret), BW_MFA_OK);
    assert_int_equal(bw_mfa_disable(f->ts.db, f->alice), 1);
    enrol(f, f->alice, T0 + 60, secret, codes);
    assert_int_equal(recover(f, f->alice, codes[0], T0 + 60), BW_MFA_OK);

    /* Deleting the user deletes the enrolment and its codes. */
    enrol(f, f->bob, T0, secret, codes);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->ts.db, "DELETE FROM users WHERE id = ?1", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_int64(st, 1, f->alice), SQLITE_OK);
    assert_int_equal(bw_store_run(st), 0);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT count(*) FROM user_mfa"), 1);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT count(*) FROM mfa_recovery"),
                     BW_TOTP_RECOVERY_COUNT);
    assert_int_equal(bw_mfa_status(f->ts.db, f->bob), BW_MFA_ENABLED);
}

/* What a stolen database holds: neither the secret (raw or base32) nor a recovery code, in the
 * database file or its WAL. */
static void test_database_holds_no_secrets(void **state)
{
    fixture *f = *state;
    unsigned char secret[BW_TOTP_SECRET_BYTES];
    char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    char b32[BW_TOTP_BASE32_LEN(BW_TOTP_SECRET_BYTES) + 1];
    size_t total = 0, i;
    char *all;

    enrol(f, f->alice, T0, secret, codes);
    assert_int_equal(bw_totp_base32_encode(secret, sizeof(secret), b32, sizeof(b32)), 0);
    all = bw_temp_store_files(&f->ts, &total);
    assert_true(total > 0);
    assert_null(memmem(all, total, secret, sizeof(secret)));
    assert_null(memmem(all, total, b32, strlen(b32)));
    for (i = 0; i < BW_TOTP_RECOVERY_COUNT; i++) {
        assert_null(memmem(all, total, codes[i], BW_TOTP_RECOVERY_LEN));
    }
    free(all);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT length(secret) FROM user_mfa"),
                     BW_TOTP_SEALED_LEN(8 + BW_TOTP_SECRET_BYTES));
}

/* Replaces user's sealed secret with one byte, and sets enabled. */
static void damage(sqlite3 *db, long long user, int enabled)
{
    sqlite3_stmt *st = NULL;

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "UPDATE user_mfa SET secret = x'00', enabled = ?2"
                                        " WHERE user_id = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_int64(st, 1, user), SQLITE_OK);
    assert_int_equal(sqlite3_bind_int(st, 2, enabled), SQLITE_OK);
    assert_int_equal(bw_store_run(st), 0);
    assert_int_equal(sqlite3_changes(db), 1);
}

/* A sealed secret copied into another user's row does not open there; a damaged row is an
 * error, never a pass. */
static void test_tampered_rows(void **state)
{
    fixture *f = *state;
    unsigned char sa[BW_TOTP_SECRET_BYTES], sb[BW_TOTP_SECRET_BYTES];
    char ca[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    char cb[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    char c[7];

    enrol(f, f->alice, T0, sa, ca);
    enrol(f, f->bob, T0, sb, cb);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->ts.db,
                                        "UPDATE user_mfa SET secret = (SELECT secret FROM user_mfa"
                                        " WHERE user_id = ?2) WHERE user_id = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_int64(st, 1, f->alice), SQLITE_OK);
    assert_int_equal(sqlite3_bind_int64(st, 2, f->bob), SQLITE_OK);
    assert_int_equal(bw_store_run(st), 0);
    code_at(sb, T0 + 30, c);
    assert_int_equal(verify(f, f->alice, c, T0 + 30), BW_MFA_FAILED);
    assert_int_equal(verify(f, f->bob, c, T0 + 30), BW_MFA_OK);

    damage(f->ts.db, f->bob, 1);
    damage(f->ts.db, f->alice, 0);
    code_at(sb, T0 + 60, c);
    assert_int_equal(verify(f, f->bob, c, T0 + 60), BW_MFA_FAILED);
    assert_int_equal(bw_mfa_status(f->ts.db, f->bob), -1);
    assert_int_equal(
        bw_mfa_enroll_confirm(f->ts.db, f->seal_key, f->hash_key, f->alice, c, 6, T0 + 60, ca),
        BW_MFA_FAILED);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    unsigned char secret[BW_TOTP_SECRET_BYTES];
    char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    sqlite3 *db = f->ts.db;

    /* A user that does not exist cannot enrol (foreign key). */
    assert_int_equal(bw_mfa_enroll_begin(db, f->seal_key, 4242, T0, secret), BW_MFA_FAILED);
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM user_mfa"), 0);
    assert_int_equal(bw_mfa_enroll_begin(NULL, f->seal_key, f->alice, T0, secret), BW_MFA_FAILED);
    assert_int_equal(bw_mfa_enroll_begin(db, NULL, f->alice, T0, secret), BW_MFA_FAILED);
    assert_int_equal(bw_mfa_enroll_begin(db, f->seal_key, f->alice, T0, NULL), BW_MFA_FAILED);
    assert_int_equal(
        bw_mfa_enroll_confirm(NULL, f->seal_key, f->hash_key, f->alice, "123456", 6, T0, codes),
        BW_MFA_FAILED);
    assert_int_equal(bw_mfa_enroll_confirm(db, NULL, f->hash_key, f->alice, "123456", 6, T0, codes),
                     BW_MFA_FAILED);
    assert_int_equal(bw_mfa_enroll_confirm(db, f->seal_key, NULL, f->alice, "123456", 6, T0, codes),
                     BW_MFA_FAILED);
    assert_int_equal(
        bw_mfa_enroll_confirm(db, f->seal_key, f->hash_key, f->alice, "123456", 6, T0, NULL),
        BW_MFA_FAILED);
    assert_int_equal(bw_mfa_verify(NULL, f->seal_key, f->alice, "123456", 6, T0), BW_MFA_FAILED);
    assert_int_equal(bw_mfa_verify(db, NULL, f->alice, "123456", 6, T0), BW_MFA_FAILED);
    assert_int_equal(bw_mfa_use_recovery(NULL, f->hash_key, f->alice, "x", 1, T0), BW_MFA_FAILED);
    assert_int_equal(bw_mfa_use_recovery(db, NULL, f->alice, "x", 1, T0), BW_MFA_FAILED);
    assert_int_equal(bw_mfa_status(NULL, f->alice), -1);
    assert_int_equal(bw_mfa_recovery_left(NULL, f->alice), -1);
    assert_int_equal(bw_mfa_disable(NULL, f->alice), -1);
    /* The store works on afterwards: nothing was left half-done (no open transaction). */
    assert_int_equal(sqlite3_get_autocommit(db), 1);
    enrol(f, f->alice, T0, secret, codes);
}

/* Without the tables every call reports an error; with mfa_recovery gone, confirmation and
 * disabling fail as a whole (the transaction leaves the enrolment as it was). */
static void test_database_errors(void **state)
{
    fixture *f = *state;
    unsigned char secret[BW_TOTP_SECRET_BYTES];
    char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    bw_temp_store bare;
    char c[7];

    assert_int_equal(bw_temp_store_open(&bare, false), 0);
    assert_int_equal(bw_mfa_enroll_begin(bare.db, f->seal_key, 1, T0, secret), BW_MFA_FAILED);
    assert_int_equal(
        bw_mfa_enroll_confirm(bare.db, f->seal_key, f->hash_key, 1, "123456", 6, T0, codes),
        BW_MFA_FAILED);
    assert_int_equal(bw_mfa_verify(bare.db, f->seal_key, 1, "123456", 6, T0), BW_MFA_FAILED);
    assert_int_equal(bw_mfa_use_recovery(bare.db, f->hash_key, 1, "2345-6789-ABCD-EFGH", 19, T0),
                     BW_MFA_FAILED);
    assert_int_equal(bw_mfa_status(bare.db, 1), -1);
    assert_int_equal(bw_mfa_recovery_left(bare.db, 1), -1);
    assert_int_equal(bw_mfa_disable(bare.db, 1), -1);
    assert_int_equal(sqlite3_get_autocommit(bare.db), 1);
    bw_temp_store_close(&bare);

    assert_int_equal(bw_mfa_enroll_begin(f->ts.db, f->seal_key, f->alice, T0, secret), BW_MFA_OK);
    assert_int_equal(sqlite3_exec(f->ts.db, "DROP TABLE mfa_recovery", NULL, NULL, NULL),
                     SQLITE_OK);
    code_at(secret, T0, c);
    memset(codes, 'x', CODES_BYTES);
    assert_int_equal(
        bw_mfa_enroll_confirm(f->ts.db, f->seal_key, f->hash_key, f->alice, c, 6, T0, codes),
        BW_MFA_FAILED);
    assert_int_equal(codes[0][0], '\0');
    assert_int_equal(bw_mfa_status(f->ts.db, f->alice), BW_MFA_PENDING);
    assert_int_equal(
        user_sql_int(f->ts.db, "SELECT last_step FROM user_mfa WHERE user_id = ?1", f->alice), 0);
    assert_int_equal(bw_mfa_disable(f->ts.db, f->alice), -1);
    assert_int_equal(bw_mfa_status(f->ts.db, f->alice), BW_MFA_PENDING);
    assert_int_equal(bw_mfa_recovery_left(f->ts.db, f->alice), -1);
    assert_int_equal(sqlite3_get_autocommit(f->ts.db), 1);
}

/* --- two threads, one code ----------------------------------------------------------------- */

#define RACE_ROUNDS 25

typedef struct racer {
    fixture *f;
    pthread_barrier_t *barrier;
    const char *codes; /* RACE_ROUNDS codes of 7 bytes (TOTP) or of BW_TOTP_RECOVERY_LEN + 1 */
    size_t stride, rounds;
    bool recovery;
    bw_mfa_result results[RACE_ROUNDS];
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    sqlite3 *db = bw_store_conn(r->f->ts.store); /* this thread's own connection */
    size_t i;

    for (i = 0; i < r->rounds; i++) {
        const char *code = r->codes + i * r->stride;
        long long now = T0 + 30 * (long long)(i + 1);
        int w = pthread_barrier_wait(r->barrier);

        if (w != 0 && w != PTHREAD_BARRIER_SERIAL_THREAD) {
            r->results[i] = BW_MFA_FAILED;
            continue;
        }
        if (db == NULL)
            r->results[i] = BW_MFA_FAILED;
        else if (r->recovery)
            r->results[i] =
                bw_mfa_use_recovery(db, r->f->hash_key, r->f->alice, code, strlen(code), now);
        else
            r->results[i] = bw_mfa_verify(db, r->f->seal_key, r->f->alice, code, strlen(code), now);
    }
    return NULL;
}

static void run_race(fixture *f, const char *codes, size_t stride, size_t rounds, bool recovery)
{
    pthread_barrier_t barrier;
    racer r[2];
    pthread_t th[2];
    size_t i;
    int k;

    assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
    for (k = 0; k < 2; k++) {
        memset(&r[k], 0, sizeof(r[k]));
        r[k].f = f;
        r[k].barrier = &barrier;
        r[k].codes = codes;
        r[k].stride = stride;
        r[k].rounds = rounds;
        r[k].recovery = recovery;
        assert_int_equal(pthread_create(&th[k], NULL, race, &r[k]), 0);
    }
    for (k = 0; k < 2; k++)
        assert_int_equal(pthread_join(th[k], NULL), 0);
    assert_int_equal(pthread_barrier_destroy(&barrier), 0);
    for (i = 0; i < rounds; i++) {
        int ok = (r[0].results[i] == BW_MFA_OK) + (r[1].results[i] == BW_MFA_OK);
        int denied = (r[0].results[i] == BW_MFA_DENIED) + (r[1].results[i] == BW_MFA_DENIED);

        if (ok != 1 || denied != 1)
            fail_msg("round %zu: results %d and %d, want one OK and one DENIED", i,
                     (int)r[0].results[i], (int)r[1].results[i]);
    }
}

static void test_concurrent_use_of_one_code(void **state)
{
    fixture *f = *state;
    unsigned char secret[BW_TOTP_SECRET_BYTES];
    char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    char totp[RACE_ROUNDS][7];
    size_t i;

    enrol(f, f->alice, T0, secret, codes);
    for (i = 0; i < RACE_ROUNDS; i++)
        code_at(secret, T0 + 30 * (long long)(i + 1), totp[i]);
    run_race(f, &totp[0][0], sizeof(totp[0]), RACE_ROUNDS, false);
    assert_int_equal(
        user_sql_int(f->ts.db, "SELECT last_step FROM user_mfa WHERE user_id = ?1", f->alice),
        (T0 + 30 * RACE_ROUNDS) / 30);
    run_race(f, &codes[0][0], sizeof(codes[0]), BW_TOTP_RECOVERY_COUNT, true);
    assert_int_equal(bw_mfa_recovery_left(f->ts.db, f->alice), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enrolment_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_and_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_holds_no_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_use_of_one_code, setup, teardown),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
