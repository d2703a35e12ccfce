/* HTTP helpers: every byte value against the token and header-value grammars, the reason
 * table, request id pattern and generation, safe methods. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sodium.h>

#include "bulwark/http.h"

static bool ref_tchar(int c)
{
    /* Written out from RFC 9110 5.6.2 independently of the implementation. */
    static const char extra[] = {'!', '#', '$', '%', '&', '\'', '*', '+',
                                 '-', '.', '^', '_', '`', '|',  '~'};
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    for (size_t i = 0; i < sizeof(extra); i++) {
        if (c == extra[i])
            return true;
    }
    return false;
}

static void test_token_every_byte(void **state)
{
    (void)state;
    size_t ntchar = 0;
    for (int c = 0; c < 256; c++) {
        char one = (char)c;
        char three[3] = {'a', (char)c, 'b'};
        assert_int_equal(bw_http_token_valid(&one, 1), ref_tchar(c));
        assert_int_equal(bw_http_token_valid(three, 3), ref_tchar(c));
        ntchar += ref_tchar(c);
    }
    assert_int_equal(ntchar, 10 + 26 + 26 + 15);
}

static void test_token_edges(void **state)
{
    (void)state;
    assert_false(bw_http_token_valid(NULL, 0));
    assert_false(bw_http_token_valid(NULL, 3));
    assert_false(bw_http_token_valid("GET", 0));
    assert_true(bw_http_token_valid("X-Request-Id", 12));
    assert_true(bw_http_token_valid("GET", 3));
    /* The length is respected: bytes past it are never looked at. */
    assert_true(bw_http_token_valid("GET /", 3));
    assert_false(bw_http_token_valid("GET /", 4));
    assert_false(bw_http_token_valid("A\0B", 3));
    assert_false(bw_http_token_valid("Content-Type:", 13));
    assert_false(bw_http_token_valid("\xc3\xa9", 2));
}

static void test_value_every_byte(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        bool ok = c == '\t' || c >= 0x20;
        if (c == 0x7F)
            ok = false;
        char mid[3] = {'a', (char)c, 'b'};
        if (bw_http_header_value_valid(mid, 3) != ok)
            fail_msg("byte 0x%02x inside a value: want %d", c, ok);
        /* Alone, SP and HTAB are leading/trailing whitespace. */
        char one = (char)c;
        bool ok1 = ok && c != ' ' && c != '\t';
        if (bw_http_header_value_valid(&one, 1) != ok1)
            fail_msg("byte 0x%02x alone: want %d", c, ok1);
    }
}

static void test_value_edges(void **state)
{
    (void)state;
    assert_true(bw_http_header_value_valid("", 0));
    assert_true(bw_http_header_value_valid(NULL, 0));
    assert_false(bw_http_header_value_valid(NULL, 1));
    assert_true(bw_http_header_value_valid("a b\tc", 5));
    assert_false(bw_http_header_value_valid(" ab", 3));
    assert_false(bw_http_header_value_valid("\tab", 3));
    assert_false(bw_http_header_value_valid("ab ", 3));
    assert_false(bw_http_header_value_valid("ab\t", 3));
    assert_false(bw_http_header_value_valid("ok\r\nSet-Cookie: x=1", 19));
    assert_false(bw_http_header_value_valid("ok\nx", 4));
    assert_false(bw_http_header_value_valid("a\0b", 3));
    assert_true(bw_http_header_value_valid("caf\xc3\xa9", 5)); /* obs-text */
    /* Length respected: the trailing space is past it. */
    assert_true(bw_http_header_value_valid("ab ", 2));
}

static void test_reason(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *reason;
    } table[] = {
        {200, "OK"},
        {201, "Created"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {411, "Length Required"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
        {505, "HTTP Version Not Supported"},
    };
    size_t known = 0;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        assert_string_equal(bw_http_reason(table[i].status), table[i].reason);
    /* Exactly the table's statuses are known in the whole range. */
    for (int s = -1; s < 1000; s++) {
        if (strcmp(bw_http_reason(s), "Unknown") != 0)
            known++;
    }
    assert_int_equal(known, sizeof(table) / sizeof(table[0]));
    assert_string_equal(bw_http_reason(418), "Unknown");
    assert_string_equal(bw_http_reason(-404), "Unknown");
}

static void test_request_id_valid(void **state)
{
    (void)state;
    char id[80];
    memset(id, 'a', sizeof(id));
    assert_false(bw_http_request_id_valid(id, 15));
    assert_true(bw_http_request_id_valid(id, 16));
    assert_true(bw_http_request_id_valid(id, 64));
    assert_false(bw_http_request_id_valid(id, 65));
    assert_false(bw_http_request_id_valid(NULL, 20));
    assert_true(bw_http_request_id_valid("0123456789-ABCDEF-abcdef", 24));
    for (int c = 0; c < 256; c++) {
        bool ok =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
        memset(id, 'a', 20);
        id[7] = (char)c;
        if (bw_http_request_id_valid(id, 20) != ok)
            fail_msg("byte 0x%02x: want %d", c, ok);
    }
    assert_false(bw_http_request_id_valid("aaaaaaaaaaaaaaa\r\nX: y", 21));
}

static void test_request_id_new(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    static const char hex[] = "0123456789abcdef";
    char prev[33] = "";
    unsigned seen_hex = 0;
    for (int round = 0; round < 64; round++) {
        char id[33];
        memset(id, 'Z', sizeof(id));
        bw_http_request_id_new(id);
        assert_int_equal(id[32], '\0');
        assert_int_equal(strlen(id), 32);
        for (size_t i = 0; i < 32; i++) {
            const char *d = strchr(hex, id[i]);
            assert_non_null(d);
            seen_hex |= 1u << (d - hex);
        }
        /* Our own ids pass our own inbound check. */
        assert_true(bw_http_request_id_valid(id, 32));
        assert_string_not_equal(id, prev);
        memcpy(prev, id, sizeof(id));
    }
    /* 64 * 32 random digits use every hex digit. */
    assert_int_equal(seen_hex, 0xFFFFu);
}

static void test_method_safe(void **state)
{
    (void)state;
    assert_true(bw_http_method_safe("GET", 3));
    assert_true(bw_http_method_safe("HEAD", 4));
    assert_true(bw_http_method_safe("OPTIONS", 7));
    assert_true(bw_http_method_safe("TRACE", 5));
    assert_false(bw_http_method_safe("POST", 4));
    assert_false(bw_http_method_safe("PUT", 3));
    assert_false(bw_http_method_safe("DELETE", 6));
    assert_false(bw_http_method_safe("PATCH", 5));
    assert_false(bw_http_method_safe("get", 3)); /* methods are case-sensitive */
    assert_false(bw_http_method_safe("GE", 2));
    assert_false(bw_http_method_safe("GETX", 4));
    assert_true(bw_http_method_safe("GETX", 3));
    assert_false(bw_http_method_safe("", 0));
    assert_false(bw_http_method_safe(NULL, 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_every_byte), cmocka_unit_test(test_token_edges),
        cmocka_unit_test(test_value_every_byte), cmocka_unit_test(test_value_edges),
        cmocka_unit_test(test_reason),           cmocka_unit_test(test_request_id_valid),
        cmocka_unit_test(test_request_id_new),   cmocka_unit_test(test_method_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
