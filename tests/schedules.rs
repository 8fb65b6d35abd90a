//! Schedules and drills in the real window, against a real throwaway
//! cluster: a schedule with a retention policy whose preview names exactly
//! the snapshots it would remove, then a drill run from the Drills screen
//! that passes, shows in the history and badges the Timeline.

use lifeboat_e2e::*;
use lifeboat_testkit::{put_random_stream, snapshot_ids, PgCluster};

const PASSPHRASE: &str = "harbour pilot tugboat rope";

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_with_retention_preview_and_a_drill_from_the_drills_screen() {
    if !can_run() {
        return;
    }
    let cluster = PgCluster::start();
    cluster.psql("postgres", "CREATE DATABASE shop");
    cluster.psql(
        "shop",
        "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);
         INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, 57) g;",
    );
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("nas/lifeboat");
    let app = AppSession::start(&dir.path().join("workstation")).await;
    app.create_repository(&location, PASSPHRASE).await;

    app.click("#nav-connections").await;
    app.fill("#conn-name", "shop").await;
    app.fill("#conn-url", &cluster.url("shop")).await;
    app.wait("#conn-host").await;
    app.click("#conn-test").await;
    app.wait_text("#conn-check", "pg_dump").await;
    app.click("#conn-save").await;
    app.wait("#connections-list .connection-row[data-name='shop']").await;

    // Two older plain snapshots of shop, then a checkpoint from the Overview.
    put_random_stream(&location, PASSPHRASE, "shop", 64 << 10);
    put_random_stream(&location, PASSPHRASE, "shop", 64 << 10);
    app.click("#nav-overview").await;
    let card = ".database-card[data-name='shop']";
    app.click(&format!("{card} .checkpoint-button")).await;
    app.fill("#checkpoint-label", "before the upgrade").await;
    app.click("#checkpoint-ok").await;
    app.wait_text("#checkpoint-result", "Checkpoint").await;
    app.wait(&format!("{card}[data-freshness='unscheduled']")).await;
    let ids = snapshot_ids(&location, PASSPHRASE, "shop"); // newest first: checkpoint, plain 2, plain 1
    assert_eq!(ids.len(), 3);

    // 1. Hourly backups, keep the last one: the preview names the oldest plain snapshot only.
    app.click("#nav-schedules").await;
    app.choose("#schedule-database", "shop").await;
    app.choose("#schedule-preset", "hourly").await;
    app.fill("#keep-last", "1").await;
    app.wait_count("#retention-preview .preview-row", 3).await;
    app.wait(&format!("#retention-preview .preview-row[data-id='{}'][data-keep='true']", ids[0]))
        .await;
    app.wait(&format!("#retention-preview .preview-row[data-id='{}'][data-keep='true']", ids[1]))
        .await;
    app.wait(&format!("#retention-preview .preview-row[data-id='{}'][data-keep='false']", ids[2]))
        .await;
    app.wait_text("#retention-summary", "1 would be removed").await;
    app.shot("sched-01-retention-preview").await;
    app.click("#schedule-save").await;
    app.wait_text("#schedule-saved", "Saved").await;
    app.shot("sched-02-schedule-saved").await;

    // 2. A drill from the Drills screen onto the same server, with a probe: it passes and shows in the history.
    app.click("#nav-drills").await;
    app.choose("#drill-database", "shop").await;
    app.fill("#drill-server", "shop").await;
    app.click("#probe-add").await;
    app.fill(".probe-row .probe-name", "users exist").await;
    app.fill(".probe-row .probe-sql", "select count(*) from users").await;
    app.fill(".probe-row .probe-expect", "= 57").await;
    app.click_when_enabled("#drill-run").await;
    app.wait("#drill-result[data-passed='true']").await;
    app.wait_text("#drill-result", "probe: users exist").await;
    app.wait(".drill-history-row[data-passed='true']").await;
    app.shot("sched-03-drill-passed").await;
    assert_eq!(
        cluster.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat_drill%'"),
        "0",
        "the scratch database is gone"
    );

    // 3. The Overview card is green against its schedule; the Timeline shows the drilled badge.
    app.click("#nav-overview").await;
    app.wait(&format!("{card}[data-freshness='green']")).await;
    app.wait_text(card, "Drill passed").await;
    app.click(&format!("{card} .timeline-button")).await;
    app.wait("#timeline-list .drilled-badge").await;
    app.shot("sched-04-overview-and-timeline").await;
    app.quit().await;
}
