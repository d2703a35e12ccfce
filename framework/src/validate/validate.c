/* Schema evaluation: walks a compiled schema over a jansson instance. Reads the instance in
 * place; annotation bitmaps (for unevaluated*) come from the caller's arena. Recursion is
 * bounded by the instance depth limit and BW_SCHEMA_MAX_EVAL_DEPTH, work by a step budget. */
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bulwark/format.h"
#include "schema_internal.h"

typedef struct ipath { /* instance location, as a chain on the C stack */
    const struct ipath *up;
    const char *key; /* NULL: array index */
    size_t klen, idx;
} ipath;

typedef struct scope { /* dynamic scope: resources entered, innermost first */
    const bw_sres *res;
    const struct scope *up;
} scope;

typedef struct { /* the instance: a jansson value, or a bare string (a property name) */
    const json_t *j;
    const char *s;
    size_t len;
} inst;

typedef struct {
    bw_arena *a;
    bw_schema_error *errs;
    size_t max, n;
    unsigned long steps;
    int depth;
    bw_regex_scratch rx;
} vctx;

static void path_render(const ipath *p, char *out, size_t outlen)
{
    const ipath *chain[BW_SCHEMA_MAX_DEPTH + 8];
    size_t n = 0;
    for (; p && n < sizeof(chain) / sizeof(chain[0]); p = p->up)
        chain[n++] = p;
    size_t w = 0;
    out[0] = '\0';
    while (n > 0) {
        const ipath *e = chain[--n];
        char num[24];
        const char *k = e->key;
        size_t kl = e->klen;
        if (!k) {
            int nl = snprintf(num, sizeof(num), "%zu", e->idx);
            k = num;
            kl = nl > 0 ? (size_t)nl : 0;
        }
        if (w + 2 >= outlen)
            break;
        out[w++] = '/';
        for (size_t i = 0; i < kl && w + 3 < outlen; i++) {
            if (k[i] == '~' || k[i] == '/') {
                out[w++] = '~';
                out[w++] = k[i] == '~' ? '0' : '1';
            } else {
                out[w++] = (char)(k[i] ? k[i] : '?');
            }
        }
        out[w] = '\0';
    }
}

__attribute__((format(printf, 5, 6))) static void report(vctx *c, bool quiet, const ipath *p,
                                                         const char *kw, const char *fmt, ...)
{
    if (quiet || c->n >= c->max)
        return;
    bw_schema_error *e = &c->errs[c->n++];
    path_render(p, e->pointer, sizeof(e->pointer));
    e->keyword = kw;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    if (r < 0)
        e->message[0] = '\0';
}

static unsigned inst_type(const inst *in)
{
    if (!in->j)
        return BW_TY_STRING;
    switch (json_typeof(in->j)) {
    case JSON_OBJECT:
        return BW_TY_OBJECT;
    case JSON_ARRAY:
        return BW_TY_ARRAY;
    case JSON_STRING:
        return BW_TY_STRING;
    case JSON_INTEGER:
        return BW_TY_NUMBER | BW_TY_INTEGER;
    case JSON_REAL: {
        double d = json_real_value(in->j);
        return bw_json_is_integral(d) ? BW_TY_NUMBER | BW_TY_INTEGER : BW_TY_NUMBER;
    }
    case JSON_TRUE:
    case JSON_FALSE:
        return BW_TY_BOOL;
    default:
        return BW_TY_NULL;
    }
}

static bool inst_equal(const inst *in, const json_t *v)
{
    if (in->j)
        return bw_json_equal(in->j, v, BW_SCHEMA_MAX_DEPTH * 2);
    return json_is_string(v) && json_string_length(v) == in->len &&
           memcmp(json_string_value(v), in->s, in->len) == 0;
}

static size_t utf8_codepoints(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* Splits a finite non-zero double into odd mantissa * 2^exp, exactly. */
static void split_double(double d, uint64_t *mant, int *exp)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    int e = (int)((bits >> 52) & 0x7FF);
    uint64_t m = bits & ((UINT64_C(1) << 52) - 1);
    if (e == 0) {
        e = 1; /* subnormal */
    } else {
        m |= UINT64_C(1) << 52;
    }
    e -= 1075;
    while (m && !(m & 1)) {
        m >>= 1;
        e++;
    }
    *mant = m;
    *exp = e;
}

/* Exact test for quotients too large for the tolerant one: x / m is an integer iff m's odd
 * mantissa divides x's and x's power of two is at least m's. */
