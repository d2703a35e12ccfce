/* The alert webhook: a bounded queue of JSON bodies and one thread POSTing them over HTTPS
 * with wolfSSL, signed with HMAC-SHA256, retried with exponential backoff. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bulwark/err.h"
#include "bulwark/log.h"
#include "bulwark/webhook.h"

#define DEFAULT_BACKOFF_MS 500u
#define TIMEOUT_MAX_MS 600000u
#define STATUS_LINE_MAX 1024
#define REQUEST_HEAD_MAX (BW_WEBHOOK_PATH_MAX + BW_WEBHOOK_HOST_MAX + 512)
#define REASON_MAX 160

/* The server side's policy (tls.c), for the same reasons: AEAD suites, ECDHE only. */
static const char SUITES[] =
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256"
    ":ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
    ":ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
    ":ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

typedef struct entry {
    char *body;
    size_t len;
} entry;

struct bw_webhook {
    char host[BW_WEBHOOK_HOST_MAX + 1];
    char path[BW_WEBHOOK_PATH_MAX + 1];
    char host_header[BW_WEBHOOK_HOST_MAX + 16]; /* "host", "[v6]", with ":port" unless 443 */
    char port_text[8];
    bool host_is_ip;
    unsigned char *key; /* sodium_malloc: guarded, wiped on free */
    size_t keylen;
    WOLFSSL_CTX *ctx;
    unsigned max_retries, timeout_ms, backoff_ms;

    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC; signalled on a new body and on stop */
    entry *queue;        /* ring of `capacity` entries */
    size_t capacity, head, len;
    bool stopping;
    int64_t stop_deadline; /* monotonic ms; valid once stopping */
    pthread_t thread;

    _Atomic uint64_t sent, failed, dropped, retries, queued;
};

/* One TLS connection's socket and the moment its attempt must be over. */
typedef struct conn {
    int fd;
    int64_t deadline;
    bool timed_out;
} conn;

static int64_t now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0; /* cannot happen with CLOCK_MONOTONIC; a 0 only shortens waits */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- The URL ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A DNS name p[0..n): labels of 1..63 letters, digits and '-', not starting or ending
 * with '-'. All digits and dots is not a name (it would be a malformed IPv4 address). */
static bool dns_name_ok(const char *p, size_t n)
{
    size_t label = 0;
    bool letter = false;

    if (n == 0 || n > BW_WEBHOOK_HOST_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '.') {
            if (label == 0 || p[i - 1] == '-')
                return false;
            label = 0;
        } else if (is_alnum(p[i]) || p[i] == '-') {
            if ((label == 0 && p[i] == '-') || ++label > 63)
                return false;
            letter = letter || !is_digit(p[i]);
        } else {
            return false;
        }
    }
    return label > 0 && p[n - 1] != '-' && letter;
}

