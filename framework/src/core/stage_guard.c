/* Stages that guard the service before it spends work on a request: the
 * client's address (behind trusted proxies), load shedding, rate limits. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "bulwark/audit.h"
#include "bulwark/clock.h"
#include "bulwark/log.h"
#include "stage.h"

/* Stage: load shedding. Beyond server.max_inflight requests in progress,
 * answer 503 at once: cheaper than queueing, and it keeps workers free. */
bool bw_stage_capacity(bw_ctx *c, long inflight)
{
    if (inflight <= c->srv->cfg->server.max_inflight)
        return true;
    bw_res_problem(&c->res, 503, "The service is busy. Try again shortly.");
    bw_res_header(&c->res, "Retry-After", "1");
    c->must_close = true;
    bw_log(BW_LOG_WARN, "server.shed",
           (bw_log_field[]){BW_LOG_S("request_id", c->req.id), BW_LOG_I("inflight", inflight)}, 2);
    return false;
}

/* The RateLimit-Policy and RateLimit fields (IETF draft) for the policy
 * noted in c; on a 429 always, on other answers when ratelimit.headers. */
void bw_stage_rate_fields(bw_ctx *c)
{
    char field[BW_RATELIMIT_FIELD_SIZE];
    size_t nlen;

    if (c->rate_policy == NULL)
        return;
    nlen = strlen(c->rate_name);
    if (bw_ratelimit_format_policy(c->rate_name, nlen, c->rate_policy, field, sizeof(field)) > 0)
        bw_res_header(&c->res, "RateLimit-Policy", field);
    if (bw_ratelimit_format_state(c->rate_name, nlen, c->rate_policy, &c->rate, field,
                                  sizeof(field)) > 0)
        bw_res_header(&c->res, "RateLimit", field);
}

/* One check of key[0..len) against p; notes the policy closest to refusing.
 * A refusal answers 429 with Retry-After. */
static bool rate_check(bw_ctx *c, const bw_rate_policy *p, const char *name,
                       const unsigned char *key, size_t len)
{
    bw_rate_result r;
    char retry[24];

    /* -1 is a programming error; the result then says refused (fail closed). */
    (void)bw_ratelimit_check(c->srv->limiter, p, key, len, bw_ratelimit_now_ns(), &r);
    if (c->rate_policy == NULL || !r.allowed || r.remaining < c->rate.remaining) {
        c->rate_policy = p;
        c->rate_name = name;
        c->rate = r;
    }
    if (r.allowed)
        return true;
    bw_res_problem(&c->res, 429, "Too many requests. Try again later.");
    snprintf(retry, sizeof(retry), "%llu", (unsigned long long)bw_ratelimit_retry_after_s(&r));
    bw_res_header(&c->res, "Retry-After", retry);
    bw_stage_rate_fields(c);
    bw_log_field d[] = {BW_LOG_S("policy", name), BW_LOG_S("route", c->req.route),
                        BW_LOG_S("method", c->req.method)};
    (void)bw_audit_req(&c->req, "ratelimit.exceeded", BW_AUDIT_FAILURE, c->req.route, d,
                       sizeof(d) / sizeof(d[0]));
    return false;
}

/* The key bytes of the caller: the principal when there is one (each API key
 * its own), else the client address (IPv4, IPv6 /64). tag tells the uses
 * apart. Returns the length, 0 when there is nothing to key on. */
static size_t caller_key(const bw_ctx *c, unsigned char tag, unsigned char out[32])
{
    const bw_principal *p = &c->req.principal;
    size_t n = 1;

    out[0] = tag;
    if (p->kind == BW_AUTH_APIKEY) {
        out[n++] = 'K';
        memcpy(out + n, p->apikey_id, BW_APIKEY_ID_LEN);
        return n + BW_APIKEY_ID_LEN;
    }
    if (p->kind == BW_AUTH_SESSION) {
        out[n++] = 'U';
        memcpy(out + n, &p->user_id, sizeof(p->user_id));
        return n + sizeof(p->user_id);
    }
    /* A JWT caller has no local id: its subject, hashed to a fixed width. */
    if (p->kind == BW_AUTH_JWT) {
        out[n++] = 'J';
        if (crypto_generichash(out + n, 16, (const unsigned char *)p->name, strlen(p->name), NULL,
                               0) != 0)
            return 0;
        return n + 16;
    }
    if (!c->req.client_addr_ok)
        return 0;
    out[n++] = 'A';
    return n + bw_netaddr_limit_key(&c->req.client_addr, out + n);
}

/* Stage: the per-address limit, before any other work is spent on the
 * request. */
bool bw_stage_rate_address(bw_ctx *c)
{
    unsigned char key[32];
    size_t n;

    if (c->srv->limiter == NULL || !c->req.client_addr_ok)
        return true;
    key[0] = 'a';
    n = 1 + bw_netaddr_limit_key(&c->req.client_addr, key + 1);
    return rate_check(c, &c->srv->rate_address, "address", key, n);
}

/* Stage: once the caller is known, the per-principal limit, then the route's
 * own .rate (per principal, or per address for anonymous callers). */
