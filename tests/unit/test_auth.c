/* Unit tests for the auth service through its public API (auth.h): bw_auth_new and its
 * refusals, user management, login (password check, lockout per name, limit per address,
 * rehash), bw_auth_authenticate for sessions and API keys, the end of sessions on a privilege
 * change, API key creation rules, the CSRF check and bw_principal_allows. Each test gets a real
 * configuration (bw_config_load_buffer), a fresh secret and a migrated SQLite store in its own
 * temporary folder, and the sample service's config/rbac.json. Argon2id runs at 19 MiB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/auth.h"
#include "bulwark/store.h"
#include "harness.h"
#include "temp_store.h"

#define T0 1700000000LL
#define PW "correct horse battery staple"
#define PW2 "another long passphrase"
#define MEM_KIB 19456
#define WINDOW_S 900  /* auth.address.window_s, the default */
#define IDLE_S 1800   /* auth.session.idle_ttl_s, the default */
#define ABS_TTL 43200 /* auth.session.absolute_ttl_s, the default */
#define HOST "notes.example:8443"
#define ORIGIN "https://" HOST

static char *const no_env[] = {NULL};

typedef struct fixture {
    char *dir;
    char data_dir[512];
    char *rbac;
    size_t rbac_len;
    bw_config *cfg;
    bw_auth *auth;
    bw_temp_store ts; /* in a temp dir of its own */
    int next_addr;    /* a fresh client address per login, where the address limit is not tested */
} fixture;

/* ---- set-up ---------------------------------------------------------------------------------- */

/* A configuration for data_dir with the given password parameters and session key reference:
 * lockout after 3 failures (1 s base), 5 failures per address. NULL on error (printed). */
static bw_config *config_for(const char *data_dir, int opslimit, int mem_kib, int budget_mib,
                             const char *key_ref)
{
    char json[2048], err[512] = "";
    bw_config *c = NULL;
    int n = snprintf(json, sizeof(json),
                     "{\"data_dir\": \"%s\",\n"
                     " \"auth\": {\"password\": {\"opslimit\": %d, \"memlimit_kib\": %d,\n"
                     "                         \"memory_budget_mib\": %d},\n"
                     "          \"lockout\": {\"threshold\": 3, \"base_delay_s\": 1},\n"
                     "          \"address\": {\"max_failures\": 5}},\n"
                     " \"secrets\": {\"session_key\": \"%s\"}}\n",
                     data_dir, opslimit, mem_kib, budget_mib, key_ref);

    if (n < 0 || (size_t)n >= sizeof(json))
        return NULL;
    if (bw_config_load_buffer(json, (size_t)n, "test.json", no_env, &c, err, sizeof(err)) != 0) {
        print_error("config: %s\n", err);
        return NULL;
    }
    return c;
}

static int default_config(fixture *f, bw_config **out)
{
    *out = config_for(f->data_dir, 2, MEM_KIB, 64, "file:secrets/session.key");
    return *out != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;

    if (f == NULL)
        return 0;
    bw_auth_free(f->auth);
    bw_config_free(f->cfg);
    bw_temp_store_close(&f->ts);
    if (f->dir != NULL)
        (void)bw_rm_rf(f->dir);
    free(f->dir);
    free(f->rbac);
    free(f);
    *state = NULL;
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char path[640], err[512] = "";
    int len, rc = -1;

    *state = f;
    if (f == NULL || (f->dir = bw_tmpdir_create()) == NULL)
        return -1;
    len = snprintf(f->data_dir, sizeof(f->data_dir), "%s/data", f->dir);
    if (len < 0 || (size_t)len >= sizeof(f->data_dir) || mkdir(f->data_dir, 0700) != 0)
        goto out;
    len = snprintf(path, sizeof(path), "%s/secrets", f->data_dir);
    if (len < 0 || (size_t)len >= sizeof(path) || mkdir(path, 0700) != 0)
        goto out;
    len = snprintf(path, sizeof(path), "%s/secrets/session.key", f->data_dir);
    if (len < 0 || (size_t)len >= sizeof(path) ||
        bw_secret_generate_file(path, 32, err, sizeof(err)) != 1)
        goto out;
    f->rbac = bw_read_file(BW_SOURCE_DIR "/config/rbac.json", &f->rbac_len);
    if (f->rbac == NULL || default_config(f, &f->cfg) != 0)
        goto out;
    f->auth = bw_auth_new(f->cfg, f->rbac, f->rbac_len, err, sizeof(err));
    if (f->auth == NULL)
        goto out;
    if (bw_temp_store_open(&f->ts, true) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0) {
        print_error("setup: %s\n", err);
        (void)teardown(state);
    }
    return rc;
}

/* ---- helpers --------------------------------------------------------------------------------- */

static long long create_user(fixture *f, const char *name, const char *pw, const char *roles)
{
    const char *why = NULL;
    long long id = -1;

    assert_int_equal(bw_auth_user_create(f->auth, f->ts.db, name, strlen(name), pw, strlen(pw),
                                         roles, &id, &why),
                     BW_AUTH_OK);
    assert_true(id > 0);
    return id;
}

static const char *fresh_addr(fixture *f)
{
    static char buf[32];

    f->next_addr++;
    assert_true(f->next_addr < 250);
    (void)snprintf(buf, sizeof(buf), "198.51.100.%d", f->next_addr);
    return buf;
}

/* Logs in from addr (NULL: a fresh address); *retry receives retry_after_s. */
static bw_auth_status login_from(fixture *f, const char *addr, const char *name, const char *pw,
                                 long long now, char token[BW_SESSION_TOKEN_LEN + 1],
                                 long long *retry)
{
    bw_session_info info;
    long long r = -1;
    bw_auth_status st;

    token[0] = '\0';
    st = bw_auth_login(f->auth, f->ts.db, addr != NULL ? addr : fresh_addr(f), name, strlen(name),
                       pw, strlen(pw), now, token, &info, &r);
    if (st == BW_AUTH_OK) {
        assert_int_equal(strlen(token), BW_SESSION_TOKEN_LEN);
        assert_int_equal(info.created_at, now);
        assert_int_equal(info.expires_at, now + ABS_TTL);
    }
    if (st != BW_AUTH_LOCKED)
        assert_int_equal(r, 0);
    if (retry != NULL)
        *retry = r;
    return st;
}

static bw_auth_status login(fixture *f, const char *name, const char *pw, long long now,
                            char token[BW_SESSION_TOKEN_LEN + 1])
{
    return login_from(f, NULL, name, pw, now, token, NULL);
}

