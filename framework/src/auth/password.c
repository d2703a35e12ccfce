/* Passwords: Argon2id hashing and verification (libsodium), the policy
 * check, the dummy verification for unknown users and the hashing gate. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "bulwark/ct.h"
#include "bulwark/password.h"
#include "bulwark/text.h"

#define GATE_MAX_SLOTS 64u
#define ALG_PREFIX "$argon2id$"
#define DUMMY_PW_BYTES 32u

static bool params_ok(const bw_password_params *p)
{
    return p != NULL && p->opslimit >= BW_PASSWORD_MIN_OPSLIMIT &&
           p->opslimit <= crypto_pwhash_OPSLIMIT_MAX && p->memlimit >= BW_PASSWORD_MIN_MEMLIMIT &&
           p->memlimit <= crypto_pwhash_MEMLIMIT_MAX;
}

/* ---- policy ---------------------------------------------------------- */

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Equal lengths and equal bytes up to ASCII case. Reads every byte either
 * way: the password's content does not show in the time taken. */
static bool equals_username(const char *user, size_t ulen, const char *pw, size_t pwlen)
{
    unsigned char diff = 0;

    if (user == NULL || ulen != pwlen)
        return false;
    for (size_t i = 0; i < pwlen; i++)
        diff |= (unsigned char)(ascii_lower((unsigned char)user[i]) ^
                                ascii_lower((unsigned char)pw[i]));
    return diff == 0;
}

int bw_password_policy_check(const char *username, size_t ulen, const char *pw, size_t pwlen,
                             const char **why)
{
    const unsigned char *u = (const unsigned char *)pw;
    const char *reason = NULL;
    size_t chars = 0;

    if (pw == NULL && pwlen > 0) {
        reason = "The password could not be read.";
    } else if (pwlen > BW_PASSWORD_MAX_BYTES) {
        reason = "The password must be at most 128 characters long.";
    } else if (!bw_utf8_valid(u, pwlen)) {
        reason = "The password must be valid UTF-8 text.";
    } else if (pwlen > 0 && memchr(pw, '\0', pwlen) != NULL) {
        reason = "The password must not contain a NUL character.";
    } else {
        /* Valid UTF-8: every byte that is not a continuation starts a code point. */
        for (size_t i = 0; i < pwlen; i++)
            chars += (u[i] & 0xC0u) != 0x80u;
        if (chars < BW_PASSWORD_MIN_CHARS)
            reason = "The password must be at least 8 characters long.";
        else if (chars > BW_PASSWORD_MAX_CHARS)
            reason = "The password must be at most 128 characters long.";
        else if (equals_username(username, ulen, pw, pwlen))
            reason = "The password must not be the same as the user name.";
    }
    if (why != NULL)
        *why = reason;
    return reason == NULL ? 0 : -1;
}

/* ---- hashing and verification ---------------------------------------- */

