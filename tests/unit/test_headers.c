/* Header policy: the defaults, global and per-route set/remove with their precedence,
 * case-insensitive names, validation refusals that leave the policy unchanged, the logged
 * warning, and copies of caller strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include <jansson.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bulwark/headers.h"
#include "bulwark/log.h"

static const bw_header_kv WANT_DEFAULTS[] = {
    {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Permissions-Policy", "accelerometer=(), camera=(), geolocation=(), gyroscope=(), "
                           "magnetometer=(), microphone=(), payment=(), usb=(), "
                           "interest-cohort=()"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
    {"Cache-Control", "no-store"},
};
#define NDEF (sizeof(WANT_DEFAULTS) / sizeof(WANT_DEFAULTS[0]))

static int g_logfd = -1;

static int setup(void **state)
{
    g_logfd = memfd_create("bw_headers_log", 0);
    if (g_logfd < 0)
        return -1;
    bw_log_set_fd(g_logfd);
    bw_log_set_level(BW_LOG_INFO);
    *state = bw_header_policy_new();
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    bw_header_policy_free(*state);
    bw_log_set_fd(2);
    close(g_logfd);
    return 0;
}

/* Returns the log lines written since the last call, parsed, as a JSON array. */
static json_t *take_log(void)
{
    off_t end = lseek(g_logfd, 0, SEEK_END);
    assert_true(end >= 0);
    char *buf = malloc((size_t)end + 1);
    assert_non_null(buf);
    assert_int_equal(pread(g_logfd, buf, (size_t)end, 0), end);
    assert_int_equal(ftruncate(g_logfd, 0), 0);
    json_t *arr = json_array();
    for (char *line = buf; line < buf + end;) {
        char *nl = memchr(line, '\n', (size_t)(buf + end - line));
        assert_non_null(nl);
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, NULL);
        assert_non_null(j);
        json_array_append_new(arr, j);
        line = nl + 1;
    }
    free(buf);
    return arr;
}

static const char *find(const bw_header_kv *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(l[i].name, name) == 0)
            return l[i].value;
    }
    return NULL;
}

static size_t list_for(bw_header_policy *p, const char *route, const bw_header_kv **l)
{
    *l = NULL;
    size_t n = bw_header_policy_for(p, route, l);
    assert_non_null(*l);
    /* Never two entries with the same name. */
    for (size_t i = 0; i < n; i++) {
        for (size_t k = i + 1; k < n; k++)
            assert_int_not_equal(strcasecmp((*l)[i].name, (*l)[k].name), 0);
    }
    return n;
}

static void test_defaults(void **state)
{
    bw_header_policy *p = *state;
    const bw_header_kv *l;
    size_t n = list_for(p, NULL, &l);
    assert_int_equal(n, NDEF);
    for (size_t i = 0; i < NDEF; i++) {
        assert_string_equal(l[i].name, WANT_DEFAULTS[i].name);
        assert_string_equal(l[i].value, WANT_DEFAULTS[i].value);
    }
    assert_null(find(l, n, "Strict-Transport-Security"));
    /* A route without changes gets the global list itself: no per-request work. */
    const bw_header_kv *r;
    assert_int_equal(list_for(p, "/v1/notes", &r), NDEF);
    assert_ptr_equal(r, l);

    const bw_header_kv *none = WANT_DEFAULTS;
    assert_int_equal(bw_header_policy_for(NULL, NULL, &none), 0);
    assert_null(none);
    bw_header_policy_free(NULL);
    json_decref(take_log());
}

