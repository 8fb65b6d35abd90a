//! What runs by itself, in the app: schedules and their retention preview,
//! drills and their history, notification preferences, and the scheduler
//! the app hosts while it runs (the same one `lifeboat daemon` runs).

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Local, Utc};
use lifeboat_core::catalog::{Run, RunFilter, RunKind};
use lifeboat_core::jobs::drill::DrillReport;
use lifeboat_core::notify::NotificationPrefs;
use lifeboat_core::ops::scheduler::{JobHost, Scheduler, SchedulerLock, SystemClock};
use lifeboat_core::ops::ScheduleChange;
use lifeboat_core::ops::{Runner, SavedBackup};
use lifeboat_core::pg::binaries::{self, ServerInstall};
use lifeboat_core::progress::{CancelFlag, NoProgress};
use lifeboat_core::repo::manifest::{self, SnapshotKind};
use lifeboat_core::repo::pins;
use lifeboat_core::repo::retention::{self, RetentionPolicy};
use lifeboat_core::schedule::{Cadence, JobKind, JobState, Schedule};

use crate::progress::ThrottledProgress;
use crate::{blocking, dto::*, ApiError, ApiResult, App, JobProgress, LOCK_WAIT};

const DESKTOP: &str = "desktop";

/// How often the app's scheduler looks for due jobs: slots are whole minutes.
const TICK: Duration = Duration::from_secs(15);

impl App {
    /// The engine's job runner over the open repository.
    pub(crate) fn runner(&self) -> ApiResult<Runner> {
        let (repo, _) = self.current()?;
        Ok(Runner {
            repo,
            catalog: self.catalog.clone(),
            keychain: self.keychain.clone(),
            announcer: self.announcer.clone(),
            lock_wait: LOCK_WAIT,
            // The app opens an off-site repository with the key its keychain keeps.
            offsite_passphrase: None,
        })
    }

    /// Every schedule, with next runs and last outcomes.
    pub async fn schedules(&self) -> ApiResult<Vec<ScheduleView>> {
        let mut views = Vec::new();
        for schedule in self.catalog.schedules().await? {
            views.push(self.schedule_view(schedule).await?);
        }
        Ok(views)
    }

    async fn schedule_view(&self, schedule: Schedule) -> ApiResult<ScheduleView> {
        let backup_state = self.catalog.job_state(&schedule.connection, JobKind::Backup).await?;
        let drill_state = self.catalog.job_state(&schedule.connection, JobKind::Drill).await?;
        let base_backup_state = self.catalog.job_state(&schedule.connection, JobKind::BaseBackup).await?;
        Ok(ScheduleView {
            backup: job_status(&schedule, JobKind::Backup, &backup_state),
            drill: job_status(&schedule, JobKind::Drill, &drill_state),
            base_backup: job_status(&schedule, JobKind::BaseBackup, &base_backup_state),
            stale_since: backup_state.stale_since,
            form: ScheduleForm {
                connection: schedule.connection.clone(),
                backup: schedule.backup.as_ref().map(|c| c.as_str().to_owned()),
                retention: schedule.retention,
                stale_after_seconds: schedule.stale_after.map(|d| d.as_secs()),
                drill: schedule.drill.as_ref().map(|c| c.as_str().to_owned()),
                drill_server: schedule.drill_server.clone(),
                probes: schedule.probes.clone(),
                heartbeat: schedule.heartbeat.clone(),
                base_backup: schedule.base_backup.as_ref().map(|c| c.as_str().to_owned()),
                wal_stream: schedule.wal_stream,
            },
        })
    }

