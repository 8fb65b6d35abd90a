//! The OS keychain cache (Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows).
//!
//! Once a repository was opened with a passphrase, the slot's KEK is cached
//! here, so later opens need neither the passphrase nor Argon2. The KEK, not
//! the passphrase, is cached: a passphrase may be reused elsewhere, and a KEK
//! stops working the moment its slot is removed.

use data_encoding::HEXLOWER;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::kek::Kek;
use crate::error::{Error, Result};

/// Service name of Lifeboat's keychain entries.
pub const SERVICE: &str = "lifeboat";

/// What the keychain holds for one repository.
pub struct CachedKey {
    pub slot_id: String,
    pub kek: Kek,
}

/// An access key for a repository's storage (an S3 bucket); kept out of
/// `Debug` and messages.
#[derive(Clone, Serialize, Deserialize)]
pub struct StorageCredentials {
    pub access_key_id: String,
    #[serde(serialize_with = "expose")]
    pub secret_access_key: secrecy::SecretString,
}

fn expose<S: serde::Serializer>(secret: &secrecy::SecretString, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    serializer.serialize_str(secret.expose_secret())
}

impl std::fmt::Debug for StorageCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Where cached repository keys and saved database passwords live.
/// [`OsKeychain`] in the product; the interface lets a caller run without
/// any keychain (`--no-keychain`, headless servers).
pub trait KeyStore: Send + Sync {
    fn load(&self, repo_id: &str) -> Result<Option<CachedKey>>;
    fn store(&self, repo_id: &str, key: &CachedKey) -> Result<()>;
    fn forget(&self, repo_id: &str) -> Result<()>;
    /// The password saved for the connection called `connection`.
    fn load_password(&self, connection: &str) -> Result<Option<Zeroizing<String>>>;
    fn store_password(&self, connection: &str, password: &str) -> Result<()>;
    fn forget_password(&self, connection: &str) -> Result<()>;
    /// The access key saved for the storage at `location` (its canonical text).
    fn load_storage_credentials(&self, location: &str) -> Result<Option<StorageCredentials>>;
    fn store_storage_credentials(&self, location: &str, credentials: &StorageCredentials) -> Result<()>;
    fn forget_storage_credentials(&self, location: &str) -> Result<()>;
    /// The password of the SMTP account a notification channel sends through.
    fn load_channel_password(&self, channel: &str) -> Result<Option<Zeroizing<String>>>;
    fn store_channel_password(&self, channel: &str, password: &str) -> Result<()>;
    fn forget_channel_password(&self, channel: &str) -> Result<()>;
}

/// The platform's keychain through the `keyring` crate.
pub struct OsKeychain;

/// The keychain account name for a repository.
pub fn account(repo_id: &str) -> String {
    format!("repository {repo_id}")
}

#[derive(Serialize, Deserialize)]
struct Stored {
    slot: String,
    kek: String,
}

/// The keychain account name for a connection's password.
pub fn password_account(connection: &str) -> String {
    format!("connection {connection}")
}

/// The keychain account name for a storage's access key.
pub fn storage_account(location: &str) -> String {
    format!("storage {location}")
}

/// The keychain account name for a notification channel's SMTP password.
pub fn channel_account(channel: &str) -> String {
    format!("notification channel {channel}")
}

fn storage_entry(location: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, &storage_account(location)).map_err(unavailable)
}

fn entry(repo_id: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, &account(repo_id)).map_err(unavailable)
}

fn password_entry(connection: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, &password_account(connection)).map_err(unavailable)
}

fn channel_entry(channel: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, &channel_account(channel)).map_err(unavailable)
}

fn load_secret(entry: keyring::Entry) -> Result<Option<Zeroizing<String>>> {
    match entry.get_password() {
        Ok(secret) => Ok(Some(Zeroizing::new(secret))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(unavailable(e)),
    }
}

fn delete(entry: keyring::Entry) -> Result<()> {
    match entry.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(unavailable(e)),
    }
}

fn unavailable(e: keyring::Error) -> Error {
    Error::KeychainUnavailable(format!(
        "{e}. Lifeboat will ask for the passphrase each time (on a headless Linux server this is expected; \
         a desktop session normally runs a Secret Service such as GNOME Keyring or KWallet)"
    ))
}

impl KeyStore for OsKeychain {
    fn load(&self, repo_id: &str) -> Result<Option<CachedKey>> {
        match entry(repo_id)?.get_password() {
            Ok(text) => {
                let stored: Stored = serde_json::from_str(&text).map_err(|e| Error::corrupt("the keychain entry", e.to_string()))?;
                let bytes = HEXLOWER
                    .decode(stored.kek.as_bytes())
                    .map_err(|e| Error::corrupt("the keychain entry", e.to_string()))?;
                let kek: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| Error::corrupt("the keychain entry", "key has the wrong length"))?;
                Ok(Some(CachedKey {
                    slot_id: stored.slot,
                    kek: Kek(kek),
                }))
            }
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn store(&self, repo_id: &str, key: &CachedKey) -> Result<()> {
        let stored = Stored {
            slot: key.slot_id.clone(),
            kek: HEXLOWER.encode(&key.kek.0),
        };
        let text = serde_json::to_string(&stored).expect("plain struct serializes");
        entry(repo_id)?.set_password(&text).map_err(unavailable)
    }

    fn forget(&self, repo_id: &str) -> Result<()> {
        delete(entry(repo_id)?)
    }

    fn load_password(&self, connection: &str) -> Result<Option<Zeroizing<String>>> {
        load_secret(password_entry(connection)?)
    }

    fn store_password(&self, connection: &str, password: &str) -> Result<()> {
        password_entry(connection)?.set_password(password).map_err(unavailable)
    }

    fn forget_password(&self, connection: &str) -> Result<()> {
        delete(password_entry(connection)?)
    }

    fn load_channel_password(&self, channel: &str) -> Result<Option<Zeroizing<String>>> {
        load_secret(channel_entry(channel)?)
    }

    fn store_channel_password(&self, channel: &str, password: &str) -> Result<()> {
        channel_entry(channel)?.set_password(password).map_err(unavailable)
    }

    fn forget_channel_password(&self, channel: &str) -> Result<()> {
        delete(channel_entry(channel)?)
    }

    fn load_storage_credentials(&self, location: &str) -> Result<Option<StorageCredentials>> {
        match storage_entry(location)?.get_password() {
            Ok(text) => {
                let text = Zeroizing::new(text);
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| Error::corrupt("the keychain entry of the storage's access key", e.to_string()))
            }
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn store_storage_credentials(&self, location: &str, credentials: &StorageCredentials) -> Result<()> {
        let text = Zeroizing::new(serde_json::to_string(credentials).expect("plain struct serializes"));
        storage_entry(location)?.set_password(&text).map_err(unavailable)
    }

    fn forget_storage_credentials(&self, location: &str) -> Result<()> {
        delete(storage_entry(location)?)
    }
}
