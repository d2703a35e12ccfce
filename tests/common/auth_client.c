/* Accounts, logins and authenticated requests for the test suites. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SESSION_COOKIE "__Host-bw_session"
#define CSRF_COOKIE "__Host-bw_csrf"

static void print_run(const char *what, const bw_run_result *r)
{
    fprintf(stderr, "[auth_client] %s exited %d\nstdout:\n%s\nstderr:\n%s\n", what, r->status,
            r->out != NULL ? r->out : "", r->err != NULL ? r->err : "");
}

bw_srv *bw_test_srv_start_json(const char *json, char **config)
{
    bw_srv_opts o = {0};
    bw_srv *srv;

    *config = bw_test_config_write(json);
    if (*config == NULL)
        return NULL;
    o.config_path = *config;
    srv = bw_srv_start(&o);
    if (srv == NULL) {
        bw_test_config_free(*config);
        *config = NULL;
    }
    return srv;
}

int bw_test_srv_stop(bw_srv **srv, char **config)
{
    int rc = -1;

    if (*srv != NULL)
        rc = bw_srv_stop(*srv);
    *srv = NULL;
    bw_test_config_free(*config);
    *config = NULL;
    return rc;
}

int bw_test_cli(bw_srv *srv, const char *const *argv, const char *input)
{
    bw_run_result r;
    int rc = -1;

    if (bw_srv_run(srv, argv, input, &r) != 0)
        return -1;
    if (r.status == 0) {
        rc = 0;
    } else {
        char what[128];

        /* Truncation only shortens the label. */
        (void)snprintf(what, sizeof what, "%s %s", argv[0] != NULL ? argv[0] : "",
                       argv[0] != NULL && argv[1] != NULL ? argv[1] : "");
        print_run(what, &r);
    }
    bw_run_free(&r);
    return rc;
}

int bw_test_user_add(bw_srv *srv, const char *name, const char *pw, const char *roles)
{
    const char *argv[] = {"user", "add", name, "--roles", roles, NULL};
    char input[1024];
    int n = snprintf(input, sizeof input, "%s\n", pw);

    if (n < 0 || (size_t)n >= sizeof input)
        return -1;
    return bw_test_cli(srv, argv, input);
}

int bw_test_login_request(bw_srv *srv, const char *name, const char *pw, const char *mode,
                          const char *const *extra, bw_resp *resp)
{
    json_t *body = json_pack("{s:s, s:s}", "username", name, "password", pw);
    char *text = NULL;
    int rc = -1;

    if (body != NULL &&
        (mode == NULL || json_object_set_new(body, "session", json_string(mode)) == 0))
        text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text != NULL)
        rc = bw_http_as(srv, NULL, "POST", "/v1/auth/login", text, extra, resp);
    free(text);
    return rc;
}

int bw_test_login(bw_srv *srv, const char *name, const char *pw, char **token, long *status)
{
    bw_resp resp;
    int rc = -1;

    *token = NULL;
    if (status != NULL)
        *status = 0;
    if (bw_test_login_request(srv, name, pw, NULL, NULL, &resp) != 0)
        return -1;
    if (status != NULL)
        *status = resp.status;
    if (resp.status == 200) {
        json_t *doc = json_loads(resp.body, 0, NULL);
        const char *t = json_string_value(json_object_get(doc, "token"));
        if (t != NULL && (*token = strdup(t)) != NULL)
            rc = 0;
        json_decref(doc);
    }
    bw_resp_free(&resp);
    return rc;
}

/* Copies the value of the one Set-Cookie of r that sets name into out (BW_TEST_TOKEN_LEN + 1
 * bytes). 0, or -1 unless exactly one sets it, to a value of token length. */
static int cookie_token(const bw_resp *r, const char *name, char *out)
{
    size_t nlen = strlen(name);
    int found = 0;

    for (size_t i = 0; i < r->nheaders; i++) {
        const char *v = r->headers[i].value;

        if (strcasecmp(r->headers[i].name, "Set-Cookie") != 0 || strncmp(v, name, nlen) != 0 ||
            v[nlen] != '=')
            continue;
        if (strcspn(v + nlen + 1, ";") != BW_TEST_TOKEN_LEN)
            return -1;
        memcpy(out, v + nlen + 1, BW_TEST_TOKEN_LEN);
        out[BW_TEST_TOKEN_LEN] = '\0';
        found++;
    }
    return found == 1 ? 0 : -1;
}

int bw_test_cookie_login(bw_srv *srv, const char *name, const char *pw, const char *const *extra,
                         char *token, char *csrf)
{
    char session_ck[BW_TEST_TOKEN_LEN + 1], csrf_ck[BW_TEST_TOKEN_LEN + 1];
    const char *body_csrf;
    json_t *doc;
    bw_resp r;
    int rc = -1;

    if (bw_test_login_request(srv, name, pw, "cookie", extra, &r) != 0)
        return -1;
    doc = json_loadb(r.body, r.body_len, 0, NULL);
    body_csrf = json_string_value(json_object_get(doc, "csrf_token"));
    if (r.status != 200) {
        fprintf(stderr, "[auth_client] cookie login of %s: %ld %s\n", name, r.status, r.body);
    } else if (cookie_token(&r, SESSION_COOKIE, session_ck) != 0 ||
               cookie_token(&r, CSRF_COOKIE, csrf_ck) != 0 || body_csrf == NULL ||
               strcmp(body_csrf, csrf_ck) != 0) {
        fprintf(stderr,
                "[auth_client] cookie login of %s: not one session and one CSRF cookie"
                " of token length, the CSRF one also in the body: %s\n",
                name, r.body);
    } else {
        if (token != NULL)
            memcpy(token, session_ck, sizeof session_ck);
        if (csrf != NULL)
            memcpy(csrf, csrf_ck, sizeof csrf_ck);
        rc = 0;
    }
    json_decref(doc);
    bw_resp_free(&r);
    return rc;
}

