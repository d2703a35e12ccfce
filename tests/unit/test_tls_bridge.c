/* The TLS bridge, driven the way CivetWeb drives it: both objects dlopen'ed by absolute path,
 * every call through a dlsym'd pointer. Covers the exported symbol set and SONAMEs, a TLS 1.3
 * handshake over non-blocking sockets, records larger than one read, SSL_pending, shutdown
 * return values, SSL_get_error after a clean and an abrupt close, the error queue, certificate
 * inspection, context configuration, NULL arguments everywhere, the reload hook and the
 * admission hook.
 *
 * The bridge directory comes from $BW_TLS_BRIDGE_DIR, or <directory of this test>/tls (where
 * the build puts it). Certificates (a CA and two leaves) are generated with wolfCrypt. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* wolfCrypt only (certificate generation); never <wolfssl/ssl.h>, whose OpenSSL macros would
 * rename the names this test resolves. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/random.h>

#include "bulwark/tls_bridge.h"

/* OpenSSL 1.1 constants, as CivetWeb defines them. */
enum {
    ERR_NONE = 0,
    ERR_SSL = 1,
    ERR_WANT_READ = 2,
    ERR_WANT_WRITE = 3,
    ERR_SYSCALL = 5,
    ERR_ZERO_RETURN = 6,
    FILETYPE_PEM = 1,
    VERIFY_PEER = 1,
    CTRL_OPTIONS = 32,
    CTRL_SESS_CACHE_SIZE = 42,
    CTRL_SESS_CACHE_MODE = 44,
    CTRL_SERVERNAME_CB = 53,
    CTRL_TLSEXT_HOSTNAME = 55,
    CTRL_CLEAR_OPTIONS = 77,
    CTRL_ECDH_AUTO = 94,
};
#define OP_ALL 0x80000BFFul
#define OP_NO_TLSv1_3 0x20000000ul
#define OP_NO_TLSv1 0x04000000ul
#define OP_NO_COMPRESSION 0x00020000ul

typedef int (*alpn_cb)(void *, const unsigned char **, unsigned char *, const unsigned char *,
                       unsigned, void *);
typedef int (*npn_cb)(void *, const unsigned char **, unsigned *, void *);

/* Every bridge entry point, with OpenSSL's shapes (objects are opaque). */
static struct {
    int (*init_ssl)(uint64_t, const void *);
    const void *(*server_method)(void);
    const void *(*client_method)(void);
    void *(*ctx_new)(const void *);
    void (*ctx_free)(void *);
    int (*use_cert_file)(void *, const char *, int);
    int (*use_key_file)(void *, const char *, int);
    int (*use_chain_file)(void *, const char *);
    int (*check_key)(const void *);
    void (*set_passwd_cb)(void *, int (*)(char *, int, int, void *));
    void (*set_verify)(void *, int, int (*)(int, void *));
    void (*set_verify_depth)(void *, int);
    int (*load_verify)(void *, const char *, const char *);
    int (*default_verify_paths)(void *);
    int (*set_sid_ctx)(void *, const unsigned char *, unsigned);
    long (*ctx_ctrl)(void *, int, long, void *);
    int (*set_cipher_list)(void *, const char *);
    unsigned long (*set_options)(void *, unsigned long);
    void (*set_info_cb)(void *, void (*)(const void *, int, int));
    long (*ctx_callback_ctrl)(void *, int, void (*)(void));
    int (*set_alpn_protos)(void *, const unsigned char *, unsigned);
    void (*set_alpn_select_cb)(void *, alpn_cb, void *);
    void (*set_npn_cb)(void *, npn_cb, void *);
    long (*set_timeout)(void *, long);
    void *(*ssl_new)(void *);
    void (*ssl_free)(void *);
    int (*set_fd)(void *, int);
    int (*accept)(void *);
    int (*connect)(void *);
    int (*read)(void *, void *, int);
    int (*write)(void *, const void *, int);
    int (*get_error)(const void *, int);
    int (*pending)(const void *);
    int (*shutdown)(void *);
    const char *(*get_version)(const void *);
    const void *(*current_cipher)(const void *);
    const char *(*cipher_name)(const void *);
    void *(*peer_cert)(const void *);
    int (*set_ex_data)(void *, int, void *);
    void *(*get_ex_data)(const void *, int);
    const char *(*get_servername)(const void *, int);
    void *(*set_ssl_ctx)(void *, void *);
    long (*ssl_ctrl)(void *, int, long, void *);
    unsigned long (*err_get)(void);
    void (*err_clear)(void);
    char *(*err_string)(unsigned long, char *);
    void (*conf_unload)(int);
    void (*x509_free)(void *);
    void *(*subject_name)(const void *);
    void *(*issuer_name)(const void *);
    char *(*name_oneline)(const void *, char *, int);
    void *(*serial)(void *);
    void *(*asn1_to_bn)(const void *, void *);
    char *(*bn2hex)(const void *);
    void (*bn_free)(void *);
    void (*crypto_free)(void *, const char *, int);
    const void *(*digest_by_name)(const char *);
    int (*digest)(const void *, size_t, unsigned char *, unsigned *, const void *, void *);
    int (*i2d)(void *, unsigned char **);
    bw_tls_bridge_set_ctx_fn set_ctx;
    bw_tls_bridge_provider_fn provider;
    bw_tls_bridge_set_admission_fn set_admission;
} b;

