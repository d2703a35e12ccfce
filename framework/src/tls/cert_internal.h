/* Shared by the certificate files of the tls module only (cert.c,
 * cert_key.c). */
#ifndef BULWARK_TLS_CERT_INTERNAL_H
#define BULWARK_TLS_CERT_INTERNAL_H

#include <stddef.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

/* Checks that the PEM private key pem[0..len) belongs to the certificate
 * leaf, by deriving the public key from the private one (EC: the point from
 * the scalar; RSA: modulus and exponent) and comparing it with the
 * certificate's. wolfSSL_CTX_check_private_key cannot be relied on for this:
 * wolfSSL 5.5.4 as Debian builds it accepts an EC key of another pair.
 * Returns 0 on a match, -1 with the reason in err (which names key_path and
 * never repeats key material). Every decoded copy of the key is wiped. */
int bw_tls_cert_key_match(WOLFSSL_X509 *leaf, const unsigned char *pem, size_t len,
                          const char *key_path, char *err, size_t errlen);

#endif
