/* The second factor in the store: TOTP enrolment, replay protection, recovery codes. See
 * bulwark/mfa.h and docs/mfa.md.
 *
 * A sealed secret is the secretbox of the user's id (8 bytes, big-endian) followed by the TOTP
 * secret, so a row's secret only opens for that row's user. Replay protection lives in the
 * UPDATE that records a step: it only applies while the stored step is older, so the database,
 * not the order in which threads happen to run, decides which of two uses of one code wins. */
#include "bulwark/mfa.h"

#include "bulwark/store.h"

#include <string.h>

#include <sodium.h>

#define ID_BYTES 8
#define PLAIN_BYTES (ID_BYTES + BW_TOTP_SECRET_BYTES)
#define SEALED_BYTES BW_TOTP_SEALED_LEN(PLAIN_BYTES)

typedef struct enrolment {
    unsigned char sealed[SEALED_BYTES];
    int enabled;
    uint64_t last_step;
} enrolment;

/* Runs st (no rows expected) and finalizes it. The rows changed, or -1. */
static int run_changes(sqlite3 *db, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int n = sqlite3_changes(db);

    if (sqlite3_finalize(st) != SQLITE_OK || rc != SQLITE_DONE)
        return -1;
    return n;
}

/* Prepares sql with ?1 bound to user_id. 0, or -1 with nothing left to finalize. */
static int prepare_user(sqlite3 *db, const char *sql, long long user_id, sqlite3_stmt **st)
{
    *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_int64(*st, 1, user_id) != SQLITE_OK) {
        (void)sqlite3_finalize(*st);
        *st = NULL;
        return -1;
    }
    return 0;
}

/* Reads user_id's row. 1 found (*e filled), 0 none, -1 error or a damaged row. */
static int load(sqlite3 *db, long long user_id, enrolment *e)
{
    sqlite3_stmt *st = NULL;
    int rc, found = 0;

    memset(e, 0, sizeof(*e));
    if (prepare_user(db, "SELECT secret, enabled, last_step FROM user_mfa WHERE user_id = ?1",
                     user_id, &st) != 0)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *blob = sqlite3_column_blob(st, 0);

        /* A secret of another size, or a negative step, is damage: reported, never used. */
        if (sqlite3_column_type(st, 0) != SQLITE_BLOB || blob == NULL ||
            sqlite3_column_bytes(st, 0) != SEALED_BYTES || sqlite3_column_int64(st, 2) < 0) {
            found = -1;
        } else {
            memcpy(e->sealed, blob, SEALED_BYTES);
            e->enabled = sqlite3_column_int(st, 1) != 0;
            e->last_step = (uint64_t)sqlite3_column_int64(st, 2);
            found = 1;
        }
    }
    if (sqlite3_finalize(st) != SQLITE_OK || (rc != SQLITE_ROW && rc != SQLITE_DONE))
        found = -1;
    return found;
}

static void put_id(unsigned char out[ID_BYTES], long long user_id)
{
    uint64_t v = (uint64_t)user_id;
    int i;

    for (i = 0; i < ID_BYTES; i++)
        out[i] = (unsigned char)(v >> (56 - 8 * i));
}

/* Opens e's secret for user_id into secret. 0, or -1 (tampered, another key or another
 * user's row). */
static int open_secret(const unsigned char seal_key[BW_TOTP_KEY_BYTES], long long user_id,
                       const enrolment *e, unsigned char secret[BW_TOTP_SECRET_BYTES])
{
    unsigned char plain[PLAIN_BYTES], id[ID_BYTES];
    size_t n = 0;
    int rc = -1;

    put_id(id, user_id);
    if (bw_totp_open(seal_key, e->sealed, sizeof(e->sealed), plain, sizeof(plain), &n) == 0 &&
        n == PLAIN_BYTES && memcmp(plain, id, ID_BYTES) == 0) {
        memcpy(secret, plain + ID_BYTES, BW_TOTP_SECRET_BYTES);
        rc = 0;
    }
    sodium_memzero(plain, sizeof(plain));
    return rc;
}

