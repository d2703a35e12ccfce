/* The alert webhook against a real HTTPS receiver run by the test in a thread (wolfSSL on
 * 127.0.0.1, a self-signed "localhost" certificate made at test time): the body and the
 * headers arrive intact and the signature verifies; 5xx answers are retried with backoff
 * and the body is delivered once; a receiver that always fails makes `failed` count; a
 * wrong CA or a certificate for another name is refused before anything is sent; a full
 * queue drops the oldest while send() returns at once; stop() is bounded. Also the URL
 * parser and every option error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/log.h"
#include "bulwark/tlscert.h"
#include "bulwark/webhook.h"

#define MAX_REQ 32
#define BODY_CAP 4096

static const unsigned char KEY[] = "0123456789abcdef-webhook-test-key";
#define KEYLEN (sizeof(KEY) - 1)

static char g_dir[64];
static char g_cert[128], g_key[128];   /* the receiver's pair, for "localhost" */
static char g_other[128], g_okey[128]; /* another self-signed pair: the wrong CA */
static int g_logfd = -1;

/* ---- The receiver ---- */

typedef struct request {
    char path[256];
    char host[128];
    char ctype[64];
    char ts[32];
    char sig[96];
    char body[BODY_CAP];
    size_t len;
} request;

typedef struct receiver {
    int lfd;
    unsigned port;
    WOLFSSL_CTX *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int script[8]; /* the status of answers 1, 2, ...; then `otherwise` */
    size_t nscript;
    int otherwise;
    bool stuck; /* hold every answer until released */
    bool stop;
    size_t nreq;       /* complete requests read */
    size_t handshakes; /* TLS handshakes that failed */
    request req[MAX_REQ];
} receiver;

/* Copies the value of header `name` in head[0..n) into out; "" when absent. */
static void header(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = head;

    out[0] = '\0';
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1, *e = strstr(v, "\r\n");
            size_t len;

            while (*v == ' ')
                v++;
            len = e == NULL ? strlen(v) : (size_t)(e - v);
            if (len >= cap)
                len = cap - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return;
        }
    }
}

