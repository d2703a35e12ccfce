/*
 * Test harness: runs `notes`, talks to it over libcurl and raw sockets, and checks responses.
 * See harness.h for the contract of each function.
 */
#include "bulwark/fsutil.h"
#include "harness.h"

#include <civetweb.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BW_NOTES_BIN
#define BW_NOTES_BIN "notes"
#endif
#ifndef BW_SOURCE_DIR
#define BW_SOURCE_DIR "."
#endif

extern char **environ;

#define MAX_READ_BYTES (16u * 1024u * 1024u) /* bound on anything read back from the server */
#define START_ATTEMPTS 3                     /* free-port races: retry serve on a new port */
#define STOP_MARGIN_MS 3000                  /* added to the shutdown deadline in bw_srv_stop */

struct bw_srv {
    pid_t pid;
    bool exited;
    int exit_code;
    uint16_t port;
    char *tmp;
    char *data_dir;
    char *stderr_path;
    char *stdout_path;
    const char *const *opts_env; /* bw_srv_opts.env, for a restart */
    /* The client side's view of the server: the one place to change for https. */
    const char *scheme;
    const char *host;
    char *ca_path;     /* CA bundle for https: the server's development certificate */
    char *client_cert; /* mutual TLS, or NULL */
    char *client_key;
    char *config_path;            /* as started, for bw_srv_run; NULL = defaults */
    const char *const *extra_env; /* bw_srv_opts.env (must outlive the server) */
    char source_addr[64];         /* local address requests leave from; "" = any */
};

/* --- small helpers ------------------------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len;
    size_t cap;
} buf;

static int buf_add(buf *b, const void *data, size_t n)
{
    if (n > MAX_READ_BYTES || b->len > MAX_READ_BYTES - n)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int buf_str(buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

/* Ensures a NUL-terminated (possibly empty) buffer the caller owns. */
static char *buf_take(buf *b, size_t *len)
{
    if (b->p == NULL && buf_add(b, "", 0) != 0)
        return NULL;
    char *p = b->p;
    if (len)
        *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

static char *dup_mem(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    if (n > 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* malloc'd concatenation of a and b, or NULL. */
static char *join2(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > SIZE_MAX - lb - 1)
        return NULL;
    char *s = malloc(la + lb + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

static void set_why(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t cap, const char *fmt, ...)
{
    if (why == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    if (n < 0)
        why[0] = '\0'; /* truncation is fine for a diagnostic */
}

static long long now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Case-insensitive search for needle in the first len bytes of hay. */
static bool contains_ci(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0 || n > len)
        return n == 0;
    for (size_t i = 0; i + n <= len; i++) {
        if (strncasecmp(hay + i, needle, n) == 0)
            return true;
    }
    return false;
}

static bool all_digits(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

static const char *source_dir(void)
{
    const char *d = getenv("BW_SOURCE_DIR");
    return (d && *d) ? d : BW_SOURCE_DIR;
}

/* --- processes and files ------------------------------------------------------------------- */

const char *bw_notes_bin(void)
{
    const char *b = getenv("BW_NOTES_BIN");
    return (b && *b) ? b : BW_NOTES_BIN;
}

int bw_shutdown_timeout_ms(void)
{
    char *path = join2(source_dir(), "/config/bulwark.json");
    int ms = 10000;
    if (path == NULL)
        return ms;
    json_t *root = json_load_file(path, 0, NULL);
    free(path);
    json_t *v = json_object_get(json_object_get(root, "server"), "shutdown_timeout_ms");
    if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < 600000)
        ms = (int)json_integer_value(v);
    json_decref(root);
    return ms;
}

char *bw_tmpdir_create(void)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || *base == '\0')
        base = "/tmp";
    char *tmpl = join2(base, "/bwtest.XXXXXX");
    if (tmpl == NULL)
        return NULL;
    if (mkdtemp(tmpl) == NULL) {
        free(tmpl);
        return NULL;
    }
    return tmpl;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    return rc == 0 ? 0 : -1;
}

int bw_rm_rf(const char *path)
{
    if (path == NULL)
        return -1;
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

char *bw_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    buf b = {0};
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n > 0 && buf_add(&b, chunk, (size_t)n) != 0)) {
            (void)close(fd);
            free(b.p);
            return NULL;
        }
        if (n == 0)
            break;
    }
    (void)close(fd);
    return buf_take(&b, len);
}

static bool env_has_name(char **list, size_t n, const char *entry)
{
    const char *eq = strchr(entry, '=');
    size_t nlen = eq ? (size_t)(eq - entry) : strlen(entry);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(list[i], entry, nlen) == 0 && list[i][nlen] == '=')
            return true;
    }
    return false;
}

static size_t list_len(const char *const *l)
{
    size_t n = 0;
    while (l && l[n])
        n++;
    return n;
}

/* The child's environment: first, then second (earlier wins), then ours minus BULWARK_*.
 * The array is malloc'd (caller frees); its strings are borrowed. */
static char **make_env(const char *const *first, const char *const *second)
{
    size_t total = list_len(first) + list_len(second) + 1 + list_len((const char *const *)environ);
    char **env = calloc(total + 1, sizeof *env);
    if (env == NULL)
        return NULL;
    size_t n = 0;
    /* Servers under test run side by side: no fixed-port metrics listener unless a
     * test asks for one (BULWARK_METRICS_LISTEN in its env). */
    static const char *const defaults[] = {"BULWARK_METRICS_LISTEN=", NULL};
    const char *const *lists[] = {first, second, defaults, (const char *const *)environ};
    for (size_t l = 0; l < 4; l++) {
        for (size_t i = 0; lists[l] && lists[l][i]; i++) {
            const char *e = lists[l][i];
            if (l == 3 && strncmp(e, "BULWARK_", 8) == 0)
                continue;
            if (strchr(e, '=') == NULL || env_has_name(env, n, e))
                continue;
            env[n++] = (char *)e;
        }
    }
    env[n] = NULL;
    return env;
}

