/* Path canonicalisation: every refusal rule in raw and encoded form, the limits at and one past
 * their boundary, decode-once, and the canonical outputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/path.h"

#define OUTCAP 4096

typedef struct refusal {
    const char *raw;
    bw_path_err want;
} refusal;

/* Canonicalises a test literal (tests may use strlen on their own constants). */
static bw_path_err canon(const char *raw, char *out, size_t *outlen)
{
    return bw_path_canonicalize(raw, strlen(raw), NULL, out, OUTCAP, outlen);
}

static void expect_ok(const char *raw, const char *want)
{
    char out[OUTCAP];
    size_t outlen = 999;
    bw_path_err e = canon(raw, out, &outlen);

    if (e != BW_PATH_OK)
        fail_msg("\"%s\": got error %d (%s)", raw, (int)e, bw_path_strerror(e));
    assert_string_equal(out, want);
    assert_int_equal(outlen, strlen(want));
}

static void expect_refused(const refusal *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char out[OUTCAP];
        size_t outlen = 999;
        bw_path_err e;

        memset(out, 'x', sizeof out);
        e = canon(cases[i].raw, out, &outlen);
        if (e != cases[i].want)
            fail_msg("\"%s\": want %d, got %d", cases[i].raw, (int)cases[i].want, (int)e);
        /* A refusal leaves nothing half-written for a careless caller to use. */
        assert_int_equal(outlen, 0);
        assert_int_equal(out[0], '\0');
    }
}

#define REFUSE(...)                                                                                \
    do {                                                                                           \
        static const refusal cases_[] = {__VA_ARGS__};                                             \
        expect_refused(cases_, sizeof cases_ / sizeof cases_[0]);                                  \
    } while (0)

static void test_canonical_outputs(void **state)
{
    (void)state;
    expect_ok("/", "/");
    expect_ok("/a", "/a");
    expect_ok("/v1/notes/42", "/v1/notes/42");
    expect_ok("/%41%62c", "/Abc");
    expect_ok("/a%20b", "/a b");
    expect_ok("/%7e%7E", "/~~");
    expect_ok("/%3F%23", "/?#");
    expect_ok("/%25", "/%");
    expect_ok("/...", "/...");
    expect_ok("/.a/a./..b", "/.a/a./..b");
    expect_ok("/%2e%2e%2e", "/...");
    expect_ok("/..;", "/..;");
}

static void test_plus_left_alone(void **state)
{
    (void)state;
    expect_ok("/a+b", "/a+b");
    expect_ok("/+", "/+");
    expect_ok("/%2B", "/+");
}

static void test_decode_once(void **state)
{
    char out[OUTCAP];
    size_t len;

    (void)state;
    expect_ok("/%252e", "/%2e");
    expect_ok("/%252e%252e/x", "/%2e%2e/x");
    expect_ok("/%252F", "/%2F");
    expect_ok("/%255c", "/%5c");
    expect_ok("/%2500", "/%00");
    expect_ok("/%25%32%65", "/%2e");
    /* Decoding a second time would have produced the dangerous form. */
    assert_int_equal(canon("/%2e%2e", out, &len), BW_PATH_DOT_SEGMENT);
    assert_int_equal(canon("/%2F", out, &len), BW_PATH_ENCODED_SLASH);
}

static void test_valid_utf8(void **state)
{
    (void)state;
    expect_ok("/caf%C3%A9", "/caf\xC3\xA9");             /* 2 bytes, encoded */
    expect_ok("/caf\xC3\xA9", "/caf\xC3\xA9");           /* 2 bytes, raw */
    expect_ok("/%E2%82%AC", "/\xE2\x82\xAC");            /* 3 bytes: euro sign */
    expect_ok("/\xE2\x82\xAC", "/\xE2\x82\xAC");         /* 3 bytes, raw */
    expect_ok("/%F0%9F%98%80", "/\xF0\x9F\x98\x80");     /* 4 bytes: U+1F600 */
    expect_ok("/\xF0\x9F\x98\x80", "/\xF0\x9F\x98\x80"); /* 4 bytes, raw */
    expect_ok("/%C2%80%DF%BF", "/\xC2\x80\xDF\xBF");     /* U+0080, U+07FF */
    expect_ok("/%E0%A0%80", "/\xE0\xA0\x80");            /* U+0800 */
    expect_ok("/%ED%9F%BF", "/\xED\x9F\xBF");            /* U+D7FF, just below surrogates */
    expect_ok("/%EE%80%80", "/\xEE\x80\x80");            /* U+E000, just above */
    expect_ok("/%F0%90%80%80", "/\xF0\x90\x80\x80");     /* U+10000 */
    expect_ok("/%F4%8F%BF%BF", "/\xF4\x8F\xBF\xBF");     /* U+10FFFF */
    expect_ok("/%C3%A9/%E2%82%AC", "/\xC3\xA9/\xE2\x82\xAC");
}

