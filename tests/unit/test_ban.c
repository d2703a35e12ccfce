/* Address bans: the table (add, remove, list, expiry, automatic bans never shortening manual
 * ones), the in-memory list (offence thresholds per kind and window, ban expiry, IPv6 /64
 * grouping, refresh from rows written by anyone, capacity limits of both tables, checks from
 * several threads while reloads and automatic bans run) and the `ban` command. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "bulwark/ban.h"
#include "bulwark/cli.h"
#include "bulwark/clock.h"
#include "bulwark/log.h"
#include "bulwark/migrate.h"
#include "harness.h"
#include "temp_store.h"

#define T0 1700000000LL /* an arbitrary Unix time */
#define WINDOW 300
#define DURATION 900

typedef struct fixture {
    bw_temp_store ts;
    int logfd;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || bw_temp_store_open(&f->ts, true) != 0) {
        free(f);
        return -1;
    }
    f->logfd = memfd_create("bw_ban_log", 0);
    if (f->logfd < 0) {
        bw_temp_store_close(&f->ts);
        free(f);
        return -1;
    }
    bw_log_set_fd(f->logfd);
    bw_log_set_level(BW_LOG_INFO);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    bw_log_set_fd(2);
    close(f->logfd);
    bw_temp_store_close(&f->ts);
    free(f);
    return 0;
}

/* How many log lines since the last call name event (as "event":"<event>"). */
static int take_events(fixture *f, const char *event)
{
    char needle[128], *buf, *p;
    off_t end = lseek(f->logfd, 0, SEEK_END);
    int n = 0;

    assert_true(end >= 0);
    buf = calloc(1, (size_t)end + 1);
    assert_non_null(buf);
    assert_int_equal(pread(f->logfd, buf, (size_t)end, 0), end);
    snprintf(needle, sizeof(needle), "\"event\":\"%s\"", event);
    for (p = buf; (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(buf);
    assert_int_equal(ftruncate(f->logfd, 0), 0);
    assert_int_equal(lseek(f->logfd, 0, SEEK_SET), 0);
    return n;
}

static bw_netaddr addr(const char *text)
{
    bw_netaddr a;

    assert_int_equal(bw_netaddr_parse(text, strlen(text), &a), 0);
    return a;
}

/* The IPv4 address 10.<n / 256>.<n % 256>.1: a distinct key per n < 65536. */
static bw_netaddr addr_n(unsigned n)
{
    char text[32];

    snprintf(text, sizeof(text), "10.%u.%u.1", (n >> 8) & 0xff, n & 0xff);
    return addr(text);
}

static bw_ban_policy policy(void)
{
    return (bw_ban_policy){.capacity = 64,
                           .tracked = 4096,
                           .window_s = WINDOW,
                           .duration_s = DURATION,
                           .auth_failures = 3,
                           .rate_limited = 5,
                           .validation_failures = 4,
                           .attacks = 2};
}

static bw_banlist *list_new(const bw_ban_policy *p)
{
    char err[128] = "";
    bw_banlist *l = bw_banlist_new(p, err, sizeof(err));

    if (l == NULL)
        fail_msg("bw_banlist_new: %s", err);
    return l;
}

static bool banned(bw_banlist *l, const char *text, long long now)
{
    bw_netaddr a = addr(text);

    return bw_banlist_check(l, &a, now, NULL);
}

static int offend(bw_banlist *l, sqlite3 *db, const char *text, bw_offence kind, long long now)
{
    bw_netaddr a = addr(text);

    return bw_banlist_offence(l, db, &a, kind, now);
}

static bw_ban_stats stats(bw_banlist *l)
{
    bw_ban_stats s;

    bw_banlist_stats_get(l, &s);
    return s;
}

static void exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg != NULL ? msg : "?");
}

/* ---- scope text and operator input ---- */

static void test_address_text(void **state)
{
    char out[BW_BAN_ADDRESS_SIZE], small[8];
    bw_netaddr a;
    (void)state;

    a = addr("203.0.113.7");
    assert_int_equal(bw_ban_address(&a, out, sizeof(out)), 11);
    assert_string_equal(out, "203.0.113.7");
    a = addr("::ffff:203.0.113.7"); /* mapped: the same IPv4 client */
    assert_int_equal(bw_ban_address(&a, out, sizeof(out)), 11);
    assert_string_equal(out, "203.0.113.7");
    a = addr("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
    assert_int_equal(bw_ban_address(&a, out, sizeof(out)), 17);
    assert_string_equal(out, "2001:db8:1:2::/64");
    a = addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    assert_int_equal(bw_ban_address(&a, out, sizeof(out)), 24);
    assert_string_equal(out, "ffff:ffff:ffff:ffff::/64");
    /* too small: refused, and the buffer holds "" */
    assert_int_equal(bw_ban_address(&a, small, sizeof(small)), -1);
    assert_string_equal(small, "");
    assert_int_equal(bw_ban_address(&a, out, 24), -1); /* one short of the NUL */
    assert_int_equal(bw_ban_address(&a, out, 25), 24);
    assert_int_equal(bw_ban_address(NULL, out, sizeof(out)), -1);
    assert_int_equal(bw_ban_address(&a, NULL, 0), -1);
    memset(&a, 0, sizeof(a));
    assert_int_equal(bw_ban_address(&a, out, sizeof(out)), -1);
}

static void test_parse(void **state)
{
    static const char *const good[][2] = {
        {"192.0.2.1", "192.0.2.1"},
        {"192.0.2.1/32", "192.0.2.1"},
        {"::ffff:192.0.2.1", "192.0.2.1"},
        {"2001:db8:1:2::5", "2001:db8:1:2::/64"},
        {"2001:db8:1:2::/64", "2001:db8:1:2::/64"},
        {"fe80::1%eth0", "fe80::/64"},
    };
    static const char *const bad[] = {
        "",
        "192.0.2",
        "192.0.2.1/24",
        "192.0.2.0/24",
        "2001:db8::/48",
        "2001:db8::1/128",
        "2001:db8::1/64", /* host bits set */
        "10.0.0.0/8",
        "192.0.2.1/",
        "/32",
        "192.0.2.1 ",
        "example.com",
        "192.0.2.1:80",
        "192.0.2.1/032",
    };
    char out[BW_BAN_ADDRESS_SIZE];
    bw_netaddr a;
    size_t i;
    int nfail = 0;
    (void)state;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (bw_ban_parse(good[i][0], strlen(good[i][0]), &a) != 0 ||
            bw_ban_address(&a, out, sizeof(out)) < 0 || strcmp(out, good[i][1]) != 0)
            BW_CASE_FAIL(nfail, "%s: expected %s", good[i][0], good[i][1]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&a, 0x5a, sizeof(a));
        if (bw_ban_parse(bad[i], strlen(bad[i]), &a) != -1 || a.family != 0x5a)
            BW_CASE_FAIL(nfail, "%s: accepted", bad[i]);
    }
    /* explicit length: the bytes after it are never read */
    assert_int_equal(bw_ban_parse("192.0.2.1/32xyz", 12, &a), 0);
    assert_int_equal(bw_ban_parse(NULL, 0, &a), -1);
    assert_int_equal(bw_ban_parse("192.0.2.1", 9, NULL), -1);
    BW_CASES_DONE(nfail);
}

