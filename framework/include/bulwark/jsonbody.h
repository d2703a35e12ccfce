/* Parsing a request body as JSON, strictly, before any schema sees it. */
#ifndef BULWARK_JSONBODY_H
#define BULWARK_JSONBODY_H

#include <stddef.h>

#include <jansson.h>

/* Largest integer every JSON consumer reads exactly (2^53, IEEE double). */
#define BW_JSON_MAX_SAFE_INTEGER 9007199254740992LL

/* Default nesting limit for request bodies. */
#define BW_JSON_DEFAULT_MAX_DEPTH 64

/* Parses len bytes as exactly one JSON value and refuses what a schema
 * cannot be trusted to catch: invalid UTF-8, NUL in strings (\u0000),
 * duplicate object keys, numbers that overflow a double, integers beyond
 * +-2^53 (they would lose precision in other consumers), and nesting deeper
 * than max_depth (the top-level value is depth 1). Returns the value (caller
 * owns one reference) or NULL with *why set to a fixed public sentence that
 * never repeats the input. */
json_t *bw_json_body_parse(const char *body, size_t len, size_t max_depth, const char **why);

#endif
