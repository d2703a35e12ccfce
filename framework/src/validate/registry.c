/* Schema registry: documents by URI, and an index of every schema resource ($id), anchor
 * ($anchor, $dynamicAnchor) and schema object (its resource) inside them. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "schema_internal.h"

#define MAX_INDEXED 1000000 /* schema objects across the registry */

bw_schema_registry *bw_schema_registry_new(void)
{
    return calloc(1, sizeof(bw_schema_registry));
}

void bw_schema_registry_free(bw_schema_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ndocs; i++)
        json_decref(r->docs[i]);
    for (size_t i = 0; i < r->nres; i++)
        free(r->res[i].uri);
    for (size_t i = 0; i < r->nanchors; i++)
        free(r->anchors[i].uri);
    free(r->docs);
    free(r->res);
    free(r->anchors);
    free(r->locs);
    free(r);
}

static int locs_put(bw_schema_registry *r, const json_t *node, size_t res)
{
    if (r->nlocs >= MAX_INDEXED)
        return -1;
    if ((r->nlocs + 1) * 2 > r->caplocs) {
        size_t nc = r->caplocs ? r->caplocs * 2 : 256;
        bw_loc_info *n = calloc(nc, sizeof(*n));
        if (!n)
            return -1;
        for (size_t i = 0; i < r->caplocs; i++) {
            if (!r->locs[i].node)
                continue;
            size_t h = bw_ptr_hash(r->locs[i].node, nc);
            while (n[h].node)
                h = (h + 1) & (nc - 1);
            n[h] = r->locs[i];
        }
        free(r->locs);
        r->locs = n;
        r->caplocs = nc;
    }
    size_t h = bw_ptr_hash(node, r->caplocs);
    while (r->locs[h].node && r->locs[h].node != node)
        h = (h + 1) & (r->caplocs - 1);
    if (!r->locs[h].node)
        r->nlocs++;
    r->locs[h].node = node;
    r->locs[h].res = res;
    return 0;
}

size_t bw_registry_res_of(const bw_schema_registry *r, const json_t *node)
{
    if (!r->caplocs)
        return SIZE_MAX;
    size_t h = bw_ptr_hash(node, r->caplocs);
    while (r->locs[h].node) {
        if (r->locs[h].node == node)
            return r->locs[h].res;
        h = (h + 1) & (r->caplocs - 1);
    }
    return SIZE_MAX;
}

size_t bw_registry_find_res(const bw_schema_registry *r, const char *uri, size_t len)
{
    for (size_t i = 0; i < r->nres; i++)
        if (strlen(r->res[i].uri) == len && memcmp(r->res[i].uri, uri, len) == 0)
            return i;
    return SIZE_MAX;
}

const bw_anchor_info *bw_registry_find_anchor(const bw_schema_registry *r, const char *uri)
{
    for (size_t i = 0; i < r->nanchors; i++)
        if (strcmp(r->anchors[i].uri, uri) == 0)
            return &r->anchors[i];
    return NULL;
}

static int add_res(bw_schema_registry *r, const char *uri, json_t *root, size_t *idx, char *err,
                   size_t errlen)
{
    size_t len = strlen(uri);
    size_t have = bw_registry_find_res(r, uri, len);
    if (have != SIZE_MAX) {
        if (r->res[have].root == root) {
            *idx = have;
            return 0;
        }
        snprintf(err, errlen, "schema %s: duplicate resource URI", uri);
        return -1;
    }
    if (bw_vec_grow((void **)&r->res, &r->capres, r->nres, sizeof(*r->res), 16) ||
        !(r->res[r->nres].uri = strdup(uri))) {
        snprintf(err, errlen, "schema %s: out of memory", uri);
        return -1;
    }
    r->res[r->nres].root = root;
    r->res[r->nres].has_dyn = false;
    *idx = r->nres++;
    return 0;
}

