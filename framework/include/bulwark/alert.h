/* Alert rules: "raise an alert when COUNT matching audit events happen within WINDOW".
 *
 * A rule is the text "EVENT COUNT/WINDOW", for example "auth.login.failure 50/60s" or
 * "ban.* 10/5min". EVENT is a taxonomy name ([a-z0-9_]+ parts joined by dots, at most
 * BW_ALERT_EVENT_MAX bytes) matched exactly, or a prefix "NAME.*" matching every event whose
 * name starts with "NAME.". COUNT is 1..BW_ALERT_COUNT_MAX; WINDOW is a number with the unit
 * s, min or h, from 1 s to 24 h. Numbers are plain decimal digits without sign or leading zero.
 *
 * A rule fires on the event that makes COUNT matching events within the last WINDOW: each
 * rule keeps the times of its last COUNT events in a ring, and fires when the oldest of them
 * is newer than now - WINDOW. After firing it stays quiet (ignores its events) until one
 * WINDOW has passed since it fired; then counting starts afresh. So a sustained flood raises
 * one alert per WINDOW per rule, never one per event.
 *
 * Events named "alert.*" (which is what a fired rule becomes) are never counted, so alerts
 * cannot feed themselves; a rule that could only match them is refused.
 *
 * This module is pure: no I/O, no clock (the caller passes times), no global state. */
#ifndef BULWARK_ALERT_H
#define BULWARK_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BW_ALERT_EVENT_MAX 64        /* bytes of EVENT, including a trailing ".*" */
#define BW_ALERT_COUNT_MAX 10000u    /* largest COUNT */
#define BW_ALERT_WINDOW_MAX_S 86400u /* largest WINDOW, in seconds (24 h) */
#define BW_ALERT_RULE_TEXT_MAX 96    /* room for any rule formatted back, with its NUL */

typedef enum bw_alert_unit { BW_ALERT_UNIT_S, BW_ALERT_UNIT_MIN, BW_ALERT_UNIT_H } bw_alert_unit;

/* A parsed rule. Plain data: copy it freely; build it with bw_alert_rule_parse(). */
typedef struct bw_alert_rule {
    char event[BW_ALERT_EVENT_MAX + 1]; /* the name, or the prefix's "NAME." (NUL-terminated) */
    size_t event_len;                   /* bytes of event */
    bool prefix;                        /* written "NAME.*": matches names starting "NAME." */
    uint32_t count;                     /* 1..BW_ALERT_COUNT_MAX */
    uint32_t window_s;                  /* 1..BW_ALERT_WINDOW_MAX_S */
    uint32_t window_n;                  /* the window as written: window_n units */
    bw_alert_unit unit;
} bw_alert_rule;

/* One rule that fired, as reported by bw_alerts_observe(). */
typedef struct bw_alert_fired {
    size_t rule;       /* index into the rules given to bw_alerts_new() */
    uint32_t count;    /* the rule's COUNT: that many events happened */
    uint32_t window_s; /* within this many seconds */
} bw_alert_fired;

/* The rules' state. Thread-safe; one mutex. */
typedef struct bw_alerts bw_alerts;

/* Parses s[0..len) (never read beyond len; NUL bytes are just invalid) into *out. The text
 * must be exactly "EVENT COUNT/WINDOW" with one space and nothing else (no other whitespace,
 * nothing trailing). Returns 0, or -1 with the reason in why (may be NULL when whylen is 0)
 * and *out unspecified. Refused: an empty or malformed name, a part that is empty or holds a
 * byte outside [a-z0-9_], a name longer than BW_ALERT_EVENT_MAX, "*" anywhere but a final
 * ".*", a rule matching only "alert." events, a count or window that is missing, signed,
 * has a leading zero or is out of range, an unknown unit. */
int bw_alert_rule_parse(const char *s, size_t len, bw_alert_rule *out, char *why, size_t whylen);

/* Writes r back as rule text ("ban.* 10/5min", the window in the unit it was written in)
 * with a NUL into buf. Returns the length (without the NUL), or -1 when r is not a valid
 * rule or the text does not fit in cap bytes (BW_ALERT_RULE_TEXT_MAX always fits). */
int bw_alert_rule_format(const bw_alert_rule *r, char *buf, size_t cap);

/* 1 when the event name event[0..len) is counted by r: not an "alert." event, and equal to
 * r's name or, for a prefix rule, starting with its "NAME.". Otherwise 0. */
int bw_alert_rule_matches(const bw_alert_rule *r, const char *event, size_t len);

/* Creates the state for rules[0..n) (copied; n may be 0): one ring of COUNT timestamps per
 * rule, allocated here. Returns NULL when memory runs out, a mutex cannot be created, or a
 * rule is not valid (count or window out of range). The caller owns the result:
 * bw_alerts_free(). */
bw_alerts *bw_alerts_new(const bw_alert_rule *rules, size_t n);

/* Frees a. NULL is a no-op. No bw_alerts_observe() may be running on a. */
void bw_alerts_free(bw_alerts *a);

/* The number of rules in a (0 for NULL): a fired[] array this long never misses a rule. */
size_t bw_alerts_count(const bw_alerts *a);

/* Counts one event (NUL-terminated name; at most BW_ALERT_EVENT_MAX bytes are considered,
 * a longer name matches nothing) at now_ms, milliseconds of a clock that should not go
 * backwards (CLOCK_MONOTONIC), against every rule. Returns how many rules fired on this
 * event, and writes the first min(that, cap) of them, in rule order, into fired[0..cap)
 * (fired may be NULL when cap is 0; a rule that fires beyond cap still goes quiet). Returns
 * 0 for a NULL a or event, and for events named "alert.*". Thread-safe. */
size_t bw_alerts_observe(bw_alerts *a, const char *event, int64_t now_ms, bw_alert_fired *fired,
                         size_t cap);

#endif
