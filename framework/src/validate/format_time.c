/* RFC 3339 date-time, full-date, full-time and the appendix A duration grammar. */
#include <stdbool.h>
#include <stddef.h>

#include "format_internal.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads exactly n ASCII digits at s[*i] into *out; the caller guarantees n <= 4. */
static bool digits(const char *s, size_t len, size_t *i, size_t n, int *out)
{
    int v = 0;

    if (len - *i < n)
        return false;
    for (size_t k = 0; k < n; k++) {
        char c = s[*i + k];
        if (!is_digit(c))
            return false;
        v = v * 10 + (c - '0');
    }
    *i += n;
    *out = v;
    return true;
}

static bool expect(const char *s, size_t len, size_t *i, char c)
{
    if (*i >= len || s[*i] != c)
        return false;
    (*i)++;
    return true;
}

static bool leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && leap_year(y))
        return 29;
    return days[m - 1];
}

/* full-date = date-fullyear "-" date-month "-" date-mday */
static bool full_date(const char *s, size_t len, size_t *i)
{
    int y, m, d;

    if (!digits(s, len, i, 4, &y) || !expect(s, len, i, '-') || !digits(s, len, i, 2, &m) ||
        !expect(s, len, i, '-') || !digits(s, len, i, 2, &d))
        return false;
    return m >= 1 && m <= 12 && d >= 1 && d <= month_days(y, m);
}

/* full-time = partial-time time-offset. A leap second (60) is accepted only when the time,
 * converted to UTC with the offset, is 23:59:60. */
static bool full_time(const char *s, size_t len, size_t *i)
{
    int h, m, sec, oh = 0, om = 0, sign = 0;

    if (!digits(s, len, i, 2, &h) || !expect(s, len, i, ':') || !digits(s, len, i, 2, &m) ||
        !expect(s, len, i, ':') || !digits(s, len, i, 2, &sec))
        return false;
    if (h > 23 || m > 59 || sec > 60)
        return false;
    if (*i < len && s[*i] == '.') {
        size_t start = ++(*i);
        while (*i < len && is_digit(s[*i]))
            (*i)++;
        if (*i == start)
            return false;
    }
    if (*i >= len)
        return false;
    if (s[*i] == 'Z' || s[*i] == 'z') {
        (*i)++;
    } else if (s[*i] == '+' || s[*i] == '-') {
        sign = s[*i] == '+' ? 1 : -1;
        (*i)++;
        if (!digits(s, len, i, 2, &oh) || !expect(s, len, i, ':') || !digits(s, len, i, 2, &om))
            return false;
        if (oh > 23 || om > 59)
            return false;
    } else {
        return false;
    }
    if (sec == 60) {
        int utc = (h * 60 + m - sign * (oh * 60 + om) + 2 * 1440) % 1440;
        if (utc != 23 * 60 + 59)
            return false;
    }
    return true;
}

bool bw_format_date(const char *s, size_t len)
{
    size_t i = 0;

    return full_date(s, len, &i) && i == len;
}

bool bw_format_time(const char *s, size_t len)
{
    size_t i = 0;

    return full_time(s, len, &i) && i == len;
}

bool bw_format_date_time(const char *s, size_t len)
{
    size_t i = 0;

    if (!full_date(s, len, &i) || i >= len || (s[i] != 'T' && s[i] != 't'))
        return false;
    i++;
    return full_time(s, len, &i) && i == len;
}

/* Reads one duration element, 1*DIGIT followed by a unit letter, at s[*i]; *unit gets the letter
 * (or whatever follows the digits, which the caller then refuses). */
static bool element(const char *s, size_t len, size_t *i, char *unit)
{
    size_t start = *i;

    while (*i < len && is_digit(s[*i]))
        (*i)++;
    if (*i == start || *i >= len)
        return false;
    *unit = s[(*i)++];
    return true;
}

/* Position of unit u in order[0..3), or -1. */
static int unit_index(const char *order, char u)
{
    for (int k = 0; k < 3; k++)
        if (order[k] == u)
            return k;
    return -1;
}

/* Parses elements from s[*i] up to the end or (for the date part) a 'T'. The units must be a
 * contiguous ascending run of `order` (appendix A: year [month [day]], month [day], day; and
 * hour [minute [second]], minute [second], second). Returns the number of elements or -1. */
static int run(const char *s, size_t len, size_t *i, const char *order)
{
    int prev = -1, count = 0;

    while (*i < len && s[*i] != 'T') {
        char unit;
        int idx;

        if (!element(s, len, i, &unit))
            return -1;
        idx = unit_index(order, unit);
        if (idx < 0 || (prev >= 0 && idx != prev + 1))
            return -1;
        prev = idx;
        count++;
    }
    return count;
}

/* duration = "P" (dur-date / dur-time / dur-week) */
bool bw_format_duration(const char *s, size_t len)
{
    size_t i = 1;
    int n;

    if (len < 2 || s[0] != 'P')
        return false;
    if (s[len - 1] == 'W') {
        char unit;
        return element(s, len, &i, &unit) && i == len;
    }
    n = run(s, len, &i, "YMD");
    if (n < 0)
        return false;
    if (i == len)
        return n > 0;
    i++; /* the 'T' */
    n = run(s, len, &i, "HMS");
    return n > 0 && i == len;
}
