//! Finding PostgreSQL client tools (`pg_dump`, `pg_restore`, `pg_dumpall`,
//! `psql`) whose major version fits a server.
//!
//! `pg_dump` refuses servers newer than itself, and a newer `pg_dump`
//! writes settings an older server rejects on restore, so the choice is the
//! oldest installed major that is at least the server's.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::error::{Error, Result};

/// One installation's client tools.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PgTools {
    pub bin_dir: PathBuf,
    pub major: u32,
    /// As `pg_dump --version` prints it: "15.18".
    pub version: String,
}

impl PgTools {
    pub fn tool(&self, name: &str) -> PathBuf {
        self.bin_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
    }
}

/// Folders where PostgreSQL installations put their tools, per platform,
/// then those Lifeboat installed (`pg-binaries install`).
fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let patterns = [
        "/usr/lib/postgresql/*/bin",                          // Debian, Ubuntu
        "/usr/pgsql-*/bin",                                   // RHEL, Fedora (PGDG)
        "/opt/homebrew/opt/postgresql@*/bin",                 // Homebrew, Apple silicon
        "/usr/local/opt/postgresql@*/bin",                    // Homebrew, Intel
        "/Applications/Postgres.app/Contents/Versions/*/bin", // Postgres.app
        "C:/Program Files/PostgreSQL/*/bin",                  // EDB installer
    ];
    for pattern in patterns {
        let (parent, rest) = pattern.split_once('*').expect("pattern has a star");
        let Some((prefix_dir, name_prefix)) = parent.rsplit_once('/') else {
            continue;
        };
        let Ok(entries) = std::fs::read_dir(prefix_dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(_version) = name.strip_prefix(name_prefix) {
                dirs.push(PathBuf::from(format!("{prefix_dir}/{name}{rest}")));
            }
        }
    }
    dirs.extend(super::binaries::managed().into_iter().map(|m| m.bin_dir));
    dirs
}

/// The version `pg_dump --version` reports in `bin_dir`, if it runs.
pub fn probe(bin_dir: &Path) -> Option<PgTools> {
    let pg_dump = bin_dir.join(format!("pg_dump{}", std::env::consts::EXE_SUFFIX));
    let output = Command::new(&pg_dump).arg("--version").output().ok()?;
    if !output.status.success() {
        return None;
    }
    // "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.split_whitespace().nth(2)?.to_string();
    let major = version.split(['.', 'b', 'r']).next()?.parse().ok()?;
    Some(PgTools {
        bin_dir: bin_dir.canonicalize().unwrap_or_else(|_| bin_dir.to_owned()),
        major,
        version,
    })
}

/// Every installation found, oldest major first, without duplicates.
pub fn installed() -> Vec<PgTools> {
    let mut found: Vec<PgTools> = candidate_dirs().iter().filter_map(|d| probe(d)).collect();
    found.sort_by(|a, b| a.major.cmp(&b.major).then(a.bin_dir.cmp(&b.bin_dir)));
    found.dedup_by(|a, b| a.bin_dir == b.bin_dir);
    found
}

/// One installation's server binaries (`postgres`, `pg_ctl`): what runs a
/// recovered data directory, which only the same major can.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PgServer {
    pub bin_dir: PathBuf,
    pub major: u32,
    /// As `postgres --version` prints it: "15.18".
    pub version: String,
}

impl PgServer {
    pub fn tool(&self, name: &str) -> PathBuf {
        self.bin_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
    }
}

/// Every server install found (PATH, the usual folders, Lifeboat's own),
/// oldest major first.
pub fn installed_servers() -> Vec<PgServer> {
    let mut found: Vec<PgServer> = candidate_dirs().iter().filter_map(|d| probe_server(d)).collect();
    found.sort_by(|a, b| a.major.cmp(&b.major).then(a.bin_dir.cmp(&b.bin_dir)));
    found.dedup_by(|a, b| a.bin_dir == b.bin_dir);
    found
}

pub(crate) fn probe_server(bin_dir: &Path) -> Option<PgServer> {
    let postgres = bin_dir.join(format!("postgres{}", std::env::consts::EXE_SUFFIX));
    let pg_ctl = bin_dir.join(format!("pg_ctl{}", std::env::consts::EXE_SUFFIX));
    if !pg_ctl.exists() {
        return None;
    }
    let output = Command::new(&postgres).arg("--version").output().ok()?;
    // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.split_whitespace().nth(2)?.to_string();
    let major = version.split(['.', 'b', 'r']).next()?.parse().ok()?;
    // A folder on PATH may hold links to a few of the server's binaries:
    // the folder `pg_ctl` really lives in has the rest (pg_controldata,
    // pg_verifybackup, pg_dump).
    let real = pg_ctl.canonicalize().ok().and_then(|p| p.parent().map(Path::to_path_buf));
    output.status.success().then(|| PgServer {
        bin_dir: real.unwrap_or_else(|| bin_dir.to_owned()),
        major,
        version,
    })
}

/// The server binaries of exactly `major`: those in `explicit` when given
/// (they must be that major), else the first installed. `why` says what
/// needs them, in the error.
pub fn find_server(major: u32, explicit: Option<&Path>, why: &str) -> Result<PgServer> {
    let candidates: Vec<PgServer> = match explicit {
        Some(dir) => probe_server(dir).into_iter().collect(),
        None => candidate_dirs().iter().filter_map(|d| probe_server(d)).collect(),
    };
    if let Some(server) = candidates.iter().find(|s| s.major == major) {
        return Ok(server.clone());
    }
    let found = match (explicit, candidates.as_slice()) {
        (Some(dir), []) => format!("{} holds no postgres and pg_ctl that run", dir.display()),
        (None, []) => "none found".to_string(),
        (_, found) => {
            let list: Vec<String> = found.iter().map(|s| format!("{} in {}", s.version, s.bin_dir.display())).collect();
            format!("found only {}", list.join(", "))
        }
    };
    Err(Error::PgServerMissing {
        needed: major,
        found,
        why: why.to_owned(),
    })
}

/// The tools to use for a server of `server_major`: those in `explicit`
/// when given (they must fit), else the oldest installed major that fits.
pub fn find(server_major: u32, explicit: Option<&Path>) -> Result<PgTools> {
    let candidates = match explicit {
        Some(dir) => probe(dir).into_iter().collect(),
        None => installed(),
    };
    if let Some(tools) = candidates.iter().find(|t| t.major >= server_major) {
        return Ok(tools.clone());
    }
    let found = if candidates.is_empty() {
        "none found".to_string()
    } else {
        let list: Vec<String> = candidates
            .iter()
            .map(|t| format!("{} in {}", t.version, t.bin_dir.display()))
            .collect();
        format!("found only {}", list.join(", "))
    };
    Err(Error::PgToolsMissing {
        needed: server_major,
        found,
    })
}
