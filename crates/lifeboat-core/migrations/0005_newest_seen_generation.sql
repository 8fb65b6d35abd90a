-- Snapshots of one name are ordered by generation (what each writer saw),
-- not by workstations' clocks: remember the generation of the newest seen.

ALTER TABLE newest_seen ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
