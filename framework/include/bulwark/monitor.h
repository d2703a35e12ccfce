/* Monitoring, assembled from the config: the audit writer (audit.h), the alert rules
 * (alert.h) and webhook (webhook.h) that bw_audit_emit feeds, and the metrics (metrics.h)
 * with their listener. The server starts it first, so that everything it does after is
 * recorded, and stops it last, so that every request's record is committed. CLI commands
 * that change state start the writer alone (bw_monitor_cli_start). */
#ifndef BULWARK_MONITOR_H
#define BULWARK_MONITOR_H

#include <stddef.h>

#include "bulwark/config.h"
#include "bulwark/metrics.h"

typedef struct bw_monitor bw_monitor;

/* Loads secrets.audit_key, opens audit.file (relative to data_dir) and starts the writer,
 * parses audit.alerts, starts the webhook when audit.webhook.url is set (loading
 * secrets.webhook_key), and sets up the metrics for nroutes routes (methods[i],
 * patterns[i]). gauges (may be NULL) fills the server's own gauges at each scrape; the
 * monitor adds the audit writer's and the webhook's. Then reports config.loaded and one
 * secret.loaded per secret in use. cfg must outlive the monitor. Returns the monitor (the
 * caller stops it with bw_monitor_stop) or NULL with a message in err. */
bw_monitor *bw_monitor_start(const bw_config *cfg, const char *const *methods,
                             const char *const *patterns, size_t nroutes,
                             bw_metrics_gauge_fn gauges, void *udata, char *err, size_t errlen);

/* Opens the metrics listener (metrics.listen; nothing when it is ""). 0, or -1 with a
 * message in err. */
int bw_monitor_listen(bw_monitor *m, char *err, size_t errlen);

/* Reopens the audit export file (after SIGHUP). 0, or -1 (the old file stays in use). */
int bw_monitor_reopen(bw_monitor *m);

/* Stops the listener, the alerts and the webhook (its queue gets one timeout to drain),
 * then commits every queued record and stops the writer. NULL is a no-op. */
void bw_monitor_stop(bw_monitor *m);

/* For CLI commands that change state: the audit writer alone, so their admin.* and ban.*
 * records are committed before the command exits. 0, or -1 with a message in err. */
int bw_monitor_cli_start(const bw_config *cfg, char *err, size_t errlen);

/* Commits what the command reported and stops the writer. */
void bw_monitor_cli_stop(void);

#endif