static void test_empty(void **state)
{
    char out[OUTCAP];
    size_t len = 7;

    (void)state;
    assert_int_equal(bw_path_canonicalize(NULL, 0, NULL, out, sizeof out, &len), BW_PATH_EMPTY);
    assert_int_equal(len, 0);
    assert_int_equal(bw_path_canonicalize(NULL, 5, NULL, out, sizeof out, &len), BW_PATH_EMPTY);
    assert_int_equal(bw_path_canonicalize("/abc", 0, NULL, out, sizeof out, &len), BW_PATH_EMPTY);
}

static void test_not_absolute(void **state)
{
    (void)state;
    REFUSE({"a", BW_PATH_NOT_ABSOLUTE}, {"a/b", BW_PATH_NOT_ABSOLUTE}, {"*", BW_PATH_NOT_ABSOLUTE},
           {"http://x/", BW_PATH_NOT_ABSOLUTE}, {"%2Fa", BW_PATH_NOT_ABSOLUTE},
           {".", BW_PATH_NOT_ABSOLUTE}, {"\\a", BW_PATH_NOT_ABSOLUTE});
}

static void test_too_long(void **state)
{
    char raw[BW_PATH_DEFAULT_MAX_BYTES + 2];
    char out[BW_PATH_DEFAULT_MAX_BYTES + 2];
    bw_path_limits lim = {8, 0};
    size_t len;

    (void)state;
    memset(raw, 'a', sizeof raw);
    raw[0] = '/';
    /* Default limit: exactly at it is fine, one past is refused. */
    assert_int_equal(
        bw_path_canonicalize(raw, BW_PATH_DEFAULT_MAX_BYTES, NULL, out, sizeof out, &len),
        BW_PATH_OK);
    assert_int_equal(len, BW_PATH_DEFAULT_MAX_BYTES);
    assert_int_equal(
        bw_path_canonicalize(raw, BW_PATH_DEFAULT_MAX_BYTES + 1, NULL, out, sizeof out, &len),
        BW_PATH_TOO_LONG);
    assert_int_equal(len, 0);
    /* A configured limit counts raw bytes, so an escape counts three. */
    assert_int_equal(bw_path_canonicalize("/abcdefg", 8, &lim, out, sizeof out, &len), BW_PATH_OK);
    assert_int_equal(bw_path_canonicalize("/abcdefgh", 9, &lim, out, sizeof out, &len),
                     BW_PATH_TOO_LONG);
    assert_int_equal(bw_path_canonicalize("/%41%42a", 8, &lim, out, sizeof out, &len), BW_PATH_OK);
    assert_string_equal(out, "/ABa");
    assert_int_equal(bw_path_canonicalize("/%41%42%43", 10, &lim, out, sizeof out, &len),
                     BW_PATH_TOO_LONG);
    /* Output capacity: len + 1 is enough, len is not; no buffer at all is refused too. */
    assert_int_equal(bw_path_canonicalize("/abc", 4, NULL, out, 5, &len), BW_PATH_OK);
    assert_string_equal(out, "/abc");
    assert_int_equal(bw_path_canonicalize("/abc", 4, NULL, out, 4, &len), BW_PATH_TOO_LONG);
    assert_int_equal(out[0], '\0');
    assert_int_equal(bw_path_canonicalize("/abc", 4, NULL, NULL, 100, &len), BW_PATH_TOO_LONG);
    assert_int_equal(bw_path_canonicalize("/abc", 4, NULL, out, 0, &len), BW_PATH_TOO_LONG);
    /* A length near SIZE_MAX must not wrap the capacity check. */
    lim.max_bytes = SIZE_MAX;
    assert_int_equal(bw_path_canonicalize("/abc", SIZE_MAX, &lim, out, sizeof out, &len),
                     BW_PATH_TOO_LONG);
}

