//! The checkpoints the API started, for `GET /v1/jobs/{id}`: this
//! process's in memory (the oldest finished ones dropped first), every
//! process's in the catalog (see `TriggerApi::remember`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::SnapshotFacts;

/// Jobs kept; a pipeline polls its job within minutes of starting it.
const KEPT: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    Succeeded,
    Failed,
}

/// One checkpoint job, as the API reports it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiJob {
    pub job: String,
    pub state: JobState,
    pub database: String,
    pub label: String,
    /// The token that started it.
    pub requested_by: String,
    pub started: DateTime<Utc>,
    pub finished: Option<DateTime<Utc>>,
    /// The snapshot made (a server's: its group's), once succeeded.
    pub snapshot: Option<String>,
    /// Its id, time, size and SHA-256, as notifications carry them.
    pub facts: Option<SnapshotFacts>,
    /// The backup's report: tables, rows, warnings (a server's: each
    /// database), as `ops::SavedBackup` serializes it.
    pub report: Option<serde_json::Value>,
    /// Why it failed, and what to do.
    pub error: Option<String>,
}

#[derive(Default)]
pub struct JobTable {
    jobs: HashMap<String, ApiJob>,
}

impl JobTable {
    pub fn insert(&mut self, job: ApiJob) {
        if self.jobs.len() >= KEPT {
            let oldest_finished = self
                .jobs
                .values()
                .filter(|j| j.state != JobState::Running)
                .min_by_key(|j| j.started)
                .map(|j| j.job.clone());
            if let Some(id) = oldest_finished {
                self.jobs.remove(&id);
            }
        }
        self.jobs.insert(job.job.clone(), job);
    }

    pub fn get(&self, id: &str) -> Option<&ApiJob> {
        self.jobs.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut ApiJob> {
        self.jobs.get_mut(id)
    }

    /// The job of `database` still running, if any.
    pub fn running_of(&self, database: &str) -> Option<&ApiJob> {
        self.jobs.values().find(|j| j.state == JobState::Running && j.database == database)
    }
}
