/* Declaring a service: its routes and how the framework runs them. */
#ifndef BULWARK_SERVER_H
#define BULWARK_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "bulwark/config.h"
#include "bulwark/embed.h"
#include "bulwark/migrate.h"
#include "bulwark/req.h"
#include "bulwark/res.h"

/* A handler fills `res` and returns 0. Any other value is logged and
 * answered with a 500 problem (nothing the handler set is sent). */
typedef int (*bw_handler)(bw_req *req, bw_res *res);

typedef enum bw_audit_mode { BW_AUDIT_NONE = 0, BW_AUDIT_ALWAYS } bw_audit_mode;

/* One route. Secure by default: the server refuses to start when a route has
 * no permission and is not marked public, or takes a body (POST, PUT, PATCH)
 * without naming a schema. */
typedef struct bw_route {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* "/v1/notes/{id}": literal segments and {captures} */
    bw_handler handler;
    const char *permission;    /* "notes:read"; NULL only with .public = true */
    bool public;               /* explicitly reachable without authentication */
    const char *body_schema;   /* schema file (app/schemas/); required for body methods */
    const char *path_schema;   /* schema of the {captures}, as an object; strings are coerced
                                  to integer, number or boolean where its properties say so */
    const char *query_schema;  /* schema of the query parameters, as an object; coerced alike;
                                  a repeated name is an array only where the schema says so */
    const char *header_schema; /* schema of the request headers, as an object keyed by
                                  lower-case name (values stay strings) */
    size_t max_body;           /* body limit in bytes; 0 = server.max_body_bytes */
    const char *rate;          /* e.g. "30/min" (enforced by the rate-limit stage) */
    bw_audit_mode audit;       /* BW_AUDIT_ALWAYS: every call that reaches the handler is
                                  recorded, durably, before its answer is sent */
    const char *audit_event;   /* the record's event name ("notes.delete"); NULL: "api.call" */
    bool mfa;                  /* route demands a second factor */
} bw_route;

/* The base URI under which the app's schemas are registered: a route's
 * schema "note_create.json" is BW_APP_SCHEMA_BASE "note_create.json", and
 * schemas may $ref each other by file name. */
#define BW_APP_SCHEMA_BASE "https://schemas.bulwark.invalid/app/"

/* The app's schemas, generated at build time by bw_embed_schemas(). */
extern const bw_embedded_file bw_embedded_schemas[];
extern const size_t bw_embedded_schemas_count;

/* The app's config/rbac.json, compiled in by
 * bw_embed_file_set(<target> config rbac.json bw_app_rbac_file). */
extern const bw_embedded_file bw_app_rbac_file[];
extern const size_t bw_app_rbac_file_count;

typedef struct bw_app {
    const char *name; /* executable name, for usage text */
    const bw_route *routes;
    size_t nroutes;
    const bw_migration *migrations; /* the app's schema, applied in order */
    size_t nmigrations;
    const bw_embedded_file *schemas; /* the JSON schemas routes name */
    size_t nschemas;
    const bw_embedded_file *rbac; /* config/rbac.json: roles and permissions */
    void *udata;                  /* handed to handlers: bw_req_app_data() */
} bw_app;

typedef struct bw_server bw_server;

/* Checks the routes and config, opens the store (migrating when configured),
 * and starts listening. Returns NULL with a message in err on any refusal.
 * Caller owns the server; bw_server_stop frees it. app and cfg are not
 * copied: both must outlive the server. */
bw_server *bw_server_start(const bw_app *app, const bw_config *cfg, char *err, size_t errlen);

/* The first listening port (useful when the config asked for port 0). */
int bw_server_port(const bw_server *srv);

/* Re-reads what can change without a restart: the TLS certificate and key, the JWT
 * issuers and keys (a failure keeps the old ones and is audited), and reopens
 * the audit export file (log rotation).
 * New connections get the new pair; on any error the old one stays and the
 * error is logged. 0, or -1 with a message. */
int bw_server_reload(bw_server *srv, char *err, size_t errlen);

/* Reloads the JWT issuers and keys (auth.jwt.file) when one of their files
 * changed since it was read; `serve` calls it every 2 s. Audits
 * auth.jwt.keys_reloaded or auth.jwt.reload_failed (the old keys stay).
 * Returns 1 reloaded, 0 nothing changed (or JWT off), -1 the reload failed. */
int bw_server_poll_jwt(bw_server *srv);

/* Stops accepting, waits for in-flight requests up to
 * server.shutdown_timeout_ms, then frees everything. Returns 0 when every
 * request finished in time, 1 otherwise. */
int bw_server_stop(bw_server *srv);

/* Checks a route table without starting anything: the secure-by-default
 * rules and the router's pattern rules. 0, or -1 with the first problem. */
int bw_server_check_routes(const bw_route *routes, size_t n, char *err, size_t errlen);

/* Checks that every schema a route names exists among `schemas`, is JSON,
 * and passes the secure-schema lint (schemalint.h). 0, or -1 naming the
 * route, the file and the JSON pointer. */
int bw_server_check_schemas(const bw_route *routes, size_t n, const bw_embedded_file *schemas,
                            size_t nschemas, char *err, size_t errlen);

#endif
