/*
 * TLS policy, attacked with an independent client: `openssl s_client` (OpenSSL 3). The server is
 * the sample service with its development certificate. Old protocols and, by default, TLS 1.2 must
 * fail; TLS 1.3 must succeed with an AEAD suite, resume a session and agree on ALPN http/1.1; HSTS
 * must be on every HTTPS answer; no OpenSSL code may be mapped into the server process; a renewed
 * certificate must be served after SIGHUP while an open connection keeps working, and a bad one
 * must be refused with the old one still served.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

/* Runs a shell command (bounded by `timeout`), returns its output (stdout and stderr). */
static char *sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 65536, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t r;
    while ((r = fread(out + len, 1, cap - 1 - len, p)) > 0)
        len += r;
    out[len] = '\0';
    (void)pclose(p);
    return out;
}

/* s_client against the server with extra options; input closes the connection at once. */
static char *s_client(bw_srv *srv, const char *opts)
{
    return sh("echo | timeout 10 openssl s_client -connect 127.0.0.1:%u -servername localhost "
              "-CAfile %s/tls/cert.pem %s 2>&1",
              (unsigned)bw_srv_port(srv), bw_srv_data_dir(srv), opts);
}

static bool handshake_ok(const char *out)
{
    return strstr(out, "Verify return code: 0 (ok)") != NULL &&
           strstr(out, "Cipher is (NONE)") == NULL;
}

static void test_tls13_aead_succeeds(void **state)
{
    char *out = s_client(*state, "-tls1_3 -alpn http/1.1");
    if (!handshake_ok(out) || strstr(out, "TLSv1.3") == NULL)
        fail_msg("TLS 1.3 handshake failed:\n%s", out);
    bool aead = strstr(out, "TLS_AES_128_GCM_SHA256") || strstr(out, "TLS_AES_256_GCM_SHA384") ||
                strstr(out, "TLS_CHACHA20_POLY1305_SHA256");
    assert_true(aead);
    assert_non_null(strstr(out, "ALPN protocol: http/1.1"));
    free(out);
}

static void test_old_protocols_refused(void **state)
{
    static const char *const opts[] = {"-tls1_2", "-tls1_1 -cipher DEFAULT@SECLEVEL=0",
                                       "-tls1 -cipher DEFAULT@SECLEVEL=0"};
    int nfail = 0;
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        char *out = s_client(*state, opts[i]);
        if (handshake_ok(out))
            BW_CASE_FAIL(nfail, "%s: handshake succeeded:\n%.600s", opts[i], out);
        free(out);
    }
    BW_CASES_DONE(nfail);
    assert_true(bw_srv_alive(*state));
}

static void test_resumption(void **state)
{
    char *dir = bw_tmpdir_create();
    assert_non_null(dir);
    /* -ign_eof keeps the connection until the server's session ticket has arrived. */
    char *first = sh("(sleep 1; echo) | timeout 10 openssl s_client -connect 127.0.0.1:%u "
                     "-CAfile %s/tls/cert.pem -tls1_3 -sess_out %s/sess 2>&1",
                     (unsigned)bw_srv_port(*state), bw_srv_data_dir(*state), dir);
    assert_true(handshake_ok(first));
    char opt[600];
    snprintf(opt, sizeof opt, "-tls1_3 -sess_in %s/sess", dir);
    char *second = s_client(*state, opt);
    if (strstr(second, "Reused, TLSv1.3") == NULL)
        fail_msg("session not resumed:\n%s", second);
    free(first);
    free(second);
    bw_rm_rf(dir);
    free(dir);
}

static void test_hsts_on_https_answers(void **state)
{
    static const char *const paths[] = {"/healthz", "/nope", "/v1/notes"};
    for (size_t i = 0; i < 3; i++) {
        bw_resp r;
        assert_int_equal(bw_http(*state, "GET", paths[i], NULL, NULL, 0, &r), 0);
        const char *h = bw_resp_header(&r, "Strict-Transport-Security");
        if (h == NULL || strcmp(h, "max-age=63072000; includeSubDomains") != 0)
            fail_msg("%s: Strict-Transport-Security is %s", paths[i], h ? h : "missing");
        bw_resp_free(&r);
    }
}

