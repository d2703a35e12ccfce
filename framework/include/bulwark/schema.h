/* JSON Schema draft 2020-12 validation on jansson.
 *
 * Schema documents are added to a registry (by URI; no network access ever), then compiled
 * once, at start-up, into an internal form. Validation reads the instance in place, re-parses
 * nothing, and allocates only from the caller's arena. A compiled schema is immutable and may
 * be used by several threads at once. See docs/validation.md for limits and choices. */
#ifndef BULWARK_SCHEMA_H
#define BULWARK_SCHEMA_H

#include <stddef.h>

#include <jansson.h>

#include "bulwark/arena.h"
#include "bulwark/embed.h"

/* Compile flags. */
/* Treat `format` as an annotation (the 2020-12 default); without it, it is asserted. */
#define BW_SCHEMA_FORMAT_ANNOTATION 0x1u

/* Default limits. */
#define BW_SCHEMA_MAX_DEPTH 64             /* instance nesting depth */
#define BW_SCHEMA_MAX_STEPS 1000000u       /* subschema evaluations per validation */
#define BW_SCHEMA_MAX_REGEX_SUBJECT 65536u /* bytes handed to the regex engine */

typedef struct bw_schema_registry bw_schema_registry;
typedef struct bw_schema bw_schema;

/* One validation error. pointer is the instance location (JSON pointer, truncated to fit),
 * keyword a static string, message never contains instance data. */
typedef struct bw_schema_error {
    char pointer[256];
    const char *keyword;
    char message[160];
} bw_schema_error;

/* Creates an empty registry. NULL on OOM. Caller frees with bw_schema_registry_free(). */
bw_schema_registry *bw_schema_registry_new(void);

/* Adds doc, retrievable as uri (absolute, no fragment), and indexes every $id, $anchor and
 * $dynamicAnchor inside it. Steals the caller's reference to doc, also on failure.
 * Returns 0, or -1 with a message in err (duplicate URI or anchor, bad $id or anchor name,
 * nesting over the limit, OOM); after a failure the registry is only fit for freeing. */
int bw_schema_registry_add(bw_schema_registry *r, const char *uri, json_t *doc, char *err,
                           size_t errlen);

/* Adds every *.json file below dir (recursively) as base_uri + relative path
 * (base_uri must end with '/'). Returns the number of files added or -1 with err set. */
int bw_schema_registry_add_dir(bw_schema_registry *r, const char *dir, const char *base_uri,
                               char *err, size_t errlen);

/* Frees the registry and its documents. Compiled schemas stay valid (they hold their own
 * references). NULL is a no-op. */
void bw_schema_registry_free(bw_schema_registry *r);

/* Compiles the schema at uri (a registered URI, optionally with a fragment) with flags
 * BW_SCHEMA_*. Returns NULL with "schema <uri>#<pointer>: reason" in err on an unknown
 * keyword, a bad keyword value or regex, an unresolvable $ref, a $ref cycle without
 * progress, a schema over the size/depth limits, or OOM. Caller frees with bw_schema_free(). */
bw_schema *bw_schema_compile(bw_schema_registry *r, const char *uri, unsigned flags, char *err,
                             size_t errlen);

/* Validates instance. Returns 1 valid, 0 invalid (up to max errors stored in errs, their
 * count in *nerrs; errs may be NULL when max is 0), -1 when a limit (depth, steps) was
 * exceeded or the arena ran out: treat as invalid. Allocates only from a. */
int bw_schema_validate(const bw_schema *s, const json_t *instance, bw_arena *a,
                       bw_schema_error *errs, size_t max, size_t *nerrs);

/* Frees a compiled schema. NULL is a no-op. */
void bw_schema_free(bw_schema *s);

/* Validates doc against a schema compiled into the library (files[0] of a set made by
 * bw_embed_file_set, count its length), registered as uri; for start-up checks of the
 * framework's own files. label names the schema in messages ("config/schema.json"); name,
 * when not NULL, starts every message ("config file x: "). Returns 0 when doc matches, or -1
 * with "<name>: <pointer>: <reason> (<label>)" in err (control bytes of the pointer shown as
 * '?'), or a message saying the schema is missing or does not compile, a validation limit
 * was hit, or memory ran out. Allocates nothing that outlives the call. */
int bw_schema_check_embedded(const bw_embedded_file *files, size_t count, const char *uri,
                             const char *label, const json_t *doc, const char *name, char *err,
                             size_t errlen);

#endif
