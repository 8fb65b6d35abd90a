//! Repository robustness, through the real binary on real folders: a lost or
//! damaged `config`, empty streams, read-only access, half-written lock
//! files, damaged key slots and packs, and what every message tells the user.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn recovery_kit(repo: &TestRepo) -> std::path::PathBuf {
    let kit = repo.path.parent().unwrap().join("kit.txt");
    repo.ok(&["key", "recovery-kit", "--output", kit.to_str().unwrap()], None);
    kit
}

fn with_kit(repo: &TestRepo, kit: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = repo.cmd(args);
    cmd.env_remove("LIFEBOAT_PASSWORD").arg("--recovery-kit").arg(kit);
    run(cmd, None)
}

#[test]
fn a_lost_config_is_never_an_invitation_to_init_and_repair_restores_it() {
    let repo = TestRepo::new();
    let data = stream(1, 300_000);
    let id = repo.put("db", &data);
    let config = std::fs::read(repo.path.join("config")).unwrap();
    std::fs::remove_file(repo.path.join("config")).unwrap();
    let keys_before = repo.files("keys");

    let err = repo.fails(&["snapshots"], None);
    assert!(
        err.contains("`config` file is missing") && err.contains("lifeboat repair config"),
        "{err}"
    );
    assert!(!err.contains("create one with `lifeboat init`"), "{err}");
    let err = repo.fails(&["init"], None);
    assert!(err.contains("Do not run") && err.contains("repair config"), "{err}");
    assert!(!repo.path.join("config").exists(), "init wrote nothing");
    assert_eq!(repo.files("keys"), keys_before, "init added no key slot");

    let out = repo.ok(&["repair", "config"], None);
    assert!(String::from_utf8_lossy(&out).contains("restored the config"));
    assert_eq!(std::fs::read(repo.path.join("config")).unwrap(), config, "the very same config");
    assert_eq!(repo.cat(&id), data);
    assert_eq!(repo.cat("latest:db"), data);

    // A readable config from another repository, put in its place.
    let other = TestRepo::new();
    std::fs::copy(other.path.join("config"), repo.path.join("config")).unwrap();
    let err = repo.fails(&["snapshots"], None);
    assert!(
        err.contains("does not belong to these key slots") && err.contains("repair config"),
        "{err}"
    );
    assert!(!err.contains("wrong passphrase"), "{err}");
    repo.ok(&["repair", "config"], None);
    assert_eq!(repo.cat(&id), data);

    // A config that is not JSON any more.
    std::fs::write(repo.path.join("config"), b"{\"version\": 1, \"id\": ").unwrap();
    let err = repo.fails(&["snapshots"], None);
    assert!(err.contains("config is damaged") && err.contains("repair config"), "{err}");
    // The wrong passphrase proves nothing and writes nothing.
    let mut wrong = repo.cmd(&["repair", "config"]);
    wrong.env("LIFEBOAT_PASSWORD", "not the passphrase");
    let out = run(wrong, None);
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("wrong passphrase"), "{}", stderr_of(&out));
    assert_eq!(std::fs::read(repo.path.join("config")).unwrap(), b"{\"version\": 1, \"id\": ");
    repo.ok(&["repair", "config"], None);
    assert_eq!(repo.cat(&id), data);
    let (healthy, report) = repo.check_json(false);
    assert!(healthy, "{report}");
}

