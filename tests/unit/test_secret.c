/* Unit tests for secret references, loading and key-file generation. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include "bulwark/secret.h"

/* A private temporary folder per test (tests/common: bw_tmpdir_create). */
static char *tmpdir;

static int make_tmpdir(void **state)
{
    (void)state;
    tmpdir = bw_tmpdir_create();
    return tmpdir != NULL ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    int rc = bw_rm_rf(tmpdir);
    free(tmpdir);
    tmpdir = NULL;
    return rc == 0 ? 0 : -1;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    (void)unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static char *read_text(const char *path, size_t *len)
{
    static char buf[16384];
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n >= 0);
    assert_int_equal(close(fd), 0);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* ---- References ---- */

static void test_ref_parse(void **state)
{
    (void)state;
    static const char *const good[] = {"file:secrets/session.key",
                                       "file:/run/secrets/k",
                                       "file:x",
                                       "env:SESSION_KEY",
                                       "env:_k1",
                                       "env:a"};
    char err[256];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (bw_secret_ref_parse(good[i], strlen(good[i]), err, sizeof(err)) != 0)
            fail_msg("%s refused: %s", good[i], err);
    }
    typedef struct {
        const char *ref;
        const char *error;
    } bad_case;
    static const bad_case bad[] = {
        {"hunter2", "a literal secret is not allowed; use \"file:PATH\" or \"env:NAME\""},
        {"", "a literal secret is not allowed; use \"file:PATH\" or \"env:NAME\""},
        {"File:x", "a literal secret is not allowed; use \"file:PATH\" or \"env:NAME\""},
        {"ENV:X", "a literal secret is not allowed; use \"file:PATH\" or \"env:NAME\""},
        {"file", "a literal secret is not allowed; use \"file:PATH\" or \"env:NAME\""},
        {"file:", "a file: reference needs a path of 1 to 4091 bytes"},
        {"file:a\nb", "a file: reference must not contain control characters"},
        {"file:a\x7f", "a file: reference must not contain control characters"},
        {"env:", "an env: reference needs a variable name of [A-Za-z_][A-Za-z0-9_]*"},
        {"env:1ABC", "an env: reference needs a variable name of [A-Za-z_][A-Za-z0-9_]*"},
        {"env:A-B", "an env: reference needs a variable name of [A-Za-z_][A-Za-z0-9_]*"},
        {"env:A B", "an env: reference needs a variable name of [A-Za-z_][A-Za-z0-9_]*"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(bw_secret_ref_parse(bad[i].ref, strlen(bad[i].ref), err, sizeof(err)), -1);
        assert_string_equal(err, bad[i].error);
    }
    /* Explicit length: bytes after len are not looked at, a NUL inside is refused. */
    assert_int_equal(bw_secret_ref_parse("env:OK junk", 6, err, sizeof(err)), 0);
    assert_int_equal(bw_secret_ref_parse("file:a\0b", 8, err, sizeof(err)), -1);
    assert_int_equal(bw_secret_ref_parse(NULL, 0, err, sizeof(err)), -1);

    /* Length bounds: a 4096-byte reference passes, 4097 does not; env names up to 255. */
    char *ref = malloc(4098);
    assert_non_null(ref);
    memcpy(ref, "file:", 5);
    memset(ref + 5, 'a', 4092);
    assert_int_equal(bw_secret_ref_parse(ref, 4096, err, sizeof(err)), 0);
    assert_int_equal(bw_secret_ref_parse(ref, 4097, err, sizeof(err)), -1);
    memcpy(ref, "env:", 4);
    memset(ref + 4, 'A', 256);
    assert_int_equal(bw_secret_ref_parse(ref, 4 + 255, err, sizeof(err)), 0);
    assert_int_equal(bw_secret_ref_parse(ref, 4 + 256, err, sizeof(err)), -1);
    free(ref);
}

/* ---- Loading from files ---- */

static void test_load_file(void **state)
{
    (void)state;
    char path[128], ref[160], err[512];
    unsigned char *v = NULL;
    size_t len = 0;
    (void)snprintf(path, sizeof(path), "%s/k1", tmpdir);
    write_file(path, "abc\n\n", 5, 0600);

    /* Relative to data_dir; exactly one trailing newline is stripped. */
    assert_int_equal(bw_secret_load("file:k1", tmpdir, &v, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(v, "abc\n", 4);
    bw_secret_free(v, len);

    /* Absolute path ignores data_dir; no newline means nothing stripped. */
    write_file(path, "xyz", 3, 0400);
    (void)snprintf(ref, sizeof(ref), "file:%s", path);
    assert_int_equal(bw_secret_load(ref, "/nonexistent", &v, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "xyz", 3);
    bw_secret_free(v, len);

    /* Binary content is kept as is. */
    const unsigned char bin[] = {0x00, 0xff, 0x0a, 0x00};
    write_file(path, bin, sizeof(bin), 0600);
    assert_int_equal(bw_secret_load(ref, NULL, &v, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(v, bin, 4);
    bw_secret_free(v, len);
}

static void test_load_file_refused(void **state)
{
    (void)state;
    char path[128], ref[160], err[512], want[512];
    unsigned char *v = (unsigned char *)(uintptr_t)1;
    size_t len = 99;
    (void)snprintf(path, sizeof(path), "%s/k2", tmpdir);
    (void)snprintf(ref, sizeof(ref), "file:%s", path);

    static const mode_t loose[] = {0640, 0604, 0620, 0602, 0610,
                                   0601, 0644, 0660, 0666, 0700 | 0070};
    for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
        write_file(path, "key", 3, loose[i]);
        assert_int_equal(bw_secret_load(ref, NULL, &v, &len, err, sizeof(err)), -1);
        (void)snprintf(want, sizeof(want),
                       "%s: accessible by group or others (mode %04o); run chmod 600 %s", ref,
                       (unsigned)loose[i], path);
        assert_string_equal(err, want);
        assert_null(v);
        assert_int_equal(len, 0);
    }
    /* The owner may have any bits. */
    write_file(path, "key", 3, 0700);
    assert_int_equal(bw_secret_load(ref, NULL, &v, &len, err, sizeof(err)), 0);
    bw_secret_free(v, len);

    /* Size: 64 KiB is the limit. */
    size_t max = BW_SECRET_MAX_BYTES;
    unsigned char *big = malloc(max + 1);
    assert_non_null(big);
    memset(big, 'k', max + 1);
    write_file(path, big, max, 0600);
    assert_int_equal(bw_secret_load(ref, NULL, &v, &len, err, sizeof(err)), 0);
    assert_int_equal(len, max);
    bw_secret_free(v, len);
    write_file(path, big, max + 1, 0600);
    assert_int_equal(bw_secret_load(ref, NULL, &v, &len, err, sizeof(err)), -1);
    (void)snprintf(want, sizeof(want), "%s: larger than 65536 bytes", ref);
    assert_string_equal(err, want);
    free(big);

    /* Empty, or only a newline. */
    write_file(path, "", 0, 0600);
    assert_int_equal(bw_secret_load(ref, NULL, &v, &len, err, sizeof(err)), -1);
    (void)snprintf(want, sizeof(want), "%s: the file is empty", ref);
    assert_string_equal(err, want);
    write_file(path, "\n", 1, 0600);
    assert_int_equal(bw_secret_load(ref, NULL, &v, &len, err, sizeof(err)), -1);
    assert_string_equal(err, want);

    /* Missing file, a directory, a literal. */
    assert_int_equal(bw_secret_load("file:nope", tmpdir, &v, &len, err, sizeof(err)), -1);
    (void)snprintf(want, sizeof(want), "file:nope: cannot open %s/nope: %s", tmpdir,
                   strerror(ENOENT));
    assert_string_equal(err, want);
    (void)snprintf(ref, sizeof(ref), "file:%s", tmpdir);
    assert_int_equal(bw_secret_load(ref, NULL, &v, &len, err, sizeof(err)), -1);
    (void)snprintf(want, sizeof(want), "%s: not a regular file", ref);
    assert_string_equal(err, want);
    char fifo[128];
    (void)snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    (void)snprintf(ref, sizeof(ref), "file:%s", fifo);
    assert_int_equal(bw_secret_load(ref, NULL, &v, &len, err, sizeof(err)), -1);
    (void)snprintf(want, sizeof(want), "%s: not a regular file", ref);
    assert_string_equal(err, want);
    assert_int_equal(bw_secret_load("hunter2", NULL, &v, &len, err, sizeof(err)), -1);
    assert_null(strstr(err, "hunter2"));
    assert_int_equal(bw_secret_load(NULL, NULL, &v, &len, err, sizeof(err)), -1);
    assert_string_equal(err, "no secret reference given");
    bw_secret_free(NULL, 0);
}

/* ---- Loading from the environment ---- */

static void test_load_env(void **state)
{
    (void)state;
    unsigned char *v = NULL;
    size_t len = 0;
    char err[256];
    assert_int_equal(setenv("BW_TEST_KEY", "value-123\n", 1), 0);
    assert_int_equal(bw_secret_load("env:BW_TEST_KEY", NULL, &v, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 10); /* env values are taken verbatim */
    assert_memory_equal(v, "value-123\n", 10);
    bw_secret_free(v, len);

    assert_int_equal(setenv("BW_TEST_KEY", "", 1), 0);
    assert_int_equal(bw_secret_load("env:BW_TEST_KEY", NULL, &v, &len, err, sizeof(err)), -1);
    assert_string_equal(err, "env:BW_TEST_KEY: the variable is not set or empty");
    assert_int_equal(unsetenv("BW_TEST_KEY"), 0);
    assert_int_equal(bw_secret_load("env:BW_TEST_KEY", NULL, &v, &len, err, sizeof(err)), -1);
    assert_string_equal(err, "env:BW_TEST_KEY: the variable is not set or empty");
    assert_null(v);

    char *big = malloc(BW_SECRET_MAX_BYTES + 2);
    assert_non_null(big);
    memset(big, 'v', BW_SECRET_MAX_BYTES + 1);
    big[BW_SECRET_MAX_BYTES + 1] = '\0';
    assert_int_equal(setenv("BW_TEST_KEY", big, 1), 0);
    assert_int_equal(bw_secret_load("env:BW_TEST_KEY", NULL, &v, &len, err, sizeof(err)), -1);
    assert_string_equal(err, "env:BW_TEST_KEY: larger than 65536 bytes");
    big[BW_SECRET_MAX_BYTES] = '\0';
    assert_int_equal(setenv("BW_TEST_KEY", big, 1), 0);
    assert_int_equal(bw_secret_load("env:BW_TEST_KEY", NULL, &v, &len, err, sizeof(err)), 0);
    assert_int_equal(len, BW_SECRET_MAX_BYTES);
    bw_secret_free(v, len);
    free(big);
    assert_int_equal(unsetenv("BW_TEST_KEY"), 0);
}

/* ---- Generating key files ---- */

static void test_generate(void **state)
{
    (void)state;
    char path[128], other[128], err[256];
    (void)snprintf(path, sizeof(path), "%s/gen.key", tmpdir);
    (void)snprintf(other, sizeof(other), "%s/gen2.key", tmpdir);

    /* Even a permissive umask gives 0600. */
    mode_t old = umask(0);
    assert_int_equal(bw_secret_generate_file(path, 32, err, sizeof(err)), 1);
    umask(old);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    size_t len;
    char first[128];
    const char *text = read_text(path, &len);
    assert_int_equal(len, 65);
    assert_int_equal(text[64], '\n');
    for (size_t i = 0; i < 64; i++)
        assert_non_null(strchr("0123456789abcdef", text[i]));
    memcpy(first, text, len + 1);

    /* Never overwritten. */
    assert_int_equal(bw_secret_generate_file(path, 16, err, sizeof(err)), 0);
    text = read_text(path, &len);
    assert_string_equal(text, first);

    /* Fresh randomness each time. */
    assert_int_equal(bw_secret_generate_file(other, 32, err, sizeof(err)), 1);
    text = read_text(other, &len);
    assert_int_equal(len, 65);
    assert_string_not_equal(text, first);

    /* It loads back as the hex text (the newline stripped). */
    char ref[160];
    unsigned char *v = NULL;
    size_t vlen = 0;
    (void)snprintf(ref, sizeof(ref), "file:%s", path);
    assert_int_equal(bw_secret_load(ref, NULL, &v, &vlen, err, sizeof(err)), 0);
    assert_int_equal(vlen, 64);
    assert_memory_equal(v, first, 64);
    bw_secret_free(v, vlen);

    /* A symlink at the path is not followed and nothing is written through it. */
    char link[128], target[128];
    (void)snprintf(link, sizeof(link), "%s/link.key", tmpdir);
    (void)snprintf(target, sizeof(target), "%s/target", tmpdir);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(bw_secret_generate_file(link, 32, err, sizeof(err)), 0);
    assert_int_equal(access(target, F_OK), -1);

    /* Errors. */
    assert_int_equal(bw_secret_generate_file(path, 0, err, sizeof(err)), -1);
    assert_string_equal(err, "secret generation needs a path and 1 to 4096 bytes");
    assert_int_equal(bw_secret_generate_file(path, 4097, err, sizeof(err)), -1);
    assert_int_equal(bw_secret_generate_file("", 32, err, sizeof(err)), -1);
    assert_int_equal(bw_secret_generate_file(NULL, 32, err, sizeof(err)), -1);
    char missing[160];
    (void)snprintf(missing, sizeof(missing), "%s/no/such/dir.key", tmpdir);
    assert_int_equal(bw_secret_generate_file(missing, 32, err, sizeof(err)), -1);
    char want[256];
    (void)snprintf(want, sizeof(want), "%s: cannot create: %s", missing, strerror(ENOENT));
    assert_string_equal(err, want);

    /* Largest size, and a relative path (created in the working directory). */
    char big[128];
    (void)snprintf(big, sizeof(big), "%s/big.key", tmpdir);
    assert_int_equal(bw_secret_generate_file(big, 4096, err, sizeof(err)), 1);
    text = read_text(big, &len);
    assert_int_equal(len, 8193);
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(tmpdir), 0);
    assert_int_equal(bw_secret_generate_file("rel.key", 8, err, sizeof(err)), 1);
    assert_int_equal(chdir(cwd), 0);
    (void)snprintf(path, sizeof(path), "%s/rel.key", tmpdir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 17);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_parse),         cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_file_refused), cmocka_unit_test(test_load_env),
        cmocka_unit_test(test_generate),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
