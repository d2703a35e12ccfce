/*
 * The life of a `notes` process: init (modes, idempotence), start-up refusals of unsafe or
 * malformed configuration, check-config, graceful shutdown on SIGTERM/SIGINT, and the JSON
 * lines it logs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MAX_KEYS 32
#define LOG_WAIT_MS 3000

typedef struct key_file {
    char name[256];
    char *data;
    size_t len;
    mode_t mode;
} key_file;

typedef struct fixture {
    char *tmp;
    char data_dir[4096];
} fixture;

static long long now_ms(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void path_join(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    assert_true(n > 0 && (size_t)n < cap);
}

static int fixture_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL || (f->tmp = bw_tmpdir_create()) == NULL) {
        free(f);
        return -1;
    }
    int n = snprintf(f->data_dir, sizeof f->data_dir, "%s/data", f->tmp);
    if (n < 0 || (size_t)n >= sizeof f->data_dir) {
        (void)bw_rm_rf(f->tmp);
        free(f->tmp);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    fixture *f = *state;
    int rc = bw_rm_rf(f->tmp);
    free(f->tmp);
    free(f);
    return rc;
}

static void run_init(const char *data_dir)
{
    const char *argv[] = {"init", "--data-dir", data_dir, NULL};
    bw_run_result res;
    assert_int_equal(bw_run(argv, NULL, BW_RUN_TIMEOUT_MS, &res), 0);
    if (res.status != 0)
        fail_msg("notes init exited %d: %s%s", res.status, res.out, res.err);
    bw_run_free(&res);
}

/* Reads every DIR/secrets/NAME.key; fails unless each is a regular file. Returns the count. */
static size_t read_keys(const char *data_dir, key_file *keys)
{
    char dir[4200];
    path_join(dir, sizeof dir, data_dir, "secrets");
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".key") != 0)
            continue;
        assert_true(n < MAX_KEYS);
        assert_true(len < sizeof keys[n].name);
        memcpy(keys[n].name, e->d_name, len + 1);
        char path[4500];
        path_join(path, sizeof path, dir, e->d_name);
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        keys[n].mode = st.st_mode & 07777;
        keys[n].data = bw_read_file(path, &keys[n].len);
        assert_non_null(keys[n].data);
        n++;
    }
    assert_int_equal(closedir(d), 0);
    return n;
}

static void free_keys(key_file *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sodium_memzero(keys[i].data, keys[i].len);
        free(keys[i].data);
    }
}

static const key_file *find_key(const key_file *keys, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    }
    return NULL;
}

