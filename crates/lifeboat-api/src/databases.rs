//! The app's database work: saved connections, backups (Checkpoint), the
//! Timeline, verification and the restore wizard. Each method calls
//! `lifeboat-core` and records its run, as the rest of [`App`] does.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Local, Utc};
use lifeboat_core::catalog::{RunFilter, RunKind, RunStatus};
use lifeboat_core::connections::{self, Connection, ConnectionCheck, ServerScope};
use lifeboat_core::jobs::restore::partial::{QualifiedName, Selection};
use lifeboat_core::jobs::restore::{self, Preflight, RestoreJobs, RestoreOptions, RestoreReport, Shape, VerifyReport};
use lifeboat_core::jobs::server::{self, ServerGroup, ServerRestoreOptions, ServerRestoreReport};
use lifeboat_core::ops::{self, RestoreJob, SavedBackup};
use lifeboat_core::pg::facts::PgFacts;
use lifeboat_core::pg::ConnectionSpec;
use lifeboat_core::repo::manifest::{self, Snapshot, SnapshotKind, SnapshotSummary};
use lifeboat_core::repo::read::{self, CatReport, ReadOptions};
use lifeboat_core::repo::Repository;
use lifeboat_core::repo::{pins, retention};
use lifeboat_core::schedule::{Freshness, JobKind};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::progress::ThrottledProgress;
use crate::schedules::drill_of;
use crate::{blocking, dto::*, ApiError, ApiResult, App, JobProgress, LOCK_WAIT};

impl App {
    pub(crate) fn keychain_ref(&self) -> Option<&dyn lifeboat_core::crypto::keychain::KeyStore> {
        self.keychain.as_deref()
    }

    /// Where `fields` point, with the password given, or else the one saved
    /// for `fields.saved_password_of`.
    pub(crate) async fn spec_of(&self, fields: &ConnectionFields) -> ApiResult<ConnectionSpec> {
        let mut spec = fields.spec()?;
        if spec.password.is_none() {
            if let Some(name) = fields.saved_password_of.as_deref().filter(|n| !n.is_empty()) {
                let saved = self.catalog.find_connection(name).await?;
                spec.password = saved.spec(self.keychain_ref())?.password;
            }
        }
        Ok(spec)
    }

    /// Every saved connection with its newest good backup in the open
    /// repository, its freshness against its schedule, and its last drill.
    pub async fn databases(&self) -> ApiResult<Vec<DatabaseCard>> {
        let saved = self.catalog.connections().await?;
        let snapshots = match self.current() {
            Ok((repo, _)) => blocking(move || manifest::list(&repo)).await?.snapshots,
            Err(_) => Vec::new(),
        };
        let schedules = self.catalog.schedules().await?;
        let drills = self.drills().await?;
        let now = Utc::now();
        let mut cards = Vec::new();
        for connection in saved {
            let mine: Vec<&Snapshot> = snapshots.iter().filter(|s| s.manifest.tag == connection.name).collect();
            let newest = mine.iter().max_by_key(|s| (s.manifest.recency(), &s.id));
            let last_backup = newest.map(|s| s.summary());
            let schedule = schedules.iter().find(|s| s.connection == connection.name);
            let (freshness, next_backup) = match schedule {
                Some(schedule) => {
                    let state = self.catalog.job_state(&connection.name, JobKind::Backup).await?;
                    let next = schedule.next_run(JobKind::Backup, &state, &Local);
                    (schedule.freshness(last_backup.as_ref().map(|s| s.end), now, &Local), next)
                }
                None => (Freshness::Unscheduled, None),
            };
            let offsite = match schedule.and_then(|s| s.copy_to.as_deref()) {
                Some(location) => Some(self.offsite_status(&connection.name, location, last_backup.as_ref()).await?),
                None => None,
            };
            // Every database the server's backups hold, those that failed in
            // the last run or left the server too: their snapshots stay.
            let databases = match &connection.server {
                Some(_) => {
                    let prefix = format!("{}/", connection.name);
                    let names: BTreeSet<&str> = snapshots.iter().filter_map(|s| s.manifest.tag.strip_prefix(&prefix)).collect();
                    names.into_iter().map(str::to_owned).collect()
                }
                None => Vec::new(),
            };
            cards.push(DatabaseCard {
                databases,
                offsite,
                url: connection.display_url(),
                last_backup,
                snapshot_count: mine.len(),
                freshness,
                next_backup,
                last_drill: drills.iter().find(|d| drill_of(d) == Some(connection.name.as_str())).cloned(),
                connection,
            });
        }
        Ok(cards)
    }

