/* Secrets are compared in constant time (bulwark/ct.h). This test reads every
 * .c and .h under framework/src and app and fails on each call of memcmp,
 * strcmp, strncmp, strcasecmp, strncasecmp or bcmp whose arguments name a
 * secret-looking identifier, listing file:line. False positives go in the
 * allow-list below as exact (file, call text) pairs, each with its reason;
 * an entry that no longer matches anything fails the test too. */
#include <ctype.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_FILE_BYTES ((size_t)8 * 1024 * 1024)
#define MAX_CALL_TEXT 512u

static const char *const COMPARES[] = {"memcmp",     "strcmp",      "strncmp",
                                       "strcasecmp", "strncasecmp", "bcmp"};

/* Matched anywhere inside an identifier, case-insensitively: "hmac",
 * "pwhash" and "csrfToken" all count. */
static const char *const SECRET_WORDS[] = {
    "token", "secret", "password", "passwd", "hash",      "mac", "digest",
    "csrf",  "apikey", "api_key",  "key",    "signature", "sig",
};

typedef struct allow {
    const char *file; /* relative to the repository root */
    const char *call; /* the call, whitespace runs collapsed to one space */
    bool used;
} allow;

/* Each entry compares something that is not a secret although a word in it
 * looks like one. Keep reasons specific. */
static allow ALLOW[] = {
    /* The dotted path of a configuration key ("secrets.session_key"), looked
     * up in the static table of known keys: a name, not a key's value. */
    {"framework/src/config/config_table.c", "memcmp(keys[i].path, path, len)", false},
    /* The BULWARK_* environment variable name that overrides a config key. */
    {"framework/src/config/config.c", "memcmp(keys[i].env, name, len)", false},
    /* JSON object member names of a header rule in the config file ("set",
     * "remove", "routes"): `key` is the member's name. */
    {"framework/src/config/config_headers.c", "strcmp(key, \"set\")", false},
    {"framework/src/config/config_headers.c", "strcmp(key, \"remove\")", false},
    {"framework/src/config/config_headers.c", "strcmp(key, \"routes\")", false},
    /* A JSON Schema keyword name ("type", "minLength") against the table of
     * keywords the validator knows. */
    {"framework/src/validate/schema.c", "strcmp(KEYWORDS[i].name, k)", false},
    /* Names of an audit record's detail fields ("reason", "truncated"): the
     * field's name, never its value. */
    {"framework/src/audit/audit.c", "strcmp(d[i].key, \"truncated\")", false},
    {"framework/src/audit/audit.c", "strcmp(d[j].key, d[i].key)", false},
    /* A request header's name against the CSRF header's name, so that the
     * attack scanner skips the header that carries the token. */
    {"framework/src/core/stage_audit.c", "strcasecmp(name, BW_CSRF_HEADER)", false},
    /* A JWKS key id ("kid") against the other keys' ids, to refuse duplicates when
     * the public key set is loaded: an id is public, the keys are public keys. */
    {"framework/src/auth/jwt.c", "memcmp(ks->keys[j].kid, k->kid, k->kidlen)", false},
};

typedef struct scan_out {
    size_t hits;
    char first[MAX_CALL_TEXT]; /* the first flagged call, for the self-test */
} scan_out;

static bool ident_start(unsigned char c)
{
    return isalpha(c) || c == '_';
}

static bool ident_char(unsigned char c)
{
    return isalnum(c) || c == '_';
}

/* A copy of src with comments and the contents of string and character
 * literals turned into spaces (newlines kept, so lines still count), and one
 * with only the comments blanked (for the call text). */