/* A login that must succeed; returns the session's token in token. */
static void must_login(fixture *f, const char *name, const char *pw, long long now,
                       char token[BW_SESSION_TOKEN_LEN + 1])
{
    assert_int_equal(login(f, name, pw, now, token), BW_AUTH_OK);
}

static int authn(fixture *f, const char *token, bool via_cookie, long long now, bw_principal *p)
{
    return bw_auth_authenticate(f->auth, f->ts.db, token, strlen(token), via_cookie, now, p);
}

static bw_roleset role_bit(fixture *f, const char *name)
{
    int i = bw_rbac_role_index(bw_auth_rbac(f->auth), name, strlen(name));

    assert_true(i >= 0);
    return (bw_roleset)1 << i;
}

static int perm(fixture *f, const char *name)
{
    int i = bw_rbac_permission_index(bw_auth_rbac(f->auth), name, strlen(name));

    assert_true(i >= 0);
    return i;
}

static bw_user get_user(fixture *f, long long id)
{
    bw_user u;

    assert_int_equal(bw_user_get(f->ts.db, id, &u), 1);
    return u;
}

static bool contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* Writes len bytes to path with mode 0600 (a secret file). */
static void write_secret(const char *path, const char *bytes, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* ---- bw_auth_new ----------------------------------------------------------------------------- */

static void test_new_ok(void **state)
{
    fixture *f = *state;

    assert_ptr_equal(bw_auth_config(f->auth), f->cfg);
    assert_int_equal(bw_rbac_role_count(bw_auth_rbac(f->auth)), 4);
    assert_true(bw_rbac_role_index(bw_auth_rbac(f->auth), "auditor", 7) >= 0);
}

/* Builds an auth from cfg and rbac[0..len), expecting a refusal whose message holds want. */
static void expect_new_fails(const bw_config *cfg, const char *rbac, size_t len, const char *want)
{
    char err[512] = "";
    bw_auth *a = bw_auth_new(cfg, rbac, len, err, sizeof(err));

    assert_null(a);
    if (!contains(err, want))
        fail_msg("error \"%s\" does not name \"%s\"", err, want);
}

static void test_new_missing_secret(void **state)
{
    fixture *f = *state;
    bw_config *c = config_for(f->data_dir, 2, MEM_KIB, 64, "file:secrets/absent.key");

    assert_non_null(c);
    expect_new_fails(c, f->rbac, f->rbac_len, "secrets.session_key");
    bw_config_free(c);
    c = config_for(f->data_dir, 2, MEM_KIB, 64, "env:BW_AUTHUNIT_SURELY_UNSET");
    assert_non_null(c);
    expect_new_fails(c, f->rbac, f->rbac_len, "secrets.session_key");
    bw_config_free(c);
}

static void test_new_short_secret(void **state)
{
    fixture *f = *state;
    char path[640], err[512] = "";
    char bytes[40];
    bw_config *c;
    bw_auth *a;

    memset(bytes, 'k', sizeof(bytes));
    (void)snprintf(path, sizeof(path), "%s/secrets/short.key", f->data_dir);
    write_secret(path, bytes, 31);
    c = config_for(f->data_dir, 2, MEM_KIB, 64, "file:secrets/short.key");
    assert_non_null(c);
    expect_new_fails(c, f->rbac, f->rbac_len, "secrets.session_key");
    expect_new_fails(c, f->rbac, f->rbac_len, "32");
    /* A trailing newline is stripped: still 31 bytes. */
    bytes[31] = '\n';
    write_secret(path, bytes, 32);
    expect_new_fails(c, f->rbac, f->rbac_len, "secrets.session_key");
    /* 32 bytes are enough. */
    bytes[31] = 'k';
    write_secret(path, bytes, 32);
    a = bw_auth_new(c, f->rbac, f->rbac_len, err, sizeof(err));
    assert_non_null(a);
    bw_auth_free(a);
    bw_config_free(c);
}

static void test_new_memory_budget(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    bw_config *c = config_for(f->data_dir, 2, 65536, 63, "file:secrets/session.key");
    bw_auth *a;

    assert_non_null(c);
    expect_new_fails(c, f->rbac, f->rbac_len, "auth.password.memory_budget_mib");
    bw_config_free(c);
    /* One hash exactly: 19456 KiB is 19 MiB. */
    c = config_for(f->data_dir, 2, MEM_KIB, 19, "file:secrets/session.key");
    assert_non_null(c);
    a = bw_auth_new(c, f->rbac, f->rbac_len, err, sizeof(err));
    assert_non_null(a);
    bw_auth_free(a);
    bw_config_free(c);
}

static void test_new_bad_rbac(void **state)
{
    fixture *f = *state;
    static const char unknown_role[] =
        "{\"permissions\": {\"a:b\": \"x\"},"
        " \"roles\": {\"viewer\": {\"inherits\": [\"viwer\"], \"permissions\": [\"a:b\"]}}}";
    static const char undeclared[] = "{\"permissions\": {\"a:b\": \"x\"},"
                                     " \"roles\": {\"viewer\": {\"permissions\": [\"a:c\"]}}}";

    expect_new_fails(f->cfg, NULL, 0, "rbac");
    expect_new_fails(f->cfg, "{", 1, "JSON");
    expect_new_fails(f->cfg, unknown_role, sizeof(unknown_role) - 1, "/roles/viewer/inherits/0");
    expect_new_fails(f->cfg, undeclared, sizeof(undeclared) - 1, "/roles/viewer/permissions/0");
    /* The operator must learn which file is wrong: "cannot start: invalid JSON at line 1"
     * alone does not say it is the RBAC model. */
    expect_new_fails(f->cfg, "{", 1, "rbac");
    expect_new_fails(f->cfg, unknown_role, sizeof(unknown_role) - 1, "rbac");
    expect_new_fails(f->cfg, undeclared, sizeof(undeclared) - 1, "rbac");
}

/* ---- bw_auth_user_create --------------------------------------------------------------------- */

static void test_user_create(void **state)
{
    fixture *f = *state;
    long long id = create_user(f, "Alice", PW, "editor,auditor"), id2;
    bw_user u = get_user(f, id);

    assert_string_equal(u.name, "alice");
    assert_string_equal(u.roles, "editor,auditor");
    assert_false(u.disabled);
    assert_true(contains(u.password_hash, "$argon2id$"));
    assert_true(contains(u.password_hash, "m=19456,t=2,"));
    assert_false(contains(u.password_hash, PW));
    /* A second user, no roles at all. */
    id2 = create_user(f, "bob.b@example-1", PW, "");
    assert_true(id2 != id);
    u = get_user(f, id2);
    assert_string_equal(u.roles, "");
}

static void test_user_create_refused(void **state)
{
    fixture *f = *state;
    static const char *const bad_names[] = {"",      "bad name",     "-lead",    ".dot",
                                            "al!ce", "\xc3\xa9mile", "tab\tname"};
    static const char *const weak[] = {"short", "1234567", "caroline", "CAROLINE",
                                       "\xff\xfe abcdefgh"};
    static const char *const bad_roles[] = {"nosuch",  "editor,nosuch", "editor, viewer",
                                            "editor,", ",editor",       "Editor"};
    char longname[BW_USER_NAME_MAX + 2];
    const char *why;
    long long id = -7;

    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        why = NULL;
        assert_int_equal(bw_auth_user_create(f->auth, f->ts.db, bad_names[i], strlen(bad_names[i]),
                                             PW, strlen(PW), "viewer", &id, &why),
                         BW_AUTH_INVALID);
        assert_non_null(why);
        assert_true(contains(why, "username"));
    }
    memset(longname, 'a', sizeof(longname));
    why = NULL;
    assert_int_equal(bw_auth_user_create(f->auth, f->ts.db, longname, BW_USER_NAME_MAX + 1, PW,
                                         strlen(PW), "viewer", &id, &why),
                     BW_AUTH_INVALID);
    assert_non_null(why);
    /* 64 characters is still a name. */
    assert_int_equal(bw_auth_user_create(f->auth, f->ts.db, longname, BW_USER_NAME_MAX, PW,
                                         strlen(PW), "viewer", &id, &why),
                     BW_AUTH_OK);
    /* The password policy, the user name included ("Caroline" is "caroline"). */
    for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
        why = NULL;
        assert_int_equal(bw_auth_user_create(f->auth, f->ts.db, "Caroline", 8, weak[i],
                                             strlen(weak[i]), "viewer", &id, &why),
                         BW_AUTH_INVALID);
        assert_non_null(why);
        assert_true(contains(why, "password"));
    }
    why = NULL;
    assert_int_equal(bw_auth_user_create(f->auth, f->ts.db, "caroline", 8, "abc\0defghij", 11,
                                         "viewer", &id, &why),
                     BW_AUTH_INVALID);
    assert_non_null(why);
    for (size_t i = 0; i < sizeof(bad_roles) / sizeof(bad_roles[0]); i++) {
        why = NULL;
        assert_int_equal(bw_auth_user_create(f->auth, f->ts.db, "caroline", 8, PW, strlen(PW),
                                             bad_roles[i], &id, &why),
                         BW_AUTH_INVALID);
        assert_non_null(why);
        assert_true(contains(why, "roles"));
    }
    /* Nothing refused was stored. */
    assert_int_equal(bw_user_find(f->ts.db, "caroline", &(bw_user){0}), 0);
    /* A taken name, in another case. */
    (void)create_user(f, "caroline", PW, "viewer");
    assert_int_equal(
        bw_auth_user_create(f->auth, f->ts.db, "CaRoLiNe", 8, PW2, strlen(PW2), "admin", &id, &why),
        BW_AUTH_EXISTS);
    {
        bw_user u;

        assert_int_equal(bw_user_find(f->ts.db, "caroline", &u), 1);
        assert_string_equal(u.roles, "viewer");
    }
}

