/* Schema validator: each class of compile error names the schema and pointer, the bounds
 * (instance depth, steps, catastrophic regex, subject length, schema depth), the error
 * output, arena use, the registry (directories, lifetime) and the compile flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bulwark/arena.h"
#include "bulwark/schema.h"

#define URI "http://example.test/s.json"

/* Compiles text (registered as URI) with flags; returns NULL with err filled on failure. */
static bw_schema *compile_text(const char *text, unsigned flags, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    assert_non_null(doc);
    bw_schema_registry *r = bw_schema_registry_new();
    assert_non_null(r);
    bw_schema *s = NULL;
    if (bw_schema_registry_add(r, URI, doc, err, errlen) == 0)
        s = bw_schema_compile(r, URI, flags, err, errlen);
    bw_schema_registry_free(r); /* the compiled schema must outlive its registry */
    return s;
}

static bw_schema *must_compile(const char *text)
{
    char err[512] = "";
    bw_schema *s = compile_text(text, 0, err, sizeof(err));
    if (!s)
        fail_msg("compile failed: %s", err);
    return s;
}

static void expect_compile_error(const char *text, const char *needle1, const char *needle2)
{
    char err[512] = "";
    bw_schema *s = compile_text(text, 0, err, sizeof(err));
    assert_null(s);
    if (!strstr(err, needle1) || (needle2 && !strstr(err, needle2)))
        fail_msg("error '%s' lacks '%s' / '%s'", err, needle1, needle2 ? needle2 : "");
}

/* Validates instance text; returns bw_schema_validate's result. */
static int check(const bw_schema *s, const char *inst, bw_schema_error *errs, size_t max,
                 size_t *nerrs)
{
    json_error_t jerr;
    json_t *j = json_loads(inst, JSON_DECODE_ANY, &jerr);
    assert_non_null(j);
    bw_arena *a = bw_arena_new(0, 0);
    assert_non_null(a);
    size_t dummy;
    int r = bw_schema_validate(s, j, a, errs, max, nerrs ? nerrs : &dummy);
    bw_arena_free(a);
    json_decref(j);
    return r;
}

static void test_compile_errors_name_pointer(void **state)
{
    (void)state;
    expect_compile_error("{\"properties\":{\"a/b\":{\"foo\":1}}}", URI "#/properties/a~1b/foo",
                         "unknown keyword");
    expect_compile_error("{\"items\":{\"pattern\":\"(unclosed\"}}", URI "#/items/pattern",
                         "bad regex");
    expect_compile_error("{\"patternProperties\":{\"[\":true}}", "#/patternProperties",
                         "bad regex");
    expect_compile_error("{\"$ref\":\"#/$defs/missing\"}", URI "#/$ref", "unresolvable");
    expect_compile_error("{\"$ref\":\"http://elsewhere.test/x.json\"}", "#/$ref", "unresolvable");
    expect_compile_error("{\"$ref\":\"#\"}", URI, "cycle");
    expect_compile_error("{\"$defs\":{\"a\":{\"allOf\":[{\"$ref\":\"#/$defs/b\"}]},"
                         "\"b\":{\"anyOf\":[{\"$ref\":\"#/$defs/a\"}]}},\"$ref\":\"#/$defs/a\"}",
                         "#/$defs/", "cycle");
    expect_compile_error("{\"minLength\":-1}", "#/minLength", "non-negative");
    expect_compile_error("{\"type\":\"text\"}", "#/type", "type");
    expect_compile_error("{\"multipleOf\":0}", "#/multipleOf", "greater than 0");
    expect_compile_error("{\"allOf\":[]}", "#/allOf", "non-empty");
    expect_compile_error("{\"properties\":{\"a\":3}}", "#/properties/a", "not a schema");
    expect_compile_error("{\"$defs\":{\"x\":{\"bogus\":true}}}", "#/$defs/x/bogus",
                         "unknown keyword");
    expect_compile_error("{\"$id\":\"http://example.test/t.json#frag\"}", "fragment", NULL);
    /* Bulwark's lint opt-out is a known annotation, and must be a boolean */
    bw_schema *ok = must_compile("{\"type\":\"string\",\"x-bulwark-unbounded\":true}");
    bw_schema_free(ok);
    expect_compile_error("{\"x-bulwark-unbounded\":\"yes\"}", "#/x-bulwark-unbounded", NULL);
}

