/* Address bans: the table (migrations/0003_bans.sql) and the in-memory copy every request is
 * checked against, with the offence counters that ban automatically. docs/bans.md explains
 * the choices.
 *
 * Memory. The copy is an open-addressing hash table (linear probing) of at least twice
 * policy.capacity slots, a power of two, so probe chains stay short and always end at an
 * empty slot; a slot is (network, expires_at). Slots are never emptied one by one: a reload
 * builds a fresh table and swaps it in, and an expired entry may be overwritten in place by
 * another network. The offence counters live in a second table of OFFENCE_SHARDS shards, each
 * behind its own mutex; an address probes at most OFFENCE_PROBE slots of its shard.
 *
 * Locks. A read-write lock (writers preferred, so reloads are not starved by checks) guards
 * the copy; a check holds it for a few loads, and `nbans` lets a check skip it when no ban is
 * held. reload_mu serialises reloads with automatic bans, which write their row and update
 * the copy while holding it: a reload that read the table just before a ban's row was
 * written cannot swap in a copy without it. */
#include "bulwark/ban.h"

#include "bulwark/err.h"
#include "bulwark/log.h"
#include "bulwark/satmath.h"
#include "bulwark/store.h"
#include "bulwark/text.h"

#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A ban's network as bytes: an address's rate-limit key, 4 bytes (IPv4) or 8 (the IPv6 /64);
 * bw_netaddr_limit_key() writes into 16. Named `net`, not `key`: it is no secret, and
 * tests/unit/test_ct_scan.c flags comparisons of anything named like a key. */
#define NET_MAX 8
#define OFFENCE_SHARDS 64
#define OFFENCE_PROBE 8
/* How often a full ban table is logged, in seconds. */
#define FULL_LOG_EVERY_S 60

typedef struct ban_slot {
    long long expires_at;
    unsigned char len; /* 0: empty */
    unsigned char net[NET_MAX];
} ban_slot;

typedef struct ban_set {
    ban_slot *slots;
    size_t mask;           /* slots - 1 */
    size_t count;          /* slots in use, expired ones included */
    long long min_expires; /* no entry expires before this (a lower bound) */
} ban_set;

typedef struct offence_slot {
    long long window_start;
    uint32_t counts[BW_OFFENCE_KINDS];
    unsigned char len; /* 0: empty */
    unsigned char net[NET_MAX];
} offence_slot;
_Static_assert(sizeof(offence_slot) == 40, "ban.h and docs/bans.md give 40 bytes per address");

typedef struct offence_shard {
    alignas(64) pthread_mutex_t lock;
} offence_shard;

struct bw_banlist {
    offence_shard shards[OFFENCE_SHARDS];
    bw_ban_policy policy;
    unsigned char hkey[crypto_shorthash_KEYBYTES];
    size_t nslots; /* of a ban_set: a power of two >= 2 * capacity */

    pthread_rwlock_t lock; /* guards set */
    ban_set set;
    atomic_size_t nbans; /* set.count, readable without the lock */

    pthread_mutex_t reload_mu; /* guards generation, loaded, loaded_at */
    long long generation;
    bool loaded;
    long long loaded_at;
    atomic_llong last_refresh;

    offence_slot *offences; /* OFFENCE_SHARDS * per_shard */
    size_t per_shard;

    atomic_llong full_logged_at;
    atomic_bool evict_logged;
    _Atomic uint64_t refused, offence_count[BW_OFFENCE_KINDS], auto_bans, full, evictions, reloads,
        truncated;
};

/* The network bytes of a's ban (4 or 8 of them), or 0. */
static size_t ban_net(const bw_netaddr *a, unsigned char out[NET_MAX])
{
    unsigned char full[16];
    size_t n = bw_netaddr_limit_key(a, full);

    if (n == 0 || n > NET_MAX)
        return 0;
    memcpy(out, full, n);
    return n;
}

/* --- the table ----------------------------------------------------------------------------- */

