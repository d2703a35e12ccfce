/* The notes service: the route table is the whole contract. Each route says
 * who may call it (.permission or .public) and what body it takes
 * (.body_schema, in app/schemas/). */
#include "app.h"

/* The service as authenticator apps list it next to the account name. */
static int mfa_enroll(bw_req *req, bw_res *res)
{
    return bw_auth_handle_mfa_enroll(req, res, "Bulwark notes");
}

static const bw_route routes[] = {
    {.method = "GET", .path = "/healthz", .handler = health_live, .public = true},
    {.method = "GET", .path = "/readyz", .handler = health_ready, .public = true},

    /* Sessions: the handlers are the framework's; the contract is ours. */
    {.method = "POST",
     .path = "/v1/auth/login",
     .handler = bw_auth_handle_login,
     .public = true,
     .body_schema = "login.json",
     .max_body = 4096,
     .rate = "10/min"},
    {.method = "POST",
     .path = "/v1/auth/logout",
     .handler = bw_auth_handle_logout,
     .permission = "session:self",
     .body_schema = "empty.json",
     .max_body = 64},
    {.method = "POST",
     .path = "/v1/auth/logout-all",
     .handler = bw_auth_handle_logout_all,
     .permission = "session:self",
     .body_schema = "empty.json",
     .max_body = 64},
    {.method = "GET",
     .path = "/v1/auth/me",
     .handler = bw_auth_handle_me,
     .permission = "session:self"},

    /* The second factor (docs/mfa.md): sessions only. Turning it off takes a session that
     * passed it (.mfa), the password and a current code. */
    {.method = "POST",
     .path = "/v1/auth/mfa/enroll",
     .handler = mfa_enroll,
     .permission = "session:self",
     .body_schema = "empty.json",
     .max_body = 64,
     .rate = "10/min"},
    {.method = "POST",
     .path = "/v1/auth/mfa/confirm",
     .handler = bw_auth_handle_mfa_confirm,
     .permission = "session:self",
     .body_schema = "mfa_confirm.json",
     .max_body = 256,
     .rate = "10/min"},
    {.method = "DELETE",
     .path = "/v1/auth/mfa",
     .handler = bw_auth_handle_mfa_disable,
     .permission = "session:self",
     .body_schema = "mfa_disable.json",
     .max_body = 4096,
     .rate = "10/min",
     .mfa = true},

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
     .path_schema = "note_id.json",
     .body_schema = "note_update.json",
     .max_body = (size_t)64 * 1024},
    {.method = "DELETE",
     .path = "/v1/notes/{id}",
     .handler = notes_delete,
     .permission = "notes:write",
     .path_schema = "note_id.json",
     .audit = BW_AUDIT_ALWAYS,
     .audit_event = "notes.delete"},

    /* User management: people only, with a second factor (docs/mfa.md). */
    {.method = "GET",
     .path = "/v1/admin/users",
     .handler = admin_users_list,
     .permission = "users:read",
     .mfa = true,
     .query_schema = "user_list_query.json"},
    {.method = "POST",
     .path = "/v1/admin/users",
     .handler = admin_users_create,
     .permission = "users:write",
     .mfa = true,
     .body_schema = "user_create.json",
     .max_body = 4096,
     .audit = BW_AUDIT_ALWAYS,
     .audit_event = "admin.user.create"},
    {.method = "GET",
     .path = "/v1/admin/users/{id}",
     .handler = admin_users_get,
     .permission = "users:read",
     .mfa = true,
     .path_schema = "user_id.json"},
    {.method = "PATCH",
     .path = "/v1/admin/users/{id}",
     .handler = admin_users_update,
     .permission = "users:write",
     .mfa = true,
     .path_schema = "user_id.json",
     .body_schema = "user_update.json",
     .max_body = 4096,
     .audit = BW_AUDIT_ALWAYS,
     .audit_event = "admin.user.update"},

    /* The audit trail: the handler is the framework's; a second factor, as above. */
    {.method = "GET",
     .path = "/v1/admin/audit",
     .handler = bw_audit_handle_list,
     .permission = "audit:read",
     .mfa = true,
     .query_schema = "audit_query.json",
     .audit = BW_AUDIT_ALWAYS,
     .audit_event = "audit.read"},
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
        .rbac = bw_app_rbac_file,
    };

    return bw_main(&app, argc, argv);
}
