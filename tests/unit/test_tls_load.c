/* Loading the TLS bridge: a missing bridge and a bridge that lacks a name CivetWeb resolves are
 * refused (the server never falls back to another TLS library); the real bridge loads, and every
 * name then resolves into it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/tls.h"

static const char *bridge_dir(void)
{
    const char *d = getenv("BW_TLS_BRIDGE_DIR");
    return d != NULL ? d : BW_TLS_BRIDGE_DIR_FALLBACK;
}

/* Builds, in a new temporary folder, a libbulwark-ssl.so with SONAME libssl.so that exports only
 * two of the names, next to a copy of the real libbulwark-crypto.so. */
static char *make_fake_bridge(void)
{
    char tmpl[] = "/tmp/bw-fake-bridge-XXXXXX";
    char cmd[2048];
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    int n = snprintf(cmd, sizeof(cmd),
                     "cd %s && printf 'void *SSL_new(void *c){return c;}\\n"
                     "const char *bw_tls_bridge_provider(void){return \"fake\";}\\n' > f.c && "
                     "cc -shared -fPIC -Wl,-soname,libssl.so -o libbulwark-ssl.so f.c && "
                     "cp %s/libbulwark-crypto.so .",
                     dir, bridge_dir());
    assert_true(n > 0 && (size_t)n < sizeof(cmd));
    assert_int_equal(system(cmd), 0);
    return strdup(dir);
}

static void test_refusals_then_real_bridge(void **state)
{
    char err[512] = "";
    (void)state;

    assert_int_equal(bw_tls_bridge_load("/nonexistent/bridge", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot load the bridge"));
    assert_null(bw_tls_provider());

    char *fake = make_fake_bridge();
    err[0] = '\0';
    assert_int_equal(bw_tls_bridge_load(fake, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "does not come from the bridge"));
    assert_non_null(strstr(err, "refusing to start"));
    assert_null(bw_tls_provider());
    char rm[600];
    snprintf(rm, sizeof(rm), "rm -rf %s", fake);
    assert_int_equal(system(rm), 0);
    free(fake);

    err[0] = '\0';
    if (bw_tls_bridge_load(bridge_dir(), err, sizeof(err)) != 0)
        fail_msg("real bridge refused: %s", err);
    assert_non_null(bw_tls_provider());
    assert_int_equal(strncmp(bw_tls_provider(), "wolfSSL 5.", 10), 0);
    assert_non_null(bw_tls_bridge_set_ctx_hook());
    /* Loading again is a no-op. */
    assert_int_equal(bw_tls_bridge_load(bridge_dir(), err, sizeof(err)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals_then_real_bridge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
