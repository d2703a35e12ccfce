/* Schema compiler: turns registry documents into bw_snode graphs, once, at start-up.
 * Every subschema is compiled through a worklist (no recursion driven by the document),
 * every $ref is resolved now, and in-place $ref cycles are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"

#define VOCAB_VALIDATION "https://json-schema.org/draft/2020-12/vocab/validation"

typedef struct {
    const json_t *json;
    bw_snode *node;
} memo_slot;

typedef struct {
    bw_snode *node;
    json_t *json;
    size_t res;
    bool validation;
} work_item;

typedef struct {
    bw_schema_registry *r;
    bw_schema *s;
    unsigned flags;
    char *err;
    size_t errlen;
    memo_slot *memo;
    size_t nmemo, capmemo;
    work_item *work;
    size_t nwork, capwork;
    bw_snode **nodes;
    size_t nnodes, capnodes;
    bw_sres **sres; /* by registry resource index */
    bw_snode *yes, *no;
} cctx;

enum kw {
    K_TYPE,
    K_ENUM,
    K_CONST,
    K_MULTIPLE,
    K_MAX,
    K_XMAX,
    K_MIN,
    K_XMIN,
    K_MAXLEN,
    K_MINLEN,
    K_PATTERN,
    K_MAXITEMS,
    K_MINITEMS,
    K_UNIQUE,
    K_MAXCONT,
    K_MINCONT,
    K_MAXPROPS,
    K_MINPROPS,
    K_REQUIRED,
    K_DEPREQ, /* the validation vocabulary ends here */
    K_PROPS,
    K_PPROPS,
    K_ADDL,
    K_PNAMES,
    K_ITEMS,
    K_PREFIX,
    K_CONTAINS,
    K_ALL,
    K_ANY,
    K_ONE,
    K_NOT,
    K_IF,
    K_THEN,
    K_ELSE,
    K_DEPSCH,
    K_UITEMS,
    K_UPROPS,
    K_REF,
    K_DREF,
    K_DEFS,
    K_ID,
    K_ANCHOR,
    K_DANCHOR,
    K_SCHEMA,
    K_VOCAB,
    K_FORMAT,
    K_ANN_STRING,
    K_ANN_ANY,
    K_ANN_BOOL,
    K_CONTENT_SCHEMA,
    K_UNKNOWN
};

static const struct {
    const char *name;
    enum kw kw;
} KEYWORDS[] = {
    {"type", K_TYPE},
    {"enum", K_ENUM},
    {"const", K_CONST},
    {"multipleOf", K_MULTIPLE},
    {"maximum", K_MAX},
    {"exclusiveMaximum", K_XMAX},
    {"minimum", K_MIN},
    {"exclusiveMinimum", K_XMIN},
    {"maxLength", K_MAXLEN},
    {"minLength", K_MINLEN},
    {"pattern", K_PATTERN},
    {"maxItems", K_MAXITEMS},
    {"minItems", K_MINITEMS},
    {"uniqueItems", K_UNIQUE},
    {"maxContains", K_MAXCONT},
    {"minContains", K_MINCONT},
    {"maxProperties", K_MAXPROPS},
    {"minProperties", K_MINPROPS},
    {"required", K_REQUIRED},
    {"dependentRequired", K_DEPREQ},
    {"properties", K_PROPS},
    {"patternProperties", K_PPROPS},
    {"additionalProperties", K_ADDL},
    {"propertyNames", K_PNAMES},
    {"items", K_ITEMS},
    {"prefixItems", K_PREFIX},
    {"contains", K_CONTAINS},
    {"allOf", K_ALL},
    {"anyOf", K_ANY},
    {"oneOf", K_ONE},
    {"not", K_NOT},
    {"if", K_IF},
    {"then", K_THEN},
    {"else", K_ELSE},
    {"dependentSchemas", K_DEPSCH},
    {"unevaluatedItems", K_UITEMS},
    {"unevaluatedProperties", K_UPROPS},
    {"$ref", K_REF},
    {"$dynamicRef", K_DREF},
    {"$defs", K_DEFS},
    {"$id", K_ID},
    {"$anchor", K_ANCHOR},
    {"$dynamicAnchor", K_DANCHOR},
    {"$schema", K_SCHEMA},
    {"$vocabulary", K_VOCAB},
    {"format", K_FORMAT},
    {"$comment", K_ANN_STRING},
    {"title", K_ANN_STRING},
    {"description", K_ANN_STRING},
    {"contentEncoding", K_ANN_STRING},
    {"contentMediaType", K_ANN_STRING},
    {"default", K_ANN_ANY},
    {"examples", K_ANN_ANY},
    {"deprecated", K_ANN_BOOL},
    {"readOnly", K_ANN_BOOL},
    {"writeOnly", K_ANN_BOOL},
    {"contentSchema", K_CONTENT_SCHEMA},
    /* Bulwark's own annotation: the secure-schema lint's opt-out (schemalint.h). */
    {"x-bulwark-unbounded", K_ANN_BOOL},
};

