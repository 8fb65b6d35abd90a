//! Which blobs the snapshots need: the root set of `check` and `prune`.

use std::collections::HashSet;

use super::format::short_key;
use super::index::Index;
use super::manifest::Snapshot;
use super::read::read_chunk_list;
use super::Repository;
use crate::error::Result;

/// Keys of every blob `snapshot` needs (its list blobs, their chunks, and
/// the bases of chunks stored as deltas), added to `reachable`. Fails if a
/// list blob cannot be read.
pub(crate) fn add_reachable(repo: &Repository, index: &Index, snapshot: &Snapshot, reachable: &mut HashSet<u128>) -> Result<()> {
    let what = format!("snapshot {}", &snapshot.id[..8]);
    for list in &snapshot.manifest.blob_lists {
        let (list_id, ids) = read_chunk_list(repo, index, list, &what)?;
        reachable.insert(short_key(&list_id));
        for id in ids.chunks_exact(32) {
            let key = short_key(id.try_into().expect("32 bytes"));
            reachable.insert(key);
            reachable.extend(index.bases_of(key).map(|base| short_key(&base)));
        }
    }
    Ok(())
}
