/* Arena: alignment, the cap, overflow refusals, large allocations, reset reuse, and many
 * allocations staying distinct. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/arena.h"

static void assert_aligned(const void *p)
{
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
}

static void test_alignment(void **state)
{
    (void)state;
    bw_arena *a = bw_arena_new(256, 0);
    assert_non_null(a);
    /* Odd sizes must not push later pointers off alignment. */
    for (size_t size = 0; size < 100; size++) {
        unsigned char *p = bw_arena_alloc(a, size);
        assert_aligned(p);
        memset(p, 0xAB, size);
    }
    assert_aligned(bw_arena_alloc(a, 1000)); /* own chunk */
    assert_aligned(bw_arena_calloc(a, 3, 7));
    assert_aligned(bw_arena_strndup(a, "abc", 3));
    bw_arena_free(a);
}

static void test_zero_size_unique(void **state)
{
    (void)state;
    bw_arena *a = bw_arena_new(0, 0);
    assert_non_null(a);
    void *p = bw_arena_alloc(a, 0);
    void *q = bw_arena_alloc(a, 0);
    assert_non_null(p);
    assert_non_null(q);
    assert_ptr_not_equal(p, q);
    assert_int_equal(bw_arena_used(a), 32);
    bw_arena_free(a);
}

static void test_used_counts_padding(void **state)
{
    (void)state;
    bw_arena *a = bw_arena_new(128, 0);
    assert_int_equal(bw_arena_used(a), 0);
    assert_non_null(bw_arena_alloc(a, 1));
    assert_int_equal(bw_arena_used(a), 16);
    assert_non_null(bw_arena_alloc(a, 17));
    assert_int_equal(bw_arena_used(a), 48);
    assert_non_null(bw_arena_alloc(a, 500)); /* large: own chunk */
    assert_int_equal(bw_arena_used(a), 48 + 512);
    bw_arena_free(a);
}

static void test_cap(void **state)
{
    (void)state;
    bw_arena *a = bw_arena_new(64, 256);
    assert_non_null(a);
    size_t got = 0;
    while (bw_arena_alloc(a, 16) != NULL)
        got += 16;
    assert_int_equal(got, 256);
    assert_int_equal(bw_arena_used(a), 256);
    /* Still refused, whatever the size. */
    assert_null(bw_arena_alloc(a, 0));
    assert_null(bw_arena_alloc(a, 1000));
    bw_arena_free(a);

    /* A large allocation over the cap is refused, one that fits is not. */
    a = bw_arena_new(64, 256);
    assert_null(bw_arena_alloc(a, 257 - 64)); /* rounds to 208 > 256 - 64 */
    assert_non_null(bw_arena_alloc(a, 192));
    assert_non_null(bw_arena_alloc(a, 64)); /* the large chunk left the first one in use */
    assert_null(bw_arena_alloc(a, 1));
    bw_arena_free(a);

    /* A cap below the chunk size clamps the first chunk. */
    a = bw_arena_new(4096, 40);
    assert_non_null(a);
    assert_non_null(bw_arena_alloc(a, 32));
    assert_null(bw_arena_alloc(a, 16));
    bw_arena_free(a);
}

static void test_cap_partial_last_chunk(void **state)
{
    (void)state;
    /* 100 rounds down to 96 usable: the last chunk shrinks to what the cap allows. */
    bw_arena *a = bw_arena_new(64, 100);
    assert_non_null(bw_arena_alloc(a, 64));
    assert_non_null(bw_arena_alloc(a, 32));
    assert_null(bw_arena_alloc(a, 16));
    assert_int_equal(bw_arena_used(a), 96);
    bw_arena_free(a);
}

static void test_overflow(void **state)
{
    (void)state;
    bw_arena *a = bw_arena_new(0, 0);
    assert_null(bw_arena_alloc(a, SIZE_MAX));
    assert_null(bw_arena_alloc(a, SIZE_MAX - 8));
    assert_null(bw_arena_calloc(a, SIZE_MAX / 2, 3));
    assert_null(bw_arena_calloc(a, (SIZE_MAX >> 4) + 1, 16));
    assert_null(bw_arena_strndup(a, "x", SIZE_MAX));
    assert_int_equal(bw_arena_used(a), 0);
    /* The arena still works after refusals. */
    assert_non_null(bw_arena_alloc(a, 10));
    assert_null(bw_arena_new(SIZE_MAX, 0));
    bw_arena_free(a);
}

