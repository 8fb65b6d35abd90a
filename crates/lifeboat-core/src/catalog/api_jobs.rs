//! The checkpoint API's jobs, kept as the API reports them (JSON), so that
//! `GET /v1/jobs/{id}` answers across restarts of the daemon or the app.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{timestamp, Catalog};
use crate::error::Result;

/// Jobs kept: a pipeline polls its job within hours of starting it.
const KEPT: i64 = 1000;

impl Catalog {
    /// Records job `id` (or its new state), then forgets all but the newest jobs.
    pub async fn record_api_job(&self, id: &str, started: DateTime<Utc>, body: &str) -> Result<()> {
        sqlx::query("INSERT INTO api_jobs (id, started_at, body) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO UPDATE SET body = ?3")
            .bind(id)
            .bind(timestamp(started))
            .bind(body)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        sqlx::query("DELETE FROM api_jobs WHERE id NOT IN (SELECT id FROM api_jobs ORDER BY started_at DESC LIMIT ?1)")
            .bind(KEPT)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Replaces job `id`'s record with `new` if it is still `old`; whether it was.
    pub async fn replace_api_job(&self, id: &str, old: &str, new: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE api_jobs SET body = ?3 WHERE id = ?1 AND body = ?2")
            .bind(id)
            .bind(old)
            .bind(new)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Job `id` as last recorded.
    pub async fn api_job(&self, id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT body FROM api_jobs WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(row.map(|row| row.get("body")))
    }
}
