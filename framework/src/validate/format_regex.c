/* The "regex" format: ECMA-262 pattern syntax. PCRE2 (UTF mode, ECMAScript-compatible options)
 * decides whether a pattern compiles; a scan first refuses the constructs PCRE2 accepts but
 * ECMA-262 (with the u flag) does not, so a schema cannot rely on PCRE-only behaviour. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "bulwark/format.h"
#include "bulwark/text.h"
#include "format_internal.h"

/* ECMA-262 nesting depth is unlimited, but ours protects PCRE2's compile stack. */
#define REGEX_MAX_PARENS 64
/* Only the syntax matters here, so PCRE2 gets {n,m} counts capped: ECMA-262 sets no limit,
 * PCRE2 stops at 65535 and copies a bounded repeat's body count times. */
#define REGEX_REPEAT_CAP 2UL

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static size_t hex_run(const char *s, size_t len, size_t i)
{
    size_t n = 0;

    while (i + n < len && is_hex(s[i + n]))
        n++;
    return n;
}

static size_t digit_run(const char *s, size_t len, size_t i)
{
    size_t n = 0;

    while (i + n < len && s[i + n] >= '0' && s[i + n] <= '9')
        n++;
    return n;
}

/* The pattern as handed to PCRE2. */
typedef struct pattern_buf {
    char *p;
    size_t len, cap;
} pattern_buf;

static bool put(pattern_buf *b, const char *s, size_t n)
{
    if (b->cap - b->len < n)
        return false;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return true;
}

static bool put_str(pattern_buf *b, const char *s)
{
    return put(b, s, strlen(s));
}

/* General_Category values, short and long name (ECMA-262 accepts both). */
static const char *const gc_values[][2] = {
    {"C", "Other"},
    {"Cc", "Control"},
    {"Cf", "Format"},
    {"Cn", "Unassigned"},
    {"Co", "Private_Use"},
    {"Cs", "Surrogate"},
    {"L", "Letter"},
    {"LC", "Cased_Letter"},
    {"Ll", "Lowercase_Letter"},
    {"Lm", "Modifier_Letter"},
    {"Lo", "Other_Letter"},
    {"Lt", "Titlecase_Letter"},
    {"Lu", "Uppercase_Letter"},
    {"M", "Mark"},
    {"Mc", "Spacing_Mark"},
    {"Me", "Enclosing_Mark"},
    {"Mn", "Nonspacing_Mark"},
    {"N", "Number"},
    {"Nd", "Decimal_Number"},
    {"Nl", "Letter_Number"},
    {"No", "Other_Number"},
    {"P", "Punctuation"},
    {"Pc", "Connector_Punctuation"},
    {"Pd", "Dash_Punctuation"},
    {"Pe", "Close_Punctuation"},
    {"Pf", "Final_Punctuation"},
    {"Pi", "Initial_Punctuation"},
    {"Po", "Other_Punctuation"},
    {"Ps", "Open_Punctuation"},
    {"S", "Symbol"},
    {"Sc", "Currency_Symbol"},
    {"Sk", "Modifier_Symbol"},
    {"Sm", "Math_Symbol"},
    {"So", "Other_Symbol"},
    {"Z", "Separator"},
    {"Zl", "Line_Separator"},
    {"Zp", "Paragraph_Separator"},
    {"Zs", "Space_Separator"},
};

/* Other names ECMA-262 accepts for four General_Category values. */
static const char *const gc_aliases[][2] = {
    {"Cc", "cntrl"},
    {"M", "Combining_Mark"},
    {"Nd", "digit"},
    {"P", "punct"},
};

