/* The self-signed development certificate: an ECDSA P-256 key and a
 * certificate for localhost, made with wolfCrypt and written exclusively. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bulwark/fsutil.h"
#include "bulwark/err.h"
#include "bulwark/tlscert.h"

#define SERIAL_BYTES 16
#define BACKDATE_SECONDS 3600
#define DAY_SECONDS 86400LL
#define CERT_DER_MAX 2048
#define PEM_MAX 4096
#define KEY_DER_MAX 512

static const char DEV_COMMON_NAME[] = "localhost";

/* GeneralNames for subjectAltName, DER: dNSName [2] "localhost",
 * iPAddress [7] 127.0.0.1, iPAddress [7] ::1. */
static const unsigned char DEV_ALT_NAMES[] = {
    0x30, 0x23,                                                      /* SEQUENCE, 35 bytes */
    0x82, 0x09, 'l',  'o',  'c',  'a',  'l',  'h',  'o',  's',  't', /* dNSName */
    0x87, 0x04, 0x7f, 0x00, 0x00, 0x01,                              /* iPAddress, IPv4 */
    0x87, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,      /* iPAddress, IPv6 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};

/* Encodes t as a DER Time (RFC 5280 4.1.2.5: UTCTime up to 2049,
 * GeneralizedTime from 2050) into out; returns its length or -1. */
static int encode_time(long long t, unsigned char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if ((long long)tt != t || gmtime_r(&tt, &tm) == NULL)
        return -1;
    int year = tm.tm_year + 1900;
    if (year < 1950 || year > 9999)
        return -1;
    bool utc = year < 2050;
    char text[16];
    int n = utc ? snprintf(text, sizeof(text), "%02d%02d%02d%02d%02d%02dZ", year % 100,
                           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
                : snprintf(text, sizeof(text), "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1,
                           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n != (utc ? 13 : 15) || (size_t)n + 2 > outlen)
        return -1;
    out[0] = utc ? 0x17 : 0x18;
    out[1] = (unsigned char)n;
    memcpy(out + 2, text, (size_t)n);
    return n + 2;
}

/* Fills everything in cert except the key-dependent parts. */
static int fill_cert(Cert *cert, WC_RNG *rng, long long now, int days)
{
    memcpy(cert->subject.commonName, DEV_COMMON_NAME, sizeof(DEV_COMMON_NAME));
    cert->subject.commonNameEnc = CTC_UTF8;
    cert->selfSigned = 1;
    cert->isCA = 0;
    cert->basicConstSet = 1; /* emit basicConstraints CA:FALSE rather than omit it */
    cert->sigType = CTC_SHA256wECDSA;

    /* 16 random bytes; top bit clear (a positive INTEGER), next bit set (so
     * the encoding is always exactly 16 bytes): 126 random bits. */
    if (wc_RNG_GenerateBlock(rng, cert->serial, SERIAL_BYTES) != 0)
        return -1;
    cert->serial[0] = (unsigned char)((cert->serial[0] & 0x3f) | 0x40);
    cert->serialSz = SERIAL_BYTES;

    long long not_before = now - BACKDATE_SECONDS;
    int n = encode_time(not_before, cert->beforeDate, sizeof(cert->beforeDate));
    if (n < 0)
        return -1;
    cert->beforeDateSz = n;
    n = encode_time(not_before + (long long)days * DAY_SECONDS, cert->afterDate,
                    sizeof(cert->afterDate));
    if (n < 0)
        return -1;
    cert->afterDateSz = n;

    memcpy(cert->altNames, DEV_ALT_NAMES, sizeof(DEV_ALT_NAMES));
    cert->altNamesSz = (int)sizeof(DEV_ALT_NAMES);

    if (wc_SetKeyUsage(cert, "digitalSignature") != 0 || wc_SetExtKeyUsage(cert, "serverAuth") != 0)
        return -1;
    return 0;
}

/* Makes the key pair and the signed certificate; PEM text into cert_pem and
 * key_pem, lengths into *cert_len and *key_len. */
static int make_pair(int days, char *cert_pem, size_t cert_cap, size_t *cert_len, char *key_pem,
                     size_t key_cap, size_t *key_len, char *err, size_t errlen)
{
    WC_RNG rng;
    ecc_key key;
    unsigned char der[CERT_DER_MAX];
    unsigned char key_der[KEY_DER_MAX];
    Cert *cert = NULL;
    bool rng_ok = false;
    bool key_ok = false;
    int rc = -1;

    if (wc_InitRng(&rng) != 0) {
        bw_err_set(err, errlen, "cannot initialise wolfCrypt's random number generator");
        goto done;
    }
    rng_ok = true;
    if (wc_ecc_init(&key) != 0) {
        bw_err_set(err, errlen, "cannot initialise an ECC key");
        goto done;
    }
    key_ok = true;
    if (wc_ecc_make_key_ex(&rng, 32, &key, ECC_SECP256R1) != 0 || wc_ecc_set_rng(&key, &rng) != 0) {
        bw_err_set(err, errlen, "cannot generate a P-256 key");
        goto done;
    }
    cert = wc_CertNew(NULL);
    if (cert == NULL) {
        bw_err_set(err, errlen, "out of memory");
        goto done;
    }
    time_t now = time(NULL);
    if (now == (time_t)-1 || fill_cert(cert, &rng, (long long)now, days) != 0 ||
        wc_SetSubjectKeyIdFromPublicKey_ex(cert, ECC_TYPE, &key) != 0) {
        bw_err_set(err, errlen, "cannot prepare the certificate");
        goto done;
    }
    int body = wc_MakeCert_ex(cert, der, sizeof(der), ECC_TYPE, &key, &rng);
    int der_len = body < 0 ? body
                           : wc_SignCert_ex(cert->bodySz, cert->sigType, der, sizeof(der), ECC_TYPE,
                                            &key, &rng);
    if (der_len <= 0) {
        bw_err_set(err, errlen, "cannot make the certificate (wolfCrypt error %d)", der_len);
        goto done;
    }
    int pem_len = wc_DerToPem(der, (word32)der_len, (byte *)cert_pem, (word32)cert_cap, CERT_TYPE);
    int key_der_len = wc_EccKeyToDer(&key, key_der, sizeof(key_der));
    int key_pem_len = key_der_len <= 0 ? -1
                                       : wc_DerToPem(key_der, (word32)key_der_len, (byte *)key_pem,
                                                     (word32)key_cap, ECC_PRIVATEKEY_TYPE);
    if (pem_len <= 0 || key_pem_len <= 0) {
        bw_err_set(err, errlen, "cannot encode the certificate or key as PEM");
        goto done;
    }
    *cert_len = (size_t)pem_len;
    *key_len = (size_t)key_pem_len;
    rc = 0;
done:
    sodium_memzero(key_der, sizeof(key_der));
    if (cert != NULL)
        wc_CertFree(cert);
    if (key_ok)
        (void)wc_ecc_free(&key); /* wipes the private scalar */
    if (rng_ok)
        (void)wc_FreeRng(&rng);
    return rc;
}

/* Creates path exclusively (never through a symbolic link) with exactly mode. */
static int create_exclusive(const char *path, mode_t mode, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
    if (fd < 0 && errno == EEXIST) {
        bw_err_set(err, errlen, "%s: already exists; refusing to overwrite it", path);
        return -1;
    }
    if (fd < 0) {
        bw_err_set(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    /* The umask may only have lowered the mode; make it exact. */
    if (fchmod(fd, mode) != 0) {
        bw_err_set(err, errlen, "%s: cannot set its mode: %s", path, strerror(errno));
        (void)close(fd);
        (void)unlink(path);
        return -1;
    }
    return fd;
}

/* Writes, syncs and closes fd; the fd is closed in every case. */
static int finish_file(int fd, const char *path, const char *data, size_t len, char *err,
                       size_t errlen)
{
    int rc = 0;
    if (bw_fs_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        bw_err_set(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        rc = -1;
    }
    if (close(fd) != 0 && rc == 0) {
        bw_err_set(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        rc = -1;
    }
    return rc;
}

int bw_tls_cert_generate_dev(const char *cert_path, const char *key_path, int days, char *err,
                             size_t errlen)
{
    if (cert_path == NULL || key_path == NULL || cert_path[0] == '\0' || key_path[0] == '\0') {
        bw_err_set(err, errlen, "a development certificate needs a certificate and a key path");
        return -1;
    }
    if (days < 1 || days > BW_TLS_CERT_MAX_DAYS) {
        bw_err_set(err, errlen, "a development certificate is valid for 1 to %d days, not %d",
                   BW_TLS_CERT_MAX_DAYS, days);
        return -1;
    }
    /* Both files are claimed before any key exists, so a refusal costs nothing
     * and leaves nothing behind. */
    int key_fd = create_exclusive(key_path, 0600, err, errlen);
    if (key_fd < 0)
        return -1;
    int cert_fd = create_exclusive(cert_path, 0644, err, errlen);
    if (cert_fd < 0) {
        (void)close(key_fd);
        (void)unlink(key_path);
        return -1;
    }

    char cert_pem[PEM_MAX];
    char key_pem[PEM_MAX];
    size_t cert_len = 0;
    size_t key_len = 0;
    int rc = make_pair(days, cert_pem, sizeof(cert_pem), &cert_len, key_pem, sizeof(key_pem),
                       &key_len, err, errlen);
    if (rc == 0) {
        rc = finish_file(key_fd, key_path, key_pem, key_len, err, errlen);
        key_fd = -1;
    }
    if (rc == 0) {
        rc = finish_file(cert_fd, cert_path, cert_pem, cert_len, err, errlen);
        cert_fd = -1;
    }
    sodium_memzero(key_pem, sizeof(key_pem));
    if (key_fd >= 0)
        (void)close(key_fd);
    if (cert_fd >= 0)
        (void)close(cert_fd);
    if (rc == 0 && (bw_fs_sync_parent(key_path) != 0 || bw_fs_sync_parent(cert_path) != 0)) {
        bw_err_set(err, errlen, "%s: cannot sync its directory: %s", key_path, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        /* Never leave a partial key or a certificate without its key behind. */
        (void)unlink(key_path);
        (void)unlink(cert_path);
        return -1;
    }
    return 0;
}
