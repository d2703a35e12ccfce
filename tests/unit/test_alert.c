/* Alert rules: the rule grammar (every valid form and every malformed class), formatting
 * back, matching, and the counting semantics: firing exactly at COUNT, the sliding window and
 * its boundary, the quiet period, prefix rules, alert.* never counted, many threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>

#include "bulwark/alert.h"

#define T0 1700000000000LL /* an arbitrary start time, in ms */

static bw_alert_rule rule(const char *text)
{
    bw_alert_rule r;
    char why[128] = "";

    if (bw_alert_rule_parse(text, strlen(text), &r, why, sizeof(why)) != 0)
        fail_msg("rule \"%s\" refused: %s", text, why);
    return r;
}

static bw_alerts *alerts(const char *const *texts, size_t n)
{
    bw_alert_rule rules[8];
    bw_alerts *a;

    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        rules[i] = rule(texts[i]);
    a = bw_alerts_new(rules, n);
    assert_non_null(a);
    assert_int_equal(bw_alerts_count(a), n);
    return a;
}

static size_t observe(bw_alerts *a, const char *event, int64_t now)
{
    bw_alert_fired f[8];

    return bw_alerts_observe(a, event, now, f, 8);
}

static void test_parse_valid(void **state)
{
    static const struct {
        const char *text;
        const char *event;
        int prefix;
        uint32_t count, window_s, window_n;
        bw_alert_unit unit;
    } cases[] = {
        {"auth.login.failure 50/60s", "auth.login.failure", 0, 50, 60, 60, BW_ALERT_UNIT_S},
        {"ban.* 10/5min", "ban.", 1, 10, 300, 5, BW_ALERT_UNIT_MIN},
        {"x 1/1s", "x", 0, 1, 1, 1, BW_ALERT_UNIT_S},
        {"x 10000/86400s", "x", 0, 10000, 86400, 86400, BW_ALERT_UNIT_S},
        {"x 7/1440min", "x", 0, 7, 86400, 1440, BW_ALERT_UNIT_MIN},
        {"x 7/24h", "x", 0, 7, 86400, 24, BW_ALERT_UNIT_H},
        {"a_b.c9.0 3/2h", "a_b.c9.0", 0, 3, 7200, 2, BW_ALERT_UNIT_H},
        {"auth.session.* 2/90s", "auth.session.", 1, 2, 90, 90, BW_ALERT_UNIT_S},
        {"alert 1/1s", "alert", 0, 1, 1, 1, BW_ALERT_UNIT_S}, /* not an "alert." event */
        {"alerts.x 1/1s", "alerts.x", 0, 1, 1, 1, BW_ALERT_UNIT_S},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bw_alert_rule r = rule(cases[i].text);
        char buf[BW_ALERT_RULE_TEXT_MAX];

        assert_string_equal(r.event, cases[i].event);
        assert_int_equal(r.event_len, strlen(cases[i].event));
        assert_int_equal(r.prefix, cases[i].prefix);
        assert_int_equal(r.count, cases[i].count);
        assert_int_equal(r.window_s, cases[i].window_s);
        assert_int_equal(r.window_n, cases[i].window_n);
        assert_int_equal(r.unit, cases[i].unit);
        /* formats back to the text it came from */
        assert_int_equal(bw_alert_rule_format(&r, buf, sizeof(buf)), strlen(cases[i].text));
        assert_string_equal(buf, cases[i].text);
    }
}

