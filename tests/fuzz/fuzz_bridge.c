/* Fuzzes the TLS bridge's server side: the input is whatever a client sends, delivered over a
 * socketpair to an SSL created by the bridge from a context that has a certificate reload in
 * place, and driven through SSL_accept / SSL_read / SSL_shutdown exactly as CivetWeb does.
 * The harness asserts only that nothing crashes, leaks or reads out of bounds, and that
 * SSL_get_error always answers with an OpenSSL 1.1 code.
 *
 * The bridge objects are dlopen'ed from $BW_TLS_BRIDGE_DIR, or <directory of this binary>/tls
 * (where the CMake build puts them). The server certificate is wolfSSL's bundled ECC test
 * certificate, written to a temporary directory at start-up. */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wolfssl/options.h>
#define USE_CERT_BUFFERS_256
#include <wolfssl/certs_test.h>

#include "bulwark/tls_bridge.h"

/* Keeps one input within the socket buffer, so writing it never blocks. */
#define FUZZ_MAX_INPUT 65536
#define FILETYPE_ASN1 2

static struct {
    int (*init_ssl)(uint64_t, const void *);
    const void *(*server_method)(void);
    void *(*ctx_new)(const void *);
    int (*use_cert_file)(void *, const char *, int);
    int (*use_key_file)(void *, const char *, int);
    int (*check_key)(const void *);
    long (*callback_ctrl)(void *, int, void (*)(void));
    void (*set_alpn_select_cb)(void *,
                               int (*)(void *, const unsigned char **, unsigned char *,
                                       const unsigned char *, unsigned, void *),
                               void *);
    void *(*ssl_new)(void *);
    void (*ssl_free)(void *);
    int (*set_fd)(void *, int);
    int (*set_ex_data)(void *, int, void *);
    void *(*get_ex_data)(const void *, int);
    int (*accept)(void *);
    int (*read)(void *, void *, int);
    int (*write)(void *, const void *, int);
    int (*get_error)(const void *, int);
    int (*pending)(const void *);
    int (*shutdown)(void *);
    const char *(*get_version)(const void *);
    const void *(*current_cipher)(const void *);
    const char *(*cipher_name)(const void *);
    void *(*peer_cert)(const void *);
    const char *(*get_servername)(const void *, int);
    void *(*set_ssl_ctx)(void *, void *);
    void (*x509_free)(void *);
    unsigned long (*err_get)(void);
    char *(*err_string)(unsigned long, char *);
    void (*err_clear)(void);
    bw_tls_bridge_set_ctx_fn set_ctx;
} b;

static void *handed; /* what CivetWeb would hold */

static void die(const char *what)
{
    fprintf(stderr, "fuzz_bridge: %s\n", what);
    abort();
}

static void *need(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (p == NULL)
        die(name);
    return p;
}

#define RESOLVE(h, field, name) (*(void **)&b.field = need((h), (name)))

static void write_file(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        die("cannot write the test certificate");
}

static void *load_bridge(const char *dir, const char *file)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, file);
    void *h;

    if (n < 0 || (size_t)n >= sizeof(path))
        die("bridge path too long");
    h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (h == NULL)
        die(dlerror());
    return h;
}

/* CivetWeb's SNI callback re-selects the context it holds; the bridge maps it to the
 * replacement. */
static int sni_cb(void *ssl, int *ad, void *arg)
{
    (void)ad;
    (void)arg;
    (void)b.get_servername(ssl, 0);
    if (b.set_ssl_ctx(ssl, handed) == NULL)
        abort();
    return 0;
}

static int alpn_cb(void *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    for (unsigned i = 0; i < inlen;) {
        unsigned len = in[i];
        if (len == 0 || i + 1 + len > inlen)
            break;
        if (len == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = (unsigned char)len;
            return 0;
        }
        i += 1 + len;
    }
    return 3; /* NOACK */
}

