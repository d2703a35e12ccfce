/* Sessions in the store (table sessions, migrations/0002_auth.sql).
 *
 * A token is 32 random bytes in base64url without padding: 43 characters whose last one
 * carries 4 data bits and 2 zero bits. Only the canonical encoding is accepted (decode, then
 * re-encode and compare), so one session has exactly one token string. The row holds a keyed
 * BLAKE2b-256 of those 43 characters: a stolen database yields no usable token, and without
 * the key the hashes cannot be tested offline. The row is found by its hash with an SQL
 * equality (the hash is not the secret), then the hash is compared again in constant time. */
#include "bulwark/session.h"

#include "bulwark/ct.h"
#include "bulwark/satmath.h"

#include <limits.h>
#include <sodium.h>
#include <string.h>

#define TOKEN_RAW_BYTES 32
#define HASH_BYTES 32
#define B64_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* True when token[0..len) is a canonical 43-character encoding of 32 bytes. */
static bool token_well_formed(const char *token, size_t len)
{
    unsigned char raw[TOKEN_RAW_BYTES];
    char again[BW_SESSION_TOKEN_LEN + 1];
    const char *end = NULL;
    size_t raw_len = 0;
    bool good;

    if (token == NULL || len != BW_SESSION_TOKEN_LEN)
        return false;
    /* No ignore set: any character outside [A-Za-z0-9_-], '=' included, stops the decoder
     * before the end. */
    if (sodium_base642bin(raw, sizeof(raw), token, len, NULL, &raw_len, &end, B64_VARIANT) != 0 ||
        raw_len != sizeof(raw) || end != token + len) {
        sodium_memzero(raw, sizeof(raw));
        return false;
    }
    /* libsodium already refuses non-zero padding bits; re-encoding makes "canonical" a
     * property of this code, not of the library version. */
    (void)sodium_bin2base64(again, sizeof(again), raw, sizeof(raw), B64_VARIANT);
    good = bw_ct_eq(again, token, BW_SESSION_TOKEN_LEN);
    sodium_memzero(raw, sizeof(raw));
    sodium_memzero(again, sizeof(again));
    return good;
}

static int token_hash(const unsigned char key[BW_SESSION_KEY_BYTES], const char *token,
                      unsigned char out[HASH_BYTES])
{
    return crypto_generichash(out, HASH_BYTES, (const unsigned char *)token, BW_SESSION_TOKEN_LEN,
                              key, BW_SESSION_KEY_BYTES);
}

/* Idle when now - last_seen_at >= idle_ttl_s, computed exactly: a difference above
 * LLONG_MAX exceeds any ttl, one below LLONG_MIN none. */
static bool is_idle(long long now, long long last_seen_at, long long idle_ttl_s)
{
    long long d;

    if (__builtin_sub_overflow(now, last_seen_at, &d))
        return last_seen_at < 0;
    return d >= idle_ttl_s;
}

/* Runs a prepared statement that returns no row, finalizes it, and returns the number of rows
 * changed, or -1. The statement is finalized on every path. */
static int step_changes(sqlite3 *db, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int n = sqlite3_changes(db);

    if (sqlite3_finalize(st) != SQLITE_OK || rc != SQLITE_DONE)
        return -1;
    return n;
}

int bw_session_create(sqlite3 *db, const unsigned char key[BW_SESSION_KEY_BYTES], long long user_id,
                      bool mfa, long long now, long long absolute_ttl_s,
                      char token[BW_SESSION_TOKEN_LEN + 1], bw_session_info *info)
{
    static const char sql[] = "INSERT INTO sessions (token_hash, user_id, created_at, "
                              "last_seen_at, expires_at, mfa) VALUES (?1, ?2, ?3, ?3, ?4, ?5)";
    unsigned char raw[TOKEN_RAW_BYTES];
    unsigned char hash[HASH_BYTES];
    sqlite3_stmt *st = NULL;
    long long expires_at;
    int rc = -1;

    if (token == NULL)
        return -1;
    token[0] = '\0';
    if (db == NULL || key == NULL || absolute_ttl_s <= 0 ||
        __builtin_add_overflow(now, absolute_ttl_s, &expires_at) || sodium_init() < 0)
        return -1;
    randombytes_buf(raw, sizeof(raw));
    (void)sodium_bin2base64(token, BW_SESSION_TOKEN_LEN + 1, raw, sizeof(raw), B64_VARIANT);
    sodium_memzero(raw, sizeof(raw));
    if (token_hash(key, token, hash) != 0)
        goto out;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, user_id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, now) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, expires_at) != SQLITE_OK ||
        sqlite3_bind_int(st, 5, mfa ? 1 : 0) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        goto out;
    }
    if (step_changes(db, st) != 1)
        goto out;
    if (info != NULL) {
        info->id = sqlite3_last_insert_rowid(db);
        info->user_id = user_id;
        info->created_at = now;
        info->last_seen_at = now;
        info->expires_at = expires_at;
        info->mfa = mfa;
    }
    rc = 0;
out:
    sodium_memzero(hash, sizeof(hash));
    if (rc != 0)
        sodium_memzero(token, BW_SESSION_TOKEN_LEN + 1);
    return rc;
}

