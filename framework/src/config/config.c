/* Loading the configuration: defaults, then the JSON file, then BULWARK_*
 * variables; then the cross-field checks and the list of risky settings. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/embed.h"
#include "bulwark/schema.h"
#include "config_internal.h"

#define ENV_PREFIX "BULWARK_"
#define ENV_CONFIG "BULWARK_CONFIG"

/* Headers whose replacement weakens a protection Bulwark sets by default. */
static const char *const security_headers[] = {
    "Strict-Transport-Security",
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Permissions-Policy",
    "Cross-Origin-Opener-Policy",
    "Cross-Origin-Resource-Policy",
    "Cross-Origin-Embedder-Policy",
    "Cache-Control",
};

/* ---- The JSON file ---- */

/* Reads at most BW_CONFIG_MAX_FILE_BYTES of a regular file into *buf. */
static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    char shown[256];
    bw_cfg_clean(path, strlen(path), shown, sizeof(shown));
    /* O_NONBLOCK: a FIFO must not hang start-up before the regular-file check
     * (regular files ignore the flag). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        bw_cfg_fmt(err, errlen, "config file %s: cannot open: %s", shown, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        bw_cfg_fmt(err, errlen, "config file %s: not a regular file", shown);
        close(fd);
        return -1;
    }
    /* One byte more than allowed tells a too-big file apart, even one that
     * grows while we read it. */
    size_t cap = (size_t)BW_CONFIG_MAX_FILE_BYTES + 1, used = 0;
    char *p = malloc(cap);
    if (p == NULL) {
        bw_cfg_fmt(err, errlen, "config file %s: out of memory", shown);
        close(fd);
        return -1;
    }
    while (used < cap) {
        ssize_t n = read(fd, p + used, cap - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            bw_cfg_fmt(err, errlen, "config file %s: cannot read: %s", shown, strerror(errno));
            free(p);
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    if (used > (size_t)BW_CONFIG_MAX_FILE_BYTES) {
        bw_cfg_fmt(err, errlen, "config file %s: larger than %u bytes", shown,
                   BW_CONFIG_MAX_FILE_BYTES);
        free(p);
        return -1;
    }
    *buf = p;
    *len = used;
    return 0;
}

/* Applies the members of obj, found under prefix ("" at the top level). */
static int apply_object(bw_config *c, const json_t *obj, const char *prefix, char *err,
                        size_t errlen)
{
    const char *key;
    const json_t *value;
    size_t plen = strlen(prefix);
    json_object_foreach((json_t *)obj, key, value)
    {
        char path[BW_CFG_MAX_PATH];
        size_t keylen = strlen(key);
        const bw_cfg_key *k = NULL;
        bool section = false;
        int n = snprintf(path, sizeof(path), "%s%s%s", prefix, plen ? "." : "", key);
        /* A key holding '.' must not reach a nested key ("server.threads" at
         * the top level is unknown, not server.threads). */
        if (n > 0 && (size_t)n < sizeof(path) && memchr(key, '.', keylen) == NULL) {
            k = bw_cfg_find(path, (size_t)n);
            section = k == NULL && bw_cfg_is_section(path, (size_t)n);
        }
        if (k != NULL) {
            if (bw_cfg_set_json(c, k, value, path, err, errlen) != 0)
                return -1;
        } else if (section) {
            if (!json_is_object(value)) {
                bw_cfg_err(err, errlen, path, "must be an object");
                return -1;
            }
            if (apply_object(c, value, path, err, errlen) != 0)
                return -1;
        } else {
            char name[64], shown[BW_CFG_MAX_PATH];
            bool dotted = memchr(key, '.', keylen) != NULL;
            bw_cfg_clean(key, keylen, name, sizeof(name));
            bw_cfg_fmt(shown, sizeof(shown), "%s%s%s%s", prefix, dotted ? "[\"" : (plen ? "." : ""),
                       name, dotted ? "\"]" : "");
            bw_cfg_err(err, errlen, shown, "unknown key");
            return -1;
        }
    }
    return 0;
}

#define BW_CONFIG_SCHEMA_URI "https://schemas.bulwark.invalid/config/schema.json"

/* Validates the file against config/schema.json (compiled into the library). */
static int check_schema(const json_t *root, const char *name, char *err, size_t errlen)
{
    return bw_schema_check_embedded(bw_config_schema_file, bw_config_schema_file_count,
                                    BW_CONFIG_SCHEMA_URI, "config/schema.json", root, name, err,
                                    errlen);
}

static int apply_json(bw_config *c, const char *buf, size_t len, const char *name, char *err,
                      size_t errlen)
{
    json_error_t jerr;
    if (len > (size_t)BW_CONFIG_MAX_FILE_BYTES) {
        bw_cfg_fmt(err, errlen, "%s: larger than %u bytes", name, BW_CONFIG_MAX_FILE_BYTES);
        return -1;
    }
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        char shown[128];
        bw_cfg_clean(jerr.text, strnlen(jerr.text, sizeof(jerr.text)), shown, sizeof(shown));
        bw_cfg_fmt(err, errlen, "%s: invalid JSON at line %d, column %d: %s", name, jerr.line,
                   jerr.column, shown);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(root))
        bw_cfg_fmt(err, errlen, "%s: the top level must be a JSON object", name);
    else
        rc = apply_object(c, root, "", err, errlen);
    /* The table gives each key its own message; config/schema.json, through
     * the framework's validator, is the published contract and must agree. */
    if (rc == 0)
        rc = check_schema(root, name, err, errlen);
    json_decref(root);
    return rc;
}

