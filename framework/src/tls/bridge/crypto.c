/* libcrypto bridge: the error queue, certificate inspection, digests and the allocator that
 * CivetWeb uses through libcrypto.so. Memory returned to the caller (BN_bn2hex, i2d_X509 with
 * *out == NULL, X509_NAME_oneline with buf == NULL) comes from wolfSSL's allocator and is
 * released with CRYPTO_free, as OpenSSL requires. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bridge.h"

/* OpenSSL documents ERR_error_string's buffer as at least 256 bytes. */
enum { ERR_STRING_LEN = 256 };

BW_BRIDGE_EXPORT unsigned long ERR_get_error(void)
{
    return wolfSSL_ERR_get_error();
}

BW_BRIDGE_EXPORT void ERR_clear_error(void)
{
    wolfSSL_ERR_clear_error();
}

static const char *const bridge_reasons[] = {
    [BW_BRIDGE_E_ARG - BW_BRIDGE_E_FIRST] = "invalid argument",
    [BW_BRIDGE_E_METHOD - BW_BRIDGE_E_FIRST] = "not a TLS_server_method/TLS_client_method",
    [BW_BRIDGE_E_CERT_FILE - BW_BRIDGE_E_FIRST] = "cannot load certificate file",
    [BW_BRIDGE_E_KEY_FILE - BW_BRIDGE_E_FIRST] = "cannot load private key file",
    [BW_BRIDGE_E_CHAIN_FILE - BW_BRIDGE_E_FIRST] = "cannot load certificate chain file",
    [BW_BRIDGE_E_VERIFY_LOCATIONS - BW_BRIDGE_E_FIRST] = "cannot load CA certificates",
    [BW_BRIDGE_E_KEY_MISMATCH - BW_BRIDGE_E_FIRST] = "certificate and private key do not match",
    [BW_BRIDGE_E_CIPHER_LIST - BW_BRIDGE_E_FIRST] = "no usable cipher in the list",
    [BW_BRIDGE_E_REFUSED - BW_BRIDGE_E_FIRST] = "connection refused by the admission check",
};

/* "error:<code>:<library>:<reason>", close to OpenSSL's layout. With buf == NULL OpenSSL uses
 * one static buffer; here it is per thread, so concurrent CivetWeb workers logging errors do
 * not overwrite each other's text. */
BW_BRIDGE_EXPORT char *ERR_error_string(unsigned long e, char *buf)
{
    static _Thread_local char own[ERR_STRING_LEN];
    char *out = buf != NULL ? buf : own;
    char wolf_reason[WOLFSSL_MAX_ERROR_SZ];
    const char *lib = "wolfSSL";
    const char *reason;

    if (e >= BW_BRIDGE_E_FIRST && e <= BW_BRIDGE_E_LAST) {
        lib = "bulwark TLS bridge";
        reason = bridge_reasons[e - BW_BRIDGE_E_FIRST];
    } else {
        /* wolfSSL writes at most WOLFSSL_MAX_ERROR_SZ bytes, NUL included. */
        (void)wolfSSL_ERR_error_string(e, wolf_reason);
        wolf_reason[sizeof(wolf_reason) - 1] = '\0';
        reason = wolf_reason;
    }
    /* At most ~120 bytes: never truncated, and snprintf terminates the buffer either way. */
    if (snprintf(out, ERR_STRING_LEN, "error:%08lX:%s:%s", e, lib, reason) < 0)
        out[0] = '\0';
    return out;
}

BW_BRIDGE_EXPORT void CONF_modules_unload(int all)
{
    /* wolfSSL has no configuration modules. */
    (void)all;
}

BW_BRIDGE_EXPORT void X509_free(WOLFSSL_X509 *x)
{
    if (x != NULL)
        wolfSSL_X509_free(x);
}

BW_BRIDGE_EXPORT WOLFSSL_X509_NAME *X509_get_subject_name(const WOLFSSL_X509 *x)
{
    if (x == NULL)
        return NULL;
    return wolfSSL_X509_get_subject_name((WOLFSSL_X509 *)x);
}

