/* Query-string parsing: decoded once, bounded, text only. */
#ifndef BULWARK_QUERY_H
#define BULWARK_QUERY_H

#include <stddef.h>

#include "bulwark/arena.h"

typedef struct bw_query_kv {
    const char *name;  /* decoded, NUL-terminated, in the arena */
    const char *value; /* decoded ("" when the pair has no '=') */
} bw_query_kv;

typedef enum bw_query_err {
    BW_QUERY_OK = 0,
    BW_QUERY_TOO_LONG,
    BW_QUERY_TOO_MANY,
    BW_QUERY_BAD_PERCENT,
    BW_QUERY_CONTROL,
    BW_QUERY_BAD_UTF8,
    BW_QUERY_EMPTY_NAME,
    BW_QUERY_NOMEM
} bw_query_err;

/* Parses `qs` (the text after '?', without it) into name/value pairs:
 * '&'-separated, '+' means space, %XX decoded exactly once. Refuses a
 * string longer than max_bytes, more than max_params pairs, a malformed
 * escape, control characters (raw or encoded) and invalid UTF-8. Empty
 * pairs ("a=1&&b=2") are skipped. The array and strings are allocated from
 * `arena`; nothing needs freeing by the caller. */
bw_query_err bw_query_parse(bw_arena *arena, const char *qs, size_t len, size_t max_bytes,
                            size_t max_params, bw_query_kv **out, size_t *n);

/* A short public English text for a 400 problem detail. */
const char *bw_query_strerror(bw_query_err e);

#endif
