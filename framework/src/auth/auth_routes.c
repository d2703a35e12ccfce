/* The auth endpoints an app mounts: login, logout, logout-all, me, and the
 * second factor's enrol, confirm and disable. Their bodies were checked
 * against the route's schema before they run; the fields are read again
 * defensively. No code, secret or URI ever reaches a log line or an audit
 * record. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "auth_internal.h"
#include "bulwark/audit.h"
#include "bulwark/clock.h"
#include "bulwark/log.h"
#include "bulwark/mfa.h"
#include "bulwark/store.h"

/* An event about the account user_id (0: none known) with detail d[0..nd). */
static void user_event(const bw_req *req, const char *event, bw_audit_outcome outcome,
                       const char *actor, long long user_id, const bw_log_field *d, size_t nd)
{
    char target[32] = "";
    bw_audit_event ev = {.event = event,
                         .outcome = outcome,
                         .actor = actor,
                         .source = bw_req_client(req),
                         .request_id = bw_req_id(req),
                         .target = user_id > 0 ? target : NULL,
                         .detail = d,
                         .ndetail = nd};

    if (user_id > 0)
        (void)snprintf(target, sizeof(target), "user:%lld", user_id);
    (void)bw_audit_emit(&ev);
}

/* A login event. actor is the account that logged in or out, NULL for a failure: the name
 * a failed attempt gave is not recorded (people type passwords into the username field). */
static void login_event(const bw_req *req, const char *event, bw_audit_outcome outcome,
                        const char *actor, long long user_id, const char *mode)
{
    bw_log_field d[] = {BW_LOG_S("mode", mode)};

    user_event(req, event, outcome, actor, user_id, d, mode != NULL ? 1 : 0);
}

/* A second factor event: reason and mode may be NULL, count < 0 is left out. The actor is
 * known here: the password (or the session) already matched. */
static void mfa_event(const bw_req *req, const char *event, bw_audit_outcome outcome,
                      const char *actor, long long user_id, const char *reason, const char *mode,
                      long long count)
{
    bw_log_field d[3];
    size_t n = 0;

    if (reason != NULL)
        d[n++] = (bw_log_field)BW_LOG_S("reason", reason);
    if (mode != NULL)
        d[n++] = (bw_log_field)BW_LOG_S("mode", mode);
    if (count >= 0)
        d[n++] = (bw_log_field)BW_LOG_I("count", count);
    user_event(req, event, outcome, actor, user_id, d, n);
}

static int retry_after(bw_res *res, long long seconds)
{
    char v[24];
    int n = snprintf(v, sizeof(v), "%lld", seconds > 0 ? seconds : 1);

    if (n <= 0 || (size_t)n >= sizeof(v))
        return -1;
    return bw_res_header(res, "Retry-After", v);
}

/* Cookie mode: the session token only in an HttpOnly cookie, the CSRF token
 * in a readable one (double submit) and in the answer. */
static int set_cookies(bw_res *res, const char *token, const char *csrf, long long max_age)
{
    char c[256];
    int n = snprintf(c, sizeof(c),
                     BW_SESSION_COOKIE "=%s; Max-Age=%lld; Path=/; Secure; HttpOnly; "
                                       "SameSite=Strict",
                     token, max_age);
    int rc = n > 0 && (size_t)n < sizeof(c) ? bw_res_header(res, "Set-Cookie", c) : -1;

    sodium_memzero(c, sizeof(c));
    if (rc != 0)
        return -1;
    n = snprintf(c, sizeof(c), BW_CSRF_COOKIE "=%s; Max-Age=%lld; Path=/; Secure; SameSite=Strict",
                 csrf, max_age);
    return n > 0 && (size_t)n < sizeof(c) ? bw_res_header(res, "Set-Cookie", c) : -1;
}

static int clear_cookies(bw_res *res)
{
    if (bw_res_header(res, "Set-Cookie",
                      BW_SESSION_COOKIE
                      "=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict") != 0)
        return -1;
    return bw_res_header(res, "Set-Cookie",
                         BW_CSRF_COOKIE "=; Max-Age=0; Path=/; Secure; SameSite=Strict");
}

