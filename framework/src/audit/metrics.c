/* Metrics counters and their Prometheus text rendering (format 0.0.4). Counters are relaxed
 * atomics: a render may see one request counted and its histogram bucket not yet, which is
 * the usual contract of a scrape. */
#include "bulwark/metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- requests --------------------------------------------------------------------------- */

/* The statuses the framework and a typical app answer, ascending; each has its own count. */
static const uint16_t known_codes[] = {
    200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 406, 408, 409,
    410, 411, 412, 413, 414, 415, 416, 422, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505};
#define NKNOWN (sizeof(known_codes) / sizeof(known_codes[0]))
/* After the known codes: one slot per class (1xx..5xx), then one for outside 100..599. */
#define SLOT_CLASS(c) (NKNOWN + (size_t)(c)-1)
#define SLOT_INVALID (NKNOWN + 5)
#define NSLOTS (NKNOWN + 6)

typedef struct route_row {
    _Atomic uint64_t count[NSLOTS];
} route_row;

/* Latency bucket upper bounds (inclusive), in microseconds, and their "le" labels. */
static const long long dur_bound_us[] = {500,   1000,   2500,   5000,   10000,   25000,
                                         50000, 100000, 250000, 500000, 1000000, 2500000};
static const char *const dur_le[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                     "0.05",   "0.1",   "0.25",   "0.5",   "1",    "2.5"};
#define NDUR (sizeof(dur_bound_us) / sizeof(dur_bound_us[0]))

/* The route table: rows[i] and labels[i] for route i, set only by init and reset. */
static route_row *rows;
static char **labels; /* "route=\"...\",method=\"...\"", escaped */
static size_t nroutes;
static route_row unmatched; /* static: requests are counted even before init */

static _Atomic uint64_t dur_bucket[NDUR + 1]; /* not cumulative; the last is +Inf only */
static _Atomic uint64_t dur_sum_us;

/* ---- events ----------------------------------------------------------------------------- */

/* Open addressing, at most half full, so a probe always meets an empty slot. A slot is
 * filled once under ev_lock and published by its release store to `ready`; readers that see
 * ready == 1 (acquire) read its name without the lock. */
#define EV_SLOTS ((size_t)2 * BW_METRICS_EVENTS_MAX)

typedef struct ev_slot {
    _Atomic int ready;
    size_t len;
    char name[BW_METRICS_EVENT_NAME_MAX + 1];
    _Atomic uint64_t count;
} ev_slot;

static ev_slot ev_tab[EV_SLOTS];
static _Atomic size_t ev_used;
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t ev_invalid, ev_other;

/* Families derived from one event name each. */
static const struct derived {
    const char *event;
    const char *family;
    const char *help;
} derived[] = {
    {"auth.login.failure", "bulwark_auth_failures_total", "Failed logins (auth.login.failure)."},
    {"auth.lockout", "bulwark_auth_lockouts_total", "Accounts locked out (auth.lockout)."},
    {"ratelimit.exceeded", "bulwark_ratelimit_exceeded_total",
     "Requests refused by a rate limit (ratelimit.exceeded)."},
    {"ban.added", "bulwark_bans_total", "Addresses banned (ban.added)."},
    {"validation.failed", "bulwark_validation_failures_total",
     "Requests refused by input validation (validation.failed)."},
    {"attack.suspected", "bulwark_attacks_suspected_total",
     "Requests matching an attack signature (attack.suspected)."},
    {"alert.raised", "bulwark_alerts_total", "Alerts raised by the alert rules (alert.raised)."},
};
#define NDERIVED (sizeof(derived) / sizeof(derived[0]))
static _Atomic uint64_t derived_count[NDERIVED];

/* ---- gauges ----------------------------------------------------------------------------- */

static pthread_mutex_t gauge_lock = PTHREAD_MUTEX_INITIALIZER;
static bw_metrics_gauge_fn gauge_fn;
static void *gauge_udata;

