/* Unit tests for the TLS certificate checks and the development certificate.
 * The openssl command is the independent judge of what we generate. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include "bulwark/tlscert.h"

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

/* tmpdir/name into buf (a per-call static would be overwritten). */
static const char *tmp_path(char *buf, size_t len, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", tmpdir, name);
    assert_true(n > 0 && (size_t)n < len);
    return buf;
}

/* Runs a shell command (stderr merged into stdout), captures its output into
 * out, and returns its exit status. */
__attribute__((format(printf, 3, 4))) static int run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    memcpy(cmd, "( ", 2);
    int n = vsnprintf(cmd + 2, sizeof(cmd) - 16, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(cmd) - 16);
    memcpy(cmd + 2 + n, " ) 2>&1", 8);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t used = 0;
    size_t got;
    char chunk[256];
    while ((got = fread(chunk, 1, sizeof(chunk), p)) > 0) {
        size_t room = cap - 1 - used; /* output past cap is read and dropped */
        size_t take = got < room ? got : room;
        memcpy(out + used, chunk, take);
        used += take;
    }
    out[used] = '\0';
    int status = pclose(p);
    assert_true(status != -1 && WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    (void)unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    if (len > 0)
        assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

/* Reads a whole (small) file into buf; returns its length. */
static size_t read_text(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, cap - 1);
    assert_true(n >= 0 && (size_t)n < cap - 1);
    assert_int_equal(close(fd), 0);
    buf[n] = '\0';
    return (size_t)n;
}

/* Generates a dev pair named base.crt / base.key in tmpdir. */
static void gen_pair(const char *base, int days, char *crt, char *key, size_t len)
{
    char name[64];
    (void)snprintf(name, sizeof(name), "%s.crt", base);
    tmp_path(crt, len, name);
    (void)snprintf(name, sizeof(name), "%s.key", base);
    tmp_path(key, len, name);
    (void)unlink(crt);
    (void)unlink(key);
    char err[512] = "";
    if (bw_tls_cert_generate_dev(crt, key, days, err, sizeof(err)) != 0)
        fail_msg("generate %s: %s", base, err);
}

/* A date printed by `openssl x509 -noout -<which> -dateopt iso_8601`
 * ("notAfter=2026-12-25 12:42:23Z"), as Unix seconds. */
