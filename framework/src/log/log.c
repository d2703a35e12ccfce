/* JSON-lines logger; see log.h for the line format and guarantees. */
#include "bulwark/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

/* Room for the closing tail is reserved up front, so a line can always be finished. */
static const char TAIL_TRUNCATED[] = ",\"truncated\":true}\n";
static const char TAIL_OK[] = "}\n";

static _Atomic int g_level = BW_LOG_INFO;
static _Atomic int g_fd = 2;

struct line {
    char buf[LOG_LINE_MAX];
    size_t len;
    size_t limit; /* content may not go past this; the tail goes after it */
    bool truncated;
};

static const char *level_name(bw_log_level l)
{
    switch (l) {
    case BW_LOG_DEBUG:
        return "debug";
    case BW_LOG_INFO:
        return "info";
    case BW_LOG_WARN:
        return "warn";
    case BW_LOG_ERROR:
        return "error";
    }
    return NULL;
}

void bw_log_set_level(bw_log_level l)
{
    if (level_name(l) != NULL)
        atomic_store_explicit(&g_level, (int)l, memory_order_relaxed);
}

bw_log_level bw_log_get_level(void)
{
    return (bw_log_level)atomic_load_explicit(&g_level, memory_order_relaxed);
}

int bw_log_level_parse(const char *s, bw_log_level *out)
{
    static const bw_log_level all[] = {BW_LOG_DEBUG, BW_LOG_INFO, BW_LOG_WARN, BW_LOG_ERROR};
    if (s == NULL || out == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(s, level_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return -1;
}

void bw_log_set_fd(int fd)
{
    if (fd >= 0)
        atomic_store_explicit(&g_fd, fd, memory_order_relaxed);
}

static bool put(struct line *l, const char *s, size_t n)
{
    if (n > l->limit - l->len)
        return false;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return true;
}

static bool is_cont(unsigned char b)
{
    return b >= 0x80 && b <= 0xBF;
}

/* Length of the well-formed UTF-8 sequence at p (at most avail bytes), or 0 if it is not
 * one (overlong forms, surrogates and code points above U+10FFFF are not). A NUL is never
 * a continuation byte, so this stops at a terminator without reading past it. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned char b = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        if (b == 0xE0)
            lo = 0xA0;
        else if (b == 0xED)
            hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < 2 || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (i >= avail || !is_cont(p[i]))
            return 0;
    }
    return n;
}

/* Writes the JSON escape for byte b into esc and returns its length, or returns 0 if b
 * needs no escape. */
static size_t escape_byte(unsigned char b, char esc[6])
{
    static const char hex[] = "0123456789abcdef";
    static const char shortcut[][2] = {
        {'"', '"'}, {'\\', '\\'}, {'\n', 'n'}, {'\r', 'r'}, {'\t', 't'}};
    for (size_t k = 0; k < sizeof(shortcut) / sizeof(shortcut[0]); k++) {
        if (b == (unsigned char)shortcut[k][0]) {
            esc[0] = '\\';
            esc[1] = shortcut[k][1];
            return 2;
        }
    }
    if (b >= 0x20 && b != 0x7F)
        return 0;
    memcpy(esc, "\\u00", 4);
    esc[4] = hex[b >> 4];
    esc[5] = hex[b & 0xF];
    return 6;
}

/* Writes p as a JSON string. len == BW_LOG_NUL means p is NUL-terminated. Returns -1 if
 * not even "" fits (nothing written), 1 if the value had to be cut, 0 otherwise. */
static int put_string(struct line *l, const char *p, size_t len)
{
    const unsigned char *s = (const unsigned char *)p;
    bool nul = len == BW_LOG_NUL;
    if (l->limit - l->len < 2)
        return -1;
    l->buf[l->len++] = '"';
    int rc = 0;
    for (size_t i = 0; nul ? s[i] != '\0' : i < len;) {
        char esc[6];
        const char *out = esc;
        size_t adv = 1;
        size_t n = escape_byte(s[i], esc);
        if (n == 0) {
            adv = utf8_len(s + i, nul ? 4 : len - i);
            if (adv == 0) {
                out = "\\ufffd";
                n = 6;
                adv = 1;
            } else {
                out = p + i;
                n = adv;
            }
        }
        /* Keep one byte for the closing quote. */
        if (n + 1 > l->limit - l->len) {
            rc = 1;
            break;
        }
        memcpy(l->buf + l->len, out, n);
        l->len += n;
        i += adv;
    }
    l->buf[l->len++] = '"';
    return rc;
}

/* Appends ,"key":value; on failure rolls the line back to where the field started. */
static bool put_field(struct line *l, const bw_log_field *f)
{
    size_t mark = l->len;
    char num[32];
    if (!put(l, ",", 1) || put_string(l, f->key != NULL ? f->key : "", BW_LOG_NUL) != 0 ||
        !put(l, ":", 1))
        goto rollback;
    if (f->type == BW_LF_INT) {
        int n = snprintf(num, sizeof(num), "%lld", f->i);
        if (n < 0 || (size_t)n >= sizeof(num) || !put(l, num, (size_t)n))
            goto rollback;
        return true;
    }
    if (f->s == NULL) {
        if (!put(l, "null", 4))
            goto rollback;
        return true;
    }
    int rc = put_string(l, f->s, f->slen);
    if (rc < 0)
        goto rollback;
    return rc == 0;
rollback:
    l->len = mark;
    return false;
}

static void put_timestamp(struct line *l)
{
    struct timespec ts;
    struct tm tm;
    char tmp[64];
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL) {
        ts.tv_sec = 0;
        ts.tv_nsec = 0;
        memset(&tm, 0, sizeof(tm));
        tm.tm_year = 70;
        tm.tm_mday = 1;
    }
    size_t n = strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(tmp + n, sizeof(tmp) - n, ".%03ldZ", (long)(ts.tv_nsec / 1000000));
    if (n == 0 || m < 0 || (size_t)m >= sizeof(tmp) - n)
        return; /* leaves "ts":"" rather than a broken line */
    /* The prefix is far below the line limit, so this cannot fail. */
    (void)put(l, tmp, n + (size_t)m);
}

void bw_log(bw_log_level l, const char *event, const bw_log_field *fields, size_t n)
{
    const char *lname = level_name(l);
    if (lname == NULL || (int)l < atomic_load_explicit(&g_level, memory_order_relaxed))
        return;

    struct line line;
    line.len = 0;
    line.limit = LOG_LINE_MAX - (sizeof(TAIL_TRUNCATED) - 1);
    line.truncated = false;

    (void)put(&line, "{\"ts\":\"", 7);
    put_timestamp(&line);
    (void)put(&line, "\",\"level\":\"", 11);
    (void)put(&line, lname, strlen(lname));
    (void)put(&line, "\",\"event\":", 10);
    /* The prefix is short, so the event always gets at least its quotes (rc is never -1). */
    if (put_string(&line, event != NULL ? event : "", BW_LOG_NUL) != 0)
        line.truncated = true;
    for (size_t i = 0; fields != NULL && i < n && !line.truncated; i++) {
        if (!put_field(&line, &fields[i]))
            line.truncated = true;
    }
    const char *tail = line.truncated ? TAIL_TRUNCATED : TAIL_OK;
    size_t tlen = line.truncated ? sizeof(TAIL_TRUNCATED) - 1 : sizeof(TAIL_OK) - 1;
    memcpy(line.buf + line.len, tail, tlen);
    line.len += tlen;

    int fd = atomic_load_explicit(&g_fd, memory_order_relaxed);
    ssize_t w;
    do {
        w = write(fd, line.buf, line.len);
    } while (w < 0 && errno == EINTR);
    /* A failed or short write cannot be reported anywhere; retrying the rest could
     * interleave with another thread's line, so the line is dropped instead. */
}

void bw_log_msg(bw_log_level l, const char *event, const char *msg)
{
    const bw_log_field f = BW_LOG_S("msg", msg);
    bw_log(l, event, &f, 1);
}

int bw_log_budget_take(bw_log_budget *b, long long now_s, unsigned long *dropped)
{
    long long seen = atomic_load(&b->second);

    *dropped = 0;
    /* The first thread into a new second resets the count; the others see it reset. */
    if (seen != now_s && atomic_compare_exchange_strong(&b->second, &seen, now_s))
        atomic_store(&b->used, 0);
    if (atomic_fetch_add(&b->used, 1) >= b->per_second) {
        atomic_fetch_add(&b->dropped, 1);
        return 0;
    }
    *dropped = atomic_exchange(&b->dropped, 0);
    return 1;
}
