//! Point-in-time recovery in the app: each archive's recoverable window,
//! and a recovery to a chosen moment onto a server.

use std::sync::Arc;

use chrono::Utc;
use lifeboat_core::jobs::pitr::onto_server::{RecoverOntoOptions, RecoverOntoReport};
use lifeboat_core::jobs::pitr::recover::RecoveryTarget;
use lifeboat_core::jobs::pitr::window;
use lifeboat_core::jobs::restore::{RestoreJobs, RestoreOptions, Shape};

use crate::progress::ThrottledProgress;
use crate::{blocking, dto::*, ApiResult, App, JobProgress, LOCK_WAIT};

impl App {
    /// Every archive in the repository, with what it can recover.
    pub async fn pitr_archives(&self) -> ApiResult<Vec<PitrArchive>> {
        let (repo, _) = self.current()?;
        blocking(move || {
            let mut archives = Vec::new();
            for name in window::archives(&repo)? {
                let status = window::status(&repo, &name)?;
                archives.push(PitrArchive {
                    server_version: status.base_backups.last().map(|b| b.server_version.clone()),
                    base_backups: status.base_backups.len() as u32,
                    wal_files: status.wal_files as u32,
                    newest_wal_archived: status.newest_wal_archived,
                    windows: status
                        .windows
                        .iter()
                        .map(|w| PitrWindow {
                            base_backup: w.base_backup.clone(),
                            from: w.from_time,
                            to: w.to_time.max(w.from_time),
                        })
                        .collect(),
                    gaps: status
                        .gaps
                        .iter()
                        .map(|g| format!("{} to {} are missing (after {})", g.missing_from, g.missing_to, g.after))
                        .collect(),
                    name,
                });
            }
            Ok(archives)
        })
        .await
    }

    /// Recovers an archive to the moment asked for on a scratch cluster of
    /// this workstation and restores its databases onto the target server
    /// (see `jobs::pitr::onto_server`). A database there with data is not
    /// replaced: it is reported failed, and the others go on.
    pub async fn pitr_restore(
        &self,
        request: PitrRestoreRequest,
        job: u32,
        on_progress: impl Fn(JobProgress) + Send + Sync + 'static,
    ) -> ApiResult<RecoverOntoReport> {
        let runner = self.runner()?;
        let running = self.register_job(job)?;
        let onto = self.spec_of(&request.target).await?;
        let options = RecoverOntoOptions {
            name: request.name,
            target: request.time.map_or(RecoveryTarget::Latest, RecoveryTarget::Time),
            base: None,
            pg_bin: None,
            scratch_root: self.paths.scratch_clusters_dir(),
            databases: request.databases,
            restore: RestoreOptions {
                force: false,
                jobs: RestoreJobs::Auto,
                pg_bin: request.target.pg_bin(),
                lock_wait: LOCK_WAIT,
                now: Utc::now(),
                shape: Shape::default(),
            },
            lock_wait: LOCK_WAIT,
            now: Utc::now(),
        };
        let progress = Arc::new(ThrottledProgress::new(on_progress, running.cancel.clone()));
        Ok(runner.recover_onto(onto, options, progress).await?)
    }
}
