//! `lifeboat`: the headless command line. It parses flags into the engine's
//! option structs, calls `lifeboat-core`, and prints the result (text, or
//! JSON with `--json`). No repository logic lives here.

mod commands;
mod connection;
mod context;
mod copy;
mod credentials;
mod daemon;
mod database;
mod drill;
mod events;
mod notify;
mod os_schedule;
mod pitr;
mod progress;
mod report;
mod schedule;
mod token;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "lifeboat",
    version,
    about = "Encrypted, deduplicated, verified backups of PostgreSQL databases"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Args)]
pub struct GlobalArgs {
    /// The repository: a local folder or a mounted NAS share (a path or a
    /// file:/// URL), or an S3-compatible bucket: s3://BUCKET[/PREFIX], with
    /// the AWS_* settings from the environment or the AWS profile files.
    #[arg(long, global = true, env = "LIFEBOAT_REPO", value_name = "LOCATION")]
    pub repo: Option<String>,
    /// Address S3 buckets as https://endpoint/bucket (path style), for
    /// servers that need it (MinIO, Ceph and others behind one host name).
    #[arg(long, global = true, env = "LIFEBOAT_S3_PATH_STYLE", value_parser = clap::builder::FalseyValueParser::new())]
    pub s3_path_style: bool,
    /// Read the passphrase from this file (LIFEBOAT_PASSWORD takes precedence).
    #[arg(long, global = true, env = "LIFEBOAT_PASSWORD_FILE", value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Open the repository with this recovery kit instead of a passphrase.
    #[arg(long, global = true, env = "LIFEBOAT_RECOVERY_KIT_FILE", value_name = "FILE")]
    pub recovery_kit: Option<PathBuf>,
    /// Neither read nor store the key in the OS keychain.
    #[arg(long, global = true, env = "LIFEBOAT_NO_KEYCHAIN", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_keychain: bool,
    /// Reading jobs (cat, check, verify, restore) take no lock: for read-only
    /// access. A prune running meanwhile could make them fail (never return
    /// wrong bytes). Detected by itself when the repository is not writable.
    #[arg(long, global = true)]
    pub no_lock: bool,
    /// Seconds to wait for another job's lock before giving up.
    #[arg(long, global = true, default_value_t = 60, value_name = "SECONDS")]
    pub lock_wait: u64,
    /// Log what happens (to stderr).
    #[arg(long, short, global = true)]
    pub verbose: bool,
}