static bool anchor_name_ok(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

static int add_anchor(bw_schema_registry *r, size_t res, const char *name, json_t *node,
                      bool dynamic, char *err, size_t errlen)
{
    const char *base = r->res[res].uri;
    if (!anchor_name_ok(name)) {
        snprintf(err, errlen, "schema %s: invalid anchor name", base);
        return -1;
    }
    size_t bl = strlen(base), nl = strlen(name);
    if (bl > BW_SCHEMA_MAX_URI || nl > BW_SCHEMA_MAX_URI)
        return -1;
    char *uri = malloc(bl + nl + 2);
    if (!uri)
        return -1;
    memcpy(uri, base, bl);
    uri[bl] = '#';
    memcpy(uri + bl + 1, name, nl + 1);
    const bw_anchor_info *old = bw_registry_find_anchor(r, uri);
    if (old) {
        /* $anchor and $dynamicAnchor with the same name on one schema are allowed */
        if (old->node != node) {
            snprintf(err, errlen, "schema %s: duplicate anchor", uri);
            free(uri);
            return -1;
        }
        if (dynamic)
            ((bw_anchor_info *)old)->dynamic = true;
        free(uri);
        if (dynamic)
            r->res[res].has_dyn = true;
        return 0;
    }
    if (bw_vec_grow((void **)&r->anchors, &r->capanchors, r->nanchors, sizeof(*r->anchors), 16)) {
        free(uri);
        return -1;
    }
    r->anchors[r->nanchors++] = (bw_anchor_info){uri, node, res, dynamic};
    if (dynamic)
        r->res[res].has_dyn = true;
    return 0;
}

static const char *const SINGLE[] = {"items",
                                     "additionalProperties",
                                     "unevaluatedItems",
                                     "unevaluatedProperties",
                                     "contains",
                                     "propertyNames",
                                     "not",
                                     "if",
                                     "then",
                                     "else",
                                     "contentSchema",
                                     NULL};
static const char *const MAPS[] = {"$defs", "properties", "patternProperties", "dependentSchemas",
                                   NULL};
static const char *const LISTS[] = {"prefixItems", "allOf", "anyOf", "oneOf", NULL};

static int walk(bw_schema_registry *r, json_t *node, size_t res, int depth, char *err,
                size_t errlen)
{
    if (!json_is_object(node))
        return 0;
    if (depth > BW_SCHEMA_MAX_SCHEMA_DEPTH) {
        snprintf(err, errlen, "schema %s: nesting deeper than %d", r->res[res].uri,
                 BW_SCHEMA_MAX_SCHEMA_DEPTH);
        return -1;
    }
    json_t *id = json_object_get(node, "$id");
    if (json_is_string(id)) {
        char uri[BW_SCHEMA_MAX_URI];
        if (bw_uri_resolve(r->res[res].uri, json_string_value(id), uri, sizeof(uri))) {
            snprintf(err, errlen, "schema %s: bad $id", r->res[res].uri);
            return -1;
        }
        size_t fl = bw_uri_strip_fragment(uri);
        if (uri[fl] == '#' && uri[fl + 1] != '\0') {
            snprintf(err, errlen, "schema %s: $id with a fragment", uri);
            return -1;
        }
        uri[fl] = '\0';
        if (add_res(r, uri, node, &res, err, errlen))
            return -1;
    }
    if (locs_put(r, node, res)) {
        snprintf(err, errlen, "schema %s: too many schema objects", r->res[res].uri);
        return -1;
    }
    json_t *a = json_object_get(node, "$anchor");
    if (json_is_string(a) && add_anchor(r, res, json_string_value(a), node, false, err, errlen))
        return -1;
    a = json_object_get(node, "$dynamicAnchor");
    if (json_is_string(a) && add_anchor(r, res, json_string_value(a), node, true, err, errlen))
        return -1;
    for (int i = 0; SINGLE[i]; i++)
        if (walk(r, json_object_get(node, SINGLE[i]), res, depth + 1, err, errlen))
            return -1;
    for (int i = 0; MAPS[i]; i++) {
        json_t *m = json_object_get(node, MAPS[i]);
        if (json_is_object(m)) {
            const char *k;
            json_t *v;
            json_object_foreach(m, k, v)
            {
                if (walk(r, v, res, depth + 1, err, errlen))
                    return -1;
            }
        }
    }
    for (int i = 0; LISTS[i]; i++) {
        json_t *l = json_object_get(node, LISTS[i]);
        if (json_is_array(l)) {
            size_t k;
            json_t *v;
            json_array_foreach(l, k, v)
            {
                if (walk(r, v, res, depth + 1, err, errlen))
                    return -1;
            }
        }
    }
    return 0;
}

int bw_schema_registry_add(bw_schema_registry *r, const char *uri, json_t *doc, char *err,
                           size_t errlen)
{
    if (!r || !uri || !doc) {
        snprintf(err, errlen, "schema registry: bad argument");
        json_decref(doc);
        return -1;
    }
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    if (bw_vec_grow((void **)&r->docs, &r->capdocs, r->ndocs, sizeof(*r->docs), 16)) {
        snprintf(err, errlen, "schema %s: out of memory", uri);
        json_decref(doc);
        return -1;
    }
    r->docs[r->ndocs++] = doc; /* owned from here on, even if indexing fails */
    char abs[BW_SCHEMA_MAX_URI];
    if (strlen(uri) >= sizeof(abs)) {
        snprintf(err, errlen, "schema registry: URI too long");
        return -1;
    }
    memcpy(abs, uri, strlen(uri) + 1);
    abs[bw_uri_strip_fragment(abs)] = '\0';
    size_t res;
    if (add_res(r, abs, doc, &res, err, errlen))
        return -1;
    return walk(r, doc, res, 0, err, errlen);
}

static int add_dir_rec(bw_schema_registry *r, const char *dir, const char *base, int depth,
                       char *err, size_t errlen)
{
    if (depth > 16) {
        snprintf(err, errlen, "schema dir %s: too deep", dir);
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "schema dir %s: cannot open", dir);
        return -1;
    }
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096], uri[BW_SCHEMA_MAX_URI];
        int n1 = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        int n2 = snprintf(uri, sizeof(uri), "%s%s", base, e->d_name);
        if (n1 < 0 || (size_t)n1 >= sizeof(path) || n2 < 0 || (size_t)n2 >= sizeof(uri) - 1) {
            snprintf(err, errlen, "schema dir %s: path too long", dir);
            count = -1;
            break;
        }
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            uri[n2] = '/';
            uri[n2 + 1] = '\0';
            int c = add_dir_rec(r, path, uri, depth + 1, err, errlen);
            if (c < 0) {
                count = -1;
                break;
            }
            count += c;
            continue;
        }
        size_t nl = strlen(e->d_name);
        if (!S_ISREG(st.st_mode) || nl < 5 || strcmp(e->d_name + nl - 5, ".json") != 0)
            continue;
        json_error_t jerr;
        json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc) {
            snprintf(err, errlen, "schema %s: line %d: %s", path, jerr.line, jerr.text);
            count = -1;
            break;
        }
        if (bw_schema_registry_add(r, uri, doc, err, errlen)) {
            count = -1;
            break;
        }
        count++;
    }
    closedir(d);
    return count;
}

int bw_schema_registry_add_dir(bw_schema_registry *r, const char *dir, const char *base_uri,
                               char *err, size_t errlen)
{
    if (!r || !dir || !base_uri) {
        snprintf(err, errlen, "schema registry: bad argument");
        return -1;
    }
    return add_dir_rec(r, dir, base_uri, 0, err, errlen);
}
