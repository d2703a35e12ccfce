/* Structures shared by the core's files (request, response, pipeline,
 * server). Nothing outside framework/src/core includes this. */
#ifndef BW_CORE_INTERNAL_H
#define BW_CORE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <civetweb.h>

#include "bulwark/arena.h"
#include "bulwark/auth.h"
#include "bulwark/ban.h"
#include "bulwark/config.h"
#include "bulwark/connlimit.h"
#include "bulwark/cors.h"
#include "bulwark/headers.h"
#include "bulwark/netaddr.h"
#include "bulwark/ratelimit.h"
#include "bulwark/query.h"
#include "bulwark/req.h"
#include "bulwark/res.h"
#include "bulwark/router.h"
#include "bulwark/schema.h"
#include "bulwark/server.h"
#include "bulwark/store.h"
#include "bulwark/tls.h"

/* Per-request arena: first chunk size, and the cap beyond the body limit. */
#define BW_ARENA_CHUNK 8192
#define BW_ARENA_OVERHEAD (256 * 1024)

struct bw_req {
    bw_arena *arena;
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    const char *method;
    const char *path;
    const char *route;
    const char *param_names[BW_ROUTER_MAX_PARAMS];
    const char *param_values[BW_ROUTER_MAX_PARAMS];
    size_t nparams;
    bw_query_kv *query;
    size_t nquery;
    const char *body;
    size_t body_len;
    json_t *json;           /* parsed body, released when the request ends */
    json_t *params;         /* path captures, coerced (route with a path_schema), or NULL */
    json_t *query_doc;      /* query parameters, coerced (route with a query_schema), or NULL */
    bw_principal principal; /* kind BW_AUTH_NONE and user_id -1: anonymous */
    char id[65];
    const char *client; /* the client's address as text: the peer, or what a trusted proxy said */
    const char *peer;   /* the TCP peer's address as text */
    bw_netaddr client_addr;
    bool client_addr_ok; /* client_addr parsed (always, unless CivetWeb gave no address) */
    void *app_data;
    bw_store *store;
    const struct bw_server *srv; /* for the framework's own routes */
};

struct bw_res {
    bw_arena *arena;
    const char *request_id;
    int status;
    const char *content_type; /* NULL: no body */
    const char *body;
    size_t body_len;
    bw_header_kv headers[BW_RES_MAX_HEADERS];
    size_t nheaders;
};

/* A route's compiled schemas; the path and query documents are kept to
 * read the types that decide coercion. */
typedef struct bw_route_schemas {
    bw_schema *body, *path, *query, *header;
    json_t *path_doc, *query_doc;
} bw_route_schemas;

struct bw_server {
    const bw_app *app;
    const bw_config *cfg;
    bw_router *router;
    bw_header_policy *headers;
    bw_cors *cors;
    bw_store *store;
    bw_tls *tls;             /* NULL when serving plain HTTP (opt-in) */
    bw_connlimit *connlimit; /* per-address cap on open TLS connections; NULL when off */
    bw_auth *auth;
    bw_cidr *trusted; /* server.trusted_proxies, parsed */
    bw_banlist *bans;
    bw_ratelimit *limiter; /* NULL when ratelimit.enabled is off */
    bw_rate_policy rate_address, rate_principal;
    bw_rate_policy *route_rates; /* parallel to app->routes; rate 0: the route has none */
    bw_netaddr_proxies proxies;
    struct mg_context *ctx;
    struct bw_monitor *monitor;    /* audit writer, alerts, metrics: started first, stopped last */
    const bw_route *openapi_route; /* mounted by the framework, outside app->routes; or NULL */
    atomic_long inflight;
    int port;
    struct bw_route_schemas *schemas; /* compiled, parallel to app->routes */
    char *openapi;                    /* the OpenAPI document, built once at start-up */
    size_t openapi_len;
};

/* Resets `res` for a new response built in `arena`. */
void bw_res_init(bw_res *res, bw_arena *arena, const char *request_id);

/* Writes `res` to the connection: status line, the route's secure headers,
 * `extra` (CORS), the handler's headers, X-Request-Id, Content-Type,
 * Content-Length, and the body unless `head_only`. `close` adds
 * "Connection: close". Returns 0, or -1 when the peer is gone. */
int bw_res_write(const bw_res *res, struct mg_connection *conn, const bw_header_kv *policy,
                 size_t npolicy, const bw_header_kv *extra, size_t nextra, bool head_only,
                 bool close);

/* Runs every stage for one request on a CivetWeb worker thread and writes
 * the response. Returns the status, for CivetWeb's begin_request. */
int bw_pipeline_handle(bw_server *srv, struct mg_connection *conn);

/* Answers an error CivetWeb found itself (malformed request line, headers
 * too large) with the framework's problem+json and secure headers. */
void bw_pipeline_civetweb_error(bw_server *srv, struct mg_connection *conn, int status);

#endif
