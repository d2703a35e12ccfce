/* Rate limiting with GCRA (the generic cell rate algorithm) in a fixed-size, in-memory table.
 *
 * A policy "rate/period" with a burst becomes an emission interval T = period / rate (rounded
 * up to the nanosecond) and a tolerance tau = T * (burst - 1). Each key has one 64-bit
 * theoretical arrival time (TAT); a request at `now` is allowed when max(TAT, now) - now <= tau,
 * and then TAT becomes max(TAT, now) + T. So a fresh key may send `burst` requests at once and
 * then one every T; an idle key is back to its full burst once TAT <= now. Times are
 * nanoseconds of CLOCK_MONOTONIC (bw_ratelimit_now_ns()); a clock that goes backwards only makes
 * the limit stricter.
 *
 * Keys are byte strings the caller builds (an address prefix, a principal id, a route index, or
 * a combination). They are hashed with SipHash-2-4 (libsodium crypto_shorthash) under a random
 * key drawn at creation, together with the policy's T and tau (so one key checked under two
 * policies has two independent entries), and the 64-bit hash is stored as the entry's
 * fingerprint: a client cannot predict slots or aim keys at one another.
 *
 * The table holds a fixed number of 16-byte entries (fingerprint, TAT) in BW_RATELIMIT_SHARDS
 * shards, each behind its own mutex; it is allocated once by bw_ratelimit_new() and never
 * grows. A key probes at most BW_RATELIMIT_PROBE slots of its shard and may take over an
 * expired entry (TAT <= now: that key was back to full burst, so forgetting it changes nothing).
 * When every slot it may use holds a live key, the key is limited in its shard's shared
 * overflow bucket instead: the flood of new keys is limited collectively (fails closed: all of
 * them together get at most BW_RATELIMIT_SHARDS times the policy), the event is logged once per
 * limiter ("ratelimit.table_full", warn) and counted in bw_ratelimit_stats.overflow_hits. */
#ifndef BULWARK_RATELIMIT_H
#define BULWARK_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Number of shards (locks) and slots a key may probe within its shard. */
#define BW_RATELIMIT_SHARDS 256
#define BW_RATELIMIT_PROBE 8

/* Bounds: key length in bytes, requested capacity in entries, rate and burst counts. */
#define BW_RATELIMIT_KEY_MAX 128
#define BW_RATELIMIT_CAPACITY_MAX ((size_t)1 << 26)
#define BW_RATELIMIT_RATE_MAX 1000000u
#define BW_RATELIMIT_BURST_MAX 1000000u

/* A parsed policy. Plain data: copy it freely; build it with bw_ratelimit_policy_parse(). */
typedef struct bw_rate_policy {
    uint64_t interval_ns;  /* T = period / rate, rounded up */
    uint64_t tolerance_ns; /* tau = T * (burst - 1) */
    uint32_t rate;         /* requests per period, as written */
    uint32_t period_s;     /* 1, 60, 3600 or 86400 */
    uint32_t burst;        /* requests a fresh key may send at once */
} bw_rate_policy;

/* The outcome of one check. */
typedef struct bw_rate_result {
    bool allowed;
    uint64_t retry_after_ns; /* until this key's next request can be allowed; 0 if remaining > 0 */
    uint64_t reset_ns;       /* until this key is back to its full burst */
    unsigned remaining;      /* requests this key could still send right now */
} bw_rate_result;

typedef struct bw_ratelimit_stats {
    size_t capacity;        /* entries in the table (the requested capacity, rounded up) */
    size_t entries_in_use;  /* slots holding a key; some may have expired, awaiting reuse */
    uint64_t overflow_hits; /* checks limited in an overflow bucket since creation */
} bw_ratelimit_stats;

typedef struct bw_ratelimit bw_ratelimit;

/* Creates a limiter with room for at least `capacity` keys: the capacity is rounded up to a
 * multiple of BW_RATELIMIT_SHARDS with at least BW_RATELIMIT_PROBE slots per shard, and the
 * table (capacity * bw_ratelimit_bytes_per_entry() bytes, plus about 16 KiB of shards) is
 * allocated here, once. Draws a random hash key. Returns NULL with a message in err (err may be
 * NULL when errlen is 0) when capacity is 0 or above BW_RATELIMIT_CAPACITY_MAX, libsodium cannot
 * be initialised, a mutex cannot be created, or memory runs out. The caller owns the result:
 * bw_ratelimit_free(). */
bw_ratelimit *bw_ratelimit_new(size_t capacity, char *err, size_t errlen);

/* Frees rl and wipes its hash key. NULL is a no-op. No check may be running on rl. */
void bw_ratelimit_free(bw_ratelimit *rl);

