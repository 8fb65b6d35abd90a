//! The restore-test report for auditors: every drill and restore of this
//! repository over a period, from the run history, with the snapshot each
//! one used (its SHA-256 from the repository), the checks and how they
//! ended. The `report` module at the crate root renders it as HTML or PDF.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{blocking, Runner};
use crate::catalog::{RunFilter, RunKind, RunStatus};
use crate::error::Result;
use crate::repo::manifest;

#[derive(Clone, Debug, Serialize)]
pub struct RestoreTestReport {
    pub repository_id: String,
    pub since: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    /// Oldest first, as an auditor reads a log.
    pub entries: Vec<TestEntry>,
}

impl RestoreTestReport {
    pub fn passed(&self) -> usize {
        self.entries.iter().filter(|e| e.passed()).count()
    }
}

/// One drill or restore.
#[derive(Clone, Debug, Serialize)]
pub struct TestEntry {
    pub kind: RunKind,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub summary: String,
    pub snapshot_id: Option<String>,
    /// The snapshot's name, time and SHA-256, while the repository holds it.
    pub snapshot_name: Option<String>,
    pub snapshot_time: Option<DateTime<Utc>>,
    pub sha256: Option<String>,
    /// Where it was restored: the drill server or the target.
    pub target: Option<String>,
    pub checks: Vec<Check>,
}

impl TestEntry {
    pub fn passed(&self) -> bool {
        self.status == RunStatus::Succeeded && self.checks.iter().all(|c| c.passed)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// The parts of a drill's or restore's recorded report the audit needs;
/// the rest of the JSON is not read.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Recorded {
    snapshot_id: Option<String>,
    /// A drill's server.
    server: Option<String>,
    /// A restore's target.
    target: Option<String>,
    checks: Vec<Check>,
    tables: Vec<RecordedTable>,
    /// A server restore's databases.
    restored: Vec<Recorded>,
    failed: Vec<RecordedFailure>,
    database: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct RecordedTable {
    expected: u64,
    restored: u64,
}

#[derive(Deserialize)]
struct RecordedFailure {
    database: String,
    error: String,
}

impl Recorded {
    /// A restore's checks: its row counts (and, for a server, each database's).
    fn restore_checks(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        if !self.tables.is_empty() || self.database.is_some() {
            let equal = self.tables.iter().all(|t| t.expected == t.restored);
            checks.push(Check {
                name: match &self.database {
                    Some(db) => format!("row counts of {db}"),
                    None => "row counts".into(),
                },
                passed: equal,
                detail: format!(
                    "{} tables, {} rows, {} the backup's counts; SHA-256 and size of the dump verified",
                    self.tables.len(),
                    self.tables.iter().map(|t| t.restored).sum::<u64>(),
                    if equal { "equal to" } else { "different from" }
                ),
            });
        }
        for database in &self.restored {
            checks.extend(database.restore_checks());
        }
        for failure in &self.failed {
            checks.push(Check {
                name: format!("restore of {}", failure.database),
                passed: false,
                detail: failure.error.clone(),
            });
        }
        checks
    }
}

impl Runner {
    /// Drills and restores of this repository started at or after `since`.
    pub async fn restore_test_report(&self, since: DateTime<Utc>) -> Result<RestoreTestReport> {
        let filter = RunFilter {
            kinds: vec![RunKind::Drill, RunKind::Restore],
            repository_id: Some(self.repo.id().to_string()),
            since: Some(since),
            limit: Some(100_000),
            ..Default::default()
        };
        let runs = self.catalog.runs(&filter).await?;
        let repo = self.repo.clone();
        let entries = blocking(move || {
            let mut entries: Vec<TestEntry> = runs
                .into_iter()
                .filter(|run| run.status != RunStatus::Running)
                .map(|run| {
                    let recorded: Recorded = serde_json::from_value(run.detail.clone()).unwrap_or_default();
                    let mut checks = match run.kind {
                        RunKind::Drill => recorded.checks.clone(),
                        _ => recorded.restore_checks(),
                    };
                    if let Some(error) = &recorded.error {
                        checks.push(Check {
                            name: "outcome".into(),
                            passed: false,
                            detail: error.clone(),
                        });
                    }
                    let snapshot = recorded.snapshot_id.as_deref().and_then(|id| manifest::load(&repo, id).ok());
                    TestEntry {
                        kind: run.kind,
                        status: run.status,
                        started_at: run.started_at,
                        finished_at: run.finished_at,
                        summary: run.summary,
                        snapshot_name: snapshot.as_ref().map(|s| s.manifest.tag.clone()),
                        snapshot_time: snapshot.as_ref().map(|s| s.manifest.start),
                        sha256: snapshot.as_ref().map(|s| s.manifest.sha256.clone()),
                        snapshot_id: recorded.snapshot_id,
                        target: recorded.server.or(recorded.target),
                        checks,
                    }
                })
                .collect();
            entries.reverse();
            Ok(entries)
        })
        .await?;
        Ok(RestoreTestReport {
            repository_id: self.repo.id().to_string(),
            since,
            generated_at: Utc::now(),
            entries,
        })
    }
}
