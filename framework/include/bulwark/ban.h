/* Address bans: the first stage of the request path, and automatic bans of addresses that keep
 * failing authentication, hitting rate limits or sending invalid requests.
 *
 * A ban covers one rate-limit key (bw_netaddr_limit_key): an IPv4 address, or an IPv6 /64.
 * The table `bans` (migrations/0003_bans.sql) is the truth, shared by every process and the
 * CLI; each process keeps a copy of its live rows in a bw_banlist, a fixed-size hash table in
 * memory that bw_banlist_check() reads on every request without touching the database.
 * bw_banlist_refresh() brings the copy up to date (a change to the table bumps a generation
 * number, so an unchanged table costs one single-row read), which is how `ban add` and
 * `ban remove` reach a running server within a second.
 *
 * Automatic bans: the caller reports each offence of an address with bw_banlist_offence().
 * Offences are counted per address and kind in a second fixed-size table, in a window of
 * window_s seconds that opens at the address's first offence; the offence that brings one
 * kind's count to its threshold bans the address for duration_s, in memory at once and in the
 * table. Both tables hash keys with SipHash-2-4 under a random key drawn at creation, so
 * nobody can aim addresses at one slot. Nothing grows after bw_banlist_new(): when the ban
 * table is full, new automatic bans are refused (the existing ones all hold) and logged; when
 * an address's offence slots are all taken, the counter whose window opened first is dropped
 * (see docs/bans.md).
 *
 * A bw_banlist may be used from any number of threads at once. Each call that takes a
 * sqlite3 handle must be given the calling thread's own connection (bw_store_conn()), outside
 * any transaction. */
#ifndef BULWARK_BAN_H
#define BULWARK_BAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "bulwark/netaddr.h"

/* Bytes of the longest text bw_ban_address() writes, with its NUL: an IPv6 address and "/64". */
#define BW_BAN_ADDRESS_SIZE (BW_NETADDR_TEXT_SIZE + 3)

/* Longest reason, in bytes. */
#define BW_BAN_REASON_MAX 200

/* Longest ban: ten years. */
#define BW_BAN_DURATION_MAX (10LL * 366 * 86400)

/* Bounds on the policy (docs/bans.md gives the defaults). */
#define BW_BAN_CAPACITY_MIN 16
#define BW_BAN_CAPACITY_MAX ((size_t)1 << 20)
#define BW_BAN_TRACKED_MIN 512
#define BW_BAN_TRACKED_MAX ((size_t)1 << 22)
#define BW_BAN_WINDOW_MAX 86400
#define BW_BAN_THRESHOLD_MAX 1000000

/* A running process reloads its whole copy at least this often (seconds), to drop expired
 * bans from memory, even when the table did not change. */
#define BW_BAN_RELOAD_S 60

typedef enum bw_offence {
    BW_OFFENCE_AUTH_FAILURE, /* credentials presented and refused (401) */
    BW_OFFENCE_RATE_LIMITED, /* a request refused by a rate limit (429) */
    BW_OFFENCE_VALIDATION,   /* a request refused as invalid (400) */
    BW_OFFENCE_ATTACK,       /* input matching an attack signature (attack.h) */
} bw_offence;
#define BW_OFFENCE_KINDS 4

typedef enum bw_ban_source { BW_BAN_AUTO, BW_BAN_MANUAL } bw_ban_source;

typedef struct bw_ban_policy {
    size_t capacity;   /* bans held in memory: BW_BAN_CAPACITY_MIN..MAX */
    size_t tracked;    /* addresses whose offences are counted: BW_BAN_TRACKED_MIN..MAX */
    int window_s;      /* the counting window: 1..BW_BAN_WINDOW_MAX */
    int duration_s;    /* an automatic ban: 1..BW_BAN_DURATION_MAX */
    int auth_failures; /* offences of each kind in one window that ban; 0 = never */
    int rate_limited;  /* (each 0..BW_BAN_THRESHOLD_MAX) */
    int validation_failures;
    int attacks;
} bw_ban_policy;

/* One row of the table, as bw_ban_list() hands it over. */
typedef struct bw_ban_info {
    char address[BW_BAN_ADDRESS_SIZE]; /* "203.0.113.7", "2001:db8:1:2::/64" */
    const char *reason;                /* valid during the callback only */
    long long created_at;
    long long expires_at;
    bw_ban_source source;
} bw_ban_info;

/* Counters for the metrics module; every one counts since bw_banlist_new(). */
typedef struct bw_ban_stats {
    size_t capacity;                     /* policy.capacity */
    size_t bans;                         /* entries in memory, some perhaps expired */
    uint64_t refused;                    /* checks that found a ban */
    uint64_t offences[BW_OFFENCE_KINDS]; /* offences reported, by kind */
    uint64_t auto_bans;                  /* offences that banned their address */
    uint64_t full;                       /* automatic bans refused: the ban table was full */
    uint64_t evictions;                  /* offence counters dropped to make room */
    uint64_t reloads;                    /* copies of the table loaded */
    uint64_t truncated;                  /* loads that found more live rows than capacity */
} bw_ban_stats;

typedef struct bw_banlist bw_banlist;