static enum kw lookup_kw(const char *k)
{
    for (size_t i = 0; i < sizeof(KEYWORDS) / sizeof(KEYWORDS[0]); i++)
        if (strcmp(KEYWORDS[i].name, k) == 0)
            return KEYWORDS[i].kw;
    return K_UNKNOWN;
}

/* Reports "schema <loc>/<key>: <why>" and returns -1. */
static int fail(cctx *c, const bw_snode *n, const char *key, const char *why)
{
    snprintf(c->err, c->errlen, "schema %s%s%s: %s", n && n->loc ? n->loc : "?", key ? "/" : "",
             key ? key : "", why);
    return -1;
}

static bw_snode *memo_get(const cctx *c, const json_t *j)
{
    if (!c->capmemo)
        return NULL;
    size_t h = bw_ptr_hash(j, c->capmemo);
    while (c->memo[h].json) {
        if (c->memo[h].json == j)
            return c->memo[h].node;
        h = (h + 1) & (c->capmemo - 1);
    }
    return NULL;
}

static int memo_put(cctx *c, const json_t *j, bw_snode *n)
{
    if ((c->nmemo + 1) * 2 > c->capmemo) {
        size_t nc = c->capmemo ? c->capmemo * 2 : 256;
        memo_slot *m = calloc(nc, sizeof(*m));
        if (!m)
            return -1;
        for (size_t i = 0; i < c->capmemo; i++) {
            if (!c->memo[i].json)
                continue;
            size_t h = bw_ptr_hash(c->memo[i].json, nc);
            while (m[h].json)
                h = (h + 1) & (nc - 1);
            m[h] = c->memo[i];
        }
        free(c->memo);
        c->memo = m;
        c->capmemo = nc;
    }
    size_t h = bw_ptr_hash(j, c->capmemo);
    while (c->memo[h].json)
        h = (h + 1) & (c->capmemo - 1);
    c->memo[h] = (memo_slot){j, n};
    c->nmemo++;
    return 0;
}

/* Copies a JSON pointer token with ~0/~1 escaping onto loc + "/". */
static char *loc_child(cctx *c, const char *loc, const char *key)
{
    size_t ll = strlen(loc), kl = strlen(key);
    if (kl > BW_SCHEMA_MAX_URI || ll > (size_t)4 * BW_SCHEMA_MAX_URI)
        kl = 0; /* absurdly long: locations only serve error messages */
    char *o = bw_arena_alloc(c->s->mem, ll + 2 * kl + 2);
    if (!o)
        return NULL;
    memcpy(o, loc, ll);
    size_t w = ll;
    o[w++] = '/';
    for (size_t i = 0; i < kl; i++) {
        if (key[i] == '~' || key[i] == '/') {
            o[w++] = '~';
            o[w++] = key[i] == '~' ? '0' : '1';
        } else {
            o[w++] = key[i];
        }
    }
    o[w] = '\0';
    return o;
}

static char *loc_index(cctx *c, const char *loc, size_t i)
{
    char num[32];
    snprintf(num, sizeof(num), "%zu", i);
    return loc_child(c, loc, num);
}

