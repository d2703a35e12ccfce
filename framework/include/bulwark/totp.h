/* TOTP second factor, the arithmetic (RFC 6238 over RFC 4226 HOTP with HMAC-SHA1, 6 digits,
 * 30 s steps, a window of one step either side), its encodings (RFC 4648 base32, the
 * otpauth:// key URI), the encryption of a secret for storage (libsodium secretbox), and
 * single-use recovery codes with their keyed hashes. No I/O and no database: the store side is
 * mfa.h. Times are Unix seconds supplied by the caller. Every function wipes the secrets it
 * copied onto its stack; buffers the caller passes in stay the caller's to wipe. */
#ifndef BULWARK_TOTP_H
#define BULWARK_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BW_TOTP_DIGITS 6
#define BW_TOTP_PERIOD_S 30
/* Steps accepted either side of the current one: clocks drift, people type slowly. */
#define BW_TOTP_WINDOW 1
/* A generated secret: 160 bits, the size RFC 4226 recommends for HMAC-SHA1. */
#define BW_TOTP_SECRET_BYTES 20
/* Secrets accepted by the functions below: RFC 4226 requires at least 128 bits; 64 bytes is
 * the HMAC-SHA1 block, beyond which the key would be hashed first. */
#define BW_TOTP_SECRET_MIN 16
#define BW_TOTP_SECRET_MAX 64
/* Characters of the unpadded base32 encoding of n bytes (without the NUL). */
#define BW_TOTP_BASE32_LEN(n) (((n)*8 + 4) / 5)
/* The key of bw_totp_seal/open and of bw_totp_recovery_hash (two different keys). */
#define BW_TOTP_KEY_BYTES 32
/* A sealed secret: a 24-byte nonce, then the secretbox (16-byte tag + the plaintext). */
#define BW_TOTP_SEAL_OVERHEAD 40
#define BW_TOTP_SEALED_LEN(n) ((n) + BW_TOTP_SEAL_OVERHEAD)
/* Largest plaintext bw_totp_seal takes. */
#define BW_TOTP_SEAL_MAX 4096

/* Recovery codes: BW_TOTP_RECOVERY_COUNT per enrolment, each 16 characters drawn uniformly
 * from a 30-character alphabet without look-alikes (no 0/O, 1/I/L, U; about 78 bits) and
 * shown as 4 groups of 4 joined by '-': "ABCD-EFGH-JKMN-PQRS". */
#define BW_TOTP_RECOVERY_COUNT 10
#define BW_TOTP_RECOVERY_CHARS 16
#define BW_TOTP_RECOVERY_LEN 19
/* Longest input bw_totp_recovery_hash looks at (room for spaces and dashes). */
#define BW_TOTP_RECOVERY_INPUT_MAX 64
#define BW_TOTP_RECOVERY_HASH_BYTES 32

/* The HOTP value (RFC 4226) of counter under secret[0..len), len in BW_TOTP_SECRET_MIN..MAX:
 * HMAC-SHA1 (wolfCrypt), dynamic truncation, the last `digits` (6, 7 or 8) decimal digits,
 * zero-padded, NUL-terminated into out (cap >= digits + 1). TOTP is this with counter =
 * now / BW_TOTP_PERIOD_S; 8 digits exist for the RFC 6238 test vectors. Returns 0, or -1 for a
 * bad argument or an HMAC failure (out is then ""). */
int bw_totp_hotp(const unsigned char *secret, size_t len, uint64_t counter, unsigned digits,
                 char *out, size_t cap);

/* The 6-digit TOTP code of time step `step`: bw_totp_hotp with BW_TOTP_DIGITS. 0 or -1. */
int bw_totp_code(const unsigned char *secret, size_t len, uint64_t step,
                 char out[BW_TOTP_DIGITS + 1]);

/* True when code[0..code_len) has the shape of a code: exactly BW_TOTP_DIGITS ASCII digits
 * (no sign, space or other character). */
bool bw_totp_code_well_formed(const char *code, size_t code_len);

/* Checks code[0..code_len) at time now (>= 0) against the steps now/30 - 1, now/30 and
 * now/30 + 1, skipping every step <= last_used_step (replay: a code is good once, and never
 * after a later one; pass 0 when none was used, as step 0 lies in 1970). The candidates are all
 * computed and compared in constant time. When two steps give the same code the later one is
 * reported, so the same digits cannot be accepted twice. Returns 1 with *matched_step set
 * (matched_step may be NULL), 0 when refused (wrong, replayed or malformed code: a malformed
 * one costs no HMAC), -1 for a bad argument (NULL, secret length out of range, now < 0) or an
 * HMAC failure. */
