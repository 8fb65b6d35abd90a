//! `prune`: free the space of blobs no snapshot needs.
//!
//! Runs under an exclusive lock, so no backup is in flight and every blob a
//! snapshot can reach is known. Order keeps it crash-safe at every instant:
//! 1. write repacked packs (the still-needed blobs of mostly-unused packs);
//! 2. write one new index describing every pack that stays;
//! 3. remove the old index files;
//! 4. remove the packs nothing needs, the repacked ones, and leftovers.
//!
//! Killed before 3, both old and new index name existing packs; killed during
//! 4, the remaining packs are in no index and the next prune removes them.
//!
//! A pack in no index is removed only once the storage's clock says it is
//! older than [`UNINDEXED_GRACE`]: a backup indexes its packs when it ends,
//! so a young one may belong to a backup still running whose lock was
//! misjudged stale (the exclusive lock is the first guard, this the second).

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;

use super::check::pack_files;
use super::format::short_key;
use super::index::{read_index_file, write_index_file, Index};
use super::manifest;
use super::pack::{open_encoded, pack_path, PackBuilder, PackRecord};
use super::reach::{add_reachable, add_reachable_wal};
use super::{lock, Repository};
use crate::error::{Error, Result};
use crate::progress::Progress;

/// A pack with more than this share of unneeded bytes is repacked.
const REPACK_UNUSED_SHARE: f64 = 0.2;
/// Packs in no index younger than this (by the storage's clock) are kept.
pub const UNINDEXED_GRACE: Duration = Duration::from_secs(2 * 60 * 60);

#[derive(Clone, Copy, Debug, Default)]
pub struct PruneOptions {
    pub dry_run: bool,
    pub lock_wait: Duration,
}

/// What `prune` did (or, with `dry_run`, would do).
#[derive(Clone, Debug, Default, Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    pub snapshots: usize,
    pub packs_before: usize,
    /// Packs no snapshot needs anything from.
    pub packs_removed: usize,
    /// Packs rewritten to drop their unneeded blobs.
    pub packs_repacked: usize,
    /// Packs in no index: left by interrupted backups.
    pub leftover_packs_removed: usize,
    /// Packs in no index kept because they are younger than the grace
    /// period: a later prune removes them if they stay unindexed.
    pub young_unindexed_packs_kept: usize,
    pub temporary_files_removed: usize,
    pub bytes_before: u64,
    pub bytes_freed: u64,
}

