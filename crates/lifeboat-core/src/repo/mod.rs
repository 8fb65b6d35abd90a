//! The repository: a self-describing, encrypted, deduplicated store of byte
//! streams. A fresh workstation with only the path and a passphrase (or the
//! recovery kit) can list and read every snapshot in it.
//!
//! ```text
//! config                plaintext: format version, id, chunker and pack parameters
//! keys/<slot>           key slots: the master key wrapped per passphrase / recovery kit
//! data/<xx>/<pack>      packs of encrypted blobs (see `pack`)
//! index/<hash>          encrypted: blob -> pack, offset, length (see `index`)
//! snapshots/<hash>      encrypted manifests (see `manifest`)
//! refs/latest/<name>    encrypted pointer to the newest snapshot of a name
//! locks/<id>            who is using the repository (see `lock`)
//! ```
//!
//! Write order makes every step crash-safe: a pack is durable before an index
//! names it, the index before a manifest needs it, the manifest before the
//! latest pointer moves to it.

pub mod check;
pub mod format;
pub mod index;
pub mod keys;
pub mod lock;
pub mod manifest;
pub mod open;
pub mod pack;
pub mod pins;
pub mod prune;
pub mod reach;
pub mod read;
pub mod retention;
pub mod stats;
pub mod store;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::crypto::slots::{Kek, KeySlot};
use crate::crypto::{random_bytes, MasterKey, RepoKeys};
use crate::error::{Error, Result};

/// The repository format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Content-defined chunking parameters (FastCDC 2020; all even).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkerParams {
    pub min_size: u32,
    pub avg_size: u32,
    pub max_size: u32,
}

impl Default for ChunkerParams {
    /// Chosen by measurement on dump-like streams (see `docs/CHUNKING.md`).
    fn default() -> Self {
        ChunkerParams {
            min_size: 8 * 1024,
            avg_size: 32 * 1024,
            max_size: 128 * 1024,
        }
    }
}

/// The plaintext `config` file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    pub version: u32,
    pub id: String,
    pub created: DateTime<Utc>,
    pub chunker: ChunkerParams,
    /// zstd level for blobs.
    pub compression_level: i32,
    /// Packs are closed once they reach this many bytes.
    pub pack_size: u32,
}

/// Settings for a new repository.
#[derive(Clone, Debug)]
pub struct InitOptions {
    pub chunker: ChunkerParams,
    pub compression_level: i32,
    pub pack_size: u32,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            chunker: ChunkerParams::default(),
            compression_level: 1,
            pack_size: 16 * 1024 * 1024,
        }
    }
}

/// An open repository: storage, configuration, and the derived keys.
pub struct Repository {
    backend: Arc<dyn Backend>,
    config: Config,
    master: MasterKey,
    keys: Arc<RepoKeys>,
    slot_id: String,
}

impl Repository {
    /// Creates a repository protected by `passphrase` (its first key slot).
    /// Returns it with the slot's KEK, for the keychain cache.
    pub fn init(backend: Arc<dyn Backend>, passphrase: &str, slot_label: &str, options: &InitOptions) -> Result<(Repository, Kek)> {
        if backend.exists("config")? {
            return Err(Error::AlreadyExists(backend.location()));
        }
        validate_chunker(&options.chunker)?;
        let now = Utc::now();
        let config = Config {
            version: FORMAT_VERSION,
            id: format::hex(&random_bytes::<16>()),
            created: now,
            chunker: options.chunker,
            compression_level: options.compression_level,
            pack_size: options.pack_size,
        };
        let master = MasterKey::generate();
        let (slot, kek) = KeySlot::for_passphrase(&config.id, &master, passphrase, slot_label, now);
        backend.write(
            &format!("keys/{}", slot.id),
            &serde_json::to_vec_pretty(&slot).expect("slot serializes"),
        )?;
        // The config goes last: a folder without it is not a repository yet.
        backend.write("config", &serde_json::to_vec_pretty(&config).expect("config serializes"))?;
        let repo = Repository {
            backend,
            keys: Arc::new(master.derive()),
            master,
            config,
            slot_id: slot.id,
        };
        Ok((repo, kek))
    }

    /// Reads the plaintext config (no key needed).
    pub fn read_config(backend: &dyn Backend) -> Result<Config> {
        let bytes = match backend.read("config") {
            Err(Error::Missing(_)) => return Err(Error::NotARepository(backend.location())),
            other => other?,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::corrupt("the repository config", e.to_string()))?;
        let version = value
            .get("version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| Error::corrupt("the repository config", "no format version"))?;
        if version != u64::from(FORMAT_VERSION) {
            return Err(Error::UnsupportedVersion {
                found: version.try_into().unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            });
        }
        let config: Config = serde_json::from_value(value).map_err(|e| Error::corrupt("the repository config", e.to_string()))?;
        validate_chunker(&config.chunker)?;
        Ok(config)
    }

    pub(crate) fn from_parts(backend: Arc<dyn Backend>, config: Config, master: MasterKey, slot_id: String) -> Repository {
        Repository {
            backend,
            keys: Arc::new(master.derive()),
            master,
            config,
            slot_id,
        }
    }

    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    pub(crate) fn backend_arc(&self) -> Arc<dyn Backend> {
        self.backend.clone()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn id(&self) -> &str {
        &self.config.id
    }

    pub(crate) fn keys(&self) -> &RepoKeys {
        &self.keys
    }

    pub(crate) fn master(&self) -> &MasterKey {
        &self.master
    }

    pub(crate) fn keys_arc(&self) -> Arc<RepoKeys> {
        self.keys.clone()
    }

    /// The key slot this repository was opened with.
    pub fn slot_id(&self) -> &str {
        &self.slot_id
    }
}

fn validate_chunker(c: &ChunkerParams) -> Result<()> {
    let ok = c.min_size >= 64
        && c.min_size <= c.avg_size
        && c.avg_size <= c.max_size
        && c.max_size <= 16 * 1024 * 1024
        && c.avg_size >= 256
        && c.max_size >= 1024
        && [c.min_size, c.avg_size, c.max_size].iter().all(|s| s % 2 == 0);
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "invalid chunker parameters {c:?}: need even sizes, min <= avg <= max, avg >= 256, max <= 16 MiB"
        )))
    }
}