    /// Saves a connection's schedule (a new one counts its first slot from now).
    pub async fn save_schedule(&self, form: ScheduleForm) -> ApiResult<ScheduleView> {
        let change = ScheduleChange {
            backup: Some(form.backup),
            drill: Some(form.drill),
            keep_last: Some(form.retention.keep_last),
            keep_daily: Some(form.retention.keep_daily),
            keep_weekly: Some(form.retention.keep_weekly),
            keep_monthly: Some(form.retention.keep_monthly),
            keep_yearly: Some(form.retention.keep_yearly),
            keep_within_hours: Some(form.retention.keep_within_hours),
            min_age_hours: Some(form.retention.min_age_hours),
            checkpoint_expiry_hours: Some(form.retention.checkpoint_expiry_hours),
            stale_after: Some(form.stale_after_seconds.filter(|s| *s > 0).map(Duration::from_secs)),
            drill_server: Some(form.drill_server),
            probes: Some(form.probes),
            // The app's form does not edit the off-site copy (`lifeboat schedule set --copy-to`).
            copy_to: None,
            base_backup: Some(form.base_backup),
            wal_stream: Some(form.wal_stream),
            heartbeat: Some(form.heartbeat),
            // Its jobs go to the repository open now.
            repository_id: self.current().ok().map(|(repo, _)| repo.id().to_owned()),
        };
        let schedule = change.save(&self.catalog, &form.connection, Utc::now()).await?;
        self.schedule_view(schedule).await
    }

    /// Removes a connection's schedule; its snapshots stay.
    pub async fn remove_schedule(&self, connection: String) -> ApiResult<()> {
        self.catalog.remove_schedule(&connection).await?;
        Ok(())
    }

    /// Exactly which snapshots of `connection` `policy` would keep and remove
    /// now, without removing anything.
    pub async fn retention_preview(&self, connection: String, policy: RetentionPolicy) -> ApiResult<Vec<RetentionPreviewEntry>> {
        let (repo, _) = self.current()?;
        blocking(move || {
            let snapshots: Vec<_> = manifest::list(&repo)?
                .snapshots
                .into_iter()
                .filter(|s| s.manifest.tag == connection)
                .collect();
            let forever = pins::kept_forever(&repo)?;
            let verdicts = if policy.is_empty() {
                // No policy keeps everything: show it as such.
                let keep_all = RetentionPolicy {
                    keep_last: u32::MAX,
                    ..Default::default()
                };
                retention::apply(&snapshots, &keep_all, &forever, &Local, Utc::now())
            } else {
                retention::apply(&snapshots, &policy, &forever, &Local, Utc::now())
            };
            Ok(verdicts
                .into_iter()
                .map(|v| RetentionPreviewEntry {
                    snapshot: v.snapshot,
                    keep: v.keep,
                })
                .collect())
        })
        .await
    }

    /// Drills a snapshot now ("Run now"), with progress; the connection is
    /// held so the scheduler starts nothing else on it meanwhile.
    pub async fn drill(
        &self,
        request: DrillRequest,
        job: u32,
        on_progress: impl Fn(JobProgress) + Send + Sync + 'static,
    ) -> ApiResult<DrillReport> {
        let runner = self.runner()?;
        for probe in &request.probes {
            probe.validate()?;
        }
        let spec = request.snapshot_id.clone();
        let repo = runner.repo.clone();
        let snapshot = blocking(move || manifest::resolve(&repo, &spec)).await?;
        let _claim = self.claims.claim(&snapshot.manifest.tag).ok_or_else(|| {
            ApiError::invalid_input(format!(
                "a job is already running on {}: try again when it ends",
                snapshot.manifest.tag
            ))
        })?;
        let running = self.register_job(job)?;
        let progress = Arc::new(ThrottledProgress::new(on_progress, running.cancel.clone()));
        // The spec as asked: a `latest:` drill is compared with the newest seen.
        Ok(match request.rehearse_major {
            Some(major) => {
                runner
                    .drill_locally(&request.snapshot_id, Some(major), true, request.probes, progress)
                    .await?
            }
            None => {
                runner
                    .drill(&request.snapshot_id, &request.server, request.probes, progress)
                    .await?
            }
        })
    }

    /// The PostgreSQL servers local drills and rehearsals can run on.
    pub async fn server_installs(&self) -> ApiResult<Vec<ServerInstall>> {
        blocking(|| Ok(binaries::list())).await
    }

