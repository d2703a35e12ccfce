/* Unit tests for the config module: defaults, file, environment, errors,
 * cross-field checks, header overrides, dump and risky settings. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include <jansson.h>

#include "bulwark/config.h"
#include "bulwark/schema.h"

static char *no_env[] = {NULL};

typedef struct error_case {
    const char *json;
    const char *error; /* exact expected message */
} error_case;

static int load(const char *json, char **envp, bw_config **c, char *err, size_t errlen)
{
    return bw_config_load_buffer(json, json != NULL ? strlen(json) : 0, "test",
                                 envp != NULL ? envp : no_env, c, err, errlen);
}

static bw_config *load_ok(const char *json, char **envp)
{
    bw_config *c = NULL;
    char err[512];
    if (load(json, envp, &c, err, sizeof(err)) != 0)
        fail_msg("expected %s to load, got: %s", json ? json : "(defaults)", err);
    assert_non_null(c);
    return c;
}

static void expect_errors(const error_case *cases, size_t n, char **envp)
{
    for (size_t i = 0; i < n; i++) {
        bw_config *c = (bw_config *)(uintptr_t)1;
        char err[512];
        int rc = load(cases[i].json, envp, &c, err, sizeof(err));
        if (rc != -1 || strcmp(err, cases[i].error) != 0)
            fail_msg("%s\n  expected: %s\n  got (rc %d): %s", cases[i].json, cases[i].error, rc,
                     rc == 0 ? "(success)" : err);
        assert_null(c);
    }
}

