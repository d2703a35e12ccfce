/* Hex digits and UTF-8 well-formedness (RFC 3629). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bulwark/text.h"

#define V(s) bw_utf8_valid((const unsigned char *)(s), sizeof(s) - 1)

static void test_valid(void **state)
{
    (void)state;
    assert_true(V(""));
    assert_true(V("plain ascii"));
    assert_true(V("\xC2\x80"));         /* U+0080, smallest 2-byte */
    assert_true(V("\xDF\xBF"));         /* U+07FF */
    assert_true(V("\xE0\xA0\x80"));     /* U+0800, smallest 3-byte */
    assert_true(V("\xED\x9F\xBF"));     /* U+D7FF, just below surrogates */
    assert_true(V("\xEE\x80\x80"));     /* U+E000, just above */
    assert_true(V("\xF0\x90\x80\x80")); /* U+10000 */
    assert_true(V("\xF4\x8F\xBF\xBF")); /* U+10FFFF, the last */
}

static void test_invalid(void **state)
{
    (void)state;
    assert_false(V("\x80"));             /* lone continuation */
    assert_false(V("\xC0\xAE"));         /* overlong '.' */
    assert_false(V("\xC1\xBF"));         /* overlong */
    assert_false(V("\xE0\x80\xAF"));     /* overlong '/' */
    assert_false(V("\xED\xA0\x80"));     /* surrogate U+D800 */
    assert_false(V("\xED\xBF\xBF"));     /* surrogate U+DFFF */
    assert_false(V("\xF0\x80\x80\xAF")); /* overlong 4-byte */
    assert_false(V("\xF4\x90\x80\x80")); /* U+110000 */
    assert_false(V("\xF5\x80\x80\x80"));
    assert_false(V("\xFF"));
    assert_false(V("\xE2\x82")); /* truncated */
    assert_false(V("a\xC3"));    /* truncated at the end */
    assert_false(V("\xC3\x28")); /* bad continuation */
}

static void test_hex_digit(void **state)
{
    (void)state;
    assert_int_equal(bw_hex_digit('0'), 0);
    assert_int_equal(bw_hex_digit('9'), 9);
    assert_int_equal(bw_hex_digit('a'), 10);
    assert_int_equal(bw_hex_digit('F'), 15);
    assert_int_equal(bw_hex_digit('g'), -1);
    assert_int_equal(bw_hex_digit('/'), -1);
    assert_int_equal(bw_hex_digit(':'), -1);
    assert_int_equal(bw_hex_digit(0xC3), -1);
}

static void test_seq_len(void **state)
{
    (void)state;
    assert_int_equal(bw_utf8_seq_len((const unsigned char *)"a", 1), 1);
    assert_int_equal(bw_utf8_seq_len((const unsigned char *)"\xE2\x82\xAC", 3), 3);
    /* a length limit shorter than the sequence is a truncation */
    assert_int_equal(bw_utf8_seq_len((const unsigned char *)"\xE2\x82\xAC", 2), 0);
    assert_int_equal(bw_utf8_seq_len((const unsigned char *)"", 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_seq_len),
        cmocka_unit_test(test_hex_digit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
