/* The secure-schema lint: every rule refuses with the right pointer, the sample app's schemas
 * pass, and the explicit opt-out works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/schemalint.h"

static char err[2048];

static int lint(const char *text)
{
    json_error_t je;
    json_t *s = json_loads(text, JSON_DECODE_ANY, &je);
    if (s == NULL)
        fail_msg("bad test schema: %s", je.text);
    err[0] = '\0';
    int rc = bw_schema_lint(s, "t.json", err, sizeof(err));
    json_decref(s);
    return rc;
}

static void expect(const char *schema, const char *message)
{
    if (lint(schema) != -1 || strcmp(err, message) != 0)
        fail_msg("%s\n  expected: %s\n  got: %s", schema, message, err);
}

static void test_sample_schemas_pass(void **state)
{
    static const char *const files[] = {"note_create.json", "note_update.json"};
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        char path[512];
        json_error_t je;
        snprintf(path, sizeof(path), "%s/app/schemas/%s", BW_SOURCE_DIR, files[i]);
        json_t *s = json_load_file(path, 0, &je);
        assert_non_null(s);
        if (bw_schema_lint(s, files[i], err, sizeof(err)) != 0)
            fail_msg("%s", err);
        json_decref(s);
    }
}

static void test_refusals(void **state)
{
    (void)state;
    expect("{\"type\":\"string\"}",
           "t.json#: string without maxLength (or enum, const, a bounded format)");
    expect("{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"a\":{\"type\":"
           "\"string\"}}}",
           "t.json#/properties/a: string without maxLength (or enum, const, a bounded format)");
    expect("{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}",
           "t.json#: array without maxItems");
    expect(
        "{\"type\":\"array\",\"maxItems\":3,\"items\":{\"type\":\"string\",\"format\":\"email\"}}",
        "t.json#/items: string without maxLength (or enum, const, a bounded format)");
    expect("{\"type\":\"object\"}",
           "t.json#: object without additionalProperties or unevaluatedProperties");
    expect("{\"type\":\"object\",\"additionalProperties\":true}",
           "t.json#: object open to any property without maxProperties");
    expect("{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"a\":{}}}",
           "t.json#/properties/a: no type: this schema accepts any value");
    expect("{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"a\":true}}",
           "t.json#/properties/a: the schema `true` accepts any value");
    expect("{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"a/"
           "b~c\":{\"type\":\"array\"}}}",
           "t.json#/properties/a~1b~0c: array without maxItems");
    expect("{\"$defs\":{\"x\":{\"type\":[\"string\",\"null\"]}},\"$ref\":\"#/$defs/x\"}",
           "t.json#/$defs/x: string without maxLength (or enum, const, a bounded format)");
    expect("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}",
           "t.json#/additionalProperties: string without maxLength (or enum, const, a bounded "
           "format)");
    expect("{\"allOf\":[{\"type\":\"string\"}]}",
           "t.json#/allOf/0: string without maxLength (or enum, const, a bounded format)");
    expect("42", "t.json#: not a schema (object or boolean)");
}

static void test_accepted(void **state)
{
    (void)state;
    assert_int_equal(lint("{\"type\":\"string\",\"maxLength\":10}"), 0);
    assert_int_equal(lint("{\"type\":\"string\",\"format\":\"uuid\"}"), 0);
    assert_int_equal(lint("{\"type\":\"string\",\"enum\":[\"a\",\"b\"]}"), 0);
    assert_int_equal(lint("{\"const\":\"x\"}"), 0);
    assert_int_equal(lint("{\"type\":\"integer\"}"), 0);
    assert_int_equal(lint("{\"type\":\"object\",\"unevaluatedProperties\":false}"), 0);
    assert_int_equal(
        lint("{\"type\":\"object\",\"additionalProperties\":true,\"maxProperties\":5}"), 0);
    /* composition branches refine one value and need no type of their own */
    assert_int_equal(lint("{\"type\":\"object\",\"additionalProperties\":false,"
                          "\"anyOf\":[{\"required\":[\"a\"]},{\"required\":[\"b\"]}]}"),
                     0);
    assert_int_equal(lint("false"), 0);
    /* the explicit opt-out covers the subschema itself */
    assert_int_equal(lint("{\"type\":\"string\",\"x-bulwark-unbounded\":true}"), 0);
    /* ... and not its children */
    expect("{\"type\":\"object\",\"x-bulwark-unbounded\":true,\"properties\":{\"a\":{\"type\":"
           "\"string\"}}}",
           "t.json#/properties/a: string without maxLength (or enum, const, a bounded format)");
}

static void test_depth_bound(void **state)
{
    (void)state;
    char s[8192] = "";
    size_t len = 0;
    for (int i = 0; i < 80; i++)
        len += (size_t)snprintf(s + len, sizeof(s) - len, "{\"allOf\":[");
    len += (size_t)snprintf(s + len, sizeof(s) - len, "false");
    for (int i = 0; i < 80; i++)
        len += (size_t)snprintf(s + len, sizeof(s) - len, "]}");
    assert_int_equal(lint(s), -1);
    if (strstr(err, "nested too deeply") == NULL)
        fail_msg("%s", err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_schemas_pass),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_depth_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