/* Returns the node for schema j, queueing its compilation when new. NULL with err set. */
static bw_snode *get_node(cctx *c, json_t *j, const char *loc, size_t res, bool validation)
{
    if (json_is_true(j))
        return c->yes;
    if (json_is_false(j))
        return c->no;
    bw_snode *n = memo_get(c, j);
    if (n)
        return n;
    if (!json_is_object(j)) {
        snprintf(c->err, c->errlen, "schema %s: not a schema (object or boolean)", loc);
        return NULL;
    }
    if (c->nnodes >= BW_SCHEMA_MAX_NODES) {
        snprintf(c->err, c->errlen, "schema %s: more than %d subschemas", loc, BW_SCHEMA_MAX_NODES);
        return NULL;
    }
    size_t known = bw_registry_res_of(c->r, j);
    if (known != SIZE_MAX)
        res = known;
    n = bw_arena_calloc(c->s->mem, 1, sizeof(*n));
    if (!n || memo_put(c, j, n) ||
        bw_vec_grow((void **)&c->work, &c->capwork, c->nwork, sizeof(*c->work), 64) ||
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        bw_vec_grow((void **)&c->nodes, &c->capnodes, c->nnodes, sizeof(*c->nodes), 64)) {
        snprintf(c->err, c->errlen, "schema %s: out of memory", loc);
        return NULL;
    }
    n->boolean = -1;
    n->loc = loc;
    if (json_is_string(json_object_get(j, "$id")))
        loc = c->r->res[res].uri;
    if (!strchr(loc, '#')) { /* a resource root: "uri#", so children read "uri#/key" */
        size_t ll = strlen(loc);
        char *l = bw_arena_alloc(c->s->mem, ll + 2);
        if (l) {
            memcpy(l, loc, ll);
            memcpy(l + ll, "#", 2);
        }
        n->loc = l;
    }
    if (!n->loc) {
        snprintf(c->err, c->errlen, "schema %s: out of memory", loc);
        return NULL;
    }
    n->id = c->nnodes;
    c->nodes[c->nnodes++] = n;
    c->work[c->nwork++] = (work_item){n, j, res, validation};
    return n;
}

/* The dynamic-scope record of registry resource idx, created (and its $dynamicAnchor
 * schemas queued) on first use. */
static const bw_sres *get_sres(cctx *c, size_t idx, bool validation)
{
    if (c->sres[idx])
        return c->sres[idx];
    bw_sres *sr = bw_arena_calloc(c->s->mem, 1, sizeof(*sr));
    if (!sr)
        return NULL;
    sr->idx = idx;
    c->sres[idx] = sr;
    if (!c->r->res[idx].has_dyn)
        return sr;
    size_t count = 0;
    for (size_t i = 0; i < c->r->nanchors; i++)
        count += c->r->anchors[i].res == idx && c->r->anchors[i].dynamic;
    sr->dyn = bw_arena_calloc(c->s->mem, count, sizeof(*sr->dyn));
    if (!sr->dyn)
        return NULL;
    for (size_t i = 0; i < c->r->nanchors; i++) {
        const bw_anchor_info *a = &c->r->anchors[i];
        if (a->res != idx || !a->dynamic)
            continue;
        const char *hash = strchr(a->uri, '#');
        char *loc = bw_arena_strndup(c->s->mem, a->uri, strlen(a->uri));
        if (!loc)
            return NULL;
        /* copies: the registry may be freed before the schema */
        sr->dyn[sr->ndyn].name = loc + (hash + 1 - a->uri);
        sr->dyn[sr->ndyn].s = get_node(c, a->node, loc, idx, validation);
        if (!sr->dyn[sr->ndyn].s)
            return NULL;
        sr->ndyn++;
    }
    return sr;
}

/* Resolves ref (relative to resource res) to a node; *anchor_out receives the anchor name
 * when the target was found through a dynamic anchor of that name. */
static int vocab_validation(cctx *c, bw_snode *n, const json_t *sch, bool *out);

