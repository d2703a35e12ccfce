/* JWT bearer tokens: verification of compact JWS (RFC 7515) signed with
 * EdDSA (Ed25519, RFC 8037), ES256 or RS256 (RFC 7518) against public keys
 * from a JWKS document (RFC 7517), and the claim checks of RFC 7519 for one
 * of several trusted issuers. Pure: no I/O, no clock (the caller passes
 * `now`), no global state.
 *
 * Everything is refused unless it passes every check (docs/jwt.md lists
 * them in the order they run). A refusal returns -1 and a short reason
 * naming the check ("exp: expired", "signature: mismatch"); a reason never
 * contains bytes of the token, so it is safe to log.
 *
 * Thread safety: a bw_jwks and the policies are read-only after set-up;
 * bw_jwt_verify and bw_jwt_verify_jws may run on any number of threads at
 * once against the same ones (each call imports the key into its own
 * wolfCrypt object, because wolfCrypt's RsaKey keeps per-operation state). */
#ifndef BULWARK_JWT_H
#define BULWARK_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The whole compact token, in bytes. */
#define BW_JWT_MAX_LEN 8192
/* Largest clock skew a policy may allow, in seconds. */
#define BW_JWT_MAX_SKEW_S 60
/* Keys in one JWKS document; bytes in one kid. */
#define BW_JWKS_MAX_KEYS 64
#define BW_JWT_MAX_KID 128
/* Copied claims, in bytes without the NUL. */
#define BW_JWT_MAX_SUB 255
#define BW_JWT_MAX_ISS 255
/* Role names taken from the roles claim: at most this many, each at most
 * BW_JWT_MAX_ROLE_LEN bytes of printable ASCII. */
#define BW_JWT_MAX_ROLES 32
#define BW_JWT_MAX_ROLE_LEN 64
/* Nesting of JSON arrays and objects in the header and the payload. */
#define BW_JWT_MAX_DEPTH 8

/* Algorithms, as bits of bw_jwt_policy.algs and values of bw_jwt_claims.alg. */
#define BW_JWT_EDDSA 0x1u
#define BW_JWT_ES256 0x2u
#define BW_JWT_RS256 0x4u
#define BW_JWT_ALGS_ALL (BW_JWT_EDDSA | BW_JWT_ES256 | BW_JWT_RS256)

typedef struct bw_jwks bw_jwks;

/* One trusted issuer. The caller owns every pointer and keeps it alive (and
 * unchanged) while any verification may use the policy. */
typedef struct bw_jwt_policy {
    const char *issuer;           /* compared byte for byte with "iss" */
    const char *const *audiences; /* "aud" must contain one of these */
    size_t naudiences;            /* at least 1 */
    unsigned algs;                /* allowlist: BW_JWT_EDDSA | BW_JWT_ES256 | BW_JWT_RS256 */
    int max_skew_s;               /* 0..BW_JWT_MAX_SKEW_S, applied to exp, nbf and iat */
    const char *roles_claim;      /* NULL (no roles), a claim name ("roles", "scope") or a
                                     dotted path ("realm_access.roles") */
    const bw_jwks *jwks;          /* this issuer's keys: one issuer's key never verifies
                                     another issuer's token */
} bw_jwt_policy;

/* What a valid token says. Every string is NUL-terminated and copied. */
typedef struct bw_jwt_claims {
    char sub[BW_JWT_MAX_SUB + 1];
    char iss[BW_JWT_MAX_ISS + 1];
    char kid[BW_JWT_MAX_KID + 1]; /* the header's kid; "" when the token had none */
    unsigned alg;                 /* one BW_JWT_* bit */
    size_t policy;                /* index of the policy that matched iss */
    int64_t exp;
    int64_t iat; /* 0 when absent */
    size_t nroles;
    char roles[BW_JWT_MAX_ROLES][BW_JWT_MAX_ROLE_LEN + 1];
    bool mfa; /* the "amr" claim (RFC 8176) is an array naming "mfa" or "otp": the issuer
                 authenticated the subject with a second factor. Anything else: false */
} bw_jwt_claims;

