/* Unit tests for the user module: name rule, add/find/get, updates, keyset listing, and the
 * database error paths (missing table, oversized stored values, non-UNIQUE constraints). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/store.h"
#include "bulwark/user.h"
#include "harness.h"
#include "temp_store.h"

typedef struct {
    bw_temp_store ts;
} fixture;

static int teardown(void **state)
{
    fixture *f = *state;

    if (f == NULL)
        return 0;
    bw_temp_store_close(&f->ts);
    free(f);
    return 0;
}

/* A fresh store in a temp dir; with_schema applies migrations/. */
static int open_fixture(void **state, bool with_schema)
{
    fixture *f = calloc(1, sizeof(*f));

    *state = f;
    if (f == NULL || bw_temp_store_open(&f->ts, with_schema) != 0) {
        free(f);
        *state = NULL;
        return -1;
    }
    return 0;
}

static int setup(void **state)
{
    return open_fixture(state, true);
}

static int setup_empty(void **state)
{
    return open_fixture(state, false);
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char err[256] = "";

    if (bw_store_exec_script(db, sql, strlen(sql), err, sizeof(err)) != 0)
        fail_msg("%s: %s", sql, err);
}

static long long add_ok(sqlite3 *db, const char *name, const char *hash, const char *roles)
{
    char err[256] = "";
    long long id = -1;
    int rc = bw_user_add(db, name, hash, roles, &id, err, sizeof(err));

    if (rc != 0)
        fail_msg("bw_user_add(%s) = %d: %s", name, rc, err);
    assert_true(id > 0);
    return id;
}

/* Inserts a row behind the module's back, to store values it would never write. */
static long long insert_raw(sqlite3 *db, const char *name, const char *hash, const char *roles)
{
    sqlite3_stmt *st = NULL;

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO users (username, password_hash, roles,"
                                        " created_at) VALUES (?1, ?2, ?3, ?4)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT), SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT), SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 3, roles, -1, SQLITE_TRANSIENT), SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 4, "2024-01-31T12:00:00.000Z", -1, SQLITE_STATIC),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    return sqlite3_last_insert_rowid(db);
}

static long long count_users(sqlite3 *db)
{
    return bw_test_sql_int(db, "SELECT count(*) FROM users");
}

/* A string of n copies of c (n < cap). */
static char *fill(char *buf, size_t cap, char c, size_t n)
{
    assert_true(n < cap);
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

/* ------------------------------------------------------------------------------------------- */

static void test_name_normalize_table(void **state)
{
    static const struct {
        const char *in;
        size_t len;       /* 0: strlen(in) */
        const char *want; /* NULL: refused */
    } cases[] = {
        {"alice", 0, "alice"},
        {"Alice", 0, "alice"},
        {"ALICE", 0, "alice"},
        {"a", 0, "a"},
        {"Z", 0, "z"},
        {"0", 0, "0"},
        {"9lives", 0, "9lives"},
        {"Bob.Smith_2-x@Example.COM", 0, "bob.smith_2-x@example.com"},
        {"a.", 0, "a."},
        {"a@", 0, "a@"},
        {"alice bob", 5, "alice"}, /* the length given is what counts */
        {".alice", 0, NULL},
        {"_alice", 0, NULL},
        {"-alice", 0, NULL},
        {"@alice", 0, NULL},
        {"a b", 0, NULL},
        {"a+b", 0, NULL},
        {"a/b", 0, NULL},
        {"a:b", 0, NULL},
        {"a'b", 0, NULL},
        {"a\"b", 0, NULL},
        {"a%b", 0, NULL},
        {"a\\b", 0, NULL},
        {"a\tb", 0, NULL},
        {"alice\n", 0, NULL},
        {" alice", 0, NULL},
        {"al\0ce", 5, NULL},
        {"\xc3\xa9t\xc3\xa9", 0, NULL}, /* UTF-8 letters are not folded or allowed */
        {"a\x7f", 0, NULL},
        {"a\xff", 0, NULL},
        {"", 0, NULL},
    };
    char out[BW_USER_NAME_MAX + 1];
    size_t i;
    int nfail = 0;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].in);
        int rc;

        memset(out, 'x', sizeof(out));
        rc = bw_user_name_normalize(cases[i].in, len, out, sizeof(out));
        if (cases[i].want == NULL && (rc != -1 || out[0] != '\0'))
            BW_CASE_FAIL(nfail, "case %zu: accepted (rc %d, out \"%s\")", i, rc, out);
        if (cases[i].want != NULL && (rc != 0 || strcmp(out, cases[i].want) != 0))
            BW_CASE_FAIL(nfail, "case %zu: rc %d, out \"%s\", want \"%s\"", i, rc,
                         rc == 0 ? out : "", cases[i].want);
    }
    BW_CASES_DONE(nfail);
}