static void blank(const char *src, size_t len, char *nolit, char *nocom)
{
    enum { CODE, LINE_C, BLOCK_C, STR, CHR } st = CODE;

    for (size_t i = 0; i < len; i++) {
        char c = src[i], next = '\0';
        char keep = c == '\n' ? '\n' : ' ';

        if (i + 1 < len)
            next = src[i + 1];
        nolit[i] = nocom[i] = c;
        switch (st) {
        case CODE:
            if (c == '/' && next == '/') {
                st = LINE_C;
                nolit[i] = nocom[i] = ' ';
            } else if (c == '/' && next == '*') {
                st = BLOCK_C;
                nolit[i] = nocom[i] = ' ';
                nolit[i + 1] = nocom[i + 1] = ' ';
                i++;
            } else if (c == '"') {
                st = STR;
            } else if (c == '\'') {
                st = CHR;
            }
            break;
        case LINE_C:
            nolit[i] = nocom[i] = keep;
            if (c == '\n')
                st = CODE;
            break;
        case BLOCK_C:
            nolit[i] = nocom[i] = keep;
            if (c == '*' && next == '/') {
                nolit[i + 1] = nocom[i + 1] = ' ';
                i++;
                st = CODE;
            }
            break;
        case STR:
        case CHR:
            if (c == '\\' && i + 1 < len) {
                nolit[i] = ' ';
                nolit[i + 1] = src[i + 1] == '\n' ? '\n' : ' ';
                nocom[i + 1] = src[i + 1];
                i++;
            } else if ((st == STR && c == '"') || (st == CHR && c == '\'') || c == '\n') {
                st = CODE;
            } else {
                nolit[i] = ' ';
            }
            break;
        }
    }
}

static bool is_compare(const char *p, size_t n)
{
    for (size_t i = 0; i < sizeof COMPARES / sizeof COMPARES[0]; i++) {
        if (strlen(COMPARES[i]) == n && strncmp(p, COMPARES[i], n) == 0)
            return true;
    }
    return false;
}

static bool is_secret_word(const char *p, size_t n)
{
    char lower[128];

    if (n >= sizeof lower)
        n = sizeof lower - 1;
    for (size_t i = 0; i < n; i++)
        lower[i] = (char)tolower((unsigned char)p[i]);
    lower[n] = '\0';
    for (size_t i = 0; i < sizeof SECRET_WORDS / sizeof SECRET_WORDS[0]; i++) {
        if (strstr(lower, SECRET_WORDS[i]) != NULL)
            return true;
    }
    return false;
}

/* True when an identifier in a[0..n) (literals already blanked) looks secret. */
static bool names_secret(const char *a, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = (unsigned char)a[i];
        if (isdigit(c)) { /* a number, hex and suffixes included */
            while (i < n && (ident_char((unsigned char)a[i]) || a[i] == '.'))
                i++;
        } else if (ident_start(c)) {
            size_t s = i;
            while (i < n && ident_char((unsigned char)a[i]))
                i++;
            if (is_secret_word(a + s, i - s))
                return true;
        } else {
            i++;
        }
    }
    return false;
}

/* The call text p[0..n) with every whitespace run made one space. */
static void squeeze(const char *p, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    bool space = false;

    for (size_t i = 0; i < n && o + 1 < outlen; i++) {
        if (isspace((unsigned char)p[i])) {
            space = true;
            continue;
        }
        if (space && o > 0 && out[o - 1] != '(' && p[i] != ')')
            out[o++] = ' ';
        space = false;
        if (o + 1 < outlen)
            out[o++] = p[i];
    }
    out[o] = '\0';
}

static bool allowed(allow *list, size_t nlist, const char *file, const char *call)
{
    for (size_t i = 0; i < nlist; i++) {
        if (strcmp(list[i].file, file) == 0 && strcmp(list[i].call, call) == 0) {
            list[i].used = true;
            return true;
        }
    }
    return false;
}

/* Scans src[0..len), named file (relative path), and reports each flagged
 * call not on the allow-list. Returns -1 when out of memory. */
