/*
 * Test harness for the integration and security suites: starts the `notes` sample service in a
 * throw-away data directory on a free loopback port, talks to it with libcurl (well-formed
 * requests) or a raw TCP socket (exact bytes curl would refuse to send), and checks the
 * properties every response must have (secure headers, RFC 9457 problem bodies).
 *
 * The client's scheme, host and CA bundle are set in one place (bw_srv_start fills them into the
 * bw_srv; bw_srv_url and the libcurl set-up read them), so switching the suites to https means
 * changing that one place.
 *
 * Everything here is single-threaded test code. Functions that allocate say who frees.
 */
#ifndef BW_TEST_HARNESS_H
#define BW_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bounds on every wait the harness does. */
#define BW_START_TIMEOUT_MS 10000 /* serve until GET /healthz answers 200 */
#define BW_HTTP_TIMEOUT_MS 5000   /* one libcurl exchange */
#define BW_RAW_TIMEOUT_MS 3000    /* one raw-socket exchange */
#define BW_RUN_TIMEOUT_MS 10000   /* a `notes` sub-command (init, check-config) */

typedef struct bw_srv_opts {
    /* BULWARK_CONFIG, or NULL for the built-in defaults. Either way the server runs with
     * automatic bans off unless the file sets "ban" (see test_config in harness.c). */
    const char *config_path;
    /* Extra "NAME=value" entries, NULL-terminated, may be NULL. BULWARK_DATA_DIR, BULWARK_LISTEN
     * (and BULWARK_CONFIG when config_path is set) are the harness's own and win over these. */
    const char *const *env;
    bool plain_http;         /* the config opts into plain HTTP: talk http, not https */
    const char *client_cert; /* PEM client certificate and key for mutual TLS, or NULL */
    const char *client_key;
} bw_srv_opts;

typedef struct bw_srv bw_srv;

typedef struct bw_header {
    char *name;
    char *value; /* optional whitespace around it removed */
} bw_header;

/* A parsed HTTP response. body is NUL-terminated (the NUL is not counted in body_len). */
typedef struct bw_resp {
    long status;
    bw_header *headers;
    size_t nheaders;
    char *body;
    size_t body_len;
} bw_resp;

/* Bytes read back from a raw exchange. data is NUL-terminated (not counted in len). */
typedef struct bw_bytes {
    char *data;
    size_t len;
    bool peer_closed; /* the server closed (FIN or RST) before the deadline */
    bool send_failed; /* the server stopped accepting our bytes before all were sent */
} bw_bytes;

/* Outcome of running the `notes` executable to completion. */
typedef struct bw_run_result {
    int status;     /* exit code, 128+signal if killed by a signal, -1 on timeout */
    bool timed_out; /* did not exit in time and was killed */
    char *out;      /* captured stdout, NUL-terminated */
    size_t out_len;
    char *err; /* captured stderr, NUL-terminated */
    size_t err_len;
} bw_run_result;

/* --- processes and files ------------------------------------------------------------------- */

/* Path of the `notes` executable: $BW_NOTES_BIN if set, else the one CMake built. */
const char *bw_notes_bin(void);

/* Shutdown deadline of the server (server.shutdown_timeout_ms in config/bulwark.json, else
 * 10000). */
int bw_shutdown_timeout_ms(void);

/* Creates a fresh 0700 directory under $TMPDIR (or /tmp). Returns a malloc'd path the caller
 * frees after bw_rm_rf, or NULL on error. */
char *bw_tmpdir_create(void);

/* Removes a directory tree without following symbolic links. Returns 0 or -1. */
int bw_rm_rf(const char *path);

/* Reads a whole file. Returns a malloc'd NUL-terminated buffer (caller frees) and its length in
 * *len (may be NULL), or NULL on error. */
char *bw_read_file(const char *path, size_t *len);

/* Runs `notes argv[0] argv[1] ...` (argv NULL-terminated, without the program name) with the
 * caller's environment minus every BULWARK_* variable plus env (NULL-terminated "NAME=value",
 * may be NULL), stdin from /dev/null. Waits up to timeout_ms, then kills it. Returns 0 when the
 * process was run (see res->status) or -1 if it could not be. Free res with bw_run_free. */
int bw_run(const char *const *argv, const char *const *env, int timeout_ms, bw_run_result *res);
void bw_run_free(bw_run_result *res);

/* Runs `notes argv...` as bw_run does, with the environment the server was started with
 * (its data folder, config file and bw_srv_opts.env), and input (NUL-terminated, may be NULL)
 * on stdin: for the `user` and `apikey` commands next to a running server. */
struct bw_srv;
/* Makes later bw_http requests to srv leave from the loopback address addr (e.g. "127.0.0.2":
 * every 127.0.0.0/8 address is local), so a test can be two different clients; NULL or ""
 * restores the default. 0, or -1 when addr is too long. */