/* --- the table --------------------------------------------------------------------------- */

/* Writes the text of a's ban scope into out: the IPv4 address, or the IPv6 /64 as
 * "2001:db8:1:2::/64". Returns its length, or -1 when a or out is NULL, a's family is
 * unknown or outlen is below the text's size (BW_BAN_ADDRESS_SIZE always fits). */
int bw_ban_address(const bw_netaddr *a, char *out, size_t outlen);

/* Parses what an operator may type to name a ban: an address (bw_netaddr_parse(); an IPv6
 * one names its /64) or the scope itself as written by bw_ban_address(), "192.0.2.1/32" or
 * "2001:db8:1:2::/64" (host bits must be zero). Returns 0 and fills *out, or -1 (out
 * untouched) for anything else, including other prefix lengths. */
int bw_ban_parse(const char *p, size_t len, bw_netaddr *out);

/* Whether r is a reason bw_ban_add() accepts: 1 to BW_BAN_REASON_MAX bytes of UTF-8 without
 * control characters (C0, DEL, C1), as it is printed to terminals. False for NULL. */
bool bw_ban_reason_valid(const char *r);

/* Bans a's key from now for duration_s seconds (1..BW_BAN_DURATION_MAX), for reason
 * (bw_ban_reason_valid()). A manual ban replaces any ban of the key; an automatic one only extends
 * it, so it never shortens an operator's ban. Also deletes the rows that have expired, in the same
 * transaction (db must not be inside one). Returns 1 when the row was written, 0 when an
 * existing ban outlasts this automatic one, -1 for bad arguments or a database error. */
int bw_ban_add(sqlite3 *db, const bw_netaddr *a, const char *reason, long long now,
               long long duration_s, bw_ban_source source);

/* Lifts the ban of a's key. Returns 1 when a row was deleted (expired or not), 0 when there
 * was none, -1 on error. */
int bw_ban_remove(sqlite3 *db, const bw_netaddr *a);

/* Calls fn for each ban in force at now (expires_at > now), soonest expiry first; fn returns
 * 0 to go on, anything else to stop. Returns the number of rows handed to fn, or -1 on a
 * database error or a NULL db or fn. */
int bw_ban_list(sqlite3 *db, long long now, int (*fn)(const bw_ban_info *, void *), void *ud);

/* --- the in-memory copy ------------------------------------------------------------------ */

/* Creates an empty list for policy p (copied), allocating both tables now: the bans' hash
 * table, 24 bytes a slot for a power of two of at least 2 * capacity slots (3 MiB for 65536;
 * a reload builds its new copy beside the old one, so twice that for a moment), and 40 bytes
 * per tracked address for the offence counters. Returns NULL with a message in err (err may
 * be NULL when errlen is 0) when a policy value is out of range, libsodium cannot be
 * initialised, a lock cannot be created or memory runs out. The caller owns the list:
 * bw_banlist_free(). Call bw_banlist_refresh() before serving, to load the table. */
bw_banlist *bw_banlist_new(const bw_ban_policy *p, char *err, size_t errlen);

/* Frees l and wipes its hash key. NULL is a no-op. No other call may be running on l. */
void bw_banlist_free(bw_banlist *l);

/* The request path's first stage: whether a's key is banned at now (Unix seconds). When it
 * is, sets *retry_after_s (may be NULL) to the seconds left (>= 1); otherwise to 0. False
 * when l or a is NULL or a's family is unknown. Never touches the database; when no ban is
 * held it is one atomic load. */
bool bw_banlist_check(bw_banlist *l, const bw_netaddr *a, long long now, long long *retry_after_s);

/* Brings l up to date with the table. Does nothing (0) when called again within the same
 * second now (another thread may be doing the work), so it may be called from every request;
 * otherwise reads the table's generation and reloads the live rows when it changed, or when
 * BW_BAN_RELOAD_S have passed since the last load. When more rows are live than l's capacity,
 * manual bans are kept first, then those that last longest, and the rest is logged
 * ("ban.list_truncated", warn). Returns 1 when it loaded, 0 when there was nothing to do, -1
 * on a database error (logged as "ban.refresh_failed"; the previous copy stays in force). */
int bw_banlist_refresh(bw_banlist *l, sqlite3 *db, long long now);

/* Reports one offence of kind by a at now. When it brings the address's count of that kind
 * within the current window to the policy's threshold, the address is banned for duration_s:
 * in l at once, and in the table through db (bw_ban_add(), source auto, the reason naming
 * the kind); its counters start over. Returns 1 when this offence banned the address (the
 * caller writes the "ban.added" audit event; the ban is in force in this process even if the
 * row could not be written, which is then logged as "ban.store_failed"), 0 when it did not
 * (also when the ban table is full: logged as "ban.list_full", warn, at most once a minute),
 * -1 when an argument is NULL, kind is unknown or a's family is unknown. */
int bw_banlist_offence(bw_banlist *l, sqlite3 *db, const bw_netaddr *a, bw_offence kind,
                       long long now);

/* Fills *out with l's counters (approximate while other threads run). */
void bw_banlist_stats_get(bw_banlist *l, bw_ban_stats *out);

#endif
