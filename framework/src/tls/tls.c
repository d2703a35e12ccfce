/* The server's TLS context: policy, certificate, and reload. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "bulwark/err.h"
#include "bulwark/tls.h"
#include "bulwark/tlscert.h"

/* Mozilla "intermediate" for TLS 1.2: ECDHE key exchange, AEAD ciphers only.
 * The TLS 1.3 suites are all AEAD. */
static const char suites_tls13[] =
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256";
static const char suites_tls12[] = ":ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
                                   ":ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
                                   ":ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

struct bw_tls {
    const bw_config *cfg;
    char cert[4096];
    char key[4096];
    char client_ca[4096]; /* "" when client certificates are not asked for */
    WOLFSSL_CTX *handed;  /* given to CivetWeb at start-up; CivetWeb frees it */
    WOLFSSL_CTX *current; /* our reference to the context new connections use */
    long long days_left;
    _Atomic long long not_after; /* read by metrics scrapes while a reload may write it */
    pthread_mutex_t lock;        /* one reload at a time */
};

/* ALPN: this server speaks HTTP/1.1 only; agree to it when offered. */
static int alpn_select(WOLFSSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char h11[] = "http/1.1";
    unsigned int i = 0;

    (void)ssl;
    (void)arg;
    while (i < inlen) {
        unsigned int n = in[i];
        if (n == 0 || n > inlen - i - 1)
            break;
        if (n == sizeof(h11) - 1 && memcmp(in + i + 1, h11, n) == 0) {
            *out = in + i + 1;
            *outlen = (unsigned char)n;
            return 0; /* SSL_TLSEXT_ERR_OK */
        }
        i += n + 1;
    }
    return noack_return;
}

