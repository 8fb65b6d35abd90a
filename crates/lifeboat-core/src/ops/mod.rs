//! One home for every job on a database or a repository that a person or a
//! schedule starts: back up, verify, restore, drill, apply retention, save a
//! connection, change a schedule, and the scheduler that starts them. Each
//! records its run in the catalog's history, announces its events (and so
//! the desktop notifications) and returns its report. The CLI, the app and
//! the scheduler all call these, so a job reports the same way whoever
//! started it; callers only parse, call and render.

mod backup;
pub mod channel;
pub mod connection;
pub mod copy;
mod drill;
pub mod heartbeat;
pub mod keys;
pub mod maintenance;
mod pitr;
mod record;
pub mod report;
mod restore;
mod retention;
mod schedule_change;
pub mod scheduler;
mod verify;

pub use backup::{BackupJob, BackupSource, SavedBackup, ServerBackupJob};
use heartbeat::Ping;
pub use record::recorded;
pub use restore::RestoreJob;
pub use schedule_change::ScheduleChange;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::catalog::{Catalog, RunKind};
use crate::crypto::keychain::KeyStore;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::jobs::pitr::base_backup::BaseBackupOptions;
use crate::notify::Announcer;
use crate::progress::{CancelFlag, Progress};
use crate::repo::manifest::{self, Snapshot, SnapshotKind};
use crate::repo::Repository;
use crate::schedule::{JobKind, Schedule};
use scheduler::JobHost;

/// Progress that only carries a cancellation flag (headless jobs).
pub struct Cancellable(pub CancelFlag);

impl Progress for Cancellable {
    fn cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

pub struct Runner {
    pub repo: Arc<Repository>,
    pub catalog: Catalog,
    pub keychain: Option<Arc<dyn KeyStore>>,
    pub announcer: Arc<Announcer>,
    pub lock_wait: Duration,
    /// The off-site repository's passphrase where no keychain holds its key
    /// (a headless server: the CLI reads LIFEBOAT_TO_PASSWORD).
    pub offsite_passphrase: Option<secrecy::SecretString>,
}

impl Runner {
    /// Remembers `snapshot` as the newest of its name (see
    /// [`Catalog::check_newest_seen`]); returns the warning when a newer one
    /// this workstation saw is gone.
    pub async fn remember_newest(&self, snapshot: &manifest::Snapshot) -> Option<String> {
        match self.catalog.check_newest_seen(self.repo.id(), snapshot).await {
            Ok(warning) => {
                if let Some(warning) = &warning {
                    tracing::warn!("{warning}");
                }
                warning
            }
            Err(e) => {
                tracing::warn!("could not compare with the snapshots seen before: {e}");
                None
            }
        }
    }

    /// Runs `work` as one entry of the run history (see [`record::recorded`]).
    async fn recorded<T: serde::Serialize>(
        &self,
        kind: RunKind,
        title: &str,
        work: impl Future<Output = Result<T>>,
        describe: impl FnOnce(&T) -> String,
    ) -> Result<T> {
        record::recorded(Some(&self.catalog), kind, Some(self.repo.id()), title, work, describe).await
    }

