//! Every job's entry in the run history, written the same way whoever
//! started it.

use std::future::Future;

use chrono::Utc;
use serde::Serialize;

use crate::catalog::{Catalog, RunKind, RunStatus};
use crate::error::{Error, Result};

/// Runs `work` as one entry of the run history titled `title`: its summary
/// is `describe(report)`, or says it failed or was cancelled. Without a
/// catalog (a CLI whose data folder cannot be opened) the job runs
/// unrecorded. A history that cannot be written never fails the job.
pub async fn recorded<T: Serialize>(
    catalog: Option<&Catalog>,
    kind: RunKind,
    repository_id: Option<&str>,
    title: &str,
    work: impl Future<Output = Result<T>>,
    describe: impl FnOnce(&T) -> String,
) -> Result<T> {
    let Some(catalog) = catalog else {
        return work.await;
    };
    let run = match catalog.start_run(kind, repository_id, title, Utc::now()).await {
        Ok(run) => Some(run),
        Err(e) => {
            tracing::error!("could not record the start of {title}: {e}");
            None
        }
    };
    let outcome = work.await;
    let Some(run) = run else {
        return outcome;
    };
    let (status, summary, detail) = match &outcome {
        Ok(report) => (
            RunStatus::Succeeded,
            describe(report),
            serde_json::to_value(report).unwrap_or_default(),
        ),
        Err(Error::Cancelled) => (
            RunStatus::Cancelled,
            format!("{title} cancelled"),
            serde_json::json!({ "error": "cancelled" }),
        ),
        Err(e) => (
            RunStatus::Failed,
            format!("{title} failed: {e}"),
            serde_json::json!({ "error": e.to_string() }),
        ),
    };
    if let Err(e) = catalog.finish_run(run, status, &summary, &detail, Utc::now()).await {
        tracing::error!("could not record the end of {title}: {e}");
    }
    outcome
}