int bw_srv_set_source(struct bw_srv *srv, const char *addr);
int bw_srv_run(struct bw_srv *srv, const char *const *argv, const char *input, bw_run_result *res);

/* Finds a loopback TCP port that is free right now (binds port 0, reads it, closes). Returns 0
 * or -1. */
int bw_free_port(uint16_t *port);

/* --- the server under test ----------------------------------------------------------------- */

/* Creates a temp dir, runs `notes init` into <tmp>/data, picks a free loopback port and starts
 * `notes serve` (stderr captured in <tmp>/stderr.log), then polls GET /healthz until 200 or
 * BW_START_TIMEOUT_MS. Returns the server (stop it with bw_srv_stop) or NULL, after printing
 * the server's stderr, on any failure. o may be NULL. */
bw_srv *bw_srv_start(const bw_srv_opts *o);

/* SIGTERM, then waits up to the shutdown deadline plus a margin; on timeout kills with SIGKILL
 * and returns -1. Otherwise returns the exit code (128+signal if killed by a signal). A
 * non-zero exit prints the server's output, unless the test had already collected the exit
 * with bw_srv_wait (a kill it meant). Removes the temp dir and frees srv in every case. */
int bw_srv_stop(bw_srv *srv);

/* Stops the server if it still runs (SIGTERM, then SIGKILL past the deadline) and starts it
 * again on the same data dir, config and environment, on a new free port (bw_srv_port and
 * bw_srv_url follow). Its output is appended to the same <tmp>/stderr.log and stdout.log.
 * Returns 0, or -1 after printing the server's output (srv stays valid for bw_srv_stop). */
int bw_srv_restart(bw_srv *srv);

/* Sends sig to the server process. Returns 0 or -1. */
int bw_srv_signal(bw_srv *srv, int sig);

/* Waits up to timeout_ms for the server process to exit. Returns its exit code as bw_srv_stop
 * does, or -1 if it is still running at the deadline. */
int bw_srv_wait(bw_srv *srv, int timeout_ms);

/* True when the process is still running and GET /healthz answers 200. */
bool bw_srv_alive(bw_srv *srv);

uint16_t bw_srv_port(const bw_srv *srv);
pid_t bw_srv_pid(const bw_srv *srv);
const char *bw_srv_data_dir(const bw_srv *srv);

/* Writes scheme://host:port followed by path into buf. Returns 0, or -1 if it does not fit. */
int bw_srv_url(const bw_srv *srv, const char *path, char *buf, size_t cap);

/* Everything the server has written to stderr so far. Returns a malloc'd NUL-terminated buffer
 * (caller frees) and its length in *len (may be NULL), or NULL on error. */
char *bw_srv_stderr(const bw_srv *srv, size_t *len);

/* cmocka group set-up/tear-down: start a default server into *state; stop it and fail unless
 * it exited 0 (a leak reported by a sanitizer, a crash or a hang all fail the suite). */
int bw_suite_setup(void **state);
int bw_suite_teardown(void **state);

/* --- clients ------------------------------------------------------------------------------- */

/* One request over a fresh libcurl connection. path is sent as is (no dot-segment removal).
 * headers is a NULL-terminated list of "Name: value" lines (may be NULL); body of len bytes is
 * sent when non-NULL. HEAD is sent without reading a body. Returns 0 and fills resp (free with
 * bw_resp_free) or -1 on a transport error. */
int bw_http(bw_srv *srv, const char *method, const char *path, const char *const *headers,
            const void *body, size_t len, bw_resp *resp);

/* Opens a TCP connection, sends exactly len bytes (stops sending if the server refuses more)
 * while reading, until the server closes or timeout_ms pass. Returns 0 and fills out (free with
 * bw_bytes_free) or -1 if the connection could not be made. bw_raw uses BW_RAW_TIMEOUT_MS. */
int bw_raw(bw_srv *srv, const void *bytes, size_t len, bw_bytes *out);
int bw_raw_timeout(bw_srv *srv, const void *bytes, size_t len, int timeout_ms, bw_bytes *out);

/* bw_raw, then parses the first final (non-1xx) response; head says the request was HEAD.
 * Returns 0 with resp filled (free with bw_resp_free) and *used set to the bytes that response
 * took from raw (free raw with bw_bytes_free), or -1 when no complete response came back (raw
 * is still filled if the connection was made). used may be NULL. */
int bw_raw_exchange(bw_srv *srv, const void *bytes, size_t len, bool head, bw_resp *resp,
                    bw_bytes *raw, size_t *used);

/* Builds "METHOD target HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra (raw
 * "Name: value\r\n" lines, may be NULL) + "\r\n" + body (may be NULL). Framing headers are
 * the caller's business. Returns a malloc'd buffer (caller frees) and its length, or NULL. */
