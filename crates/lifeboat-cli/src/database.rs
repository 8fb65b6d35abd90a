//! Subcommands over PostgreSQL databases: thin callers of `lifeboat_core::ops`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Result};
use chrono::Utc;
use clap::Args;
use lifeboat_core::jobs::restore::partial::{self, Selection};
use lifeboat_core::jobs::restore::{RestoreJobs, RestoreOptions, RestoreReport, Shape};
use lifeboat_core::jobs::server::{ServerGroup, ServerRestoreOptions, ServerRestoreReport};
use lifeboat_core::ops::{BackupJob, BackupSource, RestoreJob, ServerBackupJob};
use lifeboat_core::pg::ConnectionSpec;
use lifeboat_core::repo::manifest::SnapshotKind;
use lifeboat_core::repo::{manifest, pins};

use crate::commands::{human_bytes, print_json};
use crate::connection::{url_spec, with_env_password, Database, DatabaseArgs};
use crate::context::{claim, runner, runtime};
use crate::credentials::open_repo;
use crate::progress::Bars;
use crate::GlobalArgs;

#[derive(Args)]
pub struct BackupArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Name the snapshots are stored under (default: the connection's, or
    /// the database's name);
    /// `latest:NAME` finds the newest.
    #[arg(long)]
    name: Option<String>,
    /// Take a checkpoint with this label ("before 16 -> 17 upgrade").
    #[arg(long, value_name = "LABEL")]
    checkpoint: Option<String>,
    /// Also store role password hashes with the cluster's roles.
    #[arg(long)]
    role_passwords: bool,
    #[arg(long)]
    json: bool,
}

impl BackupArgs {
    /// A checkpoint when labelled, else a manual backup.
    fn kind(&self) -> SnapshotKind {
        if self.checkpoint.is_some() {
            SnapshotKind::Checkpoint
        } else {
            SnapshotKind::Manual
        }
    }
}

