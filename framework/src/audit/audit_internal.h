/* Shared between the writer (audit.c) and the store (store.c): the chain's canonical encoding,
 * the read-write opening of the audit database and the batch append. Not a public API. */
#ifndef BW_AUDIT_INTERNAL_H
#define BW_AUDIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>
#include <sqlite3.h>

#include "bulwark/audit.h"

#define BW_AUDIT_MAC_BYTES 32

/* How long a connection waits for another writer's transaction (another process). */
#define BW_AUDIT_BUSY_MS 5000

/* The text fields of a record in canonical (and column) order. */
enum {
    BW_AT_EVENT,
    BW_AT_OUTCOME,
    BW_AT_ACTOR,
    BW_AT_SOURCE,
    BW_AT_REQUEST_ID,
    BW_AT_TARGET,
    BW_AT_DETAIL,
    BW_AT_COUNT
};

/* A record as the chain sees it: explicit lengths, so bytes read back from a tampered file
 * (embedded NULs, any length) are hashed exactly as stored. */
typedef struct bw_audit_row {
    int64_t seq;
    int64_t ts_ms;
    const char *text[BW_AT_COUNT];
    size_t len[BW_AT_COUNT];
    unsigned char mac[BW_AUDIT_MAC_BYTES];
} bw_audit_row;

/* Prepares an HMAC state keyed with key; copies of it MAC single records. Wipe it with
 * sodium_memzero after use (it holds key-derived material). */
void bw_audit_mac_key(crypto_auth_hmacsha256_state *keyed, const unsigned char *key, size_t keylen);

/* out = HMAC(key, prev || canonical(row)), where canonical is
 *   0x01 (version) || be64(seq) || be64(ts_ms) || for each text field in enum order:
 *   be32(len) || bytes.
 * Every field has a fixed size or a length prefix, so two different records never encode
 * the same. Text lengths must be below 2^32 (they are bounded far lower). */
void bw_audit_mac(const crypto_auth_hmacsha256_state *keyed,
                  const unsigned char prev[BW_AUDIT_MAC_BYTES], const bw_audit_row *row,
                  unsigned char out[BW_AUDIT_MAC_BYTES]);

/* Creates (mode 0600) or opens the database read-write with the hardened settings (WAL,
 * synchronous=FULL, defensive) and creates the schema if missing. Returns the connection (to
 * be used by one thread at a time; close with sqlite3_close) or NULL with a message in err. */
sqlite3 *bw_audit_db_open(const char *path, char *err, size_t errlen);

/* Checks the newest record's MAC against its predecessor's (or the zero MAC for seq 1).
 * 0 when it verifies or the table is empty; -1 with a message in err otherwise. */
int bw_audit_db_check_tail(sqlite3 *db, const crypto_auth_hmacsha256_state *keyed, char *err,
                           size_t errlen);

/* One transaction (BEGIN IMMEDIATE): reads the newest seq and MAC, gives rows[0..n) the
 * following seqs and their MACs, inserts them and commits. 0, or -1 with a message in err
 * after rolling back (the rows' seq and mac are then meaningless). */
int bw_audit_db_append(sqlite3 *db, const crypto_auth_hmacsha256_state *keyed,
                       bw_audit_row *const *rows, size_t n, char *err, size_t errlen);

/* Copies row into a record (texts cut to the record's field sizes at a UTF-8 boundary). */
void bw_audit_row_record(const bw_audit_row *row, bw_audit_record *r);

/* Length of the longest prefix of p[0..len) of at most max bytes that does not end inside a
 * valid UTF-8 sequence (invalid bytes count as one-byte units). */
size_t bw_audit_utf8_cut(const char *p, size_t len, size_t max);

/* Appends p[0..len) as a JSON string (with quotes) at buf[*pos]: quote, backslash, bytes below
 * 0x20 and 0x7F escaped, invalid UTF-8 as \ufffd. Keeps buf NUL-terminated. 0, or -1 when it
 * does not fit (*pos is then unchanged). */
int bw_audit_json_string(char *buf, size_t cap, size_t *pos, const char *p, size_t len);

/* Appends a NUL-terminated text verbatim; 0 or -1 as above. */
int bw_audit_json_raw(char *buf, size_t cap, size_t *pos, const char *s, size_t len);

#endif
