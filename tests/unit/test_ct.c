/* Unit tests for constant-time comparison (bw_ct_eq, bw_ct_eq_var). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/ct.h"

static void test_eq_fixed(void **state)
{
    unsigned char a[64], b[64];

    (void)state;
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = b[i] = (unsigned char)(i * 7u + 3u);
    assert_true(bw_ct_eq(a, b, sizeof a));
    b[0] ^= 1;
    assert_false(bw_ct_eq(a, b, sizeof a));
    b[0] ^= 1;
    b[sizeof b - 1] ^= 0x80;
    assert_false(bw_ct_eq(a, b, sizeof a));
    /* Only the first len bytes count. */
    assert_true(bw_ct_eq(a, b, sizeof a - 1));
    assert_true(bw_ct_eq(a, b, 0));
    assert_true(bw_ct_eq(NULL, NULL, 0));
}

static void test_eq_var_equal(void **state)
{
    (void)state;
    assert_true(bw_ct_eq_var("secret", 6, "secret", 6, 64));
    assert_true(bw_ct_eq_var("secret", 6, "secret", 6, 6)); /* len == max */
    assert_true(bw_ct_eq_var("x", 1, "x", 1, 1));
    /* Empty against empty, with or without a pointer. */
    assert_true(bw_ct_eq_var("", 0, "", 0, 16));
    assert_true(bw_ct_eq_var(NULL, 0, NULL, 0, 16));
    assert_true(bw_ct_eq_var(NULL, 0, "abc", 0, 16));
}

static void test_eq_var_differ(void **state)
{
    (void)state;
    assert_false(bw_ct_eq_var("secret", 6, "Secret", 6, 64)); /* first byte */
    assert_false(bw_ct_eq_var("secret", 6, "secreT", 6, 64)); /* last byte */
    assert_false(bw_ct_eq_var("secret", 6, "secret", 5, 64)); /* prefix */
    assert_false(bw_ct_eq_var("secre", 5, "secret", 6, 64));
    assert_false(bw_ct_eq_var("", 0, "a", 1, 64));
    assert_false(bw_ct_eq_var("a", 1, NULL, 0, 64));
    /* Zero padding must not make a trailing NUL invisible. */
    assert_false(bw_ct_eq_var("ab\0", 3, "ab", 2, 64));
    assert_false(bw_ct_eq_var("\0", 1, "", 0, 64));
}

static void test_eq_var_max(void **state)
{
    unsigned char *a = malloc(BW_CT_MAX + 1), *b = malloc(BW_CT_MAX + 1);

    (void)state;
    assert_non_null(a);
    assert_non_null(b);
    for (size_t i = 0; i <= BW_CT_MAX; i++)
        a[i] = b[i] = (unsigned char)(i % 251u);
    assert_true(bw_ct_eq_var(a, BW_CT_MAX, b, BW_CT_MAX, BW_CT_MAX));
    b[BW_CT_MAX - 1] ^= 1;
    assert_false(bw_ct_eq_var(a, BW_CT_MAX, b, BW_CT_MAX, BW_CT_MAX));
    b[BW_CT_MAX - 1] ^= 1;
    /* Lengths above max are false, even when the inputs are equal. */
    assert_false(bw_ct_eq_var(a, 7, b, 7, 6));
    assert_false(bw_ct_eq_var(a, 7, b, 6, 6));
    assert_false(bw_ct_eq_var(a, 6, b, 7, 6));
    assert_false(bw_ct_eq_var(a, BW_CT_MAX + 1, b, BW_CT_MAX + 1, BW_CT_MAX));
    assert_false(bw_ct_eq_var(a, SIZE_MAX, b, SIZE_MAX, 16)); /* only 16 bytes read */
    /* max itself out of range: 0, or above BW_CT_MAX. */
    assert_false(bw_ct_eq_var(a, 0, b, 0, 0));
    assert_false(bw_ct_eq_var(a, 4, b, 4, BW_CT_MAX + 1));
    assert_false(bw_ct_eq_var(a, 4, b, 4, SIZE_MAX));
    free(a);
    free(b);
}

/* Every length pair in a small range, against a reference comparison. */
static void test_eq_var_exhaustive_small(void **state)
{
    const unsigned char a[] = "abcdefgh", b[] = "abcdefgX";

    (void)state;
    for (size_t max = 1; max <= 9; max++) {
        for (size_t al = 0; al <= 8; al++) {
            for (size_t bl = 0; bl <= 8; bl++) {
                bool same = al == bl && al <= max && (al < 8 || a[7] == b[7]);
                assert_int_equal(bw_ct_eq_var(a, al, b, bl, max), same);
                assert_int_equal(bw_ct_eq_var(a, al, a, bl, max), al == bl && al <= max);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eq_fixed),
        cmocka_unit_test(test_eq_var_equal),
        cmocka_unit_test(test_eq_var_differ),
        cmocka_unit_test(test_eq_var_max),
        cmocka_unit_test(test_eq_var_exhaustive_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
