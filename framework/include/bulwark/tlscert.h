/* TLS certificates: the start-up checks of a certificate chain and its key,
 * and a self-signed development certificate. */
#ifndef BULWARK_TLSCERT_H
#define BULWARK_TLSCERT_H

#include <stddef.h>

/* Largest certificate or key file accepted, in bytes. */
#define BW_TLS_CERT_MAX_FILE (1024u * 1024u)

/* Longest validity bw_tls_cert_generate_dev accepts, in days (the CA/Browser
 * Forum's old ceiling; clients may refuse longer ones). */
#define BW_TLS_CERT_MAX_DAYS 825

/* Facts about a certificate/key pair, for start-up checks, logs and the
 * expiry metric. */
typedef struct bw_tls_cert_info {
    long long not_before; /* Unix seconds */
    long long not_after;
    long long days_left; /* floor((not_after - now) / 86400); negative when expired */
    char serial[80];     /* hex, lowercase, no separators */
    char subject[256];   /* one-line form, e.g. "/CN=localhost"; control bytes shown as '?' */
} bw_tls_cert_info;

/* Checks a PEM certificate chain and its private key before the server uses
 * them, in this order: the key file must be a regular file that neither group
 * nor others can read or write (mode & 077 == 0); the chain must hold at least
 * one certificate, every certificate must parse, and each one must be issued
 * by the next (leaf first); the key must parse (unencrypted PEM) and match the
 * leaf's public key; the leaf must be valid at `now` (Unix seconds). Both files
 * are bounded to BW_TLS_CERT_MAX_FILE bytes; symbolic links are followed (as
 * certbot's live/ directory needs) and the target is checked. info (may be
 * NULL) is zeroed, then filled as soon as the leaf parses, so an expired or
 * mismatched certificate can still be logged. Returns 0, or -1 with the reason
 * in err, which names the file at fault and never repeats key material. Key
 * bytes are read into locked memory and wiped. */
int bw_tls_cert_check(const char *cert_path, const char *key_path, long long now,
                      bw_tls_cert_info *info, char *err, size_t errlen);

/* Writes a self-signed development certificate and its key: ECDSA P-256,
 * CN=localhost, subjectAltName DNS:localhost, IP:127.0.0.1 and IP:::1,
 * basicConstraints CA:FALSE, keyUsage digitalSignature, extKeyUsage
 * serverAuth, a random positive 16-byte serial, valid from one hour ago for
 * `days` days (1..BW_TLS_CERT_MAX_DAYS), signed with ECDSA-SHA256. The key is
 * written as PEM (SEC1 "EC PRIVATE KEY") with mode 0600, the certificate as
 * PEM with mode 0644; both are created with O_CREAT|O_EXCL|O_NOFOLLOW and
 * synced to disk. An existing file (or symbolic link) at either path is never
 * overwritten: that is an error. Returns 0, or -1 with the reason in err; on
 * error neither file is left behind. Key material is wiped after use. */
int bw_tls_cert_generate_dev(const char *cert_path, const char *key_path, int days, char *err,
                             size_t errlen);

#endif