    /// The snapshot `spec` names (an id, a prefix or `latest:NAME`).
    async fn resolve(&self, spec: &str) -> Result<Snapshot> {
        let repo = self.repo.clone();
        let spec = spec.to_owned();
        blocking(move || manifest::resolve(&repo, &spec)).await
    }
}

pub use crate::jobs::blocking;

impl Runner {
    /// Whether `connection` is a saved server connection; a lookup that
    /// fails says no, and the ordinary job then records why.
    async fn is_server(&self, connection: &str) -> bool {
        self.catalog
            .connection(connection)
            .await
            .ok()
            .flatten()
            .is_some_and(|c| c.server.is_some())
    }
}

impl Runner {
    /// A schedule's backup, copied off-site when it says so. A server run
    /// with a failing database applies its retention and is then failed.
    async fn scheduled_backup(&self, schedule: &Schedule, progress: Arc<dyn Progress>) -> Result<()> {
        let made = self
            .backup_saved(&schedule.connection, SnapshotKind::Scheduled, None, None, progress.clone())
            .await?;
        if let Some(location) = &schedule.copy_to {
            if let SavedBackup::Server(report) = &made {
                for database in &report.databases {
                    self.copy_offsite(&database.name, location, &database.snapshot_id, progress.clone())
                        .await;
                }
            }
            self.copy_offsite(&schedule.connection, location, made.snapshot_id(), progress)
                .await;
        }
        match made.failures() {
            Some(failures) => {
                // The group and the other databases' snapshots stand, so
                // retention runs as after any backup (no policy removes the
                // newest snapshots of a name that stopped); the job is
                // recorded failed, so the schedule shows it.
                if !schedule.retention.is_empty() {
                    // A failure here is announced by apply_retention itself.
                    let _ = self.apply_retention(schedule).await;
                }
                Err(Error::InvalidInput(failures))
            }
            None => Ok(()),
        }
    }
}

/// The first eight characters of a snapshot id (or of what names one).
fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

impl JobHost for Runner {
    async fn run(&self, schedule: &Schedule, job: JobKind, cancel: CancelFlag) -> Result<()> {
        schedule.check_repository(self.repo.id())?;
        let progress: Arc<dyn Progress> = Arc::new(Cancellable(cancel));
        match job {
            JobKind::Backup => {
                let heartbeat = schedule.heartbeat.as_deref();
                self.heartbeat(&schedule.connection, heartbeat, Ping::Start).await;
                let outcome = self.scheduled_backup(schedule, progress).await;
                let ping = if outcome.is_ok() { Ping::Success } else { Ping::Fail };
                self.heartbeat(&schedule.connection, heartbeat, ping).await;
                outcome
            }
            JobKind::Drill if self.is_server(&schedule.connection).await => Err(Error::InvalidInput(format!(
                "{} is a whole server: drill one of its databases (latest:{}/DATABASE) from the Drills screen or `lifeboat drill`",
                schedule.connection, schedule.connection
            ))),
            JobKind::Drill => {
                // Dumps are drilled on the drill server, base backups on a
                // scratch cluster here; a schedule with both drills both.
                let mut reports = Vec::new();
                if let Some(server) = schedule.drill_server.as_deref().filter(|s| !s.trim().is_empty()) {
                    let latest = format!("latest:{}", schedule.connection);
                    reports.push(self.drill(&latest, server, schedule.probes.clone(), progress.clone()).await?);
                }
                if schedule.base_backup.is_some() {
                    let latest = format!("latest:{}", crate::jobs::pitr::base_tag(&schedule.connection));
                    let database = self.catalog.connection(&schedule.connection).await?.map(|c| c.database);
                    let database = database.unwrap_or_else(|| "postgres".into());
                    let report = self
                        .drill_base_backup(&latest, &database, schedule.probes.clone(), None, progress)
                        .await?;
                    reports.push(report);
                }
                match reports.iter().find_map(|r| r.failed_check()) {
                    None => Ok(()),
                    Some(check) => Err(Error::InvalidInput(format!("the check {} failed: {}", check.name, check.detail))),
                }
            }
            JobKind::BaseBackup => {
                let saved = self
                    .catalog
                    .connection(&schedule.connection)
                    .await?
                    .ok_or_else(|| Error::InvalidInput(format!("{} is not a saved connection any more", schedule.connection)))?;
                let spec = saved.spec(self.keychain.as_deref())?;
                let options = BaseBackupOptions {
                    name: schedule.connection.clone(),
                    kind: SnapshotKind::Scheduled,
                    connection: Some(schedule.connection.clone()),
                    ..Default::default()
                };
                self.base_backup(&spec, options, progress).await?;
                if !schedule.retention.is_empty() {
                    // A failure here is announced by the retention itself.
                    let _ = self.apply_base_backup_retention(schedule).await;
                }
                Ok(())
            }
        }
    }

    async fn apply_retention(&self, schedule: &Schedule) -> Result<()> {
        Runner::apply_retention(self, schedule).await
    }

    async fn last_backup(&self, connection: &str) -> Result<Option<DateTime<Utc>>> {
        let repo = self.repo.clone();
        let name = connection.to_owned();
        blocking(move || {
            let Some(pointer) = manifest::read_latest(&repo, &name)? else {
                return Ok(None);
            };
            Ok(Some(manifest::load(&repo, &pointer.snapshot)?.manifest.end))
        })
        .await
    }

    async fn offsite_stale(&self, connection: &str, location: &str, last: Option<DateTime<Utc>>, deadline: DateTime<Utc>) {
        let due = deadline.format("%Y-%m-%d %H:%M UTC");
        let message = match last {
            Some(last) => format!(
                "the newest copy of {connection} in {location} is from {}; a newer one was due by {due}",
                last.format("%Y-%m-%d %H:%M UTC")
            ),
            None => format!("no backup of {connection} has been copied to {location} yet; one was due by {due}"),
        };
        let event = Event::new(EventKind::OffsiteStale, Some(connection), false, message)
            .with_detail(serde_json::json!({ "location": location, "last_copy": last, "due_by": deadline }));
        self.announce(event).await;
    }

    async fn stale(&self, connection: &str, last: Option<DateTime<Utc>>, deadline: DateTime<Utc>) {
        let due = deadline.format("%Y-%m-%d %H:%M UTC");
        let message = match last {
            Some(last) => format!(
                "no successful backup of {connection} since {}; one was due by {due}",
                last.format("%Y-%m-%d %H:%M UTC")
            ),
            None => format!("{connection} has had no successful backup since its schedule was set; one was due by {due}"),
        };
        let event = Event::new(EventKind::Stale, Some(connection), false, message)
            .with_detail(serde_json::json!({ "last_backup": last, "due_by": deadline }));
        self.announce(event).await;
    }
}
