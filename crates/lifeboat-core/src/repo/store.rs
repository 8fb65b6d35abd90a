//! Storing a stream: the `put` pipeline.
//!
//! ```text
//! input -> [this thread] SHA-256, FastCDC, keyed BLAKE3 id, dedup lookup,
//!                        resemblance sketch, delta base: the chunk of the
//!                        newest earlier snapshot of the name most like it,
//!                        else the one at the same place
//!       -> bounded channel of runs of consecutive new blobs
//!       -> [one worker per core, more on network storage]
//!          zstd (or zstd against the base, if smaller), AES-GCM, pack, write
//! ```
//! Memory is bounded by the channel, one open pack per worker and the index,
//! not by the stream. Index files are written as packs complete, so a long
//! backup that dies still leaves its finished packs reusable (and, if no
//! snapshot ever names them, removable by `prune`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::format::{hex, short_key};
use super::index::{write_index_file, Index};
use super::manifest::{self, Manifest, Snapshot, SnapshotKind, IDS_PER_LIST_BLOB, MANIFEST_VERSION};
use super::pack::{encode_delta, pack_path, PackBuilder, PackRecord};
use super::read::{base_bytes, read_bases, read_chunk_list, read_sketch_list, Bases};
use super::sketch::{self, Sketch};
use super::{lock, Repository};
use crate::error::{Error, Result};
use crate::progress::Progress;

/// New blobs go to the workers in runs of about this many bytes, so each
/// pack holds stretches of the stream in order and a restore reads them
/// with one request per stretch (what matters on an object store).
const RUN_BYTES: usize = 1 << 20;

/// A new blob, and the stored chunk it may be stored as a delta of.
struct NewBlob {
    id: [u8; 32],
    data: Vec<u8>,
    base: Option<[u8; 32]>,
}

/// A run of consecutive new blobs, for one worker.
type Run = Vec<NewBlob>;

/// The most chunks of the earlier snapshot kept as delta bases (128 GiB of
/// stream at the default chunk size, ~110 MiB of memory); past them, chunks
/// are stored whole.
const REFERENCE_CHUNKS_MAX: usize = 1 << 20;

/// A delta is taken without comparing it with whole compression once it is
/// this many times smaller than the chunk: a near copy of its base.
const CLEAR_DELTA_RATIO: usize = 8;

/// Write an index file once this many new blobs are waiting for one.
const BLOBS_PER_INDEX_FILE: usize = 50_000;

/// What to store a stream as.
#[derive(Clone, Debug, Default)]
pub struct PutOptions {
    pub tag: String,
    pub kind: SnapshotKind,
    pub label: Option<String>,
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// How long to wait for an exclusive job (prune) to finish.
    pub lock_wait: Duration,
    /// Store an empty stream instead of refusing it. An empty snapshot never
    /// becomes the latest of its name and no retention policy counts it.
    pub allow_empty: bool,
    /// For a copy of a snapshot made elsewhere: when, where and in which
    /// order the data was first backed up, kept instead of now and here.
    pub provenance: Option<Provenance>,
}

/// When, where and as which generation a snapshot was first made.
#[derive(Clone, Debug)]
pub struct Provenance {
    pub start: chrono::DateTime<Utc>,
    pub end: chrono::DateTime<Utc>,
    pub host: String,
    pub user: String,
    pub generation: u64,
}

impl Provenance {
    pub fn of(manifest: &Manifest) -> Provenance {
        Provenance {
            start: manifest.start,
            end: manifest.end,
            host: manifest.host.clone(),
            user: manifest.user.clone(),
            generation: manifest.generation,
        }
    }
}

/// What `put` did.
#[derive(Clone, Debug, Serialize)]
pub struct PutReport {
    pub snapshot_id: String,
    pub tag: String,
    pub size: u64,
    pub sha256: String,
    pub chunks: u64,
    /// Chunks not already in the repository.
    pub new_chunks: u64,
    /// New chunks stored as deltas of a chunk of the earlier snapshot.
    pub delta_chunks: u64,
    /// Bytes of pack files this snapshot added.
    pub added_bytes: u64,
    pub seconds: f64,
}

