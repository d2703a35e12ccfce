/* Unit tests for JWT verification: the RFC 7515 A.2/A.3 and RFC 8037 A.4
 * example signatures, tokens signed here with keys made at start-up, every
 * refusal with its reason, JWKS parse errors, and concurrent verification. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/jwt.h"

#define NOW INT64_C(1700000000)
#define ISS "https://idp.example"
#define AUD "bulwark-api"
#define SKEW 30

/* ---- RFC vectors (typed in from the RFCs) ------------------------------ */

/* RFC 7515 A.2: RS256. */
static const char rfc_a2_n[] =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm"
    "4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5r"
    "exMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhy"
    "xXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
static const char rfc_a2_jws[] =
    "eyJhbGciOiJSUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlf"
    "Q"
    ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp"
    "5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb"
    "1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOY"
    "EUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
/* RFC 7515 A.3: ES256. */
static const char rfc_a3_x[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char rfc_a3_y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
static const char rfc_a3_jws[] =
    "eyJhbGciOiJFUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlf"
    "Q"
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
/* RFC 8037 A.4: Ed25519 over "Example of Ed25519 signing". */
static const char rfc_a4_x[] = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
static const char rfc_a4_jws[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
                                 ".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5"
                                 "BhVsPt9g7sVvpAr_MuM0KAg";
/* The RFC 7515 payloads: iss "joe", exp 1300819380. */
#define RFC_EXP INT64_C(1300819380)

/* ---- keys made at start-up --------------------------------------------- */

enum signer { S_ED, S_EC, S_RSA, S_ED2, S_EC_OTHER };

static WC_RNG rng;
static ed25519_key ed, ed2;
static ecc_key ec, ec_other;
static RsaKey rsa;
static char *jwks_json;  /* ed, ec, rsa with kids "ed", "ec", "rsa" */
static char *jwks2_json; /* ed2 alone, no kid: the second issuer */
static bw_jwks *keys;
static bw_jwks *keys2;
static unsigned char ed_pub[32];
static char why[256];

static const char *const auds[] = {"other-api", AUD};
static bw_jwt_policy policy[2];
static bw_jwt_claims claims;

static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
    }
    out[o] = '\0';
}

static char *b64url_str(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n / 3 * 4 + 5);
    assert_non_null(out);
    b64url((const unsigned char *)s, n, out);
    return out;
}

/* Signs input[0..n) with the signer; returns the raw signature length. */
static size_t sign_raw(enum signer s, const char *in, size_t n, unsigned char *sig)
{
    unsigned char hash[WC_SHA256_DIGEST_SIZE];
    assert_int_equal(wc_Sha256Hash((const byte *)in, (word32)n, hash), 0);
    if (s == S_ED || s == S_ED2) {
        word32 len = 64;
        assert_int_equal(
            wc_ed25519_sign_msg((const byte *)in, (word32)n, sig, &len, s == S_ED ? &ed : &ed2), 0);
        return len;
    }
    if (s == S_EC || s == S_EC_OTHER) {
        unsigned char der[80], r[32], sv[32];
        word32 derlen = sizeof der, rlen = sizeof r, slen = sizeof sv;
        assert_int_equal(
            wc_ecc_sign_hash(hash, sizeof hash, der, &derlen, &rng, s == S_EC ? &ec : &ec_other),
            0);
        assert_int_equal(wc_ecc_sig_to_rs(der, derlen, r, &rlen, sv, &slen), 0);
        memset(sig, 0, 64);
        memcpy(sig + 32 - rlen, r, rlen);
        memcpy(sig + 64 - slen, sv, slen);
        return 64;
    }
    static const unsigned char prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                           0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                           0x01, 0x05, 0x00, 0x04, 0x20};
    unsigned char di[sizeof prefix + sizeof hash];
    memcpy(di, prefix, sizeof prefix);
    memcpy(di + sizeof prefix, hash, sizeof hash);
    int len = wc_RsaSSL_Sign(di, sizeof di, sig, 512, &rsa, &rng);
    assert_true(len == 256);
    return (size_t)len;
}

/* header.payload.signature, signed by s; caller frees. */
static char *token(const char *header, const char *payload, enum signer s)
{
    char *h = b64url_str(header), *p = b64url_str(payload);
    size_t n = strlen(h) + 1 + strlen(p);
    char *t = malloc(n + 1 + 700);
    assert_non_null(t);
    snprintf(t, n + 1, "%s.%s", h, p);
    free(h);
    free(p);
    unsigned char sig[512];
    size_t siglen = sign_raw(s, t, n, sig);
    t[n] = '.';
    b64url(sig, siglen, t + n + 1);
    return t;
}

/* A claims set for the first policy, with `extra` members appended. */
static char *claims_json(int64_t exp, const char *extra)
{
    char *buf = malloc(12000);
    assert_non_null(buf);
    snprintf(buf, 12000,
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"user-42\",\"exp\":%lld,"
             "\"iat\":%lld%s%s}",
             (long long)exp, (long long)(NOW - 10), extra[0] ? "," : "", extra);
    return buf;
}

static int verify_str(const char *t, int64_t now)
{
    why[0] = '\0';
    return bw_jwt_verify(policy, 2, t, strlen(t), now, &claims, why, sizeof why);
}

/* The token made of header and payload (signed by s) is refused with `reason`. */
static void refused(const char *header, const char *payload, enum signer s, const char *reason)
{
    char *t = token(header, payload, s);
    if (verify_str(t, NOW) != -1 || strcmp(why, reason) != 0)
        fail_msg("%s %s: want \"%s\", got \"%s\"", header, payload, reason, why);
    assert_int_equal(claims.nroles, 0);
    assert_string_equal(claims.sub, "");
    free(t);
}

static void accepted(const char *header, const char *payload, enum signer s)
{
    char *t = token(header, payload, s);
    if (verify_str(t, NOW) != 0)
        fail_msg("%s %s: refused: %s", header, payload, why);
    free(t);
}

static void refused_raw(const char *t, const char *reason)
{
    if (verify_str(t, NOW) != -1 || strcmp(why, reason) != 0)
        fail_msg("raw token: want \"%s\", got \"%s\"", reason, why);
}

