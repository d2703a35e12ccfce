/*
 * Object- and function-level authorization of the notes service, over HTTPS: one user cannot
 * read, change, delete or page through another user's notes (and cannot tell they exist), a
 * viewer cannot write, an editor cannot reach the admin routes or raise their own roles (even
 * with a second factor: the permission decides), an admin reaches the admin routes only with a
 * second factor, an admin reaches other users' notes through notes:moderate, and every route the
 * OpenAPI document does not list as public answers 401 without a credential.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth_client.h"
#include "harness.h"
#include "totp_client.h"

static const char *const PW = "correct horse battery staple";
static const char REALM[] = "Bearer realm=\"bulwark\"";

/* The smallest Argon2 memory the config allows keeps the five logins fast. */
static const char CONFIG[] = "{\"ratelimit\": {\"route_burst\": 100000}, \"auth\": {\"password\": "
                             "{\"memlimit_kib\": 19456}}}";

#define NOTE_ID_LEN 32
#define ALICE_NOTES 3
#define BOB_NOTES 2

typedef struct fixture {
    char *config;
    bw_srv *srv;
    char *alice, *bob, *vera, *erin, *adam; /* bearer tokens */
    char *ada;                              /* an admin whose session passed no second factor */
    /* erin, vera and adam have a second factor: the admin routes demand one, so erin's and
     * vera's refusals there are the permission's. */
    char erin_b32[BW_TEST_TOTP_B32_SIZE], vera_b32[BW_TEST_TOTP_B32_SIZE],
        adam_b32[BW_TEST_TOTP_B32_SIZE];
    uint64_t erin_step, vera_step, adam_step;
    long long erin_id, adam_id;
    char alice_ids[ALICE_NOTES][NOTE_ID_LEN + 1]; /* oldest first */
    char bob_ids[BOB_NOTES][NOTE_ID_LEN + 1];
} fixture;

/* The note every write attempt below targets, and what it must still hold afterwards. */
static const char ALICE_TITLE[] = "alice private 0";
static const char ALICE_BODY[] = "alice body 0";

/* Sends a request and returns the parsed body (an empty object for none); the caller decrefs.
 * The status must be want. */
static json_t *call(fixture *f, const char *token, const char *method, const char *path,
                    const char *json, long want)
{
    return bw_test_call(f->srv, token, method, path, json, want);
}

static void expect(fixture *f, const char *token, const char *method, const char *path,
                   const char *json, long want)
{
    json_decref(call(f, token, method, path, json, want));
}

/* The id of user `token` from GET /v1/auth/me. */
static long long me_id(fixture *f, const char *token)
{
    json_t *me = call(f, token, "GET", "/v1/auth/me", NULL, 200);
    long long id = json_integer_value(json_object_get(me, "id"));

    json_decref(me);
    assert_true(id > 0);
    return id;
}

