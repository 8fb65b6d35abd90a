//! Changes to who can open the repository: passphrases added or removed,
//! recovery kits issued. Each is recorded in the history, from the CLI as
//! from the app, since a key change is what an admin audits first.

use std::path::Path;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use super::record::recorded;
use super::{blocking, short};
use crate::catalog::{Catalog, RunKind};
use crate::crypto::keychain::KeyStore;
use crate::crypto::recovery::RecoveryKit;
use crate::error::{Error, Result};
use crate::repo::slots::KeySlot;
use crate::repo::{keys, Repository};

/// Shortest passphrase Lifeboat accepts for a new repository or key.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// Refuses a passphrase too short to protect the repository's key.
pub fn check_new_passphrase(passphrase: &str) -> Result<()> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(Error::InvalidInput(format!(
            "the passphrase is too short: use at least {MIN_PASSPHRASE_CHARS} characters (a few random words are best)"
        )));
    }
    Ok(())
}

/// Adds a passphrase slot for the person or device `label` names.
pub async fn add_passphrase(repo: Arc<Repository>, catalog: Option<&Catalog>, passphrase: SecretString, label: &str) -> Result<KeySlot> {
    let label = label.trim().to_owned();
    let title = format!("Add key \"{label}\"");
    let id = repo.id().to_owned();
    let work = async {
        check_new_passphrase(passphrase.expose_secret())?;
        if label.is_empty() {
            return Err(Error::InvalidInput("name the key: who or which device will use it".into()));
        }
        let label = label.clone();
        blocking(move || keys::add_passphrase(&repo, passphrase.expose_secret(), &label)).await
    };
    recorded(catalog, RunKind::KeyAdd, Some(&id), &title, work, |s| {
        format!("Added key {} \"{}\"", short(&s.id), s.label)
    })
    .await
}

/// Removes a key slot (never the last). Removing the slot this session
/// opened with also drops the keychain entry, which would no longer work.
pub async fn remove(
    repo: Arc<Repository>,
    catalog: Option<&Catalog>,
    keychain: Option<Arc<dyn KeyStore>>,
    id_prefix: &str,
) -> Result<KeySlot> {
    let title = format!("Remove key {}", short(id_prefix));
    let id = repo.id().to_owned();
    let prefix = id_prefix.to_owned();
    let work = blocking(move || {
        let slot = keys::remove(&repo, &prefix)?;
        if slot.id == repo.slot_id() {
            if let Some(keychain) = keychain {
                keychain.forget(repo.id())?;
            }
        }
        Ok(slot)
    });
    recorded(catalog, RunKind::KeyRemove, Some(&id), &title, work, |s| {
        format!("Removed key {} \"{}\"", short(&s.id), s.label)
    })
    .await
}

/// Issues a recovery kit into a new file at `path` (0600; an existing file
/// is refused before any slot is added).
pub async fn export_recovery_kit(repo: Arc<Repository>, catalog: Option<&Catalog>, label: &str, path: &Path) -> Result<KeySlot> {
    let title = format!("Export recovery kit to {}", path.display());
    let id = repo.id().to_owned();
    let (label, target) = (label.to_owned(), path.to_owned());
    let work = blocking(move || keys::export_recovery_kit(&repo, &label, &target));
    recorded(catalog, RunKind::RecoveryKit, Some(&id), &title, work, |s| {
        format!("Saved a recovery kit (key {}) to {}", short(&s.id), path.display())
    })
    .await
}

/// Issues a recovery kit and returns it to be shown (the CLI prints it).
/// The history records the slot, never the kit.
pub async fn issue_recovery_kit(repo: Arc<Repository>, catalog: Option<&Catalog>, label: &str) -> Result<(KeySlot, RecoveryKit)> {
    let id = repo.id().to_owned();
    let label = label.to_owned();
    let mut issued = None;
    let work = async {
        let (slot, kit) = blocking(move || keys::add_recovery_kit(&repo, &label)).await?;
        issued = Some(kit);
        Ok(slot)
    };
    let slot = recorded(catalog, RunKind::RecoveryKit, Some(&id), "Issue recovery kit", work, |s| {
        format!("Issued a recovery kit (key {})", short(&s.id))
    })
    .await?;
    let kit = issued.ok_or_else(|| Error::Internal("the recovery kit was issued but not returned".into()))?;
    Ok((slot, kit))
}
