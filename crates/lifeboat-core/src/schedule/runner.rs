//! What scheduled jobs do, for real: back up a saved connection, apply its
//! retention, drill its latest snapshot — each recorded in the run history
//! and announced as events (and so notifications). The daemon, `lifeboat
//! schedule run`, `lifeboat drill` and the app all go through here, so a
//! job reports the same way whoever started it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::scheduler::JobHost;
use super::{check_no_password, JobKind, Schedule};
use crate::catalog::{Catalog, RunKind, RunStatus};
use crate::connections;
use crate::crypto::keychain::KeyStore;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::jobs::backup::{self, BackupOptions, BackupReport};
use crate::jobs::drill::{self, DrillOptions, DrillReport, Probe};
use crate::notify::Announcer;
use crate::pg::ConnectionSpec;
use crate::progress::{CancelFlag, Progress};
use crate::repo::manifest::{self, SnapshotKind};
use crate::repo::prune::{self, PruneOptions};
use crate::repo::retention::{self, ForgetOptions};
use crate::repo::Repository;

/// How long retention waits for running backups' locks.
const RETENTION_LOCK_WAIT: Duration = Duration::from_secs(600);

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
}

impl Runner {
    /// Backs up the saved connection `name` (a checkpoint when `label` is given).
    pub async fn backup(&self, name: &str, kind: SnapshotKind, label: Option<String>, progress: Arc<dyn Progress>) -> Result<BackupReport> {
        let title = match &label {
            Some(label) => format!("Checkpoint of {name} \"{label}\""),
            None => format!("Backup of {name}"),
        };
        let run = self
            .catalog
            .start_run(RunKind::Backup, Some(self.repo.id()), &title, Utc::now())
            .await?;
        let outcome = async {
            let saved = connections::find(&self.catalog, name).await?;
            let spec = saved.spec(self.keychain.as_deref())?;
            let options = BackupOptions {
                name: saved.name.clone(),
                kind,
                label: label.clone(),
                connection: Some(saved.name.clone()),
                pg_bin: saved.pg_bin.clone(),
                role_passwords: false,
                lock_wait: self.lock_wait,
            };
            backup::backup(self.repo.clone(), &spec, &options, progress).await
        }
        .await;
        let summary = match &outcome {
            Ok(r) => format!("{title}: snapshot {}, {} tables, {} rows", &r.snapshot_id[..8], r.tables, r.rows),
            Err(e) => format!("{title} failed: {e}"),
        };
        self.finish(run, &outcome, &summary).await;
        match &outcome {
            Ok(report) => {
                let event_kind = if label.is_some() {
                    EventKind::Checkpoint
                } else {
                    EventKind::BackupSucceeded
                };
                let mut event = Event::new(event_kind, Some(name), true, summary).with_detail(report);
                if let Ok(snapshot) = manifest::load(&self.repo, &report.snapshot_id) {
                    self.remember_newest(&snapshot).await;
                    event = event.with_snapshot(&snapshot);
                }
                self.announcer.emit_async(event).await;
            }
            Err(Error::Cancelled) => {}
            Err(e) => {
                let event = Event::new(EventKind::BackupFailed, Some(name), false, e.to_string());
                self.announcer.emit_async(event).await;
            }
        }
        outcome
    }

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

    /// Applies `schedule`'s retention policy to its connection's snapshots,
    /// then frees what nothing needs any more. It waits for other jobs'
    /// locks (backups of other databases) up to ten minutes; a failure is
    /// announced, and retention runs again after the next backup.
    pub async fn apply_retention(&self, schedule: &Schedule) -> Result<()> {
        schedule.check_repository(self.repo.id())?;
        let outcome = self.forget_and_prune(schedule).await;
        if let Err(e) = &outcome {
            let message = format!(
                "retention of {} did not run ({e}); it runs again after the next backup",
                schedule.connection
            );
            self.announcer
                .emit_async(Event::new(EventKind::RetentionApplied, Some(&schedule.connection), false, message))
                .await;
        }
        outcome
    }