/* ---- The environment ---- */

/* The value of the first NAME=value entry in envp, or NULL. */
static const char *env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; envp[i] != NULL; i++) {
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
            return envp[i] + n + 1;
    }
    return NULL;
}

static const bw_cfg_key *key_for_env(const char *name, size_t len)
{
    size_t n;
    const bw_cfg_key *keys = bw_cfg_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (keys[i].env != NULL && strlen(keys[i].env) == len &&
            memcmp(keys[i].env, name, len) == 0)
            return &keys[i];
    }
    return NULL;
}

static int apply_env(bw_config *c, char *const *envp, char *err, size_t errlen)
{
    /* A misspelt variable would otherwise be ignored without a word. */
    for (size_t i = 0; envp[i] != NULL; i++) {
        const char *e = envp[i], *eq = strchr(e, '=');
        if (strncmp(e, ENV_PREFIX, strlen(ENV_PREFIX)) != 0 || eq == NULL)
            continue;
        size_t len = (size_t)(eq - e);
        if ((len == strlen(ENV_CONFIG) && memcmp(e, ENV_CONFIG, len) == 0) ||
            key_for_env(e, len) != NULL)
            continue;
        char shown[BW_CFG_MAX_PATH];
        bw_cfg_clean(e, len, shown, sizeof(shown));
        bw_cfg_err(err, errlen, shown, "unknown configuration variable");
        return -1;
    }
    size_t n;
    const bw_cfg_key *keys = bw_cfg_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const char *v = keys[i].env != NULL ? env_get(envp, keys[i].env) : NULL;
        if (v == NULL)
            continue;
        char where[BW_CFG_MAX_PATH];
        bw_cfg_fmt(where, sizeof(where), "%s (%s)", keys[i].env, keys[i].path);
        if (bw_cfg_set_text(c, &keys[i], v, strlen(v), where, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* ---- Cross-field checks and risky settings ---- */

static bool has_wildcard_origin(const bw_config *c)
{
    for (size_t i = 0; i < c->cors.norigins; i++) {
        if (strcmp(c->cors.allowed_origins[i], "*") == 0)
            return true;
    }
    return false;
}

static int cross_check(const bw_config *c, char *err, size_t errlen)
{
    if (c->server.plain_http && !c->server.allow_public_http &&
        !bw_config_listen_is_loopback(c->server.listen)) {
        bw_cfg_err(err, errlen, "server.listen",
                   "plain HTTP on a non-loopback address needs "
                   "\"server.allow_public_http\": true");
        return -1;
    }
    if (c->server.nredirect > 0 && c->server.plain_http) {
        bw_cfg_err(err, errlen, "server.redirect_listen",
                   "redirects to HTTPS need TLS; remove it or \"server.plain_http\"");
        return -1;
    }
    if (c->server.allow_public_http && !c->server.plain_http) {
        bw_cfg_err(err, errlen, "server.allow_public_http",
                   "only applies with \"server.plain_http\": true");
        return -1;
    }
    if (c->metrics.listen[0] != '\0' && !c->metrics.allow_public &&
        !bw_config_listen_is_loopback(c->metrics.listen)) {
        bw_cfg_err(err, errlen, "metrics.listen",
                   "a non-loopback metrics listener needs \"metrics.allow_public\": true");
        return -1;
    }
    if (c->metrics.allow_public && c->metrics.listen[0] == '\0') {
        bw_cfg_err(err, errlen, "metrics.allow_public", "only applies with \"metrics.listen\"");
        return -1;
    }
    bool wildcard = has_wildcard_origin(c);
    if (wildcard && c->cors.norigins > 1) {
        bw_cfg_err(err, errlen, "cors.allowed_origins", "\"*\" must be the only entry");
        return -1;
    }
    if (wildcard && c->cors.allow_credentials) {
        bw_cfg_err(err, errlen, "cors.allow_credentials",
                   "cannot be true while cors.allowed_origins is \"*\"");
        return -1;
    }
    if (c->cors.enabled && c->cors.norigins == 0) {
        bw_cfg_err(err, errlen, "cors.allowed_origins",
                   "must list at least one origin when cors.enabled is true");
        return -1;
    }
    return 0;
}

static int add_risky(bw_config *c, const char *text)
{
    char **grown = realloc(c->risky, (c->nrisky + 1) * sizeof(*c->risky));
    if (grown == NULL)
        return -1;
    c->risky = grown;
    c->risky[c->nrisky] = bw_cfg_strndup(text, strlen(text));
    if (c->risky[c->nrisky] == NULL)
        return -1;
    c->nrisky++;
    return 0;
}

static bool is_security_header(const char *name)
{
    for (size_t i = 0; i < sizeof(security_headers) / sizeof(security_headers[0]); i++) {
        if (strcasecmp(security_headers[i], name) == 0)
            return true;
    }
    return false;
}

static int find_risky(bw_config *c)
{
    int rc = 0;
    if (c->server.plain_http)
        rc |= add_risky(c, "server.plain_http is on: no TLS");
    if (c->server.allow_public_http)
        rc |= add_risky(c, "server.allow_public_http is on");
    if (c->tls.allow_tls12)
        rc |= add_risky(c, "tls.allow_tls12 is on");
    if (c->limits.max_connections_per_address == 0)
        rc |=
            add_risky(c, "limits.max_connections_per_address is 0: no per-address connection cap");
    if (!c->ratelimit.enabled)
        rc |= add_risky(c, "ratelimit.enabled is off: no request rate limits");
    if (c->metrics.allow_public)
        rc |= add_risky(c, "metrics.allow_public is on: metrics served beyond loopback");
    if (c->cors.enabled && has_wildcard_origin(c))
        rc |= add_risky(c, "cors allows any origin (\"*\")");
    if (c->cors.enabled && c->cors.allow_credentials)
        rc |= add_risky(c, "cors allows credentials");
    for (size_t i = 0; i < c->headers.noverrides; i++) {
        const bw_header_override *o = &c->headers.overrides[i];
        for (size_t j = 0; j < o->nitems; j++) {
            const bw_kv *kv = &o->items[j];
            char text[2400]; /* names <= 256 and routes <= 2048 bytes fit */
            if (kv->value != NULL && !is_security_header(kv->name))
                continue;
            bw_cfg_fmt(text, sizeof(text), "headers override: %s %s %s%s", kv->name,
                       kv->value == NULL ? "removed" : "replaced",
                       o->route != NULL ? "on " : "globally", o->route != NULL ? o->route : "");
            rc |= add_risky(c, text);
        }
    }
    return rc;
}

/* ---- Public API ---- */

int bw_config_load_buffer(const char *buf, size_t len, const char *name, char *const *envp,
                          bw_config **out, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    *out = NULL;
    if (envp == NULL)
        envp = environ;
    bw_config *c = calloc(1, sizeof(*c));
    if (c == NULL || bw_cfg_set_defaults(c) != 0) {
        bw_cfg_fmt(err, errlen, "config: out of memory");
        bw_config_free(c);
        return -1;
    }
    if ((buf != NULL && apply_json(c, buf, len, name ? name : "config", err, errlen) != 0) ||
        apply_env(c, envp, err, errlen) != 0 || cross_check(c, err, errlen) != 0) {
        bw_config_free(c);
        return -1;
    }
    if (find_risky(c) != 0) {
        bw_cfg_fmt(err, errlen, "config: out of memory");
        bw_config_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int bw_config_load(const char *file_or_null, char *const *envp, bw_config **out, char *err,
                   size_t errlen)
{
    if (envp == NULL)
        envp = environ;
    const char *path = file_or_null != NULL ? file_or_null : env_get(envp, ENV_CONFIG);
    *out = NULL;
    if (path == NULL)
        return bw_config_load_buffer(NULL, 0, NULL, envp, out, err, errlen);
    if (path[0] == '\0') {
        bw_cfg_fmt(err, errlen, "%s: the config file path is empty",
                   file_or_null != NULL ? "--config" : ENV_CONFIG);
        return -1;
    }
    char *buf = NULL, name[300], shown[256];
    size_t len = 0;
    if (read_file(path, &buf, &len, err, errlen) != 0)
        return -1;
    bw_cfg_clean(path, strlen(path), shown, sizeof(shown));
    (void)snprintf(name, sizeof(name), "config file %s", shown);
    int rc = bw_config_load_buffer(buf, len, name, envp, out, err, errlen);
    free(buf);
    return rc;
}

void bw_config_free(bw_config *c)
{
    if (c == NULL)
        return;
    bw_cfg_free_values(c);
    bw_cfg_headers_free(c);
    for (size_t i = 0; i < c->nrisky; i++)
        free(c->risky[i]);
    free(c->risky);
    free(c);
}

int bw_config_dump(const bw_config *c, FILE *f)
{
    size_t n;
    const bw_cfg_key *keys = bw_cfg_keys(&n);
    json_t *root = json_object();
    int rc = root != NULL ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = bw_cfg_dump_key(c, &keys[i], root);
    if (rc == 0)
        rc = json_dumpf(root, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF ? 0 : -1;
    json_decref(root);
    return rc;
}

const char *bw_config_path_in_data(const bw_config *c, const char *p, char *buf, size_t buflen)
{
    if (c == NULL || c->data_dir == NULL || p == NULL || p[0] == '\0' || buf == NULL)
        return NULL;
    size_t plen = strlen(p);
    if (p[0] == '/') {
        if (plen >= buflen)
            return NULL;
        memcpy(buf, p, plen + 1);
        return buf;
    }
    size_t dlen = strlen(c->data_dir);
    size_t sep = (dlen > 0 && c->data_dir[dlen - 1] == '/') ? 0 : 1;
    /* dlen + sep + plen + 1 <= buflen, written so it cannot overflow. */
    if (dlen >= buflen || sep >= buflen - dlen || plen >= buflen - dlen - sep)
        return NULL;
    memcpy(buf, c->data_dir, dlen);
    if (sep)
        buf[dlen] = '/';
    memcpy(buf + dlen + sep, p, plen + 1);
    return buf;
}

bool bw_config_listen_is_loopback(const char *listen)
{
    const char *host;
    size_t hostlen;
    bool v6;
    unsigned port;
    char why[16], copy[INET6_ADDRSTRLEN];
    if (listen == NULL || bw_cfg_listen_split(listen, strlen(listen), &host, &hostlen, &v6, &port,
                                              why, sizeof(why)) != 0)
        return false;
    if (hostlen == strlen("localhost") && strncasecmp(host, "localhost", hostlen) == 0)
        return true;
    if (hostlen >= sizeof(copy))
        return false; /* a host name, not an address */
    memcpy(copy, host, hostlen);
    copy[hostlen] = '\0';
    if (v6) {
        struct in6_addr a6;
        return inet_pton(AF_INET6, copy, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    struct in_addr a4;
    return inet_pton(AF_INET, copy, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

size_t bw_config_risky(const bw_config *c, const char **items, size_t max)
{
    for (size_t i = 0; i < c->nrisky && i < max; i++)
        items[i] = c->risky[i];
    return c->nrisky;
}
