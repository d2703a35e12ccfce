/* Client addresses: parsing and formatting tables, CIDR parsing and matching at prefix
 * boundaries, IPv4-mapped addresses, rate-limit keys, and the client behind trusted proxies
 * (X-Forwarded-For and Forwarded, spoofing, malformed and obfuscated hops, caps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <poll.h>

#include <cmocka.h>

#include "bulwark/netaddr.h"

static bw_netaddr addr(const char *text)
{
    bw_netaddr a;
    if (bw_netaddr_parse(text, strlen(text), &a) != 0)
        fail_msg("not an address: %s", text);
    return a;
}

static bw_cidr cidr(const char *text)
{
    char err[128] = "";
    bw_cidr c;
    if (bw_cidr_parse(text, strlen(text), &c, err, sizeof(err)) != 0)
        fail_msg("cidr %s refused: %s", text, err);
    return c;
}

/* Formats a into a static buffer (tests are single-threaded). */
static const char *fmt(const bw_netaddr *a)
{
    static char buf[BW_NETADDR_TEXT_SIZE];
    assert_true(bw_netaddr_format(a, buf, sizeof(buf)) > 0);
    return buf;
}

/* ---- parsing ---------------------------------------------------------------------------- */

static void test_parse_valid(void **state)
{
    static const struct {
        const char *in;
        int family;
        const char *out;
    } cases[] = {
        {"192.0.2.1", BW_NETADDR_V4, "192.0.2.1"},
        {"0.0.0.0", BW_NETADDR_V4, "0.0.0.0"},
        {"255.255.255.255", BW_NETADDR_V4, "255.255.255.255"},
        {"::", BW_NETADDR_V6, "::"},
        {"::1", BW_NETADDR_V6, "::1"},
        {"2001:DB8::1", BW_NETADDR_V6, "2001:db8::1"},
        {"2001:db8:0:0:0:0:0:1", BW_NETADDR_V6, "2001:db8::1"},
        {"::ffff:192.0.2.1", BW_NETADDR_V4, "192.0.2.1"},
        {"::FFFF:c000:0201", BW_NETADDR_V4, "192.0.2.1"},
        {"0:0:0:0:0:ffff:192.0.2.1", BW_NETADDR_V4, "192.0.2.1"},
        {"::ffff:0.0.0.0", BW_NETADDR_V4, "0.0.0.0"},
        /* Near-mapped forms stay IPv6. */
        {"::fffe:192.0.2.1", BW_NETADDR_V6, "::fffe:c000:201"},
        {"1::ffff:192.0.2.1", BW_NETADDR_V6, "1::ffff:c000:201"},
        {"::1.2.3.4", BW_NETADDR_V6, "::1.2.3.4"},
        {"fe80::1%eth0", BW_NETADDR_V6, "fe80::1"},
        {"fe80::1%enp0s31f6.100", BW_NETADDR_V6, "fe80::1"},
        {"fe80::1%2", BW_NETADDR_V6, "fe80::1"},
        {"fe80::1%abcdefghijklmno", BW_NETADDR_V6, "fe80::1"}, /* 15 bytes: the longest zone */
        {"::ffff:192.0.2.1%eth0", BW_NETADDR_V4, "192.0.2.1"},
        {"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", BW_NETADDR_V6,
         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bw_netaddr a;
        memset(&a, 0xAA, sizeof(a));
        if (bw_netaddr_parse(cases[i].in, strlen(cases[i].in), &a) != 0)
            fail_msg("refused %s", cases[i].in);
        assert_int_equal(a.family, cases[i].family);
        assert_string_equal(fmt(&a), cases[i].out);
        if (a.family == BW_NETADDR_V4) {
            for (size_t k = 4; k < 16; k++)
                assert_int_equal(a.bytes[k], 0);
        }
    }
}

static void test_parse_bytes_and_equality(void **state)
{
    static const unsigned char v4[4] = {192, 0, 2, 1};
    static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                         0,    0,    0,    0,    0, 0, 0, 0x2a};
    bw_netaddr a = addr("192.0.2.1");
    bw_netaddr m = addr("::ffff:192.0.2.1");
    bw_netaddr b = addr("2001:db8::2a");
    (void)state;
    assert_memory_equal(a.bytes, v4, 4);
    assert_memory_equal(b.bytes, v6, 16);
    /* One client, one value: mapped and plain IPv4 compare equal byte for byte. */
    assert_memory_equal(&a, &m, sizeof(a));
    assert_memory_not_equal(&a, &b, sizeof(a));
}

static void test_parse_invalid(void **state)
{
    static const char *const cases[] = {
        "",
        " 192.0.2.1",
        "192.0.2.1 ",
        "192.0.2.1\t",
        "192.0.2.1\n",
        "192.0.2 .1",
        "010.1.1.1", /* leading zeros: octal to some parsers, refused */
        "1.2.3.04",
        "1.2.3",
        "127.1",
        "1.2.3.4.5",
        "256.1.1.1",
        "0x7f.0.0.1",
        "-1.2.3.4",
        "+1.2.3.4",
        "192.0.2.1:80",
        "192.0.2.1/32",
        "[::1]",
        "[::1]:80",
        "::1 ",
        "1::2::3",
        "12345::",
        "::g",
        ":::",
        "2001:db8::/64",
        "192.0.2.1%eth0", /* zones are IPv6 only */
        "fe80::1%",
        "%eth0",
        "fe80::1%abcdefghijklmnop", /* 16 bytes */
        "fe80::1%eth 0",
        "fe80::1%eth0%eth1",
        "fe80::1%eth/0",
        "fe80::1%eth:0",
        "localhost",
        "unknown",
        "1.2.3.4,5.6.7.8",
        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%abcdefghijklmnop",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bw_netaddr a, before;
        memset(&a, 0x5A, sizeof(a));
        before = a;
        if (bw_netaddr_parse(cases[i], strlen(cases[i]), &a) != -1)
            fail_msg("accepted \"%s\"", cases[i]);
        assert_memory_equal(&a, &before, sizeof(a)); /* out untouched */
    }
}