    async fn forget_and_prune(&self, schedule: &Schedule) -> Result<()> {
        let repo = self.repo.clone();
        let lock_wait = self.lock_wait.max(RETENTION_LOCK_WAIT);
        let options = ForgetOptions {
            policy: schedule.retention,
            tag: Some(schedule.connection.clone()),
            dry_run: false,
            lock_wait,
        };
        let (removed, pruned) = tokio::task::spawn_blocking(move || -> Result<_> {
            let groups = retention::forget(&repo, &options, &chrono::Local)?;
            let removed: Vec<_> = groups
                .into_iter()
                .flat_map(|g| g.verdicts)
                .filter(|v| v.keep.is_empty())
                .map(|v| v.snapshot)
                .collect();
            let pruned = if removed.is_empty() {
                None
            } else {
                Some(prune::prune(
                    &repo,
                    PruneOptions { dry_run: false, lock_wait },
                    &crate::progress::NoProgress,
                ))
            };
            Ok((removed, pruned))
        })
        .await
        .map_err(|e| Error::InvalidInput(format!("retention stopped unexpectedly: {e}")))??;
        if removed.is_empty() {
            return Ok(());
        }
        let freed = match &pruned {
            Some(Ok(report)) => format!(", {} bytes freed", report.bytes_freed),
            Some(Err(e)) => format!("; the space is freed by the next prune ({e})"),
            None => String::new(),
        };
        let message = format!(
            "retention removed {} snapshot(s) of {}: {}{freed}",
            removed.len(),
            schedule.connection,
            removed.iter().map(|s| s.short_id.as_str()).collect::<Vec<_>>().join(", ")
        );
        let event = Event::new(EventKind::RetentionApplied, Some(&schedule.connection), true, message).with_detail(&removed);
        self.announcer.emit_async(event).await;
        Ok(())
    }

    /// Where to drill: a saved connection's server (its credentials), or a
    /// URL without a password (those belong in the keychain or PGPASSWORD);
    /// a URL without a database connects to `postgres`.
    pub async fn drill_server(&self, server: &str) -> Result<ConnectionSpec> {
        match self.catalog.connection(server).await? {
            Some(saved) => saved.spec(self.keychain.as_deref()),
            None if server.contains("://") => {
                check_no_password(server)?;
                let mut url =
                    url::Url::parse(server).map_err(|e| Error::InvalidInput(format!("the drill server URL is not valid: {e}")))?;
                if url.path().trim_matches('/').is_empty() {
                    url.set_path("/postgres");
                }
                ConnectionSpec::parse_url(url.as_str())
            }
            None => Err(Error::InvalidInput(format!(
                "{server:?} is neither a saved connection nor a postgres:// URL: name the server to drill on"
            ))),
        }
    }

