/* The load client for both servers: OpenSSL 3, TLS 1.3 only, one suite
 * (TLS_AES_128_GCM_SHA256) and one group (X25519) offered, so both servers
 * do the same cryptographic work.
 *
 * usage: tls_client MODE PORT SECONDS CONCURRENCY [CAFILE]
 *   handshake  each worker loops: connect, full handshake (no tickets, no
 *              session reuse), GET /healthz with Connection: close, read the
 *              whole response, close. Counts completed exchanges.
 *   keepalive  each worker opens one connection and loops GET /healthz on it,
 *              reconnecting only if the server closes. Counts responses.
 *   check      one exchange that verifies the server certificate against
 *              CAFILE for 127.0.0.1, then prints what was negotiated.
 * Output, one line: ops=N secs=S rate=R errors=E reconnects=K cpu=C proto=... cipher=...
 * (cpu: this client's own user+system seconds, so the runner can tell how
 * much of the machine something else used during the measurement).
 * The load modes skip certificate verification: it costs only the client,
 * which shares the machine's CPUs with the server under test. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

enum mode { MODE_HANDSHAKE, MODE_KEEPALIVE, MODE_CHECK };

#define MAX_WORKERS 256
#define RESP_MAX 16384

static const char expected_body[] = "{\"status\":\"ok\"}";

/* One cache line each: the counters are bumped on every operation. */
struct worker {
    _Alignas(64) pthread_t thread;
    _Atomic unsigned long ops;
    _Atomic unsigned long errors;
    _Atomic unsigned long reconnects;
};

static struct {
    enum mode mode;
    struct sockaddr_in addr;
    SSL_CTX *ctx;
    atomic_int stop;
    pthread_barrier_t start;
    pthread_mutex_t lock; /* guards negotiated and first_error */
    atomic_int have_negotiated;
    char negotiated[256];
    char first_error[256];
} g;

static struct worker workers[MAX_WORKERS];

static void note_error(const char *what)
{
    char detail[160];
    unsigned long e = ERR_get_error();

    ERR_clear_error();
    if (e != 0)
        ERR_error_string_n(e, detail, sizeof(detail));
    else
        snprintf(detail, sizeof(detail), "%s", errno != 0 ? strerror(errno) : "-");
    pthread_mutex_lock(&g.lock);
    if (g.first_error[0] == '\0')
        snprintf(g.first_error, sizeof(g.first_error), "%s: %s", what, detail);
    pthread_mutex_unlock(&g.lock);
}

static void record_negotiated(SSL *ssl)
{
    int type_nid = NID_undef, hash_nid = NID_undef;
    const char *group = SSL_group_to_name(ssl, SSL_get_negotiated_group(ssl));
    X509 *peer = SSL_get1_peer_certificate(ssl);
    char key[64] = "?";

    if (peer != NULL) {
        EVP_PKEY *pk = X509_get0_pubkey(peer);
        size_t len = 0;
        if (pk == NULL || EVP_PKEY_get_group_name(pk, key, sizeof(key), &len) != 1)
            snprintf(key, sizeof(key), "%s", pk != NULL ? EVP_PKEY_get0_type_name(pk) : "?");
        X509_free(peer);
    }
    if (SSL_get_peer_signature_type_nid(ssl, &type_nid) != 1)
        type_nid = NID_undef;
    if (SSL_get_peer_signature_nid(ssl, &hash_nid) != 1)
        hash_nid = NID_undef;
    pthread_mutex_lock(&g.lock);
    if (!atomic_exchange(&g.have_negotiated, 1))
        snprintf(g.negotiated, sizeof(g.negotiated), "proto=%s cipher=%s group=%s key=%s sig=%s+%s",
                 SSL_get_version(ssl), SSL_get_cipher_name(ssl), group != NULL ? group : "?", key,
                 OBJ_nid2sn(type_nid), OBJ_nid2sn(hash_nid));
    pthread_mutex_unlock(&g.lock);
}

/* A TLS connection to the server, handshake done; NULL on failure. */
static SSL *tls_connect(int *fdp)
{
    struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    SSL *ssl;

    if (fd < 0) {
        note_error("socket");
        return NULL;
    }
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
        connect(fd, (const struct sockaddr *)&g.addr, sizeof(g.addr)) != 0) {
        note_error("connect");
        close(fd);
        return NULL;
    }
    ssl = SSL_new(g.ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) {
        note_error("handshake");
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    *fdp = fd;
    return ssl;
}

