//! Repository locks, safe on a folder several workstations share.
//!
//! A job writes `locks/<random id>` with who holds it (host, machine, pid,
//! user) and rewrites it while it runs. Shared locks (backups, reads)
//! coexist; an exclusive lock (forget, prune) excludes everything.
//!
//! A lock is stale when the storage has not seen it rewritten for
//! [`STALE_AFTER`] — both times read from the storage's own clock (the
//! file's modification time against that of a file just written), so two
//! workstations whose clocks disagree never judge each other's live locks
//! stale — or when it was taken on this very machine (machine id and boot,
//! not a host name that clones and containers share) by a process that no
//! longer runs. A job that takes a lock removes the stale ones in its way,
//! and a job checks it still holds its own ([`LockGuard::verify`]) before it
//! records anything: one that was only paused (a suspended laptop) then
//! stops cleanly instead of recording data a prune may have removed.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::format::SMALL_FILE_MAX;
use super::Repository;
use crate::backend::Backend;
use crate::crypto::random_bytes;
use crate::error::{Error, Result};

/// How often a held lock is rewritten.
const REFRESH_EVERY: Duration = Duration::from_secs(120);
/// A lock the storage has not seen rewritten for this long is stale.
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);
/// A job whose own lock could not be rewritten for this long no longer
/// trusts it: others may soon judge it stale.
const TRUSTED_FOR: Duration = Duration::from_secs(10 * 60);
/// Files under `locks/` with this prefix are clock probes, not locks.
const CLOCK_PROBE: &str = "clock-";

/// What a lock file says.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LockInfo {
    pub host: String,
    pub pid: u32,
    pub user: String,
    pub operation: String,
    pub exclusive: bool,
    pub created: DateTime<Utc>,
    /// Last refresh, by the holder's clock: shown, never compared.
    pub time: DateTime<Utc>,
    /// Which machine and boot took it (see [`this_machine`]); empty in locks
    /// written before it was recorded.
    #[serde(default)]
    pub machine: String,
}

