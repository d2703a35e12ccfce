/* TOTP (RFC 6238) over HOTP (RFC 4226), base32 (RFC 4648), the otpauth:// key URI, sealed
 * secrets and recovery codes. See bulwark/totp.h.
 *
 * Secret-dependent values (secret bytes, codes, recovery characters) are mapped to and from
 * characters with arithmetic instead of lookups or branches where that is cheap, so cache and
 * branch timing say nothing about them. */
#include "bulwark/totp.h"

#include "bulwark/ct.h"

#include <string.h>

#include <sodium.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>

#define SHA1_BYTES 20
#define LABEL_MAX 128

_Static_assert(WC_SHA_DIGEST_SIZE == SHA1_BYTES, "HMAC-SHA1 output");
_Static_assert(BW_TOTP_SEAL_OVERHEAD == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES,
               "nonce in front of the secretbox");
_Static_assert(BW_TOTP_KEY_BYTES == crypto_secretbox_KEYBYTES, "secretbox key");
_Static_assert(BW_TOTP_KEY_BYTES >= crypto_generichash_KEYBYTES_MIN &&
                   BW_TOTP_KEY_BYTES <= crypto_generichash_KEYBYTES_MAX,
               "BLAKE2b key");
_Static_assert(BW_TOTP_RECOVERY_HASH_BYTES >= crypto_generichash_BYTES_MIN &&
                   BW_TOTP_RECOVERY_HASH_BYTES <= crypto_generichash_BYTES_MAX,
               "BLAKE2b output");
_Static_assert(BW_TOTP_RECOVERY_LEN == BW_TOTP_RECOVERY_CHARS + BW_TOTP_RECOVERY_CHARS / 4 - 1,
               "4 groups of 4 joined by dashes");

/* Recovery code alphabet: 2-9 and A-Z without I, L, O, U (30 characters). */
static const char RECOVERY_ALPHABET[] = "23456789ABCDEFGHJKMNPQRSTVWXYZ";
#define RECOVERY_ALPHABET_LEN (sizeof(RECOVERY_ALPHABET) - 1)

/* -1 (all bits) when lo <= x <= hi, else 0; x, lo, hi in 0..255. Both differences are
 * negative exactly when x is in range, and the arithmetic shift spreads the sign. */
static int in_range(int x, int lo, int hi)
{
    return ((lo - 1 - x) & (x - hi - 1)) >> 8;
}

static int hmac_sha1(const unsigned char *key, size_t len, const unsigned char msg[8],
                     unsigned char mac[SHA1_BYTES])
{
    Hmac h;
    int rc = -1;

    if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
        return -1;
    if (wc_HmacSetKey(&h, WC_SHA, key, (word32)len) == 0 && wc_HmacUpdate(&h, msg, 8) == 0 &&
        wc_HmacFinal(&h, mac) == 0)
        rc = 0;
    wc_HmacFree(&h);
    /* The context holds the key's inner and outer pads. */
    sodium_memzero(&h, sizeof(h));
    return rc;
}

static bool secret_len_ok(const unsigned char *secret, size_t len)
{
    return secret != NULL && len >= BW_TOTP_SECRET_MIN && len <= BW_TOTP_SECRET_MAX;
}

int bw_totp_hotp(const unsigned char *secret, size_t len, uint64_t counter, unsigned digits,
                 char *out, size_t cap)
{
    static const uint32_t MODULUS[] = {1000000u, 10000000u, 100000000u};
    unsigned char msg[8], mac[SHA1_BYTES];
    unsigned i;
    int rc;

    if (out == NULL || cap == 0)
        return -1;
    out[0] = '\0';
    if (!secret_len_ok(secret, len) || digits < 6 || digits > 8 || cap < (size_t)digits + 1)
        return -1;
    for (i = 0; i < 8; i++)
        msg[i] = (unsigned char)(counter >> (56 - 8 * i));
    rc = hmac_sha1(secret, len, msg, mac);
    if (rc == 0) {
        /* Dynamic truncation (RFC 4226 5.3): 31 bits at the offset the last nibble names. */
        unsigned off = mac[SHA1_BYTES - 1] & 0x0fu;
        uint32_t v = ((uint32_t)(mac[off] & 0x7fu) << 24) | ((uint32_t)mac[off + 1] << 16) |
                     ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
        v %= MODULUS[digits - 6];
        for (i = digits; i-- > 0;) {
            out[i] = (char)('0' + v % 10u);
            v /= 10u;
        }
        out[digits] = '\0';
    }
    sodium_memzero(mac, sizeof(mac));
    return rc;
}

