/* Logger: every line parses as JSON with the expected fields; hostile bytes in keys and
 * values never break a line; truncation keeps JSON valid; level filtering; concurrent
 * writers never interleave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bulwark/log.h"

#define LINE_MAX_BYTES 4096

static int g_memfd = -1;

static int setup(void **state)
{
    (void)state;
    g_memfd = memfd_create("bw_log_test", 0);
    if (g_memfd < 0)
        return -1;
    bw_log_set_fd(g_memfd);
    bw_log_set_level(BW_LOG_INFO);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bw_log_set_fd(2);
    bw_log_set_level(BW_LOG_INFO);
    close(g_memfd);
    g_memfd = -1;
    return 0;
}

/* Returns what was logged since the last call (NUL-terminated; *len excludes the NUL) and
 * empties the file. */
static char *take_output(size_t *len)
{
    off_t end = lseek(g_memfd, 0, SEEK_END);
    assert_true(end >= 0);
    char *buf = malloc((size_t)end + 1);
    assert_non_null(buf);
    assert_int_equal(pread(g_memfd, buf, (size_t)end, 0), end);
    buf[end] = '\0';
    assert_int_equal(ftruncate(g_memfd, 0), 0);
    assert_int_equal(lseek(g_memfd, 0, SEEK_SET), 0);
    *len = (size_t)end;
    return buf;
}

/* Checks that p[0..len) is exactly one line: at most 4096 bytes, a single LF at the end, no
 * other control byte; returns it parsed. */
static json_t *check_line(const char *p, size_t len)
{
    assert_true(len >= 2);
    assert_true(len <= LINE_MAX_BYTES);
    assert_int_equal(p[len - 1], '\n');
    for (size_t i = 0; i + 1 < len; i++) {
        if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] == 0x7F)
            fail_msg("raw control byte 0x%02x at %zu", (unsigned char)p[i], i);
    }
    json_error_t e;
    json_t *j = json_loadb(p, len - 1, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &e);
    if (j == NULL)
        fail_msg("not JSON (%s): %.*s", e.text, (int)len, p);
    assert_true(json_is_object(j));
    return j;
}

/* Takes the output, which must be exactly one line, and returns it parsed. */
static json_t *take_one(size_t *linelen)
{
    size_t len;
    char *out = take_output(&len);
    assert_non_null(memchr(out, '\n', len));
    assert_ptr_equal(memchr(out, '\n', len), out + len - 1);
    json_t *j = check_line(out, len);
    if (linelen != NULL)
        *linelen = len;
    free(out);
    return j;
}

static void assert_no_output(void)
{
    size_t len;
    char *out = take_output(&len);
    assert_int_equal(len, 0);
    free(out);
}

static const char *str_of(json_t *j, const char *key, size_t *len)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_string(v))
        fail_msg("field %s is not a string", key);
    if (len != NULL)
        *len = json_string_length(v);
    return json_string_value(v);
}

static void test_fields(void **state)
{
    (void)state;
    const char raw[] = {'a', 'b', 'c', 'd'};
    bw_log_field f[] = {
        BW_LOG_S("user", "alice"), BW_LOG_I("status", -404), BW_LOG_I("big", 9223372036854775807LL),
        BW_LOG_SN("part", raw, 2), BW_LOG_S("none", NULL),   BW_LOG_SN("none2", NULL, 5),
        BW_LOG_SN("empty", raw, 0)};
    bw_log(BW_LOG_WARN, "auth.failed", f, sizeof(f) / sizeof(f[0]));
    json_t *j = take_one(NULL);

    const char *ts = str_of(j, "ts", NULL);
    /* 2026-11-25T12:00:00.123Z */
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[4], '-');
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[19], '.');
    assert_int_equal(ts[23], 'Z');
    assert_string_equal(str_of(j, "level", NULL), "warn");
    assert_string_equal(str_of(j, "event", NULL), "auth.failed");
    assert_string_equal(str_of(j, "user", NULL), "alice");
    assert_int_equal(json_integer_value(json_object_get(j, "status")), -404);
    assert_true(json_integer_value(json_object_get(j, "big")) == 9223372036854775807LL);
    assert_string_equal(str_of(j, "part", NULL), "ab");
    assert_true(json_is_null(json_object_get(j, "none")));
    assert_true(json_is_null(json_object_get(j, "none2")));
    assert_string_equal(str_of(j, "empty", NULL), "");
    assert_null(json_object_get(j, "truncated"));
    assert_int_equal(json_object_size(j), 3 + 7);
    json_decref(j);
}