static int setup(void **state)
{
    (void)state;
    if (wc_InitRng(&rng) != 0 || wc_ed25519_init(&ed) != 0 || wc_ed25519_init(&ed2) != 0 ||
        wc_ed25519_make_key(&rng, 32, &ed) != 0 || wc_ed25519_make_key(&rng, 32, &ed2) != 0 ||
        wc_ecc_init(&ec) != 0 || wc_ecc_make_key_ex(&rng, 32, &ec, ECC_SECP256R1) != 0 ||
        wc_ecc_init(&ec_other) != 0 ||
        wc_ecc_make_key_ex(&rng, 32, &ec_other, ECC_SECP256R1) != 0 ||
        wc_InitRsaKey(&rsa, NULL) != 0 || wc_MakeRsaKey(&rsa, 2048, 65537, &rng) != 0)
        return -1;
    unsigned char qx[32], qy[32], ed2_pub[32], n[256], e[4];
    word32 qxl = 32, qyl = 32, edl = 32, ed2l = 32, nl = sizeof n, el = sizeof e;
    if (wc_ed25519_export_public(&ed, ed_pub, &edl) != 0 ||
        wc_ed25519_export_public(&ed2, ed2_pub, &ed2l) != 0 ||
        wc_ecc_export_public_raw(&ec, qx, &qxl, qy, &qyl) != 0 ||
        wc_RsaFlattenPublicKey(&rsa, e, &el, n, &nl) != 0 || qxl != 32 || qyl != 32 || nl != 256)
        return -1;
    char bx[64], by[64], bed[64], bed2[64], bn[400], be[16];
    b64url(qx, 32, bx);
    b64url(qy, 32, by);
    b64url(ed_pub, 32, bed);
    b64url(ed2_pub, 32, bed2);
    b64url(n, nl, bn);
    b64url(e, el, be);
    jwks_json = malloc(2048);
    jwks2_json = malloc(256);
    if (jwks_json == NULL || jwks2_json == NULL)
        return -1;
    snprintf(jwks_json, 2048,
             "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\",\"x\":\"%s\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec\",\"use\":\"sig\",\"alg\":\"ES256\","
             "\"x\":\"%s\",\"y\":\"%s\"},"
             "{\"kty\":\"RSA\",\"kid\":\"rsa\",\"n\":\"%s\",\"e\":\"%s\"}]}",
             bed, bx, by, bn, be);
    snprintf(jwks2_json, 256, "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}]}",
             bed2);
    keys = bw_jwks_parse(jwks_json, strlen(jwks_json), why, sizeof why);
    keys2 = bw_jwks_parse(jwks2_json, strlen(jwks2_json), why, sizeof why);
    if (keys == NULL || keys2 == NULL) {
        fprintf(stderr, "setup: JWKS refused: %s\n", why);
        return -1;
    }
    policy[0] = (bw_jwt_policy){.issuer = ISS,
                                .audiences = auds,
                                .naudiences = 2,
                                .algs = BW_JWT_ALGS_ALL,
                                .max_skew_s = SKEW,
                                .roles_claim = "roles",
                                .jwks = keys};
    policy[1] = (bw_jwt_policy){.issuer = "https://second.example",
                                .audiences = auds,
                                .naudiences = 2,
                                .algs = BW_JWT_EDDSA,
                                .max_skew_s = 0,
                                .roles_claim = "realm_access.roles",
                                .jwks = keys2};
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bw_jwks_free(keys);
    bw_jwks_free(keys2);
    free(jwks_json);
    free(jwks2_json);
    wc_ed25519_free(&ed);
    wc_ed25519_free(&ed2);
    wc_ecc_free(&ec);
    wc_ecc_free(&ec_other);
    wc_FreeRsaKey(&rsa);
    wc_FreeRng(&rng);
    return 0;
}

/* ---- RFC examples ------------------------------------------------------ */

static bw_jwks *jwks_one(const char *key_members)
{
    char doc[1024];
    snprintf(doc, sizeof doc, "{\"keys\":[{%s}]}", key_members);
    bw_jwks *k = bw_jwks_parse(doc, strlen(doc), why, sizeof why);
    if (k == NULL)
        fail_msg("JWKS refused: %s", why);
    return k;
}

/* The RFC token is accepted; with its first byte of `seg` changed it is not. */
static void rfc_vector(bw_jwks *k, const char *jws, unsigned alg, int seg)
{
    unsigned got = 0;
    assert_int_equal(bw_jwt_verify_jws(k, alg, jws, strlen(jws), &got, why, sizeof why), 0);
    assert_int_equal(got, alg);
    /* Another algorithm allowed only: refused before any key is used. */
    assert_int_equal(
        bw_jwt_verify_jws(k, BW_JWT_ALGS_ALL & ~alg, jws, strlen(jws), &got, why, sizeof why), -1);
    assert_string_equal(why, "alg: not allowed for this issuer");
    assert_int_equal(got, 0);
    char *t = strdup(jws);
    assert_non_null(t);
    char *p = t;
    for (int i = 0; i < seg; i++)
        p = strchr(p, '.') + 1;
    p[0] = p[0] == 'e' ? 'f' : (p[0] == 'h' ? 'i' : (p[0] == 'c' ? 'd' : 'E'));
    assert_int_equal(bw_jwt_verify_jws(k, alg, t, strlen(t), NULL, why, sizeof why), -1);
    assert_string_equal(why, "signature: mismatch");
    /* No key set at all. */
    assert_int_equal(bw_jwt_verify_jws(NULL, alg, jws, strlen(jws), NULL, why, sizeof why), -1);
    assert_string_equal(why, "kid: no keys");
    assert_string_equal(bw_jwt_alg_name(0), "?");
    assert_string_equal(bw_jwt_alg_name(BW_JWT_ALGS_ALL), "?");
    free(t);
}

