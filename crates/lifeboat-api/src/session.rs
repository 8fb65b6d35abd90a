//! The open repository: creating, opening, reopening from the keychain at
//! start-up, closing, and what the app shows about it.

use std::sync::Arc;

use chrono::Utc;
use lifeboat_core::backend::{self, Backend, Location};
use lifeboat_core::catalog::{RepositoryRecord, RunKind};
use lifeboat_core::crypto::keychain::{CachedKey, KeyStore, StorageCredentials};

use lifeboat_core::ops;
use lifeboat_core::repo::{open, stats, InitOptions, Repository};
use lifeboat_core::{Error, Result};
use secrecy::ExposeSecret;

use crate::{blocking, dto::*, ApiError, ApiResult, App, ErrorCode, Session};

impl App {
    pub(crate) async fn reopen_from_keychain(&self, known: RepositoryRecord) {
        let keychain = self.keychain.clone();
        let location = known.location.clone();
        let opened = tokio::task::spawn_blocking(move || {
            let backend = Location::parse(&location)?.open(keychain.as_deref())?;
            open::open(
                backend,
                open::OpenRequest {
                    keychain: keychain.as_deref(),
                    ..Default::default()
                },
            )
        })
        .await
        .unwrap_or_else(|e| Err(Error::Internal(format!("reopening stopped unexpectedly: {e}"))));
        let record = KnownRepository {
            id: known.id.clone(),
            location: known.location.clone(),
            label: known.label.clone(),
            last_opened_at: known.last_opened_at,
        };
        match opened {
            Ok(opened) if opened.repo.id() == known.id => {
                tracing::info!("reopened repository {} at {} from the keychain", known.id, known.location);
                self.set_session(opened, &known.location, &known.label);
            }
            Ok(_) => {
                self.set_reopen_failure(
                    record,
                    Some(ApiError::new(
                        ErrorCode::Other,
                        format!(
                            "{} now holds another repository than the one this app knew: open it again to use it",
                            known.location
                        ),
                    )),
                );
            }
            // Nothing cached (or keychain disabled): asking is the normal path.
            Err(Error::NoCredentials) => self.set_reopen_failure(record, None),
            Err(e) => {
                tracing::warn!("could not reopen {}: {e}", known.location);
                self.set_reopen_failure(record, Some(e.into()));
            }
        }
    }

    fn set_reopen_failure(&self, known: KnownRepository, error: Option<ApiError>) {
        *self.needs_unlock.lock().unwrap() = Some(known);
        *self.reopen_error.lock().unwrap() = error;
    }

    fn set_session(&self, opened: open::Opened, location: &str, label: &str) -> OpenRepository {
        let info = OpenRepository {
            id: opened.repo.id().to_string(),
            location: location.to_string(),
            label: label.to_string(),
            opened_with: opened.with.into(),
            keychain_warning: opened.keychain_warning,
        };
        *self.session.lock().unwrap() = Some(Session {
            repo: Arc::new(opened.repo),
            info: info.clone(),
        });
        *self.needs_unlock.lock().unwrap() = None;
        *self.reopen_error.lock().unwrap() = None;
        info
    }

    /// Creates a repository in an empty or new folder, opens it, and caches its key.
    pub async fn create_repository(&self, request: CreateRequest) -> ApiResult<OpenRepository> {
        let location = request.location.trim().to_string();
        let title = format!("Create repository at {location}");
        let keychain = self.keychain.clone();
        let work = async {
            validate_new_location(&location)?;
            ops::keys::check_new_passphrase(request.passphrase.expose_secret())?;
            let location_for_work = location.clone();
            let key_label = request.key_label.trim().to_string();
            let access_key = request.access_key.map(AccessKey::credentials).transpose()?;
            let opened = ops::blocking(move || {
                let backend = open_location(&location_for_work, access_key, keychain.as_deref())?;
                let (repo, kek) = Repository::init(backend, request.passphrase.expose_secret(), &key_label, &InitOptions::default())?;
                let keychain_warning = keychain.as_deref().and_then(|k| {
                    k.store(
                        repo.id(),
                        &CachedKey {
                            slot_id: repo.slot_id().to_string(),
                            kek,
                        },
                    )
                    .err()
                    .map(|e| e.to_string())
                });
                Ok(open::Opened {
                    repo,
                    with: open::OpenedWith::Passphrase,
                    keychain_warning,
                })
            })
            .await?;
            let label = request.repository_label.trim().to_string();
            self.catalog
                .remember_repository(opened.repo.id(), &location, &label, Utc::now())
                .await?;
            Ok(self.set_session(opened, &location, &label))
        };
        Ok(ops::recorded(Some(&self.catalog), RunKind::Create, None, &title, work, |r| {
            format!("Created repository {} at {}", &r.id[..8], r.location)
        })
        .await?)
    }

