/* Loading the OpenSSL-named bridge before CivetWeb looks for OpenSSL, and
 * proving that every name CivetWeb will resolve lands in it. glibc hands an
 * already-loaded object to dlopen("libssl.so") when its SONAME matches, so
 * loading ours first (RTLD_GLOBAL) is what makes CivetWeb use wolfSSL. */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/err.h"
#include "bulwark/tls.h"
#include "bulwark/tls_bridge.h"

/* What Debian's CivetWeb 1.15 resolves, by library (its openssl_dl.inl). */
static const char *const ssl_names[] = {
    "SSL_free",
    "SSL_accept",
    "SSL_connect",
    "SSL_read",
    "SSL_write",
    "SSL_get_error",
    "SSL_set_fd",
    "SSL_new",
    "SSL_CTX_new",
    "SSL_CTX_free",
    "SSL_CTX_use_PrivateKey_file",
    "SSL_CTX_use_certificate_file",
    "SSL_CTX_set_default_passwd_cb",
    "SSL_CTX_use_certificate_chain_file",
    "SSL_CTX_set_verify",
    "SSL_CTX_load_verify_locations",
    "SSL_CTX_set_default_verify_paths",
    "SSL_CTX_set_verify_depth",
    "SSL_get_peer_certificate",
    "SSL_get_version",
    "SSL_get_current_cipher",
    "SSL_CIPHER_get_name",
    "SSL_CTX_check_private_key",
    "SSL_CTX_set_session_id_context",
    "SSL_CTX_ctrl",
    "SSL_CTX_set_cipher_list",
    "SSL_CTX_set_options",
    "SSL_CTX_set_info_callback",
    "SSL_get_ex_data",
    "SSL_set_ex_data",
    "SSL_CTX_callback_ctrl",
    "SSL_get_servername",
    "SSL_set_SSL_CTX",
    "SSL_ctrl",
    "SSL_CTX_set_alpn_protos",
    "SSL_CTX_set_alpn_select_cb",
    "SSL_CTX_set_next_protos_advertised_cb",
    "SSL_CTX_set_timeout",
    "SSL_pending",
    "SSL_shutdown",
    "TLS_client_method",
    "TLS_server_method",
    "OPENSSL_init_ssl",
};
static const char *const crypto_names[] = {
    "ERR_get_error",
    "ERR_error_string",
    "CONF_modules_unload",
    "X509_free",
    "X509_get_subject_name",
    "X509_get_issuer_name",
    "X509_NAME_oneline",
    "X509_get_serialNumber",
    "EVP_get_digestbyname",
    "EVP_Digest",
    "i2d_X509",
    "BN_bn2hex",
    "BN_free",
    "ASN1_INTEGER_to_BN",
    "CRYPTO_free",
    "ERR_clear_error",
};

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *provider;
/* The libssl bridge, once loaded and verified (kept open for the life of the process). */
static void *bridge_ssl;

/* Opens `soname` the way CivetWeb will and checks each name resolves into
 * the file at `path`. */
static int verify(const char *soname, const char *path, const char *const *names, size_t n,
                  char *err, size_t errlen)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
    char real_want[PATH_MAX], real_got[PATH_MAX];
    size_t i;
    int rc = 0;

    if (h == NULL) {
        bw_err_set(err, errlen, "tls: %s does not resolve to the bridge", soname);
        return -1;
    }
    if (realpath(path, real_want) == NULL) {
        dlclose(h);
        bw_err_set(err, errlen, "tls: cannot resolve %s", path);
        return -1;
    }
    for (i = 0; i < n && rc == 0; i++) {
        void *sym = dlsym(h, names[i]);
        Dl_info info;

        if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL ||
            realpath(info.dli_fname, real_got) == NULL || strcmp(real_got, real_want) != 0) {
            bw_err_set(err, errlen,
                       "tls: %s from %s does not come from the bridge %s; refusing to start",
                       names[i], soname, path);
            rc = -1;
        }
    }
    dlclose(h);
    return rc;
}