/* Parses a JWKS document json[0..len) ({"keys":[...]}, at most 1 MiB) into
 * a key set. Each key: kty "OKP" (crv "Ed25519", x), "EC" (crv "P-256", x,
 * y; the point is checked to be on the curve) or "RSA" (n of 2048 bits up
 * to the largest modulus this wolfSSL build verifies (4096 on Debian 12),
 * e odd, at least 3, at most 4 bytes; no leading zero bytes); optional kid
 * (1..BW_JWT_MAX_KID printable ASCII bytes, unique in the set, required when
 * the set holds more than one key), optional alg (one of "EdDSA", "ES256",
 * "RS256", matching kty: pins the key to it), optional use (must be "sig").
 * Other members are ignored. Errors (NULL, message in err naming the key by
 * index, e.g. "keys[2]: private member \"d\"..."): not JSON, duplicate
 * members, no "keys" array, no keys or more than BW_JWKS_MAX_KEYS, an
 * unknown kty or crv, a private member (d, p, q, dp, dq, qi, oth, k), a bad
 * or non-canonical base64url value, a wrong length, a point not on the
 * curve, a modulus out of range, a duplicate or missing kid, a use other
 * than "sig", an alg not matching kty, out of memory. The caller owns the
 * result: bw_jwks_free. */
bw_jwks *bw_jwks_parse(const char *json, size_t len, char *err, size_t errlen);

/* Frees a key set (NULL is fine). No verification may still be using it. */
void bw_jwks_free(bw_jwks *keys);

/* Number of keys in the set (0 for NULL). */
size_t bw_jwks_count(const bw_jwks *keys);

/* Checks an array of policies before use (at configuration load): each
 * needs a non-empty issuer of at most BW_JWT_MAX_ISS bytes, 1 or more
 * non-empty audiences, a non-empty subset of BW_JWT_ALGS_ALL, max_skew_s in
 * 0..BW_JWT_MAX_SKEW_S, a roles_claim (if any) of 1..4 non-empty dotted
 * parts, and a key set; two policies may not name the same issuer. Returns
 * 0, or -1 with the policy's index and the problem in err. */
int bw_jwt_policies_check(const bw_jwt_policy *policies, size_t npolicies, char *err,
                          size_t errlen);

/* Verifies the compact JWT token[0..len) at time `now` (seconds since the
 * epoch) against the policy whose issuer equals the token's "iss". Returns
 * 0 and fills *out, or -1 with *out zeroed and the reason in why (cut to
 * whylen; why may be NULL). The reasons: policy (a policy fails
 * bw_jwt_policies_check), token (empty, longer than BW_JWT_MAX_LEN, not
 * three non-empty base64url segments, any other byte), header and payload
 * (bad base64url, not a JSON object, duplicate members, nested deeper than
 * BW_JWT_MAX_DEPTH), typ, crit, jwk/jku/x5u/x5c/x5t (embedded keys), alg
 * (missing, none, HS*, unsupported, not allowed for the issuer, not
 * matching the key), iss, kid (missing when needed, unknown), signature,
 * exp, nbf, iat, aud, sub, roles. No allocation outlives the call. */
int bw_jwt_verify(const bw_jwt_policy *policies, size_t npolicies, const char *token, size_t len,
                  int64_t now, bw_jwt_claims *out, char *why, size_t whylen);

/* The signature part of bw_jwt_verify alone: checks the compact form, the
 * header (typ, crit, embedded keys, alg within `algs` and matching the
 * key, kid) and the signature over "header.payload" with a key of `keys`.
 * The payload is not decoded and no claim is checked, so this is NOT
 * enough to accept a token: it exists for the RFC test vectors (whose
 * payloads are not JWT claims sets) and for callers that check claims
 * themselves. Returns 0 and the algorithm used in *alg (may be NULL), or -1
 * with the reason in why. */
int bw_jwt_verify_jws(const bw_jwks *keys, unsigned algs, const char *token, size_t len,
                      unsigned *alg, char *why, size_t whylen);

/* Frees wolfCrypt's per-thread ECC point cache (Debian's wolfSSL is built
 * with FP_ECC and thread-local caches): a thread that verified an ES256
 * token calls this before it exits, or the cache (about 1.6 MB) leaks; a
 * later ES256 verification on the thread rebuilds it. Safe on any thread,
 * any number of times. */
void bw_jwt_thread_cleanup(void);

/* "EdDSA", "ES256", "RS256" for one BW_JWT_* bit, else "?". Static. */
const char *bw_jwt_alg_name(unsigned alg);

#endif
