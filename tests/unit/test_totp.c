/* Unit tests for the TOTP arithmetic and encodings: the RFC 4226 and RFC 6238 vectors,
 * agreement with oathtool on random secrets and times, the window and its edges, replay,
 * malformed codes, base32, the otpauth URI, sealing, recovery codes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "bulwark/totp.h"

#define OATHTOOL "/usr/bin/oathtool"
#define ORACLE_ROUNDS 60

extern char **environ;

/* The RFC 6238 Appendix B seed for SHA-1 (and the RFC 4226 Appendix D secret). */
static const unsigned char RFC_SEED[] = "12345678901234567890";
#define RFC_SEED_LEN 20

static const char RECOVERY_ALPHABET[] = "23456789ABCDEFGHJKMNPQRSTVWXYZ";

static void code_of(const unsigned char *secret, size_t len, uint64_t step, char out[7])
{
    assert_int_equal(bw_totp_code(secret, len, step, out), 0);
    assert_int_equal(strlen(out), 6);
}

static int check(const unsigned char *secret, size_t len, const char *code, int64_t now,
                 uint64_t last, uint64_t *matched)
{
    return bw_totp_check(secret, len, code, strlen(code), now, last, matched);
}

/* --- reference vectors --------------------------------------------------------------------- */

static void test_rfc4226_hotp_vectors(void **state)
{
    static const char *const want[] = {"755224", "287082", "359152", "969429", "338314",
                                       "254676", "287922", "162583", "399871", "520489"};
    char out[9];
    uint64_t c;

    (void)state;
    for (c = 0; c < 10; c++) {
        assert_int_equal(bw_totp_hotp(RFC_SEED, RFC_SEED_LEN, c, 6, out, sizeof(out)), 0);
        assert_string_equal(out, want[c]);
    }
}

static void test_rfc6238_sha1_vectors(void **state)
{
    static const struct {
        int64_t t;
        const char *code8;
    } rows[] = {
        {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
        {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
    };
    char out8[9], out6[7];
    uint64_t matched;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint64_t step = (uint64_t)rows[i].t / 30;

        assert_int_equal(bw_totp_hotp(RFC_SEED, RFC_SEED_LEN, step, 8, out8, sizeof(out8)), 0);
        assert_string_equal(out8, rows[i].code8);
        /* 6 digits are the last 6 of the 8 (the value modulo 10^6). */
        code_of(RFC_SEED, RFC_SEED_LEN, step, out6);
        assert_string_equal(out6, rows[i].code8 + 2);
        matched = 0;
        assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, out6, rows[i].t, 0, &matched), 1);
        assert_int_equal(matched, step);
    }
}

/* --- oathtool ------------------------------------------------------------------------------ */

/* Runs oathtool with argv; its stdout (NUL-terminated) into out. 0 when it exited 0. */
static int run_oathtool(char *const argv[], char *out, size_t cap)
{
    posix_spawn_file_actions_t fa;
    int fds[2], status = 0;
    size_t used = 0;
    ssize_t n;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO), 0);
    assert_int_equal(posix_spawn_file_actions_addclose(&fa, fds[0]), 0);
    assert_int_equal(posix_spawn(&pid, OATHTOOL, &fa, NULL, argv, environ), 0);
    assert_int_equal(posix_spawn_file_actions_destroy(&fa), 0);
    assert_int_equal(close(fds[1]), 0);
    while (used + 1 < cap &&
           ((n = read(fds[0], out + used, cap - 1 - used)) > 0 || (n < 0 && errno == EINTR)))
        if (n > 0)
            used += (size_t)n;
    out[used] = '\0';
    assert_int_equal(close(fds[0]), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* oathtool's codes for steps step-1, step, step+1 of secret (the time it is given is the
 * first second of step-1, `-w 2` prints that step and the next two), each checked against
 * bw_totp_code, and the 6-digit codes accepted by bw_totp_check at t. */
