//! The app's database work: saved connections, backups (Checkpoint), the
//! Timeline, verification and the restore wizard. Each method calls
//! `lifeboat-core` and records its run, as the rest of [`App`] does.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use lifeboat_core::catalog::{RunFilter, RunKind, RunStatus};
use lifeboat_core::connections::{self, Connection, ConnectionCheck};
use lifeboat_core::jobs::backup::{self, BackupOptions, BackupReport};
use lifeboat_core::jobs::restore::{self, Preflight, RestoreOptions, RestoreReport, VerifyReport};
use lifeboat_core::pg::ConnectionSpec;
use lifeboat_core::repo::manifest::{self, Snapshot, SnapshotKind};
use lifeboat_core::repo::Repository;

use crate::progress::ThrottledProgress;
use crate::{blocking, dto::*, plural, ApiError, ApiResult, App, JobProgress, LOCK_WAIT};

impl App {
    fn keychain_ref(&self) -> Option<&dyn lifeboat_core::crypto::keychain::KeyStore> {
        self.keychain.as_deref()
    }

    /// Where `fields` point, with the password given, or else the one saved
    /// for `fields.saved_password_of`.
    async fn spec_of(&self, fields: &ConnectionFields) -> ApiResult<ConnectionSpec> {
        let mut spec = fields.spec()?;
        if spec.password.is_none() {
            if let Some(name) = fields.saved_password_of.as_deref().filter(|n| !n.is_empty()) {
                let saved = connections::find(&self.catalog, name).await?;
                spec.password = saved.spec(self.keychain_ref())?.password;
            }
        }
        Ok(spec)
    }

    async fn saved_spec(&self, name: &str) -> ApiResult<(Connection, ConnectionSpec)> {
        let saved = connections::find(&self.catalog, name).await?;
        let spec = saved.spec(self.keychain_ref())?;
        Ok((saved, spec))
    }

    /// Every saved connection with its newest good backup in the open repository.
    pub async fn databases(&self) -> ApiResult<Vec<DatabaseCard>> {
        let saved = self.catalog.connections().await?;
        let snapshots = match self.current() {
            Ok((repo, _)) => blocking(move || manifest::list(&repo)).await?.snapshots,
            Err(_) => Vec::new(),
        };
        Ok(saved
            .into_iter()
            .map(|connection| {
                let mine: Vec<&Snapshot> = snapshots.iter().filter(|s| s.manifest.tag == connection.name).collect();
                DatabaseCard {
                    url: connection.display_url(),
                    last_backup: mine.last().map(|s| s.summary()),
                    snapshot_count: mine.len(),
                    connection,
                }
            })
            .collect())
    }

    /// Connects with `fields` and reports the server, the database and the `pg_dump` to use.
    pub async fn test_connection(&self, fields: ConnectionFields) -> ApiResult<ConnectionCheck> {
        let spec = self.spec_of(&fields).await?;
        Ok(connections::test(&spec, fields.pg_bin().as_deref()).await?)
    }

    /// Saves a new connection (or, with `replace`, edits one); a password
    /// given goes to the keychain, never the catalog.
    pub async fn save_connection(&self, request: SaveConnectionRequest) -> ApiResult<Connection> {
        let spec = request.fields.spec()?;
        let connection = Connection::new(request.name.trim(), &spec, request.fields.pg_bin(), Utc::now())?;
        let password = request.fields.password.clone().filter(|p| !p.is_empty());
        Ok(connections::save(&self.catalog, self.keychain_ref(), connection, password.as_deref(), request.replace).await?)
    }

    /// Forgets a connection and its saved password; its snapshots stay.
    pub async fn remove_connection(&self, name: String) -> ApiResult<Connection> {
        Ok(connections::remove(&self.catalog, self.keychain_ref(), &name).await?)
    }

