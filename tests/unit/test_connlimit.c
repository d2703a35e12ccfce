/* The per-address connection cap: counting and release per key, IPv6 /64 grouping, peers read
 * from real sockets (IPv4-mapped IPv6 counted as IPv4, sockets without an IP peer refused),
 * exempt networks, a full table failing closed and logging once, a long random churn checked
 * against a model (index deletions included), many threads admitting and releasing at once,
 * and the table attached to the real TLS bridge (SSL_set_fd admits, SSL_free releases). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bulwark/connlimit.h"
#include "bulwark/log.h"
#include "bulwark/tls.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bw_netaddr addr(const char *text)
{
    bw_netaddr a;

    if (bw_netaddr_parse(text, strlen(text), &a) != 0)
        fail_msg("test address %s does not parse", text);
    return a;
}

static bw_connlimit *table(unsigned max, size_t capacity)
{
    char err[256] = "";
    bw_connlimit *cl = bw_connlimit_new(max, capacity, NULL, 0, err, sizeof(err));

    if (cl == NULL)
        fail_msg("bw_connlimit_new: %s", err);
    return cl;
}

static bw_connlimit_stats stats(bw_connlimit *cl)
{
    bw_connlimit_stats s;

    bw_connlimit_stats_get(cl, &s);
    return s;
}

static void test_new_refusals(void **state)
{
    char err[256];
    bw_cidr net;
    (void)state;

    err[0] = '\0';
    assert_null(bw_connlimit_new(0, 16, NULL, 0, err, sizeof(err)));
    assert_non_null(strstr(err, "cap must be 1..10000"));
    assert_null(bw_connlimit_new(BW_CONNLIMIT_MAX_PER_KEY + 1, 16, NULL, 0, err, sizeof(err)));
    err[0] = '\0';
    assert_null(bw_connlimit_new(4, 0, NULL, 0, err, sizeof(err)));
    assert_non_null(strstr(err, "capacity"));
    assert_null(bw_connlimit_new(4, BW_CONNLIMIT_CAPACITY_MAX + 1, NULL, 0, err, sizeof(err)));
    err[0] = '\0';
    assert_null(bw_connlimit_new(4, 16, NULL, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "exempt"));
    /* A NULL message buffer is fine. */
    assert_null(bw_connlimit_new(0, 16, NULL, 0, NULL, 0));
    /* The bounds themselves are accepted. */
    assert_int_equal(bw_cidr_parse("10.0.0.0/8", 10, &net, NULL, 0), 0);
    bw_connlimit *cl = bw_connlimit_new(BW_CONNLIMIT_MAX_PER_KEY, 1, &net, 1, err, sizeof(err));
    assert_non_null(cl);
    assert_int_equal(stats(cl).capacity, 1);
    bw_connlimit_free(cl);
    bw_connlimit_free(NULL);
}

static void test_counting_and_release(void **state)
{
    bw_connlimit *cl = table(3, 16);
    bw_netaddr a = addr("192.0.2.1"), b = addr("192.0.2.2");
    void *ta[3], *tb, *again;
    int stray = 0;
    (void)state;

    for (size_t i = 0; i < COUNT(ta); i++) {
        ta[i] = bw_connlimit_admit(cl, &a);
        assert_non_null(ta[i]);
    }
    /* The fourth from the same address is refused; another address is not affected. */
    assert_null(bw_connlimit_admit(cl, &a));
    assert_null(bw_connlimit_admit(cl, &a));
    tb = bw_connlimit_admit(cl, &b);
    assert_non_null(tb);
    assert_int_equal(stats(cl).open, 4);
    assert_int_equal(stats(cl).keys, 2);
    assert_int_equal(stats(cl).refused, 2);

    /* A release makes room for exactly one more. */
    bw_connlimit_release(cl, ta[1]);
    again = bw_connlimit_admit(cl, &a);
    assert_non_null(again);
    assert_null(bw_connlimit_admit(cl, &a));
    assert_int_equal(stats(cl).refused, 3);

    /* Nothing that is not a token of this table changes anything. */
    bw_connlimit_release(cl, NULL);
    bw_connlimit_release(NULL, tb);
    bw_connlimit_release(cl, &stray);
    bw_connlimit_release(cl, (char *)tb + 1);
    assert_int_equal(stats(cl).open, 4);

    bw_connlimit_release(cl, ta[0]);
    bw_connlimit_release(cl, ta[2]);
    bw_connlimit_release(cl, again);
    bw_connlimit_release(cl, tb);
    assert_int_equal(stats(cl).open, 0);
    assert_int_equal(stats(cl).keys, 0);
    /* A token whose key is gone is inert (releasing twice is a caller bug, but harmless here). */
    bw_connlimit_release(cl, tb);
    assert_int_equal(stats(cl).open, 0);

    /* Bad arguments are refusals. */
    assert_null(bw_connlimit_admit(cl, NULL));
    assert_null(bw_connlimit_admit(NULL, &a));
    {
        bw_netaddr odd;
        memset(&odd, 0, sizeof(odd));
        odd.family = 5;
        assert_null(bw_connlimit_admit(cl, &odd));
    }
    assert_int_equal(stats(cl).refused, 4);
    bw_connlimit_free(cl);
}

