//! Scratch clusters: PostgreSQL servers this workstation runs for a while
//! and throws away: a base backup recovered to be checked (a drill) or
//! dumped (a recovery onto another server), or a fresh cluster a dump is
//! drilled or an upgrade rehearsed on.
//!
//! Each lives in `<root>/<group>/<time>` (the group: an archive, or
//! `drills`), on a free port, listening on its socket in that folder alone
//! (trusted there: only this user, or root, can reach it). Run as root, it
//! runs as an unprivileged user (`pg::cluster`) under `/var/tmp`, since the
//! root's own data folder is closed to that user. Each copy is claimed by a
//! lock on `<time>.lock` beside it while in use: whatever a crash left
//! (no claim) is removed before the next copy of that group starts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::paths;
use crate::pg::cluster::{conf_quote, LocalCluster, ServerUser};
use crate::pg::tools::PgServer;
use crate::pg::{inspect, ConnectionSpec, TlsMode};

/// Where scratch clusters go when Lifeboat runs as root.
const ROOT_SCRATCH: &str = "/var/tmp/lifeboat-scratch";
/// Names the folder scratch clusters go to instead (a larger disk).
pub const SCRATCH_VARIABLE: &str = "LIFEBOAT_SCRATCH_DIR";

pub struct ScratchCluster {
    /// The archive it recovers, or `drills`.
    pub group: String,
    pub datadir: PathBuf,
    pub port: u16,
    pub server: PgServer,
    /// Scratch clusters of this archive that a crash left, removed now.
    pub leftovers_dropped: Vec<String>,
    control: LocalCluster,
    _claim: std::fs::File,
}

impl ScratchCluster {
    /// Picks the folder and port of a new scratch cluster of `group`
    /// under `root` (this user's scratch folder; see the module docs as
    /// root).
    pub fn prepare(root: &Path, group: &str, server: PgServer, now: DateTime<Utc>) -> Result<ScratchCluster> {
        let user = ServerUser::for_servers()?;
        let root = scratch_root(root, user.is_some());
        let folder = root.join(group);
        for dir in [&root, &folder] {
            paths::create_private_dir(dir)?;
            if user.is_some() {
                // Root's folders: closed to listing, open to the user's
                // way into its own cluster below.
                paths::set_mode(dir, 0o711)?;
            }
        }
        let datadir = folder.join(now.format("%Y%m%dT%H%M%S%3f").to_string());
        let claim = paths::open_lock_file(&lock_path(&datadir))?;
        claim
            .try_lock()
            .map_err(|e| Error::Internal(format!("claiming the scratch cluster {}: {e}", datadir.display())))?;
        let control = LocalCluster {
            pg_ctl: server.tool("pg_ctl"),
            datadir: datadir.clone(),
            user,
        };
        let leftovers_dropped = remove_leftovers(&folder, &control);
        Ok(ScratchCluster {
            group: group.to_owned(),
            datadir,
            port: free_port()?,
            server,
            leftovers_dropped,
            control,
            _claim: claim,
        })
    }

    /// The user the server runs as, when not this process's.
    pub fn run_as(&self) -> Option<&ServerUser> {
        self.control.user.as_ref()
    }

