//! Point-in-time recovery: `base-backup`, `wal-push`, `wal-fetch`,
//! `wal stream`, `recover`, `restore-point` and `pitr show`. Flags into the engine's
//! `jobs::pitr` options; the reports printed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Local, NaiveDateTime, TimeZone, Utc};
use clap::{ArgGroup, Args, Subcommand};
use lifeboat_core::backend::Location;
use lifeboat_core::jobs::pitr::base_backup::BaseBackupOptions;
use lifeboat_core::jobs::pitr::onto_server::RecoverOntoOptions;
use lifeboat_core::jobs::pitr::recover::{RecoverOptions, RecoveryTarget};
use lifeboat_core::jobs::pitr::stream::{self, StreamOptions};
use lifeboat_core::jobs::pitr::{archive, restore_point, window};
use lifeboat_core::jobs::restore::{RestoreJobs, RestoreOptions, Shape};
use lifeboat_core::paths::Paths;
use lifeboat_core::pg::wal::Lsn;
use lifeboat_core::pg::ConnectionSpec;

use crate::commands::{human_bytes, print_json};
use crate::connection::{with_env_password, DatabaseArgs};
use crate::context::{claim, runner, runtime};
use crate::credentials::open_repo;
use crate::database::print_server_restore;
use crate::progress::Bars;
use crate::GlobalArgs;