/* ---- bw_auth_login --------------------------------------------------------------------------- */

static void test_login_ok(void **state)
{
    fixture *f = *state;
    long long id = create_user(f, "alice", PW, "editor");
    char tok[BW_SESSION_TOKEN_LEN + 1], tok2[BW_SESSION_TOKEN_LEN + 1];
    bw_principal p;

    must_login(f, "alice", PW, T0, tok);
    assert_int_equal(authn(f, tok, false, T0 + 1, &p), 1);
    assert_int_equal(p.kind, BW_AUTH_SESSION);
    assert_int_equal(p.user_id, id);
    assert_string_equal(p.name, "alice");
    assert_true(p.roles == role_bit(f, "editor"));
    assert_true(p.scope == ~(bw_roleset)0);
    assert_false(p.via_cookie);
    assert_true(p.session_id > 0);
    assert_string_equal(p.apikey_id, "");
    /* The name in another case is the same account; every login is a new session. */
    must_login(f, "ALICE", PW, T0, tok2);
    assert_string_not_equal(tok, tok2);
    assert_int_equal(authn(f, tok2, true, T0, &p), 1);
    assert_true(p.via_cookie);
    assert_int_equal(p.user_id, id);
}

static void test_login_denied(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1], *huge = malloc(BW_PASSWORD_MAX_BYTES + 2);
    long long dis = create_user(f, "dora", PW, "viewer"), nopw = -1;
    char err[256] = "";
    bw_session_info info;
    long long retry = -1;

    assert_non_null(huge);
    (void)create_user(f, "alice", PW, "viewer");
    assert_int_equal(bw_user_add(f->ts.db, "nopw", "", "viewer", &nopw, err, sizeof(err)), 0);
    assert_int_equal(bw_auth_user_set_disabled(f->auth, f->ts.db, dis, true), BW_AUTH_OK);
    /* Two failures at most in a row for alice, so her name never locks here. */
    assert_int_equal(login(f, "alice", PW2, T0, tok), BW_AUTH_DENIED);
    assert_string_equal(tok, "");
    assert_int_equal(login(f, "alice", "correct horse battery staplE", T0, tok), BW_AUTH_DENIED);
    must_login(f, "alice", PW, T0, tok);
    assert_int_equal(login(f, "alice", "", T0, tok), BW_AUTH_DENIED);
    assert_int_equal(login(f, "nobody", PW, T0, tok), BW_AUTH_DENIED);
    assert_int_equal(login(f, "dora", PW, T0, tok), BW_AUTH_DENIED);
    assert_int_equal(login(f, "nopw", "", T0, tok), BW_AUTH_DENIED);
    assert_int_equal(login(f, "nopw", PW, T0, tok), BW_AUTH_DENIED);
    assert_int_equal(login(f, "not a name!", PW, T0, tok), BW_AUTH_DENIED);
    /* Longer than any password: refused after the same work. */
    memset(huge, 'x', BW_PASSWORD_MAX_BYTES + 1);
    huge[BW_PASSWORD_MAX_BYTES + 1] = '\0';
    assert_int_equal(login(f, "alice", huge, T0, tok), BW_AUTH_DENIED);
    must_login(f, "alice", PW, T0, tok);
    /* A NUL inside the given length is part of the password. */
    assert_int_equal(bw_auth_login(f->auth, f->ts.db, fresh_addr(f), "alice", 5, PW "\0x",
                                   sizeof(PW) + 1, T0, tok, &info, &retry),
                     BW_AUTH_DENIED);
    must_login(f, "alice", PW, T0, tok);
    /* Each of those is a failure of its name: the third one locks it. */
    assert_int_equal(login(f, "nobody", PW, T0, tok), BW_AUTH_DENIED);
    assert_int_equal(login(f, "nobody", PW, T0, tok), BW_AUTH_DENIED);
    assert_int_equal(login(f, "nobody", PW, T0, tok), BW_AUTH_LOCKED);
    assert_int_equal(login(f, "dora", PW, T0, tok), BW_AUTH_DENIED);
    assert_int_equal(login(f, "dora", PW, T0, tok), BW_AUTH_DENIED);
    assert_int_equal(login(f, "dora", PW, T0, tok), BW_AUTH_LOCKED);
    free(huge);
}

