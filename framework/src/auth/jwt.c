/* JWT verification: strict compact JWS, JWKS public keys, claim checks.
 * The order of the checks is fixed and documented in docs/jwt.md. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bulwark/err.h"
#include "bulwark/jwt.h"

#define JWKS_MAX_DOC (1u << 20)
#define ED25519_KEY_LEN 32
#define ED25519_SIG_LEN 64
#define P256_COORD_LEN 32
#define ES256_SIG_LEN 64
#define RSA_MIN_BITS 2048
/* The largest modulus wolfCrypt can verify in this build (RSA_MAX_SIZE is
 * 4096 on Debian 12), and never above 8192. */
#if RSA_MAX_SIZE < 8192
#define RSA_MAX_BITS RSA_MAX_SIZE
#else
#define RSA_MAX_BITS 8192
#endif
#define RSA_MAX_BYTES (RSA_MAX_BITS / 8)
#define RSA_MAX_E_BYTES 4
/* Largest decoded JWK member: an 8192-bit modulus. */
#define JWK_MEMBER_MAX 1024
/* NumericDate bounds: 0 .. 9999-12-31T23:59:59Z, so arithmetic with the
 * skew can never overflow. */
#define JWT_MAX_TIME INT64_C(253402300799)
#define ROLES_CLAIM_MAX_PARTS 4
#define ROLES_CLAIM_MAX_LEN 128

/* DigestInfo prefix for SHA-256 (RFC 8017 section 9.2, note 1). */
static const unsigned char sha256_digest_info[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                                   0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                                   0x01, 0x05, 0x00, 0x04, 0x20};

typedef struct jwk {
    unsigned alg; /* the one algorithm this key verifies, by its kty */
    size_t kidlen;
    bool has_kid;
    char kid[BW_JWT_MAX_KID + 1];
    /* OKP: a = x. EC: a = x, b = y. RSA: a = n, b = e. */
    size_t alen;
    size_t blen;
    unsigned char a[RSA_MAX_BYTES];
    unsigned char b[P256_COORD_LEN];
} jwk;

struct bw_jwks {
    size_t n;
    jwk keys[];
};

/* A compact JWS split into its segments (pointers into the caller's token). */
typedef struct jws {
    const char *h;
    size_t hlen;
    const char *p;
    size_t plen;
    const char *s;
    size_t slen;
    json_t *header;
    unsigned alg;
    const char *kid; /* in header; NULL when absent */
    size_t kidlen;
} jws;

static int refuse(char *why, size_t whylen, const char *reason)
{
    bw_err_set(why, whylen, "%s", reason);
    return -1;
}

const char *bw_jwt_alg_name(unsigned alg)
{
    switch (alg) {
    case BW_JWT_EDDSA:
        return "EdDSA";
    case BW_JWT_ES256:
        return "ES256";
    case BW_JWT_RS256:
        return "RS256";
    default:
        return "?";
    }
}

/* ---- base64url (RFC 4648 section 5), strict ---------------------------- */

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decodes in[0..inlen) into out (capacity cap). No padding, no other
 * alphabet, and the unused low bits of the last character must be zero, so
 * every byte string has exactly one accepted encoding. */
static int b64url_decode(const char *in, size_t inlen, unsigned char *out, size_t cap,
                         size_t *outlen)
{
    size_t rem = inlen % 4;
    size_t need = inlen / 4 * 3 + (rem == 0 ? 0 : rem - 1);
    if (rem == 1 || need > cap)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    size_t nacc = 0;
    for (size_t i = 0; i < inlen; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        if (++nacc == 4) {
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
            nacc = 0;
        }
    }
    if (nacc == 2) {
        if (acc & 0xfu)
            return -1;
        out[o++] = (unsigned char)(acc >> 4);
    } else if (nacc == 3) {
        if (acc & 0x3u)
            return -1;
        out[o++] = (unsigned char)(acc >> 10);
        out[o++] = (unsigned char)(acc >> 2);
    }
    *outlen = o;
    return 0;
}

/* ---- JSON helpers ------------------------------------------------------ */

static bool json_depth_ok(const json_t *v, int depth)
{
    if (!json_is_object(v) && !json_is_array(v))
        return true;
    if (depth > BW_JWT_MAX_DEPTH)
        return false;
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
        {
            if (!json_depth_ok(e, depth + 1))
                return false;
        }
        return true;
    }
    const char *k;
    const json_t *e;
    json_object_foreach((json_t *)v, k, e)
    {
        if (!json_depth_ok(e, depth + 1))
            return false;
    }
    return true;
}

/* A JSON string's value equals lit exactly. */
static bool json_str_is(const json_t *v, const char *lit)
{
    size_t n = strlen(lit);
    return json_is_string(v) && json_string_length(v) == n &&
           memcmp(json_string_value(v), lit, n) == 0;
}

static bool printable(const char *s, size_t n, unsigned char lo)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < lo || c > 0x7e)
            return false;
    }
    return true;
}