#[derive(Args)]
pub struct BaseBackupArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The archive's name, shared with `wal-push --name` (default: the
    /// connection's name); its base backups are snapshots NAME.base.
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn base_backup(g: &GlobalArgs, a: &BaseBackupArgs) -> Result<ExitCode> {
    let database = a.database.resolve(g)?;
    let Some(name) = a.name.clone().or_else(|| database.connection.clone()) else {
        bail!("name the archive with --name (the name `wal-push --name` uses on the server)");
    };
    let options = BaseBackupOptions {
        name: name.clone(),
        connection: database.connection,
        pg_bin: database.pg_bin,
        ..Default::default()
    };
    let _claim = claim(&format!("{name}.base"))?;
    let report =
        runtime()?.block_on(async { anyhow::Ok(runner(g).await?.base_backup(&database.spec, options, Arc::new(Bars::new())).await?) })?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if a.json {
        print_json(&report)?;
    } else {
        println!("{}", report.snapshot_id);
        eprintln!(
            "base backup of `{}` (PostgreSQL {}) in {:.1}s: {}, {} files, WAL {} to {}, {} added to the repository",
            report.name,
            report.server_version,
            report.seconds,
            human_bytes(report.size),
            report.files,
            report.start_lsn.map_or("?".into(), |l| l.to_string()),
            report.stop_lsn.map_or("?".into(), |l| l.to_string()),
            human_bytes(report.added_bytes)
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct WalPushArgs {
    /// The WAL file to archive: the server's %p.
    path: PathBuf,
    /// The archive's name.
    #[arg(long)]
    name: String,
    #[arg(long)]
    json: bool,
}

/// For `archive_command`: silent on success, so the server's log stays quiet.
pub fn wal_push(g: &GlobalArgs, a: &WalPushArgs) -> Result<ExitCode> {
    let repo = open_repo(g)?;
    let report = archive::push_file(&repo, &a.name, &a.path, g.lock_wait(), &lifeboat_core::progress::NoProgress)?;
    if a.json {
        print_json(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct WalFetchArgs {
    /// The file to fetch: the server's %f.
    file: String,
    /// Where to write it: the server's %p.
    dest: PathBuf,
    /// The archive's name.
    #[arg(long)]
    name: String,
    #[arg(long)]
    json: bool,
}

/// For `restore_command`: exits 1 when the file is not archived.
pub fn wal_fetch(g: &GlobalArgs, a: &WalFetchArgs) -> Result<ExitCode> {
    let repo = open_repo(g)?;
    let report = archive::fetch_file(
        &repo,
        &a.name,
        &a.file,
        &a.dest,
        g.lock_wait(),
        &lifeboat_core::progress::NoProgress,
    )?;
    if a.json {
        print_json(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
#[command(group(ArgGroup::new("target").required(true).args(["time", "restore_point", "lsn", "latest"])))]
pub struct RecoverArgs {
    /// The archive's name.
    #[arg(long)]
    name: String,
    /// Recover to this moment: 2026-12-02T14:30:00Z, or "2026-12-02 15:30:00+01"
    /// (without an offset, this workstation's time zone).
    #[arg(long)]
    time: Option<String>,
    /// Recover to a restore point made with `lifeboat restore-point`.
    #[arg(long)]
    restore_point: Option<String>,
    /// Recover to this WAL position (0/3000060).
    #[arg(long)]
    lsn: Option<String>,
    /// Recover everything archived.
    #[arg(long)]
    latest: bool,
    /// The new data directory (absent or empty).
    #[arg(long, required_unless_present = "onto", conflicts_with = "onto")]
    datadir: Option<PathBuf>,
    /// Instead of a data directory: recover on a scratch cluster of this
    /// workstation and restore its databases onto this server
    /// (postgres://USER@HOST:PORT, password from PGPASSWORD), through a
    /// server checkpoint NAME.pitr kept in the repository.
    #[arg(long, value_name = "URL", conflicts_with_all = ["start", "port"])]
    onto: Option<String>,
    /// With --onto: only this database (repeatable; default: all of them).
    #[arg(long, requires = "onto")]
    database: Vec<String>,
    /// With --onto: restore over databases that hold data (each kept
    /// under another name, as `restore --force` does).
    #[arg(long, requires = "onto")]
    force: bool,
    /// The folder of the PostgreSQL server binaries (postgres, pg_ctl) of the
    /// base backup's major, instead of searching.
    #[arg(long, env = "LIFEBOAT_PG_BIN")]
    pg_bin: Option<PathBuf>,
    /// Recover this base backup instead of the newest that fits the target.
    #[arg(long, value_name = "SNAPSHOT")]
    base: Option<String>,
    /// Start the recovered server on --port (localhost) and wait until it
    /// has recovered and promoted itself.
    #[arg(long, requires = "port")]
    start: bool,
    #[arg(long, requires = "start")]
    port: Option<u16>,
    #[arg(long)]
    json: bool,
}

/// A time as an admin types it: RFC 3339, or PostgreSQL's own form, the
/// workstation's zone when none is given.
fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(time) = DateTime::parse_from_str(text, format) {
            return Ok(time.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            if let Some(time) = Local.from_local_datetime(&naive).single() {
                return Ok(time.with_timezone(&Utc));
            }
            bail!("{text} is ambiguous or does not exist in this time zone (a clock change): give its offset, as in {text}+01");
        }
    }
    bail!("`{text}` is not a time: write 2026-12-02T14:30:00Z, or 2026-12-02 15:30:00+01")
}

/// The repository as the recovering server's `restore_command` must name it.
fn location_for_server(g: &GlobalArgs) -> Result<String> {
    let text = g.repo.as_deref().context("say which repository: --repo or LIFEBOAT_REPO")?;
    Ok(Location::absolute_text(text)?)
}

pub fn recover(g: &GlobalArgs, a: &RecoverArgs) -> Result<ExitCode> {
    let target = recovery_target(a)?;
    match &a.datadir {
        Some(datadir) => recover_into(g, a, datadir, target),
        None => recover_onto(g, a, target),
    }
}

fn recovery_target(a: &RecoverArgs) -> Result<RecoveryTarget> {
    Ok(if let Some(time) = &a.time {
        RecoveryTarget::Time(parse_time(time)?)
    } else if let Some(point) = &a.restore_point {
        RecoveryTarget::RestorePoint(point.clone())
    } else if let Some(lsn) = &a.lsn {
        RecoveryTarget::Lsn(Lsn::parse(lsn)?)
    } else {
        RecoveryTarget::Latest
    })
}

/// `recover --onto`: the recovered databases restored onto a server.
fn recover_onto(g: &GlobalArgs, a: &RecoverArgs, target: RecoveryTarget) -> Result<ExitCode> {
    let onto = with_env_password(ConnectionSpec::parse_server_url(a.onto.as_deref().unwrap_or_default())?);
    let options = RecoverOntoOptions {
        name: a.name.clone(),
        target,
        base: a.base.clone(),
        pg_bin: a.pg_bin.clone(),
        scratch_root: Paths::from_env()?.scratch_clusters_dir(),
        databases: a.database.clone(),
        restore: RestoreOptions {
            force: a.force,
            jobs: RestoreJobs::Auto,
            pg_bin: None,
            lock_wait: g.lock_wait(),
            now: Utc::now(),
            shape: Shape::default(),
        },
        lock_wait: g.lock_wait(),
        now: Utc::now(),
    };
    let report = runtime()?.block_on(async { anyhow::Ok(runner(g).await?.recover_onto(onto, options, Arc::new(Bars::new())).await?) })?;
    if a.json {
        print_json(&report)?;
        return Ok(if report.restore.failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    } else {
        for warning in &report.warnings {
            eprintln!("warning: {warning}");
        }
        eprintln!(
            "recovered `{}` to {} from base backup {} (PostgreSQL {}) in {:.1}s; kept as checkpoint {}",
            report.name,
            report.target,
            &report.base_backup[..8],
            report.server_version,
            report.recovery_seconds,
            &report.snapshot_id[..8]
        );
    }
    print_server_restore(&report.restore, false)
}

/// `recover --datadir`: the recovered cluster left in a data directory.
fn recover_into(g: &GlobalArgs, a: &RecoverArgs, datadir: &std::path::Path, target: RecoveryTarget) -> Result<ExitCode> {
    let options = RecoverOptions {
        name: a.name.clone(),
        target,
        datadir: std::path::absolute(datadir)?,
        pg_bin: a.pg_bin.clone(),
        base: a.base.clone(),
        start_port: a.port.filter(|_| a.start),
        lifeboat: Some(std::env::current_exe().context("finding this lifeboat binary for restore_command")?),
        repository: location_for_server(g)?,
        scratch: false,
        lock_wait: g.lock_wait(),
    };
    let report = runtime()?.block_on(async { anyhow::Ok(runner(g).await?.recover(options, Arc::new(Bars::new())).await?) })?;
    if a.json {
        print_json(&report)?;
    } else {
        println!("{}", report.datadir.display());
        eprintln!(
            "recovered `{}` to {} from base backup {} (PostgreSQL {}) in {:.1}s{}",
            report.name,
            report.target,
            &report.base_backup[..8],
            report.server_version,
            report.seconds,
            if report.manifest_verified {
                "; pg_verifybackup: the files match the server's manifest"
            } else {
                ""
            }
        );
        for step in &report.next_steps {
            eprintln!("next: {step}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct RestorePointArgs {
    /// The archive's name.
    name: String,
    #[command(flatten)]
    database: DatabaseArgs,
    /// The restore point's name (what `recover --restore-point` takes).
    label: String,
    /// Seconds to wait for the point's WAL to reach the repository.
    #[arg(long, default_value_t = 120)]
    wait: u64,
    #[arg(long)]
    json: bool,
}

pub fn restore_point(g: &GlobalArgs, a: &RestorePointArgs) -> Result<ExitCode> {
    let database = a.database.resolve(g)?;
    let repo = Arc::new(open_repo(g)?);
    let report = runtime()?.block_on(restore_point::create(
        repo,
        &database.spec,
        &a.name,
        &a.label,
        Duration::from_secs(a.wait),
    ))?;
    if a.json {
        print_json(&report)?;
    } else {
        println!("{}", report.lsn);
        eprintln!(
            "restore point `{}` of `{}` at {}, archived ({}): recover to it with `lifeboat recover --name {} --restore-point {}`",
            report.label, report.name, report.lsn, report.segment, report.name, report.label
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum PitrCommand {
    /// The recoverable window of an archive: its base backups, how far its
    /// WAL runs after each, and any gap.
    Show(PitrShowArgs),
}

#[derive(Args)]
pub struct PitrShowArgs {
    /// The archive's name.
    name: String,
    #[arg(long)]
    json: bool,
}

pub fn pitr(g: &GlobalArgs, command: &PitrCommand) -> Result<ExitCode> {
    let PitrCommand::Show(a) = command;
    let repo = open_repo(g)?;
    let status = window::status(&repo, &a.name)?;
    if a.json {
        print_json(&status)?;
    } else {
        let time = |t: DateTime<Utc>| t.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S %Z").to_string();
        println!(
            "`{}`: {} base backup(s), {} WAL file(s) archived",
            status.name,
            status.base_backups.len(),
            status.wal_files
        );
        if let (Some(file), Some(at)) = (&status.newest_wal, status.newest_wal_archived) {
            println!("newest WAL: {file}, archived {}", time(at));
        }
        for window in &status.windows {
            println!(
                "recoverable from {} to about {} (base backup {}, WAL to {})",
                time(window.from_time),
                time(window.to_time),
                &window.base_backup[..8],
                window.to_lsn.map_or("?".into(), |l| l.to_string())
            );
        }
        for gap in &status.gaps {
            println!(
                "GAP: WAL {} to {} is missing after {}: recovery cannot go past {}",
                gap.missing_from, gap.missing_to, gap.after, gap.after
            );
        }
        if status.base_backups.is_empty() {
            println!("no base backup yet: take one with `lifeboat base-backup --name {}`", status.name);
        }
    }
    Ok(if status.gaps.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

#[derive(Subcommand)]
pub enum WalCommand {
    /// Stream a cluster's WAL into the repository over a replication slot
    /// (pg_receivewal), until SIGTERM or Ctrl-C: instead of archive_command.
    Stream(WalStreamArgs),
}

#[derive(Args)]
pub struct WalStreamArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The replication slot (made when missing; default lifeboat_NAME).
    #[arg(long)]
    slot: Option<String>,
    /// The archive's name (default: the connection's name).
    #[arg(long)]
    name: Option<String>,
    /// Raise the alarm when the slot holds back more than this many MiB of
    /// WAL on the server (a stream that lags fills the server's disk).
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    alarm_retained_mib: u64,
}

pub fn wal(g: &GlobalArgs, command: &WalCommand) -> Result<ExitCode> {
    let WalCommand::Stream(a) = command;
    let database = a.database.resolve(g)?;
    let Some(name) = a.name.clone().or_else(|| database.connection.clone()) else {
        bail!("name the archive with --name (the name `base-backup --name` and `recover --name` use)");
    };
    let options = StreamOptions {
        slot: a.slot.clone().unwrap_or_else(|| stream::default_slot(&name)),
        spool: Paths::from_env()?.wal_spool_dir().join(&name),
        name: name.clone(),
        pg_bin: database.pg_bin,
        retained_alarm: a.alarm_retained_mib.saturating_mul(1 << 20),
        lock_wait: g.lock_wait(),
    };
    let _claim = claim(&format!("{name}.wal"))?;
    let report = runtime()?.block_on(async {
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = stopping.clone();
        tokio::spawn(async move {
            let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            flag.store(true, Ordering::Relaxed);
            anyhow::Ok(())
        });
        eprintln!(
            "lifeboat wal stream: `{name}` over slot {}; stop with SIGTERM or Ctrl-C",
            options.slot
        );
        let stop = move || stopping.load(Ordering::Relaxed);
        anyhow::Ok(runner(g).await?.stream_wal(&database.spec, options, &stop).await?)
    })?;
    eprintln!("lifeboat wal stream: stopped; {} WAL file(s) stored", report.archived);
    Ok(ExitCode::SUCCESS)
}