static void test_login_lockout(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1];
    long long retry = -1;

    (void)create_user(f, "alice", PW, "viewer");
    (void)create_user(f, "bob", PW, "viewer");
    assert_int_equal(login(f, "alice", "wrong password 1", T0, tok), BW_AUTH_DENIED);
    assert_int_equal(login(f, "Alice", "wrong password 2", T0, tok), BW_AUTH_DENIED);
    assert_int_equal(login(f, "alice", "wrong password 3", T0, tok), BW_AUTH_DENIED);
    /* Locked for base = 1 s, the right password included, from any address. */
    assert_int_equal(login_from(f, NULL, "alice", PW, T0, tok, &retry), BW_AUTH_LOCKED);
    assert_int_equal(retry, 1);
    assert_string_equal(tok, "");
    assert_int_equal(login_from(f, NULL, "ALICE", "wrong", T0, tok, &retry), BW_AUTH_LOCKED);
    assert_int_equal(retry, 1);
    /* Another name is not locked. */
    must_login(f, "bob", PW, T0, tok);
    /* After the lock: one more failure locks for 2 s (attempts while locked did not count). */
    assert_int_equal(login(f, "alice", "wrong password 4", T0 + 1, tok), BW_AUTH_DENIED);
    assert_int_equal(login_from(f, NULL, "alice", PW, T0 + 1, tok, &retry), BW_AUTH_LOCKED);
    assert_int_equal(retry, 2);
    assert_int_equal(login_from(f, NULL, "alice", PW, T0 + 2, tok, &retry), BW_AUTH_LOCKED);
    assert_int_equal(retry, 1);
    must_login(f, "alice", PW, T0 + 3, tok);
    /* The success reset the count: two failures and the right password pass again. */
    assert_int_equal(login(f, "alice", "wrong password 5", T0 + 3, tok), BW_AUTH_DENIED);
    assert_int_equal(login(f, "alice", "wrong password 6", T0 + 3, tok), BW_AUTH_DENIED);
    must_login(f, "alice", PW, T0 + 3, tok);
    /* An unknown name locks the same way. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(login(f, "ghost", PW, T0, tok), BW_AUTH_DENIED);
    assert_int_equal(login_from(f, NULL, "ghost", PW, T0, tok, &retry), BW_AUTH_LOCKED);
    assert_int_equal(retry, 1);
}

static void test_login_address_limit(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1], name[16];
    long long retry = -1;

    (void)create_user(f, "alice", PW, "viewer");
    /* Five failures from one address, each for another name. */
    for (int i = 0; i < 5; i++) {
        (void)snprintf(name, sizeof(name), "user%d", i);
        assert_int_equal(login_from(f, "192.0.2.7", name, PW, T0 + i, tok, NULL), BW_AUTH_DENIED);
    }
    /* The address is locked for the rest of the window that began with the first failure,
     * for every name, the right password included. */
    assert_int_equal(login_from(f, "192.0.2.7", "alice", PW, T0 + 10, tok, &retry), BW_AUTH_LOCKED);
    assert_int_equal(retry, WINDOW_S - 10);
    assert_int_equal(login_from(f, "::ffff:192.0.2.7", "alice", PW, T0 + 10, tok, &retry),
                     BW_AUTH_LOCKED);
    assert_int_equal(login_from(f, "192.0.2.7", "fresh", PW, T0 + 10, tok, &retry), BW_AUTH_LOCKED);
    /* Another address is free. */
    assert_int_equal(login_from(f, "192.0.2.8", "alice", PW, T0 + 10, tok, &retry), BW_AUTH_OK);
    /* When the window ends, the address is free again. */
    assert_int_equal(login_from(f, "192.0.2.7", "alice", PW, T0 + WINDOW_S - 1, tok, &retry),
                     BW_AUTH_LOCKED);
    assert_int_equal(retry, 1);
    assert_int_equal(login_from(f, "192.0.2.7", "alice", PW, T0 + WINDOW_S, tok, &retry),
                     BW_AUTH_OK);
}

static void test_login_address_limit_ipv6(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1], name[16], addr[64];
    long long retry = -1;

    (void)create_user(f, "alice", PW, "viewer");
    /* Five hosts of one /64. */
    for (int i = 1; i <= 5; i++) {
        (void)snprintf(name, sizeof(name), "user%d", i);
        (void)snprintf(addr, sizeof(addr), "2001:db8:1:2::%x", i * 0x1111);
        assert_int_equal(login_from(f, addr, name, PW, T0, tok, NULL), BW_AUTH_DENIED);
    }
    assert_int_equal(
        login_from(f, "2001:db8:1:2:ffff:ffff:ffff:fffe", "alice", PW, T0, tok, &retry),
        BW_AUTH_LOCKED);
    assert_int_equal(retry, WINDOW_S);
    /* The next /64 is another client. */
    assert_int_equal(login_from(f, "2001:db8:1:3::1", "alice", PW, T0, tok, &retry), BW_AUTH_OK);
}

