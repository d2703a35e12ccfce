/* A cap on the connections one client address holds open at once.
 *
 * CivetWeb gives each connection a worker thread for its whole life, so a client that opens
 * many connections, or keeps slow ones open, takes that many workers from everyone else. This
 * table counts open connections per address key (bw_netaddr_limit_key: an IPv4 address, or the
 * /64 of an IPv6 one) and refuses a connection that would take its key past the cap.
 *
 * Attached to the TLS bridge (bw_connlimit_attach), the check runs when CivetWeb hands a newly
 * accepted TLS connection its socket, before the handshake reads a byte: a refused connection
 * costs one accept and one close, and its worker is free again at once. The key is the TCP peer:
 * peers inside the `exempt` networks (the trusted proxies, which carry many clients) are never
 * capped. Plain-HTTP listeners have no bridge, so no cap.
 *
 * The table is allocated once and never grows: at most `capacity` keys with open connections at
 * a time. A new key that finds it full is refused (fails closed), logged once per table
 * ("connlimit.table_full", warn) and counted in the stats. Keys are hashed with SipHash-2-4
 * under a random key drawn at creation, so a client cannot aim keys at one slot.
 *
 * Every function except bw_connlimit_new and bw_connlimit_free is thread-safe. */
#ifndef BULWARK_CONNLIMIT_H
#define BULWARK_CONNLIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "bulwark/netaddr.h"

/* Bounds on the cap per key and on the table's capacity in keys. */
#define BW_CONNLIMIT_MAX_PER_KEY 10000u
#define BW_CONNLIMIT_CAPACITY_MAX ((size_t)1 << 20)

typedef struct bw_connlimit bw_connlimit;

typedef struct bw_connlimit_stats {
    size_t capacity;  /* keys the table can hold */
    size_t keys;      /* keys with at least one open connection */
    size_t open;      /* connections admitted and not yet released (exempt ones included) */
    uint64_t refused; /* connections refused since creation, for any reason */
} bw_connlimit_stats;

/* Creates a table allowing max_per_key (1..BW_CONNLIMIT_MAX_PER_KEY) open connections per key,
 * with room for `capacity` (1..BW_CONNLIMIT_CAPACITY_MAX) keys at once, and copies the
 * nexempt networks of exempt (may be NULL when nexempt is 0). Draws a random hash key.
 * Returns NULL with a message in err (err may be NULL when errlen is 0) on an argument out of
 * range, when libsodium cannot be initialised, a mutex cannot be created, or memory runs out.
 * The caller owns the result: bw_connlimit_free(). */
bw_connlimit *bw_connlimit_new(unsigned max_per_key, size_t capacity, const bw_cidr *exempt,
                               size_t nexempt, char *err, size_t errlen);

/* Detaches cl from the TLS bridge if it is attached, then frees it and wipes its hash key.
 * NULL is a no-op. Call it only when no connection it admitted is open (after mg_stop); if one
 * is, the bridge still needs cl, so it is left allocated and the event logged
 * ("connlimit.free_busy", error). */
void bw_connlimit_free(bw_connlimit *cl);

/* Admits one connection from a. Returns a token to hand to bw_connlimit_release when the
 * connection ends, or NULL when it is refused: a's key already has max_per_key connections
 * open, the table is full, or cl or a is NULL or a's family unknown. A peer inside an exempt
 * network is always admitted (its token counts it in the stats only). */
void *bw_connlimit_admit(bw_connlimit *cl, const bw_netaddr *a);

/* bw_connlimit_admit for the peer of the connected socket fd (getpeername; an IPv4-mapped IPv6
 * peer counts as IPv4). NULL as well when fd has no IPv4 or IPv6 peer (not a socket, not
 * connected, a Unix socket): a connection that cannot be keyed is refused. */
void *bw_connlimit_admit_fd(bw_connlimit *cl, int fd);

/* Ends the connection `token` (from bw_connlimit_admit* on this cl) stands for; exactly once per
 * token. A key's entry is freed with its last connection. NULL cl or token is a no-op; a token
 * that does not belong to cl is ignored. */
void bw_connlimit_release(bw_connlimit *cl, void *token);

/* Fills *out with the current figures. */
void bw_connlimit_stats_get(bw_connlimit *cl, bw_connlimit_stats *out);

/* Installs cl as the TLS bridge's admission check (tls_bridge.h): from then on every TLS
 * connection CivetWeb accepts is admitted with bw_connlimit_admit_fd when it gets its socket,
 * and released when its SSL object is freed. Call after bw_tls_bridge_load and before
 * mg_start. Returns 0, or -1 with a message when the bridge is not loaded, or another check
 * still has connections open. */
int bw_connlimit_attach(bw_connlimit *cl, char *err, size_t errlen);

#endif
