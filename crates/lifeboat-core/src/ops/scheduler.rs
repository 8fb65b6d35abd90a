//! The scheduler: on each tick, starts the jobs whose slot has come, raises
//! staleness alarms, and remembers what it did in the catalog.
//!
//! - A job is due when its schedule has a slot after the time it last
//!   fired (or after the schedule was created) and at or before now. A
//!   machine that was off or asleep through several slots runs the job once
//!   (as systemd's `Persistent=true`), because firing moves the reference
//!   to now.
//! - Never two jobs on one connection at once: a connection is claimed for
//!   the length of a job; a due job whose connection is busy waits for a
//!   later tick. The app claims connections the same way for its own jobs.
//! - Retention is applied after a successful scheduled backup, never after
//!   a failed one. One job's failure is recorded and reported; the
//!   scheduler goes on.
//! - Staleness: no successful backup for longer than the schedule allows
//!   raises one alarm, until a backup succeeds again.
//!
//! Time comes from a [`Clock`], so tests drive the scheduler through days
//! in milliseconds; the jobs themselves come from a [`JobHost`].

use std::collections::HashSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::progress::CancelFlag;
use crate::schedule::{JobKind, Schedule};

/// Where the scheduler gets the time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// What the scheduled jobs do; [`crate::ops::Runner`] is the real one.
pub trait JobHost: Send + Sync + 'static {
    /// Runs `job` for `schedule`'s connection; `Err` says why it failed.
    fn run(&self, schedule: &Schedule, job: JobKind, cancel: CancelFlag) -> impl Future<Output = Result<()>> + Send;
    /// Applies the schedule's retention policy after a successful backup.
    fn apply_retention(&self, schedule: &Schedule) -> impl Future<Output = Result<()>> + Send;
    /// When the connection's newest successful backup was taken.
    fn last_backup(&self, connection: &str) -> impl Future<Output = Result<Option<DateTime<Utc>>>> + Send;
    /// Raises the staleness alarm: no successful backup since `last`, one was due by `deadline`.
    fn stale(&self, connection: &str, last: Option<DateTime<Utc>>, deadline: DateTime<Utc>) -> impl Future<Output = ()> + Send;
    /// Raises the off-site alarm: the newest copy at `location` was taken
    /// at `last` (`None`: none yet), a newer one was due there by `deadline`.
    fn offsite_stale(
        &self,
        connection: &str,
        location: &str,
        last: Option<DateTime<Utc>>,
        deadline: DateTime<Utc>,
    ) -> impl Future<Output = ()> + Send;
}

/// The connections that have a job running. Within a process a set; with
/// [`Claims::in_folder`] also a file lock per connection in the data
/// folder, so the app, `lifeboat schedule run` from a systemd timer and a
/// cron `lifeboat backup` never back up one database at once. The OS
/// releases a file lock when its process ends, however it ends: no claim
/// outlives a crash.
#[derive(Clone, Default)]
pub struct Claims {
    held: Arc<Mutex<HashSet<String>>>,
    folder: Option<PathBuf>,
}

/// Held while a job runs on a connection; dropping it frees the connection.
pub struct Claim {
    claims: Claims,
    connection: String,
    /// Locked while held; closing it unlocks. Never deleted: removing a
    /// lock file others may have open would let two holders in.
    _file: Option<std::fs::File>,
}

impl Claims {
    /// Claims honoured by every process that uses `folder` (see [`Paths::claims_dir`](crate::paths::Paths::claims_dir)).
    pub fn in_folder(folder: PathBuf) -> Claims {
        Claims {
            held: Arc::default(),
            folder: Some(folder),
        }
    }

    /// Claims `connection`, or `None` when a job already runs on it, here
    /// or in another process.
    pub fn claim(&self, connection: &str) -> Option<Claim> {
        if !self.held.lock().unwrap_or_else(|e| e.into_inner()).insert(connection.to_owned()) {
            return None;
        }
        let file = match self.lock_file(connection) {
            Ok(FileClaim::Held(file)) => Some(file),
            Ok(FileClaim::NoFolder) => None,
            Ok(FileClaim::Busy) => {
                self.held.lock().unwrap_or_else(|e| e.into_inner()).remove(connection);
                return None;
            }
            Err(e) => {
                // A data folder that cannot hold lock files still has the in-process claim.
                tracing::warn!("claims of other processes cannot be seen: {e}");
                None
            }
        };
        Some(Claim {
            claims: self.clone(),
            connection: connection.to_owned(),
            _file: file,
        })
    }

