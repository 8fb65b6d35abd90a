//! Backups: of a saved connection (schedules, the app), or of a database
//! the caller resolved itself (the CLI's `--db URL` / `--connection`).

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::Runner;
use crate::catalog::RunKind;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::jobs::backup::{self, BackupOptions, BackupReport};
use crate::jobs::server::{self, ServerBackupOptions, ServerBackupReport};
use crate::pg::ConnectionSpec;
use crate::progress::Progress;
use crate::repo::manifest::{self, SnapshotKind};

/// Which database to back up.
pub enum BackupSource {
    /// A saved connection, by name: its address, keychain password and tools.
    Saved(String),
    /// A database given directly, stored under `name`.
    Given {
        spec: ConnectionSpec,
        name: String,
        /// The saved connection it came from, if any (recorded in the manifest).
        connection: Option<String>,
        pg_bin: Option<PathBuf>,
    },
}

impl BackupSource {
    fn name(&self) -> &str {
        match self {
            BackupSource::Saved(name) | BackupSource::Given { name, .. } => name,
        }
    }
}

pub struct BackupJob {
    pub source: BackupSource,
    /// Manual, scheduled, or a checkpoint (then `label` says what for).
    pub kind: SnapshotKind,
    pub label: Option<String>,
    /// Also store role password hashes with the cluster's roles.
    pub role_passwords: bool,
    /// The API token that asked for it, recorded in the snapshot's facts.
    pub requested_by: Option<String>,
}

impl Runner {
    /// Backs up `job.source`, recording the run and announcing
    /// `backup_succeeded` / `checkpoint` or `backup_failed`.
    pub async fn backup(&self, job: BackupJob, progress: Arc<dyn Progress>) -> Result<BackupReport> {
        let name = job.source.name().to_owned();
        check_label(job.label.as_deref())?;
        let title = title(&name, job.label.as_deref(), job.requested_by.as_deref());
        let describe = |r: &BackupReport| format!("{title}: snapshot {}, {} tables, {} rows", &r.snapshot_id[..8], r.tables, r.rows);
        let work = async {
            let (spec, connection, pg_bin) = match job.source {
                BackupSource::Saved(name) => {
                    let saved = self.catalog.find_connection(&name).await?;
                    if saved.server.is_some() {
                        return Err(Error::InvalidInput(format!(
                            "`{name}` is a whole server: back it up as a server, every database with its globals"
                        )));
                    }
                    (saved.spec(self.keychain.as_deref())?, Some(saved.name), saved.pg_bin)
                }
                BackupSource::Given {
                    spec, connection, pg_bin, ..
                } => (spec, connection, pg_bin),
            };
            let options = BackupOptions {
                name: name.clone(),
                kind: job.kind,
                label: job.label.clone(),
                connection,
                pg_bin,
                role_passwords: job.role_passwords,
                lock_wait: self.lock_wait,
                requested_by: job.requested_by.clone(),
            };
            backup::backup(self.repo.clone(), &spec, &options, progress).await
        };
        let outcome = self.recorded(RunKind::Backup, &title, work, &describe).await;
        let event = match &outcome {
            Ok(report) => {
                let kind = if job.kind == SnapshotKind::Checkpoint {
                    EventKind::Checkpoint
                } else {
                    EventKind::BackupSucceeded
                };
                let event = Event::new(kind, Some(&name), true, describe(report)).with_detail(report);
                let repo = self.repo.clone();
                let id = report.snapshot_id.clone();
                match super::blocking(move || manifest::load(&repo, &id)).await {
                    Ok(snapshot) => {
                        self.remember_newest(&snapshot).await;
                        event.with_snapshot(&snapshot)
                    }
                    Err(_) => event,
                }
            }
            Err(Error::Cancelled) => return outcome,
            Err(e) => Event::new(EventKind::BackupFailed, Some(&name), false, e.to_string()),
        };
        self.announce(event).await;
        outcome
    }