static bool exact_multiple(double x, double m)
{
    if (x == 0)
        return true;
    uint64_t mx, mm;
    int ex, em;
    split_double(x, &mx, &ex);
    split_double(m, &mm, &em);
    return mm != 0 && mx % mm == 0 && ex >= em;
}

static bool multiple_of(const json_t *x, const json_t *m)
{
    if (json_is_integer(x) && json_is_integer(m))
        return json_integer_value(x) % json_integer_value(m) == 0;
    /* long double: the quotient of doubles cannot overflow (1e308 / 0.5) */
    long double q = (long double)json_number_value(x) / (long double)json_number_value(m);
    if (!(q - q == 0))
        return false;
    long double a = q < 0 ? -q : q;
    if (a >= 4611686018427387904.0L) /* 2^62: past this, exact arithmetic (no overflow) */
        return exact_multiple(json_number_value(x), json_number_value(m));
    long double nearest = (long double)(long long)(q < 0 ? q - 0.5L : q + 0.5L);
    long double diff = q - nearest;
    /* tolerate the rounding of the operands (0.0075 / 0.0001) */
    return (diff < 0 ? -diff : diff) <= a * 4 * DBL_EPSILON;
}

static uint8_t *bits_new(vctx *c, size_t n)
{
    return bw_arena_calloc(c->a, (n + 7) / 8 + 1, 1);
}

static void bits_set(uint8_t *b, size_t i)
{
    if (b)
        b[i / 8] |= (uint8_t)(1u << (i % 8));
}

static bool bits_get(const uint8_t *b, size_t i)
{
    if (b == NULL)
        return false;
    return (b[i / 8] >> (i % 8)) & 1u;
}

static void bits_or(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (dst && src)
        for (size_t i = 0; i < (n + 7) / 8; i++)
            dst[i] |= src[i];
}

