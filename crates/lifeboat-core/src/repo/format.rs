//! Byte layouts shared by packs and index files, and the envelope of
//! encrypted metadata files.
//!
//! Blob records are fixed-size binary rather than JSON: an index of a large
//! database holds millions of them. Version 1 records (44 bytes) describe
//! whole blobs; version 2 records (76 bytes) add the id of the base a delta
//! blob is stored against (all zeros for a whole blob). A file is written in
//! version 2 only when one of its blobs is a delta, which only repositories of
//! format 2 and later store, so a format-1 repository stays readable by older builds.

use serde::{de::DeserializeOwned, Serialize};

use crate::crypto::{self, RepoKeys};
use crate::error::{Error, Result};

/// The most bytes a `config`, key slot, lock or pointer file can have.
pub const SMALL_FILE_MAX: u64 = 1 << 20;
/// The most bytes a snapshot manifest can have (its blob lists are blobs).
pub const MANIFEST_MAX: u64 = 64 << 20;
/// The most bytes one index file can have (prune's single index of a
/// repository of tens of terabytes stays well below).
pub const INDEX_FILE_MAX: u64 = 4 << 30;

/// The most bytes a pack of `repo` can have: its configured size, plus
/// the largest blob that may close it, plus its header.
pub fn pack_max(repo: &super::Repository) -> u64 {
    2 * u64::from(repo.config().pack_size) + (16 << 20)
}

/// A blob's place inside its pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlobRecord {
    pub id: [u8; 32],
    /// Offset of the sealed blob from the start of the pack file.
    pub offset: u32,
    /// Length of the sealed blob (nonce, ciphertext, tag).
    pub length: u32,
    /// Length of the blob's plaintext.
    pub raw_length: u32,
    /// For a delta blob, the whole blob it is stored against: reading it
    /// needs that base, so `prune` keeps the base while the delta lives.
    pub base: Option<[u8; 32]>,
}

/// Record layout versions (see the module comment).
pub(crate) const WHOLE_RECORDS: u8 = 1;
pub(crate) const DELTA_RECORDS: u8 = 2;

/// Bytes of one blob record in a file of record layout `version`.
pub(crate) fn blob_record_size(version: u8) -> usize {
    match version {
        WHOLE_RECORDS => 32 + 4 + 4 + 4,
        _ => 32 + 4 + 4 + 4 + 32,
    }
}

/// The record layout a file listing `blobs` is written in: the older one
/// unless a delta needs the newer.
pub(crate) fn record_version<'a>(mut blobs: impl Iterator<Item = &'a BlobRecord>) -> u8 {
    if blobs.any(|b| b.base.is_some()) {
        DELTA_RECORDS
    } else {
        WHOLE_RECORDS
    }
}

pub(crate) fn put_blob_record(out: &mut Vec<u8>, record: &BlobRecord, version: u8) {
    out.extend_from_slice(&record.id);
    out.extend_from_slice(&record.offset.to_le_bytes());
    out.extend_from_slice(&record.length.to_le_bytes());
    out.extend_from_slice(&record.raw_length.to_le_bytes());
    if version == DELTA_RECORDS {
        out.extend_from_slice(&record.base.unwrap_or([0; 32]));
    }
}

/// Refuses a file in record layout 2 that names no delta: no writer makes
/// one, and it would not re-encode to the same bytes.
pub(crate) fn check_layout_needed<'a>(version: u8, mut blobs: impl Iterator<Item = &'a BlobRecord>, what: &str) -> Result<()> {
    if version == DELTA_RECORDS && !blobs.any(|b| b.base.is_some()) {
        return Err(Error::corrupt(what, "record layout 2 without a delta"));
    }
    Ok(())
}

/// Checks a record layout version read from a file.
pub(crate) fn check_record_version(version: u8) -> Result<u8> {
    match version {
        WHOLE_RECORDS | DELTA_RECORDS => Ok(version),
        other => Err(Error::UnsupportedVersion {
            found: other.into(),
            supported: DELTA_RECORDS.into(),
        }),
    }
}