static void test_name_normalize_bounds(void **state)
{
    char in[BW_USER_NAME_MAX + 2], out[BW_USER_NAME_MAX + 1];

    (void)state;
    fill(in, sizeof(in), 'A', BW_USER_NAME_MAX);
    assert_int_equal(bw_user_name_normalize(in, BW_USER_NAME_MAX, out, sizeof(out)), 0);
    assert_int_equal(strlen(out), BW_USER_NAME_MAX);
    assert_int_equal(out[0], 'a');
    assert_int_equal(out[BW_USER_NAME_MAX - 1], 'a');
    fill(in, sizeof(in), 'a', BW_USER_NAME_MAX + 1);
    assert_int_equal(bw_user_name_normalize(in, BW_USER_NAME_MAX + 1, out, sizeof(out)), -1);
    /* A buffer too small for the longest name is refused even for a short name. */
    assert_int_equal(bw_user_name_normalize("bob", 3, out, BW_USER_NAME_MAX), -1);
    assert_int_equal(bw_user_name_normalize(NULL, 3, out, sizeof(out)), -1);
    assert_int_equal(bw_user_name_normalize("bob", 3, NULL, sizeof(out)), -1);
}

/* "2024-01-31T12:00:00.000Z", and within a minute of now. */
static void assert_created_now(const char *s)
{
    struct tm tm;
    const char *end;
    time_t t, now = time(NULL);
    size_t i;

    assert_int_equal(strlen(s), 24);
    for (i = 0; i < 24; i++) {
        char c = s[i];

        switch (i) {
        case 4:
        case 7:
            assert_int_equal(c, '-');
            break;
        case 10:
            assert_int_equal(c, 'T');
            break;
        case 13:
        case 16:
            assert_int_equal(c, ':');
            break;
        case 19:
            assert_int_equal(c, '.');
            break;
        case 23:
            assert_int_equal(c, 'Z');
            break;
        default:
            assert_true(c >= '0' && c <= '9');
        }
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(end);
    assert_int_equal(*end, '.');
    t = timegm(&tm);
    assert_true(t >= now - 60 && t <= now + 1);
}

static void test_add_find_get(void **state)
{
    fixture *f = *state;
    static const char hash[] = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
    bw_user u, v;
    long long id, id2;

    id = add_ok(f->ts.db, "Alice.Smith@Example.com", hash, "editor,viewer");
    id2 = add_ok(f->ts.db, "bob", "", "");
    assert_true(id2 != id);

    assert_int_equal(bw_user_find(f->ts.db, "alice.smith@example.com", &u), 1);
    assert_int_equal(u.id, id);
    assert_string_equal(u.name, "alice.smith@example.com");
    assert_string_equal(u.password_hash, hash);
    assert_string_equal(u.roles, "editor,viewer");
    assert_false(u.disabled);
    assert_created_now(u.created_at);

    /* Any case finds the same user. */
    assert_int_equal(bw_user_find(f->ts.db, "ALICE.SMITH@EXAMPLE.COM", &v), 1);
    assert_int_equal(v.id, id);
    assert_int_equal(bw_user_get(f->ts.db, id, &v), 1);
    assert_memory_equal(&u, &v, sizeof(u));

    assert_int_equal(bw_user_get(f->ts.db, id2, &v), 1);
    assert_string_equal(v.name, "bob");
    assert_string_equal(v.password_hash, "");
    assert_string_equal(v.roles, "");

    /* Not found: unknown name, unknown id, and a name no user can have. */
    assert_int_equal(bw_user_find(f->ts.db, "carol", &v), 0);
    assert_int_equal(v.id, 0);
    assert_int_equal(bw_user_get(f->ts.db, id2 + 1000, &v), 0);
    assert_int_equal(bw_user_get(f->ts.db, -1, &v), 0);
    assert_int_equal(bw_user_find(f->ts.db, "-bob", &v), 0);
    assert_int_equal(bw_user_find(f->ts.db, "", &v), 0);

    assert_int_equal(bw_user_find(NULL, "bob", &v), -1);
    assert_int_equal(bw_user_find(f->ts.db, NULL, &v), -1);
    assert_int_equal(bw_user_find(f->ts.db, "bob", NULL), -1);
    assert_int_equal(bw_user_get(f->ts.db, id, NULL), -1);
}

static void test_add_duplicate_any_case(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    long long id = -1, other = 12345;

    id = add_ok(f->ts.db, "alice", "", "viewer");
    assert_int_equal(bw_user_add(f->ts.db, "ALICE", "", "", &other, err, sizeof(err)), 1);
    assert_int_equal(bw_user_add(f->ts.db, "alice", "", "", &other, err, sizeof(err)), 1);
    assert_int_equal(bw_user_add(f->ts.db, "aLiCe", "", "", &other, err, sizeof(err)), 1);
    assert_int_equal(other, 12345); /* untouched when the name is taken */
    assert_int_equal(count_users(f->ts.db), 1);
    assert_true(add_ok(f->ts.db, "alice2", "", "") > id);
}

static void test_add_refuses_bad_input(void **state)
{
    fixture *f = *state;
    char err[256], big[BW_USER_ROLES_MAX + 2];
    long long id = 0;
    bw_user u;

    err[0] = '\0';
    assert_int_equal(bw_user_add(f->ts.db, "-x", "", "", &id, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "user name"));
    err[0] = '\0';
    assert_int_equal(bw_user_add(f->ts.db, fill(big, sizeof(big), 'a', BW_USER_NAME_MAX + 1), "",
                                 "", &id, err, sizeof(err)),
                     -1);
    assert_true(err[0] != '\0');
    /* Values that would not fit a bw_user when read back are refused, not truncated later. */
    assert_int_equal(bw_user_add(f->ts.db, "bob", fill(big, sizeof(big), 'h', BW_PASSWORD_HASH_MAX),
                                 "", &id, err, sizeof(err)),
                     -1);
    assert_int_equal(bw_user_add(f->ts.db, "bob", "",
                                 fill(big, sizeof(big), 'r', BW_USER_ROLES_MAX), &id, err,
                                 sizeof(err)),
                     -1);
    assert_int_equal(bw_user_add(f->ts.db, "bob", NULL, "", &id, err, sizeof(err)), -1);
    assert_int_equal(bw_user_add(f->ts.db, "bob", "", NULL, &id, err, sizeof(err)), -1);
    assert_int_equal(bw_user_add(f->ts.db, NULL, "", "", &id, err, sizeof(err)), -1);
    assert_int_equal(bw_user_add(f->ts.db, "bob", "", "", NULL, err, sizeof(err)), -1);
    assert_int_equal(bw_user_add(NULL, "bob", "", "", &id, err, sizeof(err)), -1);
    assert_int_equal(count_users(f->ts.db), 0);

    /* The largest values that fit round-trip exactly. */
    id = add_ok(f->ts.db, fill(big, sizeof(big), 'b', BW_USER_NAME_MAX), "", "");
    assert_int_equal(bw_user_get(f->ts.db, id, &u), 1);
    assert_int_equal(strlen(u.name), BW_USER_NAME_MAX);
    id = add_ok(f->ts.db, "carol", fill(big, sizeof(big), 'h', BW_PASSWORD_HASH_MAX - 1), "");
    assert_int_equal(bw_user_get(f->ts.db, id, &u), 1);
    assert_int_equal(strlen(u.password_hash), BW_PASSWORD_HASH_MAX - 1);
    id = add_ok(f->ts.db, "dave", "", fill(big, sizeof(big), 'r', BW_USER_ROLES_MAX - 1));
    assert_int_equal(bw_user_get(f->ts.db, id, &u), 1);
    assert_int_equal(strlen(u.roles), BW_USER_ROLES_MAX - 1);
    assert_string_equal(u.roles, big);
}

static void test_set_fields(void **state)
{
    fixture *f = *state;
    char big[BW_USER_ROLES_MAX + 2];
    long long id = add_ok(f->ts.db, "alice", "", "viewer");
    long long other = add_ok(f->ts.db, "bob", "$old", "admin");
    bw_user u;

    assert_int_equal(bw_user_set_password_hash(f->ts.db, id, "$argon2id$new"), 1);
    assert_int_equal(bw_user_set_roles(f->ts.db, id, "editor,viewer"), 1);
    assert_int_equal(bw_user_set_disabled(f->ts.db, id, true), 1);
    assert_int_equal(bw_user_get(f->ts.db, id, &u), 1);
    assert_string_equal(u.password_hash, "$argon2id$new");
    assert_string_equal(u.roles, "editor,viewer");
    assert_true(u.disabled);

    /* Writing the value it already has still reports the user as there. */
    assert_int_equal(bw_user_set_disabled(f->ts.db, id, true), 1);
    assert_int_equal(bw_user_set_disabled(f->ts.db, id, false), 1);
    assert_int_equal(bw_user_set_password_hash(f->ts.db, id, ""), 1);
    assert_int_equal(bw_user_set_roles(f->ts.db, id, ""), 1);
    assert_int_equal(bw_user_get(f->ts.db, id, &u), 1);
    assert_false(u.disabled);
    assert_string_equal(u.password_hash, "");
    assert_string_equal(u.roles, "");

    /* The other user is untouched. */
    assert_int_equal(bw_user_get(f->ts.db, other, &u), 1);
    assert_string_equal(u.password_hash, "$old");
    assert_string_equal(u.roles, "admin");
    assert_false(u.disabled);

    /* No such user. */
    assert_int_equal(bw_user_set_password_hash(f->ts.db, other + 100, "x"), 0);
    assert_int_equal(bw_user_set_roles(f->ts.db, other + 100, "x"), 0);
    assert_int_equal(bw_user_set_disabled(f->ts.db, other + 100, true), 0);

    /* Bad values. */
    assert_int_equal(
        bw_user_set_password_hash(f->ts.db, id, fill(big, sizeof(big), 'h', BW_PASSWORD_HASH_MAX)),
        -1);
    assert_int_equal(
        bw_user_set_roles(f->ts.db, id, fill(big, sizeof(big), 'r', BW_USER_ROLES_MAX)), -1);
    assert_int_equal(bw_user_set_password_hash(f->ts.db, id, NULL), -1);
    assert_int_equal(bw_user_set_roles(f->ts.db, id, NULL), -1);
    assert_int_equal(bw_user_set_disabled(NULL, id, true), -1);
    assert_int_equal(bw_user_get(f->ts.db, id, &u), 1);
    assert_string_equal(u.password_hash, "");
    assert_string_equal(u.roles, "");
}

typedef struct {
    long long ids[64];
    int n;
    int stop_after; /* 0: never stop */
} collected;

static int collect(const bw_user *u, void *ud)
{
    collected *c = ud;

    if (c->n >= (int)(sizeof(c->ids) / sizeof(c->ids[0])))
        return 1;
    c->ids[c->n++] = u->id;
    return c->stop_after != 0 && c->n >= c->stop_after;
}

static void test_list_keyset_pages(void **state)
{
    fixture *f = *state;
    long long added[25], after = 0;
    collected all = {{0}, 0, 0};
    char name[32];
    int i, j, pages = 0;
    static const int want_sizes[] = {10, 10, 5};

    for (i = 0; i < 25; i++) {
        assert_true((size_t)snprintf(name, sizeof(name), "user%02d", 24 - i) < sizeof(name));
        added[i] = add_ok(f->ts.db, name, "", "");
    }
    for (;;) {
        collected page = {{0}, 0, 0};
        int n = bw_user_list(f->ts.db, after, 10, collect, &page);

        assert_int_equal(n, page.n);
        if (n == 0)
            break;
        assert_true(pages < 3);
        assert_int_equal(n, want_sizes[pages]);
        for (j = 0; j < n; j++) {
            assert_true(page.ids[j] > after); /* strictly increasing: no overlap, no repeat */
            after = page.ids[j];
            all.ids[all.n++] = page.ids[j];
        }
        pages++;
    }
    assert_int_equal(pages, 3);
    assert_int_equal(all.n, 25);
    for (i = 0; i < 25; i++)
        assert_int_equal(all.ids[i], added[i]);

    /* A page starting in the middle. */
    {
        collected page = {{0}, 0, 0};

        assert_int_equal(bw_user_list(f->ts.db, added[19], 10, collect, &page), 5);
        assert_int_equal(page.ids[0], added[20]);
    }
}

static void test_list_stop_and_args(void **state)
{
    fixture *f = *state;
    collected c = {{0}, 0, 3};
    bw_user last;
    int i;

    for (i = 0; i < 6; i++) {
        char name[16];

        assert_true((size_t)snprintf(name, sizeof(name), "u%d", i) < sizeof(name));
        (void)add_ok(f->ts.db, name, "", "");
    }
    /* The user that stops the walk counts as passed. */
    assert_int_equal(bw_user_list(f->ts.db, 0, 100, collect, &c), 3);
    assert_int_equal(c.n, 3);
    assert_int_equal(bw_user_find(f->ts.db, "u2", &last), 1);
    assert_int_equal(c.ids[2], last.id);

    c.n = 0;
    c.stop_after = 0;
    assert_int_equal(bw_user_list(f->ts.db, 0, 0, collect, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(bw_user_list(f->ts.db, 0, -1, collect, &c), -1);
    assert_int_equal(bw_user_list(f->ts.db, 0, 10, NULL, &c), -1);
    assert_int_equal(bw_user_list(NULL, 0, 10, collect, &c), -1);
    assert_int_equal(c.n, 0);
}

/* Values another writer stored that do not fit a bw_user are an error, never truncated. */
static void test_oversized_stored_values(void **state)
{
    fixture *f = *state;
    char big[2 * BW_USER_ROLES_MAX];
    collected c = {{0}, 0, 0};
    bw_user u;
    long long ok_id, long_roles, long_hash, long_name;

    ok_id = add_ok(f->ts.db, "fine", "", "");
    long_roles = insert_raw(f->ts.db, "roles", "", fill(big, sizeof(big), 'r', BW_USER_ROLES_MAX));
    long_hash = insert_raw(f->ts.db, "hash", fill(big, sizeof(big), 'h', BW_PASSWORD_HASH_MAX), "");
    long_name = insert_raw(f->ts.db, fill(big, sizeof(big), 'n', BW_USER_NAME_MAX + 1), "", "");

    assert_int_equal(bw_user_get(f->ts.db, ok_id, &u), 1);
    memset(&u, 'x', sizeof(u));
    assert_int_equal(bw_user_get(f->ts.db, long_roles, &u), -1);
    assert_int_equal(u.roles[0], '\0');
    assert_int_equal(bw_user_get(f->ts.db, long_hash, &u), -1);
    assert_int_equal(bw_user_find(f->ts.db, "hash", &u), -1);
    assert_int_equal(bw_user_get(f->ts.db, long_name, &u), -1);
    /* The walk stops at the first bad row, after passing the good one. */
    assert_int_equal(bw_user_list(f->ts.db, 0, 10, collect, &c), -1);
    assert_int_equal(c.n, 1);

    /* A NUL byte inside a stored value would silently shorten it: refused too. */
    exec_ok(f->ts.db, "UPDATE users SET roles = 'admin' || char(0) || 'x' WHERE "
                      "username = 'fine'");
    assert_int_equal(bw_user_get(f->ts.db, ok_id, &u), -1);
}

/* Only a UNIQUE violation of the name is "taken"; any other constraint is an error. */
static void test_other_constraint_is_error(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    long long id = 0;

    exec_ok(f->ts.db, "CREATE TEMP TRIGGER no_mallory BEFORE INSERT ON users"
                      " WHEN NEW.username = 'mallory' BEGIN SELECT RAISE(ABORT, "
                      "'refused'); END;");
    assert_int_equal(bw_user_add(f->ts.db, "Mallory", "", "", &id, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "refused"));
    (void)add_ok(f->ts.db, "alice", "", "");
}

/* Without the schema every call reports a database error. */
static void test_database_errors(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    collected c = {{0}, 0, 0};
    long long id = 0;
    bw_user u;

    assert_int_equal(bw_user_add(f->ts.db, "alice", "", "", &id, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no such table"));
    assert_int_equal(bw_user_find(f->ts.db, "alice", &u), -1);
    assert_int_equal(bw_user_get(f->ts.db, 1, &u), -1);
    assert_int_equal(bw_user_set_password_hash(f->ts.db, 1, ""), -1);
    assert_int_equal(bw_user_set_roles(f->ts.db, 1, ""), -1);
    assert_int_equal(bw_user_set_disabled(f->ts.db, 1, true), -1);
    assert_int_equal(bw_user_list(f->ts.db, 0, 10, collect, &c), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_normalize_table),
        cmocka_unit_test(test_name_normalize_bounds),
        cmocka_unit_test_setup_teardown(test_add_find_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_duplicate_any_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_refuses_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_keyset_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_stop_and_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_stored_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_constraint_is_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_errors, setup_empty, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
