//! Alerts in the real window: a chat webhook set up in the Schedules screen
//! receives its test and a failed checkpoint's alert at a real HTTP receiver
//! on 127.0.0.1. Its own binary: the suites' windows run one at a time.

use lifeboat_e2e::*;
use lifeboat_testkit::PgCluster;

const PASSPHRASE: &str = "harbour pilot tugboat rope";

/// A chat webhook set up in the Schedules screen: its test message and a
/// failed checkpoint's alert reach a real HTTP receiver on 127.0.0.1, and
/// the channel shows its last delivery.
#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_receives_the_test_and_the_failed_backup_and_the_app_shows_the_delivery() {
    if !can_run() {
        return;
    }
    let cluster = PgCluster::start();
    cluster.psql("postgres", "CREATE DATABASE shop");
    let receiver = lifeboat_testkit::http::Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let app = AppSession::start(&dir.path().join("workstation")).await;
    app.create_repository(&dir.path().join("nas/lifeboat"), PASSPHRASE).await;

    app.save_connection("shop", &cluster.url("shop")).await;

    app.click("#nav-schedules").await;
    app.fill("#channel-name", "team-chat").await;
    app.fill("#channel-webhook", &format!("{}/hooks/team-secret", receiver.url)).await;
    app.choose("#channel-format", "generic").await;
    app.click("#channel-save").await;
    app.wait_text("#channel-team-chat", "generic webhook http://127.0.0.1/…").await;
    app.click("#channel-team-chat-test").await;
    app.wait_text("#channel-team-chat-tested", "Test message sent").await;
    assert_eq!(receiver.requests()[0].json()["title"], "Lifeboat test message");

    cluster.psql("postgres", "DROP DATABASE shop");
    app.click("#nav-overview").await;
    let card = ".database-card[data-name='shop']";
    app.click(&format!("{card} .checkpoint-button")).await;
    app.fill("#checkpoint-label", "before the upgrade").await;
    app.click("#checkpoint-ok").await;
    app.wait_text("#checkpoint-error", "does not exist").await;

    let alert = receiver.requests().last().unwrap().json();
    assert_eq!(alert["title"], "Backup of shop FAILED");
    assert_eq!(alert["event"]["kind"], "backup_failed");
    app.click("#nav-schedules").await;
    app.wait_text("#channel-team-chat-last", "Backup of shop FAILED").await;
    let shown = app.wait_text("#channel-team-chat-last", "Last sent").await;
    assert!(!shown.contains("team-secret"), "{shown}");
    app.quit().await;
}
