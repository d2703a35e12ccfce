/* Path canonicalisation: the raw request-target path (before '?', undecoded, as CivetWeb hands it
 * over) becomes the one canonical path that every later stage (router, limits, audit) sees. The
 * canonical form is percent-decoded exactly once and contains no ambiguity an attacker could use
 * to make two stages disagree about which resource is meant. */
#ifndef BULWARK_PATH_H
#define BULWARK_PATH_H

#include <stddef.h>

#define BW_PATH_DEFAULT_MAX_BYTES 2048
#define BW_PATH_DEFAULT_MAX_SEGMENTS 32

typedef struct bw_path_limits {
    size_t max_bytes;    /* raw length limit; 0 means BW_PATH_DEFAULT_MAX_BYTES */
    size_t max_segments; /* segment count limit; 0 means BW_PATH_DEFAULT_MAX_SEGMENTS */
} bw_path_limits;

typedef enum bw_path_err {
    BW_PATH_OK = 0,
    BW_PATH_EMPTY,
    BW_PATH_NOT_ABSOLUTE,
    BW_PATH_TOO_LONG,
    BW_PATH_TOO_MANY_SEGMENTS,
    BW_PATH_BAD_PERCENT,
    BW_PATH_ENCODED_SLASH, /* %2F or %5C */
    BW_PATH_BACKSLASH,
    BW_PATH_NUL,
    BW_PATH_CONTROL,
    BW_PATH_BAD_UTF8,
    BW_PATH_DOT_SEGMENT,  /* "." or ".." after decoding */
    BW_PATH_EMPTY_SEGMENT /* "//", or a trailing slash after a segment */
} bw_path_err;

/* Canonicalises raw[0..len) into out. Decodes percent-escapes once; refuses malformed escapes,
 * encoded '/' or '\', raw '\', NUL and other control bytes (raw or encoded), invalid UTF-8 after
 * decoding, "." and ".." segments, empty segments (so "/a/" and "//" are refused; "/" alone is
 * fine), a path not starting with '/', len > lim->max_bytes and more than lim->max_segments
 * segments. lim may be NULL for the defaults. out must hold len + 1 bytes (else
 * BW_PATH_TOO_LONG); on success it holds the NUL-terminated canonical path and *outlen its length.
 * On error out is "" and *outlen 0. outlen may be NULL. Allocates nothing. */
bw_path_err bw_path_canonicalize(const char *raw, size_t len, const bw_path_limits *lim, char *out,
                                 size_t outcap, size_t *outlen);

/* Returns a short, static English description of e, safe to put in a 400 problem detail (it never
 * echoes input). */
const char *bw_path_strerror(bw_path_err e);

#endif
