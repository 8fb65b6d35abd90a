//! The workstation's own state in SQLite: the repositories it knows, the
//! database connections, its settings, and the history of every run.
//!
//! The catalog is a cache and a diary, never the source of truth for
//! backups: losing it loses history, not data. Secrets are never stored here.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

use crate::connections::Connection;
use crate::error::{Error, Result};
use crate::notify::NotificationPrefs;
use crate::pg::TlsMode;
use crate::repo::manifest::{Accounting, Snapshot, SnapshotSummary};
use crate::repo::retention::RetentionPolicy;
use crate::schedule::{Cadence, JobKind, JobState, Schedule};

/// A repository this workstation has opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryRecord {
    pub id: String,
    pub location: String,
    pub label: String,
    pub added_at: DateTime<Utc>,
    pub last_opened_at: DateTime<Utc>,
}

/// What a run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Create,
    Open,
    Check,
    Prune,
    KeyAdd,
    KeyRemove,
    RecoveryKit,
    Backup,
    Verify,
    Restore,
    Drill,
}

/// How a run ended (or that it has not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// The process ended while the run was going on (crash, kill, power).
    Interrupted,
}

/// One entry of the activity history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: i64,
    pub kind: RunKind,
    pub repository_id: Option<String>,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub summary: String,
    /// The job's report or error, as JSON.
    pub detail: serde_json::Value,
}

/// Which runs to list; empty fields match everything.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    pub kinds: Vec<RunKind>,
    pub statuses: Vec<RunStatus>,
    pub repository_id: Option<String>,
    pub limit: Option<u32>,
}

/// The SQLite catalog.
#[derive(Clone)]
pub struct Catalog {
    pool: SqlitePool,
    path: PathBuf,
}

const CURRENT_REPOSITORY: &str = "current_repository";

fn timestamp(t: DateTime<Utc>) -> String {
    // Fixed width, so text order is time order.
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::corrupt("the catalog", format!("bad time {text:?}: {e}")))
}

fn enum_text<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn parse_enum<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| Error::corrupt("the catalog", format!("unknown value {text:?}: written by a newer Lifeboat?")))
}

