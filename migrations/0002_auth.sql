-- Authentication: passwords and roles on users, sessions, API keys, login throttling.
-- Times in these tables are Unix seconds (INTEGER): they are compared on every request.
-- Secrets are never stored: only keyed BLAKE2b-256 hashes of tokens and keys, and Argon2id
-- hashes of passwords.

-- '' = no password set yet: such a user cannot log in.
ALTER TABLE users ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
-- Comma-separated role names from config/rbac.json, e.g. "editor,viewer".
ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    token_hash BLOB UNIQUE NOT NULL,  -- keyed BLAKE2b-256 of the 256-bit token
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,    -- idle expiry counts from here
    expires_at INTEGER NOT NULL,      -- absolute expiry
    mfa INTEGER NOT NULL DEFAULT 0 CHECK (mfa IN (0, 1))
) STRICT;
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,     -- the public part of bw_<id>_<secret>: 16 hex digits
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash BLOB NOT NULL,        -- keyed BLAKE2b-256 of the secret part
    roles TEXT NOT NULL,              -- the key's scope: a subset of its owner's roles
    created_at INTEGER NOT NULL,
    expires_at INTEGER,               -- NULL: no expiry
    last_used_at INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX api_keys_user_id ON api_keys (user_id);

-- Failed logins per account name (known or not, so lockout reveals nothing) and per client
-- address (IPv4 address, IPv6 /64). The key is a keyed BLAKE2b-256 of the name or prefix.
CREATE TABLE login_failures (
    scope TEXT NOT NULL CHECK (scope IN ('account', 'address')),
    key BLOB NOT NULL,
    failures INTEGER NOT NULL,
    first_at INTEGER NOT NULL,        -- start of the counting window
    last_at INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX login_failures_last_at ON login_failures (last_at);