/* Reads one request on ssl into r; returns 0 when complete. */
static int read_request(WOLFSSL *ssl, request *r)
{
    char buf[8192];
    size_t got = 0;
    char *end = NULL;
    char clen[16];
    size_t head_len, want;

    while (end == NULL) {
        int n;

        if (got + 1 >= sizeof(buf))
            return -1;
        n = wolfSSL_read(ssl, buf + got, (int)(sizeof(buf) - 1 - got));
        if (n <= 0)
            return -1;
        got += (size_t)n;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    head_len = (size_t)(end - buf) + 4;
    end[2] = '\0'; /* keep the last header's CRLF for header() */
    header(buf, "Content-Length", clen, sizeof(clen));
    want = (size_t)strtoul(clen, NULL, 10);
    if (want > BODY_CAP)
        return -1;
    if (sscanf(buf, "POST %255s HTTP/1.1\r\n", r->path) != 1)
        return -1;
    header(buf, "Host", r->host, sizeof(r->host));
    header(buf, "Content-Type", r->ctype, sizeof(r->ctype));
    header(buf, "X-Bulwark-Timestamp", r->ts, sizeof(r->ts));
    header(buf, "X-Bulwark-Signature", r->sig, sizeof(r->sig));
    r->len = got - head_len;
    if (r->len > want)
        return -1;
    memcpy(r->body, buf + head_len, r->len);
    while (r->len < want) {
        int n = wolfSSL_read(ssl, r->body + r->len, (int)(want - r->len));

        if (n <= 0)
            return -1;
        r->len += (size_t)n;
    }
    return 0;
}

static void serve_one(receiver *rv, int fd)
{
    struct timeval tv = {.tv_sec = 5};
    WOLFSSL *ssl = wolfSSL_new(rv->ctx);
    request r;
    char answer[128];
    int status, n;

    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (ssl == NULL || wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS)
        goto done;
    if (wolfSSL_accept(ssl) != WOLFSSL_SUCCESS) {
        pthread_mutex_lock(&rv->lock);
        rv->handshakes++;
        pthread_mutex_unlock(&rv->lock);
        goto done;
    }
    memset(&r, 0, sizeof(r));
    if (read_request(ssl, &r) != 0)
        goto done;
    pthread_mutex_lock(&rv->lock);
    status = rv->nreq < rv->nscript ? rv->script[rv->nreq] : rv->otherwise;
    if (rv->nreq < MAX_REQ)
        rv->req[rv->nreq] = r;
    rv->nreq++;
    pthread_cond_broadcast(&rv->cond);
    while (rv->stuck && !rv->stop)
        pthread_cond_wait(&rv->cond, &rv->lock);
    pthread_mutex_unlock(&rv->lock);
    n = snprintf(answer, sizeof(answer),
                 "HTTP/1.1 %d Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
    (void)wolfSSL_write(ssl, answer, n);
    (void)wolfSSL_shutdown(ssl);
done:
    if (ssl != NULL)
        wolfSSL_free(ssl);
    close(fd);
}

static void *receiver_main(void *arg)
{
    receiver *rv = arg;

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
        fd = accept(rv->lfd, NULL, NULL);
        if (fd >= 0)
            serve_one(rv, fd);
    }
    wc_ecc_fp_free(); /* this thread's ECC cache */
    return NULL;
}

/* Starts a receiver on addr (127.0.0.1 or another loopback address) with cert/key, answering
 * script[0..n) then `otherwise`. Returns NULL when addr cannot be bound. */
static receiver *receiver_start(const char *addr, const char *cert, const char *key,
                                const int *script, size_t n, int otherwise)
{
    receiver *rv = calloc(1, sizeof(*rv));
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t slen = sizeof(sa);
    int one = 1;

    assert_non_null(rv);
    assert_true(n <= 8);
    if (n > 0)
        memcpy(rv->script, script, n * sizeof(int));
    rv->nscript = n;
    rv->otherwise = otherwise;
    assert_int_equal(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
    rv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(rv->lfd >= 0);
    assert_int_equal(setsockopt(rv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    if (bind(rv->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(rv->lfd);
        free(rv);
        return NULL;
    }
    assert_int_equal(listen(rv->lfd, 16), 0);
    assert_int_equal(getsockname(rv->lfd, (struct sockaddr *)&sa, &slen), 0);
    rv->port = ntohs(sa.sin_port);
    rv->ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
    assert_non_null(rv->ctx);
    assert_int_equal(wolfSSL_CTX_use_certificate_chain_file(rv->ctx, cert), WOLFSSL_SUCCESS);
    assert_int_equal(wolfSSL_CTX_use_PrivateKey_file(rv->ctx, key, WOLFSSL_FILETYPE_PEM),
                     WOLFSSL_SUCCESS);
    assert_int_equal(pthread_mutex_init(&rv->lock, NULL), 0);
    assert_int_equal(pthread_cond_init(&rv->cond, NULL), 0);
    assert_int_equal(pthread_create(&rv->thread, NULL, receiver_main, rv), 0);
    return rv;
}

static void receiver_stop(receiver *rv)
{
    pthread_mutex_lock(&rv->lock);
    rv->stop = true;
    pthread_cond_broadcast(&rv->cond);
    pthread_mutex_unlock(&rv->lock);
    assert_int_equal(pthread_join(rv->thread, NULL), 0);
    wolfSSL_CTX_free(rv->ctx);
    close(rv->lfd);
    pthread_cond_destroy(&rv->cond);
    pthread_mutex_destroy(&rv->lock);
    free(rv);
}

static size_t receiver_count(receiver *rv)
{
    size_t n;

    pthread_mutex_lock(&rv->lock);
    n = rv->nreq;
    pthread_mutex_unlock(&rv->lock);
    return n;
}

static void receiver_set_stuck(receiver *rv, bool stuck)
{
    pthread_mutex_lock(&rv->lock);
    rv->stuck = stuck;
    pthread_cond_broadcast(&rv->cond);
    pthread_mutex_unlock(&rv->lock);
}

/* ---- Helpers ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bw_webhook_stats stats(const bw_webhook *w)
{
    bw_webhook_stats s;

    bw_webhook_stats_get(w, &s);
    return s;
}

enum { SENT, FAILED, DROPPED };

/* Waits up to 10 s until the counter reaches want; returns its value. */
static uint64_t wait_stat(const bw_webhook *w, int which, uint64_t want)
{
    int64_t until = mono_ms() + 10000;

    for (;;) {
        bw_webhook_stats s = stats(w);
        uint64_t v = which == SENT ? s.sent : which == FAILED ? s.failed : s.dropped;
        if (v >= want || mono_ms() > until)
            return v;
        usleep(2000);
    }
}

static void wait_requests(receiver *rv, size_t want)
{
    int64_t until = mono_ms() + 10000;

    while (receiver_count(rv) < want && mono_ms() < until)
        usleep(2000);
    assert_int_equal(receiver_count(rv), want);
}

static bw_webhook_options options(const char *url, const char *ca)
{
    bw_webhook_options o = {
        .url = url,
        .key = KEY,
        .keylen = KEYLEN,
        .ca_file = ca,
        .queue_capacity = 16,
        .max_retries = 3,
        .timeout_ms = 3000,
        .backoff_ms = 10,
    };
    return o;
}

static bw_webhook *start(const bw_webhook_options *o)
{
    char err[256] = "";
    bw_webhook *w = bw_webhook_start(o, err, sizeof(err));

    if (w == NULL)
        fail_msg("bw_webhook_start: %s", err);
    return w;
}

/* Checks r's signature: sha256=hex(HMAC(KEY, ts "." body)), and a timestamp near now. */
static void assert_signed(const request *r)
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char hex[2 * sizeof(mac) + 1];
    long long ts = strtoll(r->ts, NULL, 10);

    assert_true(llabs(ts - (long long)time(NULL)) <= 5);
    assert_int_equal(crypto_auth_hmacsha256_init(&st, KEY, KEYLEN), 0);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)r->ts, strlen(r->ts));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)r->body, r->len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
    assert_int_equal(strncmp(r->sig, "sha256=", 7), 0);
    assert_string_equal(r->sig + 7, hex);
}

/* ---- Tests ---- */

static void test_url_parse(void **state)
{
    static const struct {
        const char *url, *host, *path;
        unsigned port;
    } good[] = {
        {"https://example.com/hook", "example.com", "/hook", 443},
        {"https://Hooks.Example.COM", "hooks.example.com", "/", 443},
        {"https://localhost:8443/a/b?x=1&y=%20", "localhost", "/a/b?x=1&y=%20", 8443},
        {"https://127.0.0.1:1/", "127.0.0.1", "/", 1},
        {"https://[::1]:65535/h", "::1", "/h", 65535},
        {"https://[2001:db8::7]/", "2001:db8::7", "/", 443},
        {"https://a-b.c1.io/x@y", "a-b.c1.io", "/x@y", 443},
        {"https://1.2.3.com/", "1.2.3.com", "/", 443},
        {"https://x/", "x", "/", 443},
    };
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"http://example.com/", "https://"},
        {"HTTPS://example.com/", "https://"},
        {"https:/example.com/", "https://"},
        {"https://", "no host"},
        {"https:///path", "no host"},
        {"https://:443/", "no host"},
        {"https://user@example.com/", "user information"},
        {"https://user:pw@example.com/", "user information"},
        {"https://example.com/#frag", "fragment"},
        {"https://example.com?x", "start with '/'"},
        {"https://exa mple.com/", "space"},
        {"https://example.com/a b", "space"},
        {"https://example.com/\x01", "control"},
        {"https://example.com/\x7f", "control"},
        {"https://example.com/\xc3\xa9", "non-ASCII"},
        {"https://example.com\\@evil/", "'\\'"},
        {"https://example.com:/", "port"},
        {"https://example.com:0/", "port"},
        {"https://example.com:08443/", "port"},
        {"https://example.com:65536/", "port"},
        {"https://example.com:99999999999999999999/", "port"},
        {"https://example.com:+1/", "port"},
        {"https://example.com:1x/", "port"},
        {"https://-example.com/", "neither"},
        {"https://example-.com/", "neither"},
        {"https://example..com/", "neither"},
        {"https://.example.com/", "neither"},
        {"https://example.com./", "neither"},
        {"https://exa_mple.com/", "neither"},
        {"https://1.2.3/", "neither"},
        {"https://1.2.3.256/", "neither"},
        {"https://01.2.3.4/", "neither"},
        {"https://[::1/", "closing"},
        {"https://[::g]/", "IPv6"},
        {"https://[1.2.3.4]/", "IPv6"},
        {"https://[fe80::1%25eth0]/", "IPv6"},
        {"https://[::1]x/", "after the host"},
        {"https://[]/", "IPv6"},
    };
    char host[BW_WEBHOOK_HOST_MAX + 1], path[BW_WEBHOOK_PATH_MAX + 1], why[128];
    char long_url[400];
    unsigned port;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (bw_webhook_url_parse(good[i].url, strlen(good[i].url), host, sizeof(host), &port, path,
                                 sizeof(path), why, sizeof(why)) != 0)
            fail_msg("refused %s: %s", good[i].url, why);
        assert_string_equal(host, good[i].host);
        assert_string_equal(path, good[i].path);
        assert_int_equal(port, good[i].port);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (bw_webhook_url_parse(bad[i].url, strlen(bad[i].url), host, sizeof(host), &port, path,
                                 sizeof(path), why, sizeof(why)) != -1)
            fail_msg("accepted %s", bad[i].url);
        if (strstr(why, bad[i].why) == NULL)
            fail_msg("%s: reason \"%s\" lacks \"%s\"", bad[i].url, why, bad[i].why);
    }
    /* explicit length: what follows len is not read */
    assert_int_equal(bw_webhook_url_parse("https://a.io/xyz", 14, host, sizeof(host), &port, path,
                                          sizeof(path), why, sizeof(why)),
                     0);
    assert_string_equal(path, "/x");
    /* a label of 64 bytes; a name of 254 bytes; a host or path that does not fit */
    memcpy(long_url, "https://", 8);
    memset(long_url + 8, 'a', 64);
    memcpy(long_url + 72, ".io/", 5);
    assert_int_equal(bw_webhook_url_parse(long_url, strlen(long_url), host, sizeof(host), &port,
                                          path, sizeof(path), why, sizeof(why)),
                     -1);
    memcpy(long_url + 8 + 63, ".io/", 5); /* a label of 63 bytes */
    assert_int_equal(bw_webhook_url_parse(long_url, strlen(long_url), host, sizeof(host), &port,
                                          path, sizeof(path), why, sizeof(why)),
                     0);
    for (size_t i = 8; i < 8 + 254; i++)
        long_url[i] = (i - 8) % 2 == 0 ? 'a' : '.';
    memcpy(long_url + 8 + 253, "/", 2); /* 253 bytes: "a.a. ... a" */
    assert_int_equal(bw_webhook_url_parse(long_url, strlen(long_url), host, sizeof(host), &port,
                                          path, sizeof(path), why, sizeof(why)),
                     0);
    assert_int_equal(strlen(host), 253);
    assert_int_equal(bw_webhook_url_parse(long_url, strlen(long_url), host, 253, &port, path,
                                          sizeof(path), why, sizeof(why)),
                     -1);
    memcpy(long_url + 8 + 253, "a/", 3); /* 254 bytes */
    assert_int_equal(bw_webhook_url_parse(long_url, strlen(long_url), host, sizeof(host), &port,
                                          path, sizeof(path), why, sizeof(why)),
                     -1);
    assert_int_equal(bw_webhook_url_parse("https://a.io/abc", 16, host, sizeof(host), &port, path,
                                          4, why, sizeof(why)),
                     -1);
    assert_int_equal(bw_webhook_url_parse("https://a.io/abc", 16, host, sizeof(host), &port, path,
                                          5, why, sizeof(why)),
                     0);
    assert_int_equal(bw_webhook_url_parse(NULL, 0, host, sizeof(host), &port, path, 5, NULL, 0),
                     -1);
}

