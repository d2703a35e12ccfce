/* Internet names and addresses: ipv4 (dotted quad), ipv6 (RFC 4291 text forms), hostname
 * (RFC 1123, with IDNA2008 A-labels) and email (RFC 5321 Mailbox). */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "format_internal.h"

#define HOSTNAME_MAX 253
#define LABEL_MAX 63
#define LOCAL_PART_MAX 64

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* dec-octet: 0..255 without leading zeros. */
static bool dec_octet(const char *s, size_t len)
{
    int v = 0;

    if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 255;
}

bool bw_format_ipv4(const char *s, size_t len)
{
    size_t start = 0;
    int parts = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        if (++parts > 4 || !dec_octet(s + start, i - start))
            return false;
        start = i + 1;
    }
    return parts == 4;
}

bool bw_format_ipv6(const char *s, size_t len)
{
    size_t i = 0;
    int groups = 0;
    bool compressed = false;

    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        compressed = true;
        i = 2;
    } else if (len == 0 || s[0] == ':') {
        return false;
    }
    while (i < len) {
        size_t start = i;

        while (i < len && is_hex(s[i]))
            i++;
        if (i < len && s[i] == '.') {
            /* An embedded IPv4 address ends the text and stands for two groups. */
            if (!bw_format_ipv4(s + start, len - start))
                return false;
            groups += 2;
            break;
        }
        if (i == start || i - start > 4)
            return false;
        groups++;
        if (groups > 8)
            return false;
        if (i == len)
            break;
        if (s[i] != ':')
            return false;
        i++;
        if (i < len && s[i] == ':') {
            if (compressed)
                return false;
            compressed = true;
            i++;
        } else if (i == len) {
            return false; /* a single trailing colon */
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

/* One LDH label: 1..63 letters, digits and hyphens, not starting or ending with a hyphen. */
static bool ldh_label(const char *s, size_t len)
{
    if (len == 0 || len > LABEL_MAX || s[0] == '-' || s[len - 1] == '-')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-')
            return false;
    return true;
}

static bool xn_prefix(const char *s, size_t len)
{
    return len >= 4 && (s[0] == 'x' || s[0] == 'X') && (s[1] == 'n' || s[1] == 'N') &&
           s[2] == '-' && s[3] == '-';
}

/* Dot-separated labels; `idn` also validates A-labels (email domains stay plain LDH). */
static bool hostname(const char *s, size_t len, bool idn)
{
    size_t start = 0;

    if (len == 0 || len > HOSTNAME_MAX)
        return false;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        if (!ldh_label(s + start, i - start))
            return false;
        if (idn && xn_prefix(s + start, i - start) && !bw_format_alabel(s + start, i - start))
            return false;
        start = i + 1;
    }
    return true;
}

bool bw_format_hostname(const char *s, size_t len)
{
    return hostname(s, len, true);
}

/* atext of RFC 5322, as RFC 5321's Atom uses it. */
static bool is_atext(char c)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Dot-string = Atom *("." Atom) */
static bool dot_string(const char *s, size_t len)
{
    size_t atom = 0;

    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (atom == 0)
                return false;
            atom = 0;
        } else if (is_atext(s[i])) {
            atom++;
        } else {
            return false;
        }
    }
    return atom > 0;
}

/* Quoted-string = DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE, printable ASCII only. */
static bool quoted_string(const char *s, size_t len)
{
    if (len < 2 || s[0] != '"' || s[len - 1] != '"')
        return false;
    for (size_t i = 1; i < len - 1; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') {
            i++;
            if (i >= len - 1 || (unsigned char)s[i] < 32 || (unsigned char)s[i] > 126)
                return false;
        } else if (c < 32 || c > 126 || c == '"') {
            return false;
        }
    }
    return true;
}

/* address-literal = "[" (IPv4-address-literal / IPv6-address-literal) "]" */
static bool address_literal(const char *s, size_t len)
{
    static const char tag[] = "ipv6:";
    const size_t taglen = sizeof tag - 1;

    if (len < 2 || s[0] != '[' || s[len - 1] != ']')
        return false;
    s++;
    len -= 2;
    if (len >= taglen && strncasecmp(s, tag, taglen) == 0)
        return bw_format_ipv6(s + taglen, len - taglen);
    return bw_format_ipv4(s, len);
}

bool bw_format_email(const char *s, size_t len)
{
    size_t at = len;

    /* The domain never contains '@', so the last one ends the local part (a quoted local part
     * may hold more). */
    while (at > 0 && s[at - 1] != '@')
        at--;
    if (at == 0)
        return false;
    at--;
    if (at == 0 || at > LOCAL_PART_MAX)
        return false;
    if (!(s[0] == '"' ? quoted_string(s, at) : dot_string(s, at)))
        return false;
    s += at + 1;
    len -= at + 1;
    if (len > 0 && s[0] == '[')
        return address_literal(s, len);
    return hostname(s, len, false);
}
