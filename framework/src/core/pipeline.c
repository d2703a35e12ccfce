/* The request path: one direction, fixed stage order (DESIGN.md).
 *
 *   capacity -> framing -> rate limit (address) -> path -> query -> route/method -> CORS
 *   -> limits -> authentication -> rate limit (principal, route) -> authorization
 *   -> body -> validation -> handler -> response headers -> write -> access log
 *
 * Each stage either lets the request go on or sets a problem response and
 * stops it. Everything a request allocates comes from its arena, freed at
 * the end of bw_pipeline_handle. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bulwark/clock.h"
#include "bulwark/credential.h"
#include "bulwark/http.h"
#include "bulwark/jsonbody.h"
#include "bulwark/log.h"
#include "bulwark/path.h"
#include "bulwark/text.h"
#include "internal.h"

/* Lingering close: after refusing a request whose body was not read, the
 * answer goes out first (with Connection: close), then what the client
 * still sends is read and dropped, up to twice the largest body the server
 * accepts, before the connection closes. Closing a socket with unread data
 * sends a reset, and a client still sending would lose our answer. Each
 * read is bounded by server.request_timeout_ms. */
#define BW_DRAIN_MIN 65536 /* 64 KiB, whatever max_body_bytes is */

typedef struct bw_ctx {
    bw_server *srv;
    bw_req req;
    bw_res res;
    const bw_route *route;    /* NULL until matched */
    long long content_length; /* -1: none given */
    bool chunked;
    bool has_body;
    bool body_read;  /* the body was read whole (or there is none) */
    bool must_close; /* framing was ambiguous: never reuse the connection */
    bool head_only;
    bw_header_kv cors[BW_CORS_MAX_HEADERS];
    size_t ncors;
    /* The rate policy closest to refusing among those checked (RateLimit fields). */
    const bw_rate_policy *rate_policy;
    const char *rate_name;
    bw_rate_result rate;
    char cors_buf[BW_CORS_BUF_SIZE];
} bw_ctx;

/* Parses a Content-Length value: digits only (no sign, space or list).
 * Values beyond LLONG_MAX saturate: they exceed every body limit anyway. */
static bool parse_length(const char *p, size_t len, long long *out)
{
    long long v = 0;
    size_t i;

    if (len == 0)
        return false;
    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        if (v > (LLONG_MAX - (p[i] - '0')) / 10)
            v = LLONG_MAX;
        else
            v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

/* CivetWeb 1.15 parses the request head in place and is lenient where RFC
 * 9112 requires a 400: it accepts whitespace between a field name and its
 * colon, and it silently stops at a line that starts with whitespace
 * (obsolete folding) or with a colon, ignoring every field after it. Both
 * let a proxy and this server disagree about the message, so both are
 * refused. The check reads only bytes between pointers CivetWeb handed us:
 * - in place, "Name : v" becomes "Name\0\0 v": a second NUL right after the
 *   name, before the value, means whitespace preceded the colon;
 * - after the last parsed field CivetWeb's buffer holds the (NUL-ed) line end
 *   and then the blank line that ends the head; anything else means parsing
 *   stopped early. A change of CivetWeb's parser is caught by
 *   tests/security/test_smuggling.c. */
static bool head_is_wellformed(const struct mg_request_info *ri)
{
    const char *end = NULL;
    int i;

    for (i = 0; i < ri->num_headers; i++) {
        const char *name = ri->http_headers[i].name;
        const char *value = ri->http_headers[i].value;
        size_t nlen = strlen(name);

        if (nlen == 0)
            return false;
        if (value > name + nlen + 1 && name[nlen + 1] == '\0')
            return false;
        end = value + strlen(value);
    }
    if (end == NULL)
        return true;
    /* end: the NUL that was '\r' (then the NUL that was '\n') or '\n'. */
    end++;
    if (*end == '\0')
        end++;
    return *end == '\r' || *end == '\n';
}

/* Stage: message framing. Ambiguous framing is how requests are smuggled
 * past proxies, so anything but one clear length is refused and the
 * connection is not reused. */
static bool stage_framing(bw_ctx *c)
{
    const struct mg_request_info *ri = c->req.ri;
    const char *cl = NULL, *te = NULL;
    int i, ncl = 0, nte = 0, nhost = 0;

    for (i = 0; i < ri->num_headers; i++) {
        const char *name = ri->http_headers[i].name;
        if (strcasecmp(name, "Content-Length") == 0) {
            cl = ri->http_headers[i].value;
            ncl++;
        } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
            te = ri->http_headers[i].value;
            nte++;
        } else if (strcasecmp(name, "Host") == 0) {
            nhost++;
        }
    }
    c->must_close = true; /* until the framing is known to be clear */
    if (ri->num_headers > c->srv->cfg->server.max_headers) {
        bw_res_problem(&c->res, 431, "The request has too many header fields.");
        return false;
    }
    if (!head_is_wellformed(ri)) {
        bw_res_problem(&c->res, 400, "The request header section is malformed.");
        return false;
    }
    if (nhost > 1 ||
        (nhost == 0 && ri->http_version != NULL && strcmp(ri->http_version, "1.1") == 0)) {
        bw_res_problem(&c->res, 400, "The request must have exactly one Host header.");
        return false;
    }
    if (ncl > 1 || nte > 1 || (ncl > 0 && nte > 0)) {
        bw_res_problem(&c->res, 400, "The request has conflicting message length headers.");
        return false;
    }
    if (te != NULL) {
        if (strcasecmp(te, "chunked") != 0) {
            bw_res_problem(&c->res, 400, "Only the chunked transfer coding is accepted.");
            return false;
        }
        c->chunked = true;
        c->has_body = true;
    }
    if (cl != NULL) {
        if (!parse_length(cl, strlen(cl), &c->content_length)) {
            bw_res_problem(&c->res, 400, "The Content-Length header is not a decimal number.");
            return false;
        }
        c->has_body = c->content_length > 0;
    }
    c->must_close = false;
    c->body_read = !c->has_body;
    return true;
}

