//! Copying snapshots to a second repository, as one entry of the history.

use std::sync::Arc;

use super::record::recorded;
use super::{blocking, short, Runner};
use crate::backend::Location;
use crate::catalog::{Catalog, RunKind};
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::progress::Progress;
use crate::repo::copy::{self, CopyOptions, CopyReport};
use crate::repo::open::{self, OpenRequest};
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
    let location = target.backend().location();
    let title = format!("Copy to {location}");
    let source_id = source.id().to_owned();
    let work = blocking(move || {
        let (snapshots, unreadable) = match selection {
            CopySelection::All => {
                let list = manifest::list(&source)?;
                let unreadable = list.damaged.iter().map(|(id, e)| format!("{}: {e}", short(id))).collect();
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
    let report = recorded(catalog, RunKind::Copy, Some(&source_id), &title, work, |r| {
        format!(
            "Copied {} ({} already there), {} added",
            plural(r.copied.len(), "snapshot"),
            r.already_there.len(),
            human_bytes(r.added_bytes, 1)
        )
    })
    .await?;
    if let Some(catalog) = catalog {
        // What the target holds, copied now or before (perhaps by another
        // workstation): the cards' off-site status reads it.
        let now = chrono::Utc::now();
        let held = report.copied.iter().map(|c| (&c.tag, &c.source_id, c.time));
        let held = held.chain(report.already_there.iter().map(|s| (&s.tag, &s.id, s.time)));
        for (tag, id, time) in held {
            if let Err(e) = catalog.record_offsite_copy(tag, &location, id, time, now).await {
                tracing::warn!("could not remember the copy of {} in {location}: {e}", short(id));
            }
        }
    }
    Ok(report)
}

impl Runner {
    /// Copies a scheduled backup's snapshot to the schedule's off-site
    /// repository, announcing how it went. A failed copy never fails the
    /// backup, which is safe where it is; it raises a failure notification
    /// and is recorded, and the next backup's copy catches up on what is missing.
    pub async fn copy_offsite(&self, connection: &str, location: &str, snapshot_id: &str, progress: Arc<dyn Progress>) {
        let outcome = async {
            let target = self.open_offsite(location).await?;
            let options = CopyOptions { lock_wait: self.lock_wait };
            // This backup, and any of this connection newer than the newest
            // copy there (a copy that failed last time is made now). Older
            // ones stay where they are: the off-site repository may keep
            // fewer by its own retention, and nothing forgotten comes back.
            let (source, listed) = (self.repo.clone(), target.clone());
            let (tag, this_one) = (connection.to_owned(), snapshot_id.to_owned());
            let wanted = blocking(move || {
                let done = copy::copies_in(&listed, source.id())?;
                let mine: Vec<_> = manifest::list(&source)?
                    .snapshots
                    .into_iter()
                    .filter(|s| s.manifest.tag == tag)
                    .collect();
                let newest_copied = mine.iter().filter(|s| done.contains(&s.id)).map(|s| s.manifest.recency()).max();
                Ok(mine
                    .into_iter()
                    .filter(|s| s.id == this_one || newest_copied.is_some_and(|newest| s.manifest.recency() > newest))
                    .map(|s| s.id)
                    .collect::<Vec<_>>())
            })
            .await?;
            let selection = CopySelection::Named(wanted);
            copy(self.repo.clone(), target, Some(&self.catalog), selection, options, progress).await
        }
        .await;
        let event = match &outcome {
            Ok(report) => Event::new(
                EventKind::CopySucceeded,
                Some(connection),
                true,
                format!(
                    "copied {} to {location}, {} added",
                    plural(report.copied.len(), "snapshot"),
                    human_bytes(report.added_bytes, 1)
                ),
            )
            .with_detail(report),
            Err(e) => Event::new(
                EventKind::CopyFailed,
                Some(connection),
                false,
                format!("the copy of snapshot {} to {location} failed: {e}", short(snapshot_id)),
            ),
        };
        self.announce(event).await;
    }

    /// Opens the off-site repository with the key the keychain keeps for it,
    /// or the passphrase this runner was given; never asks.
    async fn open_offsite(&self, location: &str) -> Result<Arc<Repository>> {
        let keychain = self.keychain.clone();
        let passphrase = self.offsite_passphrase.clone();
        let location = location.to_owned();
        blocking(move || {
            let backend = Location::parse(&location)?.open(keychain.as_deref())?;
            let request = OpenRequest {
                recovery_kit: None,
                passphrase,
                keychain: keychain.as_deref(),
                prompt: None,
            };
            match open::open(backend, request) {
                Ok(opened) => Ok(Arc::new(opened.repo)),
                Err(Error::NoCredentials) => Err(Error::InvalidInput(format!(
                    "nothing opens the off-site repository {location} here: run `lifeboat copy --all --to {location}` \
                     once on this workstation (its key is then kept in the keychain), or give the daemon \
                     LIFEBOAT_TO_PASSWORD"
                ))),
                Err(e) => Err(e),
            }
        })
        .await
    }
}
