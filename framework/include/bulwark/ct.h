/* Constant-time comparison of secrets: tokens, hashes, MACs, keys, CSRF tokens.
 * Every comparison of such a value in the code base goes through here
 * (tests/unit/test_ct_scan.c fails on memcmp/strcmp/strncmp applied to them).
 * Built on libsodium's sodium_memcmp; the running time depends only on the
 * public lengths given, never on where the inputs differ. */
#ifndef BULWARK_CT_H
#define BULWARK_CT_H

#include <stdbool.h>
#include <stddef.h>

/* Largest `max` accepted by bw_ct_eq_var. */
#define BW_CT_MAX 4096

/* True when a[0..len) equals b[0..len). Time depends on len only.
 * len 0 is true. */
bool bw_ct_eq(const void *a, const void *b, size_t len);

/* True when a[0..alen) equals b[0..blen). Both are compared as max-byte,
 * zero-padded blocks plus their lengths, so the time depends on max only:
 * neither where they differ nor either length leaks. A length above max, or
 * max above BW_CT_MAX or 0, is false (after the same amount of work). */
bool bw_ct_eq_var(const void *a, size_t alen, const void *b, size_t blen, size_t max);

#endif
