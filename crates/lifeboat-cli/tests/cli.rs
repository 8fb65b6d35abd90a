//! The CLI contract and the repository's behaviour, through the real binary.

mod common;

use common::*;

#[test]
fn streams_round_trip_by_id_prefix_and_latest() {
    let repo = TestRepo::new();
    let first = stream(1, 3_000_000);
    let second = stream(2, 2_500_000);
    let id1 = repo.put("app-db", &first);
    assert_eq!(id1.len(), 64);
    // Two different streams under one name restore as themselves.
    let id2 = repo.put("app-db", &second);
    assert_eq!(repo.cat(&id1), first);
    assert_eq!(repo.cat(&id2[..10]), second);
    assert_eq!(repo.cat("latest:app-db"), second);
    // An empty stream is a valid snapshot too.
    // An empty stream is stored only when asked for (see robustness.rs).
    let empty = String::from_utf8(repo.ok(&["put", "--tag", "empty", "--allow-empty"], Some(b""))).unwrap();
    assert_eq!(repo.cat(empty.trim()), b"");

    let list: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    let entry = list.iter().find(|e| e["id"] == id1.as_str()).unwrap();
    assert_eq!(entry["tag"], "app-db");
    assert_eq!(entry["size"], first.len() as u64);
    let sha = sha256_hex(&first);
    assert_eq!(entry["sha256"], sha.as_str());
    assert!(entry["time"].as_str().unwrap().starts_with("20"));
    assert!(entry.get("label").is_some());

    let (healthy, report) = repo.check_json(true);
    assert!(healthy, "{report}");
    assert_eq!(report["snapshots"], 3);
}

#[test]
fn put_json_reports_dedup_and_label() {
    let repo = TestRepo::new();
    let data = stream(3, 4_000_000);
    let first: serde_json::Value = serde_json::from_slice(&repo.ok(&["put", "--tag", "db", "--json"], Some(&data))).unwrap();
    assert!(first["added_bytes"].as_u64().unwrap() > 0);
    let again: serde_json::Value = serde_json::from_slice(&repo.ok(
        &[
            "put",
            "--tag",
            "db",
            "--json",
            "--kind",
            "checkpoint",
            "--label",
            "before 16 -> 17 upgrade",
        ],
        Some(&data),
    ))
    .unwrap();
    assert_eq!(again["new_chunks"], 0, "{again}");
    assert_eq!(again["added_bytes"], 0);
    let list: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json", "--tag", "db"], None)).unwrap();
    let checkpoint = list.as_array().unwrap().iter().find(|e| e["id"] == again["snapshot_id"]).unwrap();
    assert_eq!(checkpoint["label"], "before 16 -> 17 upgrade");
    assert_eq!(checkpoint["kind"], "checkpoint");
}

#[test]
fn wrong_passphrase_and_missing_credentials_are_clear_errors() {
    let repo = TestRepo::new();
    repo.put("db", b"hello");
    let out = common::run(
        {
            let mut c = repo.cmd(&["snapshots"]);
            c.env("LIFEBOAT_PASSWORD", "not it");
            c
        },
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));

    // No passphrase anywhere and no terminal (setsid drops the controlling one).
    let mut cmd = std::process::Command::new("setsid");
    cmd.arg("-w")
        .arg(bin())
        .args(["snapshots", "--no-keychain"])
        .env("LIFEBOAT_REPO", &repo.path)
        .env_remove("LIFEBOAT_PASSWORD");
    let out = common::run(cmd, None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no passphrase given"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A password file works.
    let file = repo.path.with_file_name("pw");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    let mut cmd = repo.cmd(&["cat", "latest:db"]);
    cmd.env_remove("LIFEBOAT_PASSWORD").arg("--password-file").arg(&file);
    assert_eq!(common::run(cmd, None).stdout, b"hello");

    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = repo.cmd(&["snapshots"]);
    cmd.env("LIFEBOAT_REPO", elsewhere.path());
    let err = String::from_utf8_lossy(&common::run(cmd, None).stderr).into_owned();
    assert!(err.contains("no Lifeboat repository"), "{err}");
}