static void test_parse_name_lengths(void **state)
{
    char text[BW_ALERT_EVENT_MAX + 16], why[128];
    bw_alert_rule r;

    (void)state;
    /* exactly BW_ALERT_EVENT_MAX bytes of name: accepted; one more: refused */
    memset(text, 'a', BW_ALERT_EVENT_MAX);
    memcpy(text + BW_ALERT_EVENT_MAX, " 1/1s", 6);
    assert_int_equal(bw_alert_rule_parse(text, strlen(text), &r, why, sizeof(why)), 0);
    assert_int_equal(r.event_len, BW_ALERT_EVENT_MAX);
    memset(text, 'a', BW_ALERT_EVENT_MAX + 1);
    memcpy(text + BW_ALERT_EVENT_MAX + 1, " 1/1s", 6);
    assert_int_equal(bw_alert_rule_parse(text, strlen(text), &r, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "longer"));

    /* a prefix of BW_ALERT_EVENT_MAX bytes counting its ".*" */
    memset(text, 'b', BW_ALERT_EVENT_MAX - 2);
    memcpy(text + BW_ALERT_EVENT_MAX - 2, ".* 2/1h", 8);
    assert_int_equal(bw_alert_rule_parse(text, strlen(text), &r, why, sizeof(why)), 0);
    assert_true(r.prefix);
    assert_int_equal(r.event_len, BW_ALERT_EVENT_MAX - 1);

    /* explicit lengths: the bytes after len are never part of the rule */
    assert_int_equal(bw_alert_rule_parse("auth 5/1sXYZ", 9, &r, why, sizeof(why)), 0);
    assert_int_equal(r.window_s, 1);
    assert_int_equal(bw_alert_rule_parse("auth 5/1minXYZ", 12, &r, why, sizeof(why)), -1);
    /* an embedded NUL is just an invalid byte */
    assert_int_equal(bw_alert_rule_parse("x\0 1/1s", 7, &r, why, sizeof(why)), -1);
    assert_int_equal(bw_alert_rule_parse("x 1/1s\0", 7, &r, why, sizeof(why)), -1);
}

