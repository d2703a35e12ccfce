/* The start-up checks of a TLS certificate chain and its private key: file
 * permissions, chain parsing and order, key match, validity at a given time. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bulwark/err.h"
#include "bulwark/tlscert.h"
#include "cert_internal.h"

#define DAY_SECONDS 86400LL
#define TAG_UTC_TIME 0x17
#define TAG_GENERALIZED_TIME 0x18
#define MAX_SERIAL_BYTES 39 /* fills bw_tls_cert_info.serial in hex */

static const char PEM_BEGIN_CERT[] = "-----BEGIN CERTIFICATE-----";
static const char PEM_END_CERT[] = "-----END CERTIFICATE-----";

/* A file read whole: key files live in sodium_malloc'd (locked) memory. */
typedef struct file_buf {
    unsigned char *data;
    size_t len;
    bool secret;
} file_buf;

static void file_buf_free(file_buf *f)
{
    if (f->data == NULL)
        return;
    if (f->secret) {
        sodium_memzero(f->data, f->len);
        sodium_free(f->data);
    } else {
        free(f->data);
    }
    f->data = NULL;
    f->len = 0;
}

/* Reads exactly len bytes; -1 on error, short read or extra bytes (the file
 * changed while read). */
static int read_exact(int fd, unsigned char *p, size_t len)
{
    size_t used = 0;
    for (;;) {
        unsigned char extra;
        ssize_t n = used < len ? read(fd, p + used, len - used) : read(fd, &extra, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n > 0 && used == len))
            return -1;
        if (n == 0)
            return used == len ? 0 : -1;
        used += (size_t)n;
    }
}

/* Reads path (a regular file of 1..BW_TLS_CERT_MAX_FILE bytes) into out.
 * what names the file in messages ("certificate" or "key"). A secret file
 * must also be closed to group and others. */