static void test_escaping(void **state)
{
    (void)state;
    static const char hostile[] = "a\r\nb\"c\\d\te\x01\x1f\x7f"
                                  "f\n{\"level\":\"error\"}";
    bw_log_field f[] = {BW_LOG_SN("v", hostile, sizeof(hostile) - 1)};
    bw_log(BW_LOG_INFO, "e", f, 1);
    size_t n;
    json_t *j = take_one(NULL);
    const char *v = str_of(j, "v", &n);
    assert_int_equal(n, sizeof(hostile) - 1);
    assert_memory_equal(v, hostile, n);
    assert_string_equal(str_of(j, "level", NULL), "info");
    json_decref(j);

    /* Embedded NUL with an explicit length survives as \u0000. */
    bw_log_field g[] = {BW_LOG_SN("v", "a\0b", 3)};
    bw_log(BW_LOG_INFO, "e", g, 1);
    j = take_one(NULL);
    v = str_of(j, "v", &n);
    assert_int_equal(n, 3);
    assert_memory_equal(v, "a\0b", 3);
    json_decref(j);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"\xff", "\xef\xbf\xbd"},
        {"a\xc0\x80z", "a\xef\xbf\xbd\xef\xbf\xbdz"},                             /* overlong NUL */
        {"\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},                 /* surrogate */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > 10FFFF */
        {"\xf5", "\xef\xbf\xbd"},
        {"\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd"}, /* cut at the end */
        {"\xe2\x82x", "\xef\xbf\xbd\xef\xbf\xbdx"},
        {"\x80\xbf", "\xef\xbf\xbd\xef\xbf\xbd"}, /* lone continuations */
        {"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"}, /* U+10FFFF is fine */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* Both the NUL-terminated and the explicit-length paths. */
        bw_log_field f[] = {BW_LOG_S("v", cases[i].in),
                            BW_LOG_SN("w", cases[i].in, strlen(cases[i].in))};
        bw_log(BW_LOG_INFO, "e", f, 2);
        json_t *j = take_one(NULL);
        assert_string_equal(str_of(j, "v", NULL), cases[i].want);
        assert_string_equal(str_of(j, "w", NULL), cases[i].want);
        json_decref(j);
    }
}

static void test_hostile_keys_and_event(void **state)
{
    (void)state;
    bw_log_field f[] = {BW_LOG_S("k\r\n\"\xff", "v"), BW_LOG_S(NULL, "nokey")};
    bw_log(BW_LOG_ERROR, "ev\nent\x00ignored", f, 2);
    json_t *j = take_one(NULL);
    assert_string_equal(str_of(j, "k\r\n\"\xef\xbf\xbd", NULL), "v");
    assert_string_equal(str_of(j, "", NULL), "nokey");
    assert_string_equal(str_of(j, "event", NULL), "ev\nent");
    assert_string_equal(str_of(j, "level", NULL), "error");
    json_decref(j);

    bw_log(BW_LOG_INFO, NULL, NULL, 3);
    j = take_one(NULL);
    assert_string_equal(str_of(j, "event", NULL), "");
    assert_int_equal(json_object_size(j), 3);
    json_decref(j);
}

static void test_msg(void **state)
{
    (void)state;
    bw_log_msg(BW_LOG_INFO, "server.start", "listening\r\n");
    json_t *j = take_one(NULL);
    assert_string_equal(str_of(j, "msg", NULL), "listening\r\n");
    json_decref(j);
    bw_log_msg(BW_LOG_INFO, "server.start", NULL);
    j = take_one(NULL);
    assert_true(json_is_null(json_object_get(j, "msg")));
    json_decref(j);
}

