//! Transport types: what crosses IPC to the UI. TypeScript declarations are
//! generated from these (see `bindings`), never written by hand.

use chrono::{DateTime, Utc};
use lifeboat_core::catalog::{OffsiteCopy, Run, RunKind, RunStatus};
use lifeboat_core::channels::{Route, WebhookFormat};
use lifeboat_core::connections::{Connection, ServerScope};
use lifeboat_core::jobs::drill::{DrillReport, Probe};
use lifeboat_core::pg::facts::PgFacts;
use lifeboat_core::pg::TlsMode;
use lifeboat_core::repo::manifest::SnapshotSummary;
use lifeboat_core::repo::open::OpenedWith;
use lifeboat_core::repo::retention::{KeepReason, RetentionPolicy};
use lifeboat_core::repo::slots::{KeySlot, SlotKind};
use lifeboat_core::repo::stats::{RepositoryStats, TagStats};
use lifeboat_core::schedule::Freshness;
#[cfg(test)]
use secrecy::ExposeSecret;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::ApiError;

/// Everything the window needs at start-up to pick its first screen.
#[derive(Clone, Debug, Serialize, TS)]
pub struct AppStatus {
    /// The open repository, if any.
    pub repository: Option<OpenRepository>,
    /// The repository opened last, when it could not be reopened on its own
    /// (no keychain entry, keychain locked, folder gone): ask for its secret.
    pub needs_unlock: Option<KnownRepository>,
    /// Why the last repository was not reopened, when that is worth saying.
    pub reopen_error: Option<ApiError>,
    pub data_dir: String,
    pub log_file: String,
    /// The user's home folder, to suggest where files go.
    pub home_dir: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Unlock {
    Passphrase,
    RecoveryKit,
    Keychain,
}

impl From<OpenedWith> for Unlock {
    fn from(with: OpenedWith) -> Self {
        match with {
            OpenedWith::Passphrase => Unlock::Passphrase,
            OpenedWith::RecoveryKit => Unlock::RecoveryKit,
            OpenedWith::Keychain => Unlock::Keychain,
        }
    }
}

#[derive(Clone, Debug, Serialize, TS)]
pub struct OpenRepository {
    pub id: String,
    pub location: String,
    pub label: String,
    pub opened_with: Unlock,
    /// The key could not be cached in the OS keychain (the app will ask again next time).
    pub keychain_warning: Option<String>,
}

#[derive(Clone, Debug, Serialize, TS)]
pub struct KnownRepository {
    pub id: String,
    pub location: String,
    pub label: String,
    pub last_opened_at: DateTime<Utc>,
}

/// What the user typed to create a repository.
#[derive(Clone, Debug, Deserialize, TS)]
pub struct CreateRequest {
    pub location: String,
    #[ts(type = "string")]
    pub passphrase: SecretString,
    /// Names the first key slot: who or which device holds this passphrase.
    pub key_label: String,
    pub repository_label: String,
    /// For an S3 location: the access key to use, saved in the keychain
    /// once it works. None: the environment's, or one saved before.
    #[serde(default)]
    pub access_key: Option<AccessKey>,
}

/// A remote location to try before creating or opening a repository there.
#[derive(Clone, Debug, Deserialize, TS)]
pub struct TestLocationRequest {
    pub location: String,
    /// For an S3 location: the access key typed (not saved by a test).
    #[serde(default)]
    pub access_key: Option<AccessKey>,
}

/// What trying a remote location found: listing, writing, reading back and
/// deleting all worked (else the test fails with what did not).
#[derive(Clone, Debug, Serialize, TS)]
pub struct LocationTest {
    /// The location's canonical text.
    pub location: String,
    /// A repository is there already (open it; do not create one).
    pub holds_repository: bool,
    /// A file is replaced whole, never torn.
    pub atomic_replace: bool,
    /// Two workstations creating a repository here at once cannot both win.
    pub conditional_create: bool,
}

/// An S3 access key, as typed.
#[derive(Clone, Debug, Deserialize, TS)]
pub struct AccessKey {
    pub access_key_id: String,
    #[ts(type = "string")]
    pub secret_access_key: SecretString,
}

impl AccessKey {
    /// The key, checked: both parts present.
    pub fn credentials(self) -> lifeboat_core::Result<lifeboat_core::crypto::keychain::StorageCredentials> {
        use secrecy::ExposeSecret;
        let access_key_id = self.access_key_id.trim().to_string();
        if access_key_id.is_empty() || self.secret_access_key.expose_secret().is_empty() {
            return Err(lifeboat_core::Error::InvalidField {
                field: "access_key",
                message: "enter both the access key ID and its secret, or neither to use this computer's AWS settings".into(),
            });
        }
        Ok(lifeboat_core::crypto::keychain::StorageCredentials {
            access_key_id,
            secret_access_key: self.secret_access_key,
        })
    }
}

/// What the user gave to open an existing repository: exactly one secret.
#[derive(Clone, Debug, Deserialize, TS)]
pub struct OpenRequest {
    pub location: String,
    #[ts(type = "string | null")]
    pub passphrase: Option<SecretString>,
    /// The recovery kit's text, pasted.
    #[ts(type = "string | null")]
    pub recovery_kit: Option<SecretString>,
    /// As in [`CreateRequest::access_key`].
    #[serde(default)]
    pub access_key: Option<AccessKey>,
}

#[derive(Clone, Debug, Serialize, TS)]
pub struct TagInfo {
    pub tag: String,
    pub snapshots: usize,
    pub latest: SnapshotSummary,
}

impl From<TagStats> for TagInfo {
    fn from(t: TagStats) -> Self {
        TagInfo {
            tag: t.tag,
            snapshots: t.snapshots,
            latest: t.latest,
        }
    }
}

/// The Repository screen's figures.
#[derive(Clone, Debug, Serialize, TS)]
pub struct RepositoryOverview {
    pub id: String,
    pub location: String,
    pub label: String,
    pub created: DateTime<Utc>,
    pub format_version: u32,
    pub snapshots: usize,
    pub damaged_snapshots: usize,
    pub tags: Vec<TagInfo>,
    pub logical_bytes: u64,
    pub stored_bytes: u64,
    pub packs: usize,
    /// Bytes protected per byte stored; null while nothing is stored.
    pub dedup_ratio: Option<f64>,
    pub keychain: KeychainStatus,
}

impl RepositoryOverview {
    pub(crate) fn new(
        open: &OpenRepository,
        created: DateTime<Utc>,
        format_version: u32,
        stats: RepositoryStats,
        keychain: KeychainStatus,
    ) -> Self {
        RepositoryOverview {
            id: open.id.clone(),
            location: open.location.clone(),
            label: open.label.clone(),
            created,
            format_version,
            snapshots: stats.snapshots,
            damaged_snapshots: stats.damaged_snapshots,
            dedup_ratio: stats.dedup_ratio(),
            tags: stats.tags.into_iter().map(Into::into).collect(),
            logical_bytes: stats.logical_bytes,
            stored_bytes: stats.stored_bytes,
            packs: stats.packs,
            keychain,
        }
    }
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum KeychainStatus {
    /// The key is cached: the app reopens this repository without asking.
    Cached,
    /// The keychain works but holds no key for this repository.
    NotCached,
    Unavailable {
        reason: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Passphrase,
    RecoveryKit,
}

#[derive(Clone, Debug, Serialize, TS)]
pub struct KeySlotInfo {
    pub id: String,
    pub short_id: String,
    pub kind: KeyKind,
    pub label: String,
    pub host: String,
    pub user: String,
    pub created: DateTime<Utc>,
    /// The slot this session opened the repository with.
    pub in_use: bool,
}

impl KeySlotInfo {
    pub(crate) fn new(slot: KeySlot, in_use_id: &str) -> Self {
        KeySlotInfo {
            short_id: slot.id.chars().take(8).collect(),
            in_use: slot.id == in_use_id,
            kind: match slot.kind {
                SlotKind::Passphrase => KeyKind::Passphrase,
                SlotKind::RecoveryKit => KeyKind::RecoveryKit,
            },
            id: slot.id,
            label: slot.label,
            host: slot.host,
            user: slot.user,
            created: slot.created,
        }
    }
}

#[derive(Clone, Debug, Deserialize, TS)]
pub struct AddKeyRequest {
    #[ts(type = "string")]
    pub passphrase: SecretString,
    pub label: String,
}

#[derive(Clone, Debug, Deserialize, TS)]
pub struct RecoveryKitRequest {
    /// File to write the kit to; it must not exist yet.
    pub path: String,
    pub label: String,
}

#[derive(Clone, Debug, Serialize, TS)]
pub struct RecoveryKitSaved {
    pub path: String,
    pub slot: KeySlotInfo,
}

#[derive(Clone, Debug, Serialize, TS)]
pub struct CheckResult {
    pub healthy: bool,
    pub read_data: bool,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// What to do about the errors, in order.
    pub next_steps: Vec<String>,
    pub snapshots: usize,
    pub packs: usize,
    pub blobs: usize,
    pub bytes_verified: u64,
    pub duration_ms: u64,
}

#[derive(Clone, Debug, Serialize, TS)]
pub struct PruneResult {
    pub packs_before: usize,
    pub packs_removed: usize,
    pub packs_repacked: usize,
    pub leftover_packs_removed: usize,
    pub bytes_before: u64,
    pub bytes_freed: u64,
}

/// A long job's progress, streamed to the UI.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
pub struct JobProgress {
    pub phase: String,
    pub done_bytes: u64,
    /// Null while the phase's total is unknown.
    pub total_bytes: Option<u64>,
    /// The item (table) the phase is on, and how many it has reached.
    pub item: Option<String>,
    pub items_done: u64,
}

#[derive(Clone, Debug, Default, Deserialize, TS)]
pub struct ActivityFilter {
    /// Empty: every kind.
    pub kinds: Vec<RunKind>,
    /// Empty: every status.
    pub statuses: Vec<RunStatus>,
    pub limit: Option<u32>,
}

/// The restore-test report to write: the period back from now, and where.
#[derive(Clone, Debug, Deserialize, TS)]
pub struct ReportRequest {
    pub since_days: u32,
    /// A `.pdf` or `.html` file.
    pub path: String,
    /// Replace the file if it exists.
    pub replace: bool,
}

#[derive(Clone, Debug, Serialize, TS)]
pub struct ReportSaved {
    pub path: String,
    /// Drills and restores in the period.
    pub entries: usize,
    pub passed: usize,
}

#[derive(Clone, Debug, Serialize, TS)]
pub struct ActivityEntry {
    pub id: i64,
    pub kind: RunKind,
    pub status: RunStatus,
    pub repository_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub summary: String,
    /// The job's report or error.
    pub detail: serde_json::Value,
}

impl From<Run> for ActivityEntry {
    fn from(run: Run) -> Self {
        ActivityEntry {
            id: run.id,
            kind: run.kind,
            status: run.status,
            repository_id: run.repository_id,
            started_at: run.started_at,
            finished_at: run.finished_at,
            summary: run.summary,
            detail: run.detail,
        }
    }
}

/// Where a database is, as the connection form and the restore wizard fill it in.
#[derive(Clone, Debug, Deserialize, TS)]
pub struct ConnectionFields {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub tls: TlsMode,
    /// Empty: the keychain's (see `saved_password_of`) or libpq's `.pgpass`.
    #[ts(type = "string | null")]
    pub password: Option<SecretString>,
    /// Use the password saved for this connection when none is typed.
    pub saved_password_of: Option<String>,
    /// Client tools folder; empty: search.
    pub pg_bin: Option<String>,
}

#[derive(Clone, Debug, Deserialize, TS)]
pub struct SaveConnectionRequest {
    pub name: String,
    pub fields: ConnectionFields,
    /// Edit the connection of that name instead of refusing it.
    pub replace: bool,
    /// Set for a whole server: which of its databases are backed up.
    /// `fields.database` is then only where Lifeboat connects to list them.
    pub server: Option<ServerScope>,
}

/// A notification channel as the Alerts form fills it in: e-mail
/// (`smtp_url`, `to`) or a webhook (`webhook_url`, `format`).
/// No `Debug`: a webhook's URL is its secret.
#[derive(Clone, Deserialize, TS)]
pub struct ChannelRequest {
    pub name: String,
    /// smtps://USER@HOST:465 or smtp://USER@HOST:587.
    pub smtp_url: Option<String>,
    /// Comma-separated addresses.
    pub to: Option<String>,
    /// Empty: the SMTP user when it is an address.
    pub from: Option<String>,
    /// Kept in the keychain; empty when editing: the saved one stays.
    #[ts(type = "string | null")]
    pub smtp_password: Option<SecretString>,
    pub webhook_url: Option<String>,
    pub format: Option<WebhookFormat>,
    pub routes: Vec<Route>,
    pub replace: bool,
}

/// A server to list the databases of, and the patterns that choose them.
#[derive(Clone, Debug, Deserialize, TS)]
pub struct DiscoverRequest {
    pub fields: ConnectionFields,
    pub scope: ServerScope,
}

/// What a server connection would back up now.
#[derive(Clone, Debug, Serialize, TS)]
pub struct ServerDatabases {
    pub backed_up: Vec<String>,
    /// On the server but left out by the patterns (or empty, for `postgres`).
    pub left_out: Vec<String>,
}

/// A database on the Overview: its connection and its newest backup.
#[derive(Clone, Debug, Serialize, TS)]
pub struct DatabaseCard {
    pub connection: Connection,
    pub url: String,
    pub last_backup: Option<SnapshotSummary>,
    pub snapshot_count: usize,
    /// The card's colour: the last good backup's age against the schedule.
    pub freshness: Freshness,
    pub next_backup: Option<DateTime<Utc>>,
    /// The newest drill of this connection, if any.
    pub last_drill: Option<DrillHistoryEntry>,
    /// Its off-site copy, when its schedule has one.
    pub offsite: Option<OffsiteStatus>,
    /// A server connection's databases with snapshots in the repository
    /// (tagged `NAME/DATABASE`); empty for one database.
    pub databases: Vec<String>,
}

/// Where a database's off-site copy stands.
#[derive(Clone, Debug, Serialize, TS)]
pub struct OffsiteStatus {
    /// The off-site repository, as the schedule names it.
    pub location: String,
    /// The newest snapshot this workstation copied there; null: none yet.
    pub newest: Option<OffsiteCopy>,
    /// The newest backup here is not there yet.
    pub behind: bool,
}

impl OffsiteStatus {
    /// Behind when a backup here is newer than the newest copy there.
    pub(crate) fn new(location: &str, newest: Option<OffsiteCopy>, last_backup: Option<&SnapshotSummary>) -> Self {
        let behind = match (last_backup, &newest) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(last), Some(copy)) => copy.snapshot_time < last.time,
        };
        OffsiteStatus {
            location: location.to_owned(),
            newest,
            behind,
        }
    }
}

/// A connection's schedule as the Schedules and Drills screens edit it.
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
pub struct ScheduleForm {
    pub connection: String,
    /// A preset (hourly, daily, "daily 02:30", weekly, "weekly sun 03:00")
    /// or five cron fields; null: no scheduled backups.
    pub backup: Option<String>,
    pub retention: RetentionPolicy,
    /// Seconds without a successful backup before the alarm; null: twice the interval.
    pub stale_after_seconds: Option<u64>,
    pub drill: Option<String>,
    /// A saved connection's name or a postgres:// URL.
    pub drill_server: Option<String>,
    pub probes: Vec<Probe>,
    /// The dead-man's switch: a monitor's URL pinged URL/start, then URL or
    /// URL/fail around each scheduled backup; null: none.
    pub heartbeat: Option<String>,
    /// Base backups of the connection's server for point-in-time recovery,
    /// as `backup`; null: none.
    pub base_backup: Option<String>,
    /// Keep the server's WAL streaming into the repository over a
    /// replication slot while the app or `lifeboat daemon` runs.
    pub wal_stream: bool,
}

/// One scheduled job's plan and last outcome.
#[derive(Clone, Debug, Serialize, TS)]
pub struct JobStatus {
    /// The cron expression (presets expanded), null when not scheduled.
    pub cron: Option<String>,
    pub description: Option<String>,
    pub next_run: Option<DateTime<Utc>>,
    pub last_finished: Option<DateTime<Utc>>,
    pub last_succeeded: Option<bool>,
    pub last_error: Option<String>,
}

#[derive(Clone, Debug, Serialize, TS)]
pub struct ScheduleView {
    pub form: ScheduleForm,
    pub backup: JobStatus,
    pub drill: JobStatus,
    pub base_backup: JobStatus,
    /// Set while the staleness alarm is raised.
    pub stale_since: Option<DateTime<Utc>>,
}

/// What a retention policy would do to one snapshot.
#[derive(Clone, Debug, Serialize, TS)]
pub struct RetentionPreviewEntry {
    pub snapshot: SnapshotSummary,
    /// Empty: the policy would remove it.
    pub keep: Vec<KeepReason>,
}

#[derive(Clone, Debug, Deserialize, TS)]
pub struct DrillRequest {
    /// A snapshot id (or latest:NAME).
    pub snapshot_id: String,
    /// A saved connection's name, a postgres:// URL, or `local` (a scratch
    /// cluster of this workstation).
    pub server: String,
    pub probes: Vec<Probe>,
    /// An upgrade rehearsal onto this newer major, on this workstation
    /// (`server` is then not used).
    #[serde(default)]
    pub rehearse_major: Option<u32>,
}

/// A drill from the run history.
#[derive(Clone, Debug, Serialize, TS)]
pub struct DrillHistoryEntry {
    pub run_id: i64,
    pub started_at: DateTime<Utc>,
    pub status: RunStatus,
    pub summary: String,
    /// The full report, when the drill got to run its checks.
    pub report: Option<DrillReport>,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Deserialize, TS)]