/* A hash made with opslimit 2 verifies under opslimit 3 and is replaced by a t=3 one. */
static void test_login_rehash(void **state)
{
    fixture *f = *state;
    long long id = create_user(f, "alice", PW, "editor");
    char err[512] = "", tok[BW_SESSION_TOKEN_LEN + 1], before[BW_PASSWORD_HASH_MAX];
    bw_config *c3 = config_for(f->data_dir, 3, MEM_KIB, 64, "file:secrets/session.key");
    bw_auth *a3;
    bw_user u = get_user(f, id);
    bw_session_info info;
    long long retry = -1;
    bw_principal p;

    assert_true(contains(u.password_hash, ",t=2,"));
    assert_non_null(c3);
    a3 = bw_auth_new(c3, f->rbac, f->rbac_len, err, sizeof(err));
    assert_non_null(a3);
    assert_int_equal(bw_auth_login(a3, f->ts.db, "192.0.2.1", "alice", 5, PW, strlen(PW), T0, tok,
                                   &info, &retry),
                     BW_AUTH_OK);
    u = get_user(f, id);
    assert_true(contains(u.password_hash, ",t=3,"));
    assert_true(contains(u.password_hash, "m=19456,"));
    /* The same secret: a session made by one auth is valid for the other. */
    assert_int_equal(authn(f, tok, false, T0, &p), 1);
    /* Up to date now: a second login keeps the stored hash as it is. */
    memcpy(before, u.password_hash, sizeof(before));
    assert_int_equal(bw_auth_login(a3, f->ts.db, "192.0.2.1", "alice", 5, PW, strlen(PW), T0, tok,
                                   &info, &retry),
                     BW_AUTH_OK);
    u = get_user(f, id);
    assert_string_equal(u.password_hash, before);
    /* A wrong password never rewrites it. */
    assert_int_equal(login(f, "alice", PW2, T0, tok), BW_AUTH_DENIED);
    u = get_user(f, id);
    assert_string_equal(u.password_hash, before);
    bw_auth_free(a3);
    bw_config_free(c3);
}

/* ---- bw_auth_authenticate -------------------------------------------------------------------- */

static void test_authenticate_unknown(void **state)
{
    fixture *f = *state;
    static const char well_formed[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    static const char key_shape[] =
        "bw_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    char tok[BW_SESSION_TOKEN_LEN + 1];
    bw_principal p;

    (void)create_user(f, "alice", PW, "editor");
    must_login(f, "alice", PW, T0, tok);
    assert_int_equal(authn(f, well_formed, false, T0, &p), 0);
    assert_int_equal(p.kind, BW_AUTH_NONE);
    assert_int_equal(authn(f, key_shape, false, T0, &p), 0);
    assert_int_equal(authn(f, "", false, T0, &p), 0);
    assert_int_equal(authn(f, "x", false, T0, &p), 0);
    /* A real token cut short, or with a byte changed. */
    assert_int_equal(
        bw_auth_authenticate(f->auth, f->ts.db, tok, BW_SESSION_TOKEN_LEN - 1, false, T0, &p), 0);
    tok[5] = tok[5] == 'A' ? 'B' : 'A';
    assert_int_equal(authn(f, tok, false, T0, &p), 0);
    assert_int_equal(p.user_id, -1);
}

static void test_authenticate_session_expiry(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1];
    bw_principal p;

    (void)create_user(f, "alice", PW, "editor");
    must_login(f, "alice", PW, T0, tok);
    assert_int_equal(authn(f, tok, false, T0 + IDLE_S - 100, &p), 1);
    /* Idle for longer than the idle time since that use. */
    assert_int_equal(authn(f, tok, false, T0 + 2 * IDLE_S, &p), 0);
    /* Gone for good, even at an earlier clock. */
    assert_int_equal(authn(f, tok, false, T0 + 1, &p), 0);
}

static void test_authenticate_apikey(void **state)
{
    fixture *f = *state;
    long long id = create_user(f, "alice", PW, "editor");
    char key[BW_APIKEY_LEN + 1];
    const char *why = NULL;
    bw_principal p;

    assert_int_equal(
        bw_auth_apikey_create(f->auth, f->ts.db, id, "export", "viewer", 0, T0, key, &why),
        BW_AUTH_OK);
    assert_int_equal(strlen(key), BW_APIKEY_LEN);
    assert_int_equal(authn(f, key, false, T0 + 5, &p), 1);
    assert_int_equal(p.kind, BW_AUTH_APIKEY);
    assert_int_equal(p.user_id, id);
    assert_string_equal(p.name, "alice");
    assert_true(p.roles == role_bit(f, "editor"));
    assert_true(p.scope == role_bit(f, "viewer"));
    assert_memory_equal(p.apikey_id, key + 3, BW_APIKEY_ID_LEN);
    assert_int_equal(p.apikey_id[BW_APIKEY_ID_LEN], '\0');
    assert_int_equal(p.session_id, 0);
    assert_false(p.via_cookie);
    /* Never as a cookie. */
    assert_int_equal(authn(f, key, true, T0 + 5, &p), 0);
    assert_int_equal(p.kind, BW_AUTH_NONE);
    /* Another secret with the same id. */
    key[BW_APIKEY_LEN - 1] = key[BW_APIKEY_LEN - 1] == 'A' ? 'B' : 'A';
    assert_int_equal(authn(f, key, false, T0 + 5, &p), 0);
}

static void test_authenticate_disabled(void **state)
{
    fixture *f = *state;
    long long id = create_user(f, "alice", PW, "editor");
    char key[BW_APIKEY_LEN + 1], tok[BW_SESSION_TOKEN_LEN + 1];
    const char *why = NULL;
    bw_principal p;

    assert_int_equal(bw_auth_apikey_create(f->auth, f->ts.db, id, "k", "editor", 0, T0, key, &why),
                     BW_AUTH_OK);
    must_login(f, "alice", PW, T0, tok);
    /* Disabled behind the auth service's back (no session ended): the principal check alone
     * refuses both the session and the key. */
    assert_int_equal(bw_user_set_disabled(f->ts.db, id, true), 1);
    assert_int_equal(authn(f, tok, false, T0, &p), 0);
    assert_int_equal(authn(f, key, false, T0, &p), 0);
    assert_int_equal(bw_user_set_disabled(f->ts.db, id, false), 1);
    assert_int_equal(authn(f, tok, false, T0, &p), 1);
    assert_int_equal(authn(f, key, false, T0, &p), 1);
    /* Through the service: the session ends; the key stops while the owner is disabled. */
    assert_int_equal(bw_auth_user_set_disabled(f->auth, f->ts.db, id, true), BW_AUTH_OK);
    assert_int_equal(authn(f, key, false, T0, &p), 0);
    assert_int_equal(bw_auth_user_set_disabled(f->auth, f->ts.db, id, false), BW_AUTH_OK);
    assert_int_equal(authn(f, tok, false, T0, &p), 0);
    assert_int_equal(authn(f, key, false, T0, &p), 1);
}

