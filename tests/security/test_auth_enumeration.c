/*
 * Account enumeration through login, over HTTPS against the running sample service: a wrong
 * password for a known user, any password for an unknown user and the correct password of a
 * disabled user get the same status, the same body (request_id aside) and the same headers;
 * and the time a wrong password for a known user takes is the time an unknown user takes
 * (medians of 200 interleaved requests each within 10%).
 *
 * The throttles are set out of the way (lockout.threshold 100, while each known user fails
 * about 55 times; address.max_failures 1000000), and memlimit_kib at its minimum keeps
 * Argon2id fast.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth_client.h"
#include "harness.h"

#define NKNOWN 4
#define PER_GROUP 200 /* requests for known users, and as many for unknown ones */
#define WARMUP 6      /* per group, untimed */
#define MAX_REL_DIFF 0.10
#define SCHEMA_MAX_CHARS 512 /* app/schemas/login.json: password maxLength */

static const char CONFIG[] = "{\"ratelimit\": {\"route_burst\": 100000}, \"auth\": {\"password\": {\"memlimit_kib\": 19456},"
                             " \"lockout\": {\"threshold\": 100},"
                             " \"address\": {\"max_failures\": 1000000}}}";

/* Known names and ghost names have the same length, so the requests differ in nothing else. */
static const char *const KNOWN[NKNOWN] = {"member-0", "member-1", "member-2", "member-3"};
static const char *const PW_KNOWN = "a known user's good password";
static const char *const PW_DISABLED = "the disabled user's password";

typedef struct fixture {
    bw_srv *srv;
    char *config;
} fixture;

static int setup(void **state)
{
    const char *const disable[] = {"user", "disable", "dora", NULL};
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    *state = f;
    if ((f->srv = bw_test_srv_start_json(CONFIG, &f->config)) == NULL)
        return -1;
    for (int i = 0; i < NKNOWN; i++) {
        if (bw_test_user_add(f->srv, KNOWN[i], PW_KNOWN, "viewer") != 0)
            return -1;
    }
    if (bw_test_user_add(f->srv, "dora", PW_DISABLED, "viewer") != 0 ||
        bw_test_cli(f->srv, disable, NULL) != 0)
        return -1;
    return 0;
}

/* Stops the server and fails unless it exited 0 (a sanitizer report, a crash or a hang). */
static int teardown(void **state)
{
    fixture *f = *state;
    int rc;

    if (f == NULL)
        return -1;
    rc = bw_test_srv_stop(&f->srv, &f->config);
    free(f);
    return rc == 0 ? 0 : -1;
}

