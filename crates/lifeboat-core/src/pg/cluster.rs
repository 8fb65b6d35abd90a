//! Clusters Lifeboat runs on this workstation (a recovery, a drill's
//! scratch copy): `pg_ctl` driven as the user the server runs as.
//!
//! PostgreSQL refuses to run as root, and so does `pg_ctl`. When Lifeboat
//! itself runs as root (a server's service, a root session) those clusters
//! run as an unprivileged [`ServerUser`] instead: their files are handed to
//! that user, and every `pg_ctl` runs as it (std drops root's
//! supplementary groups with the uid).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use crate::error::{Error, Result};

/// Names the user scratch clusters run as when Lifeboat runs as root.
pub const SERVER_USER_VARIABLE: &str = "LIFEBOAT_SERVER_USER";

/// The unprivileged user a cluster runs as, when this process is root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl ServerUser {
    /// None unless this process runs as root; then the user named by
    /// `LIFEBOAT_SERVER_USER`, else `postgres`, else `nobody`.
    pub fn for_servers() -> Result<Option<ServerUser>> {
        if !running_as_root() {
            return Ok(None);
        }
        let named = std::env::var(SERVER_USER_VARIABLE).ok().filter(|n| !n.is_empty());
        let candidates = match &named {
            Some(name) => vec![name.as_str()],
            None => vec!["postgres", "nobody"],
        };
        for name in candidates {
            if let Some(user) = lookup(name)? {
                if user.uid == 0 {
                    return Err(Error::InvalidInput(format!(
                        "{SERVER_USER_VARIABLE}={name} is root, and PostgreSQL refuses to run as root: name an unprivileged user"
                    )));
                }
                return Ok(Some(user));
            }
        }
        Err(Error::InvalidInput(match named {
            Some(name) => format!("{SERVER_USER_VARIABLE} names user {name}, which does not exist on this workstation"),
            None => format!(
                "PostgreSQL refuses to run as root, and neither user postgres nor nobody exists to run it as: \
                 create one, or name one in {SERVER_USER_VARIABLE}"
            ),
        }))
    }

    /// Makes `command` run as this user (std drops root's supplementary
    /// groups with the uid).
    pub fn run_as(&self, command: &mut Command) {
        std::os::unix::process::CommandExt::uid(command, self.uid);
        std::os::unix::process::CommandExt::gid(command, self.gid);
    }

    /// Hands `path` and everything under it to this user.
    pub fn take(&self, path: &Path) -> Result<()> {
        std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid)).map_err(|e| Error::io("handing over", path, e))?;
        if path.is_dir() && !path.is_symlink() {
            for entry in std::fs::read_dir(path).map_err(|e| Error::io("reading", path, e))? {
                let entry = entry.map_err(|e| Error::io("reading", path, e))?;
                self.take(&entry.path())?;
            }
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
fn lookup(name: &str) -> Result<Option<ServerUser>> {
    let user = nix::unistd::User::from_name(name).map_err(|e| Error::Internal(format!("looking up user {name}: {e}")))?;
    Ok(user.map(|u| ServerUser {
        name: u.name,
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
    }))
}

#[cfg(not(target_os = "linux"))]
fn lookup(_name: &str) -> Result<Option<ServerUser>> {
    Ok(None)
}

/// A value quoted for `postgresql.conf`.
pub(crate) fn conf_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

pub fn running_as_root() -> bool {
    #[cfg(target_os = "linux")]
    return rustix::process::geteuid().is_root();
    #[cfg(not(target_os = "linux"))]
    return false;
}

/// One cluster's `pg_ctl`, run as the cluster's owner.
#[derive(Clone, Debug)]
pub struct LocalCluster {
    pub pg_ctl: PathBuf,
    pub datadir: PathBuf,
    pub user: Option<ServerUser>,
}

impl LocalCluster {
    fn pg_ctl(&self) -> Command {
        let mut command = Command::new(&self.pg_ctl);
        command.arg("-D").arg(&self.datadir).env("LC_MESSAGES", "C").stdin(Stdio::null());
        if let Some(user) = &self.user {
            user.run_as(&mut command);
        }
        command
    }

    /// Starts the server, its output into `log`, without waiting for it to
    /// accept connections (a recovery may take long before it does).
    pub fn start(&self, log: &Path) -> Result<ExitStatus> {
        self.pg_ctl()
            .arg("-l")
            .arg(log)
            .args(["-W", "start"])
            .stdout(Stdio::null())
            .status()
            .map_err(|e| Error::io("running", &self.pg_ctl, e))
    }

    /// Starts the server, its output into `log`, and waits until it
    /// accepts connections (two minutes at most).
    pub fn start_and_wait(&self, log: &Path) -> Result<ExitStatus> {
        self.pg_ctl()
            .arg("-l")
            .arg(log)
            .args(["-w", "-t", "120", "start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| Error::io("running", &self.pg_ctl, e))
    }

    pub fn running(&self) -> bool {
        self.pg_ctl()
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Stops the server (`mode`: fast, or immediate for a copy that is
    /// thrown away) and waits for it.
    pub fn stop(&self, mode: &str) {
        let _ = self
            .pg_ctl()
            .args(["-m", mode, "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