int bw_test_apikey_create(bw_srv *srv, const char *user, const char *name, const char *roles,
                          int days, char **key)
{
    char d[16];
    const char *argv[] = {
        "apikey", "create", user, name, "--roles", roles, days > 0 ? "--expires-days" : NULL,
        d,        NULL};
    bw_run_result r;
    int rc = -1;

    *key = NULL;
    if (snprintf(d, sizeof d, "%d", days) < 0 || bw_srv_run(srv, argv, NULL, &r) != 0)
        return -1;
    if (r.status == 0 && r.out != NULL && strncmp(r.out, "bw_", 3) == 0) {
        size_t n = strcspn(r.out, "\n");
        *key = strndup(r.out, n);
        rc = *key != NULL ? 0 : -1;
    } else {
        print_run("apikey create", &r);
    }
    bw_run_free(&r);
    return rc;
}

int bw_test_session_cookie(char *buf, size_t cap, const char *value)
{
    int n = snprintf(buf, cap, "Cookie: " SESSION_COOKIE "=%s", value);

    return n >= 0 && (size_t)n < cap ? 0 : -1;
}

int bw_test_origin(const bw_srv *srv, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "Origin: https://127.0.0.1:%u", (unsigned)bw_srv_port(srv));

    return n >= 0 && (size_t)n < cap ? 0 : -1;
}

/* bw_http with the header line first (may be NULL), the JSON body's Content-Type, and extra. */
static int send_with(bw_srv *srv, const char *first, const char *method, const char *path,
                     const char *json, const char *const *extra, bw_resp *resp)
{
    const char *headers[16];
    size_t n = 0;

    if (first != NULL)
        headers[n++] = first;
    if (json != NULL)
        headers[n++] = "Content-Type: application/json";
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        if (n + 1 >= sizeof headers / sizeof headers[0])
            return -1;
        headers[n++] = extra[i];
    }
    headers[n] = NULL;
    return bw_http(srv, method, path, headers, json, json != NULL ? strlen(json) : 0, resp);
}

int bw_http_as(bw_srv *srv, const char *token, const char *method, const char *path,
               const char *json, const char *const *extra, bw_resp *resp)
{
    char auth[1024];
    int rc;

    if (token != NULL) {
        int k = snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        if (k < 0 || (size_t)k >= sizeof auth)
            return -1;
    }
    rc = send_with(srv, token != NULL ? auth : NULL, method, path, json, extra, resp);
    explicit_bzero(auth, sizeof auth); /* a credential: do not leave it on the stack */
    return rc;
}

int bw_http_as_cookie(bw_srv *srv, const char *value, const char *method, const char *path,
                      const char *json, const char *const *extra, bw_resp *resp)
{
    char cookie[1024];
    int rc = -1;

    if (bw_test_session_cookie(cookie, sizeof cookie, value) == 0)
        rc = send_with(srv, cookie, method, path, json, extra, resp);
    explicit_bzero(cookie, sizeof cookie);
    return rc;
}

void bw_test_want_status(const bw_resp *r, long want, const char *what)
{
    if (r->status != want)
        fail_msg("%s: status %ld, want %ld; body: %s", what, r->status, want,
                 r->body != NULL ? r->body : "");
}

json_t *bw_test_call(bw_srv *srv, const char *token, const char *method, const char *path,
                     const char *json, long want)
{
    char what[512];
    bw_resp r;
    json_t *doc;

    assert_int_equal(bw_http_as(srv, token, method, path, json, NULL, &r), 0);
    /* Truncation only shortens the label. */
    (void)snprintf(what, sizeof what, "%s %s", method, path);
    bw_test_want_status(&r, want, what);
    doc = r.body_len > 0 ? json_loadb(r.body, r.body_len, 0, NULL) : json_object();
    bw_resp_free(&r);
    assert_non_null(doc);
    return doc;
}

char *bw_test_body_sans_request_id(const bw_resp *r)
{
    json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
    char *s;

    assert_non_null(doc);
    assert_true(json_is_string(json_object_get(doc, "request_id")));
    assert_int_equal(json_object_del(doc, "request_id"), 0);
    s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    assert_non_null(s);
    return s;
}

char *bw_test_config_write(const char *json)
{
    char *dir = bw_tmpdir_create();
    char *path;
    FILE *f;
    size_t len = strlen(json);
    int ok;

    if (dir == NULL)
        return NULL;
    path = malloc(strlen(dir) + sizeof("/bulwark.json"));
    if (path == NULL) {
        bw_rm_rf(dir);
        free(dir);
        return NULL;
    }
    memcpy(path, dir, strlen(dir));
    memcpy(path + strlen(dir), "/bulwark.json", sizeof("/bulwark.json"));
    free(dir);
    f = fopen(path, "w");
    ok = f != NULL && fwrite(json, 1, len, f) == len;
    if (f != NULL && fclose(f) != 0)
        ok = 0;
    if (!ok) {
        bw_test_config_free(path);
        return NULL;
    }
    return path;
}

void bw_test_config_free(char *path)
{
    char *slash;

    if (path == NULL)
        return;
    slash = strrchr(path, '/');
    if (slash != NULL) {
        *slash = '\0';
        bw_rm_rf(path);
    }
    free(path);
}