static double now_ms(void)
{
    struct timespec ts;

    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* POST /v1/auth/login in bearer mode; returns the wall time of the exchange in ms. */
static double login(bw_srv *srv, const char *name, const char *pw, bw_resp *r)
{
    double t0 = now_ms();

    assert_int_equal(bw_test_login_request(srv, name, pw, NULL, NULL, r), 0);
    return now_ms() - t0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* What a client can compare between two answers: the status, the body without its
 * request_id (keys sorted), and every header name with its value (the values of X-Request-Id
 * and Date aside), one per line, sorted. Caller frees. */
static char *signature(const bw_resp *r)
{
    char *body = bw_test_body_sans_request_id(r);
    char **lines, *out;
    size_t len, cap;

    lines = calloc(r->nheaders > 0 ? r->nheaders : 1, sizeof(*lines));
    assert_non_null(lines);
    cap = 64 + strlen(body);
    for (size_t i = 0; i < r->nheaders; i++) {
        /* The values that differ by design: the request id and the clock. */
        const char *value = strcasecmp(r->headers[i].name, "X-Request-Id") == 0 ? "(request id)"
                            : strcasecmp(r->headers[i].name, "Date") == 0       ? "(date)"
                                                                          : r->headers[i].value;
        size_t n = strlen(r->headers[i].name) + strlen(value) + 3;

        lines[i] = malloc(n);
        assert_non_null(lines[i]);
        assert_int_equal(snprintf(lines[i], n, "%s: %s", r->headers[i].name, value), (int)n - 1);
        for (char *p = lines[i]; *p != ':'; p++)
            *p = (char)tolower((unsigned char)*p);
        cap += n;
    }
    qsort(lines, r->nheaders, sizeof(*lines), cmp_str);
    out = malloc(cap);
    assert_non_null(out);
    len = (size_t)snprintf(out, cap, "%ld\n%s\n", r->status, body);
    assert_true(len < cap);
    for (size_t i = 0; i < r->nheaders; i++) {
        size_t n = strlen(lines[i]);

        memcpy(out + len, lines[i], n);
        out[len + n] = '\n';
        len += n + 1;
        free(lines[i]);
    }
    out[len] = '\0';
    free(lines);
    free(body);
    return out;
}

/* The q-quantile (0..1) of v[0..n), n > 0, by sorting a copy (nearest rank). */
static double quantile(const double *v, size_t n, double q)
{
    double *c = malloc(n * sizeof(*c));
    double x;
    size_t i;

    assert_non_null(c);
    memcpy(c, v, n * sizeof(*c));
    qsort(c, n, sizeof(*c), cmp_double);
    i = (size_t)(q * (double)(n - 1) + 0.5);
    x = c[i];
    free(c);
    return x;
}

/* The first line of a that differs from the same line of b (a static buffer, cut at 255). */
static const char *first_difference(const char *a, const char *b)
{
    static char line[256];
    size_t i = 0, start = 0;

    while (a[i] != '\0' && a[i] == b[i]) {
        if (a[i] == '\n')
            start = i + 1;
        i++;
    }
    i = strcspn(a + start, "\n");
    if (i >= sizeof line)
        i = sizeof line - 1;
    memcpy(line, a + start, i);
    line[i] = '\0';
    return line;
}

/* Checks r against the reference signature *ref (set from the first answer when NULL):
 * returns false, after printing the first line that differs, when they differ. */
static bool same_as(char **ref, const bw_resp *r, const char *what)
{
    char *sig = signature(r);

    if (*ref == NULL) {
        *ref = sig;
        return true;
    }
    if (strcmp(sig, *ref) == 0) {
        free(sig);
        return true;
    }
    print_error("%s differs from the first answer:\n%s\n", what, first_difference(sig, *ref));
    free(sig);
    return false;
}

/* 200 wrong passwords for known users and 200 attempts for unknown names, interleaved (the
 * order within each pair alternates too), so a drift in machine load touches both groups
 * alike. Every answer must be the same; the median times must be within MAX_REL_DIFF. */
static void test_known_and_unknown_alike(void **state)
{
    fixture *f = *state;
    double known[PER_GROUP], unknown[PER_GROUP];
    double mk, mu, rel;
    char *ref = NULL;
    int nfail = 0;

    for (int i = 0; i < WARMUP + PER_GROUP; i++) {
        for (int half = 0; half < 2; half++) {
            bool is_known = (half == 0) == (i % 2 == 0);
            char name[16], pw[32], why[512];
            bw_resp r;
            double ms;

            /* Same lengths in both groups: "member-N" / "ghostNNN", "wrong password NNNNN". */
            assert_true(snprintf(name, sizeof name, "ghost%03d", i) == 8);
            assert_true(snprintf(pw, sizeof pw, "wrong password %05d", 2 * i + half) == 20);
            ms = login(f->srv, is_known ? KNOWN[i % NKNOWN] : name, pw, &r);
            if (!bw_check_problem(&r, 401, why, sizeof why))
                BW_CASE_FAIL(nfail, "%s user, request %d: status %ld, want a 401 problem: %s",
                             is_known ? "known" : "unknown", i, r.status, why);
            else if (!same_as(&ref, &r, is_known ? "a known user's answer" : "a ghost's answer"))
                nfail++;
            bw_resp_free(&r);
            if (i >= WARMUP && is_known)
                known[i - WARMUP] = ms;
            else if (i >= WARMUP)
                unknown[i - WARMUP] = ms;
        }
    }
    free(ref);
    BW_CASES_DONE(nfail);

    mk = quantile(known, PER_GROUP, 0.5);
    mu = quantile(unknown, PER_GROUP, 0.5);
    rel = (mk > mu ? mk - mu : mu - mk) / (mk > mu ? mk : mu);
    fprintf(stderr,
            "login time, %d each: known user (wrong password) median %.2f ms [p10 %.2f, p90 "
            "%.2f]; unknown user median %.2f ms [p10 %.2f, p90 %.2f]; known/unknown %.4f, "
            "relative difference %.4f (bound %.2f)\n",
            PER_GROUP, mk, quantile(known, PER_GROUP, 0.1), quantile(known, PER_GROUP, 0.9), mu,
            quantile(unknown, PER_GROUP, 0.1), quantile(unknown, PER_GROUP, 0.9), mk / mu, rel,
            MAX_REL_DIFF);
    if (!(rel < MAX_REL_DIFF))
        fail_msg("median login times differ by %.1f%% (known %.2f ms, unknown %.2f ms)",
                 rel * 100.0, mk, mu);
}

/* A disabled user's correct password is refused exactly like a wrong one. */
static void test_disabled_user_alike(void **state)
{
    fixture *f = *state;
    char *ref = NULL;
    bw_resp r;
    bool same;

    (void)login(f->srv, KNOWN[0], "wrong password 99999", &r);
    bw_test_want_status(&r, 401, "a known user's wrong password");
    BW_ASSERT_PROBLEM(&r, 401);
    BW_ASSERT_SECURE_HEADERS(&r, NULL);
    assert_true(same_as(&ref, &r, "a wrong password"));
    bw_resp_free(&r);

    (void)login(f->srv, "dora", PW_DISABLED, &r);
    bw_test_want_status(&r, 401, "a disabled user's correct password");
    same = same_as(&ref, &r, "a disabled user's correct password");
    bw_resp_free(&r);
    (void)login(f->srv, "dora", "wrong password 99999", &r);
    bw_test_want_status(&r, 401, "a disabled user's wrong password");
    same = same_as(&ref, &r, "a disabled user's wrong password") && same;
    bw_resp_free(&r);
    free(ref);
    assert_true(same);

    /* Control: the same password works for an enabled user. */
    (void)login(f->srv, KNOWN[1], PW_KNOWN, &r);
    bw_test_want_status(&r, 200, "an enabled user's correct password");
    bw_resp_free(&r);
}

/* A password of reps copies of unit (the caller frees). */
static char *repeat(const char *unit, size_t reps)
{
    size_t ulen = strlen(unit);
    char *s;

    assert_true(reps < ((size_t)-1 - 1) / ulen);
    s = malloc(ulen * reps + 1);
    assert_non_null(s);
    for (size_t i = 0; i < reps; i++)
        memcpy(s + i * ulen, unit, ulen);
    s[ulen * reps] = '\0';
    return s;
}

/* The longest passwords the schema lets through (512 characters, 512 or 1024 bytes) get the
 * same 401 for a known and an unknown user, whatever their length in bytes; one character
 * more is the schema's 400 for both. */
static void test_long_passwords_alike(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *unit;
        size_t reps;
        long status;
    } cases[] = {
        {"x", SCHEMA_MAX_CHARS, 401},
        {"\xc3\xa9", SCHEMA_MAX_CHARS, 401}, /* U+00E9: 1024 bytes, over the 512-byte cap */
        {"x", SCHEMA_MAX_CHARS + 1, 400},
        {"\xc3\xa9", SCHEMA_MAX_CHARS + 1, 400},
    };
    const char *const names[] = {KNOWN[2], "ghost-long"};
    char *ref401 = NULL, *ref400 = NULL;
    int nfail = 0;

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *pw = repeat(cases[c].unit, cases[c].reps);

        for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
            char why[512];
            bw_resp r;

            (void)login(f->srv, names[n], pw, &r);
            if (!bw_check_problem(&r, cases[c].status, why, sizeof why))
                BW_CASE_FAIL(nfail, "case %zu, %s: status %ld, want a %ld problem: %s", c, names[n],
                             r.status, cases[c].status, why);
            else if (!same_as(cases[c].status == 401 ? &ref401 : &ref400, &r, names[n]))
                nfail++;
            bw_resp_free(&r);
        }
        free(pw);
    }
    free(ref401);
    free(ref400);
    BW_CASES_DONE(nfail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_and_unknown_alike),
        cmocka_unit_test(test_disabled_user_alike),
        cmocka_unit_test(test_long_passwords_alike),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
