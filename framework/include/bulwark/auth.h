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
#include "bulwark/totp.h"
#include "bulwark/user.h"

typedef enum bw_auth_kind {
    BW_AUTH_NONE = 0,
    BW_AUTH_SESSION,
    BW_AUTH_APIKEY,
    BW_AUTH_JWT /* a bearer JWT of a trusted issuer: no local account (user_id -1) */
} bw_auth_kind;

/* Who is calling. Filled by the pipeline; handlers read it. */
typedef struct bw_principal {
    bw_auth_kind kind;
    long long user_id;               /* -1 for BW_AUTH_JWT: the caller has no local account */
    char name[BW_USER_NAME_MAX + 1]; /* the user's name; BW_AUTH_JWT: the token's sub */
    bw_roleset roles;                /* the user's roles */
    bw_roleset scope; /* an API key's own roles: a permission needs both; sessions, JWT: all */
    bool via_cookie;
    bool mfa;
    long long session_id;                 /* BW_AUTH_SESSION */
    char apikey_id[BW_APIKEY_ID_LEN + 1]; /* BW_AUTH_APIKEY */
} bw_principal;

typedef struct bw_auth bw_auth;

/* Outcome of the management and login calls. */
typedef enum bw_auth_status {
    BW_AUTH_OK = 0,
    BW_AUTH_INVALID,     /* bad input; *why holds a user-facing sentence */
    BW_AUTH_EXISTS,      /* the username is taken */
    BW_AUTH_NOT_FOUND,   /* no such user */
    BW_AUTH_DENIED,      /* login: wrong username or password (one answer for both) */
    BW_AUTH_LOCKED,      /* login: account name or address throttled; see retry_after_s */
    BW_AUTH_BUSY,        /* every hashing slot stayed busy; retry after a second */
    BW_AUTH_FAILED,      /* database or internal error (logged) */
    BW_AUTH_MFA_REQUIRED /* login: the password is right, the account's second factor missing */
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

/* ---- JWT bearer tokens (auth.jwt.file; docs/jwt.md) ----
 *
 * The trusted issuers and their key sets are held as one read-only set. A
 * reload parses every file into a new set and swaps it in; verifications
 * already running finish on the set they started with (it is freed when the
 * last of them lets go), and a failed reload leaves the old set in use. */

/* Loads auth.jwt.file (nothing when it is ""): the issuers file, checked
 * against config/jwt.schema.json, each issuer's JWKS file, then
 * bw_jwt_policies_check; on success the new set replaces the current one and
 * *nkeys (may be NULL) is the number of keys across all issuers. Errors (-1,
 * the current set stays): a file that cannot be read, is not a regular file
 * or is too large, invalid JSON, a schema violation, a bad JWKS, an invalid
 * policy, out of memory; err names the file and the problem. */
int bw_auth_jwt_load(bw_auth *a, size_t *nkeys, char *err, size_t errlen);

/* True when JWT bearer tokens are configured (auth.jwt.file is not ""). */
bool bw_auth_jwt_enabled(const bw_auth *a);

/* True when the issuers file or a JWKS file of the current set has changed
 * (device, inode, size or modification time) or vanished since it was read,
 * or when the last load failed and a file changed since: the caller then
 * reloads. False when JWT is off. */
bool bw_auth_jwt_changed(const bw_auth *a);

/* Verifies the compact JWT token[0..len) at `now` against the current set
 * (bw_jwt_verify) and fills *p: kind BW_AUTH_JWT, user_id -1, name the sub,
 * roles the role names of the issuer's roles claim that RBAC knows (*unknown,
 * may be NULL, counts those it does not), scope all, mfa false. Returns 1, or
 * 0 with *p anonymous and a fixed reason in why (never token bytes): the
 * verifier's reason, "sub: too long for a principal name" (over
 * BW_USER_NAME_MAX bytes: refused, never cut, so two subs cannot meet), or
 * "jwt: not configured"; -1 when no thread could be started for the
 * verification (it runs on a thread of its own with a 512 KiB stack:
 * CivetWeb's workers have too little for wolfCrypt's ECDSA and RSA). Thread-
 * safe against bw_auth_jwt_load. */
int bw_auth_jwt_authenticate(const bw_auth *a, const char *token, size_t len, long long now,
                             bw_principal *p, size_t *unknown, char *why, size_t whylen);

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

/* ---- The second factor (docs/mfa.md) ---- */

/* What a login presents besides the password: a TOTP code, a recovery code, or neither
 * (NULL). At most one of the two counts; code wins when both are given. */
typedef struct bw_auth_factor {
    const char *code;
    size_t code_len;
    const char *recovery;
    size_t recovery_len;
} bw_auth_factor;

/* Which factor a login used (BW_AUTH_OK) or failed on (BW_AUTH_DENIED after the password
 * matched). */
typedef enum bw_auth_factor_kind {
    BW_AUTH_FACTOR_NONE = 0,
    BW_AUTH_FACTOR_TOTP,
    BW_AUTH_FACTOR_RECOVERY
} bw_auth_factor_kind;

/* What bw_auth_login_factor tells besides its status. */
typedef struct bw_auth_login_result {
    bw_session_info info;            /* BW_AUTH_OK: the new session */
    long long retry_after_s;         /* BW_AUTH_LOCKED */
    long long user_id;               /* > 0 once the password matched, else 0 */
    char name[BW_USER_NAME_MAX + 1]; /* that account's name, else "" */
    bw_auth_factor_kind factor;      /* the factor used, or refused after a good password */
} bw_auth_login_result;

/* bw_auth_login with a second factor. For an account whose factor is enabled (bw_mfa_status
 * BW_MFA_ENABLED; a pending enrolment does not count): without a factor, BW_AUTH_MFA_REQUIRED
 * (no session, no failure counted, the throttle not reset); a wrong, malformed or replayed
 * code, or an unknown or spent recovery code, is a failure counted by the throttle exactly like
 * a wrong password (BW_AUTH_DENIED); a good one creates a session with mfa = true and resets
 * the account's count. Accounts without the factor log in as before (mfa = false; a factor
 * sent along is ignored). f may be NULL. res is always filled. */
bw_auth_status bw_auth_login_factor(bw_auth *a, sqlite3 *db, const char *client_addr,
                                    const char *name, size_t nlen, const char *pw, size_t pwlen,
                                    const bw_auth_factor *f, long long now,
                                    char token[BW_SESSION_TOKEN_LEN + 1],
                                    bw_auth_login_result *res);

/* Starts (or restarts) TOTP enrolment for user_id: a fresh pending secret, written as base32
 * (NUL-terminated) into secret_b32 and as the otpauth:// URI (issuer `issuer`, account the
 * user's name) into uri[0..uri_cap). Both hold the secret: the caller sends them once and
 * wipes them (sodium_memzero). BW_AUTH_OK; BW_AUTH_EXISTS when the factor is already enabled;
 * BW_AUTH_NOT_FOUND; BW_AUTH_INVALID when the URI cannot be built (an issuer with ':');
 * BW_AUTH_FAILED. Both buffers are wiped unless BW_AUTH_OK. */
bw_auth_status bw_auth_mfa_enroll(bw_auth *a, sqlite3 *db, long long user_id, const char *issuer,
                                  long long now,
                                  char secret_b32[BW_TOTP_BASE32_LEN(BW_TOTP_SECRET_BYTES) + 1],
                                  char *uri, size_t uri_cap);

/* Confirms user_id's pending enrolment with code[0..code_len) at now: the factor is enabled
 * and BW_TOTP_RECOVERY_COUNT recovery codes written to codes (shown once, wiped by the
 * caller). Then every session of the user ends, and, when new_session is true, a session with
 * mfa = true is created in their place (token, *info): the caller keeps working on a fresh
 * token. BW_AUTH_OK; BW_AUTH_DENIED for a wrong code; BW_AUTH_NOT_FOUND without a pending
 * enrolment; BW_AUTH_EXISTS when already enabled; BW_AUTH_FAILED (the factor may be enabled
 * and the sessions not ended: the caller answers 500). codes is wiped unless BW_AUTH_OK. */
bw_auth_status bw_auth_mfa_confirm(bw_auth *a, sqlite3 *db, long long user_id, const char *code,
                                   size_t code_len, long long now, bool new_session,
                                   char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1],
                                   char token[BW_SESSION_TOKEN_LEN + 1], bw_session_info *info);