/// Reads fixed-size fields off a byte slice, failing cleanly when it runs out.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    what: &'a str,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'a str) -> Self {
        Cursor { bytes, what }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(Error::corrupt(self.what, "it ends early"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub(crate) fn expect(&mut self, magic: &[u8]) -> Result<()> {
        if self.take(magic.len())? != magic {
            return Err(Error::corrupt(self.what, "unknown file type"));
        }
        Ok(())
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    pub(crate) fn id(&mut self) -> Result<[u8; 32]> {
        Ok(self.take(32)?.try_into().expect("32 bytes"))
    }

    pub(crate) fn blob_record(&mut self, version: u8) -> Result<BlobRecord> {
        let mut record = BlobRecord {
            id: self.id()?,
            offset: self.u32()?,
            length: self.u32()?,
            raw_length: self.u32()?,
            base: None,
        };
        if version == DELTA_RECORDS {
            record.base = Some(self.id()?).filter(|base| *base != [0; 32]);
            if record.base == Some(record.id) {
                return Err(Error::corrupt(self.what, "a blob is recorded as a delta of itself"));
            }
        }
        Ok(record)
    }

    /// A count of records that must still fit in the remaining bytes (so a
    /// damaged count cannot make us allocate gigabytes).
    pub(crate) fn count(&mut self, min_record_len: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_record_len) > self.bytes.len() {
            return Err(Error::corrupt(self.what, "a record count exceeds the file"));
        }
        Ok(n)
    }

    pub(crate) fn finish(&self) -> Result<()> {
        if !self.bytes.is_empty() {
            return Err(Error::corrupt(self.what, "unexpected bytes at the end"));
        }
        Ok(())
    }
}

/// Magic of encrypted metadata files: "Lifeboat Metadata", format 1.
const METADATA_MAGIC: &[u8; 4] = b"LBM1";

/// Seals a metadata file: zstd, then AES-256-GCM under the metadata key, with
/// `aad` saying what the file is (so a manifest cannot pass for an index).
pub(crate) fn seal_metadata(keys: &RepoKeys, aad: &str, plaintext: &[u8]) -> Vec<u8> {
    let compressed = zstd::bulk::compress(plaintext, 3).expect("zstd compresses in memory");
    let mut out = METADATA_MAGIC.to_vec();
    crypto::seal_into(keys.metadata_cipher(), aad.as_bytes(), &compressed, &mut out);
    out
}

/// Opens a file made by [`seal_metadata`]; `what` names it in errors.
pub(crate) fn open_metadata(keys: &RepoKeys, aad: &str, bytes: &[u8], what: &str) -> Result<Vec<u8>> {
    let sealed = bytes
        .strip_prefix(METADATA_MAGIC.as_slice())
        .ok_or_else(|| Error::corrupt(what, "not a Lifeboat metadata file (or from a newer format)"))?;
    let compressed = crypto::open(keys.metadata_cipher(), aad.as_bytes(), sealed)
        .map_err(|_| Error::corrupt(what, "it failed authentication (damaged, truncated, or not from this repository)"))?;
    // Bounded even after authentication: a metadata file expands at most
    // 16-fold beyond 16 MiB (index records and JSON compress far less),
    // so no file, however made, can ask for more memory than that.
    let limit = (compressed.len() as u64)
        .saturating_mul(METADATA_EXPANSION_MAX)
        .max(METADATA_PLAIN_FLOOR);
    let mut plain = Vec::new();
    let decoder =
        zstd::stream::read::Decoder::new(compressed.as_slice()).map_err(|e| Error::corrupt(what, format!("decompression: {e}")))?;
    std::io::Read::read_to_end(&mut std::io::Read::take(decoder, limit + 1), &mut plain)
        .map_err(|e| Error::corrupt(what, format!("decompression: {e}")))?;
    if plain.len() as u64 > limit {
        return Err(Error::corrupt(what, format!("it expands beyond {limit} bytes")));
    }
    Ok(plain)
}

/// How many times its compressed size a metadata file may expand to...
const METADATA_EXPANSION_MAX: u64 = 16;
/// ...once past this many bytes.
const METADATA_PLAIN_FLOOR: u64 = 16 << 20;

pub(crate) fn seal_json(keys: &RepoKeys, aad: &str, value: &impl Serialize) -> Vec<u8> {
    seal_metadata(keys, aad, &serde_json::to_vec(value).expect("metadata serializes"))
}

pub(crate) fn open_json<T: DeserializeOwned>(keys: &RepoKeys, aad: &str, bytes: &[u8], what: &str) -> Result<T> {
    let plain = open_metadata(keys, aad, bytes, what)?;
    serde_json::from_slice(&plain).map_err(|e| Error::corrupt(what, e.to_string()))
}

/// Lower-case hex of an id.
pub fn hex(id: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(id)
}

/// Parses a 64-character hex id.
pub(crate) fn parse_id(text: &str, what: &str) -> Result<[u8; 32]> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(text.as_bytes())
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
        .ok_or_else(|| Error::corrupt(what, format!("`{text}` is not an id")))
}

/// The 128-bit key of a blob id used by in-memory indexes: half the memory of
/// the full id, and a collision among them is still astronomically unlikely
/// (reading a blob always authenticates against the full id anyway).
pub(crate) fn short_key(id: &[u8; 32]) -> u128 {
    u128::from_le_bytes(id[..16].try_into().expect("16 bytes"))
}

#[cfg(test)]
mod metadata_tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn metadata_that_would_expand_without_bound_is_refused_after_authenticating() {
        let keys = MasterKey::generate().derive();
        let small = vec![7u8; 1 << 20];
        let sealed = seal_metadata(&keys, "test", &small);
        assert_eq!(open_metadata(&keys, "test", &sealed, "a test file").unwrap(), small);
        // 17 MiB of zeros compress to a few KiB: far past 16-fold.
        let bomb = seal_metadata(&keys, "test", &vec![0u8; 17 << 20]);
        let err = open_metadata(&keys, "test", &bomb, "a test file").unwrap_err();
        assert!(err.to_string().contains("expands beyond"), "{err}");
    }
}
