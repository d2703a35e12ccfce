/* libssl bridge, part 2: connections (SSL objects).
 * I/O calls return what OpenSSL 1.1 returns (1 / >0 on success, 0 or -1 otherwise) and
 * SSL_get_error maps wolfSSL's state onto OpenSSL's SSL_ERROR_* codes, which CivetWeb's read,
 * write and handshake loops depend on. */
#include <string.h>

#include "bridge.h"

#include <wolfssl/error-ssl.h>

/* OpenSSL 1.1 SSL_ctrl command CivetWeb uses (client connections with SNI). */
enum { CTRL_SET_TLSEXT_HOSTNAME = 55 };
/* OpenSSL refuses host names longer than this (TLSEXT_MAXLEN_host_name). */
enum { MAX_HOST_NAME = 255 };
/* Bound on records discarded by one SSL_shutdown call while waiting for close_notify, so a
 * peer that keeps sending data cannot hold the caller forever. */
enum { MAX_SHUTDOWN_READS = 64 };

/* wolfSSL returns its own negative codes where OpenSSL returns -1. */
static int minus_one_if_negative(int ret)
{
    return ret < 0 ? -1 : ret;
}

BW_BRIDGE_EXPORT WOLFSSL *SSL_new(WOLFSSL_CTX *ctx)
{
    WOLFSSL_CTX *use;
    WOLFSSL *ssl;
    int held = 0;

    if (ctx == NULL) {
        bw_bridge_put_error(BW_BRIDGE_E_ARG);
        return NULL;
    }
    /* A certificate reload replaces the context CivetWeb holds without CivetWeb knowing. */
    use = bw_bridge_ctx_resolve(ctx, &held);
    ssl = wolfSSL_new(use);
    if (held)
        wolfSSL_CTX_free(use); /* the SSL now holds its own reference */
    return ssl;
}

BW_BRIDGE_EXPORT void SSL_free(WOLFSSL *ssl)
{
    if (ssl == NULL)
        return;
    bw_bridge_release(ssl);
    wolfSSL_free(ssl);
}

/* CivetWeb's first call on a freshly accepted connection: the framework's admission check (the
 * per-address connection cap) runs here, before the handshake costs anything. A refused
 * connection fails like a bad socket; CivetWeb then frees the object and closes the socket. */
BW_BRIDGE_EXPORT int SSL_set_fd(WOLFSSL *ssl, int fd)
{
    if (ssl == NULL || fd < 0) {
        bw_bridge_put_error(BW_BRIDGE_E_ARG);
        return 0;
    }
    if (bw_bridge_admit(ssl, fd) != 0) {
        bw_bridge_put_error(BW_BRIDGE_E_REFUSED);
        return 0;
    }
    /* On failure an admission token stays with the object; SSL_free releases it. */
    return wolfSSL_set_fd(ssl, fd) == WOLFSSL_SUCCESS ? 1 : 0;
}

BW_BRIDGE_EXPORT int SSL_accept(WOLFSSL *ssl)
{
    if (ssl == NULL)
        return -1;
    return wolfSSL_accept(ssl) == WOLFSSL_SUCCESS ? 1 : -1;
}

BW_BRIDGE_EXPORT int SSL_connect(WOLFSSL *ssl)
{
    if (ssl == NULL)
        return -1;
    return wolfSSL_connect(ssl) == WOLFSSL_SUCCESS ? 1 : -1;
}

/* Like OpenSSL, a read returns at most the rest of one record: callers see partial reads and
 * use SSL_pending for what is already decrypted. */
BW_BRIDGE_EXPORT int SSL_read(WOLFSSL *ssl, void *buf, int num)
{
    if (ssl == NULL || buf == NULL || num < 0)
        return -1;
    return minus_one_if_negative(wolfSSL_read(ssl, buf, num));
}

/* Without SSL_MODE_ENABLE_PARTIAL_WRITE (CivetWeb never sets it) both libraries report success
 * only once all `num` bytes are sent; after WANT_WRITE the caller retries with the same
 * arguments, which wolfSSL also requires. */