/// A URL is never taken for a folder name: `s3://bucket` once made a local
/// folder called `s3:`; a bucket without a region says what to set. A
/// file:// URL is a folder.
#[test]
fn a_location_lifeboat_cannot_use_is_refused_and_nothing_is_created() {
    let cwd = tempfile::tempdir().unwrap();
    for (location, says) in [
        ("s3://team-backups/lifeboat", "which AWS region is the bucket in? Set AWS_REGION"),
        ("ftp://nas/backups", "does not know locations starting with `ftp://`"),
        ("gs://bucket/x", "does not know locations starting with `gs://`"),
    ] {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(["init", "--repo", location, "--no-keychain"])
            .current_dir(cwd.path())
            .env("LIFEBOAT_PASSWORD", PASSWORD)
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_ENDPOINT_URL");
        let out = common::run(cmd, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{location}: {err}");
    }
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0, "no folder was created");

    let target = cwd.path().join("by-url");
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["init", "--no-keychain", "--repo", &format!("file://{}", target.display())])
        .env("LIFEBOAT_PASSWORD", PASSWORD);
    let out = common::run(cmd, None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(target.join("config").exists());

    // The app's passphrase policy holds for the CLI too.
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["init", "--no-keychain", "--repo"])
        .arg(cwd.path().join("short"))
        .env("LIFEBOAT_PASSWORD", "short");
    let out = common::run(cmd, None);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("too short"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!cwd.path().join("short").exists());
}

#[test]
fn key_slots_and_recovery_kits() {
    let repo = TestRepo::new();
    let data = stream(4, 100_000);
    repo.put("db", &data);
    let mut add = repo.cmd(&["key", "add", "--label", "bob laptop"]);
    add.env("LIFEBOAT_NEW_PASSWORD", "bobs passphrase");
    assert!(common::run(add, None).status.success());

    let with = |password: &str, args: &[&str]| {
        let mut c = repo.cmd(args);
        c.env("LIFEBOAT_PASSWORD", password);
        common::run(c, None)
    };
    assert_eq!(with("bobs passphrase", &["cat", "latest:db"]).stdout, data);
    let slots: serde_json::Value = serde_json::from_slice(&with("bobs passphrase", &["key", "list", "--json"]).stdout).unwrap();
    let slots = slots.as_array().unwrap();
    assert_eq!(slots.len(), 2);
    let first = slots.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Removing the first slot revokes the first passphrase.
    assert!(with("bobs passphrase", &["key", "remove", &first]).status.success());
    let out = with(PASSWORD, &["snapshots"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));

    // Never the last slot.
    let last = String::from_utf8_lossy(&with("bobs passphrase", &["key", "list"]).stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let out = with("bobs passphrase", &["key", "remove", &last]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("last key slot"));

    // A recovery kit opens the repository with no passphrase at all.
    let kit = repo.path.with_file_name("kit.txt");
    assert!(with("bobs passphrase", &["key", "recovery-kit", "--output", kit.to_str().unwrap()])
        .status
        .success());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&kit).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let by_kit = || {
        let mut c = repo.cmd(&["cat", "latest:db"]);
        c.env_remove("LIFEBOAT_PASSWORD").arg("--recovery-kit").arg(&kit);
        common::run(c, None)
    };
    assert_eq!(by_kit().stdout, data);
    // Revoking the kit's slot makes the kit useless.
    let text = std::fs::read_to_string(&kit).unwrap();
    let slot = text.lines().find_map(|l| l.strip_prefix("Key slot: ")).unwrap();
    assert!(with("bobs passphrase", &["key", "remove", slot]).status.success());
    let out = by_kit();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("recovery kit does not open"));
}

#[test]
fn unknown_format_version_is_refused() {
    let repo = TestRepo::new();
    let config = repo.path.join("config");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("\"version\": 4", "\"version\": 99");
    std::fs::write(&config, text).unwrap();
    let err = repo.fails(&["snapshots"], None);
    assert!(err.contains("format version 99") && err.contains("upgrade Lifeboat"), "{err}");
}

#[test]
fn migrate_moves_an_older_format_forward_once() {
    let repo = TestRepo::new();
    let out = String::from_utf8(repo.ok(&["migrate"], None)).unwrap();
    assert!(out.contains("already is at format 4"), "{out}");
    // Format 1 in `config`, 4 in the key slots: a migration stopped half way.
    let config = repo.path.join("config");
    let older = std::fs::read_to_string(&config)
        .unwrap()
        .replace("\"version\": 4", "\"version\": 1");
    std::fs::write(&config, older).unwrap();
    let data = stream(6, 300_000);
    repo.put("db", &data);
    let report: serde_json::Value = serde_json::from_slice(&repo.ok(&["migrate", "--json"], None)).unwrap();
    assert_eq!(
        (report["from_version"].as_u64(), report["to_version"].as_u64()),
        (Some(1), Some(4)),
        "{report}"
    );
    assert!(std::fs::read_to_string(&config).unwrap().contains("\"version\": 4"));
    assert_eq!(repo.cat("latest:db"), data);
}

