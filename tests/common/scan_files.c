/* Byte searches over whole directory trees; see scan_files.h. */
#include "scan_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCAN_MAX_FILE ((size_t)256 * 1024 * 1024)
#define SCAN_MAX_DEPTH 32
#define SCAN_PATH_MAX 4096

typedef struct scan {
    const bw_needle *needles;
    size_t n;
    bw_scan_hit_fn hit;
    bw_scan_file_fn on_file;
    void *ctx;
    long files;
} scan;

size_t bw_scan_buffer(const char *path, const void *data, size_t len, const bw_needle *needles,
                      size_t n, bw_scan_hit_fn hit, void *ctx)
{
    size_t found = 0;

    for (size_t i = 0; i < n; i++) {
        const unsigned char *at;

        if (needles[i].len == 0 || needles[i].len > len)
            continue;
        at = memmem(data, len, needles[i].bytes, needles[i].len);
        if (at == NULL)
            continue;
        found++;
        if (hit != NULL)
            hit(ctx, path, i, (size_t)(at - (const unsigned char *)data));
    }
    return found;
}

/* Reads the regular file open on fd (size bytes at the time of fstat; a file that grew since
 * is read to its end anyway). Returns a malloc'd buffer and its length, or NULL. */
static unsigned char *read_fd(int fd, size_t size, size_t *len)
{
    size_t cap = size + 1, used = 0;
    unsigned char *p = malloc(cap);

    if (p == NULL)
        return NULL;
    for (;;) {
        ssize_t r;

        if (used == cap) {
            unsigned char *q;

            if (cap > SCAN_MAX_FILE) {
                free(p);
                return NULL;
            }
            q = realloc(p, cap * 2);
            if (q == NULL) {
                free(p);
                return NULL;
            }
            p = q;
            cap *= 2;
        }
        r = read(fd, p + used, cap - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(p);
            return NULL;
        }
        if (r == 0)
            break;
        used += (size_t)r;
    }
    *len = used;
    return p;
}

static int scan_file(scan *s, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    unsigned char *data;
    size_t len = 0;

    if (fd < 0 || fstat(fd, &st) != 0 || (size_t)st.st_size > SCAN_MAX_FILE) {
        fprintf(stderr, "[scan] cannot read %s\n", path);
        if (fd >= 0)
            (void)close(fd);
        return -1;
    }
    data = read_fd(fd, (size_t)st.st_size, &len);
    (void)close(fd);
    if (data == NULL) {
        fprintf(stderr, "[scan] cannot read %s\n", path);
        return -1;
    }
    s->files++;
    if (s->on_file != NULL)
        s->on_file(s->ctx, path, len);
    (void)bw_scan_buffer(path, data, len, s->needles, s->n, s->hit, s->ctx);
    free(data);
    return 0;
}

static int scan_path(scan *s, const char *path, int depth)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    int rc = 0;

    if (lstat(path, &st) != 0) {
        fprintf(stderr, "[scan] cannot stat %s\n", path);
        return -1;
    }
    if (S_ISREG(st.st_mode))
        return scan_file(s, path);
    if (!S_ISDIR(st.st_mode))
        return 0; /* links, sockets, fifos: nothing a process wrote bytes into */
    if (depth >= SCAN_MAX_DEPTH) {
        fprintf(stderr, "[scan] too deep: %s\n", path);
        return -1;
    }
    d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "[scan] cannot open %s\n", path);
        return -1;
    }
    while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
        char child[SCAN_PATH_MAX];
        int k;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        k = snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
        if (k < 0 || (size_t)k >= sizeof(child)) {
            fprintf(stderr, "[scan] path too long under %s\n", path);
            rc = -1;
            break;
        }
        rc = scan_path(s, child, depth + 1);
    }
    if (rc == 0 && errno != 0) {
        fprintf(stderr, "[scan] cannot list %s\n", path);
        rc = -1;
    }
    (void)closedir(d);
    return rc;
}

long bw_scan_tree(const char *root, const bw_needle *needles, size_t n, bw_scan_hit_fn hit,
                  bw_scan_file_fn on_file, void *ctx)
{
    scan s = {needles, n, hit, on_file, ctx, 0};

    return scan_path(&s, root, 0) == 0 ? s.files : -1;
}
