/* Fuzzes bw_path_canonicalize with random bytes as the raw path. On success the output must be
 * canonical: starts with '/', no empty, "." or ".." segment, no control byte, valid UTF-8, and a
 * fixpoint (canonicalising it again changes nothing) unless it holds a '%' from a decoded "%25". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/path.h"

#define FUZZ_MAX_BYTES 4096

static int valid_utf8(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = p[i];
        size_t need;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            need = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            need = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            need = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i < need)
            return 0;
        for (size_t k = 1; k < need; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        /* Decoded independently of the implementation: overlong, surrogate, out of range. */
        if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000))
            return 0;
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return 0;
        i += need;
    }
    return 1;
}

static void check_canonical(const char *out, size_t len)
{
    const unsigned char *u = (const unsigned char *)out;

    if (len == 0 || out[0] != '/' || out[len] != '\0' || memchr(out, '\0', len) != NULL)
        abort();
    if (!valid_utf8(u, len))
        abort();
    for (size_t i = 0; i < len; i++) {
        if (u[i] < 0x20 || u[i] == 0x7F || u[i] == '\\')
            abort();
    }
    if (len == 1)
        return;
    /* Every segment non-empty and not a dot segment. */
    for (size_t i = 0; i < len;) {
        size_t start = i + 1, end = start;
        while (end < len && out[end] != '/')
            end++;
        if (end == start)
            abort();
        if (end - start == 1 && out[start] == '.')
            abort();
        if (end - start == 2 && out[start] == '.' && out[start + 1] == '.')
            abort();
        i = end;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[FUZZ_MAX_BYTES + 1];
    bw_path_limits lim = {FUZZ_MAX_BYTES, 64};
    size_t outlen = 0, againlen = 0;
    bw_path_err e;

    e = bw_path_canonicalize((const char *)data, size, &lim, out, sizeof out, &outlen);
    if (bw_path_strerror(e) == NULL)
        abort();
    if (e != BW_PATH_OK) {
        if (outlen != 0 || out[0] != '\0')
            abort();
        return 0;
    }
    if (outlen > size)
        abort();
    check_canonical(out, outlen);
    if (memchr(out, '%', outlen) == NULL) {
        static char again[FUZZ_MAX_BYTES + 1];
        e = bw_path_canonicalize(out, outlen, &lim, again, sizeof again, &againlen);
        if (e != BW_PATH_OK || againlen != outlen || memcmp(out, again, outlen) != 0)
            abort();
    }
    return 0;
}