static void test_no_openssl_in_process(void **state)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)bw_srv_pid(*state));
    size_t len;
    char *maps = bw_read_file(path, &len);
    assert_non_null(maps);
    if (strstr(maps, "libssl.so.3") || strstr(maps, "libcrypto.so.3") ||
        strstr(maps, "libssl.so.1") || strstr(maps, "libcrypto.so.1"))
        fail_msg("OpenSSL is mapped into the server");
    assert_non_null(strstr(maps, "libbulwark-ssl.so"));
    assert_non_null(strstr(maps, "libwolfssl.so"));
    free(maps);
}

static char *serial_of(bw_srv *srv)
{
    return sh("echo | timeout 10 openssl s_client -connect 127.0.0.1:%u -tls1_3 2>/dev/null | "
              "openssl x509 -noout -serial 2>&1",
              (unsigned)bw_srv_port(srv));
}

static void test_reload(void **state)
{
    bw_srv *srv = *state;
    const char *data = bw_srv_data_dir(srv);
    char *before = serial_of(srv);
    assert_non_null(strstr(before, "serial="));

    /* A connection opened before the renewal. */
    bw_bytes raw;
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

    /* A renewed pair, made elsewhere and moved into place the way certbot does. */
    char *tmp = bw_tmpdir_create();
    assert_non_null(tmp);
    char env_data[4200];
    snprintf(env_data, sizeof env_data, "BULWARK_DATA_DIR=%s", tmp);
    const char *env[] = {env_data, NULL};
    const char *argv[] = {"gen-dev-cert", NULL};
    bw_run_result res;
    assert_int_equal(bw_run(argv, env, BW_RUN_TIMEOUT_MS, &res), 0);
    assert_int_equal(res.status, 0);
    bw_run_free(&res);
    char *mv = sh("mv %s/tls/cert.pem %s/tls/cert.pem && mv %s/tls/key.pem %s/tls/key.pem && "
                  "echo moved",
                  tmp, data, tmp, data);
    assert_non_null(strstr(mv, "moved"));
    free(mv);
    assert_int_equal(bw_srv_signal(srv, SIGHUP), 0);
    usleep(500 * 1000);

    char *after = serial_of(srv);
    assert_non_null(strstr(after, "serial="));
    if (strcmp(before, after) == 0)
        fail_msg("still serving serial %s after reload", before);
    assert_int_equal(bw_raw(srv, req, sizeof req - 1, &raw), 0);
    assert_non_null(strstr(raw.data, "HTTP/1.1 200"));
    bw_bytes_free(&raw);

    /* A mismatched pair: the key of another certificate. Refused; the current one stays. */
    char *tmp2 = bw_tmpdir_create();
    snprintf(env_data, sizeof env_data, "BULWARK_DATA_DIR=%s", tmp2);
    assert_int_equal(bw_run(argv, env, BW_RUN_TIMEOUT_MS, &res), 0);
    bw_run_free(&res);
    mv = sh("cp %s/tls/key.pem %s/tls/key.pem.new && mv %s/tls/key.pem.new %s/tls/key.pem && "
            "echo moved",
            tmp2, data, data, data);
    assert_non_null(strstr(mv, "moved"));
    free(mv);
    assert_int_equal(bw_srv_signal(srv, SIGHUP), 0);
    usleep(500 * 1000);
    char *still = serial_of(srv);
    assert_string_equal(after, still);
    size_t len;
    char *log = bw_srv_stderr(srv, &len);
    assert_non_null(strstr(log, "\"event\":\"tls.reload.failed\""));
    assert_non_null(strstr(log, "\"event\":\"tls.reload.success\""));
    free(log);
    assert_true(bw_srv_alive(srv));

    free(before);
    free(after);
    free(still);
    bw_rm_rf(tmp);
    bw_rm_rf(tmp2);
    free(tmp);
    free(tmp2);
}

/* A renewal that only replaces the files (as certbot does, without a signal) is picked up by the
 * file watch within a few seconds. */
