//! `lifeboat drill`: a snapshot restored into a scratch database and checked.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::Args;
use lifeboat_core::jobs::drill::{self, DrillReport};
use lifeboat_core::jobs::pitr::is_base_backup;
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
    #[arg(long)]
    server: Option<String>,
    /// A base backup's drill: the database its probes run in.
    #[arg(long, default_value = "postgres", conflicts_with = "server")]
    database: String,
    /// A base backup's drill: the folder of the PostgreSQL server binaries
    /// of its major, instead of searching.
    #[arg(long, env = "LIFEBOAT_PG_BIN", conflicts_with = "server")]
    pg_bin: Option<PathBuf>,
    /// SQL probes: a JSON list of {"name", "sql", "expect"}, as in
    /// [{"name": "users exist", "sql": "select count(*) from users", "expect": ">= 1"}].
    #[arg(long, value_name = "FILE")]
    probe_file: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn print_drill(report: &DrillReport) {
    println!(
        "drill of {} ({}) on {}: {}",
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
            (Some(server), false) => runner.drill(&a.snapshot, server, probes, progress).await?,
            (None, true) => {
                runner
                    .drill_base_backup(&a.snapshot, &a.database, probes, a.pg_bin.clone(), progress)
                    .await?
            }
            (None, false) => bail!("say where to restore the scratch database: --server (a saved connection or a postgres:// URL)"),
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
