//! Subcommands over PostgreSQL databases: thin callers of `lifeboat_core::jobs`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Result};
use chrono::Utc;
use clap::Args;
use lifeboat_core::catalog::Catalog;
use lifeboat_core::events::{Event, EventKind};
use lifeboat_core::jobs::backup::{self, BackupOptions};
use lifeboat_core::jobs::restore::{self, RestoreOptions, RestoreReport};
use lifeboat_core::paths::Paths;
use lifeboat_core::pg::ConnectionSpec;
use lifeboat_core::repo::manifest::{Snapshot, SnapshotKind};
use lifeboat_core::repo::Repository;
use lifeboat_core::repo::{manifest, pins};
use lifeboat_core::schedule::scheduler::{Claim, Claims};

use crate::commands::{human_bytes, print_json};
use crate::connection::{url_spec, DatabaseArgs};
use crate::credentials::open_repo;
use crate::progress::Bars;
use crate::schedule::announce;
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

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// Remembers `snapshot` as the newest of its name in the workstation's
/// catalog; prints and returns the warning when a newer one seen before is
/// gone (see `Catalog::check_newest_seen`).
async fn remember_newest(repo: &Repository, snapshot: &Snapshot) -> Option<String> {
    let checked = async {
        let catalog = Catalog::open(&Paths::from_env()?.catalog()).await?;
        catalog.check_newest_seen(repo.id(), snapshot).await
    };
    match checked.await {
        Ok(warning) => {
            if let Some(warning) = &warning {
                eprintln!("{warning}");
            }
            warning
        }
        Err(e) => {
            eprintln!("note: could not compare with the snapshots seen before: {e}");
            None
        }
    }
}

/// Claims `name` for this process's job (see `Claims`): refused while the
/// app, a timer or another `lifeboat` runs a backup or drill of it here.
pub fn claim(name: &str) -> Result<Claim> {
    Claims::in_folder(Paths::from_env()?.claims_dir()).claim(name).ok_or_else(|| {
        anyhow::anyhow!(
            "a backup or drill of {name} is already running on this workstation (the app, a timer or another \
             `lifeboat`): wait for it to finish, then run again"
        )
    })
}