static int login_ok(bw_res *res, const bw_auth *a, const char *mode, const char *token,
                    const bw_session_info *info)
{
    json_t *body;

    if (strcmp(mode, "cookie") == 0) {
        char csrf[BW_SESSION_TOKEN_LEN + 1];

        if (bw_auth_csrf_token(a, token, BW_SESSION_TOKEN_LEN, csrf) != 0 ||
            set_cookies(res, token, csrf, info->expires_at - bw_clock_unix()) != 0)
            return bw_res_problem(res, 500, NULL);
        body = json_pack("{s:s, s:s, s:I}", "session", "cookie", "csrf_token", csrf, "expires_at",
                         (json_int_t)info->expires_at);
    } else {
        body = json_pack("{s:s, s:s, s:s, s:I}", "session", "bearer", "token_type", "Bearer",
                         "token", token, "expires_at", (json_int_t)info->expires_at);
    }
    return bw_res_json(res, 200, body);
}

/* The optional "code" or "recovery_code" of a login body into f. 0, or -1 when both are
 * given or one is not a string. */
static int login_factor(const json_t *doc, bw_auth_factor *f)
{
    const json_t *jc = json_object_get(doc, "code"), *jr = json_object_get(doc, "recovery_code");

    memset(f, 0, sizeof(*f));
    if ((jc != NULL && !json_is_string(jc)) || (jr != NULL && !json_is_string(jr)) ||
        (jc != NULL && jr != NULL))
        return -1;
    if (jc != NULL) {
        f->code = json_string_value(jc);
        f->code_len = json_string_length(jc);
    }
    if (jr != NULL) {
        f->recovery = json_string_value(jr);
        f->recovery_len = json_string_length(jr);
    }
    return 0;
}

/* A refused second factor at login (the password matched): counted like a wrong password. */
static int factor_refused(const bw_req *req, bw_res *res, const bw_auth_login_result *r,
                          const char *mode)
{
    mfa_event(req, "auth.mfa.failure", BW_AUDIT_FAILURE, r->name, r->user_id,
              r->factor == BW_AUTH_FACTOR_RECOVERY ? "wrong_recovery_code" : "wrong_code", mode,
              -1);
    return bw_res_problem(res, 401, "The code is incorrect or was already used.");
}

int bw_auth_handle_login(bw_req *req, bw_res *res)
{
    bw_auth *a = bw_req_auth(req);
    json_t *doc = bw_req_json(req);
    const json_t *jn = json_object_get(doc, "username"), *jp = json_object_get(doc, "password");
    const char *mode = json_string_value(json_object_get(doc, "session"));
    sqlite3 *db = bw_store_conn(bw_req_store(req));
    char token[BW_SESSION_TOKEN_LEN + 1];
    bw_auth_login_result r;
    bw_auth_factor f;
    bw_auth_status st;
    int rc;

    if (a == NULL || !json_is_string(jn) || !json_is_string(jp))
        return bw_res_problem(res, 400, "username and password are required strings.");
    if (login_factor(doc, &f) != 0)
        return bw_res_problem(res, 400, "Send either code or recovery_code, as a string.");
    if (mode == NULL)
        mode = "bearer";
    st = bw_auth_login_factor(a, db, bw_req_client(req), json_string_value(jn),
                              json_string_length(jn), json_string_value(jp), json_string_length(jp),
                              &f, bw_clock_unix(), token, &r);
    switch (st) {
    case BW_AUTH_OK:
        if (r.factor == BW_AUTH_FACTOR_RECOVERY)
            mfa_event(req, "auth.mfa.recovery_used", BW_AUDIT_SUCCESS, r.name, r.user_id, NULL,
                      mode, bw_mfa_recovery_left(db, r.user_id));
        login_event(req, "auth.login.success", BW_AUDIT_SUCCESS, r.name, r.user_id, mode);
        rc = login_ok(res, a, mode, token, &r.info);
        sodium_memzero(token, sizeof(token));
        return rc;
    case BW_AUTH_MFA_REQUIRED:
        /* The password was right: the trail shows it, as someone else may know it. */
        mfa_event(req, "auth.mfa.required", BW_AUDIT_INFO, r.name, r.user_id, NULL, mode, -1);
        return bw_res_problem_typed(res, 401, "mfa-required",
                                    "This account needs a second factor: send the code from "
                                    "your authenticator app, or a recovery code.");
    case BW_AUTH_DENIED:
        if (r.user_id > 0)
            return factor_refused(req, res, &r, mode);
        login_event(req, "auth.login.failure", BW_AUDIT_FAILURE, NULL, 0, mode);
        return bw_res_problem(res, 401, "The username or password is incorrect.");
    case BW_AUTH_LOCKED:
        login_event(req, "auth.lockout", BW_AUDIT_FAILURE, NULL, 0, mode);
        retry_after(res, r.retry_after_s);
        return bw_res_problem(res, 429, "Too many failed logins. Try again later.");
    case BW_AUTH_BUSY:
        retry_after(res, 1);
        return bw_res_problem(res, 503, "The service is busy. Try again shortly.");
    default:
        return bw_res_problem(res, 500, NULL);
    }
}

