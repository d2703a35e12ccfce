/* Unit tests for RBAC: the sample config/rbac.json, wildcards, inheritance,
 * every load error, role lists, lookups, and the schema's own lint. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include "bulwark/rbac.h"
#include "bulwark/schema.h"
#include "bulwark/schemalint.h"

#define SAMPLE BW_SOURCE_DIR "/config/rbac.json"
#define SCHEMA BW_SOURCE_DIR "/config/rbac.schema.json"
#define SCHEMA_NOTE " (config/rbac.schema.json)"

/* Four permissions: "a:*" must not reach "ab:z". */
#define PERMS "\"permissions\":{\"a:x\":\"d\",\"a:y\":\"d\",\"ab:z\":\"d\",\"b:x\":\"d\"}"

static char err[4096];

static bw_rbac *load_ok(const char *json)
{
    bw_rbac *r = NULL;
    err[0] = '\0';
    if (bw_rbac_load(json, strlen(json), &r, err, sizeof(err)) != 0 || r == NULL)
        fail_msg("refused: %s\n  %s", json, err);
    return r;
}

/* Load must fail with exactly `message`. */
static void expect_error(const char *json, const char *message)
{
    bw_rbac *r = (bw_rbac *)&err; /* must be reset to NULL */
    err[0] = '\0';
    if (bw_rbac_load(json, strlen(json), &r, err, sizeof(err)) != -1 || r != NULL)
        fail_msg("accepted: %s", json);
    if (strcmp(err, message) != 0)
        fail_msg("%s\n  expected: %s\n  got:      %s", json, message, err);
}

/* Load must fail with a message that starts with `prefix`. */
static void expect_error_prefix(const char *json, const char *prefix)
{
    bw_rbac *r = NULL;
    err[0] = '\0';
    if (bw_rbac_load(json, strlen(json), &r, err, sizeof(err)) != -1 || r != NULL)
        fail_msg("accepted: %s", json);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("%s\n  expected: %s...\n  got:      %s", json, prefix, err);
}

static int perm(const bw_rbac *r, const char *name)
{
    int i = bw_rbac_permission_index(r, name, strlen(name));
    if (i < 0)
        fail_msg("permission %s is not declared", name);
    return i;
}

static bw_roleset roles(const bw_rbac *r, const char *list)
{
    bw_roleset set = 0;
    if (bw_rbac_roles_parse(r, list, strlen(list), &set, err, sizeof(err)) != 0)
        fail_msg("roles %s: %s", list, err);
    return set;
}

static bool allows(const bw_rbac *r, const char *role_list, const char *permission)
{
    return bw_rbac_allows(r, roles(r, role_list), perm(r, permission));
}

/* Appends to a malloc'd growing string; aborts the test on OOM. */
__attribute__((format(printf, 4, 5))) static void append(char **s, size_t *len, size_t *cap,
                                                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if (*len + (size_t)n + 1 > *cap) {
        *cap = (*len + (size_t)n + 1) * 2;
        *s = realloc(*s, *cap);
        assert_non_null(*s);
    }
    va_start(ap, fmt);
    (void)vsnprintf(*s + *len, *cap - *len, fmt, ap);
    va_end(ap);
    *len += (size_t)n;
}

/* A document with nperms permissions p:pN and nroles roles rN; role rN
 * grants p:pN when it exists, and the last role also inherits the first. */
static char *generated(size_t nperms, size_t nroles)
{
    char *s = NULL;
    size_t len = 0, cap = 0;
    append(&s, &len, &cap, "{\"permissions\":{");
    for (size_t i = 0; i < nperms; i++)
        append(&s, &len, &cap, "%s\"p:p%zu\":\"d\"", i ? "," : "", i);
    append(&s, &len, &cap, "},\"roles\":{");
    for (size_t i = 0; i < nroles; i++) {
        append(&s, &len, &cap, "%s\"r%zu\":{\"permissions\":[", i ? "," : "", i);
        if (i < nperms)
            append(&s, &len, &cap, "\"p:p%zu\"", i);
        append(&s, &len, &cap, "]%s}", i + 1 == nroles && i > 0 ? ",\"inherits\":[\"r0\"]" : "");
    }
    append(&s, &len, &cap, "}}");
    return s;
}

/* ---- The sample file ---- */