#[test]
fn slots_from_before_config_copies_are_repaired_with_the_recovery_kit() {
    let repo = TestRepo::new();
    let data = stream(2, 200_000);
    let id = repo.put("db", &data);
    let kit = recovery_kit(&repo);
    // Slots as an earlier Lifeboat wrote them: no copy, no checksum.
    for slot in repo.files("keys") {
        let mut value: serde_json::Value = serde_json::from_slice(&std::fs::read(&slot).unwrap()).unwrap();
        let object = value.as_object_mut().unwrap();
        object.remove("config").expect("new slots carry a copy of the config");
        object.remove("checksum").expect("new slots carry a checksum");
        object.remove("sum").expect("new slots carry a sum over everything");
        std::fs::write(&slot, serde_json::to_vec(&value).unwrap()).unwrap();
    }
    std::fs::remove_file(repo.path.join("config")).unwrap();
    let err = repo.fails(&["repair", "config"], None);
    assert!(err.contains("--recovery-kit"), "{err}");
    let out = with_kit(&repo, &kit, &["repair", "config"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("defaults"), "{}", stderr_of(&out));
    assert_eq!(repo.cat(&id), data);
    let (healthy, report) = repo.check_json(true);
    assert!(healthy, "{report}");
}

#[test]
fn an_empty_stream_never_becomes_the_latest_snapshot() {
    let repo = TestRepo::new();
    let data = stream(3, 100_000);
    let good = repo.put("db", &data);

    let err = repo.fails(&["put", "--tag", "db"], Some(b""));
    assert!(
        err.contains("empty") && err.contains("pipefail") && err.contains("--allow-empty"),
        "{err}"
    );
    assert_eq!(repo.cat("latest:db"), data);
    let listed: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "nothing was stored");

    let empty = String::from_utf8(repo.ok(&["put", "--tag", "db", "--allow-empty"], Some(b""))).unwrap();
    assert_eq!(repo.cat(empty.trim()), b"", "stored on request");
    assert_eq!(repo.cat("latest:db"), data, "but latest:db did not move to it");

    // Retention keeps the last real backup, not the newer empty one.
    repo.ok(&["forget", "--keep-last", "1", "--prune"], None);
    let listed: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
    let ids: Vec<&str> = listed.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![good.as_str()]);
    assert_eq!(repo.cat("latest:db"), data);
}

/// Runs the binary as `nobody`, who may read the repository but not write it.
fn as_nobody(repo: &TestRepo, bin_copy: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(bin_copy)
        .args(args)
        .arg("--no-keychain")
        .env("LIFEBOAT_REPO", &repo.path)
        .env("LIFEBOAT_PASSWORD", PASSWORD)
        .env("LIFEBOAT_NOTIFY", "log")
        .env("HOME", "/tmp");
    run(cmd, None)
}

#[test]
fn read_access_alone_is_enough_to_list_read_check_and_verify() {
    if !is_root() {
        eprintln!("skipped: running as another user needs root (CI runs as root)");
        return;
    }
    let repo = TestRepo::new();
    let data = stream(4, 400_000);
    let id = repo.put("db", &data);
    // Readable by everyone, writable by its owner only: a restore-only account.
    let top = repo.path.parent().unwrap();
    let bin_copy = top.join("lifeboat");
    std::fs::copy(bin(), &bin_copy).unwrap();
    assert!(Command::new("chmod").args(["-R", "a+rX"]).arg(top).status().unwrap().success());

    for args in [&["snapshots"][..], &["cat", "latest:db"], &["check", "--read-data"]] {
        let out = as_nobody(&repo, &bin_copy, args);
        assert!(out.status.success(), "{args:?} as a read-only user: {}", stderr_of(&out));
        let err = stderr_of(&out);
        if args[0] != "snapshots" {
            assert!(err.contains("without a lock") && err.contains("never return wrong bytes"), "{err}");
            assert!(!err.contains('\u{1b}'), "no colour codes when stderr is not a terminal: {err:?}");
        }
    }
    assert_eq!(as_nobody(&repo, &bin_copy, &["cat", &id]).stdout, data);
    // Writing still needs write access, and says so.
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin_copy)
        .args(["put", "--tag", "db", "--no-keychain"])
        .env("LIFEBOAT_REPO", &repo.path)
        .env("LIFEBOAT_PASSWORD", PASSWORD)
        .env("HOME", "/tmp");
    let out = run(cmd, Some(&data));
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("reading jobs"), "{}", stderr_of(&out));
    // --no-lock is the same choice, made on purpose, with write access.
    let out = repo.run(&["cat", "latest:db", "--no-lock"], None);
    assert!(out.status.success());
    assert_eq!(out.stdout, data);
    assert!(repo.files("locks").is_empty());
}

