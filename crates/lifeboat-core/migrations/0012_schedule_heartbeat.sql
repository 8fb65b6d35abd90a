-- A schedule's dead-man's switch: a URL pinged on each scheduled backup
-- (URL/start, URL on success, URL/fail), the healthchecks.io convention.
ALTER TABLE schedules ADD COLUMN heartbeat TEXT;