static int read_file(const char *path, const char *what, bool secret, file_buf *out, char *err,
                     size_t errlen)
{
    out->data = NULL;
    out->len = 0;
    out->secret = secret;
    /* O_NONBLOCK: a FIFO must not hang start-up before the regular-file check. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        bw_err_set(err, errlen, "%s file %s: cannot open: %s", what, path, strerror(errno));
        return -1;
    }
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        bw_err_set(err, errlen, "%s file %s: not a regular file", what, path);
    } else if (secret && (st.st_mode & 077) != 0) {
        bw_err_set(err, errlen,
                   "%s file %s: readable or writable by group or others (mode %04o); run chmod "
                   "600 %s",
                   what, path, (unsigned)(st.st_mode & 07777), path);
    } else if (st.st_size <= 0) {
        bw_err_set(err, errlen, "%s file %s: the file is empty", what, path);
    } else if (st.st_size > (off_t)BW_TLS_CERT_MAX_FILE) {
        bw_err_set(err, errlen, "%s file %s: larger than %u bytes", what, path,
                   BW_TLS_CERT_MAX_FILE);
    } else {
        size_t len = (size_t)st.st_size;
        out->data = secret ? sodium_malloc(len) : malloc(len);
        if (out->data == NULL) {
            bw_err_set(err, errlen, "%s file %s: out of memory", what, path);
        } else if (read_exact(fd, out->data, len) != 0) {
            bw_err_set(err, errlen, "%s file %s: cannot read it (or it changed while read)", what,
                       path);
            out->len = len;
            file_buf_free(out);
        } else {
            out->len = len;
            rc = 0;
        }
    }
    (void)close(fd);
    return rc;
}

/* Finds the next PEM certificate block in p[*pos..len): its start and length.
 * Returns 1 when found, 0 when there is none, -1 for a block without its end
 * line. */
static int next_cert_block(const unsigned char *p, size_t len, size_t *pos, size_t *start,
                           size_t *blen)
{
    size_t begin_len = sizeof(PEM_BEGIN_CERT) - 1;
    size_t end_len = sizeof(PEM_END_CERT) - 1;
    const unsigned char *b = memmem(p + *pos, len - *pos, PEM_BEGIN_CERT, begin_len);
    if (b == NULL)
        return 0;
    size_t s = (size_t)(b - p);
    const unsigned char *e = memmem(b + begin_len, len - s - begin_len, PEM_END_CERT, end_len);
    if (e == NULL)
        return -1;
    size_t stop = (size_t)(e - p) + end_len;
    *start = s;
    *blen = stop - s;
    *pos = stop;
    return 1;
}

/* Parses every certificate of the chain and checks that each is issued by the
 * next. The leaf (the first) goes to *leaf_out, its PEM block to
 * *leaf_start and *leaf_len. */
static int parse_chain(const char *path, const file_buf *f, WOLFSSL_X509 **leaf_out,
                       size_t *leaf_start, size_t *leaf_len, char *err, size_t errlen)
{
    WOLFSSL_X509 *leaf = NULL;
    WOLFSSL_X509 *prev = NULL;
    size_t pos = 0;
    size_t count = 0;
    int rc = 0;
    for (;;) {
        size_t start = 0;
        size_t blen = 0;
        int found = next_cert_block(f->data, f->len, &pos, &start, &blen);
        if (found == 0)
            break;
        count++;
        if (found < 0) {
            bw_err_set(err, errlen, "certificate file %s: certificate %zu has no END line", path,
                       count);
            rc = -1;
            break;
        }
        /* blen fits an int: the file is at most BW_TLS_CERT_MAX_FILE bytes. */
        WOLFSSL_X509 *x =
            wolfSSL_X509_load_certificate_buffer(f->data + start, (int)blen, WOLFSSL_FILETYPE_PEM);
        if (x == NULL) {
            bw_err_set(err, errlen, "certificate file %s: certificate %zu does not parse", path,
                       count);
            rc = -1;
            break;
        }
        if (prev != NULL && wolfSSL_X509_NAME_cmp(wolfSSL_X509_get_issuer_name(prev),
                                                  wolfSSL_X509_get_subject_name(x)) != 0) {
            bw_err_set(err, errlen,
                       "certificate file %s: certificate %zu is not the issuer of certificate "
                       "%zu (the chain must be in order, leaf first)",
                       path, count, count - 1);
            wolfSSL_X509_free(x);
            rc = -1;
            break;
        }
        if (leaf == NULL) {
            leaf = x;
            *leaf_start = start;
            *leaf_len = blen;
        } else if (prev != leaf) {
            wolfSSL_X509_free(prev);
        }
        prev = x;
    }
    if (prev != NULL && prev != leaf)
        wolfSSL_X509_free(prev);
    if (rc == 0 && count == 0) {
        bw_err_set(err, errlen, "certificate file %s: holds no PEM certificate", path);
        rc = -1;
    }
    if (rc != 0) {
        if (leaf != NULL)
            wolfSSL_X509_free(leaf);
        return -1;
    }
    *leaf_out = leaf;
    return 0;
}

static bool two_digits(const unsigned char *p, int *out)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return false;
    *out = (p[0] - '0') * 10 + (p[1] - '0');
    return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Converts an X.509 Time (RFC 5280 4.1.2.5: UTCTime "YYMMDDHHMMSSZ" or
 * GeneralizedTime "YYYYMMDDHHMMSSZ") to Unix seconds. */
static int asn1_time_to_unix(const WOLFSSL_ASN1_TIME *t, long long *out)
{
    if (t == NULL || t->length < 0 || (size_t)t->length > sizeof(t->data))
        return -1;
    const unsigned char *p = t->data;
    size_t len = (size_t)t->length;
    int year;
    if (t->type == TAG_UTC_TIME && len == 13) {
        if (!two_digits(p, &year))
            return -1;
        year += year < 50 ? 2000 : 1900;
        p += 2;
    } else if (t->type == TAG_GENERALIZED_TIME && len == 15) {
        int hi;
        int lo;
        if (!two_digits(p, &hi) || !two_digits(p + 2, &lo))
            return -1;
        year = hi * 100 + lo;
        p += 4;
    } else {
        return -1;
    }
    int mon;
    int day;
    int hour;
    int min;
    int sec;
    if (!two_digits(p, &mon) || !two_digits(p + 2, &day) || !two_digits(p + 4, &hour) ||
        !two_digits(p + 6, &min) || !two_digits(p + 8, &sec) || p[10] != 'Z')
        return -1;
    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hour > 23 || min > 59 ||
        sec > 59)
        return -1;
    *out = days_from_civil(year, mon, day) * DAY_SECONDS + hour * 3600LL + min * 60LL + sec;
    return 0;
}

