/* Secure response headers: the defaults every response carries, and explicit, logged
 * overrides globally or per route.
 *
 * Defaults (see docs/headers.md for why each):
 *   Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; base-uri 'none'
 *   X-Content-Type-Options: nosniff
 *   X-Frame-Options: DENY
 *   Referrer-Policy: no-referrer
 *   Permissions-Policy: accelerometer=(), camera=(), ... interest-cohort=()
 *   Cross-Origin-Opener-Policy: same-origin
 *   Cross-Origin-Resource-Policy: same-origin
 *   Cache-Control: no-store
 * Strict-Transport-Security is not here: the TLS layer adds it on HTTPS listeners only.
 *
 * The list for a route is: defaults, then global changes, then that route's changes, in
 * the order they were made. Header names compare ASCII case-insensitively; set on a name
 * already in the list replaces its value, set on a new name appends it, remove drops it.
 * Lists are computed when the policy changes, so bw_header_policy_for() does no work per
 * request. Changing a policy is not thread-safe; build it at start-up, then share it
 * read-only between workers. */
#ifndef BULWARK_HEADERS_H
#define BULWARK_HEADERS_H

#include <stddef.h>

typedef struct bw_header_kv {
    const char *name;
    const char *value;
} bw_header_kv;

typedef struct bw_header_policy bw_header_policy;

/* Creates a policy holding the defaults. Returns NULL on OOM. The caller owns it:
 * bw_header_policy_free(). */
bw_header_policy *bw_header_policy_new(void);

/* Sets header name to value globally (route NULL) or for one route (route is the route's
 * declared path pattern, e.g. "/v1/notes/{id}", compared exactly). name must be a token,
 * value a valid header value (http.h); the framing headers Content-Length,
 * Transfer-Encoding, Connection, Keep-Alive, Upgrade, TE and Trailer are refused because
 * the server owns them. Strings are copied. Logs a warning, event "config.risky_setting",
 * naming the header and route. Returns 0, or -1 with a message in err (invalid argument,
 * OOM); on error the policy is unchanged. err may be NULL when errlen is 0. */
int bw_header_policy_set(bw_header_policy *p, const char *route, const char *name,
                         const char *value, char *err, size_t errlen);

/* Removes header name globally (route NULL) or for one route, even if it is a default.
 * Removing a header that is not present is allowed (a later global set may add it).
 * Validation, logging and errors as for bw_header_policy_set. */
int bw_header_policy_remove(bw_header_policy *p, const char *route, const char *name, char *err,
                            size_t errlen);

/* Points *out at the final header list for route (NULL or a route without changes: the
 * global list) and returns its length. The list is owned by the policy and valid until
 * the next set/remove on it or bw_header_policy_free(). Does not allocate. Returns 0 (and
 * sets *out to NULL) if p is NULL; returns 0 if out is NULL. */
size_t bw_header_policy_for(const bw_header_policy *p, const char *route, const bw_header_kv **out);

/* Frees the policy and all its strings. NULL is a no-op. */
void bw_header_policy_free(bw_header_policy *p);

#endif