/* Decodes a base64url segment and parses it as a JSON object. */
static json_t *segment_json(const char *seg, size_t seglen, const char *what, char *why,
                            size_t whylen)
{
    unsigned char *buf = malloc(seglen / 4 * 3 + 3);
    size_t n = 0;
    if (buf == NULL) {
        bw_err_set(why, whylen, "%s: out of memory", what);
        return NULL;
    }
    if (b64url_decode(seg, seglen, buf, seglen / 4 * 3 + 3, &n) != 0) {
        free(buf);
        bw_err_set(why, whylen, "%s: bad base64url", what);
        return NULL;
    }
    json_error_t e;
    json_t *v = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &e);
    free(buf);
    if (v == NULL) {
        bw_err_set(why, whylen, "%s: %s", what,
                   json_error_code(&e) == json_error_duplicate_key ? "duplicate member"
                                                                   : "not JSON");
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        bw_err_set(why, whylen, "%s: not a JSON object", what);
        return NULL;
    }
    if (!json_depth_ok(v, 1)) {
        json_decref(v);
        bw_err_set(why, whylen, "%s: nested too deeply", what);
        return NULL;
    }
    return v;
}

/* ---- JWKS -------------------------------------------------------------- */

/* Decodes the base64url string member `name` of key object o into out
 * (capacity cap), which must come out exactly `want` bytes long (0: any
 * length up to cap). */
static int jwk_member(const json_t *o, const char *name, size_t idx, unsigned char *out, size_t cap,
                      size_t want, size_t *outlen, char *err, size_t errlen)
{
    unsigned char buf[JWK_MEMBER_MAX];
    size_t n = 0;
    const json_t *v = json_object_get(o, name);
    if (!json_is_string(v)) {
        bw_err_set(err, errlen, "keys[%zu]: \"%s\" missing or not a string", idx, name);
        return -1;
    }
    if (json_string_length(v) > (sizeof buf / 3) * 4) {
        bw_err_set(err, errlen, "keys[%zu]: \"%s\" longer than %zu bytes", idx, name, sizeof buf);
        return -1;
    }
    if (b64url_decode(json_string_value(v), json_string_length(v), buf, sizeof buf, &n) != 0) {
        bw_err_set(err, errlen, "keys[%zu]: \"%s\" is not canonical base64url", idx, name);
        return -1;
    }
    if (want != 0 && n != want) {
        bw_err_set(err, errlen, "keys[%zu]: \"%s\" must be %zu bytes", idx, name, want);
        return -1;
    }
    if (n > cap) {
        bw_err_set(err, errlen, "keys[%zu]: \"%s\" longer than %zu bytes", idx, name, cap);
        return -1;
    }
    memcpy(out, buf, n);
    *outlen = n;
    return 0;
}

static int jwk_okp(const json_t *o, size_t idx, jwk *k, char *err, size_t errlen)
{
    if (!json_str_is(json_object_get(o, "crv"), "Ed25519")) {
        bw_err_set(err, errlen, "keys[%zu]: crv not supported (OKP takes Ed25519)", idx);
        return -1;
    }
    if (jwk_member(o, "x", idx, k->a, sizeof k->a, ED25519_KEY_LEN, &k->alen, err, errlen) != 0)
        return -1;
    ed25519_key key;
    int ok = wc_ed25519_init(&key) == 0;
    /* wc_ed25519_check_key needs the private half; the import is the check
     * available for a public key alone. */
    ok = ok && wc_ed25519_import_public(k->a, (word32)k->alen, &key) == 0;
    wc_ed25519_free(&key);
    if (!ok) {
        bw_err_set(err, errlen, "keys[%zu]: \"x\" is not an Ed25519 public key", idx);
        return -1;
    }
    k->alg = BW_JWT_EDDSA;
    return 0;
}

static int jwk_ec(const json_t *o, size_t idx, jwk *k, char *err, size_t errlen)
{
    if (!json_str_is(json_object_get(o, "crv"), "P-256")) {
        bw_err_set(err, errlen, "keys[%zu]: crv not supported (EC takes P-256)", idx);
        return -1;
    }
    if (jwk_member(o, "x", idx, k->a, sizeof k->a, P256_COORD_LEN, &k->alen, err, errlen) != 0 ||
        jwk_member(o, "y", idx, k->b, sizeof k->b, P256_COORD_LEN, &k->blen, err, errlen) != 0)
        return -1;
    ecc_key *key = malloc(sizeof *key);
    if (key == NULL) {
        bw_err_set(err, errlen, "keys[%zu]: out of memory", idx);
        return -1;
    }
    int ok = wc_ecc_init(key) == 0;
    ok = ok && wc_ecc_import_unsigned(key, k->a, k->b, NULL, ECC_SECP256R1) == 0 &&
         wc_ecc_check_key(key) == 0;
    wc_ecc_free(key);
    free(key);
    if (!ok) {
        bw_err_set(err, errlen, "keys[%zu]: (x, y) is not a point on P-256", idx);
        return -1;
    }
    k->alg = BW_JWT_ES256;
    return 0;
}

