/* Starting and stopping CivetWeb the safe way: one catch-all callback, no
 * document_root (so no file serving, directory listing, CGI, Lua or SSI),
 * no URL decoding by CivetWeb (the pipeline decodes once), and CivetWeb's
 * own error pages replaced. See docs/architecture.md. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/audit.h"
#include "bulwark/clock.h"
#include "bulwark/err.h"
#include "bulwark/http.h"
#include "bulwark/jwt.h"
#include "bulwark/log.h"
#include "bulwark/monitor.h"
#include "bulwark/openapi.h"
#include "bulwark/schemalint.h"
#include "bulwark/version.h"
#include "internal.h"

static bool method_takes_body(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

int bw_server_check_routes(const bw_route *routes, size_t n, char *err, size_t errlen)
{
    bw_router *r = bw_router_new();
    char rerr[160];
    size_t i;
    int rc = 0;

    if (r == NULL) {
        bw_err_set(err, errlen, "out of memory");
        return -1;
    }
    for (i = 0; i < n && rc == 0; i++) {
        const bw_route *rt = &routes[i];
        const char *m = rt->method ? rt->method : "(null)";
        const char *p = rt->path ? rt->path : "(null)";

        if (rt->method == NULL || rt->path == NULL || rt->handler == NULL) {
            bw_err_set(err, errlen, "route %zu (%s %s): method, path and handler are required", i,
                       m, p);
            rc = -1;
        } else if (rt->permission == NULL && !rt->public) {
            bw_err_set(err, errlen,
                       "route %s %s: has no permission; set .permission or mark it .public = true",
                       m, p);
            rc = -1;
        } else if (rt->permission != NULL && rt->public) {
            bw_err_set(err, errlen, "route %s %s: is public and has a permission; choose one", m,
                       p);
            rc = -1;
        } else if (method_takes_body(rt->method) && rt->body_schema == NULL) {
            bw_err_set(err, errlen, "route %s %s: takes a body but names no .body_schema", m, p);
            rc = -1;
        } else if (rt->audit_event != NULL && !bw_audit_event_name_valid(rt->audit_event)) {
            bw_err_set(err, errlen, "route %s %s: .audit_event must match [a-z0-9_.]{1,64}", m, p);
            rc = -1;
        } else if (rt->audit_event != NULL && rt->audit != BW_AUDIT_ALWAYS) {
            bw_err_set(err, errlen, "route %s %s: .audit_event without .audit = BW_AUDIT_ALWAYS", m,
                       p);
            rc = -1;
        } else if (bw_router_add(r, rt->method, rt->path, (void *)rt, rerr, sizeof(rerr)) != 0) {
            bw_err_set(err, errlen, "route %s %s: %s", m, p, rerr);
            rc = -1;
        }
    }
    bw_router_free(r);
    return rc;
}

static const bw_embedded_file *find_schema(const bw_embedded_file *schemas, size_t n,
                                           const char *name)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (schemas[i].name != NULL && strcmp(schemas[i].name, name) == 0)
            return &schemas[i];
    }
    return NULL;
}

/* One schema file of a route: present, JSON, and bounded (schemalint.h). */
static int check_one_schema(const bw_route *rt, const char *name, const bw_embedded_file *schemas,
                            size_t nschemas, char *err, size_t errlen)
{
    const bw_embedded_file *f = find_schema(schemas, nschemas, name);
    char why[1200];
    json_error_t jerr;
    json_t *doc;
    int rc;

    if (f == NULL) {
        bw_err_set(err, errlen, "route %s %s: schema %s not found among the app's schemas",
                   rt->method, rt->path, name);
        return -1;
    }
    doc = json_loadb(f->data, f->len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        bw_err_set(err, errlen, "route %s %s: %s: not valid JSON (line %d: %s)", rt->method,
                   rt->path, f->name, jerr.line, jerr.text);
        return -1;
    }
    rc = bw_schema_lint(doc, f->name, why, sizeof(why));
    json_decref(doc);
    if (rc != 0) {
        bw_err_set(err, errlen, "route %s %s: %s", rt->method, rt->path, why);
        return -1;
    }
    return 0;
}

int bw_server_check_schemas(const bw_route *routes, size_t n, const bw_embedded_file *schemas,
                            size_t nschemas, char *err, size_t errlen)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const char *names[] = {routes[i].body_schema, routes[i].path_schema, routes[i].query_schema,
                               routes[i].header_schema};
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            if (names[k] != NULL &&
                check_one_schema(&routes[i], names[k], schemas, nschemas, err, errlen) != 0)
                return -1;
        }
    }
    return 0;
}