static void test_reason(void **state)
{
    char longest[BW_BAN_REASON_MAX + 2];
    (void)state;

    memset(longest, 'r', sizeof(longest));
    longest[BW_BAN_REASON_MAX] = '\0';
    assert_true(bw_ban_reason_valid(longest));
    longest[BW_BAN_REASON_MAX] = 'r';
    longest[BW_BAN_REASON_MAX + 1] = '\0';
    assert_false(bw_ban_reason_valid(longest));
    assert_true(bw_ban_reason_valid("abuse report #42 (ticket ÄÖ)"));
    assert_true(bw_ban_reason_valid("x"));
    assert_false(bw_ban_reason_valid(""));
    assert_false(bw_ban_reason_valid(NULL));
    assert_false(bw_ban_reason_valid("two\nlines"));
    assert_false(bw_ban_reason_valid("tab\there"));
    assert_false(bw_ban_reason_valid("\x1b[31mred"));
    assert_false(bw_ban_reason_valid("del\x7f"));
    assert_false(bw_ban_reason_valid("c1 \xc2\x9b csi"));
    assert_false(bw_ban_reason_valid("bad utf-8 \xff"));
    assert_false(bw_ban_reason_valid("overlong \xc0\xaf"));
    assert_true(bw_ban_reason_valid("nbsp\xc2\xa0ok"));
}

/* ---- the table ---- */

typedef struct collected {
    int n, stop_after;
    bw_ban_info rows[8];
    char reasons[8][BW_BAN_REASON_MAX + 1];
} collected;

static int collect(const bw_ban_info *b, void *ud)
{
    collected *c = ud;

    if (c->n < 8) {
        c->rows[c->n] = *b;
        snprintf(c->reasons[c->n], sizeof(c->reasons[0]), "%s", b->reason);
        c->rows[c->n].reason = c->reasons[c->n];
    }
    c->n++;
    return c->stop_after > 0 && c->n >= c->stop_after;
}

static void test_add_list_remove(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_netaddr v4 = addr("192.0.2.1"), v6 = addr("2001:db8:1:2::1"), bad;
    collected c = {0};

    assert_int_equal(bw_ban_add(db, &v4, "spam", T0, 600, BW_BAN_MANUAL), 1);
    assert_int_equal(bw_ban_add(db, &v6, "auto: scan", T0 + 1, 60, BW_BAN_AUTO), 1);
    assert_int_equal(bw_ban_list(db, T0 + 2, collect, &c), 2);
    assert_int_equal(c.n, 2);
    /* soonest expiry first */
    assert_string_equal(c.rows[0].address, "2001:db8:1:2::/64");
    assert_string_equal(c.rows[0].reason, "auto: scan");
    assert_int_equal(c.rows[0].source, BW_BAN_AUTO);
    assert_int_equal(c.rows[0].created_at, T0 + 1);
    assert_int_equal(c.rows[0].expires_at, T0 + 61);
    assert_string_equal(c.rows[1].address, "192.0.2.1");
    assert_int_equal(c.rows[1].source, BW_BAN_MANUAL);
    assert_int_equal(c.rows[1].expires_at, T0 + 600);
    /* the key is what the limiter keys on: 4 bytes, or the /64's 8 */
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM bans WHERE key = x'c0000201'"), 1);
    assert_int_equal(
        bw_test_sql_int(db, "SELECT count(*) FROM bans WHERE key = x'20010db800010002'"), 1);

    /* only bans in force are listed; the callback can stop the walk */
    memset(&c, 0, sizeof(c));
    assert_int_equal(bw_ban_list(db, T0 + 61, collect, &c), 1);
    assert_string_equal(c.rows[0].address, "192.0.2.1");
    memset(&c, 0, sizeof(c));
    c.stop_after = 1;
    assert_int_equal(bw_ban_list(db, T0, collect, &c), 1);
    memset(&c, 0, sizeof(c));
    assert_int_equal(bw_ban_list(db, T0 + 600, collect, &c), 0);

    /* another host of the /64 names the same ban */
    v6 = addr("2001:db8:1:2:ffff::9");
    assert_int_equal(bw_ban_remove(db, &v6), 1);
    assert_int_equal(bw_ban_remove(db, &v6), 0);
    assert_int_equal(bw_ban_remove(db, &v4), 1);
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM bans"), 0);

    /* argument errors write nothing */
    memset(&bad, 0, sizeof(bad));
    assert_int_equal(bw_ban_add(NULL, &v4, "r", T0, 60, BW_BAN_MANUAL), -1);
    assert_int_equal(bw_ban_add(db, NULL, "r", T0, 60, BW_BAN_MANUAL), -1);
    assert_int_equal(bw_ban_add(db, &bad, "r", T0, 60, BW_BAN_MANUAL), -1);
    assert_int_equal(bw_ban_add(db, &v4, "", T0, 60, BW_BAN_MANUAL), -1);
    assert_int_equal(bw_ban_add(db, &v4, "a\nb", T0, 60, BW_BAN_MANUAL), -1);
    assert_int_equal(bw_ban_add(db, &v4, "r", T0, 0, BW_BAN_MANUAL), -1);
    assert_int_equal(bw_ban_add(db, &v4, "r", T0, BW_BAN_DURATION_MAX + 1, BW_BAN_MANUAL), -1);
    assert_int_equal(bw_ban_add(db, &v4, "r", T0, 60, (bw_ban_source)7), -1);
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM bans"), 0);
    assert_int_equal(bw_ban_add(db, &v4, "r", T0, BW_BAN_DURATION_MAX, BW_BAN_MANUAL), 1);
    assert_int_equal(bw_ban_remove(NULL, &v4), -1);
    assert_int_equal(bw_ban_remove(db, &bad), -1);
    assert_int_equal(bw_ban_list(NULL, T0, collect, &c), -1);
    assert_int_equal(bw_ban_list(db, T0, NULL, NULL), -1);
    /* the table refuses keys of any other length */
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO bans VALUES (x'0102', 'x', 'r', 0, 1, 'manual')",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
}

static void test_auto_never_shortens(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_netaddr a = addr("198.51.100.4");
    collected c = {0};

    assert_int_equal(bw_ban_add(db, &a, "operator", T0, 3600, BW_BAN_MANUAL), 1);
    /* a shorter automatic ban leaves the operator's alone */
    assert_int_equal(bw_ban_add(db, &a, "auto", T0 + 10, 60, BW_BAN_AUTO), 0);
    assert_int_equal(bw_ban_list(db, T0 + 10, collect, &c), 1);
    assert_string_equal(c.rows[0].reason, "operator");
    assert_int_equal(c.rows[0].expires_at, T0 + 3600);
    /* a longer one extends it */
    assert_int_equal(bw_ban_add(db, &a, "auto", T0 + 20, 7200, BW_BAN_AUTO), 1);
    assert_int_equal(bw_test_sql_int(db, "SELECT expires_at FROM bans"), T0 + 7220);
    /* the operator's word always wins, shorter or not */
    assert_int_equal(bw_ban_add(db, &a, "lifted early", T0 + 30, 60, BW_BAN_MANUAL), 1);
    assert_int_equal(bw_test_sql_int(db, "SELECT expires_at FROM bans"), T0 + 90);
    assert_int_equal(bw_test_sql_int(db, "SELECT source = 'manual' FROM bans"), 1);
}