    pub fn is_busy(&self, connection: &str) -> bool {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).contains(connection)
            || matches!(self.lock_file(connection), Ok(FileClaim::Busy))
    }

    /// The connection's lock file, locked, unless another process holds it.
    fn lock_file(&self, connection: &str) -> Result<FileClaim> {
        let Some(folder) = &self.folder else {
            return Ok(FileClaim::NoFolder);
        };
        crate::repo::manifest::validate_tag(connection)?;
        crate::paths::own_private_dir(folder)?;
        let path = folder.join(format!("{connection}.lock"));
        let file = crate::paths::open_lock_file(&path)?;
        // A child process being spawned holds a copy of every open file
        // until it execs, this lock's too: a claim just released can read
        // as busy for a moment, so a busy lock is tried again briefly.
        for _ in 0..CLAIM_ATTEMPTS {
            match file.try_lock() {
                Ok(()) => return Ok(FileClaim::Held(file)),
                Err(std::fs::TryLockError::WouldBlock) => std::thread::sleep(CLAIM_RETRY),
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("locking", &path, e)),
            }
        }
        Ok(FileClaim::Busy)
    }
}

const CLAIM_ATTEMPTS: u32 = 20;
const CLAIM_RETRY: std::time::Duration = std::time::Duration::from_millis(10);

enum FileClaim {
    /// In-process claims only.
    NoFolder,
    Held(std::fs::File),
    /// Another process holds it.
    Busy,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.claims.held.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.connection);
    }
}

/// A job the scheduler started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    pub connection: String,
    pub job: JobKind,
}

pub struct Scheduler<H: JobHost, C: Clock + ?Sized, Tz: chrono::TimeZone> {
    catalog: Catalog,
    host: Arc<H>,
    clock: Arc<C>,
    tz: Tz,
    claims: Claims,
    cancel: CancelFlag,
    tasks: Mutex<tokio::task::JoinSet<()>>,
}

