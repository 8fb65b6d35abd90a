//! The history of every run: what it did, how it ended.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{enum_text, parse_enum, parse_time, timestamp, Catalog};
use crate::error::Result;

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
    Copy,
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
    /// Only runs started at or after this time.
    pub since: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
}

impl Catalog {
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
        if let Some(since) = filter.since {
            query.push(" AND started_at >= ").push_bind(timestamp(since));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::at;

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
}
