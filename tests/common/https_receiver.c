/* A one-connection-at-a-time HTTPS receiver on wolfSSL for the suites (see https_receiver.h). */
#include "https_receiver.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/tlscert.h"

#define HEAD_MAX 8192
#define IO_TIMEOUT_S 5

struct bw_receiver {
    int lfd;
    uint16_t port;
    int status;
    int delay_ms;
    WOLFSSL_CTX *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    bool stop;
    size_t nreq;
    size_t answered;
    size_t failed_handshakes;
    bw_received req[BW_RECEIVER_MAX_REQUESTS];
};

static struct timespec deadline_in(int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Copies [p, p+len) into out (cap bytes), cut to fit, NUL-terminated. */
static void copy_cut(char *out, size_t cap, const char *p, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

/* Finds header name in the head lines [head, end) (after the request line) and copies its
 * value, optional whitespace removed, into out; "" when absent. */
static void header_value(const char *head, const char *end, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = memchr(head, '\n', (size_t)(end - head));

    out[0] = '\0';
    while (p != NULL && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        const char *stop = eol != NULL ? eol : end;

        if (stop > line && stop[-1] == '\r')
            stop--;
        if ((size_t)(stop - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (v < stop && (*v == ' ' || *v == '\t'))
                v++;
            while (stop > v && (stop[-1] == ' ' || stop[-1] == '\t'))
                stop--;
            copy_cut(out, cap, v, (size_t)(stop - v));
            return;
        }
        p = eol;
    }
}

/* Reads one request into r. 0 when complete, -1 on any error or a request out of bounds. */
static int read_request(WOLFSSL *ssl, bw_received *r)
{
    static const char crlf2[] = "\r\n\r\n";
    char *buf = malloc(HEAD_MAX + 1);
    char clen[24], *end = NULL, *sp1, *sp2;
    size_t got = 0, head_len, want = 0;
    int rc = -1;

    if (buf == NULL)
        return -1;
    while (end == NULL) {
        int n;

        if (got >= HEAD_MAX)
            goto out;
        n = wolfSSL_read(ssl, buf + got, (int)(HEAD_MAX - got));
        if (n <= 0)
            goto out;
        got += (size_t)n;
        buf[got] = '\0';
        end = memmem(buf, got, crlf2, 4);
    }
    head_len = (size_t)(end - buf) + 4;
    /* Request line: METHOD SP target SP HTTP/1.1 */
    sp1 = memchr(buf, ' ', (size_t)(end - buf));
    sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL)
        goto out;
    copy_cut(r->method, sizeof(r->method), buf, (size_t)(sp1 - buf));
    copy_cut(r->target, sizeof(r->target), sp1 + 1, (size_t)(sp2 - sp1 - 1));
    header_value(buf, end + 2, "Host", r->host, sizeof(r->host));
    header_value(buf, end + 2, "Content-Type", r->content_type, sizeof(r->content_type));
    header_value(buf, end + 2, "X-Bulwark-Timestamp", r->timestamp, sizeof(r->timestamp));
    header_value(buf, end + 2, "X-Bulwark-Signature", r->signature, sizeof(r->signature));
    header_value(buf, end + 2, "Content-Length", clen, sizeof(clen));
    for (const char *c = clen; *c != '\0'; c++) {
        if (*c < '0' || *c > '9' || want > BW_RECEIVER_BODY_MAX)
            goto out;
        want = want * 10 + (size_t)(*c - '0');
    }
    if (want > BW_RECEIVER_BODY_MAX || got - head_len > want)
        goto out;
    r->body_len = got - head_len;
    memcpy(r->body, buf + head_len, r->body_len);
    while (r->body_len < want) {
        int n = wolfSSL_read(ssl, r->body + r->body_len, (int)(want - r->body_len));
        if (n <= 0)
            goto out;
        r->body_len += (size_t)n;
    }
    r->body[r->body_len] = '\0';
    rc = 0;
out:
    free(buf);
    return rc;
}

static void serve_one(bw_receiver *rv, int fd)
{
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    WOLFSSL *ssl = wolfSSL_new(rv->ctx);
    bw_received *r = calloc(1, sizeof(*r));
    char answer[128];
    int n;

    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (ssl == NULL || r == NULL || wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS)
        goto done;
    if (wolfSSL_accept(ssl) != WOLFSSL_SUCCESS) {
        pthread_mutex_lock(&rv->lock);
        rv->failed_handshakes++;
        pthread_mutex_unlock(&rv->lock);
        goto done;
    }
    if (read_request(ssl, r) != 0)
        goto done;
    pthread_mutex_lock(&rv->lock);
    if (rv->nreq < BW_RECEIVER_MAX_REQUESTS)
        rv->req[rv->nreq] = *r;
    rv->nreq++;
    pthread_cond_broadcast(&rv->cond);
    if (rv->delay_ms > 0) {
        struct timespec until = deadline_in(rv->delay_ms);
        while (!rv->stop && pthread_cond_timedwait(&rv->cond, &rv->lock, &until) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&rv->lock);
    n = snprintf(answer, sizeof(answer),
                 "HTTP/1.1 %d Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", rv->status);
    if (n > 0 && (size_t)n < sizeof(answer) && wolfSSL_write(ssl, answer, n) == n) {
        pthread_mutex_lock(&rv->lock);
        rv->answered++;
        pthread_cond_broadcast(&rv->cond);
        pthread_mutex_unlock(&rv->lock);
    }
    (void)wolfSSL_shutdown(ssl);
done:
    free(r);
    if (ssl != NULL)
        wolfSSL_free(ssl);
    (void)close(fd);
}

static void *receiver_main(void *arg)
{
    bw_receiver *rv = arg;

    for (;;) {
        struct pollfd p = {.fd = rv->lfd, .events = POLLIN};
        bool stop;
        int fd;

        pthread_mutex_lock(&rv->lock);
        stop = rv->stop;
        pthread_mutex_unlock(&rv->lock);
        if (stop)
            break;
        if (poll(&p, 1, 20) <= 0)
            continue;
        fd = accept4(rv->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            serve_one(rv, fd);
    }
    wc_ecc_fp_free(); /* this thread's ECC cache, or the leak checker reports it */
    return NULL;
}

int bw_receiver_make_cert(const char *dir, char *cert, char *key, size_t cap)
{
    char err[256];
    int n1 = snprintf(cert, cap, "%s/receiver-cert.pem", dir);
    int n2 = snprintf(key, cap, "%s/receiver-key.pem", dir);

    if (n1 < 0 || (size_t)n1 >= cap || n2 < 0 || (size_t)n2 >= cap) {
        fprintf(stderr, "[receiver] path too long under %s\n", dir);
        return -1;
    }
    if (bw_tls_cert_generate_dev(cert, key, 2, err, sizeof(err)) != 0) {
        fprintf(stderr, "[receiver] cannot make a certificate: %s\n", err);
        return -1;
    }
    return 0;
}

static int listen_on(bw_receiver *rv, const char *addr)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t slen = sizeof(sa);
    int one = 1;

    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "[receiver] not an IPv4 address: %s\n", addr);
        return -1;
    }
    rv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rv->lfd < 0 || setsockopt(rv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(rv->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(rv->lfd, 16) != 0 ||
        getsockname(rv->lfd, (struct sockaddr *)&sa, &slen) != 0) {
        fprintf(stderr, "[receiver] cannot listen on %s: %s\n", addr, strerror(errno));
        return -1;
    }
    rv->port = ntohs(sa.sin_port);
    return 0;
}

static int tls_context(bw_receiver *rv, const char *cert, const char *key)
{
    rv->ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
    if (rv->ctx == NULL ||
        wolfSSL_CTX_use_certificate_chain_file(rv->ctx, cert) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_use_PrivateKey_file(rv->ctx, key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
        fprintf(stderr, "[receiver] cannot load %s / %s\n", cert, key);
        return -1;
    }
    return 0;
}

static int sync_init(bw_receiver *rv)
{
    pthread_condattr_t ca;
    int rc;

    if (pthread_mutex_init(&rv->lock, NULL) != 0)
        return -1;
    if (pthread_condattr_init(&ca) != 0) {
        pthread_mutex_destroy(&rv->lock);
        return -1;
    }
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                 pthread_cond_init(&rv->cond, &ca) == 0
             ? 0
             : -1;
    (void)pthread_condattr_destroy(&ca);
    if (rc != 0)
        pthread_mutex_destroy(&rv->lock);
    return rc;
}

bw_receiver *bw_receiver_start(const char *addr, const char *cert, const char *key, int status,
                               int delay_ms)
{
    bw_receiver *rv = calloc(1, sizeof(*rv));
    bool tls = false;

    if (rv == NULL)
        return NULL;
    rv->lfd = -1;
    rv->status = status;
    rv->delay_ms = delay_ms;
    if (listen_on(rv, addr) != 0)
        goto fail;
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
        fprintf(stderr, "[receiver] wolfSSL_Init failed\n");
        goto fail;
    }
    tls = true; /* wolfSSL_Init counts its callers: one wolfSSL_Cleanup each */
    if (tls_context(rv, cert, key) != 0)
        goto fail;
    if (sync_init(rv) != 0) {
        fprintf(stderr, "[receiver] cannot initialise its lock\n");
        goto fail;
    }
    if (pthread_create(&rv->thread, NULL, receiver_main, rv) != 0) {
        fprintf(stderr, "[receiver] cannot start its thread\n");
        pthread_cond_destroy(&rv->cond);
        pthread_mutex_destroy(&rv->lock);
        goto fail;
    }
    return rv;
fail:
    if (rv->ctx != NULL)
        wolfSSL_CTX_free(rv->ctx);
    if (tls)
        (void)wolfSSL_Cleanup();
    if (rv->lfd >= 0)
        (void)close(rv->lfd);
    free(rv);
    return NULL;
}

uint16_t bw_receiver_port(const bw_receiver *rv)
{
    return rv->port;
}

static size_t read_count(bw_receiver *rv, const size_t *field)
{
    size_t n;

    pthread_mutex_lock(&rv->lock);
    n = *field;
    pthread_mutex_unlock(&rv->lock);
    return n;
}

size_t bw_receiver_count(bw_receiver *rv)
{
    return read_count(rv, &rv->nreq);
}

size_t bw_receiver_answered(bw_receiver *rv)
{
    return read_count(rv, &rv->answered);
}

size_t bw_receiver_failed_handshakes(bw_receiver *rv)
{
    return read_count(rv, &rv->failed_handshakes);
}

size_t bw_receiver_wait(bw_receiver *rv, size_t n, int timeout_ms)
{
    struct timespec until = deadline_in(timeout_ms);
    size_t have;

    pthread_mutex_lock(&rv->lock);
    while (rv->nreq < n && pthread_cond_timedwait(&rv->cond, &rv->lock, &until) != ETIMEDOUT) {
    }
    have = rv->nreq;
    pthread_mutex_unlock(&rv->lock);
    return have;
}

int bw_receiver_get(bw_receiver *rv, size_t i, bw_received *out)
{
    int rc = -1;

    pthread_mutex_lock(&rv->lock);
    if (i < rv->nreq && i < BW_RECEIVER_MAX_REQUESTS) {
        *out = rv->req[i];
        rc = 0;
    }
    pthread_mutex_unlock(&rv->lock);
    return rc;
}

void bw_receiver_stop(bw_receiver *rv)
{
    if (rv == NULL)
        return;
    pthread_mutex_lock(&rv->lock);
    rv->stop = true;
    pthread_cond_broadcast(&rv->cond);
    pthread_mutex_unlock(&rv->lock);
    (void)pthread_join(rv->thread, NULL);
    wolfSSL_CTX_free(rv->ctx);
    (void)wolfSSL_Cleanup();
    (void)close(rv->lfd);
    pthread_cond_destroy(&rv->cond);
    pthread_mutex_destroy(&rv->lock);
    free(rv);
}
