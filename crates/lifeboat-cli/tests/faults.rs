//! Faults: killed processes, concurrent jobs, a full disk, a read-only
//! repository. Earlier snapshots must always come back byte-identical.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn random_bytes(len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    std::fs::File::open("/dev/urandom").unwrap().read_exact(&mut data).unwrap();
    data
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn kill(child: &mut Child) {
    let _ = Command::new("kill").arg("-9").arg(child.id().to_string()).status();
    let _ = child.wait();
}

fn warnings(report: &serde_json::Value) -> String {
    report["warnings"].to_string()
}

#[test]
fn killed_mid_put_leaves_earlier_snapshots_intact_and_prune_cleans_up() {
    let repo = TestRepo::new();
    let earlier = stream(20, 1_000_000);
    let id = repo.put("db", &earlier);
    let packs = || {
        repo.files("data")
            .into_iter()
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .count()
    };
    let packs_before = packs();

    let mut child = spawn(&mut repo.cmd(&["put", "--tag", "db"]));
    let mut stdin = child.stdin.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Incompressible input fills packs quickly; kill once one was written.
    while packs() == packs_before {
        assert!(Instant::now() < deadline, "no pack was written");
        stdin.write_all(&random_bytes(1 << 20)).unwrap();
    }
    kill(&mut child);
    drop(stdin);

    assert_eq!(repo.cat(&id), earlier);
    assert_eq!(repo.cat("latest:db"), earlier, "the pointer did not move");
    let (healthy, report) = repo.check_json(false);
    assert!(healthy, "{report}");
    assert!(warnings(&report).contains("in no index"), "{report}");
    assert!(warnings(&report).contains("stale lock"), "{report}");

    // A young pack in no index may be a running backup's: prune keeps it.
    let out = String::from_utf8(repo.ok(&["prune"], None)).unwrap();
    assert!(out.contains("younger than 2 hours"), "{out}");
    assert!(packs() > packs_before);
    repo.age("data", Duration::from_secs(3 * 3600));
    repo.ok(&["prune"], None);
    let (healthy, report) = repo.check_json(true);
    assert!(healthy, "{report}");
    assert!(!warnings(&report).contains("in no index"), "{report}");
    assert_eq!(packs(), packs_before);
    assert_eq!(repo.files("data").len(), packs_before, "temporary files are gone too");
}

#[test]
fn killed_mid_prune_at_any_moment_never_loses_a_kept_snapshot() {
    let repo = TestRepo::new();
    let common_part = stream(30, 1_500_000);
    let streams: Vec<Vec<u8>> = (31..35)
        .map(|s| {
            let mut data = common_part.clone();
            data.extend(stream(s, 1_500_000));
            data
        })
        .collect();
    let ids: Vec<String> = streams.iter().map(|s| repo.put("db", s)).collect();
    repo.ok(&["forget", "--keep-last", "2"], None);

    for delay_ms in (50..900).step_by(50) {
        let mut child = spawn(&mut repo.cmd(&["prune"]));
        std::thread::sleep(Duration::from_millis(delay_ms));
        kill(&mut child);
        for i in [2, 3] {
            assert_eq!(repo.cat(&ids[i]), streams[i], "after a kill at {delay_ms} ms");
        }
    }
    repo.age("data", Duration::from_secs(3 * 3600));
    repo.ok(&["prune"], None);
    let (healthy, report) = repo.check_json(true);
    assert!(healthy, "{report}");
    assert!(!warnings(&report).contains("in no index"), "{report}");
    assert_eq!(repo.cat("latest:db"), streams[3]);
}

#[test]
fn concurrent_puts_and_prunes_keep_every_listed_snapshot_whole() {
    let repo = TestRepo::new();
    let sources: Vec<Vec<u8>> = (40..46).map(|s| stream(s, 800_000)).collect();
    let stored = std::thread::scope(|scope| {
        let puts = scope.spawn(|| sources.iter().map(|s| (repo.put("db", s), s.clone())).collect::<Vec<_>>());
        let prunes = scope.spawn(|| {
            for _ in 0..6 {
                repo.ok(&["forget", "--keep-last", "3", "--prune"], None);
            }
        });
        prunes.join().unwrap();
        puts.join().unwrap()
    });
    let listed: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
    let listed = listed.as_array().unwrap();
    assert!(listed.len() >= 3);
    for entry in listed {
        let id = entry["id"].as_str().unwrap();
        let (_, source) = stored.iter().find(|(stored_id, _)| stored_id == id).unwrap();
        assert_eq!(&repo.cat(id), source);
    }
    let (healthy, report) = repo.check_json(true);
    assert!(healthy, "{report}");
}

