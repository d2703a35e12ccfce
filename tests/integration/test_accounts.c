/* The sample service as a multi-user service, over HTTPS: login and me, notes CRUD with
 * ownership and pagination, admin user management, and the `user` / `apikey` commands. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth_client.h"
#include "harness.h"
#include "totp_client.h"

static const char *const PW = "correct horse battery staple";

typedef struct fixture {
    bw_srv *srv;
    char *alice; /* editor */
    char *adam;  /* admin, with a second factor (the admin routes demand it) */
    char adam_b32[BW_TEST_TOTP_B32_SIZE];
    uint64_t adam_step;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || (f->srv = bw_srv_start(NULL)) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    if (bw_test_user_add(f->srv, "alice", PW, "editor") != 0 ||
        bw_test_user_add(f->srv, "adam", PW, "admin") != 0 ||
        bw_test_login(f->srv, "alice", PW, &f->alice, NULL) != 0 ||
        bw_test_login(f->srv, "adam", PW, &f->adam, NULL) != 0 ||
        bw_test_mfa_upgrade(f->srv, &f->adam, f->adam_b32, &f->adam_step) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc;

    if (f == NULL)
        return -1;
    rc = bw_srv_stop(f->srv);

    free(f->alice);
    free(f->adam);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Sends a request as `token` and returns the parsed JSON body (caller decrefs), asserting the
 * status. */
static json_t *call(fixture *f, const char *token, const char *method, const char *path,
                    const char *json, long want)
{
    return bw_test_call(f->srv, token, method, path, json, want);
}

static void test_me(void **state)
{
    fixture *f = *state;
    json_t *me = call(f, f->alice, "GET", "/v1/auth/me", NULL, 200);

    assert_string_equal(json_string_value(json_object_get(me, "username")), "alice");
    assert_string_equal(json_string_value(json_object_get(me, "auth")), "session");
    assert_int_equal(json_array_size(json_object_get(me, "roles")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(me, "roles"), 0)),
                        "editor");
    json_decref(me);
    json_decref(call(f, NULL, "GET", "/v1/auth/me", NULL, 401));
}

static void test_notes_crud_and_pages(void **state)
{
    fixture *f = *state;
    char path[256], body[128], id[33] = "";
    const char *after = NULL;
    size_t seen = 0;
    json_t *doc;

    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body, "{\"title\":\"n%d\",\"body\":\"text %d\"}", i, i);
        doc = call(f, f->alice, "POST", "/v1/notes", body, 201);
        snprintf(id, sizeof id, "%s", json_string_value(json_object_get(doc, "id")));
        json_decref(doc);
    }
    /* Pages of 2, newest first, following the cursor: 2 + 2 + 1, no overlap. */
    json_t *prev = NULL;
    for (int page = 0; page < 3; page++) {
        if (after != NULL)
            snprintf(path, sizeof path, "/v1/notes?limit=2&after=%s", after);
        else
            snprintf(path, sizeof path, "/v1/notes?limit=2");
        doc = call(f, f->alice, "GET", path, NULL, 200);
        json_t *items = json_object_get(doc, "items");
        assert_int_equal(json_array_size(items), page < 2 ? 2 : 1);
        if (page == 0)
            assert_string_equal(
                json_string_value(json_object_get(json_array_get(items, 0), "title")), "n4");
        seen += json_array_size(items);
        json_decref(prev);
        prev = doc;
        after = json_string_value(json_object_get(doc, "next_after"));
        if (page < 2)
            assert_non_null(after);
        else
            assert_null(after);
    }
    json_decref(prev);
    assert_int_equal(seen, 5);

    /* Read, replace, delete the last one created. */
    snprintf(path, sizeof path, "/v1/notes/%s", id);
    doc = call(f, f->alice, "GET", path, NULL, 200);
    assert_string_equal(json_string_value(json_object_get(doc, "body")), "text 4");
    json_decref(doc);
    doc = call(f, f->alice, "PUT", path, "{\"title\":\"new\",\"body\":\"b\"}", 200);
    assert_string_equal(json_string_value(json_object_get(doc, "title")), "new");
    json_decref(doc);
    json_decref(call(f, f->alice, "DELETE", path, NULL, 204));
    json_decref(call(f, f->alice, "GET", path, NULL, 404));
}

