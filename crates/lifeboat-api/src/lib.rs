//! # lifeboat-api
//!
//! The API surface the desktop app calls: one [`App`] per process holding
//! the catalog, the open repository and the running jobs, with one method
//! per thing the UI can do. Each method calls `lifeboat-core`, records the
//! run in the catalog's history, and returns transport types ([`dto`]) or an
//! [`ApiError`]. Tauri commands are one-line callers of these methods; no
//! repository logic lives here or there.

pub mod bindings;
mod databases;
pub mod dto;
mod error;
mod progress;
mod schedules;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use lifeboat_core::backend::LocalBackend;
use lifeboat_core::catalog::{Catalog, RunFilter, RunKind, RunStatus};
use lifeboat_core::crypto::keychain::{CachedKey, KeyStore};
use lifeboat_core::events::EventLog;
use lifeboat_core::notify::{self, Announcer};
use lifeboat_core::paths::Paths;
use lifeboat_core::progress::CancelFlag;
use lifeboat_core::repo::{check, keys, manifest, open, prune, stats, InitOptions, Repository};
use lifeboat_core::schedule::scheduler::Claims;
use secrecy::ExposeSecret;
use serde::Serialize;

pub use dto::*;
pub use error::{ApiError, ApiResult, ErrorCode};
use progress::ThrottledProgress;

/// How long a job waits for another process's lock before saying so.
const LOCK_WAIT: Duration = Duration::from_secs(5);

struct Session {
    repo: Arc<Repository>,
    info: OpenRepository,
}

/// The app's state: one per process.
pub struct App {
    paths: Paths,
    catalog: Catalog,
    keychain: Option<Arc<dyn KeyStore>>,
    session: Mutex<Option<Session>>,
    needs_unlock: Mutex<Option<KnownRepository>>,
    reopen_error: Mutex<Option<ApiError>>,
    jobs: Mutex<HashMap<u32, CancelFlag>>,
    /// Where every job's events go (the event log, desktop notifications).
    announcer: Arc<Announcer>,
    /// Connections with a job running: shared with the scheduler.
    claims: Claims,
    keep_running_in_tray: AtomicBool,
}

/// A job in [`App`]'s table of cancellable jobs, removed from it on drop.
struct RunningJob<'a> {
    jobs: &'a Mutex<HashMap<u32, CancelFlag>>,
    id: u32,
    cancel: CancelFlag,
}

impl Drop for RunningJob<'_> {
    fn drop(&mut self) {
        self.jobs.lock().unwrap().remove(&self.id);
    }
}

/// Runs blocking engine work off the async runtime.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> lifeboat_core::Result<T> + Send + 'static) -> ApiResult<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => Err(ApiError::new(ErrorCode::Other, format!("the job stopped unexpectedly: {e}"))),
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

impl App {
    /// Opens the catalog and reopens the last repository from the keychain
    /// when it can (never asking: the UI asks when `status` says so).
    pub async fn start(paths: Paths, keychain: Option<Arc<dyn KeyStore>>) -> ApiResult<App> {
        let catalog = Catalog::open(&paths.catalog()).await?;
        let interrupted = catalog.mark_interrupted_runs(Utc::now()).await?;
        if interrupted > 0 {
            tracing::warn!("{interrupted} run(s) were interrupted when the app last stopped");
        }
        let prefs = catalog.notification_prefs().await?;
        let announcer = Arc::new(Announcer::new(EventLog::new(paths.events()), notify::notifier_from_env(), prefs));
        let claims = Claims::in_folder(paths.claims_dir());
        let app = App {
            paths,
            catalog,
            keychain,
            session: Mutex::new(None),
            needs_unlock: Mutex::new(None),
            reopen_error: Mutex::new(None),
            jobs: Mutex::new(HashMap::new()),
            announcer,
            claims,
            keep_running_in_tray: AtomicBool::new(true),
        };
        let settings = app.desktop_settings().await?;
        app.keep_running_in_tray
            .store(settings.keep_running_in_tray, std::sync::atomic::Ordering::Relaxed);
        if let Some(known) = app.catalog.current_repository().await? {
            app.reopen_from_keychain(known).await;
        }
        Ok(app)
    }

