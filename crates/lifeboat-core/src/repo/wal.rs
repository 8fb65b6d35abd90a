//! The WAL archive: files a PostgreSQL server's archiver (or a WAL stream)
//! hands over, stored like any stream and named by one record each.
//!
//! ```text
//! wal/<name>=<file>     encrypted WalRecord: the file's size, SHA-256 and list blobs
//! ```
//!
//! `<name>` is the archive's name (a server's, `--name`), `<file>` the name
//! PostgreSQL gives the file (`000000010000000A000000FE`, `00000002.history`,
//! `...00000028.backup`, `....partial`). One flat folder, so every backend
//! lists it in one go. A record is written once, by an atomic create, after
//! the blobs it names are durable and indexed: a file archived twice with
//! the same bytes is archived (PostgreSQL retries after a crash), with other
//! bytes is refused, never overwritten (what PostgreSQL asks of an
//! `archive_command`). Records are sealed with their path as associated
//! data, so one cannot be passed off under another file's name.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::format::{self, hex};
use super::index::Index;
use super::read::{stream_blobs, StoredBlobs};
use super::{lock, manifest, store, Repository};
use crate::error::{Error, Result};
use crate::progress::Progress;

const WAL_DIR: &str = "wal";
const RECORD_VERSION: u32 = 1;

/// What the repository records of one archived file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WalRecord {
    pub version: u32,
    pub name: String,
    pub file: String,
    pub size: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    pub chunks: u64,
    pub blob_lists: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sketch_lists: Vec<String>,
    /// When it was archived, by the archiving host's clock.
    pub archived: DateTime<Utc>,
    pub host: String,
    /// Facts the archiver read from the file (the server's system identifier).
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl WalRecord {
    /// The file for messages: "WAL file 000000010000000000000003 of `prod`".
    pub fn what(&self) -> String {
        describe(&self.name, &self.file)
    }

    /// The record's path in the repository.
    pub fn path(&self) -> String {
        record_path(&self.name, &self.file)
    }
}

fn describe(name: &str, file: &str) -> String {
    format!("WAL file {file} of `{name}`")
}

/// What [`push`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Pushed {
    /// Stored now.
    Stored(WalRecord),
    /// It was archived already, with these very bytes.
    AlreadyArchived(WalRecord),
}

impl Pushed {
    pub fn record(&self) -> &WalRecord {
        match self {
            Pushed::Stored(record) | Pushed::AlreadyArchived(record) => record,
        }
    }
}

/// Checks an archive name: a plain snapshot name (no `/`).
pub fn validate_name(name: &str) -> Result<()> {
    if name.contains('/') {
        return Err(Error::InvalidInput(format!(
            "`{name}` is not a valid WAL archive name: use letters, digits and . _ - @ + (no `/`)"
        )));
    }
    manifest::validate_tag(name)
}

/// Checks a file name as PostgreSQL names what it archives: a segment (24
/// hex digits), a timeline history (`TTTTTTTT.history`), a backup history
/// (`<segment>.XXXXXXXX.backup`), or a partial segment (`<segment>.partial`).
pub fn validate_file(file: &str) -> Result<()> {
    let hex_digits = |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase());
    let parts: Vec<&str> = file.split('.').collect();
    let ok = match parts.as_slice() {
        [segment] => hex_digits(segment, 24),
        [timeline, "history"] => hex_digits(timeline, 8),
        [segment, "partial"] => hex_digits(segment, 24),
        [segment, offset, "backup"] => hex_digits(segment, 24) && hex_digits(offset, 8),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "`{file}` is not the name of a WAL file: PostgreSQL's archiver gives names such as 000000010000000000000003, \
             00000002.history or 000000010000000000000003.00000028.backup (`%f`)"
        )))
    }
}

fn record_path(name: &str, file: &str) -> String {
    format!("{WAL_DIR}/{name}={file}")
}

fn record_aad(name: &str, file: &str) -> String {
    format!("lifeboat wal record {name}={file}")
}

/// Archiving WAL needs format 4: an older Lifeboat's prune would not know
/// that WAL records need their blobs, and would remove them.
fn require_wal_format(repo: &Repository) -> Result<()> {
    if repo.config().holds_wal() {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "this repository is at format {}, which cannot hold WAL (an older Lifeboat's prune would remove it): run \
             `lifeboat migrate` first, and use a Lifeboat of this version or newer on every workstation that opens it",
            repo.config().version
        )))
    }
}

