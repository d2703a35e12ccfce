/* The configuration keys, declared once each, and the code that reads,
 * checks, frees and dumps a value through its descriptor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/text.h"
#include "config_internal.h"

#define OFF(field) offsetof(bw_config, field)

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const no_items[] = {NULL};
static const char *const client_auth_modes[] = {"none", "optional", "required", NULL};
static const char *const openapi_access[] = {"public", "permission", "off", NULL};
static const char *const default_alerts[] = {"auth.login.failure 50/60s", "ban.added 10/300s",
                                             "attack.suspected 20/60s", NULL};
static const char *const forwarded_headers[] = {"x-forwarded-for", "forwarded", NULL};
static const char *const default_methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
static const char *const default_cors_headers[] = {"Content-Type", "Authorization", "X-Request-Id",
                                                   NULL};

/* One macro per value type keeps each key on one line. */
/* clang-format off */
#define K_STR(p, field, env_, def, check_, allowed_, secret_) \
    {.path = (p), .type = BW_CFG_STRING, .offset = OFF(field), .env = (env_), .def_str = (def), \
     .check = (check_), .allowed = (allowed_), .secret = (secret_)}
/* A string where "" means "off" (checked only when not empty). */
#define K_OPT(p, field, env_, def, check_) \
    {.path = (p), .type = BW_CFG_STRING, .offset = OFF(field), .env = (env_), .def_str = (def), \
     .check = (check_), .may_be_empty = true}
#define K_BOOL(p, field, def) \
    {.path = (p), .type = BW_CFG_BOOL, .offset = OFF(field), .def_num = (def)}
#define K_INT(p, field, env_, def, lo, hi) \
    {.path = (p), .type = BW_CFG_INT, .offset = OFF(field), .env = (env_), .def_num = (def), \
     .min = (lo), .max = (hi)}
#define K_I64(p, field, env_, def, lo, hi) \
    {.path = (p), .type = BW_CFG_INT64, .offset = OFF(field), .env = (env_), .def_num = (def), \
     .min = (lo), .max = (hi)}
#define K_LIST(p, field, count, def, maxn, check_) \
    {.path = (p), .type = BW_CFG_LIST, .offset = OFF(field), .count_offset = OFF(count), \
     .def_list = (def), .max = (maxn), .check = (check_)}
#define K_HEADERS(p, field) \
    {.path = (p), .type = BW_CFG_HEADERS, .offset = OFF(field)}

