/* TLS for the server: the CivetWeb bridge and the context policy.
 *
 * CivetWeb reaches TLS through OpenSSL names; the framework loads its own
 * bridge (framework/src/tls/bridge) under those names before CivetWeb looks
 * for them, and hands CivetWeb a WOLFSSL_CTX built here with the policy:
 * TLS 1.3 only by default, TLS 1.2 with ECDHE and AEAD suites only by opt-in,
 * groups X25519, P-256, P-384, session tickets with per-process random keys,
 * ALPN http/1.1, no compression, no renegotiation. */
#ifndef BULWARK_TLS_H
#define BULWARK_TLS_H

#include <stddef.h>

#include "bulwark/config.h"

/* Loads the bridge by absolute path from `dir` (RTLD_NOW | RTLD_GLOBAL),
 * then checks with dladdr that every name CivetWeb resolves from
 * "libssl.so" and "libcrypto.so" lands in the bridge; refuses otherwise,
 * so the server never falls back to another TLS library. Idempotent.
 * 0, or -1 with a message. */
int bw_tls_bridge_load(const char *dir, char *err, size_t errlen);

/* The bridge's hook that swaps the context of new connections (reload);
 * NULL before bw_tls_bridge_load succeeded. */
#include "bulwark/tls_bridge.h"
bw_tls_bridge_set_ctx_fn bw_tls_bridge_set_ctx_hook(void);

/* The bridge's admission hook (tls_bridge.h: bw_tls_bridge_set_admission_fn), for the
 * per-address connection cap; NULL before bw_tls_bridge_load succeeded. */
bw_tls_bridge_set_admission_fn bw_tls_bridge_set_admission_hook(void);

/* "wolfSSL 5.5.4" once the bridge is loaded, else NULL. */
const char *bw_tls_provider(void);

typedef struct bw_tls bw_tls;

/* Checks the configured certificate and key (see tlscert.h) and builds the
 * context. Caller owns the result; bw_tls_free releases it. NULL + err on
 * any refusal. */
bw_tls *bw_tls_new(const bw_config *cfg, char *err, size_t errlen);

/* The WOLFSSL_CTX to hand to CivetWeb. It stays ours: CivetWeb does not
 * free an external context, so bw_tls_free does, after mg_stop. */
void *bw_tls_handed_ctx(bw_tls *tls);

/* Re-reads the certificate and key; when they pass every check, new
 * connections get them while open ones keep theirs. On any error the old
 * pair stays in use. 0, or -1 with a message. */
int bw_tls_reload(bw_tls *tls, char *err, size_t errlen);

/* Days until the serving certificate expires (negative when expired). */
long long bw_tls_days_left(const bw_tls *tls);

/* When the serving certificate expires (Unix seconds); follows reloads. Thread-safe. */
long long bw_tls_not_after(const bw_tls *tls);

/* Frees what wolfSSL keeps per thread (the fixed-point ECC cache); call it
 * at the end of every thread that did TLS work. */
void bw_tls_thread_exit(void);

/* Frees the contexts; only after CivetWeb stopped using them (mg_stop). */
void bw_tls_free(bw_tls *tls);

#endif
