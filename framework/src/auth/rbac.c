/* Role-based access control: config/rbac.json becomes one bitset of
 * permissions per role, with wildcards and inheritance resolved at load, so a
 * check at request time is a bit test. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "bulwark/err.h"
#include "bulwark/rbac.h"
#include "bulwark/schema.h"

#define RBAC_MAX_BYTES ((size_t)1024 * 1024)
#define RBAC_SCHEMA_URI "https://schemas.bulwark.invalid/config/rbac.schema.json"
#define RBAC_SCHEMA_LABEL "config/rbac.schema.json"
/* Longest role name, resource and action: [a-z][a-z0-9_.-]{0,31}. */
#define PART_MAX 32
#define WORDS (BW_RBAC_MAX_PERMISSIONS / 64)
/* Input echoed in a message is cut to this many bytes, a path to 256. */
#define SHOWN_MAX 72

struct bw_rbac {
    size_t nperms, nroles;
    char perm[BW_RBAC_MAX_PERMISSIONS][BW_RBAC_MAX_NAME + 1];
    size_t perm_len[BW_RBAC_MAX_PERMISSIONS];
    char role[BW_RBAC_MAX_ROLES][PART_MAX + 1];
    size_t role_len[BW_RBAC_MAX_ROLES];
    uint64_t grants[BW_RBAC_MAX_ROLES][WORDS]; /* after wildcards and inheritance */
};

enum { UNSEEN, ON_PATH, RESOLVED }; /* of a role in the walk; calloc gives UNSEEN */

/* One load: the inheritance graph and the depth-first walk that resolves it. */
typedef struct loader {
    bw_rbac *r;
    unsigned char parent[BW_RBAC_MAX_ROLES][BW_RBAC_MAX_ROLES];
    size_t nparent[BW_RBAC_MAX_ROLES];
    unsigned char state[BW_RBAC_MAX_ROLES];
    unsigned char path[BW_RBAC_MAX_ROLES]; /* roles ON_PATH, outermost first */
    size_t depth;
    char *err;
    size_t errlen;
} loader;

/* ---- Names ---- */

static bool is_part_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* Length of the part [a-z][a-z0-9_.-]{0,31} that starts s[0..len), or 0. */
static size_t part_len(const char *s, size_t len)
{
    size_t i = 1;
    if (len == 0 || s[0] < 'a' || s[0] > 'z')
        return 0;
    while (i < len && is_part_char(s[i]))
        i++;
    return i <= PART_MAX ? i : 0;
}

static bool is_role_name(const char *s, size_t len)
{
    return len > 0 && part_len(s, len) == len;
}

static bool is_permission_name(const char *s, size_t len)
{
    size_t a = part_len(s, len);
    return a > 0 && a + 1 < len && s[a] == ':' && part_len(s + a + 1, len - a - 1) == len - a - 1;
}

/* Copies s[0..len) for a message: bytes outside printable ASCII become '?',
 * and a text longer than outlen - 4 bytes is cut with "...". */
static void shown(const char *s, size_t len, char *out, size_t outlen)
{
    bool cut = len > outlen - 4;
    size_t n = cut ? outlen - 4 : len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (char)((c >= 0x20 && c < 0x7f) ? c : '?');
    }
    if (cut) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

static int find(const char *names, size_t stride, const size_t *lens, size_t count,
                const char *name, size_t len)
{
    for (size_t i = 0; i < count; i++) {
        if (lens[i] == len && memcmp(names + i * stride, name, len) == 0)
            return (int)i;
    }
    return -1;
}

static int perm_find(const bw_rbac *r, const char *name, size_t len)
{
    return find(&r->perm[0][0], sizeof(r->perm[0]), r->perm_len, r->nperms, name, len);
}

static int role_find(const bw_rbac *r, const char *name, size_t len)
{
    return find(&r->role[0][0], sizeof(r->role[0]), r->role_len, r->nroles, name, len);
}

/* Roles that exist: bits of a set at or above nroles grant nothing. */
static bw_roleset role_mask(const bw_rbac *r)
{
    return r->nroles >= 64 ? ~(bw_roleset)0 : ((bw_roleset)1 << r->nroles) - 1;
}

static void set_bit(uint64_t *words, size_t i)
{
    words[i / 64] |= (uint64_t)1 << (i % 64);
}

/* ---- Loading ---- */

