/* The OpenAPI 3.1 description of a service, generated from its route table
 * and schemas: the routes are the contract, so the document cannot drift. */
#ifndef BULWARK_OPENAPI_H
#define BULWARK_OPENAPI_H

#include <stddef.h>

#include <jansson.h>

#include "bulwark/server.h"

/* Builds the document: every route as an operation (path parameters from
 * the {captures}, the request body from its schema, the permission as a
 * bearer security requirement with "x-permission", problem+json for 4xx
 * and 5xx), plus the framework's own GET /openapi.json. Returns a new
 * reference (caller owns it), or NULL with a message in err. */
json_t *bw_openapi_build(const bw_app *app, char *err, size_t errlen);

#endif
