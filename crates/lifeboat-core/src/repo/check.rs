//! `check`: is the repository whole?
//!
//! Structure (always): key slots, index files, every indexed pack present with
//! its recorded size, every snapshot readable with every blob it needs
//! indexed, latest pointers pointing at snapshots of their name. With
//! `read_data`: every snapshot streamed and its size and SHA-256 compared with
//! its manifest, then every pack read whole, its BLAKE3 compared with the
//! index, its header authenticated, and every blob not yet verified through a
//! snapshot authenticated too.
//!
//! Errors are damage. Warnings are leftovers that harm nothing (an interrupted
//! backup's packs, a stale lock) and `prune` / `unlock` clear them.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use super::format::{hex, short_key};
use super::index::{read_index_file, Index};
use super::manifest::{self, Snapshot};
use super::pack::{open_blob, pack_path, read_header, PackRecord};
use super::reach::add_reachable;
use super::read::stream_snapshot;
use super::{keys, lock, Repository};
use crate::error::{Error, Result};
use crate::progress::Progress;

#[derive(Clone, Copy, Debug, Default)]
pub struct CheckOptions {
    pub read_data: bool,
    pub lock_wait: Duration,
}

/// What `check` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckReport {
    /// Damage: something a snapshot needs is missing or wrong.
    pub errors: Vec<String>,
    /// Leftovers and stale locks: harmless, cleared by `prune` / `unlock`.
    pub warnings: Vec<String>,
    pub snapshots: usize,
    pub packs: usize,
    pub blobs: usize,
    /// Bytes read and verified with `read_data`.
    pub bytes_verified: u64,
}

impl CheckReport {
    pub fn healthy(&self) -> bool {
        self.errors.is_empty()
    }
}

/// All pack files present, by id, with their sizes.
pub(crate) fn packs_on_disk(repo: &Repository) -> Result<HashMap<[u8; 32], u64>> {
    let mut packs = HashMap::new();
    for prefix in 0..=255u8 {
        let dir = format!("data/{prefix:02x}");
        for file in repo.backend().list(&dir)? {
            match super::format::parse_id(&file.name, "pack") {
                Ok(id) => {
                    packs.insert(id, file.size);
                }
                Err(_) => tracing::warn!("ignoring unexpected file {dir}/{}", file.name),
            }
        }
    }
    Ok(packs)
}

