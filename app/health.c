/* Liveness and readiness, for orchestrators. */
#include "app.h"

/* Alive: the process answers. Checks nothing else on purpose, so a slow
 * database never gets a healthy process restarted. */
int health_live(bw_req *req, bw_res *res)
{
    (void)req;
    return bw_res_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

/* Ready: the database answers and its schema is current. */
int health_ready(bw_req *req, bw_res *res)
{
    if (bw_store_ping(bw_req_store(req)) != 0)
        return bw_res_problem(res, 503, "The database is not ready.");
    return bw_res_json(res, 200, json_pack("{s:s}", "status", "ready"));
}
