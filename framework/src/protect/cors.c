/* CORS allowlist and preflight; see cors.h for the contract. */
#include "bulwark/err.h"
#include "bulwark/cors.h"

#include "bulwark/http.h"
#include "bulwark/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CORS_MAX_AGE_LIMIT 86400

struct str {
    char *p;
    size_t len;
};

struct bw_cors {
    bool enabled;
    bool any_origin; /* configured "*" */
    bool credentials;
    struct str *origins;
    size_t norigins;
    struct str *methods;
    size_t nmethods;
    struct str *headers;
    size_t nheaders;
    struct str allow_methods; /* "GET, POST" */
    struct str allow_headers; /* "content-type, x-csrf"; len 0 if none */
    char max_age[16];
    size_t max_age_len;
};

static const char *const DEFAULT_METHODS[] = {"GET", "HEAD", "POST"};

static bool is_lower_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Checks that o is a serialized origin as browsers send it: scheme "://" host [":" port],
 * all lowercase, no path, no userinfo, no default port. Returns NULL or the reason. */
static const char *origin_problem(const char *o, size_t len)
{
    size_t i = 0;
    for (size_t k = 0; k < len; k++) {
        if (o[k] >= 'A' && o[k] <= 'Z')
            return "must be lowercase, as browsers send it";
    }
    if (len == 0 || !(o[0] >= 'a' && o[0] <= 'z'))
        return "must start with a scheme";
    while (i < len &&
           (is_lower_alnum((unsigned char)o[i]) || o[i] == '+' || o[i] == '-' || o[i] == '.'))
        i++;
    size_t scheme_len = i;
    if (i + 3 > len || memcmp(o + i, "://", 3) != 0)
        return "must be scheme://host[:port]";
    i += 3;
    size_t host = i;
    if (i < len && o[i] == '[') {
        i++;
        while (i < len && (is_lower_alnum((unsigned char)o[i]) || o[i] == ':' || o[i] == '.'))
            i++;
        if (i >= len || o[i] != ']' || i == host + 1)
            return "has a malformed IPv6 host";
        i++;
    } else {
        while (i < len &&
               (is_lower_alnum((unsigned char)o[i]) || o[i] == '-' || o[i] == '.' || o[i] == '_'))
            i++;
        if (i == host)
            return "has no host";
    }
    if (i == len)
        return NULL;
    if (o[i] != ':')
        return "must not have a path, query, userinfo or trailing slash";
    i++;
    size_t port = 0, digits = len - i;
    if (digits == 0 || digits > 5 || o[i] == '0')
        return "has a malformed port";
    for (; i < len; i++) {
        if (o[i] < '0' || o[i] > '9')
            return "has a malformed port";
        port = port * 10 + (size_t)(o[i] - '0');
    }
    if (port > 65535)
        return "has a malformed port";
    if ((port == 443 && scheme_len == 5 && memcmp(o, "https", 5) == 0) ||
        (port == 80 && scheme_len == 4 && memcmp(o, "http", 4) == 0))
        return "has a default port, which browsers never send";
    return NULL;
}

static int copy_list(struct str **dst, const char *const *src, size_t n)
{
    *dst = calloc(n == 0 ? 1 : n, sizeof(**dst));
    if (*dst == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(src[i]);
        (*dst)[i].p = malloc(len + 1);
        if ((*dst)[i].p == NULL)
            return -1;
        memcpy((*dst)[i].p, src[i], len + 1);
        (*dst)[i].len = len;
    }
    return 0;
}

/* Joins list with ", "; *out.p stays NULL for an empty list. */
static int join(struct str *out, const struct str *list, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (total > SIZE_MAX - 2 || list[i].len > SIZE_MAX - 2 - total)
            return -1;
        total += list[i].len + 2;
    }
    if (n == 0)
        return 0;
    out->p = malloc(total - 1); /* the last ", " becomes the NUL */
    if (out->p == NULL)
        return -1;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            memcpy(out->p + at, ", ", 2);
            at += 2;
        }
        memcpy(out->p + at, list[i].p, list[i].len);
        at += list[i].len;
    }
    out->p[at] = '\0';
    out->len = at;
    return 0;
}

static void free_list(struct str *l, size_t n)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(l[i].p);
    free(l);
}

void bw_cors_free(bw_cors *c)
{
    if (c == NULL)
        return;
    free_list(c->origins, c->norigins);
    free_list(c->methods, c->nmethods);
    free_list(c->headers, c->nheaders);
    free(c->allow_methods.p);
    free(c->allow_headers.p);
    free(c);
}

static void log_risky(const char *origin, const char *why)
{
    bw_log_field f[] = {BW_LOG_S("setting", "cors.origins"), BW_LOG_S("value", origin),
                        BW_LOG_S("why", why)};
    bw_log(BW_LOG_WARN, "config.risky_setting", f, sizeof(f) / sizeof(f[0]));
}

