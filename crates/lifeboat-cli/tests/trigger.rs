//! The checkpoint trigger API through the real `lifeboat daemon --listen`,
//! spoken to with real HTTP requests (curl, as the README's pipeline
//! snippet does): tokens, scopes, refusals that run nothing, the job's
//! state (across restarts of the daemon), the token's name in the snapshot
//! and the event log, busy databases, rate limits and TLS off loopback.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use lifeboat_testkit::PgCluster;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `lifeboat daemon --listen ...` until dropped; `url` once it listens.
struct Daemon {
    child: Child,
    url: String,
    said: Vec<String>,
}

impl Daemon {
    fn start(repo: &TestRepo, args: &[&str]) -> Daemon {
        let child = repo
            .cmd(&[&["daemon"], args].concat())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Owned by the Daemon at once, so a failed start still stops it.
        let mut daemon = Daemon {
            child,
            url: String::new(),
            said: Vec::new(),
        };
        let mut stderr = BufReader::new(daemon.child.stderr.take().unwrap());
        loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "the daemon stopped: {:?}", daemon.said);
            if let Some(url) = line.trim().strip_prefix("lifeboat daemon: checkpoint API on ") {
                daemon.url = url.to_owned();
                daemon.said.push(line);
                // Keep reading its stderr so it never blocks on a full pipe.
                std::thread::spawn(move || for _ in stderr.lines() {});
                return daemon;
            }
            daemon.said.push(line);
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a request answered: status, headers (lower-case names), JSON body.
struct Answer {
    status: u16,
    headers: String,
    json: serde_json::Value,
}

/// One request with curl; `body` goes as JSON.
fn request(method: &str, url: &str, token: Option<&str>, body: Option<&[u8]>, extra: &[&str]) -> Answer {
    let dir = tempfile::tempdir().unwrap();
    let headers_file = dir.path().join("headers");
    let mut curl = Command::new("curl");
    curl.args(["-sS", "-X", method, "-o", "-", "-w", "\n%{http_code}", "-D"])
        .arg(&headers_file)
        .args(extra);
    if let Some(token) = token {
        curl.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    if let Some(body) = body {
        let file = dir.path().join("body");
        std::fs::write(&file, body).unwrap();
        curl.args(["-H", "Content-Type: application/json", "--data-binary"])
            .arg(format!("@{}", file.display()));
    }
    let out = curl.arg(url).output().expect("curl (package curl) runs the API test");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text
        .rsplit_once('\n')
        .unwrap_or_else(|| panic!("curl said: {text} {}", String::from_utf8_lossy(&out.stderr)));
    Answer {
        status: status
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{text} {}", String::from_utf8_lossy(&out.stderr))),
        headers: std::fs::read_to_string(headers_file).unwrap_or_default().to_ascii_lowercase(),
        json: serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}")),
    }
}

fn checkpoint(api: &str, token: Option<&str>, body: &serde_json::Value) -> Answer {
    request(
        "POST",
        &format!("{api}/v1/checkpoints"),
        token,
        Some(body.to_string().as_bytes()),
        &[],
    )
}

/// Polls the job until it is no longer running, as a pipeline does.
fn wait_for(api: &str, token: &str, job: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answer = request("GET", &format!("{api}/v1/jobs/{job}"), Some(token), None, &[]);
        assert_eq!(answer.status, 200, "{}", answer.json);
        if answer.json["state"] != "running" {
            return answer.json;
        }
        assert!(Instant::now() < deadline, "job {job} still running after 120 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn snapshot_count(repo: &TestRepo) -> usize {
    let listed: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
    listed.as_array().unwrap().len()
}

fn add_token(repo: &TestRepo, args: &[&str]) -> String {
    let token = String::from_utf8(repo.ok(&[&["token", "add"], args].concat(), None)).unwrap();
    token.trim().to_owned()
}

#[test]
fn a_pipeline_token_takes_a_checkpoint_and_nothing_else_gets_through() {
    let cluster = PgCluster::start();
    for database in ["shop", "billing"] {
        cluster.psql("postgres", &format!("CREATE DATABASE {database}"));
        cluster.psql(database, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 50);");
    }
    let repo = TestRepo::new();
    repo.ok(&["connection", "add", "shop", "--db", &cluster.url("shop")], None);
    repo.ok(&["connection", "add", "billing", "--db", &cluster.url("billing")], None);

    let refused = repo.fails(&["token", "add", "x", "--can", "restore"], None);
    assert!(refused.contains("the only scope is `checkpoint`"), "{refused}");
    let refused = repo.fails(&["token", "add", "x", "--can", "checkpoint", "--database", "nosuch"], None);
    assert!(refused.contains("no saved connection is named `nosuch`"), "{refused}");
    let deploy = add_token(&repo, &["deploy", "--can", "checkpoint", "--database", "shop"]);
    assert!(deploy.starts_with("lbt_") && deploy.len() > 40, "{deploy}");
    let ops = add_token(&repo, &["ops", "--can", "checkpoint"]);
    let refused = repo.fails(&["token", "add", "deploy", "--can", "checkpoint"], None);
    assert!(refused.contains("revoke it first"), "{refused}");
    let listed = String::from_utf8(repo.ok(&["token", "list", "--json"], None)).unwrap();
    assert!(
        !listed.contains(&deploy) && !listed.contains(&ops),
        "tokens are never listed: {listed}"
    );
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["name"], "deploy");
    assert_eq!(listed[0]["database"], "shop");
    assert!(deploy.starts_with(listed[0]["hint"].as_str().unwrap().trim_end_matches('…')));
    assert_eq!(listed[1]["database"], serde_json::Value::Null);
    for file in lifeboat_testkit::files_under(&repo.data_dir) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(deploy.len()).any(|w| w == deploy.as_bytes()),
            "{} holds the token",
            file.display()
        );
    }

    let daemon = Daemon::start(&repo, &["--listen", &format!("127.0.0.1:{}", free_port())]);
    let api = daemon.url.clone();
    assert!(api.starts_with("http://127.0.0.1:"), "{:?}", daemon.said);
    let body = serde_json::json!({ "database": "shop", "label": "before migration 42" });

    // Refusals, none of which runs anything.
    let none = checkpoint(&api, None, &body);
    assert_eq!(none.status, 401);
    assert!(none.headers.contains("www-authenticate: bearer"), "{}", none.headers);
    assert!(
        none.json["message"].as_str().unwrap().contains("Authorization: Bearer TOKEN"),
        "{}",
        none.json
    );
    let wrong = checkpoint(&api, Some("lbt_not-a-token"), &body);
    assert_eq!((wrong.status, wrong.json["error"].as_str()), (401, Some("unauthorized")));
    let other = checkpoint(&api, Some(&deploy), &serde_json::json!({ "database": "billing", "label": "x" }));
    assert_eq!(other.status, 403, "{}", other.json);
    assert!(other.json["message"]
        .as_str()
        .unwrap()
        .contains("may only take checkpoints of `shop`"));
    let malformed = request(
        "POST",
        &format!("{api}/v1/checkpoints"),
        Some(&deploy),
        Some(b"{\"database\": "),
        &[],
    );
    assert_eq!(malformed.status, 400, "{}", malformed.json);
    assert!(
        malformed.json["message"].as_str().unwrap().contains("\"label\""),
        "{}",
        malformed.json
    );
    let oversized = serde_json::json!({ "database": "shop", "label": "x".repeat(10_000) });
    assert_eq!(checkpoint(&api, Some(&deploy), &oversized).status, 413);
    let unlabelled = checkpoint(&api, Some(&deploy), &serde_json::json!({ "database": "shop", "label": "  " }));
    assert_eq!(unlabelled.status, 422, "{}", unlabelled.json);
    let unknown = checkpoint(&api, Some(&ops), &serde_json::json!({ "database": "nosuch", "label": "x" }));
    assert_eq!(unknown.status, 404, "{}", unknown.json);
    assert_eq!(request("GET", &format!("{api}/v1/restore"), Some(&ops), None, &[]).status, 404);
    assert_eq!(snapshot_count(&repo), 0, "a refused request ran nothing");

    // The checkpoint, polled as a pipeline does.
    let started = checkpoint(&api, Some(&deploy), &body);
    assert_eq!(started.status, 202, "{}", started.json);
    let job = started.json["job"].as_str().unwrap().to_owned();
    assert_eq!(started.json["state"], "running");
    assert!(
        started.headers.contains(&format!("location: /v1/jobs/{job}")),
        "{}",
        started.headers
    );
    let foreign = request("GET", &format!("{api}/v1/jobs/{job}"), Some(&ops), None, &[]);
    assert_eq!(foreign.status, 404, "a token sees only its own jobs: {}", foreign.json);
    let done = wait_for(&api, &deploy, &job);
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["requested_by"], "deploy");
    let snapshot = done["snapshot"].as_str().unwrap();
    assert_eq!(done["facts"]["id"], snapshot);
    assert_eq!(done["facts"]["sha256"].as_str().unwrap().len(), 64);

    let shown: serde_json::Value = serde_json::from_slice(&repo.ok(&["show", snapshot], None)).unwrap();
    let shown = &shown["manifest"];
    assert_eq!(shown["kind"], "checkpoint", "{shown}");
    assert_eq!(shown["label"], "before migration 42");
    assert_eq!(shown["metadata"]["requested_by"], "deploy", "{shown}");
    let events = String::from_utf8(repo.ok(&["events", "--json"], None)).unwrap();
    let event: serde_json::Value = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["kind"] == "checkpoint")
        .unwrap();
    assert!(event["message"].as_str().unwrap().contains("requested by deploy"), "{event}");
    assert_eq!(event["snapshot"]["id"], snapshot);
    let listed: serde_json::Value = serde_json::from_slice(&repo.ok(&["token", "list", "--json"], None)).unwrap();
    assert!(listed[0]["last_used"].is_string(), "{listed}");

    // A database busy with another job here answers 409 and runs nothing more.
    let claims = repo.data_dir.join("claims");
    // -o: the lock stays with flock itself, so killing it frees the database.
    let mut holder = Command::new("flock")
        .arg("-o")
        .arg(claims.join("billing.lock"))
        .args(["sleep", "60"])
        .spawn()
        .expect("flock (util-linux)");
    wait_until_locked(&claims.join("billing.lock"));
    let busy = checkpoint(&api, Some(&ops), &serde_json::json!({ "database": "billing", "label": "x" }));
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(busy.status, 409, "{}", busy.json);
    assert!(busy.json["message"].as_str().unwrap().contains("already running"), "{}", busy.json);
    assert_eq!(snapshot_count(&repo), 1);

    // The job outlives the daemon: a pipeline polling across a restart gets its answer.
    drop(daemon);
    let daemon = Daemon::start(&repo, &["--listen", &format!("127.0.0.1:{}", free_port())]);
    let api = daemon.url.clone();
    let again = request("GET", &format!("{api}/v1/jobs/{job}"), Some(&deploy), None, &[]);
    assert_eq!(again.status, 200, "{}", again.json);
    assert_eq!(
        (again.json["state"].as_str(), again.json["snapshot"].as_str()),
        (Some("succeeded"), Some(snapshot))
    );
    assert_eq!(again.json["report"], done["report"]);
    assert_eq!(request("GET", &format!("{api}/v1/jobs/{job}"), Some(&ops), None, &[]).status, 404);

    // A checkpoint whose daemon is killed mid-way is reported failed, not running forever.
    let mut locker = cluster
        .psql_command("shop", "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let held = "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                WHERE c.relname = 't' AND l.mode = 'AccessExclusiveLock' AND l.granted";
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.psql("shop", held) != "1" {
        assert!(Instant::now() < deadline, "the table was never locked");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut daemon = daemon;
    let stuck = checkpoint(&api, Some(&ops), &serde_json::json!({ "database": "shop", "label": "stuck" }));
    assert_eq!(stuck.status, 202, "{}", stuck.json);
    let stuck = stuck.json["job"].as_str().unwrap().to_owned();
    std::thread::sleep(Duration::from_millis(500));
    let running = request("GET", &format!("{api}/v1/jobs/{stuck}"), Some(&ops), None, &[]);
    assert_eq!(running.json["state"], "running", "{}", running.json);
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    let daemon = Daemon::start(&repo, &["--listen", &format!("127.0.0.1:{}", free_port())]);
    let api = daemon.url.clone();
    let stopped = request("GET", &format!("{api}/v1/jobs/{stuck}"), Some(&ops), None, &[]);
    let _ = locker.kill();
    let _ = locker.wait();
    assert_eq!(stopped.json["state"], "failed", "{}", stopped.json);
    assert!(
        stopped.json["error"].as_str().unwrap().contains("stopped before it finished"),
        "{}",
        stopped.json
    );
    assert_eq!(snapshot_count(&repo), 1);

    // A revoked token is refused at once, by the running daemon too.
    repo.ok(&["token", "revoke", "deploy"], None);
    assert_eq!(checkpoint(&api, Some(&deploy), &body).status, 401);
    assert!(repo.fails(&["token", "revoke", "deploy"], None).contains("no token is named"));

    // A client that keeps failing is turned away, even with a good token.
    let mut limited = None;
    for _ in 0..12 {
        let answer = checkpoint(&api, Some("lbt_guess"), &body);
        if answer.status == 429 {
            limited = Some(answer);
            break;
        }
        assert_eq!(answer.status, 401);
    }
    let limited = limited.expect("guessing was never rate-limited");
    assert!(limited.headers.contains("retry-after:"), "{}", limited.headers);
    assert_eq!(checkpoint(&api, Some(&ops), &body).status, 429);
    assert_eq!(snapshot_count(&repo), 1);
}

/// Waits until another process holds the lock file.
fn wait_until_locked(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Command::new("flock").args(["-n"]).arg(path).arg("true").status().unwrap().success() {
        assert!(Instant::now() < deadline, "{} was never locked", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn off_loopback_the_api_needs_tls_and_says_so_loudly() {
    let repo = TestRepo::new();
    let port = free_port();
    let refused = repo.fails(&["daemon", "--listen", &format!("0.0.0.0:{port}")], None);
    assert!(refused.contains("--tls-cert FILE --tls-key FILE"), "{refused}");

    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=lifeboat-test",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl makes the test certificate");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let refused = repo.fails(
        &[
            "daemon",
            "--listen",
            &format!("0.0.0.0:{port}"),
            "--tls-cert",
            &key.display().to_string(),
            "--tls-key",
            &key.display().to_string(),
        ],
        None,
    );
    assert!(refused.contains("TLS certificate") && refused.contains("PEM"), "{refused}");

    let daemon = Daemon::start(
        &repo,
        &[
            "--listen",
            &format!("0.0.0.0:{port}"),
            "--tls-cert",
            &cert.display().to_string(),
            "--tls-key",
            &key.display().to_string(),
        ],
    );
    assert!(
        daemon
            .said
            .iter()
            .any(|l| l.starts_with("WARNING") && l.contains("reachable from other machines")),
        "{:?}",
        daemon.said
    );
    assert!(daemon.url.starts_with("https://"), "{}", daemon.url);
    let ops = add_token(&repo, &["ops", "--can", "checkpoint"]);
    let api = format!("https://127.0.0.1:{port}");
    let cacert = ["--cacert", cert.to_str().unwrap()];
    let answer = request("GET", &format!("{api}/v1/jobs/0123"), Some(&ops), None, &cacert);
    assert_eq!(
        (answer.status, answer.json["error"].as_str()),
        (404, Some("unknown_job")),
        "{}",
        answer.json
    );
    // Plain HTTP to the TLS port gets no answer.
    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "5", &format!("http://127.0.0.1:{port}/v1/jobs/0123")])
        .output()
        .unwrap();
    assert!(!plain.status.success());
}
