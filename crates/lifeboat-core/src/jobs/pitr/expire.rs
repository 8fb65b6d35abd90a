//! WAL retention: an archive keeps every WAL file a kept base backup needs
//! (from the oldest one's start on) and nothing older. Base backups are
//! kept or forgotten by the retention policy like any snapshot; this runs
//! after a forget, so the WAL follows them.
//!
//! An archive with no base backup keeps all its WAL: there is nothing to
//! measure "needed" against (the first base backup may be running now).

use std::time::Duration;

use serde::Serialize;

use super::window::base_backups;
use crate::error::{Error, Result};
use crate::pg::wal::Segment;
use crate::repo::{lock, manifest, wal, Repository};

/// What WAL retention removes (or would) from one archive.
#[derive(Clone, Debug, Serialize)]
pub struct WalExpiry {
    pub name: String,
    /// The oldest kept base backup, whose start bounds what is kept.
    pub oldest_base_backup: String,
    /// The first segment kept.
    pub keep_from: String,
    /// Files removed, oldest first.
    pub removed: Vec<String>,
}

/// Removes (unless `dry_run`) every archive's WAL older than its oldest kept
/// base backup's start. Timeline history files are always kept: they are
/// tiny, and recovery onto a later timeline reads all of them.
pub fn expire(repo: &Repository, dry_run: bool, lock_wait: Duration) -> Result<Vec<WalExpiry>> {
    let lock = if dry_run {
        lock::acquire_for_reading(repo, "WAL retention (dry run)", lock_wait)?
    } else {
        Some(lock::acquire(repo, true, "WAL retention", lock_wait)?)
    };
    // A base backup whose manifest cannot be read might be the oldest one:
    // removing WAL by the others could cut away what it needs.
    if let Some((id, e)) = manifest::list(repo)?.damaged.into_iter().next() {
        return Err(Error::corrupt(
            format!("snapshot {id}"),
            format!("{e}; WAL retention refuses to run until `lifeboat check` is clean"),
        ));
    }
    let files = wal::list_files(repo, None)?.files;
    let mut names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    names.dedup();
    let mut expiries = Vec::new();
    for name in names {
        let Some((oldest, facts)) = base_backups(repo, name)?.into_iter().next() else {
            continue;
        };
        let Some(start) = facts.start_lsn.or(facts.stop_lsn) else {
            continue;
        };
        let keep_from = Segment::of(start, facts.timeline, facts.wal_segment_size);
        let removed: Vec<String> = files
            .iter()
            .filter(|(archive, file)| archive == name && is_before(file, keep_from.number, facts.wal_segment_size))
            .map(|(_, file)| file.clone())
            .collect();
        if removed.is_empty() {
            continue;
        }
        if let (Some(lock), false) = (&lock, dry_run) {
            wal::remove(repo, lock, name, &removed)?;
        }
        expiries.push(WalExpiry {
            name: name.to_string(),
            oldest_base_backup: oldest.id.clone(),
            keep_from: keep_from.file_name(facts.wal_segment_size),
            removed,
        });
    }
    Ok(expiries)
}

/// Whether `file` (a segment, a partial segment or a backup history file,
/// named by its segment) lies wholly before segment `keep_from`, whatever
/// its timeline: a later timeline branches off later, never earlier.
fn is_before(file: &str, keep_from: u64, segment_size: u64) -> bool {
    let segment_name = file.get(..24).filter(|_| !file.ends_with(".history"));
    segment_name
        .and_then(|name| Segment::from_file_name(name, segment_size))
        .is_some_and(|segment| segment.number < keep_from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_segments_wholly_before_the_oldest_start_expire() {
        let size = 16 << 20;
        let keep_from = Segment::from_file_name("000000010000000000000005", size).unwrap().number;
        for old in [
            "000000010000000000000004",
            "000000010000000000000001.partial",
            "000000010000000000000004.00000028.backup",
            "000000020000000000000003",
        ] {
            assert!(is_before(old, keep_from, size), "{old}");
        }
        for kept in [
            "000000010000000000000005",
            "000000010000000000000005.00000028.backup",
            "000000020000000000000009",
            "00000002.history",
            "000000010000000100000000",
        ] {
            assert!(!is_before(kept, keep_from, size), "{kept}");
        }
    }
}