/* Binary properties ECMA-262 accepts alone in \p{...}, long and short names. */
static const char *const binary_properties[] = {
    "ASCII",
    "ASCII_Hex_Digit",
    "AHex",
    "Alphabetic",
    "Alpha",
    "Any",
    "Assigned",
    "Bidi_Control",
    "Bidi_C",
    "Bidi_Mirrored",
    "Bidi_M",
    "Case_Ignorable",
    "CI",
    "Cased",
    "Changes_When_Casefolded",
    "CWCF",
    "Changes_When_Casemapped",
    "CWCM",
    "Changes_When_Lowercased",
    "CWL",
    "Changes_When_NFKC_Casefolded",
    "CWKCF",
    "Changes_When_Titlecased",
    "CWT",
    "Changes_When_Uppercased",
    "CWU",
    "Dash",
    "Default_Ignorable_Code_Point",
    "DI",
    "Deprecated",
    "Dep",
    "Diacritic",
    "Dia",
    "Emoji",
    "Emoji_Component",
    "EComp",
    "Emoji_Modifier",
    "EMod",
    "Emoji_Modifier_Base",
    "EBase",
    "Emoji_Presentation",
    "EPres",
    "Extended_Pictographic",
    "ExtPict",
    "Extender",
    "Ext",
    "Grapheme_Base",
    "Gr_Base",
    "Grapheme_Extend",
    "Gr_Ext",
    "Hex_Digit",
    "Hex",
    "IDS_Binary_Operator",
    "IDSB",
    "IDS_Trinary_Operator",
    "IDST",
    "ID_Continue",
    "IDC",
    "ID_Start",
    "IDS",
    "Ideographic",
    "Ideo",
    "Join_Control",
    "Join_C",
    "Logical_Order_Exception",
    "LOE",
    "Lowercase",
    "Lower",
    "Math",
    "Noncharacter_Code_Point",
    "NChar",
    "Pattern_Syntax",
    "Pat_Syn",
    "Pattern_White_Space",
    "Pat_WS",
    "Quotation_Mark",
    "QMark",
    "Radical",
    "Regional_Indicator",
    "RI",
    "Sentence_Terminal",
    "STerm",
    "Soft_Dotted",
    "SD",
    "Terminal_Punctuation",
    "Term",
    "Unified_Ideograph",
    "UIdeo",
    "Uppercase",
    "Upper",
    "Variation_Selector",
    "VS",
    "White_Space",
    "space",
    "XID_Continue",
    "XIDC",
    "XID_Start",
    "XIDS",
};

static bool name_is(const char *s, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(s, name, n) == 0;
}

/* Short name of the General_Category value s[0..n), or NULL. */
static const char *gc_short(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof gc_values / sizeof gc_values[0]; i++)
        if (name_is(s, n, gc_values[i][0]) || name_is(s, n, gc_values[i][1]))
            return gc_values[i][0];
    for (size_t i = 0; i < sizeof gc_aliases / sizeof gc_aliases[0]; i++)
        if (name_is(s, n, gc_aliases[i][1]))
            return gc_aliases[i][0];
    return NULL;
}

static bool binary_property(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof binary_properties / sizeof binary_properties[0]; i++)
        if (name_is(s, n, binary_properties[i]))
            return true;
    return false;
}

/* The body of \p{...} or \P{...}, s[0..n). ECMA-262 names are exact (PCRE2 ignores case, spaces
 * and underscores, and knows more), so General_Category values and binary properties are checked
 * here and PCRE2 gets a form it reads the same way; script names are left to PCRE2's tables,
 * which match them without regard to case. */
static bool unicode_property(const char *s, size_t n, char p, pattern_buf *out)
{
    const char *eq = memchr(s, '=', n), *gc;
    char head[4] = {'\\', p, '{', '\0'};

    for (size_t i = 0; i < n; i++)
        if (!is_alpha(s[i]) && !(s[i] >= '0' && s[i] <= '9') && s[i] != '_' && s + i != eq)
            return false;
    if (n == 0 || !put_str(out, head))
        return false;
    if (eq != NULL) {
        size_t nlen = (size_t)(eq - s), vlen = n - nlen - 1;

        if (vlen == 0)
            return false;
        if (name_is(s, nlen, "General_Category") || name_is(s, nlen, "gc")) {
            gc = gc_short(eq + 1, vlen);
            if (gc == NULL || !put_str(out, gc))
                return false;
        } else if (name_is(s, nlen, "Script") || name_is(s, nlen, "sc") ||
                   name_is(s, nlen, "Script_Extensions") || name_is(s, nlen, "scx")) {
            bool ext = name_is(s, nlen, "Script_Extensions") || name_is(s, nlen, "scx");
            /* Every script name starts with a capital; PCRE2 would take any case. */
            if (eq[1] < 'A' || eq[1] > 'Z' || !put_str(out, ext ? "scx=" : "sc=") ||
                !put(out, eq + 1, vlen))
                return false;
        } else {
            return false;
        }
    } else {
        /* A binary property only has to exist: PCRE2 gets "Any", which it always knows. */
        gc = gc_short(s, n);
        if (gc == NULL && !binary_property(s, n))
            return false;
        if (!put_str(out, gc != NULL ? gc : "Any"))
            return false;
    }
    return put_str(out, "}");
}

