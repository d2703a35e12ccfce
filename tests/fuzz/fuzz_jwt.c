/* libFuzzer harness for JWT verification. The first byte picks the mode:
 *   0: the rest is a token, verified against fixed keys (the RFC 7515/8037
 *      example public keys). Nobody here holds a private key, so any
 *      acceptance is a forgery: abort.
 *   1: the rest is a JWKS document.
 *   2: the rest is "header JSON" NUL "payload JSON"; the harness signs it
 *      with a fixed Ed25519 key, so the claim checks behind the signature
 *      are reached. An accepted token must satisfy every documented claim
 *      rule.
 * Every refusal reason is one line of printable ASCII and leaves the claims
 * zeroed. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/ed25519.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/jwt.h"

#define NOW INT64_C(1700000000)
#define SKEW 60

/* Public keys from RFC 7515 A.2 (RSA), A.3 (P-256) and RFC 8037 A.4. */
static const char fixed_jwks[] =
    "{\"keys\":["
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec\","
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
    "{\"kty\":\"RSA\",\"kid\":\"rsa\",\"e\":\"AQAB\",\"n\":"
    "\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm"
    "4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5r"
    "exMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhy"
    "xXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\"}]}";

/* The signing key of mode 2: a fixed Ed25519 seed (not the RFC's). */
static const unsigned char sign_seed[32] = {
    0x42, 0x75, 0x6c, 0x77, 0x61, 0x72, 0x6b, 0x20, 0x6a, 0x77, 0x74, 0x20, 0x66, 0x75, 0x7a, 0x7a,
    0x20, 0x6b, 0x65, 0x79, 0x20, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31};

static bw_jwks *fixed_keys;
static bw_jwks *sign_keys;
static ed25519_key signer;
static const char *const auds[] = {"api", "other"};
static bw_jwt_policy fixed_policy[2];
static bw_jwt_policy sign_policy;

static void b64url(const unsigned char *in, size_t n, char *out, size_t *outlen)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    *outlen = o;
}

static void init(void)
{
    char err[256];
    fixed_keys = bw_jwks_parse(fixed_jwks, sizeof fixed_jwks - 1, err, sizeof err);
    unsigned char pub[32];
    word32 publen = sizeof pub;
    if (fixed_keys == NULL || wc_ed25519_init(&signer) != 0 ||
        wc_ed25519_import_private_only(sign_seed, sizeof sign_seed, &signer) != 0 ||
        wc_ed25519_make_public(&signer, pub, publen) != 0 ||
        wc_ed25519_import_private_key(sign_seed, sizeof sign_seed, pub, publen, &signer) != 0)
        abort();
    char x[64], doc[160];
    size_t xlen = 0;
    b64url(pub, sizeof pub, x, &xlen);
    x[xlen] = '\0';
    int n = snprintf(doc, sizeof doc,
                     "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}]}", x);
    if (n <= 0 || (size_t)n >= sizeof doc)
        abort();
    sign_keys = bw_jwks_parse(doc, (size_t)n, err, sizeof err);
    if (sign_keys == NULL)
        abort();
    fixed_policy[0] = (bw_jwt_policy){.issuer = "joe",
                                      .audiences = auds,
                                      .naudiences = 2,
                                      .algs = BW_JWT_ALGS_ALL,
                                      .max_skew_s = SKEW,
                                      .roles_claim = "roles",
                                      .jwks = fixed_keys};
    fixed_policy[1] = fixed_policy[0];
    fixed_policy[1].issuer = "https://idp.example";
    fixed_policy[1].roles_claim = "realm_access.roles";
    sign_policy = fixed_policy[1];
    sign_policy.jwks = sign_keys;
    sign_policy.roles_claim = "realm_access.roles";
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0)
            return false;
    }
    return true;
}

static void check_reason(const char *why, size_t whylen)
{
    if (memchr(why, '\0', whylen) == NULL || why[0] == '\0' || strchr(why, ':') == NULL)
        abort();
    for (const char *p = why; *p != '\0'; p++) {
        if (*p < 0x20 || *p > 0x7e)
            abort();
    }
}

static bool printable(const char *s, unsigned char lo)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < lo || (unsigned char)*s > 0x7e)
            return false;
    }
    return true;
}

static void check_result(int rc, const bw_jwt_claims *c, const char *why, size_t whylen,
                         const bw_jwt_policy *p)
{
    if (rc != 0) {
        if (rc != -1 || !all_zero(c, sizeof *c))
            abort();
        check_reason(why, whylen);
        return;
    }
    if (c->sub[0] == '\0' || strcmp(c->iss, p->issuer) != 0 || (c->alg & p->algs) == 0 ||
        NOW > c->exp + p->max_skew_s || c->iat > NOW + p->max_skew_s ||
        c->nroles > BW_JWT_MAX_ROLES || !printable(c->kid, 0x20))
        abort();
    for (size_t i = 0; i < c->nroles; i++) {
        if (c->roles[i][0] == '\0' || !printable(c->roles[i], 0x21))
            abort();
    }
}

static void fuzz_token(const uint8_t *data, size_t size)
{
    bw_jwt_claims c;
    char why[128];
    int rc = bw_jwt_verify(fixed_policy, 2, (const char *)data, size, NOW, &c, why, sizeof why);
    if (rc == 0)
        abort(); /* a forgery */
    check_result(rc, &c, why, sizeof why, &fixed_policy[0]);
    unsigned alg = 0;
    rc = bw_jwt_verify_jws(fixed_keys, BW_JWT_ALGS_ALL, (const char *)data, size, &alg, why,
                           sizeof why);
    if (rc == 0)
        abort();
    check_reason(why, sizeof why);
}

static void fuzz_jwks(const uint8_t *data, size_t size)
{
    char err[256];
    bw_jwks *k = bw_jwks_parse((const char *)data, size, err, sizeof err);
    if (k == NULL) {
        if (memchr(err, '\0', sizeof err) == NULL || err[0] == '\0')
            abort();
        return;
    }
    size_t n = bw_jwks_count(k);
    if (n == 0 || n > BW_JWKS_MAX_KEYS)
        abort();
    bw_jwks_free(k);
}

static void fuzz_signed(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    if (nul == NULL || size > BW_JWT_MAX_LEN)
        return;
    size_t hlen = (size_t)(nul - data), plen = size - hlen - 1;
    char *t = malloc(BW_JWT_MAX_LEN * 2);
    if (t == NULL)
        abort();
    size_t a = 0, b = 0;
    b64url(data, hlen, t, &a);
    t[a] = '.';
    b64url(nul + 1, plen, t + a + 1, &b);
    size_t n = a + 1 + b;
    unsigned char sig[64];
    word32 siglen = sizeof sig;
    if (wc_ed25519_sign_msg((const byte *)t, (word32)n, sig, &siglen, &signer) != 0)
        abort();
    t[n] = '.';
    size_t s = 0;
    b64url(sig, siglen, t + n + 1, &s);
    n += 1 + s;
    bw_jwt_claims c;
    char why[128];
    int rc = bw_jwt_verify(&sign_policy, 1, t, n, NOW, &c, why, sizeof why);
    check_result(rc, &c, why, sizeof why, &sign_policy);
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        init();
        ready = true;
    }
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        fuzz_token(data + 1, size - 1);
        break;
    case 1:
        fuzz_jwks(data + 1, size - 1);
        break;
    default:
        fuzz_signed(data + 1, size - 1);
        break;
    }
    return 0;
}
