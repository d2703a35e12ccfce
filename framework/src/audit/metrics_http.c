/* The metrics listener: a second CivetWeb context, plain HTTP, that answers GET and HEAD
 * /metrics with the render and nothing else. It is meant for loopback (the configuration
 * refuses another address unless metrics.allow_public), so it has no TLS and no
 * authentication; it serves no files and keeps no connection alive. */
#include "bulwark/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <civetweb.h>

#include "bulwark/log.h"
#include "bulwark/netaddr.h"

#define LISTEN_MAX 128 /* "[" 39-character v6 address "]:65535" fits with room */

static pthread_mutex_t listen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mg_context *listen_ctx;
static atomic_int listen_port;
static char listen_addr[LISTEN_MAX + 1]; /* as given to bw_metrics_listen_start */

static void set_err(char *err, size_t errlen, const char *what, const char *detail)
{
    if (err != NULL && errlen > 0)
        (void)snprintf(err, errlen, "metrics.listen: %s%s%s", what, detail[0] ? ": " : "", detail);
}

/* Writes the status line, the fixed headers and (unless head) the body. */
static void reply(struct mg_connection *conn, int status, const char *ctype, const char *extra,
                  const char *body, size_t len, bool head)
{
    if (mg_printf(conn,
                  "HTTP/1.1 %d %s\r\n"
                  "Content-Type: %s\r\n"
                  "Content-Length: %zu\r\n"
                  "Cache-Control: no-store\r\n"
                  "X-Content-Type-Options: nosniff\r\n"
                  "%s"
                  "Connection: close\r\n\r\n",
                  status, mg_get_response_code_text(conn, status), ctype, len, extra) <= 0)
        return; /* the client went away: nothing else to do */
    if (!head && len > 0 && mg_write(conn, body, len) <= 0)
        return;
}

static void reply_text(struct mg_connection *conn, int status, const char *extra, const char *msg,
                       bool head)
{
    reply(conn, status, "text/plain; charset=utf-8", extra, msg, strlen(msg), head);
}

static int begin_request(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *path = ri != NULL ? ri->local_uri_raw : NULL;
    const char *method = ri != NULL ? ri->request_method : NULL;
    bool head;
    char *text;
    size_t len;

    if (path == NULL || method == NULL || strcmp(path, "/metrics") != 0) {
        reply_text(conn, 404, "", "not found\n", method != NULL && strcmp(method, "HEAD") == 0);
        return 404;
    }
    head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        reply_text(conn, 405, "Allow: GET, HEAD\r\n", "method not allowed\n", false);
        return 405;
    }
    if (bw_metrics_render(&text, &len) != 0) {
        reply_text(conn, 500, "", "out of memory\n", head);
        return 500;
    }
    reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", "", text, len, head);
    free(text);
    return 200;
}

/* CivetWeb's own errors (malformed request, timeout): our headers, none of its text. */
static int http_error(struct mg_connection *conn, int status, const char *msg)
{
    (void)msg;
    reply_text(conn, status, "", "error\n", false);
    return 0; /* handled */
}