static void test_add_prunes_expired(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_netaddr a = addr("192.0.2.1"), b = addr("192.0.2.2"), c = addr("192.0.2.3");

    assert_int_equal(bw_ban_add(db, &a, "r", T0, 10, BW_BAN_AUTO), 1);
    assert_int_equal(bw_ban_add(db, &b, "r", T0, 100, BW_BAN_AUTO), 1);
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM bans"), 2);
    assert_int_equal(bw_ban_add(db, &c, "r", T0 + 10, 10, BW_BAN_AUTO), 1);
    /* a expired at T0 + 10 and is gone; b still holds */
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM bans"), 2);
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM bans WHERE key = x'c0000201'"), 0);
}

/* ---- automatic bans ---- */

static void test_thresholds_per_kind(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p = policy();
    bw_banlist *l = list_new(&p);
    long long retry = -1;
    bw_netaddr a = addr("192.0.2.10");
    bw_ban_stats s;
    collected c = {0};

    assert_int_equal(bw_banlist_refresh(l, db, T0), 1);
    /* auth failures: 3 */
    assert_int_equal(offend(l, db, "192.0.2.10", BW_OFFENCE_AUTH_FAILURE, T0), 0);
    assert_int_equal(offend(l, db, "192.0.2.10", BW_OFFENCE_AUTH_FAILURE, T0 + 1), 0);
    assert_false(banned(l, "192.0.2.10", T0 + 1));
    assert_int_equal(offend(l, db, "192.0.2.10", BW_OFFENCE_AUTH_FAILURE, T0 + 2), 1);
    assert_true(bw_banlist_check(l, &a, T0 + 2, &retry));
    assert_int_equal(retry, DURATION);
    assert_int_equal(take_events(f, "ban.store_failed"), 0);
    /* rate limited: 5 */
    for (int i = 0; i < 4; i++)
        assert_int_equal(offend(l, db, "192.0.2.11", BW_OFFENCE_RATE_LIMITED, T0), 0);
    assert_int_equal(offend(l, db, "192.0.2.11", BW_OFFENCE_RATE_LIMITED, T0), 1);
    /* validation: 4 */
    for (int i = 0; i < 3; i++)
        assert_int_equal(offend(l, db, "192.0.2.12", BW_OFFENCE_VALIDATION, T0), 0);
    assert_int_equal(offend(l, db, "192.0.2.12", BW_OFFENCE_VALIDATION, T0), 1);
    /* kinds do not add up: one short of each threshold bans nothing */
    for (int i = 0; i < 2; i++)
        assert_int_equal(offend(l, db, "192.0.2.13", BW_OFFENCE_AUTH_FAILURE, T0), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(offend(l, db, "192.0.2.13", BW_OFFENCE_RATE_LIMITED, T0), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(offend(l, db, "192.0.2.13", BW_OFFENCE_VALIDATION, T0), 0);
    assert_false(banned(l, "192.0.2.13", T0));
    /* neighbours are untouched */
    assert_false(banned(l, "192.0.2.14", T0));
    assert_false(banned(l, "192.0.2.1", T0));

    /* each ban is a row, source auto, with a reason naming the kind */
    assert_int_equal(bw_ban_list(db, T0 + 2, collect, &c), 3);
    assert_int_equal(c.rows[0].source, BW_BAN_AUTO);
    assert_string_equal(c.rows[0].reason, "auto: 5 rate-limited requests within 300 s");
    assert_string_equal(c.rows[1].reason, "auto: 4 invalid requests within 300 s");
    assert_string_equal(c.rows[2].address, "192.0.2.10");
    assert_string_equal(c.rows[2].reason, "auto: 3 authentication failures within 300 s");
    assert_int_equal(c.rows[2].expires_at, T0 + 2 + DURATION);

    s = stats(l);
    assert_int_equal(s.offences[BW_OFFENCE_AUTH_FAILURE], 5);
    assert_int_equal(s.offences[BW_OFFENCE_RATE_LIMITED], 9);
    assert_int_equal(s.offences[BW_OFFENCE_VALIDATION], 7);
    assert_int_equal(s.auto_bans, 3);
    assert_int_equal(s.bans, 3);
    assert_int_equal(s.capacity, 64);
    assert_int_equal(s.refused, 1);
    assert_int_equal(s.full, 0);
    bw_banlist_free(l);
}

static void test_window(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p = policy();
    bw_banlist *l = list_new(&p);
    const char *a = "192.0.2.20", *b = "192.0.2.21", *c = "192.0.2.22";

    /* two in one window, the third just after it closed: a new window, no ban */
    assert_int_equal(offend(l, db, a, BW_OFFENCE_AUTH_FAILURE, T0), 0);
    assert_int_equal(offend(l, db, a, BW_OFFENCE_AUTH_FAILURE, T0 + WINDOW - 1), 0);
    assert_int_equal(offend(l, db, a, BW_OFFENCE_AUTH_FAILURE, T0 + WINDOW), 0);
    assert_false(banned(l, a, T0 + WINDOW));
    /* the new window has one; two more inside it ban */
    assert_int_equal(offend(l, db, a, BW_OFFENCE_AUTH_FAILURE, T0 + 2 * WINDOW - 2), 0);
    assert_int_equal(offend(l, db, a, BW_OFFENCE_AUTH_FAILURE, T0 + 2 * WINDOW - 1), 1);

    /* the window opens at the first offence, whatever its kind, and holds all kinds */
    assert_int_equal(offend(l, db, b, BW_OFFENCE_VALIDATION, T0), 0);
    assert_int_equal(offend(l, db, b, BW_OFFENCE_AUTH_FAILURE, T0 + WINDOW - 10), 0);
    assert_int_equal(offend(l, db, b, BW_OFFENCE_AUTH_FAILURE, T0 + WINDOW - 5), 0);
    assert_int_equal(offend(l, db, b, BW_OFFENCE_AUTH_FAILURE, T0 + WINDOW), 0);
    assert_false(banned(l, b, T0 + WINDOW));

    /* a clock stepping back stays in the current window */
    assert_int_equal(offend(l, db, c, BW_OFFENCE_AUTH_FAILURE, T0 + 100), 0);
    assert_int_equal(offend(l, db, c, BW_OFFENCE_AUTH_FAILURE, T0), 0);
    assert_int_equal(offend(l, db, c, BW_OFFENCE_AUTH_FAILURE, T0 - 1000), 1);

    /* after a ban the counters start over */
    assert_int_equal(offend(l, db, c, BW_OFFENCE_AUTH_FAILURE, T0 + 1), 0);
    assert_int_equal(offend(l, db, c, BW_OFFENCE_AUTH_FAILURE, T0 + 1), 0);
    assert_int_equal(offend(l, db, c, BW_OFFENCE_AUTH_FAILURE, T0 + 1), 1);
    bw_banlist_free(l);
}

static void test_expiry(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p = policy();
    bw_banlist *l;
    bw_netaddr a = addr("192.0.2.30");
    long long retry = -1;

    p.auth_failures = 1;
    l = list_new(&p);
    assert_int_equal(bw_banlist_offence(l, db, &a, BW_OFFENCE_AUTH_FAILURE, T0), 1);
    assert_true(bw_banlist_check(l, &a, T0 + DURATION - 1, &retry));
    assert_int_equal(retry, 1);
    assert_false(bw_banlist_check(l, &a, T0 + DURATION, &retry));
    assert_int_equal(retry, 0);
    /* a reload drops it too: the row is no longer in force */
    assert_int_equal(bw_banlist_refresh(l, db, T0 + DURATION), 1);
    assert_int_equal(stats(l).bans, 0);
    assert_false(bw_banlist_check(l, &a, T0, &retry));
    /* and it may be banned again */
    assert_int_equal(bw_banlist_offence(l, db, &a, BW_OFFENCE_AUTH_FAILURE, T0 + DURATION), 1);
    assert_true(bw_banlist_check(l, &a, T0 + DURATION, &retry));
    assert_int_equal(retry, DURATION);
    bw_banlist_free(l);
}

/* Attack signatures (attack.h) are their own kind with their own threshold. */
static void test_attack_threshold(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p = policy();
    bw_banlist *l = list_new(&p);
    collected c = {0};

    assert_int_equal(bw_banlist_refresh(l, db, T0), 1);
    assert_int_equal(offend(l, db, "192.0.2.50", BW_OFFENCE_ATTACK, T0), 0);
    assert_false(banned(l, "192.0.2.50", T0));
    assert_int_equal(offend(l, db, "192.0.2.50", BW_OFFENCE_ATTACK, T0 + 1), 1);
    assert_true(banned(l, "192.0.2.50", T0 + 1));
    assert_int_equal(bw_ban_list(db, T0 + 1, collect, &c), 1);
    assert_string_equal(c.rows[0].reason, "auto: 2 suspected attacks within 300 s");
    assert_int_equal(stats(l).offences[BW_OFFENCE_ATTACK], 2);
    bw_banlist_free(l);

    p.attacks = 0; /* off: other kinds only */
    l = list_new(&p);
    for (int i = 0; i < 100; i++)
        assert_int_equal(offend(l, db, "192.0.2.51", BW_OFFENCE_ATTACK, T0), 0);
    assert_false(banned(l, "192.0.2.51", T0));
    bw_banlist_free(l);
}

static void test_threshold_zero_disables(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p = policy();
    bw_banlist *l;

    p.validation_failures = 0;
    l = list_new(&p);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(offend(l, db, "192.0.2.40", BW_OFFENCE_VALIDATION, T0), 0);
    assert_false(banned(l, "192.0.2.40", T0));
    assert_int_equal(stats(l).offences[BW_OFFENCE_VALIDATION], 1000);
    /* the other kinds still ban */
    for (int i = 0; i < 2; i++)
        assert_int_equal(offend(l, db, "192.0.2.40", BW_OFFENCE_AUTH_FAILURE, T0), 0);
    assert_int_equal(offend(l, db, "192.0.2.40", BW_OFFENCE_AUTH_FAILURE, T0), 1);
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM bans"), 1);
    bw_banlist_free(l);
}

static void test_ipv6_groups_by_64(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p = policy();
    bw_banlist *l = list_new(&p);

    /* three hosts of one /64 add up */
    assert_int_equal(offend(l, db, "2001:db8:1:2::1", BW_OFFENCE_AUTH_FAILURE, T0), 0);
    assert_int_equal(offend(l, db, "2001:db8:1:2::2", BW_OFFENCE_AUTH_FAILURE, T0), 0);
    assert_int_equal(offend(l, db, "2001:db8:1:2:ffff:ffff:ffff:ffff", BW_OFFENCE_AUTH_FAILURE, T0),
                     1);
    /* the whole /64 is banned, and nothing around it */
    assert_true(banned(l, "2001:db8:1:2::1", T0));
    assert_true(banned(l, "2001:db8:1:2:1234:5678:9abc:def0", T0));
    assert_false(banned(l, "2001:db8:1:3::1", T0));
    assert_false(banned(l, "2001:db8:1:1:ffff:ffff:ffff:ffff", T0));
    assert_false(banned(l, "2001:db8::", T0));
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM bans WHERE address = "
                                         "'2001:db8:1:2::/64' AND key = x'20010db800010002'"),
                     1);

    /* an IPv4 client is one client whichever socket family it came through */
    assert_int_equal(offend(l, db, "192.0.2.50", BW_OFFENCE_AUTH_FAILURE, T0), 0);
    assert_int_equal(offend(l, db, "::ffff:192.0.2.50", BW_OFFENCE_AUTH_FAILURE, T0), 0);
    assert_int_equal(offend(l, db, "192.0.2.50", BW_OFFENCE_AUTH_FAILURE, T0), 1);
    assert_true(banned(l, "::ffff:192.0.2.50", T0));
    assert_false(banned(l, "192.0.2.51", T0));
    /* a /64 whose first 4 bytes equal an IPv4 key is not that IPv4 client */
    assert_false(banned(l, "c000:232::1", T0));
    bw_banlist_free(l);
}

