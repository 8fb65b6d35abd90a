//! `lifeboat copy`: snapshots to a second repository, verified on the way,
//! re-encrypted under the target's keys, never twice, and only the chunks
//! the target lacks written.

mod common;

use common::*;
use serde_json::Value;

/// `lifeboat copy ARGS --to TARGET --json` from `source`, with the target's passphrase.
fn copy(source: &TestRepo, target: &TestRepo, args: &[&str], to_password: &str) -> std::process::Output {
    let mut cmd = source.cmd(&["copy"]);
    cmd.args(args)
        .arg("--to")
        .arg(&target.path)
        .arg("--json")
        .env("LIFEBOAT_TO_PASSWORD", to_password);
    run(cmd, None)
}

fn copied(source: &TestRepo, target: &TestRepo, args: &[&str]) -> Value {
    let out = copy(source, target, args, PASSWORD);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn snapshots(repo: &TestRepo) -> Vec<Value> {
    serde_json::from_slice::<Value>(&repo.ok(&["snapshots", "--json"], None))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Dump-like text: most lines shared between versions.
fn version(n: u32) -> Vec<u8> {
    (0..40_000u32)
        .map(|row| format!("{row}\tcustomer {}\t{}\n", row % 97, if row % 10_000 == 0 { n } else { 0 }))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn snapshots_are_copied_once_verified_and_only_new_chunks_travel() {
    let source = TestRepo::new();
    let target = TestRepo::new();
    source.put("db", &version(1));
    source.put("db", &version(2));
    source.put("other", b"another stream");

    let first = copied(&source, &target, &["--all"]);
    assert_eq!(first["copied"].as_array().unwrap().len(), 3, "{first}");
    assert!(first["already_there"].as_array().unwrap().is_empty());

    // The copies keep what the Timeline shows: name, time, size, SHA-256.
    let fields = |s: &Value| (s["tag"].clone(), s["time"].clone(), s["size"].clone(), s["sha256"].clone());
    let mut in_source: Vec<_> = snapshots(&source).iter().map(fields).collect();
    let mut in_target: Vec<_> = snapshots(&target).iter().map(fields).collect();
    in_source.sort_by_key(|f| f.1.to_string());
    in_target.sort_by_key(|f| f.1.to_string());
    assert_eq!(in_source, in_target);
    assert_eq!(target.cat("latest:db"), version(2));
    assert_eq!(target.cat("latest:other"), b"another stream");

    // Again: nothing to do, nothing written.
    let again = copied(&source, &target, &["--all"]);
    assert!(again["copied"].as_array().unwrap().is_empty(), "{again}");
    assert_eq!(again["already_there"].as_array().unwrap().len(), 3);
    assert_eq!(again["added_bytes"], 0);

    // A new backup: its copy writes only what changed (as deltas of the
    // chunks the target already holds).
    source.put("db", &version(3));
    let day_two = copied(&source, &target, &["latest:db"]);
    let one = &day_two["copied"][0];
    assert!(
        one["added_bytes"].as_u64().unwrap() * 20 < one["size"].as_u64().unwrap(),
        "{day_two}"
    );
    assert_eq!(target.cat("latest:db"), version(3));
    let (healthy, report) = target.check_json(true);
    assert!(healthy, "{report}");

    // The copy is the target's own: it opens and reads with the target alone.
    assert_eq!(snapshots(&target).len(), 4);
}

#[test]
fn a_copy_refuses_the_same_repository_and_a_wrong_passphrase() {
    let source = TestRepo::new();
    source.put("db", b"hello");
    let out = copy(&source, &source, &["--all"], PASSWORD);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the same repository"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let target = TestRepo::new();
    let out = copy(&source, &target, &["--all"], "not the passphrase");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrong passphrase") && err.contains("to copy to"), "{err}");
    assert!(snapshots(&target).is_empty());

    let out = copy(&source, &target, &["latest:nothing"], PASSWORD);
    assert!(!out.status.success());
    assert!(snapshots(&target).is_empty());
}

/// Nothing is copied from bytes that do not authenticate: the damaged
/// snapshot leaves no manifest in the target and the copy fails clearly;
/// what was copied before it stays.
#[test]
fn a_damaged_source_pack_stops_the_copy_without_a_partial_snapshot() {
    let source = TestRepo::new();
    let target = TestRepo::new();
    let good = source.put("good", b"copied before the damage");
    copied(&source, &target, &[&good]);
    source.put("db", &stream(7, 300_000));
    // The packs of the second backup: flip a byte in each.
    let before: Vec<_> = target.files("snapshots");
    for pack in source.files("data") {
        if std::fs::metadata(&pack).unwrap().len() > 1000 {
            flip_byte(&pack, 200);
        }
    }
    let out = copy(&source, &target, &["latest:db"], PASSWORD);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("damaged") || err.contains("authentic"), "{err}");
    assert_eq!(target.files("snapshots"), before, "no manifest for the damaged snapshot");
    assert_eq!(target.cat("latest:good"), b"copied before the damage");
}
