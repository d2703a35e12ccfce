/* Alert rules: parsing, formatting, and the per-rule sliding-window count. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/alert.h"
#include "bulwark/err.h"

/* Alerts are themselves audit events under this prefix; they are never counted. */
static const char ALERT_PREFIX[] = "alert.";
#define ALERT_PREFIX_LEN (sizeof(ALERT_PREFIX) - 1)

typedef struct rule_state {
    bw_alert_rule rule;
    int64_t *ring; /* the last `used` event times, oldest at `head` once full */
    uint32_t head; /* next slot to write (the oldest when the ring is full) */
    uint32_t used; /* times held, up to rule.count */
    bool quiet;    /* fired; ignoring events for one window after fired_at */
    int64_t fired_at;
} rule_state;

struct bw_alerts {
    pthread_mutex_t lock;
    size_t n;
    rule_state *rules;
};

static const struct {
    const char *name;
    size_t len;
    uint32_t seconds;
} UNITS[] = {
    [BW_ALERT_UNIT_S] = {"s", 1, 1},
    [BW_ALERT_UNIT_MIN] = {"min", 3, 60},
    [BW_ALERT_UNIT_H] = {"h", 1, 3600},
};

static int is_name_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static int has_alert_prefix(const char *p, size_t len)
{
    return len >= ALERT_PREFIX_LEN && memcmp(p, ALERT_PREFIX, ALERT_PREFIX_LEN) == 0;
}

/* Checks the EVENT part p[0..len) and fills out's event fields. */
static int parse_event(const char *p, size_t len, bw_alert_rule *out, char *why, size_t whylen)
{
    size_t name_len = len;
    size_t part = 0; /* bytes of the current dot-separated part */

    if (len == 0) {
        bw_err_set(why, whylen, "the event name is empty");
        return -1;
    }
    if (len > BW_ALERT_EVENT_MAX) {
        bw_err_set(why, whylen, "the event name is longer than %d bytes", BW_ALERT_EVENT_MAX);
        return -1;
    }
    out->prefix = false;
    if (len >= 2 && p[len - 2] == '.' && p[len - 1] == '*') {
        out->prefix = true;
        name_len = len - 2;
    }
    for (size_t i = 0; i < name_len; i++) {
        if (p[i] == '.') {
            if (part == 0) {
                bw_err_set(why, whylen, "the event name has an empty part");
                return -1;
            }
            part = 0;
        } else if (is_name_byte(p[i])) {
            part++;
        } else {
            bw_err_set(why, whylen,
                       p[i] == '*' ? "'*' is allowed only as a final \".*\""
                                   : "the event name may hold only a-z, 0-9, '_' and '.'");
            return -1;
        }
    }
    if (part == 0) {
        bw_err_set(why, whylen, "the event name has an empty part");
        return -1;
    }
    /* keep the prefix's dot: "auth.*" matches names starting "auth." */
    out->event_len = out->prefix ? name_len + 1 : name_len;
    memcpy(out->event, p, out->event_len);
    out->event[out->event_len] = '\0';
    if (has_alert_prefix(out->event, out->event_len)) {
        bw_err_set(why, whylen, "alert.* events are never counted");
        return -1;
    }
    return 0;
}

/* Reads decimal digits at p[*i..len) (no sign, no leading zero) into *v, at most max. */
static int parse_number(const char *p, size_t len, size_t *i, uint32_t max, uint32_t *v,
                        const char *what, char *why, size_t whylen)
{
    size_t start = *i;
    uint64_t n = 0;

    while (*i < len && p[*i] >= '0' && p[*i] <= '9') {
        n = n * 10 + (uint64_t)(p[*i] - '0');
        if (n > max) {
            bw_err_set(why, whylen, "the %s is above %u", what, max);
            return -1;
        }
        (*i)++;
    }
    if (*i == start) {
        bw_err_set(why, whylen, "the %s is missing", what);
        return -1;
    }
    if (p[start] == '0') {
        bw_err_set(why, whylen,
                   *i - start == 1 ? "the %s must be at least 1" : "the %s has a leading zero",
                   what);
        return -1;
    }
    *v = (uint32_t)n;
    return 0;
}

int bw_alert_rule_parse(const char *s, size_t len, bw_alert_rule *out, char *why, size_t whylen)
{
    const char *space;
    size_t i, ev_len;
    uint32_t count, window_n;

    if (s == NULL || out == NULL) {
        bw_err_set(why, whylen, "no rule");
        return -1;
    }
    memset(out, 0, sizeof(*out));
    space = memchr(s, ' ', len);
    if (space == NULL) {
        bw_err_set(why, whylen, "expected \"EVENT COUNT/WINDOW\"");
        return -1;
    }
    ev_len = (size_t)(space - s);
    if (parse_event(s, ev_len, out, why, whylen) != 0)
        return -1;
    i = ev_len + 1;
    if (parse_number(s, len, &i, BW_ALERT_COUNT_MAX, &count, "count", why, whylen) != 0)
        return -1;
    if (i == len || s[i] != '/') {
        bw_err_set(why, whylen, "expected '/' after the count");
        return -1;
    }
    i++;
    if (parse_number(s, len, &i, BW_ALERT_WINDOW_MAX_S, &window_n, "window", why, whylen) != 0)
        return -1;
    for (size_t u = 0; u < sizeof(UNITS) / sizeof(UNITS[0]); u++) {
        if (len - i == UNITS[u].len && memcmp(s + i, UNITS[u].name, UNITS[u].len) == 0) {
            uint64_t seconds = (uint64_t)window_n * UNITS[u].seconds;

            if (seconds > BW_ALERT_WINDOW_MAX_S) {
                bw_err_set(why, whylen, "the window is longer than 24 h");
                return -1;
            }
            out->count = count;
            out->window_n = window_n;
            out->window_s = (uint32_t)seconds;
            out->unit = (bw_alert_unit)u;
            return 0;
        }
    }
    bw_err_set(why, whylen, "the window needs a unit: s, min or h, and nothing after it");
    return -1;
}