int bw_totp_code(const unsigned char *secret, size_t len, uint64_t step,
                 char out[BW_TOTP_DIGITS + 1])
{
    return bw_totp_hotp(secret, len, step, BW_TOTP_DIGITS, out, BW_TOTP_DIGITS + 1);
}

bool bw_totp_code_well_formed(const char *code, size_t code_len)
{
    size_t i;

    if (code == NULL || code_len != BW_TOTP_DIGITS)
        return false;
    for (i = 0; i < code_len; i++)
        if (code[i] < '0' || code[i] > '9')
            return false;
    return true;
}

int bw_totp_check(const unsigned char *secret, size_t len, const char *code, size_t code_len,
                  int64_t now, uint64_t last_used_step, uint64_t *matched_step)
{
    char want[BW_TOTP_DIGITS + 1];
    uint64_t step, s, first, best = 0;
    unsigned found = 0;
    int rc = 0;

    if (matched_step != NULL)
        *matched_step = 0;
    if (!secret_len_ok(secret, len) || now < 0)
        return -1;
    if (!bw_totp_code_well_formed(code, code_len))
        return 0;
    step = (uint64_t)now / BW_TOTP_PERIOD_S;
    /* now <= INT64_MAX keeps step + BW_TOTP_WINDOW far from overflow. */
    first = step >= BW_TOTP_WINDOW ? step - BW_TOTP_WINDOW : 0;
    /* Every candidate is computed and compared, a replayed one included, so the time does not
     * depend on which step matches or on last_used_step. Ascending order: a later step that
     * gives the same digits replaces an earlier one. */
    for (s = first; s <= step + BW_TOTP_WINDOW; s++) {
        if (bw_totp_code(secret, len, s, want) != 0) {
            rc = -1;
            break;
        }
        unsigned hit =
            (unsigned)bw_ct_eq(want, code, BW_TOTP_DIGITS) & (unsigned)(s > last_used_step);

        best = hit ? s : best;
        found |= hit;
    }
    sodium_memzero(want, sizeof(want));
    if (rc != 0)
        return -1;
    if (found && matched_step != NULL)
        *matched_step = best;
    return found ? 1 : 0;
}

/* --- base32 -------------------------------------------------------------------------------- */

/* The RFC 4648 character of v (0..31): 'A'..'Z' then '2'..'7'. */
static char b32_char(unsigned v)
{
    int x = (int)v;

    /* '2' - ('A' + 26) is added when x > 25. */
    return (char)(x + 'A' + (((25 - x) >> 8) & ('2' - 'A' - 26)));
}

/* The value of base32 character c (either case), or -1. */
static int b32_value(unsigned char c)
{
    int x = c;
    int upper = in_range(x, 'A', 'Z'), lower = in_range(x, 'a', 'z'), digit = in_range(x, '2', '7');

    return (upper & (x - 'A')) | (lower & (x - 'a')) | (digit & (x - '2' + 26)) |
           ~(upper | lower | digit);
}

int bw_totp_base32_encode(const unsigned char *in, size_t len, char *out, size_t cap)
{
    unsigned acc = 0, bits = 0;
    size_t i, o = 0;

    if (out == NULL || cap == 0)
        return -1;
    out[0] = '\0';
    if ((in == NULL && len > 0) || len > (SIZE_MAX - 4) / 8 || cap <= BW_TOTP_BASE32_LEN(len))
        return -1;
    for (i = 0; i < len; i++) {
        acc = ((acc << 8) | in[i]) & 0xfffu;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = b32_char((acc >> bits) & 31u);
        }
    }
    if (bits > 0)
        out[o++] = b32_char((acc << (5 - bits)) & 31u);
    out[o] = '\0';
    return 0;
}