/* ---- refresh ---- */

static void test_refresh_sees_other_writers(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p = policy();
    bw_banlist *l = list_new(&p);
    bw_netaddr v6 = addr("2001:db8:5::7");
    long long retry = 0;

    assert_int_equal(bw_banlist_refresh(l, db, T0), 1); /* the first load */
    assert_int_equal(bw_banlist_refresh(l, db, T0 + 1), 0);
    assert_false(banned(l, "192.0.2.1", T0 + 1));

    /* rows written by hand (an operator's sqlite3 shell) and by the CLI's call */
    exec_sql(db, "INSERT INTO bans VALUES (x'c0000201', '192.0.2.1', 'by hand', 1700000000, "
                 "1700003600, 'manual')");
    assert_int_equal(bw_ban_add(db, &v6, "cli", T0 + 1, 120, BW_BAN_MANUAL), 1);
    /* not before this list refreshes... */
    assert_false(banned(l, "192.0.2.1", T0 + 1));
    /* ...and not twice in one second */
    assert_int_equal(bw_banlist_refresh(l, db, T0 + 1), 0);
    assert_false(banned(l, "192.0.2.1", T0 + 1));
    assert_int_equal(bw_banlist_refresh(l, db, T0 + 2), 1);
    assert_true(banned(l, "192.0.2.1", T0 + 2));
    assert_true(bw_banlist_check(l, &v6, T0 + 2, &retry));
    assert_int_equal(retry, 119);
    /* nothing changed: nothing to do */
    assert_int_equal(bw_banlist_refresh(l, db, T0 + 3), 0);

    /* an edit, then removals, by hand and by the CLI's call */
    exec_sql(db, "UPDATE bans SET expires_at = 1700000010 WHERE key = x'c0000201'");
    assert_int_equal(bw_banlist_refresh(l, db, T0 + 4), 1);
    assert_true(banned(l, "192.0.2.1", T0 + 9));
    assert_false(banned(l, "192.0.2.1", T0 + 10));
    exec_sql(db, "DELETE FROM bans WHERE key = x'c0000201'");
    assert_int_equal(bw_ban_remove(db, &v6), 1);
    assert_true(banned(l, "2001:db8:5::1", T0 + 4));
    assert_int_equal(bw_banlist_refresh(l, db, T0 + 5), 1);
    assert_false(banned(l, "2001:db8:5::1", T0 + 5));
    assert_false(banned(l, "192.0.2.1", T0 + 5));
    assert_int_equal(stats(l).bans, 0);

    /* expired rows are not loaded */
    exec_sql(db, "INSERT INTO bans VALUES (x'c0000202', '192.0.2.2', 'old', 1600000000, "
                 "1600000001, 'manual')");
    assert_int_equal(bw_banlist_refresh(l, db, T0 + 6), 1);
    assert_int_equal(stats(l).bans, 0);
    assert_false(banned(l, "192.0.2.2", 1600000000));
    bw_banlist_free(l);
}