/* Parses p[0..len), "<rate>/<unit>", into *out: rate is 1..BW_RATELIMIT_RATE_MAX in decimal
 * digits without sign, spaces or leading zeros; unit is one of s, sec, second, min, minute, h,
 * hour, d, day (lowercase). burst 0 means burst = rate. Returns 0, or -1 with a message in err
 * and *out untouched when the text does not match, a number is out of range, burst is above
 * BW_RATELIMIT_BURST_MAX, or T * burst exceeds 2^62 ns (about 146 years). Reads only
 * p[0..len); p may be NULL when len is 0. */
int bw_ratelimit_policy_parse(const char *p, size_t len, unsigned burst, bw_rate_policy *out,
                              char *err, size_t errlen);

/* Counts one request of key[0..klen) under policy p at now_ns and fills *out. Holds one shard
 * lock for a few probes; no allocation, no I/O except the one-time table-full log line.
 * Thread-safe. now_ns values above 2^62 are taken as 2^62, so TATs never overflow. Returns 0,
 * or -1 with out->allowed false (when out is not NULL) if rl, p or out is NULL, key is NULL with
 * klen > 0, klen > BW_RATELIMIT_KEY_MAX, p->interval_ns is 0 or p->interval_ns +
 * p->tolerance_ns exceeds 2^62 (a hand-made policy; parsed ones never do). */
int bw_ratelimit_check(bw_ratelimit *rl, const bw_rate_policy *p, const void *key, size_t klen,
                       uint64_t now_ns, bw_rate_result *out);

/* The current CLOCK_MONOTONIC time in nanoseconds (0 if the clock cannot be read). */
uint64_t bw_ratelimit_now_ns(void);

/* Bytes one table entry takes (16). */
size_t bw_ratelimit_bytes_per_entry(void);

/* Fills *out from every shard (takes each shard lock in turn: for monitoring, not per request).
 * Does nothing if rl or out is NULL. */
void bw_ratelimit_stats_get(bw_ratelimit *rl, bw_ratelimit_stats *out);

/* The first slot (0 .. capacity - 1) of the probe window of key[0..klen) under p, or SIZE_MAX on
 * the argument errors of bw_ratelimit_check(). For tests and diagnostics: the value depends on
 * rl's secret hash key, so never show it to clients. */
size_t bw_ratelimit_slot(const bw_ratelimit *rl, const bw_rate_policy *p, const void *key,
                         size_t klen);

/* Seconds for a Retry-After header: retry_after_ns rounded up to whole seconds, at least 1 when
 * the request was refused, 0 when r is NULL or retry_after_ns is 0. */
uint64_t bw_ratelimit_retry_after_s(const bw_rate_result *r);

/* Buffer size that always holds what the two formatters below write for a name of up to
 * BW_RATELIMIT_NAME_MAX bytes. */
#define BW_RATELIMIT_NAME_MAX 64
#define BW_RATELIMIT_FIELD_SIZE 192

/* Writes a RateLimit-Policy list member (draft-ietf-httpapi-ratelimit-headers-11, section 3) for
 * p named name[0..nlen), e.g. "default";q=30;w=60 (q = rate, w = period in seconds), with a NUL,
 * into buf. The name becomes a structured-field String: 1..BW_RATELIMIT_NAME_MAX bytes of
 * printable ASCII (0x20-0x7E); '"' and '\' are escaped. Returns the length written (without
 * the NUL), or -1 when an argument is NULL, the name is empty, too long or not printable ASCII,
 * p is not a valid policy, or the field does not fit in buflen (buf then holds "" if buflen >
 * 0). */
int bw_ratelimit_format_policy(const char *name, size_t nlen, const bw_rate_policy *p, char *buf,
                               size_t buflen);

/* Writes a RateLimit list member (draft-ietf-httpapi-ratelimit-headers-11, section 4) for the
 * result r of a check under policy p named name[0..nlen), e.g. "default";r=12;t=60. r is
 * r->remaining. t is whole seconds, rounded up: while something remains, until the key would be
 * back to its full burst if it spent all of it now (reset + remaining * T, between
 * (burst - 1) * T and burst * T), so r / t never suggests more than the policy's rate, as the
 * draft asks; when nothing remains, until its next request can be allowed (the Retry-After
 * value). Same name rules, return value and errors as bw_ratelimit_format_policy(), plus r
 * NULL. */
int bw_ratelimit_format_state(const char *name, size_t nlen, const bw_rate_policy *p,
                              const bw_rate_result *r, char *buf, size_t buflen);

#endif