/* Formats Unix seconds as "YYYY-MM-DD HH:MM:SS UTC". */
static void format_time(long long t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if ((long long)tt != t || gmtime_r(&tt, &tm) == NULL ||
        strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        (void)snprintf(out, outlen, "@%lld", t);
}

/* floor(a / b) for b > 0. */
static long long floor_div(long long a, long long b)
{
    long long q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int fill_info_fields(const char *path, WOLFSSL_X509 *leaf, long long now,
                            bw_tls_cert_info *info, char *err, size_t errlen)
{
    if (asn1_time_to_unix(wolfSSL_X509_get_notBefore(leaf), &info->not_before) != 0 ||
        asn1_time_to_unix(wolfSSL_X509_get_notAfter(leaf), &info->not_after) != 0) {
        bw_err_set(err, errlen, "certificate file %s: the leaf's validity dates do not parse",
                   path);
        return -1;
    }
    /* Both sides come from 4-digit years and `now` from the caller: bound
     * the subtraction so it cannot overflow. */
    if (now < -(1LL << 50) || now > (1LL << 50)) {
        bw_err_set(err, errlen, "the current time %lld is out of range", now);
        return -1;
    }
    info->days_left = floor_div(info->not_after - now, DAY_SECONDS);

    unsigned char serial[MAX_SERIAL_BYTES];
    int serial_len = (int)sizeof(serial);
    if (wolfSSL_X509_get_serial_number(leaf, serial, &serial_len) != WOLFSSL_SUCCESS ||
        serial_len <= 0 || (size_t)serial_len > sizeof(serial)) {
        bw_err_set(err, errlen, "certificate file %s: the leaf's serial number does not parse",
                   path);
        return -1;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < (size_t)serial_len; i++) {
        info->serial[2 * i] = hex[serial[i] >> 4];
        info->serial[2 * i + 1] = hex[serial[i] & 0x0f];
    }
    info->serial[2 * (size_t)serial_len] = '\0';

    if (wolfSSL_X509_NAME_oneline(wolfSSL_X509_get_subject_name(leaf), info->subject,
                                  (int)sizeof(info->subject)) == NULL) {
        bw_err_set(err, errlen, "certificate file %s: the leaf's subject does not parse", path);
        return -1;
    }
    info->subject[sizeof(info->subject) - 1] = '\0';
    /* The subject goes to logs: no control bytes. */
    for (char *c = info->subject; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    }
    return 0;
}

/* Fills info from the leaf; on error info is left zeroed. */
static int fill_info(const char *path, WOLFSSL_X509 *leaf, long long now, bw_tls_cert_info *info,
                     char *err, size_t errlen)
{
    if (fill_info_fields(path, leaf, now, info, err, errlen) != 0) {
        memset(info, 0, sizeof(*info));
        return -1;
    }
    return 0;
}

/* Loads the leaf and the key into a throw-away context, as the server will
 * (wolfSSL also refuses keys below its minimum sizes there), then checks that
 * the key belongs to the leaf. */
static int check_key(const char *cert_path, const char *key_path, const file_buf *cert,
                     size_t leaf_start, size_t leaf_len, WOLFSSL_X509 *leaf, const file_buf *key,
                     char *err, size_t errlen)
{
    /* The lengths fit a long: both files are at most BW_TLS_CERT_MAX_FILE bytes. */
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
    if (ctx == NULL) {
        bw_err_set(err, errlen, "cannot create a TLS context to check the key");
        return -1;
    }
    int rc = -1;
    if (wolfSSL_CTX_use_certificate_buffer(ctx, cert->data + leaf_start, (long)leaf_len,
                                           WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
        bw_err_set(err, errlen, "certificate file %s: wolfSSL refuses the leaf certificate",
                   cert_path);
    } else if (wolfSSL_CTX_use_PrivateKey_buffer(ctx, key->data, (long)key->len,
                                                 WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
        bw_err_set(err, errlen,
                   "key file %s: does not parse as an unencrypted PEM private key (an "
                   "encrypted key is not supported)",
                   key_path);
    } else {
        rc = bw_tls_cert_key_match(leaf, key->data, key->len, key_path, err, errlen);
    }
    wolfSSL_CTX_free(ctx);
    return rc;
}

int bw_tls_cert_check(const char *cert_path, const char *key_path, long long now,
                      bw_tls_cert_info *info, char *err, size_t errlen)
{
    bw_tls_cert_info scratch;
    if (info == NULL)
        info = &scratch;
    memset(info, 0, sizeof(*info));
    if (cert_path == NULL || key_path == NULL || cert_path[0] == '\0' || key_path[0] == '\0') {
        bw_err_set(err, errlen, "TLS needs a certificate file and a key file");
        return -1;
    }
    if (sodium_init() < 0) {
        bw_err_set(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
        bw_err_set(err, errlen, "wolfSSL failed to initialise");
        return -1;
    }
    file_buf key = {0};
    file_buf cert = {0};
    WOLFSSL_X509 *leaf = NULL;
    size_t leaf_start = 0;
    size_t leaf_len = 0;
    int rc = -1;
    if (read_file(key_path, "key", true, &key, err, errlen) != 0 ||
        read_file(cert_path, "certificate", false, &cert, err, errlen) != 0 ||
        parse_chain(cert_path, &cert, &leaf, &leaf_start, &leaf_len, err, errlen) != 0 ||
        fill_info(cert_path, leaf, now, info, err, errlen) != 0 ||
        check_key(cert_path, key_path, &cert, leaf_start, leaf_len, leaf, &key, err, errlen) != 0)
        goto done;
    char when[64];
    if (now < info->not_before) {
        format_time(info->not_before, when, sizeof(when));
        bw_err_set(err, errlen, "certificate file %s: not valid before %s", cert_path, when);
    } else if (now > info->not_after) {
        format_time(info->not_after, when, sizeof(when));
        bw_err_set(err, errlen, "certificate file %s: expired on %s", cert_path, when);
    } else {
        rc = 0;
    }
done:
    if (leaf != NULL)
        wolfSSL_X509_free(leaf);
    file_buf_free(&key);
    file_buf_free(&cert);
    (void)wolfSSL_Cleanup();
    return rc;
}
