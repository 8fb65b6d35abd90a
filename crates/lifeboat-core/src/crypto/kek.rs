//! Key-encryption keys (KEKs): what a passphrase or a recovery code turns
//! into, and what unwraps the master key from a key slot.
//!
//! A passphrase goes through Argon2id; a recovery code is 256 random bits,
//! high entropy on its own, so it needs no slow KDF.

use aes_gcm::{Aes256Gcm, KeyInit};
use data_encoding::BASE64;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::random_bytes;
use crate::error::{Error, Result};

/// A key-encryption key: what a passphrase or recovery code turns into.
/// The OS keychain caches this (never the passphrase itself).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Kek(pub(crate) [u8; 32]);

impl Kek {
    pub(crate) fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

/// How a slot turns its secret into a KEK.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "algorithm", rename_all = "kebab-case")]
pub enum Kdf {
    /// Argon2id over a passphrase.
    Argon2id {
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        salt: String,
    },
    /// BLAKE3 key derivation over a 256-bit recovery code.
    RecoveryCode,
}

/// Argon2id cost for new passphrase slots: RFC 9106's second recommended
/// option (64 MiB, 3 passes), with one lane so it behaves the same on any core
/// count. About a third of a second here, once per open; the keychain cache
/// skips it on later opens.
pub const DEFAULT_ARGON2_MEMORY_KIB: u32 = 64 * 1024;
pub const DEFAULT_ARGON2_ITERATIONS: u32 = 3;
/// Bounds on what a slot read from disk may ask for.
const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ARGON2_ITERATIONS: u32 = 64;
const MAX_ARGON2_PARALLELISM: u32 = 16;

impl Kdf {
    /// Argon2id with today's cost and a fresh salt, for a new passphrase slot.
    pub fn new_argon2id() -> Kdf {
        Kdf::Argon2id {
            memory_kib: DEFAULT_ARGON2_MEMORY_KIB,
            iterations: DEFAULT_ARGON2_ITERATIONS,
            parallelism: 1,
            salt: BASE64.encode(&random_bytes::<16>()),
        }
    }

    /// Refuses parameters read from disk that would make deriving allocate
    /// gigabytes or run for hours.
    pub fn check_bounds(&self) -> std::result::Result<(), String> {
        if let Kdf::Argon2id {
            memory_kib,
            iterations,
            parallelism,
            ..
        } = *self
        {
            if memory_kib > MAX_ARGON2_MEMORY_KIB || iterations > MAX_ARGON2_ITERATIONS || parallelism > MAX_ARGON2_PARALLELISM {
                return Err(format!(
                    "its Argon2 parameters ({memory_kib} KiB, {iterations} passes, {parallelism} lanes) are beyond \
                     what Lifeboat accepts ({MAX_ARGON2_MEMORY_KIB} KiB, {MAX_ARGON2_ITERATIONS} passes, {MAX_ARGON2_PARALLELISM} lanes)"
                ));
            }
        }
        Ok(())
    }

    /// Derives the KEK from a passphrase (slow: Argon2id). Only for Argon2id.
    pub fn derive(&self, passphrase: &str) -> Result<Kek> {
        let Kdf::Argon2id {
            memory_kib,
            iterations,
            parallelism,
            salt,
        } = self
        else {
            unreachable!("derive is only called for Argon2id slots")
        };
        let bad = |detail: String| Error::corrupt("key slot", detail);
        let salt = BASE64.decode(salt.as_bytes()).map_err(|e| bad(format!("salt: {e}")))?;
        let params =
            argon2::Params::new(*memory_kib, *iterations, *parallelism, Some(32)).map_err(|e| bad(format!("Argon2 parameters: {e}")))?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut kek = [0u8; 32];
        argon
            .hash_password_into(passphrase.as_bytes(), &salt, &mut kek)
            .map_err(|e| bad(format!("Argon2: {e}")))?;
        Ok(Kek(kek))
    }
}

/// The KEK of a recovery slot.
pub fn recovery_kek(code: &[u8; 32]) -> Kek {
    Kek(blake3::derive_key("lifeboat 2026 recovery kit", code))
}