pub fn check(repo: &Repository, options: CheckOptions, progress: &dyn Progress) -> Result<CheckReport> {
    let _lock = lock::acquire_for_reading(repo, "check", options.lock_wait)?;
    let mut report = CheckReport::default();
    let backend = repo.backend();
    progress.phase("checking structure", None);

    for file in backend.list("keys")? {
        if let Err(e) = keys::load_slot(backend, &file.name) {
            report.errors.push(format!("key slot keys/{}: {e}", file.name));
        }
    }
    for (name, info) in lock::list_locks(backend)? {
        match info {
            Ok(l) if l.is_stale(Utc::now()) => report.warnings.push(format!(
                "stale lock locks/{name}: {}; remove it with `lifeboat unlock`",
                l.describe()
            )),
            Ok(_) => {}
            Err(e) => report
                .warnings
                .push(format!("unreadable lock locks/{name}: {e}; remove it with `lifeboat unlock`")),
        }
    }
    for temp in backend.list_temporary()? {
        report.warnings.push(format!(
            "leftover temporary file {temp} (an interrupted write); `lifeboat prune` removes it"
        ));
    }

    let mut files = Vec::new();
    for file in backend.list("index")? {
        match read_index_file(repo, &file.name) {
            Ok(packs) => files.push((file.name, packs)),
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    let index = Index::from_files(&files);
    let indexed: HashMap<[u8; 32], &PackRecord> = files.iter().flat_map(|(_, packs)| packs.iter().map(|p| (p.id, p))).collect();
    let on_disk = packs_on_disk(repo)?;
    for (id, record) in &indexed {
        match on_disk.get(id) {
            None => report
                .errors
                .push(format!("pack {} is missing (the index names it)", pack_path(id))),
            Some(size) if *size != record.size => report.errors.push(format!(
                "pack {} has {size} bytes, the index says {} (truncated or overwritten)",
                pack_path(id),
                record.size
            )),
            Some(_) => {}
        }
    }
    for id in on_disk.keys().filter(|id| !indexed.contains_key(*id)) {
        report.warnings.push(format!(
            "pack {} is in no index (left by an interrupted backup); `lifeboat prune` removes it",
            pack_path(id)
        ));
    }
    report.packs = on_disk.len();
    report.blobs = index.blob_count();

    let mut snapshots = Vec::new();
    let mut reachable = HashSet::new();
    for id in manifest::list_ids(repo)? {
        let snapshot = match manifest::load(repo, &id) {
            Ok(s) => s,
            Err(e) => {
                report.errors.push(e.to_string());
                continue;
            }
        };
        let mut needed = HashSet::new();
        match add_reachable(repo, &index, &snapshot, &mut needed) {
            Ok(()) => {
                let missing = needed.iter().filter(|k| !index.contains_key(**k)).count();
                if missing > 0 {
                    report
                        .errors
                        .push(format!("snapshot {}: {missing} of its blobs are in no index", &id[..8]));
                }
            }
            Err(e) => report.errors.push(format!("snapshot {}: {e}", &id[..8])),
        }
        reachable.extend(needed);
        snapshots.push(snapshot);
    }
    report.snapshots = snapshots.len();
    check_pointers(repo, &snapshots, &mut report)?;

    if options.read_data {
        let verified = verify_data(repo, &index, &snapshots, &indexed, &on_disk, &mut report, progress)?;
        report.bytes_verified = verified;
    }
    Ok(report)
}

fn check_pointers(repo: &Repository, snapshots: &[Snapshot], report: &mut CheckReport) -> Result<()> {
    let names = manifest::latest_names(repo)?;
    for name in &names {
        match manifest::read_latest(repo, name) {
            Ok(Some(pointer)) => match snapshots.iter().find(|s| s.id == pointer.snapshot) {
                Some(s) if s.manifest.tag == *name => {}
                Some(_) => report
                    .errors
                    .push(format!("latest pointer of `{name}` points at a snapshot of another name")),
                None => report.errors.push(format!(
                    "latest pointer of `{name}` points at snapshot {} which is missing or unreadable",
                    &pointer.snapshot[..8]
                )),
            },
            Ok(None) => {}
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    let mut tags: Vec<&str> = snapshots.iter().map(|s| s.manifest.tag.as_str()).collect();
    tags.sort_unstable();
    tags.dedup();
    for tag in tags.into_iter().filter(|t| !names.iter().any(|n| n == t)) {
        report.warnings.push(format!("`{tag}` has snapshots but no latest pointer"));
    }
    Ok(())
}

fn verify_data(
    repo: &Repository,
    index: &Index,
    snapshots: &[Snapshot],
    indexed: &HashMap<[u8; 32], &PackRecord>,
    on_disk: &HashMap<[u8; 32], u64>,
    report: &mut CheckReport,
    progress: &dyn Progress,
) -> Result<u64> {
    let mut verified = HashSet::new();
    let mut bytes = 0u64;
    for snapshot in snapshots {
        match stream_snapshot(repo, index, snapshot, &mut std::io::sink(), progress, Some(&mut verified)) {
            Ok(()) => bytes += snapshot.manifest.size,
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) => report.errors.push(format!("snapshot {}: {e}", &snapshot.id[..8])),
        }
    }
    let total: u64 = indexed.values().filter(|p| on_disk.contains_key(&p.id)).map(|p| p.size).sum();
    progress.phase("checking packs", Some(total));
    for record in indexed.values().filter(|p| on_disk.contains_key(&p.id)) {
        if progress.cancelled() {
            return Err(Error::Cancelled);
        }
        let path = pack_path(&record.id);
        let data = match repo.backend().read(&path) {
            Ok(d) => d,
            Err(e) => {
                report.errors.push(e.to_string());
                continue;
            }
        };
        progress.advance(record.size);
        bytes += data.len() as u64;
        if blake3::hash(&data).as_bytes() != &record.hash {
            report.errors.push(format!(
                "pack {path}: its content changed since it was written (bit rot or tampering)"
            ));
        }
        match read_header(repo.keys(), &record.id, &data, &format!("pack {path}")) {
            Ok(header) if header == record.blobs => {}
            Ok(_) => report.errors.push(format!("pack {path}: its header disagrees with the index")),
            Err(e) => report.errors.push(e.to_string()),
        }
        let cipher = repo.keys().pack_cipher(&record.id);
        for blob in record.blobs.iter().filter(|b| !verified.contains(&short_key(&b.id))) {
            let range = blob.offset as usize..(blob.offset as usize).saturating_add(blob.length as usize);
            let what = || format!("blob {} in pack {path}", &hex(&blob.id)[..16]);
            let result = data
                .get(range)
                .ok_or_else(|| Error::corrupt(what(), "it lies past the end of the pack"))
                .and_then(|sealed| open_blob(repo.keys(), &cipher, &blob.id, blob.raw_length, sealed, &what));
            if let Err(e) = result {
                report.errors.push(e.to_string());
            }
        }
    }
    Ok(bytes)
}