/* The host part of a Host header, if it is a plain DNS name, IPv4 address
 * or bracketed IPv6 address (an optional ":port" is dropped); else 0. */
static size_t host_name_len(const char *h)
{
    size_t i = 0;

    if (h[0] == '[') {
        for (i = 1; h[i] != ']'; i++) {
            if (h[i] == '\0' || i > 64 ||
                !(bw_hex_digit((unsigned char)h[i]) >= 0 || h[i] == ':' || h[i] == '.'))
                return 0;
        }
        i++;
    } else {
        for (; h[i] != '\0' && h[i] != ':'; i++) {
            unsigned char ch = (unsigned char)h[i];
            if (i >= 253 || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                              (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
                return 0;
        }
    }
    if (i == 0 || (h[i] != '\0' && h[i] != ':'))
        return 0;
    if (h[i] == ':') {
        size_t j;
        for (j = i + 1; h[j] != '\0'; j++) {
            if (h[j] < '0' || h[j] > '9' || j - i > 5)
                return 0;
        }
    }
    return i;
}

/* Stage, on a redirect listener only: 308 to the same path over HTTPS, and
 * nothing else is served there. The path must be canonical; the host comes
 * from the request's Host header, checked to be a plain host name. */
static bool stage_redirect(bw_ctx *c)
{
    const char *host = bw_req_header(&c->req, "Host");
    char *loc;
    size_t hlen, cap;
    int n;

    if (c->srv->tls == NULL || c->req.ri->is_ssl)
        return true;
    c->must_close = true;
    hlen = host != NULL ? host_name_len(host) : 0;
    if (hlen == 0) {
        bw_res_problem(&c->res, 400, "The request must name a valid Host.");
        return false;
    }
    cap = hlen + strlen(c->req.path) + 64;
    loc = bw_arena_alloc(c->req.arena, cap);
    if (loc == NULL) {
        bw_res_problem(&c->res, 400, "The request path is too long.");
        return false;
    }
    if (c->srv->port == 443)
        n = snprintf(loc, cap, "https://%.*s%s", (int)hlen, host, c->req.path);
    else
        n = snprintf(loc, cap, "https://%.*s:%d%s", (int)hlen, host, c->srv->port, c->req.path);
    if (n < 0 || (size_t)n >= cap || bw_res_header(&c->res, "Location", loc) != 0) {
        bw_res_problem(&c->res, 400, "The request path is too long.");
        return false;
    }
    /* The query is not carried over: nothing on this listener reads it. */
    bw_res_empty(&c->res, 308);
    return false;
}

/* Stage: load shedding. Beyond server.max_inflight requests in progress,
 * answer 503 at once: cheaper than queueing, and it keeps workers free. */
static bool stage_capacity(bw_ctx *c, long inflight)
{
    if (inflight <= c->srv->cfg->server.max_inflight)
        return true;
    bw_res_problem(&c->res, 503, "The service is busy. Try again shortly.");
    bw_res_header(&c->res, "Retry-After", "1");
    c->must_close = true;
    bw_log(BW_LOG_WARN, "server.shed",
           (bw_log_field[]){BW_LOG_S("request_id", c->req.id), BW_LOG_I("inflight", inflight)}, 2);
    return false;
}

/* ---- Rate limits (GCRA, protect/ratelimit.c) ---- */

/* The RateLimit-Policy and RateLimit fields (IETF draft) for the policy
 * noted in c; on a 429 always, on other answers when ratelimit.headers. */
static void rate_fields(bw_ctx *c)
{
    char field[BW_RATELIMIT_FIELD_SIZE];
    size_t nlen;

    if (c->rate_policy == NULL)
        return;
    nlen = strlen(c->rate_name);
    if (bw_ratelimit_format_policy(c->rate_name, nlen, c->rate_policy, field, sizeof(field)) > 0)
        bw_res_header(&c->res, "RateLimit-Policy", field);
    if (bw_ratelimit_format_state(c->rate_name, nlen, c->rate_policy, &c->rate, field,
                                  sizeof(field)) > 0)
        bw_res_header(&c->res, "RateLimit", field);
}

/* One check of key[0..len) against p; notes the policy closest to refusing.
 * A refusal answers 429 with Retry-After. */
static bool rate_check(bw_ctx *c, const bw_rate_policy *p, const char *name,
                       const unsigned char *key, size_t len)
{
    bw_rate_result r;
    char retry[24];

    /* -1 is a programming error; the result then says refused (fail closed). */
    (void)bw_ratelimit_check(c->srv->limiter, p, key, len, bw_ratelimit_now_ns(), &r);
    if (c->rate_policy == NULL || !r.allowed || r.remaining < c->rate.remaining) {
        c->rate_policy = p;
        c->rate_name = name;
        c->rate = r;
    }
    if (r.allowed)
        return true;
    bw_res_problem(&c->res, 429, "Too many requests. Try again later.");
    snprintf(retry, sizeof(retry), "%llu", (unsigned long long)bw_ratelimit_retry_after_s(&r));
    bw_res_header(&c->res, "Retry-After", retry);
    rate_fields(c);
    bw_log(BW_LOG_WARN, "ratelimit.exceeded",
           (bw_log_field[]){BW_LOG_S("request_id", c->req.id), BW_LOG_S("policy", name),
                            BW_LOG_S("client", c->req.client), BW_LOG_S("route", c->req.route)},
           4);
    return false;
}

/* The key bytes of the caller: the principal when there is one (each API key
 * its own), else the client address (IPv4, IPv6 /64). tag tells the uses
 * apart. Returns the length, 0 when there is nothing to key on. */
static size_t caller_key(const bw_ctx *c, unsigned char tag, unsigned char out[32])
{
    const bw_principal *p = &c->req.principal;
    size_t n = 1;

    out[0] = tag;
    if (p->kind == BW_AUTH_APIKEY) {
        out[n++] = 'K';
        memcpy(out + n, p->apikey_id, BW_APIKEY_ID_LEN);
        return n + BW_APIKEY_ID_LEN;
    }
    if (p->kind == BW_AUTH_SESSION) {
        out[n++] = 'U';
        memcpy(out + n, &p->user_id, sizeof(p->user_id));
        return n + sizeof(p->user_id);
    }
    if (!c->req.client_addr_ok)
        return 0;
    out[n++] = 'A';
    return n + bw_netaddr_limit_key(&c->req.client_addr, out + n);
}

/* Stage: the per-address limit, before any other work is spent on the
 * request. */
static bool stage_rate_address(bw_ctx *c)
{
    unsigned char key[32];
    size_t n;

    if (c->srv->limiter == NULL || !c->req.client_addr_ok)
        return true;
    key[0] = 'a';
    n = 1 + bw_netaddr_limit_key(&c->req.client_addr, key + 1);
    return rate_check(c, &c->srv->rate_address, "address", key, n);
}

/* Stage: once the caller is known, the per-principal limit, then the route's
 * own .rate (per principal, or per address for anonymous callers). */
static bool stage_rate_principal(bw_ctx *c)
{
    const bw_app *app = c->srv->app;
    unsigned char key[40];
    uint32_t idx;
    size_t n;

    if (c->srv->limiter == NULL)
        return true;
    if (c->req.principal.kind != BW_AUTH_NONE) {
        n = caller_key(c, 'p', key);
        if (n > 0 && !rate_check(c, &c->srv->rate_principal, "principal", key, n))
            return false;
    }
    /* The framework's own routes are not in the app's table and have no .rate. */
    if ((uintptr_t)c->route < (uintptr_t)app->routes ||
        (uintptr_t)c->route >= (uintptr_t)(app->routes + app->nroutes))
        return true;
    idx = (uint32_t)(c->route - app->routes);
    if (c->srv->route_rates[idx].rate == 0 || (n = caller_key(c, 'r', key)) == 0)
        return true;
    memcpy(key + n, &idx, sizeof(idx));
    return rate_check(c, &c->srv->route_rates[idx], "route", key, n + sizeof(idx));
}

/* Stage: the one canonical path every later stage sees. */
static bool stage_path(bw_ctx *c)
{
    const char *raw = c->req.ri->local_uri_raw;
    const bw_config *cfg = c->srv->cfg;
    bw_path_limits lim;
    size_t raw_len, out_len = 0;
    char *out;
    bw_path_err e;

    if (raw == NULL) {
        bw_res_problem(&c->res, 400, "The request target is not a path.");
        return false;
    }
    raw_len = strnlen(raw, (size_t)cfg->limits.max_path_bytes + 1);
    lim.max_bytes = (size_t)cfg->limits.max_path_bytes;
    lim.max_segments = (size_t)cfg->limits.max_path_segments;
    out = bw_arena_alloc(c->req.arena, raw_len + 1);
    if (out == NULL) {
        bw_res_problem(&c->res, 400, "The request path is too long.");
        return false;
    }
    e = bw_path_canonicalize(raw, raw_len, &lim, out, raw_len + 1, &out_len);
    if (e != BW_PATH_OK) {
        bw_res_problem(&c->res, 400, bw_path_strerror(e));
        return false;
    }
    c->req.path = out;
    return true;
}

static bool stage_query(bw_ctx *c)
{
    const char *qs = c->req.ri->query_string;
    const bw_config *cfg = c->srv->cfg;
    size_t len;
    bw_query_err e;

    if (qs == NULL)
        return true;
    len = strnlen(qs, (size_t)cfg->limits.max_query_bytes + 1);
    e = bw_query_parse(c->req.arena, qs, len, (size_t)cfg->limits.max_query_bytes,
                       (size_t)cfg->limits.max_query_params, &c->req.query, &c->req.nquery);
    if (e != BW_QUERY_OK) {
        bw_res_problem(&c->res, 400, bw_query_strerror(e));
        return false;
    }
    return true;
}

/* Stage: CORS. Runs for every matched path so that preflights get their
 * answer before any method or authentication check. */
static bool stage_cors(bw_ctx *c, const bw_route_match *m)
{
    const char *origin = bw_req_header(&c->req, "Origin");
    const char *acrm = bw_req_header(&c->req, "Access-Control-Request-Method");
    const char *acrh = bw_req_header(&c->req, "Access-Control-Request-Headers");
    bw_cors_result r;

    if (c->srv->cors == NULL || origin == NULL)
        return true;
    r = bw_cors_check(c->srv->cors, c->req.method, strlen(c->req.method), origin, strlen(origin),
                      acrm, acrm ? strlen(acrm) : 0, acrh, acrh ? strlen(acrh) : 0, c->cors_buf,
                      sizeof(c->cors_buf), c->cors, &c->ncors);
    switch (r) {
    case BW_CORS_PREFLIGHT_OK:
        bw_res_header(&c->res, "Allow", m->allow);
        bw_res_empty(&c->res, 204);
        return false;
    case BW_CORS_PREFLIGHT_DENIED:
        /* c->cors keeps only Vary: Origin, so caches key on the origin. */
        bw_res_problem(&c->res, 403, "This cross-origin request is not allowed.");
        return false;
    case BW_CORS_DENIED: /* no Allow-Origin: the browser refuses to expose the answer */
    case BW_CORS_NOT_CORS:
    case BW_CORS_ALLOWED:
        return true;
    }
    return true;
}

static bool stage_route(bw_ctx *c)
{
    bw_route_match m;
    size_t i;

    bw_router_match(c->srv->router, c->req.method, strlen(c->req.method), c->req.path,
                    strlen(c->req.path), &m);
    if (m.status == BW_ROUTE_NOT_FOUND) {
        bw_res_problem(&c->res, 404, NULL);
        return false;
    }
    if (!stage_cors(c, &m))
        return false;
    c->req.route = m.pattern;
    if (m.status == BW_ROUTE_METHOD_NOT_ALLOWED) {
        bw_res_problem(&c->res, 405, NULL);
        bw_res_header(&c->res, "Allow", m.allow);
        return false;
    }
    if (m.auto_options) {
        bw_res_header(&c->res, "Allow", m.allow);
        bw_res_empty(&c->res, 204);
        return false;
    }
    c->route = m.udata;
    c->head_only = m.auto_head != 0 || strcmp(c->req.method, "HEAD") == 0;
    for (i = 0; i < m.nparams; i++) {
        c->req.param_names[i] =
            bw_arena_strndup(c->req.arena, m.params[i].name, m.params[i].name_len);
        c->req.param_values[i] =
            bw_arena_strndup(c->req.arena, m.params[i].value, m.params[i].value_len);
        if (c->req.param_names[i] == NULL || c->req.param_values[i] == NULL) {
            bw_res_problem(&c->res, 400, "The request path is too long.");
            return false;
        }
    }
    c->req.nparams = m.nparams;
    return true;
}

static size_t route_body_limit(const bw_ctx *c)
{
    size_t global = (size_t)c->srv->cfg->server.max_body_bytes;

    if (c->route->body_schema == NULL)
        return 0;
    if (c->route->max_body != 0 && c->route->max_body < global)
        return c->route->max_body;
    return global;
}

static bool content_type_is_json(const char *ct)
{
    static const char json[] = "application/json";
    size_t n = sizeof(json) - 1;

    if (ct == NULL || strncasecmp(ct, json, n) != 0)
        return false;
    /* Only parameters may follow the media type (e.g. "; charset=utf-8"). */
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* Stage: limits known before reading anything (413, 415). */
static bool stage_limits(bw_ctx *c)
{
    size_t limit = route_body_limit(c);

    if (!c->has_body)
        return true;
    if (!c->chunked && (unsigned long long)c->content_length > limit) {
        bw_res_problem(&c->res, 413, "The request body is larger than this route accepts.");
        return false;
    }
    if (limit == 0) {
        bw_res_problem(&c->res, 413, "This route takes no request body.");
        return false;
    }
    if (!content_type_is_json(bw_req_header(&c->req, "Content-Type"))) {
        bw_res_problem(&c->res, 415, "The request body must be application/json.");
        return false;
    }
    return true;
}

static bool unauthenticated(bw_ctx *c, bool invalid)
{
    bw_res_problem(&c->res, 401, "Authentication is required.");
    bw_res_header(&c->res, "WWW-Authenticate",
                  invalid ? "Bearer realm=\"bulwark\", error=\"invalid_token\""
                          : "Bearer realm=\"bulwark\"");
    return false;
}

static int header_count(const bw_ctx *c, const char *name)
{
    int n = 0;

    for (int i = 0; i < c->req.ri->num_headers; i++)
        n += strcasecmp(c->req.ri->http_headers[i].name, name) == 0;
    return n;
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
static bool stage_authenticate(bw_ctx *c)
{
    const char *authz = bw_req_header(&c->req, "Authorization");
    const char *cookie = bw_req_header(&c->req, "Cookie");
    bw_credential cred;
    int rc;

    bw_credential_parse(authz, authz != NULL ? strlen(authz) : 0, cookie,
                        cookie != NULL ? strlen(cookie) : 0, &cred);
    /* Authorization is single-valued, and a user agent sends one Cookie line:
     * with two, which one a proxy acted on is unknowable. */
    if (header_count(c, "Authorization") > 1 || header_count(c, "Cookie") > 1)
        cred.kind = BW_CREDENTIAL_BAD;
    if (cred.kind == BW_CREDENTIAL_NONE || cred.kind == BW_CREDENTIAL_BAD)
        return c->route->public ? true : unauthenticated(c, cred.kind == BW_CREDENTIAL_BAD);
    rc = bw_auth_authenticate(c->srv->auth, bw_store_conn(c->srv->store), cred.token, cred.len,
                              cred.kind == BW_CREDENTIAL_COOKIE, (long long)time(NULL),
                              &c->req.principal);
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
        bw_log(BW_LOG_WARN, "authz.denied",
               (bw_log_field[]){BW_LOG_S("request_id", c->req.id), BW_LOG_S("reason", "csrf"),
                                BW_LOG_S("client", c->req.client)},
               3);
        bw_res_problem(&c->res, 403, "The request failed the cross-site request check.");
        return false;
    }
    return true;
}

/* Stage: the route's permission (default deny). The answer never names the
 * permission: that would map the authorization model for an attacker. */
static bool stage_authorize(bw_ctx *c)
{
    const bw_rbac *rbac;
    int perm;

    if (c->route->public)
        return true;
    rbac = bw_auth_rbac(c->srv->auth);
    perm = bw_rbac_permission_index(rbac, c->route->permission, strlen(c->route->permission));
    if (bw_principal_allows(rbac, &c->req.principal, perm))
        return true;
    bw_log(BW_LOG_WARN, "authz.denied",
           (bw_log_field[]){BW_LOG_S("request_id", c->req.id), BW_LOG_S("reason", "permission"),
                            BW_LOG_S("route", c->req.route),
                            BW_LOG_S("user", c->req.principal.name)},
           4);
    bw_res_problem(&c->res, 403, "You are not allowed to do this.");
    return false;
}

/* Stage: read the body, bounded by the route limit (chunked bodies have no
 * length up front, so the bound is checked while reading). */
static bool stage_body(bw_ctx *c)
{
    size_t limit = route_body_limit(c), len = 0;
    char *buf;
    json_t *doc;
    const char *why = NULL;

    if (!c->has_body)
        return true;
    buf = bw_arena_alloc(c->req.arena, limit + 1);
    if (buf == NULL) {
        bw_res_problem(&c->res, 413, "The request body is larger than this route accepts.");
        return false;
    }
    for (;;) {
        int n = mg_read(c->req.conn, buf + len, limit + 1 - len);
        if (n < 0) {
            c->must_close = true;
            bw_res_problem(&c->res, 400, "The request body could not be read.");
            return false;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > limit) {
            bw_res_problem(&c->res, 413, "The request body is larger than this route accepts.");
            return false;
        }
    }
    if (!c->chunked && len != (size_t)c->content_length) {
        c->must_close = true;
        bw_res_problem(&c->res, 400, "The request body is shorter than its Content-Length.");
        return false;
    }
    c->body_read = true;
    buf[len] = '\0';
    c->req.body = buf;
    c->req.body_len = len;
    /* Strict JSON first: what a schema cannot be trusted to catch. */
    doc = bw_json_body_parse(buf, len, BW_JSON_DEFAULT_MAX_DEPTH, &why);
    if (doc == NULL) {
        bw_res_problem(&c->res, 400, why);
        return false;
    }
    c->req.json = doc;
    return true;
}

/* Most errors a 400 lists: enough to fix a request, bounded to answer. */
#define BW_MAX_SCHEMA_ERRORS 20

/* The type a schema gives property `name` ("integer", ...), or NULL. */
static const char *property_type(const json_t *doc, const char *name, bool items)
{
    const json_t *p = json_object_get(json_object_get(doc, "properties"), name);

    if (items)
        p = json_object_get(p, "items");
    return json_string_value(json_object_get(p, "type"));
}

/* A path or query string as the JSON value its schema asks for. A string
 * that does not read as that type stays a string, so validation reports a
 * type error for it (strictly: no sign on integers but '-', no spaces, no
 * hex, no "1.0" for an integer). */
static json_t *coerce(const char *v, const char *type)
{
    size_t len = strlen(v), i = v[0] == '-' ? 1 : 0;

    if (type == NULL)
        return json_string(v);
    if (strcmp(type, "integer") == 0 && len > i && len - i <= 15) {
        for (; i < len && v[i] >= '0' && v[i] <= '9'; i++)
            ;
        if (i == len)
            return json_integer(strtoll(v, NULL, 10));
    } else if (strcmp(type, "number") == 0 && len > 0 && len <= 64 &&
               ((v[0] >= '0' && v[0] <= '9') || v[0] == '-')) {
        char *end;
        double d = strtod(v, &end);
        if (*end == '\0' && isfinite(d))
            return json_real(d);
    } else if (strcmp(type, "boolean") == 0) {
        if (strcmp(v, "true") == 0)
            return json_true();
        if (strcmp(v, "false") == 0)
            return json_false();
    }
    return json_string(v);
}

/* The path captures as an object, coerced per the route's path schema. */
static json_t *params_doc(bw_ctx *c, const json_t *schema_doc)
{
    json_t *o = json_object();
    size_t i;

    for (i = 0; o != NULL && i < c->req.nparams; i++)
        json_object_set_new(o, c->req.param_names[i],
                            coerce(c->req.param_values[i],
                                   property_type(schema_doc, c->req.param_names[i], false)));
    return o;
}

/* The query as an object, coerced per the route's query schema. A name
 * given twice becomes an array where the schema says "array", and is
 * refused otherwise (which value would the handler see?). */
static json_t *query_doc(bw_ctx *c, const json_t *schema_doc, bool *repeated)
{
    json_t *o = json_object();
    size_t i;

    *repeated = false;
    for (i = 0; o != NULL && i < c->req.nquery; i++) {
        const char *name = c->req.query[i].name, *value = c->req.query[i].value;
        const char *type = property_type(schema_doc, name, false);
        json_t *have = json_object_get(o, name);

        if (type != NULL && strcmp(type, "array") == 0) {
            if (have == NULL) {
                have = json_array();
                json_object_set_new(o, name, have);
            }
            json_array_append_new(have, coerce(value, property_type(schema_doc, name, true)));
        } else if (have != NULL) {
            *repeated = true;
        } else {
            json_object_set_new(o, name, coerce(value, type));
        }
    }
    return o;
}

/* The request headers as an object keyed by lower-case name (the first of
 * repeated names wins, as bw_req_header answers). */
static json_t *headers_doc(bw_ctx *c)
{
    json_t *o = json_object();
    char name[128];
    int i;

    for (i = 0; o != NULL && i < c->req.ri->num_headers; i++) {
        const char *n = c->req.ri->http_headers[i].name;
        size_t k;
        for (k = 0; n[k] != '\0' && k + 1 < sizeof(name); k++)
            name[k] = (char)tolower((unsigned char)n[k]);
        name[k] = '\0';
        if (json_object_get(o, name) == NULL)
            json_object_set_new(o, name, json_string(c->req.ri->http_headers[i].value));
    }
    return o;
}

/* Validates one part; appends its failures ("in" names the part) to list.
 * Returns 1 valid, 0 invalid, -1 over a limit. */
static int validate_part(bw_ctx *c, const bw_schema *schema, const json_t *doc, const char *in,
                         json_t *list)
{
    bw_schema_error errs[BW_MAX_SCHEMA_ERRORS];
    size_t n = 0, i, room = BW_MAX_SCHEMA_ERRORS - json_array_size(list);
    int rc;

    if (schema == NULL || doc == NULL)
        return 1;
    rc = bw_schema_validate(schema, doc, c->req.arena, errs, room, &n);
    for (i = 0; rc == 0 && i < n; i++)
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:s}", "in", in, "pointer", errs[i].pointer, "keyword",
                            errs[i].keyword ? errs[i].keyword : "", "message", errs[i].message));
    return rc;
}