impl GlobalArgs {
    pub fn lock_wait(&self) -> Duration {
        Duration::from_secs(self.lock_wait)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create a new repository.
    Init(commands::InitArgs),
    /// Store standard input as a new snapshot; prints its id.
    Put(commands::PutArgs),
    /// Write a snapshot's stream to standard output, verified.
    Cat(commands::CatArgs),
    /// Save a snapshot's stream as a file (a backup: the archive pg_restore reads), verified.
    Export(commands::ExportArgs),
    /// Store an existing `pg_dump -Fc` file as a snapshot, with the facts a backup records.
    Import(commands::ImportArgs),
    /// Write the drills and restores of a period as an HTML or PDF report (for auditors).
    Report(report::ReportArgs),
    /// List snapshots.
    Snapshots(commands::SnapshotsArgs),
    /// Check the repository's structure, and with --read-data every byte.
    Check(commands::CheckArgs),
    /// Remove snapshots a retention policy does not keep.
    Forget(commands::ForgetArgs),
    /// Copy snapshots to a second repository (only what it lacks travels).
    Copy(copy::CopyArgs),
    /// Free the space of data no snapshot needs.
    Prune(commands::PruneArgs),
    /// Manage key slots and recovery kits.
    #[command(subcommand)]
    Key(commands::KeyCommand),
    /// Remove stale locks left by jobs that died.
    Unlock(commands::UnlockArgs),
    /// Rebuild what a damaged repository can rebuild: the index, the config.
    #[command(subcommand)]
    Repair(commands::RepairCommand),
    /// Move the repository to this Lifeboat's format (format 3 stores changed
    /// chunks as deltas of their earlier versions, found by resemblance;
    /// format 4 may hold archived WAL for point-in-time recovery); older
    /// Lifeboat builds can no longer open it after.
    Migrate(commands::MigrateArgs),
    /// Save, list, test and remove connections to PostgreSQL databases.
    #[command(subcommand)]
    Connection(connection::ConnectionCommand),
    /// Back up a PostgreSQL database (pg_dump streamed into the repository); prints the snapshot id.
    Backup(database::BackupArgs),
    /// Print a snapshot's manifest (JSON): source, versions, options, row counts.
    Show(database::ShowArgs),
    /// Verify a PostgreSQL snapshot: every blob, its SHA-256 and size, and pg_restore --list.
    Verify(database::VerifyArgs),
    /// Restore a PostgreSQL snapshot into a database (new, empty, or with --force).
    Restore(database::RestoreArgs),
    /// Restore the latest snapshot into an empty or absent database; acts only with
    /// LIFEBOAT_RESTORE_DATABASE_IF_EMPTY=true (for start-up scripts).
    AutoRestore(database::AutoRestoreArgs),
    /// Keep a snapshot forever: no retention policy removes it (--off returns it to retention).
    Keep(database::KeepArgs),
    /// Point-in-time recovery: a base backup of a whole cluster (pg_basebackup) into the repository.
    BaseBackup(pitr::BaseBackupArgs),
    /// Archive one WAL file (for the server's archive_command = 'lifeboat wal-push %p --name NAME').
    WalPush(pitr::WalPushArgs),
    /// Fetch one archived WAL file, verified (for restore_command); exit 1 when it is not archived.
    WalFetch(pitr::WalFetchArgs),
    /// Stream WAL into the repository over a replication slot (instead of archive_command).
    #[command(subcommand)]
    Wal(pitr::WalCommand),
    /// Recover a cluster to a moment, a restore point, a WAL position or the latest WAL, into a new data directory.
    Recover(pitr::RecoverArgs),
    /// Create a named restore point on a server and wait until it is archived.
    RestorePoint(pitr::RestorePointArgs),
    /// Point-in-time recovery's archives: the recoverable window (exit 3 when the WAL has a gap).
    #[command(subcommand)]
    Pitr(pitr::PitrCommand),
    /// Restore a snapshot into a scratch database (on a server, or --local on this workstation), run smoke checks, drop
    /// it (exit 3 when a check fails).
    Drill(drill::DrillArgs),
    /// Rehearse an upgrade: restore a snapshot onto a scratch cluster of a newer major here, run the drill checks and
    /// probes, and say what to fix (exit 3 when a check fails).
    Rehearse(drill::RehearseArgs),
    /// The PostgreSQL servers local drills and rehearsals run on: list, install or remove them.
    #[command(subcommand)]
    PgBinaries(drill::PgBinariesCommand),
    /// Set, show and run what happens by itself: scheduled backups, retention, drills.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// Run the scheduler in the foreground (headless servers), and with
    /// --listen the checkpoint trigger API; SIGTERM stops it cleanly.
    Daemon(daemon::DaemonArgs),
    /// What happened: backups, drills, restores, staleness alarms.
    Events(events::EventsArgs),
    /// Alerts beside the desktop: e-mail and chat channels, and what each receives.
    #[command(subcommand)]
    Notify(notify::NotifyCommand),
    /// Tokens that let a person or a pipeline trigger checkpoints through the
    /// API (`daemon --listen`); they never restore or delete.
    #[command(subcommand)]
    Token(token::TokenCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.global.s3_path_style {
        // The engine reads it where it opens a location (here and in the
        // scheduler's off-site copies); set before any thread starts.
        std::env::set_var("LIFEBOAT_S3_PATH_STYLE", "true");
    }
    let filter = if cli.global.verbose {
        "lifeboat=debug,lifeboat_core=debug"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("LIFEBOAT_LOG").unwrap_or_else(|_| filter.into()))
        .init();
    let g = &cli.global;
    let result = match &cli.command {
        Command::Init(a) => commands::init(g, a),
        Command::Put(a) => commands::put(g, a),
        Command::Cat(a) => commands::cat(g, a),
        Command::Export(a) => commands::export(g, a),
        Command::Import(a) => commands::import(g, a),
        Command::Report(a) => report::report(g, a),
        Command::Snapshots(a) => commands::snapshots(g, a),
        Command::Check(a) => commands::check(g, a),
        Command::Forget(a) => commands::forget(g, a),
        Command::Prune(a) => commands::prune(g, a),
        Command::Copy(a) => copy::copy(g, a),
        Command::Key(a) => commands::key(g, a),
        Command::Unlock(a) => commands::unlock(g, a),
        Command::Repair(a) => commands::repair(g, a),
        Command::Migrate(a) => commands::migrate(g, a),
        Command::Connection(a) => connection::connection(g, a),
        Command::Backup(a) => database::backup(g, a),
        Command::Show(a) => database::show(g, a),
        Command::Verify(a) => database::verify(g, a),
        Command::Restore(a) => database::restore(g, a),
        Command::AutoRestore(a) => database::auto_restore(g, a),
        Command::Keep(a) => database::keep(g, a),
        Command::BaseBackup(a) => pitr::base_backup(g, a),
        Command::WalPush(a) => pitr::wal_push(g, a),
        Command::WalFetch(a) => pitr::wal_fetch(g, a),
        Command::Wal(a) => pitr::wal(g, a),
        Command::Recover(a) => pitr::recover(g, a),
        Command::RestorePoint(a) => pitr::restore_point(g, a),
        Command::Pitr(a) => pitr::pitr(g, a),
        Command::Drill(a) => drill::drill(g, a),
        Command::Rehearse(a) => drill::rehearse(g, a),
        Command::PgBinaries(a) => drill::pg_binaries(a),
        Command::Schedule(a) => schedule::schedule(g, a),
        Command::Daemon(a) => daemon::daemon(g, a),
        Command::Events(a) => events::events(a),
        Command::Notify(a) => notify::notify(g, a),
        Command::Token(a) => token::token(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A script that asked for JSON gets JSON on stdout either way.
            if std::env::args_os().skip(1).any(|a| a == "--json") {
                println!("{}", serde_json::json!({ "error": format!("{e:#}") }));
            }
            ExitCode::FAILURE
        }
    }
}