static void create_note(fixture *f, const char *token, const char *title, const char *body,
                        char out[NOTE_ID_LEN + 1])
{
    json_t *req = json_pack("{s:s, s:s}", "title", title, "body", body);
    char *text = json_dumps(req, JSON_COMPACT);
    json_t *doc;
    const char *id;

    json_decref(req);
    assert_non_null(text);
    doc = call(f, token, "POST", "/v1/notes", text, 201);
    free(text);
    id = json_string_value(json_object_get(doc, "id"));
    assert_non_null(id);
    assert_int_equal(strlen(id), NOTE_ID_LEN);
    memcpy(out, id, NOTE_ID_LEN + 1);
    json_decref(doc);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char title[32], body[32];

    if (f == NULL)
        return -1;
    *state = f;
    if ((f->srv = bw_test_srv_start_json(CONFIG, &f->config)) == NULL)
        return -1;
    if (bw_test_user_add(f->srv, "alice", PW, "editor") != 0 ||
        bw_test_user_add(f->srv, "bob", PW, "editor") != 0 ||
        bw_test_user_add(f->srv, "vera", PW, "viewer") != 0 ||
        bw_test_user_add(f->srv, "erin", PW, "editor") != 0 ||
        bw_test_user_add(f->srv, "adam", PW, "admin") != 0 ||
        bw_test_user_add(f->srv, "ada", PW, "admin") != 0 ||
        bw_test_login(f->srv, "alice", PW, &f->alice, NULL) != 0 ||
        bw_test_login(f->srv, "bob", PW, &f->bob, NULL) != 0 ||
        bw_test_login(f->srv, "vera", PW, &f->vera, NULL) != 0 ||
        bw_test_login(f->srv, "erin", PW, &f->erin, NULL) != 0 ||
        bw_test_login(f->srv, "adam", PW, &f->adam, NULL) != 0 ||
        bw_test_login(f->srv, "ada", PW, &f->ada, NULL) != 0 ||
        bw_test_mfa_upgrade(f->srv, &f->erin, f->erin_b32, &f->erin_step) != 0 ||
        bw_test_mfa_upgrade(f->srv, &f->vera, f->vera_b32, &f->vera_step) != 0 ||
        bw_test_mfa_upgrade(f->srv, &f->adam, f->adam_b32, &f->adam_step) != 0)
        return -1;
    f->erin_id = me_id(f, f->erin);
    f->adam_id = me_id(f, f->adam);
    for (int i = 0; i < ALICE_NOTES; i++) {
        snprintf(title, sizeof(title), "alice private %d", i);
        snprintf(body, sizeof(body), "alice body %d", i);
        create_note(f, f->alice, title, body, f->alice_ids[i]);
    }
    for (int i = 0; i < BOB_NOTES; i++) {
        snprintf(title, sizeof(title), "bob note %d", i);
        create_note(f, f->bob, title, "bob body", f->bob_ids[i]);
    }
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc;

    if (f == NULL)
        return -1;
    rc = bw_test_srv_stop(&f->srv, &f->config);
    free(f->alice);
    free(f->bob);
    free(f->vera);
    free(f->erin);
    free(f->adam);
    free(f->ada);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* 32 lowercase hex characters no note has (2^-128 odds otherwise). */
static void random_id(char out[NOTE_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[NOTE_ID_LEN / 2];

    assert_int_equal(getrandom(raw, sizeof(raw), 0), (ssize_t)sizeof(raw));
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 0x0f];
    }
    out[NOTE_ID_LEN] = '\0';
}

static void note_path(const char *id, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "/v1/notes/%s", id);

    assert_true(n > 0 && (size_t)n < cap);
}

/* method on path as token must answer exactly what it answers on a note that does not exist:
 * same status, same content type, same body apart from the request id. */
static void assert_same_as_missing(fixture *f, const char *token, const char *method,
                                   const char *path, const char *json, long want)
{
    char missing[NOTE_ID_LEN + 1], other[64];
    bw_resp a, b;
    char *ja, *jb;

    random_id(missing);
    note_path(missing, other, sizeof(other));
    assert_int_equal(bw_http_as(f->srv, token, method, path, json, NULL, &a), 0);
    assert_int_equal(bw_http_as(f->srv, token, method, other, json, NULL, &b), 0);
    if (a.status != want || b.status != want)
        print_error("%s %s: %ld (%s); missing note: %ld (%s)\n", method, path, a.status, a.body,
                    b.status, b.body);
    assert_int_equal(a.status, want);
    assert_int_equal(b.status, want);
    BW_ASSERT_PROBLEM(&a, want);
    BW_ASSERT_SECURE_HEADERS(&a, NULL);
    assert_string_equal(bw_resp_header(&a, "Content-Type"), bw_resp_header(&b, "Content-Type"));
    ja = bw_test_body_sans_request_id(&a);
    jb = bw_test_body_sans_request_id(&b);
    assert_string_equal(ja, jb);
    free(ja);
    free(jb);
    bw_resp_free(&a);
    bw_resp_free(&b);
}

/* Alice's first note still holds what she wrote. */
static void assert_alice_note_intact(fixture *f)
{
    char path[64];
    json_t *doc;

    note_path(f->alice_ids[0], path, sizeof(path));
    doc = call(f, f->alice, "GET", path, NULL, 200);
    assert_string_equal(json_string_value(json_object_get(doc, "title")), ALICE_TITLE);
    assert_string_equal(json_string_value(json_object_get(doc, "body")), ALICE_BODY);
    assert_string_equal(json_string_value(json_object_get(doc, "created_at")),
                        json_string_value(json_object_get(doc, "updated_at")));
    json_decref(doc);
}