static bw_snode *resolve_ref(cctx *c, bw_snode *n, const char *key, const char *ref, size_t res,
                             const char **dyn_anchor)
{
    char abs[BW_SCHEMA_MAX_URI];
    if (bw_uri_resolve(c->r->res[res].uri, ref, abs, sizeof(abs))) {
        fail(c, n, key, "malformed reference");
        return NULL;
    }
    size_t dl = bw_uri_strip_fragment(abs);
    const char *frag = abs[dl] == '#' ? abs + dl + 1 : "";
    json_t *target = NULL;
    size_t tres = SIZE_MAX;
    bool dynamic = false;
    if (frag[0] == '\0' || frag[0] == '/') {
        tres = bw_registry_find_res(c->r, abs, dl);
        if (tres != SIZE_MAX)
            target = bw_uri_pointer_walk(c->r->res[tres].root, frag, strlen(frag));
    } else {
        const bw_anchor_info *a = bw_registry_find_anchor(c->r, abs);
        if (a) {
            target = a->node;
            tres = a->res;
            dynamic = a->dynamic;
        }
    }
    if (!target) {
        char why[BW_SCHEMA_MAX_URI + 32];
        snprintf(why, sizeof(why), "unresolvable reference %s", abs);
        fail(c, n, key, why);
        return NULL;
    }
    char *loc = bw_arena_strndup(c->s->mem, abs, strlen(abs));
    if (!loc) {
        fail(c, n, key, "out of memory");
        return NULL;
    }
    if (dyn_anchor && dynamic)
        *dyn_anchor = loc + (frag - abs); /* the anchor name, kept in the arena */
    size_t known = bw_registry_res_of(c->r, target);
    if (known != SIZE_MAX)
        tres = known;
    /* the target's dialect: its resource root's $schema (standard 2020-12 without one) */
    bool validation = true;
    const json_t *sch = json_object_get(c->r->res[tres].root, "$schema");
    if (sch && vocab_validation(c, n, sch, &validation))
        return NULL;
    return get_node(c, target, loc, tres, validation);
}

/* Reads a non-negative integer keyword (1.0 counts as an integer). */
static int get_count(cctx *c, bw_snode *n, const char *key, const json_t *v, size_t *out)
{
    double d;
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return fail(c, n, key, "must be a non-negative integer");
        *out = (size_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && (d = json_real_value(v)) >= 0 && bw_json_is_integral(d)) {
        *out = d >= 1e18 ? (size_t)1e18 : (size_t)d;
        return 0;
    }
    return fail(c, n, key, "must be a non-negative integer");
}

static int cmp_prop(const void *a, const void *b)
{
    const bw_sprop *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->name, y->name, x->len);
}

static int add_regex(cctx *c, bw_regex *re)
{
    if (bw_vec_grow((void **)&c->s->regexes, &c->s->capregexes, c->s->nregexes,
                    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
                    sizeof(*c->s->regexes), 64)) {
        bw_regex_free(re);
        return -1;
    }
    c->s->regexes[c->s->nregexes++] = re;
    return 0;
}

static bw_regex *compile_regex(cctx *c, bw_snode *n, const char *key, const json_t *pat)
{
    char why[200];
    if (!json_is_string(pat)) {
        fail(c, n, key, "pattern must be a string");
        return NULL;
    }
    bw_regex *re =
        bw_regex_compile(json_string_value(pat), json_string_length(pat), why, sizeof(why));
    if (!re) {
        fail(c, n, key, why);
        return NULL;
    }
    if (add_regex(c, re)) {
        fail(c, n, key, "out of memory");
        return NULL;
    }
    return re;
}

static bool all_strings(const json_t *a)
{
    size_t i;
    json_t *v;
    if (!json_is_array(a))
        return false;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v))
            return false;
    }
    return true;
}

static int type_bit(const json_t *v, unsigned *bits)
{
    static const struct {
        const char *name;
        unsigned bit;
    } T[] = {{"null", BW_TY_NULL},      {"boolean", BW_TY_BOOL},  {"object", BW_TY_OBJECT},
             {"array", BW_TY_ARRAY},    {"number", BW_TY_NUMBER}, {"string", BW_TY_STRING},
             {"integer", BW_TY_INTEGER}};
    if (!json_is_string(v))
        return -1;
    for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++)
        if (strcmp(json_string_value(v), T[i].name) == 0) {
            *bits |= T[i].bit;
            return 0;
        }
    return -1;
}

/* Compiles a map of schemas (properties, dependentSchemas) into a sorted array. */
static int compile_map(cctx *c, bw_snode *n, const char *key, json_t *m, const work_item *w,
                       bw_sprop **out, size_t *nout)
{
    if (!json_is_object(m))
        return fail(c, n, key, "must be an object");
    size_t cnt = json_object_size(m), i = 0;
    bw_sprop *p = bw_arena_calloc(c->s->mem, cnt ? cnt : 1, sizeof(*p));
    if (!p)
        return fail(c, n, key, "out of memory");
    const char *k;
    size_t kl;
    json_t *v;
    const char *base = loc_child(c, n->loc, key);
    json_object_keylen_foreach(m, k, kl, v)
    {
        const char *cl = base ? loc_child(c, base, k) : NULL;
        if (!cl)
            return fail(c, n, key, "out of memory");
        p[i].name = k;
        p[i].len = kl;
        p[i].s = get_node(c, v, cl, w->res, w->validation);
        if (!p[i].s)
            return -1;
        i++;
    }
    qsort(p, cnt, sizeof(*p), cmp_prop);
    *out = p;
    *nout = cnt;
    return 0;
}