static void test_rfc7515_a2_rs256(void **state)
{
    (void)state;
    char members[700];
    snprintf(members, sizeof members, "\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"", rfc_a2_n);
    bw_jwks *k = jwks_one(members);
    rfc_vector(k, rfc_a2_jws, BW_JWT_RS256, 1);
    rfc_vector(k, rfc_a2_jws, BW_JWT_RS256, 2);
    /* Through the full path: the signature passes, then the claims are
     * checked (the RFC payload has no aud; its exp is in 2011). */
    const char *aud[] = {"x"};
    bw_jwt_policy p = {.issuer = "joe",
                       .audiences = aud,
                       .naudiences = 1,
                       .algs = BW_JWT_RS256,
                       .max_skew_s = 0,
                       .jwks = k};
    assert_int_equal(
        bw_jwt_verify(&p, 1, rfc_a2_jws, strlen(rfc_a2_jws), RFC_EXP, &claims, why, sizeof why),
        -1);
    assert_string_equal(why, "aud: missing");
    assert_int_equal(
        bw_jwt_verify(&p, 1, rfc_a2_jws, strlen(rfc_a2_jws), RFC_EXP + 1, &claims, why, sizeof why),
        -1);
    assert_string_equal(why, "exp: expired");
    bw_jwks_free(k);
}

static void test_rfc7515_a3_es256(void **state)
{
    (void)state;
    char members[300];
    snprintf(members, sizeof members, "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"",
             rfc_a3_x, rfc_a3_y);
    bw_jwks *k = jwks_one(members);
    rfc_vector(k, rfc_a3_jws, BW_JWT_ES256, 1);
    rfc_vector(k, rfc_a3_jws, BW_JWT_ES256, 2);
    /* The RFC 7515 A.3 signature's last character changed within its
     * canonical bits (Q -> A): a different s. */
    char *t = strdup(rfc_a3_jws);
    assert_non_null(t);
    t[strlen(t) - 1] = 'A';
    assert_int_equal(bw_jwt_verify_jws(k, BW_JWT_ES256, t, strlen(t), NULL, why, sizeof why), -1);
    assert_string_equal(why, "signature: mismatch");
    free(t);
    bw_jwks_free(k);
}

static void test_rfc8037_a4_ed25519(void **state)
{
    (void)state;
    char members[200];
    snprintf(members, sizeof members, "\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"", rfc_a4_x);
    bw_jwks *k = jwks_one(members);
    rfc_vector(k, rfc_a4_jws, BW_JWT_EDDSA, 1);
    rfc_vector(k, rfc_a4_jws, BW_JWT_EDDSA, 2);
    /* Its payload is a sentence, not a claims set: bw_jwt_verify refuses it. */
    const char *aud[] = {"x"};
    bw_jwt_policy p = {.issuer = "joe",
                       .audiences = aud,
                       .naudiences = 1,
                       .algs = BW_JWT_EDDSA,
                       .max_skew_s = 0,
                       .jwks = k};
    assert_int_equal(
        bw_jwt_verify(&p, 1, rfc_a4_jws, strlen(rfc_a4_jws), NOW, &claims, why, sizeof why), -1);
    assert_string_equal(why, "payload: not JSON");
    bw_jwks_free(k);
}

/* ---- valid tokens ------------------------------------------------------ */

static void test_valid_each_alg(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        enum signer s;
        unsigned alg;
        const char *kid;
        const char *name;
    } cases[] = {
        {"{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"typ\":\"JWT\"}", S_ED, BW_JWT_EDDSA, "ed", "EdDSA"},
        {"{\"alg\":\"ES256\",\"kid\":\"ec\",\"typ\":\"at+jwt\"}", S_EC, BW_JWT_ES256, "ec",
         "ES256"},
        {"{\"alg\":\"RS256\",\"kid\":\"rsa\"}", S_RSA, BW_JWT_RS256, "rsa", "RS256"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = claims_json(NOW + 300, "\"roles\":[\"editor\",\"viewer\"]");
        char *t = token(cases[i].header, p, cases[i].s);
        if (verify_str(t, NOW) != 0)
            fail_msg("%s: %s", cases[i].header, why);
        assert_string_equal(claims.sub, "user-42");
        assert_string_equal(claims.iss, ISS);
        assert_string_equal(claims.kid, cases[i].kid);
        assert_int_equal(claims.alg, cases[i].alg);
        assert_string_equal(bw_jwt_alg_name(claims.alg), cases[i].name);
        assert_int_equal(claims.policy, 0);
        assert_int_equal(claims.exp, NOW + 300);
        assert_int_equal(claims.iat, NOW - 10);
        assert_int_equal(claims.nroles, 2);
        assert_string_equal(claims.roles[0], "editor");
        assert_string_equal(claims.roles[1], "viewer");
        /* The same token one byte shorter is never accepted. */
        assert_int_equal(bw_jwt_verify(policy, 2, t, strlen(t) - 1, NOW, &claims, why, sizeof why),
                         -1);
        free(t);
        free(p);
    }
}

static void test_second_issuer(void **state)
{
    (void)state;
    const char *p = "{\"iss\":\"https://second.example\",\"aud\":[\"x\",\"other-api\"],"
                    "\"sub\":\"u2\",\"exp\":1700000100,"
                    "\"realm_access\":{\"roles\":[\"admin\"]}}";
    char *t = token("{\"alg\":\"EdDSA\"}", p, S_ED2);
    assert_int_equal(verify_str(t, NOW), 0);
    assert_int_equal(claims.policy, 1);
    assert_string_equal(claims.iss, "https://second.example");
    assert_string_equal(claims.kid, "");
    assert_int_equal(claims.iat, 0);
    assert_int_equal(claims.nroles, 1);
    assert_string_equal(claims.roles[0], "admin");
    free(t);
    /* The first issuer's key cannot speak for the second issuer... */
    refused("{\"alg\":\"EdDSA\"}", p, S_ED, "signature: mismatch");
    refused("{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", p, S_ED, "kid: unknown");
    /* ...nor the second's for the first. */
    char *p1 = claims_json(NOW + 60, "");
    refused("{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", p1, S_ED2, "signature: mismatch");
    free(p1);
    /* Its policy allows EdDSA only and no skew. */
    const char *p2 = "{\"iss\":\"https://second.example\",\"aud\":\"other-api\",\"sub\":\"u2\","
                     "\"exp\":1699999999}";
    refused("{\"alg\":\"EdDSA\"}", p2, S_ED2, "exp: expired");
    refused("{\"alg\":\"ES256\"}", p2, S_EC, "alg: not allowed for this issuer");
}

/* ---- refusals: the token's form ---------------------------------------- */

static void test_form(void **state)
{
    (void)state;
    char *p = claims_json(NOW + 60, "");
    char *t = token("{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", p, S_ED);
    size_t n = strlen(t);
    char *buf = malloc(n + 16);
    assert_non_null(buf);
    const char *dot1 = strchr(t, '.');
    const char *dot2 = strrchr(t, '.');

    refused_raw("", "token: empty");
    assert_int_equal(bw_jwt_verify(policy, 2, NULL, 0, NOW, &claims, why, sizeof why), -1);
    assert_string_equal(why, "token: empty");
    /* Stripped signature, and no signature segment at all. */
    snprintf(buf, n + 16, "%.*s", (int)(dot2 - t + 1), t);
    refused_raw(buf, "signature: empty");
    snprintf(buf, n + 16, "%.*s", (int)(dot2 - t), t);
    refused_raw(buf, "token: not three segments");
    snprintf(buf, n + 16, "%s.%s", t, dot2 + 1);
    refused_raw(buf, "token: not three segments");
    snprintf(buf, n + 16, "%s", dot1);
    refused_raw(buf, "header: empty");
    snprintf(buf, n + 16, "%.*s.%s", (int)(dot1 - t), t, dot2);
    refused_raw(buf, "payload: empty");
    /* Padding, the other alphabet, whitespace: wherever they are. */
    static const char *const bad[] = {"=", "+", "/", " ", "\n", "\t", "%", "\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t at[] = {0, (size_t)(dot1 - t) + 1, (size_t)(dot2 - t) + 1, n};
        for (size_t j = 0; j < 4; j++) {
            snprintf(buf, n + 16, "%.*s%s%s", (int)at[j], t, bad[i], t + at[j]);
            refused_raw(buf, "token: byte outside base64url");
        }
    }
    /* An embedded NUL ends nothing: the length is explicit. */
    memcpy(buf, t, n + 1);
    buf[5] = '\0';
    assert_int_equal(bw_jwt_verify(policy, 2, buf, n, NOW, &claims, why, sizeof why), -1);
    assert_string_equal(why, "token: byte outside base64url");
    /* One character more or less in the header: length 1 mod 4 or bad JSON. */
    snprintf(buf, n + 16, "A%s", t);
    assert_int_equal(verify_str(buf, NOW), -1);
    assert_true(strncmp(why, "header: ", 8) == 0);
    free(buf);
    free(t);
    free(p);
}

/* A segment whose last character carries set bits beyond the data. */
static void test_noncanonical_base64url(void **state)
{
    (void)state;
    /* {"alg":"EdDSA"} is 15 bytes: 20 characters, no partial group. Use a
     * 16-byte header (22 characters: the last holds 2 bits + 4 unused). */
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *h = "{\"alg\":\"EdDSA\"} ";
    char *p = claims_json(NOW + 60, "");
    char *t = token(h, p, S_ED);
    assert_int_equal(verify_str(t, NOW), -1); /* two keys, no kid */
    assert_string_equal(why, "kid: required (several keys)");
    const char *dot1 = strchr(t, '.');
    assert_int_equal(dot1 - t, 22);
    char *u = strdup(t);
    assert_non_null(u);
    /* Same two data bits, the lowest unused bit set. */
    int v = (int)(strchr(alpha, u[21]) - alpha);
    assert_int_equal(v & 0xf, 0);
    u[21] = alpha[v | 1];
    refused_raw(u, "header: bad base64url");
    free(u);
    free(t);
    /* With a kid so the signature is decoded. */
    h = "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}";
    t = token(h, p, S_ED);
    char *last = t + strlen(t) - 1;
    int lv = (int)(strchr(alpha, *last) - alpha);
    assert_int_equal(lv & 0xf, 0);
    *last = alpha[lv | 1];
    refused_raw(t, "signature: bad base64url");
    /* A signature of 1 mod 4 characters. */
    size_t tl = strlen(t);
    memcpy(t + tl, "AAA", 4);
    refused_raw(t, "signature: bad base64url");
    free(t);
    free(p);
}

/* ---- refusals: the header ---------------------------------------------- */

static void test_header(void **state)
{
    (void)state;
    char *p = claims_json(NOW + 60, "");
    refused("{\"alg\":\"none\"}", p, S_ED, "alg: none refused");
    refused("{\"alg\":\"None\",\"kid\":\"ed\"}", p, S_ED, "alg: none refused");
    refused("{\"alg\":\"NONE\",\"kid\":\"ed\"}", p, S_ED, "alg: none refused");
    /* alg none with an empty signature: refused for the signature first. */
    char *t = token("{\"alg\":\"none\"}", p, S_ED);
    *(strrchr(t, '.') + 1) = '\0';
    refused_raw(t, "signature: empty");
    free(t);
    refused("{\"alg\":\"PS256\",\"kid\":\"rsa\"}", p, S_RSA, "alg: not supported");
    refused("{\"alg\":\"ES384\",\"kid\":\"ec\"}", p, S_EC, "alg: not supported");
    refused("{\"alg\":\"RS512\",\"kid\":\"rsa\"}", p, S_RSA, "alg: not supported");
    refused("{\"alg\":\"eddsa\",\"kid\":\"ed\"}", p, S_ED, "alg: not supported");
    refused("{\"alg\":\"\",\"kid\":\"ed\"}", p, S_ED, "alg: not supported");
    refused("{\"kid\":\"ed\"}", p, S_ED, "alg: missing");
    refused("{\"alg\":1,\"kid\":\"ed\"}", p, S_ED, "alg: not a string");
    /* The key exists but is of another type. */
    refused("{\"alg\":\"ES256\",\"kid\":\"ed\"}", p, S_ED, "alg: does not match the key");
    refused("{\"alg\":\"RS256\",\"kid\":\"ec\"}", p, S_EC, "alg: does not match the key");
    refused("{\"alg\":\"EdDSA\",\"kid\":\"rsa\"}", p, S_RSA, "alg: does not match the key");
    /* typ. */
    accepted("{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"typ\":\"jwt\"}", p, S_ED);
    accepted("{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"typ\":\"application/at+JWT\"}", p, S_ED);
    refused("{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"typ\":\"JOSE\"}", p, S_ED, "typ: not JWT");
    refused("{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"typ\":\"JWTX\"}", p, S_ED, "typ: not JWT");
    refused("{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"typ\":7}", p, S_ED, "typ: not JWT");
    /* crit: we understand no extension. */
    refused("{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"crit\":[\"exp\"],\"exp\":1}", p, S_ED,
            "crit: not understood");
    refused("{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"crit\":[]}", p, S_ED, "crit: not understood");
    /* Keys or key locations in the header. */
    char h[200];
    static const char *const emb[] = {"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"};
    for (size_t i = 0; i < sizeof emb / sizeof emb[0]; i++) {
        char reason[64];
        snprintf(h, sizeof h, "{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"%s\":\"x\"}", emb[i]);
        snprintf(reason, sizeof reason, "%s: embedded key refused", emb[i]);
        refused(h, p, S_ED, reason);
    }
    /* kid. */
    refused("{\"alg\":\"EdDSA\",\"kid\":\"nope\"}", p, S_ED, "kid: unknown");
    refused("{\"alg\":\"EdDSA\"}", p, S_ED, "kid: required (several keys)");
    refused("{\"alg\":\"EdDSA\",\"kid\":5}", p, S_ED, "kid: malformed");
    refused("{\"alg\":\"EdDSA\",\"kid\":\"\"}", p, S_ED, "kid: malformed");
    refused("{\"alg\":\"EdDSA\",\"kid\":\"e\\nd\"}", p, S_ED, "kid: malformed");
    /* Not an object, not JSON, duplicates, depth. */
    refused("[\"alg\",\"EdDSA\"]", p, S_ED, "header: not a JSON object");
    refused("{\"alg\":\"EdDSA\",}", p, S_ED, "header: not JSON");
    refused("{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"alg\":\"none\"}", p, S_ED,
            "header: duplicate member");
    refused("{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"z\":[[[[[[[[1]]]]]]]]}", p, S_ED,
            "header: nested too deeply");
    accepted("{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"z\":[[[[[[[1]]]]]]]}", p, S_ED);
    free(p);
}

/* HS256 with the public key as the HMAC secret: the classic confusion. */
static void test_hs256_confusion(void **state)
{
    (void)state;
    char *p = claims_json(NOW + 60, "");
    static const char *const secrets_of[] = {"raw", "jwks"};
    for (size_t k = 0; k < 2; k++) {
        const unsigned char *secret = k == 0 ? ed_pub : (const unsigned char *)jwks_json;
        size_t secretlen = k == 0 ? sizeof ed_pub : strlen(jwks_json);
        for (int hs = 0; hs < 3; hs++) {
            static const char *const hdr[] = {"{\"alg\":\"HS256\",\"kid\":\"ed\"}",
                                              "{\"alg\":\"HS384\",\"kid\":\"ed\"}",
                                              "{\"alg\":\"hs512\"}"};
            char *h64 = b64url_str(hdr[hs]), *p64 = b64url_str(p);
            char t[2048];
            int n = snprintf(t, sizeof t, "%s.%s", h64, p64);
            assert_true(n > 0 && (size_t)n < sizeof t - 100);
            Hmac hmac;
            unsigned char mac[WC_SHA256_DIGEST_SIZE];
            assert_int_equal(wc_HmacInit(&hmac, NULL, INVALID_DEVID), 0);
            assert_int_equal(wc_HmacSetKey(&hmac, WC_SHA256, secret, (word32)secretlen), 0);
            assert_int_equal(wc_HmacUpdate(&hmac, (const byte *)t, (word32)n), 0);
            assert_int_equal(wc_HmacFinal(&hmac, mac), 0);
            wc_HmacFree(&hmac);
            t[n] = '.';
            b64url(mac, sizeof mac, t + n + 1);
            if (verify_str(t, NOW) != -1 ||
                strcmp(why, "alg: HMAC refused (keys are asymmetric)") != 0)
                fail_msg("%s (%s secret): %s", hdr[hs], secrets_of[k], why);
            assert_int_equal(
                bw_jwt_verify_jws(keys, BW_JWT_ALGS_ALL, t, strlen(t), NULL, why, sizeof why), -1);
            free(h64);
            free(p64);
        }
    }
    free(p);
}

static void test_signature(void **state)
{
    (void)state;
    char *p = claims_json(NOW + 60, "");
    static const struct {
        const char *h;
        enum signer s;
    } c[] = {{"{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", S_ED},
             {"{\"alg\":\"ES256\",\"kid\":\"ec\"}", S_EC},
             {"{\"alg\":\"RS256\",\"kid\":\"rsa\"}", S_RSA}};
    for (size_t i = 0; i < 3; i++) {
        char *t = token(c[i].h, p, c[i].s);
        assert_int_equal(verify_str(t, NOW), 0);
        char *dot1 = strchr(t, '.'), *dot2 = strrchr(t, '.');
        /* Tampered payload: "sub" of another user, same length. */
        char *forged = claims_json(NOW + 60, "");
        char *at = strstr(forged, "user-42");
        at[6] = '3';
        char *fp = b64url_str(forged);
        size_t ulen = strlen(t) + strlen(fp) + 2;
        char *u = malloc(ulen);
        assert_non_null(u);
        snprintf(u, ulen, "%.*s.%s%s", (int)(dot1 - t), t, fp, dot2);
        refused_raw(u, "signature: mismatch");
        free(u);
        free(fp);
        free(forged);
        /* A flipped signature byte (first character: no unused bits). */
        dot2[1] = dot2[1] == 'A' ? 'B' : 'A';
        refused_raw(t, "signature: mismatch");
        /* Truncated or extended signature. */
        size_t slen = strlen(dot2 + 1);
        dot2[1 + slen - slen % 4 - 4] = '\0';
        refused_raw(t, "signature: wrong length");
        free(t);
        /* A signature longer than any key's. */
        char *longer = malloc(strlen(p) * 2 + 1400);
        assert_non_null(longer);
        t = token(c[i].h, p, c[i].s);
        size_t tl = strlen(t);
        memcpy(longer, t, tl);
        memset(longer + tl, 'A', 700);
        longer[tl + 700] = '\0';
        refused_raw(longer, "signature: wrong length");
        free(longer);
        free(t);
        /* Signed by another key of the same type. */
        if (c[i].s == S_EC)
            refused(c[i].h, p, S_EC_OTHER, "signature: mismatch");
        if (c[i].s == S_ED)
            refused(c[i].h, p, S_ED2, "signature: mismatch");
    }
    /* An ES256 signature of zeros (r = s = 0). */
    char *t = token("{\"alg\":\"ES256\",\"kid\":\"ec\"}", p, S_EC);
    char *sig = strrchr(t, '.') + 1;
    memset(sig, 'A', 86);
    refused_raw(t, "signature: mismatch");
    free(t);
    /* An RS256 signature of the modulus' length but all zero / all ones. */
    t = token("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", p, S_RSA);
    sig = strrchr(t, '.') + 1;
    size_t slen = strlen(sig);
    memset(sig, 'A', slen);
    refused_raw(t, "signature: mismatch");
    memset(sig, '_', slen - 1);
    sig[slen - 1] = 'w';
    refused_raw(t, "signature: mismatch");
    free(t);
    free(p);
}

/* ---- refusals: the claims ---------------------------------------------- */

static void test_times(void **state)
{
    (void)state;
    const char *h = "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}";
    char *p = claims_json(NOW - SKEW, "");
    char *t = token(h, p, S_ED);
    /* Just inside the skew, then one second past it. */
    assert_int_equal(verify_str(t, NOW), 0);
    assert_int_equal(verify_str(t, NOW + 1), -1);
    assert_string_equal(why, "exp: expired");
    free(t);
    free(p);

    p = claims_json(NOW + 60, "\"nbf\":1700000030");
    accepted(h, p, S_ED);
    free(p);
    p = claims_json(NOW + 60, "\"nbf\":1700000031");
    refused(h, p, S_ED, "nbf: not yet valid");
    free(p);

    char extra[128];
    snprintf(extra, sizeof extra, "\"exp\":%lld", (long long)(NOW + 60));
    static const struct {
        const char *payload;
        const char *reason;
    } cases[] = {
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\"}", "exp: missing"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":\"1700000060\"}",
         "exp: not an integer"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":1700000060.5}",
         "exp: not an integer"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":1e300}",
         "exp: not an integer"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":null}",
         "exp: not an integer"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":9223372036854775807}",
         "exp: out of range"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":253402300800}",
         "exp: out of range"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":-1}", "exp: out of range"},
        /* Beyond int64 and beyond double: the JSON parser itself refuses. */
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":99999999999999999999}",
         "payload: not JSON"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":1e999}",
         "payload: not JSON"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":1700000060,"
         "\"nbf\":-5}",
         "nbf: out of range"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":1700000060,"
         "\"iat\":1700000031}",
         "iat: in the future"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":1700000060,"
         "\"iat\":true}",
         "iat: not an integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        refused(h, cases[i].payload, S_ED, cases[i].reason);
    p = claims_json(NOW + 60, "");
    t = token(h, p, S_ED);
    assert_int_equal(verify_str(t, -1), -1);
    assert_string_equal(why, "now: out of range");
    free(t);
    free(p);
}

static void test_iss_aud_sub(void **state)
{
    (void)state;
    const char *h = "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}";
    static const struct {
        const char *payload;
        const char *reason;
    } cases[] = {
        {"{\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":1700000060}", "iss: missing"},
        {"{\"iss\":[\"" ISS "\"],\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":1700000060}",
         "iss: malformed"},
        {"{\"iss\":\"https://idp.example/\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":1700000060}",
         "iss: not a trusted issuer"},
        {"{\"iss\":\"HTTPS://IDP.EXAMPLE\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":1700000060}",
         "iss: not a trusted issuer"},
        {"{\"iss\":\"https://idp.exampl\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":1700000060}",
         "iss: not a trusted issuer"},
        {"{\"iss\":\"" ISS "\",\"sub\":\"a\",\"exp\":1700000060}", "aud: missing"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"bulwark\",\"sub\":\"a\",\"exp\":1700000060}",
         "aud: not accepted"},
        {"{\"iss\":\"" ISS "\",\"aud\":[\"x\",\"y\"],\"sub\":\"a\",\"exp\":1700000060}",
         "aud: not accepted"},
        {"{\"iss\":\"" ISS "\",\"aud\":[],\"sub\":\"a\",\"exp\":1700000060}", "aud: malformed"},
        {"{\"iss\":\"" ISS "\",\"aud\":[\"" AUD "\",1],\"sub\":\"a\",\"exp\":1700000060}",
         "aud: malformed"},
        {"{\"iss\":\"" ISS "\",\"aud\":{\"" AUD "\":1},\"sub\":\"a\",\"exp\":1700000060}",
         "aud: malformed"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1700000060}", "sub: missing"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":42,\"exp\":1700000060}",
         "sub: malformed"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"\",\"exp\":1700000060}",
         "sub: malformed"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\\u001bb\",\"exp\":1700000060}",
         "sub: malformed"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\\u0000b\",\"exp\":1700000060}",
         "payload: not JSON"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"sub\":\"b\",\"exp\":1700000060}",
         "payload: duplicate member"},
        {"[\"" ISS "\"]", "payload: not a JSON object"},
        {"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\",\"exp\":1700000060,"
         "\"x\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":1}}}}}}}}}",
         "payload: nested too deeply"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        refused(h, cases[i].payload, S_ED, cases[i].reason);
    /* aud as an array holding ours; sub of 255 bytes and UTF-8; 256 bytes. */
    accepted(h,
             "{\"iss\":\"" ISS "\",\"aud\":[\"x\",\"" AUD
             "\"],\"sub\":\"\\u00e9\",\"exp\":1700000060}",
             S_ED);
    assert_string_equal(claims.sub, "\xc3\xa9");
    char sub[300], extra[400];
    memset(sub, 's', 255);
    sub[255] = '\0';
    snprintf(extra, sizeof extra,
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"%s\",\"exp\":1700000060}", sub);
    accepted(h, extra, S_ED);
    assert_int_equal(strlen(claims.sub), 255);
    snprintf(extra, sizeof extra,
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"%ss\",\"exp\":1700000060}", sub);
    refused(h, extra, S_ED, "sub: too long");
}

