/* The auth endpoints an app mounts: login, logout, logout-all, me. Their
 * bodies were checked against the route's schema before they run; the
 * fields are read again defensively. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "auth_internal.h"
#include "bulwark/audit.h"
#include "bulwark/clock.h"
#include "bulwark/log.h"
#include "bulwark/store.h"

/* A login event. actor is the account that logged in or out, NULL for a failure: the name
 * a failed attempt gave is not recorded (people type passwords into the username field). */
static void login_event(const bw_req *req, const char *event, bw_audit_outcome outcome,
                        const char *actor, long long user_id, const char *mode)
{
    char target[32] = "";
    bw_log_field d[] = {BW_LOG_S("mode", mode)};
    bw_audit_event ev = {.event = event,
                         .outcome = outcome,
                         .actor = actor,
                         .source = bw_req_client(req),
                         .request_id = bw_req_id(req),
                         .target = user_id > 0 ? target : NULL,
                         .detail = d,
                         .ndetail = mode != NULL ? 1 : 0};

    if (user_id > 0)
        (void)snprintf(target, sizeof(target), "user:%lld", user_id);
    (void)bw_audit_emit(&ev);
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

int bw_auth_handle_login(bw_req *req, bw_res *res)
{
    bw_auth *a = bw_req_auth(req);
    json_t *doc = bw_req_json(req);
    const json_t *jn = json_object_get(doc, "username"), *jp = json_object_get(doc, "password");
    const char *mode = json_string_value(json_object_get(doc, "session"));
    char token[BW_SESSION_TOKEN_LEN + 1];
    bw_session_info info;
    long long retry = 0;
    bw_auth_status st;
    int rc;

    if (a == NULL || !json_is_string(jn) || !json_is_string(jp))
        return bw_res_problem(res, 400, "username and password are required strings.");
    if (mode == NULL)
        mode = "bearer";
    st = bw_auth_login(a, bw_store_conn(bw_req_store(req)), bw_req_client(req),
                       json_string_value(jn), json_string_length(jn), json_string_value(jp),
                       json_string_length(jp), bw_clock_unix(), token, &info, &retry);
    switch (st) {
    case BW_AUTH_OK:
        login_event(req, "auth.login.success", BW_AUDIT_SUCCESS, json_string_value(jn),
                    info.user_id, mode);
        rc = login_ok(res, a, mode, token, &info);
        sodium_memzero(token, sizeof(token));
        return rc;
    case BW_AUTH_DENIED:
        login_event(req, "auth.login.failure", BW_AUDIT_FAILURE, NULL, 0, mode);
        return bw_res_problem(res, 401, "The username or password is incorrect.");
    case BW_AUTH_LOCKED:
        login_event(req, "auth.lockout", BW_AUDIT_FAILURE, NULL, 0, mode);
        retry_after(res, retry);
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

/* A session shows the user's roles. A key shows its own roles and its
 * owner's: a permission needs both, so a key of a demoted owner may do less
 * than its own roles say. */
int bw_auth_handle_me(bw_req *req, bw_res *res)
{
    const bw_principal *p = bw_req_principal(req);
    const bw_auth *a = bw_req_auth(req);
    json_t *body;

    if (p == NULL || a == NULL)
        return bw_res_problem(res, 401, NULL);
    body =
        json_pack("{s:I, s:s, s:o*, s:s, s:b}", "id", (json_int_t)p->user_id, "username", p->name,
                  "roles", role_names(a, p->kind == BW_AUTH_APIKEY ? p->scope : p->roles), "auth",
                  p->kind == BW_AUTH_APIKEY ? "apikey" : "session", "mfa", p->mfa);
    if (body != NULL && p->kind == BW_AUTH_APIKEY &&
        json_object_set_new(body, "owner_roles", role_names(a, p->roles)) != 0) {
        json_decref(body);
        body = NULL;
    }
    if (body == NULL || json_object_get(body, "roles") == NULL)
        return bw_res_problem(res, 500, NULL);
    return bw_res_json(res, 200, body);
}