/* Table order is the order of config/bulwark.json and of bw_config_dump. */
static const bw_cfg_key keys[] = {
    /*     path                            field                          env                   default                 checks */
    K_STR ("data_dir",                     data_dir,                      "BULWARK_DATA_DIR",   ".data",                NULL, NULL, false),
    K_STR ("server.listen",                server.listen,                 "BULWARK_LISTEN",     "127.0.0.1:8443",       bw_cfg_check_listen, NULL, false),
    K_BOOL("server.plain_http",            server.plain_http,                                   false),
    K_BOOL("server.allow_public_http",     server.allow_public_http,                            false),
    K_LIST("server.redirect_listen",       server.redirect_listen,        server.nredirect,     no_items,               4, bw_cfg_check_listen),
    K_LIST("server.trusted_proxies",       server.trusted_proxies,        server.nproxies,      no_items,               64, bw_cfg_check_cidr),
    K_STR ("server.forwarded_header",      server.forwarded_header,       NULL,                 "x-forwarded-for",      NULL, forwarded_headers, false),
    K_INT ("server.threads",               server.threads,                "BULWARK_THREADS",    32,                     2, 1024),
    K_INT ("server.connection_queue",      server.connection_queue,       NULL,                 64,                     1, 10000),
    K_INT ("server.listen_backlog",        server.listen_backlog,         NULL,                 128,                    1, 65535),
    K_INT ("server.request_timeout_ms",    server.request_timeout_ms,     NULL,                 10000,                  100, 600000),
    K_INT ("server.keep_alive_timeout_ms", server.keep_alive_timeout_ms,  NULL,                 5000,                   0, 600000),
    K_I64 ("server.max_header_bytes",      server.max_header_bytes,       NULL,                 16384,                  1024, 1048576),
    K_I64 ("server.max_body_bytes",        server.max_body_bytes,         NULL,                 1048576,                0, 1073741824),
    K_INT ("server.max_headers",           server.max_headers,            NULL,                 50,                     1, 64),
    K_INT ("server.max_inflight",          server.max_inflight,           NULL,                 28,                     1, 1024),
    K_INT ("server.shutdown_timeout_ms",   server.shutdown_timeout_ms,    NULL,                 10000,                  0, 600000),
    K_I64 ("limits.max_path_bytes",        limits.max_path_bytes,         NULL,                 2048,                   64, 65536),
    K_INT ("limits.max_path_segments",     limits.max_path_segments,      NULL,                 32,                     1, 256),
    K_INT ("limits.max_query_params",      limits.max_query_params,       NULL,                 32,                     0, 1024),
    K_I64 ("limits.max_query_bytes",       limits.max_query_bytes,        NULL,                 4096,                   0, 65536),
    K_INT ("limits.max_connections_per_address", limits.max_connections_per_address, NULL,      16,                     0, 10000),
    K_STR ("store.file",                   store.file,                    NULL,                 "bulwark.db",           NULL, NULL, false),
    K_BOOL("store.auto_migrate",           store.auto_migrate,                                  true),
    K_INT ("store.busy_timeout_ms",        store.busy_timeout_ms,         NULL,                 5000,                   0, 60000),
    K_STR ("log.level",                    log.level,                     "BULWARK_LOG_LEVEL",  "info",                 NULL, log_levels, false),
    K_HEADERS("headers",                   headers),
    K_BOOL("cors.enabled",                 cors.enabled,                                        false),
    K_LIST("cors.allowed_origins",         cors.allowed_origins,          cors.norigins,        no_items,               256, bw_cfg_check_origin),
    K_BOOL("cors.allow_credentials",       cors.allow_credentials,                              false),
    K_LIST("cors.allowed_methods",         cors.allowed_methods,          cors.nmethods,        default_methods,        32, bw_cfg_check_token),
    K_LIST("cors.allowed_headers",         cors.allowed_headers,          cors.nheaders,        default_cors_headers,   64, bw_cfg_check_token),
    K_INT ("cors.max_age",                 cors.max_age,                  NULL,                 600,                    0, 86400),
    K_STR ("openapi.access",               openapi.access,                NULL,                 "public",               NULL, openapi_access, false),
    K_STR ("tls.cert",                     tls.cert,                      NULL,                 "tls/cert.pem",         NULL, NULL, false),
    K_STR ("tls.key",                      tls.key,                       NULL,                 "tls/key.pem",          NULL, NULL, false),
    K_BOOL("tls.allow_tls12",              tls.allow_tls12,                                     false),
    K_BOOL("tls.hsts_preload",             tls.hsts_preload,                                    false),
    K_STR ("tls.client_auth",              tls.client_auth,               NULL,                 "none",                 NULL, client_auth_modes, false),
    K_STR ("tls.client_ca",                tls.client_ca,                 NULL,                 "tls/client-ca.pem",    NULL, NULL, false),
    K_BOOL("ratelimit.enabled",            ratelimit.enabled,                                   true),
    K_I64 ("ratelimit.capacity",           ratelimit.capacity,            NULL,                 262144,                 1024, 67108864),
    K_STR ("ratelimit.address",            ratelimit.address,             NULL,                 "100/s",                bw_cfg_check_rate, NULL, false),
    K_INT ("ratelimit.address_burst",      ratelimit.address_burst,       NULL,                 500,                      0, 1000000),
    K_STR ("ratelimit.principal",          ratelimit.principal,           NULL,                 "50/s",                 bw_cfg_check_rate, NULL, false),
    K_INT ("ratelimit.principal_burst",    ratelimit.principal_burst,     NULL,                 0,                      0, 1000000),
    K_INT ("ratelimit.route_burst",        ratelimit.route_burst,         NULL,                 0,                      0, 1000000),
    K_BOOL("ratelimit.headers",            ratelimit.headers,                                   false),
    K_I64 ("ban.capacity",                 ban.capacity,                  NULL,                 65536,                  16, 1048576),
    K_I64 ("ban.tracked",                  ban.tracked,                   NULL,                 65536,                  512, 4194304),
    K_INT ("ban.window_s",                 ban.window_s,                  NULL,                 300,                    1, 86400),
    K_INT ("ban.duration_s",               ban.duration_s,                NULL,                 900,                    1, 316224000),
    K_INT ("ban.auth_failures",            ban.auth_failures,             NULL,                 20,                     0, 1000000),
    K_INT ("ban.rate_limited",             ban.rate_limited,              NULL,                 100,                    0, 1000000),
    K_INT ("ban.validation_failures",      ban.validation_failures,       NULL,                 50,                     0, 1000000),
    K_INT ("ban.attacks",                  ban.attacks,                   NULL,                 10,                     0, 1000000),
    K_INT ("auth.password.opslimit",       auth.password.opslimit,        NULL,                 2,                      2, 10),
    K_INT ("auth.password.memlimit_kib",   auth.password.memlimit_kib,    NULL,                 65536,                  19456, 1048576),
    K_INT ("auth.password.memory_budget_mib", auth.password.memory_budget_mib, NULL,            256,                    19, 65536),
    K_INT ("auth.password.queue_wait_ms",  auth.password.queue_wait_ms,   NULL,                 2000,                   0, 30000),
    K_INT ("auth.session.absolute_ttl_s",  auth.session.absolute_ttl_s,   NULL,                 43200,                  1, 2592000),
    K_INT ("auth.session.idle_ttl_s",      auth.session.idle_ttl_s,       NULL,                 1800,                   1, 2592000),
    K_INT ("auth.lockout.threshold",       auth.lockout.threshold,        NULL,                 5,                      1, 100),
    K_INT ("auth.lockout.base_delay_s",    auth.lockout.base_delay_s,     NULL,                 1,                      1, 3600),
    K_INT ("auth.lockout.max_delay_s",     auth.lockout.max_delay_s,      NULL,                 900,                    1, 86400),
    K_INT ("auth.lockout.reset_s",         auth.lockout.reset_s,          NULL,                 86400,                  60, 2592000),
    K_INT ("auth.address.max_failures",    auth.address.max_failures,     NULL,                 50,                     1, 1000000),
    K_INT ("auth.address.window_s",        auth.address.window_s,         NULL,                 900,                    1, 86400),
    K_OPT ("auth.jwt.file",                auth.jwt.file,                 NULL,                 "",                     NULL),
    K_STR ("audit.file",                   audit.file,                    NULL,                 "audit.db",             NULL, NULL, false),
    K_I64 ("audit.queue_capacity",         audit.queue_capacity,          NULL,                 65536,                  64, 16777216),
    K_INT ("audit.batch_max",              audit.batch_max,               NULL,                 512,                    1, 10000),
    K_OPT ("audit.export",                 audit.export_path,             NULL,                 "",                     NULL),
    K_BOOL("audit.attack_signatures",      audit.attack_signatures,                             true),
    K_LIST("audit.alerts",                 audit.alerts,                  audit.nalerts,        default_alerts,         64, bw_cfg_check_alert),
    K_OPT ("audit.webhook.url",            audit.webhook.url,             NULL,                 "",                     bw_cfg_check_https_url),
    K_OPT ("audit.webhook.ca",             audit.webhook.ca,              NULL,                 "",                     NULL),
    K_INT ("audit.webhook.queue",          audit.webhook.queue,           NULL,                 1024,                   1, 100000),
    K_INT ("audit.webhook.max_retries",    audit.webhook.max_retries,     NULL,                 5,                      0, 20),
    K_INT ("audit.webhook.timeout_ms",     audit.webhook.timeout_ms,      NULL,                 5000,                   100, 60000),
    K_OPT ("metrics.listen",               metrics.listen,                "BULWARK_METRICS_LISTEN", "127.0.0.1:9464",   bw_cfg_check_listen),
    K_BOOL("metrics.allow_public",         metrics.allow_public,                                false),
    K_STR ("secrets.session_key",          secrets.session_key.ref,       NULL,                 "file:secrets/session.key", NULL, NULL, true),
    K_STR ("secrets.audit_key",            secrets.audit_key.ref,         NULL,                 "file:secrets/audit.key",   NULL, NULL, true),
    K_STR ("secrets.webhook_key",          secrets.webhook_key.ref,       NULL,                 "file:secrets/webhook.key", NULL, NULL, true),
};
/* clang-format on */