static void test_start_errors(void **state)
{
    static const struct {
        const char *field;
        const char *why;
    } cases[] = {
        {"url", "bad URL"},         {"key", "key"},          {"keylen_short", "key"},
        {"keylen_long", "key"},     {"queue0", "queue"},     {"queue_big", "queue"},
        {"retries", "max_retries"}, {"timeout0", "timeout"}, {"timeout_big", "timeout"},
        {"backoff", "backoff"},     {"ca_missing", "CA"},    {"ca_garbage", "CA"},
    };
    char garbage[160];
    FILE *f;

    (void)state;
    snprintf(garbage, sizeof(garbage), "%s/garbage.pem", g_dir);
    f = fopen(garbage, "w");
    assert_non_null(f);
    fputs("not a certificate\n", f);
    fclose(f);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bw_webhook_options o = options("https://localhost:1/", g_cert);
        const char *c = cases[i].field;
        char err[256] = "";

        if (strcmp(c, "url") == 0)
            o.url = "http://localhost/";
        else if (strcmp(c, "key") == 0)
            o.key = NULL;
        else if (strcmp(c, "keylen_short") == 0)
            o.keylen = BW_WEBHOOK_KEY_MIN - 1;
        else if (strcmp(c, "keylen_long") == 0)
            o.keylen = BW_WEBHOOK_KEY_MAX + 1;
        else if (strcmp(c, "queue0") == 0)
            o.queue_capacity = 0;
        else if (strcmp(c, "queue_big") == 0)
            o.queue_capacity = BW_WEBHOOK_QUEUE_MAX + 1;
        else if (strcmp(c, "retries") == 0)
            o.max_retries = BW_WEBHOOK_RETRIES_MAX + 1;
        else if (strcmp(c, "timeout0") == 0)
            o.timeout_ms = 0;
        else if (strcmp(c, "timeout_big") == 0)
            o.timeout_ms = 600001;
        else if (strcmp(c, "backoff") == 0)
            o.backoff_ms = BW_WEBHOOK_BACKOFF_CAP_MS + 1;
        else if (strcmp(c, "ca_missing") == 0)
            o.ca_file = "/nonexistent/ca.pem";
        else
            o.ca_file = garbage;
        if (bw_webhook_start(&o, err, sizeof(err)) != NULL)
            fail_msg("started with a bad %s", c);
        if (strstr(err, cases[i].why) == NULL)
            fail_msg("%s: \"%s\" lacks \"%s\"", c, err, cases[i].why);
    }
    assert_null(bw_webhook_start(NULL, NULL, 0));
    unlink(garbage);
}