/* ---- output buffer ---------------------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len, cap;
    bool oom;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n >= b->cap - b->len) { /* keep room for the final NUL */
        size_t cap = b->cap;
        while (n >= cap - b->len) {
            if (cap > SIZE_MAX / 2) {
                b->oom = true;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put_s(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_u64(buf *b, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof(t), "%" PRIu64, v);

    if (n > 0 && (size_t)n < sizeof(t))
        put(b, t, (size_t)n);
    else
        b->oom = true; /* cannot happen: 20 digits fit */
}

static void put_i64(buf *b, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof(t), "%" PRId64, v);

    if (n > 0 && (size_t)n < sizeof(t))
        put(b, t, (size_t)n);
    else
        b->oom = true;
}

/* Microseconds as exact decimal seconds: "1.000250". */
static void put_seconds(buf *b, uint64_t us)
{
    char t[32];
    int n = snprintf(t, sizeof(t), "%" PRIu64 ".%06" PRIu64, us / 1000000u, us % 1000000u);

    if (n > 0 && (size_t)n < sizeof(t))
        put(b, t, (size_t)n);
    else
        b->oom = true;
}

static void family(buf *b, const char *name, const char *type, const char *help)
{
    put_s(b, "# HELP ");
    put_s(b, name);
    put_s(b, " ");
    put_s(b, help); /* constants without backslash or newline: nothing to escape */
    put_s(b, "\n# TYPE ");
    put_s(b, name);
    put_s(b, " ");
    put_s(b, type);
    put_s(b, "\n");
}

/* One sample without labels: "name value\n". */
static void sample_u64(buf *b, const char *name, uint64_t v)
{
    put_s(b, name);
    put_s(b, " ");
    put_u64(b, v);
    put_s(b, "\n");
}

/* Length of the valid UTF-8 sequence at p[0..n), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    size_t len, i;
    uint32_t cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        len = 2;
        cp = p[0] & 0x1Fu;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3;
        cp = p[0] & 0x0Fu;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4;
        cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xC0u) != 0x80u)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    /* overlong forms, surrogates, beyond U+10FFFF */
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* A label value as the format requires: UTF-8 with backslash, quote and newline escaped.
 * Invalid UTF-8 becomes U+FFFD so that the output stays valid. */
static void put_label_value(buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0) {
            put(b, "\xEF\xBF\xBD", 3);
            i++;
        } else if (p[i] == '\\') {
            put(b, "\\\\", 2);
            i++;
        } else if (p[i] == '"') {
            put(b, "\\\"", 2);
            i++;
        } else if (p[i] == '\n') {
            put(b, "\\n", 2);
            i++;
        } else {
            put(b, s + i, k);
            i += k;
        }
    }
}

/* ---- recording -------------------------------------------------------------------------- */

static size_t status_slot(int status)
{
    size_t lo = 0, hi = NKNOWN;

    if (status < 100 || status > 599)
        return SLOT_INVALID;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (known_codes[mid] == status)
            return mid;
        if (known_codes[mid] < status)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SLOT_CLASS(status / 100);
}

void bw_metrics_request(size_t route, int status, long long duration_us)
{
    route_row *row = route < nroutes ? &rows[route] : &unmatched;
    uint64_t us = duration_us > 0 ? (uint64_t)duration_us : 0;
    size_t b = 0;

    atomic_fetch_add_explicit(&row->count[status_slot(status)], 1, memory_order_relaxed);
    while (b < NDUR && (long long)us > dur_bound_us[b])
        b++;
    atomic_fetch_add_explicit(&dur_bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&dur_sum_us, us, memory_order_relaxed);
}

static bool event_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > BW_METRICS_EVENT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static size_t ev_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h & (EV_SLOTS - 1);
}

/* The slot holding name, or NULL (then *free_slot is the empty slot ending the probe). */
static ev_slot *ev_find(const char *name, size_t len, ev_slot **free_slot)
{
    size_t h = ev_hash(name, len);

    for (size_t i = 0; i < EV_SLOTS; i++) {
        ev_slot *s = &ev_tab[(h + i) & (EV_SLOTS - 1)];
        if (!atomic_load_explicit(&s->ready, memory_order_acquire)) {
            *free_slot = s;
            return NULL;
        }
        if (s->len == len && memcmp(s->name, name, len) == 0)
            return s;
    }
    *free_slot = NULL; /* cannot happen: the table is at most half full */
    return NULL;
}

static ev_slot *ev_insert(const char *name, size_t len)
{
    ev_slot *s, *empty = NULL;

    if (pthread_mutex_lock(&ev_lock) != 0)
        return NULL;
    s = ev_find(name, len, &empty); /* another thread may have added it meanwhile */
    if (s == NULL && empty != NULL &&
        atomic_load_explicit(&ev_used, memory_order_relaxed) < BW_METRICS_EVENTS_MAX) {
        memcpy(empty->name, name, len);
        empty->name[len] = '\0';
        empty->len = len;
        atomic_store_explicit(&empty->count, 0, memory_order_relaxed);
        atomic_store_explicit(&empty->ready, 1, memory_order_release);
        atomic_fetch_add_explicit(&ev_used, 1, memory_order_relaxed);
        s = empty;
    }
    (void)pthread_mutex_unlock(&ev_lock);
    return s;
}

