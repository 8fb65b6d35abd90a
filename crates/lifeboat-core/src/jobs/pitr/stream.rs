//! Streaming WAL instead of `archive_command`: `pg_receivewal` of a
//! matching major over a replication slot writes segments into a private
//! spool folder on this workstation, and each completed one is pushed into
//! the repository like an archived file. The slot makes the server keep
//! what the workstation missed while it was off; the newest pushed segment
//! stays in the spool, so a restarted `pg_receivewal` resumes after it
//! (it would otherwise start at the server's current position, and what
//! the slot kept would be skipped).
//!
//! A forgotten slot fills the server's disk, so the WAL it holds back is
//! measured every minute against a limit.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::archive::{self, PushReport};
use super::base_backup::server_facts;
use crate::error::{Error, Result};
use crate::paths;
use crate::pg::inspect::{self, pg_error};
use crate::pg::{tools, ConnectionSpec};
use crate::progress::NoProgress;
use crate::repo::{wal, Repository};

/// How often the slot's retained WAL is measured.
const SLOT_CHECK: Duration = Duration::from_secs(60);
/// How long to wait before starting a `pg_receivewal` that stopped.
const RESTART_DELAY: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct StreamOptions {
    /// The archive's name.
    pub name: String,
    /// The replication slot (made when missing).
    pub slot: String,
    pub pg_bin: Option<PathBuf>,
    /// This workstation's private folder for `pg_receivewal`'s files.
    pub spool: PathBuf,
    /// WAL the slot may hold back on the server before the alarm, in bytes.
    pub retained_alarm: u64,
    pub lock_wait: Duration,
}

/// What happened while streaming, for the caller to announce.
#[derive(Clone, Debug)]
pub enum StreamNotice {
    Archived(PushReport),
    /// `pg_receivewal` stopped (it is started again); why.
    ReceiverStopped(String),
    /// The slot holds back more WAL than allowed.
    SlotRetains {
        bytes: u64,
        limit: u64,
    },
    /// A WAL file could not be stored (tried again).
    PushFailed(String),
}

#[derive(Clone, Debug, Serialize)]
pub struct StreamReport {
    pub name: String,
    pub slot: String,
    /// WAL files stored by this run.
    pub archived: u64,
    pub seconds: f64,
}

/// The slot name a stream of archive `name` uses unless told: lower-case
/// letters, digits and `_`, as PostgreSQL requires.
pub fn default_slot(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    format!("lifeboat_{cleaned}").chars().take(63).collect()
}

fn validate_slot(slot: &str) -> Result<()> {
    let ok = (1..=63).contains(&slot.len()) && slot.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "`{slot}` cannot be a replication slot's name: use 1-63 lower-case letters, digits and _"
        )))
    }
}