/* The invariants bw_alert_rule_parse establishes; checked wherever a rule comes in. */
static int rule_valid(const bw_alert_rule *r)
{
    return r->event_len >= 1 && r->event_len <= BW_ALERT_EVENT_MAX &&
           r->event[r->event_len] == '\0' && (!r->prefix || r->event[r->event_len - 1] == '.') &&
           r->count >= 1 && r->count <= BW_ALERT_COUNT_MAX && r->window_s >= 1 &&
           r->window_s <= BW_ALERT_WINDOW_MAX_S && (unsigned)r->unit < 3 &&
           (uint64_t)r->window_n * UNITS[r->unit].seconds == r->window_s;
}

int bw_alert_rule_format(const bw_alert_rule *r, char *buf, size_t cap)
{
    int n;

    if (r == NULL || buf == NULL || !rule_valid(r))
        return -1;
    /* the stored prefix ends with its dot; written back it is "NAME.*" */
    n = snprintf(buf, cap, "%.*s%s %u/%u%s", (int)r->event_len, r->event, r->prefix ? "*" : "",
                 (unsigned)r->count, (unsigned)r->window_n, UNITS[r->unit].name);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return n;
}

int bw_alert_rule_matches(const bw_alert_rule *r, const char *event, size_t len)
{
    if (r == NULL || event == NULL || has_alert_prefix(event, len))
        return 0;
    if (r->prefix)
        return len > r->event_len && memcmp(event, r->event, r->event_len) == 0;
    return len == r->event_len && memcmp(event, r->event, len) == 0;
}

bw_alerts *bw_alerts_new(const bw_alert_rule *rules, size_t n)
{
    bw_alerts *a;

    if (n > 0 && rules == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!rule_valid(&rules[i]))
            return NULL;
    }
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    if (pthread_mutex_init(&a->lock, NULL) != 0) {
        free(a);
        return NULL;
    }
    if (n > 0) {
        a->rules = calloc(n, sizeof(*a->rules)); /* calloc checks n * size for overflow */
        if (a->rules == NULL) {
            bw_alerts_free(a);
            return NULL;
        }
    }
    a->n = n;
    for (size_t i = 0; i < n; i++) {
        a->rules[i].rule = rules[i];
        a->rules[i].ring = calloc(rules[i].count, sizeof(int64_t));
        if (a->rules[i].ring == NULL) {
            bw_alerts_free(a);
            return NULL;
        }
    }
    return a;
}

void bw_alerts_free(bw_alerts *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; a->rules != NULL && i < a->n; i++)
        free(a->rules[i].ring);
    free(a->rules);
    (void)pthread_mutex_destroy(&a->lock);
    free(a);
}

size_t bw_alerts_count(const bw_alerts *a)
{
    return a == NULL ? 0 : a->n;
}

/* 1 when `then` is less than window_ms before now, or after now (a clock gone backwards
 * leaves it in the window). Exact over the whole int64 range: no subtraction wraps. */
static int within(int64_t then, int64_t now, int64_t window_ms)
{
    int64_t age;

    if (then > now)
        return 1;
    return !__builtin_sub_overflow(now, then, &age) && age < window_ms;
}

/* Counts one event at now on rule st; returns 1 when the rule fires. Lock held. */
static int count_event(rule_state *st, int64_t now)
{
    const int64_t window_ms = (int64_t)st->rule.window_s * 1000;
    const uint32_t count = st->rule.count;

    if (st->quiet) {
        if (within(st->fired_at, now, window_ms))
            return 0;
        st->quiet = false; /* one window has passed since it fired: count afresh */
        st->used = 0;
        st->head = 0;
    }
    st->ring[st->head] = now;
    st->head = st->head + 1 == count ? 0 : st->head + 1;
    if (st->used < count)
        st->used++;
    /* full ring: ring[head] is now the oldest of the last `count` events */
    if (st->used < count || !within(st->ring[st->head], now, window_ms))
        return 0;
    st->quiet = true;
    st->fired_at = now;
    return 1;
}

size_t bw_alerts_observe(bw_alerts *a, const char *event, int64_t now_ms, bw_alert_fired *fired,
                         size_t cap)
{
    size_t len, nfired = 0;

    if (a == NULL || event == NULL)
        return 0;
    /* one byte beyond the longest name tells a too-long name apart */
    len = strnlen(event, BW_ALERT_EVENT_MAX + 1);
    if (len > BW_ALERT_EVENT_MAX || has_alert_prefix(event, len))
        return 0;
    if (fired == NULL)
        cap = 0;
    if (pthread_mutex_lock(&a->lock) != 0)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        rule_state *st = &a->rules[i];

        if (!bw_alert_rule_matches(&st->rule, event, len) || !count_event(st, now_ms))
            continue;
        if (nfired < cap) {
            fired[nfired].rule = i;
            fired[nfired].count = st->rule.count;
            fired[nfired].window_s = st->rule.window_s;
        }
        nfired++;
    }
    (void)pthread_mutex_unlock(&a->lock);
    return nfired;
}