/* out_mode: O_TRUNC for a fresh capture, O_APPEND to keep what an earlier run wrote. */
static int spawn_notes(const char *const *args, char **env, const char *in_path,
                       const char *out_path, const char *err_path, int out_mode, pid_t *pid)
{
    size_t nargs = list_len(args);
    char **argv = calloc(nargs + 2, sizeof *argv);
    if (argv == NULL)
        return -1;
    argv[0] = (char *)bw_notes_bin();
    for (size_t i = 0; i < nargs; i++)
        argv[i + 1] = (char *)args[i];

    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0) {
        if (posix_spawn_file_actions_addopen(&fa, 0, in_path != NULL ? in_path : "/dev/null",
                                             O_RDONLY, 0) != 0 ||
            posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | out_mode,
                                             0600) != 0 ||
            posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | out_mode,
                                             0600) != 0)
            rc = -1;
        else
            rc = posix_spawn(pid, argv[0], &fa, NULL, argv, env);
        (void)posix_spawn_file_actions_destroy(&fa);
    }
    free(argv);
    return rc == 0 ? 0 : -1;
}

static int decode_status(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

/* Waits for pid up to timeout_ms. Returns 1 and *code when it exited, 0 on timeout, -1 on
 * error. */
static int wait_pid(pid_t pid, int timeout_ms, int *code)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            *code = decode_status(st);
            return 1;
        }
        if (r < 0 && errno != EINTR)
            return -1;
        if (now_ms() >= deadline)
            return 0;
        sleep_ms(5);
    }
}

static void kill_and_reap(pid_t pid)
{
    int code;
    (void)kill(pid, SIGKILL);
    (void)wait_pid(pid, 5000, &code);
}

static int write_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = bw_fs_write_all(fd, data, len);
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

/* bw_run with `ours` winning over `env`, and `input` (NULL: none) on stdin. */
static int run_with(const char *const *argv, const char *const *ours, const char *const *env,
                    const char *input, int timeout_ms, bw_run_result *res)
{
    memset(res, 0, sizeof *res);
    res->status = -1;
    char *dir = bw_tmpdir_create();
    if (dir == NULL)
        return -1;
    char *out_path = join2(dir, "/stdout");
    char *err_path = join2(dir, "/stderr");
    char *in_path = input != NULL ? join2(dir, "/stdin") : NULL;
    char **cenv = make_env(ours, env);
    int rc = -1;
    pid_t pid;
    bool in_ok =
        input == NULL || (in_path != NULL && write_file(in_path, input, strlen(input)) == 0);
    if (out_path && err_path && cenv && in_ok &&
        spawn_notes(argv, cenv, in_path, out_path, err_path, O_TRUNC, &pid) == 0) {
        int code = -1;
        int w = wait_pid(pid, timeout_ms, &code);
        if (w == 0) {
            res->timed_out = true;
            kill_and_reap(pid);
        }
        res->status = (w == 1) ? code : -1;
        res->out = bw_read_file(out_path, &res->out_len);
        res->err = bw_read_file(err_path, &res->err_len);
        rc = (w >= 0 && res->out && res->err) ? 0 : -1;
    }
    free(cenv);
    free(out_path);
    free(err_path);
    free(in_path);
    (void)bw_rm_rf(dir);
    free(dir);
    return rc;
}

int bw_run(const char *const *argv, const char *const *env, int timeout_ms, bw_run_result *res)
{
    return run_with(argv, NULL, env, NULL, timeout_ms, res);
}

int bw_srv_set_source(bw_srv *srv, const char *addr)
{
    size_t n = addr != NULL ? strlen(addr) : 0;
    if (n >= sizeof srv->source_addr)
        return -1;
    memcpy(srv->source_addr, addr != NULL ? addr : "", n);
    srv->source_addr[n] = '\0';
    return 0;
}

int bw_srv_run(bw_srv *srv, const char *const *argv, const char *input, bw_run_result *res)
{
    char e_data[4200], e_config[4200];
    int n1 = snprintf(e_data, sizeof e_data, "BULWARK_DATA_DIR=%s", srv->data_dir);
    int n2 = snprintf(e_config, sizeof e_config, "BULWARK_CONFIG=%s",
                      srv->config_path != NULL ? srv->config_path : "");
    if (n1 < 0 || (size_t)n1 >= sizeof e_data || n2 < 0 || (size_t)n2 >= sizeof e_config)
        return -1;
    const char *ours[] = {e_data, srv->config_path != NULL ? e_config : NULL, NULL};
    return run_with(argv, ours, srv->extra_env, input, BW_RUN_TIMEOUT_MS, res);
}

void bw_run_free(bw_run_result *res)
{
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof *res);
}

/* --- the server under test ----------------------------------------------------------------- */

int bw_free_port(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    int rc = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0) {
        *port = ntohs(a.sin_port);
        rc = 0;
    }
    (void)close(fd);
    return rc;
}