    /// Where `name`'s copy at `location` stands against its newest backup here.
    async fn offsite_status(&self, name: &str, location: &str, last_backup: Option<&SnapshotSummary>) -> ApiResult<OffsiteStatus> {
        let newest = self.catalog.offsite_copy(name, location).await?;
        Ok(OffsiteStatus::new(location, newest, last_backup))
    }

    /// Connects with `fields` and reports the server, the database and the `pg_dump` to use.
    pub async fn test_connection(&self, fields: ConnectionFields) -> ApiResult<ConnectionCheck> {
        let spec = self.spec_of(&fields).await?;
        Ok(connections::test(&spec, fields.pg_bin().as_deref()).await?)
    }

    /// The databases a server connection with `request.scope` would back
    /// up now, and those it would leave out.
    pub async fn discover_databases(&self, request: DiscoverRequest) -> ApiResult<ServerDatabases> {
        let spec = self.spec_of(&request.fields).await?;
        let scope = ServerScope::new(request.scope.include, request.scope.exclude)?;
        let (backed_up, left_out) = server::discover(&spec, &scope).await?;
        Ok(ServerDatabases { backed_up, left_out })
    }

    /// Saves a new connection (or, with `replace`, edits one); a password
    /// given goes to the keychain, never the catalog.
    pub async fn save_connection(&self, request: SaveConnectionRequest) -> ApiResult<Connection> {
        let spec = request.fields.spec()?;
        let mut connection = Connection::new(request.name.trim(), &spec, request.fields.pg_bin(), Utc::now())?;
        connection.server = match request.server {
            Some(scope) => Some(ServerScope::new(scope.include, scope.exclude)?),
            None => None,
        };
        let password = request
            .fields
            .password
            .as_ref()
            .map(|p| p.expose_secret())
            .filter(|p| !p.is_empty());
        Ok(ops::connection::save(&self.catalog, self.keychain_ref(), connection, password, request.replace).await?)
    }

    /// Forgets a connection and its saved password; its snapshots stay.
    pub async fn remove_connection(&self, name: String) -> ApiResult<Connection> {
        Ok(ops::connection::remove(&self.catalog, self.keychain_ref(), &name).await?)
    }

    /// Backs up a saved connection now (a server: all its databases); with a
    /// label, as a checkpoint. The connection is held meanwhile, so the
    /// scheduler starts nothing on it.
    pub async fn backup(
        &self,
        request: BackupRequest,
        job: u32,
        on_progress: impl Fn(JobProgress) + Send + Sync + 'static,
    ) -> ApiResult<SavedBackup> {
        let runner = self.runner()?;
        let label = request.checkpoint_label.map(|l| l.trim().to_string());
        let _claim = self.claims.claim(&request.connection).ok_or_else(|| {
            ApiError::invalid_input(format!(
                "a job is already running on {}: try again when it ends",
                request.connection
            ))
        })?;
        let running = self.register_job(job)?;
        let kind = if label.is_some() {
            SnapshotKind::Checkpoint
        } else {
            SnapshotKind::Manual
        };
        let progress = Arc::new(ThrottledProgress::new(on_progress, running.cancel.clone()));
        Ok(runner.backup_saved(&request.connection, kind, label, None, progress).await?)
    }

