/* Does a private key belong to a certificate? The public key is derived
 * from the private key and compared with the certificate's. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "bulwark/err.h"
#include "cert_internal.h"

/* Big enough for any public key we compare: RSA up to 8192 bits (1 KiB
 * modulus) plus its encoding, an uncompressed P-521 point. */
#define PUB_MAX 2048
#define RSA_E_MAX 16

/* Key types as wolfSSL_X509_get_pubkey_type reports them. */
enum { KEY_RSA = RSAk, KEY_EC = ECDSAk };

/* Exports key's public point, uncompressed, into out (PUB_MAX bytes). */
static int ec_point(ecc_key *key, unsigned char *out, word32 *len)
{
    *len = PUB_MAX;
    return wc_ecc_export_x963(key, out, len) == 0 ? 0 : -1;
}

/* The public point stored in a key file is not trusted: it is derived from
 * the private scalar, and a stored point that differs makes the file
 * inconsistent (refused). */
static int ec_match(const unsigned char *priv, size_t priv_len, const unsigned char *spki,
                    size_t spki_len)
{
    ecc_key mine;
    ecc_key theirs;
    unsigned char stored[PUB_MAX];
    unsigned char derived[PUB_MAX];
    unsigned char cert_point[PUB_MAX];
    word32 stored_len = 0;
    word32 derived_len = 0;
    word32 cert_len = 0;
    word32 idx = 0;
    word32 pidx = 0;
    if (wc_ecc_init(&mine) != 0)
        return -1;
    if (wc_ecc_init(&theirs) != 0) {
        (void)wc_ecc_free(&mine);
        return -1;
    }
    bool ok = wc_EccPrivateKeyDecode(priv, &idx, &mine, (word32)priv_len) == 0 &&
              wc_EccPublicKeyDecode(spki, &pidx, &theirs, (word32)spki_len) == 0 &&
              mine.dp != NULL && theirs.dp != NULL && mine.dp->id == theirs.dp->id;
    if (ok && mine.type == ECC_PRIVATEKEY) /* the file holds a public point too */
        ok = ec_point(&mine, stored, &stored_len) == 0;
    ok = ok && wc_ecc_make_pub(&mine, NULL) == 0 && ec_point(&mine, derived, &derived_len) == 0 &&
         ec_point(&theirs, cert_point, &cert_len) == 0 && derived_len == cert_len &&
         memcmp(derived, cert_point, cert_len) == 0;
    if (ok && stored_len != 0)
        ok = stored_len == derived_len && memcmp(stored, derived, derived_len) == 0;
    (void)wc_ecc_free(&mine); /* wipes the private scalar */
    (void)wc_ecc_free(&theirs);
    return ok ? 0 : -1;
}

static int rsa_match(const unsigned char *priv, size_t priv_len, const unsigned char *spki,
                     size_t spki_len)
{
    RsaKey mine;
    RsaKey theirs;
    unsigned char n1[PUB_MAX];
    unsigned char n2[PUB_MAX];
    unsigned char e1[RSA_E_MAX];
    unsigned char e2[RSA_E_MAX];
    word32 n1_len = sizeof(n1);
    word32 n2_len = sizeof(n2);
    word32 e1_len = sizeof(e1);
    word32 e2_len = sizeof(e2);
    word32 idx = 0;
    word32 pidx = 0;
    int rc = -1;
    if (wc_InitRsaKey(&mine, NULL) != 0)
        return -1;
    if (wc_InitRsaKey(&theirs, NULL) != 0) {
        (void)wc_FreeRsaKey(&mine);
        return -1;
    }
    if (wc_RsaPrivateKeyDecode(priv, &idx, &mine, (word32)priv_len) == 0 &&
        wc_RsaPublicKeyDecode(spki, &pidx, &theirs, (word32)spki_len) == 0 &&
        wc_RsaFlattenPublicKey(&mine, e1, &e1_len, n1, &n1_len) == 0 &&
        wc_RsaFlattenPublicKey(&theirs, e2, &e2_len, n2, &n2_len) == 0 && e1_len == e2_len &&
        n1_len == n2_len && memcmp(e1, e2, e1_len) == 0 && memcmp(n1, n2, n1_len) == 0)
        rc = 0;
    (void)wc_FreeRsaKey(&mine); /* wipes the private parts */
    (void)wc_FreeRsaKey(&theirs);
    return rc;
}

int bw_tls_cert_key_match(WOLFSSL_X509 *leaf, const unsigned char *pem, size_t len,
                          const char *key_path, char *err, size_t errlen)
{
    if (len > (size_t)INT_MAX) {
        bw_err_set(err, errlen, "key file %s: too large", key_path);
        return -1;
    }
    unsigned char spki[PUB_MAX];
    int spki_len = (int)sizeof(spki);
    int type = wolfSSL_X509_get_pubkey_type(leaf);
    if ((type != KEY_EC && type != KEY_RSA) ||
        wolfSSL_X509_get_pubkey_buffer(leaf, spki, &spki_len) != WOLFSSL_SUCCESS || spki_len <= 0 ||
        (size_t)spki_len > sizeof(spki)) {
        bw_err_set(err, errlen,
                   "key file %s: the certificate's public key is not an EC or RSA key; only "
                   "those are supported",
                   key_path);
        return -1;
    }
    /* DER is shorter than its PEM form: len bytes are enough. */
    unsigned char *der = sodium_malloc(len);
    if (der == NULL) {
        bw_err_set(err, errlen, "key file %s: out of memory", key_path);
        return -1;
    }
    int rc = -1;
    int der_len = wc_KeyPemToDer(pem, (int)len, der, (int)len, NULL);
    if (der_len <= 0) {
        bw_err_set(err, errlen,
                   "key file %s: does not parse as an unencrypted PEM private key (an encrypted "
                   "key is not supported)",
                   key_path);
    } else {
        /* A PKCS#8 wrapper is skipped; SEC1 and PKCS#1 keys have none. */
        word32 offset = 0;
        if (wc_GetPkcs8TraditionalOffset(der, &offset, (word32)der_len) < 0 ||
            offset >= (word32)der_len)
            offset = 0;
        const unsigned char *inner = der + offset;
        size_t inner_len = (size_t)der_len - offset;
        int match = type == KEY_EC ? ec_match(inner, inner_len, spki, (size_t)spki_len)
                                   : rsa_match(inner, inner_len, spki, (size_t)spki_len);
        if (match != 0)
            bw_err_set(err, errlen,
                       "key file %s: does not match the public key of the leaf certificate",
                       key_path);
        else
            rc = 0;
    }
    sodium_memzero(der, len);
    sodium_free(der);
    return rc;
}
