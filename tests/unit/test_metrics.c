/* Metrics: counters rise exactly with calls, also from many threads; histograms are
 * cumulative with a matching _count; label values are escaped; event names are checked and
 * the table is bounded; gauges come from the callback; the listener answers over real HTTP.
 * Every render is checked line by line against the text exposition format 0.0.4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>

#include "bulwark/metrics.h"

/* ---- exposition grammar ----------------------------------------------------------------- */

static bool name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

/* Length of the metric name at p (0: none). Label names use the same rule without ':'. */
static size_t metric_name(const char *p, const char *end, bool label)
{
    size_t n = 0;

    if (p >= end || !name_start(p[0]) || (label && p[0] == ':'))
        return 0;
    while (p + n < end && name_char(p[n]) && !(label && p[n] == ':'))
        n++;
    return n;
}

/* Strict UTF-8 (no overlongs, surrogates or values beyond U+10FFFF). */
static bool utf8_ok(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            k = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 3, cp = c & 0x07;
        else
            return false;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (p[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

/* A sample value: a Go ParseFloat number, +Inf, -Inf or NaN, and nothing more. */
static bool value_ok(const char *p, size_t n)
{
    char tmp[64];
    char *end;

    if (n == 0 || n >= sizeof(tmp))
        return false;
    if ((n == 4 && (memcmp(p, "+Inf", 4) == 0 || memcmp(p, "-Inf", 4) == 0)) ||
        (n == 3 && memcmp(p, "NaN", 3) == 0))
        return true;
    for (size_t i = 0; i < n; i++) {
        if (!strchr("0123456789+-.eE", p[i]))
            return false;
    }
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    errno = 0;
    (void)strtod(tmp, &end);
    return end == tmp + n && errno == 0;
}

typedef struct family_seen {
    char name[128];
    char type[16];
} family_seen;

static bool has_suffix(const char *s, size_t n, const char *fam, const char *suffix)
{
    size_t f = strlen(fam), k = strlen(suffix);
    return n == f + k && memcmp(s, fam, f) == 0 && memcmp(s + f, suffix, k) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Checks every line of text; fails the test with the line on the first error. Also: each
 * sample follows the # TYPE of its own family, no family is typed twice, no series repeats,
 * histogram buckets carry "le". */
static void check_exposition(const char *text, size_t len)
{
    family_seen fams[128];
    size_t nfams = 0;
    const family_seen *cur = NULL;
    char **series = NULL;
    size_t nseries = 0;
    const char *p = text;

    assert_true(len > 0);
    assert_int_equal(text[len - 1], '\n');
    assert_int_equal(strlen(text), len); /* no NUL inside */
    assert_true(utf8_ok((const unsigned char *)text, len));
    while (p < text + len) {
        const char *eol = memchr(p, '\n', (size_t)(text + len - p));
        const char *q;
        size_t n;
        bool ok = true;

        assert_non_null(eol);
        if (eol - p >= 7 && memcmp(p, "# HELP ", 7) == 0) {
            q = p + 7;
            n = metric_name(q, eol, false);
            ok = n > 0 && q + n < eol && q[n] == ' ';
            for (q += n + 1; ok && q < eol; q++) {
                if (*q == '\\') {
                    ok = q + 1 < eol && (q[1] == '\\' || q[1] == 'n');
                    q++;
                }
            }
        } else if (eol - p >= 7 && memcmp(p, "# TYPE ", 7) == 0) {
            static const char *const types[] = {"counter", "gauge", "histogram", "summary",
                                                "untyped"};
            q = p + 7;
            n = metric_name(q, eol, false);
            ok = n > 0 && n < sizeof(fams[0].name) && q + n < eol && q[n] == ' ';
            if (ok) {
                const char *t = q + n + 1;
                size_t tl = (size_t)(eol - t);
                ok = false;
                for (size_t i = 0; i < 5; i++)
                    ok |= tl == strlen(types[i]) && memcmp(t, types[i], tl) == 0;
                for (size_t i = 0; ok && i < nfams; i++)
                    ok = !(strlen(fams[i].name) == n && memcmp(fams[i].name, q, n) == 0);
                if (ok) {
                    assert_true(nfams < 128);
                    memcpy(fams[nfams].name, q, n);
                    fams[nfams].name[n] = '\0';
                    memcpy(fams[nfams].type, t, tl);
                    fams[nfams].type[tl] = '\0';
                    cur = &fams[nfams++];
                }
            }
        } else if (p[0] == '#') {
            ok = false; /* no other comments in our output */
        } else {
            size_t nl = metric_name(p, eol, false);
            bool le = false;
            ok = nl > 0 && cur != NULL;
            if (ok && strcmp(cur->type, "histogram") == 0) {
                ok = has_suffix(p, nl, cur->name, "_bucket") ||
                     has_suffix(p, nl, cur->name, "_sum") || has_suffix(p, nl, cur->name, "_count");
            } else if (ok) {
                ok = strlen(cur->name) == nl && memcmp(cur->name, p, nl) == 0;
            }
            q = p + nl;
            if (ok && q < eol && *q == '{') {
                char seen[8][64];
                size_t nseen = 0;
                q++;
                while (ok && q < eol && *q != '}') {
                    size_t ln = metric_name(q, eol, true);
                    ok = ln > 0 && ln < 64 && q + ln + 1 < eol && q[ln] == '=' && q[ln + 1] == '"';
                    if (!ok)
                        break;
                    for (size_t i = 0; i < nseen; i++)
                        ok &= !(strlen(seen[i]) == ln && memcmp(seen[i], q, ln) == 0);
                    assert_true(nseen < 8);
                    memcpy(seen[nseen], q, ln);
                    seen[nseen++][ln] = '\0';
                    le |= ln == 2 && memcmp(q, "le", 2) == 0;
                    for (q += ln + 2; ok && q < eol && *q != '"'; q++) {
                        if (*q == '\\') {
                            ok = q + 1 < eol && (q[1] == '\\' || q[1] == '"' || q[1] == 'n');
                            q++;
                        }
                    }
                    ok = ok && q < eol && *q == '"';
                    q++;
                    if (ok && q < eol && *q == ',')
                        q++;
                }
                ok = ok && q < eol && *q == '}';
                q++;
            }
            if (ok && strcmp(cur->type, "histogram") == 0 &&
                has_suffix(p, nl, cur->name, "_bucket"))
                ok = le;
            if (ok) {
                char *s = strndup(p, (size_t)(q - p));
                assert_non_null(s);
                char **grown = realloc(series, (nseries + 1) * sizeof(*series));
                assert_non_null(grown);
                series = grown;
                series[nseries++] = s;
            }
            ok = ok && q < eol && *q == ' ';
            if (ok) {
                const char *v = q + 1, *sp = memchr(v, ' ', (size_t)(eol - v));
                const char *vend = sp != NULL ? sp : eol;
                ok = value_ok(v, (size_t)(vend - v));
                for (const char *t = vend + 1; ok && sp != NULL && t < eol; t++)
                    ok = (*t >= '0' && *t <= '9') || (t == vend + 1 && *t == '-');
                ok = ok && !(sp != NULL && sp + 1 == eol);
            }
        }
        if (!ok)
            fail_msg("bad exposition line: %.*s", (int)(eol - p), p);
        p = eol + 1;
    }
    if (nseries > 1)
        qsort(series, nseries, sizeof(*series), cmp_str);
    for (size_t i = 0; i < nseries; i++) {
        if (i > 0 && strcmp(series[i - 1], series[i]) == 0)
            fail_msg("series repeated: %s", series[i]);
    }
    for (size_t i = 0; i < nseries; i++)
        free(series[i]);
    free(series);
}

/* Renders, checks the grammar and returns the text (free it). */
static char *render(void)
{
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(bw_metrics_render(&text, &len), 0);
    assert_non_null(text);
    check_exposition(text, len);
    return text;
}

/* The value of the sample whose name and labels are exactly `series`, or -1 when absent. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    const char *p = text;

    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        if (eol == NULL)
            break;
        if ((size_t)(eol - p) > n && memcmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = eol + 1;
    }
    return -1;
}

static size_t count_lines_with(const char *text, const char *prefix)
{
    size_t n = 0, k = strlen(prefix);

    for (const char *p = text; *p != '\0';) {
        const char *eol = strchr(p, '\n');
        if (strncmp(p, prefix, k) == 0)
            n++;
        if (eol == NULL)
            break;
        p = eol + 1;
    }
    return n;
}

/* Checks a histogram: buckets (le in the order given, then +Inf) never decrease and +Inf
 * equals _count; returns _count. */
static double check_histogram(const char *text, const char *name, const char *const *le, size_t nle)
{
    char series[160];
    double prev = 0, v = 0;

    for (size_t i = 0; i <= nle; i++) {
        snprintf(series, sizeof(series), "%s_bucket{le=\"%s\"}", name, i < nle ? le[i] : "+Inf");
        v = sample(text, series);
        assert_true(v >= prev);
        prev = v;
    }
    snprintf(series, sizeof(series), "%s_count", name);
    assert_true(sample(text, series) == v);
    return v;
}

static const char *const dur_le[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                     "0.05",   "0.1",   "0.25",   "0.5",   "1",    "2.5"};
#define NDUR (sizeof(dur_le) / sizeof(dur_le[0]))

static const char *const methods3[] = {"GET", "POST", "DELETE"};
static const char *const patterns3[] = {"/v1/notes", "/v1/notes", "/v1/notes/{id}"};

static int setup(void **state)
{
    (void)state;
    bw_metrics_reset();
    return bw_metrics_init(methods3, patterns3, 3);
}

static int teardown(void **state)
{
    (void)state;
    bw_metrics_reset();
    return 0;
}

/* ---- requests --------------------------------------------------------------------------- */

static void test_request_counters(void **state)
{
    (void)state;
    char *t = render();
    /* nothing counted yet: no request series at all, the histogram is all zero */
    assert_int_equal(count_lines_with(t, "bulwark_requests_total{"), 0);
    assert_true(check_histogram(t, "bulwark_request_duration_seconds", dur_le, NDUR) == 0);
    free(t);

    for (int i = 0; i < 3; i++)
        bw_metrics_request(0, 200, 100);
    bw_metrics_request(1, 201, 100);
    bw_metrics_request(1, 201, 100);
    bw_metrics_request(2, 404, 100);
    bw_metrics_request(2, 299, 100); /* not in the fixed set: its class */
    bw_metrics_request(2, 418, 100);
    bw_metrics_request(2, 100, 100);
    bw_metrics_request(2, 599, 100);
    bw_metrics_request(2, 600, 100); /* outside 100..599 */
    bw_metrics_request(2, 99, 100);
    bw_metrics_request(2, -5, 100);
    bw_metrics_request(3, 404, 100); /* == nroutes: unmatched */
    bw_metrics_request(SIZE_MAX, 404, 100);
    bw_metrics_request(SIZE_MAX, 405, 100);

    t = render();
    assert_true(
        sample(t, "bulwark_requests_total{route=\"/v1/notes\",method=\"GET\",code=\"200\"}") == 3);
    assert_true(
        sample(t, "bulwark_requests_total{route=\"/v1/notes\",method=\"POST\",code=\"201\"}") == 2);
    assert_true(
        sample(t,
               "bulwark_requests_total{route=\"/v1/notes/{id}\",method=\"DELETE\",code=\"404\"}") ==
        1);
    assert_true(
        sample(t,
               "bulwark_requests_total{route=\"/v1/notes/{id}\",method=\"DELETE\",code=\"2xx\"}") ==
        1);
    assert_true(
        sample(t,
               "bulwark_requests_total{route=\"/v1/notes/{id}\",method=\"DELETE\",code=\"4xx\"}") ==
        1);
    assert_true(
        sample(t,
               "bulwark_requests_total{route=\"/v1/notes/{id}\",method=\"DELETE\",code=\"1xx\"}") ==
        1);
    assert_true(
        sample(t,
               "bulwark_requests_total{route=\"/v1/notes/{id}\",method=\"DELETE\",code=\"5xx\"}") ==
        1);
    assert_true(
        sample(
            t,
            "bulwark_requests_total{route=\"/v1/notes/{id}\",method=\"DELETE\",code=\"other\"}") ==
        3);
    assert_true(
        sample(t, "bulwark_requests_total{route=\"unmatched\",method=\"other\",code=\"404\"}") ==
        2);
    assert_true(
        sample(t, "bulwark_requests_total{route=\"unmatched\",method=\"other\",code=\"405\"}") ==
        1);
    /* zero series are not rendered */
    assert_true(
        sample(t, "bulwark_requests_total{route=\"/v1/notes\",method=\"GET\",code=\"404\"}") == -1);
    assert_int_equal(count_lines_with(t, "bulwark_requests_total{"), 10);
    assert_true(check_histogram(t, "bulwark_request_duration_seconds", dur_le, NDUR) == 16);
    free(t);

    /* one more moves exactly one series by one */
    bw_metrics_request(0, 200, 100);
    t = render();
    assert_true(
        sample(t, "bulwark_requests_total{route=\"/v1/notes\",method=\"GET\",code=\"200\"}") == 4);
    assert_true(
        sample(t, "bulwark_requests_total{route=\"/v1/notes\",method=\"POST\",code=\"201\"}") == 2);
    free(t);
}

static void test_histogram(void **state)
{
    (void)state;
    /* bounds are inclusive: 500 us is in le=0.0005, 501 us is not */
    static const long long durs[] = {-7,   0,      500,     501,     1000,    2500,
                                     2501, 999999, 1000000, 2500000, 2500001, 3600000000LL};
    static const double want_cum[NDUR + 1] = {3, 5, 6, 7, 7, 7, 7, 7, 7, 7, 9, 10, 12};
    unsigned long long sum = 0;
    char series[96], want_sum[64];

    for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
        bw_metrics_request(0, 200, durs[i]);
        sum += durs[i] > 0 ? (unsigned long long)durs[i] : 0;
    }
    char *t = render();
    assert_true(check_histogram(t, "bulwark_request_duration_seconds", dur_le, NDUR) == 12);
    for (size_t i = 0; i <= NDUR; i++) {
        snprintf(series, sizeof(series), "bulwark_request_duration_seconds_bucket{le=\"%s\"}",
                 i < NDUR ? dur_le[i] : "+Inf");
        if (sample(t, series) != want_cum[i])
            fail_msg("%s: %g, want %g", series, sample(t, series), want_cum[i]);
    }
    /* the sum is exact decimal seconds */
    snprintf(want_sum, sizeof(want_sum), "\nbulwark_request_duration_seconds_sum %llu.%06llu\n",
             sum / 1000000, sum % 1000000);
    assert_non_null(strstr(t, want_sum));
    free(t);
}

#define NTHREADS 8
#define REPS 20000
#define RACE_NAMES 40

static pthread_barrier_t start_line;

static void *record_thread(void *arg)
{
    size_t id = (size_t)(uintptr_t)arg;
    char name[32];

    (void)pthread_barrier_wait(&start_line); /* all at once, to meet on the new names */
    for (int i = 0; i < REPS; i++) {
        bw_metrics_request((id + (size_t)i) % 4, i % 2 ? 200 : 404, (long long)(i % 5000) * 10);
        bw_metrics_event("auth.login.failure");
        /* every thread inserts the same new names at once */
        snprintf(name, sizeof(name), "race.n%d", i % RACE_NAMES);
        bw_metrics_event(name);
    }
    return NULL;
}

static atomic_bool stop_render;

static void *render_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_render)) {
        char *t = NULL;
        size_t len;
        assert_int_equal(bw_metrics_render(&t, &len), 0);
        free(t);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t th[NTHREADS], r;
    char series[128];
    double total = 0;

    assert_int_equal(pthread_barrier_init(&start_line, NULL, NTHREADS), 0);
    atomic_store(&stop_render, false);
    assert_int_equal(pthread_create(&r, NULL, render_thread, NULL), 0);
    for (size_t i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, record_thread, (void *)(uintptr_t)i), 0);
    for (size_t i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    atomic_store(&stop_render, true);
    assert_int_equal(pthread_join(r, NULL), 0);
    assert_int_equal(pthread_barrier_destroy(&start_line), 0);

    char *t = render();
    /* routes 0..3 (3 is unmatched), statuses alternate: each series gets exactly its share */
    const char *lbl[] = {
        "route=\"/v1/notes\",method=\"GET\"", "route=\"/v1/notes\",method=\"POST\"",
        "route=\"/v1/notes/{id}\",method=\"DELETE\"", "route=\"unmatched\",method=\"other\""};
    for (size_t k = 0; k < 4; k++) {
        for (int code = 200; code <= 404; code += 204) {
            snprintf(series, sizeof(series), "bulwark_requests_total{%s,code=\"%d\"}", lbl[k],
                     code);
            double v = sample(t, series);
            assert_true(v > 0);
            total += v;
        }
    }
    assert_true(total == (double)NTHREADS * REPS);
    assert_true(check_histogram(t, "bulwark_request_duration_seconds", dur_le, NDUR) ==
                (double)NTHREADS * REPS);
    assert_true(sample(t, "bulwark_auth_failures_total") == (double)NTHREADS * REPS);
    assert_true(sample(t, "bulwark_audit_events_total{event=\"auth.login.failure\"}") ==
                (double)NTHREADS * REPS);
    for (int i = 0; i < RACE_NAMES; i++) {
        snprintf(series, sizeof(series), "bulwark_audit_events_total{event=\"race.n%d\"}", i);
        assert_true(sample(t, series) == (double)NTHREADS * REPS / RACE_NAMES);
    }
    /* each name inserted once: 41 names plus invalid and other */
    assert_int_equal(count_lines_with(t, "bulwark_audit_events_total{"), RACE_NAMES + 3);
    assert_true(sample(t, "bulwark_audit_events_total{event=\"other\"}") == 0);
    free(t);
}

/* ---- route table ------------------------------------------------------------------------ */

static void test_label_escaping(void **state)
{
    (void)state;
    static const char *const m[] = {"GET", "PO\"ST", NULL, "GET"};
    static const char *const p[] = {"/a\\b\"c\nd", "/plain", "/null-method",
                                    "/bad\xff\xc0\xafutf8/\xc3\xa9"};

    assert_int_equal(bw_metrics_init(m, p, 4), 0);
    for (size_t i = 0; i < 4; i++)
        bw_metrics_request(i, 200, 1);
    char *t = render();
    assert_true(
        sample(t,
               "bulwark_requests_total{route=\"/a\\\\b\\\"c\\nd\",method=\"GET\",code=\"200\"}") ==
        1);
    assert_true(
        sample(t, "bulwark_requests_total{route=\"/plain\",method=\"PO\\\"ST\",code=\"200\"}") ==
        1);
    assert_true(
        sample(t, "bulwark_requests_total{route=\"/null-method\",method=\"\",code=\"200\"}") == 1);
    /* invalid UTF-8 bytes become U+FFFD, valid sequences stay */
    assert_true(
        sample(t, "bulwark_requests_total{route=\"/bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdutf8/"
                  "\xc3\xa9\",method=\"GET\",code=\"200\"}") == 1);
    free(t);
}

static void test_init_replace(void **state)
{
    (void)state;
    static const char *const m[] = {"PUT"};
    static const char *const p[] = {"/v2/x"};

    bw_metrics_request(1, 200, 1);
    bw_metrics_event("app.started");
    /* a NULL list with routes is refused and the table is kept */
    assert_int_equal(bw_metrics_init(NULL, p, 1), -1);
    assert_int_equal(bw_metrics_init(m, NULL, 1), -1);
    char *t = render();
    assert_true(
        sample(t, "bulwark_requests_total{route=\"/v1/notes\",method=\"POST\",code=\"200\"}") == 1);
    free(t);

    assert_int_equal(bw_metrics_init(m, p, 1), 0);
    bw_metrics_request(0, 204, 1);
    bw_metrics_request(1, 204, 1); /* route 1 no longer exists */
    t = render();
    assert_true(
        sample(t, "bulwark_requests_total{route=\"/v1/notes\",method=\"POST\",code=\"200\"}") ==
        -1);
    assert_true(sample(t, "bulwark_requests_total{route=\"/v2/x\",method=\"PUT\",code=\"204\"}") ==
                1);
    assert_true(
        sample(t, "bulwark_requests_total{route=\"unmatched\",method=\"other\",code=\"204\"}") ==
        1);
    assert_true(sample(t, "bulwark_audit_events_total{event=\"app.started\"}") == 1); /* kept */
    free(t);

    /* no routes at all, and nothing at all (before init, after reset) */
    assert_int_equal(bw_metrics_init(NULL, NULL, 0), 0);
    bw_metrics_request(0, 200, 1);
    t = render();
    assert_true(
        sample(t, "bulwark_requests_total{route=\"unmatched\",method=\"other\",code=\"200\"}") ==
        1);
    free(t);
    bw_metrics_reset();
    t = render();
    assert_int_equal(count_lines_with(t, "bulwark_requests_total{"), 0);
    assert_true(sample(t, "bulwark_audit_events_total{event=\"app.started\"}") == -1);
    assert_true(sample(t, "bulwark_request_duration_seconds_count") == 0);
    free(t);
    bw_metrics_request(7, 503, 1);
    t = render();
    assert_true(
        sample(t, "bulwark_requests_total{route=\"unmatched\",method=\"other\",code=\"503\"}") ==
        1);
    free(t);
}

/* ---- events ----------------------------------------------------------------------------- */

static void test_event_names(void **state)
{
    (void)state;
    char n64[65], n65[66];
    memset(n64, 'a', 64);
    n64[64] = '\0';
    memset(n65, 'b', 65);
    n65[65] = '\0';
    const char *bad[] = {NULL,  "",         "Auth.login", "a b",  "a\n",  n65,
                         "a-b", "\xc3\xa9", "a\"b",       "a\\b", "a{b}", "invalid"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        bw_metrics_event(bad[i]);
    bw_metrics_event(n64);
    bw_metrics_event("session.created");
    bw_metrics_event("session.created");
    bw_metrics_event("other"); /* the catch-all's own name: one series */
    bw_metrics_event("x_1.2");
    char *t = render();
    assert_true(sample(t, "bulwark_audit_events_total{event=\"invalid\"}") ==
                (double)(sizeof(bad) / sizeof(bad[0])));
    assert_true(sample(t, "bulwark_audit_events_total{event=\"other\"}") == 1);
    assert_true(sample(t, "bulwark_audit_events_total{event=\"session.created\"}") == 2);
    assert_true(sample(t, "bulwark_audit_events_total{event=\"x_1.2\"}") == 1);
    char series[128];
    snprintf(series, sizeof(series), "bulwark_audit_events_total{event=\"%s\"}", n64);
    assert_true(sample(t, series) == 1);
    assert_int_equal(count_lines_with(t, "bulwark_audit_events_total{"), 5);
    /* names are sorted */
    assert_true(strstr(t, "{event=\"aaaa") < strstr(t, "{event=\"session.created\""));
    free(t);
}

static void test_event_overflow(void **state)
{
    (void)state;
    char name[32], series[96];

    for (int i = 0; i < BW_METRICS_EVENTS_MAX; i++) {
        snprintf(name, sizeof(name), "ev.n%03d", i);
        bw_metrics_event(name);
    }
    bw_metrics_event("ev.n000"); /* known names keep counting when the table is full */
    bw_metrics_event("ev.late");
    bw_metrics_event("ev.late");
    bw_metrics_event("auth.lockout"); /* a new name, but its derived family still counts */
    char *t = render();
    assert_int_equal(count_lines_with(t, "bulwark_audit_events_total{"), BW_METRICS_EVENTS_MAX + 2);
    assert_true(sample(t, "bulwark_audit_events_total{event=\"ev.n000\"}") == 2);
    snprintf(series, sizeof(series), "bulwark_audit_events_total{event=\"ev.n%03d\"}",
             BW_METRICS_EVENTS_MAX - 1);
    assert_true(sample(t, series) == 1);
    assert_true(sample(t, "bulwark_audit_events_total{event=\"ev.late\"}") == -1);
    assert_true(sample(t, "bulwark_audit_events_total{event=\"other\"}") == 3);
    assert_true(sample(t, "bulwark_auth_lockouts_total") == 1);
    free(t);
}

static void test_derived(void **state)
{
    (void)state;
    static const struct {
        const char *event, *family;
    } d[] = {
        {"auth.login.failure", "bulwark_auth_failures_total"},
        {"auth.lockout", "bulwark_auth_lockouts_total"},
        {"ratelimit.exceeded", "bulwark_ratelimit_exceeded_total"},
        {"ban.added", "bulwark_bans_total"},
        {"validation.failed", "bulwark_validation_failures_total"},
        {"attack.suspected", "bulwark_attacks_suspected_total"},
        {"alert.raised", "bulwark_alerts_total"},
    };
    char *t = render();
    for (size_t i = 0; i < 7; i++)
        assert_true(sample(t, d[i].family) == 0);
    free(t);
    for (size_t i = 0; i < 7; i++) {
        for (size_t k = 0; k <= i; k++)
            bw_metrics_event(d[i].event);
    }
    /* near misses count under their own name only */
    bw_metrics_event("auth.login.failures");
    bw_metrics_event("auth.login.failur");
    bw_metrics_event("ban.added.x");
    t = render();
    for (size_t i = 0; i < 7; i++) {
        char series[96];
        assert_true(sample(t, d[i].family) == (double)(i + 1));
        snprintf(series, sizeof(series), "bulwark_audit_events_total{event=\"%s\"}", d[i].event);
        assert_true(sample(t, series) == (double)(i + 1));
    }
    assert_true(sample(t, "bulwark_audit_events_total{event=\"auth.login.failures\"}") == 1);
    free(t);
}

/* ---- gauges ----------------------------------------------------------------------------- */

/* The gauges the callback reports (a global, so that every change is visibly read). */
static bw_metrics_gauges gauge_src;

static void fill_gauges(bw_metrics_gauges *g, void *udata)
{
    *g = *(const bw_metrics_gauges *)udata;
}

static void test_gauges(void **state)
{
    (void)state;
    static const char *const commit_le[] = {"0.001", "0.002", "0.005", "0.01", "0.025",
                                            "0.05",  "0.1",   "0.25",  "1"};
    gauge_src = (bw_metrics_gauges){
        .cert_not_after = (int64_t)time(NULL) + 10 * 86400 + 3600,
        .bans_active = 3,
        .inflight = 4,
        .audit_queue_depth = 5,
        .audit_committed = 1234567,
        .audit_failed = 7,
        .audit_batches = 55,
        .audit_commit_us_sum = 1500000,
        .audit_commit_buckets = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
        .webhook_sent = 11,
        .webhook_failed = 12,
        .webhook_dropped = 13,
        .connections_refused = 14,
        .ratelimit_entries = 15,
        .ratelimit_overflow = 16,
    };

    /* no callback: zeros, and no certificate line */
    char *t = render();
    assert_true(sample(t, "bulwark_bans_active") == 0);
    assert_null(strstr(t, "bulwark_tls_cert_expiry_days"));
    free(t);

    bw_metrics_set_gauge_fn(fill_gauges, &gauge_src);
    t = render();
    assert_true(sample(t, "bulwark_tls_cert_expiry_days") == 10);
    assert_true(sample(t, "bulwark_bans_active") == 3);
    assert_true(sample(t, "bulwark_requests_in_flight") == 4);
    assert_true(sample(t, "bulwark_audit_queue_depth") == 5);
    assert_true(sample(t, "bulwark_audit_records_total") == 1234567);
    assert_true(sample(t, "bulwark_audit_failed_total") == 7);
    assert_true(sample(t, "bulwark_webhook_sent_total") == 11);
    assert_true(sample(t, "bulwark_webhook_failed_total") == 12);
    assert_true(sample(t, "bulwark_webhook_dropped_total") == 13);
    assert_true(sample(t, "bulwark_connections_refused_total") == 14);
    assert_true(sample(t, "bulwark_ratelimit_table_entries") == 15);
    assert_true(sample(t, "bulwark_ratelimit_overflow_total") == 16);
    assert_true(check_histogram(t, "bulwark_audit_commit_seconds", commit_le, 9) == 55);
    assert_true(sample(t, "bulwark_audit_commit_seconds_bucket{le=\"0.005\"}") == 6);
    assert_true(sample(t, "bulwark_audit_commit_seconds_bucket{le=\"1\"}") == 45);
    assert_non_null(strstr(t, "\nbulwark_audit_commit_seconds_sum 1.500000\n"));
    assert_non_null(strstr(t, "# TYPE bulwark_tls_cert_expiry_days gauge\n"));
    assert_non_null(strstr(t, "# TYPE bulwark_audit_records_total counter\n"));
    free(t);

    /* expired an hour ago: -1 day; a day and a second ago: -2 */
    gauge_src.cert_not_after = (int64_t)time(NULL) - 3600;
    t = render();
    assert_true(sample(t, "bulwark_tls_cert_expiry_days") == -1);
    free(t);
    gauge_src.cert_not_after = (int64_t)time(NULL) - 86401;
    t = render();
    assert_true(sample(t, "bulwark_tls_cert_expiry_days") == -2);
    free(t);
    /* extreme values neither overflow nor break the grammar */
    gauge_src.cert_not_after = INT64_MIN;
    gauge_src.bans_active = UINT64_MAX;
    gauge_src.audit_commit_us_sum = UINT64_MAX;
    t = render();
    assert_true(sample(t, "bulwark_tls_cert_expiry_days") < -1e13);
    assert_non_null(strstr(t, "\nbulwark_bans_active 18446744073709551615\n"));
    free(t);
    gauge_src.cert_not_after = INT64_MAX;
    t = render();
    assert_true(sample(t, "bulwark_tls_cert_expiry_days") > 1e13);
    free(t);

    bw_metrics_set_gauge_fn(NULL, NULL);
    t = render();
    assert_true(sample(t, "bulwark_requests_in_flight") == 0);
    free(t);
}

/* ---- the listener ----------------------------------------------------------------------- */

typedef struct http_reply {
    int status;
    char head[4096]; /* header lines, NUL-terminated */
    char *body;
    size_t body_len;
} http_reply;

/* Sends raw to 127.0.0.1:port and reads until the server closes. 0, or -1 when the
 * connection fails. */
static int http_raw(int port, const char *raw, http_reply *r)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 5};
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(r, 0, sizeof(*r));
    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    assert_int_equal(send(fd, raw, strlen(raw), MSG_NOSIGNAL), (ssize_t)strlen(raw));
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 16384;
            char *grown = realloc(buf, cap + 1);
            assert_non_null(grown);
            buf = grown;
        }
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        assert_true(n >= 0); /* a timeout fails the test */
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    assert_non_null(buf);
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    assert_non_null(end);
    assert_true((size_t)(end - buf) < sizeof(r->head));
    memcpy(r->head, buf, (size_t)(end - buf) + 2);
    r->head[end - buf + 2] = '\0';
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d ", &r->status), 1);
    r->body_len = len - (size_t)(end + 4 - buf);
    r->body = malloc(r->body_len + 1);
    assert_non_null(r->body);
    memcpy(r->body, end + 4, r->body_len);
    r->body[r->body_len] = '\0';
    free(buf);
    return 0;
}