static int jwk_rsa(const json_t *o, size_t idx, jwk *k, char *err, size_t errlen)
{
    unsigned char n[JWK_MEMBER_MAX];
    size_t nlen = 0;
    if (jwk_member(o, "n", idx, n, sizeof n, 0, &nlen, err, errlen) != 0)
        return -1;
    if (nlen == 0 || n[0] == 0) {
        bw_err_set(err, errlen, "keys[%zu]: \"n\" is empty or has a leading zero byte", idx);
        return -1;
    }
    size_t bits = (nlen - 1) * 8;
    for (unsigned top = n[0]; top != 0; top >>= 1)
        bits++;
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
        bw_err_set(err, errlen, "keys[%zu]: RSA modulus of %zu bits (want %d..%d)", idx, bits,
                   RSA_MIN_BITS, RSA_MAX_BITS);
        return -1;
    }
    memcpy(k->a, n, nlen);
    k->alen = nlen;
    unsigned char e[JWK_MEMBER_MAX];
    size_t elen = 0;
    if (jwk_member(o, "e", idx, e, sizeof e, 0, &elen, err, errlen) != 0)
        return -1;
    if (elen == 0 || elen > RSA_MAX_E_BYTES || e[0] == 0 || (e[elen - 1] & 1u) == 0 ||
        (elen == 1 && e[0] < 3)) {
        bw_err_set(err, errlen, "keys[%zu]: \"e\" must be odd, at least 3, at most %d bytes", idx,
                   RSA_MAX_E_BYTES);
        return -1;
    }
    memcpy(k->b, e, elen);
    k->blen = elen;
    RsaKey *key = malloc(sizeof *key);
    if (key == NULL) {
        bw_err_set(err, errlen, "keys[%zu]: out of memory", idx);
        return -1;
    }
    int ok = wc_InitRsaKey(key, NULL) == 0;
    ok = ok && wc_RsaPublicKeyDecodeRaw(k->a, (word32)k->alen, k->b, (word32)k->blen, key) == 0;
    wc_FreeRsaKey(key);
    free(key);
    if (!ok) {
        bw_err_set(err, errlen, "keys[%zu]: RSA key refused by wolfCrypt", idx);
        return -1;
    }
    k->alg = BW_JWT_RS256;
    return 0;
}

static int jwk_parse(const json_t *o, size_t idx, jwk *k, char *err, size_t errlen)
{
    static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    if (!json_is_object(o)) {
        bw_err_set(err, errlen, "keys[%zu]: not an object", idx);
        return -1;
    }
    for (size_t i = 0; i < sizeof private_members / sizeof private_members[0]; i++) {
        if (json_object_get(o, private_members[i]) != NULL) {
            bw_err_set(err, errlen,
                       "keys[%zu]: private member \"%s\" (a JWKS file holds public keys only)", idx,
                       private_members[i]);
            return -1;
        }
    }
    const json_t *use = json_object_get(o, "use");
    if (use != NULL && !json_str_is(use, "sig")) {
        bw_err_set(err, errlen, "keys[%zu]: \"use\" must be \"sig\"", idx);
        return -1;
    }
    const json_t *kid = json_object_get(o, "kid");
    if (kid != NULL) {
        size_t n = json_is_string(kid) ? json_string_length(kid) : 0;
        if (n == 0 || n > BW_JWT_MAX_KID || !printable(json_string_value(kid), n, 0x20)) {
            bw_err_set(err, errlen, "keys[%zu]: \"kid\" must be 1..%d printable ASCII bytes", idx,
                       BW_JWT_MAX_KID);
            return -1;
        }
        memcpy(k->kid, json_string_value(kid), n);
        k->kid[n] = '\0';
        k->kidlen = n;
        k->has_kid = true;
    }
    const json_t *kty = json_object_get(o, "kty");
    int rc;
    if (json_str_is(kty, "OKP"))
        rc = jwk_okp(o, idx, k, err, errlen);
    else if (json_str_is(kty, "EC"))
        rc = jwk_ec(o, idx, k, err, errlen);
    else if (json_str_is(kty, "RSA"))
        rc = jwk_rsa(o, idx, k, err, errlen);
    else {
        bw_err_set(err, errlen, "keys[%zu]: kty missing or not supported (OKP, EC or RSA)", idx);
        return -1;
    }
    if (rc != 0)
        return -1;
    const json_t *alg = json_object_get(o, "alg");
    if (alg != NULL && !json_str_is(alg, bw_jwt_alg_name(k->alg))) {
        bw_err_set(err, errlen, "keys[%zu]: \"alg\" does not match the key (want \"%s\")", idx,
                   bw_jwt_alg_name(k->alg));
        return -1;
    }
    return 0;
}

