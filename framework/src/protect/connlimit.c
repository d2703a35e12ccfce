/* Open connections per client address key, in a fixed table under one mutex.
 *
 * Entries (key, count) live in an array that never moves, so a connection's token is simply a
 * pointer to its key's entry: the entry stays put while any connection holds it. An open-
 * addressing index (linear probing, at most half full, so a probe always ends at an empty slot)
 * maps SipHash(key) to entry numbers; deletion shifts later slots back into the hole instead of
 * leaving tombstones, so lookups never slow down as keys come and go. Free entries are kept on
 * a stack.
 *
 * The lock is held for one probe sequence and a few stores; hashing and getpeername happen
 * before it is taken. */
#include "bulwark/connlimit.h"

#include "bulwark/err.h"
#include "bulwark/log.h"
#include "bulwark/tls.h"

#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The key is an address prefix: an IPv4 address, or an IPv6 /64 (bw_netaddr_limit_key). */
typedef struct entry {
    uint64_t hash;      /* SipHash of the prefix; its home slot in the index */
    uint32_t open;      /* connections open; 0: the entry is free */
    uint8_t prefix_len; /* 4 (IPv4) or 8 (IPv6 /64); part of the key */
    unsigned char prefix[16];
} entry;

struct bw_connlimit {
    pthread_mutex_t lock;
    uint32_t max_per_key;
    size_t capacity;
    entry *entries;     /* capacity */
    uint32_t *slots;    /* mask + 1 slots: 0 empty, else entry number + 1 */
    size_t mask;        /* slots - 1; slots is a power of two >= 2 * capacity */
    uint32_t *free_ids; /* stack of free entry numbers */
    size_t nfree;
    size_t open;
    atomic_uint_least64_t refused;
    bw_cidr *exempt;
    size_t nexempt;
    atomic_bool full_logged;
    /* The token of an exempt connection: counted in `open`, tied to no key. */
    unsigned char exempt_token;
    unsigned char hkey[crypto_shorthash_KEYBYTES];
};

/* The table installed in the TLS bridge, and the bridge's setter it was installed with. */
static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;
static bw_connlimit *attached;
static bw_tls_bridge_set_admission_fn attached_set;

/* SipHash-2-4 of the prefix (len <= 16) under the table's key, into *out. 0, or -1. */
static int hash_prefix(const bw_connlimit *cl, const unsigned char *prefix, size_t len,
                       uint64_t *out)
{
    unsigned char in[17], h[crypto_shorthash_BYTES];
    uint64_t v = 0;

    /* The length goes in too: a 4-byte and an 8-byte prefix hash apart. */
    in[0] = (unsigned char)len;
    memcpy(in + 1, prefix, len);
    if (crypto_shorthash(h, in, 1 + len, cl->hkey) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(h); i++)
        v |= (uint64_t)h[i] << (8 * i);
    *out = v;
    return 0;
}

