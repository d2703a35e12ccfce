/* CORS: config refusals, exact origin matching, "*" and "null", every preflight branch,
 * buffer handling, and the headers produced for each result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bulwark/cors.h"
#include "bulwark/log.h"

static const char *const ORIGINS[] = {"https://app.example.com", "http://localhost:8080"};
static const char *const METHODS[] = {"GET", "PUT", "DELETE"};
static const char *const HEADERS[] = {"content-type", "X-CSRF-Token"};

static bw_cors_config base_config(void)
{
    bw_cors_config c = {.enabled = true,
                        .origins = ORIGINS,
                        .norigins = 2,
                        .methods = METHODS,
                        .nmethods = 3,
                        .headers = HEADERS,
                        .nheaders = 2,
                        .max_age = 600};
    return c;
}

static bw_cors *make(const bw_cors_config *c)
{
    char err[160] = "";
    bw_cors *r = bw_cors_new(c, err, sizeof(err));
    if (r == NULL)
        fail_msg("bw_cors_new refused: %s", err);
    return r;
}

/* One request's result and headers. */
typedef struct call {
    bw_cors_result r;
    bw_header_kv out[BW_CORS_MAX_HEADERS];
    size_t n;
    char buf[BW_CORS_BUF_SIZE];
} call;

static bw_cors_result check(const bw_cors *c, call *k, const char *method, const char *origin,
                            const char *acrm, const char *acrh)
{
    memset(k, 0, sizeof(*k));
    k->n = 99;
    k->r = bw_cors_check(c, method, strlen(method), origin, origin ? strlen(origin) : 0, acrm,
                         acrm ? strlen(acrm) : 0, acrh, acrh ? strlen(acrh) : 0, k->buf,
                         sizeof(k->buf), k->out, &k->n);
    assert_true(k->n <= BW_CORS_MAX_HEADERS);
    return k->r;
}

static const char *hdr(const call *k, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < k->n; i++) {
        if (strcmp(k->out[i].name, name) == 0) {
            assert_null(v); /* never twice */
            v = k->out[i].value;
        }
    }
    return v;
}

static void assert_only_vary(const call *k)
{
    assert_int_equal(k->n, 1);
    assert_string_equal(hdr(k, "Vary"), "Origin");
}

static void test_disabled_and_not_cors(void **state)
{
    (void)state;
    bw_cors_config cfg = base_config();
    cfg.enabled = false;
    cfg.norigins = 0; /* the rest is not even looked at */
    bw_cors *c = make(&cfg);
    call k;
    assert_int_equal(check(c, &k, "GET", "https://app.example.com", NULL, NULL), BW_CORS_NOT_CORS);
    assert_int_equal(k.n, 0);
    assert_int_equal(check(c, &k, "OPTIONS", "https://app.example.com", "PUT", NULL),
                     BW_CORS_NOT_CORS);
    assert_int_equal(k.n, 0);
    bw_cors_free(c);

    cfg = base_config();
    c = make(&cfg);
    assert_int_equal(check(c, &k, "GET", NULL, NULL, NULL), BW_CORS_NOT_CORS);
    assert_int_equal(k.n, 0);
    assert_int_equal(check(c, &k, "OPTIONS", NULL, "PUT", "content-type"), BW_CORS_NOT_CORS);
    assert_int_equal(k.n, 0);
    assert_int_equal(check(NULL, &k, "GET", "https://app.example.com", NULL, NULL),
                     BW_CORS_NOT_CORS);
    bw_cors_free(c);
    bw_cors_free(NULL);
}

