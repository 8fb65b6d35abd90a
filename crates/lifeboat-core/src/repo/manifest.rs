//! Snapshot manifests and latest pointers.
//!
//! `snapshots/<id>`: one encrypted manifest per backup; the id is the BLAKE3
//! of the file, so a manifest cannot be swapped for another. The stream's
//! ordered blob list is not inside the manifest (a 50 GB stream has over a
//! million blobs) but in *list blobs* stored in packs like data, each holding
//! up to [`IDS_PER_LIST_BLOB`] ids; the manifest names them in order.
//!
//! `refs/latest/<name>`: encrypted, bound to its name, pointing at the newest
//! durable snapshot of that name.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::format::{self, hex};
use super::Repository;
use crate::error::{Error, Result};

/// The metadata key under which a server backup's globals snapshot records
/// its group: among others, the snapshot of each database of that run.
pub const SERVER_GROUP: &str = "server_group";

pub const MANIFEST_VERSION: u32 = 1;
/// Ids per list blob: 2 MiB of ids.
pub const IDS_PER_LIST_BLOB: usize = 65_536;
const MANIFEST_AAD: &str = "lifeboat snapshot manifest";

/// Why a snapshot was taken.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotKind {
    /// Taken on demand with no particular purpose.
    #[default]
    Manual,
    /// Taken by a schedule.
    Scheduled,
    /// Taken on demand before a risky change ("before 16 -> 17 upgrade").
    Checkpoint,
}

/// What a snapshot is. Everything an admin needs to trust and restore it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub version: u32,
    /// The name snapshots of one source share (a connection, a database).
    pub tag: String,
    pub kind: SnapshotKind,
    pub label: Option<String>,
    pub host: String,
    pub user: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Bytes in the stream.
    pub size: u64,
    /// SHA-256 of the whole stream, hex: what `sha256sum` prints for it.
    pub sha256: String,
    /// Number of chunks in the stream.
    pub chunks: u64,
    /// Ids of the list blobs holding the ordered chunk ids, hex.
    pub blob_lists: Vec<String>,
    /// Ids of the list blobs holding each chunk's resemblance sketch, in
    /// the order of `blob_lists`, hex (format 3; see `sketch`). Only the
    /// next backup of the name reads them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sketch_lists: Vec<String>,
    /// Open-ended facts about the source (server version, row counts...).
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// One more than the highest generation of this name among the
    /// manifests its writer could read when it recorded it: orders a name's
    /// snapshots by what each writer saw, not by the workstations' clocks,
    /// which may disagree by hours. 0 in manifests from before it existed.
    #[serde(default)]
    pub generation: u64,
}

impl Manifest {
    /// How snapshots of one name are ordered, oldest to newest: by
    /// generation, then (writers that raced to the same one) by start.
    pub fn recency(&self) -> (u64, DateTime<Utc>) {
        (self.generation, self.start)
    }
}

/// A manifest with its id.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub id: String,
    pub manifest: Manifest,
}

/// Checks a snapshot name: a plain name, or `NAME/DATABASE` for one
/// database of a server connection, whose second part may hold `%`
/// escapes (see [`database_tag`]). It names a file under `refs/latest/`
/// (see [`pointer_file`]).
pub fn validate_tag(tag: &str) -> Result<()> {
    let plain = |part: &str, escapes: bool| {
        !part.is_empty()
            && !part.starts_with('.')
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-@+".contains(c) || (escapes && c == '%'))
    };
    let ok = tag.len() <= 200
        && match tag.split_once('/') {
            None => tag.len() <= 128 && plain(tag, false),
            Some((server, database)) => plain(server, false) && plain(database, true),
        };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "`{tag}` is not a valid snapshot name: use 1-128 letters, digits and . _ - @ + (not starting with a dot)"
        )))
    }
}

/// The tag of database `database` of server connection `server`:
/// `server/database`, with every byte of the database's name outside
/// letters, digits and `. _ - @ +` written as `%XX` (a leading dot too).
pub fn database_tag(server: &str, database: &str) -> String {
    let mut tag = format!("{server}/");
    for (i, byte) in database.bytes().enumerate() {
        let plain = byte.is_ascii_alphanumeric() || (b"_-@+".contains(&byte)) || (byte == b'.' && i > 0);
        if plain {
            tag.push(char::from(byte));
        } else {
            tag.push_str(&format!("%{byte:02X}"));
        }
    }
    tag
}