int bw_totp_check(const unsigned char *secret, size_t len, const char *code, size_t code_len,
                  int64_t now, uint64_t last_used_step, uint64_t *matched_step);

/* RFC 4648 base32 of in[0..len), upper case, without padding, NUL-terminated into out, which
 * needs BW_TOTP_BASE32_LEN(len) + 1 bytes. Returns 0, or -1 when out is too small (out is then
 * "" if cap > 0) or an argument is NULL (in may be NULL when len is 0). */
int bw_totp_base32_encode(const unsigned char *in, size_t len, char *out, size_t cap);

/* Decodes RFC 4648 base32 in[0..len) into out[0..cap), *outlen receiving the byte count.
 * Letters of either case are accepted; '=' padding is accepted only as the complete padding
 * of the last 8-character group; anything else (spaces included), an impossible length or
 * non-zero unused bits (a non-canonical encoding) is refused. Returns 0, or -1 (bad input, or
 * cap too small; *outlen is then 0 and out is wiped). */
int bw_totp_base32_decode(const char *in, size_t len, unsigned char *out, size_t cap,
                          size_t *outlen);

/* The key URI authenticator apps read from a QR code:
 *   otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
 * issuer[0..issuer_len) and account[0..account_len) are 1..128 bytes each, without control
 * characters (bytes below 0x20, 0x7f) and without ':' (the label's separator, which apps do not
 * decode consistently); every byte outside A-Z a-z 0-9 - . _ ~ is percent-encoded (UTF-8
 * passes through as %XX). Writes the NUL-terminated URI into out[0..cap). The URI holds the
 * secret: show it once, never log it, wipe it. Returns 0, or -1 for a refused argument or
 * cap too small (out is then wiped). */
int bw_totp_uri(const char *issuer, size_t issuer_len, const char *account, size_t account_len,
                const unsigned char *secret, size_t len, char *out, size_t cap);

/* Fills out with BW_TOTP_SECRET_BYTES random bytes (libsodium randombytes_buf). Returns 0, or
 * -1 if libsodium cannot be initialised. */
int bw_totp_secret_generate(unsigned char out[BW_TOTP_SECRET_BYTES]);

/* Encrypts plain[0..len) under key (XSalsa20-Poly1305, crypto_secretbox_easy, a fresh random
 * nonce written in front): out[0..cap) receives BW_TOTP_SEALED_LEN(len) bytes, *outlen their
 * number. len is 1..BW_TOTP_SEAL_MAX; out must not overlap plain. Returns 0, or -1 for a bad
 * argument or cap too small (*outlen then 0). The key is the caller's: derive it for this
 * purpose alone. */
int bw_totp_seal(const unsigned char key[BW_TOTP_KEY_BYTES], const unsigned char *plain, size_t len,
                 unsigned char *out, size_t cap, size_t *outlen);

/* Decrypts sealed[0..len) from bw_totp_seal into out[0..cap), *outlen receiving len -
 * BW_TOTP_SEAL_OVERHEAD. Returns 0, or -1 when the input is too short, was altered or sealed
 * under another key, or cap is too small (*outlen is then 0 and out is wiped). out must not
 * overlap sealed. */
int bw_totp_open(const unsigned char key[BW_TOTP_KEY_BYTES], const unsigned char *sealed,
                 size_t len, unsigned char *out, size_t cap, size_t *outlen);

/* Writes BW_TOTP_RECOVERY_COUNT distinct fresh recovery codes, NUL-terminated, in the format
 * above. They are shown to the user once; the store keeps only bw_totp_recovery_hash of each.
 * The caller wipes them (sodium_memzero) after use. Returns 0, or -1 if libsodium cannot be
 * initialised. */
int bw_totp_recovery_generate(char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1]);

/* Normalises code[0..len) (dashes and spaces are dropped, letters upper-cased) and, when what
 * remains is exactly BW_TOTP_RECOVERY_CHARS characters of the alphabet, writes its keyed
 * BLAKE2b-256 under key into out: "abcd efgh-jkmn-pqrs" and "ABCD-EFGH-JKMN-PQRS" hash alike.
 * Without the key a stolen hash cannot be tested offline. Returns 1 (out written), 0 when the
 * input is not a recovery code (including len > BW_TOTP_RECOVERY_INPUT_MAX), -1 for a NULL
 * argument or a hashing failure. */
int bw_totp_recovery_hash(const unsigned char key[BW_TOTP_KEY_BYTES], const char *code, size_t len,
                          unsigned char out[BW_TOTP_RECOVERY_HASH_BYTES]);

#endif
