#include <string.h>

#include "bulwark/query.h"
#include "bulwark/text.h"

/* Decodes one name or value into the arena. */
static bw_query_err decode(bw_arena *arena, const char *p, size_t len, const char **out)
{
    char *buf = bw_arena_alloc(arena, len + 1);
    size_t i, o = 0;

    if (buf == NULL)
        return BW_QUERY_NOMEM;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '%') {
            int hi, lo;
            if (len - i < 3)
                return BW_QUERY_BAD_PERCENT;
            hi = bw_hex_digit((unsigned char)p[i + 1]);
            lo = bw_hex_digit((unsigned char)p[i + 2]);
            if (hi < 0 || lo < 0)
                return BW_QUERY_BAD_PERCENT;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c < 0x20 || c == 0x7F)
            return BW_QUERY_CONTROL;
        buf[o++] = (char)c;
    }
    buf[o] = '\0';
    if (!bw_utf8_valid((const unsigned char *)buf, o))
        return BW_QUERY_BAD_UTF8;
    *out = buf;
    return BW_QUERY_OK;
}

bw_query_err bw_query_parse(bw_arena *arena, const char *qs, size_t len, size_t max_bytes,
                            size_t max_params, bw_query_kv **out, size_t *n)
{
    size_t i, start, count = 0, pairs = 1;
    bw_query_kv *kv;

    *out = NULL;
    *n = 0;
    if (len > max_bytes)
        return BW_QUERY_TOO_LONG;
    if (len == 0)
        return BW_QUERY_OK;
    for (i = 0; i < len; i++) {
        if (qs[i] == '&')
            pairs++;
    }
    kv = bw_arena_calloc(arena, pairs, sizeof(*kv));
    if (kv == NULL)
        return BW_QUERY_NOMEM;
    for (start = 0; start <= len; start = i + 1) {
        const char *pair = qs + start;
        const char *eq;
        size_t plen;
        bw_query_err e;

        for (i = start; i < len && qs[i] != '&'; i++)
            ;
        plen = i - start;
        if (plen == 0)
            continue;
        if (count == max_params)
            return BW_QUERY_TOO_MANY;
        eq = memchr(pair, '=', plen);
        if (eq == pair)
            return BW_QUERY_EMPTY_NAME;
        if (eq == NULL) {
            e = decode(arena, pair, plen, &kv[count].name);
            if (e == BW_QUERY_OK)
                kv[count].value = "";
        } else {
            size_t nlen = (size_t)(eq - pair);
            e = decode(arena, pair, nlen, &kv[count].name);
            if (e == BW_QUERY_OK)
                e = decode(arena, eq + 1, plen - nlen - 1, &kv[count].value);
        }
        if (e != BW_QUERY_OK)
            return e;
        count++;
    }
    *out = kv;
    *n = count;
    return BW_QUERY_OK;
}

const char *bw_query_strerror(bw_query_err e)
{
    switch (e) {
    case BW_QUERY_OK:
        return "ok";
    case BW_QUERY_TOO_LONG:
        return "The query string is too long.";
    case BW_QUERY_TOO_MANY:
        return "The query string has too many parameters.";
    case BW_QUERY_BAD_PERCENT:
        return "The query string has a malformed percent-encoding.";
    case BW_QUERY_CONTROL:
        return "The query string contains control characters.";
    case BW_QUERY_BAD_UTF8:
        return "The query string is not valid UTF-8.";
    case BW_QUERY_EMPTY_NAME:
        return "A query parameter has an empty name.";
    case BW_QUERY_NOMEM:
        return "The request is too large.";
    }
    return "The query string is invalid.";
}
