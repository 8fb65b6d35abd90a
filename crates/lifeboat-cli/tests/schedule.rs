//! Drills, events, notifications and the scheduler daemon, through the real
//! `lifeboat` binary against throwaway PostgreSQL clusters.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use lifeboat_testkit::PgCluster;

fn drill_databases(cluster: &PgCluster) -> Vec<String> {
    cluster
        .psql(
            "postgres",
            "SELECT datname FROM pg_database WHERE datname LIKE 'lifeboat_drill%' ORDER BY 1",
        )
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn events(repo: &TestRepo) -> Vec<serde_json::Value> {
    String::from_utf8(repo.ok(&["events", "--json"], None))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write_probes(dir: &std::path::Path, probes: serde_json::Value) -> String {
    let path = dir.join("probes.json");
    std::fs::write(&path, probes.to_string()).unwrap();
    path.display().to_string()
}

#[test]
fn drills_pass_fail_on_a_probe_and_always_drop_their_scratch_database() {
    let source = PgCluster::start();
    let drills = PgCluster::start();
    shop(&source);
    let repo = TestRepo::new();
    repo.ok(&["backup", "--db", &source.url("shop")], None);
    let dir = tempfile::tempdir().unwrap();
    // A crashed drill's leftover: dropped by the next drill of shop.
    drills.psql("postgres", "CREATE DATABASE lifeboat_drill_shop_20260101000000");
    // Another connection's drill database is not ours to drop.
    drills.psql("postgres", "CREATE DATABASE lifeboat_drill_crm_20260101000000");

    let probes = write_probes(
        dir.path(),
        serde_json::json!([
            {"name": "users exist", "sql": "select count(*) from users", "expect": ">= 1"},
            {"name": "biggest order", "sql": "select max(total) from orders", "expect": "= 90"}
        ]),
    );
    let out = repo.ok(
        &[
            "drill",
            "latest:shop",
            "--server",
            &drills.url("postgres"),
            "--probe-file",
            &probes,
            "--json",
        ],
        None,
    );
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["passed"], true, "{report:#}");
    let checks: Vec<(&str, bool)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["passed"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        checks,
        vec![
            ("restore", true),
            ("extensions", true),
            ("row counts", true),
            ("probe: users exist", true),
            ("probe: biggest order", true)
        ]
    );
    assert!(
        report["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("KiB restored, SHA-256 and size match the manifest"),
        "{report:#}"
    );
    assert_eq!(
        report["leftovers_dropped"],
        serde_json::json!(["lifeboat_drill_shop_20260101000000"])
    );
    assert_eq!(report["scratch_dropped"], true);
    assert_eq!(drill_databases(&drills), vec!["lifeboat_drill_crm_20260101000000"]);

    // A probe that does not hold fails the drill, naming it; the scratch database is gone all the same.
    let failing = write_probes(
        dir.path(),
        serde_json::json!([{"name": "a thousand users", "sql": "select count(*) from users", "expect": ">= 1000"}]),
    );
    let out = repo.run(
        &[
            "drill",
            "latest:shop",
            "--server",
            &drills.url("postgres"),
            "--probe-file",
            &failing,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAILED"), "{text}");
    assert!(text.contains("FAIL probe: a thousand users"), "{text}");
    assert!(text.contains("got 40, expected >= 1000"), "{text}");
    assert_eq!(drill_databases(&drills), vec!["lifeboat_drill_crm_20260101000000"]);

    // A corrupted pack fails the restore check: nothing unauthenticated reaches the scratch database.
    for pack in repo.files("data") {
        flip_byte(&pack, 200);
    }
    let out = repo.run(&["drill", "latest:shop", "--server", &drills.url("postgres"), "--json"], None);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["checks"][0]["name"], "restore");
    assert_eq!(report["checks"][0]["passed"], false);
    assert_eq!(
        report["checks"].as_array().unwrap().len(),
        1,
        "nothing is checked after a failed restore"
    );
    assert_eq!(drill_databases(&drills), vec!["lifeboat_drill_crm_20260101000000"]);

    // An unreachable drill server is a drill that could not run, and is recorded as such.
    let out = repo.run(
        &["drill", "latest:shop", "--server", "postgres://nobody@127.0.0.1:1/postgres"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reachable"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let log = events(&repo);
    let kinds: Vec<(&str, bool)> = log
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("backup_succeeded", true),
            ("drill_start", true),
            ("drill_result", true),
            ("drill_complete", true),
            ("drill_start", true),
            ("drill_result", false),
            ("drill_complete", false),
            ("drill_start", true),
            ("drill_result", false),
            ("drill_complete", false),
            ("drill_start", true),
            ("drill_complete", false),
        ]
    );
    let failed_probe = &log[5]["detail"].as_array().unwrap()[3];
    assert_eq!(
        (failed_probe["name"].as_str(), failed_probe["passed"].as_bool()),
        (Some("probe: a thousand users"), Some(false))
    );
    assert!(
        log[6]["message"]
            .as_str()
            .unwrap()
            .contains("failed the check probe: a thousand users"),
        "{}",
        log[6]
    );
    assert_eq!(log[3]["snapshot"]["id"], log[0]["snapshot"]["id"]);
}

/// What a notification server received: app name, summary, body, urgency.
type Received = (String, String, String, u8);

/// An `org.freedesktop.Notifications` server that records what it is sent.
#[derive(Clone, Default)]
struct NotificationServer {
    received: Arc<Mutex<Vec<Received>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl NotificationServer {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        hints: HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let urgency = match hints.get("urgency").map(|v| &**v) {
            Some(zbus::Variant::U8(u)) => *u,
            _ => 255,
        };
        let mut received = self.received.lock().unwrap();
        received.push((app_name, summary, body, urgency));
        received.len() as u32
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        ("lifeboat-test".into(), "lifeboat".into(), "1".into(), "1.2".into())
    }

    fn close_notification(&self, _id: u32) {}
}

/// A private session bus (its own dbus-daemon), so the test owns the
/// notification name whatever else runs on the machine's session bus.
struct PrivateBus {
    daemon: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl PrivateBus {
    fn start() -> PrivateBus {
        let dir = tempfile::tempdir().unwrap();
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", dir.path().join("bus").display()))
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon (package dbus) is needed for the notification test");
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().unwrap()).read_line(&mut address).unwrap();
        PrivateBus {
            daemon,
            address: address.trim().to_string(),
            _dir: dir,
        }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

#[test]
fn a_failed_drill_and_a_restore_raise_critical_desktop_notifications() {
    let bus = PrivateBus::start();
    let server = NotificationServer::default();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _connection = runtime
        .block_on(
            zbus::connection::Builder::address(bus.address.as_str())
                .name("org.freedesktop.Notifications")
                .serve_at("/org/freedesktop/Notifications", server.clone())
                .build(),
        )
        .expect("owning org.freedesktop.Notifications on the private bus");

    let cluster = PgCluster::start();
    shop(&cluster);
    let repo = TestRepo::new();
    let desktop = |args: &[&str]| {
        let mut cmd = repo.cmd(args);
        cmd.env("LIFEBOAT_NOTIFY", "desktop").env("DBUS_SESSION_BUS_ADDRESS", &bus.address);
        run(cmd, None)
    };
    let backup = desktop(&["backup", "--db", &cluster.url("shop"), "--json"]);
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));
    let snapshot: serde_json::Value = serde_json::from_slice(&backup.stdout).unwrap();
    let short = &snapshot["snapshot_id"].as_str().unwrap()[..8];
    let sha = &snapshot["sha256"].as_str().unwrap()[..12];

    let dir = tempfile::tempdir().unwrap();
    let probes = write_probes(
        dir.path(),
        serde_json::json!([{"name": "no users", "sql": "select count(*) from users", "expect": "= 0"}]),
    );
    let drill = desktop(&[
        "drill",
        "latest:shop",
        "--server",
        &cluster.url("postgres"),
        "--probe-file",
        &probes,
    ]);
    assert_eq!(drill.status.code(), Some(3), "{}", String::from_utf8_lossy(&drill.stderr));
    let restore = desktop(&["restore", "latest:shop", "--to", &cluster.url("shop_copy")]);
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));

    let received = server.received.lock().unwrap().clone();
    // Successes (the backup) are off by default: two notifications.
    assert_eq!(received.len(), 2, "{received:#?}");
    let (app, summary, body, urgency) = &received[0];
    assert_eq!(
        (app.as_str(), summary.as_str(), *urgency),
        ("Lifeboat", "Restore drill of shop FAILED", 2)
    );
    assert!(body.contains("failed the check probe: no users: got 40, expected = 0"), "{body}");
    assert!(
        body.contains(&format!("Snapshot {short} of ")) && body.contains(&format!("SHA-256 {sha}")),
        "{body}"
    );
    assert!(body.contains("take a fresh backup and drill it again"), "{body}");
    let (app, summary, body, urgency) = &received[1];
    assert_eq!((app.as_str(), summary.as_str(), *urgency), ("Lifeboat", "shop restored", 2));
    assert!(
        body.contains("restored shop into") && body.contains("shop_copy") && body.contains("2 tables"),
        "{body}"
    );
    assert!(body.contains(&format!("Snapshot {short}")), "{body}");
}

fn snapshots(repo: &TestRepo) -> Vec<serde_json::Value> {
    serde_json::from_slice::<serde_json::Value>(&repo.ok(&["snapshots", "--json"], None))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn the_daemon_backs_up_on_a_one_minute_schedule_prunes_by_policy_and_stops_on_sigterm() {
    let cluster = PgCluster::start();
    shop(&cluster);
    let repo = TestRepo::new();
    repo.ok(&["connection", "add", "shop", "--db", &cluster.url("shop")], None);
    repo.ok(&["backup", "--connection", "shop"], None);
    repo.ok(&["backup", "--connection", "shop", "--checkpoint", "before 15 -> 16"], None);
    let out = repo.ok(&["schedule", "set", "shop", "--backup", "* * * * *", "--keep-last", "1"], None);
    assert!(
        String::from_utf8_lossy(&out).contains("keep last 1"),
        "{}",
        String::from_utf8_lossy(&out)
    );

    let mut daemon = repo.cmd(&["daemon"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(daemon.stderr.take().unwrap());
    let mut first_line = String::new();
    stderr.read_line(&mut first_line).unwrap();
    assert!(first_line.contains("1 schedule(s)"), "{first_line}");
    // One scheduler per workstation (the first holds the lock once it has said so).
    let second = repo.run(&["daemon"], None);
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already runs"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );

    let deadline = Instant::now() + Duration::from_secs(150);
    let kinds = loop {
        let kinds: Vec<String> = snapshots(&repo).iter().map(|s| s["kind"].as_str().unwrap().to_string()).collect();
        if kinds.iter().any(|k| k == "scheduled") && !kinds.iter().any(|k| k == "manual") {
            break kinds;
        }
        assert!(
            Instant::now() < deadline,
            "no scheduled backup with retention after 150 s: {kinds:?}"
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    // keep-last 1 removed the manual backup; the checkpoint is exempt.
    let mut sorted = kinds.clone();
    sorted.sort();
    assert!(
        sorted == ["checkpoint", "scheduled"] || sorted == ["checkpoint", "scheduled", "scheduled"],
        "{kinds:?}"
    );

    Command::new("kill").arg("-TERM").arg(daemon.id().to_string()).status().unwrap();
    let stopped = Instant::now();
    let status = loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            break status;
        }
        assert!(stopped.elapsed() < Duration::from_secs(60), "the daemon did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(status.success(), "{rest}");
    let stderr = rest;
    assert!(stderr.contains("started the scheduled backup of shop"), "{stderr}");

    let log = events(&repo);
    assert!(
        log.iter().any(|e| e["kind"] == "retention_applied" && e["connection"] == "shop"),
        "{log:#?}"
    );
    let scheduled = log.iter().filter(|e| e["kind"] == "backup_succeeded").count();
    assert!(scheduled >= 2, "the manual and the scheduled backup: {log:#?}");
    let shown = String::from_utf8(repo.ok(&["schedule", "show", "shop"], None)).unwrap();
    assert!(shown.contains("succeeded"), "{shown}");
}

#[test]
fn a_snapshot_kept_forever_survives_retention_until_it_is_returned() {
    let repo = TestRepo::new();
    let oldest = repo.put("db", &stream(1, 50_000));
    repo.put("db", &stream(2, 50_000));
    let newest = repo.put("db", &stream(3, 50_000));
    let out = String::from_utf8(repo.ok(&["keep", &oldest[..8]], None)).unwrap();
    assert!(out.contains("kept forever"), "{out}");
    repo.ok(&["forget", "--keep-last", "1"], None);
    let mut left: Vec<String> = snapshots(&repo).iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    left.sort();
    let mut expected = vec![oldest.clone(), newest.clone()];
    expected.sort();
    assert_eq!(left, expected, "the newest by policy, the oldest kept forever");

    repo.ok(&["keep", &oldest, "--off"], None);
    repo.ok(&["forget", "--keep-last", "1"], None);
    let left: Vec<String> = snapshots(&repo).iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(left, vec![newest]);
}

/// A schedule's off-site copy: each scheduled backup is copied to the second
/// repository; when that one is unreachable the backup still succeeds, a
/// failure is announced, and the next backup's copy catches up.
#[test]
fn scheduled_backups_are_copied_off_site_and_a_missed_copy_catches_up() {
    let cluster = PgCluster::start();
    shop(&cluster);
    let repo = TestRepo::new();
    let offsite = TestRepo::new();
    repo.ok(&["connection", "add", "shop", "--db", &cluster.url("shop")], None);
    let location = offsite.path.display().to_string();
    let out = repo.ok(&["schedule", "set", "shop", "--backup", "daily", "--copy-to", &location], None);
    assert!(
        String::from_utf8_lossy(&out).contains("copied off-site to"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    let run_now = || {
        let mut cmd = repo.cmd(&["schedule", "run", "shop"]);
        cmd.env("LIFEBOAT_TO_PASSWORD", PASSWORD);
        run(cmd, None)
    };
    let copies = || snapshots(&offsite).iter().filter(|s| s["tag"] == "shop").count();

    assert!(run_now().status.success());
    assert_eq!(copies(), 1);
    assert!(events(&repo).iter().any(|e| e["kind"] == "copy_succeeded"));

    // The off-site repository is away (an unplugged disk): the backup stands.
    let away = offsite.path.with_file_name("away");
    std::fs::rename(&offsite.path, &away).unwrap();
    let out = run_now();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let failed: Vec<_> = events(&repo).into_iter().filter(|e| e["kind"] == "copy_failed").collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0]["message"].as_str().unwrap().contains(&location), "{}", failed[0]);

    // Back: the next copy brings both missing snapshots.
    std::fs::rename(&away, &offsite.path).unwrap();
    assert!(run_now().status.success());
    assert_eq!(copies(), 3);
    assert_eq!(snapshots(&repo).len(), 3);
    let (healthy, report) = offsite.check_json(false);
    assert!(healthy, "{report}");

    // The off-site repository keeps fewer by its own retention: what it
    // forgot is not copied back, only the new backup travels.
    offsite.ok(&["forget", "--keep-last", "1"], None);
    assert_eq!(copies(), 1);
    assert!(run_now().status.success());
    assert_eq!(copies(), 2);

    repo.ok(&["schedule", "set", "shop", "--no-copy"], None);
    let shown = String::from_utf8(repo.ok(&["schedule", "show", "shop"], None)).unwrap();
    assert!(!shown.contains("off-site"), "{shown}");
}

/// A schedule keeps the rules a runbook states (yearly, within, a minimum
/// age, checkpoint expiry), and its retention honours them: "30 days
/// minimum" removes nothing younger, however few snapshots the counts keep.
#[test]
fn a_schedule_keeps_the_retention_rules_people_write_and_applies_them() {
    let cluster = PgCluster::start();
    shop(&cluster);
    let repo = TestRepo::new();
    repo.ok(&["connection", "add", "shop", "--db", &cluster.url("shop")], None);
    repo.ok(&["backup", "--connection", "shop"], None);
    repo.ok(&["backup", "--connection", "shop"], None);
    let set = [
        "schedule",
        "set",
        "shop",
        "--backup",
        "daily",
        "--keep-last",
        "1",
        "--keep-yearly",
        "2",
        "--min-age",
        "30d",
        "--checkpoints-expire-after",
        "90d",
    ];
    let out = String::from_utf8(repo.ok(&set, None)).unwrap();
    assert!(
        out.contains("keep last 1, yearly 2; nothing younger than 30d is removed")
            && out.contains("checkpoints older than 90d follow the rules"),
        "{out}"
    );
    let shown: serde_json::Value = serde_json::from_slice(&repo.ok(&["schedule", "show", "shop", "--json"], None)).unwrap();
    let retention = &shown[0]["schedule"]["retention"];
    assert_eq!(
        (
            &retention["keep_yearly"],
            &retention["min_age_hours"],
            &retention["checkpoint_expiry_hours"]
        ),
        (&serde_json::json!(2), &serde_json::json!(720), &serde_json::json!(2160)),
        "{shown}"
    );

    repo.ok(&["schedule", "run", "shop"], None);
    assert_eq!(snapshots(&repo).len(), 3, "nothing younger than the minimum age is removed");

    let err = repo.fails(&["schedule", "set", "shop", "--keep-within", "soon"], None);
    assert!(err.contains("30d"), "{err}");
    repo.ok(&["schedule", "set", "shop", "--min-age", "0"], None);
    repo.ok(&["schedule", "run", "shop"], None);
    assert_eq!(snapshots(&repo).len(), 1, "without the minimum, the newest alone stays");
}

/// A schedule's heartbeat pings URL/start, then URL or URL/fail; a monitor
/// that cannot be reached is announced and never fails the backup.
#[test]
fn a_schedules_heartbeat_pings_start_then_success_or_fail() {
    let cluster = PgCluster::start();
    shop(&cluster);
    let repo = TestRepo::new();
    let monitor = lifeboat_testkit::http::Receiver::start();
    let url = monitor.url.clone();
    repo.ok(&["connection", "add", "shop", "--db", &cluster.url("shop")], None);
    let err = repo.fails(&["schedule", "set", "shop", "--heartbeat", "ftp://monitor/x"], None);
    assert!(err.contains("heartbeat URL"), "{err}");
    let out = repo.ok(
        &[
            "schedule",
            "set",
            "shop",
            "--backup",
            "daily",
            "--heartbeat",
            &format!("{url}/ping/abc"),
        ],
        None,
    );
    assert!(String::from_utf8_lossy(&out).contains("heartbeat:"));

    repo.ok(&["schedule", "run", "shop"], None);
    assert_eq!(monitor.paths(), ["/ping/abc/start", "/ping/abc"]);

    cluster.psql("postgres", "DROP DATABASE shop");
    assert!(!repo.run(&["schedule", "run", "shop"], None).status.success());
    assert_eq!(monitor.paths()[2..], ["/ping/abc/start", "/ping/abc/fail"]);

    // Nothing listens on the monitor's port now: the backup still succeeds.
    shop(&cluster);
    let closed = lifeboat_testkit::http::closed_url();
    repo.ok(&["schedule", "set", "shop", "--heartbeat", &format!("{closed}/ping/abc")], None);
    repo.ok(&["schedule", "run", "shop"], None);
    let failed: Vec<String> = events(&repo)
        .iter()
        .filter(|e| e["kind"] == "heartbeat_failed")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed.len(), 2, "start and success, each after its tries: {failed:?}");
    assert!(
        failed.iter().all(|m| m.contains("not affected") && !m.contains("/ping/abc")),
        "{failed:?}"
    );

    repo.ok(&["schedule", "set", "shop", "--no-heartbeat"], None);
    let shown = String::from_utf8(repo.ok(&["schedule", "show", "shop"], None)).unwrap();
    assert!(!shown.contains("heartbeat"), "{shown}");
}

/// A saved schedule written for the OS schedulers: systemd units, a launchd
/// agent and a Task Scheduler task, each running `schedule run` for it.
#[test]
fn a_schedule_is_written_for_systemd_launchd_and_task_scheduler() {
    let cluster = PgCluster::start();
    shop(&cluster);
    let repo = TestRepo::new();
    repo.ok(&["connection", "add", "shop", "--db", &cluster.url("shop")], None);
    let err = repo.fails(&["schedule", "launchd", "shop"], None);
    assert!(err.contains("lifeboat schedule set shop"), "{err}");
    repo.ok(&["schedule", "set", "shop", "--backup", "weekly sun 03:15"], None);

    let text = |args: &[&str]| String::from_utf8(repo.ok(args, None)).unwrap();
    let units = text(&["schedule", "systemd", "shop"]);
    assert!(
        units.contains("OnCalendar=Sun *-*-* 3:15:00") && units.contains(" schedule run shop\n"),
        "{units}"
    );
    let plist = text(&["schedule", "launchd", "shop"]);
    assert!(
        plist.contains("<key>Weekday</key><integer>0</integer><key>Hour</key><integer>3</integer><key>Minute</key><integer>15</integer>"),
        "{plist}"
    );
    assert!(plist.contains("<string>org.lifeboat.backup.shop</string>"), "{plist}");
    let task = text(&["schedule", "task-scheduler", "shop"]);
    assert!(
        task.contains("<StartBoundary>2000-01-01T03:15:00</StartBoundary>") && task.contains("<Sunday />"),
        "{task}"
    );
    assert!(task.contains("schedule run shop</Arguments>"), "{task}");
    let repo_path = repo.path.display().to_string();
    for text in [&units, &plist, &task] {
        assert!(text.contains(&repo_path), "the repository's location is in each: {text}");
    }

    let err = repo.fails(&["schedule", "task-scheduler", "shop", "--drill"], None);
    assert!(err.contains("no drill schedule"), "{err}");
}