BW_BRIDGE_EXPORT WOLFSSL_X509_NAME *X509_get_issuer_name(const WOLFSSL_X509 *x)
{
    if (x == NULL)
        return NULL;
    return wolfSSL_X509_get_issuer_name((WOLFSSL_X509 *)x);
}

/* "/C=../O=../CN=.." into buf (truncated to size), or a new string when buf is NULL. */
BW_BRIDGE_EXPORT char *X509_NAME_oneline(const WOLFSSL_X509_NAME *name, char *buf, int size)
{
    if (name == NULL || (buf != NULL && size <= 0))
        return NULL;
    return wolfSSL_X509_NAME_oneline((WOLFSSL_X509_NAME *)name, buf, buf != NULL ? size : 0);
}

/* Owned by the certificate, as in OpenSSL. */
BW_BRIDGE_EXPORT WOLFSSL_ASN1_INTEGER *X509_get_serialNumber(WOLFSSL_X509 *x)
{
    if (x == NULL)
        return NULL;
    return wolfSSL_X509_get_serialNumber(x);
}

BW_BRIDGE_EXPORT WOLFSSL_BIGNUM *ASN1_INTEGER_to_BN(const WOLFSSL_ASN1_INTEGER *ai,
                                                    WOLFSSL_BIGNUM *bn)
{
    if (ai == NULL)
        return NULL;
    return wolfSSL_ASN1_INTEGER_to_BN(ai, bn);
}

BW_BRIDGE_EXPORT char *BN_bn2hex(const WOLFSSL_BIGNUM *bn)
{
    if (bn == NULL)
        return NULL;
    return wolfSSL_BN_bn2hex(bn);
}

BW_BRIDGE_EXPORT void BN_free(WOLFSSL_BIGNUM *bn)
{
    if (bn != NULL)
        wolfSSL_BN_free(bn);
}

/* OpenSSL 1.1 declares CRYPTO_free(ptr, file, line); CivetWeb passes only ptr. */
BW_BRIDGE_EXPORT void CRYPTO_free(void *ptr, const char *file, int line)
{
    (void)file;
    (void)line;
    if (ptr != NULL)
        wolfSSL_OPENSSL_free(ptr);
}

BW_BRIDGE_EXPORT const WOLFSSL_EVP_MD *EVP_get_digestbyname(const char *name)
{
    if (name == NULL)
        return NULL;
    return wolfSSL_EVP_get_digestbyname(name);
}

BW_BRIDGE_EXPORT int EVP_Digest(const void *data, size_t count, unsigned char *md,
                                unsigned int *size, const WOLFSSL_EVP_MD *type, void *impl)
{
    (void)impl;
    if ((data == NULL && count != 0) || md == NULL || type == NULL || count > INT_MAX)
        return 0;
    return wolfSSL_EVP_Digest(data, (int)count, md, size, type, NULL) == WOLFSSL_SUCCESS ? 1 : 0;
}

/* DER encoding, OpenSSL 1.1 semantics: returns the length; with out == NULL only measures;
 * with *out == NULL allocates (free with CRYPTO_free) and leaves *out at the start; otherwise
 * writes at *out and advances it past the encoding. -1 on error. */
BW_BRIDGE_EXPORT int i2d_X509(WOLFSSL_X509 *x, unsigned char **out)
{
    const unsigned char *der;
    int len = 0;

    if (x == NULL)
        return -1;
    der = wolfSSL_X509_get_der(x, &len);
    if (der == NULL || len <= 0)
        return -1;
    if (out == NULL)
        return len;
    if (*out == NULL) {
        unsigned char *p = wolfSSL_OPENSSL_malloc((size_t)len);
        if (p == NULL)
            return -1;
        memcpy(p, der, (size_t)len);
        *out = p;
        return len;
    }
    memcpy(*out, der, (size_t)len);
    *out += len;
    return len;
}
