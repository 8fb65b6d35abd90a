//! Alerts beside the desktop, through the real `lifeboat` binary: e-mail to
//! a real SMTP server (aiosmtpd, STARTTLS and AUTH) and every webhook format
//! to a real HTTP server on 127.0.0.1, each carrying the event's facts;
//! deliveries that fail are retried and recorded, never failing the job.

mod common;

use common::*;
use lifeboat_testkit::http::{closed_url, Receiver};
use lifeboat_testkit::smtp::SmtpServer;
use lifeboat_testkit::PgCluster;

fn shop(cluster: &PgCluster) {
    cluster.psql("postgres", "CREATE DATABASE shop");
    cluster.psql(
        "shop",
        "CREATE TABLE public.users (id serial PRIMARY KEY, email text NOT NULL);
         INSERT INTO public.users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 40) g;",
    );
}

fn events(repo: &TestRepo, kind: &str) -> Vec<serde_json::Value> {
    String::from_utf8(repo.ok(&["events", "--json"], None))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// `lifeboat ARGS` with extra environment.
fn with_env(repo: &TestRepo, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = repo.cmd(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd, None)
}

const USER: &str = "alerts@team.example";
const SMTP_PASSWORD: &str = "s3cret smtp pass";

#[test]
fn a_failed_backup_is_e_mailed_over_starttls_with_what_to_do() {
    let cluster = PgCluster::start();
    shop(&cluster);
    let smtp = SmtpServer::start(USER, SMTP_PASSWORD);
    let ca = smtp.ca_file().display().to_string();
    let repo = TestRepo::new();
    repo.ok(&["connection", "add", "shop", "--db", &cluster.url("shop")], None);

    let url = format!("smtp://alerts%40team.example@127.0.0.1:{}", smtp.port);
    let err = repo.fails(
        &[
            "notify",
            "add",
            "mail",
            "--smtp",
            &url.replace("alerts%40", "alerts%40x:pw@"),
            "--to",
            "oncall@team.example",
        ],
        None,
    );
    assert!(err.contains("leave the password out of the URL"), "{err}");
    let err = repo.fails(&["notify", "add", "mail", "--smtp", &url, "--to", "not an address"], None);
    assert!(err.contains("not an e-mail address"), "{err}");
    repo.ok(
        &[
            "notify",
            "add",
            "mail",
            "--smtp",
            &url,
            "--to",
            "oncall@team.example",
            "--events",
            "failure",
        ],
        None,
    );

    let trusted = [("SSL_CERT_FILE", ca.as_str()), ("LIFEBOAT_SMTP_PASSWORD", SMTP_PASSWORD)];

    let wrong = with_env(
        &repo,
        &["notify", "test", "mail"],
        &[("SSL_CERT_FILE", &ca), ("LIFEBOAT_SMTP_PASSWORD", "wrong")],
    );
    let err = String::from_utf8_lossy(&wrong.stderr).to_string();
    assert!(
        !wrong.status.success() && err.contains("after 1 try"),
        "a refused password is not retried: {err}"
    );
    assert!(!err.contains("wrong"), "the password is not repeated: {err}");

    let out = with_env(&repo, &["notify", "test", "mail"], &trusted);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].tls && mails[0].authenticated, "{mails:?}");
    assert_eq!(mails[0].subject, "[Lifeboat] Lifeboat test message");
    assert_eq!(mails[0].to, ["oncall@team.example"]);
    assert_eq!(mails[0].from, USER);

    // A success is not for this channel; a failure is.
    assert!(with_env(&repo, &["backup", "--connection", "shop"], &trusted).status.success());
    assert_eq!(smtp.messages().len(), 1);
    cluster.psql("postgres", "DROP DATABASE shop");
    let failed = with_env(&repo, &["backup", "--connection", "shop"], &trusted);
    assert!(!failed.status.success());
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].subject, "[Lifeboat] Backup of shop FAILED");
    let mail = &mails[1].body;
    for fact in ["database \"shop\" does not exist", "Test the connection", "shop · ", "Lifeboat on "] {
        assert!(mail.contains(fact), "{fact} in {mail}");
    }
    let sent = events(&repo, "notification_sent");
    assert_eq!(sent.last().unwrap()["detail"]["channel"], "mail", "{sent:?}");
    assert_eq!(sent.last().unwrap()["detail"]["about"], "backup_failed");

    let list: serde_json::Value = serde_json::from_slice(&repo.ok(&["notify", "list", "--json"], None)).unwrap();
    assert_eq!(list[0]["kind"], "email");
    assert_eq!(list[0]["last_delivery"]["kind"], "notification_sent");

    // The server's certificate is checked against the roots: unknown, refused
    // (last: aiosmtpd stops answering after a failed handshake).
    let untrusted = with_env(&repo, &["notify", "test", "mail"], &[("LIFEBOAT_SMTP_PASSWORD", SMTP_PASSWORD)]);
    let err = String::from_utf8_lossy(&untrusted.stderr).to_string();
    assert!(!untrusted.status.success() && err.contains("UnknownIssuer"), "{err}");
    assert_eq!(smtp.messages().len(), 2);

    repo.ok(&["notify", "remove", "mail"], None);
    let err = repo.fails(&["notify", "test", "mail"], None);
    assert!(err.contains("no channel `mail`"), "{err}");
}

