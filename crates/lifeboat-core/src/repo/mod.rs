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
//! wal/<name>=<file>     encrypted: an archived WAL file's record (see `wal`)
//! ```
//!
//! Write order makes every step crash-safe: a pack is durable before an index
//! names it, the index before a manifest needs it, the manifest before the
//! latest pointer moves to it.

pub mod check;
pub mod copy;
pub mod format;
pub mod index;
pub mod keys;
pub mod lock;
pub mod manifest;
pub mod migrate;
pub mod open;
pub mod pack;
pub mod pins;
pub mod prune;
pub mod reach;
pub mod read;
pub mod repair;
pub mod retention;
pub mod sketch;
pub mod slots;
pub mod stats;
pub mod store;
pub mod wal;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::crypto::kek::Kek;
use crate::crypto::{random_bytes, MasterKey, RepoKeys};
use crate::error::{Error, Result};
use slots::KeySlot;

/// The repository format new repositories get. Format 2 adds delta blobs
/// (a changed chunk stored against the chunk it replaced); format 3 adds
/// each snapshot's resemblance sketches and stores list blobs as deltas of
/// the earlier snapshot's; format 4 may hold archived WAL (`wal/`), whose
/// blobs an older build's prune would remove. This build reads and writes formats 1 to 3 too,
/// and stores in each only what its format allows, so older builds keep
/// reading and pruning those.
pub const FORMAT_VERSION: u32 = 4;
/// The oldest format this build reads and writes.
const OLDEST_FORMAT_VERSION: u32 = 1;

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
            min_size: 32 * 1024,
            avg_size: 128 * 1024,
            max_size: 512 * 1024,
        }
    }
}

/// The plaintext `config` file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Reading jobs take no shared lock (`--no-lock`): for read-only access.
    reads_without_lock: bool,
}

impl Repository {
    /// Creates a repository protected by `passphrase` (its first key slot).
    /// Returns it with the slot's KEK, for the keychain cache.
    pub fn init(backend: Arc<dyn Backend>, passphrase: &str, slot_label: &str, options: &InitOptions) -> Result<(Repository, Kek)> {
        if backend.exists("config")? {
            return Err(Error::AlreadyExists(backend.location()));
        }
        if let Some(content) = repository_content(backend.as_ref())? {
            return Err(Error::ConfigMissing {
                location: backend.location(),
                content,
            });
        }
        let now = Utc::now();
        let config = Config {
            version: FORMAT_VERSION,
            id: format::hex(&random_bytes::<16>()),
            created: now,
            chunker: options.chunker,
            compression_level: options.compression_level,
            pack_size: options.pack_size,
        };
        config.validate()?;
        let master = MasterKey::generate();
        let (slot, kek) = KeySlot::for_passphrase(&config.id, &master, passphrase, slot_label, now);
        let slot = slot.sealed_with(&config);
        keys::store_slot(backend.as_ref(), &slot)?;
        // The config goes last: a folder without it is not a repository yet.
        // Created, never replaced: of two workstations creating a repository
        // here at once, one wins and the other removes its key slot.
        if !backend.create_new("config", &config_bytes(&config))? {
            backend.remove(&format!("keys/{}", slot.id))?;
            return Err(Error::AlreadyExists(backend.location()));
        }
        let repo = Repository {
            backend,
            keys: Arc::new(master.derive()),
            master,
            config,
            slot_id: slot.id,
            reads_without_lock: false,
        };
        Ok((repo, kek))
    }

    /// Reads the plaintext config (no key needed).
    pub fn read_config(backend: &dyn Backend) -> Result<Config> {
        let bytes = match backend.read("config", format::SMALL_FILE_MAX) {
            Err(Error::Missing(_)) => {
                return Err(match repository_content(backend)? {
                    Some(content) => Error::ConfigMissing {
                        location: backend.location(),
                        content,
                    },
                    None => Error::NotARepository(backend.location()),
                })
            }
            other => other?,
        };
        Self::parse_config(&bytes)
    }

