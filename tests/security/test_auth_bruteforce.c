/*
 * Login throttling against the running sample service, over HTTPS:
 *
 * - per account name: with lockout.threshold 3 and base_delay_s 2, the 3rd failure in a row
 *   locks the name for 2 s, the 4th for 4 s. While locked every attempt, the correct password
 *   included, gets 429 with Retry-After and no session, and does not count as a failure. Once
 *   Retry-After has passed the correct password logs in and the count starts over. The lock
 *   is per name (another user from the same address logs in; a change of case does not
 *   escape it), and an unknown or malformed name locks exactly like a known one;
 * - per client address: with address.max_failures 6, the 6th failure from one address (over
 *   any names, known or not) locks that address out of login, a correct password included,
 *   while another loopback address still logs in. A success does not give the address its
 *   budget back, and a forged X-Forwarded-For does not pick another address.
 *
 * Times are whole Unix seconds on both sides (time(3)); the bounds on Retry-After are taken
 * from the test's own clock readings just before and after each exchange, and every wait
 * keeps a margin of at least a second beyond the instant the server unlocks.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_client.h"
#include "harness.h"

#define BASE_DELAY_S 2
#define ADDRESS_LIMIT 6
#define ADDRESS_WINDOW_S 60
#define WAIT_MARGIN_MS 1000

/* memlimit at its minimum keeps Argon2id fast; the address limit is out of the way. */
static const char ACCOUNT_CONFIG[] =
    "{\"ratelimit\": {\"route_burst\": 100000}, \"auth\": {\"password\": {\"memlimit_kib\": 19456},"
    " \"lockout\": {\"threshold\": 3, \"base_delay_s\": 2, \"max_delay_s\": 900},"
    " \"address\": {\"max_failures\": 1000, \"window_s\": 60}}}";

/* The account lockout is out of the way: only the address limit can lock. */
static const char ADDRESS_CONFIG[] = "{\"ratelimit\": {\"route_burst\": 100000}, \"auth\": {\"password\": {\"memlimit_kib\": 19456},"
                                     " \"lockout\": {\"threshold\": 100},"
                                     " \"address\": {\"max_failures\": 6, \"window_s\": 60}}}";

static const char *const PW_ALICE = "alice's correct horse battery";
static const char *const PW_BOB = "bob's correct horse battery";
static const char *const PW_CAROL = "carol's correct horse battery";
static const char *const WRONG = "not the password at all";

typedef struct fixture {
    bw_srv *srv;
    char *config;
} fixture;

static int start(void **state, const char *json)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    *state = f;
    if ((f->srv = bw_test_srv_start_json(json, &f->config)) == NULL)
        return -1;
    if (bw_test_user_add(f->srv, "alice", PW_ALICE, "editor") != 0 ||
        bw_test_user_add(f->srv, "bob", PW_BOB, "viewer") != 0 ||
        bw_test_user_add(f->srv, "carol", PW_CAROL, "viewer") != 0)
        return -1;
    return 0;
}

static int setup_account(void **state)
{
    return start(state, ACCOUNT_CONFIG);
}

static int setup_address(void **state)
{
    return start(state, ADDRESS_CONFIG);
}

/* Stops the server and fails unless it exited 0 (a sanitizer report, a crash or a hang). */
static int teardown(void **state)
{
    fixture *f = *state;
    int rc;

    if (f == NULL)
        return -1;
    rc = bw_test_srv_stop(&f->srv, &f->config);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        assert_int_equal(errno, EINTR);
}

/* POST /v1/auth/login; mode NULL sends no "session" (bearer). extra: headers, may be NULL. */
static void login_ex(bw_srv *srv, const char *name, const char *pw, const char *mode,
                     const char *const *extra, bw_resp *r)
{
    assert_int_equal(bw_test_login_request(srv, name, pw, mode, extra, r), 0);
}