static int compile_list(cctx *c, bw_snode *n, const char *key, json_t *a, const work_item *w,
                        bw_snode ***out, size_t *nout)
{
    if (!json_is_array(a) || json_array_size(a) == 0)
        return fail(c, n, key, "must be a non-empty array of schemas");
    size_t cnt = json_array_size(a), i;
    bw_snode **l = bw_arena_calloc(
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        c->s->mem, cnt, sizeof(*l));
    const char *base = loc_child(c, n->loc, key);
    if (!l || !base)
        return fail(c, n, key, "out of memory");
    json_t *v;
    json_array_foreach(a, i, v)
    {
        const char *cl = loc_index(c, base, i);
        if (!cl)
            return fail(c, n, key, "out of memory");
        l[i] = get_node(c, v, cl, w->res, w->validation);
        if (!l[i])
            return -1;
    }
    *out = l;
    *nout = cnt;
    return 0;
}

static bw_snode *compile_sub(cctx *c, bw_snode *n, const char *key, json_t *v, const work_item *w)
{
    const char *cl = loc_child(c, n->loc, key);
    if (!cl) {
        fail(c, n, key, "out of memory");
        return NULL;
    }
    return get_node(c, v, cl, w->res, w->validation);
}

/* Whether the metaschema named by $schema enables the validation vocabulary. Unknown
 * metaschemas (not in the registry) are taken to be the standard 2020-12 one. */
static int vocab_validation(cctx *c, bw_snode *n, const json_t *sch, bool *out)
{
    char abs[BW_SCHEMA_MAX_URI];
    *out = true;
    if (!json_is_string(sch))
        return fail(c, n, "$schema", "must be a string");
    if (bw_uri_resolve("", json_string_value(sch), abs, sizeof(abs)))
        return fail(c, n, "$schema", "malformed URI");
    size_t idx = bw_registry_find_res(c->r, abs, bw_uri_strip_fragment(abs));
    if (idx == SIZE_MAX)
        return 0;
    json_t *voc = json_object_get(c->r->res[idx].root, "$vocabulary");
    if (!json_is_object(voc))
        return 0;
    *out = json_object_get(voc, VOCAB_VALIDATION) != NULL;
    const char *k;
    json_t *v;
    json_object_foreach(voc, k, v)
    {
        if (strncmp(k, "https://json-schema.org/draft/2020-12/vocab/", 44) != 0 && json_is_true(v))
            return fail(c, n, "$schema", "metaschema requires an unknown vocabulary");
    }
    return 0;
}

static bw_snode **sub_slot(bw_snode *n, enum kw kw)
{
    switch (kw) {
    case K_ADDL:
        return &n->addl;
    case K_PNAMES:
        return &n->pnames;
    case K_ITEMS:
        return &n->items;
    case K_CONTAINS:
        return &n->contains;
    case K_NOT:
        return &n->not_;
    case K_IF:
        return &n->if_;
    case K_THEN:
        return &n->then_;
    case K_ELSE:
        return &n->else_;
    case K_UITEMS:
        return &n->uitems;
    default:
        return &n->uprops;
    }
}

