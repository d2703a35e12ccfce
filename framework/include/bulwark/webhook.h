/* The alert webhook: JSON bodies POSTed over HTTPS to one receiver, from a sender thread.
 *
 * bw_webhook_send() copies a body into a bounded queue and returns at once; it never waits
 * for the network, so the event path (and the request that raised the event) never blocks on
 * the receiver. When the queue is full the OLDEST waiting body is dropped (and counted): the
 * newest alerts are the ones worth sending.
 *
 * The sender thread POSTs each body with wolfSSL: TLS 1.2 or 1.3 (AEAD suites only), the
 * receiver's certificate verified against a CA bundle and its name checked against the URL's
 * host (SNI sent for host names). Each attempt (resolve excepted, connect, handshake, request
 * and the status line) must finish within timeout_ms. Each request carries
 *
 *   Content-Type: application/json
 *   X-Bulwark-Timestamp: <Unix seconds>
 *   X-Bulwark-Signature: sha256=<hex HMAC-SHA256(key, timestamp "." body)>
 *
 * and the receiver should recompute the signature and refuse old timestamps (replay). A 2xx
 * status is success; any other status or a transport or TLS error is retried up to
 * max_retries times, waiting backoff_ms, then twice that, and so on, up to 30 s. Each attempt
 * is signed afresh with its own timestamp. */
#ifndef BULWARK_WEBHOOK_H
#define BULWARK_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#define BW_WEBHOOK_HOST_MAX 253  /* bytes of a host name (an IPv6 address fits too) */
#define BW_WEBHOOK_PATH_MAX 1024 /* bytes of the URL's path (with its query) */
#define BW_WEBHOOK_BODY_MAX ((size_t)64 * 1024) /* largest body bw_webhook_send() accepts */
#define BW_WEBHOOK_QUEUE_MAX 100000u            /* largest queue_capacity */
#define BW_WEBHOOK_RETRIES_MAX 20u              /* largest max_retries */
#define BW_WEBHOOK_BACKOFF_CAP_MS 30000u        /* the longest wait between attempts */
#define BW_WEBHOOK_KEY_MIN 16                   /* bytes of HMAC key, at least */
#define BW_WEBHOOK_KEY_MAX 1024                 /* and at most */
#define BW_WEBHOOK_DEFAULT_CA "/etc/ssl/certs/ca-certificates.crt"

typedef struct bw_webhook_options {
    const char *url;          /* "https://host[:port]/path"; see bw_webhook_url_parse() */
    const unsigned char *key; /* HMAC-SHA256 key (copied into guarded memory) */
    size_t keylen;            /* BW_WEBHOOK_KEY_MIN..BW_WEBHOOK_KEY_MAX */
    const char *ca_file;      /* PEM bundle of trusted CAs; NULL or "": BW_WEBHOOK_DEFAULT_CA */
    size_t queue_capacity;    /* bodies waiting at most, 1..BW_WEBHOOK_QUEUE_MAX */
    unsigned max_retries;     /* attempts after the first, 0..BW_WEBHOOK_RETRIES_MAX */
    unsigned timeout_ms;      /* one attempt, 1..600000 */
    unsigned backoff_ms;      /* the first wait between attempts; 0: 500 */
} bw_webhook_options;

typedef struct bw_webhook_stats {
    uint64_t sent;    /* bodies a receiver answered with 2xx */
    uint64_t failed;  /* bodies given up on after max_retries retries (or at stop) */
    uint64_t dropped; /* bodies dropped unsent because the queue was full */
    uint64_t retries; /* attempts after a first one, over all bodies */
    uint64_t queued;  /* bodies waiting now (not counting the one being sent) */
} bw_webhook_stats;

typedef struct bw_webhook bw_webhook;

/* Parses url[0..len) (never read beyond len), "https://HOST[:PORT][/PATH]", into host (a
 * NUL-terminated name, dotted IPv4, or IPv6 without its brackets), *port (default 443) and
 * path (default "/"; the query, if any, stays in it). HOST is a DNS name (letters, digits,
 * '-' and '.', labels of 1..63 bytes, no leading or trailing '-'; lowercased), a dotted IPv4
 * address, or "[IPv6]". PORT is 1..65535 in decimal without leading zero. PATH starts with
 * '/' and holds printable ASCII other than space, '#' and '\\'. Refused: another scheme,
 * user info ('@'), a fragment, an empty host, control bytes, spaces, anything that does not
 * fit hostcap or pathcap. Returns 0, or -1 with the reason in why (may be NULL when whylen
 * is 0). */
int bw_webhook_url_parse(const char *url, size_t len, char *host, size_t hostcap, unsigned *port,
                         char *path, size_t pathcap, char *why, size_t whylen);

/* Checks the options, loads the CA bundle, and starts the sender thread. Returns the handle
 * (the caller owns it: bw_webhook_stop()), or NULL with the reason in err: a bad URL or
 * option, a CA bundle that cannot be loaded, out of memory, a thread that cannot start. */
bw_webhook *bw_webhook_start(const bw_webhook_options *o, char *err, size_t errlen);

/* Queues a copy of json[0..len) (1..BW_WEBHOOK_BODY_MAX bytes, sent as is) and returns at
 * once. When the queue is full the oldest waiting body is dropped and counted. Returns 0, or
 * -1 when w is NULL or stopping, the body is empty or too large, or memory runs out (the
 * body is then not queued). Thread-safe. */
int bw_webhook_send(bw_webhook *w, const char *json, size_t len);

/* Stops the sender: what is queued (and the body in flight) may still be sent until one
 * timeout_ms from now, without waiting between retries; what remains then is given up
 * (and logged). Joins the thread and frees w, wiping the key. NULL is a no-op. No other call
 * on w may be running or follow. */
void bw_webhook_stop(bw_webhook *w);

/* Fills *out with w's counters since start (zeros for NULL w). Thread-safe. */
void bw_webhook_stats_get(const bw_webhook *w, bw_webhook_stats *out);

#endif
