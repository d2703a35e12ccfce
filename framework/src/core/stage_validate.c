/* The validation stage: path captures and query strings coerced by their
 * schemas' types, headers, and the body, each against the route's compiled
 * schema (docs/validation.md). */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bulwark/log.h"
#include "stage.h"

/* Most errors a 400 lists: enough to fix a request, bounded to answer. */
#define BW_MAX_SCHEMA_ERRORS 20

/* The type a schema gives property `name` ("integer", ...), or NULL. */
static const char *property_type(const json_t *doc, const char *name, bool items)
{
    const json_t *p = json_object_get(json_object_get(doc, "properties"), name);

    if (items)
        p = json_object_get(p, "items");
    return json_string_value(json_object_get(p, "type"));
}

/* A path or query string as the JSON value its schema asks for. A string
 * that does not read as that type stays a string, so validation reports a
 * type error for it (strictly: no sign on integers but '-', no spaces, no
 * hex, no "1.0" for an integer). */
static json_t *coerce(const char *v, const char *type)
{
    size_t len = strlen(v), i = v[0] == '-' ? 1 : 0;

    if (type == NULL)
        return json_string(v);
    if (strcmp(type, "integer") == 0 && len > i && len - i <= 15) {
        for (; i < len && v[i] >= '0' && v[i] <= '9'; i++)
            ;
        if (i == len)
            return json_integer(strtoll(v, NULL, 10));
    } else if (strcmp(type, "number") == 0 && len > 0 && len <= 64 &&
               ((v[0] >= '0' && v[0] <= '9') || v[0] == '-')) {
        char *end;
        double d = strtod(v, &end);
        if (*end == '\0' && isfinite(d))
            return json_real(d);
    } else if (strcmp(type, "boolean") == 0) {
        if (strcmp(v, "true") == 0)
            return json_true();
        if (strcmp(v, "false") == 0)
            return json_false();
    }
    return json_string(v);
}

/* The path captures as an object, coerced per the route's path schema. */
static json_t *params_doc(bw_ctx *c, const json_t *schema_doc)
{
    json_t *o = json_object();
    size_t i;

    for (i = 0; o != NULL && i < c->req.nparams; i++)
        json_object_set_new(o, c->req.param_names[i],
                            coerce(c->req.param_values[i],
                                   property_type(schema_doc, c->req.param_names[i], false)));
    return o;
}

/* The query as an object, coerced per the route's query schema. A name
 * given twice becomes an array where the schema says "array", and is
 * refused otherwise (which value would the handler see?). */
static json_t *query_doc(bw_ctx *c, const json_t *schema_doc, bool *repeated)
{
    json_t *o = json_object();
    size_t i;

    *repeated = false;
    for (i = 0; o != NULL && i < c->req.nquery; i++) {
        const char *name = c->req.query[i].name, *value = c->req.query[i].value;
        const char *type = property_type(schema_doc, name, false);
        json_t *have = json_object_get(o, name);

        if (type != NULL && strcmp(type, "array") == 0) {
            if (have == NULL) {
                have = json_array();
                json_object_set_new(o, name, have);
            }
            json_array_append_new(have, coerce(value, property_type(schema_doc, name, true)));
        } else if (have != NULL) {
            *repeated = true;
        } else {
            json_object_set_new(o, name, coerce(value, type));
        }
    }
    return o;
}

/* The request headers as an object keyed by lower-case name (the first of
 * repeated names wins, as bw_req_header answers). */
static json_t *headers_doc(bw_ctx *c)
{
    json_t *o = json_object();
    char name[128];
    int i;

    for (i = 0; o != NULL && i < c->req.ri->num_headers; i++) {
        const char *n = c->req.ri->http_headers[i].name;
        size_t k;
        for (k = 0; n[k] != '\0' && k + 1 < sizeof(name); k++)
            name[k] = (char)tolower((unsigned char)n[k]);
        name[k] = '\0';
        if (json_object_get(o, name) == NULL)
            json_object_set_new(o, name, json_string(c->req.ri->http_headers[i].value));
    }
    return o;
}

/* Validates one part; appends its failures ("in" names the part) to list.
 * Returns 1 valid, 0 invalid, -1 over a limit. */
static int validate_part(bw_ctx *c, const bw_schema *schema, const json_t *doc, const char *in,
                         json_t *list)
{
    bw_schema_error errs[BW_MAX_SCHEMA_ERRORS];
    size_t n = 0, i, room = BW_MAX_SCHEMA_ERRORS - json_array_size(list);
    int rc;

    if (schema == NULL || doc == NULL)
        return 1;
    rc = bw_schema_validate(schema, doc, c->req.arena, errs, room, &n);
    for (i = 0; rc == 0 && i < n; i++)
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:s}", "in", in, "pointer", errs[i].pointer, "keyword",
                            errs[i].keyword ? errs[i].keyword : "", "message", errs[i].message));
    return rc;
}

/* Stage: path, query and body against the route's compiled schemas. 400
 * lists the failures (in, pointer, keyword, message) and never echoes a
 * value. Path and query strings are coerced first; the handler reads the
 * coerced values (bw_req_param_int, bw_req_query_json). */
bool bw_stage_validate(bw_ctx *c)
{
    const bw_app *app = c->srv->app;
    const bw_route_schemas *rs;
    bool repeated = false;
    json_t *list, *headers = NULL;
    int a, b, d, h;

    /* The framework's own routes (GET /openapi.json) are not in the app's
     * table and have no schemas. */
    if ((uintptr_t)c->route < (uintptr_t)app->routes ||
        (uintptr_t)c->route >= (uintptr_t)(app->routes + app->nroutes))
        return true;
    rs = &c->srv->schemas[c->route - app->routes];

    if (rs->path != NULL)
        c->req.params = params_doc(c, rs->path_doc);
    if (rs->query != NULL)
        c->req.query_doc = query_doc(c, rs->query_doc, &repeated);
    if (repeated) {
        bw_res_problem_typed(&c->res, 400, "validation-failed",
                             "A query parameter is repeated where one value is expected.");
        return false;
    }
    list = json_array();
    if (list == NULL) {
        bw_res_problem(&c->res, 500, NULL);
        return false;
    }
    if (rs->header != NULL)
        headers = headers_doc(c);
    a = validate_part(c, rs->path, c->req.params, "path", list);
    b = validate_part(c, rs->query, c->req.query_doc, "query", list);
    h = validate_part(c, rs->header, headers, "header", list);
    d = validate_part(c, rs->body, c->req.json, "body", list);
    json_decref(headers);
    if (a == 1 && b == 1 && h == 1 && d == 1) {
        json_decref(list);
        return true;
    }
    if (a < 0 || b < 0 || h < 0 || d < 0) {
        json_decref(list);
        bw_res_problem_typed(&c->res, 400, "validation-failed",
                             "The request is too complex to validate.");
        return false;
    }
    bw_res_problem_extra(&c->res, 400, "validation-failed",
                         "The request does not match its schema.",
                         json_pack("{s:o}", "errors", list));
    return false;
}
