//! Where a parallel restore keeps the verified dump `pg_restore --jobs`
//! needs as a seekable file: a private folder (0700) under the data folder,
//! never the shared system temp. Files carry their process id, so a restore
//! that was killed leaves a file the next one removes; every other exit
//! path removes its own.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::paths::Paths;

const PREFIX: &str = "lifeboat-restore-";
/// Room left beside the dump, so the disk is never filled to the last byte.
const MARGIN: u64 = 64 * 1024 * 1024;

/// The private folder, created if needed, without the files of dead restores.
pub(crate) fn folder() -> Result<PathBuf> {
    let dir = Paths::from_env()?.data_dir.join("restore-spool");
    crate::paths::own_private_dir(&dir)?;
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io("listing", &dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let owner = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if owner.is_some_and(|pid| !crate::repo::lock::process_alive(pid)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(dir)
}

/// Whether `free` bytes (None: unknown) can hold a `needed`-byte dump
/// with the margin.
pub(crate) fn holds(free: Option<u64>, needed: u64) -> bool {
    free.is_none_or(|free| free >= needed.saturating_add(MARGIN))
}

/// Refuses before anything changes when `dir` cannot hold `needed` bytes.
pub(crate) fn check_room(dir: &Path, needed: u64) -> Result<()> {
    if let Some(free) = free_bytes(dir)?.filter(|&free| !holds(Some(free), needed)) {
        return Err(Error::RestoreRefused(format!(
            "a parallel restore (--jobs) first writes the verified dump to {}: it needs {} and only {} are free there. \
             Free some space, or restore with --jobs 1, which streams the dump and needs no copy",
            dir.display(),
            crate::units::human_bytes(needed.saturating_add(MARGIN), 1),
            crate::units::human_bytes(free, 1)
        )));
    }
    Ok(())
}

/// Free bytes on `dir`'s disk, where that is cheap to tell.
#[cfg(target_os = "linux")]
pub(crate) fn free_bytes(dir: &Path) -> Result<Option<u64>> {
    let stat = rustix::fs::statvfs(dir).map_err(|e| Error::io("measuring the free space of", dir, e.into()))?;
    Ok(Some(stat.f_bavail.saturating_mul(stat.f_frsize)))
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn free_bytes(_dir: &Path) -> Result<Option<u64>> {
    // Measured where it is cheap to; elsewhere a full disk fails the write cleanly.
    Ok(None)
}

/// A new private file in `dir`, removed when dropped.
pub(crate) fn create(dir: &Path) -> Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&format!("{PREFIX}{}-", std::process::id()))
        .tempfile_in(dir)
        .map_err(|e| Error::io("creating a temporary file in", dir, e))
}