int bw_auth_handle_logout(bw_req *req, bw_res *res)
{
    const bw_principal *p = bw_req_principal(req);

    if (p == NULL || p->kind != BW_AUTH_SESSION)
        return bw_res_problem(res, 400, "Only a session can log out; revoke API keys instead.");
    if (bw_session_revoke(bw_store_conn(bw_req_store(req)), p->session_id) < 0)
        return bw_res_problem(res, 500, NULL);
    login_event(req, "session.logout", BW_AUDIT_SUCCESS, p->name, p->user_id, NULL);
    if (clear_cookies(res) != 0)
        return bw_res_problem(res, 500, NULL);
    bw_res_empty(res, 204);
    return 0;
}

int bw_auth_handle_logout_all(bw_req *req, bw_res *res)
{
    const bw_principal *p = bw_req_principal(req);
    int n;

    if (p == NULL)
        return bw_res_problem(res, 401, NULL);
    n = bw_session_revoke_user(bw_store_conn(bw_req_store(req)), p->user_id);
    if (n < 0)
        return bw_res_problem(res, 500, NULL);
    bw_log_field d[] = {BW_LOG_I("count", n)};
    (void)bw_audit_req(req, "session.logout_all", BW_AUDIT_SUCCESS, NULL, d, 1);
    if (clear_cookies(res) != 0)
        return bw_res_problem(res, 500, NULL);
    bw_res_empty(res, 204);
    return 0;
}

