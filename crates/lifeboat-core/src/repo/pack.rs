//! Packs: many encrypted blobs in one file, so a 100 GB database is thousands
//! of files, not millions.
//!
//! Layout: `blob0 | blob1 | ... | header | u32 header length`. Each blob is
//! `nonce | AES-256-GCM(flag | payload) | tag` with the blob id as associated
//! data; `flag` says whether the payload is zstd, stored as is (already
//! incompressible data), or a delta against another whole blob. The header (sealed the same way, bound to the pack id)
//! lists every blob, so the index can be rebuilt from packs alone. Every pack
//! has its own AES key derived from the pack id.

use std::cell::RefCell;

use aes_gcm::Aes256Gcm;

use super::format::{blob_record_size, check_layout_needed, check_record_version, put_blob_record, record_version, BlobRecord, Cursor};
use crate::crypto::{self, random_bytes, RepoKeys};
use crate::error::{Error, Result};

const HEADER_MAGIC: &[u8; 4] = b"LBPH";
const FLAG_RAW: u8 = 0;
const FLAG_ZSTD: u8 = 1;
/// Payload: the base blob's id, then a zstd frame compressed with the
/// base's bytes as its prefix (see `docs/CHUNKING.md`, "Deltas").
const FLAG_DELTA: u8 = 2;

/// Repository path of a pack.
pub fn pack_path(id: &[u8; 32]) -> String {
    let hex = super::format::hex(id);
    format!("data/{}/{hex}", &hex[..2])
}

/// A pack as the index knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackRecord {
    pub id: [u8; 32],
    /// Size of the pack file.
    pub size: u64,
    /// BLAKE3 of the whole pack file: lets `check --read-data` catch any
    /// flipped bit, even in bytes no snapshot uses.
    pub hash: [u8; 32],
    pub blobs: Vec<BlobRecord>,
}

/// Builds one pack in memory.
pub struct PackBuilder {
    id: [u8; 32],
    cipher: Aes256Gcm,
    bytes: Vec<u8>,
    blobs: Vec<BlobRecord>,
    plain: Vec<u8>,
}

