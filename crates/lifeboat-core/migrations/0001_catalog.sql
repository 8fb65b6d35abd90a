-- The app's own state. The repository is the source of truth for backups;
-- this is what the workstation remembers: which repositories it knows and
-- every run it made. Secrets are never stored here.

CREATE TABLE repositories (
    id             TEXT PRIMARY KEY,   -- the repository's id, from its config
    location       TEXT NOT NULL,      -- the folder or NAS path it was opened at
    label          TEXT NOT NULL DEFAULT '',
    added_at       TEXT NOT NULL,      -- RFC 3339, UTC
    last_opened_at TEXT NOT NULL
);

-- Key/value settings: the current repository, UI preferences.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,       -- create, open, check, prune, key_add...
    repository_id TEXT,
    status        TEXT NOT NULL,       -- running, succeeded, failed, cancelled, interrupted
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    summary       TEXT NOT NULL DEFAULT '',
    detail        TEXT NOT NULL DEFAULT '{}'   -- JSON: the job's report or error
);
CREATE INDEX runs_by_start ON runs (started_at DESC);