    /// Backs up a saved connection now; with a label, as a checkpoint.
    pub async fn backup(
        &self,
        request: BackupRequest,
        job: u32,
        on_progress: impl Fn(JobProgress) + Send + Sync + 'static,
    ) -> ApiResult<BackupReport> {
        let (repo, info) = self.current()?;
        let label = request.checkpoint_label.map(|l| l.trim().to_string());
        let title = match &label {
            Some(label) => format!("Checkpoint of {} \"{label}\"", request.connection),
            None => format!("Backup of {}", request.connection),
        };
        let running = self.register_job(job)?;
        let work = async {
            if label.as_deref() == Some("") {
                return Err(ApiError::invalid_input(
                    "say what the checkpoint is for, as in \"before 16 -> 17 upgrade\"",
                ));
            }
            let (saved, spec) = self.saved_spec(&request.connection).await?;
            let options = BackupOptions {
                name: saved.name.clone(),
                kind: if label.is_some() {
                    SnapshotKind::Checkpoint
                } else {
                    SnapshotKind::Manual
                },
                label: label.clone(),
                connection: Some(saved.name.clone()),
                pg_bin: saved.pg_bin.clone(),
                role_passwords: false,
                lock_wait: LOCK_WAIT,
            };
            let progress = Arc::new(ThrottledProgress::new(on_progress, running.cancel.clone()));
            Ok(backup::backup(repo, &spec, &options, progress).await?)
        };
        self.record(RunKind::Backup, Some(&info.id), &title, work, |r| {
            format!("{title}: snapshot {}, {} tables, {} rows", &r.snapshot_id[..8], r.tables, r.rows)
        })
        .await
    }

    /// A connection's snapshots, oldest first, with what is known of each.
    pub async fn timeline(&self, name: String) -> ApiResult<Vec<TimelineEntry>> {
        let (repo, _) = self.current()?;
        let snapshots = blocking(move || manifest::list(&repo)).await?.snapshots;
        let verified = self.verified_snapshots().await?;
        Ok(snapshots
            .into_iter()
            .filter(|s| s.manifest.tag == name)
            .map(|s| TimelineEntry {
                duration_ms: (s.manifest.end - s.manifest.start).num_milliseconds().max(0) as u64,
                verified: verified.contains(&s.id),
                rows: row_total(&s),
                summary: s.summary(),
            })
            .collect())
    }

    /// Snapshots a verify or a restore read end to end without fault.
    async fn verified_snapshots(&self) -> ApiResult<HashSet<String>> {
        let runs = self
            .catalog
            .runs(&RunFilter {
                kinds: vec![RunKind::Verify, RunKind::Restore],
                statuses: vec![RunStatus::Succeeded],
                ..Default::default()
            })
            .await?;
        Ok(runs
            .into_iter()
            .filter_map(|r| r.detail["snapshot_id"].as_str().map(str::to_owned))
            .collect())
    }

    /// A snapshot's whole manifest, for its detail view.
    pub async fn snapshot_detail(&self, id: String) -> ApiResult<SnapshotDetail> {
        let (repo, _) = self.current()?;
        let snapshot = blocking(move || manifest::resolve(&repo, &id)).await?;
        let verified = self.verified_snapshots().await?.contains(&snapshot.id);
        let mut metadata = snapshot.manifest.metadata.clone();
        // The roles' SQL is long and for restores, not for reading.
        metadata.remove("globals_sql");
        Ok(SnapshotDetail {
            summary: snapshot.summary(),
            verified,
            chunks: snapshot.manifest.chunks,
            metadata: serde_json::to_value(metadata).unwrap_or_default(),
        })
    }

