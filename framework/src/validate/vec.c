/* Growing arrays and pointer hashing for the validator's tables. */
#include <stdint.h>
#include <stdlib.h>

#include "schema_internal.h"

int bw_vec_grow(void **arr, size_t *cap, size_t n, size_t sz, size_t first)
{
    size_t nc;
    void *p;

    if (n < *cap)
        return 0;
    nc = *cap != 0 ? *cap * 2 : first;
    if (nc < *cap || nc > SIZE_MAX / sz)
        return -1;
    p = realloc(*arr, nc * sz);
    if (p == NULL)
        return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

size_t bw_ptr_hash(const void *p, size_t cap)
{
    uintptr_t x = (uintptr_t)p;

    x ^= x >> 17;
    x *= (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 7) & (cap - 1);
}
