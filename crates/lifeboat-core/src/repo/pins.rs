//! "Keep forever": `refs/keep/<snapshot id>` marks a snapshot that no
//! retention policy removes, on any workstation (the mark lives in the
//! repository, not in one catalog). Marking takes a shared lock, so it
//! never races a `forget` (which holds the exclusive one).

use std::collections::HashSet;

use std::time::Duration;

use super::manifest::{self, Snapshot};
use super::{lock, Repository};
use crate::error::Result;

fn path(id: &str) -> String {
    format!("refs/keep/{id}")
}

/// Marks `snapshot` to be kept forever (`true`) or returns it to retention.
pub fn set_keep_forever(repo: &Repository, snapshot: &Snapshot, keep: bool, lock_wait: Duration) -> Result<()> {
    let _lock = lock::acquire(repo, false, "keep forever", lock_wait)?;
    // Still there: a forget may have removed it before the lock was ours.
    manifest::load(repo, &snapshot.id)?;
    if keep {
        repo.backend().write(&path(&snapshot.id), b"")
    } else {
        repo.backend().remove(&path(&snapshot.id))
    }
}

/// Ids of the snapshots marked to be kept forever.
pub fn kept_forever(repo: &Repository) -> Result<HashSet<String>> {
    Ok(repo.backend().list("refs/keep")?.into_iter().map(|f| f.name).collect())
}
