/* TLS bridge: CivetWeb's OpenSSL 1.1 calls served by wolfSSL.
 *
 * Debian's CivetWeb finds its TLS library with dlopen("libssl.so") and dlopen("libcrypto.so").
 * The framework ships two shared objects whose SONAMEs are exactly those names and which export
 * exactly the OpenSSL 1.1 functions CivetWeb resolves, each forwarding to wolfSSL. Loaded first
 * by absolute path with RTLD_NOW | RTLD_GLOBAL, they are what CivetWeb's dlopen returns (glibc
 * matches an already-loaded object by SONAME). See docs/tls-bridge.md.
 *
 * The bridge files live in one directory (BW_TLS_BRIDGE_DIR, set at build time); this header
 * names the files and the three extra entry points the framework resolves with dlsym from the
 * libssl bridge. Nothing here is linked: the framework only dlopen()s. */
#ifndef BULWARK_TLS_BRIDGE_H
#define BULWARK_TLS_BRIDGE_H

/* File names inside BW_TLS_BRIDGE_DIR (SONAMEs "libssl.so" and "libcrypto.so"). */
#define BW_TLS_BRIDGE_SSL "libbulwark-ssl.so"
#define BW_TLS_BRIDGE_CRYPTO "libbulwark-crypto.so"

/* Replaces the context used for new connections that CivetWeb creates from `handed` (the
 * WOLFSSL_CTX the framework gave CivetWeb at start-up): from then on SSL_new(handed), and
 * SSL_set_SSL_CTX(ssl, handed) from CivetWeb's SNI callback, use `current` instead. The bridge
 * takes its own reference on `current` (wolfSSL_CTX_up_ref) and drops the one it held on the
 * previous replacement; the caller keeps (and must eventually free) its own reference.
 * Connections already open keep their context (wolfSSL counts references per SSL), so an old
 * context is freed when its last connection ends. current == handed or NULL undoes the
 * replacement. SSL_CTX_free(handed) also undoes it. Replacement is one level deep: `current`
 * is never itself looked up. Thread-safe against concurrent SSL_new.
 * Returns 0 on success, -1 if handed is NULL, the table (16 handed contexts) is full, or the
 * reference could not be taken; on failure the previous state is unchanged. */
typedef int (*bw_tls_bridge_set_ctx_fn)(void *handed, void *current);
#define BW_TLS_BRIDGE_SET_CTX "bw_tls_bridge_set_ctx"

/* Admission of new server connections (the per-address connection cap, see connlimit.h).
 *
 * When a check is installed, SSL_set_fd on a server-side SSL object (the call CivetWeb makes
 * right after accepting a TLS connection, before any TLS byte is read) first calls
 * admit(arg, fd). A non-NULL result is the connection's token: the bridge keeps it with the SSL
 * object and calls release(arg, token) exactly once, when the object is freed (SSL_free) or
 * given another socket (SSL_set_fd again). NULL refuses the connection: SSL_set_fd fails with
 * the bridge's reason "connection refused by the admission check" on the error queue, and
 * CivetWeb frees the object and closes the socket at once. Client-side objects (SSL_connect)
 * are never checked. Both functions run on CivetWeb's workers, concurrently: they must be
 * thread-safe, must not block for long, and must not call the bridge. */
typedef void *(*bw_tls_bridge_admit_fn)(void *arg, int fd);
typedef void (*bw_tls_bridge_release_fn)(void *arg, void *token);

/* Installs the check (admit, release and their arg), or removes it when both are NULL.
 * Returns 0, or -1 leaving the state unchanged when exactly one of admit and release is NULL,
 * or when connections admitted by the check in place are still open (the check can only change
 * while no connection holds a token: install it before mg_start, remove it after mg_stop). */
typedef int (*bw_tls_bridge_set_admission_fn)(bw_tls_bridge_admit_fn admit,
                                              bw_tls_bridge_release_fn release, void *arg);
#define BW_TLS_BRIDGE_SET_ADMISSION "bw_tls_bridge_set_admission"

/* Returns a static string naming the TLS provider and its run-time version,
 * e.g. "wolfSSL 5.5.4". Never NULL. */
typedef const char *(*bw_tls_bridge_provider_fn)(void);
#define BW_TLS_BRIDGE_PROVIDER "bw_tls_bridge_provider"

#endif