int bw_webhook_url_parse(const char *url, size_t len, char *host, size_t hostcap, unsigned *port,
                         char *path, size_t pathcap, char *why, size_t whylen)
{
    static const char scheme[] = "https://";
    const size_t slen = sizeof(scheme) - 1;
    size_t i, auth_end, host_start, host_end;
    unsigned long p = 443;
    char tmp[BW_WEBHOOK_HOST_MAX + 1];
    unsigned char addr[16];

    if (url == NULL || host == NULL || port == NULL || path == NULL) {
        bw_err_set(why, whylen, "no URL");
        return -1;
    }
    if (len < slen || memcmp(url, scheme, slen) != 0) {
        bw_err_set(why, whylen, "the URL must start with https://");
        return -1;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];

        if (c <= 0x20 || c >= 0x7f || c == '#' || c == '\\') {
            bw_err_set(why, whylen,
                       c == '#' ? "the URL may not have a fragment"
                                : "the URL holds a space, control, '\\' or "
                                  "non-ASCII byte");
            return -1;
        }
    }
    auth_end = slen;
    while (auth_end < len && url[auth_end] != '/') {
        if (url[auth_end] == '?') {
            bw_err_set(why, whylen, "the path must start with '/'");
            return -1;
        }
        if (url[auth_end] == '@') {
            bw_err_set(why, whylen, "the URL may not hold user information");
            return -1;
        }
        auth_end++;
    }

    /* host */
    host_start = slen;
    if (host_start < auth_end && url[host_start] == '[') {
        const char *close = memchr(url + host_start, ']', auth_end - host_start);

        if (close == NULL) {
            bw_err_set(why, whylen, "an IPv6 address needs its closing ']'");
            return -1;
        }
        host_end = (size_t)(close - url);
        host_start++;
        if (host_end - host_start >= INET6_ADDRSTRLEN) {
            bw_err_set(why, whylen, "not an IPv6 address");
            return -1;
        }
        memcpy(tmp, url + host_start, host_end - host_start);
        tmp[host_end - host_start] = '\0';
        if (inet_pton(AF_INET6, tmp, addr) != 1) {
            bw_err_set(why, whylen, "not an IPv6 address");
            return -1;
        }
        i = host_end + 1;
    } else {
        host_end = host_start;
        while (host_end < auth_end && url[host_end] != ':')
            host_end++;
        if (host_end == host_start) {
            bw_err_set(why, whylen, "the URL has no host");
            return -1;
        }
        if (host_end - host_start > BW_WEBHOOK_HOST_MAX) {
            bw_err_set(why, whylen, "the host name is too long");
            return -1;
        }
        memcpy(tmp, url + host_start, host_end - host_start);
        tmp[host_end - host_start] = '\0';
        if (inet_pton(AF_INET, tmp, addr) != 1 && !dns_name_ok(tmp, host_end - host_start)) {
            bw_err_set(why, whylen, "the host is neither a DNS name nor an IPv4 address");
            return -1;
        }
        for (size_t k = 0; tmp[k] != '\0'; k++) {
            if (tmp[k] >= 'A' && tmp[k] <= 'Z')
                tmp[k] = (char)(tmp[k] - 'A' + 'a');
        }
        i = host_end;
    }

    /* port: ":" and 1..5 digits, up to the path */
    if (i < auth_end) {
        const char *digits = url + i + 1;
        const size_t ndigits = auth_end - i - 1;
        size_t k = 0;

        if (url[i] != ':') {
            bw_err_set(why, whylen, "unexpected text after the host");
            return -1;
        }
        p = 0;
        while (k < ndigits && k < 5 && is_digit(digits[k])) {
            p = p * 10 + (unsigned long)(digits[k] - '0');
            k++;
        }
        /* every byte a digit, 1..5 of them, no leading zero */
        if (k != ndigits || k == 0 || digits[0] == '0' || p > 65535) {
            bw_err_set(why, whylen, "the port must be 1..65535");
            return -1;
        }
    }

    /* path */
    if (auth_end == len) {
        if (pathcap < 2) {
            bw_err_set(why, whylen, "the path does not fit");
            return -1;
        }
        memcpy(path, "/", 2);
    } else {
        if (len - auth_end >= pathcap) {
            bw_err_set(why, whylen, "the path is too long");
            return -1;
        }
        memcpy(path, url + auth_end, len - auth_end);
        path[len - auth_end] = '\0';
    }
    if (host_end - host_start >= hostcap) {
        bw_err_set(why, whylen, "the host does not fit");
        return -1;
    }
    memcpy(host, tmp, host_end - host_start + 1);
    *port = (unsigned)p;
    return 0;
}

/* ---- One attempt: connect, TLS, request, status ---- */

/* Waits until fd is ready for events or the deadline passes: 0 ready, -1 timed out/error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        struct pollfd pfd = {.fd = fd, .events = events};
        int rc;

        if (left <= 0)
            return -1;
        rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

/* wolfSSL I/O on a non-blocking socket, waiting (poll) no later than the attempt's deadline:
 * the socket timeouts of one attempt, exact, and no SIGPIPE on a closed connection. */