bw_jwks *bw_jwks_parse(const char *json, size_t len, char *err, size_t errlen)
{
    if (json == NULL || len > JWKS_MAX_DOC) {
        bw_err_set(err, errlen, "JWKS: missing or larger than 1 MiB");
        return NULL;
    }
    json_error_t e;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
    if (doc == NULL) {
        bw_err_set(err, errlen, "JWKS: line %d: %s", e.line, e.text);
        return NULL;
    }
    bw_jwks *ks = NULL;
    const json_t *keys = json_object_get(doc, "keys");
    size_t n = json_array_size(keys);
    if (!json_is_array(keys) || n == 0 || n > BW_JWKS_MAX_KEYS) {
        bw_err_set(err, errlen, "JWKS: \"keys\" must be an array of 1..%d keys", BW_JWKS_MAX_KEYS);
        goto fail;
    }
    ks = calloc(1, sizeof *ks + n * sizeof ks->keys[0]);
    if (ks == NULL) {
        bw_err_set(err, errlen, "JWKS: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        jwk *k = &ks->keys[i];
        if (jwk_parse(json_array_get(keys, i), i, k, err, errlen) != 0)
            goto fail;
        if (n > 1 && !k->has_kid) {
            bw_err_set(err, errlen, "keys[%zu]: \"kid\" required when the set has several keys", i);
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            if (k->has_kid && ks->keys[j].kidlen == k->kidlen &&
                memcmp(ks->keys[j].kid, k->kid, k->kidlen) == 0) {
                bw_err_set(err, errlen, "keys[%zu]: duplicate kid (also keys[%zu])", i, j);
                goto fail;
            }
        }
        ks->n = i + 1;
    }
    json_decref(doc);
    return ks;
fail:
    free(ks);
    json_decref(doc);
    return NULL;
}

void bw_jwks_free(bw_jwks *keys)
{
    free(keys);
}

size_t bw_jwks_count(const bw_jwks *keys)
{
    return keys == NULL ? 0 : keys->n;
}

/* ---- policies ---------------------------------------------------------- */

static int roles_claim_ok(const char *c)
{
    size_t len = strnlen(c, ROLES_CLAIM_MAX_LEN + 1);
    if (len == 0 || len > ROLES_CLAIM_MAX_LEN)
        return 0;
    size_t parts = 1;
    for (size_t i = 0; i < len; i++) {
        if (c[i] == '.') {
            if (i == 0 || i + 1 == len || c[i + 1] == '.')
                return 0;
            parts++;
        }
    }
    return parts <= ROLES_CLAIM_MAX_PARTS;
}

static int policy_check(const bw_jwt_policy *p, size_t i, char *err, size_t errlen)
{
    size_t isslen = p->issuer == NULL ? 0 : strnlen(p->issuer, BW_JWT_MAX_ISS + 1);
    if (isslen == 0 || isslen > BW_JWT_MAX_ISS) {
        bw_err_set(err, errlen, "policy %zu: issuer must be 1..%d bytes", i, BW_JWT_MAX_ISS);
        return -1;
    }
    if (p->naudiences == 0 || p->audiences == NULL) {
        bw_err_set(err, errlen, "policy %zu: no audience", i);
        return -1;
    }
    for (size_t a = 0; a < p->naudiences; a++) {
        if (p->audiences[a] == NULL || p->audiences[a][0] == '\0') {
            bw_err_set(err, errlen, "policy %zu: audience %zu is empty", i, a);
            return -1;
        }
    }
    if (p->algs == 0 || (p->algs & ~BW_JWT_ALGS_ALL) != 0) {
        bw_err_set(err, errlen, "policy %zu: algs must be a non-empty set of EdDSA, ES256, RS256",
                   i);
        return -1;
    }
    if (p->max_skew_s < 0 || p->max_skew_s > BW_JWT_MAX_SKEW_S) {
        bw_err_set(err, errlen, "policy %zu: max_skew_s must be 0..%d", i, BW_JWT_MAX_SKEW_S);
        return -1;
    }
    if (p->roles_claim != NULL && !roles_claim_ok(p->roles_claim)) {
        bw_err_set(err, errlen,
                   "policy %zu: roles_claim must be 1..%d dotted names, at most %d bytes", i,
                   ROLES_CLAIM_MAX_PARTS, ROLES_CLAIM_MAX_LEN);
        return -1;
    }
    if (p->jwks == NULL) {
        bw_err_set(err, errlen, "policy %zu: no key set", i);
        return -1;
    }
    return 0;
}

int bw_jwt_policies_check(const bw_jwt_policy *policies, size_t npolicies, char *err, size_t errlen)
{
    if (policies == NULL || npolicies == 0) {
        bw_err_set(err, errlen, "no policy");
        return -1;
    }
    for (size_t i = 0; i < npolicies; i++) {
        if (policy_check(&policies[i], i, err, errlen) != 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(policies[i].issuer, policies[j].issuer) == 0) {
                bw_err_set(err, errlen, "policy %zu: same issuer as policy %zu", i, j);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- the JWS ----------------------------------------------------------- */

/* Splits token into three non-empty base64url segments. */
static int jws_split(const char *token, size_t len, jws *j, char *why, size_t whylen)
{
    if (token == NULL || len == 0)
        return refuse(why, whylen, "token: empty");
    if (len > BW_JWT_MAX_LEN)
        return refuse(why, whylen, "token: too long");
    size_t dots[2];
    size_t ndots = 0;
    for (size_t i = 0; i < len; i++) {
        if (token[i] == '.') {
            if (ndots == 2)
                return refuse(why, whylen, "token: not three segments");
            dots[ndots++] = i;
        } else if (b64url_value((unsigned char)token[i]) < 0) {
            return refuse(why, whylen, "token: byte outside base64url");
        }
    }
    if (ndots != 2)
        return refuse(why, whylen, "token: not three segments");
    j->h = token;
    j->hlen = dots[0];
    j->p = token + dots[0] + 1;
    j->plen = dots[1] - dots[0] - 1;
    j->s = token + dots[1] + 1;
    j->slen = len - dots[1] - 1;
    if (j->hlen == 0)
        return refuse(why, whylen, "header: empty");
    if (j->plen == 0)
        return refuse(why, whylen, "payload: empty");
    if (j->slen == 0)
        return refuse(why, whylen, "signature: empty");
    return 0;
}

static bool typ_ok(const json_t *typ)
{
    static const char *const accepted[] = {"JWT", "at+jwt", "application/jwt",
                                           "application/at+jwt"};
    if (!json_is_string(typ))
        return false;
    const char *s = json_string_value(typ);
    size_t n = json_string_length(typ);
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        if (strlen(accepted[i]) == n && strncasecmp(s, accepted[i], n) == 0)
            return true;
    }
    return false;
}

/* Header checks: typ, crit, embedded keys, alg, kid. */
static int header_check(jws *j, char *why, size_t whylen)
{
    static const char *const embedded[] = {"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"};
    const json_t *h = j->header;
    const json_t *typ = json_object_get(h, "typ");
    if (typ != NULL && !typ_ok(typ))
        return refuse(why, whylen, "typ: not JWT");
    if (json_object_get(h, "crit") != NULL)
        return refuse(why, whylen, "crit: not understood");
    for (size_t i = 0; i < sizeof embedded / sizeof embedded[0]; i++) {
        if (json_object_get(h, embedded[i]) != NULL) {
            bw_err_set(why, whylen, "%s: embedded key refused", embedded[i]);
            return -1;
        }
    }
    const json_t *alg = json_object_get(h, "alg");
    if (alg == NULL)
        return refuse(why, whylen, "alg: missing");
    if (!json_is_string(alg))
        return refuse(why, whylen, "alg: not a string");
    const char *a = json_string_value(alg);
    size_t alen = json_string_length(alg);
    if (json_str_is(alg, "EdDSA"))
        j->alg = BW_JWT_EDDSA;
    else if (json_str_is(alg, "ES256"))
        j->alg = BW_JWT_ES256;
    else if (json_str_is(alg, "RS256"))
        j->alg = BW_JWT_RS256;
    else if (alen == 4 && strncasecmp(a, "none", 4) == 0)
        return refuse(why, whylen, "alg: none refused");
    else if (alen >= 2 && strncasecmp(a, "HS", 2) == 0)
        return refuse(why, whylen, "alg: HMAC refused (keys are asymmetric)");
    else
        return refuse(why, whylen, "alg: not supported");
    const json_t *kid = json_object_get(h, "kid");
    if (kid != NULL) {
        size_t n = json_is_string(kid) ? json_string_length(kid) : 0;
        if (n == 0 || n > BW_JWT_MAX_KID || !printable(json_string_value(kid), n, 0x20))
            return refuse(why, whylen, "kid: malformed");
        j->kid = json_string_value(kid);
        j->kidlen = n;
    }
    return 0;
}

static int sig_eddsa(const jwk *k, const unsigned char *msg, size_t msglen,
                     const unsigned char *sig)
{
    ed25519_key key;
    int res = 0;
    if (wc_ed25519_init(&key) != 0)
        return -1;
    int rc = wc_ed25519_import_public(k->a, (word32)k->alen, &key);
    if (rc == 0)
        rc = wc_ed25519_verify_msg(sig, ED25519_SIG_LEN, msg, (word32)msglen, &res, &key);
    wc_ed25519_free(&key);
    return rc == 0 && res == 1 ? 0 : -1;
}

static int sig_es256(const jwk *k, const unsigned char *msg, size_t msglen,
                     const unsigned char *sig)
{
    unsigned char hash[WC_SHA256_DIGEST_SIZE];
    unsigned char der[ES256_SIG_LEN + 16];
    word32 derlen = sizeof der;
    int res = 0;
    if (wc_Sha256Hash(msg, (word32)msglen, hash) != 0)
        return -1;
    /* JWS carries r || s (RFC 7518 section 3.4); wolfCrypt verifies DER. */
    if (wc_ecc_rs_raw_to_sig(sig, P256_COORD_LEN, sig + P256_COORD_LEN, P256_COORD_LEN, der,
                             &derlen) != 0)
        return -1;
    ecc_key *key = malloc(sizeof *key);
    if (key == NULL)
        return -1;
    int rc = wc_ecc_init(key);
    if (rc == 0) {
        rc = wc_ecc_import_unsigned(key, k->a, k->b, NULL, ECC_SECP256R1);
        if (rc == 0)
            rc = wc_ecc_verify_hash(der, derlen, hash, sizeof hash, &res, key);
        wc_ecc_free(key);
    }
    free(key);
    return rc == 0 && res == 1 ? 0 : -1;
}

static int sig_rs256(const jwk *k, const unsigned char *msg, size_t msglen,
                     const unsigned char *sig, size_t siglen)
{
    unsigned char want[sizeof sha256_digest_info + WC_SHA256_DIGEST_SIZE];
    unsigned char got[RSA_MAX_BYTES] = {0};
    memcpy(want, sha256_digest_info, sizeof sha256_digest_info);
    if (wc_Sha256Hash(msg, (word32)msglen, want + sizeof sha256_digest_info) != 0)
        return -1;
    RsaKey *key = malloc(sizeof *key);
    if (key == NULL)
        return -1;
    int rc = wc_InitRsaKey(key, NULL);
    if (rc == 0) {
        rc = wc_RsaPublicKeyDecodeRaw(k->a, (word32)k->alen, k->b, (word32)k->blen, key);
        /* PKCS#1 v1.5 unpadding; the DigestInfo is compared whole below. */
        if (rc == 0)
            rc = wc_RsaSSL_Verify(sig, (word32)siglen, got, sizeof got, key);
        wc_FreeRsaKey(key);
    }
    free(key);
    return rc == (int)sizeof want && memcmp(got, want, sizeof want) == 0 ? 0 : -1;
}

/* Picks the key, matches it to alg, and verifies the signature: the part
 * shared by bw_jwt_verify and bw_jwt_verify_jws. */
static int jws_verify_sig(const bw_jwks *keys, unsigned algs, const jws *j, char *why,
                          size_t whylen)
{
    if ((j->alg & algs) == 0)
        return refuse(why, whylen, "alg: not allowed for this issuer");
    if (keys == NULL || keys->n == 0)
        return refuse(why, whylen, "kid: no keys");
    const jwk *k = NULL;
    if (j->kid != NULL) {
        for (size_t i = 0; i < keys->n && k == NULL; i++) {
            const jwk *c = &keys->keys[i];
            if (c->has_kid && c->kidlen == j->kidlen && memcmp(c->kid, j->kid, j->kidlen) == 0)
                k = c;
        }
        if (k == NULL)
            return refuse(why, whylen, "kid: unknown");
    } else if (keys->n == 1) {
        k = &keys->keys[0];
    } else {
        return refuse(why, whylen, "kid: required (several keys)");
    }
    if (k->alg != j->alg)
        return refuse(why, whylen, "alg: does not match the key");

    unsigned char sig[RSA_MAX_BYTES];
    size_t siglen = 0;
    if (j->slen > (sizeof sig * 4 + 2) / 3)
        return refuse(why, whylen, "signature: wrong length");
    if (b64url_decode(j->s, j->slen, sig, sizeof sig, &siglen) != 0)
        return refuse(why, whylen, "signature: bad base64url");
    size_t want = k->alg == BW_JWT_RS256 ? k->alen : ED25519_SIG_LEN;
    if (siglen != want)
        return refuse(why, whylen, "signature: wrong length");
    const unsigned char *msg = (const unsigned char *)j->h;
    size_t msglen = j->hlen + 1 + j->plen;
    int rc;
    if (k->alg == BW_JWT_EDDSA)
        rc = sig_eddsa(k, msg, msglen, sig);
    else if (k->alg == BW_JWT_ES256)
        rc = sig_es256(k, msg, msglen, sig);
    else
        rc = sig_rs256(k, msg, msglen, sig, siglen);
    if (rc != 0)
        return refuse(why, whylen, "signature: mismatch");
    return 0;
}

/* Split, header decode and header checks. */
static int jws_open(const char *token, size_t len, jws *j, char *why, size_t whylen)
{
    memset(j, 0, sizeof *j);
    if (jws_split(token, len, j, why, whylen) != 0)
        return -1;
    j->header = segment_json(j->h, j->hlen, "header", why, whylen);
    if (j->header == NULL)
        return -1;
    return header_check(j, why, whylen);
}

int bw_jwt_verify_jws(const bw_jwks *keys, unsigned algs, const char *token, size_t len,
                      unsigned *alg, char *why, size_t whylen)
{
    jws j;
    int rc = jws_open(token, len, &j, why, whylen);
    if (rc == 0)
        rc = jws_verify_sig(keys, algs, &j, why, whylen);
    json_decref(j.header);
    if (alg != NULL)
        *alg = rc == 0 ? j.alg : 0;
    return rc;
}

void bw_jwt_thread_cleanup(void)
{
#ifdef FP_ECC
    wc_ecc_fp_free();
#endif
}

/* ---- claims ------------------------------------------------------------ */

/* Reads the optional NumericDate `name`; *present says whether it was there. */
static int claim_time(const json_t *payload, const char *name, int64_t *out, bool *present,
                      char *why, size_t whylen)
{
    const json_t *v = json_object_get(payload, name);
    *present = v != NULL;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v)) {
        bw_err_set(why, whylen, "%s: not an integer", name);
        return -1;
    }
    json_int_t t = json_integer_value(v);
    if (t < 0 || t > JWT_MAX_TIME) {
        bw_err_set(why, whylen, "%s: out of range", name);
        return -1;
    }
    *out = (int64_t)t;
    return 0;
}

static int claims_time(const json_t *payload, int64_t now, int skew, bw_jwt_claims *out, char *why,
                       size_t whylen)
{
    int64_t exp = 0, nbf = 0, iat = 0;
    bool has_exp, has_nbf, has_iat;
    if (claim_time(payload, "exp", &exp, &has_exp, why, whylen) != 0)
        return -1;
    if (!has_exp)
        return refuse(why, whylen, "exp: missing");
    if (now > exp + skew)
        return refuse(why, whylen, "exp: expired");
    if (claim_time(payload, "nbf", &nbf, &has_nbf, why, whylen) != 0)
        return -1;
    if (has_nbf && nbf > now + skew)
        return refuse(why, whylen, "nbf: not yet valid");
    if (claim_time(payload, "iat", &iat, &has_iat, why, whylen) != 0)
        return -1;
    if (has_iat && iat > now + skew)
        return refuse(why, whylen, "iat: in the future");
    out->exp = exp;
    out->iat = has_iat ? iat : 0;
    return 0;
}

static bool aud_match(const bw_jwt_policy *p, const json_t *v)
{
    size_t n = json_string_length(v);
    for (size_t i = 0; i < p->naudiences; i++) {
        if (strlen(p->audiences[i]) == n && memcmp(p->audiences[i], json_string_value(v), n) == 0)
            return true;
    }
    return false;
}

static int claims_aud(const json_t *payload, const bw_jwt_policy *p, char *why, size_t whylen)
{
    const json_t *aud = json_object_get(payload, "aud");
    if (aud == NULL)
        return refuse(why, whylen, "aud: missing");
    if (json_is_string(aud))
        return aud_match(p, aud) ? 0 : refuse(why, whylen, "aud: not accepted");
    if (!json_is_array(aud) || json_array_size(aud) == 0)
        return refuse(why, whylen, "aud: malformed");
    bool found = false;
    size_t i;
    const json_t *e;
    json_array_foreach(aud, i, e)
    {
        if (!json_is_string(e))
            return refuse(why, whylen, "aud: malformed");
        found = found || aud_match(p, e);
    }
    return found ? 0 : refuse(why, whylen, "aud: not accepted");
}

static int claims_sub(const json_t *payload, bw_jwt_claims *out, char *why, size_t whylen)
{
    const json_t *sub = json_object_get(payload, "sub");
    if (sub == NULL)
        return refuse(why, whylen, "sub: missing");
    if (!json_is_string(sub))
        return refuse(why, whylen, "sub: malformed");
    size_t n = json_string_length(sub);
    const char *s = json_string_value(sub);
    if (n > BW_JWT_MAX_SUB)
        return refuse(why, whylen, "sub: too long");
    /* Any UTF-8 (jansson checked it), but no control characters. */
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return refuse(why, whylen, "sub: malformed");
    }
    if (n == 0)
        return refuse(why, whylen, "sub: malformed");
    memcpy(out->sub, s, n);
    out->sub[n] = '\0';
    return 0;
}