#[test]
fn damaged_packs_are_detected_never_served() {
    let repo = TestRepo::new();
    let data = stream(5, 2_000_000);
    let id = repo.put("db", &data);
    let packs = repo.files("data");
    assert!(!packs.is_empty());
    // A flipped bit in the middle of a pack.
    let pack = &packs[0];
    let len = std::fs::metadata(pack).unwrap().len() as usize;
    flip_byte(pack, len / 2);
    let out = repo.run(&["cat", &id], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("damaged"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.len() < data.len());
    let (healthy, report) = repo.check_json(true);
    assert!(!healthy);
    assert!(report["errors"].to_string().contains("pack"), "{report}");
}

/// "Save the dump as a file": the file appears only whole and verified,
/// never over an existing one without --force, and not at all from damage.
#[test]
fn export_writes_a_verified_file_and_nothing_else() {
    let repo = TestRepo::new();
    let data = stream(7, 1_500_000);
    repo.put("db", &data);
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("db.dump");
    let file_arg = file.to_str().unwrap();
    let out: serde_json::Value = serde_json::from_slice(&repo.ok(&["export", "latest:db", "--output", file_arg, "--json"], None)).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), data);
    assert_eq!(out["export"]["size"], data.len(), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o077, 0, "owner-only");
    }

    std::fs::write(&file, b"the admin's own file").unwrap();
    let err = repo.fails(&["export", "latest:db", "--output", file_arg], None);
    assert!(err.contains("exists") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"the admin's own file");
    repo.ok(&["export", "latest:db", "--output", file_arg, "--force"], None);
    assert_eq!(std::fs::read(&file).unwrap(), data);
    let err = repo.fails(
        &["export", "latest:db", "--output", folder.path().to_str().unwrap(), "--force"],
        None,
    );
    assert!(err.contains("is a folder"), "{err}");

    // Damage: the export fails, and leaves neither the file nor a part of it.
    let pack = repo.files("data").remove(0);
    flip_byte(&pack, std::fs::metadata(&pack).unwrap().len() as usize / 2);
    let damaged = folder.path().join("damaged.dump");
    let err = repo.fails(&["export", "latest:db", "--output", damaged.to_str().unwrap()], None);
    assert!(err.contains("damaged"), "{err}");
    let left: Vec<_> = std::fs::read_dir(folder.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("db.dump")]);
}

#[test]
fn truncated_pack_is_found_by_structural_check() {
    let repo = TestRepo::new();
    let id = repo.put("db", &stream(6, 1_000_000));
    let pack = repo.files("data").remove(0);
    let bytes = std::fs::read(&pack).unwrap();
    std::fs::write(&pack, &bytes[..bytes.len() / 2]).unwrap();
    let (healthy, report) = repo.check_json(false);
    assert!(!healthy);
    assert!(report["errors"].to_string().contains("truncated"), "{report}");
    repo.fails(&["cat", &id], None);
}

#[test]
fn damaged_index_manifest_and_key_files_are_detected() {
    let repo = TestRepo::new();
    let id = repo.put("db", &stream(7, 500_000));

    let index = repo.files("index").remove(0);
    let original = std::fs::read(&index).unwrap();
    flip_byte(&index, original.len() - 5);
    assert!(repo.fails(&["cat", &id], None).contains("index"));
    std::fs::write(&index, &original).unwrap();
    assert!(repo.run(&["cat", &id], None).status.success());

    let manifest = repo.path.join("snapshots").join(&id);
    let original = std::fs::read(&manifest).unwrap();
    flip_byte(&manifest, 20);
    assert!(repo.fails(&["cat", &id], None).contains("damaged"));
    let (healthy, _) = repo.check_json(false);
    assert!(!healthy);
    std::fs::write(&manifest, &original).unwrap();

    let key = repo.files("keys").remove(0);
    let original = std::fs::read(&key).unwrap();
    std::fs::write(&key, &original[..original.len() / 2]).unwrap();
    let err = repo.fails(&["cat", &id], None);
    assert!(err.contains("key slot") && err.contains("damaged"), "{err}");
    // The wrapped key itself altered: it no longer opens, and nothing is served.
    let mut slot: serde_json::Value = serde_json::from_slice(&original).unwrap();
    let wrapped = slot["wrapped_key"].as_str().unwrap().to_string();
    let altered = format!("{}{}", if wrapped.starts_with('A') { "B" } else { "A" }, &wrapped[1..]);
    slot["wrapped_key"] = altered.into();
    std::fs::write(&key, serde_json::to_vec(&slot).unwrap()).unwrap();
    repo.fails(&["cat", &id], None);
    std::fs::write(&key, &original).unwrap();
    assert!(repo.run(&["cat", &id], None).status.success());
}