static void test_reload_on_file_change(void **state)
{
    bw_srv *srv = *state;
    char *before = serial_of(srv);
    char *tmp = bw_tmpdir_create();
    assert_non_null(tmp);
    char env_data[4200];
    snprintf(env_data, sizeof env_data, "BULWARK_DATA_DIR=%s", tmp);
    const char *env[] = {env_data, NULL};
    const char *argv[] = {"gen-dev-cert", NULL};
    bw_run_result res;
    assert_int_equal(bw_run(argv, env, BW_RUN_TIMEOUT_MS, &res), 0);
    assert_int_equal(res.status, 0);
    bw_run_free(&res);
    const char *data = bw_srv_data_dir(srv);
    char *mv = sh("mv %s/tls/key.pem %s/tls/key.pem && mv %s/tls/cert.pem %s/tls/cert.pem && "
                  "echo moved",
                  tmp, data, tmp, data);
    assert_non_null(strstr(mv, "moved"));
    free(mv);
    char *after = NULL;
    for (int i = 0; i < 30; i++) {
        usleep(250 * 1000);
        free(after);
        after = serial_of(srv);
        if (strstr(after, "serial=") != NULL && strcmp(after, before) != 0)
            break;
    }
    if (strcmp(after, before) == 0)
        fail_msg("the renewed certificate was not picked up: still %s", before);
    free(before);
    free(after);
    bw_rm_rf(tmp);
    free(tmp);
}

/* `notes serve` on a fresh data folder whose certificate files were then changed by `prepare`
 * (a shell snippet run in the tls/ folder) must refuse to start, naming `must_name`. */
static void refuses(const char *prepare, const char *must_name)
{
    char *dir = bw_tmpdir_create();
    assert_non_null(dir);
    char e_data[4200];
    snprintf(e_data, sizeof e_data, "BULWARK_DATA_DIR=%s/data", dir);
    const char *env[] = {e_data, "BULWARK_LISTEN=127.0.0.1:9", NULL};
    const char *init[] = {"init", NULL};
    bw_run_result res;
    assert_int_equal(bw_run(init, env, BW_RUN_TIMEOUT_MS, &res), 0);
    assert_int_equal(res.status, 0);
    bw_run_free(&res);
    char *out = sh("cd %s/data/tls && (%s) >/dev/null 2>&1 && echo prepared", dir, prepare);
    if (strstr(out, "prepared") == NULL)
        fail_msg("could not prepare: %s", prepare);
    free(out);
    const char *serve[] = {"serve", NULL};
    assert_int_equal(bw_run(serve, env, BW_RUN_TIMEOUT_MS, &res), 0);
    if (res.timed_out || res.status == 0 || strstr(res.err, must_name) == NULL)
        fail_msg("%s: status %d, stderr: %s", prepare, res.status, res.err);
    bw_run_free(&res);
    bw_rm_rf(dir);
    free(dir);
}

static void test_startup_refusals(void **state)
{
    (void)state;
    /* A key that others can read. */
    refuses("chmod 0644 key.pem", "key.pem");
    refuses("chmod 0640 key.pem", "key.pem");
    /* The key of another certificate. */
    refuses("openssl ecparam -name prime256v1 -genkey -noout -out k2 && "
            "cat k2 > key.pem && rm k2",
            "key.pem");
    /* A certificate that expired (made with `openssl ca`, which can back-date). */
    refuses("rm cert.pem key.pem && "
            "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem "
            "-out r.csr -subj /CN=localhost && chmod 600 key.pem && touch index.txt && "
            "echo 01 > serial && printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=index.txt\\n"
            "new_certs_dir=.\\nserial=serial\\ndefault_md=sha256\\npolicy=p\\n[p]\\n"
            "commonName=supplied\\n' > ca.cnf && "
            "openssl ca -config ca.cnf -selfsign -keyfile key.pem -in r.csr -out cert.pem "
            "-startdate 20200101000000Z -enddate 20200102000000Z -batch -notext",
            "expired");
    /* No certificate at all. */
    refuses("rm cert.pem", "cert.pem");
}

