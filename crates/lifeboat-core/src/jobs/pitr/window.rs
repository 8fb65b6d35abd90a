//! What an archive can recover: from the end of each base backup, as far
//! as its WAL runs without a gap. Found from the names of the archived
//! files (one listing) and the base backups' facts; the only records read
//! are those of each window's last file, for the time it was archived.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{base_tag, is_base_backup, BaseBackupFacts};
use crate::error::Result;
use crate::pg::wal::{Lsn, Segment};
use crate::repo::manifest::{self, Snapshot};
use crate::repo::{wal, Repository};

/// Segment size assumed before any base backup tells the real one.
const DEFAULT_SEGMENT_SIZE: u64 = 16 << 20;

#[derive(Clone, Debug, Serialize)]
pub struct BaseBackupSummary {
    pub snapshot_id: String,
    pub label: Option<String>,
    pub started: DateTime<Utc>,
    /// When it ended: the earliest moment it recovers to.
    pub ended: DateTime<Utc>,
    pub server_version: String,
    pub server_major: u32,
    pub timeline: u32,
    pub start_lsn: Option<Lsn>,
    pub stop_lsn: Option<Lsn>,
    pub size: u64,
}

/// One stretch of recoverable time.
#[derive(Clone, Debug, Serialize)]
pub struct RecoverableWindow {
    pub base_backup: String,
    pub from_time: DateTime<Utc>,
    pub from_lsn: Option<Lsn>,
    /// The end of the last WAL file of an unbroken run after the backup.
    pub to_lsn: Option<Lsn>,
    /// That file, or None when the run stops at the backup's own WAL.
    pub to_file: Option<String>,
    /// When that file was archived: no transaction after it is in the
    /// window (the file may end somewhat earlier).
    pub to_time: DateTime<Utc>,
    pub timeline: u32,
}

/// Archived WAL missing between files that are there: recovery cannot
/// cross it, so the window of every base backup before it ends there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WalGap {
    pub timeline: u32,
    /// The last file before the gap.
    pub after: String,
    /// The first and last missing file.
    pub missing_from: String,
    pub missing_to: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PitrStatus {
    pub name: String,
    /// Oldest first.
    pub base_backups: Vec<BaseBackupSummary>,
    pub wal_files: usize,
    /// The newest archived segment, and when it was archived.
    pub newest_wal: Option<String>,
    pub newest_wal_archived: Option<DateTime<Utc>>,
    /// Oldest first.
    pub windows: Vec<RecoverableWindow>,
    pub gaps: Vec<WalGap>,
}

/// The base backups of archive `name`, oldest first, with their facts.
pub fn base_backups(repo: &Repository, name: &str) -> Result<Vec<(Snapshot, BaseBackupFacts)>> {
    let tag = base_tag(name);
    let mut found = Vec::new();
    for snapshot in manifest::list(repo)?.snapshots {
        if snapshot.manifest.tag == tag && snapshot.manifest.size > 0 && is_base_backup(&snapshot) {
            let facts = BaseBackupFacts::of(&snapshot)?;
            found.push((snapshot, facts));
        }
    }
    found.sort_by_key(|(snapshot, _)| snapshot.manifest.recency());
    Ok(found)
}

/// The names of the archives the repository holds base backups or WAL of.
pub fn archives(repo: &Repository) -> Result<Vec<String>> {
    let mut names: BTreeSet<String> = wal::list_files(repo, None)?.files.into_iter().map(|(name, _)| name).collect();
    for snapshot in manifest::list(repo)?.snapshots {
        if is_base_backup(&snapshot) {
            if let Some(name) = snapshot.manifest.tag.strip_suffix(".base") {
                names.insert(name.to_owned());
            }
        }
    }
    Ok(names.into_iter().collect())
}

/// The recoverable windows and WAL gaps of archive `name`.
pub fn status(repo: &Repository, name: &str) -> Result<PitrStatus> {
    wal::validate_name(name)?;
    let bases = base_backups(repo, name)?;
    let segment_size = bases.last().map_or(DEFAULT_SEGMENT_SIZE, |(_, f)| f.wal_segment_size);
    let files = wal::list_files(repo, Some(name))?.files;
    let segments: HashSet<Segment> = files
        .iter()
        .filter_map(|(_, file)| Segment::from_file_name(file, segment_size))
        .collect();
    let timelines: BTreeSet<u32> = segments.iter().map(|s| s.timeline).collect();
    let archived_time = |file: &str| wal::read_record(repo, name, file).ok().flatten().map(|r| r.archived);

    let mut windows = Vec::new();
    let mut gaps = Vec::new();
    for (snapshot, facts) in &bases {
        let walk = walk_from(facts, &segments, &timelines, segment_size);
        let to_file = walk.last.map(|s| s.file_name(segment_size));
        let to_time = to_file.as_deref().and_then(archived_time).unwrap_or(snapshot.manifest.end);
        if let Some(gap) = walk.gap.filter(|g| !gaps.contains(g)) {
            gaps.push(gap);
        }
        windows.push(RecoverableWindow {
            base_backup: snapshot.id.clone(),
            from_time: snapshot.manifest.end,
            from_lsn: facts.stop_lsn,
            to_lsn: walk.last.map(|s| s.end(segment_size)).or(facts.stop_lsn),
            to_file,
            to_time,
            timeline: walk.timeline,
        });
    }
    let newest = segments
        .iter()
        .max_by_key(|s| (s.number, s.timeline))
        .map(|s| s.file_name(segment_size));
    Ok(PitrStatus {
        name: name.to_string(),
        newest_wal_archived: newest.as_deref().and_then(archived_time),
        newest_wal: newest,
        base_backups: bases
            .iter()
            .map(|(snapshot, facts)| BaseBackupSummary {
                snapshot_id: snapshot.id.clone(),
                label: snapshot.manifest.label.clone(),
                started: snapshot.manifest.start,
                ended: snapshot.manifest.end,
                server_version: facts.server_version.clone(),
                server_major: facts.server_major(),
                timeline: facts.timeline,
                start_lsn: facts.start_lsn,
                stop_lsn: facts.stop_lsn,
                size: snapshot.manifest.size,
            })
            .collect(),
        wal_files: files.len(),
        windows,
        gaps,
    })
}