/* ---- privilege changes end sessions ---------------------------------------------------------- */

static void test_set_password(void **state)
{
    fixture *f = *state;
    long long id = create_user(f, "alice", PW, "editor");
    char tok[BW_SESSION_TOKEN_LEN + 1], other[BW_SESSION_TOKEN_LEN + 1];
    const char *why = NULL;
    bw_principal p;

    (void)create_user(f, "bob", PW, "editor");
    must_login(f, "alice", PW, T0, tok);
    must_login(f, "bob", PW, T0, other);
    /* Refused changes keep everything as it was. */
    assert_int_equal(bw_auth_user_set_password(f->auth, f->ts.db, id, "short", 5, &why),
                     BW_AUTH_INVALID);
    assert_non_null(why);
    why = NULL;
    assert_int_equal(bw_auth_user_set_password(f->auth, f->ts.db, id,
                                               "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", 8, &why),
                     BW_AUTH_INVALID);
    assert_non_null(why);
    assert_int_equal(authn(f, tok, false, T0, &p), 1);
    assert_int_equal(bw_auth_user_set_password(f->auth, f->ts.db, 999999, PW2, strlen(PW2), &why),
                     BW_AUTH_NOT_FOUND);
    /* The change ends alice's sessions, not bob's. */
    assert_int_equal(bw_auth_user_set_password(f->auth, f->ts.db, id, PW2, strlen(PW2), &why),
                     BW_AUTH_OK);
    assert_int_equal(authn(f, tok, false, T0, &p), 0);
    assert_int_equal(authn(f, other, false, T0, &p), 1);
    assert_int_equal(login(f, "alice", PW, T0, tok), BW_AUTH_DENIED);
    must_login(f, "alice", PW2, T0, tok);
}

static void test_set_roles(void **state)
{
    fixture *f = *state;
    long long id = create_user(f, "alice", PW, "editor");
    char tok[BW_SESSION_TOKEN_LEN + 1];
    const char *why = NULL;
    bw_principal p;

    must_login(f, "alice", PW, T0, tok);
    assert_int_equal(bw_auth_user_set_roles(f->auth, f->ts.db, id, "nosuch", &why),
                     BW_AUTH_INVALID);
    assert_non_null(why);
    assert_int_equal(authn(f, tok, false, T0, &p), 1);
    assert_string_equal(get_user(f, id).roles, "editor");
    assert_int_equal(bw_auth_user_set_roles(f->auth, f->ts.db, 999999, "viewer", &why),
                     BW_AUTH_NOT_FOUND);
    assert_int_equal(bw_auth_user_set_roles(f->auth, f->ts.db, id, "viewer,auditor", &why),
                     BW_AUTH_OK);
    assert_string_equal(get_user(f, id).roles, "viewer,auditor");
    assert_int_equal(authn(f, tok, false, T0, &p), 0);
    must_login(f, "alice", PW, T0, tok);
    assert_int_equal(authn(f, tok, false, T0, &p), 1);
    assert_true(p.roles == (role_bit(f, "viewer") | role_bit(f, "auditor")));
    /* A role change to the same roles still ends the sessions. */
    assert_int_equal(bw_auth_user_set_roles(f->auth, f->ts.db, id, "viewer,auditor", &why),
                     BW_AUTH_OK);
    assert_int_equal(authn(f, tok, false, T0, &p), 0);
}

static void test_set_disabled(void **state)
{
    fixture *f = *state;
    long long id = create_user(f, "alice", PW, "editor");
    char tok[BW_SESSION_TOKEN_LEN + 1];
    bw_principal p;

    must_login(f, "alice", PW, T0, tok);
    assert_int_equal(bw_auth_user_set_disabled(f->auth, f->ts.db, 999999, true), BW_AUTH_NOT_FOUND);
    assert_int_equal(bw_auth_user_set_disabled(f->auth, f->ts.db, id, true), BW_AUTH_OK);
    assert_true(get_user(f, id).disabled);
    assert_int_equal(authn(f, tok, false, T0, &p), 0);
    assert_int_equal(login(f, "alice", PW, T0, tok), BW_AUTH_DENIED);
    assert_int_equal(bw_auth_user_set_disabled(f->auth, f->ts.db, id, false), BW_AUTH_OK);
    assert_false(get_user(f, id).disabled);
    must_login(f, "alice", PW, T0, tok);
    assert_int_equal(authn(f, tok, false, T0, &p), 1);
}

/* ---- bw_auth_apikey_create ------------------------------------------------------------------- */

