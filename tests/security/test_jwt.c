/*
 * JWT bearer tokens end to end (docs/jwt.md), over HTTPS against `notes` configured with two
 * trusted issuers whose issuers file and JWKS files live in a temp folder of the test's own.
 * Every token is made at test time by an independent implementation, jose under Node.js
 * (tests/jwt/sign.mjs), so the verifier is held to what real issuers send; this suite FAILS
 * (never skips) when node or jose is missing: run `npm ci --prefix tests/jwt`.
 *
 * - EdDSA, ES256 and RS256 tokens are accepted; the caller is the token's sub, with the roles of
 *   the issuer's roles claim that RBAC declares (unknown names grant nothing), and RBAC decides
 *   as for any principal (viewer reads notes, gets 403 on admin routes); the admin routes
 *   demand a second factor, which a JWT carries as an "amr" claim naming "mfa" (without it: 403
 *   mfa-required);
 * - every forgery and every invalid token is a 401 with WWW-Authenticate error="invalid_token"
 *   and a generic body, and exactly one audit record, auth.credential.refused, whose reason is
 *   the check that refused it; a public route stays anonymous; a cookie is never a JWT;
 * - key rotation: a new key appears in the JWKS file (picked up by the file poll), the old one
 *   is dropped (SIGHUP), a broken JWKS file keeps the keys in use and is audited;
 * - a bad issuers or JWKS file stops start-up with a message naming the file and the problem.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth_client.h"
#include "harness.h"
#include "totp_client.h"

extern char **environ;

#define ISS1 "https://id.example"
#define ISS2 "https://second.example"
#define AUD "notes-api"
#define WAIT_MS 8000 /* bound on waiting for a reload (the poll runs every 2 s) */
#define RECORD_WAIT_MS 5000
#define NPM_HINT "run `npm ci --prefix tests/jwt` (Node.js 20 and npm are needed)"

typedef struct fixture {
    char *dir; /* the issuers file and the JWKS files */
    char issuers[512];
    char jwks1[512]; /* issuer 1's keys, named by absolute path */
    char jwks2[512]; /* issuer 2's keys, named relative to the issuers file */
    char *config;
    bw_srv *srv;
    json_t *keys; /* {"ed", "ec", "rsa", "ed2", "stranger", "rot"}: {privateJwk, publicJwk} */
    long long now;
} fixture;

static fixture F;

/* ---- small helpers ----------------------------------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;

    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Writes text to path through a temp file and a rename, as a deployment would (the poll must
 * never see half a file). 0 or -1. */
static int write_file_atomic(const char *path, const char *text)
{
    char tmp[600];
    FILE *f;
    size_t len = strlen(text);
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);

    if (n < 0 || (size_t)n >= sizeof(tmp) || (f = fopen(tmp, "w")) == NULL)
        return -1;
    if (fwrite(text, 1, len, f) != len) {
        (void)fclose(f);
        return -1;
    }
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

static int write_json_atomic(const char *path, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_INDENT(2));
    int rc = text != NULL ? write_file_atomic(path, text) : -1;

    free(text);
    return rc;
}

/* ---- the signer: node tests/jwt/sign.mjs ---------------------------------------------------- */

/* Runs the signer with jobs (a JSON array) on stdin. Returns its results (caller decrefs), or
 * NULL with the reason in why; a missing node or jose says how to install them. */
