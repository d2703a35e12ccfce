/* Finding the credential a request carries, from untrusted header values:
 * "Authorization: Bearer <token>" or the __Host-bw_session cookie. Only the
 * shape is checked here; whether the token is valid is the session and API
 * key modules' business. */
#ifndef BULWARK_CREDENTIAL_H
#define BULWARK_CREDENTIAL_H

#include <stddef.h>

#define BW_SESSION_COOKIE "__Host-bw_session"
#define BW_CSRF_COOKIE "__Host-bw_csrf"
#define BW_CSRF_HEADER "X-CSRF-Token"
/* Longest token looked at; anything longer is refused unread. */
#define BW_CREDENTIAL_MAX 512

typedef enum bw_credential_kind {
    BW_CREDENTIAL_NONE,   /* neither header nor cookie */
    BW_CREDENTIAL_BEARER, /* Authorization: Bearer */
    BW_CREDENTIAL_COOKIE, /* the session cookie */
    BW_CREDENTIAL_BAD     /* present but malformed: another scheme, empty, too long,
                             two session cookies, bytes outside the token alphabet */
} bw_credential_kind;

typedef struct bw_credential {
    bw_credential_kind kind;
    const char *token; /* points into the header value given; not NUL-terminated */
    size_t len;
} bw_credential;

/* Reads authorization[0..alen) and cookie[0..clen) (either may be NULL with
 * length 0). The Authorization header wins when both are present (a cookie
 * then plays no part, so no CSRF check applies). The scheme "Bearer" is
 * case-insensitive and followed by exactly one space; the token is 1 to
 * BW_CREDENTIAL_MAX bytes of base64url characters. In the Cookie header,
 * pairs are separated by "; " (a lone ";" is tolerated) and the session
 * cookie must appear once. */
void bw_credential_parse(const char *authorization, size_t alen, const char *cookie, size_t clen,
                         bw_credential *out);

/* Finds cookie `name` in cookie[0..clen): 1 with *value and *vlen set when it
 * appears exactly once, 0 when absent, -1 when repeated or the header is
 * malformed. */
int bw_credential_cookie(const char *cookie, size_t clen, const char *name, const char **value,
                         size_t *vlen);

#endif