fn ok(out: std::process::Output) -> Vec<u8> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn full_disk_fails_cleanly_and_loses_nothing() {
    if !is_root() {
        eprintln!("skipped: mounting a private tmpfs needs root (CI runs as root)");
        return;
    }
    let fs = PrivateTmpfs::new("6m");
    ok(fs.lifeboat(&["init"], None));
    let earlier = stream(50, 1_000_000);
    let id = String::from_utf8(ok(fs.lifeboat(&["put", "--tag", "db"], Some(&earlier))))
        .unwrap()
        .trim()
        .to_string();

    let out = fs.lifeboat(&["put", "--tag", "db"], Some(&random_bytes(12 << 20)));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no space left") && err.contains("nothing stored earlier was changed"),
        "{err}"
    );

    assert_eq!(ok(fs.lifeboat(&["cat", &id], None)), earlier);
    assert_eq!(ok(fs.lifeboat(&["cat", "latest:db"], None)), earlier);
    ok(fs.lifeboat(&["check", "--read-data"], None));
    ok(fs.lifeboat(&["prune"], None));
    assert_eq!(ok(fs.lifeboat(&["cat", &id], None)), earlier);
}

#[test]
fn read_only_repository_can_be_read_but_not_written() {
    if !is_root() {
        eprintln!("skipped: mounting a private tmpfs needs root (CI runs as root)");
        return;
    }
    let fs = PrivateTmpfs::new("16m");
    ok(fs.lifeboat(&["init"], None));
    let data = stream(60, 500_000);
    let id = String::from_utf8(ok(fs.lifeboat(&["put", "--tag", "db"], Some(&data))))
        .unwrap()
        .trim()
        .to_string();
    let remount = fs
        .command(Path::new("mount"))
        .args(["-o", "remount,ro"])
        .arg(&fs.dir)
        .status()
        .unwrap();
    assert!(remount.success());

    assert_eq!(ok(fs.lifeboat(&["cat", &id], None)), data);
    ok(fs.lifeboat(&["snapshots"], None));
    ok(fs.lifeboat(&["check", "--read-data"], None));
    let out = fs.lifeboat(&["put", "--tag", "db"], Some(b"new"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("read-only"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A seeded generator for the crash campaign (xorshift: no dependency).
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn listed(repo: &TestRepo) -> Vec<(String, String)> {
    let list: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s["sha256"].as_str().unwrap().to_owned()))
        .collect()
}

/// Crash campaign: `put`, `prune` and `forget --prune` killed (SIGKILL) at
/// seeded random instants, over and over. After every kill each listed
/// snapshot checked reads back byte-identical; at the end, once the
/// leftovers are old enough, prune then `check --read-data` is healthy and
/// every listed snapshot reads back. A longer run:
/// `LIFEBOAT_CRASH_ITERATIONS=300 LIFEBOAT_CRASH_SEED=7 cargo test -p lifeboat-cli --test faults crash_campaign`.
#[test]
fn crash_campaign_kills_put_prune_and_forget_at_random_instants() {
    let iterations: u64 = std::env::var("LIFEBOAT_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let seed: u64 = std::env::var("LIFEBOAT_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20261130);
    let mut rng = Seeded(seed | 1);
    let repo = TestRepo::new();
    let shared = stream(seed, 300_000);
    let mut by_sha = std::collections::HashMap::new();
    let version = |n: u64| {
        let mut data = shared.clone();
        data.extend(stream(seed.wrapping_add(n), 200_000 + (n as usize % 5) * 50_000));
        data
    };
    for n in 0..3 {
        let data = version(n);
        repo.put("db", &data);
        by_sha.insert(sha256_hex(&data), data);
    }
    for iteration in 0..iterations {
        let action = rng.below(3);
        let delay = Duration::from_millis(rng.below(900));
        let mut child = match action {
            0 => {
                let data = version(100 + iteration);
                by_sha.insert(sha256_hex(&data), data.clone());
                let mut child = spawn(&mut repo.cmd(&["put", "--tag", "db"]));
                let mut stdin = child.stdin.take().unwrap();
                std::thread::spawn(move || {
                    let _ = stdin.write_all(&data);
                });
                child
            }
            1 => spawn(&mut repo.cmd(&["prune"])),
            _ => spawn(&mut repo.cmd(&["forget", "--keep-last", "3", "--prune"])),
        };
        std::thread::sleep(delay);
        kill(&mut child);
        let what = format!("seed {seed}, iteration {iteration}: action {action} killed after {delay:?}");
        let snapshots = listed(&repo);
        assert!(!snapshots.is_empty(), "{what}: every snapshot is gone");
        for (id, sha) in snapshots.iter().rev().take(2) {
            let expected = by_sha
                .get(sha)
                .unwrap_or_else(|| panic!("{what}: snapshot {id} holds a stream never stored"));
            assert!(repo.cat(id) == *expected, "{what}: snapshot {id} reads back wrong");
        }
    }
    repo.age("data", Duration::from_secs(3 * 3600));
    repo.ok(&["prune"], None);
    let (healthy, report) = repo.check_json(true);
    assert!(healthy, "seed {seed}: {report}");
    for (id, sha) in listed(&repo) {
        assert!(
            repo.cat(&id) == by_sha[&sha],
            "seed {seed}: snapshot {id} reads back wrong after prune"
        );
    }
    println!("crash campaign: seed {seed}, {iterations} kills, every listed snapshot whole");
}
