/* What bw_audit_emit feeds besides the log, the metrics and the writer: the alert rules
 * and the webhook. Installed by the monitor at start-up and removed before they are freed. */
#ifndef BW_AUDIT_HUB_H
#define BW_AUDIT_HUB_H

#include <stddef.h>

#include "bulwark/alert.h"
#include "bulwark/webhook.h"

/* Installs (or, with NULLs, removes) the alert rules and webhook; none is copied: they must
 * stay valid until removed. Thread-safe: waits for an emit that is raising alerts. */
void bw_audit_hub_set(bw_alerts *alerts, const bw_alert_rule *rules, size_t nrules,
                      bw_webhook *webhook);

#endif