bool bw_stage_rate_principal(bw_ctx *c)
{
    const bw_app *app = c->srv->app;
    unsigned char key[40];
    uint32_t idx;
    size_t n;

    if (c->srv->limiter == NULL)
        return true;
    if (c->req.principal.kind != BW_AUTH_NONE) {
        n = caller_key(c, 'p', key);
        if (n > 0 && !rate_check(c, &c->srv->rate_principal, "principal", key, n))
            return false;
    }
    /* The framework's own routes are not in the app's table and have no .rate. */
    if ((uintptr_t)c->route < (uintptr_t)app->routes ||
        (uintptr_t)c->route >= (uintptr_t)(app->routes + app->nroutes))
        return true;
    idx = (uint32_t)(c->route - app->routes);
    if (c->srv->route_rates[idx].rate == 0 || (n = caller_key(c, 'r', key)) == 0)
        return true;
    memcpy(key + n, &idx, sizeof(idx));
    return rate_check(c, &c->srv->route_rates[idx], "route", key, n + sizeof(idx));
}

/* The client's address: the TCP peer, unless the peer is a trusted proxy
 * (server.trusted_proxies), whose forwarding header then names it. From any
 * other peer the headers are ignored, so they cannot pick a rate-limit key. */
void bw_stage_resolve_client(bw_ctx *c)
{
    const bw_netaddr_proxies *px = &c->srv->proxies;
    const char *peer = c->req.ri->remote_addr;
    bw_netaddr peer_addr;
    char *text;

    c->req.client = c->req.peer = peer;
    if (bw_netaddr_parse(peer, strlen(peer), &peer_addr) != 0)
        return;
    c->req.client_addr = peer_addr;
    c->req.client_addr_ok = true;
    if (px->ntrusted == 0 || !bw_cidr_list_contains(px->trusted, px->ntrusted, &peer_addr))
        return;
    {
        /* Every line counts: a proxy that adds its own line after the client's is the one
         * to believe. */
        size_t xlen = 0, flen = 0;
        const char *xff = px->header == BW_NETADDR_HEADER_XFF
                              ? bw_req_header_joined(&c->req, "X-Forwarded-For", &xlen)
                              : NULL;
        const char *fwd = px->header == BW_NETADDR_HEADER_FORWARDED
                              ? bw_req_header_joined(&c->req, "Forwarded", &flen)
                              : NULL;

        if (bw_netaddr_client(&peer_addr, px, xff, xlen, fwd, flen, &c->req.client_addr) != 1)
            return;
    }
    text = bw_arena_alloc(c->req.arena, BW_NETADDR_TEXT_SIZE);
    if (text != NULL && bw_netaddr_format(&c->req.client_addr, text, BW_NETADDR_TEXT_SIZE) > 0)
        c->req.client = text;
    else
        c->req.client_addr = peer_addr;
}

bool bw_stage_ban(bw_ctx *c)
{
    long long now = bw_clock_unix(), retry = 0;
    char text[24];

    if (c->srv->bans == NULL || !c->req.client_addr_ok)
        return true;
    /* At most one reload per second; `notes ban add|remove` take effect so. */
    (void)bw_banlist_refresh(c->srv->bans, bw_store_conn(c->srv->store), now);
    if (!bw_banlist_check(c->srv->bans, &c->req.client_addr, now, &retry))
        return true;
    c->banned = true;
    c->must_close = true;
    bw_res_problem(&c->res, 429, "This address is blocked for a while. Try again later.");
    snprintf(text, sizeof(text), "%lld", retry);
    bw_res_header(&c->res, "Retry-After", text);
    return false;
}

/* The ban.* key whose threshold an offence of this kind counts toward. */
static const char *offence_reason(bw_offence kind)
{
    switch (kind) {
    case BW_OFFENCE_AUTH_FAILURE:
        return "auto: auth_failures";
    case BW_OFFENCE_RATE_LIMITED:
        return "auto: rate_limited";
    case BW_OFFENCE_VALIDATION:
        return "auto: validation_failures";
    case BW_OFFENCE_ATTACK:
        break;
    }
    return "auto: attacks";
}

void bw_stage_offend(bw_ctx *c, bw_offence kind)
{
    char addr[BW_BAN_ADDRESS_SIZE];

    if (c->srv->bans == NULL || c->banned || !c->req.client_addr_ok)
        return;
    if (bw_banlist_offence(c->srv->bans, bw_store_conn(c->srv->store), &c->req.client_addr, kind,
                           bw_clock_unix()) != 1)
        return;
    if (bw_ban_address(&c->req.client_addr, addr, sizeof(addr)) < 0)
        addr[0] = '\0';
    bw_log_field d[] = {BW_LOG_S("reason", offence_reason(kind)),
                        BW_LOG_I("duration_s", c->srv->cfg->ban.duration_s)};
    (void)bw_audit_req(&c->req, "ban.added", BW_AUDIT_SUCCESS, addr, d, sizeof(d) / sizeof(d[0]));
}

void bw_stage_report_offence(bw_ctx *c)
{
    if (c->res.status == 429)
        bw_stage_offend(c, BW_OFFENCE_RATE_LIMITED);
    else if (c->res.status == 400)
        bw_stage_offend(c, BW_OFFENCE_VALIDATION);
    /* A refused credential, or a failed login (a 401 a public route's handler gave);
     * a request that simply carried none is not an offence. */
    else if (c->res.status == 401 && (c->credential_refused || (c->route && c->route->public)))
        bw_stage_offend(c, BW_OFFENCE_AUTH_FAILURE);
}
