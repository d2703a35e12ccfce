/* The "headers" section: response header overrides, global and per route.
 *   "headers": {"set": {"Name": "value"}, "remove": ["Name"],
 *               "routes": {"/v1/notes/{id}": {"set": {...}, "remove": [...]}}} */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bulwark/http.h"
#include "config_internal.h"

#define MAX_NAME 256
#define MAX_VALUE 4096
#define MAX_ROUTE 2048
#define MAX_ITEMS 64
#define MAX_ROUTES 256

/* Framing and connection headers belong to the HTTP server; overriding them
 * could desynchronise the connection. */
static const char *const managed[] = {
    "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "TE", "Trailer"};

static void free_override(bw_header_override *o)
{
    for (size_t i = 0; i < o->nitems; i++) {
        free(o->items[i].name);
        free(o->items[i].value);
    }
    free(o->items);
    free(o->route);
    memset(o, 0, sizeof(*o));
}

void bw_cfg_headers_free(bw_config *c)
{
    for (size_t i = 0; i < c->headers.noverrides; i++)
        free_override(&c->headers.overrides[i]);
    free(c->headers.overrides);
    c->headers.overrides = NULL;
    c->headers.noverrides = 0;
}

static int check_name(const char *name, size_t len, const bw_header_override *o, const char *where,
                      char *err, size_t errlen)
{
    if (len > MAX_NAME || !bw_http_token_valid(name, len)) {
        bw_cfg_err(err, errlen, where, "not a valid header name");
        return -1;
    }
    for (size_t i = 0; i < sizeof(managed) / sizeof(managed[0]); i++) {
        if (strlen(managed[i]) == len && strncasecmp(managed[i], name, len) == 0) {
            bw_cfg_err(err, errlen, where, "%s is managed by the server and cannot be overridden",
                       managed[i]);
            return -1;
        }
    }
    for (size_t i = 0; i < o->nitems; i++) {
        if (strlen(o->items[i].name) == len && strncasecmp(o->items[i].name, name, len) == 0) {
            bw_cfg_err(err, errlen, where, "header named twice in the same section");
            return -1;
        }
    }
    return 0;
}

static int check_value(const char *v, size_t len, const char *where, char *err, size_t errlen)
{
    if (len == 0 || len > MAX_VALUE) {
        bw_cfg_err(err, errlen, where,
                   "value must be a string of 1 to %d bytes (use \"remove\" to drop a header)",
                   MAX_VALUE);
        return -1;
    }
    if (!bw_http_header_value_valid(v, len)) {
        bw_cfg_err(err, errlen, where,
                   "value must not contain control characters (TAB aside) nor start or end "
                   "with a space or tab");
        return -1;
    }
    return 0;
}

/* Appends one item (value NULL = remove) after checking it. */
static int add_item(bw_header_override *o, const char *name, size_t namelen, const json_t *value,
                    const char *where, char *err, size_t errlen)
{
    if (check_name(name, namelen, o, where, err, errlen) != 0)
        return -1;
    if (value != NULL && !json_is_string(value)) {
        bw_cfg_err(err, errlen, where, "must be a string");
        return -1;
    }
    if (value != NULL &&
        check_value(json_string_value(value), json_string_length(value), where, err, errlen) != 0)
        return -1;
    if (o->nitems >= MAX_ITEMS) {
        bw_cfg_err(err, errlen, where, "at most %d headers per section", MAX_ITEMS);
        return -1;
    }
    bw_kv *kv = &o->items[o->nitems];
    kv->name = bw_cfg_strndup(name, namelen);
    kv->value =
        value != NULL ? bw_cfg_strndup(json_string_value(value), json_string_length(value)) : NULL;
    if (kv->name == NULL || (value != NULL && kv->value == NULL)) {
        free(kv->name);
        free(kv->value);
        kv->name = kv->value = NULL;
        bw_cfg_err(err, errlen, where, "out of memory");
        return -1;
    }
    o->nitems++;
    return 0;
}

static int parse_set(bw_header_override *o, const json_t *set, const char *where, char *err,
                     size_t errlen)
{
    char at[BW_CFG_MAX_PATH + MAX_ROUTE], name[64];
    const char *key;
    const json_t *value;
    if (!json_is_object(set)) {
        bw_cfg_err(err, errlen, where, "must be an object of header names to values");
        return -1;
    }
    json_object_foreach((json_t *)set, key, value)
    {
        bw_cfg_clean(key, strlen(key), name, sizeof(name));
        bw_cfg_fmt(at, sizeof(at), "%s.%s", where, name);
        if (add_item(o, key, strlen(key), value, at, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int parse_remove(bw_header_override *o, const json_t *remove, const char *where, char *err,
                        size_t errlen)
{
    char at[BW_CFG_MAX_PATH + MAX_ROUTE];
    if (!json_is_array(remove)) {
        bw_cfg_err(err, errlen, where, "must be an array of header names");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(remove); i++) {
        const json_t *item = json_array_get(remove, i);
        bw_cfg_fmt(at, sizeof(at), "%s[%zu]", where, i);
        if (!json_is_string(item)) {
            bw_cfg_err(err, errlen, at, "must be a string");
            return -1;
        }
        if (add_item(o, json_string_value(item), json_string_length(item), NULL, at, err, errlen) !=
            0)
            return -1;
    }
    return 0;
}

/* One section ("headers" itself, or one route): its "set" and "remove". */
static int parse_scope(bw_header_override *o, const json_t *obj, const char *where, bool global,
                       char *err, size_t errlen)
{
    char at[BW_CFG_MAX_PATH + MAX_ROUTE], name[64];
    const char *key;
    const json_t *value;
    if (!json_is_object(obj)) {
        bw_cfg_err(err, errlen, where, "must be an object");
        return -1;
    }
    /* MAX_ITEMS bounds the items; the +1 keeps calloc away from size 0. */
    o->items = calloc(MAX_ITEMS + 1, sizeof(*o->items));
    if (o->items == NULL) {
        bw_cfg_err(err, errlen, where, "out of memory");
        return -1;
    }
    json_object_foreach((json_t *)obj, key, value)
    {
        int rc = 0;
        bw_cfg_clean(key, strlen(key), name, sizeof(name));
        bw_cfg_fmt(at, sizeof(at), "%s.%s", where, name);
        if (strcmp(key, "set") == 0)
            rc = parse_set(o, value, at, err, errlen);
        else if (strcmp(key, "remove") == 0)
            rc = parse_remove(o, value, at, err, errlen);
        else if (!(global && strcmp(key, "routes") == 0)) {
            bw_cfg_err(err, errlen, at, "unknown key");
            rc = -1;
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

static bool is_route_pattern(const char *s, size_t len)
{
    if (len == 0 || len > MAX_ROUTE || s[0] != '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    }
    return true;
}

static int parse_routes(bw_header_override *list, size_t *n, const json_t *routes, char *err,
                        size_t errlen)
{
    char at[BW_CFG_MAX_PATH + MAX_ROUTE], name[MAX_ROUTE / 4];
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)routes, key, value)
    {
        size_t keylen = strlen(key);
        bw_cfg_clean(key, keylen, name, sizeof(name));
        bw_cfg_fmt(at, sizeof(at), "headers.routes[\"%s\"]", name);
        if (!is_route_pattern(key, keylen)) {
            bw_cfg_err(err, errlen, at,
                       "must be a route pattern starting with \"/\" (printable, no spaces)");
            return -1;
        }
        bw_header_override *o = &list[*n];
        (*n)++; /* counted at once so a failure below still frees it */
        if (parse_scope(o, value, at, false, err, errlen) != 0)
            return -1;
        o->route = bw_cfg_strndup(key, keylen);
        if (o->route == NULL) {
            bw_cfg_err(err, errlen, at, "out of memory");
            return -1;
        }
    }
    return 0;
}

int bw_cfg_headers_set_json(bw_config *c, const json_t *v, char *err, size_t errlen)
{
    if (!json_is_object(v)) {
        bw_cfg_err(err, errlen, "headers", "must be an object");
        return -1;
    }
    const json_t *routes = json_object_get(v, "routes");
    if (routes != NULL && !json_is_object(routes)) {
        bw_cfg_err(err, errlen, "headers.routes", "must be an object of route patterns");
        return -1;
    }
    size_t nroutes = routes != NULL ? json_object_size(routes) : 0;
    if (nroutes > MAX_ROUTES) {
        bw_cfg_err(err, errlen, "headers.routes", "at most %d routes", MAX_ROUTES);
        return -1;
    }
    bw_header_override *list = calloc(nroutes + 1, sizeof(*list));
    size_t n = 1; /* list[0] is the global section */
    if (list == NULL) {
        bw_cfg_err(err, errlen, "headers", "out of memory");
        return -1;
    }
    if (parse_scope(&list[0], v, "headers", true, err, errlen) != 0 ||
        (routes != NULL && parse_routes(list, &n, routes, err, errlen) != 0)) {
        for (size_t i = 0; i < n; i++)
            free_override(&list[i]);
        free(list);
        return -1;
    }
    /* Keep only sections that override something, global first. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (list[i].nitems == 0)
            free_override(&list[i]);
        else
            list[kept++] = list[i];
    }
    bw_cfg_headers_free(c);
    if (kept == 0) {
        free(list);
        return 0;
    }
    c->headers.overrides = list;
    c->headers.noverrides = kept;
    return 0;
}

static json_t *scope_json(const bw_header_override *o)
{
    json_t *obj = json_object(), *set = json_object(), *remove = json_array();
    int rc = (obj == NULL || set == NULL || remove == NULL) ? -1 : 0;
    for (size_t i = 0; rc == 0 && o != NULL && i < o->nitems; i++) {
        const bw_kv *kv = &o->items[i];
        if (kv->value != NULL)
            rc = json_object_set_new(set, kv->name, json_string(kv->value));
        else
            rc = json_array_append_new(remove, json_string(kv->name));
    }
    if (rc == 0)
        rc = json_object_set(obj, "set", set) | json_object_set(obj, "remove", remove);
    json_decref(set);
    json_decref(remove);
    if (rc != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

int bw_cfg_headers_dump(const bw_config *c, json_t *root)
{
    const bw_header_override *global = NULL;
    if (c->headers.noverrides > 0 && c->headers.overrides[0].route == NULL)
        global = &c->headers.overrides[0];
    json_t *headers = scope_json(global), *routes = json_object();
    int rc = (headers == NULL || routes == NULL) ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < c->headers.noverrides; i++) {
        const bw_header_override *o = &c->headers.overrides[i];
        if (o->route != NULL)
            rc = json_object_set_new(routes, o->route, scope_json(o));
    }
    if (rc == 0)
        rc = json_object_set(headers, "routes", routes);
    if (rc == 0)
        rc = json_object_set(root, "headers", headers);
    json_decref(routes);
    json_decref(headers);
    return rc == 0 ? 0 : -1;
}