static void test_too_many_segments(void **state)
{
    char raw[2 * (BW_PATH_DEFAULT_MAX_SEGMENTS + 1) + 1];
    char out[sizeof raw];
    bw_path_limits lim = {0, 3};
    size_t len, n;

    (void)state;
    for (n = 0; n < BW_PATH_DEFAULT_MAX_SEGMENTS + 1; n++) {
        raw[2 * n] = '/';
        raw[2 * n + 1] = 'x';
    }
    assert_int_equal(
        bw_path_canonicalize(raw, 2 * BW_PATH_DEFAULT_MAX_SEGMENTS, NULL, out, sizeof out, &len),
        BW_PATH_OK);
    assert_int_equal(bw_path_canonicalize(raw, 2 * (BW_PATH_DEFAULT_MAX_SEGMENTS + 1), NULL, out,
                                          sizeof out, &len),
                     BW_PATH_TOO_MANY_SEGMENTS);
    assert_int_equal(bw_path_canonicalize("/a/b/c", 6, &lim, out, sizeof out, &len), BW_PATH_OK);
    assert_int_equal(bw_path_canonicalize("/a/b/c/d", 8, &lim, out, sizeof out, &len),
                     BW_PATH_TOO_MANY_SEGMENTS);
    /* Encoded segments count the same. */
    assert_int_equal(bw_path_canonicalize("/%61/%62/%63", 12, &lim, out, sizeof out, &len),
                     BW_PATH_OK);
    assert_int_equal(bw_path_canonicalize("/%61/%62/%63/%64", 16, &lim, out, sizeof out, &len),
                     BW_PATH_TOO_MANY_SEGMENTS);
    /* "/" has no segment at all. */
    lim.max_segments = 1;
    assert_int_equal(bw_path_canonicalize("/", 1, &lim, out, sizeof out, &len), BW_PATH_OK);
    assert_int_equal(bw_path_canonicalize("/a", 2, &lim, out, sizeof out, &len), BW_PATH_OK);
    assert_int_equal(bw_path_canonicalize("/a/b", 4, &lim, out, sizeof out, &len),
                     BW_PATH_TOO_MANY_SEGMENTS);
}

static void test_bad_percent(void **state)
{
    (void)state;
    REFUSE({"/%", BW_PATH_BAD_PERCENT}, {"/a%", BW_PATH_BAD_PERCENT}, {"/%4", BW_PATH_BAD_PERCENT},
           {"/%zz", BW_PATH_BAD_PERCENT}, {"/%4g", BW_PATH_BAD_PERCENT},
           {"/%g4", BW_PATH_BAD_PERCENT}, {"/% 41", BW_PATH_BAD_PERCENT},
           {"/%%41", BW_PATH_BAD_PERCENT}, {"/%4/a", BW_PATH_BAD_PERCENT},
           {"/%-1", BW_PATH_BAD_PERCENT}, {"/%+1", BW_PATH_BAD_PERCENT});
}

static void test_encoded_slash(void **state)
{
    (void)state;
    REFUSE({"/%2f", BW_PATH_ENCODED_SLASH}, {"/%2F", BW_PATH_ENCODED_SLASH},
           {"/%5c", BW_PATH_ENCODED_SLASH}, {"/%5C", BW_PATH_ENCODED_SLASH},
           {"/a%2F..%2Fetc", BW_PATH_ENCODED_SLASH}, {"/..%5c..%5cwin.ini", BW_PATH_ENCODED_SLASH});
}

static void test_backslash(void **state)
{
    (void)state;
    REFUSE({"/a\\b", BW_PATH_BACKSLASH}, {"/\\", BW_PATH_BACKSLASH},
           {"/x/..\\..\\etc", BW_PATH_BACKSLASH});
}

