/* JSON Schema "format" assertions (draft 2020-12 format-assertion vocabulary) for the strings the
 * validator meets. Pure functions over explicit-length byte strings: no global state, no I/O,
 * thread-safe, nothing for the caller to free. Inputs are untrusted: any bytes, any length,
 * embedded NULs included. */
#ifndef BULWARK_FORMAT_H
#define BULWARK_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

/* True when `format` (NUL-terminated, a schema keyword value) is one Bulwark asserts: date-time,
 * date, time, duration, email, hostname, ipv4, ipv6, uuid, uri, uri-reference, json-pointer,
 * regex. Matching is exact and case-sensitive. NULL gives false. */
bool bw_format_known(const char *format);

/* True when s[0..len) conforms to `format`; true for unknown formats (annotation only) and for a
 * NULL format. Reads only s[0..len) (s may be NULL when len is 0), never fails on arbitrary bytes:
 * invalid UTF-8 gives false for every known format. Rules:
 *   date-time, date, time  RFC 3339 (T and Z case-insensitive, offset required, leap second only
 *                          at 23:59:60 after applying the offset, month lengths and leap years);
 *   duration               RFC 3339 appendix A (no fractions, no sign, weeks alone);
 *   email                  RFC 5321 Mailbox: dot-atom or quoted local part (<= 64 bytes), a
 *                          hostname or [IPv4] / [IPv6:...] literal domain;
 *   hostname               RFC 1123 labels 1..63, total <= 253, no trailing dot; labels starting
 *                          "xn--" must be valid IDNA2008 A-labels (Punycode, code point tables via
 *                          libidn2, CONTEXTJ/CONTEXTO rules);
 *   ipv4, ipv6             dotted quad without leading zeros; RFC 4291 text (::, embedded IPv4),
 *                          no zone id, no brackets, no prefix length;
 *   uuid                   8-4-4-4-12 hex digits, any case, any version or variant;
 *   uri, uri-reference     RFC 3986 URI (scheme required) / URI-reference, ASCII only;
 *   json-pointer           RFC 6901 (valid UTF-8, "~" only as "~0" or "~1");
 *   regex                  ECMA-262 pattern syntax as with the u flag: PCRE-only constructs
 *                          (inline flags, (?P..., (?#, (*VERB), possessive quantifiers, \a \A \z
 *                          \Q ..., loose \p{...} names), lone ] { } and quantified lookarounds
 *                          are refused, then the pattern must compile with PCRE2 in UTF mode.
 *                          Group names must be ASCII letters, digits and '_' (PCRE2's rule).
 *                          Patterns over BW_FORMAT_REGEX_MAX_LEN bytes or nested deeper than 64
 *                          groups are refused so checking one stays bounded.
 * Allocates only transiently and a bounded amount (regex and IDN checks); frees it before
 * returning. */
bool bw_format_check(const char *format, const char *s, size_t len);

/* Longest pattern the "regex" format accepts, in bytes. */
#define BW_FORMAT_REGEX_MAX_LEN 8192

#endif