static void test_stranger_cannot_touch_note(void **state)
{
    fixture *f = *state;
    static const char change[] = "{\"title\":\"owned by bob\",\"body\":\"defaced\"}";
    char path[64];

    note_path(f->alice_ids[0], path, sizeof(path));
    assert_same_as_missing(f, f->bob, "GET", path, NULL, 404);
    assert_same_as_missing(f, f->bob, "PUT", path, change, 404);
    assert_same_as_missing(f, f->bob, "DELETE", path, NULL, 404);
    /* Another editor is the same stranger. */
    assert_same_as_missing(f, f->erin, "DELETE", path, NULL, 404);
    assert_alice_note_intact(f);
}

/* The ids of a page of `token`'s list; asserts each is one of own[0..nown). Returns the count. */
static size_t list_page(fixture *f, const char *token, const char *query,
                        char (*own)[NOTE_ID_LEN + 1], size_t nown, char (*foreign)[NOTE_ID_LEN + 1],
                        size_t nforeign)
{
    char path[128];
    json_t *doc, *items;
    size_t n;
    int k = snprintf(path, sizeof(path), "/v1/notes%s", query);

    assert_true(k > 0 && (size_t)k < sizeof(path));
    doc = call(f, token, "GET", path, NULL, 200);
    items = json_object_get(doc, "items");
    assert_true(json_is_array(items));
    n = json_array_size(items);
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(items, i);
        const char *id = json_string_value(json_object_get(it, "id"));
        const char *title = json_string_value(json_object_get(it, "title"));
        bool mine = false;

        assert_non_null(id);
        assert_non_null(title);
        for (size_t j = 0; j < nforeign; j++)
            if (strcmp(id, foreign[j]) == 0)
                fail_msg("%s lists a foreign note %s (%s)", path, id, title);
        for (size_t j = 0; j < nown; j++)
            mine |= strcmp(id, own[j]) == 0;
        if (!mine)
            fail_msg("%s lists unknown note %s (%s)", path, id, title);
    }
    json_decref(doc);
    return n;
}

static void test_list_and_cursor_stay_private(void **state)
{
    fixture *f = *state;
    char q[96];

    /* Each sees exactly their own notes. */
    assert_int_equal(
        list_page(f, f->bob, "?limit=100", f->bob_ids, BOB_NOTES, f->alice_ids, ALICE_NOTES),
        BOB_NOTES);
    assert_int_equal(
        list_page(f, f->alice, "?limit=100", f->alice_ids, ALICE_NOTES, f->bob_ids, BOB_NOTES),
        ALICE_NOTES);
    /* A cursor naming someone else's note pages nothing of theirs, whatever its position. */
    for (int i = 0; i < ALICE_NOTES; i++) {
        snprintf(q, sizeof(q), "?after=%s", f->alice_ids[i]);
        list_page(f, f->bob, q, f->bob_ids, BOB_NOTES, f->alice_ids, ALICE_NOTES);
        snprintf(q, sizeof(q), "?limit=1&after=%s", f->alice_ids[i]);
        list_page(f, f->bob, q, f->bob_ids, BOB_NOTES, f->alice_ids, ALICE_NOTES);
    }
    snprintf(q, sizeof(q), "?after=%s", f->bob_ids[BOB_NOTES - 1]);
    list_page(f, f->alice, q, f->alice_ids, ALICE_NOTES, f->bob_ids, BOB_NOTES);
    /* Someone with no notes sees none, cursor or not. */
    assert_int_equal(list_page(f, f->erin, "", NULL, 0, f->alice_ids, ALICE_NOTES), 0);
    snprintf(q, sizeof(q), "?after=%s", f->alice_ids[0]);
    assert_int_equal(list_page(f, f->erin, q, NULL, 0, f->alice_ids, ALICE_NOTES), 0);
}

/* Every permission name config/rbac.json declares must be absent from body. */
static void assert_names_no_permission(const char *body)
{
    json_t *rbac = json_load_file(BW_SOURCE_DIR "/config/rbac.json", 0, NULL);
    const char *perm;
    json_t *v;
    size_t n = 0;

    assert_non_null(rbac);
    json_object_foreach(json_object_get(rbac, "permissions"), perm, v)
    {
        (void)v;
        if (strstr(body, perm) != NULL)
            fail_msg("the refusal names the permission %s: %s", perm, body);
        n++;
    }
    json_decref(rbac);
    assert_true(n > 0);
}

