/* Router: literals, captures, precedence, 404/405 with exact Allow text, HEAD and OPTIONS, every
 * add() refusal, params pointing into the path, many routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/router.h"

/* Distinct addresses to stand for handlers. */
static int h_get, h_post, h_put, h_delete, h_head, h_options, h_search, h_other;

/* snprintf that fails the test on truncation. */
#define FMT(buf, ...) assert_true(snprintf(buf, sizeof buf, __VA_ARGS__) < (int)sizeof buf)

static void add_ok(bw_router *r, const char *method, const char *pattern, void *udata)
{
    char err[128] = "";

    if (bw_router_add(r, method, pattern, udata, err, sizeof err) != 0)
        fail_msg("add %s %s: %s", method, pattern, err);
}

static void match(const bw_router *r, const char *method, const char *path, bw_route_match *m)
{
    bw_router_match(r, method, strlen(method), path, strlen(path), m);
}

static void assert_param(const bw_route_match *m, size_t i, const char *name, const char *value)
{
    assert_true(i < m->nparams);
    assert_int_equal(m->params[i].name_len, strlen(name));
    assert_memory_equal(m->params[i].name, name, strlen(name));
    assert_int_equal(m->params[i].value_len, strlen(value));
    assert_memory_equal(m->params[i].value, value, strlen(value));
}

static void assert_not_found(const bw_route_match *m)
{
    assert_int_equal(m->status, BW_ROUTE_NOT_FOUND);
    assert_null(m->udata);
    assert_null(m->pattern);
    assert_int_equal(m->nparams, 0);
    assert_string_equal(m->allow, "");
    assert_int_equal(m->auto_head, 0);
    assert_int_equal(m->auto_options, 0);
}

static bw_router *notes_router(void)
{
    bw_router *r = bw_router_new();

    assert_non_null(r);
    add_ok(r, "GET", "/healthz", &h_get);
    add_ok(r, "GET", "/v1/notes", &h_get);
    add_ok(r, "POST", "/v1/notes", &h_post);
    add_ok(r, "GET", "/v1/notes/{id}", &h_get);
    add_ok(r, "PUT", "/v1/notes/{id}", &h_put);
    add_ok(r, "DELETE", "/v1/notes/{id}", &h_delete);
    add_ok(r, "GET", "/v1/notes/search", &h_search);
    add_ok(r, "POST", "/v1/notes/{id}/tags", &h_post);
    add_ok(r, "GET", "/v1/users/{user_id}/notes/{note_id}", &h_other);
    assert_int_equal(bw_router_count(r), 9);
    return r;
}

