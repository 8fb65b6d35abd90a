//! Copying snapshots to a second repository (the off-site copy of 3-2-1).
//!
//! Each snapshot's stream is read from the source, authenticated and
//! checked against its manifest as a restore reads it, and stored in the
//! target as a backup stores it: chunked and encrypted under the target's
//! own keys, so only the chunks the target lacks are written, and the two
//! repositories share no key. The copy keeps the snapshot's name, kind,
//! label, facts, times, host and generation, and records which snapshot of
//! which repository it copies, so a snapshot is never copied twice.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::manifest::{self, Snapshot};
use super::read::{cat, ReadOptions};
use super::store::{put_gated, Provenance, PutOptions, PutReport};
use super::Repository;
use crate::error::{Error, Result};
use crate::progress::{NoProgress, Progress};

/// Manifest metadata of a copy: the id of the snapshot it copies.
pub const COPY_OF: &str = "copy_of";
/// Manifest metadata of a copy: the id of the repository it was copied from.
pub const COPIED_FROM: &str = "copied_from";

#[derive(Clone, Copy, Debug)]
pub struct CopyOptions {
    /// How long to wait for the source's or the target's exclusive job.
    pub lock_wait: Duration,
}

/// One snapshot copied.
#[derive(Clone, Debug, Serialize)]
pub struct CopiedSnapshot {
    pub source_id: String,
    pub target_id: String,
    pub tag: String,
    /// When the snapshot was taken (the copy keeps it).
    pub time: chrono::DateTime<chrono::Utc>,
    pub size: u64,
    pub chunks: u64,
    /// Chunks the target did not have.
    pub new_chunks: u64,
    /// Bytes of pack files this copy added to the target.
    pub added_bytes: u64,
}

/// A source snapshot, by id, name and when it was taken.
#[derive(Clone, Debug, Serialize)]
pub struct SnapshotRef {
    pub id: String,
    pub tag: String,
    pub time: chrono::DateTime<chrono::Utc>,
}

/// What `copy` did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CopyReport {
    pub copied: Vec<CopiedSnapshot>,
    /// Source snapshots the target already holds a copy of.
    pub already_there: Vec<SnapshotRef>,
    /// Source snapshots whose manifest cannot be read, so not copied (with why).
    pub unreadable: Vec<String>,
    pub added_bytes: u64,
    pub seconds: f64,
}

/// Copies `snapshots` of `source` that `target` has no copy of yet, oldest
/// first, so the target's latest pointers end where the source's are. A
/// snapshot that fails to copy stops the copy: what was copied before it
/// stays, and the failed one leaves no manifest (only packs for `prune`).
pub fn copy(
    source: &Repository,
    target: &Repository,
    snapshots: &[Snapshot],
    options: CopyOptions,
    progress: &dyn Progress,
) -> Result<CopyReport> {
    if source.id() == target.id() {
        return Err(Error::InvalidInput(format!(
            "{} and {} are the same repository ({}): copy to another one",
            source.backend().location(),
            target.backend().location(),
            &source.id()[..8]
        )));
    }
    let started = Instant::now();
    let copied_before = copies_in(target, source.id())?;
    let mut order: Vec<&Snapshot> = snapshots.iter().collect();
    order.sort_by(|a, b| a.manifest.recency().cmp(&b.manifest.recency()).then_with(|| a.id.cmp(&b.id)));
    order.dedup_by(|a, b| a.id == b.id);

    let mut report = CopyReport::default();
    for snapshot in order {
        if copied_before.contains(&snapshot.id) {
            report.already_there.push(SnapshotRef {
                id: snapshot.id.clone(),
                tag: snapshot.manifest.tag.clone(),
                time: snapshot.manifest.start,
            });
            continue;
        }
        if progress.cancelled() {
            return Err(Error::Cancelled);
        }
        let stored = copy_one(source, target, snapshot, options, progress)?;
        report.added_bytes += stored.added_bytes;
        report.copied.push(CopiedSnapshot {
            source_id: snapshot.id.clone(),
            target_id: stored.snapshot_id,
            tag: stored.tag,
            time: snapshot.manifest.start,
            size: stored.size,
            chunks: stored.chunks,
            new_chunks: stored.new_chunks,
            added_bytes: stored.added_bytes,
        });
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The ids of the snapshots of repository `source_id` that `target` holds
/// copies of (readable ones: a damaged copy is copied again).
pub fn copies_in(target: &Repository, source_id: &str) -> Result<HashSet<String>> {
    Ok(manifest::list(target)?
        .snapshots
        .into_iter()
        .filter(|s| s.manifest.metadata.get(COPIED_FROM).and_then(|v| v.as_str()) == Some(source_id))
        .filter_map(|s| s.manifest.metadata.get(COPY_OF).and_then(|v| v.as_str()).map(str::to_owned))
        .collect())
}

/// Streams one snapshot from `source` into `target` through a pipe: a
/// thread reads (and verifies), this one stores. The target's manifest is
/// written only when the stream stored has the source's size and SHA-256.
fn copy_one(
    source: &Repository,
    target: &Repository,
    snapshot: &Snapshot,
    options: CopyOptions,
    progress: &dyn Progress,
) -> Result<PutReport> {
    let (mut reader, mut writer) = std::io::pipe().map_err(|e| Error::Internal(format!("opening a pipe: {e}")))?;
    let wanted = &snapshot.manifest;
    let mut metadata = wanted.metadata.clone();
    metadata.insert(COPY_OF.into(), snapshot.id.clone().into());
    metadata.insert(COPIED_FROM.into(), source.id().into());
    let put_options = PutOptions {
        tag: wanted.tag.clone(),
        kind: wanted.kind,
        label: wanted.label.clone(),
        metadata,
        lock_wait: options.lock_wait,
        allow_empty: wanted.size == 0,
        provenance: Some(Provenance::of(wanted)),
    };
    std::thread::scope(|scope| {
        let reading = scope.spawn(move || {
            let read = ReadOptions {
                lock_wait: options.lock_wait,
            };
            // Dropping the writer at the end tells the storing side the stream ended.
            cat(source, snapshot, &mut writer, &NoProgress, read)
        });
        let stored = put_gated(target, &mut reader, &put_options, progress, &mut |stream| {
            if stream.size == wanted.size && stream.sha256 == wanted.sha256 {
                Ok(BTreeMap::new())
            } else {
                Err(Error::corrupt(
                    format!("the copy of snapshot {}", &snapshot.id[..8]),
                    format!(
                        "{} bytes with SHA-256 {} arrived, the manifest says {} bytes with {}",
                        stream.size, stream.sha256, wanted.size, wanted.sha256
                    ),
                ))
            }
        });
        // A target that stopped reading early: the reader's end closes, so
        // the reading thread's next write fails instead of waiting forever.
        drop(reader);
        let read = reading
            .join()
            .map_err(|_| Error::Internal("the thread reading the snapshot to copy stopped".into()))?;
        match (stored, read) {
            // Stored with the manifest's size and SHA-256: the copy is whole.
            (Ok(stored), _) => Ok(stored),
            // The target stopped first and closed the pipe: its error is the cause.
            (Err(stored), Err(Error::Output(_))) | (Err(stored), Ok(_)) => Err(stored),
            // The source failed: its error says why better than a short stream.
            (Err(_), Err(read)) => Err(read),
        }
    })
}
