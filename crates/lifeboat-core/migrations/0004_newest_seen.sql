-- The newest snapshot of each name this workstation has seen in each
-- repository. A repository that later shows only older ones lost its newest
-- (deleted, or the folder was put back to an older state): "latest" would
-- then silently mean older data, so Lifeboat warns instead.

CREATE TABLE newest_seen (
    repository_id TEXT NOT NULL,
    tag           TEXT NOT NULL,
    snapshot_id   TEXT NOT NULL,
    start         TEXT NOT NULL,     -- the snapshot's start, RFC 3339 UTC
    PRIMARY KEY (repository_id, tag)
);