impl PackBuilder {
    pub fn new(keys: &RepoKeys, capacity: usize) -> Self {
        let id = random_bytes::<32>();
        PackBuilder {
            id,
            cipher: keys.pack_cipher(&id),
            bytes: Vec::with_capacity(capacity),
            blobs: Vec::new(),
            plain: Vec::new(),
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }

    /// Compresses (with `compressor`, if that makes it smaller), encrypts and
    /// appends a blob. Returns the stored length.
    pub fn add(&mut self, id: [u8; 32], data: &[u8], compressor: &mut zstd::bulk::Compressor<'_>) -> Result<u32> {
        let plain = self.encode_whole(data, compressor)?;
        let length = self.add_encoded(id, &plain, data.len() as u32, None);
        self.plain = plain;
        Ok(length)
    }

    /// Appends a blob as `delta` (made by [`encode_delta`] against `base`)
    /// or compressed whole, whichever is smaller.
    pub fn add_smaller(
        &mut self,
        id: [u8; 32],
        data: &[u8],
        compressor: &mut zstd::bulk::Compressor<'_>,
        delta: Vec<u8>,
        base: [u8; 32],
    ) -> Result<u32> {
        let plain = self.encode_whole(data, compressor)?;
        let length = if delta.len() < plain.len() {
            self.add_encoded(id, &delta, data.len() as u32, Some(base))
        } else {
            self.add_encoded(id, &plain, data.len() as u32, None)
        };
        self.plain = plain;
        Ok(length)
    }

    /// Flag and payload of a whole blob: zstd, or the bytes as they are if
    /// that is no larger. Returns the builder's scratch buffer; give it back.
    fn encode_whole(&mut self, data: &[u8], compressor: &mut zstd::bulk::Compressor<'_>) -> Result<Vec<u8>> {
        let mut plain = std::mem::take(&mut self.plain);
        plain.clear();
        plain.push(FLAG_ZSTD);
        let bound = zstd::zstd_safe::compress_bound(data.len());
        plain.resize(1 + bound, 0);
        let compressed = compressor
            .compress_to_buffer(data, &mut plain[1..])
            .map_err(|e| Error::Internal(format!("zstd compression failed: {e}")))?;
        if compressed < data.len() {
            plain.truncate(1 + compressed);
        } else {
            plain.clear();
            plain.push(FLAG_RAW);
            plain.extend_from_slice(data);
        }
        Ok(plain)
    }

    /// Appends a blob already encoded (flag and payload, as [`open_encoded`]
    /// returns it, or [`encode_delta`] makes it, with the delta's `base`):
    /// repacking moves blobs without recompressing them.
    pub fn add_encoded(&mut self, id: [u8; 32], encoded: &[u8], raw_length: u32, base: Option<[u8; 32]>) -> u32 {
        let offset = self.bytes.len();
        crypto::seal_into(&self.cipher, &id, encoded, &mut self.bytes);
        let length = (self.bytes.len() - offset) as u32;
        self.blobs.push(BlobRecord {
            id,
            offset: offset as u32,
            length,
            raw_length,
            base,
        });
        length
    }

    /// Appends the header and returns the file's bytes with its record.
    pub fn finish(mut self) -> (Vec<u8>, PackRecord) {
        let header = encode_header(&self.blobs);
        let start = self.bytes.len();
        crypto::seal_into(&self.cipher, &header_aad(&self.id), &header, &mut self.bytes);
        let sealed_len = (self.bytes.len() - start) as u32;
        self.bytes.extend_from_slice(&sealed_len.to_le_bytes());
        let record = PackRecord {
            id: self.id,
            size: self.bytes.len() as u64,
            hash: *blake3::hash(&self.bytes).as_bytes(),
            blobs: self.blobs,
        };
        (self.bytes, record)
    }
}

/// A pack header's plaintext: magic, record layout version, blob count,
/// blob records.
pub fn encode_header(blobs: &[BlobRecord]) -> Vec<u8> {
    let version = record_version(blobs.iter());
    let mut header = HEADER_MAGIC.to_vec();
    header.push(version);
    header.extend_from_slice(&(blobs.len() as u32).to_le_bytes());
    for blob in blobs {
        put_blob_record(&mut header, blob, version);
    }
    header
}

fn header_aad(pack_id: &[u8; 32]) -> Vec<u8> {
    let mut aad = b"lifeboat pack header\0".to_vec();
    aad.extend_from_slice(pack_id);
    aad
}

/// Reads the blob list from a whole pack file, authenticating it.
pub fn read_header(keys: &RepoKeys, pack_id: &[u8; 32], bytes: &[u8], what: &str) -> Result<Vec<BlobRecord>> {
    if bytes.len() < 4 {
        return Err(Error::corrupt(what, "too short to be a pack"));
    }
    let (body, len) = bytes.split_at(bytes.len() - 4);
    let header_len = header_length(len.try_into().expect("4 bytes"), bytes.len() as u64, what)?;
    parse_header(keys, pack_id, &body[body.len() - header_len..], what)
}

/// The sealed header's length, from a pack's last four bytes, checked
/// against the pack's size.
pub fn header_length(last_four: [u8; 4], pack_size: u64, what: &str) -> Result<usize> {
    let header_len = u32::from_le_bytes(last_four);
    if u64::from(header_len) > pack_size.saturating_sub(4) {
        return Err(Error::corrupt(what, "its header length points outside the file (truncated?)"));
    }
    Ok(header_len as usize)
}

/// Authenticates a pack's sealed header and returns its blob list.
pub fn parse_header(keys: &RepoKeys, pack_id: &[u8; 32], sealed: &[u8], what: &str) -> Result<Vec<BlobRecord>> {
    let header = crypto::open(&keys.pack_cipher(pack_id), &header_aad(pack_id), sealed)
        .map_err(|_| Error::corrupt(what, "its header failed authentication"))?;
    decode_header(&header, what)
}

/// Parses an authenticated pack header's plaintext ([`encode_header`]).
pub fn decode_header(header: &[u8], what: &str) -> Result<Vec<BlobRecord>> {
    let mut cursor = Cursor::new(header, what);
    cursor.expect(HEADER_MAGIC)?;
    let version = check_record_version(cursor.u8()?)?;
    let count = cursor.count(blob_record_size(version))?;
    let blobs = (0..count).map(|_| cursor.blob_record(version)).collect::<Result<Vec<_>>>()?;
    cursor.finish()?;
    check_layout_needed(version, blobs.iter(), what)?;
    Ok(blobs)
}

/// A blob authenticated and decoded as far as its own bytes allow.
pub enum Opened {
    /// The blob's bytes, checked against its id.
    Whole(Vec<u8>),
    /// A delta: [`apply_delta`] rebuilds the blob from the base's bytes.
    Delta { base: [u8; 32], payload: Vec<u8> },
}

/// Decrypts and decompresses one sealed blob and checks it is the blob `id`
/// names: authenticated under its pack's key, bound to `id`, and hashing back
/// to `id`. No byte of a blob is returned unless all of that holds; a delta
/// is checked the same way once [`apply_delta`] rebuilt it.
pub fn open_blob(
    keys: &RepoKeys,
    cipher: &Aes256Gcm,
    id: &[u8; 32],
    raw_length: u32,
    sealed: &[u8],
    what: &dyn Fn() -> String,
) -> Result<Opened> {
    let mut plain = open_encoded(cipher, id, sealed, what)?;
    let (flag, payload) = plain.split_first().ok_or_else(|| Error::corrupt(what(), "empty"))?;
    let data = match *flag {
        FLAG_RAW => payload.to_vec(),
        FLAG_ZSTD => decompress_whole(payload, raw_length as usize).map_err(|e| Error::corrupt(what(), format!("decompression: {e}")))?,
        FLAG_DELTA => {
            let base: [u8; 32] = payload
                .get(..32)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| Error::corrupt(what(), "a delta without its base"))?;
            if base == *id {
                return Err(Error::corrupt(what(), "a delta of itself"));
            }
            plain.drain(..33);
            return Ok(Opened::Delta { base, payload: plain });
        }
        other => return Err(Error::corrupt(what(), format!("unknown encoding {other}"))),
    };
    check_content(keys, id, raw_length, &data, what)?;
    Ok(Opened::Whole(data))
}