/* The config a test server runs with: the test's own file, plus automatic bans switched off
 * unless the file sets "ban" itself. The attack suites send floods of bad requests from one
 * address on purpose; a ban would answer their later requests before the control they attack
 * (tests/security/test_bans.c tests bans). A file that is not a JSON object is passed on
 * as is, for the tests of config errors. Returns a malloc'd path, or NULL on error. */
static char *test_config(const char *user_path, const char *dir)
{
    json_t *doc = user_path != NULL ? json_load_file(user_path, 0, NULL) : json_object();
    char *path = NULL;

    if (user_path != NULL && !json_is_object(doc)) {
        json_decref(doc);
        return strdup(user_path);
    }
    if (doc != NULL && json_object_get(doc, "ban") == NULL)
        json_object_set_new(doc, "ban",
                            json_pack("{s:i, s:i, s:i, s:i}", "auth_failures", 0, "rate_limited", 0,
                                      "validation_failures", 0, "attacks", 0));
    path = join2(dir, "/bulwark.json");
    if (doc == NULL || path == NULL || json_dump_file(doc, path, JSON_INDENT(2)) != 0) {
        free(path);
        path = NULL;
    }
    json_decref(doc);
    return path;
}

/* Servers not yet stopped. A failing cmocka assertion jumps out of a test before it stops its
 * server; the exit handler then kills and cleans up whatever is left, so no `notes` process or
 * temp dir outlives the test executable. */
#define MAX_LIVE 64
static bw_srv *live[MAX_LIVE];

static void srv_free(bw_srv *srv);

static void reap_live(void)
{
    for (size_t i = 0; i < MAX_LIVE; i++) {
        if (live[i] == NULL)
            continue;
        if (!live[i]->exited && live[i]->pid > 0)
            kill_and_reap(live[i]->pid);
        srv_free(live[i]);
    }
}

static int live_add(bw_srv *srv)
{
    static bool registered;
    if (!registered) {
        if (atexit(reap_live) != 0)
            return -1;
        registered = true;
    }
    for (size_t i = 0; i < MAX_LIVE; i++) {
        if (live[i] == NULL) {
            live[i] = srv;
            return 0;
        }
    }
    return -1;
}

static void srv_free(bw_srv *srv)
{
    if (srv == NULL)
        return;
    for (size_t i = 0; i < MAX_LIVE; i++) {
        if (live[i] == srv)
            live[i] = NULL;
    }
    if (srv->tmp)
        (void)bw_rm_rf(srv->tmp);
    free(srv->tmp);
    free(srv->data_dir);
    free(srv->ca_path);
    free(srv->client_cert);
    free(srv->client_key);
    free(srv->config_path);
    free(srv->stderr_path);
    free(srv->stdout_path);
    free(srv);
}

static void print_server_output(const bw_srv *srv, const char *what)
{
    size_t len = 0;
    char *err = bw_srv_stderr(srv, &len);
    fprintf(stderr, "[harness] %s; server stderr (%zu bytes):\n%s\n", what, len,
            err ? err : "(unreadable)");
    free(err);
}

static int http_do(bw_srv *srv, const char *method, const char *path, const char *const *headers,
                   const void *body, size_t len, long timeout_ms, bw_resp *resp);

/* Polls /healthz. Returns 1 when it answered 200, 0 when the process exited, -1 on timeout. */
static int wait_healthy(bw_srv *srv)
{
    long long deadline = now_ms() + BW_START_TIMEOUT_MS;
    while (now_ms() < deadline) {
        int code;
        if (wait_pid(srv->pid, 0, &code) == 1) {
            srv->exited = true;
            srv->exit_code = code;
            return 0;
        }
        bw_resp r;
        if (http_do(srv, "GET", "/healthz", NULL, NULL, 0, 1000, &r) == 0) {
            long st = r.status;
            bw_resp_free(&r);
            if (st == 200)
                return 1;
        }
        sleep_ms(20);
    }
    return -1;
}

static int init_data_dir(const char *data_dir)
{
    const char *argv[] = {"init", "--data-dir", data_dir, NULL};
    bw_run_result res;
    if (bw_run(argv, NULL, BW_RUN_TIMEOUT_MS, &res) != 0) {
        fprintf(stderr, "[harness] could not run %s init\n", bw_notes_bin());
        bw_run_free(&res);
        return -1;
    }
    int rc = res.status == 0 ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "[harness] notes init exited %d\nstdout:\n%s\nstderr:\n%s\n", res.status,
                res.out ? res.out : "", res.err ? res.err : "");
    bw_run_free(&res);
    return rc;
}

/* Starts `notes serve` for srv on a free port and waits for /healthz, trying another port
 * when the chosen one was taken meanwhile. mode: O_TRUNC or O_APPEND for the captured output.
 * 0, or -1 after printing the server's output. */
static int serve(bw_srv *srv, int mode)
{
    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
        char e_data[4200], e_listen[64], e_config[4200];
        if (bw_free_port(&srv->port) != 0)
            break;
        int n1 = snprintf(e_data, sizeof e_data, "BULWARK_DATA_DIR=%s", srv->data_dir);
        int n2 = snprintf(e_listen, sizeof e_listen, "BULWARK_LISTEN=%s:%u", srv->host,
                          (unsigned)srv->port);
        int n3 = snprintf(e_config, sizeof e_config, "BULWARK_CONFIG=%s",
                          srv->config_path != NULL ? srv->config_path : "");
        if (n1 < 0 || (size_t)n1 >= sizeof e_data || n2 < 0 || (size_t)n2 >= sizeof e_listen ||
            n3 < 0 || (size_t)n3 >= sizeof e_config)
            break;
        const char *ours[] = {e_data, e_listen, srv->config_path != NULL ? e_config : NULL, NULL};
        char **env = make_env(ours, srv->opts_env);
        const char *args[] = {"serve", NULL};
        int rc =
            env ? spawn_notes(args, env, NULL, srv->stdout_path, srv->stderr_path, mode, &srv->pid)
                : -1;
        free(env);
        if (rc != 0)
            break;
        srv->exited = false;
        int h = wait_healthy(srv);
        if (h == 1)
            return 0;
        if (h < 0) {
            print_server_output(srv, "server did not answer /healthz 200 in time");
            kill_and_reap(srv->pid);
            srv->exited = true;
            break;
        }
        print_server_output(srv, "server exited during start-up");
    }
    return -1;
}