static int begin_request(struct mg_connection *conn)
{
    bw_server *srv = mg_get_user_data(mg_get_context(conn));

    return bw_pipeline_handle(srv, conn);
}

static int http_error(struct mg_connection *conn, int status, const char *msg)
{
    bw_server *srv = mg_get_user_data(mg_get_context(conn));

    (void)msg; /* CivetWeb's text may hold internal detail: never sent. */
    bw_pipeline_civetweb_error(srv, conn, status);
    return 0;
}

/* Workers that did TLS work or verified an ES256 JWT leave wolfSSL's
 * per-thread ECC cache behind. */
static void exit_thread(const struct mg_context *ctx, int thread_type, void *thread_pointer)
{
    (void)ctx;
    (void)thread_type;
    (void)thread_pointer;
    bw_tls_thread_exit();
    bw_jwt_thread_cleanup();
}

/* CivetWeb takes the context the framework built, and changes nothing in it. */
static int external_ssl_ctx(void **ssl_ctx, void *user_data)
{
    bw_server *srv = user_data;

    *ssl_ctx = bw_tls_handed_ctx(srv->tls);
    return 1;
}

/* CivetWeb logs one line per connection the per-address cap refuses: an attacker could
 * flood the log, so its messages get a budget per second and a count of what was dropped. */
static bw_log_budget civetweb_budget = {.per_second = 20};

static int log_message(const struct mg_connection *conn, const char *msg)
{
    unsigned long dropped;

    (void)conn;
    if (!bw_log_budget_take(&civetweb_budget, bw_clock_unix(), &dropped))
        return 1;
    if (dropped > 0)
        bw_log(BW_LOG_WARN, "civetweb.messages_dropped",
               (bw_log_field[]){BW_LOG_I("count", (long long)dropped)}, 1);
    bw_log(BW_LOG_WARN, "civetweb.message", (bw_log_field[]){BW_LOG_S("msg", msg)}, 1);
    return 1; /* handled: CivetWeb writes nothing itself */
}

static int apply_header_overrides(bw_server *srv, char *err, size_t errlen)
{
    const bw_config *cfg = srv->cfg;
    size_t i, j;

    for (i = 0; i < cfg->headers.noverrides; i++) {
        const bw_header_override *o = &cfg->headers.overrides[i];
        for (j = 0; j < o->nitems; j++) {
            int rc = o->items[j].value != NULL
                         ? bw_header_policy_set(srv->headers, o->route, o->items[j].name,
                                                o->items[j].value, err, errlen)
                         : bw_header_policy_remove(srv->headers, o->route, o->items[j].name, err,
                                                   errlen);
            if (rc != 0)
                return -1;
        }
    }
    return 0;
}

/* Compiles a route's schema `name` (NULL: none); keeps the document when
 * `doc` is given (for coercion). */
static int compile_one(bw_schema_registry *reg, const bw_app *app, const char *name,
                       bw_schema **out, json_t **doc, char *err, size_t errlen)
{
    char uri[512];

    if (name == NULL)
        return 0;
    snprintf(uri, sizeof(uri), "%s%s", BW_APP_SCHEMA_BASE, name);
    *out = bw_schema_compile(reg, uri, 0, err, errlen);
    if (*out == NULL)
        return -1;
    if (doc != NULL) {
        const bw_embedded_file *f = find_schema(app->schemas, app->nschemas, name);
        json_error_t jerr;
        *doc = f != NULL ? json_loadb(f->data, f->len, 0, &jerr) : NULL;
        if (*doc == NULL) {
            bw_err_set(err, errlen, "%s: cannot be read", name);
            return -1;
        }
    }
    return 0;
}

/* Compiles each route's schemas once, against a registry of all the app's
 * schemas (so one may $ref another by file name). */
