/* Users in the store (tables users, from migrations/0001 and 0002): name,
 * Argon2id password hash, roles, disabled flag. This module only stores;
 * policy and hashing live in password.h, role names are checked against
 * rbac.h by the caller (auth.h does both). */
#ifndef BULWARK_USER_H
#define BULWARK_USER_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include "bulwark/password.h"

/* Usernames: 1 to 64 bytes of [a-z0-9._@-], first one [a-z0-9]. Upper-case
 * ASCII letters are folded to lower case first, so "Alice" is "alice". */
#define BW_USER_NAME_MAX 64
#define BW_USER_ROLES_MAX 1024

typedef struct bw_user {
    long long id;
    char name[BW_USER_NAME_MAX + 1];
    char password_hash[BW_PASSWORD_HASH_MAX]; /* "" when no password is set */
    char roles[BW_USER_ROLES_MAX];            /* comma-separated */
    bool disabled;
    char created_at[32]; /* ISO-8601 UTC */
} bw_user;

/* Normalises name[0..len) into out (NUL-terminated; outlen >=
 * BW_USER_NAME_MAX + 1). Returns 0, or -1 when the name breaks the rule above. */
int bw_user_name_normalize(const char *name, size_t len, char *out, size_t outlen);

/* Adds a user with a normalised name, a password hash ("" allowed) and roles.
 * Returns 0 with *id set, 1 when the name is taken, -1 on a database error
 * (message in err). */
int bw_user_add(sqlite3 *db, const char *name, const char *password_hash, const char *roles,
                long long *id, char *err, size_t errlen);

/* Looks a user up by normalised name / by id. 1 found (*out filled), 0 not
 * found, -1 database error. */
int bw_user_find(sqlite3 *db, const char *name, bw_user *out);
int bw_user_get(sqlite3 *db, long long id, bw_user *out);

/* Updates one field. 1 changed, 0 no such user, -1 database error. */
int bw_user_set_password_hash(sqlite3 *db, long long id, const char *password_hash);
int bw_user_set_roles(sqlite3 *db, long long id, const char *roles);
int bw_user_set_disabled(sqlite3 *db, long long id, bool disabled);

/* Calls fn for up to `limit` users with id > after_id, in id order (keyset
 * pagination). fn returning non-zero stops early. Returns the number of users
 * passed to fn, or -1 on a database error. */
int bw_user_list(sqlite3 *db, long long after_id, int limit, int (*fn)(const bw_user *u, void *ud),
                 void *ud);

#endif
