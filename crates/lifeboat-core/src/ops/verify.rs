//! Verification: every blob authenticated, SHA-256 and size compared,
//! `pg_restore --list` reading the archive.

use std::path::PathBuf;
use std::sync::Arc;

use super::{short, Runner};
use crate::catalog::RunKind;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::jobs::restore::{self, VerifyReport};
use crate::progress::Progress;

impl Runner {
    /// Verifies the snapshot `spec` names, recording the run and announcing
    /// `verify_succeeded` or `verify_failed`.
    pub async fn verify(&self, spec: &str, pg_bin: Option<PathBuf>, progress: Arc<dyn Progress>) -> Result<VerifyReport> {
        let title = format!("Verify snapshot {}", short(spec));
        let snapshot = match self.resolve(spec).await {
            Ok(snapshot) => snapshot,
            Err(e) => {
                return self
                    .recorded(RunKind::Verify, &title, async { Err(e) }, |_: &VerifyReport| String::new())
                    .await
            }
        };
        let name = snapshot.manifest.tag.clone();
        let work = {
            let (repo, snapshot, lock_wait) = (self.repo.clone(), snapshot.clone(), self.lock_wait);
            super::blocking(move || restore::verify(&repo, &snapshot, pg_bin.as_deref(), progress.as_ref(), lock_wait))
        };
        let outcome = self
            .recorded(RunKind::Verify, &title, work, |r| {
                format!("{title}: intact, {} archive entries", r.archive_entries)
            })
            .await;
        let event = match &outcome {
            Ok(_) => Event::new(
                EventKind::VerifySucceeded,
                Some(&name),
                true,
                format!("snapshot {} of {name} is intact", short(&snapshot.id)),
            ),
            Err(Error::Cancelled) => return outcome,
            Err(e) => Event::new(EventKind::VerifyFailed, Some(&name), false, e.to_string()),
        };
        self.announce(event.with_snapshot(&snapshot)).await;
        outcome
    }
}