#[test]
fn half_written_lock_files_are_removed_by_unlock_and_prune() {
    let repo = TestRepo::new();
    repo.put("db", &stream(5, 50_000));
    let leftover = repo.path.join("locks/.0123abcd.tmp-a1b2c3");
    std::fs::create_dir_all(leftover.parent().unwrap()).unwrap();
    std::fs::write(&leftover, b"{\"host\":").unwrap();
    let (healthy, report) = repo.check_json(false);
    assert!(healthy, "{report}");
    assert!(report["warnings"].to_string().contains("`lifeboat unlock`"), "{report}");

    let out = String::from_utf8(repo.ok(&["unlock"], None)).unwrap();
    assert!(out.contains("half-written lock file"), "{out}");
    assert!(!leftover.exists());
    let (_, report) = repo.check_json(false);
    assert_eq!(report["warnings"], serde_json::json!([]), "{report}");

    std::fs::write(&leftover, b"{").unwrap();
    let report: serde_json::Value = serde_json::from_slice(&repo.ok(&["prune", "--json"], None)).unwrap();
    assert_eq!(report["temporary_files_removed"], 1, "{report}");
    assert!(!leftover.exists());

    // A clock probe a killed process left goes too once it is old; one
    // written a moment ago may be another process's, and stays.
    let old_probe = repo.path.join("locks/clock-0011223344556677");
    let young_probe = repo.path.join("locks/clock-8899aabbccddeeff");
    std::fs::write(&old_probe, b"").unwrap();
    std::fs::write(&young_probe, b"").unwrap();
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&old_probe)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    let out = String::from_utf8(repo.ok(&["unlock"], None)).unwrap();
    assert!(out.contains("removed leftover probe file locks/clock-0011223344556677"), "{out}");
    assert!(!old_probe.exists() && young_probe.exists());
    std::fs::File::options()
        .write(true)
        .open(&young_probe)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&repo.ok(&["prune", "--json"], None)).unwrap();
    assert_eq!(report["temporary_files_removed"], 1, "{report}");
    assert!(!young_probe.exists());
}

#[test]
fn a_damaged_key_slot_is_named_not_blamed_on_the_passphrase() {
    let repo = TestRepo::new();
    let slot = repo.files("keys").remove(0);
    let text = std::fs::read_to_string(&slot).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let wrapped = value["wrapped_key"].as_str().unwrap();
    let mut changed = wrapped.to_string().into_bytes();
    changed[4] = if changed[4] == b'A' { b'B' } else { b'A' };
    std::fs::write(&slot, text.replace(wrapped, std::str::from_utf8(&changed).unwrap())).unwrap();
    let err = repo.fails(&["snapshots"], None);
    assert!(err.contains("checksum does not match") && err.contains("recovery kit"), "{err}");
    assert!(!err.contains("wrong passphrase"), "{err}");
    let (healthy, report) = repo.check_json(false);
    assert!(!healthy);
    assert!(report.to_string().contains("no readable key slot"), "{report}");
}

#[test]
fn a_repository_path_that_is_a_file_says_so_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let mut cmd = Command::new(bin());
    cmd.args(["snapshots", "--no-keychain"])
        .env("LIFEBOAT_REPO", &file)
        .env("LIFEBOAT_PASSWORD", PASSWORD);
    let out = run(cmd, None);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(err.contains("not a folder") && err.contains("--repo"), "{err}");
    assert_eq!(err.matches("os error").count(), 0, "{err}");
    // With --json the failure is JSON on stdout too.
    let mut cmd = Command::new(bin());
    cmd.args(["snapshots", "--json", "--no-keychain"])
        .env("LIFEBOAT_REPO", &file)
        .env("LIFEBOAT_PASSWORD", PASSWORD);
    let out = run(cmd, None);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert!(json["error"].as_str().unwrap().contains("not a folder"), "{json}");
}

