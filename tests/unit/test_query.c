/* Query-string parsing: decoding once, bounds, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/query.h"

static bw_arena *arena;

static int setup(void **state)
{
    (void)state;
    arena = bw_arena_new(4096, 1 << 20);
    return arena == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    bw_arena_free(arena);
    return 0;
}

static bw_query_err parse(const char *qs, bw_query_kv **kv, size_t *n)
{
    return bw_query_parse(arena, qs, strlen(qs), 4096, 8, kv, n);
}

static void test_pairs_decoded(void **state)
{
    bw_query_kv *kv;
    size_t n;

    (void)state;
    assert_int_equal(parse("a=1&b=x%20y&c=p+q&flag&d=%C3%A9", &kv, &n), BW_QUERY_OK);
    assert_int_equal(n, 5);
    assert_string_equal(kv[0].name, "a");
    assert_string_equal(kv[0].value, "1");
    assert_string_equal(kv[1].value, "x y");
    assert_string_equal(kv[2].value, "p q");
    assert_string_equal(kv[3].name, "flag");
    assert_string_equal(kv[3].value, "");
    assert_string_equal(kv[4].value, "\xC3\xA9");
}

static void test_decoded_once(void **state)
{
    bw_query_kv *kv;
    size_t n;

    (void)state;
    assert_int_equal(parse("q=%2541", &kv, &n), BW_QUERY_OK);
    assert_string_equal(kv[0].value, "%41");
}

static void test_empty_pairs_skipped(void **state)
{
    bw_query_kv *kv;
    size_t n;

    (void)state;
    assert_int_equal(parse("&&a=1&&", &kv, &n), BW_QUERY_OK);
    assert_int_equal(n, 1);
    assert_int_equal(parse("", &kv, &n), BW_QUERY_OK);
    assert_int_equal(n, 0);
}

static void test_refusals(void **state)
{
    bw_query_kv *kv;
    size_t n;

    (void)state;
    assert_int_equal(parse("a=%", &kv, &n), BW_QUERY_BAD_PERCENT);
    assert_int_equal(parse("a=%4", &kv, &n), BW_QUERY_BAD_PERCENT);
    assert_int_equal(parse("a=%zz", &kv, &n), BW_QUERY_BAD_PERCENT);
    assert_int_equal(parse("a=%00", &kv, &n), BW_QUERY_CONTROL);
    assert_int_equal(parse("a=%0d%0a", &kv, &n), BW_QUERY_CONTROL);
    assert_int_equal(parse("a=%7f", &kv, &n), BW_QUERY_CONTROL);
    assert_int_equal(parse("a=\t", &kv, &n), BW_QUERY_CONTROL);
    assert_int_equal(parse("a=%C0%AE", &kv, &n), BW_QUERY_BAD_UTF8);
    assert_int_equal(parse("a=%ED%A0%80", &kv, &n), BW_QUERY_BAD_UTF8);
    assert_int_equal(parse("a=%E2%82", &kv, &n), BW_QUERY_BAD_UTF8);
    assert_int_equal(parse("=1", &kv, &n), BW_QUERY_EMPTY_NAME);
    assert_non_null(bw_query_strerror(BW_QUERY_BAD_UTF8));
}

static void test_bounds(void **state)
{
    bw_query_kv *kv;
    size_t n;
    char big[64];

    (void)state;
    /* exactly max_params is fine, one more is refused */
    assert_int_equal(parse("a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8", &kv, &n), BW_QUERY_OK);
    assert_int_equal(n, 8);
    assert_int_equal(parse("a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9", &kv, &n), BW_QUERY_TOO_MANY);
    memset(big, 'a', sizeof(big));
    assert_int_equal(bw_query_parse(arena, big, 32, 32, 8, &kv, &n), BW_QUERY_OK);
    assert_int_equal(bw_query_parse(arena, big, 33, 32, 8, &kv, &n), BW_QUERY_TOO_LONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs_decoded),
        cmocka_unit_test(test_decoded_once),
        cmocka_unit_test(test_empty_pairs_skipped),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