int bw_totp_base32_decode(const char *in, size_t len, unsigned char *out, size_t cap,
                          size_t *outlen)
{
    unsigned acc = 0, bits = 0;
    size_t i, n = len, pad = 0, o = 0;
    int bad = 0;

    if (outlen != NULL)
        *outlen = 0;
    if (in == NULL || out == NULL || outlen == NULL)
        return -1;
    while (n > 0 && in[n - 1] == '=')
        n--;
    pad = len - n;
    /* Padding, when present, completes the last group of 8 exactly: 6, 4, 3 or 1 '='. */
    if (pad > 0 && (len % 8 != 0 || (pad != 1 && pad != 3 && pad != 4 && pad != 6)))
        return -1;
    /* 1, 3 or 6 characters left over cannot end an encoding. */
    if (n % 8 == 1 || n % 8 == 3 || n % 8 == 6 || n / 8 * 5 + (n % 8) * 5 / 8 > cap)
        return -1;
    for (i = 0; i < n; i++) {
        int v = b32_value((unsigned char)in[i]);

        bad |= v;
        acc = ((acc << 5) | ((unsigned)v & 31u)) & 0x1fffu;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* The unused bits of the last character must be zero: one encoding per byte string. */
    if (bad < 0 || (acc & ((1u << bits) - 1u)) != 0) {
        sodium_memzero(out, cap);
        return -1;
    }
    *outlen = o;
    return 0;
}

/* --- otpauth URI --------------------------------------------------------------------------- */

typedef struct writer {
    char *p;
    size_t cap, len;
    bool full;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (w->full || n >= w->cap - w->len) {
        w->full = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void put_escaped(writer *w, const char *s, size_t n)
{
    static const char HEX[] = "0123456789ABCDEF";
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            put(w, s + i, 1);
        } else {
            char esc[3] = {'%', HEX[c >> 4], HEX[c & 15u]};

            put(w, esc, sizeof(esc));
        }
    }
}

static bool label_ok(const char *s, size_t n)
{
    size_t i;

    if (s == NULL || n == 0 || n > LABEL_MAX)
        return false;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == ':')
            return false;
    return true;
}

int bw_totp_uri(const char *issuer, size_t issuer_len, const char *account, size_t account_len,
                const unsigned char *secret, size_t len, char *out, size_t cap)
{
    static const char SCHEME[] = "otpauth://totp/";
    static const char PARAMS[] = "&algorithm=SHA1&digits=6&period=30";
    char b32[BW_TOTP_BASE32_LEN(BW_TOTP_SECRET_MAX) + 1];
    writer w = {out, cap, 0, false};

    _Static_assert(BW_TOTP_DIGITS == 6 && BW_TOTP_PERIOD_S == 30, "PARAMS spells them out");
    if (out == NULL || cap == 0)
        return -1;
    if (!label_ok(issuer, issuer_len) || !label_ok(account, account_len) ||
        !secret_len_ok(secret, len) || bw_totp_base32_encode(secret, len, b32, sizeof(b32)) != 0) {
        out[0] = '\0';
        return -1;
    }
    put(&w, SCHEME, sizeof(SCHEME) - 1);
    put_escaped(&w, issuer, issuer_len);
    put(&w, ":", 1);
    put_escaped(&w, account, account_len);
    put(&w, "?secret=", 8);
    put(&w, b32, strlen(b32));
    put(&w, "&issuer=", 8);
    put_escaped(&w, issuer, issuer_len);
    put(&w, PARAMS, sizeof(PARAMS) - 1);
    sodium_memzero(b32, sizeof(b32));
    if (w.full) {
        sodium_memzero(out, cap);
        return -1;
    }
    out[w.len] = '\0';
    return 0;
}

/* --- secrets at rest ----------------------------------------------------------------------- */

int bw_totp_secret_generate(unsigned char out[BW_TOTP_SECRET_BYTES])
{
    if (out == NULL || sodium_init() < 0)
        return -1;
    randombytes_buf(out, BW_TOTP_SECRET_BYTES);
    return 0;
}

int bw_totp_seal(const unsigned char key[BW_TOTP_KEY_BYTES], const unsigned char *plain, size_t len,
                 unsigned char *out, size_t cap, size_t *outlen)
{
    if (outlen != NULL)
        *outlen = 0;
    if (key == NULL || plain == NULL || out == NULL || outlen == NULL || len == 0 ||
        len > BW_TOTP_SEAL_MAX || cap < BW_TOTP_SEALED_LEN(len) || sodium_init() < 0)
        return -1;
    randombytes_buf(out, crypto_secretbox_NONCEBYTES);
    if (crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, plain, len, out, key) != 0)
        return -1;
    *outlen = BW_TOTP_SEALED_LEN(len);
    return 0;
}