/// The stream as stored, before its snapshot exists.
#[derive(Clone, Debug)]
pub struct StoredStream {
    pub size: u64,
    pub sha256: String,
}

/// Reads `input` to its end and stores it as a new snapshot.
pub fn put(repo: &Repository, input: &mut dyn Read, options: &PutOptions, progress: &dyn Progress) -> Result<PutReport> {
    put_gated(repo, input, options, progress, &mut |_| Ok(BTreeMap::new()))
}

/// [`put`], with `gate` deciding at the end of the stream whether the
/// snapshot is made: it sees the stored stream, returns metadata to add to
/// the manifest, or an error, in which case no manifest is written and no
/// pointer moves (the stored packs are leftovers for `prune`). A producer
/// that can fail after writing its last byte (`pg_dump` exiting non-zero)
/// says so here.
pub fn put_gated(
    repo: &Repository,
    input: &mut dyn Read,
    options: &PutOptions,
    progress: &dyn Progress,
    gate: &mut dyn FnMut(&StoredStream) -> Result<BTreeMap<String, serde_json::Value>>,
) -> Result<PutReport> {
    manifest::validate_tag(&options.tag)?;
    let lock = lock::acquire(repo, false, "backup", options.lock_wait)?;
    let started = Instant::now();
    let start = Utc::now();
    let index = Index::load(repo)?;
    let reference = repo
        .config()
        .stores_deltas()
        .then(|| Reference::load(repo, &index, &options.tag))
        .flatten();
    progress.phase("storing stream", None);

    let (outcome, StoredStream { size, sha256 }) = store_blobs(repo, &index, reference.as_ref(), input, progress)?;
    let mut metadata = options.metadata.clone();
    // The gate first: a producer that knows why it failed says it better.
    metadata.extend(gate(&StoredStream {
        size,
        sha256: sha256.clone(),
    })?);
    if size == 0 && !options.allow_empty {
        // `producer | lifeboat put` without pipefail: a failed producer looks like this.
        return Err(Error::EmptyStream { tag: options.tag.clone() });
    }
    let provenance = match options.provenance.clone() {
        Some(provenance) => provenance,
        None => Provenance {
            start,
            end: Utc::now(),
            host: whoami::fallible::hostname().unwrap_or_else(|_| "unknown".into()),
            user: whoami::username(),
            generation: manifest::next_generation(repo, &options.tag)?,
        },
    };
    let manifest = Manifest {
        version: MANIFEST_VERSION,
        tag: options.tag.clone(),
        kind: options.kind,
        label: options.label.clone(),
        host: provenance.host,
        user: provenance.user,
        start: provenance.start,
        end: provenance.end,
        size,
        sha256: sha256.clone(),
        chunks: outcome.chunks,
        blob_lists: outcome.blob_lists,
        sketch_lists: outcome.sketch_lists,
        metadata,
        generation: provenance.generation,
    };
    // A prune that judged this job dead may have removed what it wrote.
    lock.verify()?;
    let id = manifest::save(repo, &manifest)?;
    let snapshot = Snapshot { id: id.clone(), manifest };
    manifest::advance_latest(repo, &snapshot)?;
    Ok(PutReport {
        snapshot_id: id,
        tag: options.tag.clone(),
        size,
        sha256,
        chunks: outcome.chunks,
        new_chunks: outcome.new_chunks,
        delta_chunks: outcome.delta_chunks,
        added_bytes: outcome.added_bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Stores `input` as blobs and list blobs that nothing names yet: the
/// caller holds a lock and records what names them (a manifest, a WAL
/// record) once this returns.
pub(crate) fn store_blobs(
    repo: &Repository,
    index: &Index,
    reference: Option<&Reference>,
    input: &mut dyn Read,
    progress: &dyn Progress,
) -> Result<(PipelineOutcome, StoredStream)> {
    let mut sha = Sha256::new();
    let mut size = 0u64;
    let outcome = {
        let hashing = HashingReader {
            inner: input,
            sha: &mut sha,
            size: &mut size,
        };
        run_pipeline(repo, index, reference, hashing, progress)?
    };
    let sha256 = hex(&sha.finalize());
    Ok((outcome, StoredStream { size, sha256 }))
}

struct HashingReader<'a> {
    inner: &'a mut dyn Read,
    sha: &'a mut Sha256,
    size: &'a mut u64,
}

impl Read for HashingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        *self.size += n as u64;
        Ok(n)
    }
}

