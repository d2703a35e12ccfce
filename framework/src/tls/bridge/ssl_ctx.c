/* libssl bridge, part 1: library start-up, methods and SSL_CTX configuration.
 * Each function keeps OpenSSL 1.1's signature and return convention and forwards to wolfSSL. */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge.h"

/* OpenSSL methods are static, never freed; wolfSSL allocates one per call and SSL_CTX_new
 * consumes it. So the bridge hands out static tokens and allocates the wolfSSL method only
 * inside SSL_CTX_new: a method fetched but never used leaks nothing, and any other pointer
 * passed to SSL_CTX_new is refused instead of being freed. */
struct bw_bridge_method {
    int server;
};
static const struct bw_bridge_method server_method = {1};
static const struct bw_bridge_method client_method = {0};

/* OpenSSL 1.1 option bits (as CivetWeb defines them) and their wolfSSL equivalents. Bits
 * without an equivalent (the SSL_OP_ALL bug workarounds, NO_RENEGOTIATION: wolfSSL does not
 * renegotiate unless built for it) are accepted and ignored. */
static const struct {
    unsigned long ossl;
    long wolf;
} option_map[] = {
    {0x01000000ul, WOLFSSL_OP_NO_SSLv2},
    {0x02000000ul, WOLFSSL_OP_NO_SSLv3},
    {0x04000000ul, WOLFSSL_OP_NO_TLSv1},
    {0x10000000ul, WOLFSSL_OP_NO_TLSv1_1},
    {0x08000000ul, WOLFSSL_OP_NO_TLSv1_2},
    {0x20000000ul, WOLFSSL_OP_NO_TLSv1_3},
    {0x00100000ul, WOLFSSL_OP_SINGLE_DH_USE},
    {0x00400000ul, WOLFSSL_OP_CIPHER_SERVER_PREFERENCE},
    {0x00010000ul, WOLFSSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION},
    {0x00020000ul, WOLFSSL_OP_NO_COMPRESSION},
    {0x00004000ul, WOLFSSL_OP_NO_TICKET},
};

/* SSL_CTX_ctrl / SSL_CTX_callback_ctrl commands CivetWeb uses (OpenSSL 1.1 numbers). */
enum {
    CTRL_OPTIONS = 32,
    CTRL_SET_SESS_CACHE_SIZE = 42,
    CTRL_SET_SESS_CACHE_MODE = 44,
    CTRL_SET_TLSEXT_SERVERNAME_CB = 53,
    CTRL_CLEAR_OPTIONS = 77,
    CTRL_SET_ECDH_AUTO = 94,
};

static long options_to_wolf(unsigned long ossl)
{
    long wolf = 0;
    for (size_t i = 0; i < sizeof(option_map) / sizeof(option_map[0]); i++) {
        if ((ossl & option_map[i].ossl) != 0)
            wolf |= option_map[i].wolf;
    }
    return wolf;
}

static unsigned long options_from_wolf(long wolf)
{
    unsigned long ossl = 0;
    for (size_t i = 0; i < sizeof(option_map) / sizeof(option_map[0]); i++) {
        if ((wolf & option_map[i].wolf) != 0)
            ossl |= option_map[i].ossl;
    }
    return ossl;
}

/* wolfSSL returns WOLFSSL_SUCCESS or any of several failure codes; OpenSSL returns 1 or 0 and
 * leaves a reason on the error queue, which CivetWeb logs (wolfSSL often leaves none). */
static int one_or_zero(int wolf_ret, int err)
{
    if (wolf_ret == WOLFSSL_SUCCESS)
        return 1;
    bw_bridge_fail(err);
    return 0;
}

BW_BRIDGE_EXPORT int OPENSSL_init_ssl(uint64_t opts, const void *settings)
{
    (void)opts;
    (void)settings;
    return wolfSSL_Init() == WOLFSSL_SUCCESS ? 1 : 0;
}

BW_BRIDGE_EXPORT const void *TLS_server_method(void)
{
    return &server_method;
}

BW_BRIDGE_EXPORT const void *TLS_client_method(void)
{
    return &client_method;
}

