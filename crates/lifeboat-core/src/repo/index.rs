//! The index: which pack holds each blob, at which offset.
//!
//! On disk, `index/<id>` files (encrypted, content-addressed: the name is the
//! BLAKE3 of the file) each describe some packs. In memory, one sorted vector
//! of 32-byte entries keyed by the first 128 bits of the blob id: a repository
//! of a 50 GB database (~400 k blobs at 128 KiB) indexes in about 13 MiB.

use super::format::{self, blob_record_size, check_record_version, hex, put_blob_record, record_version, short_key, BlobRecord, Cursor};
use super::pack::PackRecord;
use super::Repository;
use crate::error::{Error, Result};

const INDEX_MAGIC: &[u8; 4] = b"LBIX";
const INDEX_AAD: &str = "lifeboat index";

/// A pack known to the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackInfo {
    pub id: [u8; 32],
    pub size: u64,
    pub hash: [u8; 32],
}

/// Where one blob is.
#[derive(Clone, Copy, Debug)]
pub struct BlobLocation {
    /// Position in [`Index::packs`].
    pub pack: u32,
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
}

#[derive(Clone, Copy)]
struct Entry {
    key: u128,
    location: BlobLocation,
}

/// The in-memory index of a whole repository.
#[derive(Default)]
pub struct Index {
    packs: Vec<PackInfo>,
    entries: Vec<Entry>,
    /// Every delta blob's key and its base's id, sorted: few next to the
    /// entries, so kept apart rather than widening every entry.
    deltas: Vec<(u128, [u8; 32])>,
    /// Names of the index files it was loaded from.
    pub files: Vec<String>,
}

impl Index {
    /// Reads every index file; a damaged one is an error.
    pub fn load(repo: &Repository) -> Result<Index> {
        let mut files = Vec::new();
        for file in repo.backend().list("index")? {
            let packs = read_index_file(repo, &file.name)?;
            files.push((file.name, packs));
        }
        Ok(Index::from_files(&files))
    }

    /// Builds the index from index files already read (name, packs).
    pub fn from_files(files: &[(String, Vec<PackRecord>)]) -> Index {
        let mut index = Index::default();
        let mut seen_packs = std::collections::HashMap::new();
        for (name, packs) in files {
            for pack in packs {
                if seen_packs.contains_key(&pack.id) {
                    continue; // listed by two index files (an interrupted prune): once is enough
                }
                index.packs.push(PackInfo {
                    id: pack.id,
                    size: pack.size,
                    hash: pack.hash,
                });
                let pack_pos = (index.packs.len() - 1) as u32;
                seen_packs.insert(pack.id, pack_pos);
                index
                    .deltas
                    .extend(pack.blobs.iter().filter_map(|b| Some((short_key(&b.id), b.base?))));
                index.entries.extend(pack.blobs.iter().map(|b| Entry {
                    key: short_key(&b.id),
                    location: BlobLocation {
                        pack: pack_pos,
                        offset: b.offset,
                        length: b.length,
                        raw_length: b.raw_length,
                    },
                }));
            }
            index.files.push(name.clone());
        }
        index.entries.sort_unstable_by_key(|e| e.key);
        index.entries.shrink_to_fit();
        index.deltas.sort_unstable();
        index.deltas.dedup();
        index
    }

    pub fn packs(&self) -> &[PackInfo] {
        &self.packs
    }

    /// Number of blob entries (a blob stored in two packs counts twice).
    pub fn blob_count(&self) -> usize {
        self.entries.len()
    }

    pub fn contains(&self, id: &[u8; 32]) -> bool {
        self.contains_key(short_key(id))
    }

    pub(crate) fn contains_key(&self, key: u128) -> bool {
        self.entries.binary_search_by_key(&key, |e| e.key).is_ok()
    }

    /// Whether some copy of blob `key` is a delta (so it is no base).
    pub(crate) fn is_delta(&self, key: u128) -> bool {
        self.bases_of(key).next().is_some()
    }