static const bw_sprop *find_prop(const bw_sprop *p, size_t n, const char *k, size_t kl)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = p[mid].len != kl ? (p[mid].len < kl ? -1 : 1) : memcmp(p[mid].name, k, kl);
        if (c == 0)
            return &p[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int eval(vctx *c, const bw_snode *s, const inst *in, const ipath *path, const scope *sc,
                uint8_t *ev, bool quiet, int idepth);

/* Evaluates a child instance (array item or property value) under keyword kw. */
static int eval_child(vctx *c, const char *kw, const bw_snode *s, const json_t *v, const ipath *p,
                      const scope *sc, bool quiet, int idepth)
{
    if (s->boolean == 0) { /* name the keyword that forbids it, not "false" */
        report(c, quiet, p, kw, "not allowed here");
        return 0;
    }
    /* depth counts nested containers: 64 levels of arrays/objects are allowed */
    if (idepth + 1 >= BW_SCHEMA_MAX_DEPTH && (json_is_object(v) || json_is_array(v)))
        return -1;
    inst ci = {v, NULL, 0};
    if (json_is_string(v)) {
        ci.s = json_string_value(v);
        ci.len = json_string_length(v);
    }
    return eval(c, s, &ci, p, sc, NULL, quiet, idepth + 1);
}

/* Runs the object keywords; sets *ok false on failure. */
static int eval_object(vctx *c, const bw_snode *s, const json_t *j, const ipath *path,
                       const scope *sc, uint8_t *evb, bool quiet, int idepth, bool *ok)
{
    size_t size = json_object_size(j);
    if (s->validation) {
        if (size < s->min_props) {
            report(c, quiet, path, "minProperties", "fewer than %zu properties", s->min_props);
            *ok = false;
        }
        if (size > s->max_props) {
            report(c, quiet, path, "maxProperties", "more than %zu properties", s->max_props);
            *ok = false;
        }
        if (s->required) {
            size_t i;
            json_t *r;
            json_array_foreach(s->required, i, r)
            {
                if (!json_object_getn(j, json_string_value(r), json_string_length(r))) {
                    report(c, quiet, path, "required", "required property '%.64s' is missing",
                           json_string_value(r));
                    *ok = false;
                }
            }
        }
        for (size_t d = 0; d < s->ndep_req; d++) {
            if (!json_object_getn(j, s->dep_req[d].name, s->dep_req[d].len))
                continue;
            size_t i;
            json_t *r;
            json_array_foreach(s->dep_req[d].req, i, r)
            {
                if (!json_object_getn(j, json_string_value(r), json_string_length(r))) {
                    report(c, quiet, path, "dependentRequired",
                           "property '%.64s' is required by '%.64s'", json_string_value(r),
                           s->dep_req[d].name);
                    *ok = false;
                }
            }
        }
        if (!*ok && (quiet || c->n >= c->max))
            return 0;
    }
    if (!s->props && !s->pprops && !s->addl && !s->pnames)
        return 0;
    size_t idx = 0;
    const char *k;
    size_t kl;
    json_t *v;
    json_object_keylen_foreach((json_t *)j, k, kl, v)
    {
        ipath p = {path, k, kl, 0};
        bool matched = false;
        int r;
        const bw_sprop *pr = s->props ? find_prop(s->props, s->nprops, k, kl) : NULL;
        if (pr) {
            matched = true;
            bits_set(evb, idx);
            if ((r = eval_child(c, "properties", pr->s, v, &p, sc, quiet, idepth)) < 0)
                return -1;
            if (!r)
                *ok = false;
        }
        for (size_t q = 0; q < s->npprops; q++) {
            int m = bw_regex_match(s->pprops[q].re, k, kl, &c->rx);
            if (m < 0) {
                report(c, quiet, &p, "patternProperties", "pattern match limit exceeded");
                *ok = false;
                continue;
            }
            if (!m)
                continue;
            matched = true;
            bits_set(evb, idx);
            if ((r = eval_child(c, "patternProperties", s->pprops[q].s, v, &p, sc, quiet, idepth)) <
                0)
                return -1;
            if (!r)
                *ok = false;
        }
        if (!matched && s->addl) {
            bits_set(evb, idx);
            if ((r = eval_child(c, "additionalProperties", s->addl, v, &p, sc, quiet, idepth)) < 0)
                return -1;
            if (!r)
                *ok = false;
        }
        if (s->pnames) {
            inst name = {NULL, k, kl};
            if ((r = eval(c, s->pnames, &name, &p, sc, NULL, quiet, idepth + 1)) < 0)
                return -1;
            if (!r)
                *ok = false;
        }
        if (!*ok && (quiet || c->n >= c->max))
            return 0;
        idx++;
    }
    return 0;
}

static int eval_array(vctx *c, const bw_snode *s, const json_t *j, const ipath *path,
                      const scope *sc, uint8_t *evb, bool quiet, int idepth, bool *ok)
{
    size_t n = json_array_size(j);
    if (s->validation) {
        if (n < s->min_items) {
            report(c, quiet, path, "minItems", "fewer than %zu items", s->min_items);
            *ok = false;
        }
        if (n > s->max_items) {
            report(c, quiet, path, "maxItems", "more than %zu items", s->max_items);
            *ok = false;
        }
        if (s->unique && n > 1) {
            if (n - 1 > (size_t)2 * BW_SCHEMA_MAX_STEPS / n)
                return -1; /* pairwise comparison would exceed the step budget */
            c->steps += n * (n - 1) / 2;
            if (c->steps > BW_SCHEMA_MAX_STEPS)
                return -1;
            for (size_t a = 0; a < n && *ok; a++)
                for (size_t b = a + 1; b < n; b++)
                    if (bw_json_equal(json_array_get(j, a), json_array_get(j, b),
                                      BW_SCHEMA_MAX_DEPTH * 2)) {
                        report(c, quiet, path, "uniqueItems", "items %zu and %zu are equal", a, b);
                        *ok = false;
                        break;
                    }
        }
        if (!*ok && (quiet || c->n >= c->max))
            return 0;
    }
    int r;
    size_t upto = s->items ? n : (s->nprefix < n ? s->nprefix : n);
    for (size_t i = 0; i < upto; i++) {
        const bw_snode *sub = i < s->nprefix ? s->prefix[i] : s->items;
        ipath p = {path, NULL, 0, i};
        bits_set(evb, i);
        if ((r = eval_child(c, i < s->nprefix ? "prefixItems" : "items", sub, json_array_get(j, i),
                            &p, sc, quiet, idepth)) < 0)
            return -1;
        if (!r) {
            *ok = false;
            if (quiet || c->n >= c->max)
                return 0;
        }
    }
    if (s->contains) {
        size_t count = 0;
        size_t minc = s->validation ? s->min_contains : 1;
        size_t maxc = s->validation ? s->max_contains : BW_NO_LIMIT;
        /* all items only when annotations or maxContains need them */
        for (size_t i = 0; i < n && (evb || maxc != BW_NO_LIMIT || count < minc); i++) {
            ipath p = {path, NULL, 0, i};
            if ((r = eval_child(c, "contains", s->contains, json_array_get(j, i), &p, sc, true,
                                idepth)) < 0)
                return -1;
            if (r) {
                count++;
                bits_set(evb, i);
            }
        }
        if (count < minc) {
            report(c, quiet, path, "contains", "fewer than %zu items match contains", minc);
            *ok = false;
        }
        if (count > maxc) {
            report(c, quiet, path, "maxContains", "more than %zu items match contains", maxc);
            *ok = false;
        }
    }
    return 0;
}

static int eval_scalar(vctx *c, const bw_snode *s, const inst *in, unsigned ty, const ipath *path,
                       bool quiet, bool *ok)
{
    if (ty & BW_TY_STRING) {
        if (s->min_len > 0 || s->max_len != BW_NO_LIMIT) {
            size_t cp = utf8_codepoints(in->s, in->len);
            if (cp < s->min_len) {
                report(c, quiet, path, "minLength", "shorter than %zu characters", s->min_len);
                *ok = false;
            }
            if (cp > s->max_len) {
                report(c, quiet, path, "maxLength", "longer than %zu characters", s->max_len);
                *ok = false;
            }
        }
        if (s->pattern) {
            int m = bw_regex_match(s->pattern, in->s, in->len, &c->rx);
            if (m != 1) {
                report(c, quiet, path, "pattern",
                       m < 0 ? "pattern match limit exceeded" : "does not match the pattern");
                *ok = false;
            }
        }
        if (s->format && !bw_format_check(s->format, in->s, in->len)) {
            report(c, quiet, path, "format", "not a valid %.40s", s->format);
            *ok = false;
        }
    } else if (ty & BW_TY_NUMBER) {
        const json_t *x = in->j;
        if (s->multiple_of && !multiple_of(x, s->multiple_of)) {
            report(c, quiet, path, "multipleOf", "not a multiple of %g",
                   json_number_value(s->multiple_of));
            *ok = false;
        }
        if (s->maximum && bw_json_numcmp(x, s->maximum) > 0) {
            report(c, quiet, path, "maximum", "greater than %g", json_number_value(s->maximum));
            *ok = false;
        }
        if (s->xmaximum && bw_json_numcmp(x, s->xmaximum) >= 0) {
            report(c, quiet, path, "exclusiveMaximum", "not less than %g",
                   json_number_value(s->xmaximum));
            *ok = false;
        }
        if (s->minimum && bw_json_numcmp(x, s->minimum) < 0) {
            report(c, quiet, path, "minimum", "less than %g", json_number_value(s->minimum));
            *ok = false;
        }
        if (s->xminimum && bw_json_numcmp(x, s->xminimum) <= 0) {
            report(c, quiet, path, "exclusiveMinimum", "not greater than %g",
                   json_number_value(s->xminimum));
            *ok = false;
        }
    }
    return 0;
}

/* The $dynamicRef target: the outermost resource in scope with the anchor, else static. */
static const bw_snode *dynamic_target(const bw_snode *s, const scope *sc)
{
    const bw_snode *t = s->dref;
    if (!s->dref_anchor)
        return t;
    for (; sc; sc = sc->up)
        for (size_t i = 0; i < sc->res->ndyn; i++)
            if (strcmp(sc->res->dyn[i].name, s->dref_anchor) == 0)
                t = sc->res->dyn[i].s;
    return t;
}

/* Evaluates an in-place subschema into a scratch bitmap; merges it into evb when valid. */
static int eval_branch(vctx *c, const bw_snode *s, const inst *in, const ipath *path,
                       const scope *sc, uint8_t *evb, size_t nann, int idepth, bool quiet)
{
    uint8_t *t = NULL;
    if (evb && !(t = bits_new(c, nann)))
        return -1;
    int r = eval(c, s, in, path, sc, t, quiet, idepth);
    if (r == 1)
        bits_or(evb, t, nann);
    return r;
}

static int eval_inplace(vctx *c, const bw_snode *s, const inst *in, const ipath *path,
                        const scope *sc, uint8_t *evb, size_t nann, bool quiet, int idepth,
                        bool *ok)
{
    int r;
#define STOP_IF_DONE()                                                                             \
    do {                                                                                           \
        if (!*ok && (quiet || c->n >= c->max))                                                     \
            return 0;                                                                              \
    } while (0)
    if (s->ref) {
        if ((r = eval(c, s->ref, in, path, sc, evb, quiet, idepth)) < 0)
            return -1;
        *ok = *ok && r;
        STOP_IF_DONE();
    }
    if (s->dref) {
        if ((r = eval(c, dynamic_target(s, sc), in, path, sc, evb, quiet, idepth)) < 0)
            return -1;
        *ok = *ok && r;
        STOP_IF_DONE();
    }
    for (size_t i = 0; i < s->nall; i++) {
        if ((r = eval(c, s->all[i], in, path, sc, evb, quiet, idepth)) < 0)
            return -1;
        *ok = *ok && r;
        STOP_IF_DONE();
    }
    if (s->nany) {
        bool any = false;
        for (size_t i = 0; i < s->nany && (!any || evb); i++) {
            if ((r = eval_branch(c, s->any[i], in, path, sc, evb, nann, idepth, true)) < 0)
                return -1;
            any = any || r;
        }
        if (!any) {
            report(c, quiet, path, "anyOf", "matches none of the anyOf schemas");
            *ok = false;
            STOP_IF_DONE();
        }
    }
    if (s->none) {
        size_t count = 0;
        uint8_t *keep = NULL;
        for (size_t i = 0; i < s->none && count < 2; i++) {
            uint8_t *t = NULL;
            if (evb && !(t = bits_new(c, nann)))
                return -1;
            if ((r = eval(c, s->one[i], in, path, sc, t, true, idepth)) < 0)
                return -1;
            if (r) {
                count++;
                keep = t;
            }
        }
        if (count != 1) {
            report(c, quiet, path, "oneOf",
                   count ? "matches more than one oneOf schema" : "matches no oneOf schema");
            *ok = false;
            STOP_IF_DONE();
        } else {
            bits_or(evb, keep, nann);
        }
    }
    if (s->not_) {
        if ((r = eval(c, s->not_, in, path, sc, NULL, true, idepth)) < 0)
            return -1;
        if (r) {
            report(c, quiet, path, "not", "matches a schema it must not match");
            *ok = false;
            STOP_IF_DONE();
        }
    }
    if (s->if_) {
        if ((r = eval_branch(c, s->if_, in, path, sc, evb, nann, idepth, true)) < 0)
            return -1;
        const bw_snode *next = r ? s->then_ : s->else_;
        if (next) {
            if ((r = eval(c, next, in, path, sc, evb, quiet, idepth)) < 0)
                return -1;
            *ok = *ok && r;
            STOP_IF_DONE();
        }
    }
    if (s->ndep_schemas && json_is_object(in->j)) {
        for (size_t i = 0; i < s->ndep_schemas; i++) {
            if (!json_object_getn(in->j, s->dep_schemas[i].name, s->dep_schemas[i].len))
                continue;
            if ((r = eval(c, s->dep_schemas[i].s, in, path, sc, evb, quiet, idepth)) < 0)
                return -1;
            *ok = *ok && r;
            STOP_IF_DONE();
        }
    }
#undef STOP_IF_DONE
    return 0;
}

static int eval_unevaluated(vctx *c, const bw_snode *s, const json_t *j, unsigned ty,
                            const ipath *path, const scope *sc, uint8_t *evb, bool quiet,
                            int idepth, bool *ok)
{
    int r;
    if (s->uitems && (ty & BW_TY_ARRAY)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (bits_get(evb, i))
                continue;
            ipath p = {path, NULL, 0, i};
            if ((r = eval_child(c, "unevaluatedItems", s->uitems, json_array_get(j, i), &p, sc,
                                quiet, idepth)) < 0)
                return -1;
            if (!r) {
                *ok = false;
                if (quiet || c->n >= c->max)
                    return 0;
            }
            bits_set(evb, i);
        }
    }
    if (s->uprops && (ty & BW_TY_OBJECT)) {
        size_t idx = 0;
        const char *k;
        size_t kl;
        json_t *v;
        json_object_keylen_foreach((json_t *)j, k, kl, v)
        {
            if (!bits_get(evb, idx)) {
                ipath p = {path, k, kl, 0};
                if ((r = eval_child(c, "unevaluatedProperties", s->uprops, v, &p, sc, quiet,
                                    idepth)) < 0)
                    return -1;
                if (!r) {
                    *ok = false;
                    if (quiet || c->n >= c->max)
                        return 0;
                }
                bits_set(evb, idx);
            }
            idx++;
        }
    }
    return 0;
}