static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    conn *c = ctx;

    (void)ssl;
    for (;;) {
        ssize_t n = recv(c->fd, buf, (size_t)sz, 0);

        if (n > 0)
            return (int)n;
        if (n == 0)
            return WOLFSSL_CBIO_ERR_CONN_CLOSE;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST : WOLFSSL_CBIO_ERR_GENERAL;
        if (wait_fd(c->fd, POLLIN, c->deadline) != 0) {
            c->timed_out = true;
            return WOLFSSL_CBIO_ERR_TIMEOUT;
        }
    }
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    conn *c = ctx;

    (void)ssl;
    for (;;) {
        ssize_t n = send(c->fd, buf, (size_t)sz, MSG_NOSIGNAL);

        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EPIPE)
            return WOLFSSL_CBIO_ERR_CONN_CLOSE;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST : WOLFSSL_CBIO_ERR_GENERAL;
        if (wait_fd(c->fd, POLLOUT, c->deadline) != 0) {
            c->timed_out = true;
            return WOLFSSL_CBIO_ERR_TIMEOUT;
        }
    }
}

/* Connects a non-blocking TCP socket to the receiver, trying each address in turn.
 * Returns the descriptor or -1 with the reason. */
static int tcp_connect(const bw_webhook *w, int64_t deadline, char *why, size_t whylen)
{
    struct addrinfo hints, *res = NULL;
    int rc, fd = -1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (w->host_is_ip ? AI_NUMERICHOST : 0);
    /* getaddrinfo has no timeout of its own: resolv.conf's bounds it */
    rc = getaddrinfo(w->host, w->port_text, &hints, &res);
    if (rc != 0) {
        bw_err_set(why, whylen, "cannot resolve %s: %s", w->host, gai_strerror(rc));
        return -1;
    }
    bw_err_set(why, whylen, "cannot connect to %s", w->host);
    for (const struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        int soerr = 0;
        socklen_t slen = sizeof(soerr);

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) == 0 && soerr == 0)
            break;
        bw_err_set(why, whylen, "cannot connect to %s: %s", w->host,
                   soerr != 0             ? strerror(soerr)
                   : errno != EINPROGRESS ? strerror(errno)
                                          : "timed out");
        (void)close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Writes the signature header value "sha256=<hex>" for ts "." body into out. */
static void sign(const bw_webhook *w, const char *ts, size_t tslen, const char *body, size_t len,
                 char out[7 + 2 * crypto_auth_hmacsha256_BYTES + 1])
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];

    (void)crypto_auth_hmacsha256_init(&st, w->key, w->keylen);
    (void)crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, tslen);
    (void)crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    (void)crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    (void)crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "sha256=", 7);
    (void)sodium_bin2hex(out + 7, 2 * crypto_auth_hmacsha256_BYTES + 1, mac, sizeof(mac));
    sodium_memzero(&st, sizeof(st));
}

static void tls_reason(WOLFSSL *ssl, int ret, const conn *c, const char *step, char *why,
                       size_t whylen)
{
    char buf[WOLFSSL_MAX_ERROR_SZ];
    int e = wolfSSL_get_error(ssl, ret);

    if (c->timed_out) {
        bw_err_set(why, whylen, "%s: timed out", step);
        return;
    }
    wolfSSL_ERR_error_string_n((unsigned long)e, buf, sizeof(buf));
    bw_err_set(why, whylen, "%s: %s", step, buf);
}

