//! # lifeboat-core
//!
//! The engine of Lifeboat: an encrypted, deduplicated repository for
//! PostgreSQL dumps (and any other byte stream), with the jobs that fill it
//! and read it back. It has no GUI dependency; the `lifeboat` CLI and the
//! desktop app are thin callers of the same functions.
//!
//! - [`repo`]: the repository format and its operations (put, cat, check,
//!   forget, prune, keys, locks).
//! - [`crypto`]: the master key, key slots, recovery kits, the keychain cache.
//! - [`backend`]: where the repository's bytes live.
//! - [`progress`]: how long jobs report progress and get cancelled.
//! - [`pg`]: PostgreSQL connections, client tools, inspection; [`jobs`]:
//!   backups, verification, restores and drills of databases.
//! - [`catalog`]: the workstation's own state (SQLite): known repositories,
//!   connections, settings, run history. [`paths`]: where it lives.
//! - [`connections`]: the team's databases by name, passwords in the keychain.
//! - [`schedule`]: scheduled backups with retention, drills, staleness
//!   alarms; [`events`] and [`notify`]: what happened, and telling the admin.
//! - [`ops`]: every job a person or a schedule starts (backup, verify,
//!   restore, drill, retention), recorded and announced in one place.
//!
//! ```no_run
//! use std::sync::Arc;
//! use lifeboat_core::backend::LocalBackend;
//! use lifeboat_core::repo::{open, read, store};
//! use lifeboat_core::progress::NoProgress;
//!
//! # fn main() -> lifeboat_core::Result<()> {
//! let backend = Arc::new(LocalBackend::new("/mnt/nas/lifeboat"));
//! let opened = open::open(backend, open::OpenRequest { passphrase: Some("secret".into()), ..Default::default() })?;
//! let options = store::PutOptions { tag: "app-db".into(), ..Default::default() };
//! let report = store::put(&opened.repo, &mut std::io::stdin(), &options, &NoProgress)?;
//! let snapshot = lifeboat_core::repo::manifest::resolve(&opened.repo, &report.snapshot_id)?;
//! read::cat(&opened.repo, &snapshot, &mut std::io::stdout(), &NoProgress, Default::default())?;
//! # Ok(()) }
//! ```

pub mod backend;
pub mod catalog;
pub mod channels;
pub mod connections;
pub mod crypto;
mod error;
pub mod events;
pub mod jobs;
pub mod notify;
pub mod ops;
pub mod paths;
pub mod pg;
pub mod progress;
pub mod repo;
pub mod report;
pub mod schedule;
pub mod tokens;
pub mod trigger;
pub mod units;

pub use error::{Error, Result};