static void test_apikey_create_rules(void **state)
{
    fixture *f = *state;
    long long ed = create_user(f, "eddie", PW, "editor");
    long long ad = create_user(f, "ada", PW, "admin");
    static const char *const refused[] = {"admin", "auditor", "editor,auditor",
                                          "",      "nosuch",  "viewer,"};
    char key[BW_APIKEY_LEN + 1];
    const char *why;
    bw_principal p;

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        why = NULL;
        assert_int_equal(
            bw_auth_apikey_create(f->auth, f->ts.db, ed, "k", refused[i], 0, T0, key, &why),
            BW_AUTH_INVALID);
        assert_non_null(why);
    }
    why = NULL;
    assert_int_equal(bw_auth_apikey_create(f->auth, f->ts.db, ed, "k", "viewer", 0, T0, key, &why),
                     BW_AUTH_OK);
    assert_int_equal(
        bw_auth_apikey_create(f->auth, f->ts.db, ed, "k2", "editor,viewer", 0, T0, key, &why),
        BW_AUTH_OK);
    /* An admin may hand an editor role to a key: it is within admin. */
    assert_int_equal(bw_auth_apikey_create(f->auth, f->ts.db, ad, "k", "editor", 0, T0, key, &why),
                     BW_AUTH_OK);
    assert_int_equal(
        bw_auth_apikey_create(f->auth, f->ts.db, 999999, "k", "viewer", 0, T0, key, &why),
        BW_AUTH_NOT_FOUND);
    /* Expiry: in the past or now refused, one second ahead accepted and honoured. */
    why = NULL;
    assert_int_equal(
        bw_auth_apikey_create(f->auth, f->ts.db, ed, "k", "viewer", T0 - 1, T0, key, &why),
        BW_AUTH_INVALID);
    assert_non_null(why);
    assert_true(contains(why, "expiry"));
    assert_int_equal(bw_auth_apikey_create(f->auth, f->ts.db, ed, "k", "viewer", T0, T0, key, &why),
                     BW_AUTH_INVALID);
    assert_int_equal(bw_auth_apikey_create(f->auth, f->ts.db, ed, "k", "viewer", -5, T0, key, &why),
                     BW_AUTH_INVALID);
    assert_int_equal(
        bw_auth_apikey_create(f->auth, f->ts.db, ed, "soon", "viewer", T0 + 60, T0, key, &why),
        BW_AUTH_OK);
    assert_int_equal(authn(f, key, false, T0 + 30, &p), 1);
    assert_int_equal(authn(f, key, false, T0 + 61, &p), 0);
    /* A name is 1 to 64 printable characters. */
    why = NULL;
    assert_int_equal(bw_auth_apikey_create(f->auth, f->ts.db, ed, "", "viewer", 0, T0, key, &why),
                     BW_AUTH_INVALID);
    assert_non_null(why);
    why = NULL;
    assert_int_equal(
        bw_auth_apikey_create(f->auth, f->ts.db, ed, "a\nb", "viewer", 0, T0, key, &why),
        BW_AUTH_INVALID);
    assert_non_null(why);
}

/* ---- bw_principal_allows --------------------------------------------------------------------- */

static void test_principal_allows(void **state)
{
    fixture *f = *state;
    const bw_rbac *r = bw_auth_rbac(f->auth);
    long long ed = create_user(f, "eddie", PW, "editor");
    long long ad = create_user(f, "ada", PW, "admin");
    char key[BW_APIKEY_LEN + 1], akey[BW_APIKEY_LEN + 1], tok[BW_SESSION_TOKEN_LEN + 1];
    const char *why = NULL;
    bw_principal p;

    must_login(f, "eddie", PW, T0, tok);
    assert_int_equal(authn(f, tok, false, T0, &p), 1);
    assert_true(bw_principal_allows(r, &p, perm(f, "notes:read")));
    assert_true(bw_principal_allows(r, &p, perm(f, "notes:write")));
    assert_false(bw_principal_allows(r, &p, perm(f, "users:read")));
    assert_false(bw_principal_allows(r, &p, -1));
    /* A viewer key of an editor: the key's scope limits it. */
    assert_int_equal(bw_auth_apikey_create(f->auth, f->ts.db, ed, "k", "viewer", 0, T0, key, &why),
                     BW_AUTH_OK);
    assert_int_equal(authn(f, key, false, T0, &p), 1);
    assert_true(bw_principal_allows(r, &p, perm(f, "notes:read")));
    assert_false(bw_principal_allows(r, &p, perm(f, "notes:write")));
    /* An admin's editor key: no admin permission. */
    assert_int_equal(bw_auth_apikey_create(f->auth, f->ts.db, ad, "k", "editor", 0, T0, akey, &why),
                     BW_AUTH_OK);
    assert_int_equal(authn(f, akey, false, T0, &p), 1);
    assert_true(bw_principal_allows(r, &p, perm(f, "notes:write")));
    assert_false(bw_principal_allows(r, &p, perm(f, "users:write")));
    assert_false(bw_principal_allows(r, &p, perm(f, "notes:moderate")));
    /* The owner demoted to auditor: the viewer key now grants nothing of either. */
    assert_int_equal(bw_auth_user_set_roles(f->auth, f->ts.db, ed, "auditor", &why), BW_AUTH_OK);
    assert_int_equal(authn(f, key, false, T0, &p), 1);
    assert_false(bw_principal_allows(r, &p, perm(f, "notes:read")));
    assert_false(bw_principal_allows(r, &p, perm(f, "audit:read")));
    /* session:self is granted by viewer (the key) and auditor (the owner). */
    assert_true(bw_principal_allows(r, &p, perm(f, "session:self")));
}

/* ---- bw_auth_csrf_ok ------------------------------------------------------------------------- */

static void csrf_of(fixture *f, const char *tok, char out[BW_SESSION_TOKEN_LEN + 1])
{
    assert_int_equal(bw_auth_csrf_token(f->auth, tok, strlen(tok), out), 0);
}

static bool csrf(fixture *f, const char *tok, const char *host, const char *origin, const char *sfs,
                 const char *hdr)
{
    return bw_auth_csrf_ok(f->auth, tok, strlen(tok), host, origin, sfs, hdr);
}

static void test_csrf_origin(void **state)
{
    fixture *f = *state;
    static const char *const refused[] = {
        ORIGIN "/",
        "https://notes.example:9443",
        "http://" HOST,
        "https://NOTES.example:8443",
        "HTTPS://" HOST,
        "https://notes.example",
        ORIGIN ".evil.test",
        "https://evil." HOST,
        "https://notes.example:8443@evil.test",
        "https://notes.example:84430",
        "https://notes.example:844",
        "null",
        "",
        HOST,
        " " ORIGIN,
    };
    char tok[BW_SESSION_TOKEN_LEN + 1], c[BW_SESSION_TOKEN_LEN + 1];

    (void)create_user(f, "alice", PW, "editor");
    must_login(f, "alice", PW, T0, tok);
    csrf_of(f, tok, c);
    assert_true(csrf(f, tok, HOST, ORIGIN, NULL, c));
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (csrf(f, tok, HOST, refused[i], NULL, c))
            fail_msg("origin \"%s\" accepted for host %s", refused[i], HOST);
        /* Sec-Fetch-Site does not rescue a wrong Origin. */
        assert_false(csrf(f, tok, HOST, refused[i], "same-origin", c));
    }
    /* Exact, also in case: an upper-case Host against the browser's lower-case Origin. */
    assert_false(csrf(f, tok, "NOTES.example:8443", ORIGIN, NULL, c));
    /* A host without a port. */
    assert_true(csrf(f, tok, "notes.example", "https://notes.example", NULL, c));
    assert_false(csrf(f, tok, "notes.example", ORIGIN, NULL, c));
    /* No Host: refused. */
    assert_false(bw_auth_csrf_ok(f->auth, tok, strlen(tok), NULL, ORIGIN, NULL, c));
    assert_false(bw_auth_csrf_ok(f->auth, tok, strlen(tok), NULL, NULL, "same-origin", c));
}