static json_t *signer_run(const json_t *jobs, char *why, size_t cap)
{
    char *input = json_dumps(jobs, JSON_COMPACT), *out = NULL;
    char *argv[] = {"node", BW_SOURCE_DIR "/tests/jwt/sign.mjs", NULL};
    posix_spawn_file_actions_t fa;
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, status = 0, err;
    size_t len = 0, cap_out = 0, ilen;
    json_t *res = NULL;
    pid_t pid;

    if (input == NULL || pipe(in_pipe) != 0 || pipe(out_pipe) != 0) {
        (void)snprintf(why, cap, "cannot set up the signer's pipes");
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_addclose(&fa, in_pipe[1]);
    posix_spawn_file_actions_addclose(&fa, out_pipe[0]);
    err = posix_spawnp(&pid, "node", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    (void)close(in_pipe[0]);
    (void)close(out_pipe[1]);
    in_pipe[0] = out_pipe[1] = -1;
    if (err != 0) {
        (void)snprintf(why, cap, "cannot run node (%s): %s", strerror(err), NPM_HINT);
        goto out;
    }
    /* The signer reads all its input before it writes: no deadlock. */
    ilen = strlen(input);
    for (size_t off = 0; off < ilen;) {
        ssize_t n = write(in_pipe[1], input + off, ilen - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    (void)close(in_pipe[1]);
    in_pipe[1] = -1;
    for (;;) {
        ssize_t n;

        if (len + 4096 + 1 > cap_out) {
            char *nb = realloc(out, cap_out + 65536);
            if (nb == NULL)
                break;
            out = nb;
            cap_out += 65536;
        }
        n = read(out_pipe[0], out + len, cap_out - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        (void)snprintf(why, cap, "the signer failed (exit %d): %s",
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1, NPM_HINT);
        goto out;
    }
    res = out != NULL ? json_loadb(out, len, 0, NULL) : NULL;
    if (!json_is_array(res) || json_array_size(res) != json_array_size(jobs)) {
        json_decref(res);
        res = NULL;
        (void)snprintf(why, cap, "the signer printed something unexpected");
    }
out:
    for (int i = 0; i < 2; i++) {
        if (in_pipe[i] >= 0)
            (void)close(in_pipe[i]);
        if (out_pipe[i] >= 0)
            (void)close(out_pipe[i]);
    }
    free(input);
    free(out);
    return res;
}

/* signer_run that fails the running test instead of returning NULL. */
static json_t *signer(const json_t *jobs)
{
    char why[512];
    json_t *res = signer_run(jobs, why, sizeof(why));

    if (res == NULL)
        fail_msg("%s", why);
    return res;
}

static const json_t *key(const char *name)
{
    const json_t *k = json_object_get(F.keys, name);

    assert_non_null(k);
    return k;
}

/* A sign job: alg with key `name`, header {"typ": "JWT", "kid": kid} (kid NULL: none), and
 * payload (stolen). */
static json_t *sign_job(const char *alg, const char *name, const char *kid, json_t *payload)
{
    json_t *hdr = kid != NULL ? json_pack("{s:s, s:s}", "typ", "JWT", "kid", kid)
                              : json_pack("{s:s}", "typ", "JWT");
    json_t *job =
        json_pack("{s:s, s:s, s:O, s:o, s:o}", "op", "sign", "alg", alg, "privateJwk",
                  json_object_get(key(name), "privateJwk"), "header", hdr, "payload", payload);

    assert_non_null(job);
    return job;
}

/* Signs one token (caller frees). */
static char *sign1(const char *alg, const char *name, const char *kid, json_t *payload)
{
    json_t *jobs = json_array(), *res;
    char *tok;

    assert_int_equal(json_array_append_new(jobs, sign_job(alg, name, kid, payload)), 0);
    res = signer(jobs);
    tok = strdup(json_string_value(json_object_get(json_array_get(res, 0), "token")));
    assert_non_null(tok);
    json_decref(res);
    json_decref(jobs);
    return tok;
}

/* Claims valid now for issuer 1 (caller owns), roles an array of names (stolen, may be NULL). */
static json_t *claims(const char *sub, json_t *roles)
{
    json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", ISS1, "sub", sub, "aud", AUD, "exp",
                          (json_int_t)(F.now + 600), "iat", (json_int_t)F.now);

    assert_non_null(c);
    if (roles != NULL)
        assert_int_equal(json_object_set_new(c, "roles", roles), 0);
    return c;
}

static json_t *roles1(const char *name)
{
    return json_pack("[s]", name);
}

/* ---- requests ----------------------------------------------------------------------------- */

/* GET path with "Authorization: Bearer token" (token NULL: none) and X-Request-Id rid (NULL:
 * none). Fails the test on a transport error. */
static void get_as(const char *token, const char *path, const char *rid, bw_resp *r)
{
    char *auth = NULL, ridh[128];
    const char *h[3] = {NULL, NULL, NULL};
    size_t n = 0;

    if (token != NULL) {
        size_t len = strlen("Authorization: Bearer ") + strlen(token) + 1;
        auth = malloc(len);
        assert_non_null(auth);
        assert_true((size_t)snprintf(auth, len, "Authorization: Bearer %s", token) < len);
        h[n++] = auth;
    }
    if (rid != NULL) {
        assert_true((size_t)snprintf(ridh, sizeof(ridh), "X-Request-Id: %s", rid) < sizeof(ridh));
        h[n++] = ridh;
    }
    assert_int_equal(bw_http(F.srv, "GET", path, h, NULL, 0, r), 0);
    free(auth);
}

static long status_of(const char *token, const char *path)
{
    bw_resp r;
    long st;

    get_as(token, path, NULL, &r);
    st = r.status;
    bw_resp_free(&r);
    return st;
}

/* Polls GET /v1/auth/me with token until it answers want, up to WAIT_MS. */
static void wait_status(const char *token, long want, const char *what)
{
    long long deadline = now_ms() + WAIT_MS;
    long st;

    while ((st = status_of(token, "/v1/auth/me")) != want) {
        if (now_ms() > deadline)
            fail_msg("%s: GET /v1/auth/me still answers %ld after %d ms, want %ld", what, st,
                     WAIT_MS, want);
        sleep_ms(100);
    }
}

/* GET /v1/auth/me as token: 200 with the sub and exactly the role names in want (sorted). */
static void want_me(const char *token, const char *sub, const char *const *want, size_t nwant)
{
    bw_resp r;
    json_t *doc, *roles;

    get_as(token, "/v1/auth/me", NULL, &r);
    bw_test_want_status(&r, 200, "GET /v1/auth/me with a valid JWT");
    doc = json_loadb(r.body, r.body_len, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "username")), sub);
    /* No local account stands behind a JWT principal. */
    assert_int_equal(json_integer_value(json_object_get(doc, "id")), -1);
    assert_false(json_is_true(json_object_get(doc, "mfa")));
    roles = json_object_get(doc, "roles");
    assert_true(json_is_array(roles));
    assert_int_equal(json_array_size(roles), nwant);
    for (size_t i = 0; i < nwant; i++)
        assert_string_equal(json_string_value(json_array_get(roles, i)), want[i]);
    json_decref(doc);
    bw_resp_free(&r);
}

/* ---- the audit trail ---------------------------------------------------------------------- */

/* `notes audit search [--event event] --limit 1000`: the records (caller decrefs). */
static json_t *audit_search(const char *event)
{
    const char *argv[8] = {"audit", "search"};
    size_t n = 2;
    bw_run_result r;
    json_t *all = json_array();

    if (event != NULL) {
        argv[n++] = "--event";
        argv[n++] = event;
    }
    argv[n++] = "--limit";
    argv[n++] = "1000";
    argv[n] = NULL;
    assert_int_equal(bw_srv_run(F.srv, argv, NULL, &r), 0);
    if (r.status != 0)
        fail_msg("audit search exited %d: %s", r.status, r.err);
    for (const char *p = r.out; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        json_t *rec = json_loadb(p, len, 0, NULL);

        if (rec == NULL)
            fail_msg("audit search printed a line that is not JSON: %.*s", (int)len, p);
        assert_int_equal(json_array_append_new(all, rec), 0);
        p = nl != NULL ? nl + 1 : p + len;
    }
    bw_run_free(&r);
    return all;
}

static size_t count_rid(const json_t *recs, const char *rid, const json_t **last)
{
    size_t n = 0, i;
    const json_t *rec;

    json_array_foreach(recs, i, rec)
    {
        const char *id = json_string_value(json_object_get(rec, "request_id"));
        if (id != NULL && strcmp(id, rid) == 0) {
            n++;
            *last = rec;
        }
    }
    return n;
}

/* The newest record of event, polled for up to RECORD_WAIT_MS (caller decrefs). */
static json_t *newest_record(const char *event, long long min_seq)
{
    long long deadline = now_ms() + RECORD_WAIT_MS;

    for (;;) {
        json_t *all = audit_search(event);
        json_t *rec = json_array_get(all, 0);

        if (rec != NULL && json_integer_value(json_object_get(rec, "seq")) > min_seq) {
            json_incref(rec);
            json_decref(all);
            return rec;
        }
        json_decref(all);
        if (now_ms() > deadline)
            fail_msg("no new %s record after %d ms", event, RECORD_WAIT_MS);
        sleep_ms(100);
    }
}

static long long newest_seq(const char *event)
{
    json_t *all = audit_search(event);
    long long seq = (long long)json_integer_value(json_object_get(json_array_get(all, 0), "seq"));

    json_decref(all);
    return seq;
}

/* ---- set-up ------------------------------------------------------------------------------- */

/* The public JWK of key `name` with kid and alg, as a JWKS entry (caller decrefs). */
static json_t *jwk(const char *name, const char *kid, const char *alg)
{
    json_t *k = json_deep_copy(json_object_get(json_object_get(F.keys, name), "publicJwk"));

    if (k == NULL || json_object_set_new(k, "kid", json_string(kid)) != 0 ||
        json_object_set_new(k, "alg", json_string(alg)) != 0 ||
        json_object_set_new(k, "use", json_string("sig")) != 0) {
        json_decref(k);
        return NULL;
    }
    return k;
}

/* Writes issuer 1's JWKS with the keys named in `which` ("ed", "ec", "rsa", "rot"). */
static int write_jwks1(const char *const *which, size_t n)
{
    static const struct {
        const char *name, *kid, *alg;
    } all[] = {{"ed", "ed-1", "EdDSA"},
               {"ec", "ec-1", "ES256"},
               {"rsa", "rsa-1", "RS256"},
               {"rot", "ed-rot", "EdDSA"}};
    json_t *arr = json_array(), *doc;
    int rc;

    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
            if (strcmp(which[i], all[k].name) == 0 &&
                json_array_append_new(arr, jwk(all[k].name, all[k].kid, all[k].alg)) != 0)
                return -1;
        }
    }
    doc = json_pack("{s:o}", "keys", arr);
    rc = doc != NULL ? write_json_atomic(F.jwks1, doc) : -1;
    json_decref(doc);
    return rc;
}