bw_srv *bw_srv_start(const bw_srv_opts *o)
{
    static bool curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return NULL;
        curl_ready = true;
    }
    bw_srv *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return NULL;
    srv->pid = -1;
    srv->exited = true;
    if (live_add(srv) != 0) {
        free(srv);
        return NULL;
    }
    /* The server serves HTTPS only; `notes init` made its development
     * certificate, which is the client's only trust anchor. */
    srv->scheme = "https";
    srv->host = "127.0.0.1";
    srv->tmp = bw_tmpdir_create();
    srv->data_dir = srv->tmp ? join2(srv->tmp, "/data") : NULL;
    srv->ca_path = srv->data_dir ? join2(srv->data_dir, "/tls/cert.pem") : NULL;
    if (o != NULL && o->plain_http)
        srv->scheme = "http";
    srv->config_path = srv->tmp ? test_config(o != NULL ? o->config_path : NULL, srv->tmp) : NULL;
    if (o != NULL)
        srv->extra_env = o->env;
    if (o != NULL && o->client_cert != NULL) {
        srv->client_cert = strdup(o->client_cert);
        srv->client_key = strdup(o->client_key);
    }
    srv->stderr_path = srv->tmp ? join2(srv->tmp, "/stderr.log") : NULL;
    char *out_path = srv->tmp ? join2(srv->tmp, "/stdout.log") : NULL;
    if (!srv->data_dir || !srv->ca_path || !srv->config_path || !srv->stderr_path || !out_path ||
        init_data_dir(srv->data_dir) != 0) {
        free(out_path);
        srv_free(srv);
        return NULL;
    }

    srv->stdout_path = out_path;
    srv->opts_env = o != NULL ? o->env : NULL;
    if (serve(srv, O_TRUNC) == 0)
        return srv;
    srv_free(srv);
    return NULL;
}

int bw_srv_restart(bw_srv *srv)
{
    if (!srv->exited) {
        (void)kill(srv->pid, SIGTERM);
        if (bw_srv_wait(srv, bw_shutdown_timeout_ms() + STOP_MARGIN_MS) < 0 && !srv->exited) {
            kill_and_reap(srv->pid);
            srv->exited = true;
        }
    }
    return serve(srv, O_APPEND);
}

int bw_srv_signal(bw_srv *srv, int sig)
{
    if (srv->exited)
        return -1;
    return kill(srv->pid, sig) == 0 ? 0 : -1;
}

int bw_srv_wait(bw_srv *srv, int timeout_ms)
{
    if (srv->exited)
        return srv->exit_code;
    int code;
    if (wait_pid(srv->pid, timeout_ms, &code) != 1)
        return -1;
    srv->exited = true;
    srv->exit_code = code;
    return code;
}

int bw_srv_stop(bw_srv *srv)
{
    if (srv == NULL)
        return -1;
    /* An exit the test already collected (bw_srv_wait) was expected: no output dump. */
    bool collected = srv->exited;
    int code = -1;
    if (!srv->exited) {
        (void)kill(srv->pid, SIGTERM);
        code = bw_srv_wait(srv, bw_shutdown_timeout_ms() + STOP_MARGIN_MS);
        if (!srv->exited) {
            print_server_output(srv, "server ignored SIGTERM past its deadline; killed");
            kill_and_reap(srv->pid);
            code = -1;
        }
    } else {
        code = srv->exit_code;
    }
    if (code != 0 && code != -1 && !collected)
        print_server_output(srv, "server exited non-zero");
    srv_free(srv);
    return code;
}

bool bw_srv_alive(bw_srv *srv)
{
    if (srv->exited || bw_srv_wait(srv, 0) >= 0 || srv->exited)
        return false;
    bw_resp r;
    if (http_do(srv, "GET", "/healthz", NULL, NULL, 0, BW_HTTP_TIMEOUT_MS, &r) != 0)
        return false;
    bool ok = r.status == 200;
    bw_resp_free(&r);
    return ok;
}

int bw_suite_setup(void **state)
{
    *state = bw_srv_start(NULL);
    return *state ? 0 : -1;
}

int bw_suite_teardown(void **state)
{
    int code = bw_srv_stop(*state);
    *state = NULL;
    if (code != 0) {
        fprintf(stderr, "[harness] server exit status %d after SIGTERM (want 0)\n", code);
        return -1;
    }
    return 0;
}

uint16_t bw_srv_port(const bw_srv *srv)
{
    return srv->port;
}

pid_t bw_srv_pid(const bw_srv *srv)
{
    return srv->pid;
}

const char *bw_srv_data_dir(const bw_srv *srv)
{
    return srv->data_dir;
}