static void test_send_errors(void **state)
{
    bw_webhook_options o = options("https://localhost:1/", g_cert);
    bw_webhook *w = start(&o);
    char *big = calloc(1, BW_WEBHOOK_BODY_MAX + 1);

    (void)state;
    assert_non_null(big);
    assert_int_equal(bw_webhook_send(NULL, "{}", 2), -1);
    assert_int_equal(bw_webhook_send(w, NULL, 2), -1);
    assert_int_equal(bw_webhook_send(w, "{}", 0), -1);
    assert_int_equal(bw_webhook_send(w, big, BW_WEBHOOK_BODY_MAX + 1), -1);
    assert_int_equal(stats(w).queued + stats(w).sent + stats(w).failed, 0);
    free(big);
    bw_webhook_stop(w);
    bw_webhook_stop(NULL);
    bw_webhook_stats s;
    memset(&s, 0xff, sizeof(s));
    bw_webhook_stats_get(NULL, &s);
    assert_int_equal(s.sent + s.failed + s.dropped + s.retries + s.queued, 0);
}

static void test_delivered_and_signed(void **state)
{
    static const char body[] = "{\"event\":\"alert.rule_fired\",\"rule\":\"auth.* 5/60s\","
                               "\"note\":\"caf\xc3\xa9 \\u0000 \\\"q\\\"\"}";
    receiver *rv = receiver_start("127.0.0.1", g_cert, g_key, NULL, 0, 200);
    char url[128];
    bw_webhook_options o;
    bw_webhook *w;
    bw_webhook_stats s;

    (void)state;
    snprintf(url, sizeof(url), "https://localhost:%u/hooks/bulwark?src=test", rv->port);
    o = options(url, g_cert);
    w = start(&o);
    assert_int_equal(bw_webhook_send(w, body, sizeof(body) - 1), 0);
    assert_int_equal(wait_stat(w, SENT, 1), 1);
    s = stats(w);
    assert_int_equal(s.failed + s.retries + s.dropped + s.queued, 0);
    assert_int_equal(receiver_count(rv), 1);
    assert_int_equal(rv->req[0].len, sizeof(body) - 1);
    assert_memory_equal(rv->req[0].body, body, sizeof(body) - 1);
    assert_string_equal(rv->req[0].path, "/hooks/bulwark?src=test");
    assert_string_equal(rv->req[0].ctype, "application/json");
    char host[64];
    snprintf(host, sizeof(host), "localhost:%u", rv->port);
    assert_string_equal(rv->req[0].host, host);
    assert_signed(&rv->req[0]);
    /* a signature made with another key does not verify: the check above can fail */
    request forged = rv->req[0];
    forged.body[0] = '[';
    crypto_auth_hmacsha256_state st;
    unsigned char mac[32];
    char hex[65];
    crypto_auth_hmacsha256_init(&st, KEY, KEYLEN);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)forged.ts, strlen(forged.ts));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)forged.body, forged.len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
    assert_string_not_equal(forged.sig + 7, hex);

    /* several bodies in order, over an IP-address URL (the certificate names 127.0.0.1) */
    bw_webhook_stop(w);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/", rv->port);
    o = options(url, g_cert);
    w = start(&o);
    for (int i = 0; i < 5; i++) {
        char b[32];
        int n = snprintf(b, sizeof(b), "{\"n\":%d}", i);

        assert_int_equal(bw_webhook_send(w, b, (size_t)n), 0);
    }
    assert_int_equal(wait_stat(w, SENT, 5), 5);
    wait_requests(rv, 6);
    for (int i = 0; i < 5; i++) {
        char b[32];
        int n = snprintf(b, sizeof(b), "{\"n\":%d}", i);

        assert_int_equal(rv->req[1 + i].len, (size_t)n);
        assert_memory_equal(rv->req[1 + i].body, b, (size_t)n);
        assert_string_equal(rv->req[1 + i].path, "/");
        assert_signed(&rv->req[1 + i]);
    }
    bw_webhook_stop(w);
    receiver_stop(rv);
}

