//! `lifeboat drill`: a snapshot restored into a scratch database and checked.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use lifeboat_core::jobs::drill::{self, DrillReport};
use lifeboat_core::repo::manifest;

use crate::commands::print_json;
use crate::context::{claim, runner, runtime};
use crate::progress::Bars;
use crate::GlobalArgs;

#[derive(Args)]
pub struct DrillArgs {
    /// Snapshot id, unique id prefix, or latest:NAME.
    snapshot: String,
    /// Where to restore the scratch database: a saved connection's name or postgres://user@host:port/.
    #[arg(long)]
    server: String,
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
        let name = manifest::resolve(&runner.repo, &a.snapshot)?.manifest.tag;
        let _claim = claim(&name)?;
        let report = runner.drill(&a.snapshot, &a.server, probes, Arc::new(Bars::new())).await?;
        if a.json {
            print_json(&report)?;
        } else {
            print_drill(&report);
        }
        Ok(if report.passed { ExitCode::SUCCESS } else { ExitCode::from(3) })
    })
}
