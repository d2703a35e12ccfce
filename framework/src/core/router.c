/* Router: a trie of path segments. Each node has literal children and at most one capture child
 * (capture names live with the pattern that ends at a node, so /n/{id} and /n/{key}/x can both
 * exist). A node where patterns end holds the pattern, its routes (one per method) and the Allow
 * value, computed at add() so matching only copies it. */
#include "bulwark/router.h"
#include "bulwark/path.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ROUTER_MAX_PATTERN 2048
#define ROUTER_MAX_DEPTH 32 /* also bounds the recursion of matching and freeing */
#define ROUTER_MAX_METHOD 32
#define ROUTER_MAX_NAME 32
#define ROUTER_ALLOW_CAP sizeof(((bw_route_match *)0)->allow)
/* Every Allow entry takes at least 3 bytes ("X, "), so no node can have more methods. */
#define ROUTER_MAX_METHODS (ROUTER_ALLOW_CAP / 3)

typedef struct rnode rnode;

typedef struct rlit {
    char *seg;
    size_t len;
    rnode *child;
} rlit;

typedef struct rroute {
    char *method;
    size_t method_len;
    void *udata;
} rroute;

struct rnode {
    rlit *lits;
    size_t nlits;
    rnode *capture;
    char *pattern; /* NULL until a route ends here */
    size_t name_off[BW_ROUTER_MAX_PARAMS], name_len[BW_ROUTER_MAX_PARAMS];
    size_t nnames;
    rroute *routes;
    size_t nroutes;
    char allow[ROUTER_ALLOW_CAP];
};

struct bw_router {
    rnode root;
    size_t count;
};

typedef struct pseg {
    const char *p;
    size_t len;
    int capture;
} pseg;

typedef struct parsed {
    const char *pattern;
    size_t len;
    pseg segs[ROUTER_MAX_DEPTH];
    size_t nsegs;
    size_t name_off[BW_ROUTER_MAX_PARAMS], name_len[BW_ROUTER_MAX_PARAMS];
    size_t nnames;
} parsed;

typedef struct mname {
    const char *p;
    size_t len;
} mname;

static int set_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0) {
        size_t n = strlen(msg);
        if (n >= errlen)
            n = errlen - 1; /* a truncated message is still a refusal */
        memcpy(err, msg, n);
        err[n] = '\0';
    }
    return -1;
}

/* RFC 9110 tchar. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int valid_method(const char *m, size_t len)
{
    if (len == 0 || len > ROUTER_MAX_METHOD)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar((unsigned char)m[i]))
            return 0;
    }
    return 1;
}

static int valid_name(const char *p, size_t len)
{
    if (len == 0 || len > ROUTER_MAX_NAME)
        return 0;
    if (!((p[0] >= 'a' && p[0] <= 'z') || p[0] == '_'))
        return 0;
    for (size_t i = 1; i < len; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* Splits a canonical pattern into segments and checks the captures. */
static const char *parse_segments(parsed *pp)
{
    size_t i = 1;

    pp->nsegs = 0;
    pp->nnames = 0;
    if (pp->len == 1)
        return NULL; /* "/" */
    while (i <= pp->len) {
        size_t start = i;
        pseg *s;

        while (i < pp->len && pp->pattern[i] != '/')
            i++;
        if (pp->nsegs == ROUTER_MAX_DEPTH)
            return "pattern has too many segments";
        s = &pp->segs[pp->nsegs++];
        s->p = pp->pattern + start;
        s->len = i - start;
        s->capture = s->p[0] == '{';
        if (s->capture) {
            size_t name_off = start + 1, name_len = s->len - 2;
            if (s->len < 3 || s->p[s->len - 1] != '}' ||
                !valid_name(pp->pattern + name_off, name_len))
                return "bad capture: must be {name} with name [a-z_][a-z0-9_]*, at most 32 chars";
            for (size_t k = 0; k < pp->nnames; k++) {
                if (pp->name_len[k] == name_len &&
                    memcmp(pp->pattern + pp->name_off[k], pp->pattern + name_off, name_len) == 0)
                    return "bad capture: duplicate capture name in pattern";
            }
            if (pp->nnames == BW_ROUTER_MAX_PARAMS)
                return "too many captures in pattern";
            pp->name_off[pp->nnames] = name_off;
            pp->name_len[pp->nnames] = name_len;
            pp->nnames++;
        } else if (memchr(s->p, '{', s->len) != NULL || memchr(s->p, '}', s->len) != NULL) {
            return "bad capture: a capture must be a whole segment";
        }
        i++; /* past the '/' (or the end) */
    }
    return NULL;
}

