/* Format assertions: every string case of the official JSON Schema Test Suite files for the 13
 * formats (draft 2020-12, plus the format cases of ecmascript-regex.json) must pass, then our own
 * edge cases: limits at and one past their boundary, embedded NUL through the explicit length,
 * invalid UTF-8, reads confined to len, and the unknown-format pass-through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "bulwark/format.h"

#define SUITE_SUBDIR "/tests/draft2020-12/optional"

static const char *const suite_formats[] = {
    "date-time", "date", "time", "duration",      "email",        "hostname", "ipv4",
    "ipv6",      "uuid", "uri",  "uri-reference", "json-pointer", "regex",
};
#define N_FORMATS (sizeof suite_formats / sizeof suite_formats[0])

/* The suite checkout: $BW_JSON_SCHEMA_SUITE, else shared/ beside the source tree. */
static int suite_path(char *out, size_t cap, const char *file)
{
    const char *env = getenv("BW_JSON_SCHEMA_SUITE");
    int n;

    if (env != NULL && env[0] != '\0')
        n = snprintf(out, cap, "%s" SUITE_SUBDIR "/%s", env, file);
    else
        n = snprintf(out, cap,
                     BW_SOURCE_DIR "/../shared/testdata/json-schema-test-suite" SUITE_SUBDIR "/%s",
                     file);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Index of `name` in suite_formats, or -1. */
static int format_index(const char *name)
{
    for (size_t i = 0; i < N_FORMATS; i++)
        if (strcmp(name, suite_formats[i]) == 0)
            return (int)i;
    return -1;
}

/* A schema that is only {"$schema": ..., "format": <one of ours>}: its format index, else -1. */
static int pure_format_schema(json_t *schema)
{
    const char *key;
    json_t *val;
    int idx = -1;

    if (!json_is_object(schema))
        return -1;
    json_object_foreach(schema, key, val)
    {
        if (strcmp(key, "format") == 0 && json_is_string(val))
            idx = format_index(json_string_value(val));
        else if (strcmp(key, "$schema") != 0)
            return -1;
    }
    return idx;
}

/* Runs every string case in one suite file; adds to the per-format tallies. */
static void run_suite_file(const char *file, size_t *passed, size_t *failed)
{
    char path[4096];
    json_error_t jerr;
    json_t *root;
    size_t gi;
    json_t *group;

    assert_int_equal(suite_path(path, sizeof path, file), 0);
    root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (root == NULL)
        fail_msg("cannot load %s: %s (set BW_JSON_SCHEMA_SUITE)", path, jerr.text);
    assert_true(json_is_array(root));
    json_array_foreach(root, gi, group)
    {
        int idx = pure_format_schema(json_object_get(group, "schema"));
        json_t *tests = json_object_get(group, "tests");
        size_t ti;
        json_t *t;

        if (idx < 0)
            continue;
        json_array_foreach(tests, ti, t)
        {
            json_t *data = json_object_get(t, "data");
            json_t *valid = json_object_get(t, "valid");
            bool got;

            if (!json_is_string(data))
                continue;
            assert_true(json_is_boolean(valid));
            got = bw_format_check(suite_formats[idx], json_string_value(data),
                                  json_string_length(data));
            if (got == json_is_true(valid)) {
                passed[idx]++;
            } else {
                failed[idx]++;
                fprintf(stderr, "FAIL %s: \"%s\" want %s (%s)\n", suite_formats[idx],
                        json_string_value(data), json_is_true(valid) ? "valid" : "invalid",
                        json_string_value(json_object_get(t, "description")));
            }
        }
    }
    json_decref(root);
}

static void test_official_suite(void **state)
{
    size_t passed[N_FORMATS] = {0}, failed[N_FORMATS] = {0}, total_failed = 0;
    char file[64];

    (void)state;
    for (size_t i = 0; i < N_FORMATS; i++) {
        int n = snprintf(file, sizeof file, "format/%s.json", suite_formats[i]);
        assert_true(n > 0 && (size_t)n < sizeof file);
        run_suite_file(file, passed, failed);
    }
    run_suite_file("format/ecmascript-regex.json", passed, failed);
    for (size_t i = 0; i < N_FORMATS; i++) {
        printf("%-14s %zu passed, %zu failed\n", suite_formats[i], passed[i], failed[i]);
        /* Every format has cases; an empty tally means the suite was not read. */
        assert_true(passed[i] + failed[i] > 0);
        total_failed += failed[i];
    }
    assert_int_equal(total_failed, 0);
}

/* Checks a NUL-free literal. */
static bool chk(const char *format, const char *s)
{
    return bw_format_check(format, s, strlen(s));
}

/* Checks s[0..len) from an exact-size heap copy, so ASan sees any read past len. */
static bool chk_exact(const char *format, const char *s, size_t len)
{
    char *copy = malloc(len > 0 ? len : 1);
    bool r;

    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, s, len);
    r = bw_format_check(format, copy, len);
    free(copy);
    return r;
}