/* Parses "HTTP/1.x NNN" at the start of p[0..n); returns the status or -1. */
static int parse_status(const char *p, size_t n)
{
    if (n < 13 || memcmp(p, "HTTP/1.", 7) != 0 || !is_digit(p[7]) || p[8] != ' ' ||
        !is_digit(p[9]) || !is_digit(p[10]) || !is_digit(p[11]) || (p[12] != ' ' && p[12] != '\r'))
        return -1;
    return (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
}

/* POSTs body once. Returns 0 on a 2xx answer, -1 with the reason otherwise. */
static int post_once(const bw_webhook *w, const char *body, size_t len, int64_t deadline, char *why,
                     size_t whylen)
{
    char head[REQUEST_HEAD_MAX], ts[24], sig[7 + 2 * crypto_auth_hmacsha256_BYTES + 1];
    char status[STATUS_LINE_MAX];
    size_t got = 0;
    conn c = {.fd = -1, .deadline = deadline};
    WOLFSSL *ssl = NULL;
    int n, ret = 0, code, rc = -1;

    n = snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    if (n <= 0 || (size_t)n >= sizeof(ts))
        return -1;
    sign(w, ts, (size_t)n, body, len, sig);
    n = snprintf(head, sizeof(head),
                 "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bulwark-webhook\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                 "X-Bulwark-Timestamp: %s\r\nX-Bulwark-Signature: %s\r\n"
                 "Connection: close\r\n\r\n",
                 w->path, w->host_header, len, ts, sig);
    if (n <= 0 || (size_t)n >= sizeof(head)) {
        bw_err_set(why, whylen, "the request head does not fit");
        return -1;
    }

    c.fd = tcp_connect(w, deadline, why, whylen);
    if (c.fd < 0)
        return -1;
    ssl = wolfSSL_new(w->ctx);
    if (ssl == NULL) {
        bw_err_set(why, whylen, "cannot create a TLS session");
        goto done;
    }
    wolfSSL_SetIOReadCtx(ssl, &c);
    wolfSSL_SetIOWriteCtx(ssl, &c);
    if (wolfSSL_check_domain_name(ssl, w->host) != WOLFSSL_SUCCESS ||
        (!w->host_is_ip && wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, w->host,
                                          (unsigned short)strlen(w->host)) != WOLFSSL_SUCCESS)) {
        bw_err_set(why, whylen, "cannot set the TLS host name");
        goto done;
    }
    ret = wolfSSL_connect(ssl);
    if (ret != WOLFSSL_SUCCESS) {
        tls_reason(ssl, ret, &c, "TLS handshake", why, whylen);
        goto done;
    }
    ret = wolfSSL_write(ssl, head, n);
    if (ret != n) {
        tls_reason(ssl, ret, &c, "sending the request", why, whylen);
        goto done;
    }
    ret = wolfSSL_write(ssl, body, (int)len);
    if (ret != (int)len) {
        tls_reason(ssl, ret, &c, "sending the body", why, whylen);
        goto done;
    }
    /* the status line is all we need; the rest of the answer is not read */
    while (got < sizeof(status) && memchr(status, '\n', got) == NULL) {
        ret = wolfSSL_read(ssl, status + got, (int)(sizeof(status) - got));
        if (ret <= 0)
            break;
        got += (size_t)ret;
    }
    code = parse_status(status, got);
    if (code < 0) {
        if (got == 0)
            tls_reason(ssl, ret, &c, "reading the answer", why, whylen);
        else
            bw_err_set(why, whylen, "the answer is not HTTP/1.x");
        goto done;
    }
    if (code < 200 || code > 299) {
        bw_err_set(why, whylen, "the receiver answered %d", code);
        goto done;
    }
    rc = 0;
    (void)wolfSSL_shutdown(ssl); /* close_notify, best effort */
done:
    if (ssl != NULL)
        wolfSSL_free(ssl);
    (void)close(c.fd);
    return rc;
}

/* ---- The sender thread ---- */

/* Waits ms or until stop; returns true when stopping. Lock held. */
static bool wait_or_stop(bw_webhook *w, unsigned ms)
{
    int64_t until = now_ms() + ms;
    struct timespec ts = {.tv_sec = (time_t)(until / 1000),
                          .tv_nsec = (long)(until % 1000) * 1000000};

    while (!w->stopping) {
        int rc = pthread_cond_timedwait(&w->cond, &w->lock, &ts);

        if (rc == ETIMEDOUT)
            break;
    }
    return w->stopping;
}

static unsigned backoff_for(const bw_webhook *w, unsigned retry)
{
    uint64_t ms = w->backoff_ms;

    for (unsigned k = 1; k < retry && ms < BW_WEBHOOK_BACKOFF_CAP_MS; k++)
        ms *= 2;
    return ms > BW_WEBHOOK_BACKOFF_CAP_MS ? BW_WEBHOOK_BACKOFF_CAP_MS : (unsigned)ms;
}