static void test_parse_malformed(void **state)
{
    static const struct {
        const char *text;
        const char *why; /* a part of the reason */
    } cases[] = {
        {"", "EVENT COUNT/WINDOW"},
        {"auth.login.failure", "EVENT COUNT/WINDOW"},
        {"auth\t1/1s", "EVENT COUNT/WINDOW"},
        {" auth 1/1s", "empty"},
        {"auth  1/1s", "count is missing"},
        {"auth 1/1s ", "unit"},
        {"auth 1/1s\n", "unit"},
        {"auth 1/1s\r", "unit"},
        {"auth\n 1/1s", "a-z"},
        {"Auth 1/1s", "a-z"},
        {"auth-x 1/1s", "a-z"},
        {"auth/x 1/1s", "a-z"},
        {"auth\xc3\xa9 1/1s", "a-z"},
        {"auth..x 1/1s", "empty part"},
        {".auth 1/1s", "empty part"},
        {"auth. 1/1s", "empty part"},
        {"auth.x. 1/1s", "empty part"},
        {".* 1/1s", "empty part"},
        {"*.* 1/1s", "'*'"},
        {"* 1/1s", "'*'"},
        {"auth* 1/1s", "'*'"},
        {"auth.*.x 1/1s", "'*'"},
        {"auth.** 1/1s", "'*'"},
        {"auth.x* 1/1s", "'*'"},
        {"alert.* 1/1s", "never counted"},
        {"alert.rule 1/1s", "never counted"},
        {"alert.rule.* 1/1s", "never counted"},
        {"x 0/1s", "at least 1"},
        {"x 01/1s", "leading zero"},
        {"x 10001/1s", "above"},
        {"x 99999999999999999999999/1s", "above"},
        {"x +1/1s", "count is missing"},
        {"x -1/1s", "count is missing"},
        {"x /1s", "count is missing"},
        {"x 1", "'/'"},
        {"x 1 /1s", "'/'"},
        {"x 1:1s", "'/'"},
        {"x 1/", "window is missing"},
        {"x 1/ 1s", "window is missing"},
        {"x 1/s", "window is missing"},
        {"x 1/0s", "at least 1"},
        {"x 1/01s", "leading zero"},
        {"x 1/86401s", "above"},
        {"x 1/1441min", "24 h"},
        {"x 1/25h", "24 h"},
        {"x 1/1", "unit"},
        {"x 1/1d", "unit"},
        {"x 1/1m", "unit"},
        {"x 1/1S", "unit"},
        {"x 1/1mins", "unit"},
        {"x 1/1s/", "unit"},
        {"x 1/1.5s", "unit"},
        {"x 1/1 s", "unit"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bw_alert_rule r;
        char why[128] = "";

        if (bw_alert_rule_parse(cases[i].text, strlen(cases[i].text), &r, why, sizeof(why)) != -1)
            fail_msg("accepted \"%s\"", cases[i].text);
        if (strstr(why, cases[i].why) == NULL)
            fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", cases[i].text, why, cases[i].why);
    }
    /* no reason buffer, no rule, no text */
    bw_alert_rule r;
    char why[8];
    assert_int_equal(bw_alert_rule_parse("x 0/1s", 6, &r, NULL, 0), -1);
    assert_int_equal(bw_alert_rule_parse("x 0/1s", 6, &r, why, sizeof(why)), -1);
    assert_int_equal(strlen(why), sizeof(why) - 1); /* cut to fit */
    assert_int_equal(bw_alert_rule_parse(NULL, 6, &r, NULL, 0), -1);
    assert_int_equal(bw_alert_rule_parse("x 1/1s", 6, NULL, NULL, 0), -1);
}

static void test_format_errors(void **state)
{
    bw_alert_rule r = rule("ban.* 10/5min"), bad;
    char buf[BW_ALERT_RULE_TEXT_MAX];

    (void)state;
    /* "ban.* 10/5min" is 13 bytes: needs 14 with its NUL */
    assert_int_equal(bw_alert_rule_format(&r, buf, 14), 13);
    assert_int_equal(bw_alert_rule_format(&r, buf, 13), -1);
    assert_int_equal(bw_alert_rule_format(&r, buf, 0), -1);
    assert_int_equal(bw_alert_rule_format(NULL, buf, sizeof(buf)), -1);
    bad = r;
    bad.count = 0;
    assert_int_equal(bw_alert_rule_format(&bad, buf, sizeof(buf)), -1);
    bad = r;
    bad.window_s = 301; /* disagrees with 5 min */
    assert_int_equal(bw_alert_rule_format(&bad, buf, sizeof(buf)), -1);
    bad = r;
    bad.unit = (bw_alert_unit)7;
    assert_int_equal(bw_alert_rule_format(&bad, buf, sizeof(buf)), -1);
    bad = r;
    bad.event_len = BW_ALERT_EVENT_MAX + 1;
    assert_int_equal(bw_alert_rule_format(&bad, buf, sizeof(buf)), -1);
}

static void test_matches(void **state)
{
    bw_alert_rule p = rule("auth.* 1/1s"), e = rule("auth.login.failure 1/1s");

    (void)state;
    assert_true(bw_alert_rule_matches(&p, "auth.login.failure", 18));
    assert_true(bw_alert_rule_matches(&p, "auth.x", 6));
    assert_false(bw_alert_rule_matches(&p, "auth", 4));
    assert_false(bw_alert_rule_matches(&p, "auth.", 5));
    assert_false(bw_alert_rule_matches(&p, "authx.y", 7));
    assert_false(bw_alert_rule_matches(&p, "ban.add", 7));
    assert_true(bw_alert_rule_matches(&e, "auth.login.failure", 18));
    assert_false(bw_alert_rule_matches(&e, "auth.login.failure2", 19));
    assert_false(bw_alert_rule_matches(&e, "auth.login.failure", 17));
    assert_false(bw_alert_rule_matches(&e, "auth.login", 10));
    assert_false(bw_alert_rule_matches(NULL, "auth.x", 6));
    assert_false(bw_alert_rule_matches(&p, NULL, 0));
}

static void test_fires_exactly_at_count(void **state)
{
    const char *texts[] = {"auth.login.failure 5/10s"};
    bw_alerts *a = alerts(texts, 1);
    bw_alert_fired f[2];

    (void)state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(bw_alerts_observe(a, "auth.login.failure", T0 + i, f, 2), 0);
    /* other events do not count */
    assert_int_equal(observe(a, "auth.login.success", T0 + 4), 0);
    memset(f, 0xa5, sizeof(f));
    assert_int_equal(bw_alerts_observe(a, "auth.login.failure", T0 + 5, f, 2), 1);
    assert_int_equal(f[0].rule, 0);
    assert_int_equal(f[0].count, 5);
    assert_int_equal(f[0].window_s, 10);
    bw_alerts_free(a);
}

static void test_window_slides(void **state)
{
    const char *texts[] = {"x 3/10s"};
    bw_alerts *a = alerts(texts, 1);

    (void)state;
    assert_int_equal(observe(a, "x", T0), 0);
    assert_int_equal(observe(a, "x", T0 + 5000), 0);
    /* three events, but the first is exactly one window old: outside */
    assert_int_equal(observe(a, "x", T0 + 10000), 0);
    /* the last three are T0+5000, T0+10000, T0+14999: within 10 s */
    assert_int_equal(observe(a, "x", T0 + 14999), 1);
    bw_alerts_free(a);

    /* events spread thinner than COUNT per WINDOW never fire */
    a = alerts(texts, 1);
    for (int64_t t = 0; t < 1000; t++)
        assert_int_equal(observe(a, "x", T0 + t * 5000), 0);
    bw_alerts_free(a);
}

static void test_quiet_period(void **state)
{
    const char *texts[] = {"x 2/10s"};
    bw_alerts *a = alerts(texts, 1);

    (void)state;
    assert_int_equal(observe(a, "x", T0), 0);
    assert_int_equal(observe(a, "x", T0 + 1000), 1); /* fired at T0 + 1000 */
    /* a flood during the next 10 s raises nothing */
    for (int64_t t = T0 + 1000; t < T0 + 11000; t += 7)
        assert_int_equal(observe(a, "x", t), 0);
    /* one window after firing counting starts afresh: the flood's events are not counted */
    assert_int_equal(observe(a, "x", T0 + 11000), 0);
    assert_int_equal(observe(a, "x", T0 + 11001), 1);
    bw_alerts_free(a);

    /* COUNT 1: every event fires, at most once per window */
    const char *one[] = {"y 1/1min"};
    a = alerts(one, 1);
    assert_int_equal(observe(a, "y", T0), 1);
    assert_int_equal(observe(a, "y", T0 + 59999), 0);
    assert_int_equal(observe(a, "y", T0 + 60000), 1);
    assert_int_equal(observe(a, "y", T0 + 60001), 0);
    bw_alerts_free(a);
}

static void test_prefix_and_several_rules(void **state)
{
    const char *texts[] = {"auth.* 2/60s", "auth.login.failure 1/60s", "ban.* 1/1h"};
    bw_alerts *a = alerts(texts, 3);
    bw_alert_fired f[3];

    (void)state;
    assert_int_equal(bw_alerts_observe(a, "auth.login.failure", T0, f, 3), 1);
    assert_int_equal(f[0].rule, 1);
    assert_int_equal(bw_alerts_observe(a, "auth.logout", T0 + 1, f, 3), 1);
    assert_int_equal(f[0].rule, 0);
    assert_int_equal(f[0].count, 2);
    assert_int_equal(f[0].window_s, 60);
    assert_int_equal(bw_alerts_observe(a, "bans.add", T0 + 2, f, 3), 0);
    assert_int_equal(bw_alerts_observe(a, "ban", T0 + 2, f, 3), 0);
    assert_int_equal(bw_alerts_observe(a, "ban.add", T0 + 3, f, 3), 1);
    assert_int_equal(f[0].rule, 2);
    assert_int_equal(f[0].window_s, 3600);
    bw_alerts_free(a);

    /* two rules firing on one event, in rule order; beyond cap they still go quiet */
    a = alerts(texts, 3);
    assert_int_equal(observe(a, "auth.x", T0), 0);
    assert_int_equal(bw_alerts_observe(a, "auth.login.failure", T0 + 1, f, 3), 2);
    assert_int_equal(f[0].rule, 0);
    assert_int_equal(f[1].rule, 1);
    bw_alerts_free(a);
    a = alerts(texts, 3);
    assert_int_equal(observe(a, "auth.x", T0), 0);
    memset(f, 0, sizeof(f));
    assert_int_equal(bw_alerts_observe(a, "auth.login.failure", T0 + 1, f, 1), 2);
    assert_int_equal(f[0].rule, 0);
    assert_int_equal(f[1].rule, 0); /* untouched */
    assert_int_equal(bw_alerts_observe(a, "auth.login.failure", T0 + 2, NULL, 0), 0);
    bw_alerts_free(a);
}

static void test_alert_events_never_counted(void **state)
{
    bw_alert_rule rules[3];
    bw_alerts *a;

    (void)state;
    /* hand-built rules that the parser would refuse still never see alert.* events */
    memset(rules, 0, sizeof(rules));
    memcpy(rules[0].event, "alert.", 7);
    rules[0].event_len = 6;
    rules[0].prefix = true;
    rules[0].count = 1;
    rules[0].window_s = rules[0].window_n = 1;
    rules[0].unit = BW_ALERT_UNIT_S;
    rules[1] = rules[0];
    memcpy(rules[1].event, "alert.rule_fired", 17);
    rules[1].event_len = 16;
    rules[1].prefix = false;
    rules[2] = rule("alert 1/1s");
    a = bw_alerts_new(rules, 3);
    assert_non_null(a);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(observe(a, "alert.rule_fired", T0 + i * 2000), 0);
        assert_int_equal(observe(a, "alert.", T0 + i * 2000), 0);
    }
    assert_false(bw_alert_rule_matches(&rules[1], "alert.rule_fired", 16));
    /* "alert" itself is an ordinary name */
    assert_int_equal(observe(a, "alert", T0), 1);
    bw_alerts_free(a);
}

