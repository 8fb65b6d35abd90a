//! What a repository holds, for an overview: snapshots per tag, bytes
//! stored against bytes protected.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::manifest::{self, SnapshotSummary};
use super::Repository;
use crate::error::Result;

/// The newest snapshot and the count for one tag (one database).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TagStats {
    pub tag: String,
    pub snapshots: usize,
    pub latest: SnapshotSummary,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RepositoryStats {
    pub snapshots: usize,
    /// Snapshots whose manifest cannot be read: `check` tells more.
    pub damaged_snapshots: usize,
    pub tags: Vec<TagStats>,
    /// Sum of every snapshot's stream size: what the repository protects.
    pub logical_bytes: u64,
    /// Bytes of pack files on disk (indexes and manifests are tiny beside them).
    pub stored_bytes: u64,
    pub packs: usize,
    pub oldest: Option<DateTime<Utc>>,
    pub newest: Option<DateTime<Utc>>,
}

impl RepositoryStats {
    /// Bytes protected per byte stored (dedup and compression together).
    pub fn dedup_ratio(&self) -> Option<f64> {
        (self.stored_bytes > 0).then(|| self.logical_bytes as f64 / self.stored_bytes as f64)
    }
}

/// Reads every manifest and lists the pack folder; no lock, no data read.
pub fn stats(repo: &Repository) -> Result<RepositoryStats> {
    let list = manifest::list(repo)?;
    let packs = super::check::packs_on_disk(repo)?;
    let mut tags: BTreeMap<String, TagStats> = BTreeMap::new();
    // Oldest to newest as `latest:` orders them, so the last one seen of a name is its latest.
    let mut ordered: Vec<_> = list.snapshots.iter().collect();
    ordered.sort_by(|a, b| a.manifest.recency().cmp(&b.manifest.recency()).then_with(|| a.id.cmp(&b.id)));
    for snapshot in ordered {
        let summary = snapshot.summary();
        tags.entry(summary.tag.clone())
            .and_modify(|t| {
                t.snapshots += 1;
                t.latest = summary.clone();
            })
            .or_insert_with(|| TagStats {
                tag: summary.tag.clone(),
                snapshots: 1,
                latest: summary.clone(),
            });
    }
    let times = list.snapshots.iter().map(|s| s.manifest.start);
    Ok(RepositoryStats {
        snapshots: list.snapshots.len(),
        damaged_snapshots: list.damaged.len(),
        tags: tags.into_values().collect(),
        logical_bytes: list.snapshots.iter().map(|s| s.manifest.size).sum(),
        stored_bytes: packs.values().sum(),
        packs: packs.len(),
        oldest: times.clone().min(),
        newest: times.max(),
    })
}