BW_BRIDGE_EXPORT WOLFSSL_CTX *SSL_CTX_new(const void *method)
{
    const struct bw_bridge_method *bm = NULL;
    WOLFSSL_METHOD *m;
    WOLFSSL_CTX *ctx;

    if (method == &server_method)
        bm = &server_method;
    else if (method == &client_method)
        bm = &client_method;
    if (bm == NULL) {
        bw_bridge_put_error(BW_BRIDGE_E_METHOD);
        return NULL;
    }
    m = bm->server ? wolfSSLv23_server_method() : wolfSSLv23_client_method();
    if (m == NULL)
        return NULL;
    ctx = wolfSSL_CTX_new(m); /* consumes m, also on failure */
    if (ctx == NULL)
        return NULL;
    /* Debian's wolfSSL (OPENSSL_COMPATIBLE_DEFAULTS) starts a context at SSL 3.0; Debian's
     * OpenSSL refuses anything below TLS 1.2, and so does the bridge. */
    if (wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS) {
        wolfSSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

BW_BRIDGE_EXPORT void SSL_CTX_free(WOLFSSL_CTX *ctx)
{
    if (ctx == NULL)
        return;
    bw_bridge_ctx_forget(ctx);
    wolfSSL_CTX_free(ctx);
}

BW_BRIDGE_EXPORT int SSL_CTX_use_certificate_file(WOLFSSL_CTX *ctx, const char *file, int type)
{
    if (ctx == NULL || file == NULL) {
        bw_bridge_put_error(BW_BRIDGE_E_ARG);
        return 0;
    }
    return one_or_zero(wolfSSL_CTX_use_certificate_file(ctx, file, type), BW_BRIDGE_E_CERT_FILE);
}

BW_BRIDGE_EXPORT int SSL_CTX_use_PrivateKey_file(WOLFSSL_CTX *ctx, const char *file, int type)
{
    if (ctx == NULL || file == NULL) {
        bw_bridge_put_error(BW_BRIDGE_E_ARG);
        return 0;
    }
    return one_or_zero(wolfSSL_CTX_use_PrivateKey_file(ctx, file, type), BW_BRIDGE_E_KEY_FILE);
}

BW_BRIDGE_EXPORT int SSL_CTX_use_certificate_chain_file(WOLFSSL_CTX *ctx, const char *file)
{
    if (ctx == NULL || file == NULL) {
        bw_bridge_put_error(BW_BRIDGE_E_ARG);
        return 0;
    }
    return one_or_zero(wolfSSL_CTX_use_certificate_chain_file(ctx, file), BW_BRIDGE_E_CHAIN_FILE);
}

/* wolfSSL 5.5.4 built without WOLFSSL_VALIDATE_ECC_IMPORT (as Debian builds it) accepts any EC
 * private key on the certificate's curve as "matching" (RSA and Ed25519 are compared for
 * real). So for EC keys the bridge proves possession: sign a digest with the context's key and
 * verify it with the certificate's public key. Returns 1 if the pair is proven or not EC. */
static int ec_key_signs_for_cert(WOLFSSL_CTX *ctx)
{
    static const unsigned char digest[32] = "bulwark bridge: key/cert check";
    WOLFSSL_EVP_PKEY *priv = wolfSSL_CTX_get0_privatekey(ctx); /* owned by ctx */
    WOLFSSL_X509 *cert = wolfSSL_CTX_get0_certificate(ctx);    /* owned by ctx */
    WOLFSSL_EVP_PKEY *pub;
    int ok = 0;

    if (priv == NULL || cert == NULL)
        return 0;
    if (wolfSSL_EVP_PKEY_base_id(priv) != EVP_PKEY_EC)
        return 1;
    pub = wolfSSL_X509_get_pubkey(cert);
    if (pub == NULL)
        return 0;
    if (wolfSSL_EVP_PKEY_base_id(pub) == EVP_PKEY_EC) {
        WOLFSSL_ECDSA_SIG *sig =
            wolfSSL_ECDSA_do_sign(digest, (int)sizeof(digest), wolfSSL_EVP_PKEY_get0_EC_KEY(priv));
        if (sig != NULL) {
            ok = wolfSSL_ECDSA_do_verify(digest, (int)sizeof(digest), sig,
                                         wolfSSL_EVP_PKEY_get0_EC_KEY(pub)) == 1;
            wolfSSL_ECDSA_SIG_free(sig);
        }
    }
    wolfSSL_EVP_PKEY_free(pub);
    return ok;
}

BW_BRIDGE_EXPORT int SSL_CTX_check_private_key(const WOLFSSL_CTX *ctx)
{
    /* The wolfSSL getters below cache on the context; OpenSSL's prototype is const. */
    WOLFSSL_CTX *c = (WOLFSSL_CTX *)ctx;

    if (c == NULL) {
        bw_bridge_put_error(BW_BRIDGE_E_ARG);
        return 0;
    }
    if (one_or_zero(wolfSSL_CTX_check_private_key(c), BW_BRIDGE_E_KEY_MISMATCH) != 1)
        return 0;
    if (!ec_key_signs_for_cert(c)) {
        bw_bridge_put_error(BW_BRIDGE_E_KEY_MISMATCH);
        return 0;
    }
    return 1;
}

BW_BRIDGE_EXPORT void SSL_CTX_set_default_passwd_cb(WOLFSSL_CTX *ctx, wc_pem_password_cb *cb)
{
    if (ctx != NULL)
        wolfSSL_CTX_set_default_passwd_cb(ctx, cb);
}

BW_BRIDGE_EXPORT void SSL_CTX_set_verify(WOLFSSL_CTX *ctx, int mode, VerifyCallback cb)
{
    /* The mode bits (NONE, PEER, FAIL_IF_NO_PEER_CERT, CLIENT_ONCE) match OpenSSL's. */
    if (ctx != NULL)
        wolfSSL_CTX_set_verify(ctx, mode, cb);
}

BW_BRIDGE_EXPORT void SSL_CTX_set_verify_depth(WOLFSSL_CTX *ctx, int depth)
{
    if (ctx != NULL && depth >= 0)
        wolfSSL_CTX_set_verify_depth(ctx, depth);
}

BW_BRIDGE_EXPORT int SSL_CTX_load_verify_locations(WOLFSSL_CTX *ctx, const char *file,
                                                   const char *path)
{
    if (ctx == NULL || (file == NULL && path == NULL)) {
        bw_bridge_put_error(BW_BRIDGE_E_ARG);
        return 0;
    }
    return one_or_zero(wolfSSL_CTX_load_verify_locations(ctx, file, path),
                       BW_BRIDGE_E_VERIFY_LOCATIONS);
}

BW_BRIDGE_EXPORT int SSL_CTX_set_default_verify_paths(WOLFSSL_CTX *ctx)
{
    if (ctx == NULL) {
        bw_bridge_put_error(BW_BRIDGE_E_ARG);
        return 0;
    }
    return one_or_zero(wolfSSL_CTX_set_default_verify_paths(ctx), BW_BRIDGE_E_VERIFY_LOCATIONS);
}

BW_BRIDGE_EXPORT int SSL_CTX_set_session_id_context(WOLFSSL_CTX *ctx, const unsigned char *sid,
                                                    unsigned int len)
{
    /* OpenSSL's SSL_MAX_SID_CTX_LENGTH is 32. */
    if (ctx == NULL || (sid == NULL && len != 0) || len > 32) {
        bw_bridge_put_error(BW_BRIDGE_E_ARG);
        return 0;
    }
    return one_or_zero(wolfSSL_CTX_set_session_id_context(ctx, sid, len), BW_BRIDGE_E_ARG);
}

BW_BRIDGE_EXPORT int SSL_CTX_set_cipher_list(WOLFSSL_CTX *ctx, const char *list)
{
    if (ctx == NULL || list == NULL) {
        bw_bridge_put_error(BW_BRIDGE_E_ARG);
        return 0;
    }
    return one_or_zero(wolfSSL_CTX_set_cipher_list(ctx, list), BW_BRIDGE_E_CIPHER_LIST);
}

BW_BRIDGE_EXPORT unsigned long SSL_CTX_set_options(WOLFSSL_CTX *ctx, unsigned long op)
{
    long now;

    if (ctx == NULL)
        return 0;
    now = wolfSSL_CTX_set_options(ctx, options_to_wolf(op));
    return now < 0 ? 0 : options_from_wolf(now);
}

BW_BRIDGE_EXPORT long SSL_CTX_ctrl(WOLFSSL_CTX *ctx, int cmd, long larg, void *parg)
{
    long ret;

    (void)parg;
    if (ctx == NULL)
        return 0;
    switch (cmd) {
    case CTRL_OPTIONS:
        ret = wolfSSL_CTX_set_options(ctx, options_to_wolf((unsigned long)larg));
        return ret < 0 ? 0 : (long)options_from_wolf(ret);
    case CTRL_CLEAR_OPTIONS:
        ret = wolfSSL_CTX_clear_options(ctx, options_to_wolf((unsigned long)larg));
        return ret < 0 ? 0 : (long)options_from_wolf(ret);
    case CTRL_SET_ECDH_AUTO:
        /* wolfSSL always picks the ECDHE group from the client's list. */
        return 1;
    case CTRL_SET_SESS_CACHE_SIZE:
        if (larg < 0)
            return 0;
        return wolfSSL_CTX_sess_set_cache_size(ctx, larg);
    case CTRL_SET_SESS_CACHE_MODE: {
        /* Returns the previous mode, as OpenSSL does; the mode bits match. */
        long prev = wolfSSL_CTX_get_session_cache_mode(ctx);
        if (larg < 0 || wolfSSL_CTX_set_session_cache_mode(ctx, larg) != WOLFSSL_SUCCESS)
            return 0;
        return prev < 0 ? 0 : prev;
    }
    default:
        return 0;
    }
}

BW_BRIDGE_EXPORT long SSL_CTX_callback_ctrl(WOLFSSL_CTX *ctx, int cmd, void (*fp)(void))
{
    if (ctx == NULL)
        return 0;
    if (cmd == CTRL_SET_TLSEXT_SERVERNAME_CB) {
        /* Same signature and the same return codes (OK 0, warning 1, fatal 2, NOACK 3). */
        wolfSSL_CTX_set_servername_callback(ctx, (CallbackSniRecv)fp);
        return 1;
    }
    return 0;
}

BW_BRIDGE_EXPORT void SSL_CTX_set_info_callback(WOLFSSL_CTX *ctx,
                                                void (*cb)(const WOLFSSL *ssl, int where, int ret))
{
    if (ctx != NULL)
        wolfSSL_CTX_set_info_callback(ctx, cb);
}

BW_BRIDGE_EXPORT int SSL_CTX_set_alpn_protos(WOLFSSL_CTX *ctx, const unsigned char *protos,
                                             unsigned int len)
{
    /* Inverted convention: OpenSSL returns 0 on success. */
    if (ctx == NULL || protos == NULL || len == 0)
        return 1;
    return wolfSSL_CTX_set_alpn_protos(ctx, protos, len) == 0 ? 0 : 1;
}

BW_BRIDGE_EXPORT void
SSL_CTX_set_alpn_select_cb(WOLFSSL_CTX *ctx,
                           int (*cb)(WOLFSSL *ssl, const unsigned char **out, unsigned char *outlen,
                                     const unsigned char *in, unsigned int inlen, void *arg),
                           void *arg)
{
    if (ctx != NULL)
        wolfSSL_CTX_set_alpn_select_cb(ctx, cb, arg);
}

BW_BRIDGE_EXPORT void SSL_CTX_set_next_protos_advertised_cb(
    WOLFSSL_CTX *ctx,
    int (*cb)(WOLFSSL *ssl, const unsigned char **out, unsigned int *outlen, void *arg), void *arg)
{
    /* NPN was superseded by ALPN and wolfSSL does not implement it: accepted, no effect. */
    (void)ctx;
    (void)cb;
    (void)arg;
}

BW_BRIDGE_EXPORT long SSL_CTX_set_timeout(WOLFSSL_CTX *ctx, long seconds)
{
    int prev;

    if (ctx == NULL || seconds < 0)
        return 0;
    if (seconds > (long)UINT_MAX)
        seconds = (long)UINT_MAX;
    /* Built with WOLFSSL_ERROR_CODE_OPENSSL, wolfSSL returns the previous timeout. */
    prev = wolfSSL_CTX_set_timeout(ctx, (unsigned int)seconds);
    return prev < 0 ? 0 : prev;
}