static void test_parse_lengths(void **state)
{
    bw_netaddr a;
    char longest[128];
    (void)state;
    /* Only len bytes are read: no NUL needed, nothing past len looked at. */
    assert_int_equal(bw_netaddr_parse("192.0.2.1XYZ", 9, &a), 0);
    assert_string_equal(fmt(&a), "192.0.2.1");
    assert_int_equal(bw_netaddr_parse("192.0.2.12", 9, &a), 0);
    assert_string_equal(fmt(&a), "192.0.2.1");
    /* An embedded NUL is not the end of the text. */
    assert_int_equal(bw_netaddr_parse("192.0.2.1\0junk", 14, &a), -1);
    assert_int_equal(bw_netaddr_parse("192.0.2.1\0", 10, &a), -1);
    assert_int_equal(bw_netaddr_parse("192.0.2.1", 0, &a), -1);
    /* Far too long (would overflow a naive fixed buffer). */
    memset(longest, '1', sizeof(longest));
    assert_int_equal(bw_netaddr_parse(longest, sizeof(longest), &a), -1);
    assert_int_equal(bw_netaddr_parse(NULL, 3, &a), -1);
    assert_int_equal(bw_netaddr_parse("::1", 3, NULL), -1);
}

static void test_format(void **state)
{
    bw_netaddr a = addr("255.255.255.255");
    bw_netaddr bad = a;
    char buf[BW_NETADDR_TEXT_SIZE];
    char big[200];
    (void)state;
    assert_int_equal(bw_netaddr_format(&a, buf, 16), 15);
    assert_string_equal(buf, "255.255.255.255");
    /* One byte short: refused, and out is an empty string rather than a cut address. */
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(bw_netaddr_format(&a, buf, 15), -1);
    assert_string_equal(buf, "");
    assert_int_equal(bw_netaddr_format(&a, buf, 0), -1);
    assert_int_equal(bw_netaddr_format(&a, big, sizeof(big)), 15);
    a = addr("1:2:3:4:5:6:7:8");
    assert_int_equal(bw_netaddr_format(&a, buf, sizeof(buf)), 15);
    assert_string_equal(buf, "1:2:3:4:5:6:7:8");
    bad.family = 5;
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(bw_netaddr_format(&bad, buf, sizeof(buf)), -1);
    assert_string_equal(buf, "");
    assert_int_equal(bw_netaddr_format(NULL, buf, sizeof(buf)), -1);
    assert_int_equal(bw_netaddr_format(&a, NULL, 10), -1);
}

/* ---- CIDR ------------------------------------------------------------------------------- */

static void test_cidr_parse_valid(void **state)
{
    static const struct {
        const char *in;
        int family;
        const char *net;
        unsigned prefix;
    } cases[] = {
        {"10.0.0.0/8", BW_NETADDR_V4, "10.0.0.0", 8},
        {"0.0.0.0/0", BW_NETADDR_V4, "0.0.0.0", 0},
        {"172.16.0.0/12", BW_NETADDR_V4, "172.16.0.0", 12},
        {"192.0.2.0/31", BW_NETADDR_V4, "192.0.2.0", 31},
        {"192.0.2.1/32", BW_NETADDR_V4, "192.0.2.1", 32},
        {"192.0.2.1", BW_NETADDR_V4, "192.0.2.1", 32},
        {"2001:db8::/32", BW_NETADDR_V6, "2001:db8::", 32},
        {"2001:DB8:0:0::/64", BW_NETADDR_V6, "2001:db8::", 64},
        {"::/0", BW_NETADDR_V6, "::", 0},
        {"::1", BW_NETADDR_V6, "::1", 128},
        {"::1/128", BW_NETADDR_V6, "::1", 128},
        {"2001:db8::/127", BW_NETADDR_V6, "2001:db8::", 127},
        /* IPv4-mapped networks are IPv4 networks. */
        {"::ffff:10.0.0.0/104", BW_NETADDR_V4, "10.0.0.0", 8},
        {"::ffff:0.0.0.0/96", BW_NETADDR_V4, "0.0.0.0", 0},
        {"::ffff:192.0.2.1", BW_NETADDR_V4, "192.0.2.1", 32},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bw_cidr c = cidr(cases[i].in);
        assert_int_equal(c.net.family, cases[i].family);
        assert_string_equal(fmt(&c.net), cases[i].net);
        assert_int_equal(c.prefix, cases[i].prefix);
    }
}

