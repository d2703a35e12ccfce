/* User and API key management for the CLI and the admin endpoints: the
 * policy and RBAC checks in front of the user and apikey stores, and the
 * rule that a change of privilege ends every session of the user. Also the
 * enrolment of a second factor, which is such a change. */
#include <string.h>

#include <sodium.h>

#include "auth_internal.h"
#include "bulwark/log.h"
#include "bulwark/mfa.h"

/* Checks a comma-separated role list against RBAC and writes its canonical
 * form (known roles, each once, in rbac.json's order) into out. */
static bw_auth_status check_roles(const bw_auth *a, const char *roles, bw_roleset *set,
                                  char out[BW_USER_ROLES_MAX], const char **why)
{
    char err[256];

    if (bw_rbac_roles_parse(a->rbac, roles, strlen(roles), set, err, sizeof(err)) != 0 ||
        bw_rbac_roles_format(a->rbac, *set, out, BW_USER_ROLES_MAX) < 0) {
        *why = "The roles must be a comma-separated list of roles defined in rbac.json.";
        return BW_AUTH_INVALID;
    }
    return BW_AUTH_OK;
}

/* Hashes under the gate, like a login: management calls share its budget. */
static bw_auth_status hash_password(bw_auth *a, const char *name, const char *pw, size_t pwlen,
                                    char out[BW_PASSWORD_HASH_MAX], const char **why)
{
    int rc;

    if (bw_password_policy_check(name, strlen(name), pw, pwlen, why) != 0)
        return BW_AUTH_INVALID;
    if (!bw_password_gate_enter(a->gate, a->cfg->auth.password.queue_wait_ms))
        return BW_AUTH_BUSY;
    rc = bw_password_hash(&a->pw, pw, pwlen, out);
    bw_password_gate_leave(a->gate);
    return rc == 0 ? BW_AUTH_OK : BW_AUTH_FAILED;
}

bw_auth_status bw_auth_user_create(bw_auth *a, sqlite3 *db, const char *name, size_t nlen,
                                   const char *pw, size_t pwlen, const char *roles, long long *id,
                                   const char **why)
{
    char norm[BW_USER_NAME_MAX + 1], hash[BW_PASSWORD_HASH_MAX], err[256];
    char canon[BW_USER_ROLES_MAX];
    bw_roleset set;
    bw_auth_status st;
    int rc;

    if (bw_user_name_normalize(name, nlen, norm, sizeof(norm)) != 0) {
        *why = "A username is 1 to 64 characters of a-z, 0-9, '.', '_', '@' and '-', starting "
               "with a letter or digit.";
        return BW_AUTH_INVALID;
    }
    st = check_roles(a, roles, &set, canon, why);
    if (st != BW_AUTH_OK)
        return st;
    st = hash_password(a, norm, pw, pwlen, hash, why);
    if (st != BW_AUTH_OK)
        return st;
    rc = bw_user_add(db, norm, hash, canon, id, err, sizeof(err));
    sodium_memzero(hash, sizeof(hash));
    if (rc == 1)
        return BW_AUTH_EXISTS;
    if (rc != 0) {
        bw_log(BW_LOG_ERROR, "auth.db_error",
               (bw_log_field[]){BW_LOG_S("op", "user_add"), BW_LOG_S("reason", err)}, 2);
        return BW_AUTH_FAILED;
    }
    return BW_AUTH_OK;
}

/* A changed password, role set or disabled flag ends every session. */
static bw_auth_status end_sessions(sqlite3 *db, long long id)
{
    return bw_session_revoke_user(db, id) < 0 ? BW_AUTH_FAILED : BW_AUTH_OK;
}

static bw_auth_status changed(int rc, sqlite3 *db, long long id)
{
    if (rc < 0)
        return BW_AUTH_FAILED;
    if (rc == 0)
        return BW_AUTH_NOT_FOUND;
    return end_sessions(db, id);
}

bw_auth_status bw_auth_password_prepare(bw_auth *a, sqlite3 *db, long long id, const char *pw,
                                        size_t pwlen, char hash[BW_PASSWORD_HASH_MAX],
                                        const char **why)
{
    bw_user u;
    int rc = bw_user_get(db, id, &u);

    if (rc <= 0)
        return rc < 0 ? BW_AUTH_FAILED : BW_AUTH_NOT_FOUND;
    return hash_password(a, u.name, pw, pwlen, hash, why);
}

bw_auth_status bw_auth_user_set_password_hash(bw_auth *a, sqlite3 *db, long long id,
                                              const char *hash)
{
    (void)a;
    return changed(bw_user_set_password_hash(db, id, hash), db, id);
}

bw_auth_status bw_auth_user_set_password(bw_auth *a, sqlite3 *db, long long id, const char *pw,
                                         size_t pwlen, const char **why)
{
    char hash[BW_PASSWORD_HASH_MAX];
    bw_auth_status st = bw_auth_password_prepare(a, db, id, pw, pwlen, hash, why);

    if (st == BW_AUTH_OK)
        st = bw_auth_user_set_password_hash(a, db, id, hash);
    sodium_memzero(hash, sizeof(hash));
    return st;
}