static void test_global_set_replace_add_remove(void **state)
{
    bw_header_policy *p = *state;
    char err[128];
    const bw_header_kv *l;

    /* Replacing a default matches its name case-insensitively and keeps its place. */
    assert_int_equal(bw_header_policy_set(p, NULL, "content-SECURITY-policy", "default-src 'self'",
                                          err, sizeof(err)),
                     0);
    size_t n = list_for(p, NULL, &l);
    assert_int_equal(n, NDEF);
    assert_string_equal(l[0].name, "Content-Security-Policy");
    assert_string_equal(l[0].value, "default-src 'self'");

    /* A new name is appended. */
    assert_int_equal(bw_header_policy_set(p, NULL, "X-Service", "notes", err, sizeof(err)), 0);
    n = list_for(p, NULL, &l);
    assert_int_equal(n, NDEF + 1);
    assert_string_equal(l[NDEF].name, "X-Service");
    assert_string_equal(l[NDEF].value, "notes");

    /* Setting it again replaces, never duplicates. */
    assert_int_equal(bw_header_policy_set(p, NULL, "x-service", "notes2", err, sizeof(err)), 0);
    n = list_for(p, NULL, &l);
    assert_int_equal(n, NDEF + 1);
    assert_string_equal(find(l, n, "X-Service"), "notes2");

    /* Removing a default keeps the others in order. */
    assert_int_equal(bw_header_policy_remove(p, NULL, "x-frame-options", err, sizeof(err)), 0);
    n = list_for(p, NULL, &l);
    assert_int_equal(n, NDEF);
    assert_null(find(l, n, "X-Frame-Options"));
    assert_string_equal(l[1].name, "X-Content-Type-Options");
    assert_string_equal(l[2].name, "Referrer-Policy");

    /* Removing something absent is allowed and changes nothing. */
    assert_int_equal(bw_header_policy_remove(p, NULL, "X-Absent", err, sizeof(err)), 0);
    assert_int_equal(list_for(p, NULL, &l), NDEF);

    /* Set after remove brings it back (at the end: it is a new entry now). */
    assert_int_equal(
        bw_header_policy_set(p, NULL, "X-Frame-Options", "SAMEORIGIN", err, sizeof(err)), 0);
    n = list_for(p, NULL, &l);
    assert_int_equal(n, NDEF + 1);
    assert_string_equal(find(l, n, "X-Frame-Options"), "SAMEORIGIN");
    json_decref(take_log());
}

static void test_routes_and_precedence(void **state)
{
    bw_header_policy *p = *state;
    char err[128];
    const bw_header_kv *g, *a, *b;

    assert_int_equal(
        bw_header_policy_set(p, "/a", "X-Frame-Options", "SAMEORIGIN", err, sizeof(err)), 0);
    /* Only /a changed. */
    size_t ng = list_for(p, NULL, &g);
    size_t na = list_for(p, "/a", &a);
    assert_string_equal(find(g, ng, "X-Frame-Options"), "DENY");
    assert_string_equal(find(a, na, "X-Frame-Options"), "SAMEORIGIN");
    assert_int_equal(list_for(p, "/b", &b), NDEF);
    assert_ptr_equal(b, g);
    assert_int_equal(list_for(p, "/A", &b), NDEF); /* routes compare exactly */
    assert_string_equal(find(b, NDEF, "X-Frame-Options"), "DENY");

    /* A later global change still comes before the route's own. */
    assert_int_equal(bw_header_policy_remove(p, NULL, "X-Frame-Options", err, sizeof(err)), 0);
    assert_int_equal(bw_header_policy_set(p, NULL, "Cache-Control", "max-age=60", err, sizeof(err)),
                     0);
    ng = list_for(p, NULL, &g);
    na = list_for(p, "/a", &a);
    assert_null(find(g, ng, "X-Frame-Options"));
    assert_string_equal(find(a, na, "X-Frame-Options"), "SAMEORIGIN");
    /* ...and global changes reach routes that have their own changes. */
    assert_string_equal(find(a, na, "Cache-Control"), "max-age=60");

    /* A route can remove what the global scope added, whatever the order. */
    assert_int_equal(bw_header_policy_remove(p, "/a", "X-Global", err, sizeof(err)), 0);
    assert_int_equal(bw_header_policy_set(p, NULL, "X-Global", "1", err, sizeof(err)), 0);
    ng = list_for(p, NULL, &g);
    na = list_for(p, "/a", &a);
    assert_string_equal(find(g, ng, "X-Global"), "1");
    assert_null(find(a, na, "X-Global"));

    /* Within a route, the last change to a name wins. */
    assert_int_equal(bw_header_policy_remove(p, "/a", "x-global", err, sizeof(err)), 0);
    assert_int_equal(bw_header_policy_set(p, "/a", "X-GLOBAL", "route", err, sizeof(err)), 0);
    na = list_for(p, "/a", &a);
    assert_string_equal(find(a, na, "X-Global"), "route");
    assert_int_equal(bw_header_policy_remove(p, "/a", "X-Global", err, sizeof(err)), 0);
    na = list_for(p, "/a", &a);
    assert_null(find(a, na, "X-Global"));
    json_decref(take_log());
}