/* The slot holding `prefix`, or the empty slot where it would go (*found false). */
static size_t find_slot(const bw_connlimit *cl, const unsigned char *prefix, size_t len, uint64_t h,
                        bool *found)
{
    size_t i = (size_t)h & cl->mask;

    for (;;) {
        uint32_t s = cl->slots[i];
        if (s == 0) {
            *found = false;
            return i;
        }
        const entry *e = &cl->entries[s - 1];
        if (e->hash == h && e->prefix_len == len && memcmp(e->prefix, prefix, len) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & cl->mask;
    }
}

/* Empties slot i, then moves back each later slot of the run whose home lies cyclically at or
 * before the hole, so every key stays reachable from its home without tombstones. */
static void remove_slot(bw_connlimit *cl, size_t i)
{
    size_t j = i;

    cl->slots[i] = 0;
    for (;;) {
        j = (j + 1) & cl->mask;
        if (cl->slots[j] == 0)
            return;
        size_t home = (size_t)cl->entries[cl->slots[j] - 1].hash & cl->mask;
        if (((j - home) & cl->mask) >= ((j - i) & cl->mask)) {
            cl->slots[i] = cl->slots[j];
            cl->slots[j] = 0;
            i = j;
        }
    }
}

/* Counts a refusal; returns the refusal (NULL). */
static void *refuse(bw_connlimit *cl)
{
    atomic_fetch_add(&cl->refused, 1);
    return NULL;
}

static void log_table_full(const bw_connlimit *cl)
{
    bw_log_field f[] = {
        BW_LOG_I("capacity", (long long)cl->capacity),
        BW_LOG_S("msg", "connection table full: connections from new addresses are refused"),
    };

    bw_log(BW_LOG_WARN, "connlimit.table_full", f, sizeof(f) / sizeof(f[0]));
}

static void free_parts(bw_connlimit *cl)
{
    free(cl->entries);
    free(cl->slots);
    free(cl->free_ids);
    free(cl->exempt);
    sodium_memzero(cl->hkey, sizeof(cl->hkey));
    free(cl);
}

bw_connlimit *bw_connlimit_new(unsigned max_per_key, size_t capacity, const bw_cidr *exempt,
                               size_t nexempt, char *err, size_t errlen)
{
    bw_connlimit *cl;
    size_t nslots = 2;

    if (max_per_key == 0 || max_per_key > BW_CONNLIMIT_MAX_PER_KEY) {
        bw_err_set(err, errlen, "connlimit: the cap must be 1..%u connections",
                   BW_CONNLIMIT_MAX_PER_KEY);
        return NULL;
    }
    if (capacity == 0 || capacity > BW_CONNLIMIT_CAPACITY_MAX) {
        bw_err_set(err, errlen, "connlimit: capacity must be 1..%zu addresses",
                   BW_CONNLIMIT_CAPACITY_MAX);
        return NULL;
    }
    if (nexempt > 0 && exempt == NULL) {
        bw_err_set(err, errlen, "connlimit: exempt networks missing");
        return NULL;
    }
    if (sodium_init() < 0) {
        bw_err_set(err, errlen, "connlimit: libsodium cannot be initialised");
        return NULL;
    }
    /* capacity <= 2^20, so this ends at <= 2^21 slots. */
    while (nslots < 2 * capacity)
        nslots *= 2;
    cl = calloc(1, sizeof(*cl));
    if (cl == NULL) {
        bw_err_set(err, errlen, "connlimit: out of memory");
        return NULL;
    }
    cl->entries = calloc(capacity, sizeof(*cl->entries));
    cl->slots = calloc(nslots, sizeof(*cl->slots));
    cl->free_ids = calloc(capacity, sizeof(*cl->free_ids));
    if (nexempt > 0)
        cl->exempt = calloc(nexempt, sizeof(*cl->exempt));
    if (cl->entries == NULL || cl->slots == NULL || cl->free_ids == NULL ||
        (nexempt > 0 && cl->exempt == NULL)) {
        free_parts(cl);
        bw_err_set(err, errlen, "connlimit: out of memory for %zu addresses", capacity);
        return NULL;
    }
    if (pthread_mutex_init(&cl->lock, NULL) != 0) {
        free_parts(cl);
        bw_err_set(err, errlen, "connlimit: cannot create a mutex");
        return NULL;
    }
    if (nexempt > 0)
        memcpy(cl->exempt, exempt, nexempt * sizeof(*exempt));
    cl->nexempt = nexempt;
    cl->max_per_key = max_per_key;
    cl->capacity = capacity;
    cl->mask = nslots - 1;
    /* Entry 0 on top: the first key takes the first entry. */
    for (size_t i = 0; i < capacity; i++)
        cl->free_ids[i] = (uint32_t)(capacity - 1 - i);
    cl->nfree = capacity;
    atomic_init(&cl->full_logged, false);
    atomic_init(&cl->refused, 0);
    randombytes_buf(cl->hkey, sizeof(cl->hkey));
    return cl;
}

void bw_connlimit_free(bw_connlimit *cl)
{
    bool busy = false;

    if (cl == NULL)
        return;
    /* If the lock fails we cannot know whether the bridge still uses cl: keep it. */
    if (pthread_mutex_lock(&attach_lock) != 0) {
        busy = true;
    } else {
        if (attached == cl) {
            if (attached_set(NULL, NULL, NULL) == 0) {
                attached = NULL;
                attached_set = NULL;
            } else {
                busy = true;
            }
        }
        (void)pthread_mutex_unlock(&attach_lock);
    }
    if (busy) {
        bw_log_msg(BW_LOG_ERROR, "connlimit.free_busy",
                   "the TLS bridge may still use the connection table; it stays allocated");
        return;
    }
    (void)pthread_mutex_destroy(&cl->lock);
    free_parts(cl);
}

void *bw_connlimit_admit(bw_connlimit *cl, const bw_netaddr *a)
{
    unsigned char prefix[16];
    size_t len, slot;
    uint64_t h;
    entry *e = NULL;
    bool found, full = false;

    if (cl == NULL || a == NULL)
        return NULL;
    len = bw_netaddr_limit_key(a, prefix);
    if (len == 0)
        return refuse(cl);
    if (bw_cidr_list_contains(cl->exempt, cl->nexempt, a)) {
        if (pthread_mutex_lock(&cl->lock) != 0)
            return refuse(cl);
        cl->open++;
        (void)pthread_mutex_unlock(&cl->lock);
        return &cl->exempt_token;
    }
    if (hash_prefix(cl, prefix, len, &h) != 0 || pthread_mutex_lock(&cl->lock) != 0)
        return refuse(cl);
    slot = find_slot(cl, prefix, len, h, &found);
    if (found) {
        e = &cl->entries[cl->slots[slot] - 1];
        if (e->open >= cl->max_per_key)
            e = NULL;
    } else if (cl->nfree == 0) {
        full = true;
    } else {
        uint32_t id = cl->free_ids[--cl->nfree];
        e = &cl->entries[id];
        e->hash = h;
        e->prefix_len = (uint8_t)len;
        memcpy(e->prefix, prefix, len);
        cl->slots[slot] = id + 1;
    }
    if (e != NULL) {
        e->open++;
        cl->open++;
    }
    (void)pthread_mutex_unlock(&cl->lock);
    if (e == NULL)
        (void)refuse(cl);
    if (full && !atomic_load_explicit(&cl->full_logged, memory_order_relaxed) &&
        !atomic_exchange(&cl->full_logged, true))
        log_table_full(cl);
    return e;
}

/* The peer of a connected socket as an address; IPv4-mapped IPv6 becomes IPv4, so a client has
 * one key however the listener is bound. */
static int peer_address(int fd, bw_netaddr *out)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    memset(&ss, 0, sizeof(ss));
    memset(out, 0, sizeof(*out));
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
        out->family = BW_NETADDR_V4;
        memcpy(out->bytes, &sin->sin_addr, 4);
        return 0;
    }
    if (ss.ss_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            out->family = BW_NETADDR_V4;
            memcpy(out->bytes, sin6->sin6_addr.s6_addr + 12, 4);
        } else {
            out->family = BW_NETADDR_V6;
            memcpy(out->bytes, sin6->sin6_addr.s6_addr, 16);
        }
        return 0;
    }
    return -1;
}

