/* URI reference resolution (RFC 3986 section 5.2) and JSON pointer fragments (RFC 6901). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/text.h"
#include "schema_internal.h"

typedef struct {
    const char *scheme, *auth, *path, *query, *frag;
    size_t scheme_len, auth_len, path_len, query_len, frag_len;
    bool has_scheme, has_auth, has_query, has_frag;
} uri_parts;

static void uri_split(const char *s, uri_parts *u)
{
    memset(u, 0, sizeof(*u));
    const char *p = s;
    if (isalpha((unsigned char)*p)) {
        const char *q = p + 1;
        while (isalnum((unsigned char)*q) || *q == '+' || *q == '-' || *q == '.')
            q++;
        if (*q == ':') {
            u->has_scheme = true;
            u->scheme = p;
            u->scheme_len = (size_t)(q - p);
            p = q + 1;
        }
    }
    if (p[0] == '/' && p[1] == '/') {
        p += 2;
        u->has_auth = true;
        u->auth = p;
        while (*p && *p != '/' && *p != '?' && *p != '#')
            p++;
        u->auth_len = (size_t)(p - u->auth);
    }
    u->path = p;
    while (*p && *p != '?' && *p != '#')
        p++;
    u->path_len = (size_t)(p - u->path);
    if (*p == '?') {
        u->has_query = true;
        u->query = ++p;
        while (*p && *p != '#')
            p++;
        u->query_len = (size_t)(p - u->query);
    }
    if (*p == '#') {
        u->has_frag = true;
        u->frag = p + 1;
        u->frag_len = strlen(u->frag);
    }
}

typedef struct {
    char *buf;
    size_t len, cap;
    bool overflow;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->overflow || n >= b->cap - b->len) {
        b->overflow = true;
        return;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

/* Appends path to b with "." and ".." segments removed (RFC 3986 5.2.4). */
static void put_path_clean(sbuf *b, const char *path, size_t n)
{
    size_t start = b->len;
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && path[j] != '/')
            j++;
        /* segment is path[i..j) including its leading '/' when present */
        const char *seg = path + i;
        size_t sl = j - i;
        const char *name = seg[0] == '/' ? seg + 1 : seg;
        size_t nl = seg[0] == '/' ? sl - 1 : sl;
        bool last = j >= n;
        if (nl == 1 && name[0] == '.') {
            if (last)
                sb_put(b, "/", 1);
        } else if (nl == 2 && name[0] == '.' && name[1] == '.') {
            while (b->len > start && b->buf[b->len - 1] != '/')
                b->len--;
            if (b->len > start)
                b->len--;
            if (!b->overflow)
                b->buf[b->len] = '\0';
            if (last)
                sb_put(b, "/", 1);
        } else {
            sb_put(b, seg, sl);
        }
        i = j;
    }
}

/* "//authority" when the parts have one. */
static void put_auth(sbuf *o, const uri_parts *u)
{
    if (u->has_auth) {
        sb_put(o, "//", 2);
        sb_put(o, u->auth, u->auth_len);
    }
}

/* "?query" when the parts have one; 1 if written. */
static int put_query(sbuf *o, const uri_parts *u)
{
    if (!u->has_query)
        return 0;
    sb_put(o, "?", 1);
    sb_put(o, u->query, u->query_len);
    return 1;
}

int bw_uri_resolve(const char *base, const char *ref, char *out, size_t outlen)
{
    if (outlen == 0)
        return -1;
    uri_parts b, r;
    uri_split(base, &b);
    uri_split(ref, &r);
    sbuf o = {out, 0, outlen, false};
    out[0] = '\0';
    /* RFC 3986 5.2.2, with the reference's own scheme or authority winning. */
    if (r.has_scheme || r.has_auth) {
        const uri_parts *s = r.has_scheme ? &r : &b;
        if (s->has_scheme)
            sb_put(&o, s->scheme, s->scheme_len + 1);
        put_auth(&o, &r);
        put_path_clean(&o, r.path, r.path_len);
        put_query(&o, &r);
    } else {
        if (b.has_scheme)
            sb_put(&o, b.scheme, b.scheme_len + 1);
        put_auth(&o, &b);
        if (r.path_len == 0) {
            sb_put(&o, b.path, b.path_len);
            if (!put_query(&o, &r))
                put_query(&o, &b);
        } else {
            if (r.path[0] == '/') {
                put_path_clean(&o, r.path, r.path_len);
            } else {
                /* merge: base path up to its last '/', then the reference path */
                char merged[BW_SCHEMA_MAX_URI];
                size_t keep = b.path_len;
                while (keep > 0 && b.path[keep - 1] != '/')
                    keep--;
                size_t ml = 0;
                if (b.has_auth && b.path_len == 0) {
                    merged[ml++] = '/';
                }
                if (keep + r.path_len + 2 > sizeof(merged))
                    return -1;
                memcpy(merged + ml, b.path, keep);
                ml += keep;
                memcpy(merged + ml, r.path, r.path_len);
                ml += r.path_len;
                put_path_clean(&o, merged, ml);
            }
            put_query(&o, &r);
        }
    }
    if (r.has_frag) {
        sb_put(&o, "#", 1);
        sb_put(&o, r.frag, r.frag_len);
    }
    return o.overflow ? -1 : 0;
}

size_t bw_uri_strip_fragment(const char *uri)
{
    const char *h = strchr(uri, '#');
    return h ? (size_t)(h - uri) : strlen(uri);
}

json_t *bw_uri_pointer_walk(json_t *doc, const char *frag, size_t len)
{
    char tok[512];
    size_t i = 0;
    json_t *cur = doc;
    if (len == 0)
        return cur;
    if (frag[0] != '/')
        return NULL;
    while (i < len && cur) {
        i++; /* skip '/' */
        size_t tl = 0;
        while (i < len && frag[i] != '/') {
            char c = frag[i];
            if (c == '%') {
                if (i + 2 >= len)
                    return NULL;
                int h = bw_hex_digit((unsigned char)frag[i + 1]),
                    l = bw_hex_digit((unsigned char)frag[i + 2]);
                if (h < 0 || l < 0)
                    return NULL;
                c = (char)(h * 16 + l);
                i += 2;
            }
            if (tl + 1 >= sizeof(tok))
                return NULL;
            tok[tl++] = c;
            i++;
        }
        /* unescape ~1 -> '/', ~0 -> '~' after percent-decoding */
        size_t w = 0;
        for (size_t k = 0; k < tl; k++) {
            if (tok[k] == '~') {
                if (k + 1 >= tl || (tok[k + 1] != '0' && tok[k + 1] != '1'))
                    return NULL;
                tok[w++] = tok[k + 1] == '0' ? '~' : '/';
                k++;
            } else {
                tok[w++] = tok[k];
            }
        }
        tok[w] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, tok, w);
        } else if (json_is_array(cur)) {
            if (w == 0 || w > 9 || (w > 1 && tok[0] == '0'))
                return NULL;
            size_t idx = 0;
            for (size_t k = 0; k < w; k++) {
                if (tok[k] < '0' || tok[k] > '9')
                    return NULL;
                idx = idx * 10 + (size_t)(tok[k] - '0');
            }
            cur = json_array_get(cur, idx);
        } else {
            return NULL;
        }
    }
    return cur;
}
