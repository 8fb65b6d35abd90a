//! Which blobs the snapshots and WAL records need: the root set of `check`
//! and `prune`.

use std::collections::HashSet;

use super::format::{parse_id, short_key};
use super::index::Index;
use super::manifest::Snapshot;
use super::read::read_chunk_list;
use super::wal::WalRecord;
use super::Repository;
use crate::error::Result;

/// Keys of every blob `snapshot` needs (its list blobs, their chunks, and
/// the bases of those stored as deltas), added to `reachable`. Fails if a
/// chunk list cannot be read. Sketch lists only guide the next backup's
/// choice of delta bases: kept while indexed, and one that is gone is no
/// damage (that backup warns and takes bases by place).
pub(crate) fn add_reachable(repo: &Repository, index: &Index, snapshot: &Snapshot, reachable: &mut HashSet<u128>) -> Result<()> {
    let what = format!("snapshot {}", &snapshot.id[..8]);
    let manifest = &snapshot.manifest;
    add_lists(repo, index, &manifest.blob_lists, &manifest.sketch_lists, &what, reachable)
}

/// [`add_reachable`] for an archived WAL file.
pub(crate) fn add_reachable_wal(repo: &Repository, index: &Index, record: &WalRecord, reachable: &mut HashSet<u128>) -> Result<()> {
    add_lists(repo, index, &record.blob_lists, &record.sketch_lists, &record.what(), reachable)
}

fn add_lists(
    repo: &Repository,
    index: &Index,
    blob_lists: &[String],
    sketch_lists: &[String],
    what: &str,
    reachable: &mut HashSet<u128>,
) -> Result<()> {
    let mut add = |key: u128| {
        reachable.insert(key);
        reachable.extend(index.bases_of(key).map(|base| short_key(&base)));
    };
    for list in blob_lists {
        let (list_id, ids) = read_chunk_list(repo, index, list, what)?;
        add(short_key(&list_id));
        for id in ids.chunks_exact(32) {
            add(short_key(id.try_into().expect("32 bytes")));
        }
    }
    for list in sketch_lists {
        if let Some(key) = parse_id(list, what).ok().map(|id| short_key(&id)) {
            if index.contains_key(key) {
                add(key);
            }
        }
    }
    Ok(())
}
