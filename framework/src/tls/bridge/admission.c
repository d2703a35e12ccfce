/* libssl bridge, part 4: admission of new server connections.
 *
 * CivetWeb calls SSL_set_fd right after it accepted a TLS connection and before the handshake
 * reads a byte. The framework installs one check here (its per-address connection cap); the
 * bridge asks it for a token, keeps the token in the SSL object's ex_data and hands it back when
 * the object is freed. All policy lives in the framework: the bridge only carries the token.
 *
 * The check can only be replaced while no token is out (`admitted` == 0), so a token is always
 * released by the check that issued it. Admission reads the check under a read lock; release
 * needs no lock, because the check cannot change while the connection being released is still
 * counted in `admitted`, and it is counted until after its release call. */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "bridge.h"

#include "bulwark/tls_bridge.h"

static pthread_rwlock_t check_lock = PTHREAD_RWLOCK_INITIALIZER;
/* Written under the write lock, and only while admitted == 0. */
static bw_tls_bridge_admit_fn check_admit;
static bw_tls_bridge_release_fn check_release;
static void *check_arg;
/* Tokens held by SSL objects. */
static atomic_size_t admitted;

void bw_bridge_release(WOLFSSL *ssl)
{
    void *token = wolfSSL_get_ex_data(ssl, BW_BRIDGE_EX_ADMISSION);

    if (token == NULL)
        return;
    if (wolfSSL_set_ex_data(ssl, BW_BRIDGE_EX_ADMISSION, NULL) != WOLFSSL_SUCCESS)
        return; /* cannot happen for an index below MAX_EX_DATA; never release twice */
    check_release(check_arg, token);
    atomic_fetch_sub(&admitted, 1);
}

int bw_bridge_admit(WOLFSSL *ssl, int fd)
{
    int rc = 0;

    /* Only connections we accept are counted; the server's own outgoing ones are not. */
    if (wolfSSL_is_server(ssl) != 1)
        return 0;
    bw_bridge_release(ssl);
    if (pthread_rwlock_rdlock(&check_lock) != 0)
        return -1; /* fail closed */
    if (check_admit != NULL) {
        void *token = check_admit(check_arg, fd);
        if (token == NULL) {
            rc = -1;
        } else if (wolfSSL_set_ex_data(ssl, BW_BRIDGE_EX_ADMISSION, token) != WOLFSSL_SUCCESS) {
            check_release(check_arg, token);
            rc = -1;
        } else {
            atomic_fetch_add(&admitted, 1);
        }
    }
    (void)pthread_rwlock_unlock(&check_lock);
    return rc;
}

BW_BRIDGE_EXPORT int bw_tls_bridge_set_admission(bw_tls_bridge_admit_fn admit,
                                                 bw_tls_bridge_release_fn release, void *arg)
{
    int rc = -1;

    if ((admit == NULL) != (release == NULL))
        return -1;
    if (pthread_rwlock_wrlock(&check_lock) != 0)
        return -1;
    if (atomic_load(&admitted) == 0) {
        check_admit = admit;
        check_release = release;
        check_arg = admit != NULL ? arg : NULL;
        rc = 0;
    }
    (void)pthread_rwlock_unlock(&check_lock);
    return rc;
}

/* The header only declares the type the framework casts the dlsym result to: keep it honest. */
_Static_assert(__builtin_types_compatible_p(__typeof__(&bw_tls_bridge_set_admission),
                                            bw_tls_bridge_set_admission_fn),
               "bw_tls_bridge_set_admission does not match bw_tls_bridge_set_admission_fn");
