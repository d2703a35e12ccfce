/* Configuration text: syntax checks for listen addresses, CORS origins and
 * HTTP tokens, and the helpers that build safe error messages. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/alert.h"
#include "bulwark/http.h"
#include "bulwark/netaddr.h"
#include "bulwark/ratelimit.h"
#include "config_internal.h"

/* ---- Small helpers shared by the module ---- */

void bw_cfg_err(char *err, size_t errlen, const char *where, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    if (n < 0)
        reason[0] = '\0';
    bw_cfg_fmt(err, errlen, "%s: %s", where, reason);
}

void bw_cfg_fmt(char *out, size_t outlen, const char *fmt, ...)
{
    if (outlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, outlen, fmt, ap);
    va_end(ap);
    if (n < 0)
        out[0] = '\0';
    else if ((size_t)n >= outlen && outlen > 3)
        memcpy(out + outlen - 4, "...", 4);
}

void bw_cfg_clean(const char *s, size_t len, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    size_t room = outlen - 1, o = 0;
    bool cut = len > room;
    if (cut)
        room = room > 3 ? room - 3 : 0;
    for (size_t i = 0; i < len && o < room; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[o++] = (char)((ch >= 0x20 && ch < 0x7f) ? ch : '?');
    }
    if (cut) {
        for (size_t i = 0; i < 3 && o + 1 < outlen; i++)
            out[o++] = '.';
    }
    out[o] = '\0';
}

char *bw_cfg_strndup(const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = malloc(len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* ---- Syntax checks ---- */

int bw_cfg_check_token(const char *s, size_t len, char *why, size_t whylen)
{
    if (bw_http_token_valid(s, len))
        return 0;
    (void)snprintf(why, whylen, "must be an HTTP token (letters, digits, !#$%%&'*+-.^_`|~)");
    return -1;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and '-'. */
static bool is_hostname(const char *s, size_t len, bool lowercase_only)
{
    if (len == 0 || len > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                  (!lowercase_only && ch >= 'A' && ch <= 'Z') || (ch == '-' && label > 0);
        if (!ok || ++label > 63)
            return false;
    }
    return label > 0 && s[len - 1] != '-';
}

/* An IP literal: af is AF_INET or AF_INET6. */
static bool is_ip(int af, const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN];
    unsigned char addr[sizeof(struct in6_addr)];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(af, buf, addr) == 1;
}

static bool only_digits_and_dots(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!(s[i] == '.' || (s[i] >= '0' && s[i] <= '9')))
            return false;
    }
    return true;
}

/* A port: 1 to 5 digits, value 1..65535. */
static bool parse_port(const char *s, size_t len, unsigned *port)
{
    unsigned v = 0;
    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return false;
    *port = v;
    return true;
}

/* True when an IPv6 literal is in the form browsers serialize (RFC 5952). */
static bool is_canonical_ipv6(const char *s, size_t len)
{
    char in[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN];
    struct in6_addr addr;
    if (len == 0 || len >= sizeof(in))
        return false;
    memcpy(in, s, len);
    in[len] = '\0';
    return inet_pton(AF_INET6, in, &addr) == 1 &&
           inet_ntop(AF_INET6, &addr, out, sizeof(out)) != NULL && strcmp(in, out) == 0;
}

/* Splits "host:port" or "[v6]:port" and checks the host's syntax. */
static int split_host_port(const char *s, size_t len, bool lowercase_only, const char **host,
                           size_t *hostlen, bool *v6, const char **port, size_t *portlen)
{
    const char *colon;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL || !is_ip(AF_INET6, s + 1, (size_t)(close - s - 1)))
            return -1;
        *host = s + 1;
        *hostlen = (size_t)(close - s - 1);
        *v6 = true;
        colon = close + 1 < s + len ? close + 1 : NULL;
        if (colon != NULL && *colon != ':')
            return -1;
    } else {
        colon = memchr(s, ':', len);
        *host = s;
        *hostlen = colon != NULL ? (size_t)(colon - s) : len;
        *v6 = false;
        bool ok = only_digits_and_dots(s, *hostlen) ? is_ip(AF_INET, s, *hostlen)
                                                    : is_hostname(s, *hostlen, lowercase_only);
        if (!ok)
            return -1;
    }
    *port = colon != NULL ? colon + 1 : NULL;
    *portlen = colon != NULL ? (size_t)(s + len - colon - 1) : 0;
    return 0;
}

