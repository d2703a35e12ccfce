/* Monitoring of a running `notes` over HTTPS: the metrics listener's text parses line by line
 * and its counters follow what the test does (requests by route and status, failed logins,
 * 429s, 400s, audit records; the certificate's expiry matches the file); the main port does
 * not serve /metrics and the listener refuses other methods. An alert rule fires on the
 * COUNT-th matching event, once, then stays quiet for its window; its webhook reaches an
 * HTTPS receiver run by the test, signed with HMAC-SHA256 over "timestamp.body", without the
 * request that raised it waiting for the delivery. Each case plays its own loopback address
 * where counts per address matter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth_client.h"
#include "bulwark/tlscert.h"
#include "harness.h"
#include "https_receiver.h"

#define WAIT_MS 5000 /* bound on every poll for an asynchronous effect */
#define MAX_LABELS 4
#define BAD_PW "not the password at all"

/* ---- A server with a metrics listener ---- */

typedef struct fixture {
    bw_srv *srv;
    char *config;
    uint16_t mport; /* the metrics listener */
    char env_metrics[64];
    const char *env[2]; /* read by the harness for the server's whole life */
} fixture;

/* Starts a server with config json and a metrics listener on a free loopback port. */
static int fixture_start(fixture *f, const char *json)
{
    bw_srv_opts o = {0};
    int n;

    memset(f, 0, sizeof(*f));
    if (bw_free_port(&f->mport) != 0)
        return -1;
    n = snprintf(f->env_metrics, sizeof(f->env_metrics), "BULWARK_METRICS_LISTEN=127.0.0.1:%u",
                 (unsigned)f->mport);
    if (n < 0 || (size_t)n >= sizeof(f->env_metrics))
        return -1;
    f->env[0] = f->env_metrics;
    f->env[1] = NULL;
    f->config = bw_test_config_write(json);
    if (f->config == NULL)
        return -1;
    o.config_path = f->config;
    o.env = f->env;
    f->srv = bw_srv_start(&o);
    return f->srv != NULL ? 0 : -1;
}

static int fixture_stop(fixture *f)
{
    return bw_test_srv_stop(&f->srv, &f->config);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One plain-HTTP exchange with the metrics listener: sends the request and reads until the
 * listener closes (it never keeps a connection). 0 with resp filled, or -1. */
static int metrics_http(const fixture *f, const char *method, const char *target, bw_resp *resp)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(f->mport)};
    char req[256], *buf = NULL;
    size_t len = 0, cap = 0, used;
    int64_t until = mono_ms() + WAIT_MS;
    int fd, n, rc = -1;

    n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                 method, target);
    if (n < 0 || (size_t)n >= sizeof(req) || inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr) != 1)
        return -1;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        send(fd, req, (size_t)n, MSG_NOSIGNAL) != (ssize_t)n)
        goto out;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t got;
        int64_t left = until - mono_ms();

        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            goto out;
        if (len + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap + 65536);
            if (nb == NULL)
                goto out;
            buf = nb;
            cap += 65536;
        }
        got = recv(fd, buf + len, cap - len - 1, 0);
        if (got < 0)
            goto out;
        if (got == 0)
            break;
        len += (size_t)got;
    }
    if (buf == NULL)
        goto out;
    buf[len] = '\0';
    rc = bw_parse_response(buf, len, strcmp(method, "HEAD") == 0, resp, &used);
out:
    free(buf);
    (void)close(fd);
    return rc;
}

/* ---- The exposition format, line by line ---- */

typedef struct mlabel {
    char name[64];
    char value[256];
} mlabel;

typedef struct msample {
    char name[128];
    mlabel labels[MAX_LABELS];
    size_t nlabels;
    double value;
} msample;

typedef struct mfamily {
    char name[128];
    char type[16];
} mfamily;

typedef struct mset {
    msample *s;
    size_t n, cap;
    mfamily *fam;
    size_t nfam, famcap;
} mset;

static void mset_free(mset *m)
{
    free(m->s);
    free(m->fam);
    memset(m, 0, sizeof(*m));
}

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Reads a metric or label name at *p (before end) into out. */
static bool read_name(const char **p, const char *end, char *out, size_t cap, bool colon_ok)
{
    size_t n = 0;

    while (*p + n < end && name_char((*p)[n], n == 0) && (colon_ok || (*p)[n] != ':'))
        n++;
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, *p, n);
    out[n] = '\0';
    *p += n;
    return true;
}

