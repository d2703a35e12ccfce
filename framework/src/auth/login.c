/* Login: throttle checks, one password verification (real or dummy), the
 * second factor when the account has one, the throttle bookkeeping, and a
 * new session. The unknown-user path does the same work in the same order
 * as the wrong-password path, so neither the answer nor its time tells
 * whether an account exists. A wrong second factor is a failure exactly
 * like a wrong password, so the code cannot be guessed faster than the
 * password. Also the re-authentication that turns the factor off. */
#include <string.h>

#include <sodium.h>

#include "auth_internal.h"
#include "bulwark/log.h"
#include "bulwark/mfa.h"
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

/* The second factor f of user_id at now, for an account that has one enabled: BW_AUTH_OK,
 * BW_AUTH_MFA_REQUIRED without one, BW_AUTH_DENIED for a wrong or spent one, BW_AUTH_FAILED.
 * *kind says which factor was tried. */
static bw_auth_status check_factor(bw_auth *a, sqlite3 *db, long long user_id,
                                   const bw_auth_factor *f, long long now,
                                   bw_auth_factor_kind *kind)
{
    bw_mfa_result r;

    if (f != NULL && f->code != NULL) {
        *kind = BW_AUTH_FACTOR_TOTP;
        r = bw_mfa_verify(db, bw_auth_mfa_seal_key(a), user_id, f->code, f->code_len, now);
    } else if (f != NULL && f->recovery != NULL) {
        *kind = BW_AUTH_FACTOR_RECOVERY;
        r = bw_mfa_use_recovery(db, bw_auth_mfa_recovery_key(a), user_id, f->recovery,
                                f->recovery_len, now);
    } else {
        return BW_AUTH_MFA_REQUIRED;
    }
    if (r == BW_MFA_OK)
        return BW_AUTH_OK;
    /* Turned off between the status read and here: no factor to pass, refuse. */
    if (r == BW_MFA_DENIED || r == BW_MFA_NOT_ENROLLED)
        return BW_AUTH_DENIED;
    return BW_AUTH_FAILED;
}

bw_auth_status bw_auth_login_factor(bw_auth *a, sqlite3 *db, const char *client_addr,
                                    const char *name, size_t nlen, const char *pw, size_t pwlen,
                                    const bw_auth_factor *f, long long now,
                                    char token[BW_SESSION_TOKEN_LEN + 1], bw_auth_login_result *res)
{
    throttle_ids t;
    bw_user u;
    bw_auth_status st;
    int mfa;

    memset(res, 0, sizeof(*res));
    make_ids(client_addr, name, nlen, &t);
    st = check_locks(a, db, &t, now, &res->retry_after_s);
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
    res->user_id = u.id;
    memcpy(res->name, u.name, sizeof(res->name));
    mfa = bw_mfa_status(db, u.id);
    if (mfa < 0)
        return BW_AUTH_FAILED;
    if (mfa == BW_MFA_ENABLED) {
        st = check_factor(a, db, u.id, f, now, &res->factor);
        if (st == BW_AUTH_DENIED)
            return record_failure(a, db, &t, now);
        if (st != BW_AUTH_OK)
            return st;
    }
    if (bw_throttle_reset(db, bw_auth_throttle_key(a), BW_THROTTLE_ACCOUNT, t.account,
                          t.account_len) != 0 ||
        bw_session_create(db, bw_auth_session_key(a), u.id, mfa == BW_MFA_ENABLED, now,
                          a->cfg->auth.session.absolute_ttl_s, token, &res->info) != 0)
        return BW_AUTH_FAILED;
    return BW_AUTH_OK;
}

bw_auth_status bw_auth_login(bw_auth *a, sqlite3 *db, const char *client_addr, const char *name,
                             size_t nlen, const char *pw, size_t pwlen, long long now,
                             char token[BW_SESSION_TOKEN_LEN + 1], bw_session_info *info,
                             long long *retry_after_s)
{
    bw_auth_login_result res;
    bw_auth_status st =
        bw_auth_login_factor(a, db, client_addr, name, nlen, pw, pwlen, NULL, now, token, &res);

    *retry_after_s = res.retry_after_s;
    if (info != NULL)
        *info = res.info;
    return st;
}

bw_auth_status bw_auth_mfa_disable(bw_auth *a, sqlite3 *db, const char *client_addr,
                                   long long user_id, const char *pw, size_t pwlen,
                                   const char *code, size_t code_len, long long now,
                                   long long *retry_after_s)
{
    throttle_ids t;
    bw_user u;
    bw_auth_status st;
    bw_mfa_result r;
    int rc = bw_user_get(db, user_id, &u);

    *retry_after_s = 0;
    if (rc <= 0)
        return rc < 0 ? BW_AUTH_FAILED : BW_AUTH_NOT_FOUND;
    rc = bw_mfa_status(db, user_id);
    if (rc < 0)
        return BW_AUTH_FAILED;
    if (rc != BW_MFA_ENABLED)
        return BW_AUTH_NOT_FOUND;
    make_ids(client_addr, u.name, strlen(u.name), &t);
    st = check_locks(a, db, &t, now, retry_after_s);
    if (st != BW_AUTH_OK)
        return st;
    if (pwlen > BW_PASSWORD_MAX_BYTES) {
        /* Longer than any valid password: refused at the same cost. */
        st = verify(a, db, &u, 0, pw, BW_PASSWORD_MAX_BYTES);
        if (st == BW_AUTH_OK)
            st = BW_AUTH_DENIED;
    } else {
        st = verify(a, db, &u, 1, pw, pwlen);
    }
    if (st == BW_AUTH_DENIED)
        return record_failure(a, db, &t, now);
    if (st != BW_AUTH_OK)
        return st;
    r = bw_mfa_verify(db, bw_auth_mfa_seal_key(a), user_id, code, code_len, now);
    if (r == BW_MFA_DENIED || r == BW_MFA_NOT_ENROLLED)
        return record_failure(a, db, &t, now);
    if (r != BW_MFA_OK)
        return BW_AUTH_FAILED;
    if (bw_mfa_disable(db, user_id) < 0 || bw_session_revoke_user(db, user_id) < 0 ||
        bw_throttle_reset(db, bw_auth_throttle_key(a), BW_THROTTLE_ACCOUNT, t.account,
                          t.account_len) != 0)
        return BW_AUTH_FAILED;
    return BW_AUTH_OK;
}