static long long openssl_date(const char *crt, const char *which)
{
    char out[256];
    assert_int_equal(
        run(out, sizeof(out), "openssl x509 -in '%s' -noout -%s -dateopt iso_8601", crt, which), 0);
    const char *eq = strchr(out, '=');
    assert_non_null(eq);
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    assert_int_equal(sscanf(eq + 1, "%d-%d-%d %d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec),
                     6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm);
}

/* Makes a self-signed P-256 pair with the openssl command; key mode 0600. */
static void openssl_pair(const char *base, const char *subj, int days, char *crt, char *key,
                         size_t len)
{
    char name[64];
    (void)snprintf(name, sizeof(name), "%s.crt", base);
    tmp_path(crt, len, name);
    (void)snprintf(name, sizeof(name), "%s.key", base);
    tmp_path(key, len, name);
    char out[4096];
    int rc = run(out, sizeof(out),
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days %d "
                 "-subj '%s' -keyout '%s' -out '%s'",
                 days, subj, key, crt);
    if (rc != 0)
        fail_msg("openssl req: %s", out);
    assert_int_equal(chmod(key, 0600), 0);
}

/* Makes a self-signed pair of another key type ("rsa:2048", "ed25519"). */
static void openssl_pair_type(const char *base, const char *newkey, char *crt, char *key,
                              size_t len)
{
    char name[64];
    (void)snprintf(name, sizeof(name), "%s.crt", base);
    tmp_path(crt, len, name);
    (void)snprintf(name, sizeof(name), "%s.key", base);
    tmp_path(key, len, name);
    char out[4096];
    int rc = run(out, sizeof(out),
                 "openssl req -x509 -newkey %s -nodes -days 5 -subj '/CN=%s' -keyout '%s' -out "
                 "'%s'",
                 newkey, base, key, crt);
    if (rc != 0)
        fail_msg("openssl req: %s", out);
    assert_int_equal(chmod(key, 0600), 0);
}

static void expect_refused(const char *crt, const char *key, long long now, const char *needle)
{
    char err[512] = "";
    bw_tls_cert_info info;
    if (bw_tls_cert_check(crt, key, now, &info, err, sizeof(err)) != -1)
        fail_msg("accepted %s / %s, expected \"%s\"", crt, key, needle);
    if (strstr(err, needle) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void expect_ok(const char *crt, const char *key, long long now, bw_tls_cert_info *info)
{
    char err[512] = "";
    if (bw_tls_cert_check(crt, key, now, info, err, sizeof(err)) != 0)
        fail_msg("refused %s / %s: %s", crt, key, err);
}

/* ---- The development certificate ---- */

static void test_generate_and_check(void **state)
{
    (void)state;
    char crt[256];
    char key[256];
    long long before = (long long)time(NULL);
    gen_pair("dev", 30, crt, key, sizeof(crt));
    long long after = (long long)time(NULL);

    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(crt, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);

    bw_tls_cert_info info;
    long long now = (long long)time(NULL);
    expect_ok(crt, key, now, &info);
    assert_true(info.days_left == 29 || info.days_left == 30);
    assert_int_equal(info.not_after - info.not_before, 30LL * 86400);
    assert_in_range(info.not_before, before - 3600, after - 3600);
    assert_non_null(strstr(info.subject, "CN=localhost"));
    assert_int_equal(strlen(info.serial), 32);
    assert_int_equal(strspn(info.serial, "0123456789abcdef"), 32);
    assert_non_null(strchr("4567", info.serial[0])); /* positive, always 16 bytes */

    /* openssl agrees on the dates and the serial. */
    assert_int_equal(openssl_date(crt, "startdate"), info.not_before);
    assert_int_equal(openssl_date(crt, "enddate"), info.not_after);
    char out[8192];
    assert_int_equal(run(out, sizeof(out), "openssl x509 -in '%s' -noout -serial", crt), 0);
    assert_true(strncmp(out, "serial=", 7) == 0);
    assert_int_equal(strncasecmp(out + 7, info.serial, 32), 0);
    assert_true(out[7 + 32] == '\n');

    assert_int_equal(run(out, sizeof(out), "openssl x509 -in '%s' -noout -text", crt), 0);
    static const char *const expected[] = {"DNS:localhost",
                                           "IP Address:127.0.0.1",
                                           "IP Address:0:0:0:0:0:0:0:1",
                                           "Subject: CN = localhost",
                                           "Issuer: CN = localhost",
                                           "CA:FALSE",
                                           "Digital Signature",
                                           "TLS Web Server Authentication",
                                           "Signature Algorithm: ecdsa-with-SHA256"};
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        if (strstr(out, expected[i]) == NULL)
            fail_msg("openssl x509 -text lacks \"%s\":\n%s", expected[i], out);
    }
    assert_true(strstr(out, "prime256v1") != NULL || strstr(out, "P-256") != NULL);
    /* keyUsage must not also allow certificate or CRL signing. */
    assert_null(strstr(out, "Certificate Sign"));

    if (run(out, sizeof(out), "openssl verify -CAfile '%s' '%s'", crt, crt) != 0)
        fail_msg("openssl verify: %s", out);
    assert_non_null(strstr(out, ": OK"));
    if (run(out, sizeof(out), "openssl ec -in '%s' -check -noout", key) != 0)
        fail_msg("openssl ec: %s", out);
    assert_non_null(strstr(out, "EC Key valid."));
    char pem[4096];
    read_text(key, pem, sizeof(pem));
    assert_true(strncmp(pem, "-----BEGIN EC PRIVATE KEY-----\n", 31) == 0);

    /* info may be NULL, err may be NULL. */
    assert_int_equal(bw_tls_cert_check(crt, key, now, NULL, NULL, 0), 0);
}

static void test_generate_days_bounds(void **state)
{
    (void)state;
    static const int days[] = {1, BW_TLS_CERT_MAX_DAYS};
    for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
        char crt[256];
        char key[256];
        gen_pair("bounds", days[i], crt, key, sizeof(crt));
        bw_tls_cert_info info;
        expect_ok(crt, key, (long long)time(NULL), &info);
        assert_true(info.days_left == days[i] - 1 || info.days_left == days[i]);
        assert_int_equal(info.not_after - info.not_before, (long long)days[i] * 86400);
        assert_int_equal(openssl_date(crt, "enddate"), info.not_after);
    }
    static const int bad[] = {0, -1, BW_TLS_CERT_MAX_DAYS + 1, 100000};
    char crt[256];
    char key[256];
    tmp_path(crt, sizeof(crt), "baddays.crt");
    tmp_path(key, sizeof(key), "baddays.key");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        assert_int_equal(bw_tls_cert_generate_dev(crt, key, bad[i], err, sizeof(err)), -1);
        assert_non_null(strstr(err, "1 to 825 days"));
        assert_int_equal(access(crt, F_OK), -1);
        assert_int_equal(access(key, F_OK), -1);
    }
    char err[256] = "";
    assert_int_equal(bw_tls_cert_generate_dev(NULL, key, 30, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "needs a certificate and a key path"));
    assert_int_equal(bw_tls_cert_generate_dev(crt, "", 30, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "needs a certificate and a key path"));
}