/// The file under `refs/latest/` of a name: one level, so every backend
/// lists it; the `/` of a database tag is written `%2F` (a literal `%`
/// can only follow it, so no two names share a file).
fn pointer_file(name: &str) -> String {
    format!("refs/latest/{}", name.replacen('/', "%2F", 1))
}

/// Stores a manifest durably; returns the snapshot id.
pub fn save(repo: &Repository, manifest: &Manifest) -> Result<String> {
    let sealed = format::seal_json(repo.keys(), MANIFEST_AAD, manifest);
    let id = hex(blake3::hash(&sealed).as_bytes());
    repo.backend().write(&format!("snapshots/{id}"), &sealed)?;
    Ok(id)
}

/// Reads and authenticates one manifest.
pub fn load(repo: &Repository, id: &str) -> Result<Snapshot> {
    let what = format!("snapshot manifest snapshots/{id}");
    let bytes = repo.backend().read(&format!("snapshots/{id}"), format::MANIFEST_MAX)?;
    if hex(blake3::hash(&bytes).as_bytes()) != id {
        return Err(Error::corrupt(&what, "its content does not match its name"));
    }
    let plain = format::open_metadata(repo.keys(), MANIFEST_AAD, &bytes, &what)?;
    Ok(Snapshot {
        id: id.to_string(),
        manifest: decode_manifest(&plain, &what)?,
    })
}

/// Parses an authenticated manifest's plaintext (JSON), checking its version first.
pub fn decode_manifest(plain: &[u8], what: &str) -> Result<Manifest> {
    let value: serde_json::Value = serde_json::from_slice(plain).map_err(|e| Error::corrupt(what, e.to_string()))?;
    let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version != u64::from(MANIFEST_VERSION) {
        return Err(Error::UnsupportedVersion {
            found: version.try_into().unwrap_or(u32::MAX),
            supported: MANIFEST_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|e| Error::corrupt(what, e.to_string()))
}

/// Ids of all snapshot files.
pub fn list_ids(repo: &Repository) -> Result<Vec<String>> {
    Ok(repo.backend().list("snapshots")?.into_iter().map(|f| f.name).collect())
}

/// Every snapshot file, read.
pub struct SnapshotList {
    /// The readable ones, oldest first.
    pub snapshots: Vec<Snapshot>,
    /// Ids of the ones that could not be read, and why.
    pub damaged: Vec<(String, Error)>,
}

/// Reads every snapshot; a damaged one does not hide the others.
pub fn list(repo: &Repository) -> Result<SnapshotList> {
    let mut snapshots = Vec::new();
    let mut damaged = Vec::new();
    for id in list_ids(repo)? {
        match load(repo, &id) {
            Ok(s) => snapshots.push(s),
            Err(e) => damaged.push((id, e)),
        }
    }
    snapshots.sort_by(|a, b| a.manifest.start.cmp(&b.manifest.start).then_with(|| a.id.cmp(&b.id)));
    Ok(SnapshotList { snapshots, damaged })
}

/// Finds a snapshot by full id, unique id prefix, or `latest:NAME`.
pub fn resolve(repo: &Repository, spec: &str) -> Result<Snapshot> {
    if let Some(name) = spec.strip_prefix("latest:") {
        validate_tag(name)?;
        return resolve_latest(repo, name);
    }
    if spec.len() < 4 || !spec.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::InvalidInput(format!(
            "`{spec}` is not a snapshot: give an id (at least 4 hex characters) or latest:NAME"
        )));
    }
    let spec_lower = spec.to_ascii_lowercase();
    let matching: Vec<String> = list_ids(repo)?.into_iter().filter(|id| id.starts_with(&spec_lower)).collect();
    match matching.as_slice() {
        [one] => load(repo, one),
        [] => Err(Error::SnapshotNotFound(spec.to_string())),
        _ => Err(Error::AmbiguousSnapshot(spec.to_string())),
    }
}

