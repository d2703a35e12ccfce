/* Constant-time comparison of secrets. The variable-length form never
 * branches on, nor indexes by a secret-dependent amount of work: both inputs
 * are copied into zero-padded blocks of `max` bytes with masked selects. */
#include <stdint.h>

#include <sodium.h>

#include "bulwark/ct.h"

#define WORD_BITS (sizeof(size_t) * 8u)

/* Keeps the compiler from reasoning about a mask's value and turning the
 * selects that use it back into branches. */
static size_t opaque(size_t m)
{
    __asm__("" : "+r"(m));
    return m;
}

/* All ones when x < y, else 0 (Hacker's Delight 2-12, unsigned). */
static size_t mask_lt(size_t x, size_t y)
{
    size_t lt = ((~x & y) | ((~x | y) & (x - y))) >> (WORD_BITS - 1u);
    return opaque((size_t)0 - lt);
}

/* All ones when x == 0, else 0. */
static size_t mask_zero(size_t x)
{
    size_t nz = (x | ((size_t)0 - x)) >> (WORD_BITS - 1u);
    return opaque(nz - 1u);
}

bool bw_ct_eq(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}

/* Writes src[0..len) into blk[0..work) followed by zeros, reading src only
 * inside its first min(len, work) bytes. When len is 0, src may be NULL and
 * the reads go to a static zero byte instead; the pointer is chosen by mask,
 * not by a branch. */
static void fill_block(unsigned char *blk, size_t work, const unsigned char *src, size_t len)
{
    static const unsigned char zero = 0;
    size_t some = ~mask_zero(len);
    const unsigned char *from = (const unsigned char *)(((uintptr_t)src & (uintptr_t)some) |
                                                        ((uintptr_t)&zero & ~(uintptr_t)some));

    for (size_t i = 0; i < work; i++) {
        size_t in = mask_lt(i, len);
        /* Past the end, read byte 0 again (always in bounds) and mask it out. */
        blk[i] = (unsigned char)(from[i & in] & (unsigned char)in);
    }
}

bool bw_ct_eq_var(const void *a, size_t alen, const void *b, size_t blen, size_t max)
{
    unsigned char blk[2][BW_CT_MAX];
    /* max is public: an invalid one still does the work of the largest. */
    size_t work = max > BW_CT_MAX ? BW_CT_MAX : max;
    size_t ok;

    fill_block(blk[0], work, a, alen);
    fill_block(blk[1], work, b, blen);
    ok = mask_zero((size_t)(unsigned int)sodium_memcmp(blk[0], blk[1], work));
    ok &= mask_zero(alen ^ blen);
    ok &= ~mask_lt(max, alen) & ~mask_lt(max, blen);
    ok &= ~mask_zero(max) & ~mask_lt(BW_CT_MAX, max);
    sodium_memzero(blk[0], work);
    sodium_memzero(blk[1], work);
    return ok != 0;
}