static void expect_all(const char *format, const char *const *cases, size_t n, bool want)
{
    for (size_t i = 0; i < n; i++)
        if (chk_exact(format, cases[i], strlen(cases[i])) != want)
            fail_msg("%s: \"%s\" should be %s", format, cases[i], want ? "valid" : "invalid");
}

#define EXPECT(format, want, ...)                                                                  \
    do {                                                                                           \
        static const char *const cases_[] = {__VA_ARGS__};                                         \
        expect_all(format, cases_, sizeof cases_ / sizeof cases_[0], want);                        \
    } while (0)

static void test_known(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_FORMATS; i++)
        assert_true(bw_format_known(suite_formats[i]));
    assert_false(bw_format_known(NULL));
    assert_false(bw_format_known(""));
    assert_false(bw_format_known("DATE"));
    assert_false(bw_format_known("iri"));
    assert_false(bw_format_known("idn-hostname"));
    assert_false(bw_format_known("date-time "));
}

static void test_unknown_is_annotation(void **state)
{
    (void)state;
    assert_true(chk("iri", "not an iri at all \x01"));
    assert_true(chk("", "x"));
    assert_true(bw_format_check(NULL, "x", 1));
    assert_true(bw_format_check("Date", "nonsense", 8));
    /* NULL data with len 0 is the empty string; with len > 0 it is refused. */
    assert_true(bw_format_check("json-pointer", NULL, 0));
    assert_false(bw_format_check("date", NULL, 0));
    assert_false(bw_format_check("json-pointer", NULL, 1));
}

static void test_date_time_edges(void **state)
{
    (void)state;
    EXPECT("date-time", true, "2000-02-29T00:00:00Z", "1999-12-31T23:59:60Z",
           "2000-01-01T00:59:60+01:00", "0000-01-01T00:00:00.0Z", "9999-12-31T23:59:59-23:59",
           "2024-06-30T23:59:60.999Z");
    EXPECT("date-time", false, "1900-02-29T00:00:00Z", "2000-01-01T00:00:00", "2000-01-01T00:00Z",
           "2000-01-01T00:00:00.Z", "2000-01-01 00:00:00Z", "2000-01-01T00:00:00+0100",
           "2000-01-01T00:00:60+00:00", "2000-01-01T00:00:00+24:00", "2000-01-01T", "2000-01-01",
           "T00:00:00Z", "2000-01-01T00:00:00ZZ");
    EXPECT("date", false, "2000-01-0", "2000-1", "2000", "");
    EXPECT("time", true, "00:00:00z", "23:59:59.0-00:00", "00:59:60+01:00");
    EXPECT("time", false, "23:59:60+23:00", "00:00:00+", "00:00:00+01", "00:00:00+01:", "0:00:00Z",
           "00:00:00.5", "00:00:00.Z");
    /* Truncations of a valid time at every length are all invalid. */
    {
        const char *full = "12:34:56.789+01:30";
        for (size_t n = 0; n < strlen(full); n++)
            assert_false(chk_exact("time", full, n));
        assert_true(chk_exact("time", full, strlen(full)));
    }
}

