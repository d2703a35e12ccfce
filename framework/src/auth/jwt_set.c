/* JWT bearer tokens in a running service: the trusted issuers file
 * (auth.jwt.file) and each issuer's JWKS file, loaded into one read-only set
 * that a reload replaces whole; turning a verified token into a principal.
 * The verification itself is jwt.c's (pure); this file does the I/O. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "auth_internal.h"
#include "bulwark/err.h"
#include "bulwark/jwt.h"
#include "bulwark/log.h"
#include "bulwark/schema.h"

#define JWT_SCHEMA_URI "https://schemas.bulwark.invalid/config/jwt.schema.json"
#define JWT_SCHEMA_LABEL "config/jwt.schema.json"
/* Bounds the schema also states (config/jwt.schema.json). */
#define JWT_MAX_ISSUERS 16
#define JWT_MAX_AUDIENCES 16
/* The issuers file is small; a JWKS document is at most what bw_jwks_parse reads. */
#define JWT_ISSUERS_MAX_BYTES ((size_t)64 * 1024)
#define JWT_JWKS_MAX_BYTES ((size_t)1024 * 1024)
/* The issuers file and one JWKS file per issuer. */
#define JWT_MAX_FILES (1 + JWT_MAX_ISSUERS)
/* Stack of the thread a verification runs on. Debian's CivetWeb gives its
 * workers 100 KB stacks (its USE_STACK_SIZE), part of which thread-local
 * storage takes; wolfCrypt's sp_int arithmetic for an ECDSA or RSA
 * verification needs more than what is left, and overflowed it. */
#define JWT_VERIFY_STACK ((size_t)512 * 1024)

/* Identity of a file as read, to notice a replacement or an edit. */
typedef struct file_id {
    bool present;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} file_id;

/* One loaded configuration. Read-only once published; freed when the holder
 * and every verification using it have let go (refs, under the holder's lock). */
typedef struct jwt_set {
    size_t refs;
    json_t *doc; /* the issuers file: the policies' strings point into it */
    size_t n;
    size_t nkeys;
    bw_jwt_policy pol[JWT_MAX_ISSUERS];
    const char *aud[JWT_MAX_ISSUERS][JWT_MAX_AUDIENCES];
    bw_jwks *keys[JWT_MAX_ISSUERS];
} jwt_set;

struct bw_auth_jwt {
    pthread_mutex_t lock;
    jwt_set *cur; /* NULL until a load succeeded */
    /* The files the last load read (or tried to), for bw_auth_jwt_changed. */
    size_t nfiles;
    char *paths[JWT_MAX_FILES];
    file_id ids[JWT_MAX_FILES];
};

static void set_free(jwt_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        bw_jwks_free(s->keys[i]);
    json_decref(s->doc);
    free(s);
}

static void holder_forget_files(struct bw_auth_jwt *j)
{
    for (size_t i = 0; i < j->nfiles; i++) {
        free(j->paths[i]);
        j->paths[i] = NULL;
    }
    j->nfiles = 0;
}