static void test_admin_users(void **state)
{
    fixture *f = *state;
    char *carol = NULL;
    char path[64];
    json_t *doc;
    long long id;

    doc = call(f, f->adam, "POST", "/v1/admin/users",
               "{\"username\":\"Carol\",\"password\":\"a long enough one\",\"roles\":[\"viewer\"]}",
               201);
    id = json_integer_value(json_object_get(doc, "id"));
    assert_string_equal(json_string_value(json_object_get(doc, "username")), "carol");
    json_decref(doc);
    /* Same name in another case, a role RBAC does not know, a short password. */
    json_decref(call(f, f->adam, "POST", "/v1/admin/users",
                     "{\"username\":\"carol\",\"password\":\"a long enough one\",\"roles\":[]}",
                     409));
    json_decref(call(
        f, f->adam, "POST", "/v1/admin/users",
        "{\"username\":\"dave\",\"password\":\"a long enough one\",\"roles\":[\"root\"]}", 400));
    json_decref(call(f, f->adam, "POST", "/v1/admin/users",
                     "{\"username\":\"dave\",\"password\":\"dave\",\"roles\":[]}", 400));

    /* Keyset pages of one user each cover everyone once. */
    long long after = 0;
    int users = 0;
    for (;;) {
        char q[64];
        snprintf(q, sizeof q, "/v1/admin/users?limit=1&after=%lld", after);
        doc = call(f, f->adam, "GET", q, NULL, 200);
        users += (int)json_array_size(json_object_get(doc, "items"));
        json_t *next = json_object_get(doc, "next_after");
        if (!json_is_integer(next)) {
            json_decref(doc);
            break;
        }
        assert_true(json_integer_value(next) > after);
        after = json_integer_value(next);
        json_decref(doc);
    }
    assert_true(users >= 3);

    /* A role change ends carol's sessions; disabling her stops logins. */
    assert_int_equal(bw_test_login(f->srv, "carol", "a long enough one", &carol, NULL), 0);
    json_decref(call(f, carol, "GET", "/v1/notes", NULL, 200));
    json_decref(call(f, carol, "POST", "/v1/notes", "{\"title\":\"t\",\"body\":\"b\"}", 403));
    snprintf(path, sizeof path, "/v1/admin/users/%lld", id);
    doc = call(f, f->adam, "PATCH", path, "{\"roles\":[\"editor\"]}", 200);
    assert_string_equal(json_string_value(json_array_get(json_object_get(doc, "roles"), 0)),
                        "editor");
    json_decref(doc);
    json_decref(call(f, carol, "GET", "/v1/notes", NULL, 401));
    free(carol);
    carol = NULL;
    /* A password change (hashed before the write lock) takes effect at once; a refused one,
     * sent with a role change, changes neither. */
    json_decref(call(f, f->adam, "PATCH", path, "{\"password\":\"a brand new passphrase\"}", 200));
    long status = 0;
    assert_int_equal(bw_test_login(f->srv, "carol", "a long enough one", &carol, &status), -1);
    assert_int_equal(status, 401);
    assert_int_equal(bw_test_login(f->srv, "carol", "a brand new passphrase", &carol, NULL), 0);
    free(carol);
    carol = NULL;
    json_decref(
        call(f, f->adam, "PATCH", path, "{\"password\":\"carol\", \"roles\":[\"admin\"]}", 400));
    doc = call(f, f->adam, "GET", path, NULL, 200);
    assert_string_equal(json_string_value(json_array_get(json_object_get(doc, "roles"), 0)),
                        "editor");
    json_decref(doc);
    assert_int_equal(bw_test_login(f->srv, "carol", "a brand new passphrase", &carol, NULL), 0);
    free(carol);
    json_decref(call(f, f->adam, "PATCH", path, "{\"disabled\":true}", 200));
    assert_int_equal(bw_test_login(f->srv, "carol", "a brand new passphrase", &carol, &status), -1);
    assert_int_equal(status, 401);
    json_decref(call(f, f->adam, "GET", "/v1/admin/users/999999", NULL, 404));
    /* An editor is not an admin. */
    json_decref(call(f, f->alice, "GET", "/v1/admin/users", NULL, 403));
}