static void login(bw_srv *srv, const char *name, const char *pw, bw_resp *r)
{
    login_ex(srv, name, pw, NULL, NULL, r);
}

/* Retry-After as a whole number of seconds: digits only, sent once. -1 when not. */
static long long retry_after(const bw_resp *r)
{
    const char *v = bw_resp_header(r, "Retry-After");
    long long n = 0;
    size_t len;

    if (v == NULL || bw_resp_header_count(r, "Retry-After") != 1)
        return -1;
    len = strlen(v);
    if (len == 0 || len > 9)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    return n;
}

/* Nothing in r hands out a session: no cookie, no token of either mode. */
static void assert_no_session(const bw_resp *r)
{
    json_t *doc = json_loads(r->body, 0, NULL);

    assert_int_equal(bw_resp_header_count(r, "Set-Cookie"), 0);
    assert_non_null(doc);
    assert_null(json_object_get(doc, "token"));
    assert_null(json_object_get(doc, "csrf_token"));
    json_decref(doc);
}

static void assert_denied(const bw_resp *r, const char *what)
{
    bw_test_want_status(r, 401, what);
    BW_ASSERT_PROBLEM(r, 401);
    BW_ASSERT_SECURE_HEADERS(r, NULL);
    assert_int_equal(bw_resp_header_count(r, "Retry-After"), 0);
    assert_no_session(r);
}

/* 429, a problem, no session, and Retry-After in [lo, hi] (lo at least 1). Returns it. */
static long long assert_locked(const bw_resp *r, long long lo, long long hi, const char *what)
{
    long long ra;

    bw_test_want_status(r, 429, what);
    BW_ASSERT_PROBLEM(r, 429);
    BW_ASSERT_SECURE_HEADERS(r, NULL);
    assert_no_session(r);
    ra = retry_after(r);
    if (ra < (lo > 1 ? lo : 1) || ra > hi)
        fail_msg("%s: Retry-After \"%s\", want an integer in [%lld, %lld]", what,
                 bw_resp_header(r, "Retry-After") != NULL ? bw_resp_header(r, "Retry-After")
                                                          : "(none)",
                 lo > 1 ? lo : 1, hi);
    return ra;
}

/* A bearer login that worked: its token authenticates as name. */
static void assert_logged_in(bw_srv *srv, const bw_resp *r, const char *name, const char *what)
{
    json_t *doc, *me;
    bw_resp m;

    bw_test_want_status(r, 200, what);
    doc = json_loads(r->body, 0, NULL);
    assert_non_null(doc);
    assert_true(json_is_string(json_object_get(doc, "token")));
    assert_int_equal(bw_http_as(srv, json_string_value(json_object_get(doc, "token")), "GET",
                                "/v1/auth/me", NULL, NULL, &m),
                     0);
    bw_test_want_status(&m, 200, "GET /v1/auth/me with the new token");
    me = json_loads(m.body, 0, NULL);
    assert_non_null(me);
    assert_string_equal(json_string_value(json_object_get(me, "username")), name);
    json_decref(me);
    json_decref(doc);
    bw_resp_free(&m);
}

/* ---- per account name --------------------------------------------------------------------- */