/// The newest snapshot of `name` that holds data. The manifests decide,
/// not the pointer: anyone who can write the repository can put an old
/// pointer file back (or a backup can be killed between its manifest and
/// the pointer), and a restore or drill must then still get the newest
/// data. A pointer that disagrees is reported loudly, and so are unreadable
/// manifests (one may have been the newest), without blocking a restore
/// that the readable ones allow.
fn resolve_latest(repo: &Repository, name: &str) -> Result<Snapshot> {
    let SnapshotList { snapshots, damaged } = list(repo)?;
    if !damaged.is_empty() {
        tracing::warn!(
            "WARNING: {} snapshot manifest(s) cannot be read (the first: {}): one may be a newer snapshot of `{name}`; \
             latest:{name} is the newest readable one. Run `lifeboat check`",
            damaged.len(),
            damaged[0].0
        );
    }
    let newest = newest_of(snapshots, name);
    let pointer = read_latest(repo, name);
    let Some(newest) = newest else {
        return match pointer {
            Ok(Some(pointer)) => Err(Error::corrupt(
                format!("the latest pointer of `{name}`"),
                format!("it points at snapshot {} which is missing; run `lifeboat check`", pointer.snapshot),
            )),
            _ => Err(Error::SnapshotNotFound(format!("latest:{name}"))),
        };
    };
    match pointer {
        Ok(Some(pointer)) if pointer.snapshot == newest.id => {}
        Ok(Some(pointer)) => tracing::warn!(
            "WARNING: the latest pointer of `{name}` names snapshot {} of {}, but snapshot {} of {} is newer: the pointer \
             was put back (or a backup stopped before moving it). Using the newest, {}; `lifeboat check` reports it",
            &pointer.snapshot[..pointer.snapshot.len().min(8)],
            pointer.start.format("%Y-%m-%d %H:%M UTC"),
            &newest.id[..8],
            newest.manifest.start.format("%Y-%m-%d %H:%M UTC"),
            &newest.id[..8]
        ),
        Ok(None) => tracing::warn!(
            "WARNING: `{name}` has no latest pointer (removed?): using its newest snapshot, {}",
            &newest.id[..8]
        ),
        Err(e) => tracing::warn!("WARNING: {e}: using the newest snapshot of `{name}`, {}", &newest.id[..8]),
    }
    Ok(newest)
}

/// The newest readable snapshot of `name` that holds data, if any (a
/// damaged manifest is skipped: callers use this as a hint, not a restore).
pub(crate) fn newest(repo: &Repository, name: &str) -> Result<Option<Snapshot>> {
    Ok(newest_of(list(repo)?.snapshots, name))
}

/// The newest of `snapshots` named `name` that holds data.
fn newest_of(snapshots: Vec<Snapshot>, name: &str) -> Option<Snapshot> {
    snapshots
        .into_iter()
        .filter(|s| s.manifest.tag == name && s.manifest.size > 0)
        .max_by(|a, b| a.manifest.recency().cmp(&b.manifest.recency()).then_with(|| a.id.cmp(&b.id)))
}

/// The generation a new snapshot of `name` gets: one more than the highest
/// among the readable manifests of that name.
pub fn next_generation(repo: &Repository, name: &str) -> Result<u64> {
    let highest = list(repo)?
        .snapshots
        .iter()
        .filter(|s| s.manifest.tag == name)
        .map(|s| s.manifest.generation)
        .max();
    Ok(highest.map_or(1, |g| g + 1))
}

/// The content of a latest pointer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LatestPointer {
    pub snapshot: String,
    /// Start time of that snapshot, so a slower concurrent backup that started
    /// earlier never moves the pointer backwards.
    pub start: DateTime<Utc>,
}

fn pointer_aad(name: &str) -> String {
    format!("lifeboat latest pointer\0{name}")
}

