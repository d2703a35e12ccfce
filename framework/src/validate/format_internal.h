/* Checkers behind bw_format_check, one per format, shared between the format_*.c files. Each
 * takes an explicit-length byte string, reads only s[0..len) and returns true when it conforms. */
#ifndef BW_FORMAT_INTERNAL_H
#define BW_FORMAT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

bool bw_format_date_time(const char *s, size_t len);
bool bw_format_date(const char *s, size_t len);
bool bw_format_time(const char *s, size_t len);
bool bw_format_duration(const char *s, size_t len);

bool bw_format_ipv4(const char *s, size_t len);
bool bw_format_ipv6(const char *s, size_t len);
bool bw_format_hostname(const char *s, size_t len);
bool bw_format_email(const char *s, size_t len);

/* One hostname label of 1..63 bytes that starts with "xn--" (any case): true when it is a valid
 * IDNA2008 A-label. */
bool bw_format_alabel(const char *s, size_t len);

bool bw_format_uri(const char *s, size_t len);
bool bw_format_uri_reference(const char *s, size_t len);

bool bw_format_regex(const char *s, size_t len);

#endif
