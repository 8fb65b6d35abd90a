//! Opening a repository: which secret unlocks it, in which order, and the
//! keychain cache.

use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

use super::{keys, Repository};
use crate::backend::Backend;
use crate::crypto::kek::{recovery_kek, Kek};
use crate::crypto::keychain::{CachedKey, KeyStore};
use crate::crypto::recovery::RecoveryKit;
use crate::error::{Error, Result};
use crate::repo::slots::SlotKind;

/// What the caller can offer to open a repository, tried in this order:
/// recovery kit, passphrase, keychain, then the prompt.
#[derive(Default)]
pub struct OpenRequest<'a> {
    pub recovery_kit: Option<SecretString>,
    pub passphrase: Option<SecretString>,
    /// The keychain to read the cached key from and to cache it in.
    pub keychain: Option<&'a dyn KeyStore>,
    /// Asks a person for the passphrase (a TTY prompt, a dialog).
    pub prompt: Option<&'a dyn Fn() -> Result<SecretString>>,
}

/// How the repository was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenedWith {
    Passphrase,
    RecoveryKit,
    Keychain,
}

/// An opened repository, with anything the user should be told.
pub struct Opened {
    pub repo: Repository,
    pub with: OpenedWith,
    /// Non-fatal trouble with the keychain, worth a warning.
    pub keychain_warning: Option<String>,
}

/// Opens the repository in `backend` with the first secret in `request` that works.
pub fn open(backend: Arc<dyn Backend>, request: OpenRequest<'_>) -> Result<Opened> {
    let config = Repository::read_config(backend.as_ref())?;
    if let Some(expected) = mismatched_config(backend.as_ref(), &config)? {
        return Err(Error::ConfigMismatch {
            found: config.id,
            expected,
        });
    }
    let mut keychain_warning = None;

    let (slot_id, kek, with) = if let Some(text) = &request.recovery_kit {
        let kit = RecoveryKit::parse(text.expose_secret())?;
        if kit.repository_id != config.id {
            return Err(Error::InvalidRecoveryKit(format!(
                "it belongs to repository {}, but {} is repository {}",
                kit.repository_id,
                backend.location(),
                config.id
            )));
        }
        (kit.slot_id.clone(), recovery_kek(&kit.code), OpenedWith::RecoveryKit)
    } else if let Some(passphrase) = &request.passphrase {
        let (slot, kek) = unlock_with_passphrase(backend.as_ref(), &config.id, passphrase.expose_secret())?;
        (slot, kek, OpenedWith::Passphrase)
    } else {
        let cached = match request.keychain.map(|k| k.load(&config.id)) {
            Some(Ok(cached)) => cached,
            Some(Err(e)) => {
                keychain_warning = Some(e.to_string());
                None
            }
            None => None,
        };
        match (cached, request.prompt) {
            (Some(cached), prompt) => match keys::load_slot(backend.as_ref(), &cached.slot_id) {
                Ok(slot) if slot.unwrap(&config.id, &cached.kek).is_some() => (cached.slot_id, cached.kek.clone(), OpenedWith::Keychain),
                Ok(_) | Err(Error::Missing(_)) => {
                    if let Some(keychain) = request.keychain {
                        let _ = keychain.forget(&config.id);
                    }
                    let Some(prompt) = prompt else {
                        return Err(Error::StaleKeychainEntry);
                    };
                    let (slot, kek) = unlock_with_passphrase(backend.as_ref(), &config.id, prompt()?.expose_secret())?;
                    (slot, kek, OpenedWith::Passphrase)
                }
                Err(e) => return Err(e),
            },
            (None, Some(prompt)) => {
                let (slot, kek) = unlock_with_passphrase(backend.as_ref(), &config.id, prompt()?.expose_secret())?;
                (slot, kek, OpenedWith::Passphrase)
            }
            (None, None) => return Err(Error::NoCredentials),
        }
    };

    let slot = match keys::load_slot(backend.as_ref(), &slot_id) {
        Err(Error::Missing(_)) if with == OpenedWith::RecoveryKit => return Err(Error::WrongRecoveryKit),
        other => other?,
    };
    let master = slot.unwrap(&config.id, &kek).ok_or(match with {
        OpenedWith::RecoveryKit => Error::WrongRecoveryKit,
        _ => Error::WrongPassphrase,
    })?;
    // The slot that opened holds an authenticated copy: `config` changes after `init` only by `migrate`.
    if slot.config.as_ref().is_some_and(|copy| !config.matches_copy(copy)) {
        return Err(Error::ConfigDamaged { slot: slot_id });
    }

    if with != OpenedWith::Keychain {
        if let Some(keychain) = request.keychain {
            if let Err(e) = keychain.store(
                &config.id,
                &CachedKey {
                    slot_id: slot_id.clone(),
                    kek,
                },
            ) {
                keychain_warning = Some(e.to_string());
            }
        }
    }
    Ok(Opened {
        repo: Repository::from_parts(backend, config, master, slot_id),
        with,
        keychain_warning,
    })
}

/// Finds the passphrase slot `passphrase` opens (Argon2id per slot tried).
fn unlock_with_passphrase(backend: &dyn Backend, repo_id: &str, passphrase: &str) -> Result<(String, Kek)> {
    let mut damaged = None;
    for file in backend.list("keys")? {
        let slot = match keys::load_slot(backend, &file.name) {
            Ok(slot) => slot,
            Err(e) => {
                damaged.get_or_insert(e);
                continue;
            }
        };
        if slot.kind != SlotKind::Passphrase {
            continue;
        }
        if let Some(kek) = slot.passphrase_kek(passphrase) {
            let kek = kek?;
            if slot.unwrap(repo_id, &kek).is_some() {
                return Ok((slot.id, kek));
            }
        }
    }
    // If a slot could not be read, that may be the one this passphrase opens.
    Err(match damaged {
        Some(e) => Error::DamagedKeySlot(e.to_string()),
        None => Error::WrongPassphrase,
    })
}

/// The repository id the key slots' config copies name, when `config`
/// names another: a damaged or replaced config, not a wrong passphrase.
fn mismatched_config(backend: &dyn Backend, config: &super::Config) -> Result<Option<String>> {
    let mut copies = Vec::new();
    for file in backend.list("keys")? {
        if let Ok(slot) = keys::load_slot(backend, &file.name) {
            copies.extend(slot.config.map(|c| c.id));
        }
    }
    Ok(if copies.is_empty() || copies.contains(&config.id) {
        None
    } else {
        copies.into_iter().next()
    })
}
