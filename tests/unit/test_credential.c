/* Unit tests for the credential parser (bw_credential_parse, bw_credential_cookie): the Bearer
 * scheme, the token alphabet and length bounds, Authorization over cookie, Cookie header
 * parsing (pairs, spaces, quotes, look-alike names, repeats, control bytes) and the rule that
 * nothing past the lengths given is read. Every input is copied into a heap block of exactly
 * its length (no NUL after it), so the sanitize build also catches any read beyond it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/credential.h"

#define B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/* A heap copy of s[0..len) with nothing after it; NULL stays NULL. */
static char *exact(const char *s, size_t len)
{
    char *p;

    if (s == NULL)
        return NULL;
    p = malloc(len > 0 ? len : 1);
    assert_non_null(p);
    if (len > 0)
        memcpy(p, s, len);
    return p;
}

/* Parses the two header values (each given with its length) from exact-size copies. On
 * BEARER or COOKIE the token must lie inside the header it came from; it is returned
 * NUL-terminated in tok (which must hold BW_CREDENTIAL_MAX + 1 bytes). */
static bw_credential_kind parse_n(const char *auth, size_t alen, const char *cookie, size_t clen,
                                  char *tok)
{
    char *a = exact(auth, alen), *c = exact(cookie, clen);
    bw_credential out;

    memset(&out, 0xA5, sizeof(out));
    bw_credential_parse(a, alen, c, clen, &out);
    tok[0] = '\0';
    if (out.kind == BW_CREDENTIAL_BEARER) {
        assert_true(out.token >= a + 7 && out.token + out.len == a + alen);
    } else if (out.kind == BW_CREDENTIAL_COOKIE) {
        assert_true(out.token >= c && out.token + out.len <= c + clen);
    } else {
        assert_null(out.token);
        assert_int_equal(out.len, 0);
    }
    if (out.token != NULL) {
        assert_true(out.len >= 1 && out.len <= BW_CREDENTIAL_MAX);
        memcpy(tok, out.token, out.len);
        tok[out.len] = '\0';
    }
    free(a);
    free(c);
    return out.kind;
}

/* The same with NUL-terminated strings (NULL = header absent). */
static bw_credential_kind parse(const char *auth, const char *cookie, char *tok)
{
    return parse_n(auth, auth != NULL ? strlen(auth) : 0, cookie,
                   cookie != NULL ? strlen(cookie) : 0, tok);
}

/* Runs bw_credential_cookie on an exact-size copy of cookie[0..clen); the value found is
 * returned NUL-terminated in val (which must hold clen + 1 bytes). */
static int cookie_n(const char *cookie, size_t clen, const char *name, char *val)
{
    char *c = exact(cookie, clen);
    static const char sentinel = '?';
    const char *v = &sentinel; /* must be overwritten */
    size_t vlen = 12345;
    int rc = bw_credential_cookie(c, clen, name, &v, &vlen);

    val[0] = '\0';
    if (rc == 1) {
        assert_non_null(v);
        assert_true(v >= c && v + vlen <= c + clen);
        memcpy(val, v, vlen);
        val[vlen] = '\0';
    } else if (rc == 0) {
        assert_null(v);
        assert_int_equal(vlen, 0);
    }
    free(c);
    return rc;
}

static int cookie(const char *header, const char *name, char *val)
{
    return cookie_n(header, strlen(header), name, val);
}

/* A string of n token characters, cycling through the alphabet. Caller frees. */
static char *token_of(size_t n)
{
    char *t = malloc(n + 1);

    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        t[i] = B64URL[i % 64];
    t[n] = '\0';
    return t;
}

/* prefix + t, in a malloc'd NUL-terminated string. */
static char *cat(const char *prefix, const char *t)
{
    size_t pl = strlen(prefix), tl = strlen(t);
    char *s = malloc(pl + tl + 1);

    assert_non_null(s);
    memcpy(s, prefix, pl);
    memcpy(s + pl, t, tl + 1);
    return s;
}

/* ---- Authorization: Bearer ------------------------------------------------------------------- */

