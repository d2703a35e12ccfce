/* Login throttling, kept in the store (table login_failures) so replicas
 * sharing it agree:
 * - per account name, known or not (so a lockout reveals nothing): from the
 *   account_threshold-th consecutive failure on, each failure locks the name
 *   for base * 2^(n - threshold) seconds, capped at account_max_delay_s;
 *   a success resets it; failures older than account_reset_s are forgotten;
 * - per client address (IPv4 address, IPv6 /64): address_limit failures
 *   within a window of address_window_s lock the address until the window
 *   ends.
 * Names and addresses are stored only as keyed BLAKE2b-256 hashes. */
#ifndef BULWARK_THROTTLE_H
#define BULWARK_THROTTLE_H

#include <stddef.h>

#include <sqlite3.h>

#define BW_THROTTLE_KEY_BYTES 32

typedef struct bw_throttle_policy {
    int account_threshold;    /* e.g. 5 */
    int account_base_delay_s; /* e.g. 1 */
    int account_max_delay_s;  /* e.g. 900 */
    int account_reset_s;      /* e.g. 86400 */
    int address_limit;        /* e.g. 50 */
    int address_window_s;     /* e.g. 900 */
} bw_throttle_policy;

typedef enum bw_throttle_scope { BW_THROTTLE_ACCOUNT, BW_THROTTLE_ADDRESS } bw_throttle_scope;

/* The id of the address scope is the client's rate-limit key
 * (bw_netaddr_limit_key: an IPv4 address, an IPv6 /64). */

/* Whether id[0..len) in scope is locked at now. Returns 0 (free), 1 (locked,
 * *retry_after_s set to the seconds left, >= 1), or -1 database error. */
int bw_throttle_check(sqlite3 *db, const unsigned char key[BW_THROTTLE_KEY_BYTES],
                      bw_throttle_scope scope, const void *id, size_t len, long long now,
                      const bw_throttle_policy *p, long long *retry_after_s);

/* Records one failure of id in scope at now and applies the policy, in its
 * own transaction (db must not be inside one). Also
 * deletes rows idle for longer than the policy's longest period, so the table
 * stays bounded by recent activity. Returns 0, or -1. */
int bw_throttle_fail(sqlite3 *db, const unsigned char key[BW_THROTTLE_KEY_BYTES],
                     bw_throttle_scope scope, const void *id, size_t len, long long now,
                     const bw_throttle_policy *p);

/* Forgets id in scope (a successful login resets its account). 0, or -1. */
int bw_throttle_reset(sqlite3 *db, const unsigned char key[BW_THROTTLE_KEY_BYTES],
                      bw_throttle_scope scope, const void *id, size_t len);

#endif