    /// Downloads and installs a PostgreSQL server of `major` (see `pg::binaries`).
    pub async fn install_server(&self, major: u32) -> ApiResult<ServerInstall> {
        Ok(binaries::install(major).await?)
    }

    /// A connection's drills, newest first.
    pub async fn drill_history(&self, connection: String) -> ApiResult<Vec<DrillHistoryEntry>> {
        Ok(self
            .drills()
            .await?
            .into_iter()
            .filter(|d| drill_of(d) == Some(connection.as_str()))
            .collect())
    }

    pub(crate) async fn drills(&self) -> ApiResult<Vec<DrillHistoryEntry>> {
        let runs = self
            .catalog
            .runs(&RunFilter {
                kinds: vec![RunKind::Drill],
                ..Default::default()
            })
            .await?;
        Ok(runs.into_iter().map(drill_entry).collect())
    }

    /// Snapshots a drill restored with every check passed.
    pub(crate) async fn drilled_snapshots(&self) -> ApiResult<HashSet<String>> {
        Ok(self
            .drills()
            .await?
            .into_iter()
            .filter_map(|d| d.report.filter(|r| r.passed).map(|r| r.snapshot_id))
            .collect())
    }

    pub async fn notification_prefs(&self) -> ApiResult<NotificationPrefs> {
        Ok(self.catalog.notification_prefs().await?)
    }

    pub async fn set_notification_prefs(&self, prefs: NotificationPrefs) -> ApiResult<NotificationPrefs> {
        self.catalog.set_notification_prefs(&prefs).await?;
        self.announcer.set_prefs(prefs);
        Ok(prefs)
    }

    pub async fn desktop_settings(&self) -> ApiResult<DesktopSettings> {
        Ok(self.catalog.setting(DESKTOP).await?.unwrap_or_default())
    }

    /// Saves the app's settings; the shell applies `start_at_login` to the OS.
    pub async fn set_desktop_settings(&self, settings: DesktopSettings) -> ApiResult<DesktopSettings> {
        self.catalog.set_setting(DESKTOP, &settings).await?;
        self.keep_running_in_tray.store(settings.keep_running_in_tray, Ordering::Relaxed);
        Ok(settings)
    }

    /// Whether closing the window should hide it (read on every close, so synchronous).
    pub fn keeps_running_in_tray(&self) -> bool {
        self.keep_running_in_tray.load(Ordering::Relaxed)
    }

    /// A checkpoint of every saved connection, one after the other (the
    /// tray's "Checkpoint all"); each outcome is also an event.
    pub async fn checkpoint_all(&self, label: &str) -> ApiResult<Vec<CheckpointAllResult>> {
        let runner = self.runner()?;
        let mut results = Vec::new();
        for connection in self.catalog.connections().await? {
            let outcome = match self.claims.claim(&connection.name) {
                None => Err(format!("a job is already running on {}", connection.name)),
                Some(_claim) => runner
                    .backup_saved(
                        &connection.name,
                        SnapshotKind::Checkpoint,
                        Some(label.to_owned()),
                        None,
                        Arc::new(NoProgress),
                    )
                    .await
                    .map_err(|e| e.to_string()),
            };
            results.push(CheckpointAllResult {
                connection: connection.name,
                snapshot_id: outcome.as_ref().ok().map(|r| r.snapshot_id().to_owned()),
                // A server's group stands even when some databases failed: both are said.
                error: outcome.as_ref().map_or_else(|e| Some(e.clone()), SavedBackup::failures),
            });
        }
        Ok(results)
    }