static void test_allowed(void **state)
{
    (void)state;
    bw_cors_config cfg = base_config();
    bw_cors *c = make(&cfg);
    call k;
    assert_int_equal(check(c, &k, "POST", "http://localhost:8080", NULL, NULL), BW_CORS_ALLOWED);
    assert_int_equal(k.n, 2);
    assert_string_equal(hdr(&k, "Access-Control-Allow-Origin"), "http://localhost:8080");
    assert_string_equal(hdr(&k, "Vary"), "Origin");
    assert_null(hdr(&k, "Access-Control-Allow-Credentials"));
    /* The echoed origin lives in the caller's buffer. */
    const char *acao = hdr(&k, "Access-Control-Allow-Origin");
    assert_true(acao >= k.buf && acao < k.buf + sizeof(k.buf));

    /* OPTIONS without Access-Control-Request-Method is an ordinary request... */
    assert_int_equal(check(c, &k, "OPTIONS", "https://app.example.com", NULL, NULL),
                     BW_CORS_ALLOWED);
    assert_null(hdr(&k, "Access-Control-Allow-Methods"));
    /* ...and so is a non-OPTIONS request carrying one. */
    assert_int_equal(check(c, &k, "PATCH", "https://app.example.com", "PATCH", "x-evil"),
                     BW_CORS_ALLOWED);
    assert_int_equal(k.n, 2);
    bw_cors_free(c);

    cfg.allow_credentials = true;
    c = make(&cfg);
    assert_int_equal(check(c, &k, "GET", "https://app.example.com", NULL, NULL), BW_CORS_ALLOWED);
    assert_int_equal(k.n, 3);
    assert_string_equal(hdr(&k, "Access-Control-Allow-Credentials"), "true");
    assert_string_equal(hdr(&k, "Access-Control-Allow-Origin"), "https://app.example.com");
    bw_cors_free(c);
}

static void test_denied_origins(void **state)
{
    (void)state;
    bw_cors_config cfg = base_config();
    cfg.allow_credentials = true;
    bw_cors *c = make(&cfg);
    static const char *const bad[] = {
        "https://APP.example.com",           /* byte-exact: case differs */
        "https://app.example.com/",          /* trailing slash */
        "https://app.example.com.evil.test", /* suffix */
        "https://evil.app.example.com",      /* prefix */
        "https://app.example.co",            /* shorter */
        "http://app.example.com",            /* scheme */
        "https://app.example.com:443",       /* explicit port is a different string */
        "http://localhost:8081",
        "http://localhost",
        "null",
        "",
        "*",
        "https://app.example.com\r\nX-Evil: 1",
    };
    call k;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (check(c, &k, "GET", bad[i], NULL, NULL) != BW_CORS_DENIED)
            fail_msg("origin %zu not denied", i);
        assert_only_vary(&k);
        assert_int_equal(check(c, &k, "OPTIONS", bad[i], "GET", NULL), BW_CORS_PREFLIGHT_DENIED);
        assert_only_vary(&k);
    }
    /* An origin with an embedded NUL matching a prefix is not the configured origin. */
    k.n = 0;
    assert_int_equal(bw_cors_check(c, "GET", 3, "https://app.example.com\0x", 25, NULL, 0, NULL, 0,
                                   k.buf, sizeof(k.buf), k.out, &k.n),
                     BW_CORS_DENIED);
    bw_cors_free(c);
}

static int g_logfd = -1;

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

static void assert_risky_logged(const char *value)
{
    json_t *log = take_log();
    assert_int_equal(json_array_size(log), 1);
    json_t *j = json_array_get(log, 0);
    assert_string_equal(json_string_value(json_object_get(j, "event")), "config.risky_setting");
    assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(j, "setting")), "cors.origins");
    assert_string_equal(json_string_value(json_object_get(j, "value")), value);
    json_decref(log);
}

static int log_setup(void **state)
{
    (void)state;
    g_logfd = memfd_create("bw_cors_log", 0);
    if (g_logfd < 0)
        return -1;
    bw_log_set_fd(g_logfd);
    return 0;
}

static int log_teardown(void **state)
{
    (void)state;
    bw_log_set_fd(2);
    close(g_logfd);
    return 0;
}

