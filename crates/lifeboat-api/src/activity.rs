//! The run history the Activity page shows, and the restore-test report
//! made of it for auditors.

use std::path::PathBuf;

use chrono::Utc;
use lifeboat_core::catalog::RunFilter;

use crate::{blocking, dto::*, ApiError, ApiResult, App};

impl App {
    /// The run history, newest first.
    pub async fn activity(&self, filter: ActivityFilter) -> ApiResult<Vec<ActivityEntry>> {
        let runs = self
            .catalog
            .runs(&RunFilter {
                kinds: filter.kinds,
                statuses: filter.statuses,
                repository_id: None,
                since: None,
                limit: filter.limit,
            })
            .await?;
        Ok(runs.into_iter().map(Into::into).collect())
    }

    /// Writes the restore-test report of the last `since_days` days (every
    /// drill and restore: when, which snapshot, its SHA-256, the checks) to
    /// `path`, a PDF or an HTML page by its extension.
    pub async fn export_report(&self, request: ReportRequest) -> ApiResult<ReportSaved> {
        if !(1..=36_500).contains(&request.since_days) {
            return Err(ApiError::invalid_input("cover from one day to a hundred years"));
        }
        let path = PathBuf::from(request.path.trim());
        let since = Utc::now() - chrono::Duration::days(i64::from(request.since_days));
        let report = self.runner()?.restore_test_report(since).await?;
        let (entries, passed) = (report.entries.len(), report.passed());
        let written = path.clone();
        blocking(move || lifeboat_core::report::write(&report, &written, request.replace)).await?;
        Ok(ReportSaved {
            path: path.display().to_string(),
            entries,
            passed,
        })
    }
}
