/* libFuzzer harness: bytes as an RBAC document, and as a role list for a fixed
 * model. A loaded model must agree with the document: every role grants what
 * it names and everything its parents grant, and nothing when it names
 * nothing. A role list that parses must format back to the same set. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bulwark/rbac.h"

static const char fixed[] =
    "{\"permissions\":{\"notes:read\":\"r\",\"notes:write\":\"w\",\"audit:read\":\"a\"},"
    "\"roles\":{\"viewer\":{\"permissions\":[\"notes:read\"]},"
    "\"editor\":{\"inherits\":[\"viewer\"],\"permissions\":[\"notes:*\"]},"
    "\"auditor\":{\"permissions\":[\"audit:read\"]},\"root\":{\"permissions\":[\"*\"]}}}";

/* Errors are one NUL-terminated line of printable ASCII. */
static void check_message(const char *err, size_t errlen)
{
    if (memchr(err, '\0', errlen) == NULL || err[0] == '\0')
        abort();
    for (const char *p = err; *p != '\0'; p++) {
        if (*p < 0x20 || *p > 0x7e)
            abort();
    }
}

static bw_roleset one(int i)
{
    return (bw_roleset)1 << i;
}

static int index_of(const bw_rbac *r, const json_t *name, bool role)
{
    const char *s = json_string_value(name);
    size_t n = s != NULL ? json_string_length(name) : 0;
    int i = role ? bw_rbac_role_index(r, s, n) : bw_rbac_permission_index(r, s, n);
    if (i < 0) /* the loader refuses what it cannot resolve */
        abort();
    return i;
}

/* Checks the loaded model r against its document. */
static void check_model(const bw_rbac *r, const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    json_t *perms = json_object_get(root, "permissions"), *roles = json_object_get(root, "roles");
    size_t nroles = bw_rbac_role_count(r), nperms = json_object_size(perms);
    const char *key;
    json_t *def;

    if (root == NULL || nroles != json_object_size(roles) || nroles > BW_RBAC_MAX_ROLES ||
        nperms > BW_RBAC_MAX_PERMISSIONS || bw_rbac_allows(r, ~(bw_roleset)0, (int)nperms))
        abort();
    json_object_foreach(roles, key, def)
    {
        int i = bw_rbac_role_index(r, key, strlen(key));
        const json_t *grants = json_object_get(def, "permissions");
        const json_t *parents = json_object_get(def, "inherits");
        if (i < 0 || strcmp(bw_rbac_role_name(r, (size_t)i), key) != 0)
            abort();
        for (size_t k = 0; k < json_array_size(grants); k++) {
            const char *g = json_string_value(json_array_get(grants, k));
            if (g != NULL && strchr(g, '*') == NULL &&
                !bw_rbac_allows(r, one(i), index_of(r, json_array_get(grants, k), false)))
                abort();
            if (g != NULL && strcmp(g, "*") == 0) {
                for (size_t p = 0; p < nperms; p++) {
                    if (!bw_rbac_allows(r, one(i), (int)p))
                        abort();
                }
            }
        }
        for (size_t k = 0; k < json_array_size(parents); k++) {
            int parent = index_of(r, json_array_get(parents, k), true);
            for (size_t p = 0; p < nperms; p++) {
                if (bw_rbac_allows(r, one(parent), (int)p) && !bw_rbac_allows(r, one(i), (int)p))
                    abort();
            }
        }
        if (json_array_size(grants) == 0 && json_array_size(parents) == 0) {
            for (size_t p = 0; p < nperms; p++) {
                if (bw_rbac_allows(r, one(i), (int)p))
                    abort();
            }
        }
    }
    json_decref(root);
}

/* Parses data as a role list; a set that parses formats back to itself. */
static void check_list(const bw_rbac *r, const uint8_t *data, size_t size)
{
    char err[256], out[BW_RBAC_MAX_ROLES * 33 + 1];
    bw_roleset set = 1, again = 0;
    if (bw_rbac_roles_parse(r, (const char *)data, size, &set, err, sizeof(err)) != 0) {
        if (set != 0)
            abort();
        check_message(err, sizeof(err));
        return;
    }
    int n = bw_rbac_roles_format(r, set, out, sizeof(out));
    if (n < 0 || (size_t)n > size ||
        bw_rbac_roles_parse(r, out, (size_t)n, &again, err, sizeof(err)) != 0 || again != set)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bw_rbac *model;
    char err[4096];
    bw_rbac *r = NULL;

    if (model == NULL && bw_rbac_load(fixed, sizeof(fixed) - 1, &model, err, sizeof(err)) != 0)
        abort();
    check_list(model, data, size);

    if (bw_rbac_load((const char *)data, size, &r, err, sizeof(err)) != 0) {
        if (r != NULL)
            abort();
        check_message(err, sizeof(err));
        return 0;
    }
    check_model(r, data, size);
    bw_rbac_free(r);
    return 0;
}
