/* Login throttling in the store (table login_failures, migrations/0002_auth.sql).
 *
 * A row is (scope, key) with key = keyed BLAKE2b-256 of (scope byte || id), the byte being 1
 * for accounts and 2 for addresses, so neither names nor addresses are stored. The
 * arithmetic, with n the row's failures after the current one and all times in seconds:
 *
 * account: a failure at now whose row has now - last_at >= account_reset_s starts over
 *   (the older failures are forgotten: n = 1). When n >= account_threshold the name is
 *   locked until now + min(base << (n - threshold), account_max_delay_s): with threshold 5
 *   and base 1, the 5th failure locks for 1 s, the 6th for 2 s, the 7th for 4 s, ... up to
 *   the cap (the exponent is capped before shifting, so no count overflows). check() says
 *   locked while now < locked_until, retry_after = locked_until - now; it reads only
 *   locked_until, which a sane policy (account_max_delay_s <= account_reset_s) places no
 *   later than the moment the failures are forgotten. reset() (a success) deletes the row.
 *
 * address: the row counts failures in the window [first_at, first_at + address_window_s). A
 *   failure at or after the window's end starts a new window at now with n = 1. check() says
 *   locked once the current window holds address_limit failures, until it ends:
 *   retry_after = first_at + address_window_s - now. As the caller checks before verifying
 *   a password, at most address_limit attempts per window are ever verified, and a
 *   (address_limit + 1)th failure cannot happen: "more than address_limit failures locks".
 *   A clock that steps back (now < first_at) stays in the current window: stricter, never
 *   looser.
 *
 * fail() reads and writes the row inside BEGIN IMMEDIATE (so db must not be inside a
 * transaction): concurrent failures on other connections queue on the write lock (busy
 * timeout) and none is lost. In the same transaction it deletes the rows with
 * last_at < now - max(account_reset_s, address_window_s, account_max_delay_s), which can
 * no longer lock anything. */
#include "bulwark/throttle.h"

#include "bulwark/satmath.h"
#include "bulwark/store.h"

#include <limits.h>
#include <net/if.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#define KEY_HASH_BYTES 32
/* Longest textual address with a zone: an IPv6 address (INET6_ADDRSTRLEN - 1), '%', and an
 * interface name (IF_NAMESIZE - 1). */
#define ADDR_TEXT_MAX (INET6_ADDRSTRLEN + IF_NAMESIZE)

static const char *scope_name(bw_throttle_scope scope)
{
    switch (scope) {
    case BW_THROTTLE_ACCOUNT:
        return "account";
    case BW_THROTTLE_ADDRESS:
        return "address";
    }
    return NULL;
}

static bool policy_ok(const bw_throttle_policy *p)
{
    return p != NULL && p->account_threshold >= 1 && p->account_base_delay_s >= 1 &&
           p->account_max_delay_s >= 1 && p->account_reset_s >= 1 && p->address_limit >= 1 &&
           p->address_window_s >= 1;
}

/* The row key of id in scope; the scope byte keeps an account name and an address prefix
 * with the same bytes apart even if the scope column were ignored. */
static int row_key(const unsigned char key[BW_THROTTLE_KEY_BYTES], bw_throttle_scope scope,
                   const void *id, size_t len, unsigned char out[KEY_HASH_BYTES])
{
    crypto_generichash_state h;
    unsigned char tag = scope == BW_THROTTLE_ACCOUNT ? 1 : 2;
    int rc;

    rc = crypto_generichash_init(&h, key, BW_THROTTLE_KEY_BYTES, KEY_HASH_BYTES) != 0 ||
                 crypto_generichash_update(&h, &tag, 1) != 0 ||
                 crypto_generichash_update(&h, id, len) != 0 ||
                 crypto_generichash_final(&h, out, KEY_HASH_BYTES) != 0
             ? -1
             : 0;
    sodium_memzero(&h, sizeof(h));
    return rc;
}

/* Checks the arguments every public call shares and computes the row key. */
static int prepare_call(const unsigned char *key, bw_throttle_scope scope, const void *id,
                        size_t len, unsigned char out[KEY_HASH_BYTES])
{
    if (key == NULL || scope_name(scope) == NULL || (id == NULL && len > 0))
        return -1;
    return row_key(key, scope, id == NULL ? "" : id, len, out);
}

/* The lock the n-th consecutive failure earns (n >= threshold). base << 31 already exceeds
 * any int cap, so the exponent is capped there and the shift cannot overflow 64 bits. */
static long long account_delay(const bw_throttle_policy *p, long long n)
{
    long long e = n - p->account_threshold;
    long long d;

    if (e >= 31)
        return p->account_max_delay_s;
    d = (long long)p->account_base_delay_s << e;
    return d < p->account_max_delay_s ? d : p->account_max_delay_s;
}

typedef struct row {
    long long failures, first_at, last_at, locked_until;
} row;

/* Reads the row of (scope, k). 1 found (*r filled), 0 none, -1 error. */
static int row_get(sqlite3 *db, const char *scope, const unsigned char k[KEY_HASH_BYTES], row *r)
{
    static const char sql[] = "SELECT failures, first_at, last_at, locked_until "
                              "FROM login_failures WHERE scope = ?1 AND key = ?2";
    sqlite3_stmt *st = NULL;
    int rc, found = 0;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 2, k, KEY_HASH_BYTES, SQLITE_STATIC) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        r->failures = sqlite3_column_int64(st, 0);
        r->first_at = sqlite3_column_int64(st, 1);
        r->last_at = sqlite3_column_int64(st, 2);
        r->locked_until = sqlite3_column_int64(st, 3);
        found = 1;
    }
    if (sqlite3_finalize(st) != SQLITE_OK || (rc != SQLITE_ROW && rc != SQLITE_DONE))
        return -1;
    return found;
}

