//! Whole servers: one run backs up every database a server connection
//! covers, each as its own snapshot tagged `NAME/DATABASE`, then the
//! server's globals (roles as data, tablespaces, `pg_dumpall
//! --globals-only` kept for people) as a snapshot tagged `NAME` whose
//! manifest names the run's database snapshots: the group that the
//! Timeline and a restore treat as one point in time.
//!
//! A restore of the group creates the roles the target lacks (from their
//! typed definitions, never from SQL text), then restores each database
//! through the ordinary verified restore, one after the other.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sqlx::Connection;

use super::backup::{self, globals_sql, BackupOptions, BackupReport};
use super::restore::{self, RestoreOptions, RestoreReport};
use crate::connections::ServerScope;
use crate::error::{Error, Result};
use crate::pg::inspect::{self, pg_error};
use crate::pg::roles::{self, RoleDefinition};
use crate::pg::{tools, ConnectionSpec};
use crate::progress::{NoProgress, Progress};
use crate::repo::manifest::{self, Snapshot};
use crate::repo::read::{self, ReadOptions};
use crate::repo::store::{self, PutOptions};
use crate::repo::Repository;

/// `source` of a server group's globals snapshot.
pub const SOURCE: &str = "postgresql-server";
/// Metadata key of the group: a [`ServerGroup`].
const GROUP: &str = manifest::SERVER_GROUP;
/// A globals snapshot is a few kilobytes of JSON per hundred roles.
const GLOBALS_MAX: u64 = 64 << 20;

/// What the globals snapshot's stream holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServerGlobals {
    pub roles: Vec<RoleDefinition>,
    pub tablespaces: Vec<Tablespace>,
    /// `pg_dumpall --globals-only`: kept for people, never executed.
    pub globals_sql: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tablespace {
    pub name: String,
    pub owner: String,
    pub location: String,
}

/// One server backup run, as its globals snapshot records it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServerGroup {
    pub connection: String,
    /// "host:port".
    pub server: String,
    pub server_version: String,
    /// Database name to its snapshot of this run.
    pub databases: BTreeMap<String, String>,
    /// Databases whose backup failed in this run, with why.
    pub failed: BTreeMap<String, String>,
    /// Databases an earlier run backed up that the server no longer has
    /// (their snapshots are kept).
    pub removed: Vec<String>,
}

impl ServerGroup {
    /// The group a snapshot records, if it is a server's globals snapshot.
    pub fn of(snapshot: &Snapshot) -> Result<Option<ServerGroup>> {
        let metadata = &snapshot.manifest.metadata;
        if metadata.get("source").and_then(|v| v.as_str()) != Some(SOURCE) {
            return Ok(None);
        }
        let group = metadata.get(GROUP).cloned().unwrap_or_default();
        serde_json::from_value(group)
            .map(Some)
            .map_err(|e| Error::corrupt(format!("the server group of snapshot {}", &snapshot.id[..8]), e.to_string()))
    }
}

#[derive(Clone, Debug)]
pub struct ServerBackupOptions {
    pub scope: ServerScope,
    /// How each database is backed up. Its `name` is the server
    /// connection's: the group's tag, and `name/DATABASE` each database's.
    pub backup: BackupOptions,
}

/// A database a server run could not back up or restore.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DatabaseFailure {
    pub database: String,
    pub error: String,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServerBackupReport {
    pub name: String,
    /// The globals snapshot that groups the run.
    pub snapshot_id: String,
    pub server_version: String,
    pub databases: Vec<BackupReport>,
    pub failed: Vec<DatabaseFailure>,
    /// Databases on the server that the patterns leave out.
    pub skipped: Vec<String>,
    pub removed: Vec<String>,
    pub seconds: f64,
    pub warnings: Vec<String>,
}

/// The databases of the server `spec` reaches that `scope` covers, and
/// those it leaves out. Templates and databases that refuse connections are
/// never backed up; the maintenance database `postgres` only when it holds
/// something.
pub async fn discover(spec: &ConnectionSpec, scope: &ServerScope) -> Result<(Vec<String>, Vec<String>)> {
    let mut conn = inspect::connect(spec).await?;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY 1")
            .fetch_all(&mut conn)
            .await
            .map_err(|e| pg_error("listing the databases of", spec, e))?;
    let _ = conn.close().await;
    let (mut chosen, mut skipped) = (Vec::new(), Vec::new());
    for name in names {
        // The maintenance database is kept only when it holds something; one
        // this role cannot read is left out rather than failing the run.
        let covered = scope.covers(&name)
            && (name != "postgres"
                || inspect::inspect(&spec.with_database(&name))
                    .await
                    .is_ok_and(|info| !info.is_empty()));
        if covered {
            chosen.push(name);
        } else {
            skipped.push(name);
        }
    }
    Ok((chosen, skipped))
}