static void test_bearer_ok(void **state)
{
    char tok[BW_CREDENTIAL_MAX + 1];

    (void)state;
    assert_int_equal(parse("Bearer abc", NULL, tok), BW_CREDENTIAL_BEARER);
    assert_string_equal(tok, "abc");
    assert_int_equal(parse("Bearer x", NULL, tok), BW_CREDENTIAL_BEARER);
    assert_string_equal(tok, "x");
    /* The whole alphabet, an API key's shape included. */
    assert_int_equal(parse("Bearer " B64URL, NULL, tok), BW_CREDENTIAL_BEARER);
    assert_string_equal(tok, B64URL);
    assert_int_equal(
        parse("Bearer bw_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, tok),
        BW_CREDENTIAL_BEARER);
    assert_string_equal(tok, "bw_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
}

static void test_bearer_scheme_case(void **state)
{
    static const char *const ok[] = {"bearer tok", "BEARER tok", "bEaReR tok", "BeArEr tok"};
    char tok[BW_CREDENTIAL_MAX + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(parse(ok[i], NULL, tok), BW_CREDENTIAL_BEARER);
        assert_string_equal(tok, "tok");
    }
}

static void test_bearer_malformed(void **state)
{
    static const char *const bad[] = {
        "",               /* present but empty */
        "Bearer",         /* no space, no token */
        "Bearer ",        /* empty token */
        "Bearer  tok",    /* two spaces */
        "Bearer\ttok",    /* a tab is not the space */
        "Bearer\t tok",   /* nor before it */
        "Bearertok",      /* no separator */
        " Bearer tok",    /* leading space */
        "Bearer tok ",    /* trailing space */
        "Bearer tok tok", /* two tokens */
        "Bearers tok",    /* longer scheme */
        "Bear tok",       /* shorter scheme */
        "Bearer:tok",     /* another separator */
        "Bearer=tok",
    };
    char tok[BW_CREDENTIAL_MAX + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], NULL, tok), BW_CREDENTIAL_BAD);
}

static void test_other_schemes(void **state)
{
    static const char *const bad[] = {
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "Digest username=x",
        "Negotiate abc",
        "MAC abc",
        "Bearar abc",
        "Beare abc",
        "ApiKey abc",
        "bw_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    };
    char tok[BW_CREDENTIAL_MAX + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], NULL, tok), BW_CREDENTIAL_BAD);
}

/* A scheme holding a NUL byte must not match by a C-string comparison stopping early. */
static void test_bearer_nul_in_scheme(void **state)
{
    char tok[BW_CREDENTIAL_MAX + 1];

    (void)state;
    assert_int_equal(parse_n("Bea\0er tok", 10, NULL, 0, tok), BW_CREDENTIAL_BAD);
    assert_int_equal(parse_n("\0earer tok", 10, NULL, 0, tok), BW_CREDENTIAL_BAD);
    assert_int_equal(parse_n("Bearer\0tok", 10, NULL, 0, tok), BW_CREDENTIAL_BAD);
}

static void test_token_length(void **state)
{
    char tok[BW_CREDENTIAL_MAX + 1];
    char *t512 = token_of(BW_CREDENTIAL_MAX), *t513 = token_of(BW_CREDENTIAL_MAX + 1);
    char *a512 = cat("Bearer ", t512), *a513 = cat("Bearer ", t513);
    char *c512 = cat(BW_SESSION_COOKIE "=", t512), *c513 = cat(BW_SESSION_COOKIE "=", t513);

    (void)state;
    assert_int_equal(parse(a512, NULL, tok), BW_CREDENTIAL_BEARER);
    assert_string_equal(tok, t512);
    assert_int_equal(parse(a513, NULL, tok), BW_CREDENTIAL_BAD);
    assert_int_equal(parse(NULL, c512, tok), BW_CREDENTIAL_COOKIE);
    assert_string_equal(tok, t512);
    assert_int_equal(parse(NULL, c513, tok), BW_CREDENTIAL_BAD);
    free(t512);
    free(t513);
    free(a512);
    free(a513);
    free(c512);
    free(c513);
}

/* Every byte value in the middle of a token: only the 64 base64url characters pass, in the
 * header and in the cookie alike. */