static int load_permissions(loader *l, json_t *perms)
{
    bw_rbac *r = l->r;
    const char *key;
    json_t *v;
    char s[SHOWN_MAX + 4];

    if (!json_is_object(perms) || json_object_size(perms) > BW_RBAC_MAX_PERMISSIONS) {
        bw_err_set(l->err, l->errlen, "/permissions: must be an object of at most %d entries",
                   BW_RBAC_MAX_PERMISSIONS);
        return -1;
    }
    json_object_foreach(perms, key, v)
    {
        size_t n = strlen(key);
        if (!is_permission_name(key, n)) {
            shown(key, n, s, sizeof(s));
            bw_err_set(l->err, l->errlen, "/permissions: \"%s\" is not a permission name", s);
            return -1;
        }
        memcpy(r->perm[r->nperms], key, n + 1);
        r->perm_len[r->nperms++] = n;
    }
    return 0;
}

/* Adds one entry of /roles/<role>/permissions to the role's bits. */
static int load_grant(loader *l, size_t role, size_t k, const json_t *item)
{
    bw_rbac *r = l->r;
    const char *g = json_string_value(item);
    size_t n = g != NULL ? json_string_length(item) : 0, matched = 0;
    char s[SHOWN_MAX + 4];
    int idx;

    shown(g != NULL ? g : "", n, s, sizeof(s));
    if (n == 1 && g[0] == '*') {
        for (size_t p = 0; p < r->nperms; p++, matched++)
            set_bit(r->grants[role], p);
    } else if (n >= 3 && g[n - 1] == '*' && g[n - 2] == ':' && part_len(g, n - 2) == n - 2) {
        /* "res:*": every declared permission that starts with "res:". */
        for (size_t p = 0; p < r->nperms; p++) {
            if (r->perm_len[p] > n - 1 && memcmp(r->perm[p], g, n - 1) == 0) {
                set_bit(r->grants[role], p);
                matched++;
            }
        }
    } else if (is_permission_name(g, n)) {
        if ((idx = perm_find(r, g, n)) < 0) {
            bw_err_set(l->err, l->errlen, "/roles/%s/permissions/%zu: undeclared permission \"%s\"",
                       r->role[role], k, s);
            return -1;
        }
        set_bit(r->grants[role], (size_t)idx);
        return 0;
    } else {
        bw_err_set(l->err, l->errlen,
                   "/roles/%s/permissions/%zu: \"%s\" is not a permission or wildcard",
                   r->role[role], k, s);
        return -1;
    }
    if (matched == 0) {
        bw_err_set(l->err, l->errlen,
                   "/roles/%s/permissions/%zu: \"%s\" matches no declared permission",
                   r->role[role], k, s);
        return -1;
    }
    return 0;
}

/* Reads /roles/<role>/permissions and /roles/<role>/inherits. */
static int load_role(loader *l, size_t role, const json_t *def)
{
    bw_rbac *r = l->r;
    const json_t *grants = json_object_get(def, "permissions");
    const json_t *inherits = json_object_get(def, "inherits");
    char s[SHOWN_MAX + 4];

    if (json_array_size(inherits) > BW_RBAC_MAX_ROLES) {
        bw_err_set(l->err, l->errlen, "/roles/%s/inherits: more than %d roles", r->role[role],
                   BW_RBAC_MAX_ROLES);
        return -1;
    }
    for (size_t k = 0; k < json_array_size(grants); k++) {
        if (load_grant(l, role, k, json_array_get(grants, k)) != 0)
            return -1;
    }
    for (size_t k = 0; k < json_array_size(inherits); k++) {
        const json_t *item = json_array_get(inherits, k);
        const char *name = json_string_value(item);
        size_t n = name != NULL ? json_string_length(item) : 0;
        int idx = name != NULL ? role_find(r, name, n) : -1;
        if (idx < 0) {
            shown(name != NULL ? name : "", n, s, sizeof(s));
            bw_err_set(l->err, l->errlen, "/roles/%s/inherits/%zu: unknown role \"%s\"",
                       r->role[role], k, s);
            return -1;
        }
        l->parent[role][l->nparent[role]++] = (unsigned char)idx;
    }
    return 0;
}

static int load_roles(loader *l, json_t *roles)
{
    bw_rbac *r = l->r;
    const char *key;
    json_t *v;
    char s[SHOWN_MAX + 4];
    size_t i = 0;

    if (!json_is_object(roles) || json_object_size(roles) > BW_RBAC_MAX_ROLES) {
        bw_err_set(l->err, l->errlen, "/roles: must be an object of at most %d entries",
                   BW_RBAC_MAX_ROLES);
        return -1;
    }
    /* Names first: a role may inherit one declared after it. */
    json_object_foreach(roles, key, v)
    {
        size_t n = strlen(key);
        if (!is_role_name(key, n)) {
            shown(key, n, s, sizeof(s));
            bw_err_set(l->err, l->errlen, "/roles: \"%s\" is not a role name", s);
            return -1;
        }
        memcpy(r->role[r->nroles], key, n + 1);
        r->role_len[r->nroles++] = n;
    }
    json_object_foreach(roles, key, v)
    {
        if (load_role(l, i++, v) != 0)
            return -1;
    }
    return 0;
}

