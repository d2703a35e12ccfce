/* IDNA2008 A-label validation for the hostname format: our own RFC 3492 Punycode decoder, the
 * RFC 5891 hyphen rules and the RFC 5892 CONTEXTO rules here; the derived code point tables
 * (PVALID / DISALLOWED / UNASSIGNED), CONTEXTJ, leading combining marks and Bidi via libidn2. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

#include "format_internal.h"

#define LABEL_MAX 63

/* RFC 3492 section 5 parameters. */
enum { BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700, INITIAL_BIAS = 72, INITIAL_N = 128 };

static uint32_t adapt(uint32_t delta, uint32_t numpoints, bool first)
{
    uint32_t k = 0;

    delta = first ? delta / DAMP : delta / 2;
    delta += delta / numpoints;
    while (delta > ((BASE - TMIN) * TMAX) / 2) {
        delta /= BASE - TMIN;
        k += BASE;
    }
    return k + (BASE - TMIN + 1) * delta / (delta + SKEW);
}

static int digit_value(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= '0' && c <= '9')
        return c - '0' + 26;
    return -1;
}

/* Decodes the Punycode in p[0..len) into out (capacity cap code points). Every arithmetic step
 * is checked against overflow, so hostile input fails instead of wrapping. */
static bool punycode_decode(const char *p, size_t len, uint32_t *out, size_t cap, size_t *outlen)
{
    uint32_t n = INITIAL_N, bias = INITIAL_BIAS, i = 0;
    size_t basic = 0, count = 0, in;

    for (size_t j = 0; j < len; j++)
        if (p[j] == '-')
            basic = j;
    if (basic > cap)
        return false;
    for (size_t j = 0; j < basic; j++) {
        if ((unsigned char)p[j] >= 0x80)
            return false;
        out[count++] = (unsigned char)p[j];
    }
    in = basic > 0 ? basic + 1 : 0;
    while (in < len) {
        uint32_t oldi = i, w = 1;

        for (uint32_t k = BASE;; k += BASE) {
            int d;
            uint32_t t;

            if (in >= len)
                return false;
            d = digit_value(p[in++]);
            if (d < 0 || (uint32_t)d > (UINT32_MAX - i) / w)
                return false;
            i += (uint32_t)d * w;
            t = k <= bias ? TMIN : (k >= bias + TMAX ? TMAX : k - bias);
            if ((uint32_t)d < t)
                break;
            if (w > UINT32_MAX / (BASE - t))
                return false;
            w *= BASE - t;
        }
        if (count >= cap)
            return false;
        bias = adapt(i - oldi, (uint32_t)count + 1, oldi == 0);
        if (i / (count + 1) > 0x10FFFF - n)
            return false;
        n += i / (uint32_t)(count + 1);
        i %= (uint32_t)(count + 1);
        if (n < 0x80 || (n >= 0xD800 && n <= 0xDFFF))
            return false;
        memmove(out + i + 1, out + i, (count - i) * sizeof *out);
        out[i++] = n;
        count++;
    }
    *outlen = count;
    return true;
}

/* Script tests for the CONTEXTO rules: the blocks that hold the script's letters. */
static bool is_greek(uint32_t c)
{
    return (c >= 0x0370 && c <= 0x03FF && c != 0x0375 && c != 0x037E && c != 0x0385 &&
            c != 0x0387) ||
           (c >= 0x1F00 && c <= 0x1FFF);
}

static bool is_hebrew(uint32_t c)
{
    return (c >= 0x0591 && c <= 0x05F4) || (c >= 0xFB1D && c <= 0xFB4F);
}

static bool is_kana_or_han(uint32_t c)
{
    return (c >= 0x3040 && c <= 0x30FF && c != 0x30FB && c != 0x30A0) ||
           (c >= 0x31F0 && c <= 0x31FF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0xFF66 && c <= 0xFF9D) || (c >= 0x20000 && c <= 0x3134F) || c == 0x3005 ||
           c == 0x3007 || (c >= 0x3021 && c <= 0x3029) || (c >= 0x3038 && c <= 0x303B);
}

/* RFC 5892 appendix A rules for the CONTEXTO code points the label holds. */
static bool contexto_ok(const uint32_t *cp, size_t n)
{
    bool arabic = false, extended = false, kana = false, katakana_dot = false;

    for (size_t i = 0; i < n; i++) {
        uint32_t c = cp[i];

        if (c == 0x00B7 && (i == 0 || i + 1 == n || cp[i - 1] != 'l' || cp[i + 1] != 'l'))
            return false;
        if (c == 0x0375 && (i + 1 == n || !is_greek(cp[i + 1])))
            return false;
        if ((c == 0x05F3 || c == 0x05F4) && (i == 0 || !is_hebrew(cp[i - 1])))
            return false;
        arabic |= c >= 0x0660 && c <= 0x0669;
        extended |= c >= 0x06F0 && c <= 0x06F9;
        kana |= is_kana_or_han(c);
        katakana_dot |= c == 0x30FB;
    }
    return !(arabic && extended) && (!katakana_dot || kana);
}

bool bw_format_alabel(const char *s, size_t len)
{
    uint32_t cp[LABEL_MAX];
    size_t n = 0;
    char label[LABEL_MAX + 1];
    uint8_t *lookup = NULL;
    bool non_ascii = false;
    int rc;

    if (len < 5 || len > LABEL_MAX)
        return false;
    if (!punycode_decode(s + 4, len - 4, cp, LABEL_MAX, &n) || n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        non_ascii |= cp[i] >= 0x80;
    /* RFC 5891 4.2.3.1: no "--" in positions 3 and 4, no leading or trailing hyphen. */
    if (!non_ascii || cp[0] == '-' || cp[n - 1] == '-' || (n >= 4 && cp[2] == '-' && cp[3] == '-'))
        return false;
    if (!contexto_ok(cp, n))
        return false;
    /* libidn2 only recognises the lower-case prefix; the rest is passed through unchanged. */
    memcpy(label, "xn--", 4);
    memcpy(label + 4, s + 4, len - 4);
    label[len] = '\0';
    rc = idn2_lookup_u8((const uint8_t *)label, &lookup, IDN2_NO_TR46);
    free(lookup);
    return rc == IDN2_OK;
}
