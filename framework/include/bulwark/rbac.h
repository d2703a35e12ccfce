/* Role-based access control, from config/rbac.json (validated against
 * config/rbac.schema.json, compiled into the library):
 *
 *   { "permissions": { "notes:read": "Read own notes", ... },
 *     "roles": { "viewer": { "permissions": ["notes:read"] },
 *                "editor": { "inherits": ["viewer"], "permissions": ["notes:*"] } } }
 *
 * Every permission a role grants or a route names must be declared under
 * "permissions" (a typo is a start-up error, never a silent deny or allow).
 * "res:*" grants every declared permission "res:..."; "*" grants all.
 * Inheritance is resolved at load time (a cycle or an unknown role is an
 * error), so a check at request time is a bit test. Read-only after load:
 * concurrent use is safe. */
#ifndef BULWARK_RBAC_H
#define BULWARK_RBAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bulwark/embed.h"

/* A set of roles: bit i is the role with index i. */
typedef uint64_t bw_roleset;

#define BW_RBAC_MAX_ROLES 64
#define BW_RBAC_MAX_PERMISSIONS 256
/* Role and permission names: [a-z][a-z0-9_.-]{0,31} for roles; permissions
 * "resource:action" with each part [a-z][a-z0-9_.-]{0,31}. */
#define BW_RBAC_MAX_NAME 65

typedef struct bw_rbac bw_rbac;

/* config/rbac.schema.json, compiled into the library. */
extern const bw_embedded_file bw_rbac_schema_file[];
extern const size_t bw_rbac_schema_file_count;

/* Builds the RBAC model from the JSON text json[0..len) (at most 1 MiB).
 * Errors (-1, message in err naming the JSON pointer, e.g.
 * "/roles/editor/inherits/0: unknown role \"viwer\""): not JSON, not
 * matching the schema, a bad name, an undeclared permission, an unknown or
 * cyclic inheritance, too many roles or permissions. The caller owns *out:
 * bw_rbac_free. */
int bw_rbac_load(const char *json, size_t len, bw_rbac **out, char *err, size_t errlen);

/* Reads the file at path and calls bw_rbac_load; errors name the file. */
int bw_rbac_load_file(const char *path, bw_rbac **out, char *err, size_t errlen);

void bw_rbac_free(bw_rbac *r);

/* Index of the declared permission name[0..len), or -1. */
int bw_rbac_permission_index(const bw_rbac *r, const char *name, size_t len);

/* Index of role name[0..len), or -1. */
int bw_rbac_role_index(const bw_rbac *r, const char *name, size_t len);

/* Name of role i (NUL-terminated, owned by r), or NULL when out of range. */
const char *bw_rbac_role_name(const bw_rbac *r, size_t i);
size_t bw_rbac_role_count(const bw_rbac *r);

/* True when any role in `roles` grants the permission with index perm
 * (directly, by a wildcard, or through inheritance). False for perm < 0. */
bool bw_rbac_allows(const bw_rbac *r, bw_roleset roles, int perm);

/* True when every permission `inner` grants is granted by `outer` too (an
 * API key's roles within its owner's: "viewer" is within "editor"). */
bool bw_rbac_roles_within(const bw_rbac *r, bw_roleset inner, bw_roleset outer);

/* Parses a comma-separated list of role names ("editor,viewer"; no spaces,
 * at most BW_RBAC_MAX_ROLES) into a set. Returns 0, or -1 naming the first
 * unknown or malformed role in err. An empty list is the empty set. */
int bw_rbac_roles_parse(const bw_rbac *r, const char *list, size_t len, bw_roleset *out, char *err,
                        size_t errlen);

/* Writes the role names of `roles` comma-separated (index order) into out.
 * Returns the length, or -1 when it does not fit. */
int bw_rbac_roles_format(const bw_rbac *r, bw_roleset roles, char *out, size_t outlen);

#endif