/* Reads `"value"` with the format's escapes (\\, \", \n) into out. */
static bool read_label_value(const char **p, const char *end, char *out, size_t cap)
{
    const char *q = *p;
    size_t n = 0;

    if (q >= end || *q++ != '"')
        return false;
    while (q < end && *q != '"') {
        char c = *q++;
        if (c == '\\') {
            if (q >= end)
                return false;
            c = *q++;
            if (c == 'n')
                c = '\n';
            else if (c != '\\' && c != '"')
                return false;
        } else if (c == '\n') {
            return false;
        }
        if (n + 1 >= cap)
            return false;
        out[n++] = c;
    }
    if (q >= end)
        return false;
    out[n] = '\0';
    *p = q + 1;
    return true;
}

/* Parses one sample line [p, end): name, optional {labels}, one space, a value and nothing
 * else (the renderer writes no timestamps). */
static bool parse_sample(const char *p, const char *end, msample *s)
{
    char num[64];
    char *stop;
    size_t vlen;

    memset(s, 0, sizeof(*s));
    if (!read_name(&p, end, s->name, sizeof(s->name), true))
        return false;
    if (p < end && *p == '{') {
        p++;
        while (p < end && *p != '}') {
            mlabel *l;
            if (s->nlabels == MAX_LABELS)
                return false;
            l = &s->labels[s->nlabels++];
            if (!read_name(&p, end, l->name, sizeof(l->name), false) || p >= end || *p++ != '=' ||
                !read_label_value(&p, end, l->value, sizeof(l->value)))
                return false;
            for (size_t i = 0; i + 1 < s->nlabels; i++) {
                if (strcmp(s->labels[i].name, l->name) == 0)
                    return false; /* a label twice */
            }
            if (p < end && *p == ',')
                p++;
            else if (p < end && *p != '}')
                return false;
        }
        if (p >= end)
            return false;
        p++;
    }
    if (p >= end || *p++ != ' ')
        return false;
    vlen = (size_t)(end - p);
    if (vlen == 0 || vlen >= sizeof(num))
        return false;
    memcpy(num, p, vlen);
    num[vlen] = '\0';
    if (strcmp(num, "+Inf") == 0 || strcmp(num, "-Inf") == 0 || strcmp(num, "NaN") == 0)
        return false; /* none of our families can have such a value */
    errno = 0;
    s->value = strtod(num, &stop);
    return errno == 0 && *stop == '\0' && stop != num && isfinite(s->value);
}

static bool same_series(const msample *a, const msample *b)
{
    if (strcmp(a->name, b->name) != 0 || a->nlabels != b->nlabels)
        return false;
    for (size_t i = 0; i < a->nlabels; i++) {
        bool found = false;
        for (size_t j = 0; j < b->nlabels && !found; j++)
            found = strcmp(a->labels[i].name, b->labels[j].name) == 0 &&
                    strcmp(a->labels[i].value, b->labels[j].value) == 0;
        if (!found)
            return false;
    }
    return true;
}

static const mfamily *family_of(const mset *m, const char *sample_name)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    size_t len = strlen(sample_name);

    for (size_t i = 0; i < m->nfam; i++) {
        size_t fl = strlen(m->fam[i].name);
        if (strcmp(m->fam[i].name, sample_name) == 0)
            return &m->fam[i];
        if (strcmp(m->fam[i].type, "histogram") != 0 || len <= fl ||
            strncmp(sample_name, m->fam[i].name, fl) != 0)
            continue;
        for (size_t k = 0; k < 3; k++) {
            if (strcmp(sample_name + fl, suffixes[k]) == 0)
                return &m->fam[i];
        }
    }
    return NULL;
}

/* "# TYPE name type" adds a family; any other comment is skipped. */
static bool parse_comment(const char *p, const char *end, mset *m)
{
    static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
    mfamily f;
    size_t tl;

    if ((size_t)(end - p) < 7 || strncmp(p, "# TYPE ", 7) != 0)
        return true;
    p += 7;
    if (!read_name(&p, end, f.name, sizeof(f.name), true) || p >= end || *p++ != ' ')
        return false;
    tl = (size_t)(end - p);
    if (tl == 0 || tl >= sizeof(f.type))
        return false;
    memcpy(f.type, p, tl);
    f.type[tl] = '\0';
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(f.type, types[i]) == 0) {
            if (family_of(m, f.name) != NULL)
                return false; /* a family declared twice */
            if (m->nfam == m->famcap) {
                mfamily *nf = realloc(m->fam, (m->famcap + 32) * sizeof(*nf));
                if (nf == NULL)
                    return false;
                m->fam = nf;
                m->famcap += 32;
            }
            m->fam[m->nfam++] = f;
            return true;
        }
    }
    return false;
}