static void test_refresh_periodic_and_clock_steps(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p = policy();
    bw_banlist *l = list_new(&p);
    bw_netaddr a = addr("192.0.2.60");

    assert_int_equal(bw_ban_add(db, &a, "r", T0, 30, BW_BAN_MANUAL), 1);
    assert_int_equal(bw_banlist_refresh(l, db, T0), 1);
    assert_int_equal(stats(l).bans, 1);
    assert_int_equal(bw_banlist_refresh(l, db, T0 + BW_BAN_RELOAD_S - 1), 0);
    assert_int_equal(stats(l).bans, 1); /* expired, still held until the next load */
    /* with no change, a load after BW_BAN_RELOAD_S drops the expired entries */
    assert_int_equal(bw_banlist_refresh(l, db, T0 + BW_BAN_RELOAD_S), 1);
    assert_int_equal(stats(l).bans, 0);
    /* a clock stepping back reloads rather than waiting for it to catch up */
    assert_int_equal(bw_ban_add(db, &a, "r", T0 - 500, 100, BW_BAN_MANUAL), 1);
    assert_int_equal(bw_banlist_refresh(l, db, T0 - 500), 1);
    assert_true(banned(l, "192.0.2.60", T0 - 500));
    assert_int_equal(stats(l).reloads, 3);
    bw_banlist_free(l);
}

static void test_refresh_failure_keeps_copy(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p = policy();
    bw_banlist *l = list_new(&p);
    bw_netaddr a = addr("192.0.2.70");
    bw_temp_store bare;

    assert_int_equal(bw_ban_add(db, &a, "r", T0, 600, BW_BAN_MANUAL), 1);
    assert_int_equal(bw_banlist_refresh(l, db, T0), 1);
    assert_int_equal(bw_temp_store_open(&bare, false), 0); /* no tables */
    assert_int_equal(bw_banlist_refresh(l, bare.db, T0 + 1), -1);
    assert_int_equal(take_events(f, "ban.refresh_failed"), 1);
    assert_true(banned(l, "192.0.2.70", T0 + 1));
    /* a failed turn still uses up its second: a dead database is not asked on every request */
    assert_int_equal(bw_banlist_refresh(l, bare.db, T0 + 1), 0);
    assert_int_equal(take_events(f, "ban.refresh_failed"), 0);

    /* an automatic ban whose row cannot be written still holds here, and says so */
    p.auth_failures = 1;
    bw_banlist_free(l);
    l = list_new(&p);
    assert_int_equal(offend(l, bare.db, "192.0.2.71", BW_OFFENCE_AUTH_FAILURE, T0), 1);
    assert_true(banned(l, "192.0.2.71", T0));
    assert_int_equal(take_events(f, "ban.store_failed"), 1);
    bw_temp_store_close(&bare);
    bw_banlist_free(l);
}

/* ---- capacity ---- */

static void test_ban_list_full(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p = policy();
    bw_banlist *l;
    bw_netaddr a;
    unsigned i;

    p.capacity = BW_BAN_CAPACITY_MIN;
    p.auth_failures = 1;
    l = list_new(&p);
    for (i = 0; i < BW_BAN_CAPACITY_MIN; i++) {
        a = addr_n(i);
        assert_int_equal(bw_banlist_offence(l, db, &a, BW_OFFENCE_AUTH_FAILURE, T0), 1);
    }
    assert_int_equal(take_events(f, "ban.list_full"), 0);
    /* full: refused, logged once a minute, counted, and no row written */
    for (i = 100; i < 110; i++) {
        a = addr_n(i);
        assert_int_equal(bw_banlist_offence(l, db, &a, BW_OFFENCE_AUTH_FAILURE, T0 + 1), 0);
        assert_false(bw_banlist_check(l, &a, T0 + 1, NULL));
    }
    assert_int_equal(take_events(f, "ban.list_full"), 1);
    assert_int_equal(stats(l).full, 10);
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM bans"), BW_BAN_CAPACITY_MIN);
    /* every ban already held still holds */
    for (i = 0; i < BW_BAN_CAPACITY_MIN; i++) {
        a = addr_n(i);
        assert_true(bw_banlist_check(l, &a, T0 + 1, NULL));
    }
    a = addr_n(200);
    assert_int_equal(bw_banlist_offence(l, db, &a, BW_OFFENCE_AUTH_FAILURE, T0 + 59), 0);
    assert_int_equal(take_events(f, "ban.list_full"), 0);
    assert_int_equal(bw_banlist_offence(l, db, &a, BW_OFFENCE_AUTH_FAILURE, T0 + 61), 0);
    assert_int_equal(take_events(f, "ban.list_full"), 1);
    /* once they expire there is room again, without waiting for a reload */
    for (i = 300; i < 300 + BW_BAN_CAPACITY_MIN; i++) {
        a = addr_n(i);
        assert_int_equal(bw_banlist_offence(l, db, &a, BW_OFFENCE_AUTH_FAILURE, T0 + DURATION), 1);
    }
    for (i = 0; i < BW_BAN_CAPACITY_MIN; i++) {
        a = addr_n(300 + i);
        assert_true(bw_banlist_check(l, &a, T0 + DURATION, NULL));
        a = addr_n(i);
        assert_false(bw_banlist_check(l, &a, T0 + DURATION, NULL));
    }
    assert_int_equal(stats(l).bans, BW_BAN_CAPACITY_MIN);
    a = addr_n(400);
    assert_int_equal(bw_banlist_offence(l, db, &a, BW_OFFENCE_AUTH_FAILURE, T0 + DURATION), 0);
    bw_banlist_free(l);
}

static void test_refresh_truncates(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p = policy();
    bw_banlist *l;
    bw_netaddr a;
    unsigned i;

    p.capacity = BW_BAN_CAPACITY_MIN;
    l = list_new(&p);
    /* 10 manual bans (short) and 10 automatic ones (longer, and longer with i) */
    for (i = 0; i < 10; i++) {
        a = addr_n(i);
        assert_int_equal(bw_ban_add(db, &a, "m", T0, 60, BW_BAN_MANUAL), 1);
        a = addr_n(100 + i);
        assert_int_equal(bw_ban_add(db, &a, "a", T0, 1000 + i, BW_BAN_AUTO), 1);
    }
    assert_int_equal(bw_banlist_refresh(l, db, T0), 1);
    assert_int_equal(take_events(f, "ban.list_truncated"), 1);
    assert_int_equal(stats(l).truncated, 1);
    assert_int_equal(stats(l).bans, BW_BAN_CAPACITY_MIN);
    /* every manual ban, then the longest automatic ones */
    for (i = 0; i < 10; i++) {
        a = addr_n(i);
        assert_true(bw_banlist_check(l, &a, T0, NULL));
        a = addr_n(100 + i);
        assert_int_equal(bw_banlist_check(l, &a, T0, NULL), i >= 4);
    }
    bw_banlist_free(l);
}

