//! Telling the admin: every event goes to the event log, and the ones that
//! matter become notifications through a [`Notifier`] — the desktop's
//! (freedesktop notifications through `notify-rust`) or a log line for
//! headless servers.
//!
//! Failures, restores, auto-restores and staleness are Critical (they stay
//! on screen until dismissed); successes are Normal and off by default, so
//! a quiet desktop means all is well.

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::events::{Event, EventKind, EventLog};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Normal,
    Critical,
}

/// What an event is, for the admin's preferences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    Success,
    Failure,
    Restore,
    Staleness,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub summary: String,
    pub body: String,
    pub urgency: Urgency,
    pub topic: Topic,
}

/// Which notifications the admin wants; stored in the catalog's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct NotificationPrefs {
    pub failures: bool,
    pub restores: bool,
    pub staleness: bool,
    pub successes: bool,
}

impl Default for NotificationPrefs {
    fn default() -> Self {
        NotificationPrefs {
            failures: true,
            restores: true,
            staleness: true,
            successes: false,
        }
    }
}

impl NotificationPrefs {
    pub fn wants(&self, topic: Topic) -> bool {
        match topic {
            Topic::Success => self.successes,
            Topic::Failure => self.failures,
            Topic::Restore => self.restores,
            Topic::Staleness => self.staleness,
        }
    }
}

/// Where notifications go.
pub trait Notifier: Send + Sync {
    fn notify(&self, notification: &Notification) -> Result<()>;
}

/// The desktop's notification server (org.freedesktop.Notifications on
/// Linux, the notification centre elsewhere).
pub struct DesktopNotifier;

impl Notifier for DesktopNotifier {
    fn notify(&self, n: &Notification) -> Result<()> {
        let mut notification = notify_rust::Notification::new();
        notification.appname("Lifeboat").summary(&n.summary).body(&n.body);
        #[cfg(all(unix, not(target_os = "macos")))]
        notification.urgency(match n.urgency {
            Urgency::Normal => notify_rust::Urgency::Normal,
            Urgency::Critical => notify_rust::Urgency::Critical,
        });
        notification
            .show()
            .map(|_| ())
            .map_err(|e| Error::NotificationUnavailable(e.to_string()))
    }
}

/// For headless servers: notifications become log lines (the journal under
/// systemd).
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn notify(&self, n: &Notification) -> Result<()> {
        match n.urgency {
            Urgency::Critical => tracing::warn!(target: "lifeboat::notify", "{}: {}", n.summary, n.body),
            Urgency::Normal => tracing::info!(target: "lifeboat::notify", "{}: {}", n.summary, n.body),
        }
        Ok(())
    }
}

/// Drops notifications (`LIFEBOAT_NOTIFY=off`); events are still logged.
pub struct NoNotifier;

impl Notifier for NoNotifier {
    fn notify(&self, _: &Notification) -> Result<()> {
        Ok(())
    }
}

/// The notifier `LIFEBOAT_NOTIFY` asks for (`desktop`, `log`, `off`); by
/// default the desktop's, except on a Linux without a session bus (a
/// server), where notifications become log lines.
pub fn notifier_from_env() -> Arc<dyn Notifier> {
    match std::env::var("LIFEBOAT_NOTIFY").as_deref() {
        Ok("desktop") => Arc::new(DesktopNotifier),
        Ok("log") => Arc::new(LogNotifier),
        Ok("off") => Arc::new(NoNotifier),
        _ if cfg!(target_os = "linux") && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() => Arc::new(LogNotifier),
        _ => Arc::new(DesktopNotifier),
    }
}

