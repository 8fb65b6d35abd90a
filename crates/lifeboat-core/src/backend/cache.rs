//! This workstation's copies of a remote repository's index files and
//! manifests, so `snapshots`, the Timeline and every job's index load list
//! the storage and download only what is new.
//!
//! Index files and manifests are named by the hash of their bytes and never
//! rewritten under the same name, so a kept copy is the file's content for
//! as long as the storage lists the file unchanged: same size and same
//! [`FileInfo::version`] (an S3 ETag; an SFTP file's modification time).
//! A file replaced on the storage (damaged, or planted) lists differently
//! and is read anew. Kept bytes are authenticated on every use like any
//! read, and `check` reads the storage itself ([`Backend::uncached`]), so
//! damage there is never hidden behind a good copy here.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::{Backend, FileInfo, LocalBackend, StorageGuarantees};
use crate::error::Result;

/// Folders whose files are written once and never replaced under their name.
const CACHED_FOLDERS: [&str; 2] = ["index", "snapshots"];

/// A remote storage with a local folder of copies in front of it.
pub struct CachedBackend {
    storage: Arc<dyn Backend>,
    copies: LocalBackend,
    /// Size and version of each cacheable file, as last listed.
    listed: Mutex<HashMap<String, (u64, String)>>,
}

impl CachedBackend {
    pub fn new(storage: Arc<dyn Backend>, dir: std::path::PathBuf) -> CachedBackend {
        CachedBackend {
            storage,
            copies: LocalBackend::new(dir),
            listed: Mutex::new(HashMap::new()),
        }
    }

    fn is_cached_folder(folder: &str) -> bool {
        CACHED_FOLDERS.contains(&folder)
    }

    /// `<path>@<version>`, the version reduced to characters safe in a file name.
    fn copy_name(path: &str, version: &str) -> String {
        let version: String = version.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        format!("{path}@{version}")
    }

    /// The size and version `path` had when its folder was last listed.
    fn as_listed(&self, path: &str) -> Option<(u64, String)> {
        let (folder, _) = path.split_once('/')?;
        if !Self::is_cached_folder(folder) {
            return None;
        }
        self.listed.lock().expect("cache listing").get(path).cloned()
    }

    /// Records a listing of `folder`, and drops the copies of files it no
    /// longer lists (pruned, or replaced).
    fn record_listing(&self, folder: &str, files: &[FileInfo]) {
        let mut current = HashSet::new();
        {
            let mut listed = self.listed.lock().expect("cache listing");
            listed.retain(|path, _| !path.strip_prefix(folder).is_some_and(|rest| rest.starts_with('/')));
            for file in files {
                if let Some(version) = &file.version {
                    current.insert(Self::copy_name(&file.name, version));
                    listed.insert(format!("{folder}/{}", file.name), (file.size, version.clone()));
                }
            }
        }
        for copy in self.copies.list(folder).unwrap_or_default() {
            if !current.contains(&copy.name) {
                let _ = self.copies.remove(&format!("{folder}/{}", copy.name));
            }
        }
    }
}

impl Backend for CachedBackend {
    fn location(&self) -> String {
        self.storage.location()
    }

    fn read(&self, path: &str, max: u64) -> Result<Vec<u8>> {
        let Some((size, version)) = self.as_listed(path).filter(|(size, _)| *size <= max) else {
            return self.storage.read(path, max);
        };
        let copy = Self::copy_name(path, &version);
        if let Ok(bytes) = self.copies.read(&copy, size) {
            if bytes.len() as u64 == size {
                return Ok(bytes);
            }
        }
        let bytes = self.storage.read(path, max)?;
        if bytes.len() as u64 == size {
            if let Err(e) = self.copies.write(&copy, &bytes) {
                tracing::warn!("could not keep a copy of {path} in the local cache: {e}");
            }
        }
        Ok(bytes)
    }

    fn read_at(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        self.storage.read_at(path, offset, len)
    }

    fn write(&self, path: &str, data: &[u8]) -> Result<()> {
        self.storage.write(path, data)
    }

    fn create_new(&self, path: &str, data: &[u8]) -> Result<bool> {
        self.storage.create_new(path, data)
    }

    fn list(&self, dir: &str) -> Result<Vec<FileInfo>> {
        let files = self.storage.list(dir)?;
        let folder = dir.trim_end_matches('/');
        if Self::is_cached_folder(folder) {
            self.record_listing(folder, &files);
        }
        Ok(files)
    }

