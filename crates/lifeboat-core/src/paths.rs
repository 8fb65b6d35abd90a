//! Where the workstation keeps its own files. Resolved here so the CLI and
//! the desktop app agree.

use std::path::PathBuf;

use crate::error::{Error, Result};

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

    /// The JSON-lines event log every process on the workstation appends to.
    pub fn events(&self) -> PathBuf {
        self.data_dir.join("events.jsonl")
    }
}