/// Streams the WAL of the cluster `spec` reaches into archive
/// `options.name` until `stop` says so; `notice` hears what happens.
pub async fn stream(
    repo: Arc<Repository>,
    spec: &ConnectionSpec,
    options: &StreamOptions,
    notice: &(dyn Fn(StreamNotice) + Send + Sync),
    stop: &(dyn Fn() -> bool + Send + Sync),
) -> Result<StreamReport> {
    let started = Instant::now();
    wal::validate_name(&options.name)?;
    validate_slot(&options.slot)?;
    if !repo.config().holds_wal() {
        return Err(Error::InvalidInput(format!(
            "this repository is at format {}, which cannot hold WAL: run `lifeboat migrate` first",
            repo.config().version
        )));
    }
    let server = server_facts(spec, &options.name).await?;
    let pg = tools::find(crate::pg::inspect::major_of(server.version_num), options.pg_bin.as_deref())?;
    let receivewal = pg.tool("pg_receivewal");
    create_slot(&receivewal, spec, &options.slot)?;
    paths::create_private_dir(&options.spool)?;

    let mut archived = 0u64;
    let mut pushed = BTreeSet::new();
    let mut receiver: Option<Receiver> = None;
    let mut restart_at = Instant::now();
    let mut next_slot_check = Instant::now();
    loop {
        let stopping = stop();
        if receiver.as_mut().is_some_and(|r| r.exited()) {
            let why = receiver.take().map(Receiver::why).unwrap_or_default();
            if !stopping {
                notice(StreamNotice::ReceiverStopped(why));
            }
            restart_at = Instant::now() + RESTART_DELAY;
        }
        if receiver.is_none() && !stopping && Instant::now() >= restart_at {
            receiver = Some(Receiver::start(&receivewal, spec, &options.spool, &options.slot)?);
        }
        let repo_for_push = repo.clone();
        let (spool, name, lock_wait, already) = (options.spool.clone(), options.name.clone(), options.lock_wait, pushed.clone());
        let outcome = crate::jobs::blocking(move || Ok(push_completed(&repo_for_push, &name, &spool, &already, lock_wait))).await?;
        for result in outcome {
            match result {
                Ok(report) => {
                    pushed.insert(report.file.clone());
                    archived += u64::from(!report.already_archived);
                    notice(StreamNotice::Archived(report));
                }
                Err(e) => notice(StreamNotice::PushFailed(e.to_string())),
            }
        }
        forget_older(&options.spool, &mut pushed);
        if stopping {
            if let Some(receiver) = receiver.take() {
                receiver.stop();
                continue;
            }
            break;
        }
        if Instant::now() >= next_slot_check {
            next_slot_check = Instant::now() + SLOT_CHECK;
            match retained(spec, &options.slot).await {
                Ok(bytes) if bytes > options.retained_alarm => notice(StreamNotice::SlotRetains {
                    bytes,
                    limit: options.retained_alarm,
                }),
                Ok(_) => {}
                Err(e) => tracing::warn!("could not measure the WAL slot {} holds back: {e}", options.slot),
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(StreamReport {
        name: options.name.clone(),
        slot: options.slot.clone(),
        archived,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn create_slot(receivewal: &Path, spec: &ConnectionSpec, slot: &str) -> Result<()> {
    let mut command = Command::new(receivewal);
    spec.set_libpq_env(&mut command);
    let output = command
        .args(["--create-slot", "--if-not-exists", "--no-password", "--slot", slot])
        .env("LC_MESSAGES", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("running", receivewal, e))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Postgres {
            action: "creating the replication slot on",
            target: spec.display_url(),
            detail: format!(
                "{} (the role needs REPLICATION, and pg_hba.conf a `replication` line for it)",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        })
    }
}

/// How much WAL the slot holds back on the server.
async fn retained(spec: &ConnectionSpec, slot: &str) -> Result<u64> {
    let mut conn = inspect::connect(spec).await?;
    let bytes: Option<i64> = sqlx::query_scalar(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1",
    )
    .bind(slot)
    .fetch_optional(&mut conn)
    .await
    .map_err(|e| pg_error("measuring the replication slot on", spec, e))?
    .flatten();
    Ok(u64::try_from(bytes.unwrap_or(0)).unwrap_or(0))
}

/// A running `pg_receivewal`, its stderr kept for when it stops.
struct Receiver {
    child: Child,
    stderr: std::thread::JoinHandle<String>,
}

impl Receiver {
    fn start(receivewal: &Path, spec: &ConnectionSpec, spool: &Path, slot: &str) -> Result<Receiver> {
        let mut command = Command::new(receivewal);
        spec.set_libpq_env(&mut command);
        let mut child = command
            .arg("--directory")
            .arg(spool)
            .args(["--slot", slot, "--no-loop", "--no-password"])
            .env("LC_MESSAGES", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io("running", receivewal, e))?;
        let mut pipe = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        });
        Ok(Receiver { child, stderr })
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    fn why(mut self) -> String {
        let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
        let stderr = self.stderr.join().unwrap_or_default();
        format!("pg_receivewal exited with {status}: {}", stderr.trim())
    }

    /// SIGTERM, so it writes out what it received, then waits.
    fn stop(mut self) {
        #[cfg(unix)]
        {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        }
        #[cfg(not(unix))]
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Completed WAL files in the spool not yet pushed by this run, oldest first.
fn completed(spool: &Path, already: &BTreeSet<String>) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(spool) else { return Vec::new() };
    let mut files: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|f| !f.ends_with(".partial") && wal::validate_file(f).is_ok() && !already.contains(f))
        .collect();
    files.sort();
    files
}

fn push_completed(repo: &Repository, name: &str, spool: &Path, already: &BTreeSet<String>, lock_wait: Duration) -> Vec<Result<PushReport>> {
    let mut results = Vec::new();
    for file in completed(spool, already) {
        let result = archive::push_file(repo, name, &spool.join(&file), lock_wait, &NoProgress);
        let failed = result.is_err();
        results.push(result);
        if failed {
            break;
        }
    }
    results
}

/// Removes pushed segments from the spool but the newest, which tells a
/// restarted `pg_receivewal` where to resume.
fn forget_older(spool: &Path, pushed: &mut BTreeSet<String>) {
    let segments: Vec<String> = pushed.iter().filter(|f| f.len() == 24).cloned().collect();
    if let Some((_newest, older)) = segments.split_last() {
        for file in older {
            if std::fs::remove_file(spool.join(file)).is_ok() || !spool.join(file).exists() {
                pushed.remove(file);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names_are_what_postgresql_takes() {
        assert_eq!(default_slot("Prod-15.eu"), "lifeboat_prod_15_eu");
        validate_slot(&default_slot(&"x".repeat(200))).unwrap();
        assert!(validate_slot("Bad-Slot").is_err());
        assert!(validate_slot("").is_err());
    }
}