pub struct BackupRequest {
    pub connection: String,
    /// A label makes the backup a checkpoint ("before 16 -> 17 upgrade").
    pub checkpoint_label: Option<String>,
}

/// One snapshot on a database's Timeline.
#[derive(Clone, Debug, Serialize, TS)]
pub struct TimelineEntry {
    pub summary: SnapshotSummary,
    pub duration_ms: u64,
    /// A verify or a restore read it end to end without fault.
    pub verified: bool,
    /// A drill restored it and every smoke check passed.
    pub drilled: bool,
    /// Rows in all tables at the time of the dump.
    pub rows: Option<u64>,
    /// The API token that asked for this checkpoint (a deploy pipeline).
    pub requested_by: Option<String>,
}

#[derive(Clone, Debug, Serialize, TS)]
pub struct SnapshotDetail {
    pub summary: SnapshotSummary,
    pub verified: bool,
    /// Marked keep-forever: no retention policy removes it.
    pub kept_forever: bool,
    pub chunks: u64,
    /// What a PostgreSQL backup recorded: versions, options, extensions, row
    /// counts (without what is only for restores). Null for other streams.
    pub postgres: Option<PgFacts>,
    /// For a server backup's group snapshot: the databases it holds.
    pub server_databases: Vec<String>,
}

