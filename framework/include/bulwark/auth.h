/* Authentication and authorization for a running service. One bw_auth per
 * server holds the keys derived from secrets.session_key, the password
 * parameters and hashing gate, the login throttle policy and the RBAC model.
 *
 * Request path (pipeline): the credential (credential.h) becomes a principal
 * (session or API key); a cookie session on an unsafe method must also pass
 * the CSRF check; then the route's permission is checked against the
 * principal's roles (rbac.h). Handlers ask for object-level decisions with
 * bw_authz_require and bw_authz_owner_or.
 *
 * Sample handlers for the auth endpoints (login, logout, logout-all, me) are
 * here too, so an app mounts them in its route table with its own schemas. */
#ifndef BULWARK_AUTH_H
#define BULWARK_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include "bulwark/apikey.h"
#include "bulwark/config.h"
#include "bulwark/password.h"
#include "bulwark/rbac.h"
#include "bulwark/req.h"
#include "bulwark/res.h"
#include "bulwark/session.h"
#include "bulwark/user.h"

typedef enum bw_auth_kind { BW_AUTH_NONE = 0, BW_AUTH_SESSION, BW_AUTH_APIKEY } bw_auth_kind;

/* Who is calling. Filled by the pipeline; handlers read it. */
typedef struct bw_principal {
    bw_auth_kind kind;
    long long user_id;
    char name[BW_USER_NAME_MAX + 1];
    bw_roleset roles; /* the user's roles */
    bw_roleset scope; /* an API key's own roles: a permission needs both; sessions: all */
    bool via_cookie;
    bool mfa;
    long long session_id;                 /* BW_AUTH_SESSION */
    char apikey_id[BW_APIKEY_ID_LEN + 1]; /* BW_AUTH_APIKEY */
} bw_principal;

typedef struct bw_auth bw_auth;

/* Outcome of the management and login calls. */
typedef enum bw_auth_status {
    BW_AUTH_OK = 0,
    BW_AUTH_INVALID,   /* bad input; *why holds a user-facing sentence */
    BW_AUTH_EXISTS,    /* the username is taken */
    BW_AUTH_NOT_FOUND, /* no such user */
    BW_AUTH_DENIED,    /* login: wrong username or password (one answer for both) */
    BW_AUTH_LOCKED,    /* login: account name or address throttled; see retry_after_s */
    BW_AUTH_BUSY,      /* every hashing slot stayed busy; retry after a second */
    BW_AUTH_FAILED     /* database or internal error (logged) */
} bw_auth_status;

/* Builds the auth service: loads secrets.session_key (relative to data_dir)
 * and derives its keys, checks the password parameters, sizes the hashing
 * gate, and loads the RBAC model from rbac_json[0..len). Returns NULL with
 * a message in err. The caller owns the result: bw_auth_free. */
bw_auth *bw_auth_new(const bw_config *cfg, const char *rbac_json, size_t len, char *err,
                     size_t errlen);
void bw_auth_free(bw_auth *a);

const bw_rbac *bw_auth_rbac(const bw_auth *a);
const bw_config *bw_auth_config(const bw_auth *a);

/* Turns a credential into a principal at `now` (Unix seconds). Returns 1
 * (principal filled), 0 (no valid credential: unknown, expired or revoked
 * token, disabled user, malformed), -1 database error. */
int bw_auth_authenticate(const bw_auth *a, sqlite3 *db, const char *token, size_t len,
                         bool via_cookie, long long now, bw_principal *p);

/* The CSRF token bound to a session token (what cookie-mode login hands the
 * client). 0, or -1 for a malformed session token. */
int bw_auth_csrf_token(const bw_auth *a, const char *session_token, size_t len,
                       char out[BW_SESSION_TOKEN_LEN + 1]);

/* The CSRF check for a cookie session on an unsafe method: the Origin header
 * (or, without one, Sec-Fetch-Site) must say same origin, and X-CSRF-Token
 * must equal the token bound to the session (compared in constant time).
 * `host` is the request's Host header. True when the request passes. */
bool bw_auth_csrf_ok(const bw_auth *a, const char *session_token, size_t token_len,
                     const char *host, const char *origin, const char *sec_fetch_site,
                     const char *csrf_header);