/// The notification an event raises, if any.
pub fn notification_for(event: &Event) -> Option<Notification> {
    let who = event.connection.as_deref().unwrap_or("a database");
    let (summary, topic, next) = match (event.kind, event.ok) {
        (EventKind::DrillStart | EventKind::DrillResult | EventKind::NotificationSent, _) => return None,
        (EventKind::BackupSucceeded, _) => (format!("{who} backed up"), Topic::Success, None),
        (EventKind::Checkpoint, _) => (format!("Checkpoint of {who} taken"), Topic::Success, None),
        (EventKind::VerifySucceeded, _) => (format!("Backup of {who} verified"), Topic::Success, None),
        (EventKind::RetentionApplied, _) => (format!("Old backups of {who} removed by policy"), Topic::Success, None),
        (EventKind::DrillComplete, true) => (format!("Restore drill of {who} passed"), Topic::Success, None),
        (EventKind::CopySucceeded, _) => (format!("{who} copied off-site"), Topic::Success, None),
        (EventKind::CopyFailed, _) => (
            format!("Off-site copy of {who} FAILED"),
            Topic::Failure,
            Some(
                "The backup itself is safe in the main repository. Check that the off-site repository is reachable \
                 and that this workstation can open it (`lifeboat copy --all --to LOCATION` once keeps its key in the \
                 keychain), then copy again.",
            ),
        ),
        (EventKind::BackupFailed, _) => (
            format!("Backup of {who} FAILED"),
            Topic::Failure,
            Some("Test the connection in Lifeboat (or `lifeboat connection test`), fix what the error names, then take a backup."),
        ),
        (EventKind::VerifyFailed, _) => (
            format!("Backup of {who} did not verify"),
            Topic::Failure,
            Some("Do not rely on this snapshot: run `lifeboat check` on the repository and take a fresh backup."),
        ),
        (EventKind::DrillComplete, false) => (
            format!("Restore drill of {who} FAILED"),
            Topic::Failure,
            Some("Open Drills in Lifeboat (or `lifeboat events`) for the failed check, take a fresh backup and drill it again."),
        ),
        (EventKind::RestoreSucceeded, _) => (
            format!("{who} restored"),
            Topic::Restore,
            Some("Check the application against the restored database."),
        ),
        (EventKind::RestoreFailed, _) => (
            format!("Restore of {who} FAILED"),
            Topic::Failure,
            Some("The target was left as it was; fix what the error names and restore again."),
        ),
        (EventKind::AutoRestore, _) => (
            format!("{who} was empty and has been restored automatically"),
            Topic::Restore,
            Some("Check that this snapshot is the one you expected."),
        ),
        (EventKind::OffsiteStale, _) => (
            format!("The off-site copy of {who} is behind"),
            Topic::Staleness,
            Some(
                "Bring the off-site repository back (mount the disk, reach the NAS); the next scheduled backup copies \
                 everything it lacks, or run `lifeboat copy --all --to LOCATION` now.",
            ),
        ),
        (EventKind::HeartbeatFailed, _) => (
            format!("Heartbeat of {who} not delivered"),
            Topic::Failure,
            Some(
                "The backup itself is not affected. Check that this workstation reaches the monitor and that the \
                 schedule's heartbeat URL is right (`lifeboat schedule show`): the monitor may now raise a false alarm.",
            ),
        ),
        (EventKind::WalAlarm, _) => (
            format!("WAL archive of {who} at risk"),
            Topic::Failure,
            Some(
                "Until it is fixed, the recoverable window does not grow. See the message; `lifeboat pitr show NAME` \
                 shows where the window ends.",
            ),
        ),
        (EventKind::NotificationFailed, _) => (
            "An alert did not reach its channel".to_string(),
            Topic::Failure,
            Some(
                "The job itself is not affected. Send a test (`lifeboat notify test NAME`, or Test in Settings) and fix \
                 what it names: the address, the URL, the password or the network.",
            ),
        ),
        (EventKind::Stale, _) => (
            format!("{who} has no recent backup"),
            Topic::Staleness,
            Some("Check that Lifeboat's scheduler is running (the app in the tray, or `lifeboat daemon`) and take a backup now."),
        ),
    };
    let mut body = event.message.clone();
    if let Some(s) = &event.snapshot {
        body.push_str(&format!(
            "\nSnapshot {} of {}, {}, SHA-256 {}…",
            &s.id[..s.id.len().min(8)],
            s.time.format("%Y-%m-%d %H:%M UTC"),
            crate::units::human_bytes(s.size, 1),
            &s.sha256[..s.sha256.len().min(12)]
        ));
    }
    if let Some(next) = next {
        body.push('\n');
        body.push_str(next);
    }
    let urgency = if topic == Topic::Success {
        Urgency::Normal
    } else {
        Urgency::Critical
    };
    Some(Notification {
        summary,
        body,
        urgency,
        topic,
    })
}