/* Sends one body with its retries. Called without the lock. */
static void deliver(bw_webhook *w, const entry *e)
{
    char why[REASON_MAX] = "";

    for (unsigned attempt = 0;; attempt++) {
        int64_t deadline = now_ms() + w->timeout_ms;
        bool stopping, late;

        (void)pthread_mutex_lock(&w->lock);
        stopping = w->stopping;
        if (stopping && deadline > w->stop_deadline)
            deadline = w->stop_deadline;
        (void)pthread_mutex_unlock(&w->lock);
        late = stopping && deadline <= now_ms();
        if (!late) {
            if (attempt > 0)
                atomic_fetch_add(&w->retries, 1);
            if (post_once(w, e->body, e->len, deadline, why, sizeof(why)) == 0) {
                atomic_fetch_add(&w->sent, 1);
                return;
            }
        }
        if (late || attempt == w->max_retries) {
            bw_log_field f[] = {BW_LOG_I("attempts", (long long)attempt + !late),
                                BW_LOG_S("reason", late ? "stopped" : why)};

            atomic_fetch_add(&w->failed, 1);
            bw_log(BW_LOG_WARN, "webhook.failed", f, sizeof(f) / sizeof(f[0]));
            return;
        }
        (void)pthread_mutex_lock(&w->lock);
        (void)wait_or_stop(w, backoff_for(w, attempt + 1));
        (void)pthread_mutex_unlock(&w->lock);
    }
}

static void *sender(void *arg)
{
    bw_webhook *w = arg;
    uint64_t abandoned = 0;

    (void)pthread_mutex_lock(&w->lock);
    for (;;) {
        entry e;

        while (!w->stopping && w->len == 0)
            (void)pthread_cond_wait(&w->cond, &w->lock);
        if (w->len == 0)
            break;
        if (w->stopping && now_ms() >= w->stop_deadline) {
            for (; w->len > 0; w->len--) {
                free(w->queue[w->head].body);
                w->queue[w->head].body = NULL;
                w->head = (w->head + 1) % w->capacity;
                abandoned++;
            }
            atomic_store(&w->queued, 0);
            break;
        }
        e = w->queue[w->head];
        w->queue[w->head].body = NULL;
        w->head = (w->head + 1) % w->capacity;
        w->len--;
        atomic_store(&w->queued, w->len);
        (void)pthread_mutex_unlock(&w->lock);
        deliver(w, &e);
        free(e.body);
        (void)pthread_mutex_lock(&w->lock);
    }
    (void)pthread_mutex_unlock(&w->lock);
    if (abandoned > 0) {
        bw_log_field f[] = {BW_LOG_I("bodies", (long long)abandoned)};

        atomic_fetch_add(&w->failed, abandoned);
        bw_log(BW_LOG_WARN, "webhook.abandoned", f, 1);
    }
    wc_ecc_fp_free(); /* this thread's ECC fixed-point cache (FP_ECC) */
    return NULL;
}

/* ---- Life cycle ---- */

static int check_options(const bw_webhook_options *o, char *err, size_t errlen)
{
    if (o == NULL || o->url == NULL) {
        bw_err_set(err, errlen, "webhook: no URL");
        return -1;
    }
    if (o->key == NULL || o->keylen < BW_WEBHOOK_KEY_MIN || o->keylen > BW_WEBHOOK_KEY_MAX) {
        bw_err_set(err, errlen, "webhook: the key must be %d..%d bytes", BW_WEBHOOK_KEY_MIN,
                   BW_WEBHOOK_KEY_MAX);
        return -1;
    }
    if (o->queue_capacity < 1 || o->queue_capacity > BW_WEBHOOK_QUEUE_MAX) {
        bw_err_set(err, errlen, "webhook: the queue capacity must be 1..%u", BW_WEBHOOK_QUEUE_MAX);
        return -1;
    }
    if (o->max_retries > BW_WEBHOOK_RETRIES_MAX) {
        bw_err_set(err, errlen, "webhook: max_retries must be 0..%u", BW_WEBHOOK_RETRIES_MAX);
        return -1;
    }
    if (o->timeout_ms < 1 || o->timeout_ms > TIMEOUT_MAX_MS) {
        bw_err_set(err, errlen, "webhook: timeout_ms must be 1..%u", TIMEOUT_MAX_MS);
        return -1;
    }
    if (o->backoff_ms > BW_WEBHOOK_BACKOFF_CAP_MS) {
        bw_err_set(err, errlen, "webhook: backoff_ms must be 0..%u", BW_WEBHOOK_BACKOFF_CAP_MS);
        return -1;
    }
    return 0;
}