static void test_nul(void **state)
{
    char out[OUTCAP];
    size_t len;

    (void)state;
    /* Raw NUL: the explicit length carries it; strlen would have stopped there. */
    assert_int_equal(bw_path_canonicalize("/a\0b", 4, NULL, out, sizeof out, &len), BW_PATH_NUL);
    assert_int_equal(bw_path_canonicalize("/\0", 2, NULL, out, sizeof out, &len), BW_PATH_NUL);
    REFUSE({"/%00", BW_PATH_NUL}, {"/a%00.json", BW_PATH_NUL}, {"/%00/x", BW_PATH_NUL});
}

static void test_control(void **state)
{
    (void)state;
    REFUSE({"/a\x01", BW_PATH_CONTROL}, {"/\x1f", BW_PATH_CONTROL}, {"/\x7f", BW_PATH_CONTROL},
           {"/a\tb", BW_PATH_CONTROL}, {"/a\r\nb", BW_PATH_CONTROL}, {"/%01", BW_PATH_CONTROL},
           {"/%1F", BW_PATH_CONTROL}, {"/%1f", BW_PATH_CONTROL}, {"/%7F", BW_PATH_CONTROL},
           {"/%0a", BW_PATH_CONTROL}, {"/%0D%0ASet-Cookie:x", BW_PATH_CONTROL},
           {"/%09", BW_PATH_CONTROL});
    /* Space and '~' (either side of the control ranges) are fine. */
    expect_ok("/%20%7E", "/ ~");
}

static void test_bad_utf8(void **state)
{
    (void)state;
    REFUSE({"/%C0%AE", BW_PATH_BAD_UTF8},                                        /* overlong '.' */
           {"/%C0%AF", BW_PATH_BAD_UTF8},                                        /* overlong '/' */
           {"/%C1%BF", BW_PATH_BAD_UTF8},                                        /* overlong */
           {"/%E0%80%AF", BW_PATH_BAD_UTF8},                                     /* overlong 3 */
           {"/%E0%9F%BF", BW_PATH_BAD_UTF8},                                     /* overlong 3 */
           {"/%F0%80%80%AF", BW_PATH_BAD_UTF8},                                  /* overlong 4 */
           {"/%F0%8F%BF%BF", BW_PATH_BAD_UTF8},                                  /* overlong 4 */
           {"/%ED%A0%80", BW_PATH_BAD_UTF8},                                     /* U+D800 */
           {"/%ED%BF%BF", BW_PATH_BAD_UTF8},                                     /* U+DFFF */
           {"/%F4%90%80%80", BW_PATH_BAD_UTF8},                                  /* U+110000 */
           {"/%F5%80%80%80", BW_PATH_BAD_UTF8}, {"/%FF", BW_PATH_BAD_UTF8},      /* bad lead */
           {"/%80", BW_PATH_BAD_UTF8}, {"/a%BFb", BW_PATH_BAD_UTF8},             /* stray cont. */
           {"/%C3", BW_PATH_BAD_UTF8}, {"/%E2%82", BW_PATH_BAD_UTF8},            /* truncated */
           {"/%F0%9F%98", BW_PATH_BAD_UTF8}, {"/%C3/%A9", BW_PATH_BAD_UTF8},     /* split by / */
           {"/%C3A", BW_PATH_BAD_UTF8}, {"/%E2%82A", BW_PATH_BAD_UTF8},          /* bad cont. */
           {"/\xC0\xAE", BW_PATH_BAD_UTF8}, {"/\xED\xA0\x80", BW_PATH_BAD_UTF8}, /* raw */
           {"/\xC3", BW_PATH_BAD_UTF8}, {"/\xC3%A9x\xFE", BW_PATH_BAD_UTF8});
    /* Truncation is judged on the segment's own bytes, not on whatever lies beyond it in out. */
    {
        char out[16];
        size_t len;
        memset(out, 0xA9, sizeof out);
        assert_int_equal(bw_path_canonicalize("/%C3", 4, NULL, out, sizeof out, &len),
                         BW_PATH_BAD_UTF8);
        memset(out, 0x82, sizeof out);
        assert_int_equal(bw_path_canonicalize("/\xE2", 2, NULL, out, sizeof out, &len),
                         BW_PATH_BAD_UTF8);
        memset(out, 0x80, sizeof out);
        assert_int_equal(bw_path_canonicalize("/%F0%9F/x", 9, NULL, out, sizeof out, &len),
                         BW_PATH_BAD_UTF8);
    }
    /* A raw lead byte completed by an encoded continuation is one sequence after decoding. */
    expect_ok("/\xC3%A9", "/\xC3\xA9");
}