static void agree_with_oathtool(const unsigned char *secret, size_t len, int64_t t, unsigned digits)
{
    char b32[BW_TOTP_BASE32_LEN(BW_TOTP_SECRET_MAX) + 1], when[32], out[128], mine[9];
    char dflag[4], *argv[10], *save = NULL;
    uint64_t step = (uint64_t)t / 30, s, matched;
    int n;

    assert_true(step >= 1);
    assert_int_equal(bw_totp_base32_encode(secret, len, b32, sizeof(b32)), 0);
    n = snprintf(when, sizeof(when), "@%" PRIu64, (step - 1) * 30);
    assert_true(n > 0 && (size_t)n < sizeof(when));
    n = snprintf(dflag, sizeof(dflag), "%u", digits);
    assert_true(n > 0 && (size_t)n < sizeof(dflag));
    argv[0] = "oathtool";
    argv[1] = "--totp";
    argv[2] = "-b";
    argv[3] = b32;
    argv[4] = "-N";
    argv[5] = when;
    argv[6] = "-d";
    argv[7] = dflag;
    argv[8] = "-w2";
    argv[9] = NULL;
    if (run_oathtool(argv, out, sizeof(out)) != 0)
        fail_msg("oathtool failed for secret %s at %s", b32, when);
    for (s = step - 1; s <= step + 1; s++) {
        char *line = strtok_r(s == step - 1 ? out : NULL, "\n", &save);
        assert_non_null(line);
        assert_int_equal(bw_totp_hotp(secret, len, s, digits, mine, sizeof(mine)), 0);
        if (strcmp(line, mine) != 0)
            fail_msg("secret %s step %" PRIu64 ": oathtool %s, ours %s", b32, s, line, mine);
        if (digits == 6) {
            assert_int_equal(check(secret, len, line, t, 0, &matched), 1);
            assert_true(matched >= step - 1 && matched <= step + 1);
        }
    }
    assert_null(strtok_r(NULL, "\n", &save));
}

static void test_agrees_with_oathtool(void **state)
{
    unsigned char secret[BW_TOTP_SECRET_MAX];
    int i;

    (void)state;
    if (access(OATHTOOL, X_OK) != 0) {
        print_message("SKIPPED: " OATHTOOL " is not installed (Debian package oathtool)\n");
        skip();
    }
    for (i = 0; i < ORACLE_ROUNDS; i++) {
        /* Every secret length from 16 to 64 bytes; times up to 2^34 s (year 2514), some
         * right at a step boundary. */
        size_t len = BW_TOTP_SECRET_MIN + (size_t)i % (BW_TOTP_SECRET_MAX - BW_TOTP_SECRET_MIN + 1);
        int64_t t = 30 + (int64_t)(((uint64_t)randombytes_random() << 2 | randombytes_uniform(4)) %
                                   ((uint64_t)1 << 34));

        if (i % 5 == 0)
            t -= t % 30;
        else if (i % 5 == 1)
            t += 29 - t % 30;
        randombytes_buf(secret, len);
        agree_with_oathtool(secret, len, t, i % 6 == 0 ? 8 : 6);
    }
    /* The generated size, and the RFC seed at its own vector times. */
    assert_int_equal(bw_totp_secret_generate(secret), 0);
    agree_with_oathtool(secret, BW_TOTP_SECRET_BYTES, 1700000000, 6);
    agree_with_oathtool(RFC_SEED, RFC_SEED_LEN, 1111111109, 8);
}

/* --- the window and replay ----------------------------------------------------------------- */

static void test_window_edges(void **state)
{
    const uint64_t S = 56666666; /* a step in 2023 */
    const int64_t start = (int64_t)S * 30;
    char m2[7], m1[7], c0[7], p1[7], p2[7], p3[7];
    uint64_t matched;

    (void)state;
    code_of(RFC_SEED, RFC_SEED_LEN, S - 2, m2);
    code_of(RFC_SEED, RFC_SEED_LEN, S - 1, m1);
    code_of(RFC_SEED, RFC_SEED_LEN, S, c0);
    code_of(RFC_SEED, RFC_SEED_LEN, S + 1, p1);
    code_of(RFC_SEED, RFC_SEED_LEN, S + 2, p2);
    code_of(RFC_SEED, RFC_SEED_LEN, S + 3, p3);
    /* The refusals below need codes that differ from the accepted ones. */
    assert_true(strcmp(m2, m1) && strcmp(m2, c0) && strcmp(m2, p1) && strcmp(p2, m1) &&
                strcmp(p2, c0) && strcmp(p2, p1) && strcmp(p3, c0) && strcmp(p3, p1) &&
                strcmp(p3, p2) && strcmp(m1, p1) && strcmp(m1, p2));

    /* Second 0 and second 29 of step S: S-1, S, S+1 accepted, S-2 and S+2 refused. */
    for (int64_t t = start; t <= start + 29; t += 29) {
        assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, m1, t, 0, &matched), 1);
        assert_int_equal(matched, S - 1);
        assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, c0, t, 0, &matched), 1);
        assert_int_equal(matched, S);
        assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, p1, t, 0, &matched), 1);
        assert_int_equal(matched, S + 1);
        assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, m2, t, 0, &matched), 0);
        assert_int_equal(matched, 0);
        assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, p2, t, 0, NULL), 0);
    }
    /* One second earlier (the last second of S-1): S-2 is in, S+1 is out. */
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, m2, start - 1, 0, &matched), 1);
    assert_int_equal(matched, S - 2);
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, p1, start - 1, 0, NULL), 0);
    /* Second 30 is the next step: S+2 is in, S-1 is out. */
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, p2, start + 30, 0, &matched), 1);
    assert_int_equal(matched, S + 2);
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, m1, start + 30, 0, NULL), 0);
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, p3, start + 30, 0, NULL), 0);
}