    /// A connection's snapshots, oldest first, with what is known of each.
    pub async fn timeline(&self, name: String) -> ApiResult<Vec<TimelineEntry>> {
        let (repo, _) = self.current()?;
        let snapshots = blocking(move || manifest::list(&repo)).await?.snapshots;
        let verified = self.verified_snapshots().await?;
        let drilled = self.drilled_snapshots().await?;
        Ok(snapshots
            .into_iter()
            .filter(|s| s.manifest.tag == name)
            .map(|s| TimelineEntry {
                duration_ms: (s.manifest.end - s.manifest.start).num_milliseconds().max(0) as u64,
                verified: verified.contains(&s.id),
                drilled: drilled.contains(&s.id),
                rows: row_total(&s),
                requested_by: s.manifest.metadata.get("requested_by").and_then(|v| v.as_str()).map(str::to_owned),
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
        let (snapshot, kept_forever) = blocking(move || {
            let snapshot = manifest::resolve(&repo, &id)?;
            let kept = pins::kept_forever(&repo)?.contains(&snapshot.id);
            Ok((snapshot, kept))
        })
        .await?;
        let verified = self.verified_snapshots().await?.contains(&snapshot.id);
        Ok(SnapshotDetail {
            // An unreadable group still shows its snapshot (restoring it says why).
            server_databases: ServerGroup::of(&snapshot)
                .ok()
                .flatten()
                .map(|g| g.databases.into_keys().collect())
                .unwrap_or_default(),
            postgres: PgFacts::from_metadata(&snapshot.manifest.metadata)?.map(PgFacts::for_reading),
            summary: snapshot.summary(),
            verified,
            kept_forever,
            chunks: snapshot.manifest.chunks,
        })
    }

    /// Deletes one snapshot a person chose (the UI asks for its id typed
    /// out); its name's latest pointer moves to the newest left. One kept
    /// forever is refused. Its data is freed by the next prune.
    pub async fn delete_snapshot(&self, id: String) -> ApiResult<SnapshotSummary> {
        let (repo, _) = self.current()?;
        let removed = blocking(move || retention::forget_snapshots(&repo, &[id], false, LOCK_WAIT)).await?;
        Ok(removed
            .into_iter()
            .next()
            .expect("forget_snapshots returns the snapshot it removed"))
    }

    /// Marks a snapshot keep-forever (or returns it to retention); the mark
    /// lives in the repository, so every workstation's retention honours it.
    pub async fn set_keep_forever(&self, id: String, keep: bool) -> ApiResult<SnapshotDetail> {
        let (repo, _) = self.current()?;
        let for_work = id.clone();
        blocking(move || {
            let snapshot = manifest::resolve(&repo, &for_work)?;
            pins::set_keep_forever(&repo, &snapshot, keep, LOCK_WAIT)
        })
        .await?;
        self.snapshot_detail(id).await
    }

    /// Writes a snapshot to `request.path` once every blob authenticated
    /// and the SHA-256 matched; a failure or a cancel leaves no file.
    pub async fn export_snapshot(
        &self,
        request: ExportRequest,
        job: u32,
        on_progress: impl Fn(JobProgress) + Send + Sync + 'static,
    ) -> ApiResult<CatReport> {
        let (repo, _) = self.current()?;
        let running = self.register_job(job)?;
        let progress = ThrottledProgress::new(on_progress, running.cancel.clone());
        let path = PathBuf::from(request.path.trim());
        blocking(move || {
            let snapshot = manifest::resolve(&repo, &request.snapshot_id)?;
            read::export(
                &repo,
                &snapshot,
                &path,
                request.replace,
                &progress,
                ReadOptions { lock_wait: LOCK_WAIT },
            )
        })
        .await
    }

    /// Authenticates every blob, checks SHA-256 and size, and has
    /// `pg_restore --list` read the archive.
    pub async fn verify_snapshot(
        &self,
        id: String,
        job: u32,
        on_progress: impl Fn(JobProgress) + Send + Sync + 'static,
    ) -> ApiResult<VerifyReport> {
        let runner = self.runner()?;
        let running = self.register_job(job)?;
        let progress = Arc::new(ThrottledProgress::new(on_progress, running.cancel.clone()));
        Ok(runner.verify(&id, None, progress).await?)
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
        Ok(restore::preflight(&snapshot, &target, confirmed(&request, &target), &shape_of(&request)).await?)
    }

    /// Restores a snapshot into the target database. A non-empty target (or
    /// an older server) is refused unless `confirm_database` is its name.
    pub async fn restore(
        &self,
        request: RestoreRequest,
        job: u32,
        on_progress: impl Fn(JobProgress) + Send + Sync + 'static,
    ) -> ApiResult<RestoreReport> {
        let runner = self.runner()?;
        let running = self.register_job(job)?;
        let target = self.spec_of(&request.target).await?;
        let job = RestoreJob {
            snapshot: request.snapshot_id.clone(),
            options: RestoreOptions {
                force: confirmed(&request, &target),
                jobs: RestoreJobs::Auto,
                pg_bin: request.target.pg_bin(),
                lock_wait: LOCK_WAIT,
                now: Utc::now(),
                shape: shape_of(&request),
            },
            target,
            automatic: false,
        };
        let progress = Arc::new(ThrottledProgress::new(on_progress, running.cancel.clone()));
        Ok(runner.restore(job, progress).await?)
    }
}

impl App {
    /// Restores a whole server backup onto the server `request.target`
    /// reaches: roles first, then each chosen database, verified and swapped
    /// as a single restore is. A database already there with data is not
    /// replaced: it is reported failed, and the others go on.
    pub async fn restore_server(
        &self,
        request: ServerRestoreRequest,
        job: u32,
        on_progress: impl Fn(JobProgress) + Send + Sync + 'static,
    ) -> ApiResult<ServerRestoreReport> {
        let runner = self.runner()?;
        let running = self.register_job(job)?;
        let target = self.spec_of(&request.target).await?;
        let options = ServerRestoreOptions {
            databases: request.databases,
            restore: RestoreOptions {
                force: false,
                jobs: RestoreJobs::Auto,
                pg_bin: request.target.pg_bin(),
                lock_wait: LOCK_WAIT,
                now: Utc::now(),
                shape: shape(request.owner.as_deref(), request.no_owner, &[]),
            },
        };
        let progress = Arc::new(ThrottledProgress::new(on_progress, running.cancel.clone()));
        Ok(runner.restore_server(&request.snapshot_id, target, options, progress).await?)
    }
}

/// The typed name must be the target database's, exactly.
fn confirmed(request: &RestoreRequest, target: &ConnectionSpec) -> bool {
    request.confirm_database.as_deref() == Some(target.database.as_str())
}

/// What of the snapshot is restored, and who owns it. Table names come
/// from the snapshot's row counts (`schema.table`) and split at the first
/// dot; a schema whose name holds a dot is restored through the CLI's
/// quoted `--table "a.b".t`.
fn shape(owner: Option<&str>, no_owner: bool, tables: &[String]) -> Shape {
    let tables = tables
        .iter()
        .filter_map(|t| t.split_once('.'))
        .map(|(schema, name)| QualifiedName {
            schema: schema.to_owned(),
            name: name.to_owned(),
        })
        .collect();
    Shape {
        role: owner.map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned),
        no_owner,
        selection: Selection {
            tables,
            schemas: Vec::new(),
        },
    }
}

/// The restore request's shape.
fn shape_of(request: &RestoreRequest) -> Shape {
    shape(request.owner.as_deref(), request.no_owner, &request.tables)
}

fn row_total(snapshot: &Snapshot) -> Option<u64> {
    let facts = PgFacts::from_metadata(&snapshot.manifest.metadata).ok()??;
    Some(facts.row_counts.values().sum())
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
            password: self
                .password
                .as_ref()
                .map(|p| p.expose_secret())
                .filter(|p| !p.is_empty())
                .map(|p| Zeroizing::new(p.to_string())),
            tls: self.tls,
        })
    }

    pub(crate) fn pg_bin(&self) -> Option<PathBuf> {
        self.pg_bin.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(PathBuf::from)
    }
}