static int role_add(bw_jwt_claims *out, const char *s, size_t n, char *why, size_t whylen)
{
    if (n == 0 || n > BW_JWT_MAX_ROLE_LEN || !printable(s, n, 0x21))
        return refuse(why, whylen, "roles: malformed entry");
    if (out->nroles == BW_JWT_MAX_ROLES)
        return refuse(why, whylen, "roles: too many");
    memcpy(out->roles[out->nroles], s, n);
    out->roles[out->nroles][n] = '\0';
    out->nroles++;
    return 0;
}

/* The roles under the policy's claim path: an array of strings, or one
 * string of space-separated names (OAuth "scope"). Absent means none. */
/* RFC 8176 "amr": true when it is an array holding "mfa" or "otp". An odd amr grants nothing
 * and refuses nothing: it is optional, and only a second factor depends on it. */
static bool claims_amr_mfa(const json_t *payload)
{
    const json_t *amr = json_object_get(payload, "amr"), *v;
    size_t i;

    if (!json_is_array(amr))
        return false;
    json_array_foreach(amr, i, v)
    {
        const char *s = json_string_value(v);
        if (s != NULL && (strcmp(s, "mfa") == 0 || strcmp(s, "otp") == 0))
            return true;
    }
    return false;
}

static int claims_roles(const json_t *payload, const char *path, bw_jwt_claims *out, char *why,
                        size_t whylen)
{
    if (path == NULL)
        return 0;
    const json_t *v = payload;
    const char *part = path;
    for (;;) {
        const char *dot = strchr(part, '.');
        size_t n = dot == NULL ? strlen(part) : (size_t)(dot - part);
        if (!json_is_object(v))
            return refuse(why, whylen, "roles: malformed");
        v = json_object_getn(v, part, n);
        if (v == NULL)
            return 0;
        if (dot == NULL)
            break;
        part = dot + 1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        size_t start = 0;
        for (size_t i = 0; i <= len; i++) {
            if (i == len || s[i] == ' ') {
                if (i > start && role_add(out, s + start, i - start, why, whylen) != 0)
                    return -1;
                start = i + 1;
            }
        }
        return 0;
    }
    if (!json_is_array(v))
        return refuse(why, whylen, "roles: malformed");
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return refuse(why, whylen, "roles: malformed entry");
        if (role_add(out, json_string_value(e), json_string_length(e), why, whylen) != 0)
            return -1;
    }
    return 0;
}