/// The newest earlier snapshot of the same name, as the source of delta
/// bases. A new chunk's base is the earlier chunk sharing most of its
/// sketch (most of its rows), the nearest to its place among equals.
/// A chunk whose sketch finds none (no whole lines, or only new rows, or
/// an earlier snapshot without sketches) takes the earlier chunk at its
/// place: chunk boundaries are content-defined, so around a changed row the
/// chunks before and after are unchanged, and each unchanged chunk lines
/// the two streams up (by byte offset); the base is the earlier chunk under
/// the new one's middle. Offsets, not chunk counts: a change that moves one
/// boundary must not misplace every base after it.
pub(crate) struct Reference {
    chunks: Vec<[u8; 32]>,
    /// Where each chunk starts in the earlier stream, and last where it ends.
    starts: Vec<u64>,
    positions: HashMap<u128, u32>,
    /// (feature, chunk index) of every chunk's sketch, sorted.
    features: Vec<(u32, u32)>,
    /// The earlier snapshot's list blobs: bases of this one's (format 3).
    lists: Vec<[u8; 32]>,
    sketch_lists: Vec<[u8; 32]>,
}

/// Where the chunking stands against the [`Reference`].
#[derive(Default)]
struct ReferenceCursor {
    /// Offset of the next chunk in the new stream.
    offset: u64,
    /// Earlier offset minus new offset, at the last unchanged chunk.
    shift: i64,
}

impl Reference {
    /// None when there is no earlier snapshot, or it cannot be read (then
    /// every chunk is stored whole, as before deltas).
    fn load(repo: &Repository, index: &Index, tag: &str) -> Option<Reference> {
        let earlier = match manifest::newest(repo, tag) {
            Ok(earlier) => earlier?,
            Err(e) => {
                tracing::warn!("no delta bases for this backup: the snapshots cannot be listed: {e}");
                return None;
            }
        };
        let what = format!("snapshot {}", &earlier.id[..8]);
        let mut chunks = Vec::new();
        let mut lists = Vec::new();
        for list in &earlier.manifest.blob_lists {
            match read_chunk_list(repo, index, list, &what) {
                Ok((list, ids)) => {
                    lists.push(list);
                    chunks.extend(ids.chunks_exact(32).map(|id| <[u8; 32]>::try_from(id).expect("32 bytes")));
                }
                Err(e) => {
                    tracing::warn!("no delta bases for this backup: {what} cannot be read: {e}; run `lifeboat check`");
                    return None;
                }
            }
            if chunks.len() >= REFERENCE_CHUNKS_MAX {
                chunks.truncate(REFERENCE_CHUNKS_MAX);
                break;
            }
        }
        let (features, sketch_lists) = Self::load_features(repo, index, &earlier.manifest.sketch_lists, chunks.len(), &what);
        let mut positions = HashMap::with_capacity(chunks.len());
        let mut starts = Vec::with_capacity(chunks.len());
        let mut offset = 0u64;
        for (at, id) in chunks.iter().enumerate() {
            positions.entry(short_key(id)).or_insert(at as u32);
            starts.push(offset);
            // A chunk no index holds is damage `check` reports; it is no base.
            offset += index.lookup(id).map_or(0, |location| u64::from(location.raw_length));
        }
        starts.push(offset);
        Some(Reference {
            chunks,
            starts,
            positions,
            features,
            lists,
            sketch_lists,
        })
    }

