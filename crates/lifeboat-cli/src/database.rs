//! Subcommands over PostgreSQL databases: thin callers of `lifeboat_core::jobs`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::Args;
use lifeboat_core::jobs::backup::{self, BackupOptions};
use lifeboat_core::pg::ConnectionSpec;
use lifeboat_core::repo::manifest::SnapshotKind;

use crate::commands::{human_bytes, print_json};
use crate::credentials::open_repo;
use crate::progress::Bars;
use crate::GlobalArgs;

/// Where the database is.
#[derive(Args)]
pub struct DatabaseArgs {
    /// postgres://user@host:port/database[?sslmode=...]. Keep passwords out
    /// of it: use PGPASSWORD or ~/.pgpass, which pg_dump reads too.
    #[arg(long, env = "LIFEBOAT_DB")]
    db: String,
    /// PostgreSQL client tools folder (pg_dump...), instead of searching.
    #[arg(long, env = "LIFEBOAT_PG_BIN")]
    pg_bin: Option<PathBuf>,
}

impl DatabaseArgs {
    fn spec(&self) -> Result<ConnectionSpec> {
        let mut spec = ConnectionSpec::parse_url(&self.db)?;
        if spec.password.is_none() {
            if let Ok(password) = std::env::var("PGPASSWORD") {
                spec.password = Some(password.into());
            }
        }
        Ok(spec)
    }
}

#[derive(Args)]
pub struct BackupArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Name the snapshots are stored under (default: the database's name);
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

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

pub fn backup(g: &GlobalArgs, a: &BackupArgs) -> Result<ExitCode> {
    let spec = a.database.spec()?;
    let repo = Arc::new(open_repo(g)?);
    let name = a.name.clone().unwrap_or_else(|| spec.database.clone());
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
        connection: None,
        pg_bin: a.database.pg_bin.clone(),
        role_passwords: a.role_passwords,
        lock_wait: g.lock_wait(),
    };
    let report = runtime()?.block_on(backup::backup(repo, &spec, &options, Arc::new(Bars::new())))?;
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