static int group_setup(void **state)
{
    static const char *const initial[] = {"ed", "ec", "rsa"};
    static const char *const names[] = {"ed", "ec", "rsa", "ed2", "stranger", "rot"};
    static const char *const algs[] = {"EdDSA", "ES256", "RS256", "EdDSA", "EdDSA", "EdDSA"};
    json_t *jobs = json_array(), *res, *issuers, *jwks2;
    char why[512], cfg[1200];
    int n;

    (void)state;
    memset(&F, 0, sizeof(F));
    F.now = (long long)time(NULL);
    F.dir = bw_tmpdir_create();
    if (F.dir == NULL || jobs == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        (void)json_array_append_new(jobs, json_pack("{s:s, s:s}", "op", "keygen", "alg", algs[i]));
    res = signer_run(jobs, why, sizeof(why));
    json_decref(jobs);
    if (res == NULL) {
        /* A failed group set-up fails every test of the group: never a skip. */
        print_error("test_jwt: %s\n", why);
        return -1;
    }
    F.keys = json_object();
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        (void)json_object_set(F.keys, names[i], json_array_get(res, i));
    json_decref(res);
    if ((size_t)snprintf(F.issuers, sizeof(F.issuers), "%s/issuers.json", F.dir) >=
            sizeof(F.issuers) ||
        (size_t)snprintf(F.jwks1, sizeof(F.jwks1), "%s/jwks-main.json", F.dir) >= sizeof(F.jwks1) ||
        (size_t)snprintf(F.jwks2, sizeof(F.jwks2), "%s/second.json", F.dir) >= sizeof(F.jwks2))
        return -1;
    if (write_jwks1(initial, 3) != 0)
        return -1;
    jwks2 = json_pack("{s:[o]}", "keys", jwk("ed2", "ed-2", "EdDSA"));
    /* Issuer 2: its JWKS named relative to the issuers file, OAuth "scope" as its roles. */
    issuers = json_pack(
        "{s:[{s:s, s:s, s:[s], s:[s,s,s], s:s, s:i}, {s:s, s:s, s:[s], s:[s], s:s}]}", "issuers",
        "issuer", ISS1, "jwks_file", F.jwks1, "audiences", AUD, "algorithms", "EdDSA", "ES256",
        "RS256", "roles_claim", "roles", "max_skew_s", 30, "issuer", ISS2, "jwks_file",
        "second.json", "audiences", AUD, "algorithms", "EdDSA", "roles_claim", "scope");
    n = write_json_atomic(F.jwks2, jwks2) | write_json_atomic(F.issuers, issuers);
    json_decref(jwks2);
    json_decref(issuers);
    if (n != 0)
        return -1;
    n = snprintf(
        cfg, sizeof(cfg),
        "{\"auth\": {\"password\": {\"memlimit_kib\": 19456}, \"jwt\": {\"file\": \"%s\"}}}",
        F.issuers);
    if (n < 0 || (size_t)n >= sizeof(cfg))
        return -1;
    F.srv = bw_test_srv_start_json(cfg, &F.config);
    return F.srv != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    int rc = 0;

    (void)state;
    if (F.srv != NULL && bw_test_srv_stop(&F.srv, &F.config) != 0)
        rc = -1;
    json_decref(F.keys);
    if (F.dir != NULL)
        (void)bw_rm_rf(F.dir);
    free(F.dir);
    return rc;
}

/* ---- accepted ----------------------------------------------------------------------------- */

static void test_each_algorithm_accepted(void **state)
{
    static const char *const viewer[] = {"viewer"};
    static const char *const editor[] = {"editor"};
    json_t *jobs = json_array(), *res;

    (void)state;
    assert_int_equal(json_array_append_new(jobs, sign_job("EdDSA", "ed", "ed-1",
                                                          claims("sub-eddsa", roles1("viewer")))),
                     0);
    assert_int_equal(json_array_append_new(jobs, sign_job("ES256", "ec", "ec-1",
                                                          claims("sub-es256", roles1("editor")))),
                     0);
    assert_int_equal(json_array_append_new(jobs, sign_job("RS256", "rsa", "rsa-1",
                                                          claims("sub-rs256", roles1("viewer")))),
                     0);
    res = signer(jobs);
    want_me(json_string_value(json_object_get(json_array_get(res, 0), "token")), "sub-eddsa",
            viewer, 1);
    want_me(json_string_value(json_object_get(json_array_get(res, 1), "token")), "sub-es256",
            editor, 1);
    want_me(json_string_value(json_object_get(json_array_get(res, 2), "token")), "sub-rs256",
            viewer, 1);
    json_decref(res);
    json_decref(jobs);
}

/* Issuer 2: its own key, "scope" as a space-separated list, a JWKS named relatively. */
static void test_second_issuer_scope_roles(void **state)
{
    static const char *const viewer[] = {"viewer"};
    json_t *c = claims("sub-second", NULL);
    char *tok;

    (void)state;
    assert_int_equal(json_object_set_new(c, "iss", json_string(ISS2)), 0);
    assert_int_equal(json_object_set_new(c, "scope", json_string("openid viewer  profile")), 0);
    tok = sign1("EdDSA", "ed2", "ed-2", c);
    want_me(tok, "sub-second", viewer, 1);
    free(tok);
}

static void test_rbac_decides(void **state)
{
    char *viewer, *admin, *admin_1f, *unknown;
    json_t *c;

    (void)state;
    viewer = sign1("EdDSA", "ed", "ed-1", claims("rbac-viewer", roles1("viewer")));
    /* The admin routes demand a second factor: the issuer says it checked one ("amr"). */
    c = claims("rbac-admin", roles1("admin"));
    assert_int_equal(json_object_set_new(c, "amr", json_pack("[s,s]", "pwd", "mfa")), 0);
    admin = sign1("EdDSA", "ed", "ed-1", c);
    admin_1f = sign1("EdDSA", "ed", "ed-1", claims("rbac-admin", roles1("admin")));
    c = claims("rbac-nobody", json_pack("[s,s,s]", "root", "superuser", "ADMIN"));
    unknown = sign1("EdDSA", "ed", "ed-1", c);

    /* A viewer reads (its own, so none: no local account owns any note) ... */
    assert_int_equal(status_of(viewer, "/v1/notes"), 200);
    /* ... and is refused what viewers may not do. */
    assert_int_equal(status_of(viewer, "/v1/admin/users"), 403);
    assert_int_equal(status_of(viewer, "/v1/admin/audit"), 403);
    assert_int_equal(status_of(admin, "/v1/admin/users"), 200);
    /* The same admin without amr: the permission holds, the second factor is missing. */
    assert_int_equal(bw_test_mfa_refused(F.srv, admin_1f, "GET", "/v1/admin/users", NULL), 0);
    /* An editor may write, but a note needs a local account to own it: 403, not a 500. */
    char *editor = sign1("EdDSA", "ed", "ed-1", claims("rbac-editor", roles1("editor")));
    bw_resp r;
    assert_int_equal(bw_http_as(F.srv, editor, "POST", "/v1/notes",
                                "{\"title\":\"t\",\"body\":\"b\"}", NULL, &r),
                     0);
    assert_int_equal(r.status, 403);
    bw_resp_free(&r);
    free(editor);
    /* Names RBAC does not declare grant nothing, not even session:self. */
    assert_int_equal(status_of(unknown, "/v1/notes"), 403);
    assert_int_equal(status_of(unknown, "/v1/auth/me"), 403);
    free(viewer);
    free(admin);
    free(admin_1f);
    free(unknown);
}

/* ---- refused ------------------------------------------------------------------------------ */

static char *b64url(const void *p, size_t len)
{
    size_t cap = sodium_base64_encoded_len(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(cap);

    assert_non_null(out);
    sodium_bin2base64(out, cap, p, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

static char *b64url_json(const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    char *out;

    assert_non_null(text);
    out = b64url(text, strlen(text));
    free(text);
    return out;
}

/* "a.b.c" from three parts (caller frees). */
static char *join3(const char *a, const char *b, const char *c)
{
    size_t len = strlen(a) + strlen(b) + strlen(c) + 3;
    char *out = malloc(len);

    assert_non_null(out);
    assert_true((size_t)snprintf(out, len, "%s.%s.%s", a, b, c) < len);
    return out;
}

/* Splits token into its three segments (copies in parts[], caller frees each). */
static void split3(const char *tok, char *parts[3])
{
    const char *d1 = strchr(tok, '.'), *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;

    assert_non_null(d2);
    parts[0] = strndup(tok, (size_t)(d1 - tok));
    parts[1] = strndup(d1 + 1, (size_t)(d2 - d1 - 1));
    parts[2] = strdup(d2 + 1);
    assert_true(parts[0] != NULL && parts[1] != NULL && parts[2] != NULL);
}

typedef struct refusal {
    const char *what;
    char *token;
    const char *reason; /* the verifier's, in the audit record */
    char rid[40];
} refusal;

static void test_refusals_are_401_with_one_record_each(void **state)
{
    enum {
        VALID,
        OTHER_SUB,
        EXPIRED,
        NBF,
        AUD_BAD,
        ISS_BAD,
        STRANGER,
        CROSS,
        BIG,
        LONG_SUB,
        NJOBS
    };
    json_t *jobs = json_array(), *res, *c, *hs;
    char *tok[NJOBS], *p[3], *q[3], *hdr, *pay, *secret;
    json_t *none_hdr;
    refusal cases[20];
    size_t n = 0, i;
    char pad[6600], longsub[66];
    int nfail = 0;

    (void)state;
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    memset(longsub, 's', 65);
    longsub[65] = '\0';
    json_array_append_new(jobs, sign_job("EdDSA", "ed", "ed-1", claims("victim", roles1("admin"))));
    json_array_append_new(jobs,
                          sign_job("EdDSA", "ed", "ed-1", claims("attacker", roles1("viewer"))));
    c = claims("late", NULL);
    json_object_set_new(c, "exp", json_integer((json_int_t)(F.now - 3600)));
    json_object_set_new(c, "iat", json_integer((json_int_t)(F.now - 7200)));
    json_array_append_new(jobs, sign_job("ES256", "ec", "ec-1", c));
    c = claims("early", NULL);
    json_object_set_new(c, "nbf", json_integer((json_int_t)(F.now + 3600)));
    json_array_append_new(jobs, sign_job("RS256", "rsa", "rsa-1", c));
    c = claims("elsewhere", NULL);
    json_object_set_new(c, "aud", json_string("other-api"));
    json_array_append_new(jobs, sign_job("EdDSA", "ed", "ed-1", c));
    c = claims("impostor", NULL);
    json_object_set_new(c, "iss", json_string("https://evil.example"));
    json_array_append_new(jobs, sign_job("EdDSA", "ed", "ed-1", c));
    json_array_append_new(jobs, sign_job("EdDSA", "stranger", "ed-unknown", claims("s", NULL)));
    /* Issuer 2's key claiming issuer 1: keys are per issuer. */
    json_array_append_new(jobs, sign_job("EdDSA", "ed2", "ed-2", claims("cross", NULL)));
    c = claims("big", NULL);
    json_object_set_new(c, "pad", json_string(pad));
    json_array_append_new(jobs, sign_job("EdDSA", "ed", "ed-1", c));
    json_array_append_new(jobs, sign_job("EdDSA", "ed", "ed-1", claims(longsub, NULL)));
    /* HS256 with issuer 1's RSA public key (its JWK text) as the HMAC secret. */
    secret = json_dumps(json_object_get(key("rsa"), "publicJwk"), JSON_COMPACT);
    assert_non_null(secret);
    hs = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "op", "hs256", "secret", secret, "header",
                   "typ", "JWT", "kid", "rsa-1", "payload", claims("confused", roles1("admin")));
    free(secret);
    assert_non_null(hs);
    json_array_append_new(jobs, hs);
    res = signer(jobs);
    for (i = 0; i < NJOBS; i++)
        tok[i] = (char *)json_string_value(json_object_get(json_array_get(res, i), "token"));

#define ADD(w, t, r)                                                                               \
    do {                                                                                           \
        cases[n].what = (w);                                                                       \
        cases[n].token = (t);                                                                      \
        cases[n].reason = (r);                                                                     \
        n++;                                                                                       \
    } while (0)

    split3(tok[VALID], p);
    split3(tok[OTHER_SUB], q);
    ADD("tampered payload", join3(p[0], q[1], p[2]), "signature: mismatch");
    {
        char *sig = strdup(p[2]);
        size_t mid = strlen(sig) / 2;
        sig[mid] = sig[mid] == 'A' ? 'B' : 'A';
        ADD("tampered signature", join3(p[0], p[1], sig), "signature: mismatch");
        free(sig);
    }
    ADD("stripped signature", join3(p[0], p[1], ""), "signature: empty");
    none_hdr = json_pack("{s:s, s:s}", "alg", "none", "typ", "JWT");
    hdr = b64url_json(none_hdr);
    json_decref(none_hdr);
    ADD("alg none, no signature", join3(hdr, p[1], ""), "signature: empty");
    ADD("alg none with a signature", join3(hdr, p[1], p[2]), "alg: none refused");
    free(hdr);
    ADD("HS256 with the public key as secret",
        strdup(json_string_value(json_object_get(json_array_get(res, NJOBS), "token"))),
        "alg: HMAC refused (keys are asymmetric)");
    ADD("expired", strdup(tok[EXPIRED]), "exp: expired");
    ADD("not yet valid", strdup(tok[NBF]), "nbf: not yet valid");
    ADD("wrong audience", strdup(tok[AUD_BAD]), "aud: not accepted");
    ADD("untrusted issuer", strdup(tok[ISS_BAD]), "iss: not a trusted issuer");
    ADD("unknown kid", strdup(tok[STRANGER]), "kid: unknown");
    ADD("another issuer's key", strdup(tok[CROSS]), "kid: unknown");
    assert_true(strlen(tok[BIG]) > 8192);
    ADD("oversized (> 8 KB)", strdup(tok[BIG]), "token: too long");
    ADD("sub longer than a principal name", strdup(tok[LONG_SUB]),
        "sub: too long for a principal name");
    {
        size_t plen = strlen(p[1]);
        char *padded = malloc(plen + 2);
        memcpy(padded, p[1], plen);
        memcpy(padded + plen, "=", 2);
        ADD("base64 padding", join3(p[0], padded, p[2]), "token: byte outside base64url");
        free(padded);
    }
    pay = b64url("{\"sub\":", 7);
    ADD("payload not JSON", join3(p[0], pay, p[2]), "payload: not JSON");
    free(pay);
#undef ADD
    assert_true(n <= sizeof(cases) / sizeof(cases[0]));

    for (i = 0; i < n; i++) {
        bw_resp r;
        const char *www;
        unsigned char rnd[8];
        char hex[17];

        randombytes_buf(rnd, sizeof(rnd));
        sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
        (void)snprintf(cases[i].rid, sizeof(cases[i].rid), "jwt-refused-%s", hex);
        get_as(cases[i].token, "/v1/auth/me", cases[i].rid, &r);
        www = bw_resp_header(&r, "WWW-Authenticate");
        if (r.status != 401) {
            BW_CASE_FAIL(nfail, "%s: status %ld, want 401: %s", cases[i].what, r.status, r.body);
        } else if (www == NULL || strstr(www, "error=\"invalid_token\"") == NULL) {
            BW_CASE_FAIL(nfail, "%s: WWW-Authenticate %s", cases[i].what, www ? www : "(none)");
        } else if (strstr(r.body, cases[i].reason) != NULL) {
            BW_CASE_FAIL(nfail, "%s: the body tells why: %s", cases[i].what, r.body);
        } else {
            char why[512];
            if (!bw_check_problem(&r, 401, why, sizeof(why)))
                BW_CASE_FAIL(nfail, "%s: %s", cases[i].what, why);
        }
        bw_resp_free(&r);
    }
    /* A public route with a bad token: anonymous, not refused. */
    assert_int_equal(status_of(cases[0].token, "/healthz"), 200);

    /* Exactly one record per refused request, with the verifier's reason. */
    {
        long long deadline = now_ms() + RECORD_WAIT_MS;
        const json_t *rec = NULL;
        json_t *recs;

        for (;;) {
            size_t found = 0;
            recs = audit_search(NULL);
            for (i = 0; i < n; i++)
                found += count_rid(recs, cases[i].rid, &rec) > 0;
            if (found == n || now_ms() > deadline)
                break;
            json_decref(recs);
            sleep_ms(100);
        }
        for (i = 0; i < n; i++) {
            size_t k = count_rid(recs, cases[i].rid, &rec);
            const char *ev = k > 0 ? json_string_value(json_object_get(rec, "event")) : NULL;
            const char *reason =
                k > 0 ? json_string_value(json_object_get(json_object_get(rec, "detail"), "reason"))
                      : NULL;

            if (k != 1)
                BW_CASE_FAIL(nfail, "%s: %zu audit records, want 1", cases[i].what, k);
            else if (ev == NULL || strcmp(ev, "auth.credential.refused") != 0)
                BW_CASE_FAIL(nfail, "%s: event %s", cases[i].what, ev ? ev : "(none)");
            else if (reason == NULL || strcmp(reason, cases[i].reason) != 0)
                BW_CASE_FAIL(nfail, "%s: reason \"%s\", want \"%s\"", cases[i].what,
                             reason ? reason : "(none)", cases[i].reason);
        }
        json_decref(recs);
    }
    for (i = 0; i < n; i++)
        free(cases[i].token);
    for (i = 0; i < 3; i++) {
        free(p[i]);
        free(q[i]);
    }
    json_decref(res);
    json_decref(jobs);
    BW_CASES_DONE(nfail);
}

/* The session cookie is never read as a JWT, and a JWT next to a cookie is still the bearer. */
static void test_cookie_is_never_a_jwt(void **state)
{
    char *tok = sign1("EdDSA", "ed", "ed-1", claims("cookie-user", roles1("viewer")));
    char cookie[2048];
    const char *h[] = {cookie, NULL};
    bw_resp r;

    (void)state;
    assert_int_equal(bw_test_session_cookie(cookie, sizeof(cookie), tok), 0);
    assert_int_equal(bw_http(F.srv, "GET", "/v1/auth/me", h, NULL, 0, &r), 0);
    bw_test_want_status(&r, 401, "a JWT in the session cookie");
    bw_resp_free(&r);
    free(tok);
}

/* ---- key rotation (last: it rewrites the keys) --------------------------------------------- */

static void test_key_rotation(void **state)
{
    static const char *const with_new[] = {"ed", "ec", "rsa", "rot"};
    static const char *const old_dropped[] = {"ec", "rsa", "rot"};
    char *old_tok = sign1("EdDSA", "ed", "ed-1", claims("rot-old", roles1("viewer")));
    char *new_tok = sign1("EdDSA", "rot", "ed-rot", claims("rot-new", roles1("viewer")));
    long long seq;
    json_t *rec;
    const char *reason;

    (void)state;
    assert_int_equal(status_of(old_tok, "/v1/auth/me"), 200);
    assert_int_equal(status_of(new_tok, "/v1/auth/me"), 401);

    /* Overlap: the new key is published next to the old one; the file poll finds it. */
    seq = newest_seq("auth.jwt.keys_reloaded");
    assert_int_equal(write_jwks1(with_new, 4), 0);
    wait_status(new_tok, 200, "a token of the new key after it was added");
    assert_int_equal(status_of(old_tok, "/v1/auth/me"), 200);
    rec = newest_record("auth.jwt.keys_reloaded", seq);
    /* Issuer 1's four keys and issuer 2's one. */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(rec, "detail"), "count")),
                     5);
    json_decref(rec);

    /* The old key is dropped, and SIGHUP reloads at once. */
    assert_int_equal(write_jwks1(old_dropped, 3), 0);
    assert_int_equal(bw_srv_signal(F.srv, SIGHUP), 0);
    wait_status(old_tok, 401, "a token of the dropped key");
    assert_int_equal(status_of(new_tok, "/v1/auth/me"), 200);

    /* A broken JWKS file: the keys in use stay, and the failure is recorded. */
    seq = newest_seq("auth.jwt.reload_failed");
    assert_int_equal(write_file_atomic(F.jwks1, "{\"keys\": [ {\"kty\": \"OKP\""), 0);
    rec = newest_record("auth.jwt.reload_failed", seq);
    reason = json_string_value(json_object_get(json_object_get(rec, "detail"), "reason"));
    assert_non_null(reason);
    assert_non_null(strstr(reason, "jwks-main.json"));
    json_decref(rec);
    assert_int_equal(status_of(new_tok, "/v1/auth/me"), 200);
    assert_int_equal(status_of(old_tok, "/v1/auth/me"), 401);
    /* A private key in the file is refused the same way. */
    seq = newest_seq("auth.jwt.reload_failed");
    {
        json_t *doc = json_pack("{s:[O]}", "keys", json_object_get(key("rot"), "privateJwk"));
        assert_int_equal(write_json_atomic(F.jwks1, doc), 0);
        json_decref(doc);
    }
    rec = newest_record("auth.jwt.reload_failed", seq);
    reason = json_string_value(json_object_get(json_object_get(rec, "detail"), "reason"));
    assert_non_null(reason);
    assert_non_null(strstr(reason, "private member"));
    json_decref(rec);
    assert_int_equal(status_of(new_tok, "/v1/auth/me"), 200);
    free(old_tok);
    free(new_tok);
}