static void test_offence_table_full(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p = policy();
    bw_banlist *l;
    bw_netaddr a;
    unsigned i;

    p.tracked = BW_BAN_TRACKED_MIN;
    p.auth_failures = 2;
    l = list_new(&p);
    /* 20 000 addresses, one offence each, into 512 counters */
    for (i = 0; i < 20000; i++) {
        a = addr_n(i);
        assert_int_equal(bw_banlist_offence(l, db, &a, BW_OFFENCE_AUTH_FAILURE, T0), 0);
    }
    assert_true(stats(l).evictions >= 20000 - BW_BAN_TRACKED_MIN);
    assert_int_equal(take_events(f, "ban.offence_table_full"), 1);
    assert_int_equal(stats(l).auto_bans, 0);
    /* an address offending now still reaches its threshold: older windows make way */
    a = addr("198.51.100.1");
    assert_int_equal(bw_banlist_offence(l, db, &a, BW_OFFENCE_AUTH_FAILURE, T0 + 1), 0);
    assert_int_equal(bw_banlist_offence(l, db, &a, BW_OFFENCE_AUTH_FAILURE, T0 + 1), 1);
    /* counters whose window is over are reused without an eviction. Few enough new
     * addresses that no shard (8 slots) gets 9 of them by chance: the keyed hash spreads
     * them at random, and 128 did overflow one shard in about 1.5% of runs. */
    {
        uint64_t before = stats(l).evictions;

        for (i = 0; i < BW_BAN_TRACKED_MIN / 16; i++) {
            a = addr_n(30000 + i);
            assert_int_equal(
                bw_banlist_offence(l, db, &a, BW_OFFENCE_AUTH_FAILURE, T0 + 2 + WINDOW), 0);
        }
        assert_int_equal(stats(l).evictions, before);
    }
    assert_int_equal(take_events(f, "ban.offence_table_full"), 0);
    bw_banlist_free(l);
}

/* ---- threads ---- */

#define CHECKERS 3
#define OFFENDERS 2
#define OFFENDER_BANS 40
#define LONG_BAN ((int)BW_BAN_DURATION_MAX)

typedef struct shared {
    bw_banlist *l;
    bw_store *store;
    atomic_bool stop;
    atomic_int offenders_done;
} shared;

typedef struct checker {
    shared *sh;
    long long checks, misses; /* misses: the permanent ban not seen */
} checker;

typedef struct offender {
    shared *sh;
    unsigned id;
    int bans, errors, lost; /* lost: a ban of its own not seen right after it was made */
} offender;

static void *checker_main(void *arg)
{
    checker *c = arg;
    bw_netaddr perm = addr("203.0.113.1"), other;
    unsigned n = 0;

    while (!atomic_load(&c->sh->stop)) {
        if (!bw_banlist_check(c->sh->l, &perm, T0, NULL))
            c->misses++;
        other = addr_n(n++ % 64);
        (void)bw_banlist_check(c->sh->l, &other, T0, NULL);
        c->checks++;
    }
    return NULL;
}

/* Bans OFFENDER_BANS addresses of its own (threshold 3), each checked again and again right
 * after it was made, while the main thread reloads as fast as it can. */
static void *offender_main(void *arg)
{
    offender *o = arg;
    sqlite3 *db = bw_store_conn(o->sh->store);
    unsigned i;

    for (i = 0; db != NULL && i < 3 * OFFENDER_BANS; i++) {
        char text[32];
        bw_netaddr a;
        int rc;

        snprintf(text, sizeof(text), "198.51.%u.%u", o->id, i / 3);
        if (bw_netaddr_parse(text, strlen(text), &a) != 0) {
            o->errors++;
            continue;
        }
        rc = bw_banlist_offence(o->sh->l, db, &a, BW_OFFENCE_AUTH_FAILURE, T0);
        if (rc < 0)
            o->errors++;
        if (rc != 1)
            continue;
        o->bans++;
        for (int k = 0; k < 200; k++) {
            if (!bw_banlist_check(o->sh->l, &a, T0, NULL)) {
                o->lost++;
                break;
            }
        }
    }
    if (db == NULL)
        o->errors++;
    atomic_fetch_add(&o->sh->offenders_done, 1);
    return NULL;
}

/* Checks from several threads while the main thread changes the table and reloads without
 * pause, and other threads ban automatically: a ban in force throughout is never missed, no
 * automatic ban is lost to a reload that read the table just before its row was written, and
 * the sanitizers (TSan included) see nothing. */
static void test_threads(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p = policy();
    pthread_t tc[CHECKERS], to[OFFENDERS];
    checker c[CHECKERS];
    offender o[OFFENDERS];
    shared sh;
    bw_netaddr perm = addr("203.0.113.1"), a;
    long long now = T0;
    int i, round, reloads = 0, churn_errors = 0;

    p.capacity = 256;
    p.duration_s = LONG_BAN; /* outlasts every `now` the reloads below use */
    sh.l = list_new(&p);
    sh.store = f->ts.store;
    atomic_init(&sh.stop, false);
    atomic_init(&sh.offenders_done, 0);
    assert_int_equal(bw_ban_add(db, &perm, "permanent", T0, LONG_BAN, BW_BAN_MANUAL), 1);
    assert_int_equal(bw_banlist_refresh(sh.l, db, T0), 1);
    for (i = 0; i < CHECKERS; i++) {
        c[i] = (checker){.sh = &sh};
        assert_int_equal(pthread_create(&tc[i], NULL, checker_main, &c[i]), 0);
    }
    for (i = 0; i < OFFENDERS; i++) {
        o[i] = (offender){.sh = &sh, .id = (unsigned)i};
        assert_int_equal(pthread_create(&to[i], NULL, offender_main, &o[i]), 0);
    }
    /* every refresh a full reload (a new `now` BW_BAN_RELOAD_S later), some with churn; no
     * assertion while the threads run */
    for (round = 1; round <= 100 || atomic_load(&sh.offenders_done) < OFFENDERS; round++) {
        now += BW_BAN_RELOAD_S;
        if (round % 8 == 0) {
            a = addr_n((unsigned)round % 64);
            churn_errors += bw_ban_add(db, &a, "churn", now, 5, BW_BAN_MANUAL) != 1;
        }
        reloads += bw_banlist_refresh(sh.l, db, now) == 1;
    }
    /* every thread is joined before anything is asserted (their data is on this stack) */
    for (i = 0; i < OFFENDERS; i++)
        assert_int_equal(pthread_join(to[i], NULL), 0);
    atomic_store(&sh.stop, true);
    for (i = 0; i < CHECKERS; i++)
        assert_int_equal(pthread_join(tc[i], NULL), 0);
    for (i = 0; i < OFFENDERS; i++) {
        assert_int_equal(o[i].errors, 0);
        assert_int_equal(o[i].bans, OFFENDER_BANS);
        assert_int_equal(o[i].lost, 0);
    }
    for (i = 0; i < CHECKERS; i++) {
        assert_int_equal(c[i].misses, 0);
        assert_true(c[i].checks > 0);
    }
    assert_int_equal(churn_errors, 0);
    assert_int_equal(reloads, round - 1);
    /* every automatic ban is in the table, and so in memory after one more reload */
    assert_int_equal(bw_banlist_refresh(sh.l, db, now + BW_BAN_RELOAD_S), 1);
    for (i = 0; i < OFFENDERS; i++) {
        for (unsigned j = 0; j < OFFENDER_BANS; j++) {
            char text[32];

            snprintf(text, sizeof(text), "198.51.%d.%u", i, j);
            assert_true(banned(sh.l, text, now));
        }
    }
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM bans WHERE source = 'auto'"),
                     OFFENDER_BANS * OFFENDERS);
    assert_int_equal(stats(sh.l).auto_bans, OFFENDER_BANS * OFFENDERS);
    bw_banlist_free(sh.l);
}

/* ---- arguments ---- */

