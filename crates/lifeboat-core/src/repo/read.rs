//! Reading a snapshot back: the `cat` pipeline.
//!
//! The main thread walks the snapshot's list blobs and groups consecutive
//! blobs of one pack into reads of up to [`MAX_READ`] bytes; one worker per
//! core reads, authenticates, decompresses and id-checks each blob; the main
//! thread writes results in order and hashes the stream. No byte is written
//! that did not authenticate; the size and SHA-256 are compared with the
//! manifest at the end, and a mismatch is an error.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aes_gcm::Aes256Gcm;
use crossbeam_channel::unbounded;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::format::{hex, parse_id, short_key};
use super::index::{BlobLocation, Index};
use super::manifest::Snapshot;
use super::pack::{apply_delta, open_blob, pack_path, Opened};
use super::sketch;
use super::{lock, Repository};
use crate::error::{Error, Result};
use crate::paths::write_whole_file;
use crate::progress::Progress;

/// Largest single read from a pack.
const MAX_READ: u32 = 512 * 1024;
/// Most bytes one read job holds decoded, its stream and its deltas' bases:
/// deltas are tiny on the storage, so a read of `MAX_READ` bytes of them
/// could rebuild hundreds of MiB.
const MAX_JOB_HOLDS: u64 = 4 << 20;
/// Delta bases this far apart in a pack are fetched in one read: skipping a
/// few small blobs costs less than another request to a remote storage.
const BASE_READ_GAP: u32 = 64 * 1024;
/// Reads in flight; bounds memory to a few MiB whatever the stream size.
const WINDOW: usize = 8;

#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    pub lock_wait: Duration,
}

/// What `cat` produced.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CatReport {
    pub snapshot_id: String,
    pub size: u64,
    pub sha256: String,
    pub seconds: f64,
}