/* The role names of set, as a JSON array, or NULL (out of memory). */
static json_t *role_names(const bw_auth *a, bw_roleset set)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < bw_rbac_role_count(a->rbac); i++) {
        if ((set & ((bw_roleset)1 << i)) != 0 &&
            json_array_append_new(arr, json_string(bw_rbac_role_name(a->rbac, i))) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static const char *auth_kind_name(bw_auth_kind k)
{
    switch (k) {
    case BW_AUTH_APIKEY:
        return "apikey";
    case BW_AUTH_JWT:
        return "jwt";
    default:
        return "session";
    }
}

/* "mfa": whether the user's factor is enabled, and whether this credential
 * passed it (never a key or a JWT). A session shows the user's roles. A key
 * shows its own roles and its owner's: a permission needs both, so a key of a
 * demoted owner may do less than its own roles say. */
int bw_auth_handle_me(bw_req *req, bw_res *res)
{
    const bw_principal *p = bw_req_principal(req);
    const bw_auth *a = bw_req_auth(req);
    json_t *body;
    int enrolled;

    if (p == NULL || a == NULL)
        return bw_res_problem(res, 401, NULL);
    enrolled = p->user_id > 0 ? bw_mfa_status(bw_store_conn(bw_req_store(req)), p->user_id) : 0;
    if (enrolled < 0)
        return bw_res_problem(res, 500, NULL);
    body = json_pack(
        "{s:I, s:s, s:o*, s:s, s:{s:b, s:b}}", "id", (json_int_t)p->user_id, "username", p->name,
        "roles", role_names(a, p->kind == BW_AUTH_APIKEY ? p->scope : p->roles), "auth",
        auth_kind_name(p->kind), "mfa", "enrolled", enrolled == BW_MFA_ENABLED, "session", p->mfa);
    if (body != NULL && p->kind == BW_AUTH_APIKEY &&
        json_object_set_new(body, "owner_roles", role_names(a, p->roles)) != 0) {
        json_decref(body);
        body = NULL;
    }
    if (body == NULL || json_object_get(body, "roles") == NULL)
        return bw_res_problem(res, 500, NULL);
    return bw_res_json(res, 200, body);
}

/* ---- The second factor ---- */

/* The caller of a second factor route: a session (an API key or a JWT is a machine's
 * credential and never enrols or holds a factor). NULL after answering. */
static const bw_principal *mfa_caller(const bw_req *req, bw_res *res)
{
    const bw_principal *p = bw_req_principal(req);

    if (p == NULL || bw_req_auth(req) == NULL) {
        bw_res_problem(res, 401, NULL);
        return NULL;
    }
    if (p->kind != BW_AUTH_SESSION) {
        bw_res_problem(res, 403, "Only a login session can manage a second factor.");
        return NULL;
    }
    return p;
}

/* The JSON text in buf[0..n) (n from snprintf into cap) as the 200 answer. The copy the
 * response keeps lives in the request arena; the caller wipes buf. Cache-Control: no-store
 * is on every answer (headers.c), so none of this is cached. */
static int secret_answer(bw_res *res, const char *buf, int n, size_t cap)
{
    if (n <= 0 || (size_t)n >= cap)
        return bw_res_problem(res, 500, NULL);
    if (bw_res_body(res, 200, "application/json", buf, (size_t)n) != 0)
        return bw_res_problem(res, 500, NULL);
    return 0;
}

int bw_auth_handle_mfa_enroll(bw_req *req, bw_res *res, const char *issuer)
{
    const bw_principal *p = mfa_caller(req, res);
    char secret[BW_TOTP_BASE32_LEN(BW_TOTP_SECRET_BYTES) + 1], uri[1280], body[1408];
    bw_auth_status st;
    int n, rc;

    if (p == NULL)
        return 0;
    st = bw_auth_mfa_enroll(bw_req_auth(req), bw_store_conn(bw_req_store(req)), p->user_id, issuer,
                            bw_clock_unix(), secret, uri, sizeof(uri));
    switch (st) {
    case BW_AUTH_OK:
        break;
    case BW_AUTH_EXISTS:
        return bw_res_problem(res, 409, "A second factor is already enabled; disable it first.");
    default:
        /* BW_AUTH_INVALID: the app's issuer cannot go into a URI (logged below). */
        if (st == BW_AUTH_INVALID)
            bw_log(BW_LOG_ERROR, "auth.mfa.issuer_invalid", NULL, 0);
        return bw_res_problem(res, 500, NULL);
    }
    /* Base32 and a percent-encoded URI hold no character JSON would escape. */
    n = snprintf(body, sizeof(body), "{\"secret\":\"%s\",\"uri\":\"%s\"}", secret, uri);
    rc = secret_answer(res, body, n, sizeof(body));
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(uri, sizeof(uri));
    sodium_memzero(body, sizeof(body));
    if (rc == 0 && bw_res_get_status(res) == 200)
        mfa_event(req, "auth.mfa.enrolled", BW_AUDIT_SUCCESS, p->name, p->user_id, NULL, NULL, -1);
    return rc;
}

/* The recovery codes as a JSON array into out[0..cap). Returns the length, or -1. */
static int codes_json(char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1], char *out,
                      size_t cap)
{
    size_t len = 0;

    for (size_t i = 0; i < BW_TOTP_RECOVERY_COUNT; i++) {
        int n = snprintf(out + len, cap - len, "%s\"%s\"", i == 0 ? "[" : ",", codes[i]);

        if (n <= 0 || (size_t)n >= cap - len)
            return -1;
        len += (size_t)n;
    }
    if (cap - len < 2)
        return -1;
    out[len++] = ']';
    out[len] = '\0';
    return (int)len;
}

/* The answer to a confirmed enrolment: the codes and the caller's new session, in the mode
 * of the old one (cookies for a cookie session, the token in the body for a bearer one). */
static int confirm_answer(bw_res *res, const bw_auth *a, bool cookie,
                          char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1],
                          const char *token, const bw_session_info *info)
{
    char list[BW_TOTP_RECOVERY_COUNT * (BW_TOTP_RECOVERY_LEN + 3) + 8], body[640];
    char csrf[BW_SESSION_TOKEN_LEN + 1];
    int n, rc;

    if (codes_json(codes, list, sizeof(list)) < 0) {
        rc = bw_res_problem(res, 500, NULL);
    } else if (cookie) {
        if (bw_auth_csrf_token(a, token, BW_SESSION_TOKEN_LEN, csrf) != 0 ||
            set_cookies(res, token, csrf, info->expires_at - bw_clock_unix()) != 0) {
            rc = bw_res_problem(res, 500, NULL);
        } else {
            n = snprintf(body, sizeof(body),
                         "{\"recovery_codes\":%s,\"session\":\"cookie\",\"csrf_token\":\"%s\","
                         "\"expires_at\":%lld}",
                         list, csrf, info->expires_at);
            rc = secret_answer(res, body, n, sizeof(body));
        }
    } else {
        n = snprintf(body, sizeof(body),
                     "{\"recovery_codes\":%s,\"session\":\"bearer\",\"token_type\":\"Bearer\","
                     "\"token\":\"%s\",\"expires_at\":%lld}",
                     list, token, info->expires_at);
        rc = secret_answer(res, body, n, sizeof(body));
    }
    sodium_memzero(list, sizeof(list));
    sodium_memzero(body, sizeof(body));
    return rc;
}

