/* Fuzzes the attack signatures with random bytes: bw_attack_scan on an exact-size copy (ASan
 * catches any read past it), and bw_attack_scan_json on the input parsed as JSON when it is
 * JSON. Checks: only class bits come back, each has a name, bytes past BW_ATTACK_SCAN_MAX
 * change nothing, and a one-string document scans like the string itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bulwark/attack.h"

static void check_bits(unsigned found)
{
    unsigned bit;

    if ((found & ~BW_ATTACK_ALL) != 0)
        abort();
    for (bit = 1; bit <= BW_ATTACK_ALL; bit <<= 1)
        if ((found & bit) != 0 && bw_attack_class_name(bit) == NULL)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    unsigned found;
    json_t *doc, *one;
    json_error_t err;

    if (copy == NULL)
        return 0;
    if (size)
        memcpy(copy, data, size);
    found = bw_attack_scan(copy, size);
    check_bits(found);
    if (size > BW_ATTACK_SCAN_MAX && bw_attack_scan(copy, BW_ATTACK_SCAN_MAX) != found)
        abort();

    one = json_stringn_nocheck(copy, size);
    if (one != NULL) {
        if (bw_attack_scan_json(one) != found)
            abort();
        json_decref(one);
    }
    doc = json_loadb(copy, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (doc != NULL) {
        check_bits(bw_attack_scan_json(doc));
        json_decref(doc);
    }
    free(copy);
    return 0;
}
