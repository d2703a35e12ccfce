/* The auth service: keys derived from secrets.session_key, the password
 * parameters and gate, the throttle policy and RBAC; turning a token into a
 * principal; the CSRF check. Login and user management are in login.c and
 * account.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth_internal.h"
#include "bulwark/ct.h"
#include "bulwark/err.h"
#include "bulwark/log.h"
#include "bulwark/secret.h"

/* Subkey ids under the context below: each use gets its own key, so a value
 * computed for one purpose is worthless for another. */
enum {
    KEY_SESSION = 1,
    KEY_CSRF = 2,
    KEY_APIKEY = 3,
    KEY_THROTTLE = 4,
    KEY_MFA_SEAL = 5,    /* seals stored TOTP secrets (mfa.h) */
    KEY_MFA_RECOVERY = 6 /* hashes recovery codes (mfa.h) */
};
static const char kdf_context[crypto_kdf_CONTEXTBYTES] = {'b', 'w', 'a', 'u', 't', 'h', '0', '1'};

/* The secret must carry at least 256 bits; `notes init` writes 32 random
 * bytes as 64 hex digits. */
#define BW_AUTH_MIN_SECRET 32

static int derive_keys(bw_auth *a, char *err, size_t errlen)
{
    const bw_config *cfg = a->cfg;
    unsigned char *secret = NULL, master[crypto_kdf_KEYBYTES];
    size_t slen = 0;
    char why[512];

    if (bw_secret_load(cfg->secrets.session_key.ref, cfg->data_dir, &secret, &slen, why,
                       sizeof(why)) != 0) {
        bw_err_set(err, errlen, "secrets.session_key: %s", why);
        return -1;
    }
    if (slen < BW_AUTH_MIN_SECRET) {
        bw_secret_free(secret, slen);
        bw_err_set(err, errlen, "secrets.session_key: must hold at least %d bytes",
                   BW_AUTH_MIN_SECRET);
        return -1;
    }
    crypto_generichash(master, sizeof(master), secret, slen, NULL, 0);
    bw_secret_free(secret, slen);
    a->keys = sodium_malloc((size_t)BW_AUTH_NKEYS * BW_AUTH_KEY_BYTES);
    if (a->keys == NULL) {
        sodium_memzero(master, sizeof(master));
        bw_err_set(err, errlen, "auth: out of memory");
        return -1;
    }
    for (size_t i = 0; i < BW_AUTH_NKEYS; i++)
        crypto_kdf_derive_from_key(a->keys + i * BW_AUTH_KEY_BYTES, BW_AUTH_KEY_BYTES,
                                   (uint64_t)i + 1, kdf_context, master);
    sodium_memzero(master, sizeof(master));
    /* Long-lived key material: read-only from here on. */
    sodium_mprotect_readonly(a->keys);
    return 0;
}

static const unsigned char *bw_auth_key(const bw_auth *a, int which)
{
    return a->keys + ((size_t)which - 1) * BW_AUTH_KEY_BYTES;
}

const unsigned char *bw_auth_session_key(const bw_auth *a)
{
    return bw_auth_key(a, KEY_SESSION);
}

const unsigned char *bw_auth_csrf_key(const bw_auth *a)
{
    return bw_auth_key(a, KEY_CSRF);
}

const unsigned char *bw_auth_apikey_key(const bw_auth *a)
{
    return bw_auth_key(a, KEY_APIKEY);
}

const unsigned char *bw_auth_throttle_key(const bw_auth *a)
{
    return bw_auth_key(a, KEY_THROTTLE);
}

const unsigned char *bw_auth_mfa_seal_key(const bw_auth *a)
{
    return bw_auth_key(a, KEY_MFA_SEAL);
}

const unsigned char *bw_auth_mfa_recovery_key(const bw_auth *a)
{
    return bw_auth_key(a, KEY_MFA_RECOVERY);
}

bw_auth *bw_auth_new(const bw_config *cfg, const char *rbac_json, size_t len, char *err,
                     size_t errlen)
{
    bw_auth *a = calloc(1, sizeof(*a));
    size_t budget, slots;

    if (a == NULL) {
        bw_err_set(err, errlen, "auth: out of memory");
        return NULL;
    }
    a->cfg = cfg;
    a->pw.opslimit = (unsigned long long)cfg->auth.password.opslimit;
    a->pw.memlimit = (size_t)cfg->auth.password.memlimit_kib * 1024u;
    budget = (size_t)cfg->auth.password.memory_budget_mib * 1024u * 1024u;
    if (budget < a->pw.memlimit) {
        bw_err_set(err, errlen,
                   "auth.password.memory_budget_mib: must hold at least one hash "
                   "(auth.password.memlimit_kib)");
        goto fail;
    }
    slots = bw_password_gate_slots(budget, a->pw.memlimit);
    a->gate = bw_password_gate_new(slots);
    if (a->gate == NULL) {
        bw_err_set(err, errlen, "auth: out of memory");
        goto fail;
    }
    a->throttle = (bw_throttle_policy){
        .account_threshold = cfg->auth.lockout.threshold,
        .account_base_delay_s = cfg->auth.lockout.base_delay_s,
        .account_max_delay_s = cfg->auth.lockout.max_delay_s,
        .account_reset_s = cfg->auth.lockout.reset_s,
        .address_limit = cfg->auth.address.max_failures,
        .address_window_s = cfg->auth.address.window_s,
    };
    if (derive_keys(a, err, errlen) != 0)
        goto fail;
    /* Make the dummy hash now: made at the first unknown-user login, it would
     * cost that login a second Argon2 run and tell the name does not exist. */
    bw_password_dummy_verify(&a->pw, "", 0);
    if (rbac_json == NULL) {
        bw_err_set(err, errlen, "rbac: the app has no config/rbac.json");
        goto fail;
    }
    {
        char why[512];

        if (bw_rbac_load(rbac_json, len, &a->rbac, why, sizeof(why)) != 0) {
            bw_err_set(err, errlen, "rbac.json: %s", why);
            goto fail;
        }
    }
    bw_log(BW_LOG_INFO, "auth.ready",
           (bw_log_field[]){BW_LOG_I("hash_slots", (long long)slots),
                            BW_LOG_I("roles", (long long)bw_rbac_role_count(a->rbac))},
           2);
    return a;
fail:
    bw_auth_free(a);
    return NULL;
}