    /// The ids of the bases the stored copies of delta `key` need.
    pub(crate) fn bases_of(&self, key: u128) -> impl Iterator<Item = [u8; 32]> + '_ {
        let start = self.deltas.partition_point(|(delta, _)| *delta < key);
        self.deltas[start..]
            .iter()
            .take_while(move |(delta, _)| *delta == key)
            .map(|(_, base)| *base)
    }

    pub fn lookup(&self, id: &[u8; 32]) -> Option<BlobLocation> {
        self.locations(id).next()
    }

    /// Every stored copy of a blob (two writers that ran at once may both
    /// have stored it, one whole and one as a delta).
    pub(crate) fn locations(&self, id: &[u8; 32]) -> impl Iterator<Item = BlobLocation> + '_ {
        let key = short_key(id);
        let start = self.entries.partition_point(|e| e.key < key);
        self.entries[start..].iter().take_while(move |e| e.key == key).map(|e| e.location)
    }
}

/// Writes an index file describing `packs`; returns its name.
pub fn write_index_file(repo: &Repository, packs: &[PackRecord]) -> Result<String> {
    let sealed = format::seal_metadata(repo.keys(), INDEX_AAD, &encode_index_file(packs));
    let name = hex(blake3::hash(&sealed).as_bytes());
    repo.backend().write(&format!("index/{name}"), &sealed)?;
    Ok(name)
}

/// An index file's plaintext: magic, record layout version, then each pack
/// and its blobs.
pub fn encode_index_file(packs: &[PackRecord]) -> Vec<u8> {
    let version = record_version(packs.iter().flat_map(|p| &p.blobs));
    let mut plain = INDEX_MAGIC.to_vec();
    plain.push(version);
    plain.extend_from_slice(&(packs.len() as u32).to_le_bytes());
    for pack in packs {
        plain.extend_from_slice(&pack.id);
        plain.extend_from_slice(&pack.size.to_le_bytes());
        plain.extend_from_slice(&pack.hash);
        plain.extend_from_slice(&(pack.blobs.len() as u32).to_le_bytes());
        for blob in &pack.blobs {
            put_blob_record(&mut plain, blob, version);
        }
    }
    plain
}

/// Reads and authenticates one index file.
pub fn read_index_file(repo: &Repository, name: &str) -> Result<Vec<PackRecord>> {
    let what = format!("index file index/{name}");
    let bytes = repo.backend().read(&format!("index/{name}"), super::format::INDEX_FILE_MAX)?;
    if hex(blake3::hash(&bytes).as_bytes()) != name {
        return Err(Error::corrupt(&what, "its content does not match its name"));
    }
    let plain = format::open_metadata(repo.keys(), INDEX_AAD, &bytes, &what)?;
    decode_index_file(&plain, &what)
}

/// Parses an authenticated index file's plaintext ([`encode_index_file`]).
pub fn decode_index_file(plain: &[u8], what: &str) -> Result<Vec<PackRecord>> {
    let mut cursor = Cursor::new(plain, what);
    cursor.expect(INDEX_MAGIC)?;
    let version = check_record_version(cursor.u8()?)?;
    let pack_count = cursor.count(32 + 8 + 32 + 4)?;
    let mut packs = Vec::with_capacity(pack_count);
    for _ in 0..pack_count {
        let id = cursor.id()?;
        let size = cursor.u64()?;
        let hash = cursor.id()?;
        let blob_count = cursor.count(blob_record_size(version))?;
        let blobs = (0..blob_count)
            .map(|_| cursor.blob_record(version))
            .collect::<Result<Vec<BlobRecord>>>()?;
        packs.push(PackRecord { id, size, hash, blobs });
    }
    cursor.finish()?;
    format::check_layout_needed(version, packs.iter().flat_map(|p| &p.blobs), what)?;
    Ok(packs)
}
