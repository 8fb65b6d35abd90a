//! Repairs: `repair index` rebuilds the index from the packs that exist;
//! `repair config` restores a lost or damaged `config`.
//!
//! The index is a cache of the packs' own headers. When index files are
//! damaged or name packs that are gone, or a pack that was missing came back
//! (a NAS glitch, an unfinished copy), reading every pack's header and
//! authenticating its blobs gives the truth again. Under an exclusive lock,
//! crash-safe: the new index is durable before any old index file goes.

use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;

use super::check::packs_on_disk;
use super::format::short_key;
use super::index::write_index_file;
use super::manifest;
use super::pack::{open_encoded, pack_path, read_header, PackRecord};
use super::reach::add_reachable;
use super::{keys, lock, Config, InitOptions, Repository, FORMAT_VERSION};
use crate::backend::Backend;
use crate::crypto::kek::recovery_kek;
use crate::crypto::keychain::KeyStore;
use crate::crypto::recovery::RecoveryKit;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::repo::slots::KeySlot;

/// What `repair index` did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RepairIndexReport {
    /// Packs whose header and blobs authenticated, now indexed.
    pub packs_indexed: usize,
    pub blobs_indexed: usize,
    /// Packs left out, with why: their blobs are unreadable.
    pub packs_unreadable: Vec<String>,
    /// Blobs left out of otherwise readable packs (failed authentication).
    pub blobs_damaged: usize,
    /// Old index files replaced.
    pub index_files_replaced: usize,
    /// Snapshots that still need a blob no pack holds: restore them from
    /// another copy, or `forget` them.
    pub incomplete_snapshots: Vec<String>,
}

pub fn repair_index(repo: &Repository, lock_wait: Duration, progress: &dyn Progress) -> Result<RepairIndexReport> {
    let lock = lock::acquire(repo, true, "repair index", lock_wait)?;
    let backend = repo.backend();
    let on_disk = packs_on_disk(repo)?;
    let mut ids: Vec<[u8; 32]> = on_disk.keys().copied().collect();
    ids.sort_unstable();
    let mut report = RepairIndexReport::default();
    let mut records = Vec::new();
    progress.phase("reading packs", Some(on_disk.values().sum()));
    for id in ids {
        if progress.cancelled() {
            return Err(Error::Cancelled);
        }
        let path = pack_path(&id);
        progress.advance(on_disk[&id]);
        match read_pack(repo, &id, &path) {
            Ok((record, damaged)) => {
                report.blobs_damaged += damaged;
                records.push(record);
            }
            Err(e) => report.packs_unreadable.push(e.to_string()),
        }
    }
    report.packs_indexed = records.len();
    report.blobs_indexed = records.iter().map(|r| r.blobs.len()).sum();

    let old_files = backend.list("index")?;
    lock.verify()?;
    let new_name = if records.is_empty() {
        None
    } else {
        Some(write_index_file(repo, &records)?)
    };
    for file in &old_files {
        if Some(&file.name) != new_name.as_ref() {
            backend.remove(&format!("index/{}", file.name))?;
            report.index_files_replaced += 1;
        }
    }

    let indexed: HashSet<u128> = records.iter().flat_map(|r| r.blobs.iter().map(|b| short_key(&b.id))).collect();
    let index = super::index::Index::load(repo)?;
    for snapshot in manifest::list(repo)?.snapshots {
        let mut needed = HashSet::new();
        let complete = add_reachable(repo, &index, &snapshot, &mut needed).is_ok() && needed.iter().all(|k| indexed.contains(k));
        if !complete {
            report.incomplete_snapshots.push(snapshot.id.clone());
        }
    }
    Ok(report)
}

/// A pack's record from its own header, keeping only blobs that authenticate;
/// returns it with the number of blobs left out.
fn read_pack(repo: &Repository, id: &[u8; 32], path: &str) -> Result<(PackRecord, usize)> {
    let what = format!("pack {path}");
    let data = repo.backend().read(path, super::format::pack_max(repo))?;
    let header = read_header(repo.keys(), id, &data, &what)?;
    let cipher = repo.keys().pack_cipher(id);
    let total = header.len();
    let blobs: Vec<_> = header
        .into_iter()
        .filter(|b| {
            let range = b.offset as usize..(b.offset as usize).saturating_add(b.length as usize);
            data.get(range)
                .is_some_and(|sealed| open_encoded(&cipher, &b.id, sealed, &|| what.clone()).is_ok())
        })
        .collect();
    let damaged = total - blobs.len();
    if blobs.is_empty() && damaged > 0 {
        return Err(Error::corrupt(what, "none of its blobs authenticate"));
    }
    let record = PackRecord {
        id: *id,
        size: data.len() as u64,
        hash: *blake3::hash(&data).as_bytes(),
        blobs,
    };
    Ok((record, damaged))
}

/// The secrets `repair config` may use to prove a config candidate right.
#[derive(Default)]
pub struct ConfigSecrets<'a> {
    pub passphrase: Option<SecretString>,
    pub recovery_kit: Option<SecretString>,
    pub keychain: Option<&'a dyn KeyStore>,
}