/// Backs up the server `spec` reaches (see the module docs). The run goes
/// on past a database that fails; the report names it and the caller
/// judges the run. Only a cancellation or a failure to reach the server
/// stops it.
pub async fn backup_server(
    repo: Arc<Repository>,
    spec: &ConnectionSpec,
    options: &ServerBackupOptions,
    progress: Arc<dyn Progress>,
) -> Result<ServerBackupReport> {
    let started = Instant::now();
    let (chosen, skipped) = discover(spec, &options.scope).await?;
    let previous = {
        let (repo, latest) = (repo.clone(), format!("latest:{}", options.backup.name));
        super::blocking(move || match manifest::resolve(&repo, &latest) {
            Ok(snapshot) => Ok(ServerGroup::of(&snapshot).ok().flatten()),
            Err(_) => Ok(None),
        })
        .await?
    };
    let on_server: Vec<&String> = chosen.iter().chain(&skipped).collect();
    let removed: Vec<String> = previous
        .iter()
        .flat_map(|p| p.databases.keys())
        .filter(|db| !on_server.contains(db))
        .cloned()
        .collect();
    let mut warnings: Vec<String> = removed
        .iter()
        .map(|db| {
            format!(
                "database {db} is gone from the server: its snapshots are kept (latest:{})",
                manifest::database_tag(&options.backup.name, db)
            )
        })
        .collect();

    let mut databases = Vec::new();
    let mut failed = Vec::new();
    for database in &chosen {
        if progress.cancelled() {
            return Err(Error::Cancelled);
        }
        progress.phase(&format!("backing up database {database}"), None);
        let backup_options = BackupOptions {
            name: manifest::database_tag(&options.backup.name, database),
            connection: Some(options.backup.name.clone()),
            ..options.backup.clone()
        };
        match backup::backup(repo.clone(), &spec.with_database(database), &backup_options, progress.clone()).await {
            Ok(report) => databases.push(report),
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) => failed.push(DatabaseFailure {
                database: database.clone(),
                error: e.to_string(),
            }),
        }
    }

    progress.phase("saving the server's roles and tablespaces", None);
    let (server_version, globals, globals_warning) = read_globals(spec, &options.backup).await?;
    warnings.extend(globals_warning);
    let group = ServerGroup {
        connection: options.backup.name.clone(),
        server: format!("{}:{}", spec.host, spec.port),
        server_version: server_version.clone(),
        databases: databases.iter().map(|r| (r.database.clone(), r.snapshot_id.clone())).collect(),
        failed: failed.iter().map(|f| (f.database.clone(), f.error.clone())).collect(),
        removed: removed.clone(),
    };
    let put_options = PutOptions {
        tag: options.backup.name.clone(),
        kind: options.backup.kind,
        label: options.backup.label.clone(),
        metadata: BTreeMap::from([
            ("source".to_string(), SOURCE.into()),
            (GROUP.to_string(), serde_json::to_value(&group).expect("a group serializes")),
        ]),
        lock_wait: options.backup.lock_wait,
        allow_empty: false,
        provenance: None,
    };
    let stream = serde_json::to_vec(&globals).expect("globals serialize");
    let stored = super::blocking({
        let repo = repo.clone();
        move || store::put(&repo, &mut stream.as_slice(), &put_options, &NoProgress)
    })
    .await?;
    Ok(ServerBackupReport {
        name: options.backup.name.clone(),
        snapshot_id: stored.snapshot_id,
        server_version,
        databases,
        failed,
        skipped,
        removed,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    })
}

/// The server's version, its roles and tablespaces, and a warning when
/// `pg_dumpall` could not read the globals' text.
async fn read_globals(spec: &ConnectionSpec, options: &BackupOptions) -> Result<(String, ServerGlobals, Option<String>)> {
    let mut conn = inspect::connect(spec).await?;
    let (version_num, version) = inspect::server_version(&mut conn, spec).await?;
    let names: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| pg_error("listing the roles of", spec, e))?;
    let roles = roles::read_roles(&mut conn, spec, &names).await?;
    let tablespaces: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT spcname::text, pg_get_userbyid(spcowner)::text, pg_tablespace_location(oid)
           FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(|e| pg_error("listing the tablespaces of", spec, e))?;
    let _ = conn.close().await;

    let pg = tools::find(inspect::major_of(version_num), options.pg_bin.as_deref())?;
    let (tool, for_tool, passwords) = (pg.tool("pg_dumpall"), spec.clone(), options.role_passwords);
    let dumped = tokio::task::spawn_blocking(move || globals_sql(&tool, &for_tool, passwords))
        .await
        .map_err(|e| Error::Internal(format!("pg_dumpall stopped unexpectedly: {e}")))?;
    let (globals_sql, warning) = match dumped {
        Ok(sql) => (Some(sql), None),
        Err(e) => (None, Some(format!("pg_dumpall could not read the server's globals as SQL: {e}"))),
    };
    let globals = ServerGlobals {
        roles,
        tablespaces: tablespaces
            .into_iter()
            .map(|(name, owner, location)| Tablespace { name, owner, location })
            .collect(),
        globals_sql,
    };
    Ok((version, globals, warning))
}