static void test_retries_then_delivered(void **state)
{
    const int script[] = {500, 500};
    receiver *rv = receiver_start("127.0.0.1", g_cert, g_key, script, 2, 200);
    char url[128];
    bw_webhook_options o;
    bw_webhook *w;
    bw_webhook_stats s;

    (void)state;
    snprintf(url, sizeof(url), "https://localhost:%u/h", rv->port);
    o = options(url, g_cert);
    o.max_retries = 5;
    w = start(&o);
    assert_int_equal(bw_webhook_send(w, "{\"a\":1}", 7), 0);
    assert_int_equal(wait_stat(w, SENT, 1), 1);
    usleep(100000); /* nothing more arrives: delivered once */
    s = stats(w);
    assert_int_equal(s.sent, 1);
    assert_int_equal(s.retries, 2);
    assert_int_equal(s.failed, 0);
    assert_int_equal(receiver_count(rv), 3);
    for (int i = 0; i < 3; i++) {
        assert_memory_equal(rv->req[i].body, "{\"a\":1}", 7);
        assert_signed(&rv->req[i]); /* each attempt signed afresh */
    }
    bw_webhook_stop(w);
    receiver_stop(rv);
}

static void test_always_failing(void **state)
{
    receiver *rv = receiver_start("127.0.0.1", g_cert, g_key, NULL, 0, 503);
    char url[128];
    bw_webhook_options o;
    bw_webhook *w;
    bw_webhook_stats s;
    int64_t t0;

    (void)state;
    snprintf(url, sizeof(url), "https://localhost:%u/", rv->port);
    o = options(url, g_cert);
    o.max_retries = 3;
    o.backoff_ms = 40; /* waits of 40, 80 and 160 ms */
    w = start(&o);
    t0 = mono_ms();
    assert_int_equal(bw_webhook_send(w, "{}", 2), 0);
    assert_int_equal(wait_stat(w, FAILED, 1), 1);
    assert_true(mono_ms() - t0 >= 40 + 80 + 160);
    s = stats(w);
    assert_int_equal(s.sent, 0);
    assert_int_equal(s.retries, 3);
    assert_int_equal(receiver_count(rv), 4);
    /* the next body gets its own attempts */
    assert_int_equal(bw_webhook_send(w, "{}", 2), 0);
    assert_int_equal(wait_stat(w, FAILED, 2), 2);
    assert_int_equal(receiver_count(rv), 8);
    bw_webhook_stop(w);
    receiver_stop(rv);

    /* a transport error (nothing listens) is retried the same way */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof(sa);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &slen), 0);
    close(fd);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/", ntohs(sa.sin_port));
    o = options(url, g_cert);
    o.max_retries = 2;
    w = start(&o);
    assert_int_equal(bw_webhook_send(w, "{}", 2), 0);
    assert_int_equal(wait_stat(w, FAILED, 1), 1);
    assert_int_equal(stats(w).retries, 2);
    assert_int_equal(stats(w).sent, 0);
    bw_webhook_stop(w);
}