/* One policy field out of range, chosen by i (false when i is past the last case). */
static bool spoil(bw_ban_policy *p, int i)
{
    switch (i) {
    case 0:
        p->capacity = BW_BAN_CAPACITY_MIN - 1;
        break;
    case 1:
        p->capacity = BW_BAN_CAPACITY_MAX + 1;
        break;
    case 2:
        p->tracked = BW_BAN_TRACKED_MIN - 1;
        break;
    case 3:
        p->tracked = BW_BAN_TRACKED_MAX + 1;
        break;
    case 4:
        p->window_s = 0;
        break;
    case 5:
        p->window_s = BW_BAN_WINDOW_MAX + 1;
        break;
    case 6:
        p->duration_s = 0;
        break;
    case 7:
        p->duration_s = (int)BW_BAN_DURATION_MAX + 1;
        break;
    case 8:
        p->auth_failures = -1;
        break;
    case 9:
        p->auth_failures = BW_BAN_THRESHOLD_MAX + 1;
        break;
    case 10:
        p->rate_limited = -1;
        break;
    case 11:
        p->rate_limited = BW_BAN_THRESHOLD_MAX + 1;
        break;
    case 12:
        p->validation_failures = -1;
        break;
    case 13:
        p->validation_failures = BW_BAN_THRESHOLD_MAX + 1;
        break;
    case 14:
        p->attacks = -1;
        break;
    case 15:
        p->attacks = BW_BAN_THRESHOLD_MAX + 1;
        break;
    default:
        return false;
    }
    return true;
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p;
    bw_banlist *l;
    bw_netaddr a = addr("192.0.2.1"), none;
    bw_ban_stats s;
    long long retry = 42;
    char err[128];
    int i, nfail = 0;

    for (i = 0;; i++) {
        p = policy();
        if (!spoil(&p, i))
            break;
        err[0] = '\0';
        l = bw_banlist_new(&p, err, sizeof(err));
        if (l != NULL || strncmp(err, "ban: ", 5) != 0)
            BW_CASE_FAIL(nfail, "policy case %d: accepted or no message (%s)", i, err);
        bw_banlist_free(l);
        assert_null(bw_banlist_new(&p, NULL, 0));
    }
    assert_int_equal(i, 16);
    BW_CASES_DONE(nfail);
    assert_null(bw_banlist_new(NULL, err, sizeof(err)));
    assert_string_equal(err, "ban: no policy");
    /* the bounds themselves are accepted */
    p = (bw_ban_policy){
        BW_BAN_CAPACITY_MIN, BW_BAN_TRACKED_MIN, BW_BAN_WINDOW_MAX, 1, 0, BW_BAN_THRESHOLD_MAX, 0,
        BW_BAN_THRESHOLD_MAX};
    l = list_new(&p);
    bw_banlist_free(l);
    p = (bw_ban_policy){BW_BAN_CAPACITY_MAX,
                        BW_BAN_TRACKED_MAX,
                        1,
                        (int)BW_BAN_DURATION_MAX,
                        BW_BAN_THRESHOLD_MAX,
                        0,
                        1,
                        0};
    l = list_new(&p);
    bw_banlist_free(l);

    p = policy();
    l = list_new(&p);
    memset(&none, 0, sizeof(none));
    /* make sure a ban is held, so the checks below get past the empty-list shortcut */
    assert_int_equal(bw_ban_add(db, &a, "r", T0, 60, BW_BAN_MANUAL), 1);
    assert_int_equal(bw_banlist_refresh(l, db, T0), 1);
    assert_false(bw_banlist_check(NULL, &a, T0, &retry));
    assert_int_equal(retry, 0);
    retry = 42;
    assert_false(bw_banlist_check(l, NULL, T0, &retry));
    assert_int_equal(retry, 0);
    assert_false(bw_banlist_check(l, &none, T0, NULL));
    assert_true(bw_banlist_check(l, &a, T0, NULL));

    assert_int_equal(bw_banlist_offence(NULL, db, &a, BW_OFFENCE_VALIDATION, T0), -1);
    assert_int_equal(bw_banlist_offence(l, NULL, &a, BW_OFFENCE_VALIDATION, T0), -1);
    assert_int_equal(bw_banlist_offence(l, db, NULL, BW_OFFENCE_VALIDATION, T0), -1);
    assert_int_equal(bw_banlist_offence(l, db, &none, BW_OFFENCE_VALIDATION, T0), -1);
    assert_int_equal(bw_banlist_offence(l, db, &a, (bw_offence)BW_OFFENCE_KINDS, T0), -1);
    assert_int_equal(bw_banlist_offence(l, db, &a, (bw_offence)-1, T0), -1);
    s = stats(l);
    for (i = 0; i < BW_OFFENCE_KINDS; i++)
        assert_int_equal(s.offences[i], 0);

    assert_int_equal(bw_banlist_refresh(NULL, db, T0 + 1), -1);
    assert_int_equal(bw_banlist_refresh(l, NULL, T0 + 1), -1);
    memset(&s, 0x5a, sizeof(s));
    bw_banlist_stats_get(NULL, &s);
    assert_int_equal(s.capacity, 0);
    assert_int_equal(s.refused, 0);
    bw_banlist_stats_get(l, NULL);
    bw_banlist_free(l);
    bw_banlist_free(NULL);
}

/* ---- the `ban` command ---- */

typedef struct cli_env {
    bw_app app;
    bw_migration *migs;
    size_t nmigs;
    bw_config *cfg;
    char out[4096], err[4096];
} cli_env;

static bw_config *cli_config(const fixture *f, const char *file)
{
    char json[1024], err[256] = "";
    char *no_env[] = {NULL};
    bw_config *cfg = NULL;
    int n = snprintf(json, sizeof(json), "{\"data_dir\": \"%s\", \"store\": {\"file\": \"%s\"}}",
                     f->ts.dir, file);

    assert_true(n > 0 && (size_t)n < sizeof(json));
    if (bw_config_load_buffer(json, strlen(json), "test", no_env, &cfg, err, sizeof(err)) != 0)
        fail_msg("config: %s", err);
    return cfg;
}

static void cli_open(const fixture *f, cli_env *e)
{
    char err[256] = "";

    memset(e, 0, sizeof(*e));
    if (bw_migrate_load_dir(BW_SOURCE_DIR "/migrations", &e->migs, &e->nmigs, err, sizeof(err)) !=
        0)
        fail_msg("migrations: %s", err);
    e->app = (bw_app){.name = "notes", .migrations = e->migs, .nmigrations = e->nmigs};
    e->cfg = cli_config(f, "app.db");
}

static void cli_close(cli_env *e)
{
    bw_config_free(e->cfg);
    bw_migrate_free_list(e->migs, e->nmigs);
}

/* Reads what fd holds into buf (NUL-terminated) and closes it. */
static void drain(int fd, char *buf, size_t cap)
{
    ssize_t n = pread(fd, buf, cap - 1, 0);

    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
}

