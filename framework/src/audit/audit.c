/* The audit writer: a bounded queue of owned record copies, one thread that appends them in
 * batches (one transaction, one fsync per batch: group commit), tickets that let a caller
 * wait for its record to be durable, and the JSON-lines export copy. */
#include "audit_internal.h"

#include "bulwark/err.h"
#include "bulwark/log.h"
#include "bulwark/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Attempts per batch, and the pause before each retry (ms). */
#define WRITE_ATTEMPTS 4
static const long retry_pause_ms[WRITE_ATTEMPTS - 1] = {10, 100, 500};

/* Largest queue and batch accepted: far above any sensible setting, low enough that the
 * ring's size cannot overflow. */
#define QUEUE_MAX ((size_t)1 << 24)
#define BATCH_MAX_LIMIT ((size_t)100000)

/* Failed ticket ranges remembered for bw_audit_wait; past this, the two oldest are merged
 * (a waiter may then see -1 for a committed record: the safe direction). */
#define FAILED_RANGES 256

/* Export lines are written in chunks of about this size. */
#define EXPORT_CHUNK ((size_t)64 * 1024)

/* One queued record: the row points into data, which holds the texts. */
typedef struct item {
    uint64_t ticket;
    bw_audit_row row;
    char data[];
} item;

typedef struct ticket_range {
    uint64_t lo, hi;
} ticket_range;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t resolved_cv = PTHREAD_COND_INITIALIZER;

/* Guarded by mu. Tickets and their outcomes outlive a writer, so a wait after stop (or after
 * a restart) still answers correctly. */
static struct {
    bool running, starting, stopping;
    size_t blocked; /* pushers waiting for room */
    item **ring;
    size_t cap, head, count;
    size_t batch_max;
    pthread_t thread;
    bw_audit_stats stats;
} W;
static uint64_t next_ticket = 1; /* the next ticket handed out */
static uint64_t resolved;        /* every ticket <= this has committed or failed */
static ticket_range failed[FAILED_RANGES];
static size_t nfailed;
static atomic_bool running_flag; /* lock-free "is there a writer" for push */

/* Owned by the writer thread while it runs (set up before it starts, freed after join). */
static sqlite3 *wdb;
static crypto_auth_hmacsha256_state *wkeyed; /* sodium_malloc'd: key-derived material */
static item **wbatch;
static bw_audit_row **wrows; /* the batch's rows, as bw_audit_db_append takes them */

/* The export file. ex_mu guards both, because reopen runs on another thread. */
static pthread_mutex_t ex_mu = PTHREAD_MUTEX_INITIALIZER;
static char *ex_path; /* NULL: no export */
static int ex_fd = -1;
static bool ex_failing; /* a write failed and was logged; log again only after a success */

/* ---- Small helpers ---- */

