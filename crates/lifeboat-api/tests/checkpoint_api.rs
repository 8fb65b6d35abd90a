//! The checkpoint trigger API as the app serves it: turned on at a port,
//! a token made in the app, a real HTTP request (curl) takes a checkpoint
//! of a real cluster whose Timeline then says who asked; turned off, the
//! port is closed; a port already taken is reported, not fatal.

mod common;

use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{save_cluster_connection, start_with_repository};
use lifeboat_api::*;
use lifeboat_testkit::PgCluster;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `curl` a JSON request; the status and the JSON answer.
fn curl(method: &str, url: &str, token: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let mut curl = Command::new("curl");
    curl.args([
        "-sS",
        "-X",
        method,
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "-H",
        &format!("Authorization: Bearer {token}"),
    ]);
    if let Some(body) = body {
        curl.args(["-H", "Content-Type: application/json", "-d", body]);
    }
    let out = curl.arg(url).output().expect("curl runs");
    let text = String::from_utf8(out.stdout).unwrap();
    let (json, status) = text.rsplit_once('\n').unwrap();
    (
        status.parse().unwrap(),
        serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_serves_the_api_and_a_pipeline_checkpoint_shows_who_asked() {
    let cluster = PgCluster::start();
    cluster.psql("postgres", "CREATE DATABASE shop");
    cluster.psql("shop", "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 10);");
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(start_with_repository(dir.path(), None).await);
    tokio::spawn(app.clone().run_checkpoint_api());
    save_cluster_connection(&app, "shop", &cluster, "shop").await;

    let off = app.checkpoint_api().await.unwrap();
    assert_eq!((off.port, off.url.as_deref(), off.tokens.len()), (None, None, 0));
    let refused = app.set_checkpoint_api(Some(0)).await.unwrap_err();
    assert_eq!(refused.field.as_deref(), Some("port"), "{refused:?}");

    // A port another program holds is reported, and the app goes on.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = app.set_checkpoint_api(Some(taken.local_addr().unwrap().port())).await.unwrap();
    assert!(
        busy.url.is_none() && busy.error.as_deref().unwrap_or_default().contains("cannot listen"),
        "{busy:?}"
    );
    drop(taken);

    let port = free_port();
    let on = app.set_checkpoint_api(Some(port)).await.unwrap();
    assert_eq!(on.url, Some(format!("http://127.0.0.1:{port}")), "{on:?}");

    let unknown = app
        .add_api_token(ApiTokenRequest {
            name: "deploy".into(),
            database: Some("nosuch".into()),
        })
        .await
        .err()
        .unwrap();
    assert_eq!(unknown.field.as_deref(), Some("database"), "{unknown:?}");
    let made = app
        .add_api_token(ApiTokenRequest {
            name: "deploy".into(),
            database: Some("shop".into()),
        })
        .await
        .unwrap();
    assert_eq!(made.api.tokens.len(), 1);
    assert!(made.token.starts_with(&made.api.tokens[0].hint.replace('…', "")));

    let api = on.url.unwrap();
    let (status, started) = curl(
        "POST",
        &format!("{api}/v1/checkpoints"),
        &made.token,
        Some(r#"{"database": "shop", "label": "before deploy 7"}"#),
    );
    assert_eq!(status, 202, "{started}");
    let job = started["job"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let (status, state) = curl("GET", &format!("{api}/v1/jobs/{job}"), &made.token, None);
        assert_eq!(status, 200, "{state}");
        if state["state"] != "running" {
            break state;
        }
        assert!(Instant::now() < deadline, "the job never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done["state"], "succeeded", "{done}");
    let timeline = app.timeline("shop".into()).await.unwrap();
    let entry = timeline
        .iter()
        .find(|e| Some(e.summary.id.as_str()) == done["snapshot"].as_str())
        .unwrap();
    assert_eq!(entry.requested_by.as_deref(), Some("deploy"));
    assert_eq!(entry.summary.label.as_deref(), Some("before deploy 7"));
    assert!(app.checkpoint_api().await.unwrap().tokens[0].last_used.is_some());

    let after = app.revoke_api_token("deploy".into()).await.unwrap();
    assert!(after.tokens.is_empty());
    let (status, _) = curl("GET", &format!("{api}/v1/jobs/{job}"), &made.token, None);
    assert_eq!(status, 401);

    let stopped = app.set_checkpoint_api(None).await.unwrap();
    assert_eq!((stopped.port, stopped.url), (None, None));
    let closed = Command::new("curl")
        .args(["-sS", "--max-time", "5", &format!("{api}/v1/jobs/x")])
        .output()
        .unwrap();
    assert!(!closed.status.success(), "the port is closed once the API is off");
}