int bw_auth_handle_mfa_confirm(bw_req *req, bw_res *res)
{
    const bw_principal *p = mfa_caller(req, res);
    const json_t *jc = json_object_get(bw_req_json(req), "code");
    char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    char token[BW_SESSION_TOKEN_LEN + 1];
    bw_session_info info;
    bw_auth_status st;
    int rc;

    if (p == NULL)
        return 0;
    if (!json_is_string(jc))
        return bw_res_problem(res, 400, "code is a required string.");
    st = bw_auth_mfa_confirm(bw_req_auth(req), bw_store_conn(bw_req_store(req)), p->user_id,
                             json_string_value(jc), json_string_length(jc), bw_clock_unix(), true,
                             codes, token, &info);
    switch (st) {
    case BW_AUTH_OK:
        break;
    case BW_AUTH_DENIED:
        mfa_event(req, "auth.mfa.failure", BW_AUDIT_FAILURE, p->name, p->user_id, "wrong_code",
                  "confirm", -1);
        return bw_res_problem(res, 400,
                              "The code is incorrect. Check the device's clock and try the "
                              "next code.");
    case BW_AUTH_NOT_FOUND:
        return bw_res_problem(res, 409, "No enrolment is pending; start one first.");
    case BW_AUTH_EXISTS:
        return bw_res_problem(res, 409, "A second factor is already enabled.");
    default:
        return bw_res_problem(res, 500, NULL);
    }
    /* Every session ended, the caller's too: it continues on the new one. */
    mfa_event(req, "auth.mfa.enabled", BW_AUDIT_SUCCESS, p->name, p->user_id, NULL,
              p->via_cookie ? "cookie" : "bearer", -1);
    rc = confirm_answer(res, bw_req_auth(req), p->via_cookie, codes, token, &info);
    sodium_memzero(codes, sizeof(codes));
    sodium_memzero(token, sizeof(token));
    return rc;
}

int bw_auth_handle_mfa_disable(bw_req *req, bw_res *res)
{
    const bw_principal *p = mfa_caller(req, res);
    json_t *doc = bw_req_json(req);
    const json_t *jp = json_object_get(doc, "password"), *jc = json_object_get(doc, "code");
    long long retry = 0;
    bw_auth_status st;

    if (p == NULL)
        return 0;
    if (!json_is_string(jp) || !json_is_string(jc))
        return bw_res_problem(res, 400, "password and code are required strings.");
    st =
        bw_auth_mfa_disable(bw_req_auth(req), bw_store_conn(bw_req_store(req)), bw_req_client(req),
                            p->user_id, json_string_value(jp), json_string_length(jp),
                            json_string_value(jc), json_string_length(jc), bw_clock_unix(), &retry);
    switch (st) {
    case BW_AUTH_OK:
        mfa_event(req, "auth.mfa.disabled", BW_AUDIT_SUCCESS, p->name, p->user_id, NULL, NULL, -1);
        if (clear_cookies(res) != 0)
            return bw_res_problem(res, 500, NULL);
        bw_res_empty(res, 204);
        return 0;
    case BW_AUTH_DENIED:
        mfa_event(req, "auth.mfa.failure", BW_AUDIT_FAILURE, p->name, p->user_id,
                  "wrong_password_or_code", "disable", -1);
        return bw_res_problem(res, 403, "The password or code is incorrect.");
    case BW_AUTH_LOCKED:
        mfa_event(req, "auth.lockout", BW_AUDIT_FAILURE, p->name, p->user_id, NULL, "disable", -1);
        retry_after(res, retry);
        return bw_res_problem(res, 429, "Too many failed attempts. Try again later.");
    case BW_AUTH_NOT_FOUND:
        return bw_res_problem(res, 409, "No second factor is enabled.");
    case BW_AUTH_BUSY:
        retry_after(res, 1);
        return bw_res_problem(res, 503, "The service is busy. Try again shortly.");
    default:
        return bw_res_problem(res, 500, NULL);
    }
}