int bw_srv_url(const bw_srv *srv, const char *path, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s://%s:%u%s", srv->scheme, srv->host, (unsigned)srv->port, path);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

char *bw_srv_stderr(const bw_srv *srv, size_t *len)
{
    return bw_read_file(srv->stderr_path, len);
}

/* --- libcurl client ------------------------------------------------------------------------ */

typedef struct curl_acc {
    buf body;
    bw_header *headers;
    size_t nheaders;
    bool failed;
} curl_acc;

static void headers_free(bw_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

static int headers_add(bw_header **h, size_t *n, const char *name, size_t nlen, const char *value,
                       size_t vlen)
{
    if (*n >= 100000)
        return -1;
    bw_header *g = realloc(*h, (*n + 1) * sizeof **h);
    if (g == NULL)
        return -1;
    *h = g;
    while (vlen > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        vlen--;
    }
    while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
        vlen--;
    g[*n].name = dup_mem(name, nlen);
    g[*n].value = dup_mem(value, vlen);
    if (g[*n].name == NULL || g[*n].value == NULL) {
        free(g[*n].name);
        free(g[*n].value);
        return -1;
    }
    (*n)++;
    return 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    curl_acc *acc = ud;
    size_t n = size * nmemb;
    if (buf_add(&acc->body, p, n) != 0) {
        acc->failed = true;
        return 0;
    }
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    curl_acc *acc = ud;
    size_t n = size * nmemb;
    size_t len = n;
    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new status line (after 100 Continue): keep only the final response's headers. */
        headers_free(acc->headers, acc->nheaders);
        acc->headers = NULL;
        acc->nheaders = 0;
        return n;
    }
    const char *colon = memchr(p, ':', len);
    if (len == 0 || colon == NULL)
        return n;
    if (headers_add(&acc->headers, &acc->nheaders, p, (size_t)(colon - p), colon + 1,
                    len - (size_t)(colon - p) - 1) != 0) {
        acc->failed = true;
        return 0;
    }
    return n;
}

/* The transport set-up shared by every request; TLS settings belong here. */
static int curl_transport(CURL *c, const bw_srv *srv, const char *path, long timeout_ms)
{
    char url[16384];
    if (bw_srv_url(srv, path, url, sizeof url) != 0)
        return -1;
    if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK)
        return -1;
    if (srv->ca_path != NULL && curl_easy_setopt(c, CURLOPT_CAINFO, srv->ca_path) != CURLE_OK)
        return -1;
    if (srv->source_addr[0] != '\0') {
        char iface[80];
        int n = snprintf(iface, sizeof iface, "host!%s", srv->source_addr);
        if (n < 0 || (size_t)n >= sizeof iface ||
            curl_easy_setopt(c, CURLOPT_INTERFACE, iface) != CURLE_OK)
            return -1;
    }
    if (srv->client_cert != NULL &&
        (curl_easy_setopt(c, CURLOPT_SSLCERT, srv->client_cert) != CURLE_OK ||
         curl_easy_setopt(c, CURLOPT_SSLKEY, srv->client_key) != CURLE_OK))
        return -1;
    return 0;
}

static int http_do(bw_srv *srv, const char *method, const char *path, const char *const *headers,
                   const void *body, size_t len, long timeout_ms, bw_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    CURL *c = curl_easy_init();
    if (c == NULL)
        return -1;
    curl_acc acc = {0};
    struct curl_slist *list = NULL;
    bool has_expect = false;
    int rc = -1;
    for (size_t i = 0; headers && headers[i]; i++) {
        if (strncasecmp(headers[i], "Expect:", 7) == 0)
            has_expect = true;
        struct curl_slist *l = curl_slist_append(list, headers[i]);
        if (l == NULL)
            goto out;
        list = l;
    }
    if (!has_expect) {
        /* Send the body at once unless a test asks for 100-continue itself. */
        struct curl_slist *l = curl_slist_append(list, "Expect:");
        if (l == NULL)
            goto out;
        list = l;
    }
    bool head = strcmp(method, "HEAD") == 0;
    if (curl_transport(c, srv, path, timeout_ms) != 0 ||
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, list) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &acc) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &acc) != CURLE_OK)
        goto out;
    if (head) {
        if (curl_easy_setopt(c, CURLOPT_NOBODY, 1L) != CURLE_OK)
            goto out;
    } else if (curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK) {
        goto out;
    }
    if (body != NULL &&
        (curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK ||
         curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
         curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK))
        goto out;
    if (curl_easy_perform(c) != CURLE_OK || acc.failed)
        goto out;
    long status = 0;
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        goto out;
    resp->status = status;
    resp->body = buf_take(&acc.body, &resp->body_len);
    if (resp->body == NULL)
        goto out;
    resp->headers = acc.headers;
    resp->nheaders = acc.nheaders;
    acc.headers = NULL;
    acc.nheaders = 0;
    rc = 0;
out:
    free(acc.body.p);
    headers_free(acc.headers, acc.nheaders);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    if (rc != 0)
        bw_resp_free(resp);
    return rc;
}

int bw_http(bw_srv *srv, const char *method, const char *path, const char *const *headers,
            const void *body, size_t len, bw_resp *resp)
{
    return http_do(srv, method, path, headers, body, len, BW_HTTP_TIMEOUT_MS, resp);
}

/* --- raw client ---------------------------------------------------------------------------- */