/* Turns user_id's second factor off after a fresh check of the password pw[0..pwlen) and a
 * current code[0..code_len), then ends every session of the user. Throttled like a login on
 * the account's name and client_addr: a wrong password or code counts as a failure.
 * BW_AUTH_OK; BW_AUTH_DENIED (wrong password or code; one answer); BW_AUTH_LOCKED
 * (*retry_after_s); BW_AUTH_NOT_FOUND when no factor is enabled; BW_AUTH_BUSY;
 * BW_AUTH_FAILED. */
bw_auth_status bw_auth_mfa_disable(bw_auth *a, sqlite3 *db, const char *client_addr,
                                   long long user_id, const char *pw, size_t pwlen,
                                   const char *code, size_t code_len, long long now,
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
 * "session": "bearer"|"cookie", "code" | "recovery_code"} (the route's body
 * schema checks the shape; the factor as bw_auth_login_factor says, 401 with
 * the problem type mfa-required when the account needs one and none came):
 * bearer answers the token in the body; cookie sets __Host-bw_session
 * (Secure, HttpOnly, SameSite=Strict, Path=/) and __Host-bw_csrf and answers
 * the CSRF token. Failures: 401 (one answer for unknown user and wrong
 * password), 429 and 503 with Retry-After. logout ends the calling session,
 * logout_all every session of the caller, me describes the caller (with
 * "mfa": {"enrolled", "session"}). */
int bw_auth_handle_login(bw_req *req, bw_res *res);
int bw_auth_handle_logout(bw_req *req, bw_res *res);
int bw_auth_handle_logout_all(bw_req *req, bw_res *res);
int bw_auth_handle_me(bw_req *req, bw_res *res);

/* Handlers for the second factor (sessions only: an API key gets 403). mfa_enroll (empty
 * body) answers {"secret", "uri"}, the URI naming `issuer` (the service as the user's
 * authenticator app lists it: 1 to 128 bytes, no ':' or control characters; the app wraps
 * this in a handler of its own); mfa_confirm reads {"code"} and answers {"recovery_codes"}
 * plus a new session in the caller's mode (login's fields), every other session ended;
 * mfa_disable reads {"password", "code"} and answers 204, every session ended. Answers that
 * carry secrets have Cache-Control: no-store. */
int bw_auth_handle_mfa_enroll(bw_req *req, bw_res *res, const char *issuer);
int bw_auth_handle_mfa_confirm(bw_req *req, bw_res *res);
int bw_auth_handle_mfa_disable(bw_req *req, bw_res *res);

#endif
