//! Who can open the repository: key slots and recovery kits.

use std::path::{Path, PathBuf};

use lifeboat_core::ops;
use lifeboat_core::repo::keys;
use lifeboat_core::Error;

use crate::{blocking, dto::*, ApiResult, App};

impl App {
    pub async fn key_slots(&self) -> ApiResult<Vec<KeySlotInfo>> {
        let (repo, _) = self.current()?;
        let in_use = repo.slot_id().to_string();
        let mut slots = blocking(move || keys::list(&repo)).await?;
        slots.sort_by_key(|s| s.created);
        Ok(slots.into_iter().map(|s| KeySlotInfo::new(s, &in_use)).collect())
    }

    /// Adds a passphrase slot (a person or device that can open the repository).
    pub async fn add_key(&self, request: AddKeyRequest) -> ApiResult<KeySlotInfo> {
        let (repo, _) = self.current()?;
        let in_use = repo.slot_id().to_string();
        let slot = ops::keys::add_passphrase(repo, Some(&self.catalog), request.passphrase, &request.label).await?;
        Ok(KeySlotInfo::new(slot, &in_use))
    }

    /// Removes a key slot (never the last). Removing the slot this session
    /// opened with also drops the keychain entry, which would no longer work.
    pub async fn remove_key(&self, id: String) -> ApiResult<KeySlotInfo> {
        let (repo, _) = self.current()?;
        let removed = ops::keys::remove(repo, Some(&self.catalog), self.keychain.clone(), &id).await?;
        Ok(KeySlotInfo::new(removed, ""))
    }

    /// Creates a recovery slot and writes its kit to a new file (0600).
    pub async fn save_recovery_kit(&self, request: RecoveryKitRequest) -> ApiResult<RecoveryKitSaved> {
        let (repo, _) = self.current()?;
        let path = request.path.trim().to_string();
        if !Path::new(&path).is_absolute() {
            return Err(Error::InvalidInput("give the full path of the file to write the recovery kit to".into()).into());
        }
        let label = match request.label.trim() {
            "" => "recovery kit",
            label => label,
        };
        let in_use = repo.slot_id().to_string();
        let slot = ops::keys::export_recovery_kit(repo, Some(&self.catalog), label, &PathBuf::from(&path)).await?;
        Ok(RecoveryKitSaved {
            path,
            slot: KeySlotInfo::new(slot, &in_use),
        })
    }
}
