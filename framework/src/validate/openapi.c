#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bulwark/err.h"
#include "bulwark/openapi.h"
#include "bulwark/version.h"

static json_t *problem_schema(void)
{
    return json_pack("{s:s, s:{s:{s:s, s:i}, s:{s:s, s:i}, s:{s:s, s:i, s:i}, s:{s:s, s:i},"
                     " s:{s:s, s:i}, s:{s:s, s:i}}, s:[sss]}",
                     "type", "object", "properties", "type", "type", "string", "maxLength", 256,
                     "title", "type", "string", "maxLength", 256, "status", "type", "integer",
                     "minimum", 100, "maximum", 599, "detail", "type", "string", "maxLength", 1024,
                     "request_id", "type", "string", "maxLength", 64, "errors", "type", "array",
                     "maxItems", 20, "required", "type", "title", "status");
}

/* "GET", "/v1/notes/{id}" -> "get_v1_notes_id": unique per route. */
static void operation_id(const char *method, const char *path, char *out, size_t cap)
{
    size_t o = 0, i;

    for (i = 0; method[i] != '\0' && o + 1 < cap; i++)
        out[o++] = (char)tolower((unsigned char)method[i]);
    for (i = 0; path[i] != '\0' && o + 1 < cap; i++) {
        char ch = path[i];
        if (ch == '{' || ch == '}')
            continue;
        out[o++] = isalnum((unsigned char)ch) ? ch : '_';
    }
    out[o] = '\0';
}

/* How deep schemas may $ref each other by file name before the document is
 * refused (a cycle would never end). */
#define BW_OPENAPI_MAX_REF_DEPTH 8

static json_t *schema_for_depth(const bw_app *app, const char *name, int depth, char *err,
                                size_t errlen);

/* Replaces every {"$ref": "other.json"} below node by other.json itself (a
 * $ref with sibling keywords keeps them and gains "allOf": [other]): the
 * document must stand alone, with no file next to it. Refs inside the file
 * ("#/...") are left as they are. 0, or -1 with a message. */
static int inline_refs(const bw_app *app, json_t *node, int depth, char *err, size_t errlen)
{
    if (json_is_array(node)) {
        for (size_t i = 0; i < json_array_size(node); i++) {
            if (inline_refs(app, json_array_get(node, i), depth, err, errlen) != 0)
                return -1;
        }
        return 0;
    }
    if (!json_is_object(node))
        return 0;
    for (void *it = json_object_iter(node); it != NULL; it = json_object_iter_next(node, it)) {
        if (inline_refs(app, json_object_iter_value(it), depth, err, errlen) != 0)
            return -1;
    }
    const char *ref = json_string_value(json_object_get(node, "$ref"));
    if (ref == NULL || ref[0] == '#')
        return 0;
    json_t *target = schema_for_depth(app, ref, depth + 1, err, errlen);
    if (target == NULL)
        return -1;
    json_object_del(node, "$ref");
    if (json_object_size(node) == 0) {
        int rc = json_object_update(node, target);
        json_decref(target);
        return rc;
    }
    return json_object_set_new(node, "allOf", json_pack("[o]", target));
}

static json_t *schema_for_depth(const bw_app *app, const char *name, int depth, char *err,
                                size_t errlen)
{
    if (depth > BW_OPENAPI_MAX_REF_DEPTH) {
        bw_err_set(err, errlen, "openapi: %s: $ref chain deeper than %d (a cycle?)", name,
                   BW_OPENAPI_MAX_REF_DEPTH);
        return NULL;
    }
    for (size_t i = 0; i < app->nschemas; i++) {
        const bw_embedded_file *f = &app->schemas[i];
        if (f->name != NULL && strcmp(f->name, name) == 0) {
            json_error_t jerr;
            json_t *s = json_loadb(f->data, f->len, JSON_REJECT_DUPLICATES, &jerr);
            if (s == NULL) {
                bw_err_set(err, errlen, "openapi: %s is not valid JSON", name);
                return NULL;
            }
            json_object_del(s, "$id");
            json_object_del(s, "$schema");
            if (inline_refs(app, s, depth, err, errlen) != 0) {
                json_decref(s);
                return NULL;
            }
            return s;
        }
    }
    bw_err_set(err, errlen, "openapi: schema %s not found", name);
    return NULL;
}

/* The schema, without the keywords that only make sense in its own file, and
 * with the schemas it names by file name inlined. */
static json_t *schema_for(const bw_app *app, const char *name, char *err, size_t errlen)
{
    return schema_for_depth(app, name, 0, err, errlen);
}

/* Path parameters of a pattern, as OpenAPI parameter objects. */
static json_t *path_parameters(const char *path)
{
    json_t *params = json_array();
    const char *p = path;

    while (params != NULL && (p = strchr(p, '{')) != NULL) {
        const char *end = strchr(p, '}');
        if (end == NULL)
            break;
        json_array_append_new(params, json_pack("{s:s%, s:s, s:b, s:{s:s, s:i}}", "name", p + 1,
                                                (size_t)(end - p - 1), "in", "path", "required", 1,
                                                "schema", "type", "string", "maxLength", 256));
        p = end + 1;
    }
    return params;
}