static void test_serial_differs(void **state)
{
    (void)state;
    char crt1[256];
    char key1[256];
    char crt2[256];
    char key2[256];
    gen_pair("s1", 10, crt1, key1, sizeof(crt1));
    gen_pair("s2", 10, crt2, key2, sizeof(crt2));
    bw_tls_cert_info a;
    bw_tls_cert_info b;
    long long now = (long long)time(NULL);
    expect_ok(crt1, key1, now, &a);
    expect_ok(crt2, key2, now, &b);
    assert_int_equal(strlen(a.serial), 32);
    assert_int_equal(strlen(b.serial), 32);
    assert_string_not_equal(a.serial, b.serial);
    /* Two keys, too. */
    char k1[4096];
    char k2[4096];
    read_text(key1, k1, sizeof(k1));
    read_text(key2, k2, sizeof(k2));
    assert_string_not_equal(k1, k2);
}

static void test_generate_refuses_overwrite(void **state)
{
    (void)state;
    char crt[256];
    char key[256];
    gen_pair("keep", 30, crt, key, sizeof(crt));
    char before_crt[4096];
    char before_key[4096];
    read_text(crt, before_crt, sizeof(before_crt));
    read_text(key, before_key, sizeof(before_key));

    char err[512] = "";
    assert_int_equal(bw_tls_cert_generate_dev(crt, key, 30, err, sizeof(err)), -1);
    assert_non_null(strstr(err, key));
    assert_non_null(strstr(err, "refusing to overwrite"));

    /* A fresh key path but an existing certificate: refused, and the new key
     * file is not left behind. */
    char key2[256];
    tmp_path(key2, sizeof(key2), "keep2.key");
    assert_int_equal(bw_tls_cert_generate_dev(crt, key2, 30, err, sizeof(err)), -1);
    assert_non_null(strstr(err, crt));
    assert_non_null(strstr(err, "refusing to overwrite"));
    assert_int_equal(access(key2, F_OK), -1);

    /* The same path for both. */
    char same[256];
    tmp_path(same, sizeof(same), "same.pem");
    assert_int_equal(bw_tls_cert_generate_dev(same, same, 30, err, sizeof(err)), -1);
    assert_int_equal(access(same, F_OK), -1);

    /* A symbolic link at the key path is not followed. */
    char link[256];
    char target[256];
    tmp_path(link, sizeof(link), "link.key");
    tmp_path(target, sizeof(target), "target.txt");
    write_file(target, "precious\n", 9, 0644);
    (void)unlink(link);
    assert_int_equal(symlink(target, link), 0);
    char crt3[256];
    tmp_path(crt3, sizeof(crt3), "link.crt");
    assert_int_equal(bw_tls_cert_generate_dev(crt3, link, 30, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "refusing to overwrite"));
    char text[64];
    read_text(target, text, sizeof(text));
    assert_string_equal(text, "precious\n");
    assert_int_equal(access(crt3, F_OK), -1);

    /* A directory that does not exist. */
    char missing_dir_key[256];
    tmp_path(missing_dir_key, sizeof(missing_dir_key), "nodir/dev.key");
    assert_int_equal(bw_tls_cert_generate_dev(crt3, missing_dir_key, 30, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot create"));

    char after_crt[4096];
    char after_key[4096];
    read_text(crt, after_crt, sizeof(after_crt));
    read_text(key, after_key, sizeof(after_key));
    assert_string_equal(before_crt, after_crt);
    assert_string_equal(before_key, after_key);
}

/* ---- Refusals ---- */

static void test_key_permissions(void **state)
{
    (void)state;
    char crt[256];
    char key[256];
    gen_pair("perm", 30, crt, key, sizeof(crt));
    long long now = (long long)time(NULL);
    static const mode_t refused[] = {0640, 0604, 0660, 0602, 0620, 0644, 0606};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(chmod(key, refused[i]), 0);
        expect_refused(crt, key, now, "readable or writable by group or others");
        expect_refused(crt, key, now, key);
    }
    static const mode_t accepted[] = {0600, 0400};
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        assert_int_equal(chmod(key, accepted[i]), 0);
        bw_tls_cert_info info;
        expect_ok(crt, key, now, &info);
    }
    assert_int_equal(chmod(key, 0600), 0);

    /* certbot's live/ directory holds symbolic links: followed, and the
     * target's mode is what counts. */
    char link[256];
    tmp_path(link, sizeof(link), "perm-link.key");
    (void)unlink(link);
    assert_int_equal(symlink(key, link), 0);
    bw_tls_cert_info info;
    expect_ok(crt, link, now, &info);
    assert_int_equal(chmod(key, 0640), 0);
    expect_refused(crt, link, now, "readable or writable by group or others");
    assert_int_equal(chmod(key, 0600), 0);

    /* Not a regular file: a directory, a FIFO (must not hang). */
    expect_refused(crt, tmpdir, now, "not a regular file");
    char fifo[256];
    tmp_path(fifo, sizeof(fifo), "perm.fifo");
    (void)unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    expect_refused(crt, fifo, now, "not a regular file");
    expect_refused(fifo, key, now, "not a regular file");
    expect_refused(tmpdir, key, now, "not a regular file");
}

