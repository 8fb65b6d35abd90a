//! The scheduler against a real catalog (SQLite in a temp dir) and a
//! controllable clock. The jobs themselves are a recording host here: what
//! a real backup, retention and drill do is tested against real clusters
//! (`lifeboat-cli/tests/schedule.rs`, the daemon end to end).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use lifeboat_core::catalog::Catalog;
use lifeboat_core::connections::Connection;
use lifeboat_core::ops::scheduler::{Claims, Clock, JobHost, Scheduler, Started};
use lifeboat_core::pg::ConnectionSpec;
use lifeboat_core::progress::CancelFlag;
use lifeboat_core::repo::retention::RetentionPolicy;
use lifeboat_core::schedule::{Cadence, JobKind, Schedule};
use lifeboat_core::{Error, Result};
use tokio::sync::Semaphore;

struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn set(&self, time: &str) {
        *self.0.lock().unwrap() = t(time);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn t(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// A staleness alarm: connection, last good backup, when one was due by.
type Alarm = (String, Option<DateTime<Utc>>, DateTime<Utc>);

/// Records what the scheduler asked for; backups of `failing` connections
/// fail; with a gate, every job waits for a permit.
struct Host {
    clock: Arc<TestClock>,
    runs: Mutex<Vec<(String, JobKind, DateTime<Utc>)>>,
    retention: Mutex<Vec<(String, RetentionPolicy)>>,
    stale: Mutex<Vec<Alarm>>,
    offsite_stale: Mutex<Vec<Alarm>>,
    last_backup: Mutex<HashMap<String, DateTime<Utc>>>,
    failing: Mutex<HashSet<String>>,
    gate: Option<Semaphore>,
}

impl Host {
    fn new(clock: Arc<TestClock>, gated: bool) -> Host {
        Host {
            clock,
            runs: Mutex::default(),
            retention: Mutex::default(),
            stale: Mutex::default(),
            offsite_stale: Mutex::default(),
            last_backup: Mutex::default(),
            failing: Mutex::default(),
            gate: gated.then(|| Semaphore::new(0)),
        }
    }

    fn runs(&self) -> Vec<(String, JobKind, String)> {
        self.runs
            .lock()
            .unwrap()
            .iter()
            .map(|(c, j, at)| (c.clone(), *j, at.format("%d %H:%M").to_string()))
            .collect()
    }
}

impl JobHost for Host {
    async fn run(&self, schedule: &Schedule, job: JobKind, _cancel: CancelFlag) -> Result<()> {
        self.runs.lock().unwrap().push((schedule.connection.clone(), job, self.clock.now()));
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        if self.failing.lock().unwrap().contains(&schedule.connection) {
            return Err(Error::InvalidInput("the server is down".into()));
        }
        if job == JobKind::Backup {
            self.last_backup
                .lock()
                .unwrap()
                .insert(schedule.connection.clone(), self.clock.now());
        }
        Ok(())
    }

    async fn apply_retention(&self, schedule: &Schedule) -> Result<()> {
        self.retention
            .lock()
            .unwrap()
            .push((schedule.connection.clone(), schedule.retention));
        Ok(())
    }

    async fn last_backup(&self, connection: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self.last_backup.lock().unwrap().get(connection).copied())
    }

    async fn offsite_stale(&self, connection: &str, _location: &str, last: Option<DateTime<Utc>>, deadline: DateTime<Utc>) {
        self.offsite_stale.lock().unwrap().push((connection.to_owned(), last, deadline));
    }

    async fn stale(&self, connection: &str, last: Option<DateTime<Utc>>, deadline: DateTime<Utc>) {
        self.stale.lock().unwrap().push((connection.to_owned(), last, deadline));
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    catalog: Catalog,
    clock: Arc<TestClock>,
    host: Arc<Host>,
    claims: Claims,
    scheduler: Scheduler<Host, TestClock, Utc>,
}

async fn setup(gated: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::open(&dir.path().join("catalog.sqlite")).await.unwrap();
    let clock = Arc::new(TestClock(Mutex::new(t("2026-11-23T10:00:00Z"))));
    let host = Arc::new(Host::new(clock.clone(), gated));
    let claims = Claims::default();
    let scheduler = Scheduler::new(catalog.clone(), host.clone(), clock.clone(), Utc, claims.clone());
    Setup {
        _dir: dir,
        catalog,
        clock,
        host,
        claims,
        scheduler,
    }
}

async fn schedule(setup: &Setup, name: &str, backup: &str, change: impl FnOnce(&mut Schedule)) {
    let spec = ConnectionSpec::parse_url(&format!("postgres://app@db.example/{name}")).unwrap();
    let now = setup.clock.now();
    setup
        .catalog
        .save_connection(&Connection::new(name, &spec, None, now).unwrap())
        .await
        .unwrap();
    let mut schedule = Schedule::new(name, now);
    schedule.backup = Some(Cadence::parse(backup).unwrap());
    change(&mut schedule);
    setup.catalog.save_schedule(&schedule).await.unwrap();
}

fn started(connection: &str, job: JobKind) -> Started {
    Started {
        connection: connection.into(),
        job,
    }
}

#[tokio::test]
async fn due_jobs_run_on_their_slot_and_missed_slots_are_caught_up_once() {
    let s = setup(false).await;
    schedule(&s, "shop", "hourly", |_| {}).await;

    s.clock.set("2026-11-23T10:59:59Z");
    assert_eq!(s.scheduler.tick().await.unwrap(), vec![], "the first slot is 11:00");
    s.clock.set("2026-11-23T11:00:00Z");
    assert_eq!(s.scheduler.tick().await.unwrap(), vec![started("shop", JobKind::Backup)]);
    s.scheduler.wait_idle().await;
    s.clock.set("2026-11-23T11:30:00Z");
    assert_eq!(s.scheduler.tick().await.unwrap(), vec![]);

    // Asleep from 11:30 to 16:20: five slots missed, one run.
    s.clock.set("2026-11-23T16:20:00Z");
    assert_eq!(s.scheduler.tick().await.unwrap(), vec![started("shop", JobKind::Backup)]);
    s.scheduler.wait_idle().await;
    s.clock.set("2026-11-23T16:21:00Z");
    assert_eq!(s.scheduler.tick().await.unwrap(), vec![]);
    s.clock.set("2026-11-23T17:00:00Z");
    assert_eq!(s.scheduler.tick().await.unwrap(), vec![started("shop", JobKind::Backup)]);
    s.scheduler.wait_idle().await;

    assert_eq!(
        s.host.runs(),
        vec![
            ("shop".into(), JobKind::Backup, "23 11:00".into()),
            ("shop".into(), JobKind::Backup, "23 16:20".into()),
            ("shop".into(), JobKind::Backup, "23 17:00".into()),
        ]
    );
    let state = s.catalog.job_state("shop", JobKind::Backup).await.unwrap();
    assert_eq!((state.fired_at, state.succeeded), (Some(t("2026-11-23T17:00:00Z")), Some(true)));

    // The scheduler's memory is the catalog: a restarted one does not repeat the 17:00 run.
    let restarted = Scheduler::new(s.catalog.clone(), s.host.clone(), s.clock.clone(), Utc, Claims::default());
    s.clock.set("2026-11-23T17:30:00Z");
    assert_eq!(restarted.tick().await.unwrap(), vec![]);
}

#[tokio::test]
async fn never_two_jobs_on_one_connection_at_once() {
    let s = setup(true).await;
    schedule(&s, "shop", "hourly", |sc| {
        sc.drill = Some(Cadence::parse("hourly").unwrap());
        sc.drill_server = Some("drills".into());
    })
    .await;
    schedule(&s, "crm", "hourly", |_| {}).await;

    s.clock.set("2026-11-23T11:00:00Z");
    // Backup and drill of shop are both due: only the backup starts; crm runs alongside.
    assert_eq!(
        s.scheduler.tick().await.unwrap(),
        vec![started("crm", JobKind::Backup), started("shop", JobKind::Backup)]
    );
    s.clock.set("2026-11-23T12:00:00Z");
    assert_eq!(s.scheduler.tick().await.unwrap(), vec![], "both connections are busy");
    assert!(s.claims.is_busy("shop"));

    s.host.gate.as_ref().unwrap().add_permits(2);
    s.scheduler.wait_idle().await;
    assert!(!s.claims.is_busy("shop"));
    s.clock.set("2026-11-23T12:01:00Z");
    let next = s.scheduler.tick().await.unwrap();
    assert_eq!(next, vec![started("crm", JobKind::Backup), started("shop", JobKind::Backup)]);
    s.host.gate.as_ref().unwrap().add_permits(2);
    s.scheduler.wait_idle().await;
    // The drill waited its turn and now runs, once.
    assert_eq!(s.scheduler.tick().await.unwrap(), vec![started("shop", JobKind::Drill)]);
    s.host.gate.as_ref().unwrap().add_permits(1);
    s.scheduler.wait_idle().await;

    // A job started elsewhere (the app's Checkpoint) holds the connection too.
    let claim = s.claims.claim("crm").unwrap();
    s.clock.set("2026-11-23T13:00:00Z");
    assert_eq!(s.scheduler.tick().await.unwrap(), vec![started("shop", JobKind::Backup)]);
    drop(claim);
    s.host.gate.as_ref().unwrap().add_permits(1);
    s.scheduler.wait_idle().await;
}

#[tokio::test]
async fn retention_follows_successful_backups_only_and_a_failure_stops_nothing() {
    let s = setup(false).await;
    let policy = RetentionPolicy {
        keep_last: 3,
        keep_daily: 7,
        ..Default::default()
    };
    schedule(&s, "shop", "hourly", |sc| sc.retention = policy).await;
    schedule(&s, "crm", "hourly", |sc| sc.retention = policy).await;
    schedule(&s, "wiki", "hourly", |_| {}).await;
    s.host.failing.lock().unwrap().insert("crm".into());

    s.clock.set("2026-11-23T11:00:00Z");
    assert_eq!(s.scheduler.tick().await.unwrap().len(), 3);
    s.scheduler.wait_idle().await;
    assert_eq!(
        *s.host.retention.lock().unwrap(),
        vec![("shop".to_string(), policy)],
        "not after crm's failure, not for wiki without a policy"
    );
    let crm = s.catalog.job_state("crm", JobKind::Backup).await.unwrap();
    assert_eq!((crm.succeeded, crm.error.as_deref()), (Some(false), Some("the server is down")));

    s.host.failing.lock().unwrap().clear();
    s.clock.set("2026-11-23T12:00:00Z");
    assert_eq!(
        s.scheduler.tick().await.unwrap().len(),
        3,
        "the failed connection is scheduled as before"
    );
    s.scheduler.wait_idle().await;
    assert_eq!(s.host.retention.lock().unwrap().len(), 3);
    assert_eq!(s.catalog.job_state("crm", JobKind::Backup).await.unwrap().error, None);
}

#[tokio::test]
async fn staleness_is_raised_once_when_backups_stop_even_if_no_job_ever_ran() {
    let s = setup(false).await;
    // Hourly: the alarm comes when the second slot (plus six minutes' grace) passes without a successful backup.
    schedule(&s, "shop", "hourly", |_| {}).await;
    schedule(&s, "crm", "hourly", |_| {}).await;
    s.host.failing.lock().unwrap().insert("shop".into());
    // crm's job never starts: something else holds the connection all along.
    let _held = s.claims.claim("crm").unwrap();

    for time in ["2026-11-23T11:00:00Z", "2026-11-23T12:05:00Z"] {
        s.clock.set(time);
        s.scheduler.tick().await.unwrap();
        s.scheduler.wait_idle().await;
    }
    assert!(s.host.stale.lock().unwrap().is_empty(), "the 12:00 backup may still be running");

    s.clock.set("2026-11-23T12:06:30Z");
    s.scheduler.tick().await.unwrap();
    s.scheduler.wait_idle().await;
    let mut raised: Vec<String> = s.host.stale.lock().unwrap().iter().map(|(c, ..)| c.clone()).collect();
    raised.sort();
    assert_eq!(raised, vec!["crm", "shop"]);
    assert_eq!(s.host.stale.lock().unwrap()[0].2, t("2026-11-23T12:06:00Z"));
    assert_eq!(s.host.runs().iter().filter(|r| r.0 == "crm").count(), 0, "crm never ran");

    s.clock.set("2026-11-23T12:30:00Z");
    s.scheduler.tick().await.unwrap();
    s.scheduler.wait_idle().await;
    assert_eq!(s.host.stale.lock().unwrap().len(), 2, "raised once per episode");

    // shop's server is back: the 13:00 backup succeeds and the alarm is over...
    s.host.failing.lock().unwrap().clear();
    s.clock.set("2026-11-23T13:00:00Z");
    s.scheduler.tick().await.unwrap();
    s.scheduler.wait_idle().await;
    s.clock.set("2026-11-23T13:01:00Z");
    s.scheduler.tick().await.unwrap();
    assert_eq!(s.catalog.job_state("shop", JobKind::Backup).await.unwrap().stale_since, None);
    assert!(s.catalog.job_state("crm", JobKind::Backup).await.unwrap().stale_since.is_some());

    // ...until backups stop again: a new episode, a new alarm naming the last good one.
    s.host.failing.lock().unwrap().insert("shop".into());
    s.clock.set("2026-11-23T15:06:30Z");
    s.scheduler.tick().await.unwrap();
    s.scheduler.wait_idle().await;
    let stale = s.host.stale.lock().unwrap().clone();
    assert_eq!(stale.len(), 3);
    assert_eq!((stale[2].0.as_str(), stale[2].1), ("shop", Some(t("2026-11-23T13:00:00Z"))));
}

/// The off-site copy goes stale by the backups' own rule, once per episode,
/// and the alarm ends when a newer copy arrives.
#[tokio::test]
async fn an_off_site_copy_that_falls_behind_raises_its_own_alarm_once() {
    let s = setup(false).await;
    schedule(&s, "shop", "hourly", |schedule| schedule.copy_to = Some("/mnt/usb/lifeboat".into())).await;
    // Backups succeed: only the copy is missing.
    for time in ["2026-11-23T11:00:00Z", "2026-11-23T12:00:00Z", "2026-11-23T12:06:30Z"] {
        s.clock.set(time);
        s.host.last_backup.lock().unwrap().insert("shop".into(), s.clock.now());
        s.scheduler.tick().await.unwrap();
        s.scheduler.wait_idle().await;
    }
    assert!(s.host.stale.lock().unwrap().is_empty(), "the backups are fresh");
    let raised = s.host.offsite_stale.lock().unwrap().clone();
    assert_eq!(raised, vec![("shop".to_string(), None, t("2026-11-23T12:06:00Z"))]);

    s.clock.set("2026-11-23T12:30:00Z");
    s.scheduler.tick().await.unwrap();
    assert_eq!(s.host.offsite_stale.lock().unwrap().len(), 1, "raised once per episode");

    // The 12:00 backup reaches the off-site repository: the alarm is over.
    s.catalog
        .record_offsite_copy(
            "shop",
            "/mnt/usb/lifeboat",
            "a",
            t("2026-11-23T12:00:00Z"),
            t("2026-11-23T12:40:00Z"),
        )
        .await
        .unwrap();
    s.clock.set("2026-11-23T12:41:00Z");
    s.scheduler.tick().await.unwrap();
    assert_eq!(
        s.catalog.job_state("shop", JobKind::Backup).await.unwrap().offsite_stale_since,
        None
    );
    assert_eq!(s.host.offsite_stale.lock().unwrap().len(), 1);
}