int bw_ban_address(const bw_netaddr *a, char *out, size_t outlen)
{
    bw_netaddr net;
    int n;

    if (out != NULL && outlen > 0)
        out[0] = '\0';
    if (a == NULL || out == NULL)
        return -1;
    net = *a;
    if (net.family == BW_NETADDR_V6)
        memset(net.bytes + 8, 0, 8);
    n = bw_netaddr_format(&net, out, outlen);
    if (n < 0 || net.family != BW_NETADDR_V6)
        return n;
    if ((size_t)n + 4 > outlen) {
        out[0] = '\0';
        return -1;
    }
    memcpy(out + n, "/64", 4);
    return n + 3;
}

int bw_ban_parse(const char *p, size_t len, bw_netaddr *out)
{
    bw_cidr c;

    if (p == NULL || out == NULL)
        return -1;
    if (memchr(p, '/', len) == NULL)
        return bw_netaddr_parse(p, len, out);
    if (bw_cidr_parse(p, len, &c, NULL, 0) != 0)
        return -1;
    if (!(c.net.family == BW_NETADDR_V4 && c.prefix == 32) &&
        !(c.net.family == BW_NETADDR_V6 && c.prefix == 64))
        return -1;
    *out = c.net;
    return 0;
}

bool bw_ban_reason_valid(const char *r)
{
    const unsigned char *u = (const unsigned char *)r;
    size_t len, i;

    if (r == NULL)
        return false;
    len = strnlen(r, BW_BAN_REASON_MAX + 1);
    if (len == 0 || len > BW_BAN_REASON_MAX || !bw_utf8_valid(u, len))
        return false;
    for (i = 0; i < len; i++) {
        if (u[i] < 0x20 || u[i] == 0x7f || (u[i] == 0xc2 && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f))
            return false;
    }
    return true;
}

static int prune_expired(sqlite3 *db, long long now)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db, "DELETE FROM bans WHERE expires_at <= ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    if (sqlite3_bind_int64(st, 1, now) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    return bw_store_run(st);
}

/* The upsert: a manual ban replaces the row, an automatic one only makes it last longer. */
static int upsert(sqlite3 *db, const unsigned char *net, size_t nlen, const char *address,
                  const char *reason, long long now, long long expires, bw_ban_source source)
{
    static const char sql[] =
        "INSERT INTO bans (key, address, reason, created_at, expires_at, source) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (key) DO UPDATE SET "
        "address = excluded.address, reason = excluded.reason, "
        "created_at = excluded.created_at, expires_at = excluded.expires_at, "
        "source = excluded.source "
        "WHERE excluded.source = 'manual' OR excluded.expires_at > bans.expires_at";
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_blob(st, 1, net, (int)nlen, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, now) != SQLITE_OK ||
        sqlite3_bind_int64(st, 5, expires) != SQLITE_OK ||
        sqlite3_bind_text(st, 6, source == BW_BAN_MANUAL ? "manual" : "auto", -1, SQLITE_STATIC) !=
            SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    if (bw_store_run(st) != 0)
        return -1;
    return sqlite3_changes(db) > 0 ? 1 : 0;
}

int bw_ban_add(sqlite3 *db, const bw_netaddr *a, const char *reason, long long now,
               long long duration_s, bw_ban_source source)
{
    unsigned char net[NET_MAX];
    char address[BW_BAN_ADDRESS_SIZE];
    size_t nlen;
    int rc;

    if (db == NULL || !bw_ban_reason_valid(reason) || duration_s < 1 ||
        duration_s > BW_BAN_DURATION_MAX || (source != BW_BAN_AUTO && source != BW_BAN_MANUAL))
        return -1;
    nlen = ban_net(a, net);
    if (nlen == 0 || bw_ban_address(a, address, sizeof(address)) < 0)
        return -1;
    if (bw_store_tx_begin(db) != 0)
        return -1;
    if (prune_expired(db, now) != 0)
        goto fail;
    rc = upsert(db, net, nlen, address, reason, now, bw_sat_add(now, duration_s), source);
    if (rc < 0 || bw_store_tx_commit(db) != 0)
        goto fail;
    return rc;
fail:
    (void)bw_store_tx_rollback(db);
    return -1;
}

