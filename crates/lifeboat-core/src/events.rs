//! The event stream: one JSON line per thing that happened (a backup
//! succeeded or failed, a drill passed, a connection went stale...), in a
//! file beside the catalog that every Lifeboat process on the workstation
//! appends to. Notifications are raised from events (see `notify`).
//!
//! The log is append-only; one `write` per line on a file opened for
//! appending, so the daemon and the app can write at once without tearing
//! lines. A line that does not parse (a crash mid-write, a newer version's
//! event) is skipped when reading, never fatal.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::repo::manifest::Snapshot;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    BackupSucceeded,
    BackupFailed,
    /// A checkpoint ("before upgrade") was taken.
    Checkpoint,
    VerifySucceeded,
    VerifyFailed,
    DrillStart,
    /// The drill's checks, each with its outcome (in `detail`).
    DrillResult,
    DrillComplete,
    RestoreSucceeded,
    RestoreFailed,
    /// The headless empty-database restore ran at start-up.
    AutoRestore,
    /// Scheduled retention removed snapshots.
    RetentionApplied,
    /// A connection has had no successful backup for longer than its schedule allows.
    Stale,
    /// A scheduled backup was copied to its off-site repository.
    CopySucceeded,
    /// The off-site copy of a scheduled backup failed (the backup itself stands).
    CopyFailed,
    /// A schedule's off-site copy has fallen behind its backups.
    OffsiteStale,
    /// A schedule's heartbeat ping was not delivered (the backup stands).
    HeartbeatFailed,
    /// Point-in-time recovery is at risk: the WAL stream stopped, or its
    /// replication slot holds back more WAL than allowed on the server.
    WalAlarm,
    /// An event's message reached a notification channel (e-mail, chat).
    NotificationSent,
    /// An event's message did not reach a channel after its tries (the job stands).
    NotificationFailed,
}

/// The facts about a snapshot an admin needs to recognise it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SnapshotFacts {
    pub id: String,
    pub time: DateTime<Utc>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    pub sha256: String,
}

impl SnapshotFacts {
    pub fn of(snapshot: &Snapshot) -> SnapshotFacts {
        SnapshotFacts {
            id: snapshot.id.clone(),
            time: snapshot.manifest.start,
            size: snapshot.manifest.size,
            sha256: snapshot.manifest.sha256.clone(),
        }
    }
}

/// One event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Event {
    pub time: DateTime<Utc>,
    pub kind: EventKind,
    /// The saved connection (or snapshot name) it is about.
    pub connection: Option<String>,
    pub snapshot: Option<SnapshotFacts>,
    /// Whether it went well: false for failures and staleness.
    pub ok: bool,
    /// One line for people.
    pub message: String,
    /// The job's report or error, as JSON.
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub detail: serde_json::Value,
}

impl Event {
    pub fn new(kind: EventKind, connection: Option<&str>, ok: bool, message: impl Into<String>) -> Event {
        Event {
            time: Utc::now(),
            kind,
            connection: connection.map(str::to_owned),
            snapshot: None,
            ok,
            message: message.into(),
            detail: serde_json::Value::Null,
        }
    }

    pub fn with_snapshot(mut self, snapshot: &Snapshot) -> Event {
        self.snapshot = Some(SnapshotFacts::of(snapshot));
        self
    }

    pub fn with_detail(mut self, detail: impl Serialize) -> Event {
        self.detail = serde_json::to_value(detail).unwrap_or(serde_json::Value::Null);
        self
    }

    pub fn at(mut self, time: DateTime<Utc>) -> Event {
        self.time = time;
        self
    }
}

/// The JSON-lines event log.
#[derive(Clone, Debug)]
pub struct EventLog {
    path: PathBuf,
}

impl EventLog {
    pub fn new(path: impl Into<PathBuf>) -> EventLog {
        EventLog { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `event` as one line.
    pub fn append(&self, event: &Event) -> Result<()> {
        let mut line = serde_json::to_vec(event).map_err(|e| Error::Internal(format!("encoding an event: {e}")))?;
        line.push(b'\n');
        if let Some(parent) = self.path.parent() {
            crate::paths::create_private_dir(parent)?;
        }
        let mut file = crate::paths::open_private_append(&self.path)?;
        file.write_all(&line).map_err(|e| Error::io("writing the event log", &self.path, e))
    }

    /// Events at or after `since`, oldest first; a missing log is empty.
    pub fn read(&self, since: Option<DateTime<Utc>>) -> Result<Vec<Event>> {
        let file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("opening the event log", &self.path, e)),
        };
        let mut events = Vec::new();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|e| Error::io("reading the event log", &self.path, e))?;
            match serde_json::from_str::<Event>(&line) {
                Ok(event) if since.is_none_or(|s| event.time >= s) => events.push(event),
                Ok(_) => {}
                Err(e) if !line.trim().is_empty() => tracing::warn!("skipping an unreadable event log line: {e}"),
                Err(_) => {}
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::new(dir.path().join("events.jsonl"));
        assert!(log.read(None).unwrap().is_empty());
        let early =
            Event::new(EventKind::BackupFailed, Some("shop"), false, "backup of shop failed").at("2026-11-20T10:00:00Z".parse().unwrap());
        let late = Event::new(EventKind::Stale, Some("shop"), false, "shop is stale")
            .at("2026-11-22T10:00:00Z".parse().unwrap())
            .with_detail(serde_json::json!({"hours": 49}));
        log.append(&early).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"{\"time\":\"2026-11-21")
            .unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"\n")
            .unwrap();
        log.append(&late).unwrap();
        assert_eq!(log.read(None).unwrap(), vec![early, late.clone()]);
        assert_eq!(log.read(Some("2026-11-21T00:00:00Z".parse().unwrap())).unwrap(), vec![late]);
    }
}