/// A snapshot saved as a file ("Save as file"): a database backup's
/// verified archive, which `pg_restore` reads.
#[derive(Clone, Debug, Deserialize, TS)]
pub struct ExportRequest {
    pub snapshot_id: String,
    pub path: String,
    /// Replace the file if it exists.
    pub replace: bool,
}

/// A whole server backup restored onto a server.
#[derive(Clone, Debug, Deserialize, TS)]
pub struct ServerRestoreRequest {
    /// The group's snapshot: an id, a prefix or `latest:NAME`.
    pub snapshot_id: String,
    /// The server; its `database` is only where Lifeboat connects.
    pub target: ConnectionFields,
    /// Only these databases of the group; empty: all of them.
    pub databases: Vec<String>,
    /// A role to own everything restored; empty: the backup's owners.
    pub owner: Option<String>,
    /// Leave out the backup's owners, grants and roles.
    pub no_owner: bool,
}

#[derive(Clone, Debug, Deserialize, TS)]
pub struct RestoreRequest {
    pub snapshot_id: String,
    pub target: ConnectionFields,
    /// The target database's name typed out: allows replacing a non-empty
    /// database (kept, renamed) or restoring onto an older server.
    pub confirm_database: Option<String>,
    /// A role to own everything restored; empty: the backup's owners.
    pub owner: Option<String>,
    /// Leave out the backup's owners, grants and roles (a staging copy).
    #[serde(default)]
    pub no_owner: bool,
    /// Only these tables (`schema.table`, as the snapshot's row counts
    /// name them); empty: the whole database. Into a database that holds
    /// data they are restored beside the originals.
    #[serde(default)]
    pub tables: Vec<String>,
}

