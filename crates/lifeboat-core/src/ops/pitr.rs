//! Point-in-time recovery's jobs that a person or a schedule starts: base
//! backups and recoveries, recorded and announced like dumps and restores.
//! (`wal-push` and `wal-fetch` run per WAL file, from the server itself:
//! PostgreSQL logs and retries those.) And the WAL stream, whose troubles
//! are announced as alarms.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::restore::server_restore_event;
use super::scheduler::Claims;
use super::{blocking, Runner};
use crate::catalog::RunKind;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::jobs::pitr::base_backup::{self, BaseBackupOptions, BaseBackupReport};
use crate::jobs::pitr::onto_server::{self, RecoverOntoOptions, RecoverOntoReport};
use crate::jobs::pitr::recover::{self, RecoverOptions, RecoverReport};
use crate::jobs::pitr::stream::{self, StreamNotice, StreamOptions, StreamReport};
use crate::pg::ConnectionSpec;
use crate::progress::{CancelFlag, Progress};

impl Runner {
    /// Takes a base backup of the cluster `spec` reaches into archive `options.name`.
    pub async fn base_backup(
        &self,
        spec: &ConnectionSpec,
        options: BaseBackupOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<BaseBackupReport> {
        let title = format!("Base backup of {}", options.name);
        let describe = |r: &BaseBackupReport| {
            format!(
                "{title}: snapshot {}, {} files, PostgreSQL {}",
                &r.snapshot_id[..8],
                r.files,
                r.server_version
            )
        };
        let options = BaseBackupOptions {
            lock_wait: self.lock_wait,
            ..options
        };
        let work = base_backup::base_backup(self.repo.clone(), spec, &options, progress);
        let outcome = self.recorded(RunKind::Backup, &title, work, &describe).await;
        let event = match &outcome {
            Ok(report) => Event::new(EventKind::BackupSucceeded, Some(&options.name), true, describe(report)).with_detail(report),
            Err(Error::Cancelled) => return outcome,
            Err(e) => Event::new(EventKind::BackupFailed, Some(&options.name), false, e.to_string()),
        };
        self.announce(event).await;
        outcome
    }

    /// Recovers archive `options.name` to its target (see `jobs::pitr::recover`).
    pub async fn recover(&self, options: RecoverOptions, progress: Arc<dyn Progress>) -> Result<RecoverReport> {
        let title = format!("Recovery of {} to {}", options.name, options.target);
        let describe = |r: &RecoverReport| format!("{title}: base backup {} into {}", &r.base_backup[..8], r.datadir.display());
        let name = options.name.clone();
        let repo = self.repo.clone();
        let options = RecoverOptions {
            lock_wait: self.lock_wait,
            ..options
        };
        let work = blocking(move || recover::recover(repo, &options, progress.as_ref()));
        let outcome = self.recorded(RunKind::Restore, &title, work, &describe).await;
        let event = match &outcome {
            Ok(report) => Event::new(EventKind::RestoreSucceeded, Some(&name), true, describe(report)).with_detail(report),
            Err(Error::Cancelled) => return outcome,
            Err(e) => Event::new(EventKind::RestoreFailed, Some(&name), false, format!("{title} failed: {e}")),
        };
        self.announce(event).await;
        outcome
    }

    /// Recovers archive `options.name` to its target and restores its
    /// databases onto the server `onto` reaches (see
    /// `jobs::pitr::onto_server`); recorded and announced as a restore.
    pub async fn recover_onto(
        &self,
        onto: ConnectionSpec,
        options: RecoverOntoOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<RecoverOntoReport> {
        let title = format!(
            "Recovery of {} to {} onto {}:{}",
            options.name, options.target, onto.host, onto.port
        );
        let describe = |r: &RecoverOntoReport| {
            format!(
                "{title}: {} database(s) restored from base backup {}, kept as checkpoint {}",
                r.restore.restored.len(),
                &r.base_backup[..8],
                &r.snapshot_id[..8]
            )
        };
        let name = options.name.clone();
        let options = RecoverOntoOptions {
            lock_wait: self.lock_wait,
            ..options
        };
        let work = onto_server::recover_onto(self.repo.clone(), &onto, &options, progress);
        let outcome = self.recorded(RunKind::Restore, &title, work, &describe).await;
        let Some(event) = server_restore_event(&outcome, |r| &r.restore, &name, &title, describe) else {
            return outcome;
        };
        self.announce(event).await;
        outcome
    }
}

impl Runner {
    /// Streams a cluster's WAL into archive `options.name` until `stop`
    /// says so (see `jobs::pitr::stream`). A stream that stops, a WAL file
    /// that cannot be stored and a slot holding back too much WAL are
    /// announced as `wal_alarm` (high priority) once each until they clear.
    pub async fn stream_wal(
        &self,
        spec: &ConnectionSpec,
        options: StreamOptions,
        stop: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<StreamReport> {
        let name = options.name.clone();
        let (notices, mut heard) = tokio::sync::mpsc::unbounded_channel();
        let notice = move |n: StreamNotice| {
            let _ = notices.send(n);
        };
        let options = StreamOptions {
            lock_wait: self.lock_wait,
            ..options
        };
        let streaming = stream::stream(self.repo.clone(), spec, &options, &notice, stop);
        tokio::pin!(streaming);
        let mut alarms = Alarms::default();
        let outcome = loop {
            tokio::select! {
                outcome = &mut streaming => break outcome,
                Some(n) = heard.recv() => self.hear(&name, n, &mut alarms).await,
            }
        };
        while let Ok(n) = heard.try_recv() {
            self.hear(&name, n, &mut alarms).await;
        }
        if let Err(e) = &outcome {
            let message = format!("streaming the WAL of {name} stopped: {e}");
            self.announce(Event::new(EventKind::WalAlarm, Some(&name), false, message)).await;
        }
        outcome
    }

    async fn hear(&self, name: &str, notice: StreamNotice, alarms: &mut Alarms) {
        let alarm = match notice {
            StreamNotice::Archived(report) => {
                tracing::info!("archived {} of {name}", report.file);
                *alarms = Alarms {
                    slot: alarms.slot,
                    ..Default::default()
                };
                None
            }
            StreamNotice::ReceiverStopped(why) => (!std::mem::replace(&mut alarms.receiver, true))
                .then(|| format!("streaming the WAL of {name} stopped and is being restarted: {why}")),
            StreamNotice::PushFailed(why) => (!std::mem::replace(&mut alarms.push, true))
                .then(|| format!("a WAL file of {name} could not be stored (tried again): {why}")),
            StreamNotice::SlotRetains { bytes, limit } => (!std::mem::replace(&mut alarms.slot, true)).then(|| {
                format!(
                    "the replication slot of {name} holds back {} of WAL on the server (the limit is {}): the server's \
                     disk fills while the stream lags. Keep the stream running, or drop the slot \
                     (`SELECT pg_drop_replication_slot(...)`) if it is no longer used",
                    crate::units::human_bytes(bytes, 1),
                    crate::units::human_bytes(limit, 1)
                )
            }),
        };
        if let Some(message) = alarm {
            tracing::warn!("{message}");
            self.announce(Event::new(EventKind::WalAlarm, Some(name), false, message)).await;
        }
    }
}

/// Which alarms were raised and not yet cleared: each is announced once.
#[derive(Default)]
struct Alarms {
    receiver: bool,
    push: bool,
    slot: bool,
}

/// How often the supervisor of scheduled WAL streams looks at the schedules.
const STREAM_SUPERVISION: Duration = Duration::from_secs(30);
/// How long a stream that stopped with an error first waits before it
/// starts again, and the longest it waits.
const STREAM_RETRY: Duration = Duration::from_secs(300);
const STREAM_RETRY_LIMIT: Duration = Duration::from_secs(3600);
/// WAL a scheduled stream's slot may hold back before the alarm.
const SCHEDULED_RETAINED_ALARM: u64 = 1 << 30;

impl Runner {
    /// Keeps a WAL stream running for each schedule that asks for one
    /// (`wal_stream`), into the archive named after its connection, until
    /// `stop`; a schedule changed to stop streaming stops its stream. Each
    /// stream holds the claim `NAME.wal`, so a `lifeboat wal stream` of the
    /// same archive elsewhere on this workstation never runs beside it.
    pub async fn supervise_wal_streams(self: Arc<Self>, claims: Claims, spool_root: PathBuf, stop: CancelFlag) {
        let mut streams: HashMap<String, (CancelFlag, tokio::task::JoinHandle<()>)> = HashMap::new();
        while !stop.is_cancelled() {
            let wanted: Vec<String> = match self.catalog.schedules().await {
                Ok(schedules) => schedules
                    .into_iter()
                    .filter(|s| s.wal_stream && s.check_repository(self.repo.id()).is_ok())
                    .map(|s| s.connection)
                    .collect(),
                Err(e) => {
                    tracing::warn!("reading the schedules for WAL streams: {e}");
                    streams.keys().cloned().collect()
                }
            };
            streams.retain(|name, (flag, task)| {
                let keep = wanted.contains(name) && !task.is_finished();
                if !keep {
                    flag.cancel();
                }
                keep
            });
            for name in wanted {
                if streams.contains_key(&name) {
                    continue;
                }
                let Some(claim) = claims.claim(&format!("{name}.wal")) else {
                    continue;
                };
                let flag = CancelFlag::default();
                let runner = self.clone();
                let (own, all) = (flag.clone(), stop.clone());
                let spool = spool_root.join(&name);
                let archive = name.clone();
                let task = tokio::spawn(async move {
                    let _claim = claim;
                    let mut retry = STREAM_RETRY;
                    while !own.is_cancelled() && !all.is_cancelled() {
                        let started = std::time::Instant::now();
                        if let Err(e) = runner.stream_scheduled(&archive, &spool, &own, &all).await {
                            // Each stop is announced: a stream that keeps
                            // failing at once is tried (and announced) less
                            // and less often, up to hourly.
                            if started.elapsed() > STREAM_RETRY_LIMIT {
                                retry = STREAM_RETRY;
                            }
                            tracing::warn!("the WAL stream of {archive} stopped (tried again in {retry:?}): {e}");
                            pause(retry, || own.is_cancelled() || all.is_cancelled()).await;
                            retry = (retry * 2).min(STREAM_RETRY_LIMIT);
                        }
                    }
                });
                streams.insert(name, (flag, task));
            }
            pause(STREAM_SUPERVISION, || stop.is_cancelled()).await;
        }
        for (_, (flag, task)) in streams {
            flag.cancel();
            let _ = task.await;
        }
    }

    async fn stream_scheduled(&self, name: &str, spool: &std::path::Path, own: &CancelFlag, all: &CancelFlag) -> Result<()> {
        let saved = self
            .catalog
            .connection(name)
            .await?
            .ok_or_else(|| Error::InvalidInput(format!("{name} is not a saved connection any more")))?;
        let spec = saved.spec(self.keychain.as_deref())?;
        let options = StreamOptions {
            name: name.to_owned(),
            slot: stream::default_slot(name),
            pg_bin: None,
            spool: spool.to_owned(),
            retained_alarm: SCHEDULED_RETAINED_ALARM,
            lock_wait: self.lock_wait,
        };
        let stop = || own.is_cancelled() || all.is_cancelled();
        self.stream_wal(&spec, options, &stop).await.map(|_| ())
    }
}

/// Sleeps `length`, or less once `stopped` says so.
async fn pause(length: Duration, stopped: impl Fn() -> bool) {
    let until = tokio::time::Instant::now() + length;
    while !stopped() && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
