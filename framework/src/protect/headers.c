/* Secure response header policy; see headers.h for the contract.
 *
 * A scope (global, or one route) records its changes as ops, one per header name (a later
 * change to the same name replaces the op). Each scope also keeps its final list, which
 * is recomputed from the defaults and the ops whenever they change. Capacity is reserved
 * before anything is modified, so an OOM leaves the policy exactly as it was. */
#include "bulwark/err.h"
#include "bulwark/headers.h"

#include "bulwark/http.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const bw_header_kv DEFAULTS[] = {
    {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Permissions-Policy", "accelerometer=(), camera=(), geolocation=(), gyroscope=(), "
                           "magnetometer=(), microphone=(), payment=(), usb=(), "
                           "interest-cohort=()"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
    {"Cache-Control", "no-store"},
    /* Strict-Transport-Security is added by the TLS layer, which knows whether the
     * listener is HTTPS; sending it over plain HTTP is meaningless. */
};
#define NDEFAULTS (sizeof(DEFAULTS) / sizeof(DEFAULTS[0]))

/* Set by the server while it frames the response; a policy must not duplicate them. */
static const char *const FRAMING[] = {
    "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "TE", "Trailer"};

struct op {
    char *name;
    char *value; /* NULL: remove */
};

struct scope {
    struct op *ops;
    size_t nops, capops;
    bw_header_kv *list;
    size_t nlist, caplist;
};

struct route {
    char *pattern;
    struct scope s;
};

struct bw_header_policy {
    struct scope global;
    struct route *routes; /* sorted by strcmp(pattern) for binary search */
    size_t nroutes, caproutes;
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d != NULL)
        memcpy(d, s, n + 1);
    return d;
}

/* Grows *arr to hold at least need elements of elem bytes. */
static int reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap < 4 ? 4 : *cap;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return -1;
        ncap *= 2;
    }
    void *n = reallocarray(*arr, ncap, elem);
    if (n == NULL)
        return -1;
    *arr = n;
    *cap = ncap;
    return 0;
}

static int reserve_list(struct scope *s, size_t need)
{
    return reserve((void **)&s->list, &s->caplist, need, sizeof(*s->list));
}

static void apply_ops(bw_header_kv *list, size_t *n, const struct scope *s)
{
    for (size_t i = 0; i < s->nops; i++) {
        const struct op *op = &s->ops[i];
        size_t j = 0;
        while (j < *n && strcasecmp(list[j].name, op->name) != 0)
            j++;
        if (op->value == NULL) {
            if (j < *n) {
                memmove(&list[j], &list[j + 1], (*n - j - 1) * sizeof(*list));
                (*n)--;
            }
        } else if (j < *n) {
            list[j].value = op->value;
        } else {
            list[(*n)++] = (bw_header_kv){op->name, op->value};
        }
    }
}

/* dst->list must hold NDEFAULTS + global->nops + (local ? local->nops : 0) entries. */
static void recompute(struct scope *dst, const struct scope *global, const struct scope *local)
{
    memcpy(dst->list, DEFAULTS, sizeof(DEFAULTS));
    dst->nlist = NDEFAULTS;
    apply_ops(dst->list, &dst->nlist, global);
    if (local != NULL)
        apply_ops(dst->list, &dst->nlist, local);
}

/* Index of route pattern, or -1 with *ins set to where it would be inserted. */
static long find_route(const bw_header_policy *p, const char *pattern, size_t *ins)
{
    size_t lo = 0, hi = p->nroutes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(pattern, p->routes[mid].pattern);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (ins != NULL)
        *ins = lo;
    return -1;
}

static long find_op(const struct scope *s, const char *name)
{
    for (size_t i = 0; i < s->nops; i++) {
        if (strcasecmp(s->ops[i].name, name) == 0)
            return (long)i;
    }
    return -1;
}

static void scope_free(struct scope *s)
{
    for (size_t i = 0; i < s->nops; i++) {
        free(s->ops[i].name);
        free(s->ops[i].value);
    }
    free(s->ops);
    free(s->list);
}

bw_header_policy *bw_header_policy_new(void)
{
    bw_header_policy *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    if (reserve_list(&p->global, NDEFAULTS) != 0) {
        free(p);
        return NULL;
    }
    recompute(&p->global, &p->global, NULL);
    return p;
}