const bw_cfg_key *bw_cfg_keys(size_t *n)
{
    *n = sizeof(keys) / sizeof(keys[0]);
    return keys;
}

const bw_cfg_key *bw_cfg_find(const char *path, size_t len)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strlen(keys[i].path) == len && memcmp(keys[i].path, path, len) == 0)
            return &keys[i];
    }
    return NULL;
}

bool bw_cfg_is_section(const char *prefix, size_t len)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *p = keys[i].path;
        if (strlen(p) > len && memcmp(p, prefix, len) == 0 && p[len] == '.')
            return true;
    }
    return false;
}

/* ---- Values ---- */

#define FIELD(c, k, type) ((type *)(void *)((char *)(c) + (k)->offset))
#define CFIELD(c, k, type) ((type const *)(const void *)((const char *)(c) + (k)->offset))
#define COUNT(c, k) ((size_t *)(void *)((char *)(c) + (k)->count_offset))
#define CCOUNT(c, k) ((const size_t *)(const void *)((const char *)(c) + (k)->count_offset))

static void free_list(char **items, size_t n)
{
    if (items == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

/* Checks one string value of key k (a STRING value or a LIST item). */
static int check_string(const bw_cfg_key *k, const char *s, size_t len, const char *where,
                        char *err, size_t errlen)
{
    char why[256];
    if (k->secret) {
        if (bw_secret_ref_parse(s, len, why, sizeof(why)) != 0) {
            bw_cfg_err(err, errlen, where, "%s", why);
            return -1;
        }
        return 0;
    }
    if (len == 0 && k->may_be_empty)
        return 0;
    if (len == 0 || len > BW_CFG_MAX_STRING) {
        bw_cfg_err(err, errlen, where, "must be a string of 1 to %d bytes", BW_CFG_MAX_STRING);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f) {
            bw_cfg_err(err, errlen, where, "must not contain control characters");
            return -1;
        }
    }
    if (!bw_utf8_valid((const unsigned char *)s, len)) {
        bw_cfg_err(err, errlen, where, "must be valid UTF-8");
        return -1;
    }
    if (k->allowed != NULL) {
        for (size_t i = 0; k->allowed[i] != NULL; i++) {
            if (strlen(k->allowed[i]) == len && memcmp(k->allowed[i], s, len) == 0)
                return 0;
        }
        char list[128];
        size_t used = 0;
        list[0] = '\0';
        for (size_t i = 0; k->allowed[i] != NULL; i++) {
            int n = snprintf(list + used, sizeof(list) - used, "%s\"%s\"", i ? ", " : "",
                             k->allowed[i]);
            if (n < 0 || (size_t)n >= sizeof(list) - used)
                break;
            used += (size_t)n;
        }
        bw_cfg_err(err, errlen, where, "must be one of %s", list);
        return -1;
    }
    if (k->check != NULL && k->check(s, len, why, sizeof(why)) != 0) {
        bw_cfg_err(err, errlen, where, "%s", why);
        return -1;
    }
    return 0;
}

static int set_string(bw_config *c, const bw_cfg_key *k, const char *s, size_t len,
                      const char *where, char *err, size_t errlen)
{
    if (check_string(k, s, len, where, err, errlen) != 0)
        return -1;
    char *copy = bw_cfg_strndup(s, len);
    if (copy == NULL) {
        bw_cfg_err(err, errlen, where, "out of memory");
        return -1;
    }
    free(*FIELD(c, k, char *));
    *FIELD(c, k, char *) = copy;
    return 0;
}

static int set_number(bw_config *c, const bw_cfg_key *k, long long v, const char *where, char *err,
                      size_t errlen)
{
    if (v < k->min || v > k->max) {
        bw_cfg_err(err, errlen, where, "must be an integer between %lld and %lld", k->min, k->max);
        return -1;
    }
    if (k->type == BW_CFG_INT)
        *FIELD(c, k, int) = (int)v; /* the table's ranges all fit in int */
    else
        *FIELD(c, k, long long) = v;
    return 0;
}

static int set_list(bw_config *c, const bw_cfg_key *k, const json_t *v, const char *where,
                    char *err, size_t errlen)
{
    if (!json_is_array(v)) {
        bw_cfg_err(err, errlen, where, "must be an array of strings");
        return -1;
    }
    size_t n = json_array_size(v);
    if (n > (size_t)k->max) {
        bw_cfg_err(err, errlen, where, "must have at most %lld entries", k->max);
        return -1;
    }
    char **items = calloc(n ? n : 1, sizeof(*items));
    if (items == NULL) {
        bw_cfg_err(err, errlen, where, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(v, i);
        char at[BW_CFG_MAX_PATH];
        bw_cfg_fmt(at, sizeof(at), "%s[%zu]", where, i);
        if (!json_is_string(item)) {
            bw_cfg_err(err, errlen, at, "must be a string");
            goto fail;
        }
        const char *s = json_string_value(item);
        size_t len = json_string_length(item);
        if (check_string(k, s, len, at, err, errlen) != 0)
            goto fail;
        items[i] = bw_cfg_strndup(s, len);
        if (items[i] == NULL) {
            bw_cfg_err(err, errlen, at, "out of memory");
            goto fail;
        }
    }
    free_list(*FIELD(c, k, char **), *COUNT(c, k));
    *FIELD(c, k, char **) = items;
    *COUNT(c, k) = n;
    return 0;
fail:
    free_list(items, n);
    return -1;
}

int bw_cfg_set_json(bw_config *c, const bw_cfg_key *k, const json_t *v, const char *where,
                    char *err, size_t errlen)
{
    switch (k->type) {
    case BW_CFG_STRING:
        if (!json_is_string(v)) {
            bw_cfg_err(err, errlen, where, "must be a string");
            return -1;
        }
        return set_string(c, k, json_string_value(v), json_string_length(v), where, err, errlen);
    case BW_CFG_BOOL:
        if (!json_is_boolean(v)) {
            bw_cfg_err(err, errlen, where, "must be true or false");
            return -1;
        }
        *FIELD(c, k, bool) = json_is_true(v);
        return 0;
    case BW_CFG_INT:
    case BW_CFG_INT64:
        if (!json_is_integer(v)) {
            bw_cfg_err(err, errlen, where, "must be an integer between %lld and %lld", k->min,
                       k->max);
            return -1;
        }
        return set_number(c, k, (long long)json_integer_value(v), where, err, errlen);
    case BW_CFG_LIST:
        return set_list(c, k, v, where, err, errlen);
    case BW_CFG_HEADERS:
        return bw_cfg_headers_set_json(c, v, err, errlen);
    }
    bw_cfg_err(err, errlen, where, "unsupported key type");
    return -1;
}

/* A decimal integer: optional '-', then 1..18 digits (no spaces, no '+'). */
static bool parse_integer(const char *s, size_t len, long long *out)
{
    size_t i = (len > 0 && s[0] == '-') ? 1 : 0;
    if (len == i || len - i > 18)
        return false;
    long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = s[0] == '-' ? -v : v;
    return true;
}

int bw_cfg_set_text(bw_config *c, const bw_cfg_key *k, const char *s, size_t len, const char *where,
                    char *err, size_t errlen)
{
    long long v;
    switch (k->type) {
    case BW_CFG_STRING:
        return set_string(c, k, s, len, where, err, errlen);
    case BW_CFG_INT:
    case BW_CFG_INT64:
        if (!parse_integer(s, len, &v)) {
            bw_cfg_err(err, errlen, where, "must be an integer between %lld and %lld", k->min,
                       k->max);
            return -1;
        }
        return set_number(c, k, v, where, err, errlen);
    case BW_CFG_BOOL:
    case BW_CFG_LIST:
    case BW_CFG_HEADERS:
        break;
    }
    bw_cfg_err(err, errlen, where, "cannot be set from the environment");
    return -1;
}

static char **copy_list(const char *const *src, size_t *n)
{
    size_t count = 0;
    while (src[count] != NULL)
        count++;
    char **items = calloc(count ? count : 1, sizeof(*items));
    if (items == NULL)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        items[i] = bw_cfg_strndup(src[i], strlen(src[i]));
        if (items[i] == NULL) {
            free_list(items, count);
            return NULL;
        }
    }
    *n = count;
    return items;
}

int bw_cfg_set_defaults(bw_config *c)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const bw_cfg_key *k = &keys[i];
        switch (k->type) {
        case BW_CFG_STRING:
            free(*FIELD(c, k, char *));
            *FIELD(c, k, char *) = bw_cfg_strndup(k->def_str, strlen(k->def_str));
            if (*FIELD(c, k, char *) == NULL)
                return -1;
            break;
        case BW_CFG_BOOL:
            *FIELD(c, k, bool) = k->def_num != 0;
            break;
        case BW_CFG_INT:
            *FIELD(c, k, int) = (int)k->def_num;
            break;
        case BW_CFG_INT64:
            *FIELD(c, k, long long) = k->def_num;
            break;
        case BW_CFG_LIST: {
            size_t n = 0;
            char **items = copy_list(k->def_list, &n);
            if (items == NULL)
                return -1;
            free_list(*FIELD(c, k, char **), *COUNT(c, k));
            *FIELD(c, k, char **) = items;
            *COUNT(c, k) = n;
            break;
        }
        case BW_CFG_HEADERS:
            bw_cfg_headers_free(c); /* default: no overrides */
            break;
        }
    }
    return 0;
}

