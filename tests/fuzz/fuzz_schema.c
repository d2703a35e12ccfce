/* Fuzzes the schema compiler with the input as a schema document, then validates a few fixed
 * instances against whatever compiles. Any result is fine; crashes, leaks, hangs are not. */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bulwark/arena.h"
#include "bulwark/schema.h"

static const char *const INSTANCES[] = {
    "null",
    "true",
    "0",
    "-1.5",
    "1e308",
    "\"\"",
    "\"abc\\u00e9\"",
    "[]",
    "[1,\"a\",{},[null],1.0,1]",
    "{}",
    "{\"a\":1,\"b\":[true,{\"c\":\"d\"}],\"foo\":\"bar\"}",
    "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0] & BW_SCHEMA_FORMAT_ANNOTATION;
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)data + 1, size - 1,
                             JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return 0;
    char err[256];
    bw_schema_registry *r = bw_schema_registry_new();
    if (!r) {
        json_decref(doc);
        return 0;
    }
    bw_schema *s = NULL;
    if (bw_schema_registry_add(r, "http://fuzz.test/s.json", doc, err, sizeof(err)) == 0)
        s = bw_schema_compile(r, "http://fuzz.test/s.json", flags, err, sizeof(err));
    bw_schema_registry_free(r);
    if (s) {
        bw_arena *a = bw_arena_new(4096, 1 << 20);
        for (size_t i = 0; a && i < sizeof(INSTANCES) / sizeof(INSTANCES[0]); i++) {
            json_t *inst = json_loads(INSTANCES[i], JSON_DECODE_ANY, &jerr);
            if (inst) {
                bw_schema_error errs[4];
                size_t n;
                (void)bw_schema_validate(s, inst, a, errs, 4, &n);
            }
            json_decref(inst);
            bw_arena_reset(a);
        }
        bw_arena_free(a);
        bw_schema_free(s);
    }
    return 0;
}
