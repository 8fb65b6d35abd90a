//! `lifeboat report`: the restore-test report for auditors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use clap::Args;
use lifeboat_core::repo::retention::parse_period;

use crate::context::{runner, runtime};
use crate::GlobalArgs;

#[derive(Args)]
pub struct ReportArgs {
    /// The period to cover, back from now (30d, 12w, 1y).
    #[arg(long, value_name = "PERIOD", value_parser = parse_period, default_value = "30d")]
    since: u32,
    /// The file to write: .html or .pdf.
    #[arg(long)]
    output: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    force: bool,
}

pub fn report(g: &GlobalArgs, a: &ReportArgs) -> Result<ExitCode> {
    let since = Utc::now() - chrono::Duration::hours(i64::from(a.since));
    let report = runtime()?.block_on(async { anyhow::Ok(runner(g).await?.restore_test_report(since).await?) })?;
    lifeboat_core::report::write(&report, &a.output, a.force)?;
    eprintln!(
        "wrote {}: {} drills and restores since {}, {} passed",
        a.output.display(),
        report.entries.len(),
        since.format("%Y-%m-%d"),
        report.passed()
    );
    Ok(ExitCode::SUCCESS)
}
