//! Recovery to a point in time onto another server: the base backup is
//! recovered to the target on a scratch cluster of this workstation
//! (`scratch.rs`), its databases are dumped from there into the repository
//! as a server checkpoint named `NAME.pitr` (labelled with the target), and
//! that checkpoint is restored onto the chosen server through the same
//! verified logical restore as any server backup (every byte
//! authenticated, row counts compared, roles created, nothing replaced
//! without `force`).
//!
//! Through the repository rather than straight from one server to the
//! other: the restore then only ever reads bytes that authenticated, the
//! recovered moment stays restorable (and drillable) as a snapshot, and a
//! target of another major takes a dump as it takes any other.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::recover::{self, choose_base, settle_target, RecoveryTarget};
use crate::connections::ServerScope;
use crate::error::{Error, Result};
use crate::jobs::backup::BackupOptions;
use crate::jobs::restore::RestoreOptions;
use crate::jobs::server::{self, ServerBackupOptions, ServerRestoreOptions, ServerRestoreReport};
use crate::pg::scratch::ScratchCluster;
use crate::pg::{tools, ConnectionSpec};
use crate::progress::Progress;
use crate::repo::manifest::{self, SnapshotKind};
use crate::repo::Repository;

/// The snapshot name of the checkpoints recoveries of archive `name` onto a server keep.
pub fn recovered_tag(name: &str) -> String {
    format!("{name}.pitr")
}

#[derive(Clone, Debug)]
pub struct RecoverOntoOptions {
    /// The archive's name.
    pub name: String,
    pub target: RecoveryTarget,
    /// This base backup instead of the newest that fits the target.
    pub base: Option<String>,
    /// The server binaries' folder for the scratch cluster; searched for when None.
    pub pg_bin: Option<PathBuf>,
    /// Where scratch clusters go (see `scratch.rs`).
    pub scratch_root: PathBuf,
    /// Only these databases (empty: every database that holds something).
    pub databases: Vec<String>,
    /// How each database is restored onto the server.
    pub restore: RestoreOptions,
    pub lock_wait: Duration,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RecoverOntoReport {
    pub name: String,
    /// Where recovery stopped, as said ("latest" when the time asked for is
    /// after the newest archived WAL: see `next_steps`).
    pub target: String,
    pub base_backup: String,
    pub server_version: String,
    /// Seconds the recovery on the scratch cluster took.
    pub recovery_seconds: f64,
    /// The server checkpoint holding the recovered databases (`NAME.pitr`).
    pub snapshot_id: String,
    pub restore: ServerRestoreReport,
    pub seconds: f64,
    pub warnings: Vec<String>,
}

/// Recovers archive `options.name` to `options.target` and restores its
/// databases onto the server `onto` reaches (see the module docs). The
/// scratch cluster is removed whatever happens.
pub async fn recover_onto(
    repo: Arc<Repository>,
    onto: &ConnectionSpec,
    options: &RecoverOntoOptions,
    progress: Arc<dyn Progress>,
) -> Result<RecoverOntoReport> {
    let started = Instant::now();
    progress.phase("choosing the base backup", None);
    let ((target, settled), base, facts) = {
        let repo = repo.clone();
        let (name, target, base) = (options.name.clone(), options.target.clone(), options.base.clone());
        crate::jobs::blocking(move || {
            let settled = settle_target(&repo, &name, &target)?;
            let (snapshot, facts) = choose_base(&repo, &name, &settled.0, base.as_deref())?;
            Ok((settled, snapshot, facts))
        })
        .await?
    };
    let mut warnings: Vec<String> = settled.into_iter().collect();
    let server = tools::find_server(facts.server_major(), options.pg_bin.as_deref(), super::RECOVERS)?;
    let scratch = ScratchCluster::prepare(&options.scratch_root, &options.name, server, options.now)?;
    warnings.extend(
        scratch
            .leftovers_dropped
            .iter()
            .map(|d| format!("removed {d}, a scratch cluster a crash had left")),
    );
    let dumped = async {
        let recovering = scratch.recover_options(&base.id, target.clone(), options.lock_wait);
        let recovered = {
            let (repo, progress) = (repo.clone(), progress.clone());
            crate::jobs::blocking(move || recover::recover(repo, &recovering, progress.as_ref())).await?
        };
        let admin = scratch.superuser(&facts.user).await?;
        progress.phase("dumping the recovered databases", None);
        let scope = ServerScope::new(options.databases.iter().map(|d| glob::Pattern::escape(d)).collect(), Vec::new())?;
        let backup = ServerBackupOptions {
            scope,
            backup: BackupOptions {
                name: recovered_tag(&options.name),
                kind: SnapshotKind::Checkpoint,
                label: Some(format!("recovered to {target}")),
                connection: None,
                // The server's own pg_dump where its install has one.
                pg_bin: scratch.server.tool("pg_dump").exists().then(|| scratch.server.bin_dir.clone()),
                role_passwords: true,
                lock_wait: options.lock_wait,
                requested_by: None,
            },
        };
        let dumped = server::backup_server(repo.clone(), &admin, &backup, progress.clone()).await?;
        Ok::<_, Error>((recovered, dumped))
    }
    .await;
    progress.phase("removing the scratch cluster", None);
    if !scratch.remove() {
        warnings.push(format!(
            "the scratch cluster {} could not be removed: the next recovery or drill of {} removes it",
            scratch.datadir.display(),
            options.name
        ));
    }
    let (recovered, dumped) = dumped?;
    if let Some(failed) = dumped.failed.first() {
        return Err(Error::RestoreFailed(format!(
            "database {} of the recovered cluster could not be dumped ({}); nothing was restored onto {}",
            failed.database,
            failed.error,
            onto.display_url()
        )));
    }
    for database in &options.databases {
        if !dumped.databases.iter().any(|d| &d.database == database) {
            return Err(Error::InvalidInput(format!(
                "`{}` had no database {database} at {target}; nothing was restored (it had: {})",
                options.name,
                dumped.databases.iter().map(|d| d.database.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    warnings.extend(dumped.warnings);
    let group = {
        let (repo, id) = (repo.clone(), dumped.snapshot_id.clone());
        crate::jobs::blocking(move || manifest::load(&repo, &id)).await?
    };
    let restoring = ServerRestoreOptions {
        databases: Vec::new(),
        restore: options.restore.clone(),
    };
    let restore = server::restore_server(repo, group, onto, &restoring, progress).await?;
    Ok(RecoverOntoReport {
        name: options.name.clone(),
        target: target.to_string(),
        base_backup: base.id,
        server_version: facts.server_version,
        recovery_seconds: recovered.seconds,
        snapshot_id: dumped.snapshot_id,
        restore,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    })
}
