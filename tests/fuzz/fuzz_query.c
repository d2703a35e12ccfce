/* Fuzzes bw_query_parse with random bytes as the query string. On success
 * every name and value must be NUL-terminated inside the arena's bounds, free
 * of control characters, valid UTF-8, and no longer than the input; the
 * count never exceeds the limit. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/query.h"
#include "bulwark/text.h"

#define MAX_BYTES 4096
#define MAX_PARAMS 32

static void check_text(const char *s, size_t input_len)
{
    size_t n = strnlen(s, input_len + 1), i;

    if (n > input_len)
        abort();
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            abort();
    }
    if (!bw_utf8_valid((const unsigned char *)s, n))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bw_arena *arena = bw_arena_new(4096, 1 << 20);
    char *copy;
    bw_query_kv *kv = NULL;
    size_t n = 0, i;

    if (arena == NULL)
        return 0;
    /* An exact-size copy: any read past the end is caught by ASan. */
    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        bw_arena_free(arena);
        return 0;
    }
    if (size)
        memcpy(copy, data, size);
    if (bw_query_parse(arena, copy, size, MAX_BYTES, MAX_PARAMS, &kv, &n) == BW_QUERY_OK) {
        if (n > MAX_PARAMS || size > MAX_BYTES)
            abort();
        for (i = 0; i < n; i++) {
            if (kv[i].name[0] == '\0')
                abort();
            check_text(kv[i].name, size);
            check_text(kv[i].value, size);
        }
    }
    free(copy);
    bw_arena_free(arena);
    return 0;
}
