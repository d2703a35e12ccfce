/* Read-only accessors a handler uses; the pipeline fills struct bw_req. */
#include <string.h>
#include <strings.h>

#include "internal.h"

const char *bw_req_method(const bw_req *req)
{
    return req->method;
}

const char *bw_req_path(const bw_req *req)
{
    return req->path;
}

const char *bw_req_route(const bw_req *req)
{
    return req->route;
}

const char *bw_req_param(const bw_req *req, const char *name)
{
    size_t i;

    for (i = 0; i < req->nparams; i++) {
        if (strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    }
    return NULL;
}

int bw_req_param_int(const bw_req *req, const char *name, long long *out)
{
    const json_t *v = json_object_get(req->params, name);

    if (!json_is_integer(v))
        return -1;
    *out = json_integer_value(v);
    return 0;
}

json_t *bw_req_query_json(const bw_req *req)
{
    return req->query_doc;
}

const char *bw_req_query(const bw_req *req, const char *name)
{
    size_t i;

    for (i = 0; i < req->nquery; i++) {
        if (strcmp(req->query[i].name, name) == 0)
            return req->query[i].value;
    }
    return NULL;
}

size_t bw_req_query_count(const bw_req *req)
{
    return req->nquery;
}

int bw_req_query_at(const bw_req *req, size_t i, const char **name, const char **value)
{
    if (i >= req->nquery)
        return -1;
    *name = req->query[i].name;
    *value = req->query[i].value;
    return 0;
}

const char *bw_req_header(const bw_req *req, const char *name)
{
    int i;

    if (req->ri == NULL)
        return NULL;
    for (i = 0; i < req->ri->num_headers; i++) {
        if (strcasecmp(req->ri->http_headers[i].name, name) == 0)
            return req->ri->http_headers[i].value;
    }
    return NULL;
}

size_t bw_req_header_count(const bw_req *req, const char *name)
{
    size_t n = 0;

    for (int i = 0; req->ri != NULL && i < req->ri->num_headers; i++)
        n += strcasecmp(req->ri->http_headers[i].name, name) == 0;
    return n;
}

const char *bw_req_header_joined(bw_req *req, const char *name, size_t *len)
{
    const struct mg_request_info *ri = req->ri;
    size_t total = 0;
    char *out;

    *len = 0;
    for (int i = 0; ri != NULL && i < ri->num_headers; i++) {
        if (strcasecmp(ri->http_headers[i].name, name) == 0)
            total += strlen(ri->http_headers[i].value) + 2;
    }
    if (total == 0 || (out = bw_arena_alloc(req->arena, total + 1)) == NULL)
        return NULL;
    for (int i = 0; i < ri->num_headers; i++) {
        if (strcasecmp(ri->http_headers[i].name, name) == 0) {
            size_t vlen = strlen(ri->http_headers[i].value);

            if (*len > 0) {
                memcpy(out + *len, ", ", 2);
                *len += 2;
            }
            memcpy(out + *len, ri->http_headers[i].value, vlen);
            *len += vlen;
        }
    }
    out[*len] = '\0';
    return out;
}

void bw_req_body(const bw_req *req, const char **body, size_t *len)
{
    *body = req->body != NULL ? req->body : "";
    *len = req->body_len;
}

json_t *bw_req_json(const bw_req *req)
{
    return req->json;
}

long long bw_req_user_id(const bw_req *req)
{
    return req->principal.user_id;
}

const bw_principal *bw_req_principal(const bw_req *req)
{
    return req->principal.kind != BW_AUTH_NONE ? &req->principal : NULL;
}

bw_auth *bw_req_auth(const bw_req *req)
{
    return req->srv != NULL ? req->srv->auth : NULL;
}

const char *bw_req_client_cert_subject(const bw_req *req)
{
    const struct mg_client_cert *cc = req->ri != NULL ? req->ri->client_cert : NULL;

    return cc != NULL ? cc->subject : NULL;
}

const char *bw_req_client(const bw_req *req)
{
    return req->client;
}

const char *bw_req_id(const bw_req *req)
{
    return req->id;
}

bw_arena *bw_req_arena(bw_req *req)
{
    return req->arena;
}

void *bw_req_app_data(const bw_req *req)
{
    return req->app_data;
}

struct bw_store *bw_req_store(const bw_req *req)
{
    return req->store;
}

const bw_config *bw_req_config(const bw_req *req)
{
    return req->srv->cfg;
}
