//! Schedules, and what the scheduler remembers about each job.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{parse_time, timestamp, Catalog};
use crate::error::{Error, Result};
use crate::repo::retention::RetentionPolicy;
use crate::schedule::{Cadence, JobKind, JobState, Schedule};

impl Catalog {
    /// Inserts or replaces a connection's schedule.
    pub async fn save_schedule(&self, s: &Schedule) -> Result<()> {
        let probes = serde_json::to_string(&s.probes).map_err(|e| Error::Internal(format!("encoding probes: {e}")))?;
        sqlx::query(
            "INSERT INTO schedules (connection, backup_cron, keep_last, keep_daily, keep_weekly, keep_monthly, stale_after_seconds,
                 drill_cron, drill_server, drill_probes, created_at, updated_at, repository_id, copy_to,
                 keep_yearly, keep_within_hours, min_age_hours, checkpoint_expiry_hours, heartbeat, base_backup_cron, wal_stream)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)
             ON CONFLICT (connection) DO UPDATE SET backup_cron = ?2, keep_last = ?3, keep_daily = ?4, keep_weekly = ?5,
                 keep_monthly = ?6, stale_after_seconds = ?7, drill_cron = ?8, drill_server = ?9, drill_probes = ?10, updated_at = ?12,
                 repository_id = ?13, copy_to = ?14, keep_yearly = ?15, keep_within_hours = ?16, min_age_hours = ?17,
                 checkpoint_expiry_hours = ?18, heartbeat = ?19, base_backup_cron = ?20, wal_stream = ?21",
        )
        .bind(&s.connection)
        .bind(s.backup.as_ref().map(|c| c.as_str().to_owned()))
        .bind(i64::from(s.retention.keep_last))
        .bind(i64::from(s.retention.keep_daily))
        .bind(i64::from(s.retention.keep_weekly))
        .bind(i64::from(s.retention.keep_monthly))
        .bind(s.stale_after.map(|d| d.as_secs() as i64))
        .bind(s.drill.as_ref().map(|c| c.as_str().to_owned()))
        .bind(&s.drill_server)
        .bind(probes)
        .bind(timestamp(s.created_at))
        .bind(timestamp(s.updated_at))
        .bind(&s.repository_id)
        .bind(&s.copy_to)
        .bind(i64::from(s.retention.keep_yearly))
        .bind(i64::from(s.retention.keep_within_hours))
        .bind(i64::from(s.retention.min_age_hours))
        .bind(i64::from(s.retention.checkpoint_expiry_hours))
        .bind(&s.heartbeat)
        .bind(s.base_backup.as_ref().map(|c| c.as_str().to_owned()))
        .bind(s.wal_stream)
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Every schedule, by connection name.
    pub async fn schedules(&self) -> Result<Vec<Schedule>> {
        let rows = sqlx::query(&format!("{SCHEDULE_COLUMNS} ORDER BY connection"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        rows.iter().map(schedule_from_row).collect()
    }

    pub async fn schedule(&self, connection: &str) -> Result<Option<Schedule>> {
        let row = sqlx::query(&format!("{SCHEDULE_COLUMNS} WHERE connection = ?1"))
            .bind(connection)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        row.as_ref().map(schedule_from_row).transpose()
    }

    pub async fn remove_schedule(&self, connection: &str) -> Result<bool> {
        let result = sqlx::query("DELETE FROM schedules WHERE connection = ?1")
            .bind(connection)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        sqlx::query("DELETE FROM schedule_state WHERE connection = ?1")
            .bind(connection)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(result.rows_affected() > 0)
    }

    /// What the scheduler remembers about `job` of `connection`.
    pub async fn job_state(&self, connection: &str, job: JobKind) -> Result<JobState> {
        let row = sqlx::query(
            "SELECT fired_at, finished_at, succeeded, error, stale_since, offsite_stale_since FROM schedule_state
             WHERE connection = ?1 AND job = ?2",
        )
        .bind(connection)
        .bind(job.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        let Some(row) = row else { return Ok(JobState::default()) };
        let time = |column: &str| -> Result<Option<DateTime<Utc>>> {
            let text: Option<String> = row.get(column);
            text.as_deref().map(parse_time).transpose()
        };
        Ok(JobState {
            fired_at: time("fired_at")?,
            finished_at: time("finished_at")?,
            succeeded: row.get("succeeded"),
            error: row.get("error"),
            stale_since: time("stale_since")?,
            offsite_stale_since: time("offsite_stale_since")?,
        })
    }

    /// Records when `job` of `connection` last started (`None`: never).
    pub async fn record_fired(&self, connection: &str, job: JobKind, at: Option<DateTime<Utc>>) -> Result<()> {
        self.upsert_state(connection, job, "fired_at", at.map(timestamp)).await
    }

    /// Records how `job` of `connection` ended.
    pub async fn record_finished(&self, connection: &str, job: JobKind, now: DateTime<Utc>, error: Option<&str>) -> Result<()> {
        sqlx::query(
            "INSERT INTO schedule_state (connection, job, finished_at, succeeded, error) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (connection, job) DO UPDATE SET finished_at = ?3, succeeded = ?4, error = ?5",
        )
        .bind(connection)
        .bind(job.as_str())
        .bind(timestamp(now))
        .bind(error.is_none())
        .bind(error)
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Remembers that a staleness alarm was raised (`Some`) or is over (`None`).
    pub async fn set_stale_since(&self, connection: &str, since: Option<DateTime<Utc>>) -> Result<()> {
        self.upsert_state(connection, JobKind::Backup, "stale_since", since.map(timestamp))
            .await
    }

    /// Remembers that the off-site alarm was raised (`Some`) or is over (`None`).
    pub async fn set_offsite_stale_since(&self, connection: &str, since: Option<DateTime<Utc>>) -> Result<()> {
        self.upsert_state(connection, JobKind::Backup, "offsite_stale_since", since.map(timestamp))
            .await
    }

    async fn upsert_state(&self, connection: &str, job: JobKind, column: &'static str, value: Option<String>) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO schedule_state (connection, job, {column}) VALUES (?1, ?2, ?3)
             ON CONFLICT (connection, job) DO UPDATE SET {column} = ?3"
        ))
        .bind(connection)
        .bind(job.as_str())
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(())
    }
}

const SCHEDULE_COLUMNS: &str =
    "SELECT connection, repository_id, backup_cron, keep_last, keep_daily, keep_weekly, keep_monthly, stale_after_seconds,
    drill_cron, drill_server, drill_probes, created_at, updated_at, copy_to, keep_yearly, keep_within_hours, min_age_hours,
    checkpoint_expiry_hours, heartbeat, base_backup_cron, wal_stream FROM schedules";

fn schedule_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Schedule> {
    let cadence = |column: &str| -> Result<Option<Cadence>> {
        let text: Option<String> = row.get(column);
        text.as_deref()
            .map(|t| Cadence::parse(t).map_err(|e| Error::corrupt("the catalog", format!("schedule {column}: {e}"))))
            .transpose()
    };
    let keep = |column: &str| -> u32 { u32::try_from(row.get::<i64, _>(column)).unwrap_or(0) };
    let stale: Option<i64> = row.get("stale_after_seconds");
    let probes: String = row.get("drill_probes");
    Ok(Schedule {
        connection: row.get("connection"),
        repository_id: row.get("repository_id"),
        backup: cadence("backup_cron")?,
        retention: RetentionPolicy {
            keep_last: keep("keep_last"),
            keep_daily: keep("keep_daily"),
            keep_weekly: keep("keep_weekly"),
            keep_monthly: keep("keep_monthly"),
            keep_yearly: keep("keep_yearly"),
            keep_within_hours: keep("keep_within_hours"),
            min_age_hours: keep("min_age_hours"),
            checkpoint_expiry_hours: keep("checkpoint_expiry_hours"),
        },
        stale_after: stale.map(|s| std::time::Duration::from_secs(s.max(0) as u64)),
        drill: cadence("drill_cron")?,
        drill_server: row.get("drill_server"),
        copy_to: row.get("copy_to"),
        heartbeat: row.get("heartbeat"),
        base_backup: cadence("base_backup_cron")?,
        wal_stream: row.get("wal_stream"),
        probes: serde_json::from_str(&probes).map_err(|e| Error::corrupt("the catalog", format!("drill probes: {e}")))?,
        created_at: parse_time(row.get("created_at"))?,
        updated_at: parse_time(row.get("updated_at"))?,
    })
}