void bw_metrics_event(const char *event)
{
    size_t len = event != NULL ? strnlen(event, BW_METRICS_EVENT_NAME_MAX + 1) : 0;
    ev_slot *s, *empty;

    if (event == NULL || !event_name_valid(event, len)) {
        atomic_fetch_add_explicit(&ev_invalid, 1, memory_order_relaxed);
        return;
    }
    /* The rendered names of the two catch-alls: one series each, never two. */
    if ((len == 7 && memcmp(event, "invalid", 7) == 0)) {
        atomic_fetch_add_explicit(&ev_invalid, 1, memory_order_relaxed);
        return;
    }
    if (len == 5 && memcmp(event, "other", 5) == 0) {
        atomic_fetch_add_explicit(&ev_other, 1, memory_order_relaxed);
        return;
    }
    for (size_t i = 0; i < NDERIVED; i++) {
        if (strncmp(derived[i].event, event, len + 1) == 0) {
            atomic_fetch_add_explicit(&derived_count[i], 1, memory_order_relaxed);
            break;
        }
    }
    s = ev_find(event, len, &empty);
    if (s == NULL && atomic_load_explicit(&ev_used, memory_order_relaxed) < BW_METRICS_EVENTS_MAX)
        s = ev_insert(event, len);
    atomic_fetch_add_explicit(s != NULL ? &s->count : &ev_other, 1, memory_order_relaxed);
}

void bw_metrics_set_gauge_fn(bw_metrics_gauge_fn fn, void *udata)
{
    if (pthread_mutex_lock(&gauge_lock) != 0)
        abort(); /* only on a corrupted mutex; a silent skip would leave udata in use */
    gauge_fn = fn;
    gauge_udata = udata;
    (void)pthread_mutex_unlock(&gauge_lock);
}

/* ---- route table ------------------------------------------------------------------------ */

static void free_table(route_row *r, char **l, size_t n)
{
    for (size_t i = 0; l != NULL && i < n; i++)
        free(l[i]);
    free(l);
    free(r);
}