static uint64_t now_us(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- Building a record copy ---- */

/* A text field: NULL is absent (empty); longer than max is cut at a UTF-8 boundary. */
static size_t field_len(const char *s, size_t max, bool *truncated)
{
    size_t n;

    if (s == NULL)
        return 0;
    n = strnlen(s, max + 1);
    if (n > max) {
        *truncated = true;
        n = bw_audit_utf8_cut(s, n, max);
    }
    return n;
}

static bool key_seen(const bw_log_field *d, size_t i)
{
    size_t j;

    if (strcmp(d[i].key, "truncated") == 0)
        return true; /* ours */
    for (j = 0; j < i; j++)
        if (d[j].key != NULL && strcmp(d[j].key, d[i].key) == 0)
            return true;
    return false;
}

/* Appends one "key":value member; 0, or -1 when it does not fit (buf unchanged). */
static int detail_member(char *buf, size_t cap, size_t *pos, const bw_log_field *f, bool *truncated)
{
    size_t start = *pos, klen = strnlen(f->key, BW_AUDIT_EVENT_MAX);
    int ok;

    ok = (start <= 1 || bw_audit_json_raw(buf, cap, pos, ",", 1) == 0) &&
         bw_audit_json_string(buf, cap, pos, f->key, klen) == 0 &&
         bw_audit_json_raw(buf, cap, pos, ":", 1) == 0;
    if (ok && f->type == BW_LF_INT) {
        char num[32];
        int n = snprintf(num, sizeof(num), "%lld", f->i);
        ok = n > 0 && (size_t)n < sizeof(num) &&
             bw_audit_json_raw(buf, cap, pos, num, (size_t)n) == 0;
    } else if (ok && f->s == NULL) {
        ok = bw_audit_json_raw(buf, cap, pos, "null", 4) == 0;
    } else if (ok) {
        size_t len = f->slen == BW_LOG_NUL ? strnlen(f->s, BW_AUDIT_FIELD_MAX + 1) : f->slen;

        if (len > BW_AUDIT_FIELD_MAX) {
            *truncated = true;
            len = bw_audit_utf8_cut(f->s, len, BW_AUDIT_FIELD_MAX);
        }
        ok = bw_audit_json_string(buf, cap, pos, f->s, len) == 0;
    }
    if (!ok) {
        *pos = start;
        buf[start] = '\0';
        return -1;
    }
    return 0;
}

/* The detail object from the fields (emit already dropped keys off the allow-list). Fields
 * that do not fit are left out and the object says "truncated":true. Returns its length. */
static size_t detail_build(const bw_audit_event *ev, bool truncated, char *buf)
{
    static const char tail[] = ",\"truncated\":true}"; /* kept free to the end */
    const size_t cap = BW_AUDIT_DETAIL_MAX + 1;
    size_t pos = 0, i;

    buf[0] = '\0';
    (void)bw_audit_json_raw(buf, cap, &pos, "{", 1);
    for (i = 0; ev->detail != NULL && i < ev->ndetail; i++) {
        const bw_log_field *f = &ev->detail[i];

        if (f->key == NULL || f->key[0] == '\0' || key_seen(ev->detail, i))
            continue;
        /* Room is kept for the closing text in every case. */
        if (detail_member(buf, cap - (sizeof(tail) - 1), &pos, f, &truncated) != 0)
            truncated = true;
    }
    if (truncated && pos > 1)
        (void)bw_audit_json_raw(buf, cap, &pos, ",", 1);
    if (truncated)
        (void)bw_audit_json_raw(buf, cap, &pos, "\"truncated\":true", 16);
    (void)bw_audit_json_raw(buf, cap, &pos, "}", 1);
    return pos;
}

static item *item_build(const bw_audit_event *ev)
{
    char detail[BW_AUDIT_DETAIL_MAX + 1];
    const char *src[BW_AT_COUNT];
    size_t len[BW_AT_COUNT], total = sizeof(item), i;
    bool truncated = false;
    item *it;
    char *p;

    src[BW_AT_EVENT] = ev->event;
    len[BW_AT_EVENT] = field_len(ev->event, BW_AUDIT_EVENT_MAX, &truncated);
    src[BW_AT_OUTCOME] = bw_audit_outcome_name(ev->outcome);
    len[BW_AT_OUTCOME] = strlen(src[BW_AT_OUTCOME]);
    src[BW_AT_ACTOR] = ev->actor;
    src[BW_AT_SOURCE] = ev->source;
    src[BW_AT_REQUEST_ID] = ev->request_id;
    src[BW_AT_TARGET] = ev->target;
    for (i = BW_AT_ACTOR; i <= BW_AT_TARGET; i++)
        len[i] = field_len(src[i], BW_AUDIT_FIELD_MAX, &truncated);
    len[BW_AT_DETAIL] = detail_build(ev, truncated, detail);
    src[BW_AT_DETAIL] = detail;
    for (i = 0; i < BW_AT_COUNT; i++)
        total += len[i] + 1; /* bounded by the limits above: no overflow */
    it = malloc(total);
    if (it == NULL)
        return NULL;
    memset(it, 0, sizeof(*it));
    p = it->data;
    for (i = 0; i < BW_AT_COUNT; i++) {
        if (len[i] > 0)
            memcpy(p, src[i], len[i]);
        p[len[i]] = '\0';
        it->row.text[i] = p;
        it->row.len[i] = len[i];
        p += len[i] + 1;
    }
    return it;
}

/* ---- Tickets ---- */

/* Under mu. */
static void failed_add(uint64_t lo, uint64_t hi)
{
    if (nfailed > 0 && failed[nfailed - 1].hi + 1 == lo) {
        failed[nfailed - 1].hi = hi;
        return;
    }
    if (nfailed == FAILED_RANGES) {
        failed[1].lo = failed[0].lo;
        memmove(failed, failed + 1, (FAILED_RANGES - 1) * sizeof(failed[0]));
        nfailed--;
    }
    failed[nfailed].lo = lo;
    failed[nfailed].hi = hi;
    nfailed++;
}

/* Under mu. */
static bool ticket_failed(uint64_t t)
{
    size_t i;

    for (i = nfailed; i > 0; i--)
        if (t >= failed[i - 1].lo && t <= failed[i - 1].hi)
            return true;
    return false;
}

/* ---- Export ---- */

static int export_open(const char *path, int *fd, char *err, size_t errlen)
{
    if (strcmp(path, "-") == 0) {
        *fd = STDOUT_FILENO;
        return 0;
    }
    *fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (*fd < 0) {
        bw_err_set(err, errlen, "audit export %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void export_close_fd(int fd)
{
    if (fd >= 0 && fd != STDOUT_FILENO)
        (void)close(fd);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Under ex_mu. */
static void export_flush(const char *buf, size_t n)
{
    int e;

    if (n == 0)
        return;
    if (write_all(ex_fd, buf, n) == 0) {
        ex_failing = false;
        return;
    }
    e = errno;
    if (!ex_failing)
        bw_log(BW_LOG_ERROR, "audit.export_failed",
               (bw_log_field[]){BW_LOG_S("path", ex_path), BW_LOG_S("error", strerror(e))}, 2);
    ex_failing = true;
}

/* Writes the committed batch as JSON lines (one write per chunk, never a partial line). */
static void export_batch(item *const *batch, size_t n)
{
    static char line[BW_AUDIT_JSON_MAX + 1];
    static char chunk[EXPORT_CHUNK + BW_AUDIT_JSON_MAX + 1];
    bw_audit_record rec;
    size_t used = 0, i;

    if (pthread_mutex_lock(&ex_mu) != 0)
        return;
    if (ex_path == NULL) {
        (void)pthread_mutex_unlock(&ex_mu);
        return;
    }
    for (i = 0; i < n; i++) {
        int len;

        bw_audit_row_record(&batch[i]->row, &rec);
        len = bw_audit_record_json(&rec, line, sizeof(line));
        if (len < 0)
            continue; /* cannot happen: BW_AUDIT_JSON_MAX bounds every record */
        memcpy(chunk + used, line, (size_t)len);
        chunk[used + (size_t)len] = '\n';
        used += (size_t)len + 1;
        if (used >= EXPORT_CHUNK) {
            export_flush(chunk, used);
            used = 0;
        }
    }
    export_flush(chunk, used);
    (void)pthread_mutex_unlock(&ex_mu);
}

int bw_audit_reopen_export(void)
{
    int fd, rc = 0;

    if (pthread_mutex_lock(&ex_mu) != 0)
        return -1;
    if (ex_path != NULL && strcmp(ex_path, "-") != 0) {
        char err[256];

        if (export_open(ex_path, &fd, err, sizeof(err)) == 0) {
            export_close_fd(ex_fd);
            ex_fd = fd;
            ex_failing = false;
        } else {
            bw_log(BW_LOG_ERROR, "audit.export_reopen_failed",
                   (bw_log_field[]){BW_LOG_S("error", err)}, 1);
            rc = -1;
        }
    }
    (void)pthread_mutex_unlock(&ex_mu);
    return rc;
}

/* ---- The writer thread ---- */

/* Appends the batch, retrying with pauses. Returns 0 and the successful attempt's duration,
 * or -1 after logging the failure. */
static int commit_batch(item *const *batch, size_t n, uint64_t *us)
{
    char err[256] = "";
    size_t i;
    int attempt;

    for (i = 0; i < n; i++)
        wrows[i] = &batch[i]->row;
    for (attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        uint64_t t0;

        if (attempt > 0)
            pause_ms(retry_pause_ms[attempt - 1]);
        t0 = now_us();
        if (bw_audit_db_append(wdb, wkeyed, wrows, n, err, sizeof(err)) == 0) {
            *us = now_us() - t0;
            return 0;
        }
    }
    bw_log(BW_LOG_ERROR, "audit.write_failed",
           (bw_log_field[]){BW_LOG_I("count", (long long)n), BW_LOG_S("error", err)}, 2);
    return -1;
}

static void stats_commit(size_t n, uint64_t us)
{
    static const uint64_t bound_ms[9] = {1, 2, 5, 10, 25, 50, 100, 250, 1000};
    size_t b = 0;

    while (b < 9 && us > bound_ms[b] * 1000)
        b++;
    W.stats.committed += n;
    W.stats.batches++;
    W.stats.commit_us_sum += us;
    if (us > W.stats.commit_us_max)
        W.stats.commit_us_max = us;
    W.stats.commit_buckets[b]++;
}

static void *writer_main(void *arg)
{
    (void)arg;
    (void)pthread_mutex_lock(&mu);
    for (;;) {
        uint64_t us = 0;
        size_t n, i;
        int rc;

        /* Stop only when nothing is queued and no pusher admitted before stop still waits. */
        while (W.count == 0 && !(W.stopping && W.blocked == 0))
            (void)pthread_cond_wait(&not_empty, &mu);
        if (W.count == 0)
            break;
        n = W.count < W.batch_max ? W.count : W.batch_max;
        for (i = 0; i < n; i++) {
            wbatch[i] = W.ring[W.head];
            W.head = (W.head + 1) % W.cap;
        }
        W.count -= n;
        (void)pthread_cond_broadcast(&not_full);
        (void)pthread_mutex_unlock(&mu);

        rc = commit_batch(wbatch, n, &us);
        if (rc == 0)
            export_batch(wbatch, n);

        (void)pthread_mutex_lock(&mu);
        if (rc == 0) {
            stats_commit(n, us);
        } else {
            W.stats.failed += n;
            failed_add(wbatch[0]->ticket, wbatch[n - 1]->ticket);
        }
        resolved = wbatch[n - 1]->ticket;
        (void)pthread_cond_broadcast(&resolved_cv);
        for (i = 0; i < n; i++)
            free(wbatch[i]);
    }
    (void)pthread_mutex_unlock(&mu);
    return NULL;
}

/* ---- Public ---- */

static int check_options(const bw_audit_options *o, char *err, size_t errlen)
{
    if (o == NULL || o->path == NULL || o->path[0] == '\0') {
        bw_err_set(err, errlen, "audit: no database path");
        return -1;
    }
    if (o->key == NULL || o->keylen < 16 || o->keylen > (size_t)BW_SECRET_MAX_BYTES) {
        bw_err_set(err, errlen, "audit: the key must be 16 to %u bytes", BW_SECRET_MAX_BYTES);
        return -1;
    }
    if (o->queue_capacity < 1 || o->queue_capacity > QUEUE_MAX) {
        bw_err_set(err, errlen, "audit: queue_capacity must be 1 to %zu", QUEUE_MAX);
        return -1;
    }
    if (o->batch_max < 1 || o->batch_max > BATCH_MAX_LIMIT) {
        bw_err_set(err, errlen, "audit: batch_max must be 1 to %zu", BATCH_MAX_LIMIT);
        return -1;
    }
    return 0;
}

/* Frees what start set up (writer not running). */
static void release(void)
{
    (void)sqlite3_close(wdb);
    wdb = NULL;
    sodium_free(wkeyed);
    wkeyed = NULL;
    free(wbatch);
    wbatch = NULL;
    free(wrows);
    wrows = NULL;
    free(W.ring);
    W.ring = NULL;
    if (pthread_mutex_lock(&ex_mu) == 0) {
        export_close_fd(ex_fd);
        ex_fd = -1;
        free(ex_path);
        ex_path = NULL;
        ex_failing = false;
        (void)pthread_mutex_unlock(&ex_mu);
    }
}

int bw_audit_start(const bw_audit_options *o, char *err, size_t errlen)
{
    int fd = -1;

    if (check_options(o, err, errlen) != 0)
        return -1;
    if (sodium_init() < 0) {
        bw_err_set(err, errlen, "audit: libsodium failed to initialise");
        return -1;
    }
    if (pthread_mutex_lock(&mu) != 0) {
        bw_err_set(err, errlen, "audit: mutex failed");
        return -1;
    }
    if (W.running || W.starting) {
        (void)pthread_mutex_unlock(&mu);
        bw_err_set(err, errlen, "audit: the writer is already started");
        return -1;
    }
    W.starting = true;
    (void)pthread_mutex_unlock(&mu);

    wkeyed = sodium_malloc(sizeof(*wkeyed));
    /* Arrays of pointers: the items and rows themselves are allocated one by one. */
    W.ring = calloc(o->queue_capacity, sizeof(*W.ring)); /* NOLINT(bugprone-sizeof-expression) */
    wbatch = calloc(o->batch_max, sizeof(*wbatch));      /* NOLINT(bugprone-sizeof-expression) */
    wrows = calloc(o->batch_max, sizeof(*wrows));        /* NOLINT(bugprone-sizeof-expression) */
    if (wkeyed == NULL || W.ring == NULL || wbatch == NULL || wrows == NULL) {
        bw_err_set(err, errlen, "audit: out of memory");
        goto fail;
    }
    bw_audit_mac_key(wkeyed, o->key, o->keylen);
    wdb = bw_audit_db_open(o->path, err, errlen);
    if (wdb == NULL || bw_audit_db_check_tail(wdb, wkeyed, err, errlen) != 0)
        goto fail;
    if (o->export_path != NULL && o->export_path[0] != '\0') {
        if (export_open(o->export_path, &fd, err, errlen) != 0)
            goto fail;
        (void)pthread_mutex_lock(&ex_mu);
        ex_path = strdup(o->export_path);
        ex_fd = fd;
        ex_failing = false;
        (void)pthread_mutex_unlock(&ex_mu);
        if (ex_path == NULL) {
            bw_err_set(err, errlen, "audit: out of memory");
            goto fail;
        }
    }
    (void)pthread_mutex_lock(&mu);
    W.cap = o->queue_capacity;
    W.head = W.count = W.blocked = 0;
    W.batch_max = o->batch_max;
    W.stopping = false;
    memset(&W.stats, 0, sizeof(W.stats));
    if (pthread_create(&W.thread, NULL, writer_main, NULL) != 0) {
        (void)pthread_mutex_unlock(&mu);
        bw_err_set(err, errlen, "audit: cannot start the writer thread");
        goto fail;
    }
    W.running = true;
    W.starting = false;
    atomic_store(&running_flag, true);
    (void)pthread_mutex_unlock(&mu);
    return 0;
fail:
    release();
    (void)pthread_mutex_lock(&mu);
    W.starting = false;
    (void)pthread_mutex_unlock(&mu);
    return -1;
}

uint64_t bw_audit_push(const bw_audit_event *ev)
{
    uint64_t t;
    item *it;

    if (ev == NULL || ev->event == NULL || !atomic_load(&running_flag))
        return 0;
    it = item_build(ev);
    if (it == NULL) {
        bw_log(BW_LOG_ERROR, "audit.push_failed",
               (bw_log_field[]){BW_LOG_S("error", "out of memory")}, 1);
        return 0;
    }
    (void)pthread_mutex_lock(&mu);
    if (!W.running || W.stopping) {
        (void)pthread_mutex_unlock(&mu);
        free(it);
        return 0;
    }
    /* Never drop: wait for room. The writer drains even while stopping, so this ends. */
    W.blocked++;
    while (W.count == W.cap)
        (void)pthread_cond_wait(&not_full, &mu);
    W.blocked--;
    t = next_ticket++;
    it->ticket = t;
    /* Under the lock, so timestamps do not go backwards along the tickets. */
    it->row.ts_ms = wall_ms();
    W.ring[(W.head + W.count) % W.cap] = it;
    W.count++;
    (void)pthread_cond_signal(&not_empty);
    (void)pthread_mutex_unlock(&mu);
    return t;
}

int bw_audit_wait(uint64_t ticket)
{
    int rc;

    (void)pthread_mutex_lock(&mu);
    if (ticket == 0 || ticket >= next_ticket) {
        /* Nothing was queued under this ticket. */
        rc = ticket == 0 && !W.running ? 0 : -1;
    } else {
        while (resolved < ticket)
            (void)pthread_cond_wait(&resolved_cv, &mu);
        rc = ticket_failed(ticket) ? -1 : 0;
    }
    (void)pthread_mutex_unlock(&mu);
    return rc;
}

void bw_audit_stop(void)
{
    pthread_t th;

    (void)pthread_mutex_lock(&mu);
    if (!W.running || W.stopping) {
        (void)pthread_mutex_unlock(&mu);
        return;
    }
    W.stopping = true;
    atomic_store(&running_flag, false);
    th = W.thread;
    (void)pthread_cond_broadcast(&not_empty);
    (void)pthread_mutex_unlock(&mu);
    (void)pthread_join(th, NULL);
    release();
    (void)pthread_mutex_lock(&mu);
    W.running = false;
    W.stopping = false;
    (void)pthread_cond_broadcast(&resolved_cv);
    (void)pthread_mutex_unlock(&mu);
}

void bw_audit_stats_get(bw_audit_stats *out)
{
    if (out == NULL)
        return;
    (void)pthread_mutex_lock(&mu);
    *out = W.stats;
    out->queued = W.count;
    (void)pthread_mutex_unlock(&mu);
}