static const char *parse_pattern(const char *pattern, parsed *pp)
{
    char canon[ROUTER_MAX_PATTERN + 1];
    size_t len, clen;
    bw_path_limits lim = {ROUTER_MAX_PATTERN, ROUTER_MAX_DEPTH};
    bw_path_err e;

    if (pattern == NULL)
        return "pattern is missing";
    len = strnlen(pattern, ROUTER_MAX_PATTERN + 1);
    if (len > ROUTER_MAX_PATTERN)
        return "pattern is too long";
    if (len == 0 || pattern[0] != '/')
        return "pattern must start with '/'";
    /* A pattern must be a path that canonicalisation leaves unchanged, or it could never match. */
    e = bw_path_canonicalize(pattern, len, &lim, canon, sizeof canon, &clen);
    switch (e) {
    case BW_PATH_OK:
        break;
    case BW_PATH_EMPTY_SEGMENT:
        return "pattern has an empty segment";
    case BW_PATH_TOO_MANY_SEGMENTS:
        return "pattern has too many segments";
    case BW_PATH_DOT_SEGMENT:
        return "pattern has a '.' or '..' segment";
    default:
        return "pattern is not a canonical path";
    }
    if (clen != len || memcmp(canon, pattern, len) != 0)
        return "pattern must not contain percent-escapes";
    pp->pattern = pattern;
    pp->len = len;
    return parse_segments(pp);
}

static rnode *find_literal(const rnode *n, const char *seg, size_t len)
{
    for (size_t i = 0; i < n->nlits; i++) {
        if (n->lits[i].len == len && memcmp(n->lits[i].seg, seg, len) == 0)
            return n->lits[i].child;
    }
    return NULL;
}

static rnode *find_node(rnode *n, const parsed *pp)
{
    for (size_t i = 0; i < pp->nsegs && n != NULL; i++) {
        const pseg *s = &pp->segs[i];
        n = s->capture ? n->capture : find_literal(n, s->p, s->len);
    }
    return n;
}

static rnode *child_for(rnode *n, const pseg *s)
{
    rnode *c = s->capture ? n->capture : find_literal(n, s->p, s->len);
    rlit *lits;

    if (c != NULL)
        return c;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (s->capture) {
        n->capture = c;
        return c;
    }
    if (n->nlits >= SIZE_MAX / sizeof *lits - 1)
        goto oom;
    lits = realloc(n->lits, (n->nlits + 1) * sizeof *lits);
    if (lits == NULL)
        goto oom;
    n->lits = lits;
    lits[n->nlits].seg = malloc(s->len);
    if (lits[n->nlits].seg == NULL)
        goto oom;
    memcpy(lits[n->nlits].seg, s->p, s->len);
    lits[n->nlits].len = s->len;
    lits[n->nlits].child = c;
    n->nlits++;
    return c;
oom:
    free(c);
    return NULL;
}

static const rroute *route_for(const rnode *n, const char *m, size_t len)
{
    for (size_t i = 0; i < n->nroutes; i++) {
        if (n->routes[i].method_len == len && memcmp(n->routes[i].method, m, len) == 0)
            return &n->routes[i];
    }
    return NULL;
}

static int name_less(const mname *a, const mname *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->p, b->p, n);
    return c < 0 || (c == 0 && a->len < b->len);
}

/* Builds the Allow value of n's methods plus extra (the method being added, or NULL): adds HEAD
 * when GET exists, always OPTIONS, sorted, ", "-separated. Returns -1 if it does not fit. */
