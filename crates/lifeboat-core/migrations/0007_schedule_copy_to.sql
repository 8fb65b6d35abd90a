-- The off-site copy of a schedule: after each successful scheduled backup,
-- the new snapshot is copied to this second repository (a location).
ALTER TABLE schedules ADD COLUMN copy_to TEXT;
