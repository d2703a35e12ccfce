/* GCRA rate limiter over a fixed table of (fingerprint, TAT) entries in locked shards.
 *
 * A key's 64-bit SipHash h picks everything: the shard is its top 8 bits, the first slot of its
 * probe window within the shard is its low 32 bits scaled to the shard size, and h itself (0
 * mapped to 1, as 0 marks an empty slot) is the fingerprint stored and compared. A window is
 * BW_RATELIMIT_PROBE consecutive slots of the shard, wrapping inside it.
 *
 * Slots only ever go from empty to holding a key; a key is written to the first slot of its
 * window that is empty or expired. So a lookup can stop at the first empty slot (the key, had it
 * been inserted, would be there or earlier), and a key is never in its window twice: lookups
 * and inserts of a window happen under its shard's lock.
 *
 * Arithmetic bounds: now is capped at 2^62 and every parsed (or accepted) policy has T + tau <=
 * 2^62; a TAT only grows when max(TAT, now) <= now + tau, to at most now + tau + T <= 2^63. So no
 * sum overflows, including in an overflow bucket that policies with different T share. */
#include "bulwark/ratelimit.h"

#include "bulwark/err.h"
#include "bulwark/log.h"

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_S 1000000000ull
#define TIME_MAX ((uint64_t)1 << 62)
#define SHARD_BITS 8
#define HASH_IN_MAX (16 + BW_RATELIMIT_KEY_MAX)

_Static_assert(BW_RATELIMIT_SHARDS == 1 << SHARD_BITS, "shard index is the hash's top bits");

typedef struct entry {
    uint64_t fp;  /* 0: never used */
    uint64_t tat; /* ns; the key is at full burst once tat <= now */
} entry;

/* One cache line per shard, so neighbouring locks do not share a line. */
typedef struct shard {
    alignas(64) pthread_mutex_t lock;
    uint64_t overflow_tat;
    uint64_t overflow_hits;
    size_t used;
} shard;

struct bw_ratelimit {
    shard shards[BW_RATELIMIT_SHARDS];
    entry *table; /* BW_RATELIMIT_SHARDS * per_shard entries, shard by shard */
    size_t per_shard;
    size_t capacity;
    unsigned char hkey[crypto_shorthash_KEYBYTES];
    atomic_bool full_logged;
};

typedef struct unit_name {
    const char *name;
    size_t len;
    uint32_t seconds;
} unit_name;

static const unit_name UNITS[] = {
    {"s", 1, 1},    {"sec", 3, 1},     {"second", 6, 1}, {"min", 3, 60},    {"minute", 6, 60},
    {"h", 1, 3600}, {"hour", 4, 3600}, {"d", 1, 86400},  {"day", 3, 86400},
};

static void store_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* The checks bw_ratelimit_check() needs for its arithmetic to stay in range. */
static bool policy_usable(const bw_rate_policy *p)
{
    return p->interval_ns >= 1 && p->interval_ns <= TIME_MAX &&
           p->tolerance_ns <= TIME_MAX - p->interval_ns;
}

static bool args_ok(const bw_ratelimit *rl, const bw_rate_policy *p, const void *key, size_t klen)
{
    return rl != NULL && p != NULL && (key != NULL || klen == 0) && klen <= BW_RATELIMIT_KEY_MAX &&
           policy_usable(p);
}

/* The keyed fingerprint of (T, tau, key). Returns 0, or -1 if hashing fails. */
static int key_hash(const bw_ratelimit *rl, const bw_rate_policy *p, const void *key, size_t klen,
                    uint64_t *fp)
{
    unsigned char in[HASH_IN_MAX];
    unsigned char h[crypto_shorthash_BYTES];

    store_le64(in, p->interval_ns);
    store_le64(in + 8, p->tolerance_ns);
    if (klen > 0)
        memcpy(in + 16, key, klen);
    if (crypto_shorthash(h, in, 16 + klen, rl->hkey) != 0)
        return -1;
    *fp = load_le64(h);
    if (*fp == 0)
        *fp = 1;
    return 0;
}

static size_t shard_of(uint64_t fp)
{
    return (size_t)(fp >> (64 - SHARD_BITS));
}

/* fp's first slot within its shard: the low 32 bits scaled to [0, per_shard). */
static size_t home_of(const bw_ratelimit *rl, uint64_t fp)
{
    return (size_t)(((fp & 0xffffffffu) * (uint64_t)rl->per_shard) >> 32);
}

