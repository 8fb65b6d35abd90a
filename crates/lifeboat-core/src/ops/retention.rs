//! Retention after a scheduled backup: forget what the policy does not
//! keep, then prune.

use std::time::Duration;

use super::{blocking, Runner};
use crate::error::Result;
use crate::events::{Event, EventKind};
use crate::repo::prune::{self, PruneOptions};
use crate::repo::retention::{self, ForgetOptions};
use crate::schedule::Schedule;

/// How long retention waits for running backups' locks.
const RETENTION_LOCK_WAIT: Duration = Duration::from_secs(600);

impl Runner {
    /// Applies `schedule`'s retention policy to its connection's snapshots,
    /// then frees what nothing needs any more. It waits for other jobs'
    /// locks (backups of other databases) up to ten minutes; a failure is
    /// announced, and retention runs again after the next backup.
    pub async fn apply_retention(&self, schedule: &Schedule) -> Result<()> {
        self.retain(schedule, &schedule.connection).await
    }

    /// The same policy over the schedule's base backups (`NAME.base`); the
    /// WAL no kept one needs goes with them.
    pub async fn apply_base_backup_retention(&self, schedule: &Schedule) -> Result<()> {
        self.retain(schedule, &crate::jobs::pitr::base_tag(&schedule.connection)).await
    }

    async fn retain(&self, schedule: &Schedule, tag: &str) -> Result<()> {
        schedule.check_repository(self.repo.id())?;
        let outcome = self.forget_and_prune(schedule, tag).await;
        if let Err(e) = &outcome {
            let message = format!("retention of {tag} did not run ({e}); it runs again after the next backup");
            self.announce(Event::new(EventKind::RetentionApplied, Some(&schedule.connection), false, message))
                .await;
        }
        outcome
    }

    async fn forget_and_prune(&self, schedule: &Schedule, tag: &str) -> Result<()> {
        let repo = self.repo.clone();
        let lock_wait = self.lock_wait.max(RETENTION_LOCK_WAIT);
        let options = ForgetOptions {
            policy: schedule.retention,
            now: chrono::Utc::now(),
            tag: Some(tag.to_owned()),
            dry_run: false,
            lock_wait,
        };
        let (removed, pruned) = blocking(move || {
            let groups = retention::forget(&repo, &options, &chrono::Local)?;
            let removed: Vec<_> = groups
                .into_iter()
                .flat_map(|g| g.verdicts)
                .filter(|v| v.keep.is_empty())
                .map(|v| v.snapshot)
                .collect();
            let pruned = if removed.is_empty() {
                None
            } else {
                // The WAL follows the base backups: what no kept one needs goes too.
                crate::jobs::pitr::expire::expire(&repo, false, lock_wait)?;
                Some(prune::prune(
                    &repo,
                    PruneOptions { dry_run: false, lock_wait },
                    &crate::progress::NoProgress,
                ))
            };
            Ok((removed, pruned))
        })
        .await?;
        if removed.is_empty() {
            return Ok(());
        }
        let freed = match &pruned {
            Some(Ok(report)) => format!(", {} bytes freed", report.bytes_freed),
            Some(Err(e)) => format!("; the space is freed by the next prune ({e})"),
            None => String::new(),
        };
        let message = format!(
            "retention removed {} snapshot(s) of {tag}: {}{freed}",
            removed.len(),
            removed.iter().map(|s| s.short_id.as_str()).collect::<Vec<_>>().join(", ")
        );
        let event = Event::new(EventKind::RetentionApplied, Some(&schedule.connection), true, message).with_detail(&removed);
        self.announce(event).await;
        Ok(())
    }
}
