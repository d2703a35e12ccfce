/* A service for the security suite: public routes that take bodies, so the schema stage can
 * be attacked from outside without authentication. Built as `bw_test_app`; never shipped. */
#include <string.h>

#include "bulwark/bulwark.h"

/* Echoes the validated body's "name", proving the handler saw the parsed document. */
static int items_create(bw_req *req, bw_res *res)
{
    json_t *doc = bw_req_json(req);
    const char *name = json_string_value(json_object_get(doc, "name"));

    return bw_res_json(res, 201, json_pack("{s:s}", "created", name != NULL ? name : ""));
}

/* Echoes the coerced path and query values, proving their types. */
static int items_get(bw_req *req, bw_res *res)
{
    long long id = 0;
    json_t *q = bw_req_query_json(req);

    if (bw_req_param_int(req, "id", &id) != 0)
        return -1;
    return bw_res_json(res, 200, json_pack("{s:I, s:O}", "id", (json_int_t)id, "query", q));
}

/* Answers with the X-Tenant header its header_schema checked. */
static int tenant_get(bw_req *req, bw_res *res)
{
    return bw_res_json(res, 200, json_pack("{s:s}", "tenant", bw_req_header(req, "X-Tenant")));
}

static int ok(bw_req *req, bw_res *res)
{
    (void)req;
    return bw_res_json(res, 200, json_pack("{s:b}", "ok", 1));
}

static const bw_route routes[] = {
    {.method = "GET", .path = "/healthz", .handler = ok, .public = true},
    {.method = "GET",
     .path = "/v1/tenant",
     .handler = tenant_get,
     .public = true,
     .header_schema = "item_headers.json"},
    {.method = "GET",
     .path = "/v1/items/{id}",
     .handler = items_get,
     .public = true,
     .path_schema = "item_path.json",
     .query_schema = "item_query.json"},
    {.method = "POST",
     .path = "/v1/items",
     .handler = items_create,
     .public = true,
     .body_schema = "item.json",
     .max_body = 256 * 1024},
};

int main(int argc, char **argv)
{
    const bw_app app = {
        .name = "test_app",
        .routes = routes,
        .nroutes = sizeof(routes) / sizeof(routes[0]),
        .schemas = bw_embedded_schemas,
        .nschemas = bw_embedded_schemas_count,
        .rbac = bw_app_rbac_file,
        /* The framework's tables (sessions, bans...) live in the project's migrations. */
        .migrations = bw_embedded_migrations,
        .nmigrations = bw_embedded_migrations_count,
    };

    return bw_main(&app, argc, argv);
}
