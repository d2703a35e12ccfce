/* Sessions: 256-bit random tokens, base64url without padding (43
 * characters), stored only as a keyed BLAKE2b-256 hash, with an absolute and
 * an idle expiry. A token is returned once, at creation. All times are Unix
 * seconds supplied by the caller (tests drive the clock). */
#ifndef BULWARK_SESSION_H
#define BULWARK_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#define BW_SESSION_TOKEN_LEN 43
#define BW_SESSION_KEY_BYTES 32
/* last_seen_at is written at most this often (or every idle_ttl_s / 2 when
 * that is shorter), so requests stay reads. */
#define BW_SESSION_TOUCH_S 30

typedef struct bw_session_info {
    long long id;
    long long user_id;
    long long created_at;
    long long last_seen_at;
    long long expires_at; /* absolute */
    bool mfa;             /* the session passed a second factor */
} bw_session_info;

/* Creates a session for user_id expiring absolutely at now + absolute_ttl_s,
 * writes its token (NUL-terminated) into token. Returns 0 (info may be NULL),
 * or -1 on a database or randomness error. */
int bw_session_create(sqlite3 *db, const unsigned char key[BW_SESSION_KEY_BYTES], long long user_id,
                      bool mfa, long long now, long long absolute_ttl_s,
                      char token[BW_SESSION_TOKEN_LEN + 1], bw_session_info *info);

/* Finds the live session for token[0..len). A token that is not exactly 43
 * base64url characters is refused without a database lookup. A session past
 * its absolute expiry, or idle longer than idle_ttl_s, is deleted and
 * refused. A live one has last_seen_at moved to now (at most every
 * BW_SESSION_TOUCH_S, or idle_ttl_s / 2 when shorter). Returns 1 (info filled), 0 not valid, -1
 * database error. */
int bw_session_lookup(sqlite3 *db, const unsigned char key[BW_SESSION_KEY_BYTES], const char *token,
                      size_t len, long long now, long long idle_ttl_s, bw_session_info *info);

/* Deletes one session by id (logout). 1 deleted, 0 none, -1 error. */
int bw_session_revoke(sqlite3 *db, long long session_id);

/* Deletes every session of user_id (log out everywhere, password or role
 * change). Returns the number deleted, or -1. */
int bw_session_revoke_user(sqlite3 *db, long long user_id);

/* Deletes expired sessions (absolute or idle). Returns the number, or -1. */
int bw_session_prune(sqlite3 *db, long long now, long long idle_ttl_s);

/* The CSRF token bound to a session token: base64url (43 characters) of a
 * keyed BLAKE2b-256 of the session token under csrf_key. Deterministic, so
 * it needs no storage; knowing it reveals nothing about the session token.
 * Returns 0, or -1 for a malformed token. */
int bw_session_csrf_token(const unsigned char csrf_key[BW_SESSION_KEY_BYTES], const char *token,
                          size_t len, char out[BW_SESSION_TOKEN_LEN + 1]);

#endif
