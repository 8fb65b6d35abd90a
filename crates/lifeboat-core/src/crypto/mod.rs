//! Keys and authenticated encryption.
//!
//! One random 256-bit master key per repository. It is never stored in the
//! clear: key slots wrap it (see [`slots`]). Every other key is derived from it
//! with BLAKE3's key derivation, each under its own context string, so a key
//! used for one purpose is never reused for another.

pub mod kek;
pub mod keychain;
pub mod recovery;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of an AES-GCM nonce; nonces are random and stored before the ciphertext.
pub const NONCE_LEN: usize = 12;
/// Length of an AES-GCM authentication tag; stored after the ciphertext.
pub const TAG_LEN: usize = 16;
/// Bytes a sealed message adds to its plaintext.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// The repository's master key. Zeroed when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// A fresh random master key, for a new repository.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        MasterKey(key)
    }

    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The keys every repository operation uses, derived once per open.
    pub fn derive(&self) -> RepoKeys {
        RepoKeys {
            metadata: Aes256Gcm::new(&blake3::derive_key("lifeboat 2026 metadata encryption", &self.0).into()),
            pack_base: blake3::derive_key("lifeboat 2026 pack key base", &self.0),
            blob_id: blake3::derive_key("lifeboat 2026 blob id", &self.0),
            chunker_seed: {
                let seed = blake3::derive_key("lifeboat 2026 chunker seed", &self.0);
                u64::from_le_bytes(seed[..8].try_into().expect("8 bytes"))
            },
        }
    }
}

/// Keys derived from the master key.
///
/// Blob ids are keyed hashes so the store cannot confirm guesses about content;
/// the chunker's gear table is seeded so chunk boundaries (and so chunk sizes)
/// do not fingerprint known content either. Each pack is encrypted under its
/// own subkey, so the number of random nonces drawn under any one AES key stays
/// far below the GCM birthday bound however large the repository grows.
pub struct RepoKeys {
    metadata: Aes256Gcm,
    pack_base: [u8; 32],
    blob_id: [u8; 32],
    chunker_seed: u64,
}

impl Drop for RepoKeys {
    fn drop(&mut self) {
        self.pack_base.zeroize();
        self.blob_id.zeroize();
        self.chunker_seed.zeroize();
    }
}

impl RepoKeys {
    /// The id of a blob: BLAKE3 keyed with the repository's id key.
    pub fn blob_id(&self, plaintext: &[u8]) -> [u8; 32] {
        *blake3::keyed_hash(&self.blob_id, plaintext).as_bytes()
    }

    /// Seed for the content-defined chunker's gear table.
    pub fn chunker_seed(&self) -> u64 {
        self.chunker_seed
    }

    /// The cipher for the blobs and header of one pack.
    pub fn pack_cipher(&self, pack_id: &[u8; 32]) -> Aes256Gcm {
        Aes256Gcm::new(&blake3::keyed_hash(&self.pack_base, pack_id).as_bytes().to_owned().into())
    }

    /// Cipher for repository metadata: index files, manifests, pointers.
    pub fn metadata_cipher(&self) -> &Aes256Gcm {
        &self.metadata
    }
}

/// Appends `nonce || ciphertext || tag` of `plaintext` to `out`.
pub fn seal_into(cipher: &Aes256Gcm, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), aad, &mut out[start..])
        .expect("AES-GCM encrypts any message shorter than 64 GiB");
    out.extend_from_slice(&tag);
}

/// `nonce || ciphertext || tag` of `plaintext`.
pub fn seal(cipher: &Aes256Gcm, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
    seal_into(cipher, aad, plaintext, &mut out);
    out
}

/// The message sealed in `sealed` failed to authenticate: it was damaged,
/// truncated, moved, or sealed under another key.
#[derive(Debug, PartialEq, Eq)]
pub struct AuthenticationFailed;

/// Opens what [`seal`] produced, checking it is authentic.
pub fn open(cipher: &Aes256Gcm, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, AuthenticationFailed> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(AuthenticationFailed);
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut plaintext = ciphertext.to_vec();
    cipher
        .decrypt_in_place_detached(Nonce::from_slice(nonce), aad, &mut plaintext, Tag::from_slice(tag))
        .map_err(|_| AuthenticationFailed)?;
    Ok(plaintext)
}

/// Random bytes from the OS, for ids, salts and keys.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_message_opens_only_with_same_key_and_aad() {
        let keys = MasterKey::generate().derive();
        let sealed = seal(keys.metadata_cipher(), b"index", b"hello");
        assert_eq!(open(keys.metadata_cipher(), b"index", &sealed).unwrap(), b"hello");
        assert_eq!(open(keys.metadata_cipher(), b"snapshot", &sealed), Err(AuthenticationFailed));
        let other = MasterKey::generate().derive();
        assert_eq!(open(other.metadata_cipher(), b"index", &sealed), Err(AuthenticationFailed));
        for i in 0..sealed.len() {
            let mut flipped = sealed.clone();
            flipped[i] ^= 0x01;
            assert_eq!(open(keys.metadata_cipher(), b"index", &flipped), Err(AuthenticationFailed));
        }
        assert_eq!(
            open(keys.metadata_cipher(), b"index", &sealed[..sealed.len() - 1]),
            Err(AuthenticationFailed)
        );
    }

    #[test]
    fn blob_ids_are_keyed() {
        let a = MasterKey::generate().derive();
        let b = MasterKey::generate().derive();
        assert_eq!(a.blob_id(b"x"), a.blob_id(b"x"));
        assert_ne!(a.blob_id(b"x"), b.blob_id(b"x"));
        assert_ne!(
            a.pack_cipher(&[1; 32])
                .encrypt_in_place_detached(Nonce::from_slice(&[0; 12]), b"", &mut [0u8; 4])
                .unwrap(),
            a.pack_cipher(&[2; 32])
                .encrypt_in_place_detached(Nonce::from_slice(&[0; 12]), b"", &mut [0u8; 4])
                .unwrap()
        );
    }
}