/* IPv6 addresses share their /64's count; an IPv4 key never meets an IPv6 one, even when its
 * four bytes equal the /64's first four. */
static void test_ipv6_slash64(void **state)
{
    bw_connlimit *cl = table(2, 16);
    bw_netaddr in1 = addr("2001:db8:1:2::1"), in2 = addr("2001:db8:1:2:ffff:ffff:ffff:ffff"),
               in3 = addr("2001:db8:1:2:abcd::9"), next = addr("2001:db8:1:3::1"),
               v4 = addr("32.1.13.184"); /* 0x20 0x01 0x0d 0xb8: the bytes of 2001:db8 */
    bw_netaddr same_bytes = addr("2001:db8::1");
    void *t[5];
    (void)state;

    t[0] = bw_connlimit_admit(cl, &in1);
    t[1] = bw_connlimit_admit(cl, &in2);
    assert_non_null(t[0]);
    assert_non_null(t[1]);
    assert_null(bw_connlimit_admit(cl, &in3));
    assert_null(bw_connlimit_admit(cl, &in1));
    t[2] = bw_connlimit_admit(cl, &next);
    assert_non_null(t[2]);
    t[3] = bw_connlimit_admit(cl, &same_bytes);
    t[4] = bw_connlimit_admit(cl, &v4);
    assert_non_null(t[3]);
    assert_non_null(t[4]);
    assert_ptr_not_equal(t[3], t[4]);
    assert_int_equal(stats(cl).keys, 4);
    bw_connlimit_release(cl, t[1]);
    assert_non_null(t[1] = bw_connlimit_admit(cl, &in3));
    for (size_t i = 0; i < COUNT(t); i++)
        bw_connlimit_release(cl, t[i]);
    assert_int_equal(stats(cl).open, 0);
    assert_int_equal(stats(cl).keys, 0);
    bw_connlimit_free(cl);
}

/* Peers of trusted proxies carry many clients: never capped, and they take no entry. */
static void test_exempt(void **state)
{
    bw_cidr nets[2];
    void *t[50];
    bw_netaddr proxy = addr("10.1.2.3"), v6proxy = addr("fd00::7"), other = addr("192.0.2.9");
    char err[256] = "";
    bw_connlimit *cl;
    (void)state;

    assert_int_equal(bw_cidr_parse("10.0.0.0/8", 10, &nets[0], NULL, 0), 0);
    assert_int_equal(bw_cidr_parse("fd00::/8", 8, &nets[1], NULL, 0), 0);
    cl = bw_connlimit_new(1, 1, nets, COUNT(nets), err, sizeof(err));
    assert_non_null(cl);
    for (size_t i = 0; i < COUNT(t); i++) {
        t[i] = bw_connlimit_admit(cl, (i & 1) ? &proxy : &v6proxy);
        assert_non_null(t[i]);
    }
    assert_int_equal(stats(cl).open, COUNT(t));
    assert_int_equal(stats(cl).keys, 0);
    /* The one entry is still there for everyone else, capped as usual. */
    void *o = bw_connlimit_admit(cl, &other);
    assert_non_null(o);
    assert_null(bw_connlimit_admit(cl, &other));
    for (size_t i = 0; i < COUNT(t); i++)
        bw_connlimit_release(cl, t[i]);
    bw_connlimit_release(cl, o);
    assert_int_equal(stats(cl).open, 0);
    assert_int_equal(stats(cl).keys, 0);
    bw_connlimit_free(cl);
}