impl LockInfo {
    /// Taken on this machine, in this boot, by a process that is gone.
    fn holder_is_gone(&self) -> bool {
        !self.machine.is_empty() && self.machine == this_machine() && !process_alive(self.pid)
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

/// This machine in this boot: the host name, `/etc/machine-id` and the
/// kernel's boot id, hashed. A pid means something only within one boot of
/// one machine; cloned VMs and containers share host names or machine ids,
/// rarely all three.
pub(crate) fn this_machine() -> String {
    use sha2::{Digest, Sha256};
    static MACHINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MACHINE
        .get_or_init(|| {
            let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
            let mut hash = Sha256::new();
            for part in [this_host(), read("/etc/machine-id"), read("/proc/sys/kernel/random/boot_id")] {
                hash.update(part.trim().as_bytes());
                hash.update([0]);
            }
            crate::repo::format::hex(&hash.finalize()[..12])
        })
        .clone()
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
    health: Arc<Mutex<Health>>,
    refresher: Option<JoinHandle<()>>,
}

/// What the refresher knows of its lock.
struct Health {
    last_written: Instant,
    /// Why the lock is no longer ours, once it is not.
    lost: Option<String>,
    /// The lock file's content as last written.
    content: Vec<u8>,
}

impl LockGuard {
    /// Fails unless this job still holds its lock: the file is there as it
    /// wrote it, and was rewritten recently. Called before a job records
    /// anything (a manifest, a removal).
    pub fn verify(&self) -> Result<()> {
        let health = self.health.lock().expect("lock health");
        if let Some(lost) = &health.lost {
            return Err(Error::LockLost { detail: lost.clone() });
        }
        if health.last_written.elapsed() > TRUSTED_FOR {
            return Err(Error::LockLost {
                detail: format!(
                    "it could not be refreshed for {} minutes",
                    health.last_written.elapsed().as_secs() / 60
                ),
            });
        }
        match self.backend.read(&self.path, SMALL_FILE_MAX) {
            Ok(bytes) if bytes == health.content => Ok(()),
            Ok(_) => Err(Error::LockLost {
                detail: format!("{} was replaced by another process", self.path),
            }),
            Err(Error::Missing(_)) => Err(Error::LockLost {
                detail: format!("{} was removed by another process", self.path),
            }),
            Err(e) => Err(e),
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let (stopped, signal) = &*self.stop;
        *stopped.lock().expect("lock flag") = true;
        signal.notify_all();
        if let Some(handle) = self.refresher.take() {
            let _ = handle.join();
        }
        let lost = self.health.lock().map(|h| h.lost.is_some()).unwrap_or(false);
        if !lost {
            if let Err(e) = self.backend.remove(&self.path) {
                tracing::warn!("could not remove lock {}: {e}", self.path);
            }
        }
    }
}

/// One file under `locks/`.
pub struct LockFile {
    pub name: String,
    /// Its content, or why it could not be read.
    pub info: Result<LockInfo>,
    /// When the storage last wrote it, by the storage's clock.
    pub modified: Option<std::time::SystemTime>,
}

impl LockFile {
    /// Whether it no longer protects a running job (see the module docs);
    /// `storage_now` is a time the storage just gave a file it wrote.
    pub fn is_stale(&self, storage_now: Option<std::time::SystemTime>) -> bool {
        let unrefreshed = match (storage_now, self.modified) {
            (Some(now), Some(modified)) => now.duration_since(modified).is_ok_and(|age| age > STALE_AFTER),
            _ => false,
        };
        unrefreshed || self.info.as_ref().is_ok_and(LockInfo::holder_is_gone)
    }
}

/// Every lock file.
pub fn list_locks(backend: &dyn Backend) -> Result<Vec<LockFile>> {
    let mut locks = Vec::new();
    for file in backend.list("locks")? {
        if file.name.starts_with(CLOCK_PROBE) {
            continue;
        }
        let info = backend.read(&format!("locks/{}", file.name), SMALL_FILE_MAX).and_then(|bytes| {
            serde_json::from_slice::<LockInfo>(&bytes).map_err(|e| Error::corrupt(format!("lock locks/{}", file.name), e.to_string()))
        });
        locks.push(LockFile {
            name: file.name,
            info,
            modified: file.modified,
        });
    }
    Ok(locks)
}

/// The storage's "now": the time it gives a file just written under
/// `locks/` (then removed). Without write access, or on storage that keeps
/// no times, this workstation's clock stands in.
pub fn storage_now(backend: &dyn Backend) -> std::time::SystemTime {
    let probe = format!("{CLOCK_PROBE}{}", crate::repo::format::hex(&random_bytes::<8>()));
    let path = format!("locks/{probe}");
    let seen = backend.write(&path, b"").ok().and_then(|()| {
        let listed = backend.list("locks").ok()?;
        let _ = backend.remove(&path);
        listed.into_iter().find(|f| f.name == probe)?.modified
    });
    seen.unwrap_or_else(std::time::SystemTime::now)
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
        machine: this_machine(),
    };
    let name = crate::repo::format::hex(&random_bytes::<16>());
    let path = format!("locks/{name}");
    loop {
        let mut info = info.clone();
        info.time = Utc::now();
        let content = serde_json::to_vec(&info).expect("lock serializes");
        backend.write(&path, &content)?;
        let locks = list_locks(backend.as_ref())?;
        // Our own file's time is the storage's now.
        let now = locks.iter().find(|l| l.name == name).and_then(|l| l.modified);
        let mut conflict = None;
        for lock in locks.iter().filter(|l| l.name != name) {
            let Ok(other) = &lock.info else { continue };
            if !(exclusive || other.exclusive) {
                continue;
            }
            if lock.is_stale(now) {
                // Removed, not just ignored: a holder that was only paused
                // finds it gone and stops before recording anything.
                tracing::warn!("removing a stale lock: {}", other.describe());
                backend.remove(&format!("locks/{}", lock.name))?;
                continue;
            }
            conflict = Some(other.clone());
            break;
        }
        let Some(conflict) = conflict else {
            return Ok(start_refresher(backend, path, content));
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

fn start_refresher(backend: Arc<dyn Backend>, path: String, written: Vec<u8>) -> LockGuard {
    let stop = Arc::new((Mutex::new(false), Condvar::new()));
    let health = Arc::new(Mutex::new(Health {
        last_written: Instant::now(),
        lost: None,
        content: written,
    }));
    let refresher = {
        let (backend, path, stop, health) = (backend.clone(), path.clone(), stop.clone(), health.clone());
        std::thread::spawn(move || {
            let (stopped, signal) = &*stop;
            let mut guard = stopped.lock().expect("lock flag");
            // The flag is checked before every wait: a guard dropped before
            // this thread first waits must not leave it sleeping.
            while !*guard {
                let (g, timeout) = signal.wait_timeout(guard, REFRESH_EVERY).expect("lock flag");
                guard = g;
                if timeout.timed_out() && !*guard && !refresh(backend.as_ref(), &path, &health) {
                    return;
                }
            }
        })
    };
    LockGuard {
        backend,
        path,
        stop,
        health,
        refresher: Some(refresher),
    }
}

/// Rewrites the lock with a new time, unless another process removed or
/// replaced it (then it is lost: never written back). Returns whether to
/// keep refreshing. Holds `health` throughout, so `verify` never sees a
/// rewrite half-recorded.
fn refresh(backend: &dyn Backend, path: &str, health: &Mutex<Health>) -> bool {
    let mut health = health.lock().expect("lock health");
    let detail = match backend.read(path, SMALL_FILE_MAX) {
        Ok(bytes) if bytes == health.content => None,
        Ok(_) => Some(format!("{path} was replaced by another process")),
        Err(Error::Missing(_)) => Some(format!("{path} was removed by another process")),
        Err(e) => {
            tracing::warn!("could not read lock {path}: {e}");
            return true;
        }
    };
    if let Some(detail) = detail {
        tracing::error!("lost the repository lock: {detail}");
        health.lost = Some(detail);
        return false;
    }
    let Ok(mut info) = serde_json::from_slice::<LockInfo>(&health.content) else {
        return true;
    };
    info.time = Utc::now();
    let content = serde_json::to_vec(&info).expect("lock serializes");
    match backend.write(path, &content) {
        Ok(()) => {
            health.last_written = Instant::now();
            health.content = content;
        }
        Err(e) => tracing::warn!("could not refresh lock {path}: {e}"),
    }
    true
}

/// What `unlock` removed.
#[derive(Debug, Default)]
pub struct Unlocked {
    /// Lock files, with what they said when they could be read.
    pub locks: Vec<(String, Option<LockInfo>)>,
    /// Half-written lock files of processes killed while taking a lock.
    pub temporary_files: Vec<String>,
    /// Clock and storage-test probes of processes killed while probing.
    pub probes: Vec<String>,
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

/// A probe is written, listed and removed at once: one this old under
/// `locks/` is a killed process's leftover.
const PROBE_LEFTOVER_AGE: Duration = Duration::from_secs(10 * 60);

/// Removes the clock probes (`locks/clock-*`, which also name the storage
/// tests' and S3 conditional-write probes) that killed processes left, judged
/// by the storage's `now`; returns their paths.
pub fn remove_leftover_probes(backend: &dyn Backend, now: std::time::SystemTime) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for file in backend.list("locks")? {
        let left_over = file
            .modified
            .is_some_and(|modified| now.duration_since(modified).is_ok_and(|age| age >= PROBE_LEFTOVER_AGE));
        if file.name.starts_with(CLOCK_PROBE) && left_over {
            let path = format!("locks/{}", file.name);
            backend.remove(&path)?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// Half-written lock files present now.
pub(crate) fn temporary_lock_files(backend: &dyn Backend) -> Result<Vec<String>> {
    Ok(backend.list_temporary()?.into_iter().filter(|p| p.starts_with("locks/")).collect())
}

/// Removes stale locks (or every lock with `all`) and leftover half-written
/// lock files; returns what was removed.
pub fn unlock(backend: &dyn Backend, all: bool) -> Result<Unlocked> {
    let temporary_files = remove_temporary_lock_files(backend, all, None)?;
    let storage_now = storage_now(backend);
    let probes = remove_leftover_probes(backend, storage_now)?;
    let now = Some(storage_now);
    let mut removed = Vec::new();
    for lock in list_locks(backend)? {
        // An unreadable lock file protects nothing.
        if all || lock.info.is_err() || lock.is_stale(now) {
            backend.remove(&format!("locks/{}", lock.name))?;
            removed.push((lock.name, lock.info.ok()));
        }
    }
    Ok(Unlocked {
        locks: removed,
        temporary_files,
        probes,
    })
}