/* One GCRA step on *tat, and the result it gives. */
static void gcra(uint64_t *tat, const bw_rate_policy *p, uint64_t now, bw_rate_result *out)
{
    uint64_t t = *tat > now ? *tat : now;
    uint64_t diff;

    out->allowed = t - now <= p->tolerance_ns;
    if (out->allowed) {
        t += p->interval_ns;
        *tat = t;
    }
    diff = t - now;
    out->reset_ns = diff;
    if (diff > p->tolerance_ns) {
        out->remaining = 0;
        out->retry_after_ns = diff - p->tolerance_ns;
    } else {
        uint64_t r = (p->tolerance_ns - diff) / p->interval_ns + 1;

        out->remaining = r > UINT_MAX ? UINT_MAX : (unsigned)r;
        out->retry_after_ns = 0;
    }
}

static void log_table_full(const bw_ratelimit *rl)
{
    bw_log_field f[] = {
        BW_LOG_I("capacity", (long long)rl->capacity),
        BW_LOG_S("msg", "rate limit table full: new keys share their shard's overflow bucket"),
    };

    bw_log(BW_LOG_WARN, "ratelimit.table_full", f, sizeof(f) / sizeof(f[0]));
}

bw_ratelimit *bw_ratelimit_new(size_t capacity, char *err, size_t errlen)
{
    bw_ratelimit *rl;
    pthread_mutexattr_t attr;
    size_t per_shard, n, i;

    if (capacity == 0 || capacity > BW_RATELIMIT_CAPACITY_MAX) {
        bw_err_set(err, errlen, "ratelimit: capacity must be 1..%zu entries",
                   BW_RATELIMIT_CAPACITY_MAX);
        return NULL;
    }
    if (sodium_init() < 0) {
        bw_err_set(err, errlen, "ratelimit: libsodium cannot be initialised");
        return NULL;
    }
    per_shard = (capacity + BW_RATELIMIT_SHARDS - 1) / BW_RATELIMIT_SHARDS;
    if (per_shard < BW_RATELIMIT_PROBE)
        per_shard = BW_RATELIMIT_PROBE;
    n = per_shard * BW_RATELIMIT_SHARDS; /* <= 2^26 + 2^16: no overflow */
    rl = aligned_alloc(alignof(bw_ratelimit), sizeof(*rl));
    if (rl == NULL) {
        bw_err_set(err, errlen, "ratelimit: out of memory");
        return NULL;
    }
    memset(rl, 0, sizeof(*rl));
    /* Written now so the whole table is resident from the start, not as keys arrive. */
    rl->table = aligned_alloc(64, n * sizeof(entry));
    if (rl->table == NULL) {
        free(rl);
        bw_err_set(err, errlen, "ratelimit: out of memory for %zu entries", n);
        return NULL;
    }
    memset(rl->table, 0, n * sizeof(entry));
    rl->per_shard = per_shard;
    rl->capacity = n;
    if (pthread_mutexattr_init(&attr) != 0) {
        free(rl->table);
        free(rl);
        bw_err_set(err, errlen, "ratelimit: cannot create mutex attributes");
        return NULL;
    }
    /* A check holds its lock for a few loads and stores: spin briefly before sleeping. */
    if (pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP) != 0)
        (void)pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_DEFAULT);
    for (i = 0; i < BW_RATELIMIT_SHARDS; i++) {
        if (pthread_mutex_init(&rl->shards[i].lock, &attr) != 0)
            break;
    }
    (void)pthread_mutexattr_destroy(&attr);
    if (i < BW_RATELIMIT_SHARDS) {
        while (i-- > 0)
            (void)pthread_mutex_destroy(&rl->shards[i].lock);
        free(rl->table);
        free(rl);
        bw_err_set(err, errlen, "ratelimit: cannot create mutexes");
        return NULL;
    }
    randombytes_buf(rl->hkey, sizeof(rl->hkey));
    atomic_init(&rl->full_logged, false);
    return rl;
}

void bw_ratelimit_free(bw_ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; i < BW_RATELIMIT_SHARDS; i++)
        (void)pthread_mutex_destroy(&rl->shards[i].lock);
    sodium_memzero(rl->hkey, sizeof(rl->hkey));
    free(rl->table);
    free(rl);
}