static int compile_node(cctx *c, const work_item *w)
{
    bw_snode *n = w->node;
    json_t *j = w->json;
    bool validation = w->validation;
    json_t *sch = json_object_get(j, "$schema");
    if (sch && vocab_validation(c, n, sch, &validation))
        return -1;
    work_item wi = *w;
    wi.validation = validation;
    w = &wi;
    n->validation = validation;
    n->res = get_sres(c, w->res, validation);
    if (!n->res)
        return fail(c, n, NULL, "out of memory");
    n->min_len = n->min_items = n->min_props = 0;
    n->max_len = n->max_items = n->max_props = n->max_contains = BW_NO_LIMIT;
    n->min_contains = 1;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        enum kw kw = lookup_kw(k);
        if (kw < K_PROPS && !validation)
            continue; /* vocabulary not in use: an annotation */
        switch (kw) {
        case K_TYPE:
            if (json_is_array(v) && json_array_size(v) > 0) {
                size_t i;
                json_t *t;
                json_array_foreach(v, i, t)
                {
                    if (type_bit(t, &n->types))
                        return fail(c, n, k, "unknown type");
                }
            } else if (type_bit(v, &n->types)) {
                return fail(c, n, k, "must be a type name or array of them");
            }
            break;
        case K_ENUM:
            if (!json_is_array(v))
                return fail(c, n, k, "must be an array");
            n->enum_ = v;
            break;
        case K_CONST:
            n->const_ = v;
            break;
        case K_MULTIPLE:
            if (!json_is_number(v) || json_number_value(v) <= 0)
                return fail(c, n, k, "must be a number greater than 0");
            n->multiple_of = v;
            break;
        case K_MAX:
        case K_XMAX:
        case K_MIN:
        case K_XMIN:
            if (!json_is_number(v))
                return fail(c, n, k, "must be a number");
            if (kw == K_MAX)
                n->maximum = v;
            else if (kw == K_XMAX)
                n->xmaximum = v;
            else if (kw == K_MIN)
                n->minimum = v;
            else
                n->xminimum = v;
            break;
        case K_MAXLEN:
            if (get_count(c, n, k, v, &n->max_len))
                return -1;
            break;
        case K_MINLEN:
            if (get_count(c, n, k, v, &n->min_len))
                return -1;
            break;
        case K_MAXITEMS:
            if (get_count(c, n, k, v, &n->max_items))
                return -1;
            break;
        case K_MINITEMS:
            if (get_count(c, n, k, v, &n->min_items))
                return -1;
            break;
        case K_MAXCONT:
            if (get_count(c, n, k, v, &n->max_contains))
                return -1;
            break;
        case K_MINCONT:
            if (get_count(c, n, k, v, &n->min_contains))
                return -1;
            break;
        case K_MAXPROPS:
            if (get_count(c, n, k, v, &n->max_props))
                return -1;
            break;
        case K_MINPROPS:
            if (get_count(c, n, k, v, &n->min_props))
                return -1;
            break;
        case K_PATTERN:
            n->pattern = compile_regex(c, n, k, v);
            if (!n->pattern)
                return -1;
            break;
        case K_UNIQUE:
            if (!json_is_boolean(v))
                return fail(c, n, k, "must be a boolean");
            n->unique = json_is_true(v);
            break;
        case K_REQUIRED:
            if (!all_strings(v))
                return fail(c, n, k, "must be an array of strings");
            n->required = v;
            break;
        case K_DEPREQ: {
            if (!json_is_object(v))
                return fail(c, n, k, "must be an object");
            size_t cnt = json_object_size(v), i = 0;
            n->dep_req = bw_arena_calloc(c->s->mem, cnt ? cnt : 1, sizeof(*n->dep_req));
            if (!n->dep_req)
                return fail(c, n, k, "out of memory");
            const char *dk;
            size_t dl;
            json_t *dv;
            json_object_keylen_foreach(v, dk, dl, dv)
            {
                if (!all_strings(dv))
                    return fail(c, n, k, "values must be arrays of strings");
                n->dep_req[i++] = (bw_sprop){dk, dl, NULL, dv};
            }
            n->ndep_req = cnt;
            break;
        }
        case K_PROPS:
            if (compile_map(c, n, k, v, w, &n->props, &n->nprops))
                return -1;
            break;
        case K_DEPSCH:
            if (compile_map(c, n, k, v, w, &n->dep_schemas, &n->ndep_schemas))
                return -1;
            break;
        case K_PPROPS: {
            if (!json_is_object(v))
                return fail(c, n, k, "must be an object");
            size_t cnt = json_object_size(v), i = 0;
            n->pprops = bw_arena_calloc(c->s->mem, cnt ? cnt : 1, sizeof(*n->pprops));
            const char *base = loc_child(c, n->loc, k);
            if (!n->pprops || !base)
                return fail(c, n, k, "out of memory");
            const char *pk;
            size_t pl;
            json_t *pv;
            json_object_keylen_foreach(v, pk, pl, pv)
            {
                char why[200];
                bw_regex *re = bw_regex_compile(pk, pl, why, sizeof(why));
                if (!re)
                    return fail(c, n, k, why);
                if (add_regex(c, re))
                    return fail(c, n, k, "out of memory");
                const char *cl = loc_child(c, base, pk);
                if (!cl)
                    return fail(c, n, k, "out of memory");
                n->pprops[i].re = re;
                n->pprops[i].s = get_node(c, pv, cl, w->res, w->validation);
                if (!n->pprops[i].s)
                    return -1;
                i++;
            }
            n->npprops = cnt;
            break;
        }
        case K_PREFIX:
            if (compile_list(c, n, k, v, w, &n->prefix, &n->nprefix))
                return -1;
            break;
        case K_ALL:
            if (compile_list(c, n, k, v, w, &n->all, &n->nall))
                return -1;
            break;
        case K_ANY:
            if (compile_list(c, n, k, v, w, &n->any, &n->nany))
                return -1;
            break;
        case K_ONE:
            if (compile_list(c, n, k, v, w, &n->one, &n->none))
                return -1;
            break;
        case K_ADDL:
        case K_PNAMES:
        case K_ITEMS:
        case K_CONTAINS:
        case K_NOT:
        case K_IF:
        case K_THEN:
        case K_ELSE:
        case K_UITEMS:
        case K_UPROPS: {
            bw_snode *sub = compile_sub(c, n, k, v, w);
            if (!sub)
                return -1;
            *sub_slot(n, kw) = sub;
            break;
        }
        case K_DEFS: {
            if (!json_is_object(v))
                return fail(c, n, k, "must be an object");
            const char *base = loc_child(c, n->loc, k);
            if (!base)
                return fail(c, n, k, "out of memory");
            const char *dk;
            json_t *dv;
            /* compiled so that errors in unused definitions still fail closed */
            json_object_foreach(v, dk, dv)
            {
                const char *cl = loc_child(c, base, dk);
                if (!cl || !get_node(c, dv, cl, w->res, w->validation))
                    return cl ? -1 : fail(c, n, k, "out of memory");
            }
            break;
        }
        case K_REF:
            if (!json_is_string(v))
                return fail(c, n, k, "must be a string");
            n->ref = resolve_ref(c, n, k, json_string_value(v), w->res, NULL);
            if (!n->ref)
                return -1;
            break;
        case K_DREF:
            if (!json_is_string(v))
                return fail(c, n, k, "must be a string");
            n->dref = resolve_ref(c, n, k, json_string_value(v), w->res, &n->dref_anchor);
            if (!n->dref)
                return -1;
            break;
        case K_ID:
        case K_ANCHOR:
        case K_DANCHOR:
            if (!json_is_string(v))
                return fail(c, n, k, "must be a string");
            break; /* indexed by the registry */
        case K_SCHEMA:
            break; /* checked above */
        case K_VOCAB:
            if (!json_is_object(v))
                return fail(c, n, k, "must be an object");
            break;
        case K_FORMAT:
            if (!json_is_string(v))
                return fail(c, n, k, "must be a string");
            if (!(c->flags & BW_SCHEMA_FORMAT_ANNOTATION))
                n->format = json_string_value(v);
            break;
        case K_ANN_STRING:
            if (!json_is_string(v))
                return fail(c, n, k, "must be a string");
            break;
        case K_ANN_BOOL:
            if (!json_is_boolean(v))
                return fail(c, n, k, "must be a boolean");
            break;
        case K_ANN_ANY:
        case K_CONTENT_SCHEMA:
            break;
        case K_UNKNOWN:
            return fail(c, n, k, "unknown keyword");
        }
    }
    n->needs_ann = n->uitems || n->uprops;
    return 0;
}

