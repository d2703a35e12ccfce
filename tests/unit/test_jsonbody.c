/* Strict request-body parsing: every refusal class, and the limits exactly at and past the edge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/jsonbody.h"

static const char *parse(const char *s, size_t depth)
{
    const char *why = NULL;
    json_t *v = bw_json_body_parse(s, strlen(s), depth, &why);
    if (v != NULL) {
        json_decref(v);
        return NULL;
    }
    assert_non_null(why);
    return why;
}

static void test_accepts(void **state)
{
    (void)state;
    assert_null(parse("{\"title\":\"x\",\"body\":\"\\u00e9\"}", 64));
    assert_null(parse("[1, 2.5, true, null, \"s\"]", 64));
    assert_null(parse("9007199254740992", 64));
    assert_null(parse("-9007199254740992", 64));
    assert_null(parse("1e308", 64));
    assert_null(parse("\"just a string\"", 64));
}

static void test_refusals(void **state)
{
    (void)state;
    assert_string_equal(parse("{\"a\":1,\"a\":2}", 64),
                        "The request body has a duplicate object key.");
    assert_string_equal(parse("{\"a\":{\"b\":1,\"b\":1}}", 64),
                        "The request body has a duplicate object key.");
    assert_string_equal(parse("\"a\\u0000b\"", 64), "The request body is not valid JSON.");
    assert_string_equal(parse("\"\xC0\xAE\"", 64), "The request body is not valid JSON.");
    assert_string_equal(parse("\"\xED\xA0\x80\"", 64), "The request body is not valid JSON.");
    assert_string_equal(parse("1e400", 64), "The request body is not valid JSON.");
    assert_string_equal(parse("99999999999999999999999", 64),
                        "The request body is not valid JSON.");
    assert_string_equal(parse("9007199254740993", 64),
                        "The request body has an integer beyond 2^53.");
    assert_string_equal(parse("[1, {\"x\": -9007199254740993}]", 64),
                        "The request body has an integer beyond 2^53.");
    assert_string_equal(parse("{} {}", 64), "The request body is not valid JSON.");
    assert_string_equal(parse("", 64), "The request body is not valid JSON.");
    assert_string_equal(parse("{\"a\":1,}", 64), "The request body is not valid JSON.");
}

/* n nested arrays around a 1. */
static char *nested(size_t n)
{
    char *s = malloc(2 * n + 2);
    assert_non_null(s);
    memset(s, '[', n);
    s[n] = '1';
    memset(s + n + 1, ']', n);
    s[2 * n + 1] = '\0';
    return s;
}

static void test_depth(void **state)
{
    (void)state;
    char *ok = nested(64), *deep = nested(65), *very = nested(1000);
    assert_null(parse(ok, 64));
    assert_string_equal(parse(deep, 64), "The request body is nested too deeply.");
    assert_string_equal(parse(very, 64), "The request body is nested too deeply.");
    assert_null(parse(deep, 65));
    /* objects count like arrays */
    assert_null(parse("{\"a\":{\"b\":{}}}", 3));
    assert_string_equal(parse("{\"a\":{\"b\":{}}}", 2), "The request body is nested too deeply.");
    /* scalars are not containers */
    assert_null(parse("{\"a\":1}", 1));
    free(ok);
    free(deep);
    free(very);
}

static void test_no_echo(void **state)
{
    (void)state;
    const char *why = parse("{\"secret-token-123\":1,\"secret-token-123\":2}", 64);
    assert_null(strstr(why, "secret"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_no_echo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
