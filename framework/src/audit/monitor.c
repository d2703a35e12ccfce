/* Assembles the monitoring parts from the config and takes them down in reverse. */
#include <stdlib.h>
#include <string.h>

#include "bulwark/alert.h"
#include "bulwark/audit.h"
#include "bulwark/err.h"
#include "bulwark/monitor.h"
#include "bulwark/secret.h"
#include "bulwark/webhook.h"
#include "hub.h"

struct bw_monitor {
    const bw_config *cfg;
    bw_alert_rule *rules;
    size_t nrules;
    bw_alerts *alerts;
    bw_webhook *webhook;
    bw_metrics_gauge_fn server_gauges;
    void *udata;
    bool writer, metrics, listening;
};

static int start_writer(const bw_config *cfg, char *err, size_t errlen)
{
    char path[4096], export_path[4096], why[256];
    const char *export_to = NULL;
    unsigned char *key = NULL;
    size_t keylen = 0;
    int rc;

    if (bw_config_path_in_data(cfg, cfg->audit.file, path, sizeof(path)) == NULL) {
        bw_err_set(err, errlen, "audit.file: path too long");
        return -1;
    }
    if (strcmp(cfg->audit.export_path, "-") == 0) {
        export_to = "-";
    } else if (cfg->audit.export_path[0] != '\0') {
        export_to =
            bw_config_path_in_data(cfg, cfg->audit.export_path, export_path, sizeof(export_path));
        if (export_to == NULL) {
            bw_err_set(err, errlen, "audit.export: path too long");
            return -1;
        }
    }
    if (bw_secret_load(cfg->secrets.audit_key.ref, cfg->data_dir, &key, &keylen, why,
                       sizeof(why)) != 0) {
        bw_err_set(err, errlen, "secrets.audit_key: %s", why);
        return -1;
    }
    bw_audit_options o = {.path = path,
                          .key = key,
                          .keylen = keylen,
                          .queue_capacity = (size_t)cfg->audit.queue_capacity,
                          .batch_max = (size_t)cfg->audit.batch_max,
                          .export_path = export_to};
    rc = bw_audit_start(&o, err, errlen);
    bw_secret_free(key, keylen);
    return rc;
}

