/* Fuzzes bw_router_match on a fixed router of about ten routes. Input: first byte selects the
 * method length split; the rest is method bytes then path bytes. Checks the result is coherent:
 * params lie inside the path and are whole non-empty segments, statuses carry the right fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/router.h"

static int tag[16];

static bw_router *build(void)
{
    static const struct {
        const char *method, *pattern;
    } routes[] = {
        {"GET", "/"},
        {"GET", "/healthz"},
        {"GET", "/v1/notes"},
        {"POST", "/v1/notes"},
        {"GET", "/v1/notes/{id}"},
        {"PUT", "/v1/notes/{id}"},
        {"DELETE", "/v1/notes/{id}"},
        {"GET", "/v1/notes/search"},
        {"POST", "/v1/notes/{id}/tags"},
        {"GET", "/v1/users/{user_id}/notes/{note_id}"},
        {"HEAD", "/v1/users/{user_id}"},
        {"OPTIONS", "/v1/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}"},
        {"GET", "/a/{x}/c"},
        {"GET", "/a/b/d"},
    };
    bw_router *r = bw_router_new();

    if (r == NULL)
        abort();
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (bw_router_add(r, routes[i].method, routes[i].pattern, &tag[i], NULL, 0) != 0)
            abort();
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bw_router *r;
    bw_route_match m;
    size_t mlen;
    const char *method, *path;
    size_t plen;
    char *mcopy, *pcopy;

    if (r == NULL)
        r = build();
    if (size == 0)
        return 0;
    mlen = data[0] % 16;
    if (mlen > size - 1)
        mlen = size - 1;
    plen = size - 1 - mlen;
    /* Separate exact-size heap copies, so ASan catches a read past either length. */
    mcopy = malloc(mlen > 0 ? mlen : 1);
    pcopy = malloc(plen > 0 ? plen : 1);
    if (mcopy == NULL || pcopy == NULL)
        abort();
    memcpy(mcopy, data + 1, mlen);
    memcpy(pcopy, data + 1 + mlen, plen);
    method = mlen > 0 ? mcopy : NULL;
    path = pcopy;

    bw_router_match(r, method, mlen, path, plen, &m);
    if (strnlen(m.allow, sizeof m.allow) == sizeof m.allow || m.nparams > BW_ROUTER_MAX_PARAMS)
        abort();
    switch (m.status) {
    case BW_ROUTE_NOT_FOUND:
        if (m.pattern != NULL || m.udata != NULL || m.nparams != 0 || m.allow[0] != '\0' ||
            m.auto_head || m.auto_options)
            abort();
        break;
    case BW_ROUTE_FOUND:
        if (m.pattern == NULL || m.allow[0] == '\0')
            abort();
        if ((m.udata == NULL) != (m.auto_options == 1) || (m.auto_head && m.auto_options))
            abort();
        if (m.udata != NULL && ((int *)m.udata < tag || (int *)m.udata >= tag + 16))
            abort();
        break;
    case BW_ROUTE_METHOD_NOT_ALLOWED:
        if (m.pattern == NULL || m.udata != NULL || m.allow[0] == '\0' || m.auto_head ||
            m.auto_options)
            abort();
        break;
    default:
        abort();
    }
    for (size_t i = 0; i < m.nparams; i++) {
        const bw_route_param *p = &m.params[i];
        if (p->value_len == 0 || p->value <= path || p->value_len > plen ||
            (size_t)(p->value - path) > plen - p->value_len)
            abort();
        if (p->value[-1] != '/' || memchr(p->value, '/', p->value_len) != NULL)
            abort();
        if ((size_t)(p->value - path) + p->value_len < plen && p->value[p->value_len] != '/')
            abort();
        if (p->name == NULL || p->name_len == 0 || p->name_len > 32)
            abort();
    }
    free(mcopy);
    free(pcopy);
    return 0;
}