static int open_one(const char *dir, const char *file, char *path, size_t cap, void **h, char *err,
                    size_t errlen)
{
    int n = snprintf(path, cap, "%s/%s", dir, file);

    if (n < 0 || (size_t)n >= cap) {
        bw_err_set(err, errlen, "tls: bridge path too long");
        return -1;
    }
    *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (*h == NULL) {
        const char *why = dlerror();
        bw_err_set(err, errlen, "tls: cannot load the bridge %s: %s", path, why ? why : "?");
        return -1;
    }
    return 0;
}

int bw_tls_bridge_load(const char *dir, char *err, size_t errlen)
{
    char ssl_path[PATH_MAX], crypto_path[PATH_MAX];
    void *hssl = NULL, *hcrypto = NULL;
    bw_tls_bridge_provider_fn prov;
    int rc = -1;

    pthread_mutex_lock(&load_lock);
    if (provider != NULL) {
        pthread_mutex_unlock(&load_lock);
        return 0;
    }
    /* libcrypto first: the libssl bridge needs nothing from it, but CivetWeb
     * loads them in this order too. */
    if (open_one(dir, BW_TLS_BRIDGE_CRYPTO, crypto_path, sizeof(crypto_path), &hcrypto, err,
                 errlen) == 0 &&
        open_one(dir, BW_TLS_BRIDGE_SSL, ssl_path, sizeof(ssl_path), &hssl, err, errlen) == 0 &&
        verify("libssl.so", ssl_path, ssl_names, sizeof(ssl_names) / sizeof(ssl_names[0]), err,
               errlen) == 0 &&
        verify("libcrypto.so", crypto_path, crypto_names,
               sizeof(crypto_names) / sizeof(crypto_names[0]), err, errlen) == 0) {
        *(void **)&prov = dlsym(hssl, BW_TLS_BRIDGE_PROVIDER);
        if (prov == NULL) {
            bw_err_set(err, errlen, "tls: the bridge has no %s", BW_TLS_BRIDGE_PROVIDER);
        } else {
            provider = prov();
            bridge_ssl = hssl;
            rc = 0;
        }
    }
    /* On success the handles stay open for the life of the process. */
    if (rc != 0) {
        if (hssl != NULL)
            dlclose(hssl);
        if (hcrypto != NULL)
            dlclose(hcrypto);
    }
    pthread_mutex_unlock(&load_lock);
    return rc;
}

const char *bw_tls_provider(void)
{
    return provider;
}

/* One of the bridge's own entry points; NULL until bw_tls_bridge_load succeeded. Looked up in
 * the bridge's own handle, never by the name "libssl.so": asked before the bridge is loaded,
 * dlopen("libssl.so", RTLD_NOLOAD) can return OpenSSL's libssl.so.3 (through the development
 * symlink, when another library loaded it) and from then on glibc answers that name with it. */
static void *bridge_sym(const char *name)
{
    void *h = NULL;

    if (pthread_mutex_lock(&load_lock) == 0) {
        h = bridge_ssl;
        (void)pthread_mutex_unlock(&load_lock);
    }
    return h != NULL ? dlsym(h, name) : NULL;
}

/* The bridge's context hook, for certificate reload. */
bw_tls_bridge_set_ctx_fn bw_tls_bridge_set_ctx_hook(void)
{
    bw_tls_bridge_set_ctx_fn fn;

    *(void **)&fn = bridge_sym(BW_TLS_BRIDGE_SET_CTX);
    return fn;
}

/* The bridge's admission hook, for the per-address connection cap. */
bw_tls_bridge_set_admission_fn bw_tls_bridge_set_admission_hook(void)
{
    bw_tls_bridge_set_admission_fn fn;

    *(void **)&fn = bridge_sym(BW_TLS_BRIDGE_SET_ADMISSION);
    return fn;
}
