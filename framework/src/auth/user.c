/* Users table: add, look up, update and list users. Storage only: password hashing and role checks
 * are the caller's (see user.h). */
#include "bulwark/store.h"
#include "bulwark/user.h"

#include <stdio.h>
#include <string.h>

#include "bulwark/clock.h"
#include "bulwark/err.h"

#define USER_COLUMNS "id, username, password_hash, roles, disabled, created_at"

static bool name_first_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool name_char_ok(char c)
{
    return name_first_ok(c) || c == '.' || c == '_' || c == '@' || c == '-';
}

int bw_user_name_normalize(const char *name, size_t len, char *out, size_t outlen)
{
    size_t i;

    if (out == NULL || outlen < BW_USER_NAME_MAX + 1)
        return -1;
    out[0] = '\0';
    if (name == NULL || len == 0 || len > BW_USER_NAME_MAX)
        return -1;
    for (i = 0; i < len; i++) {
        char c = name[i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (i == 0 ? !name_first_ok(c) : !name_char_ok(c)) {
            out[0] = '\0';
            return -1;
        }
        out[i] = c;
    }
    out[len] = '\0';
    return 0;
}

/* Copies a TEXT column into dst[0..cap). A value that does not fit, is not text or holds a NUL byte
 * is an error: truncating a hash or a role list would change its meaning. */
static int copy_text(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *p;
    int n;

    if (sqlite3_column_type(st, col) != SQLITE_TEXT)
        return -1;
    p = sqlite3_column_text(st, col);
    n = sqlite3_column_bytes(st, col);
    if (p == NULL || n < 0 || (size_t)n >= cap || memchr(p, '\0', (size_t)n) != NULL)
        return -1;
    memcpy(dst, p, (size_t)n);
    dst[n] = '\0';
    return 0;
}

/* Fills out from a row of USER_COLUMNS. */
static int read_row(sqlite3_stmt *st, bw_user *out)
{
    long long disabled;

    memset(out, 0, sizeof(*out));
    if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
        sqlite3_column_type(st, 4) != SQLITE_INTEGER)
        return -1;
    out->id = sqlite3_column_int64(st, 0);
    disabled = sqlite3_column_int64(st, 4);
    if (disabled != 0 && disabled != 1)
        return -1;
    out->disabled = disabled == 1;
    if (copy_text(st, 1, out->name, sizeof(out->name)) != 0 ||
        copy_text(st, 2, out->password_hash, sizeof(out->password_hash)) != 0 ||
        copy_text(st, 3, out->roles, sizeof(out->roles)) != 0 ||
        copy_text(st, 5, out->created_at, sizeof(out->created_at)) != 0) {
        memset(out, 0, sizeof(*out));
        return -1;
    }
    return 0;
}

/* Steps a statement expected to return at most one user row. 1 found, 0 none, -1 error. Finalizes
 * st. */
static int fetch_one(sqlite3_stmt *st, bw_user *out)
{
    int rc = sqlite3_step(st);
    int ret;

    if (rc == SQLITE_ROW)
        ret = read_row(st, out) == 0 ? 1 : -1;
    else if (rc == SQLITE_DONE)
        ret = 0;
    else
        ret = -1;
    if (sqlite3_finalize(st) != SQLITE_OK)
        ret = -1;
    return ret;
}

/* A value that fits the matching bw_user field once read back; NULL is refused. */
static bool text_fits(const char *s, size_t cap)
{
    return s != NULL && strnlen(s, cap) < cap;
}