bw_mfa_result bw_mfa_enroll_begin(sqlite3 *db, const unsigned char seal_key[BW_TOTP_KEY_BYTES],
                                  long long user_id, long long now,
                                  unsigned char secret[BW_TOTP_SECRET_BYTES])
{
    /* One statement: a pending row is replaced, an enabled one left alone (0 rows changed). */
    static const char sql[] =
        "INSERT INTO user_mfa (user_id, secret, enabled, last_step, created_at)"
        " VALUES (?1, ?2, 0, 0, ?3) ON CONFLICT (user_id) DO UPDATE SET"
        " secret = excluded.secret, last_step = 0, created_at = excluded.created_at"
        " WHERE enabled = 0";
    unsigned char plain[PLAIN_BYTES], sealed[SEALED_BYTES];
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    int changed = -1;

    if (secret == NULL)
        return BW_MFA_FAILED;
    sodium_memzero(secret, BW_TOTP_SECRET_BYTES);
    if (db == NULL || seal_key == NULL || bw_totp_secret_generate(secret) != 0)
        return BW_MFA_FAILED;
    put_id(plain, user_id);
    memcpy(plain + ID_BYTES, secret, BW_TOTP_SECRET_BYTES);
    if (bw_totp_seal(seal_key, plain, sizeof(plain), sealed, sizeof(sealed), &n) == 0 &&
        n == SEALED_BYTES && prepare_user(db, sql, user_id, &st) == 0) {
        if (sqlite3_bind_blob(st, 2, sealed, SEALED_BYTES, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, now) != SQLITE_OK)
            (void)sqlite3_finalize(st);
        else
            changed = run_changes(db, st);
    }
    sodium_memzero(plain, sizeof(plain));
    if (changed != 1)
        sodium_memzero(secret, BW_TOTP_SECRET_BYTES);
    if (changed == 0)
        return BW_MFA_ALREADY;
    return changed == 1 ? BW_MFA_OK : BW_MFA_FAILED;
}

/* Replaces user_id's recovery codes with fresh ones, written to codes. 0 or -1. Runs inside
 * the caller's transaction. */
static int replace_recovery(sqlite3 *db, const unsigned char hash_key[BW_TOTP_KEY_BYTES],
                            long long user_id,
                            char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1])
{
    unsigned char hash[BW_TOTP_RECOVERY_HASH_BYTES];
    sqlite3_stmt *st = NULL;
    size_t i;
    int rc = 0;

    if (prepare_user(db, "DELETE FROM mfa_recovery WHERE user_id = ?1", user_id, &st) != 0 ||
        bw_store_run(st) != 0 || bw_totp_recovery_generate(codes) != 0)
        return -1;
    for (i = 0; i < BW_TOTP_RECOVERY_COUNT && rc == 0; i++) {
        rc = -1;
        if (bw_totp_recovery_hash(hash_key, codes[i], BW_TOTP_RECOVERY_LEN, hash) != 1 ||
            prepare_user(db, "INSERT INTO mfa_recovery (user_id, hash) VALUES (?1, ?2)", user_id,
                         &st) != 0)
            break;
        if (sqlite3_bind_blob(st, 2, hash, sizeof(hash), SQLITE_STATIC) != SQLITE_OK) {
            (void)sqlite3_finalize(st);
            break;
        }
        rc = bw_store_run(st);
    }
    sodium_memzero(hash, sizeof(hash));
    return rc;
}