static int validate(const bw_cors_config *c, char *err, size_t errlen)
{
    if (c->norigins == 0 || c->origins == NULL) {
        bw_err_set(err, errlen, "cors: enabled but no origins configured");
        return -1;
    }
    for (size_t i = 0; i < c->norigins; i++) {
        const char *o = c->origins[i];
        if (o == NULL) {
            bw_err_set(err, errlen, "cors: origin %zu is missing", i);
            return -1;
        }
        if (strcmp(o, "*") == 0) {
            if (c->allow_credentials) {
                bw_err_set(err, errlen, "cors: origin \"*\" cannot be combined with credentials");
                return -1;
            }
            if (c->norigins != 1) {
                bw_err_set(err, errlen, "cors: origin \"*\" must be the only origin");
                return -1;
            }
            continue;
        }
        if (strcmp(o, "null") == 0)
            continue;
        const char *why = origin_problem(o, strlen(o));
        if (why != NULL) {
            /* Only the index: a malformed origin may hold anything. */
            bw_err_set(err, errlen, "cors: origin %zu %s", i, why);
            return -1;
        }
    }
    if (c->nmethods != 0 && c->methods == NULL) {
        bw_err_set(err, errlen, "cors: methods missing");
        return -1;
    }
    for (size_t i = 0; i < c->nmethods; i++) {
        if (c->methods[i] == NULL || !bw_http_token_valid(c->methods[i], strlen(c->methods[i]))) {
            bw_err_set(err, errlen, "cors: method %zu is not a valid token", i);
            return -1;
        }
    }
    if (c->nheaders != 0 && c->headers == NULL) {
        bw_err_set(err, errlen, "cors: headers missing");
        return -1;
    }
    for (size_t i = 0; i < c->nheaders; i++) {
        if (c->headers[i] == NULL || !bw_http_token_valid(c->headers[i], strlen(c->headers[i]))) {
            bw_err_set(err, errlen, "cors: header %zu is not a valid token", i);
            return -1;
        }
    }
    if (c->max_age < 0 || c->max_age > CORS_MAX_AGE_LIMIT) {
        bw_err_set(err, errlen, "cors: max_age must be 0..%d seconds", CORS_MAX_AGE_LIMIT);
        return -1;
    }
    return 0;
}

bw_cors *bw_cors_new(const bw_cors_config *c, char *err, size_t errlen)
{
    if (c == NULL) {
        bw_err_set(err, errlen, "cors: no config");
        return NULL;
    }
    bw_cors *r = calloc(1, sizeof(*r));
    if (r == NULL)
        goto oom;
    if (!c->enabled)
        return r;
    if (validate(c, err, errlen) != 0) {
        bw_cors_free(r);
        return NULL;
    }

    const char *const *methods = c->methods;
    size_t nmethods = c->nmethods;
    if (nmethods == 0) {
        methods = DEFAULT_METHODS;
        nmethods = sizeof(DEFAULT_METHODS) / sizeof(DEFAULT_METHODS[0]);
    }
    r->enabled = true;
    r->credentials = c->allow_credentials;
    r->any_origin = strcmp(c->origins[0], "*") == 0;
    r->norigins = c->norigins;
    r->nmethods = nmethods;
    r->nheaders = c->nheaders;
    if (copy_list(&r->origins, c->origins, c->norigins) != 0 ||
        copy_list(&r->methods, methods, nmethods) != 0 ||
        copy_list(&r->headers, c->headers, c->nheaders) != 0 ||
        join(&r->allow_methods, r->methods, r->nmethods) != 0 ||
        join(&r->allow_headers, r->headers, r->nheaders) != 0)
        goto oom;
    int n = snprintf(r->max_age, sizeof(r->max_age), "%d", c->max_age);
    if (n < 0 || (size_t)n >= sizeof(r->max_age))
        goto oom;
    r->max_age_len = (size_t)n;

    /* Everything bw_cors_check() may copy into buf, each with its NUL. */
    size_t longest = 0;
    for (size_t i = 0; i < r->norigins; i++) {
        if (r->origins[i].len > longest)
            longest = r->origins[i].len;
    }
    if (longest > BW_CORS_BUF_SIZE || r->allow_methods.len > BW_CORS_BUF_SIZE ||
        r->allow_headers.len > BW_CORS_BUF_SIZE ||
        longest + r->allow_methods.len + r->allow_headers.len + r->max_age_len + 4 >
            BW_CORS_BUF_SIZE) {
        bw_err_set(err, errlen, "cors: origins, methods and headers exceed %d bytes",
                   BW_CORS_BUF_SIZE);
        bw_cors_free(r);
        return NULL;
    }

    for (size_t i = 0; i < r->norigins; i++) {
        if (r->any_origin)
            log_risky("*", "any site can read responses");
        else if (strcmp(r->origins[i].p, "null") == 0)
            log_risky("null", "any sandboxed or file: page can claim the null origin");
    }
    return r;

oom:
    bw_cors_free(r);
    bw_err_set(err, errlen, "cors: out of memory");
    return NULL;
}

