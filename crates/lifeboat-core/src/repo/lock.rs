//! Repository locks, safe on a folder several workstations share.
//!
//! A job writes `locks/<random id>` with who holds it (host, pid, user) and
//! refreshes its time while it runs. Shared locks (backups, reads) coexist;
//! an exclusive lock (forget, prune) excludes everything. A lock is stale when
//! its time was not refreshed for [`STALE_AFTER`], or when it was taken on this
//! host by a process that no longer runs; stale locks block nothing, are
//! reported by `check`, and are removed by `lifeboat unlock`.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::Repository;
use crate::backend::Backend;
use crate::crypto::random_bytes;
use crate::error::{Error, Result};

/// How often a held lock's time is refreshed.
const REFRESH_EVERY: Duration = Duration::from_secs(120);
/// A lock not refreshed for this long is stale.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::minutes(30);

/// What a lock file says.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LockInfo {
    pub host: String,
    pub pid: u32,
    pub user: String,
    pub operation: String,
    pub exclusive: bool,
    pub created: DateTime<Utc>,
    /// Last refresh.
    pub time: DateTime<Utc>,
}

impl LockInfo {
    /// Whether this lock no longer protects a running job.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        now - self.time > STALE_AFTER || (self.host == this_host() && !process_alive(self.pid))
    }

    /// "host 'nas-admin' (pid 1234, user bob, backup since ...)".
    pub fn describe(&self) -> String {
        format!(
            "{} lock of host '{}' (pid {}, user {}, {} since {})",
            if self.exclusive { "an exclusive" } else { "a shared" },
            self.host,
            self.pid,
            self.user,
            self.operation,
            self.created.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

fn this_host() -> String {
    whoami::fallible::hostname().unwrap_or_else(|_| "unknown".into())
}

#[cfg(target_os = "linux")]
pub(crate) fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn process_alive(_pid: u32) -> bool {
    // Without a cheap portable check, rely on the refresh time alone.
    true
}

/// A held lock; released (its file removed) when dropped.
pub struct LockGuard {
    backend: Arc<dyn Backend>,
    path: String,
    stop: Arc<(Mutex<bool>, Condvar)>,
    refresher: Option<JoinHandle<()>>,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let (stopped, signal) = &*self.stop;
        *stopped.lock().expect("lock flag") = true;
        signal.notify_all();
        if let Some(handle) = self.refresher.take() {
            let _ = handle.join();
        }
        if let Err(e) = self.backend.remove(&self.path) {
            tracing::warn!("could not remove lock {}: {e}", self.path);
        }
    }
}

/// Every lock file, with its content or why it could not be read.
pub fn list_locks(backend: &dyn Backend) -> Result<Vec<(String, Result<LockInfo>)>> {
    let mut locks = Vec::new();
    for file in backend.list("locks")? {
        let info = backend.read(&format!("locks/{}", file.name)).and_then(|bytes| {
            serde_json::from_slice::<LockInfo>(&bytes).map_err(|e| Error::corrupt(format!("lock locks/{}", file.name), e.to_string()))
        });
        locks.push((file.name, info));
    }
    Ok(locks)
}

/// Takes a lock, retrying while a conflicting live lock exists, for up to `wait`.
pub fn acquire(repo: &Repository, exclusive: bool, operation: &str, wait: Duration) -> Result<LockGuard> {
    let backend = repo.backend_arc();
    let deadline = Instant::now() + wait;
    let now = Utc::now();
    let info = LockInfo {
        host: this_host(),
        pid: std::process::id(),
        user: whoami::username(),
        operation: operation.to_string(),
        exclusive,
        created: now,
        time: now,
    };
    let name = crate::repo::format::hex(&random_bytes::<16>());
    let path = format!("locks/{name}");
    loop {
        let mut info = info.clone();
        info.time = Utc::now();
        backend.write(&path, &serde_json::to_vec(&info).expect("lock serializes"))?;
        let conflict = list_locks(backend.as_ref())?.into_iter().find_map(|(other, lock)| match lock {
            Ok(lock) if other != name && (exclusive || lock.exclusive) && !lock.is_stale(Utc::now()) => Some(lock),
            _ => None,
        });
        let Some(conflict) = conflict else {
            return Ok(start_refresher(backend, path, info));
        };
        backend.remove(&path)?;
        if Instant::now() >= deadline {
            return Err(Error::Locked {
                holder: conflict.describe(),
            });
        }
        // Random back-off so two jobs that saw each other do not collide again.
        std::thread::sleep(Duration::from_millis(rand::thread_rng().gen_range(200..1200)));
    }
}

/// A shared lock for a job that only reads. Without write access (a
/// write-protected share, a restore-only account, a mounted snapshot), or
/// when the repository was opened to read without locks, it proceeds
/// without one and says what that gives up: a prune running meanwhile could
/// remove data the job reads, which then fails (it never returns wrong bytes:
/// every blob is authenticated).
pub fn acquire_for_reading(repo: &Repository, operation: &str, wait: Duration) -> Result<Option<LockGuard>> {
    const RISK: &str = "a prune running at the same time could remove data it reads; the job would then fail, never return wrong bytes";
    if repo.reads_without_lock() {
        tracing::warn!("{operation} without a lock (--no-lock): {RISK}");
        return Ok(None);
    }
    match acquire(repo, false, operation, wait) {
        Ok(guard) => Ok(Some(guard)),
        Err(Error::ReadOnly { path }) => {
            tracing::warn!(
                "cannot write a lock to the repository ({}): {operation} without a lock: {RISK}",
                path.display()
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn start_refresher(backend: Arc<dyn Backend>, path: String, info: LockInfo) -> LockGuard {
    let stop = Arc::new((Mutex::new(false), Condvar::new()));
    let refresher = {
        let (backend, path, stop) = (backend.clone(), path.clone(), stop.clone());
        std::thread::spawn(move || {
            let (stopped, signal) = &*stop;
            let mut guard = stopped.lock().expect("lock flag");
            // The flag is checked before every wait: a guard dropped before
            // this thread first waits must not leave it sleeping.
            while !*guard {
                let (g, timeout) = signal.wait_timeout(guard, REFRESH_EVERY).expect("lock flag");
                guard = g;
                if timeout.timed_out() && !*guard {
                    let mut info = info.clone();
                    info.time = Utc::now();
                    if let Err(e) = backend.write(&path, &serde_json::to_vec(&info).expect("lock serializes")) {
                        tracing::warn!("could not refresh lock {path}: {e}");
                    }
                }
            }
        })
    };
    LockGuard {
        backend,
        path,
        stop,
        refresher: Some(refresher),
    }
}

/// What `unlock` removed.
#[derive(Debug, Default)]
pub struct Unlocked {
    /// Lock files, with what they said when they could be read.
    pub locks: Vec<(String, Option<LockInfo>)>,
    /// Half-written lock files of processes killed while taking a lock.
    pub temporary_files: Vec<String>,
}

/// A lock file is written in microseconds; one seen twice this far apart is
/// a killed writer's leftover. Comparing two listings needs no clock to
/// agree with another machine's.
const TEMPORARY_SETTLE: Duration = Duration::from_secs(2);

/// Removes the temporary files under `locks/` that interrupted lock writes
/// left behind: with `all`, every one; otherwise those still there
/// [`TEMPORARY_SETTLE`] after a first listing (`earlier`, when the caller
/// made one, with when). Removing one being written only makes that
/// writer's lock attempt fail cleanly.
pub fn remove_temporary_lock_files(backend: &dyn Backend, all: bool, earlier: Option<(Instant, Vec<String>)>) -> Result<Vec<String>> {
    let first = match earlier {
        Some(listing) => listing,
        None => (Instant::now(), temporary_lock_files(backend)?),
    };
    let leftovers = if all || first.1.is_empty() {
        first.1
    } else {
        let waited = first.0.elapsed();
        if waited < TEMPORARY_SETTLE {
            std::thread::sleep(TEMPORARY_SETTLE - waited);
        }
        let now = temporary_lock_files(backend)?;
        first.1.into_iter().filter(|p| now.contains(p)).collect()
    };
    for path in &leftovers {
        backend.remove(path)?;
    }
    Ok(leftovers)
}

/// Half-written lock files present now.
pub(crate) fn temporary_lock_files(backend: &dyn Backend) -> Result<Vec<String>> {
    Ok(backend.list_temporary()?.into_iter().filter(|p| p.starts_with("locks/")).collect())
}

/// Removes stale locks (or every lock with `all`) and leftover half-written
/// lock files; returns what was removed.
pub fn unlock(backend: &dyn Backend, all: bool) -> Result<Unlocked> {
    let temporary_files = remove_temporary_lock_files(backend, all, None)?;
    let now = Utc::now();
    let mut removed = Vec::new();
    for (name, info) in list_locks(backend)? {
        let remove = match &info {
            Ok(lock) => all || lock.is_stale(now),
            // An unreadable lock file protects nothing.
            Err(_) => true,
        };
        if remove {
            backend.remove(&format!("locks/{name}"))?;
            removed.push((name, info.ok()));
        }
    }
    Ok(Unlocked {
        locks: removed,
        temporary_files,
    })
}