/* Parses a whole exposition: every line ends with '\n'; a line is a comment or a sample of a
 * family declared by an earlier # TYPE line; no series twice. 0, or -1 with the line in why. */
static int parse_metrics(const char *text, size_t len, mset *m, char *why, size_t cap)
{
    const char *p = text, *end = text + len;
    size_t line = 0;

    memset(m, 0, sizeof(*m));
    if (len == 0 || text[len - 1] != '\n') {
        snprintf(why, cap, "the text does not end with a line break");
        return -1;
    }
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        msample s;
        bool ok;

        line++;
        if (*p == '#') {
            ok = parse_comment(p, eol, m);
        } else {
            ok = parse_sample(p, eol, &s) && family_of(m, s.name) != NULL;
            for (size_t i = 0; ok && i < m->n; i++)
                ok = !same_series(&m->s[i], &s);
            if (ok && m->n == m->cap) {
                msample *ns = realloc(m->s, (m->cap + 64) * sizeof(*ns));
                ok = ns != NULL;
                if (ok) {
                    m->s = ns;
                    m->cap += 64;
                }
            }
            if (ok)
                m->s[m->n++] = s;
        }
        if (!ok) {
            snprintf(why, cap, "line %zu: %.*s", line, (int)(eol - p), p);
            mset_free(m);
            return -1;
        }
        p = eol + 1;
    }
    return 0;
}

/* The value of the series name{labels} (labels: name, value, ..., NULL; exactly these). */
static bool mget(const mset *m, const char *name, const char *const *labels, double *out)
{
    msample want;

    memset(&want, 0, sizeof(want));
    snprintf(want.name, sizeof(want.name), "%s", name);
    for (size_t i = 0; labels != NULL && labels[2 * i] != NULL; i++) {
        assert_true(i < MAX_LABELS);
        snprintf(want.labels[i].name, sizeof(want.labels[i].name), "%s", labels[2 * i]);
        snprintf(want.labels[i].value, sizeof(want.labels[i].value), "%s", labels[2 * i + 1]);
        want.nlabels++;
    }
    for (size_t i = 0; i < m->n; i++) {
        if (same_series(&m->s[i], &want)) {
            *out = m->s[i].value;
            return true;
        }
    }
    return false;
}

