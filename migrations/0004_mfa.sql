-- Second factor (framework/src/auth/mfa.c, docs/mfa.md): one TOTP enrolment per user and its
-- single-use recovery codes. Times are Unix seconds. Neither table holds a usable secret: the
-- TOTP secret is sealed (XSalsa20-Poly1305 under a key derived from secrets.session_key), and
-- recovery codes are kept as keyed BLAKE2b-256 hashes.

CREATE TABLE user_mfa (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret BLOB NOT NULL,             -- nonce || secretbox(user id || TOTP secret)
    enabled INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)), -- 1 once a code confirmed it
    last_step INTEGER NOT NULL DEFAULT 0 CHECK (last_step >= 0),  -- last accepted 30 s step
    created_at INTEGER NOT NULL
) STRICT;

-- Deleting the enrolment (disable, or the user with it) deletes its codes.
CREATE TABLE mfa_recovery (
    user_id INTEGER NOT NULL REFERENCES user_mfa (user_id) ON DELETE CASCADE,
    hash BLOB NOT NULL CHECK (length(hash) = 32),
    used_at INTEGER,                  -- NULL: still usable
    PRIMARY KEY (user_id, hash)
) STRICT, WITHOUT ROWID;