/// Stores `file` of archive `name`, read from `input`, unless it is
/// archived already (with the same bytes: [`Pushed::AlreadyArchived`];
/// other bytes: [`Error::WalConflict`]). Returns once the file is durable.
pub fn push(
    repo: &Repository,
    name: &str,
    file: &str,
    input: &mut dyn Read,
    metadata: BTreeMap<String, serde_json::Value>,
    lock_wait: Duration,
    progress: &dyn Progress,
) -> Result<Pushed> {
    validate_name(name)?;
    validate_file(file)?;
    require_wal_format(repo)?;
    if let Some(existing) = read_record(repo, name, file)? {
        let (size, sha256) = hash_stream(input)?;
        return same_or_conflict(existing, size, &sha256);
    }
    let lock = lock::acquire(repo, false, "wal-push", lock_wait)?;
    let index = Index::load(repo)?;
    progress.phase("archiving WAL", None);
    let (outcome, stored) = store::store_blobs(repo, &index, None, input, progress)?;
    let record = WalRecord {
        version: RECORD_VERSION,
        name: name.to_string(),
        file: file.to_string(),
        size: stored.size,
        sha256: stored.sha256,
        chunks: outcome.chunks,
        blob_lists: outcome.blob_lists,
        sketch_lists: outcome.sketch_lists,
        archived: Utc::now(),
        host: whoami::fallible::hostname().unwrap_or_else(|_| "unknown".into()),
        metadata,
    };
    // A prune that judged this job dead may have removed what it wrote.
    lock.verify()?;
    let sealed = format::seal_json(repo.keys(), &record_aad(name, file), &record);
    if repo.backend().create_new(&record.path(), &sealed)? {
        return Ok(Pushed::Stored(record));
    }
    // Another push of the same file won the race.
    let existing = read_record(repo, name, file)?.ok_or_else(|| Error::Missing(record.path()))?;
    same_or_conflict(existing, record.size, &record.sha256)
}

fn same_or_conflict(existing: WalRecord, size: u64, sha256: &str) -> Result<Pushed> {
    if existing.size == size && existing.sha256 == sha256 {
        Ok(Pushed::AlreadyArchived(existing))
    } else {
        Err(Error::WalConflict {
            name: existing.name,
            file: existing.file,
            size: existing.size,
            sha256: existing.sha256,
        })
    }
}

fn hash_stream(input: &mut dyn Read) -> Result<(u64, String)> {
    let mut sha = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buffer).map_err(Error::Input)?;
        if n == 0 {
            return Ok((size, hex(&sha.finalize())));
        }
        sha.update(&buffer[..n]);
        size += n as u64;
    }
}