/* Parameters described by a route's path or query schema: one per property,
 * its schema the property's, required as the schema says. Operation-level
 * parameters replace the path-level string ones of the same name. */
static int schema_parameters(const bw_app *app, const char *schema_name, const char *in,
                             json_t *params, char *err, size_t errlen)
{
    json_t *schema = schema_for(app, schema_name, err, errlen), *prop;
    const json_t *required;
    const char *name;

    if (schema == NULL)
        return -1;
    required = json_object_get(schema, "required");
    json_object_foreach(json_object_get(schema, "properties"), name, prop)
    {
        bool req = strcmp(in, "path") == 0;
        size_t i;
        for (i = 0; !req && i < json_array_size(required); i++) {
            const char *r = json_string_value(json_array_get(required, i));
            req = r != NULL && strcmp(r, name) == 0;
        }
        json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:O}", "name", name, "in", in,
                                                "required", req, "schema", prop));
    }
    json_decref(schema);
    return 0;
}

static json_t *operation(const bw_app *app, const bw_route *rt, char *err, size_t errlen)
{
    char opid[256];
    json_t *op;

    operation_id(rt->method, rt->path, opid, sizeof(opid));
    op = json_pack("{s:s, s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}}}", "operationId", opid, "summary",
                   rt->path, "responses", "2XX", "description", "Success", "4XX", "$ref",
                   "#/components/responses/Problem", "5XX", "$ref",
                   "#/components/responses/Problem");
    if (op == NULL)
        return NULL;
    if (rt->public) {
        json_object_set_new(op, "security", json_array());
    } else {
        json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
        json_object_set_new(op, "x-permission", json_string(rt->permission));
    }
    if (rt->path_schema != NULL || rt->query_schema != NULL || rt->header_schema != NULL) {
        json_t *params = json_array();
        if (params == NULL ||
            (rt->path_schema != NULL &&
             schema_parameters(app, rt->path_schema, "path", params, err, errlen) != 0) ||
            (rt->query_schema != NULL &&
             schema_parameters(app, rt->query_schema, "query", params, err, errlen) != 0) ||
            (rt->header_schema != NULL &&
             schema_parameters(app, rt->header_schema, "header", params, err, errlen) != 0)) {
            json_decref(params);
            json_decref(op);
            return NULL;
        }
        json_object_set_new(op, "parameters", params);
    }
    if (rt->body_schema != NULL) {
        json_t *schema = schema_for(app, rt->body_schema, err, errlen);
        if (schema == NULL) {
            json_decref(op);
            return NULL;
        }
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content",
                                      "application/json", "schema", schema));
    }
    return op;
}

json_t *bw_openapi_build(const bw_app *app, char *err, size_t errlen)
{
    json_t *doc, *paths;
    size_t i;

    doc = json_pack(
        "{s:s, s:{s:s, s:s}, s:{}, s:{s:{s:{s:s, s:s}}, s:{s:o}, s:{s:{s:s, s:{s:{s:{s:s}}}}}}}",
        "openapi", "3.1.0", "info", "title", app->name != NULL ? app->name : "service", "version",
        bw_version(), "paths", "components", "securitySchemes", "bearer", "type", "http", "scheme",
        "bearer", "schemas", "Problem", problem_schema(), "responses", "Problem", "description",
        "An RFC 9457 problem", "content", "application/problem+json", "schema", "$ref",
        "#/components/schemas/Problem");
    if (doc == NULL) {
        bw_err_set(err, errlen, "openapi: out of memory");
        return NULL;
    }
    json_object_set_new(doc, "servers",
                        json_pack("[{s:s, s:s}]", "url", "/", "description", "This service"));
    paths = json_object_get(doc, "paths");
    json_object_set_new(paths, "/openapi.json",
                        json_pack("{s:{s:s, s:s, s:[], s:{s:{s:s}, s:{s:s}}}}", "get",
                                  "operationId", "get_openapi_json", "summary", "This document",
                                  "security", "responses", "200", "description",
                                  "The OpenAPI document", "4XX", "$ref",
                                  "#/components/responses/Problem"));
    for (i = 0; i < app->nroutes; i++) {
        const bw_route *rt = &app->routes[i];
        json_t *item = json_object_get(paths, rt->path), *op;
        char method[16];
        size_t k;

        if (item == NULL) {
            item = json_object();
            json_object_set_new(item, "parameters", path_parameters(rt->path));
            if (json_array_size(json_object_get(item, "parameters")) == 0)
                json_object_del(item, "parameters");
            json_object_set_new(paths, rt->path, item);
        }
        op = operation(app, rt, err, errlen);
        if (op == NULL) {
            json_decref(doc);
            return NULL;
        }
        for (k = 0; rt->method[k] != '\0' && k + 1 < sizeof(method); k++)
            method[k] = (char)tolower((unsigned char)rt->method[k]);
        method[k] = '\0';
        json_object_set_new(item, method, op);
    }
    return doc;
}