static void test_duration_edges(void **state)
{
    (void)state;
    EXPECT("duration", true, "P1W", "P0W", "PT1S", "P1Y", "P1D", "P1YT1S", "P1DT1M", "PT0H0M0S");
    EXPECT("duration", false, "P1Y2M3D4", "PW", "P1W2W", "PT1W", "P1H", "p1D", "P1d", "PT1H1H",
           "P1M1Y", "PT1S1M", "P1DT", "PTT1S", "P1D1D", "W", "P1.5D", "P+1D");
}

static void test_ip_edges(void **state)
{
    (void)state;
    EXPECT("ipv4", true, "1.2.3.4", "0.0.0.0", "249.250.251.199");
    EXPECT("ipv4", false, "1.2.3.04", "00.1.1.1", "1.2.3.2550", "1.2.3", "1..2.3", "1.2.3.4.",
           "...", "1.2.3.-0");
    EXPECT("ipv6", true, "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1::", "1:2:3:4:5:6:1.2.3.4",
           "::1.2.3.4", "ABCD:EF01::1", "0:0:0:0:0:0:0:0", "::ffff:0.0.0.0");
    EXPECT("ipv6", false, "", ":", ":::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8",
           "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:1.2.3.4",
           "1.2.3.4::", "1::1.2.3.4:5", "::1.2.3", "g::", "1:::2", "1::2::", "::00000");
}

static void test_hostname_edges(void **state)
{
    char name[300];

    (void)state;
    /* 253 bytes total (labels of 63, 63, 63, 61 and three dots) is the limit; 254 is over. */
    memset(name, 'a', sizeof name);
    name[63] = name[127] = name[191] = '.';
    assert_true(chk_exact("hostname", name, 253));
    assert_false(chk_exact("hostname", name, 254));
    /* A label of 64 is over even when the whole name is short. */
    memset(name, 'b', 64);
    assert_true(chk_exact("hostname", name, 63));
    assert_false(chk_exact("hostname", name, 64));
    EXPECT("hostname", true, "a", "A.B.C", "0", "x-1.y-2", "xn--bcher-kva.example",
           "XN--bcher-kva.com", "ab--cd");
    EXPECT("hostname", false, "a..b", "a.", "-a.b", "a-.b", "a b", "a.b.", "xn--", "xn--a",
           "xn--bcher-kva-.com", "xn--abc-", "xn---a-kva");
    /* IDN A-labels use ASCII only: the U-label form itself is refused. */
    assert_false(chk("hostname", "b\xc3\xbc"
                                 "cher.com"));
}

static void test_email_edges(void **state)
{
    char addr[80];

    (void)state;
    /* Local part: 64 bytes is the limit. */
    memset(addr, 'l', 65);
    memcpy(addr + 64, "@x.io", 5);
    assert_true(chk_exact("email", addr, 69));
    memset(addr, 'l', 65);
    memcpy(addr + 65, "@x.io", 5);
    assert_false(chk_exact("email", addr, 70));
    EXPECT("email", true, "a@b", "!#$%&'*+-/=?^_`{|}~@x.org", "\"a\\\"b\"@x.org", "\"\"@x.org",
           "a@[IPV6:1::2]", "a@[255.255.255.255]");
    EXPECT("email", false, "a", "a@", "@", "a@@b", "a@b..c", "a@-b.c", "\"a@x.org", "\"a\"b@x.org",
           "a@[1.2.3.4", "a@[::1]", "a@[IPv6:1.2.3.4]", "a@[x]", "a@b_c.d", "\"a\\\"@x.org",
           "a\x7f@x.org");
}

static void test_uuid_edges(void **state)
{
    (void)state;
    EXPECT("uuid", true, "ffffffff-ffff-ffff-ffff-ffffffffffff");
    EXPECT("uuid", false, "ffffffff-ffff-ffff-ffff-fffffffffffff",
           "{ffffffff-ffff-ffff-ffff-ffffffffffff}", "ffffffff-ffff-ffff-ffff-fffffffffff-",
           "gfffffff-ffff-ffff-ffff-ffffffffffff");
}