static void test_token_alphabet(void **state)
{
    char tok[BW_CREDENTIAL_MAX + 1];

    (void)state;
    for (int b = 0; b < 256; b++) {
        char auth[] = "Bearer ab?cd";
        char ck[] = BW_SESSION_COOKIE "=ab?cd";
        bool in = b != 0 && memchr(B64URL, b, 64) != NULL;
        bw_credential_kind want_auth = in ? BW_CREDENTIAL_BEARER : BW_CREDENTIAL_BAD;

        auth[9] = (char)b;
        ck[sizeof(BW_SESSION_COOKIE) + 2] = (char)b;
        assert_int_equal(parse_n(auth, sizeof(auth) - 1, NULL, 0, tok), want_auth);
        if (in)
            assert_memory_equal(tok, auth + 7, 5);
        /* ';' ends the pair ("ab" is then the value); ' ' and '\t' are not trailing
         * whitespace here; any other refused byte refuses the cookie. */
        if (b == ';') {
            assert_int_equal(parse_n(NULL, 0, ck, sizeof(ck) - 1, tok), BW_CREDENTIAL_COOKIE);
            assert_string_equal(tok, "ab");
        } else {
            assert_int_equal(parse_n(NULL, 0, ck, sizeof(ck) - 1, tok),
                             in ? BW_CREDENTIAL_COOKIE : BW_CREDENTIAL_BAD);
        }
    }
    /* The characters the brief names, one by one, at either end too. */
    static const char *const bad[] = {
        "Bearer abc=",  "Bearer ab+c",     "Bearer a/bc",    "Bearer a.bc", "Bearer a bc",
        "Bearer a\tbc", "Bearer \xc3\xa9", "Bearer abc\x80", "Bearer =abc", "Bearer abc\xff",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], NULL, tok), BW_CREDENTIAL_BAD);
    assert_int_equal(parse_n("Bearer ab\0c", 11, NULL, 0, tok), BW_CREDENTIAL_BAD);
}

/* ---- which credential wins ------------------------------------------------------------------- */

static void test_authorization_wins(void **state)
{
    char tok[BW_CREDENTIAL_MAX + 1];

    (void)state;
    assert_int_equal(parse("Bearer hdr", BW_SESSION_COOKIE "=ck", tok), BW_CREDENTIAL_BEARER);
    assert_string_equal(tok, "hdr");
    /* The header wins even when the cookie header is malformed. */
    assert_int_equal(
        parse("Bearer hdr", BW_SESSION_COOKIE "=a; " BW_SESSION_COOKIE "=b; x=\x01", tok),
        BW_CREDENTIAL_BEARER);
    assert_string_equal(tok, "hdr");
    /* A bad header is not rescued by a good cookie. */
    assert_int_equal(parse("Basic abc", BW_SESSION_COOKIE "=ck", tok), BW_CREDENTIAL_BAD);
    assert_int_equal(parse("", BW_SESSION_COOKIE "=ck", tok), BW_CREDENTIAL_BAD);
    /* Without the header, the cookie. */
    assert_int_equal(parse(NULL, BW_SESSION_COOKIE "=ck", tok), BW_CREDENTIAL_COOKIE);
    assert_string_equal(tok, "ck");
}

static void test_none(void **state)
{
    char tok[BW_CREDENTIAL_MAX + 1];

    (void)state;
    assert_int_equal(parse(NULL, NULL, tok), BW_CREDENTIAL_NONE);
    assert_int_equal(parse(NULL, "", tok), BW_CREDENTIAL_NONE);
    assert_int_equal(parse(NULL, "a=1; b=2", tok), BW_CREDENTIAL_NONE);
    assert_int_equal(parse(NULL, BW_CSRF_COOKIE "=abc", tok), BW_CREDENTIAL_NONE);
    /* A look-alike or a bare name is no session cookie. */
    assert_int_equal(parse(NULL, BW_SESSION_COOKIE "2=abc; x" BW_SESSION_COOKIE "=abc", tok),
                     BW_CREDENTIAL_NONE);
    assert_int_equal(parse(NULL, BW_SESSION_COOKIE, tok), BW_CREDENTIAL_NONE);
}