/* A body sent to rv (whose certificate the client must refuse) is never delivered. */
static void assert_refused(receiver *rv, const char *url, const char *ca)
{
    bw_webhook_options o = options(url, ca);
    bw_webhook *w;

    o.max_retries = 1;
    w = start(&o);
    assert_int_equal(bw_webhook_send(w, "{\"secret\":1}", 12), 0);
    assert_int_equal(wait_stat(w, FAILED, 1), 1);
    assert_int_equal(stats(w).sent, 0);
    assert_int_equal(receiver_count(rv), 0);
    /* both attempts died in the handshake */
    for (int64_t until = mono_ms() + 5000; mono_ms() < until; usleep(2000)) {
        pthread_mutex_lock(&rv->lock);
        size_t h = rv->handshakes;
        pthread_mutex_unlock(&rv->lock);
        if (h >= 2)
            break;
    }
    pthread_mutex_lock(&rv->lock);
    assert_int_equal(rv->handshakes, 2);
    pthread_mutex_unlock(&rv->lock);
    assert_int_equal(receiver_count(rv), 0);
    bw_webhook_stop(w);
}

static void test_wrong_ca_refused(void **state)
{
    receiver *rv = receiver_start("127.0.0.1", g_cert, g_key, NULL, 0, 200);
    char url[128];

    (void)state;
    snprintf(url, sizeof(url), "https://localhost:%u/", rv->port);
    assert_refused(rv, url, g_other);
    receiver_stop(rv);
}

