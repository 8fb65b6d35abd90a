//! Restores: a snapshot into a database, through a scratch database
//! swapped into place (see `jobs::restore`).

use std::sync::Arc;

use super::{short, Runner};
use crate::catalog::RunKind;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::jobs::restore::{self, RestoreOptions, RestoreReport};
use crate::jobs::server::{self, ServerRestoreOptions, ServerRestoreReport};
use crate::pg::ConnectionSpec;
use crate::progress::Progress;

pub struct RestoreJob {
    /// What names the snapshot: an id, a unique prefix or `latest:NAME`.
    pub snapshot: String,
    pub target: ConnectionSpec,
    pub options: RestoreOptions,
    /// The explicit empty-database auto-restore (announced as such).
    pub automatic: bool,
}

impl Runner {
    /// Restores `job.snapshot` into `job.target`, recording the run and
    /// announcing `restore_succeeded` / `auto_restore` or `restore_failed`
    /// (high priority). A refusal changed nothing and is only returned. For
    /// `latest:NAME`, a newer snapshot this workstation saw and the
    /// repository lost is a warning in the report.
    pub async fn restore(&self, job: RestoreJob, progress: Arc<dyn Progress>) -> Result<RestoreReport> {
        let title = format!("Restore snapshot {} into {}", short(&job.snapshot), job.target.database);
        let describe = |r: &RestoreReport| {
            let tables = r.tables.len();
            format!(
                "{title}: {tables} table{} restored, row counts equal",
                if tables == 1 { "" } else { "s" }
            )
        };
        let snapshot = match self.resolve(&job.snapshot).await {
            Ok(snapshot) => snapshot,
            Err(e) => return self.recorded(RunKind::Restore, &title, async { Err(e) }, describe).await,
        };
        let name = snapshot.manifest.tag.clone();
        let work = async {
            let rolled_back = if job.snapshot.starts_with("latest:") {
                self.remember_newest(&snapshot).await
            } else {
                None
            };
            let mut report = restore::restore(self.repo.clone(), snapshot.clone(), &job.target, &job.options, progress).await?;
            report.warnings.extend(rolled_back);
            Ok(report)
        };
        let outcome = self.recorded(RunKind::Restore, &title, work, describe).await;
        let event = match &outcome {
            Ok(r) => {
                let kind = if job.automatic {
                    EventKind::AutoRestore
                } else {
                    EventKind::RestoreSucceeded
                };
                let message = format!("restored {name} into {} ({} tables)", r.target, r.tables.len());
                Event::new(kind, Some(&name), true, message).with_detail(r)
            }
            Err(Error::RestoreRefused(_) | Error::Cancelled) => return outcome,
            Err(e) => Event::new(
                EventKind::RestoreFailed,
                Some(&name),
                false,
                format!("restore into {}: {e}", job.target.display_url()),
            ),
        };
        self.announce(event.with_snapshot(&snapshot)).await;
        outcome
    }

    /// Restores the server group `snapshot` names onto the server `target`
    /// reaches (see `jobs::server`): one run, announced as a restore (high
    /// priority), failed when any database failed.
    pub async fn restore_server(
        &self,
        snapshot: &str,
        target: ConnectionSpec,
        options: ServerRestoreOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<ServerRestoreReport> {
        let title = format!("Restore server backup {} onto {}:{}", short(snapshot), target.host, target.port);
        let describe = |r: &ServerRestoreReport| {
            format!(
                "{title}: {} databases restored, {} failed, {} roles created",
                r.restored.len(),
                r.failed.len(),
                r.roles_created.len()
            )
        };
        let snapshot = match self.resolve(snapshot).await {
            Ok(snapshot) => snapshot,
            Err(e) => return self.recorded(RunKind::Restore, &title, async { Err(e) }, describe).await,
        };
        let name = snapshot.manifest.tag.clone();
        let work = server::restore_server(self.repo.clone(), snapshot.clone(), &target, &options, progress);
        let outcome = self.recorded(RunKind::Restore, &title, work, describe).await;
        let Some(event) = server_restore_event(&outcome, |r| r, &name, &title, describe) else {
            return outcome;
        };
        self.announce(event.with_snapshot(&snapshot)).await;
        outcome
    }
}

/// The event announcing a finished server restore (`report` finds the
/// restore in whatever `outcome` holds): succeeded, some databases failed,
/// or it failed. None for a refusal or a cancellation, which changed
/// nothing and are only returned.
pub(super) fn server_restore_event<R: serde::Serialize>(
    outcome: &Result<R>,
    report: impl Fn(&R) -> &ServerRestoreReport,
    name: &str,
    title: &str,
    describe: impl Fn(&R) -> String,
) -> Option<Event> {
    Some(match outcome {
        Ok(r) if report(r).failed.is_empty() => Event::new(EventKind::RestoreSucceeded, Some(name), true, describe(r)).with_detail(r),
        Ok(r) => {
            let failed: Vec<String> = report(r).failed.iter().map(|f| format!("{}: {}", f.database, f.error)).collect();
            Event::new(
                EventKind::RestoreFailed,
                Some(name),
                false,
                format!("{title}: {}", failed.join("; ")),
            )
            .with_detail(r)
        }
        Err(Error::RestoreRefused(_) | Error::Cancelled) => return None,
        Err(e) => Event::new(EventKind::RestoreFailed, Some(name), false, format!("{title}: {e}")),
    })
}