BW_BRIDGE_EXPORT int SSL_write(WOLFSSL *ssl, const void *buf, int num)
{
    if (ssl == NULL || buf == NULL || num < 0)
        return -1;
    return minus_one_if_negative(wolfSSL_write(ssl, buf, num));
}

BW_BRIDGE_EXPORT int SSL_get_error(const WOLFSSL *ssl, int ret)
{
    int err;

    if (ret > 0)
        return BW_OSSL_ERROR_NONE;
    if (ssl == NULL)
        return BW_OSSL_ERROR_SSL;
    /* wolfSSL_get_error does not modify the object; its prototype just lacks the const. */
    err = wolfSSL_get_error((WOLFSSL *)ssl, ret);
    switch (err) {
    case WOLFSSL_ERROR_WANT_READ:
        return BW_OSSL_ERROR_WANT_READ;
    case WOLFSSL_ERROR_WANT_WRITE:
        return BW_OSSL_ERROR_WANT_WRITE;
    case WOLFSSL_ERROR_ZERO_RETURN:
        return BW_OSSL_ERROR_ZERO_RETURN;
    case WOLFSSL_ERROR_WANT_CONNECT:
        return BW_OSSL_ERROR_WANT_CONNECT;
    case WOLFSSL_ERROR_WANT_ACCEPT:
        return BW_OSSL_ERROR_WANT_ACCEPT;
    case WOLFSSL_ERROR_WANT_X509_LOOKUP:
        return BW_OSSL_ERROR_WANT_X509_LOOKUP;
    /* The transport failed or the peer closed without close_notify: OpenSSL 1.1 says SYSCALL
     * (with errno, or 0 for end of file). */
    case WOLFSSL_ERROR_SYSCALL:
    case SOCKET_ERROR_E:
    case SOCKET_PEER_CLOSED_E:
        return BW_OSSL_ERROR_SYSCALL;
    case WOLFSSL_ERROR_NONE:
        /* Nothing recorded although the call failed: OpenSSL reports ZERO_RETURN once the
         * peer's close_notify has arrived and SYSCALL otherwise. */
        if ((wolfSSL_get_shutdown(ssl) & WOLFSSL_RECEIVED_SHUTDOWN) != 0)
            return BW_OSSL_ERROR_ZERO_RETURN;
        return BW_OSSL_ERROR_SYSCALL;
    default:
        return BW_OSSL_ERROR_SSL;
    }
}

BW_BRIDGE_EXPORT int SSL_pending(const WOLFSSL *ssl)
{
    int n;

    if (ssl == NULL)
        return 0;
    n = wolfSSL_pending((WOLFSSL *)ssl);
    return n < 0 ? 0 : n;
}

/* OpenSSL: 0 when our close_notify is sent but the peer's has not arrived, 1 when both have,
 * -1 on failure (SSL_get_error tells WANT_READ / WANT_WRITE from real errors). */
BW_BRIDGE_EXPORT int SSL_shutdown(WOLFSSL *ssl)
{
    int flags;
    int ret;

    if (ssl == NULL)
        return -1;
    flags = wolfSSL_get_shutdown(ssl);
    if ((flags & WOLFSSL_SENT_SHUTDOWN) != 0 && (flags & WOLFSSL_RECEIVED_SHUTDOWN) == 0) {
        /* Second call: wait for the peer's close_notify. wolfSSL answers "not done" here even
         * when the socket would block or has failed, and records neither; reading (and, like
         * OpenSSL, discarding application data) leaves the real state for SSL_get_error. */
        unsigned char sink[1024];
        int r = 0;
        for (int i = 0; i < MAX_SHUTDOWN_READS; i++) {
            r = wolfSSL_read(ssl, sink, (int)sizeof(sink));
            if (r <= 0)
                break;
        }
        if (r <= 0 && wolfSSL_get_error(ssl, r) == WOLFSSL_ERROR_ZERO_RETURN)
            return 1;
        return -1;
    }
    ret = wolfSSL_shutdown(ssl);
    if (ret == WOLFSSL_SUCCESS)
        return 1;
    if (ret == WOLFSSL_SHUTDOWN_NOT_DONE)
        return 0;
    return -1;
}