static int setup_schemas(bw_server *srv, char *err, size_t errlen)
{
    const bw_app *app = srv->app;
    bw_schema_registry *reg;
    char uri[512];
    size_t i;
    int rc = 0;

    srv->schemas = calloc(app->nroutes > 0 ? app->nroutes : 1, sizeof(*srv->schemas));
    reg = bw_schema_registry_new();
    if (srv->schemas == NULL || reg == NULL) {
        bw_schema_registry_free(reg);
        bw_err_set(err, errlen, "out of memory");
        return -1;
    }
    for (i = 0; i < app->nschemas && rc == 0; i++) {
        const bw_embedded_file *f = &app->schemas[i];
        json_error_t jerr;
        json_t *doc;

        if (f->name == NULL)
            continue;
        doc = json_loadb(f->data, f->len, JSON_REJECT_DUPLICATES, &jerr);
        snprintf(uri, sizeof(uri), "%s%s", BW_APP_SCHEMA_BASE, f->name);
        if (doc == NULL) {
            bw_err_set(err, errlen, "%s: not valid JSON (line %d)", f->name, jerr.line);
            rc = -1;
        } else if (bw_schema_registry_add(reg, uri, doc, err, errlen) != 0) {
            rc = -1;
        }
    }
    for (i = 0; i < app->nroutes && rc == 0; i++) {
        const bw_route *rt = &app->routes[i];
        bw_route_schemas *rs = &srv->schemas[i];
        if (compile_one(reg, app, rt->body_schema, &rs->body, NULL, err, errlen) != 0 ||
            compile_one(reg, app, rt->path_schema, &rs->path, &rs->path_doc, err, errlen) != 0 ||
            compile_one(reg, app, rt->query_schema, &rs->query, &rs->query_doc, err, errlen) != 0 ||
            compile_one(reg, app, rt->header_schema, &rs->header, NULL, err, errlen) != 0)
            rc = -1;
    }
    bw_schema_registry_free(reg);
    return rc;
}