/* Counts the lines of `path` that contain `needle`. */
static int count_lines(const char *path, const char *needle)
{
    char line[4096];
    int n = 0;
    FILE *f = fopen(path, "r");

    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, needle) != NULL;
    assert_int_equal(fclose(f), 0);
    return n;
}

/* A full table refuses new keys (fails closed) and says so once; known keys still count. */
static void test_table_full(void **state)
{
    char path[] = "/tmp/bw_connlimit_log_XXXXXX";
    int fd = mkstemp(path);
    bw_connlimit *cl = table(10, 4);
    const char *const held[] = {"198.51.100.1", "198.51.100.2", "2001:db8:5::1", "198.51.100.4"};
    void *t[4], *extra;
    bw_netaddr a;
    (void)state;

    assert_true(fd >= 0);
    bw_log_set_fd(fd);
    for (size_t i = 0; i < COUNT(held); i++) {
        a = addr(held[i]);
        t[i] = bw_connlimit_admit(cl, &a);
        assert_non_null(t[i]);
    }
    a = addr("203.0.113.50");
    for (int i = 0; i < 5; i++)
        assert_null(bw_connlimit_admit(cl, &a));
    assert_int_equal(stats(cl).refused, 5);
    /* A key already in the table is not a new key. */
    a = addr("2001:db8:5::ffff");
    extra = bw_connlimit_admit(cl, &a);
    assert_non_null(extra);
    bw_log_set_fd(2);
    assert_int_equal(count_lines(path, "\"connlimit.table_full\""), 1);
    assert_int_equal(count_lines(path, "\"capacity\":4"), 1);

    /* The last connection of a key frees its entry for a newcomer. */
    bw_connlimit_release(cl, t[0]);
    a = addr("203.0.113.50");
    void *late = bw_connlimit_admit(cl, &a);
    assert_non_null(late);
    bw_connlimit_release(cl, late);
    for (size_t i = 1; i < COUNT(t); i++)
        bw_connlimit_release(cl, t[i]);
    bw_connlimit_release(cl, extra);
    assert_int_equal(stats(cl).keys, 0);
    bw_connlimit_free(cl);
    assert_int_equal(close(fd), 0);
    assert_int_equal(unlink(path), 0);
}

/* A long random run over more addresses than the table holds, checked step by step against
 * a plain model: every admit answers as the model says, so lookups stay right through
 * thousands of index deletions. */
enum { CHURN_ADDRS = 300, CHURN_CAP = 3, CHURN_CAPACITY = 64, CHURN_STEPS = 200000 };

