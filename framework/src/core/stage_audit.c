/* The audit and monitoring end of the pipeline: a .audit route's record is durable before
 * its answer leaves; after the answer, the request is counted, the events its status
 * implies are reported, and its input is scanned for attack signatures. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bulwark/attack.h"
#include "bulwark/audit.h"
#include "bulwark/credential.h"
#include "bulwark/metrics.h"
#include "stage.h"

/* Headers never scanned: they carry credentials, and nothing from them may be reported. */
static bool header_is_secret(const char *name)
{
    return strcasecmp(name, "Authorization") == 0 || strcasecmp(name, "Cookie") == 0 ||
           strcasecmp(name, BW_CSRF_HEADER) == 0;
}

void bw_stage_audit_route(bw_ctx *c)
{
    const bw_route *rt = c->route;
    bw_log_field d[] = {BW_LOG_S("method", c->req.method), BW_LOG_S("route", c->req.route),
                        BW_LOG_I("status", c->res.status)};
    uint64_t ticket;

    if (rt == NULL || rt->audit != BW_AUDIT_ALWAYS || !c->handled)
        return;
    ticket = bw_audit_req(&c->req, rt->audit_event != NULL ? rt->audit_event : "api.call",
                          c->res.status < 400 ? BW_AUDIT_SUCCESS : BW_AUDIT_FAILURE, c->req.path, d,
                          sizeof(d) / sizeof(d[0]));
    if (bw_audit_wait(ticket) == 0)
        return;
    /* The action happened but its record is not durable: the client must not read it as a
     * plain success; the failure is logged by the writer. */
    bw_res_init(&c->res, c->req.arena, c->req.id);
    bw_res_problem(&c->res, 500, "The action could not be recorded.");
}

static size_t route_index(const bw_ctx *c)
{
    const bw_app *app = c->srv->app;

    if (c->route == NULL)
        return SIZE_MAX;
    if (c->route >= app->routes && c->route < app->routes + app->nroutes)
        return (size_t)(c->route - app->routes);
    return c->route == c->srv->openapi_route ? app->nroutes : SIZE_MAX;
}

/* Appends name to list (comma-separated) when it fits. */
static void add_name(char *list, size_t cap, const char *name)
{
    size_t used = strlen(list);
    int n = snprintf(list + used, cap - used, "%s%s", used > 0 ? "," : "", name);

    if (n < 0 || (size_t)n >= cap - used)
        list[used] = '\0';
}

static unsigned scan_headers(const bw_ctx *c)
{
    const struct mg_request_info *ri = c->req.ri;
    unsigned found = 0;

    for (int i = 0; i < ri->num_headers; i++) {
        const char *v = ri->http_headers[i].value;
        if (v == NULL || header_is_secret(ri->http_headers[i].name))
            continue;
        found |= bw_attack_scan(v, strnlen(v, BW_ATTACK_SCAN_MAX));
    }
    return found;
}

/* attack.suspected with where the signatures matched and which classes, never the input;
 * each such request counts toward ban.attacks. */
static void scan_for_attacks(bw_ctx *c)
{
    const struct mg_request_info *ri = c->req.ri;
    char where[64] = "", classes[64] = "";
    unsigned all = 0, found;

    if (ri->local_uri_raw != NULL &&
        (found = bw_attack_scan(ri->local_uri_raw, strlen(ri->local_uri_raw))) != 0) {
        all |= found;
        add_name(where, sizeof(where), "path");
    }
    /* The raw query, and its decoded values ('+' is a space only there). */
    found =
        ri->query_string != NULL ? bw_attack_scan(ri->query_string, strlen(ri->query_string)) : 0;
    for (size_t i = 0; i < c->req.nquery; i++) {
        const char *v = c->req.query[i].value;
        found |= bw_attack_scan(v, strnlen(v, BW_ATTACK_SCAN_MAX));
    }
    if (found != 0) {
        all |= found;
        add_name(where, sizeof(where), "query");
    }
    if ((found = scan_headers(c)) != 0) {
        all |= found;
        add_name(where, sizeof(where), "header");
    }
    found = c->req.json != NULL   ? bw_attack_scan_json(c->req.json)
            : c->req.body != NULL ? bw_attack_scan(c->req.body, c->req.body_len)
                                  : 0;
    if (found != 0) {
        all |= found;
        add_name(where, sizeof(where), "body");
    }
    if (all == 0)
        return;
    for (unsigned bit = 1; bit <= BW_ATTACK_ALL; bit <<= 1) {
        if ((all & bit) != 0)
            add_name(classes, sizeof(classes), bw_attack_class_name(bit));
    }
    bw_log_field d[] = {BW_LOG_S("where", where), BW_LOG_S("signature", classes),
                        BW_LOG_S("method", c->req.method), BW_LOG_I("status", c->res.status)};
    (void)bw_audit_req(&c->req, "attack.suspected", BW_AUDIT_INFO, c->req.route, d,
                       sizeof(d) / sizeof(d[0]));
    bw_stage_offend(c, BW_OFFENCE_ATTACK);
}

/* The events a refusal stands for, beyond those its stage reported itself (rate limits,
 * authorization and bans report where they decide, with their reason). */
static void report_status(bw_ctx *c)
{
    bw_log_field d[] = {BW_LOG_S("method", c->req.method), BW_LOG_S("route", c->req.route),
                        BW_LOG_I("status", c->res.status)};

    if (c->res.status == 400)
        (void)bw_audit_req(&c->req, "validation.failed", BW_AUDIT_FAILURE, c->req.route, d,
                           sizeof(d) / sizeof(d[0]));
    else if (c->res.status == 401 && c->credential_refused) {
        /* The verifier's reason when it gave one: a fixed string, never credential bytes. */
        bw_log_field r[] = {d[0], d[1], d[2], BW_LOG_S("reason", c->refused_reason)};
        (void)bw_audit_req(&c->req, "auth.credential.refused", BW_AUDIT_FAILURE, c->req.route, r,
                           c->refused_reason[0] != '\0' ? 4 : 3);
    }
}

void bw_stage_report(bw_ctx *c, long long duration_us)
{
    bw_metrics_request(route_index(c), c->res.status, duration_us);
    if (c->banned)
        return; /* refused at the first stage: nothing else was looked at */
    report_status(c);
    if (c->srv->cfg->audit.attack_signatures)
        scan_for_attacks(c);
    bw_stage_report_offence(c);
}