/// Writes a snapshot's stream to `out`, verifying every blob and the whole.
pub fn cat(
    repo: &Repository,
    snapshot: &Snapshot,
    out: &mut dyn Write,
    progress: &dyn Progress,
    options: ReadOptions,
) -> Result<CatReport> {
    let _lock = lock::acquire_for_reading(repo, "read", options.lock_wait)?;
    let index = Index::load(repo)?;
    let started = Instant::now();
    stream_snapshot(repo, &index, snapshot, out, progress, None)?;
    out.flush().map_err(Error::Output)?;
    Ok(CatReport {
        snapshot_id: snapshot.id.clone(),
        size: snapshot.manifest.size,
        sha256: snapshot.manifest.sha256.clone(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Writes a snapshot's stream to the file `path` (for a database backup,
/// an archive `pg_restore` reads). The file appears only once every byte
/// verified and reached the disk (see [`write_whole_file`]); an existing
/// file is replaced only with `overwrite`.
pub fn export(
    repo: &Repository,
    snapshot: &Snapshot,
    path: &std::path::Path,
    overwrite: bool,
    progress: &dyn Progress,
    options: ReadOptions,
) -> Result<CatReport> {
    write_whole_file(path, overwrite, |out| cat(repo, snapshot, out, progress, options))
}

/// Reads one blob, authenticated and id-checked.
pub(crate) fn read_blob(repo: &Repository, index: &Index, id: &[u8; 32]) -> Result<Vec<u8>> {
    let location = index.lookup(id).ok_or_else(|| not_indexed(id))?;
    let (sealed, pack) = read_sealed(repo, index, location)?;
    let cipher = repo.keys().pack_cipher(&pack);
    decode_blob(repo, index, &cipher, id, location.raw_length, &sealed, &|| blob_what(id, &pack))
}

/// Reads one blob that must be stored whole: a delta's base (deltas are
/// never bases, so a chain cannot make a read recurse). Every stored copy
/// is tried: a writer running beside the one that chose this base may have
/// stored the same chunk again as a delta.
pub(crate) fn read_base(repo: &Repository, index: &Index, id: &[u8; 32]) -> Result<Vec<u8>> {
    let mut failure = not_indexed(id);
    for location in index.locations(id) {
        let opened = read_sealed(repo, index, location).and_then(|(sealed, pack)| {
            let what = || format!("delta base {}", blob_what(id, &pack));
            match open_blob(
                repo.keys(),
                &repo.keys().pack_cipher(&pack),
                id,
                location.raw_length,
                &sealed,
                &what,
            )? {
                Opened::Whole(data) => Ok(data),
                Opened::Delta { .. } => Err(Error::corrupt(what(), "it is itself a delta")),
            }
        });
        match opened {
            Ok(data) => return Ok(data),
            Err(e) => failure = e,
        }
    }
    Err(failure)
}

fn not_indexed(id: &[u8; 32]) -> Error {
    Error::corrupt(format!("blob {}", hex(id)), "it is not in any index (its pack was lost)")
}

fn read_sealed(repo: &Repository, index: &Index, location: BlobLocation) -> Result<(Vec<u8>, [u8; 32])> {
    let pack = index.packs()[location.pack as usize].id;
    let sealed = repo
        .backend()
        .read_at(&pack_path(&pack), location.offset.into(), location.length as usize)?;
    Ok((sealed, pack))
}

/// Opens one sealed blob, rebuilding a delta from its base (read from the
/// repository and checked like any blob). The base a delta names must be
/// one the index records for it, the base `prune` keeps alive.
pub(crate) fn decode_blob(
    repo: &Repository,
    index: &Index,
    cipher: &Aes256Gcm,
    id: &[u8; 32],
    raw_length: u32,
    sealed: &[u8],
    what: &dyn Fn() -> String,
) -> Result<Vec<u8>> {
    match open_blob(repo.keys(), cipher, id, raw_length, sealed, what)? {
        Opened::Whole(data) => Ok(data),
        Opened::Delta { base, payload } => rebuild(repo, index, &Bases::new(), id, raw_length, &base, &payload, what),
    }
}

/// Delta bases read ahead, by id.
pub(crate) type Bases = HashMap<[u8; 32], Vec<u8>>;

/// Rebuilds the delta blob `id` from `payload` and its base (from `bases`
/// when read ahead, else read now, trying every copy).
#[allow(clippy::too_many_arguments)]
fn rebuild(
    repo: &Repository,
    index: &Index,
    bases: &Bases,
    id: &[u8; 32],
    raw_length: u32,
    base: &[u8; 32],
    payload: &[u8],
    what: &dyn Fn() -> String,
) -> Result<Vec<u8>> {
    if !index.bases_of(short_key(id)).any(|recorded| recorded == *base) {
        return Err(Error::corrupt(what(), "it is a delta of a base the index does not record for it"));
    }
    apply_delta(repo.keys(), id, raw_length, &base_bytes(repo, index, bases, base)?, payload, what)
}

/// A delta base's bytes: read ahead in `bases`, else read now, trying
/// every copy.
pub(crate) fn base_bytes<'a>(repo: &Repository, index: &Index, bases: &'a Bases, base: &[u8; 32]) -> Result<Cow<'a, [u8]>> {
    match bases.get(base) {
        Some(data) => Ok(Cow::Borrowed(data)),
        None => read_base(repo, index, base).map(Cow::Owned),
    }
}

/// Reads the whole blobs `ids` name (delta bases) in as few reads as their
/// places allow: by pack and offset, neighbours up to [`BASE_READ_GAP`]
/// apart in one read of at most [`MAX_READ`] bytes. On a remote storage
/// every read is a request, and a day of changes makes thousands of deltas.
/// A base that cannot be had this way is left out: [`read_base`] then tries
/// each of its copies and names what is wrong.
pub(crate) fn read_bases(repo: &Repository, index: &Index, ids: impl Iterator<Item = [u8; 32]>) -> Bases {
    let mut wanted: Vec<([u8; 32], BlobLocation)> = ids.filter_map(|id| Some((id, index.lookup(&id)?))).collect();
    wanted.sort_unstable_by_key(|(id, location)| (location.pack, location.offset, *id));
    wanted.dedup_by_key(|(id, _)| *id);
    let mut bases = Bases::with_capacity(wanted.len());
    let mut rest = wanted.as_slice();
    while let Some((first, _)) = rest.split_first() {
        let (pack, start) = (first.1.pack, first.1.offset);
        let mut end = start.saturating_add(first.1.length);
        let run = 1 + rest[1..]
            .iter()
            .take_while(|(_, next)| {
                let fits = next.pack == pack
                    && next.offset >= end
                    && next.offset - end <= BASE_READ_GAP
                    && next.offset.saturating_add(next.length) - start <= MAX_READ;
                if fits {
                    end = next.offset.saturating_add(next.length);
                }
                fits
            })
            .count();
        let (together, later) = rest.split_at(run);
        rest = later;
        let pack_id = index.packs()[pack as usize].id;
        let Ok(bytes) = repo.backend().read_at(&pack_path(&pack_id), start.into(), (end - start) as usize) else {
            continue;
        };
        let cipher = repo.keys().pack_cipher(&pack_id);
        for (id, location) in together {
            let at = (location.offset - start) as usize;
            let sealed = &bytes[at..at + location.length as usize];
            if let Ok(Opened::Whole(data)) = open_blob(repo.keys(), &cipher, id, location.raw_length, sealed, &|| String::new()) {
                bases.insert(*id, data);
            }
        }
    }
    bases
}

/// Reads one list blob of a snapshot: its id and the chunk ids it holds
/// (concatenated, 32 bytes each).
pub(crate) fn read_chunk_list(repo: &Repository, index: &Index, list_hex: &str, what: &str) -> Result<([u8; 32], Vec<u8>)> {
    read_list(repo, index, list_hex, what, 32, "a chunk list has a partial id")
}

/// A snapshot's sketch list blob (its id, and the sketches).
pub(crate) fn read_sketch_list(repo: &Repository, index: &Index, list_hex: &str, what: &str) -> Result<([u8; 32], Vec<u8>)> {
    read_list(
        repo,
        index,
        list_hex,
        what,
        sketch::SKETCH_BYTES,
        "a sketch list has a partial sketch",
    )
}

fn read_list(
    repo: &Repository,
    index: &Index,
    list_hex: &str,
    what: &str,
    entry_bytes: usize,
    partial: &str,
) -> Result<([u8; 32], Vec<u8>)> {
    let list_id = parse_id(list_hex, what)?;
    let entries = read_blob(repo, index, &list_id)?;
    if !entries.len().is_multiple_of(entry_bytes) {
        return Err(Error::corrupt(what, partial));
    }
    Ok((list_id, entries))
}

fn blob_what(id: &[u8; 32], pack: &[u8; 32]) -> String {
    format!("blob {} in pack {}", &hex(id)[..16], pack_path(pack))
}

/// One read: consecutive blobs of one pack.
struct ReadJob {
    pack: u32,
    start: u32,
    end: u32,
    /// Bytes the job holds decoded: its stream and its deltas' bases.
    holds: u64,
    blobs: Vec<([u8; 32], BlobLocation)>,
}

/// Turns a snapshot's list blobs into read jobs, in stream order.
struct Planner<'a> {
    repo: &'a Repository,
    index: &'a Index,
    lists: std::slice::Iter<'a, String>,
    current: Vec<u8>,
    position: usize,
    what: String,
}

impl Planner<'_> {
    fn next_id(&mut self) -> Result<Option<[u8; 32]>> {
        while self.position >= self.current.len() {
            let Some(list) = self.lists.next() else { return Ok(None) };
            self.current = read_chunk_list(self.repo, self.index, list, &self.what)?.1;
            self.position = 0;
        }
        let id: [u8; 32] = self.current[self.position..self.position + 32].try_into().expect("32 bytes");
        Ok(Some(id))
    }

    fn next_job(&mut self) -> Result<Option<ReadJob>> {
        let mut job: Option<ReadJob> = None;
        while let Some(id) = self.next_id()? {
            let location = self.index.lookup(&id).ok_or_else(|| {
                Error::corrupt(
                    &self.what,
                    format!("its blob {} is not in any index (its pack was lost)", &hex(&id)[..16]),
                )
            })?;
            let base_length = self
                .index
                .bases_of(short_key(&id))
                .find_map(|base| self.index.lookup(&base))
                .map_or(0, |base| u64::from(base.raw_length));
            let holds = u64::from(location.raw_length) + base_length;
            match &mut job {
                None => {
                    job = Some(ReadJob {
                        pack: location.pack,
                        start: location.offset,
                        end: location.offset + location.length,
                        holds,
                        blobs: vec![(id, location)],
                    })
                }
                Some(j)
                    if j.pack == location.pack
                        && j.end == location.offset
                        && j.end - j.start + location.length <= MAX_READ
                        && j.holds + holds <= MAX_JOB_HOLDS =>
                {
                    j.end += location.length;
                    j.holds += holds;
                    j.blobs.push((id, location));
                }
                Some(_) => return Ok(job),
            }
            self.position += 32;
        }
        Ok(job)
    }
}