/* GET /metrics, checked (200, the format's content type, a text that parses) and parsed. */
static void scrape(const fixture *f, mset *m)
{
    bw_resp r;
    char why[512];

    assert_int_equal(metrics_http(f, "GET", "/metrics", &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(bw_resp_header(&r, "Content-Type"));
    assert_string_equal(bw_resp_header(&r, "Content-Type"),
                        "text/plain; version=0.0.4; charset=utf-8");
    if (parse_metrics(r.body, r.body_len, m, why, sizeof(why)) != 0)
        fail_msg("metrics do not parse: %s", why);
    bw_resp_free(&r);
}

/* The series' value now; a series not rendered yet counts as 0 when absent_ok. */
static double metric(const fixture *f, const char *name, const char *const *labels, bool absent_ok)
{
    mset m;
    double v = 0;

    scrape(f, &m);
    if (!mget(&m, name, labels, &v) && !absent_ok)
        fail_msg("series %s not rendered", name);
    mset_free(&m);
    return v;
}

/* Polls until the series reaches want (counting happens after the answer is written), then
 * returns its value: a count past want shows as a mismatch. */
static double metric_reaches(const fixture *f, const char *name, const char *const *labels,
                             double want)
{
    int64_t until = mono_ms() + WAIT_MS;
    double v;

    while ((v = metric(f, name, labels, true)) < want && mono_ms() < until)
        usleep(20000);
    usleep(50000); /* a late extra count would show now */
    return metric(f, name, labels, true);
}

/* POST /v1/auth/login with body; returns the status. */
static long login_body(bw_srv *srv, const char *body)
{
    bw_resp r;
    long st;

    assert_int_equal(bw_http_as(srv, NULL, "POST", "/v1/auth/login", body, NULL, &r), 0);
    st = r.status;
    bw_resp_free(&r);
    return st;
}

/* A login as name (a different name each time: no per-name lockout) with a wrong password. */
static long failed_login(bw_srv *srv, const char *name)
{
    char json[256];

    assert_true((size_t)snprintf(json, sizeof(json), "{\"username\":\"%s\",\"password\":\"%s\"}",
                                 name, BAD_PW) < sizeof(json));
    return login_body(srv, json);
}

static const char monitored_config[] =
    "{\"ratelimit\": {\"address_burst\": 1000},"
    " \"auth\": {\"password\": {\"memlimit_kib\": 19456}, \"lockout\": {\"threshold\": 100}}}";

static const char *const healthz_200[] = {"route", "/healthz", "method", "GET",
                                          "code",  "200",      NULL};
static const char *const login_401[] = {"route", "/v1/auth/login", "method", "POST", "code", "401",
                                        NULL};
static const char *const login_429[] = {"route", "/v1/auth/login", "method", "POST", "code", "429",
                                        NULL};
static const char *const login_400[] = {"route", "/v1/auth/login", "method", "POST", "code", "400",
                                        NULL};
static const char *const unmatched_404[] = {"route", "unmatched", "method", "other",
                                            "code",  "404",       NULL};

/* ---- Metrics ---- */

static void test_metrics_format_and_state(void **state)
{
    fixture *f = *state;
    mset m;
    double v, inf = -1, count = -2, prev = 0, days = 0;
    char cert[4096], key[4096], err[256];
    bw_tls_cert_info info;
    const char *const le_inf[] = {"le", "+Inf", NULL};

    /* The harness's /healthz polls are counted after their answers: wait for the first. */
    assert_true(metric_reaches(f, "bulwark_request_duration_seconds_count", NULL, 1) >= 1);
    scrape(f, &m);
    /* The certificate's days match the file the server serves. */
    snprintf(cert, sizeof(cert), "%s/tls/cert.pem", bw_srv_data_dir(f->srv));
    snprintf(key, sizeof(key), "%s/tls/key.pem", bw_srv_data_dir(f->srv));
    assert_int_equal(bw_tls_cert_check(cert, key, (long long)time(NULL), &info, err, sizeof(err)),
                     0);
    assert_true(mget(&m, "bulwark_tls_cert_expiry_days", NULL, &days));
    assert_true(days > 0 && days <= BW_TLS_CERT_MAX_DAYS);
    assert_true(days == (double)info.days_left);
    /* The audit gauges are there; nothing has failed. */
    assert_true(mget(&m, "bulwark_audit_queue_depth", NULL, &v));
    assert_true(v >= 0);
    assert_true(mget(&m, "bulwark_audit_records_total", NULL, &v));
    assert_true(v >= 1); /* config.loaded at least */
    assert_true(mget(&m, "bulwark_audit_failed_total", NULL, &v));
    assert_true(v == 0);
    /* The named event families are rendered before their first event. */
    assert_true(mget(&m, "bulwark_bans_total", NULL, &v));
    assert_true(mget(&m, "bulwark_audit_events_total",
                     (const char *const[]){"event", "invalid", NULL}, &v));
    /* The latency histogram is consistent: buckets never fall, _count is the +Inf bucket. */
    for (size_t i = 0; i < m.n; i++) {
        if (strcmp(m.s[i].name, "bulwark_request_duration_seconds_bucket") == 0) {
            assert_true(m.s[i].value >= prev);
            prev = m.s[i].value;
        }
    }
    assert_true(mget(&m, "bulwark_request_duration_seconds_bucket", le_inf, &inf));
    assert_true(mget(&m, "bulwark_request_duration_seconds_count", NULL, &count));
    if (inf != count || count < 1)
        fail_msg("+Inf bucket %g, _count %g", inf, count);
    mset_free(&m);
}

static void test_requests_counted_by_route_and_status(void **state)
{
    fixture *f = *state;
    double ok0 = metric(f, "bulwark_requests_total", healthz_200, true);
    double nf0 = metric(f, "bulwark_requests_total", unmatched_404, true);
    double n0 = metric(f, "bulwark_request_duration_seconds_count", NULL, false);
    bw_resp r;

    for (int i = 0; i < 3; i++) {
        assert_int_equal(bw_http(f->srv, "GET", "/healthz", NULL, NULL, 0, &r), 0);
        assert_int_equal(r.status, 200);
        bw_resp_free(&r);
    }
    assert_int_equal(bw_http(f->srv, "GET", "/no/such/route", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 404);
    bw_resp_free(&r);
    assert_true(metric_reaches(f, "bulwark_requests_total", healthz_200, ok0 + 3) == ok0 + 3);
    assert_true(metric_reaches(f, "bulwark_requests_total", unmatched_404, nf0 + 1) == nf0 + 1);
    /* Scrapes are not requests: exactly the four above were timed. */
    assert_true(metric_reaches(f, "bulwark_request_duration_seconds_count", NULL, n0 + 4) ==
                n0 + 4);
}

static void test_failed_logins_counted(void **state)
{
    fixture *f = *state;
    const char *const ev[] = {"event", "auth.login.failure", NULL};
    double fail0 = metric(f, "bulwark_auth_failures_total", NULL, false);
    double ev0 = metric(f, "bulwark_audit_events_total", ev, true);
    double st0 = metric(f, "bulwark_requests_total", login_401, true);
    double rec0 = metric(f, "bulwark_audit_records_total", NULL, false);

    assert_int_equal(bw_srv_set_source(f->srv, "127.0.0.3"), 0);
    assert_int_equal(failed_login(f->srv, "mallory1"), 401);
    assert_int_equal(failed_login(f->srv, "mallory2"), 401);
    assert_int_equal(bw_srv_set_source(f->srv, NULL), 0);
    assert_true(metric_reaches(f, "bulwark_auth_failures_total", NULL, fail0 + 2) == fail0 + 2);
    assert_true(metric_reaches(f, "bulwark_audit_events_total", ev, ev0 + 2) == ev0 + 2);
    assert_true(metric_reaches(f, "bulwark_requests_total", login_401, st0 + 2) == st0 + 2);
    /* Their records are committed by the writer. */
    assert_true(metric_reaches(f, "bulwark_audit_records_total", NULL, rec0 + 2) >= rec0 + 2);
    assert_true(metric(f, "bulwark_audit_failed_total", NULL, false) == 0);
}

static void test_rate_limited_counted(void **state)
{
    fixture *f = *state;
    const char *const ev[] = {"event", "ratelimit.exceeded", NULL};
    double rl0 = metric(f, "bulwark_ratelimit_exceeded_total", NULL, false);
    double ev0 = metric(f, "bulwark_audit_events_total", ev, true);
    double st0 = metric(f, "bulwark_requests_total", login_429, true);
    int limited = 0;

    /* POST /v1/auth/login allows 10/min per address (a burst of 10, then one per 6 s): the
     * first ten are 401, then 429 until a slot comes back; stop at the second 429. */
    assert_int_equal(bw_srv_set_source(f->srv, "127.0.0.4"), 0);
    for (int i = 0; i < 20 && limited < 2; i++) {
        char name[32];
        long st;

        snprintf(name, sizeof(name), "flood%d", i);
        st = failed_login(f->srv, name);
        if (i < 10)
            assert_int_equal(st, 401);
        else
            assert_true(st == 401 || st == 429);
        limited += st == 429;
    }
    assert_int_equal(bw_srv_set_source(f->srv, NULL), 0);
    assert_int_equal(limited, 2);
    assert_true(metric_reaches(f, "bulwark_ratelimit_exceeded_total", NULL, rl0 + 2) == rl0 + 2);
    assert_true(metric_reaches(f, "bulwark_audit_events_total", ev, ev0 + 2) == ev0 + 2);
    assert_true(metric_reaches(f, "bulwark_requests_total", login_429, st0 + 2) == st0 + 2);
}

static void test_validation_failures_counted(void **state)
{
    fixture *f = *state;
    const char *const ev[] = {"event", "validation.failed", NULL};
    double v0 = metric(f, "bulwark_validation_failures_total", NULL, false);
    double ev0 = metric(f, "bulwark_audit_events_total", ev, true);
    double st0 = metric(f, "bulwark_requests_total", login_400, true);

    /* The login schema requires a password. */
    assert_int_equal(bw_srv_set_source(f->srv, "127.0.0.5"), 0);
    assert_int_equal(login_body(f->srv, "{\"username\":\"nopassword\"}"), 400);
    assert_int_equal(login_body(f->srv, "{\"username\":\"x\",\"password\":7}"), 400);
    assert_int_equal(bw_srv_set_source(f->srv, NULL), 0);
    assert_true(metric_reaches(f, "bulwark_validation_failures_total", NULL, v0 + 2) == v0 + 2);
    assert_true(metric_reaches(f, "bulwark_audit_events_total", ev, ev0 + 2) == ev0 + 2);
    assert_true(metric_reaches(f, "bulwark_requests_total", login_400, st0 + 2) == st0 + 2);
}

static void test_metrics_only_on_the_listener(void **state)
{
    fixture *f = *state;
    bw_resp r;
    const char *allow;

    /* The service's own port has no /metrics. */
    assert_int_equal(bw_http(f->srv, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    BW_ASSERT_PROBLEM(&r, 404);
    assert_null(strstr(r.body, "bulwark_"));
    bw_resp_free(&r);
    /* The listener serves GET only (and HEAD). */
    assert_int_equal(metrics_http(f, "POST", "/metrics", &r), 0);
    assert_int_equal(r.status, 405);
    allow = bw_resp_header(&r, "Allow");
    assert_non_null(allow);
    assert_true(bw_list_has(allow, "GET") && bw_list_has(allow, "HEAD"));
    assert_false(bw_list_has(allow, "POST"));
    assert_null(strstr(r.body, "bulwark_"));
    bw_resp_free(&r);
    assert_int_equal(metrics_http(f, "DELETE", "/metrics", &r), 0);
    assert_int_equal(r.status, 405);
    bw_resp_free(&r);
    assert_int_equal(metrics_http(f, "GET", "/metrics/", &r), 0);
    assert_int_equal(r.status, 404);
    bw_resp_free(&r);
    assert_int_equal(metrics_http(f, "HEAD", "/metrics", &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    bw_resp_free(&r);
}

static int metrics_setup(void **state)
{
    fixture *f = malloc(sizeof(*f));

    *state = f;
    return f != NULL && fixture_start(f, monitored_config) == 0 ? 0 : -1;
}

static int metrics_teardown(void **state)
{
    fixture *f = *state;
    int rc = f != NULL && fixture_stop(f) == 0 ? 0 : -1;

    free(f);
    return rc;
}

/* ---- Alerts ---- */

/* `notes audit search --event EVENT --limit 100` next to the server: its lines, each parsed
 * (a JSON array, caller decrefs). Fails the test unless the command succeeds and every line is
 * a JSON object. */
static json_t *audit_search(bw_srv *srv, const char *event)
{
    const char *argv[] = {"audit", "search", "--event", event, "--limit", "100", NULL};
    bw_run_result r;
    json_t *all = json_array();
    const char *p;

    assert_non_null(all);
    assert_int_equal(bw_srv_run(srv, argv, NULL, &r), 0);
    if (r.status != 0)
        fail_msg("audit search exited %d: %s", r.status, r.err);
    p = r.out;
    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        json_error_t e;
        json_t *rec;

        assert_non_null(eol);
        rec = json_loadb(p, (size_t)(eol - p), 0, &e);
        if (!json_is_object(rec))
            fail_msg("audit search printed a line that is not a JSON object: %.*s", (int)(eol - p),
                     p);
        assert_int_equal(json_array_append_new(all, rec), 0);
        p = eol + 1;
    }
    bw_run_free(&r);
    return all;
}

/* Polls until at least n records of event are committed; returns them (caller decrefs). */
static json_t *audit_wait(bw_srv *srv, const char *event, size_t n)
{
    int64_t until = mono_ms() + WAIT_MS;

    for (;;) {
        json_t *recs = audit_search(srv, event);
        if (json_array_size(recs) >= n || mono_ms() > until)
            return recs;
        json_decref(recs);
        usleep(50000);
    }
}

static size_t audit_count(bw_srv *srv, const char *event)
{
    json_t *recs = audit_search(srv, event);
    size_t n = json_array_size(recs);

    json_decref(recs);
    return n;
}

static void assert_alert_record(const json_t *rec, const char *rule, long long count)
{
    const json_t *d = json_object_get(rec, "detail");

    assert_string_equal(json_string_value(json_object_get(rec, "event")), "alert.raised");
    assert_string_equal(json_string_value(json_object_get(rec, "outcome")), "info");
    assert_string_equal(json_string_value(json_object_get(rec, "target")), "auth.login.failure");
    assert_string_equal(json_string_value(json_object_get(d, "rule")), rule);
    assert_int_equal(json_integer_value(json_object_get(d, "count")), count);
    assert_int_equal(json_integer_value(json_object_get(d, "window_s")), 60);
}

static void test_alert_fires_once_per_window(void **state)
{
    fixture f;
    json_t *recs;

    (void)state;
    assert_int_equal(fixture_start(&f, "{\"audit\": {\"alerts\": [\"auth.login.failure 3/60s\"]},"
                                       " \"auth\": {\"password\": {\"memlimit_kib\": 19456},"
                                       "  \"lockout\": {\"threshold\": 100}}}"),
                     0);
    assert_int_equal(failed_login(f.srv, "eve1"), 401);
    assert_int_equal(failed_login(f.srv, "eve2"), 401);
    /* Two failures are committed (an alert raised with the second would be by now, too). */
    recs = audit_wait(f.srv, "auth.login.failure", 2);
    assert_int_equal(json_array_size(recs), 2);
    json_decref(recs);
    assert_int_equal(audit_count(f.srv, "alert.raised"), 0);
    assert_true(metric(&f, "bulwark_alerts_total", NULL, false) == 0);
    /* The third within the window raises exactly one. */
    assert_int_equal(failed_login(f.srv, "eve3"), 401);
    recs = audit_wait(f.srv, "alert.raised", 1);
    assert_int_equal(json_array_size(recs), 1);
    assert_alert_record(json_array_get(recs, 0), "auth.login.failure 3/60s", 3);
    json_decref(recs);
    /* A fourth is inside the quiet window: no second alert. */
    assert_int_equal(failed_login(f.srv, "eve4"), 401);
    recs = audit_wait(f.srv, "auth.login.failure", 4);
    assert_int_equal(json_array_size(recs), 4);
    json_decref(recs);
    assert_int_equal(audit_count(f.srv, "alert.raised"), 1);
    assert_true(metric(&f, "bulwark_alerts_total", NULL, false) == 1);
    assert_int_equal(fixture_stop(&f), 0);
}

/* ---- The webhook ---- */

static const char WEBHOOK_KEY[] = "monitoring-test-webhook-key-0123456789";

/* Writes the key with a trailing newline (the loader strips one) as a 0600 file. */
static void write_key(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t len = strlen(WEBHOOK_KEY);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, WEBHOOK_KEY, len), (ssize_t)len);
    assert_int_equal(write(fd, "\n", 1), 1);
    assert_int_equal(close(fd), 0);
}

/* sha256=<hex HMAC-SHA256(key, ts "." body)> over the given bytes. */
static void expected_signature(const char *ts, const char *body, size_t len, char *out, size_t cap)
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char hex[2 * crypto_auth_hmacsha256_BYTES + 1];

    assert_int_equal(
        crypto_auth_hmacsha256_init(&st, (const unsigned char *)WEBHOOK_KEY, strlen(WEBHOOK_KEY)),
        0);
    assert_int_equal(crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts)), 0);
    assert_int_equal(crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1), 0);
    assert_int_equal(crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len), 0);
    assert_int_equal(crypto_auth_hmacsha256_final(&st, mac), 0);
    assert_non_null(sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac)));
    assert_true((size_t)snprintf(out, cap, "sha256=%s", hex) < cap);
}