/* The dump of c as a string (caller frees). */
static char *dump_string(const bw_config *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(bw_config_dump(c, f), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static json_t *dump_json(const bw_config *c)
{
    char *s = dump_string(c);
    json_error_t jerr;
    json_t *j = json_loads(s, 0, &jerr);
    free(s);
    assert_non_null(j);
    return j;
}

/* A private temporary folder per test (tests/common: bw_tmpdir_create). */
static char *tmpdir;

static int make_tmpdir(void **state)
{
    (void)state;
    tmpdir = bw_tmpdir_create();
    return tmpdir != NULL ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    int rc = bw_rm_rf(tmpdir);
    free(tmpdir);
    tmpdir = NULL;
    return rc == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

/* ---- Defaults ---- */

static void test_defaults_equal_shipped_file(void **state)
{
    (void)state;
    bw_config *defaults = load_ok(NULL, NULL);
    json_error_t jerr;
    json_t *file =
        json_load_file(BW_SOURCE_DIR "/config/bulwark.json", JSON_REJECT_DUPLICATES, &jerr);
    if (file == NULL)
        fail_msg("config/bulwark.json: %s", jerr.text);
    /* The file names every key with the compiled default: nothing missing. */
    json_t *compiled = dump_json(defaults);
    assert_true(json_equal(file, compiled));

    /* Loading the file gives exactly the defaults. */
    bw_config *loaded = NULL;
    char err[512];
    assert_int_equal(
        bw_config_load(BW_SOURCE_DIR "/config/bulwark.json", no_env, &loaded, err, sizeof(err)), 0);
    char *a = dump_string(defaults), *b = dump_string(loaded);
    assert_string_equal(a, b);

    /* Spot checks against the documented defaults, in case dump were blind. */
    assert_string_equal(loaded->data_dir, ".data");
    assert_string_equal(loaded->server.listen, "127.0.0.1:8443");
    assert_false(loaded->server.plain_http);
    assert_false(loaded->server.allow_public_http);
    assert_false(loaded->tls.allow_tls12);
    assert_string_equal(loaded->tls.cert, "tls/cert.pem");
    assert_int_equal(loaded->server.threads, 32);
    assert_int_equal(loaded->server.max_header_bytes, 16384);
    assert_int_equal(loaded->server.max_body_bytes, 1048576);
    assert_int_equal(loaded->limits.max_path_segments, 32);
    assert_string_equal(loaded->store.file, "bulwark.db");
    assert_true(loaded->store.auto_migrate);
    assert_string_equal(loaded->log.level, "info");
    assert_int_equal(loaded->headers.noverrides, 0);
    assert_false(loaded->cors.enabled);
    assert_int_equal(loaded->cors.norigins, 0);
    assert_int_equal(loaded->cors.nmethods, 5);
    assert_string_equal(loaded->cors.allowed_methods[4], "DELETE");
    assert_int_equal(loaded->cors.nheaders, 3);
    assert_string_equal(loaded->cors.allowed_headers[2], "X-Request-Id");
    assert_int_equal(loaded->cors.max_age, 600);
    assert_string_equal(loaded->secrets.session_key.ref, "file:secrets/session.key");
    assert_string_equal(loaded->secrets.audit_key.ref, "file:secrets/audit.key");

    free(a);
    free(b);
    json_decref(file);
    json_decref(compiled);
    bw_config_free(defaults);
    bw_config_free(loaded);
}

static void test_values_are_applied(void **state)
{
    (void)state;
    bw_config *c = load_ok("{\"data_dir\": \"/srv/notes\", \"server\": {\"threads\": 2, "
                           "\"max_body_bytes\": 0, \"max_header_bytes\": 1048576, "
                           "\"keep_alive_timeout_ms\": 0, \"listen\": \"[::1]:8443\"}, "
                           "\"store\": {\"auto_migrate\": false}, \"log\": {\"level\": \"warn\"}, "
                           "\"cors\": {\"allowed_methods\": []}, "
                           "\"secrets\": {\"audit_key\": \"env:AUDIT\"}}",
                           NULL);
    assert_string_equal(c->data_dir, "/srv/notes");
    assert_int_equal(c->server.threads, 2);                /* min is accepted */
    assert_int_equal(c->server.max_header_bytes, 1048576); /* max is accepted */
    assert_int_equal(c->server.max_body_bytes, 0);
    assert_int_equal(c->server.keep_alive_timeout_ms, 0);
    assert_string_equal(c->server.listen, "[::1]:8443");
    assert_false(c->store.auto_migrate);
    assert_string_equal(c->log.level, "warn");
    assert_int_equal(c->cors.nmethods, 0);
    assert_string_equal(c->secrets.audit_key.ref, "env:AUDIT");
    assert_string_equal(c->secrets.session_key.ref, "file:secrets/session.key");
    bw_config_free(c);
}

/* ---- Error classes ---- */

static void test_unknown_keys(void **state)
{
    (void)state;
    static const error_case cases[] = {
        {"{\"treads\": 4}", "treads: unknown key"},
        {"{\"server\": {\"treads\": 4}}", "server.treads: unknown key"},
        {"{\"secrets\": {\"session\": \"file:x\"}}", "secrets.session: unknown key"},
        {"{\"server.threads\": 4}", "[\"server.threads\"]: unknown key"},
        {"{\"server\": {\"listen\": \"127.0.0.1:1\", \"x.y\": 1}}", "server[\"x.y\"]: unknown key"},
        {"{\"server\": {\"threads\": {\"a\": 1}}}",
         "server.threads: must be an integer between 2 and 1024"},
        {"{\"cors\": {\"enabled\": false, \"origins\": []}}", "cors.origins: unknown key"},
        {"{\"bad\\u0001key\": 1}", "bad?key: unknown key"},
    };
    expect_errors(cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

static void test_wrong_types(void **state)
{
    (void)state;
    static const error_case cases[] = {
        {"{\"server\": []}", "server: must be an object"},
        {"{\"log\": \"debug\"}", "log: must be an object"},
        {"{\"data_dir\": 1}", "data_dir: must be a string"},
        {"{\"log\": {\"level\": null}}", "log.level: must be a string"},
        {"{\"server\": {\"allow_public_http\": \"yes\"}}",
         "server.allow_public_http: must be true or false"},
        {"{\"store\": {\"auto_migrate\": 1}}", "store.auto_migrate: must be true or false"},
        {"{\"server\": {\"threads\": \"8\"}}",
         "server.threads: must be an integer between 2 and 1024"},
        {"{\"server\": {\"threads\": 8.0}}",
         "server.threads: must be an integer between 2 and 1024"},
        {"{\"server\": {\"max_body_bytes\": true}}",
         "server.max_body_bytes: must be an integer between 0 and 1073741824"},
        {"{\"cors\": {\"allowed_methods\": \"GET\"}}",
         "cors.allowed_methods: must be an array of strings"},
        {"{\"cors\": {\"allowed_origins\": [\"https://a.example\", \"https://b.example\", 3]}}",
         "cors.allowed_origins[2]: must be a string"},
        {"{\"headers\": []}", "headers: must be an object"},
        {"{\"secrets\": {\"session_key\": 5}}", "secrets.session_key: must be a string"},
        {"{\"data_dir\": \"\"}", "data_dir: must be a string of 1 to 4096 bytes"},
        {"{\"store\": {\"file\": \"a\\nb\"}}", "store.file: must not contain control characters"},
    };
    expect_errors(cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

static void test_ranges(void **state)
{
    (void)state;
    static const error_case cases[] = {
        {"{\"server\": {\"threads\": 1}}", "server.threads: must be an integer between 2 and 1024"},
        {"{\"server\": {\"threads\": 1025}}",
         "server.threads: must be an integer between 2 and 1024"},
        {"{\"server\": {\"threads\": -9223372036854775807}}",
         "server.threads: must be an integer between 2 and 1024"},
        {"{\"server\": {\"request_timeout_ms\": 99}}",
         "server.request_timeout_ms: must be an integer between 100 and 600000"},
        {"{\"server\": {\"max_body_bytes\": -1}}",
         "server.max_body_bytes: must be an integer between 0 and 1073741824"},
        {"{\"server\": {\"max_body_bytes\": 1073741825}}",
         "server.max_body_bytes: must be an integer between 0 and 1073741824"},
        {"{\"server\": {\"max_header_bytes\": 1023}}",
         "server.max_header_bytes: must be an integer between 1024 and 1048576"},
        {"{\"server\": {\"max_headers\": 65}}",
         "server.max_headers: must be an integer between 1 and 64"},
        {"{\"limits\": {\"max_query_bytes\": 65537}}",
         "limits.max_query_bytes: must be an integer between 0 and 65536"},
        {"{\"store\": {\"busy_timeout_ms\": 60001}}",
         "store.busy_timeout_ms: must be an integer between 0 and 60000"},
        {"{\"cors\": {\"max_age\": 86401}}",
         "cors.max_age: must be an integer between 0 and 86400"},
        {"{\"log\": {\"level\": \"trace\"}}",
         "log.level: must be one of \"debug\", \"info\", \"warn\", \"error\""},
        {"{\"log\": {\"level\": \"INFO\"}}",
         "log.level: must be one of \"debug\", \"info\", \"warn\", \"error\""},
    };
    expect_errors(cases, sizeof(cases) / sizeof(cases[0]), NULL);
    /* Longest list accepted, one more refused. */
    char json[8192];
    size_t used = (size_t)snprintf(json, sizeof(json), "{\"cors\": {\"allowed_methods\": [");
    for (int i = 0; i < 33; i++)
        used += (size_t)snprintf(json + used, sizeof(json) - used, "%s\"M%d\"", i ? "," : "", i);
    (void)snprintf(json + used, sizeof(json) - used, "]}}");
    error_case many = {json, "cors.allowed_methods: must have at most 32 entries"};
    expect_errors(&many, 1, NULL);
    char *last = strstr(json, ",\"M32\"");
    assert_non_null(last);
    memcpy(last, "]}}", 4);
    bw_config *c = load_ok(json, NULL);
    assert_int_equal(c->cors.nmethods, 32);
    bw_config_free(c);
}

static void test_listen(void **state)
{
    (void)state;
    static const char *const bad_syntax[] = {
        "localhost",   "127.0.0.1",     ":8080",   "8080",     "::1:8080",
        "[::1]",       "[::1]8080",     "[zz]:80", "[::1:80",  "bad_host:80",
        "-a.b:80",     "a-.b:80",       "a..b:80", "1.2.3:80", "256.1.1.1:80",
        "01.2.3.4:80", "127.0.0.1 :80", "",        "[]:80",
    };
    for (size_t i = 0; i < sizeof(bad_syntax) / sizeof(bad_syntax[0]); i++) {
        char json[256], want[256];
        (void)snprintf(json, sizeof(json), "{\"server\": {\"listen\": \"%s\"}}", bad_syntax[i]);
        (void)snprintf(want, sizeof(want), "server.listen: %s",
                       bad_syntax[i][0] == '\0'
                           ? "must be a string of 1 to 4096 bytes"
                           : "must be HOST:PORT or [IPV6]:PORT with an IPv4 address, a host "
                             "name or a bracketed IPv6 address");
        error_case ec = {json, want};
        expect_errors(&ec, 1, NULL);
        assert_false(bw_config_listen_is_loopback(bad_syntax[i]));
    }
    static const char *const bad_port[] = {"127.0.0.1:0",  "127.0.0.1:65536", "127.0.0.1:abc",
                                           "127.0.0.1:",   "127.0.0.1:+80",   "[::1]:123456",
                                           "localhost:-1", "127.0.0.1:80:80"};
    for (size_t i = 0; i < sizeof(bad_port) / sizeof(bad_port[0]); i++) {
        char json[256];
        (void)snprintf(json, sizeof(json), "{\"server\": {\"listen\": \"%s\"}}", bad_port[i]);
        error_case ec = {json, "server.listen: port must be an integer between 1 and 65535"};
        expect_errors(&ec, 1, NULL);
    }
    static const char *const loopback[] = {"127.0.0.1:1", "127.255.0.9:65535", "[::1]:8443",
                                           "localhost:8080", "LocalHost:80"};
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
        char json[256];
        (void)snprintf(json, sizeof(json), "{\"server\": {\"listen\": \"%s\"}}", loopback[i]);
        bw_config *c = load_ok(json, NULL);
        assert_string_equal(c->server.listen, loopback[i]);
        assert_true(bw_config_listen_is_loopback(loopback[i]));
        bw_config_free(c);
    }
    assert_false(bw_config_listen_is_loopback(NULL));
}

static void test_public_http_needs_opt_in(void **state)
{
    (void)state;
    static const char *const public_addrs[] = {"0.0.0.0:8080",
                                               "[::]:8080",
                                               "10.0.0.1:80",
                                               "example.com:80",
                                               "128.0.0.1:80",
                                               "[::2]:80",
                                               "localhost.example.com:80",
                                               "[::ffff:127.0.0.1]:80"};
    for (size_t i = 0; i < sizeof(public_addrs) / sizeof(public_addrs[0]); i++) {
        char json[256];
        assert_false(bw_config_listen_is_loopback(public_addrs[i]));
        /* TLS (the default) may listen anywhere. */
        (void)snprintf(json, sizeof(json), "{\"server\": {\"listen\": \"%s\"}}", public_addrs[i]);
        bw_config *c = load_ok(json, NULL);
        const char *items[4];
        assert_int_equal(bw_config_risky(c, items, 4), 0);
        bw_config_free(c);
        /* Plain HTTP there needs the second opt-in. */
        (void)snprintf(json, sizeof(json),
                       "{\"server\": {\"listen\": \"%s\", \"plain_http\": true}}", public_addrs[i]);
        error_case ec = {json, "server.listen: plain HTTP on a non-loopback address needs "
                               "\"server.allow_public_http\": true"};
        expect_errors(&ec, 1, NULL);
        (void)snprintf(json, sizeof(json),
                       "{\"server\": {\"listen\": \"%s\", \"plain_http\": true, "
                       "\"allow_public_http\": true}}",
                       public_addrs[i]);
        c = load_ok(json, NULL);
        assert_true(c->server.allow_public_http);
        assert_int_equal(bw_config_risky(c, items, 4), 2);
        assert_string_equal(items[0], "server.plain_http is on: no TLS");
        assert_string_equal(items[1], "server.allow_public_http is on");
        bw_config_free(c);
    }
}

static void test_tls_opt_ins(void **state)
{
    (void)state;
    static const error_case cases[] = {
        {"{\"server\": {\"allow_public_http\": true}}",
         "server.allow_public_http: only applies with \"server.plain_http\": true"},
        {"{\"tls\": {\"allow_tls12\": 1}}", "tls.allow_tls12: must be true or false"},
        {"{\"tls\": {\"cert\": \"\"}}", "tls.cert: must be a string of 1 to 4096 bytes"},
        {"{\"tls\": {\"ciphers\": \"ALL\"}}", "tls.ciphers: unknown key"},
    };
    expect_errors(cases, sizeof(cases) / sizeof(cases[0]), NULL);
    bw_config *c = load_ok("{\"tls\": {\"allow_tls12\": true}}", NULL);
    const char *items[4];
    assert_int_equal(bw_config_risky(c, items, 4), 1);
    assert_string_equal(items[0], "tls.allow_tls12 is on");
    bw_config_free(c);
}

/* The audit and metrics keys where "" means off, and their cross-checks. */
static void test_audit_and_metrics(void **state)
{
    (void)state;
    static const error_case cases[] = {
        {"{\"metrics\": {\"listen\": \"0.0.0.0:9464\"}}",
         "metrics.listen: a non-loopback metrics listener needs \"metrics.allow_public\": true"},
        {"{\"metrics\": {\"listen\": \"\", \"allow_public\": true}}",
         "metrics.allow_public: only applies with \"metrics.listen\""},
        {"{\"metrics\": {\"listen\": \"9464\"}}",
         "metrics.listen: must be HOST:PORT or [IPV6]:PORT with an IPv4 address, a host name or "
         "a bracketed IPv6 address"},
        {"{\"audit\": {\"webhook\": {\"url\": \"http://siem.example/hook\"}}}",
         "audit.webhook.url: must be an https:// URL with a host"},
        {"{\"audit\": {\"webhook\": {\"url\": \"https:///hook\"}}}",
         "audit.webhook.url: must be an https:// URL with a host"},
        {"{\"audit\": {\"file\": \"\"}}", "audit.file: must be a string of 1 to 4096 bytes"},
        {"{\"audit\": {\"export\": \"a\\nb\"}}",
         "audit.export: must not contain control characters"},
        {"{\"audit\": {\"batch_max\": 0}}",
         "audit.batch_max: must be an integer between 1 and 10000"},
        {"{\"audit\": {\"alerts\": [\"auth.login.failure 5\"]}}",
         "audit.alerts[0]: expected '/' after the count"},
    };
    expect_errors(cases, sizeof(cases) / sizeof(cases[0]), NULL);

    bw_config *c = load_ok("{\"metrics\": {\"listen\": \"\"}, \"audit\": {\"export\": \"-\", "
                           "\"webhook\": {\"url\": \"https://siem.example:8443/hook\"}}}",
                           NULL);
    const char *items[4];
    assert_string_equal(c->metrics.listen, "");
    assert_string_equal(c->audit.export_path, "-");
    assert_string_equal(c->audit.webhook.url, "https://siem.example:8443/hook");
    assert_string_equal(c->audit.webhook.ca, "");
    assert_int_equal(bw_config_risky(c, items, 4), 0);
    bw_config_free(c);

    c = load_ok("{\"metrics\": {\"listen\": \"0.0.0.0:9464\", \"allow_public\": true}}", NULL);
    assert_int_equal(bw_config_risky(c, items, 4), 1);
    assert_string_equal(items[0], "metrics.allow_public is on: metrics served beyond loopback");
    bw_config_free(c);

    /* The harness turns the listener off through the environment. */
    char *env[] = {"BULWARK_METRICS_LISTEN=", NULL};
    c = load_ok(NULL, env);
    assert_string_equal(c->metrics.listen, "");
    assert_int_equal(c->ban.attacks, 10);
    assert_int_equal(c->audit.nalerts, 3);
    bw_config_free(c);
}

static void test_secret_refs_in_config(void **state)
{
    (void)state;
    static const error_case cases[] = {
        {"{\"secrets\": {\"session_key\": \"hunter2hunter2\"}}",
         "secrets.session_key: a literal secret is not allowed; use \"file:PATH\" or "
         "\"env:NAME\""},
        {"{\"secrets\": {\"audit_key\": \"FILE:/x\"}}",
         "secrets.audit_key: a literal secret is not allowed; use \"file:PATH\" or "
         "\"env:NAME\""},
        {"{\"secrets\": {\"audit_key\": \"file:\"}}",
         "secrets.audit_key: a file: reference needs a path of 1 to 4091 bytes"},
        {"{\"secrets\": {\"audit_key\": \"env:1KEY\"}}",
         "secrets.audit_key: an env: reference needs a variable name of "
         "[A-Za-z_][A-Za-z0-9_]*"},
    };
    expect_errors(cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

static void test_json_errors(void **state)
{
    (void)state;
    /* jansson words its messages; we own the prefix with the position. */
    static const error_case cases[] = {
        {"{\"server\": {\"threads\": 4, \"threads\": 8}}",
         "test: invalid JSON at line 1, column 35: duplicate object key"},
        {"{\"server\": ", "test: invalid JSON at line 1, column 11: "},
        {"{\n  \"a\": 1,\n}", "test: invalid JSON at line 3, column 1: "},
        {"{\"data_dir\": \"a\\u0000b\"}", "test: invalid JSON at line 1, column 23: "},
        {"{\"data_dir\": \"\xff\"}", "test: invalid JSON at line 1, column "},
        {"{} {}", "test: invalid JSON at line 1, column 4: "},
        {"", "test: invalid JSON at line 1, column 0: "},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bw_config *c = NULL;
        char err[512];
        assert_int_equal(load(cases[i].json, NULL, &c, err, sizeof(err)), -1);
        if (strncmp(err, cases[i].error, strlen(cases[i].error)) != 0)
            fail_msg("%s\n  expected prefix: %s\n  got: %s", cases[i].json, cases[i].error, err);
        assert_null(c);
    }
    static const error_case not_object[] = {
        {"[]", "test: the top level must be a JSON object"},
        {"[{\"server\": {}}]", "test: the top level must be a JSON object"},
    };
    expect_errors(not_object, 2, NULL);
}

/* ---- The file and BULWARK_CONFIG ---- */

static void test_file_sources(void **state)
{
    (void)state;
    char path[128], other[128], err[512];
    bw_config *c = NULL;
    (void)snprintf(path, sizeof(path), "%s/a.json", tmpdir);
    (void)snprintf(other, sizeof(other), "%s/b.json", tmpdir);
    write_file(path, "{\"server\": {\"threads\": 8}}", 26, 0600);
    write_file(other, "{\"server\": {\"threads\": 9}}", 26, 0600);

    assert_int_equal(bw_config_load(path, no_env, &c, err, sizeof(err)), 0);
    assert_int_equal(c->server.threads, 8);
    bw_config_free(c);

    /* BULWARK_CONFIG names the file when the caller gives none... */
    char var[160];
    (void)snprintf(var, sizeof(var), "BULWARK_CONFIG=%s", other);
    char *env[] = {var, NULL};
    assert_int_equal(bw_config_load(NULL, env, &c, err, sizeof(err)), 0);
    assert_int_equal(c->server.threads, 9);
    bw_config_free(c);
    /* ...and --config wins over it. */
    assert_int_equal(bw_config_load(path, env, &c, err, sizeof(err)), 0);
    assert_int_equal(c->server.threads, 8);
    bw_config_free(c);
    /* The buffer entry point ignores BULWARK_CONFIG. */
    assert_int_equal(bw_config_load_buffer(NULL, 0, NULL, env, &c, err, sizeof(err)), 0);
    assert_int_equal(c->server.threads, 32);
    bw_config_free(c);

    char *empty[] = {"BULWARK_CONFIG=", NULL};
    c = (bw_config *)(uintptr_t)1;
    assert_int_equal(bw_config_load(NULL, empty, &c, err, sizeof(err)), -1);
    assert_string_equal(err, "BULWARK_CONFIG: the config file path is empty");
    assert_null(c);
    assert_int_equal(bw_config_load("", no_env, &c, err, sizeof(err)), -1);
    assert_string_equal(err, "--config: the config file path is empty");

    /* Errors inside the file are named with the key, parse errors with the file. */
    write_file(path, "{\"server\": {\"threads\": 1}}", 26, 0600);
    assert_int_equal(bw_config_load(path, no_env, &c, err, sizeof(err)), -1);
    assert_string_equal(err, "server.threads: must be an integer between 2 and 1024");
    write_file(path, "{oops}", 6, 0600);
    assert_int_equal(bw_config_load(path, no_env, &c, err, sizeof(err)), -1);
    char want[256];
    (void)snprintf(want, sizeof(want), "config file %s: invalid JSON at line 1", path);
    assert_memory_equal(err, want, strlen(want));
}

static void test_file_refused(void **state)
{
    (void)state;
    char path[128], err[512], want[256];
    bw_config *c = NULL;

    (void)snprintf(path, sizeof(path), "%s/missing.json", tmpdir);
    assert_int_equal(bw_config_load(path, no_env, &c, err, sizeof(err)), -1);
    (void)snprintf(want, sizeof(want), "config file %s: cannot open: %s", path, strerror(ENOENT));
    assert_string_equal(err, want);

    assert_int_equal(bw_config_load(tmpdir, no_env, &c, err, sizeof(err)), -1);
    (void)snprintf(want, sizeof(want), "config file %s: not a regular file", tmpdir);
    assert_string_equal(err, want);

    /* Unreadable. Root reads anything, so then the check runs in a child
     * that drops to an unprivileged user. */
    (void)snprintf(path, sizeof(path), "%s/locked.json", tmpdir);
    write_file(path, "{}", 2, 0000);
    (void)snprintf(want, sizeof(want), "config file %s: cannot open: %s", path, strerror(EACCES));
    if (geteuid() != 0) {
        assert_int_equal(bw_config_load(path, no_env, &c, err, sizeof(err)), -1);
        assert_string_equal(err, want);
    } else {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            bool ok = setgid(65534) == 0 && setuid(65534) == 0 &&
                      bw_config_load(path, no_env, &c, err, sizeof(err)) == -1 &&
                      strcmp(err, want) == 0;
            _exit(ok ? 0 : 1);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }

    /* A FIFO is refused without blocking on it. */
    (void)snprintf(path, sizeof(path), "%s/fifo.json", tmpdir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(bw_config_load(path, no_env, &c, err, sizeof(err)), -1);
    (void)snprintf(want, sizeof(want), "config file %s: not a regular file", path);
    assert_string_equal(err, want);

    /* A regular file whose read fails. */
    assert_int_equal(bw_config_load("/proc/self/mem", no_env, &c, err, sizeof(err)), -1);
    (void)snprintf(want, sizeof(want), "config file /proc/self/mem: cannot read: %s",
                   strerror(EIO));
    assert_string_equal(err, want);

    /* Exactly 1 MiB loads; one byte more is refused. */
    size_t max = BW_CONFIG_MAX_FILE_BYTES;
    char *big = malloc(max + 1);
    assert_non_null(big);
    memset(big, ' ', max + 1);
    big[0] = '{';
    big[max - 1] = '}';
    (void)snprintf(path, sizeof(path), "%s/big.json", tmpdir);
    write_file(path, big, max, 0600);
    assert_int_equal(bw_config_load(path, no_env, &c, err, sizeof(err)), 0);
    bw_config_free(c);
    write_file(path, big, max + 1, 0600);
    assert_int_equal(bw_config_load(path, no_env, &c, err, sizeof(err)), -1);
    (void)snprintf(want, sizeof(want), "config file %s: larger than 1048576 bytes", path);
    assert_string_equal(err, want);
    assert_int_equal(bw_config_load_buffer(big, max + 1, "buf", no_env, &c, err, sizeof(err)), -1);
    assert_string_equal(err, "buf: larger than 1048576 bytes");
    free(big);
}

/* ---- The environment ---- */

typedef struct env_case {
    const char *var;   /* NAME=value */
    const char *error; /* NULL: must load */
} env_case;

static void test_env(void **state)
{
    (void)state;
    static const env_case cases[] = {
        {"BULWARK_DATA_DIR=/var/lib/notes", NULL},
        {"BULWARK_DATA_DIR=", "BULWARK_DATA_DIR (data_dir): must be a string of 1 to 4096 bytes"},
        {"BULWARK_DATA_DIR=a\tb",
         "BULWARK_DATA_DIR (data_dir): must not contain control characters"},
        {"BULWARK_DATA_DIR=/srv/d\xc3\xa9j\xc3\xa0", NULL},
        {"BULWARK_DATA_DIR=/srv/\xff", "BULWARK_DATA_DIR (data_dir): must be valid UTF-8"},
        {"BULWARK_DATA_DIR=/srv/\xc3", "BULWARK_DATA_DIR (data_dir): must be valid UTF-8"},
        {"BULWARK_DATA_DIR=/srv/\xc0\xaf", "BULWARK_DATA_DIR (data_dir): must be valid UTF-8"},
        {"BULWARK_DATA_DIR=/srv/\xed\xa0\x80", "BULWARK_DATA_DIR (data_dir): must be valid UTF-8"},
        {"BULWARK_DATA_DIR=/srv/\xf4\x90\x80\x80",
         "BULWARK_DATA_DIR (data_dir): must be valid UTF-8"},
        {"BULWARK_DATA_DIR=/srv/\xe2\x82", "BULWARK_DATA_DIR (data_dir): must be valid UTF-8"},
        {"BULWARK_DATA_DIR=/srv/\xf0\x9f\x94\x92", NULL},
        {"BULWARK_LISTEN=127.0.0.1:9000", NULL},
        {"BULWARK_LISTEN=[::1]:9000", NULL},
        {"BULWARK_LISTEN=nonsense",
         "BULWARK_LISTEN (server.listen): must be HOST:PORT or [IPV6]:PORT with an IPv4 address, "
         "a host name or a bracketed IPv6 address"},
        {"BULWARK_LISTEN=127.0.0.1:70000",
         "BULWARK_LISTEN (server.listen): port must be an integer between 1 and 65535"},
        {"BULWARK_LISTEN=0.0.0.0:9000", NULL}, /* TLS listens anywhere */
        {"BULWARK_THREADS=64", NULL},
        {"BULWARK_THREADS=2", NULL},
        {"BULWARK_THREADS=1024", NULL},
        {"BULWARK_THREADS=abc", "BULWARK_THREADS (server.threads): must be an integer between 2 "
                                "and 1024"},
        {"BULWARK_THREADS=", "BULWARK_THREADS (server.threads): must be an integer between 2 and "
                             "1024"},
        {"BULWARK_THREADS=8x", "BULWARK_THREADS (server.threads): must be an integer between 2 "
                               "and 1024"},
        {"BULWARK_THREADS= 8", "BULWARK_THREADS (server.threads): must be an integer between 2 "
                               "and 1024"},
        {"BULWARK_THREADS=+8", "BULWARK_THREADS (server.threads): must be an integer between 2 "
                               "and 1024"},
        {"BULWARK_THREADS=-", "BULWARK_THREADS (server.threads): must be an integer between 2 "
                              "and 1024"},
        {"BULWARK_THREADS=-4", "BULWARK_THREADS (server.threads): must be an integer between 2 "
                               "and 1024"},
        {"BULWARK_THREADS=1025", "BULWARK_THREADS (server.threads): must be an integer between 2 "
                                 "and 1024"},
        {"BULWARK_THREADS=99999999999999999999", "BULWARK_THREADS (server.threads): must be an "
                                                 "integer between 2 and 1024"},
        {"BULWARK_LOG_LEVEL=debug", NULL},
        {"BULWARK_LOG_LEVEL=INFO", "BULWARK_LOG_LEVEL (log.level): must be one of \"debug\", "
                                   "\"info\", \"warn\", \"error\""},
        {"BULWARK_TREADS=8", "BULWARK_TREADS: unknown configuration variable"},
        {"BULWARK_=1", "BULWARK_: unknown configuration variable"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *env[] = {"PATH=/usr/bin", (char *)cases[i].var, "BULWARKS=ignored", NULL};
        bw_config *c = NULL;
        char err[512];
        int rc = load(NULL, env, &c, err, sizeof(err));
        if (cases[i].error == NULL) {
            if (rc != 0)
                fail_msg("%s: %s", cases[i].var, err);
            /* The value landed in the right field. */
            const char *value = strchr(cases[i].var, '=') + 1;
            if (strncmp(cases[i].var, "BULWARK_DATA_DIR=", 17) == 0)
                assert_string_equal(c->data_dir, value);
            else if (strncmp(cases[i].var, "BULWARK_LISTEN=", 15) == 0)
                assert_string_equal(c->server.listen, value);
            else if (strncmp(cases[i].var, "BULWARK_THREADS=", 16) == 0)
                assert_int_equal(c->server.threads, atoi(value));
            else
                assert_string_equal(c->log.level, value);
            bw_config_free(c);
        } else {
            if (rc != -1 || strcmp(err, cases[i].error) != 0)
                fail_msg("%s\n  expected: %s\n  got: %s", cases[i].var, cases[i].error,
                         rc == 0 ? "(success)" : err);
            assert_null(c);
        }
    }
}

static void test_env_precedence(void **state)
{
    (void)state;
    const char *file = "{\"server\": {\"threads\": 8, \"listen\": \"0.0.0.0:80\", "
                       "\"plain_http\": true, \"allow_public_http\": true}, "
                       "\"log\": {\"level\": \"error\"}}";
    char *env[] = {"BULWARK_THREADS=16", "BULWARK_THREADS=17", NULL};
    bw_config *c = load_ok(file, env);
    assert_int_equal(c->server.threads, 16); /* env beats file; first entry wins, as getenv */
    assert_string_equal(c->log.level, "error");
    assert_string_equal(c->server.listen, "0.0.0.0:80");
    bw_config_free(c);

    /* The file's opt-in also covers a listen address from the environment. */
    char *env2[] = {"BULWARK_LISTEN=0.0.0.0:9090", NULL};
    c = load_ok("{\"server\": {\"plain_http\": true, \"allow_public_http\": true}}", env2);
    assert_string_equal(c->server.listen, "0.0.0.0:9090");
    bw_config_free(c);

    /* A bad env value is refused even when the file is fine. */
    char *env3[] = {"BULWARK_THREADS=0", NULL};
    error_case ec = {"{\"server\": {\"threads\": 8}}",
                     "BULWARK_THREADS (server.threads): must be an integer between 2 and 1024"};
    expect_errors(&ec, 1, env3);

    /* envp NULL reads the process environment. */
    assert_int_equal(setenv("BULWARK_THREADS", "12", 1), 0);
    bw_config *d = NULL;
    char err[256];
    assert_int_equal(bw_config_load_buffer(NULL, 0, NULL, NULL, &d, err, sizeof(err)), 0);
    assert_int_equal(d->server.threads, 12);
    bw_config_free(d);
    assert_int_equal(unsetenv("BULWARK_THREADS"), 0);
}

/* ---- Cross-field checks ---- */

static void test_cors_checks(void **state)
{
    (void)state;
    static const error_case cases[] = {
        {"{\"cors\": {\"enabled\": true}}",
         "cors.allowed_origins: must list at least one origin when cors.enabled is true"},
        {"{\"cors\": {\"allowed_origins\": [\"*\"], \"allow_credentials\": true}}",
         "cors.allow_credentials: cannot be true while cors.allowed_origins is \"*\""},
        {"{\"cors\": {\"enabled\": true, \"allowed_origins\": [\"https://a.example\", \"*\"]}}",
         "cors.allowed_origins: \"*\" must be the only entry"},
        {"{\"cors\": {\"allowed_methods\": [\"GET\", \"PO ST\"]}}",
         "cors.allowed_methods[1]: must be an HTTP token (letters, digits, !#$%&'*+-.^_`|~)"},
        {"{\"cors\": {\"allowed_headers\": [\"X:Y\"]}}",
         "cors.allowed_headers[0]: must be an HTTP token (letters, digits, !#$%&'*+-.^_`|~)"},
        {"{\"cors\": {\"allowed_headers\": [\"\"]}}",
         "cors.allowed_headers[0]: must be a string of 1 to 4096 bytes"},
    };
    expect_errors(cases, sizeof(cases) / sizeof(cases[0]), NULL);

    static const char *const not_origins[] = {"a.example", "ftp://a.example", "null",
                                              "https//a.example", "HTTPS://a.example"};
    static const char *const with_path[] = {"https://a.example/", "https://a.example/app",
                                            "https://a.example?x=1", "https://a.example#f"};
    static const char *const bad_host[] = {"https://",
                                           "https://A.example",
                                           "https://a.example:0",
                                           "https://a.example:65536",
                                           "https://a.example:",
                                           "https://user@a.example",
                                           "https://a_b.example",
                                           "https://[::1",
                                           "https://[::1]x",
                                           "https://a.example:443:1",
                                           "https://[0:0::1]",
                                           "https://[::ABCD]"};
    static const char *const not_serialized[] = {"https://a.example:443", "http://a.example:80",
                                                 "https://a.example:0443"};
    const char *const *groups[] = {not_origins, with_path, bad_host, not_serialized};
    const size_t sizes[] = {
        sizeof(not_origins) / sizeof(not_origins[0]), sizeof(with_path) / sizeof(with_path[0]),
        sizeof(bad_host) / sizeof(bad_host[0]), sizeof(not_serialized) / sizeof(not_serialized[0])};
    const char *const messages[] = {
        "must be \"*\" or an exact origin such as https://example.com (scheme http or https)",
        "must be an exact origin: no path, query or trailing slash",
        "must be an exact origin scheme://host[:port] with a lowercase host name or IP address "
        "and a port 1..65535",
        "must be written as browsers send it: no default port (80 for http, 443 for https) and "
        "no leading zeros"};
    for (size_t g = 0; g < 4; g++) {
        for (size_t i = 0; i < sizes[g]; i++) {
            char json[256], want[256];
            (void)snprintf(json, sizeof(json),
                           "{\"cors\": {\"allowed_origins\": [\"https://ok.example\", \"%s\"]}}",
                           groups[g][i]);
            (void)snprintf(want, sizeof(want), "cors.allowed_origins[1]: %s", messages[g]);
            error_case ec = {json, want};
            expect_errors(&ec, 1, NULL);
        }
    }

    bw_config *c = load_ok("{\"cors\": {\"enabled\": true, \"allow_credentials\": true, "
                           "\"allowed_origins\": [\"https://a.example\", "
                           "\"http://localhost:3000\", \"http://127.0.0.1:8080\", "
                           "\"https://[::1]:8443\", \"https://xn--bcher-kva.example\", "
                           "\"http://a.example:443\", \"https://[2001:db8::1]\"]}}",
                           NULL);
    assert_int_equal(c->cors.norigins, 7);
    assert_string_equal(c->cors.allowed_origins[3], "https://[::1]:8443");
    const char *items[4];
    assert_int_equal(bw_config_risky(c, items, 4), 1);
    assert_string_equal(items[0], "cors allows credentials");
    bw_config_free(c);

    c = load_ok("{\"cors\": {\"enabled\": true, \"allowed_origins\": [\"*\"]}}", NULL);
    assert_int_equal(bw_config_risky(c, items, 4), 1);
    assert_string_equal(items[0], "cors allows any origin (\"*\")");
    bw_config_free(c);

    /* Disabled CORS is not risky whatever it lists. */
    c = load_ok("{\"cors\": {\"allowed_origins\": [\"*\"]}}", NULL);
    assert_int_equal(bw_config_risky(c, NULL, 0), 0);
    bw_config_free(c);
}

/* ---- Header overrides ---- */

static void test_headers_parsed(void **state)
{
    (void)state;
    bw_config *c = load_ok(
        "{\"headers\": {\"set\": {\"X-Frame-Options\": \"SAMEORIGIN\", \"X-Team\": \"a\\tb\"}, "
        "\"remove\": [\"X-Not-Set-By-Bulwark\"], \"routes\": {\"/v1/notes/{id}\": {\"remove\": "
        "[\"Content-Security-Policy\"], \"set\": {\"Cache-Control\": \"max-age=60\"}}, "
        "\"/empty\": {}, \"/healthz\": {\"set\": {}}}}}",
        NULL);
    assert_int_equal(c->headers.noverrides, 2); /* empty sections are dropped */
    const bw_header_override *g = &c->headers.overrides[0];
    assert_null(g->route);
    assert_int_equal(g->nitems, 3);
    assert_string_equal(g->items[0].name, "X-Frame-Options");
    assert_string_equal(g->items[0].value, "SAMEORIGIN");
    assert_string_equal(g->items[1].value, "a\tb");
    assert_string_equal(g->items[2].name, "X-Not-Set-By-Bulwark");
    assert_null(g->items[2].value);
    const bw_header_override *r = &c->headers.overrides[1];
    assert_string_equal(r->route, "/v1/notes/{id}");
    assert_int_equal(r->nitems, 2);
    assert_string_equal(r->items[0].name, "Content-Security-Policy");
    assert_null(r->items[0].value);
    assert_string_equal(r->items[1].value, "max-age=60");

    const char *items[8];
    size_t n = bw_config_risky(c, items, 8);
    assert_int_equal(n, 4);
    assert_string_equal(items[0], "headers override: X-Frame-Options replaced globally");
    assert_string_equal(items[1], "headers override: X-Not-Set-By-Bulwark removed globally");
    assert_string_equal(items[2],
                        "headers override: Content-Security-Policy removed on /v1/notes/{id}");
    assert_string_equal(items[3], "headers override: Cache-Control replaced on /v1/notes/{id}");
    /* A short array gets the first entries; the count is still the total. */
    const char *few[2] = {NULL, "sentinel"};
    assert_int_equal(bw_config_risky(c, few, 1), 4);
    assert_string_equal(few[0], items[0]);
    assert_string_equal(few[1], "sentinel");
    bw_config_free(c);

    /* A global-only removal. */
    c = load_ok("{\"headers\": {\"remove\": [\"X-Frame-Options\"]}}", NULL);
    assert_int_equal(bw_config_risky(c, items, 8), 1);
    assert_string_equal(items[0], "headers override: X-Frame-Options removed globally");
    bw_config_free(c);

    /* Only routes: the first override is a route, not the global one. */
    c = load_ok("{\"headers\": {\"routes\": {\"/a\": {\"set\": {\"X-A\": \"1\"}}}}}", NULL);
    assert_int_equal(c->headers.noverrides, 1);
    assert_string_equal(c->headers.overrides[0].route, "/a");
    assert_int_equal(bw_config_risky(c, items, 8), 0);
    bw_config_free(c);
}

static void test_headers_refused(void **state)
{
    (void)state;
    static const error_case cases[] = {
        {"{\"headers\": {\"set\": {\"X Bad\": \"v\"}}}",
         "headers.set.X Bad: not a valid header name"},
        {"{\"headers\": {\"set\": {\"\": \"v\"}}}", "headers.set.: not a valid header name"},
        {"{\"headers\": {\"set\": {\"X-A:\": \"v\"}}}",
         "headers.set.X-A:: not a valid header name"},
        {"{\"headers\": {\"remove\": [\"X(A)\"]}}", "headers.remove[0]: not a valid header name"},
        {"{\"headers\": {\"set\": {\"X-A\": \"a\\r\\nSet-Cookie: x\"}}}",
         "headers.set.X-A: value must not contain control characters (TAB aside) nor start or end "
         "with a space or tab"},
        {"{\"headers\": {\"set\": {\"X-A\": \"a\\nb\"}}}",
         "headers.set.X-A: value must not contain control characters (TAB aside) nor start or end "
         "with a space or tab"},
        {"{\"headers\": {\"set\": {\"X-A\": \"a\\u0001\"}}}",
         "headers.set.X-A: value must not contain control characters (TAB aside) nor start or end "
         "with a space or tab"},
        {"{\"headers\": {\"set\": {\"X-A\": \"a\\u007f\"}}}",
         "headers.set.X-A: value must not contain control characters (TAB aside) nor start or end "
         "with a space or tab"},
        {"{\"headers\": {\"set\": {\"X-A\": \" a\"}}}",
         "headers.set.X-A: value must not contain control characters (TAB aside) nor start or end "
         "with a space or tab"},
        {"{\"headers\": {\"set\": {\"X-A\": \"a\\t\"}}}",
         "headers.set.X-A: value must not contain control characters (TAB aside) nor start or end "
         "with a space or tab"},
        {"{\"headers\": {\"remove\": [\"te\"]}}",
         "headers.remove[0]: TE is managed by the server and cannot be overridden"},
        {"{\"headers\": {\"set\": {\"X-A\": \"\"}}}",
         "headers.set.X-A: value must be a string of 1 to 4096 bytes (use \"remove\" to drop a "
         "header)"},
        {"{\"headers\": {\"set\": {\"X-A\": 1}}}", "headers.set.X-A: must be a string"},
        {"{\"headers\": {\"set\": {\"content-length\": \"1\"}}}",
         "headers.set.content-length: Content-Length is managed by the server and cannot be "
         "overridden"},
        {"{\"headers\": {\"remove\": [\"Transfer-Encoding\"]}}",
         "headers.remove[0]: Transfer-Encoding is managed by the server and cannot be "
         "overridden"},
        {"{\"headers\": {\"set\": {\"X-A\": \"1\", \"x-a\": \"2\"}}}",
         "headers.set.x-a: header named twice in the same section"},
        {"{\"headers\": {\"set\": {\"X-A\": \"1\"}, \"remove\": [\"X-A\"]}}",
         "headers.remove[0]: header named twice in the same section"},
        {"{\"headers\": {\"sett\": {}}}", "headers.sett: unknown key"},
        {"{\"headers\": {\"set\": []}}",
         "headers.set: must be an object of header names to values"},
        {"{\"headers\": {\"remove\": \"Server\"}}",
         "headers.remove: must be an array of header names"},
        {"{\"headers\": {\"remove\": [1]}}", "headers.remove[0]: must be a string"},
        {"{\"headers\": {\"routes\": []}}", "headers.routes: must be an object of route patterns"},
        {"{\"headers\": {\"routes\": {\"v1/notes\": {}}}}",
         "headers.routes[\"v1/notes\"]: must be a route pattern starting with \"/\" (printable, "
         "no spaces)"},
        {"{\"headers\": {\"routes\": {\"/a b\": {}}}}",
         "headers.routes[\"/a b\"]: must be a route pattern starting with \"/\" (printable, no "
         "spaces)"},
        {"{\"headers\": {\"routes\": {\"/a\": []}}}", "headers.routes[\"/a\"]: must be an object"},
        {"{\"headers\": {\"routes\": {\"/a\": {\"routes\": {}}}}}",
         "headers.routes[\"/a\"].routes: unknown key"},
        {"{\"headers\": {\"routes\": {\"/a\": {\"set\": {\"X-A\": \"1\"}}, \"/b\": {\"set\": "
         "{\"X\\rB\": \"1\"}}}}}",
         "headers.routes[\"/b\"].set.X?B: not a valid header name"},
    };
    expect_errors(cases, sizeof(cases) / sizeof(cases[0]), NULL);

    /* At most 64 headers per section. */
    char json[4096];
    size_t used = (size_t)snprintf(json, sizeof(json), "{\"headers\": {\"remove\": [");
    for (int i = 0; i < 65; i++)
        used += (size_t)snprintf(json + used, sizeof(json) - used, "%s\"X-%d\"", i ? "," : "", i);
    (void)snprintf(json + used, sizeof(json) - used, "]}}");
    error_case ec = {json, "headers.remove[64]: at most 64 headers per section"};
    expect_errors(&ec, 1, NULL);
}

/* ---- Dump, paths, messages ---- */

static void test_dump_round_trip_and_redaction(void **state)
{
    (void)state;
    const char *secret = "s3cr3t-value-8f4e1c";
    assert_int_equal(setenv("BW_TEST_SESSION_SECRET", secret, 1), 0);
    bw_config *c =
        load_ok("{\"secrets\": {\"session_key\": \"env:BW_TEST_SESSION_SECRET\"}, "
                "\"server\": {\"threads\": 7}, \"cors\": {\"enabled\": true, \"allowed_origins\": "
                "[\"https://a.example\"]}, \"headers\": {\"set\": {\"X-A\": \"1\"}, \"routes\": "
                "{\"/r\": {\"remove\": [\"X-B\"]}}}}",
                NULL);
    unsigned char *value = NULL;
    size_t len = 0;
    char err[256];
    assert_int_equal(
        bw_secret_load(c->secrets.session_key.ref, c->data_dir, &value, &len, err, sizeof(err)), 0);
    assert_int_equal(len, strlen(secret));
    assert_memory_equal(value, secret, len);
    bw_secret_free(value, len);

    char *out = dump_string(c);
    assert_null(strstr(out, secret));
    assert_non_null(strstr(out, "\"session_key\": \"env:BW_TEST_SESSION_SECRET\""));

    /* The dump is itself a valid config that loads to the same thing. */
    bw_config *again = load_ok(out, NULL);
    char *out2 = dump_string(again);
    assert_string_equal(out, out2);
    assert_int_equal(again->server.threads, 7);
    assert_int_equal(again->headers.noverrides, 2);
    free(out);
    free(out2);
    bw_config_free(again);
    bw_config_free(c);
    assert_int_equal(unsetenv("BW_TEST_SESSION_SECRET"), 0);

    /* A failing stream is reported. */
    FILE *ro = fopen("/dev/null", "r");
    assert_non_null(ro);
    c = load_ok(NULL, NULL);
    assert_int_equal(bw_config_dump(c, ro), -1);
    assert_int_equal(fclose(ro), 0);
    bw_config_free(c);
}

static void test_path_in_data(void **state)
{
    (void)state;
    char buf[32];
    bw_config *c = load_ok("{\"data_dir\": \"/srv/d\"}", NULL);
    assert_string_equal(bw_config_path_in_data(c, "bulwark.db", buf, sizeof(buf)),
                        "/srv/d/bulwark.db");
    assert_string_equal(bw_config_path_in_data(c, "/etc/x.db", buf, sizeof(buf)), "/etc/x.db");
    /* "/srv/d/" + 5 bytes + NUL = 13: fits exactly in 13, not in 12. */
    assert_non_null(bw_config_path_in_data(c, "abcde", buf, 13));
    assert_null(bw_config_path_in_data(c, "abcde", buf, 12));
    assert_null(bw_config_path_in_data(c, "/abc", buf, 4));
    assert_non_null(bw_config_path_in_data(c, "/abc", buf, 5));
    assert_null(bw_config_path_in_data(c, "", buf, sizeof(buf)));
    assert_null(bw_config_path_in_data(c, NULL, buf, sizeof(buf)));
    assert_null(bw_config_path_in_data(c, "x", buf, 0));
    bw_config_free(c);

    c = load_ok("{\"data_dir\": \"/srv/d/\"}", NULL);
    assert_string_equal(bw_config_path_in_data(c, "k", buf, sizeof(buf)), "/srv/d/k");
    bw_config_free(c);
    c = load_ok(NULL, NULL);
    assert_string_equal(bw_config_path_in_data(c, c->store.file, buf, sizeof(buf)),
                        ".data/bulwark.db");
    bw_config_free(c);
}

static void test_small_error_buffer(void **state)
{
    (void)state;
    bw_config *c = NULL;
    char err[12];
    memset(err, 'x', sizeof(err));
    assert_int_equal(load("{\"server\": {\"threads\": 1}}", NULL, &c, err, sizeof(err)), -1);
    assert_string_equal(err, "server.t...");
    char tiny[2];
    assert_int_equal(load("{\"zzz\": 1}", NULL, &c, tiny, sizeof(tiny)), -1);
    assert_int_equal(tiny[1], '\0');
    /* Long unknown keys are cut, and never overflow. */
    char json[600];
    memset(json, 'k', sizeof(json));
    memcpy(json, "{\"", 2);
    memcpy(json + sizeof(json) - 7, "\": 1}", 6);
    char big[512];
    assert_int_equal(load(json, NULL, &c, big, sizeof(big)), -1);
    assert_non_null(strstr(big, "...: unknown key"));
    assert_true(strlen(big) < 100);
}

/* config/schema.json (the published contract, checked by the framework's validator at load)
 * agrees with the key table: the shipped file is valid, and what the table refuses it refuses. */
static void test_schema_agrees_with_table(void **state)
{
    (void)state;
    json_error_t je;
    json_t *schema_doc = json_load_file(BW_SOURCE_DIR "/config/schema.json", 0, &je);
    assert_non_null(schema_doc);
    bw_schema_registry *reg = bw_schema_registry_new();
    char why[512];
    assert_int_equal(
        bw_schema_registry_add(reg, "https://t.invalid/s.json", schema_doc, why, sizeof(why)), 0);
    bw_schema *schema = bw_schema_compile(reg, "https://t.invalid/s.json", 0, why, sizeof(why));
    assert_non_null(schema);
    bw_arena *arena = bw_arena_new(16384, 1u << 24);
    bw_schema_error e;
    size_t n;

    json_t *shipped = json_load_file(BW_SOURCE_DIR "/config/bulwark.json", 0, &je);
    assert_non_null(shipped);
    assert_int_equal(bw_schema_validate(schema, shipped, arena, &e, 1, &n), 1);
    json_decref(shipped);

    static const char *const refused[] = {
        "{\"server\": {\"treads\": 8}}",
        "{\"server\": {\"threads\": 1}}",
        "{\"server\": {\"threads\": \"8\"}}",
        "{\"log\": {\"level\": \"loud\"}}",
        "{\"tls\": {\"client_auth\": \"sometimes\"}}",
        "{\"secrets\": {\"session_key\": \"hunter2hunter2\"}}",
        "{\"cors\": {\"allowed_origins\": [1]}}",
        "{\"extra\": true}",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        json_t *doc = json_loads(refused[i], 0, &je);
        assert_non_null(doc);
        if (bw_schema_validate(schema, doc, arena, &e, 1, &n) != 0)
            fail_msg("config/schema.json accepts %s", refused[i]);
        bw_config *c = NULL;
        char err[512];
        if (bw_config_load_buffer(refused[i], strlen(refused[i]), "t.json", no_env, &c, err,
                                  sizeof(err)) != -1)
            fail_msg("the table accepts %s", refused[i]);
        json_decref(doc);
    }
    bw_arena_free(arena);
    bw_schema_free(schema);
    bw_schema_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_equal_shipped_file),
        cmocka_unit_test(test_values_are_applied),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_public_http_needs_opt_in),
        cmocka_unit_test(test_tls_opt_ins),
        cmocka_unit_test(test_schema_agrees_with_table),
        cmocka_unit_test(test_secret_refs_in_config),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_file_sources),
        cmocka_unit_test(test_file_refused),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_env_precedence),
        cmocka_unit_test(test_cors_checks),
        cmocka_unit_test(test_audit_and_metrics),
        cmocka_unit_test(test_headers_parsed),
        cmocka_unit_test(test_headers_refused),
        cmocka_unit_test(test_dump_round_trip_and_redaction),
        cmocka_unit_test(test_path_in_data),
        cmocka_unit_test(test_small_error_buffer),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
