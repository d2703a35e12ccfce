/* Admin user management: list, read, create and change users. Every route
 * is behind users:read or users:write (config/rbac.json); the checks on
 * names, passwords and roles are the framework's (bw_auth_user_*), the same
 * that `notes user ...` uses. */
#include <string.h>

#include <sodium.h>

#include "app.h"

#define ADMIN_PAGE_DEFAULT 20

static json_t *user_json(const bw_user *u)
{
    json_t *roles = json_array();
    const char *p = u->roles;

    while (roles != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

        if (json_array_append_new(roles, json_stringn(p, n)) != 0) {
            json_decref(roles);
            return NULL;
        }
        p += n + (end != NULL ? 1 : 0);
    }
    return json_pack("{s:I, s:s, s:o, s:b, s:s}", "id", (json_int_t)u->id, "username", u->name,
                     "roles", roles, "disabled", u->disabled, "created_at", u->created_at);
}

/* ["editor", "viewer"] -> "editor,viewer"; the schema bounds the array. */
static int roles_text(const json_t *arr, char *out, size_t cap)
{
    size_t i, len = 0;
    const json_t *v;

    out[0] = '\0';
    json_array_foreach(arr, i, v)
    {
        size_t n = json_string_length(v);

        if (!json_is_string(v) || len + n + 2 > cap)
            return -1;
        if (len > 0)
            out[len++] = ',';
        memcpy(out + len, json_string_value(v), n);
        len += n;
        out[len] = '\0';
    }
    return 0;
}

static int status_problem(bw_res *res, bw_auth_status st, const char *why)
{
    switch (st) {
    case BW_AUTH_INVALID:
        return bw_res_problem(res, 400, why);
    case BW_AUTH_EXISTS:
        return bw_res_problem(res, 409, "The username is taken.");
    case BW_AUTH_NOT_FOUND:
        return bw_res_problem(res, 404, NULL);
    case BW_AUTH_BUSY:
        bw_res_header(res, "Retry-After", "1");
        return bw_res_problem(res, 503, "The service is busy. Try again shortly.");
    default:
        return bw_res_problem(res, 500, NULL);
    }
}

static int append_user(const bw_user *u, void *ud)
{
    return json_array_append_new((json_t *)ud, user_json(u));
}

int admin_users_list(bw_req *req, bw_res *res)
{
    const json_t *q = bw_req_query_json(req);
    const json_t *lim = json_object_get(q, "limit"), *after = json_object_get(q, "after");
    int limit = lim != NULL ? (int)json_integer_value(lim) : ADMIN_PAGE_DEFAULT;
    json_t *items = json_array(), *last;
    int n = bw_user_list(bw_store_conn(bw_req_store(req)),
                         after != NULL ? json_integer_value(after) : 0, limit, append_user, items);

    if (n < 0 || items == NULL) {
        json_decref(items);
        return bw_res_problem(res, 500, NULL);
    }
    last = json_array_get(items, json_array_size(items) - 1);
    return bw_res_json(res, 200,
                       json_pack("{s:o, s:o}", "items", items, "next_after",
                                 n == limit && last != NULL ? json_copy(json_object_get(last, "id"))
                                                            : json_null()));
}

int admin_users_get(bw_req *req, bw_res *res)
{
    long long id;
    bw_user u;
    int rc;

    if (bw_req_param_int(req, "id", &id) != 0)
        return bw_res_problem(res, 404, NULL);
    rc = bw_user_get(bw_store_conn(bw_req_store(req)), id, &u);
    if (rc < 0)
        return bw_res_problem(res, 500, NULL);
    if (rc == 0)
        return bw_res_problem(res, 404, NULL);
    return bw_res_json(res, 200, user_json(&u));
}

int admin_users_create(bw_req *req, bw_res *res)
{
    const json_t *doc = bw_req_json(req);
    const json_t *name = json_object_get(doc, "username"), *pw = json_object_get(doc, "password");
    char roles[BW_USER_ROLES_MAX];
    const char *why = NULL;
    long long id = -1;
    bw_auth_status st;
    bw_user u;

    if (!json_is_string(name) || !json_is_string(pw) ||
        roles_text(json_object_get(doc, "roles"), roles, sizeof(roles)) != 0)
        return bw_res_problem(res, 400, "username, password and roles are required.");
    st = bw_auth_user_create(bw_req_auth(req), bw_store_conn(bw_req_store(req)),
                             json_string_value(name), json_string_length(name),
                             json_string_value(pw), json_string_length(pw), roles, &id, &why);
    if (st != BW_AUTH_OK)
        return status_problem(res, st, why);
    if (bw_user_get(bw_store_conn(bw_req_store(req)), id, &u) != 1)
        return bw_res_problem(res, 500, NULL);
    return bw_res_json(res, 201, user_json(&u));
}

int admin_users_update(bw_req *req, bw_res *res)
{
    const json_t *doc = bw_req_json(req);
    const json_t *roles = json_object_get(doc, "roles"), *pw = json_object_get(doc, "password");
    const json_t *disabled = json_object_get(doc, "disabled");
    sqlite3 *db = bw_store_conn(bw_req_store(req));
    bw_auth *auth = bw_req_auth(req);
    const char *why = NULL;
    bw_auth_status st = BW_AUTH_OK;
    char hash[BW_PASSWORD_HASH_MAX] = "";
    long long id;

    if (bw_req_param_int(req, "id", &id) != 0)
        return bw_res_problem(res, 404, NULL);
    /* The password is hashed (one Argon2id run) before the write lock is taken. */
    if (json_is_string(pw)) {
        st = bw_auth_password_prepare(auth, db, id, json_string_value(pw), json_string_length(pw),
                                      hash, &why);
        if (st != BW_AUTH_OK)
            return status_problem(res, st, why);
    }
    /* All changes in one transaction: a refused part leaves the user as it was. */
    if (bw_store_tx_begin(db) != 0) {
        sodium_memzero(hash, sizeof(hash));
        return bw_res_problem(res, 500, NULL);
    }
    if (roles != NULL) {
        char text[BW_USER_ROLES_MAX];

        st = roles_text(roles, text, sizeof(text)) != 0
                 ? BW_AUTH_INVALID
                 : bw_auth_user_set_roles(auth, db, id, text, &why);
    }
    if (st == BW_AUTH_OK && json_is_boolean(disabled))
        st = bw_auth_user_set_disabled(auth, db, id, json_is_true(disabled));
    if (st == BW_AUTH_OK && json_is_string(pw))
        st = bw_auth_user_set_password_hash(auth, db, id, hash);
    sodium_memzero(hash, sizeof(hash));
    if (st != BW_AUTH_OK || bw_store_tx_commit(db) != 0) {
        bw_store_tx_rollback(db);
        return status_problem(res, st == BW_AUTH_OK ? BW_AUTH_FAILED : st,
                              why != NULL ? why : "The roles are not valid.");
    }
    return admin_users_get(req, res);
}