    /// The sorted (feature, chunk index) pairs of the earlier snapshot's
    /// first `chunks` sketches, and its sketch list blobs. None (bases by
    /// place alone) if it has no sketches or they cannot be read.
    fn load_features(
        repo: &Repository,
        index: &Index,
        sketch_lists: &[String],
        chunks: usize,
        what: &str,
    ) -> (Vec<(u32, u32)>, Vec<[u8; 32]>) {
        let mut features = Vec::with_capacity(if sketch_lists.is_empty() { 0 } else { chunks * sketch::FEATURES });
        let mut lists = Vec::with_capacity(sketch_lists.len());
        let mut at = 0u32;
        for list in sketch_lists {
            let sketches = match read_sketch_list(repo, index, list, what) {
                Ok((list, sketches)) => {
                    lists.push(list);
                    sketches
                }
                Err(e) => {
                    tracing::warn!("delta bases by place only for this backup: {e}; run `lifeboat check`");
                    return (Vec::new(), Vec::new());
                }
            };
            for sketch in sketch::decode(&sketches).expect("checked when read") {
                if at as usize == chunks {
                    break;
                }
                features.extend(sketch.iter().filter(|&&f| f != sketch::NONE).map(|&f| (f, at)));
                at += 1;
            }
        }
        features.sort_unstable();
        (features, lists)
    }

    /// The earlier chunk sharing the most features with `sketch` (at least
    /// one), the nearest to `middle` (an offset in the earlier stream) among
    /// equals, and how many it shares. A feature many chunks have (rows
    /// repeated all over the stream) tells nothing and is skipped.
    fn resembling(&self, sketch: &Sketch, middle: i64) -> Option<(usize, usize)> {
        const SHARED_BY_AT_MOST: usize = 8;
        let mut votes: Vec<(u32, usize)> = Vec::new();
        for &feature in sketch.iter().filter(|&&f| f != sketch::NONE) {
            let from = self.features.partition_point(|&(f, _)| f < feature);
            let holders = self.features[from..].partition_point(|&(f, _)| f == feature);
            if holders > SHARED_BY_AT_MOST {
                continue;
            }
            for &(_, chunk) in &self.features[from..from + holders] {
                match votes.iter_mut().find(|(c, _)| *c == chunk) {
                    Some((_, count)) => *count += 1,
                    None => votes.push((chunk, 1)),
                }
            }
        }
        let distance = |chunk: u32| (self.middle_of(chunk as usize) - middle).unsigned_abs();
        votes
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| distance(b.0).cmp(&distance(a.0))))
            .map(|(chunk, count)| (chunk as usize, count))
    }

    fn middle_of(&self, at: usize) -> i64 {
        ((self.starts[at] + self.starts[at + 1]) / 2) as i64
    }

    /// For the next chunk of the stream (`length` bytes, `sketch`): moves
    /// `cursor` past it and returns the earlier chunk most like it, unless
    /// it is in the earlier snapshot itself.
    fn base_for(&self, key: u128, length: u64, sketch: &Sketch, cursor: &mut ReferenceCursor) -> Option<[u8; 32]> {
        let start = cursor.offset;
        cursor.offset += length;
        if let Some(&at) = self.positions.get(&key) {
            cursor.shift = self.starts[at as usize] as i64 - start as i64;
            return None;
        }
        let own_middle = (start + length / 2) as i64;
        let middle = own_middle + cursor.shift;
        if let Some((at, shared)) = self.resembling(sketch, middle) {
            // Most of its rows are there: the streams line up there too,
            // for the chunks after it that have no sketch to go by.
            if shared * 2 >= sketch::FEATURES {
                cursor.shift = self.middle_of(at) - own_middle;
            }
            return self.chunks.get(at).copied();
        }
        let at = self.starts.partition_point(|&earlier| earlier as i64 <= middle).checked_sub(1)?;
        self.chunks.get(at).copied()
    }
}

/// What storing a stream wrote.
pub(crate) struct PipelineOutcome {
    pub chunks: u64,
    pub new_chunks: u64,
    pub delta_chunks: u64,
    pub added_bytes: u64,
    pub blob_lists: Vec<String>,
    pub sketch_lists: Vec<String>,
}

/// Everything the chunking thread tracks while blobs flow to the workers.
struct Collector<'a> {
    repo: &'a Repository,
    index: &'a Index,
    /// To the workers; `None` once the stream ended, which lets them flush.
    work: Option<Sender<Run>>,
    /// New blobs not yet sent, and their bytes.
    run: Run,
    run_bytes: usize,
    done: Receiver<Result<PackRecord>>,
    /// Blobs of this run already sent to a worker.
    pending: HashSet<u128>,
    /// List blobs this run stored: deltas too, but no chunks of the stream.
    lists: HashSet<u128>,
    /// Packs written but not yet named by an index file.
    unindexed: Vec<PackRecord>,
    unindexed_blobs: usize,
    added_bytes: u64,
    new_chunks: u64,
    delta_chunks: u64,
}