static int validate(const char *route, const char *name, const char *value, char *err,
                    size_t errlen)
{
    if (route != NULL && route[0] == '\0') {
        bw_err_set(err, errlen, "headers: route must not be empty (use NULL for global)");
        return -1;
    }
    if (name == NULL || !bw_http_token_valid(name, strlen(name))) {
        bw_err_set(err, errlen, "headers: header name is missing or not a valid token");
        return -1;
    }
    for (size_t i = 0; i < sizeof(FRAMING) / sizeof(FRAMING[0]); i++) {
        if (strcasecmp(name, FRAMING[i]) == 0) {
            bw_err_set(err, errlen, "headers: %s is set by the server and cannot be configured",
                       FRAMING[i]);
            return -1;
        }
    }
    if (value != NULL && !bw_http_header_value_valid(value, strlen(value))) {
        bw_err_set(err, errlen,
                   "headers: value of %s has control characters or leading/trailing "
                   "whitespace",
                   name);
        return -1;
    }
    return 0;
}

/* Records op (name, value; value NULL = remove) in the global scope or a route's. */
static int change(bw_header_policy *p, const char *route, const char *name, const char *value,
                  char *err, size_t errlen)
{
    if (p == NULL) {
        bw_err_set(err, errlen, "headers: no policy");
        return -1;
    }
    if (validate(route, name, value, err, errlen) != 0)
        return -1;

    struct op op = {dup_str(name), value != NULL ? dup_str(value) : NULL};
    struct route fresh = {0};
    struct scope *target = &p->global;
    size_t ins = 0;
    long ri = -1;
    if (op.name == NULL || (value != NULL && op.value == NULL))
        goto oom;

    if (route != NULL) {
        ri = find_route(p, route, &ins);
        if (ri >= 0) {
            target = &p->routes[ri].s;
        } else {
            fresh.pattern = dup_str(route);
            if (fresh.pattern == NULL || reserve((void **)&p->routes, &p->caproutes, p->nroutes + 1,
                                                 sizeof(*p->routes)) != 0)
                goto oom;
            target = &fresh.s;
        }
    }
    long oi = find_op(target, name);
    size_t added = oi < 0 ? 1 : 0;
    if (reserve((void **)&target->ops, &target->capops, target->nops + added,
                sizeof(*target->ops)) != 0)
        goto oom;

    /* Reserve every list this change can lengthen. Growing is not a visible change. */
    if (route == NULL) {
        size_t base = NDEFAULTS + p->global.nops + added;
        if (reserve_list(&p->global, base) != 0)
            goto oom;
        for (size_t i = 0; i < p->nroutes; i++) {
            if (reserve_list(&p->routes[i].s, base + p->routes[i].s.nops) != 0)
                goto oom;
        }
    } else if (reserve_list(target, NDEFAULTS + p->global.nops + target->nops + added) != 0) {
        goto oom;
    }

    /* Commit: nothing below can fail. */
    if (route != NULL && ri < 0) {
        memmove(&p->routes[ins + 1], &p->routes[ins], (p->nroutes - ins) * sizeof(*p->routes));
        p->routes[ins] = fresh;
        p->nroutes++;
        target = &p->routes[ins].s;
    }
    struct op old = {NULL, NULL};
    if (oi >= 0) {
        old = target->ops[oi];
        target->ops[oi] = op;
    } else {
        target->ops[target->nops++] = op;
    }
    if (route == NULL) {
        recompute(&p->global, &p->global, NULL);
        for (size_t i = 0; i < p->nroutes; i++)
            recompute(&p->routes[i].s, &p->global, &p->routes[i].s);
    } else {
        recompute(target, &p->global, target);
    }
    free(old.name);
    free(old.value);
    /* The warning for a weakened header is logged once, at start-up, from
     * the configuration's list of risky settings (bw_config_risky). */
    return 0;

oom:
    free(op.name);
    free(op.value);
    free(fresh.pattern);
    scope_free(&fresh.s);
    bw_err_set(err, errlen, "headers: out of memory");
    return -1;
}

int bw_header_policy_set(bw_header_policy *p, const char *route, const char *name,
                         const char *value, char *err, size_t errlen)
{
    if (value == NULL) {
        bw_err_set(err, errlen, "headers: set needs a value (use remove to drop a header)");
        return -1;
    }
    return change(p, route, name, value, err, errlen);
}

int bw_header_policy_remove(bw_header_policy *p, const char *route, const char *name, char *err,
                            size_t errlen)
{
    return change(p, route, name, NULL, err, errlen);
}

size_t bw_header_policy_for(const bw_header_policy *p, const char *route, const bw_header_kv **out)
{
    if (out == NULL)
        return 0;
    if (p == NULL) {
        *out = NULL;
        return 0;
    }
    const struct scope *s = &p->global;
    if (route != NULL) {
        long ri = find_route(p, route, NULL);
        if (ri >= 0)
            s = &p->routes[ri].s;
    }
    *out = s->list;
    return s->nlist;
}

void bw_header_policy_free(bw_header_policy *p)
{
    if (p == NULL)
        return;
    scope_free(&p->global);
    for (size_t i = 0; i < p->nroutes; i++) {
        free(p->routes[i].pattern);
        scope_free(&p->routes[i].s);
    }
    free(p->routes);
    free(p);
}