/* Stage: path, query and body against the route's compiled schemas. 400
 * lists the failures (in, pointer, keyword, message) and never echoes a
 * value. Path and query strings are coerced first; the handler reads the
 * coerced values (bw_req_param_int, bw_req_query_json). */
static bool stage_validate(bw_ctx *c)
{
    const bw_app *app = c->srv->app;
    const bw_route_schemas *rs;
    bool repeated = false;
    json_t *list, *headers = NULL;
    int a, b, d, h;

    /* The framework's own routes (GET /openapi.json) are not in the app's
     * table and have no schemas. */
    if ((uintptr_t)c->route < (uintptr_t)app->routes ||
        (uintptr_t)c->route >= (uintptr_t)(app->routes + app->nroutes))
        return true;
    rs = &c->srv->schemas[c->route - app->routes];

    if (rs->path != NULL)
        c->req.params = params_doc(c, rs->path_doc);
    if (rs->query != NULL)
        c->req.query_doc = query_doc(c, rs->query_doc, &repeated);
    if (repeated) {
        bw_res_problem_typed(&c->res, 400, "validation-failed",
                             "A query parameter is repeated where one value is expected.");
        return false;
    }
    list = json_array();
    if (list == NULL) {
        bw_res_problem(&c->res, 500, NULL);
        return false;
    }
    if (rs->header != NULL)
        headers = headers_doc(c);
    a = validate_part(c, rs->path, c->req.params, "path", list);
    b = validate_part(c, rs->query, c->req.query_doc, "query", list);
    h = validate_part(c, rs->header, headers, "header", list);
    d = validate_part(c, rs->body, c->req.json, "body", list);
    json_decref(headers);
    if (a == 1 && b == 1 && h == 1 && d == 1) {
        json_decref(list);
        return true;
    }
    if (a < 0 || b < 0 || h < 0 || d < 0) {
        json_decref(list);
        bw_res_problem_typed(&c->res, 400, "validation-failed",
                             "The request is too complex to validate.");
        return false;
    }
    bw_res_problem_extra(&c->res, 400, "validation-failed",
                         "The request does not match its schema.",
                         json_pack("{s:o}", "errors", list));
    return false;
}