static void test_mismatched_key(void **state)
{
    (void)state;
    char crt1[256];
    char key1[256];
    char crt2[256];
    char key2[256];
    gen_pair("m1", 30, crt1, key1, sizeof(crt1));
    gen_pair("m2", 30, crt2, key2, sizeof(crt2));
    long long now = (long long)time(NULL);
    expect_refused(crt1, key2, now, "does not match the public key of the leaf certificate");
    expect_refused(crt2, key1, now, key1);
    /* The certificate was read: info still describes it. */
    bw_tls_cert_info info;
    char err[512];
    assert_int_equal(bw_tls_cert_check(crt1, key2, now, &info, err, sizeof(err)), -1);
    bw_tls_cert_info good;
    expect_ok(crt1, key1, now, &good);
    assert_string_equal(info.serial, good.serial);
    assert_int_equal(info.not_after, good.not_after);

    /* A key file with m1's private scalar but m2's public point (the point
     * is the last 65 bytes of the SEC1 DER): it matches neither certificate,
     * because the point is derived from the scalar and the stored one must
     * agree with it. */
    char spliced[256];
    tmp_path(spliced, sizeof(spliced), "spliced.key");
    char out[4096];
    if (run(out, sizeof(out),
            "cd '%s' && openssl ec -in '%s' -outform DER -out k1.der && openssl ec -in '%s' "
            "-outform DER -out k2.der && test $(wc -c < k1.der) = 121 && "
            "{ head -c 56 k1.der; tail -c 65 k2.der; } > mix.der && "
            "{ echo '-----BEGIN EC PRIVATE KEY-----'; openssl base64 -in mix.der; "
            "echo '-----END EC PRIVATE KEY-----'; } > '%s' && chmod 600 '%s'",
            tmpdir, key1, key2, spliced, spliced) != 0)
        fail_msg("splicing keys: %s", out);
    /* Not vacuous: openssl reads the file and sees m2's public key in it. */
    char pub_spliced[1024];
    char pub_m2[1024];
    assert_int_equal(run(pub_spliced, sizeof(pub_spliced), "openssl ec -in '%s' -pubout", spliced),
                     0);
    assert_int_equal(run(pub_m2, sizeof(pub_m2), "openssl ec -in '%s' -pubout", key2), 0);
    assert_non_null(strstr(pub_spliced, "-----BEGIN PUBLIC KEY-----"));
    assert_string_equal(pub_spliced, pub_m2);
    expect_refused(crt2, spliced, now, "does not match");
    expect_refused(crt1, spliced, now, "does not match");

    /* An RSA key against an EC certificate. */
    char rsa[256];
    tmp_path(rsa, sizeof(rsa), "rsa.key");
    if (run(out, sizeof(out),
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '%s'", rsa) != 0)
        fail_msg("openssl genpkey: %s", out);
    assert_int_equal(chmod(rsa, 0600), 0);
    expect_refused(crt1, rsa, now, "does not match");

    /* RSA pairs are checked too: their own key matches, another does not. */
    char rsa_crt[256];
    char rsa_key[256];
    openssl_pair_type("rsa-pair", "rsa:2048", rsa_crt, rsa_key, sizeof(rsa_crt));
    long long rsa_now = openssl_date(rsa_crt, "startdate");
    expect_ok(rsa_crt, rsa_key, rsa_now, &info);
    assert_non_null(strstr(info.subject, "CN=rsa-pair"));
    expect_refused(rsa_crt, rsa, rsa_now, "does not match");
    expect_refused(rsa_crt, key1, rsa_now, "does not match");

    /* Other key types are refused: RSA-PSS (wolfSSL parses it) by name,
     * Ed25519 (wolfSSL's X.509 code here does not parse it) as unparsable. */
    char other_crt[256];
    char other_key[256];
    openssl_pair_type("pss-pair", "rsa-pss", other_crt, other_key, sizeof(other_crt));
    expect_refused(other_crt, other_key, openssl_date(other_crt, "startdate"),
                   "not an EC or RSA key");
    openssl_pair_type("ed-pair", "ed25519", other_crt, other_key, sizeof(other_crt));
    expect_refused(other_crt, other_key, openssl_date(other_crt, "startdate"),
                   "certificate 1 does not parse");

    /* A PKCS#8 form of the right key is accepted. */
    char p8[256];
    tmp_path(p8, sizeof(p8), "m1.p8.key");
    if (run(out, sizeof(out), "openssl pkcs8 -topk8 -nocrypt -in '%s' -out '%s'", key1, p8) != 0)
        fail_msg("openssl pkcs8: %s", out);
    assert_int_equal(chmod(p8, 0600), 0);
    expect_ok(crt1, p8, now, &info);

    /* An encrypted key is refused with a clear reason. */
    char enc[256];
    tmp_path(enc, sizeof(enc), "m1.enc.key");
    if (run(out, sizeof(out),
            "openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:secret -in '%s' -out '%s'", key1,
            enc) != 0)
        fail_msg("openssl pkcs8: %s", out);
    assert_int_equal(chmod(enc, 0600), 0);
    expect_refused(crt1, enc, now, "unencrypted PEM private key");
}

static void test_bad_files(void **state)
{
    (void)state;
    char crt[256];
    char key[256];
    gen_pair("bad", 30, crt, key, sizeof(crt));
    long long now = (long long)time(NULL);
    char good_pem[4096];
    size_t good_len = read_text(crt, good_pem, sizeof(good_pem));
    char path[256];
    tmp_path(path, sizeof(path), "bad.input");

    static const char garbage[] = "this is not a certificate\n\x01\x02\xff";
    write_file(path, garbage, sizeof(garbage) - 1, 0644);
    expect_refused(path, key, now, "holds no PEM certificate");
    expect_refused(path, key, now, path);

    write_file(path, "", 0, 0644);
    expect_refused(path, key, now, "the file is empty");

    char missing[256];
    tmp_path(missing, sizeof(missing), "missing.crt");
    expect_refused(missing, key, now, "cannot open");
    expect_refused(missing, key, now, missing);
    tmp_path(missing, sizeof(missing), "missing.key");
    expect_refused(crt, missing, now, "cannot open");

    /* A BEGIN line with no END line. */
    char cut[4096];
    size_t cut_len = good_len / 2;
    memcpy(cut, good_pem, cut_len);
    write_file(path, cut, cut_len, 0644);
    expect_refused(path, key, now, "certificate 1 has no END line");

    /* A well-framed block whose body is damaged. */
    char damaged[4096];
    memcpy(damaged, good_pem, good_len);
    size_t body = strlen("-----BEGIN CERTIFICATE-----\n");
    for (size_t i = body; i < body + 12; i++) /* the outer SEQUENCE header */
        damaged[i] = damaged[i] == 'A' ? 'B' : 'A';
    write_file(path, damaged, good_len, 0644);
    expect_refused(path, key, now, "certificate 1 does not parse");

    /* A good leaf followed by garbage in a certificate block. */
    char two[8192];
    static const char junk_block[] =
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    memcpy(two, good_pem, good_len);
    memcpy(two + good_len, junk_block, sizeof(junk_block) - 1);
    write_file(path, two, good_len + sizeof(junk_block) - 1, 0644);
    expect_refused(path, key, now, "certificate 2 does not parse");

    /* The key file given as the certificate, and garbage or emptiness as the key. */
    expect_refused(key, key, now, "holds no PEM certificate");
    write_file(path, garbage, sizeof(garbage) - 1, 0600);
    expect_refused(crt, path, now, "does not parse as an unencrypted PEM private key");
    expect_refused(crt, path, now, path);
    write_file(path, "", 0, 0600);
    expect_refused(crt, path, now, "the file is empty");
    /* The certificate given as the key. */
    write_file(path, good_pem, good_len, 0600);
    expect_refused(crt, path, now, "does not parse");

    /* Over 1 MiB, for both files. */
    size_t big_len = BW_TLS_CERT_MAX_FILE + 1;
    char *big = malloc(big_len);
    assert_non_null(big);
    memset(big, '\n', big_len);
    memcpy(big, good_pem, good_len);
    write_file(path, big, big_len, 0644);
    expect_refused(path, key, now, "larger than 1048576 bytes");
    write_file(path, big, big_len, 0600);
    expect_refused(crt, path, now, "larger than 1048576 bytes");
    /* Exactly 1 MiB is allowed: the certificate padded with blank lines. */
    write_file(path, big, BW_TLS_CERT_MAX_FILE, 0644);
    bw_tls_cert_info info;
    expect_ok(path, key, now, &info);
    free(big);

    /* Missing arguments. */
    expect_refused(NULL, key, now, "needs a certificate file and a key file");
    expect_refused(crt, "", now, "needs a certificate file and a key file");
}

static void test_validity(void **state)
{
    (void)state;
    char crt[256];
    char key[256];
    openssl_pair("oneday", "/CN=oneday.example", 1, crt, key, sizeof(crt));
    long long nb = openssl_date(crt, "startdate");
    long long na = openssl_date(crt, "enddate");
    assert_int_equal(na - nb, 86400);

    bw_tls_cert_info info;
    expect_ok(crt, key, nb, &info);
    assert_int_equal(info.not_before, nb);
    assert_int_equal(info.not_after, na);
    assert_int_equal(info.days_left, 1);
    assert_non_null(strstr(info.subject, "CN=oneday.example"));
    expect_ok(crt, key, na, &info); /* notAfter itself is still valid */
    assert_int_equal(info.days_left, 0);
    expect_ok(crt, key, na - 1, &info);
    assert_int_equal(info.days_left, 0);

    /* Expired: the message carries the date, info still describes the leaf. */
    char when[64];
    time_t t = (time_t)na;
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    assert_true(strftime(when, sizeof(when), "expired on %Y-%m-%d %H:%M:%S UTC", &tm) > 0);
    expect_refused(crt, key, na + 1, when);
    expect_refused(crt, key, na + 1, crt);
    char err[512];
    assert_int_equal(bw_tls_cert_check(crt, key, na + 1, &info, err, sizeof(err)), -1);
    assert_int_equal(info.days_left, -1);
    assert_int_equal(info.not_after, na);
    assert_int_equal(bw_tls_cert_check(crt, key, na + 86400, &info, err, sizeof(err)), -1);
    assert_int_equal(info.days_left, -1);
    assert_int_equal(bw_tls_cert_check(crt, key, na + 86401, &info, err, sizeof(err)), -1);
    assert_int_equal(info.days_left, -2);

    /* Not yet valid. */
    t = (time_t)nb;
    assert_non_null(gmtime_r(&t, &tm));
    assert_true(strftime(when, sizeof(when), "not valid before %Y-%m-%d %H:%M:%S UTC", &tm) > 0);
    expect_refused(crt, key, nb - 1, when);
    expect_refused(crt, key, nb - 10LL * 365 * 86400, when);
    assert_int_equal(bw_tls_cert_check(crt, key, nb - 1, &info, err, sizeof(err)), -1);
    assert_int_equal(info.days_left, 1);

    /* Past 2049 the dates are GeneralizedTime. */
    openssl_pair("long", "/CN=long.example", 10000, crt, key, sizeof(crt));
    na = openssl_date(crt, "enddate");
    nb = openssl_date(crt, "startdate");
    expect_ok(crt, key, nb, &info);
    assert_int_equal(info.not_after, na);
    assert_int_equal(info.days_left, 10000);
    assert_non_null(strstr(info.subject, "CN=long.example"));
}

static void test_chain(void **state)
{
    (void)state;
    char ca_crt[256];
    char ca_key[256];
    char leaf_crt[256];
    char leaf_key[256];
    char csr[256];
    char out[8192];
    openssl_pair("ca", "/CN=Test CA", 30, ca_crt, ca_key, sizeof(ca_crt));
    tmp_path(leaf_key, sizeof(leaf_key), "leaf.key");
    tmp_path(leaf_crt, sizeof(leaf_crt), "leaf.crt");
    tmp_path(csr, sizeof(csr), "leaf.csr");
    if (run(out, sizeof(out),
            "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "
            "/CN=leaf.example -keyout '%s' -out '%s' && openssl x509 -req -in '%s' -CA '%s' "
            "-CAkey '%s' -CAcreateserial -days 10 -out '%s'",
            leaf_key, csr, csr, ca_crt, ca_key, leaf_crt) != 0)
        fail_msg("openssl: %s", out);
    assert_int_equal(chmod(leaf_key, 0600), 0);
    long long now = openssl_date(leaf_crt, "startdate");

    char full[256];
    char reversed[256];
    char unrelated[256];
    tmp_path(full, sizeof(full), "fullchain.pem");
    tmp_path(reversed, sizeof(reversed), "reversed.pem");
    tmp_path(unrelated, sizeof(unrelated), "unrelated.pem");
    char other_crt[256];
    char other_key[256];
    openssl_pair("other", "/CN=Other CA", 30, other_crt, other_key, sizeof(other_crt));
    assert_int_equal(run(out, sizeof(out),
                         "cat '%s' '%s' > '%s' && cat '%s' '%s' > '%s' && cat '%s' '%s' > '%s'",
                         leaf_crt, ca_crt, full, ca_crt, leaf_crt, reversed, leaf_crt, other_crt,
                         unrelated),
                     0);

    bw_tls_cert_info info;
    expect_ok(full, leaf_key, now, &info);
    assert_non_null(strstr(info.subject, "CN=leaf.example")); /* the leaf, not the CA */
    assert_int_equal(info.not_after, openssl_date(leaf_crt, "enddate"));
    expect_ok(leaf_crt, leaf_key, now, &info); /* the leaf alone */
    expect_refused(reversed, leaf_key, now, "certificate 2 is not the issuer of certificate 1");
    expect_refused(unrelated, leaf_key, now, "certificate 2 is not the issuer of certificate 1");
    /* The CA's key against the full chain: the leaf is what must match. */
    expect_refused(full, ca_key, now, "does not match");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_and_check),
        cmocka_unit_test(test_generate_days_bounds),
        cmocka_unit_test(test_serial_differs),
        cmocka_unit_test(test_generate_refuses_overwrite),
        cmocka_unit_test(test_key_permissions),
        cmocka_unit_test(test_mismatched_key),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_validity),
        cmocka_unit_test(test_chain),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
