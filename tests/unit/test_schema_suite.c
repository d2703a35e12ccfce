/* Conformance runner: the official JSON-Schema-Test-Suite (draft 2020-12) beside the repo.
 * Prints "file: N passed, M failed" per file and a total; fails when a required (top-level)
 * file has a failure. Optional files are reported only. BW_SUITE_VERBOSE=1 lists failures. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bulwark/arena.h"
#include "bulwark/schema.h"

#ifndef BW_SOURCE_DIR
#define BW_SOURCE_DIR "."
#endif
#define SUITE BW_SOURCE_DIR "/../shared/testdata/json-schema-test-suite"
#define TESTS SUITE "/tests/draft2020-12"
#define CASE_URI "urn:bw-suite:case"
#define META_URI "https://json-schema.org/draft/2020-12/schema"

/* A small metaschema of our own for the two required tests that validate schemas against
 * the 2020-12 metaschema (ref.json, defs.json); the real one is not stored offline. It
 * checks the shape of the keywords those tests exercise, recursively. */
static const char META_SCHEMA[] =
    "{\"$schema\":\"" META_URI "\",\"$id\":\"" META_URI "\",\"$dynamicAnchor\":\"meta\","
    "\"type\":[\"object\",\"boolean\"],"
    "\"$defs\":{\"count\":{\"type\":\"integer\",\"minimum\":0},"
    "\"types\":{\"enum\":[\"array\",\"boolean\",\"integer\",\"null\",\"number\",\"object\","
    "\"string\"]},"
    "\"map\":{\"type\":\"object\",\"additionalProperties\":{\"$dynamicRef\":\"#meta\"}},"
    "\"list\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"$dynamicRef\":\"#meta\"}}},"
    "\"properties\":{"
    "\"type\":{\"anyOf\":[{\"$ref\":\"#/$defs/types\"},{\"type\":\"array\",\"items\":"
    "{\"$ref\":\"#/$defs/types\"},\"minItems\":1,\"uniqueItems\":true}]},"
    "\"$defs\":{\"$ref\":\"#/$defs/map\"},\"properties\":{\"$ref\":\"#/$defs/map\"},"
    "\"patternProperties\":{\"$ref\":\"#/$defs/map\"},"
    "\"dependentSchemas\":{\"$ref\":\"#/$defs/map\"},"
    "\"allOf\":{\"$ref\":\"#/$defs/list\"},\"anyOf\":{\"$ref\":\"#/$defs/list\"},"
    "\"oneOf\":{\"$ref\":\"#/$defs/list\"},\"prefixItems\":{\"$ref\":\"#/$defs/list\"},"
    "\"items\":{\"$dynamicRef\":\"#meta\"},\"contains\":{\"$dynamicRef\":\"#meta\"},"
    "\"not\":{\"$dynamicRef\":\"#meta\"},\"if\":{\"$dynamicRef\":\"#meta\"},"
    "\"then\":{\"$dynamicRef\":\"#meta\"},\"else\":{\"$dynamicRef\":\"#meta\"},"
    "\"additionalProperties\":{\"$dynamicRef\":\"#meta\"},"
    "\"propertyNames\":{\"$dynamicRef\":\"#meta\"},"
    "\"unevaluatedItems\":{\"$dynamicRef\":\"#meta\"},"
    "\"unevaluatedProperties\":{\"$dynamicRef\":\"#meta\"},"
    "\"maxLength\":{\"$ref\":\"#/$defs/count\"},\"minLength\":{\"$ref\":\"#/$defs/count\"},"
    "\"maxItems\":{\"$ref\":\"#/$defs/count\"},\"minItems\":{\"$ref\":\"#/$defs/count\"},"
    "\"maxProperties\":{\"$ref\":\"#/$defs/count\"},"
    "\"minProperties\":{\"$ref\":\"#/$defs/count\"},"
    "\"maxContains\":{\"$ref\":\"#/$defs/count\"},\"minContains\":{\"$ref\":\"#/$defs/count\"},"
    "\"multipleOf\":{\"type\":\"number\",\"exclusiveMinimum\":0},"
    "\"maximum\":{\"type\":\"number\"},\"minimum\":{\"type\":\"number\"},"
    "\"exclusiveMaximum\":{\"type\":\"number\"},\"exclusiveMinimum\":{\"type\":\"number\"},"
    "\"pattern\":{\"type\":\"string\",\"format\":\"regex\"},"
    "\"required\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"uniqueItems\":true},"
    "\"uniqueItems\":{\"type\":\"boolean\"},\"enum\":{\"type\":\"array\"},"
    "\"$ref\":{\"type\":\"string\"},\"$dynamicRef\":{\"type\":\"string\"},"
    "\"$id\":{\"type\":\"string\"},\"$anchor\":{\"type\":\"string\"},"
    "\"$dynamicAnchor\":{\"type\":\"string\"},\"$schema\":{\"type\":\"string\"},"
    "\"$comment\":{\"type\":\"string\"},\"title\":{\"type\":\"string\"},"
    "\"description\":{\"type\":\"string\"},\"format\":{\"type\":\"string\"}}}";