static void test_progress_is_not_a_cycle(void **state)
{
    (void)state;
    /* recursion through properties/items advances through the instance: allowed */
    bw_schema *s = must_compile("{\"type\":\"object\",\"properties\":{\"child\":{\"$ref\":\"#\"}},"
                                "\"items\":{\"$ref\":\"#\"}}");
    assert_int_equal(check(s, "{\"child\":{\"child\":{}}}", NULL, 0, NULL), 1);
    assert_int_equal(check(s, "{\"child\":{\"child\":3}}", NULL, 0, NULL), 0);
    bw_schema_free(s);
}

static void test_registry_errors(void **state)
{
    (void)state;
    char err[256];
    bw_schema_registry *r = bw_schema_registry_new();
    assert_non_null(r);
    assert_int_equal(bw_schema_registry_add(r, URI, json_pack("{s:b}", "x", 1), err, sizeof(err)),
                     0);
    assert_int_equal(bw_schema_registry_add(r, URI, json_object(), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "duplicate"));
    assert_null(bw_schema_compile(r, URI, 0x80, err, sizeof(err))); /* unknown flag */
    assert_non_null(strstr(err, "bad argument"));
    assert_null(bw_schema_compile(r, "http://example.test/nope.json", 0, err, sizeof(err)));
    assert_non_null(strstr(err, "not in the registry"));
    assert_int_equal(bw_schema_registry_add(r, "http://example.test/b.json",
                                            json_pack("{s:s}", "$anchor", "1bad"), err,
                                            sizeof(err)),
                     -1);
    assert_int_equal(
        bw_schema_registry_add_dir(r, "/nonexistent-dir", "http://x/", err, sizeof(err)), -1);
    bw_schema_registry_free(r);
}

static void test_schema_depth_limit(void **state)
{
    (void)state;
    char text[4096];
    size_t w = 0;
    for (int i = 0; i < 200; i++)
        w += (size_t)snprintf(text + w, sizeof(text) - w, "{\"items\":");
    w += (size_t)snprintf(text + w, sizeof(text) - w, "true");
    for (int i = 0; i < 200; i++)
        text[w++] = '}';
    text[w] = '\0';
    expect_compile_error(text, "nesting deeper", NULL);
}

static void test_format_asserted_by_default(void **state)
{
    (void)state;
    char err[256];
    const char *text = "{\"format\":\"ipv4\"}";
    bw_schema *s = must_compile(text);
    assert_int_equal(check(s, "\"192.168.0.1\"", NULL, 0, NULL), 1);
    assert_int_equal(check(s, "\"999.1.1.1\"", NULL, 0, NULL), 0);
    assert_int_equal(check(s, "42", NULL, 0, NULL), 1); /* format applies to strings only */
    bw_schema_free(s);
    s = compile_text(text, BW_SCHEMA_FORMAT_ANNOTATION, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(check(s, "\"999.1.1.1\"", NULL, 0, NULL), 1);
    bw_schema_free(s);
}

static void test_instance_depth_limit(void **state)
{
    (void)state;
    bw_schema *s = must_compile("{\"items\":{\"$ref\":\"#\"}}");
    char deep[512];
    for (int depth = BW_SCHEMA_MAX_DEPTH - 2; depth <= BW_SCHEMA_MAX_DEPTH + 2; depth++) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        deep[2 * depth] = '\0';
        int r = check(s, deep, NULL, 0, NULL);
        assert_int_equal(r, depth <= BW_SCHEMA_MAX_DEPTH ? 1 : -1);
    }
    bw_schema_free(s);
}

static void test_catastrophic_regex_ends(void **state)
{
    (void)state;
    bw_schema *s = must_compile("{\"pattern\":\"^(a+)+$\"}");
    char inst[64];
    memset(inst, 'a', sizeof(inst));
    inst[0] = '"';
    inst[sizeof(inst) - 3] = '!';
    inst[sizeof(inst) - 2] = '"';
    inst[sizeof(inst) - 1] = '\0';
    bw_schema_error e[2];
    size_t n = 0;
    clock_t t0 = clock();
    assert_int_equal(check(s, inst, e, 2, &n), 0);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    assert_true(secs < 2.0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].keyword, "pattern");
    assert_int_equal(check(s, "\"aaaa\"", NULL, 0, NULL), 1);
    bw_schema_free(s);
}