static bool is_truncated(json_t *j)
{
    return json_is_true(json_object_get(j, "truncated"));
}

/* Logs a value of n copies of unit (each ulen bytes) then an int field; checks the line. */
static void log_long(const char *unit, size_t ulen, size_t n, const char *want_unit,
                     size_t want_ulen)
{
    char *v = malloc(n * ulen + 1);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        memcpy(v + i * ulen, unit, ulen);
    v[n * ulen] = '\0';
    bw_log_field f[] = {BW_LOG_SN("v", v, n * ulen), BW_LOG_I("after", 1)};
    bw_log(BW_LOG_INFO, "e", f, 2);
    size_t linelen;
    json_t *j = take_one(&linelen);
    size_t got;
    const char *s = str_of(j, "v", &got);
    assert_true(is_truncated(j));
    assert_null(json_object_get(j, "after"));
    /* A prefix cut at a whole (escaped) character. */
    assert_true(got > 0 && got < n * want_ulen);
    assert_int_equal(got % want_ulen, 0);
    for (size_t i = 0; i < got; i += want_ulen)
        assert_memory_equal(s + i, want_unit, want_ulen);
    /* Cut close to the limit: less than one escaped unit plus the tail is wasted. */
    assert_true(linelen > LINE_MAX_BYTES - 32);

    /* The NUL-terminated path cuts the same way. */
    bw_log_field g[] = {BW_LOG_S("v", v)};
    bw_log(BW_LOG_INFO, "e", g, 1);
    json_t *k = take_one(NULL);
    assert_true(is_truncated(k));
    assert_int_equal(json_string_length(json_object_get(k, "v")), got);
    json_decref(k);
    json_decref(j);
    free(v);
}

static void test_truncation(void **state)
{
    (void)state;
    log_long("x", 1, 10000, "x", 1);
    log_long("\n", 1, 5000, "\n", 1);
    log_long("\x01", 1, 5000, "\x01", 1);
    log_long("\xff", 1, 3000, "\xef\xbf\xbd", 3);
    log_long("\xf0\x9f\x98\x80", 4, 2000, "\xf0\x9f\x98\x80", 4);
}

static void test_truncation_many_fields(void **state)
{
    (void)state;
    enum { N = 1000 };
    bw_log_field *f = calloc(N, sizeof(*f));
    char(*keys)[16] = calloc(N, sizeof(*keys));
    assert_non_null(f);
    assert_non_null(keys);
    for (size_t i = 0; i < N; i++) {
        int w = snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
        assert_true(w > 0 && (size_t)w < sizeof(keys[i]));
        f[i] = BW_LOG_I(keys[i], (long long)i);
    }
    bw_log(BW_LOG_INFO, "e", f, N);
    json_t *j = take_one(NULL);
    assert_true(is_truncated(j));
    size_t kept = json_object_size(j) - 4;
    assert_true(kept > 100 && kept < N);
    /* Fields are kept in order, whole: the first ones, with their values. */
    for (size_t i = 0; i < kept; i++)
        assert_int_equal(json_integer_value(json_object_get(j, keys[i])), (long long)i);
    json_decref(j);

    /* A key too long to fit drops the field instead of cutting the key. */
    char *longkey = malloc(5000);
    assert_non_null(longkey);
    memset(longkey, 'k', 4999);
    longkey[4999] = '\0';
    bw_log_field g[] = {BW_LOG_I("first", 7), BW_LOG_S(longkey, "v")};
    bw_log(BW_LOG_INFO, "e", g, 2);
    j = take_one(NULL);
    assert_true(is_truncated(j));
    assert_int_equal(json_integer_value(json_object_get(j, "first")), 7);
    assert_int_equal(json_object_size(j), 5);
    json_decref(j);

    /* A huge event name is cut, not dropped. */
    bw_log(BW_LOG_INFO, longkey, g, 1);
    j = take_one(NULL);
    assert_true(is_truncated(j));
    assert_true(json_string_length(json_object_get(j, "event")) > 3000);
    assert_null(json_object_get(j, "first"));
    json_decref(j);
    free(longkey);
    free(keys);
    free(f);
}