/* Enables user_id's pending row with step as its last used one. 0 or -1. */
static int enable(sqlite3 *db, long long user_id, uint64_t step)
{
    sqlite3_stmt *st = NULL;

    if (prepare_user(db,
                     "UPDATE user_mfa SET enabled = 1, last_step = ?2"
                     " WHERE user_id = ?1 AND enabled = 0",
                     user_id, &st) != 0)
        return -1;
    if (sqlite3_bind_int64(st, 2, (long long)step) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    return run_changes(db, st) == 1 ? 0 : -1;
}

bw_mfa_result bw_mfa_enroll_confirm(sqlite3 *db, const unsigned char seal_key[BW_TOTP_KEY_BYTES],
                                    const unsigned char hash_key[BW_TOTP_KEY_BYTES],
                                    long long user_id, const char *code, size_t code_len,
                                    long long now,
                                    char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1])
{
    unsigned char secret[BW_TOTP_SECRET_BYTES];
    bw_mfa_result res = BW_MFA_FAILED;
    uint64_t step = 0;
    enrolment e;
    int found, ok;

    if (codes == NULL)
        return BW_MFA_FAILED;
    sodium_memzero(codes, sizeof(char[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1]));
    if (db == NULL || seal_key == NULL || hash_key == NULL)
        return BW_MFA_FAILED;
    /* The write lock from the start: the row read is the row enabled. */
    if (bw_store_tx_begin(db) != 0)
        return BW_MFA_FAILED;
    found = load(db, user_id, &e);
    if (found == 0)
        res = BW_MFA_NOT_ENROLLED;
    else if (found == 1 && e.enabled)
        res = BW_MFA_ALREADY;
    else if (found == 1 && open_secret(seal_key, user_id, &e, secret) == 0) {
        ok = bw_totp_check(secret, sizeof(secret), code, code_len, now, e.last_step, &step);
        sodium_memzero(secret, sizeof(secret));
        if (ok == 0)
            res = BW_MFA_DENIED;
        else if (ok == 1 && enable(db, user_id, step) == 0 &&
                 replace_recovery(db, hash_key, user_id, codes) == 0 && bw_store_tx_commit(db) == 0)
            res = BW_MFA_OK;
    }
    sodium_memzero(&e, sizeof(e));
    if (res != BW_MFA_OK) {
        sodium_memzero(codes, sizeof(char[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1]));
        if (bw_store_tx_rollback(db) != 0)
            res = BW_MFA_FAILED;
    }
    return res;
}

int bw_mfa_status(sqlite3 *db, long long user_id)
{
    enrolment e;
    int found;

    if (db == NULL)
        return -1;
    found = load(db, user_id, &e);
    if (found == 1)
        found = e.enabled ? BW_MFA_ENABLED : BW_MFA_PENDING;
    else if (found == 0)
        found = BW_MFA_NONE;
    sodium_memzero(&e, sizeof(e));
    return found;
}

/* Records step as user_id's last used one, if it is newer than the stored one and the secret
 * is still sealed. 1 recorded, 0 not (another use won, or the factor changed), -1 error. */