static int start_alerts(bw_monitor *m, char *err, size_t errlen)
{
    const bw_config *cfg = m->cfg;
    char why[160];

    if (cfg->audit.nalerts == 0)
        return 0;
    m->rules = calloc(cfg->audit.nalerts, sizeof(*m->rules));
    if (m->rules == NULL) {
        bw_err_set(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cfg->audit.nalerts; i++) {
        const char *text = cfg->audit.alerts[i];
        if (bw_alert_rule_parse(text, strlen(text), &m->rules[i], why, sizeof(why)) != 0) {
            bw_err_set(err, errlen, "audit.alerts[%zu]: %s", i, why);
            return -1;
        }
    }
    m->nrules = cfg->audit.nalerts;
    m->alerts = bw_alerts_new(m->rules, m->nrules);
    if (m->alerts == NULL) {
        bw_err_set(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int start_webhook(bw_monitor *m, char *err, size_t errlen)
{
    const bw_config *cfg = m->cfg;
    unsigned char *key = NULL;
    size_t keylen = 0;
    char why[256];

    if (cfg->audit.webhook.url[0] == '\0')
        return 0;
    if (bw_secret_load(cfg->secrets.webhook_key.ref, cfg->data_dir, &key, &keylen, why,
                       sizeof(why)) != 0) {
        bw_err_set(err, errlen, "secrets.webhook_key: %s", why);
        return -1;
    }
    bw_webhook_options o = {.url = cfg->audit.webhook.url,
                            .key = key,
                            .keylen = keylen,
                            .ca_file = cfg->audit.webhook.ca,
                            .queue_capacity = (size_t)cfg->audit.webhook.queue,
                            .max_retries = (unsigned)cfg->audit.webhook.max_retries,
                            .timeout_ms = (unsigned)cfg->audit.webhook.timeout_ms};
    m->webhook = bw_webhook_start(&o, err, errlen);
    bw_secret_free(key, keylen);
    return m->webhook != NULL ? 0 : -1;
}

static void gauges(bw_metrics_gauges *g, void *udata)
{
    const bw_monitor *m = udata;
    bw_audit_stats a;

    if (m->server_gauges != NULL)
        m->server_gauges(g, m->udata);
    bw_audit_stats_get(&a);
    g->audit_queue_depth = a.queued;
    g->audit_committed = a.committed;
    g->audit_failed = a.failed;
    g->audit_batches = a.batches;
    g->audit_commit_us_sum = a.commit_us_sum;
    memcpy(g->audit_commit_buckets, a.commit_buckets, sizeof(g->audit_commit_buckets));
    if (m->webhook != NULL) {
        bw_webhook_stats w;
        bw_webhook_stats_get(m->webhook, &w);
        g->webhook_sent = w.sent;
        g->webhook_failed = w.failed;
        g->webhook_dropped = w.dropped;
    }
}

static void report_start(const bw_config *cfg, bool webhook)
{
    const char *risky[32];
    size_t nrisky = bw_config_risky(cfg, risky, sizeof(risky) / sizeof(risky[0]));
    bw_log_field d[] = {BW_LOG_I("count", (long long)nrisky)};
    bw_audit_event ev = {.event = "config.loaded",
                         .outcome = BW_AUDIT_INFO,
                         .actor = "system",
                         .detail = d,
                         .ndetail = 1};
    const char *refs[] = {cfg->secrets.audit_key.ref, cfg->secrets.session_key.ref,
                          webhook ? cfg->secrets.webhook_key.ref : NULL};

    (void)bw_audit_emit(&ev);
    for (size_t i = 0; i < nrisky; i++) {
        bw_log_field s[] = {BW_LOG_S("setting", risky[i])};
        bw_audit_event r = {.event = "config.risky_setting",
                            .outcome = BW_AUDIT_INFO,
                            .actor = "system",
                            .detail = s,
                            .ndetail = 1};
        (void)bw_audit_emit(&r);
    }
    /* The reference names where a secret lives, never what it is. */
    for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        if (refs[i] == NULL)
            continue;
        bw_audit_event s = {.event = "secret.loaded",
                            .outcome = BW_AUDIT_SUCCESS,
                            .actor = "system",
                            .target = refs[i]};
        (void)bw_audit_emit(&s);
    }
}

bw_monitor *bw_monitor_start(const bw_config *cfg, const char *const *methods,
                             const char *const *patterns, size_t nroutes,
                             bw_metrics_gauge_fn server_gauges, void *udata, char *err,
                             size_t errlen)
{
    bw_monitor *m = calloc(1, sizeof(*m));

    if (m == NULL) {
        bw_err_set(err, errlen, "out of memory");
        return NULL;
    }
    m->cfg = cfg;
    m->server_gauges = server_gauges;
    m->udata = udata;
    if (bw_metrics_init(methods, patterns, nroutes) != 0) {
        bw_err_set(err, errlen, "out of memory");
        bw_monitor_stop(m);
        return NULL;
    }
    m->metrics = true;
    bw_metrics_set_gauge_fn(gauges, m);
    if (start_writer(cfg, err, errlen) != 0) {
        bw_monitor_stop(m);
        return NULL;
    }
    m->writer = true;
    if (start_alerts(m, err, errlen) != 0 || start_webhook(m, err, errlen) != 0) {
        bw_monitor_stop(m);
        return NULL;
    }
    bw_audit_hub_set(m->alerts, m->rules, m->nrules, m->webhook);
    report_start(cfg, m->webhook != NULL);
    return m;
}

int bw_monitor_listen(bw_monitor *m, char *err, size_t errlen)
{
    if (m->cfg->metrics.listen[0] == '\0')
        return 0;
    if (bw_metrics_listen_start(m->cfg->metrics.listen, err, errlen) != 0)
        return -1;
    m->listening = true;
    bw_log(BW_LOG_INFO, "metrics.listening",
           (bw_log_field[]){BW_LOG_S("listen", m->cfg->metrics.listen),
                            BW_LOG_I("port", bw_metrics_listen_port())},
           2);
    return 0;
}

int bw_monitor_reopen(bw_monitor *m)
{
    (void)m;
    return bw_audit_reopen_export();
}

void bw_monitor_stop(bw_monitor *m)
{
    if (m == NULL)
        return;
    if (m->listening)
        bw_metrics_listen_stop();
    bw_audit_hub_set(NULL, NULL, 0, NULL);
    bw_webhook_stop(m->webhook);
    bw_alerts_free(m->alerts);
    free(m->rules);
    if (m->writer)
        bw_audit_stop();
    if (m->metrics) {
        bw_metrics_set_gauge_fn(NULL, NULL);
        bw_metrics_reset();
    }
    free(m);
}

int bw_monitor_cli_start(const bw_config *cfg, char *err, size_t errlen)
{
    return start_writer(cfg, err, errlen);
}

void bw_monitor_cli_stop(void)
{
    bw_audit_stop();
}