struct Walk {
    /// The last archived segment of the unbroken run from the backup's own
    /// segment, if any is archived.
    last: Option<Segment>,
    timeline: u32,
    gap: Option<WalGap>,
}

/// Follows the archived segments from a base backup's end: segment after
/// segment, onto a later timeline where one continues (a recovery that was
/// promoted), until the next one is missing.
fn walk_from(facts: &BaseBackupFacts, segments: &HashSet<Segment>, timelines: &BTreeSet<u32>, segment_size: u64) -> Walk {
    let mut timeline = facts.timeline;
    let Some(stop) = facts.stop_lsn else {
        return Walk {
            last: None,
            timeline,
            gap: None,
        };
    };
    // The segment holding the backup's last byte of WAL: in the backup
    // itself up to the stop, and whatever the server wrote after it in the
    // same segment is in the archived copy, when there is one (a server
    // that does not archive does not switch segments at the backup's end).
    let own = Segment::of(Lsn(stop.0.saturating_sub(1)), timeline, segment_size);
    let mut number = own.number;
    let mut last = segments.contains(&own).then_some(own);
    loop {
        let next = number + 1;
        let continuing = timelines.range(timeline..).rev().find(|t| {
            segments.contains(&Segment {
                timeline: **t,
                number: next,
            })
        });
        match continuing {
            Some(t) => {
                timeline = *t;
                number = next;
                last = Some(Segment { timeline, number });
            }
            None => break,
        }
    }
    let resumes = segments
        .iter()
        .filter(|s| s.timeline >= timeline && s.number > number)
        .map(|s| s.number)
        .min();
    let gap = resumes.map(|resume| WalGap {
        timeline,
        after: Segment { timeline, number }.file_name(segment_size),
        missing_from: Segment {
            timeline,
            number: number + 1,
        }
        .file_name(segment_size),
        missing_to: Segment {
            timeline,
            number: resume - 1,
        }
        .file_name(segment_size),
    });
    Walk { last, timeline, gap }
}

/// What `check` says of the WAL chains: each gap after a base backup
/// breaks recovery there (an error); WAL without any base backup recovers
/// nothing (a warning).
#[derive(Default)]
pub struct ChainFindings {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    pub next_steps: Vec<String>,
}

/// Follows every archive's WAL from each base backup and reports where the
/// chain breaks.
pub fn check_chains(repo: &Repository) -> Result<ChainFindings> {
    let mut findings = ChainFindings::default();
    let mut names: Vec<String> = wal::list_files(repo, None)?.files.into_iter().map(|(name, _)| name).collect();
    names.dedup();
    for name in names {
        let status = status(repo, &name)?;
        if status.base_backups.is_empty() {
            findings.warnings.push(format!(
                "the WAL archive `{name}` has {} file(s) but no base backup: nothing can be recovered from it until one is \
                 taken (`lifeboat base-backup --name {name}`)",
                status.wal_files
            ));
            continue;
        }
        for gap in &status.gaps {
            findings.errors.push(format!(
                "the WAL chain of `{name}` is broken: {} to {} are missing (timeline {}); recovery from the base backups \
                 before the gap stops at the end of {}",
                gap.missing_from, gap.missing_to, gap.timeline, gap.after
            ));
        }
        if !status.gaps.is_empty() {
            findings.next_steps.push(format!(
                "take a new base backup of `{name}` (`lifeboat base-backup --name {name}`): recovery past the gap starts from \
                 a base backup taken after it; if the server still has the missing WAL files, push them (`lifeboat wal-push`)"
            ));
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: u64 = 16 << 20;

    fn walk(archived: &[u64]) -> Walk {
        let facts = BaseBackupFacts {
            timeline: 1,
            start_lsn: Some(Lsn(2 * SIZE + 0x28)),
            stop_lsn: Some(Lsn(2 * SIZE + 0x100)),
            ..Default::default()
        };
        let segments: HashSet<Segment> = archived.iter().map(|&number| Segment { timeline: 1, number }).collect();
        walk_from(&facts, &segments, &BTreeSet::from([1]), SIZE)
    }

    #[test]
    fn the_window_runs_from_the_backups_own_segment_when_it_is_archived() {
        // Written after the stop in the same segment: only its archived copy has it.
        assert_eq!(walk(&[2]).last.map(|s| s.number), Some(2));
        assert_eq!(walk(&[2, 3, 4]).last.map(|s| s.number), Some(4));
        // The backup's own segment switched away at its end and never archived.
        assert_eq!(walk(&[3]).last.map(|s| s.number), Some(3));
        assert!(walk(&[]).last.is_none());
        let gapped = walk(&[2, 5]);
        assert_eq!(gapped.last.map(|s| s.number), Some(2));
        let gap = gapped.gap.unwrap();
        assert_eq!(
            (gap.missing_from.as_str(), gap.missing_to.as_str()),
            ("000000010000000000000003", "000000010000000000000004")
        );
    }
}
