//! Point-in-time recovery's jobs that a person or a schedule starts: base
//! backups and recoveries, recorded and announced like dumps and restores.
//! (`wal-push` and `wal-fetch` run per WAL file, from the server itself:
//! PostgreSQL logs and retries those; the window's gaps are what alarm.)

use std::sync::Arc;

use super::{blocking, Runner};
use crate::catalog::RunKind;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::jobs::pitr::base_backup::{self, BaseBackupOptions, BaseBackupReport};
use crate::jobs::pitr::recover::{self, RecoverOptions, RecoverReport};
use crate::pg::ConnectionSpec;
use crate::progress::Progress;

impl Runner {
    /// Takes a base backup of the cluster `spec` reaches into archive `options.name`.
    pub async fn base_backup(
        &self,
        spec: &ConnectionSpec,
        options: BaseBackupOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<BaseBackupReport> {
        let title = format!("Base backup of {}", options.name);
        let describe = |r: &BaseBackupReport| {
            format!(
                "{title}: snapshot {}, {} files, PostgreSQL {}",
                &r.snapshot_id[..8],
                r.files,
                r.server_version
            )
        };
        let options = BaseBackupOptions {
            lock_wait: self.lock_wait,
            ..options
        };
        let work = base_backup::base_backup(self.repo.clone(), spec, &options, progress);
        let outcome = self.recorded(RunKind::Backup, &title, work, &describe).await;
        let event = match &outcome {
            Ok(report) => Event::new(EventKind::BackupSucceeded, Some(&options.name), true, describe(report)).with_detail(report),
            Err(Error::Cancelled) => return outcome,
            Err(e) => Event::new(EventKind::BackupFailed, Some(&options.name), false, e.to_string()),
        };
        self.announce(event).await;
        outcome
    }

    /// Recovers archive `options.name` to its target (see `jobs::pitr::recover`).
    pub async fn recover(&self, options: RecoverOptions, progress: Arc<dyn Progress>) -> Result<RecoverReport> {
        let title = format!("Recovery of {} to {}", options.name, options.target);
        let describe = |r: &RecoverReport| format!("{title}: base backup {} into {}", &r.base_backup[..8], r.datadir.display());
        let name = options.name.clone();
        let repo = self.repo.clone();
        let options = RecoverOptions {
            lock_wait: self.lock_wait,
            ..options
        };
        let work = blocking(move || recover::recover(repo, &options, progress.as_ref()));
        let outcome = self.recorded(RunKind::Restore, &title, work, &describe).await;
        let event = match &outcome {
            Ok(report) => Event::new(EventKind::RestoreSucceeded, Some(&name), true, describe(report)).with_detail(report),
            Err(Error::Cancelled) => return outcome,
            Err(e) => Event::new(EventKind::RestoreFailed, Some(&name), false, format!("{title} failed: {e}")),
        };
        self.announce(event).await;
        outcome
    }
}