int bw_password_hash(const bw_password_params *p, const char *pw, size_t pwlen,
                     char out[BW_PASSWORD_HASH_MAX])
{
    if (!params_ok(p) || out == NULL || (pw == NULL && pwlen > 0) || pwlen > BW_PASSWORD_MAX_BYTES)
        return -1;
    if (sodium_init() < 0)
        return -1;
    if (pw == NULL)
        pw = "";
    if (crypto_pwhash_str_alg(out, pw, pwlen, p->opslimit, p->memlimit,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_memzero(out, BW_PASSWORD_HASH_MAX);
        return -1;
    }
    return 0;
}

/* The process-wide dummy hash, remade when the parameters asked for change. */
static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static char dummy_hash[BW_PASSWORD_HASH_MAX];
static bw_password_params dummy_params;
static bool dummy_ready;

/* Copies the dummy hash for p into out, making it first when needed. */
static int dummy_hash_for(const bw_password_params *p, char out[BW_PASSWORD_HASH_MAX])
{
    int rc = 0;

    if (pthread_mutex_lock(&dummy_lock) != 0)
        return -1;
    if (!dummy_ready || dummy_params.opslimit != p->opslimit ||
        dummy_params.memlimit != p->memlimit) {
        dummy_ready = false;
        if (sodium_init() < 0) {
            rc = -1;
        } else {
            unsigned char pw[DUMMY_PW_BYTES];
            randombytes_buf(pw, sizeof pw);
            rc = bw_password_hash(p, (const char *)pw, sizeof pw, dummy_hash);
            sodium_memzero(pw, sizeof pw);
        }
        if (rc == 0) {
            dummy_params = *p;
            dummy_ready = true;
        }
    }
    if (rc == 0)
        memcpy(out, dummy_hash, BW_PASSWORD_HASH_MAX);
    if (pthread_mutex_unlock(&dummy_lock) != 0)
        rc = -1;
    return rc;
}

void bw_password_dummy_verify(const bw_password_params *p, const char *pw, size_t pwlen)
{
    char hash[BW_PASSWORD_HASH_MAX];

    /* The same refusals as bw_password_verify, so both cost the same. */
    if (!params_ok(p) || (pw == NULL && pwlen > 0) || pwlen > BW_PASSWORD_MAX_BYTES)
        return;
    if (pw == NULL)
        pw = "";
    if (dummy_hash_for(p, hash) != 0)
        return;
    /* Verified outside the lock: concurrent dummies run in parallel. The
     * answer is meaningless (nobody knows the dummy's password). */
    int discarded = crypto_pwhash_str_verify(hash, pw, pwlen);
    (void)discarded;
}

bw_password_result bw_password_verify(const bw_password_params *p, const char *hash, const char *pw,
                                      size_t pwlen)
{
    size_t hlen;
    int stale;

    if (!params_ok(p) || (pw == NULL && pwlen > 0))
        return BW_PASSWORD_ERROR;
    /* Longer than any password bw_password_hash accepts: it cannot match.
     * bw_password_dummy_verify refuses it the same way, without work. */
    if (pwlen > BW_PASSWORD_MAX_BYTES)
        return BW_PASSWORD_MISMATCH;
    if (pw == NULL)
        pw = "";
    if (sodium_init() < 0)
        return BW_PASSWORD_ERROR;
    hlen = hash != NULL ? strnlen(hash, BW_PASSWORD_HASH_MAX) : 0;
    /* Parsing the stored hash (needs_rehash fails on a malformed one) costs
     * next to nothing; an unusable hash then gets a full dummy verification. */
    stale = hlen > 0 && hlen < BW_PASSWORD_HASH_MAX
                ? crypto_pwhash_str_needs_rehash(hash, p->opslimit, p->memlimit)
                : -1;
    if (stale < 0) {
        bw_password_dummy_verify(p, pw, pwlen);
        return BW_PASSWORD_MISMATCH;
    }
    /* libsodium (1.0.18) reports every failure, a memory shortage included,
     * as EINVAL: all of them deny the login. */
    if (crypto_pwhash_str_verify(hash, pw, pwlen) != 0)
        return BW_PASSWORD_MISMATCH;
    /* An Argon2i hash with today's parameters still moves to Argon2id. */
    if (stale > 0 || hlen < sizeof ALG_PREFIX - 1 ||
        !bw_ct_eq(hash, ALG_PREFIX, sizeof ALG_PREFIX - 1))
        return BW_PASSWORD_MATCH_REHASH;
    return BW_PASSWORD_MATCH;
}

/* ---- the gate ---------------------------------------------------------- */

struct bw_password_gate {
    pthread_mutex_t lock;
    pthread_cond_t freed; /* signalled by leave; waits use CLOCK_MONOTONIC */
    size_t slots;
    size_t idle;
};

size_t bw_password_gate_slots(size_t budget_bytes, size_t memlimit)
{
    size_t n = memlimit > 0 ? budget_bytes / memlimit : 1;

    if (n < 1)
        return 1;
    return n > GATE_MAX_SLOTS ? GATE_MAX_SLOTS : n;
}

bw_password_gate *bw_password_gate_new(size_t slots)
{
    bw_password_gate *g;
    pthread_condattr_t attr;
    int rc;

    if (slots < 1 || slots > GATE_MAX_SLOTS)
        return NULL;
    g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    if (pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g);
        return NULL;
    }
    if (pthread_condattr_init(&attr) != 0) {
        (void)pthread_mutex_destroy(&g->lock);
        free(g);
        return NULL;
    }
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&g->freed, &attr);
    (void)pthread_condattr_destroy(&attr);
    if (rc != 0) {
        (void)pthread_mutex_destroy(&g->lock);
        free(g);
        return NULL;
    }
    g->slots = slots;
    g->idle = slots;
    return g;
}

/* now + ms on CLOCK_MONOTONIC; ms > 0. */
static int deadline_after(int ms, struct timespec *ts)
{
    if (clock_gettime(CLOCK_MONOTONIC, ts) != 0)
        return -1;
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec += 1;
        ts->tv_nsec -= 1000000000L;
    }
    return 0;
}

bool bw_password_gate_enter(bw_password_gate *g, int wait_ms)
{
    bool taken = false;

    if (g == NULL || pthread_mutex_lock(&g->lock) != 0)
        return false;
    if (g->idle == 0 && wait_ms > 0) {
        struct timespec until;
        int rc = deadline_after(wait_ms, &until);
        /* Spurious wake-ups and lost races loop until the deadline. */
        while (rc == 0 && g->idle == 0)
            rc = pthread_cond_timedwait(&g->freed, &g->lock, &until);
    }
    if (g->idle > 0) {
        g->idle--;
        taken = true;
    }
    (void)pthread_mutex_unlock(&g->lock);
    return taken;
}

void bw_password_gate_leave(bw_password_gate *g)
{
    if (g == NULL || pthread_mutex_lock(&g->lock) != 0)
        return;
    /* A stray extra leave must not create a slot. */
    if (g->idle < g->slots) {
        g->idle++;
        (void)pthread_cond_signal(&g->freed);
    }
    (void)pthread_mutex_unlock(&g->lock);
}

void bw_password_gate_free(bw_password_gate *g)
{
    if (g == NULL)
        return;
    (void)pthread_cond_destroy(&g->freed);
    (void)pthread_mutex_destroy(&g->lock);
    free(g);
}