static void test_churn_against_model(void **state)
{
    bw_connlimit *cl = table(CHURN_CAP, CHURN_CAPACITY);
    static void *held[CHURN_ADDRS][CHURN_CAP];
    static int count[CHURN_ADDRS];
    static bw_netaddr addrs[CHURN_ADDRS];
    uint64_t x = 0x9e3779b97f4a7c15u;
    int keys = 0, open = 0, refused = 0;
    (void)state;

    memset(count, 0, sizeof(count));
    for (int i = 0; i < CHURN_ADDRS; i++) {
        char text[64];
        /* Half IPv4, half IPv6 in distinct /64s. */
        if (i % 2 == 0)
            snprintf(text, sizeof(text), "198.18.%d.%d", i / 200, i % 200 + 1);
        else
            snprintf(text, sizeof(text), "2001:db8:%x::%x", i, i + 1);
        addrs[i] = addr(text);
    }
    bw_log_set_level(BW_LOG_ERROR); /* the table-full warning is expected here */
    for (int step = 0; step < CHURN_STEPS; step++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int i = (int)(x % CHURN_ADDRS);
        bool release = ((x >> 32) & 1) != 0 && count[i] > 0;
        if (release) {
            bw_connlimit_release(cl, held[i][--count[i]]);
            open--;
            if (count[i] == 0)
                keys--;
            continue;
        }
        void *t = bw_connlimit_admit(cl, &addrs[i]);
        bool want = count[i] < CHURN_CAP && (count[i] > 0 || keys < CHURN_CAPACITY);
        if (want != (t != NULL))
            fail_msg("step %d: address %d with %d open, %d keys: admit %s", step, i, count[i], keys,
                     t != NULL ? "admitted" : "refused");
        if (t == NULL) {
            refused++;
            continue;
        }
        /* Connections of one key share its entry. */
        if (count[i] > 0)
            assert_ptr_equal(t, held[i][0]);
        if (count[i] == 0)
            keys++;
        held[i][count[i]++] = t;
        open++;
    }
    bw_log_set_level(BW_LOG_INFO);
    assert_int_equal(stats(cl).keys, keys);
    assert_int_equal(stats(cl).open, open);
    assert_int_equal(stats(cl).refused, refused);
    assert_true(refused > 0);
    for (int i = 0; i < CHURN_ADDRS; i++) {
        while (count[i] > 0)
            bw_connlimit_release(cl, held[i][--count[i]]);
    }
    assert_int_equal(stats(cl).keys, 0);
    assert_int_equal(stats(cl).open, 0);
    bw_connlimit_free(cl);
}

/* Many threads at once: no key ever has more than the cap open, and everything released ends
 * at zero. Each thread counts its own admissions per address in a shared counter it raises
 * after admit and lowers before release, so the counter can only pass the cap if the table
 * admitted too many. */
enum { RACE_THREADS = 8, RACE_ADDRS = 12, RACE_CAP = 3, RACE_ROUNDS = 20000, RACE_HOLD = 4 };

struct race {
    bw_connlimit *cl;
    bw_netaddr addrs[RACE_ADDRS];
    atomic_int live[RACE_ADDRS];
    atomic_int over_cap;
    atomic_long admitted;
};

static void *racer(void *arg)
{
    struct race *r = arg;
    void *tok[RACE_HOLD] = {0};
    int which[RACE_HOLD] = {0};
    unsigned x = (unsigned)(uintptr_t)&tok | 1u;

    for (int n = 0; n < RACE_ROUNDS; n++) {
        int k = n % RACE_HOLD;
        x = x * 1103515245u + 12345u;
        if (tok[k] != NULL) {
            atomic_fetch_sub(&r->live[which[k]], 1);
            bw_connlimit_release(r->cl, tok[k]);
            tok[k] = NULL;
        }
        which[k] = (int)((x >> 8) % RACE_ADDRS);
        tok[k] = bw_connlimit_admit(r->cl, &r->addrs[which[k]]);
        if (tok[k] != NULL) {
            atomic_fetch_add(&r->admitted, 1);
            if (atomic_fetch_add(&r->live[which[k]], 1) + 1 > RACE_CAP)
                atomic_fetch_add(&r->over_cap, 1);
        }
    }
    for (int k = 0; k < RACE_HOLD; k++) {
        if (tok[k] != NULL) {
            atomic_fetch_sub(&r->live[which[k]], 1);
            bw_connlimit_release(r->cl, tok[k]);
        }
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    static struct race r;
    pthread_t t[RACE_THREADS];
    (void)state;

    /* Fewer entries than addresses, so the full-table path races too. */
    r.cl = table(RACE_CAP, RACE_ADDRS - 2);
    for (int i = 0; i < RACE_ADDRS; i++) {
        char text[32];
        snprintf(text, sizeof(text), "203.0.113.%d", i + 1);
        r.addrs[i] = addr(text);
        atomic_init(&r.live[i], 0);
    }
    atomic_init(&r.over_cap, 0);
    atomic_init(&r.admitted, 0);
    bw_log_set_level(BW_LOG_ERROR); /* the table-full warning is expected here */
    for (int i = 0; i < RACE_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, racer, &r), 0);
    for (int i = 0; i < RACE_THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    bw_log_set_level(BW_LOG_INFO);
    assert_int_equal(atomic_load(&r.over_cap), 0);
    assert_true(atomic_load(&r.admitted) > RACE_ROUNDS);
    assert_true(stats(r.cl).refused > 0);
    assert_int_equal(stats(r.cl).open, 0);
    assert_int_equal(stats(r.cl).keys, 0);
    bw_connlimit_free(r.cl);
}

/* ---- real sockets ---- */

/* A listener on host (AF_INET or AF_INET6), port chosen by the kernel. */
static int listener(int family, const char *host, struct sockaddr_storage *ss, socklen_t *len)
{
    int fd = socket(family, SOCK_STREAM, 0), on = 1;

    if (fd < 0)
        return -1;
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, host, &sin->sin_addr), 1);
        *len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        int off = 0;
        sin6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, host, &sin6->sin6_addr), 1);
        *len = sizeof(*sin6);
        /* Dual stack: IPv4 clients arrive as ::ffff:a.b.c.d. */
        assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)), 0);
    }
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)), 0);
    if (bind(fd, (struct sockaddr *)ss, *len) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)ss, len) != 0) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* Connects from source address `from` (IPv4) to the listener and returns the accepted end;
 * the client end goes to *client. */