/// Decompresses a whole blob with this thread's context: creating one per
/// blob cost 4 % of a `cat`'s CPU.
fn decompress_whole(payload: &[u8], raw_length: usize) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static CONTEXT: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    }
    CONTEXT.with_borrow_mut(|context| {
        let decompressor = match context {
            Some(decompressor) => decompressor,
            None => context.insert(zstd::bulk::Decompressor::new()?),
        };
        decompressor.decompress(payload, raw_length)
    })
}

fn check_content(keys: &RepoKeys, id: &[u8; 32], raw_length: u32, data: &[u8], what: &dyn Fn() -> String) -> Result<()> {
    if data.len() != raw_length as usize || keys.blob_id(data) != *id {
        return Err(Error::corrupt(what(), "its content does not match its id"));
    }
    Ok(())
}

/// Encodes `data` as a delta against `base` (whose id is `base_id`): the
/// flag, the base id, and zstd at `level` with the base as its prefix.
pub fn encode_delta(base_id: &[u8; 32], base: &[u8], data: &[u8], level: i32) -> Result<Vec<u8>> {
    let failed = |e: usize| Error::Internal(format!("zstd delta compression failed: {}", zstd::zstd_safe::get_error_name(e)));
    let mut encoded = Vec::with_capacity(33 + zstd::zstd_safe::compress_bound(data.len()));
    encoded.push(FLAG_DELTA);
    encoded.extend_from_slice(base_id);
    let mut payload = Vec::with_capacity(zstd::zstd_safe::compress_bound(data.len()));
    let mut context = zstd::zstd_safe::CCtx::create();
    context
        .set_parameter(zstd::zstd_safe::CParameter::CompressionLevel(level))
        .map_err(failed)?;
    context.ref_prefix(base).map_err(failed)?;
    context.compress2(&mut payload, data).map_err(failed)?;
    encoded.extend_from_slice(&payload);
    Ok(encoded)
}

/// Rebuilds a delta blob from its base's bytes and checks it against `id`.
pub fn apply_delta(
    keys: &RepoKeys,
    id: &[u8; 32],
    raw_length: u32,
    base: &[u8],
    payload: &[u8],
    what: &dyn Fn() -> String,
) -> Result<Vec<u8>> {
    let failed = |e: usize| Error::corrupt(what(), format!("delta decompression: {}", zstd::zstd_safe::get_error_name(e)));
    let mut data = Vec::with_capacity(raw_length as usize);
    let mut context = zstd::zstd_safe::DCtx::create();
    context.ref_prefix(base).map_err(failed)?;
    context.decompress(&mut data, payload).map_err(failed)?;
    check_content(keys, id, raw_length, &data, what)?;
    Ok(data)
}