static void test_sample_file(void **state)
{
    (void)state;
    static const char *const perms[] = {"notes:read",   "notes:write",    "notes:moderate",
                                        "users:read",   "users:write",    "audit:read",
                                        "openapi:read", "apikeys:manage", "session:self"};
    /* Expected grants, one row per role, columns in the order of perms. */
    static const struct {
        const char *role;
        bool grants[9];
    } want[] = {
        {"viewer", {1, 0, 0, 0, 0, 0, 0, 0, 1}},
        {"editor", {1, 1, 0, 0, 0, 0, 0, 0, 1}},
        {"admin", {1, 1, 1, 1, 1, 0, 1, 1, 1}},
        {"auditor", {0, 0, 0, 0, 0, 1, 0, 0, 1}},
    };
    bw_rbac *r = NULL;
    if (bw_rbac_load_file(SAMPLE, &r, err, sizeof(err)) != 0)
        fail_msg("%s", err);

    assert_int_equal(bw_rbac_role_count(r), 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(bw_rbac_role_name(r, i), want[i].role);
        assert_int_equal(bw_rbac_role_index(r, want[i].role, strlen(want[i].role)), (int)i);
    }
    for (size_t p = 0; p < 9; p++) /* indices in declaration order */
        assert_int_equal(perm(r, perms[p]), (int)p);
    for (size_t i = 0; i < 4; i++) {
        for (size_t p = 0; p < 9; p++) {
            if (allows(r, want[i].role, perms[p]) != want[i].grants[p])
                fail_msg("%s %s %s", want[i].role, want[i].grants[p] ? "lacks" : "has", perms[p]);
        }
    }
    /* A set grants the union of its roles. */
    assert_true(allows(r, "viewer,auditor", "audit:read"));
    assert_true(allows(r, "viewer,auditor", "notes:read"));
    assert_false(allows(r, "viewer,auditor", "notes:write"));
    for (size_t p = 0; p < 9; p++)
        assert_false(bw_rbac_allows(r, 0, (int)p));
    bw_rbac_free(r);
}

/* An API key's roles must stay within its owner's: compared by the permissions they grant,
 * not by role names (viewer is within editor, auditor is not). */
