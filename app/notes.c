/* The notes resource. Every query is scoped to the caller (owner_id), so a
 * note of another user is answered exactly like a note that does not exist:
 * 404, never 403, so existence is not confirmed. The {id} is checked by
 * note_id.json before a handler runs. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "app.h"

#define NOTES_PAGE_DEFAULT 20

static int db_error(bw_res *res, sqlite3 *db, const char *what)
{
    bw_log(BW_LOG_ERROR, "notes.db_error",
           (bw_log_field[]){BW_LOG_S("op", what), BW_LOG_S("sqlite", sqlite3_errmsg(db))}, 2);
    return bw_res_problem(res, 500, NULL);
}

static int now_utc(char out[32])
{
    struct timespec ts;
    struct tm tm;
    char base[24];
    int n;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL ||
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return -1;
    n = snprintf(out, 32, "%s.%03ldZ", base, ts.tv_nsec / 1000000L);
    return n > 0 && n < 32 ? 0 : -1;
}

static json_t *note_row(sqlite3_stmt *st, bool with_body)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", sqlite3_column_text(st, 0), "title",
                          sqlite3_column_text(st, 1), "created_at", sqlite3_column_text(st, 3),
                          "updated_at", sqlite3_column_text(st, 4));

    if (o != NULL && with_body &&
        json_object_set_new(o, "body", json_string((const char *)sqlite3_column_text(st, 2))) !=
            0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Title and body from a request body already checked against its schema;
 * checked again here so the handler never trusts a missing field. */
static int read_fields(bw_req *req, const char **title, const char **body)
{
    json_t *doc = bw_req_json(req);

    *title = json_string_value(json_object_get(doc, "title"));
    *body = json_string_value(json_object_get(doc, "body"));
    return *title != NULL && *body != NULL ? 0 : -1;
}

int notes_list(bw_req *req, bw_res *res)
{
    sqlite3 *db = bw_store_conn(bw_req_store(req));
    sqlite3_stmt *st = NULL;
    /* Validated by note_list_query.json: an integer from 1 to 100 when given. */
    const json_t *lim = json_object_get(bw_req_query_json(req), "limit");
    json_int_t limit = lim != NULL ? json_integer_value(lim) : NOTES_PAGE_DEFAULT;
    json_t *items;
    int rc;

    if (db == NULL || sqlite3_prepare_v2(db,
                                         "SELECT id, title, body, created_at, updated_at FROM notes"
                                         " WHERE owner_id = ?1 ORDER BY created_at DESC LIMIT ?2",
                                         -1, &st, NULL) != SQLITE_OK)
        return db_error(res, db, "list");
    sqlite3_bind_int64(st, 1, bw_req_user_id(req));
    sqlite3_bind_int64(st, 2, limit);
    items = json_array();
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (json_array_append_new(items, note_row(st, false)) != 0)
            break;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(items);
        return db_error(res, db, "list");
    }
    return bw_res_json(res, 200, json_pack("{s:o}", "items", items));
}

int notes_create(bw_req *req, bw_res *res)
{
    sqlite3 *db = bw_store_conn(bw_req_store(req));
    sqlite3_stmt *st = NULL;
    unsigned char raw[16];
    char id[33], now[32];
    const char *title, *body;
    int rc;

    if (read_fields(req, &title, &body) != 0)
        return bw_res_problem(res, 400, "title and body are required strings.");
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(id, sizeof(id), raw, sizeof(raw));
    if (now_utc(now) != 0)
        return bw_res_problem(res, 500, NULL);
    if (db == NULL || sqlite3_prepare_v2(db,
                                         "INSERT INTO notes (id, owner_id, title, body, created_at,"
                                         " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                                         -1, &st, NULL) != SQLITE_OK)
        return db_error(res, db, "create");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, bw_req_user_id(req));
    sqlite3_bind_text(st, 3, title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(res, db, "create");
    return bw_res_json(res, 201,
                       json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "title", title, "body",
                                 body, "created_at", now, "updated_at", now));
}

int notes_get(bw_req *req, bw_res *res)
{
    sqlite3 *db = bw_store_conn(bw_req_store(req));
    sqlite3_stmt *st = NULL;
    const char *id = bw_req_param(req, "id");
    json_t *note = NULL;
    int rc;

    if (db == NULL || sqlite3_prepare_v2(db,
                                         "SELECT id, title, body, created_at, updated_at FROM notes"
                                         " WHERE id = ?1 AND owner_id = ?2",
                                         -1, &st, NULL) != SQLITE_OK)
        return db_error(res, db, "get");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, bw_req_user_id(req));
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        note = note_row(st, true);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return bw_res_problem(res, 404, NULL);
    if (note == NULL)
        return db_error(res, db, "get");
    return bw_res_json(res, 200, note);
}

int notes_update(bw_req *req, bw_res *res)
{
    sqlite3 *db = bw_store_conn(bw_req_store(req));
    sqlite3_stmt *st = NULL;
    const char *id = bw_req_param(req, "id");
    const char *title, *body;
    char now[32];
    int rc;

    if (read_fields(req, &title, &body) != 0)
        return bw_res_problem(res, 400, "title and body are required strings.");
    if (now_utc(now) != 0)
        return bw_res_problem(res, 500, NULL);
    if (db == NULL || sqlite3_prepare_v2(db,
                                         "UPDATE notes SET title = ?1, body = ?2, updated_at = ?3"
                                         " WHERE id = ?4 AND owner_id = ?5",
                                         -1, &st, NULL) != SQLITE_OK)
        return db_error(res, db, "update");
    sqlite3_bind_text(st, 1, title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, bw_req_user_id(req));
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(res, db, "update");
    if (sqlite3_changes(db) == 0)
        return bw_res_problem(res, 404, NULL);
    return notes_get(req, res);
}

int notes_delete(bw_req *req, bw_res *res)
{
    sqlite3 *db = bw_store_conn(bw_req_store(req));
    sqlite3_stmt *st = NULL;
    const char *id = bw_req_param(req, "id");
    int rc;

    if (db == NULL || sqlite3_prepare_v2(db, "DELETE FROM notes WHERE id = ?1 AND owner_id = ?2",
                                         -1, &st, NULL) != SQLITE_OK)
        return db_error(res, db, "delete");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, bw_req_user_id(req));
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(res, db, "delete");
    if (sqlite3_changes(db) == 0)
        return bw_res_problem(res, 404, NULL);
    bw_res_empty(res, 204);
    return 0;
}
