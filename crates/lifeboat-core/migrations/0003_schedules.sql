-- What runs by itself, per saved connection: the backup schedule with its
-- retention policy, and the drill schedule with where to drill and the
-- probes to run. Times in cron fields are the workstation's local time.

CREATE TABLE schedules (
    connection          TEXT PRIMARY KEY REFERENCES connections (name) ON DELETE CASCADE,
    repository_id       TEXT,              -- the repository its backups go to; NULL: whichever is open
    backup_cron         TEXT,              -- NULL: no scheduled backups
    keep_last           INTEGER NOT NULL DEFAULT 0,
    keep_daily          INTEGER NOT NULL DEFAULT 0,
    keep_weekly         INTEGER NOT NULL DEFAULT 0,
    keep_monthly        INTEGER NOT NULL DEFAULT 0,
    stale_after_seconds INTEGER,           -- NULL: twice the backup interval
    drill_cron          TEXT,              -- NULL: no scheduled drills
    drill_server        TEXT,              -- a saved connection's name or a postgres:// URL
    drill_probes        TEXT NOT NULL DEFAULT '[]',   -- JSON: [{name, sql, expect}]
    created_at          TEXT NOT NULL,     -- the first slot counts from here
    updated_at          TEXT NOT NULL
);

-- The scheduler's memory, so a restart neither repeats nor forgets a run:
-- when each job last fired (a missed slot is caught up once, from here) and
-- how it ended; whether the connection's staleness was already announced.
CREATE TABLE schedule_state (
    connection   TEXT NOT NULL REFERENCES connections (name) ON DELETE CASCADE,
    job          TEXT NOT NULL,            -- backup, drill
    fired_at     TEXT,
    finished_at  TEXT,
    succeeded    INTEGER,
    error        TEXT,
    stale_since  TEXT,                     -- set when a staleness event was raised
    PRIMARY KEY (connection, job)
);