fn run_job(repo: &Repository, index: &Index, job: &ReadJob, cipher_cache: &mut Option<([u8; 32], Aes256Gcm)>) -> Result<Vec<u8>> {
    let pack = &index.packs()[job.pack as usize];
    if cipher_cache.as_ref().is_none_or(|(id, _)| *id != pack.id) {
        *cipher_cache = Some((pack.id, repo.keys().pack_cipher(&pack.id)));
    }
    let cipher = &cipher_cache.as_ref().expect("set above").1;
    let bytes = repo
        .backend()
        .read_at(&pack_path(&pack.id), job.start.into(), (job.end - job.start) as usize)?;
    let mut opened = Vec::with_capacity(job.blobs.len());
    for (id, location) in &job.blobs {
        let at = (location.offset - job.start) as usize;
        let sealed = &bytes[at..at + location.length as usize];
        opened.push(open_blob(repo.keys(), cipher, id, location.raw_length, sealed, &|| {
            blob_what(id, &pack.id)
        })?);
    }
    let bases = read_bases(
        repo,
        index,
        opened.iter().filter_map(|blob| match blob {
            Opened::Delta { base, .. } => Some(*base),
            Opened::Whole(_) => None,
        }),
    );
    let mut out = Vec::with_capacity(job.blobs.iter().map(|(_, l)| l.raw_length as usize).sum());
    for ((id, location), blob) in job.blobs.iter().zip(opened) {
        match blob {
            Opened::Whole(data) => out.extend_from_slice(&data),
            Opened::Delta { base, payload } => {
                out.extend_from_slice(&rebuild(repo, index, &bases, id, location.raw_length, &base, &payload, &|| {
                    blob_what(id, &pack.id)
                })?)
            }
        }
    }
    Ok(out)
}

