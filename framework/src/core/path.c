/* Path canonicalisation: one pass over the raw bytes, decoding while checking, so there is never
 * a second decode that could turn "%252e" into "." behind a check's back. */
#include "bulwark/path.h"
#include "bulwark/text.h"

/* Checks one decoded segment; a segment never spans a '/', so a multi-byte sequence cut by the
 * end of the segment is truncated. */
static bw_path_err check_segment(const unsigned char *seg, size_t n)
{
    if (n == 0)
        return BW_PATH_EMPTY_SEGMENT;
    if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
        return BW_PATH_DOT_SEGMENT;
    return bw_utf8_valid(seg, n) ? BW_PATH_OK : BW_PATH_BAD_UTF8;
}

bw_path_err bw_path_canonicalize(const char *raw, size_t len, const bw_path_limits *lim, char *out,
                                 size_t outcap, size_t *outlen)
{
    const unsigned char *in = (const unsigned char *)raw;
    unsigned char *dst = (unsigned char *)out;
    size_t max_bytes = BW_PATH_DEFAULT_MAX_BYTES;
    size_t max_segments = BW_PATH_DEFAULT_MAX_SEGMENTS;
    size_t o = 0, seg_start = 0, nseg = 0;
    bw_path_err err;

    if (lim != NULL) {
        if (lim->max_bytes != 0)
            max_bytes = lim->max_bytes;
        if (lim->max_segments != 0)
            max_segments = lim->max_segments;
    }
    if (outlen != NULL)
        *outlen = 0;
    if (out != NULL && outcap > 0)
        out[0] = '\0';
    if (raw == NULL || len == 0)
        return BW_PATH_EMPTY;
    if (len > max_bytes)
        return BW_PATH_TOO_LONG;
    /* outcap <= len rather than outcap < len + 1: no overflow at SIZE_MAX. */
    if (out == NULL || outcap <= len)
        return BW_PATH_TOO_LONG;
    if (in[0] != '/')
        return BW_PATH_NOT_ABSOLUTE;
    if (len == 1) {
        out[0] = '/';
        out[1] = '\0';
        if (outlen != NULL)
            *outlen = 1;
        return BW_PATH_OK;
    }

    /* Invariant: o <= i < len < outcap, so every write below is in bounds. */
    for (size_t i = 0; i < len;) {
        unsigned char c = in[i];

        if (c == '/') {
            if (i > 0) {
                err = check_segment(dst + seg_start, o - seg_start);
                if (err != BW_PATH_OK)
                    goto fail;
            }
            if (++nseg > max_segments) {
                err = BW_PATH_TOO_MANY_SEGMENTS;
                goto fail;
            }
            dst[o++] = '/';
            seg_start = o;
            i++;
            continue;
        }
        if (c == '%') {
            int hi, lo;
            if (len - i < 3) {
                err = BW_PATH_BAD_PERCENT;
                goto fail;
            }
            hi = bw_hex_digit(in[i + 1]);
            lo = bw_hex_digit(in[i + 2]);
            if (hi < 0 || lo < 0) {
                err = BW_PATH_BAD_PERCENT;
                goto fail;
            }
            c = (unsigned char)(hi * 16 + lo);
            if (c == '/' || c == '\\') {
                err = BW_PATH_ENCODED_SLASH;
                goto fail;
            }
            i += 3;
        } else {
            if (c == '\\') {
                err = BW_PATH_BACKSLASH;
                goto fail;
            }
            i++;
        }
        if (c == 0) {
            err = BW_PATH_NUL;
            goto fail;
        }
        if (c < 0x20 || c == 0x7F) {
            err = BW_PATH_CONTROL;
            goto fail;
        }
        dst[o++] = c;
    }
    /* The last segment; for "/a/" it is empty and refused. */
    err = check_segment(dst + seg_start, o - seg_start);
    if (err != BW_PATH_OK)
        goto fail;
    dst[o] = '\0';
    if (outlen != NULL)
        *outlen = o;
    return BW_PATH_OK;

fail:
    out[0] = '\0';
    return err;
}

const char *bw_path_strerror(bw_path_err e)
{
    switch (e) {
    case BW_PATH_OK:
        return "ok";
    case BW_PATH_EMPTY:
        return "the path is empty";
    case BW_PATH_NOT_ABSOLUTE:
        return "the path must begin with '/'";
    case BW_PATH_TOO_LONG:
        return "the path is too long";
    case BW_PATH_TOO_MANY_SEGMENTS:
        return "the path has too many segments";
    case BW_PATH_BAD_PERCENT:
        return "the path has a malformed percent-escape";
    case BW_PATH_ENCODED_SLASH:
        return "the path has an encoded slash or backslash";
    case BW_PATH_BACKSLASH:
        return "the path has a backslash";
    case BW_PATH_NUL:
        return "the path has a NUL byte";
    case BW_PATH_CONTROL:
        return "the path has a control character";
    case BW_PATH_BAD_UTF8:
        return "the path is not valid UTF-8";
    case BW_PATH_DOT_SEGMENT:
        return "the path has a '.' or '..' segment";
    case BW_PATH_EMPTY_SEGMENT:
        return "the path has an empty segment";
    }
    return "the path is invalid";
}