    fn remove(&self, path: &str) -> Result<()> {
        if let Some((_, version)) = self.listed.lock().expect("cache listing").remove(path) {
            let _ = self.copies.remove(&Self::copy_name(path, &version));
        }
        self.storage.remove(path)
    }

    fn exists(&self, path: &str) -> Result<bool> {
        self.storage.exists(path)
    }

    fn list_temporary(&self) -> Result<Vec<String>> {
        self.storage.list_temporary()
    }

    fn guarantees(&self) -> Result<StorageGuarantees> {
        self.storage.guarantees()
    }

    fn parallel_transfers(&self) -> usize {
        self.storage.parallel_transfers()
    }

    fn uncached(&self) -> Option<Arc<dyn Backend>> {
        Some(self.storage.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A local folder standing in for the remote storage, listing each
    /// file with a version: its size and modification time, as SFTP does.
    struct Versioned(LocalBackend);

    impl Backend for Versioned {
        fn location(&self) -> String {
            self.0.location()
        }
        fn read(&self, path: &str, max: u64) -> Result<Vec<u8>> {
            self.0.read(path, max)
        }
        fn read_at(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
            self.0.read_at(path, offset, len)
        }
        fn write(&self, path: &str, data: &[u8]) -> Result<()> {
            self.0.write(path, data)
        }
        fn create_new(&self, path: &str, data: &[u8]) -> Result<bool> {
            self.0.create_new(path, data)
        }
        fn list(&self, dir: &str) -> Result<Vec<FileInfo>> {
            let mut files = self.0.list(dir)?;
            for file in &mut files {
                file.version = file.modified.map(|m| format!("{}{m:?}", file.size));
            }
            Ok(files)
        }
        fn remove(&self, path: &str) -> Result<()> {
            self.0.remove(path)
        }
        fn exists(&self, path: &str) -> Result<bool> {
            self.0.exists(path)
        }
        fn list_temporary(&self) -> Result<Vec<String>> {
            self.0.list_temporary()
        }
        fn guarantees(&self) -> Result<StorageGuarantees> {
            self.0.guarantees()
        }
        fn parallel_transfers(&self) -> usize {
            1
        }
    }

    #[test]
    fn listed_files_are_read_once_and_replaced_ones_anew() {
        let dir = tempfile::tempdir().unwrap();
        let remote = dir.path().join("remote");
        let storage = Arc::new(Versioned(LocalBackend::new(&remote)));
        let cached = CachedBackend::new(storage.clone(), dir.path().join("cache"));
        storage.write("snapshots/a", b"first").unwrap();
        storage.write("data/00/p", b"pack").unwrap();

        assert_eq!(cached.list("snapshots").unwrap().len(), 1);
        assert_eq!(cached.read("snapshots/a", 100).unwrap(), b"first");
        // The storage's copy changes behind the cache's back, keeping its
        // size and time: the copy kept here is what is read.
        let modified = std::fs::metadata(remote.join("snapshots/a")).unwrap().modified().unwrap();
        std::fs::write(remote.join("snapshots/a"), b"FIRST").unwrap();
        std::fs::File::options()
            .write(true)
            .open(remote.join("snapshots/a"))
            .unwrap()
            .set_modified(modified)
            .unwrap();
        assert_eq!(cached.read("snapshots/a", 100).unwrap(), b"first", "read from the copy");
        assert_eq!(cached.uncached().unwrap().read("snapshots/a", 100).unwrap(), b"FIRST");

        // Replaced (a new time): the next listing makes it read anew.
        std::fs::write(remote.join("snapshots/a"), b"second!").unwrap();
        cached.list("snapshots").unwrap();
        assert_eq!(cached.read("snapshots/a", 100).unwrap(), b"second!");
        assert_eq!(cached.read("data/00/p", 100).unwrap(), b"pack", "packs are never kept");

        // Removed through the cache or gone from a listing: no copy is left.
        let copies = || {
            crate::backend::LocalBackend::new(dir.path().join("cache"))
                .list("snapshots")
                .unwrap()
                .len()
        };
        assert_eq!(copies(), 1);
        std::fs::remove_file(remote.join("snapshots/a")).unwrap();
        cached.list("snapshots").unwrap();
        assert_eq!(copies(), 0);
        assert!(matches!(cached.read("snapshots/a", 100), Err(crate::Error::Missing(_))));
    }
}