/* Deletes the row with id. Returns the number deleted (0 or 1), or -1. */
static int delete_by_id(sqlite3 *db, long long id)
{
    sqlite3_stmt *st = NULL;

    if (db == NULL ||
        sqlite3_prepare_v2(db, "DELETE FROM sessions WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    return step_changes(db, st);
}

/* Moves last_seen_at forward to now (never back: a concurrent request with an older clock
 * reading must not rewind it). 1 done, 0 the row is gone (revoked meanwhile), -1 error. */
static int touch(sqlite3 *db, long long id, long long now)
{
    static const char sql[] =
        "UPDATE sessions SET last_seen_at = max(last_seen_at, ?1) WHERE id = ?2";
    sqlite3_stmt *st = NULL;
    int n;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_int64(st, 1, now) != SQLITE_OK || sqlite3_bind_int64(st, 2, id) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    n = step_changes(db, st);
    return n < 0 ? -1 : n > 0;
}

/* BW_SESSION_TOUCH_S, or half the idle time when that is shorter, so a
 * session in use never idles out between two writes. At least 1 s. */
static long long touch_interval(long long idle_ttl_s)
{
    long long half = idle_ttl_s / 2;

    if (half > BW_SESSION_TOUCH_S)
        return BW_SESSION_TOUCH_S;
    return half >= 1 ? half : 1;
}

int bw_session_lookup(sqlite3 *db, const unsigned char key[BW_SESSION_KEY_BYTES], const char *token,
                      size_t len, long long now, long long idle_ttl_s, bw_session_info *info)
{
    static const char sql[] = "SELECT id, token_hash, user_id, created_at, last_seen_at, "
                              "expires_at, mfa FROM sessions WHERE token_hash = ?1";
    unsigned char hash[HASH_BYTES];
    sqlite3_stmt *st = NULL;
    bw_session_info s = {0};
    int found = 0, rc;

    if (db == NULL || key == NULL)
        return -1;
    if (!token_well_formed(token, len))
        return 0;
    if (token_hash(key, token, hash) != 0)
        return -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_TRANSIENT) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        goto fail;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *stored = sqlite3_column_blob(st, 1);
        int stored_len = sqlite3_column_bytes(st, 1);

        found = stored != NULL && stored_len == HASH_BYTES && bw_ct_eq(stored, hash, HASH_BYTES);
        s.id = sqlite3_column_int64(st, 0);
        s.user_id = sqlite3_column_int64(st, 2);
        s.created_at = sqlite3_column_int64(st, 3);
        s.last_seen_at = sqlite3_column_int64(st, 4);
        s.expires_at = sqlite3_column_int64(st, 5);
        s.mfa = sqlite3_column_int(st, 6) != 0;
    }
    if (sqlite3_finalize(st) != SQLITE_OK || (rc != SQLITE_ROW && rc != SQLITE_DONE))
        goto fail;
    sodium_memzero(hash, sizeof(hash));
    if (!found)
        return 0;
    if (now >= s.expires_at || is_idle(now, s.last_seen_at, idle_ttl_s))
        return delete_by_id(db, s.id) < 0 ? -1 : 0;
    if (bw_sat_sub(now, s.last_seen_at) >= touch_interval(idle_ttl_s)) {
        rc = touch(db, s.id, now);
        if (rc <= 0)
            return rc;
        s.last_seen_at = now;
    }
    if (info != NULL)
        *info = s;
    return 1;
fail:
    sodium_memzero(hash, sizeof(hash));
    return -1;
}

int bw_session_revoke(sqlite3 *db, long long session_id)
{
    int n = delete_by_id(db, session_id);

    return n < 0 ? -1 : n > 0;
}

int bw_session_revoke_user(sqlite3 *db, long long user_id)
{
    sqlite3_stmt *st = NULL;

    if (db == NULL || sqlite3_prepare_v2(db, "DELETE FROM sessions WHERE user_id = ?1", -1, &st,
                                         NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    return step_changes(db, st);
}

int bw_session_prune(sqlite3 *db, long long now, long long idle_ttl_s)
{
    static const char sql[] = "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at <= ?2";
    sqlite3_stmt *st = NULL;
    long long idle_before;
    int bound;

    if (db == NULL || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    /* Idle: now - last_seen_at >= idle_ttl_s, that is last_seen_at <= now - idle_ttl_s. When
     * that bound is below LLONG_MIN no row is idle (NULL matches nothing); above LLONG_MAX
     * every row is. */
    if (!__builtin_sub_overflow(now, idle_ttl_s, &idle_before))
        bound = sqlite3_bind_int64(st, 2, idle_before);
    else if (idle_ttl_s > 0)
        bound = sqlite3_bind_null(st, 2);
    else
        bound = sqlite3_bind_int64(st, 2, LLONG_MAX);
    if (bound != SQLITE_OK || sqlite3_bind_int64(st, 1, now) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    return step_changes(db, st);
}

int bw_session_csrf_token(const unsigned char csrf_key[BW_SESSION_KEY_BYTES], const char *token,
                          size_t len, char out[BW_SESSION_TOKEN_LEN + 1])
{
    unsigned char mac[HASH_BYTES];
    int rc = -1;

    if (out == NULL)
        return -1;
    out[0] = '\0';
    if (csrf_key == NULL || !token_well_formed(token, len))
        return -1;
    if (crypto_generichash(mac, sizeof(mac), (const unsigned char *)token, len, csrf_key,
                           BW_SESSION_KEY_BYTES) == 0) {
        (void)sodium_bin2base64(out, BW_SESSION_TOKEN_LEN + 1, mac, sizeof(mac), B64_VARIANT);
        rc = 0;
    }
    sodium_memzero(mac, sizeof(mac));
    return rc;
}
