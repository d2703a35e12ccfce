/* The request path: one direction, fixed stage order (DESIGN.md).
 *
 *   ban -> capacity -> framing -> rate limit (address) -> path -> query -> route/method -> CORS
 *   -> limits -> authentication -> rate limit (principal, route) -> authorization
 *   -> body -> validation -> handler -> response headers -> write -> access log
 *
 * Each stage either lets the request go on or sets a problem response and
 * stops it. Everything a request allocates comes from its arena, freed at
 * the end of bw_pipeline_handle. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bulwark/http.h"
#include "bulwark/jsonbody.h"
#include "bulwark/log.h"
#include "bulwark/path.h"
#include "bulwark/text.h"
#include "stage.h"

/* Lingering close: after refusing a request whose body was not read, the
 * answer goes out first (with Connection: close), then what the client
 * still sends is read and dropped, up to twice the largest body the server
 * accepts, before the connection closes. Closing a socket with unread data
 * sends a reset, and a client still sending would lose our answer. Each
 * read is bounded by server.request_timeout_ms. */
#define BW_DRAIN_MIN 65536 /* 64 KiB, whatever max_body_bytes is */

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

static void stage_handler(bw_ctx *c)
{
    c->handled = true;
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
    bw_stage_resolve_client(c);
    c->req.app_data = srv->app->udata;
    c->req.store = srv->store;
    c->req.srv = srv;
    set_request_id(c);
    bw_res_init(&c->res, arena, c->req.id);

    if (bw_stage_ban(c) && bw_stage_capacity(c, inflight) && stage_framing(c) &&
        bw_stage_rate_address(c) && stage_path(c) && stage_redirect(c) && stage_query(c) &&
        stage_route(c) && stage_limits(c) && bw_stage_authenticate(c) &&
        bw_stage_rate_principal(c) && bw_stage_authorize(c) && stage_body(c) &&
        bw_stage_validate(c)) {
        stage_handler(c);
        bw_stage_audit_route(c);
    }
    if (srv->cfg->ratelimit.headers && c->res.status != 429)
        bw_stage_rate_fields(c);

    close = c->must_close || !c->body_read || !client_keeps_alive(c);
    npolicy = bw_header_policy_for(srv->headers, c->req.route, &policy);
    if (bw_res_write(&c->res, conn, policy, npolicy, c->cors, c->ncors, c->head_only, close) != 0)
        close = true; /* the peer is gone or the head did not fit: never reuse */
    /* Ambiguous framing: nothing more is read from this connection. */
    if (!c->body_read && !c->must_close)
        linger_drain(c);
    long long us = elapsed_us(&t0);
    access_log(c, us);
    bw_stage_report(c, us);
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
