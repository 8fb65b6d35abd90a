//! `migrate`: moves a repository to this build's format.
//!
//! Each format only adds what a writer may store (format 2: deltas, record
//! layout 2; format 3: sketch lists, list blobs as deltas; format 4: `wal/` records); everything an
//! older writer stored stays as it is and reads the same.
//! So a migration changes the config's version and nothing else: first in
//! every key slot's copy, then in `config`. A migration stopped half way
//! leaves copies one version ahead of `config`; `open` accepts that (see
//! [`Config::matches_copy`]) and running `migrate` again finishes it.

use std::time::Duration;

use serde::Serialize;

use super::keys::{load_slots, store_slot};
use super::{config_bytes, lock, Config, Repository, FORMAT_VERSION};
use crate::error::Result;

/// What `migrate` did.
#[derive(Clone, Debug, Serialize)]
pub struct MigrateReport {
    pub repository_id: String,
    pub from_version: u32,
    pub to_version: u32,
    /// Key slots whose copy of the config was rewritten.
    pub key_slots_updated: usize,
}

impl MigrateReport {
    /// Whether anything changed (false: it already was at this format).
    pub fn migrated(&self) -> bool {
        self.from_version != self.to_version || self.key_slots_updated > 0
    }
}

/// Moves `repo` to [`FORMAT_VERSION`] under an exclusive lock.
pub fn migrate(repo: &Repository, lock_wait: Duration) -> Result<MigrateReport> {
    let lock = lock::acquire(repo, true, "migrate", lock_wait)?;
    let backend = repo.backend();
    // Read again under the lock: another migrate may have finished meanwhile.
    let current = Repository::read_config(backend)?;
    let target = Config {
        version: FORMAT_VERSION,
        ..current.clone()
    };
    let mut key_slots_updated = 0;
    for slot in load_slots(backend)? {
        // Slots written before copies existed carry none: nothing to update.
        if slot.config.as_ref().is_some_and(|copy| *copy != target) {
            lock.verify()?;
            store_slot(backend, &slot.sealed_with(&target))?;
            key_slots_updated += 1;
        }
    }
    if current.version != target.version {
        lock.verify()?;
        backend.write("config", &config_bytes(&target))?;
    }
    Ok(MigrateReport {
        repository_id: target.id,
        from_version: current.version,
        to_version: target.version,
        key_slots_updated,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backend::{Backend, LocalBackend};
    use crate::repo::open::{open, OpenRequest};
    use crate::repo::{keys, InitOptions};

    const WAIT: Duration = Duration::from_secs(5);

    fn opened(backend: &Arc<LocalBackend>) -> Result<Repository> {
        let request = OpenRequest {
            passphrase: Some("a passphrase".into()),
            ..Default::default()
        };
        open(backend.clone(), request).map(|opened| opened.repo)
    }

    /// Stopped after the key slots, before `config`: the repository still
    /// opens (as the older format), and `migrate` again finishes the job.
    #[test]
    fn a_migration_stopped_half_way_still_opens_and_finishes_when_run_again() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(LocalBackend::new(dir.path()));
        backend.create_root().unwrap();
        let (repo, _) = Repository::init(backend.clone(), "a passphrase", "test", &InitOptions::default()).unwrap();
        let older = Config {
            version: 1,
            ..repo.config().clone()
        };
        backend.write("config", &config_bytes(&older)).unwrap();
        assert!(keys::list(&repo)
            .unwrap()
            .iter()
            .all(|slot| slot.config.as_ref().unwrap().version == FORMAT_VERSION));

        let repo = opened(&backend).expect("the slots' copies are one version ahead: a migration under way");
        assert_eq!(repo.config().version, 1);
        let report = migrate(&repo, WAIT).unwrap();
        assert_eq!(
            (report.from_version, report.to_version, report.key_slots_updated),
            (1, FORMAT_VERSION, 0)
        );
        assert_eq!(opened(&backend).unwrap().config().version, FORMAT_VERSION);
        assert!(!migrate(&repo, WAIT).unwrap().migrated(), "nothing left to do");

        // A copy of a version this build does not read, or any other
        // difference between `config` and the copies, is still damage.
        assert!(!older.matches_copy(&Config {
            version: FORMAT_VERSION + 1,
            ..older.clone()
        }));
        let moved = Config {
            pack_size: older.pack_size / 2,
            ..older
        };
        backend.write("config", &config_bytes(&moved)).unwrap();
        assert!(matches!(opened(&backend), Err(crate::Error::ConfigDamaged { .. })));
    }
}