static int scan_source(const char *file, const char *src, size_t len, allow *list, size_t nlist,
                       scan_out *out)
{
    char *nolit = malloc(len + 1), *nocom = malloc(len + 1);
    size_t i = 0;

    if (nolit == NULL || nocom == NULL) {
        free(nolit);
        free(nocom);
        return -1;
    }
    blank(src, len, nolit, nocom);
    while (i < len) {
        size_t s = i, p, depth, close;

        if (isdigit((unsigned char)nolit[i])) {
            while (i < len && ident_char((unsigned char)nolit[i]))
                i++;
            continue;
        }
        if (!ident_start((unsigned char)nolit[i])) {
            i++;
            continue;
        }
        while (i < len && ident_char((unsigned char)nolit[i]))
            i++;
        if (!is_compare(nolit + s, i - s))
            continue;
        for (p = i; p < len && isspace((unsigned char)nolit[p]); p++)
            ;
        if (p >= len || nolit[p] != '(')
            continue; /* named, not called (a function pointer) */
        /* close: the matching ')', or len when the file ends first. */
        depth = 0;
        for (close = p; close < len; close++) {
            if (nolit[close] == '(')
                depth++;
            else if (nolit[close] == ')' && --depth == 0)
                break;
        }
        if (names_secret(nolit + p + 1, close - p - 1)) {
            char call[MAX_CALL_TEXT];

            /* name + "(...)": no space between, however the source spaced it. */
            memcpy(call, nocom + s, i - s);
            squeeze(nocom + p, (close < len ? close + 1 : len) - p, call + (i - s),
                    sizeof call - (i - s));
            if (!allowed(list, nlist, file, call)) {
                size_t line = 1;
                for (size_t k = 0; k < s; k++)
                    line += src[k] == '\n';
                print_message("%s:%zu: %s\n", file, line, call);
                if (out->hits == 0)
                    memcpy(out->first, call, sizeof call);
                out->hits++;
            }
        }
    }
    free(nolit);
    free(nocom);
    return 0;
}

/* ---- the tree ---------------------------------------------------------- */

static scan_out tree_out;
static size_t tree_files;
static int tree_err;

static bool source_name(const char *path)
{
    size_t n = strlen(path);
    return n > 2 && path[n - 2] == '.' && (path[n - 1] == 'c' || path[n - 1] == 'h');
}

static int visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    size_t root = strlen(BW_SOURCE_DIR) + 1;
    FILE *f;
    char *buf;
    size_t n;

    (void)ftw;
    if (type != FTW_F || !source_name(path))
        return 0;
    if (sb->st_size < 0 || (size_t)sb->st_size > MAX_FILE_BYTES) {
        print_error("%s: too large to scan\n", path);
        tree_err = -1;
        return 0;
    }
    f = fopen(path, "rb");
    buf = malloc((size_t)sb->st_size + 1);
    if (f == NULL || buf == NULL) {
        print_error("%s: cannot read\n", path);
        tree_err = -1;
        if (f != NULL)
            (void)fclose(f);
        free(buf);
        return 0;
    }
    n = fread(buf, 1, (size_t)sb->st_size, f);
    (void)fclose(f);
    tree_files++;
    if (scan_source(path + root, buf, n, ALLOW, sizeof ALLOW / sizeof ALLOW[0], &tree_out) != 0)
        tree_err = -1;
    free(buf);
    return 0;
}

static void test_tree(void **state)
{
    static const char *const DIRS[] = {BW_SOURCE_DIR "/framework/src", BW_SOURCE_DIR "/app"};
    size_t stale = 0;

    (void)state;
    for (size_t i = 0; i < sizeof DIRS / sizeof DIRS[0]; i++)
        assert_int_equal(nftw(DIRS[i], visit, 16, FTW_PHYS), 0);
    print_message("scanned %zu files, %zu flagged\n", tree_files, tree_out.hits);
    for (size_t i = 0; i < sizeof ALLOW / sizeof ALLOW[0]; i++) {
        if (!ALLOW[i].used) {
            print_message("stale allow-list entry: %s: %s\n", ALLOW[i].file, ALLOW[i].call);
            stale++;
        }
    }
    assert_int_equal(tree_err, 0);
    assert_true(tree_files > 10);
    assert_int_equal(tree_out.hits, 0);
    assert_int_equal(stale, 0);
}

/* ---- the scanner itself ------------------------------------------------ */

static size_t scan_text(const char *text, scan_out *out, allow *list, size_t nlist)
{
    memset(out, 0, sizeof *out);
    assert_int_equal(scan_source("self-test.c", text, strlen(text), list, nlist, out), 0);
    return out->hits;
}

