/* Secret references ("file:PATH", "env:NAME"): checking, loading into
 * sodium_malloc'd memory, and generating key files. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bulwark/fsutil.h"
#include "bulwark/secret.h"

#define FILE_PREFIX "file:"
#define ENV_PREFIX "env:"
#define MAX_REF 4096
#define MAX_ENV_NAME 255
#define MAX_GENERATE 4096

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

int bw_secret_ref_parse(const char *s, size_t len, char *err, size_t errlen)
{
    if (s != NULL && has_prefix(s, len, FILE_PREFIX)) {
        size_t n = strlen(FILE_PREFIX);
        if (len == n || len > MAX_REF) {
            (void)snprintf(err, errlen, "a file: reference needs a path of 1 to %d bytes",
                           MAX_REF - (int)n);
            return -1;
        }
        for (size_t i = n; i < len; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (ch < 0x20 || ch == 0x7f) {
                (void)snprintf(err, errlen,
                               "a file: reference must not contain control "
                               "characters");
                return -1;
            }
        }
        return 0;
    }
    if (s != NULL && has_prefix(s, len, ENV_PREFIX)) {
        size_t n = strlen(ENV_PREFIX);
        bool ok = len > n && len - n <= MAX_ENV_NAME && !(s[n] >= '0' && s[n] <= '9');
        for (size_t i = n; ok && i < len; i++) {
            char ch = s[i];
            ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                 ch == '_';
        }
        if (!ok) {
            (void)snprintf(err, errlen,
                           "an env: reference needs a variable name of "
                           "[A-Za-z_][A-Za-z0-9_]*");
            return -1;
        }
        return 0;
    }
    (void)snprintf(err, errlen,
                   "a literal secret is not allowed; use \"file:PATH\" or \"env:NAME\"");
    return -1;
}

/* Copies src into sodium_malloc'd memory. */
static int secure_copy(const unsigned char *src, size_t len, unsigned char **out)
{
    unsigned char *p = sodium_malloc(len);
    if (p == NULL)
        return -1;
    memcpy(p, src, len);
    *out = p;
    return 0;
}

static int load_env(const char *name, unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        (void)snprintf(err, errlen, "env:%s: the variable is not set or empty", name);
        return -1;
    }
    size_t len = strnlen(v, (size_t)BW_SECRET_MAX_BYTES + 1);
    if (len > (size_t)BW_SECRET_MAX_BYTES) {
        (void)snprintf(err, errlen, "env:%s: larger than %u bytes", name, BW_SECRET_MAX_BYTES);
        return -1;
    }
    if (secure_copy((const unsigned char *)v, len, out) != 0) {
        (void)snprintf(err, errlen, "env:%s: out of memory", name);
        return -1;
    }
    *outlen = len;
    return 0;
}

/* Reads all of fd (at most cap bytes) into p; -1 if it holds more. */
static ssize_t read_all(int fd, unsigned char *p, size_t cap)
{
    size_t used = 0;
    for (;;) {
        unsigned char extra;
        ssize_t n = used < cap ? read(fd, p + used, cap - used) : read(fd, &extra, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n > 0 && used == cap))
            return -1;
        if (n == 0)
            return (ssize_t)used;
        used += (size_t)n;
    }
}

