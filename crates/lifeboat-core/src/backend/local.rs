//! A repository in a local folder or on a mounted NAS share.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{Backend, FileInfo, StorageGuarantees};
use crate::crypto::random_bytes;
use crate::error::{Error, Result};

/// Marks a temporary file; written next to its target so the rename stays on
/// one file system, and hidden from listings.
const TEMP_MARK: &str = ".tmp-";

/// A repository rooted at a folder.
pub struct LocalBackend {
    root: PathBuf,
}

impl LocalBackend {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalBackend { root: root.into() }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes `data` durably to a temporary file beside `rel`'s path;
    /// returns both paths.
    fn write_temporary(&self, rel: &str, data: &[u8]) -> Result<(PathBuf, PathBuf)> {
        let path = self.path(rel);
        let dir = path.parent().expect("repository paths have a parent");
        if !dir.exists() {
            create_dir_all(dir)?;
            if let Some(grandparent) = dir.parent() {
                sync_dir(grandparent)?;
            }
        }
        let name = path.file_name().expect("file name").to_string_lossy();
        let tmp = dir.join(format!(
            ".{name}{TEMP_MARK}{}",
            data_encoding::HEXLOWER.encode(&random_bytes::<6>())
        ));
        let written = create_private_file(&tmp).and_then(|mut f| {
            f.write_all(data)?;
            f.sync_all()
        });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io("writing", &path, e));
        }
        Ok((path, tmp))
    }

    /// Creates the root folder (0700) if it does not exist.
    pub fn create_root(&self) -> Result<()> {
        create_dir_all(&self.root)
    }
}

#[cfg(unix)]
fn create_dir_all(path: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::io("creating folder", path, e))
}

#[cfg(not(unix))]
fn create_dir_all(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| Error::io("creating folder", path, e))
}

fn create_private_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Makes a rename durable: the folder entry itself must reach the disk.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("syncing folder", dir, e))?;
    let _ = dir;
    Ok(())
}

