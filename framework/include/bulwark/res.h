/* The response a handler builds. Nothing is sent until the handler returns:
 * the pipeline then adds the secure headers, the request id and
 * Content-Length, and writes it. */
#ifndef BULWARK_RES_H
#define BULWARK_RES_H

#include <stddef.h>

#include <jansson.h>

typedef struct bw_res bw_res;

/* Maximum number of headers a handler may add. */
#define BW_RES_MAX_HEADERS 16

/* Adds a header. Returns 0, or -1 (nothing added) when the name is not a
 * token, the value holds CR, LF, NUL or another control character, the name
 * is one the framework owns (Content-Length, Content-Type, Connection,
 * Transfer-Encoding, X-Request-Id), or the table is full. Both strings are
 * copied into the request arena. */
int bw_res_header(bw_res *res, const char *name, const char *value);

/* Sets the status and a JSON body (serialised compactly). Takes ownership of
 * `body` (the reference is released whatever the result). Returns 0 or -1. */
int bw_res_json(bw_res *res, int status, json_t *body);

/* Sets the status and a body of `len` bytes with the given content type; the
 * bytes are copied into the request arena. Returns 0 or -1. */
int bw_res_body(bw_res *res, int status, const char *content_type, const void *body, size_t len);

/* Sets a status with no body (204, 304, or an empty 200). */
void bw_res_empty(bw_res *res, int status);

/* Sets an RFC 9457 problem+json response: type "about:blank" unless given,
 * title from the status, the status, the request id, and `detail` when not
 * NULL. `detail` must be a fixed, public text: never internal error text.
 * Returns 0 or -1. */
int bw_res_problem(bw_res *res, int status, const char *detail);

/* Like bw_res_problem with a problem type URI of the framework's
 * ("urn:bulwark:problem:<kind>"). */
int bw_res_problem_typed(bw_res *res, int status, const char *kind, const char *detail);

/* Like bw_res_problem_typed, with the members of `extra` (an object, e.g.
 * {"errors": [...]}) added to the body. Takes ownership of `extra`. */
int bw_res_problem_extra(bw_res *res, int status, const char *kind, const char *detail,
                         json_t *extra);

/* Status set so far (200 when none). */
int bw_res_get_status(const bw_res *res);

#endif
