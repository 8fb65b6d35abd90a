-- The checkpoint API's jobs as GET /v1/jobs/{id} reports them (JSON), so a
-- pipeline polling its job gets an answer after the daemon or app restarts.
CREATE TABLE api_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    started_at TEXT NOT NULL,
    body TEXT NOT NULL
);
