/* The TOTP inputs a client or an operator controls: a code typed at login, a recovery code,
 * and a base32 secret. The first byte picks the parser; every success is checked against what
 * the parser promises (round trips, lengths, a fixed secret's codes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/totp.h"

static const unsigned char SECRET[20] = "12345678901234567890";
static const unsigned char KEY[BW_TOTP_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8};

static void check_base32(const char *p, size_t len)
{
    unsigned char raw[BW_TOTP_SECRET_MAX + 8];
    char text[BW_TOTP_BASE32_LEN(sizeof(raw)) + 1];
    unsigned char again[sizeof(raw)];
    size_t n = 0, m = 0;

    if (bw_totp_base32_decode(p, len, raw, sizeof(raw), &n) != 0)
        return;
    if (n > sizeof(raw))
        abort();
    /* Encoding what was decoded and decoding it again gives the same bytes. */
    if (bw_totp_base32_encode(raw, n, text, sizeof(text)) != 0 ||
        bw_totp_base32_decode(text, strlen(text), again, sizeof(again), &m) != 0 || m != n ||
        memcmp(raw, again, n) != 0)
        abort();
}

static void check_code(const char *p, size_t len)
{
    uint64_t step = 0;
    int64_t now = 1700000000;
    int rc = bw_totp_check(SECRET, sizeof(SECRET), p, len, now, 0, &step);

    if (rc < 0 || (rc == 1 && !bw_totp_code_well_formed(p, len)))
        abort();
    /* A match is one of the three steps of the window. */
    if (rc == 1 && (step + 1 < (uint64_t)now / 30 || step > (uint64_t)now / 30 + 1))
        abort();
}

static void check_recovery(const char *p, size_t len)
{
    unsigned char h1[BW_TOTP_RECOVERY_HASH_BYTES], h2[BW_TOTP_RECOVERY_HASH_BYTES];
    int rc = bw_totp_recovery_hash(KEY, p, len, h1);

    if (rc < 0 || rc > 1)
        abort();
    /* Hashing is a function of the normalised code: the same input hashes the same. */
    if (rc == 1 && (bw_totp_recovery_hash(KEY, p, len, h2) != 1 || memcmp(h1, h2, sizeof(h1)) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *p = (const char *)data + 1;
    size_t len = size - 1;

    switch (data[0] % 3) {
    case 0:
        check_base32(p, len);
        break;
    case 1:
        check_code(p, len);
        break;
    default:
        check_recovery(p, len);
        break;
    }
    return 0;
}