/* Builds the TLS client context: TLS 1.2+, AEAD suites, the peer verified against ca. */
static WOLFSSL_CTX *make_ctx(const char *ca, char *err, size_t errlen)
{
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());

    if (ctx == NULL) {
        bw_err_set(err, errlen, "webhook: cannot create the TLS context");
        return NULL;
    }
    if (wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_cipher_list(ctx, SUITES) != WOLFSSL_SUCCESS) {
        bw_err_set(err, errlen, "webhook: cannot set the TLS policy");
        wolfSSL_CTX_free(ctx);
        return NULL;
    }
    if (wolfSSL_CTX_load_verify_locations(ctx, ca, NULL) != WOLFSSL_SUCCESS) {
        bw_err_set(err, errlen, "webhook: cannot load the CA bundle %s", ca);
        wolfSSL_CTX_free(ctx);
        return NULL;
    }
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
    wolfSSL_CTX_SetIORecv(ctx, io_recv);
    wolfSSL_CTX_SetIOSend(ctx, io_send);
    return ctx;
}

/* Frees what start built; the thread is not running. */
static void destroy(bw_webhook *w, bool sync_made, bool tls_init)
{
    if (w->queue != NULL) {
        for (size_t i = 0; i < w->capacity; i++)
            free(w->queue[i].body);
        free(w->queue);
    }
    if (w->ctx != NULL)
        wolfSSL_CTX_free(w->ctx);
    if (tls_init)
        (void)wolfSSL_Cleanup();
    if (w->key != NULL)
        sodium_free(w->key);
    if (sync_made) {
        (void)pthread_cond_destroy(&w->cond);
        (void)pthread_mutex_destroy(&w->lock);
    }
    free(w);
}

static int init_sync(bw_webhook *w)
{
    pthread_condattr_t ca;
    int ok;

    if (pthread_condattr_init(&ca) != 0)
        return -1;
    ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
         pthread_cond_init(&w->cond, &ca) == 0;
    (void)pthread_condattr_destroy(&ca);
    if (!ok)
        return -1;
    if (pthread_mutex_init(&w->lock, NULL) != 0) {
        (void)pthread_cond_destroy(&w->cond);
        return -1;
    }
    return 0;
}