static void test_bad_arguments(void **state)
{
    bw_alert_rule r = rule("x 1/1s"), bad = r;
    char name[BW_ALERT_EVENT_MAX + 2];
    bw_alerts *a;

    (void)state;
    bad.count = 0;
    assert_null(bw_alerts_new(&bad, 1));
    bad = r;
    bad.count = BW_ALERT_COUNT_MAX + 1;
    assert_null(bw_alerts_new(&bad, 1));
    bad = r;
    bad.window_s = bad.window_n = BW_ALERT_WINDOW_MAX_S + 1;
    assert_null(bw_alerts_new(&bad, 1));
    bad = r;
    bad.event_len = 0;
    assert_null(bw_alerts_new(&bad, 1));
    assert_null(bw_alerts_new(NULL, 1));

    a = bw_alerts_new(NULL, 0); /* no rules: valid, nothing ever fires */
    assert_non_null(a);
    assert_int_equal(bw_alerts_count(a), 0);
    assert_int_equal(observe(a, "x", T0), 0);
    bw_alerts_free(a);

    a = bw_alerts_new(&r, 1);
    assert_non_null(a);
    assert_int_equal(bw_alerts_observe(NULL, "x", T0, NULL, 0), 0);
    assert_int_equal(bw_alerts_observe(a, NULL, T0, NULL, 0), 0);
    assert_int_equal(bw_alerts_count(NULL), 0);
    /* a name longer than any rule's matches nothing, even with a valid head */
    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(observe(a, name, T0), 0);
    /* times at the ends of int64 neither wrap nor trap */
    assert_int_equal(observe(a, "x", INT64_MIN), 1);
    assert_int_equal(observe(a, "x", INT64_MAX), 1);
    assert_int_equal(observe(a, "x", INT64_MAX), 0);
    bw_alerts_free(a);
    bw_alerts_free(NULL);
}