    /// Parses the bytes of a `config` file and checks what they say.
    pub fn parse_config(bytes: &[u8]) -> Result<Config> {
        let damaged = |detail: String| {
            Error::corrupt(
                "the repository config",
                format!("{detail}; `lifeboat repair config` restores it from a copy in the key slots"),
            )
        };
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| damaged(e.to_string()))?;
        let version = value
            .get("version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| damaged("no format version".into()))?;
        if !(u64::from(OLDEST_FORMAT_VERSION)..=u64::from(FORMAT_VERSION)).contains(&version) {
            return Err(Error::UnsupportedVersion {
                found: version.try_into().unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            });
        }
        let config: Config = serde_json::from_value(value).map_err(|e| damaged(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub(crate) fn from_parts(backend: Arc<dyn Backend>, config: Config, master: MasterKey, slot_id: String) -> Repository {
        Repository {
            backend,
            keys: Arc::new(master.derive()),
            master,
            config,
            slot_id,
            reads_without_lock: false,
        }
    }

    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// This repository read from its storage itself, past this
    /// workstation's cache (see [`Backend::uncached`]); None when nothing is
    /// cached.
    pub(crate) fn uncached(&self) -> Option<Repository> {
        let storage = self.backend.uncached()?;
        Some(Repository {
            backend: storage,
            config: self.config.clone(),
            master: self.master.clone(),
            keys: self.keys.clone(),
            slot_id: self.slot_id.clone(),
            reads_without_lock: self.reads_without_lock,
        })
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

    /// Makes reading jobs (cat, check, verify, restore) take no lock, so
    /// they work with read access alone. Writing jobs still lock.
    pub fn read_without_lock(&mut self) {
        self.reads_without_lock = true;
    }

    pub fn reads_without_lock(&self) -> bool {
        self.reads_without_lock
    }

    /// The key slot this repository was opened with.
    pub fn slot_id(&self) -> &str {
        &self.slot_id
    }
}

/// The bytes of a `config` file as Lifeboat writes it.
pub(crate) fn config_bytes(config: &Config) -> Vec<u8> {
    serde_json::to_vec_pretty(config).expect("config serializes")
}

/// Whether the stored `config` is byte for byte what Lifeboat writes for
/// `config`: a changed byte that leaves the meaning intact (a digit's
/// padding, a space) is still a change on the storage worth knowing of.
pub(crate) fn config_is_canonical(backend: &dyn Backend, config: &Config) -> Result<bool> {
    Ok(backend.read("config", format::SMALL_FILE_MAX)? == config_bytes(config))
}

/// What in `backend` shows a repository lives there (besides `config`):
/// the first folder with content, for messages.
pub(crate) fn repository_content(backend: &dyn Backend) -> Result<Option<String>> {
    for dir in ["keys", "snapshots", "index", "refs/latest", "forgotten", "wal"] {
        if !backend.list(dir)?.is_empty() {
            return Ok(Some(format!("{dir}/")));
        }
    }
    for prefix in 0..=255u8 {
        if !backend.list(&format!("data/{prefix:02x}"))?.is_empty() {
            return Ok(Some("data/".into()));
        }
    }
    Ok(None)
}

impl Config {
    /// Whether backups may store changed chunks as deltas (format 2).
    pub fn stores_deltas(&self) -> bool {
        self.version >= 2
    }

    /// Whether backups store resemblance sketches and list blobs as deltas
    /// (format 3). An older build's prune would not keep either alive.
    pub fn stores_sketches(&self) -> bool {
        self.version >= 3
    }

    /// Whether WAL may be archived here (format 4): every build that opens
    /// a format-4 repository keeps archived WAL's blobs when it prunes.
    pub fn holds_wal(&self) -> bool {
        self.version >= 4
    }

    /// Whether a key slot's `copy` of the config agrees with this one: the
    /// same, or the same but for the version, which `migrate` writes in the
    /// slots before `config` (a migration stopped half way). Versions are
    /// read-compatible, so either version reads the repository right.
    pub(crate) fn matches_copy(&self, copy: &Config) -> bool {
        let supported = (OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&copy.version);
        supported
            && *self
                == Config {
                    version: self.version,
                    ..copy.clone()
                }
    }

    /// Bounds every value read from disk: a hostile `config` must not make a
    /// writer allocate gigabytes.
    pub(crate) fn validate(&self) -> Result<()> {
        validate_chunker(&self.chunker)?;
        if !(MIN_PACK_SIZE..=MAX_PACK_SIZE).contains(&self.pack_size) {
            return Err(Error::corrupt(
                "the repository config",
                format!(
                    "pack size {} is outside {MIN_PACK_SIZE}..={MAX_PACK_SIZE} bytes; `lifeboat repair config` restores it",
                    self.pack_size
                ),
            ));
        }
        if !(-7..=22).contains(&self.compression_level) {
            return Err(Error::corrupt(
                "the repository config",
                format!("zstd level {} is outside -7..=22", self.compression_level),
            ));
        }
        Ok(())
    }
}

/// Bounds on `pack_size`: a writer holds one pack per core in memory.
const MIN_PACK_SIZE: u32 = 16 * 1024;
const MAX_PACK_SIZE: u32 = 128 * 1024 * 1024;

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