static int build_allow(const rnode *n, const char *extra, size_t extra_len, char *out, size_t cap)
{
    mname list[ROUTER_MAX_METHODS + 3];
    size_t count = 0, o = 0;
    int has_get, has_head, has_options;

    if (n->nroutes + 1 > ROUTER_MAX_METHODS)
        return -1;
    for (size_t i = 0; i < n->nroutes; i++) {
        list[count].p = n->routes[i].method;
        list[count++].len = n->routes[i].method_len;
    }
    if (extra != NULL) {
        list[count].p = extra;
        list[count++].len = extra_len;
    }
    has_get = has_head = has_options = 0;
    for (size_t i = 0; i < count; i++) {
        has_get |= list[i].len == 3 && memcmp(list[i].p, "GET", 3) == 0;
        has_head |= list[i].len == 4 && memcmp(list[i].p, "HEAD", 4) == 0;
        has_options |= list[i].len == 7 && memcmp(list[i].p, "OPTIONS", 7) == 0;
    }
    if (has_get && !has_head) {
        list[count].p = "HEAD";
        list[count++].len = 4;
    }
    if (!has_options) {
        list[count].p = "OPTIONS";
        list[count++].len = 7;
    }
    for (size_t i = 1; i < count; i++) { /* insertion sort: a handful of entries */
        mname key = list[i];
        size_t j = i;
        while (j > 0 && name_less(&key, &list[j - 1])) {
            list[j] = list[j - 1];
            j--;
        }
        list[j] = key;
    }
    for (size_t i = 0; i < count; i++) {
        size_t sep = i > 0 ? 2 : 0;
        /* o < cap holds, so cap - o cannot wrap; keep one byte for the NUL. */
        if (sep + list[i].len >= cap - o)
            return -1;
        if (sep != 0) {
            memcpy(out + o, ", ", 2);
            o += 2;
        }
        memcpy(out + o, list[i].p, list[i].len);
        o += list[i].len;
    }
    out[o] = '\0';
    return 0;
}

bw_router *bw_router_new(void)
{
    return calloc(1, sizeof(bw_router));
}

int bw_router_add(bw_router *r, const char *method, const char *pattern, void *udata, char *err,
                  size_t errlen)
{
    parsed pp;
    const char *msg;
    char allow[ROUTER_ALLOW_CAP];
    size_t mlen;
    rnode *n;
    rroute *routes;
    char *mcopy, *pcopy = NULL;

    if (r == NULL)
        return set_err(err, errlen, "no router");
    mlen = method != NULL ? strnlen(method, ROUTER_MAX_METHOD + 1) : 0;
    if (!valid_method(method, mlen))
        return set_err(err, errlen, "bad method: must be an HTTP token of 1 to 32 characters");
    msg = parse_pattern(pattern, &pp);
    if (msg != NULL)
        return set_err(err, errlen, msg);

    /* Every check before the first change, so a refusal leaves the router as it was. */
    n = find_node(&r->root, &pp);
    if (n != NULL && n->pattern != NULL) {
        if (route_for(n, method, mlen) != NULL)
            return set_err(err, errlen, "duplicate route: same method and pattern shape");
        if (strcmp(n->pattern, pattern) != 0)
            return set_err(err, errlen,
                           "capture names differ from another route with the same shape");
    }
    if (n != NULL && build_allow(n, method, mlen, allow, sizeof allow) != 0)
        return set_err(err, errlen, "too many methods for one path");

    if (n == NULL) {
        n = &r->root;
        for (size_t i = 0; i < pp.nsegs; i++) {
            n = child_for(n, &pp.segs[i]);
            if (n == NULL) /* nodes made so far hold no route, so they change no match */
                return set_err(err, errlen, "out of memory");
        }
        if (build_allow(n, method, mlen, allow, sizeof allow) != 0)
            return set_err(err, errlen, "too many methods for one path");
    }
    if (n->pattern == NULL) {
        pcopy = malloc(pp.len + 1);
        if (pcopy == NULL)
            return set_err(err, errlen, "out of memory");
        memcpy(pcopy, pattern, pp.len + 1);
    }
    mcopy = malloc(mlen);
    routes = mcopy != NULL ? realloc(n->routes, (n->nroutes + 1) * sizeof *routes) : NULL;
    if (routes == NULL) {
        free(mcopy);
        free(pcopy);
        return set_err(err, errlen, "out of memory");
    }
    n->routes = routes;
    memcpy(mcopy, method, mlen);
    routes[n->nroutes].method = mcopy;
    routes[n->nroutes].method_len = mlen;
    routes[n->nroutes].udata = udata;
    n->nroutes++;
    if (pcopy != NULL) {
        n->pattern = pcopy;
        memcpy(n->name_off, pp.name_off, sizeof n->name_off);
        memcpy(n->name_len, pp.name_len, sizeof n->name_len);
        n->nnames = pp.nnames;
    }
    memcpy(n->allow, allow, sizeof allow);
    r->count++;
    return 0;
}

