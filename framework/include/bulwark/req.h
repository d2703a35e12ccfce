/* The request as a handler sees it. Every string returned here lives in the
 * request's arena and stays valid until the response has been written; the
 * handler never frees any of it. */
#ifndef BULWARK_REQ_H
#define BULWARK_REQ_H

#include <stddef.h>

#include <jansson.h>

#include "bulwark/arena.h"

typedef struct bw_req bw_req;

/* Request method as received ("GET", "POST", ...). */
const char *bw_req_method(const bw_req *req);

/* The canonical path (decoded once, checked; see path.h). */
const char *bw_req_path(const bw_req *req);

/* The matched route pattern, e.g. "/v1/notes/{id}". */
const char *bw_req_route(const bw_req *req);

/* Value of the path capture `name`, or NULL when the route has none. */
const char *bw_req_param(const bw_req *req, const char *name);

/* Path capture `name` as an integer, when the route's path_schema types it
 * "integer" (validation has then checked it). 0, or -1 when it is not one. */
int bw_req_param_int(const bw_req *req, const char *name, long long *out);

/* The query as a validated JSON object, values coerced per the route's
 * query_schema (borrowed, valid until the request ends), or NULL when the
 * route has none. */
json_t *bw_req_query_json(const bw_req *req);

/* First value of query parameter `name` (decoded), or NULL. */
const char *bw_req_query(const bw_req *req, const char *name);

/* Number of query parameters and the i-th name/value pair (decoded). */
size_t bw_req_query_count(const bw_req *req);
int bw_req_query_at(const bw_req *req, size_t i, const char **name, const char **value);

/* Value of request header `name` (case-insensitive), or NULL. With several lines of that
 * name, the first. */
const char *bw_req_header(const bw_req *req, const char *name);

/* How many lines of header `name` (case-insensitive) the request has. */
size_t bw_req_header_count(const bw_req *req, const char *name);

/* Every line of header `name` joined with ", " (RFC 9110 5.3), allocated in req's arena;
 * *len gets its length. NULL (and *len 0) when there is none or the arena is full. */
const char *bw_req_header_joined(bw_req *req, const char *name, size_t *len);

/* The request body, read by the framework within the route's size limit
 * before the handler runs. *len is 0 and *body "" when there is none. */
void bw_req_body(const bw_req *req, const char **body, size_t *len);

/* The body parsed as JSON (borrowed reference, valid until the request
 * ends), or NULL when the request has no body. */
json_t *bw_req_json(const bw_req *req);

/* The authenticated user's id, or -1 when the route is public and nobody
 * is authenticated. On a route with a permission the pipeline only calls
 * the handler once a principal is established, so it is never -1 there. */
long long bw_req_user_id(const bw_req *req);

/* Subject of the client certificate the TLS layer verified (mutual TLS,
 * tls.client_auth), e.g. "/CN=billing-service"; NULL when none was given. */
const char *bw_req_client_cert_subject(const bw_req *req);

/* Peer address as text ("127.0.0.1", "::1"). */
const char *bw_req_client(const bw_req *req);

/* The request id: 32 hex characters, or an accepted inbound X-Request-Id. */
const char *bw_req_id(const bw_req *req);

/* The request's arena: memory that is freed when the request ends. */
bw_arena *bw_req_arena(bw_req *req);

/* The app's own pointer (bw_app.udata). */
void *bw_req_app_data(const bw_req *req);

struct bw_store;
/* The service's database (one SQLite connection per worker thread). */
struct bw_store *bw_req_store(const bw_req *req);

struct bw_config;
/* The configuration the server runs with (read-only; lives as long as the server). */
const struct bw_config *bw_req_config(const bw_req *req);

#endif