/* Plain bytes to 127.0.0.1:port; returns what came back before the server closed (or 3 s). */
static char *plain_exchange(uint16_t port, const char *req)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 3};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    size_t cap = 16384, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    ssize_t n;
    while (len < cap - 1 && (n = read(fd, out + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fd);
    return out;
}

static void test_redirect_listener(void **state)
{
    (void)state;
    uint16_t rport;
    assert_int_equal(bw_free_port(&rport), 0);
    char *dir = bw_tmpdir_create();
    char cfg[4200], json[200];
    snprintf(cfg, sizeof cfg, "%s/redirect.json", dir);
    snprintf(json, sizeof json, "{\"server\": {\"redirect_listen\": [\"127.0.0.1:%u\"]}}",
             (unsigned)rport);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    assert_true(fputs(json, f) >= 0);
    assert_int_equal(fclose(f), 0);
    bw_srv_opts o = {.config_path = cfg};
    bw_srv *srv = bw_srv_start(&o);
    assert_non_null(srv);

    char want[128];
    snprintf(want, sizeof want, "Location: https://localhost:%u/v1/notes\r\n",
             (unsigned)bw_srv_port(srv));
    static const char *const methods[] = {"GET", "POST", "DELETE"};
    for (size_t i = 0; i < 3; i++) {
        char req[256];
        snprintf(req, sizeof req, "%s /v1/notes?x=1 HTTP/1.1\r\nHost: localhost:%u\r\n\r\n",
                 methods[i], (unsigned)rport);
        char *out = plain_exchange(rport, req);
        if (strncmp(out, "HTTP/1.1 308 ", 13) != 0 || strstr(out, want) == NULL ||
            strstr(out, "Content-Security-Policy: default-src 'none'") == NULL ||
            strstr(out, "Unauthorized") != NULL)
            fail_msg("%s on the redirect listener:\n%s", methods[i], out);
        free(out);
    }
    /* A Host that is not a plain host name, and a bad path: refused, not redirected. */
    char *out = plain_exchange(rport, "GET /x HTTP/1.1\r\nHost: evil.example/@x\r\n\r\n");
    assert_int_equal(strncmp(out, "HTTP/1.1 400 ", 13), 0);
    free(out);
    out = plain_exchange(rport, "GET /a/../b HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_int_equal(strncmp(out, "HTTP/1.1 400 ", 13), 0);
    free(out);
    /* The health route itself is not served in plain text. */
    out = plain_exchange(rport, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_null(strstr(out, "\"status\""));
    free(out);

    assert_int_equal(bw_srv_stop(srv), 0);
    bw_rm_rf(dir);
    free(dir);
}

/* With the TLS 1.2 opt-in: only ECDHE with AEAD suites; CBC and RSA key exchange offered alone
 * fail, and 1.1 still fails. */
static void test_tls12_opt_in(void **state)
{
    (void)state;
    char *dir = bw_tmpdir_create();
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/tls12.json", dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    assert_true(fputs("{\"tls\": {\"allow_tls12\": true}}", f) >= 0);
    assert_int_equal(fclose(f), 0);
    bw_srv_opts o = {.config_path = cfg};
    bw_srv *srv = bw_srv_start(&o);
    assert_non_null(srv);

    static const struct {
        const char *opts;
        bool ok;
    } cases[] = {
        {"-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256", true},
        {"-tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305", true},
        {"-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA", false},
        {"-tls1_2 -cipher ECDHE-ECDSA-AES256-SHA384", false},
        {"-tls1_2 -cipher AES128-GCM-SHA256", false},
        {"-tls1_1 -cipher DEFAULT@SECLEVEL=0", false},
        {"-tls1_3", true},
    };
    int nfail = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = s_client(srv, cases[i].opts);
        if (handshake_ok(out) != cases[i].ok)
            BW_CASE_FAIL(nfail, "%s: expected %s:\n%.500s", cases[i].opts,
                         cases[i].ok ? "success" : "failure", out);
        free(out);
    }
    size_t len;
    char *log = bw_srv_stderr(srv, &len);
    assert_non_null(strstr(log, "tls.allow_tls12 is on"));
    free(log);
    BW_CASES_DONE(nfail);
    assert_int_equal(bw_srv_stop(srv), 0);
    bw_rm_rf(dir);
    free(dir);
}

/* Mutual TLS: a CA made here signs one client certificate; another CA signs a second one. */
static void mtls_case(const char *mode)
{
    char *dir = bw_tmpdir_create();
    assert_non_null(dir);
    char *made = sh("cd %s && (for n in ca other; do openssl req -x509 -newkey ec -pkeyopt "
                    "ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.pem -subj /CN=$n-ca "
                    "-days 2 || exit 1; done && "
                    "for n in ca other; do openssl req -new -newkey ec -pkeyopt "
                    "ec_paramgen_curve:P-256 -nodes -keyout client-$n.key -out client-$n.csr "
                    "-subj /CN=client-of-$n && openssl x509 -req -in client-$n.csr -CA $n.pem "
                    "-CAkey $n.key -CAcreateserial -days 2 -out client-$n.pem || exit 1; done) "
                    ">/dev/null 2>&1 && echo made",
                    dir);
    assert_non_null(strstr(made, "made"));
    free(made);
    char cfg[4200], json[4600];
    snprintf(cfg, sizeof cfg, "%s/mtls.json", dir);
    snprintf(json, sizeof json,
             "{\"tls\": {\"client_auth\": \"%s\", \"client_ca\": \"%s/ca.pem\"}}", mode, dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    assert_true(fputs(json, f) >= 0);
    assert_int_equal(fclose(f), 0);
    char ccert[4200], ckey[4200];
    snprintf(ccert, sizeof ccert, "%s/client-ca.pem", dir);
    snprintf(ckey, sizeof ckey, "%s/client-ca.key", dir);
    bw_srv_opts o = {.config_path = cfg, .client_cert = ccert, .client_key = ckey};
    bw_srv *srv = bw_srv_start(&o);
    assert_non_null(srv);

#define CURL_MTLS                                                                                  \
    "timeout 10 curl -s -o /dev/null -w '%%{http_code}' --cacert %s/tls/cert.pem %s "              \
    "https://localhost:%u/healthz; echo \" exit=$?\""
    char with[1200], other[1200];
    snprintf(with, sizeof with, "--cert %s/client-ca.pem --key %s/client-ca.key", dir, dir);
    snprintf(other, sizeof other, "--cert %s/client-other.pem --key %s/client-other.key", dir, dir);
    char *ok = sh(CURL_MTLS, bw_srv_data_dir(srv), with, (unsigned)bw_srv_port(srv));
    char *none = sh(CURL_MTLS, bw_srv_data_dir(srv), "", (unsigned)bw_srv_port(srv));
    char *bad = sh(CURL_MTLS, bw_srv_data_dir(srv), other, (unsigned)bw_srv_port(srv));
    if (strncmp(ok, "200 exit=0", 10) != 0)
        fail_msg("%s: client with a certificate from the CA: %s", mode, ok);
    if (strcmp(mode, "required") == 0 ? strncmp(none, "200", 3) == 0
                                      : strncmp(none, "200 exit=0", 10) != 0)
        fail_msg("%s: client without a certificate: %s", mode, none);
    if (strncmp(bad, "200", 3) == 0)
        fail_msg("%s: client with a certificate from another CA got in: %s", mode, bad);
    size_t len;
    char *log = bw_srv_stderr(srv, &len);
    if (strstr(log, "\"client_cert\":\"/CN=client-of-ca\"") == NULL)
        fail_msg("%s: the verified subject is not in the request log", mode);
    free(log);
    free(ok);
    free(none);
    free(bad);
    assert_int_equal(bw_srv_stop(srv), 0);
    bw_rm_rf(dir);
    free(dir);
}

static void test_mtls_required(void **state)
{
    (void)state;
    mtls_case("required");
}

static void test_mtls_optional(void **state)
{
    (void)state;
    mtls_case("optional");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls13_aead_succeeds),
        cmocka_unit_test(test_old_protocols_refused),
        cmocka_unit_test(test_resumption),
        cmocka_unit_test(test_hsts_on_https_answers),
        cmocka_unit_test(test_no_openssl_in_process),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_reload_on_file_change),
        cmocka_unit_test(test_startup_refusals),
        cmocka_unit_test(test_redirect_listener),
        cmocka_unit_test(test_tls12_opt_in),
        cmocka_unit_test(test_mtls_required),
        cmocka_unit_test(test_mtls_optional),
    };
    return cmocka_run_group_tests(tests, bw_suite_setup, bw_suite_teardown);
}
