//! WAL for a recovery that Lifeboat runs itself, handed over through a
//! folder instead of a `lifeboat wal-fetch` per file.
//!
//! The recovering server's `restore_command` is a few lines of shell: it
//! asks for a file by creating `<file>.want` in the feed folder and waits
//! until the file appears there (then moves it into `pg_wal`) or
//! `<file>.absent` does (not archived, or damaged: recovery ends there);
//! once the feeder is closed (or its folder gone) every request fails at
//! once.
//! This process, which already holds the open repository, answers: every
//! byte authenticated before a file appears (`archive::fetch_file`).
//!
//! So the server needs neither the repository's secret nor the `lifeboat`
//! binary (the app has none), nothing opens the repository per WAL file,
//! and a server run as another user (see `pg::cluster`) only ever sees the
//! files it asked for.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::archive;
use crate::error::{Error, Result};
use crate::pg::cluster::ServerUser;
use crate::progress::NoProgress;
use crate::repo::{wal, Repository};

/// How long `restore_command` waits for an answer: 30 minutes, in 50 ms
/// steps (one WAL file from a slow remote repository takes seconds).
const WAIT_STEPS: u32 = 36_000;

pub struct WalFeeder {
    dir: PathBuf,
    stopping: Arc<AtomicBool>,
    damaged: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl WalFeeder {
    /// Starts answering requests for archive `name`'s WAL in `dir` (made
    /// here, and handed to `user` when the server runs as another user).
    pub fn start(repo: Arc<Repository>, name: &str, dir: &Path, user: Option<&ServerUser>, lock_wait: Duration) -> Result<WalFeeder> {
        crate::paths::create_private_dir(dir)?;
        if let Some(user) = user {
            user.take(dir)?;
        }
        let stopping = Arc::new(AtomicBool::new(false));
        let damaged = Arc::new(Mutex::new(Vec::new()));
        let serving = Serving {
            repo,
            name: name.to_owned(),
            dir: dir.to_owned(),
            user: user.cloned(),
            lock_wait,
            damaged: damaged.clone(),
        };
        let stop = stopping.clone();
        let thread = std::thread::Builder::new()
            .name("wal-feeder".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if !serving.answer_requests() {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            })
            .map_err(|e| Error::Internal(format!("starting the WAL feeder: {e}")))?;
        Ok(WalFeeder {
            dir: dir.to_owned(),
            stopping,
            damaged,
            thread: Some(thread),
        })
    }

    /// The `restore_command` that asks the feeder of `dir` (a `sh` script;
    /// PostgreSQL fills in `%f` and `%p`).
    pub fn restore_command(dir: &Path) -> String {
        format!(
            "d={}; f=%f; rm -f \"$d/$f.absent\"; : > \"$d/$f.want\" || exit 1; n=0; \
             while [ \"$n\" -lt {WAIT_STEPS} ]; do \
             if [ -e \"$d/$f\" ]; then exec mv -f \"$d/$f\" \"%p\"; fi; \
             if [ -e \"$d/$f.absent\" ] || [ -e \"$d/closed\" ] || [ ! -d \"$d\" ]; then exit 1; fi; \
             sleep 0.05; n=$((n+1)); done; exit 1",
            shell_quote(&dir.display().to_string())
        )
    }

    /// WAL files that were archived but could not be read back (damaged),
    /// with why.
    pub fn damaged(&self) -> Vec<String> {
        self.damaged.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Stops answering; a request still waiting fails at once.
    pub fn close(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        let _ = std::fs::write(self.dir.join("closed"), b"");
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for WalFeeder {
    fn drop(&mut self) {
        self.close();
    }
}

struct Serving {
    repo: Arc<Repository>,
    name: String,
    dir: PathBuf,
    user: Option<ServerUser>,
    lock_wait: Duration,
    damaged: Arc<Mutex<Vec<String>>>,
}

impl Serving {
    /// Answers every waiting request; returns whether there was one.
    fn answer_requests(&self) -> bool {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return false;
        };
        let wanted: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".want").map(str::to_owned))
            .collect();
        for file in &wanted {
            // Removed before the answer, so a request for the same file
            // right after this answer is seen as a new one.
            let _ = std::fs::remove_file(self.dir.join(format!("{file}.want")));
            if let Err(e) = self.answer(file) {
                if !matches!(e, Error::WalNotFound { .. }) {
                    tracing::warn!("WAL file {file} for a recovery of {}: {e}", self.name);
                    if let Ok(mut damaged) = self.damaged.lock() {
                        damaged.push(format!("{file}: {e}"));
                    }
                }
                let absent = self.dir.join(format!("{file}.absent"));
                let _ = std::fs::write(&absent, b"");
            }
        }
        !wanted.is_empty()
    }

    fn answer(&self, file: &str) -> Result<()> {
        // The name comes from the server's request: only WAL file names pass.
        wal::validate_file(file)?;
        // Made whole and handed over out of the script's sight first.
        let incoming = self.dir.join("incoming");
        crate::paths::create_private_dir(&incoming)?;
        let fetched = incoming.join(file);
        archive::fetch_file(&self.repo, &self.name, file, &fetched, self.lock_wait, &NoProgress)?;
        if let Some(user) = &self.user {
            user.take(&fetched)?;
        }
        let dest = self.dir.join(file);
        std::fs::rename(&fetched, &dest).map_err(|e| Error::io("handing over", &dest, e))
    }
}

/// A word quoted for `sh`.
pub(super) fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}
