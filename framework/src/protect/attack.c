/* Attack signatures (docs/attack-signatures.md): a value is normalised once into a stack
 * buffer, the traversal, script and command checks read that, then the buffer is rewritten
 * in place into the SQL view (whitespace and block comments collapsed) for the SQL checks.
 *
 * Matching is hand-written: each check walks the buffer once and looks at most a small,
 * fixed distance (LOOK) around each byte, so a scan is linear in the bytes scanned. The
 * buffer holds lower-case ASCII after normalisation, so every literal here is lower case. */
#include "bulwark/attack.h"
#include "bulwark/text.h"

#include <stdbool.h>
#include <string.h>

/* Longest stretch any check skips (spaces, parentheses) or reads (an operand, a word). */
#define LOOK 64

/* A time-based SQL function counts when a quote came this few bytes before it. */
#define SLEEP_AFTER_QUOTE 48

typedef struct span {
    const unsigned char *b;
    size_t n;
} span;

/* ---- normalisation ---------------------------------------------------------------------- */

/* Decodes valid %XX escapes in place and leaves anything else as it is. Returns the new
 * length (never more than n: the output index never passes the input index). */
static size_t percent_decode(unsigned char *b, size_t n)
{
    size_t i = 0, o = 0;

    while (i < n) {
        if (b[i] == '%' && n - i >= 3) {
            int hi = bw_hex_digit(b[i + 1]), lo = bw_hex_digit(b[i + 2]);
            if (hi >= 0 && lo >= 0) {
                b[o++] = (unsigned char)(hi * 16 + lo);
                i += 3;
                continue;
            }
        }
        b[o++] = b[i++];
    }
    return o;
}

static bool is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* When b[i..n) starts with an overlong UTF-8 form of an ASCII character (C0/C1 xx,
 * E0 80..81 xx, F0 80 80..81 xx), stores the character and returns the form's length;
 * returns 0 otherwise. Overlong forms of other characters are not ASCII and stay bytes. */
static size_t overlong_ascii(const unsigned char *b, size_t n, size_t i, unsigned char *out)
{
    size_t left = n - i;

    if ((b[i] == 0xC0 || b[i] == 0xC1) && left >= 2 && is_cont(b[i + 1])) {
        *out = (unsigned char)(((b[i] & 0x01) << 6) | (b[i + 1] & 0x3F));
        return 2;
    }
    if (b[i] == 0xE0 && left >= 3 && (b[i + 1] == 0x80 || b[i + 1] == 0x81) && is_cont(b[i + 2])) {
        *out = (unsigned char)(((b[i + 1] & 0x01) << 6) | (b[i + 2] & 0x3F));
        return 3;
    }
    if (b[i] == 0xF0 && left >= 4 && b[i + 1] == 0x80 && (b[i + 2] == 0x80 || b[i + 2] == 0x81) &&
        is_cont(b[i + 3])) {
        *out = (unsigned char)(((b[i + 2] & 0x01) << 6) | (b[i + 3] & 0x3F));
        return 4;
    }
    return 0;
}

/* In place: overlong forms become their character, NUL bytes are dropped (so "<scr%00ipt"
 * reads "<script"), ASCII letters are folded to lower case. Returns the new length. */