impl Backend for LocalBackend {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn read(&self, rel: &str, max: u64) -> Result<Vec<u8>> {
        let path = self.path(rel);
        let mut file = File::open(&path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::Missing(rel.to_string()),
            _ => Error::io("opening", &path, e),
        })?;
        let len = file.metadata().map_err(|e| Error::io("reading metadata of", &path, e))?.len();
        if len > max {
            return Err(Error::corrupt(
                rel,
                format!("it is {len} bytes, more than such a file can hold ({max}): damaged or planted; see `lifeboat check`"),
            ));
        }
        let mut buf = Vec::with_capacity(len as usize);
        // A file that grew since is read up to `max` + 1 bytes and refused, never whole.
        (&mut file)
            .take(max.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| Error::io("reading", &path, e))?;
        if buf.len() as u64 > max {
            return Err(Error::corrupt(rel, format!("it grew past {max} bytes while being read")));
        }
        Ok(buf)
    }

    fn read_at(&self, rel: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        let path = self.path(rel);
        let mut file = File::open(&path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::Missing(rel.to_string()),
            _ => Error::io("opening", &path, e),
        })?;
        let mut buf = vec![0u8; len];
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| match e.kind() {
                ErrorKind::UnexpectedEof => Error::corrupt(rel, format!("the file ends before byte {}", offset + len as u64)),
                _ => Error::io("reading", &path, e),
            })?;
        Ok(buf)
    }

    fn write(&self, rel: &str, data: &[u8]) -> Result<()> {
        let (path, tmp) = self.write_temporary(rel, data)?;
        if let Err(e) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io("renaming into place", &path, e));
        }
        sync_dir(path.parent().expect("repository paths have a parent"))
    }

    fn create_new(&self, rel: &str, data: &[u8]) -> Result<bool> {
        let (path, tmp) = self.write_temporary(rel, data)?;
        // A hard link never replaces its target: one atomic create. Shares
        // without hard links (some SMB mounts) look, then rename.
        let created = match fs::hard_link(&tmp, &path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) if matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::PermissionDenied) => match path.try_exists() {
                Ok(true) => Ok(false),
                Ok(false) => fs::rename(&tmp, &path).map(|()| true),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let _ = fs::remove_file(&tmp);
        match created {
            Ok(true) => sync_dir(path.parent().expect("repository paths have a parent")).map(|()| true),
            Ok(false) => Ok(false),
            Err(e) => Err(Error::io("creating", &path, e)),
        }
    }

    fn list(&self, rel: &str) -> Result<Vec<FileInfo>> {
        let dir = self.path(rel);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("listing", &dir, e)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let meta = entry.metadata().map_err(|e| Error::io("reading metadata of", entry.path(), e))?;
            if meta.is_file() {
                files.push(FileInfo {
                    name,
                    size: meta.len(),
                    modified: meta.modified().ok(),
                    version: None,
                });
            }
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    fn remove(&self, rel: &str) -> Result<()> {
        let path = self.path(rel);
        match fs::remove_file(&path) {
            // Durable like a write: the folder entry's removal reaches the disk.
            Ok(()) => sync_dir(path.parent().expect("repository paths have a parent")),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("removing", &path, e)),
        }
    }

    fn exists(&self, rel: &str) -> Result<bool> {
        let path = self.path(rel);
        path.try_exists().map_err(|e| Error::io("looking for", &path, e))
    }

    fn guarantees(&self) -> Result<StorageGuarantees> {
        Ok(StorageGuarantees {
            atomic_replace: true,
            conditional_create: true,
        })
    }

    fn parallel_transfers(&self) -> usize {
        1
    }

    fn list_temporary(&self) -> Result<Vec<String>> {
        let mut found = Vec::new();
        let mut stack = vec![String::new()];
        while let Some(rel) = stack.pop() {
            let dir = self.path(&rel);
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("listing", &dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| Error::io("listing", &dir, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let child = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    stack.push(child);
                } else if name.starts_with('.') && name.contains(TEMP_MARK) {
                    found.push(child);
                }
            }
        }
        found.sort();
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_private_atomic_and_listed() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path().join("repo"));
        backend.create_root().unwrap();
        backend.write("data/ab/abc", b"one").unwrap();
        backend.write("data/ab/abc", b"two").unwrap();
        assert_eq!(backend.read("data/ab/abc", 3).unwrap(), b"two");
        assert!(matches!(backend.read("data/ab/abc", 2), Err(Error::Corrupt { .. })));
        assert_eq!(backend.read_at("data/ab/abc", 1, 2).unwrap(), b"wo");
        assert!(matches!(backend.read_at("data/ab/abc", 2, 5), Err(Error::Corrupt { .. })));
        assert!(matches!(backend.read("data/ab/nope", 10), Err(Error::Missing(_))));
        let listed = backend.list("data/ab").unwrap();
        assert_eq!(
            listed.iter().map(|f| (f.name.as_str(), f.size)).collect::<Vec<_>>(),
            vec![("abc", 3)]
        );
        let age = std::time::SystemTime::now()
            .duration_since(listed[0].modified.unwrap())
            .unwrap_or_default();
        assert!(age < std::time::Duration::from_secs(60), "the storage's time of the write: {age:?}");
        assert!(backend.list("nothing").unwrap().is_empty());
        assert!(backend.list_temporary().unwrap().is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.path().join("repo/data/ab/abc")), 0o600);
            assert_eq!(mode(&dir.path().join("repo/data/ab")), 0o700);
            assert_eq!(mode(&dir.path().join("repo")), 0o700);
        }
        fs::write(dir.path().join("repo/data/ab/.abc.tmp-123"), b"x").unwrap();
        assert_eq!(backend.list_temporary().unwrap(), vec!["data/ab/.abc.tmp-123".to_string()]);
        assert_eq!(backend.list("data/ab").unwrap().len(), 1);
        assert!(!backend.create_new("data/ab/abc", b"three").unwrap(), "an existing file is kept");
        assert_eq!(backend.read("data/ab/abc", 3).unwrap(), b"two");
        assert!(backend.create_new("data/cd/new", b"new").unwrap());
        assert_eq!(backend.read("data/cd/new", 3).unwrap(), b"new");
        assert!(backend.list_temporary().unwrap().iter().all(|p| !p.starts_with("data/cd")));
        backend.remove("data/ab/abc").unwrap();
        backend.remove("data/ab/abc").unwrap();
        assert!(!backend.exists("data/ab/abc").unwrap());
    }
}