    async fn reopen_from_keychain(&self, known: lifeboat_core::catalog::RepositoryRecord) {
        let keychain = self.keychain.clone();
        let location = known.location.clone();
        let opened = tokio::task::spawn_blocking(move || {
            let backend = Arc::new(LocalBackend::new(&location));
            open::open(
                backend,
                open::OpenRequest {
                    keychain: keychain.as_deref(),
                    ..Default::default()
                },
            )
        })
        .await
        .unwrap_or_else(|e| Err(lifeboat_core::Error::Internal(format!("reopening stopped unexpectedly: {e}"))));
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
            Err(lifeboat_core::Error::NoCredentials) => self.set_reopen_failure(record, None),
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

    /// The open repository, or the error the UI shows when there is none.
    fn current(&self) -> ApiResult<(Arc<Repository>, OpenRepository)> {
        match self.session.lock().unwrap().as_ref() {
            Some(s) => Ok((s.repo.clone(), s.info.clone())),
            None => Err(ApiError::new(
                ErrorCode::NoRepositoryOpen,
                "no repository is open: create one or open an existing one first",
            )),
        }
    }

    /// Records a run in the history around `work`.
    async fn record<T: Serialize>(
        &self,
        kind: RunKind,
        repository_id: Option<&str>,
        title: &str,
        work: impl Future<Output = ApiResult<T>>,
        describe: impl FnOnce(&T) -> String,
    ) -> ApiResult<T> {
        let run = self.catalog.start_run(kind, repository_id, title, Utc::now()).await?;
        let result = work.await;
        let (status, summary, detail) = match &result {
            Ok(value) => (
                RunStatus::Succeeded,
                describe(value),
                serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
            ),
            Err(e) => (
                if e.code == ErrorCode::Cancelled {
                    RunStatus::Cancelled
                } else {
                    RunStatus::Failed
                },
                format!("{title}: {}", e.message),
                serde_json::json!({ "error": e }),
            ),
        };
        if let Err(e) = self.catalog.finish_run(run, status, &summary, &detail, Utc::now()).await {
            tracing::error!("could not record the end of run {run}: {e}");
        }
        result
    }

    pub fn status(&self) -> AppStatus {
        AppStatus {
            repository: self.session.lock().unwrap().as_ref().map(|s| s.info.clone()),
            needs_unlock: self.needs_unlock.lock().unwrap().clone(),
            reopen_error: self.reopen_error.lock().unwrap().clone(),
            data_dir: self.paths.data_dir.display().to_string(),
            log_file: self.paths.log_dir.join("lifeboat.log").display().to_string(),
            home_dir: std::env::var("HOME").unwrap_or_default(),
        }
    }

    /// Creates a repository in an empty or new folder, opens it, and caches its key.
    pub async fn create_repository(&self, request: CreateRequest) -> ApiResult<OpenRepository> {
        let location = request.location.trim().to_string();
        let title = format!("Create repository at {location}");
        let keychain = self.keychain.clone();
        let work = async {
            validate_new_location(&location)?;
            if request.passphrase.expose_secret().chars().count() < 8 {
                return Err(ApiError::invalid_input(
                    "the passphrase is too short: use at least 8 characters (a few random words are best)",
                ));
            }
            let location_for_work = location.clone();
            let key_label = request.key_label.trim().to_string();
            let opened = blocking(move || {
                let backend = Arc::new(LocalBackend::new(&location_for_work));
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
        self.record(RunKind::Create, None, &title, work, |r| {
            format!("Created repository {} at {}", &r.id[..8], r.location)
        })
        .await
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
                return Err(ApiError::invalid_input(
                    "enter the repository's passphrase, or paste a recovery kit",
                ));
            }
            if location.is_empty() {
                return Err(ApiError::invalid_input("enter the folder that holds the repository"));
            }
            let location_for_work = location.clone();
            let opened = blocking(move || {
                let backend = Arc::new(LocalBackend::new(&location_for_work));
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
        self.record(RunKind::Open, None, &title, work, |r| {
            let with = match r.opened_with {
                Unlock::RecoveryKit => "a recovery kit",
                _ => "a passphrase",
            };
            format!("Opened repository {} at {} with {with}", &r.id[..8], r.location)
        })
        .await
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

    async fn keychain_status(&self, repo_id: &str) -> KeychainStatus {
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

    /// Checks the repository's structure, or with `read_data` every byte,
    /// streaming progress to `on_progress`. Cancel with [`App::cancel_job`]`(job)`.
    pub async fn check(
        &self,
        read_data: bool,
        job: u32,
        on_progress: impl Fn(JobProgress) + Send + Sync + 'static,
    ) -> ApiResult<CheckResult> {
        let (repo, info) = self.current()?;
        let running = self.register_job(job)?;
        let title = if read_data { "Check (read all data)" } else { "Check (structure)" };
        let work = async {
            let started = Instant::now();
            let progress = ThrottledProgress::new(on_progress, running.cancel.clone());
            let (mut report, accounting) = blocking(move || {
                let report = check::check(
                    &repo,
                    check::CheckOptions {
                        read_data,
                        lock_wait: LOCK_WAIT,
                    },
                    &progress,
                )?;
                Ok((report, manifest::accounting(&repo)?))
            })
            .await?;
            // Snapshots this workstation saw, gone without a forget record.
            report.errors.extend(self.catalog.vanished_snapshots(&info.id, &accounting).await?);
            Ok(CheckResult {
                healthy: report.healthy(),
                read_data,
                errors: report.errors,
                warnings: report.warnings,
                next_steps: report.next_steps,
                snapshots: report.snapshots,
                packs: report.packs,
                blobs: report.blobs,
                bytes_verified: report.bytes_verified,
                duration_ms: started.elapsed().as_millis() as u64,
            })
        };
        self.record(RunKind::Check, Some(&info.id), title, work, |r| {
            if r.healthy {
                format!(
                    "{title}: healthy, {} and {} checked",
                    plural(r.snapshots, "snapshot"),
                    plural(r.packs, "pack")
                )
            } else {
                format!("{title}: {} found", plural(r.errors.len(), "problem"))
            }
        })
        .await
    }

    /// Registers job `job` as running; it can be cancelled until the
    /// returned guard drops (however the job ends).
    fn register_job(&self, job: u32) -> ApiResult<RunningJob<'_>> {
        let mut jobs = self.jobs.lock().unwrap();
        if jobs.contains_key(&job) {
            return Err(ApiError::invalid_input(format!("job {job} is already running")));
        }
        let cancel = CancelFlag::default();
        jobs.insert(job, cancel.clone());
        Ok(RunningJob {
            jobs: &self.jobs,
            id: job,
            cancel,
        })
    }

    /// Asks a running job to stop; false when no such job runs.
    pub fn cancel_job(&self, job: u32) -> bool {
        match self.jobs.lock().unwrap().get(&job) {
            Some(flag) => {
                flag.cancel();
                true
            }
            None => false,
        }
    }

    /// Removes what no snapshot needs (and leftovers of interrupted backups).
    pub async fn prune(&self) -> ApiResult<PruneResult> {
        let (repo, info) = self.current()?;
        let work = async {
            let report = blocking(move || {
                prune::prune(
                    &repo,
                    prune::PruneOptions {
                        dry_run: false,
                        lock_wait: LOCK_WAIT,
                    },
                    &lifeboat_core::progress::NoProgress,
                )
            })
            .await?;
            Ok(PruneResult {
                packs_before: report.packs_before,
                packs_removed: report.packs_removed,
                packs_repacked: report.packs_repacked,
                leftover_packs_removed: report.leftover_packs_removed,
                bytes_before: report.bytes_before,
                bytes_freed: report.bytes_freed,
            })
        };
        self.record(RunKind::Prune, Some(&info.id), "Prune", work, |r| {
            format!(
                "Prune: freed {} bytes, removed {}",
                r.bytes_freed,
                plural(r.packs_removed + r.leftover_packs_removed, "pack")
            )
        })
        .await
    }

    pub async fn key_slots(&self) -> ApiResult<Vec<KeySlotInfo>> {
        let (repo, _) = self.current()?;
        let in_use = repo.slot_id().to_string();
        let mut slots = blocking(move || keys::list(&repo)).await?;
        slots.sort_by_key(|s| s.created);
        Ok(slots.into_iter().map(|s| KeySlotInfo::new(s, &in_use)).collect())
    }

    /// Adds a passphrase slot (a person or device that can open the repository).
    pub async fn add_key(&self, request: AddKeyRequest) -> ApiResult<KeySlotInfo> {
        let (repo, info) = self.current()?;
        let label = request.label.trim().to_string();
        let title = format!("Add key \"{label}\"");
        let work = async {
            if request.passphrase.expose_secret().chars().count() < 8 {
                return Err(ApiError::invalid_input(
                    "the passphrase is too short: use at least 8 characters (a few random words are best)",
                ));
            }
            if label.is_empty() {
                return Err(ApiError::invalid_input("name the key: who or which device will use it"));
            }
            let in_use = repo.slot_id().to_string();
            let slot = blocking(move || keys::add_passphrase(&repo, request.passphrase.expose_secret(), &label)).await?;
            Ok(KeySlotInfo::new(slot, &in_use))
        };
        self.record(RunKind::KeyAdd, Some(&info.id), &title, work, |s| {
            format!("Added key {} \"{}\"", s.short_id, s.label)
        })
        .await
    }

    /// Removes a key slot (never the last). Removing the slot this session
    /// opened with also drops the keychain entry, which would no longer work.
    pub async fn remove_key(&self, id: String) -> ApiResult<KeySlotInfo> {
        let (repo, info) = self.current()?;
        let title = format!("Remove key {}", id.chars().take(8).collect::<String>());
        let keychain = self.keychain.clone();
        let work = async {
            let in_use = repo.slot_id().to_string();
            let repo_id = info.id.clone();
            let removed = blocking(move || {
                let slot = keys::remove(&repo, &id)?;
                if slot.id == in_use {
                    if let Some(keychain) = keychain {
                        keychain.forget(&repo_id)?;
                    }
                }
                Ok(slot)
            })
            .await?;
            Ok(KeySlotInfo::new(removed, ""))
        };
        self.record(RunKind::KeyRemove, Some(&info.id), &title, work, |s| {
            format!("Removed key {} \"{}\"", s.short_id, s.label)
        })
        .await
    }

    /// Creates a recovery slot and writes its kit to a new file (0600).
    pub async fn save_recovery_kit(&self, request: RecoveryKitRequest) -> ApiResult<RecoveryKitSaved> {
        let (repo, info) = self.current()?;
        let path = request.path.trim().to_string();
        let title = format!("Export recovery kit to {path}");
        let work = async {
            if !Path::new(&path).is_absolute() {
                return Err(ApiError::invalid_input(
                    "give the full path of the file to write the recovery kit to",
                ));
            }
            let label = if request.label.trim().is_empty() {
                "recovery kit".to_string()
            } else {
                request.label.trim().to_string()
            };
            let target = PathBuf::from(&path);
            let in_use = repo.slot_id().to_string();
            let slot = blocking(move || keys::export_recovery_kit(&repo, &label, &target)).await?;
            Ok(RecoveryKitSaved {
                path: path.clone(),
                slot: KeySlotInfo::new(slot, &in_use),
            })
        };
        self.record(RunKind::RecoveryKit, Some(&info.id), &title, work, |r| {
            format!("Saved a recovery kit (key {}) to {}", r.slot.short_id, r.path)
        })
        .await
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

    /// The run history, newest first.
    pub async fn activity(&self, filter: ActivityFilter) -> ApiResult<Vec<ActivityEntry>> {
        let runs = self
            .catalog
            .runs(&RunFilter {
                kinds: filter.kinds,
                statuses: filter.statuses,
                repository_id: None,
                limit: filter.limit,
            })
            .await?;
        Ok(runs.into_iter().map(Into::into).collect())
    }
}

/// A new repository goes into a new or empty folder: never mixed into
/// someone's files.
fn validate_new_location(location: &str) -> ApiResult<()> {
    let path = Path::new(location);
    if location.is_empty() || !path.is_absolute() {
        return Err(ApiError::invalid_input(
            "give the full path of the folder for the repository (for example /mnt/nas/lifeboat)",
        ));
    }
    match std::fs::read_dir(path) {
        Ok(mut entries) => {
            if path.join("config").exists() {
                return Err(lifeboat_core::Error::AlreadyExists(location.to_string()).into());
            }
            if entries.next().is_some() {
                return Err(ApiError::invalid_input(format!(
                    "{location} is not empty: choose an empty or new folder, so the repository's files are not mixed with others"
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ApiError::invalid_input(format!("cannot use {location}: {e}"))),
    }
}
