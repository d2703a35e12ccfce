/* Fuzzes the two parsers of the alert path with the same input:
 *  - bw_alert_rule_parse accepts exactly what an independent reading of the grammar accepts
 *    ("EVENT COUNT/WINDOW"), with the same fields; what it accepts formats back to the very
 *    same text, and a bw_alerts built from it fires on exactly the COUNT-th matching event
 *    (and never on the COUNT-1 before it, nor on an "alert." event);
 *  - bw_webhook_url_parse never accepts a byte outside printable ASCII, '#', '\\' or user
 *    information; what it accepts has a valid host, port and path, and the URL rebuilt from
 *    them parses to the same result.
 * Neither reads beyond the input: it is copied into a buffer of exactly its size. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/alert.h"
#include "bulwark/webhook.h"

#define MAX_INPUT 4096
#define MAX_FIRE_COUNT 300 /* counts checked event by event; larger ones are skipped */

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_alert_rule: %s\n", what);
    abort();
}

/* ---- The rule grammar, read independently ---- */

/* Decimal without sign or leading zero, value <= max; returns digits read or 0. */
static size_t ref_number(const uint8_t *t, size_t n, uint64_t max, uint64_t *v)
{
    size_t i = 0;

    *v = 0;
    while (i < n && t[i] >= '0' && t[i] <= '9' && i < 12) {
        *v = *v * 10 + (uint64_t)(t[i] - '0');
        i++;
    }
    if (i == 0 || i == 12 || t[0] == '0' || *v > max)
        return 0;
    return i;
}