impl Collector<'_> {
    /// Sends a blob to the workers unless the repository already has it;
    /// `base` is a stored chunk it may become a delta of.
    fn store(&mut self, id: [u8; 32], data: Vec<u8>, base: Option<[u8; 32]>) -> Result<bool> {
        let key = short_key(&id);
        if self.index.contains_key(key) || !self.pending.insert(key) {
            return Ok(false);
        }
        let base = base.and_then(|base| self.whole_base(base)).filter(|base| short_key(base) != key);
        self.run_bytes += data.len();
        self.run.push(NewBlob { id, data, base });
        if self.run_bytes >= RUN_BYTES {
            self.send_run()?;
        }
        Ok(true)
    }

    /// The stored whole blob to make a delta against, given the chunk at the
    /// new one's place: that chunk, or if it is itself a delta (a row that
    /// changes day after day), the whole chunk it is stored against. Only
    /// whole blobs are bases, so a read never follows a chain.
    fn whole_base(&self, place: [u8; 32]) -> Option<[u8; 32]> {
        let is_whole = |id: &[u8; 32]| self.index.contains_key(short_key(id)) && !self.index.is_delta(short_key(id));
        if is_whole(&place) {
            return Some(place);
        }
        self.index.bases_of(short_key(&place)).find(is_whole)
    }

    /// Hands the blobs gathered so far to a worker.
    fn send_run(&mut self) -> Result<()> {
        if self.run.is_empty() {
            return Ok(());
        }
        let run = std::mem::take(&mut self.run);
        self.run_bytes = 0;
        let work = self.work.as_ref().expect("blobs are only stored while the stream is read");
        if work.send(run).is_err() {
            // Every worker stopped: one of them failed; its error is in `done`.
            return Err(self.first_error().unwrap_or(Error::Cancelled));
        }
        self.collect(false)
    }

    fn first_error(&self) -> Option<Error> {
        self.done.try_iter().find_map(|r| r.err())
    }

    /// Takes finished packs; writes an index file once enough are waiting.
    fn collect(&mut self, wait_for_all: bool) -> Result<()> {
        let finished: Vec<Result<PackRecord>> = if wait_for_all {
            self.done.iter().collect()
        } else {
            self.done.try_iter().collect()
        };
        for record in finished {
            let record = record?;
            self.added_bytes += record.size;
            let chunk_deltas = (record.blobs.iter()).filter(|b| b.base.is_some() && !self.lists.contains(&short_key(&b.id)));
            self.delta_chunks += chunk_deltas.count() as u64;
            self.unindexed_blobs += record.blobs.len();
            self.unindexed.push(record);
        }
        if self.unindexed_blobs >= BLOBS_PER_INDEX_FILE || (wait_for_all && !self.unindexed.is_empty()) {
            write_index_file(self.repo, &self.unindexed)?;
            self.unindexed.clear();
            self.unindexed_blobs = 0;
        }
        Ok(())
    }
}