static void tls_close(SSL *ssl, int fd)
{
    /* Send close_notify without waiting for the server's. */
    if (SSL_shutdown(ssl) < 0)
        ERR_clear_error();
    SSL_free(ssl);
    close(fd);
}

/* Case-insensitive search for header NAME in the header block; its value as a
 * number, or -1. */
static long header_number(const char *hdr, size_t len, const char *name)
{
    size_t nlen = strlen(name);

    for (size_t i = 0; i + nlen + 2 < len; i++) {
        if (hdr[i] == '\n' && strncasecmp(hdr + i + 1, name, nlen) == 0 &&
            hdr[i + 1 + nlen] == ':') {
            char *end;
            long v = strtol(hdr + i + 2 + nlen, &end, 10);
            return (end == hdr + i + 2 + nlen || v < 0) ? -1 : v;
        }
    }
    return -1;
}

/* Send one GET /healthz and read the whole response; 0 when it is a 200 with
 * the expected body. */
static int exchange(SSL *ssl, int keep_alive)
{
    static const char req_close[] =
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    static const char req_keep[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    const char *req = keep_alive ? req_keep : req_close;
    int reqlen = keep_alive ? (int)sizeof(req_keep) - 1 : (int)sizeof(req_close) - 1;
    char buf[RESP_MAX + 1];
    size_t have = 0, head = 0;
    long clen = -1;

    if (SSL_write(ssl, req, reqlen) != reqlen) {
        note_error("write");
        return -1;
    }
    for (;;) {
        int n;
        if (head != 0 && have >= head + (size_t)clen)
            break;
        if (have == RESP_MAX) {
            note_error("response too large");
            return -1;
        }
        n = SSL_read(ssl, buf + have, (int)(RESP_MAX - have));
        if (n <= 0) {
            note_error("read");
            return -1;
        }
        have += (size_t)n;
        buf[have] = '\0';
        if (head == 0) {
            char *end = strstr(buf, "\r\n\r\n");
            if (end == NULL)
                continue;
            head = (size_t)(end - buf) + 4;
            clen = header_number(buf, head, "Content-Length");
            if (clen < 0 || clen > RESP_MAX) {
                note_error("no Content-Length");
                return -1;
            }
        }
    }
    if (have != head + (size_t)clen || strncmp(buf, "HTTP/1.1 200 ", 13) != 0 ||
        (size_t)clen != sizeof(expected_body) - 1 ||
        memcmp(buf + head, expected_body, sizeof(expected_body) - 1) != 0) {
        note_error("unexpected response");
        return -1;
    }
    return 0;
}

static void *handshake_loop(void *arg)
{
    struct worker *w = arg;

    pthread_barrier_wait(&g.start);
    while (!atomic_load_explicit(&g.stop, memory_order_relaxed)) {
        int fd = -1;
        SSL *ssl = tls_connect(&fd);
        if (ssl == NULL) {
            atomic_fetch_add_explicit(&w->errors, 1, memory_order_relaxed);
            usleep(1000); /* a refused connect must not spin */
            continue;
        }
        if (exchange(ssl, 0) == 0) {
            atomic_fetch_add_explicit(&w->ops, 1, memory_order_relaxed);
            if (w == &workers[0] && !atomic_load(&g.have_negotiated))
                record_negotiated(ssl);
        } else {
            atomic_fetch_add_explicit(&w->errors, 1, memory_order_relaxed);
        }
        tls_close(ssl, fd);
    }
    return NULL;
}

static void *keepalive_loop(void *arg)
{
    struct worker *w = arg;
    int fd = -1;
    SSL *ssl = tls_connect(&fd);

    if (ssl != NULL && w == &workers[0])
        record_negotiated(ssl);
    pthread_barrier_wait(&g.start);
    while (!atomic_load_explicit(&g.stop, memory_order_relaxed)) {
        if (ssl == NULL) {
            ssl = tls_connect(&fd);
            if (ssl == NULL) {
                atomic_fetch_add_explicit(&w->errors, 1, memory_order_relaxed);
                usleep(1000);
                continue;
            }
            atomic_fetch_add_explicit(&w->reconnects, 1, memory_order_relaxed);
        }
        if (exchange(ssl, 1) == 0) {
            atomic_fetch_add_explicit(&w->ops, 1, memory_order_relaxed);
        } else {
            atomic_fetch_add_explicit(&w->errors, 1, memory_order_relaxed);
            tls_close(ssl, fd);
            ssl = NULL;
        }
    }
    if (ssl != NULL)
        tls_close(ssl, fd);
    return NULL;
}

static SSL_CTX *make_ctx(const char *cafile)
{
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519") != 1 ||
        SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* Every connection a full handshake: no tickets asked for, no cache. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (cafile != NULL) {
        X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
        if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1 ||
            X509_VERIFY_PARAM_set1_ip_asc(param, "127.0.0.1") != 1) {
            SSL_CTX_free(ctx);
            return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    return ctx;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_check(void)
{
    int fd = -1;
    SSL *ssl = tls_connect(&fd);
    int rc;

    if (ssl == NULL) {
        fprintf(stderr, "tls_client: %s\n", g.first_error);
        return 1;
    }
    rc = exchange(ssl, 0);
    record_negotiated(ssl);
    tls_close(ssl, fd);
    if (rc != 0) {
        fprintf(stderr, "tls_client: %s\n", g.first_error);
        return 1;
    }
    printf("ok verified=yes %s\n", g.negotiated);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long ops = 0, errors = 0, reconnects = 0;
    struct rusage ru;
    double cpu = 0;
    long port, seconds = 0, conc = 1;
    double t0, t1;
    char *end;

    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: %s handshake|keepalive|check PORT SECONDS CONCURRENCY [CAFILE]\n",
                argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "handshake") == 0)
        g.mode = MODE_HANDSHAKE;
    else if (strcmp(argv[1], "keepalive") == 0)
        g.mode = MODE_KEEPALIVE;
    else if (strcmp(argv[1], "check") == 0)
        g.mode = MODE_CHECK;
    else {
        fprintf(stderr, "tls_client: unknown mode %s\n", argv[1]);
        return 2;
    }
    port = strtol(argv[2], &end, 10);
    if (*end != '\0' || port < 1 || port > 65535)
        return 2;
    seconds = strtol(argv[3], &end, 10);
    if (*end != '\0' || seconds < 1 || seconds > 600)
        return 2;
    conc = strtol(argv[4], &end, 10);
    if (*end != '\0' || conc < 1 || conc > MAX_WORKERS)
        return 2;
    if (g.mode == MODE_CHECK && argc != 6) {
        fprintf(stderr, "tls_client: check needs CAFILE\n");
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    g.addr.sin_family = AF_INET;
    g.addr.sin_port = htons((unsigned short)port);
    g.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pthread_mutex_init(&g.lock, NULL);
    g.ctx = make_ctx(g.mode == MODE_CHECK ? argv[5] : NULL);
    if (g.ctx == NULL) {
        fprintf(stderr, "tls_client: cannot set up the TLS context\n");
        return 1;
    }
    if (g.mode == MODE_CHECK) {
        int rc = run_check();
        SSL_CTX_free(g.ctx);
        return rc;
    }

    if (pthread_barrier_init(&g.start, NULL, (unsigned)conc + 1) != 0)
        return 1;
    for (long i = 0; i < conc; i++) {
        if (pthread_create(&workers[i].thread, NULL,
                           g.mode == MODE_HANDSHAKE ? handshake_loop : keepalive_loop,
                           &workers[i]) != 0) {
            fprintf(stderr, "tls_client: cannot start worker %ld\n", i);
            return 1;
        }
    }
    pthread_barrier_wait(&g.start);
    t0 = now_s();
    sleep((unsigned)seconds);
    atomic_store(&g.stop, 1);
    t1 = now_s();
    /* Only what completed inside the window counts. */
    for (long i = 0; i < conc; i++)
        ops += atomic_load(&workers[i].ops);
    for (long i = 0; i < conc; i++)
        pthread_join(workers[i].thread, NULL);
    for (long i = 0; i < conc; i++) {
        errors += atomic_load(&workers[i].errors);
        reconnects += atomic_load(&workers[i].reconnects);
    }
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
              (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    printf("ops=%lu secs=%.3f rate=%.1f errors=%lu reconnects=%lu cpu=%.3f %s\n", ops, t1 - t0,
           (double)ops / (t1 - t0), errors, reconnects, cpu,
           g.negotiated[0] ? g.negotiated : "proto=none");
    if (g.first_error[0] != '\0')
        fprintf(stderr, "tls_client: first error: %s\n", g.first_error);
    SSL_CTX_free(g.ctx);
    return ops > 0 ? 0 : 1;
}