int bw_connect(const bw_srv *srv)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(srv->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        (void)close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Raw bytes inside a TLS connection: libcurl (on OpenSSL, an independent TLS stack) does the
 * handshake and nothing else (CONNECT_ONLY); every byte after it is ours. */
static CURL *tls_open(const bw_srv *srv, int timeout_ms, curl_socket_t *sock)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NULL;
    CURLcode pe = CURLE_OK;
    if (curl_transport(c, srv, "/", timeout_ms) != 0 ||
        curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK ||
        /* the connection must outlive perform */
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 0L) != CURLE_OK ||
        (pe = curl_easy_perform(c)) != CURLE_OK ||
        curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, sock) != CURLE_OK || *sock == CURL_SOCKET_BAD) {
        fprintf(stderr, "[harness] TLS connect failed: %s\n", curl_easy_strerror(pe));
        curl_easy_cleanup(c);
        return NULL;
    }
    return c;
}

struct bw_tls_conn {
    CURL *c;
    curl_socket_t fd;
};

bw_tls_conn *bw_tls_connect(const bw_srv *srv)
{
    bw_tls_conn *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->c = tls_open(srv, BW_HTTP_TIMEOUT_MS, &t->fd);
    if (t->c == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

long bw_tls_exchange(bw_tls_conn *t, const void *bytes, size_t len, char *out, size_t cap,
                     int timeout_ms)
{
    size_t sent = 0, got = 0;
    long long deadline = now_ms() + timeout_ms, quiet_since = 0;
    if (cap == 0)
        return -1;
    while (now_ms() < deadline) {
        if (sent < len) {
            size_t n = 0;
            CURLcode e = curl_easy_send(t->c, (const char *)bytes + sent, len - sent, &n);
            if (e != CURLE_OK && e != CURLE_AGAIN)
                return -1;
            sent += n;
            continue;
        }
        size_t n = 0;
        CURLcode e = curl_easy_recv(t->c, out + got, cap - 1 - got, &n);
        if (e == CURLE_OK && n > 0) {
            got += n;
            quiet_since = now_ms();
            if (got == cap - 1)
                break;
            continue;
        }
        if (e != CURLE_AGAIN)
            break; /* closed */
        if (got > 0 && now_ms() - quiet_since >= 200)
            break;
        struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
        (void)poll(&pfd, 1, 20);
    }
    out[got] = '\0';
    return (long)got;
}

void bw_tls_close(bw_tls_conn *t)
{
    if (t == NULL)
        return;
    curl_easy_cleanup(t->c);
    free(t);
}

int bw_raw_timeout(bw_srv *srv, const void *bytes, size_t len, int timeout_ms, bw_bytes *out)
{
    memset(out, 0, sizeof *out);
    curl_socket_t fd;
    CURL *c = tls_open(srv, timeout_ms, &fd);
    if (c == NULL)
        return -1;
    const char *p = bytes;
    size_t sent = 0;
    buf b = {0};
    long long deadline = now_ms() + timeout_ms;
    int rc = 0;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            break;
        bool progress = false;
        if (sent < len && !out->send_failed) {
            size_t n = 0;
            CURLcode e = curl_easy_send(c, p + sent, len - sent, &n);
            if (e == CURLE_OK) {
                sent += n;
                progress = n > 0;
            } else if (e != CURLE_AGAIN) {
                out->send_failed = true;
            }
        }
        char chunk[16384];
        size_t n = 0;
        CURLcode e = curl_easy_recv(c, chunk, sizeof chunk, &n);
        if (e == CURLE_OK && n > 0) {
            if (buf_add(&b, chunk, n) != 0) {
                rc = -1;
                break;
            }
            continue; /* TLS may hold more decrypted bytes than the socket shows */
        }
        if (e == CURLE_OK || (e != CURLE_AGAIN)) {
            out->peer_closed = true; /* close_notify, FIN or reset */
            break;
        }
        if (progress)
            continue;
        bool want_out = sent < len && !out->send_failed;
        struct pollfd pfd = {.fd = fd, .events = (short)(POLLIN | (want_out ? POLLOUT : 0))};
        int pr = poll(&pfd, 1, (int)(left < 50 ? left : 50));
        if (pr < 0 && errno != EINTR) {
            rc = -1;
            break;
        }
    }
    curl_easy_cleanup(c);
    if (rc == 0) {
        out->data = buf_take(&b, &out->len);
        if (out->data == NULL)
            rc = -1;
    }
    free(b.p);
    return rc;
}

int bw_raw(bw_srv *srv, const void *bytes, size_t len, bw_bytes *out)
{
    return bw_raw_timeout(srv, bytes, len, BW_RAW_TIMEOUT_MS, out);
}

int bw_raw_exchange(bw_srv *srv, const void *bytes, size_t len, bool head, bw_resp *resp,
                    bw_bytes *raw, size_t *used)
{
    memset(resp, 0, sizeof *resp);
    if (bw_raw(srv, bytes, len, raw) != 0)
        return -1;
    size_t off = 0;
    for (;;) {
        size_t n = 0;
        if (bw_parse_response(raw->data + off, raw->len - off, head, resp, &n) != 0)
            return -1;
        off += n;
        if (resp->status >= 200) {
            if (used)
                *used = off;
            return 0;
        }
        bw_resp_free(resp); /* an interim 1xx response; the final one follows */
    }
}

char *bw_build_request(const char *method, const char *target, size_t target_len, const char *extra,
                       const void *body, size_t body_len, size_t *out_len)
{
    buf b = {0};
    if (buf_str(&b, method) != 0 || buf_add(&b, " ", 1) != 0 ||
        buf_add(&b, target, target_len) != 0 ||
        buf_str(&b, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n") != 0 ||
        (extra && buf_str(&b, extra) != 0) || buf_add(&b, "\r\n", 2) != 0 ||
        (body && buf_add(&b, body, body_len) != 0)) {
        free(b.p);
        return NULL;
    }
    return buf_take(&b, out_len);
}

/* --- response parsing ---------------------------------------------------------------------- */

int bw_parse_response(const char *data, size_t len, bool head, bw_resp *resp, size_t *used)
{
    memset(resp, 0, sizeof *resp);
    const char *end = memmem(data, len, "\r\n\r\n", 4);
    if (end == NULL || len < 12 || memcmp(data, "HTTP/1.", 7) != 0 || data[8] != ' ')
        return -1;
    for (int i = 9; i < 12; i++) {
        if (data[i] < '0' || data[i] > '9')
            return -1;
    }
    resp->status = (data[9] - '0') * 100 + (data[10] - '0') * 10 + (data[11] - '0');
    const char *line = memmem(data, (size_t)(end - data) + 2, "\r\n", 2) + 2;
    while (line < end + 2) {
        const char *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL || colon == line ||
            headers_add(&resp->headers, &resp->nheaders, line, (size_t)(colon - line), colon + 1,
                        (size_t)(eol - colon - 1)) != 0) {
            bw_resp_free(resp);
            return -1;
        }
        line = eol + 2;
    }
    size_t hdr_len = (size_t)(end - data) + 4;
    size_t body_len = 0;
    const char *cl = bw_resp_header(resp, "Content-Length");
    if (head || resp->status < 200 || resp->status == 204 || resp->status == 304) {
        body_len = 0;
    } else if (cl != NULL && bw_resp_header(resp, "Transfer-Encoding") == NULL) {
        if (!all_digits(cl) || strlen(cl) > 12) {
            bw_resp_free(resp);
            return -1;
        }
        body_len = (size_t)strtoull(cl, NULL, 10);
        if (body_len > len - hdr_len) {
            bw_resp_free(resp);
            return -1;
        }
    } else {
        body_len = len - hdr_len; /* delimited by the connection closing */
    }
    resp->body = dup_mem(data + hdr_len, body_len);
    if (resp->body == NULL) {
        bw_resp_free(resp);
        return -1;
    }
    resp->body_len = body_len;
    if (used)
        *used = hdr_len + body_len;
    return 0;
}

const char *bw_resp_header(const bw_resp *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    }
    return NULL;
}

