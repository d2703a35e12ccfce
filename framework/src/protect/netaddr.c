/* Client addresses and trusted proxies; see netaddr.h for the contract. */
#include "bulwark/netaddr.h"

#include "bulwark/err.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* Longest IPv6 text (INET6_ADDRSTRLEN - 1) plus '%' and a zone of IF_NAMESIZE - 1 bytes. */
#define ADDR_TEXT_MAX (INET6_ADDRSTRLEN + IF_NAMESIZE - 1)

/* A Forwarded node: "[" address "]" ":" port, all of it unescaped. */
#define NODE_TEXT_MAX (ADDR_TEXT_MAX + 2 + 6)

static bool is_zone_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* Parses p[0..len) with inet_pton into raw: *af is AF_INET (raw[0..4), rest zero) or
 * AF_INET6. A zone is accepted, and dropped, only when allow_zone. */
static int parse_raw(const char *p, size_t len, bool allow_zone, int *af, unsigned char raw[16])
{
    char buf[ADDR_TEXT_MAX + 1];
    const char *pct;
    size_t host_len = len;

    if (p == NULL || len == 0 || len > ADDR_TEXT_MAX || memchr(p, '\0', len) != NULL)
        return -1;
    pct = memchr(p, '%', len);
    if (pct != NULL) {
        size_t zone_len;

        host_len = (size_t)(pct - p);
        zone_len = len - host_len - 1;
        if (!allow_zone || zone_len == 0 || zone_len >= IF_NAMESIZE)
            return -1;
        for (size_t i = host_len + 1; i < len; i++) {
            if (!is_zone_char(p[i]))
                return -1;
        }
        /* Only IPv6 has zones: the host part must not read as IPv4. */
        if (memchr(p, ':', host_len) == NULL)
            return -1;
    }
    memcpy(buf, p, host_len);
    buf[host_len] = '\0';
    memset(raw, 0, 16);
    if (memchr(buf, ':', host_len) == NULL) {
        if (inet_pton(AF_INET, buf, raw) != 1)
            return -1;
        *af = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, raw) != 1)
        return -1;
    *af = AF_INET6;
    return 0;
}

