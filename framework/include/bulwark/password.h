/* Passwords: Argon2id hashing (libsodium crypto_pwhash_str), verification
 * with transparent rehash, the NIST SP 800-63B policy, and a gate that caps
 * how many hashes run at once so a login flood cannot exhaust memory. */
#ifndef BULWARK_PASSWORD_H
#define BULWARK_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include <sodium.h>

/* Size of a buffer that holds an encoded hash ("$argon2id$v=19$m=...") and its NUL. */
#define BW_PASSWORD_HASH_MAX crypto_pwhash_STRBYTES

/* Policy bounds, in characters (Unicode code points of valid UTF-8). */
#define BW_PASSWORD_MIN_CHARS 8
#define BW_PASSWORD_MAX_CHARS 128
/* Bytes: 128 code points of at most 4 bytes. */
#define BW_PASSWORD_MAX_BYTES 512

/* OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane (libsodium's lane count). */
#define BW_PASSWORD_MIN_OPSLIMIT 2ULL
#define BW_PASSWORD_MIN_MEMLIMIT ((size_t)19 * 1024 * 1024)

typedef struct bw_password_params {
    unsigned long long opslimit; /* >= BW_PASSWORD_MIN_OPSLIMIT */
    size_t memlimit;             /* bytes, >= BW_PASSWORD_MIN_MEMLIMIT */
} bw_password_params;

typedef enum bw_password_result {
    BW_PASSWORD_MATCH,        /* correct, hash uses the current parameters */
    BW_PASSWORD_MATCH_REHASH, /* correct, but hashed with other parameters: store a new hash */
    BW_PASSWORD_MISMATCH,     /* wrong password, or an unusable stored hash */
    BW_PASSWORD_ERROR         /* out of memory or bad arguments */
} bw_password_result;

/* Checks pw[0..pwlen) against the policy: valid UTF-8 without NUL, 8 to 128
 * code points, not equal to username[0..ulen) (compared case-insensitively for
 * ASCII letters). No composition rules. Returns 0, or -1 with *why set to a
 * static, user-facing sentence that never repeats the input. */
int bw_password_policy_check(const char *username, size_t ulen, const char *pw, size_t pwlen,
                             const char **why);

/* Hashes pw[0..pwlen) (at most BW_PASSWORD_MAX_BYTES) with Argon2id and p into
 * out (NUL-terminated). Returns 0, or -1 on bad parameters or out of memory. */
int bw_password_hash(const bw_password_params *p, const char *pw, size_t pwlen,
                     char out[BW_PASSWORD_HASH_MAX]);

/* Verifies pw[0..pwlen) against the NUL-terminated encoded hash (a stored
 * value; an empty or malformed one is MISMATCH after the same work as a real
 * verification would cost, see bw_password_dummy_verify). */
bw_password_result bw_password_verify(const bw_password_params *p, const char *hash, const char *pw,
                                      size_t pwlen);

/* Runs one verification of pw against a hash made with p at first use (kept
 * for the process's life), and discards the result: for an unknown user, so
 * the answer costs the same time as a wrong password. Thread-safe. */
void bw_password_dummy_verify(const bw_password_params *p, const char *pw, size_t pwlen);

/* The gate: a counting semaphore of `slots` concurrent hash operations.
 * bw_password_gate_slots() sizes it from a memory budget. */
typedef struct bw_password_gate bw_password_gate;

/* budget_bytes / memlimit, at least 1 and at most 64. */
size_t bw_password_gate_slots(size_t budget_bytes, size_t memlimit);

/* A gate of `slots` (1..64) slots, or NULL (out of memory / bad slots). Caller
 * frees it with bw_password_gate_free. */
bw_password_gate *bw_password_gate_new(size_t slots);

/* Takes a slot, waiting at most wait_ms (0 = do not wait). True when taken:
 * then call bw_password_gate_leave once. False when every slot stayed busy:
 * the caller answers 503 with Retry-After. */
bool bw_password_gate_enter(bw_password_gate *g, int wait_ms);
void bw_password_gate_leave(bw_password_gate *g);
void bw_password_gate_free(bw_password_gate *g);

#endif