static void test_calloc_zeroes(void **state)
{
    (void)state;
    bw_arena *a = bw_arena_new(128, 0);
    /* Dirty the chunk, reset, then calloc over the same bytes. */
    unsigned char *d = bw_arena_alloc(a, 100);
    memset(d, 0xFF, 100);
    bw_arena_reset(a);
    unsigned char *z = bw_arena_calloc(a, 10, 10);
    assert_ptr_equal(z, d);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(z[i], 0);
    assert_non_null(bw_arena_calloc(a, 0, 5));
    assert_non_null(bw_arena_calloc(a, 5, 0));
    bw_arena_free(a);
}

static void test_strndup(void **state)
{
    (void)state;
    bw_arena *a = bw_arena_new(64, 0);
    const char src[] = {'a', '\0', 'b', 'c'};
    char *s = bw_arena_strndup(a, src, sizeof(src));
    assert_non_null(s);
    assert_memory_equal(s, src, sizeof(src));
    assert_int_equal(s[4], '\0');
    char *e = bw_arena_strndup(a, NULL, 0);
    assert_non_null(e);
    assert_string_equal(e, "");
    assert_null(bw_arena_strndup(a, NULL, 3));
    char *h = bw_arena_strndup(a, "hello world", 5);
    assert_string_equal(h, "hello");
    bw_arena_free(a);
}

static void test_reset_reuse(void **state)
{
    (void)state;
    bw_arena *a = bw_arena_new(128, 1024);
    void *first = bw_arena_alloc(a, 8);
    for (int round = 0; round < 50; round++) {
        /* Fill up to the cap each round: resets must give the memory back. */
        size_t n = 0;
        while (bw_arena_alloc(a, 48) != NULL)
            n++;
        /* 8 chunks of 128 (the cap) hold two 48s each; the first also holds the 8. */
        assert_int_equal(n, 16);
        bw_arena_reset(a);
        assert_int_equal(bw_arena_used(a), 0);
        /* The first chunk is kept: the first allocation lands where it did before. */
        void *again = bw_arena_alloc(a, 8);
        assert_ptr_equal(again, first);
    }
    bw_arena_free(a);
}

static void test_many_allocs(void **state)
{
    (void)state;
    enum { N = 20000 };
    bw_arena *a = bw_arena_new(1024, 0);
    unsigned char **ptrs = calloc(N, sizeof(*ptrs));
    assert_non_null(ptrs);
    for (size_t i = 0; i < N; i++) {
        size_t size = 1 + i % 300; /* some exceed chunk_size / 4, a few share chunks */
        if (i % 997 == 0)
            size = 5000; /* large: own chunk */
        ptrs[i] = bw_arena_alloc(a, size);
        assert_aligned(ptrs[i]);
        memset(ptrs[i], (int)(i & 0xFF), size);
    }
    /* No allocation overlapped another: every one still holds its own pattern. */
    for (size_t i = 0; i < N; i++) {
        size_t size = i % 997 == 0 ? 5000 : 1 + i % 300;
        for (size_t k = 0; k < size; k++) {
            if (ptrs[i][k] != (unsigned char)(i & 0xFF))
                fail_msg("allocation %zu byte %zu overwritten", i, k);
        }
    }
    free(ptrs);
    bw_arena_free(a);
}

static void test_null_arena(void **state)
{
    (void)state;
    assert_null(bw_arena_alloc(NULL, 1));
    assert_null(bw_arena_calloc(NULL, 1, 1));
    assert_null(bw_arena_strndup(NULL, "a", 1));
    assert_int_equal(bw_arena_used(NULL), 0);
    bw_arena_reset(NULL);
    bw_arena_free(NULL);
}

/* A reset wipes what was handed out: the kept first chunk hands the same bytes out again,
 * and they must no longer hold the old contents (a request's password, say). */
static void test_reset_wipes(void **state)
{
    (void)state;
    bw_arena *a = bw_arena_new(4096, 1 << 20);
    assert_non_null(a);
    char *p = bw_arena_alloc(a, 64);
    assert_non_null(p);
    memset(p, 'S', 64);
    bw_arena_reset(a);
    unsigned char *q = bw_arena_alloc(a, 64);
    assert_ptr_equal(q, p);
    for (size_t i = 0; i < 64; i++)
        assert_int_equal(q[i], 0);
    bw_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_zero_size_unique),
        cmocka_unit_test(test_used_counts_padding),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_cap_partial_last_chunk),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_calloc_zeroes),
        cmocka_unit_test(test_strndup),
        cmocka_unit_test(test_reset_reuse),
        cmocka_unit_test(test_reset_wipes),
        cmocka_unit_test(test_many_allocs),
        cmocka_unit_test(test_null_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