typedef struct mstate {
    const char *path;
    size_t len;
    const char *val[BW_ROUTER_MAX_PARAMS];
    size_t val_len[BW_ROUTER_MAX_PARAMS];
    size_t nval;
} mstate;

/* Depth-first, literal child before capture; pos is at a '/' or at the end. Each trie node is
 * reached by one path prefix only, so a match visits every node at most once. */
static const rnode *walk(const rnode *n, size_t pos, size_t ncap, mstate *st)
{
    size_t start, end;
    const rnode *c;

    if (pos == st->len) {
        if (n->pattern == NULL)
            return NULL;
        st->nval = ncap;
        return n;
    }
    start = pos + 1;
    end = start;
    while (end < st->len && st->path[end] != '/')
        end++;
    if (end == start)
        return NULL; /* empty segment: neither a literal nor a capture matches it */
    c = find_literal(n, st->path + start, end - start);
    if (c != NULL) {
        const rnode *found = walk(c, end, ncap, st);
        if (found != NULL)
            return found;
    }
    if (n->capture != NULL && ncap < BW_ROUTER_MAX_PARAMS) {
        st->val[ncap] = st->path + start;
        st->val_len[ncap] = end - start;
        return walk(n->capture, end, ncap + 1, st);
    }
    return NULL;
}

void bw_router_match(const bw_router *r, const char *method, size_t method_len, const char *path,
                     size_t path_len, bw_route_match *m)
{
    mstate st;
    const rnode *n;
    const rroute *rt;

    if (m == NULL)
        return;
    memset(m, 0, sizeof *m);
    m->status = BW_ROUTE_NOT_FOUND;
    if (r == NULL || path == NULL || path_len == 0 || path[0] != '/')
        return;
    if (method == NULL) { /* matches no route (methods are 1+ bytes); memcmp needs non-NULL */
        method = "";
        method_len = 0;
    }
    st.path = path;
    st.len = path_len;
    st.nval = 0;
    if (path_len == 1) {
        n = r->root.pattern != NULL ? &r->root : NULL;
    } else {
        n = walk(&r->root, 0, 0, &st);
    }
    if (n == NULL)
        return;

    m->pattern = n->pattern;
    m->nparams = st.nval < n->nnames ? st.nval : n->nnames; /* equal by construction */
    for (size_t i = 0; i < m->nparams; i++) {
        m->params[i].name = n->pattern + n->name_off[i];
        m->params[i].name_len = n->name_len[i];
        m->params[i].value = st.val[i];
        m->params[i].value_len = st.val_len[i];
    }
    memcpy(m->allow, n->allow, sizeof m->allow);

    rt = route_for(n, method, method_len);
    if (rt == NULL && method_len == 4 && memcmp(method, "HEAD", 4) == 0) {
        rt = route_for(n, "GET", 3);
        m->auto_head = rt != NULL;
    }
    if (rt != NULL) {
        m->status = BW_ROUTE_FOUND;
        m->udata = rt->udata;
    } else if (method_len == 7 && memcmp(method, "OPTIONS", 7) == 0) {
        m->status = BW_ROUTE_FOUND;
        m->auto_options = 1;
    } else {
        m->status = BW_ROUTE_METHOD_NOT_ALLOWED;
    }
}

size_t bw_router_count(const bw_router *r)
{
    return r != NULL ? r->count : 0;
}

static void free_node(rnode *n)
{
    for (size_t i = 0; i < n->nlits; i++) {
        free_node(n->lits[i].child);
        free(n->lits[i].child);
        free(n->lits[i].seg);
    }
    free(n->lits);
    if (n->capture != NULL) {
        free_node(n->capture);
        free(n->capture);
    }
    for (size_t i = 0; i < n->nroutes; i++)
        free(n->routes[i].method);
    free(n->routes);
    free(n->pattern);
}

void bw_router_free(bw_router *r)
{
    if (r == NULL)
        return;
    free_node(&r->root);
    free(r);
}
