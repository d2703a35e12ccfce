/* Fuzzes bw_format_check: the input, as an exact-size heap copy so ASan catches any read past
 * len, goes through every format. Beyond not crashing, results must be deterministic and obey
 * the grammars' inclusions: a uri is a uri-reference; a date-time is a date, 'T', and a time; an
 * ipv4 address is a valid ipv6 tail after "::" and a valid hostname. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/format.h"

#define FUZZ_MAX_BYTES 4096
#define DATE_LEN 10

static const char *const formats[] = {
    "date-time", "date", "time", "duration",      "email",        "hostname", "ipv4",
    "ipv6",      "uuid", "uri",  "uri-reference", "json-pointer", "regex",
};

/* Checks p[0..n) from its own exact-size allocation. */
static bool check(const char *format, const void *p, size_t n)
{
    char *copy = malloc(n > 0 ? n : 1);
    bool r;

    if (copy == NULL)
        abort();
    if (n > 0)
        memcpy(copy, p, n);
    r = bw_format_check(format, copy, n);
    free(copy);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool r[sizeof formats / sizeof formats[0]];

    if (size > FUZZ_MAX_BYTES)
        return 0;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        r[i] = check(formats[i], data, size);
        if (check(formats[i], data, size) != r[i])
            abort();
    }
    if (!check("x-unknown", data, size))
        abort();
    /* r[] follows the order of formats[]. */
    if (r[9] && !r[10])
        abort();
    if (r[0] && (!check("date", data, DATE_LEN) ||
                 !check("time", data + DATE_LEN + 1, size - DATE_LEN - 1)))
        abort();
    if (r[6]) {
        uint8_t buf[FUZZ_MAX_BYTES + 2];
        memcpy(buf, "::", 2);
        memcpy(buf + 2, data, size);
        if (!check("ipv6", buf, size + 2) || !check("hostname", data, size))
            abort();
    }
    return 0;
}
