//! Drills: a snapshot restored into a scratch database on a drill server,
//! smoke-checked, and dropped.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;

use super::Runner;
use crate::catalog::{RunKind, RunStatus};
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::jobs::drill::{self, DrillOptions, DrillReport, Probe};
use crate::jobs::local_drill::{self, LocalDrillOptions};
use crate::jobs::pitr::{self, drill::PhysicalDrillOptions};
use crate::paths::Paths;
use crate::pg::ConnectionSpec;
use crate::progress::Progress;
use crate::repo::manifest::Snapshot;
use crate::schedule::{check_no_password, LOCAL_DRILL_SERVER};

impl Runner {
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
    /// `server` [`LOCAL_DRILL_SERVER`] (unless a saved connection has that
    /// name) drills on a scratch cluster of this workstation instead.
    pub async fn drill(&self, snapshot: &str, server: &str, probes: Vec<Probe>, progress: Arc<dyn Progress>) -> Result<DrillReport> {
        if server == LOCAL_DRILL_SERVER && self.catalog.connection(server).await?.is_none() {
            return self.drill_locally(snapshot, None, false, probes, progress).await;
        }
        let resolved = self.resolve(snapshot).await;
        let spec = self.drill_server(server).await;
        let shown = spec.as_ref().map(|s| s.display_url()).unwrap_or_else(|_| "the drill server".into());
        let work = async {
            let snapshot = resolved.as_ref().map_err(|e| Error::InvalidInput(e.to_string()))?;
            let options = DrillOptions {
                probes,
                pg_bin: None,
                lock_wait: self.lock_wait,
                now: Utc::now(),
            };
            drill::drill(self.repo.clone(), snapshot, &spec?, &options, progress).await
        };
        self.drilled("Drill", snapshot, &resolved, &shown, work).await
    }

    /// Drills `snapshot` on a scratch cluster of this workstation of
    /// `major` (the backup's when None), or with `rehearsal` rehearses its
    /// upgrade onto that newer major (see `jobs::local_drill`). Recorded
    /// and announced as [`Runner::drill`] is.
    pub async fn drill_locally(
        &self,
        snapshot: &str,
        major: Option<u32>,
        rehearsal: bool,
        probes: Vec<Probe>,
        progress: Arc<dyn Progress>,
    ) -> Result<DrillReport> {
        let resolved = self.resolve(snapshot).await;
        let work = async {
            let snapshot = resolved.as_ref().map_err(|e| Error::InvalidInput(e.to_string()))?;
            let options = LocalDrillOptions {
                probes,
                major,
                rehearsal,
                scratch_root: Paths::from_env()?.scratch_clusters_dir(),
                lock_wait: self.lock_wait,
                now: Utc::now(),
            };
            local_drill::drill_locally(self.repo.clone(), snapshot, &options, progress).await
        };
        let shown = match major {
            Some(major) => format!("a scratch PostgreSQL {major} cluster on this workstation"),
            None => "a scratch cluster on this workstation".into(),
        };
        let what = if rehearsal { "Upgrade rehearsal" } else { "Drill" };
        self.drilled(what, snapshot, &resolved, &shown, work).await
    }

    /// Drills base backup `snapshot` on a scratch cluster of this
    /// workstation (see `jobs::pitr::drill`); the probes run in `database`.
    /// Recorded and announced as [`Runner::drill`] is.
    pub async fn drill_base_backup(
        &self,
        snapshot: &str,
        database: &str,
        probes: Vec<Probe>,
        pg_bin: Option<PathBuf>,
        progress: Arc<dyn Progress>,
    ) -> Result<DrillReport> {
        let resolved = self.resolve(snapshot).await;
        let work = async {
            let snapshot = resolved.as_ref().map_err(|e| Error::InvalidInput(e.to_string()))?;
            let options = PhysicalDrillOptions {
                probes,
                database: database.to_owned(),
                pg_bin,
                scratch_root: Paths::from_env()?.scratch_clusters_dir(),
                lock_wait: self.lock_wait,
                now: Utc::now(),
            };
            pitr::drill::drill(self.repo.clone(), snapshot, &options, progress).await
        };
        self.drilled("Drill", snapshot, &resolved, "a scratch cluster on this workstation", work)
            .await
    }

    /// Records and announces a drill; `what` names it ("Drill", "Upgrade rehearsal").
    async fn drilled(
        &self,
        what: &str,
        snapshot: &str,
        resolved: &Result<Snapshot>,
        server_shown: &str,
        work: impl std::future::Future<Output = Result<DrillReport>>,
    ) -> Result<DrillReport> {
        let snapshot_spec_is_latest = snapshot.starts_with("latest:");
        // Named by the snapshot's connection when it could be read, else by what was asked for.
        let name = match resolved {
            Ok(s) => s.manifest.tag.clone(),
            Err(_) => snapshot.strip_prefix("latest:").unwrap_or(snapshot).to_owned(),
        };
        let title = match resolved {
            Ok(s) => format!("{what} of {name} ({})", &s.id[..8]),
            Err(_) => format!("{what} of {name} ({snapshot})"),
        };
        let run = self
            .catalog
            .start_run(RunKind::Drill, Some(self.repo.id()), &title, Utc::now())
            .await?;
        let with_snapshot = |event: Event| match resolved {
            Ok(s) => event.with_snapshot(s),
            Err(_) => event,
        };
        let start = Event::new(
            EventKind::DrillStart,
            Some(&name),
            true,
            format!("{} of {name} started on {server_shown}", what.to_lowercase()),
        );
        self.announce(with_snapshot(start)).await;

        let mut outcome = work.await;
        if let (Ok(report), Ok(snapshot), true) = (&mut outcome, resolved, snapshot_spec_is_latest) {
            report.warnings.extend(self.remember_newest(snapshot).await);
        }
        if let Err(Error::Cancelled) = &outcome {
            let detail = serde_json::json!({ "error": "cancelled" });
            let summary = format!("{title} cancelled");
            if let Err(e) = self
                .catalog
                .finish_run(run, RunStatus::Cancelled, &summary, &detail, Utc::now())
                .await
            {
                tracing::error!("could not record the end of {title}: {e}");
            }
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
            self.announce(with_snapshot(result)).await;
        }
        let complete = with_snapshot(Event::new(EventKind::DrillComplete, Some(&name), ok, message.clone()));
        let complete = match &outcome {
            Ok(report) => complete.with_detail(report),
            Err(e) => complete.with_detail(serde_json::json!({ "error": e.to_string() })),
        };
        self.announce(complete).await;
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
}