/// Authenticates a sealed blob and returns it still encoded (flag, payload).
pub fn open_encoded(cipher: &Aes256Gcm, id: &[u8; 32], sealed: &[u8], what: &dyn Fn() -> String) -> Result<Vec<u8>> {
    crypto::open(cipher, id, sealed).map_err(|_| Error::corrupt(what(), "failed authentication"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn pack_round_trip_and_damage() {
        let keys = MasterKey::generate().derive();
        let mut compressor = zstd::bulk::Compressor::new(3).unwrap();
        let mut builder = PackBuilder::new(&keys, 1024);
        let compressible = vec![b'a'; 5000];
        let random: Vec<u8> = (0..3000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let ids = [keys.blob_id(&compressible), keys.blob_id(&random)];
        builder.add(ids[0], &compressible, &mut compressor).unwrap();
        builder.add(ids[1], &random, &mut compressor).unwrap();
        let (bytes, record) = builder.finish();
        let header = read_header(&keys, &record.id, &bytes, "pack").unwrap();
        assert_eq!(header, record.blobs);
        assert!(record.blobs[0].length < 200, "compressible blob is compressed");
        let cipher = keys.pack_cipher(&record.id);
        for (blob, data) in record.blobs.iter().zip([&compressible, &random]) {
            let sealed = &bytes[blob.offset as usize..(blob.offset + blob.length) as usize];
            let Opened::Whole(opened) = open_blob(&keys, &cipher, &blob.id, blob.raw_length, sealed, &|| "b".into()).unwrap() else {
                panic!("a whole blob opens whole")
            };
            assert_eq!(&opened, data);
            // The same bytes presented as another blob are refused.
            let other = if blob.id == ids[0] { ids[1] } else { ids[0] };
            assert!(open_blob(&keys, &cipher, &other, blob.raw_length, sealed, &|| "b".into()).is_err());
        }
        let mut flipped = bytes.clone();
        flipped[bytes.len() - 10] ^= 1;
        assert!(read_header(&keys, &record.id, &flipped, "pack").is_err());
        assert!(read_header(&keys, &record.id, &bytes[..bytes.len() - 1], "pack").is_err());
        assert!(read_header(&keys, &[0; 32], &bytes, "pack").is_err());
    }

    #[test]
    fn a_delta_rebuilds_only_from_its_own_base_and_is_checked_against_its_id() {
        let keys = MasterKey::generate().derive();
        let base = crate::crypto::random_bytes::<32_768>().to_vec();
        let mut changed = base.clone();
        changed[10_000..10_040].copy_from_slice(&[b'x'; 40]);
        let (base_id, id) = (keys.blob_id(&base), keys.blob_id(&changed));
        let encoded = encode_delta(&base_id, &base, &changed, 3).unwrap();
        assert!(encoded.len() < 200, "a 40-byte change costs {} bytes", encoded.len());

        let mut builder = PackBuilder::new(&keys, 1024);
        builder.add_encoded(id, &encoded, changed.len() as u32, Some(base_id));
        let (bytes, record) = builder.finish();
        assert_eq!(read_header(&keys, &record.id, &bytes, "pack").unwrap(), record.blobs);
        assert_eq!(record.blobs[0].base, Some(base_id));
        let blob = record.blobs[0];
        let sealed = &bytes[blob.offset as usize..(blob.offset + blob.length) as usize];
        let cipher = keys.pack_cipher(&record.id);
        let what = || "b".to_string();
        let Opened::Delta { base: named, payload } = open_blob(&keys, &cipher, &id, blob.raw_length, sealed, &what).unwrap() else {
            panic!("a delta opens as a delta")
        };
        assert_eq!(named, base_id);
        assert_eq!(apply_delta(&keys, &id, blob.raw_length, &base, &payload, &what).unwrap(), changed);
        // Another base, or a wrong length, never yields bytes.
        let mut other_base = base.clone();
        other_base[5] ^= 1;
        assert!(apply_delta(&keys, &id, blob.raw_length, &other_base, &payload, &what).is_err());
        assert!(apply_delta(&keys, &id, blob.raw_length - 1, &base, &payload, &what).is_err());
    }
}
