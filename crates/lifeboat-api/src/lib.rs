//! # lifeboat-api
//!
//! The API surface the desktop app calls: one [`App`] per process holding
//! the catalog, the open repository and the running jobs, with one method
//! per thing the UI can do. Each method calls `lifeboat-core` (whose `ops`
//! jobs record the run in the catalog's history and announce its events)
//! and returns transport types ([`dto`]) or an [`ApiError`]. Tauri commands are one-line callers of these methods; no
//! repository logic lives here or there.

mod activity;
pub mod bindings;
mod channels;
mod checkpoint_api;
mod databases;
pub mod dto;
mod error;
mod keys;
mod maintenance;
mod pitr;
mod progress;
mod schedules;
mod session;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use lifeboat_core::catalog::Catalog;
use lifeboat_core::crypto::keychain::KeyStore;
use lifeboat_core::events::EventLog;
use lifeboat_core::notify::{self, Announcer};
use lifeboat_core::ops::scheduler::Claims;
use lifeboat_core::paths::Paths;
use lifeboat_core::progress::CancelFlag;
use lifeboat_core::repo::Repository;

pub use dto::*;
pub use error::{ApiError, ApiResult, ErrorCode};

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
    checkpoint_api: checkpoint_api::CheckpointApiState,
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
    Ok(lifeboat_core::ops::blocking(work).await?)
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
            checkpoint_api: Default::default(),
        };
        let settings = app.desktop_settings().await?;
        app.keep_running_in_tray
            .store(settings.keep_running_in_tray, std::sync::atomic::Ordering::Relaxed);
        if let Some(known) = app.catalog.current_repository().await? {
            app.reopen_from_keychain(known).await;
        }
        Ok(app)
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
}
