/* API keys: "bw_" + 16 hex id + "_" + 43 base64url secret. Only a keyed BLAKE2b-256 hash of the
 * secret is stored, so a copy of the database does not hold usable keys. */
#include "bulwark/store.h"
#include "bulwark/apikey.h"
#include "bulwark/ct.h"
#include "bulwark/err.h"

#include <string.h>

#include <sodium.h>

#define PREFIX "bw_"
#define PREFIX_LEN 3
#define ID_OFF PREFIX_LEN
#define SEP_OFF (ID_OFF + BW_APIKEY_ID_LEN)
#define SECRET_OFF (SEP_OFF + 1)
#define SECRET_LEN (BW_APIKEY_LEN - SECRET_OFF)
#define SECRET_BYTES 32
#define ID_BYTES (BW_APIKEY_ID_LEN / 2)
#define HASH_BYTES 32
/* An id collision (2^-64 per pair) is retried with a fresh id this many times in all. */
#define CREATE_ATTEMPTS 4

#define KEY_COLUMNS "id, user_id, name, roles, created_at, expires_at, last_used_at, revoked_at"

_Static_assert(sodium_base64_ENCODED_LEN(SECRET_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ==
                   SECRET_LEN + 1,
               "the secret part holds 32 bytes in base64url");
_Static_assert(HASH_BYTES == crypto_generichash_BYTES, "BLAKE2b-256");
_Static_assert(BW_APIKEY_KEY_BYTES >= crypto_generichash_KEYBYTES_MIN &&
                   BW_APIKEY_KEY_BYTES <= crypto_generichash_KEYBYTES_MAX,
               "BLAKE2b key size");

static bool is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static bool id_ok(const char *id, size_t len)
{
    size_t i;

    if (len != BW_APIKEY_ID_LEN)
        return false;
    for (i = 0; i < len; i++)
        if (!is_hex_lower(id[i]))
            return false;
    return true;
}

bool bw_apikey_looks_like(const char *text, size_t len)
{
    size_t i;

    /* Fixed positions: the secret's alphabet includes '_', so splitting on it would not do. */
    if (text == NULL || len != BW_APIKEY_LEN || memcmp(text, PREFIX, PREFIX_LEN) != 0 ||
        !id_ok(text + ID_OFF, BW_APIKEY_ID_LEN) || text[SEP_OFF] != '_')
        return false;
    for (i = SECRET_OFF; i < len; i++)
        if (!is_b64url(text[i]))
            return false;
    return true;
}

static int hash_secret(const unsigned char key[BW_APIKEY_KEY_BYTES], const char *secret,
                       unsigned char out[HASH_BYTES])
{
    return crypto_generichash(out, HASH_BYTES, (const unsigned char *)secret, SECRET_LEN, key,
                              BW_APIKEY_KEY_BYTES) == 0
               ? 0
               : -1;
}

/* Copies a TEXT column of at most cap - 1 bytes (no NUL inside) into dst. */
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

/* An INTEGER column, or 0 for NULL (expires_at, last_used_at, revoked_at). */
static int read_time(sqlite3_stmt *st, int col, bool nullable, long long *out)
{
    int type = sqlite3_column_type(st, col);

    *out = 0;
    if (type == SQLITE_NULL && nullable)
        return 0;
    if (type != SQLITE_INTEGER)
        return -1;
    *out = sqlite3_column_int64(st, col);
    return 0;
}

/* Fills k from a row of KEY_COLUMNS (starting at column 0). */
static int read_row(sqlite3_stmt *st, bw_apikey_info *k)
{
    memset(k, 0, sizeof(*k));
    if (copy_text(st, 0, k->id, sizeof(k->id)) != 0 || !id_ok(k->id, strlen(k->id)) ||
        sqlite3_column_type(st, 1) != SQLITE_INTEGER ||
        copy_text(st, 2, k->name, sizeof(k->name)) != 0 ||
        copy_text(st, 3, k->roles, sizeof(k->roles)) != 0 ||
        read_time(st, 4, false, &k->created_at) != 0 ||
        read_time(st, 5, true, &k->expires_at) != 0 ||
        read_time(st, 6, true, &k->last_used_at) != 0 ||
        read_time(st, 7, true, &k->revoked_at) != 0) {
        memset(k, 0, sizeof(*k));
        return -1;
    }
    k->user_id = sqlite3_column_int64(st, 1);
    return 0;
}

static bool name_ok(const char *name)
{
    size_t len, i;

    if (name == NULL)
        return false;
    len = strnlen(name, BW_APIKEY_NAME_MAX + 1);
    if (len == 0 || len > BW_APIKEY_NAME_MAX)
        return false;
    for (i = 0; i < len; i++)
        if (name[i] < 0x20 || name[i] > 0x7e)
            return false;
    return true;
}

/* Inserts one candidate key. 0 stored, 1 id already taken, -1 error (message in err). */
static int insert_key(sqlite3 *db, const char *id, const unsigned char hash[HASH_BYTES],
                      long long user_id, const char *name, const char *roles, long long expires_at,
                      long long now, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc, ext, brc;

    if (sqlite3_prepare_v2(db,
                           "INSERT INTO api_keys (id, user_id, name, secret_hash, roles,"
                           " created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           -1, &st, NULL) != SQLITE_OK) {
        bw_err_set(err, errlen, "api key create: %s", sqlite3_errmsg(db));
        return -1;
    }
    brc = sqlite3_bind_text(st, 1, id, BW_APIKEY_ID_LEN, SQLITE_STATIC);
    if (brc == SQLITE_OK)
        brc = sqlite3_bind_int64(st, 2, user_id);
    if (brc == SQLITE_OK)
        brc = sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    if (brc == SQLITE_OK)
        brc = sqlite3_bind_blob(st, 4, hash, HASH_BYTES, SQLITE_STATIC);
    if (brc == SQLITE_OK)
        brc = sqlite3_bind_text(st, 5, roles, -1, SQLITE_STATIC);
    if (brc == SQLITE_OK)
        brc = sqlite3_bind_int64(st, 6, now);
    if (brc == SQLITE_OK)
        brc = expires_at != 0 ? sqlite3_bind_int64(st, 7, expires_at) : sqlite3_bind_null(st, 7);
    if (brc != SQLITE_OK) {
        bw_err_set(err, errlen, "api key create: %s", sqlite3_errmsg(db));
        (void)sqlite3_finalize(st);
        return -1;
    }
    rc = sqlite3_step(st);
    ext = sqlite3_extended_errcode(db);
    if (rc != SQLITE_DONE)
        bw_err_set(err, errlen, "api key create: %s", sqlite3_errmsg(db));
    if (sqlite3_finalize(st) != SQLITE_OK && rc == SQLITE_DONE) {
        bw_err_set(err, errlen, "api key create: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (rc == SQLITE_DONE)
        return 0;
    /* id is the only unique column; SQLite reports a TEXT primary key as either code. */
    if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE)
        return 1;
    return -1;
}

int bw_apikey_create(sqlite3 *db, const unsigned char key[BW_APIKEY_KEY_BYTES], long long user_id,
                     const char *name, const char *roles, long long expires_at, long long now,
                     char out[BW_APIKEY_LEN + 1], bw_apikey_info *info, char *err, size_t errlen)
{
    unsigned char id_bin[ID_BYTES], secret_bin[SECRET_BYTES], hash[HASH_BYTES];
    char id[BW_APIKEY_ID_LEN + 1];
    char secret[SECRET_LEN + 1];
    int attempt, rc = 1;

    if (info != NULL)
        memset(info, 0, sizeof(*info));
    if (db == NULL || key == NULL || out == NULL) {
        bw_err_set(err, errlen, "api key create: missing argument");
        return -1;
    }
    out[0] = '\0';
    if (!name_ok(name)) {
        bw_err_set(err, errlen, "api key create: name must be 1 to %d printable ASCII characters",
                   BW_APIKEY_NAME_MAX);
        return -1;
    }
    if (roles == NULL || strnlen(roles, BW_APIKEY_ROLES_MAX) >= BW_APIKEY_ROLES_MAX) {
        bw_err_set(err, errlen, "api key create: roles missing or too long");
        return -1;
    }
    /* An expiry already past is a caller bug (a duration passed for a time, say). */
    if (expires_at < 0 || (expires_at != 0 && expires_at <= now)) {
        bw_err_set(err, errlen, "api key create: expiry is not in the future");
        return -1;
    }
    if (sodium_init() < 0) {
        bw_err_set(err, errlen, "api key create: libsodium initialisation failed");
        return -1;
    }
    for (attempt = 0; attempt < CREATE_ATTEMPTS && rc == 1; attempt++) {
        randombytes_buf(id_bin, sizeof(id_bin));
        randombytes_buf(secret_bin, sizeof(secret_bin));
        if (sodium_bin2hex(id, sizeof(id), id_bin, sizeof(id_bin)) == NULL ||
            sodium_bin2base64(secret, sizeof(secret), secret_bin, sizeof(secret_bin),
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING) == NULL ||
            strlen(secret) != SECRET_LEN || hash_secret(key, secret, hash) != 0) {
            bw_err_set(err, errlen, "api key create: encoding failed");
            rc = -1;
            break;
        }
        rc = insert_key(db, id, hash, user_id, name, roles, expires_at, now, err, errlen);
    }
    if (rc == 1)
        bw_err_set(err, errlen, "api key create: no free id after %d attempts", CREATE_ATTEMPTS);
    if (rc == 0) {
        memcpy(out, PREFIX, PREFIX_LEN);
        memcpy(out + ID_OFF, id, BW_APIKEY_ID_LEN);
        out[SEP_OFF] = '_';
        memcpy(out + SECRET_OFF, secret, SECRET_LEN);
        out[BW_APIKEY_LEN] = '\0';
        if (info != NULL) {
            memcpy(info->id, id, sizeof(info->id));
            info->user_id = user_id;
            memcpy(info->name, name, strlen(name) + 1);
            memcpy(info->roles, roles, strlen(roles) + 1);
            info->created_at = now;
            info->expires_at = expires_at;
        }
    }
    sodium_memzero(secret_bin, sizeof(secret_bin));
    sodium_memzero(secret, sizeof(secret));
    return rc == 0 ? 0 : -1;
}

/* Moves last_used_at to now unless it was written less than BW_APIKEY_TOUCH_S ago. The WHERE
 * repeats the test so concurrent verifiers write once and never move it backwards. */
static int touch(sqlite3 *db, const char *id, long long now)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db,
                           "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND"
                           " (last_used_at IS NULL OR last_used_at <= ?2 - ?3)",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_text(st, 1, id, BW_APIKEY_ID_LEN, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, now) != SQLITE_OK ||
        sqlite3_bind_int(st, 3, BW_APIKEY_TOUCH_S) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    return bw_store_run(st);
}

int bw_apikey_verify(sqlite3 *db, const unsigned char key[BW_APIKEY_KEY_BYTES], const char *text,
                     size_t len, long long now, bw_apikey_info *info)
{
    static const unsigned char no_hash[HASH_BYTES];
    unsigned char hash[HASH_BYTES];
    const void *stored = no_hash;
    sqlite3_stmt *st = NULL;
    bw_apikey_info k;
    bool match, found = false;
    int rc;

    memset(&k, 0, sizeof(k));
    if (info != NULL)
        memset(info, 0, sizeof(*info));
    if (db == NULL || key == NULL)
        return -1;
    if (!bw_apikey_looks_like(text, len))
        return 0;
    if (sodium_init() < 0 || hash_secret(key, text + SECRET_OFF, hash) != 0)
        return -1;
    if (sqlite3_prepare_v2(db, "SELECT " KEY_COLUMNS ", secret_hash FROM api_keys WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_text(st, 1, text + ID_OFF, BW_APIKEY_ID_LEN, SQLITE_STATIC) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        /* A hash of another size is damage, not a mismatch: reported, never compared. */
        if (read_row(st, &k) != 0 || sqlite3_column_type(st, 8) != SQLITE_BLOB ||
            (stored = sqlite3_column_blob(st, 8)) == NULL ||
            sqlite3_column_bytes(st, 8) != HASH_BYTES)
            rc = SQLITE_CORRUPT;
        else
            found = true;
    }
    /* An unknown id still pays for the hash and a comparison, so timing does not tell "no such key"
     * from "wrong secret" (the id itself is public anyway). */
    match = bw_ct_eq(hash, found ? stored : no_hash, HASH_BYTES) && found;
    if (sqlite3_finalize(st) != SQLITE_OK && rc == SQLITE_ROW)
        rc = SQLITE_ERROR;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    if (!match || k.revoked_at != 0 || (k.expires_at != 0 && now >= k.expires_at))
        return 0;
    if (k.last_used_at == 0 ||
        (now >= BW_APIKEY_TOUCH_S && k.last_used_at <= now - BW_APIKEY_TOUCH_S)) {
        if (touch(db, k.id, now) != 0)
            return -1;
        k.last_used_at = now;
    }
    if (info != NULL)
        *info = k;
    return 1;
}

int bw_apikey_revoke(sqlite3 *db, const char *id, long long now)
{
    sqlite3_stmt *st = NULL;

    if (db == NULL || id == NULL)
        return -1;
    if (!id_ok(id, strnlen(id, BW_APIKEY_ID_LEN + 1)))
        return 0;
    if (sqlite3_prepare_v2(db,
                           "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 "
                           "AND revoked_at IS NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_text(st, 1, id, BW_APIKEY_ID_LEN, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, now) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    if (bw_store_run(st) != 0)
        return -1;
    return sqlite3_changes(db) > 0 ? 1 : 0;
}

/* bw_apikey_list's row reader: one key to the caller's function. */
typedef struct key_lister {
    int (*fn)(const bw_apikey_info *k, void *ud);
    void *ud;
} key_lister;

static int list_key(sqlite3_stmt *st, void *arg)
{
    const key_lister *l = arg;
    bw_apikey_info k;

    if (read_row(st, &k) != 0)
        return -1;
    return l->fn(&k, l->ud) != 0 ? 1 : 0;
}

int bw_apikey_list(sqlite3 *db, long long user_id, int (*fn)(const bw_apikey_info *k, void *ud),
                   void *ud)
{
    sqlite3_stmt *st = NULL;
    key_lister l = {fn, ud};
    int rc;

    if (db == NULL || fn == NULL)
        return -1;
    /* Two constant statements rather than "?1 < 0 OR user_id = ?1", which cannot use the user_id
     * index. */
    rc = user_id < 0 ? sqlite3_prepare_v2(
                           db, "SELECT " KEY_COLUMNS " FROM api_keys ORDER BY created_at DESC, id",
                           -1, &st, NULL)
                     : sqlite3_prepare_v2(db,
                                          "SELECT " KEY_COLUMNS " FROM api_keys WHERE user_id = ?1"
                                          " ORDER BY created_at DESC, id",
                                          -1, &st, NULL);
    if (rc != SQLITE_OK)
        return -1;
    if (user_id >= 0 && sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    return bw_store_each_row(st, list_key, &l);
}
