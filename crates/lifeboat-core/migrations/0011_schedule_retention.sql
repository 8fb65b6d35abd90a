-- The retention rules beyond the four counts: yearly, keep-within, a
-- minimum age under every rule, and checkpoint expiry (hours; 0: unused).
ALTER TABLE schedules ADD COLUMN keep_yearly INTEGER NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN keep_within_hours INTEGER NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN min_age_hours INTEGER NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN checkpoint_expiry_hours INTEGER NOT NULL DEFAULT 0;
