//! Repositories in an S3-compatible bucket and on an SFTP server: the CLI
//! contract, copies to and restores from them, damage, outages and two
//! writers, against a real S3 server (moto) and a real sshd on 127.0.0.1
//! (see `lifeboat_testkit::s3` and `lifeboat_testkit::sftp`).

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::*;
use lifeboat_testkit::s3::S3Server;
use lifeboat_testkit::sftp::SftpServer;
use serde_json::Value;

const BUCKET: &str = "lifeboat-test";

/// One workstation using a repository at `location`: its own app data
/// folder, the server's settings in its environment, keychain off.
struct Workstation {
    env: Vec<(&'static str, String)>,
    location: String,
    data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Workstation {
    fn new(server: &S3Server, prefix: &str) -> Self {
        Self::at(format!("s3://{BUCKET}/{prefix}"), server.env())
    }

    fn sftp(server: &SftpServer, name: &str) -> Self {
        Self::at(server.location(name), server.env())
    }

    fn at(location: String, env: Vec<(&'static str, String)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Workstation {
            env,
            location,
            data_dir: dir.path().join("data"),
            _dir: dir,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .arg("--no-keychain")
            .env("LIFEBOAT_REPO", &self.location)
            .env("LIFEBOAT_DATA_DIR", &self.data_dir)
            .env("LIFEBOAT_PASSWORD", PASSWORD)
            .env("LIFEBOAT_NOTIFY", "log")
            .env_remove("LIFEBOAT_PASSWORD_FILE")
            .env_remove("LIFEBOAT_RECOVERY_KIT_FILE")
            // Nothing from the machine's own AWS set-up leaks in.
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        cmd
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        run(self.cmd(args), stdin)
    }

    fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "lifeboat {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn fails(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.run(args, stdin);
        assert!(!out.status.success(), "lifeboat {args:?} should have failed");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_slice(&self.ok(args, None)).unwrap()
    }

    fn put(&self, tag: &str, data: &[u8]) -> String {
        String::from_utf8(self.ok(&["put", "--tag", tag], Some(data)))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Backs `data` up, calling `fail` once three quarters of it went in;
    /// the backup must fail: returns what it said.
    fn put_failing_midway(&self, tag: &str, data: &[u8], fail: impl FnOnce()) -> String {
        use std::io::Write;
        let mut child = self
            .cmd(&["put", "--tag", tag])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let midway = data.len() / 4 * 3;
        input.write_all(&data[..midway]).unwrap();
        std::thread::sleep(std::time::Duration::from_secs(2));
        fail();
        let _ = input.write_all(&data[midway..]);
        drop(input);
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "the backup cannot have finished");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Backs up two versions of `shop` and one of `crm`, reads them back
    /// and checks every byte; returns the first `shop`'s id and the second's data.
    fn back_up_three_snapshots(&self) -> (String, Vec<u8>) {
        let first = stream(1, 3 << 20);
        let second = stream(2, 3 << 20);
        let id = self.put("shop", &first);
        self.put("shop", &second);
        self.put("crm", b"a small database");
        assert_eq!(self.ok(&["cat", &id], None), first);
        assert_eq!(self.ok(&["cat", "latest:shop"], None), second);
        assert_eq!(self.snapshot_tags(), ["crm", "shop", "shop"]);
        let (healthy, report) = self.check();
        assert!(healthy, "{report}");
        (id, second)
    }

    fn snapshot_tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .json(&["snapshots", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["tag"].as_str().unwrap().to_string())
            .collect();
        tags.sort();
        tags
    }

    fn check(&self) -> (bool, Value) {
        let out = self.run(&["check", "--read-data", "--json"], None);
        (
            out.status.success(),
            serde_json::from_slice(&out.stdout).expect("check --json prints JSON"),
        )
    }
}

/// Incompressible bytes: every pack is as large as the data.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn the_cli_contract_works_on_an_s3_bucket() {
    let server = S3Server::start(BUCKET);
    let team = Workstation::new(&server, "team/prod");

    let created = team.json(&["init", "--json"]);
    assert_eq!(created["location"], format!("s3://{BUCKET}/team/prod"), "{created}");
    assert_eq!(
        created["storage"]["conditional_create"], true,
        "moto honours If-None-Match: {created}"
    );
    let again = team.fails(&["init"], None);
    assert!(again.contains("already exists"), "{again}");

    let (id, second) = team.back_up_three_snapshots();

    // Keys and the recovery kit live in the bucket too.
    let kit_dir = tempfile::tempdir().unwrap();
    let kit = kit_dir.path().join("kit.txt");
    team.ok(&["key", "recovery-kit", "--output", kit.to_str().unwrap()], None);
    assert!(std::fs::read_to_string(&kit).unwrap().contains(&format!("s3://{BUCKET}/team/prod")));
    let keys = team.json(&["key", "list", "--json"]);
    assert_eq!(keys.as_array().unwrap().len(), 2, "{keys}");

    // A fresh workstation opens it with the kit alone and restores byte for byte.
    let fresh = Workstation::new(&server, "team/prod");
    let mut cmd = fresh.cmd(&["cat", "latest:shop"]);
    cmd.env_remove("LIFEBOAT_PASSWORD").env("LIFEBOAT_RECOVERY_KIT_FILE", &kit);
    let out = run(cmd, None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, second);

    // Retention and prune remove objects, and leave what is kept whole.
    team.ok(&["forget", "--keep-last", "1", "--prune"], None);
    assert_eq!(team.snapshot_tags(), ["crm", "shop"]);
    team.fails(&["cat", &id], None);
    assert_eq!(team.ok(&["cat", "latest:shop"], None), second);
    let (healthy, report) = team.check();
    assert!(healthy, "{report}");
    team.ok(&["unlock"], None);

    // Another prefix of the same bucket is another repository.
    let other = Workstation::new(&server, "team/staging");
    let missing = other.fails(&["snapshots"], None);
    assert!(
        missing.contains("no Lifeboat repository at s3://lifeboat-test/team/staging"),
        "{missing}"
    );
}

#[test]
fn copies_go_from_a_folder_to_s3_and_a_fresh_workstation_restores_from_s3_alone() {
    let server = S3Server::start(BUCKET);
    let local = TestRepo::new();
    let offsite = Workstation::new(&server, "offsite");
    offsite.ok(&["init"], None);

    let day_one = stream(10, 4 << 20);
    let mut day_two = day_one.clone();
    day_two[1 << 20..(1 << 20) + 4096].copy_from_slice(&noise(3, 4096));
    local.put("shop", &day_one);

    let copy = |args: &[&str]| -> Value {
        let mut cmd = local.cmd(&["copy"]);
        cmd.args(args)
            .args(["--to", &offsite.location, "--json"])
            .env("LIFEBOAT_TO_PASSWORD", PASSWORD);
        for (name, value) in server.env() {
            cmd.env(name, value);
        }
        let out = run(cmd, None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = copy(&["--all"]);
    assert_eq!(first["copied"].as_array().unwrap().len(), 1, "{first}");

    local.put("shop", &day_two);
    let second = copy(&["latest:shop"]);
    let copied = &second["copied"][0];
    assert!(
        copied["new_chunks"].as_u64().unwrap() * 4 < copied["chunks"].as_u64().unwrap(),
        "a day's copy sends only the chunks that changed: {second}"
    );
    assert!(second["added_bytes"].as_u64().unwrap() < (day_two.len() / 4) as u64, "{second}");

    let fresh = Workstation::new(&server, "offsite");
    assert_eq!(fresh.ok(&["cat", "latest:shop"], None), day_two);
    assert_eq!(fresh.snapshot_tags(), ["shop", "shop"]);
    let (healthy, report) = fresh.check();
    assert!(healthy, "{report}");
}

#[test]
fn a_damaged_object_is_detected_and_never_read_back_as_data() {
    let server = S3Server::start(BUCKET);
    let team = Workstation::new(&server, "repo");
    team.ok(&["init"], None);
    let data = noise(7, 2 << 20);
    team.put("shop", &data);

    let pack = server
        .list_keys(BUCKET, "repo/data/")
        .into_iter()
        .next()
        .expect("a pack in the bucket");
    let mut bytes = server.get_object(BUCKET, &pack);
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    server.put_object(BUCKET, &pack, &bytes);

    let (healthy, report) = team.check();
    assert!(!healthy, "{report}");
    let out = team.run(&["cat", "latest:shop"], None);
    assert!(!out.status.success());
    assert!(out.stdout.len() < data.len());
    assert!(
        data.starts_with(&out.stdout),
        "what was written before the damaged blob is the snapshot's own bytes, and nothing else"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("damaged"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_outage_fails_the_job_clearly_and_keeps_earlier_snapshots() {
    let server = S3Server::start(BUCKET);
    let team = Workstation::new(&server, "repo");
    team.ok(&["init"], None);
    let before = noise(1, 1 << 20);
    team.put("shop", &before);

    // The server fails while a backup is half sent.
    let big = noise(2, 48 << 20);
    let stderr = team.put_failing_midway("shop", &big, || server.fail());
    assert!(stderr.contains("did not answer after several retries"), "{stderr}");

    // Reading fails the same way, and says so.
    let reading = team.fails(&["cat", "latest:shop"], None);
    assert!(reading.contains("did not answer after several retries"), "{reading}");

    server.recover();
    assert_eq!(team.snapshot_tags(), ["shop"]);
    assert_eq!(team.ok(&["cat", "latest:shop"], None), before);
    // Run again, the backup completes; what the first attempt sent is reused.
    team.put("shop", &big);
    assert_eq!(team.ok(&["cat", "latest:shop"], None), big);
    let (healthy, report) = team.check();
    assert!(healthy, "{report}");
}

#[test]
fn two_workstations_back_up_into_one_bucket_at_once() {
    let server = S3Server::start(BUCKET);
    let first = Workstation::new(&server, "shared");
    first.ok(&["init"], None);
    let second = Workstation::new(&server, "shared");

    let streams: Vec<Vec<u8>> = (0..2).map(|i| stream(20 + i, 6 << 20)).collect();
    std::thread::scope(|scope| {
        for (workstation, (tag, data)) in [&first, &second].into_iter().zip([("app", &streams[0]), ("crm", &streams[1])]) {
            scope.spawn(move || {
                for _ in 0..2 {
                    workstation.put(tag, data);
                }
            });
        }
    });
    assert_eq!(first.snapshot_tags(), ["app", "app", "crm", "crm"]);
    assert_eq!(second.ok(&["cat", "latest:app"], None), streams[0]);
    assert_eq!(first.ok(&["cat", "latest:crm"], None), streams[1]);
    let (healthy, report) = second.check();
    assert!(healthy, "{report}");

    // A prune from one while the other backs up: the backup waits for it or
    // it for the backup; nothing is lost either way.
    std::thread::scope(|scope| {
        scope.spawn(|| first.ok(&["forget", "--keep-last", "1", "--prune"], None));
        scope.spawn(|| second.put("app", &streams[1]));
    });
    assert_eq!(second.ok(&["cat", "latest:app"], None), streams[1]);
    let (healthy, report) = first.check();
    assert!(healthy, "{report}");
}

#[test]
fn wrong_settings_give_errors_that_say_what_to_do() {
    let server = S3Server::start(BUCKET);
    let wrong_bucket = Workstation {
        location: "s3://no-such-bucket/x".into(),
        ..Workstation::new(&server, "x")
    };
    let err = wrong_bucket.fails(&["init"], None);
    assert!(err.contains("the bucket does not exist"), "{err}");

    let no_region = Workstation::new(&server, "x");
    let mut cmd = no_region.cmd(&["snapshots"]);
    cmd.env_remove("AWS_ENDPOINT_URL").env_remove("AWS_REGION");
    let out = run(cmd, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("Set AWS_REGION"), "{err}");

    let unreachable = Workstation::new(&server, "x");
    let mut cmd = unreachable.cmd(&["init"]);
    cmd.env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", closed_port()));
    let out = run(cmd, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("check the network and the endpoint"), "{err}");
    assert!(!err.contains(lifeboat_testkit::s3::SECRET_ACCESS_KEY), "{err}");
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn index_files_and_manifests_are_downloaded_once_per_workstation() {
    let server = S3Server::start(BUCKET);
    let team = Workstation::new(&server, "repo");
    team.ok(&["init"], None);
    for day in 0..24 {
        team.put("shop", &stream(100 + day, 64 << 10));
    }

    let laptop = Workstation::new(&server, "repo");
    let cost = |what: &dyn Fn()| {
        let before = server.bytes_relayed();
        what();
        server.bytes_relayed() - before
    };
    let listing = || assert_eq!(laptop.snapshot_tags().len(), 24);
    let first = cost(&listing);
    let again = cost(&listing);
    assert!(again * 3 < first, "the second listing costs {again} bytes, the first {first}");

    // A manifest replaced in the bucket (damaged, or planted) is read anew,
    // and its damage found: the copy kept here never hides it.
    let manifest = server.list_keys(BUCKET, "repo/snapshots/").into_iter().next().unwrap();
    let mut bytes = server.get_object(BUCKET, &manifest);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    server.put_object(BUCKET, &manifest, &bytes);
    let out = laptop.run(&["check", "--json"], None);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("damaged"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn sftp_index_files_and_manifests_are_downloaded_once_per_workstation() {
    let server = SftpServer::start();
    let team = Workstation::sftp(&server, "repo");
    team.ok(&["init"], None);
    for day in 0..6 {
        team.put("shop", &stream(100 + day, 64 << 10));
    }
    let laptop = Workstation::sftp(&server, "repo");
    assert_eq!(laptop.snapshot_tags().len(), 6);

    // Every manifest on the server scrambled behind the laptop's back,
    // keeping its size and time: the laptop lists from its own copies, so
    // it read none of them again...
    let manifests: Vec<PathBuf> = std::fs::read_dir(server.files().join("repo/snapshots"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    let set_time = |path: &PathBuf, time: std::time::SystemTime| {
        std::fs::File::options().write(true).open(path).unwrap().set_modified(time).unwrap();
    };
    for path in &manifests {
        let modified = std::fs::metadata(path).unwrap().modified().unwrap();
        let scrambled: Vec<u8> = std::fs::read(path).unwrap().iter().map(|b| !b).collect();
        std::fs::write(path, scrambled).unwrap();
        set_time(path, modified);
    }
    assert_eq!(laptop.snapshot_tags().len(), 6, "listed from this workstation's copies");
    // ...while `check` reads the server itself and finds the damage.
    let (healthy, report) = laptop.check();
    assert!(!healthy, "{report}");
    assert!(report.to_string().contains("damaged"), "{report}");

    // A file that lists with a new time is read anew.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    for path in &manifests {
        set_time(path, later);
    }
    let out = laptop.run(&["snapshots", "--json"], None);
    let listed = serde_json::from_slice::<Value>(&out.stdout).ok();
    assert!(
        !out.status.success() || listed.and_then(|l| l.as_array().map(Vec::len)) != Some(6),
        "the damaged manifests were read anew: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_database_backs_up_restores_and_drills_through_a_bucket() {
    let server = S3Server::start(BUCKET);
    database_round_trip(&Workstation::new(&server, "pg"), &Workstation::new(&server, "pg"));
}

#[test]
fn a_database_backs_up_restores_and_drills_through_an_sftp_server() {
    let server = SftpServer::start();
    database_round_trip(&Workstation::sftp(&server, "pg"), &Workstation::sftp(&server, "pg"));
}

/// `team` backs a database up; `fresh`, another workstation on the same
/// repository, restores it onto a fresh server and drills it.
fn database_round_trip(team: &Workstation, fresh: &Workstation) {
    use lifeboat_testkit::PgCluster;
    team.ok(&["init"], None);
    let source = PgCluster::start();
    source.psql("postgres", "CREATE DATABASE shop");
    source.psql(
        "shop",
        "CREATE TABLE orders (id bigserial PRIMARY KEY, customer text NOT NULL, total numeric(10,2));
         INSERT INTO orders (customer, total) SELECT 'customer ' || g, g * 1.5 FROM generate_series(1, 5000) g;",
    );
    let backup: Value = serde_json::from_slice(&team.ok(&["backup", "--db", &source.url("shop"), "--json"], None)).unwrap();
    assert_eq!(backup["rows"], 5000, "{backup}");

    let target = PgCluster::start();
    fresh.ok(&["restore", "latest:shop", "--to", &target.url("shop")], None);
    let totals = "SELECT count(*) || '/' || sum(total) FROM orders";
    assert_eq!(target.psql("shop", totals), source.psql("shop", totals));

    let drill: Value =
        serde_json::from_slice(&fresh.ok(&["drill", "latest:shop", "--server", &target.url("postgres"), "--json"], None)).unwrap();
    assert_eq!(drill["passed"], true, "{drill:#}");
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn the_cli_contract_works_on_an_sftp_server() {
    let server = SftpServer::start();
    let team = Workstation::sftp(&server, "team");
    let on_server = server.files().join("team");

    let created = team.json(&["init", "--json"]);
    assert_eq!(created["location"], server.location("team"), "{created}");
    assert_eq!(created["storage"]["atomic_replace"], true, "OpenSSH has posix-rename: {created}");
    assert_eq!(created["storage"]["conditional_create"], true, "OpenSSH has hardlink: {created}");
    let again = team.fails(&["init"], None);
    assert!(again.contains("already exists"), "{again}");

    let (id, second) = team.back_up_three_snapshots();

    // On the server: private folders, and no temporary file left behind.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(on_server.join("data")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
    let files = files_under(&on_server);
    assert!(files.iter().any(|f| f.starts_with("data/")), "{files:?}");
    assert!(files.iter().all(|f| !f.contains(".tmp-")), "{files:?}");

    // The recovery kit opens it from a fresh workstation.
    let kit_dir = tempfile::tempdir().unwrap();
    let kit = kit_dir.path().join("kit.txt");
    team.ok(&["key", "recovery-kit", "--output", kit.to_str().unwrap()], None);
    let fresh = Workstation::sftp(&server, "team");
    let mut cmd = fresh.cmd(&["cat", "latest:shop"]);
    cmd.env_remove("LIFEBOAT_PASSWORD").env("LIFEBOAT_RECOVERY_KIT_FILE", &kit);
    let out = run(cmd, None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, second);

    // A local repository's copies go there; the second sends only what changed.
    let local = TestRepo::new();
    let day_one = stream(10, 4 << 20);
    let mut day_two = day_one.clone();
    day_two[1 << 20..(1 << 20) + 4096].copy_from_slice(&noise(3, 4096));
    let copy = |snapshot: &str| -> Value {
        let mut cmd = local.cmd(&["copy", snapshot, "--to", &team.location, "--json"]);
        cmd.env("LIFEBOAT_TO_PASSWORD", PASSWORD);
        for (name, value) in server.env() {
            cmd.env(name, value);
        }
        let out = run(cmd, None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    local.put("billing", &day_one);
    copy("latest:billing");
    local.put("billing", &day_two);
    let second_copy = copy("latest:billing");
    assert!(
        second_copy["added_bytes"].as_u64().unwrap() < (day_two.len() / 4) as u64,
        "{second_copy}"
    );
    assert_eq!(fresh.ok(&["cat", "latest:billing"], None), day_two);

    // A bit flipped on the server is found, never restored.
    let pack = files_under(&on_server.join("data")).into_iter().next().unwrap();
    let pack = on_server.join("data").join(pack);
    let mut bytes = std::fs::read(&pack).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&pack, &bytes).unwrap();
    let (healthy, report) = team.check();
    assert!(!healthy, "{report}");
    bytes[middle] ^= 0x01;
    std::fs::write(&pack, &bytes).unwrap();

    // Retention and prune remove files, and leave what is kept whole.
    team.ok(&["forget", "--keep-last", "1", "--prune"], None);
    assert_eq!(team.snapshot_tags(), ["billing", "crm", "shop"]);
    team.fails(&["cat", &id], None);
    assert_eq!(team.ok(&["cat", "latest:shop"], None), second);
    let (healthy, report) = team.check();
    assert!(healthy, "{report}");
}

#[test]
fn an_sftp_outage_fails_the_job_clearly_and_keeps_earlier_snapshots() {
    let mut server = SftpServer::start();
    let team = Workstation::sftp(&server, "repo");
    team.ok(&["init"], None);
    let before = noise(1, 1 << 20);
    team.put("shop", &before);

    // The server dies while a backup is half sent.
    let big = noise(2, 48 << 20);
    let stderr = team.put_failing_midway("shop", &big, || server.fail());
    assert!(
        stderr.contains("could not be reached") || stderr.contains("kept breaking"),
        "{stderr}"
    );

    server.recover();
    assert_eq!(team.snapshot_tags(), ["shop"]);
    assert_eq!(team.ok(&["cat", "latest:shop"], None), before);
    team.put("shop", &big);
    assert_eq!(team.ok(&["cat", "latest:shop"], None), big);
    // Whatever the killed upload left half-written is only ever a temporary
    // file, which prune removes.
    team.ok(&["forget", "--keep-last", "5", "--prune"], None);
    let files = files_under(&server.files().join("repo"));
    assert!(files.iter().all(|f| !f.contains(".tmp-")), "{files:?}");
    let (healthy, report) = team.check();
    assert!(healthy, "{report}");
}

#[test]
fn sftp_logins_that_fail_say_what_to_do() {
    let server = SftpServer::start();
    let location = server.location("repo");
    let fails =
        |env: Vec<(&'static str, String)>, location: &str| -> String { Workstation::at(location.to_string(), env).fails(&["init"], None) };

    let err = fails(server.env_unknown_host(), &location);
    assert!(err.contains("host key is not in ~/.ssh/known_hosts"), "{err}");
    let err = fails(server.env_stranger(), &location);
    assert!(err.contains("the server refused the login"), "{err}");
    let closed = location.replace(&format!(":{}/", server.port), &format!(":{}/", closed_port()));
    let err = fails(server.env(), &closed);
    assert!(err.contains("could not be reached"), "{err}");
    let nowhere = location.replace(&server.files().display().to_string(), "/proc/lifeboat");
    let err = fails(server.env(), &nowhere);
    assert!(err.contains("could not be created"), "{err}");

    let without_ssh = Workstation::at(location, Vec::new());
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = without_ssh.cmd(&["init"]);
    cmd.env("PATH", empty.path()).env_remove("LIFEBOAT_SSH_COMMAND");
    let out = run(cmd, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("need OpenSSH's client"), "{err}");
}
