/* Authorization and Cookie header values as an attacker sends them: the
 * first byte splits the input between the two headers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/credential.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bw_credential c;
    const char *v;
    size_t vlen, split;
    char *buf;

    if (size == 0)
        return 0;
    split = data[0] % size;
    buf = malloc(size);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, size - 1);
    bw_credential_parse(buf, split, buf + split, size - 1 - split, &c);
    if (c.kind == BW_CREDENTIAL_BEARER || c.kind == BW_CREDENTIAL_COOKIE) {
        /* The token must lie inside the input. */
        if (c.token < buf || c.token + c.len > buf + size - 1 || c.len == 0)
            abort();
    }
    bw_credential_parse(NULL, 0, buf, size - 1, &c);
    if (bw_credential_cookie(buf, size - 1, BW_CSRF_COOKIE, &v, &vlen) == 1 &&
        (v < buf || v + vlen > buf + size - 1))
        abort();
    free(buf);
    return 0;
}