static void *server_ctx(const char *crt, const char *key)
{
    void *ctx = b.ctx_new(b.server_method());
    if (ctx == NULL || b.use_cert_file(ctx, crt, FILETYPE_ASN1) != 1 ||
        b.use_key_file(ctx, key, FILETYPE_ASN1) != 1 || b.check_key(ctx) != 1)
        die("cannot build the server context");
    if (b.callback_ctrl(ctx, 53, (void (*)(void))sni_cb) != 1)
        die("cannot set the SNI callback");
    b.set_alpn_select_cb(ctx, alpn_cb, NULL);
    return ctx;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *env = getenv("BW_TLS_BRIDGE_DIR");
    char dir[PATH_MAX], tmp[] = "/tmp/bw_fuzz_bridge_XXXXXX", crt[PATH_MAX], key[PATH_MAX];
    void *hs, *hc, *replacement;
    (void)argc;
    (void)argv;

    signal(SIGPIPE, SIG_IGN);
    if (env != NULL && env[0] != '\0') {
        if (strlen(env) >= sizeof(dir))
            die("BW_TLS_BRIDGE_DIR too long");
        memcpy(dir, env, strlen(env) + 1);
    } else {
        ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 8);
        char *slash;
        if (n <= 0)
            die("cannot find this binary");
        dir[n] = '\0';
        slash = strrchr(dir, '/');
        if (slash == NULL)
            die("cannot find this binary's directory");
        memcpy(slash, "/tls", 5);
    }
    hc = load_bridge(dir, BW_TLS_BRIDGE_CRYPTO);
    hs = load_bridge(dir, BW_TLS_BRIDGE_SSL);
    RESOLVE(hs, init_ssl, "OPENSSL_init_ssl");
    RESOLVE(hs, server_method, "TLS_server_method");
    RESOLVE(hs, ctx_new, "SSL_CTX_new");
    RESOLVE(hs, use_cert_file, "SSL_CTX_use_certificate_file");
    RESOLVE(hs, use_key_file, "SSL_CTX_use_PrivateKey_file");
    RESOLVE(hs, check_key, "SSL_CTX_check_private_key");
    RESOLVE(hs, callback_ctrl, "SSL_CTX_callback_ctrl");
    RESOLVE(hs, set_alpn_select_cb, "SSL_CTX_set_alpn_select_cb");
    RESOLVE(hs, ssl_new, "SSL_new");
    RESOLVE(hs, ssl_free, "SSL_free");
    RESOLVE(hs, set_fd, "SSL_set_fd");
    RESOLVE(hs, set_ex_data, "SSL_set_ex_data");
    RESOLVE(hs, get_ex_data, "SSL_get_ex_data");
    RESOLVE(hs, accept, "SSL_accept");
    RESOLVE(hs, read, "SSL_read");
    RESOLVE(hs, write, "SSL_write");
    RESOLVE(hs, get_error, "SSL_get_error");
    RESOLVE(hs, pending, "SSL_pending");
    RESOLVE(hs, shutdown, "SSL_shutdown");
    RESOLVE(hs, get_version, "SSL_get_version");
    RESOLVE(hs, current_cipher, "SSL_get_current_cipher");
    RESOLVE(hs, cipher_name, "SSL_CIPHER_get_name");
    RESOLVE(hs, peer_cert, "SSL_get_peer_certificate");
    RESOLVE(hs, get_servername, "SSL_get_servername");
    RESOLVE(hs, set_ssl_ctx, "SSL_set_SSL_CTX");
    RESOLVE(hs, set_ctx, BW_TLS_BRIDGE_SET_CTX);
    RESOLVE(hc, x509_free, "X509_free");
    RESOLVE(hc, err_get, "ERR_get_error");
    RESOLVE(hc, err_string, "ERR_error_string");
    RESOLVE(hc, err_clear, "ERR_clear_error");
    if (b.init_ssl(0, NULL) != 1)
        die("OPENSSL_init_ssl failed");

    if (mkdtemp(tmp) == NULL)
        die("mkdtemp");
    if (snprintf(crt, sizeof(crt), "%s/cert.der", tmp) >= (int)sizeof(crt) ||
        snprintf(key, sizeof(key), "%s/key.der", tmp) >= (int)sizeof(key))
        die("path too long");
    write_file(crt, serv_ecc_der_256, sizeof(serv_ecc_der_256));
    write_file(key, ecc_key_der_256, sizeof(ecc_key_der_256));
    handed = server_ctx(crt, key);
    replacement = server_ctx(crt, key);
    /* Every connection goes through the reload path; the bridge keeps the reference. */
    if (b.set_ctx(handed, replacement) != 0)
        die("set_ctx failed");
    (void)unlink(crt);
    (void)unlink(key);
    (void)rmdir(tmp);
    return 0;
}

static void check_error(int e)
{
    /* Only OpenSSL 1.1 codes: NONE, SSL, WANT_READ, WANT_WRITE, WANT_X509_LOOKUP, SYSCALL,
     * ZERO_RETURN, WANT_CONNECT, WANT_ACCEPT. */
    if (e < 0 || e > 8)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fds[2];
    void *ssl;
    int r = -1, marker = 0;

    if (size > FUZZ_MAX_INPUT)
        size = FUZZ_MAX_INPUT;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
        return 0;
    /* The client's bytes, then end of stream: the server sees exactly this input. */
    if ((size > 0 && write(fds[1], data, size) != (ssize_t)size) || shutdown(fds[1], SHUT_WR)) {
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    if (fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0)
        abort();
    ssl = b.ssl_new(handed);
    if (ssl == NULL || b.set_fd(ssl, fds[0]) != 1 || b.set_ex_data(ssl, 0, &marker) != 1)
        abort();

    for (int i = 0; i < 16; i++) {
        int e;
        r = b.accept(ssl);
        if (r == 1)
            break;
        e = b.get_error(ssl, r);
        check_error(e);
        if (e != 2 && e != 3)
            break;
    }
    if (b.get_ex_data(ssl, 0) != &marker)
        abort();
    if (r == 1) {
        char buf[4096];
        void *cert = b.peer_cert(ssl);
        b.x509_free(cert);
        (void)b.get_version(ssl);
        (void)b.cipher_name(b.current_cipher(ssl));
        for (int i = 0; i < 16; i++) {
            int n = b.read(ssl, buf, (int)sizeof(buf));
            if (n <= 0) {
                check_error(b.get_error(ssl, n));
                break;
            }
            if (n > (int)sizeof(buf) || b.pending(ssl) < 0)
                abort();
        }
        (void)b.write(ssl, "HTTP/1.1 400 Bad Request\r\n\r\n", 28);
    }
    check_error(b.get_error(ssl, r));
    (void)b.shutdown(ssl);
    {
        unsigned long e = b.err_get();
        if (e != 0 && b.err_string(e, NULL)[0] == '\0')
            abort();
    }
    b.err_clear();
    b.ssl_free(ssl);
    close(fds[0]);
    close(fds[1]);
    return 0;
}