static uint32_t hex_value(const char *s, size_t n)
{
    uint32_t v = 0;

    for (size_t k = 0; k < n; k++) {
        char c = s[k];
        v = v * 16 + (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* \uXXXX, \uXXXX\uXXXX (a surrogate pair) or \u{X...} at s[*i]. PCRE2 gets \u{X}; a lone
 * surrogate, which ECMA-262 allows but UTF-mode PCRE2 cannot hold, becomes U+FFFD. */
static bool unicode_escape(const char *s, size_t len, size_t *i, pattern_buf *out)
{
    size_t j = *i + 2;
    uint32_t cp;
    char buf[16];
    int w;

    if (j < len && s[j] == '{') {
        size_t n = hex_run(s, len, j + 1);

        if (n == 0 || j + 1 + n >= len || s[j + 1 + n] != '}')
            return false;
        while (n > 1 && s[j + 1] == '0') { /* leading zeros are allowed, any number of them */
            j++;
            n--;
        }
        if (n > 6 || (cp = hex_value(s + j + 1, n)) > 0x10FFFF)
            return false;
        *i = j + 2 + n;
    } else {
        if (hex_run(s, len, j) < 4)
            return false;
        cp = hex_value(s + j, 4);
        *i = j + 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && len - *i >= 6 && s[*i] == '\\' && s[*i + 1] == 'u' &&
            hex_run(s, len, *i + 2) >= 4) {
            uint32_t lo = hex_value(s + *i + 2, 4);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                *i += 6;
            }
        }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD;
    w = snprintf(buf, sizeof buf, "\\u{%X}", (unsigned)cp);
    return w > 0 && (size_t)w < sizeof buf && put(out, buf, (size_t)w);
}

/* Checks the escape at s[*i] == '\\', copies its PCRE2 form to out and moves *i past it.
 * ECMA-262 with the u flag allows letters only in its own escapes and in the forms it gives them
 * (PCRE2 would read \a, \e, \A, \z, \Q, \K, \R, \X, \pL, \k'n', \x{..} and others its own way),
 * and identity escapes only of syntax characters and '/' (and '-' in a class). */
static bool ecma_escape(const char *s, size_t len, size_t *i, bool in_class, pattern_buf *out)
{
    size_t j = *i + 1, end = j + 1;
    char c;

    if (j >= len)
        return false;
    c = s[j];
    if (c >= '1' && c <= '9') {
        /* A backreference. PCRE2 would read \12 as octal when there are fewer groups. */
        size_t d = digit_run(s, len, j);
        if (in_class || !put_str(out, "\\g{") || !put(out, s + j, d) || !put_str(out, "}"))
            return false;
        *i = j + d;
        return true;
    }
    if (c == '0') {
        if (j + 1 < len && s[j + 1] >= '0' && s[j + 1] <= '9')
            return false;
    } else if (!is_alpha(c)) {
        if ((unsigned char)c >= 0x80 || c == '\0' ||
            (strchr("^$\\.*+?()[]{}|/", c) == NULL && !(in_class && c == '-')))
            return false;
    } else if (c == 'p' || c == 'P') {
        const char *close;

        if (j + 2 >= len || s[j + 1] != '{')
            return false;
        close = memchr(s + j + 2, '}', len - j - 2);
        if (close == NULL || !unicode_property(s + j + 2, (size_t)(close - s) - j - 2, c, out))
            return false;
        *i = (size_t)(close - s) + 1;
        return true;
    } else if (c == 'u') {
        return unicode_escape(s, len, i, out);
    } else if (c == 'x') {
        if (hex_run(s, len, j + 1) < 2)
            return false;
        end = j + 3;
    } else if (c == 'c') {
        if (j + 1 >= len || !is_alpha(s[j + 1]))
            return false;
        end = j + 2;
    } else if (c == 'k') {
        if (in_class || j + 1 >= len || s[j + 1] != '<')
            return false;
    } else if (strchr(in_class ? "bdDfnrsStvwW" : "bBdDfnrsStvwW", c) == NULL) {
        return false;
    }
    if (!put(out, s + *i, end - *i))
        return false;
    *i = end;
    return true;
}

/* "(?" must introduce (?: (?= (?! (?<= (?<! or (?<name>; "(*" (PCRE verbs) is refused. */
static bool ecma_group(const char *s, size_t len, size_t i)
{
    if (i + 1 >= len)
        return true;
    if (s[i + 1] == '*')
        return false;
    if (s[i + 1] != '?')
        return true;
    if (i + 2 >= len)
        return false;
    switch (s[i + 2]) {
    case ':':
    case '=':
    case '!':
        return true;
    case '<':
        return i + 3 < len && (s[i + 3] == '=' || s[i + 3] == '!' || is_alpha(s[i + 3]) ||
                               s[i + 3] == '_' || s[i + 3] == '$');
    default:
        return false;
    }
}

/* Length of a brace quantifier {n}, {n,} or {n,m} at s[i], else 0. */
static size_t brace_quantifier(const char *s, size_t len, size_t i)
{
    size_t j = i + 1, d = digit_run(s, len, j);

    if (d == 0)
        return 0;
    j += d;
    if (j < len && s[j] == ',') {
        j++;
        j += digit_run(s, len, j);
    }
    return j < len && s[j] == '}' ? j + 1 - i : 0;
}

/* Compares the decimal numbers a[0..an) and b[0..bn), of any length. */
static int decimal_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    while (an > 1 && *a == '0') {
        a++;
        an--;
    }
    while (bn > 1 && *b == '0') {
        b++;
        bn--;
    }
    if (an != bn)
        return an < bn ? -1 : 1;
    return memcmp(a, b, an);
}

/* Value of the decimal digits s[0..n), capped at REGEX_REPEAT_CAP. */
static unsigned long repeat_count(const char *s, size_t n)
{
    unsigned long v = 0;

    for (size_t k = 0; k < n; k++) {
        v = v * 10 + (unsigned long)(s[k] - '0');
        if (v > REGEX_REPEAT_CAP)
            return REGEX_REPEAT_CAP;
    }
    return v;
}

/* The brace quantifier q[0..n) (checked by brace_quantifier): ECMA-262 wants min <= max, which
 * is checked on the digits as written; PCRE2 gets the counts capped. */
static bool put_quantifier(const char *q, size_t n, pattern_buf *out)
{
    size_t d1 = digit_run(q, n, 1), d2 = 0;
    bool range = q[1 + d1] == ',';
    char buf[32];
    int w;

    if (range) {
        d2 = digit_run(q, n, d1 + 2);
        if (d2 > 0 && decimal_cmp(q + 1, d1, q + d1 + 2, d2) > 0)
            return false;
    }
    if (!range)
        w = snprintf(buf, sizeof buf, "{%lu}", repeat_count(q + 1, d1));
    else if (d2 == 0)
        w = snprintf(buf, sizeof buf, "{%lu,}", repeat_count(q + 1, d1));
    else
        w = snprintf(buf, sizeof buf, "{%lu,%lu}", repeat_count(q + 1, d1),
                     repeat_count(q + d1 + 2, d2));
    return w > 0 && (size_t)w < sizeof buf && put(out, buf, (size_t)w);
}

/* Refuses what ECMA-262 with the u flag refuses but PCRE2 accepts, and copies the pattern to
 * out with '[', ':', '.' and '=' inside a class escaped: ECMA reads them as literals, PCRE2 would
 * see a POSIX class ("[:alpha:]", "[[=a=]]"). */
static bool ecma_scan(const char *s, size_t len, pattern_buf *out)
{
    bool in_class = false;
    size_t i = 0;
    unsigned depth = 0;
    uint64_t lookaround = 0; /* bit d: the group open at depth d is a lookaround */

    while (i < len) {
        size_t start = i;
        char c = s[i];
        bool quantifier = false;

        if (c == '\\') {
            if (!ecma_escape(s, len, &i, in_class, out))
                return false;
            continue;
        }
        if (in_class) {
            in_class = c != ']';
            /* Escaped so PCRE2 reads no POSIX class ("[:alpha:]", "[.", "[=") in it. */
            if ((c == '[' || c == ':' || c == '.' || c == '=') && !put(out, "\\", 1))
                return false;
        } else if (c == '[') {
            in_class = true;
            /* A ']' right after '[' or '[^' closes the (empty) class in ECMA-262. */
            if (i + 1 < len && s[i + 1] == '^')
                i++;
        } else if (c == '(') {
            if (!ecma_group(s, len, i) || depth >= REGEX_MAX_PARENS)
                return false;
            if (i + 2 < len && s[i + 1] == '?' &&
                (s[i + 2] == '=' || s[i + 2] == '!' ||
                 (s[i + 2] == '<' && i + 3 < len && (s[i + 3] == '=' || s[i + 3] == '!'))))
                lookaround |= (uint64_t)1 << depth;
            else
                lookaround &= ~((uint64_t)1 << depth);
            depth++;
        } else if (c == ')') {
            if (depth == 0)
                return false;
            depth--;
            /* With the u flag a lookaround cannot be quantified. */
            if ((lookaround >> depth & 1) != 0 && i + 1 < len &&
                (s[i + 1] == '*' || s[i + 1] == '+' || s[i + 1] == '?' ||
                 (s[i + 1] == '{' && brace_quantifier(s, len, i + 1) > 0)))
                return false;
        } else if (c == ']' || c == '}') {
            return false; /* lone: a syntax error with the u flag */
        } else if (c == '{') {
            size_t q = brace_quantifier(s, len, i);
            if (q == 0 || !put_quantifier(s + i, q, out))
                return false;
            i += q;
            if (i < len && s[i] == '+')
                return false; /* possessive quantifier */
            continue;
        } else {
            quantifier = c == '*' || c == '+' || c == '?';
        }
        if (quantifier && i + 1 < len && s[i + 1] == '+')
            return false; /* possessive quantifier */
        i++;
        if (!put(out, s + start, i - start))
            return false;
    }
    return true;
}

bool bw_format_regex(const char *s, size_t len)
{
    pcre2_compile_context *cctx;
    pcre2_code *code;
    pattern_buf pat;
    int err = 0;
    PCRE2_SIZE off = 0;

    if (len > BW_FORMAT_REGEX_MAX_LEN || !bw_utf8_valid((const unsigned char *)s, len))
        return false;
    /* The PCRE2 form is at most 5/2 of the pattern ("\1" becomes "\g{1}"); len is bounded, so
     * this cannot overflow. */
    pat.cap = 3 * len + 1;
    pat.len = 0;
    pat.p = malloc(pat.cap);
    if (pat.p == NULL)
        return false;
    if (!ecma_scan(s, len, &pat)) {
        free(pat.p);
        return false;
    }
    cctx = pcre2_compile_context_create(NULL);
    if (cctx == NULL || pcre2_set_compile_extra_options(cctx, PCRE2_EXTRA_ALT_BSUX) != 0 ||
        pcre2_set_parens_nest_limit(cctx, REGEX_MAX_PARENS) != 0) {
        pcre2_compile_context_free(cctx);
        free(pat.p);
        return false;
    }
    code = pcre2_compile((PCRE2_SPTR)pat.p, pat.len,
                         PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_ALLOW_EMPTY_CLASS |
                             PCRE2_NEVER_BACKSLASH_C,
                         &err, &off, cctx);
    pcre2_compile_context_free(cctx);
    free(pat.p);
    if (code != NULL) {
        pcre2_code_free(code);
        return true;
    }
    /* ECMA-262 (ES2018) allows variable-length lookbehind, PCRE2 10.42 does not. PCRE2 reports
     * it only after the whole pattern has parsed, so the syntax is otherwise sound. */
    return err == PCRE2_ERROR_LOOKBEHIND_NOT_FIXED_LENGTH ||
           err == PCRE2_ERROR_LOOKBEHIND_TOO_COMPLICATED;
}
