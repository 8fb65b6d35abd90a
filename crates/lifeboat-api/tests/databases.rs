//! The app's database flows against real, throwaway PostgreSQL clusters:
//! a saved connection (password in the real keychain when a Secret Service
//! runs, as in `scripts/test`), a checkpoint on the Timeline, verify, and
//! the restore wizard's preflight, refusal and typed-name confirmation.

use std::sync::{Arc, Mutex};

mod common;

use common::start_with_repository;
use lifeboat_api::*;
use lifeboat_core::connections::ServerScope;
use lifeboat_core::crypto::keychain::{KeyStore, OsKeychain};
use lifeboat_core::ops::SavedBackup;
use lifeboat_core::pg::TlsMode;
use lifeboat_testkit::PgCluster;

fn keychain() -> Option<Arc<dyn KeyStore>> {
    let present = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    if !present && std::env::var_os("LIFEBOAT_TEST_REQUIRE_KEYCHAIN").is_some() {
        panic!("LIFEBOAT_TEST_REQUIRE_KEYCHAIN is set but there is no D-Bus session bus with a Secret Service");
    }
    present.then(|| Arc::new(OsKeychain) as Arc<dyn KeyStore>)
}

fn fields(cluster: &PgCluster, database: &str, password: Option<&str>) -> ConnectionFields {
    ConnectionFields {
        host: "127.0.0.1".into(),
        port: cluster.port,
        database: database.into(),
        user: "postgres".into(),
        tls: TlsMode::Prefer,
        password: password.map(Into::into),
        saved_password_of: None,
        pg_bin: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpoint_timeline_verify_and_the_restore_wizard_on_real_servers() {
    let Some(_) = keychain() else {
        eprintln!("skipped: no D-Bus session bus (run through scripts/test for a real Secret Service)");
        return;
    };
    let source = PgCluster::start_with_password("shop-secret");
    source.psql("postgres", "CREATE DATABASE shop");
    source.psql(
        "shop",
        "CREATE TABLE orders (id serial PRIMARY KEY, item text); INSERT INTO orders (item) SELECT 'item ' || g FROM generate_series(1, 1234) g;",
    );
    let fresh = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let app = start_with_repository(dir.path(), keychain()).await;

    // A wrong password is a clear error; the right one goes to the keychain.
    let wrong = app.test_connection(fields(&source, "shop", Some("nope"))).await.unwrap_err();
    assert!(wrong.message.contains("password"), "{wrong:?}");
    let check = app.test_connection(fields(&source, "shop", Some("shop-secret"))).await.unwrap();
    assert!(check.database_exists && !check.database_empty);
    assert!(check.pg_dump.is_some(), "{check:?}");
    let saved = app
        .save_connection(SaveConnectionRequest {
            name: "shop".into(),
            fields: fields(&source, "shop", Some("shop-secret")),
            replace: false,
            server: None,
        })
        .await
        .unwrap();
    assert!(saved.password_in_keychain);
    let cards = app.databases().await.unwrap();
    assert_eq!((cards.len(), cards[0].last_backup.is_none()), (1, true));

    // Checkpoint, with progress.
    let phases = Arc::new(Mutex::new(Vec::<JobProgress>::new()));
    let seen = phases.clone();
    let made = app
        .backup(
            BackupRequest {
                connection: "shop".into(),
                checkpoint_label: Some("before the 16 upgrade".into()),
            },
            7,
            move |p| seen.lock().unwrap().push(p),
        )
        .await
        .unwrap();
    let SavedBackup::Database(report) = made else {
        panic!("a connection to one database makes one snapshot: {made:?}")
    };
    assert_eq!((report.tables, report.rows), (1, 1234));
    assert!(
        phases.lock().unwrap().iter().any(|p| !p.phase.is_empty()),
        "progress reports the phase"
    );
    let timeline = app.timeline("shop".into()).await.unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].summary.label.as_deref(), Some("before the 16 upgrade"));
    assert_eq!((timeline[0].rows, timeline[0].verified), (Some(1234), false));
    let card = &app.databases().await.unwrap()[0];
    assert_eq!(card.last_backup.as_ref().map(|s| s.id.as_str()), Some(report.snapshot_id.as_str()));

    // Save as file: the verified archive, whole; an existing file is kept unless replaced.
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("shop.dump");
    let export = |replace: bool| ExportRequest {
        snapshot_id: report.snapshot_id.clone(),
        path: file.display().to_string(),
        replace,
    };
    let saved = app.export_snapshot(export(false), 9, |_| {}).await.unwrap();
    assert_eq!((saved.size, saved.sha256.as_str()), (report.size, report.sha256.as_str()));
    assert_eq!(std::fs::metadata(&file).unwrap().len(), report.size);
    assert!(std::fs::read(&file).unwrap().starts_with(b"PGDMP"), "a pg_dump archive");
    let exists = app.export_snapshot(export(false), 10, |_| {}).await.unwrap_err();
    assert!(exists.message.contains("exists"), "{exists:?}");
    app.export_snapshot(export(true), 11, |_| {}).await.unwrap();

    app.verify_snapshot(report.snapshot_id.clone(), 8, |_| {}).await.unwrap();
    let detail = app.snapshot_detail(report.snapshot_id.clone()).await.unwrap();
    assert!(detail.verified);
    let facts = detail.postgres.expect("a PostgreSQL backup's facts");
    assert_eq!(facts.row_counts["public.orders"], 1234);
    assert!(
        facts.globals_sql.is_none() && facts.role_definitions.is_empty(),
        "only what is for reading"
    );

    // The wizard onto a fresh server: preflight, restore, rows there.
    let request = |confirm: Option<&str>| RestoreRequest {
        snapshot_id: report.snapshot_id.clone(),
        target: fields(&fresh, "shop_restored", None),
        confirm_database: confirm.map(Into::into),
        owner: None,
        no_owner: false,
        tables: vec![],
    };
    let preflight = app.restore_preflight(request(None)).await.unwrap();
    assert!(!preflight.database_exists && preflight.refusal.is_none(), "{preflight:?}");
    let restored = app.restore(request(None), 9, |_| {}).await.unwrap();
    assert!(restored.tables.iter().all(|t| t.expected == t.restored));
    assert_eq!(fresh.psql("shop_restored", "SELECT count(*) FROM orders"), "1234");

    // Now not empty: refused until its name is typed exactly.
    fresh.psql("shop_restored", "INSERT INTO orders (item) VALUES ('added after the restore')");
    let preflight = app.restore_preflight(request(None)).await.unwrap();
    assert!(preflight.refusal.is_some());
    let refused = app.restore(request(Some("shop_restore")), 10, |_| {}).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::RestoreRefused, "{refused:?}");
    assert_eq!(fresh.psql("shop_restored", "SELECT count(*) FROM orders"), "1235");
    let replaced = app.restore(request(Some("shop_restored")), 11, |_| {}).await.unwrap();
    assert!(replaced.previous_database_kept_as.is_some());
    assert_eq!(fresh.psql("shop_restored", "SELECT count(*) FROM orders"), "1234");

    // Removing the connection drops its keychain password; snapshots stay.
    app.remove_connection("shop".into()).await.unwrap();
    assert!(app.databases().await.unwrap().is_empty());
    assert_eq!(OsKeychain.load_password("shop").unwrap().map(|p| p.to_string()), None);
    assert_eq!(app.timeline("shop".into()).await.unwrap().len(), 1);

    // Deleting the one snapshot: gone from the Timeline, and no latest left.
    let deleted = app.delete_snapshot(report.snapshot_id.clone()).await.unwrap();
    assert_eq!(deleted.id, report.snapshot_id);
    assert!(app.timeline("shop".into()).await.unwrap().is_empty());
    assert!(app.delete_snapshot(report.snapshot_id.clone()).await.is_err(), "already gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_connection_lists_backs_up_and_shows_its_databases() {
    let server = PgCluster::start();
    for database in ["app", "staging", "metrics"] {
        server.psql("postgres", &format!("CREATE DATABASE {database}"));
        server.psql(database, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 10);");
    }
    let dir = tempfile::tempdir().unwrap();
    let app = start_with_repository(dir.path(), None).await;
    let scope = ServerScope {
        include: Vec::new(),
        exclude: vec!["stag*".into()],
    };

    let listed = app
        .discover_databases(DiscoverRequest {
            fields: fields(&server, "postgres", None),
            scope: scope.clone(),
        })
        .await
        .unwrap();
    assert_eq!(listed.backed_up, ["app", "metrics"]);
    assert!(listed.left_out.contains(&"staging".to_string()), "{listed:?}");
    let bad = app
        .discover_databases(DiscoverRequest {
            fields: fields(&server, "postgres", None),
            scope: ServerScope {
                include: vec!["[".into()],
                exclude: Vec::new(),
            },
        })
        .await
        .unwrap_err();
    assert!(bad.message.contains("pattern"), "{bad:?}");

    let saved = app
        .save_connection(SaveConnectionRequest {
            name: "prod".into(),
            fields: fields(&server, "postgres", None),
            replace: false,
            server: Some(scope.clone()),
        })
        .await
        .unwrap();
    assert_eq!(saved.server, Some(scope));
    let kind_change = app
        .save_connection(SaveConnectionRequest {
            name: "prod".into(),
            fields: fields(&server, "app", None),
            replace: true,
            server: None,
        })
        .await
        .unwrap_err();
    assert!(kind_change.message.contains("stays one"), "{kind_change:?}");

    // A database created after the connection was saved is picked up.
    server.psql("postgres", "CREATE DATABASE reports");
    let made = app
        .backup(
            BackupRequest {
                connection: "prod".into(),
                checkpoint_label: Some("before the upgrade".into()),
            },
            1,
            |_| {},
        )
        .await
        .unwrap();
    let SavedBackup::Server(report) = made else {
        panic!("a server connection backs up its databases: {made:?}")
    };
    let names: Vec<&str> = report.databases.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["prod/app", "prod/metrics", "prod/reports"]);
    assert!(
        report.failed.is_empty() && report.skipped.contains(&"staging".to_string()),
        "{report:?}"
    );

    let card = &app.databases().await.unwrap()[0];
    assert_eq!(card.databases, ["app", "metrics", "reports"]);
    assert_eq!(card.snapshot_count, 1);
    assert_eq!(card.last_backup.as_ref().map(|s| s.id.as_str()), Some(report.snapshot_id.as_str()));
    let app_timeline = app.timeline("prod/app".into()).await.unwrap();
    assert_eq!(app_timeline.len(), 1);
    assert_eq!(app_timeline[0].summary.label.as_deref(), Some("before the upgrade"));

    // The tray's "Checkpoint all" backs the server up as a server too.
    let all = app.checkpoint_all("before the migration").await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(all[0].error.is_none(), "{all:?}");
    assert_eq!(
        app.databases().await.unwrap()[0].last_backup.as_ref().map(|s| s.id.clone()),
        all[0].snapshot_id
    );
    assert_eq!(app.timeline("prod/metrics".into()).await.unwrap().len(), 2);

    // The wizard's whole-server restore: the group's databases, some of them
    // onto a fresh server; one already there with data is left alone.
    let group = all[0].snapshot_id.clone().unwrap();
    assert_eq!(
        app.snapshot_detail(group.clone()).await.unwrap().server_databases,
        ["app", "metrics", "reports"]
    );
    let fresh = PgCluster::start();
    fresh.psql("postgres", "CREATE DATABASE metrics");
    fresh.psql("metrics", "CREATE TABLE mine (id int); INSERT INTO mine VALUES (1);");
    let restored = app
        .restore_server(
            ServerRestoreRequest {
                snapshot_id: group,
                target: fields(&fresh, "postgres", None),
                databases: vec!["app".into(), "metrics".into()],
                owner: None,
                no_owner: false,
            },
            2,
            |_| {},
        )
        .await
        .unwrap();
    let names: Vec<&str> = restored.restored.iter().map(|r| r.database.as_str()).collect();
    assert_eq!(names, ["app"]);
    assert_eq!(restored.failed.len(), 1, "{restored:?}");
    assert_eq!(restored.failed[0].database, "metrics");
    assert_eq!(fresh.psql("app", "SELECT count(*) FROM t"), "10");
    assert_eq!(fresh.psql("metrics", "SELECT count(*) FROM mine"), "1", "data already there stays");
}
