//! Point-in-time recovery: base backups of a whole cluster and its WAL in
//! the same repository, and recovery from them to a chosen moment.
//!
//! An *archive* is one cluster's PITR history under a name (`--name`):
//! - its base backups are snapshots tagged `NAME.base` (a `pg_basebackup`
//!   tar, with the WAL that makes it consistent, and [`BaseBackupFacts`]);
//! - its WAL files are `wal/` records (`repo::wal`), pushed one by one by
//!   the server's `archive_command` (`lifeboat wal-push`), or streamed by
//!   this workstation (`lifeboat wal stream`).
//!
//! `base_backup.rs` takes a base backup, `archive.rs` pushes and fetches
//! WAL files, `stream.rs` streams them over a replication slot instead,
//! `window.rs` says what can be recovered (and where the WAL has gaps),
//! `expire.rs` drops WAL no kept base backup needs, `drill.rs` proves a
//! base backup recovers on a scratch cluster, `recover.rs`
//! materialises a base backup and lets PostgreSQL replay the WAL up to
//! the target.

pub mod archive;
pub mod base_backup;
pub mod drill;
pub mod expire;
pub mod feeder;
pub mod onto_server;
pub mod recover;
pub mod restore_point;
pub mod stream;
pub mod window;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pg::inspect::major_of;
use crate::pg::wal::Lsn;
use crate::repo::manifest::Snapshot;

use crate::pg::facts::BASE_BACKUP_SOURCE;
/// The version of [`BaseBackupFacts`] this Lifeboat writes.
pub const BASE_FACTS_VERSION: u32 = 1;

/// Why a recovery needs server binaries of the backup's major, in errors.
pub(crate) const RECOVERS: &str = "only a server of a base backup's own major can recover it";

/// The snapshot name of archive `name`'s base backups.
pub fn base_tag(name: &str) -> String {
    format!("{name}.base")
}

/// What a base backup records, as its manifest's metadata.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BaseBackupFacts {
    /// Always "postgresql-base-backup".
    pub source: String,
    pub facts_version: u32,
    /// The archive (`--name`) it belongs to.
    pub archive: String,
    /// "host:port" of the server.
    pub server: String,
    pub user: String,
    pub connection: Option<String>,
    pub server_version: String,
    pub server_version_num: u32,
    pub pg_basebackup_version: String,
    /// `pg_control_system()`'s, as text (it does not fit a JSON number).
    pub system_identifier: String,
    pub timeline: u32,
    /// Where replay starts (`backup_label`).
    pub start_lsn: Option<Lsn>,
    /// Where the backup becomes consistent: recovery can stop no earlier.
    pub stop_lsn: Option<Lsn>,
    pub wal_segment_size: u64,
    /// Whether the server wrote a `backup_manifest` (PostgreSQL 13 and
    /// later), which recovery checks with `pg_verifybackup`.
    pub manifest: bool,
    /// Files in the tar.
    pub files: u64,
}

impl BaseBackupFacts {
    /// The facts of `snapshot`, which must be a base backup.
    pub fn of(snapshot: &Snapshot) -> Result<BaseBackupFacts> {
        let metadata = &snapshot.manifest.metadata;
        if metadata.get("source").and_then(|v| v.as_str()) != Some(BASE_BACKUP_SOURCE) {
            return Err(Error::InvalidInput(format!(
                "snapshot {} is not a base backup: `lifeboat recover` recovers base backups (`lifeboat base-backup`); \
                 restore a dump with `lifeboat restore`",
                &snapshot.id[..8]
            )));
        }
        let object = serde_json::Value::Object(metadata.clone().into_iter().collect());
        serde_json::from_value(object).map_err(|e| Error::Corrupt {
            what: format!("the facts of base backup {}", &snapshot.id[..8]),
            detail: e.to_string(),
        })
    }

    pub fn to_metadata(&self) -> BTreeMap<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map.into_iter().collect(),
            _ => unreachable!("BaseBackupFacts serializes to an object"),
        }
    }

    pub fn server_major(&self) -> u32 {
        major_of(self.server_version_num)
    }
}

/// Whether `snapshot` is a base backup (whatever its name).
pub fn is_base_backup(snapshot: &Snapshot) -> bool {
    snapshot.manifest.metadata.get("source").and_then(|v| v.as_str()) == Some(BASE_BACKUP_SOURCE)
}