size_t bw_resp_header_count(const bw_resp *r, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0)
            n++;
    }
    return n;
}

void bw_resp_free(bw_resp *r)
{
    headers_free(r->headers, r->nheaders);
    free(r->body);
    memset(r, 0, sizeof *r);
}

void bw_bytes_free(bw_bytes *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* --- checks -------------------------------------------------------------------------------- */

bool bw_is_fresh_request_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    }
    return n == 32;
}

/* True when the sep-separated list contains token after trimming spaces around each item. */
static bool item_list_has(const char *list, char sep, const char *token, bool ci)
{
    size_t tlen = strlen(token);
    const char *p = list;
    while (p != NULL && *p) {
        const char *e = strchr(p, sep);
        const char *stop = e ? e : p + strlen(p);
        while (p < stop && (*p == ' ' || *p == '\t'))
            p++;
        const char *q = stop;
        while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
            q--;
        if ((size_t)(q - p) == tlen &&
            (ci ? strncasecmp(p, token, tlen) == 0 : strncmp(p, token, tlen) == 0))
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

bool bw_list_has(const char *list, const char *token)
{
    return list != NULL && item_list_has(list, ',', token, false);
}

/* Exactly one header called name. Returns its value or NULL with why set. */
static const char *one_header(const bw_resp *r, const char *name, char *why, size_t cap)
{
    size_t n = bw_resp_header_count(r, name);
    if (n != 1) {
        set_why(why, cap, "%s appears %zu times (want 1) on a %ld", name, n, r->status);
        return NULL;
    }
    return bw_resp_header(r, name);
}

bool bw_check_secure_headers(const bw_resp *r, const char *sent_id, char *why, size_t cap)
{
    static const struct {
        const char *name;
        const char *value;
    } exact[] = {
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "no-referrer"},
        {"Cross-Origin-Opener-Policy", "same-origin"},
        {"Cross-Origin-Resource-Policy", "same-origin"},
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        const char *v = one_header(r, exact[i].name, why, cap);
        if (v == NULL)
            return false;
        if (strcasecmp(v, exact[i].value) != 0) {
            set_why(why, cap, "%s is \"%s\", want \"%s\"", exact[i].name, v, exact[i].value);
            return false;
        }
    }
    static const char *const csp[] = {"default-src 'none'", "frame-ancestors 'none'",
                                      "base-uri 'none'"};
    const char *v = one_header(r, "Content-Security-Policy", why, cap);
    if (v == NULL)
        return false;
    for (size_t i = 0; i < sizeof csp / sizeof csp[0]; i++) {
        if (!item_list_has(v, ';', csp[i], true)) {
            set_why(why, cap, "Content-Security-Policy \"%s\" lacks %s", v, csp[i]);
            return false;
        }
    }
    static const char *const pp[] = {"camera=()", "microphone=()", "geolocation=()"};
    if ((v = one_header(r, "Permissions-Policy", why, cap)) == NULL)
        return false;
    for (size_t i = 0; i < sizeof pp / sizeof pp[0]; i++) {
        if (!item_list_has(v, ',', pp[i], false)) {
            set_why(why, cap, "Permissions-Policy \"%s\" lacks %s", v, pp[i]);
            return false;
        }
    }
    if ((v = one_header(r, "Cache-Control", why, cap)) == NULL)
        return false;
    if (!item_list_has(v, ',', "no-store", true)) {
        set_why(why, cap, "Cache-Control \"%s\" lacks no-store", v);
        return false;
    }
    if ((v = one_header(r, "X-Request-Id", why, cap)) == NULL)
        return false;
    if (sent_id ? strcmp(v, sent_id) != 0 : !bw_is_fresh_request_id(v)) {
        set_why(why, cap, "X-Request-Id \"%s\", want %s%s", v, sent_id ? "the sent " : "32 hex",
                sent_id ? sent_id : "");
        return false;
    }
    size_t ncl = bw_resp_header_count(r, "Content-Length");
    const char *cl = bw_resp_header(r, "Content-Length");
    if (r->status == 204 || r->status < 200) {
        if (ncl > 1 || (cl != NULL && strcmp(cl, "0") != 0)) {
            set_why(why, cap, "%ld with Content-Length \"%s\"", r->status, cl);
            return false;
        }
    } else if (ncl != 1 || !all_digits(cl)) {
        set_why(why, cap, "%ld has %zu Content-Length headers (\"%s\")", r->status, ncl,
                cl ? cl : "");
        return false;
    }
    static const char *const banned[] = {"Transfer-Encoding", "Server", "X-Powered-By"};
    for (size_t i = 0; i < sizeof banned / sizeof banned[0]; i++) {
        if (bw_resp_header(r, banned[i]) != NULL) {
            set_why(why, cap, "%s header present: \"%s\"", banned[i], bw_resp_header(r, banned[i]));
            return false;
        }
    }
    const char *ver = mg_version();
    for (size_t i = 0; i < r->nheaders; i++) {
        const bw_header *h = &r->headers[i];
        if (contains_ci(h->name, strlen(h->name), "civetweb") ||
            contains_ci(h->value, strlen(h->value), "civetweb") ||
            (ver && *ver && strstr(h->value, ver) != NULL)) {
            set_why(why, cap, "header \"%s: %s\" names CivetWeb or its version", h->name, h->value);
            return false;
        }
    }
    if (r->body && (contains_ci(r->body, r->body_len, "civetweb") ||
                    (ver && *ver && contains_ci(r->body, r->body_len, ver)))) {
        set_why(why, cap, "body names CivetWeb or its version %s", ver);
        return false;
    }
    return true;
}

bool bw_check_problem(const bw_resp *r, long status, char *why, size_t cap)
{
    if (r->status != status) {
        set_why(why, cap, "status %ld, want %ld; body: %.200s", r->status, status,
                r->body ? r->body : "");
        return false;
    }
    const char *ct = bw_resp_header(r, "Content-Type");
    const char *media = "application/problem+json";
    size_t mlen = strlen(media);
    if (ct == NULL || strncasecmp(ct, media, mlen) != 0 ||
        (ct[mlen] != '\0' && ct[mlen] != ';' && ct[mlen] != ' ')) {
        set_why(why, cap, "Content-Type \"%s\"", ct ? ct : "(none)");
        return false;
    }
    json_error_t err;
    json_t *j = json_loadb(r->body ? r->body : "", r->body_len, 0, &err);
    if (!json_is_object(j)) {
        set_why(why, cap, "body is not a JSON object: %.200s", r->body ? r->body : "");
        json_decref(j);
        return false;
    }
    bool ok = false;
    json_t *type = json_object_get(j, "type"), *title = json_object_get(j, "title");
    json_t *st = json_object_get(j, "status"), *rid = json_object_get(j, "request_id");
    const char *hdr_id = bw_resp_header(r, "X-Request-Id");
    if (!json_is_string(type) || !json_is_string(title))
        set_why(why, cap, "type/title not strings: %.200s", r->body);
    else if (!json_is_integer(st) || json_integer_value(st) != status)
        set_why(why, cap, "\"status\" member does not equal %ld: %.200s", status, r->body);
    else if (!json_is_string(rid) || hdr_id == NULL || strcmp(json_string_value(rid), hdr_id) != 0)
        set_why(why, cap, "request_id differs from X-Request-Id \"%s\": %.200s",
                hdr_id ? hdr_id : "(none)", r->body);
    else
        ok = true;
    json_decref(j);
    if (!ok)
        return false;

    const char *tmp = getenv("TMPDIR");
    const char *internal[] = {
        "civetweb",     "sqlite", "select ",    "insert into",
        "syntax error", ".c:",    "/tmp/",      "/home/",
        "/usr/",        "/work/", source_dir(), (tmp && *tmp) ? tmp : "/tmp/"};
    for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++) {
        if (contains_ci(r->body, r->body_len, internal[i])) {
            set_why(why, cap, "body leaks internal detail \"%s\": %.200s", internal[i], r->body);
            return false;
        }
    }
    return true;
}

bool bw_check_refusal(const bw_resp *r, const long *allowed, size_t n, char *why, size_t cap)
{
    bool listed = false;
    for (size_t i = 0; i < n; i++)
        listed = listed || r->status == allowed[i];
    if (!listed) {
        set_why(why, cap, "status %ld is not one of the %zu allowed (first %ld); body: %.200s",
                r->status, n, n ? allowed[0] : 0L, r->body ? r->body : "");
        return false;
    }
    return bw_check_problem(r, r->status, why, cap) && bw_check_secure_headers(r, NULL, why, cap);
}
