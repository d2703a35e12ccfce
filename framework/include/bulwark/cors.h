/* CORS: off by default; an exact-origin allowlist; correct preflight handling.
 *
 * Allowed origins are compared byte for byte with the request's Origin header. Browsers
 * send origins in their serialized form (lowercase scheme and host, no default port, no
 * path), so bw_cors_new() refuses configured origins that are not in that form instead of
 * silently never matching. "null" (sent by sandboxed iframes, file: pages and some
 * redirects, i.e. by anyone who wants to) is allowed only if configured literally, which
 * is not recommended. "*" allows every origin except "null", only on its own and only
 * without credentials; "*" and "null" are logged as risky at creation. */
#ifndef BULWARK_CORS_H
#define BULWARK_CORS_H

#include "bulwark/headers.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct bw_cors_config {
    bool enabled;
    const char *const *origins; /* "https://app.example.com", "http://localhost:8080", ... */
    size_t norigins;
    bool allow_credentials;
    const char *const *methods; /* tokens, case-sensitive; none = GET, HEAD, POST */
    size_t nmethods;
    const char *const *headers; /* request headers a preflight may ask for; case-insensitive */
    size_t nheaders;
    int max_age; /* seconds a browser may cache a preflight, 0..86400 */
} bw_cors_config;

typedef struct bw_cors bw_cors;

/* Creates a CORS checker from c, copying every string. A disabled config gives a checker
 * that always answers BW_CORS_NOT_CORS. Returns NULL with a message in err (err may be
 * NULL when errlen is 0) on: no origins, a malformed or non-serialized origin, "*" with
 * credentials or with other origins, a method or header that is not a token, max_age out
 * of range, lists too long to fit BW_CORS_BUF_SIZE, OOM. The caller owns the result:
 * bw_cors_free(). */
bw_cors *bw_cors_new(const bw_cors_config *c, char *err, size_t errlen);

/* Frees c. NULL is a no-op. */
void bw_cors_free(bw_cors *c);

typedef enum bw_cors_result {
    BW_CORS_NOT_CORS,         /* no Origin header, or CORS disabled: nothing to add */
    BW_CORS_ALLOWED,          /* add out[] to the response */
    BW_CORS_DENIED,           /* serve without CORS headers (out[] holds only Vary) */
    BW_CORS_PREFLIGHT_OK,     /* answer 204 with out[] */
    BW_CORS_PREFLIGHT_DENIED, /* answer the preflight without CORS headers (out[]: Vary) */
} bw_cors_result;

#define BW_CORS_MAX_HEADERS 6

/* A buf of this size always holds every value bw_cors_check() writes. */
#define BW_CORS_BUF_SIZE 2048

/* Classifies a request and fills out[0..*nout) with the response headers it needs.
 * origin is the Origin header (NULL if absent); acr_method and acr_headers are
 * Access-Control-Request-Method and -Headers (NULL if absent). A preflight is OPTIONS with
 * an Origin and an Access-Control-Request-Method; it is OK only if the origin is allowed,
 * the method is in the list and every requested header is. Names in out[] are static;
 * values are static or copied into buf (at least BW_CORS_BUF_SIZE bytes), so they live as
 * long as buf. If out, nout or buf is unusable the result fails closed (DENIED or
 * PREFLIGHT_DENIED). Allocation-free and thread-safe on a shared c. */
bw_cors_result bw_cors_check(const bw_cors *c, const char *method, size_t mlen, const char *origin,
                             size_t olen, const char *acr_method, size_t acrm_len,
                             const char *acr_headers, size_t acrh_len, char *buf, size_t buflen,
                             bw_header_kv out[BW_CORS_MAX_HEADERS], size_t *nout);

#endif
