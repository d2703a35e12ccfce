/* Authentication and authorization stages (docs/auth.md). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bulwark/clock.h"
#include "bulwark/credential.h"
#include "bulwark/log.h"
#include "bulwark/audit.h"
#include "stage.h"

static bool unauthenticated(bw_ctx *c, bool invalid)
{
    c->credential_refused = invalid;
    bw_res_problem(&c->res, 401, "Authentication is required.");
    bw_res_header(&c->res, "WWW-Authenticate",
                  invalid ? "Bearer realm=\"bulwark\", error=\"invalid_token\""
                          : "Bearer realm=\"bulwark\"");
    return false;
}

static bool is_safe_method(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

/* The token of "Authorization: Bearer <token>" when it is shaped like a JWT
 * (exactly two '.'; session tokens and API keys have none), else NULL. */
static const char *jwt_bearer(const char *authz, size_t *len)
{
    static const char scheme[] = "Bearer ";
    const size_t slen = sizeof(scheme) - 1;
    size_t n = strlen(authz), dots = 0;

    if (n <= slen || strncasecmp(authz, scheme, slen - 1) != 0 || authz[slen - 1] != ' ')
        return NULL;
    for (size_t i = slen; i < n; i++)
        dots += authz[i] == '.';
    if (dots != 2)
        return NULL;
    *len = n - slen;
    return authz + slen;
}

/* A bearer JWT (docs/jwt.md): a principal of a trusted issuer, or a 401 whose
 * audit record carries the verifier's reason (never sent to the client). */
static bool authenticate_jwt(bw_ctx *c, const char *token, size_t len)
{
    char why[sizeof(c->refused_reason)] = "";
    size_t unknown = 0;
    int rc = bw_auth_jwt_authenticate(c->srv->auth, token, len, bw_clock_unix(), &c->req.principal,
                                      &unknown, why, sizeof(why));

    if (rc < 0) {
        bw_log(BW_LOG_ERROR, "auth.jwt.failed", (bw_log_field[]){BW_LOG_S("reason", why)}, 1);
        bw_res_problem(&c->res, 500, NULL);
        return false;
    }
    if (rc == 1) {
        /* Role names the RBAC model does not declare grant nothing. IdPs add
         * their own to every token, so this is no event worth a record. */
        if (unknown > 0)
            bw_log(BW_LOG_DEBUG, "auth.jwt.roles_ignored",
                   (bw_log_field[]){BW_LOG_I("count", (long long)unknown)}, 1);
        return true;
    }
    if (c->route->public)
        return true;
    (void)snprintf(c->refused_reason, sizeof(c->refused_reason), "%s", why);
    return unauthenticated(c, true);
}

/* Stage: authentication. The credential (Authorization: Bearer, or the
 * session cookie) becomes a principal. On a public route a missing or
 * invalid credential leaves the request anonymous; elsewhere it is a 401.
 * A bearer JWT is verified against the trusted issuers (auth.jwt.file).
 * A cookie session on an unsafe method must pass the CSRF check (403):
 * browsers attach cookies to cross-site requests, never headers. */
bool bw_stage_authenticate(bw_ctx *c)
{
    const char *authz = bw_req_header(&c->req, "Authorization");
    const char *cookie = bw_req_header(&c->req, "Cookie");
    bw_credential cred;
    const char *jwt;
    size_t jwt_len = 0;
    int rc;

    /* A bearer token shaped like a JWT goes to the trusted issuers' keys when
     * they are configured; a cookie is never a JWT. */
    if (authz != NULL && bw_req_header_count(&c->req, "Authorization") == 1 &&
        bw_auth_jwt_enabled(c->srv->auth) && (jwt = jwt_bearer(authz, &jwt_len)) != NULL)
        return authenticate_jwt(c, jwt, jwt_len);
    bw_credential_parse(authz, authz != NULL ? strlen(authz) : 0, cookie,
                        cookie != NULL ? strlen(cookie) : 0, &cred);
    /* Authorization is single-valued, and a user agent sends one Cookie line:
     * with two, which one a proxy acted on is unknowable. */
    if (bw_req_header_count(&c->req, "Authorization") > 1 ||
        bw_req_header_count(&c->req, "Cookie") > 1)
        cred.kind = BW_CREDENTIAL_BAD;
    if (cred.kind == BW_CREDENTIAL_NONE || cred.kind == BW_CREDENTIAL_BAD)
        return c->route->public ? true : unauthenticated(c, cred.kind == BW_CREDENTIAL_BAD);
    rc =
        bw_auth_authenticate(c->srv->auth, bw_store_conn(c->srv->store), cred.token, cred.len,
                             cred.kind == BW_CREDENTIAL_COOKIE, bw_clock_unix(), &c->req.principal);
    if (rc < 0) {
        bw_res_problem(&c->res, 500, NULL);
        return false;
    }
    if (rc == 0) {
        c->req.principal.kind = BW_AUTH_NONE;
        c->req.principal.user_id = -1;
        return c->route->public ? true : unauthenticated(c, true);
    }
    if (cred.kind == BW_CREDENTIAL_COOKIE && !is_safe_method(c->req.method) &&
        !bw_auth_csrf_ok(c->srv->auth, cred.token, cred.len, bw_req_header(&c->req, "Host"),
                         bw_req_header(&c->req, "Origin"), bw_req_header(&c->req, "Sec-Fetch-Site"),
                         bw_req_header(&c->req, BW_CSRF_HEADER))) {
        bw_log_field d[] = {BW_LOG_S("reason", "csrf"), BW_LOG_S("method", c->req.method)};
        (void)bw_audit_req(&c->req, "authz.denied", BW_AUDIT_FAILURE, c->req.route, d, 2);
        bw_res_problem(&c->res, 403, "The request failed the cross-site request check.");
        return false;
    }
    return true;
}

/* Stage: the route's permission (default deny). The answer never names the
 * permission: that would map the authorization model for an attacker. A
 * route marked .mfa also needs a session that passed a second factor: API
 * keys and JWTs never carry one (docs/mfa.md). */
bool bw_stage_authorize(bw_ctx *c)
{
    const bw_rbac *rbac;
    int perm;
    bool allowed;

    if (c->route->public)
        return true;
    rbac = bw_auth_rbac(c->srv->auth);
    perm = bw_rbac_permission_index(rbac, c->route->permission, strlen(c->route->permission));
    allowed = bw_principal_allows(rbac, &c->req.principal, perm);
    if (allowed && (!c->route->mfa || c->req.principal.mfa))
        return true;
    bw_log_field d[] = {BW_LOG_S("reason", allowed ? "mfa" : "permission"),
                        BW_LOG_S("method", c->req.method)};
    (void)bw_audit_req(&c->req, "authz.denied", BW_AUDIT_FAILURE, c->req.route, d, 2);
    if (allowed)
        bw_res_problem_typed(&c->res, 403, "mfa-required", "This action needs a second factor.");
    else
        bw_res_problem(&c->res, 403, "You are not allowed to do this.");
    return false;
}