static void assert_webhook_body(const bw_received *q)
{
    json_error_t e;
    json_t *body = json_loadb(q->body, q->body_len, 0, &e);
    long long now = (long long)time(NULL);

    if (!json_is_object(body))
        fail_msg("webhook body is not a JSON object: %s", q->body);
    assert_string_equal(json_string_value(json_object_get(body, "alert")), "alert.raised");
    assert_string_equal(json_string_value(json_object_get(body, "rule")),
                        "auth.login.failure 2/60s");
    assert_string_equal(json_string_value(json_object_get(body, "event")), "auth.login.failure");
    assert_int_equal(json_integer_value(json_object_get(body, "count")), 2);
    assert_int_equal(json_integer_value(json_object_get(body, "window_s")), 60);
    assert_true(llabs(json_integer_value(json_object_get(body, "time")) - now) <= 30);
    json_decref(body);
}

static void assert_webhook_signed(const bw_received *q)
{
    char want[96];
    char *tamper;

    assert_true(q->timestamp[0] != '\0');
    for (const char *c = q->timestamp; *c != '\0'; c++)
        assert_true(*c >= '0' && *c <= '9');
    assert_true(llabs(strtoll(q->timestamp, NULL, 10) - (long long)time(NULL)) <= 30);
    expected_signature(q->timestamp, q->body, q->body_len, want, sizeof(want));
    assert_int_equal(strlen(q->signature), strlen(want));
    assert_int_equal(sodium_memcmp(q->signature, want, strlen(want)), 0);
    /* The check above is not vacuous: one body byte changed gives another signature. */
    tamper = malloc(q->body_len);
    assert_non_null(tamper);
    memcpy(tamper, q->body, q->body_len);
    tamper[q->body_len - 1] ^= 1;
    expected_signature(q->timestamp, tamper, q->body_len, want, sizeof(want));
    assert_string_not_equal(q->signature, want);
    free(tamper);
}

