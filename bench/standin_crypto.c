/* Stand-in with SONAME libcrypto.so for the bare-CivetWeb comparison server.
 *
 * CivetWeb also dlopen()s "libcrypto.so". The unversioned name exists only
 * when libssl-dev is installed, and then it is a symlink outside our control.
 * Loaded first, this object answers that dlopen by SONAME; it exports nothing
 * of its own and has libcrypto.so.3 as DT_NEEDED (linked with --no-as-needed),
 * so dlsym on its handle resolves every name in OpenSSL's libcrypto. */

/* ISO C wants at least one declaration in a translation unit. */
__attribute__((visibility("hidden"))) int bench_standin_crypto_unused;