#[test]
fn forget_keeps_policy_moves_latest_and_prune_frees_space() {
    let repo = TestRepo::new();
    let streams: Vec<Vec<u8>> = (10..14).map(|s| stream(s, 1_500_000)).collect();
    let ids: Vec<String> = streams.iter().map(|s| repo.put("db", s)).collect();
    let before = repo.files("data").iter().map(|p| std::fs::metadata(p).unwrap().len()).sum::<u64>();

    assert!(repo.fails(&["forget"], None).contains("no retention policy"));
    let err = repo.fails(&["forget", "--min-age", "30d"], None);
    assert!(
        err.contains("no retention policy") && err.contains("--min-age only sets a floor"),
        "{err}"
    );
    assert!(repo.fails(&["forget", "--keep-within", "30 days"], None).contains("not a period"));
    repo.ok(&["forget", "--keep-last", "1", "--dry-run"], None);
    assert_eq!(repo.files("snapshots").len(), 4);
    // "30 days minimum": every snapshot here is minutes old, so nothing goes.
    let out = repo.ok(&["forget", "--keep-last", "1", "--min-age", "30d", "--json"], None);
    let verdicts: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let reasons: Vec<serde_json::Value> = verdicts["groups"][0]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["keep"].clone())
        .collect();
    assert_eq!(reasons[0], serde_json::json!(["last", "min-age"]));
    assert_eq!(reasons[3], serde_json::json!(["min-age"]));
    repo.ok(
        &[
            "forget",
            "--keep-within",
            "1y",
            "--keep-yearly",
            "1",
            "--checkpoints-expire-after",
            "90d",
        ],
        None,
    );
    assert_eq!(repo.files("snapshots").len(), 4);

    repo.ok(&["forget", "--keep-last", "2", "--prune"], None);
    let left: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
    let left: Vec<&str> = left.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(left, vec![ids[2].as_str(), ids[3].as_str()]);
    let after = repo.files("data").iter().map(|p| std::fs::metadata(p).unwrap().len()).sum::<u64>();
    assert!(after < before * 3 / 4, "prune freed space: {before} -> {after}");
    assert_eq!(repo.cat(&ids[2]), streams[2]);
    assert_eq!(repo.cat("latest:db"), streams[3]);

    repo.ok(&["forget", "--keep-last", "1", "--tag", "db"], None);
    assert_eq!(repo.cat("latest:db"), streams[3]);
    let (healthy, report) = repo.check_json(true);
    assert!(healthy, "{report}");
}

/// "Delete that one bad backup": named snapshots go whatever a policy
/// says, the latest pointer follows, a keep-forever one is refused.
#[test]
fn forget_deletes_the_snapshots_it_is_given_and_nothing_else() {
    let repo = TestRepo::new();
    let streams: Vec<Vec<u8>> = (20..24).map(|s| stream(s, 300_000)).collect();
    let ids: Vec<String> = streams.iter().map(|s| repo.put("db", s)).collect();
    let other = repo.put("other", &stream(30, 100_000));
    let listed = |repo: &TestRepo| -> Vec<String> {
        let list: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };

    let err = repo.fails(&["forget", &ids[1][..8], "--keep-last", "1"], None);
    assert!(err.contains("not both"), "{err}");
    let dry: serde_json::Value = serde_json::from_slice(&repo.ok(&["forget", &ids[1][..8], "--dry-run", "--json"], None)).unwrap();
    assert_eq!(dry["removed"][0]["id"], ids[1].as_str(), "{dry}");
    assert_eq!(listed(&repo).len(), 5, "a dry run removes nothing");

    // A middle one by its id prefix: the others stay, latest too.
    repo.ok(&["forget", &ids[1][..8]], None);
    assert_eq!(listed(&repo), vec![ids[0].clone(), ids[2].clone(), ids[3].clone(), other.clone()]);
    assert_eq!(repo.cat("latest:db"), streams[3]);

    // The newest by name: latest moves back to the one before it.
    repo.ok(&["forget", "latest:db", "--prune"], None);
    assert_eq!(repo.cat("latest:db"), streams[2]);
    assert_eq!(repo.cat(&ids[0]), streams[0]);

    // Kept forever: refused, and nothing named with it goes either.
    repo.ok(&["keep", &ids[0][..8]], None);
    let err = repo.fails(&["forget", &ids[2][..8], &ids[0][..8]], None);
    assert!(err.contains("kept forever") && err.contains("--off"), "{err}");
    assert_eq!(listed(&repo).len(), 3);
    let err = repo.fails(&["forget", "abcdef12"], None);
    assert!(err.contains("abcdef12"), "{err}");
    let (healthy, report) = repo.check_json(true);
    assert!(healthy, "{report}");
}