static void test_uri_edges(void **state)
{
    (void)state;
    EXPECT("uri", true, "a:", "a+b-c.d:x", "http://", "http://[v1.x:y]/", "http://h:/",
           "http://u:p@h:8080/p?q#f", "urn:a/b?c?d#e/f?", "x:%aF", "http://[::1]:1");
    EXPECT("uri", false, "", ":", "a", "http://h:8a/", "http://[::1", "http://[::1]x/",
           "http://[vz.x]/", "http://h#a#b", "x:%", "x:a%1", "http://h/\x01", "-a:b", "http://h/ä");
    EXPECT("uri-reference", true, "", ".", "..", "a/b:c", "?", "#", "//h", "a?b:c#d:e", "%41");
    EXPECT("uri-reference", false, ":", ":a", "a:b:c\\", "a b", "%4", "//h:x", "#%", "//[::1]]");
}

static void test_json_pointer_edges(void **state)
{
    (void)state;
    EXPECT("json-pointer", true, "/~0~1", "//", "/a/b/c/~0");
    EXPECT("json-pointer", false, "~", "/~", "/~a", "/a~/b", " /a");
    /* Embedded NUL is allowed inside a token (explicit length); invalid UTF-8 is not. */
    assert_true(bw_format_check("json-pointer", "/a\0b", 4));
    assert_false(bw_format_check("json-pointer", "/a\0~", 4));
    assert_false(bw_format_check("json-pointer", "/\xff", 2));
    assert_false(bw_format_check("json-pointer", "/\xc0\xaf", 3));         /* overlong */
    assert_false(bw_format_check("json-pointer", "/\xed\xa0\x80", 4));     /* surrogate */
    assert_false(bw_format_check("json-pointer", "/\xf4\x90\x80\x80", 5)); /* > 10FFFF */
    assert_false(bw_format_check("json-pointer", "/\xe2\x82", 3));         /* truncated */
    assert_true(bw_format_check("json-pointer", "/\xf0\x9f\x98\x8e", 5));
}

static void test_regex_edges(void **state)
{
    char big[BW_FORMAT_REGEX_MAX_LEN + 1];

    (void)state;
    /* Valid ECMA-262 (u flag): each was also checked with a JavaScript engine. */
    EXPECT("regex", true, "", "a|b", "^\\d{2,3}$", "[\\u0041-\\u005A]", "\\u{1F600}", "\\x41",
           "(?:a)(?=b)(?!c)(?<!d)", "\\p{L}+", "[^]", "\\/", "a+?", "\\0", "(a)\\1", "\\cz",
           "\\p{Letter}", "\\P{gc=Lu}", "\\p{General_Category=Decimal_Number}", "\\p{digit}",
           "\\p{Script=Greek}", "\\p{scx=Grek}", "\\p{ASCII_Hex_Digit}", "\\p{RI}", "[[:alpha:]",
           "[:a:]", "[[.a.]", "[=]", "\\uD83D\\uDE00", "\\uD800", "[\\uDC00]", "\\u{0000000041}",
           "\\u{10FFFF}", "a{99999999999}", "(a){2,99999999999}", "a{3,3}", "(?<n>a)\\k<n>",
           "\\k<n>(?<n>a)", "[\\b\\-]", "\\^\\$\\\\\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|", "(?<=a+)b",
           "(?<=a|bc)d", "(?=a)", "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\\10");
    /* PCRE-only or invalid with the u flag. */
    EXPECT("regex", false, "(", ")", "[", "a{2,1}", "a{99999999999,2}", "\\", "\\e", "\\A", "\\z",
           "\\Z", "\\Qa\\E", "\\K", "\\R", "\\X", "\\h", "\\pL", "\\k'n'", "\\x{41}", "\\xZ",
           "\\u12", "\\c1", "\\c", "(?>a)", "(?|a)", "(?R)", "(*UTF)a", "a++", "a?+", "a{2}+",
           "(?'n'a)", "(?(1)a)", "(?", "]", "}", "{", "a{", "a{,2}", "a{2", "\\-", "\\@", "\\ ",
           "\\_", "\\00", "\\01", "[\\1]", "(a)\\2", "\\1", "(a)(b)\\12", "[\\B]", "[\\k<n>]",
           "\\k<n>", "\\p{letter}", "\\p{Greek}", "\\p{L&}", "\\p{ L}", "\\p{}", "\\p{gc=}",
           "\\p{Foo=L}", "\\p{sc=greek}", "\\p{L", "\\u{110000}", "\\u{}", "(?=a)*", "(?!a)+",
           "(?<=a)?", "(?<!a){2}", "[[:alpha:]]", "\\\xc3\xa9");
    /* Length limit at and one past. */
    memset(big, 'a', sizeof big);
    assert_true(chk_exact("regex", big, BW_FORMAT_REGEX_MAX_LEN));
    assert_false(chk_exact("regex", big, BW_FORMAT_REGEX_MAX_LEN + 1));
    /* Nesting deeper than the limit is refused (64 groups deep is fine). */
    {
        char nest[130];
        memset(nest, '(', 64);
        memset(nest + 64, ')', 64);
        assert_true(chk_exact("regex", nest, 128));
        memset(nest, '(', 65);
        memset(nest + 65, ')', 65);
        assert_false(chk_exact("regex", nest, 130));
    }
    /* The longest rewrite for PCRE2 (each "\1" becomes "\g{1}") still fits. */
    {
        char refs[BW_FORMAT_REGEX_MAX_LEN];
        memcpy(refs, "(a)", 3);
        for (size_t k = 3; k + 1 < sizeof refs; k += 2)
            memcpy(refs + k, "\\1", 2);
        assert_true(chk_exact("regex", refs, sizeof refs - 1));
    }
    /* Invalid UTF-8 and an embedded NUL (a valid pattern character). */
    assert_false(bw_format_check("regex", "a\xff", 2));
    assert_false(bw_format_check("regex", "\xed\xa0\x80", 3));
    assert_true(bw_format_check("regex", "a\0b", 3));
}

