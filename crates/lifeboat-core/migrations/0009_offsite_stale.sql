-- Set while the alarm that a schedule's off-site copy fell behind is raised
-- (on the backup job's row), so it is announced once per episode.
ALTER TABLE schedule_state ADD COLUMN offsite_stale_since TEXT;