/* Around the limit: every length either fits whole or is marked truncated, never over. */
static void test_truncation_boundary(void **state)
{
    (void)state;
    char *v = malloc(LINE_MAX_BYTES);
    assert_non_null(v);
    memset(v, 'y', LINE_MAX_BYTES);
    size_t last_whole = 0, first_cut = 0;
    for (size_t n = 3950; n < LINE_MAX_BYTES; n++) {
        bw_log_field f[] = {BW_LOG_SN("v", v, n)};
        bw_log(BW_LOG_INFO, "e", f, 1);
        size_t linelen;
        json_t *j = take_one(&linelen);
        size_t got = json_string_length(json_object_get(j, "v"));
        if (is_truncated(j)) {
            assert_true(got < n);
            if (first_cut == 0)
                first_cut = n;
        } else {
            assert_int_equal(got, n);
            assert_int_equal(first_cut, 0); /* never whole again once cut */
            last_whole = n;
        }
        json_decref(j);
    }
    assert_true(last_whole > 0);
    assert_int_equal(first_cut, last_whole + 1);
    free(v);
}

static void test_levels(void **state)
{
    (void)state;
    bw_log_set_level(BW_LOG_WARN);
    assert_int_equal(bw_log_get_level(), BW_LOG_WARN);
    bw_log_msg(BW_LOG_DEBUG, "e", "x");
    bw_log_msg(BW_LOG_INFO, "e", "x");
    assert_no_output();
    bw_log_msg(BW_LOG_WARN, "e", "x");
    json_decref(take_one(NULL));
    bw_log_msg(BW_LOG_ERROR, "e", "x");
    json_decref(take_one(NULL));

    bw_log_set_level(BW_LOG_DEBUG);
    bw_log_msg(BW_LOG_DEBUG, "e", "x");
    json_t *j = take_one(NULL);
    assert_string_equal(str_of(j, "level", NULL), "debug");
    json_decref(j);

    /* Out-of-range levels are ignored, both as a setting and as a line's level. */
    bw_log_set_level((bw_log_level)42);
    assert_int_equal(bw_log_get_level(), BW_LOG_DEBUG);
    bw_log_msg((bw_log_level)42, "e", "x");
    bw_log_msg((bw_log_level)-1, "e", "x");
    assert_no_output();

    bw_log_set_level(BW_LOG_ERROR);
    bw_log_msg(BW_LOG_WARN, "e", "x");
    assert_no_output();
}

static void test_level_parse(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bw_log_level l;
    } ok[] = {{"debug", BW_LOG_DEBUG},
              {"info", BW_LOG_INFO},
              {"warn", BW_LOG_WARN},
              {"error", BW_LOG_ERROR}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        bw_log_level l = (bw_log_level)99;
        assert_int_equal(bw_log_level_parse(ok[i].s, &l), 0);
        assert_int_equal(l, ok[i].l);
    }
    static const char *const bad[] = {"", "INFO", "warning", "info ", "err", "debugx"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bw_log_level l = BW_LOG_WARN;
        assert_int_equal(bw_log_level_parse(bad[i], &l), -1);
        assert_int_equal(l, BW_LOG_WARN);
    }
    bw_log_level l = BW_LOG_WARN;
    assert_int_equal(bw_log_level_parse(NULL, &l), -1);
    assert_int_equal(bw_log_level_parse("info", NULL), -1);
}

static void test_set_fd(void **state)
{
    (void)state;
    int p[2];
    /* Non-blocking: a missing line must fail the test, not hang it. */
    assert_int_equal(pipe2(p, O_NONBLOCK), 0);
    bw_log_set_fd(p[1]);
    bw_log_set_fd(-1); /* ignored */
    bw_log_msg(BW_LOG_INFO, "to.pipe", "x");
    char buf[512];
    ssize_t n = read(p[0], buf, sizeof(buf));
    assert_true(n > 0);
    json_t *j = check_line(buf, (size_t)n);
    assert_string_equal(str_of(j, "event", NULL), "to.pipe");
    json_decref(j);
    bw_log_set_fd(g_memfd);
    assert_no_output();
    close(p[0]);
    close(p[1]);
}

