/* The secure-schema lint: a route's schema must bound everything it
 * accepts, or say explicitly that it does not. Run at start-up. */
#ifndef BULWARK_SCHEMALINT_H
#define BULWARK_SCHEMALINT_H

#include <stddef.h>

#include <jansson.h>

/* The annotation that exempts one subschema (not its children) from the
 * lint: "x-bulwark-unbounded": true. */
#define BW_SCHEMA_LINT_OPT_OUT "x-bulwark-unbounded"

/* Checks every subschema that describes a value: a string needs maxLength,
 * enum, const or a bounded format (date, time, date-time, uuid, ipv4, ipv6,
 * hostname); an array needs maxItems, enum or const; an object needs
 * additionalProperties or unevaluatedProperties (not `true`, unless
 * maxProperties bounds it); a value schema needs a type unless it is a
 * $ref, enum, const or a composition; the `true` schema in a value position
 * accepts anything and is refused. Branches of allOf/anyOf/oneOf, then/else
 * and dependentSchemas need no type of their own. Returns 0, or -1 with
 * "<name>#<json pointer>: <problem>" in err. The schema is only read. */
int bw_schema_lint(const json_t *schema, const char *name, char *err, size_t errlen);

#endif
