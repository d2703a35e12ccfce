/* The comparison server: Debian's CivetWeb 1.15 on Debian's OpenSSL 3, with
 * the same CivetWeb options Bulwark's server sets, one handler answering
 * GET /healthz with the body the sample service sends. No framework code.
 *
 * usage: bare_server PORT PEM THREADS STANDIN_DIR
 *   PEM          certificate and private key in one file (CivetWeb's format)
 *   STANDIN_DIR  directory holding libbench-ssl.so and libbench-crypto.so
 * Prints "ready port=N ..." on stdout once listening; stops on SIGINT/SIGTERM. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <civetweb.h>

static const char body[] = "{\"status\":\"ok\"}";

/* Head in one write, body in another: the same I/O pattern as Bulwark's
 * response writer. (CivetWeb's mg_send_http_ok issues one TLS record per
 * header line, which would measure that helper rather than the server.) */
static int healthz(struct mg_connection *conn, void *cbdata)
{
    const char *connection = mg_get_header(conn, "Connection");
    int close = connection != NULL && strcasecmp(connection, "close") == 0;
    char head[256], date[64];
    time_t now = time(NULL);
    struct tm tm;
    int n;

    (void)cbdata;
    if (gmtime_r(&now, &tm) == NULL ||
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
        return 500;
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: %s\r\n\r\n",
                 date, sizeof(body) - 1, close ? "close" : "keep-alive");
    if (n < 0 || (size_t)n >= sizeof(head))
        return 500;
    if (mg_write(conn, head, (size_t)n) != n ||
        mg_write(conn, body, sizeof(body) - 1) != (int)(sizeof(body) - 1))
        return 500;
    return 200;
}

/* Load a stand-in by absolute path, globally, so CivetWeb's dlopen of the
 * unversioned name is answered by SONAME. */
static void *load_standin(const char *dir, const char *file)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, file);
    void *h;

    if (n < 0 || (size_t)n >= sizeof(path) || path[0] != '/') {
        fprintf(stderr, "bare_server: stand-in path must be absolute and short: %s\n", dir);
        return NULL;
    }
    h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (h == NULL)
        fprintf(stderr, "bare_server: %s\n", dlerror());
    return h;
}

/* Resolve NAME the way CivetWeb will (dlsym on dlopen(SONAME)) and print the
 * file that provides it: proof that the TLS stack is OpenSSL's. */
static int report_provider(const char *soname, const char *name, char *out, size_t outlen)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
    void *sym;
    Dl_info info;
    int n;

    if (h == NULL)
        return -1;
    sym = dlsym(h, name);
    if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL) {
        dlclose(h);
        return -1;
    }
    n = snprintf(out, outlen, "%s", info.dli_fname);
    dlclose(h);
    return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

int main(int argc, char **argv)
{
    char ports[64], ssl_from[PATH_MAX], crypto_from[PATH_MAX];
    const char *(*version)(int) = NULL;
    struct mg_context *ctx;
    struct mg_callbacks cb;
    sigset_t set;
    void *hssl, *hcrypto, *vsym;
    int sig, n;

    if (argc != 5) {
        fprintf(stderr, "usage: %s PORT PEM THREADS STANDIN_DIR\n", argv[0]);
        return 2;
    }
    n = snprintf(ports, sizeof(ports), "127.0.0.1:%ss", argv[1]);
    if (n < 0 || (size_t)n >= sizeof(ports)) {
        fprintf(stderr, "bare_server: bad port\n");
        return 2;
    }
    /* Crypto first: the libssl stand-in's dependency pulls in libcrypto.so.3,
     * and the libcrypto.so stand-in must already own that SONAME. */
    hcrypto = load_standin(argv[4], "libbench-crypto.so");
    hssl = hcrypto != NULL ? load_standin(argv[4], "libbench-ssl.so") : NULL;
    if (hssl == NULL)
        return 1;
    if (report_provider("libssl.so", "SSL_new", ssl_from, sizeof(ssl_from)) != 0 ||
        report_provider("libcrypto.so", "ERR_get_error", crypto_from, sizeof(crypto_from)) != 0) {
        fprintf(stderr, "bare_server: the stand-ins do not resolve OpenSSL's names\n");
        return 1;
    }
    vsym = dlsym(hcrypto, "OpenSSL_version");
    if (vsym != NULL)
        memcpy(&version, &vsym, sizeof(version));

    /* Signals are taken by sigwait below; workers inherit the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);

    if ((mg_init_library(MG_FEATURES_TLS) & MG_FEATURES_TLS) == 0) {
        fprintf(stderr, "bare_server: CivetWeb could not load TLS\n");
        return 1;
    }
    /* clang-format off */
    const char *options[] = {
        "listening_ports", ports,
        "num_threads", argv[3],
        "connection_queue", "64",
        "listen_backlog", "128",
        "request_timeout_ms", "10000",
        "keep_alive_timeout_ms", "5000",
        "enable_keep_alive", "yes",
        "max_request_size", "16384",
        "decode_url", "no",
        "enable_directory_listing", "no",
        "tcp_nodelay", "1",
        "ssl_certificate", argv[2],
        "ssl_protocol_version", "5", /* TLS 1.3 only, as Bulwark's default */
        NULL, NULL,
    };
    /* clang-format on */
    memset(&cb, 0, sizeof(cb));
    ctx = mg_start(&cb, NULL, options);
    if (ctx == NULL) {
        fprintf(stderr, "bare_server: mg_start failed\n");
        mg_exit_library();
        return 1;
    }
    mg_set_request_handler(ctx, "/healthz$", healthz, NULL);
    printf("ready port=%s tls=%s ssl_new_from=%s err_from=%s\n", argv[1],
           version != NULL ? version(0) : "?", ssl_from, crypto_from);
    fflush(stdout);

    while (sigwait(&set, &sig) != 0)
        ;
    mg_stop(ctx);
    mg_exit_library();
    dlclose(hssl);
    dlclose(hcrypto);
    return 0;
}