pub fn backup(g: &GlobalArgs, a: &BackupArgs) -> Result<ExitCode> {
    let database = a.database.resolve(g)?;
    let repo = Arc::new(open_repo(g)?);
    let name = a
        .name
        .clone()
        .or_else(|| database.connection.clone())
        .unwrap_or_else(|| database.spec.database.clone());
    if a.checkpoint.as_deref().is_some_and(|l| l.trim().is_empty()) {
        bail!("the checkpoint label is empty: say what it is for, as in --checkpoint \"before 16 -> 17 upgrade\"");
    }
    let options = BackupOptions {
        name,
        kind: if a.checkpoint.is_some() {
            SnapshotKind::Checkpoint
        } else {
            SnapshotKind::Manual
        },
        label: a.checkpoint.clone(),
        connection: database.connection.clone(),
        pg_bin: database.pg_bin.clone(),
        role_passwords: a.role_passwords,
        lock_wait: g.lock_wait(),
    };
    let checkpoint = a.checkpoint.is_some();
    let _claim = claim(&options.name)?;
    let report = runtime()?.block_on(async {
        let outcome = backup::backup(repo.clone(), &database.spec, &options, Arc::new(Bars::new())).await;
        let event = match &outcome {
            Ok(r) => {
                let kind = if checkpoint {
                    EventKind::Checkpoint
                } else {
                    EventKind::BackupSucceeded
                };
                let message = format!("backed up {} as {}: snapshot {}", r.database, r.name, &r.snapshot_id[..8]);
                let event = Event::new(kind, Some(&r.name), true, message).with_detail(r);
                match manifest::load(&repo, &r.snapshot_id) {
                    Ok(snapshot) => {
                        remember_newest(&repo, &snapshot).await;
                        event.with_snapshot(&snapshot)
                    }
                    Err(_) => event,
                }
            }
            Err(lifeboat_core::Error::Cancelled) => return outcome,
            Err(e) => Event::new(EventKind::BackupFailed, Some(&options.name), false, e.to_string()),
        };
        announce(event).await;
        outcome
    })?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
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
    let repo = open_repo(g)?;
    let snapshot = manifest::resolve(&repo, &a.snapshot)?;
    let outcome = restore::verify(&repo, &snapshot, a.pg_bin.as_deref(), &Bars::new(), g.lock_wait());
    let name = snapshot.manifest.tag.as_str();
    let event = match &outcome {
        Ok(_) => Event::new(
            EventKind::VerifySucceeded,
            Some(name),
            true,
            format!("snapshot {} of {name} is intact", &snapshot.id[..8]),
        ),
        Err(e) => Event::new(EventKind::VerifyFailed, Some(name), false, e.to_string()),
    };
    runtime()?.block_on(announce(event.with_snapshot(&snapshot)));
    let report = outcome?;
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
    /// The database to restore into: postgres://user@host:port/database.
    #[arg(long)]
    to: String,
    /// Replace a non-empty database (it is kept, renamed) or restore onto an older server.
    #[arg(long)]
    force: bool,
    /// Parallel pg_restore jobs (the archive is first written, verified, to a temporary file).
    #[arg(long, default_value_t = 1)]
    jobs: u32,
    /// Make this role own everything restored, the database too (pg_restore
    /// --no-owner --role); by default the backup's owners are kept.
    #[arg(long, value_name = "ROLE")]
    owner: Option<String>,
    #[arg(long, env = "LIFEBOAT_PG_BIN")]
    pg_bin: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn print_restore(report: &RestoreReport, json: bool) -> Result<()> {
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if json {
        return print_json(report);
    }
    println!(
        "restored snapshot {} into {} ({} in {:.1}s)",
        &report.snapshot_id[..8],
        report.target,
        human_bytes(report.bytes),
        report.seconds
    );
    if !report.roles_created.is_empty() {
        println!("roles created: {}", report.roles_created.join(", "));
    }
    for table in &report.tables {
        println!("  {:<40} {:>12} rows (backup: {})", table.table, table.restored, table.expected);
    }
    Ok(())
}

pub fn restore(g: &GlobalArgs, a: &RestoreArgs) -> Result<ExitCode> {
    let target = url_spec(&a.to)?;
    let repo = Arc::new(open_repo(g)?);
    let snapshot = manifest::resolve(&repo, &a.snapshot)?;
    let options = RestoreOptions {
        force: a.force,
        jobs: a.jobs,
        pg_bin: a.pg_bin.clone(),
        lock_wait: g.lock_wait(),
        now: Utc::now(),
        owner: a.owner.clone(),
    };
    let runtime = runtime()?;
    let rolled_back = if a.snapshot.starts_with("latest:") {
        runtime.block_on(remember_newest(&repo, &snapshot))
    } else {
        None
    };
    let mut report = runtime.block_on(restore_announced(repo, snapshot, &target, &options, false))?;
    report.warnings.extend(rolled_back);
    print_restore(&report, a.json)?;
    Ok(ExitCode::SUCCESS)
}

/// Restores and records the event: restore_succeeded / restore_failed, or
/// auto_restore, each a high-priority notification naming the snapshot.
async fn restore_announced(
    repo: Arc<Repository>,
    snapshot: Snapshot,
    target: &ConnectionSpec,
    options: &RestoreOptions,
    automatic: bool,
) -> lifeboat_core::Result<RestoreReport> {
    let name = snapshot.manifest.tag.clone();
    let outcome = restore::restore(repo, snapshot.clone(), target, options, Arc::new(Bars::new())).await;
    let event = match &outcome {
        Ok(r) => {
            let kind = if automatic {
                EventKind::AutoRestore
            } else {
                EventKind::RestoreSucceeded
            };
            let message = format!("restored {name} into {} ({} tables)", r.target, r.tables.len());
            Event::new(kind, Some(&name), true, message).with_detail(r)
        }
        // A refusal changed nothing and was said on the terminal; a cancel was asked for.
        Err(lifeboat_core::Error::RestoreRefused(_) | lifeboat_core::Error::Cancelled) => return outcome,
        Err(e) => Event::new(
            EventKind::RestoreFailed,
            Some(&name),
            false,
            format!("restore into {}: {e}", target.display_url()),
        ),
    };
    announce(event.with_snapshot(&snapshot)).await;
    outcome
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
    let repo = Arc::new(open_repo(g)?);
    let snapshot = manifest::resolve(&repo, &format!("latest:{name}"))?;
    eprintln!(
        "{} is {}: restoring snapshot {} of {name} taken {}",
        target.display_url(),
        if exists { "empty" } else { "absent" },
        &snapshot.id[..8],
        snapshot.manifest.start.format("%Y-%m-%d %H:%M UTC")
    );
    let options = RestoreOptions {
        force: false,
        jobs: 1,
        pg_bin: a.pg_bin.clone(),
        lock_wait: g.lock_wait(),
        now: Utc::now(),
        owner: None,
    };
    let rolled_back = runtime.block_on(remember_newest(&repo, &snapshot));
    let mut report = runtime.block_on(restore_announced(repo, snapshot, &target, &options, true))?;
    report.warnings.extend(rolled_back);
    print_restore(&report, a.json)?;
    Ok(ExitCode::SUCCESS)
}
