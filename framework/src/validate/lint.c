#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bulwark/err.h"
#include "bulwark/schemalint.h"

/* Schemas are the app's own files, but their nesting is still bounded. */
#define LINT_MAX_DEPTH 64

typedef struct lint {
    const char *name;
    char ptr[1024]; /* JSON pointer of the subschema being checked */
    size_t plen;
    char *err;
    size_t errlen;
} lint;

static int fail(lint *l, const char *problem)
{
    bw_err_set(l->err, l->errlen, "%s#%.*s: %s", l->name, (int)l->plen, l->ptr, problem);
    return -1;
}

/* Appends "/token" (escaped per RFC 6901) to the pointer; returns the old
 * length to restore, or (size_t)-1 when it does not fit. */
static size_t push(lint *l, const char *token)
{
    size_t old = l->plen, i;

    if (l->plen + 1 >= sizeof(l->ptr))
        return (size_t)-1;
    l->ptr[l->plen++] = '/';
    for (i = 0; token[i] != '\0'; i++) {
        const char *esc = token[i] == '~' ? "~0" : token[i] == '/' ? "~1" : NULL;
        size_t n = esc != NULL ? 2 : 1;
        if (l->plen + n >= sizeof(l->ptr)) {
            l->plen = old;
            return (size_t)-1;
        }
        if (esc != NULL)
            memcpy(l->ptr + l->plen, esc, 2);
        else
            l->ptr[l->plen] = token[i];
        l->plen += n;
    }
    return old;
}

static bool has_type(const json_t *s, const char *type)
{
    const json_t *t = json_object_get(s, "type");
    size_t i;

    if (json_is_string(t))
        return strcmp(json_string_value(t), type) == 0;
    for (i = 0; i < json_array_size(t); i++) {
        const json_t *e = json_array_get(t, i);
        if (json_is_string(e) && strcmp(json_string_value(e), type) == 0)
            return true;
    }
    return false;
}

static bool bounded_format(const json_t *s)
{
    static const char *const formats[] = {"date", "time", "date-time", "uuid",
                                          "ipv4", "ipv6", "hostname"};
    const char *f = json_string_value(json_object_get(s, "format"));
    size_t i;

    for (i = 0; f != NULL && i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (strcmp(f, formats[i]) == 0)
            return true;
    }
    return false;
}

static bool has(const json_t *s, const char *kw)
{
    return json_object_get(s, kw) != NULL;
}

/* The checks of one subschema itself. */
static int check_bounds(lint *l, const json_t *s, bool value_position)
{
    bool fixed = has(s, "enum") || has(s, "const");
    const json_t *ap = json_object_get(s, "additionalProperties");
    const json_t *up = json_object_get(s, "unevaluatedProperties");

    if (json_is_true(json_object_get(s, BW_SCHEMA_LINT_OPT_OUT)))
        return 0;
    if (value_position && !has(s, "type") && !fixed && !has(s, "$ref") && !has(s, "$dynamicRef") &&
        !has(s, "allOf") && !has(s, "anyOf") && !has(s, "oneOf"))
        return fail(l, "no type: this schema accepts any value");
    if (has_type(s, "string") && !fixed && !has(s, "maxLength") && !bounded_format(s))
        return fail(l, "string without maxLength (or enum, const, a bounded format)");
    if (has_type(s, "array") && !fixed && !has(s, "maxItems"))
        return fail(l, "array without maxItems");
    if (has_type(s, "object") && !fixed) {
        if (ap == NULL && up == NULL)
            return fail(l, "object without additionalProperties or unevaluatedProperties");
        if ((json_is_true(ap) || json_is_true(up)) && !has(s, "maxProperties"))
            return fail(l, "object open to any property without maxProperties");
    }
    return 0;
}

static int walk(lint *l, const json_t *s, bool value_position, int depth);

/* Lints s[kw] when it is one schema. */
static int child(lint *l, const json_t *s, const char *kw, bool value_position, int depth)
{
    const json_t *c = json_object_get(s, kw);
    size_t old;
    int rc;

    if (c == NULL)
        return 0;
    old = push(l, kw);
    if (old == (size_t)-1)
        return fail(l, "schema nested too deeply");
    rc = walk(l, c, value_position, depth + 1);
    l->plen = old;
    return rc;
}

/* Lints every schema in s[kw] (an object of schemas or an array of them). */
static int children(lint *l, const json_t *s, const char *kw, bool value_position, int depth)
{
    const json_t *c = json_object_get(s, kw);
    size_t old, mark;

    if (c == NULL)
        return 0;
    old = push(l, kw);
    if (old == (size_t)-1)
        return fail(l, "schema nested too deeply");
    mark = l->plen;
    if (json_is_object(c)) {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)c, key, v)
        {
            l->plen = mark;
            if (push(l, key) == (size_t)-1)
                return fail(l, "schema nested too deeply");
            if (walk(l, v, value_position, depth + 1) != 0)
                return -1;
        }
    } else {
        for (size_t i = 0; i < json_array_size(c); i++) {
            char idx[24];
            l->plen = mark;
            snprintf(idx, sizeof(idx), "%zu", i);
            if (push(l, idx) == (size_t)-1)
                return fail(l, "schema nested too deeply");
            if (walk(l, json_array_get(c, i), value_position, depth + 1) != 0)
                return -1;
        }
    }
    l->plen = old;
    return 0;
}

static int walk(lint *l, const json_t *s, bool value_position, int depth)
{
    if (depth > LINT_MAX_DEPTH)
        return fail(l, "schema nested too deeply");
    if (json_is_false(s))
        return 0;
    if (json_is_true(s))
        return value_position ? fail(l, "the schema `true` accepts any value") : 0;
    if (!json_is_object(s))
        return fail(l, "not a schema (object or boolean)");
    if (check_bounds(l, s, value_position) != 0)
        return -1;
    /* Where instance values are described. */
    if (children(l, s, "properties", true, depth) != 0 ||
        children(l, s, "patternProperties", true, depth) != 0 ||
        (json_is_object(json_object_get(s, "additionalProperties")) &&
         child(l, s, "additionalProperties", true, depth) != 0) ||
        (json_is_object(json_object_get(s, "unevaluatedProperties")) &&
         child(l, s, "unevaluatedProperties", true, depth) != 0) ||
        child(l, s, "items", true, depth) != 0 || children(l, s, "prefixItems", true, depth) != 0 ||
        child(l, s, "contains", true, depth) != 0 ||
        (json_is_object(json_object_get(s, "unevaluatedItems")) &&
         child(l, s, "unevaluatedItems", true, depth) != 0) ||
        children(l, s, "$defs", true, depth) != 0)
        return -1;
    /* Branches that refine the same value: no type of their own needed. */
    if (children(l, s, "allOf", false, depth) != 0 || children(l, s, "anyOf", false, depth) != 0 ||
        children(l, s, "oneOf", false, depth) != 0 || child(l, s, "then", false, depth) != 0 ||
        child(l, s, "else", false, depth) != 0 ||
        children(l, s, "dependentSchemas", false, depth) != 0)
        return -1;
    return 0;
}

int bw_schema_lint(const json_t *schema, const char *name, char *err, size_t errlen)
{
    lint l;

    memset(&l, 0, sizeof(l));
    l.name = name;
    l.err = err;
    l.errlen = errlen;
    return walk(&l, schema, true, 0);
}