static void test_window_at_the_ends_of_time(void **state)
{
    const int64_t tmax = INT64_MAX;
    const uint64_t smax = (uint64_t)tmax / 30;
    char c[7];
    uint64_t matched;

    (void)state;
    /* Step 0 is the "nothing used yet" value: its code is never accepted, step 1's is. */
    code_of(RFC_SEED, RFC_SEED_LEN, 0, c);
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, c, 15, 0, NULL), 0);
    code_of(RFC_SEED, RFC_SEED_LEN, 1, c);
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, c, 15, 0, &matched), 1);
    assert_int_equal(matched, 1);
    /* The last representable second, and the step after it. */
    code_of(RFC_SEED, RFC_SEED_LEN, smax, c);
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, c, tmax, 0, &matched), 1);
    assert_int_equal(matched, smax);
    code_of(RFC_SEED, RFC_SEED_LEN, smax + 1, c);
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, c, tmax, smax, &matched), 1);
    assert_int_equal(matched, smax + 1);
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, c, -1, 0, &matched), -1);
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, c, INT64_MIN, 0, &matched), -1);
}

static void test_replay(void **state)
{
    unsigned char secret[BW_TOTP_SECRET_BYTES];
    char c0[7], p1[7], m1[7];
    int64_t now = 1700000000 + (int64_t)randombytes_uniform(1000000);
    uint64_t S = (uint64_t)now / 30, matched = 0;

    (void)state;
    assert_int_equal(bw_totp_secret_generate(secret), 0);
    code_of(secret, sizeof(secret), S, c0);
    code_of(secret, sizeof(secret), S + 1, p1);
    code_of(secret, sizeof(secret), S - 1, m1);
    if (!strcmp(c0, p1) || !strcmp(c0, m1) || !strcmp(m1, p1))
        skip(); /* a one-in-10^5 collision of this random secret: the rest does not apply */

    assert_int_equal(check(secret, sizeof(secret), c0, now, 0, &matched), 1);
    assert_int_equal(matched, S);
    /* The same code again, with its step recorded: refused, also a second later. */
    assert_int_equal(check(secret, sizeof(secret), c0, now, matched, NULL), 0);
    assert_int_equal(check(secret, sizeof(secret), c0, now + 1, matched, NULL), 0);
    /* A newer one is fine; after it, the older ones are not. */
    assert_int_equal(check(secret, sizeof(secret), p1, now, S, &matched), 1);
    assert_int_equal(matched, S + 1);
    assert_int_equal(check(secret, sizeof(secret), c0, now, S + 1, NULL), 0);
    assert_int_equal(check(secret, sizeof(secret), m1, now, S + 1, NULL), 0);
    assert_int_equal(check(secret, sizeof(secret), p1, now, S + 1, NULL), 0);
}

/* When two steps of the window give the same digits, the later is reported: otherwise the same
 * six digits would pass twice. A collision between steps s and s+2 is searched for with the
 * RFC seed (one is expected in the first few hundred thousand steps). */
static void test_collision_reports_the_later_step(void **state)
{
    char a[7], b[7], c[7];
    uint64_t s, matched = 0;
    bool found = false;

    (void)state;
    code_of(RFC_SEED, RFC_SEED_LEN, 0, a);
    code_of(RFC_SEED, RFC_SEED_LEN, 1, b);
    for (s = 0; s < 2000000 && !found; s++) {
        code_of(RFC_SEED, RFC_SEED_LEN, s + 2, c);
        if (strcmp(a, c) == 0 && strcmp(a, b) != 0)
            found = true;
        else {
            memcpy(a, b, sizeof(a));
            memcpy(b, c, sizeof(b));
        }
    }
    assert_true(found);
    s--; /* steps s and s+2 share the code a; the window around s+1 holds both */
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, a, (int64_t)(s + 1) * 30, 0, &matched), 1);
    assert_int_equal(matched, s + 2);
    /* With s+2 recorded, the digits are refused for good. */
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, a, (int64_t)(s + 1) * 30, s + 2, NULL), 0);
    /* With only s recorded, s+2 still counts (a different step). */
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, a, (int64_t)(s + 1) * 30, s, &matched), 1);
    assert_int_equal(matched, s + 2);
}