#[test]
fn every_webhook_format_receives_the_snapshot_facts_and_failed_deliveries_are_retried_and_recorded() {
    let cluster = PgCluster::start();
    shop(&cluster);
    let receiver = Receiver::start();
    let repo = TestRepo::new();
    repo.ok(&["connection", "add", "shop", "--db", &cluster.url("shop")], None);
    let hooks = [
        ("generic", "/hooks/generic"),
        ("slack", "/services/T0/B0/slack-secret"),
        ("discord", "/api/webhooks/1/discord-secret"),
        ("teams", "/workflows/teams"),
        ("ntfy", "/ntfy/lifeboat-alerts"),
        ("gotify", "/message?token=gotify-secret"),
    ];
    for (format, path) in hooks {
        let url = format!("{}{path}", receiver.url);
        repo.ok(
            &[
                "notify",
                "add",
                format,
                "--webhook",
                &url,
                "--format",
                format,
                "--events",
                "failure,success",
            ],
            None,
        );
    }
    let err = repo.fails(&["notify", "add", "x", "--webhook", &receiver.url, "--format", "irc"], None);
    assert!(err.contains("not a webhook format"), "{err}");
    let err = repo.fails(&["notify", "add", "x", "--webhook", &receiver.url, "--events", "backups"], None);
    assert!(err.contains("not a kind of event"), "{err}");

    let snapshot = String::from_utf8(repo.ok(&["backup", "--connection", "shop"], None)).unwrap();
    let snapshot = snapshot.trim();
    let listed: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
    let sha = listed[0]["sha256"].as_str().unwrap();
    let requests = receiver.requests();
    assert_eq!(requests.len(), hooks.len(), "{:?}", receiver.paths());
    let at = |path: &str| {
        requests
            .iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("nothing posted to {path}: {:?}", receiver.paths()))
    };
    assert!(requests
        .iter()
        .all(|r| r.method == "POST" && r.header("content-type") == Some("application/json")));
    let facts = format!("Snapshot {}", &snapshot[..8]);

    let generic = at("/hooks/generic").json();
    assert_eq!(generic["title"], "shop backed up");
    assert_eq!(generic["event"]["snapshot"]["id"], snapshot);
    assert_eq!(generic["event"]["snapshot"]["sha256"], sha);
    assert!(
        generic["text"].as_str().unwrap().contains(&format!("SHA-256 {}…", &sha[..12])),
        "{generic}"
    );
    assert!(at("/services/T0/B0/slack-secret").json()["text"].as_str().unwrap().contains(&facts));
    let discord = at("/api/webhooks/1/discord-secret").json();
    assert!(discord["content"].as_str().unwrap().starts_with("**shop backed up**"));
    assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));
    let teams = at("/workflows/teams").json();
    assert_eq!(teams["attachments"][0]["content"]["type"], "AdaptiveCard");
    assert!(teams.to_string().contains(&facts));
    let ntfy = at("/ntfy/").json();
    assert_eq!(
        (ntfy["topic"].as_str(), ntfy["priority"].as_i64()),
        (Some("lifeboat-alerts"), Some(3))
    );
    let gotify = at("/message?token=gotify-secret").json();
    assert_eq!(gotify["title"], "shop backed up");
    assert!(gotify["message"].as_str().unwrap().contains(&facts));

    // Listings show where, never the URL's secret.
    let list = String::from_utf8(repo.ok(&["notify", "list"], None)).unwrap();
    assert!(list.contains("slack webhook http://127.0.0.1/…") && list.contains("sent"), "{list}");
    assert!(!list.contains("secret"), "{list}");

    // A service that fails is tried three times; one that refuses (4xx) once;
    // one nobody answers three times; the backup succeeds all the same.
    for (format, _) in hooks {
        repo.ok(&["notify", "remove", format], None);
    }
    let failing = Receiver::start();
    failing.answer(503);
    let refusing = Receiver::start();
    refusing.answer(404);
    let down = closed_url();
    for (name, url) in [
        ("failing", format!("{}/hook", failing.url)),
        ("refusing", format!("{}/hook", refusing.url)),
        ("down", format!("{down}/hook-secret")),
    ] {
        repo.ok(&["notify", "add", name, "--webhook", &url, "--events", "success"], None);
    }
    repo.ok(&["backup", "--connection", "shop"], None);
    assert_eq!(failing.requests().len(), 3);
    assert_eq!(refusing.requests().len(), 1);
    let failed = events(&repo, "notification_failed");
    let attempts = |name: &str| {
        let e = failed
            .iter()
            .find(|e| e["detail"]["channel"] == name)
            .unwrap_or_else(|| panic!("no failure recorded for {name}: {failed:?}"));
        assert!(e["message"].as_str().unwrap().contains("the job itself is not affected"), "{e}");
        assert!(!e.to_string().contains("hook-secret"), "{e}");
        e["detail"]["attempts"].as_u64().unwrap()
    };
    assert_eq!((attempts("failing"), attempts("refusing"), attempts("down")), (3, 1, 3));
    let list: serde_json::Value = serde_json::from_slice(&repo.ok(&["notify", "list", "--json"], None)).unwrap();
    assert!(list.as_array().unwrap().iter().all(|c| c["last_delivery"]["ok"] == false), "{list}");
}