static void test_literals(void **state)
{
    bw_router *r = notes_router();
    bw_route_match m;

    (void)state;
    match(r, "GET", "/healthz", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_ptr_equal(m.udata, &h_get);
    assert_string_equal(m.pattern, "/healthz");
    assert_int_equal(m.nparams, 0);
    assert_string_equal(m.allow, "GET, HEAD, OPTIONS");
    assert_int_equal(m.auto_head, 0);
    assert_int_equal(m.auto_options, 0);

    match(r, "POST", "/v1/notes", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_ptr_equal(m.udata, &h_post);
    assert_string_equal(m.allow, "GET, HEAD, OPTIONS, POST");
    bw_router_free(r);
}

static void test_root_pattern(void **state)
{
    bw_router *r = bw_router_new();
    bw_route_match m;

    (void)state;
    match(r, "GET", "/", &m);
    assert_not_found(&m);
    add_ok(r, "GET", "/", &h_get);
    match(r, "GET", "/", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_ptr_equal(m.udata, &h_get);
    assert_string_equal(m.pattern, "/");
    match(r, "GET", "/x", &m);
    assert_not_found(&m);
    bw_router_free(r);
}

static void test_captures(void **state)
{
    bw_router *r = notes_router();
    bw_route_match m;

    (void)state;
    match(r, "GET", "/v1/notes/42", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_ptr_equal(m.udata, &h_get);
    assert_string_equal(m.pattern, "/v1/notes/{id}");
    assert_int_equal(m.nparams, 1);
    assert_param(&m, 0, "id", "42");
    assert_string_equal(m.allow, "DELETE, GET, HEAD, OPTIONS, PUT");

    match(r, "POST", "/v1/notes/n-7/tags", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_ptr_equal(m.udata, &h_post);
    assert_param(&m, 0, "id", "n-7");

    match(r, "GET", "/v1/users/alice/notes/99", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_ptr_equal(m.udata, &h_other);
    assert_int_equal(m.nparams, 2);
    assert_param(&m, 0, "user_id", "alice");
    assert_param(&m, 1, "note_id", "99");

    /* A capture is any non-empty segment, including text that looks like a pattern. */
    match(r, "GET", "/v1/notes/{id}", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_param(&m, 0, "id", "{id}");
    bw_router_free(r);
}

static void test_precedence(void **state)
{
    bw_router *r = notes_router();
    bw_router *r2 = bw_router_new();
    bw_route_match m;

    (void)state;
    match(r, "GET", "/v1/notes/search", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_ptr_equal(m.udata, &h_search);
    assert_string_equal(m.pattern, "/v1/notes/search");
    assert_int_equal(m.nparams, 0);
    /* The literal wins the path, so its own methods decide: DELETE is not allowed there. */
    match(r, "DELETE", "/v1/notes/search", &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "GET, HEAD, OPTIONS");
    match(r, "GET", "/v1/notes/searc", &m);
    assert_ptr_equal(m.udata, &h_get);
    assert_param(&m, 0, "id", "searc");

    /* Registration order does not matter. */
    add_ok(r2, "GET", "/a/{x}", &h_get);
    add_ok(r2, "GET", "/a/b", &h_search);
    match(r2, "GET", "/a/b", &m);
    assert_ptr_equal(m.udata, &h_search);
    match(r2, "GET", "/a/c", &m);
    assert_ptr_equal(m.udata, &h_get);

    /* When the literal branch leads nowhere, the capture branch is tried. */
    add_ok(r2, "GET", "/a/b/d", &h_other);
    add_ok(r2, "GET", "/a/{x}/c", &h_put);
    match(r2, "GET", "/a/b/c", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_ptr_equal(m.udata, &h_put);
    assert_string_equal(m.pattern, "/a/{x}/c");
    assert_param(&m, 0, "x", "b");
    match(r2, "GET", "/a/b/d", &m);
    assert_ptr_equal(m.udata, &h_other);
    assert_int_equal(m.nparams, 0);
    bw_router_free(r);
    bw_router_free(r2);
}

static void test_not_found(void **state)
{
    bw_router *r = notes_router();
    bw_route_match m;
    static const char *const paths[] = {
        "/",
        "/nope",
        "/v1",
        "/v1/notes/",
        "/v1/notes/42/",
        "/v1//notes",
        "//v1/notes",
        "/V1/notes",
        "/healthz/x",
        "/healthzz",
        "/health",
        "/v1/notes/42/x",
        "/v1/users/a/notes",
        "v1/notes",
        "/v1/notes//tags",
    };

    (void)state;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        match(r, "GET", paths[i], &m);
        if (m.status != BW_ROUTE_NOT_FOUND)
            fail_msg("%s: status %d", paths[i], (int)m.status);
        assert_not_found(&m);
    }
    /* Not found whatever the method, OPTIONS included. */
    match(r, "OPTIONS", "/nope", &m);
    assert_not_found(&m);
    match(r, "HEAD", "/nope", &m);
    assert_not_found(&m);
    bw_router_match(r, "GET", 3, "", 0, &m);
    assert_not_found(&m);
    bw_router_match(r, "GET", 3, NULL, 5, &m);
    assert_not_found(&m);
    bw_router_match(NULL, "GET", 3, "/healthz", 8, &m);
    assert_not_found(&m);
    bw_router_free(r);
}

static void test_method_not_allowed(void **state)
{
    bw_router *r = notes_router();
    bw_route_match m;

    (void)state;
    match(r, "POST", "/healthz", &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    assert_null(m.udata);
    assert_string_equal(m.allow, "GET, HEAD, OPTIONS");
    assert_string_equal(m.pattern, "/healthz");

    match(r, "PATCH", "/v1/notes/42", &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "DELETE, GET, HEAD, OPTIONS, PUT");

    match(r, "GET", "/v1/notes/42/tags", &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "OPTIONS, POST");

    /* Methods are case-sensitive tokens. */
    match(r, "get", "/healthz", &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    match(r, "Get", "/healthz", &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    match(r, "options", "/healthz", &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    /* A prefix of a method is not that method. */
    bw_router_match(r, "GETX", 2, "/healthz", 8, &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    bw_router_match(r, "GET", 3, "/healthz", 8, &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    bw_router_match(r, NULL, 3, "/healthz", 8, &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    bw_router_match(r, "", 0, "/healthz", 8, &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    bw_router_free(r);
}

static void test_auto_head(void **state)
{
    bw_router *r = notes_router();
    bw_route_match m;

    (void)state;
    match(r, "HEAD", "/v1/notes/7", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_ptr_equal(m.udata, &h_get);
    assert_int_equal(m.auto_head, 1);
    assert_int_equal(m.auto_options, 0);
    assert_param(&m, 0, "id", "7");

    /* No GET route: HEAD is not allowed either. */
    match(r, "HEAD", "/v1/notes/7/tags", &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    assert_int_equal(m.auto_head, 0);
    assert_string_equal(m.allow, "OPTIONS, POST");

    match(r, "GET", "/v1/notes/7", &m);
    assert_int_equal(m.auto_head, 0);
    bw_router_free(r);
}

static void test_auto_options(void **state)
{
    bw_router *r = notes_router();
    bw_route_match m;

    (void)state;
    match(r, "OPTIONS", "/v1/notes", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_int_equal(m.auto_options, 1);
    assert_int_equal(m.auto_head, 0);
    assert_null(m.udata);
    assert_string_equal(m.pattern, "/v1/notes");
    assert_string_equal(m.allow, "GET, HEAD, OPTIONS, POST");

    match(r, "OPTIONS", "/v1/notes/9/tags", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_int_equal(m.auto_options, 1);
    assert_string_equal(m.allow, "OPTIONS, POST");
    assert_param(&m, 0, "id", "9");
    bw_router_free(r);
}

static void test_explicit_head_options(void **state)
{
    bw_router *r = bw_router_new();
    bw_route_match m;

    (void)state;
    add_ok(r, "GET", "/f", &h_get);
    add_ok(r, "HEAD", "/f", &h_head);
    add_ok(r, "OPTIONS", "/f", &h_options);
    add_ok(r, "HEAD", "/only-head", &h_head);

    match(r, "HEAD", "/f", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_ptr_equal(m.udata, &h_head);
    assert_int_equal(m.auto_head, 0);
    /* HEAD and OPTIONS listed once each. */
    assert_string_equal(m.allow, "GET, HEAD, OPTIONS");

    match(r, "OPTIONS", "/f", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_ptr_equal(m.udata, &h_options);
    assert_int_equal(m.auto_options, 0);

    match(r, "HEAD", "/only-head", &m);
    assert_ptr_equal(m.udata, &h_head);
    assert_string_equal(m.allow, "HEAD, OPTIONS");
    match(r, "GET", "/only-head", &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    bw_router_free(r);
}

static void test_allow_sorted_and_custom_methods(void **state)
{
    bw_router *r = bw_router_new();
    bw_route_match m;

    (void)state;
    add_ok(r, "PUT", "/x", &h_put);
    add_ok(r, "DELETE", "/x", &h_delete);
    add_ok(r, "PATCH", "/x", &h_other);
    add_ok(r, "GET", "/x", &h_get);
    add_ok(r, "POST", "/x", &h_post);
    add_ok(r, "purge", "/x", &h_other);
    add_ok(r, "PROPFIND", "/x", &h_other);
    match(r, "TRACE", "/x", &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    /* Byte order: upper case sorts before lower case. */
    assert_string_equal(m.allow, "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PROPFIND, PUT, purge");
    match(r, "purge", "/x", &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    match(r, "PURGE", "/x", &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    bw_router_free(r);
}

typedef struct bad_add {
    const char *method;
    const char *pattern;
    const char *msg_part; /* a word the message must contain */
} bad_add;

static void test_add_errors(void **state)
{
    bw_router *r = bw_router_new();
    char long_pattern[2100];
    char deep_pattern[2 * 33 + 1];
    char name33[64];
    char name32[64];
    char method33[40];
    char err[256];
    bw_route_match m;
    static const bad_add cases[] = {
        {NULL, "/a", "method"},
        {"", "/a", "method"},
        {"GE T", "/a", "method"},
        {"GET\r", "/a", "method"},
        {"(GET)", "/a", "method"},
        {"G\xC3\xA9T", "/a", "method"},
        {"GET", NULL, "pattern"},
        {"GET", "", "'/'"},
        {"GET", "v1/notes", "'/'"},
        {"GET", "*", "'/'"},
        {"GET", "/v1//notes", "empty segment"},
        {"GET", "/v1/notes/", "empty segment"},
        {"GET", "//", "empty segment"},
        {"GET", "/v1/./x", "'.'"},
        {"GET", "/v1/..", "'.'"},
        {"GET", "/v1/%41", "percent"},
        {"GET", "/v1/%7Bid%7D", "percent"},
        {"GET", "/v1/a\\b", "canonical"},
        {"GET", "/v1/a\tb", "canonical"},
        {"GET", "/v1/\xC0\xAE", "canonical"},
        {"GET", "/v1/{id", "capture"},
        {"GET", "/v1/id}", "capture"},
        {"GET", "/v1/{}", "capture"},
        {"GET", "/v1/{ID}", "capture"},
        {"GET", "/v1/{1id}", "capture"},
        {"GET", "/v1/{a-b}", "capture"},
        {"GET", "/v1/{a b}", "capture"},
        {"GET", "/v1/x{id}", "capture"},
        {"GET", "/v1/{id}x", "capture"},
        {"GET", "/v1/{{id}}", "capture"},
        {"GET", "/v1/{id}/{id}", "duplicate capture"},
        {"GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", "too many captures"},
    };

    (void)state;
    add_ok(r, "GET", "/n/{id}", &h_get);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(err, 0, sizeof err);
        if (bw_router_add(r, cases[i].method, cases[i].pattern, &h_other, err, sizeof err) != -1)
            fail_msg("case %zu (%s) was accepted", i, cases[i].pattern ? cases[i].pattern : "NULL");
        if (strstr(err, cases[i].msg_part) == NULL)
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err, cases[i].msg_part);
    }

    /* Limits: exactly at them is fine, one past is refused. */
    FMT(name32, "/c/{%s}", "abcdefghijklmnopqrstuvwxyz_01234");
    FMT(name33, "/c/{%s}", "abcdefghijklmnopqrstuvwxyz_012345");
    add_ok(r, "GET", name32, &h_get);
    assert_int_equal(bw_router_add(r, "GET", name33, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "capture"));
    add_ok(r, "GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", &h_get);
    add_ok(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", "/m", &h_get);
    memset(method33, 'A', 33);
    method33[33] = '\0';
    assert_int_equal(bw_router_add(r, method33, "/m", NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "method"));

    memset(long_pattern, 'p', sizeof long_pattern);
    long_pattern[0] = '/';
    long_pattern[2048] = '\0';
    add_ok(r, "GET", long_pattern, &h_get);
    long_pattern[2048] = 'p';
    long_pattern[2049] = '\0';
    assert_int_equal(bw_router_add(r, "GET", long_pattern, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "too long"));

    for (size_t i = 0; i < 33; i++) {
        deep_pattern[2 * i] = '/';
        deep_pattern[2 * i + 1] = 'd';
    }
    deep_pattern[2 * 32] = '\0';
    add_ok(r, "GET", deep_pattern, &h_get);
    deep_pattern[2 * 32] = '/';
    deep_pattern[2 * 33] = '\0';
    assert_int_equal(bw_router_add(r, "GET", deep_pattern, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "too many segments"));

    /* Duplicate: same method and same shape, whatever the capture names. */
    assert_int_equal(bw_router_add(r, "GET", "/n/{id}", NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "duplicate"));
    assert_int_equal(bw_router_add(r, "GET", "/n/{key}", NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "duplicate"));
    /* Same shape, another method, other names: refused, the names must agree. */
    assert_int_equal(bw_router_add(r, "POST", "/n/{key}", NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "capture names"));
    /* Same names: fine. A different shape may use other names at the same position. */
    add_ok(r, "POST", "/n/{id}", &h_post);
    add_ok(r, "GET", "/n/{key}/x", &h_other);
    match(r, "GET", "/n/5/x", &m);
    assert_ptr_equal(m.udata, &h_other);
    assert_param(&m, 0, "key", "5");
    match(r, "POST", "/n/5", &m);
    assert_ptr_equal(m.udata, &h_post);
    assert_param(&m, 0, "id", "5");

    /* Refusals changed nothing: only the accepted routes count. */
    assert_int_equal(bw_router_count(r), 8);
    match(r, "GET", "/v1/x", &m);
    assert_not_found(&m);
    match(r, "PATCH", "/n/5", &m);
    assert_string_equal(m.allow, "GET, HEAD, OPTIONS, POST");

    /* err may be NULL or tiny; a tiny buffer gets a truncated, terminated message. */
    assert_int_equal(bw_router_add(r, "GET", "/n/{id}", NULL, NULL, 0), -1);
    assert_int_equal(bw_router_add(r, "GET", "", NULL, err, 0), -1);
    memset(err, 'z', sizeof err);
    assert_int_equal(bw_router_add(r, "GET", "bad", NULL, err, 5), -1);
    assert_int_equal(strlen(err), 4);
    assert_int_equal(bw_router_add(NULL, "GET", "/x", NULL, err, sizeof err), -1);
    assert_int_equal(bw_router_count(r), 8);
    assert_int_equal(bw_router_count(NULL), 0);
    bw_router_free(r);
}

static void test_too_many_methods(void **state)
{
    bw_router *r = bw_router_new();
    bw_route_match m;
    char method[16];
    char err[128];
    size_t added = 0;

    (void)state;
    /* "Mnn, " takes 5 bytes; the Allow buffer holds 127 characters. */
    for (int i = 10; i < 60; i++) {
        FMT(method, "M%d", i);
        if (bw_router_add(r, method, "/busy", &h_other, err, sizeof err) != 0) {
            assert_non_null(strstr(err, "too many methods"));
            break;
        }
        added++;
    }
    assert_true(added > 10);
    assert_true(added < 50);
    assert_int_equal(bw_router_count(r), added);
    match(r, "NOPE", "/busy", &m);
    assert_int_equal(m.status, BW_ROUTE_METHOD_NOT_ALLOWED);
    assert_true(strlen(m.allow) < sizeof m.allow);
    /* The Allow value lists every added method plus OPTIONS: added + 1 entries. */
    {
        size_t commas = 0;
        for (const char *p = m.allow; *p != '\0'; p++)
            commas += *p == ',';
        assert_int_equal(commas, added);
    }
    /* One more method than fits is refused, whatever its name. */
    assert_int_equal(bw_router_add(r, "GET", "/busy", NULL, err, sizeof err), -1);
    bw_router_free(r);
}

static void test_params_point_into_path(void **state)
{
    bw_router *r = notes_router();
    bw_route_match m;
    /* Not NUL-terminated at path_len: the router must honour the length. */
    char buf[] = "/v1/users/bob/notes/12345/trailing-garbage";
    size_t path_len = strlen("/v1/users/bob/notes/12345");

    (void)state;
    bw_router_match(r, "GET", 3, buf, path_len, &m);
    assert_int_equal(m.status, BW_ROUTE_FOUND);
    assert_int_equal(m.nparams, 2);
    for (size_t i = 0; i < m.nparams; i++) {
        assert_true(m.params[i].value >= buf);
        assert_true(m.params[i].value + m.params[i].value_len <= buf + path_len);
    }
    assert_ptr_equal(m.params[0].value, buf + 10);
    assert_int_equal(m.params[0].value_len, 3);
    assert_ptr_equal(m.params[1].value, buf + 20);
    assert_int_equal(m.params[1].value_len, 5);

    /* The pattern and names are the router's copies, not the caller's strings. */
    {
        char pat[] = "/tmp/{slot}";
        bw_router *r2 = bw_router_new();
        add_ok(r2, "GET", pat, &h_get);
        memset(pat, 'x', sizeof pat - 1);
        match(r2, "GET", "/tmp/1", &m);
        assert_int_equal(m.status, BW_ROUTE_FOUND);
        assert_string_equal(m.pattern, "/tmp/{slot}");
        assert_param(&m, 0, "slot", "1");
        bw_router_free(r2);
    }
    bw_router_free(r);
}

static void test_many_routes(void **state)
{
    enum { N = 300 };
    static int tags[N];
    bw_router *r = bw_router_new();
    bw_route_match m;
    char pattern[64], path[64];

    (void)state;
    for (int i = 0; i < N; i++) {
        FMT(pattern, "/r%d/items/{item_id}", i);
        add_ok(r, "GET", pattern, &tags[i]);
        add_ok(r, "POST", pattern, &tags[(i + 1) % N]);
        FMT(pattern, "/r%d", i);
        add_ok(r, "GET", pattern, &tags[i]);
    }
    assert_int_equal(bw_router_count(r), 3 * N);
    for (int i = 0; i < N; i++) {
        FMT(path, "/r%d/items/x%d", i, i * 7);
        match(r, "GET", path, &m);
        assert_int_equal(m.status, BW_ROUTE_FOUND);
        assert_ptr_equal(m.udata, &tags[i]);
        FMT(pattern, "x%d", i * 7);
        assert_param(&m, 0, "item_id", pattern);
        match(r, "POST", path, &m);
        assert_ptr_equal(m.udata, &tags[(i + 1) % N]);
        FMT(path, "/r%d", i);
        match(r, "GET", path, &m);
        assert_ptr_equal(m.udata, &tags[i]);
        assert_int_equal(m.nparams, 0);
    }
    match(r, "GET", "/r300", &m);
    assert_not_found(&m);
    bw_router_free(r);
    bw_router_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_root_pattern),
        cmocka_unit_test(test_captures),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_auto_head),
        cmocka_unit_test(test_auto_options),
        cmocka_unit_test(test_explicit_head_options),
        cmocka_unit_test(test_allow_sorted_and_custom_methods),
        cmocka_unit_test(test_add_errors),
        cmocka_unit_test(test_too_many_methods),
        cmocka_unit_test(test_params_point_into_path),
        cmocka_unit_test(test_many_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
