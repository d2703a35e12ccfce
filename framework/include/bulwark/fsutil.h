/* Small file-system helpers for the files Bulwark writes itself (secrets,
 * certificates): complete writes and durable directory entries. */
#ifndef BULWARK_FSUTIL_H
#define BULWARK_FSUTIL_H

#include <stddef.h>

/* Writes all len bytes to fd, retrying short writes and EINTR. 0 or -1. */
int bw_fs_write_all(int fd, const void *p, size_t len);

/* fsync of the directory that holds `path`, so a newly created entry
 * survives a crash. 0 or -1 (errno set). */
int bw_fs_sync_parent(const char *path);

/* Creates path with mode 0600 if it does not exist (whatever the umask; an existing file
 * keeps its mode): databases that hold secrets' hashes and audit records. 0, or -1 with a
 * message naming path in err. */
int bw_fs_create_private(const char *path, char *err, size_t errlen);

#endif
