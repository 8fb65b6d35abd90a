//! `lifeboat drill`: a snapshot restored into a scratch database and
//! checked; `lifeboat rehearse`: its restore onto a newer major, on this
//! workstation; `lifeboat pg-binaries`: the servers those run on.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use lifeboat_core::jobs::drill::{self, DrillReport};
use lifeboat_core::jobs::pitr::is_base_backup;
use lifeboat_core::pg::binaries;
use lifeboat_core::repo::manifest;

use crate::commands::print_json;
use crate::context::{claim, runner, runtime};
use crate::progress::Bars;
use crate::GlobalArgs;

#[derive(Args)]
pub struct DrillArgs {
    /// Snapshot id, unique id prefix, or latest:NAME.
    snapshot: String,
    /// Where to restore the scratch database: a saved connection's name or
    /// postgres://user@host:port/. Not for a base backup, which is drilled
    /// on a scratch cluster of this workstation.
    #[arg(long, conflicts_with = "local")]
    server: Option<String>,
    /// Drill on a scratch cluster this workstation starts and removes
    /// (no server needed): of the backup's major, or --major.
    #[arg(long)]
    local: bool,
    /// With --local: the scratch cluster's major (`lifeboat pg-binaries`
    /// lists those installed).
    #[arg(long, requires = "local")]
    major: Option<u32>,
    /// A base backup's drill: the database its probes run in.
    #[arg(long, default_value = "postgres", conflicts_with_all = ["server", "local"])]
    database: String,
    /// A base backup's drill: the folder of the PostgreSQL server binaries
    /// of its major, instead of searching.
    #[arg(long, env = "LIFEBOAT_PG_BIN", conflicts_with_all = ["server", "local"])]
    pg_bin: Option<PathBuf>,
    /// SQL probes: a JSON list of {"name", "sql", "expect"}, as in
    /// [{"name": "users exist", "sql": "select count(*) from users", "expect": ">= 1"}].
    #[arg(long, value_name = "FILE")]
    probe_file: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn print_drill(report: &DrillReport) {
    let what = if report.local.as_ref().is_some_and(|l| l.rehearsal) {
        "upgrade rehearsal"
    } else {
        "drill"
    };
    println!(
        "{what} of {} ({}) on {}: {}",
        report.name,
        &report.snapshot_id[..8],
        report.server,
        if report.passed { "PASSED" } else { "FAILED" }
    );
    for check in &report.checks {
        println!(
            "  {} {:<24} {}",
            if check.passed { "ok  " } else { "FAIL" },
            check.name,
            check.detail
        );
        if let Some(advice) = &check.advice {
            println!("       what to do: {advice}");
        }
    }
    if let Some(local) = &report.local {
        if !local.extensions.is_empty() {
            println!("  extensions (backup -> PostgreSQL {}):", local.major);
            for e in &local.extensions {
                let there = e.available.as_deref().unwrap_or("MISSING");
                println!("    {:<24} {} -> {there}", e.name, e.backup_version);
            }
        }
        if report.restore_seconds > 0.0 {
            println!(
                "  the restore took {:.1}s here (fsync off: allow longer on a real server), {:.1}s in all",
                report.restore_seconds, report.seconds
            );
        }
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if !report.leftovers_dropped.is_empty() {
        eprintln!(
            "dropped scratch databases of earlier drills: {}",
            report.leftovers_dropped.join(", ")
        );
    }
}

pub fn drill(g: &GlobalArgs, a: &DrillArgs) -> Result<ExitCode> {
    let probes = a.probe_file.as_deref().map(drill::read_probes).transpose()?.unwrap_or_default();
    runtime()?.block_on(async {
        let runner = runner(g).await?;
        let snapshot = manifest::resolve(&runner.repo, &a.snapshot)?;
        let _claim = claim(&snapshot.manifest.tag)?;
        let progress = Arc::new(Bars::new());
        let report = match (&a.server, is_base_backup(&snapshot)) {
            (None, false) if a.local => runner.drill_locally(&a.snapshot, a.major, false, probes, progress).await?,
            (Some(server), false) => runner.drill(&a.snapshot, server, probes, progress).await?,
            (None, true) if a.major.is_some() => bail!(
                "{} is a base backup: only its own major can recover it, so leave out --major",
                &snapshot.id[..8]
            ),
            (None, true) => {
                runner
                    .drill_base_backup(&a.snapshot, &a.database, probes, a.pg_bin.clone(), progress)
                    .await?
            }
            (None, false) => bail!(
                "say where to restore the scratch database: --server (a saved connection or a postgres:// URL), or --local \
                 (a scratch cluster this workstation starts)"
            ),
            (Some(_), true) => bail!(
                "{} is a base backup: it is drilled on a scratch cluster of this workstation, so leave out --server",
                &snapshot.id[..8]
            ),
        };
        if a.json {
            print_json(&report)?;
        } else {
            print_drill(&report);
        }
        Ok(if report.passed { ExitCode::SUCCESS } else { ExitCode::from(3) })
    })
}

#[derive(Args)]
pub struct RehearseArgs {
    /// Snapshot id, unique id prefix, or latest:NAME (a Checkpoint taken before the upgrade).
    snapshot: String,
    /// The major the server is to be upgraded to.
    #[arg(long)]
    major: u32,
    /// SQL probes: a JSON list of {"name", "sql", "expect"} (see `drill`).
    #[arg(long, value_name = "FILE")]
    probe_file: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn rehearse(g: &GlobalArgs, a: &RehearseArgs) -> Result<ExitCode> {
    let probes = a.probe_file.as_deref().map(drill::read_probes).transpose()?.unwrap_or_default();
    runtime()?.block_on(async {
        let runner = runner(g).await?;
        let snapshot = manifest::resolve(&runner.repo, &a.snapshot)?;
        if is_base_backup(&snapshot) {
            bail!(
                "{} is a base backup: a physical copy only runs on its own major; rehearse a dump (a Checkpoint) of the database",
                &snapshot.id[..8]
            );
        }
        let _claim = claim(&snapshot.manifest.tag)?;
        let progress = Arc::new(Bars::new());
        let report = runner.drill_locally(&a.snapshot, Some(a.major), true, probes, progress).await?;
        if a.json {
            print_json(&report)?;
        } else {
            print_drill(&report);
        }
        Ok(if report.passed { ExitCode::SUCCESS } else { ExitCode::from(3) })
    })
}

#[derive(Subcommand)]
pub enum PgBinariesCommand {
    /// The PostgreSQL servers this workstation has, and which Lifeboat installed.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Download a PostgreSQL server of MAJOR (checked by SHA-256) for local drills and rehearsals.
    Install {
        major: u32,
        #[arg(long)]
        json: bool,
    },
    /// Remove the PostgreSQL server of MAJOR that Lifeboat installed.
    Remove { major: u32 },
}

pub fn pg_binaries(command: &PgBinariesCommand) -> Result<ExitCode> {
    match command {
        PgBinariesCommand::List { json } => {
            let installs = binaries::list();
            if *json {
                print_json(&installs)?;
            } else if installs.is_empty() {
                println!("no PostgreSQL server found: `lifeboat pg-binaries install MAJOR` installs one");
            } else {
                for install in &installs {
                    let from = match &install.source {
                        Some(source) => format!("installed by Lifeboat from {}", source.url),
                        None => "installed on this system".into(),
                    };
                    println!(
                        "{:>3}  {:<8} {}  ({from})",
                        install.major,
                        install.version,
                        install.bin_dir.display()
                    );
                }
            }
        }
        PgBinariesCommand::Install { major, json } => {
            eprintln!("downloading PostgreSQL {major} from {}", binaries::index_url());
            let install = runtime()?.block_on(binaries::install(*major))?;
            if *json {
                print_json(&install)?;
            } else {
                println!(
                    "installed PostgreSQL {} in {} (SHA-256 {} checked against the index)",
                    install.version,
                    install.bin_dir.display(),
                    install.source.as_ref().map(|s| s.sha256.as_str()).unwrap_or_default()
                );
            }
        }
        PgBinariesCommand::Remove { major } => {
            let removed = binaries::remove(*major)?;
            println!("removed PostgreSQL {} from {}", removed.version, removed.bin_dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
