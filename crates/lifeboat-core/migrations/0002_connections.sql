-- The team's PostgreSQL databases. Passwords are never stored here: the OS
-- keychain holds them (password_in_keychain says whether one was saved), or
-- libpq's own PGPASSWORD / .pgpass / service files supply them.

CREATE TABLE connections (
    name                 TEXT PRIMARY KEY,   -- also the tag of its snapshots
    host                 TEXT NOT NULL,
    port                 INTEGER NOT NULL,
    database             TEXT NOT NULL,
    user_name            TEXT NOT NULL,
    tls_mode             TEXT NOT NULL,      -- libpq sslmode
    pg_bin               TEXT,               -- client tools folder; NULL: search
    password_in_keychain INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
