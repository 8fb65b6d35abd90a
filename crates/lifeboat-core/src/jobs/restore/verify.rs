//! Verification: every blob authenticated, the stream's SHA-256 and size
//! compared, and `pg_restore --list` reading the archive.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::pg::facts::PgFacts;
use crate::pg::tools;
use crate::progress::Progress;
use crate::repo::manifest::Snapshot;
use crate::repo::Repository;

use super::load::feed;

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VerifyReport {
    pub snapshot_id: String,
    pub size: u64,
    pub sha256: String,
    /// Entries `pg_restore --list` read from the archive.
    pub archive_entries: usize,
    pub seconds: f64,
}

/// Every blob authenticated, the stream's SHA-256 and size compared with
/// the manifest, and the archive read by `pg_restore --list`.
pub fn verify(
    repo: &Repository,
    snapshot: &Snapshot,
    pg_bin: Option<&Path>,
    progress: &dyn Progress,
    lock_wait: Duration,
) -> Result<VerifyReport> {
    let started = Instant::now();
    let facts = PgFacts::of(snapshot)?;
    let pg = tools::find(facts.pg_dump_major(), pg_bin)?;
    let child = Command::new(pg.tool("pg_restore"))
        .arg("--list")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::RestoreFailed(format!("cannot run {}: {e}", pg.tool("pg_restore").display())))?;
    let output = feed(repo, snapshot, child, progress, lock_wait)?;
    if !output.status.success() {
        return Err(Error::corrupt(
            format!("the archive in snapshot {}", &snapshot.id[..8]),
            format!("pg_restore --list exited with {}: {}", output.status, output.stderr.trim()),
        ));
    }
    let entries = output
        .stdout
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .count();
    Ok(VerifyReport {
        snapshot_id: snapshot.id.clone(),
        size: snapshot.manifest.size,
        sha256: snapshot.manifest.sha256.clone(),
        archive_entries: entries,
        seconds: started.elapsed().as_secs_f64(),
    })
}
