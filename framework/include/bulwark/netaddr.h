/* Client addresses: parsing, CIDR lists, rate-limit keys, and the client behind trusted
 * proxies.
 *
 * An address is IPv4 or IPv6. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what a dual-stack
 * socket reports for an IPv4 client) are stored as IPv4, so one client has one address and
 * one rate-limit key whichever way it connected. Parsing is strict: exactly what inet_pton
 * accepts (no leading zeros, no whitespace, no ports, no brackets), plus an IPv6 zone
 * ("fe80::1%eth0", dropped).
 *
 * Nothing here allocates, keeps a pointer to its arguments or has global state: every
 * function is thread-safe. */
#ifndef BULWARK_NETADDR_H
#define BULWARK_NETADDR_H

#include <stdbool.h>
#include <stddef.h>

#define BW_NETADDR_V4 4
#define BW_NETADDR_V6 6

/* Bytes of the longest text bw_netaddr_format() writes, with its NUL (INET6_ADDRSTRLEN). */
#define BW_NETADDR_TEXT_SIZE 46

/* Hops of a forwarding header examined, from the right, and bytes of it examined, from the
 * right: enough for any real proxy chain; what lies beyond is never looked at. */
#define BW_NETADDR_MAX_HOPS 32
#define BW_NETADDR_MAX_HEADER 4096

/* family is BW_NETADDR_V4 (bytes[0..4), the rest zero) or BW_NETADDR_V6. Every function
 * here writes the bytes it does not use as zero and the struct has no padding, so two
 * addresses are equal exactly when memcmp(a, b, sizeof(bw_netaddr)) == 0. */
typedef struct bw_netaddr {
    unsigned char family;
    unsigned char bytes[16];
} bw_netaddr;

/* A network: net has no bits set past prefix (0..32 for IPv4, 0..128 for IPv6). */
typedef struct bw_cidr {
    bw_netaddr net;
    unsigned prefix;
} bw_cidr;

/* Parses the address p[0..len) (not NUL-terminated). Returns 0 and fills *out, or -1 (out
 * untouched) when p is not one address: empty, longer than an IPv6 address with a zone,
 * a NUL byte, whitespace, a port, brackets, leading zeros ("010.1.1.1"), a zone on IPv4, a
 * zone that is empty, longer than 15 bytes or not [A-Za-z0-9._-]. */
int bw_netaddr_parse(const char *p, size_t len, bw_netaddr *out);

/* Writes a as text ("192.0.2.1", "2001:db8::1") and a NUL into out[0..outlen); a buffer
 * of BW_NETADDR_TEXT_SIZE always fits. Returns the text length, or -1 when a or out is
 * NULL, a's family is unknown, or outlen is too small (out then holds "" if outlen > 0). */
int bw_netaddr_format(const bw_netaddr *a, char *out, size_t outlen);

/* Parses a network "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128).
 * "::ffff:10.0.0.0/104" is the IPv4 network 10.0.0.0/8. Returns 0, or -1 with a message
 * in err (err may be NULL when errlen is 0) when the address is not one (zones are refused
 * here), the prefix length is not a plain decimal in range, or host bits are set
 * ("10.0.0.1/8" is refused as a probable typo, naming 10.0.0.0/8). */
int bw_cidr_parse(const char *p, size_t len, bw_cidr *out, char *err, size_t errlen);

/* Whether a lies inside c. Families never mix: an IPv4 address (mapped ones included) is
 * only inside IPv4 networks, so "::/0" holds every IPv6 address and no IPv4 one. False
 * when c or a is NULL. */
bool bw_cidr_contains(const bw_cidr *c, const bw_netaddr *a);

/* Whether a lies inside any of list[0..n). False for an empty or NULL list. */
bool bw_cidr_list_contains(const bw_cidr *list, size_t n, const bw_netaddr *a);

/* The rate-limit key of a: the 4 bytes of an IPv4 address, or the first 8 bytes (the /64)
 * of an IPv6 one, since one subscriber usually holds a whole /64. Writes out and returns
 * 4 or 8; the length is part of the key. Returns 0 when a or out is NULL or a's family is
 * unknown. */
size_t bw_netaddr_limit_key(const bw_netaddr *a, unsigned char out[16]);

/* Which request header the trusted proxies write. Exactly one is read: a proxy that
 * manages one of them passes the other through from the client untouched, so reading
 * both, or preferring one when both are present, would let any client choose its
 * address. */
typedef enum bw_netaddr_header {
    BW_NETADDR_HEADER_XFF,       /* X-Forwarded-For: "client, proxy1, proxy2" */
    BW_NETADDR_HEADER_FORWARDED, /* RFC 7239: "for=192.0.2.1, for=\"[2001:db8::1]:443\"" */
} bw_netaddr_header;

typedef struct bw_netaddr_proxies {
    const bw_cidr *trusted; /* networks of the proxies in front of us; none = trust nobody */
    size_t ntrusted;
    bw_netaddr_header header;
} bw_netaddr_proxies;

/* Sets *client to the address the request came from. peer is the TCP peer; xff and fwd
 * are the X-Forwarded-For and Forwarded values (NULL when absent), each the header's lines
 * joined in order with ", " (RFC 9110 5.3) -- all lines, or a proxy that adds its own line
 * after the client's would be ignored.
 *
 * If proxies is NULL, lists no network, or peer is not inside one, the headers are
 * ignored and the client is peer. Otherwise the header proxies->header names is walked
 * from the right, each hop being the address the proxy to its right saw: the client is
 * the first hop that is not trusted. The walk stops early at a hop it cannot use, and the
 * client is then the hop to its right (peer if none): a malformed hop, an obfuscated or
 * "unknown" Forwarded node, a Forwarded element without exactly one for=, a hop past the
 * first BW_NETADDR_MAX_HOPS or cut by the BW_NETADDR_MAX_HEADER bytes examined. When
 * every hop is trusted, the leftmost is the client. Empty list elements are skipped.
 *
 * X-Forwarded-For hops are bare addresses, as bw_netaddr_parse() reads them. Forwarded
 * for= values follow RFC 7239: a token or quoted string holding an IPv4 address or a
 * bracketed IPv6 one, each with an optional port (dropped); parameter names are
 * case-insensitive; other parameters are checked for syntax and ignored.
 *
 * Returns 1 when the client came from the header, 0 when it is peer, or -1 (client
 * untouched) when peer or client is NULL or peer's family is unknown. */
int bw_netaddr_client(const bw_netaddr *peer, const bw_netaddr_proxies *proxies, const char *xff,
                      size_t xfflen, const char *fwd, size_t fwdlen, bw_netaddr *client);

/* Connects to the listener at listen ("host:port" as in the config; an unspecified or named
 * host means 127.0.0.1; a bracketed IPv6 host is skipped) on the given port and closes at
 * once. CivetWeb's accept loop waits up to 2 s in poll() between looks at its stop flag; one
 * connection wakes it, so mg_stop returns without that wait. Best effort: errors are
 * ignored, and the connection carries no request. */
void bw_netaddr_poke(const char *listen, unsigned port);

#endif
