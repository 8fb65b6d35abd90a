-- Point-in-time recovery on a schedule: base backups of the connection's
-- cluster on their own cadence, and whether the scheduler keeps a WAL
-- stream running for it.
ALTER TABLE schedules ADD COLUMN base_backup_cron TEXT;
ALTER TABLE schedules ADD COLUMN wal_stream INTEGER NOT NULL DEFAULT 0;