static int connect_from(int lfd, const struct sockaddr_storage *ss, socklen_t len, const char *from,
                        int *client)
{
    struct sockaddr_in src;
    int c = socket(ss->ss_family, SOCK_STREAM, 0), a;

    assert_true(c >= 0);
    if (from != NULL) {
        memset(&src, 0, sizeof(src));
        src.sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, from, &src.sin_addr), 1);
        assert_int_equal(bind(c, (struct sockaddr *)&src, sizeof(src)), 0);
    }
    assert_int_equal(connect(c, (const struct sockaddr *)ss, len), 0);
    a = accept(lfd, NULL, NULL);
    assert_true(a >= 0);
    *client = c;
    return a;
}

static void test_admit_fd(void **state)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int lfd = listener(AF_INET, "127.0.0.1", &ss, &len);
    int c1, c2, c3, s1, s2, s3, pair[2], pfd[2];
    bw_connlimit *cl = table(1, 8);
    bw_netaddr one = addr("127.0.0.1");
    void *t1, *t2;
    (void)state;

    assert_true(lfd >= 0);
    s1 = connect_from(lfd, &ss, len, "127.0.0.1", &c1);
    s2 = connect_from(lfd, &ss, len, "127.0.0.1", &c2);
    s3 = connect_from(lfd, &ss, len, "127.0.0.2", &c3);
    t1 = bw_connlimit_admit_fd(cl, s1);
    assert_non_null(t1);
    assert_null(bw_connlimit_admit_fd(cl, s2));
    t2 = bw_connlimit_admit_fd(cl, s3);
    assert_non_null(t2);
    /* The socket's peer and the parsed address are one key. */
    assert_null(bw_connlimit_admit(cl, &one));

    /* No IP peer, no admission. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    assert_int_equal(pipe(pfd), 0);
    assert_null(bw_connlimit_admit_fd(cl, pair[0]));
    assert_null(bw_connlimit_admit_fd(cl, pfd[0]));
    assert_null(bw_connlimit_admit_fd(cl, lfd)); /* listening, not connected */
    assert_null(bw_connlimit_admit_fd(cl, -1));
    assert_null(bw_connlimit_admit_fd(NULL, s1));
    assert_int_equal(stats(cl).refused, 6);

    /* Dual stack, when this machine has IPv6: 127.0.0.1 arrives as ::ffff:127.0.0.1 and is
     * still 127.0.0.1's key. */
    {
        struct sockaddr_storage ss6;
        socklen_t len6;
        int l6 = listener(AF_INET6, "::", &ss6, &len6);
        if (l6 >= 0) {
            struct sockaddr_in v4;
            int c6 = socket(AF_INET, SOCK_STREAM, 0), s6;
            memset(&v4, 0, sizeof(v4));
            v4.sin_family = AF_INET;
            v4.sin_port = ((struct sockaddr_in6 *)&ss6)->sin6_port;
            assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr), 1);
            assert_true(c6 >= 0);
            assert_int_equal(connect(c6, (struct sockaddr *)&v4, sizeof(v4)), 0);
            s6 = accept(l6, NULL, NULL);
            assert_true(s6 >= 0);
            assert_null(bw_connlimit_admit_fd(cl, s6));
            bw_connlimit_release(cl, t1);
            t1 = bw_connlimit_admit_fd(cl, s6);
            assert_non_null(t1);
            assert_null(bw_connlimit_admit(cl, &one));
            (void)close(s6);
            (void)close(c6);
            (void)close(l6);
        } else {
            print_message("no IPv6 listener here (%s): dual-stack case skipped\n", strerror(errno));
        }
    }

    bw_connlimit_release(cl, t1);
    bw_connlimit_release(cl, t2);
    assert_int_equal(stats(cl).open, 0);
    bw_connlimit_free(cl);
    (void)close(pair[0]);
    (void)close(pair[1]);
    (void)close(pfd[0]);
    (void)close(pfd[1]);
    (void)close(s1);
    (void)close(s2);
    (void)close(s3);
    (void)close(c1);
    (void)close(c2);
    (void)close(c3);
    (void)close(lfd);
}

