//! Concurrency: two workstations (two data folders, two catalogs) share one
//! repository, one of them with a clock three hours ahead. The skew is a
//! faked clock for that workstation's processes only (libfaketime's
//! `faketime`), never a changed system clock: the storage's file times stay
//! true, as a NAS's would.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::*;
use lifeboat_testkit::PgCluster;

/// A workstation: its own data folder, and a clock `skew` off (e.g. "+3h").
struct Workstation<'a> {
    repo: &'a TestRepo,
    data_dir: PathBuf,
    skew: Option<&'static str>,
    _dir: tempfile::TempDir,
}

impl<'a> Workstation<'a> {
    fn new(repo: &'a TestRepo, skew: Option<&'static str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Workstation {
            repo,
            data_dir: dir.path().join("data"),
            skew,
            _dir: dir,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let plain = self.repo.cmd(args);
        let mut cmd = match self.skew {
            Some(skew) => {
                let mut faked = Command::new("faketime");
                faked.args(["-f", skew]).arg(plain.get_program());
                faked
            }
            None => Command::new(plain.get_program()),
        };
        cmd.args(plain.get_args());
        for (key, value) in plain.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        cmd.env("LIFEBOAT_DATA_DIR", &self.data_dir);
        cmd
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        run(self.command(args), stdin)
    }

    fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "lifeboat {args:?} (clock {:?}) failed: {}",
            self.skew,
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn put(&self, data: &[u8]) -> String {
        String::from_utf8(self.ok(&["put", "--tag", "db", "--lock-wait", "120"], Some(data)))
            .unwrap()
            .trim()
            .to_string()
    }
}

fn faketime_available() -> bool {
    let works = Command::new("faketime")
        .args(["-f", "+3h", "date", "+%s"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !works {
        assert!(
            std::env::var_os("LIFEBOAT_TEST_REQUIRE_E2E").is_none(),
            "faketime is missing: scripts/setup installs it"
        );
        eprintln!("skipped: no faketime (run the suite through scripts/test)");
    }
    works
}

fn rows_of(workstation: &Workstation, spec: &str) -> serde_json::Value {
    let shown: serde_json::Value = serde_json::from_slice(&workstation.ok(&["show", spec], None)).unwrap();
    shown["manifest"]["metadata"]["row_counts"].clone()
}

/// `latest:` is the snapshot recorded last, whatever the clocks of the
/// workstations that wrote them say, and neither workstation takes the
/// other's newest for a vanished one.
#[test]
fn latest_follows_what_was_recorded_last_not_the_workstations_clocks() {
    if !faketime_available() {
        return;
    }
    let cluster = PgCluster::start();
    cluster.psql("postgres", "CREATE DATABASE shop");
    cluster.psql("shop", "CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
    let repo = TestRepo::new();
    let office = Workstation::new(&repo, None);
    let laptop = Workstation::new(&repo, Some("+3h"));
    let url = cluster.url("shop");

    laptop.ok(&["backup", "--db", &url], None);
    cluster.psql("shop", "INSERT INTO t VALUES (2)");
    // Recorded later, but stamped three hours before the laptop's.
    let office_id = String::from_utf8(office.ok(&["backup", "--db", &url], None)).unwrap();
    assert_eq!(rows_of(&office, "latest:shop"), serde_json::json!({ "public.t": 2 }));
    assert_eq!(rows_of(&laptop, "latest:shop"), serde_json::json!({ "public.t": 2 }));
    let (healthy, report) = repo.check_json(false);
    assert!(healthy && !report.to_string().contains("latest pointer"), "{report}");

    cluster.psql("shop", "INSERT INTO t VALUES (3)");
    laptop.ok(&["backup", "--db", &url], None);
    // The office saw its own snapshot as the newest; the laptop's is newer
    // although the office's clock says nothing of it: no false alarm.
    let out = office.run(&["cat", "latest:shop"], None);
    assert!(out.status.success());
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("WARNING"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rows_of(&office, "latest:shop"), serde_json::json!({ "public.t": 3 }));

    // Retention keeps the last two recorded, not the two latest stamps.
    office.ok(&["forget", "--tag", "shop", "--keep-last", "2", "--prune"], None);
    let listed: serde_json::Value = serde_json::from_slice(&office.ok(&["snapshots", "--json"], None)).unwrap();
    let ids: Vec<&str> = listed.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{listed}");
    assert!(
        ids.contains(&office_id.trim()),
        "the office's snapshot is one of the last two: {listed}"
    );
}

/// Two workstations, one clock three hours ahead, back up and prune one
/// repository at the same time: every job succeeds (neither takes the
/// other's live lock for a stale one), and every snapshot left reads back
/// exactly; `check --read-data` is healthy afterwards.
#[test]
fn two_workstations_with_skewed_clocks_back_up_and_prune_one_repository_at_once() {
    if !faketime_available() {
        return;
    }
    let repo = TestRepo::new();
    let office = Workstation::new(&repo, None);
    let laptop = Workstation::new(&repo, Some("+3h"));
    // Streams that share most of their content, so both writers store and
    // prune the same blobs.
    let base = stream(7, 600_000);
    let source = |n: u64| {
        let mut data = base.clone();
        data.extend(stream(100 + n, 120_000));
        data
    };
    let stored: Vec<(String, Vec<u8>)> = std::thread::scope(|scope| {
        let office_puts = scope.spawn(|| {
            (0..4)
                .map(|n| {
                    let data = source(n);
                    (office.put(&data), data)
                })
                .collect::<Vec<_>>()
        });
        let laptop_puts = scope.spawn(|| {
            (10..14)
                .map(|n| {
                    let data = source(n);
                    (laptop.put(&data), data)
                })
                .collect::<Vec<_>>()
        });
        let prunes = scope.spawn(|| {
            for round in 0..3 {
                let (pruner, args): (&Workstation, &[&str]) = if round % 2 == 0 {
                    (
                        &laptop,
                        &["forget", "--tag", "db", "--keep-last", "3", "--prune", "--lock-wait", "120"],
                    )
                } else {
                    (&office, &["prune", "--lock-wait", "120"])
                };
                pruner.ok(args, None);
            }
        });
        prunes.join().unwrap();
        let mut all = office_puts.join().unwrap();
        all.extend(laptop_puts.join().unwrap());
        all
    });
    let listed: serde_json::Value = serde_json::from_slice(&office.ok(&["snapshots", "--json"], None)).unwrap();
    let listed = listed.as_array().unwrap();
    assert!(listed.len() >= 3, "{listed:?}");
    for entry in listed {
        let id = entry["id"].as_str().unwrap();
        let (_, data) = stored
            .iter()
            .find(|(stored_id, _)| stored_id == id)
            .expect("a listed snapshot was stored");
        assert_eq!(&office.ok(&["cat", id], None), data, "snapshot {id}");
        assert_eq!(&laptop.ok(&["cat", id], None), data, "snapshot {id}");
    }
    let (healthy, report) = repo.check_json(true);
    assert!(healthy, "{report}");
    assert!(!report.to_string().contains("stale"), "{report}");
}