static void stage_handler(bw_ctx *c)
{
    if (c->route->handler(&c->req, &c->res) != 0) {
        bw_log(BW_LOG_ERROR, "handler.failed",
               (bw_log_field[]){BW_LOG_S("request_id", c->req.id), BW_LOG_S("route", c->req.route)},
               2);
        bw_res_init(&c->res, c->req.arena, c->req.id);
        bw_res_problem(&c->res, 500, NULL);
    }
}

static void linger_drain(bw_ctx *c)
{
    char buf[16384];
    size_t total = 0, cap = 2 * (size_t)c->srv->cfg->server.max_body_bytes;

    if (cap < BW_DRAIN_MIN)
        cap = BW_DRAIN_MIN;
    if (!c->chunked && (unsigned long long)c->content_length > cap)
        return;
    while (total <= cap) {
        int n = mg_read(c->req.conn, buf, sizeof(buf));
        if (n <= 0)
            return;
        total += (size_t)n;
    }
}

static bool client_keeps_alive(const bw_ctx *c)
{
    const char *conn = bw_req_header(&c->req, "Connection");
    const char *ver = c->req.ri->http_version;

    if (conn != NULL)
        return strcasestr(conn, "keep-alive") != NULL;
    return ver != NULL && strcmp(ver, "1.1") == 0;
}

