/* The notes resource. A note belongs to its owner: the list shows the
 * caller's own notes, and a single note is reachable only by its owner or a
 * holder of notes:moderate (bw_authz_owner_or). Anyone else gets exactly the
 * answer for a note that does not exist: 404, never 403, so existence is not
 * confirmed. The {id} is checked by note_id.json before a handler runs. */
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

/* Newest first. The cursor is the id of the last note of the previous page;
 * rowid order is creation order and survives equal timestamps. */
int notes_list(bw_req *req, bw_res *res)
{
    sqlite3 *db = bw_store_conn(bw_req_store(req));
    sqlite3_stmt *st = NULL;
    /* Validated by note_list_query.json: an integer from 1 to 100, a note id. */
    const json_t *q = bw_req_query_json(req);
    const json_t *lim = json_object_get(q, "limit");
    const char *after = json_string_value(json_object_get(q, "after"));
    json_int_t limit = lim != NULL ? json_integer_value(lim) : NOTES_PAGE_DEFAULT;
    json_t *items, *last;
    int rc;

    if (db == NULL ||
        sqlite3_prepare_v2(db,
                           "SELECT id, title, body, created_at, updated_at FROM notes"
                           " WHERE owner_id = ?1 AND (?3 IS NULL OR rowid <"
                           " (SELECT rowid FROM notes WHERE id = ?3 AND owner_id = ?1))"
                           " ORDER BY rowid DESC LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(res, db, "list");
    sqlite3_bind_int64(st, 1, bw_req_user_id(req));
    sqlite3_bind_int64(st, 2, limit);
    if (after != NULL)
        sqlite3_bind_text(st, 3, after, -1, SQLITE_STATIC);
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
    last = json_array_get(items, json_array_size(items) - 1);
    return bw_res_json(res, 200,
                       json_pack("{s:o, s:o}", "items", items, "next_after",
                                 (json_int_t)json_array_size(items) == limit && last != NULL
                                     ? json_copy(json_object_get(last, "id"))
                                     : json_null()));
}

int notes_create(bw_req *req, bw_res *res)
{
    sqlite3 *db = bw_store_conn(bw_req_store(req));
    sqlite3_stmt *st = NULL;
    unsigned char raw[16];
    char id[33], now[BW_CLOCK_ISO_SIZE];
    const char *title, *body;
    int rc;

    if (read_fields(req, &title, &body) != 0)
        return bw_res_problem(res, 400, "title and body are required strings.");
    /* A note belongs to a local account; a caller with only an identity provider's token
     * (JWT, user id -1) has none to own it. */
    if (bw_req_user_id(req) < 0)
        return bw_res_problem(res, 403, "Creating notes needs a local account.");
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(id, sizeof(id), raw, sizeof(raw));
    if (bw_clock_iso8601(now) != 0)
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

/* Loads note {id} for the caller: 1 with *out set (may be NULL when only
 * its existence matters), 0 when it does not exist or the caller may not see
 * it (one answer for both), -1 on a database error. */
static int load_note(bw_req *req, sqlite3 *db, json_t **out)
{
    sqlite3_stmt *st = NULL;
    bool allowed = false;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (db == NULL || sqlite3_prepare_v2(db,
                                         "SELECT id, title, body, created_at, updated_at, owner_id"
                                         " FROM notes WHERE id = ?1",
                                         -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, bw_req_param(req, "id"), -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        allowed = bw_authz_owner_or(req, sqlite3_column_int64(st, 5), "notes:moderate");
        if (allowed && out != NULL && (*out = note_row(st, true)) == NULL)
            rc = SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return -1;
    return allowed ? 1 : 0;
}

int notes_get(bw_req *req, bw_res *res)
{
    sqlite3 *db = bw_store_conn(bw_req_store(req));
    json_t *note = NULL;
    int rc = load_note(req, db, &note);

    if (rc < 0)
        return db_error(res, db, "get");
    if (rc == 0)
        return bw_res_problem(res, 404, NULL);
    return bw_res_json(res, 200, note);
}

int notes_update(bw_req *req, bw_res *res)
{
    sqlite3 *db = bw_store_conn(bw_req_store(req));
    sqlite3_stmt *st = NULL;
    const char *title, *body;
    char now[BW_CLOCK_ISO_SIZE];
    int rc;

    if (read_fields(req, &title, &body) != 0)
        return bw_res_problem(res, 400, "title and body are required strings.");
    if (bw_clock_iso8601(now) != 0)
        return bw_res_problem(res, 500, NULL);
    rc = load_note(req, db, NULL);
    if (rc <= 0)
        return rc < 0 ? db_error(res, db, "update") : bw_res_problem(res, 404, NULL);
    if (sqlite3_prepare_v2(db,
                           "UPDATE notes SET title = ?1, body = ?2, updated_at = ?3"
                           " WHERE id = ?4",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(res, db, "update");
    sqlite3_bind_text(st, 1, title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, bw_req_param(req, "id"), -1, SQLITE_STATIC);
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
    int rc = load_note(req, db, NULL);

    if (rc <= 0)
        return rc < 0 ? db_error(res, db, "delete") : bw_res_problem(res, 404, NULL);
    if (sqlite3_prepare_v2(db, "DELETE FROM notes WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
        return db_error(res, db, "delete");
    sqlite3_bind_text(st, 1, bw_req_param(req, "id"), -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(res, db, "delete");
    if (sqlite3_changes(db) == 0)
        return bw_res_problem(res, 404, NULL);
    bw_res_empty(res, 204);
    return 0;
}
