/* Structures shared by the validator's files (registry, compiler, evaluator, regex, URI,
 * equality). Nothing outside framework/src/validate includes this. */
#ifndef BW_SCHEMA_INTERNAL_H
#define BW_SCHEMA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bulwark/arena.h"
#include "bulwark/schema.h"

/* Compile-time limits. */
#define BW_SCHEMA_MAX_NODES 100000     /* compiled subschemas per schema */
#define BW_SCHEMA_MAX_SCHEMA_DEPTH 128 /* nesting of subschemas in one document */
#define BW_SCHEMA_MAX_URI 2048
#define BW_SCHEMA_MAX_EVAL_DEPTH 1024 /* nested evaluations (instance depth x in-place) */

/* ---- URI (uri.c) ---- */
/* Resolves ref against base (RFC 3986 section 5.2) into out. Returns 0 or -1 (too long or
 * malformed). */
int bw_uri_resolve(const char *base, const char *ref, char *out, size_t outlen);
/* Length of uri without its fragment. */
size_t bw_uri_strip_fragment(const char *uri);
/* Decodes one percent-encoded JSON pointer fragment segment-wise and walks doc with it.
 * frag is the text after '#'. Returns the target or NULL. */
json_t *bw_uri_pointer_walk(json_t *doc, const char *frag, size_t len);

/* ---- Registry (registry.c) ---- */
typedef struct bw_res_info {
    char *uri;    /* absolute, no fragment */
    json_t *root; /* borrowed from a document */
    bool has_dyn; /* owns at least one $dynamicAnchor */
} bw_res_info;

typedef struct bw_anchor_info {
    char *uri; /* resource uri + '#' + name */
    json_t *node;
    size_t res; /* owning resource index */
    bool dynamic;
} bw_anchor_info;

typedef struct bw_loc_info { /* per schema object: its base and resource */
    const json_t *node;
    size_t res;
} bw_loc_info;

struct bw_schema_registry {
    json_t **docs;
    size_t ndocs, capdocs;
    bw_res_info *res;
    size_t nres, capres;
    bw_anchor_info *anchors;
    size_t nanchors, capanchors;
    bw_loc_info *locs; /* open-addressing hash keyed by node pointer */
    size_t nlocs, caplocs;
};

/* Looks up a resource by absolute URI without fragment; SIZE_MAX if absent. */
size_t bw_registry_find_res(const bw_schema_registry *r, const char *uri, size_t len);
/* Looks up an anchor "uri#name"; NULL if absent. */
const bw_anchor_info *bw_registry_find_anchor(const bw_schema_registry *r, const char *uri);
/* Resource index of a schema object seen while indexing; SIZE_MAX if not a known schema. */
size_t bw_registry_res_of(const bw_schema_registry *r, const json_t *node);

/* ---- Regex (regex.c) ---- */
typedef struct bw_regex bw_regex;
/* Compiles an ECMA-262 pattern (UTF-8, len bytes) with PCRE2. NULL with err set. */
bw_regex *bw_regex_compile(const char *pat, size_t len, char *err, size_t errlen);
/* Per-validation matching state: PCRE2's match data lives in the validation arena. */
typedef struct bw_regex_scratch {
    bw_arena *a;
    void *md; /* pcre2_match_data, created on first use */
} bw_regex_scratch;
/* 1 match, 0 no match, -1 limit exceeded, subject too long, arena exhausted or internal
 * error. */
int bw_regex_match(const bw_regex *re, const char *s, size_t len, bw_regex_scratch *sc);
void bw_regex_free(bw_regex *re);

/* ---- JSON equality (equal.c) ---- */
/* JSON Schema equality: numbers by value (1 == 1.0), objects regardless of key order.
 * depth bounds recursion; beyond it values compare unequal. */
bool bw_json_equal(const json_t *a, const json_t *b, int depth);
/* True when d is finite and has no fractional part (JSON Schema: 1.0 is an integer).
 * No libm: the library does not link it. */
bool bw_json_is_integral(long double d);
/* Compares two JSON numbers exactly: <0, 0, >0. */
int bw_json_numcmp(const json_t *a, const json_t *b);

/* ---- Compiled form ---- */
enum {
    BW_TY_NULL = 1,
    BW_TY_BOOL = 2,
    BW_TY_OBJECT = 4,
    BW_TY_ARRAY = 8,
    BW_TY_NUMBER = 16,
    BW_TY_STRING = 32,
    BW_TY_INTEGER = 64,
};

typedef struct bw_snode bw_snode;
typedef struct bw_sres bw_sres;

typedef struct bw_sprop {
    const char *name; /* borrowed from the schema document */
    size_t len;
    bw_snode *s;
    const json_t *req; /* dependentRequired: array of strings */
} bw_sprop;

typedef struct bw_spattern {
    bw_regex *re;
    bw_snode *s;
} bw_spattern;

typedef struct bw_sdyn {
    const char *name;
    bw_snode *s;
} bw_sdyn;

struct bw_sres { /* a schema resource, for the dynamic scope */
    size_t idx;  /* registry resource index */
    bw_sdyn *dyn;
    size_t ndyn;
};

#define BW_NO_LIMIT SIZE_MAX

struct bw_snode {
    int boolean;     /* -1: object schema; 0/1: boolean schema */
    bool validation; /* validation vocabulary active */
    bool unique;
    unsigned types;  /* BW_TY_* mask; 0 = no type keyword */
    const char *loc; /* "uri#pointer", for compile errors */
    const bw_sres *res;
    const json_t *enum_, *const_;
    const json_t *multiple_of, *minimum, *maximum, *xminimum, *xmaximum;
    size_t min_len, max_len, min_items, max_items, min_contains, max_contains, min_props, max_props;
    bw_regex *pattern;
    const json_t *required;
    const char *format;
    bw_sprop *dep_req;
    size_t ndep_req;
    bw_sprop *props; /* sorted by (len, bytes) */
    size_t nprops;
    bw_spattern *pprops;
    size_t npprops;
    bw_snode *addl, *pnames, *items, *contains, *not_, *if_, *then_, *else_;
    bw_snode **prefix, **all, **any, **one;
    size_t nprefix, nall, nany, none;
    bw_sprop *dep_schemas;
    size_t ndep_schemas;
    bw_snode *uitems, *uprops;
    bw_snode *ref;
    bw_snode *dref;          /* static target of $dynamicRef */
    const char *dref_anchor; /* set when the dynamic lookup applies */
    bool needs_ann;          /* has unevaluatedItems/unevaluatedProperties */
    size_t id;               /* compile order */
};

struct bw_schema {
    bw_arena *mem; /* nodes, strings */
    bw_snode *root;
    json_t **docs; /* references held */
    size_t ndocs;
    bw_regex **regexes;
    size_t nregexes, capregexes;
};

/* vec.c: growing arrays and pointer-keyed hash slots, shared by the registry
 * and the compiler. */

/* Makes room for one more element of size sz in *arr (n used of *cap),
 * doubling from `first`. 0, or -1 on overflow or OOM (*arr unchanged). */
int bw_vec_grow(void **arr, size_t *cap, size_t n, size_t sz, size_t first);

/* A slot for pointer p in a table of cap entries (cap a power of two). */
size_t bw_ptr_hash(const void *p, size_t cap);

#endif
