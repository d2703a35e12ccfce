/* Start-up check of one of the framework's own files (config, RBAC) against
 * its schema compiled into the library, so every such file is held to its
 * published contract by the same validator and reports errors the same way. */
#include <string.h>

#include "bulwark/err.h"
#include "bulwark/schema.h"

/* Validation of a small start-up document; far above what one needs. */
#define CHECK_ARENA_CHUNK 16384
#define CHECK_ARENA_MAX ((size_t)16 * 1024 * 1024)

int bw_schema_check_embedded(const bw_embedded_file *files, size_t count, const char *uri,
                             const char *label, const json_t *doc, const char *name, char *err,
                             size_t errlen)
{
    const char *pre = name != NULL ? name : "", *sep = name != NULL ? ": " : "";
    bw_schema_registry *reg = NULL;
    bw_schema *schema = NULL;
    bw_arena *arena = NULL;
    json_t *sdoc;
    json_error_t jerr;
    bw_schema_error e;
    size_t n = 0;
    char why[512];
    int rc = -1;

    if (count == 0 || files[0].data == NULL) {
        bw_err_set(err, errlen, "%s%sthe schema %s is missing", pre, sep, label);
        return -1;
    }
    reg = bw_schema_registry_new();
    arena = bw_arena_new(CHECK_ARENA_CHUNK, CHECK_ARENA_MAX);
    if (reg == NULL || arena == NULL) {
        bw_err_set(err, errlen, "%s%sout of memory", pre, sep);
        goto done;
    }
    why[0] = '\0';
    sdoc = json_loadb(files[0].data, files[0].len, JSON_REJECT_DUPLICATES, &jerr);
    if (sdoc == NULL || bw_schema_registry_add(reg, uri, sdoc, why, sizeof(why)) != 0 ||
        (schema = bw_schema_compile(reg, uri, 0, why, sizeof(why))) == NULL) {
        bw_err_set(err, errlen, "%s%sthe schema %s does not compile%s%s", pre, sep, label,
                   why[0] != '\0' ? ": " : "", why);
        goto done;
    }
    int v = bw_schema_validate(schema, doc, arena, &e, 1, &n);
    if (v == 1) {
        rc = 0;
    } else if (v == 0 && n > 0) {
        /* Object keys of the document appear in the pointer as they are. */
        for (char *p = e.pointer; *p != '\0'; p++) {
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                *p = '?';
        }
        bw_err_set(err, errlen, "%s%s%s: %s (%s)", pre, sep, e.pointer[0] != '\0' ? e.pointer : "/",
                   e.message, label);
    } else {
        bw_err_set(err, errlen, "%s%sdoes not match %s", pre, sep, label);
    }
done:
    bw_arena_free(arena);
    bw_schema_free(schema);
    bw_schema_registry_free(reg);
    return rc;
}
