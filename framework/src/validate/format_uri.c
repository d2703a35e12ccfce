/* RFC 3986 URI and URI-reference syntax (ASCII only; no normalisation, no scheme rules). */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "format_internal.h"

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_unreserved(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_sub_delim(char c)
{
    return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

/* True when s[0..len) is made of unreserved, sub-delims, pct-encoded and the bytes in `extra`. */
static bool chars_ok(const char *s, size_t len, const char *extra)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (c == '%') {
            if (len - i < 3 || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return false;
            i += 2;
        } else if (!is_unreserved(c) && !is_sub_delim(c) &&
                   (c == '\0' || strchr(extra, c) == NULL)) {
            return false;
        }
    }
    return true;
}

/* IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
static bool ipvfuture(const char *s, size_t len)
{
    size_t i = 1;

    if (len < 4 || (s[0] != 'v' && s[0] != 'V'))
        return false;
    while (i < len && is_hex(s[i]))
        i++;
    if (i == 1 || i >= len - 1 || s[i] != '.')
        return false;
    for (i++; i < len; i++)
        if (!is_unreserved(s[i]) && !is_sub_delim(s[i]) && s[i] != ':')
            return false;
    return true;
}

/* authority = [ userinfo "@" ] host [ ":" port ] */
static bool authority(const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);
    size_t hostlen;

    if (at != NULL) {
        size_t ulen = (size_t)(at - s);
        if (!chars_ok(s, ulen, ":"))
            return false;
        s = at + 1;
        len -= ulen + 1;
    }
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        size_t inner;

        if (close == NULL)
            return false;
        inner = (size_t)(close - s) - 1;
        if (!bw_format_ipv6(s + 1, inner) && !ipvfuture(s + 1, inner))
            return false;
        hostlen = inner + 2;
    } else {
        const char *colon = memchr(s, ':', len);
        hostlen = colon != NULL ? (size_t)(colon - s) : len;
        if (!chars_ok(s, hostlen, ""))
            return false;
    }
    if (hostlen == len)
        return true;
    if (s[hostlen] != ':')
        return false;
    for (size_t i = hostlen + 1; i < len; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* Length of the scheme when s starts with `scheme ":"`, else 0. */
static size_t scheme_len(const char *s, size_t len)
{
    size_t i = 1;

    if (len == 0 || !is_alpha(s[0]))
        return 0;
    while (i < len &&
           (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    return i < len && s[i] == ':' ? i : 0;
}

/* hier-part / relative-part followed by [ "?" query ] [ "#" fragment ]. With no scheme
 * (`relative`), the first path segment must not contain ':' (path-noscheme). */
static bool after_scheme(const char *s, size_t len, bool relative)
{
    size_t end = 0, path;

    while (end < len && s[end] != '?' && s[end] != '#')
        end++;
    if (end < len && s[end] == '?') {
        size_t q = end + 1, f = q;
        while (f < len && s[f] != '#')
            f++;
        if (!chars_ok(s + q, f - q, ":@/?"))
            return false;
        if (f < len && !chars_ok(s + f + 1, len - f - 1, ":@/?"))
            return false;
    } else if (end < len && !chars_ok(s + end + 1, len - end - 1, ":@/?")) {
        return false;
    }
    path = 0;
    if (end >= 2 && s[0] == '/' && s[1] == '/') {
        size_t a = 2;
        while (a < end && s[a] != '/')
            a++;
        if (!authority(s + 2, a - 2))
            return false;
        path = a;
    } else if (relative) {
        size_t seg = 0;
        while (seg < end && s[seg] != '/')
            seg++;
        if (memchr(s, ':', seg) != NULL)
            return false;
    }
    return chars_ok(s + path, end - path, ":@/");
}

bool bw_format_uri(const char *s, size_t len)
{
    size_t n = scheme_len(s, len);

    return n > 0 && after_scheme(s + n + 1, len - n - 1, false);
}

bool bw_format_uri_reference(const char *s, size_t len)
{
    size_t n = scheme_len(s, len);

    if (n > 0)
        return after_scheme(s + n + 1, len - n - 1, false);
    return after_scheme(s, len, true);
}
