/* ECMA-262 patterns on PCRE2: UTF mode, ECMAScript's "\s" and "$", bounded matching. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"

#define MAX_PATTERN 8192
#define MATCH_LIMIT 100000
#define DEPTH_LIMIT 1000
#define HEAP_LIMIT_KIB 2048
/* JIT matching stack, per thread, on the heap. Without one PCRE2 takes 32 KiB
 * of the caller's stack, and CivetWeb's workers have only 100 KiB in all. */
#define JIT_STACK_START ((size_t)32 * 1024)
#define JIT_STACK_MAX ((size_t)512 * 1024)

static pthread_key_t jit_key;
static pthread_once_t jit_once = PTHREAD_ONCE_INIT;
static bool jit_key_ok;

static void jit_stack_free(void *p)
{
    pcre2_jit_stack_free(p);
}

static void jit_key_create(void)
{
    jit_key_ok = pthread_key_create(&jit_key, jit_stack_free) == 0;
}

/* PCRE2 asks for the stack at each JIT match; the thread's own is made on
 * first use and freed when the thread exits. NULL (out of memory) makes PCRE2
 * fall back to the machine stack. */
static pcre2_jit_stack *thread_jit_stack(void *unused)
{
    pcre2_jit_stack *st;

    (void)unused;
    if (pthread_once(&jit_once, jit_key_create) != 0 || !jit_key_ok)
        return NULL;
    st = pthread_getspecific(jit_key);
    if (st == NULL) {
        st = pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, NULL);
        if (st != NULL && pthread_setspecific(jit_key, st) != 0) {
            pcre2_jit_stack_free(st);
            st = NULL;
        }
    }
    return st;
}

struct bw_regex {
    pcre2_code *code;
    pcre2_match_context *mctx;
};

/* ECMAScript whitespace (WhiteSpace and LineTerminator), as class members. */
static const char ECMA_SPACE[] = "\\t\\n\\x0b\\f\\r \\u00a0\\u1680\\u2000-\\u200a"
                                 "\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff";

/* ECMAScript General_Category long names (and "digit") that PCRE2 10.42 only knows by
 * their short form. */