static void test_scanner_flags(void **state)
{
    scan_out out;

    (void)state;
    assert_int_equal(scan_text("int f(void) { return memcmp(token, expected, n); }", &out, NULL, 0),
                     1);
    assert_string_equal(out.first, "memcmp(token, expected, n)");
    /* Case-insensitive, inside longer names, every comparison function. */
    assert_int_equal(scan_text("strcmp(req->csrfToken, c)", &out, NULL, 0), 1);
    assert_int_equal(scan_text("strncmp(a, user.PasswordHash, 32)", &out, NULL, 0), 1);
    assert_int_equal(scan_text("strcasecmp(x, apiKey)", &out, NULL, 0), 1);
    assert_int_equal(scan_text("strncasecmp(x, api_key, 3)", &out, NULL, 0), 1);
    assert_int_equal(scan_text("bcmp(HMAC_out, b, 32)", &out, NULL, 0), 1);
    assert_int_equal(scan_text("memcmp(a, b, sizeof(sig))", &out, NULL, 0), 1);
    assert_int_equal(scan_text("memcmp(s->digest, x, n) + strcmp(passwd, y)", &out, NULL, 0), 2);
    /* Across lines, with whitespace before the parenthesis; reported at the name. */
    assert_int_equal(scan_text("x;\n\nok = memcmp (\n  stored_secret,\n  got, n);", &out, NULL, 0),
                     1);
    assert_string_equal(out.first, "memcmp(stored_secret, got, n)");
    /* Nested parentheses stay inside the call. */
    assert_int_equal(scan_text("memcmp(f(a), g(b, session_key), n(c))", &out, NULL, 0), 1);
    /* A file that ends inside the call. */
    assert_int_equal(scan_text("memcmp(mac, x", &out, NULL, 0), 1);
    assert_string_equal(out.first, "memcmp(mac, x");
    assert_int_equal(scan_text("memcmp(", &out, NULL, 0), 0);
}

static void test_scanner_passes(void **state)
{
    scan_out out;

    (void)state;
    assert_int_equal(
        scan_text("int f(void) { return bw_ct_eq(token, expected, n); }", &out, NULL, 0), 0);
    assert_int_equal(scan_text("sodium_memcmp(token, expected, n)", &out, NULL, 0), 0);
    assert_int_equal(scan_text("my_strcmp(secret, x)", &out, NULL, 0), 0);
    /* Nothing secret in the arguments. */
    assert_int_equal(scan_text("memcmp(name, \"token\", 5)", &out, NULL, 0), 0);
    assert_int_equal(scan_text("strcasecmp(hdr, \"Authorization\")", &out, NULL, 0), 0);
    assert_int_equal(scan_text("strcmp(a, b) == 0 && token", &out, NULL, 0), 0);
    /* Comments and string literals are not code. */
    assert_int_equal(scan_text("/* memcmp(token, x, 1) */ f();", &out, NULL, 0), 0);
    assert_int_equal(scan_text("// strcmp(secret, x)\nf();", &out, NULL, 0), 0);
    assert_int_equal(scan_text("puts(\"memcmp(token, x, 1)\");", &out, NULL, 0), 0);
    assert_int_equal(scan_text("puts(\"a\\\"b\"); strcmp(s, \"key\\\")\")", &out, NULL, 0), 0);
    assert_int_equal(scan_text("c = '\"'; strcmp(s, t); /* key */", &out, NULL, 0), 0);
    /* Named without a call: a function pointer. */
    assert_int_equal(scan_text("qsort(keys, n, sizeof *keys, cmp); f = strcmp;", &out, NULL, 0), 0);
}

static void test_scanner_allow_list(void **state)
{
    allow list[] = {{"self-test.c", "strcmp(key, \"set\")", false},
                    {"other.c", "strcmp(key, \"remove\")", false}};
    scan_out out;

    (void)state;
    /* Exact call text in the named file only; whitespace does not matter. */
    assert_int_equal(
        scan_text("strcmp( key,\n\t\"set\" ) + strcmp(key, \"remove\")", &out, list, 2), 1);
    assert_string_equal(out.first, "strcmp(key, \"remove\")");
    assert_true(list[0].used);
    assert_false(list[1].used);
    /* Other arguments are flagged even next to an allowed call. */
    assert_int_equal(scan_text("strcmp(key, \"set\") + strcmp(key, value)", &out, list, 2), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scanner_flags),
        cmocka_unit_test(test_scanner_passes),
        cmocka_unit_test(test_scanner_allow_list),
        cmocka_unit_test(test_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