static void test_malformed_codes(void **state)
{
    const int64_t now = 1234567890;
    char good[7], buf[16];
    uint64_t matched = 99;

    (void)state;
    code_of(RFC_SEED, RFC_SEED_LEN, (uint64_t)now / 30, good);
    assert_true(bw_totp_code_well_formed(good, 6));
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, good, now, 0, NULL), 1);

    /* Five digits (the right ones), seven (right ones plus one), surrounding spaces. */
    assert_int_equal(bw_totp_check(RFC_SEED, RFC_SEED_LEN, good, 5, now, 0, &matched), 0);
    assert_int_equal(matched, 0);
    snprintf(buf, sizeof(buf), "%s0", good);
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, buf, now, 0, NULL), 0);
    snprintf(buf, sizeof(buf), " %s", good);
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, buf, now, 0, NULL), 0);
    snprintf(buf, sizeof(buf), "%s ", good);
    assert_int_equal(check(RFC_SEED, RFC_SEED_LEN, buf, now, 0, NULL), 0);
    /* Six characters that are not six digits. */
    static const char *const bad[] = {"12a456", "123 56",  "+12345",
                                      "-12345", "12345\n", "\xef\xbc\x91\xef\xbc",
                                      "abcdef", "      "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(bw_totp_code_well_formed(bad[i], 6));
        assert_int_equal(bw_totp_check(RFC_SEED, RFC_SEED_LEN, bad[i], 6, now, 0, NULL), 0);
    }
    /* A NUL inside: the length counts, not the terminator. */
    memcpy(buf, good, 7);
    buf[3] = '\0';
    assert_int_equal(bw_totp_check(RFC_SEED, RFC_SEED_LEN, buf, 6, now, 0, NULL), 0);
    assert_int_equal(bw_totp_check(RFC_SEED, RFC_SEED_LEN, NULL, 6, now, 0, NULL), 0);
    assert_int_equal(bw_totp_check(RFC_SEED, RFC_SEED_LEN, "", 0, now, 0, NULL), 0);
    assert_false(bw_totp_code_well_formed(NULL, 6));

    /* Caller errors: -1, not a refusal. */
    assert_int_equal(check(NULL, RFC_SEED_LEN, good, now, 0, NULL), -1);
    assert_int_equal(check(RFC_SEED, BW_TOTP_SECRET_MIN - 1, good, now, 0, NULL), -1);
    assert_int_equal(check(RFC_SEED, BW_TOTP_SECRET_MAX + 1, good, now, 0, NULL), -1);
}

static void test_hotp_arguments(void **state)
{
    unsigned char big[BW_TOTP_SECRET_MAX + 1];
    char out[10];

    (void)state;
    memset(big, 7, sizeof(big));
    memset(out, 'x', sizeof(out));
    assert_int_equal(bw_totp_hotp(RFC_SEED, RFC_SEED_LEN, 1, 5, out, sizeof(out)), -1);
    assert_string_equal(out, "");
    assert_int_equal(bw_totp_hotp(RFC_SEED, RFC_SEED_LEN, 1, 9, out, sizeof(out)), -1);
    assert_int_equal(bw_totp_hotp(RFC_SEED, RFC_SEED_LEN, 1, 8, out, 8), -1);
    assert_int_equal(bw_totp_hotp(RFC_SEED, RFC_SEED_LEN, 1, 8, out, 9), 0);
    assert_int_equal(strlen(out), 8);
    assert_int_equal(bw_totp_hotp(RFC_SEED, RFC_SEED_LEN, 1, 7, out, 8), 0);
    assert_int_equal(strlen(out), 7);
    assert_int_equal(bw_totp_hotp(RFC_SEED, RFC_SEED_LEN, 1, 6, NULL, 7), -1);
    assert_int_equal(bw_totp_hotp(RFC_SEED, RFC_SEED_LEN, 1, 6, out, 0), -1);
    assert_int_equal(bw_totp_hotp(NULL, RFC_SEED_LEN, 1, 6, out, 7), -1);
    assert_int_equal(bw_totp_code(big, BW_TOTP_SECRET_MAX + 1, 1, out), -1);
    assert_int_equal(bw_totp_code(big, BW_TOTP_SECRET_MAX, 1, out), 0);
    assert_int_equal(bw_totp_code(big, BW_TOTP_SECRET_MIN, 1, out), 0);
    assert_int_equal(bw_totp_code(big, BW_TOTP_SECRET_MIN - 1, 1, out), -1);
    /* The largest counter encodes without trouble. */
    assert_int_equal(bw_totp_code(RFC_SEED, RFC_SEED_LEN, UINT64_MAX, out), 0);
    assert_true(bw_totp_code_well_formed(out, strlen(out)));
}

/* --- base32 -------------------------------------------------------------------------------- */