static const char *const GC_NAMES[][2] = {
    {"Letter", "L"},
    {"Cased_Letter", "LC"},
    {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"},
    {"Titlecase_Letter", "Lt"},
    {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"},
    {"Mark", "M"},
    {"Combining_Mark", "M"},
    {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"},
    {"Enclosing_Mark", "Me"},
    {"Number", "N"},
    {"Decimal_Number", "Nd"},
    {"digit", "Nd"},
    {"Letter_Number", "Nl"},
    {"Other_Number", "No"},
    {"Punctuation", "P"},
    {"punct", "P"},
    {"Connector_Punctuation", "Pc"},
    {"Dash_Punctuation", "Pd"},
    {"Open_Punctuation", "Ps"},
    {"Close_Punctuation", "Pe"},
    {"Initial_Punctuation", "Pi"},
    {"Final_Punctuation", "Pf"},
    {"Other_Punctuation", "Po"},
    {"Symbol", "S"},
    {"Math_Symbol", "Sm"},
    {"Currency_Symbol", "Sc"},
    {"Modifier_Symbol", "Sk"},
    {"Other_Symbol", "So"},
    {"Separator", "Z"},
    {"Space_Separator", "Zs"},
    {"Line_Separator", "Zl"},
    {"Paragraph_Separator", "Zp"},
    {"Other", "C"},
    {"Control", "Cc"},
    {"cntrl", "Cc"},
    {"Format", "Cf"},
    {"Unassigned", "Cn"},
    {"Private_Use", "Co"},
    {"Surrogate", "Cs"},
};

/* Length of the property name at p (up to '}'), and its PCRE2 spelling in *out. */
static size_t map_property(const char *p, size_t avail, const char **out, size_t *outlen)
{
    size_t n = 0;
    while (n < avail && p[n] != '}')
        n++;
    *out = p;
    *outlen = n;
    const char *name = p;
    size_t nl = n;
    if (nl > 17 && memcmp(name, "General_Category=", 17) == 0) {
        name += 17;
        nl -= 17;
    } else if (nl > 3 && memcmp(name, "gc=", 3) == 0) {
        name += 3;
        nl -= 3;
    }
    *out = name;
    *outlen = nl;
    for (size_t i = 0; i < sizeof(GC_NAMES) / sizeof(GC_NAMES[0]); i++)
        if (strlen(GC_NAMES[i][0]) == nl && memcmp(GC_NAMES[i][0], name, nl) == 0) {
            *out = GC_NAMES[i][1];
            *outlen = strlen(GC_NAMES[i][1]);
            break;
        }
    return n;
}

/* PCRE2 without UCP keeps \d and \w ASCII, as ECMAScript does, but its \s is ASCII too:
 * rewrite \s and \S into ECMAScript's Unicode whitespace set. */
static char *translate(const char *pat, size_t len, size_t *outlen)
{
    size_t sl = sizeof(ECMA_SPACE) - 1;
    size_t cap = len * (sl + 4) + 1;
    char *o = malloc(cap);
    if (!o)
        return NULL;
    size_t w = 0;
    bool in_class = false;
    for (size_t i = 0; i < len; i++) {
        char c = pat[i];
        if (c == '\\' && i + 1 < len) {
            char n = pat[i + 1];
            if ((n == 'p' || n == 'P') && i + 2 < len && pat[i + 2] == '{') {
                const char *name;
                size_t nl;
                size_t used = map_property(pat + i + 3, len - i - 3, &name, &nl);
                o[w++] = '\\';
                o[w++] = n;
                o[w++] = '{';
                memcpy(o + w, name, nl);
                w += nl;
                i += 2 + used; /* now at the '}' or the end; the loop copies '}' */
                continue;
            }
            if (n == 's' || (n == 'S' && !in_class)) {
                if (!in_class)
                    o[w++] = '[';
                if (n == 'S')
                    o[w++] = '^';
                memcpy(o + w, ECMA_SPACE, sl);
                w += sl;
                if (!in_class)
                    o[w++] = ']';
            } else {
                o[w++] = c;
                o[w++] = n;
            }
            i++;
            continue;
        }
        if (c == '[' && !in_class)
            in_class = true;
        else if (c == ']' && in_class)
            in_class = false;
        o[w++] = c;
    }
    o[w] = '\0';
    *outlen = w;
    return o;
}

bw_regex *bw_regex_compile(const char *pat, size_t len, char *err, size_t errlen)
{
    if (len > MAX_PATTERN) {
        snprintf(err, errlen, "pattern longer than %d bytes", MAX_PATTERN);
        return NULL;
    }
    size_t tl;
    char *t = translate(pat, len, &tl);
    bw_regex *re = calloc(1, sizeof(*re));
    if (!t || !re) {
        free(t);
        free(re);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int code = PCRE2_ERROR_NOMEMORY;
    PCRE2_SIZE off;
    /* ECMAScript escapes \uHHHH and \u{H...} (ALT_BSUX; \xHH then takes exactly two digits) */
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (cc && pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALT_BSUX) == 0)
        re->code = pcre2_compile(
            (PCRE2_SPTR)t, tl, PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX, &code, &off, cc);
    pcre2_compile_context_free(cc);
    free(t);
    if (!re->code) {
        PCRE2_UCHAR msg[120];
        if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
            msg[0] = '\0';
        snprintf(err, errlen, "bad regex: %s", (const char *)msg);
        free(re);
        return NULL;
    }
    re->mctx = pcre2_match_context_create(NULL);
    if (!re->mctx) {
        bw_regex_free(re);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (pcre2_set_match_limit(re->mctx, MATCH_LIMIT) != 0 ||
        pcre2_set_depth_limit(re->mctx, DEPTH_LIMIT) != 0 ||
        pcre2_set_heap_limit(re->mctx, HEAP_LIMIT_KIB) != 0) {
        bw_regex_free(re);
        snprintf(err, errlen, "regex limits");
        return NULL;
    }
    /* JIT is an optimisation: without it the interpreter gives the same answers. */
    (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
    pcre2_jit_stack_assign(re->mctx, thread_jit_stack, NULL);
    return re;
}

/* PCRE2 allocations made while matching come from the validation arena and are released
 * with it. */
static void *arena_malloc(PCRE2_SIZE size, void *data)
{
    return bw_arena_alloc(data, size);
}

static void arena_free(void *p, void *data)
{
    (void)p;
    (void)data;
}

int bw_regex_match(const bw_regex *re, const char *s, size_t len, bw_regex_scratch *sc)
{
    if (len > BW_SCHEMA_MAX_REGEX_SUBJECT)
        return -1;
    if (!sc->md) {
        pcre2_general_context *g = pcre2_general_context_create(arena_malloc, arena_free, sc->a);
        if (!g)
            return -1;
        sc->md = pcre2_match_data_create(1, g);
        if (!sc->md)
            return -1;
    }
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, sc->md, re->mctx);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    return -1;
}

void bw_regex_free(bw_regex *re)
{
    if (!re)
        return;
    pcre2_match_context_free(re->mctx);
    pcre2_code_free(re->code);
    free(re);
}