static WOLFSSL_CTX *make_ctx(const bw_tls *t, char *err, size_t errlen)
{
    const bw_config *cfg = t->cfg;
    int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_SECP384R1};
    char suites[sizeof(suites_tls13) + sizeof(suites_tls12)];
    WOLFSSL_CTX *ctx;

    ctx = wolfSSL_CTX_new(cfg->tls.allow_tls12 ? wolfSSLv23_server_method()
                                               : wolfTLSv1_3_server_method());
    if (ctx == NULL) {
        bw_err_set(err, errlen, "tls: cannot create a context");
        return NULL;
    }
    memcpy(suites, suites_tls13, sizeof(suites_tls13));
    if (cfg->tls.allow_tls12)
        memcpy(suites + sizeof(suites_tls13) - 1, suites_tls12, sizeof(suites_tls12));
    if ((cfg->tls.allow_tls12 &&
         wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS) ||
        wolfSSL_CTX_set_cipher_list(ctx, suites) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_groups(ctx, groups, (int)(sizeof(groups) / sizeof(groups[0]))) !=
            WOLFSSL_SUCCESS) {
        bw_err_set(err, errlen, "tls: the protocol policy was refused by wolfSSL");
        wolfSSL_CTX_free(ctx);
        return NULL;
    }
    /* wolfSSL never compresses and, built without HAVE_SECURE_RENEGOTIATION,
     * never renegotiates; the option states the intent. */
    wolfSSL_CTX_set_options(ctx, WOLFSSL_OP_NO_COMPRESSION);
    wolfSSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    if (t->client_ca[0] != '\0') {
        /* Mutual TLS: a client certificate signed by client_ca; "required"
         * fails the handshake without one. */
        int mode = WOLFSSL_VERIFY_PEER;
        if (strcmp(cfg->tls.client_auth, "required") == 0)
            mode |= WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        if (wolfSSL_CTX_load_verify_locations(ctx, t->client_ca, NULL) != WOLFSSL_SUCCESS) {
            bw_err_set(err, errlen, "tls.client_ca: cannot load %s", t->client_ca);
            wolfSSL_CTX_free(ctx);
            return NULL;
        }
        wolfSSL_CTX_set_verify(ctx, mode, NULL);
    }
    if (wolfSSL_CTX_use_certificate_chain_file(ctx, t->cert) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_use_PrivateKey_file(ctx, t->key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
        bw_err_set(err, errlen, "tls: cannot use the certificate %s with the key %s", t->cert,
                   t->key);
        wolfSSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* The checks of tlscert.h, then a context; both or nothing. wolfSSL's own
 * key check does not prove an EC key matches, so bw_tls_cert_check is the
 * proof; it runs again after loading so a renewal landing in between cannot
 * slip an unchecked pair in. */
static WOLFSSL_CTX *load_pair(bw_tls *t, char *err, size_t errlen)
{
    bw_tls_cert_info before, after;
    WOLFSSL_CTX *ctx;

    if (bw_tls_cert_check(t->cert, t->key, (long long)time(NULL), &before, err, errlen) != 0)
        return NULL;
    ctx = make_ctx(t, err, errlen);
    if (ctx == NULL)
        return NULL;
    if (bw_tls_cert_check(t->cert, t->key, (long long)time(NULL), &after, err, errlen) != 0 ||
        strcmp(before.serial, after.serial) != 0) {
        if (err != NULL && strcmp(before.serial, after.serial) != 0)
            bw_err_set(err, errlen, "tls: the certificate changed while loading; try again");
        wolfSSL_CTX_free(ctx);
        return NULL;
    }
    t->days_left = after.days_left;
    atomic_store(&t->not_after, after.not_after);
    return ctx;
}

bw_tls *bw_tls_new(const bw_config *cfg, char *err, size_t errlen)
{
    bw_tls *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        bw_err_set(err, errlen, "out of memory");
        return NULL;
    }
    t->cfg = cfg;
    if (bw_config_path_in_data(cfg, cfg->tls.cert, t->cert, sizeof(t->cert)) == NULL ||
        bw_config_path_in_data(cfg, cfg->tls.key, t->key, sizeof(t->key)) == NULL) {
        bw_err_set(err, errlen, "tls: certificate path too long");
        free(t);
        return NULL;
    }
    if (strcmp(cfg->tls.client_auth, "none") != 0 &&
        bw_config_path_in_data(cfg, cfg->tls.client_ca, t->client_ca, sizeof(t->client_ca)) ==
            NULL) {
        bw_err_set(err, errlen, "tls.client_ca: path too long");
        free(t);
        return NULL;
    }
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
        bw_err_set(err, errlen, "tls: wolfSSL failed to initialise");
        free(t);
        return NULL;
    }
    t->handed = load_pair(t, err, errlen);
    if (t->handed == NULL) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void *bw_tls_handed_ctx(bw_tls *t)
{
    return t->handed;
}

int bw_tls_reload(bw_tls *t, char *err, size_t errlen)
{
    bw_tls_bridge_set_ctx_fn set_ctx = bw_tls_bridge_set_ctx_hook();
    WOLFSSL_CTX *fresh;

    if (set_ctx == NULL) {
        bw_err_set(err, errlen, "tls: the bridge cannot swap certificates");
        return -1;
    }
    pthread_mutex_lock(&t->lock);
    fresh = load_pair(t, err, errlen);
    if (fresh != NULL && set_ctx(t->handed, fresh) != 0) {
        bw_err_set(err, errlen, "tls: the bridge refused the new context");
        wolfSSL_CTX_free(fresh);
        fresh = NULL;
    }
    if (fresh != NULL) {
        /* The bridge took its own reference; ours on the previous one ends. */
        if (t->current != NULL)
            wolfSSL_CTX_free(t->current);
        t->current = fresh;
    }
    pthread_mutex_unlock(&t->lock);
    return fresh != NULL ? 0 : -1;
}

void bw_tls_thread_exit(void)
{
    wc_ecc_fp_free();
}

long long bw_tls_days_left(const bw_tls *t)
{
    return t->days_left;
}

long long bw_tls_not_after(const bw_tls *t)
{
    return atomic_load(&((bw_tls *)t)->not_after);
}

void bw_tls_free(bw_tls *t)
{
    bw_tls_bridge_set_ctx_fn set_ctx;

    if (t == NULL)
        return;
    set_ctx = bw_tls_bridge_set_ctx_hook();
    if (set_ctx != NULL && t->current != NULL)
        (void)set_ctx(t->handed, NULL); /* undoing cannot fail */
    if (t->current != NULL)
        wolfSSL_CTX_free(t->current);
    wolfSSL_CTX_free(t->handed);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
