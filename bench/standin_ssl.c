/* Stand-in with SONAME libssl.so for the bare-CivetWeb comparison server.
 *
 * Debian's CivetWeb 1.15 dlopen()s "libssl.so" and dlsym()s OpenSSL 1.1
 * names in the handle. OpenSSL 3 renamed one of them: SSL_get_peer_certificate
 * is only a macro for SSL_get1_peer_certificate now (same semantics: the
 * caller owns a reference). This object exports the old name and has
 * libssl.so.3 as DT_NEEDED, so dlsym on its handle finds every other name in
 * OpenSSL itself (glibc searches the handle's object, then its dependencies
 * breadth-first). Benchmark only; never linked into the framework. */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate

__attribute__((visibility("default"))) X509 *SSL_get_peer_certificate(const SSL *ssl);

X509 *SSL_get_peer_certificate(const SSL *ssl)
{
    return SSL_get1_peer_certificate(ssl);
}
