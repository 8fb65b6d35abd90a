//! Repository upkeep a person starts: check and prune.

use std::sync::Arc;

use super::blocking;
use super::record::recorded;
use crate::catalog::{Catalog, RunKind};
use crate::error::Result;
use crate::jobs::pitr::window::check_chains;
use crate::progress::Progress;
use crate::repo::check::{self, CheckOptions, CheckReport};
use crate::repo::prune::{self, PruneOptions, PruneReport};
use crate::repo::{manifest, Repository};
use crate::units::plural;

/// Checks the repository (every byte with `read_data`) and that each WAL
/// archive's chain runs unbroken from its base backups. With the
/// workstation's catalog, snapshots it saw that are gone without a forget
/// record count as damage too (see [`Catalog::vanished_snapshots`]), and the
/// check is recorded in the history.
pub async fn check(
    repo: Arc<Repository>,
    catalog: Option<&Catalog>,
    options: CheckOptions,
    progress: Arc<dyn Progress>,
) -> Result<CheckReport> {
    let title = if options.read_data {
        "Check (read all data)"
    } else {
        "Check (structure)"
    };
    let id = repo.id().to_owned();
    let work = async {
        let (mut report, accounting) = blocking(move || {
            let mut report = check::check(&repo, options, progress.as_ref())?;
            let chains = check_chains(&repo)?;
            report.errors.extend(chains.errors);
            report.warnings.extend(chains.warnings);
            report.next_steps.extend(chains.next_steps);
            Ok((report, manifest::accounting(&repo)?))
        })
        .await?;
        if let Some(catalog) = catalog {
            match catalog.vanished_snapshots(&id, &accounting).await {
                Ok(vanished) => report.errors.extend(vanished),
                Err(e) => report
                    .warnings
                    .push(format!("could not compare with the snapshots seen before: {e}")),
            }
        }
        Ok(report)
    };
    recorded(catalog, RunKind::Check, Some(&id), title, work, |r| {
        if r.healthy() {
            format!(
                "{title}: healthy, {} and {} checked",
                plural(r.snapshots, "snapshot"),
                plural(r.packs, "pack")
            )
        } else {
            format!("{title}: {} found", plural(r.errors.len(), "problem"))
        }
    })
    .await
}

/// Removes what no snapshot needs (and leftovers of interrupted backups);
/// a dry run changes nothing and is not recorded.
pub async fn prune(
    repo: Arc<Repository>,
    catalog: Option<&Catalog>,
    options: PruneOptions,
    progress: Arc<dyn Progress>,
) -> Result<PruneReport> {
    let id = repo.id().to_owned();
    let catalog = catalog.filter(|_| !options.dry_run);
    let work = blocking(move || prune::prune(&repo, options, progress.as_ref()));
    recorded(catalog, RunKind::Prune, Some(&id), "Prune", work, |r| {
        format!(
            "Prune: freed {}, removed {}",
            crate::units::human_bytes(r.bytes_freed, 1),
            plural(r.packs_removed + r.leftover_packs_removed, "pack")
        )
    })
    .await
}
