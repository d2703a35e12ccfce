/* Router: routes (method + pattern) are registered at start-up and matched per request against
 * the canonical path (see path.h). Patterns are literal segments and whole-segment `{name}`
 * captures; matching is exact (no prefix match, no trailing-slash redirect). A literal segment
 * takes precedence over a capture at the same position. The path is resolved first, then the
 * method: a path matching a pattern but not the method is METHOD_NOT_ALLOWED with the path's
 * Allow list. The router is read-only after start-up, so concurrent matches are safe. */
#ifndef BULWARK_ROUTER_H
#define BULWARK_ROUTER_H

#include <stddef.h>

typedef struct bw_router bw_router;

#define BW_ROUTER_MAX_PARAMS 8

typedef struct bw_route_param {
    const char *name; /* points into the router's copy of the pattern; not NUL-terminated */
    size_t name_len;
    const char *value; /* points into the path given to bw_router_match */
    size_t value_len;
} bw_route_param;

typedef enum bw_route_status {
    BW_ROUTE_FOUND,
    BW_ROUTE_NOT_FOUND,
    BW_ROUTE_METHOD_NOT_ALLOWED
} bw_route_status;

typedef struct bw_route_match {
    bw_route_status status;
    void *udata;         /* the value given to bw_router_add for the matched route (FOUND) */
    const char *pattern; /* the matched pattern, e.g. "/v1/notes/{id}" (owned by the router);
                            set for FOUND and METHOD_NOT_ALLOWED, NULL for NOT_FOUND */
    bw_route_param params[BW_ROUTER_MAX_PARAMS]; /* set for FOUND and METHOD_NOT_ALLOWED */
    size_t nparams;
    char allow[128];  /* FOUND and METHOD_NOT_ALLOWED: the Allow header value for this path,
                         e.g. "GET, HEAD, OPTIONS, POST"; "" for NOT_FOUND */
    int auto_head;    /* 1 when a HEAD request matched a GET route (the caller sends no body) */
    int auto_options; /* 1 when OPTIONS matched no explicit OPTIONS route (caller answers 204 +
                         Allow); udata is then NULL */
} bw_route_match;

/* Returns a new, empty router, or NULL when out of memory. The caller owns it: bw_router_free. */
bw_router *bw_router_new(void);

/* Adds a route. method is an HTTP token (case-sensitive, at most 32 bytes). pattern is a canonical
 * path (as bw_path_canonicalize would output it, without '%'; at most 2048 bytes and 32 segments)
 * whose segments are literals or `{name}` captures, name matching [a-z_][a-z0-9_]{0,31}, at most
 * BW_ROUTER_MAX_PARAMS captures with distinct names. Both strings are copied; udata is stored as
 * given. Returns 0, or -1 with a message in err (truncated to errlen; err may be NULL) for: a bad
 * method, a non-canonical pattern (not starting with '/', empty or dot segment, ...), a bad
 * capture, too many captures, a duplicate (same method and same shape: {a} and {b} are the same
 * shape), a capture name differing from an existing route of the same shape, an Allow list that
 * would not fit in bw_route_match.allow, or out of memory. On failure the routing is unchanged. */
int bw_router_add(bw_router *r, const char *method, const char *pattern, void *udata, char *err,
                  size_t errlen);

/* Matches method[0..method_len) and the canonical path[0..path_len) and fills *m (always
 * initialised). HEAD falls back to a GET route (auto_head); OPTIONS without an explicit route is
 * FOUND with auto_options. Never allocates; the work is bounded by path length times routes. */
void bw_router_match(const bw_router *r, const char *method, size_t method_len, const char *path,
                     size_t path_len, bw_route_match *m);

/* Returns the number of routes (method and pattern pairs) added. */
size_t bw_router_count(const bw_router *r);

/* Frees r and everything it owns; NULL is a no-op. */
void bw_router_free(bw_router *r);

#endif