#[test]
fn locks_block_conflicting_jobs_and_stale_ones_are_removable() {
    let repo = TestRepo::new();
    repo.put("db", b"data");
    let locks = repo.path.join("locks");
    let now = chrono_now();
    let live =
        format!(r#"{{"host":"other-host","pid":1,"user":"bob","operation":"backup","exclusive":false,"created":"{now}","time":"{now}"}}"#);
    std::fs::write(locks.join("aaaa"), live).unwrap();
    // A live shared lock blocks prune (exclusive) but not another backup.
    let err = repo.fails(&["prune", "--lock-wait", "0"], None);
    assert!(
        err.contains("locked") && err.contains("other-host") && err.contains("lifeboat unlock"),
        "{err}"
    );
    repo.put("db", b"more data");
    // unlock removes only stale locks unless --all.
    repo.ok(&["unlock"], None);
    assert!(locks.join("aaaa").exists());

    // Staleness is the storage's clock, not the holder's: a workstation
    // whose clock is years behind still holds a live lock, and a clone
    // with this host's name and a dead pid is another machine.
    let old = "2020-01-01T00:00:00Z";
    let host = String::from_utf8(std::process::Command::new("hostname").output().unwrap().stdout).unwrap();
    let skewed = format!(
        r#"{{"host":"{}","pid":4194301,"user":"bob","operation":"backup","exclusive":false,"created":"{old}","time":"{old}","machine":"another-machine"}}"#,
        host.trim()
    );
    std::fs::write(locks.join("cccc"), skewed).unwrap();
    let err = repo.fails(&["prune", "--lock-wait", "0"], None);
    assert!(err.contains("locked"), "{err}");
    repo.ok(&["unlock"], None);
    assert!(locks.join("cccc").exists());
    std::fs::remove_file(locks.join("cccc")).unwrap();

    // Not rewritten for an hour by the storage's clock: stale, whatever it says.
    let write_stale = |name: &str, operation: &str, exclusive: bool| {
        let lock = format!(
            r#"{{"host":"other-host","pid":1,"user":"bob","operation":"{operation}","exclusive":{exclusive},"created":"{now}","time":"{now}"}}"#
        );
        std::fs::write(locks.join(name), lock).unwrap();
        std::fs::File::options()
            .write(true)
            .open(locks.join(name))
            .unwrap()
            .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
            .unwrap();
    };
    write_stale("bbbb", "backup", false);
    let (_, report) = repo.check_json(false);
    assert!(report["warnings"].to_string().contains("stale lock"), "{report}");
    repo.ok(&["unlock"], None);
    assert!(!locks.join("bbbb").exists() && locks.join("aaaa").exists());
    // A stale exclusive lock blocks nothing: the job it was in the way of removes it.
    write_stale("dddd", "prune", true);
    repo.put("db", b"a stale lock blocks nothing");
    assert!(!locks.join("dddd").exists());
    repo.ok(&["unlock", "--all"], None);
    assert!(common::files_under(&locks).is_empty());
    repo.ok(&["prune", "--lock-wait", "0"], None);
}

fn chrono_now() -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[cfg(unix)]
#[test]
fn repository_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let repo = TestRepo::new();
    repo.put("db", &stream(8, 100_000));
    for file in common::files_under(&repo.path) {
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            file.display()
        );
        let dir = file.parent().unwrap();
        assert_eq!(
            std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
            0o700,
            "{}",
            dir.display()
        );
    }
}