BW_BRIDGE_EXPORT const char *SSL_get_version(const WOLFSSL *ssl)
{
    const char *v;

    /* OpenSSL never returns NULL here; callers print the result unchecked. */
    if (ssl == NULL)
        return "unknown";
    v = wolfSSL_get_version(ssl);
    return v != NULL ? v : "unknown";
}

BW_BRIDGE_EXPORT const WOLFSSL_CIPHER *SSL_get_current_cipher(const WOLFSSL *ssl)
{
    if (ssl == NULL)
        return NULL;
    return wolfSSL_get_current_cipher((WOLFSSL *)ssl);
}

BW_BRIDGE_EXPORT const char *SSL_CIPHER_get_name(const WOLFSSL_CIPHER *cipher)
{
    const char *name;

    /* OpenSSL's answer for "no cipher". */
    if (cipher == NULL)
        return "(NONE)";
    name = wolfSSL_CIPHER_get_name(cipher);
    return name != NULL ? name : "(NONE)";
}

/* Returns a new reference (OpenSSL 1.1 semantics): the caller frees it with X509_free. */
BW_BRIDGE_EXPORT WOLFSSL_X509 *SSL_get_peer_certificate(const WOLFSSL *ssl)
{
    if (ssl == NULL)
        return NULL;
    return wolfSSL_get_peer_certificate((WOLFSSL *)ssl);
}

BW_BRIDGE_EXPORT int SSL_set_ex_data(WOLFSSL *ssl, int idx, void *data)
{
    if (ssl == NULL || idx < 0 || idx == BW_BRIDGE_EX_ADMISSION)
        return 0;
    return wolfSSL_set_ex_data(ssl, idx, data) == WOLFSSL_SUCCESS ? 1 : 0;
}

BW_BRIDGE_EXPORT void *SSL_get_ex_data(const WOLFSSL *ssl, int idx)
{
    if (ssl == NULL || idx < 0 || idx == BW_BRIDGE_EX_ADMISSION)
        return NULL;
    return wolfSSL_get_ex_data(ssl, idx);
}

BW_BRIDGE_EXPORT const char *SSL_get_servername(const WOLFSSL *ssl, int type)
{
    /* Only host_name (0) exists. */
    if (ssl == NULL || type != 0)
        return NULL;
    return wolfSSL_get_servername((WOLFSSL *)ssl, WOLFSSL_SNI_HOST_NAME);
}

/* Called by CivetWeb's SNI callback with the context it holds; a reload may have replaced it. */
BW_BRIDGE_EXPORT WOLFSSL_CTX *SSL_set_SSL_CTX(WOLFSSL *ssl, WOLFSSL_CTX *ctx)
{
    WOLFSSL_CTX *use, *now;
    int held = 0;

    if (ssl == NULL || ctx == NULL)
        return NULL;
    use = bw_bridge_ctx_resolve(ctx, &held);
    now = wolfSSL_set_SSL_CTX(ssl, use);
    if (held)
        wolfSSL_CTX_free(use);
    return now;
}

BW_BRIDGE_EXPORT long SSL_ctrl(WOLFSSL *ssl, int cmd, long larg, void *parg)
{
    (void)larg;
    if (ssl == NULL)
        return 0;
    if (cmd == CTRL_SET_TLSEXT_HOSTNAME) {
        const char *name = parg;
        size_t len;

        if (name == NULL)
            return 0;
        len = strnlen(name, MAX_HOST_NAME + 1);
        if (len == 0 || len > MAX_HOST_NAME)
            return 0;
        return wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, name, (unsigned short)len) ==
                       WOLFSSL_SUCCESS
                   ? 1
                   : 0;
    }
    return 0;
}
