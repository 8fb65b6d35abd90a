//! What a server's `archive_command` and a recovering server's
//! `restore_command` run: one WAL file into the repository, or out of it.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::paths;
use crate::pg::wal::segment_header;
use crate::progress::Progress;
use crate::repo::wal::{self, Pushed};
use crate::repo::Repository;

/// The most of a segment read to find its header.
const HEADER_BYTES: usize = 64;

#[derive(Clone, Debug, Serialize)]
pub struct PushReport {
    pub name: String,
    pub file: String,
    pub size: u64,
    pub sha256: String,
    /// It was in the repository already, with these very bytes.
    pub already_archived: bool,
    /// The cluster that wrote it, for segments.
    pub system_identifier: Option<String>,
    pub seconds: f64,
}

/// Archives the WAL file at `path` (the server's `%p`) under `name`; the
/// file's own name (`%f`) names it. Returns once it is durable.
pub fn push_file(repo: &Repository, name: &str, path: &Path, lock_wait: Duration, progress: &dyn Progress) -> Result<PushReport> {
    let started = Instant::now();
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .ok_or_else(|| Error::InvalidInput(format!("{} does not name a WAL file", path.display())))?
        .to_string();
    wal::validate_file(&file)?;
    let mut input = std::fs::File::open(path).map_err(|e| Error::io("reading", path, e))?;
    let length = input.metadata().map_err(|e| Error::io("reading", path, e))?.len();
    let mut head = Vec::with_capacity(HEADER_BYTES);
    (&mut input)
        .take(HEADER_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io("reading", path, e))?;

    let mut metadata = std::collections::BTreeMap::new();
    let is_segment = !file.contains('.') || file.ends_with(".partial");
    let header = segment_header(&head);
    match header {
        Some(header) if is_segment => {
            // The archiver hands over whole segments only; a short one is being written.
            if !file.ends_with(".partial") && length != header.segment_size {
                return Err(Error::InvalidInput(format!(
                    "{} has {length} bytes but its header says segments have {}: it is not a whole WAL segment",
                    path.display(),
                    header.segment_size
                )));
            }
            metadata.insert("system_identifier".to_string(), header.system_identifier.to_string().into());
            metadata.insert("segment_size".to_string(), header.segment_size.into());
        }
        None if is_segment => {
            return Err(Error::InvalidInput(format!(
                "{} does not start with a WAL segment's header: it is not a WAL segment of PostgreSQL 12 or later",
                path.display()
            )))
        }
        _ => {}
    }
    let mut whole = std::io::Cursor::new(head).chain(input);
    let pushed = wal::push(repo, name, &file, &mut whole, metadata, lock_wait, progress)?;
    let record = pushed.record();
    Ok(PushReport {
        name: name.to_string(),
        file,
        size: record.size,
        sha256: record.sha256.clone(),
        already_archived: matches!(pushed, Pushed::AlreadyArchived(_)),
        system_identifier: header.filter(|_| is_segment).map(|h| h.system_identifier.to_string()),
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct FetchReport {
    pub name: String,
    pub file: String,
    pub size: u64,
    pub seconds: f64,
}

/// Writes archived `file` of `name` to `dest` (the server's `%p`), verified
/// whole before it appears there; [`Error::WalNotFound`] when not archived.
pub fn fetch_file(
    repo: &Repository,
    name: &str,
    file: &str,
    dest: &Path,
    lock_wait: Duration,
    progress: &dyn Progress,
) -> Result<FetchReport> {
    let started = Instant::now();
    wal::validate_name(name)?;
    wal::validate_file(file)?;
    // Looked up before a temporary file is made: most misses are PostgreSQL
    // asking for the next timeline's history, which does not exist.
    if wal::read_record(repo, name, file)?.is_none() {
        return Err(Error::WalNotFound {
            name: name.to_string(),
            file: file.to_string(),
        });
    }
    let record = paths::write_whole_file(dest, true, |out| wal::fetch(repo, name, file, out, lock_wait, progress))?;
    Ok(FetchReport {
        name: name.to_string(),
        file: file.to_string(),
        size: record.size,
        seconds: started.elapsed().as_secs_f64(),
    })
}
