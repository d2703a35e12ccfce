/* Rate limits over HTTPS: per client address, per route (.rate) and per principal. A flood
 * gets 429 problem+json with Retry-After and the IETF RateLimit fields; another address or
 * another user is not affected; a spoofed X-Forwarded-For from an untrusted peer does not
 * change the key; the budget comes back after Retry-After. Played on loopback: 127.0.0.6 is
 * the flooder (127.0.0.1 is where the harness polls /healthz from), 127.0.0.2 a bystander. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth_client.h"
#include "harness.h"

static const char PW[] = "correct horse battery staple";

/* Small budgets so a test can exhaust them: 6 requests per address, 4 per user; the fields
 * on every answer. */
static const char config[] =
    "{\"ratelimit\": {\"address\": \"60/min\", \"address_burst\": 6, \"principal\": \"60/min\","
    "  \"principal_burst\": 4, \"headers\": true},"
    " \"auth\": {\"password\": {\"memlimit_kib\": 19456}}}";

static const char *header(const bw_resp *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    }
    return NULL;
}

static long get(bw_srv *srv, const char *token, const char *path, const char *xff, bw_resp *out)
{
    char h[128];
    const char *extra[] = {h, NULL};
    bw_resp r;
    long status;

    snprintf(h, sizeof h, "X-Forwarded-For: %s", xff != NULL ? xff : "192.0.2.1");
    assert_int_equal(bw_http_as(srv, token, "GET", path, NULL, xff != NULL ? extra : NULL, &r), 0);
    status = r.status;
    if (out != NULL)
        *out = r;
    else
        bw_resp_free(&r);
    return status;
}

/* The 429 an exhausted budget gets: problem+json, Retry-After >= 1, both fields naming the
 * policy that refused. */
static void assert_refusal(const bw_resp *r, const char *policy)
{
    const char *retry = header(r, "Retry-After"), *pol = header(r, "RateLimit-Policy"),
               *state = header(r, "RateLimit");
    char quoted[64];

    assert_int_equal(r->status, 429);
    assert_non_null(strstr(header(r, "Content-Type"), "application/problem+json"));
    assert_non_null(retry);
    assert_true(atoi(retry) >= 1);
    assert_non_null(pol);
    assert_non_null(state);
    snprintf(quoted, sizeof quoted, "\"%s\"", policy);
    assert_non_null(strstr(pol, quoted));
    assert_non_null(strstr(state, quoted));
    assert_non_null(strstr(state, "r=0"));
}

static void test_address_limit(void **state)
{
    bw_srv *srv = *state;
    bw_resp r;
    int ok = 0;

    assert_int_equal(bw_srv_set_source(srv, "127.0.0.6"), 0);
    /* Each request claims another address; from an untrusted peer that changes nothing. */
    for (int i = 0; i < 6; i++) {
        char xff[32];
        snprintf(xff, sizeof xff, "198.51.100.%d", i + 1);
        if (get(srv, NULL, "/healthz", xff, i == 0 ? &r : NULL) == 200)
            ok++;
        if (i == 0) {
            /* Fields on a success too (ratelimit.headers). */
            assert_non_null(header(&r, "RateLimit"));
            bw_resp_free(&r);
        }
    }
    assert_int_equal(ok, 6);
    assert_int_equal(get(srv, NULL, "/healthz", "203.0.113.50", &r), 429);
    assert_refusal(&r, "address");
    int retry = atoi(header(&r, "Retry-After"));
    bw_resp_free(&r);
    /* Any path, any method: the limit is per address, checked before routing. */
    assert_int_equal(get(srv, NULL, "/no/such/route", NULL, NULL), 429);

    /* A bystander on another address is served. */
    assert_int_equal(bw_srv_set_source(srv, "127.0.0.2"), 0);
    assert_int_equal(get(srv, NULL, "/healthz", NULL, NULL), 200);

    /* The budget comes back: one request per second at 60/min. */
    assert_int_equal(bw_srv_set_source(srv, "127.0.0.6"), 0);
    assert_true(retry >= 1 && retry <= 2);
    sleep((unsigned)retry + 1);
    assert_int_equal(get(srv, NULL, "/healthz", NULL, NULL), 200);
    assert_int_equal(bw_srv_set_source(srv, NULL), 0);
}

static void test_route_and_principal_limits(void **state)
{
    bw_srv *srv = *state;
    char *alice = NULL, *bob = NULL;
    bw_resp r;

    /* Logins from three addresses: the login route's 10/min is per address, and each address
     * keeps within its own 6-request budget. */
    assert_int_equal(bw_srv_set_source(srv, "127.0.0.3"), 0);
    assert_int_equal(bw_test_login(srv, "alice", PW, &alice, NULL), 0);
    assert_int_equal(bw_srv_set_source(srv, "127.0.0.4"), 0);
    assert_int_equal(bw_test_login(srv, "bob", PW, &bob, NULL), 0);

    /* Per principal: alice's 4, then 429 naming the principal policy. */
    assert_int_equal(bw_srv_set_source(srv, "127.0.0.5"), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(get(srv, alice, "/v1/auth/me", NULL, NULL), 200);
    assert_int_equal(get(srv, alice, "/v1/auth/me", NULL, &r), 429);
    assert_refusal(&r, "principal");
    bw_resp_free(&r);
    /* Bob, from the same address, is another principal. */
    assert_int_equal(get(srv, bob, "/v1/auth/me", NULL, NULL), 200);

    free(alice);
    free(bob);
    assert_int_equal(bw_srv_set_source(srv, NULL), 0);
}

static void test_login_route_limit(void **state)
{
    (void)state;
    /* Generous address budget, so the login route's own 10/min is what answers. */
    char *cfg = NULL;
    bw_srv *srv = bw_test_srv_start_json(
        "{\"ratelimit\": {\"address_burst\": 1000},"
        " \"auth\": {\"password\": {\"memlimit_kib\": 19456}, \"lockout\": {\"threshold\": 100}}}",
        &cfg);
    bw_resp r;

    assert_non_null(srv);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(bw_http_as(srv, NULL, "POST", "/v1/auth/login",
                                    "{\"username\":\"nobody\",\"password\":\"wrong password\"}",
                                    NULL, &r),
                         0);
        assert_int_equal(r.status, 401);
        bw_resp_free(&r);
    }
    assert_int_equal(bw_http_as(srv, NULL, "POST", "/v1/auth/login",
                                "{\"username\":\"nobody\",\"password\":\"wrong password\"}", NULL,
                                &r),
                     0);
    assert_refusal(&r, "route");
    bw_resp_free(&r);
    /* Other routes from the same address still answer. */
    assert_int_equal(get(srv, NULL, "/healthz", NULL, NULL), 200);
    assert_int_equal(bw_test_srv_stop(&srv, &cfg), 0);
}

static char *config_path;

static int setup(void **state)
{
    bw_srv *srv = bw_test_srv_start_json(config, &config_path);

    *state = srv;
    if (srv == NULL || bw_test_user_add(srv, "alice", PW, "viewer") != 0 ||
        bw_test_user_add(srv, "bob", PW, "viewer") != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    bw_srv *srv = *state;

    return bw_test_srv_stop(&srv, &config_path) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_limit),
        cmocka_unit_test(test_route_and_principal_limits),
        cmocka_unit_test(test_login_route_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