    /// Tries a remote location (S3 or SFTP) with what was typed, before a
    /// repository is created or opened there; saves nothing.
    pub async fn test_location(&self, request: TestLocationRequest) -> ApiResult<LocationTest> {
        let location = Location::parse(&request.location).map_err(|e| Error::InvalidField {
            field: "location",
            message: e.to_string(),
        })?;
        if location.is_local() {
            return Err(Error::InvalidField {
                field: "location",
                message: "a folder needs no connection test: Lifeboat checks it when the repository is created or opened".into(),
            }
            .into());
        }
        let access_key = request.access_key.map(AccessKey::credentials).transpose()?;
        if access_key.is_some() && !matches!(location, Location::S3 { .. }) {
            return Err(access_key_misplaced().into());
        }
        let keychain = self.keychain.clone();
        let text = location.to_string();
        let tested = ops::blocking(move || {
            let backend = match access_key {
                Some(key) => location.open_with(Some(key))?,
                None => location.open(keychain.as_deref())?,
            };
            backend::test_storage(backend.as_ref())
        })
        .await?;
        Ok(LocationTest {
            location: text,
            holds_repository: tested.holds_repository,
            atomic_replace: tested.guarantees.atomic_replace,
            conditional_create: tested.guarantees.conditional_create,
        })
    }

    /// Opens an existing repository with a passphrase or a recovery kit, and caches its key.
    pub async fn open_repository(&self, request: OpenRequest) -> ApiResult<OpenRepository> {
        let location = request.location.trim().to_string();
        let title = format!("Open repository at {location}");
        let keychain = self.keychain.clone();
        let work = async {
            let passphrase = request.passphrase.filter(|p| !p.expose_secret().is_empty());
            let recovery_kit = request.recovery_kit.filter(|k| !k.expose_secret().trim().is_empty());
            if passphrase.is_none() && recovery_kit.is_none() {
                return Err(Error::InvalidInput(
                    "enter the repository's passphrase, or paste a recovery kit".into(),
                ));
            }
            if location.is_empty() {
                return Err(Error::InvalidInput("enter the folder that holds the repository".into()));
            }
            let location_for_work = location.clone();
            let access_key = request.access_key.map(AccessKey::credentials).transpose()?;
            let opened = ops::blocking(move || {
                let backend = open_location(&location_for_work, access_key, keychain.as_deref())?;
                open::open(
                    backend,
                    open::OpenRequest {
                        recovery_kit,
                        passphrase,
                        keychain: keychain.as_deref(),
                        prompt: None,
                    },
                )
            })
            .await?;
            let known_label = self
                .catalog
                .repositories()
                .await?
                .into_iter()
                .find(|r| r.id == opened.repo.id())
                .map(|r| r.label)
                .unwrap_or_default();
            self.catalog
                .remember_repository(opened.repo.id(), &location, &known_label, Utc::now())
                .await?;
            Ok(self.set_session(opened, &location, &known_label))
        };
        Ok(ops::recorded(Some(&self.catalog), RunKind::Open, None, &title, work, |r| {
            let with = match r.opened_with {
                Unlock::RecoveryKit => "a recovery kit",
                _ => "a passphrase",
            };
            format!("Opened repository {} at {} with {with}", &r.id[..8], r.location)
        })
        .await?)
    }

