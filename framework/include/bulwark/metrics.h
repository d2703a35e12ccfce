/* Metrics: the service's counters in the Prometheus text exposition format 0.0.4, served on
 * a separate plain-HTTP listener (GET /metrics), loopback-only unless the configuration says
 * metrics.allow_public. The families, their labels and meaning are in docs/metrics.md.
 *
 * State is process-global, like bw_log. The recording functions (bw_metrics_request,
 * bw_metrics_event) run on every request: they are thread-safe and lock-free (relaxed atomic
 * increments; an event name takes a lock once, the first time it is seen). bw_metrics_init
 * and bw_metrics_reset must not run while another thread records or renders: call them
 * before the server starts and after it stops. */
#ifndef BULWARK_METRICS_H
#define BULWARK_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Distinct event names counted by name; later new names count as event="other". */
#define BW_METRICS_EVENTS_MAX 256
/* Longest event name, in bytes; names are [a-z0-9_.]{1,64}. */
#define BW_METRICS_EVENT_NAME_MAX 64

/* Copies the route table: route i has methods[i] and patterns[i] (a NULL entry counts as "").
 * Replaces (and frees) a previous table and its request counts; event counts are kept.
 * Returns 0, or -1 when out of memory or when a list is NULL with nroutes > 0 (the previous
 * table is then kept). */
int bw_metrics_init(const char *const *methods, const char *const *patterns, size_t nroutes);

/* Frees the route table and zeroes every count and the gauge callback (tests, shutdown). */
void bw_metrics_reset(void);

/* Counts one answered request: route is an index below nroutes, or any larger value when no
 * route matched (route="unmatched", method="other"); status is the HTTP status sent (codes
 * outside the fixed set count as "1xx".."5xx", outside 100..599 as "other"); duration_us
 * goes into the latency histogram (negative counts as 0). Thread-safe, lock-free. */
void bw_metrics_request(size_t route, int status, long long duration_us);

/* Counts one audit event by name (NUL-terminated, read at most 65 bytes). NULL or a name
 * that is not [a-z0-9_.]{1,64} counts as event="invalid"; a new name beyond
 * BW_METRICS_EVENTS_MAX counts as event="other". Also counts the derived families
 * (bulwark_auth_failures_total for "auth.login.failure", ...). Thread-safe. */
void bw_metrics_event(const char *event);

/* Values read at render time from the rest of the process. */
typedef struct bw_metrics_gauges {
    int64_t cert_not_after; /* Unix s, 0 unknown */
    uint64_t bans_active;
    uint64_t inflight;
    uint64_t audit_queue_depth;
    uint64_t audit_committed;
    uint64_t audit_failed;
    uint64_t audit_batches;
    uint64_t audit_commit_us_sum;
    uint64_t audit_commit_buckets[10]; /* <=1,2,5,10,25,50,100,250,1000 ms, more */
    uint64_t webhook_sent;
    uint64_t webhook_failed;
    uint64_t webhook_dropped;
    uint64_t connections_refused; /* by the per-address connection cap */
    uint64_t ratelimit_entries;   /* limiter table slots in use */
    uint64_t ratelimit_overflow;  /* checks that fell into the overflow bucket (table full) */
} bw_metrics_gauges;

/* Fills *g (zeroed before the call). Called from the metrics listener's threads. */
typedef void (*bw_metrics_gauge_fn)(bw_metrics_gauges *g, void *udata);

/* Sets the gauge callback (NULL: all gauges 0, no certificate expiry). Serialised with
 * rendering: once this returns, the previous callback is not running and will not run
 * again, so its udata may be freed. The caller keeps ownership of udata. */
void bw_metrics_set_gauge_fn(bw_metrics_gauge_fn fn, void *udata);

/* Renders every family as text into a new buffer: *out (NUL-terminated, freed by the caller
 * with free) and *len (without the NUL). Returns 0, or -1 when out of memory (*out NULL). */
int bw_metrics_render(char **out, size_t *len);

/* Starts the metrics listener on listen, "host:port" or "[v6]:port" (port 0: any free one),
 * plain HTTP, two worker threads: GET or HEAD /metrics answers the render, other paths 404,
 * other methods 405. CivetWeb's library must be initialised (mg_init_library). Returns 0, or
 * -1 with a message in err (malformed address, cannot bind, already started). */
int bw_metrics_listen_start(const char *listen, char *err, size_t errlen);

/* The port the listener is bound to, or 0 when it does not run. */
int bw_metrics_listen_port(void);

/* Stops the listener and waits for its threads. No-op when it does not run. */
void bw_metrics_listen_stop(void);

#endif