static void test_viewer_cannot_write(void **state)
{
    fixture *f = *state;
    static const char note[] = "{\"title\":\"by vera\",\"body\":\"x\"}";
    char own[64], missing_id[NOTE_ID_LEN + 1], missing[64];
    bw_resp r;

    note_path(f->alice_ids[0], own, sizeof(own));
    random_id(missing_id);
    note_path(missing_id, missing, sizeof(missing));

    assert_int_equal(bw_http_as(f->srv, f->vera, "POST", "/v1/notes", note, NULL, &r), 0);
    BW_ASSERT_PROBLEM(&r, 403);
    BW_ASSERT_SECURE_HEADERS(&r, NULL);
    assert_names_no_permission(r.body);
    bw_resp_free(&r);
    /* The refusal comes before the note is looked up: existing or not, it is the same 403. */
    assert_same_as_missing(f, f->vera, "PUT", own, note, 403);
    assert_same_as_missing(f, f->vera, "DELETE", own, NULL, 403);
    assert_int_equal(bw_http_as(f->srv, f->vera, "DELETE", own, NULL, NULL, &r), 0);
    assert_names_no_permission(r.body);
    bw_resp_free(&r);

    /* Reading works, and shows vera nothing of alice's. */
    assert_int_equal(list_page(f, f->vera, "", NULL, 0, f->alice_ids, ALICE_NOTES), 0);
    assert_same_as_missing(f, f->vera, "GET", own, NULL, 404);
    assert_alice_note_intact(f);
}

/* Whether the admin's user list, paged to the end, shows name. */
static bool user_exists(fixture *f, const char *name)
{
    long long after = 0;
    bool found = false;

    for (int pages = 0; pages < 100; pages++) {
        char q[64];
        json_t *doc, *items, *next, *u;
        size_t i;

        snprintf(q, sizeof(q), "/v1/admin/users?limit=2&after=%lld", after);
        doc = call(f, f->adam, "GET", q, NULL, 200);
        items = json_object_get(doc, "items");
        json_array_foreach(items, i, u)
        {
            const char *un = json_string_value(json_object_get(u, "username"));

            assert_non_null(un);
            found |= strcmp(un, name) == 0;
        }
        next = json_object_get(doc, "next_after");
        if (!json_is_integer(next)) {
            json_decref(doc);
            return found;
        }
        after = json_integer_value(next);
        json_decref(doc);
    }
    fail_msg("the user list did not end");
    return found;
}

/* User id's roles joined by ',' as the admin sees them, compared with want. */
static void assert_roles(fixture *f, long long id, const char *want)
{
    char path[64], got[256] = "";
    json_t *doc, *r;
    size_t i, len = 0;

    snprintf(path, sizeof(path), "/v1/admin/users/%lld", id);
    doc = call(f, f->adam, "GET", path, NULL, 200);
    json_array_foreach(json_object_get(doc, "roles"), i, r)
    {
        int n = snprintf(got + len, sizeof(got) - len, "%s%s", len > 0 ? "," : "",
                         json_string_value(r));
        assert_true(n > 0 && (size_t)n < sizeof(got) - len);
        len += (size_t)n;
    }
    assert_false(json_is_true(json_object_get(doc, "disabled")));
    json_decref(doc);
    assert_string_equal(got, want);
}

