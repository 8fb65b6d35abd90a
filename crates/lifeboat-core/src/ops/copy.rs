//! Copying snapshots to a second repository, as one entry of the history.

use std::sync::Arc;

use super::blocking;
use super::record::recorded;
use crate::catalog::{Catalog, RunKind};
use crate::error::Result;
use crate::progress::Progress;
use crate::repo::copy::{self, CopyOptions, CopyReport};
use crate::repo::{manifest, Repository};
use crate::units::{human_bytes, plural};

/// Which snapshots of the source to copy.
#[derive(Clone, Debug)]
pub enum CopySelection {
    /// Every readable snapshot.
    All,
    /// These: ids, id prefixes or `latest:NAME`.
    Named(Vec<String>),
}

/// Copies the selected snapshots of `source` that `target` lacks (see
/// [`copy::copy`]). With `All`, a snapshot whose manifest cannot be read is
/// listed in the report's `unreadable`, not copied, and the rest go on.
pub async fn copy(
    source: Arc<Repository>,
    target: Arc<Repository>,
    catalog: Option<&Catalog>,
    selection: CopySelection,
    options: CopyOptions,
    progress: Arc<dyn Progress>,
) -> Result<CopyReport> {
    let title = format!("Copy to {}", target.backend().location());
    let source_id = source.id().to_owned();
    let work = blocking(move || {
        let (snapshots, unreadable) = match selection {
            CopySelection::All => {
                let list = manifest::list(&source)?;
                let unreadable = list
                    .damaged
                    .iter()
                    .map(|(id, e)| format!("{}: {e}", &id[..id.len().min(8)]))
                    .collect();
                (list.snapshots, unreadable)
            }
            CopySelection::Named(specs) => {
                let snapshots = specs
                    .iter()
                    .map(|spec| manifest::resolve(&source, spec))
                    .collect::<Result<Vec<_>>>()?;
                (snapshots, Vec::new())
            }
        };
        let mut report = copy::copy(&source, &target, &snapshots, options, progress.as_ref())?;
        report.unreadable = unreadable;
        Ok(report)
    });
    recorded(catalog, RunKind::Copy, Some(&source_id), &title, work, |r| {
        format!(
            "Copied {} ({} already there), {} added",
            plural(r.copied.len(), "snapshot"),
            r.already_there.len(),
            human_bytes(r.added_bytes, 1)
        )
    })
    .await
}
