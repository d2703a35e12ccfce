/* Login: throttle checks, one password verification (real or dummy), the
 * throttle bookkeeping, and a new session. The unknown-user path does the
 * same work in the same order as the wrong-password path, so neither the
 * answer nor its time tells whether an account exists. */
#include <string.h>

#include <sodium.h>

#include "auth_internal.h"
#include "bulwark/log.h"
#include "bulwark/netaddr.h"

typedef struct throttle_ids {
    char account[BW_USER_NAME_MAX + 1];
    size_t account_len;
    unsigned char address[16];
    size_t address_len;
} throttle_ids;

/* The account id is the normalised name when it is one, else the raw bytes
 * (bounded): a malformed name is throttled like any other. */
static void make_ids(const char *client, const char *name, size_t nlen, throttle_ids *t)
{
    bw_netaddr addr;

    if (bw_user_name_normalize(name, nlen, t->account, sizeof(t->account)) == 0) {
        t->account_len = strlen(t->account);
    } else {
        t->account_len = nlen < BW_USER_NAME_MAX ? nlen : BW_USER_NAME_MAX;
        memcpy(t->account, name, t->account_len);
        t->account[t->account_len] = '\0';
    }
    t->address_len = 0;
    if (client != NULL && bw_netaddr_parse(client, strlen(client), &addr) == 0)
        t->address_len = bw_netaddr_limit_key(&addr, t->address);
}

static bw_auth_status check_locks(bw_auth *a, sqlite3 *db, const throttle_ids *t, long long now,
                                  long long *retry_after_s)
{
    const unsigned char *key = bw_auth_throttle_key(a);
    long long r1 = 0, r2 = 0;
    int rc1 = 0, rc2;

    if (t->address_len > 0)
        rc1 = bw_throttle_check(db, key, BW_THROTTLE_ADDRESS, t->address, t->address_len, now,
                                &a->throttle, &r1);
    rc2 = bw_throttle_check(db, key, BW_THROTTLE_ACCOUNT, t->account, t->account_len, now,
                            &a->throttle, &r2);
    if (rc1 < 0 || rc2 < 0)
        return BW_AUTH_FAILED;
    if (rc1 == 0 && rc2 == 0)
        return BW_AUTH_OK;
    *retry_after_s = r1 > r2 ? r1 : r2;
    return BW_AUTH_LOCKED;
}

static bw_auth_status record_failure(bw_auth *a, sqlite3 *db, const throttle_ids *t, long long now)
{
    const unsigned char *key = bw_auth_throttle_key(a);

    if (t->address_len > 0 && bw_throttle_fail(db, key, BW_THROTTLE_ADDRESS, t->address,
                                               t->address_len, now, &a->throttle) != 0)
        return BW_AUTH_FAILED;
    if (bw_throttle_fail(db, key, BW_THROTTLE_ACCOUNT, t->account, t->account_len, now,
                         &a->throttle) != 0)
        return BW_AUTH_FAILED;
    return BW_AUTH_DENIED;
}

/* Verifies under the gate; stores a new hash when the parameters changed. */
static bw_auth_status verify(bw_auth *a, sqlite3 *db, const bw_user *u, int found, const char *pw,
                             size_t pwlen)
{
    bw_password_result r = BW_PASSWORD_MISMATCH;
    char fresh[BW_PASSWORD_HASH_MAX];
    bool rehashed = false;

    if (!bw_password_gate_enter(a->gate, a->cfg->auth.password.queue_wait_ms))
        return BW_AUTH_BUSY;
    if (found == 1 && !u->disabled && u->password_hash[0] != '\0')
        r = bw_password_verify(&a->pw, u->password_hash, pw, pwlen);
    else
        bw_password_dummy_verify(&a->pw, pw, pwlen);
    if (r == BW_PASSWORD_MATCH_REHASH)
        rehashed = bw_password_hash(&a->pw, pw, pwlen, fresh) == 0;
    bw_password_gate_leave(a->gate);
    if (r == BW_PASSWORD_ERROR)
        return BW_AUTH_FAILED;
    if (r == BW_PASSWORD_MISMATCH)
        return BW_AUTH_DENIED;
    if (rehashed) {
        /* Best effort: the login stands even if the new hash is not stored. */
        if (bw_user_set_password_hash(db, u->id, fresh) == 1)
            bw_log(BW_LOG_INFO, "auth.password.rehashed",
                   (bw_log_field[]){BW_LOG_I("user_id", u->id)}, 1);
        sodium_memzero(fresh, sizeof(fresh));
    }
    return BW_AUTH_OK;
}

bw_auth_status bw_auth_login(bw_auth *a, sqlite3 *db, const char *client_addr, const char *name,
                             size_t nlen, const char *pw, size_t pwlen, long long now,
                             char token[BW_SESSION_TOKEN_LEN + 1], bw_session_info *info,
                             long long *retry_after_s)
{
    throttle_ids t;
    bw_user u;
    bw_auth_status st;

    *retry_after_s = 0;
    make_ids(client_addr, name, nlen, &t);
    st = check_locks(a, db, &t, now, retry_after_s);
    if (st != BW_AUTH_OK)
        return st;
    memset(&u, 0, sizeof(u));
    if (pwlen <= BW_PASSWORD_MAX_BYTES) {
        char norm[BW_USER_NAME_MAX + 1];
        int found = 0;

        if (bw_user_name_normalize(name, nlen, norm, sizeof(norm)) == 0)
            found = bw_user_find(db, norm, &u);
        if (found < 0)
            return BW_AUTH_FAILED;
        st = verify(a, db, &u, found, pw, pwlen);
    } else {
        /* Longer than any valid password: still costs one verification. */
        st = verify(a, db, &u, 0, pw, BW_PASSWORD_MAX_BYTES);
        if (st == BW_AUTH_OK)
            st = BW_AUTH_DENIED;
    }
    if (st == BW_AUTH_DENIED)
        return record_failure(a, db, &t, now);
    if (st != BW_AUTH_OK)
        return st;
    if (bw_throttle_reset(db, bw_auth_throttle_key(a), BW_THROTTLE_ACCOUNT, t.account,
                          t.account_len) != 0 ||
        bw_session_create(db, bw_auth_session_key(a), u.id, false, now,
                          a->cfg->auth.session.absolute_ttl_s, token, info) != 0)
        return BW_AUTH_FAILED;
    return BW_AUTH_OK;
}