static void test_init_creates_private_data_dir(void **state)
{
    fixture *f = *state;
    run_init(f->data_dir);

    struct stat st;
    assert_int_equal(lstat(f->data_dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);

    char db[4200];
    path_join(db, sizeof db, f->data_dir, "bulwark.db");
    assert_int_equal(lstat(db, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    sqlite3 *conn = NULL;
    assert_int_equal(sqlite3_open_v2(db, &conn, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(conn,
                                        "SELECT count(*) FROM sqlite_master WHERE type='table'", -1,
                                        &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_true(sqlite3_column_int(q, 0) > 0); /* migrated: not an empty file */
    assert_int_equal(sqlite3_finalize(q), SQLITE_OK);
    assert_int_equal(sqlite3_close(conn), SQLITE_OK);

    key_file keys[MAX_KEYS];
    size_t n = read_keys(f->data_dir, keys);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        if (keys[i].mode != 0600)
            fail_msg("secrets/%s has mode %o, want 0600", keys[i].name, (unsigned)keys[i].mode);
        assert_true(keys[i].len >= 16); /* a real key, not a placeholder */
    }
    free_keys(keys, n);
}

static void test_init_is_idempotent(void **state)
{
    fixture *f = *state;
    run_init(f->data_dir);
    key_file before[MAX_KEYS], after[MAX_KEYS];
    size_t nb = read_keys(f->data_dir, before);
    assert_true(nb >= 1);

    run_init(f->data_dir);
    size_t na = read_keys(f->data_dir, after);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < nb; i++) {
        const key_file *a = find_key(after, na, before[i].name);
        if (a == NULL)
            fail_msg("secrets/%s vanished on the second init", before[i].name);
        assert_int_equal(a->len, before[i].len);
        if (memcmp(a->data, before[i].data, a->len) != 0)
            fail_msg("secrets/%s changed on the second init", a->name);
        assert_int_equal(a->mode, 0600);
    }
    struct stat st;
    assert_int_equal(lstat(f->data_dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    free_keys(before, nb);
    free_keys(after, na);
}

/* Polls connect() until it is refused. Returns the ms it took, or -1 past timeout_ms. */
static long long wait_refused(const bw_srv *srv, int timeout_ms)
{
    long long t0 = now_ms();
    while (now_ms() - t0 < timeout_ms) {
        int fd = bw_connect(srv);
        if (fd < 0 && errno == ECONNREFUSED)
            return now_ms() - t0;
        if (fd >= 0)
            assert_int_equal(close(fd), 0);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 5 * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
    return -1;
}

static void shutdown_on(int sig)
{
    bw_srv *srv = bw_srv_start(NULL);
    assert_non_null(srv);
    int deadline = bw_shutdown_timeout_ms();

    /* An idle keep-alive connection after one answered request, and one that never sent a
     * byte: neither may hold the process past its deadline. */
    bw_tls_conn *kept = bw_tls_connect(srv);
    assert_non_null(kept);
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    char got[4096];
    long n = bw_tls_exchange(kept, req, sizeof req - 1, got, sizeof got, 3000);
    assert_true(n > 12);
    assert_int_equal(strncmp(got + 9, "200", 3), 0);
    int silent = bw_connect(srv);
    assert_true(silent >= 0);

    long long t0 = now_ms();
    assert_int_equal(bw_srv_signal(srv, sig), 0);
    long long refused_after = wait_refused(srv, deadline);
    if (refused_after < 0)
        fail_msg("new connections still accepted %d ms after signal %d", deadline, sig);
    int code = bw_srv_wait(srv, deadline + 1000);
    long long took = now_ms() - t0;
    if (code != 0)
        fail_msg("signal %d: exit status %d after %lld ms (deadline %d ms)", sig, code, took,
                 deadline);
    assert_true(took <= deadline + 1000);
    bw_tls_close(kept);
    assert_int_equal(close(silent), 0);
    assert_int_equal(bw_srv_stop(srv), 0);
}

static void test_sigterm_graceful(void **state)
{
    (void)state;
    shutdown_on(SIGTERM);
}

/* A restart (bw_srv_restart) keeps the data: a user added before logs in after, the audit
 * chain runs on across both processes, and each start is on the record. */
static void test_restart_keeps_data(void **state)
{
    const char *add[] = {"user", "add", "rosa", "--roles", "viewer", NULL};
    const char *verify[] = {"audit", "verify", NULL};
    const char *search[] = {"audit", "search", "--event", "config.loaded", NULL};
    bw_run_result r;
    bw_srv *srv = bw_srv_start(NULL);

    (void)state;
    assert_non_null(srv);
    assert_int_equal(bw_srv_run(srv, add, "a long enough passphrase\n", &r), 0);
    assert_int_equal(r.status, 0);
    bw_run_free(&r);
    assert_int_equal(bw_srv_restart(srv), 0);
    assert_true(bw_srv_alive(srv));
    bw_resp resp;
    const char *h[] = {"Content-Type: application/json", NULL};
    static const char body[] = "{\"username\":\"rosa\",\"password\":\"a long enough passphrase\"}";
    assert_int_equal(bw_http(srv, "POST", "/v1/auth/login", h, body, strlen(body), &resp), 0);
    assert_int_equal(resp.status, 200);
    bw_resp_free(&resp);
    assert_int_equal(bw_srv_run(srv, search, NULL, &r), 0);
    assert_int_equal(r.status, 0);
    /* one config.loaded per start, two starts */
    size_t lines = 0;
    for (const char *p = r.out; (p = strstr(p, "\"config.loaded\"")) != NULL; p++)
        lines++;
    assert_int_equal(lines, 2);
    bw_run_free(&r);
    assert_int_equal(bw_srv_run(srv, verify, NULL, &r), 0);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "chain intact"));
    bw_run_free(&r);
    assert_int_equal(bw_srv_stop(srv), 0);
}

static void test_sigint_graceful(void **state)
{
    (void)state;
    shutdown_on(SIGINT);
}

/* Runs `notes serve` on an initialised data dir with env and expects it to refuse to start,
 * naming what is wrong. */
static void assert_serve_refuses(const char *data_dir, const char *const *extra,
                                 const char *must_name)
{
    char e_data[4200];
    int len = snprintf(e_data, sizeof e_data, "BULWARK_DATA_DIR=%s", data_dir);
    assert_true(len > 0 && (size_t)len < sizeof e_data);
    const char *env[8] = {e_data};
    size_t k = 1;
    for (size_t i = 0; extra[i]; i++) {
        assert_true(k < 7);
        env[k++] = extra[i];
    }
    env[k] = NULL;
    const char *argv[] = {"serve", NULL};
    bw_run_result res;
    assert_int_equal(bw_run(argv, env, BW_RUN_TIMEOUT_MS, &res), 0);
    if (res.timed_out)
        fail_msg("serve with %s started instead of refusing", extra[0]);
    if (res.status == 0)
        fail_msg("serve with %s exited 0", extra[0]);
    if (strstr(res.err, must_name) == NULL && strstr(res.out, must_name) == NULL)
        fail_msg("serve with %s: message does not name %s: %s%s", extra[0], must_name, res.out,
                 res.err);
    bw_run_free(&res);
}

/* "BULWARK_LISTEN=<host>:<free port>" into buf. */
static void listen_env(char *buf, size_t cap, const char *host)
{
    uint16_t port;
    assert_int_equal(bw_free_port(&port), 0);
    int n = snprintf(buf, cap, "BULWARK_LISTEN=%s:%u", host, (unsigned)port);
    assert_true(n > 0 && (size_t)n < cap);
}

static void test_non_loopback_plain_http_refused(void **state)
{
    fixture *f = *state;
    run_init(f->data_dir);
    /* TLS may listen anywhere; plain HTTP (an opt-in) only on loopback without a second one. */
    char cfg_path[4200], cfg_env[4300];
    int len = snprintf(cfg_path, sizeof cfg_path, "%s/plain.json", f->data_dir);
    assert_true(len > 0 && (size_t)len < sizeof cfg_path);
    FILE *cf = fopen(cfg_path, "w");
    assert_non_null(cf);
    assert_true(fputs("{\"server\": {\"plain_http\": true}}", cf) >= 0);
    assert_int_equal(fclose(cf), 0);
    len = snprintf(cfg_env, sizeof cfg_env, "BULWARK_CONFIG=%s", cfg_path);
    assert_true(len > 0 && (size_t)len < sizeof cfg_env);
    char listen[64];
    listen_env(listen, sizeof listen, "0.0.0.0");
    const char *const wild[] = {listen, cfg_env, NULL};
    assert_serve_refuses(f->data_dir, wild, "server.listen");
}

/* Plain HTTP is possible only by opting in; the server then says so in its log. */
static void test_plain_http_opt_in(void **state)
{
    fixture *f = *state;
    char cfg_path[4200];
    int len = snprintf(cfg_path, sizeof cfg_path, "%s/plain.json", f->data_dir);
    assert_true(len > 0 && (size_t)len < sizeof cfg_path);
    assert_int_equal(mkdir(f->data_dir, 0700), 0);
    FILE *cf = fopen(cfg_path, "w");
    assert_non_null(cf);
    assert_true(fputs("{\"server\": {\"plain_http\": true}}", cf) >= 0);
    assert_int_equal(fclose(cf), 0);
    bw_srv_opts o = {.config_path = cfg_path, .plain_http = true};
    bw_srv *srv = bw_srv_start(&o);
    assert_non_null(srv);
    bw_resp r;
    assert_int_equal(bw_http(srv, "GET", "/healthz", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_null(bw_resp_header(&r, "Strict-Transport-Security"));
    bw_resp_free(&r);
    size_t n;
    char *log = bw_srv_stderr(srv, &n);
    assert_non_null(strstr(log, "server.plain_http is on: no TLS"));
    assert_non_null(strstr(log, "\"scheme\":\"http\""));
    free(log);
    assert_int_equal(bw_srv_stop(srv), 0);
}

static void test_bad_thread_count_refused(void **state)
{
    fixture *f = *state;
    run_init(f->data_dir);
    static const char *const bad[] = {"BULWARK_THREADS=abc", "BULWARK_THREADS=12abc"};
    char listen[64];
    listen_env(listen, sizeof listen, "127.0.0.1");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *const env[] = {bad[i], listen, NULL};
        assert_serve_refuses(f->data_dir, env, "BULWARK_THREADS");
    }
}

static size_t count_refs(const json_t *j)
{
    size_t n = 0;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        return strncmp(s, "file:", 5) == 0 || strncmp(s, "env:", 4) == 0;
    }
    json_t *v;
    if (json_is_object(j)) {
        const char *k;
        json_object_foreach((json_t *)j, k, v) n += count_refs(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_array_foreach(j, i, v) n += count_refs(v);
    }
    return n;
}

static void assert_not_in(const char *hay, const char *what, const char *name)
{
    if (strlen(what) >= 8 && strstr(hay, what) != NULL)
        fail_msg("check-config printed the value of secrets/%s", name);
}

static void test_check_config_shows_references(void **state)
{
    fixture *f = *state;
    run_init(f->data_dir);
    char e_data[4200];
    int len = snprintf(e_data, sizeof e_data, "BULWARK_DATA_DIR=%s", f->data_dir);
    assert_true(len > 0 && (size_t)len < sizeof e_data);
    char listen[64];
    listen_env(listen, sizeof listen, "127.0.0.1");
    const char *env[] = {e_data, listen, NULL};
    const char *argv[] = {"check-config", NULL};
    bw_run_result res;
    assert_int_equal(bw_run(argv, env, BW_RUN_TIMEOUT_MS, &res), 0);
    if (res.status != 0)
        fail_msg("check-config exited %d: %s%s", res.status, res.out, res.err);
    json_error_t err;
    json_t *cfg = json_loadb(res.out, res.out_len, 0, &err);
    if (!json_is_object(cfg))
        fail_msg("check-config did not print a JSON object (%s): %.300s", err.text, res.out);
    assert_true(count_refs(cfg) >= 1);
    json_decref(cfg);

    assert_int_equal(sodium_init() >= 0, 1);
    key_file keys[MAX_KEYS];
    size_t n = read_keys(f->data_dir, keys);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        char *text = calloc(1, keys[i].len + 1);
        char *hex = calloc(1, keys[i].len * 2 + 1);
        size_t b64cap = sodium_base64_ENCODED_LEN(keys[i].len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = calloc(1, b64cap);
        char *b64url = calloc(1, b64cap);
        assert_true(text && hex && b64 && b64url);
        size_t tl = keys[i].len;
        while (tl > 0 && (keys[i].data[tl - 1] == '\n' || keys[i].data[tl - 1] == '\r'))
            tl--;
        memcpy(text, keys[i].data, tl);
        sodium_bin2hex(hex, keys[i].len * 2 + 1, (const unsigned char *)keys[i].data, keys[i].len);
        sodium_bin2base64(b64, b64cap, (const unsigned char *)keys[i].data, keys[i].len,
                          sodium_base64_VARIANT_ORIGINAL);
        sodium_bin2base64(b64url, b64cap, (const unsigned char *)keys[i].data, keys[i].len,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        const char *forms[] = {text, hex, b64, b64url};
        for (size_t k = 0; k < 4; k++) {
            assert_not_in(res.out, forms[k], keys[i].name);
            assert_not_in(res.err, forms[k], keys[i].name);
        }
        free(text);
        free(hex);
        free(b64);
        free(b64url);
    }
    free_keys(keys, n);
    bw_run_free(&res);
}

/* --- logs ---------------------------------------------------------------------------------- */

#define LOG_ID_NOTE "logcheck-0000-0000-0001"
#define LOG_ID_CRLF "logcheck-0000-0000-0002"
#define QUERY_SECRET "s3cr3t-query-value"

static json_t *find_access_line(const char *log, const char *request_id)
{
    const char *line = log;
    while (*line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        json_t *j = json_loadb(line, len, 0, NULL);
        json_t *rid = json_object_get(j, "request_id");
        if (json_is_string(rid) && strcmp(json_string_value(rid), request_id) == 0 &&
            json_object_get(j, "status") != NULL)
            return j;
        json_decref(j);
        if (eol == NULL)
            break;
        line = eol + 1;
    }
    return NULL;
}

/* Polls the server's stderr until the access line for request_id shows up. */
static json_t *wait_access_line(const bw_srv *srv, const char *request_id)
{
    long long t0 = now_ms();
    do {
        char *log = bw_srv_stderr(srv, NULL);
        assert_non_null(log);
        json_t *j = find_access_line(log, request_id);
        free(log);
        if (j != NULL)
            return j;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
        (void)nanosleep(&ts, NULL);
    } while (now_ms() - t0 < LOG_WAIT_MS);
    fail_msg("no access log line with request_id %s", request_id);
    return NULL;
}

static void test_logs(void **state)
{
    (void)state;
    bw_srv *srv = bw_srv_start(NULL);
    assert_non_null(srv);

    const char *const h1[] = {"X-Request-Id: " LOG_ID_NOTE, NULL};
    bw_resp r;
    assert_int_equal(bw_http(srv, "GET", "/v1/notes/123?token=" QUERY_SECRET, h1, NULL, 0, &r), 0);
    assert_int_equal(r.status, 401);
    bw_resp_free(&r);

    /* CR LF (encoded) followed by something that would parse as a forged JSON log line. */
    static const char target[] = "/a%0d%0a{\"forged_line\":1}%0a%0dx";
    size_t len;
    char *req = bw_build_request("GET", target, sizeof target - 1,
                                 "X-Request-Id: " LOG_ID_CRLF "\r\n", NULL, 0, &len);
    assert_non_null(req);
    bw_bytes raw;
    assert_int_equal(bw_raw_exchange(srv, req, len, false, &r, &raw, NULL), 0);
    assert_int_equal(r.status, 400);
    bw_resp_free(&r);
    bw_bytes_free(&raw);
    free(req);

    json_t *a = wait_access_line(srv, LOG_ID_NOTE);
    json_t *m = json_object_get(a, "method"), *rt = json_object_get(a, "route");
    json_t *st = json_object_get(a, "status"), *d = json_object_get(a, "duration_ms");
    json_t *c = json_object_get(a, "client");
    assert_true(json_is_string(m));
    assert_string_equal(json_string_value(m), "GET");
    assert_true(json_is_string(rt));
    assert_string_equal(json_string_value(rt), "/v1/notes/{id}");
    assert_true(json_is_integer(st));
    assert_int_equal(json_integer_value(st), 401);
    assert_true(json_is_number(d));
    assert_true(json_number_value(d) >= 0);
    assert_true(json_is_string(c));
    assert_non_null(strstr(json_string_value(c), "127.0.0.1"));
    json_decref(a);
    json_t *b = wait_access_line(srv, LOG_ID_CRLF);
    assert_int_equal(json_integer_value(json_object_get(b, "status")), 400);
    json_decref(b);

    /* Read the complete log after the process has exited: nothing half-written. */
    int deadline = bw_shutdown_timeout_ms();
    assert_int_equal(bw_srv_signal(srv, SIGTERM), 0);
    assert_int_equal(bw_srv_wait(srv, deadline + 1000), 0);
    size_t log_len;
    char *log = bw_srv_stderr(srv, &log_len);
    assert_non_null(log);
    assert_true(log_len > 0);
    assert_int_equal(log[log_len - 1], '\n');
    assert_null(strstr(log, QUERY_SECRET)); /* the query string is not logged */
    assert_null(memchr(log, '\r', log_len));
    size_t lines = 0;
    for (char *line = log; *line;) {
        char *eol = strchr(line, '\n');
        assert_non_null(eol);
        json_error_t err;
        json_t *j = json_loadb(line, (size_t)(eol - line), 0, &err);
        if (!json_is_object(j))
            fail_msg("log line %zu is not a JSON object: %.*s", lines + 1, (int)(eol - line), line);
        /* A line mentioning the injected text must be the request's own line, not a forgery. */
        if (memmem(line, (size_t)(eol - line), "forged_line", 11) != NULL) {
            json_t *rid = json_object_get(j, "request_id");
            assert_true(json_is_string(rid));
            assert_string_equal(json_string_value(rid), LOG_ID_CRLF);
        }
        assert_null(json_object_get(j, "forged_line"));
        json_decref(j);
        lines++;
        line = eol + 1;
    }
    assert_true(lines >= 2);
    free(log);
    assert_int_equal(bw_srv_stop(srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init_creates_private_data_dir, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_init_is_idempotent, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_non_loopback_plain_http_refused, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_plain_http_opt_in, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad_thread_count_refused, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_check_config_shows_references, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test(test_sigterm_graceful),
        cmocka_unit_test(test_sigint_graceful),
        cmocka_unit_test(test_restart_keeps_data),
        cmocka_unit_test(test_logs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