static void test_wildcard(void **state)
{
    (void)state;
    static const char *const star[] = {"*"};
    bw_cors_config cfg = base_config();
    cfg.origins = star;
    cfg.norigins = 1;
    bw_cors *c = make(&cfg);
    assert_risky_logged("*");
    call k;
    assert_int_equal(check(c, &k, "GET", "https://anything.test", NULL, NULL), BW_CORS_ALLOWED);
    assert_int_equal(k.n, 1);
    assert_string_equal(hdr(&k, "Access-Control-Allow-Origin"), "*");
    assert_null(hdr(&k, "Vary"));
    assert_null(hdr(&k, "Access-Control-Allow-Credentials"));
    /* "null" is never covered by "*"; an empty Origin is no origin at all. */
    assert_int_equal(check(c, &k, "GET", "null", NULL, NULL), BW_CORS_DENIED);
    assert_int_equal(k.n, 0);
    assert_int_equal(check(c, &k, "GET", "", NULL, NULL), BW_CORS_DENIED);
    assert_int_equal(check(c, &k, "OPTIONS", "https://x.test", "PUT", "content-type"),
                     BW_CORS_PREFLIGHT_OK);
    assert_string_equal(hdr(&k, "Access-Control-Allow-Origin"), "*");
    assert_string_equal(hdr(&k, "Access-Control-Allow-Methods"), "GET, PUT, DELETE");
    bw_cors_free(c);

    char err[160] = "";
    cfg.allow_credentials = true;
    assert_null(bw_cors_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "credentials"));
    static const char *const mixed[] = {"https://app.example.com", "*"};
    cfg.allow_credentials = false;
    cfg.origins = mixed;
    cfg.norigins = 2;
    assert_null(bw_cors_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "only"));
    json_t *log = take_log();
    assert_int_equal(json_array_size(log), 0); /* refused configs log nothing */
    json_decref(log);
}

static void test_null_origin(void **state)
{
    (void)state;
    static const char *const withnull[] = {"https://app.example.com", "null"};
    bw_cors_config cfg = base_config();
    cfg.origins = withnull;
    bw_cors *c = make(&cfg);
    assert_risky_logged("null");
    call k;
    assert_int_equal(check(c, &k, "GET", "null", NULL, NULL), BW_CORS_ALLOWED);
    assert_string_equal(hdr(&k, "Access-Control-Allow-Origin"), "null");
    assert_int_equal(check(c, &k, "GET", "NULL", NULL, NULL), BW_CORS_DENIED);
    bw_cors_free(c);
}

static void test_preflight_ok(void **state)
{
    (void)state;
    bw_cors_config cfg = base_config();
    cfg.allow_credentials = true;
    bw_cors *c = make(&cfg);
    call k;
    assert_int_equal(
        check(c, &k, "OPTIONS", "https://app.example.com", "PUT", "Content-Type, x-csrf-token"),
        BW_CORS_PREFLIGHT_OK);
    assert_int_equal(k.n, BW_CORS_MAX_HEADERS);
    assert_string_equal(hdr(&k, "Access-Control-Allow-Origin"), "https://app.example.com");
    assert_string_equal(hdr(&k, "Vary"), "Origin");
    assert_string_equal(hdr(&k, "Access-Control-Allow-Credentials"), "true");
    assert_string_equal(hdr(&k, "Access-Control-Allow-Methods"), "GET, PUT, DELETE");
    assert_string_equal(hdr(&k, "Access-Control-Allow-Headers"), "content-type, X-CSRF-Token");
    assert_string_equal(hdr(&k, "Access-Control-Max-Age"), "600");
    for (size_t i = 0; i < k.n; i++) {
        const char *v = k.out[i].value;
        bool static_value = strcmp(v, "Origin") == 0 || strcmp(v, "true") == 0;
        assert_true(static_value || (v >= k.buf && v < k.buf + sizeof(k.buf)));
    }

    /* List syntax: OWS, empty elements, any case; no headers requested at all. */
    static const char *const ok_lists[] = {"",
                                           " ",
                                           ",",
                                           "content-type",
                                           "CONTENT-TYPE",
                                           " ,\tcontent-type ,, x-csrf-token\t,",
                                           "x-csrf-token,content-type,content-type"};
    for (size_t i = 0; i < sizeof(ok_lists) / sizeof(ok_lists[0]); i++) {
        if (check(c, &k, "OPTIONS", "http://localhost:8080", "DELETE", ok_lists[i]) !=
            BW_CORS_PREFLIGHT_OK)
            fail_msg("list %zu denied", i);
    }
    assert_int_equal(check(c, &k, "OPTIONS", "http://localhost:8080", "GET", NULL),
                     BW_CORS_PREFLIGHT_OK);
    assert_int_equal(k.n, BW_CORS_MAX_HEADERS);
    bw_cors_free(c);

    /* No headers configured: no Allow-Headers, and no header may be requested. */
    cfg.nheaders = 0;
    cfg.allow_credentials = false;
    cfg.max_age = 0;
    c = make(&cfg);
    assert_int_equal(check(c, &k, "OPTIONS", "http://localhost:8080", "GET", NULL),
                     BW_CORS_PREFLIGHT_OK);
    assert_int_equal(k.n, 4);
    assert_null(hdr(&k, "Access-Control-Allow-Headers"));
    assert_string_equal(hdr(&k, "Access-Control-Max-Age"), "0");
    assert_int_equal(check(c, &k, "OPTIONS", "http://localhost:8080", "GET", "content-type"),
                     BW_CORS_PREFLIGHT_DENIED);
    assert_only_vary(&k);
    bw_cors_free(c);

    /* No methods configured: the CORS-safelisted ones. */
    cfg.nmethods = 0;
    cfg.methods = NULL;
    c = make(&cfg);
    assert_int_equal(check(c, &k, "OPTIONS", "http://localhost:8080", "POST", NULL),
                     BW_CORS_PREFLIGHT_OK);
    assert_string_equal(hdr(&k, "Access-Control-Allow-Methods"), "GET, HEAD, POST");
    assert_int_equal(check(c, &k, "OPTIONS", "http://localhost:8080", "DELETE", NULL),
                     BW_CORS_PREFLIGHT_DENIED);
    bw_cors_free(c);
}