fn run_pipeline(
    repo: &Repository,
    index: &Index,
    reference: Option<&Reference>,
    input: HashingReader<'_>,
    progress: &dyn Progress,
) -> Result<PipelineOutcome> {
    // One pack worker per core, plus one per extra write a network storage
    // keeps in flight: a worker waiting on an upload compresses nothing.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) + repo.backend().parallel_transfers() - 1;
    let (work_tx, work_rx) = bounded::<Run>(workers);
    let (done_tx, done_rx) = unbounded();
    let abort = AtomicBool::new(false);
    let config = repo.config();

    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (work_rx, done_tx, abort) = (work_rx.clone(), done_tx.clone(), &abort);
            scope.spawn(move || pack_worker(repo, index, work_rx, done_tx, abort));
        }
        drop((work_rx, done_tx));
        let mut collector = Collector {
            repo,
            index,
            work: Some(work_tx),
            run: Vec::new(),
            run_bytes: 0,
            done: done_rx,
            pending: HashSet::new(),
            lists: HashSet::new(),
            unindexed: Vec::new(),
            unindexed_blobs: 0,
            added_bytes: 0,
            new_chunks: 0,
            delta_chunks: 0,
        };
        let result = chunk_stream(&mut collector, input, reference, progress, config);
        if result.is_err() {
            abort.store(true, Ordering::Relaxed);
        }
        let StreamLists {
            chunks,
            blob_lists,
            sketch_lists,
        } = result?;
        collector.send_run()?;
        collector.work = None;
        collector.collect(true)?;
        Ok(PipelineOutcome {
            chunks,
            new_chunks: collector.new_chunks,
            delta_chunks: collector.delta_chunks,
            added_bytes: collector.added_bytes,
            blob_lists,
            sketch_lists,
        })
    })
}

/// What [`chunk_stream`] made of a stream: its chunk count, and the list
/// blobs naming its chunks and their sketches in order.
struct StreamLists {
    chunks: u64,
    blob_lists: Vec<String>,
    sketch_lists: Vec<String>,
}

/// Cuts the stream into chunks and hands new ones to the workers.
fn chunk_stream(
    collector: &mut Collector<'_>,
    input: HashingReader<'_>,
    reference: Option<&Reference>,
    progress: &dyn Progress,
    config: &super::Config,
) -> Result<StreamLists> {
    let keys = collector.repo.keys_arc();
    let params = config.chunker;
    let chunker = fastcdc::v2020::StreamCDC::with_level_and_seed(
        input,
        params.min_size as usize,
        params.avg_size as usize,
        params.max_size as usize,
        fastcdc::v2020::Normalization::Level1,
        keys.chunker_seed(),
    );
    let sketches = config.stores_sketches();
    // Format 3 stores a list as a delta of the earlier snapshot's list at
    // its place: a day changes few of its entries.
    let list_bases = |lists: fn(&Reference) -> &[[u8; 32]]| match reference {
        Some(reference) if sketches => lists(reference),
        _ => &[],
    };
    let mut ids = ListBlobs::new(32, list_bases(|r| &r.lists));
    let mut sketch_list = ListBlobs::new(sketch::SKETCH_BYTES, list_bases(|r| &r.sketch_lists));
    let mut chunks = 0u64;
    let mut reference_cursor = ReferenceCursor::default();
    for chunk in chunker {
        let chunk = chunk.map_err(|e| Error::Input(e.into()))?;
        if progress.cancelled() {
            return Err(Error::Cancelled);
        }
        let id = keys.blob_id(&chunk.data);
        let sketch = if sketches {
            sketch::of(&chunk.data)
        } else {
            [sketch::NONE; sketch::FEATURES]
        };
        chunks += 1;
        progress.advance(chunk.length as u64);
        let base = reference.and_then(|r| r.base_for(short_key(&id), chunk.length as u64, &sketch, &mut reference_cursor));
        if collector.store(id, chunk.data, base)? {
            collector.new_chunks += 1;
        }
        ids.push(collector, &id)?;
        if sketches {
            let mut bytes = Vec::with_capacity(sketch::SKETCH_BYTES);
            sketch::encode(&sketch, &mut bytes);
            sketch_list.push(collector, &bytes)?;
        }
    }
    ids.flush(collector)?;
    sketch_list.flush(collector)?;
    Ok(StreamLists {
        chunks,
        blob_lists: ids.stored,
        sketch_lists: sketch_list.stored,
    })
}

/// List blobs being written: one entry per chunk, [`IDS_PER_LIST_BLOB`]
/// entries a blob.
struct ListBlobs<'r> {
    entry_bytes: usize,
    current: Vec<u8>,
    stored: Vec<String>,
    /// The earlier snapshot's lists of this kind: the n-th is the base of the n-th.
    bases: &'r [[u8; 32]],
}

impl<'r> ListBlobs<'r> {
    fn new(entry_bytes: usize, bases: &'r [[u8; 32]]) -> Self {
        ListBlobs {
            entry_bytes,
            current: Vec::new(),
            stored: Vec::new(),
            bases,
        }
    }