bw_webhook *bw_webhook_start(const bw_webhook_options *o, char *err, size_t errlen)
{
    char why[128];
    unsigned char addr[16];
    const char *ca;
    bw_webhook *w;
    unsigned port;
    int n;

    if (check_options(o, err, errlen) != 0)
        return NULL;
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        bw_err_set(err, errlen, "webhook: out of memory");
        return NULL;
    }
    if (bw_webhook_url_parse(o->url, strlen(o->url), w->host, sizeof(w->host), &port, w->path,
                             sizeof(w->path), why, sizeof(why)) != 0) {
        bw_err_set(err, errlen, "webhook: bad URL: %s", why);
        free(w);
        return NULL;
    }
    w->host_is_ip = inet_pton(AF_INET, w->host, addr) == 1 || strchr(w->host, ':') != NULL;
    n = snprintf(w->port_text, sizeof(w->port_text), "%u", port);
    if (n > 0 && (size_t)n < sizeof(w->port_text)) {
        const bool v6 = strchr(w->host, ':') != NULL;

        n = port == 443 ? snprintf(w->host_header, sizeof(w->host_header), "%s%s%s", v6 ? "[" : "",
                                   w->host, v6 ? "]" : "")
                        : snprintf(w->host_header, sizeof(w->host_header), "%s%s%s:%u",
                                   v6 ? "[" : "", w->host, v6 ? "]" : "", port);
    }
    if (n <= 0 || (size_t)n >= sizeof(w->host_header)) {
        bw_err_set(err, errlen, "webhook: the host does not fit");
        free(w);
        return NULL;
    }
    w->max_retries = o->max_retries;
    w->timeout_ms = o->timeout_ms;
    w->backoff_ms = o->backoff_ms == 0 ? DEFAULT_BACKOFF_MS : o->backoff_ms;
    w->capacity = o->queue_capacity;
    if (init_sync(w) != 0) {
        bw_err_set(err, errlen, "webhook: cannot create a mutex");
        free(w);
        return NULL;
    }
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
        bw_err_set(err, errlen, "webhook: cannot initialise wolfSSL");
        destroy(w, true, false);
        return NULL;
    }
    if (sodium_init() < 0) {
        bw_err_set(err, errlen, "webhook: cannot initialise libsodium");
        destroy(w, true, true);
        return NULL;
    }
    w->queue = calloc(w->capacity, sizeof(*w->queue));
    w->key = sodium_malloc(o->keylen);
    if (w->queue == NULL || w->key == NULL) {
        bw_err_set(err, errlen, "webhook: out of memory");
        destroy(w, true, true);
        return NULL;
    }
    memcpy(w->key, o->key, o->keylen);
    w->keylen = o->keylen;
    ca = o->ca_file == NULL || o->ca_file[0] == '\0' ? BW_WEBHOOK_DEFAULT_CA : o->ca_file;
    w->ctx = make_ctx(ca, err, errlen);
    if (w->ctx == NULL) {
        destroy(w, true, true);
        return NULL;
    }
    if (pthread_create(&w->thread, NULL, sender, w) != 0) {
        bw_err_set(err, errlen, "webhook: cannot start the sender thread");
        destroy(w, true, true);
        return NULL;
    }
    return w;
}

int bw_webhook_send(bw_webhook *w, const char *json, size_t len)
{
    char *copy;
    char *old = NULL;
    int rc = 0;

    if (w == NULL || json == NULL || len == 0 || len > BW_WEBHOOK_BODY_MAX)
        return -1;
    copy = malloc(len); /* outside the lock: the sender thread never waits on it */
    if (copy == NULL)
        return -1;
    memcpy(copy, json, len);
    if (pthread_mutex_lock(&w->lock) != 0) {
        free(copy);
        return -1;
    }
    if (w->stopping) {
        rc = -1;
        old = copy;
    } else {
        if (w->len == w->capacity) {
            old = w->queue[w->head].body;
            w->queue[w->head].body = NULL;
            w->head = (w->head + 1) % w->capacity;
            w->len--;
            atomic_fetch_add(&w->dropped, 1);
        }
        w->queue[(w->head + w->len) % w->capacity] = (entry){.body = copy, .len = len};
        w->len++;
        atomic_store(&w->queued, w->len);
        (void)pthread_cond_signal(&w->cond);
    }
    (void)pthread_mutex_unlock(&w->lock);
    free(old);
    return rc;
}

void bw_webhook_stop(bw_webhook *w)
{
    if (w == NULL)
        return;
    (void)pthread_mutex_lock(&w->lock);
    w->stopping = true;
    w->stop_deadline = now_ms() + w->timeout_ms;
    (void)pthread_cond_broadcast(&w->cond);
    (void)pthread_mutex_unlock(&w->lock);
    (void)pthread_join(w->thread, NULL);
    destroy(w, true, true);
}

void bw_webhook_stats_get(const bw_webhook *w, bw_webhook_stats *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    if (w == NULL)
        return;
    out->sent = atomic_load(&w->sent);
    out->failed = atomic_load(&w->failed);
    out->dropped = atomic_load(&w->dropped);
    out->retries = atomic_load(&w->retries);
    out->queued = atomic_load(&w->queued);
}
