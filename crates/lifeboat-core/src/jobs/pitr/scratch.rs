//! Scratch clusters: a base backup recovered on this workstation to be
//! checked (a drill) or dumped (a recovery onto another server), then
//! thrown away.
//!
//! Each lives in `<root>/<archive>/<time>`, started with the backup's
//! major on a free port, listening on its socket in that folder alone
//! (trusted there: only this user, or root, can reach it). Run as root, it
//! runs as an unprivileged user (`pg::cluster`) under `/var/tmp`, since the
//! root's own data folder is closed to that user. Each copy is claimed by a
//! lock on `<time>.lock` beside it while in use: whatever a crash left
//! (no claim) is removed before the next copy of that archive.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::recover::{RecoverOptions, RecoveryTarget};
use super::BaseBackupFacts;
use crate::error::{Error, Result};
use crate::paths;
use crate::pg::cluster::{LocalCluster, ServerUser};
use crate::pg::tools::PgServer;
use crate::pg::{inspect, ConnectionSpec, TlsMode};

/// Where scratch clusters go when Lifeboat runs as root.
const ROOT_SCRATCH: &str = "/var/tmp/lifeboat-scratch";

pub struct ScratchCluster {
    pub archive: String,
    pub datadir: PathBuf,
    pub port: u16,
    pub server: PgServer,
    /// Scratch clusters of this archive that a crash left, removed now.
    pub leftovers_dropped: Vec<String>,
    control: LocalCluster,
    _claim: std::fs::File,
}

impl ScratchCluster {
    /// Picks the folder and port of a new scratch copy of `archive` under
    /// `root` (this user's scratch folder; see the module docs as root).
    pub fn prepare(root: &Path, archive: &str, server: PgServer, now: DateTime<Utc>) -> Result<ScratchCluster> {
        let user = ServerUser::for_servers()?;
        let root = match user {
            Some(_) => PathBuf::from(ROOT_SCRATCH),
            None => root.to_owned(),
        };
        let folder = root.join(archive);
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
            archive: archive.to_owned(),
            datadir,
            port: free_port()?,
            server,
            leftovers_dropped,
            control,
            _claim: claim,
        })
    }

    /// How to recover base backup `base` to `target` into this cluster.
    pub fn recover_options(&self, base: &str, target: RecoveryTarget, lock_wait: Duration) -> RecoverOptions {
        RecoverOptions {
            name: self.archive.clone(),
            target,
            datadir: self.datadir.clone(),
            pg_bin: Some(self.server.bin_dir.clone()),
            base: Some(base.to_owned()),
            start_port: Some(self.port),
            lifeboat: None,
            repository: String::new(),
            scratch: true,
            lock_wait,
        }
    }

    /// Connects over the trusted socket as the cluster's bootstrap
    /// superuser: whoever took the base backup, `postgres`, or this OS user
    /// gets in, and asks for that superuser's name.
    pub async fn superuser(&self, facts: &BaseBackupFacts) -> Result<ConnectionSpec> {
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
        for user in [facts.user.clone(), "postgres".into(), whoami::username()] {
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

    /// Stops the cluster at once and deletes its folder; returns whether it is gone.
    pub fn remove(&self) -> bool {
        remove_cluster(&self.control) && std::fs::remove_file(lock_path(&self.datadir)).is_ok()
    }
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
/// claims: a crash left them.
fn remove_leftovers(folder: &Path, control: &LocalCluster) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for datadir in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
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
