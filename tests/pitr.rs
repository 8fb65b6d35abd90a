//! Point-in-time recovery in the real window: an archive of a real cluster
//! (a base backup, then its WAL pushed as the server's `archive_command`
//! would push it, through the engine), its recoverable window on the
//! Point-in-time screen, a moment picked on the timeline and typed to the
//! second, and the recovery restored onto a fresh server: exactly the rows
//! written before that moment, the table dropped after it still there.
//!
//! The app runs as root here, so its scratch cluster runs as an
//! unprivileged user (`pg::cluster`): that path is what this covers.

use std::sync::Arc;
use std::time::Duration;

use lifeboat_core::backend::LocalBackend;
use lifeboat_core::jobs::pitr::archive;
use lifeboat_core::jobs::pitr::base_backup::{self, BaseBackupOptions};
use lifeboat_core::pg::ConnectionSpec;
use lifeboat_core::progress::NoProgress;
use lifeboat_core::repo::manifest::SnapshotKind;
use lifeboat_e2e::*;
use lifeboat_testkit::{open_repository_in, PgCluster};

const PASSPHRASE: &str = "harbour pilot tugboat rope";
const ARCHIVE: &str = "shop-server";

/// Ends the current WAL segment and pushes every completed one still in
/// `pg_wal` into the archive (one pushed before is accepted again).
fn push_completed_wal(cluster: &PgCluster, repo: &lifeboat_core::repo::Repository) -> usize {
    // The switch returns the end of the segment it completed (or, with
    // nothing to switch, the end of the last one): the file it names is
    // complete. (The name of the current LSN, on that boundary, is it too.)
    let completed = cluster.psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())");
    let wal = cluster.data_dir().join("pg_wal");
    let mut segments: Vec<String> = std::fs::read_dir(&wal)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.len() == 24 && name.chars().all(|c| c.is_ascii_hexdigit()) && *name <= completed)
        .collect();
    segments.sort();
    for segment in &segments {
        archive::push_file(repo, ARCHIVE, &wal.join(segment), Duration::from_secs(5), &NoProgress).unwrap();
    }
    segments.len()
}

/// Whether a process runs with its working folder (a postmaster's is its
/// data directory) under `folder`.
fn server_running_in(folder: &std::path::Path) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .any(|p| std::fs::read_link(p.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(folder)))
}