/* server.trusted_proxies: parsed once (the config already checked them). */
static int setup_proxies(bw_server *srv, char *err, size_t errlen)
{
    const bw_config *cfg = srv->cfg;

    srv->proxies.header = strcmp(cfg->server.forwarded_header, "forwarded") == 0
                              ? BW_NETADDR_HEADER_FORWARDED
                              : BW_NETADDR_HEADER_XFF;
    if (cfg->server.nproxies == 0)
        return 0;
    srv->trusted = calloc(cfg->server.nproxies, sizeof(*srv->trusted));
    if (srv->trusted == NULL) {
        bw_err_set(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cfg->server.nproxies; i++) {
        const char *t = cfg->server.trusted_proxies[i];
        char why[256];

        if (bw_cidr_parse(t, strlen(t), &srv->trusted[i], why, sizeof(why)) != 0) {
            bw_err_set(err, errlen, "server.trusted_proxies[%zu]: %s", i, why);
            return -1;
        }
    }
    srv->proxies.trusted = srv->trusted;
    srv->proxies.ntrusted = cfg->server.nproxies;
    return 0;
}

static int parse_policy(const char *key, const char *text, int burst, bw_rate_policy *out,
                        char *err, size_t errlen)
{
    char why[256];

    if (bw_ratelimit_policy_parse(text, strlen(text), (unsigned)burst, out, why, sizeof(why)) !=
        0) {
        bw_err_set(err, errlen, "%s: %s", key, why);
        return -1;
    }
    return 0;
}

/* One limiter for every policy (the policy is part of each key's hash); the
 * routes' .rate strings are checked here, so a typo stops start-up. */
static int setup_ratelimit(bw_server *srv, char *err, size_t errlen)
{
    const bw_config *cfg = srv->cfg;
    const bw_app *app = srv->app;

    srv->route_rates = calloc(app->nroutes > 0 ? app->nroutes : 1, sizeof(*srv->route_rates));
    if (srv->route_rates == NULL) {
        bw_err_set(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < app->nroutes; i++) {
        const bw_route *rt = &app->routes[i];
        char key[160];

        if (rt->rate == NULL)
            continue;
        snprintf(key, sizeof(key), "route %s %s: .rate", rt->method, rt->path);
        if (parse_policy(key, rt->rate, cfg->ratelimit.route_burst, &srv->route_rates[i], err,
                         errlen) != 0)
            return -1;
    }
    if (!cfg->ratelimit.enabled)
        return 0;
    if (parse_policy("ratelimit.address", cfg->ratelimit.address, cfg->ratelimit.address_burst,
                     &srv->rate_address, err, errlen) != 0 ||
        parse_policy("ratelimit.principal", cfg->ratelimit.principal,
                     cfg->ratelimit.principal_burst, &srv->rate_principal, err, errlen) != 0)
        return -1;
    srv->limiter = bw_ratelimit_new((size_t)cfg->ratelimit.capacity, err, errlen);
    return srv->limiter != NULL ? 0 : -1;
}

/* The ban list, loaded from the store (so after migrations). */
static int setup_bans(bw_server *srv, char *err, size_t errlen)
{
    const bw_config *cfg = srv->cfg;
    const bw_ban_policy p = {.capacity = (size_t)cfg->ban.capacity,
                             .tracked = (size_t)cfg->ban.tracked,
                             .window_s = cfg->ban.window_s,
                             .duration_s = cfg->ban.duration_s,
                             .auth_failures = cfg->ban.auth_failures,
                             .rate_limited = cfg->ban.rate_limited,
                             .validation_failures = cfg->ban.validation_failures,
                             .attacks = cfg->ban.attacks};

    srv->bans = bw_banlist_new(&p, err, errlen);
    if (srv->bans == NULL)
        return -1;
    if (bw_banlist_refresh(srv->bans, bw_store_conn(srv->store), bw_clock_unix()) < 0) {
        bw_err_set(err, errlen, "ban: cannot load the bans table");
        return -1;
    }
    return 0;
}

static int setup_cors(bw_server *srv, char *err, size_t errlen)
{
    const bw_config *cfg = srv->cfg;
    bw_cors_config cc;

    if (!cfg->cors.enabled)
        return 0;
    memset(&cc, 0, sizeof(cc));
    cc.enabled = true;
    cc.origins = (const char *const *)cfg->cors.allowed_origins;
    cc.norigins = cfg->cors.norigins;
    cc.allow_credentials = cfg->cors.allow_credentials;
    cc.methods = (const char *const *)cfg->cors.allowed_methods;
    cc.nmethods = cfg->cors.nmethods;
    cc.headers = (const char *const *)cfg->cors.allowed_headers;
    cc.nheaders = cfg->cors.nheaders;
    cc.max_age = cfg->cors.max_age;
    srv->cors = bw_cors_new(&cc, err, errlen);
    return srv->cors != NULL ? 0 : -1;
}

/* GET /openapi.json: the document built at start-up. */
static int openapi_handler(bw_req *req, bw_res *res)
{
    return bw_res_body(res, 200, "application/json", req->srv->openapi, req->srv->openapi_len);
}

/* openapi.access: public, behind a permission, or not served at all. */
static const bw_route openapi_public = {
    .method = "GET", .path = "/openapi.json", .handler = openapi_handler, .public = true};
static const bw_route openapi_gated = {.method = "GET",
                                       .path = "/openapi.json",
                                       .handler = openapi_handler,
                                       .permission = "openapi:read"};

static int setup_openapi(bw_server *srv, char *err, size_t errlen)
{
    json_t *doc = bw_openapi_build(srv->app, err, errlen);

    if (doc == NULL)
        return -1;
    srv->openapi = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (srv->openapi == NULL) {
        bw_err_set(err, errlen, "openapi: out of memory");
        return -1;
    }
    srv->openapi_len = strlen(srv->openapi);
    return 0;
}

/* A permission a route names must be declared in rbac.json: a typo would
 * otherwise deny everyone, silently. */
static int check_permissions(const bw_server *srv, const bw_route *routes, size_t n, char *err,
                             size_t errlen)
{
    const bw_rbac *rbac = bw_auth_rbac(srv->auth);

    for (size_t i = 0; i < n; i++) {
        const char *perm = routes[i].permission;

        if (perm != NULL && bw_rbac_permission_index(rbac, perm, strlen(perm)) < 0) {
            bw_err_set(err, errlen, "route %s %s: permission \"%s\" is not declared in rbac.json",
                       routes[i].method, routes[i].path, perm);
            return -1;
        }
    }
    return 0;
}

static int setup_auth(bw_server *srv, char *err, size_t errlen)
{
    const bw_app *app = srv->app;

    size_t nkeys = 0;

    srv->auth = bw_auth_new(srv->cfg, app->rbac != NULL ? app->rbac->data : NULL,
                            app->rbac != NULL ? app->rbac->len : 0, err, errlen);
    if (srv->auth == NULL)
        return -1;
    if (bw_auth_jwt_load(srv->auth, &nkeys, err, errlen) != 0)
        return -1;
    if (bw_auth_jwt_enabled(srv->auth))
        bw_log(BW_LOG_INFO, "auth.jwt.ready", (bw_log_field[]){BW_LOG_I("keys", (long long)nkeys)},
               1);
    return 0;
}

static int setup_router(bw_server *srv, char *err, size_t errlen)
{
    const bw_app *app = srv->app;
    const bw_route *rt;
    size_t i;

    if (bw_server_check_routes(app->routes, app->nroutes, err, errlen) != 0 ||
        check_permissions(srv, app->routes, app->nroutes, err, errlen) != 0 ||
        bw_server_check_schemas(app->routes, app->nroutes, app->schemas, app->nschemas, err,
                                errlen) != 0)
        return -1;
    srv->router = bw_router_new();
    if (srv->router == NULL) {
        bw_err_set(err, errlen, "out of memory");
        return -1;
    }
    for (i = 0; i < app->nroutes; i++) {
        if (bw_router_add(srv->router, app->routes[i].method, app->routes[i].path,
                          (void *)&app->routes[i], err, errlen) != 0)
            return -1;
    }
    if (strcmp(srv->cfg->openapi.access, "off") == 0)
        return 0;
    rt = strcmp(srv->cfg->openapi.access, "public") == 0 ? &openapi_public : &openapi_gated;
    if (check_permissions(srv, rt, 1, err, errlen) != 0)
        return -1;
    srv->openapi_route = rt;
    return bw_router_add(srv->router, rt->method, rt->path, (void *)rt, err, errlen);
}

static int setup_store(bw_server *srv, char *err, size_t errlen)
{
    const bw_config *cfg = srv->cfg;
    char path[4096];
    int applied = 0, pending = 0;
    sqlite3 *db;

    if (bw_config_path_in_data(cfg, cfg->store.file, path, sizeof(path)) == NULL) {
        bw_err_set(err, errlen, "store.file: path too long");
        return -1;
    }
    if (bw_store_open(path, cfg->store.busy_timeout_ms, &srv->store, err, errlen) != 0)
        return -1;
    bw_store_set_migrations(srv->store, srv->app->migrations, srv->app->nmigrations);
    db = bw_store_conn(srv->store);
    if (db == NULL) {
        bw_err_set(err, errlen, "store: cannot open %s", path);
        return -1;
    }
    if (cfg->store.auto_migrate) {
        if (bw_migrate_apply(db, srv->app->migrations, srv->app->nmigrations, &applied, err,
                             errlen) != 0)
            return -1;
        if (applied > 0)
            bw_log(BW_LOG_INFO, "store.migrated", (bw_log_field[]){BW_LOG_I("applied", applied)},
                   1);
        return 0;
    }
    if (bw_migrate_pending(db, srv->app->migrations, srv->app->nmigrations, &pending, err,
                           errlen) != 0)
        return -1;
    if (pending > 0) {
        bw_err_set(err, errlen,
                   "store: %d migration(s) pending and store.auto_migrate is off; run `migrate`",
                   pending);
        return -1;
    }
    return 0;
}

/* The server's gauges for a metrics scrape. */
static void server_gauges(bw_metrics_gauges *g, void *udata)
{
    const bw_server *srv = udata;
    bw_ban_stats b;

    g->inflight = (uint64_t)atomic_load(&((bw_server *)srv)->inflight);
    if (srv->tls != NULL)
        g->cert_not_after = bw_tls_not_after(srv->tls);
    if (srv->bans != NULL) {
        bw_banlist_stats_get(srv->bans, &b);
        g->bans_active = b.bans;
    }
    if (srv->connlimit != NULL) {
        bw_connlimit_stats cs;
        bw_connlimit_stats_get(srv->connlimit, &cs);
        g->connections_refused = cs.refused;
    }
    if (srv->limiter != NULL) {
        bw_ratelimit_stats rs;
        bw_ratelimit_stats_get(srv->limiter, &rs);
        g->ratelimit_entries = rs.entries_in_use;
        g->ratelimit_overflow = rs.overflow_hits;
    }
}

/* Metrics and audit once the app's declarations passed their checks, before anything that
 * changes state (store migrations, listeners). The metrics know routes by index: the app's,
 * then the framework's OpenAPI route. */
static int setup_monitor(bw_server *srv, char *err, size_t errlen)
{
    const bw_app *app = srv->app;
    size_t n = app->nroutes;
    const char **methods = calloc(n + 1, sizeof(*methods));
    const char **patterns = calloc(n + 1, sizeof(*patterns));
    int rc = -1;

    if (methods == NULL || patterns == NULL) {
        bw_err_set(err, errlen, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            methods[i] = app->routes[i].method;
            patterns[i] = app->routes[i].path;
        }
        methods[n] = "GET";
        patterns[n] = "/openapi.json";
        srv->monitor =
            bw_monitor_start(srv->cfg, methods, patterns, n + 1, server_gauges, srv, err, errlen);
        rc = srv->monitor != NULL ? 0 : -1;
    }
    free(methods);
    free(patterns);
    return rc;
}

/* TLS unless plain HTTP was opted into: the bridge first (CivetWeb resolves
 * OpenSSL names when its TLS feature is initialised), then the context, then
 * HSTS on every response. */
static int setup_tls(bw_server *srv, char *err, size_t errlen)
{
    const bw_config *cfg = srv->cfg;
    const char *hsts = cfg->tls.hsts_preload ? "max-age=63072000; includeSubDomains; preload"
                                             : "max-age=63072000; includeSubDomains";
    long long days;

    if (cfg->server.plain_http)
        return 0;
    if (bw_tls_bridge_load(BW_TLS_BRIDGE_DIR, err, errlen) != 0)
        return -1;
    if ((mg_init_library(MG_FEATURES_TLS) & MG_FEATURES_TLS) == 0) {
        bw_err_set(err, errlen, "tls: CivetWeb could not initialise TLS through the bridge");
        return -1;
    }
    srv->tls = bw_tls_new(cfg, err, errlen);
    if (srv->tls == NULL)
        return -1;
    if (bw_header_policy_set(srv->headers, NULL, "Strict-Transport-Security", hsts, err, errlen) !=
        0)
        return -1;
    days = bw_tls_days_left(srv->tls);
    bw_log(BW_LOG_INFO, "tls.ready",
           (bw_log_field[]){BW_LOG_S("provider", bw_tls_provider()),
                            BW_LOG_I("cert_days_left", days),
                            BW_LOG_S("min_version", cfg->tls.allow_tls12 ? "TLSv1.2" : "TLSv1.3")},
           3);
    if (days < 30)
        bw_log(BW_LOG_WARN, "tls.cert_expiring", (bw_log_field[]){BW_LOG_I("days_left", days)}, 1);
    return 0;
}

/* limits.max_connections_per_address: checked by the TLS bridge when CivetWeb hands a new
 * connection its socket, before the handshake. Plain HTTP has no bridge, so no cap. Trusted
 * proxies carry many clients and are exempt. CivetWeb holds at most one TLS connection per
 * worker, so a table of server.threads addresses never fills. */
static int setup_connlimit(bw_server *srv, char *err, size_t errlen)
{
    const bw_config *cfg = srv->cfg;

    if (srv->tls == NULL || cfg->limits.max_connections_per_address == 0)
        return 0;
    srv->connlimit = bw_connlimit_new((unsigned)cfg->limits.max_connections_per_address,
                                      (size_t)cfg->server.threads, srv->trusted,
                                      cfg->server.nproxies, err, errlen);
    if (srv->connlimit == NULL)
        return -1;
    return bw_connlimit_attach(srv->connlimit, err, errlen);
}

/* A new set of JWT issuers and keys; on failure the old one stays. Both
 * outcomes are audited. */
static int reload_jwt(bw_server *srv, char *err, size_t errlen)
{
    size_t nkeys = 0;
    bw_audit_event ev = {.actor = "system", .target = srv->cfg->auth.jwt.file};

    if (!bw_auth_jwt_enabled(srv->auth))
        return 0;
    if (bw_auth_jwt_load(srv->auth, &nkeys, err, errlen) != 0) {
        bw_log_field d[] = {BW_LOG_S("reason", err)};
        ev.event = "auth.jwt.reload_failed";
        ev.outcome = BW_AUDIT_FAILURE;
        ev.detail = d;
        ev.ndetail = 1;
        (void)bw_audit_emit(&ev);
        return -1;
    }
    bw_log_field d[] = {BW_LOG_I("count", (long long)nkeys)};
    ev.event = "auth.jwt.keys_reloaded";
    ev.outcome = BW_AUDIT_SUCCESS;
    ev.detail = d;
    ev.ndetail = 1;
    (void)bw_audit_emit(&ev);
    return 0;
}

int bw_server_poll_jwt(bw_server *srv)
{
    char err[512];

    if (!bw_auth_jwt_changed(srv->auth))
        return 0;
    bw_log_msg(BW_LOG_INFO, "auth.jwt.files_changed", "reloading the JWT issuers and keys");
    return reload_jwt(srv, err, sizeof(err)) == 0 ? 1 : -1;
}

int bw_server_reload(bw_server *srv, char *err, size_t errlen)
{
    int jwt_rc;

    /* Log rotation moved the export file away: write to a fresh one. */
    if (bw_monitor_reopen(srv->monitor) != 0)
        bw_log_msg(BW_LOG_ERROR, "audit.export_reopen_failed", "the old export file stays in use");
    jwt_rc = reload_jwt(srv, err, errlen);
    if (srv->tls == NULL)
        return jwt_rc;
    if (bw_tls_reload(srv->tls, err, errlen) != 0) {
        bw_log_field d[] = {BW_LOG_S("reason", err)};
        bw_audit_event ev = {.event = "tls.reload.failed",
                             .outcome = BW_AUDIT_FAILURE,
                             .actor = "system",
                             .target = srv->cfg->tls.cert,
                             .detail = d,
                             .ndetail = 1};
        (void)bw_audit_emit(&ev);
        return -1;
    }
    bw_log_field d[] = {BW_LOG_I("days_left", bw_tls_days_left(srv->tls))};
    bw_audit_event ev = {.event = "tls.reload.success",
                         .outcome = BW_AUDIT_SUCCESS,
                         .actor = "system",
                         .target = srv->cfg->tls.cert,
                         .detail = d,
                         .ndetail = 1};
    (void)bw_audit_emit(&ev);
    return jwt_rc;
}

static void server_free(bw_server *srv)
{
    /* Every request has finished (mg_stop): their records are queued; commit them. */
    bw_monitor_stop(srv->monitor);
    if (srv->router != NULL)
        bw_router_free(srv->router);
    if (srv->headers != NULL)
        bw_header_policy_free(srv->headers);
    if (srv->cors != NULL)
        bw_cors_free(srv->cors);
    if (srv->store != NULL)
        bw_store_close(srv->store);
    /* After mg_stop: no connection holds a token any more, so it detaches and frees. */
    bw_connlimit_free(srv->connlimit);
    if (srv->tls != NULL)
        bw_tls_free(srv->tls);
    bw_auth_free(srv->auth);
    free(srv->trusted);
    bw_ratelimit_free(srv->limiter);
    bw_banlist_free(srv->bans);
    free(srv->route_rates);
    for (size_t i = 0; srv->schemas != NULL && i < srv->app->nroutes; i++) {
        bw_schema_free(srv->schemas[i].body);
        bw_schema_free(srv->schemas[i].path);
        bw_schema_free(srv->schemas[i].query);
        bw_schema_free(srv->schemas[i].header);
        json_decref(srv->schemas[i].path_doc);
        json_decref(srv->schemas[i].query_doc);
    }
    free(srv->schemas);
    free(srv->openapi);
    free(srv);
}

static int start_civetweb(bw_server *srv, char *err, size_t errlen)
{
    const bw_config *cfg = srv->cfg;
    char threads[16], queue[16], backlog[16], req_to[16], ka_to[16], max_req[24], ports[300];
    struct mg_callbacks cb;
    struct mg_init_data init;
    struct mg_error_data errdata;
    struct mg_server_port sports[4];
    char cverr[256] = "";
    /* clang-format off */
    const char *options[] = {
        "listening_ports", ports,
        "num_threads", threads,
        "connection_queue", queue,
        "listen_backlog", backlog,
        "request_timeout_ms", req_to,
        "keep_alive_timeout_ms", ka_to,
        "enable_keep_alive", "yes",
        "max_request_size", max_req,
        "decode_url", "no",
        "enable_directory_listing", "no",
        "tcp_nodelay", "1",
        NULL, NULL,
    };
    /* clang-format on */
    int n;

    /* CivetWeb marks a TLS listener with a trailing 's'; the redirect
     * listeners are plain ones the pipeline answers with 308 only. */
    n = snprintf(ports, sizeof(ports), "%s%s", cfg->server.listen, srv->tls != NULL ? "s" : "");
    for (size_t i = 0; i < cfg->server.nredirect && n > 0 && (size_t)n < sizeof(ports); i++) {
        int m =
            snprintf(ports + n, sizeof(ports) - (size_t)n, ",%s", cfg->server.redirect_listen[i]);
        n = m < 0 ? -1 : n + m;
    }
    if (n < 0 || (size_t)n >= sizeof(ports)) {
        bw_err_set(err, errlen, "server.listen: too long");
        return -1;
    }
    snprintf(threads, sizeof(threads), "%d", cfg->server.threads);
    snprintf(queue, sizeof(queue), "%d", cfg->server.connection_queue);
    snprintf(backlog, sizeof(backlog), "%d", cfg->server.listen_backlog);
    snprintf(req_to, sizeof(req_to), "%d", cfg->server.request_timeout_ms);
    snprintf(ka_to, sizeof(ka_to), "%d", cfg->server.keep_alive_timeout_ms);
    snprintf(max_req, sizeof(max_req), "%lld", cfg->server.max_header_bytes);

    memset(&cb, 0, sizeof(cb));
    cb.begin_request = begin_request;
    cb.http_error = http_error;
    cb.log_message = log_message;
    cb.exit_thread = exit_thread;
    if (srv->tls != NULL)
        cb.external_ssl_ctx = external_ssl_ctx;
    memset(&init, 0, sizeof(init));
    init.callbacks = &cb;
    init.user_data = srv;
    init.configuration_options = options;
    memset(&errdata, 0, sizeof(errdata));
    errdata.text = cverr;
    errdata.text_buffer_size = sizeof(cverr);

    srv->ctx = mg_start2(&init, &errdata);
    if (srv->ctx == NULL) {
        bw_err_set(err, errlen, "cannot listen on %s: %s", cfg->server.listen,
                   cverr[0] ? cverr : "CivetWeb refused to start");
        return -1;
    }
    n = mg_get_server_ports(srv->ctx, 4, sports);
    srv->port = 0;
    for (int i = 0; i < n; i++) {
        if ((sports[i].is_ssl != 0) == (srv->tls != NULL)) {
            srv->port = sports[i].port;
            break;
        }
    }
    return 0;
}

bw_server *bw_server_start(const bw_app *app, const bw_config *cfg, char *err, size_t errlen)
{
    bw_server *srv = calloc(1, sizeof(*srv));

    if (srv == NULL) {
        bw_err_set(err, errlen, "out of memory");
        return NULL;
    }
    srv->app = app;
    srv->cfg = cfg;
    atomic_init(&srv->inflight, 0);
    srv->headers = bw_header_policy_new();
    if (srv->headers == NULL) {
        bw_err_set(err, errlen, "out of memory");
        server_free(srv);
        return NULL;
    }
    if (setup_auth(srv, err, errlen) != 0 || setup_router(srv, err, errlen) != 0 ||
        setup_schemas(srv, err, errlen) != 0 || setup_openapi(srv, err, errlen) != 0 ||
        apply_header_overrides(srv, err, errlen) != 0 || setup_cors(srv, err, errlen) != 0 ||
        setup_proxies(srv, err, errlen) != 0 || setup_ratelimit(srv, err, errlen) != 0 ||
        setup_monitor(srv, err, errlen) != 0 || setup_store(srv, err, errlen) != 0 ||
        setup_bans(srv, err, errlen) != 0 || setup_tls(srv, err, errlen) != 0 ||
        setup_connlimit(srv, err, errlen) != 0) {
        server_free(srv);
        return NULL;
    }
    if (start_civetweb(srv, err, errlen) != 0) {
        server_free(srv);
        return NULL;
    }
    if (bw_monitor_listen(srv->monitor, err, errlen) != 0) {
        mg_stop(srv->ctx);
        server_free(srv);
        return NULL;
    }
    bw_log(BW_LOG_INFO, "server.started",
           (bw_log_field[]){BW_LOG_S("listen", cfg->server.listen), BW_LOG_I("port", srv->port),
                            BW_LOG_S("scheme", srv->tls != NULL ? "https" : "http"),
                            BW_LOG_S("version", bw_version()),
                            BW_LOG_I("routes", (long long)app->nroutes)},
           5);
    return srv;
}

int bw_server_port(const bw_server *srv)
{
    return srv->port;
}

typedef struct stopper {
    struct mg_context *ctx;
    atomic_int done;
} stopper;

static void *stop_thread(void *arg)
{
    stopper *s = arg;

    mg_stop(s->ctx);
    atomic_store(&s->done, 1);
    return NULL;
}

int bw_server_stop(bw_server *srv)
{
    stopper *s = calloc(1, sizeof(*s));
    pthread_t tid;
    struct timespec deadline, now;
    long inflight = atomic_load(&srv->inflight);

    bw_log(BW_LOG_INFO, "server.stopping", (bw_log_field[]){BW_LOG_I("inflight", inflight)}, 1);
    if (s == NULL)
        return 1;
    s->ctx = srv->ctx;
    atomic_init(&s->done, 0);
    /* mg_stop closes the listeners at once and then waits for every worker;
     * it runs on its own thread so the wait can have a deadline. */
    if (pthread_create(&tid, NULL, stop_thread, s) != 0) {
        free(s);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += srv->cfg->server.shutdown_timeout_ms / 1000;
    deadline.tv_nsec += (long)(srv->cfg->server.shutdown_timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    for (int round = 0;; round++) {
        if (atomic_load(&s->done)) {
            pthread_join(tid, NULL);
            free(s);
            server_free(srv);
            bw_log_msg(BW_LOG_INFO, "server.stopped", "all requests finished");
            return 0;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > deadline.tv_sec ||
            (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
            break;
        nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
        /* By now mg_stop has raised its flag: wake the accept loop, which would otherwise
         * notice only at the end of its 2 s poll. */
        if (round == 0)
            bw_netaddr_poke(srv->cfg->server.listen, (unsigned)srv->port);
    }
    /* Workers are still busy: leave them (the process is exiting). */
    bw_log(BW_LOG_WARN, "server.stop_timeout",
           (bw_log_field[]){BW_LOG_I("inflight", (long long)atomic_load(&srv->inflight))}, 1);
    pthread_detach(tid);
    return 1;
}
