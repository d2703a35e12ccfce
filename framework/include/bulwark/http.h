/* Small HTTP syntax helpers (RFC 9110) shared by the request path, headers and CORS. All
 * take explicit lengths and never read past them; none allocates. */
#ifndef BULWARK_HTTP_H
#define BULWARK_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* True if p[0..len) is a non-empty token (1*tchar): the syntax of header names and
 * methods. False for NULL. */
bool bw_http_token_valid(const char *p, size_t len);

/* True if p[0..len) may be sent as a header value: visible ASCII, SP, HTAB and bytes
 * >= 0x80 only (no CR, LF, NUL, DEL or other controls), and no leading or trailing SP or
 * HTAB. The empty value is valid; NULL is valid only with len 0. */
bool bw_http_header_value_valid(const char *p, size_t len);

/* The reason phrase for status ("Not Found"), or "Unknown" for a status Bulwark does not
 * send. Static string. */
const char *bw_http_reason(int status);

/* True if an inbound X-Request-Id is kept as is: 16 to 64 characters of [A-Za-z0-9-].
 * Anything else is replaced by a fresh id, so it cannot inject into logs or headers. */
bool bw_http_request_id_valid(const char *p, size_t len);

/* Writes a new request id into out: 128 random bits (libsodium randombytes_buf) as 32
 * lowercase hex digits and a NUL. The caller must have run sodium_init(). */
void bw_http_request_id_new(char out[33]);

/* True for the safe methods GET, HEAD, OPTIONS and TRACE (case-sensitive, as methods
 * are). */
bool bw_http_method_safe(const char *m, size_t len);

#endif
