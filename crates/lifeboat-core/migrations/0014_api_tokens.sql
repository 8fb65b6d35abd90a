-- Bearer tokens of the checkpoint trigger API: the token's SHA-256 only,
-- never the token. `database` limits it to one saved connection (NULL: any).
CREATE TABLE api_tokens (
    name TEXT PRIMARY KEY NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    scope TEXT NOT NULL,
    database TEXT,
    created_at TEXT NOT NULL,
    last_used TEXT
);