static void test_roles(void **state)
{
    (void)state;
    const char *h = "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}";
    char *p = claims_json(NOW + 60, "");
    accepted(h, p, S_ED);
    assert_int_equal(claims.nroles, 0); /* absent: no roles */
    free(p);
    p = claims_json(NOW + 60, "\"roles\":[]");
    accepted(h, p, S_ED);
    assert_int_equal(claims.nroles, 0);
    free(p);
    /* "scope": a space-separated string. */
    policy[0].roles_claim = "scope";
    p = claims_json(NOW + 60, "\"scope\":\"notes:read  notes:write \",\"roles\":[\"x\"]");
    accepted(h, p, S_ED);
    assert_int_equal(claims.nroles, 2);
    assert_string_equal(claims.roles[0], "notes:read");
    assert_string_equal(claims.roles[1], "notes:write");
    free(p);
    p = claims_json(NOW + 60, "\"scope\":\"ok \\u0001\"");
    refused(h, p, S_ED, "roles: malformed entry");
    free(p);
    /* A dotted path. */
    policy[0].roles_claim = "realm_access.roles";
    p = claims_json(NOW + 60, "\"realm_access\":{\"roles\":[\"admin\",\"viewer\"]}");
    accepted(h, p, S_ED);
    assert_int_equal(claims.nroles, 2);
    assert_string_equal(claims.roles[1], "viewer");
    free(p);
    p = claims_json(NOW + 60, "\"realm_access\":{}");
    accepted(h, p, S_ED);
    assert_int_equal(claims.nroles, 0);
    free(p);
    p = claims_json(NOW + 60, "\"realm_access\":[\"admin\"]");
    refused(h, p, S_ED, "roles: malformed");
    free(p);
    p = claims_json(NOW + 60, "\"realm_access\":{\"roles\":7}");
    refused(h, p, S_ED, "roles: malformed");
    free(p);
    policy[0].roles_claim = NULL;
    p = claims_json(NOW + 60, "\"roles\":7");
    accepted(h, p, S_ED);
    assert_int_equal(claims.nroles, 0);
    free(p);
    policy[0].roles_claim = "roles";
    static const struct {
        const char *extra;
        const char *reason;
    } bad[] = {
        {"\"roles\":7", "roles: malformed"},
        {"\"roles\":{\"a\":1}", "roles: malformed"},
        {"\"roles\":[\"a\",1]", "roles: malformed entry"},
        {"\"roles\":[\"a\",null]", "roles: malformed entry"},
        {"\"roles\":[\"\"]", "roles: malformed entry"},
        {"\"roles\":[\"a b\"]", "roles: malformed entry"},
        {"\"roles\":[\"\\u00e9\"]", "roles: malformed entry"},
        {"\"roles\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]",
         "roles: malformed entry"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = claims_json(NOW + 60, bad[i].extra);
        refused(h, p, S_ED, bad[i].reason);
        free(p);
    }
    /* 64 bytes: fine. 32 roles: fine; 33: too many. */
    p = claims_json(
        NOW + 60,
        "\"roles\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]");
    accepted(h, p, S_ED);
    assert_int_equal(strlen(claims.roles[0]), 64);
    free(p);
    char list[400] = "\"roles\":[";
    size_t ll = strlen(list);
    for (int i = 0; i < 33; i++) {
        ll += (size_t)snprintf(list + ll, sizeof list - ll, "%s\"r%d\"", i ? "," : "", i);
        if (i == 31) {
            char done[sizeof list + 2];
            snprintf(done, sizeof done, "%s]", list);
            p = claims_json(NOW + 60, done);
            accepted(h, p, S_ED);
            assert_int_equal(claims.nroles, 32);
            assert_string_equal(claims.roles[31], "r31");
            free(p);
        }
    }
    snprintf(list + ll, sizeof list - ll, "]");
    p = claims_json(NOW + 60, list);
    refused(h, p, S_ED, "roles: too many");
    free(p);
}

/* "amr" (RFC 8176) marks a second factor only as an array naming "mfa" or "otp"; any other
 * shape counts as none and never refuses the token. */
static void test_amr(void **state)
{
    static const struct {
        const char *extra;
        bool mfa;
    } cases[] = {
        {"", false},
        {"\"amr\":[\"pwd\",\"mfa\"]", true},
        {"\"amr\":[\"otp\"]", true},
        {"\"amr\":[\"pwd\"]", false},
        {"\"amr\":\"mfa\"", false},
        {"\"amr\":[\"MFA\"]", false},
        {"\"amr\":[1,{\"mfa\":true}]", false},
        {"\"amr\":[]", false},
    };
    const char *h = "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}";

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *p = claims_json(NOW + 60, cases[i].extra);
        accepted(h, p, S_ED);
        if (claims.mfa != cases[i].mfa)
            fail_msg("%s: mfa %d, want %d", cases[i].extra, claims.mfa, cases[i].mfa);
        free(p);
    }
}