/* ---- start-up ----------------------------------------------------------------------------- */

/* `notes serve` with auth.jwt.file naming issuers (JSON text) whose issuer's jwks_file holds
 * jwks: exits 1, its stderr holding each of want. */
static void start_refused(const char *dir, const char *issuers, const char *jwks, const char *want1,
                          const char *want2)
{
    char path[700], jpath[700], cfg[900], env_cfg[800], env_data[800];
    const char *const env[] = {env_cfg, env_data, "BULWARK_LISTEN=127.0.0.1:1", NULL};
    const char *const serve[] = {"serve", NULL};
    bw_run_result r;

    assert_true((size_t)snprintf(path, sizeof(path), "%s/issuers.json", dir) < sizeof(path));
    assert_true((size_t)snprintf(jpath, sizeof(jpath), "%s/keys.json", dir) < sizeof(jpath));
    assert_int_equal(write_file_atomic(path, issuers), 0);
    if (jwks != NULL)
        assert_int_equal(write_file_atomic(jpath, jwks), 0);
    else
        (void)unlink(jpath);
    assert_true((size_t)snprintf(cfg, sizeof(cfg),
                                 "{\"auth\": {\"password\": {\"memlimit_kib\": 19456}, "
                                 "\"jwt\": {\"file\": \"%s\"}}}",
                                 path) < sizeof(cfg));
    assert_true((size_t)snprintf(env_data, sizeof(env_data), "BULWARK_DATA_DIR=%s/data", dir) <
                sizeof(env_data));
    assert_true((size_t)snprintf(env_cfg, sizeof(env_cfg), "BULWARK_CONFIG=%s/config.json", dir) <
                sizeof(env_cfg));
    assert_int_equal(write_file_atomic(env_cfg + strlen("BULWARK_CONFIG="), cfg), 0);
    assert_int_equal(bw_run(serve, env, BW_RUN_TIMEOUT_MS, &r), 0);
    if (r.status != 1 || strstr(r.err, want1) == NULL || strstr(r.err, want2) == NULL)
        fail_msg("serve exited %d, want 1 naming \"%s\" and \"%s\"; stderr: %s", r.status, want1,
                 want2, r.err);
    bw_run_free(&r);
}