int bw_user_add(sqlite3 *db, const char *name, const char *password_hash, const char *roles,
                long long *id, char *err, size_t errlen)
{
    char norm[BW_USER_NAME_MAX + 1];
    char created[BW_CLOCK_ISO_SIZE];
    sqlite3_stmt *st = NULL;
    int rc, ext;

    if (db == NULL || name == NULL || id == NULL) {
        bw_err_set(err, errlen, "user add: missing argument");
        return -1;
    }
    if (bw_user_name_normalize(name, strnlen(name, BW_USER_NAME_MAX + 1), norm, sizeof(norm)) !=
        0) {
        bw_err_set(err, errlen, "user add: invalid user name");
        return -1;
    }
    if (!text_fits(password_hash, BW_PASSWORD_HASH_MAX) || !text_fits(roles, BW_USER_ROLES_MAX)) {
        bw_err_set(err, errlen, "user add: password hash or roles missing or too long");
        return -1;
    }
    if (bw_clock_iso8601(created) != 0) {
        bw_err_set(err, errlen, "user add: cannot read the clock");
        return -1;
    }
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO users (username, password_hash, roles, "
                           "disabled, created_at)"
                           " VALUES (?1, ?2, ?3, 0, ?4)",
                           -1, &st, NULL) != SQLITE_OK) {
        bw_err_set(err, errlen, "user add: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_bind_text(st, 1, norm, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, password_hash, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 3, roles, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 4, created, -1, SQLITE_STATIC) != SQLITE_OK) {
        bw_err_set(err, errlen, "user add: %s", sqlite3_errmsg(db));
        (void)sqlite3_finalize(st);
        return -1;
    }
    rc = sqlite3_step(st);
    ext = sqlite3_extended_errcode(db);
    if (rc == SQLITE_DONE)
        *id = sqlite3_last_insert_rowid(db);
    else
        bw_err_set(err, errlen, "user add: %s", sqlite3_errmsg(db));
    /* finalize repeats the step's error code; only its own failure on success matters. */
    if (sqlite3_finalize(st) != SQLITE_OK && rc == SQLITE_DONE) {
        bw_err_set(err, errlen, "user add: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (rc == SQLITE_DONE)
        return 0;
    /* username is the table's only UNIQUE column (id is the rowid). */
    if (rc == SQLITE_CONSTRAINT && ext == SQLITE_CONSTRAINT_UNIQUE)
        return 1;
    return -1;
}

int bw_user_find(sqlite3 *db, const char *name, bw_user *out)
{
    char norm[BW_USER_NAME_MAX + 1];
    sqlite3_stmt *st = NULL;

    if (db == NULL || name == NULL || out == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    /* No user can have a name that breaks the rule. */
    if (bw_user_name_normalize(name, strnlen(name, BW_USER_NAME_MAX + 1), norm, sizeof(norm)) != 0)
        return 0;
    if (sqlite3_prepare_v2(db, "SELECT " USER_COLUMNS " FROM users WHERE username = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_text(st, 1, norm, -1, SQLITE_STATIC) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    return fetch_one(st, out);
}

int bw_user_get(sqlite3 *db, long long id, bw_user *out)
{
    sqlite3_stmt *st = NULL;

    if (db == NULL || out == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    if (sqlite3_prepare_v2(db, "SELECT " USER_COLUMNS " FROM users WHERE id = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    return fetch_one(st, out);
}

/* Runs a constant "UPDATE users SET <field> = ?2 WHERE id = ?1" with text or integer value. 1 when
 * the row exists, 0 when not, -1 on error. */
static int update_field(sqlite3 *db, const char *sql, long long id, const char *text, long long num)
{
    sqlite3_stmt *st = NULL;
    int brc;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    brc = sqlite3_bind_int64(st, 1, id);
    if (brc == SQLITE_OK)
        brc = text != NULL ? sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC)
                           : sqlite3_bind_int64(st, 2, num);
    if (brc != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    if (bw_store_run(st) != 0)
        return -1;
    /* changes() counts rows matched by WHERE, so writing the same value still says 1. */
    return sqlite3_changes(db) > 0 ? 1 : 0;
}

int bw_user_set_password_hash(sqlite3 *db, long long id, const char *password_hash)
{
    if (db == NULL || !text_fits(password_hash, BW_PASSWORD_HASH_MAX))
        return -1;
    return update_field(db, "UPDATE users SET password_hash = ?2 WHERE id = ?1", id, password_hash,
                        0);
}

int bw_user_set_roles(sqlite3 *db, long long id, const char *roles)
{
    if (db == NULL || !text_fits(roles, BW_USER_ROLES_MAX))
        return -1;
    return update_field(db, "UPDATE users SET roles = ?2 WHERE id = ?1", id, roles, 0);
}

int bw_user_set_disabled(sqlite3 *db, long long id, bool disabled)
{
    if (db == NULL)
        return -1;
    return update_field(db, "UPDATE users SET disabled = ?2 WHERE id = ?1", id, NULL,
                        disabled ? 1 : 0);
}

/* bw_user_list's row reader: one user to the caller's function. */
typedef struct user_lister {
    int (*fn)(const bw_user *u, void *ud);
    void *ud;
} user_lister;

static int list_user(sqlite3_stmt *st, void *arg)
{
    const user_lister *l = arg;
    bw_user u;

    if (read_row(st, &u) != 0)
        return -1;
    return l->fn(&u, l->ud) != 0 ? 1 : 0;
}

int bw_user_list(sqlite3 *db, long long after_id, int limit, int (*fn)(const bw_user *u, void *ud),
                 void *ud)
{
    sqlite3_stmt *st = NULL;
    user_lister l = {fn, ud};

    if (db == NULL || fn == NULL || limit < 0)
        return -1;
    if (limit == 0)
        return 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT " USER_COLUMNS " FROM users WHERE id > ?1 ORDER BY id LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_int64(st, 1, after_id) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, limit) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    return bw_store_each_row(st, list_user, &l);
}
