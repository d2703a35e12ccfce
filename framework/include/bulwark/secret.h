/* Secrets: references to keys kept outside the config ("file:PATH" or
 * "env:NAME"), loaded into sodium_malloc'd memory and wiped after use. */
#ifndef BULWARK_SECRET_H
#define BULWARK_SECRET_H

#include <stddef.h>

/* Largest secret bw_secret_load accepts, in bytes. */
#define BW_SECRET_MAX_BYTES (64u * 1024u)

/* A reference to a secret, never the secret itself: "file:PATH" (relative
 * paths are relative to data_dir) or "env:NAME". */
typedef struct bw_secret_ref {
    char *ref;
} bw_secret_ref;

/* Checks that s[0..len) is a valid reference: "file:" with a non-empty path
 * free of control characters, or "env:" with a name of [A-Za-z_][A-Za-z0-9_]*.
 * Anything else (a literal secret) is refused. Returns 0, or -1 with the
 * reason in err; the message never repeats the input. */
int bw_secret_ref_parse(const char *s, size_t len, char *err, size_t errlen);

/* Reads the secret named by ref (a NUL-terminated reference) into
 * sodium_malloc'd memory; *out and *outlen receive it. A file must be a
 * regular file that neither group nor others can access (mode & 077 == 0),
 * of at most BW_SECRET_MAX_BYTES; one trailing newline is stripped. An env
 * variable must be set. An empty secret is refused. data_dir may be NULL
 * (relative paths then resolve against the working directory). Returns 0, or
 * -1 with the reason in err (which names the reference, never the value).
 * The caller frees *out with bw_secret_free. */
int bw_secret_load(const char *ref, const char *data_dir, unsigned char **out, size_t *outlen,
                   char *err, size_t errlen);

/* Wipes len bytes at p and frees memory from bw_secret_load. NULL is a no-op. */
void bw_secret_free(unsigned char *p, size_t len);

/* Creates path with O_CREAT|O_EXCL, mode 0600, holding nbytes (1..4096) of
 * fresh random bytes hex-encoded plus a newline, synced to disk together with
 * its directory entry. Returns 1 when it created the file, 0 when the file
 * already existed (it is never overwritten), -1 with the reason in err. */
int bw_secret_generate_file(const char *path, size_t nbytes, char *err, size_t errlen);

#endif
