//! The workstation's own state in SQLite: the repositories it knows, the
//! database connections, its settings, and the history of every run.
//!
//! The catalog is a cache and a diary, never the source of truth for
//! backups: losing it loses history, not data. Secrets are never stored here.

mod api_jobs;
mod channels;
mod connections;
mod offsite;
mod repositories;
mod runs;
mod schedules;
mod settings;
mod snapshots;
mod tokens;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::error::{Error, Result};

pub use offsite::OffsiteCopy;
pub use repositories::RepositoryRecord;
pub use runs::{Run, RunFilter, RunKind, RunStatus};

/// The SQLite catalog.
#[derive(Clone)]
pub struct Catalog {
    pool: SqlitePool,
    path: PathBuf,
}

fn timestamp(t: DateTime<Utc>) -> String {
    // Fixed width, so text order is time order.
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::corrupt("the catalog", format!("bad time {text:?}: {e}")))
}

fn enum_text<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn parse_enum<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| Error::corrupt("the catalog", format!("unknown value {text:?}: written by a newer Lifeboat?")))
}

impl Catalog {
    /// Opens (creating if needed) the catalog at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Catalog> {
        let fail = |detail: String| Error::Catalog {
            path: path.to_owned(),
            detail,
        };
        if let Some(parent) = path.parent() {
            crate::paths::create_private_dir(parent)?;
        }
        // Created 0600 before SQLite opens it: SQLite gives its -wal and
        // -shm files the database file's permissions.
        crate::paths::create_private_file(path)?;
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| fail(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(10));
        // Two processes opening a new catalog at once would both switch it
        // to WAL and create its tables; the second would fail. A lock file
        // beside the catalog lets one set it up while the other waits.
        let migration_lock = lock_for_migration(path).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| fail(e.to_string()))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| fail(format!("{e}: was it written by a newer Lifeboat?")))?;
        drop(migration_lock);
        Ok(Catalog {
            pool,
            path: path.to_owned(),
        })
    }

    fn error(&self, e: sqlx::Error) -> Error {
        Error::Catalog {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }
}

/// The catalog's migration lock, held until the returned file is dropped.
async fn lock_for_migration(catalog: &Path) -> Result<std::fs::File> {
    let mut name = catalog.as_os_str().to_owned();
    name.push(".migrate-lock");
    let path = std::path::PathBuf::from(name);
    tokio::task::spawn_blocking(move || {
        let file = crate::paths::open_lock_file(&path)?;
        file.lock().map_err(|e| Error::io("locking", &path, e))?;
        Ok(file)
    })
    .await
    .map_err(|e| Error::Catalog {
        path: catalog.to_owned(),
        detail: format!("waiting for the migration lock: {e}"),
    })?
}

#[cfg(test)]
mod test_support {
    use chrono::{DateTime, TimeZone, Utc};

    pub fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 10, minute, 0).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::at;
    use super::*;

    #[cfg(unix)]
    #[tokio::test]
    async fn the_catalog_its_wal_files_and_the_data_folder_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let path = dir.path().join("state/catalog.sqlite");
        let catalog = Catalog::open(&path).await.unwrap();
        catalog.remember_repository("r1", "/mnt/a", "team", at(1)).await.unwrap();
        assert_eq!(mode(&dir.path().join("state")), 0o700);
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    #[test]
    fn processes_opening_a_new_catalog_at_once_all_get_it() {
        // Each thread has its own runtime, pool and lock file handle, as
        // separate processes (the app, the daemon, a CLI run) would.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let openers: Vec<_> = (0..6)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    runtime.block_on(async {
                        let catalog = Catalog::open(&path).await?;
                        catalog.repositories().await.map(|r| r.len())
                    })
                })
            })
            .collect();
        for opener in openers {
            assert_eq!(opener.join().unwrap().unwrap(), 0);
        }
    }

    #[tokio::test]
    async fn an_unusable_catalog_path_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, b"x").unwrap();
        let err = Catalog::open(&file.join("catalog.sqlite")).await.err().unwrap();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }
}
