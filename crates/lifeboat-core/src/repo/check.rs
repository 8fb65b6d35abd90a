//! `check`: is the repository whole?
//!
//! Structure (always): key slots, index files, every indexed pack present with
//! its recorded size, every snapshot and archived WAL file readable with
//! every blob it needs indexed, latest pointers pointing at snapshots of
//! their name. With `read_data`: every snapshot and WAL file streamed and
//! its size and SHA-256 compared with its manifest or record, then every pack read whole, its BLAKE3 compared with the
//! index, its header authenticated, and every blob not yet verified through a
//! snapshot authenticated too.
//!
//! Errors are damage. Warnings are leftovers that harm nothing (an interrupted
//! backup's packs, a stale lock) and `prune` / `unlock` clear them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use serde::Serialize;

use super::format::{hex, short_key, BlobRecord};
use super::index::{read_index_file, Index};
use super::manifest::{self, Snapshot};
use super::pack::{pack_path, read_header, PackRecord};
use super::reach::{add_reachable, add_reachable_wal};
use super::read::decode_blob;
use super::read::stream_snapshot;
use super::wal::{self, WalRecord};
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
    /// Archived WAL files (every archive's).
    pub wal_files: usize,
    /// Snapshots that cannot be restored whole, by id.
    pub affected_snapshots: Vec<String>,
    /// Archived WAL files that cannot be read back whole, as `NAME=FILE`:
    /// recovery stops before the first of them.
    pub affected_wal: Vec<String>,
    /// What to do about the errors, in order.
    pub next_steps: Vec<String>,
}

impl CheckReport {
    pub fn healthy(&self) -> bool {
        self.errors.is_empty()
    }
}

/// What check learns on the way that decides the next steps.
#[derive(Default)]
struct Damage {
    /// Packs missing or truncated: everything in them is gone.
    packs: HashSet<[u8; 32]>,
    /// Some pack's bytes did not verify.
    pack_content: bool,
    snapshots: BTreeSet<String>,
    /// WAL records (their paths) that cannot be read back whole.
    wal: BTreeSet<String>,
    index_files: bool,
    key_slots: bool,
    /// Names whose latest pointer names a snapshot that is gone.
    dangling_pointers: BTreeSet<String>,
}

/// All pack files present, by id, with their sizes.
pub(crate) fn packs_on_disk(repo: &Repository) -> Result<HashMap<[u8; 32], u64>> {
    Ok(pack_files(repo)?.into_iter().map(|(id, file)| (id, file.size)).collect())
}

/// Every pack file, as the storage lists it (size, modification time).
pub(crate) fn pack_files(repo: &Repository) -> Result<HashMap<[u8; 32], crate::backend::FileInfo>> {
    let mut packs = HashMap::new();
    for prefix in 0..=255u8 {
        let dir = format!("data/{prefix:02x}");
        for file in repo.backend().list(&dir)? {
            match super::format::parse_id(&file.name, "pack") {
                Ok(id) => {
                    packs.insert(id, file);
                }
                Err(_) => tracing::warn!("ignoring unexpected file {dir}/{}", file.name),
            }
        }
    }
    Ok(packs)
}