/* ASCII-only formats refuse every non-ASCII byte, valid UTF-8 or not, and an embedded NUL. */
static void test_ascii_only_refuse_high_bytes(void **state)
{
    static const struct {
        const char *format;
        const char *valid;
    } base[] = {
        {"date-time", "2020-01-01T00:00:00Z"},
        {"date", "2020-01-01"},
        {"time", "00:00:00Z"},
        {"duration", "P1D"},
        {"email", "a@b.co"},
        {"hostname", "ab.co"},
        {"ipv4", "1.2.3.4"},
        {"ipv6", "1::2"},
        {"uuid", "00000000-0000-0000-0000-000000000000"},
        {"uri", "a:bc"},
        {"uri-reference", "bc"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        size_t n = strlen(base[i].valid);
        char buf[64];

        assert_true(chk_exact(base[i].format, base[i].valid, n));
        /* Replace one byte in the middle with a high byte, then with NUL. */
        memcpy(buf, base[i].valid, n);
        buf[n / 2] = (char)0xC3;
        assert_false(chk_exact(base[i].format, buf, n));
        buf[n / 2] = '\0';
        assert_false(chk_exact(base[i].format, buf, n));
        /* A valid value followed by NUL and more within len is refused. */
        memcpy(buf, base[i].valid, n);
        buf[n] = '\0';
        buf[n + 1] = 'x';
        assert_false(chk_exact(base[i].format, buf, n + 2));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_official_suite),
        cmocka_unit_test(test_known),
        cmocka_unit_test(test_unknown_is_annotation),
        cmocka_unit_test(test_date_time_edges),
        cmocka_unit_test(test_duration_edges),
        cmocka_unit_test(test_ip_edges),
        cmocka_unit_test(test_hostname_edges),
        cmocka_unit_test(test_email_edges),
        cmocka_unit_test(test_uuid_edges),
        cmocka_unit_test(test_uri_edges),
        cmocka_unit_test(test_json_pointer_edges),
        cmocka_unit_test(test_regex_edges),
        cmocka_unit_test(test_ascii_only_refuse_high_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