/* The k-th child evaluated at the same instance location, or NULL past the last. */
static const bw_snode SKIP = {.boolean = 1};

static const bw_snode *inplace_child(const bw_snode *n, size_t k)
{
    bw_snode *fixed[] = {n->ref, n->dref, n->not_, n->if_, n->then_, n->else_};
    size_t nf = sizeof(fixed) / sizeof(fixed[0]);
    if (k < nf)
        return fixed[k] ? fixed[k] : &SKIP;
    k -= nf;
    if (k < n->nall)
        return n->all[k];
    k -= n->nall;
    if (k < n->nany)
        return n->any[k];
    k -= n->nany;
    if (k < n->none)
        return n->one[k];
    k -= n->none;
    if (k < n->ndep_schemas)
        return n->dep_schemas[k].s;
    return NULL;
}

/* Refuses a cycle of in-place applicators ($ref, allOf, ...): evaluating it would never
 * advance through the instance. Iterative DFS; colour 1 = on the path, 2 = done. */
static int check_cycles(cctx *c)
{
    size_t nn = c->nnodes;
    unsigned char *colour = calloc(nn ? nn : 1, 1);
    struct frame {
        const bw_snode *n;
        size_t k;
    } *stack = malloc((nn ? nn : 1) * sizeof(*stack));
    int rc = 0;
    if (!colour || !stack) {
        free(colour);
        free(stack);
        snprintf(c->err, c->errlen, "schema: out of memory");
        return -1;
    }
    for (size_t i = 0; i < nn && rc == 0; i++) {
        if (colour[i])
            continue;
        size_t sp = 0;
        stack[sp++] = (struct frame){c->nodes[i], 0};
        colour[i] = 1;
        while (sp > 0) {
            struct frame *f = &stack[sp - 1];
            const bw_snode *ch = inplace_child(f->n, f->k++);
            if (!ch) {
                colour[f->n->id] = 2;
                sp--;
                continue;
            }
            if (ch->boolean >= 0 || colour[ch->id] == 2)
                continue;
            if (colour[ch->id] == 1) {
                snprintf(c->err, c->errlen,
                         "schema %s: reference cycle without progress through the instance",
                         ch->loc);
                rc = -1;
                break;
            }
            colour[ch->id] = 1;
            stack[sp++] = (struct frame){ch, 0};
        }
    }
    free(colour);
    free(stack);
    return rc;
}