static long long elapsed_us(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (long long)(t1.tv_sec - t0->tv_sec) * 1000000LL + (t1.tv_nsec - t0->tv_nsec) / 1000;
}

static void access_log(const bw_ctx *c, long long us)
{
    bw_log_field f[] = {
        BW_LOG_S("request_id", c->req.id),
        BW_LOG_S("method", c->req.method),
        BW_LOG_S("route", c->req.route),
        BW_LOG_I("status", c->res.status),
        BW_LOG_I("duration_ms", us / 1000),
        BW_LOG_I("duration_us", us),
        BW_LOG_S("client", c->req.client),
        /* The peer only when a trusted proxy named another client. */
        BW_LOG_S("peer", c->req.peer != c->req.client ? c->req.peer : NULL),
        BW_LOG_S("client_cert", bw_req_client_cert_subject(&c->req)),
    };
    bw_log(BW_LOG_INFO, "http.request", f, sizeof(f) / sizeof(f[0]));
}

/* Every line of header `name` joined with ", " (RFC 9110 5.3), from the
 * arena, or NULL when there is none. Every line counts: a proxy that adds
 * its own line after the client's is the one to believe. */
static const char *joined_header(bw_ctx *c, const char *name, size_t *len)
{
    const struct mg_request_info *ri = c->req.ri;
    size_t total = 0, n = 0;
    char *out;

    for (int i = 0; i < ri->num_headers; i++) {
        if (strcasecmp(ri->http_headers[i].name, name) == 0) {
            total += strlen(ri->http_headers[i].value) + 2;
            n++;
        }
    }
    *len = 0;
    if (n == 0 || (out = bw_arena_alloc(c->req.arena, total + 1)) == NULL)
        return NULL;
    for (int i = 0; i < ri->num_headers; i++) {
        if (strcasecmp(ri->http_headers[i].name, name) == 0) {
            size_t vlen = strlen(ri->http_headers[i].value);

            if (*len > 0) {
                memcpy(out + *len, ", ", 2);
                *len += 2;
            }
            memcpy(out + *len, ri->http_headers[i].value, vlen);
            *len += vlen;
        }
    }
    out[*len] = '\0';
    return out;
}