/* "route=\"<pattern>\",method=\"<method>\"" in a new string, or NULL. */
static char *route_labels(const char *method, const char *pattern)
{
    buf b = {.p = malloc(64), .len = 0, .cap = 64, .oom = false};

    if (b.p == NULL)
        return NULL;
    b.p[0] = '\0';
    put_s(&b, "route=\"");
    if (pattern != NULL)
        put_label_value(&b, pattern, strlen(pattern));
    put_s(&b, "\",method=\"");
    if (method != NULL)
        put_label_value(&b, method, strlen(method));
    put_s(&b, "\"");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int bw_metrics_init(const char *const *methods, const char *const *patterns, size_t n)
{
    route_row *r = NULL;
    char **l = NULL;

    if (n > 0 && (methods == NULL || patterns == NULL))
        return -1;
    if (n > 0) {
        r = calloc(n, sizeof(*r)); /* calloc checks n * size for overflow */
        l = calloc(n, sizeof(*l));
        if (r == NULL || l == NULL) {
            free_table(r, l, 0);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            l[i] = route_labels(methods[i], patterns[i]);
            if (l[i] == NULL) {
                free_table(r, l, i);
                return -1;
            }
        }
    }
    free_table(rows, labels, nroutes);
    rows = r;
    labels = l;
    nroutes = n;
    return 0;
}

void bw_metrics_reset(void)
{
    size_t i, j;

    free_table(rows, labels, nroutes);
    rows = NULL;
    labels = NULL;
    nroutes = 0;
    for (j = 0; j < NSLOTS; j++)
        atomic_store_explicit(&unmatched.count[j], 0, memory_order_relaxed);
    for (i = 0; i <= NDUR; i++)
        atomic_store_explicit(&dur_bucket[i], 0, memory_order_relaxed);
    atomic_store_explicit(&dur_sum_us, 0, memory_order_relaxed);
    for (i = 0; i < EV_SLOTS; i++) {
        atomic_store_explicit(&ev_tab[i].ready, 0, memory_order_relaxed);
        atomic_store_explicit(&ev_tab[i].count, 0, memory_order_relaxed);
        ev_tab[i].len = 0;
    }
    atomic_store_explicit(&ev_used, 0, memory_order_relaxed);
    atomic_store_explicit(&ev_invalid, 0, memory_order_relaxed);
    atomic_store_explicit(&ev_other, 0, memory_order_relaxed);
    for (i = 0; i < NDERIVED; i++)
        atomic_store_explicit(&derived_count[i], 0, memory_order_relaxed);
    bw_metrics_set_gauge_fn(NULL, NULL);
}

/* ---- rendering -------------------------------------------------------------------------- */

static void render_row(buf *b, const route_row *row, const char *lbl)
{
    for (size_t j = 0; j < NSLOTS; j++) {
        uint64_t v = atomic_load_explicit(&row->count[j], memory_order_relaxed);
        if (v == 0)
            continue; /* a series appears with its first request */
        put_s(b, "bulwark_requests_total{");
        put_s(b, lbl);
        put_s(b, ",code=\"");
        if (j < NKNOWN) {
            put_u64(b, known_codes[j]);
        } else if (j < SLOT_INVALID) {
            char cls[4] = {(char)('1' + (j - NKNOWN)), 'x', 'x', '\0'};
            put_s(b, cls);
        } else {
            put_s(b, "other");
        }
        put_s(b, "\"} ");
        put_u64(b, v);
        put_s(b, "\n");
    }
}

/* A histogram from per-bucket (not cumulative) counts; _count is their total, so it always
 * equals the +Inf bucket even while other threads record. */
static void render_histogram(buf *b, const char *name, const char *const *le, size_t nle,
                             const uint64_t *counts, uint64_t sum_us)
{
    uint64_t cum = 0;

    for (size_t i = 0; i <= nle; i++) {
        cum += counts[i];
        put_s(b, name);
        put_s(b, "_bucket{le=\"");
        put_s(b, i < nle ? le[i] : "+Inf");
        put_s(b, "\"} ");
        put_u64(b, cum);
        put_s(b, "\n");
    }
    put_s(b, name);
    put_s(b, "_sum ");
    put_seconds(b, sum_us);
    put_s(b, "\n");
    put_s(b, name);
    put_s(b, "_count ");
    put_u64(b, cum);
    put_s(b, "\n");
}

static void render_requests(buf *b)
{
    uint64_t counts[NDUR + 1];

    family(b, "bulwark_requests_total", "counter",
           "HTTP requests answered, by route pattern, method and status code.");
    for (size_t i = 0; i < nroutes; i++)
        render_row(b, &rows[i], labels[i]);
    render_row(b, &unmatched, "route=\"unmatched\",method=\"other\"");

    family(b, "bulwark_request_duration_seconds", "histogram",
           "Time from the request's arrival to its response, in seconds.");
    for (size_t i = 0; i <= NDUR; i++)
        counts[i] = atomic_load_explicit(&dur_bucket[i], memory_order_relaxed);
    render_histogram(b, "bulwark_request_duration_seconds", dur_le, NDUR, counts,
                     atomic_load_explicit(&dur_sum_us, memory_order_relaxed));
}

static int slot_cmp(const void *a, const void *b)
{
    const ev_slot *x = *(const ev_slot *const *)a, *y = *(const ev_slot *const *)b;

    return strcmp(x->name, y->name);
}

static void render_events(buf *b)
{
    const ev_slot *list[BW_METRICS_EVENTS_MAX];
    size_t n = 0;

    family(b, "bulwark_audit_events_total", "counter",
           "Audit events reported, by event name (invalid: a malformed name; other: names "
           "beyond the table).");
    for (size_t i = 0; i < EV_SLOTS && n < BW_METRICS_EVENTS_MAX; i++) {
        if (atomic_load_explicit(&ev_tab[i].ready, memory_order_acquire))
            list[n++] = &ev_tab[i];
    }
    qsort(list, n, sizeof(list[0]), slot_cmp); /* NOLINT(bugprone-sizeof-expression): pointers */
    for (size_t i = 0; i < n; i++) {
        put_s(b, "bulwark_audit_events_total{event=\"");
        put_label_value(b, list[i]->name, list[i]->len);
        put_s(b, "\"} ");
        put_u64(b, atomic_load_explicit(&list[i]->count, memory_order_relaxed));
        put_s(b, "\n");
    }
    put_s(b, "bulwark_audit_events_total{event=\"invalid\"} ");
    put_u64(b, atomic_load_explicit(&ev_invalid, memory_order_relaxed));
    put_s(b, "\nbulwark_audit_events_total{event=\"other\"} ");
    put_u64(b, atomic_load_explicit(&ev_other, memory_order_relaxed));
    put_s(b, "\n");

    for (size_t i = 0; i < NDERIVED; i++) {
        family(b, derived[i].family, "counter", derived[i].help);
        sample_u64(b, derived[i].family,
                   atomic_load_explicit(&derived_count[i], memory_order_relaxed));
    }
}

/* Whole days from now to not_after, rounded towards minus infinity: -1 on the first day
 * after expiry. */
static int64_t days_left(int64_t not_after, int64_t now)
{
    int64_t d;

    if ((now < 0 && not_after > INT64_MAX + now) || (now > 0 && not_after < INT64_MIN + now))
        return not_after > now ? INT64_MAX / 86400 : INT64_MIN / 86400;
    d = not_after - now;
    return d >= 0 ? d / 86400 : -((-(d + 1)) / 86400) - 1;
}

static void render_gauges(buf *b)
{
    static const char *const commit_le[] = {"0.001", "0.002", "0.005", "0.01", "0.025",
                                            "0.05",  "0.1",   "0.25",  "1"};
    bw_metrics_gauges g;

    memset(&g, 0, sizeof(g));
    if (pthread_mutex_lock(&gauge_lock) != 0) {
        b->oom = true; /* only on a corrupted mutex: fail the render */
        return;
    }
    if (gauge_fn != NULL)
        gauge_fn(&g, gauge_udata);
    (void)pthread_mutex_unlock(&gauge_lock);

    if (g.cert_not_after != 0) {
        family(b, "bulwark_tls_cert_expiry_days", "gauge",
               "Whole days until the TLS certificate expires (negative: expired).");
        put_s(b, "bulwark_tls_cert_expiry_days ");
        put_i64(b, days_left(g.cert_not_after, (int64_t)time(NULL)));
        put_s(b, "\n");
    }
    family(b, "bulwark_bans_active", "gauge", "Addresses banned now.");
    sample_u64(b, "bulwark_bans_active", g.bans_active);
    family(b, "bulwark_requests_in_flight", "gauge", "Requests being handled now.");
    sample_u64(b, "bulwark_requests_in_flight", g.inflight);
    family(b, "bulwark_audit_queue_depth", "gauge",
           "Audit records waiting for the writer to commit them.");
    sample_u64(b, "bulwark_audit_queue_depth", g.audit_queue_depth);
    family(b, "bulwark_audit_records_total", "counter", "Audit records committed.");
    sample_u64(b, "bulwark_audit_records_total", g.audit_committed);
    family(b, "bulwark_audit_failed_total", "counter", "Audit records whose transaction failed.");
    sample_u64(b, "bulwark_audit_failed_total", g.audit_failed);
    family(b, "bulwark_audit_commit_seconds", "histogram",
           "Duration of the audit writer's committed transactions, in seconds.");
    render_histogram(b, "bulwark_audit_commit_seconds", commit_le,
                     sizeof(commit_le) / sizeof(commit_le[0]), g.audit_commit_buckets,
                     g.audit_commit_us_sum);
    family(b, "bulwark_webhook_sent_total", "counter", "Alert webhooks delivered.");
    sample_u64(b, "bulwark_webhook_sent_total", g.webhook_sent);
    family(b, "bulwark_webhook_failed_total", "counter",
           "Alert webhook deliveries that failed after every retry.");
    sample_u64(b, "bulwark_webhook_failed_total", g.webhook_failed);
    family(b, "bulwark_webhook_dropped_total", "counter",
           "Alert webhooks dropped because their queue was full.");
    sample_u64(b, "bulwark_webhook_dropped_total", g.webhook_dropped);
    family(b, "bulwark_connections_refused_total", "counter",
           "TLS connections closed before their handshake by the per-address cap.");
    sample_u64(b, "bulwark_connections_refused_total", g.connections_refused);
    family(b, "bulwark_ratelimit_table_entries", "gauge",
           "Rate-limiter table slots holding a key (some may have expired).");
    sample_u64(b, "bulwark_ratelimit_table_entries", g.ratelimit_entries);
    family(b, "bulwark_ratelimit_overflow_total", "counter",
           "Rate-limit checks made in the shared overflow bucket because the table was full.");
    sample_u64(b, "bulwark_ratelimit_overflow_total", g.ratelimit_overflow);
}

int bw_metrics_render(char **out, size_t *len)
{
    buf b = {.p = malloc(8192), .len = 0, .cap = 8192, .oom = false};

    *out = NULL;
    *len = 0;
    if (b.p == NULL)
        return -1;
    b.p[0] = '\0';
    render_requests(&b);
    render_events(&b);
    render_gauges(&b);
    if (b.oom) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