static int log_message(const struct mg_connection *conn, const char *msg)
{
    (void)conn;
    bw_log(BW_LOG_WARN, "metrics.civetweb.message", (bw_log_field[]){BW_LOG_S("msg", msg)}, 1);
    return 1;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* "host:port" or "[v6]:port" with a port 0..65535 and nothing CivetWeb would read as more
 * (a list, an "s" or "r" suffix, a bare port meaning every interface). Sets *v6. */
static bool listen_valid(const char *s, size_t len, bool *v6)
{
    size_t colon = len, i;
    unsigned long port = 0;

    while (colon > 0 && s[colon - 1] != ':')
        colon--;
    if (colon < 2 || colon == len || len - colon > 5)
        return false;
    for (i = colon; i < len; i++) {
        if (!is_digit(s[i]))
            return false;
        port = port * 10 + (unsigned long)(s[i] - '0');
    }
    if (port > 65535)
        return false;
    *v6 = s[0] == '[';
    if (*v6) {
        if (colon < 4 || s[colon - 2] != ']')
            return false;
        for (i = 1; i < colon - 2; i++) {
            if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
                return false;
        }
        return true;
    }
    for (i = 0; i < colon - 1; i++) {
        char c = s[i];
        if (!is_digit(c) && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && c != '.' &&
            c != '-')
            return false;
    }
    return true;
}

int bw_metrics_listen_start(const char *listen, char *err, size_t errlen)
{
    size_t len = listen != NULL ? strnlen(listen, LISTEN_MAX + 1) : 0;
    bool v6 = false;
    struct mg_callbacks cb;
    struct mg_init_data init;
    struct mg_error_data errdata;
    struct mg_server_port ports[2];
    char cverr[256] = "";
    /* clang-format off */
    const char *options[] = {
        "listening_ports", listen,
        "num_threads", "2",
        "connection_queue", "16",
        "request_timeout_ms", "2000",
        "enable_keep_alive", "no",
        "max_request_size", "8192",
        "decode_url", "no",
        "enable_directory_listing", "no",
        NULL, NULL,
    };
    /* clang-format on */
    int rc = -1;

    if (len == 0 || len > LISTEN_MAX || !listen_valid(listen, len, &v6)) {
        set_err(err, errlen, "expected host:port or [v6]:port", "");
        return -1;
    }
    if (v6 && mg_check_feature(8) == 0) {
        set_err(err, errlen, "this CivetWeb build has no IPv6 support", listen);
        return -1;
    }
    if (pthread_mutex_lock(&listen_lock) != 0) {
        set_err(err, errlen, "internal error", "lock");
        return -1;
    }
    if (listen_ctx != NULL) {
        set_err(err, errlen, "the metrics listener already runs", "");
        goto out;
    }
    memset(&cb, 0, sizeof(cb));
    cb.begin_request = begin_request;
    cb.http_error = http_error;
    cb.log_message = log_message;
    memset(&init, 0, sizeof(init));
    init.callbacks = &cb;
    init.configuration_options = options;
    memset(&errdata, 0, sizeof(errdata));
    errdata.text = cverr;
    errdata.text_buffer_size = sizeof(cverr);
    listen_ctx = mg_start2(&init, &errdata);
    if (listen_ctx == NULL) {
        set_err(err, errlen, "cannot listen", cverr[0] ? cverr : "CivetWeb refused to start");
        goto out;
    }
    if (mg_get_server_ports(listen_ctx, 2, ports) < 1) {
        mg_stop(listen_ctx);
        listen_ctx = NULL;
        set_err(err, errlen, "cannot read the bound port", "");
        goto out;
    }
    atomic_store(&listen_port, ports[0].port);
    memcpy(listen_addr, listen, len);
    listen_addr[len] = '\0';
    rc = 0;
out:
    (void)pthread_mutex_unlock(&listen_lock);
    return rc;
}

int bw_metrics_listen_port(void)
{
    return atomic_load(&listen_port);
}

/* Wakes the accept loop once mg_stop has raised its flag (see bw_netaddr_poke). */
static void *poke_later(void *arg)
{
    (void)arg;
    nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
    bw_netaddr_poke(listen_addr, (unsigned)atomic_load(&listen_port));
    return NULL;
}

void bw_metrics_listen_stop(void)
{
    pthread_t poker;

    if (pthread_mutex_lock(&listen_lock) != 0)
        return;
    if (listen_ctx != NULL) {
        bool poking = pthread_create(&poker, NULL, poke_later, NULL) == 0;
        mg_stop(listen_ctx);
        if (poking)
            (void)pthread_join(poker, NULL);
        listen_ctx = NULL;
        atomic_store(&listen_port, 0);
    }
    (void)pthread_mutex_unlock(&listen_lock);
}