static void test_regex_dialect(void **state)
{
    (void)state;
    /* ECMAScript, not Perl: \uHHHH escapes, Unicode \s, ASCII \d, "$" only at the end */
    bw_schema *s = must_compile("{\"pattern\":\"^\\\\u0041\\\\s\\\\d+$\"}");
    assert_int_equal(check(s, "\"A 12\"", NULL, 0, NULL), 1);
    assert_int_equal(check(s, "\"A\\u00a012\"", NULL, 0, NULL), 1);       /* NBSP is \s */
    assert_int_equal(check(s, "\"A \\u0661\\u0662\"", NULL, 0, NULL), 0); /* Arabic digits */
    assert_int_equal(check(s, "\"A 12\\n\"", NULL, 0, NULL), 0);          /* trailing newline */
    assert_int_equal(check(s, "\"B 12\"", NULL, 0, NULL), 0);
    bw_schema_free(s);
    s = must_compile("{\"patternProperties\":{\"^\\\\p{Letter}+$\":{\"type\":\"integer\"}}}");
    assert_int_equal(check(s, "{\"\\u00e9t\\u00e9\":1}", NULL, 0, NULL), 1);
    assert_int_equal(check(s, "{\"\\u00e9t\\u00e9\":\"x\"}", NULL, 0, NULL), 0);
    assert_int_equal(check(s, "{\"42\":\"x\"}", NULL, 0, NULL), 1); /* no pattern applies */
    bw_schema_free(s);
}

static void test_regex_subject_bounded(void **state)
{
    (void)state;
    bw_schema *s = must_compile("{\"pattern\":\"a\"}");
    size_t len = BW_SCHEMA_MAX_REGEX_SUBJECT + 10;
    char *big = malloc(len + 1);
    assert_non_null(big);
    memset(big, 'a', len);
    json_t *j = json_stringn(big, len);
    free(big);
    bw_arena *a = bw_arena_new(0, 0);
    size_t n;
    assert_int_equal(bw_schema_validate(s, j, a, NULL, 0, &n), 0);
    json_decref(j);
    bw_arena_free(a);
    bw_schema_free(s);
}

static void test_step_budget(void **state)
{
    (void)state;
    bw_schema *s = must_compile("{\"uniqueItems\":true}");
    json_t *arr = json_array();
    for (int i = 0; i < 2000; i++)
        json_array_append_new(arr, json_integer(i));
    bw_arena *a = bw_arena_new(0, 0);
    size_t n;
    assert_int_equal(bw_schema_validate(s, arr, a, NULL, 0, &n), -1);
    json_array_clear(arr);
    for (int i = 0; i < 100; i++)
        json_array_append_new(arr, json_integer(i));
    assert_int_equal(bw_schema_validate(s, arr, a, NULL, 0, &n), 1);
    json_array_append_new(arr, json_real(5.0)); /* equal to 5 */
    assert_int_equal(bw_schema_validate(s, arr, a, NULL, 0, &n), 0);
    json_decref(arr);
    bw_arena_free(a);
    bw_schema_free(s);
}