    /// Authenticates every blob, checks SHA-256 and size, and has
    /// `pg_restore --list` read the archive.
    pub async fn verify_snapshot(
        &self,
        id: String,
        job: u32,
        on_progress: impl Fn(JobProgress) + Send + Sync + 'static,
    ) -> ApiResult<VerifyReport> {
        let (repo, info) = self.current()?;
        let running = self.register_job(job)?;
        let title = format!("Verify snapshot {}", id.chars().take(8).collect::<String>());
        let work = async {
            let progress = ThrottledProgress::new(on_progress, running.cancel.clone());
            blocking(move || {
                let snapshot = manifest::resolve(&repo, &id)?;
                restore::verify(&repo, &snapshot, None, &progress, LOCK_WAIT)
            })
            .await
        };
        self.record(RunKind::Verify, Some(&info.id), &title, work, |r| {
            format!("{title}: intact, {} archive entries", r.archive_entries)
        })
        .await
    }

    async fn restore_inputs(&self, request: &RestoreRequest) -> ApiResult<(Arc<Repository>, Snapshot, ConnectionSpec)> {
        let (repo, _) = self.current()?;
        let target = self.spec_of(&request.target).await?;
        let id = request.snapshot_id.clone();
        let for_resolve = repo.clone();
        let snapshot = blocking(move || manifest::resolve(&for_resolve, &id)).await?;
        Ok((repo, snapshot, target))
    }

    /// What restoring would meet on the target: nothing is changed.
    pub async fn restore_preflight(&self, request: RestoreRequest) -> ApiResult<Preflight> {
        let (_, snapshot, target) = self.restore_inputs(&request).await?;
        Ok(restore::preflight(&snapshot, &target, confirmed(&request, &target)).await?)
    }

    /// Restores a snapshot into the target database. A non-empty target (or
    /// an older server) is refused unless `confirm_database` is its name.
    pub async fn restore(
        &self,
        request: RestoreRequest,
        job: u32,
        on_progress: impl Fn(JobProgress) + Send + Sync + 'static,
    ) -> ApiResult<RestoreReport> {
        let (_, info) = self.current()?;
        let running = self.register_job(job)?;
        let title = format!(
            "Restore snapshot {} into {}",
            request.snapshot_id.chars().take(8).collect::<String>(),
            request.target.database
        );
        let work = async {
            let (repo, snapshot, target) = self.restore_inputs(&request).await?;
            let options = RestoreOptions {
                force: confirmed(&request, &target),
                jobs: 1,
                temp_dir: None,
                pg_bin: request.target.pg_bin(),
                lock_wait: LOCK_WAIT,
                now: Utc::now(),
            };
            let progress = Arc::new(ThrottledProgress::new(on_progress, running.cancel.clone()));
            Ok(restore::restore(repo, snapshot, &target, &options, progress).await?)
        };
        self.record(RunKind::Restore, Some(&info.id), &title, work, |r| {
            format!("{title}: {} restored, row counts equal", plural(r.tables.len(), "table"))
        })
        .await
    }
}

/// The typed name must be the target database's, exactly.
fn confirmed(request: &RestoreRequest, target: &ConnectionSpec) -> bool {
    request.confirm_database.as_deref() == Some(target.database.as_str())
}

fn row_total(snapshot: &Snapshot) -> Option<u64> {
    let counts = snapshot.manifest.metadata.get("row_counts")?.as_object()?;
    Some(counts.values().filter_map(|v| v.as_u64()).sum())
}

impl ConnectionFields {
    pub(crate) fn spec(&self) -> ApiResult<ConnectionSpec> {
        let need = |value: &str, what: &str| {
            if value.trim().is_empty() {
                Err(ApiError::invalid_input(format!("enter the {what}")))
            } else {
                Ok(value.trim().to_string())
            }
        };
        Ok(ConnectionSpec {
            host: need(&self.host, "server's host name or address")?,
            port: self.port,
            database: need(&self.database, "database name")?,
            user: need(&self.user, "user name")?,
            password: self.password.clone().filter(|p| !p.is_empty()).map(Into::into),
            tls: self.tls,
        })
    }

    fn pg_bin(&self) -> Option<PathBuf> {
        self.pg_bin.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(PathBuf::from)
    }
}