static void test_preflight_denied(void **state)
{
    (void)state;
    bw_cors_config cfg = base_config();
    bw_cors *c = make(&cfg);
    static const struct {
        const char *origin, *acrm, *acrh;
    } bad[] = {
        {"https://evil.test", "GET", NULL},                      /* origin */
        {"https://app.example.com", "POST", NULL},               /* method not listed */
        {"https://app.example.com", "put", NULL},                /* methods are case-sensitive */
        {"https://app.example.com", "", NULL},                   /* empty method */
        {"https://app.example.com", "PUT ", NULL},               /* not a token */
        {"https://app.example.com", "PUT", "authorization"},     /* header not listed */
        {"https://app.example.com", "PUT", "content-type, x-a"}, /* one of several */
        {"https://app.example.com", "PUT", "content type"},      /* not a token */
        {"https://app.example.com", "PUT", "content-type;"},     /* not a token */
        {"https://app.example.com", "PUT", "content-typ"},       /* prefix of allowed */
        {"https://app.example.com", "PUT", "content-type-x"},    /* allowed is a prefix */
        {"https://app.example.com", "PUT", "x-csrf-token\r\nx"}, /* CR LF */
    };
    call k;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (check(c, &k, "OPTIONS", bad[i].origin, bad[i].acrm, bad[i].acrh) !=
            BW_CORS_PREFLIGHT_DENIED)
            fail_msg("case %zu not denied", i);
        assert_only_vary(&k);
    }
    bw_cors_free(c);
}

