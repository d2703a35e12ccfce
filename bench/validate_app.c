/* The validation benchmark's service: two public routes that take the same
 * body and answer the same 201, one validating against the sample note
 * schema, one against the cheapest schema the framework accepts (it refuses a
 * body route without a schema). The difference between them is what schema
 * validation costs. Built and driven by bench/validate.sh only. */
#include <stddef.h>

#include "bulwark/bulwark.h"

static const char created[] = "{\"id\":1,\"status\":\"created\"}";

/* Both routes answer identically so only the schema differs. */
static int created_handler(bw_req *req, bw_res *res)
{
    (void)req;
    return bw_res_body(res, 201, "application/json", created, sizeof(created) - 1);
}

static const bw_route routes[] = {
    {.method = "POST",
     .path = "/schema",
     .handler = created_handler,
     .public = true,
     .body_schema = "note.json"},
    {.method = "POST",
     .path = "/noschema",
     .handler = created_handler,
     .public = true,
     .body_schema = "open.json"},
};

int main(int argc, char **argv)
{
    const bw_app app = {
        .name = "validate_app",
        .routes = routes,
        .nroutes = sizeof(routes) / sizeof(routes[0]),
        .migrations = NULL, /* no tables: the store is opened but unused */
        .nmigrations = 0,
        .schemas = bw_embedded_schemas,
        .nschemas = bw_embedded_schemas_count,
    };

    return bw_main(&app, argc, argv);
}