pub fn check(repo: &Repository, options: CheckOptions, progress: &dyn Progress) -> Result<CheckReport> {
    // What is on the storage, not this workstation's copies of it.
    let uncached = repo.uncached();
    let repo = uncached.as_ref().unwrap_or(repo);
    let _lock = lock::acquire_for_reading(repo, "check", options.lock_wait)?;
    let mut report = CheckReport::default();
    let mut damage = Damage::default();
    let backend = repo.backend();
    progress.phase("checking structure", None);

    for file in backend.list("keys")? {
        match keys::load_slot(backend, &file.name) {
            Ok(slot) if !keys::slot_is_canonical(backend, &slot)? => report.warnings.push(format!(
                "key slot keys/{}: its bytes changed on the storage although every field still holds its value (bit \
                 rot, or an edit); it still opens, but to be safe add a new passphrase (`lifeboat key add`) and remove \
                 this slot (`lifeboat key remove {}`)",
                file.name, file.name
            )),
            Ok(_) => {}
            Err(e) => {
                report.errors.push(match e {
                    // Already names the slot.
                    Error::Corrupt { .. } => e.to_string(),
                    _ => format!("key slot keys/{}: {e}", file.name),
                });
                damage.key_slots = true;
            }
        }
    }
    if !super::config_is_canonical(backend, repo.config())? {
        report.warnings.push(
            "the config file's bytes changed on the storage although it still means what its authenticated copy in \
             the key slots says (bit rot, or an edit): `lifeboat repair config` rewrites it"
                .into(),
        );
    }
    let now = Some(lock::storage_now(backend));
    for lock in lock::list_locks(backend)? {
        let name = &lock.name;
        match &lock.info {
            Ok(l) if lock.is_stale(now) => report.warnings.push(format!(
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
        let remover = if temp.starts_with("locks/") {
            "`lifeboat unlock` or `lifeboat prune`"
        } else {
            "`lifeboat prune`"
        };
        report.warnings.push(format!(
            "leftover temporary file {temp} (an interrupted write); {remover} removes it"
        ));
    }

    let mut files = Vec::new();
    for file in backend.list("index")? {
        match read_index_file(repo, &file.name) {
            Ok(packs) => files.push((file.name, packs)),
            Err(e) => {
                report.errors.push(e.to_string());
                damage.index_files = true;
            }
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
            Some(_) => continue,
        }
        damage.packs.insert(*id);
    }
    for id in on_disk.keys().filter(|id| !indexed.contains_key(*id)) {
        report.warnings.push(format!(
            "pack {} is in no index (left by an interrupted backup, or written by one still running); \
             `lifeboat prune` removes it once it is {} hours old",
            pack_path(id),
            super::prune::UNINDEXED_GRACE.as_secs() / 3600
        ));
    }
    report.packs = on_disk.len();
    report.blobs = index.blob_count();

    let mut snapshots = Vec::new();
    let mut needed_by = Vec::new();
    for id in manifest::list_ids(repo)? {
        let snapshot = match manifest::load(repo, &id) {
            Ok(s) => s,
            Err(e) => {
                report.errors.push(e.to_string());
                damage.snapshots.insert(id);
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
                    damage.snapshots.insert(id.clone());
                }
            }
            Err(e) => {
                report.errors.push(format!("snapshot {}: {e}", &id[..8]));
                damage.snapshots.insert(id.clone());
            }
        }
        needed_by.push((id, needed));
        snapshots.push(snapshot);
    }
    report.snapshots = snapshots.len();
    check_pointers(repo, &snapshots, &mut report, &mut damage)?;

    let archived = wal::list(repo)?;
    for (path, e) in archived.damaged {
        report.errors.push(e.to_string());
        damage.wal.insert(path);
    }
    for stranger in wal::list_files(repo, None)?.strangers {
        report.warnings.push(format!(
            "{stranger} is not a WAL record's name (planted, or from a newer Lifeboat): it is ignored"
        ));
    }
    for record in &archived.records {
        let mut needed = HashSet::new();
        let missing =
            add_reachable_wal(repo, &index, record, &mut needed).map(|()| needed.iter().filter(|k| !index.contains_key(**k)).count());
        let problem = match missing {
            Ok(0) => None,
            Ok(missing) => Some(format!("{missing} of its blobs are in no index")),
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = problem {
            report.errors.push(format!("{}: {problem}", record.what()));
            damage.wal.insert(record.path());
        }
        needed_by.push((record.path(), needed));
    }
    report.wal_files = archived.records.len() + damage.wal.len();

    if options.read_data {
        let present: Vec<&PackRecord> = indexed.values().filter(|p| on_disk.contains_key(&p.id)).copied().collect();
        let verified = verify_data(
            repo,
            &index,
            &snapshots,
            &archived.records,
            &present,
            &mut report,
            &mut damage,
            progress,
        )?;
        report.bytes_verified = verified;
    }
    for (pack, record) in &indexed {
        if damage.packs.contains(pack) {
            let keys: HashSet<u128> = record.blobs.iter().map(|b| short_key(&b.id)).collect();
            for (id, needed) in &needed_by {
                if !needed.is_disjoint(&keys) {
                    if id.starts_with("wal/") {
                        damage.wal.insert(id.clone());
                    } else {
                        damage.snapshots.insert(id.clone());
                    }
                }
            }
        }
    }
    report.affected_snapshots = damage.snapshots.iter().cloned().collect();
    report.affected_wal = damage.wal.iter().map(|path| path.trim_start_matches("wal/").to_string()).collect();
    report.next_steps = next_steps(&damage, report.errors.is_empty());
    Ok(report)
}

fn next_steps(damage: &Damage, healthy: bool) -> Vec<String> {
    if healthy {
        return Vec::new();
    }
    let mut steps = Vec::new();
    if damage.key_slots {
        steps.push(
            "a damaged key slot: open the repository with another passphrase or the recovery kit, add a new passphrase \
             (`lifeboat key add`) and remove the damaged slot (`lifeboat key remove ID`)"
                .to_string(),
        );
    }
    if damage.index_files || damage.pack_content || !damage.packs.is_empty() {
        steps.push(
            "if a missing pack can be brought back (a NAS glitch, an unfinished copy), put it back first; then \
             `lifeboat repair index` rebuilds the index from the packs that exist"
                .to_string(),
        );
    }
    if !damage.snapshots.is_empty() {
        let (count, them) = match damage.snapshots.len() {
            1 => ("1 snapshot cannot".to_string(), "it"),
            n => (format!("{n} snapshots cannot"), "them"),
        };
        steps.push(format!(
            "{count} be restored whole ({}): restore from another copy of the repository or from an unaffected \
             snapshot; once you do not need {them}, `lifeboat forget` {them} and run `lifeboat prune`",
            damage.snapshots.iter().map(|id| &id[..8]).collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(first) = damage.wal.first() {
        steps.push(format!(
            "{} archived WAL file(s) cannot be read back whole (the first: {first}): point-in-time recovery stops \
             before the first of them, so take a new base backup (`lifeboat base-backup`) to start a new unbroken \
             window; `lifeboat pitr show NAME` shows where each window ends",
            damage.wal.len()
        ));
    }
    for name in &damage.dangling_pointers {
        steps.push(format!(
            "the newest snapshot of `{name}` is gone (deleted, or not copied here): latest:{name} now means the newest \
             one left (`lifeboat snapshots` lists them), and the next backup of `{name}` moves the pointer"
        ));
    }
    steps.push("run `lifeboat check --read-data` again after any repair".to_string());
    steps
}

fn check_pointers(repo: &Repository, snapshots: &[Snapshot], report: &mut CheckReport, damage: &mut Damage) -> Result<()> {
    let names = manifest::latest_names(repo)?;
    for name in &names {
        match manifest::read_latest(repo, name) {
            Ok(Some(pointer)) => match snapshots.iter().find(|s| s.id == pointer.snapshot) {
                Some(s) if s.manifest.tag == *name => {
                    let newer = snapshots
                        .iter()
                        .filter(|n| n.manifest.tag == *name && n.manifest.size > 0 && n.manifest.recency() > s.manifest.recency())
                        .max_by_key(|n| n.manifest.recency());
                    if let Some(newer) = newer {
                        report.warnings.push(format!(
                            "latest pointer of `{name}` names snapshot {}, but {} is newer: the pointer was put back or a \
                             backup stopped before moving it; latest:{name} uses the newest, and the next backup moves the pointer",
                            &s.id[..8],
                            &newer.id[..8]
                        ));
                    }
                }
                Some(_) => report
                    .errors
                    .push(format!("latest pointer of `{name}` points at a snapshot of another name")),
                None => {
                    report.errors.push(format!(
                        "latest pointer of `{name}` points at snapshot {} which is missing or unreadable",
                        &pointer.snapshot[..8]
                    ));
                    damage.dangling_pointers.insert(name.clone());
                }
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

/// Every blob the index places in a pack is in the pack's header, at the same place.
fn index_agrees_with_header(indexed: &[BlobRecord], header: &[BlobRecord]) -> bool {
    let in_header: HashSet<&BlobRecord> = header.iter().collect();
    indexed.iter().all(|b| in_header.contains(b))
}

#[allow(clippy::too_many_arguments)] // one call site; the parts of the report it fills
fn verify_data(
    repo: &Repository,
    index: &Index,
    snapshots: &[Snapshot],
    archived: &[WalRecord],
    present: &[&PackRecord],
    report: &mut CheckReport,
    damage: &mut Damage,
    progress: &dyn Progress,
) -> Result<u64> {
    let mut verified = HashSet::new();
    let mut bytes = 0u64;
    for snapshot in snapshots {
        match stream_snapshot(repo, index, snapshot, &mut std::io::sink(), progress, Some(&mut verified)) {
            Ok(()) => bytes += snapshot.manifest.size,
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) => {
                report.errors.push(format!("snapshot {}: {e}", &snapshot.id[..8]));
                damage.snapshots.insert(snapshot.id.clone());
            }
        }
    }
    for record in archived {
        match wal::stream_record(repo, index, record, &mut std::io::sink(), progress, Some(&mut verified)) {
            Ok(()) => bytes += record.size,
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) => {
                report.errors.push(e.to_string());
                damage.wal.insert(record.path());
            }
        }
    }
    let total: u64 = present.iter().map(|p| p.size).sum();
    progress.phase("checking packs", Some(total));
    for record in present {
        if progress.cancelled() {
            return Err(Error::Cancelled);
        }
        let path = pack_path(&record.id);
        let data = match repo.backend().read(&path, super::format::pack_max(repo)) {
            Ok(d) => d,
            Err(e) => {
                report.errors.push(e.to_string());
                damage.pack_content = true;
                continue;
            }
        };
        progress.advance(record.size);
        bytes += data.len() as u64;
        let errors_before = report.errors.len();
        if blake3::hash(&data).as_bytes() != &record.hash {
            report.errors.push(format!(
                "pack {path}: its content changed since it was written (bit rot or tampering)"
            ));
        }
        match read_header(repo.keys(), &record.id, &data, &format!("pack {path}")) {
            // The index may describe fewer blobs than the pack holds (an older
            // prune dropped the unneeded ones from it), never other ones.
            Ok(header) if index_agrees_with_header(&record.blobs, &header) => {}
            Ok(_) => report.errors.push(format!(
                "pack {path}: its header disagrees with the index; `lifeboat repair index` rebuilds the index from the packs"
            )),
            Err(e) => report.errors.push(e.to_string()),
        }
        let cipher = repo.keys().pack_cipher(&record.id);
        for blob in record.blobs.iter().filter(|b| !verified.contains(&short_key(&b.id))) {
            let range = blob.offset as usize..(blob.offset as usize).saturating_add(blob.length as usize);
            let what = || format!("blob {} in pack {path}", &hex(&blob.id)[..16]);
            let result = data
                .get(range)
                .ok_or_else(|| Error::corrupt(what(), "it lies past the end of the pack"))
                .and_then(|sealed| decode_blob(repo, index, &cipher, &blob.id, blob.raw_length, sealed, &what));
            if let Err(e) = result {
                report.errors.push(e.to_string());
            }
        }
        // Which snapshots this hurts, the streams above already found.
        damage.pack_content |= report.errors.len() > errors_before;
    }
    Ok(bytes)
}