    /// Closes the repository; the app starts on the first-run screen until
    /// one is opened again. Nothing in the repository changes.
    pub async fn close_repository(&self) -> ApiResult<()> {
        *self.session.lock().unwrap() = None;
        *self.needs_unlock.lock().unwrap() = None;
        *self.reopen_error.lock().unwrap() = None;
        self.catalog.clear_current_repository().await?;
        Ok(())
    }

    pub(crate) async fn keychain_status(&self, repo_id: &str) -> KeychainStatus {
        let Some(keychain) = self.keychain.clone() else {
            return KeychainStatus::Unavailable {
                reason: "the keychain is turned off for this app".into(),
            };
        };
        let id = repo_id.to_string();
        match blocking(move || keychain.load(&id)).await {
            Ok(Some(_)) => KeychainStatus::Cached,
            Ok(None) => KeychainStatus::NotCached,
            Err(e) => KeychainStatus::Unavailable { reason: e.message },
        }
    }

    pub async fn overview(&self) -> ApiResult<RepositoryOverview> {
        let (repo, info) = self.current()?;
        let for_stats = repo.clone();
        let stats = blocking(move || stats::stats(&for_stats)).await?;
        let keychain = self.keychain_status(&info.id).await;
        Ok(RepositoryOverview::new(
            &info,
            repo.config().created,
            repo.config().version,
            stats,
            keychain,
        ))
    }

    /// Drops this repository's key from the OS keychain: the app will ask
    /// for the passphrase at its next start.
    pub async fn forget_keychain(&self) -> ApiResult<KeychainStatus> {
        let (_, info) = self.current()?;
        if let Some(keychain) = self.keychain.clone() {
            let id = info.id.clone();
            blocking(move || keychain.forget(&id)).await?;
        }
        Ok(self.keychain_status(&info.id).await)
    }
}

/// The storage at `location`: with `access_key` when one was typed (then
/// saved in the keychain for later opens, by this app, the scheduler and the
/// CLI), else as [`Location::open`] finds one.
fn open_location(location: &str, access_key: Option<StorageCredentials>, keychain: Option<&dyn KeyStore>) -> Result<Arc<dyn Backend>> {
    let location = Location::parse(location)?;
    let Some(access_key) = access_key else {
        return location.open(keychain);
    };
    if !matches!(location, Location::S3 { .. }) {
        return Err(access_key_misplaced());
    }
    let backend = location.open_with(Some(access_key.clone()))?;
    // Proves the key before it is kept: a listing needs a working key.
    backend.list("keys")?;
    if let Some(keychain) = keychain {
        if let Err(e) = keychain.store_storage_credentials(&location.to_string(), &access_key) {
            tracing::warn!("could not save the access key of {location} in the keychain: {e}");
        }
    }
    Ok(backend)
}

fn access_key_misplaced() -> Error {
    Error::InvalidField {
        field: "access_key",
        message: "an access key is for an S3 location (s3://bucket/prefix); a folder or an SFTP server needs none".into(),
    }
}

/// A new repository goes into a new or empty folder: never mixed into
/// someone's files.
fn validate_new_location(location: &str) -> Result<()> {
    let path = match Location::parse(location)? {
        Location::Local(path) => path,
        // `Repository::init` refuses a prefix that holds a repository or its data.
        _ => return Ok(()),
    };
    let path = &path;
    if !path.is_absolute() {
        return Err(Error::InvalidInput(
            "give the full path of the folder for the repository (for example /mnt/nas/lifeboat)".into(),
        ));
    }
    match std::fs::read_dir(path) {
        Ok(mut entries) => {
            if path.join("config").exists() {
                return Err(Error::AlreadyExists(location.to_string()));
            }
            if entries.next().is_some() {
                return Err(Error::InvalidInput(format!(
                    "{location} is not empty: choose an empty or new folder, so the repository's files are not mixed with others"
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::InvalidInput(format!("cannot use {location}: {e}"))),
    }
}
