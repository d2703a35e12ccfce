/* Building a response in memory, and writing it in one piece. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bulwark/http.h"
#include "internal.h"

/* Headers the framework computes itself; a handler may not set them. */
static const char *const reserved_headers[] = {
    "Content-Length", "Content-Type", "Connection", "Transfer-Encoding", "X-Request-Id", "Date",
};

void bw_res_init(bw_res *res, bw_arena *arena, const char *request_id)
{
    memset(res, 0, sizeof(*res));
    res->arena = arena;
    res->request_id = request_id;
    res->status = 200;
}

int bw_res_header(bw_res *res, const char *name, const char *value)
{
    size_t i, nlen, vlen;

    if (name == NULL || value == NULL || res->nheaders == BW_RES_MAX_HEADERS)
        return -1;
    nlen = strlen(name);
    vlen = strlen(value);
    if (!bw_http_token_valid(name, nlen) || !bw_http_header_value_valid(value, vlen))
        return -1;
    for (i = 0; i < sizeof(reserved_headers) / sizeof(reserved_headers[0]); i++) {
        if (strcasecmp(name, reserved_headers[i]) == 0)
            return -1;
    }
    res->headers[res->nheaders].name = bw_arena_strndup(res->arena, name, nlen);
    res->headers[res->nheaders].value = bw_arena_strndup(res->arena, value, vlen);
    if (res->headers[res->nheaders].name == NULL || res->headers[res->nheaders].value == NULL)
        return -1;
    res->nheaders++;
    return 0;
}

int bw_res_body(bw_res *res, int status, const char *content_type, const void *body, size_t len)
{
    char *copy;

    if (status < 100 || status > 599 || content_type == NULL ||
        !bw_http_header_value_valid(content_type, strlen(content_type)))
        return -1;
    copy = bw_arena_alloc(res->arena, len == 0 ? 1 : len);
    if (copy == NULL)
        return -1;
    if (len > 0)
        memcpy(copy, body, len);
    res->status = status;
    res->content_type = content_type;
    res->body = copy;
    res->body_len = len;
    return 0;
}

int bw_res_json(bw_res *res, int status, json_t *body)
{
    char *text;
    int rc;

    if (body == NULL)
        return -1;
    text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(body);
    if (text == NULL)
        return -1;
    rc = bw_res_body(res, status, "application/json", text, strlen(text));
    free(text);
    return rc;
}

void bw_res_empty(bw_res *res, int status)
{
    res->status = status;
    res->content_type = NULL;
    res->body = NULL;
    res->body_len = 0;
}

static int problem(bw_res *res, int status, const char *type, const char *detail, json_t *extra)
{
    json_t *o = extra != NULL ? extra : json_object();
    int rc = -1;

    /* The status holds even if the body cannot be built (out of memory): a
     * refusal must never go out as the 200 a response starts with. */
    bw_res_empty(res, status);
    if (o == NULL)
        return -1;
    if (json_object_set_new(o, "type", json_string(type)) == 0 &&
        json_object_set_new(o, "title", json_string(bw_http_reason(status))) == 0 &&
        json_object_set_new(o, "status", json_integer(status)) == 0 &&
        (detail == NULL || json_object_set_new(o, "detail", json_string(detail)) == 0) &&
        json_object_set_new(o, "request_id", json_string(res->request_id)) == 0) {
        char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (text != NULL) {
            rc = bw_res_body(res, status, "application/problem+json", text, strlen(text));
            free(text);
        }
    }
    json_decref(o);
    return rc;
}

int bw_res_problem(bw_res *res, int status, const char *detail)
{
    return problem(res, status, "about:blank", detail, NULL);
}

int bw_res_problem_typed(bw_res *res, int status, const char *kind, const char *detail)
{
    char type[96];
    int n = snprintf(type, sizeof(type), "urn:bulwark:problem:%s", kind);

    if (n < 0 || (size_t)n >= sizeof(type)) {
        bw_res_empty(res, status);
        return -1;
    }
    return problem(res, status, type, detail, NULL);
}