fn print_warnings(warnings: &[String]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

pub fn backup(g: &GlobalArgs, a: &BackupArgs) -> Result<ExitCode> {
    let database = a.database.resolve(g)?;
    if database.server.is_some() {
        return backup_server(g, a, database);
    }
    let name = a
        .name
        .clone()
        .or_else(|| database.connection.clone())
        .unwrap_or_else(|| database.spec.database.clone());
    let job = BackupJob {
        source: BackupSource::Given {
            spec: database.spec,
            name: name.clone(),
            connection: database.connection,
            pg_bin: database.pg_bin,
        },
        kind: a.kind(),
        label: a.checkpoint.clone(),
        role_passwords: a.role_passwords,
        requested_by: None,
    };
    let _claim = claim(&name)?;
    let report = runtime()?.block_on(async { anyhow::Ok(runner(g).await?.backup(job, Arc::new(Bars::new())).await?) })?;
    print_warnings(&report.warnings);
    if a.json {
        print_json(&report)?;
    } else {
        println!("{}", report.snapshot_id);
        eprintln!(
            "backed up {} as `{}` in {:.1}s: {} dump, {} tables, {} rows, {} added to the repository",
            report.database,
            report.name,
            report.seconds,
            human_bytes(report.size),
            report.tables,
            report.rows,
            human_bytes(report.added_bytes)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `backup --connection NAME` of a server connection: every database it covers.
fn backup_server(g: &GlobalArgs, a: &BackupArgs, database: Database) -> Result<ExitCode> {
    let name = database.connection.clone().unwrap_or_default();
    if a.name.as_ref().is_some_and(|n| *n != name) {
        bail!("a server's snapshots are named after its connection ({name}/DATABASE): leave out --name");
    }
    let job = ServerBackupJob {
        name: name.clone(),
        spec: Some(database.spec),
        pg_bin: database.pg_bin,
        kind: a.kind(),
        label: a.checkpoint.clone(),
        role_passwords: a.role_passwords,
        requested_by: None,
    };
    let _claim = claim(&name)?;
    let report = runtime()?.block_on(async { anyhow::Ok(runner(g).await?.backup_server(job, Arc::new(Bars::new())).await?) })?;
    print_warnings(&report.warnings);
    if a.json {
        print_json(&report)?;
    } else {
        println!("{}", report.snapshot_id);
        for db in &report.databases {
            eprintln!(
                "  {:<32} {} dump, {} tables, {} rows",
                db.name,
                human_bytes(db.size),
                db.tables,
                db.rows
            );
        }
        for failure in &report.failed {
            eprintln!("  {:<32} FAILED: {}", failure.database, failure.error);
        }
        if !report.skipped.is_empty() {
            eprintln!("  left out: {}", report.skipped.join(", "));
        }
        eprintln!(
            "backed up server `{name}` in {:.1}s: {} databases, the group is snapshot {}",
            report.seconds,
            report.databases.len(),
            &report.snapshot_id[..8]
        );
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[derive(Args)]
pub struct ShowArgs {
    /// Snapshot id, unique id prefix, or latest:NAME.
    snapshot: String,
}

/// Prints a snapshot's whole manifest (JSON): versions, options, row counts, globals.
pub fn show(g: &GlobalArgs, a: &ShowArgs) -> Result<ExitCode> {
    let repo = open_repo(g)?;
    let snapshot = manifest::resolve(&repo, &a.snapshot)?;
    print_json(&serde_json::json!({ "id": snapshot.id, "manifest": snapshot.manifest }))?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct KeepArgs {
    /// Snapshot id, unique id prefix, or latest:NAME.
    snapshot: String,
    /// Return it to retention.
    #[arg(long)]
    off: bool,
}

pub fn keep(g: &GlobalArgs, a: &KeepArgs) -> Result<ExitCode> {
    let repo = open_repo(g)?;
    let snapshot = manifest::resolve(&repo, &a.snapshot)?;
    pins::set_keep_forever(&repo, &snapshot, !a.off, g.lock_wait())?;
    if a.off {
        println!("snapshot {} is subject to retention again", &snapshot.id[..8]);
    } else {
        println!("snapshot {} is kept forever: no retention policy removes it", &snapshot.id[..8]);
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct VerifyArgs {
    /// Snapshot id, unique id prefix, or latest:NAME.
    snapshot: String,
    /// PostgreSQL client tools folder (pg_restore...), instead of searching.
    #[arg(long, env = "LIFEBOAT_PG_BIN")]
    pg_bin: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn verify(g: &GlobalArgs, a: &VerifyArgs) -> Result<ExitCode> {
    let report = runtime()?.block_on(async {
        let runner = runner(g).await?;
        anyhow::Ok(runner.verify(&a.snapshot, a.pg_bin.clone(), Arc::new(Bars::new())).await?)
    })?;
    if a.json {
        print_json(&report)?;
    } else {
        println!(
            "snapshot {} is intact: {} authenticated, SHA-256 {} matches, pg_restore read {} archive entries ({:.1}s)",
            &report.snapshot_id[..8],
            human_bytes(report.size),
            &report.sha256[..16],
            report.archive_entries,
            report.seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct RestoreArgs {
    /// Snapshot id, unique id prefix, or latest:NAME.
    snapshot: String,
    /// The database to restore into: postgres://user@host:port/database;
    /// for a server backup, the server: postgres://user@host:port.
    #[arg(long)]
    to: String,
    /// Of a server backup, only this database (repeatable; default: all).
    #[arg(long, value_name = "DB")]
    database: Vec<String>,
    /// Replace a non-empty database (it is kept, renamed) or restore onto an older server.
    #[arg(long)]
    force: bool,
    /// Parallel pg_restore jobs, or `auto`: parallel (2-4 jobs) for a dump of
    /// 64 MiB or more when the data folder's disk can hold a verified copy of
    /// it (parallel jobs read a file), else one job streaming the dump.
    #[arg(long, default_value = "auto", value_parser = parse_jobs)]
    jobs: RestoreJobs,
    /// Make this role own everything restored, the database too (pg_restore
    /// --no-owner --role); by default the backup's owners are kept.
    #[arg(long, value_name = "ROLE", alias = "owner")]
    role: Option<String>,
    /// Leave out the backup's owners and grants: everything is owned by the
    /// restoring user (or --role), and the source's roles are not created
    /// (pg_restore --no-owner --no-privileges), e.g. into a staging server.
    #[arg(long)]
    no_owner: bool,
    /// Restore only this table (SCHEMA.TABLE, repeatable), with its indexes,
    /// constraints and what it needs. Into a database that holds data it is
    /// restored beside the original, as <table>_restored_<time>.
    #[arg(long, value_name = "SCHEMA.TABLE")]
    table: Vec<String>,
    /// Restore only this schema's objects and rows (repeatable); combines with --table.
    #[arg(long, value_name = "SCHEMA")]
    schema: Vec<String>,
    #[arg(long, env = "LIFEBOAT_PG_BIN")]
    pg_bin: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn print_restore(report: &RestoreReport, json: bool) -> Result<()> {
    print_warnings(&report.warnings);
    if json {
        return print_json(report);
    }
    println!(
        "restored snapshot {} into {} ({} in {:.1}s{})",
        &report.snapshot_id[..8],
        report.target,
        human_bytes(report.bytes),
        report.seconds,
        if report.jobs > 1 {
            format!(", {} parallel jobs", report.jobs)
        } else {
            String::new()
        }
    );
    if !report.roles_created.is_empty() {
        println!("roles created: {}", report.roles_created.join(", "));
    }
    for table in &report.tables {
        println!("  {:<40} {:>12} rows (backup: {})", table.table, table.restored, table.expected);
    }
    for placed in &report.placed_beside {
        println!(
            "  {} restored beside it as {} ({} rows)",
            placed.table, placed.restored_as, placed.rows
        );
    }
    Ok(())
}

fn parse_jobs(text: &str) -> std::result::Result<RestoreJobs, String> {
    if text == "auto" {
        return Ok(RestoreJobs::Auto);
    }
    match text.parse::<u32>() {
        Ok(jobs) if jobs >= 1 => Ok(RestoreJobs::Exactly(jobs)),
        _ => Err("use a number of jobs (1 or more) or `auto`".into()),
    }
}

pub fn restore(g: &GlobalArgs, a: &RestoreArgs) -> Result<ExitCode> {
    let options = RestoreOptions {
        force: a.force,
        jobs: a.jobs,
        pg_bin: a.pg_bin.clone(),
        lock_wait: g.lock_wait(),
        now: Utc::now(),
        shape: Shape {
            role: a.role.clone(),
            no_owner: a.no_owner,
            selection: Selection {
                tables: a.table.iter().map(|t| partial::parse_table(t)).collect::<Result<_, _>>()?,
                schemas: a.schema.clone(),
            },
        },
    };
    let runtime = runtime()?;
    let runner = runtime.block_on(runner(g))?;
    let snapshot = manifest::resolve(&runner.repo, &a.snapshot)?;
    if ServerGroup::of(&snapshot)?.is_some() {
        if !options.shape.selection.is_empty() {
            bail!("--table and --schema pick from one database: restore latest:SERVER/DATABASE with them");
        }
        let server = ServerRestoreOptions {
            databases: a.database.clone(),
            restore: options,
        };
        let target = with_env_password(ConnectionSpec::parse_server_url(&a.to)?);
        let report = runtime.block_on(runner.restore_server(&snapshot.id, target, server, Arc::new(Bars::new())))?;
        return print_server_restore(&report, a.json);
    }
    if !a.database.is_empty() {
        bail!(
            "--database picks from a server backup; snapshot {} is of one database",
            &snapshot.id[..8]
        );
    }
    let job = RestoreJob {
        snapshot: a.snapshot.clone(),
        target: url_spec(&a.to)?,
        options,
        automatic: false,
    };
    let report = runtime.block_on(runner.restore(job, Arc::new(Bars::new())))?;
    print_restore(&report, a.json)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn print_server_restore(report: &ServerRestoreReport, json: bool) -> Result<ExitCode> {
    if json {
        print_json(report)?;
    } else {
        print_warnings(&report.warnings);
        if !report.roles_created.is_empty() {
            println!("roles created: {}", report.roles_created.join(", "));
        }
        for restored in &report.restored {
            print_restore(restored, false)?;
        }
        for failure in &report.failed {
            println!("FAILED {}: {}", failure.database, failure.error);
        }
        println!(
            "restored {} of {} databases onto {} in {:.1}s",
            report.restored.len(),
            report.restored.len() + report.failed.len(),
            report.target,
            report.seconds
        );
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[derive(Args)]
pub struct AutoRestoreArgs {
    /// The database to fill when it is empty or absent.
    #[arg(long)]
    to: String,
    /// Restore the newest snapshot of this name (default: the target database's name).
    #[arg(long)]
    from: Option<String>,
    #[arg(long, env = "LIFEBOAT_PG_BIN")]
    pg_bin: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

/// The switch that arms `auto-restore`, so a start-up script cannot restore by accident.
const AUTO_RESTORE_SWITCH: &str = "LIFEBOAT_RESTORE_DATABASE_IF_EMPTY";

pub fn auto_restore(g: &GlobalArgs, a: &AutoRestoreArgs) -> Result<ExitCode> {
    if std::env::var(AUTO_RESTORE_SWITCH).as_deref() != Ok("true") {
        bail!("auto-restore only acts when {AUTO_RESTORE_SWITCH}=true is set (for a server's start-up script); nothing was done");
    }
    let target = url_spec(&a.to)?;
    let runtime = runtime()?;
    let exists = runtime.block_on(lifeboat_core::pg::inspect::database_exists(&target))?;
    if exists && !runtime.block_on(lifeboat_core::pg::inspect::inspect(&target))?.is_empty() {
        if a.json {
            print_json(&serde_json::json!({ "action": "none", "reason": "the database already has data" }))?;
        } else {
            println!("nothing to do: {} already has data", target.display_url());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let name = a.from.clone().unwrap_or_else(|| target.database.clone());
    let report = runtime.block_on(async {
        let runner = runner(g).await?;
        let snapshot = manifest::resolve(&runner.repo, &format!("latest:{name}"))?;
        eprintln!(
            "{} is {}: restoring snapshot {} of {name} taken {}",
            target.display_url(),
            if exists { "empty" } else { "absent" },
            &snapshot.id[..8],
            snapshot.manifest.start.format("%Y-%m-%d %H:%M UTC")
        );
        let job = RestoreJob {
            // latest: again, so a newer snapshot this workstation saw and the repository lost is reported.
            snapshot: format!("latest:{name}"),
            target: target.clone(),
            options: RestoreOptions {
                force: false,
                jobs: RestoreJobs::Auto,
                pg_bin: a.pg_bin.clone(),
                lock_wait: g.lock_wait(),
                now: Utc::now(),
                shape: Shape::default(),
            },
            automatic: true,
        };
        anyhow::Ok(runner.restore(job, Arc::new(Bars::new())).await?)
    })?;
    print_restore(&report, a.json)?;
    Ok(ExitCode::SUCCESS)
}
