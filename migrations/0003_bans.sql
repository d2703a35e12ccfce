-- Address bans (framework/src/protect/ban.c, docs/bans.md). One row per banned rate-limit
-- key: the 4 bytes of an IPv4 address or the first 8 bytes (the /64) of an IPv6 one. Rows are
-- written by automatic bans and by `ban add`, and every process copies the live ones into
-- memory, where the first stage of the request path checks them. Times are Unix seconds.
CREATE TABLE bans (
    key BLOB PRIMARY KEY CHECK (length(key) IN (4, 8)),
    address TEXT NOT NULL,            -- for people: "203.0.113.7", "2001:db8:1:2::/64"
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,      -- the ban holds while now < expires_at
    source TEXT NOT NULL CHECK (source IN ('auto', 'manual'))
) STRICT, WITHOUT ROWID;
CREATE INDEX bans_expires_at ON bans (expires_at);

-- Bumped by every change to bans, whoever makes it (a server process, the CLI, an operator's
-- sqlite3 shell): a process reloads its copy when the number moved, and otherwise reads one
-- row per refresh instead of the whole table.
CREATE TABLE ban_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
) STRICT;
INSERT INTO ban_generation (id, n) VALUES (1, 0);

CREATE TRIGGER bans_generation_insert AFTER INSERT ON bans
BEGIN
    UPDATE ban_generation SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER bans_generation_update AFTER UPDATE ON bans
BEGIN
    UPDATE ban_generation SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER bans_generation_delete AFTER DELETE ON bans
BEGIN
    UPDATE ban_generation SET n = n + 1 WHERE id = 1;
END;
