/* Private to the TLS bridge (libbulwark-ssl.so, libbulwark-crypto.so).
 *
 * With OPENSSL_EXTRA (Debian builds wolfSSL with OPENSSL_ALL), <wolfssl/ssl.h> itself pulls in
 * the OpenSSL compatibility macros (#define SSL_read wolfSSL_read, ...), even with
 * OPENSSL_COEXIST. Those macros would rename the very functions this bridge exports, so every
 * name the bridge defines is #undef'd right after the include. The unit test compares the
 * exported symbol list with the expected set, so a name missed here fails the build's tests. */
#ifndef BW_TLS_BRIDGE_PRIVATE_H
#define BW_TLS_BRIDGE_PRIVATE_H

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
/* Prototypes only (wolfSSL_ECDSA_*, wolfSSL_EVP_PKEY_*); their macros are undone below. */
#include <wolfssl/openssl/ecdsa.h>
#include <wolfssl/openssl/evp.h>

/* libssl names. */
#undef OPENSSL_init_ssl
#undef SSL_CIPHER_get_name
#undef SSL_CTX_callback_ctrl
#undef SSL_CTX_check_private_key
#undef SSL_CTX_ctrl
#undef SSL_CTX_free
#undef SSL_CTX_load_verify_locations
#undef SSL_CTX_new
#undef SSL_CTX_set_alpn_protos
#undef SSL_CTX_set_alpn_select_cb
#undef SSL_CTX_set_cipher_list
#undef SSL_CTX_set_default_passwd_cb
#undef SSL_CTX_set_default_verify_paths
#undef SSL_CTX_set_info_callback
#undef SSL_CTX_set_next_protos_advertised_cb
#undef SSL_CTX_set_options
#undef SSL_CTX_set_session_id_context
#undef SSL_CTX_set_timeout
#undef SSL_CTX_set_verify
#undef SSL_CTX_set_verify_depth
#undef SSL_CTX_use_PrivateKey_file
#undef SSL_CTX_use_certificate_chain_file
#undef SSL_CTX_use_certificate_file
#undef SSL_accept
#undef SSL_connect
#undef SSL_ctrl
#undef SSL_free
#undef SSL_get_current_cipher
#undef SSL_get_error
#undef SSL_get_ex_data
#undef SSL_get_peer_certificate
#undef SSL_get_servername
#undef SSL_get_version
#undef SSL_new
#undef SSL_pending
#undef SSL_read
#undef SSL_set_SSL_CTX
#undef SSL_set_ex_data
#undef SSL_set_fd
#undef SSL_shutdown
#undef SSL_write
#undef TLS_client_method
#undef TLS_server_method
/* libcrypto names. */
#undef ASN1_INTEGER_to_BN
#undef BN_bn2hex
#undef BN_free
#undef CONF_modules_unload
#undef CRYPTO_free
#undef ERR_clear_error
#undef ERR_error_string
#undef ERR_get_error
#undef EVP_Digest
#undef EVP_get_digestbyname
#undef X509_NAME_oneline
#undef X509_free
#undef X509_get_issuer_name
#undef X509_get_serialNumber
#undef X509_get_subject_name
#undef i2d_X509

/* The objects are built with -fvisibility=hidden; only these are exported. */
#define BW_BRIDGE_EXPORT __attribute__((visibility("default")))

/* OpenSSL 1.1 values CivetWeb passes or tests (they differ from wolfSSL's in places). */
enum {
    BW_OSSL_ERROR_NONE = 0,
    BW_OSSL_ERROR_SSL = 1,
    BW_OSSL_ERROR_WANT_READ = 2,
    BW_OSSL_ERROR_WANT_WRITE = 3,
    BW_OSSL_ERROR_WANT_X509_LOOKUP = 4,
    BW_OSSL_ERROR_SYSCALL = 5,
    BW_OSSL_ERROR_ZERO_RETURN = 6,
    BW_OSSL_ERROR_WANT_CONNECT = 7,
    BW_OSSL_ERROR_WANT_ACCEPT = 8,
};

/* Returns the context SSL_new / SSL_set_SSL_CTX must use for `ctx` (the replacement installed by
 * bw_tls_bridge_set_ctx, or ctx itself). When *held is set on return the caller owns one
 * reference on the result and must drop it with wolfSSL_CTX_free after use. */
WOLFSSL_CTX *bw_bridge_ctx_resolve(WOLFSSL_CTX *ctx, int *held);

/* Drops any replacement installed for `handed`; called when its owner frees it. */
void bw_bridge_ctx_forget(WOLFSSL_CTX *handed);

/* The ex_data index where a connection's admission token lives. CivetWeb uses index 0 (its
 * app data) and the bridge exports no SSL_get_ex_new_index; SSL_set_ex_data and
 * SSL_get_ex_data refuse this index, so no caller can forge or drop a token. */
enum { BW_BRIDGE_EX_ADMISSION = 1 };

/* Runs the installed admission check (bw_tls_bridge_set_admission) for `ssl`, about to be given
 * the socket `fd`; releases the token of an earlier admission of `ssl` first. Returns 0 when the
 * connection may proceed (admitted, a client-side object, or no check installed), -1 when it is
 * refused. */
int bw_bridge_admit(WOLFSSL *ssl, int fd);

/* Releases the admission token `ssl` holds, if any; SSL_free calls it before wolfSSL_free. */
void bw_bridge_release(WOLFSSL *ssl);

/* Errors the bridge queues itself where wolfSSL queues nothing (OpenSSL would have): a bad
 * argument, or a failed load that wolfSSL reports only through its return value. The values lie
 * far outside wolfSSL's error codes; ERR_error_string names them. */
enum bw_bridge_err {
    BW_BRIDGE_E_FIRST = 0x42570001,
    BW_BRIDGE_E_ARG = BW_BRIDGE_E_FIRST,
    BW_BRIDGE_E_METHOD,
    BW_BRIDGE_E_CERT_FILE,
    BW_BRIDGE_E_KEY_FILE,
    BW_BRIDGE_E_CHAIN_FILE,
    BW_BRIDGE_E_VERIFY_LOCATIONS,
    BW_BRIDGE_E_KEY_MISMATCH,
    BW_BRIDGE_E_CIPHER_LIST,
    BW_BRIDGE_E_REFUSED,
    BW_BRIDGE_E_LAST = BW_BRIDGE_E_REFUSED,
};

/* Queues `err` (a bw_bridge_err) on wolfSSL's per-thread error queue. */
void bw_bridge_put_error(int err);

/* Queues `err` only if wolfSSL left the queue empty for the failure just seen. */
void bw_bridge_fail(int err);

#endif