char *bw_build_request(const char *method, const char *target, size_t target_len, const char *extra,
                       const void *body, size_t body_len, size_t *out_len);

/* Connects to the server's port (TCP only, no TLS). Returns the socket (caller closes) or -1
 * with errno set. */
int bw_connect(const bw_srv *srv);

/* A TLS connection held open across calls (the handshake is done by libcurl on OpenSSL). */
typedef struct bw_tls_conn bw_tls_conn;
bw_tls_conn *bw_tls_connect(const bw_srv *srv);
/* Sends len bytes, then reads until at least one byte arrived and no more came for 200 ms, or
 * timeout_ms passed. Returns the bytes read into out (NUL-terminated, at most cap-1), or -1. */
long bw_tls_exchange(bw_tls_conn *c, const void *bytes, size_t len, char *out, size_t cap,
                     int timeout_ms);
void bw_tls_close(bw_tls_conn *c);

/* Parses one HTTP/1.x response from data. head: the request was HEAD (no body follows).
 * Returns 0 with resp filled and *used bytes consumed, or -1 if data does not start with a
 * complete response. */
int bw_parse_response(const char *data, size_t len, bool head, bw_resp *resp, size_t *used);

/* Value of the first header called name (case-insensitive), or NULL. */
const char *bw_resp_header(const bw_resp *r, const char *name);

/* How many headers are called name (case-insensitive). */
size_t bw_resp_header_count(const bw_resp *r, const char *name);

void bw_resp_free(bw_resp *r);
void bw_bytes_free(bw_bytes *b);

/* --- checks (return true, or false with the reason written to why) ------------------------- */

/* Every secure header exactly once with its required value, X-Request-Id either sent_id (when
 * non-NULL) or 32 lowercase hex, a Content-Length (absent or 0 on 204), no Transfer-Encoding,
 * no Server header, and no CivetWeb name or version in any header or the body. */
bool bw_check_secure_headers(const bw_resp *r, const char *sent_id, char *why, size_t cap);

/* An RFC 9457 problem: given status, application/problem+json, body an object with string
 * "type" and "title", "status" equal to the status, "request_id" equal to X-Request-Id, and no
 * internal detail (paths, CivetWeb, SQL). */
bool bw_check_problem(const bw_resp *r, long status, char *why, size_t cap);

/* A refusal: the status is one of allowed[0..n), the response is a problem for that status and
 * carries every secure header (fresh request id). */
bool bw_check_refusal(const bw_resp *r, const long *allowed, size_t n, char *why, size_t cap);

/* True when s is exactly 32 lowercase hex characters. */
bool bw_is_fresh_request_id(const char *s);

/* True when the comma-separated list (an Allow value) contains token, case-sensitively. */
bool bw_list_has(const char *list, const char *token);

/* cmocka assertions over the checks above, reported at the caller's line. */
#define BW_ASSERT_SECURE_HEADERS(r, sent_id)                                                       \
    do {                                                                                           \
        char bw_why_[512];                                                                         \
        if (!bw_check_secure_headers((r), (sent_id), bw_why_, sizeof bw_why_))                     \
            fail_msg("secure headers: %s", bw_why_);                                               \
    } while (0)

#define BW_ASSERT_PROBLEM(r, st)                                                                   \
    do {                                                                                           \
        char bw_why_[512];                                                                         \
        if (!bw_check_problem((r), (st), bw_why_, sizeof bw_why_))                                 \
            fail_msg("problem %ld: %s", (long)(st), bw_why_);                                      \
    } while (0)

/* BW_ASSERT_REFUSED(&resp, 400, 414): one of the listed statuses, as bw_check_refusal. */
#define BW_ASSERT_REFUSED(r, ...)                                                                  \
    do {                                                                                           \
        static const long bw_st_[] = {__VA_ARGS__};                                                \
        char bw_why_[512];                                                                         \
        if (!bw_check_refusal((r), bw_st_, sizeof bw_st_ / sizeof bw_st_[0], bw_why_,              \
                              sizeof bw_why_))                                                     \
            fail_msg("refusal: %s", bw_why_);                                                      \
    } while (0)

/* Table-driven tests report every failing case, not only the first: BW_CASE_FAIL prints one
 * and counts it in nfail, BW_CASES_DONE fails the test if any did. */
#define BW_CASE_FAIL(nfail, ...)                                                                   \
    do {                                                                                           \
        print_error(__VA_ARGS__);                                                                  \
        print_error("\n");                                                                         \
        (nfail)++;                                                                                 \
    } while (0)

#define BW_CASES_DONE(nfail)                                                                       \
    do {                                                                                           \
        if ((nfail) > 0)                                                                           \
            fail_msg("%d case(s) failed, listed above", (nfail));                                  \
    } while (0)

#endif