void *bw_connlimit_admit_fd(bw_connlimit *cl, int fd)
{
    bw_netaddr a;

    if (cl == NULL)
        return NULL;
    if (fd < 0 || peer_address(fd, &a) != 0)
        return refuse(cl);
    return bw_connlimit_admit(cl, &a);
}

void bw_connlimit_release(bw_connlimit *cl, void *token)
{
    uintptr_t t = (uintptr_t)token, base;
    entry *e;

    if (cl == NULL || token == NULL)
        return;
    /* A lock that fails leaves the connection counted: stricter, never looser. */
    if (token == &cl->exempt_token) {
        if (pthread_mutex_lock(&cl->lock) != 0)
            return;
        if (cl->open > 0)
            cl->open--;
        (void)pthread_mutex_unlock(&cl->lock);
        return;
    }
    /* Compared as integers: a foreign pointer is not in the array, so no pointer arithmetic. */
    base = (uintptr_t)cl->entries;
    if (t < base || t - base >= cl->capacity * sizeof(entry) || (t - base) % sizeof(entry) != 0)
        return;
    e = &cl->entries[(t - base) / sizeof(entry)];
    if (pthread_mutex_lock(&cl->lock) != 0)
        return;
    if (e->open > 0) {
        e->open--;
        cl->open--;
        if (e->open == 0) {
            bool found;
            size_t slot = find_slot(cl, e->prefix, e->prefix_len, e->hash, &found);
            /* Always found; were it not, leaking the entry beats handing it out twice. */
            if (found) {
                remove_slot(cl, slot);
                cl->free_ids[cl->nfree++] = (uint32_t)(e - cl->entries);
            }
        }
    }
    (void)pthread_mutex_unlock(&cl->lock);
}

void bw_connlimit_stats_get(bw_connlimit *cl, bw_connlimit_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (cl == NULL)
        return;
    out->capacity = cl->capacity;
    out->refused = atomic_load(&cl->refused);
    if (pthread_mutex_lock(&cl->lock) != 0)
        return;
    out->keys = cl->capacity - cl->nfree;
    out->open = cl->open;
    (void)pthread_mutex_unlock(&cl->lock);
}

/* The bridge's view of the table (tls_bridge.h signatures). */
static void *bridge_admit(void *arg, int fd)
{
    return bw_connlimit_admit_fd(arg, fd);
}

static void bridge_release(void *arg, void *token)
{
    bw_connlimit_release(arg, token);
}

int bw_connlimit_attach(bw_connlimit *cl, char *err, size_t errlen)
{
    bw_tls_bridge_set_admission_fn set;
    int rc = -1;

    if (cl == NULL) {
        bw_err_set(err, errlen, "connlimit: no table to attach");
        return -1;
    }
    set = bw_tls_bridge_set_admission_hook();
    if (set == NULL) {
        bw_err_set(err, errlen, "connlimit: the TLS bridge is not loaded");
        return -1;
    }
    if (pthread_mutex_lock(&attach_lock) != 0) {
        bw_err_set(err, errlen, "connlimit: cannot take the attach lock");
        return -1;
    }
    if (set(bridge_admit, bridge_release, cl) != 0) {
        bw_err_set(err, errlen,
                   "connlimit: connections admitted by an earlier table are still open");
    } else {
        attached = cl;
        attached_set = set;
        rc = 0;
    }
    (void)pthread_mutex_unlock(&attach_lock);
    return rc;
}
