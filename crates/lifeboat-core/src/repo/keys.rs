//! Key slot management: add a passphrase, issue a recovery kit, list, remove.

use std::io::Write;
use std::path::Path;

use chrono::Utc;

use super::Repository;
use crate::backend::Backend;
use crate::crypto::random_bytes;
use crate::crypto::recovery::RecoveryKit;
use crate::error::{Error, Result};
use crate::repo::slots::KeySlot;

pub(crate) fn load_slot(backend: &dyn Backend, id: &str) -> Result<KeySlot> {
    KeySlot::parse(id, &backend.read(&format!("keys/{id}"), super::format::SMALL_FILE_MAX)?)
}

/// Every key slot. A damaged slot does not hide the others: it is returned
/// as an error only when no slot could be read at all.
pub(crate) fn load_slots(backend: &dyn Backend) -> Result<Vec<KeySlot>> {
    let mut slots = Vec::new();
    let mut first_error = None;
    for file in backend.list("keys")? {
        match load_slot(backend, &file.name) {
            Ok(slot) => slots.push(slot),
            Err(e) => {
                tracing::warn!("skipping key slot keys/{}: {e}", file.name);
                first_error.get_or_insert(e);
            }
        }
    }
    match (slots.is_empty(), first_error) {
        (true, Some(e)) => Err(e),
        (true, None) => Err(Error::corrupt("the repository", "it has no key slots")),
        _ => Ok(slots),
    }
}

/// Adds a passphrase slot.
pub fn add_passphrase(repo: &Repository, passphrase: &str, label: &str) -> Result<KeySlot> {
    if passphrase.is_empty() {
        return Err(Error::InvalidInput("the new passphrase is empty".into()));
    }
    let (slot, _) = KeySlot::for_passphrase(repo.id(), repo.master(), passphrase, label, Utc::now());
    let slot = slot.sealed_with(repo.config());
    write_slot(repo, &slot)?;
    Ok(slot)
}

/// Creates a recovery slot and returns the kit that opens it.
pub fn add_recovery_kit(repo: &Repository, label: &str) -> Result<(KeySlot, RecoveryKit)> {
    let code = random_bytes::<32>();
    let slot = KeySlot::for_recovery_code(repo.id(), repo.master(), &code, label, Utc::now()).sealed_with(repo.config());
    write_slot(repo, &slot)?;
    let kit = RecoveryKit {
        repository_id: repo.id().to_string(),
        slot_id: slot.id.clone(),
        code,
    };
    Ok((slot, kit))
}

/// Issues a recovery kit into a new file at `path` (0600). The file is
/// created first, so an existing one is refused before the repository
/// changes; if writing it fails, the new slot and the file are removed
/// again: no slot is left whose kit was never saved.
pub fn export_recovery_kit(repo: &Repository, label: &str, path: &Path) -> Result<KeySlot> {
    let mut file = crate::paths::create_new_private_file(path)?;
    let written = add_recovery_kit(repo, label).and_then(|(slot, kit)| {
        let saved = file
            .write_all(kit.to_text(&repo.backend().location()).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io("writing the recovery kit to", path, e));
        match saved {
            Ok(()) => Ok(slot),
            Err(e) => {
                if let Err(removing) = repo.backend().remove(&format!("keys/{}", slot.id)) {
                    tracing::warn!("removing key slot {} whose kit was not saved: {removing}", slot.id);
                }
                Err(e)
            }
        }
    });
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

fn write_slot(repo: &Repository, slot: &KeySlot) -> Result<()> {
    store_slot(repo.backend(), slot)
}

fn slot_bytes(slot: &KeySlot) -> Vec<u8> {
    serde_json::to_vec_pretty(slot).expect("slot serializes")
}

pub(crate) fn store_slot(backend: &dyn Backend, slot: &KeySlot) -> Result<()> {
    backend.write(&format!("keys/{}", slot.id), &slot_bytes(slot))
}

/// Whether the stored slot is byte for byte what Lifeboat writes for
/// `slot`: a changed byte that leaves every field's value intact (a
/// timestamp digit's padding) is still a change on the storage.
pub(crate) fn slot_is_canonical(backend: &dyn Backend, slot: &KeySlot) -> Result<bool> {
    Ok(backend.read(&format!("keys/{}", slot.id), super::format::SMALL_FILE_MAX)? == slot_bytes(slot))
}

/// All key slots, readable ones only.
pub fn list(repo: &Repository) -> Result<Vec<KeySlot>> {
    load_slots(repo.backend())
}

/// Removes the slot whose id starts with `id_prefix`; never the last one.
pub fn remove(repo: &Repository, id_prefix: &str) -> Result<KeySlot> {
    let slots = load_slots(repo.backend())?;
    let matching: Vec<&KeySlot> = slots.iter().filter(|s| s.id.starts_with(id_prefix)).collect();
    let slot = match matching.as_slice() {
        [one] => *one,
        [] => return Err(Error::KeySlotNotFound(id_prefix.to_string())),
        _ => {
            return Err(Error::InvalidInput(format!(
                "`{id_prefix}` matches several key slots: give more characters"
            )))
        }
    };
    if slots.len() == 1 {
        return Err(Error::LastKeySlot);
    }
    repo.backend().remove(&format!("keys/{}", slot.id))?;
    Ok(slot.clone())
}
