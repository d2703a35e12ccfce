/* A throw-away SQLite store for the unit tests: app.db in a fresh temp dir, opened with the
 * store module and, when asked, migrated to the repository's schema (BW_SOURCE_DIR
 * "/migrations"); and small queries on it that fail the running cmocka test when the database
 * does not answer. Single-threaded test code; functions that allocate say who frees. */
#ifndef BW_TEST_TEMP_STORE_H
#define BW_TEST_TEMP_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include "bulwark/store.h"

/* The store's busy timeout: long enough for concurrent writers in a test to take turns. */
#define BW_TEMP_STORE_BUSY_MS 10000

typedef struct bw_temp_store {
    char *dir;      /* the temp dir holding the database (malloc'd) */
    char path[512]; /* dir + "/app.db" */
    bw_store *store;
    sqlite3 *db; /* the connection of the thread that opened it */
} bw_temp_store;

/* Fills *ts with a new store in a fresh temp dir; migrate applies every migration of the
 * repository. Returns 0, or -1 after printing why, with nothing left open or on disk. */
int bw_temp_store_open(bw_temp_store *ts, bool migrate);

/* Closes the store (unless the test closed it and set ts->store to NULL) and removes the temp
 * dir. Safe on a zeroed or already closed ts. */
void bw_temp_store_close(bw_temp_store *ts);

/* Inserts a users row with only a name (and a fixed created_at), as the tests of the modules
 * that refer to users need; fails the test on error. Returns the row's id. */
long long bw_temp_store_add_user(sqlite3 *db, const char *name);

/* Every file in the store's dir (the database, its WAL and shared memory) concatenated: a
 * malloc'd buffer (caller frees) of *total bytes. Fails the test on error. */
char *bw_temp_store_files(const bw_temp_store *ts, size_t *total);

/* The first column of the first row of sql as an integer; fails the test when sql does not
 * prepare or yields no row. */
long long bw_test_sql_int(sqlite3 *db, const char *sql);

#endif