static int row_put(sqlite3 *db, const char *scope, const unsigned char k[KEY_HASH_BYTES],
                   const row *r)
{
    static const char sql[] =
        "INSERT INTO login_failures (scope, key, failures, first_at, last_at, locked_until) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (scope, key) DO UPDATE SET "
        "failures = excluded.failures, first_at = excluded.first_at, "
        "last_at = excluded.last_at, locked_until = excluded.locked_until";
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 2, k, KEY_HASH_BYTES, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, r->failures) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, r->first_at) != SQLITE_OK ||
        sqlite3_bind_int64(st, 5, r->last_at) != SQLITE_OK ||
        sqlite3_bind_int64(st, 6, r->locked_until) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    return bw_store_run(st);
}

/* Deletes the rows untouched for longer than the policy's longest period: by then an account
 * row is forgotten and unlocked, and an address row's window has ended. */
static int prune(sqlite3 *db, long long now, const bw_throttle_policy *p)
{
    int longest = p->account_reset_s;
    sqlite3_stmt *st = NULL;

    if (p->address_window_s > longest)
        longest = p->address_window_s;
    if (p->account_max_delay_s > longest)
        longest = p->account_max_delay_s;
    if (sqlite3_prepare_v2(db, "DELETE FROM login_failures WHERE last_at < ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    if (sqlite3_bind_int64(st, 1, bw_sat_sub(now, longest)) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    return bw_store_run(st);
}

int bw_throttle_check(sqlite3 *db, const unsigned char key[BW_THROTTLE_KEY_BYTES],
                      bw_throttle_scope scope, const void *id, size_t len, long long now,
                      const bw_throttle_policy *p, long long *retry_after_s)
{
    unsigned char k[KEY_HASH_BYTES];
    long long until;
    row r;
    int found;

    if (retry_after_s != NULL)
        *retry_after_s = 0;
    if (db == NULL || retry_after_s == NULL || !policy_ok(p) ||
        prepare_call(key, scope, id, len, k) != 0)
        return -1;
    found = row_get(db, scope_name(scope), k, &r);
    if (found <= 0)
        return found;
    if (scope == BW_THROTTLE_ACCOUNT) {
        until = r.locked_until;
    } else {
        if (r.failures < p->address_limit)
            return 0;
        until = bw_sat_add(r.first_at, p->address_window_s);
    }
    if (now >= until)
        return 0;
    *retry_after_s = bw_sat_sub(until, now); /* > 0 as until > now */
    return 1;
}

/* The row after one more failure at now; found says whether *r held the old row. */
static void apply_failure(bw_throttle_scope scope, const bw_throttle_policy *p, long long now,
                          int found, row *r)
{
    if (scope == BW_THROTTLE_ACCOUNT) {
        if (!found || bw_sat_sub(now, r->last_at) >= p->account_reset_s) {
            r->failures = 0;
            r->first_at = now;
        }
        r->failures = bw_sat_add(r->failures, 1);
        r->locked_until = r->failures >= p->account_threshold
                              ? bw_sat_add(now, account_delay(p, r->failures))
                              : 0;
    } else {
        if (!found || bw_sat_sub(now, r->first_at) >= p->address_window_s) {
            r->failures = 0;
            r->first_at = now;
        }
        r->failures = bw_sat_add(r->failures, 1);
        /* Informational for operators; check() recomputes from the current policy. */
        r->locked_until =
            r->failures >= p->address_limit ? bw_sat_add(r->first_at, p->address_window_s) : 0;
    }
    r->last_at = now;
}

int bw_throttle_fail(sqlite3 *db, const unsigned char key[BW_THROTTLE_KEY_BYTES],
                     bw_throttle_scope scope, const void *id, size_t len, long long now,
                     const bw_throttle_policy *p)
{
    unsigned char k[KEY_HASH_BYTES];
    row r = {0};
    int found;

    if (db == NULL || !policy_ok(p) || prepare_call(key, scope, id, len, k) != 0)
        return -1;
    if (bw_store_tx_begin(db) != 0)
        return -1;
    found = row_get(db, scope_name(scope), k, &r);
    if (found < 0)
        goto fail;
    apply_failure(scope, p, now, found, &r);
    if (row_put(db, scope_name(scope), k, &r) != 0 || prune(db, now, p) != 0 ||
        bw_store_tx_commit(db) != 0)
        goto fail;
    return 0;
fail:
    (void)bw_store_tx_rollback(db);
    return -1;
}

int bw_throttle_reset(sqlite3 *db, const unsigned char key[BW_THROTTLE_KEY_BYTES],
                      bw_throttle_scope scope, const void *id, size_t len)
{
    static const char sql[] = "DELETE FROM login_failures WHERE scope = ?1 AND key = ?2";
    unsigned char k[KEY_HASH_BYTES];
    sqlite3_stmt *st = NULL;

    if (db == NULL || prepare_call(key, scope, id, len, k) != 0)
        return -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_text(st, 1, scope_name(scope), -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 2, k, KEY_HASH_BYTES, SQLITE_STATIC) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    return bw_store_run(st);
}