static const unsigned char V4_MAPPED_PREFIX[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The address of raw, with IPv4-mapped IPv6 turned into IPv4. */
static void from_raw(int af, const unsigned char raw[16], bw_netaddr *out)
{
    memset(out, 0, sizeof(*out));
    if (af == AF_INET) {
        out->family = BW_NETADDR_V4;
        memcpy(out->bytes, raw, 4);
    } else if (memcmp(raw, V4_MAPPED_PREFIX, sizeof(V4_MAPPED_PREFIX)) == 0) {
        out->family = BW_NETADDR_V4;
        memcpy(out->bytes, raw + 12, 4);
    } else {
        out->family = BW_NETADDR_V6;
        memcpy(out->bytes, raw, 16);
    }
}

int bw_netaddr_parse(const char *p, size_t len, bw_netaddr *out)
{
    unsigned char raw[16];
    int af;

    if (out == NULL || parse_raw(p, len, true, &af, raw) != 0)
        return -1;
    from_raw(af, raw, out);
    return 0;
}

int bw_netaddr_format(const bw_netaddr *a, char *out, size_t outlen)
{
    int af;

    if (out == NULL)
        return -1;
    if (outlen > 0)
        out[0] = '\0';
    if (a == NULL || outlen == 0)
        return -1;
    if (a->family == BW_NETADDR_V4)
        af = AF_INET;
    else if (a->family == BW_NETADDR_V6)
        af = AF_INET6;
    else
        return -1;
    /* inet_ntop never needs more than BW_NETADDR_TEXT_SIZE. */
    if (outlen > BW_NETADDR_TEXT_SIZE)
        outlen = BW_NETADDR_TEXT_SIZE;
    if (inet_ntop(af, a->bytes, out, (socklen_t)outlen) == NULL) {
        out[0] = '\0';
        return -1;
    }
    return (int)strlen(out);
}

static unsigned family_bits(unsigned char family)
{
    return family == BW_NETADDR_V4 ? 32 : 128;
}

/* Whether bits [prefix, nbits) of b are all zero. */
static bool host_bits_zero(const unsigned char *b, unsigned nbits, unsigned prefix)
{
    for (unsigned i = prefix; i < nbits; i++) {
        if (b[i / 8] & (0x80u >> (i % 8)))
            return false;
    }
    return true;
}

/* Clears bits [prefix, nbits) of b. */
static void clear_host_bits(unsigned char *b, unsigned nbits, unsigned prefix)
{
    for (unsigned i = prefix; i < nbits; i++)
        b[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
}

/* A prefix length: 1 to 3 digits, no sign, no leading zero. -1 if not one. */
static int parse_prefix(const char *p, size_t len)
{
    int v = 0;

    if (len == 0 || len > 3 || (len > 1 && p[0] == '0'))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int bw_cidr_parse(const char *p, size_t len, bw_cidr *out, char *err, size_t errlen)
{
    unsigned char raw[16];
    const char *slash;
    size_t addr_len;
    unsigned nbits;
    unsigned prefix;
    int af;
    bw_cidr c;

    if (p == NULL || out == NULL) {
        bw_err_set(err, errlen, "cidr: missing");
        return -1;
    }
    slash = memchr(p, '/', len);
    addr_len = slash != NULL ? (size_t)(slash - p) : len;
    if (parse_raw(p, addr_len, false, &af, raw) != 0) {
        bw_err_set(err, errlen, "cidr: not an IPv4 or IPv6 address (no zone, port or spaces)");
        return -1;
    }
    nbits = af == AF_INET ? 32 : 128;
    prefix = nbits;
    if (slash != NULL) {
        int v = parse_prefix(slash + 1, len - addr_len - 1);

        if (v < 0 || (unsigned)v > nbits) {
            bw_err_set(err, errlen, "cidr: prefix length must be a number from 0 to %u", nbits);
            return -1;
        }
        prefix = (unsigned)v;
    }
    if (!host_bits_zero(raw, nbits, prefix)) {
        char text[BW_NETADDR_TEXT_SIZE];

        clear_host_bits(raw, nbits, prefix);
        if (inet_ntop(af, raw, text, sizeof(text)) == NULL)
            text[0] = '\0';
        bw_err_set(err, errlen, "cidr: \"%.*s\" has host bits set; the network is %s/%u",
                   (int)(len < 64 ? len : 64), p, text, prefix);
        return -1;
    }
    from_raw(af, raw, &c.net);
    /* A mapped network has its 0xffff bits inside the prefix (else host bits were set),
     * so prefix >= 96 here. */
    c.prefix = af == AF_INET6 && c.net.family == BW_NETADDR_V4 ? prefix - 96 : prefix;
    *out = c;
    return 0;
}

bool bw_cidr_contains(const bw_cidr *c, const bw_netaddr *a)
{
    unsigned full, rest;

    if (c == NULL || a == NULL || c->net.family != a->family)
        return false;
    if (a->family != BW_NETADDR_V4 && a->family != BW_NETADDR_V6)
        return false;
    if (c->prefix > family_bits(a->family))
        return false;
    full = c->prefix / 8;
    rest = c->prefix % 8;
    if (memcmp(c->net.bytes, a->bytes, full) != 0)
        return false;
    if (rest != 0) {
        unsigned char mask = (unsigned char)(0xffu << (8 - rest));

        if ((c->net.bytes[full] & mask) != (a->bytes[full] & mask))
            return false;
    }
    return true;
}

bool bw_cidr_list_contains(const bw_cidr *list, size_t n, const bw_netaddr *a)
{
    if (list == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (bw_cidr_contains(&list[i], a))
            return true;
    }
    return false;
}

size_t bw_netaddr_limit_key(const bw_netaddr *a, unsigned char out[16])
{
    if (a == NULL || out == NULL)
        return 0;
    if (a->family == BW_NETADDR_V4) {
        memcpy(out, a->bytes, 4);
        return 4;
    }
    if (a->family == BW_NETADDR_V6) {
        memcpy(out, a->bytes, 8);
        return 8;
    }
    return 0;
}

/* ---- Forwarding headers ---------------------------------------------------------------- */

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 tchar. */
static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* One list element found from the right: text[s..e) with OWS trimmed. */
typedef enum hop_span {
    SPAN_NONE, /* nothing left */
    SPAN_OK,
    SPAN_CUT, /* runs into the left edge of the examined bytes, or an unclosed quote */
} hop_span;

/* The element ending at *pos in h[lo..*pos), found by scanning left to the nearest comma
 * outside a quoted string (quotes only for Forwarded). Moves *pos past that comma. Scanning
 * from the right means the elements trusted proxies appended are split correctly whatever a
 * client put to their left. */
static hop_span prev_element(const char *h, size_t lo, bool clipped, bool quotes, size_t *pos,
                             size_t *s, size_t *e)
{
    size_t i = *pos;
    bool in_quote = false;

    if (i <= lo && !clipped)
        return SPAN_NONE;
    *e = i;
    while (i > lo) {
        char c = h[i - 1];

        if (quotes && c == '"') {
            if (!in_quote) {
                in_quote = true; /* the closing quote */
            } else {
                /* The opening quote unless escaped: an odd run of backslashes before it
                 * ends with a quoted-pair "\"". */
                size_t k = 0;

                while (i - 1 - k > lo && h[i - 2 - k] == '\\')
                    k++;
                if (k % 2 == 0)
                    in_quote = false;
            }
        } else if (c == ',' && !in_quote) {
            break;
        }
        i--;
    }
    *s = i;
    if (i == lo) {
        *pos = lo;
        if (in_quote || clipped)
            return SPAN_CUT;
    } else {
        *pos = i - 1;
    }
    if (in_quote)
        return SPAN_CUT;
    while (*s < *e && is_ows(h[*s]))
        (*s)++;
    while (*e > *s && is_ows(h[*e - 1]))
        (*e)--;
    return SPAN_OK;
}

/* A port: 1 to 5 digits up to 65535, or an obfuscated one ("_" 1*(ALPHA/DIGIT/"."/"_"/"-")). */
static bool valid_port(const char *p, size_t len)
{
    unsigned v = 0;

    if (len >= 2 && p[0] == '_') {
        for (size_t i = 1; i < len; i++) {
            if (!is_zone_char(p[i]))
                return false;
        }
        return true;
    }
    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v <= 65535;
}

/* A Forwarded node that is an address: IPv4 [":" port] or "[" IPv6 "]" [":" port].
 * "unknown" and obfuscated nodes ("_hidden") are not addresses. */
static int parse_node(const char *p, size_t len, bw_netaddr *out)
{
    const char *host = p;
    size_t host_len;
    size_t rest;

    if (len > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', len);

        if (close == NULL)
            return -1;
        host = p + 1;
        host_len = (size_t)(close - host);
        /* IPv6 only inside brackets: "[192.0.2.1]" is not a node. */
        if (memchr(host, ':', host_len) == NULL)
            return -1;
        rest = (size_t)(close - p) + 1;
    } else {
        const char *colon = memchr(p, ':', len);

        host_len = colon != NULL ? (size_t)(colon - p) : len;
        rest = host_len;
    }
    if (rest < len && (p[rest] != ':' || !valid_port(p + rest + 1, len - rest - 1)))
        return -1;
    return bw_netaddr_parse(host, host_len, out);
}

typedef enum elem_result {
    ELEM_ADDR, /* for= holds an address */
    ELEM_STOP, /* malformed, no or several for=, or a node that is not an address */
} elem_result;

/* Parses one non-empty forwarded-element p[0..len) (OWS already trimmed): pairs token "=" (token /
 * quoted-string) separated by ";" (OWS around ";" tolerated). */
static elem_result parse_forwarded_element(const char *p, size_t len, bw_netaddr *out)
{
    char node[NODE_TEXT_MAX];
    size_t node_len = 0;
    bool seen_for = false;
    bool node_fits = true;
    size_t i = 0;

    while (i < len) {
        size_t name;
        bool is_for;

        while (i < len && is_ows(p[i]))
            i++;
        if (i < len && p[i] == ';') {
            i++; /* an empty pair */
            continue;
        }
        name = i;
        while (i < len && is_tchar(p[i]))
            i++;
        if (i == name || i >= len || p[i] != '=')
            return ELEM_STOP;
        is_for = i - name == 3 && strncasecmp(p + name, "for", 3) == 0;
        if (is_for) {
            if (seen_for)
                return ELEM_STOP;
            seen_for = true;
        }
        i++;
        if (i < len && p[i] == '"') {
            bool closed = false;

            for (i++; i < len; i++) {
                unsigned char c = (unsigned char)p[i];

                if (c == '"') {
                    closed = true;
                    i++;
                    break;
                }
                if (c == '\\') {
                    if (++i >= len)
                        return ELEM_STOP;
                    c = (unsigned char)p[i];
                }
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                    return ELEM_STOP;
                if (is_for) {
                    if (node_len < sizeof(node))
                        node[node_len++] = (char)c;
                    else
                        node_fits = false;
                }
            }
            if (!closed)
                return ELEM_STOP;
        } else {
            size_t v = i;

            while (i < len && is_tchar(p[i]))
                i++;
            if (i == v)
                return ELEM_STOP;
            if (is_for) {
                if (i - v <= sizeof(node)) {
                    memcpy(node, p + v, i - v);
                    node_len = i - v;
                } else {
                    node_fits = false;
                }
            }
        }
        while (i < len && is_ows(p[i]))
            i++;
        if (i < len) {
            if (p[i] != ';')
                return ELEM_STOP;
            i++;
        }
    }
    if (!seen_for || !node_fits || parse_node(node, node_len, out) != 0)
        return ELEM_STOP;
    return ELEM_ADDR;
}

int bw_netaddr_client(const bw_netaddr *peer, const bw_netaddr_proxies *proxies, const char *xff,
                      size_t xfflen, const char *fwd, size_t fwdlen, bw_netaddr *client)
{
    bool forwarded;
    const char *h;
    size_t len, lo, pos;
    bool clipped;
    bw_netaddr cur;
    int from_header = 0;
    unsigned hops = 0;

    if (peer == NULL || client == NULL ||
        (peer->family != BW_NETADDR_V4 && peer->family != BW_NETADDR_V6))
        return -1;
    cur = *peer;
    if (proxies == NULL || !bw_cidr_list_contains(proxies->trusted, proxies->ntrusted, peer)) {
        *client = cur;
        return 0;
    }
    forwarded = proxies->header == BW_NETADDR_HEADER_FORWARDED;
    h = forwarded ? fwd : xff;
    len = forwarded ? fwdlen : xfflen;
    if (h == NULL)
        len = 0;
    lo = len > BW_NETADDR_MAX_HEADER ? len - BW_NETADDR_MAX_HEADER : 0;
    clipped = lo > 0;
    pos = len;
    for (;;) {
        size_t s = 0, e = 0;
        hop_span span = prev_element(h, lo, clipped, forwarded, &pos, &s, &e);
        bw_netaddr hop;

        if (span == SPAN_NONE || span == SPAN_CUT)
            break;
        if (s == e)
            continue; /* an empty element */
        if (hops == BW_NETADDR_MAX_HOPS)
            break;
        hops++;
        if (forwarded) {
            if (parse_forwarded_element(h + s, e - s, &hop) != ELEM_ADDR)
                break;
        } else if (bw_netaddr_parse(h + s, e - s, &hop) != 0) {
            break;
        }
        cur = hop;
        from_header = 1;
        if (!bw_cidr_list_contains(proxies->trusted, proxies->ntrusted, &hop))
            break;
    }
    *client = cur;
    return from_header;
}

void bw_netaddr_poke(const char *listen, unsigned port)
{
    struct sockaddr_in sa;
    char host[INET_ADDRSTRLEN];
    const char *colon = listen != NULL ? strrchr(listen, ':') : NULL;
    size_t hlen = colon != NULL ? (size_t)(colon - listen) : 0;
    int fd;

    if (port == 0 || port > 65535 || (listen != NULL && listen[0] == '['))
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (hlen == 0 || hlen >= sizeof(host))
        hlen = 0;
    else
        memcpy(host, listen, hlen);
    host[hlen] = '\0';
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || sa.sin_addr.s_addr == htonl(INADDR_ANY))
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return;
    (void)connect(fd, (const struct sockaddr *)&sa, sizeof(sa));
    (void)close(fd);
}