static void test_wrong_name_refused(void **state)
{
    /* the certificate names localhost, 127.0.0.1 and ::1; 127.0.0.2 is the same machine
     * under another name */
    receiver *rv = receiver_start("127.0.0.2", g_cert, g_key, NULL, 0, 200);
    char url[128];

    (void)state;
    if (rv == NULL)
        skip(); /* no 127.0.0.2 on this system */
    snprintf(url, sizeof(url), "https://127.0.0.2:%u/", rv->port);
    assert_refused(rv, url, g_cert);
    receiver_stop(rv);
}

static void test_full_queue_drops_oldest(void **state)
{
    receiver *rv = receiver_start("127.0.0.1", g_cert, g_key, NULL, 0, 200);
    char url[128];
    bw_webhook_options o;
    bw_webhook *w;
    bw_webhook_stats s;
    int64_t slowest = 0;

    (void)state;
    snprintf(url, sizeof(url), "https://localhost:%u/", rv->port);
    o = options(url, g_cert);
    o.queue_capacity = 3;
    o.timeout_ms = 10000;
    w = start(&o);
    receiver_set_stuck(rv, true);
    assert_int_equal(bw_webhook_send(w, "b0", 2), 0);
    wait_requests(rv, 1); /* the sender waits on the stuck receiver */
    for (int i = 1; i <= 10; i++) {
        char b[8];
        int n = snprintf(b, sizeof(b), "b%d", i);
        int64_t t0 = mono_ms();

        assert_int_equal(bw_webhook_send(w, b, (size_t)n), 0);
        if (mono_ms() - t0 > slowest)
            slowest = mono_ms() - t0;
    }
    assert_true(slowest < 50); /* returns at once */
    s = stats(w);
    assert_int_equal(s.dropped, 7);
    assert_int_equal(s.queued, 3);
    assert_int_equal(s.sent, 0);
    receiver_set_stuck(rv, false);
    assert_int_equal(wait_stat(w, SENT, 4), 4);
    wait_requests(rv, 4);
    /* the oldest were dropped: b0 (in flight), then the newest three */
    assert_memory_equal(rv->req[0].body, "b0", 2);
    assert_memory_equal(rv->req[1].body, "b8", 2);
    assert_memory_equal(rv->req[2].body, "b9", 2);
    assert_int_equal(rv->req[3].len, 3);
    assert_memory_equal(rv->req[3].body, "b10", 3);
    s = stats(w);
    assert_int_equal(s.dropped, 7);
    assert_int_equal(s.queued, 0);
    bw_webhook_stop(w);
    receiver_stop(rv);
}