/* The client's address: the TCP peer, unless the peer is a trusted proxy
 * (server.trusted_proxies), whose forwarding header then names it. From any
 * other peer the headers are ignored, so they cannot pick a rate-limit key. */
static void resolve_client(bw_ctx *c)
{
    const bw_netaddr_proxies *px = &c->srv->proxies;
    const char *peer = c->req.ri->remote_addr;
    bw_netaddr peer_addr;
    char *text;

    c->req.client = c->req.peer = peer;
    if (bw_netaddr_parse(peer, strlen(peer), &peer_addr) != 0)
        return;
    c->req.client_addr = peer_addr;
    c->req.client_addr_ok = true;
    if (px->ntrusted == 0 || !bw_cidr_list_contains(px->trusted, px->ntrusted, &peer_addr))
        return;
    {
        size_t xlen = 0, flen = 0;
        const char *xff =
            px->header == BW_NETADDR_HEADER_XFF ? joined_header(c, "X-Forwarded-For", &xlen) : NULL;
        const char *fwd =
            px->header == BW_NETADDR_HEADER_FORWARDED ? joined_header(c, "Forwarded", &flen) : NULL;

        if (bw_netaddr_client(&peer_addr, px, xff, xlen, fwd, flen, &c->req.client_addr) != 1)
            return;
    }
    text = bw_arena_alloc(c->req.arena, BW_NETADDR_TEXT_SIZE);
    if (text != NULL && bw_netaddr_format(&c->req.client_addr, text, BW_NETADDR_TEXT_SIZE) > 0)
        c->req.client = text;
    else
        c->req.client_addr = peer_addr;
}