static void test_webhook_signed_and_asynchronous(void **state)
{
    char *dir = bw_tmpdir_create();
    char cert[512], key[512], keyfile[512], json[4096];
    bw_receiver *rv;
    bw_received *q = malloc(sizeof(*q));
    fixture f;
    int64_t t0, took;
    bw_resp r;

    (void)state;
    assert_non_null(dir);
    assert_non_null(q);
    assert_int_equal(bw_receiver_make_cert(dir, cert, key, sizeof(cert)), 0);
    assert_true((size_t)snprintf(keyfile, sizeof(keyfile), "%s/webhook.key", dir) <
                sizeof(keyfile));
    write_key(keyfile);
    /* Each answer is held 2 s: a delivery on the request's path would show in its time. */
    rv = bw_receiver_start("127.0.0.1", cert, key, 200, 2000);
    assert_non_null(rv);
    assert_null(strpbrk(dir, "\"\\"));
    assert_true(
        (size_t)snprintf(json, sizeof(json),
                         "{\"audit\": {\"alerts\": [\"auth.login.failure 2/60s\"],"
                         "  \"webhook\": {\"url\": \"https://localhost:%u/hook\", \"ca\": \"%s\","
                         "   \"max_retries\": 0, \"timeout_ms\": 5000}},"
                         " \"secrets\": {\"webhook_key\": \"file:%s\"},"
                         " \"auth\": {\"password\": {\"memlimit_kib\": 19456},"
                         "  \"lockout\": {\"threshold\": 100}}}",
                         (unsigned)bw_receiver_port(rv), cert, keyfile) < sizeof(json));
    assert_int_equal(fixture_start(&f, json), 0);

    assert_int_equal(failed_login(f.srv, "wh1"), 401);
    assert_true(metric(&f, "bulwark_alerts_total", NULL, false) == 0);
    t0 = mono_ms();
    assert_int_equal(failed_login(f.srv, "wh2"), 401); /* raises the alert */
    took = mono_ms() - t0;
    /* Answered before the receiver answered the delivery, and well within a second. */
    assert_int_equal(bw_receiver_answered(rv), 0);
    if (took >= 1000)
        fail_msg("the login that raised the alert took %lld ms", (long long)took);
    assert_int_equal(bw_receiver_wait(rv, 1, WAIT_MS), 1);
    /* While the delivery is held, the service answers at once. */
    t0 = mono_ms();
    assert_int_equal(bw_http(f.srv, "GET", "/healthz", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    bw_resp_free(&r);
    assert_true(mono_ms() - t0 < 1000);
    assert_int_equal(bw_receiver_answered(rv), 0);

    assert_int_equal(bw_receiver_get(rv, 0, q), 0);
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->target, "/hook");
    assert_int_equal(strncmp(q->host, "localhost", 9), 0);
    assert_int_equal(strncmp(q->content_type, "application/json", 16), 0);
    assert_webhook_body(q);
    assert_webhook_signed(q);
    /* Delivered once the receiver answers; exactly one POST for one alert. */
    assert_true(metric_reaches(&f, "bulwark_webhook_sent_total", NULL, 1) == 1);
    assert_int_equal(bw_receiver_answered(rv), 1);
    assert_true(metric(&f, "bulwark_webhook_failed_total", NULL, false) == 0);
    assert_int_equal(bw_receiver_count(rv), 1);
    assert_int_equal(bw_receiver_failed_handshakes(rv), 0);

    assert_int_equal(fixture_stop(&f), 0);
    assert_int_equal(bw_receiver_count(rv), 1);
    bw_receiver_stop(rv);
    free(q);
    assert_int_equal(bw_rm_rf(dir), 0);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest metrics_tests[] = {
        cmocka_unit_test(test_metrics_format_and_state),
        cmocka_unit_test(test_requests_counted_by_route_and_status),
        cmocka_unit_test(test_failed_logins_counted),
        cmocka_unit_test(test_rate_limited_counted),
        cmocka_unit_test(test_validation_failures_counted),
        cmocka_unit_test(test_metrics_only_on_the_listener),
    };
    const struct CMUnitTest alert_tests[] = {
        cmocka_unit_test(test_alert_fires_once_per_window),
        cmocka_unit_test(test_webhook_signed_and_asynchronous),
    };
    int failed;

    if (sodium_init() < 0)
        return 1;
    failed = cmocka_run_group_tests_name("metrics", metrics_tests, metrics_setup, metrics_teardown);
    failed += cmocka_run_group_tests_name("alerts", alert_tests, NULL, NULL);
    return failed;
}