/* Login: throttling per address and per account name, then a password
 * verification (a dummy one for an unknown or disabled user, so the answer
 * and its time do not tell), a rehash when the parameters changed, and a new
 * session. On BW_AUTH_OK, token (NUL-terminated) and *info are set; on
 * BW_AUTH_LOCKED, *retry_after_s. */
bw_auth_status bw_auth_login(bw_auth *a, sqlite3 *db, const char *client_addr, const char *name,
                             size_t nlen, const char *pw, size_t pwlen, long long now,
                             char token[BW_SESSION_TOKEN_LEN + 1], bw_session_info *info,
                             long long *retry_after_s);

/* User management (CLI and admin endpoints). Roles are checked against RBAC.
 * A password change, a role change and disabling end every session of the
 * user (a privilege change never keeps an old token). */
bw_auth_status bw_auth_user_create(bw_auth *a, sqlite3 *db, const char *name, size_t nlen,
                                   const char *pw, size_t pwlen, const char *roles, long long *id,
                                   const char **why);
bw_auth_status bw_auth_user_set_password(bw_auth *a, sqlite3 *db, long long id, const char *pw,
                                         size_t pwlen, const char **why);
/* The two halves of bw_auth_user_set_password, so a caller can hash (slow: one Argon2id
 * run) before taking the write lock and store inside its transaction: the policy check and
 * hash of pw for user id into hash (wiped by the caller), then the store and the end of the
 * user's sessions. */
bw_auth_status bw_auth_password_prepare(bw_auth *a, sqlite3 *db, long long id, const char *pw,
                                        size_t pwlen, char hash[BW_PASSWORD_HASH_MAX],
                                        const char **why);
bw_auth_status bw_auth_user_set_password_hash(bw_auth *a, sqlite3 *db, long long id,
                                              const char *hash);
bw_auth_status bw_auth_user_set_roles(bw_auth *a, sqlite3 *db, long long id, const char *roles,
                                      const char **why);
bw_auth_status bw_auth_user_set_disabled(bw_auth *a, sqlite3 *db, long long id, bool disabled);

/* Creates an API key for user id with `roles`, which must be a subset of the
 * user's roles. expires_at 0 = none, else later than now. */
bw_auth_status bw_auth_apikey_create(bw_auth *a, sqlite3 *db, long long user_id, const char *name,
                                     const char *roles, long long expires_at, long long now,
                                     char out[BW_APIKEY_LEN + 1], const char **why);

/* ---- For handlers ---- */

/* The service's auth (for admin handlers) and the caller, or NULL when the
 * request is anonymous (a public route without a credential). */
bw_auth *bw_req_auth(const bw_req *req);
const bw_principal *bw_req_principal(const bw_req *req);

/* True when principal p holds the permission with index perm: one of its
 * roles grants it and, for an API key, one of the key's roles too. */
bool bw_principal_allows(const bw_rbac *r, const bw_principal *p, int perm);

/* True when the caller holds permission perm (a name declared in
 * config/rbac.json; an undeclared one is false and logged). */
bool bw_authz_require(const bw_req *req, const char *perm);

/* True when the caller owns the object (owner_id is its user id) or holds
 * perm. Handlers answer 404 when false, so existence is not confirmed. */
bool bw_authz_owner_or(const bw_req *req, long long owner_id, const char *perm);

/* Handlers for the auth endpoints. login reads {"username", "password",
 * "session": "bearer"|"cookie"} (the route's body schema checks the shape):
 * bearer answers the token in the body; cookie sets __Host-bw_session
 * (Secure, HttpOnly, SameSite=Strict, Path=/) and __Host-bw_csrf and answers
 * the CSRF token. Failures: 401 (one answer for unknown user and wrong
 * password), 429 and 503 with Retry-After. logout ends the calling session,
 * logout_all every session of the caller, me describes the caller. */
int bw_auth_handle_login(bw_req *req, bw_res *res);
int bw_auth_handle_logout(bw_req *req, bw_res *res);
int bw_auth_handle_logout_all(bw_req *req, bw_res *res);
int bw_auth_handle_me(bw_req *req, bw_res *res);

#endif