static void set_request_id(bw_ctx *c)
{
    const char *in = bw_req_header(&c->req, "X-Request-Id");

    if (in != NULL) {
        size_t len = strnlen(in, sizeof(c->req.id));
        if (len < sizeof(c->req.id) && bw_http_request_id_valid(in, len)) {
            memcpy(c->req.id, in, len + 1);
            return;
        }
    }
    bw_http_request_id_new(c->req.id);
}

int bw_pipeline_handle(bw_server *srv, struct mg_connection *conn)
{
    bw_ctx *c;
    const bw_header_kv *policy;
    size_t npolicy;
    bw_arena *arena;
    struct timespec t0;
    bool close;
    int status;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    arena = bw_arena_new(BW_ARENA_CHUNK,
                         (size_t)srv->cfg->server.max_body_bytes + (size_t)BW_ARENA_OVERHEAD);
    if (arena == NULL)
        return -1; /* out of memory: close without an answer */
    c = bw_arena_calloc(arena, 1, sizeof(*c));
    if (c == NULL) {
        bw_arena_free(arena);
        return -1;
    }
    long inflight = atomic_fetch_add(&srv->inflight, 1) + 1;
    c->srv = srv;
    c->content_length = -1;
    c->req.principal.user_id = -1;
    c->req.arena = arena;
    c->req.conn = conn;
    c->req.ri = mg_get_request_info(conn);
    c->req.method = c->req.ri->request_method;
    resolve_client(c);
    c->req.app_data = srv->app->udata;
    c->req.store = srv->store;
    c->req.srv = srv;
    set_request_id(c);
    bw_res_init(&c->res, arena, c->req.id);

    if (stage_capacity(c, inflight) && stage_framing(c) && stage_rate_address(c) && stage_path(c) &&
        stage_redirect(c) && stage_query(c) && stage_route(c) && stage_limits(c) &&
        stage_authenticate(c) && stage_rate_principal(c) && stage_authorize(c) && stage_body(c) &&
        stage_validate(c))
        stage_handler(c);
    if (srv->cfg->ratelimit.headers && c->res.status != 429)
        rate_fields(c);

    close = c->must_close || !c->body_read || !client_keeps_alive(c);
    npolicy = bw_header_policy_for(srv->headers, c->req.route, &policy);
    if (bw_res_write(&c->res, conn, policy, npolicy, c->cors, c->ncors, c->head_only, close) != 0)
        close = true; /* the peer is gone or the head did not fit: never reuse */
    /* Ambiguous framing: nothing more is read from this connection. */
    if (!c->body_read && !c->must_close)
        linger_drain(c);
    access_log(c, elapsed_us(&t0));
    status = c->res.status;
    atomic_fetch_sub(&srv->inflight, 1);
    json_decref(c->req.json);
    json_decref(c->req.params);
    json_decref(c->req.query_doc);
    bw_arena_free(arena);
    /* Closing must also stop CivetWeb from draining an unread body itself. */
    if (close)
        mg_disable_keep_alive(conn);
    return status;
}