static void test_cidr_parse_invalid(void **state)
{
    static const struct {
        const char *in;
        const char *msg; /* a piece of the message */
    } cases[] = {
        {"", "not an IPv4 or IPv6"},
        {"/8", "not an IPv4 or IPv6"},
        {"10.0.0.0 /8", "not an IPv4 or IPv6"},
        {" 10.0.0.0/8", "not an IPv4 or IPv6"},
        {"010.0.0.0/8", "not an IPv4 or IPv6"},
        {"fe80::%eth0/64", "not an IPv4 or IPv6"},
        {"fe80::1%eth0", "not an IPv4 or IPv6"},
        {"[2001:db8::]/32", "not an IPv4 or IPv6"},
        {"10.0.0.0/", "0 to 32"},
        {"10.0.0.0/33", "0 to 32"},
        {"10.0.0.0/08", "0 to 32"},
        {"10.0.0.0/+8", "0 to 32"},
        {"10.0.0.0/-1", "0 to 32"},
        {"10.0.0.0/ 8", "0 to 32"},
        {"10.0.0.0/8 ", "0 to 32"},
        {"10.0.0.0/8/8", "0 to 32"},
        {"10.0.0.0/4294967304", "0 to 32"},
        {"::/129", "0 to 128"},
        {"::/1000", "0 to 128"},
        {"2001:db8::/0x20", "0 to 128"},
        /* Host bits set: most likely a typo, refused with the network it would be. */
        {"10.0.0.1/8", "10.0.0.0/8"},
        {"192.0.2.1/31", "192.0.2.0/31"},
        {"0.0.0.1/0", "0.0.0.0/0"},
        {"2001:db8::1/32", "2001:db8::/32"},
        {"2001:db8::1/127", "2001:db8::/127"},
        {"::ffff:10.0.0.1/104", "::ffff:10.0.0.0/104"},
        {"::ffff:0:0/95", "host bits"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[160] = "";
        bw_cidr c;
        memset(&c, 0x5A, sizeof(c));
        bw_cidr before = c;
        if (bw_cidr_parse(cases[i].in, strlen(cases[i].in), &c, err, sizeof(err)) != -1)
            fail_msg("accepted \"%s\"", cases[i].in);
        if (strstr(err, cases[i].msg) == NULL)
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", cases[i].in, err, cases[i].msg);
        assert_memory_equal(&c, &before, sizeof(c));
        /* No message buffer is fine too. */
        assert_int_equal(bw_cidr_parse(cases[i].in, strlen(cases[i].in), &c, NULL, 0), -1);
    }
}

static void test_cidr_parse_args(void **state)
{
    char err[64] = "";
    bw_cidr c;
    (void)state;
    assert_int_equal(bw_cidr_parse(NULL, 0, &c, err, sizeof(err)), -1);
    assert_true(err[0] != '\0');
    assert_int_equal(bw_cidr_parse("10.0.0.0/8", 10, NULL, err, sizeof(err)), -1);
    /* Explicit length: the text after len is not part of the network. */
    assert_int_equal(bw_cidr_parse("10.0.0.0/8junk", 10, &c, err, sizeof(err)), 0);
    assert_int_equal(c.prefix, 8);
    assert_int_equal(bw_cidr_parse("0.0.0.0/24", 9, &c, err, sizeof(err)), 0);
    assert_int_equal(c.prefix, 2);
    /* A message longer than err is cut, never overflows. */
    char tiny[8];
    memset(tiny, 'x', sizeof(tiny));
    assert_int_equal(bw_cidr_parse("10.0.0.1/8", 10, &c, tiny, sizeof(tiny)), -1);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

typedef struct match_case {
    const char *net;
    const char *a;
    bool in;
} match_case;

static void check_matches(const match_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bw_cidr c = cidr(cases[i].net);
        bw_netaddr a = addr(cases[i].a);
        if (bw_cidr_contains(&c, &a) != cases[i].in)
            fail_msg("%s in %s: expected %s", cases[i].a, cases[i].net,
                     cases[i].in ? "true" : "false");
        /* A list of one behaves like the network itself. */
        assert_true(bw_cidr_list_contains(&c, 1, &a) == cases[i].in);
    }
}

static void test_contains_v4(void **state)
{
    static const match_case cases[] = {
        {"0.0.0.0/0", "0.0.0.0", true},
        {"0.0.0.0/0", "255.255.255.255", true},
        {"0.0.0.0/0", "::1", false},
        {"0.0.0.0/0", "2001:db8::1", false},
        {"10.0.0.0/8", "10.0.0.0", true},
        {"10.0.0.0/8", "10.255.255.255", true},
        {"10.0.0.0/8", "9.255.255.255", false},
        {"10.0.0.0/8", "11.0.0.0", false},
        {"172.16.0.0/12", "172.16.0.0", true},
        {"172.16.0.0/12", "172.31.255.255", true},
        {"172.16.0.0/12", "172.32.0.0", false},
        {"172.16.0.0/12", "172.15.255.255", false},
        {"192.0.2.0/31", "192.0.2.0", true},
        {"192.0.2.0/31", "192.0.2.1", true},
        {"192.0.2.0/31", "192.0.2.2", false},
        {"192.0.2.0/31", "192.0.1.255", false},
        {"192.0.2.1/32", "192.0.2.1", true},
        {"192.0.2.1/32", "192.0.2.0", false},
        {"192.0.2.1/32", "192.0.2.3", false},
        {"192.0.2.1/32", "::ffff:192.0.2.1", true},
        {"192.0.2.1/32", "::192.0.2.1", false}, /* IPv4-compatible is plain IPv6 */
        {"::ffff:10.0.0.0/104", "10.1.2.3", true},
        {"::ffff:10.0.0.0/104", "::ffff:10.1.2.3", true},
        {"::ffff:10.0.0.0/104", "11.1.2.3", false},
    };
    (void)state;
    check_matches(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_contains_v6(void **state)
{
    static const match_case cases[] = {
        {"::/0", "::", true},
        {"::/0", "2001:db8::1", true},
        {"::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        /* Families never mix, mapped addresses being IPv4. */
        {"::/0", "10.1.2.3", false},
        {"::/0", "::ffff:10.1.2.3", false},
        {"2001:db8:1:2::/64", "2001:db8:1:2::", true},
        {"2001:db8:1:2::/64", "2001:db8:1:2:ffff:ffff:ffff:ffff", true},
        {"2001:db8:1:2::/64", "2001:db8:1:3::", false},
        {"2001:db8:1:2::/64", "2001:db8:1:1:ffff:ffff:ffff:ffff", false},
        {"2001:db8::/127", "2001:db8::", true},
        {"2001:db8::/127", "2001:db8::1", true},
        {"2001:db8::/127", "2001:db8::2", false},
        {"2001:db8::/127", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"2001:db8::5/128", "2001:db8::5", true},
        {"2001:db8::5/128", "2001:db8::4", false},
        {"2001:db8::5/128", "2001:db8::7", false},
        {"2001:db8::5/128", "2001:db8::5%eth0", true},
        {"fe80::/10", "febf::1", true},
        {"fe80::/10", "fec0::1", false},
    };
    (void)state;
    check_matches(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_contains_list_and_args(void **state)
{
    bw_cidr list[3];
    bw_netaddr a = addr("192.0.2.7");
    bw_netaddr b = addr("2001:db8::7");
    bw_netaddr c = addr("198.51.100.7");
    bw_netaddr bad = a;
    bw_cidr wide;
    (void)state;
    list[0] = cidr("10.0.0.0/8");
    list[1] = cidr("2001:db8::/32");
    list[2] = cidr("192.0.2.0/24");
    assert_true(bw_cidr_list_contains(list, 3, &a)); /* the last one */
    assert_true(bw_cidr_list_contains(list, 3, &b));
    assert_false(bw_cidr_list_contains(list, 3, &c));
    assert_false(bw_cidr_list_contains(list, 2, &a)); /* n is honoured */
    assert_false(bw_cidr_list_contains(list, 0, &a));
    assert_false(bw_cidr_list_contains(NULL, 3, &a));
    assert_false(bw_cidr_list_contains(list, 3, NULL));
    assert_false(bw_cidr_contains(NULL, &a));
    assert_false(bw_cidr_contains(&list[2], NULL));
    /* An address of no family matches nothing, even 0.0.0.0/0 after a family mix-up. */
    bad.family = 0;
    wide = cidr("0.0.0.0/0");
    wide.net.family = 0;
    assert_false(bw_cidr_contains(&wide, &bad));
    /* A hand-built network with an impossible prefix matches nothing. */
    wide = cidr("0.0.0.0/0");
    wide.prefix = 33;
    assert_false(bw_cidr_contains(&wide, &a));
}

/* ---- rate-limit keys -------------------------------------------------------------------- */

static size_t key_of(const char *text, unsigned char out[16])
{
    bw_netaddr a = addr(text);
    memset(out, 0xEE, 16);
    return bw_netaddr_limit_key(&a, out);
}

static void test_limit_key(void **state)
{
    unsigned char k1[16], k2[16];
    static const unsigned char v4[4] = {198, 51, 100, 7};
    static const unsigned char v6[8] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2};
    bw_netaddr bad = addr("198.51.100.7");
    (void)state;
    assert_int_equal(key_of("198.51.100.7", k1), 4);
    assert_memory_equal(k1, v4, 4);
    assert_int_equal(k1[4], 0xEE); /* nothing written past the key */
    /* Mapped IPv4 shares the plain IPv4 key. */
    assert_int_equal(key_of("::ffff:198.51.100.7", k2), 4);
    assert_memory_equal(k1, k2, 4);
    /* Neighbouring IPv4 addresses have their own keys. */
    assert_int_equal(key_of("198.51.100.8", k2), 4);
    assert_memory_not_equal(k1, k2, 4);
    /* One IPv6 /64, one key. */
    assert_int_equal(key_of("2001:db8:1:2::1", k1), 8);
    assert_memory_equal(k1, v6, 8);
    assert_int_equal(k1[8], 0xEE);
    assert_int_equal(key_of("2001:db8:1:2:ffff:ffff:ffff:fffe", k2), 8);
    assert_memory_equal(k1, k2, 8);
    assert_int_equal(key_of("2001:db8:1:3::1", k2), 8);
    assert_memory_not_equal(k1, k2, 8);
    assert_int_equal(key_of("2001:db8:1:1:ffff:ffff:ffff:ffff", k2), 8);
    assert_memory_not_equal(k1, k2, 8);
    bad.family = 0;
    assert_int_equal(bw_netaddr_limit_key(&bad, k1), 0);
    assert_int_equal(bw_netaddr_limit_key(NULL, k1), 0);
    assert_int_equal(bw_netaddr_limit_key(&bad, NULL), 0);
}

/* ---- the client behind trusted proxies -------------------------------------------------- */

static const char *const TRUSTED[] = {"10.0.0.0/8", "fd00::/8", "::ffff:192.168.0.0/112"};

static bw_netaddr_proxies proxies(bw_netaddr_header h)
{
    static bw_cidr list[sizeof(TRUSTED) / sizeof(TRUSTED[0])];
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
        list[i] = cidr(TRUSTED[i]);
    bw_netaddr_proxies p = {
        .trusted = list, .ntrusted = sizeof(list) / sizeof(list[0]), .header = h};
    return p;
}

typedef struct client_case {
    const char *peer;
    bw_netaddr_header header;
    const char *xff; /* NULL: absent */
    const char *fwd;
    const char *want;
    int rc;
} client_case;

#define XFF BW_NETADDR_HEADER_XFF
#define FWD BW_NETADDR_HEADER_FORWARDED

/* Resolves one case with the TRUSTED list and checks the client and the return value. */
static void check_client(const client_case *c)
{
    bw_netaddr_proxies p = proxies(c->header);
    bw_netaddr peer = addr(c->peer);
    bw_netaddr want = addr(c->want);
    bw_netaddr got;
    memset(&got, 0x5A, sizeof(got));
    int rc = bw_netaddr_client(&peer, &p, c->xff, c->xff ? strlen(c->xff) : 0, c->fwd,
                               c->fwd ? strlen(c->fwd) : 0, &got);
    if (rc != c->rc || memcmp(&got, &want, sizeof(got)) != 0)
        fail_msg("peer %s xff [%s] fwd [%s]: got %s rc %d, want %s rc %d", c->peer,
                 c->xff ? c->xff : "(none)", c->fwd ? c->fwd : "(none)",
                 got.family == BW_NETADDR_V4 || got.family == BW_NETADDR_V6 ? fmt(&got) : "?", rc,
                 c->want, c->rc);
}

static void check_clients(const client_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        check_client(&cases[i]);
}

static void test_client_untrusted_peer(void **state)
{
    static const client_case cases[] = {
        /* A direct client cannot pick its address with either header. */
        {"203.0.113.9", XFF, "198.51.100.7", NULL, "203.0.113.9", 0},
        {"203.0.113.9", XFF, "10.0.0.2", "for=10.0.0.3", "203.0.113.9", 0},
        {"203.0.113.9", FWD, "198.51.100.7", "for=198.51.100.7", "203.0.113.9", 0},
        {"2001:db8::9", XFF, "198.51.100.7", NULL, "2001:db8::9", 0},
        /* 192.168.0.0/16 is trusted (written mapped), 192.169.0.1 is not. */
        {"192.169.0.1", XFF, "198.51.100.7", NULL, "192.169.0.1", 0},
        {"::ffff:192.168.3.4", XFF, "198.51.100.7", NULL, "198.51.100.7", 1},
    };
    (void)state;
    check_clients(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_client_no_trusted_list(void **state)
{
    bw_netaddr peer = addr("10.0.0.1");
    bw_netaddr got;
    bw_netaddr_proxies none = {.trusted = NULL, .ntrusted = 3, .header = XFF};
    bw_netaddr_proxies empty = proxies(XFF);
    const char *xff = "198.51.100.7";
    (void)state;
    empty.ntrusted = 0;
    assert_int_equal(bw_netaddr_client(&peer, NULL, xff, strlen(xff), NULL, 0, &got), 0);
    assert_memory_equal(&got, &peer, sizeof(got));
    memset(&got, 0, sizeof(got));
    assert_int_equal(bw_netaddr_client(&peer, &none, xff, strlen(xff), NULL, 0, &got), 0);
    assert_memory_equal(&got, &peer, sizeof(got));
    memset(&got, 0, sizeof(got));
    assert_int_equal(bw_netaddr_client(&peer, &empty, xff, strlen(xff), NULL, 0, &got), 0);
    assert_memory_equal(&got, &peer, sizeof(got));
}

static void test_client_xff(void **state)
{
    static const client_case cases[] = {
        /* No header, empty header, only empty elements: the peer. */
        {"10.0.0.1", XFF, NULL, NULL, "10.0.0.1", 0},
        {"10.0.0.1", XFF, "", NULL, "10.0.0.1", 0},
        {"10.0.0.1", XFF, " , ,\t", NULL, "10.0.0.1", 0},
        {"10.0.0.1", XFF, "198.51.100.7", NULL, "198.51.100.7", 1},
        {"10.0.0.1", XFF, "198.51.100.7, 10.0.0.2", NULL, "198.51.100.7", 1},
        /* An attacker prepends entries; the proxy appends the real address. */
        {"10.0.0.1", XFF, "1.2.3.4, 198.51.100.7", NULL, "198.51.100.7", 1},
        {"10.0.0.1", XFF, "1.2.3.4, 5.6.7.8, 198.51.100.7, 10.0.0.2", NULL, "198.51.100.7", 1},
        /* ... even trusted-looking ones, to the left of the real client. */
        {"10.0.0.1", XFF, "10.9.9.9, 198.51.100.7", NULL, "198.51.100.7", 1},
        /* Every hop trusted: the leftmost. */
        {"10.0.0.1", XFF, "10.0.0.5, 10.0.0.2", NULL, "10.0.0.5", 1},
        {"10.0.0.1", XFF, "10.0.0.5", NULL, "10.0.0.5", 1},
        /* Malformed hops stop the walk: the hop to their right. */
        {"10.0.0.1", XFF, "198.51.100.7, garbage, 10.0.0.2", NULL, "10.0.0.2", 1},
        {"10.0.0.1", XFF, "198.51.100.7, garbage", NULL, "10.0.0.1", 0},
        {"10.0.0.1", XFF, "198.51.100.7, 1.2.3.4:80", NULL, "10.0.0.1", 0},
        {"10.0.0.1", XFF, "198.51.100.7, [2001:db8::7]", NULL, "10.0.0.1", 0},
        {"10.0.0.1", XFF, "198.51.100.7, unknown", NULL, "10.0.0.1", 0},
        {"10.0.0.1", XFF, "198.51.100.7, 010.0.0.2", NULL, "10.0.0.1", 0},
        {"10.0.0.1", XFF, "198.51.100.7, 10.0.0.2 10.0.0.3", NULL, "10.0.0.1", 0},
        {"10.0.0.1", XFF, "198.51.100.7, \"10.0.0.2\"", NULL, "10.0.0.1", 0},
        /* OWS around elements, empty elements (RFC 9110 lists). */
        {"10.0.0.1", XFF, "198.51.100.7 ,\t10.0.0.2 ", NULL, "198.51.100.7", 1},
        {"10.0.0.1", XFF, ",198.51.100.7,, ,10.0.0.2,", NULL, "198.51.100.7", 1},
        /* Mapped and IPv6 hops; trusted mapped hops are trusted. */
        {"10.0.0.1", XFF, "::ffff:198.51.100.7", NULL, "198.51.100.7", 1},
        {"10.0.0.1", XFF, "198.51.100.7, ::ffff:10.0.0.3", NULL, "198.51.100.7", 1},
        {"fd00::1", XFF, "2001:db8::7, fd00::2", NULL, "2001:db8::7", 1},
        {"fd00::1", XFF, "2001:db8::7, 10.0.0.2", NULL, "2001:db8::7", 1},
        {"10.0.0.1", XFF, "fe80::7%eth0", NULL, "fe80::7", 1},
        /* Two header lines joined: the client's own line first, the proxy's last. */
        {"10.0.0.1", XFF, "6.6.6.6, 198.51.100.7", NULL, "198.51.100.7", 1},
        /* In XFF mode a Forwarded header, whoever wrote it, is ignored. */
        {"10.0.0.1", XFF, "198.51.100.7", "for=6.6.6.6", "198.51.100.7", 1},
        {"10.0.0.1", XFF, NULL, "for=6.6.6.6", "10.0.0.1", 0},
    };
    (void)state;
    check_clients(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_client_forwarded(void **state)
{
    static const client_case cases[] = {
        {"10.0.0.1", FWD, NULL, NULL, "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7", "198.51.100.7", 1},
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7;proto=https;by=10.0.0.1", "198.51.100.7", 1},
        {"10.0.0.1", FWD, NULL, "proto=https;For=198.51.100.7", "198.51.100.7", 1},
        {"10.0.0.1", FWD, NULL, "FOR=\"198.51.100.7\"", "198.51.100.7", 1},
        {"10.0.0.1", FWD, NULL, "for=\"198.51.100.7:8080\"", "198.51.100.7", 1},
        {"10.0.0.1", FWD, NULL, "for=\"198.51.100.7:_p0rt\"", "198.51.100.7", 1},
        {"10.0.0.1", FWD, NULL, "for=\"[2001:db8::7]\"", "2001:db8::7", 1},
        {"10.0.0.1", FWD, NULL, "for=\"[2001:db8::7]:4711\"", "2001:db8::7", 1},
        {"10.0.0.1", FWD, NULL, "for=\"[2001:db8::7]:65535\"", "2001:db8::7", 1},
        {"10.0.0.1", FWD, NULL, "for=\"[::ffff:198.51.100.7]\"", "198.51.100.7", 1},
        {"10.0.0.1", FWD, NULL, "for=\"\\[2001:db8::7\\]\"", "2001:db8::7", 1}, /* quoted-pairs */
        /* RFC 7239's own example. */
        {"10.0.0.1", FWD, NULL, "for=192.0.2.43, for=\"[2001:db8:cafe::17]\";proto=https",
         "2001:db8:cafe::17", 1},
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7, for=10.0.0.2", "198.51.100.7", 1},
        {"10.0.0.1", FWD, NULL, "for=10.0.0.5, for=\"[fd00::2]:80\"", "10.0.0.5", 1},
        /* Spoofed elements to the left of the real client. */
        {"10.0.0.1", FWD, NULL, "for=1.2.3.4, for=198.51.100.7", "198.51.100.7", 1},
        {"10.0.0.1", FWD, NULL, "for=1.2.3.4;by=10.0.0.9, for=198.51.100.7;by=10.0.0.1",
         "198.51.100.7", 1},
        /* A client's unbalanced quote cannot swallow what the proxy appended. */
        {"10.0.0.1", FWD, NULL, "for=\"1.2.3.4, for=198.51.100.7", "198.51.100.7", 1},
        {"10.0.0.1", FWD, NULL, "a\"b, for=198.51.100.7", "198.51.100.7", 1},
        /* Commas and escaped quotes inside quoted strings do not split elements. */
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7, for=10.0.0.2;by=\"a,b\"", "198.51.100.7", 1},
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7, for=10.0.0.2;x=\"a\\\",b\\\\\"", "198.51.100.7",
         1},
        {"10.0.0.1", FWD, NULL, "for=\"1.2.3.4, 5.6.7.8\", for=10.0.0.2", "10.0.0.2", 1},
        {"10.0.0.1", FWD, NULL, "for=\"1.2.3.4\\\"\", for=10.0.0.2", "10.0.0.2", 1},
        /* Obfuscated and unknown nodes: unusable, the hop to their right. */
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7, for=_hidden, for=10.0.0.2", "10.0.0.2", 1},
        {"10.0.0.1", FWD, NULL, "for=unknown", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7, for=UNKNOWN", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=\"_gazonk\"", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=\"unknown:8080\"", "10.0.0.1", 0},
        /* Elements without exactly one for=. */
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7, proto=https", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7, ;", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=1.1.1.1;for=198.51.100.7", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7;FOR=198.51.100.7", "10.0.0.1", 0},
        /* Malformed syntax. */
        {"10.0.0.1", FWD, NULL, "for=[2001:db8::7]", "10.0.0.1", 0},   /* must be quoted */
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7:80", "10.0.0.1", 0}, /* must be quoted */
        {"10.0.0.1", FWD, NULL, "for=\"2001:db8::7\"", "10.0.0.1", 0}, /* needs brackets */
        {"10.0.0.1", FWD, NULL, "for=\"[198.51.100.7]\"", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=\"[2001:db8::7\"", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=\"[2001:db8::7]x\"", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=\"198.51.100.7:65536\"", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=\"198.51.100.7:\"", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=\"198.51.100.7:_\"", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=\"198.51.100.7:8a\"", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=\"198.51.100.7:123456\"", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=\"198.51.100.7", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7\"", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=\"198.51.100.7\\", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=\"\"", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for = 198.51.100.7", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "=198.51.100.7", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7 x", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7;proto", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=\"198.51.100.7\x01\"", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=\"198.51.100.7\"x", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7, for=10.0.0.2 garbage", "10.0.0.1", 0},
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7, bad, for=10.0.0.2", "10.0.0.2", 1},
        /* Tolerated: OWS around ";" and around elements, empty pairs and elements. */
        {"10.0.0.1", FWD, NULL, " for=198.51.100.7 ; proto=https ", "198.51.100.7", 1},
        {"10.0.0.1", FWD, NULL, ";;for=198.51.100.7;", "198.51.100.7", 1},
        {"10.0.0.1", FWD, NULL, "for=198.51.100.7,, ,for=10.0.0.2,", "198.51.100.7", 1},
        /* In Forwarded mode X-Forwarded-For, whoever wrote it, is ignored. */
        {"10.0.0.1", FWD, "6.6.6.6", "for=198.51.100.7", "198.51.100.7", 1},
        {"10.0.0.1", FWD, "6.6.6.6", NULL, "10.0.0.1", 0},
    };
    (void)state;
    check_clients(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Appends text to b (capacity cap); fails the test rather than overflowing. */
static void put(char *b, size_t cap, size_t *len, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 > cap)
        fail_msg("test buffer too small");
    memcpy(b + *len, text, n + 1);
    *len += n;
}

/* "<first>, " then ntrusted trusted hops 10.0.1.1, 10.0.1.2, ... in header syntax. */
static size_t chain(char *b, size_t cap, bw_netaddr_header h, const char *first, int ntrusted)
{
    size_t len = 0;
    char hop[64];
    b[0] = '\0';
    snprintf(hop, sizeof(hop), h == FWD ? "for=%s" : "%s", first);
    put(b, cap, &len, hop);
    for (int i = 1; i <= ntrusted; i++) {
        snprintf(hop, sizeof(hop), h == FWD ? ", for=\"10.0.1.%d:80\"" : ", 10.0.1.%d", i);
        put(b, cap, &len, hop);
    }
    return len;
}

static void resolve(bw_netaddr_header h, const char *hdr, size_t len, bw_netaddr *got)
{
    bw_netaddr_proxies p = proxies(h);
    bw_netaddr peer = addr("10.0.0.1");
    int rc = bw_netaddr_client(&peer, &p, h == XFF ? hdr : NULL, h == XFF ? len : 0,
                               h == FWD ? hdr : NULL, h == FWD ? len : 0, got);
    assert_int_equal(rc, 1);
}

static void test_client_hop_cap(void **state)
{
    static const bw_netaddr_header modes[] = {XFF, FWD};
    char b[4096];
    bw_netaddr got;
    (void)state;
    for (size_t m = 0; m < 2; m++) {
        /* BW_NETADDR_MAX_HOPS - 1 trusted hops: the client is still reached. */
        size_t len = chain(b, sizeof(b), modes[m], "198.51.100.7", BW_NETADDR_MAX_HOPS - 1);
        resolve(modes[m], b, len, &got);
        assert_string_equal(fmt(&got), "198.51.100.7");
        /* BW_NETADDR_MAX_HOPS trusted hops: the walk ends at the last one examined. */
        len = chain(b, sizeof(b), modes[m], "198.51.100.7", BW_NETADDR_MAX_HOPS);
        resolve(modes[m], b, len, &got);
        assert_string_equal(fmt(&got), "10.0.1.1");
        len = chain(b, sizeof(b), modes[m], "198.51.100.7", BW_NETADDR_MAX_HOPS + 10);
        resolve(modes[m], b, len, &got);
        assert_string_equal(fmt(&got), "10.0.1.11");
    }
}

static void test_client_oversized(void **state)
{
    static const bw_netaddr_header modes[] = {XFF, FWD};
    size_t cap = 200000;
    char *b = malloc(cap);
    bw_netaddr got;
    (void)state;
    assert_non_null(b);
    for (size_t m = 0; m < 2; m++) {
        const char *spoof = modes[m] == FWD ? "for=1.1.1.1, " : "1.1.1.1, ";
        const char *tail =
            modes[m] == FWD ? "for=198.51.100.7, for=10.0.0.2" : "198.51.100.7, 10.0.0.2";
        const char *all_trusted =
            modes[m] == FWD ? "for=10.0.0.5, for=10.0.0.2" : "10.0.0.5, 10.0.0.2";
        size_t len = 0, pad;

        /* 150 KB of spoofed hops before the real ones: only the right end is read. */
        b[0] = '\0';
        while (len < 150000)
            put(b, cap, &len, spoof);
        put(b, cap, &len, tail);
        resolve(modes[m], b, len, &got);
        assert_string_equal(fmt(&got), "198.51.100.7");

        /* One huge element: cut by the examined window, so the hop to its right. */
        memset(b, 'a', 10000);
        len = 10000;
        b[len] = '\0';
        put(b, cap, &len, modes[m] == FWD ? ", for=10.0.0.2" : ", 10.0.0.2");
        resolve(modes[m], b, len, &got);
        assert_string_equal(fmt(&got), "10.0.0.2");

        /* Exactly BW_NETADDR_MAX_HEADER bytes: all read, the leftmost trusted hop wins... */
        pad = BW_NETADDR_MAX_HEADER - strlen(all_trusted);
        memset(b, ' ', pad);
        memcpy(b + pad, all_trusted, strlen(all_trusted) + 1);
        resolve(modes[m], b, BW_NETADDR_MAX_HEADER, &got);
        assert_string_equal(fmt(&got), "10.0.0.5");
        /* ...one byte more and the leftmost element is cut: the hop to its right. */
        memset(b, ' ', pad + 1);
        memcpy(b + pad + 1, all_trusted, strlen(all_trusted) + 1);
        resolve(modes[m], b, BW_NETADDR_MAX_HEADER + 1, &got);
        assert_string_equal(fmt(&got), "10.0.0.2");
    }
    free(b);
}

static void test_client_spoof_flood(void **state)
{
    /* Thousands of spoofed hops, then the real client: the cap is never the answer. */
    size_t cap = 64000, len = 0;
    char *b = malloc(cap);
    bw_netaddr got;
    (void)state;
    assert_non_null(b);
    b[0] = '\0';
    for (int i = 0; i < 3000; i++)
        put(b, cap, &len, "9.9.9.9,");
    put(b, cap, &len, "198.51.100.7,10.0.0.2,10.0.0.3");
    resolve(XFF, b, len, &got);
    assert_string_equal(fmt(&got), "198.51.100.7");
    free(b);
}

static void test_client_args(void **state)
{
    bw_netaddr_proxies p = proxies(XFF);
    bw_netaddr peer = addr("10.0.0.1");
    bw_netaddr got, before;
    const char *xff = "198.51.100.7";
    (void)state;
    memset(&got, 0x5A, sizeof(got));
    before = got;
    assert_int_equal(bw_netaddr_client(NULL, &p, xff, strlen(xff), NULL, 0, &got), -1);
    assert_memory_equal(&got, &before, sizeof(got));
    assert_int_equal(bw_netaddr_client(&peer, &p, xff, strlen(xff), NULL, 0, NULL), -1);
    peer.family = 0;
    assert_int_equal(bw_netaddr_client(&peer, &p, xff, strlen(xff), NULL, 0, &got), -1);
    assert_memory_equal(&got, &before, sizeof(got));
    /* A NULL header with a length is absent, never read. */
    peer = addr("10.0.0.1");
    assert_int_equal(bw_netaddr_client(&peer, &p, NULL, 50, NULL, 50, &got), 0);
    assert_memory_equal(&got, &peer, sizeof(got));
    /* Only len bytes of the header are read. */
    assert_int_equal(bw_netaddr_client(&peer, &p, "198.51.100.7, 10.0.0.2", 12, NULL, 0, &got), 1);
    assert_string_equal(fmt(&got), "198.51.100.7");
}

/* A listening socket on 127.0.0.1, its port in *port. */
static int listener(unsigned *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* 1 when a connection waits to be accepted within 1 s. */
static int pending(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 1000) == 1;
}

/* The poke reaches a loopback listener named as the config names it (an unspecified host
 * means loopback), and skips what it cannot reach (IPv6, port 0). */
static void test_poke(void **state)
{
    unsigned port;
    int fd = listener(&port), c;

    (void)state;
    bw_netaddr_poke("127.0.0.1:8443", port);
    assert_true(pending(fd));
    c = accept(fd, NULL, NULL);
    assert_true(c >= 0);
    close(c);
    bw_netaddr_poke("0.0.0.0:8443", port);
    assert_true(pending(fd));
    c = accept(fd, NULL, NULL);
    assert_true(c >= 0);
    close(c);
    bw_netaddr_poke("[::1]:8443", port);
    bw_netaddr_poke("127.0.0.1:8443", 0);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 100), 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_bytes_and_equality),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_lengths),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_cidr_parse_valid),
        cmocka_unit_test(test_cidr_parse_invalid),
        cmocka_unit_test(test_cidr_parse_args),
        cmocka_unit_test(test_contains_v4),
        cmocka_unit_test(test_contains_v6),
        cmocka_unit_test(test_contains_list_and_args),
        cmocka_unit_test(test_limit_key),
        cmocka_unit_test(test_client_untrusted_peer),
        cmocka_unit_test(test_client_no_trusted_list),
        cmocka_unit_test(test_client_xff),
        cmocka_unit_test(test_client_forwarded),
        cmocka_unit_test(test_client_hop_cap),
        cmocka_unit_test(test_client_oversized),
        cmocka_unit_test(test_client_spoof_flood),
        cmocka_unit_test(test_client_args),
        cmocka_unit_test(test_poke),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
