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

/* Stage: authentication. The credential (Authorization: Bearer, or the
 * session cookie) becomes a principal. On a public route a missing or
 * invalid credential leaves the request anonymous; elsewhere it is a 401.
 * A cookie session on an unsafe method must pass the CSRF check (403):
 * browsers attach cookies to cross-site requests, never headers. */
bool bw_stage_authenticate(bw_ctx *c)
{
    const char *authz = bw_req_header(&c->req, "Authorization");
    const char *cookie = bw_req_header(&c->req, "Cookie");
    bw_credential cred;
    int rc;

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
 * permission: that would map the authorization model for an attacker. */
bool bw_stage_authorize(bw_ctx *c)
{
    const bw_rbac *rbac;
    int perm;

    if (c->route->public)
        return true;
    rbac = bw_auth_rbac(c->srv->auth);
    perm = bw_rbac_permission_index(rbac, c->route->permission, strlen(c->route->permission));
    if (bw_principal_allows(rbac, &c->req.principal, perm))
        return true;
    bw_log_field d[] = {BW_LOG_S("reason", "permission"), BW_LOG_S("method", c->req.method)};
    (void)bw_audit_req(&c->req, "authz.denied", BW_AUDIT_FAILURE, c->req.route, d, 2);
    bw_res_problem(&c->res, 403, "You are not allowed to do this.");
    return false;
}