static bool ref_rule(const uint8_t *t, size_t n, bw_alert_rule *want)
{
    size_t sp = 0, name_end, i, k;
    uint64_t count, win;
    bool prefix = false;

    while (sp < n && t[sp] != ' ')
        sp++;
    if (sp == n || sp == 0 || sp > BW_ALERT_EVENT_MAX)
        return false;
    name_end = sp;
    if (sp >= 2 && t[sp - 1] == '*' && t[sp - 2] == '.') {
        prefix = true;
        name_end = sp - 2;
    }
    /* parts: non-empty runs of [a-z0-9_] separated by single dots */
    if (name_end == 0 || t[0] == '.' || t[name_end - 1] == '.')
        return false;
    for (i = 0; i < name_end; i++) {
        uint8_t c = t[i];

        if (c == '.') {
            if (t[i + 1] == '.')
                return false;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    if (name_end >= 6 && memcmp(t, "alert.", 6) == 0)
        return false;
    if (prefix && name_end == 5 && memcmp(t, "alert", 5) == 0)
        return false;
    i = sp + 1;
    k = ref_number(t + i, n - i, BW_ALERT_COUNT_MAX, &count);
    if (k == 0)
        return false;
    i += k;
    if (i >= n || t[i] != '/')
        return false;
    i++;
    k = ref_number(t + i, n - i, BW_ALERT_WINDOW_MAX_S, &win);
    if (k == 0)
        return false;
    i += k;
    if (n - i == 1 && t[i] == 's')
        want->unit = BW_ALERT_UNIT_S, want->window_s = (uint32_t)win;
    else if (n - i == 3 && memcmp(t + i, "min", 3) == 0)
        want->unit = BW_ALERT_UNIT_MIN, want->window_s = (uint32_t)(win * 60);
    else if (n - i == 1 && t[i] == 'h')
        want->unit = BW_ALERT_UNIT_H, want->window_s = (uint32_t)(win * 3600);
    else
        return false;
    if (want->window_s > BW_ALERT_WINDOW_MAX_S)
        return false;
    want->prefix = prefix;
    want->event_len = prefix ? name_end + 1 : name_end;
    memcpy(want->event, t, want->event_len);
    want->event[want->event_len] = '\0';
    want->count = (uint32_t)count;
    want->window_n = (uint32_t)win;
    return true;
}

static void check_firing(const bw_alert_rule *r)
{
    bw_alerts *a;
    char ev[BW_ALERT_EVENT_MAX + 2];
    bw_alert_fired f[1];
    const int64_t t0 = 1000000;

    if (r->count > MAX_FIRE_COUNT)
        return;
    a = bw_alerts_new(r, 1);
    if (a == NULL)
        fail("bw_alerts_new refused a parsed rule");
    memcpy(ev, r->event, r->event_len);
    ev[r->event_len] = '\0';
    if (r->prefix) { /* "NAME." + "x" */
        if (r->event_len + 1 > BW_ALERT_EVENT_MAX) {
            bw_alerts_free(a);
            return;
        }
        ev[r->event_len] = 'x';
        ev[r->event_len + 1] = '\0';
    }
    for (uint32_t i = 0; i + 1 < r->count; i++) {
        if (bw_alerts_observe(a, ev, t0 + i % 2, f, 1) != 0)
            fail("fired before COUNT");
        if (bw_alerts_observe(a, "alert.x", t0, f, 1) != 0)
            fail("counted an alert. event");
    }
    if (bw_alerts_observe(a, ev, t0 + (int64_t)r->window_s * 1000 - 1, f, 1) != 1 ||
        f[0].rule != 0 || f[0].count != r->count || f[0].window_s != r->window_s)
        fail("did not fire at COUNT within the window");
    if (bw_alerts_observe(a, ev, t0 + (int64_t)r->window_s * 1000, f, 1) != 0)
        fail("fired while quiet");
    bw_alerts_free(a);
}

static void fuzz_rule(const char *text, size_t n)
{
    bw_alert_rule got, want, again;
    char why[128], buf[BW_ALERT_RULE_TEXT_MAX];
    bool ok, ref;
    int len;

    memset(&want, 0, sizeof(want));
    ok = bw_alert_rule_parse(text, n, &got, why, sizeof(why)) == 0;
    ref = ref_rule((const uint8_t *)text, n, &want);
    if (ok != ref)
        fail(ok ? "rule: accepted what the grammar refuses" : "rule: refused a valid rule");
    if (!ok) {
        if (why[0] == '\0')
            fail("rule: refused without a reason");
        return;
    }
    if (got.event_len != want.event_len || strcmp(got.event, want.event) != 0 ||
        got.prefix != want.prefix || got.count != want.count || got.window_s != want.window_s ||
        got.window_n != want.window_n || got.unit != want.unit)
        fail("rule: fields differ");
    len = bw_alert_rule_format(&got, buf, sizeof(buf));
    if (len < 0 || (size_t)len != n || memcmp(buf, text, n) != 0)
        fail("rule: does not format back to its text");
    if (bw_alert_rule_parse(buf, (size_t)len, &again, why, sizeof(why)) != 0 ||
        memcmp(&again.event, &got.event, sizeof(got.event)) != 0 || again.count != got.count)
        fail("rule: formatted text does not parse back");
    check_firing(&got);
}

/* ---- The URL ---- */

static void fuzz_url(const char *url, size_t n)
{
    char host[BW_WEBHOOK_HOST_MAX + 1], path[BW_WEBHOOK_PATH_MAX + 1], why[128];
    char host2[BW_WEBHOOK_HOST_MAX + 1], path2[BW_WEBHOOK_PATH_MAX + 1];
    char rebuilt[BW_WEBHOOK_HOST_MAX + BW_WEBHOOK_PATH_MAX + 32];
    unsigned port, port2;
    const char *auth;
    size_t hl, auth_len;
    int m;

    if (bw_webhook_url_parse(url, n, host, sizeof(host), &port, path, sizeof(path), why,
                             sizeof(why)) != 0) {
        if (why[0] == '\0')
            fail("url: refused without a reason");
        return;
    }
    if (n < 8 || memcmp(url, "https://", 8) != 0)
        fail("url: accepted another scheme");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];

        if (c <= 0x20 || c >= 0x7f || c == '#' || c == '\\')
            fail("url: accepted a forbidden byte");
    }
    hl = strnlen(host, sizeof(host));
    auth = memchr(url + 8, '/', n - 8);
    auth_len = auth == NULL ? n - 8 : (size_t)(auth - (url + 8));
    if (hl == 0 || hl > BW_WEBHOOK_HOST_MAX || memchr(url + 8, '@', auth_len) != NULL)
        fail("url: bad host or user information");
    for (size_t i = 0; i < hl; i++) {
        char c = host[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == ':' || (c >= 'A' && c <= 'F' && strchr(host, ':') != NULL)))
            fail("url: bad host byte");
    }
    if (port < 1 || port > 65535 || path[0] != '/')
        fail("url: bad port or path");
    m = snprintf(rebuilt, sizeof(rebuilt), "https://%s%s%s:%u%s", strchr(host, ':') ? "[" : "",
                 host, strchr(host, ':') ? "]" : "", port, path);
    if (m < 0 || (size_t)m >= sizeof(rebuilt))
        fail("url: rebuilt does not fit");
    if (bw_webhook_url_parse(rebuilt, (size_t)m, host2, sizeof(host2), &port2, path2, sizeof(path2),
                             why, sizeof(why)) != 0 ||
        strcmp(host, host2) != 0 || port != port2 || strcmp(path, path2) != 0)
        fail("url: rebuilt URL parses differently");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy;

    if (size > MAX_INPUT)
        return 0;
    /* exactly `size` bytes, so ASan catches any read past the end */
    copy = malloc(size == 0 ? 1 : size);
    if (copy == NULL)
        return 0;
    if (size > 0)
        memcpy(copy, data, size);
    fuzz_rule(copy, size);
    fuzz_url(copy, size);
    free(copy);
    return 0;
}