bw_auth_status bw_auth_user_set_roles(bw_auth *a, sqlite3 *db, long long id, const char *roles,
                                      const char **why)
{
    char canon[BW_USER_ROLES_MAX];
    bw_roleset set;
    bw_auth_status st = check_roles(a, roles, &set, canon, why);

    if (st != BW_AUTH_OK)
        return st;
    return changed(bw_user_set_roles(db, id, canon), db, id);
}

bw_auth_status bw_auth_user_set_disabled(bw_auth *a, sqlite3 *db, long long id, bool disabled)
{
    (void)a;
    return changed(bw_user_set_disabled(db, id, disabled), db, id);
}

bw_auth_status bw_auth_apikey_create(bw_auth *a, sqlite3 *db, long long user_id, const char *name,
                                     const char *roles, long long expires_at, long long now,
                                     char out[BW_APIKEY_LEN + 1], const char **why)
{
    char canon[BW_USER_ROLES_MAX];
    bw_roleset want, have;
    bw_auth_status st = check_roles(a, roles, &want, canon, why);
    bw_user u;
    char err[256];
    int rc;

    if (st != BW_AUTH_OK)
        return st;
    rc = bw_user_get(db, user_id, &u);
    if (rc <= 0)
        return rc < 0 ? BW_AUTH_FAILED : BW_AUTH_NOT_FOUND;
    have = bw_auth_roles_lenient(a, u.roles);
    if (want == 0 || !bw_rbac_roles_within(a->rbac, want, have)) {
        *why = "An API key's roles must grant nothing its owner's roles do not.";
        return BW_AUTH_INVALID;
    }
    if (expires_at != 0 && expires_at <= now) {
        *why = "An API key's expiry must lie in the future.";
        return BW_AUTH_INVALID;
    }
    if (bw_apikey_create(db, bw_auth_apikey_key(a), user_id, name, canon, expires_at, now, out,
                         NULL, err, sizeof(err)) != 0) {
        *why = "The API key could not be created (its name is 1 to 64 printable characters).";
        return BW_AUTH_INVALID;
    }
    return BW_AUTH_OK;
}

bw_auth_status bw_auth_mfa_enroll(bw_auth *a, sqlite3 *db, long long user_id, const char *issuer,
                                  long long now,
                                  char secret_b32[BW_TOTP_BASE32_LEN(BW_TOTP_SECRET_BYTES) + 1],
                                  char *uri, size_t uri_cap)
{
    unsigned char secret[BW_TOTP_SECRET_BYTES];
    size_t b32_cap = BW_TOTP_BASE32_LEN(BW_TOTP_SECRET_BYTES) + 1;
    bw_auth_status st = BW_AUTH_OK;
    bw_mfa_result r;
    bw_user u;
    int rc = bw_user_get(db, user_id, &u);

    sodium_memzero(secret_b32, b32_cap);
    if (uri_cap > 0)
        sodium_memzero(uri, uri_cap);
    if (rc <= 0)
        return rc < 0 ? BW_AUTH_FAILED : BW_AUTH_NOT_FOUND;
    r = bw_mfa_enroll_begin(db, bw_auth_mfa_seal_key(a), user_id, now, secret);
    if (r == BW_MFA_ALREADY)
        return BW_AUTH_EXISTS;
    if (r != BW_MFA_OK)
        return BW_AUTH_FAILED;
    if (bw_totp_base32_encode(secret, sizeof(secret), secret_b32, b32_cap) != 0)
        st = BW_AUTH_FAILED;
    else if (bw_totp_uri(issuer, strlen(issuer), u.name, strlen(u.name), secret, sizeof(secret),
                         uri, uri_cap) != 0)
        st = BW_AUTH_INVALID;
    sodium_memzero(secret, sizeof(secret));
    if (st != BW_AUTH_OK) {
        sodium_memzero(secret_b32, b32_cap);
        if (uri_cap > 0)
            sodium_memzero(uri, uri_cap);
    }
    return st;
}

bw_auth_status bw_auth_mfa_confirm(bw_auth *a, sqlite3 *db, long long user_id, const char *code,
                                   size_t code_len, long long now, bool new_session,
                                   char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1],
                                   char token[BW_SESSION_TOKEN_LEN + 1], bw_session_info *info)
{
    bw_mfa_result r =
        bw_mfa_enroll_confirm(db, bw_auth_mfa_seal_key(a), bw_auth_mfa_recovery_key(a), user_id,
                              code, code_len, now, codes);

    switch (r) {
    case BW_MFA_OK:
        break;
    case BW_MFA_DENIED:
        return BW_AUTH_DENIED;
    case BW_MFA_NOT_ENROLLED:
        return BW_AUTH_NOT_FOUND;
    case BW_MFA_ALREADY:
        return BW_AUTH_EXISTS;
    default:
        return BW_AUTH_FAILED;
    }
    /* A new factor is a privilege change: no session made before it survives. */
    if (end_sessions(db, user_id) != BW_AUTH_OK ||
        (new_session && bw_session_create(db, bw_auth_session_key(a), user_id, true, now,
                                          a->cfg->auth.session.absolute_ttl_s, token, info) != 0)) {
        sodium_memzero(codes, sizeof(char[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1]));
        return BW_AUTH_FAILED;
    }
    return BW_AUTH_OK;
}
