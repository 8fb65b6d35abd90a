-- A connection that names a whole server: the databases to back up are
-- found at each run. NULL for a connection to one database; else JSON
-- {"include": [patterns], "exclude": [patterns]} (empty include: all).
ALTER TABLE connections ADD COLUMN server_scope TEXT;
