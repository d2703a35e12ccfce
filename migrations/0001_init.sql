-- Sample notes service: users and their notes.
-- Applied once, in a transaction, by bw_migrate_apply(); never edit this file after it has
-- shipped: add 0002_*.sql instead (the checksum in schema_migrations would refuse it).
-- Timestamps are UTC ISO-8601 text ("2024-01-31T12:00:00.000Z").

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT UNIQUE NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE notes (
    id TEXT PRIMARY KEY NOT NULL, -- random 128-bit value, 32 lower-case hex digits
    owner_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- Every note query is scoped to its owner (object-level authorization), and the cascade
-- delete looks notes up by owner_id.
CREATE INDEX notes_owner_id ON notes (owner_id);