impl<H, C, Tz> Scheduler<H, C, Tz>
where
    H: JobHost,
    C: Clock + ?Sized + 'static,
    Tz: chrono::TimeZone + Send + Sync + 'static,
    Tz::Offset: Send + Sync,
{
    pub fn new(catalog: Catalog, host: Arc<H>, clock: Arc<C>, tz: Tz, claims: Claims) -> Self {
        Scheduler {
            catalog,
            host,
            clock,
            tz,
            claims,
            cancel: CancelFlag::default(),
            tasks: Mutex::new(tokio::task::JoinSet::new()),
        }
    }

    /// Starts every due job whose connection is free and raises staleness
    /// alarms; returns the jobs it started. A schedule that cannot be read
    /// or run is logged and skipped: the others go on.
    pub async fn tick(&self) -> Result<Vec<Started>> {
        let now = self.clock.now();
        let mut started = Vec::new();
        for schedule in self.catalog.schedules().await? {
            if let Err(e) = self.tick_one(&schedule, now, &mut started).await {
                tracing::error!("the schedule of {} could not run: {e}", schedule.connection);
            }
        }
        Ok(started)
    }

    async fn tick_one(&self, schedule: &Schedule, now: DateTime<Utc>, started: &mut Vec<Started>) -> Result<()> {
        for job in [JobKind::Backup, JobKind::BaseBackup, JobKind::Drill] {
            let state = self.catalog.job_state(&schedule.connection, job).await?;
            if schedule.next_run(job, &state, &self.tz).is_none_or(|slot| slot > now) {
                continue;
            }
            let Some(claim) = self.claims.claim(&schedule.connection) else {
                continue;
            };
            self.catalog.record_fired(&schedule.connection, job, Some(now)).await?;
            started.push(Started {
                connection: schedule.connection.clone(),
                job,
            });
            self.spawn(schedule.clone(), job, claim, state.fired_at);
        }
        self.check_staleness(schedule, now).await
    }

    /// Runs `job` of `connection` now, in the caller's task (systemd timers,
    /// "Run now"); fails when the connection is busy.
    pub async fn run_now(&self, schedule: &Schedule, job: JobKind) -> Result<()> {
        let claim = self.claims.claim(&schedule.connection).ok_or_else(|| {
            crate::Error::InvalidInput(format!(
                "a job is already running on {}: try again when it ends",
                schedule.connection
            ))
        })?;
        self.catalog.record_fired(&schedule.connection, job, Some(self.clock.now())).await?;
        let outcome = run_job(&*self.host, schedule, job, self.cancel.clone()).await;
        let error = outcome.as_ref().err().map(|e| e.to_string());
        self.catalog
            .record_finished(&schedule.connection, job, self.clock.now(), error.as_deref())
            .await?;
        drop(claim);
        outcome
    }

    /// Runs the job in the background; `previous` is when it fired before,
    /// restored when the job is cancelled so its slot is caught up later.
    fn spawn(&self, schedule: Schedule, job: JobKind, claim: Claim, previous: Option<DateTime<Utc>>) {
        let host = self.host.clone();
        let catalog = self.catalog.clone();
        let clock = self.clock.clone();
        let cancel = self.cancel.clone();
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        // Reap finished tasks so the set does not grow over months of ticks.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            let outcome = run_job(&*host, &schedule, job, cancel).await;
            let recorded = match &outcome {
                Err(crate::Error::Cancelled) => catalog.record_fired(&schedule.connection, job, previous).await,
                Err(e) => {
                    tracing::error!("scheduled {} of {} failed: {e}", job.as_str(), schedule.connection);
                    catalog
                        .record_finished(&schedule.connection, job, clock.now(), Some(&e.to_string()))
                        .await
                }
                Ok(()) => catalog.record_finished(&schedule.connection, job, clock.now(), None).await,
            };
            if let Err(e) = recorded {
                tracing::error!("could not record the end of the {} of {}: {e}", job.as_str(), schedule.connection);
            }
            drop(claim);
        });
    }

    async fn check_staleness(&self, schedule: &Schedule, now: DateTime<Utc>) -> Result<()> {
        self.check_backup_staleness(schedule, now).await?;
        self.check_offsite_staleness(schedule, now).await
    }

    /// The off-site copy goes stale by the same rule as the backups: the
    /// newest snapshot copied there (or, before the first, the schedule's
    /// last change) is followed by no newer one in time.
    async fn check_offsite_staleness(&self, schedule: &Schedule, now: DateTime<Utc>) -> Result<()> {
        let raised = self
            .catalog
            .job_state(&schedule.connection, JobKind::Backup)
            .await?
            .offsite_stale_since
            .is_some();
        let location = schedule.copy_to.as_deref().filter(|_| schedule.backup.is_some());
        let Some(location) = location else {
            if raised {
                self.catalog.set_offsite_stale_since(&schedule.connection, None).await?;
            }
            return Ok(());
        };
        let newest = self
            .catalog
            .offsite_copy(&schedule.connection, location)
            .await?
            .map(|copy| copy.snapshot_time);
        let Some(deadline) = schedule.staleness_deadline(newest.unwrap_or(schedule.updated_at), &self.tz) else {
            return Ok(());
        };
        let stale = now > deadline;
        if stale && !raised {
            self.host.offsite_stale(&schedule.connection, location, newest, deadline).await;
            self.catalog.set_offsite_stale_since(&schedule.connection, Some(now)).await?;
        } else if !stale && raised {
            self.catalog.set_offsite_stale_since(&schedule.connection, None).await?;
        }
        Ok(())
    }

    async fn check_backup_staleness(&self, schedule: &Schedule, now: DateTime<Utc>) -> Result<()> {
        if schedule.backup.is_none() {
            // No backups scheduled any more: no alarm either.
            if self
                .catalog
                .job_state(&schedule.connection, JobKind::Backup)
                .await?
                .stale_since
                .is_some()
            {
                self.catalog.set_stale_since(&schedule.connection, None).await?;
            }
            return Ok(());
        }
        let last = match self.host.last_backup(&schedule.connection).await {
            Ok(last) => last,
            Err(e) => {
                tracing::warn!("cannot tell when {} was last backed up: {e}", schedule.connection);
                return Ok(());
            }
        };
        let since = last.unwrap_or(schedule.created_at);
        let Some(deadline) = schedule.staleness_deadline(since, &self.tz) else {
            return Ok(());
        };
        let state = self.catalog.job_state(&schedule.connection, JobKind::Backup).await?;
        let stale = now > deadline;
        if stale && state.stale_since.is_none() {
            self.host.stale(&schedule.connection, last, deadline).await;
            self.catalog.set_stale_since(&schedule.connection, Some(now)).await?;
        } else if !stale && state.stale_since.is_some() {
            self.catalog.set_stale_since(&schedule.connection, None).await?;
        }
        Ok(())
    }

    /// Asks running jobs to stop (a backup cancels cleanly and writes no
    /// snapshot) and waits for them.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.wait_idle().await;
    }

    /// Waits for the jobs started so far (tests, `schedule run`).
    pub async fn wait_idle(&self) {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        while tasks.join_next().await.is_some() {}
    }
}

/// A job and what follows it: retention after a successful backup only.
/// Retention failing does not make the backup a failure: the host reports
/// it, and it runs again after the next backup.
async fn run_job<H: JobHost>(host: &H, schedule: &Schedule, job: JobKind, cancel: CancelFlag) -> Result<()> {
    host.run(schedule, job, cancel).await?;
    if job == JobKind::Backup && !schedule.retention.is_empty() {
        if let Err(e) = host.apply_retention(schedule).await {
            tracing::warn!("retention of {} did not run: {e}", schedule.connection);
        }
    }
    Ok(())
}

/// Holds the workstation's one scheduler: the app and `lifeboat daemon`
/// never both run the schedules of one data folder. Released on drop.
pub struct SchedulerLock(#[allow(dead_code)] std::fs::File);

impl SchedulerLock {
    pub fn acquire(data_dir: &std::path::Path) -> Result<SchedulerLock> {
        crate::paths::create_private_dir(data_dir)?;
        let path = data_dir.join("scheduler.lock");
        let file = std::fs::File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
        file.try_lock().map_err(|_| Error::SchedulerBusy(data_dir.to_owned()))?;
        Ok(SchedulerLock(file))
    }
}