static void test_csrf_fetch_site(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1], c[BW_SESSION_TOKEN_LEN + 1];

    (void)create_user(f, "alice", PW, "editor");
    must_login(f, "alice", PW, T0, tok);
    csrf_of(f, tok, c);
    assert_true(csrf(f, tok, HOST, NULL, "same-origin", c));
    assert_false(csrf(f, tok, HOST, NULL, "same-site", c));
    assert_false(csrf(f, tok, HOST, NULL, "cross-site", c));
    assert_false(csrf(f, tok, HOST, NULL, "none", c));
    assert_false(csrf(f, tok, HOST, NULL, "Same-Origin", c));
    assert_false(csrf(f, tok, HOST, NULL, "same-origin ", c));
    assert_false(csrf(f, tok, HOST, NULL, "", c));
    /* Neither header. */
    assert_false(csrf(f, tok, HOST, NULL, NULL, c));
    /* Both: they must agree. */
    assert_true(csrf(f, tok, HOST, ORIGIN, "same-origin", c));
    assert_false(csrf(f, tok, HOST, ORIGIN, "cross-site", c));
    assert_false(csrf(f, tok, HOST, ORIGIN, "same-site", c));
    assert_false(csrf(f, tok, HOST, ORIGIN, "", c));
}

static void test_csrf_token(void **state)
{
    fixture *f = *state;
    char tok[BW_SESSION_TOKEN_LEN + 1], tok2[BW_SESSION_TOKEN_LEN + 1];
    char c[BW_SESSION_TOKEN_LEN + 1], c2[BW_SESSION_TOKEN_LEN + 1], bad[BW_SESSION_TOKEN_LEN + 2];

    (void)create_user(f, "alice", PW, "editor");
    must_login(f, "alice", PW, T0, tok);
    must_login(f, "alice", PW, T0, tok2);
    csrf_of(f, tok, c);
    csrf_of(f, tok2, c2);
    assert_string_not_equal(c, c2);
    assert_string_not_equal(c, tok);
    assert_true(csrf(f, tok, HOST, ORIGIN, NULL, c));
    assert_true(csrf(f, tok2, HOST, ORIGIN, NULL, c2));
    /* Missing, empty, the other session's, the session token itself. */
    assert_false(csrf(f, tok, HOST, ORIGIN, NULL, NULL));
    assert_false(csrf(f, tok, HOST, ORIGIN, NULL, ""));
    assert_false(csrf(f, tok, HOST, ORIGIN, NULL, c2));
    assert_false(csrf(f, tok2, HOST, ORIGIN, NULL, c));
    assert_false(csrf(f, tok, HOST, ORIGIN, NULL, tok));
    /* One byte changed at either end, one missing, one more. */
    memcpy(bad, c, sizeof(c));
    bad[0] = bad[0] == 'A' ? 'B' : 'A';
    assert_false(csrf(f, tok, HOST, ORIGIN, NULL, bad));
    memcpy(bad, c, sizeof(c));
    bad[BW_SESSION_TOKEN_LEN - 1] = bad[BW_SESSION_TOKEN_LEN - 1] == 'A' ? 'B' : 'A';
    assert_false(csrf(f, tok, HOST, ORIGIN, NULL, bad));
    memcpy(bad, c, sizeof(c));
    bad[BW_SESSION_TOKEN_LEN - 1] = '\0';
    assert_false(csrf(f, tok, HOST, ORIGIN, NULL, bad));
    memcpy(bad, c, sizeof(c));
    bad[BW_SESSION_TOKEN_LEN] = 'A';
    bad[BW_SESSION_TOKEN_LEN + 1] = '\0';
    assert_false(csrf(f, tok, HOST, ORIGIN, NULL, bad));
    /* A malformed session token has no CSRF token. */
    assert_false(bw_auth_csrf_ok(f->auth, tok, BW_SESSION_TOKEN_LEN - 1, HOST, ORIGIN, NULL, c));
    assert_false(bw_auth_csrf_ok(f->auth, "", 0, HOST, ORIGIN, NULL, ""));
}

/* The CSRF token depends on the server's secret: another secret, another token. */
static void test_csrf_bound_to_secret(void **state)
{
    fixture *f = *state;
    char path[640], err[512] = "", tok[BW_SESSION_TOKEN_LEN + 1], c[BW_SESSION_TOKEN_LEN + 1];
    bw_config *c2;
    bw_auth *a2;

    (void)create_user(f, "alice", PW, "editor");
    must_login(f, "alice", PW, T0, tok);
    csrf_of(f, tok, c);
    (void)snprintf(path, sizeof(path), "%s/secrets/other.key", f->data_dir);
    assert_int_equal(bw_secret_generate_file(path, 32, err, sizeof(err)), 1);
    c2 = config_for(f->data_dir, 2, MEM_KIB, 64, "file:secrets/other.key");
    assert_non_null(c2);
    a2 = bw_auth_new(c2, f->rbac, f->rbac_len, err, sizeof(err));
    assert_non_null(a2);
    assert_false(bw_auth_csrf_ok(a2, tok, strlen(tok), HOST, ORIGIN, NULL, c));
    /* Nor does a session made under one secret pass under the other. */
    {
        bw_principal p;

        assert_int_equal(bw_auth_authenticate(a2, f->ts.db, tok, strlen(tok), false, T0, &p), 0);
    }
    bw_auth_free(a2);
    bw_config_free(c2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_new_ok),
        T(test_new_missing_secret),
        T(test_new_short_secret),
        T(test_new_memory_budget),
        T(test_new_bad_rbac),
        T(test_user_create),
        T(test_user_create_refused),
        T(test_login_ok),
        T(test_login_denied),
        T(test_login_lockout),
        T(test_login_address_limit),
        T(test_login_address_limit_ipv6),
        T(test_login_rehash),
        T(test_authenticate_unknown),
        T(test_authenticate_session_expiry),
        T(test_authenticate_apikey),
        T(test_authenticate_disabled),
        T(test_set_password),
        T(test_set_roles),
        T(test_set_disabled),
        T(test_apikey_create_rules),
        T(test_principal_allows),
        T(test_csrf_origin),
        T(test_csrf_fetch_site),
        T(test_csrf_token),
        T(test_csrf_bound_to_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