void bw_pipeline_civetweb_error(bw_server *srv, struct mg_connection *conn, int status)
{
    bw_arena *arena = bw_arena_new(BW_ARENA_CHUNK, (size_t)BW_ARENA_OVERHEAD);
    const bw_header_kv *policy;
    size_t npolicy;
    char id[65];
    bw_res res;
    const char *detail = "The request could not be parsed.";

    if (arena == NULL)
        return;
    bw_http_request_id_new(id);
    /* CivetWeb reports oversized request heads as 413; the body plays no part. */
    if (status == 413) {
        status = 431;
        detail = "The request header section is too large.";
    } else if (status == 505) {
        detail = "Only HTTP/1.0 and HTTP/1.1 are supported.";
    } else if (status == 411) {
        /* CivetWeb's word for a Content-Length it cannot read: malformed. */
        status = 400;
        detail = "The Content-Length header is not a decimal number.";
    }
    bw_res_init(&res, arena, id);
    bw_res_problem(&res, status, detail);
    npolicy = bw_header_policy_for(srv->headers, NULL, &policy);
    bw_res_write(&res, conn, policy, npolicy, NULL, 0, false, true);
    bw_log(BW_LOG_INFO, "http.request",
           (bw_log_field[]){BW_LOG_S("request_id", id), BW_LOG_S("method", NULL),
                            BW_LOG_S("route", NULL), BW_LOG_I("status", status),
                            BW_LOG_S("client", mg_get_request_info(conn)->remote_addr)},
           5);
    bw_arena_free(arena);
}