static void test_buffer_and_out(void **state)
{
    (void)state;
    bw_cors_config cfg = base_config();
    bw_cors *c = make(&cfg);
    const char *o = "https://app.example.com";
    bw_header_kv out[BW_CORS_MAX_HEADERS];
    size_t n = 99;
    char buf[BW_CORS_BUF_SIZE];
    /* Exactly what a preflight needs: origin, methods, headers, max-age, each with NUL. */
    size_t need = strlen(o) + 1 + strlen("GET, PUT, DELETE") + 1 +
                  strlen("content-type, X-CSRF-Token") + 1 + strlen("600") + 1;
    assert_int_equal(
        bw_cors_check(c, "OPTIONS", 7, o, strlen(o), "GET", 3, NULL, 0, buf, need, out, &n),
        BW_CORS_PREFLIGHT_OK);
    assert_int_equal(
        bw_cors_check(c, "OPTIONS", 7, o, strlen(o), "GET", 3, NULL, 0, buf, need - 1, out, &n),
        BW_CORS_PREFLIGHT_DENIED);
    assert_int_equal(n, 1);
    assert_int_equal(
        bw_cors_check(c, "GET", 3, o, strlen(o), NULL, 0, NULL, 0, buf, strlen(o), out, &n),
        BW_CORS_DENIED);
    assert_int_equal(
        bw_cors_check(c, "GET", 3, o, strlen(o), NULL, 0, NULL, 0, buf, strlen(o) + 1, out, &n),
        BW_CORS_ALLOWED);
    assert_int_equal(bw_cors_check(c, "GET", 3, o, strlen(o), NULL, 0, NULL, 0, NULL, 0, out, &n),
                     BW_CORS_DENIED);
    /* Unusable out parameters fail closed. */
    assert_int_equal(
        bw_cors_check(c, "GET", 3, o, strlen(o), NULL, 0, NULL, 0, buf, sizeof(buf), NULL, &n),
        BW_CORS_DENIED);
    assert_int_equal(n, 0);
    assert_int_equal(bw_cors_check(c, "OPTIONS", 7, o, strlen(o), "GET", 3, NULL, 0, buf,
                                   sizeof(buf), out, NULL),
                     BW_CORS_PREFLIGHT_DENIED);
    /* A NULL method is not a preflight. */
    assert_int_equal(
        bw_cors_check(c, NULL, 0, o, strlen(o), "GET", 3, NULL, 0, buf, sizeof(buf), out, &n),
        BW_CORS_ALLOWED);
    bw_cors_free(c);
}

static void test_config_refusals(void **state)
{
    (void)state;
    static const char *const bad_origins[] = {
        "app.example.com",
        "https://",
        "https:/app.example.com",
        "https://app.example.com/",
        "https://app.example.com/path",
        "https://user@app.example.com",
        "https://APP.example.com",
        "HTTPS://app.example.com",
        "https://app.example.com:443",
        "http://app.example.com:80",
        "https://app.example.com:0",
        "https://app.example.com:65536",
        "https://app.example.com:08080",
        "https://app.example.com:123456",
        "https://app.example.com:",
        "https://app.example.com:8a",
        "https://[::1",
        "https://[]",
        "https://app.example.com?x=1",
        "https://app.example.com#f",
        "https://a b.example.com",
        " https://app.example.com",
        "",
        "1http://app.example.com",
        "https://app.example.com\r\n",
    };
    bw_cors_config cfg = base_config();
    for (size_t i = 0; i < sizeof(bad_origins) / sizeof(bad_origins[0]); i++) {
        const char *one[] = {bad_origins[i]};
        char err[160] = "";
        cfg.origins = one;
        cfg.norigins = 1;
        if (bw_cors_new(&cfg, err, sizeof(err)) != NULL)
            fail_msg("origin %zu accepted", i);
        assert_non_null(strstr(err, "origin 0"));
        assert_null(strpbrk(err, "\r\n"));
    }
    static const char *const good_origins[] = {
        "https://app.example.com:8443",
        "http://localhost:8080",
        "https://[::1]:8443",
        "http://127.0.0.1:3000",
        "https://xn--bcher-kva.ch",
        "http://app.example.com:443",
        "https://app.example.com:65535",
        "chrome-extension://abcdefgh",
        "https://my_host.internal",
    };
    for (size_t i = 0; i < sizeof(good_origins) / sizeof(good_origins[0]); i++) {
        const char *one[] = {good_origins[i]};
        cfg.origins = one;
        cfg.norigins = 1;
        bw_cors *c = make(&cfg);
        call k;
        assert_int_equal(check(c, &k, "GET", good_origins[i], NULL, NULL), BW_CORS_ALLOWED);
        bw_cors_free(c);
    }

    char err[160];
    cfg = base_config();
    cfg.norigins = 0;
    assert_null(bw_cors_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "no origins"));
    cfg = base_config();
    cfg.origins = NULL;
    assert_null(bw_cors_new(&cfg, err, sizeof(err)));
    static const char *const with_null_entry[] = {"https://a.test", NULL};
    cfg = base_config();
    cfg.origins = with_null_entry;
    assert_null(bw_cors_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "origin 1"));

    static const char *const bad_methods[] = {"GET", "GET POST"};
    cfg = base_config();
    cfg.methods = bad_methods;
    cfg.nmethods = 2;
    assert_null(bw_cors_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "method 1"));
    cfg.methods = NULL;
    assert_null(bw_cors_new(&cfg, err, sizeof(err)));

    static const char *const bad_headers[] = {"X-Bad:"};
    cfg = base_config();
    cfg.headers = bad_headers;
    cfg.nheaders = 1;
    assert_null(bw_cors_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "header 0"));
    cfg.headers = NULL;
    assert_null(bw_cors_new(&cfg, err, sizeof(err)));

    cfg = base_config();
    cfg.max_age = -1;
    assert_null(bw_cors_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "max_age"));
    cfg.max_age = 86401;
    assert_null(bw_cors_new(&cfg, err, sizeof(err)));
    cfg.max_age = 86400;
    bw_cors_free(make(&cfg));

    assert_null(bw_cors_new(NULL, err, sizeof(err)));
    assert_null(bw_cors_new(NULL, NULL, 0));
}