static void test_editor_cannot_use_admin_routes(void **state)
{
    fixture *f = *state;
    static const char mallory[] =
        "{\"username\":\"mallory\",\"password\":\"a long enough one\",\"roles\":[\"admin\"]}";
    char erin[64], adam[64];
    bw_resp r;

    snprintf(erin, sizeof(erin), "/v1/admin/users/%lld", f->erin_id);
    snprintf(adam, sizeof(adam), "/v1/admin/users/%lld", f->adam_id);
    const struct {
        const char *method, *path, *body;
    } cases[] = {
        {"GET", "/v1/admin/users", NULL},
        {"GET", "/v1/admin/users?limit=1&after=0", NULL},
        {"POST", "/v1/admin/users", mallory},
        {"GET", erin, NULL},
        {"GET", adam, NULL},
        {"PATCH", adam, "{\"disabled\":true}"},
        {"PATCH", adam, "{\"password\":\"taken over by erin\"}"},
        {"PATCH", adam, "{\"roles\":[\"viewer\"]}"},
    };
    int nfail = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(
            bw_http_as(f->srv, f->erin, cases[i].method, cases[i].path, cases[i].body, NULL, &r),
            0);
        char why[512];
        static const long forbidden[] = {403};
        if (!bw_check_refusal(&r, forbidden, 1, why, sizeof(why)))
            BW_CASE_FAIL(nfail, "%s %s: %s", cases[i].method, cases[i].path, why);
        else if (strstr(r.body, "users:") != NULL)
            BW_CASE_FAIL(nfail, "%s %s names the permission: %s", cases[i].method, cases[i].path,
                         r.body);
        else if (strstr(r.body, BW_TEST_MFA_REQUIRED_TYPE) != NULL)
            BW_CASE_FAIL(nfail, "%s %s: erin has a second factor, the permission refuses: %s",
                         cases[i].method, cases[i].path, r.body);
        bw_resp_free(&r);
    }
    BW_CASES_DONE(nfail);

    /* Nothing happened: no new user, adam untouched and still signed in. */
    assert_false(user_exists(f, "mallory"));
    assert_true(user_exists(f, "erin"));
    assert_roles(f, f->adam_id, "admin");
    assert_int_equal(me_id(f, f->adam), f->adam_id);
}

static void test_no_self_escalation(void **state)
{
    fixture *f = *state;
    char erin[64], vera[64];
    json_t *me;

    snprintf(erin, sizeof(erin), "/v1/admin/users/%lld", f->erin_id);
    snprintf(vera, sizeof(vera), "/v1/admin/users/%lld", me_id(f, f->vera));
    expect(f, f->erin, "PATCH", erin, "{\"roles\":[\"admin\"]}", 403);
    expect(f, f->erin, "PATCH", erin, "{\"roles\":[\"editor\",\"admin\"]}", 403);
    expect(f, f->vera, "PATCH", vera, "{\"roles\":[\"editor\"]}", 403);
    expect(f, f->vera, "PATCH", erin, "{\"roles\":[\"admin\"]}", 403);
    expect(f, f->erin, "POST", "/v1/admin/users",
           "{\"username\":\"erin2\",\"password\":\"a long enough one\",\"roles\":[\"admin\"]}",
           403);

    /* A role change would have ended erin's session; it is alive and still an editor's. */
    me = call(f, f->erin, "GET", "/v1/auth/me", NULL, 200);
    assert_int_equal(json_array_size(json_object_get(me, "roles")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(me, "roles"), 0)),
                        "editor");
    json_decref(me);
    assert_roles(f, f->erin_id, "editor");
    assert_false(user_exists(f, "erin2"));
    expect(f, f->erin, "GET", "/v1/admin/users", NULL, 403);
    expect(f, f->vera, "POST", "/v1/notes", "{\"title\":\"t\",\"body\":\"b\"}", 403);
}

/* An admin whose session passed no second factor is refused every admin route (after the
 * permission check, with the mfa-required type), and nothing happens. */
static void test_admin_needs_second_factor(void **state)
{
    fixture *f = *state;
    static const char mallory[] =
        "{\"username\":\"mallory\",\"password\":\"a long enough one\",\"roles\":[\"admin\"]}";
    char erin[64];

    snprintf(erin, sizeof(erin), "/v1/admin/users/%lld", f->erin_id);
    const struct {
        const char *method, *path, *body;
    } cases[] = {
        {"GET", "/v1/admin/users", NULL},
        {"POST", "/v1/admin/users", mallory},
        {"GET", erin, NULL},
        {"PATCH", erin, "{\"roles\":[\"admin\"]}"},
        {"PATCH", erin, "{\"disabled\":true}"},
    };
    int nfail = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (bw_test_mfa_refused(f->srv, f->ada, cases[i].method, cases[i].path, cases[i].body) != 0)
            BW_CASE_FAIL(nfail, "%s %s: not refused for want of a factor", cases[i].method,
                         cases[i].path);
    BW_CASES_DONE(nfail);
    assert_false(user_exists(f, "mallory"));
    assert_roles(f, f->erin_id, "editor");
    assert_int_equal(me_id(f, f->erin), f->erin_id);
}

