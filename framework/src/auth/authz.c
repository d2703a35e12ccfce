/* Object-level authorization for handlers: the route's permission was
 * checked by the pipeline; these answer finer questions about one object. */
#include <string.h>

#include "auth_internal.h"
#include "bulwark/log.h"

bool bw_principal_allows(const bw_rbac *r, const bw_principal *p, int perm)
{
    return bw_rbac_allows(r, p->roles, perm) && bw_rbac_allows(r, p->scope, perm);
}

bool bw_authz_require(const bw_req *req, const char *perm)
{
    const bw_principal *p = bw_req_principal(req);
    const bw_auth *a = bw_req_auth(req);
    int idx;

    if (p == NULL || a == NULL || perm == NULL)
        return false;
    idx = bw_rbac_permission_index(a->rbac, perm, strlen(perm));
    if (idx < 0) {
        /* A typo in a handler must not become an allow: deny and say so. */
        bw_log(BW_LOG_ERROR, "authz.unknown_permission",
               (bw_log_field[]){BW_LOG_S("permission", perm)}, 1);
        return false;
    }
    return bw_principal_allows(a->rbac, p, idx);
}

bool bw_authz_owner_or(const bw_req *req, long long owner_id, const char *perm)
{
    const bw_principal *p = bw_req_principal(req);

    if (p == NULL)
        return false;
    if (p->user_id >= 0 && p->user_id == owner_id)
        return true;
    return bw_authz_require(req, perm);
}