static void test_dot_segment(void **state)
{
    (void)state;
    REFUSE({"/.", BW_PATH_DOT_SEGMENT}, {"/..", BW_PATH_DOT_SEGMENT},
           {"/a/./b", BW_PATH_DOT_SEGMENT}, {"/a/../b", BW_PATH_DOT_SEGMENT},
           {"/a/..", BW_PATH_DOT_SEGMENT}, {"/%2e", BW_PATH_DOT_SEGMENT},
           {"/%2E%2E", BW_PATH_DOT_SEGMENT}, {"/.%2E", BW_PATH_DOT_SEGMENT},
           {"/%2e.", BW_PATH_DOT_SEGMENT}, {"/a/%2e%2e/etc/passwd", BW_PATH_DOT_SEGMENT},
           {"/./", BW_PATH_DOT_SEGMENT});
}

static void test_empty_segment(void **state)
{
    (void)state;
    REFUSE({"//", BW_PATH_EMPTY_SEGMENT}, {"//a", BW_PATH_EMPTY_SEGMENT},
           {"/a//b", BW_PATH_EMPTY_SEGMENT}, {"/a/", BW_PATH_EMPTY_SEGMENT},
           {"/a/b/", BW_PATH_EMPTY_SEGMENT}, {"/%41/", BW_PATH_EMPTY_SEGMENT},
           {"///", BW_PATH_EMPTY_SEGMENT});
}

static void test_limits_defaults(void **state)
{
    char raw[BW_PATH_DEFAULT_MAX_BYTES + 1];
    char out[sizeof raw + 1];
    bw_path_limits zero = {0, 0};
    size_t len;

    (void)state;
    /* Zero fields mean the defaults, not "nothing allowed". */
    memset(raw, 'b', sizeof raw);
    raw[0] = '/';
    assert_int_equal(
        bw_path_canonicalize(raw, BW_PATH_DEFAULT_MAX_BYTES, &zero, out, sizeof out, &len),
        BW_PATH_OK);
    assert_int_equal(bw_path_canonicalize(raw, sizeof raw, &zero, out, sizeof out, &len),
                     BW_PATH_TOO_LONG);
    /* outlen is optional. */
    assert_int_equal(bw_path_canonicalize("/x", 2, NULL, out, sizeof out, NULL), BW_PATH_OK);
    assert_string_equal(out, "/x");
    /* Input need not be NUL-terminated: only len bytes are read. */
    assert_int_equal(bw_path_canonicalize("/abc/def", 4, NULL, out, sizeof out, &len), BW_PATH_OK);
    assert_string_equal(out, "/abc");
}

static void test_strerror(void **state)
{
    (void)state;
    for (int e = BW_PATH_OK; e <= BW_PATH_EMPTY_SEGMENT; e++) {
        const char *s = bw_path_strerror((bw_path_err)e);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (int f = BW_PATH_OK; f < e; f++)
            assert_string_not_equal(s, bw_path_strerror((bw_path_err)f));
    }
    assert_non_null(bw_path_strerror((bw_path_err)999));
    assert_true(strlen(bw_path_strerror((bw_path_err)999)) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_outputs),
        cmocka_unit_test(test_plus_left_alone),
        cmocka_unit_test(test_decode_once),
        cmocka_unit_test(test_valid_utf8),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_not_absolute),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_too_many_segments),
        cmocka_unit_test(test_bad_percent),
        cmocka_unit_test(test_encoded_slash),
        cmocka_unit_test(test_backslash),
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_control),
        cmocka_unit_test(test_bad_utf8),
        cmocka_unit_test(test_dot_segment),
        cmocka_unit_test(test_empty_segment),
        cmocka_unit_test(test_limits_defaults),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