    /// The scheduler, for as long as the app runs: it ticks while a
    /// repository is open. While another scheduler on this workstation
    /// (`lifeboat daemon`) runs, the schedules run there.
    pub async fn run_scheduler(self: Arc<Self>) {
        // While `lifeboat daemon` runs the schedules, wait: when it stops, the app takes over.
        let mut said = false;
        let _lock = loop {
            match SchedulerLock::acquire(&self.paths.data_dir) {
                Ok(lock) => break lock,
                Err(e) => {
                    if !said {
                        tracing::warn!("the app does not run schedules for now: {e}");
                        said = true;
                    }
                    tokio::time::sleep(TICK).await;
                }
            }
        };
        let host = Arc::new(AppJobs(self.clone()));
        let scheduler = Scheduler::new(self.catalog.clone(), host, Arc::new(SystemClock), Local, self.claims.clone());
        // The WAL streams of the open repository's schedules; started anew
        // when another repository is opened.
        let mut streams: Option<(String, CancelFlag)> = None;
        loop {
            let open = self.runner().ok();
            if streams.as_ref().map(|(id, _)| id.as_str()) != open.as_ref().map(|r| r.repo.id()) {
                if let Some((_, stop)) = streams.take() {
                    stop.cancel();
                }
                if let Some(runner) = open {
                    let stop = CancelFlag::default();
                    let id = runner.repo.id().to_owned();
                    tokio::spawn(Arc::new(runner).supervise_wal_streams(self.claims.clone(), self.paths.wal_spool_dir(), stop.clone()));
                    streams = Some((id, stop));
                }
            }
            if self.current().is_ok() {
                match scheduler.tick().await {
                    Ok(started) => {
                        for s in started {
                            tracing::info!("started the scheduled {} of {}", s.job.as_str(), s.connection);
                        }
                    }
                    Err(e) => tracing::warn!("the scheduler could not look for due jobs: {e}"),
                }
            }
            tokio::time::sleep(TICK).await;
        }
    }
}

/// The app's scheduled jobs: the engine's runner over whatever repository
/// is open when the job starts.
struct AppJobs(Arc<App>);

impl JobHost for AppJobs {
    async fn run(&self, schedule: &Schedule, job: JobKind, cancel: CancelFlag) -> lifeboat_core::Result<()> {
        JobHost::run(&self.runner()?, schedule, job, cancel).await
    }

    async fn apply_retention(&self, schedule: &Schedule) -> lifeboat_core::Result<()> {
        self.runner()?.apply_retention(schedule).await
    }

    async fn last_backup(&self, connection: &str) -> lifeboat_core::Result<Option<DateTime<Utc>>> {
        JobHost::last_backup(&self.runner()?, connection).await
    }

    async fn stale(&self, connection: &str, last: Option<DateTime<Utc>>, deadline: DateTime<Utc>) {
        if let Ok(runner) = self.runner() {
            runner.stale(connection, last, deadline).await;
        }
    }

    async fn offsite_stale(&self, connection: &str, location: &str, last: Option<DateTime<Utc>>, deadline: DateTime<Utc>) {
        if let Ok(runner) = self.runner() {
            runner.offsite_stale(connection, location, last, deadline).await;
        }
    }
}

impl AppJobs {
    fn runner(&self) -> lifeboat_core::Result<Runner> {
        self.0
            .runner()
            .map_err(|e| lifeboat_core::Error::InvalidInput(format!("no scheduled job can run: {}", e.message)))
    }
}

fn job_status(schedule: &Schedule, job: JobKind, state: &JobState) -> JobStatus {
    let cadence = schedule.cadence(job);
    JobStatus {
        cron: cadence.map(|c| c.as_str().to_owned()),
        description: cadence.map(Cadence::describe),
        next_run: schedule.next_run(job, state, &Local),
        last_finished: state.finished_at,
        last_succeeded: state.succeeded,
        last_error: state.error.clone(),
    }
}

fn drill_entry(run: Run) -> DrillHistoryEntry {
    let report: Option<DrillReport> = serde_json::from_value(run.detail.clone()).ok();
    DrillHistoryEntry {
        run_id: run.id,
        started_at: run.started_at,
        status: run.status,
        error: run.detail["error"].as_str().map(str::to_owned),
        summary: run.summary,
        report,
    }
}

/// The connection a drill was of: its report's, or its title's ("Drill of NAME (...)").
pub(crate) fn drill_of(entry: &DrillHistoryEntry) -> Option<&str> {
    match &entry.report {
        Some(report) => Some(report.name.as_str()),
        None => entry.summary.strip_prefix("Drill of ").and_then(|rest| rest.split(" (").next()),
    }
}