static void test_admin_moderates(void **state)
{
    fixture *f = *state;
    char path[64], missing_id[NOTE_ID_LEN + 1];
    json_t *doc;

    /* notes:moderate is the other branch of bw_authz_owner_or: adam owns nothing here. */
    note_path(f->alice_ids[0], path, sizeof(path));
    doc = call(f, f->adam, "GET", path, NULL, 200);
    assert_string_equal(json_string_value(json_object_get(doc, "id")), f->alice_ids[0]);
    assert_string_equal(json_string_value(json_object_get(doc, "title")), ALICE_TITLE);
    assert_string_equal(json_string_value(json_object_get(doc, "body")), ALICE_BODY);
    json_decref(doc);
    note_path(f->bob_ids[0], path, sizeof(path));
    doc = call(f, f->adam, "GET", path, NULL, 200);
    assert_string_equal(json_string_value(json_object_get(doc, "title")), "bob note 0");
    json_decref(doc);
    /* Moderation opens single notes, not the list: that stays the caller's own. */
    assert_int_equal(list_page(f, f->adam, "", NULL, 0, f->alice_ids, ALICE_NOTES), 0);
    /* And a note that does not exist is still 404 for the moderator. */
    random_id(missing_id);
    note_path(missing_id, path, sizeof(path));
    expect(f, f->adam, "GET", path, NULL, 404);
}

/* Operations the service means to be public, as "METHOD path" (METHOD upper case). */
static const char *const PUBLIC_OPS[] = {
    "GET /healthz",
    "GET /readyz",
    "POST /v1/auth/login",
    "GET /openapi.json",
};

static bool is_listed_public(const char *op)
{
    for (size_t i = 0; i < sizeof(PUBLIC_OPS) / sizeof(PUBLIC_OPS[0]); i++)
        if (strcmp(op, PUBLIC_OPS[i]) == 0)
            return true;
    return false;
}

/* The type of path parameter name from an operation's (or its path item's) parameters. */
static const char *param_type(const json_t *op, const json_t *item, const char *name, size_t len)
{
    const json_t *lists[2] = {json_object_get(op, "parameters"),
                              json_object_get(item, "parameters")};

    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *p;

        json_array_foreach(lists[l], i, p)
        {
            const char *n = json_string_value(json_object_get(p, "name"));
            const char *in = json_string_value(json_object_get(p, "in"));
            const char *type =
                json_string_value(json_object_get(json_object_get(p, "schema"), "type"));

            if (n != NULL && strlen(n) == len && strncmp(n, name, len) == 0 && in != NULL &&
                strcmp(in, "path") == 0 && type != NULL)
                return type;
        }
    }
    return NULL;
}

/* template with each {param} replaced by a value of the shape the service takes (an integer,
 * or a note-style id of 32 lower-case hex), so the 401 does not depend on authentication
 * running before path validation. Returns 0, or -1 when it does not fit. */
static int fill_path(const char *tmpl, const json_t *op, const json_t *item, char *out, size_t cap)
{
    size_t o = 0;

    for (const char *p = tmpl; *p != '\0';) {
        const char *val;
        size_t vlen;

        if (*p == '{') {
            const char *end = strchr(p, '}');
            const char *type;

            if (end == NULL)
                return -1;
            type = param_type(op, item, p + 1, (size_t)(end - p - 1));
            val = type != NULL && strcmp(type, "integer") == 0 ? "7"
                                                               : "0123456789abcdef0123456789abcdef";
            vlen = strlen(val);
            p = end + 1;
        } else {
            val = p;
            vlen = 1;
            p++;
        }
        if (o + vlen >= cap)
            return -1;
        memcpy(out + o, val, vlen);
        o += vlen;
    }
    out[o] = '\0';
    return 0;
}