struct outbuf {
    char *buf;
    size_t len, used;
};

/* Copies p into ob with a NUL; NULL if it does not fit. */
static const char *stash(struct outbuf *ob, const char *p, size_t len)
{
    if (ob->buf == NULL || len >= ob->len - ob->used)
        return NULL;
    char *d = ob->buf + ob->used;
    memcpy(d, p, len);
    d[len] = '\0';
    ob->used += len + 1;
    return d;
}

static bool origin_allowed(const bw_cors *c, const char *origin, size_t olen)
{
    if (c->any_origin)
        return !(olen == 4 && memcmp(origin, "null", 4) == 0);
    for (size_t i = 0; i < c->norigins; i++) {
        if (c->origins[i].len == olen && memcmp(c->origins[i].p, origin, olen) == 0)
            return true;
    }
    return false;
}

static bool method_allowed(const bw_cors *c, const char *m, size_t len)
{
    for (size_t i = 0; i < c->nmethods; i++) {
        if (c->methods[i].len == len && memcmp(c->methods[i].p, m, len) == 0)
            return true;
    }
    return false;
}

static bool header_allowed(const bw_cors *c, const char *h, size_t len)
{
    for (size_t i = 0; i < c->nheaders; i++) {
        if (c->headers[i].len == len && strncasecmp(c->headers[i].p, h, len) == 0)
            return true;
    }
    return false;
}

/* Access-Control-Request-Headers is a comma-separated list of names with optional
 * whitespace; empty elements are ignored (RFC 9110 5.6.1). */
static bool headers_allowed(const bw_cors *c, const char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && p[i] != ',')
            i++;
        size_t end = i;
        while (start < end && (p[start] == ' ' || p[start] == '\t'))
            start++;
        while (end > start && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        if (end > start && (!bw_http_token_valid(p + start, end - start) ||
                            !header_allowed(c, p + start, end - start)))
            return false;
        i++; /* past the comma */
    }
    return true;
}

bw_cors_result bw_cors_check(const bw_cors *c, const char *method, size_t mlen, const char *origin,
                             size_t olen, const char *acr_method, size_t acrm_len,
                             const char *acr_headers, size_t acrh_len, char *buf, size_t buflen,
                             bw_header_kv out[BW_CORS_MAX_HEADERS], size_t *nout)
{
    if (nout != NULL)
        *nout = 0;
    if (c == NULL || !c->enabled || origin == NULL)
        return BW_CORS_NOT_CORS;

    bool preflight =
        acr_method != NULL && method != NULL && mlen == 7 && memcmp(method, "OPTIONS", 7) == 0;
    bw_cors_result deny = preflight ? BW_CORS_PREFLIGHT_DENIED : BW_CORS_DENIED;
    if (out == NULL || nout == NULL)
        return deny;
    size_t n = 0;
    /* Whether the answer carries an Access-Control-Allow-Origin depends on Origin, so
     * caches must key on it; only the "*" answer is the same for everyone. */
    if (!c->any_origin)
        out[n++] = (bw_header_kv){"Vary", "Origin"};
    *nout = n;

    if (olen == 0 || !origin_allowed(c, origin, olen))
        return deny;
    if (preflight && (!method_allowed(c, acr_method, acrm_len) ||
                      (acr_headers != NULL && !headers_allowed(c, acr_headers, acrh_len))))
        return deny;

    struct outbuf ob = {buf, buflen, 0};
    const char *acao = "*";
    if (!c->any_origin && (acao = stash(&ob, origin, olen)) == NULL)
        return deny;
    out[n++] = (bw_header_kv){"Access-Control-Allow-Origin", acao};
    if (c->credentials)
        out[n++] = (bw_header_kv){"Access-Control-Allow-Credentials", "true"};
    if (!preflight) {
        *nout = n;
        return BW_CORS_ALLOWED;
    }

    const char *methods = stash(&ob, c->allow_methods.p, c->allow_methods.len);
    const char *max_age = stash(&ob, c->max_age, c->max_age_len);
    const char *headers = NULL;
    if (c->allow_headers.len != 0)
        headers = stash(&ob, c->allow_headers.p, c->allow_headers.len);
    if (methods == NULL || max_age == NULL || (c->allow_headers.len != 0 && headers == NULL)) {
        *nout = c->any_origin ? 0 : 1;
        return deny;
    }
    out[n++] = (bw_header_kv){"Access-Control-Allow-Methods", methods};
    if (headers != NULL)
        out[n++] = (bw_header_kv){"Access-Control-Allow-Headers", headers};
    out[n++] = (bw_header_kv){"Access-Control-Max-Age", max_age};
    *nout = n;
    return BW_CORS_PREFLIGHT_OK;
}
