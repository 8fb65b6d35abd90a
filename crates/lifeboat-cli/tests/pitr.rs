//! Point-in-time recovery against real clusters: a server whose own
//! archiver runs `lifeboat wal-push`, base backups through pg_basebackup,
//! and recoveries that a real PostgreSQL replays through `lifeboat
//! wal-fetch` to a time, a restore point or the latest WAL; damaged and
//! missing WAL, and a server of the wrong major.
//!
//! PostgreSQL refuses to run as root, so when the suite runs as root the
//! servers run as `nobody`; every `lifeboat` command then runs as `nobody`
//! too (the archiver's `wal-push` must read what the others wrote), from a
//! copy of the binary in a folder that user can reach.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{is_root, PASSWORD};
use lifeboat_testkit::{as_server_user, matrix_bin_dir, PgCluster};

const MAJOR: u32 = 15;

/// A repository, data folder and `lifeboat` binary that the server's user owns.
struct Workplace {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl Workplace {
    fn new() -> Workplace {
        let dir = tempfile::Builder::new().prefix("lifeboat-pitr-").tempdir().unwrap();
        let bin = dir.path().join("lifeboat");
        std::fs::copy(common::bin(), &bin).unwrap();
        std::fs::write(dir.path().join("secret"), PASSWORD).unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        if is_root() {
            let chown = Command::new("chown")
                .args(["-R", "nobody:nogroup"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(chown.success());
        }
        let place = Workplace { dir, bin };
        place.ok(&["init"]);
        place
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LIFEBOAT_REPO", self.path("repo").display().to_string()),
            ("LIFEBOAT_PASSWORD_FILE", self.path("secret").display().to_string()),
            ("LIFEBOAT_DATA_DIR", self.path("data").display().to_string()),
            ("LIFEBOAT_NO_KEYCHAIN", "1".into()),
            ("LIFEBOAT_NOTIFY", "log".into()),
        ]
    }

    /// `archive_command` running this workplace's `lifeboat wal-push`.
    fn archive_settings(&self, name: &str) -> String {
        let env: Vec<String> = self.env().into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "archive_mode = on\narchive_command = 'env {} {} wal-push %p --name {name}'\n",
            env.join(" "),
            self.bin.display()
        )
    }