/// A stored stream as whatever names it records it: a snapshot's
/// manifest, a WAL record.
pub(crate) struct StoredBlobs<'a> {
    /// The snapshot id, or the WAL file's path, for errors.
    pub id: String,
    /// What it is, for messages: "snapshot 1a2b3c4d".
    pub what: String,
    pub blob_lists: &'a [String],
    pub size: u64,
    pub chunks: u64,
    pub sha256: &'a str,
}

impl<'a> StoredBlobs<'a> {
    pub(crate) fn of(snapshot: &'a Snapshot) -> StoredBlobs<'a> {
        let manifest = &snapshot.manifest;
        StoredBlobs {
            id: snapshot.id.clone(),
            what: format!("snapshot {}", &snapshot.id[..8]),
            blob_lists: &manifest.blob_lists,
            size: manifest.size,
            chunks: manifest.chunks,
            sha256: &manifest.sha256,
        }
    }
}

/// Streams a snapshot into `out`, checking size and SHA-256 against its
/// manifest. `verified` collects the keys of blobs that authenticated.
pub(crate) fn stream_snapshot(
    repo: &Repository,
    index: &Index,
    snapshot: &Snapshot,
    out: &mut dyn Write,
    progress: &dyn Progress,
    verified: Option<&mut HashSet<u128>>,
) -> Result<()> {
    stream_blobs(repo, index, &StoredBlobs::of(snapshot), out, progress, verified)
}

/// Streams stored blobs into `out`, checking their count, size and
/// SHA-256 against what their record says.
pub(crate) fn stream_blobs(
    repo: &Repository,
    index: &Index,
    stored: &StoredBlobs<'_>,
    out: &mut dyn Write,
    progress: &dyn Progress,
    mut verified: Option<&mut HashSet<u128>>,
) -> Result<()> {
    progress.phase("reading snapshot", Some(stored.size));
    let what = stored.what.clone();
    let mut planner = Planner {
        repo,
        index,
        lists: stored.blob_lists.iter(),
        current: Vec::new(),
        position: 0,
        what: what.clone(),
    };
    // As for `put`: more workers than cores where each read waits on the network.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) + repo.backend().parallel_transfers() - 1;
    let abort = AtomicBool::new(false);
    let mut sha = Sha256::new();
    let mut size = 0u64;
    let mut chunks = 0u64;

    std::thread::scope(|scope| -> Result<()> {
        let (job_tx, job_rx) = unbounded::<(u64, ReadJob)>();
        let (result_tx, result_rx) = unbounded::<(u64, Result<Vec<u8>>, Vec<[u8; 32]>)>();
        for _ in 0..workers {
            let (job_rx, result_tx, abort) = (job_rx.clone(), result_tx.clone(), &abort);
            scope.spawn(move || {
                let mut cipher_cache = None;
                for (seq, job) in job_rx.iter() {
                    if abort.load(Ordering::Relaxed) {
                        return;
                    }
                    let data = run_job(repo, index, &job, &mut cipher_cache);
                    let ids = job.blobs.iter().map(|(id, _)| *id).collect();
                    if result_tx.send((seq, data, ids)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(result_tx);
        let result = (|| {
            let (mut sent, mut written) = (0u64, 0u64);
            let mut ready = BTreeMap::new();
            let mut exhausted = false;
            loop {
                while !exhausted && sent - written < WINDOW as u64 {
                    match planner.next_job()? {
                        Some(job) => {
                            job_tx.send((sent, job)).expect("workers run until the job channel closes");
                            sent += 1;
                        }
                        None => exhausted = true,
                    }
                }
                if sent == written {
                    return Ok(());
                }
                let (seq, data, ids) = result_rx.recv().expect("a worker answers every job");
                ready.insert(seq, (data, ids));
                while let Some((data, ids)) = ready.remove(&written) {
                    let data = data?;
                    if progress.cancelled() {
                        return Err(Error::Cancelled);
                    }
                    sha.update(&data);
                    size += data.len() as u64;
                    chunks += ids.len() as u64;
                    if let Some(set) = verified.as_deref_mut() {
                        set.extend(ids.iter().map(short_key));
                    }
                    out.write_all(&data).map_err(Error::Output)?;
                    progress.advance(data.len() as u64);
                    written += 1;
                }
            }
        })();
        abort.store(true, Ordering::Relaxed);
        drop(job_tx);
        result
    })?;

    let sha256 = hex(&sha.finalize());
    if size != stored.size || chunks != stored.chunks {
        return Err(Error::IntegrityMismatch {
            snapshot: stored.id.clone(),
            detail: format!(
                "rebuilt {size} bytes in {chunks} chunks, the manifest says {} bytes in {}",
                stored.size, stored.chunks
            ),
        });
    }
    if sha256 != stored.sha256 {
        return Err(Error::IntegrityMismatch {
            snapshot: stored.id.clone(),
            detail: format!("SHA-256 of the rebuilt stream is {sha256}, the manifest says {}", stored.sha256),
        });
    }
    Ok(())
}