static const char *const OPTIONAL[] = {
    "optional/bignum.json",
    "optional/ecmascript-regex.json",
    "optional/non-bmp-regex.json",
    "optional/float-overflow.json",
    "optional/format/date-time.json",
    "optional/format/date.json",
    "optional/format/time.json",
    "optional/format/duration.json",
    "optional/format/email.json",
    "optional/format/hostname.json",
    "optional/format/ipv4.json",
    "optional/format/ipv6.json",
    "optional/format/uuid.json",
    "optional/format/uri.json",
    "optional/format/uri-reference.json",
    "optional/format/json-pointer.json",
    "optional/format/regex.json",
};

static int verbose;

static bw_schema_registry *new_registry(json_t *schema)
{
    char err[512];
    bw_schema_registry *r = bw_schema_registry_new();
    json_error_t jerr;
    json_t *meta = json_loads(META_SCHEMA, 0, &jerr);
    if (!r || !meta ||
        bw_schema_registry_add_dir(r, SUITE "/remotes", "http://localhost:1234/", err,
                                   sizeof(err)) < 0 ||
        bw_schema_registry_add(r, META_URI, meta, err, sizeof(err)) ||
        bw_schema_registry_add(r, CASE_URI, json_incref(schema), err, sizeof(err))) {
        if (verbose)
            fprintf(stderr, "  registry: %s\n", meta ? err : jerr.text);
        bw_schema_registry_free(r);
        return NULL;
    }
    return r;
}

/* Runs one file; adds to *pass and *failc. */
static int run_file(const char *rel, unsigned flags, size_t *pass, size_t *failc)
{
    char path[1024];
    if (snprintf(path, sizeof(path), "%s/%s", TESTS, rel) >= (int)sizeof(path))
        return -1;
    json_error_t jerr;
    json_t *cases = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!cases) /* huge integers (bignum.json) do not fit json_int_t */
        cases = json_load_file(path, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
    if (!json_is_array(cases)) {
        fprintf(stderr, "%s: cannot load: %s\n", rel, jerr.text);
        json_decref(cases);
        return -1;
    }
    bw_arena *a = bw_arena_new(0, 0);
    if (!a) {
        json_decref(cases);
        return -1;
    }
    size_t i, k;
    json_t *tc, *t;
    json_array_foreach(cases, i, tc)
    {
        json_t *tests = json_object_get(tc, "tests");
        const char *cdesc = json_string_value(json_object_get(tc, "description"));
        bw_schema_registry *r = new_registry(json_object_get(tc, "schema"));
        char err[512] = "";
        bw_schema *s = r ? bw_schema_compile(r, CASE_URI, flags, err, sizeof(err)) : NULL;
        bw_schema_registry_free(r);
        if (!s && verbose)
            fprintf(stderr, "  %s: [%s] compile: %s\n", rel, cdesc, err);
        json_array_foreach(tests, k, t)
        {
            bool want = json_is_true(json_object_get(t, "valid"));
            int got = -2;
            if (s) {
                bw_schema_error errs[4];
                size_t nerrs = 0;
                got = bw_schema_validate(s, json_object_get(t, "data"), a, errs, 4, &nerrs);
                bw_arena_reset(a);
            }
            if (got == (want ? 1 : 0)) {
                (*pass)++;
            } else {
                (*failc)++;
                if (verbose)
                    fprintf(stderr, "  %s: [%s] %s: expected %s, got %d\n", rel, cdesc,
                            json_string_value(json_object_get(t, "description")),
                            want ? "valid" : "invalid", got);
            }
        }
        bw_schema_free(s);
    }
    bw_arena_free(a);
    json_decref(cases);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    const char *v = getenv("BW_SUITE_VERBOSE");
    verbose = v && *v == '1';
    DIR *d = opendir(TESTS);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", TESTS);
        return 1;
    }
    char *names[256] = {0};
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && nn < 256) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) {
            names[nn] = strdup(e->d_name);
            if (names[nn])
                nn++;
        }
    }
    closedir(d);
    qsort(names, nn, sizeof(names[0]), cmp_str);
    size_t tp = 0, tf = 0, req_fail = 0;
    int status = 0;
    for (size_t i = 0; i < nn; i++) {
        size_t p = 0, f = 0;
        if (run_file(names[i], BW_SCHEMA_FORMAT_ANNOTATION, &p, &f))
            status = 1;
        printf("%s: %zu passed, %zu failed\n", names[i], p, f);
        tp += p;
        tf += f;
        req_fail += f;
        free(names[i]);
    }
    printf("required: %zu passed, %zu failed\n", tp, tf);
    size_t op = 0, of = 0;
    for (size_t i = 0; i < sizeof(OPTIONAL) / sizeof(OPTIONAL[0]); i++) {
        size_t p = 0, f = 0;
        unsigned flags = 0;
        if (strncmp(OPTIONAL[i], "optional/format/", 16) != 0)
            flags |= BW_SCHEMA_FORMAT_ANNOTATION;
        if (run_file(OPTIONAL[i], flags, &p, &f))
            printf("%s: could not be run\n", OPTIONAL[i]);
        printf("%s: %zu passed, %zu failed\n", OPTIONAL[i], p, f);
        op += p;
        of += f;
    }
    printf("optional: %zu passed, %zu failed\n", op, of);
    printf("%zu passed, %zu failed\n", tp + op, tf + of);
    return status || req_fail ? 1 : 0;
}