    /// Makes a new, empty cluster in the folder (`initdb`, as the user it
    /// runs as; bootstrap superuser `postgres`, UTF-8, the C locale) with
    /// settings for a copy that is thrown away: no durability, no WAL
    /// kept, memory sized for this machine.
    pub fn init(&self) -> Result<()> {
        paths::create_private_dir(&self.datadir)?;
        if let Some(user) = self.run_as() {
            user.take(&self.datadir)?;
        }
        let initdb = self.server.tool("initdb");
        let mut command = std::process::Command::new(&initdb);
        command
            .arg("-D")
            .arg(&self.datadir)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
            .current_dir(&self.datadir)
            .env("LC_MESSAGES", "C")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        if let Some(user) = self.run_as() {
            user.run_as(&mut command);
        }
        let output = command.output().map_err(|e| Error::io("running", &initdb, e))?;
        if !output.status.success() {
            // Not a fault of Lifeboat's: the install or the folder is at fault.
            return Err(Error::InvalidInput(format!(
                "{} could not make the scratch cluster in {} ({}): {}",
                initdb.display(),
                self.datadir.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let conf = self.datadir.join("postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&conf).map_err(|e| Error::io("reading", &conf, e))?;
        text.push_str("# A scratch cluster of Lifeboat's: thrown away after use.\n");
        for line in throwaway_settings(self.port, &self.datadir, memory_bytes()) {
            text.push_str(&line);
            text.push('\n');
        }
        std::fs::write(&conf, text).map_err(|e| Error::io("writing", &conf, e))
    }

    /// Starts the cluster [`init`](Self::init) made and waits until it
    /// accepts connections; its output goes to `lifeboat-server.log` in its
    /// folder. A server that does not start is an error with its log's end.
    pub fn start(&self) -> Result<()> {
        let log = self.datadir.join("lifeboat-server.log");
        let status = self.control.start_and_wait(&log)?;
        if status.success() {
            return Ok(());
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(Error::InvalidInput(format!(
            "the scratch PostgreSQL {} server in {} did not start ({status}): {}",
            self.server.version,
            self.server.bin_dir.display(),
            tail.join(" / ")
        )))
    }

    /// Refuses to go on when the folder's file system has less than
    /// `needed` bytes free (what the restore will write, roughly).
    pub fn ensure_space(&self, needed: u64) -> Result<()> {
        let folder = self.datadir.parent().unwrap_or(&self.datadir);
        let free = free_bytes(folder)?;
        if free < needed {
            return Err(Error::InvalidInput(format!(
                "not enough disk space for the scratch cluster in {}: about {} needed, {} free; free some space there, \
                 or point {SCRATCH_VARIABLE} at a folder on a larger disk",
                folder.display(),
                crate::units::human_bytes(needed, 1),
                crate::units::human_bytes(free, 1),
            )));
        }
        Ok(())
    }

    /// Connects over the trusted socket as the cluster's bootstrap
    /// superuser: `first`, `postgres`, or this OS user gets in, and asks
    /// for that superuser's name.
    pub async fn superuser(&self, first: &str) -> Result<ConnectionSpec> {
        let socket = ConnectionSpec {
            host: self
                .datadir
                .canonicalize()
                .unwrap_or_else(|_| self.datadir.clone())
                .display()
                .to_string(),
            port: self.port,
            database: "postgres".into(),
            user: String::new(),
            password: None,
            tls: TlsMode::Disable,
        };
        let mut last_error = None;
        for user in [first.to_owned(), "postgres".into(), whoami::username()] {
            let spec = ConnectionSpec { user, ..socket.clone() };
            match inspect::connect(&spec).await {
                Ok(mut conn) => {
                    let superuser: String = sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE oid = 10")
                        .fetch_one(&mut conn)
                        .await
                        .map_err(|e| inspect::pg_error("reading the roles of", &spec, e))?;
                    let _ = sqlx::Connection::close(conn).await;
                    return Ok(ConnectionSpec {
                        user: superuser,
                        ..socket.clone()
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::Internal("no user to try".into())))
    }

    /// Stops the cluster at once and deletes its folder; returns whether it
    /// is gone. (A lock file left behind is removed with the next copy's
    /// leftovers.)
    pub fn remove(&self) -> bool {
        let gone = remove_cluster(&self.control);
        let _ = std::fs::remove_file(lock_path(&self.datadir));
        gone
    }
}

/// Where scratch clusters go: the folder `LIFEBOAT_SCRATCH_DIR` names,
/// else `root`, or as root a folder the unprivileged user can reach.
fn scratch_root(root: &Path, as_root: bool) -> PathBuf {
    if let Some(dir) = std::env::var_os(SCRATCH_VARIABLE).filter(|d| !d.is_empty()) {
        PathBuf::from(dir)
    } else if as_root {
        PathBuf::from(ROOT_SCRATCH)
    } else {
        root.to_owned()
    }
}

/// Settings of a cluster nobody keeps: speed over durability (`fsync`
/// off: a crash loses nothing anybody needs), no WAL kept or sent, no
/// autovacuum racing the restore, memory a share of this machine's.
fn throwaway_settings(port: u16, datadir: &Path, memory: u64) -> Vec<String> {
    const MIB: u64 = 1024 * 1024;
    let shared_buffers = (memory / 8).clamp(128 * MIB, 2048 * MIB) / MIB;
    let maintenance = (memory / 16).clamp(64 * MIB, 1024 * MIB) / MIB;
    let socket_dir = datadir.canonicalize().unwrap_or_else(|_| datadir.to_owned());
    vec![
        format!("port = {port}"),
        "listen_addresses = ''".into(),
        format!("unix_socket_directories = {}", conf_quote(&socket_dir.display().to_string())),
        "fsync = off".into(),
        "synchronous_commit = off".into(),
        "full_page_writes = off".into(),
        "wal_level = minimal".into(),
        "max_wal_senders = 0".into(),
        "archive_mode = off".into(),
        "autovacuum = off".into(),
        "max_wal_size = '4GB'".into(),
        "checkpoint_timeout = '30min'".into(),
        format!("shared_buffers = '{shared_buffers}MB'"),
        format!("maintenance_work_mem = '{maintenance}MB'"),
    ]
}

/// This machine's memory (Linux); 4 GiB assumed elsewhere.
fn memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(4 << 30)
}

/// Bytes free for this user on the file system holding `folder`.
#[cfg(target_os = "linux")]
fn free_bytes(folder: &Path) -> Result<u64> {
    let stat = rustix::fs::statvfs(folder).map_err(|e| Error::io("checking the free space of", folder, e.into()))?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Not measured off Linux: the restore itself reports a full disk.
#[cfg(not(target_os = "linux"))]
fn free_bytes(_folder: &Path) -> Result<u64> {
    Ok(u64::MAX)
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error::Internal(format!("finding a free port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::Internal(format!("finding a free port: {e}")))
}

fn remove_cluster(cluster: &LocalCluster) -> bool {
    if cluster.datadir.join("postmaster.pid").exists() {
        cluster.stop("immediate");
    }
    match std::fs::remove_dir_all(&cluster.datadir) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => {
            tracing::warn!("removing the scratch cluster {}: {e}", cluster.datadir.display());
            false
        }
    }
}

fn lock_path(datadir: &Path) -> PathBuf {
    datadir.with_extension("lock")
}

/// Removes the scratch clusters in `folder` that no running Lifeboat
/// claims: a crash left them. And lock files whose cluster is gone.
fn remove_leftovers(folder: &Path, control: &LocalCluster) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let found: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    // Old ones only: a copy starting now makes its lock before its folder.
    let stale = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > Duration::from_secs(600)))
    };
    for lock in found.iter().filter(|p| p.extension().is_some_and(|e| e == "lock")) {
        if !lock.with_extension("").exists() && stale(lock) && paths::open_lock_file(lock).is_ok_and(|claim| claim.try_lock().is_ok()) {
            let _ = std::fs::remove_file(lock);
        }
    }
    let mut removed = Vec::new();
    for datadir in found.into_iter().filter(|p| p.is_dir()) {
        let lock = lock_path(&datadir);
        let Ok(claim) = paths::open_lock_file(&lock) else {
            continue;
        };
        if claim.try_lock().is_err() {
            continue;
        }
        let cluster = LocalCluster {
            datadir,
            ..control.clone()
        };
        if remove_cluster(&cluster) {
            let _ = std::fs::remove_file(&lock);
            removed.push(cluster.datadir.display().to_string());
        }
    }
    removed
}