void bw_auth_free(bw_auth *a)
{
    if (a == NULL)
        return;
    bw_auth_jwt_free(a->jwt);
    bw_rbac_free(a->rbac);
    bw_password_gate_free(a->gate);
    sodium_free(a->keys);
    free(a);
}

const bw_rbac *bw_auth_rbac(const bw_auth *a)
{
    return a->rbac;
}

const bw_config *bw_auth_config(const bw_auth *a)
{
    return a->cfg;
}

bw_roleset bw_auth_roles_lenient(const bw_auth *a, const char *list)
{
    bw_roleset set = 0;
    const char *p = list;

    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        int i = bw_rbac_role_index(a->rbac, p, n);

        /* A role since removed from rbac.json grants nothing. */
        if (i >= 0)
            set |= (bw_roleset)1 << i;
        p += n;
        if (*p == ',')
            p++;
    }
    return set;
}

static int principal_from_user(const bw_auth *a, sqlite3 *db, long long user_id, bw_principal *p)
{
    bw_user u;
    int rc = bw_user_get(db, user_id, &u);

    if (rc <= 0)
        return rc;
    if (u.disabled)
        return 0;
    p->user_id = u.id;
    memcpy(p->name, u.name, sizeof(p->name));
    p->roles = bw_auth_roles_lenient(a, u.roles);
    p->scope = ~(bw_roleset)0;
    return 1;
}

int bw_auth_authenticate(const bw_auth *a, sqlite3 *db, const char *token, size_t len,
                         bool via_cookie, long long now, bw_principal *p)
{
    int rc;

    memset(p, 0, sizeof(*p));
    p->user_id = -1;
    if (bw_apikey_looks_like(token, len)) {
        bw_apikey_info k;

        /* A key is a service's credential, never a browser's cookie. */
        if (via_cookie)
            return 0;
        rc = bw_apikey_verify(db, bw_auth_apikey_key(a), token, len, now, &k);
        if (rc <= 0)
            return rc;
        rc = principal_from_user(a, db, k.user_id, p);
        if (rc <= 0)
            return rc;
        /* The key's scope, and never more than its owner holds today. */
        p->scope = bw_auth_roles_lenient(a, k.roles);
        p->kind = BW_AUTH_APIKEY;
        memcpy(p->apikey_id, k.id, sizeof(p->apikey_id));
        return 1;
    }
    {
        bw_session_info s;

        rc = bw_session_lookup(db, bw_auth_session_key(a), token, len, now,
                               a->cfg->auth.session.idle_ttl_s, &s);
        if (rc <= 0)
            return rc;
        rc = principal_from_user(a, db, s.user_id, p);
        if (rc <= 0)
            return rc;
        p->kind = BW_AUTH_SESSION;
        p->session_id = s.id;
        p->mfa = s.mfa;
        p->via_cookie = via_cookie;
        return 1;
    }
}

int bw_auth_csrf_token(const bw_auth *a, const char *session_token, size_t len,
                       char out[BW_SESSION_TOKEN_LEN + 1])
{
    return bw_session_csrf_token(bw_auth_csrf_key(a), session_token, len, out);
}

/* "https://" + host, compared whole: a look-alike such as
 * https://example.com.evil.test is another origin. */
static bool origin_is_host(const char *origin, const char *host)
{
    static const char scheme[] = "https://";
    size_t slen = sizeof(scheme) - 1, olen = strlen(origin), hlen = strlen(host);

    return olen == slen + hlen && strncmp(origin, scheme, slen) == 0 &&
           strncmp(origin + slen, host, hlen) == 0;
}

bool bw_auth_csrf_ok(const bw_auth *a, const char *session_token, size_t token_len,
                     const char *host, const char *origin, const char *sec_fetch_site,
                     const char *csrf_header)
{
    char expected[BW_SESSION_TOKEN_LEN + 1];
    bool same;

    if (host == NULL || csrf_header == NULL)
        return false;
    if (origin != NULL)
        same = origin_is_host(origin, host);
    else
        same = sec_fetch_site != NULL && strcmp(sec_fetch_site, "same-origin") == 0;
    /* A browser that sends both must agree with itself. */
    if (same && origin != NULL && sec_fetch_site != NULL)
        same = strcmp(sec_fetch_site, "same-origin") == 0;
    if (!same)
        return false;
    if (bw_auth_csrf_token(a, session_token, token_len, expected) != 0)
        return false;
    same = bw_ct_eq_var(csrf_header, strlen(csrf_header), expected, BW_SESSION_TOKEN_LEN,
                        BW_CREDENTIAL_MAX);
    sodium_memzero(expected, sizeof(expected));
    return same;
}
