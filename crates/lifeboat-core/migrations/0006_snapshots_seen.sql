-- Every snapshot this workstation has seen in each repository. One that is
-- later gone without an authentic forget record (forgotten/<id>) was
-- deleted, or the repository was put back to an older copy: `check` says so.

CREATE TABLE snapshots_seen (
    repository_id TEXT NOT NULL,
    snapshot_id   TEXT NOT NULL,
    tag           TEXT NOT NULL,
    start         TEXT NOT NULL,     -- RFC 3339 UTC
    PRIMARY KEY (repository_id, snapshot_id)
);