static size_t fold(unsigned char *b, size_t n)
{
    size_t i = 0, o = 0;

    while (i < n) {
        unsigned char c = b[i];
        size_t used = overlong_ascii(b, n, i, &c);

        i += used ? used : 1;
        if (c == 0)
            continue;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        b[o++] = c;
    }
    return o;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* In place: each run of whitespace, block comments ("/ *...* /", to the end when not
 * closed), MySQL's executable-comment opener "/ *!NNNNN" and stray closers becomes one
 * space; leading and trailing spaces are dropped. Returns the new length. The output never
 * passes the input: a pending space stands for at least one byte consumed and not written. */
static size_t sql_view(unsigned char *b, size_t n)
{
    size_t i = 0, o = 0;
    bool gap = false;

    while (i < n) {
        unsigned char c = b[i];

        if (is_space(c)) {
            gap = true;
            i++;
            continue;
        }
        if (c == '/' && n - i >= 2 && b[i + 1] == '*') {
            if (n - i >= 3 && b[i + 2] == '!') {
                i += 3;
                while (i < n && b[i] >= '0' && b[i] <= '9')
                    i++;
            } else {
                i += 2;
                while (n - i >= 2 && !(b[i] == '*' && b[i + 1] == '/'))
                    i++;
                i = n - i >= 2 ? i + 2 : n;
            }
            gap = true;
            continue;
        }
        if (c == '*' && n - i >= 2 && b[i + 1] == '/') {
            gap = true;
            i += 2;
            continue;
        }
        if (gap && o > 0)
            b[o++] = ' ';
        gap = false;
        b[o++] = c;
        i++;
    }
    return o;
}

/* ---- matching helpers ------------------------------------------------------------------- */

static bool is_alpha(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_word(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '_';
}

static bool is_quote(unsigned char c)
{
    return c == '\'' || c == '"';
}

/* True when the literal lit (lower case) occurs at s.b[i]. */
static bool at(span s, size_t i, const char *lit)
{
    size_t len = strlen(lit);

    return i <= s.n && s.n - i >= len && memcmp(s.b + i, lit, len) == 0;
}

/* True when lit occurs at i and is not followed by a word character. */
static bool word_end_at(span s, size_t i, const char *lit)
{
    size_t end = i + strlen(lit);

    return at(s, i, lit) && (end == s.n || !is_word(s.b[end]));
}

/* True when lit occurs at i as a whole word. */
static bool word_at(span s, size_t i, const char *lit)
{
    return (i == 0 || !is_word(s.b[i - 1])) && word_end_at(s, i, lit);
}

/* Index after up to LOOK bytes at i that are in set. */
static size_t skip_set(span s, size_t i, const char *set)
{
    size_t k = 0;

    while (i < s.n && k < LOOK && s.b[i] != 0 && strchr(set, s.b[i]) != NULL) {
        i++;
        k++;
    }
    return i;
}

static bool in_set(unsigned char c, const char *set)
{
    return c != 0 && strchr(set, c) != NULL;
}

/* ---- traversal -------------------------------------------------------------------------- */

static bool is_sep(unsigned char c)
{
    return c == '/' || c == '\\';
}

static bool scan_traversal(span s)
{
    size_t i;

    for (i = 0; i < s.n; i++) {
        if (s.b[i] == '.' && at(s, i, "..")) {
            /* "../", "..\", or a path ending in "/.." */
            if (s.n - i > 2 && is_sep(s.b[i + 2]))
                return true;
            if (s.n - i == 2 && i > 0 && is_sep(s.b[i - 1]))
                return true;
        }
        if (i > 0 && is_word(s.b[i - 1]))
            continue;
        if (at(s, i, "etc/passwd") || at(s, i, "win.ini") || at(s, i, "boot.ini"))
            return true;
    }
    return false;
}

/* ---- SQL injection (on the SQL view) ---------------------------------------------------- */

/* After a quote at q: [ )]* then or/and, then an operand compared with = < > !, or a bare
 * number or true followed by ; # ) or --. */
static bool sql_tautology(span s, size_t q)
{
    size_t i = skip_set(s, q + 1, " )"), start;
    bool literal;

    if (word_end_at(s, i, "or"))
        i += 2;
    else if (word_end_at(s, i, "and"))
        i += 3;
    else
        return false;
    i = skip_set(s, i, " (");
    if (i >= s.n)
        return false;
    start = i;
    if (is_quote(s.b[i])) {
        unsigned char quote = s.b[i];
        size_t k = 0;
        for (i++; i < s.n && s.b[i] != quote && k < LOOK; i++, k++)
            ;
        if (i >= s.n || s.b[i] != quote)
            return false;
        i++;
        literal = false;
    } else if (is_word(s.b[i])) {
        bool digits = true;
        size_t k = 0;
        for (; i < s.n && is_word(s.b[i]) && k < LOOK; i++, k++)
            digits = digits && is_digit(s.b[i]);
        literal = digits || (i - start == 4 && at(s, start, "true"));
    } else {
        return false;
    }
    i = skip_set(s, i, " ");
    if (i < s.n && in_set(s.b[i], "=<>!"))
        return true;
    return literal && i < s.n && (in_set(s.b[i], ";#)") || at(s, i, "--"));
}

/* After a quote at q: [ )]* then "--" ending the value or followed by a space or '-', or
 * ')'* then '#' ending the value or followed by a space ("use the '#' key" does not match). */
static bool sql_comment_tail(span s, size_t q)
{
    size_t i = skip_set(s, q + 1, " )");

    if (at(s, i, "--") && (s.n - i == 2 || in_set(s.b[i + 2], " -")))
        return true;
    i = skip_set(s, q + 1, ")");
    return i < s.n && s.b[i] == '#' && (s.n - i == 1 || s.b[i + 1] == ' ');
}

/* "union [all|distinct] [(] select" at i. */
static bool sql_union(span s, size_t i)
{
    if (!word_at(s, i, "union"))
        return false;
    i = skip_set(s, i + 5, " ");
    if (word_end_at(s, i, "all"))
        i = skip_set(s, i + 3, " ");
    else if (word_end_at(s, i, "distinct"))
        i = skip_set(s, i + 8, " ");
    i = skip_set(s, i, " (");
    return word_end_at(s, i, "select");
}

/* After ';' at i: drop table|database, or shutdown ending the statement. */
static bool sql_stacked(span s, size_t i)
{
    i = skip_set(s, i + 1, " ");
    if (word_end_at(s, i, "drop")) {
        i = skip_set(s, i + 4, " ");
        return word_end_at(s, i, "table") || word_end_at(s, i, "database");
    }
    if (word_end_at(s, i, "shutdown")) {
        i = skip_set(s, i + 8, " ");
        return i == s.n || in_set(s.b[i], ";#") || at(s, i, "--") || word_end_at(s, i, "with");
    }
    return false;
}

/* sleep( benchmark( pg_sleep( or waitfor delay at i. */
static bool sql_delay(span s, size_t i)
{
    static const char *const fns[] = {"sleep", "benchmark", "pg_sleep"};
    size_t f;

    for (f = 0; f < sizeof(fns) / sizeof(fns[0]); f++) {
        if (word_at(s, i, fns[f])) {
            size_t j = skip_set(s, i + strlen(fns[f]), " ");
            return j < s.n && s.b[j] == '(';
        }
    }
    if (word_at(s, i, "waitfor")) {
        size_t j = skip_set(s, i + 7, " ");
        return word_end_at(s, j, "delay");
    }
    return false;
}

static bool scan_sqli(span s)
{
    size_t i, last_quote = 0;
    bool quoted = false;

    for (i = 0; i < s.n; i++) {
        unsigned char c = s.b[i];

        if (is_quote(c)) {
            if (sql_tautology(s, i) || sql_comment_tail(s, i))
                return true;
            quoted = true;
            last_quote = i;
            continue;
        }
        if (c == ';' && sql_stacked(s, i))
            return true;
        if (quoted && i - last_quote <= SLEEP_AFTER_QUOTE && sql_delay(s, i))
            return true;
        if (c == 'u' && sql_union(s, i))
            return true;
        if (at(s, i, "information_schema") || at(s, i, "xp_cmdshell"))
            return true;
    }
    return false;
}

/* ---- script injection ------------------------------------------------------------------- */

/* A tag opener <name at i whose name is exactly name. */
static bool tag_at(span s, size_t i, const char *name)
{
    size_t end = i + 1 + strlen(name);

    return s.b[i] == '<' && at(s, i + 1, name) &&
           (end == s.n || !(is_word(s.b[end]) || s.b[end] == '-'));
}

/* "javascript:" or "vbscript:" at i, with tabs and line breaks inside the scheme ignored
 * as browsers do. Followed by a space it needs a URL context before it (= quote ( [ `), so
 * the prose "JavaScript: The Good Parts" does not match. */
static bool script_url(span s, size_t i)
{
    static const char *const schemes[] = {"javascript", "vbscript"};
    size_t f;

    for (f = 0; f < sizeof(schemes) / sizeof(schemes[0]); f++) {
        const char *w = schemes[f];
        size_t j = i, skipped = 0;

        while (*w != '\0' && j < s.n && skipped < LOOK) {
            if (s.b[j] == (unsigned char)*w) {
                w++;
                j++;
            } else if (s.b[j] == '\t' || s.b[j] == '\n' || s.b[j] == '\r') {
                j++;
                skipped++;
            } else {
                break;
            }
        }
        if (*w != '\0' || j >= s.n || s.b[j] != ':')
            continue;
        if (s.n - j > 1 && !is_space(s.b[j + 1]))
            return true;
        return i > 0 && in_set(s.b[i - 1], "=\"'([`");
    }
    return false;
}

/* on<event> (three letters or more), optional spaces, '=' at i (i is the 'o'). */
static bool event_attribute(span s, size_t i)
{
    size_t j = i + 2, k = 0;

    if (!at(s, i, "on"))
        return false;
    while (j < s.n && is_alpha(s.b[j]) && k < LOOK) {
        j++;
        k++;
    }
    if (k < 3)
        return false;
    j = skip_set(s, j, " \t\n\r\f");
    return j < s.n && s.b[j] == '=';
}

/* eval( after the start, or after ; = ( : quote ` + { (spaces between allowed). */
static bool eval_call(span s, size_t i)
{
    size_t j, k = 0;

    if (!word_at(s, i, "eval"))
        return false;
    j = skip_set(s, i + 4, " \t\n\r");
    if (j >= s.n || s.b[j] != '(')
        return false;
    while (i > 0 && is_space(s.b[i - 1]) && k < LOOK) {
        i--;
        k++;
    }
    return i == 0 || in_set(s.b[i - 1], ";=(:'\"`+{");
}

static bool scan_xss(span s)
{
    size_t i;
    bool in_tag = false;

    for (i = 0; i < s.n; i++) {
        unsigned char c = s.b[i];

        if (c == '<') {
            if (tag_at(s, i, "script") || tag_at(s, i, "iframe"))
                return true;
            if (s.n - i > 1 && is_alpha(s.b[i + 1]))
                in_tag = true;
        } else if (c == '>') {
            in_tag = false;
        } else if (in_tag && (is_space(c) || c == '/' || is_quote(c)) && s.n - i > 1 &&
                   event_attribute(s, i + 1)) {
            return true;
        }
        if ((c == 'j' || c == 'v') && script_url(s, i))
            return true;
        if (c == 'd' && at(s, i, "document.cookie"))
            return true;
        if (c == 'e' && eval_call(s, i))
            return true;
    }
    return false;
}

/* ---- command injection ------------------------------------------------------------------ */

static const char *const commands[] = {
    "cat", "ls", "id",   "whoami", "uname", "wget",   "curl", "nc",   "ncat",   "bash",
    "sh",  "rm", "ping", "sleep",  "echo",  "netcat", "zsh",  "perl", "python", "powershell",
};

/* The word at i is a listed command; stores its length. */
static bool command_at(span s, size_t i, size_t *len)
{
    size_t c;

    for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        if (word_end_at(s, i, commands[c])) {
            *len = strlen(commands[c]);
            return true;
        }
    }
    return false;
}

/* A word token at i that names a host or file (x.y) or a URL (://). */
static bool hostish_token(span s, size_t i)
{
    size_t k = 0;

    for (; i < s.n && !is_space(s.b[i]) && k < LOOK; i++, k++) {
        if (at(s, i, "://"))
            return true;
        if (s.b[i] == '.' && s.n - i > 1 && (is_word(s.b[i + 1])) && k > 0)
            return true;
    }
    return false;
}

/* What follows a command at i makes it a command line: the end, a shell terminator, or
 * spaces then the end, an option, a path, a number, a quote, a variable, a redirection or
 * a host or URL. A '|' does not count after a single '|' separator, so the markdown table
 * "| id | name |" does not match. */
static bool command_follows(span s, size_t i, bool after_pipe)
{
    const char *terminators = after_pipe ? ";&`)<>\n" : ";&`)<>\n|";
    const char *arguments = after_pipe ? "-/.~$'\"`;&<>0123456789" : "-/.~$'\"`;&<>|0123456789";

    if (i == s.n || in_set(s.b[i], terminators))
        return true;
    if (!is_space(s.b[i]))
        return false;
    i = skip_set(s, i, " \t\r\f\v");
    if (i == s.n || in_set(s.b[i], arguments) || s.b[i] == '\n')
        return true;
    return is_alpha(s.b[i]) && hostish_token(s, i);
}

static bool scan_cmdi(span s)
{
    size_t i;

    for (i = 0; i < s.n; i++) {
        unsigned char c = s.b[i];
        size_t j, len;
        bool after_pipe = false;

        /* A backtick counts unless it follows a space or another backtick: Markdown code
         * spans usually follow a space ("run `ls -la`") and fences are runs of backticks
         * ("```bash"). */
        if (c == ';' || (c == '`' && (i == 0 || !(is_space(s.b[i - 1]) || s.b[i - 1] == '`')))) {
            j = i + 1;
        } else if (c == '|') {
            after_pipe = !at(s, i, "||");
            j = after_pipe ? i + 1 : i + 2;
        } else if ((c == '&' && at(s, i, "&&")) || (c == '$' && at(s, i, "$("))) {
            j = i + 2;
        } else {
            if (at(s, i, "/bin/sh") || (c == 'c' && at(s, i, "cmd.exe")))
                return true;
            continue;
        }
        j = skip_set(s, j, " \t");
        if (command_at(s, j, &len) && command_follows(s, j + len, after_pipe))
            return true;
    }
    return false;
}

/* ---- public ----------------------------------------------------------------------------- */

unsigned bw_attack_scan(const char *p, size_t len)
{
    unsigned char buf[BW_ATTACK_SCAN_MAX];
    unsigned found = 0;
    size_t n;
    span s;

    if (p == NULL || len == 0)
        return 0;
    n = len < sizeof(buf) ? len : sizeof(buf);
    memcpy(buf, p, n);
    n = percent_decode(buf, n);
    n = percent_decode(buf, n);
    n = fold(buf, n);
    s.b = buf;
    s.n = n;
    if (scan_traversal(s))
        found |= BW_ATTACK_TRAVERSAL;
    if (scan_xss(s))
        found |= BW_ATTACK_XSS;
    if (scan_cmdi(s))
        found |= BW_ATTACK_CMDI;
    s.n = sql_view(buf, n);
    if (scan_sqli(s))
        found |= BW_ATTACK_SQLI;
    return found;
}

typedef struct json_budget {
    size_t items;
    size_t bytes;
    unsigned found;
} json_budget;

/* Scans one string within the byte budget. Returns false when a bound is reached or every
 * class is found (stop walking). */
static bool json_text(json_budget *b, const char *p, size_t len)
{
    size_t take = len < BW_ATTACK_SCAN_MAX ? len : BW_ATTACK_SCAN_MAX;

    if (b->items >= BW_ATTACK_JSON_MAX_ITEMS || b->bytes >= BW_ATTACK_JSON_MAX_BYTES)
        return false;
    b->items++;
    if (take > BW_ATTACK_JSON_MAX_BYTES - b->bytes)
        take = BW_ATTACK_JSON_MAX_BYTES - b->bytes;
    b->bytes += take;
    b->found |= bw_attack_scan(p, take);
    return b->found != BW_ATTACK_ALL;
}

static bool json_walk(json_budget *b, const json_t *v, size_t depth)
{
    if (b->items >= BW_ATTACK_JSON_MAX_ITEMS)
        return false;
    if (json_is_string(v))
        return json_text(b, json_string_value(v), json_string_length(v));
    b->items++;
    if (json_is_array(v)) {
        size_t i, n = json_array_size(v);
        if (depth > BW_ATTACK_JSON_MAX_DEPTH)
            return true;
        for (i = 0; i < n; i++)
            if (!json_walk(b, json_array_get(v, i), depth + 1))
                return false;
        return true;
    }
    if (json_is_object(v)) {
        /* jansson's iterator API takes a non-const object; nothing here changes it. */
        json_t *obj = (json_t *)v;
        void *it;
        if (depth > BW_ATTACK_JSON_MAX_DEPTH)
            return true;
        for (it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
            if (!json_text(b, json_object_iter_key(it), json_object_iter_key_len(it)))
                return false;
            if (!json_walk(b, json_object_iter_value(it), depth + 1))
                return false;
        }
        return true;
    }
    return true;
}

unsigned bw_attack_scan_json(const json_t *doc)
{
    json_budget b = {0, 0, 0};

    if (doc == NULL)
        return 0;
    (void)json_walk(&b, doc, 1);
    return b.found;
}

const char *bw_attack_class_name(unsigned bit)
{
    switch (bit) {
    case BW_ATTACK_TRAVERSAL:
        return "traversal";
    case BW_ATTACK_SQLI:
        return "sqli";
    case BW_ATTACK_XSS:
        return "xss";
    case BW_ATTACK_CMDI:
        return "cmdi";
    default:
        return NULL;
    }
}