/// How the desktop app behaves; `start_at_login` is the OS's own record
/// (filled in by the shell), the rest lives in the catalog.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct DesktopSettings {
    /// Closing the window keeps the app (and its scheduler) in the tray.
    pub keep_running_in_tray: bool,
    pub start_at_login: bool,
}

impl Default for DesktopSettings {
    fn default() -> Self {
        DesktopSettings {
            keep_running_in_tray: true,
            start_at_login: false,
        }
    }
}

/// What "Checkpoint all" (the tray) did for each database.
#[derive(Clone, Debug, Serialize)]
pub struct CheckpointAllResult {
    pub connection: String,
    pub snapshot_id: Option<String>,
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offsite_copy_is_behind_when_a_backup_here_is_newer() {
        let at = |hour: u32| chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 1, hour, 0, 0).unwrap();
        let summary = |hour: u32| SnapshotSummary {
            id: "a".repeat(64),
            short_id: "aaaaaaaa".into(),
            tag: "shop".into(),
            kind: lifeboat_core::repo::manifest::SnapshotKind::Scheduled,
            label: None,
            time: at(hour),
            end: at(hour),
            size: 1,
            sha256: String::new(),
            host: "h".into(),
            user: "u".into(),
            generation: 1,
        };
        let copy = |hour: u32| OffsiteCopy {
            location: "/mnt/usb".into(),
            snapshot_id: "a".repeat(64),
            snapshot_time: at(hour),
            copied_at: at(hour),
        };
        assert!(!OffsiteStatus::new("/mnt/usb", None, None).behind, "nothing to copy yet");
        assert!(OffsiteStatus::new("/mnt/usb", None, Some(&summary(2))).behind);
        assert!(OffsiteStatus::new("/mnt/usb", Some(copy(1)), Some(&summary(2))).behind);
        assert!(!OffsiteStatus::new("/mnt/usb", Some(copy(2)), Some(&summary(2))).behind);
    }

    #[test]
    fn requests_that_carry_secrets_never_print_them() {
        let restore: RestoreRequest = serde_json::from_value(serde_json::json!({
            "snapshot_id": "latest:shop",
            "target": {"host": "db", "port": 5432, "database": "shop", "user": "app", "tls": "prefer",
                       "password": "hunter2", "saved_password_of": null, "pg_bin": null},
            "confirm_database": null,
            "owner": null,
        }))
        .unwrap();
        let open: OpenRequest =
            serde_json::from_value(serde_json::json!({"location": "/nas", "passphrase": "hunter2", "recovery_kit": "hunter2"})).unwrap();
        let create: CreateRequest = serde_json::from_value(
            serde_json::json!({"location": "/nas", "passphrase": "hunter2", "key_label": "k", "repository_label": "r"}),
        )
        .unwrap();
        let add: AddKeyRequest = serde_json::from_value(serde_json::json!({"passphrase": "hunter2", "label": "k"})).unwrap();
        let printed = format!("{restore:?} {open:?} {create:?} {add:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("shop") && printed.contains("REDACTED"), "{printed}");
        assert_eq!(restore.target.password.unwrap().expose_secret(), "hunter2");
    }
}