pub fn read_latest(repo: &Repository, name: &str) -> Result<Option<LatestPointer>> {
    let file = pointer_file(name);
    match repo.backend().read(&file, format::SMALL_FILE_MAX) {
        Ok(bytes) => format::open_json(repo.keys(), &pointer_aad(name), &bytes, &format!("latest pointer {file}")).map(Some),
        Err(Error::Missing(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Names that have a latest pointer.
pub fn latest_names(repo: &Repository) -> Result<Vec<String>> {
    Ok(repo
        .backend()
        .list("refs/latest")?
        .into_iter()
        .map(|f| f.name.replacen("%2F", "/", 1))
        .collect())
}

/// Points `refs/latest/<tag>` at the newest snapshot of `snapshot`'s name
/// (an empty one, a failed producer's kept on request, never). Backups run
/// side by side, so a pointer read then written can be overtaken: after
/// writing, the manifests are read again until the pointer names the newest.
pub fn advance_latest(repo: &Repository, snapshot: &Snapshot) -> Result<()> {
    let name = &snapshot.manifest.tag;
    if snapshot.manifest.size == 0 {
        return Ok(());
    }
    for _ in 0..5 {
        let Some(newest) = newest_of(list(repo)?.snapshots, name) else {
            return Ok(());
        };
        if read_latest(repo, name).ok().flatten().is_some_and(|p| p.snapshot == newest.id) {
            return Ok(());
        }
        write_latest(repo, name, &newest)?;
    }
    Ok(())
}

/// Points `refs/latest/<name>` at `snapshot`.
pub fn write_latest(repo: &Repository, name: &str, snapshot: &Snapshot) -> Result<()> {
    let pointer = LatestPointer {
        snapshot: snapshot.id.clone(),
        start: snapshot.manifest.start,
    };
    repo.backend()
        .write(&pointer_file(name), &format::seal_json(repo.keys(), &pointer_aad(name), &pointer))
}

pub fn remove_latest(repo: &Repository, name: &str) -> Result<()> {
    repo.backend().remove(&pointer_file(name))
}

/// Proof, sealed under the repository's key at `forgotten/<id>`, that a
/// snapshot was removed by `forget` and not deleted: a workstation that saw
/// it tells the two apart by this record alone.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ForgetRecord {
    pub snapshot: String,
    pub tag: String,
    pub start: DateTime<Utc>,
    pub forgotten_at: DateTime<Utc>,
    pub host: String,
}

fn forget_aad(id: &str) -> String {
    format!("lifeboat forget record\0{id}")
}

/// Writes the forget record of `snapshot`; done before its manifest goes.
pub fn record_forget(repo: &Repository, snapshot: &SnapshotSummary) -> Result<()> {
    let record = ForgetRecord {
        snapshot: snapshot.id.clone(),
        tag: snapshot.tag.clone(),
        start: snapshot.time,
        forgotten_at: Utc::now(),
        host: whoami::fallible::hostname().unwrap_or_else(|_| "unknown".into()),
    };
    repo.backend().write(
        &format!("forgotten/{}", snapshot.id),
        &format::seal_json(repo.keys(), &forget_aad(&snapshot.id), &record),
    )
}

/// What the repository accounts for: the snapshot files present (readable
/// or not), the readable ones, and the snapshots with an authentic forget
/// record. A forget record that does not authenticate counts for nothing,
/// so planting one cannot hide a deletion.
pub struct Accounting {
    pub present: HashSet<String>,
    pub readable: Vec<SnapshotSummary>,
    pub forgotten: HashSet<String>,
}

pub fn accounting(repo: &Repository) -> Result<Accounting> {
    let mut forgotten = HashSet::new();
    for file in repo.backend().list("forgotten")? {
        let what = format!("forget record forgotten/{}", file.name);
        let record = repo
            .backend()
            .read(&format!("forgotten/{}", file.name), format::SMALL_FILE_MAX)
            .and_then(|bytes| format::open_json::<ForgetRecord>(repo.keys(), &forget_aad(&file.name), &bytes, &what));
        match record {
            Ok(record) if record.snapshot == file.name => {
                forgotten.insert(file.name);
            }
            Ok(_) => tracing::warn!("{what} names another snapshot: ignored"),
            Err(e) => tracing::warn!("{e}: ignored"),
        }
    }
    Ok(Accounting {
        present: list_ids(repo)?.into_iter().collect(),
        readable: list(repo)?.snapshots.iter().map(Snapshot::summary).collect(),
        forgotten,
    })
}

/// A snapshot as listed: what `lifeboat snapshots --json` prints.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SnapshotSummary {
    pub id: String,
    pub short_id: String,
    pub tag: String,
    pub kind: SnapshotKind,
    pub label: Option<String>,
    /// Start of the backup.
    pub time: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub size: u64,
    pub sha256: String,
    pub host: String,
    pub user: String,
    /// Orders snapshots of one name (see [`Manifest::generation`]).
    pub generation: u64,
}

impl Snapshot {
    pub fn summary(&self) -> SnapshotSummary {
        let m = &self.manifest;
        SnapshotSummary {
            id: self.id.clone(),
            short_id: self.id[..8].to_string(),
            tag: m.tag.clone(),
            kind: m.kind,
            label: m.label.clone(),
            time: m.start,
            end: m.end,
            size: m.size,
            sha256: m.sha256.clone(),
            host: m.host.clone(),
            user: m.user.clone(),
            generation: m.generation,
        }
    }
}