/* ---- attached to the TLS bridge ---- */

static struct {
    const void *(*server_method)(void);
    const void *(*client_method)(void);
    void *(*ctx_new)(const void *);
    void (*ctx_free)(void *);
    void *(*ssl_new)(void *);
    void (*ssl_free)(void *);
    int (*set_fd)(void *, int);
} ossl;

static void resolve(void *h, void **slot, const char *name)
{
    *slot = dlsym(h, name);
    if (*slot == NULL)
        fail_msg("bridge lacks %s", name);
}

static void test_attached_to_bridge(void **state)
{
    const char *dir = getenv("BW_TLS_BRIDGE_DIR");
    char err[512] = "";
    struct sockaddr_storage ss;
    socklen_t len;
    int lfd, c[3], s[3];
    void *h, *sctx, *cctx, *ssl[3], *cli;
    bw_connlimit *cl = table(2, 8), *other = table(1, 8);
    (void)state;

    /* Before the bridge is loaded there is nothing to attach to. Asking must not resolve the
     * name "libssl.so" either: with libcurl linked, OpenSSL's libssl.so.3 is in this process,
     * and glibc would go on answering that name with it, so the bridge would fail its check. */
    assert_null(bw_tls_bridge_set_admission_hook());
    assert_null(bw_tls_bridge_set_ctx_hook());
    assert_int_equal(bw_connlimit_attach(cl, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not loaded"));
    assert_int_equal(bw_connlimit_attach(NULL, err, sizeof(err)), -1);
    if (bw_tls_bridge_load(dir != NULL ? dir : BW_TLS_BRIDGE_DIR_FALLBACK, err, sizeof(err)) != 0)
        fail_msg("bridge: %s", err);
    h = dlopen("libssl.so", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    resolve(h, (void **)&ossl.server_method, "TLS_server_method");
    resolve(h, (void **)&ossl.client_method, "TLS_client_method");
    resolve(h, (void **)&ossl.ctx_new, "SSL_CTX_new");
    resolve(h, (void **)&ossl.ctx_free, "SSL_CTX_free");
    resolve(h, (void **)&ossl.ssl_new, "SSL_new");
    resolve(h, (void **)&ossl.ssl_free, "SSL_free");
    resolve(h, (void **)&ossl.set_fd, "SSL_set_fd");
    dlclose(h);

    /* A second table can take over while the first has nothing open. */
    assert_int_equal(bw_connlimit_attach(other, err, sizeof(err)), 0);
    if (bw_connlimit_attach(cl, err, sizeof(err)) != 0)
        fail_msg("attach: %s", err);
    bw_connlimit_free(other); /* not attached any more: freeing it leaves cl in place */

    lfd = listener(AF_INET, "127.0.0.1", &ss, &len);
    assert_true(lfd >= 0);
    sctx = ossl.ctx_new(ossl.server_method());
    cctx = ossl.ctx_new(ossl.client_method());
    assert_non_null(sctx);
    assert_non_null(cctx);
    for (int i = 0; i < 3; i++) {
        s[i] = connect_from(lfd, &ss, len, "127.0.0.1", &c[i]);
        ssl[i] = ossl.ssl_new(sctx);
        assert_non_null(ssl[i]);
    }
    /* Two from 127.0.0.1 pass SSL_set_fd, the third is refused there. */
    assert_int_equal(ossl.set_fd(ssl[0], s[0]), 1);
    assert_int_equal(ossl.set_fd(ssl[1], s[1]), 1);
    assert_int_equal(ossl.set_fd(ssl[2], s[2]), 0);
    assert_int_equal(stats(cl).open, 2);
    assert_int_equal(stats(cl).refused, 1);
    ossl.ssl_free(ssl[2]);
    /* Our own outgoing connections are not counted. */
    cli = ossl.ssl_new(cctx);
    assert_non_null(cli);
    assert_int_equal(ossl.set_fd(cli, c[2]), 1);
    assert_int_equal(stats(cl).open, 2);
    ossl.ssl_free(cli);

    /* While connections are open the table cannot go away under the bridge. */
    assert_int_equal(bw_connlimit_attach(other = table(1, 8), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "still open"));
    bw_connlimit_free(other);
    /* Nor can bw_connlimit_free take it: it says so and leaves the table working. */
    {
        char path[] = "/tmp/bw_connlimit_log_XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        bw_log_set_fd(fd);
        bw_connlimit_free(cl);
        bw_log_set_fd(2);
        assert_int_equal(count_lines(path, "\"connlimit.free_busy\""), 1);
        assert_int_equal(close(fd), 0);
        assert_int_equal(unlink(path), 0);
    }
    assert_int_equal(stats(cl).open, 2);
    ssl[2] = ossl.ssl_new(sctx);
    assert_int_equal(ossl.set_fd(ssl[2], s[2]), 0);
    ossl.ssl_free(ssl[2]);
    assert_int_equal(stats(cl).refused, 2);

    /* SSL_free releases: room for one more. */
    ossl.ssl_free(ssl[0]);
    assert_int_equal(stats(cl).open, 1);
    ssl[2] = ossl.ssl_new(sctx);
    assert_int_equal(ossl.set_fd(ssl[2], s[2]), 1);
    ossl.ssl_free(ssl[1]);
    ossl.ssl_free(ssl[2]);
    assert_int_equal(stats(cl).open, 0);
    assert_int_equal(stats(cl).keys, 0);

    /* Freed (and detached) with nothing open: connections pass unchecked again. */
    bw_connlimit_free(cl);
    for (int i = 0; i < 3; i++) {
        ssl[i] = ossl.ssl_new(sctx);
        assert_int_equal(ossl.set_fd(ssl[i], s[i]), 1);
    }
    for (int i = 0; i < 3; i++) {
        ossl.ssl_free(ssl[i]);
        (void)close(s[i]);
        (void)close(c[i]);
    }
    ossl.ctx_free(sctx);
    ossl.ctx_free(cctx);
    (void)close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_refusals),       cmocka_unit_test(test_counting_and_release),
        cmocka_unit_test(test_ipv6_slash64),       cmocka_unit_test(test_exempt),
        cmocka_unit_test(test_table_full),         cmocka_unit_test(test_churn_against_model),
        cmocka_unit_test(test_concurrent),         cmocka_unit_test(test_admit_fd),
        cmocka_unit_test(test_attached_to_bridge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
