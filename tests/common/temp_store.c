/* Throw-away stores for the unit tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/migrate.h"
#include "harness.h"
#include "temp_store.h"

#ifndef BW_SOURCE_DIR
#define BW_SOURCE_DIR "."
#endif

static int migrate_all(sqlite3 *db, char *err, size_t errlen)
{
    bw_migration *list = NULL;
    size_t n = 0;
    int rc = -1;

    if (bw_migrate_load_dir(BW_SOURCE_DIR "/migrations", &list, &n, err, errlen) == 0)
        rc = bw_migrate_apply(db, list, n, NULL, err, errlen);
    bw_migrate_free_list(list, n);
    return rc;
}

int bw_temp_store_open(bw_temp_store *ts, bool migrate)
{
    char err[256] = "";
    int len;

    memset(ts, 0, sizeof(*ts));
    ts->dir = bw_tmpdir_create();
    if (ts->dir == NULL) {
        print_error("temp store: cannot create a temp dir\n");
        return -1;
    }
    len = snprintf(ts->path, sizeof(ts->path), "%s/app.db", ts->dir);
    if (len < 0 || (size_t)len >= sizeof(ts->path)) {
        snprintf(err, sizeof(err), "path too long");
    } else if (bw_store_open(ts->path, BW_TEMP_STORE_BUSY_MS, &ts->store, err, sizeof(err)) != 0 ||
               (ts->db = bw_store_conn(ts->store)) == NULL) {
        if (err[0] == '\0')
            snprintf(err, sizeof(err), "no connection");
    } else if (!migrate || migrate_all(ts->db, err, sizeof(err)) == 0) {
        return 0;
    }
    print_error("temp store: %s\n", err);
    bw_temp_store_close(ts);
    return -1;
}

void bw_temp_store_close(bw_temp_store *ts)
{
    bw_store_close(ts->store);
    ts->store = NULL;
    ts->db = NULL;
    if (ts->dir != NULL)
        (void)bw_rm_rf(ts->dir);
    free(ts->dir);
    ts->dir = NULL;
}

long long bw_temp_store_add_user(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO users (username, created_at)"
                                        " VALUES (?1, '2024-01-31T12:00:00.000Z')",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    return sqlite3_last_insert_rowid(db);
}

char *bw_temp_store_files(const bw_temp_store *ts, size_t *total)
{
    DIR *d = opendir(ts->dir);
    struct dirent *e;
    char *all = NULL;

    assert_non_null(d);
    *total = 0;
    while ((e = readdir(d)) != NULL) {
        char path[1024];
        size_t len = 0;
        char *data, *grown;
        int n;

        if (e->d_name[0] == '.')
            continue;
        n = snprintf(path, sizeof(path), "%s/%s", ts->dir, e->d_name);
        assert_true(n > 0 && (size_t)n < sizeof(path));
        data = bw_read_file(path, &len);
        assert_non_null(data);
        assert_true(len < SIZE_MAX - *total);
        grown = realloc(all, *total + len + 1);
        assert_non_null(grown);
        all = grown;
        memcpy(all + *total, data, len);
        *total += len;
        free(data);
    }
    assert_int_equal(closedir(d), 0);
    return all;
}

long long bw_test_sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    return v;
}