static void test_base32_rfc4648_vectors(void **state)
{
    static const struct {
        const char *plain, *enc, *padded;
    } v[] = {
        {"", "", ""},
        {"f", "MY", "MY======"},
        {"fo", "MZXQ", "MZXQ===="},
        {"foo", "MZXW6", "MZXW6==="},
        {"foob", "MZXW6YQ", "MZXW6YQ="},
        {"fooba", "MZXW6YTB", "MZXW6YTB"},
        {"foobar", "MZXW6YTBOI", "MZXW6YTBOI======"},
    };
    unsigned char dec[16];
    char enc[32], lower[32];
    size_t i, j, n;

    (void)state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t len = strlen(v[i].plain);

        assert_int_equal(
            bw_totp_base32_encode((const unsigned char *)v[i].plain, len, enc, sizeof(enc)), 0);
        assert_string_equal(enc, v[i].enc);
        assert_int_equal(strlen(enc), BW_TOTP_BASE32_LEN(len));
        assert_int_equal(bw_totp_base32_decode(v[i].enc, strlen(v[i].enc), dec, sizeof(dec), &n),
                         0);
        assert_int_equal(n, len);
        assert_memory_equal(dec, v[i].plain, len);
        assert_int_equal(
            bw_totp_base32_decode(v[i].padded, strlen(v[i].padded), dec, sizeof(dec), &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(dec, v[i].plain, len);
        for (j = 0; v[i].enc[j] != '\0'; j++)
            lower[j] =
                (char)((v[i].enc[j] >= 'A' && v[i].enc[j] <= 'Z') ? v[i].enc[j] + 32 : v[i].enc[j]);
        lower[j] = '\0';
        assert_int_equal(bw_totp_base32_decode(lower, j, dec, sizeof(dec), &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(dec, v[i].plain, len);
    }
}

static void test_base32_round_trips(void **state)
{
    unsigned char in[80], out[80];
    char enc[BW_TOTP_BASE32_LEN(80) + 1];
    size_t len, n, i;

    (void)state;
    for (len = 0; len <= sizeof(in); len++) {
        randombytes_buf(in, len);
        assert_int_equal(bw_totp_base32_encode(in, len, enc, sizeof(enc)), 0);
        assert_int_equal(strlen(enc), BW_TOTP_BASE32_LEN(len));
        for (i = 0; enc[i] != '\0'; i++)
            assert_non_null(memchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", enc[i], 32));
        /* Exactly the bytes needed is enough, one less is not. */
        assert_int_equal(bw_totp_base32_decode(enc, strlen(enc), out, len, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(in, out, len);
        if (len > 0) {
            assert_int_equal(bw_totp_base32_decode(enc, strlen(enc), out, len - 1, &n), -1);
            assert_int_equal(n, 0);
            assert_int_equal(bw_totp_base32_encode(in, len, enc, BW_TOTP_BASE32_LEN(len)), -1);
            assert_string_equal(enc, "");
        }
    }
}

static void test_base32_bad_input(void **state)
{
    static const char *const bad[] = {
        "M",        "MZX",     "MZXW6Y", /* lengths that end no encoding */
        "MZ",       "MZXR",    "MZXW7",  /* non-zero unused bits */
        "MY=",      "MY=====", "MY=======", "MZXW6YQ==", "MZXW6YTB========",
        "MY=====A", "M=XQ",    "=MZXW6YQ", /* padding in the wrong place */
        "M1",       "M8",      "M0",        "MY ",       " MY",
        "M-Y",      "MY\n",    "MÿY",
    };
    unsigned char out[32];
    size_t i, n = 7;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(out, 0xaa, sizeof(out));
        if (bw_totp_base32_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(n, 0);
    }
    /* A NUL inside is a bad character, not the end. */
    assert_int_equal(bw_totp_base32_decode("MY\0A", 4, out, sizeof(out), &n), -1);
    assert_int_equal(bw_totp_base32_decode(NULL, 0, out, sizeof(out), &n), -1);
    assert_int_equal(bw_totp_base32_decode("MY", 2, NULL, 1, &n), -1);
    assert_int_equal(bw_totp_base32_decode("MY", 2, out, 1, NULL), -1);
    assert_int_equal(bw_totp_base32_encode(NULL, 1, (char *)out, sizeof(out)), -1);
    assert_int_equal(bw_totp_base32_encode(out, 1, NULL, 8), -1);
    assert_int_equal(bw_totp_base32_encode(NULL, 0, (char *)out, 1), 0);
    assert_string_equal((char *)out, "");
}

/* --- otpauth URI --------------------------------------------------------------------------- */

static int uri(const char *issuer, const char *account, char *out, size_t cap)
{
    return bw_totp_uri(issuer, strlen(issuer), account, strlen(account), RFC_SEED, RFC_SEED_LEN,
                       out, cap);
}

static void test_uri(void **state)
{
    static const char want[] =
        "otpauth://totp/Bulwark:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        "&issuer=Bulwark&algorithm=SHA1&digits=6&period=30";
    unsigned char back[BW_TOTP_SECRET_MAX];
    char out[1024];
    const char *sec, *end;
    size_t n;

    (void)state;
    assert_int_equal(uri("Bulwark", "alice@example.com", out, sizeof(out)), 0);
    assert_string_equal(out, want);
    /* The secret parameter decodes to the secret. */
    sec = strstr(out, "?secret=") + 8;
    end = strchr(sec, '&');
    assert_non_null(end);
    assert_int_equal(bw_totp_base32_decode(sec, (size_t)(end - sec), back, sizeof(back), &n), 0);
    assert_int_equal(n, RFC_SEED_LEN);
    assert_memory_equal(back, RFC_SEED, RFC_SEED_LEN);

    /* Exactly enough room, then one byte short (the output is wiped). */
    assert_int_equal(uri("Bulwark", "alice@example.com", out, sizeof(want)), 0);
    assert_int_equal(uri("Bulwark", "alice@example.com", out, sizeof(want) - 1), -1);
    assert_string_equal(out, "");
    assert_null(memchr(out, 'G', sizeof(want) - 1));
}

static void test_uri_escaping(void **state)
{
    char out[1024];

    (void)state;
    assert_int_equal(uri("ACME Co & Sons/\xc3\xbc", "b.o_b-1~x+y=z?#%", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "otpauth://totp/ACME%20Co%20%26%20Sons%2F%C3%BC:"
                                "b.o_b-1~x%2By%3Dz%3F%23%25?secret="));
    assert_non_null(strstr(out, "&issuer=ACME%20Co%20%26%20Sons%2F%C3%BC&algorithm=SHA1&"));
    /* Nothing outside the unreserved set, '%' escapes and the URI's own punctuation. */
    for (const char *p = out; *p != '\0'; p++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                               "-._~%:/?&=",
                               *p));
}

static void test_uri_refusals(void **state)
{
    char out[1024], long_name[130];

    (void)state;
    memset(long_name, 'a', sizeof(long_name));
    long_name[129] = '\0';
    assert_int_equal(uri("Bul:wark", "alice", out, sizeof(out)), -1);
    assert_string_equal(out, "");
    assert_int_equal(uri("Bulwark", "al:ice", out, sizeof(out)), -1);
    assert_int_equal(uri("", "alice", out, sizeof(out)), -1);
    assert_int_equal(uri("Bulwark", "", out, sizeof(out)), -1);
    assert_int_equal(uri("Bulwark", "al\nice", out, sizeof(out)), -1);
    assert_int_equal(uri("Bul\x7fwark", "alice", out, sizeof(out)), -1);
    assert_int_equal(uri("Bulwark", "ali\tce", out, sizeof(out)), -1);
    assert_int_equal(
        bw_totp_uri("Bulwark", 8, "alice", 5, RFC_SEED, RFC_SEED_LEN, out, sizeof(out)),
        -1); /* the NUL counted into the issuer */
    assert_int_equal(uri(long_name, "alice", out, sizeof(out)), -1);
    long_name[128] = '\0';
    assert_int_equal(uri(long_name, long_name, out, sizeof(out)), 0);
    assert_int_equal(
        bw_totp_uri("Bulwark", 7, "alice", 5, RFC_SEED, BW_TOTP_SECRET_MIN - 1, out, sizeof(out)),
        -1);
    assert_int_equal(bw_totp_uri(NULL, 0, "alice", 5, RFC_SEED, RFC_SEED_LEN, out, sizeof(out)),
                     -1);
    assert_int_equal(bw_totp_uri("Bulwark", 7, "alice", 5, NULL, RFC_SEED_LEN, out, sizeof(out)),
                     -1);
    assert_int_equal(uri("Bulwark", "alice", NULL, 100), -1);
}

/* --- sealing ------------------------------------------------------------------------------- */

static void test_seal_open(void **state)
{
    unsigned char key[BW_TOTP_KEY_BYTES], other[BW_TOTP_KEY_BYTES];
    unsigned char plain[BW_TOTP_SECRET_BYTES], a[BW_TOTP_SEALED_LEN(BW_TOTP_SECRET_BYTES)];
    unsigned char b[sizeof(a)], out[BW_TOTP_SECRET_BYTES];
    size_t alen = 0, blen = 0, n = 0, i;

    (void)state;
    randombytes_buf(key, sizeof(key));
    randombytes_buf(other, sizeof(other));
    assert_int_equal(bw_totp_secret_generate(plain), 0);
    assert_int_equal(bw_totp_seal(key, plain, sizeof(plain), a, sizeof(a), &alen), 0);
    assert_int_equal(alen, sizeof(a));
    assert_null(memmem(a, alen, plain, sizeof(plain)));
    assert_int_equal(bw_totp_open(key, a, alen, out, sizeof(out), &n), 0);
    assert_int_equal(n, sizeof(plain));
    assert_memory_equal(out, plain, sizeof(plain));
    /* A fresh nonce each time: sealing twice gives two different boxes that both open. */
    assert_int_equal(bw_totp_seal(key, plain, sizeof(plain), b, sizeof(b), &blen), 0);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(bw_totp_open(key, b, blen, out, sizeof(out), &n), 0);

    /* Any flipped bit, anywhere (nonce, tag, body), is refused and leaves nothing behind. */
    for (i = 0; i < alen; i++) {
        memcpy(b, a, alen);
        b[i] ^= (unsigned char)(1u << (i % 8));
        memset(out, 0x55, sizeof(out));
        assert_int_equal(bw_totp_open(key, b, alen, out, sizeof(out), &n), -1);
        assert_int_equal(n, 0);
        for (size_t j = 0; j < sizeof(out); j++)
            assert_int_equal(out[j], 0);
    }
    assert_int_equal(bw_totp_open(other, a, alen, out, sizeof(out), &n), -1);
    /* Truncated, short of room, empty. */
    assert_int_equal(bw_totp_open(key, a, alen - 1, out, sizeof(out), &n), -1);
    assert_int_equal(bw_totp_open(key, a, BW_TOTP_SEAL_OVERHEAD, out, sizeof(out), &n), -1);
    assert_int_equal(bw_totp_open(key, a, 3, out, sizeof(out), &n), -1);
    assert_int_equal(bw_totp_open(key, a, alen, out, sizeof(out) - 1, &n), -1);
    assert_int_equal(bw_totp_open(key, NULL, alen, out, sizeof(out), &n), -1);
    assert_int_equal(bw_totp_open(NULL, a, alen, out, sizeof(out), &n), -1);
    assert_int_equal(bw_totp_open(key, a, alen, out, sizeof(out), NULL), -1);
    assert_int_equal(bw_totp_seal(key, plain, sizeof(plain), b, sizeof(b) - 1, &blen), -1);
    assert_int_equal(blen, 0);
    assert_int_equal(bw_totp_seal(key, plain, 0, b, sizeof(b), &blen), -1);
    assert_int_equal(bw_totp_seal(key, NULL, 1, b, sizeof(b), &blen), -1);
    assert_int_equal(bw_totp_seal(NULL, plain, sizeof(plain), b, sizeof(b), &blen), -1);
    assert_int_equal(bw_totp_seal(key, plain, BW_TOTP_SEAL_MAX + 1, b, SIZE_MAX, &blen), -1);
    assert_int_equal(bw_totp_secret_generate(NULL), -1);
}

/* --- recovery codes ------------------------------------------------------------------------ */

static bool in_alphabet(char c)
{
    return c != '\0' && strchr(RECOVERY_ALPHABET, c) != NULL;
}

static void test_recovery_format(void **state)
{
    char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    size_t seen[256] = {0};
    int round, i, j, k;

    (void)state;
    for (round = 0; round < 300; round++) {
        assert_int_equal(bw_totp_recovery_generate(codes), 0);
        for (i = 0; i < BW_TOTP_RECOVERY_COUNT; i++) {
            assert_int_equal(strlen(codes[i]), BW_TOTP_RECOVERY_LEN);
            for (k = 0; k < BW_TOTP_RECOVERY_LEN; k++) {
                if (k % 5 == 4) {
                    assert_int_equal(codes[i][k], '-');
                } else {
                    assert_true(in_alphabet(codes[i][k]));
                    seen[(unsigned char)codes[i][k]]++;
                }
            }
            for (j = 0; j < i; j++)
                assert_string_not_equal(codes[i], codes[j]);
        }
    }
    /* 48000 draws: every character of the alphabet turns up, each near 1/30 of the time. */
    for (k = 0; RECOVERY_ALPHABET[k] != '\0'; k++) {
        size_t c = seen[(unsigned char)RECOVERY_ALPHABET[k]];

        assert_true(c > 1200 && c < 2000);
    }
    assert_int_equal(strlen(RECOVERY_ALPHABET), 30);
    assert_int_equal(bw_totp_recovery_generate(NULL), -1);
}

static void test_recovery_hash_normalisation(void **state)
{
    unsigned char key[BW_TOTP_KEY_BYTES], other[BW_TOTP_KEY_BYTES];
    unsigned char h[32], h2[32];
    char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1];
    char v[80];
    size_t i, n;

    (void)state;
    randombytes_buf(key, sizeof(key));
    randombytes_buf(other, sizeof(other));
    assert_int_equal(bw_totp_recovery_generate(codes), 0);
    assert_int_equal(bw_totp_recovery_hash(key, codes[0], BW_TOTP_RECOVERY_LEN, h), 1);

    /* Lower case, no dashes, spaces instead, extra separators: the same hash. */
    for (i = 0, n = 0; i < BW_TOTP_RECOVERY_LEN; i++)
        if (codes[0][i] != '-')
            v[n++] =
                (char)(codes[0][i] >= 'A' && codes[0][i] <= 'Z' ? codes[0][i] + 32 : codes[0][i]);
    assert_int_equal(n, BW_TOTP_RECOVERY_CHARS);
    assert_int_equal(bw_totp_recovery_hash(key, v, n, h2), 1);
    assert_memory_equal(h, h2, sizeof(h));
    n = (size_t)snprintf(v, sizeof(v), "  %.4s %.4s--%.4s %.4s ", codes[0], codes[0] + 5,
                         codes[0] + 10, codes[0] + 15);
    assert_int_equal(bw_totp_recovery_hash(key, v, n, h2), 1);
    assert_memory_equal(h, h2, sizeof(h));
    /* Up to 64 bytes of input are looked at, not one more. */
    memset(v, ' ', sizeof(v));
    memcpy(v, codes[0], BW_TOTP_RECOVERY_LEN);
    assert_int_equal(bw_totp_recovery_hash(key, v, BW_TOTP_RECOVERY_INPUT_MAX, h2), 1);
    assert_memory_equal(h, h2, sizeof(h));
    assert_int_equal(bw_totp_recovery_hash(key, v, BW_TOTP_RECOVERY_INPUT_MAX + 1, h2), 0);

    /* Another key, another code: other hashes. */
    assert_int_equal(bw_totp_recovery_hash(other, codes[0], BW_TOTP_RECOVERY_LEN, h2), 1);
    assert_memory_not_equal(h, h2, sizeof(h));
    assert_int_equal(bw_totp_recovery_hash(key, codes[1], BW_TOTP_RECOVERY_LEN, h2), 1);
    assert_memory_not_equal(h, h2, sizeof(h));

    /* Not a recovery code: one character short or over, a look-alike, anything else. */
    assert_int_equal(bw_totp_recovery_hash(key, codes[0], BW_TOTP_RECOVERY_LEN - 1, h2), 0);
    n = (size_t)snprintf(v, sizeof(v), "%sA", codes[0]);
    assert_int_equal(bw_totp_recovery_hash(key, v, n, h2), 0);
    static const char look_alikes[] = "01OILUoilu_.+/=\t";
    for (i = 0; look_alikes[i] != '\0'; i++) {
        memcpy(v, codes[0], BW_TOTP_RECOVERY_LEN + 1);
        v[7] = look_alikes[i];
        assert_int_equal(bw_totp_recovery_hash(key, v, BW_TOTP_RECOVERY_LEN, h2), 0);
    }
    memcpy(v, codes[0], BW_TOTP_RECOVERY_LEN + 1);
    v[2] = '\0';
    assert_int_equal(bw_totp_recovery_hash(key, v, BW_TOTP_RECOVERY_LEN, h2), 0);
    assert_int_equal(bw_totp_recovery_hash(key, "", 0, h2), 0);
    assert_int_equal(bw_totp_recovery_hash(key, "----", 4, h2), 0);
    assert_int_equal(bw_totp_recovery_hash(NULL, codes[0], BW_TOTP_RECOVERY_LEN, h2), -1);
    assert_int_equal(bw_totp_recovery_hash(key, NULL, 0, h2), -1);
    assert_int_equal(bw_totp_recovery_hash(key, codes[0], BW_TOTP_RECOVERY_LEN, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4226_hotp_vectors),
        cmocka_unit_test(test_rfc6238_sha1_vectors),
        cmocka_unit_test(test_agrees_with_oathtool),
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_window_at_the_ends_of_time),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_collision_reports_the_later_step),
        cmocka_unit_test(test_malformed_codes),
        cmocka_unit_test(test_hotp_arguments),
        cmocka_unit_test(test_base32_rfc4648_vectors),
        cmocka_unit_test(test_base32_round_trips),
        cmocka_unit_test(test_base32_bad_input),
        cmocka_unit_test(test_uri),
        cmocka_unit_test(test_uri_escaping),
        cmocka_unit_test(test_uri_refusals),
        cmocka_unit_test(test_seal_open),
        cmocka_unit_test(test_recovery_format),
        cmocka_unit_test(test_recovery_hash_normalisation),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
