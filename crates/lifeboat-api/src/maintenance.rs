//! Repository upkeep: check and prune.

use std::sync::Arc;
use std::time::Instant;

use lifeboat_core::ops;
use lifeboat_core::repo::check::CheckOptions;
use lifeboat_core::repo::prune::PruneOptions;

use crate::progress::ThrottledProgress;
use crate::{dto::*, ApiResult, App, LOCK_WAIT};

impl App {
    /// Checks the repository's structure, or with `read_data` every byte,
    /// streaming progress to `on_progress`. Cancel with [`App::cancel_job`]`(job)`.
    pub async fn check(
        &self,
        read_data: bool,
        job: u32,
        on_progress: impl Fn(JobProgress) + Send + Sync + 'static,
    ) -> ApiResult<CheckResult> {
        let (repo, _) = self.current()?;
        let running = self.register_job(job)?;
        let started = Instant::now();
        let progress = Arc::new(ThrottledProgress::new(on_progress, running.cancel.clone()));
        let options = CheckOptions {
            read_data,
            lock_wait: LOCK_WAIT,
        };
        let report = ops::maintenance::check(repo, Some(&self.catalog), options, progress).await?;
        Ok(CheckResult {
            healthy: report.healthy(),
            read_data,
            errors: report.errors,
            warnings: report.warnings,
            next_steps: report.next_steps,
            snapshots: report.snapshots,
            packs: report.packs,
            blobs: report.blobs,
            bytes_verified: report.bytes_verified,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Removes what no snapshot needs (and leftovers of interrupted backups).
    pub async fn prune(&self) -> ApiResult<PruneResult> {
        let (repo, _) = self.current()?;
        let options = PruneOptions {
            dry_run: false,
            lock_wait: LOCK_WAIT,
        };
        let report = ops::maintenance::prune(repo, Some(&self.catalog), options, Arc::new(lifeboat_core::progress::NoProgress)).await?;
        Ok(PruneResult {
            packs_before: report.packs_before,
            packs_removed: report.packs_removed,
            packs_repacked: report.packs_repacked,
            leftover_packs_removed: report.leftover_packs_removed,
            bytes_before: report.bytes_before,
            bytes_freed: report.bytes_freed,
        })
    }
}
