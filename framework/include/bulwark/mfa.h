/* The second factor in the store (tables user_mfa and mfa_recovery, migrations/0004_mfa.sql):
 * per user, one TOTP enrolment, pending until a first code confirms it, then enabled; the last
 * accepted time step, so each code works once; and BW_TOTP_RECOVERY_COUNT single-use recovery
 * codes, kept only as keyed hashes. The TOTP secret is stored sealed (bw_totp_seal) together
 * with the user's id, so a sealed secret copied to another user's row does not open.
 *
 * Two keys, both BW_TOTP_KEY_BYTES and derived by the caller for this use alone: seal_key
 * encrypts secrets, hash_key hashes recovery codes. Times are Unix seconds from the caller.
 * The caller throttles attempts (a 6-digit code falls to about 10^6 / 3 guesses) and decides
 * when a user may enrol or disable (after a fresh password check). */
#ifndef BULWARK_MFA_H
#define BULWARK_MFA_H

#include <stddef.h>

#include <sqlite3.h>

#include "bulwark/totp.h"

/* Outcome of the calls below. */
typedef enum bw_mfa_result {
    BW_MFA_OK = 0,
    BW_MFA_DENIED,       /* wrong, malformed or already used code */
    BW_MFA_NOT_ENROLLED, /* no enrolment in the state the call needs */
    BW_MFA_ALREADY,      /* enroll_begin / enroll_confirm: the second factor is already on */
    BW_MFA_FAILED        /* bad argument, unknown user, database or crypto error */
} bw_mfa_result;

/* A user's enrolment state (bw_mfa_status). */
typedef enum bw_mfa_state {
    BW_MFA_NONE = 0,
    BW_MFA_PENDING = 1, /* secret issued, no code confirmed yet: not a second factor yet */
    BW_MFA_ENABLED = 2
} bw_mfa_state;

/* Starts (or restarts) enrolment for user_id at now: a fresh secret is generated, sealed and
 * stored as pending, replacing any pending one; its 20 raw bytes are written to secret so the
 * caller can show them (bw_totp_uri, bw_totp_base32_encode) once and then wipe them
 * (sodium_memzero). BW_MFA_OK; BW_MFA_ALREADY when the factor is enabled (bw_mfa_disable
 * first: re-enrolling must not silently replace a working factor); BW_MFA_FAILED otherwise,
 * user_id not naming a user included. secret is wiped unless BW_MFA_OK. */
bw_mfa_result bw_mfa_enroll_begin(sqlite3 *db, const unsigned char seal_key[BW_TOTP_KEY_BYTES],
                                  long long user_id, long long now,
                                  unsigned char secret[BW_TOTP_SECRET_BYTES]);

/* Confirms a pending enrolment with code[0..code_len) valid at now: in one transaction the
 * factor is enabled, the code's step recorded as used, and BW_TOTP_RECOVERY_COUNT fresh
 * recovery codes generated; their hashes (under hash_key) replace any earlier ones and the
 * codes themselves are written to codes, to be shown once and wiped by the caller. BW_MFA_OK;
 * BW_MFA_DENIED for a wrong or malformed code; BW_MFA_NOT_ENROLLED without a pending
 * enrolment; BW_MFA_ALREADY when already enabled; BW_MFA_FAILED on error. codes is wiped
 * unless BW_MFA_OK. */
bw_mfa_result bw_mfa_enroll_confirm(sqlite3 *db, const unsigned char seal_key[BW_TOTP_KEY_BYTES],
                                    const unsigned char hash_key[BW_TOTP_KEY_BYTES],
                                    long long user_id, const char *code, size_t code_len,
                                    long long now,
                                    char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1]);

/* The enrolment state of user_id (an unknown user is BW_MFA_NONE), or -1 on a database
 * error. */
int bw_mfa_status(sqlite3 *db, long long user_id);

/* Checks code[0..code_len) for user_id's enabled factor at now (window of one step either
 * side) and records its step as used. The record is a conditional UPDATE (only while the
 * stored last step is older and the secret unchanged), so of two concurrent uses of one code
 * exactly one succeeds, and a code older than the last accepted one is refused. BW_MFA_OK;
 * BW_MFA_DENIED for a wrong, malformed, replayed or stale code; BW_MFA_NOT_ENROLLED when the
 * factor is not enabled; BW_MFA_FAILED on error (a secret that does not open included). */
bw_mfa_result bw_mfa_verify(sqlite3 *db, const unsigned char seal_key[BW_TOTP_KEY_BYTES],
                            long long user_id, const char *code, size_t code_len, long long now);

/* Spends one recovery code of user_id: code[0..code_len) is normalised as
 * bw_totp_recovery_hash says, and the matching unused code of this user is marked used at now
 * in a single UPDATE (two concurrent uses: one wins). BW_MFA_OK; BW_MFA_DENIED for an unknown,
 * malformed, already used or another user's code; BW_MFA_NOT_ENROLLED when the factor is not
 * enabled; BW_MFA_FAILED on error. */
bw_mfa_result bw_mfa_use_recovery(sqlite3 *db, const unsigned char hash_key[BW_TOTP_KEY_BYTES],
                                  long long user_id, const char *code, size_t code_len,
                                  long long now);

/* The number of unused recovery codes of user_id (0 when none or not enrolled), or -1. */
int bw_mfa_recovery_left(sqlite3 *db, long long user_id);

/* Removes user_id's enrolment, pending or enabled, with its recovery codes. 1 removed, 0 there
 * was none, -1 on error. */
int bw_mfa_disable(sqlite3 *db, long long user_id);

#endif