void bw_schema_free(bw_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nregexes; i++)
        bw_regex_free(s->regexes[i]);
    free(s->regexes);
    for (size_t i = 0; i < s->ndocs; i++)
        json_decref(s->docs[i]);
    free(s->docs);
    bw_arena_free(s->mem);
    free(s);
}

bw_schema *bw_schema_compile(bw_schema_registry *r, const char *uri, unsigned flags, char *err,
                             size_t errlen)
{
    if (!r || !uri || (flags & ~BW_SCHEMA_FORMAT_ANNOTATION)) {
        snprintf(err, errlen, "schema: bad argument");
        return NULL;
    }
    cctx c = {.r = r, .flags = flags, .err = err, .errlen = errlen};
    c.s = calloc(1, sizeof(*c.s));
    c.sres = calloc(r->nres ? r->nres : 1,
                    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
                    sizeof(*c.sres));
    if (!c.s || !c.sres || !(c.s->mem = bw_arena_new(16384, 0))) {
        free(c.sres);
        bw_schema_free(c.s);
        snprintf(err, errlen, "schema %s: out of memory", uri);
        return NULL;
    }
    int rc = -1;
    c.yes = bw_arena_calloc(c.s->mem, 1, sizeof(bw_snode));
    c.no = bw_arena_calloc(c.s->mem, 1, sizeof(bw_snode));
    if (c.yes && c.no) {
        c.yes->boolean = 1;
        c.no->boolean = 0;
        c.yes->loc = c.no->loc = "";
        bw_snode probe = {.boolean = -1, .loc = uri};
        size_t res = bw_registry_find_res(r, uri, bw_uri_strip_fragment(uri));
        char ref[BW_SCHEMA_MAX_URI];
        if (res == SIZE_MAX || snprintf(ref, sizeof(ref), "%s", uri) >= (int)sizeof(ref)) {
            snprintf(err, errlen, "schema %s: not in the registry", uri);
        } else {
            c.s->root = resolve_ref(&c, &probe, NULL, ref, res, NULL);
            rc = c.s->root ? 0 : -1;
            while (rc == 0 && c.nwork > 0) {
                work_item w = c.work[--c.nwork];
                rc = compile_node(&c, &w);
            }
            if (rc == 0)
                rc = check_cycles(&c);
        }
    }
    if (rc == 0) {
        c.s->docs = calloc(r->ndocs ? r->ndocs : 1, sizeof(json_t *));
        if (!c.s->docs) {
            rc = -1;
            snprintf(err, errlen, "schema %s: out of memory", uri);
        } else {
            for (size_t i = 0; i < r->ndocs; i++)
                c.s->docs[i] = json_incref(r->docs[i]);
            c.s->ndocs = r->ndocs;
        }
    }
    free(c.memo);
    free(c.work);
    free(c.nodes);
    free(c.sres);
    if (rc != 0) {
        bw_schema_free(c.s);
        return NULL;
    }
    return c.s;
}