    /// Drills `snapshot` (an id, prefix or `latest:NAME`) on `server`,
    /// recording the run and announcing `drill_start`, `drill_result` and
    /// `drill_complete`.
    pub async fn drill(&self, snapshot: &str, server: &str, probes: Vec<Probe>, progress: Arc<dyn Progress>) -> Result<DrillReport> {
        let snapshot_spec_is_latest = snapshot.starts_with("latest:");
        let repo = self.repo.clone();
        let spec_text = snapshot.to_owned();
        let resolved = tokio::task::spawn_blocking(move || manifest::resolve(&repo, &spec_text))
            .await
            .map_err(|e| Error::InvalidInput(format!("{e}")))?;
        // Named by the snapshot's connection when it could be read, else by what was asked for.
        let name = match &resolved {
            Ok(s) => s.manifest.tag.clone(),
            Err(_) => snapshot.strip_prefix("latest:").unwrap_or(snapshot).to_owned(),
        };
        let title = match &resolved {
            Ok(s) => format!("Drill of {name} ({})", &s.id[..8]),
            Err(_) => format!("Drill of {name} ({snapshot})"),
        };
        let run = self
            .catalog
            .start_run(RunKind::Drill, Some(self.repo.id()), &title, Utc::now())
            .await?;
        let with_snapshot = |event: Event| match &resolved {
            Ok(s) => event.with_snapshot(s),
            Err(_) => event,
        };
        let spec = self.drill_server(server).await;
        let server_shown = spec.as_ref().map(|s| s.display_url()).unwrap_or_else(|_| "the drill server".into());
        let start = Event::new(
            EventKind::DrillStart,
            Some(&name),
            true,
            format!("drill of {name} started on {server_shown}"),
        );
        self.announcer.emit_async(with_snapshot(start)).await;

        let outcome = async {
            let snapshot = resolved.as_ref().map_err(|e| Error::InvalidInput(e.to_string()))?;
            let spec = spec?;
            let options = DrillOptions {
                probes,
                pg_bin: None,
                lock_wait: self.lock_wait,
                now: Utc::now(),
            };
            let mut report = drill::drill(self.repo.clone(), snapshot, &spec, &options, progress).await?;
            if snapshot_spec_is_latest {
                report.warnings.extend(self.remember_newest(snapshot).await);
            }
            Ok(report)
        }
        .await;
        if let Err(Error::Cancelled) = &outcome {
            self.finish(run, &outcome, &format!("{title} cancelled")).await;
            return outcome;
        }
        let (ok, message) = match &outcome {
            Ok(report) if report.passed => (
                true,
                format!(
                    "{title} passed: {} checks on {} in {:.1}s",
                    report.checks.len(),
                    report.server,
                    report.seconds
                ),
            ),
            Ok(report) => {
                let failed = report
                    .failed_check()
                    .map(|c| format!("{}: {}", c.name, c.detail))
                    .unwrap_or_default();
                (false, format!("{title} failed the check {failed}"))
            }
            Err(e) => (false, format!("{title} could not run: {e}")),
        };
        if let Ok(report) = &outcome {
            let result = Event::new(
                EventKind::DrillResult,
                Some(&name),
                report.passed,
                format!("{} checks", report.checks.len()),
            )
            .with_detail(&report.checks);
            self.announcer.emit_async(with_snapshot(result)).await;
        }
        let complete = with_snapshot(Event::new(EventKind::DrillComplete, Some(&name), ok, message.clone()));
        let complete = match &outcome {
            Ok(report) => complete.with_detail(report),
            Err(e) => complete.with_detail(serde_json::json!({ "error": e.to_string() })),
        };
        self.announcer.emit_async(complete).await;
        let status = if ok { RunStatus::Succeeded } else { RunStatus::Failed };
        let detail = match &outcome {
            Ok(report) => serde_json::to_value(report).unwrap_or_default(),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        if let Err(e) = self.catalog.finish_run(run, status, &message, &detail, Utc::now()).await {
            tracing::error!("could not record the end of {title}: {e}");
        }
        outcome
    }

    async fn finish<T: serde::Serialize>(&self, run: i64, outcome: &Result<T>, summary: &str) {
        let (status, detail) = match outcome {
            Ok(report) => (RunStatus::Succeeded, serde_json::to_value(report).unwrap_or_default()),
            Err(Error::Cancelled) => (RunStatus::Cancelled, serde_json::json!({ "error": "cancelled" })),
            Err(e) => (RunStatus::Failed, serde_json::json!({ "error": e.to_string() })),
        };
        if let Err(e) = self.catalog.finish_run(run, status, summary, &detail, Utc::now()).await {
            tracing::error!("could not record the end of a run: {e}");
        }
    }
}

impl JobHost for Runner {
    async fn run(&self, schedule: &Schedule, job: JobKind, cancel: CancelFlag) -> Result<()> {
        schedule.check_repository(self.repo.id())?;
        let progress: Arc<dyn Progress> = Arc::new(Cancellable(cancel));
        match job {
            JobKind::Backup => self
                .backup(&schedule.connection, SnapshotKind::Scheduled, None, progress)
                .await
                .map(|_| ()),
            JobKind::Drill => {
                let server = schedule.drill_server.as_deref().unwrap_or_default();
                let latest = format!("latest:{}", schedule.connection);
                let report = self.drill(&latest, server, schedule.probes.clone(), progress).await?;
                match report.failed_check() {
                    None => Ok(()),
                    Some(check) => Err(Error::InvalidInput(format!("the check {} failed: {}", check.name, check.detail))),
                }
            }
        }
    }

    async fn apply_retention(&self, schedule: &Schedule) -> Result<()> {
        Runner::apply_retention(self, schedule).await
    }

    async fn last_backup(&self, connection: &str) -> Result<Option<DateTime<Utc>>> {
        let repo = self.repo.clone();
        let name = connection.to_owned();
        tokio::task::spawn_blocking(move || -> Result<Option<DateTime<Utc>>> {
            let Some(pointer) = manifest::read_latest(&repo, &name)? else {
                return Ok(None);
            };
            Ok(Some(manifest::load(&repo, &pointer.snapshot)?.manifest.end))
        })
        .await
        .map_err(|e| Error::InvalidInput(format!("{e}")))?
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
        self.announcer.emit_async(event).await;
    }
}