static void test_many_routes(void **state)
{
    bw_header_policy *p = *state;
    enum { N = 300 };
    char route[32], value[32];
    /* Inserted out of order: lookup must not depend on insertion order. */
    for (size_t k = 0; k < N; k++) {
        size_t i = (k * 7919) % N;
        snprintf(route, sizeof(route), "/r/%zu", i);
        snprintf(value, sizeof(value), "v%zu", i);
        assert_int_equal(bw_header_policy_set(p, route, "X-Route", value, NULL, 0), 0);
    }
    assert_int_equal(bw_header_policy_set(p, NULL, "X-All", "yes", NULL, 0), 0);
    for (size_t i = 0; i < N; i++) {
        const bw_header_kv *l;
        snprintf(route, sizeof(route), "/r/%zu", i);
        snprintf(value, sizeof(value), "v%zu", i);
        size_t n = list_for(p, route, &l);
        assert_int_equal(n, NDEF + 2);
        assert_string_equal(find(l, n, "X-Route"), value);
        assert_string_equal(find(l, n, "X-All"), "yes");
    }
    const bw_header_kv *l;
    size_t n = list_for(p, "/r/x", &l);
    assert_null(find(l, n, "X-Route"));
    json_t *log = take_log();
    assert_int_equal(json_array_size(log), 0);
    json_decref(log);
}

static void test_copies_strings(void **state)
{
    bw_header_policy *p = *state;
    char route[] = "/copy", name[] = "X-Copy", value[] = "original";
    assert_int_equal(bw_header_policy_set(p, route, name, value, NULL, 0), 0);
    memset(route, '?', sizeof(route) - 1);
    memset(name, '?', sizeof(name) - 1);
    memset(value, '?', sizeof(value) - 1);
    const bw_header_kv *l;
    size_t n = list_for(p, "/copy", &l);
    assert_string_equal(find(l, n, "X-Copy"), "original");
    json_decref(take_log());
}

/* Snapshot of the lists for NULL and "/r" to prove refusals change nothing. */
typedef struct snap {
    size_t n[2];
    bw_header_kv kv[2][32];
} snap;

static void take_snap(bw_header_policy *p, snap *s)
{
    const char *routes[2] = {NULL, "/r"};
    for (int i = 0; i < 2; i++) {
        const bw_header_kv *l;
        s->n[i] = list_for(p, routes[i], &l);
        assert_true(s->n[i] <= 32);
        memcpy(s->kv[i], l, s->n[i] * sizeof(*l));
    }
}

static void assert_same(bw_header_policy *p, const snap *s)
{
    snap now;
    take_snap(p, &now);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(now.n[i], s->n[i]);
        for (size_t k = 0; k < s->n[i]; k++) {
            assert_string_equal(now.kv[i][k].name, s->kv[i][k].name);
            assert_string_equal(now.kv[i][k].value, s->kv[i][k].value);
        }
    }
}

