/* Schema migrations: numbered SQL files applied once each, in order, and checksummed.
 *
 * A migration is a file NNNN_name.sql (four digits from 0001, an underscore, [a-z0-9_]+,
 * ".sql"). The list must be exactly 0001, 0002, ... with no gap or duplicate. Each one runs
 * in its own BEGIN IMMEDIATE transaction, with foreign key enforcement off and a
 * foreign_key_check before COMMIT (SQLite's documented way to rebuild tables), and is
 * recorded in schema_migrations(version, name, checksum, applied_at) with the hex SHA-256 of
 * its bytes. An applied migration must never be edited: add a new one instead. Migration
 * text must not contain BEGIN/COMMIT/ROLLBACK (refused) nor NUL bytes (refused). */
#ifndef BULWARK_MIGRATE_H
#define BULWARK_MIGRATE_H

#include <stddef.h>
#include <sqlite3.h>

typedef struct bw_migration {
    const char *name; /* "0001_init.sql" */
    const char *sql;  /* sql_len bytes, need not be NUL-terminated */
    size_t sql_len;
} bw_migration;

/* Largest migration file bw_migrate_load_dir() reads. */
#define BW_MIGRATE_MAX_FILE (16u * 1024u * 1024u)

/* The application's migrations, embedded in the executable at build time by
 * bw_embed_migrations() (cmake/migrations.cmake), in order. Defined only in a target that
 * calls bw_embed_migrations(). */
extern const bw_migration bw_embedded_migrations[];
extern const size_t bw_embedded_migrations_count;

/* Reads the *.sql files of dir, sorted by number. Dot files and files not ending in .sql
 * (any case) are ignored; a bad name, a duplicate number, a gap, a file that is not regular,
 * larger than BW_MIGRATE_MAX_FILE or contains a NUL byte is an error. An empty dir gives
 * *out = NULL, *n = 0. Returns 0, or -1 with a message in err (err may be NULL). The caller
 * owns *out: bw_migrate_free_list(). */
int bw_migrate_load_dir(const char *dir, bw_migration **out, size_t *n, char *err, size_t errlen);

/* Frees a list from bw_migrate_load_dir() and its strings. NULL is a no-op. */
void bw_migrate_free_list(bw_migration *list, size_t n);

/* Creates schema_migrations if needed, checks the applied migrations against list, then
 * applies the missing ones in order, each in its own transaction. Errors (-1, message in
 * err): a bad list; an applied migration whose checksum differs ("0001_init.sql was edited
 * after it was applied"); a version in the database that list does not have (schema newer
 * than the program); a failing migration, which is rolled back completely and stops the run
 * (the message names it and carries SQLite's message). *applied (may be NULL) is set to the
 * number newly applied, also on error. Needs db outside a transaction. */
int bw_migrate_apply(sqlite3 *db, const bw_migration *list, size_t n, int *applied, char *err,
                     size_t errlen);

/* Makes the same checks as bw_migrate_apply() without changing anything and sets *pending
 * to the number of migrations not yet applied. Returns 0, or -1 with a message in err. */
int bw_migrate_pending(sqlite3 *db, const bw_migration *list, size_t n, int *pending, char *err,
                       size_t errlen);

#endif
