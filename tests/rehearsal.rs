//! An upgrade rehearsal in the real window: a Checkpoint "before 15 -> 18"
//! on the Overview, its Rehearse button, the rehearsal onto a scratch
//! PostgreSQL 18 cluster of this workstation (the version matrix's 18 on
//! the app's PATH), and the report: checks, extensions on both sides, the
//! restore's time. Nothing of the scratch cluster is left.

use std::time::Duration;

use lifeboat_e2e::*;
use lifeboat_testkit::{files_under, matrix_bin_dir, PgCluster};

const PASSPHRASE: &str = "harbour pilot tugboat rope";
const NEWER: u32 = 18;

#[tokio::test(flavor = "multi_thread")]
async fn a_checkpoint_before_an_upgrade_is_rehearsed_onto_the_new_major() {
    if !can_run() {
        return;
    }
    let newer = matrix_bin_dir(NEWER).unwrap_or_else(|| {
        panic!("no PostgreSQL {NEWER} server: run scripts/postgres-majors (scripts/test does) and export LIFEBOAT_TEST_PG_MAJORS")
    });
    let source = PgCluster::start();
    source.psql("postgres", "CREATE DATABASE shop");
    source.psql(
        "shop",
        "CREATE EXTENSION citext;
         CREATE TABLE customers (id serial PRIMARY KEY, email citext NOT NULL);
         INSERT INTO customers (email) SELECT 'c' || g || '@example.com' FROM generate_series(1, 250) g;",
    );
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("scratch");
    let path = format!("{}:{}", newer.display(), std::env::var("PATH").unwrap_or_default());
    let app = AppSession::start_with_env(
        &dir.path().join("workstation"),
        &[("PATH", path), ("LIFEBOAT_SCRATCH_DIR", scratch.display().to_string())],
    )
    .await;
    app.create_repository(&dir.path().join("nas/lifeboat"), PASSPHRASE).await;

    app.save_connection("shop", &source.url("shop")).await;

    // The Checkpoint, labelled as an upgrade: the card offers its rehearsal.
    app.click("#nav-overview").await;
    let card = ".database-card[data-name='shop']";
    app.wait_text(card, "never").await;
    app.click(&format!("{card} .checkpoint-button")).await;
    app.fill("#checkpoint-label", "before 15 -> 18").await;
    app.click("#checkpoint-ok").await;
    app.wait_text("#checkpoint-result", "Checkpoint").await;
    app.shot("rehearsal-01-checkpoint").await;
    app.click("#checkpoint-rehearse").await;

    // The snapshot's detail, 18 chosen from the label.
    app.wait("#rehearsal").await;
    let chosen = app.wait("#rehearsal-major").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(chosen, NEWER.to_string(), "the label's target major is offered first");
    // Enabled once the installs are listed and 18 is among them.
    app.click_when_enabled("#rehearsal-start").await;
    let headline = app
        .wait_text_for(
            "#rehearsal-headline, #rehearsal-error",
            &format!("Rehearsal onto PostgreSQL {NEWER} passed"),
            Duration::from_secs(240),
        )
        .await;
    assert!(headline.contains("passed"), "{headline}");
    app.wait_text("#rehearsal-result", "row counts").await;
    app.wait_text("#rehearsal-extensions", "citext").await;
    app.wait_text("#rehearsal-timing", "The restore took").await;
    app.shot("rehearsal-02-report").await;
    assert!(
        files_under(&scratch).is_empty(),
        "the scratch cluster is gone: {:?}",
        files_under(&scratch)
    );

    // The Drills screen's history marks it.
    app.click("#nav-drills").await;
    app.choose("#drill-database", "shop").await;
    app.wait_text("#drill-history", &format!("Rehearsal onto {NEWER}")).await;
    app.shot("rehearsal-03-drill-history").await;
    app.quit().await;
}