static void test_bad_files_stop_startup(void **state)
{
    char *dir = bw_tmpdir_create(), env_cfg[700], env_data[700], cfgpath[700];
    const char *const env[] = {env_cfg, env_data, NULL};
    const char *const init[] = {"init", NULL};
    json_t *good = json_pack("{s:[O]}", "keys", json_object_get(key("ed"), "publicJwk"));
    json_t *priv = json_pack("{s:[O]}", "keys", json_object_get(key("ed"), "privateJwk"));
    char *good_text = json_dumps(good, JSON_COMPACT), *priv_text = json_dumps(priv, JSON_COMPACT);
    bw_run_result r;

    (void)state;
    assert_non_null(dir);
    assert_true(good_text != NULL && priv_text != NULL);
    assert_true((size_t)snprintf(cfgpath, sizeof(cfgpath), "%s/config.json", dir) <
                sizeof(cfgpath));
    assert_int_equal(
        write_file_atomic(cfgpath, "{\"auth\": {\"password\": {\"memlimit_kib\": 19456}}}"), 0);
    assert_true((size_t)snprintf(env_cfg, sizeof(env_cfg), "BULWARK_CONFIG=%s", cfgpath) <
                sizeof(env_cfg));
    assert_true((size_t)snprintf(env_data, sizeof(env_data), "BULWARK_DATA_DIR=%s/data", dir) <
                sizeof(env_data));
    assert_int_equal(bw_run(init, env, BW_RUN_TIMEOUT_MS, &r), 0);
    if (r.status != 0)
        fail_msg("init exited %d: %s", r.status, r.err);
    bw_run_free(&r);

    /* HS256 is not an algorithm an issuer may be allowed. */
    start_refused(dir,
                  "{\"issuers\": [{\"issuer\": \"" ISS1 "\", \"jwks_file\": \"keys.json\", "
                  "\"audiences\": [\"a\"], \"algorithms\": [\"HS256\"]}]}",
                  good_text, "issuers.json", "/issuers/0/algorithms/0");
    /* No issuer at all. */
    start_refused(dir, "{\"issuers\": []}", good_text, "issuers.json", "/issuers");
    /* Not JSON. */
    start_refused(dir, "{\"issuers\": [", good_text, "issuers.json", "invalid JSON");
    /* A private key in the JWKS file. */
    start_refused(dir,
                  "{\"issuers\": [{\"issuer\": \"" ISS1 "\", \"jwks_file\": \"keys.json\", "
                  "\"audiences\": [\"a\"], \"algorithms\": [\"EdDSA\"]}]}",
                  priv_text, "keys.json", "private member");
    /* A JWKS file that is not there. */
    start_refused(dir,
                  "{\"issuers\": [{\"issuer\": \"" ISS1 "\", \"jwks_file\": \"keys.json\", "
                  "\"audiences\": [\"a\"], \"algorithms\": [\"EdDSA\"]}]}",
                  NULL, "keys.json", "cannot open");
    /* Two issuers with the same name. */
    start_refused(dir,
                  "{\"issuers\": [{\"issuer\": \"" ISS1 "\", \"jwks_file\": \"keys.json\", "
                  "\"audiences\": [\"a\"], \"algorithms\": [\"EdDSA\"]}, {\"issuer\": \"" ISS1
                  "\", \"jwks_file\": \"keys.json\", \"audiences\": [\"a\"], "
                  "\"algorithms\": [\"EdDSA\"]}]}",
                  good_text, "issuers.json", "issuer");
    free(good_text);
    free(priv_text);
    json_decref(good);
    json_decref(priv);
    (void)bw_rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_algorithm_accepted),
        cmocka_unit_test(test_second_issuer_scope_roles),
        cmocka_unit_test(test_rbac_decides),
        cmocka_unit_test(test_refusals_are_401_with_one_record_each),
        cmocka_unit_test(test_cookie_is_never_a_jwt),
        cmocka_unit_test(test_bad_files_stop_startup),
        cmocka_unit_test(test_key_rotation),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