/* Runs `ban args...` (args is NULL-terminated) with its standard output and error captured. */
static int run(cli_env *e, const char *const *args)
{
    bw_cli_opts o;
    int out = memfd_create("bw_ban_out", 0), err = memfd_create("bw_ban_err", 0);
    int saved_out, saved_err, rc;

    assert_true(out >= 0 && err >= 0);
    memset(&o, 0, sizeof(o));
    for (; *args != NULL; args++) {
        assert_true(o.nargs < BW_CLI_MAX_ARGS);
        o.args[o.nargs++] = *args;
    }
    fflush(stdout);
    fflush(stderr);
    saved_out = dup(1);
    saved_err = dup(2);
    assert_true(saved_out >= 0 && saved_err >= 0);
    assert_true(dup2(out, 1) == 1 && dup2(err, 2) == 2);
    rc = bw_cli_ban(&e->app, e->cfg, &o);
    fflush(stdout);
    fflush(stderr);
    assert_true(dup2(saved_out, 1) == 1 && dup2(saved_err, 2) == 2);
    close(saved_out);
    close(saved_err);
    drain(out, e->out, sizeof(e->out));
    drain(err, e->err, sizeof(e->err));
    return rc;
}

#define RUN(e, ...) run((e), (const char *const[]){__VA_ARGS__, NULL})

static void test_cli(void **state)
{
    fixture *f = *state;
    sqlite3 *db = f->ts.db;
    bw_ban_policy p = policy();
    bw_banlist *l = list_new(&p);
    long long now = bw_clock_unix();
    char *second;
    cli_env e;

    cli_open(f, &e);
    assert_int_equal(RUN(&e, "list"), 0);
    assert_string_equal(e.out, "");

    assert_int_equal(RUN(&e, "add", "203.0.113.7"), 0);
    assert_true(strncmp(e.out, "banned 203.0.113.7 until 20", 27) == 0);
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM bans WHERE key = x'cb007107' AND "
                                         "source = 'manual' AND reason = 'manual' AND "
                                         "expires_at - created_at = 86400"),
                     1);
    assert_int_equal(RUN(&e, "add", "2001:db8:1:2::99", "30", "abuse report 42"), 0);
    assert_string_equal(e.err, "");
    assert_int_equal(bw_test_sql_int(db, "SELECT count(*) FROM bans WHERE "
                                         "key = x'20010db800010002' AND "
                                         "address = '2001:db8:1:2::/64' AND "
                                         "reason = 'abuse report 42' AND "
                                         "expires_at - created_at = 1800"),
                     1);
    assert_int_equal(take_events(f, "ban.added"), 2);

    /* soonest expiry first: address, source, created, expires, reason */
    assert_int_equal(RUN(&e, "list"), 0);
    assert_true(strncmp(e.out, "2001:db8:1:2::/64\tmanual\t20", 27) == 0);
    second = strchr(e.out, '\n');
    assert_non_null(second);
    assert_true(second - e.out > 30 && strncmp(second - 16, "\tabuse report 42\n", 17) == 0);
    assert_true(strncmp(second + 1, "203.0.113.7\tmanual\t20", 21) == 0);
    assert_non_null(strstr(second + 1, "Z\tmanual\n"));
    assert_null(strchr(strchr(second + 1, '\n') + 1, '\n'));

    /* a row edited by hand cannot put escape sequences on the operator's terminal */
    exec_sql(db, "INSERT INTO bans VALUES (x'c6336401', '198.51.100.1' || char(27) || '[2J', "
                 "'evil' || char(27) || ']0;title' || char(7), 1700000000, 32000000000, 'auto')");
    assert_int_equal(RUN(&e, "list"), 0);
    assert_null(strchr(e.out, 0x1b));
    assert_non_null(strstr(e.out, "\n?\tauto\t2023-11-14T22:13:20Z\t2984-01-15T08:53:20Z"));
    assert_non_null(strstr(e.out, "Z\t?\n"));
    exec_sql(db, "DELETE FROM bans WHERE key = x'c6336401'");

    /* a running server's list sees both at its next refresh */
    assert_int_equal(bw_banlist_refresh(l, db, now), 1);
    assert_true(banned(l, "203.0.113.7", now));
    assert_true(banned(l, "2001:db8:1:2:abcd::1", now));

    assert_int_equal(RUN(&e, "remove", "2001:db8:1:2::/64"), 0);
    assert_string_equal(e.out, "removed the ban on 2001:db8:1:2::/64\n");
    assert_int_equal(RUN(&e, "remove", "2001:db8:1:2::1"), 1);
    assert_string_equal(e.err, "ban remove: 2001:db8:1:2::/64 is not banned\n");
    assert_int_equal(take_events(f, "ban.removed"), 1);
    assert_int_equal(bw_banlist_refresh(l, db, now + 1), 1);
    assert_false(banned(l, "2001:db8:1:2::99", now + 1));
    assert_true(banned(l, "203.0.113.7", now + 1));

    /* the longest ban is accepted, one minute more is not */
    assert_int_equal(RUN(&e, "add", "192.0.2.9", "5270400"), 0);
    assert_int_equal(bw_test_sql_int(db, "SELECT expires_at - created_at FROM bans "
                                         "WHERE key = x'c0000209'"),
                     BW_BAN_DURATION_MAX);
    assert_int_equal(RUN(&e, "remove", "192.0.2.9/32"), 0);
    bw_banlist_free(l);
    cli_close(&e);
}

static void test_cli_usage(void **state)
{
    fixture *f = *state;
    static const char *const bad[][5] = {
        {NULL},
        {"add", NULL},
        {"bogus", NULL},
        {"list", "extra", NULL},
        {"remove", NULL},
        {"remove", "192.0.2.1", "extra", NULL},
        {"add", "300.1.1.1", NULL},
        {"add", "10.0.0.0/8", NULL},
        {"add", "2001:db8::/48", NULL},
        {"add", "192.0.2.1", "0", NULL},
        {"add", "192.0.2.1", "abc", NULL},
        {"add", "192.0.2.1", "-5", NULL},
        {"add", "192.0.2.1", "+5", NULL},
        {"add", "192.0.2.1", " 5", NULL},
        {"add", "192.0.2.1", "5x", NULL},
        {"add", "192.0.2.1", "", NULL},
        {"add", "192.0.2.1", "5270401", NULL},
        {"add", "192.0.2.1", "99999999999999999999999", NULL},
        {"add", "192.0.2.1", "5", "\x1b[2J", NULL},
        {"add", "192.0.2.1", "5", "", NULL},
        {"remove", "nope", NULL},
    };
    cli_env e;
    size_t i;
    int nfail = 0;

    cli_open(f, &e);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *const *a = bad[i];
        int rc = run(&e, a);

        if (rc != 2 || e.err[0] == '\0' || e.out[0] != '\0')
            BW_CASE_FAIL(nfail, "case %zu (%s %s): rc %d, err \"%s\"", i, a[0] ? a[0] : "",
                         a[0] && a[1] ? a[1] : "", rc, e.err);
    }
    BW_CASES_DONE(nfail);
    assert_int_equal(bw_test_sql_int(f->ts.db, "SELECT count(*) FROM bans"), 0);
    assert_int_equal(take_events(f, "ban.added"), 0);
    cli_close(&e);

    /* a database that is not migrated is refused, and left alone */
    cli_open(f, &e);
    bw_config_free(e.cfg);
    e.cfg = cli_config(f, "fresh.db");
    assert_int_equal(RUN(&e, "list"), 1);
    assert_non_null(strstr(e.err, "migration(s) pending; run `notes migrate` first"));
    cli_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_text),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_reason),
        cmocka_unit_test_setup_teardown(test_add_list_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_never_shortens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_prunes_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thresholds_per_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attack_threshold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threshold_zero_disables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_groups_by_64, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_sees_other_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_periodic_and_clock_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_failure_keeps_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ban_list_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_truncates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offence_table_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_usage, setup, teardown),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
