//! Packs: many encrypted blobs in one file, so a 100 GB database is thousands
//! of files, not millions.
//!
//! Layout: `blob0 | blob1 | ... | header | u32 header length`. Each blob is
//! `nonce | AES-256-GCM(flag | payload) | tag` with the blob id as associated
//! data; `flag` says whether the payload is zstd or stored as is (already
//! incompressible data). The header (sealed the same way, bound to the pack id)
//! lists every blob, so the index can be rebuilt from packs alone. Every pack
//! has its own AES key derived from the pack id.

use aes_gcm::Aes256Gcm;

use super::format::{put_blob_record, BlobRecord, Cursor, BLOB_RECORD_SIZE};
use crate::crypto::{self, random_bytes, RepoKeys};
use crate::error::{Error, Result};

const HEADER_MAGIC: &[u8; 4] = b"LBPH";
const HEADER_VERSION: u8 = 1;
const FLAG_RAW: u8 = 0;
const FLAG_ZSTD: u8 = 1;

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
        self.plain.clear();
        self.plain.push(FLAG_ZSTD);
        let bound = zstd::zstd_safe::compress_bound(data.len());
        self.plain.resize(1 + bound, 0);
        let compressed = compressor
            .compress_to_buffer(data, &mut self.plain[1..])
            .map_err(|e| Error::Internal(format!("zstd compression failed: {e}")))?;
        if compressed < data.len() {
            self.plain.truncate(1 + compressed);
        } else {
            self.plain.clear();
            self.plain.push(FLAG_RAW);
            self.plain.extend_from_slice(data);
        }
        let plain = std::mem::take(&mut self.plain);
        let length = self.add_encoded(id, &plain, data.len() as u32);
        self.plain = plain;
        Ok(length)
    }

    /// Appends a blob already encoded (flag and payload, as [`open_encoded`]
    /// returns it): repacking moves blobs without recompressing them.
    pub fn add_encoded(&mut self, id: [u8; 32], encoded: &[u8], raw_length: u32) -> u32 {
        let offset = self.bytes.len();
        crypto::seal_into(&self.cipher, &id, encoded, &mut self.bytes);
        let length = (self.bytes.len() - offset) as u32;
        self.blobs.push(BlobRecord {
            id,
            offset: offset as u32,
            length,
            raw_length,
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

/// A pack header's plaintext: magic, version, blob count, blob records.
pub fn encode_header(blobs: &[BlobRecord]) -> Vec<u8> {
    let mut header = HEADER_MAGIC.to_vec();
    header.push(HEADER_VERSION);
    header.extend_from_slice(&(blobs.len() as u32).to_le_bytes());
    for blob in blobs {
        put_blob_record(&mut header, blob);
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
    let version = cursor.u8()?;
    if version != HEADER_VERSION {
        return Err(Error::UnsupportedVersion {
            found: version.into(),
            supported: HEADER_VERSION.into(),
        });
    }
    let count = cursor.count(BLOB_RECORD_SIZE)?;
    let blobs = (0..count).map(|_| cursor.blob_record()).collect::<Result<Vec<_>>>()?;
    cursor.finish()?;
    Ok(blobs)
}

/// Decrypts and decompresses one sealed blob and checks it is the blob `id`
/// names: authenticated under its pack's key, bound to `id`, and hashing back
/// to `id`. No byte of a blob is returned unless all of that holds.
pub fn open_blob(
    keys: &RepoKeys,
    cipher: &Aes256Gcm,
    id: &[u8; 32],
    raw_length: u32,
    sealed: &[u8],
    what: &dyn Fn() -> String,
) -> Result<Vec<u8>> {
    let plain = open_encoded(cipher, id, sealed, what)?;
    let (flag, payload) = plain.split_first().ok_or_else(|| Error::corrupt(what(), "empty"))?;
    let data = match *flag {
        FLAG_RAW => payload.to_vec(),
        FLAG_ZSTD => {
            zstd::bulk::decompress(payload, raw_length as usize).map_err(|e| Error::corrupt(what(), format!("decompression: {e}")))?
        }
        other => return Err(Error::corrupt(what(), format!("unknown encoding {other}"))),
    };
    if data.len() != raw_length as usize || keys.blob_id(&data) != *id {
        return Err(Error::corrupt(what(), "its content does not match its id"));
    }
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
            assert_eq!(
                &open_blob(&keys, &cipher, &blob.id, blob.raw_length, sealed, &|| "b".into()).unwrap(),
                data
            );
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
}
