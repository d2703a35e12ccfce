/* The notes service: the route table is the whole contract. Each route says
 * who may call it (.permission or .public) and what body it takes
 * (.body_schema, in app/schemas/). */
#include "app.h"

static const bw_route routes[] = {
    {.method = "GET", .path = "/healthz", .handler = health_live, .public = true},
    {.method = "GET", .path = "/readyz", .handler = health_ready, .public = true},

    {.method = "GET",
     .path = "/v1/notes",
     .handler = notes_list,
     .permission = "notes:read",
     .query_schema = "note_list_query.json"},
    {.method = "POST",
     .path = "/v1/notes",
     .handler = notes_create,
     .permission = "notes:write",
     .body_schema = "note_create.json",
     .max_body = (size_t)64 * 1024,
     .rate = "30/min"},
    {.method = "GET",
     .path = "/v1/notes/{id}",
     .handler = notes_get,
     .path_schema = "note_id.json",
     .permission = "notes:read"},
    {.method = "PUT",
     .path = "/v1/notes/{id}",
     .handler = notes_update,
     .permission = "notes:write",
     .body_schema = "note_update.json",
     .max_body = (size_t)64 * 1024},
    {.method = "DELETE",
     .path = "/v1/notes/{id}",
     .handler = notes_delete,
     .permission = "notes:write",
     .audit = BW_AUDIT_ALWAYS},
};

int main(int argc, char **argv)
{
    const bw_app app = {
        .name = "notes",
        .routes = routes,
        .nroutes = sizeof(routes) / sizeof(routes[0]),
        .migrations = bw_embedded_migrations,
        .nmigrations = bw_embedded_migrations_count,
        .schemas = bw_embedded_schemas,
        .nschemas = bw_embedded_schemas_count,
    };

    return bw_main(&app, argc, argv);
}