#[derive(Clone, Debug)]
pub struct ServerRestoreOptions {
    /// Only these databases of the group (empty: all of them).
    pub databases: Vec<String>,
    /// How each database is restored.
    pub restore: RestoreOptions,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServerRestoreReport {
    /// The group's globals snapshot.
    pub snapshot_id: String,
    pub target: String,
    pub roles_created: Vec<String>,
    pub restored: Vec<RestoreReport>,
    pub failed: Vec<DatabaseFailure>,
    pub seconds: f64,
    pub warnings: Vec<String>,
}

/// Restores the server group `snapshot` onto the server `target` reaches
/// (its database is only where Lifeboat connects): roles first, then each
/// chosen database, verified and swapped as a single restore is. A
/// database that fails is reported and the others go on.
pub async fn restore_server(
    repo: Arc<Repository>,
    snapshot: Snapshot,
    target: &ConnectionSpec,
    options: &ServerRestoreOptions,
    progress: Arc<dyn Progress>,
) -> Result<ServerRestoreReport> {
    let started = Instant::now();
    let group = ServerGroup::of(&snapshot)?.ok_or_else(|| {
        Error::InvalidInput(format!(
            "snapshot {} is not a server backup: restore it with --to postgres://USER@HOST:PORT/DATABASE",
            &snapshot.id[..8]
        ))
    })?;
    let chosen: Vec<(String, String)> = if options.databases.is_empty() {
        group.databases.clone().into_iter().collect()
    } else {
        let mut chosen = Vec::new();
        for wanted in &options.databases {
            let id = group.databases.get(wanted).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "the server backup {} has no database {wanted}; it has: {}",
                    &snapshot.id[..8],
                    group.databases.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?;
            chosen.push((wanted.clone(), id.clone()));
        }
        chosen
    };
    let globals = read_globals_snapshot(&repo, &snapshot, options.restore.lock_wait).await?;

    let mut warnings: Vec<String> = group
        .failed
        .keys()
        .map(|db| {
            format!(
                "database {db} failed to back up in this run: restore latest:{} for its newest snapshot",
                manifest::database_tag(&group.connection, db)
            )
        })
        .collect();
    // Roles are made through the database `target` names (`postgres`
    // unless the caller chose another, for a server without it).
    let mut conn = inspect::connect(target).await?;
    let existing: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| pg_error("listing the roles of", target, e))?;
    let tablespaces: Vec<String> = sqlx::query_scalar("SELECT spcname::text FROM pg_tablespace")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| pg_error("listing the tablespaces of", target, e))?;
    for tablespace in globals.tablespaces.iter().filter(|t| !tablespaces.contains(&t.name)) {
        warnings.push(format!(
            "tablespace {} (at {} on the source) does not exist on the target: create it there first if the databases use it",
            tablespace.name, tablespace.location
        ));
    }
    let roles_created = if options.restore.shape.no_owner {
        Vec::new()
    } else {
        let missing: Vec<String> = globals
            .roles
            .iter()
            .map(|r| r.name.clone())
            .filter(|r| !existing.contains(r))
            .collect();
        let created = restore::create_missing_roles(&mut conn, target, &globals.roles, &missing).await?;
        warnings.extend(created.warnings);
        created.names
    };
    let _ = conn.close().await;

    let mut restored = Vec::new();
    let mut failed = Vec::new();
    for (database, id) in chosen {
        if progress.cancelled() {
            return Err(Error::Cancelled);
        }
        if database == "postgres" {
            // Lifeboat connects through it: it cannot be swapped in place.
            failed.push(DatabaseFailure {
                error: format!(
                    "the maintenance database postgres is not replaced in place: restore latest:{} into another \
                     database name and move what you need",
                    manifest::database_tag(&group.connection, &database)
                ),
                database,
            });
            continue;
        }
        progress.phase(&format!("restoring database {database}"), None);
        let outcome = async {
            let snapshot = {
                let repo = repo.clone();
                super::blocking(move || manifest::load(&repo, &id)).await?
            };
            restore::restore(
                repo.clone(),
                snapshot,
                &target.with_database(&database),
                &options.restore,
                progress.clone(),
            )
            .await
        }
        .await;
        match outcome {
            Ok(report) => restored.push(report),
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) => failed.push(DatabaseFailure {
                database,
                error: e.to_string(),
            }),
        }
    }
    Ok(ServerRestoreReport {
        snapshot_id: snapshot.id.clone(),
        target: format!("{}:{}", target.host, target.port),
        roles_created,
        restored,
        failed,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    })
}

/// The globals a group's snapshot holds, read back verified.
async fn read_globals_snapshot(repo: &Arc<Repository>, snapshot: &Snapshot, lock_wait: Duration) -> Result<ServerGlobals> {
    if snapshot.manifest.size > GLOBALS_MAX {
        return Err(Error::corrupt(
            format!("snapshot {}", &snapshot.id[..8]),
            format!("a server's globals of {} bytes", snapshot.manifest.size),
        ));
    }
    let (repo, snapshot) = (repo.clone(), snapshot.clone());
    super::blocking(move || {
        let mut bytes = Vec::new();
        read::cat(&repo, &snapshot, &mut bytes, &NoProgress, ReadOptions { lock_wait })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::corrupt(format!("the server globals of snapshot {}", &snapshot.id[..8]), e.to_string()))
    })
    .await
}