static void test_size_cap(void **state)
{
    (void)state;
    const char *h = "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}";
    char *pad = malloc(7000);
    assert_non_null(pad);
    /* Grow a claim until the token passes 8192 bytes: the last one within
     * the cap is accepted, the first one beyond it refused. */
    size_t last_ok = 0;
    for (size_t n = 5900; n < 6200; n++) {
        memcpy(pad, "\"pad\":\"", 7);
        memset(pad + 7, 'x', n);
        memcpy(pad + 7 + n, "\"", 2);
        char *p = claims_json(NOW + 60, pad);
        char *t = token(h, p, S_ED);
        size_t len = strlen(t);
        int rc = verify_str(t, NOW);
        free(t);
        free(p);
        if (len <= BW_JWT_MAX_LEN) {
            assert_int_equal(rc, 0);
            last_ok = len;
        } else {
            assert_int_equal(rc, -1);
            assert_string_equal(why, "token: too long");
            break;
        }
    }
    assert_true(last_ok > BW_JWT_MAX_LEN - 4);
    free(pad);
}

static void test_reasons_are_safe(void **state)
{
    (void)state;
    /* A reason names the check and never repeats the token. */
    char *p = claims_json(NOW + 60, "");
    char *t = token("{\"alg\":\"EdDSA\",\"kid\":\"SECRETKID\"}", p, S_ED);
    refused_raw(t, "kid: unknown");
    assert_null(strstr(why, "SECRETKID"));
    /* A short why is cut, not overrun; NULL why is fine. */
    char tiny[4] = "zzz";
    assert_int_equal(bw_jwt_verify(policy, 2, t, strlen(t), NOW, &claims, tiny, sizeof tiny), -1);
    assert_string_equal(tiny, "kid");
    assert_int_equal(bw_jwt_verify(policy, 2, t, strlen(t), NOW, &claims, NULL, 0), -1);
    assert_int_equal(bw_jwt_verify(policy, 2, t, strlen(t), NOW, NULL, why, sizeof why), -1);
    free(t);
    free(p);
}