enum { THREADS = 8, PER_THREAD = 200 };

static void *writer(void *arg)
{
    long id = (long)(intptr_t)arg;
    char big[3000];
    memset(big, 'a' + (int)id, sizeof(big));
    for (int i = 0; i < PER_THREAD; i++) {
        bw_log_field f[] = {BW_LOG_I("thread", id), BW_LOG_I("i", i),
                            BW_LOG_SN("pad", big, sizeof(big))};
        bw_log(BW_LOG_INFO, "t", f, 3);
    }
    return NULL;
}

/* Reads the pipe until EOF into a growing buffer. */
static void *reader(void *arg)
{
    int fd = *(int *)arg;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL)
            return NULL;
        if (len == cap) {
            char *n = realloc(buf, cap * 2);
            if (n == NULL) {
                free(buf);
                return NULL;
            }
            buf = n;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    char *out = realloc(buf, len + 1);
    if (out == NULL) {
        free(buf);
        return NULL;
    }
    out[len] = '\0';
    return out;
}

static void test_threads_no_interleave(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pthread_t rd, wr[THREADS];
    assert_int_equal(pthread_create(&rd, NULL, reader, &p[0]), 0);
    bw_log_set_fd(p[1]);
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&wr[i], NULL, writer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(wr[i], NULL), 0);
    bw_log_set_fd(g_memfd);
    close(p[1]);
    void *res = NULL;
    assert_int_equal(pthread_join(rd, &res), 0);
    close(p[0]);
    char *all = res;
    assert_non_null(all);

    int seen[THREADS] = {0};
    size_t lines = 0;
    for (char *line = all; *line != '\0';) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        json_t *j = check_line(line, (size_t)(nl - line + 1));
        long long t = json_integer_value(json_object_get(j, "thread"));
        assert_true(t >= 0 && t < THREADS);
        /* Lines of one thread arrive in order and whole. */
        assert_int_equal(json_integer_value(json_object_get(j, "i")), seen[t]);
        seen[t]++;
        const char *pad = str_of(j, "pad", NULL);
        assert_int_equal(strspn(pad, (char[]){(char)('a' + t), '\0'}), 3000);
        json_decref(j);
        lines++;
        line = nl + 1;
    }
    assert_int_equal(lines, THREADS * PER_THREAD);
    free(all);
}

/* A noisy source gets per_second lines a second; what it loses is reported once, with the
 * first line allowed afterwards. */
static void test_budget(void **state)
{
    bw_log_budget b = {.per_second = 3};
    unsigned long dropped = 99;

    (void)state;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(bw_log_budget_take(&b, 100, &dropped), 1);
        assert_int_equal(dropped, 0);
    }
    for (int i = 0; i < 5; i++)
        assert_int_equal(bw_log_budget_take(&b, 100, &dropped), 0);
    /* the next second: a fresh budget, and the five lost lines reported once */
    assert_int_equal(bw_log_budget_take(&b, 101, &dropped), 1);
    assert_int_equal(dropped, 5);
    assert_int_equal(bw_log_budget_take(&b, 101, &dropped), 1);
    assert_int_equal(dropped, 0);
    assert_int_equal(bw_log_budget_take(&b, 101, &dropped), 1);
    assert_int_equal(bw_log_budget_take(&b, 101, &dropped), 0);
    /* a second with nothing dropped before reports nothing */
    assert_int_equal(bw_log_budget_take(&b, 205, &dropped), 1);
    assert_int_equal(dropped, 1);
    assert_int_equal(bw_log_budget_take(&b, 206, &dropped), 1);
    assert_int_equal(dropped, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_keys_and_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_many_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_no_interleave, setup, teardown),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