/* Reports the cycle closed by /roles/<role>/inherits/<k> naming `back`, a role
 * on the current path, as "back -> ... -> role -> back". */
static int cycle_error(loader *l, size_t role, size_t k, size_t back)
{
    const bw_rbac *r = l->r;
    char chain[BW_RBAC_MAX_ROLES * (PART_MAX + 4) + PART_MAX + 1];
    size_t used = 0, j = 0;

    while (j < l->depth && l->path[j] != back)
        j++;
    for (; j <= l->depth; j++) {
        size_t i = j < l->depth ? l->path[j] : back;
        /* At most depth + 1 <= 65 names of <= PART_MAX bytes and 64 arrows. */
        if (used > 0) {
            memcpy(chain + used, " -> ", 4);
            used += 4;
        }
        memcpy(chain + used, r->role[i], r->role_len[i]);
        used += r->role_len[i];
    }
    chain[used] = '\0';
    bw_err_set(l->err, l->errlen, "/roles/%s/inherits/%zu: inheritance cycle: %s", r->role[role], k,
               chain);
    return -1;
}

/* Folds into role's bits those of every role it inherits, directly or not.
 * The recursion is at most BW_RBAC_MAX_ROLES deep: a role on the path is a
 * cycle. */
static int resolve(loader *l, size_t role)
{
    bw_rbac *r = l->r;

    if (l->state[role] == RESOLVED)
        return 0;
    l->state[role] = ON_PATH;
    l->path[l->depth++] = (unsigned char)role;
    for (size_t k = 0; k < l->nparent[role]; k++) {
        size_t p = l->parent[role][k];
        if (l->state[p] == ON_PATH)
            return cycle_error(l, role, k, p);
        if (resolve(l, p) != 0)
            return -1;
        for (size_t w = 0; w < WORDS; w++)
            r->grants[role][w] |= r->grants[p][w];
    }
    l->depth--;
    l->state[role] = RESOLVED;
    return 0;
}

int bw_rbac_load(const char *json, size_t len, bw_rbac **out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root;
    loader *l = NULL;
    char s[SHOWN_MAX + 4];
    int rc = -1;

    bw_err_set(err, errlen, "%s", "");
    *out = NULL;
    if (json == NULL || len > RBAC_MAX_BYTES) {
        bw_err_set(err, errlen, "%s", json == NULL ? "no input" : "larger than 1 MiB");
        return -1;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        shown(jerr.text, strnlen(jerr.text, sizeof(jerr.text)), s, sizeof(s));
        bw_err_set(err, errlen, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                   s);
        return -1;
    }
    if (bw_schema_check_embedded(bw_rbac_schema_file, bw_rbac_schema_file_count, RBAC_SCHEMA_URI,
                                 RBAC_SCHEMA_LABEL, root, NULL, err, errlen) != 0)
        goto done;
    if ((l = calloc(1, sizeof(*l))) == NULL || (l->r = calloc(1, sizeof(*l->r))) == NULL) {
        bw_err_set(err, errlen, "out of memory");
        goto done;
    }
    l->err = err;
    l->errlen = errlen;
    if (load_permissions(l, json_object_get(root, "permissions")) != 0 ||
        load_roles(l, json_object_get(root, "roles")) != 0)
        goto done;
    for (size_t i = 0; i < l->r->nroles; i++) {
        if (resolve(l, i) != 0)
            goto done;
    }
    *out = l->r;
    l->r = NULL;
    rc = 0;
done:
    if (l != NULL)
        bw_rbac_free(l->r);
    free(l);
    json_decref(root);
    return rc;
}

/* Reads the regular file at path, at most RBAC_MAX_BYTES, into *buf (caller
 * frees). */