static int record_step(sqlite3 *db, long long user_id, const unsigned char sealed[SEALED_BYTES],
                       uint64_t step)
{
    sqlite3_stmt *st = NULL;
    int n;

    if (prepare_user(db,
                     "UPDATE user_mfa SET last_step = ?2 WHERE user_id = ?1 AND enabled = 1"
                     " AND last_step < ?2 AND secret = ?3",
                     user_id, &st) != 0)
        return -1;
    if (sqlite3_bind_int64(st, 2, (long long)step) != SQLITE_OK ||
        sqlite3_bind_blob(st, 3, sealed, SEALED_BYTES, SQLITE_STATIC) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    n = run_changes(db, st);
    return n < 0 ? -1 : n > 0;
}

bw_mfa_result bw_mfa_verify(sqlite3 *db, const unsigned char seal_key[BW_TOTP_KEY_BYTES],
                            long long user_id, const char *code, size_t code_len, long long now)
{
    unsigned char secret[BW_TOTP_SECRET_BYTES];
    bw_mfa_result res = BW_MFA_FAILED;
    uint64_t step = 0;
    enrolment e;
    int found, ok;

    if (db == NULL || seal_key == NULL)
        return BW_MFA_FAILED;
    found = load(db, user_id, &e);
    if (found == 0 || (found == 1 && !e.enabled))
        res = BW_MFA_NOT_ENROLLED;
    else if (found == 1 && open_secret(seal_key, user_id, &e, secret) == 0) {
        ok = bw_totp_check(secret, sizeof(secret), code, code_len, now, e.last_step, &step);
        sodium_memzero(secret, sizeof(secret));
        if (ok == 0)
            res = BW_MFA_DENIED;
        else if (ok == 1) {
            ok = record_step(db, user_id, e.sealed, step);
            res = ok == 1 ? BW_MFA_OK : ok == 0 ? BW_MFA_DENIED : BW_MFA_FAILED;
        }
    }
    sodium_memzero(&e, sizeof(e));
    return res;
}

bw_mfa_result bw_mfa_use_recovery(sqlite3 *db, const unsigned char hash_key[BW_TOTP_KEY_BYTES],
                                  long long user_id, const char *code, size_t code_len,
                                  long long now)
{
    /* The EXISTS keeps a code from outliving a factor switched off meanwhile. */
    static const char sql[] =
        "UPDATE mfa_recovery SET used_at = ?3 WHERE user_id = ?1 AND hash = ?2"
        " AND used_at IS NULL"
        " AND EXISTS (SELECT 1 FROM user_mfa WHERE user_id = ?1 AND enabled = 1)";
    unsigned char hash[BW_TOTP_RECOVERY_HASH_BYTES];
    sqlite3_stmt *st = NULL;
    int state, h, n = -1;

    if (db == NULL || hash_key == NULL)
        return BW_MFA_FAILED;
    state = bw_mfa_status(db, user_id);
    if (state < 0)
        return BW_MFA_FAILED;
    if (state != BW_MFA_ENABLED)
        return BW_MFA_NOT_ENROLLED;
    h = bw_totp_recovery_hash(hash_key, code == NULL ? "" : code, code == NULL ? 0 : code_len,
                              hash);
    if (h <= 0)
        return h == 0 ? BW_MFA_DENIED : BW_MFA_FAILED;
    if (prepare_user(db, sql, user_id, &st) == 0) {
        if (sqlite3_bind_blob(st, 2, hash, sizeof(hash), SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, now) != SQLITE_OK)
            (void)sqlite3_finalize(st);
        else
            n = run_changes(db, st);
    }
    sodium_memzero(hash, sizeof(hash));
    if (n < 0)
        return BW_MFA_FAILED;
    return n == 1 ? BW_MFA_OK : BW_MFA_DENIED;
}

int bw_mfa_recovery_left(sqlite3 *db, long long user_id)
{
    sqlite3_stmt *st = NULL;
    int rc, n = -1;

    if (db == NULL ||
        prepare_user(db, "SELECT count(*) FROM mfa_recovery WHERE user_id = ?1 AND used_at IS NULL",
                     user_id, &st) != 0)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    if (sqlite3_finalize(st) != SQLITE_OK || rc != SQLITE_ROW)
        return -1;
    return n;
}

int bw_mfa_disable(sqlite3 *db, long long user_id)
{
    sqlite3_stmt *st = NULL;
    int n;

    if (db == NULL || bw_store_tx_begin(db) != 0)
        return -1;
    /* The codes go explicitly too, not only by the cascade, so a connection opened without
     * foreign keys cannot leave them behind. */
    if (prepare_user(db, "DELETE FROM mfa_recovery WHERE user_id = ?1", user_id, &st) != 0 ||
        bw_store_run(st) != 0 ||
        prepare_user(db, "DELETE FROM user_mfa WHERE user_id = ?1", user_id, &st) != 0 ||
        (n = run_changes(db, st)) < 0 || bw_store_tx_commit(db) != 0) {
        (void)bw_store_tx_rollback(db);
        return -1;
    }
    return n > 0;
}
