/* The per-request context the pipeline's stages share, and the stages that
 * live in their own files. Nothing outside framework/src/core includes this.
 * Each stage either lets the request go on (true) or sets a problem response
 * on c->res and stops it (false). */
#ifndef BW_CORE_STAGE_H
#define BW_CORE_STAGE_H

#include <stdbool.h>

#include "internal.h"

typedef struct bw_ctx {
    bw_server *srv;
    bw_req req;
    bw_res res;
    const bw_route *route;    /* NULL until matched */
    long long content_length; /* -1: none given */
    bool chunked;
    bool has_body;
    bool body_read;  /* the body was read whole (or there is none) */
    bool must_close; /* framing was ambiguous: never reuse the connection */
    bool head_only;
    bw_header_kv cors[BW_CORS_MAX_HEADERS];
    size_t ncors;
    /* The rate policy closest to refusing among those checked (RateLimit fields). */
    const bw_rate_policy *rate_policy;
    const char *rate_name;
    bw_rate_result rate;
    bool banned;             /* answered by the ban stage: no offence to count */
    bool credential_refused; /* a credential was presented and refused (401) */
    char refused_reason[96]; /* why, when known (a JWT's failed check); "" otherwise */
    bool handled;            /* the route's handler ran */
    char cors_buf[BW_CORS_BUF_SIZE];
} bw_ctx;

/* stage_guard.c: the client, load and rate limits. */

/* Sets req.client, req.peer and req.client_addr: the TCP peer, or the client
 * a trusted proxy names (server.trusted_proxies). */
void bw_stage_resolve_client(bw_ctx *c);
/* 429 for a banned address (ban.h): the first stage. */
bool bw_stage_ban(bw_ctx *c);
/* After the answer went out: counts a 400, 429 or refused credential against the
 * client's address, which may ban it (ban.* in the config). */
void bw_stage_report_offence(bw_ctx *c);
/* Counts one offence of kind against the client's address; reports ban.added when it bans. */
void bw_stage_offend(bw_ctx *c, bw_offence kind);
/* 503 beyond server.max_inflight requests in progress (inflight counts this one). */
bool bw_stage_capacity(bw_ctx *c, long inflight);
/* 429 beyond the per-address policy. */
bool bw_stage_rate_address(bw_ctx *c);
/* 429 beyond the per-principal policy or the route's .rate. */
bool bw_stage_rate_principal(bw_ctx *c);
/* RateLimit-Policy and RateLimit for the policy closest to refusing, if any. */
void bw_stage_rate_fields(bw_ctx *c);

/* stage_auth.c: who is calling (401, CSRF 403) and may they (403). */
bool bw_stage_authenticate(bw_ctx *c);
bool bw_stage_authorize(bw_ctx *c);

/* stage_validate.c: path, query, headers and body against the route's schemas (400). */
bool bw_stage_validate(bw_ctx *c);

/* stage_audit.c: the record of a route marked .audit, committed before the answer goes
 * out (a failed commit turns the answer into a 500). */
void bw_stage_audit_route(bw_ctx *c);
/* After the answer: metrics, the events the status implies, attack signatures, offences. */
void bw_stage_report(bw_ctx *c, long long duration_us);

#endif
