/* Events of a request: who (the principal), from where (the client) and which request. */
#include "bulwark/audit.h"
#include "bulwark/auth.h"
#include "bulwark/req.h"

uint64_t bw_audit_req(const bw_req *req, const char *event, bw_audit_outcome outcome,
                      const char *target, const bw_log_field *detail, size_t ndetail)
{
    const bw_principal *p = bw_req_principal(req);
    bw_audit_event ev = {
        .event = event,
        .outcome = outcome,
        .actor = p != NULL && p->kind != BW_AUTH_NONE ? p->name : NULL,
        .source = bw_req_client(req),
        .request_id = bw_req_id(req),
        .target = target,
        .detail = detail,
        .ndetail = ndetail,
    };

    return bw_audit_emit(&ev);
}