static void test_account_backoff(void **state)
{
    fixture *f = *state;
    const char *const modes[] = {NULL, "cookie"};
    bw_resp r;
    long long t0, t1, ra;

    /* Failures 1 and 2 are plain denials; the 3rd is too, and locks the name for base. */
    for (int i = 0; i < 2; i++) {
        login(f->srv, "alice", WRONG, &r);
        assert_denied(&r, "failure below the threshold");
        bw_resp_free(&r);
    }
    t0 = (long long)time(NULL);
    login(f->srv, "alice", WRONG, &r);
    assert_denied(&r, "the threshold-th failure");
    bw_resp_free(&r);

    /* Locked: a wrong password, the correct one in both session modes, and the same name in
     * another case all get 429 and no session. */
    login(f->srv, "alice", WRONG, &r);
    t1 = (long long)time(NULL);
    ra = assert_locked(&r, BASE_DELAY_S - (t1 - t0), BASE_DELAY_S, "locked, wrong password");
    bw_resp_free(&r);
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        login_ex(f->srv, "alice", PW_ALICE, modes[i], NULL, &r);
        assert_locked(&r, 1, BASE_DELAY_S, "locked, correct password");
        bw_resp_free(&r);
    }
    login(f->srv, "ALICE", PW_ALICE, &r);
    assert_locked(&r, 1, BASE_DELAY_S, "locked, the name in upper case");
    bw_resp_free(&r);

    /* The lock is alice's alone: bob, from the same address, logs in. */
    login(f->srv, "bob", PW_BOB, &r);
    assert_logged_in(f->srv, &r, "bob", "another user while alice is locked");
    bw_resp_free(&r);

    /* After Retry-After the name is free; the attempts made while locked were not counted,
     * else the lock would have grown. A further failure is the 4th in a row: 4 s. */
    sleep_ms(ra * 1000 + WAIT_MARGIN_MS);
    t0 = (long long)time(NULL);
    login(f->srv, "alice", WRONG, &r);
    assert_denied(&r, "a failure after the first lock");
    bw_resp_free(&r);
    login(f->srv, "alice", PW_ALICE, &r);
    t1 = (long long)time(NULL);
    ra = assert_locked(&r, 2 * BASE_DELAY_S - (t1 - t0), 2 * BASE_DELAY_S,
                       "the 4th failure doubles the lock");
    bw_resp_free(&r);

    /* The lock holds while it lasts: a second later it is still there, counting down. */
    if (ra >= 3) {
        long long ra2;

        sleep_ms(1000);
        login(f->srv, "alice", PW_ALICE, &r);
        ra2 = assert_locked(&r, 1, ra - 1, "one second into a lock of 3 s or more");
        bw_resp_free(&r);
        ra = ra2;
    }

    /* Then the correct password logs in. */
    sleep_ms(ra * 1000 + WAIT_MARGIN_MS);
    login(f->srv, "alice", PW_ALICE, &r);
    assert_logged_in(f->srv, &r, "alice", "the correct password after the lock");
    bw_resp_free(&r);

    /* The success reset the count: two failures do not lock (without the reset they would be
     * the 5th and 6th in a row, and the first would lock for 8 s). */
    for (int i = 0; i < 2; i++) {
        login(f->srv, "alice", WRONG, &r);
        assert_denied(&r, "a failure after the reset");
        bw_resp_free(&r);
    }
    login(f->srv, "alice", PW_ALICE, &r);
    assert_logged_in(f->srv, &r, "alice", "the correct password two failures after the reset");
    bw_resp_free(&r);
}

/* A known name, an unknown valid name and a name that is not even valid go through the same
 * steps: three failures, then two attempts while locked (the last with carol's correct
 * password). Every answer is the same, so the lockout tells nothing about which accounts
 * exist. */
static void test_unknown_names_lock_alike(void **state)
{
    fixture *f = *state;
    enum { NNAMES = 3, NSTEPS = 5 };
    const char *const names[NNAMES] = {"carol", "ghost", "No Such User!"};
    char *ref[NSTEPS] = {NULL};
    bw_resp r;

    for (int n = 0; n < NNAMES; n++) {
        long long t0 = 0;

        for (int step = 0; step < NSTEPS; step++) {
            char *body;

            if (step == 2)
                t0 = (long long)time(NULL);
            login(f->srv, names[n], step < NSTEPS - 1 ? WRONG : PW_CAROL, &r);
            if (step < 3) {
                assert_denied(&r, names[n]);
            } else {
                long long t1 = (long long)time(NULL);
                assert_locked(&r, BASE_DELAY_S - (t1 - t0), BASE_DELAY_S, names[n]);
            }
            body = bw_test_body_sans_request_id(&r);
            bw_resp_free(&r);
            if (n == 0) {
                ref[step] = body;
                continue;
            }
            if (strcmp(body, ref[step]) != 0)
                fail_msg("step %d: \"%s\" answered %s, \"%s\" answered %s", step, names[n], body,
                         names[0], ref[step]);
            free(body);
        }
    }
    for (int step = 0; step < NSTEPS; step++)
        free(ref[step]);
}