#define THREADS 8
#define PER_THREAD 500

static void *flood(void *arg)
{
    bw_alerts *a = arg;
    size_t fired = 0;

    for (int i = 0; i < PER_THREAD; i++)
        fired += observe(a, (i & 1) ? "auth.login.failure" : "auth.logout", T0 + 1);
    return (void *)(uintptr_t)fired;
}

static void test_threads(void **state)
{
    /* With a 24 h window and every event at one time, a rule of COUNT = all the events fires
     * exactly once and one of COUNT + 1 never: a lost update under contention shows. */
    const char *texts[] = {"auth.* 4000/24h", "auth.* 4001/24h", "auth.login.failure 2000/24h",
                           "auth.login.failure 2001/24h"};
    bw_alerts *a = alerts(texts, 4);
    pthread_t t[THREADS];
    size_t total = 0;

    (void)state;
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, flood, a), 0);
    for (int i = 0; i < THREADS; i++) {
        void *r;

        assert_int_equal(pthread_join(t[i], &r), 0);
        total += (size_t)(uintptr_t)r;
    }
    assert_int_equal(total, 2);
    /* both fired rules are quiet; the others are one event short */
    assert_int_equal(observe(a, "auth.login.failure", T0 + 2), 2);
    bw_alerts_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_name_lengths),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_format_errors),
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_fires_exactly_at_count),
        cmocka_unit_test(test_window_slides),
        cmocka_unit_test(test_quiet_period),
        cmocka_unit_test(test_prefix_and_several_rules),
        cmocka_unit_test(test_alert_events_never_counted),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