static void test_error_output(void **state)
{
    (void)state;
    bw_schema *s = must_compile("{\"type\":\"object\",\"properties\":{\"a/b\":{\"type\":\"array\","
                                "\"items\":{\"maxLength\":3}},\"n\":{\"minimum\":10}},"
                                "\"required\":[\"must\"]}");
    bw_schema_error e[8];
    size_t n = 0;
    int r = check(s, "{\"a/b\":[\"ok\",\"hunter2secret\"],\"n\":3}", e, 8, &n);
    assert_int_equal(r, 0);
    assert_int_equal(n, 3);
    bool saw_len = false, saw_min = false, saw_req = false;
    for (size_t i = 0; i < n; i++) {
        assert_null(strstr(e[i].message, "hunter2")); /* never echoes the instance */
        if (strcmp(e[i].keyword, "maxLength") == 0) {
            assert_string_equal(e[i].pointer, "/a~1b/1");
            saw_len = true;
        } else if (strcmp(e[i].keyword, "minimum") == 0) {
            assert_string_equal(e[i].pointer, "/n");
            saw_min = true;
        } else if (strcmp(e[i].keyword, "required") == 0) {
            assert_string_equal(e[i].pointer, "");
            saw_req = true;
        }
    }
    assert_true(saw_len && saw_min && saw_req);
    /* max bounds the errors stored; 0 still answers */
    assert_int_equal(check(s, "{\"a/b\":[\"xxxxx\"],\"n\":3}", e, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(check(s, "{\"a/b\":[\"xxxxx\"],\"n\":3}", NULL, 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(check(s, "{\"must\":1}", e, 8, &n), 1);
    assert_int_equal(n, 0);
    bw_schema_free(s);
    /* a false subschema is reported under the keyword that holds it */
    s = must_compile("{\"properties\":{\"a\":true},\"additionalProperties\":false,"
                     "\"items\":false}");
    assert_int_equal(check(s, "{\"a\":1,\"x~\":2}", e, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].keyword, "additionalProperties");
    assert_string_equal(e[0].pointer, "/x~0");
    assert_int_equal(check(s, "[1]", e, 8, &n), 0);
    assert_string_equal(e[0].keyword, "items");
    assert_string_equal(e[0].pointer, "/0");
    bw_schema_free(s);
    s = must_compile("{\"allOf\":[{\"properties\":{\"a\":true}}],"
                     "\"unevaluatedProperties\":false}");
    assert_int_equal(check(s, "{\"a\":1}", e, 8, &n), 1);
    assert_int_equal(check(s, "{\"a\":1,\"b\":2}", e, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].keyword, "unevaluatedProperties");
    assert_string_equal(e[0].pointer, "/b");
    /* failures inside anyOf branches are not reported; the anyOf is */
    bw_schema_free(s);
    s = must_compile("{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":5}]}");
    assert_int_equal(check(s, "1", e, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].keyword, "anyOf");
    assert_int_equal(check(s, "7", e, 8, &n), 1);
    assert_int_equal(n, 0);
    bw_schema_free(s);
}

static void test_arena_use(void **state)
{
    (void)state;
    bw_schema *s = must_compile("{\"properties\":{\"a\":{\"type\":\"integer\"}}}");
    json_t *j = json_pack("{s:i,s:i}", "a", 1, "b", 2);
    bw_arena *a = bw_arena_new(256, 4096);
    size_t n;
    assert_int_equal(bw_schema_validate(s, j, a, NULL, 0, &n), 1);
    assert_int_equal(bw_arena_used(a), 0); /* no annotations needed: nothing allocated */
    bw_schema_free(s);
    /* unevaluatedProperties needs annotation bitmaps from the arena */
    s = must_compile("{\"properties\":{\"a\":true},\"unevaluatedProperties\":false}");
    assert_int_equal(bw_schema_validate(s, j, a, NULL, 0, &n), 0);
    assert_true(bw_arena_used(a) > 0);
    json_object_del(j, "b");
    bw_arena_reset(a);
    assert_int_equal(bw_schema_validate(s, j, a, NULL, 0, &n), 1);
    bw_arena_free(a);
    /* an exhausted arena is a limit (-1), never a crash or a wrong "valid" */
    json_t *big = json_object();
    char key[32];
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        json_object_set_new(big, key, json_pack("{s:{}}", "x"));
    }
    bw_schema_free(s);
    s = must_compile("{\"additionalProperties\":{\"unevaluatedProperties\":false,"
                     "\"properties\":{\"x\":true}}}");
    a = bw_arena_new(16, 16);
    assert_int_equal(bw_schema_validate(s, big, a, NULL, 0, &n), -1);
    bw_arena_free(a);
    assert_int_equal(bw_schema_validate(s, big, NULL, NULL, 0, &n), -1);
    json_decref(big);
    json_decref(j);
    bw_schema_free(s);
}

static void test_equality_and_numbers(void **state)
{
    (void)state;
    bw_schema *s = must_compile("{\"enum\":[1,{\"a\":[1,2],\"b\":null}]}");
    assert_int_equal(check(s, "1.0", NULL, 0, NULL), 1);
    assert_int_equal(check(s, "{\"b\":null,\"a\":[1.0,2]}", NULL, 0, NULL), 1);
    assert_int_equal(check(s, "{\"b\":null,\"a\":[2,1]}", NULL, 0, NULL), 0);
    assert_int_equal(check(s, "true", NULL, 0, NULL), 0);
    bw_schema_free(s);
    s = must_compile("{\"type\":\"integer\",\"multipleOf\":0.0001}");
    assert_int_equal(check(s, "1.0", NULL, 0, NULL), 1);
    bw_schema_free(s);
    s = must_compile("{\"multipleOf\":0.0001}");
    assert_int_equal(check(s, "0.0075", NULL, 0, NULL), 1);
    assert_int_equal(check(s, "0.00751", NULL, 0, NULL), 0);
    bw_schema_free(s);
    s = must_compile("{\"maxLength\":2,\"minLength\":2}");
    assert_int_equal(check(s, "\"\\u00e9\\u00e9\"", NULL, 0, NULL), 1); /* code points */
    assert_int_equal(check(s, "\"\\ud83d\\ude00\"", NULL, 0, NULL), 0); /* one code point */
    bw_schema_free(s);
}

static void test_registry_dir_and_refs(void **state)
{
    (void)state;
    char dir[] = "/tmp/bw_schema_testXXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/defs.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"$defs\":{\"name\":{\"type\":\"string\",\"maxLength\":5},"
          "\"id\":{\"$anchor\":\"ident\",\"type\":\"integer\"}}}",
          f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/main.json", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"properties\":{\"n\":{\"$ref\":\"defs.json#/%24defs/name\"},"
          "\"i\":{\"$ref\":\"defs.json#ident\"}}}",
          f);
    fclose(f);
    char err[256];
    bw_schema_registry *r = bw_schema_registry_new();
    assert_int_equal(bw_schema_registry_add_dir(r, dir, "http://app.test/", err, sizeof(err)), 2);
    bw_schema *s = bw_schema_compile(r, "http://app.test/main.json", 0, err, sizeof(err));
    assert_non_null(s);
    bw_schema_registry_free(r);
    assert_int_equal(check(s, "{\"n\":\"abc\",\"i\":3}", NULL, 0, NULL), 1);
    assert_int_equal(check(s, "{\"n\":\"abcdef\"}", NULL, 0, NULL), 0);
    assert_int_equal(check(s, "{\"i\":\"x\"}", NULL, 0, NULL), 0);
    bw_schema_free(s);
    unlink(path);
    snprintf(path, sizeof(path), "%s/defs.json", dir);
    unlink(path);
    rmdir(dir);
}

