/* Accounts and authenticated requests for the test suites. */
#include "auth_client.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_run(const char *what, const bw_run_result *r)
{
    fprintf(stderr, "[auth_client] %s exited %d\nstdout:\n%s\nstderr:\n%s\n", what, r->status,
            r->out != NULL ? r->out : "", r->err != NULL ? r->err : "");
}

int bw_test_user_add(bw_srv *srv, const char *name, const char *pw, const char *roles)
{
    const char *argv[] = {"user", "add", name, "--roles", roles, NULL};
    char input[1024];
    bw_run_result r;
    int n = snprintf(input, sizeof input, "%s\n", pw);
    int rc = -1;

    if (n < 0 || (size_t)n >= sizeof input || bw_srv_run(srv, argv, input, &r) != 0)
        return -1;
    if (r.status == 0)
        rc = 0;
    else
        print_run("user add", &r);
    bw_run_free(&r);
    return rc;
}

int bw_test_login(bw_srv *srv, const char *name, const char *pw, char **token, long *status)
{
    json_t *body = json_pack("{s:s, s:s}", "username", name, "password", pw);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    bw_resp resp;
    int rc = -1;

    *token = NULL;
    if (status != NULL)
        *status = 0;
    json_decref(body);
    if (text == NULL)
        return -1;
    if (bw_http_as(srv, NULL, "POST", "/v1/auth/login", text, NULL, &resp) == 0) {
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
    }
    free(text);
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

int bw_http_as(bw_srv *srv, const char *token, const char *method, const char *path,
               const char *json, const char *const *extra, bw_resp *resp)
{
    const char *headers[16];
    char auth[1024];
    size_t n = 0;

    if (token != NULL) {
        int k = snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        if (k < 0 || (size_t)k >= sizeof auth)
            return -1;
        headers[n++] = auth;
    }
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
