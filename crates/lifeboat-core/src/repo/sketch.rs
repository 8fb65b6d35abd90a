//! Resemblance sketches: which earlier chunk a new chunk is most like.
//!
//! A dump is made of lines (one row of COPY data each), and a row keeps its
//! first bytes (its key, mostly) when other rows around it change. A
//! chunk's sketch is the [`FEATURES`] smallest hashes of its line
//! beginnings (a bottom-k min-hash): two chunks that share most rows share
//! most of their sketch, chunks of other rows share nothing. The backup
//! stores each snapshot's sketches beside its chunk list, so the next
//! backup finds a changed chunk's earlier version wherever the changes
//! around it moved it (see `docs/CHUNKING.md`, "Which base").

use xxhash_rust::xxh3::xxh3_64;

/// Features per chunk.
pub const FEATURES: usize = 4;
/// Bytes of one chunk's sketch in a sketch list.
pub const SKETCH_BYTES: usize = FEATURES * 4;
/// A sketch: feature hashes, smallest first; unused slots are [`NONE`].
pub type Sketch = [u32; FEATURES];
/// No feature (a chunk with fewer lines than [`FEATURES`]).
pub const NONE: u32 = 0;
/// Bytes of a line's beginning that make its feature.
const LINE_PREFIX: usize = 32;

/// The sketch of one chunk.
pub fn of(chunk: &[u8]) -> Sketch {
    let mut sketch = [u32::MAX; FEATURES];
    for newline in memchr::memchr_iter(b'\n', chunk) {
        let rest = &chunk[newline + 1..];
        let prefix = &rest[..rest.len().min(LINE_PREFIX)];
        let prefix = match memchr::memchr(b'\n', prefix) {
            Some(end) => &prefix[..end],
            // A line cut by the chunk's end hashes other bytes elsewhere.
            None if prefix.len() < LINE_PREFIX => continue,
            None => prefix,
        };
        if prefix.is_empty() {
            continue;
        }
        let feature = ((xxh3_64(prefix) >> 32) as u32).max(1);
        if feature < sketch[FEATURES - 1] && !sketch.contains(&feature) {
            sketch[FEATURES - 1] = feature;
            sketch.sort_unstable();
        }
    }
    sketch.map(|feature| if feature == u32::MAX { NONE } else { feature })
}

/// Appends a sketch to a sketch list.
pub fn encode(sketch: &Sketch, list: &mut Vec<u8>) {
    for feature in sketch {
        list.extend_from_slice(&feature.to_le_bytes());
    }
}

/// The sketches of a sketch list, or None if its length is not whole sketches.
pub fn decode(list: &[u8]) -> Option<impl Iterator<Item = Sketch> + '_> {
    list.len().is_multiple_of(SKETCH_BYTES).then(|| {
        list.chunks_exact(SKETCH_BYTES)
            .map(|bytes| std::array::from_fn(|i| u32::from_le_bytes(bytes[i * 4..i * 4 + 4].try_into().expect("4 bytes"))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(keys: impl Iterator<Item = u32>) -> Vec<u8> {
        let mut chunk = b"tail of an earlier row\n".to_vec();
        for key in keys {
            chunk.extend_from_slice(format!("{key}\t2026-11-30 10:00:00+00\tInvoice {key}\tnet 30 days\n").as_bytes());
        }
        chunk
    }

    fn shared(a: &Sketch, b: &Sketch) -> usize {
        a.iter().filter(|f| **f != NONE && b.contains(f)).count()
    }

    #[test]
    fn chunks_of_mostly_the_same_rows_share_their_sketch_others_nothing() {
        let earlier = of(&rows(0..1000));
        // A tenth of the rows gone, a few new ones, in another place.
        let changed = of(&rows((0..1000).filter(|k| k % 10 != 3).chain(5000..5020)));
        let other = of(&rows(2000..3000));
        assert!(earlier.iter().all(|f| *f != NONE));
        assert!(shared(&earlier, &changed) >= FEATURES / 2, "{earlier:?} {changed:?}");
        assert_eq!(shared(&earlier, &other), 0);
    }

    #[test]
    fn a_chunk_without_whole_lines_has_no_features() {
        assert_eq!(of(b"no newline at all"), [NONE; FEATURES]);
        // The line after the only newline is cut short by the chunk's end.
        assert_eq!(of(b"end of a row\nstart of"), [NONE; FEATURES]);
        assert_eq!(of(b"\n\n\n"), [NONE; FEATURES]);
        let one = of(b"x\nrow one\n");
        assert_ne!(one[0], NONE);
        assert_eq!(one[1..], [NONE; FEATURES - 1]);
    }

    #[test]
    fn a_sketch_list_round_trips() {
        let sketches = [of(&rows(0..50)), [NONE; FEATURES]];
        let mut list = Vec::new();
        sketches.iter().for_each(|s| encode(s, &mut list));
        assert_eq!(decode(&list).unwrap().collect::<Vec<_>>(), sketches);
        assert!(decode(&list[1..]).is_none());
    }
}