int bw_cfg_listen_split(const char *s, size_t len, const char **host, size_t *hostlen, bool *v6,
                        unsigned *port, char *why, size_t whylen)
{
    const char *p;
    size_t plen;
    if (split_host_port(s, len, false, host, hostlen, v6, &p, &plen) != 0 || p == NULL) {
        (void)snprintf(why, whylen,
                       "must be HOST:PORT or [IPV6]:PORT with an IPv4 address, a host name or "
                       "a bracketed IPv6 address");
        return -1;
    }
    if (!parse_port(p, plen, port)) {
        (void)snprintf(why, whylen, "port must be an integer between 1 and 65535");
        return -1;
    }
    return 0;
}

int bw_cfg_check_listen(const char *s, size_t len, char *why, size_t whylen)
{
    const char *host;
    size_t hostlen;
    bool v6;
    unsigned port;
    return bw_cfg_listen_split(s, len, &host, &hostlen, &v6, &port, why, whylen);
}

int bw_cfg_check_https_url(const char *s, size_t len, char *why, size_t whylen)
{
    static const char scheme[] = "https://";
    const size_t n = sizeof(scheme) - 1;

    if (len <= n || memcmp(s, scheme, n) != 0 || s[n] == '/') {
        (void)snprintf(why, whylen, "must be an https:// URL with a host");
        return -1;
    }
    return 0;
}

int bw_cfg_check_alert(const char *s, size_t len, char *why, size_t whylen)
{
    bw_alert_rule r;

    return bw_alert_rule_parse(s, len, &r, why, whylen);
}

int bw_cfg_check_rate(const char *s, size_t len, char *why, size_t whylen)
{
    bw_rate_policy p;

    return bw_ratelimit_policy_parse(s, len, 0, &p, why, whylen);
}

int bw_cfg_check_cidr(const char *s, size_t len, char *why, size_t whylen)
{
    bw_cidr c;

    return bw_cidr_parse(s, len, &c, why, whylen);
}

int bw_cfg_check_origin(const char *s, size_t len, char *why, size_t whylen)
{
    static const char *const schemes[] = {"https://", "http://"};
    if (len == 1 && s[0] == '*')
        return 0;
    size_t skip = 0;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i]);
        if (len >= n && memcmp(s, schemes[i], n) == 0)
            skip = n;
    }
    const char *rest = s + skip, *host, *port;
    size_t restlen = len - skip, hostlen, portlen;
    bool v6;
    unsigned portnum = 0;
    if (skip == 0) {
        (void)snprintf(why, whylen,
                       "must be \"*\" or an exact origin such as "
                       "https://example.com (scheme http or https)");
        return -1;
    }
    if (memchr(rest, '/', restlen) != NULL || memchr(rest, '?', restlen) != NULL ||
        memchr(rest, '#', restlen) != NULL) {
        (void)snprintf(why, whylen, "must be an exact origin: no path, query or trailing slash");
        return -1;
    }
    if (split_host_port(rest, restlen, true, &host, &hostlen, &v6, &port, &portlen) != 0 ||
        (port != NULL && !parse_port(port, portlen, &portnum)) ||
        (v6 && !is_canonical_ipv6(host, hostlen))) {
        (void)snprintf(why, whylen,
                       "must be an exact origin scheme://host[:port] with a "
                       "lowercase host name or IP address and a port 1..65535");
        return -1;
    }
    /* Browsers serialize origins without the default port or leading zeros,
     * and the Origin header is compared byte for byte. */
    if (port != NULL && (port[0] == '0' || (skip == strlen("https://") && portnum == 443) ||
                         (skip == strlen("http://") && portnum == 80))) {
        (void)snprintf(why, whylen,
                       "must be written as browsers send it: no default port (80 for http, "
                       "443 for https) and no leading zeros");
        return -1;
    }
    return 0;
}
