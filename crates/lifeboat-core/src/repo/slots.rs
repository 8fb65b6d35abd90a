//! Key slots (`keys/<id>`): the master key wrapped under a key-encryption
//! key (KEK, see `crypto::kek`), with the KDF's parameters stored in the
//! slot so they can be raised later without breaking old slots. Removing a slot revokes that
//! passphrase or recovery kit; it does not change the master key.

use chrono::{DateTime, Utc};
use data_encoding::BASE64;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::Config;
use crate::crypto::kek::{recovery_kek, Kdf, Kek};
use crate::crypto::{open, random_bytes, seal, MasterKey};
use crate::error::{Error, Result};

/// Format version of a key slot file.
const SLOT_VERSION: u32 = 1;

/// What kind of secret opens a slot.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SlotKind {
    Passphrase,
    RecoveryKit,
}

/// One key slot file (`keys/<id>`), as stored. Unknown fields are damage
/// (a changed byte in a field's name must not silently drop its check); a
/// new field comes with a new `version`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySlot {
    pub version: u32,
    pub id: String,
    pub kind: SlotKind,
    pub label: String,
    pub host: String,
    pub user: String,
    pub created: DateTime<Utc>,
    pub kdf: Kdf,
    /// `nonce || AES-256-GCM(master key) || tag`, base64, bound to the
    /// repository id and slot id as associated data.
    pub wrapped_key: String,
    /// A copy of the repository's `config`, so losing that one file loses
    /// nothing (`lifeboat repair config`). Its id is authenticated by
    /// unwrapping the key (the id is in the associated data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Config>,
    /// BLAKE3 of what opens the slot (id, kind, KDF, wrapped key, config
    /// copy): tells a damaged file from a wrong passphrase. Slots written
    /// before it existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// BLAKE3 of everything else in the slot, its label, host, user and
    /// time too: any changed byte is damage. Slots written before it
    /// existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<String>,
}

impl KeySlot {
    /// A new passphrase slot for `master`; returns the slot and its KEK.
    pub fn for_passphrase(repo_id: &str, master: &MasterKey, passphrase: &str, label: &str, now: DateTime<Utc>) -> (Self, Kek) {
        let kdf = Kdf::new_argon2id();
        let kek = kdf.derive(passphrase).expect("default Argon2 parameters are valid");
        (Self::wrap(repo_id, master, SlotKind::Passphrase, kdf, &kek, label, now), kek)
    }

    /// A new recovery-kit slot for `master`, opened by `code`.
    pub fn for_recovery_code(repo_id: &str, master: &MasterKey, code: &[u8; 32], label: &str, now: DateTime<Utc>) -> Self {
        let kek = recovery_kek(code);
        Self::wrap(repo_id, master, SlotKind::RecoveryKit, Kdf::RecoveryCode, &kek, label, now)
    }

    fn wrap(repo_id: &str, master: &MasterKey, kind: SlotKind, kdf: Kdf, kek: &Kek, label: &str, now: DateTime<Utc>) -> Self {
        let id = data_encoding::HEXLOWER.encode(&random_bytes::<8>());
        let wrapped = seal(&kek.cipher(), &slot_aad(repo_id, &id), master.as_bytes());
        KeySlot {
            version: SLOT_VERSION,
            id,
            kind,
            label: label.to_string(),
            host: whoami::fallible::hostname().unwrap_or_else(|_| "unknown".into()),
            user: whoami::username(),
            created: now,
            kdf,
            wrapped_key: BASE64.encode(&wrapped),
            config: None,
            checksum: None,
            sum: None,
        }
    }

    /// The slot as stored: with a copy of `config` and its checksum.
    pub fn sealed_with(mut self, config: &Config) -> Self {
        self.config = Some(config.clone());
        self.checksum = Some(self.compute_checksum());
        self.sum = Some(self.compute_sum());
        self
    }

    fn compute_sum(&self) -> String {
        let content = serde_json::to_vec(&(
            self.version,
            &self.id,
            &self.kind,
            &self.label,
            &self.host,
            &self.user,
            &self.created,
            &self.kdf,
            &self.wrapped_key,
            &self.config,
            &self.checksum,
        ))
        .expect("slot serializes");
        blake3::hash(&content).to_hex().to_string()
    }

    fn compute_checksum(&self) -> String {
        let content = serde_json::to_vec(&(&self.id, &self.kind, &self.kdf, &self.wrapped_key, &self.config)).expect("slot serializes");
        blake3::hash(&content).to_hex().to_string()
    }