    /// `lifeboat ARGS` as the server's user, with this workplace's environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut argv = vec!["env".to_string()];
        argv.extend(self.env().into_iter().map(|(k, v)| format!("{k}={v}")));
        argv.push(self.bin.display().to_string());
        argv.extend(args.iter().map(|a| a.to_string()));
        let mut cmd = as_server_user(&argv);
        cmd.env_remove("LIFEBOAT_PASSWORD").current_dir(self.dir.path());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `lifeboat ARGS` in the background (`wal stream`).
    fn spawn(&self, args: &[&str]) -> std::process::Child {
        let mut cmd = self.command(args);
        cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "lifeboat {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.ok(&args)).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "lifeboat {args:?} should have failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }
}

/// A recovered server, stopped on drop.
struct Recovered {
    bin: PathBuf,
    datadir: PathBuf,
    port: u16,
}

impl Recovered {
    fn psql(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-p",
            ])
            .arg(self.port.to_string())
            .args(["-c", sql])
            .output()
            .unwrap();
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

impl Drop for Recovered {
    fn drop(&mut self) {
        let argv = [
            self.bin.join("pg_ctl").display().to_string(),
            "-D".into(),
            self.datadir.display().to_string(),
            "-m".into(),
            "immediate".into(),
            "stop".into(),
        ];
        let _ = as_server_user(&argv).output();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn recover(place: &Workplace, bin: &Path, dir: &str, target: &[&str]) -> Recovered {
    let port = free_port();
    let datadir = place.path(dir);
    let mut args = vec!["recover", "--name", "prod", "--datadir"];
    let datadir_text = datadir.display().to_string();
    let port_text = port.to_string();
    let bin_text = bin.display().to_string();
    args.push(&datadir_text);
    args.extend(target);
    args.extend(["--pg-bin", &bin_text, "--start", "--port", &port_text]);
    let report = place.json(&args);
    assert_eq!(report["port"], port, "{report}");
    assert_eq!(
        report["manifest_verified"], true,
        "pg_verifybackup checked the unpacked files: {report}"
    );
    Recovered {
        bin: bin.to_path_buf(),
        datadir,
        port,
    }
}

/// Returns once `file` is archived (polling the repository).
fn wait_archived(cluster: &PgCluster, place: &Workplace, file: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = place.json(&["pitr", "show", "prod"]);
        if status["newest_wal"].as_str().is_some_and(|newest| newest >= file) {
            return;
        }
        assert!(Instant::now() < deadline, "{file} was not archived: {status}\n{}", cluster.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Ends the current WAL segment; returns its name once it is archived.
fn switch_and_archive(cluster: &PgCluster, place: &Workplace) -> String {
    let file = cluster.psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())");
    wait_archived(cluster, place, &file);
    file
}

fn matrix_server() -> Option<PathBuf> {
    let bin = matrix_bin_dir(MAJOR);
    if bin.is_none() {
        assert!(
            std::env::var_os("LIFEBOAT_TEST_PG_MAJORS").is_none(),
            "LIFEBOAT_TEST_PG_MAJORS is set but has no PostgreSQL {MAJOR}: run scripts/postgres-majors"
        );
        eprintln!("skipped: no PostgreSQL {MAJOR} from scripts/postgres-majors");
    }
    bin
}

#[test]
fn a_cluster_archived_by_its_own_server_recovers_to_a_moment_a_restore_point_and_the_latest_wal() {
    let Some(bin) = matrix_server() else { return };
    let place = Workplace::new();
    let cluster = PgCluster::start_major_configured(MAJOR, &place.archive_settings("prod"));
    let url = cluster.url("postgres");
    cluster.psql(
        "postgres",
        "CREATE TABLE t (id int PRIMARY KEY, note text); CREATE TABLE kept (x int); INSERT INTO kept VALUES (1)",
    );
    cluster.psql(
        "postgres",
        "INSERT INTO t SELECT i, 'before the base backup' FROM generate_series(1, 100) i",
    );
    cluster.psql("postgres", "CREATE DATABASE shop");
    cluster.psql(
        "shop",
        "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 10)",
    );

    let bin_text = bin.display().to_string();
    let base = place.json(&["base-backup", "--db", &url, "--name", "prod", "--pg-bin", &bin_text]);
    assert_eq!(base["timeline"], 1, "{base}");
    assert!(
        base["warnings"].as_array().unwrap().is_empty(),
        "the server archives into Lifeboat: {base}"
    );
    assert!(base["files"].as_u64().unwrap() > 100, "{base}");

    cluster.psql(
        "postgres",
        "INSERT INTO t SELECT i, 'after the base backup' FROM generate_series(101, 150) i",
    );
    cluster.psql("shop", "INSERT INTO orders SELECT generate_series(11, 15)");
    switch_and_archive(&cluster, &place);
    std::thread::sleep(Duration::from_millis(1100));
    let moment = cluster.psql(
        "postgres",
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    );
    std::thread::sleep(Duration::from_millis(1100));
    cluster.psql(
        "postgres",
        "INSERT INTO t SELECT i, 'after the moment' FROM generate_series(151, 200) i; DROP TABLE kept",
    );
    cluster.psql("shop", "INSERT INTO orders SELECT generate_series(16, 20)");
    let point = place.json(&["restore-point", "prod", "--db", &url, "after-the-drop"]);
    assert_eq!(point["label"], "after-the-drop", "{point}");
    cluster.psql("postgres", "INSERT INTO t VALUES (201, 'after the restore point')");
    let last = switch_and_archive(&cluster, &place);

    let status = place.json(&["pitr", "show", "prod"]);
    assert_eq!(status["base_backups"].as_array().unwrap().len(), 1, "{status}");
    assert_eq!(status["gaps"], serde_json::json!([]), "{status}");
    assert_eq!(status["windows"][0]["to_file"], last.as_str(), "{status}");

    // Recovery to the moment: the rows written before it, none after, the dropped table there.
    let recovered = recover(&place, &bin, "at-moment", &["--time", &moment]);
    assert_eq!(recovered.psql("SELECT count(*), max(id) FROM t"), "150|150");
    assert_eq!(recovered.psql("SELECT count(*) FROM kept"), "1");
    assert_eq!(recovered.psql("SELECT pg_is_in_recovery()"), "f", "promoted");
    assert_eq!(
        recovered.psql("SHOW archive_mode"),
        "off",
        "a recovered copy never archives into the archive it came from"
    );
    drop(recovered);

    let at_point = recover(&place, &bin, "at-point", &["--restore-point", "after-the-drop"]);
    assert_eq!(at_point.psql("SELECT count(*) FROM t"), "200");
    assert_eq!(at_point.psql("SELECT count(*) FROM pg_class WHERE relname = 'kept'"), "0");
    drop(at_point);

    let latest = recover(&place, &bin, "latest", &["--latest"]);
    assert_eq!(latest.psql("SELECT count(*) FROM t"), "201");
    drop(latest);

    // A time after the newest archived file: everything archived is before
    // it, so that is the latest (PostgreSQL alone would stop short, failing).
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let after_the_end = recover(&place, &bin, "after-the-end", &["--time", &later]);
    assert_eq!(after_the_end.psql("SELECT count(*) FROM t"), "201");
    drop(after_the_end);

    // Onto another server: the moment recovered on a scratch cluster of
    // this workstation, its database restored through a checkpoint
    // `prod.pitr`, verified as any restore is; the scratch cluster gone.
    let fresh = PgCluster::start_major(MAJOR);
    let fresh_url = fresh.url("postgres");
    let onto_args = [
        "recover",
        "--name",
        "prod",
        "--time",
        &moment,
        "--onto",
        &fresh_url,
        "--database",
        "shop",
        "--pg-bin",
        &bin_text,
    ];
    let onto = place.json(&onto_args);
    assert_eq!(onto["restore"]["restored"][0]["database"], "shop", "{onto}");
    assert_eq!(onto["restore"]["failed"], serde_json::json!([]), "{onto}");
    assert_eq!(fresh.psql("shop", "SELECT count(*), max(id) FROM orders"), "15|15");
    let kept = place.json(&["snapshots", "--tag", "prod.pitr/shop"]);
    assert_eq!(kept.as_array().map(Vec::len), Some(1), "the recovered database is kept: {kept}");
    let scratch = lifeboat_testkit::files_under(&place.path("data/drills/prod"));
    assert!(scratch.is_empty(), "the scratch cluster is gone: {scratch:?}");
    // Again onto the same server: its shop holds data now, and stays as it is.
    let refused = place.run(&onto_args);
    assert!(!refused.status.success());
    assert_eq!(fresh.psql("shop", "SELECT count(*) FROM orders"), "15");

    // A datadir that holds anything is refused, and left as it was.
    std::fs::create_dir(place.path("busy")).unwrap();
    std::fs::write(place.path("busy/keep.txt"), "mine").unwrap();
    let busy = place.path("busy").display().to_string();
    let err = place.fails(&["recover", "--name", "prod", "--latest", "--datadir", &busy, "--pg-bin", &bin_text]);
    assert!(err.contains("is not empty"), "{err}");
    assert_eq!(std::fs::read_to_string(place.path("busy/keep.txt")).unwrap(), "mine");

    // The archive is part of the repository's health, and prune keeps it.
    let checked = place.json(&["check", "--read-data"]);
    assert_eq!(checked["errors"], serde_json::json!([]), "{checked}");
    assert!(checked["wal_files"].as_u64().unwrap() >= 3, "{checked}");
    place.ok(&["prune"]);
    let fetched = place.path("fetched");
    let fetched_text = fetched.display().to_string();
    place.ok(&["wal-fetch", &last, &fetched_text, "--name", "prod"]);
    assert_eq!(std::fs::metadata(&fetched).unwrap().len(), 16 << 20);
    let checked = place.json(&["check", "--read-data"]);
    assert_eq!(checked["errors"], serde_json::json!([]), "after prune: {checked}");

    // Retention: forgetting the first base backup takes the WAL only it
    // needed; what the kept one needs stays, and still recovers.
    place.json(&["base-backup", "--db", &url, "--name", "prod", "--pg-bin", &bin_text]);
    cluster.psql("postgres", "INSERT INTO t VALUES (202, 'after the second base backup')");
    let newest = switch_and_archive(&cluster, &place);
    let forgotten = place.json(&["forget", "--keep-last", "1", "--tag", "prod.base", "--prune"]);
    let expired = &forgotten["wal_expired"][0];
    assert_eq!(expired["name"], "prod", "{forgotten}");
    let removed: Vec<&str> = expired["removed"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(removed.contains(&last.as_str()), "{forgotten}");
    assert!(removed.iter().all(|f| *f < expired["keep_from"].as_str().unwrap()), "{forgotten}");
    let status = place.json(&["pitr", "show", "prod"]);
    assert_eq!(status["base_backups"].as_array().unwrap().len(), 1, "{status}");
    assert_eq!(status["gaps"], serde_json::json!([]), "{status}");
    assert_eq!(status["windows"][0]["to_file"], newest.as_str(), "{status}");
    let checked = place.json(&["check", "--read-data"]);
    assert_eq!(checked["errors"], serde_json::json!([]), "after WAL retention: {checked}");
    let latest = recover(&place, &bin, "latest-after-retention", &["--latest"]);
    assert_eq!(latest.psql("SELECT count(*) FROM t"), "202");
    drop(latest);

    // A drill of the base backup: recovered on a scratch cluster, checked,
    // removed; recorded and announced like a dump's drill.
    let probes = place.path("probes.json");
    std::fs::write(
        &probes,
        r#"[{"name": "rows", "sql": "select count(*) from t", "expect": "= 202"},
            {"name": "dropped table gone", "sql": "select count(*) from pg_class where relname = 'kept'", "expect": "= 0"}]"#,
    )
    .unwrap();
    if is_root() {
        Command::new("chown").args(["nobody:nogroup"]).arg(&probes).status().unwrap();
    }
    let probes_text = probes.display().to_string();
    let drilled = place.json(&["drill", "latest:prod.base", "--probe-file", &probes_text, "--pg-bin", &bin_text]);
    assert_eq!(drilled["passed"], true, "{drilled}");
    let checks: Vec<&str> = drilled["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        [
            "recovery",
            "WAL chain",
            "tables readable",
            "probe: rows",
            "probe: dropped table gone"
        ],
        "{drilled}"
    );
    assert_eq!(drilled["scratch_dropped"], true, "{drilled}");
    let scratch = place.path("data/drills/prod");
    assert_eq!(
        std::fs::read_dir(&scratch).unwrap().count(),
        0,
        "nothing left in {}",
        scratch.display()
    );
    let events = place.ok(&["events", "--json"]);
    let completed = events
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .any(|e| e["kind"] == "drill_complete" && e["ok"] == true);
    assert!(completed, "{events}");

    // A failing probe fails the drill (exit 3), and still leaves nothing.
    std::fs::write(&probes, r#"[{"name": "rows", "sql": "select count(*) from t", "expect": "= 1"}]"#).unwrap();
    let out = place.run(&[
        "drill",
        "latest:prod.base",
        "--probe-file",
        &probes_text,
        "--pg-bin",
        &bin_text,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let failed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(failed["passed"], false, "{failed}");
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
}

#[test]
fn damaged_missing_and_mismatched_wal_is_refused_with_what_to_do() {
    let Some(bin) = matrix_server() else { return };
    let place = Workplace::new();
    let cluster = PgCluster::start_major_configured(MAJOR, &place.archive_settings("prod"));
    let url = cluster.url("postgres");
    let bin_text = bin.display().to_string();
    cluster.psql("postgres", "CREATE TABLE t (id int)");
    place.json(&["base-backup", "--db", &url, "--name", "prod", "--pg-bin", &bin_text]);

    // The same file pushed again is archived; other bytes under its name are refused.
    cluster.psql("postgres", "INSERT INTO t SELECT generate_series(1, 1000)");
    let first = switch_and_archive(&cluster, &place);
    let copy = place.path(&first);
    let fetched = copy.display().to_string();
    place.ok(&["wal-fetch", &first, &fetched, "--name", "prod"]);
    let again = place.json(&["wal-push", &fetched, "--name", "prod"]);
    assert_eq!(again["already_archived"], true, "{again}");
    let mut bytes = std::fs::read(&copy).unwrap();
    bytes[10_000] ^= 0xFF;
    std::fs::write(&copy, &bytes).unwrap();
    let err = place.fails(&["wal-push", &fetched, "--name", "prod"]);
    assert!(err.contains("archived already with other content") && err.contains(&first), "{err}");
    std::fs::write(place.path("not-wal"), vec![0u8; 4096]).unwrap();
    let err = place.fails(&["wal-push", &place.path("not-wal").display().to_string(), "--name", "prod"]);
    assert!(err.contains("not the name of a WAL file"), "{err}");

    // Unknown files: exit 1, and nothing is written.
    let absent = place.path("absent");
    let out = place.run(&[
        "wal-fetch",
        "0000000100000000000000FE",
        &absent.display().to_string(),
        "--name",
        "prod",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not in the repository's WAL archive"));
    assert!(!absent.exists());

    // A damaged WAL object: fetching it fails, naming it; recovery past it refuses.
    let repo = place.path("repo");
    let packs_before = pack_files(&repo);
    cluster.psql("postgres", "INSERT INTO t SELECT generate_series(1001, 2000)");
    let damaged = switch_and_archive(&cluster, &place);
    let new_packs: Vec<PathBuf> = pack_files(&repo).into_iter().filter(|p| !packs_before.contains(p)).collect();
    assert!(!new_packs.is_empty());
    for pack in &new_packs {
        let mut bytes = std::fs::read(pack).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        std::fs::write(pack, &bytes).unwrap();
    }
    let err = place.fails(&["wal-fetch", &damaged, &place.path("x").display().to_string(), "--name", "prod"]);
    assert!(err.contains(&damaged), "{err}");
    std::thread::sleep(Duration::from_millis(1100));
    let after = cluster.psql(
        "postgres",
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    );
    cluster.psql("postgres", "INSERT INTO t VALUES (3000)");
    switch_and_archive(&cluster, &place);
    let datadir = place.path("past-damage");
    let err = place.fails(&[
        "recover",
        "--name",
        "prod",
        "--time",
        &after,
        "--datadir",
        &datadir.display().to_string(),
        "--pg-bin",
        &bin_text,
        "--start",
        "--port",
        &free_port().to_string(),
    ]);
    assert!(err.contains(&damaged), "recovery names the damaged segment: {err}");
    let out = place.run(&["check", "--read-data", "--json"]);
    assert!(!out.status.success());
    let checked: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        checked["affected_wal"]
            .as_array()
            .unwrap()
            .contains(&format!("prod={damaged}").into()),
        "check names the damaged WAL file: {checked}"
    );

    // A missing segment: a gap, where the window ends.
    let status = place.json(&["pitr", "show", "prod"]);
    let newest = status["newest_wal"].as_str().unwrap().to_string();
    std::fs::remove_file(repo.join("wal").join(format!("prod={first}"))).unwrap();
    let out = place.run(&["pitr", "show", "prod", "--json"]);
    assert_eq!(out.status.code(), Some(3), "a gap exits 3");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["gaps"][0]["missing_from"], first.as_str(), "{status}");
    assert_ne!(
        status["windows"][0]["to_file"],
        newest.as_str(),
        "the window ends before the gap: {status}"
    );
    let out = place.run(&["check", "--json"]);
    let checked: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        checked["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().contains("WAL chain of `prod` is broken") && e.as_str().unwrap().contains(&first)),
        "check follows the chain and names the gap: {checked}"
    );

    // The base backup's major decides the server binaries.
    if let Some(other) = matrix_bin_dir(MAJOR + 1) {
        let err = place.fails(&[
            "recover",
            "--name",
            "prod",
            "--latest",
            "--datadir",
            &place.path("wrong-major").display().to_string(),
            "--pg-bin",
            &other.display().to_string(),
        ]);
        assert!(
            err.contains(&format!("PostgreSQL {MAJOR}")) && err.contains(&format!("postgresql-{MAJOR}")),
            "{err}"
        );
        assert!(!place.path("wrong-major").exists(), "nothing written before the check");
    }
}

/// SIGTERM, then the process's exit and what it said; it must say `goodbye`.
fn stop_process(process: std::process::Child, goodbye: &str) -> String {
    let killed = Command::new("kill").args(["-TERM", &process.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let out = process.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // runuser (when root) reports the signal as its own exit status: the process's word decides.
    assert!(stderr.contains(goodbye), "stops cleanly on SIGTERM: {stderr}");
    stderr
}

fn stop_stream(stream: std::process::Child) -> String {
    stop_process(stream, "lifeboat wal stream: stopped;")
}

#[test]
fn a_wal_stream_over_a_slot_catches_up_on_what_it_missed_while_stopped() {
    let Some(bin) = matrix_server() else { return };
    let place = Workplace::new();
    // No archive_command: this workstation streams the WAL itself.
    let cluster = PgCluster::start_major_configured(MAJOR, "");
    let url = cluster.url("postgres");
    let bin_text = bin.display().to_string();
    let stream_args = ["wal", "stream", "--db", &url, "--name", "prod", "--pg-bin", &bin_text];
    let stream = place.spawn(&stream_args);
    // The base backup below counts on the stream: it waits for its slot.
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster.psql("postgres", "SELECT count(*) FROM pg_replication_slots WHERE active") != "1" {
        assert!(Instant::now() < deadline, "the stream did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    cluster.psql("postgres", "CREATE TABLE t (id int)");
    let base = place.json(&["base-backup", "--db", &url, "--name", "prod", "--pg-bin", &bin_text]);
    assert_eq!(base["warnings"], serde_json::json!([]), "the running stream archives: {base}");
    cluster.psql("postgres", "INSERT INTO t SELECT generate_series(1, 100)");
    switch_and_archive(&cluster, &place);
    let said = stop_stream(stream);
    assert!(said.contains("stopped;"), "{said}");
    assert_eq!(
        cluster.psql(
            "postgres",
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'lifeboat_prod'"
        ),
        "1",
        "the slot outlives the stream"
    );

    // Written while nothing streams: the slot keeps it on the server.
    cluster.psql("postgres", "INSERT INTO t SELECT generate_series(101, 200)");
    cluster.psql("postgres", "SELECT pg_switch_wal()");
    cluster.psql("postgres", "INSERT INTO t SELECT generate_series(201, 300)");
    let last = cluster.psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())");
    let stream = place.spawn(&stream_args);
    wait_archived(&cluster, &place, &last);
    stop_stream(stream);

    let status = place.json(&["pitr", "show", "prod"]);
    assert_eq!(status["gaps"], serde_json::json!([]), "nothing missed: {status}");
    assert_eq!(status["windows"][0]["to_file"], last.as_str(), "{status}");
    let recovered = recover(&place, &bin, "streamed", &["--latest"]);
    assert_eq!(recovered.psql("SELECT count(*) FROM t"), "300");
}

fn pack_files(repo: &Path) -> Vec<PathBuf> {
    lifeboat_testkit::files_under(&repo.join("data"))
}

#[test]
fn a_schedule_takes_base_backups_streams_wal_from_the_daemon_and_drills_on_a_scratch_cluster() {
    let Some(_) = matrix_server() else { return };
    let place = Workplace::new();
    let cluster = PgCluster::start_major_configured(MAJOR, "");
    let url = cluster.url("postgres");
    cluster.psql("postgres", "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 10)");
    place.ok(&["connection", "add", "prod", "--db", &url]);
    // No drill server: a schedule with base backups drills them here.
    place.ok(&[
        "schedule",
        "set",
        "prod",
        "--base-backup",
        "daily 03:00",
        "--wal-stream",
        "--drill",
        "weekly",
        "--keep-last",
        "1",
    ]);
    let shown = place.ok(&["schedule", "show", "prod"]);
    assert!(shown.contains("base-backup") && shown.contains("WAL stream"), "{shown}");

    // The daemon keeps the schedule's WAL streaming into the archive; a
    // base backup taken meanwhile recovers with what it streams.
    let daemon = place.spawn(&["daemon"]);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut base_taken = false;
    loop {
        cluster.psql("postgres", "INSERT INTO t SELECT generate_series(11, 20)");
        cluster.psql("postgres", "SELECT pg_switch_wal()");
        std::thread::sleep(Duration::from_secs(1));
        let out = place.run(&["pitr", "show", "prod", "--json"]);
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let streaming = status["wal_files"].as_u64().unwrap() > 0;
        if streaming && !base_taken {
            place.ok(&["schedule", "run", "prod", "--base-backup"]);
            base_taken = true;
        } else if base_taken && status["windows"][0]["to_file"].is_string() {
            assert_eq!(out.status.code(), Some(0), "no gap after the base backup: {status}");
            break;
        }
        if Instant::now() > deadline {
            let said = stop_process(daemon, "");
            panic!("the daemon did not stream: {status}\n{said}");
        }
    }
    stop_process(daemon, "lifeboat daemon: stopping");

    // The next scheduled base backup: retention keeps one, and the WAL
    // only the first needed goes with it.
    place.ok(&["schedule", "run", "prod", "--base-backup"]);
    let status = place.json(&["pitr", "show", "prod"]);
    assert_eq!(status["base_backups"].as_array().unwrap().len(), 1, "{status}");
    let window_start = status["windows"][0]["from_lsn"].clone();
    assert!(!window_start.is_null(), "{status}");

    // The scheduled drill recovers the base backup on a scratch cluster.
    place.ok(&["schedule", "run", "prod", "--drill"]);
    let events = place.ok(&["events", "--json"]);
    let drills: Vec<serde_json::Value> = events
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|e| e["kind"] == "drill_complete")
        .collect();
    assert_eq!(drills.len(), 1, "{events}");
    assert_eq!(drills[0]["ok"], true, "{events}");
    assert_eq!(std::fs::read_dir(place.path("data/drills/prod")).unwrap().count(), 0);
}
