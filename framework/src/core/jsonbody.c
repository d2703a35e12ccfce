#include <stdbool.h>

#include "bulwark/jsonbody.h"

/* Iterative walk with a fixed stack: the depth check itself must not
 * recurse as deep as the attacker's input. */
typedef struct frame {
    json_t *v;
    void *iter;  /* next member of an object */
    size_t next; /* next index of an array */
} frame;

#define MAX_STACK 256

static bool integer_safe(const json_t *v)
{
    json_int_t i = json_integer_value(v);

    return i <= BW_JSON_MAX_SAFE_INTEGER && i >= -BW_JSON_MAX_SAFE_INTEGER;
}

/* 0 ok, 1 too deep, 2 unsafe integer */
static int walk(json_t *root, size_t max_depth)
{
    frame stack[MAX_STACK];
    size_t top = 0;

    if (max_depth == 0 || max_depth > MAX_STACK)
        max_depth = MAX_STACK;
    stack[0] = (frame){root, json_is_object(root) ? json_object_iter(root) : NULL, 0};
    if (json_is_integer(root) && !integer_safe(root))
        return 2;
    for (;;) {
        frame *f = &stack[top];
        json_t *child = NULL;

        if (json_is_object(f->v) && f->iter != NULL) {
            child = json_object_iter_value(f->iter);
            f->iter = json_object_iter_next(f->v, f->iter);
        } else if (json_is_array(f->v) && f->next < json_array_size(f->v)) {
            child = json_array_get(f->v, f->next++);
        }
        if (child == NULL) {
            if (top == 0)
                return 0;
            top--;
            continue;
        }
        if (json_is_integer(child) && !integer_safe(child))
            return 2;
        if (json_is_object(child) || json_is_array(child)) {
            if (top + 2 > max_depth)
                return 1;
            top++;
            stack[top] = (frame){child, json_is_object(child) ? json_object_iter(child) : NULL, 0};
        }
    }
}

json_t *bw_json_body_parse(const char *body, size_t len, size_t max_depth, const char **why)
{
    json_error_t jerr;
    /* jansson refuses invalid UTF-8, \u0000 (without JSON_ALLOW_NUL), numbers
     * that overflow, and trailing data; duplicates only when asked. */
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    int rc;

    if (v == NULL) {
        *why = json_error_code(&jerr) == json_error_duplicate_key
                   ? "The request body has a duplicate object key."
                   : "The request body is not valid JSON.";
        return NULL;
    }
    rc = walk(v, max_depth);
    if (rc != 0) {
        *why = rc == 1 ? "The request body is nested too deeply."
                       : "The request body has an integer beyond 2^53.";
        json_decref(v);
        return NULL;
    }
    return v;
}
