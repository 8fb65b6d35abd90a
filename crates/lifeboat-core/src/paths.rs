//! Where the workstation keeps its own files. Resolved here so the CLI and
//! the desktop app agree.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where this workstation keeps copies it can always fetch again (a remote
/// repository's index files and manifests): `~/.cache/lifeboat` on Linux,
/// or `cache` under `LIFEBOAT_DATA_DIR` when that is set. None without a
/// home folder: nothing is cached then.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LIFEBOAT_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("cache"));
    }
    directories::ProjectDirs::from("org", "Lifeboat", "Lifeboat").map(|dirs| dirs.cache_dir().to_owned())
}

/// The desktop app's log file's name, in [`Paths::log_dir`].
pub const LOG_FILE: &str = "lifeboat.log";

/// The workstation's folders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The catalog and other app state.
    pub data_dir: PathBuf,
    /// Log files.
    pub log_dir: PathBuf,
}

impl Paths {
    /// The OS folders (`~/.local/share/lifeboat` and `~/.local/state/lifeboat/logs`
    /// on Linux), or everything under `LIFEBOAT_DATA_DIR` when it is set: a
    /// second profile, a portable install, a test.
    pub fn from_env() -> Result<Paths> {
        if let Some(dir) = std::env::var_os("LIFEBOAT_DATA_DIR").filter(|d| !d.is_empty()) {
            let dir = PathBuf::from(dir);
            return Ok(Paths {
                log_dir: dir.join("logs"),
                data_dir: dir,
            });
        }
        let dirs = directories::ProjectDirs::from("org", "Lifeboat", "Lifeboat")
            .ok_or_else(|| Error::InvalidInput("cannot find your home folder: set HOME, or LIFEBOAT_DATA_DIR".into()))?;
        let log_base = dirs.state_dir().unwrap_or(dirs.data_local_dir());
        Ok(Paths {
            data_dir: dirs.data_dir().to_owned(),
            log_dir: log_base.join("logs"),
        })
    }

    pub fn catalog(&self) -> PathBuf {
        self.data_dir.join("catalog.sqlite")
    }

    /// The app's log file, made ready: created 0600 in a 0700 folder (and
    /// both tightened if an older version left them open), because a log
    /// line may name servers, users and databases.
    pub fn prepare_log_file(&self) -> Result<PathBuf> {
        own_private_dir(&self.log_dir)?;
        let file = self.log_dir.join(LOG_FILE);
        create_private_file(&file)?;
        Ok(file)
    }

    /// Where WAL streams keep `pg_receivewal`'s files, a folder per archive.
    pub fn wal_spool_dir(&self) -> PathBuf {
        self.data_dir.join("wal-spool")
    }

    /// Where scratch clusters (drills of base backups, recoveries onto a
    /// server) live while they run.
    pub fn scratch_clusters_dir(&self) -> PathBuf {
        self.data_dir.join("drills")
    }

    /// Where each running job's claim on its connection is a file lock
    /// (see `ops::scheduler::Claims`).
    pub fn claims_dir(&self) -> PathBuf {
        self.data_dir.join("claims")
    }

    /// The JSON-lines event log every process on the workstation appends to.
    pub fn events(&self) -> PathBuf {
        self.data_dir.join("events.jsonl")
    }
}

/// Creates `dir` (and its parents) 0700 when missing. An existing folder
/// is left as it is: the data folder may be one the user chose.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| Error::io("creating", dir, e))
}

/// A folder only Lifeboat uses (logs, the restore spool, claims): created
/// 0700, and made 0700 again if it was loosened since.
pub fn own_private_dir(dir: &Path) -> Result<()> {
    create_private_dir(dir)?;
    set_mode(dir, 0o700)
}

/// Creates `path` 0600 if it is missing (never truncating it), and makes
/// it 0600 again if it was loosened since.
pub fn create_private_file(path: &Path) -> Result<()> {
    private_options()
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
        .map_err(|e| Error::io("creating", path, e))?;
    set_mode(path, 0o600)
}

/// Opens (creating 0600 if missing, never truncating) a file that is only
/// ever locked, never read: claims and the catalog's migration lock.
pub fn open_lock_file(path: &Path) -> Result<std::fs::File> {
    private_options()
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io("opening", path, e))
}

/// Creates `path` 0600 for writing; refuses (saying nothing was
/// overwritten) when it exists. For files handed to the user: recovery kits.
pub fn create_new_private_file(path: &Path) -> Result<std::fs::File> {
    private_options().create_new(true).open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Error::InvalidInput(format!(
                "{} already exists: choose a new file name (nothing was overwritten)",
                path.display()
            ))
        } else {
            Error::io("creating", path, e)
        }
    })
}

/// Writes the file `path` whole or not at all, for files handed to the
/// user (exports, reports): `write` fills a temporary file beside it
/// (owner-only, as a dump's data deserves), which reaches the disk and is
/// then renamed into place. An existing file is replaced only with
/// `overwrite`; a failed `write` leaves nothing behind.
pub fn write_whole_file<T>(path: &Path, overwrite: bool, write: impl FnOnce(&mut dyn std::io::Write) -> Result<T>) -> Result<T> {
    if path.is_dir() {
        return Err(Error::InvalidInput(format!("{} is a folder: name a file in it", path.display())));
    }
    if !overwrite && path.exists() {
        return Err(Error::InvalidInput(format!(
            "{} exists: choose another file, or say to replace it (--force)",
            path.display()
        )));
    }
    let failed = |e: std::io::Error| Error::Output(std::io::Error::new(e.kind(), format!("{}: {e}", path.display())));
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".lifeboat-export-")
        .tempfile_in(folder)
        .map_err(failed)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file.as_file_mut());
    let written = write(&mut out)?;
    out.into_inner().map_err(|e| failed(e.into_error()))?;
    file.as_file().sync_all().map_err(failed)?;
    let persisted = if overwrite {
        file.persist(path)
    } else {
        // A hard link keeps a file made meanwhile; FAT and exFAT drives
        // have none, and the check above has to do there.
        file.persist_noclobber(path).or_else(|e| match e.error.kind() {
            std::io::ErrorKind::AlreadyExists => Err(e),
            _ => e.file.persist(path),
        })
    };
    persisted.map_err(|e| failed(e.error))?;
    // The rename reaches the disk with its folder.
    if let Ok(folder) = std::fs::File::open(folder) {
        let _ = folder.sync_all();
    }
    Ok(written)
}

/// Opens `path` for appending, created 0600 when missing: the event log.
pub fn open_private_append(path: &Path) -> Result<std::fs::File> {
    private_options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io("opening", path, e))
}

fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| Error::io("protecting", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}