/* ---- per client address ------------------------------------------------------------------- */

static void test_address_limit(void **state)
{
    fixture *f = *state;
    /* Five failures over known and unknown names, then a success, then the sixth. */
    const char *const spread[ADDRESS_LIMIT] = {"ghost0", "alice",  "ghost1",
                                               "bob",    "ghost2", "ghost3"};
    const char *const forged[] = {"X-Forwarded-For: 127.0.0.9", "X-Real-IP: 127.0.0.9",
                                  "Forwarded: for=127.0.0.9", NULL};
    bw_resp r;
    long long t0, t1;

    t0 = (long long)time(NULL);
    for (int i = 0; i < ADDRESS_LIMIT; i++) {
        if (i == ADDRESS_LIMIT - 1) {
            /* Under the limit a correct password still works, and a success does not reset
             * the address's count (one valid account must not buy unlimited guesses). */
            login(f->srv, "carol", PW_CAROL, &r);
            assert_logged_in(f->srv, &r, "carol", "one failure short of the address limit");
            bw_resp_free(&r);
        }
        login(f->srv, spread[i], WRONG, &r);
        assert_denied(&r, spread[i]);
        bw_resp_free(&r);
    }

    /* The address is locked for everyone: correct passwords, other names, and forged proxy
     * headers naming another address. Retry-After is what is left of the window. */
    login(f->srv, "alice", PW_ALICE, &r);
    t1 = (long long)time(NULL);
    assert_locked(&r, ADDRESS_WINDOW_S - (t1 - t0), ADDRESS_WINDOW_S, "alice from 127.0.0.1");
    bw_resp_free(&r);
    login(f->srv, "bob", PW_BOB, &r);
    assert_locked(&r, 1, ADDRESS_WINDOW_S, "bob from 127.0.0.1");
    bw_resp_free(&r);
    login(f->srv, "ghost4", WRONG, &r);
    assert_locked(&r, 1, ADDRESS_WINDOW_S, "a new unknown name from 127.0.0.1");
    bw_resp_free(&r);
    login_ex(f->srv, "alice", PW_ALICE, NULL, forged, &r);
    assert_locked(&r, 1, ADDRESS_WINDOW_S, "forged proxy headers from 127.0.0.1");
    bw_resp_free(&r);

    /* Another client address is not affected, and neither is alice's account. */
    assert_int_equal(bw_srv_set_source(f->srv, "127.0.0.2"), 0);
    login(f->srv, "alice", PW_ALICE, &r);
    assert_logged_in(f->srv, &r, "alice", "alice from 127.0.0.2");
    bw_resp_free(&r);
    login(f->srv, "alice", WRONG, &r);
    assert_denied(&r, "a wrong password from 127.0.0.2");
    bw_resp_free(&r);

    /* Back on 127.0.0.1 the lock still holds. */
    assert_int_equal(bw_srv_set_source(f->srv, NULL), 0);
    login(f->srv, "carol", PW_CAROL, &r);
    assert_locked(&r, 1, ADDRESS_WINDOW_S, "carol from 127.0.0.1 afterwards");
    bw_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest account[] = {
        cmocka_unit_test(test_account_backoff),
        cmocka_unit_test(test_unknown_names_lock_alike),
    };
    const struct CMUnitTest address[] = {
        cmocka_unit_test(test_address_limit),
    };
    int failed = cmocka_run_group_tests_name("account lockout", account, setup_account, teardown);

    failed += cmocka_run_group_tests_name("address limit", address, setup_address, teardown);
    return failed;
}