void bw_cfg_free_values(bw_config *c)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const bw_cfg_key *k = &keys[i];
        if (k->type == BW_CFG_STRING) {
            free(*FIELD(c, k, char *));
            *FIELD(c, k, char *) = NULL;
        } else if (k->type == BW_CFG_LIST) {
            free_list(*FIELD(c, k, char **), *COUNT(c, k));
            *FIELD(c, k, char **) = NULL;
            *COUNT(c, k) = 0;
        }
    }
}

/* The value of key k as a new JSON value, or NULL when out of memory. */
static json_t *value_json(const bw_config *c, const bw_cfg_key *k)
{
    switch (k->type) {
    case BW_CFG_STRING:
        return json_string(*CFIELD(c, k, char *));
    case BW_CFG_BOOL:
        return json_boolean(*CFIELD(c, k, bool));
    case BW_CFG_INT:
        return json_integer(*CFIELD(c, k, int));
    case BW_CFG_INT64:
        return json_integer(*CFIELD(c, k, long long));
    case BW_CFG_LIST: {
        json_t *a = json_array();
        char *const *items = *CFIELD(c, k, char **);
        for (size_t i = 0; a != NULL && i < *CCOUNT(c, k); i++) {
            if (json_array_append_new(a, json_string(items[i])) != 0) {
                json_decref(a);
                a = NULL;
            }
        }
        return a;
    }
    case BW_CFG_HEADERS:
        break;
    }
    return NULL;
}

int bw_cfg_dump_key(const bw_config *c, const bw_cfg_key *k, json_t *root)
{
    if (k->type == BW_CFG_HEADERS)
        return bw_cfg_headers_dump(c, root);
    json_t *parent = root;
    const char *name = k->path, *dot;
    /* Walk (and create) the sections named before the last '.'. */
    while ((dot = strchr(name, '.')) != NULL) {
        char section[BW_CFG_MAX_PATH];
        size_t n = (size_t)(dot - name);
        if (n >= sizeof(section))
            return -1;
        memcpy(section, name, n);
        section[n] = '\0';
        json_t *child = json_object_get(parent, section);
        if (child == NULL) {
            child = json_object();
            if (child == NULL || json_object_set_new(parent, section, child) != 0)
                return -1;
        }
        parent = child;
        name = dot + 1;
    }
    json_t *v = value_json(c, k);
    if (v == NULL)
        return -1;
    return json_object_set_new(parent, name, v) == 0 ? 0 : -1;
}