static int load_file(const char *path, const char *data_dir, unsigned char **out, size_t *outlen,
                     char *err, size_t errlen)
{
    char full[4096];
    int n = (path[0] == '/' || data_dir == NULL)
                ? snprintf(full, sizeof(full), "%s", path)
                : snprintf(full, sizeof(full), "%s/%s", data_dir, path);
    if (n < 0 || (size_t)n >= sizeof(full)) {
        (void)snprintf(err, errlen, "file:%s: path too long", path);
        return -1;
    }
    /* O_NONBLOCK: a FIFO must not hang start-up before the regular-file check
     * (regular files ignore the flag). */
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        (void)snprintf(err, errlen, "file:%s: cannot open %s: %s", path, full, strerror(errno));
        return -1;
    }
    struct stat st;
    int rc = -1;
    unsigned char *p = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        (void)snprintf(err, errlen, "file:%s: not a regular file", path);
    } else if ((st.st_mode & 077) != 0) {
        (void)snprintf(err, errlen,
                       "file:%s: accessible by group or others (mode %04o); run chmod 600 %s", path,
                       (unsigned)(st.st_mode & 07777), full);
    } else if (st.st_size > (off_t)BW_SECRET_MAX_BYTES) {
        (void)snprintf(err, errlen, "file:%s: larger than %u bytes", path, BW_SECRET_MAX_BYTES);
    } else if (st.st_size == 0) {
        (void)snprintf(err, errlen, "file:%s: the file is empty", path);
    } else if ((p = sodium_malloc((size_t)st.st_size)) == NULL) {
        (void)snprintf(err, errlen, "file:%s: out of memory", path);
    } else {
        ssize_t got = read_all(fd, p, (size_t)st.st_size);
        size_t len = got > 0 ? (size_t)got : 0;
        if (len > 0 && p[len - 1] == '\n')
            len--;
        if (got < 0)
            (void)snprintf(err, errlen, "file:%s: cannot read it (or it changed while read)", path);
        else if (len == 0)
            (void)snprintf(err, errlen, "file:%s: the file is empty", path);
        else
            rc = 0;
        if (rc == 0) {
            *out = p;
            *outlen = len;
        } else {
            bw_secret_free(p, (size_t)st.st_size);
        }
    }
    close(fd);
    return rc;
}

int bw_secret_load(const char *ref, const char *data_dir, unsigned char **out, size_t *outlen,
                   char *err, size_t errlen)
{
    *out = NULL;
    *outlen = 0;
    if (ref == NULL || bw_secret_ref_parse(ref, strlen(ref), err, errlen) != 0) {
        if (ref == NULL)
            (void)snprintf(err, errlen, "no secret reference given");
        return -1;
    }
    if (sodium_init() < 0) {
        (void)snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    if (has_prefix(ref, strlen(ref), ENV_PREFIX))
        return load_env(ref + strlen(ENV_PREFIX), out, outlen, err, errlen);
    return load_file(ref + strlen(FILE_PREFIX), data_dir, out, outlen, err, errlen);
}

void bw_secret_free(unsigned char *p, size_t len)
{
    if (p == NULL)
        return;
    sodium_memzero(p, len);
    sodium_free(p);
}

int bw_secret_generate_file(const char *path, size_t nbytes, char *err, size_t errlen)
{
    if (path == NULL || path[0] == '\0' || nbytes == 0 || nbytes > MAX_GENERATE) {
        (void)snprintf(err, errlen, "secret generation needs a path and 1 to %d bytes",
                       MAX_GENERATE);
        return -1;
    }
    if (sodium_init() < 0) {
        (void)snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    if (fd < 0 && errno == EEXIST)
        return 0;
    if (fd < 0) {
        (void)snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    size_t hexlen = nbytes * 2 + 1; /* nbytes <= MAX_GENERATE: no overflow */
    unsigned char *raw = sodium_malloc(nbytes);
    char *hex = sodium_malloc(hexlen + 1);
    int rc = -1;
    if (raw == NULL || hex == NULL) {
        (void)snprintf(err, errlen, "%s: out of memory", path);
    } else {
        randombytes_buf(raw, nbytes);
        sodium_bin2hex(hex, hexlen, raw, nbytes);
        hex[hexlen - 1] = '\n';
        /* fchmod: a restrictive umask may only lower the mode, but be exact. */
        if (fchmod(fd, 0600) != 0 || bw_fs_write_all(fd, hex, hexlen) != 0 || fsync(fd) != 0)
            (void)snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        else
            rc = 0;
    }
    if (raw != NULL)
        bw_secret_free(raw, nbytes);
    if (hex != NULL)
        bw_secret_free((unsigned char *)hex, hexlen + 1);
    if (close(fd) != 0 && rc == 0) {
        (void)snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && bw_fs_sync_parent(path) != 0) {
        (void)snprintf(err, errlen, "%s: cannot sync its directory: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        (void)unlink(path); /* never leave a partial key behind */
        return -1;
    }
    return 1;
}
