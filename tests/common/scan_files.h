/*
 * Searching every byte a process left on disk for strings that must not be there (secrets) or
 * must be (canaries): each regular file under a directory, recursively, read whole and searched
 * as raw bytes. Symbolic links are neither followed nor read. Test code; single-threaded.
 */
#ifndef BW_TEST_SCAN_FILES_H
#define BW_TEST_SCAN_FILES_H

#include <stddef.h>

/* One byte string to look for. label names it in reports; it is never printed as the bytes
 * (a secret found in a file should not end up in the test log too). */
typedef struct bw_needle {
    const char *label;
    const unsigned char *bytes;
    size_t len; /* > 0 */
} bw_needle;

/* Called once per (file, needle) pair that matches, with the offset of the first match. */
typedef void (*bw_scan_hit_fn)(void *ctx, const char *path, size_t needle_index, size_t offset);

/* Called once per file read, with its size (may be NULL). */
typedef void (*bw_scan_file_fn)(void *ctx, const char *path, size_t size);

/* Searches len bytes at data (named path in reports) for each of the n needles; calls hit for
 * each needle found. Returns how many needles were found. */
size_t bw_scan_buffer(const char *path, const void *data, size_t len, const bw_needle *needles,
                      size_t n, bw_scan_hit_fn hit, void *ctx);

/* bw_scan_buffer over every regular file under root (root itself may be a file), calling
 * on_file for each (may be NULL). Files larger than 256 MiB are an error. Returns the number
 * of files read, or -1 when the tree cannot be walked or a file cannot be read (the walk
 * stops there; a message says which). */
long bw_scan_tree(const char *root, const bw_needle *needles, size_t n, bw_scan_hit_fn hit,
                  bw_scan_file_fn on_file, void *ctx);

#endif