/* ---- policies ---------------------------------------------------------- */

static void test_policies_check(void **state)
{
    (void)state;
    char err[160];
    assert_int_equal(bw_jwt_policies_check(policy, 2, err, sizeof err), 0);
    assert_int_equal(bw_jwt_policies_check(policy, 0, err, sizeof err), -1);
    bw_jwt_policy p[2];
    const char *empty_aud[] = {""};
    char long_claim[130];
    memset(long_claim, 'r', 129);
    long_claim[129] = '\0';
    static const struct {
        int field;
        const char *msg;
    } cases[] = {
        {0, "policy 1: issuer must be 1..255 bytes"},
        {1, "policy 1: no audience"},
        {2, "policy 1: audience 0 is empty"},
        {3, "policy 1: algs must be a non-empty set of EdDSA, ES256, RS256"},
        {4, "policy 1: algs must be a non-empty set of EdDSA, ES256, RS256"},
        {5, "policy 1: max_skew_s must be 0..60"},
        {6, "policy 1: max_skew_s must be 0..60"},
        {7, "policy 1: roles_claim must be 1..4 dotted names, at most 128 bytes"},
        {8, "policy 1: roles_claim must be 1..4 dotted names, at most 128 bytes"},
        {9, "policy 1: roles_claim must be 1..4 dotted names, at most 128 bytes"},
        {12, "policy 1: roles_claim must be 1..4 dotted names, at most 128 bytes"},
        {13, "policy 1: roles_claim must be 1..4 dotted names, at most 128 bytes"},
        {10, "policy 1: no key set"},
        {11, "policy 1: same issuer as policy 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        p[0] = policy[0];
        p[1] = policy[1];
        switch (cases[i].field) {
        case 0:
            p[1].issuer = "";
            break;
        case 1:
            p[1].naudiences = 0;
            break;
        case 2:
            p[1].audiences = empty_aud;
            p[1].naudiences = 1;
            break;
        case 3:
            p[1].algs = 0;
            break;
        case 4:
            p[1].algs = 0x8;
            break;
        case 5:
            p[1].max_skew_s = 61;
            break;
        case 6:
            p[1].max_skew_s = -1;
            break;
        case 7:
            p[1].roles_claim = "a..b";
            break;
        case 8:
            p[1].roles_claim = "a.b.c.d.e";
            break;
        case 9:
            p[1].roles_claim = ".a";
            break;
        case 10:
            p[1].jwks = NULL;
            break;
        case 12:
            p[1].roles_claim = "";
            break;
        case 13:
            p[1].roles_claim = long_claim;
            break;
        default:
            p[1].issuer = ISS;
            break;
        }
        err[0] = '\0';
        assert_int_equal(bw_jwt_policies_check(p, 2, err, sizeof err), -1);
        assert_string_equal(err, cases[i].msg);
        /* bw_jwt_verify refuses to run on such a policy. */
        char *c = claims_json(NOW + 60, "");
        char *t = token("{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", c, S_ED);
        assert_int_equal(bw_jwt_verify(p, 2, t, strlen(t), NOW, &claims, why, sizeof why), -1);
        assert_string_equal(why, "policy: invalid");
        free(t);
        free(c);
    }
}

/* ---- JWKS -------------------------------------------------------------- */

static void jwks_refused(const char *doc, const char *msg)
{
    char err[256] = "";
    bw_jwks *k = bw_jwks_parse(doc, strlen(doc), err, sizeof err);
    if (k != NULL || strcmp(err, msg) != 0)
        fail_msg("%s\n  want \"%s\"\n  got \"%s\"", doc, msg, err);
}

#define EDX "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\""
#define ED_KEY "{\"kty\":\"OKP\",\"crv\":\"Ed25519\"," EDX
#define EC_XY                                                                                      \
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_"                \
    "tue659LNpXW6pCyStikYjKIWI5a0\""
#define EC_KEY "{\"kty\":\"EC\",\"crv\":\"P-256\"," EC_XY

static void test_jwks_parse(void **state)
{
    (void)state;
    assert_int_equal(bw_jwks_count(keys), 3);
    assert_int_equal(bw_jwks_count(keys2), 1);
    assert_int_equal(bw_jwks_count(NULL), 0);
    bw_jwks_free(NULL);

    jwks_refused("", "JWKS: line 1: '[' or '{' expected near end of file");
    jwks_refused("[]", "JWKS: \"keys\" must be an array of 1..64 keys");
    jwks_refused("{\"keys\":[]}", "JWKS: \"keys\" must be an array of 1..64 keys");
    jwks_refused("{\"keys\":{}}", "JWKS: \"keys\" must be an array of 1..64 keys");
    jwks_refused("{\"keys\":[" ED_KEY "}],\"keys\":[]}",
                 "JWKS: line 1: duplicate object key near '\"keys\"'");
    jwks_refused("{\"keys\":[1]}", "keys[0]: not an object");
    jwks_refused("{\"keys\":[" ED_KEY ",\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}]}",
                 "keys[0]: private member \"d\" (a JWKS file holds public keys only)");
    jwks_refused("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}",
                 "keys[0]: private member \"k\" (a JWKS file holds public keys only)");
    jwks_refused("{\"keys\":[{\"kty\":\"oct\"}]}",
                 "keys[0]: kty missing or not supported (OKP, EC or RSA)");
    jwks_refused("{\"keys\":[{\"x\":\"AAAA\"}]}",
                 "keys[0]: kty missing or not supported (OKP, EC or RSA)");
    jwks_refused("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"X25519\"," EDX "}]}",
                 "keys[0]: crv not supported (OKP takes Ed25519)");
    jwks_refused("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\"," EC_XY "}]}",
                 "keys[0]: crv not supported (EC takes P-256)");
    jwks_refused("{\"keys\":[" ED_KEY ",\"kid\":\"a\"}," EC_KEY ",\"kid\":\"b\",\"p\":\"AA\"}]}",
                 "keys[1]: private member \"p\" (a JWKS file holds public keys only)");
    jwks_refused("{\"keys\":[" ED_KEY ",\"use\":\"enc\"}]}", "keys[0]: \"use\" must be \"sig\"");
    jwks_refused("{\"keys\":[" ED_KEY ",\"alg\":\"ES256\"}]}",
                 "keys[0]: \"alg\" does not match the key (want \"EdDSA\")");
    jwks_refused("{\"keys\":[" EC_KEY ",\"alg\":\"ES384\"}]}",
                 "keys[0]: \"alg\" does not match the key (want \"ES256\")");
    jwks_refused("{\"keys\":[" ED_KEY ",\"kid\":\"a\"}," ED_KEY ",\"kid\":\"a\"}]}",
                 "keys[1]: duplicate kid (also keys[0])");
    jwks_refused("{\"keys\":[" ED_KEY ",\"kid\":\"a\"}," EC_KEY "}]}",
                 "keys[1]: \"kid\" required when the set has several keys");
    jwks_refused("{\"keys\":[" ED_KEY ",\"kid\":\"\"}]}",
                 "keys[0]: \"kid\" must be 1..128 printable ASCII bytes");
    jwks_refused("{\"keys\":[" ED_KEY ",\"kid\":7}]}",
                 "keys[0]: \"kid\" must be 1..128 printable ASCII bytes");
    /* Lengths and encodings. */
    jwks_refused("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}]}",
                 "keys[0]: \"x\" missing or not a string");
    jwks_refused("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}]}",
                 "keys[0]: \"x\" must be 32 bytes");
    jwks_refused("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                 "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"}]}",
                 "keys[0]: \"x\" is not canonical base64url");
    jwks_refused("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                 "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp\"}]}",
                 "keys[0]: \"x\" is not canonical base64url");
    jwks_refused("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                 "\"x\":\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}",
                 "keys[0]: \"x\" is not canonical base64url");
    /* A point not on the curve: y changed. */
    jwks_refused("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                 "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                 "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1\"}]}",
                 "keys[0]: \"y\" is not canonical base64url");
    jwks_refused("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                 "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                 "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4\"}]}",
                 "keys[0]: (x, y) is not a point on P-256");
    jwks_refused("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\"," EDX "}]}",
                 "keys[0]: \"y\" missing or not a string");

    /* RSA: modulus size, leading zero, exponent. */
    char doc[2048], n[1400];
    unsigned char raw[1000];
    memset(raw, 0xc5, sizeof raw);
    raw[sizeof raw - 1] |= 1;
    b64url(raw, 128, n);
    snprintf(doc, sizeof doc, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}]}", n);
    jwks_refused(doc, "keys[0]: RSA modulus of 1024 bits (want 2048..4096)");
    b64url(raw, 513, n);
    snprintf(doc, sizeof doc, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}]}", n);
    jwks_refused(doc, "keys[0]: RSA modulus of 4104 bits (want 2048..4096)");
    raw[0] = 0;
    b64url(raw, 256, n);
    snprintf(doc, sizeof doc, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}]}", n);
    jwks_refused(doc, "keys[0]: \"n\" is empty or has a leading zero byte");
    raw[0] = 0x01; /* 2041 bits */
    b64url(raw, 256, n);
    snprintf(doc, sizeof doc, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}]}", n);
    jwks_refused(doc, "keys[0]: RSA modulus of 2041 bits (want 2048..4096)");
    raw[0] = 0xc5;
    b64url(raw, 256, n);
    snprintf(doc, sizeof doc, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\"}]}", n);
    jwks_refused(doc, "keys[0]: \"e\" missing or not a string");
    jwks_refused("{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}",
                 "keys[0]: \"n\" missing or not a string");
    static const char *const bad_e[] = {"AQ", "Ag", "AAEAAQ", "AQABAAE", "AQAA", ""};
    for (size_t i = 0; i < sizeof bad_e / sizeof bad_e[0]; i++) {
        snprintf(doc, sizeof doc, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}]}", n,
                 bad_e[i]);
        jwks_refused(doc, "keys[0]: \"e\" must be odd, at least 3, at most 4 bytes");
    }
    snprintf(doc, sizeof doc, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"Aw\"}]}", n);
    bw_jwks *k = bw_jwks_parse(doc, strlen(doc), why, sizeof why);
    assert_non_null(k);
    bw_jwks_free(k);

    /* 64 keys parse; 65 do not. */
    size_t bigcap = 65 * 200 + 100;
    char *big = malloc(bigcap);
    assert_non_null(big);
    size_t o = (size_t)snprintf(big, bigcap, "{\"keys\":[");
    for (int i = 0; i < 65; i++)
        o +=
            (size_t)snprintf(big + o, bigcap - o, "%s" ED_KEY ",\"kid\":\"k%d\"}", i ? "," : "", i);
    snprintf(big + o, bigcap - o, "]}");
    jwks_refused(big, "JWKS: \"keys\" must be an array of 1..64 keys");
    char *cut = strstr(big, ",{\"kty\":\"OKP\",\"crv\":\"Ed25519\"," EDX ",\"kid\":\"k64\"}");
    assert_non_null(cut);
    memcpy(cut, "]}", 3);
    k = bw_jwks_parse(big, strlen(big), why, sizeof why);
    assert_non_null(k);
    assert_int_equal(bw_jwks_count(k), 64);
    bw_jwks_free(k);
    free(big);
    /* A member longer than any key needs. */
    size_t hugecap = 3000;
    char *huge = malloc(hugecap);
    assert_non_null(huge);
    int hl = snprintf(huge, hugecap, "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"");
    memset(huge + hl, 'A', 1372);
    snprintf(huge + hl + 1372, hugecap - (size_t)hl - 1372, "\"}]}");
    jwks_refused(huge, "keys[0]: \"n\" longer than 1024 bytes");
    free(huge);
    /* Over 1 MiB. */
    assert_null(bw_jwks_parse("{}", (1u << 20) + 1, why, sizeof why));
    assert_string_equal(why, "JWKS: missing or larger than 1 MiB");
    /* Unknown members are ignored; a key without kid alone is fine. */
    static const char extra_members[] =
        "{\"keys\":[" ED_KEY ",\"x5c\":[\"MII\"],\"key_ops\":[\"verify\"]}],\"z\":1}";
    k = bw_jwks_parse(extra_members, strlen(extra_members), why, sizeof why);
    assert_non_null(k);
    bw_jwks_free(k);
}