static void test_too_long_for_buffer(void **state)
{
    (void)state;
    enum { N = 100 };
    char names[N][32];
    const char *list[N];
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "x-some-long-header-name-%03zu", i);
        list[i] = names[i];
    }
    bw_cors_config cfg = base_config();
    cfg.headers = list;
    cfg.nheaders = N; /* about 3 KiB joined */
    char err[160] = "";
    assert_null(bw_cors_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "exceed"));

    /* Half as many fit, and then every value fits a BW_CORS_BUF_SIZE buffer. */
    cfg.nheaders = N / 2;
    bw_cors *c = make(&cfg);
    call k;
    assert_int_equal(
        check(c, &k, "OPTIONS", "https://app.example.com", "GET", "x-some-long-header-name-049"),
        BW_CORS_PREFLIGHT_OK);
    assert_int_equal(strlen(hdr(&k, "Access-Control-Allow-Headers")), 50 * 27 + 49 * 2);
    bw_cors_free(c);
}

static void test_copies_config(void **state)
{
    (void)state;
    char origin[] = "https://copy.example.com", method[] = "PATCH", header[] = "x-copy";
    const char *o[] = {origin}, *m[] = {method}, *h[] = {header};
    bw_cors_config cfg = {.enabled = true,
                          .origins = o,
                          .norigins = 1,
                          .methods = m,
                          .nmethods = 1,
                          .headers = h,
                          .nheaders = 1,
                          .max_age = 5};
    bw_cors *c = make(&cfg);
    memset(origin, 'z', sizeof(origin) - 1);
    memset(method, 'z', sizeof(method) - 1);
    memset(header, 'z', sizeof(header) - 1);
    call k;
    assert_int_equal(check(c, &k, "OPTIONS", "https://copy.example.com", "PATCH", "x-copy"),
                     BW_CORS_PREFLIGHT_OK);
    assert_string_equal(hdr(&k, "Access-Control-Allow-Methods"), "PATCH");
    assert_string_equal(hdr(&k, "Access-Control-Allow-Headers"), "x-copy");
    bw_cors_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disabled_and_not_cors),
        cmocka_unit_test(test_allowed),
        cmocka_unit_test(test_denied_origins),
        cmocka_unit_test_setup_teardown(test_wildcard, log_setup, log_teardown),
        cmocka_unit_test_setup_teardown(test_null_origin, log_setup, log_teardown),
        cmocka_unit_test(test_preflight_ok),
        cmocka_unit_test(test_preflight_denied),
        cmocka_unit_test(test_buffer_and_out),
        cmocka_unit_test(test_config_refusals),
        cmocka_unit_test(test_too_long_for_buffer),
        cmocka_unit_test(test_copies_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