void bw_auth_jwt_free(struct bw_auth_jwt *j)
{
    if (j == NULL)
        return;
    set_free(j->cur);
    holder_forget_files(j);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

/* Takes a reference to the current set (NULL when there is none). */
static jwt_set *set_acquire(struct bw_auth_jwt *j)
{
    jwt_set *s;

    pthread_mutex_lock(&j->lock);
    s = j->cur;
    if (s != NULL)
        s->refs++;
    pthread_mutex_unlock(&j->lock);
    return s;
}

static void set_release(struct bw_auth_jwt *j, jwt_set *s)
{
    bool last;

    if (s == NULL)
        return;
    pthread_mutex_lock(&j->lock);
    last = --s->refs == 0;
    pthread_mutex_unlock(&j->lock);
    if (last)
        set_free(s);
}

static void file_id_of(const struct stat *st, file_id *id)
{
    id->present = true;
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtime = st->st_mtim;
}

static bool file_id_same(const file_id *a, const file_id *b)
{
    if (a->present != b->present)
        return false;
    return !a->present ||
           (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
            a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec);
}

/* The files a load looks at, recorded as it goes (so a failed load is
 * retried once one of them changes). */
typedef struct load_files {
    size_t n;
    char *paths[JWT_MAX_FILES];
    file_id ids[JWT_MAX_FILES];
} load_files;

/* Reads a regular file of at most max bytes into a NUL-terminated buffer
 * (caller frees) and records it in lf. 0, or -1 with the problem in err. */
static int read_small_file(const char *path, size_t max, load_files *lf, char **out, size_t *len,
                           char *err, size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd;

    *out = NULL;
    *len = 0;
    if (lf->n < JWT_MAX_FILES) {
        lf->paths[lf->n] = strdup(path);
        if (lf->paths[lf->n] == NULL) {
            bw_err_set(err, errlen, "%s: out of memory", path);
            return -1;
        }
        memset(&lf->ids[lf->n], 0, sizeof(lf->ids[lf->n]));
        lf->n++;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        bw_err_set(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    /* The identity before the bytes: a write after this point changes it,
     * and the next poll reloads. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        bw_err_set(err, errlen, "%s: not a regular file", path);
        goto fail;
    }
    file_id_of(&st, &lf->ids[lf->n - 1]);
    if (st.st_size < 0 || (unsigned long long)st.st_size > max) {
        bw_err_set(err, errlen, "%s: larger than %zu bytes", path, max);
        goto fail;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        bw_err_set(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    for (;;) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            bw_err_set(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        /* Grew while being read: read it again once the writer is done. */
        if (got > (size_t)st.st_size) {
            bw_err_set(err, errlen, "%s: changed while being read", path);
            goto fail;
        }
    }
    (void)close(fd);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
fail:
    free(buf);
    (void)close(fd);
    return -1;
}

/* A JWKS path: absolute, or relative to the issuers file's folder. */
static int jwks_path(const char *issuers_path, const char *p, char *buf, size_t cap)
{
    const char *slash = strrchr(issuers_path, '/');
    int n;

    if (p[0] == '/' || slash == NULL)
        n = snprintf(buf, cap, "%s", p);
    else
        n = snprintf(buf, cap, "%.*s/%s", (int)(slash - issuers_path), issuers_path, p);
    return n >= 0 && (size_t)n < cap ? 0 : -1;
}

static unsigned alg_bits(const json_t *algs)
{
    unsigned bits = 0;
    size_t i;
    const json_t *v;

    json_array_foreach(algs, i, v)
    {
        const char *s = json_string_value(v);

        if (s == NULL)
            continue;
        if (strcmp(s, "EdDSA") == 0)
            bits |= BW_JWT_EDDSA;
        else if (strcmp(s, "ES256") == 0)
            bits |= BW_JWT_ES256;
        else if (strcmp(s, "RS256") == 0)
            bits |= BW_JWT_RS256;
    }
    return bits;
}

/* Issuer i of the (schema-checked) document into s: its policy and keys. */
static int load_issuer(jwt_set *s, size_t i, const json_t *iss, const char *issuers_path,
                       load_files *lf, char *err, size_t errlen)
{
    const json_t *auds = json_object_get(iss, "audiences");
    const json_t *roles = json_object_get(iss, "roles_claim");
    const json_t *skew = json_object_get(iss, "max_skew_s");
    char path[PATH_MAX], why[512], *text = NULL;
    size_t len, k;
    const json_t *v;

    if (jwks_path(issuers_path, json_string_value(json_object_get(iss, "jwks_file")), path,
                  sizeof(path)) != 0) {
        bw_err_set(err, errlen, "%s: issuers[%zu].jwks_file: path too long", issuers_path, i);
        return -1;
    }
    if (read_small_file(path, JWT_JWKS_MAX_BYTES, lf, &text, &len, err, errlen) != 0)
        return -1;
    s->keys[i] = bw_jwks_parse(text, len, why, sizeof(why));
    free(text);
    if (s->keys[i] == NULL) {
        bw_err_set(err, errlen, "%s: %s", path, why);
        return -1;
    }
    s->nkeys += bw_jwks_count(s->keys[i]);
    json_array_foreach(auds, k, v)
    {
        if (k < JWT_MAX_AUDIENCES)
            s->aud[i][k] = json_string_value(v);
    }
    s->pol[i] = (bw_jwt_policy){
        .issuer = json_string_value(json_object_get(iss, "issuer")),
        .audiences = s->aud[i],
        .naudiences =
            json_array_size(auds) < JWT_MAX_AUDIENCES ? json_array_size(auds) : JWT_MAX_AUDIENCES,
        .algs = alg_bits(json_object_get(iss, "algorithms")),
        .max_skew_s = skew != NULL ? (int)json_integer_value(skew) : BW_JWT_MAX_SKEW_S,
        .roles_claim = roles != NULL ? json_string_value(roles) : "roles",
        .jwks = s->keys[i],
    };
    return 0;
}

/* Parses the issuers file at path and every JWKS it names into a new set. */
static jwt_set *set_load(const char *path, load_files *lf, char *err, size_t errlen)
{
    jwt_set *s = calloc(1, sizeof(*s));
    json_error_t jerr;
    const json_t *issuers, *iss;
    char *text = NULL, why[512];
    size_t len, i;

    if (s == NULL) {
        bw_err_set(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    s->refs = 1;
    if (read_small_file(path, JWT_ISSUERS_MAX_BYTES, lf, &text, &len, err, errlen) != 0)
        goto fail;
    s->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (s->doc == NULL) {
        bw_err_set(err, errlen, "%s: invalid JSON at line %d, column %d", path, jerr.line,
                   jerr.column);
        goto fail;
    }
    if (bw_schema_check_embedded(bw_jwt_schema_file, bw_jwt_schema_file_count, JWT_SCHEMA_URI,
                                 JWT_SCHEMA_LABEL, s->doc, path, err, errlen) != 0)
        goto fail;
    issuers = json_object_get(s->doc, "issuers");
    json_array_foreach(issuers, i, iss)
    {
        if (i >= JWT_MAX_ISSUERS) /* the schema allows no more */
            break;
        if (load_issuer(s, i, iss, path, lf, err, errlen) != 0)
            goto fail;
        s->n = i + 1;
    }
    if (bw_jwt_policies_check(s->pol, s->n, why, sizeof(why)) != 0) {
        bw_err_set(err, errlen, "%s: %s", path, why);
        goto fail;
    }
    return s;
fail:
    /* Keys parsed before the failure belong to the issuers counted so far,
     * or to the one that failed after its keys were set. */
    for (i = s->n; i < JWT_MAX_ISSUERS; i++) {
        bw_jwks_free(s->keys[i]);
        s->keys[i] = NULL;
    }
    set_free(s);
    return NULL;
}

static struct bw_auth_jwt *holder_get(bw_auth *a, char *err, size_t errlen)
{
    if (a->jwt != NULL)
        return a->jwt;
    a->jwt = calloc(1, sizeof(*a->jwt));
    if (a->jwt == NULL || pthread_mutex_init(&a->jwt->lock, NULL) != 0) {
        free(a->jwt);
        a->jwt = NULL;
        bw_err_set(err, errlen, "auth.jwt: out of memory");
        return NULL;
    }
    return a->jwt;
}

int bw_auth_jwt_load(bw_auth *a, size_t *nkeys, char *err, size_t errlen)
{
    const char *file = a->cfg->auth.jwt.file;
    struct bw_auth_jwt *j;
    load_files lf;
    jwt_set *fresh, *old;
    char path[PATH_MAX];

    if (nkeys != NULL)
        *nkeys = 0;
    if (file == NULL || file[0] == '\0')
        return 0;
    if ((j = holder_get(a, err, errlen)) == NULL)
        return -1;
    if (bw_config_path_in_data(a->cfg, file, path, sizeof(path)) == NULL) {
        bw_err_set(err, errlen, "auth.jwt.file: path too long");
        return -1;
    }
    memset(&lf, 0, sizeof(lf));
    fresh = set_load(path, &lf, err, errlen);
    pthread_mutex_lock(&j->lock);
    holder_forget_files(j);
    memcpy(j->paths, lf.paths, sizeof(j->paths));
    memcpy(j->ids, lf.ids, sizeof(j->ids));
    j->nfiles = lf.n;
    old = fresh != NULL ? j->cur : NULL;
    if (fresh != NULL)
        j->cur = fresh;
    pthread_mutex_unlock(&j->lock);
    if (fresh == NULL)
        return -1;
    /* The holder's reference to the old set: verifications still using it
     * keep it alive until they finish. */
    set_release(j, old);
    if (nkeys != NULL)
        *nkeys = fresh->nkeys;
    return 0;
}

bool bw_auth_jwt_enabled(const bw_auth *a)
{
    return a->jwt != NULL && a->cfg->auth.jwt.file != NULL && a->cfg->auth.jwt.file[0] != '\0';
}

bool bw_auth_jwt_changed(const bw_auth *a)
{
    struct bw_auth_jwt *j = a->jwt;
    bool changed = false;

    if (!bw_auth_jwt_enabled(a))
        return false;
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; i < j->nfiles && !changed; i++) {
        struct stat st;
        file_id now;

        memset(&now, 0, sizeof(now));
        if (stat(j->paths[i], &st) == 0)
            file_id_of(&st, &now);
        changed = !file_id_same(&now, &j->ids[i]);
    }
    pthread_mutex_unlock(&j->lock);
    return changed;
}

/* One verification, handed to a thread with a stack large enough for it. */
typedef struct verify_job {
    const jwt_set *s;
    const char *token;
    size_t len;
    int64_t now;
    bw_jwt_claims *out;
    char *why;
    size_t whylen;
    int rc;
} verify_job;

static void *verify_main(void *arg)
{
    verify_job *j = arg;

    j->rc = bw_jwt_verify(j->s->pol, j->s->n, j->token, j->len, j->now, j->out, j->why, j->whylen);
    /* The thread ends here: its ECC point cache would leak. */
    bw_jwt_thread_cleanup();
    return NULL;
}

/* bw_jwt_verify on a short-lived thread with JWT_VERIFY_STACK bytes of
 * stack. Returns its result, or -2 when no thread could be started. */
static int verify_on_own_stack(verify_job *j)
{
    pthread_attr_t attr;
    pthread_t t;
    int rc;

    if (pthread_attr_init(&attr) != 0)
        return -2;
    rc = pthread_attr_setstacksize(&attr, JWT_VERIFY_STACK);
    if (rc == 0)
        rc = pthread_create(&t, &attr, verify_main, j);
    (void)pthread_attr_destroy(&attr);
    if (rc != 0 || pthread_join(t, NULL) != 0)
        return -2;
    return j->rc;
}

int bw_auth_jwt_authenticate(const bw_auth *a, const char *token, size_t len, long long now,
                             bw_principal *p, size_t *unknown, char *why, size_t whylen)
{
    jwt_set *s;
    bw_jwt_claims cl;
    verify_job job;
    size_t sublen, skipped = 0;
    int rc;

    memset(p, 0, sizeof(*p));
    p->user_id = -1;
    if (unknown != NULL)
        *unknown = 0;
    s = a->jwt != NULL ? set_acquire(a->jwt) : NULL;
    if (s == NULL) {
        bw_err_set(why, whylen, "jwt: not configured");
        return 0;
    }
    job = (verify_job){.s = s,
                       .token = token,
                       .len = len,
                       .now = (int64_t)now,
                       .out = &cl,
                       .why = why,
                       .whylen = whylen,
                       .rc = -1};
    rc = verify_on_own_stack(&job);
    set_release(a->jwt, s);
    if (rc == -2) {
        bw_err_set(why, whylen, "jwt: cannot start a verification thread");
        return -1;
    }
    if (rc != 0)
        return 0;
    /* Refused rather than cut: two long subs sharing a prefix would become
     * one principal. */
    sublen = strnlen(cl.sub, sizeof(cl.sub));
    if (sublen > BW_USER_NAME_MAX) {
        bw_err_set(why, whylen, "sub: too long for a principal name");
        return 0;
    }
    memcpy(p->name, cl.sub, sublen);
    p->name[sublen] = '\0';
    for (size_t i = 0; i < cl.nroles; i++) {
        int r = bw_rbac_role_index(a->rbac, cl.roles[i], strnlen(cl.roles[i], sizeof(cl.roles[i])));

        /* A name the RBAC model does not declare grants nothing. */
        if (r >= 0)
            p->roles |= (bw_roleset)1 << r;
        else
            skipped++;
    }
    p->scope = ~(bw_roleset)0;
    p->mfa = cl.mfa;
    p->kind = BW_AUTH_JWT;
    if (unknown != NULL)
        *unknown = skipped;
    return 1;
}