/* ---- threads ----------------------------------------------------------- */

static char *thread_tokens[3];

static void *verify_many(void *arg)
{
    size_t bad = 0;
    for (int i = 0; i < 60; i++) {
        const char *t = thread_tokens[(i + (int)(intptr_t)arg) % 3];
        bw_jwt_claims c;
        char w[64];
        if (bw_jwt_verify(policy, 2, t, strlen(t), NOW, &c, w, sizeof w) != 0 ||
            strcmp(c.sub, "user-42") != 0)
            bad++;
    }
    bw_jwt_thread_cleanup();
    return (void *)bad;
}

static void test_threads(void **state)
{
    (void)state;
    char *p = claims_json(NOW + 60, "");
    thread_tokens[0] = token("{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", p, S_ED);
    thread_tokens[1] = token("{\"alg\":\"ES256\",\"kid\":\"ec\"}", p, S_EC);
    thread_tokens[2] = token("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", p, S_RSA);
    pthread_t th[6];
    for (intptr_t i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&th[i], NULL, verify_many, (void *)i), 0);
    for (int i = 0; i < 6; i++) {
        void *bad;
        assert_int_equal(pthread_join(th[i], &bad), 0);
        assert_int_equal((intptr_t)bad, 0);
    }
    for (int i = 0; i < 3; i++)
        free(thread_tokens[i]);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7515_a2_rs256),
        cmocka_unit_test(test_rfc7515_a3_es256),
        cmocka_unit_test(test_rfc8037_a4_ed25519),
        cmocka_unit_test(test_valid_each_alg),
        cmocka_unit_test(test_second_issuer),
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_noncanonical_base64url),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_hs256_confusion),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_iss_aud_sub),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_amr),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_reasons_are_safe),
        cmocka_unit_test(test_policies_check),
        cmocka_unit_test(test_jwks_parse),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
