/* libssl bridge, part 3: the framework's own entry points (certificate reload, provider name)
 * and the helpers the OpenSSL-named functions share.
 *
 * CivetWeb keeps the SSL_CTX it was given at start-up for its whole life and calls SSL_new on
 * it for each connection. To swap certificates without a restart, the framework registers a
 * replacement context for that handed context; SSL_new(handed) then builds the connection from
 * the replacement. A small table under a mutex maps handed -> replacement and holds one
 * reference on each replacement. */
#include <pthread.h>
#include <stdio.h>

#include "bridge.h"

#include "bulwark/tls_bridge.h"

/* One entry per handed context (CivetWeb has one per domain; the framework uses one). */
enum { MAX_SWAPS = 16 };

struct swap {
    WOLFSSL_CTX *handed;  /* NULL marks a free slot */
    WOLFSSL_CTX *current; /* the bridge owns one reference */
};

static struct swap swaps[MAX_SWAPS];
static pthread_mutex_t swaps_lock = PTHREAD_MUTEX_INITIALIZER;

static struct swap *find_locked(const WOLFSSL_CTX *handed)
{
    for (size_t i = 0; i < MAX_SWAPS; i++) {
        if (swaps[i].handed == handed)
            return &swaps[i];
    }
    return NULL;
}

WOLFSSL_CTX *bw_bridge_ctx_resolve(WOLFSSL_CTX *ctx, int *held)
{
    WOLFSSL_CTX *use = ctx;
    struct swap *s;

    *held = 0;
    if (ctx == NULL)
        return NULL;
    if (pthread_mutex_lock(&swaps_lock) != 0)
        return ctx;
    s = find_locked(ctx);
    /* The reference is taken under the lock so a concurrent set_ctx cannot free the
     * replacement between the lookup and wolfSSL_new. */
    if (s != NULL && wolfSSL_CTX_up_ref(s->current) == WOLFSSL_SUCCESS) {
        use = s->current;
        *held = 1;
    }
    (void)pthread_mutex_unlock(&swaps_lock);
    return use;
}

void bw_bridge_ctx_forget(WOLFSSL_CTX *handed)
{
    WOLFSSL_CTX *drop = NULL;
    struct swap *s;

    if (handed == NULL || pthread_mutex_lock(&swaps_lock) != 0)
        return;
    s = find_locked(handed);
    if (s != NULL) {
        drop = s->current;
        s->handed = NULL;
        s->current = NULL;
    }
    (void)pthread_mutex_unlock(&swaps_lock);
    if (drop != NULL)
        wolfSSL_CTX_free(drop);
}

void bw_bridge_put_error(int err)
{
    wolfSSL_ERR_put_error(0, 0, err, "bridge", 0);
}

void bw_bridge_fail(int err)
{
    if (wolfSSL_ERR_peek_error() == 0)
        bw_bridge_put_error(err);
}

BW_BRIDGE_EXPORT int bw_tls_bridge_set_ctx(void *handed_arg, void *current_arg)
{
    WOLFSSL_CTX *handed = handed_arg;
    WOLFSSL_CTX *current = current_arg;
    WOLFSSL_CTX *drop = NULL;
    struct swap *s;

    if (handed == NULL)
        return -1;
    if (current == NULL || current == handed) {
        bw_bridge_ctx_forget(handed);
        return 0;
    }
    /* Take our reference before publishing: a failure leaves the table as it was. */
    if (wolfSSL_CTX_up_ref(current) != WOLFSSL_SUCCESS)
        return -1;
    if (pthread_mutex_lock(&swaps_lock) != 0) {
        wolfSSL_CTX_free(current);
        return -1;
    }
    s = find_locked(handed);
    if (s == NULL)
        s = find_locked(NULL);
    if (s == NULL) {
        (void)pthread_mutex_unlock(&swaps_lock);
        wolfSSL_CTX_free(current);
        return -1;
    }
    drop = s->current;
    s->handed = handed;
    s->current = current;
    (void)pthread_mutex_unlock(&swaps_lock);
    /* Outside the lock: freeing may run wolfSSL's CTX destructor. Open connections still hold
     * their own references, so the previous replacement lives until the last one ends. */
    if (drop != NULL)
        wolfSSL_CTX_free(drop);
    return 0;
}

static char provider_name[64];
static pthread_once_t provider_once = PTHREAD_ONCE_INIT;

static void provider_init(void)
{
    const char *v = wolfSSL_lib_version();
    int n = snprintf(provider_name, sizeof(provider_name), "wolfSSL %s", v != NULL ? v : "?");

    if (n < 0 || (size_t)n >= sizeof(provider_name))
        (void)snprintf(provider_name, sizeof(provider_name), "wolfSSL");
}

BW_BRIDGE_EXPORT const char *bw_tls_bridge_provider(void)
{
    if (pthread_once(&provider_once, provider_init) != 0)
        return "wolfSSL";
    return provider_name;
}

/* The header only declares the types the framework casts dlsym results to: keep them honest. */
_Static_assert(__builtin_types_compatible_p(__typeof__(&bw_tls_bridge_set_ctx),
                                            bw_tls_bridge_set_ctx_fn),
               "bw_tls_bridge_set_ctx does not match bw_tls_bridge_set_ctx_fn");
_Static_assert(__builtin_types_compatible_p(__typeof__(&bw_tls_bridge_provider),
                                            bw_tls_bridge_provider_fn),
               "bw_tls_bridge_provider does not match bw_tls_bridge_provider_fn");