static void test_roles_within(void **state)
{
    (void)state;
    bw_rbac *r = NULL;
    if (bw_rbac_load_file(SAMPLE, &r, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    bw_roleset viewer = 1u << 0, editor = 1u << 1, admin = 1u << 2, auditor = 1u << 3;

    assert_true(bw_rbac_roles_within(r, viewer, editor));
    assert_true(bw_rbac_roles_within(r, editor | viewer, admin));
    assert_true(bw_rbac_roles_within(r, editor, editor));
    assert_true(bw_rbac_roles_within(r, 0, viewer));
    assert_false(bw_rbac_roles_within(r, editor, viewer));
    assert_false(bw_rbac_roles_within(r, auditor, admin));
    assert_true(bw_rbac_roles_within(r, auditor, admin | auditor));
    assert_false(bw_rbac_roles_within(NULL, 0, 0));
    bw_rbac_free(r);
}

/* ---- Wildcards and inheritance ---- */

static void test_wildcards(void **state)
{
    (void)state;
    bw_rbac *r = load_ok("{" PERMS ",\"roles\":{"
                         "\"a\":{\"permissions\":[\"a:*\"]},"
                         "\"ab\":{\"permissions\":[\"ab:*\"]},"
                         "\"all\":{\"permissions\":[\"*\"]},"
                         "\"mixed\":{\"permissions\":[\"a:x\",\"a:*\",\"b:x\"]},"
                         "\"none\":{}}}");
    assert_true(allows(r, "a", "a:x"));
    assert_true(allows(r, "a", "a:y"));
    assert_false(allows(r, "a", "ab:z")); /* the prefix ends at the colon */
    assert_false(allows(r, "a", "b:x"));
    assert_true(allows(r, "ab", "ab:z"));
    assert_false(allows(r, "ab", "a:x"));
    assert_true(allows(r, "mixed", "a:y"));
    assert_true(allows(r, "mixed", "b:x"));
    assert_false(allows(r, "mixed", "ab:z"));
    static const char *const every[] = {"a:x", "a:y", "ab:z", "b:x"};
    for (size_t i = 0; i < 4; i++) {
        assert_true(allows(r, "all", every[i]));
        assert_false(allows(r, "none", every[i]));
    }
    bw_rbac_free(r);
}

static void test_inheritance(void **state)
{
    (void)state;
    /* top is declared before the roles it inherits; d is a diamond over base. */
    bw_rbac *r = load_ok("{" PERMS ",\"roles\":{"
                         "\"top\":{\"inherits\":[\"mid\"],\"permissions\":[\"b:x\"]},"
                         "\"mid\":{\"inherits\":[\"base\"],\"permissions\":[\"a:y\"]},"
                         "\"base\":{\"permissions\":[\"a:x\"]},"
                         "\"left\":{\"inherits\":[\"base\"]},"
                         "\"right\":{\"inherits\":[\"base\"],\"permissions\":[\"ab:*\"]},"
                         "\"d\":{\"inherits\":[\"left\",\"right\"]}}}");
    assert_true(allows(r, "top", "a:x")); /* two levels up */
    assert_true(allows(r, "top", "a:y"));
    assert_true(allows(r, "top", "b:x"));
    assert_false(allows(r, "top", "ab:z"));
    assert_true(allows(r, "mid", "a:x"));
    assert_false(allows(r, "mid", "b:x")); /* nothing flows down */
    assert_false(allows(r, "base", "a:y"));
    assert_true(allows(r, "left", "a:x"));
    assert_false(allows(r, "left", "ab:z"));
    assert_true(allows(r, "d", "a:x"));
    assert_true(allows(r, "d", "ab:z"));
    assert_false(allows(r, "d", "a:y"));
    bw_rbac_free(r);
}

/* ---- Load errors ---- */

static void test_bad_json(void **state)
{
    (void)state;
    expect_error_prefix("", "invalid JSON at line 1");
    expect_error_prefix("{", "invalid JSON at line 1");
    expect_error_prefix("{\"permissions\":{}", "invalid JSON at line 1");
    expect_error_prefix("{\"permissions\":{}}\n[]", "invalid JSON at line 2");
    expect_error_prefix("{'a':1}", "invalid JSON");

    bw_rbac *r = (bw_rbac *)&err;
    assert_int_equal(bw_rbac_load(NULL, 0, &r, err, sizeof(err)), -1);
    assert_null(r);
    assert_string_equal(err, "no input");
    /* A NUL inside the text is not JSON. */
    static const char nul[] = "{\"permissions\":{\"a:x\":\"d\"},\"roles\":{}}\0 ";
    assert_int_equal(bw_rbac_load(nul, sizeof(nul) - 1, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "invalid JSON"));
}

static void test_duplicate_key(void **state)
{
    (void)state;
    expect_error_prefix("{" PERMS ",\"roles\":{\"a\":{}},\"roles\":{}}", "invalid JSON");
    assert_non_null(strstr(err, "duplicate"));
    expect_error_prefix("{" PERMS ",\"roles\":{\"a\":{},\"a\":{\"permissions\":[\"*\"]}}}",
                        "invalid JSON");
    assert_non_null(strstr(err, "duplicate"));
    expect_error_prefix("{\"permissions\":{\"a:x\":\"d\",\"a:x\":\"e\"},\"roles\":{\"a\":{}}}",
                        "invalid JSON");
    assert_non_null(strstr(err, "duplicate"));
}

static void test_schema_violations(void **state)
{
    (void)state;
    /* Each document breaks the schema once; the message names where. */
    static const struct {
        const char *json, *pointer;
    } cases[] = {
        {"[]", "/: "},
        {"{" PERMS "}", "/: "},                                       /* no roles */
        {"{\"roles\":{\"a\":{}}}", "/: "},                            /* no permissions */
        {"{" PERMS ",\"roles\":{\"a\":{}},\"extra\":1}", "/extra: "}, /* unknown key */
        {"{\"permissions\":{},\"roles\":{\"a\":{}}}", "/permissions: "},
        {"{" PERMS ",\"roles\":{}}", "/roles: "},
        {"{\"permissions\":{\"a:x\":1},\"roles\":{\"a\":{}}}", "/permissions/a:x: "},
        {"{\"permissions\":{\"a:x\":\"\"},\"roles\":{\"a\":{}}}", "/permissions/a:x: "},
        {"{" PERMS ",\"roles\":{\"a\":{\"perms\":[]}}}", "/roles/a/perms: "},
        {"{" PERMS ",\"roles\":{\"a\":[]}}", "/roles/a: "},
        {"{" PERMS ",\"roles\":{\"a\":{\"inherits\":\"b\"},\"b\":{}}}", "/roles/a/inherits: "},
        {"{" PERMS ",\"roles\":{\"a\":{\"permissions\":\"a:x\"}}}", "/roles/a/permissions: "},
        {"{" PERMS ",\"roles\":{\"a\":{\"permissions\":[\"a:x\",\"a:x\"]}}}",
         "/roles/a/permissions: "},
        {"{" PERMS ",\"roles\":{\"a\":{\"permissions\":[1]}}}", "/roles/a/permissions/0: "},
        {"{" PERMS ",\"roles\":{\"a\":{\"inherits\":[\"b\",\"b\"]},\"b\":{}}}",
         "/roles/a/inherits: "},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_error_prefix(cases[i].json, cases[i].pointer);
        size_t n = strlen(err), m = strlen(SCHEMA_NOTE);
        if (n < m || strcmp(err + n - m, SCHEMA_NOTE) != 0)
            fail_msg("%s: not a schema error: %s", cases[i].json, err);
    }
}

static void test_undeclared_permission(void **state)
{
    (void)state;
    expect_error("{" PERMS ",\"roles\":{\"a\":{\"permissions\":[\"a:x\",\"a:z\"]}}}",
                 "/roles/a/permissions/1: undeclared permission \"a:z\"");
    /* Matching is exact: no case folding, no prefix. */
    expect_error("{" PERMS ",\"roles\":{\"a\":{\"permissions\":[\"ab:zz\"]}}}",
                 "/roles/a/permissions/0: undeclared permission \"ab:zz\"");
}

static void test_unmatched_wildcard(void **state)
{
    (void)state;
    expect_error("{" PERMS ",\"roles\":{\"a\":{},\"b\":{\"permissions\":[\"a:*\",\"c:*\"]}}}",
                 "/roles/b/permissions/1: \"c:*\" matches no declared permission");
    /* "a:*" does not match "ab:z", so "ab" must not be matched by "a". */
    expect_error("{\"permissions\":{\"ab:z\":\"d\"},\"roles\":{\"a\":{\"permissions\":["
                 "\"a:*\"]}}}",
                 "/roles/a/permissions/0: \"a:*\" matches no declared permission");
}

static void test_unknown_inherited_role(void **state)
{
    (void)state;
    expect_error("{" PERMS ",\"roles\":{\"viewer\":{},\"editor\":{\"inherits\":[\"viwer\"]}}}",
                 "/roles/editor/inherits/0: unknown role \"viwer\"");
    expect_error("{" PERMS ",\"roles\":{\"a\":{},\"b\":{\"inherits\":[\"a\",\"c\"]}}}",
                 "/roles/b/inherits/1: unknown role \"c\"");
}

static void test_cycles(void **state)
{
    (void)state;
    expect_error("{" PERMS ",\"roles\":{\"a\":{\"inherits\":[\"a\"]}}}",
                 "/roles/a/inherits/0: inheritance cycle: a -> a");
    expect_error("{" PERMS
                 ",\"roles\":{\"a\":{\"inherits\":[\"b\"]},\"b\":{\"inherits\":[\"a\"]}}}",
                 "/roles/b/inherits/0: inheritance cycle: a -> b -> a");
    /* A tail (x) leading into a cycle: only the cycle is named. */
    expect_error("{" PERMS ",\"roles\":{\"x\":{\"inherits\":[\"a\"]},"
                 "\"a\":{\"inherits\":[\"b\"]},\"b\":{\"inherits\":[\"ok\",\"c\"]},"
                 "\"c\":{\"inherits\":[\"a\"]},\"ok\":{}}}",
                 "/roles/c/inherits/0: inheritance cycle: a -> b -> c -> a");
    /* Reaching a resolved role twice is not a cycle. */
    bw_rbac *r = load_ok("{" PERMS ",\"roles\":{\"a\":{\"inherits\":[\"b\",\"c\"]},"
                         "\"b\":{\"inherits\":[\"c\"]},\"c\":{\"permissions\":[\"b:x\"]}}}");
    assert_true(allows(r, "a", "b:x"));
    bw_rbac_free(r);
}

static void test_cycle_through_every_role(void **state)
{
    (void)state;
    /* r0 -> r1 -> ... -> r63 -> r0: the longest message there is. */
    char *s = NULL;
    size_t len = 0, cap = 0;
    append(&s, &len, &cap, "{" PERMS ",\"roles\":{");
    for (size_t i = 0; i < BW_RBAC_MAX_ROLES; i++)
        append(&s, &len, &cap,
               "%s\"role-with-a-long-name-%09zu\":{\"inherits\":[\"role-with-a-"
               "long-name-%09zu\"]}",
               i ? "," : "", i, (i + 1) % BW_RBAC_MAX_ROLES);
    append(&s, &len, &cap, "}}");
    bw_rbac *r = NULL;
    assert_int_equal(bw_rbac_load(s, len, &r, err, sizeof(err)), -1);
    assert_null(r);
    const char *want = "/roles/role-with-a-long-name-000000063/inherits/0: inheritance cycle: "
                       "role-with-a-long-name-000000000 -> role-with-a-long-name-000000001 -> ";
    assert_memory_equal(err, want, strlen(want));
    const char *end = " -> role-with-a-long-name-000000063 -> role-with-a-long-name-000000000";
    assert_true(strlen(err) > strlen(end));
    assert_string_equal(err + strlen(err) - strlen(end), end);
    /* A short buffer gets a cut, terminated message. */
    char small[16];
    assert_int_equal(bw_rbac_load(s, len, &r, small, sizeof(small)), -1);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    free(s);
}

static void test_inheritance_ladder(void **state)
{
    (void)state;
    /* rN inherits rN-1 and rN-2: resolving each role once is instant, walking
     * every path again would take about 2^44 steps. */
    char *s = NULL;
    size_t len = 0, cap = 0;
    append(&s, &len, &cap,
           "{" PERMS ",\"roles\":{\"r0\":{\"permissions\":[\"a:x\"]},"
           "\"r1\":{\"permissions\":[\"b:x\"]}");
    for (size_t i = 2; i < BW_RBAC_MAX_ROLES; i++)
        append(&s, &len, &cap, ",\"r%zu\":{\"inherits\":[\"r%zu\",\"r%zu\"]}", i, i - 1, i - 2);
    append(&s, &len, &cap, "}}");
    bw_rbac *r = load_ok(s);
    free(s);
    assert_true(allows(r, "r63", "a:x"));
    assert_true(allows(r, "r63", "b:x"));
    assert_false(allows(r, "r63", "a:y"));
    bw_rbac_free(r);
}

static void test_limits(void **state)
{
    (void)state;
    char *s = generated(BW_RBAC_MAX_PERMISSIONS, BW_RBAC_MAX_ROLES);
    bw_rbac *r = load_ok(s);
    free(s);
    assert_int_equal(bw_rbac_role_count(r), BW_RBAC_MAX_ROLES);
    /* Bit 63 of the set and bits in the last word of the permissions. */
    assert_true(allows(r, "r63", "p:p63"));
    assert_true(allows(r, "r63", "p:p0")); /* inherited from r0 */
    assert_false(allows(r, "r63", "p:p62"));
    assert_true(bw_rbac_allows(r, (bw_roleset)1 << 63, 63));
    assert_false(bw_rbac_allows(r, (bw_roleset)1 << 62, 63));
    assert_int_equal(perm(r, "p:p255"), 255);
    assert_false(bw_rbac_allows(r, ~(bw_roleset)0, 255)); /* no role grants it */
    bw_rbac_free(r);

    s = generated(BW_RBAC_MAX_PERMISSIONS + 1, 1);
    expect_error_prefix(s, "/permissions: ");
    assert_non_null(strstr(err, SCHEMA_NOTE));
    free(s);
    s = generated(1, BW_RBAC_MAX_ROLES + 1);
    expect_error_prefix(s, "/roles: ");
    assert_non_null(strstr(err, SCHEMA_NOTE));
    free(s);
}

static void test_size_cap(void **state)
{
    (void)state;
    const char *doc = "{" PERMS ",\"roles\":{\"a\":{\"permissions\":[\"*\"]}}}";
    size_t cap = (size_t)1024 * 1024, dl = strlen(doc);
    char *big = malloc(cap + 1);
    assert_non_null(big);
    memcpy(big, doc, dl);
    memset(big + dl, ' ', cap + 1 - dl); /* trailing white space is valid JSON */
    bw_rbac *r = NULL;
    assert_int_equal(bw_rbac_load(big, cap, &r, err, sizeof(err)), 0);
    assert_non_null(r);
    bw_rbac_free(r);
    r = NULL;
    assert_int_equal(bw_rbac_load(big, cap + 1, &r, err, sizeof(err)), -1);
    assert_null(r);
    assert_string_equal(err, "larger than 1 MiB");
    free(big);
}

static void test_bad_names(void **state)
{
    (void)state;
    static const char *const bad_roles[] = {
        "Viewer",   "1a",      "a b",
        "a:b",      "-a",      "a\\n",
        "a\\u0001", "\\u00e9", "abcdefghijklmnopqrstuvwxyz0123456", /* 33 characters */
    };
    for (size_t i = 0; i < sizeof(bad_roles) / sizeof(bad_roles[0]); i++) {
        char doc[512];
        (void)snprintf(doc, sizeof(doc), "{" PERMS ",\"roles\":{\"%s\":{}}}", bad_roles[i]);
        expect_error_prefix(doc, "/roles");
        assert_non_null(strstr(err, SCHEMA_NOTE));
        /* A message is one printable line. */
        for (const char *p = err; *p != '\0'; p++)
            assert_true(*p >= 0x20 && *p < 0x7f);
        (void)snprintf(doc, sizeof(doc), "{" PERMS ",\"roles\":{\"a\":{\"inherits\":[\"%s\"]}}}",
                       bad_roles[i]);
        expect_error_prefix(doc, "/roles/a/inherits/0: ");
    }
    static const char *const bad_perms[] = {
        "notes",
        "notes:",
        ":read",
        "notes:read:x",
        "Notes:read",
        "notes:Read",
        "notes:*",
        "*",
        "notes :read",
        "notes:read\\n",
        "abcdefghijklmnopqrstuvwxyz0123456:a",
        "a:abcdefghijklmnopqrstuvwxyz0123456",
    };
    for (size_t i = 0; i < sizeof(bad_perms) / sizeof(bad_perms[0]); i++) {
        char doc[512];
        (void)snprintf(doc, sizeof(doc), "{\"permissions\":{\"%s\":\"d\"},\"roles\":{\"a\":{}}}",
                       bad_perms[i]);
        expect_error_prefix(doc, "/permissions");
        assert_non_null(strstr(err, SCHEMA_NOTE));
    }
    static const char *const bad_grants[] = {
        "notes:**", "*:read", "notes*", "**", "a:x*", ":*", "a:", "",
    };
    for (size_t i = 0; i < sizeof(bad_grants) / sizeof(bad_grants[0]); i++) {
        char doc[512];
        (void)snprintf(doc, sizeof(doc), "{" PERMS ",\"roles\":{\"a\":{\"permissions\":[\"%s\"]}}}",
                       bad_grants[i]);
        expect_error_prefix(doc, "/roles/a/permissions/0: ");
        assert_non_null(strstr(err, SCHEMA_NOTE));
    }
    /* The longest names that are allowed. */
    bw_rbac *r = load_ok("{\"permissions\":{\"abcdefghijklmnopqrstuvwxyz012345:"
                         "a_b.c-d0123456789012345678901234\":\"d\"},"
                         "\"roles\":{\"abcdefghijklmnopqrstuvwxyz012345\":{\"permissions\":"
                         "[\"abcdefghijklmnopqrstuvwxyz012345:*\"]}}}");
    assert_true(allows(r, "abcdefghijklmnopqrstuvwxyz012345",
                       "abcdefghijklmnopqrstuvwxyz012345:a_b.c-d0123456789012345678901234"));
    bw_rbac_free(r);
}

/* ---- Files ---- */

static char *tmpdir;

static int make_tmpdir(void **state)
{
    (void)state;
    tmpdir = bw_tmpdir_create();
    return tmpdir != NULL ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    int rc = bw_rm_rf(tmpdir);
    free(tmpdir);
    tmpdir = NULL;
    return rc == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void expect_file_error(const char *path, const char *message)
{
    char want[1024];
    bw_rbac *r = (bw_rbac *)&err;
    (void)snprintf(want, sizeof(want), "%s: %s", path, message);
    assert_int_equal(bw_rbac_load_file(path, &r, err, sizeof(err)), -1);
    assert_null(r);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("expected: %s\n  got:      %s", want, err);
}

static void test_load_file(void **state)
{
    (void)state;
    char path[512];
    bw_rbac *r = NULL;

    (void)snprintf(path, sizeof(path), "%s/missing.json", tmpdir);
    expect_file_error(path, "cannot open: ");
    expect_file_error(tmpdir, "not a regular file");
    (void)snprintf(path, sizeof(path), "%s/fifo", tmpdir);
    assert_int_equal(mkfifo(path, 0600), 0);
    expect_file_error(path, "not a regular file"); /* and does not block */

    (void)snprintf(path, sizeof(path), "%s/big.json", tmpdir);
    size_t big = (size_t)1024 * 1024 + 1;
    char *spaces = malloc(big);
    assert_non_null(spaces);
    memset(spaces, ' ', big);
    write_file(path, spaces, big);
    free(spaces);
    expect_file_error(path, "larger than 1 MiB");

    (void)snprintf(path, sizeof(path), "%s/cycle.json", tmpdir);
    const char *cyc = "{" PERMS ",\"roles\":{\"a\":{\"inherits\":[\"a\"]}}}";
    write_file(path, cyc, strlen(cyc));
    expect_file_error(path, "/roles/a/inherits/0: inheritance cycle: a -> a");

    (void)snprintf(path, sizeof(path), "%s/ok.json", tmpdir);
    const char *ok = "{" PERMS ",\"roles\":{\"a\":{\"permissions\":[\"b:x\"]}}}";
    write_file(path, ok, strlen(ok));
    assert_int_equal(bw_rbac_load_file(path, &r, err, sizeof(err)), 0);
    assert_true(allows(r, "a", "b:x"));
    bw_rbac_free(r);
    r = (bw_rbac *)&err;
    assert_int_equal(bw_rbac_load_file(NULL, &r, err, sizeof(err)), -1);
    assert_null(r);
}

/* ---- Role lists and lookups ---- */

static void test_roles_roundtrip(void **state)
{
    (void)state;
    bw_rbac *r = NULL;
    char out[256];
    if (bw_rbac_load_file(SAMPLE, &r, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    /* Every subset of the four roles formats and parses back to itself. */
    for (bw_roleset set = 0; set < 16; set++) {
        int n = bw_rbac_roles_format(r, set, out, sizeof(out));
        assert_true(n >= 0);
        assert_int_equal(strlen(out), (size_t)n);
        bw_roleset back = ~(bw_roleset)0;
        assert_int_equal(bw_rbac_roles_parse(r, out, (size_t)n, &back, err, sizeof(err)), 0);
        assert_int_equal(back, set);
    }
    /* Index order, whatever order the list had. */
    assert_int_equal(bw_rbac_roles_format(r, roles(r, "admin,viewer"), out, sizeof(out)), 12);
    assert_string_equal(out, "viewer,admin");
    assert_int_equal(roles(r, "editor,editor"), roles(r, "editor"));
    assert_int_equal(roles(r, ""), 0);
    /* Exactly enough room, and one byte less. */
    bw_roleset set = roles(r, "viewer,admin");
    assert_int_equal(bw_rbac_roles_format(r, set, out, 13), 12);
    assert_string_equal(out, "viewer,admin");
    assert_int_equal(bw_rbac_roles_format(r, set, out, 12), -1);
    assert_string_equal(out, "");
    assert_int_equal(bw_rbac_roles_format(r, set, out, 0), -1);
    assert_int_equal(bw_rbac_roles_format(r, 0, out, 1), 0);
    assert_string_equal(out, "");
    /* Bits of roles that do not exist name nothing and grant nothing. */
    assert_int_equal(bw_rbac_roles_format(r, set | ((bw_roleset)1 << 40), out, sizeof(out)), 12);
    assert_false(bw_rbac_allows(r, (bw_roleset)1 << 40, perm(r, "notes:read")));
    bw_rbac_free(r);
}

static void test_roles_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *list;
        size_t len;
        const char *message;
    } cases[] = {
        {"editor,,viewer", 14, "malformed role \"\" at byte 7"},
        {"editor,", 7, "malformed role \"\" at byte 7"},
        {",editor", 7, "malformed role \"\" at byte 0"},
        {",", 1, "malformed role \"\" at byte 0"},
        {"unknown", 7, "unknown role \"unknown\" at byte 0"},
        {"viewer,Admin", 12, "malformed role \"Admin\" at byte 7"},
        {"editor, viewer", 14, "malformed role \" viewer\" at byte 7"},
        {"editor ", 7, "malformed role \"editor \" at byte 0"},
        {"editor\0", 7, "malformed role \"editor?\" at byte 0"},
        {"edit\nor", 7, "malformed role \"edit?or\" at byte 0"},
        {"viewe", 5, "unknown role \"viewe\" at byte 0"},
        {"viewers", 7, "unknown role \"viewers\" at byte 0"},
    };
    bw_rbac *r = NULL;
    if (bw_rbac_load_file(SAMPLE, &r, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bw_roleset set = 1;
        err[0] = '\0';
        assert_int_equal(
            bw_rbac_roles_parse(r, cases[i].list, cases[i].len, &set, err, sizeof(err)), -1);
        assert_int_equal(set, 0);
        if (strcmp(err, cases[i].message) != 0)
            fail_msg("case %zu: expected %s, got %s", i, cases[i].message, err);
    }
    /* A long name is echoed cut to 72 bytes. */
    char longname[101], want[128];
    memset(longname, 'a', 100);
    longname[100] = '\0';
    assert_int_equal(bw_rbac_roles_parse(r, longname, 100, &(bw_roleset){0}, err, sizeof(err)), -1);
    (void)snprintf(want, sizeof(want), "malformed role \"%.72s...\" at byte 0", longname);
    assert_string_equal(err, want);
    /* The length is honoured: "viewer" inside a longer buffer. */
    bw_roleset set = 0;
    assert_int_equal(bw_rbac_roles_parse(r, "viewer,editor", 6, &set, err, sizeof(err)), 0);
    assert_int_equal(set, 1);
    /* At most BW_RBAC_MAX_ROLES entries, even repeated ones. */
    char list[BW_RBAC_MAX_ROLES * 7 + 8];
    size_t len = 0;
    for (size_t i = 0; i < BW_RBAC_MAX_ROLES; i++) {
        memcpy(list + len, "viewer,", 7);
        len += 7;
    }
    memcpy(list + len, "viewer", 6);
    assert_int_equal(bw_rbac_roles_parse(r, list, len - 1, &set, err, sizeof(err)), 0);
    assert_int_equal(set, 1);
    assert_int_equal(bw_rbac_roles_parse(r, list, len + 6, &set, err, sizeof(err)), -1);
    assert_string_equal(err, "more than 64 roles");
    bw_rbac_free(r);
}

static void test_lookups(void **state)
{
    (void)state;
    bw_rbac *r = NULL;
    if (bw_rbac_load_file(SAMPLE, &r, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(bw_rbac_permission_index(r, "notes:delete", 12), -1);
    assert_int_equal(bw_rbac_permission_index(r, "notes:rea", 9), -1);
    assert_int_equal(bw_rbac_permission_index(r, "notes:read\0", 11), -1);
    assert_int_equal(bw_rbac_permission_index(r, "NOTES:READ", 10), -1);
    assert_int_equal(bw_rbac_permission_index(r, "notes:*", 7), -1);
    assert_int_equal(bw_rbac_permission_index(r, "", 0), -1);
    assert_int_equal(bw_rbac_permission_index(r, "notes:readX", 10), 0);
    assert_int_equal(bw_rbac_permission_index(NULL, "notes:read", 10), -1);
    assert_int_equal(bw_rbac_role_index(r, "admins", 6), -1);
    assert_int_equal(bw_rbac_role_index(r, "admin", 5), 2);
    assert_int_equal(bw_rbac_role_index(r, "admin\0", 6), -1);
    assert_null(bw_rbac_role_name(r, 4));
    assert_null(bw_rbac_role_name(NULL, 0));
    assert_int_equal(bw_rbac_role_count(NULL), 0);
    bw_roleset all = ~(bw_roleset)0;
    assert_false(bw_rbac_allows(r, all, -1));
    assert_false(bw_rbac_allows(r, all, 9)); /* one past the last permission */
    assert_true(bw_rbac_allows(r, all, 8));
    assert_false(bw_rbac_allows(NULL, all, 0));
    bw_rbac_free(r);
    bw_rbac_free(NULL);
}

/* ---- The schema ---- */

static void test_schema_lint_and_embedding(void **state)
{
    (void)state;
    json_error_t je;
    json_t *s = json_load_file(SCHEMA, JSON_REJECT_DUPLICATES, &je);
    if (s == NULL)
        fail_msg("%s: %s", SCHEMA, je.text);
    if (bw_schema_lint(s, "config/rbac.schema.json", err, sizeof(err)) != 0)
        fail_msg("%s", err);
    json_decref(s);
    /* The library carries the file as it is in the tree. */
    size_t len = 0;
    char *text = bw_read_file(SCHEMA, &len);
    assert_non_null(text);
    assert_int_equal(bw_rbac_schema_file_count, 1);
    assert_int_equal(bw_rbac_schema_file[0].len, len);
    assert_memory_equal(bw_rbac_schema_file[0].data, text, len);
    free(text);
}

/* The shared start-up check (framework/src/validate/check_embedded.c). */
static void test_check_embedded(void **state)
{
    (void)state;
    static const char bad_schema[] = "{\"type\":\"nonsense\"}";
    static const char good_schema[] = "{\"type\":\"object\",\"additionalProperties\":false}";
    const bw_embedded_file bad = {"bad.json", bad_schema, sizeof(bad_schema) - 1};
    const bw_embedded_file good = {"good.json", good_schema, sizeof(good_schema) - 1};
    const char *uri = "https://t.invalid/s.json";
    json_t *doc = json_pack("{s:i}", "k\nx", 1);
    assert_non_null(doc);

    assert_int_equal(bw_schema_check_embedded(&good, 0, uri, "s.json", doc, "f", err, sizeof(err)),
                     -1);
    assert_string_equal(err, "f: the schema s.json is missing");
    assert_int_equal(bw_schema_check_embedded(&bad, 1, uri, "s.json", doc, "f", err, sizeof(err)),
                     -1);
    assert_memory_equal(err, "f: the schema s.json does not compile: ", 39);
    /* The key's newline is not echoed. */
    assert_int_equal(bw_schema_check_embedded(&good, 1, uri, "s.json", doc, "f", err, sizeof(err)),
                     -1);
    assert_memory_equal(err, "f: /k?x: ", 9);
    assert_non_null(strstr(err, " (s.json)"));
    assert_null(strchr(err, '\n'));
    assert_int_equal(bw_schema_check_embedded(&good, 1, uri, "s.json", doc, NULL, err, sizeof(err)),
                     -1);
    assert_memory_equal(err, "/k?x: ", 6);
    json_decref(doc);
    doc = json_object();
    assert_non_null(doc);
    assert_int_equal(bw_schema_check_embedded(&good, 1, uri, "s.json", doc, "f", err, sizeof(err)),
                     0);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_file),
        cmocka_unit_test(test_roles_within),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_inheritance),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_schema_violations),
        cmocka_unit_test(test_undeclared_permission),
        cmocka_unit_test(test_unmatched_wildcard),
        cmocka_unit_test(test_unknown_inherited_role),
        cmocka_unit_test(test_cycles),
        cmocka_unit_test(test_cycle_through_every_role),
        cmocka_unit_test(test_inheritance_ladder),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test_setup_teardown(test_load_file, make_tmpdir, remove_tmpdir),
        cmocka_unit_test(test_roles_roundtrip),
        cmocka_unit_test(test_roles_parse_errors),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_schema_lint_and_embedding),
        cmocka_unit_test(test_check_embedded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