    /// Backs up every database server connection `job.name` covers, and
    /// the server's globals, as one group (see `jobs::server`); records
    /// one run and announces it, `backup_failed` (high priority) naming
    /// any database that failed.
    pub async fn backup_server(&self, job: ServerBackupJob, progress: Arc<dyn Progress>) -> Result<ServerBackupReport> {
        check_label(job.label.as_deref())?;
        let name = job.name.clone();
        let title = title(&format!("server {name}"), job.label.as_deref(), job.requested_by.as_deref());
        let describe = |r: &ServerBackupReport| {
            let failed = if r.failed.is_empty() {
                String::new()
            } else {
                format!(", {} failed", r.failed.len())
            };
            format!(
                "{title}: {} databases backed up{failed}, group {}",
                r.databases.len(),
                &r.snapshot_id[..8]
            )
        };
        let work = async {
            let saved = self.catalog.find_connection(&name).await?;
            let scope = saved.server.clone().ok_or_else(|| {
                Error::InvalidInput(format!(
                    "`{name}` is a connection to one database, not a server: back it up as usual"
                ))
            })?;
            let spec = match job.spec {
                Some(spec) => spec,
                None => saved.spec(self.keychain.as_deref())?,
            };
            let options = ServerBackupOptions {
                scope,
                backup: BackupOptions {
                    name: name.clone(),
                    kind: job.kind,
                    label: job.label.clone(),
                    connection: Some(name.clone()),
                    pg_bin: job.pg_bin.or(saved.pg_bin),
                    role_passwords: job.role_passwords,
                    lock_wait: self.lock_wait,
                    requested_by: job.requested_by.clone(),
                },
            };
            server::backup_server(self.repo.clone(), &spec, &options, progress).await
        };
        let outcome = self.recorded(RunKind::Backup, &title, work, describe).await;
        let event = match &outcome {
            Ok(report) if !report.failed.is_empty() => {
                let failed: Vec<String> = report.failed.iter().map(|f| format!("{}: {}", f.database, f.error)).collect();
                Event::new(
                    EventKind::BackupFailed,
                    Some(&name),
                    false,
                    format!("{title}: {}", failed.join("; ")),
                )
                .with_detail(report)
            }
            Ok(report) => {
                let kind = if job.kind == SnapshotKind::Checkpoint {
                    EventKind::Checkpoint
                } else {
                    EventKind::BackupSucceeded
                };
                Event::new(kind, Some(&name), true, describe(report)).with_detail(report)
            }
            Err(Error::Cancelled) => return outcome,
            Err(e) => Event::new(EventKind::BackupFailed, Some(&name), false, e.to_string()),
        };
        self.announce(event).await;
        outcome
    }
}

/// "Checkpoint of shop \"before upgrade\" requested by deploy" / "Backup of shop".
fn title(what: &str, label: Option<&str>, requested_by: Option<&str>) -> String {
    let title = match label {
        Some(label) => format!("Checkpoint of {what} \"{label}\""),
        None => format!("Backup of {what}"),
    };
    match requested_by {
        Some(token) => format!("{title} requested by {token}"),
        None => title,
    }
}

/// A checkpoint says what it is for: an empty label is refused.
fn check_label(label: Option<&str>) -> Result<()> {
    match label {
        Some(label) if label.trim().is_empty() => Err(Error::InvalidInput(
            "the checkpoint label is empty: say what it is for, as in \"before 16 -> 17 upgrade\"".into(),
        )),
        _ => Ok(()),
    }
}

/// What backing up a saved connection made: one snapshot, or a server's group.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "scope", content = "report", rename_all = "snake_case")]
pub enum SavedBackup {
    Database(BackupReport),
    Server(ServerBackupReport),
}

impl SavedBackup {
    /// The snapshot made, or the group's globals snapshot.
    pub fn snapshot_id(&self) -> &str {
        match self {
            SavedBackup::Database(report) => &report.snapshot_id,
            SavedBackup::Server(report) => &report.snapshot_id,
        }
    }

    /// What failed of a server's run: "1 of 3 databases failed: app (why)".
    pub fn failures(&self) -> Option<String> {
        match self {
            SavedBackup::Server(report) if !report.failed.is_empty() => {
                let each: Vec<String> = report.failed.iter().map(|f| format!("{} ({})", f.database, f.error)).collect();
                Some(format!(
                    "{} of {} databases failed: {}",
                    report.failed.len(),
                    report.failed.len() + report.databases.len(),
                    each.join("; ")
                ))
            }
            _ => None,
        }
    }
}

impl Runner {
    /// Backs up the saved connection `name` as it is saved: one database,
    /// or every database of a server with its globals.
    /// `requested_by` names the API token that asked for it, if one did.
    pub async fn backup_saved(
        &self,
        name: &str,
        kind: SnapshotKind,
        label: Option<String>,
        requested_by: Option<String>,
        progress: Arc<dyn Progress>,
    ) -> Result<SavedBackup> {
        if self.is_server(name).await {
            let job = ServerBackupJob {
                name: name.to_owned(),
                spec: None,
                pg_bin: None,
                kind,
                label,
                role_passwords: false,
                requested_by,
            };
            return Ok(SavedBackup::Server(self.backup_server(job, progress).await?));
        }
        let job = BackupJob {
            source: BackupSource::Saved(name.to_owned()),
            kind,
            label,
            role_passwords: false,
            requested_by,
        };
        Ok(SavedBackup::Database(self.backup(job, progress).await?))
    }
}

/// A server backup: of a saved server connection, reached as saved or
/// through `spec` (the CLI's, with a password from the environment).
pub struct ServerBackupJob {
    pub name: String,
    pub spec: Option<ConnectionSpec>,
    pub pg_bin: Option<PathBuf>,
    /// Manual, scheduled, or a checkpoint (then `label` says what for).
    pub kind: SnapshotKind,
    pub label: Option<String>,
    pub role_passwords: bool,
    pub requested_by: Option<String>,
}
