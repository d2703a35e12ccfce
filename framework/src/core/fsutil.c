#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/err.h"
#include "bulwark/fsutil.h"

int bw_fs_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int bw_fs_sync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL || slash == path ? 1 : (size_t)(slash - path);
    int fd, rc;

    if (n >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, slash == NULL ? "." : path, n);
    dir[n] = '\0';
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    (void)close(fd);
    return rc;
}

/* The fchmod undoes whatever the umask removed. */
int bw_fs_create_private(const char *path, char *err, size_t errlen)
{
    int fd;

    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return 0;
        bw_err_set(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    if (fchmod(fd, 0600) != 0) {
        bw_err_set(err, errlen, "%s: chmod 0600: %s", path, strerror(errno));
        (void)close(fd);
        (void)unlink(path);
        return -1;
    }
    if (close(fd) != 0) {
        bw_err_set(err, errlen, "%s: close: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