/* What one protected operation answers without, or with a worthless, credential. */
static void check_unauthenticated(fixture *f, const char *op, const char *method, const char *path,
                                  int *nfail)
{
    static const long unauthorized[] = {401};
    const char *body = strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0 ? NULL : "{}";
    const char *const basic[] = {"Authorization: Basic YWRhbTpjb3JyZWN0", NULL};
    const char *const cookie[] = {"Cookie: __Host-bw_session=forged-session-value", NULL};
    const struct {
        const char *what, *token;
        const char *const *extra;
        bool invalid;
    } creds[] = {
        {"no credential", NULL, NULL, false},
        {"an unknown bearer token", "bm90LWEtdG9rZW4", NULL, true},
        {"another scheme", NULL, basic, true},
        {"an unknown session cookie", NULL, cookie, true},
    };

    for (size_t i = 0; i < sizeof(creds) / sizeof(creds[0]); i++) {
        char why[512];
        const char *www;
        bw_resp r;

        if (bw_http_as(f->srv, creds[i].token, method, path, body, creds[i].extra, &r) != 0) {
            BW_CASE_FAIL(*nfail, "%s with %s: transport error", op, creds[i].what);
            continue;
        }
        www = bw_resp_header(&r, "WWW-Authenticate");
        if (!bw_check_refusal(&r, unauthorized, 1, why, sizeof(why)))
            BW_CASE_FAIL(*nfail, "%s (%s) with %s: %s", op, path, creds[i].what, why);
        else if (www == NULL || strncmp(www, REALM, sizeof(REALM) - 1) != 0)
            BW_CASE_FAIL(*nfail, "%s with %s: WWW-Authenticate %s", op, creds[i].what,
                         www != NULL ? www : "missing");
        else if ((strstr(www, "invalid_token") != NULL) != creds[i].invalid)
            BW_CASE_FAIL(*nfail, "%s with %s: WWW-Authenticate %s", op, creds[i].what, www);
        bw_resp_free(&r);
    }
    /* HEAD is served wherever GET is, and must not slip past the check either. */
    if (strcmp(method, "GET") == 0) {
        bw_resp r;

        if (bw_http(f->srv, "HEAD", path, NULL, NULL, 0, &r) != 0) {
            BW_CASE_FAIL(*nfail, "HEAD of %s: transport error", op);
            return;
        }
        if (r.status != 401 || bw_resp_header(&r, "WWW-Authenticate") == NULL)
            BW_CASE_FAIL(*nfail, "HEAD of %s: %ld", op, r.status);
        bw_resp_free(&r);
    }
}

static void test_every_protected_route_needs_credentials(void **state)
{
    fixture *f = *state;
    static const char *const methods[] = {"get",   "put",  "post",    "delete",
                                          "patch", "head", "options", "trace"};
    json_t *doc = call(f, NULL, "GET", "/openapi.json", NULL, 200);
    json_t *paths = json_object_get(doc, "paths"), *item;
    const char *tmpl;
    size_t nprotected = 0, npublic = 0;
    bool saw_param_route = false;
    int nfail = 0;

    assert_true(json_object_size(paths) > 0);
    json_object_foreach(paths, tmpl, item)
    {
        for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
            json_t *op = json_object_get(item, methods[m]);
            json_t *sec = json_object_get(op, "security");
            char method[16], label[512], path[512];
            size_t k;

            if (op == NULL)
                continue;
            for (k = 0; methods[m][k] != '\0'; k++)
                method[k] = (char)(methods[m][k] - 'a' + 'A');
            method[k] = '\0';
            snprintf(label, sizeof(label), "%s %s", method, tmpl);
            /* "security": [] marks a public operation; it must be one we meant. */
            if (json_is_array(sec) && json_array_size(sec) == 0) {
                if (!is_listed_public(label))
                    BW_CASE_FAIL(nfail, "%s is public but not in the list of public routes", label);
                npublic++;
                continue;
            }
            if (fill_path(tmpl, op, item, path, sizeof(path)) != 0) {
                BW_CASE_FAIL(nfail, "%s: cannot fill in its parameters", label);
                continue;
            }
            saw_param_route |= strchr(tmpl, '{') != NULL;
            nprotected++;
            check_unauthenticated(f, label, method, path, &nfail);
        }
    }
    json_decref(doc);
    BW_CASES_DONE(nfail);
    /* The document was read: every listed public route was found, and routes with parameters
     * were among the protected ones. */
    assert_int_equal(npublic, sizeof(PUBLIC_OPS) / sizeof(PUBLIC_OPS[0]));
    assert_true(nprotected > 0);
    assert_true(saw_param_route);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stranger_cannot_touch_note),
        cmocka_unit_test(test_list_and_cursor_stay_private),
        cmocka_unit_test(test_viewer_cannot_write),
        cmocka_unit_test(test_editor_cannot_use_admin_routes),
        cmocka_unit_test(test_no_self_escalation),
        cmocka_unit_test(test_admin_needs_second_factor),
        cmocka_unit_test(test_admin_moderates),
        cmocka_unit_test(test_every_protected_route_needs_credentials),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