int bw_totp_open(const unsigned char key[BW_TOTP_KEY_BYTES], const unsigned char *sealed,
                 size_t len, unsigned char *out, size_t cap, size_t *outlen)
{
    if (outlen != NULL)
        *outlen = 0;
    if (key == NULL || sealed == NULL || out == NULL || outlen == NULL ||
        len <= BW_TOTP_SEAL_OVERHEAD || cap < len - BW_TOTP_SEAL_OVERHEAD || sodium_init() < 0)
        return -1;
    if (crypto_secretbox_open_easy(out, sealed + crypto_secretbox_NONCEBYTES,
                                   len - crypto_secretbox_NONCEBYTES, sealed, key) != 0) {
        sodium_memzero(out, cap);
        return -1;
    }
    *outlen = len - BW_TOTP_SEAL_OVERHEAD;
    return 0;
}

/* --- recovery codes ------------------------------------------------------------------------ */

/* The alphabet character of index v (0..29), read without a secret-dependent address. */
static char recovery_char(uint32_t v)
{
    unsigned char c = 0;
    size_t k;

    for (k = 0; k < RECOVERY_ALPHABET_LEN; k++)
        c |= (unsigned char)(RECOVERY_ALPHABET[k] & in_range((int)v, (int)k, (int)k));
    return (char)c;
}

/* True when c is in the alphabet, found by a full pass over it. */
static bool recovery_char_ok(unsigned char c)
{
    int hit = 0;
    size_t k;

    for (k = 0; k < RECOVERY_ALPHABET_LEN; k++)
        hit |=
            in_range(c, (unsigned char)RECOVERY_ALPHABET[k], (unsigned char)RECOVERY_ALPHABET[k]);
    return hit != 0;
}

static void recovery_fill(char code[BW_TOTP_RECOVERY_LEN + 1])
{
    size_t i, o = 0;

    for (i = 0; i < BW_TOTP_RECOVERY_CHARS; i++) {
        if (i > 0 && i % 4 == 0)
            code[o++] = '-';
        code[o++] = recovery_char(randombytes_uniform(RECOVERY_ALPHABET_LEN));
    }
    code[o] = '\0';
}

int bw_totp_recovery_generate(char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1])
{
    size_t i, j;
    bool again;

    if (codes == NULL || sodium_init() < 0)
        return -1;
    for (i = 0; i < BW_TOTP_RECOVERY_COUNT; i++) {
        /* A repeat (odds about 2^-78) would leave the user one code short. */
        do {
            recovery_fill(codes[i]);
            again = false;
            for (j = 0; j < i; j++)
                again |= bw_ct_eq(codes[i], codes[j], BW_TOTP_RECOVERY_LEN);
        } while (again);
    }
    return 0;
}

int bw_totp_recovery_hash(const unsigned char key[BW_TOTP_KEY_BYTES], const char *code, size_t len,
                          unsigned char out[BW_TOTP_RECOVERY_HASH_BYTES])
{
    char norm[BW_TOTP_RECOVERY_CHARS];
    size_t i, n = 0;
    int rc = 0;

    if (key == NULL || code == NULL || out == NULL)
        return -1;
    if (len > BW_TOTP_RECOVERY_INPUT_MAX)
        return 0;
    for (i = 0; i < len; i++) {
        int c = (unsigned char)code[i];

        if (c == '-' || c == ' ')
            continue;
        c -= in_range(c, 'a', 'z') & ('a' - 'A');
        if (n == sizeof(norm) || !recovery_char_ok((unsigned char)c))
            goto out;
        norm[n++] = (char)c;
    }
    if (n != sizeof(norm))
        goto out;
    rc = crypto_generichash(out, BW_TOTP_RECOVERY_HASH_BYTES, (const unsigned char *)norm,
                            sizeof(norm), key, BW_TOTP_KEY_BYTES) == 0
             ? 1
             : -1;
out:
    sodium_memzero(norm, sizeof(norm));
    return rc;
}