    fn push(&mut self, collector: &mut Collector<'_>, entry: &[u8]) -> Result<()> {
        self.current.extend_from_slice(entry);
        if self.current.len() == IDS_PER_LIST_BLOB * self.entry_bytes {
            self.flush(collector)?;
        }
        Ok(())
    }

    fn flush(&mut self, collector: &mut Collector<'_>) -> Result<()> {
        if self.current.is_empty() {
            return Ok(());
        }
        let id = collector.repo.keys().blob_id(&self.current);
        let base = self.bases.get(self.stored.len()).copied();
        collector.lists.insert(short_key(&id));
        collector.store(id, std::mem::take(&mut self.current), base)?;
        self.stored.push(hex(&id));
        Ok(())
    }
}

fn pack_worker(repo: &Repository, index: &Index, work: Receiver<Run>, done: Sender<Result<PackRecord>>, abort: &AtomicBool) {
    let result = (|| {
        let config = repo.config();
        let pack_size = config.pack_size as usize;
        let mut compressor = zstd::bulk::Compressor::new(config.compression_level).map_err(|e| Error::Internal(format!("zstd: {e}")))?;
        let mut pack = PackBuilder::new(repo.keys(), pack_size + 256 * 1024);
        let delta_level = config.compression_level.max(DELTA_LEVEL_MIN);
        for run in work.iter() {
            let bases = read_bases(repo, index, run.iter().filter_map(|blob| blob.base));
            for blob in run {
                if abort.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let delta = blob
                    .base
                    .and_then(|base| delta_of(repo, index, &bases, &base, &blob.data, delta_level));
                match delta {
                    Some(delta) if delta.len() * CLEAR_DELTA_RATIO <= blob.data.len() => {
                        pack.add_encoded(blob.id, &delta, blob.data.len() as u32, blob.base);
                    }
                    Some(delta) => {
                        pack.add_smaller(blob.id, &blob.data, &mut compressor, delta, blob.base.expect("a delta has a base"))?;
                    }
                    None => {
                        pack.add(blob.id, &blob.data, &mut compressor)?;
                    }
                }
                if pack.len() >= pack_size {
                    // Written before the next pack is allocated: one pack per worker in memory.
                    let full = std::mem::replace(&mut pack, PackBuilder::new(repo.keys(), 0));
                    write_pack(repo, full, &done)?;
                    pack = PackBuilder::new(repo.keys(), pack_size + 256 * 1024);
                }
            }
        }
        if !pack.is_empty() && !abort.load(Ordering::Relaxed) {
            write_pack(repo, pack, &done)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        abort.store(true, Ordering::Relaxed);
        let _ = done.send(Err(e));
    }
}

/// Deltas are compressed at least at this zstd level: few chunks are
/// deltas, and level 3's match finder uses the base better than level 1's.
const DELTA_LEVEL_MIN: i32 = 3;

/// `data` encoded against the stored chunk `base` (read ahead in `bases`,
/// else read now); None if the base cannot be read (the chunk is then
/// stored whole, and `check` reports the base).
fn delta_of(repo: &Repository, index: &Index, bases: &Bases, base: &[u8; 32], data: &[u8], level: i32) -> Option<Vec<u8>> {
    let base_data = base_bytes(repo, index, bases, base)
        .inspect_err(|e| tracing::warn!("a chunk is stored whole: its delta base cannot be read: {e}"))
        .ok()?;
    encode_delta(base, &base_data, data, level)
        .inspect_err(|e| tracing::warn!("a chunk is stored whole: {e}"))
        .ok()
}

fn write_pack(repo: &Repository, pack: PackBuilder, done: &Sender<Result<PackRecord>>) -> Result<()> {
    let (bytes, record) = pack.finish();
    repo.backend().write(&pack_path(&record.id), &bytes)?;
    let _ = done.send(Ok(record));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An earlier snapshot of chunks with the given ids and lengths, and
    /// the sketches `sketch_of` gives their ids.
    fn reference(chunks: &[(u8, u64)], sketch_of: impl Fn(u8) -> Sketch) -> Reference {
        let ids: Vec<[u8; 32]> = chunks.iter().map(|&(id, _)| [id; 32]).collect();
        let mut starts = vec![0];
        for &(_, length) in chunks {
            starts.push(starts.last().unwrap() + length);
        }
        let positions = ids.iter().enumerate().map(|(at, id)| (short_key(id), at as u32)).collect();
        let mut features: Vec<(u32, u32)> = (chunks.iter().enumerate())
            .flat_map(|(at, &(id, _))| {
                sketch_of(id)
                    .into_iter()
                    .filter(|&f| f != sketch::NONE)
                    .map(move |f| (f, at as u32))
            })
            .collect();
        features.sort_unstable();
        Reference {
            chunks: ids,
            starts,
            positions,
            features,
            lists: Vec::new(),
            sketch_lists: Vec::new(),
        }
    }

    fn no_sketch(_: u8) -> Sketch {
        [sketch::NONE; sketch::FEATURES]
    }

    /// Bases for a new stream of (id, length) chunks, in order.
    fn bases(reference: &Reference, stream: &[(u8, u64)], sketch_of: impl Fn(u8) -> Sketch) -> Vec<Option<u8>> {
        let mut cursor = ReferenceCursor::default();
        stream
            .iter()
            .map(|&(id, length)| {
                let base = reference.base_for(short_key(&[id; 32]), length, &sketch_of(id), &mut cursor);
                base.map(|base| base[0])
            })
            .collect()
    }

    #[test]
    fn a_new_chunk_is_stored_against_the_earlier_chunk_under_its_middle() {
        let earlier = reference(&[(1, 100), (2, 100), (3, 100), (4, 100), (5, 100)], no_sketch);
        // Chunk 2 split in two and 3 and 4 changed: no unchanged chunk
        // between them re-aligns, offsets still do.
        assert_eq!(
            bases(&earlier, &[(1, 100), (10, 50), (11, 50), (12, 100), (13, 100), (5, 100)], no_sketch),
            [None, Some(2), Some(2), Some(3), Some(4), None]
        );
        // 30 new bytes before chunk 1: the unchanged chunk lines the streams up again.
        assert_eq!(
            bases(&earlier, &[(20, 30), (1, 100), (21, 100), (3, 100)], no_sketch),
            [Some(1), None, Some(2), None]
        );
        // Past the end of the earlier stream there is no base.
        assert_eq!(bases(&earlier, &[(5, 100), (30, 100)], no_sketch), [None, None]);
    }

    #[test]
    fn a_new_chunk_is_stored_against_the_earlier_chunk_sharing_its_rows() {
        // Earlier chunk k has features 10k+1..10k+4, and every one of them has 7.
        let earlier_sketch = |k: u8| [7, 10 * k as u32 + 1, 10 * k as u32 + 2, 10 * k as u32 + 3];
        let chunks: Vec<(u8, u64)> = (1..=10).map(|k| (k, 100)).collect();
        let earlier = reference(&chunks, earlier_sketch);
        // Every chunk lost 40 % of its rows: by place, the fourth new chunk
        // would sit under the third earlier one, and drift further after.
        // New chunk 10 + k shares two features with earlier chunk k; 20 has
        // no sketch and follows the line its neighbour drew.
        let sketch_of = |id: u8| match id {
            11..=16 => [10 * (id - 10) as u32 + 1, 10 * (id - 10) as u32 + 3, 999, sketch::NONE],
            _ => [sketch::NONE; sketch::FEATURES],
        };
        assert_eq!(
            bases(
                &earlier,
                &[(11, 60), (12, 60), (13, 60), (14, 60), (15, 60), (16, 60), (20, 60)],
                sketch_of
            ),
            [Some(1), Some(2), Some(3), Some(4), Some(5), Some(6), Some(7)]
        );
        // A feature every chunk has tells nothing: the place decides.
        let common = |_: u8| [7, sketch::NONE, sketch::NONE, sketch::NONE];
        assert_eq!(
            bases(&earlier, &[(30, 100), (31, 100), (32, 100)], common),
            [Some(1), Some(2), Some(3)]
        );
    }
}