static void test_refusals(void **state)
{
    bw_header_policy *p = *state;
    assert_int_equal(bw_header_policy_set(p, "/r", "X-R", "1", NULL, 0), 0);
    json_decref(take_log());
    snap before;
    take_snap(p, &before);

    static const struct {
        const char *route, *name, *value; /* value NULL: remove */
        const char *err_has;
    } bad[] = {
        {NULL, "Bad Name", "v", "token"},
        {NULL, "", "v", "token"},
        {NULL, "X-A:", "v", "token"},
        {NULL, "X-\xc3\xa9", "v", "token"},
        {"/r", "X-A\r\nX-B", "v", "token"},
        {NULL, NULL, "v", "token"},
        {NULL, "X-A", "a\r\nSet-Cookie: s=1", "control"},
        {NULL, "X-A", "a\nb", "control"},
        {"/r", "X-A", " lead", "whitespace"},
        {NULL, "X-A", "trail\t", "whitespace"},
        {NULL, "X-A", "del\x7f", "control"},
        {NULL, "Content-Length", "0", "server"},
        {"/r", "transfer-encoding", "chunked", "server"},
        {NULL, "CONNECTION", "close", "server"},
        {NULL, "Keep-Alive", NULL, "server"},
        {NULL, "Upgrade", "h2c", "server"},
        {NULL, "TE", "trailers", "server"},
        {NULL, "Trailer", "x", "server"},
        {"", "X-A", "v", "route"},
        {"", "X-A", NULL, "route"},
        {NULL, "Bad Name", NULL, "token"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[160] = "";
        int rc =
            bad[i].value != NULL
                ? bw_header_policy_set(p, bad[i].route, bad[i].name, bad[i].value, err, sizeof(err))
                : bw_header_policy_remove(p, bad[i].route, bad[i].name, err, sizeof(err));
        if (rc != -1)
            fail_msg("case %zu accepted", i);
        if (strstr(err, bad[i].err_has) == NULL)
            fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, bad[i].err_has);
        /* The error never echoes an invalid name or value (it may hold CR/LF). */
        assert_null(strpbrk(err, "\r\n"));
        assert_same(p, &before);
    }
    char err[64] = "";
    assert_int_equal(bw_header_policy_set(p, NULL, "X-A", NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "remove"));
    assert_int_equal(bw_header_policy_set(NULL, NULL, "X-A", "v", err, sizeof(err)), -1);
    assert_int_equal(bw_header_policy_remove(NULL, NULL, "X-A", err, sizeof(err)), -1);
    /* No buffer for the message is fine, and a tiny one is cut, not overrun. */
    assert_int_equal(bw_header_policy_set(p, NULL, "Bad Name", "v", NULL, 0), -1);
    char tiny[4] = {'x', 'x', 'x', 'x'};
    assert_int_equal(bw_header_policy_set(p, NULL, "Bad Name", "v", tiny, sizeof(tiny)), -1);
    assert_int_equal(tiny[3], '\0');
    assert_same(p, &before);

    /* Refusals change nothing, so they log nothing. */
    json_t *log = take_log();
    assert_int_equal(json_array_size(log), 0);
    json_decref(log);
}

/* Weakening a header is an opt-in that is logged once, at start-up, from the
 * configuration's risky-settings list; the policy itself stays silent so the
 * warning is not written twice. */
static void test_changes_not_logged_twice(void **state)
{
    bw_header_policy *p = *state;
    assert_int_equal(bw_header_policy_remove(p, "/v1/notes/{id}", "X-Frame-Options", NULL, 0), 0);
    assert_int_equal(bw_header_policy_set(p, NULL, "Referrer-Policy", "origin", NULL, 0), 0);
    json_t *log = take_log();
    assert_int_equal(json_array_size(log), 0);
    json_decref(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_global_set_replace_add_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routes_and_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copies_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_not_logged_twice, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
