/* What the auth module's files share. Nothing outside framework/src/auth
 * includes this. */
#ifndef BW_AUTH_INTERNAL_H
#define BW_AUTH_INTERNAL_H

#include "bulwark/auth.h"
#include "bulwark/credential.h"
#include "bulwark/embed.h"
#include "bulwark/password.h"
#include "bulwark/throttle.h"

#define BW_AUTH_KEY_BYTES 32
#define BW_AUTH_NKEYS 6

struct bw_auth {
    const bw_config *cfg;
    unsigned char *keys; /* BW_AUTH_NKEYS derived keys, sodium_malloc'd, read-only */
    bw_password_params pw;
    bw_password_gate *gate;
    bw_throttle_policy throttle;
    bw_rbac *rbac;
    struct bw_auth_jwt *jwt; /* JWT issuers and keys (jwt_set.c); NULL when never loaded */
};

/* config/jwt.schema.json, compiled into the library (CMakeLists.txt). */
extern const bw_embedded_file bw_jwt_schema_file[];
extern const size_t bw_jwt_schema_file_count;

/* Frees the JWT holder and its set (NULL is fine); no verification may run. */
void bw_auth_jwt_free(struct bw_auth_jwt *j);

const unsigned char *bw_auth_session_key(const bw_auth *a);
const unsigned char *bw_auth_csrf_key(const bw_auth *a);
const unsigned char *bw_auth_apikey_key(const bw_auth *a);
const unsigned char *bw_auth_throttle_key(const bw_auth *a);
/* The second factor's keys (mfa.h): the TOTP secret seal, the recovery code hash. */
const unsigned char *bw_auth_mfa_seal_key(const bw_auth *a);
const unsigned char *bw_auth_mfa_recovery_key(const bw_auth *a);

/* The roles of a stored comma-separated list that RBAC still knows. */
bw_roleset bw_auth_roles_lenient(const bw_auth *a, const char *list);

#endif