/* The value of header name (case-insensitive), copied into out; NULL when absent. */
static const char *header(const http_reply *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);

    for (const char *p = strstr(r->head, "\r\n"); p != NULL; p = strstr(p, "\r\n")) {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            assert_non_null(e);
            assert_true((size_t)(e - v) < cap);
            memcpy(out, v, (size_t)(e - v));
            out[e - v] = '\0';
            return out;
        }
    }
    return NULL;
}

static void assert_common_headers(const http_reply *r)
{
    char v[256];

    assert_non_null(header(r, "Cache-Control", v, sizeof(v)));
    assert_string_equal(v, "no-store");
    assert_non_null(header(r, "X-Content-Type-Options", v, sizeof(v)));
    assert_string_equal(v, "nosniff");
}

static void test_listener(void **state)
{
    (void)state;
    char err[256] = "", v[256];
    http_reply r;
    int port;

    assert_int_equal(bw_metrics_listen_port(), 0);
    assert_int_equal(bw_metrics_listen_start("127.0.0.1:0", err, sizeof(err)), 0);
    port = bw_metrics_listen_port();
    assert_true(port > 0 && port < 65536);
    bw_metrics_request(0, 200, 100);
    bw_metrics_event("auth.login.failure");

    assert_int_equal(http_raw(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
    assert_int_equal(r.status, 200);
    assert_common_headers(&r);
    assert_non_null(header(&r, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(header(&r, "Content-Length", v, sizeof(v)));
    assert_int_equal(strtoul(v, NULL, 10), r.body_len);
    check_exposition(r.body, r.body_len);
    assert_true(
        sample(r.body, "bulwark_requests_total{route=\"/v1/notes\",method=\"GET\",code=\"200\"}") ==
        1);
    assert_true(sample(r.body, "bulwark_auth_failures_total") == 1);
    free(r.body);

    /* a query string does not change the path */
    assert_int_equal(http_raw(port, "GET /metrics?name[]=x HTTP/1.0\r\n\r\n", &r), 0);
    assert_int_equal(r.status, 200);
    free(r.body);

    assert_int_equal(http_raw(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
    assert_int_equal(r.status, 200);
    assert_common_headers(&r);
    assert_non_null(header(&r, "Content-Length", v, sizeof(v)));
    assert_true(strtoul(v, NULL, 10) > 100);
    assert_int_equal(r.body_len, 0);
    free(r.body);

    static const char *const not_allowed[] = {
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab",
        "PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        "DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "OPTIONS /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(not_allowed) / sizeof(not_allowed[0]); i++) {
        assert_int_equal(http_raw(port, not_allowed[i], &r), 0);
        assert_int_equal(r.status, 405);
        assert_common_headers(&r);
        assert_non_null(header(&r, "Allow", v, sizeof(v)));
        assert_string_equal(v, "GET, HEAD");
        assert_null(strstr(r.body, "bulwark_"));
        free(r.body);
    }

    static const char *const not_found[] = {
        "GET /other HTTP/1.1\r\nHost: x\r\n\r\n",     "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n",  "GET /Metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /%6detrics HTTP/1.1\r\nHost: x\r\n\r\n", "POST /other HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /./metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++) {
        assert_int_equal(http_raw(port, not_found[i], &r), 0);
        if (r.status != 404)
            fail_msg("%s: %d", not_found[i], r.status);
        assert_common_headers(&r);
        assert_null(strstr(r.body, "bulwark_"));
        free(r.body);
    }

    /* a malformed request: CivetWeb's error, with our headers and none of its text */
    assert_int_equal(http_raw(port, "GARBAGE\r\n\r\n", &r), 0);
    assert_true(r.status >= 400 && r.status < 500);
    assert_common_headers(&r);
    assert_string_equal(r.body, "error\n");
    free(r.body);

    /* one listener per process */
    assert_int_equal(bw_metrics_listen_start("127.0.0.1:0", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "already"));
    assert_int_equal(bw_metrics_listen_port(), port);

    bw_metrics_listen_stop();
    assert_int_equal(bw_metrics_listen_port(), 0);
    assert_int_equal(http_raw(port, "GET /metrics HTTP/1.1\r\n\r\n", &r), -1);
    bw_metrics_listen_stop(); /* no-op */

    /* restart on the port just freed */
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    assert_int_equal(bw_metrics_listen_start(addr, err, sizeof(err)), 0);
    assert_int_equal(bw_metrics_listen_port(), port);
    assert_int_equal(http_raw(port, "GET /metrics HTTP/1.1\r\n\r\n", &r), 0);
    assert_int_equal(r.status, 200);
    free(r.body);
    bw_metrics_listen_stop();
}

static void test_listener_errors(void **state)
{
    (void)state;
    char err[256];
    static const char *const bad[] = {
        "",
        "9464",
        ":9464",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:99999",
        "127.0.0.1:123456",
        "127.0.0.1:9464s",
        "127.0.0.1:9464r",
        "127.0.0.1:1,127.0.0.1:2",
        "127.0.0.1:-1",
        "[::1:9464",
        "[]:9464",
        "::1:9464",
        "host name:1",
        "127.0.0.1:9464 ",
        "[::1]x:9464",
        "[::g]:9464",
    };
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    char addr[64];

    assert_int_equal(bw_metrics_listen_start(NULL, err, sizeof(err)), -1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (bw_metrics_listen_start(bad[i], err, sizeof(err)) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(strstr(err, "metrics.listen"));
        assert_int_equal(bw_metrics_listen_port(), 0);
    }
    /* too long */
    char lng[300];
    memset(lng, 'a', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = '\0';
    assert_int_equal(bw_metrics_listen_start(lng, err, sizeof(err)), -1);
    /* errors fit any buffer, even none */
    assert_int_equal(bw_metrics_listen_start("", NULL, 0), -1);
    assert_int_equal(bw_metrics_listen_start("", err, 8), -1);
    assert_int_equal(strlen(err), 7);

    /* a port in use */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(a.sin_port));
    err[0] = '\0';
    assert_int_equal(bw_metrics_listen_start(addr, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot listen"));
    assert_int_equal(bw_metrics_listen_port(), 0);
    close(fd);

    /* IPv6: served when CivetWeb was built with it, else refused with a clear message */
    err[0] = '\0';
    if (mg_check_feature(8) != 0) {
        assert_int_equal(bw_metrics_listen_start("[::1]:0", err, sizeof(err)), 0);
        assert_true(bw_metrics_listen_port() > 0);
        bw_metrics_listen_stop();
    } else {
        assert_int_equal(bw_metrics_listen_start("[::1]:0", err, sizeof(err)), -1);
        assert_non_null(strstr(err, "IPv6"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_histogram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_derived, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gauges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_errors, setup, teardown),
    };
    int rc;

    mg_init_library(0);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    mg_exit_library();
    return rc;
}