/// Where the restored config came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigSource {
    /// A key slot's copy: every setting as it was.
    KeySlotCopy,
    /// Only the repository id, from the recovery kit: the other settings are
    /// this version's defaults (later backups may deduplicate less against
    /// older ones; nothing stored becomes unreadable).
    RecoveryKitId,
}

/// What `repair config` did.
#[derive(Clone, Debug, Serialize)]
pub struct RepairConfigReport {
    pub repository_id: String,
    pub source: ConfigSource,
    /// Whether a damaged or mismatched `config` was replaced (rather than a missing one written).
    pub replaced: bool,
}

/// Restores a missing, damaged or replaced `config`: from a key slot's copy,
/// or (for slots written before copies existed) the recovery kit's
/// repository id. A candidate is written only once a secret unwraps the
/// master key with its repository id, so a planted copy cannot win.
pub fn repair_config(backend: &dyn Backend, secrets: &ConfigSecrets<'_>) -> Result<RepairConfigReport> {
    let current = match Repository::read_config(backend) {
        Ok(config) => Some(config),
        Err(Error::ConfigMissing { .. }) | Err(Error::Corrupt { .. }) => None,
        Err(e) => return Err(e),
    };
    let slots: Vec<KeySlot> = backend
        .list("keys")?
        .into_iter()
        .filter_map(|f| keys::load_slot(backend, &f.name).ok())
        .collect();
    if slots.is_empty() {
        return Err(Error::corrupt(
            "the repository",
            "no key slot can be read, so no config can be proven right: restore keys/ from another copy",
        ));
    }
    let kit = secrets
        .recovery_kit
        .as_ref()
        .map(|text| RecoveryKit::parse(text.expose_secret()))
        .transpose()?;
    let mut candidates: Vec<(Config, ConfigSource)> = Vec::new();
    for config in slots.iter().filter_map(|s| s.config.clone()) {
        if !candidates.iter().any(|(c, _)| c.id == config.id) {
            candidates.push((config, ConfigSource::KeySlotCopy));
        }
    }
    if let Some(kit) = &kit {
        if !candidates.iter().any(|(c, _)| c.id == kit.repository_id) {
            let defaults = InitOptions::default();
            let created = slots.iter().map(|s| s.created).min().unwrap_or_else(chrono::Utc::now);
            let config = Config {
                version: FORMAT_VERSION,
                id: kit.repository_id.clone(),
                created,
                chunker: defaults.chunker,
                compression_level: defaults.compression_level,
                pack_size: defaults.pack_size,
            };
            candidates.push((config, ConfigSource::RecoveryKitId));
        }
    }
    if let Some(config) = &current {
        // A slot's copy must agree whole; a kit only names the id (its other settings are defaults).
        let agrees = |(candidate, source): &(Config, ConfigSource)| match source {
            ConfigSource::KeySlotCopy => config.matches_copy(candidate),
            ConfigSource::RecoveryKitId => candidate.id == config.id,
        };
        if candidates.iter().all(agrees) && !candidates.is_empty() && super::config_is_canonical(backend, config)? {
            return Err(Error::InvalidInput(format!(
                "the config of repository {} is readable and matches its key slots: nothing to repair",
                config.id
            )));
        }
    }
    if candidates.is_empty() {
        return Err(Error::InvalidInput(
            "no key slot carries a copy of the config (they predate copies): pass the recovery kit \
             (--recovery-kit FILE), which names the repository"
                .into(),
        ));
    }
    for (config, source) in candidates {
        if opens(&slots, &config.id, secrets, kit.as_ref())? {
            config.validate()?;
            backend.write("config", &super::config_bytes(&config))?;
            return Ok(RepairConfigReport {
                repository_id: config.id,
                source,
                replaced: current.is_some(),
            });
        }
    }
    Err(match (&secrets.passphrase, &kit) {
        (None, None) if secrets.keychain.is_none() => Error::NoCredentials,
        (_, Some(_)) => Error::WrongRecoveryKit,
        _ => Error::WrongPassphrase,
    })
}

/// Whether one of the secrets unwraps a slot's master key under `repo_id`.
fn opens(slots: &[KeySlot], repo_id: &str, secrets: &ConfigSecrets<'_>, kit: Option<&RecoveryKit>) -> Result<bool> {
    if let Some(kit) = kit {
        let kek = recovery_kek(&kit.code);
        if slots.iter().any(|s| s.id == kit.slot_id && s.unwrap(repo_id, &kek).is_some()) {
            return Ok(true);
        }
    }
    if let Some(Ok(Some(cached))) = secrets.keychain.map(|k| k.load(repo_id)) {
        if slots
            .iter()
            .any(|s| s.id == cached.slot_id && s.unwrap(repo_id, &cached.kek).is_some())
        {
            return Ok(true);
        }
    }
    if let Some(passphrase) = &secrets.passphrase {
        for slot in slots {
            if let Some(kek) = slot.passphrase_kek(passphrase.expose_secret()) {
                if slot.unwrap(repo_id, &kek?).is_some() {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}