static void test_dynamic_ref(void **state)
{
    (void)state;
    /* the outermost $dynamicAnchor "item" wins: the list of strings becomes list of ints */
    bw_schema *s = must_compile(
        "{\"$id\":\"http://example.test/root\",\"$ref\":\"list\","
        "\"$defs\":{\"item\":{\"$dynamicAnchor\":\"item\",\"type\":\"integer\"},"
        "\"list\":{\"$id\":\"list\",\"type\":\"array\",\"items\":{\"$dynamicRef\":\"#item\"},"
        "\"$defs\":{\"default\":{\"$dynamicAnchor\":\"item\",\"type\":\"string\"}}}}}");
    assert_int_equal(check(s, "[1,2]", NULL, 0, NULL), 1);
    assert_int_equal(check(s, "[\"a\"]", NULL, 0, NULL), 0);
    bw_schema_free(s);
}

static void test_dynamic_loop_is_bounded(void **state)
{
    (void)state;
    /* no static cycle, but the dynamic scope sends "a" back through "over" forever at the same
     * instance location: evaluation must end with -1, not recurse until the stack dies */
    bw_schema *s = must_compile("{\"$id\":\"http://example.test/root\",\"$ref\":\"a\","
                                "\"$defs\":{\"over\":{\"$dynamicAnchor\":\"item\",\"$ref\":\"a\"},"
                                "\"a\":{\"$id\":\"a\",\"$dynamicRef\":\"#item\","
                                "\"$defs\":{\"def\":{\"$dynamicAnchor\":\"item\"}}}}}");
    assert_int_equal(check(s, "1", NULL, 0, NULL), -1);
    bw_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compile_errors_name_pointer),
        cmocka_unit_test(test_progress_is_not_a_cycle),
        cmocka_unit_test(test_registry_errors),
        cmocka_unit_test(test_schema_depth_limit),
        cmocka_unit_test(test_format_asserted_by_default),
        cmocka_unit_test(test_instance_depth_limit),
        cmocka_unit_test(test_catastrophic_regex_ends),
        cmocka_unit_test(test_regex_dialect),
        cmocka_unit_test(test_regex_subject_bounded),
        cmocka_unit_test(test_step_budget),
        cmocka_unit_test(test_error_output),
        cmocka_unit_test(test_arena_use),
        cmocka_unit_test(test_equality_and_numbers),
        cmocka_unit_test(test_registry_dir_and_refs),
        cmocka_unit_test(test_dynamic_ref),
        cmocka_unit_test(test_dynamic_loop_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
