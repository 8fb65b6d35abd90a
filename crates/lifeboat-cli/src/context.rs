//! What every CLI command that runs a job needs, in one leaf module: the
//! async runtime, the workstation's catalog, the announcer, the job runner
//! and per-database claims.

use std::sync::Arc;

use anyhow::Result;
use chrono::Local;
use lifeboat_core::catalog::Catalog;
use lifeboat_core::crypto::keychain::{KeyStore, OsKeychain};
use lifeboat_core::events::EventLog;
use lifeboat_core::notify::{self, Announcer};
use lifeboat_core::ops::scheduler::{Claim, Claims, Scheduler, SystemClock};
use lifeboat_core::ops::Runner;
use lifeboat_core::paths::Paths;

use crate::credentials::open_repo;
use crate::GlobalArgs;

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// The workstation's catalog (`LIFEBOAT_DATA_DIR` or the user's data folder).
pub async fn open_catalog() -> Result<Catalog> {
    Ok(Catalog::open(&Paths::from_env()?.catalog()).await?)
}

/// The catalog, or `None` with a note when it cannot be opened: jobs that
/// only read or change the repository still run, unrecorded.
pub async fn catalog_if_available() -> Option<Catalog> {
    match open_catalog().await {
        Ok(catalog) => Some(catalog),
        Err(e) => {
            eprintln!("note: this run is not recorded in the workstation's history: {e}");
            None
        }
    }
}

/// The event log and notifier every CLI job reports to.
pub async fn announcer(catalog: &Catalog) -> Result<Arc<Announcer>> {
    Ok(Arc::new(Announcer::new(
        EventLog::new(Paths::from_env()?.events()),
        notify::notifier_from_env(),
        catalog.notification_prefs().await?,
    )))
}

/// The OS keychain, shared with a job, unless `--no-keychain`.
pub fn keychain(g: &GlobalArgs) -> Option<Arc<dyn KeyStore>> {
    (!g.no_keychain).then(|| Arc::new(OsKeychain) as Arc<dyn KeyStore>)
}

/// The job runner over the repository the global flags name: jobs are
/// recorded in the catalog and announced as the app's are.
pub async fn runner(g: &GlobalArgs) -> Result<Runner> {
    let catalog = open_catalog().await?;
    let keychain = keychain(g);
    Ok(Runner {
        repo: Arc::new(open_repo(g)?),
        announcer: announcer(&catalog).await?,
        catalog,
        keychain,
        lock_wait: g.lock_wait(),
        offsite_passphrase: std::env::var("LIFEBOAT_TO_PASSWORD").ok().map(Into::into),
    })
}

/// Claims `name` for this process's job (see `Claims`): refused while the
/// app, a timer or another `lifeboat` runs a backup or drill of it here.
pub fn claim(name: &str) -> Result<Claim> {
    Claims::in_folder(Paths::from_env()?.claims_dir()).claim(name).ok_or_else(|| {
        anyhow::anyhow!(
            "a backup or drill of {name} is already running on this workstation (the app, a timer or another \
             `lifeboat`): wait for it to finish, then run again"
        )
    })
}

/// The scheduler over `runner`, sharing claims with every other process here.
pub fn scheduler(runner: Arc<Runner>) -> Result<Scheduler<Runner, SystemClock, Local>> {
    let catalog = runner.catalog.clone();
    let claims = Claims::in_folder(Paths::from_env()?.claims_dir());
    Ok(Scheduler::new(catalog, runner, Arc::new(SystemClock), Local, claims))
}
