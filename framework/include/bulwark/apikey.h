/* API keys for services: "bw_<id>_<secret>", where id is 16 lower-case hex
 * digits (public, the row's key) and secret is 43 base64url characters (256
 * random bits) stored only as a keyed BLAKE2b-256 hash. A key belongs to a
 * user, carries its own roles (its scope), and has an optional expiry, a
 * last-used time and a revocation time. */
#ifndef BULWARK_APIKEY_H
#define BULWARK_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#define BW_APIKEY_ID_LEN 16
#define BW_APIKEY_LEN (3 + BW_APIKEY_ID_LEN + 1 + 43) /* "bw_" id "_" secret */
#define BW_APIKEY_KEY_BYTES 32
#define BW_APIKEY_NAME_MAX 64
#define BW_APIKEY_ROLES_MAX 1024
/* last_used_at is written at most this often. */
#define BW_APIKEY_TOUCH_S 60

typedef struct bw_apikey_info {
    char id[BW_APIKEY_ID_LEN + 1];
    long long user_id;
    char name[BW_APIKEY_NAME_MAX + 1];
    char roles[BW_APIKEY_ROLES_MAX];
    long long created_at;
    long long expires_at;   /* 0: none */
    long long last_used_at; /* 0: never */
    long long revoked_at;   /* 0: not revoked */
} bw_apikey_info;

/* True when text[0..len) has the shape of a key (prefix, lengths, alphabets),
 * so the authenticator can tell a key from a session token without a lookup. */
bool bw_apikey_looks_like(const char *text, size_t len);

/* Creates a key for user_id named name (1..64 printable ASCII bytes) with
 * roles (as given; the caller checks them) and expires_at (0 = none). Writes
 * the whole key, NUL-terminated, into out: it is shown once and never stored.
 * Returns 0 (info may be NULL), or -1 with a message in err. */
int bw_apikey_create(sqlite3 *db, const unsigned char key[BW_APIKEY_KEY_BYTES], long long user_id,
                     const char *name, const char *roles, long long expires_at, long long now,
                     char out[BW_APIKEY_LEN + 1], bw_apikey_info *info, char *err, size_t errlen);

/* Checks text[0..len): well formed, known id, secret hash equal (in constant
 * time), not revoked, not expired at now. Moves last_used_at to now (at most
 * every BW_APIKEY_TOUCH_S). Returns 1 (info filled), 0 refused, -1 database
 * error. */
int bw_apikey_verify(sqlite3 *db, const unsigned char key[BW_APIKEY_KEY_BYTES], const char *text,
                     size_t len, long long now, bw_apikey_info *info);

/* Revokes key id at now. 1 revoked, 0 unknown or already revoked, -1 error. */
int bw_apikey_revoke(sqlite3 *db, const char *id, long long now);

/* Calls fn for each key of user_id (all users when user_id < 0), newest
 * first; fn returning non-zero stops. Returns the count passed, or -1. */
int bw_apikey_list(sqlite3 *db, long long user_id, int (*fn)(const bw_apikey_info *k, void *ud),
                   void *ud);

#endif