/// The checkpoint trigger API as the app serves it, and its tokens.
#[derive(Clone, Debug, Serialize, TS)]
pub struct CheckpointApiView {
    /// The loopback port it is set to serve on; null when off.
    pub port: Option<u16>,
    /// "http://127.0.0.1:PORT" while it serves.
    pub url: Option<String>,
    /// Why it cannot serve (the port is taken...).
    pub error: Option<String>,
    pub tokens: Vec<lifeboat_core::tokens::ApiToken>,
}

/// A checkpoint token to make.
#[derive(Clone, Debug, Deserialize, TS)]
pub struct ApiTokenRequest {
    /// Who holds it: a person or a pipeline.
    pub name: String,
    /// Only checkpoints of this saved connection; any when null or empty.
    pub database: Option<String>,
}

/// A token just made: the only time its secret is shown.
#[derive(Clone, Serialize, TS)]
pub struct NewApiToken {
    pub name: String,
    pub token: String,
    pub api: CheckpointApiView,
}

/// A point-in-time archive: one cluster's base backups and WAL, and the
/// moments they can recover.
#[derive(Clone, Debug, Serialize, TS)]
pub struct PitrArchive {
    pub name: String,
    /// The newest base backup's server version.
    pub server_version: Option<String>,
    pub base_backups: u32,
    pub wal_files: u32,
    pub newest_wal_archived: Option<DateTime<Utc>>,
    /// Oldest first: from the end of each base backup as far as its WAL runs.
    pub windows: Vec<PitrWindow>,
    /// WAL missing between files that are there, each said in words.
    pub gaps: Vec<String>,
}

#[derive(Clone, Debug, Serialize, TS)]
pub struct PitrWindow {
    pub base_backup: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// An archive recovered to a moment and its databases restored onto a server.
#[derive(Clone, Debug, Deserialize, TS)]
pub struct PitrRestoreRequest {
    pub name: String,
    /// The moment to recover to; null: the end of the archived WAL.
    pub time: Option<DateTime<Utc>>,
    /// The server; its `database` is only where Lifeboat connects.
    pub target: ConnectionFields,
    /// Only these databases; empty: all of them.
    pub databases: Vec<String>,
}