int bw_ban_remove(sqlite3 *db, const bw_netaddr *a)
{
    unsigned char net[NET_MAX];
    sqlite3_stmt *st = NULL;
    size_t nlen;

    if (db == NULL || (nlen = ban_net(a, net)) == 0)
        return -1;
    if (sqlite3_prepare_v2(db, "DELETE FROM bans WHERE key = ?1", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_blob(st, 1, net, (int)nlen, SQLITE_STATIC) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    if (bw_store_run(st) != 0)
        return -1;
    return sqlite3_changes(db) > 0 ? 1 : 0;
}

int bw_ban_list(sqlite3 *db, long long now, int (*fn)(const bw_ban_info *, void *), void *ud)
{
    static const char sql[] = "SELECT address, reason, created_at, expires_at, source "
                              "FROM bans WHERE expires_at > ?1 ORDER BY expires_at, key";
    sqlite3_stmt *st = NULL;
    int rc, n = 0;

    if (db == NULL || fn == NULL)
        return -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_int64(st, 1, now) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *addr = (const char *)sqlite3_column_text(st, 0);
        const char *reason = (const char *)sqlite3_column_text(st, 1);
        const char *source = (const char *)sqlite3_column_text(st, 4);
        size_t alen = (size_t)sqlite3_column_bytes(st, 0);
        bw_ban_info info;

        memset(&info, 0, sizeof(info));
        /* The column is ours, but a row edited by hand must not overrun the buffer. */
        if (addr != NULL && alen < sizeof(info.address))
            memcpy(info.address, addr, alen + 1);
        info.reason = reason != NULL ? reason : "";
        info.created_at = sqlite3_column_int64(st, 2);
        info.expires_at = sqlite3_column_int64(st, 3);
        info.source = source != NULL && strcmp(source, "manual") == 0 ? BW_BAN_MANUAL : BW_BAN_AUTO;
        n++;
        if (fn(&info, ud) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    (void)sqlite3_finalize(st);
    return rc == SQLITE_DONE ? n : -1;
}

/* --- the in-memory copy -------------------------------------------------------------------- */

static uint64_t net_hash(const bw_banlist *l, const unsigned char *net, size_t len)
{
    unsigned char in[1 + NET_MAX], out[crypto_shorthash_BYTES];
    uint64_t h;

    in[0] = (unsigned char)len;
    memcpy(in + 1, net, len);
    (void)crypto_shorthash(out, in, 1 + len, l->hkey);
    memcpy(&h, out, sizeof(h));
    return h;
}

static int set_alloc(ban_set *s, size_t nslots)
{
    memset(s, 0, sizeof(*s));
    s->slots = calloc(nslots, sizeof(ban_slot));
    if (s->slots == NULL)
        return -1;
    s->mask = nslots - 1;
    s->min_expires = LLONG_MAX;
    return 0;
}

static const ban_slot *set_find(const ban_set *s, uint64_t h, const unsigned char *net, size_t len)
{
    size_t i = (size_t)h & s->mask;

    /* At most half the slots are used, so the walk always reaches an empty one. */
    for (;; i = (i + 1) & s->mask) {
        const ban_slot *e = &s->slots[i];

        if (e->len == 0)
            return NULL;
        if (e->len == len && memcmp(e->net, net, len) == 0)
            return e;
    }
}

/* Adds or extends a ban. An entry expired at now may be overwritten by another network (its slot
 * stays in use, so no probe chain breaks). Returns 0, or -1 when the network is new, no expired
 * entry lies on its path and the set holds capacity entries. */
static int set_put(ban_set *s, size_t capacity, uint64_t h, const unsigned char *net, size_t len,
                   long long expires, long long now)
{
    ban_slot *reuse = NULL, *e;
    size_t i = (size_t)h & s->mask;

    for (;; i = (i + 1) & s->mask) {
        e = &s->slots[i];
        if (e->len == 0)
            break;
        if (e->len == len && memcmp(e->net, net, len) == 0) {
            if (expires > e->expires_at)
                e->expires_at = expires;
            return 0;
        }
        if (reuse == NULL && e->expires_at <= now)
            reuse = e;
    }
    if (reuse != NULL) {
        e = reuse;
    } else {
        if (s->count >= capacity)
            return -1;
        s->count++;
    }
    e->len = (unsigned char)len;
    memcpy(e->net, net, len);
    e->expires_at = expires;
    if (expires < s->min_expires)
        s->min_expires = expires;
    return 0;
}

/* A copy of s without the entries expired at now, into out (same size). 0 or -1 (memory). */
static int set_purge(const bw_banlist *l, const ban_set *s, long long now, ban_set *out)
{
    size_t i;

    if (set_alloc(out, l->nslots) != 0)
        return -1;
    for (i = 0; i < l->nslots; i++) {
        const ban_slot *e = &s->slots[i];

        if (e->len != 0 && e->expires_at > now)
            (void)set_put(out, l->policy.capacity, net_hash(l, e->net, e->len), e->net, e->len,
                          e->expires_at, now);
    }
    return 0;
}

static bool policy_ok(const bw_ban_policy *p, char *err, size_t errlen)
{
    if (p == NULL) {
        bw_err_set(err, errlen, "ban: no policy");
        return false;
    }
    if (p->capacity < BW_BAN_CAPACITY_MIN || p->capacity > BW_BAN_CAPACITY_MAX) {
        bw_err_set(err, errlen, "ban: capacity must be %d..%zu", BW_BAN_CAPACITY_MIN,
                   BW_BAN_CAPACITY_MAX);
        return false;
    }
    if (p->tracked < BW_BAN_TRACKED_MIN || p->tracked > BW_BAN_TRACKED_MAX) {
        bw_err_set(err, errlen, "ban: tracked must be %d..%zu", BW_BAN_TRACKED_MIN,
                   BW_BAN_TRACKED_MAX);
        return false;
    }
    if (p->window_s < 1 || p->window_s > BW_BAN_WINDOW_MAX) {
        bw_err_set(err, errlen, "ban: window_s must be 1..%d", BW_BAN_WINDOW_MAX);
        return false;
    }
    if (p->duration_s < 1 || p->duration_s > BW_BAN_DURATION_MAX) {
        bw_err_set(err, errlen, "ban: duration_s must be 1..%lld", BW_BAN_DURATION_MAX);
        return false;
    }
    if (p->auth_failures < 0 || p->auth_failures > BW_BAN_THRESHOLD_MAX || p->rate_limited < 0 ||
        p->rate_limited > BW_BAN_THRESHOLD_MAX || p->validation_failures < 0 ||
        p->validation_failures > BW_BAN_THRESHOLD_MAX || p->attacks < 0 ||
        p->attacks > BW_BAN_THRESHOLD_MAX) {
        bw_err_set(err, errlen, "ban: thresholds must be 0..%d", BW_BAN_THRESHOLD_MAX);
        return false;
    }
    return true;
}

static int locks_init(bw_banlist *l)
{
    pthread_rwlockattr_t rwa;
    size_t i;
    int rc;

    if (pthread_rwlockattr_init(&rwa) != 0)
        return -1;
    /* glibc prefers readers by default: checks on every request would starve a reload. */
    rc = pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP) != 0 ||
                 pthread_rwlock_init(&l->lock, &rwa) != 0
             ? -1
             : 0;
    (void)pthread_rwlockattr_destroy(&rwa);
    if (rc != 0)
        return -1;
    if (pthread_mutex_init(&l->reload_mu, NULL) != 0) {
        (void)pthread_rwlock_destroy(&l->lock);
        return -1;
    }
    for (i = 0; i < OFFENCE_SHARDS; i++) {
        if (pthread_mutex_init(&l->shards[i].lock, NULL) != 0)
            break;
    }
    if (i == OFFENCE_SHARDS)
        return 0;
    while (i-- > 0)
        (void)pthread_mutex_destroy(&l->shards[i].lock);
    (void)pthread_mutex_destroy(&l->reload_mu);
    (void)pthread_rwlock_destroy(&l->lock);
    return -1;
}

bw_banlist *bw_banlist_new(const bw_ban_policy *p, char *err, size_t errlen)
{
    bw_banlist *l;
    size_t nslots = 1;

    if (!policy_ok(p, err, errlen))
        return NULL;
    if (sodium_init() < 0) {
        bw_err_set(err, errlen, "ban: libsodium cannot be initialised");
        return NULL;
    }
    while (nslots < 2 * p->capacity) /* capacity <= 2^20: no overflow */
        nslots <<= 1;
    l = aligned_alloc(alignof(bw_banlist), sizeof(*l));
    if (l == NULL) {
        bw_err_set(err, errlen, "ban: out of memory");
        return NULL;
    }
    memset(l, 0, sizeof(*l));
    l->policy = *p;
    l->nslots = nslots;
    l->per_shard = (p->tracked + OFFENCE_SHARDS - 1) / OFFENCE_SHARDS;
    if (l->per_shard < OFFENCE_PROBE)
        l->per_shard = OFFENCE_PROBE;
    l->offences = calloc(OFFENCE_SHARDS * l->per_shard, sizeof(offence_slot)); /* <= 2^22 */
    if (l->offences == NULL || set_alloc(&l->set, nslots) != 0) {
        free(l->offences);
        free(l);
        bw_err_set(err, errlen, "ban: out of memory for %zu bans and %zu counters", p->capacity,
                   p->tracked);
        return NULL;
    }
    if (locks_init(l) != 0) {
        free(l->set.slots);
        free(l->offences);
        free(l);
        bw_err_set(err, errlen, "ban: cannot create locks");
        return NULL;
    }
    atomic_init(&l->nbans, 0);
    atomic_init(&l->last_refresh, LLONG_MIN);
    atomic_init(&l->full_logged_at, LLONG_MIN);
    atomic_init(&l->evict_logged, false);
    randombytes_buf(l->hkey, sizeof(l->hkey));
    return l;
}

void bw_banlist_free(bw_banlist *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < OFFENCE_SHARDS; i++)
        (void)pthread_mutex_destroy(&l->shards[i].lock);
    (void)pthread_mutex_destroy(&l->reload_mu);
    (void)pthread_rwlock_destroy(&l->lock);
    sodium_memzero(l->hkey, sizeof(l->hkey));
    free(l->set.slots);
    free(l->offences);
    free(l);
}

bool bw_banlist_check(bw_banlist *l, const bw_netaddr *a, long long now, long long *retry_after_s)
{
    unsigned char net[NET_MAX];
    const ban_slot *e;
    long long expires = LLONG_MIN;
    size_t len;
    uint64_t h;

    if (retry_after_s != NULL)
        *retry_after_s = 0;
    if (l == NULL || atomic_load_explicit(&l->nbans, memory_order_acquire) == 0 ||
        (len = ban_net(a, net)) == 0)
        return false;
    h = net_hash(l, net, len);
    if (pthread_rwlock_rdlock(&l->lock) != 0)
        return false; /* only EAGAIN (too many readers) or EDEADLK: programming errors */
    e = set_find(&l->set, h, net, len);
    if (e != NULL)
        expires = e->expires_at;
    (void)pthread_rwlock_unlock(&l->lock);
    if (expires <= now)
        return false;
    if (retry_after_s != NULL)
        *retry_after_s = bw_sat_sub(expires, now);
    atomic_fetch_add_explicit(&l->refused, 1, memory_order_relaxed);
    return true;
}

/* Swaps *fresh in as l's set (under the write lock) and frees the old one. */
static void set_swap(bw_banlist *l, ban_set *fresh)
{
    ban_set old;

    (void)pthread_rwlock_wrlock(&l->lock);
    old = l->set;
    l->set = *fresh;
    atomic_store_explicit(&l->nbans, l->set.count, memory_order_release);
    (void)pthread_rwlock_unlock(&l->lock);
    free(old.slots);
    memset(fresh, 0, sizeof(*fresh));
}

static int read_generation(sqlite3 *db, long long *out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(db, "SELECT n FROM ban_generation WHERE id = 1", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    if (sqlite3_finalize(st) != SQLITE_OK || rc != SQLITE_ROW)
        return -1;
    return 0;
}

/* Reads the live rows into *s: manual bans first, then the longest. *truncated says whether
 * some did not fit. 0 or -1. */
static int load_rows(bw_banlist *l, sqlite3 *db, long long now, ban_set *s, bool *truncated)
{
    static const char sql[] = "SELECT key, expires_at FROM bans WHERE expires_at > ?1 "
                              "ORDER BY source = 'manual' DESC, expires_at DESC LIMIT ?2";
    sqlite3_stmt *st = NULL;
    int rc;

    *truncated = false;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_int64(st, 1, now) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, (sqlite3_int64)l->policy.capacity + 1) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *net = sqlite3_column_blob(st, 0);
        int len = sqlite3_column_bytes(st, 0);

        /* The CHECK constraint allows only 4 and 8; anything else cannot match a request. */
        if (net == NULL || (len != 4 && len != 8))
            continue;
        if (set_put(s, l->policy.capacity, net_hash(l, net, (size_t)len), net, (size_t)len,
                    sqlite3_column_int64(st, 1), now) != 0) {
            *truncated = true;
            rc = SQLITE_DONE;
            break;
        }
    }
    (void)sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void log_db_error(const char *event, sqlite3 *db)
{
    bw_log(BW_LOG_ERROR, event, (bw_log_field[]){BW_LOG_S("error", sqlite3_errmsg(db))}, 1);
}

int bw_banlist_refresh(bw_banlist *l, sqlite3 *db, long long now)
{
    long long last, gen = 0;
    bool truncated = false;
    ban_set fresh;
    int rc = 0;

    if (l == NULL || db == NULL)
        return -1;
    /* One refresh per second of now, by whichever thread claims it. Any other value of now
     * (even an earlier one, after a clock step) claims a new turn. */
    last = atomic_load_explicit(&l->last_refresh, memory_order_relaxed);
    if (last == now ||
        !atomic_compare_exchange_strong_explicit(&l->last_refresh, &last, now, memory_order_relaxed,
                                                 memory_order_relaxed))
        return 0;
    (void)pthread_mutex_lock(&l->reload_mu);
    if (read_generation(db, &gen) != 0) {
        log_db_error("ban.refresh_failed", db);
        rc = -1;
    } else if (!l->loaded || gen != l->generation ||
               bw_sat_sub(now, l->loaded_at) >= BW_BAN_RELOAD_S || now < l->loaded_at) {
        if (set_alloc(&fresh, l->nslots) != 0) {
            bw_log_msg(BW_LOG_ERROR, "ban.refresh_failed", "out of memory");
            rc = -1;
        } else if (load_rows(l, db, now, &fresh, &truncated) != 0) {
            log_db_error("ban.refresh_failed", db);
            free(fresh.slots);
            rc = -1;
        } else {
            set_swap(l, &fresh);
            l->generation = gen;
            l->loaded = true;
            l->loaded_at = now;
            rc = 1;
        }
    }
    (void)pthread_mutex_unlock(&l->reload_mu);
    if (rc == 1) {
        atomic_fetch_add_explicit(&l->reloads, 1, memory_order_relaxed);
        if (truncated) {
            atomic_fetch_add_explicit(&l->truncated, 1, memory_order_relaxed);
            bw_log(BW_LOG_WARN, "ban.list_truncated",
                   (bw_log_field[]){BW_LOG_I("capacity", (long long)l->policy.capacity),
                                    BW_LOG_S("msg", "more bans in force than ban.capacity: "
                                                    "the shortest automatic ones are not "
                                                    "enforced")},
                   2);
        }
    }
    return rc;
}

static int threshold_of(const bw_ban_policy *p, bw_offence kind)
{
    switch (kind) {
    case BW_OFFENCE_AUTH_FAILURE:
        return p->auth_failures;
    case BW_OFFENCE_RATE_LIMITED:
        return p->rate_limited;
    case BW_OFFENCE_VALIDATION:
        return p->validation_failures;
    case BW_OFFENCE_ATTACK:
        return p->attacks;
    }
    return -1;
}

static const char *kind_text(bw_offence kind)
{
    switch (kind) {
    case BW_OFFENCE_AUTH_FAILURE:
        return "authentication failures";
    case BW_OFFENCE_RATE_LIMITED:
        return "rate-limited requests";
    case BW_OFFENCE_VALIDATION:
        return "invalid requests";
    case BW_OFFENCE_ATTACK:
        return "suspected attacks";
    }
    return "offences";
}

/* The counter slot of net in its shard (whose lock the caller holds): its own, else an
 * empty one or one whose window is over, else the one whose window opened first (*evicted). */
static offence_slot *offence_slot_for(bw_banlist *l, uint64_t h, const unsigned char *net,
                                      size_t len, long long now, bool *evicted)
{
    offence_slot *base = l->offences + (size_t)(h >> 58) * l->per_shard;
    offence_slot *free_slot = NULL, *oldest = NULL, *e;
    size_t start = (size_t)(h & 0xffffffffu) % l->per_shard, i;

    for (i = 0; i < OFFENCE_PROBE; i++) {
        e = &base[(start + i) % l->per_shard];
        if (e->len == len && memcmp(e->net, net, len) == 0)
            return e;
        if (free_slot == NULL &&
            (e->len == 0 || bw_sat_sub(now, e->window_start) >= l->policy.window_s))
            free_slot = e;
        if (oldest == NULL || e->window_start < oldest->window_start)
            oldest = e;
    }
    *evicted = free_slot == NULL;
    e = free_slot != NULL ? free_slot : oldest;
    memset(e, 0, sizeof(*e));
    e->len = (unsigned char)len;
    memcpy(e->net, net, len);
    e->window_start = now;
    return e;
}

/* Counts one offence; true when it reaches the threshold (the counters then start over). */
static bool count_offence(bw_banlist *l, uint64_t h, const unsigned char *net, size_t len,
                          bw_offence kind, int threshold, long long now)
{
    pthread_mutex_t *mu = &l->shards[h >> 58].lock;
    bool evicted = false, reached;
    offence_slot *e;

    (void)pthread_mutex_lock(mu);
    e = offence_slot_for(l, h, net, len, now, &evicted);
    if (bw_sat_sub(now, e->window_start) >= l->policy.window_s) {
        memset(e->counts, 0, sizeof(e->counts));
        e->window_start = now;
    }
    if (e->counts[kind] < UINT32_MAX)
        e->counts[kind]++;
    reached = e->counts[kind] >= (uint32_t)threshold;
    if (reached)
        memset(e, 0, sizeof(*e));
    (void)pthread_mutex_unlock(mu);
    if (evicted) {
        atomic_fetch_add_explicit(&l->evictions, 1, memory_order_relaxed);
        if (!atomic_exchange(&l->evict_logged, true))
            bw_log(BW_LOG_WARN, "ban.offence_table_full",
                   (bw_log_field[]){BW_LOG_I("tracked", (long long)l->policy.tracked),
                                    BW_LOG_S("msg", "offence counters full: the oldest "
                                                    "windows are dropped")},
                   2);
    }
    return reached;
}

static void log_full(bw_banlist *l, long long now)
{
    long long last = atomic_load(&l->full_logged_at);

    if (last != LLONG_MIN && now >= last && now - last < FULL_LOG_EVERY_S)
        return;
    if (!atomic_compare_exchange_strong(&l->full_logged_at, &last, now))
        return;
    bw_log(BW_LOG_WARN, "ban.list_full",
           (bw_log_field[]){BW_LOG_I("capacity", (long long)l->policy.capacity),
                            BW_LOG_S("msg", "ban list full: new automatic bans are refused")},
           2);
}

/* Bans net in memory, then in the table, under reload_mu (see the top of the file). 1, or 0
 * when the set is full. */
static int auto_ban(bw_banlist *l, sqlite3 *db, const bw_netaddr *a, uint64_t h,
                    const unsigned char *net, size_t len, bw_offence kind, long long now)
{
    long long expires = bw_sat_add(now, l->policy.duration_s);
    char reason[BW_BAN_REASON_MAX + 1];
    int put, stored, n;

    (void)pthread_mutex_lock(&l->reload_mu);
    (void)pthread_rwlock_wrlock(&l->lock);
    put = set_put(&l->set, l->policy.capacity, h, net, len, expires, now);
    if (put != 0 && l->set.min_expires <= now) {
        ban_set fresh;

        /* Full, but some entries have expired: drop them and try again. */
        if (set_purge(l, &l->set, now, &fresh) == 0) {
            free(l->set.slots);
            l->set = fresh;
            put = set_put(&l->set, l->policy.capacity, h, net, len, expires, now);
        }
    }
    atomic_store_explicit(&l->nbans, l->set.count, memory_order_release);
    (void)pthread_rwlock_unlock(&l->lock);
    if (put != 0) {
        (void)pthread_mutex_unlock(&l->reload_mu);
        atomic_fetch_add_explicit(&l->full, 1, memory_order_relaxed);
        log_full(l, now);
        return 0;
    }
    n = snprintf(reason, sizeof(reason), "auto: %d %s within %d s", threshold_of(&l->policy, kind),
                 kind_text(kind), l->policy.window_s);
    if (n < 0 || (size_t)n >= sizeof(reason))
        memcpy(reason, "auto", sizeof("auto"));
    stored = bw_ban_add(db, a, reason, now, l->policy.duration_s, BW_BAN_AUTO);
    if (stored < 0)
        log_db_error("ban.store_failed", db);
    (void)pthread_mutex_unlock(&l->reload_mu);
    atomic_fetch_add_explicit(&l->auto_bans, 1, memory_order_relaxed);
    return 1;
}

int bw_banlist_offence(bw_banlist *l, sqlite3 *db, const bw_netaddr *a, bw_offence kind,
                       long long now)
{
    unsigned char net[NET_MAX];
    int threshold;
    size_t len;
    uint64_t h;

    if (l == NULL || db == NULL || (len = ban_net(a, net)) == 0)
        return -1;
    threshold = threshold_of(&l->policy, kind);
    if (threshold < 0)
        return -1;
    atomic_fetch_add_explicit(&l->offence_count[kind], 1, memory_order_relaxed);
    if (threshold == 0)
        return 0;
    h = net_hash(l, net, len);
    if (!count_offence(l, h, net, len, kind, threshold, now))
        return 0;
    return auto_ban(l, db, a, h, net, len, kind, now);
}

void bw_banlist_stats_get(bw_banlist *l, bw_ban_stats *out)
{
    size_t i;

    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    if (l == NULL)
        return;
    out->capacity = l->policy.capacity;
    out->bans = atomic_load(&l->nbans);
    out->refused = atomic_load(&l->refused);
    for (i = 0; i < BW_OFFENCE_KINDS; i++)
        out->offences[i] = atomic_load(&l->offence_count[i]);
    out->auto_bans = atomic_load(&l->auto_bans);
    out->full = atomic_load(&l->full);
    out->evictions = atomic_load(&l->evictions);
    out->reloads = atomic_load(&l->reloads);
    out->truncated = atomic_load(&l->truncated);
}