    /// Parses a slot file; `name` is its file name, which must match its id.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Self> {
        let what = || format!("key slot keys/{name}");
        let slot: KeySlot = serde_json::from_slice(bytes).map_err(|e| Error::corrupt(what(), e.to_string()))?;
        if slot.version != SLOT_VERSION {
            return Err(Error::UnsupportedVersion {
                found: slot.version,
                supported: SLOT_VERSION,
            });
        }
        if slot.id != name {
            return Err(Error::corrupt(what(), format!("it names itself {}", slot.id)));
        }
        // A hostile slot must not make opening allocate gigabytes or run for hours.
        slot.kdf.check_bounds().map_err(|detail| Error::corrupt(what(), detail))?;
        if slot.checksum.as_ref().is_some_and(|c| *c != slot.compute_checksum())
            || slot.sum.as_ref().is_some_and(|s| *s != slot.compute_sum())
        {
            return Err(Error::corrupt(
                what(),
                "its checksum does not match (the file changed on disk). Open the repository with another passphrase \
                 or the recovery kit, then replace this slot: `lifeboat key add`, then `lifeboat key remove` of this one",
            ));
        }
        Ok(slot)
    }

    /// Derives this slot's KEK from a passphrase (slow: Argon2id).
    /// `None` for a recovery slot, which no passphrase opens.
    pub fn passphrase_kek(&self, passphrase: &str) -> Option<Result<Kek>> {
        matches!(self.kdf, Kdf::Argon2id { .. }).then(|| self.kdf.derive(passphrase))
    }

    /// Unwraps the master key; fails if `kek` is not this slot's.
    pub fn unwrap(&self, repo_id: &str, kek: &Kek) -> Option<MasterKey> {
        let wrapped = BASE64.decode(self.wrapped_key.as_bytes()).ok()?;
        let mut plain = open(&kek.cipher(), &slot_aad(repo_id, &self.id), &wrapped).ok()?;
        let bytes: Option<[u8; 32]> = plain.as_slice().try_into().ok();
        plain.zeroize();
        bytes.map(MasterKey::from_bytes)
    }
}

fn slot_aad(repo_id: &str, slot_id: &str) -> Vec<u8> {
    format!("lifeboat key slot v1\0{repo_id}\0{slot_id}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrase_slot_round_trip() {
        let master = MasterKey::generate();
        let (slot, kek) = KeySlot::for_passphrase("repo1", &master, "correct horse", "alice", Utc::now());
        let parsed = KeySlot::parse(&slot.id, &serde_json::to_vec(&slot).unwrap()).unwrap();
        let again = parsed.passphrase_kek("correct horse").unwrap().unwrap();
        assert_eq!(again.0, kek.0);
        assert_eq!(parsed.unwrap("repo1", &again).unwrap().as_bytes(), master.as_bytes());
        let wrong = parsed.passphrase_kek("wrong horse").unwrap().unwrap();
        assert!(parsed.unwrap("repo1", &wrong).is_none());
        // A slot copied into another repository does not open there.
        assert!(parsed.unwrap("repo2", &again).is_none());
    }

    #[test]
    fn recovery_slot_opens_with_code_only() {
        let master = MasterKey::generate();
        let code = random_bytes::<32>();
        let slot = KeySlot::for_recovery_code("r", &master, &code, "kit", Utc::now());
        assert!(slot.passphrase_kek("anything").is_none());
        assert_eq!(slot.unwrap("r", &recovery_kek(&code)).unwrap().as_bytes(), master.as_bytes());
        assert!(slot.unwrap("r", &recovery_kek(&[0; 32])).is_none());
    }

    #[test]
    fn a_damaged_slot_is_told_apart_by_its_checksum() {
        let master = MasterKey::generate();
        let config = Config {
            version: 1,
            id: "r".into(),
            created: Utc::now(),
            chunker: Default::default(),
            compression_level: 1,
            pack_size: 1 << 20,
        };
        let slot = KeySlot::for_recovery_code("r", &master, &[1; 32], "kit", Utc::now()).sealed_with(&config);
        let text = serde_json::to_string(&slot).unwrap();
        assert!(KeySlot::parse(&slot.id, text.as_bytes()).is_ok());
        // One base64 character of the wrapped key changed: still valid JSON.
        let wrapped_at = text.find(&slot.wrapped_key).unwrap() + 5;
        let mut damaged = text.into_bytes();
        damaged[wrapped_at] = if damaged[wrapped_at] == b'A' { b'B' } else { b'A' };
        let err = KeySlot::parse(&slot.id, &damaged).unwrap_err().to_string();
        assert!(err.contains("checksum does not match"), "{err}");
    }

    #[test]
    fn absurd_argon2_parameters_are_refused_before_any_work() {
        let master = MasterKey::generate();
        let (mut slot, _) = KeySlot::for_passphrase("r", &master, "pw", "a", Utc::now());
        if let Kdf::Argon2id { memory_kib, .. } = &mut slot.kdf {
            *memory_kib = u32::MAX;
        }
        let err = KeySlot::parse(&slot.id, &serde_json::to_vec(&slot).unwrap()).unwrap_err();
        assert!(err.to_string().contains("Argon2 parameters"), "{err}");
    }

    #[test]
    fn unknown_slot_version_is_refused() {
        let master = MasterKey::generate();
        let mut slot = KeySlot::for_recovery_code("r", &master, &[1; 32], "kit", Utc::now());
        slot.version = 9;
        let err = KeySlot::parse(&slot.id, &serde_json::to_vec(&slot).unwrap()).unwrap_err();
        assert!(matches!(err, Error::UnsupportedVersion { found: 9, .. }));
    }
}