/* The admin routes demand a second factor: an admin whose session passed none is refused
 * every one of them with the mfa-required type, and nothing changes. */
static void test_admin_routes_need_second_factor(void **state)
{
    fixture *f = *state;
    char *ada = NULL, path[64];
    json_t *doc;
    long long id;

    assert_int_equal(bw_test_user_add(f->srv, "ada", PW, "admin"), 0);
    assert_int_equal(bw_test_login(f->srv, "ada", PW, &ada, NULL), 0);
    doc = call(f, f->adam, "GET", "/v1/admin/users?limit=1", NULL, 200);
    id =
        json_integer_value(json_object_get(json_array_get(json_object_get(doc, "items"), 0), "id"));
    json_decref(doc);
    snprintf(path, sizeof path, "/v1/admin/users/%lld", id);
    assert_int_equal(bw_test_mfa_refused(f->srv, ada, "GET", "/v1/admin/users", NULL), 0);
    assert_int_equal(
        bw_test_mfa_refused(
            f->srv, ada, "POST", "/v1/admin/users",
            "{\"username\":\"eve\",\"password\":\"a long enough one\",\"roles\":[\"admin\"]}"),
        0);
    assert_int_equal(bw_test_mfa_refused(f->srv, ada, "GET", path, NULL), 0);
    assert_int_equal(bw_test_mfa_refused(f->srv, ada, "PATCH", path, "{\"disabled\":true}"), 0);
    /* Nothing happened: no eve, the first user still enabled; ada's session still works. */
    doc = call(f, f->adam, "GET", path, NULL, 200);
    assert_true(json_is_false(json_object_get(doc, "disabled")));
    json_decref(doc);
    doc = call(f, f->adam, "GET", "/v1/admin/users?limit=100", NULL, 200);
    for (size_t i = 0; i < json_array_size(json_object_get(doc, "items")); i++) {
        json_t *u = json_array_get(json_object_get(doc, "items"), i);
        assert_string_not_equal(json_string_value(json_object_get(u, "username")), "eve");
    }
    json_decref(doc);
    json_decref(call(f, ada, "GET", "/v1/auth/me", NULL, 200));
    free(ada);
}

static void test_cli_and_apikey(void **state)
{
    fixture *f = *state;
    const char *list[] = {"user", "list", NULL};
    const char *bad_roles[] = {"user", "set-roles", "alice", "root", NULL};
    const char *no_user[] = {"user", "disable", "nobody", NULL};
    char *key = NULL;
    bw_run_result r;
    json_t *me;

    assert_int_equal(bw_srv_run(f->srv, list, NULL, &r), 0);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\talice\teditor\tactive"));
    bw_run_free(&r);
    assert_int_equal(bw_srv_run(f->srv, bad_roles, NULL, &r), 0);
    assert_int_equal(r.status, 2);
    bw_run_free(&r);
    assert_int_equal(bw_srv_run(f->srv, no_user, NULL, &r), 0);
    assert_int_equal(r.status, 1);
    bw_run_free(&r);
    /* A weak password is refused by the CLI too, and nothing is created. */
    assert_int_equal(bw_test_user_add(f->srv, "weak", "weak", "viewer"), -1);

    /* A key cannot hold more than its owner. */
    assert_int_equal(bw_test_apikey_create(f->srv, "alice", "ci job", "admin", 0, &key), -1);
    assert_int_equal(bw_test_apikey_create(f->srv, "alice", "ci job", "viewer", 30, &key), 0);
    me = call(f, key, "GET", "/v1/auth/me", NULL, 200);
    assert_string_equal(json_string_value(json_object_get(me, "auth")), "apikey");
    assert_string_equal(json_string_value(json_object_get(me, "username")), "alice");
    assert_string_equal(json_string_value(json_array_get(json_object_get(me, "roles"), 0)),
                        "viewer");
    json_decref(me);
    /* A key is not a session: it cannot log out. */
    json_decref(call(f, key, "POST", "/v1/auth/logout", NULL, 400));
    free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_me),
        cmocka_unit_test(test_notes_crud_and_pages),
        cmocka_unit_test(test_admin_users),
        cmocka_unit_test(test_admin_routes_need_second_factor),
        cmocka_unit_test(test_cli_and_apikey),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