/// Records events and raises their notifications: the one way every job
/// reports what happened.
pub struct Announcer {
    log: EventLog,
    notifier: Arc<dyn Notifier>,
    prefs: RwLock<NotificationPrefs>,
}

impl Announcer {
    pub fn new(log: EventLog, notifier: Arc<dyn Notifier>, prefs: NotificationPrefs) -> Announcer {
        Announcer {
            log,
            notifier,
            prefs: RwLock::new(prefs),
        }
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    pub fn set_prefs(&self, prefs: NotificationPrefs) {
        *self.prefs.write().unwrap_or_else(|e| e.into_inner()) = prefs;
    }

    /// Appends the event and notifies when the preferences ask for it.
    /// Neither failing stops the caller: both are logged.
    pub fn emit(&self, event: &Event) {
        if let Err(e) = self.log.append(event) {
            tracing::error!("could not record the event \"{}\": {e}", event.message);
        }
        let prefs = *self.prefs.read().unwrap_or_else(|e| e.into_inner());
        if let Some(notification) = notification_for(event).filter(|n| prefs.wants(n.topic)) {
            if let Err(e) = self.notifier.notify(&notification) {
                tracing::warn!("{e}");
            }
        }
    }

    /// [`Announcer::emit`] off the async runtime (a notification is a D-Bus call).
    pub async fn emit_async(self: &Arc<Self>, event: Event) {
        let announcer = self.clone();
        let _ = tokio::task::spawn_blocking(move || announcer.emit(&event)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::SnapshotFacts;
    use std::sync::Mutex;

    struct Recorder(Mutex<Vec<Notification>>);

    impl Notifier for Recorder {
        fn notify(&self, n: &Notification) -> Result<()> {
            self.0.lock().unwrap().push(n.clone());
            Ok(())
        }
    }

    #[test]
    fn failures_are_critical_and_name_the_snapshot_successes_are_off_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Arc::new(Recorder(Mutex::new(Vec::new())));
        let announcer = Announcer::new(
            EventLog::new(dir.path().join("e.jsonl")),
            recorder.clone(),
            NotificationPrefs::default(),
        );
        let snapshot = SnapshotFacts {
            id: "0123456789abcdef".into(),
            time: "2026-11-23T09:30:00Z".parse().unwrap(),
            size: 3 * 1024 * 1024,
            sha256: "feedbeefcafe0011223344".into(),
        };
        let mut failed = Event::new(
            EventKind::DrillComplete,
            Some("shop"),
            false,
            "check row counts failed: public.users",
        );
        failed.snapshot = Some(snapshot);
        announcer.emit(&failed);
        announcer.emit(&Event::new(EventKind::BackupSucceeded, Some("shop"), true, "backed up"));
        announcer.emit(&Event::new(EventKind::DrillStart, Some("shop"), true, "drill started"));

        let sent = recorder.0.lock().unwrap().clone();
        assert_eq!(sent.len(), 1, "successes and drill steps are not notified by default: {sent:?}");
        assert_eq!(sent[0].summary, "Restore drill of shop FAILED");
        assert_eq!(sent[0].urgency, Urgency::Critical);
        assert!(sent[0].body.contains("public.users"), "{}", sent[0].body);
        assert!(
            sent[0]
                .body
                .contains("Snapshot 01234567 of 2026-11-23 09:30 UTC, 3.0 MiB, SHA-256 feedbeefcafe…"),
            "{}",
            sent[0].body
        );
        assert_eq!(
            announcer.log().read(None).unwrap().len(),
            3,
            "every event is logged, notified or not"
        );

        announcer.set_prefs(NotificationPrefs {
            successes: true,
            ..Default::default()
        });
        announcer.emit(&Event::new(EventKind::BackupSucceeded, Some("shop"), true, "backed up"));
        let last = recorder.0.lock().unwrap().last().cloned().unwrap();
        assert_eq!((last.summary.as_str(), last.urgency), ("shop backed up", Urgency::Normal));
    }
}
