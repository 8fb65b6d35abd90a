//! `lifeboat copy`: snapshots to a second repository.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use lifeboat_core::ops::copy::CopySelection;
use lifeboat_core::repo::copy::CopyOptions;

use crate::commands::{human_bytes, print_json};
use crate::context;
use crate::credentials::{open_repo, open_target};
use crate::progress::Bars;
use crate::GlobalArgs;

#[derive(Args)]
pub struct CopyArgs {
    /// Snapshots to copy: ids, id prefixes or latest:NAME.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    snapshots: Vec<String>,
    /// Copy every snapshot the target does not have yet.
    #[arg(long)]
    all: bool,
    /// The repository to copy to (its passphrase: LIFEBOAT_TO_PASSWORD,
    /// --to-password-file, the keychain, or asked).
    #[arg(long, value_name = "LOCATION")]
    to: String,
    #[arg(long, value_name = "FILE")]
    to_password_file: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn copy(g: &GlobalArgs, a: &CopyArgs) -> Result<ExitCode> {
    let source = Arc::new(open_repo(g)?);
    let target = Arc::new(open_target(g, &a.to, a.to_password_file.as_deref())?);
    let selection = if a.all {
        CopySelection::All
    } else {
        CopySelection::Named(a.snapshots.clone())
    };
    let runtime = context::runtime()?;
    let catalog = runtime.block_on(context::catalog_if_available());
    let options = CopyOptions { lock_wait: g.lock_wait() };
    let job = lifeboat_core::ops::copy::copy(source, target, catalog.as_ref(), selection, options, Arc::new(Bars::new()));
    let report = runtime.block_on(job)?;
    for unreadable in &report.unreadable {
        eprintln!("error: not copied, its manifest cannot be read: {unreadable}");
    }
    if a.json {
        print_json(&report)?;
    } else {
        for c in &report.copied {
            println!(
                "copied {} -> {}  {}  {}, {} new",
                &c.source_id[..8],
                &c.target_id[..8],
                c.tag,
                human_bytes(c.size),
                human_bytes(c.added_bytes)
            );
        }
        println!(
            "{} copied, {} already in {}; {} added",
            report.copied.len(),
            report.already_there.len(),
            a.to,
            human_bytes(report.added_bytes)
        );
    }
    Ok(if report.unreadable.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