/* Parses a decimal count without sign or leading zeros: 1..max. */
static bool parse_count(const char *p, size_t len, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;

    if (len == 0 || len > 10 || p[0] == '0')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

int bw_ratelimit_policy_parse(const char *p, size_t len, unsigned burst, bw_rate_policy *out,
                              char *err, size_t errlen)
{
    const char *slash;
    uint32_t rate, period_s = 0;
    uint64_t interval, total;
    size_t ulen;

    if (out == NULL || (p == NULL && len > 0)) {
        bw_err_set(err, errlen, "ratelimit: policy missing");
        return -1;
    }
    slash = len > 0 ? memchr(p, '/', len) : NULL;
    if (slash == NULL) {
        bw_err_set(err, errlen, "ratelimit: policy must be <count>/<unit>, e.g. 30/min");
        return -1;
    }
    if (!parse_count(p, (size_t)(slash - p), BW_RATELIMIT_RATE_MAX, &rate)) {
        bw_err_set(err, errlen, "ratelimit: count must be digits 1..%u without leading zeros",
                   BW_RATELIMIT_RATE_MAX);
        return -1;
    }
    ulen = len - (size_t)(slash - p) - 1;
    for (size_t i = 0; i < sizeof(UNITS) / sizeof(UNITS[0]); i++) {
        if (UNITS[i].len == ulen && memcmp(UNITS[i].name, slash + 1, ulen) == 0)
            period_s = UNITS[i].seconds;
    }
    if (period_s == 0) {
        bw_err_set(err, errlen,
                   "ratelimit: unit must be s, sec, second, min, minute, h, hour, d "
                   "or day");
        return -1;
    }
    if (burst == 0)
        burst = rate;
    if (burst > BW_RATELIMIT_BURST_MAX) {
        bw_err_set(err, errlen, "ratelimit: burst must be 1..%u", BW_RATELIMIT_BURST_MAX);
        return -1;
    }
    /* Rounded up: the long-run rate never exceeds the one written. */
    interval = ((uint64_t)period_s * NS_PER_S + rate - 1) / rate;
    if (__builtin_mul_overflow(interval, (uint64_t)burst, &total) || total > TIME_MAX) {
        bw_err_set(err, errlen, "ratelimit: burst too large for the period");
        return -1;
    }
    out->interval_ns = interval;
    out->tolerance_ns = total - interval;
    out->rate = rate;
    out->period_s = period_s;
    out->burst = burst;
    return 0;
}

int bw_ratelimit_check(bw_ratelimit *rl, const bw_rate_policy *p, const void *key, size_t klen,
                       uint64_t now_ns, bw_rate_result *out)
{
    uint64_t fp, *tat;
    entry *base, *hit = NULL, *slot = NULL;
    shard *sh;
    size_t home;
    bool overflow = false;

    if (out == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    if (!args_ok(rl, p, key, klen) || key_hash(rl, p, key, klen, &fp) != 0)
        return -1;
    if (now_ns > TIME_MAX)
        now_ns = TIME_MAX;
    sh = &rl->shards[shard_of(fp)];
    base = rl->table + shard_of(fp) * rl->per_shard;
    home = home_of(rl, fp);
    if (pthread_mutex_lock(&sh->lock) != 0)
        return -1;
    for (size_t i = 0; i < BW_RATELIMIT_PROBE; i++) {
        size_t j = home + i;
        entry *e;

        if (j >= rl->per_shard)
            j -= rl->per_shard;
        e = &base[j];
        if (e->fp == fp) {
            hit = e;
            break;
        }
        if (e->fp == 0) {
            if (slot == NULL)
                slot = e;
            break;
        }
        if (slot == NULL && e->tat <= now_ns)
            slot = e;
    }
    if (hit != NULL) {
        tat = &hit->tat;
    } else if (slot != NULL) {
        if (slot->fp == 0)
            sh->used++;
        slot->fp = fp;
        slot->tat = 0;
        tat = &slot->tat;
    } else {
        sh->overflow_hits++;
        tat = &sh->overflow_tat;
        overflow = true;
    }
    gcra(tat, p, now_ns, out);
    if (pthread_mutex_unlock(&sh->lock) != 0) {
        out->allowed = false;
        return -1;
    }
    /* Read before writing: in a flood every check overflows, and a write per check would
     * bounce this cache line between all the threads. */
    if (overflow && !atomic_load_explicit(&rl->full_logged, memory_order_relaxed) &&
        !atomic_exchange(&rl->full_logged, true))
        log_table_full(rl);
    return 0;
}

uint64_t bw_ratelimit_now_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

size_t bw_ratelimit_bytes_per_entry(void)
{
    return sizeof(entry);
}

void bw_ratelimit_stats_get(bw_ratelimit *rl, bw_ratelimit_stats *out)
{
    if (rl == NULL || out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    out->capacity = rl->capacity;
    for (size_t i = 0; i < BW_RATELIMIT_SHARDS; i++) {
        shard *sh = &rl->shards[i];

        if (pthread_mutex_lock(&sh->lock) != 0)
            continue;
        out->entries_in_use += sh->used;
        out->overflow_hits += sh->overflow_hits;
        (void)pthread_mutex_unlock(&sh->lock);
    }
}

size_t bw_ratelimit_slot(const bw_ratelimit *rl, const bw_rate_policy *p, const void *key,
                         size_t klen)
{
    uint64_t fp;

    if (!args_ok(rl, p, key, klen) || key_hash(rl, p, key, klen, &fp) != 0)
        return SIZE_MAX;
    return shard_of(fp) * rl->per_shard + home_of(rl, fp);
}

static uint64_t ceil_s(uint64_t ns)
{
    return ns / NS_PER_S + (ns % NS_PER_S != 0);
}

uint64_t bw_ratelimit_retry_after_s(const bw_rate_result *r)
{
    uint64_t s;

    if (r == NULL)
        return 0;
    s = ceil_s(r->retry_after_ns);
    return s == 0 && !r->allowed ? 1 : s;
}

/* Writes name[0..nlen) as a structured-field String into buf. Returns the bytes written, or 0
 * when the name is not acceptable or does not fit in buflen (keeping room for a NUL). */
static size_t put_name(const char *name, size_t nlen, char *buf, size_t buflen)
{
    size_t n = 0;

    if (name == NULL || nlen == 0 || nlen > BW_RATELIMIT_NAME_MAX)
        return 0;
    if (buflen < 3)
        return 0;
    buf[n++] = '"';
    for (size_t i = 0; i < nlen; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c < 0x20 || c > 0x7e)
            return 0;
        if (buflen - n < 4) /* c, maybe its escape, closing quote, NUL */
            return 0;
        if (c == '"' || c == '\\')
            buf[n++] = '\\';
        buf[n++] = (char)c;
    }
    buf[n++] = '"';
    return n;
}

/* Appends ";<a>=<x>;<b>=<y>" after a name of n bytes and finishes buf. */
static int put_params(char *buf, size_t buflen, size_t n, char a, uint64_t x, char b, uint64_t y)
{
    int m;

    m = snprintf(buf + n, buflen - n, ";%c=%" PRIu64 ";%c=%" PRIu64, a, x, b, y);
    if (m < 0 || (size_t)m >= buflen - n || n + (size_t)m > INT_MAX) {
        buf[0] = '\0';
        return -1;
    }
    return (int)(n + (size_t)m);
}

/* What the formatters read of a policy: the fields a parsed policy has. */
static bool policy_formattable(const bw_rate_policy *p)
{
    return p != NULL && p->rate >= 1 && p->rate <= BW_RATELIMIT_RATE_MAX &&
           (p->period_s == 1 || p->period_s == 60 || p->period_s == 3600 || p->period_s == 86400) &&
           policy_usable(p);
}

int bw_ratelimit_format_policy(const char *name, size_t nlen, const bw_rate_policy *p, char *buf,
                               size_t buflen)
{
    size_t n;

    if (buf == NULL || buflen == 0)
        return -1;
    buf[0] = '\0';
    if (!policy_formattable(p))
        return -1;
    n = put_name(name, nlen, buf, buflen);
    if (n == 0) {
        buf[0] = '\0';
        return -1;
    }
    return put_params(buf, buflen, n, 'q', p->rate, 'w', p->period_s);
}

int bw_ratelimit_format_state(const char *name, size_t nlen, const bw_rate_policy *p,
                              const bw_rate_result *r, char *buf, size_t buflen)
{
    size_t n;
    uint64_t t;

    if (buf == NULL || buflen == 0)
        return -1;
    buf[0] = '\0';
    if (r == NULL || !policy_formattable(p))
        return -1;
    n = put_name(name, nlen, buf, buflen);
    if (n == 0) {
        buf[0] = '\0';
        return -1;
    }
    if (r->remaining == 0) {
        t = r->retry_after_ns;
    } else if (__builtin_mul_overflow((uint64_t)r->remaining, p->interval_ns, &t) ||
               __builtin_add_overflow(t, r->reset_ns, &t)) {
        t = UINT64_MAX; /* only from hand-made values */
    }
    return put_params(buf, buflen, n, 'r', r->remaining, 't', ceil_s(t));
}
