/* A service's configuration: compiled-in defaults, then an optional JSON file,
 * then BULWARK_* environment variables. Every key is declared once, in the
 * table in framework/src/config/config_table.c; docs/configuration.md lists
 * them. Any problem is a start-up error naming the key path. */
#ifndef BULWARK_CONFIG_H
#define BULWARK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bulwark/secret.h"

/* Largest config file accepted, in bytes. */
#define BW_CONFIG_MAX_FILE_BYTES (1024u * 1024u)

typedef struct bw_kv {
    char *name;
    char *value; /* NULL means "remove" */
} bw_kv;

typedef struct bw_header_override {
    char *route; /* NULL = global, else a route pattern like "/v1/notes/{id}" */
    bw_kv *items;
    size_t nitems;
} bw_header_override;

typedef struct bw_config {
    char *data_dir; /* "data_dir", env BULWARK_DATA_DIR, default ".data" */
    struct {
        char *listen;           /* host:port or [v6]:port, env BULWARK_LISTEN */
        bool plain_http;        /* opt-in: serve plain HTTP instead of TLS (loopback only) */
        bool allow_public_http; /* second opt-in: plain HTTP on a non-loopback address */
        char **redirect_listen; /* plain-HTTP listeners that only redirect (308) to HTTPS */
        size_t nredirect;
        char **trusted_proxies; /* CIDRs whose forwarding header names the client */
        size_t nproxies;
        char *forwarded_header; /* "x-forwarded-for" or "forwarded" (RFC 7239) */
        int threads;            /* env BULWARK_THREADS */
        int connection_queue;
        int listen_backlog;
        int request_timeout_ms;
        int keep_alive_timeout_ms;
        long long max_header_bytes; /* CivetWeb max_request_size */
        long long max_body_bytes;   /* routes may set a smaller limit */
        int max_headers;
        int max_inflight; /* requests in progress at once; beyond: 503 at once */
        int shutdown_timeout_ms;
    } server;
    struct {
        long long max_path_bytes;
        int max_path_segments;
        int max_query_params;
        long long max_query_bytes;
        int max_connections_per_address; /* open TLS connections per address; 0: no cap */
    } limits;
    struct {
        char *file; /* relative to data_dir unless absolute */
        bool auto_migrate;
        int busy_timeout_ms;
    } store;
    struct {
        char *level; /* debug, info, warn or error; env BULWARK_LOG_LEVEL */
    } log;
    struct {
        bw_header_override *overrides; /* the global one (if any) first */
        size_t noverrides;
    } headers;
    struct {
        bool enabled;
        char **allowed_origins; /* exact origins, or the single entry "*" */
        size_t norigins;
        bool allow_credentials;
        char **allowed_methods;
        size_t nmethods;
        char **allowed_headers;
        size_t nheaders;
        int max_age;
    } cors;
    struct {
        char *access; /* GET /openapi.json: "public", "permission" (openapi:read) or "off" */
    } openapi;
    struct {
        char *cert;        /* PEM chain, leaf first; relative to data_dir unless absolute */
        char *key;         /* PEM private key, mode 0600 */
        bool allow_tls12;  /* opt-in: TLS 1.2 (ECDHE + AEAD suites only) besides 1.3 */
        bool hsts_preload; /* opt-in: add "preload" to Strict-Transport-Security */
        char *client_auth; /* mutual TLS: "none", "optional" or "required" */
        char *client_ca;   /* PEM CA bundle that signs client certificates */
    } tls;
    struct {
        bool enabled;
        long long capacity; /* limiter table entries (16 bytes each) */
        char *address;      /* policy per client address (IPv4, IPv6 /64): "100/s" */
        int address_burst;  /* 0: the policy's count */
        char *principal;    /* policy per authenticated user or API key */
        int principal_burst;
        int route_burst; /* burst of routes' .rate policies; 0: their count */
        bool headers;    /* RateLimit / RateLimit-Policy on successful answers too */
    } ratelimit;
    struct {
        long long capacity; /* bans held in memory */
        long long tracked;  /* addresses whose offences are counted */
        int window_s;       /* offences count within this window */
        int duration_s;     /* an automatic ban */
        int auth_failures;  /* offences per window that ban; 0 = never */
        int rate_limited;
        int validation_failures;
        int attacks; /* requests matching an attack signature (audit.attack_signatures) */
    } ban;
    struct {
        struct {
            int opslimit;          /* Argon2id passes */
            int memlimit_kib;      /* Argon2id memory per hash */
            int memory_budget_mib; /* memory all concurrent hashes may use: sizes the gate */
            int queue_wait_ms;     /* wait for a free hashing slot before 503 */
        } password;
        struct {
            int absolute_ttl_s;
            int idle_ttl_s;
        } session;
        struct {
            int threshold;    /* failures before the account name locks */
            int base_delay_s; /* first lock; doubles with each further failure */
            int max_delay_s;
            int reset_s; /* failures older than this are forgotten */
        } lockout;
        struct {
            int max_failures; /* failed logins per address (IPv6: /64) per window */
            int window_s;
        } address;
        struct {
            char *file; /* trusted issuers (docs/jwt.md), relative to data_dir unless
                           absolute; "" = JWT bearer tokens off */
        } jwt;
    } auth;
    struct {
        char *file;               /* the audit database; relative to data_dir unless absolute */
        long long queue_capacity; /* records waiting for the writer; emit blocks beyond */
        int batch_max;            /* records per transaction (group commit) */
        char *export_path; /* JSON lines: "" none, "-" stdout, else a file (reopened on SIGHUP) */
        bool attack_signatures; /* scan input for attack patterns (attack.suspected) */
        char **alerts;          /* rules "EVENT COUNT/WINDOW", e.g. "auth.login.failure 50/60s" */
        size_t nalerts;
        struct {
            char *url; /* https://host[:port]/path; "" = no webhook */
            char *ca;  /* CA bundle that signs the receiver; "" = the system's */
            int queue; /* alerts waiting to be sent; the oldest is dropped beyond */
            int max_retries;
            int timeout_ms;
        } webhook;
    } audit;
    struct {
        char *listen;      /* loopback host:port of the metrics listener; "" = off */
        bool allow_public; /* opt-in: a non-loopback metrics listener */
    } metrics;
    struct {
        bw_secret_ref session_key;
        bw_secret_ref audit_key;
        bw_secret_ref webhook_key;
    } secrets;
    /* Risky settings found at load time (see bw_config_risky). */
    char **risky;
    size_t nrisky;
} bw_config;

