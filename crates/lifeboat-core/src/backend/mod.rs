//! Where a repository's bytes live.
//!
//! The engine sees a repository as a flat namespace of small paths
//! (`config`, `keys/<id>`, `data/<xx>/<id>`, ...) behind [`Backend`]; it never
//! builds file-system paths itself, so an object-store backend can slot in.

mod cache;
mod local;
mod location;
mod object;
mod runtime;
mod sftp;

pub use cache::CachedBackend;
pub use local::LocalBackend;
pub use location::Location;
pub use object::{install_tls_provider, ObjectBackend, S3Settings};
pub use sftp::{SftpBackend, SftpSettings};

use crate::crypto::random_bytes;
use crate::error::{Error, Result};

/// One stored file, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// The file's name within the listed folder.
    pub name: String,
    pub size: u64,
    /// When the storage last wrote it, by the storage's own clock (the NAS,
    /// the object store): ages compare such times with each other, never
    /// with a workstation's clock. None where the storage keeps no time.
    pub modified: Option<std::time::SystemTime>,
    /// Changes whenever the file's bytes are replaced, where the storage
    /// tells (an S3 ETag; size and modification time on SFTP): what
    /// [`CachedBackend`] keys its copies on. None on a local disk.
    pub version: Option<String>,
}

/// What a storage promises beyond [`Backend`]'s own contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StorageGuarantees {
    /// A write replaces a file whole, never torn (a rename, or an object PUT).
    pub atomic_replace: bool,
    /// [`Backend::create_new`] is one atomic step (a hard link, a conditional
    /// PUT); without it, it looks and then writes.
    pub conditional_create: bool,
}

/// Storage for a repository. Paths use `/` and are relative to the repository.
///
/// Writes are atomic: a reader sees the old content or the new, whole, never a
/// torn file, and a write that returned `Ok` is durable.
pub trait Backend: Send + Sync {
    /// Where this repository is, for messages.
    fn location(&self) -> String;
    /// The whole file; [`crate::Error::Missing`] if it does not exist. A
    /// file larger than `max` bytes is refused before anything is read:
    /// repository files are hostile input, and each kind has a size it
    /// can have (see `repo::format`).
    fn read(&self, path: &str, max: u64) -> Result<Vec<u8>>;
    /// `len` bytes from `offset`; a short file is an error, not a short read.
    fn read_at(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>>;
    /// Atomically creates or replaces `path` with `data`, durably.
    fn write(&self, path: &str, data: &[u8]) -> Result<()>;
    /// Creates `path` unless it exists (then `Ok(false)`, nothing written):
    /// how a new repository's `config` is written, so two workstations
    /// creating one at the same place cannot both succeed.
    fn create_new(&self, path: &str, data: &[u8]) -> Result<bool>;
    /// Files directly in `dir` (not recursive); an absent folder lists empty.
    /// Leftover temporary files are not listed (see [`Backend::list_temporary`]).
    fn list(&self, dir: &str) -> Result<Vec<FileInfo>>;
    /// Removes a file; removing an absent file succeeds.
    fn remove(&self, path: &str) -> Result<()>;
    /// Whether the file exists.
    fn exists(&self, path: &str) -> Result<bool>;
    /// Temporary files an interrupted write left behind, as removable paths.
    fn list_temporary(&self) -> Result<Vec<String>>;
    /// What this storage guarantees; may ask the storage (once).
    fn guarantees(&self) -> Result<StorageGuarantees>;
    /// How many pack reads or writes are worth having in flight at once: 1
    /// on a disk; more on a network storage, where each transfer mostly waits.
    fn parallel_transfers(&self) -> usize;
    /// The storage behind this workstation's cache, for reads that must
    /// see the storage itself (`check`); None when nothing is cached.
    fn uncached(&self) -> Option<std::sync::Arc<dyn Backend>> {
        None
    }
}

/// What [`test_storage`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StorageTest {
    /// A repository's `config` is there already.
    pub holds_repository: bool,
    pub guarantees: StorageGuarantees,
}

/// Tries what a repository needs of a storage before anything is created
/// there: listing, then writing, reading back and deleting a probe file
/// (`locks/clock-test-*`, which lock listings skip), then what it
/// guarantees (on S3, whether conditional writes are honoured). The first
/// step that fails is the error, with the storage's hint.
pub fn test_storage(backend: &dyn Backend) -> Result<StorageTest> {
    backend.list("keys")?;
    let holds_repository = backend.exists("config")?;
    let probe = format!("locks/clock-test-{}", data_encoding::HEXLOWER.encode(&random_bytes::<8>()));
    let content = random_bytes::<32>();
    backend.write(&probe, &content)?;
    let read_back = backend.read(&probe, content.len() as u64);
    backend.remove(&probe)?;
    if read_back? != content {
        return Err(Error::Storage {
            action: "reading back".into(),
            target: format!("{}/{probe}", backend.location().trim_end_matches('/')),
            detail: "the storage returned other bytes than were written to it".into(),
        });
    }
    Ok(StorageTest {
        holds_repository,
        guarantees: backend.guarantees()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_test_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path());
        let tested = test_storage(&backend).unwrap();
        assert!(!tested.holds_repository);
        assert!(tested.guarantees.conditional_create && tested.guarantees.atomic_replace);
        assert!(backend.list("locks").unwrap().is_empty(), "the probe is removed");
        backend.write("config", b"x").unwrap();
        assert!(test_storage(&backend).unwrap().holds_repository);

        let unwritable = LocalBackend::new("/proc/lifeboat-test");
        assert!(
            matches!(test_storage(&unwritable), Err(Error::Io { .. })),
            "the failing step is the error"
        );
    }
}