/* Picks the policy by the (not yet verified) iss: it decides which keys and
 * algorithms may verify the token, nothing more. */
static const bw_jwt_policy *policy_for(const bw_jwt_policy *policies, size_t npolicies,
                                       const json_t *payload, size_t *idx, char *why, size_t whylen)
{
    const json_t *iss = json_object_get(payload, "iss");
    if (iss == NULL) {
        refuse(why, whylen, "iss: missing");
        return NULL;
    }
    if (!json_is_string(iss)) {
        refuse(why, whylen, "iss: malformed");
        return NULL;
    }
    size_t n = json_string_length(iss);
    for (size_t i = 0; i < npolicies; i++) {
        if (strlen(policies[i].issuer) == n &&
            memcmp(policies[i].issuer, json_string_value(iss), n) == 0) {
            *idx = i;
            return &policies[i];
        }
    }
    refuse(why, whylen, "iss: not a trusted issuer");
    return NULL;
}

static int verify(const bw_jwt_policy *policies, size_t npolicies, const char *token, size_t len,
                  int64_t now, bw_jwt_claims *out, char *why, size_t whylen)
{
    char perr[160];
    if (bw_jwt_policies_check(policies, npolicies, perr, sizeof perr) != 0)
        return refuse(why, whylen, "policy: invalid");
    if (now < 0 || now > JWT_MAX_TIME)
        return refuse(why, whylen, "now: out of range");
    jws j;
    json_t *payload = NULL;
    int rc = jws_open(token, len, &j, why, whylen);
    if (rc == 0) {
        payload = segment_json(j.p, j.plen, "payload", why, whylen);
        rc = payload == NULL ? -1 : 0;
    }
    size_t idx = 0;
    const bw_jwt_policy *p = NULL;
    if (rc == 0) {
        p = policy_for(policies, npolicies, payload, &idx, why, whylen);
        rc = p == NULL ? -1 : 0;
    }
    if (rc == 0)
        rc = jws_verify_sig(p->jwks, p->algs, &j, why, whylen);
    /* From here the payload is authentic. */
    if (rc == 0)
        rc = claims_time(payload, now, p->max_skew_s, out, why, whylen);
    if (rc == 0)
        rc = claims_aud(payload, p, why, whylen);
    if (rc == 0)
        rc = claims_sub(payload, out, why, whylen);
    if (rc == 0)
        rc = claims_roles(payload, p->roles_claim, out, why, whylen);
    if (rc == 0) {
        out->mfa = claims_amr_mfa(payload);
        /* Checked against the policy's issuer, which fits. */
        size_t isslen = strlen(p->issuer);
        memcpy(out->iss, p->issuer, isslen + 1);
        if (j.kid != NULL) {
            memcpy(out->kid, j.kid, j.kidlen);
            out->kid[j.kidlen] = '\0';
        }
        out->alg = j.alg;
        out->policy = idx;
    }
    json_decref(payload);
    json_decref(j.header);
    return rc;
}

int bw_jwt_verify(const bw_jwt_policy *policies, size_t npolicies, const char *token, size_t len,
                  int64_t now, bw_jwt_claims *out, char *why, size_t whylen)
{
    if (out == NULL)
        return refuse(why, whylen, "claims: no output");
    memset(out, 0, sizeof *out);
    int rc = verify(policies, npolicies, token, len, now, out, why, whylen);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}
