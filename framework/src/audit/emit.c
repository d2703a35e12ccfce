/* The one place events are reported: bw_audit_emit() writes the log line, counts the
 * event, checks the alert rules and queues the audit record. Redaction happens here, by
 * construction: only allow-listed detail keys go anywhere. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/alert.h"
#include "bulwark/audit.h"
#include "bulwark/metrics.h"
#include "bulwark/webhook.h"
#include "hub.h"

/* Most detail fields one event carries; the rest are dropped. */
#define EMIT_MAX_DETAIL 16
/* Fixed fields of the log line before the detail. */
#define EMIT_FIXED_FIELDS 6

/* Detail keys that may reach a log line or a record. None of them can hold a password,
 * token, API key secret, TOTP secret or code, cookie or Authorization value: adding one is
 * a review decision (docs/audit.md lists them). Sorted for bsearch. */
static const char *const allowed_keys[] = {
    "count",         "days_left", "duration_s", "first_bad",  "hash_slots", "key_id",    "limit",
    "method",        "minutes",   "mode",       "permission", "policy",     "reason",    "records",
    "retry_after_s", "roles",     "route",      "rule",       "setting",    "signature", "status",
    "threshold",     "until",     "user_id",    "where",      "window_s",
};

static int cmp_key(const void *k, const void *e)
{
    return strcmp((const char *)k, *(const char *const *)e);
}

int bw_audit_detail_allowed(const char *key)
{
    if (key == NULL)
        return 0;
    return bsearch(key, allowed_keys, sizeof(allowed_keys) / sizeof(allowed_keys[0]),
                   sizeof(allowed_keys[0]), cmp_key) != NULL;
}

/* The alert rules and webhook the emitter feeds, installed by bw_audit_hub_set. */
static pthread_mutex_t hub_lock = PTHREAD_MUTEX_INITIALIZER;
static bw_alerts *hub_alerts;
static const bw_alert_rule *hub_rules;
static size_t hub_nrules;
static bw_webhook *hub_webhook;

void bw_audit_hub_set(bw_alerts *alerts, const bw_alert_rule *rules, size_t nrules,
                      bw_webhook *webhook)
{
    pthread_mutex_lock(&hub_lock);
    hub_alerts = alerts;
    hub_rules = rules;
    hub_nrules = nrules;
    hub_webhook = webhook;
    pthread_mutex_unlock(&hub_lock);
}

int bw_audit_event_name_valid(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (n >= BW_AUDIT_EVENT_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return 0;
    }
    return n > 0;
}

const char *bw_audit_outcome_name(bw_audit_outcome o)
{
    switch (o) {
    case BW_AUDIT_SUCCESS:
        return "success";
    case BW_AUDIT_FAILURE:
        return "failure";
    case BW_AUDIT_INFO:
        break;
    }
    return "info";
}

static bw_log_level level_for(const char *event)
{
    if (strncmp(event, "alert.", 6) == 0 || strcmp(event, "attack.suspected") == 0 ||
        strcmp(event, "ban.added") == 0 || strcmp(event, "config.risky_setting") == 0 ||
        strcmp(event, "audit.verify") == 0)
        return BW_LOG_WARN;
    return BW_LOG_INFO;
}

static void write_log(const bw_audit_event *ev)
{
    bw_log_field f[EMIT_FIXED_FIELDS + EMIT_MAX_DETAIL];
    size_t n = 0;

    f[n++] = BW_LOG_S("outcome", bw_audit_outcome_name(ev->outcome));
    if (ev->actor != NULL)
        f[n++] = BW_LOG_S("actor", ev->actor);
    if (ev->source != NULL)
        f[n++] = BW_LOG_S("client", ev->source);
    if (ev->request_id != NULL)
        f[n++] = BW_LOG_S("request_id", ev->request_id);
    if (ev->target != NULL)
        f[n++] = BW_LOG_S("target", ev->target);
    for (size_t i = 0; i < ev->ndetail && n < sizeof(f) / sizeof(f[0]); i++)
        f[n++] = ev->detail[i];
    bw_log(level_for(ev->event), ev->event, f, n);
}

/* One alert: its own event (never counted by the rules) and the webhook's JSON. */
static void raise_alert(const bw_alert_rule *rule, const bw_alert_fired *fired, bw_webhook *webhook)
{
    char text[BW_ALERT_RULE_TEXT_MAX];
    bw_log_field d[] = {BW_LOG_S("rule", text), BW_LOG_I("count", (long long)fired->count),
                        BW_LOG_I("window_s", (long long)fired->window_s)};
    bw_audit_event ev = {.event = "alert.raised",
                         .outcome = BW_AUDIT_INFO,
                         .target = rule->event,
                         .detail = d,
                         .ndetail = sizeof(d) / sizeof(d[0])};

    if (bw_alert_rule_format(rule, text, sizeof(text)) < 0)
        text[0] = '\0';
    (void)bw_audit_emit(&ev);
    if (webhook != NULL) {
        char body[512];
        int n = snprintf(body, sizeof(body),
                         "{\"alert\":\"alert.raised\",\"rule\":\"%s\",\"event\":\"%s\","
                         "\"count\":%llu,\"window_s\":%llu,\"time\":%lld}",
                         text, rule->event, (unsigned long long)fired->count,
                         (unsigned long long)fired->window_s, (long long)time(NULL));
        /* Rule texts are [a-z0-9_.* /] only (bw_alert_rule_parse): nothing to escape. */
        if (n > 0 && (size_t)n < sizeof(body))
            (void)bw_webhook_send(webhook, body, (size_t)n);
    }
}

static void check_alerts(const char *event)
{
    bw_alert_fired fired[64]; /* audit.alerts holds at most 64 rules */
    struct timespec now;
    size_t n;

    if (strncmp(event, "alert.", 6) == 0)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    pthread_mutex_lock(&hub_lock);
    if (hub_alerts == NULL) {
        pthread_mutex_unlock(&hub_lock);
        return;
    }
    n = bw_alerts_observe(hub_alerts, event, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
                          fired, sizeof(fired) / sizeof(fired[0]));
    /* The hub stays locked while alerts are raised: bw_audit_hub_set cannot free the
     * rules underneath. Raising re-enters emit, which returns before taking the lock
     * again for an alert.* event. */
    for (size_t i = 0; i < n; i++) {
        if (fired[i].rule < hub_nrules)
            raise_alert(&hub_rules[fired[i].rule], &fired[i], hub_webhook);
    }
    pthread_mutex_unlock(&hub_lock);
}

uint64_t bw_audit_emit(const bw_audit_event *ev)
{
    bw_log_field kept[EMIT_MAX_DETAIL];
    bw_audit_event clean;
    size_t nkept = 0;
    uint64_t ticket;

    if (ev == NULL || !bw_audit_event_name_valid(ev->event)) {
        bw_log_msg(BW_LOG_ERROR, "audit.bad_event", "an event without a valid name was dropped");
        return 0;
    }
    for (size_t i = 0; i < ev->ndetail && nkept < EMIT_MAX_DETAIL; i++) {
        if (bw_audit_detail_allowed(ev->detail[i].key))
            kept[nkept++] = ev->detail[i];
    }
    clean = *ev;
    clean.detail = kept;
    clean.ndetail = nkept;

    write_log(&clean);
    bw_metrics_event(clean.event);
    ticket = bw_audit_push(&clean);
    check_alerts(clean.event);
    return ticket;
}