#[tokio::test(flavor = "multi_thread")]
async fn pick_a_moment_on_the_timeline_and_recover_it_onto_a_fresh_server() {
    if !can_run() {
        return;
    }
    let source = PgCluster::start();
    source.psql("postgres", "CREATE DATABASE shop");
    source.psql(
        "shop",
        "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL);
         INSERT INTO orders (item) SELECT 'order ' || g FROM generate_series(1, 100) g;",
    );
    let fresh = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let app = AppSession::start(&dir.path().join("workstation")).await;
    let location = dir.path().join("nas/lifeboat");
    app.create_repository(&location, PASSPHRASE).await;

    // The archive, into the repository the app made.
    let repo = Arc::new(open_repository_in(Arc::new(LocalBackend::new(&location)), PASSPHRASE));
    let options = BaseBackupOptions {
        name: ARCHIVE.into(),
        kind: SnapshotKind::Manual,
        label: None,
        connection: None,
        pg_bin: None,
        lock_wait: Duration::from_secs(5),
    };
    let spec = ConnectionSpec::parse_url(&source.url("postgres")).unwrap();
    base_backup::base_backup(repo.clone(), &spec, &options, Arc::new(NoProgress))
        .await
        .unwrap();
    // As a server's archiver does: each segment as it completes (a later
    // checkpoint may recycle it).
    push_completed_wal(&source, &repo);
    source.psql(
        "shop",
        "INSERT INTO orders (item) SELECT 'later ' || g FROM generate_series(1, 50) g",
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // The moment, to the second: every row above committed before it.
    let moment = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    source.psql("shop", "INSERT INTO orders (item) VALUES ('too late'); DROP TABLE orders");
    assert!(push_completed_wal(&source, &repo) > 0);

    // The window, and a moment picked on the timeline.
    app.click("#nav-pitr").await;
    app.wait_text("#pitr-windows", "base backup").await;
    app.choose("#pitr-archive", ARCHIVE).await;
    let start = app.wait_text("#pitr-span", "From").await;
    assert!(start.contains("1 window"), "{start}");
    app.paste("#pitr-slider", "0").await;
    let picked = app.wait("#pitr-time").await.prop("value").await.unwrap().unwrap_or_default();
    assert!(!picked.is_empty(), "the slider sets the moment");
    app.shot("pitr-01-window").await;
    let local = moment.with_timezone(&chrono::Local).format("%Y-%m-%dT%H:%M:%S").to_string();
    app.paste("#pitr-time", &local).await;
    assert!(!app.is_present("#pitr-moment-problem").await, "{local} is inside the window");

    // Onto the fresh server.
    app.fill("#pitr-host", "127.0.0.1").await;
    app.fill("#pitr-port", &fresh.port.to_string()).await;
    app.fill("#pitr-user", "postgres").await;
    app.fill("#pitr-target-db", "postgres").await;
    app.shot("pitr-02-moment-and-target").await;
    app.click_when_enabled("#pitr-start").await;
    // The outcome, or the error (its text in the failure message).
    app.wait_text_for("#pitr-outcome, #pitr-error", "1 database restored", Duration::from_secs(180))
        .await;
    app.shot("pitr-03-recovered").await;
    assert_eq!(fresh.psql("shop", "SELECT count(*) FROM orders"), "150");
    assert_eq!(fresh.psql("shop", "SELECT count(*) FROM orders WHERE item = 'too late'"), "0");
    let checkpoint = app.wait("#pitr-checkpoint").await.text().await.unwrap();
    assert_eq!(checkpoint.len(), 8, "the recovered state is kept as a checkpoint: {checkpoint}");
    let scratch = std::path::Path::new("/var/tmp/lifeboat-scratch").join(ARCHIVE);
    assert!(
        lifeboat_testkit::files_under(&scratch).is_empty(),
        "the scratch cluster is gone: {:?}",
        lifeboat_testkit::files_under(&scratch)
    );
    assert!(!server_running_in(&scratch), "no server of the scratch cluster is left running");
    app.quit().await;
}

/// The Point-in-time screen's count of WAL files archived for the selected
/// archive, as shown; `None` while there is no archive (or it loads).
async fn archived_wal_files(app: &AppSession) -> Option<u64> {
    if !app.is_present("#pitr-wal-files").await {
        return None;
    }
    let text = app.wait("#pitr-wal-files").await.text().await.unwrap();
    text.trim().replace(',', "").parse().ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn enabling_point_in_time_recovery_on_the_schedules_screen_streams_the_servers_wal() {
    if !can_run() {
        return;
    }
    let source = PgCluster::start();
    source.psql("postgres", "CREATE TABLE ticks (at timestamptz DEFAULT now())");
    let dir = tempfile::tempdir().unwrap();
    let app = AppSession::start(&dir.path().join("workstation")).await;
    app.create_repository(&dir.path().join("nas/lifeboat"), PASSPHRASE).await;

    app.save_connection("shop", &source.url("postgres")).await;

    // Base backups nightly and the WAL streamed: no dump schedule needed.
    app.click("#nav-schedules").await;
    app.choose("#schedule-database", "shop").await;
    app.click("#schedule-wal-stream").await;
    app.wait_text("#wal-stream-without-base", "WAL alone recovers nothing").await;
    app.choose("#base-backup-preset", "daily").await;
    assert!(!app.is_present("#wal-stream-without-base").await);
    app.shot("pitr-04-schedule").await;
    app.click("#schedule-save").await;
    app.wait_text("#schedule-saved", "Saved").await;
    app.wait_text("#base-backup-status", "Next base backup").await;

    // The app's scheduler starts the stream over a replication slot; each
    // segment the server completes reaches the repository.
    app.click("#nav-pitr").await;
    let mut archived = None;
    for _ in 0..90 {
        source.psql("postgres", "INSERT INTO ticks DEFAULT VALUES; SELECT pg_switch_wal()");
        archived = archived_wal_files(&app).await.filter(|n| *n > 0);
        if archived.is_some() {
            break;
        }
        app.click_when_enabled("#pitr-refresh").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    if archived.is_none() {
        app.shot("pitr-05-not-streamed").await;
        let screen = app.wait("#pitr").await.text().await.unwrap_or_default();
        panic!("no WAL streamed into the repository within three minutes; the screen says: {screen}");
    }
    let slots = source.psql(
        "postgres",
        "SELECT string_agg(slot_name, ',') FROM pg_replication_slots WHERE active",
    );
    assert!(slots.contains("shop"), "the stream holds its slot: {slots}");
    app.shot("pitr-05-streamed").await;
    app.quit().await;
}