static void test_cookie_session_values(void **state)
{
    char tok[BW_CREDENTIAL_MAX + 1];

    (void)state;
    assert_int_equal(parse(NULL, "a=1; " BW_SESSION_COOKIE "=tok; b=2", tok), BW_CREDENTIAL_COOKIE);
    assert_string_equal(tok, "tok");
    assert_int_equal(parse(NULL, BW_SESSION_COOKIE "=\"tok\"", tok), BW_CREDENTIAL_COOKIE);
    assert_string_equal(tok, "tok");
    /* Empty, empty quotes, a lone or unbalanced quote, a value with '=': malformed. */
    assert_int_equal(parse(NULL, BW_SESSION_COOKIE "=", tok), BW_CREDENTIAL_BAD);
    assert_int_equal(parse(NULL, BW_SESSION_COOKIE "=\"\"", tok), BW_CREDENTIAL_BAD);
    assert_int_equal(parse(NULL, BW_SESSION_COOKIE "=\"", tok), BW_CREDENTIAL_BAD);
    assert_int_equal(parse(NULL, BW_SESSION_COOKIE "=\"tok", tok), BW_CREDENTIAL_BAD);
    assert_int_equal(parse(NULL, BW_SESSION_COOKIE "=tok=", tok), BW_CREDENTIAL_BAD);
    assert_int_equal(parse(NULL, BW_SESSION_COOKIE "=to ok", tok), BW_CREDENTIAL_BAD);
    /* Twice, even with the same value: malformed. */
    assert_int_equal(parse(NULL, BW_SESSION_COOKIE "=tok; " BW_SESSION_COOKIE "=tok", tok),
                     BW_CREDENTIAL_BAD);
    assert_int_equal(parse(NULL, BW_SESSION_COOKIE "=tok; a=1; " BW_SESSION_COOKIE "=", tok),
                     BW_CREDENTIAL_BAD);
    /* A control byte anywhere in the header. */
    assert_int_equal(parse(NULL, BW_SESSION_COOKIE "=tok; a=\x01", tok), BW_CREDENTIAL_BAD);
    /* Bytes >= 0x80 in another cookie do not matter; in the session value they do. */
    assert_int_equal(parse(NULL, "a=\xc3\xa9; " BW_SESSION_COOKIE "=tok", tok),
                     BW_CREDENTIAL_COOKIE);
    assert_int_equal(parse(NULL, BW_SESSION_COOKIE "=t\xc3\xa9", tok), BW_CREDENTIAL_BAD);
}

/* ---- bw_credential_cookie -------------------------------------------------------------------- */