static int read_file(const char *path, char **buf, size_t *len, char *why, size_t whylen)
{
    struct stat st;
    size_t size, got = 0;
    ssize_t n = 0;
    char *p;
    /* O_NONBLOCK: a FIFO must not block before the regular-file check. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    if (fd < 0) {
        bw_err_set(why, whylen, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        bw_err_set(why, whylen, "not a regular file");
        (void)close(fd);
        return -1;
    }
    if (st.st_size < 0 || (unsigned long long)st.st_size > RBAC_MAX_BYTES) {
        bw_err_set(why, whylen, "larger than 1 MiB");
        (void)close(fd);
        return -1;
    }
    size = (size_t)st.st_size;
    if ((p = malloc(size + 1)) == NULL) {
        bw_err_set(why, whylen, "out of memory");
        (void)close(fd);
        return -1;
    }
    /* One byte more than expected tells a file that grew meanwhile. */
    while (got <= size) {
        n = read(fd, p + got, size + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (n < 0 || got != size) {
        bw_err_set(why, whylen, "cannot read: %s", n < 0 ? strerror(errno) : "changed while read");
        free(p);
        (void)close(fd);
        return -1;
    }
    (void)close(fd);
    *buf = p;
    *len = size;
    return 0;
}

int bw_rbac_load_file(const char *path, bw_rbac **out, char *err, size_t errlen)
{
    /* Room for the longest load error: a cycle through every role. */
    char why[4096];
    char *buf = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (path == NULL) {
        bw_err_set(err, errlen, "rbac file: no path given");
        return -1;
    }
    rc = read_file(path, &buf, &len, why, sizeof(why));
    if (rc == 0)
        rc = bw_rbac_load(buf, len, out, why, sizeof(why));
    free(buf);
    if (rc != 0) {
        char shown_path[260];
        shown(path, strlen(path), shown_path, sizeof(shown_path));
        bw_err_set(err, errlen, "%s: %s", shown_path, why);
    }
    return rc;
}

void bw_rbac_free(bw_rbac *r)
{
    free(r);
}

/* ---- Queries ---- */

int bw_rbac_permission_index(const bw_rbac *r, const char *name, size_t len)
{
    return r != NULL && name != NULL ? perm_find(r, name, len) : -1;
}

int bw_rbac_role_index(const bw_rbac *r, const char *name, size_t len)
{
    return r != NULL && name != NULL ? role_find(r, name, len) : -1;
}

const char *bw_rbac_role_name(const bw_rbac *r, size_t i)
{
    return r != NULL && i < r->nroles ? r->role[i] : NULL;
}

size_t bw_rbac_role_count(const bw_rbac *r)
{
    return r != NULL ? r->nroles : 0;
}

bool bw_rbac_allows(const bw_rbac *r, bw_roleset roles, int perm)
{
    if (r == NULL || perm < 0 || (size_t)perm >= r->nperms)
        return false;
    size_t w = (size_t)perm / 64;
    uint64_t bit = (uint64_t)1 << ((size_t)perm % 64);
    for (roles &= role_mask(r); roles != 0; roles &= roles - 1) {
        if ((r->grants[__builtin_ctzll(roles)][w] & bit) != 0)
            return true;
    }
    return false;
}

bool bw_rbac_roles_within(const bw_rbac *r, bw_roleset inner, bw_roleset outer)
{
    for (size_t perm = 0; r != NULL && perm < r->nperms; perm++) {
        if (bw_rbac_allows(r, inner, (int)perm) && !bw_rbac_allows(r, outer, (int)perm))
            return false;
    }
    return r != NULL;
}

int bw_rbac_roles_parse(const bw_rbac *r, const char *list, size_t len, bw_roleset *out, char *err,
                        size_t errlen)
{
    bw_roleset set = 0;
    size_t start = 0, count = 0;
    char s[SHOWN_MAX + 4];

    *out = 0;
    if (len == 0)
        return 0;
    if (r == NULL || list == NULL) {
        bw_err_set(err, errlen, "no roles to parse");
        return -1;
    }
    for (size_t i = 0; i <= len; i++) {
        if (i < len && list[i] != ',')
            continue;
        const char *name = list + start;
        size_t n = i - start;
        int idx = role_find(r, name, n);
        if (++count > BW_RBAC_MAX_ROLES) {
            bw_err_set(err, errlen, "more than %d roles", BW_RBAC_MAX_ROLES);
            return -1;
        }
        if (idx < 0) {
            shown(name, n, s, sizeof(s));
            bw_err_set(err, errlen, "%s role \"%s\" at byte %zu",
                       is_role_name(name, n) ? "unknown" : "malformed", s, start);
            return -1;
        }
        set |= (bw_roleset)1 << idx;
        start = i + 1;
    }
    *out = set;
    return 0;
}

int bw_rbac_roles_format(const bw_rbac *r, bw_roleset roles, char *out, size_t outlen)
{
    size_t used = 0;

    if (r == NULL || out == NULL || outlen == 0)
        return -1;
    for (roles &= role_mask(r); roles != 0; roles &= roles - 1) {
        size_t i = (size_t)__builtin_ctzll(roles), sep = used > 0 ? 1 : 0;
        /* used + sep + len + 1 (the NUL) <= outlen, written so it cannot overflow.
         */
        if (r->role_len[i] + sep >= outlen - used) {
            out[0] = '\0';
            return -1;
        }
        if (sep)
            out[used++] = ',';
        memcpy(out + used, r->role[i], r->role_len[i]);
        used += r->role_len[i];
    }
    out[used] = '\0';
    return (int)used;
}
