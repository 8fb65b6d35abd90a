-- The newest snapshot of each database this workstation copied to each
-- off-site repository, so the app can say where a database's newest
-- backup exists without opening the off-site repository.
CREATE TABLE offsite_copies (
    tag           TEXT NOT NULL,     -- the snapshot name (a connection's name)
    location      TEXT NOT NULL,     -- the off-site repository
    snapshot_id   TEXT NOT NULL,     -- the source snapshot copied
    snapshot_time TEXT NOT NULL,     -- when that snapshot was taken
    copied_at     TEXT NOT NULL,
    PRIMARY KEY (tag, location)
);