static void test_cookie_pairs(void **state)
{
    char v[256];

    (void)state;
    assert_int_equal(cookie("a=1; b=22; c=333", "a", v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(cookie("a=1; b=22; c=333", "b", v), 1);
    assert_string_equal(v, "22");
    assert_int_equal(cookie("a=1; b=22; c=333", "c", v), 1);
    assert_string_equal(v, "333");
    assert_int_equal(cookie("a=1; b=22; c=333", "d", v), 0);
    /* Empty value, and a value holding '='. */
    assert_int_equal(cookie("a=; b=x=y", "a", v), 1);
    assert_string_equal(v, "");
    assert_int_equal(cookie("a=; b=x=y", "b", v), 1);
    assert_string_equal(v, "x=y");
    /* Names are case-sensitive and compared whole. */
    assert_int_equal(cookie("A=1", "a", v), 0);
    assert_int_equal(cookie("ab=1; ba=2", "a", v), 0);
    assert_int_equal(cookie("", "a", v), 0);
}

static void test_cookie_spaces_and_separators(void **state)
{
    char v[256];

    (void)state;
    assert_int_equal(cookie("   a=1   ;   b=2   ", "a", v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(cookie("   a=1   ;   b=2   ", "b", v), 1);
    assert_string_equal(v, "2");
    assert_int_equal(cookie("\ta=1", "a", v), 1);
    assert_string_equal(v, "1");
    /* Spaces inside the value are kept; around '=' they make another name. */
    assert_int_equal(cookie("a=x y", "a", v), 1);
    assert_string_equal(v, "x y");
    assert_int_equal(cookie("a =1", "a", v), 0);
    /* A lone ';' (no space), empty pairs, separators at either end. */
    assert_int_equal(cookie("a=1;b=2", "b", v), 1);
    assert_string_equal(v, "2");
    assert_int_equal(cookie(";a=1", "a", v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(cookie("a=1;", "a", v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(cookie("a=1; ; ;; b=2", "b", v), 1);
    assert_string_equal(v, "2");
    assert_int_equal(cookie(";", "a", v), 0);
    assert_int_equal(cookie(" ; ;; ", "a", v), 0);
}

static void test_cookie_quotes(void **state)
{
    char v[256];

    (void)state;
    assert_int_equal(cookie("a=\"xyz\"", "a", v), 1);
    assert_string_equal(v, "xyz");
    assert_int_equal(cookie("a=\"\"", "a", v), 1);
    assert_string_equal(v, "");
    /* Only a matching pair is removed, once. */
    assert_int_equal(cookie("a=\"", "a", v), 1);
    assert_string_equal(v, "\"");
    assert_int_equal(cookie("a=\"x", "a", v), 1);
    assert_string_equal(v, "\"x");
    assert_int_equal(cookie("a=x\"", "a", v), 1);
    assert_string_equal(v, "x\"");
    assert_int_equal(cookie("a=\"\"x\"\"", "a", v), 1);
    assert_string_equal(v, "\"x\"");
    assert_int_equal(cookie("a= \"x\" ", "a", v), 1);
    assert_string_equal(v, " \"x\"");
}

static void test_cookie_lookalikes(void **state)
{
    char v[256];

    (void)state;
    assert_int_equal(cookie(BW_SESSION_COOKIE "2=a", BW_SESSION_COOKIE, v), 0);
    assert_int_equal(cookie("x" BW_SESSION_COOKIE "=a", BW_SESSION_COOKIE, v), 0);
    assert_int_equal(cookie("__Host-bw_sessio=a", BW_SESSION_COOKIE, v), 0);
    assert_int_equal(cookie("__host-bw_session=a", BW_SESSION_COOKIE, v), 0);
    assert_int_equal(cookie("__Secure-bw_session=a", BW_SESSION_COOKIE, v), 0);
    /* Look-alikes do not count as a repeat either. */
    assert_int_equal(cookie(BW_SESSION_COOKIE "2=a; x" BW_SESSION_COOKIE "=b; " BW_SESSION_COOKIE
                                              "=c; " BW_SESSION_COOKIE "x=d",
                            BW_SESSION_COOKIE, v),
                     1);
    assert_string_equal(v, "c");
}

static void test_cookie_repeated(void **state)
{
    char v[256];

    (void)state;
    assert_int_equal(cookie("a=1; a=2", "a", v), -1);
    assert_int_equal(cookie("a=1; a=1", "a", v), -1);
    assert_int_equal(cookie("a=1;b=2;a=", "a", v), -1);
    assert_int_equal(cookie("a=\"1\"; a=\"1\"", "a", v), -1);
    /* Another cookie repeated is not our business. */
    assert_int_equal(cookie("b=1; b=2; a=3", "a", v), 1);
    assert_string_equal(v, "3");
    /* A bare "a" names no cookie, so it is no repeat. */
    assert_int_equal(cookie("a; a=1; a", "a", v), 1);
    assert_string_equal(v, "1");
}

static void test_cookie_control_bytes(void **state)
{
    static const char ctl[] = {0x01, 0x08, 0x0a, 0x0d, 0x1b, 0x1f, 0x7f};
    char v[256];

    (void)state;
    for (size_t i = 0; i < sizeof(ctl); i++) {
        char h[] = "a=1; b=x?y; c=3";

        h[8] = ctl[i];
        /* Anywhere in the header, whichever cookie is asked for. */
        assert_int_equal(cookie(h, "a", v), -1);
        assert_int_equal(cookie(h, "c", v), -1);
        assert_int_equal(cookie(h, "zz", v), -1);
    }
    /* A NUL byte inside the given length. */
    assert_int_equal(cookie_n("a=1\0; b=2", 9, "b", v), -1);
    /* A tab inside a value. */
    assert_int_equal(cookie("a=x\ty", "a", v), -1);
    /* Bytes >= 0x80 are no control bytes. */
    assert_int_equal(cookie("b=\x80\xff; a=1", "a", v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(cookie("a=\xc3\xa9", "a", v), 1);
    assert_string_equal(v, "\xc3\xa9");
}

static void test_cookie_pair_without_equals(void **state)
{
    char v[256];

    (void)state;
    assert_int_equal(cookie("a", "a", v), 0);
    assert_int_equal(cookie("a; b=2", "a", v), 0);
    assert_int_equal(cookie("junk; a=1; more junk", "a", v), 1);
    assert_string_equal(v, "1");
    /* An empty name is no name. */
    assert_int_equal(cookie("=1; a=2", "a", v), 1);
    assert_string_equal(v, "2");
}

/* ---- explicit lengths ------------------------------------------------------------------------ */

/* Each buffer continues, past the length given, with bytes that would change the answer. */
static void test_lengths_respected(void **state)
{
    static const char two[] = BW_SESSION_COOKIE "=abc; " BW_SESSION_COOKIE "=def";
    static const char ctl[] = BW_SESSION_COOKIE "=abc\x01";
    static const char later[] = "a=1; " BW_SESSION_COOKIE "=abc";
    static const char quoted[] = "a=\"xyz\"";
    char tok[BW_CREDENTIAL_MAX + 1], v[256];
    const size_t first = sizeof(BW_SESSION_COOKIE "=abc") - 1;

    (void)state;
    /* Authorization: the '!' and the space after the length are never seen. */
    assert_int_equal(parse_n("Bearer abc!", 10, NULL, 0, tok), BW_CREDENTIAL_BEARER);
    assert_string_equal(tok, "abc");
    assert_int_equal(parse_n("Bearer abc def", 10, NULL, 0, tok), BW_CREDENTIAL_BEARER);
    assert_string_equal(tok, "abc");
    /* Cut at the space or inside the scheme: no token. */
    assert_int_equal(parse_n("Bearer abc", 7, NULL, 0, tok), BW_CREDENTIAL_BAD);
    assert_int_equal(parse_n("Bearer abc", 6, NULL, 0, tok), BW_CREDENTIAL_BAD);
    assert_int_equal(parse_n("Bearer abc", 0, NULL, 0, tok), BW_CREDENTIAL_BAD);
    /* 512 characters followed by more in the buffer: the length decides. */
    {
        char *t = token_of(BW_CREDENTIAL_MAX + 8), *a = cat("Bearer ", t);

        assert_int_equal(parse_n(a, 7 + BW_CREDENTIAL_MAX, NULL, 0, tok), BW_CREDENTIAL_BEARER);
        assert_memory_equal(tok, t, BW_CREDENTIAL_MAX);
        assert_int_equal(parse_n(a, 8 + BW_CREDENTIAL_MAX, NULL, 0, tok), BW_CREDENTIAL_BAD);
        free(t);
        free(a);
    }
    /* Cookie: the repeat, the control byte and the later session cookie lie past clen. */
    assert_int_equal(parse_n(NULL, 0, two, first, tok), BW_CREDENTIAL_COOKIE);
    assert_string_equal(tok, "abc");
    assert_int_equal(parse_n(NULL, 0, two, sizeof(two) - 1, tok), BW_CREDENTIAL_BAD);
    assert_int_equal(parse_n(NULL, 0, ctl, sizeof(ctl) - 2, tok), BW_CREDENTIAL_COOKIE);
    assert_string_equal(tok, "abc");
    assert_int_equal(parse_n(NULL, 0, ctl, sizeof(ctl) - 1, tok), BW_CREDENTIAL_BAD);
    assert_int_equal(parse_n(NULL, 0, later, 5, tok), BW_CREDENTIAL_NONE);
    assert_int_equal(parse_n(NULL, 0, later, 12, tok), BW_CREDENTIAL_NONE); /* mid-name */
    assert_int_equal(parse_n(NULL, 0, later, sizeof(later) - 2, tok), BW_CREDENTIAL_COOKIE);
    assert_string_equal(tok, "ab");
    /* A cookie length of 0 with a pointer is an empty header. */
    assert_int_equal(parse_n(NULL, 0, later, 0, tok), BW_CREDENTIAL_NONE);
    /* The closing quote past the length: the value keeps its opening one. */
    assert_int_equal(cookie_n(quoted, sizeof(quoted) - 2, "a", v), 1);
    assert_string_equal(v, "\"xyz");
    assert_int_equal(cookie_n(two, first - 1, BW_SESSION_COOKIE, v), 1);
    assert_string_equal(v, "ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bearer_ok),
        cmocka_unit_test(test_bearer_scheme_case),
        cmocka_unit_test(test_bearer_malformed),
        cmocka_unit_test(test_other_schemes),
        cmocka_unit_test(test_bearer_nul_in_scheme),
        cmocka_unit_test(test_token_length),
        cmocka_unit_test(test_token_alphabet),
        cmocka_unit_test(test_authorization_wins),
        cmocka_unit_test(test_none),
        cmocka_unit_test(test_cookie_session_values),
        cmocka_unit_test(test_cookie_pairs),
        cmocka_unit_test(test_cookie_spaces_and_separators),
        cmocka_unit_test(test_cookie_quotes),
        cmocka_unit_test(test_cookie_lookalikes),
        cmocka_unit_test(test_cookie_repeated),
        cmocka_unit_test(test_cookie_control_bytes),
        cmocka_unit_test(test_cookie_pair_without_equals),
        cmocka_unit_test(test_lengths_respected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
