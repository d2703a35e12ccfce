/* Saturating arithmetic on times and counters: a result beyond the long long
 * range sticks at its end instead of wrapping, so a clock near its limit or a
 * huge configured period can never turn an expiry into the past. */
#ifndef BULWARK_SATMATH_H
#define BULWARK_SATMATH_H

#include <limits.h>

/* a + b, saturated to [LLONG_MIN, LLONG_MAX]. */
static inline long long bw_sat_add(long long a, long long b)
{
    long long r;

    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? LLONG_MAX : LLONG_MIN;
    return r;
}

/* a - b, saturated to [LLONG_MIN, LLONG_MAX]. */
static inline long long bw_sat_sub(long long a, long long b)
{
    long long r;

    if (__builtin_sub_overflow(a, b, &r))
        return b > 0 ? LLONG_MIN : LLONG_MAX;
    return r;
}

#endif