/* Builds the configuration: defaults, then the JSON file at file_or_null (or,
 * when NULL, at $BULWARK_CONFIG if set), then BULWARK_* variables from envp
 * (NULL = environ). Unknown keys or variables, wrong types, out-of-range or
 * malformed values and failed cross-field checks are refused. Returns 0 with
 * *out set (free it with bw_config_free), or -1 with the first error in err,
 * e.g. "server.threads: must be an integer between 2 and 1024". */
int bw_config_load(const char *file_or_null, char *const *envp, bw_config **out, char *err,
                   size_t errlen);

/* Same as bw_config_load with the file's bytes given directly: buf[0..len) is
 * the JSON text (buf NULL = no file; BULWARK_CONFIG is then ignored). name
 * labels parse errors (NULL = "config"). bw_config_load and the fuzz harness
 * use it. */
int bw_config_load_buffer(const char *buf, size_t len, const char *name, char *const *envp,
                          bw_config **out, char *err, size_t errlen);

/* Frees a configuration from bw_config_load. NULL is a no-op. */
void bw_config_free(bw_config *c);

/* Writes the effective configuration to f as pretty JSON in the config file's
 * own format; secrets appear only as their reference. Returns 0, or -1 on a
 * write or allocation error. */
int bw_config_dump(const bw_config *c, FILE *f);

/* Writes p into buf if p is absolute, else data_dir/p. Returns buf, or NULL
 * if p is NULL or empty or the result does not fit in buflen. */
const char *bw_config_path_in_data(const bw_config *c, const char *p, char *buf, size_t buflen);

/* True when listen ("host:port" or "[v6]:port") is well formed and names a
 * loopback host: 127.x.x.x, ::1 or localhost. */
bool bw_config_listen_is_loopback(const char *listen);

/* Stores up to max pointers to short descriptions of the risky settings in c
 * (e.g. "cors allows credentials") in items, for start-up warnings. Returns
 * the total number of risky settings, which may exceed max. The strings
 * belong to c. items may be NULL when max is 0. */
size_t bw_config_risky(const bw_config *c, const char **items, size_t max);

#endif