pub fn prune(repo: &Repository, options: PruneOptions, progress: &dyn Progress) -> Result<PruneReport> {
    let lock = if options.dry_run {
        lock::acquire_for_reading(repo, "prune (dry run)", options.lock_wait)?
    } else {
        Some(lock::acquire(repo, true, "prune", options.lock_wait)?)
    };
    progress.phase("finding what snapshots need", None);
    let backend = repo.backend();
    let lock_leftovers = (std::time::Instant::now(), lock::temporary_lock_files(backend)?);

    let mut files = Vec::new();
    for file in backend.list("index")? {
        let packs = read_index_file(repo, &file.name)?;
        files.push((file.name, packs));
    }
    let index = Index::from_files(&files);
    // Before anything reads a pack: a missing one must stop prune with this
    // message, whichever snapshot needs it.
    let pack_files = pack_files(repo)?;
    let on_disk: std::collections::HashMap<[u8; 32], u64> = pack_files.iter().map(|(id, f)| (*id, f.size)).collect();
    let mut missing: Vec<String> = files
        .iter()
        .flat_map(|(_, packs)| packs)
        .filter(|p| !on_disk.contains_key(&p.id))
        .map(|p| pack_path(&p.id))
        .collect();
    if !missing.is_empty() {
        // Rewriting the index without them would make the loss permanent and invisible.
        missing.sort();
        missing.dedup();
        return Err(Error::corrupt(
            "the repository",
            format!(
                "{} pack(s) the index names are missing ({}); prune refuses to run so nothing more is lost. \
                 If they can be brought back (a NAS glitch, an unfinished copy), put them back and run `lifeboat check`; \
                 if they are gone for good, `lifeboat repair index` rebuilds the index from the packs that exist \
                 and `lifeboat check` then names the snapshots that lost data",
                missing.len(),
                missing.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let manifest::SnapshotList { snapshots, damaged } = manifest::list(repo)?;
    if let Some((id, e)) = damaged.into_iter().next() {
        return Err(Error::corrupt(
            format!("snapshot {id}"),
            format!("{e}; prune refuses to run: it could not tell which data that snapshot needs"),
        ));
    }
    let archived = super::wal::list(repo)?;
    if let Some((path, e)) = archived.damaged.into_iter().next() {
        return Err(Error::corrupt(
            path,
            format!("{e}; prune refuses to run: it could not tell which data that WAL file needs"),
        ));
    }
    let mut reachable = HashSet::new();
    for snapshot in &snapshots {
        add_reachable(repo, &index, snapshot, &mut reachable)?;
    }
    for record in &archived.records {
        add_reachable_wal(repo, &index, record, &mut reachable)?;
    }
    if let Some(missing) = reachable.iter().find(|k| !index.contains_key(**k)) {
        return Err(Error::corrupt(
            "the repository",
            format!(
                "a snapshot or archived WAL file needs blob {missing:032x} which is in no index; prune refuses to run: \
                 see `lifeboat check`"
            ),
        ));
    }

    let mut report = PruneReport {
        dry_run: options.dry_run,
        snapshots: snapshots.len(),
        packs_before: on_disk.len(),
        bytes_before: on_disk.values().sum(),
        ..Default::default()
    };

    // A kept pack stays described whole, unneeded deltas too; what they are
    // stored against must then stay readable (`check --read-data` reads
    // every described blob). Bases are whole blobs, so this settles fast.
    let (mut keep, repack, remove) = loop {
        let decision = decide(&files, &reachable);
        let bases: Vec<u128> = decision
            .0
            .iter()
            .flat_map(|p| &p.blobs)
            .filter_map(|b| b.base.map(|base| short_key(&base)))
            .filter(|base| !reachable.contains(base))
            .collect();
        if bases.is_empty() {
            break decision;
        }
        reachable.extend(bases);
    };
    let seen_packs: HashSet<[u8; 32]> = files.iter().flat_map(|(_, packs)| packs).map(|p| p.id).collect();
    let storage_now = lock::storage_now(backend);
    // A pack with no time on record is kept: its age cannot be told.
    let old_enough = |file: &crate::backend::FileInfo| {
        file.modified
            .is_some_and(|modified| storage_now.duration_since(modified).is_ok_and(|age| age >= UNINDEXED_GRACE))
    };
    let unindexed = pack_files.iter().filter(|(id, _)| !seen_packs.contains(*id));
    let leftovers: Vec<[u8; 32]> = unindexed.clone().filter(|(_, f)| old_enough(f)).map(|(id, _)| *id).collect();
    let young = unindexed.count() - leftovers.len();
    let temporary: Vec<String> = backend.list_temporary()?.into_iter().filter(|p| !p.starts_with("locks/")).collect();

    report.packs_removed = remove.len();
    report.packs_repacked = repack.len();
    report.leftover_packs_removed = leftovers.len();
    report.young_unindexed_packs_kept = young;
    report.temporary_files_removed = temporary.len();
    let freed_whole: u64 = remove.iter().chain(&leftovers).map(|id| on_disk[id]).sum();
    let repacked_needed: u64 = repack.iter().flat_map(|p| &p.blobs).map(|b| u64::from(b.length)).sum();
    let repacked_size: u64 = repack.iter().map(|p| p.size).sum();
    report.bytes_freed = freed_whole + repacked_size.saturating_sub(repacked_needed);
    if options.dry_run {
        return Ok(report);
    }

    // 1. Repack.
    progress.phase("repacking", Some(repacked_needed));
    let new_packs = repack_blobs(repo, &repack, progress)?;
    keep.extend(new_packs);
    // 2. One index for everything that stays.
    if !keep.is_empty() {
        write_index_file(repo, &keep)?;
    }
    // 3. Old index files: only while the lock is still this prune's.
    if let Some(lock) = &lock {
        lock.verify()?;
    }
    for (name, _) in &files {
        backend.remove(&format!("index/{name}"))?;
    }
    // 4. Packs and leftovers.
    progress.phase("removing unneeded packs", None);
    for id in remove.iter().chain(repack.iter().map(|p| &p.id)).chain(&leftovers) {
        backend.remove(&pack_path(id))?;
    }
    for path in &temporary {
        backend.remove(path)?;
    }
    report.temporary_files_removed += lock::remove_temporary_lock_files(backend, false, Some(lock_leftovers))?.len();
    report.temporary_files_removed += lock::remove_leftover_probes(backend, storage_now)?.len();
    Ok(report)
}

/// Which packs to keep as they are, which to repack (with only the blobs
/// still `reachable` in them), and which to remove. A blob stored twice
/// keeps one copy: a whole one if there is one, since a delta elsewhere
/// may need it as its base.
fn decide(files: &[(String, Vec<PackRecord>)], reachable: &HashSet<u128>) -> (Vec<PackRecord>, Vec<PackRecord>, Vec<[u8; 32]>) {
    let blobs = || files.iter().flat_map(|(_, packs)| packs).flat_map(|p| &p.blobs);
    let deltas: HashSet<u128> = blobs().filter(|b| b.base.is_some()).map(|b| short_key(&b.id)).collect();
    // Of the blobs stored as deltas, those also stored whole.
    let stored_whole: HashSet<u128> = blobs()
        .filter(|b| b.base.is_none() && deltas.contains(&short_key(&b.id)))
        .map(|b| short_key(&b.id))
        .collect();
    let mut kept_blobs = HashSet::new();
    let mut keep: Vec<PackRecord> = Vec::new();
    let mut repack: Vec<PackRecord> = Vec::new();
    let mut remove: Vec<[u8; 32]> = Vec::new();
    let mut seen_packs = HashSet::new();
    for pack in files.iter().flat_map(|(_, packs)| packs) {
        if !seen_packs.insert(pack.id) {
            continue;
        }
        let mut needed = pack.clone();
        needed.blobs.retain(|b| {
            let key = short_key(&b.id);
            let whole_elsewhere = b.base.is_some() && stored_whole.contains(&key);
            reachable.contains(&key) && !whole_elsewhere && kept_blobs.insert(key)
        });
        let needed_bytes: u64 = needed.blobs.iter().map(|b| u64::from(b.length)).sum();
        if needed.blobs.is_empty() {
            remove.push(pack.id);
        } else if pack.size.saturating_sub(needed_bytes) as f64 > REPACK_UNUSED_SHARE * pack.size as f64 {
            repack.push(needed);
        } else {
            // A kept pack stays described as it is, every blob of it: the
            // index must agree with the pack's own header (`check` compares
            // them, and `repair index` rebuilds the index from headers).
            keep.push(pack.clone());
        }
    }
    (keep, repack, remove)
}

/// Moves the needed blobs of `packs` into new packs, authenticating each.
fn repack_blobs(repo: &Repository, packs: &[PackRecord], progress: &dyn Progress) -> Result<Vec<PackRecord>> {
    let pack_size = repo.config().pack_size as usize;
    let mut written = Vec::new();
    let mut builder = PackBuilder::new(repo.keys(), pack_size);
    for pack in packs {
        if progress.cancelled() {
            return Err(Error::Cancelled);
        }
        let path = pack_path(&pack.id);
        let data = repo.backend().read(&path, super::format::pack_max(repo))?;
        let cipher = repo.keys().pack_cipher(&pack.id);
        for blob in &pack.blobs {
            let what = || format!("blob in pack {path}");
            let sealed = data
                .get(blob.offset as usize..blob.offset as usize + blob.length as usize)
                .ok_or_else(|| Error::corrupt(what(), "it lies past the end of the pack"))?;
            let encoded = open_encoded(&cipher, &blob.id, sealed, &what)?;
            builder.add_encoded(blob.id, &encoded, blob.raw_length, blob.base);
            progress.advance(blob.length.into());
            if builder.len() >= pack_size {
                let full = std::mem::replace(&mut builder, PackBuilder::new(repo.keys(), pack_size));
                written.push(write(repo, full)?);
            }
        }
    }
    if !builder.is_empty() {
        written.push(write(repo, builder)?);
    }
    Ok(written)
}

fn write(repo: &Repository, builder: PackBuilder) -> Result<PackRecord> {
    let (bytes, record) = builder.finish();
    repo.backend().write(&pack_path(&record.id), &bytes)?;
    Ok(record)
}