#[test]
fn a_missing_pack_stops_prune_and_repair_index_brings_it_back() {
    let repo = TestRepo::new();
    let first = stream(6, 600_000);
    let second = stream(7, 600_000);
    let first_id = repo.put("a", &first);
    let packs_before: Vec<_> = repo.files("data");
    let second_id = repo.put("b", &second);
    let pack = repo
        .files("data")
        .into_iter()
        .find(|p| !packs_before.contains(p))
        .expect("the second put wrote a pack");
    let aside = repo.path.parent().unwrap().join("pack-aside");
    std::fs::rename(&pack, &aside).unwrap();

    // check: findings on stderr, the verdict on stdout, the next steps named.
    let out = repo.run(&["check"], None);
    assert!(!out.status.success());
    assert!(stdout_of(&out).contains("REPOSITORY IS DAMAGED"), "{}", stdout_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("is missing") && err.contains("repair index") && err.contains(&second_id[..8]),
        "{err}"
    );
    assert!(!err.contains(&first_id[..8]), "the first snapshot is not affected: {err}");
    let (_, report) = repo.check_json(false);
    assert_eq!(report["affected_snapshots"], serde_json::json!([second_id]), "{report}");

    // prune refuses rather than forget the pack.
    let err = repo.fails(&["prune"], None);
    assert!(err.contains("missing") && err.contains("repair index"), "{err}");

    // The pack comes back (a NAS glitch): nothing was lost.
    std::fs::rename(&aside, &pack).unwrap();
    repo.ok(&["prune"], None);
    assert_eq!(repo.cat(&second_id), second);

    // Index files damaged: repair index rebuilds them from the packs.
    for file in repo.files("index") {
        flip_byte(&file, 40);
    }
    let (healthy, _) = repo.check_json(false);
    assert!(!healthy);
    repo.ok(&["repair", "index"], None);
    let (healthy, report) = repo.check_json(true);
    assert!(healthy, "{report}");
    assert_eq!(repo.cat(&first_id), first);
    assert_eq!(repo.cat(&second_id), second);

    // A pack gone for good: repair index, then check names the snapshot.
    std::fs::remove_file(&pack).unwrap();
    let out = repo.run(&["repair", "index"], None);
    assert!(!out.status.success(), "a snapshot still lacks data");
    assert!(stderr_of(&out).contains(&second_id[..8]), "{}", stderr_of(&out));
    let (_, report) = repo.check_json(false);
    assert_eq!(report["affected_snapshots"], serde_json::json!([second_id]), "{report}");
    assert_eq!(repo.cat(&first_id), first);
}