impl Catalog {
    /// Opens (creating if needed) the catalog at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Catalog> {
        let fail = |detail: String| Error::Catalog {
            path: path.to_owned(),
            detail,
        };
        if let Some(parent) = path.parent() {
            crate::paths::create_private_dir(parent)?;
        }
        // Created 0600 before SQLite opens it: SQLite gives its -wal and
        // -shm files the database file's permissions.
        crate::paths::create_private_file(path)?;
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| fail(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| fail(e.to_string()))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| fail(format!("{e}: was it written by a newer Lifeboat?")))?;
        Ok(Catalog {
            pool,
            path: path.to_owned(),
        })
    }

    fn error(&self, e: sqlx::Error) -> Error {
        Error::Catalog {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// Records that `repo` was opened at `now` and makes it the current one.
    pub async fn remember_repository(&self, id: &str, location: &str, label: &str, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        sqlx::query(
            "INSERT INTO repositories (id, location, label, added_at, last_opened_at) VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (id) DO UPDATE SET location = ?2, label = CASE WHEN ?3 = '' THEN label ELSE ?3 END, last_opened_at = ?4",
        )
        .bind(id)
        .bind(location)
        .bind(label)
        .bind(timestamp(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        sqlx::query("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2")
            .bind(CURRENT_REPOSITORY)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))
    }

    /// The repository the app opened last, if any.
    pub async fn current_repository(&self) -> Result<Option<RepositoryRecord>> {
        let row = sqlx::query(
            "SELECT r.id, r.location, r.label, r.added_at, r.last_opened_at
             FROM settings s JOIN repositories r ON r.id = s.value WHERE s.key = ?1",
        )
        .bind(CURRENT_REPOSITORY)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        row.map(|row| repository_from_row(&row)).transpose()
    }

    /// Every repository this workstation knows, most recently opened first.
    pub async fn repositories(&self) -> Result<Vec<RepositoryRecord>> {
        let rows = sqlx::query("SELECT id, location, label, added_at, last_opened_at FROM repositories ORDER BY last_opened_at DESC")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        rows.iter().map(repository_from_row).collect()
    }

    /// Stops opening the current repository at start-up (its files are untouched).
    pub async fn clear_current_repository(&self) -> Result<()> {
        sqlx::query("DELETE FROM settings WHERE key = ?1")
            .bind(CURRENT_REPOSITORY)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Inserts or replaces a saved connection.
    pub async fn save_connection(&self, c: &Connection) -> Result<()> {
        sqlx::query(
            "INSERT INTO connections (name, host, port, database, user_name, tls_mode, pg_bin, password_in_keychain, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (name) DO UPDATE SET host = ?2, port = ?3, database = ?4, user_name = ?5, tls_mode = ?6, pg_bin = ?7,
                 password_in_keychain = ?8, updated_at = ?10",
        )
        .bind(&c.name)
        .bind(&c.host)
        .bind(i64::from(c.port))
        .bind(&c.database)
        .bind(&c.user)
        .bind(c.tls.as_libpq())
        .bind(c.pg_bin.as_ref().map(|p| p.display().to_string()))
        .bind(c.password_in_keychain)
        .bind(timestamp(c.created_at))
        .bind(timestamp(c.updated_at))
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Every saved connection, by name.
    pub async fn connections(&self) -> Result<Vec<Connection>> {
        let rows = sqlx::query(&format!("{CONNECTION_COLUMNS} ORDER BY name"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        rows.iter().map(connection_from_row).collect()
    }

    pub async fn connection(&self, name: &str) -> Result<Option<Connection>> {
        let row = sqlx::query(&format!("{CONNECTION_COLUMNS} WHERE name = ?1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        row.as_ref().map(connection_from_row).transpose()
    }

    pub async fn remove_connection(&self, name: &str) -> Result<bool> {
        let result = sqlx::query("DELETE FROM connections WHERE name = ?1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(result.rows_affected() > 0)
    }

    /// Remembers `snapshot`, just found to be the newest of its name in
    /// `repository_id` (a backup made it, or `latest:` resolved to it), and
    /// returns a warning when this workstation saw a newer one of that name
    /// before: it is gone, deleted or rolled back, and "latest" now means
    /// older data. The newer one stays remembered, so the warning repeats
    /// until a new backup is newer still.
    pub async fn check_newest_seen(&self, repository_id: &str, snapshot: &Snapshot) -> Result<Option<String>> {
        let tag = &snapshot.manifest.tag;
        let seen: Option<(String, String, i64)> =
            sqlx::query_as("SELECT snapshot_id, start, generation FROM newest_seen WHERE repository_id = ?1 AND tag = ?2")
                .bind(repository_id)
                .bind(tag)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.error(e))?;
        if let Some((seen_id, seen_start, seen_generation)) = seen {
            let seen_start = parse_time(&seen_start)?;
            let seen_recency = (u64::try_from(seen_generation).unwrap_or(0), seen_start);
            if seen_id != snapshot.id && seen_recency > snapshot.manifest.recency() {
                return Ok(Some(format!(
                    "WARNING: this workstation saw snapshot {} of `{tag}` taken {}, newer than anything the repository \
                     holds now (its newest is {} of {}): it was deleted, or the repository was put back to an older \
                     state. Find out why before trusting latest:{tag}",
                    &seen_id[..seen_id.len().min(8)],
                    seen_start.format("%Y-%m-%d %H:%M UTC"),
                    &snapshot.id[..8],
                    snapshot.manifest.start.format("%Y-%m-%d %H:%M UTC")
                )));
            }
        }
        sqlx::query(
            "INSERT INTO newest_seen (repository_id, tag, snapshot_id, start, generation) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (repository_id, tag) DO UPDATE SET snapshot_id = ?3, start = ?4, generation = ?5",
        )
        .bind(repository_id)
        .bind(tag)
        .bind(&snapshot.id)
        .bind(timestamp(snapshot.manifest.start))
        .bind(i64::try_from(snapshot.manifest.generation).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        self.remember_seen(repository_id, &[snapshot.summary()]).await?;
        Ok(None)
    }

    /// Compares what the repository accounts for now with the snapshots this
    /// workstation saw in it: one gone without an authentic forget record
    /// was deleted (or the repository put back to an older copy). Returns a
    /// sentence for each (once: it is then no longer remembered), and
    /// remembers the snapshots readable now.
    pub async fn vanished_snapshots(&self, repository_id: &str, accounting: &Accounting) -> Result<Vec<String>> {
        let seen: Vec<(String, String, String)> =
            sqlx::query_as("SELECT snapshot_id, tag, start FROM snapshots_seen WHERE repository_id = ?1 ORDER BY start")
                .bind(repository_id)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.error(e))?;
        let mut vanished = Vec::new();
        for (id, tag, start) in seen {
            if accounting.present.contains(&id) {
                continue;
            }
            if !accounting.forgotten.contains(&id) {
                vanished.push(format!(
                    "snapshot {} of `{tag}` taken {} is gone from the repository without a forget record: it was deleted, \
                     or the repository was put back to an older copy. Find out who removed it; another copy of the \
                     repository may still hold it",
                    &id[..id.len().min(8)],
                    parse_time(&start)?.format("%Y-%m-%d %H:%M UTC"),
                ));
            }
            sqlx::query("DELETE FROM snapshots_seen WHERE repository_id = ?1 AND snapshot_id = ?2")
                .bind(repository_id)
                .bind(&id)
                .execute(&self.pool)
                .await
                .map_err(|e| self.error(e))?;
        }
        self.remember_seen(repository_id, &accounting.readable).await?;
        Ok(vanished)
    }

    async fn remember_seen(&self, repository_id: &str, snapshots: &[SnapshotSummary]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        for snapshot in snapshots {
            sqlx::query("INSERT OR IGNORE INTO snapshots_seen (repository_id, snapshot_id, tag, start) VALUES (?1, ?2, ?3, ?4)")
                .bind(repository_id)
                .bind(&snapshot.id)
                .bind(&snapshot.tag)
                .bind(timestamp(snapshot.time))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
        }
        tx.commit().await.map_err(|e| self.error(e))
    }

    /// Records that a run started; returns its id for [`Catalog::finish_run`].
    pub async fn start_run(&self, kind: RunKind, repository_id: Option<&str>, summary: &str, now: DateTime<Utc>) -> Result<i64> {
        let result = sqlx::query("INSERT INTO runs (kind, repository_id, status, started_at, summary) VALUES (?1, ?2, ?3, ?4, ?5)")
            .bind(enum_text(kind))
            .bind(repository_id)
            .bind(enum_text(RunStatus::Running))
            .bind(timestamp(now))
            .bind(summary)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(result.last_insert_rowid())
    }

    /// Records how run `id` ended.
    pub async fn finish_run(
        &self,
        id: i64,
        status: RunStatus,
        summary: &str,
        detail: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query("UPDATE runs SET status = ?2, summary = ?3, detail = ?4, finished_at = ?5 WHERE id = ?1")
            .bind(id)
            .bind(enum_text(status))
            .bind(summary)
            .bind(detail.to_string())
            .bind(timestamp(now))
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Marks runs left `running` by a process that is gone as interrupted.
    /// Call once at start-up, before any run of this process begins.
    pub async fn mark_interrupted_runs(&self, now: DateTime<Utc>) -> Result<u64> {
        let result = sqlx::query(
            "UPDATE runs SET status = ?1, finished_at = ?2, summary = summary || ' (the app stopped during this run)' WHERE status = ?3",
        )
        .bind(enum_text(RunStatus::Interrupted))
        .bind(timestamp(now))
        .bind(enum_text(RunStatus::Running))
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(result.rows_affected())
    }

    /// Runs matching `filter`, newest first.
    pub async fn runs(&self, filter: &RunFilter) -> Result<Vec<Run>> {
        let mut query = sqlx::QueryBuilder::new(
            "SELECT id, kind, repository_id, status, started_at, finished_at, summary, detail FROM runs WHERE 1 = 1",
        );
        if !filter.kinds.is_empty() {
            query.push(" AND kind IN (");
            let mut list = query.separated(", ");
            for kind in &filter.kinds {
                list.push_bind(enum_text(*kind));
            }
            query.push(")");
        }
        if !filter.statuses.is_empty() {
            query.push(" AND status IN (");
            let mut list = query.separated(", ");
            for status in &filter.statuses {
                list.push_bind(enum_text(*status));
            }
            query.push(")");
        }
        if let Some(repository_id) = &filter.repository_id {
            query.push(" AND repository_id = ").push_bind(repository_id.clone());
        }
        query
            .push(" ORDER BY started_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(filter.limit.unwrap_or(1000)));
        let rows = query.build().fetch_all(&self.pool).await.map_err(|e| self.error(e))?;
        rows.iter()
            .map(|row| {
                let finished: Option<String> = row.get("finished_at");
                let detail: String = row.get("detail");
                Ok(Run {
                    id: row.get("id"),
                    kind: parse_enum(row.get("kind"))?,
                    repository_id: row.get("repository_id"),
                    status: parse_enum(row.get("status"))?,
                    started_at: parse_time(row.get("started_at"))?,
                    finished_at: finished.as_deref().map(parse_time).transpose()?,
                    summary: row.get("summary"),
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }
}

impl Catalog {
    /// Inserts or replaces a connection's schedule.
    pub async fn save_schedule(&self, s: &Schedule) -> Result<()> {
        let probes = serde_json::to_string(&s.probes).map_err(|e| Error::Internal(format!("encoding probes: {e}")))?;
        sqlx::query(
            "INSERT INTO schedules (connection, backup_cron, keep_last, keep_daily, keep_weekly, keep_monthly, stale_after_seconds,
                 drill_cron, drill_server, drill_probes, created_at, updated_at, repository_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (connection) DO UPDATE SET backup_cron = ?2, keep_last = ?3, keep_daily = ?4, keep_weekly = ?5,
                 keep_monthly = ?6, stale_after_seconds = ?7, drill_cron = ?8, drill_server = ?9, drill_probes = ?10, updated_at = ?12,
                 repository_id = ?13",
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
            "SELECT fired_at, finished_at, succeeded, error, stale_since FROM schedule_state WHERE connection = ?1 AND job = ?2",
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

    /// A JSON setting (`None` until set, or when unreadable: a newer
    /// version's, say; the caller's defaults apply).
    pub async fn setting<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Result<Option<T>> {
        let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    pub async fn set_setting<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let value = serde_json::to_string(value).map_err(|e| Error::Internal(format!("encoding the setting {key}: {e}")))?;
        sqlx::query("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Which notifications the admin wants (the defaults until set).
    pub async fn notification_prefs(&self) -> Result<NotificationPrefs> {
        Ok(self.setting(NOTIFICATIONS).await?.unwrap_or_default())
    }

    pub async fn set_notification_prefs(&self, prefs: &NotificationPrefs) -> Result<()> {
        self.set_setting(NOTIFICATIONS, prefs).await
    }
}

const NOTIFICATIONS: &str = "notifications";

const SCHEDULE_COLUMNS: &str =
    "SELECT connection, repository_id, backup_cron, keep_last, keep_daily, keep_weekly, keep_monthly, stale_after_seconds,
    drill_cron, drill_server, drill_probes, created_at, updated_at FROM schedules";

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
        },
        stale_after: stale.map(|s| std::time::Duration::from_secs(s.max(0) as u64)),
        drill: cadence("drill_cron")?,
        drill_server: row.get("drill_server"),
        probes: serde_json::from_str(&probes).map_err(|e| Error::corrupt("the catalog", format!("drill probes: {e}")))?,
        created_at: parse_time(row.get("created_at"))?,
        updated_at: parse_time(row.get("updated_at"))?,
    })
}

const CONNECTION_COLUMNS: &str =
    "SELECT name, host, port, database, user_name, tls_mode, pg_bin, password_in_keychain, created_at, updated_at FROM connections";

fn connection_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Connection> {
    let port: i64 = row.get("port");
    let pg_bin: Option<String> = row.get("pg_bin");
    Ok(Connection {
        name: row.get("name"),
        host: row.get("host"),
        port: u16::try_from(port).map_err(|_| Error::corrupt("the catalog", format!("bad port {port}")))?,
        database: row.get("database"),
        user: row.get("user_name"),
        tls: TlsMode::parse(row.get("tls_mode"))?,
        pg_bin: pg_bin.map(PathBuf::from),
        password_in_keychain: row.get("password_in_keychain"),
        created_at: parse_time(row.get("created_at"))?,
        updated_at: parse_time(row.get("updated_at"))?,
    })
}

fn repository_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<RepositoryRecord> {
    Ok(RepositoryRecord {
        id: row.get("id"),
        location: row.get("location"),
        label: row.get("label"),
        added_at: parse_time(row.get("added_at"))?,
        last_opened_at: parse_time(row.get("last_opened_at"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 10, minute, 0).unwrap()
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_catalog_its_wal_files_and_the_data_folder_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let path = dir.path().join("state/catalog.sqlite");
        let catalog = Catalog::open(&path).await.unwrap();
        catalog.remember_repository("r1", "/mnt/a", "team", at(1)).await.unwrap();
        assert_eq!(mode(&dir.path().join("state")), 0o700);
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
        // The daemon may be the first to create the data folder.
        let daemon_data = dir.path().join("daemon-data");
        let _lock = crate::schedule::SchedulerLock::acquire(&daemon_data).unwrap();
        assert_eq!(mode(&daemon_data), 0o700);
    }

    #[tokio::test]
    async fn remembers_repositories_and_the_current_one_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/catalog.sqlite");
        let catalog = Catalog::open(&path).await.unwrap();
        assert_eq!(catalog.current_repository().await.unwrap(), None);
        catalog.remember_repository("r1", "/mnt/a", "team", at(1)).await.unwrap();
        catalog.remember_repository("r2", "/mnt/b", "", at(2)).await.unwrap();
        catalog.remember_repository("r1", "/mnt/a2", "", at(3)).await.unwrap();
        drop(catalog);

        let catalog = Catalog::open(&path).await.unwrap();
        let current = catalog.current_repository().await.unwrap().unwrap();
        assert_eq!(
            (current.id.as_str(), current.location.as_str(), current.label.as_str()),
            ("r1", "/mnt/a2", "team")
        );
        assert_eq!((current.added_at, current.last_opened_at), (at(1), at(3)));
        let ids: Vec<_> = catalog.repositories().await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["r1", "r2"]);
        catalog.clear_current_repository().await.unwrap();
        assert_eq!(catalog.current_repository().await.unwrap(), None);
    }

    #[tokio::test]
    async fn runs_are_filtered_newest_first_and_dangling_ones_marked_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("catalog.sqlite")).await.unwrap();
        let check = catalog.start_run(RunKind::Check, Some("r1"), "check", at(1)).await.unwrap();
        catalog
            .finish_run(check, RunStatus::Failed, "2 problems", &serde_json::json!({"problems": 2}), at(2))
            .await
            .unwrap();
        let prune = catalog.start_run(RunKind::Prune, Some("r1"), "prune", at(3)).await.unwrap();
        catalog.start_run(RunKind::Open, Some("r2"), "open", at(4)).await.unwrap();
        catalog
            .finish_run(prune, RunStatus::Succeeded, "freed 1 MB", &serde_json::json!({}), at(5))
            .await
            .unwrap();

        let all = catalog.runs(&RunFilter::default()).await.unwrap();
        assert_eq!(
            all.iter().map(|r| r.kind).collect::<Vec<_>>(),
            [RunKind::Open, RunKind::Prune, RunKind::Check]
        );
        assert_eq!(all[2].detail["problems"], 2);
        assert_eq!(all[2].finished_at, Some(at(2)));

        let failed = catalog
            .runs(&RunFilter {
                statuses: vec![RunStatus::Failed],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(failed.iter().map(|r| r.id).collect::<Vec<_>>(), [check]);
        let in_r1 = catalog
            .runs(&RunFilter {
                repository_id: Some("r1".into()),
                kinds: vec![RunKind::Prune, RunKind::Open],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(in_r1.iter().map(|r| r.id).collect::<Vec<_>>(), [prune]);

        assert_eq!(catalog.mark_interrupted_runs(at(9)).await.unwrap(), 1);
        let open = &catalog.runs(&RunFilter::default()).await.unwrap()[0];
        assert_eq!(open.status, RunStatus::Interrupted);
        assert!(open.summary.contains("stopped during this run"));
    }

    #[tokio::test]
    async fn connections_are_saved_updated_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("catalog.sqlite")).await.unwrap();
        let spec = crate::pg::ConnectionSpec::parse_url("postgres://app@db.example:6543/shop?sslmode=verify-full").unwrap();
        let mut shop = Connection::new("shop", &spec, Some("/usr/lib/postgresql/15/bin".into()), at(1)).unwrap();
        catalog.save_connection(&shop).await.unwrap();
        let billing = Connection::new("billing", &spec.with_database("billing"), None, at(2)).unwrap();
        catalog.save_connection(&billing).await.unwrap();
        assert_eq!(catalog.connection("shop").await.unwrap().as_ref(), Some(&shop));

        shop.port = 5432;
        shop.password_in_keychain = true;
        shop.updated_at = at(3);
        catalog.save_connection(&shop).await.unwrap();
        let names: Vec<_> = catalog.connections().await.unwrap().into_iter().map(|c| (c.name, c.port)).collect();
        assert_eq!(names, [("billing".to_string(), 6543), ("shop".to_string(), 5432)]);
        assert_eq!(catalog.connection("shop").await.unwrap().unwrap().tls, TlsMode::VerifyFull);

        assert!(catalog.remove_connection("shop").await.unwrap());
        assert!(!catalog.remove_connection("shop").await.unwrap());
        assert_eq!(catalog.connection("shop").await.unwrap(), None);
        assert!(Connection::new("bad name", &spec, None, at(1)).is_err());
    }

    #[tokio::test]
    async fn an_unusable_catalog_path_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, b"x").unwrap();
        let err = Catalog::open(&file.join("catalog.sqlite")).await.err().unwrap();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }
}