int bw_res_problem_extra(bw_res *res, int status, const char *kind, const char *detail,
                         json_t *extra)
{
    char type[96];
    int n = snprintf(type, sizeof(type), "urn:bulwark:problem:%s", kind);

    if (!json_is_object(extra) || n < 0 || (size_t)n >= sizeof(type)) {
        json_decref(extra);
        bw_res_empty(res, status);
        return -1;
    }
    return problem(res, status, type, detail, extra);
}

int bw_res_get_status(const bw_res *res)
{
    return res->status;
}

/* Appends "Name: value\r\n" to the head buffer; -1 when it does not fit. */
static int head_add(char *buf, size_t cap, size_t *len, const char *name, const char *value)
{
    size_t nlen = strlen(name), vlen = strlen(value);
    size_t need = nlen + 2 + vlen + 2;

    if (need > cap - *len)
        return -1;
    memcpy(buf + *len, name, nlen);
    memcpy(buf + *len + nlen, ": ", 2);
    memcpy(buf + *len + nlen + 2, value, vlen);
    memcpy(buf + *len + nlen + 2 + vlen, "\r\n", 2);
    *len += need;
    return 0;
}

static int head_list(char *buf, size_t cap, size_t *len, const bw_header_kv *kv, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (head_add(buf, cap, len, kv[i].name, kv[i].value) != 0)
            return -1;
    }
    return 0;
}

int bw_res_write(const bw_res *res, struct mg_connection *conn, const bw_header_kv *policy,
                 size_t npolicy, const bw_header_kv *extra, size_t nextra, bool head_only,
                 bool close)
{
    char head[8192], date[64];
    size_t len = 0;
    int n;
    time_t now = time(NULL);
    struct tm tm;
    /* 1xx, 204 and 304 carry no body and no Content-Length (RFC 9110 8.6). */
    bool bodyless = res->status < 200 || res->status == 204 || res->status == 304;

    n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n", res->status,
                 bw_http_reason(res->status));
    if (n < 0 || (size_t)n >= sizeof(head))
        return -1;
    len = (size_t)n;
    if (gmtime_r(&now, &tm) == NULL ||
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
        return -1;
    if (head_add(head, sizeof(head), &len, "Date", date) != 0 ||
        head_list(head, sizeof(head), &len, policy, npolicy) != 0 ||
        head_list(head, sizeof(head), &len, extra, nextra) != 0 ||
        head_list(head, sizeof(head), &len, res->headers, res->nheaders) != 0 ||
        head_add(head, sizeof(head), &len, "X-Request-Id", res->request_id) != 0)
        return -1;
    if (!bodyless) {
        char num[32];
        n = snprintf(num, sizeof(num), "%zu", res->body_len);
        if (n < 0 || (size_t)n >= sizeof(num))
            return -1;
        if ((res->content_type != NULL &&
             head_add(head, sizeof(head), &len, "Content-Type", res->content_type) != 0) ||
            head_add(head, sizeof(head), &len, "Content-Length", num) != 0)
            return -1;
    }
    if (head_add(head, sizeof(head), &len, "Connection", close ? "close" : "keep-alive") != 0 ||
        sizeof(head) - len < 2)
        return -1;
    memcpy(head + len, "\r\n", 2);
    len += 2;
    /* A body that fits goes out with the head in one write: one TLS record
     * and one system call instead of two. */
    if (!head_only && !bodyless && res->body_len > 0 && res->body_len <= sizeof(head) - len) {
        memcpy(head + len, res->body, res->body_len);
        len += res->body_len;
        return mg_write(conn, head, len) == (int)len ? 0 : -1;
    }
    if (mg_write(conn, head, len) != (int)len)
        return -1;
    if (!head_only && !bodyless && res->body_len > 0 &&
        mg_write(conn, res->body, res->body_len) != (int)res->body_len)
        return -1;
    return 0;
}