#[test]
fn blobs_two_concurrent_puts_both_stored_trouble_neither_prune_nor_check() {
    let repo = TestRepo::new();
    let data = stream(8, 3_000_000);
    let children: Vec<_> = (0..2)
        .map(|_| {
            let mut cmd = repo.cmd(&["put", "--tag", "db", "--json"]);
            cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    // Both hold their lock, so both read the (empty) index, before either
    // gets a byte: every blob is stored twice.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while repo.files("locks").len() < 2 {
        assert!(std::time::Instant::now() < deadline, "the puts did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let reports: Vec<serde_json::Value> = std::thread::scope(|scope| {
        let waiting: Vec<_> = children
            .into_iter()
            .map(|mut child| {
                let data = &data;
                scope.spawn(move || {
                    use std::io::Write;
                    child.stdin.take().unwrap().write_all(data).unwrap();
                    let out = child.wait_with_output().unwrap();
                    assert!(out.status.success());
                    serde_json::from_slice(&out.stdout).unwrap()
                })
            })
            .collect();
        waiting.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert!(
        reports.iter().all(|r| r["new_chunks"].as_u64().unwrap() > 0),
        "the puts overlapped: {reports:?}"
    );
    repo.ok(&["forget", "--keep-last", "1", "--prune"], None);
    let (healthy, report) = repo.check_json(true);
    assert!(healthy, "{report}");
    assert_eq!(repo.cat("latest:db"), data);
    repo.ok(&["prune"], None);
    let (healthy, report) = repo.check_json(true);
    assert!(healthy, "{report}");
}

#[test]
fn a_backup_whose_lock_was_taken_away_records_nothing() {
    let repo = TestRepo::new();
    let earlier = repo.put("db", b"the snapshot that must stay latest");
    let mut child = repo
        .cmd(&["put", "--tag", "db"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let lock = loop {
        // The lock itself, not the temporary file it is written through.
        let written = repo
            .files("locks")
            .into_iter()
            .find(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'));
        if let Some(lock) = written {
            break lock;
        }
        assert!(std::time::Instant::now() < deadline, "the put took no lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // What a prune that misjudged this job as dead does: remove its lock.
    std::fs::remove_file(&lock).unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&stream(9, 2_000_000)).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let err = stderr_of(&out);
    assert!(
        !out.status.success() && err.contains("lock was lost") && err.contains("nothing was recorded"),
        "{err}"
    );
    assert_eq!(repo.files("snapshots").len(), 1);
    assert_eq!(repo.cat("latest:db"), repo.cat(&earlier));
}

#[test]
fn a_latest_pointer_put_back_is_outvoted_by_the_manifests_and_reported() {
    let repo = TestRepo::new();
    let older = stream(10, 300_000);
    let newer = stream(11, 300_000);
    repo.put("db", &older);
    let pointer = repo.path.join("refs/latest/db");
    let old_pointer = std::fs::read(&pointer).unwrap();
    let newer_id = repo.put("db", &newer);
    // Someone with write access puts the old pointer back.
    std::fs::write(&pointer, &old_pointer).unwrap();

    let out = repo.run(&["cat", "latest:db"], None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, newer, "the newest manifest wins");
    let err = stderr_of(&out);
    assert!(
        err.contains("WARNING") && err.contains("is newer") && err.contains(&newer_id[..8]),
        "{err}"
    );
    let (healthy, report) = repo.check_json(false);
    assert!(healthy, "{report}");
    assert!(report["warnings"].to_string().contains("the pointer was put back"), "{report}");
    // The next backup moves the pointer forward again.
    repo.put("db", &stream(12, 1000));
    let (_, report) = repo.check_json(false);
    assert!(!report["warnings"].to_string().contains("put back"), "{report}");
    // An unreadable manifest (of any name) is reported, and blocks no restore.
    std::fs::write(repo.path.join("snapshots").join("e".repeat(64)), b"not a manifest").unwrap();
    let out = repo.run(&["cat", "latest:db"], None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, stream(12, 1000));
    assert!(stderr_of(&out).contains("cannot be read"), "{}", stderr_of(&out));
}

#[test]
fn an_edited_config_is_refused_and_repaired_from_the_key_slots_copy() {
    let repo = TestRepo::new();
    let data = stream(13, 100_000);
    let id = repo.put("db", &data);
    let config = repo.path.join("config");
    let mut value: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    value["pack_size"] = serde_json::json!(1 << 20);
    std::fs::write(&config, serde_json::to_vec(&value).unwrap()).unwrap();
    let err = repo.fails(&["cat", &id], None);
    assert!(
        err.contains("differs from the copy kept in key slot") && err.contains("lifeboat repair config"),
        "{err}"
    );
    repo.ok(&["repair", "config"], None);
    assert_eq!(repo.cat(&id), data);
}

#[test]
fn a_planted_huge_file_is_refused_by_its_size_before_a_byte_is_read() {
    let repo = TestRepo::new();
    let id = repo.put("db", b"small and real");
    // Sparse: 8 GiB that take no disk, which a reader must not allocate.
    let planted = repo.path.join("snapshots").join("f".repeat(64));
    std::fs::File::create(&planted).unwrap().set_len(8 << 30).unwrap();
    let (_, report) = repo.check_json(false);
    assert!(report["errors"].to_string().contains("more than such a file can hold"), "{report}");
    std::fs::remove_file(&planted).unwrap();
    let slot = repo.files("keys").into_iter().next().unwrap();
    let real = std::fs::read(&slot).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&slot)
        .unwrap()
        .set_len(8 << 30)
        .unwrap();
    let err = repo.fails(&["cat", &id], None);
    assert!(err.contains("more than such a file can hold"), "{err}");
    std::fs::write(&slot, real).unwrap();
    assert_eq!(repo.cat(&id), b"small and real");
}

/// A snapshot deleted by hand (or lost when the folder was put back to an
/// older copy) is told apart from one `forget` removed: `check` on a
/// workstation that saw it names it, once; a planted forget record that is
/// not sealed under the repository's key hides nothing.
#[test]
fn a_snapshot_deleted_without_forget_is_reported_by_the_workstation_that_saw_it() {
    let repo = TestRepo::new();
    let ids: Vec<String> = (0..4).map(|n| repo.put("db", &stream(300 + n, 50_000))).collect();
    repo.ok(&["check"], None);
    repo.ok(&["forget", "--tag", "db", "--keep-last", "3"], None);
    assert!(repo.path.join("forgotten").join(&ids[0]).exists(), "forget leaves a record");
    std::fs::remove_file(repo.path.join("snapshots").join(&ids[1])).unwrap();
    std::fs::write(repo.path.join("forgotten").join(&ids[1]), br#"{"snapshot":"planted"}"#).unwrap();

    let (healthy, report) = repo.check_json(false);
    assert!(!healthy, "{report}");
    let errors = report["errors"].to_string();
    assert!(
        errors.contains(&ids[1][..8]) && errors.contains("without a forget record"),
        "{report}"
    );
    assert!(!errors.contains(&ids[0][..8]), "a forgotten snapshot is no alarm: {report}");
    let (healthy, report) = repo.check_json(false);
    assert!(healthy, "reported once: {report}");
}

/// A config whose bytes changed without changing its meaning (here: the
/// same JSON, compacted) opens, but `check` says the file changed on the
/// storage, and `repair config` writes it back as Lifeboat wrote it.
#[test]
fn a_config_changed_without_changing_its_meaning_is_reported_and_repaired() {
    let repo = TestRepo::new();
    let id = repo.put("db", b"still here");
    let config = repo.path.join("config");
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    std::fs::write(&config, serde_json::to_vec(&value).unwrap()).unwrap();

    assert_eq!(repo.cat(&id), b"still here");
    let (healthy, report) = repo.check_json(false);
    assert!(healthy, "{report}");
    assert!(report["warnings"].to_string().contains("config file's bytes changed"), "{report}");
    repo.ok(&["repair", "config"], None);
    let (healthy, report) = repo.check_json(false);
    assert!(healthy && report["warnings"].as_array().unwrap().is_empty(), "{report}");
    let err = repo.fails(&["repair", "config"], None);
    assert!(err.contains("nothing to repair"), "{err}");
}

/// `key recovery-kit --output FILE` refuses a FILE that exists before it
/// touches the repository: no key slot is left whose kit was never saved,
/// and the file keeps what it held. A new file gets the kit, 0600.
#[test]
fn a_recovery_kit_is_never_issued_into_a_file_that_exists() {
    let repo = TestRepo::new();
    let slots = repo.files("keys").len();
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("notes.txt");
    std::fs::write(&existing, "my own notes").unwrap();
    let err = repo.fails(&["key", "recovery-kit", "--output", existing.to_str().unwrap()], None);
    assert!(err.contains("already exists") && err.contains("nothing was overwritten"), "{err}");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "my own notes");
    assert_eq!(repo.files("keys").len(), slots, "no slot was added");

    let fresh = dir.path().join("kit.txt");
    repo.ok(&["key", "recovery-kit", "--output", fresh.to_str().unwrap()], None);
    assert_eq!(repo.files("keys").len(), slots + 1);
    assert!(std::fs::read_to_string(&fresh).unwrap().contains("LIFEBOAT RECOVERY KIT"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o600);
}