/// The record of `file` of `name`, authenticated; None if not archived.
pub fn read_record(repo: &Repository, name: &str, file: &str) -> Result<Option<WalRecord>> {
    validate_name(name)?;
    validate_file(file)?;
    let path = record_path(name, file);
    let bytes = match repo.backend().read(&path, format::SMALL_FILE_MAX) {
        Ok(bytes) => bytes,
        Err(Error::Missing(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let what = format!("{} ({path})", describe(name, file));
    let record: WalRecord = format::open_json(repo.keys(), &record_aad(name, file), &bytes, &what)?;
    if record.version != RECORD_VERSION {
        return Err(Error::UnsupportedVersion {
            found: record.version,
            supported: RECORD_VERSION,
        });
    }
    if record.name != name || record.file != file {
        return Err(Error::corrupt(what, "it names another file"));
    }
    Ok(Some(record))
}

/// Writes `file` of `name` into `out`, every blob authenticated and the
/// whole checked against its record's size and SHA-256 before this
/// returns Ok (the caller keeps what it wrote only then).
pub fn fetch(
    repo: &Repository,
    name: &str,
    file: &str,
    out: &mut dyn Write,
    lock_wait: Duration,
    progress: &dyn Progress,
) -> Result<WalRecord> {
    let record = read_record(repo, name, file)?.ok_or_else(|| Error::WalNotFound {
        name: name.to_string(),
        file: file.to_string(),
    })?;
    let _lock = lock::acquire_for_reading(repo, "wal-fetch", lock_wait)?;
    let index = Index::load(repo)?;
    stream_record(repo, &index, &record, out, progress, None)?;
    Ok(record)
}

/// Streams an archived file, checked as [`fetch`] does; `verified`
/// collects the blobs that authenticated.
pub(crate) fn stream_record(
    repo: &Repository,
    index: &Index,
    record: &WalRecord,
    out: &mut dyn Write,
    progress: &dyn Progress,
    verified: Option<&mut std::collections::HashSet<u128>>,
) -> Result<()> {
    let stored = StoredBlobs {
        id: record.path(),
        what: record.what(),
        blob_lists: &record.blob_lists,
        size: record.size,
        chunks: record.chunks,
        sha256: &record.sha256,
    };
    // Damage is named by the file it hurts: that is where recovery stops.
    stream_blobs(repo, index, &stored, out, progress, verified).map_err(|e| match e {
        Error::IntegrityMismatch { detail, .. } => Error::corrupt(record.what(), detail),
        Error::Corrupt { what, detail } => Error::corrupt(format!("{} ({what})", record.what()), detail),
        other => other,
    })
}

/// An archive's files by name, without reading their records.
#[derive(Clone, Debug, Default)]
pub struct WalFiles {
    /// (archive name, file name), sorted.
    pub files: Vec<(String, String)>,
    /// Names in `wal/` that are no record's (planted, or from a newer Lifeboat).
    pub strangers: Vec<String>,
}

/// The archived files of `name` (every archive's when None), by their
/// record's names: what `pitr show` needs, one listing and no reads.
pub fn list_files(repo: &Repository, name: Option<&str>) -> Result<WalFiles> {
    let mut listing = WalFiles::default();
    for entry in repo.backend().list(WAL_DIR)? {
        let parsed = entry
            .name
            .split_once('=')
            .filter(|(archive, file)| validate_name(archive).is_ok() && validate_file(file).is_ok());
        match parsed {
            Some((archive, file)) if name.is_none_or(|n| n == archive) => listing.files.push((archive.to_string(), file.to_string())),
            Some(_) => {}
            None => listing.strangers.push(format!("{WAL_DIR}/{}", entry.name)),
        }
    }
    listing.files.sort();
    Ok(listing)
}

/// Removes the records of archive `name`'s `files`; their data is freed by
/// the next prune. The caller holds an exclusive lock (`lock`), checked
/// before anything goes.
pub fn remove(repo: &Repository, lock: &lock::LockGuard, name: &str, files: &[String]) -> Result<()> {
    validate_name(name)?;
    lock.verify()?;
    for file in files {
        validate_file(file)?;
        repo.backend().remove(&record_path(name, file))?;
    }
    Ok(())
}

/// Every record of every archive; a damaged one does not hide the others.
pub struct WalList {
    pub records: Vec<WalRecord>,
    /// Paths of the records that could not be read, and why.
    pub damaged: Vec<(String, Error)>,
}

/// Reads every WAL record.
pub fn list(repo: &Repository) -> Result<WalList> {
    let mut records = Vec::new();
    let mut damaged = Vec::new();
    for (name, file) in list_files(repo, None)?.files {
        match read_record(repo, &name, &file) {
            Ok(Some(record)) => records.push(record),
            // Removed between the listing and the read (a retention run).
            Ok(None) => {}
            Err(e) => damaged.push((record_path(&name, &file), e)),
        }
    }
    Ok(WalList { records, damaged })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_postgresql_gives_are_wal_files() {
        for good in [
            "000000010000000000000003",
            "00000002.history",
            "000000010000000A000000FE.00000028.backup",
            "000000010000000000000003.partial",
        ] {
            validate_file(good).unwrap();
        }
        for bad in [
            "",
            "0000000100000000000003",
            "000000010000000a000000fe",
            "../config",
            "000000010000000000000003/x",
            "00000002.history.x",
            "000000010000000000000003.backup",
            "RECOVERYXLOG",
        ] {
            assert!(validate_file(bad).is_err(), "{bad}");
        }
        assert!(validate_name("prod/db").is_err());
        validate_name("prod-15").unwrap();
    }
}