static void test_stop_is_bounded(void **state)
{
    receiver *rv = receiver_start("127.0.0.1", g_cert, g_key, NULL, 0, 500);
    char url[128];
    bw_webhook_options o;
    bw_webhook *w;
    int64_t t0;

    (void)state;
    snprintf(url, sizeof(url), "https://localhost:%u/", rv->port);

    /* a long backoff is cut short by stop */
    o = options(url, g_cert);
    o.max_retries = 5;
    o.backoff_ms = 20000;
    o.timeout_ms = 300;
    w = start(&o);
    assert_int_equal(bw_webhook_send(w, "{}", 2), 0);
    wait_requests(rv, 1);
    usleep(50000); /* now in the 20 s wait */
    t0 = mono_ms();
    bw_webhook_stop(w);
    assert_true(mono_ms() - t0 < 2000);

    /* a stuck receiver and a queue: stop gives up after about one timeout */
    receiver_set_stuck(rv, true);
    w = start(&o);
    for (int i = 0; i < 5; i++)
        assert_int_equal(bw_webhook_send(w, "{}", 2), 0);
    usleep(50000);
    t0 = mono_ms();
    bw_webhook_stop(w);
    assert_true(mono_ms() - t0 < 2000);
    receiver_set_stuck(rv, false);
    receiver_stop(rv);
}

/* ---- Set-up ---- */

static int setup(void **state)
{
    char err[256];

    (void)state;
    /* the receiver may answer a client that has given up */
    signal(SIGPIPE, SIG_IGN);
    /* the sender logs give-ups; keep them out of the test output */
    g_logfd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (g_logfd >= 0)
        bw_log_set_fd(g_logfd);
    if (sodium_init() < 0 || wolfSSL_Init() != WOLFSSL_SUCCESS)
        return -1;
    snprintf(g_dir, sizeof(g_dir), "/tmp/bw_webhook_XXXXXX");
    if (mkdtemp(g_dir) == NULL)
        return -1;
    snprintf(g_cert, sizeof(g_cert), "%s/cert.pem", g_dir);
    snprintf(g_key, sizeof(g_key), "%s/key.pem", g_dir);
    snprintf(g_other, sizeof(g_other), "%s/other.pem", g_dir);
    snprintf(g_okey, sizeof(g_okey), "%s/other_key.pem", g_dir);
    if (bw_tls_cert_generate_dev(g_cert, g_key, 2, err, sizeof(err)) != 0 ||
        bw_tls_cert_generate_dev(g_other, g_okey, 2, err, sizeof(err)) != 0) {
        fprintf(stderr, "cannot make certificates: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(g_cert);
    unlink(g_key);
    unlink(g_other);
    unlink(g_okey);
    rmdir(g_dir);
    wc_ecc_fp_free();
    wolfSSL_Cleanup();
    if (g_logfd >= 0) {
        bw_log_set_fd(2);
        close(g_logfd);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_send_errors),
        cmocka_unit_test(test_delivered_and_signed),
        cmocka_unit_test(test_retries_then_delivered),
        cmocka_unit_test(test_always_failing),
        cmocka_unit_test(test_wrong_ca_refused),
        cmocka_unit_test(test_wrong_name_refused),
        cmocka_unit_test(test_full_queue_drops_oldest),
        cmocka_unit_test(test_stop_is_bounded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
