/* JSON equality as JSON Schema defines it (enum, const, uniqueItems). */
#include <string.h>

#include "schema_internal.h"

bool bw_json_is_integral(long double d)
{
    if (!(d - d == 0)) /* NaN or infinite */
        return false;
    long double a = d < 0 ? -d : d;
    if (a >= 9223372036854775808.0L) /* 2^63: long double has no fraction bits left */
        return true;
    return (long double)(long long)d == d;
}

int bw_json_numcmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    /* long double holds every 64-bit integer exactly on the targets we build for */
    long double x =
        json_is_integer(a) ? (long double)json_integer_value(a) : (long double)json_real_value(a);
    long double y =
        json_is_integer(b) ? (long double)json_integer_value(b) : (long double)json_real_value(b);
    return (x > y) - (x < y);
}

bool bw_json_equal(const json_t *a, const json_t *b, int depth)
{
    if (a == b)
        return true;
    if (depth <= 0 || !a || !b)
        return false;
    if (json_is_number(a) && json_is_number(b))
        return bw_json_numcmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!bw_json_equal(json_array_get(a, i), json_array_get(b, i), depth - 1))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        size_t kl;
        json_t *v;
        json_object_keylen_foreach((json_t *)a, k, kl, v)
        {
            if (!bw_json_equal(v, json_object_getn(b, k, kl), depth - 1))
                return false;
        }
        return true;
    }
    default:
        return true; /* null, true, false: same type means equal */
    }
}