static const char *const ssl_names[] = {
    "OPENSSL_init_ssl",
    "SSL_CIPHER_get_name",
    "SSL_CTX_callback_ctrl",
    "SSL_CTX_check_private_key",
    "SSL_CTX_ctrl",
    "SSL_CTX_free",
    "SSL_CTX_load_verify_locations",
    "SSL_CTX_new",
    "SSL_CTX_set_alpn_protos",
    "SSL_CTX_set_alpn_select_cb",
    "SSL_CTX_set_cipher_list",
    "SSL_CTX_set_default_passwd_cb",
    "SSL_CTX_set_default_verify_paths",
    "SSL_CTX_set_info_callback",
    "SSL_CTX_set_next_protos_advertised_cb",
    "SSL_CTX_set_options",
    "SSL_CTX_set_session_id_context",
    "SSL_CTX_set_timeout",
    "SSL_CTX_set_verify",
    "SSL_CTX_set_verify_depth",
    "SSL_CTX_use_PrivateKey_file",
    "SSL_CTX_use_certificate_chain_file",
    "SSL_CTX_use_certificate_file",
    "SSL_accept",
    "SSL_connect",
    "SSL_ctrl",
    "SSL_free",
    "SSL_get_current_cipher",
    "SSL_get_error",
    "SSL_get_ex_data",
    "SSL_get_peer_certificate",
    "SSL_get_servername",
    "SSL_get_version",
    "SSL_new",
    "SSL_pending",
    "SSL_read",
    "SSL_set_SSL_CTX",
    "SSL_set_ex_data",
    "SSL_set_fd",
    "SSL_shutdown",
    "SSL_write",
    "TLS_client_method",
    "TLS_server_method",
    BW_TLS_BRIDGE_SET_CTX,
    BW_TLS_BRIDGE_PROVIDER,
    BW_TLS_BRIDGE_SET_ADMISSION,
};
static const char *const crypto_names[] = {
    "ASN1_INTEGER_to_BN",
    "BN_bn2hex",
    "BN_free",
    "CONF_modules_unload",
    "CRYPTO_free",
    "ERR_clear_error",
    "ERR_error_string",
    "ERR_get_error",
    "EVP_Digest",
    "EVP_get_digestbyname",
    "X509_NAME_oneline",
    "X509_free",
    "X509_get_issuer_name",
    "X509_get_serialNumber",
    "X509_get_subject_name",
    "i2d_X509",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static char bridge_dir[PATH_MAX];
static char ssl_path[PATH_MAX], crypto_path[PATH_MAX];
static void *h_ssl, *h_crypto;

/* Generated material. */
static char tmpdir[] = "/tmp/bw_bridge_XXXXXX";
static char ca_pem[PATH_MAX], leaf1_crt[PATH_MAX], leaf1_key[PATH_MAX], leaf2_crt[PATH_MAX],
    leaf2_key[PATH_MAX];
static unsigned char leaf1_der[2048];
static int leaf1_der_len;
static const unsigned char serial1[] = {0x1A, 0x2B, 0x3C, 0x4D};
static const unsigned char serial2[] = {0x5E, 0x6F, 0x70, 0x81};
#define SERIAL1_HEX "1A2B3C4D"
#define SERIAL2_HEX "5E6F7081"

static void *sym(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (p == NULL)
        fail_msg("bridge does not export %s", name);
    return p;
}

#define RESOLVE(h, field, name) (*(void **)&b.field = sym((h), (name)))

static void path_join(char *out, size_t cap, const char *dir, const char *file)
{
    int n = snprintf(out, cap, "%s/%s", dir, file);
    assert_true(n > 0 && (size_t)n < cap);
}

static void find_bridge_dir(void)
{
    const char *env = getenv("BW_TLS_BRIDGE_DIR");
    char exe[PATH_MAX];
    ssize_t n;
    char *slash;

    if (env != NULL && env[0] != '\0') {
        assert_true(strlen(env) < sizeof(bridge_dir));
        memcpy(bridge_dir, env, strlen(env) + 1);
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    assert_non_null(slash);
    *slash = '\0';
    path_join(bridge_dir, sizeof(bridge_dir), exe, "tls");
}

static void write_file(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_pem(const char *path, const unsigned char *der, int der_len, int type)
{
    unsigned char pem[4096];
    int n = wc_DerToPem(der, (word32)der_len, pem, sizeof(pem), type);
    assert_true(n > 0);
    write_file(path, pem, (size_t)n);
}

/* Builds a certificate for `key` named `cn`, signed by `signer` (issuer = issuer_der) or
 * self-signed when issuer_der is NULL. Returns the DER length. */
static int make_cert(WC_RNG *rng, ecc_key *key, ecc_key *signer, const unsigned char *issuer_der,
                     int issuer_len, const char *cn, const unsigned char *serial, size_t serial_len,
                     int is_ca, unsigned char *der, size_t cap)
{
    Cert c;
    int body;
    int total;

    assert_int_equal(wc_InitCert(&c), 0);
    snprintf(c.subject.country, sizeof(c.subject.country), "NL");
    snprintf(c.subject.org, sizeof(c.subject.org), "Bulwark Test");
    snprintf(c.subject.commonName, sizeof(c.subject.commonName), "%s", cn);
    c.isCA = is_ca;
    c.sigType = CTC_SHA256wECDSA;
    c.daysValid = 2;
    memcpy(c.serial, serial, serial_len);
    c.serialSz = (int)serial_len;
    if (issuer_der != NULL)
        assert_int_equal(wc_SetIssuerBuffer(&c, issuer_der, issuer_len), 0);
    body = wc_MakeCert_ex(&c, der, (word32)cap, ECC_TYPE, key, rng);
    assert_true(body > 0);
    total = wc_SignCert_ex(c.bodySz, c.sigType, der, (word32)cap, ECC_TYPE, signer, rng);
    assert_true(total > 0);
    return total;
}

static void write_key(const char *path, ecc_key *key)
{
    unsigned char der[512];
    int n = wc_EccKeyToDer(key, der, sizeof(der));
    assert_true(n > 0);
    write_pem(path, der, n, ECC_PRIVATEKEY_TYPE);
}

static void generate_certs(void)
{
    WC_RNG rng;
    ecc_key ca, k1, k2;
    unsigned char ca_der[2048], der2[2048];
    static const unsigned char ca_serial[] = {0x42};
    int ca_len, len2;

    assert_non_null(mkdtemp(tmpdir));
    path_join(ca_pem, sizeof(ca_pem), tmpdir, "ca.pem");
    path_join(leaf1_crt, sizeof(leaf1_crt), tmpdir, "leaf1.pem");
    path_join(leaf1_key, sizeof(leaf1_key), tmpdir, "leaf1.key");
    path_join(leaf2_crt, sizeof(leaf2_crt), tmpdir, "leaf2.pem");
    path_join(leaf2_key, sizeof(leaf2_key), tmpdir, "leaf2.key");

    assert_int_equal(wc_InitRng(&rng), 0);
    assert_int_equal(wc_ecc_init(&ca), 0);
    assert_int_equal(wc_ecc_init(&k1), 0);
    assert_int_equal(wc_ecc_init(&k2), 0);
    assert_int_equal(wc_ecc_make_key(&rng, 32, &ca), 0);
    assert_int_equal(wc_ecc_make_key(&rng, 32, &k1), 0);
    assert_int_equal(wc_ecc_make_key(&rng, 32, &k2), 0);

    ca_len = make_cert(&rng, &ca, &ca, NULL, 0, "Bulwark Test CA", ca_serial, sizeof(ca_serial), 1,
                       ca_der, sizeof(ca_der));
    leaf1_der_len = make_cert(&rng, &k1, &ca, ca_der, ca_len, "leaf-one", serial1, sizeof(serial1),
                              0, leaf1_der, sizeof(leaf1_der));
    len2 = make_cert(&rng, &k2, &ca, ca_der, ca_len, "leaf-two", serial2, sizeof(serial2), 0, der2,
                     sizeof(der2));

    write_pem(ca_pem, ca_der, ca_len, CERT_TYPE);
    write_pem(leaf1_crt, leaf1_der, leaf1_der_len, CERT_TYPE);
    write_pem(leaf2_crt, der2, len2, CERT_TYPE);
    write_key(leaf1_key, &k1);
    write_key(leaf2_key, &k2);

    wc_ecc_free(&ca);
    wc_ecc_free(&k1);
    wc_ecc_free(&k2);
    wc_FreeRng(&rng);
}

static int group_setup(void **state)
{
    (void)state;
    /* A write to a closed peer must fail with EPIPE, not kill the test (CivetWeb ignores
     * SIGPIPE the same way). */
    signal(SIGPIPE, SIG_IGN);
    find_bridge_dir();
    path_join(ssl_path, sizeof(ssl_path), bridge_dir, BW_TLS_BRIDGE_SSL);
    path_join(crypto_path, sizeof(crypto_path), bridge_dir, BW_TLS_BRIDGE_CRYPTO);
    h_crypto = dlopen(crypto_path, RTLD_NOW | RTLD_GLOBAL);
    if (h_crypto == NULL)
        fail_msg("dlopen %s: %s", crypto_path, dlerror());
    h_ssl = dlopen(ssl_path, RTLD_NOW | RTLD_GLOBAL);
    if (h_ssl == NULL)
        fail_msg("dlopen %s: %s", ssl_path, dlerror());

    RESOLVE(h_ssl, init_ssl, "OPENSSL_init_ssl");
    RESOLVE(h_ssl, server_method, "TLS_server_method");
    RESOLVE(h_ssl, client_method, "TLS_client_method");
    RESOLVE(h_ssl, ctx_new, "SSL_CTX_new");
    RESOLVE(h_ssl, ctx_free, "SSL_CTX_free");
    RESOLVE(h_ssl, use_cert_file, "SSL_CTX_use_certificate_file");
    RESOLVE(h_ssl, use_key_file, "SSL_CTX_use_PrivateKey_file");
    RESOLVE(h_ssl, use_chain_file, "SSL_CTX_use_certificate_chain_file");
    RESOLVE(h_ssl, check_key, "SSL_CTX_check_private_key");
    RESOLVE(h_ssl, set_passwd_cb, "SSL_CTX_set_default_passwd_cb");
    RESOLVE(h_ssl, set_verify, "SSL_CTX_set_verify");
    RESOLVE(h_ssl, set_verify_depth, "SSL_CTX_set_verify_depth");
    RESOLVE(h_ssl, load_verify, "SSL_CTX_load_verify_locations");
    RESOLVE(h_ssl, default_verify_paths, "SSL_CTX_set_default_verify_paths");
    RESOLVE(h_ssl, set_sid_ctx, "SSL_CTX_set_session_id_context");
    RESOLVE(h_ssl, ctx_ctrl, "SSL_CTX_ctrl");
    RESOLVE(h_ssl, set_cipher_list, "SSL_CTX_set_cipher_list");
    RESOLVE(h_ssl, set_options, "SSL_CTX_set_options");
    RESOLVE(h_ssl, set_info_cb, "SSL_CTX_set_info_callback");
    RESOLVE(h_ssl, ctx_callback_ctrl, "SSL_CTX_callback_ctrl");
    RESOLVE(h_ssl, set_alpn_protos, "SSL_CTX_set_alpn_protos");
    RESOLVE(h_ssl, set_alpn_select_cb, "SSL_CTX_set_alpn_select_cb");
    RESOLVE(h_ssl, set_npn_cb, "SSL_CTX_set_next_protos_advertised_cb");
    RESOLVE(h_ssl, set_timeout, "SSL_CTX_set_timeout");
    RESOLVE(h_ssl, ssl_new, "SSL_new");
    RESOLVE(h_ssl, ssl_free, "SSL_free");
    RESOLVE(h_ssl, set_fd, "SSL_set_fd");
    RESOLVE(h_ssl, accept, "SSL_accept");
    RESOLVE(h_ssl, connect, "SSL_connect");
    RESOLVE(h_ssl, read, "SSL_read");
    RESOLVE(h_ssl, write, "SSL_write");
    RESOLVE(h_ssl, get_error, "SSL_get_error");
    RESOLVE(h_ssl, pending, "SSL_pending");
    RESOLVE(h_ssl, shutdown, "SSL_shutdown");
    RESOLVE(h_ssl, get_version, "SSL_get_version");
    RESOLVE(h_ssl, current_cipher, "SSL_get_current_cipher");
    RESOLVE(h_ssl, cipher_name, "SSL_CIPHER_get_name");
    RESOLVE(h_ssl, peer_cert, "SSL_get_peer_certificate");
    RESOLVE(h_ssl, set_ex_data, "SSL_set_ex_data");
    RESOLVE(h_ssl, get_ex_data, "SSL_get_ex_data");
    RESOLVE(h_ssl, get_servername, "SSL_get_servername");
    RESOLVE(h_ssl, set_ssl_ctx, "SSL_set_SSL_CTX");
    RESOLVE(h_ssl, ssl_ctrl, "SSL_ctrl");
    RESOLVE(h_ssl, set_ctx, BW_TLS_BRIDGE_SET_CTX);
    RESOLVE(h_ssl, provider, BW_TLS_BRIDGE_PROVIDER);
    RESOLVE(h_ssl, set_admission, BW_TLS_BRIDGE_SET_ADMISSION);
    RESOLVE(h_crypto, err_get, "ERR_get_error");
    RESOLVE(h_crypto, err_clear, "ERR_clear_error");
    RESOLVE(h_crypto, err_string, "ERR_error_string");
    RESOLVE(h_crypto, conf_unload, "CONF_modules_unload");
    RESOLVE(h_crypto, x509_free, "X509_free");
    RESOLVE(h_crypto, subject_name, "X509_get_subject_name");
    RESOLVE(h_crypto, issuer_name, "X509_get_issuer_name");
    RESOLVE(h_crypto, name_oneline, "X509_NAME_oneline");
    RESOLVE(h_crypto, serial, "X509_get_serialNumber");
    RESOLVE(h_crypto, asn1_to_bn, "ASN1_INTEGER_to_BN");
    RESOLVE(h_crypto, bn2hex, "BN_bn2hex");
    RESOLVE(h_crypto, bn_free, "BN_free");
    RESOLVE(h_crypto, crypto_free, "CRYPTO_free");
    RESOLVE(h_crypto, digest_by_name, "EVP_get_digestbyname");
    RESOLVE(h_crypto, digest, "EVP_Digest");
    RESOLVE(h_crypto, i2d, "i2d_X509");

    /* What CivetWeb does first. */
    assert_int_equal(b.init_ssl(0, NULL), 1);
    assert_int_equal(b.init_ssl(0x00200000 | 0x2, NULL), 1);
    generate_certs();
    return 0;
}

static int group_teardown(void **state)
{
    const char *files[] = {ca_pem, leaf1_crt, leaf1_key, leaf2_crt, leaf2_key};
    (void)state;
    for (size_t i = 0; i < COUNT(files); i++)
        (void)unlink(files[i]);
    (void)rmdir(tmpdir);
    b.conf_unload(1);
    return 0;
}

/* ---- helpers: contexts and connections ---- */

static void *server_ctx(const char *crt, const char *key)
{
    void *ctx = b.ctx_new(b.server_method());
    assert_non_null(ctx);
    assert_int_equal(b.use_cert_file(ctx, crt, FILETYPE_PEM), 1);
    assert_int_equal(b.use_key_file(ctx, key, FILETYPE_PEM), 1);
    assert_int_equal(b.check_key(ctx), 1);
    return ctx;
}

static void *client_ctx(void)
{
    void *ctx = b.ctx_new(b.client_method());
    assert_non_null(ctx);
    assert_int_equal(b.load_verify(ctx, ca_pem, NULL), 1);
    b.set_verify(ctx, VERIFY_PEER, NULL);
    b.set_verify_depth(ctx, 4);
    return ctx;
}

struct conn {
    void *srv, *cli;
    int fd_srv, fd_cli;
};

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static void conn_open(struct conn *c, void *sctx, void *cctx)
{
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    set_nonblock(fds[0]);
    set_nonblock(fds[1]);
    c->fd_srv = fds[0];
    c->fd_cli = fds[1];
    c->srv = b.ssl_new(sctx);
    c->cli = b.ssl_new(cctx);
    assert_non_null(c->srv);
    assert_non_null(c->cli);
    assert_int_equal(b.set_fd(c->srv, c->fd_srv), 1);
    assert_int_equal(b.set_fd(c->cli, c->fd_cli), 1);
}

static void conn_close(struct conn *c)
{
    if (c->srv != NULL)
        b.ssl_free(c->srv);
    if (c->cli != NULL)
        b.ssl_free(c->cli);
    if (c->fd_srv >= 0)
        (void)close(c->fd_srv);
    if (c->fd_cli >= 0)
        (void)close(c->fd_cli);
    memset(c, 0, sizeof(*c));
    c->fd_srv = c->fd_cli = -1;
}

/* Drives both ends the way CivetWeb's sslize loop does: retry while SSL_get_error says
 * WANT_READ / WANT_WRITE. Returns how many retries were needed. */
static int handshake(struct conn *c)
{
    int cdone = 0, sdone = 0, wants = 0;

    for (int i = 0; i < 200 && !(cdone && sdone); i++) {
        if (!cdone) {
            int r = b.connect(c->cli);
            if (r == 1) {
                cdone = 1;
            } else {
                int e = b.get_error(c->cli, r);
                assert_int_equal(r, -1);
                assert_true(e == ERR_WANT_READ || e == ERR_WANT_WRITE);
                wants++;
            }
        }
        if (!sdone) {
            int r = b.accept(c->srv);
            if (r == 1) {
                sdone = 1;
            } else {
                int e = b.get_error(c->srv, r);
                assert_int_equal(r, -1);
                assert_true(e == ERR_WANT_READ || e == ERR_WANT_WRITE);
                wants++;
            }
        }
    }
    assert_true(cdone && sdone);
    return wants;
}

/* The serial of the certificate the client received, as upper-case hex. */
static void peer_serial(void *cli, char *out, size_t cap)
{
    void *cert = b.peer_cert(cli);
    void *bn;
    char *hex;

    assert_non_null(cert);
    bn = b.asn1_to_bn(b.serial(cert), NULL);
    assert_non_null(bn);
    hex = b.bn2hex(bn);
    assert_non_null(hex);
    assert_true(strlen(hex) < cap);
    memcpy(out, hex, strlen(hex) + 1);
    b.crypto_free(hex, __FILE__, __LINE__);
    b.bn_free(bn);
    b.x509_free(cert);
}

/* Sends `len` bytes from one end to the other with both non-blocking; returns the number of
 * WANT_WRITE retries the writer saw. */
static int pump(void *from, void *to, const unsigned char *data, int len, int chunk)
{
    unsigned char *got = malloc((size_t)len);
    int written = 0, received = 0, want_write = 0;

    assert_non_null(got);
    for (int i = 0; i < 100000 && (written < len || received < len); i++) {
        if (written < len) {
            int r = b.write(from, data, len);
            if (r > 0) {
                assert_int_equal(r, len);
                written = r;
            } else {
                int e = b.get_error(from, r);
                assert_true(e == ERR_WANT_WRITE || e == ERR_WANT_READ);
                want_write += e == ERR_WANT_WRITE;
            }
        }
        int r = b.read(to, got + received, chunk < len - received ? chunk : len - received);
        if (r > 0) {
            assert_true(r <= chunk);
            received += r;
        } else {
            assert_int_equal(b.get_error(to, r), ERR_WANT_READ);
        }
    }
    assert_int_equal(written, len);
    assert_int_equal(received, len);
    assert_memory_equal(got, data, (size_t)len);
    free(got);
    return want_write;
}

/* ---- tests ---- */

static void read_nm(const char *path, char names[][64], size_t cap, size_t *n)
{
    char cmd[PATH_MAX + 64];
    char line[512];
    FILE *p;
    int k = snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'", path);

    assert_true(k > 0 && (size_t)k < sizeof(cmd));
    p = popen(cmd, "r");
    assert_non_null(p);
    *n = 0;
    while (fgets(line, sizeof(line), p) != NULL) {
        char addr[64], type[8], name[128];
        if (sscanf(line, "%63s %7s %127s", addr, type, name) != 3)
            continue;
        assert_true(*n < cap);
        assert_true(strlen(name) < 64);
        memcpy(names[*n], name, strlen(name) + 1);
        (*n)++;
    }
    assert_int_equal(pclose(p), 0);
}

static void check_exports(const char *path, void *h, const char *const *want, size_t nwant)
{
    static char names[256][64];
    size_t n;
    char real_want[PATH_MAX], real_got[PATH_MAX];

    assert_non_null(realpath(path, real_want));
    for (size_t i = 0; i < nwant; i++) {
        Dl_info info;
        void *p = sym(h, want[i]);
        assert_true(dladdr(p, &info) != 0);
        assert_non_null(realpath(info.dli_fname, real_got));
        assert_string_equal(real_got, real_want);
    }
    read_nm(path, names, 256, &n);
    for (size_t i = 0; i < n; i++) {
        int known = 0;
        for (size_t j = 0; j < nwant && !known; j++)
            known = strcmp(names[i], want[j]) == 0;
        if (!known)
            fail_msg("%s exports unexpected symbol %s", path, names[i]);
    }
    assert_int_equal(n, nwant);
}

static void test_exports_exact(void **state)
{
    (void)state;
    check_exports(ssl_path, h_ssl, ssl_names, COUNT(ssl_names));
    check_exports(crypto_path, h_crypto, crypto_names, COUNT(crypto_names));
}

/* CivetWeb's dlopen("libssl.so") must land on the bridge (SONAME match), not on OpenSSL. */
static void test_soname_wins(void **state)
{
    void *h;
    (void)state;
    h = dlopen("libssl.so", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    assert_ptr_equal(dlsym(h, "SSL_new"), *(void **)&b.ssl_new);
    dlclose(h);
    h = dlopen("libcrypto.so", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    assert_ptr_equal(dlsym(h, "ERR_get_error"), *(void **)&b.err_get);
    dlclose(h);
    assert_true(strncmp(b.provider(), "wolfSSL ", 8) == 0);
    assert_true(strlen(b.provider()) > 8);
}

static void test_handshake_and_data(void **state)
{
    void *sctx = server_ctx(leaf1_crt, leaf1_key);
    void *cctx = client_ctx();
    struct conn c;
    unsigned char *big;
    const int big_len = 256 * 1024;
    int sndbuf = 4096;
    char serial[64], name[256];
    void *cert;
    (void)state;

    conn_open(&c, sctx, cctx);
    assert_true(handshake(&c) > 0); /* non-blocking: at least one WANT_* round */
    assert_string_equal(b.get_version(c.cli), "TLSv1.3");
    assert_string_equal(b.get_version(c.srv), "TLSv1.3");
    assert_non_null(b.current_cipher(c.cli));
    assert_string_equal(b.cipher_name(b.current_cipher(c.cli)),
                        b.cipher_name(b.current_cipher(c.srv)));
    assert_true(strstr(b.cipher_name(b.current_cipher(c.cli)), "AES") != NULL ||
                strstr(b.cipher_name(b.current_cipher(c.cli)), "CHACHA") != NULL);

    /* The server's certificate, inspected as CivetWeb does for client certificates. */
    peer_serial(c.cli, serial, sizeof(serial));
    assert_string_equal(serial, SERIAL1_HEX);
    cert = b.peer_cert(c.cli);
    assert_non_null(cert);
    assert_ptr_equal(b.name_oneline(b.subject_name(cert), name, (int)sizeof(name)), name);
    assert_non_null(strstr(name, "CN=leaf-one"));
    assert_ptr_equal(b.name_oneline(b.issuer_name(cert), name, (int)sizeof(name)), name);
    assert_non_null(strstr(name, "CN=Bulwark Test CA"));
    b.x509_free(cert);
    /* The client sent no certificate. */
    assert_null(b.peer_cert(c.srv));

    /* One 40000-byte write is three records; a 100-byte read leaves the rest of the first
     * record decrypted and pending, and the next read returns exactly that rest. */
    big = malloc((size_t)big_len);
    assert_non_null(big);
    for (int i = 0; i < big_len; i++)
        big[i] = (unsigned char)(i * 131 + 7);
    assert_int_equal(b.write(c.cli, big, 40000), 40000);
    {
        unsigned char buf[65536];
        int r = b.read(c.srv, buf, 100);
        int pend;
        assert_int_equal(r, 100);
        pend = b.pending(c.srv);
        assert_true(pend > 0 && pend <= 16384 - 100);
        r = b.read(c.srv, buf + 100, (int)sizeof(buf) - 100);
        assert_int_equal(r, pend);
        assert_int_equal(b.pending(c.srv), 0);
        int got = 100 + r;
        while (got < 40000) {
            r = b.read(c.srv, buf + got, (int)sizeof(buf) - got);
            if (r > 0) {
                assert_true(r <= 16384);
                got += r;
            } else {
                assert_int_equal(b.get_error(c.srv, r), ERR_WANT_READ);
            }
        }
        assert_memory_equal(buf, big, 40000);
        /* Nothing left: a read would block. */
        r = b.read(c.srv, buf, 10);
        assert_true(r <= 0);
        assert_int_equal(b.get_error(c.srv, r), ERR_WANT_READ);
    }

    /* A small send buffer forces WANT_WRITE; the retried write completes in full. */
    assert_int_equal(setsockopt(c.fd_cli, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    assert_true(pump(c.cli, c.srv, big, big_len, 1000) > 0);
    /* And the other direction. */
    (void)pump(c.srv, c.cli, big, 70000, 4096);
    free(big);

    /* Clean close: 0 after sending close_notify, ZERO_RETURN at the peer, then 1 on both. */
    assert_int_equal(b.shutdown(c.srv), 0);
    {
        char buf[16];
        int r = b.read(c.cli, buf, sizeof(buf));
        assert_int_equal(r, 0);
        assert_int_equal(b.get_error(c.cli, r), ERR_ZERO_RETURN);
    }
    assert_int_equal(b.shutdown(c.cli), 1);
    assert_int_equal(b.shutdown(c.srv), 1);

    conn_close(&c);
    b.ctx_free(sctx);
    b.ctx_free(cctx);
}

static void test_abrupt_close(void **state)
{
    void *sctx = server_ctx(leaf1_crt, leaf1_key);
    void *cctx = client_ctx();
    struct conn c;
    char buf[64];
    int r;
    (void)state;

    conn_open(&c, sctx, cctx);
    (void)handshake(&c);
    /* The server end disappears without close_notify. */
    b.ssl_free(c.srv);
    c.srv = NULL;
    assert_int_equal(close(c.fd_srv), 0);
    c.fd_srv = -1;
    r = b.read(c.cli, buf, sizeof(buf));
    assert_true(r <= 0);
    assert_int_equal(b.get_error(c.cli, r), ERR_SYSCALL);
    /* Writing to the dead transport fails the same way (EPIPE, SIGPIPE ignored). */
    r = b.write(c.cli, "x", 1);
    assert_true(r <= 0);
    assert_int_equal(b.get_error(c.cli, r), ERR_SYSCALL);
    conn_close(&c);

    /* Shutdown while the peer has not answered: 0, then -1 with WANT_READ. */
    conn_open(&c, sctx, cctx);
    (void)handshake(&c);
    assert_int_equal(b.shutdown(c.cli), 0);
    r = b.shutdown(c.cli);
    assert_int_equal(r, -1);
    assert_int_equal(b.get_error(c.cli, r), ERR_WANT_READ);
    conn_close(&c);

    b.ctx_free(sctx);
    b.ctx_free(cctx);
}

/* A client that trusts nothing fails the handshake with SSL_ERROR_SSL and an error queued. */
static void test_handshake_failure(void **state)
{
    void *sctx = server_ctx(leaf1_crt, leaf1_key);
    void *cctx = b.ctx_new(b.client_method());
    struct conn c;
    int failed = 0;
    (void)state;

    assert_non_null(cctx);
    b.set_verify(cctx, VERIFY_PEER, NULL);
    conn_open(&c, sctx, cctx);
    b.err_clear();
    for (int i = 0; i < 200 && !failed; i++) {
        int r = b.connect(c.cli);
        assert_int_not_equal(r, 1);
        int e = b.get_error(c.cli, r);
        if (e == ERR_SSL)
            failed = 1;
        else
            assert_true(e == ERR_WANT_READ || e == ERR_WANT_WRITE);
        (void)b.accept(c.srv);
    }
    assert_true(failed);
    assert_int_not_equal(b.err_get(), 0);
    b.err_clear();
    conn_close(&c);
    b.ctx_free(sctx);
    b.ctx_free(cctx);
}

static char *thread_err_string;
static unsigned long thread_err;

static void *other_thread_err(void *arg)
{
    (void)arg;
    thread_err_string = b.err_string(thread_err, NULL);
    return NULL;
}

static void test_error_queue(void **state)
{
    void *ctx = b.ctx_new(b.server_method());
    unsigned long e;
    char buf[256];
    char *s;
    pthread_t t;
    (void)state;

    assert_non_null(ctx);
    b.err_clear();
    assert_int_equal(b.err_get(), 0);
    assert_int_equal(b.use_cert_file(ctx, "/nonexistent/bulwark.pem", FILETYPE_PEM), 0);
    e = b.err_get();
    assert_int_not_equal(e, 0);
    s = b.err_string(e, NULL);
    assert_non_null(s);
    assert_true(strlen(s) > 0 && strlen(s) < 256);
    assert_true(strncmp(s, "error:", 6) == 0);
    assert_non_null(strstr(s, "cannot load certificate file"));
    assert_int_equal(b.err_get(), 0); /* one failure, one entry */
    assert_ptr_equal(b.err_string(e, buf), buf);
    assert_string_equal(buf, s);
    /* NULL buffer: one per thread. */
    thread_err = e;
    assert_int_equal(pthread_create(&t, NULL, other_thread_err, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_non_null(thread_err_string);
    assert_ptr_not_equal(thread_err_string, s);

    /* Failures the bridge itself refuses are queued too. */
    b.err_clear();
    assert_null(b.ctx_new(NULL));
    e = b.err_get();
    assert_non_null(strstr(b.err_string(e, buf), "TLS_server_method"));
    /* wolfSSL's own codes get wolfSSL's reason text. */
    assert_non_null(strstr(b.err_string(173, buf), "wolfSSL:Bad function argument"));
    b.err_clear();
    assert_int_equal(b.use_key_file(ctx, "/nonexistent/key.pem", FILETYPE_PEM), 0);
    assert_int_not_equal(b.err_get(), 0);
    b.err_clear();
    assert_int_equal(b.use_chain_file(ctx, "/nonexistent/chain.pem"), 0);
    assert_int_equal(b.load_verify(ctx, "/nonexistent/ca.pem", NULL), 0);
    b.err_clear();
    assert_int_equal(b.err_get(), 0);

    /* Certificate and key that do not belong together. */
    assert_int_equal(b.use_cert_file(ctx, leaf1_crt, FILETYPE_PEM), 1);
    assert_int_equal(b.use_key_file(ctx, leaf2_key, FILETYPE_PEM), 1);
    b.err_clear();
    assert_int_equal(b.check_key(ctx), 0);
    assert_non_null(strstr(b.err_string(b.err_get(), buf), "do not match"));
    b.err_clear();
    b.ctx_free(ctx);
}

static void test_cert_functions(void **state)
{
    void *sctx = server_ctx(leaf1_crt, leaf1_key);
    void *cctx = client_ctx();
    struct conn c;
    void *cert;
    const void *sha1;
    unsigned char *der = NULL, *p;
    unsigned char md[64], want[20];
    unsigned mdlen = 0;
    char small[8];
    char *line;
    int len;
    (void)state;

    conn_open(&c, sctx, cctx);
    (void)handshake(&c);
    cert = b.peer_cert(c.cli);
    assert_non_null(cert);

    /* i2d_X509: measure, allocate, write-and-advance; all equal the generated DER. */
    len = b.i2d(cert, NULL);
    assert_int_equal(len, leaf1_der_len);
    assert_int_equal(b.i2d(cert, &der), len);
    assert_non_null(der);
    assert_memory_equal(der, leaf1_der, (size_t)len);
    {
        unsigned char *copy = malloc((size_t)len);
        assert_non_null(copy);
        p = copy;
        assert_int_equal(b.i2d(cert, &p), len);
        assert_ptr_equal(p, copy + len);
        assert_memory_equal(copy, leaf1_der, (size_t)len);
        free(copy);
    }

    /* CivetWeb's fingerprint: SHA-1 over the DER. */
    sha1 = b.digest_by_name("sha1");
    assert_non_null(sha1);
    assert_null(b.digest_by_name("no-such-digest"));
    assert_int_equal(b.digest(der, (size_t)len, md, &mdlen, sha1, NULL), 1);
    assert_int_equal(mdlen, 20);
    assert_int_equal(wc_ShaHash(leaf1_der, (word32)leaf1_der_len, want), 0);
    assert_memory_equal(md, want, 20);
    assert_int_equal(b.digest(NULL, 5, md, &mdlen, sha1, NULL), 0);
    assert_int_equal(b.digest(der, (size_t)len, md, &mdlen, NULL, NULL), 0);
    assert_int_equal(b.digest(der, (size_t)INT_MAX + 1, md, &mdlen, sha1, NULL), 0);
    b.crypto_free(der, __FILE__, __LINE__);

    /* X509_NAME_oneline: allocated when buf is NULL, truncated to size otherwise. */
    line = b.name_oneline(b.subject_name(cert), NULL, 0);
    assert_non_null(line);
    assert_non_null(strstr(line, "/CN=leaf-one"));
    memset(small, 'x', sizeof(small));
    assert_ptr_equal(b.name_oneline(b.subject_name(cert), small, (int)sizeof(small)), small);
    assert_true(memchr(small, '\0', sizeof(small)) != NULL);
    assert_int_equal(strncmp(small, line, strlen(small)), 0);
    b.crypto_free(line, __FILE__, __LINE__);
    assert_null(b.name_oneline(b.subject_name(cert), small, 0));

    b.x509_free(cert);
    conn_close(&c);
    b.ctx_free(sctx);
    b.ctx_free(cctx);
}

static int sni_calls;
static void *sni_seen_ssl;
static char sni_name[64];

static int sni_callback(void *ssl, int *ad, void *arg)
{
    const char *n = b.get_servername(ssl, 0);
    (void)ad;
    (void)arg;
    sni_calls++;
    sni_seen_ssl = ssl;
    if (n != NULL && strlen(n) < sizeof(sni_name))
        memcpy(sni_name, n, strlen(n) + 1);
    return 0; /* SSL_TLSEXT_ERR_OK */
}

static int alpn_calls;
static int alpn_select(void *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    (void)ssl;
    assert_ptr_equal(arg, &alpn_calls);
    alpn_calls++;
    if (inlen < 2 || in[0] + 1u > inlen)
        return 3; /* NOACK */
    *out = in + 1;
    *outlen = in[0];
    return 0;
}

static int info_calls;
static void info_cb(const void *ssl, int where, int ret)
{
    (void)ssl;
    (void)where;
    (void)ret;
    info_calls++;
}

static int passwd_cb(char *buf, int size, int rw, void *u)
{
    (void)buf;
    (void)size;
    (void)rw;
    (void)u;
    return 0;
}

static int npn_advertise(void *ssl, const unsigned char **out, unsigned *outlen, void *arg)
{
    (void)ssl;
    (void)out;
    (void)outlen;
    (void)arg;
    return 0;
}

/* Everything CivetWeb's init_ssl_ctx_impl does to a server context, then a connection. */
static void test_ctx_configuration(void **state)
{
    void *sctx = server_ctx(leaf1_crt, leaf1_key);
    void *cctx = client_ctx();
    static const unsigned char sid[16] = "bulwark-test-sid";
    unsigned char long_sid[33];
    static const unsigned char alpn[] = "\x08http/1.1";
    struct conn c;
    int marker;
    unsigned long opts;
    long prev;
    (void)state;

    /* CivetWeb clears the protocol bits, then sets SSL_OP_ALL and friends. The bug-workaround
     * bits must not turn into wolfSSL protocol switches. */
    b.ctx_ctrl(sctx, CTRL_CLEAR_OPTIONS, 0x3F000000L, NULL);
    opts = b.set_options(sctx, OP_ALL | OP_NO_TLSv1);
    assert_true((opts & OP_NO_TLSv1) != 0);
    assert_int_equal(opts & OP_NO_TLSv1_3, 0);
    opts = b.set_options(sctx, OP_NO_COMPRESSION);
    assert_true((opts & OP_NO_COMPRESSION) != 0 && (opts & OP_NO_TLSv1) != 0);
    assert_int_equal(b.ctx_ctrl(sctx, CTRL_ECDH_AUTO, 1, NULL), 1);
    b.set_info_cb(sctx, info_cb);
    assert_int_equal(b.ctx_callback_ctrl(sctx, CTRL_SERVERNAME_CB, (void (*)(void))sni_callback),
                     1);
    assert_int_equal(b.ctx_callback_ctrl(sctx, 9999, (void (*)(void))sni_callback), 0);
    assert_int_equal(b.set_sid_ctx(sctx, sid, sizeof(sid)), 1);
    memset(long_sid, 'a', sizeof(long_sid));
    assert_int_equal(b.set_sid_ctx(sctx, long_sid, sizeof(long_sid)), 0);
    assert_int_equal(b.set_cipher_list(sctx, "no-such-cipher-suite"), 0);
    assert_int_equal(
        b.set_cipher_list(sctx, "TLS13-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256"), 1);
    b.set_passwd_cb(sctx, passwd_cb);
    /* Returns the previous mode: the server cache is on by default. wolfSSL cannot turn it
     * back on once off (CivetWeb only ever asks for BOTH). */
    prev = b.ctx_ctrl(sctx, CTRL_SESS_CACHE_MODE, 3, NULL);
    assert_true((prev & 2) != 0);
    {
        void *off = b.ctx_new(b.server_method());
        assert_non_null(off);
        assert_true((b.ctx_ctrl(off, CTRL_SESS_CACHE_MODE, 0, NULL) & 2) != 0);
        assert_int_equal(b.ctx_ctrl(off, CTRL_SESS_CACHE_MODE, 3, NULL) & 2, 0);
        b.ctx_free(off);
    }
    assert_true(b.ctx_ctrl(sctx, CTRL_SESS_CACHE_SIZE, 100, NULL) >= 0);
    assert_int_equal(b.ctx_ctrl(sctx, 9999, 1, NULL), 0);
    (void)b.set_timeout(sctx, 100);
    assert_int_equal(b.set_timeout(sctx, 200), 100);
    assert_int_equal(b.set_timeout(sctx, -1), 0);
    assert_int_equal(b.set_alpn_protos(cctx, alpn, sizeof(alpn) - 1), 0);
    assert_int_equal(b.set_alpn_protos(cctx, NULL, 3), 1);
    b.set_alpn_select_cb(sctx, alpn_select, &alpn_calls);
    b.set_npn_cb(sctx, npn_advertise, NULL);
    assert_int_equal(b.use_chain_file(sctx, leaf1_crt), 1);

    conn_open(&c, sctx, cctx);
    assert_int_equal(b.set_ex_data(c.srv, 0, &marker), 1);
    assert_ptr_equal(b.get_ex_data(c.srv, 0), &marker);
    assert_null(b.get_ex_data(c.srv, -1));
    assert_int_equal(b.ssl_ctrl(c.cli, CTRL_TLSEXT_HOSTNAME, 0, (void *)"api.bulwark.test"), 1);
    assert_int_equal(b.ssl_ctrl(c.cli, CTRL_TLSEXT_HOSTNAME, 0, (void *)""), 0);
    assert_int_equal(b.ssl_ctrl(c.cli, 9999, 0, NULL), 0);
    sni_calls = alpn_calls = info_calls = 0;
    (void)handshake(&c);
    assert_int_equal(sni_calls, 1);
    assert_ptr_equal(sni_seen_ssl, c.srv);
    assert_string_equal(sni_name, "api.bulwark.test");
    assert_string_equal(b.get_servername(c.srv, 0), "api.bulwark.test");
    assert_null(b.get_servername(c.srv, 1));
    assert_int_equal(alpn_calls, 1);
    assert_string_equal(b.cipher_name(b.current_cipher(c.srv)),
                        b.cipher_name(b.current_cipher(c.cli)));
    conn_close(&c);

    /* The option translation is real: without TLS 1.3 the same pair speaks TLS 1.2. */
    assert_true((b.set_options(sctx, OP_NO_TLSv1_3) & OP_NO_TLSv1_3) != 0);
    conn_open(&c, sctx, cctx);
    info_calls = 0;
    (void)handshake(&c);
    assert_string_equal(b.get_version(c.srv), "TLSv1.2");
    /* wolfSSL reports handshake progress to the info callback on its TLS 1.2 path. */
    assert_true(info_calls > 0);
    conn_close(&c);
    assert_int_equal(
        b.ctx_ctrl(sctx, CTRL_CLEAR_OPTIONS, (long)OP_NO_TLSv1_3, NULL) & (long)OP_NO_TLSv1_3, 0);
    assert_true((b.ctx_ctrl(sctx, CTRL_OPTIONS, (long)OP_NO_TLSv1, NULL) & (long)OP_NO_TLSv1) != 0);
    conn_open(&c, sctx, cctx);
    (void)handshake(&c);
    assert_string_equal(b.get_version(c.srv), "TLSv1.3");
    conn_close(&c);

    b.ctx_free(sctx);
    b.ctx_free(cctx);
}

/* Every entry point survives NULL and returns OpenSSL's failure value. */
static void test_null_arguments(void **state)
{
    void *ctx = b.ctx_new(b.server_method());
    void *ssl;
    unsigned char *out = NULL;
    unsigned mdlen;
    unsigned char md[64];
    (void)state;

    assert_non_null(ctx);
    ssl = b.ssl_new(ctx);
    assert_non_null(ssl);
    b.err_clear();

    assert_null(b.ctx_new(NULL));
    assert_null(b.ctx_new("not a method"));
    b.ctx_free(NULL);
    assert_int_equal(b.use_cert_file(NULL, leaf1_crt, FILETYPE_PEM), 0);
    assert_int_equal(b.use_cert_file(ctx, NULL, FILETYPE_PEM), 0);
    assert_int_equal(b.use_key_file(NULL, leaf1_key, FILETYPE_PEM), 0);
    assert_int_equal(b.use_key_file(ctx, NULL, FILETYPE_PEM), 0);
    assert_int_equal(b.use_chain_file(NULL, leaf1_crt), 0);
    assert_int_equal(b.use_chain_file(ctx, NULL), 0);
    assert_int_equal(b.check_key(NULL), 0);
    assert_int_equal(b.check_key(ctx), 0); /* nothing loaded */
    b.set_passwd_cb(NULL, NULL);
    b.set_verify(NULL, VERIFY_PEER, NULL);
    b.set_verify_depth(NULL, 3);
    assert_int_equal(b.load_verify(NULL, ca_pem, NULL), 0);
    assert_int_equal(b.load_verify(ctx, NULL, NULL), 0);
    assert_int_equal(b.default_verify_paths(NULL), 0);
    assert_int_equal(b.set_sid_ctx(NULL, (const unsigned char *)"x", 1), 0);
    assert_int_equal(b.set_sid_ctx(ctx, NULL, 4), 0);
    assert_int_equal(b.ctx_ctrl(NULL, CTRL_OPTIONS, 1, NULL), 0);
    assert_int_equal(b.set_cipher_list(NULL, "HIGH"), 0);
    assert_int_equal(b.set_cipher_list(ctx, NULL), 0);
    assert_int_equal(b.set_options(NULL, OP_NO_TLSv1), 0);
    b.set_info_cb(NULL, NULL);
    assert_int_equal(b.ctx_callback_ctrl(NULL, CTRL_SERVERNAME_CB, NULL), 0);
    assert_int_equal(b.set_alpn_protos(NULL, (const unsigned char *)"\x02h2", 3), 1);
    b.set_alpn_select_cb(NULL, NULL, NULL);
    b.set_npn_cb(NULL, NULL, NULL);
    assert_int_equal(b.set_timeout(NULL, 10), 0);

    assert_null(b.ssl_new(NULL));
    b.ssl_free(NULL);
    assert_int_equal(b.set_fd(NULL, 0), 0);
    assert_int_equal(b.set_fd(ssl, -1), 0);
    assert_int_equal(b.accept(NULL), -1);
    assert_int_equal(b.connect(NULL), -1);
    assert_int_equal(b.read(NULL, md, 1), -1);
    assert_int_equal(b.read(ssl, NULL, 1), -1);
    assert_int_equal(b.read(ssl, md, -1), -1);
    assert_int_equal(b.write(NULL, md, 1), -1);
    assert_int_equal(b.write(ssl, NULL, 1), -1);
    assert_int_equal(b.write(ssl, md, -1), -1);
    assert_int_equal(b.get_error(NULL, -1), ERR_SSL);
    assert_int_equal(b.get_error(NULL, 1), ERR_NONE);
    assert_int_equal(b.pending(NULL), 0);
    assert_int_equal(b.pending(ssl), 0);
    assert_int_equal(b.shutdown(NULL), -1);
    assert_string_equal(b.get_version(NULL), "unknown");
    assert_null(b.current_cipher(NULL));
    assert_string_equal(b.cipher_name(NULL), "(NONE)");
    assert_null(b.peer_cert(NULL));
    assert_null(b.peer_cert(ssl)); /* no handshake yet */
    assert_int_equal(b.set_ex_data(NULL, 0, md), 0);
    assert_null(b.get_ex_data(NULL, 0));
    assert_null(b.get_servername(NULL, 0));
    assert_null(b.set_ssl_ctx(NULL, ctx));
    assert_null(b.set_ssl_ctx(ssl, NULL));
    assert_int_equal(b.ssl_ctrl(NULL, CTRL_TLSEXT_HOSTNAME, 0, (void *)"a"), 0);
    assert_int_equal(b.ssl_ctrl(ssl, CTRL_TLSEXT_HOSTNAME, 0, NULL), 0);

    assert_non_null(b.err_string(0, NULL));
    b.x509_free(NULL);
    assert_null(b.subject_name(NULL));
    assert_null(b.issuer_name(NULL));
    assert_null(b.name_oneline(NULL, (char *)md, (int)sizeof(md)));
    assert_null(b.serial(NULL));
    assert_null(b.asn1_to_bn(NULL, NULL));
    assert_null(b.bn2hex(NULL));
    b.bn_free(NULL);
    b.crypto_free(NULL, __FILE__, __LINE__);
    assert_null(b.digest_by_name(NULL));
    assert_int_equal(b.digest(md, 1, NULL, &mdlen, b.digest_by_name("sha1"), NULL), 0);
    assert_int_equal(b.i2d(NULL, &out), -1);
    assert_null(out);
    assert_int_equal(b.set_ctx(NULL, ctx), -1);

    b.err_clear();
    b.ssl_free(ssl);
    b.ctx_free(ctx);
}

/* The reload hook: new connections see the new certificate, old ones keep working. */
static void test_reload(void **state)
{
    void *handed = server_ctx(leaf1_crt, leaf1_key);
    void *second = server_ctx(leaf2_crt, leaf2_key);
    void *other = server_ctx(leaf1_crt, leaf1_key);
    void *cctx = client_ctx();
    struct conn old, fresh, back;
    char serial[64];
    unsigned char buf[32];
    int r;
    (void)state;

    conn_open(&old, handed, cctx);
    (void)handshake(&old);
    peer_serial(old.cli, serial, sizeof(serial));
    assert_string_equal(serial, SERIAL1_HEX);

    assert_int_equal(b.set_ctx(handed, second), 0);
    /* The bridge holds its own reference: the framework may drop its one now. */
    b.ctx_free(second);

    conn_open(&fresh, handed, cctx);
    (void)handshake(&fresh);
    peer_serial(fresh.cli, serial, sizeof(serial));
    assert_string_equal(serial, SERIAL2_HEX);

    /* The connection opened before the swap still carries data both ways. */
    assert_int_equal(b.write(old.cli, "before", 6), 6);
    r = b.read(old.srv, buf, sizeof(buf));
    assert_int_equal(r, 6);
    assert_memory_equal(buf, "before", 6);
    assert_int_equal(b.write(old.srv, "still", 5), 5);
    r = b.read(old.cli, buf, sizeof(buf));
    assert_int_equal(r, 5);

    /* CivetWeb's SNI callback re-selects the handed context: that follows the swap too. */
    {
        struct conn sni;
        conn_open(&sni, other, cctx);
        assert_non_null(b.set_ssl_ctx(sni.srv, handed));
        (void)handshake(&sni);
        peer_serial(sni.cli, serial, sizeof(serial));
        assert_string_equal(serial, SERIAL2_HEX);
        conn_close(&sni);
    }

    /* Undo: back to the handed context's own certificate. The old replacement lives on in
     * `fresh` until that connection ends. */
    assert_int_equal(b.set_ctx(handed, NULL), 0);
    conn_open(&back, handed, cctx);
    (void)handshake(&back);
    peer_serial(back.cli, serial, sizeof(serial));
    assert_string_equal(serial, SERIAL1_HEX);
    assert_int_equal(b.write(fresh.cli, "after", 5), 5);
    r = b.read(fresh.srv, buf, sizeof(buf));
    assert_int_equal(r, 5);

    /* current == handed also undoes; freeing the handed context forgets its entry. */
    assert_int_equal(b.set_ctx(handed, other), 0);
    assert_int_equal(b.set_ctx(handed, handed), 0);

    conn_close(&old);
    conn_close(&fresh);
    conn_close(&back);
    assert_int_equal(b.set_ctx(handed, other), 0);
    b.ctx_free(handed); /* drops the bridge's reference on `other` as well */
    b.ctx_free(other);
    b.ctx_free(cctx);
}

static void test_reload_table_full(void **state)
{
    void *handed[17];
    void *cur = b.ctx_new(b.server_method());
    (void)state;

    assert_non_null(cur);
    for (size_t i = 0; i < COUNT(handed); i++) {
        handed[i] = b.ctx_new(b.server_method());
        assert_non_null(handed[i]);
    }
    for (size_t i = 0; i < 16; i++)
        assert_int_equal(b.set_ctx(handed[i], cur), 0);
    assert_int_equal(b.set_ctx(handed[16], cur), -1);
    /* Replacing an existing entry needs no new slot. */
    assert_int_equal(b.set_ctx(handed[3], cur), 0);
    assert_int_equal(b.set_ctx(handed[0], NULL), 0);
    assert_int_equal(b.set_ctx(handed[16], cur), 0);
    for (size_t i = 0; i < COUNT(handed); i++)
        b.ctx_free(handed[i]);
    b.ctx_free(cur);
}

struct race {
    void *handed, *a, *c;
    int stop;
};

static void *swapper(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < 3000; i++) {
        if (b.set_ctx(r->handed, (i & 1) ? r->a : r->c) != 0)
            return (void *)1;
        if (i % 7 == 0)
            (void)b.set_ctx(r->handed, NULL);
    }
    __atomic_store_n(&r->stop, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* SSL_new racing set_ctx: every connection gets a live context (ASan would flag a freed one). */
static void test_reload_concurrent(void **state)
{
    struct race r;
    pthread_t t;
    void *ret = NULL;
    int made = 0;
    (void)state;

    r.handed = server_ctx(leaf1_crt, leaf1_key);
    r.a = server_ctx(leaf2_crt, leaf2_key);
    r.c = server_ctx(leaf1_crt, leaf1_key);
    r.stop = 0;
    assert_int_equal(pthread_create(&t, NULL, swapper, &r), 0);
    while (!__atomic_load_n(&r.stop, __ATOMIC_SEQ_CST) || made < 100) {
        void *ssl = b.ssl_new(r.handed);
        assert_non_null(ssl);
        b.ssl_free(ssl);
        made++;
    }
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_null(ret);
    /* Framework references go first; the bridge still holds its own until handed is freed. */
    b.ctx_free(r.a);
    b.ctx_free(r.c);
    {
        void *ssl = b.ssl_new(r.handed);
        assert_non_null(ssl);
        b.ssl_free(ssl);
    }
    b.ctx_free(r.handed);
}

/* ---- the admission hook ---- */

/* A check that admits unless told to refuse, and records what it saw. Tokens point into
 * `tokens`, one per admission, so a release names exactly which admission it ends. */
struct gate {
    int refuse;
    int admits, releases, refusals;
    int last_fd;
    int foreign; /* releases of a token this gate did not issue */
    int released[8];
    int tokens[8];
};

static void *gate_admit(void *arg, int fd)
{
    struct gate *g = arg;

    g->last_fd = fd;
    if (g->refuse || g->admits >= (int)COUNT(g->tokens)) {
        g->refusals++;
        return NULL;
    }
    return &g->tokens[g->admits++];
}

static void gate_release(void *arg, void *token)
{
    struct gate *g = arg;
    /* Compared as integers: a foreign token points into another object. */
    uintptr_t t = (uintptr_t)token, base = (uintptr_t)g->tokens;
    size_t i = (t - base) / sizeof(int);

    if (t < base || (t - base) % sizeof(int) != 0 || i >= (size_t)g->admits) {
        g->foreign++;
        return;
    }
    g->released[i]++;
    g->releases++;
}

/* A server-side object that gets its socket (and so passes the check); the client side never
 * does. */
static struct gate gate1;

static void test_admission(void **state)
{
    void *sctx = server_ctx(leaf1_crt, leaf1_key);
    void *cctx = client_ctx();
    struct conn c;
    char buf[256];
    int fds[2];
    void *ssl;
    unsigned long e;
    (void)state;

    memset(&gate1, 0, sizeof(gate1));
    /* Both or neither. */
    assert_int_equal(b.set_admission(gate_admit, NULL, &gate1), -1);
    assert_int_equal(b.set_admission(NULL, gate_release, &gate1), -1);
    assert_int_equal(b.set_admission(gate_admit, gate_release, &gate1), 0);

    /* Admitted: one admission for the server side with its own socket, none for the client;
     * the handshake is untouched; the token is out of callers' reach. */
    conn_open(&c, sctx, cctx);
    assert_int_equal(gate1.admits, 1);
    assert_int_equal(gate1.last_fd, c.fd_srv);
    assert_null(b.get_ex_data(c.srv, 1));
    assert_int_equal(b.set_ex_data(c.srv, 1, &gate1), 0);
    (void)handshake(&c);
    /* While a token is out, the check cannot be changed or removed. */
    assert_int_equal(b.set_admission(NULL, NULL, NULL), -1);
    assert_int_equal(b.set_admission(gate_admit, gate_release, &gate1), -1);
    assert_int_equal(gate1.releases, 0);
    conn_close(&c);
    assert_int_equal(gate1.releases, 1);
    assert_int_equal(gate1.released[0], 1);

    /* Refused: SSL_set_fd fails with the bridge's reason; freeing releases nothing. */
    gate1.refuse = 1;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    ssl = b.ssl_new(sctx);
    assert_non_null(ssl);
    b.err_clear();
    assert_int_equal(b.set_fd(ssl, fds[0]), 0);
    assert_int_equal(gate1.refusals, 1);
    assert_int_equal(gate1.last_fd, fds[0]);
    e = b.err_get();
    assert_non_null(strstr(b.err_string(e, buf), "refused by the admission check"));
    assert_int_equal(b.err_get(), 0);
    b.ssl_free(ssl);
    assert_int_equal(gate1.releases, 1);

    /* A second SSL_set_fd ends the first admission before asking again. */
    gate1.refuse = 0;
    ssl = b.ssl_new(sctx);
    assert_non_null(ssl);
    assert_int_equal(b.set_fd(ssl, fds[0]), 1);
    assert_int_equal(gate1.admits, 2);
    assert_int_equal(b.set_fd(ssl, fds[1]), 1);
    assert_int_equal(gate1.admits, 3);
    assert_int_equal(gate1.released[1], 1);
    assert_int_equal(gate1.released[2], 0);
    /* ...and when that second admission is refused, the object holds no token at all. */
    gate1.refuse = 1;
    assert_int_equal(b.set_fd(ssl, fds[0]), 0);
    assert_int_equal(gate1.released[2], 1);
    b.err_clear();
    b.ssl_free(ssl);
    assert_int_equal(gate1.releases, 3);
    assert_int_equal(gate1.foreign, 0);

    /* Removed: connections pass without being asked. */
    assert_int_equal(b.set_admission(NULL, NULL, NULL), 0);
    conn_open(&c, sctx, cctx);
    assert_int_equal(gate1.admits + gate1.refusals, 5);
    (void)handshake(&c);
    conn_close(&c);
    assert_int_equal(gate1.releases, 3);

    (void)close(fds[0]);
    (void)close(fds[1]);
    b.ctx_free(sctx);
    b.ctx_free(cctx);
}

/* Two checks swapped in and out while workers open and free connections: every token is
 * released exactly once, by the check that issued it. */
enum { ADM_WORKERS = 4, ADM_ROUNDS = 2000 };

struct counted_gate {
    atomic_int admits, releases, foreign;
    int id;
};

static struct counted_gate gates[2];

static void *counted_admit(void *arg, int fd)
{
    struct counted_gate *g = arg;

    (void)fd;
    atomic_fetch_add(&g->admits, 1);
    return &g->id;
}

static void counted_release(void *arg, void *token)
{
    struct counted_gate *g = arg;
    /* Compared as integers: a foreign token points into another object. */
    if ((uintptr_t)token != (uintptr_t)&g->id)
        atomic_fetch_add(&g->foreign, 1);
    atomic_fetch_add(&g->releases, 1);
}

struct adm_race {
    void *sctx;
    int fd;
    atomic_int done;
    atomic_int failures;
};

static void *adm_worker(void *arg)
{
    struct adm_race *r = arg;

    for (int i = 0; i < ADM_ROUNDS; i++) {
        void *ssl = b.ssl_new(r->sctx);
        if (ssl == NULL || b.set_fd(ssl, r->fd) != 1)
            atomic_fetch_add(&r->failures, 1);
        b.ssl_free(ssl);
    }
    atomic_fetch_add(&r->done, 1);
    return NULL;
}

static void test_admission_concurrent(void **state)
{
    struct adm_race r;
    pthread_t t[ADM_WORKERS];
    int fds[2], swaps = 0;
    (void)state;

    memset(&r, 0, sizeof(r));
    for (int i = 0; i < 2; i++) {
        atomic_init(&gates[i].admits, 0);
        atomic_init(&gates[i].releases, 0);
        atomic_init(&gates[i].foreign, 0);
        gates[i].id = i;
    }
    r.sctx = server_ctx(leaf1_crt, leaf1_key);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    r.fd = fds[0];
    atomic_init(&r.done, 0);
    atomic_init(&r.failures, 0);
    for (int i = 0; i < ADM_WORKERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, adm_worker, &r), 0);
    for (int i = 0; atomic_load(&r.done) < ADM_WORKERS; i++) {
        struct counted_gate *g = &gates[i & 1];
        /* Succeeds only in the moments no connection holds a token. */
        if ((i % 3 == 0 && b.set_admission(NULL, NULL, NULL) == 0) ||
            b.set_admission(counted_admit, counted_release, g) == 0)
            swaps++;
    }
    for (int i = 0; i < ADM_WORKERS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(atomic_load(&r.failures), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(atomic_load(&gates[i].foreign), 0);
        assert_int_equal(atomic_load(&gates[i].admits), atomic_load(&gates[i].releases));
    }
    assert_true(swaps > 0);
    /* Nothing is out any more: the check can be removed. */
    assert_int_equal(b.set_admission(NULL, NULL, NULL), 0);
    (void)close(fds[0]);
    (void)close(fds[1]);
    b.ctx_free(r.sctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exports_exact),      cmocka_unit_test(test_soname_wins),
        cmocka_unit_test(test_handshake_and_data), cmocka_unit_test(test_abrupt_close),
        cmocka_unit_test(test_handshake_failure),  cmocka_unit_test(test_error_queue),
        cmocka_unit_test(test_cert_functions),     cmocka_unit_test(test_ctx_configuration),
        cmocka_unit_test(test_null_arguments),     cmocka_unit_test(test_reload),
        cmocka_unit_test(test_reload_table_full),  cmocka_unit_test(test_reload_concurrent),
        cmocka_unit_test(test_admission),          cmocka_unit_test(test_admission_concurrent),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
