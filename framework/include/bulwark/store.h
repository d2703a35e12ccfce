/* SQLite store: one connection per thread, opened on first use with the hardened settings.
 *
 * CivetWeb runs each connection on its own worker thread, so every thread gets a private
 * sqlite3 handle (opened SQLITE_OPEN_NOMUTEX) the first time it calls bw_store_conn(); the
 * handle is closed when that thread exits or at bw_store_close(), whichever comes first.
 * Every connection runs with journal_mode=WAL, foreign_keys=ON, synchronous=NORMAL,
 * trusted_schema=OFF, SQLITE_DBCONFIG_DEFENSIVE and the configured busy timeout (see
 * docs/storage.md for why). SQL is always a constant string with bound parameters; no SQL
 * text is ever built from data. */
#ifndef BULWARK_STORE_H
#define BULWARK_STORE_H

#include <stddef.h>
#include <sqlite3.h>

#include "bulwark/migrate.h"

typedef struct bw_store bw_store;

/* Opens the database at path, creating the file with mode 0600 whatever the umask if it
 * does not exist (an existing file keeps its mode). The path is resolved to an absolute one
 * now, so a later chdir does not matter; ":memory:" and "" are refused, as connections are
 * per thread. busy_timeout_ms (>= 0) is how long a connection waits for a lock before
 * SQLITE_BUSY. A first connection is opened for the calling thread to check the file is a
 * usable database. Returns 0 and sets *out (the caller owns it: bw_store_close()), or -1
 * with *out = NULL and a message in err (err may be NULL). */
int bw_store_open(const char *path, int busy_timeout_ms, bw_store **out, char *err, size_t errlen);

/* Returns the calling thread's connection, opening it on first use; NULL if s is NULL or
 * the connection cannot be opened (the next call tries again). The store owns it: never
 * close it, and never hand it to another thread. */
sqlite3 *bw_store_conn(bw_store *s);

/* Registers the migrations the schema must be up to date with, for bw_store_ping(). The
 * list is not copied: it must outlive the store (the embedded list is static). Call it
 * before other threads use the store. n = 0 (list may then be NULL) means "no migrations". */
void bw_store_set_migrations(bw_store *s, const bw_migration *list, size_t n);

/* Readiness check for GET /readyz: 0 when "SELECT 1" works on this thread's connection and
 * bw_migrate_pending() reports the schema up to date with the registered list; -1
 * otherwise, including when bw_store_set_migrations() was never called (fail closed). */
int bw_store_ping(bw_store *s);

/* Closes every connection still open (including other threads' that have not exited) and
 * frees s. Call only once no other thread uses the store (after the server has stopped).
 * NULL is a no-op. */
void bw_store_close(bw_store *s);

/* The settings every connection the framework opens gets, whatever its database:
 * SQLITE_DBCONFIG_DEFENSIVE, double-quoted strings only as identifiers, the busy timeout,
 * trusted_schema=OFF. 0, or -1 with *what naming the setting that failed. */
int bw_store_harden(sqlite3 *db, int busy_timeout_ms, const char **what);

/* Runs the len bytes of sql (which need not be NUL-terminated) as a sequence of statements,
 * stepping each to completion. For trusted, constant text only (migration files shipped
 * with the program): it must never receive request data. Returns 0, or -1 with "line N:
 * <SQLite message>" in err; statements before the failing one have run (wrap the call in a
 * transaction to make it all-or-nothing). Text with a NUL byte or longer than INT_MAX is
 * refused. */
int bw_store_exec_script(sqlite3 *db, const char *sql, size_t len, char *err, size_t errlen);

/* Steps st, a statement that returns no rows (INSERT, UPDATE, DELETE), and
 * finalizes it. 0 when it ran to completion, -1 otherwise; st is finalized
 * either way. */
int bw_store_run(sqlite3_stmt *st);

/* Steps st, a query, calling row(st, ud) for each row: row returns 0 to go on, 1 to stop
 * (the row counts), -1 on an error. Finalizes st either way. Returns the number of rows
 * handed to row, or -1 when a step, the finalize or row failed. */
int bw_store_each_row(sqlite3_stmt *st, int (*row)(sqlite3_stmt *st, void *ud), void *ud);

/* BEGIN IMMEDIATE: takes the write lock now (waiting up to the busy timeout), so a
 * read-then-write transaction cannot fail half-way with SQLITE_BUSY. 0 or -1. */
int bw_store_tx_begin(sqlite3 *db);

/* COMMIT. 0, or -1 (the transaction is then still open: roll it back). */
int bw_store_tx_commit(sqlite3 *db);

/* ROLLBACK; 0 also when no transaction is open (SQLite may already have rolled back after
 * an I/O, full-disk or busy error), -1 if the rollback itself fails. */
int bw_store_tx_rollback(sqlite3 *db);

#endif
