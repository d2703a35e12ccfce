/* Forwarding headers, CIDRs and addresses as an attacker (or a careless config) writes them.
 * The first byte picks the TCP peer and the header mode; the rest is split at its first
 * newline into X-Forwarded-For and Forwarded. The whole input is also read as an address and
 * as a CIDR, checking what a successful parse promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/netaddr.h"

static const char *const TRUSTED[] = {"10.0.0.0/8", "fd00::/8", "::ffff:192.168.0.0/112",
                                      "198.51.100.0/31"};
static const char *const PEERS[] = {"10.0.0.1", "fd00::1", "192.168.7.7", "203.0.113.9"};

static void check_address(const char *p, size_t len)
{
    bw_netaddr a, b;
    char text[BW_NETADDR_TEXT_SIZE];
    unsigned char key[16];
    int n;

    if (bw_netaddr_parse(p, len, &a) != 0)
        return;
    /* Formatting and reading back gives the same address. */
    n = bw_netaddr_format(&a, text, sizeof(text));
    if (n <= 0 || bw_netaddr_parse(text, (size_t)n, &b) != 0 || memcmp(&a, &b, sizeof(a)) != 0)
        abort();
    if (bw_netaddr_limit_key(&a, key) != (a.family == BW_NETADDR_V4 ? 4u : 8u))
        abort();
}

static void check_cidr(const char *p, size_t len)
{
    bw_cidr c;
    bw_netaddr other;
    char err[96];

    if (bw_cidr_parse(p, len, &c, err, sizeof(err)) != 0) {
        if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
            abort();
        return;
    }
    if (c.prefix > (c.net.family == BW_NETADDR_V4 ? 32u : 128u))
        abort();
    /* A network holds its own address, and nothing of the other family. */
    if (!bw_cidr_contains(&c, &c.net))
        abort();
    memset(&other, 0, sizeof(other));
    other.family = c.net.family == BW_NETADDR_V4 ? BW_NETADDR_V6 : BW_NETADDR_V4;
    if (bw_cidr_contains(&c, &other))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bw_cidr trusted[sizeof(TRUSTED) / sizeof(TRUSTED[0])];
    static int ready;
    bw_netaddr_proxies proxies;
    bw_netaddr peer, client;
    const char *text, *nl;
    size_t len, xfflen;
    int rc;

    if (!ready) {
        for (size_t i = 0; i < sizeof(trusted) / sizeof(trusted[0]); i++) {
            if (bw_cidr_parse(TRUSTED[i], strlen(TRUSTED[i]), &trusted[i], NULL, 0) != 0)
                abort();
        }
        ready = 1;
    }
    if (size == 0)
        return 0;
    text = (const char *)data + 1;
    len = size - 1;
    check_address(text, len);
    check_cidr(text, len);

    if (bw_netaddr_parse(PEERS[data[0] & 3], strlen(PEERS[data[0] & 3]), &peer) != 0)
        abort();
    proxies.trusted = trusted;
    proxies.ntrusted = sizeof(trusted) / sizeof(trusted[0]);
    proxies.header = (data[0] & 4) ? BW_NETADDR_HEADER_FORWARDED : BW_NETADDR_HEADER_XFF;
    nl = memchr(text, '\n', len);
    xfflen = nl != NULL ? (size_t)(nl - text) : len;
    rc = bw_netaddr_client(&peer, &proxies, text, xfflen, nl != NULL ? nl + 1 : NULL,
                           nl != NULL ? len - xfflen - 1 : 0, &client);
    if (rc != 0 && rc != 1)
        abort();
    if (client.family != BW_NETADDR_V4 && client.family != BW_NETADDR_V6)
        abort();
    /* An untrusted peer is the client whatever the headers say. */
    if ((rc == 0 || !bw_cidr_list_contains(trusted, proxies.ntrusted, &peer)) &&
        memcmp(&client, &peer, sizeof(client)) != 0)
        abort();
    return 0;
}