static const char *type_name(unsigned bits)
{
    static const char *const names[] = {"null",   "boolean", "object", "array",
                                        "number", "string",  "integer"};
    for (unsigned i = 0; i < 7; i++)
        if (bits & (1u << i))
            return names[i];
    return "?";
}

static int eval(vctx *c, const bw_snode *s, const inst *in, const ipath *path, const scope *sc,
                uint8_t *ev, bool quiet, int idepth)
{
    if (s->boolean == 1)
        return 1;
    if (s->boolean == 0) {
        report(c, quiet, path, "false", "no value is allowed here");
        return 0;
    }
    if (++c->steps > BW_SCHEMA_MAX_STEPS || c->depth >= BW_SCHEMA_MAX_EVAL_DEPTH)
        return -1;
    c->depth++;
    scope inner = {s->res, sc};
    if (!sc || sc->res != s->res)
        sc = &inner;
    unsigned ty = inst_type(in);
    bool ok = true;
    int rc = 0;
    size_t nann = 0;
    uint8_t *evb = NULL; /* annotations for this node's instance, when someone needs them */
    if (ty & BW_TY_OBJECT)
        nann = json_object_size(in->j);
    else if (ty & BW_TY_ARRAY)
        nann = json_array_size(in->j);
    if (ty & (BW_TY_OBJECT | BW_TY_ARRAY)) {
        /* unevaluated* sees only this schema's own annotations: a fresh bitmap */
        evb = s->needs_ann ? bits_new(c, nann) : ev;
        if (s->needs_ann && !evb) {
            rc = -1;
            goto out;
        }
    }
    if (s->validation) {
        if (s->types && !(s->types & ty)) {
            report(c, quiet, path, "type", "expected %s", type_name(s->types));
            ok = false;
        }
        if (s->const_ && !inst_equal(in, s->const_)) {
            report(c, quiet, path, "const", "not the expected constant");
            ok = false;
        }
        if (s->enum_) {
            size_t i;
            json_t *v;
            bool found = false;
            json_array_foreach(s->enum_, i, v)
            {
                if ((found = inst_equal(in, v)))
                    break;
            }
            if (!found) {
                report(c, quiet, path, "enum", "not one of the allowed values");
                ok = false;
            }
        }
        if (!ok && (quiet || c->n >= c->max))
            goto out;
        if ((ty & (BW_TY_STRING | BW_TY_NUMBER)) && eval_scalar(c, s, in, ty, path, quiet, &ok))
            rc = -1;
    } else if (s->format && (ty & BW_TY_STRING) && !bw_format_check(s->format, in->s, in->len)) {
        report(c, quiet, path, "format", "not a valid %.40s", s->format);
        ok = false;
    }
    if (rc < 0 || (!ok && (quiet || c->n >= c->max)))
        goto out;
    if (ty & BW_TY_OBJECT)
        rc = eval_object(c, s, in->j, path, sc, evb, quiet, idepth, &ok);
    else if (ty & BW_TY_ARRAY)
        rc = eval_array(c, s, in->j, path, sc, evb, quiet, idepth, &ok);
    if (rc < 0 || (!ok && (quiet || c->n >= c->max)))
        goto out;
    rc = eval_inplace(c, s, in, path, sc, evb, nann, quiet, idepth, &ok);
    if (rc < 0 || (!ok && (quiet || c->n >= c->max)))
        goto out;
    if (s->uitems || s->uprops)
        rc = eval_unevaluated(c, s, in->j, ty, path, sc, evb, quiet, idepth, &ok);
    if (rc == 0 && ok && ev && evb != ev)
        bits_or(ev, evb, nann);
out:
    c->depth--;
    return rc < 0 ? -1 : ok;
}

int bw_schema_validate(const bw_schema *s, const json_t *instance, bw_arena *a,
                       bw_schema_error *errs, size_t max, size_t *nerrs)
{
    if (nerrs)
        *nerrs = 0;
    if (!s || !instance || !a || (max && !errs))
        return -1;
    vctx c = {.a = a, .errs = errs, .max = max, .rx = {a, NULL}};
    inst in = {instance, NULL, 0};
    if (json_is_string(instance)) {
        in.s = json_string_value(instance);
        in.len = json_string_length(instance);
    }
    int r = eval(&c, s->root, &in, NULL, NULL, NULL, false, 0);
    if (nerrs)
        *nerrs = c.n;
    return r;
}
