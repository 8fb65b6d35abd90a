//! The database flows in the real window, against real throwaway clusters:
//! add a connection (its password to the real keychain), take a Checkpoint
//! with a label and find it on the Timeline, restore it with the wizard onto
//! a second, fresh cluster, and see a non-empty target refused until its
//! name is typed out; bring one damaged table back beside itself; add a
//! whole server, take a Checkpoint of it and restore it onto a fresh one;
//! a failing restore leaves its password in no file.

use lifeboat_e2e::*;
use lifeboat_testkit::PgCluster;

const PASSPHRASE: &str = "harbour pilot tugboat rope";
const LABEL: &str = "before the 16 upgrade";

#[tokio::test(flavor = "multi_thread")]
async fn connection_checkpoint_timeline_and_restore_wizard_in_the_window() {
    if !can_run() {
        return;
    }
    let source = PgCluster::start_with_password("e2e-shop-pw");
    source.psql("postgres", "CREATE DATABASE shop");
    source.psql(
        "shop",
        "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL);
         INSERT INTO orders (item) SELECT 'order ' || g FROM generate_series(1, 321) g;",
    );
    let fresh = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let app = AppSession::start(&dir.path().join("workstation")).await;
    app.create_repository(&dir.path().join("nas/lifeboat"), PASSPHRASE).await;

    // 1. Add the connection: the URL fills the fields; the test names the server and the pg_dump to use.
    app.click("#nav-connections").await;
    app.fill("#conn-name", "shop").await;
    app.fill("#conn-url", &source.url("shop")).await;
    app.wait("#conn-host").await;
    app.fill("#conn-password", "e2e-shop-pw").await;
    app.click("#conn-test").await;
    app.wait_text("#conn-check", &format!("PostgreSQL {}", source.major)).await;
    app.wait_text("#conn-check", "pg_dump").await;
    app.shot("db-01-connection-tested").await;
    app.click("#conn-save").await;
    app.wait_text("#connections-list .connection-row[data-name='shop']", "keychain")
        .await;
    app.shot("db-02-connection-saved").await;

    // 2. A Checkpoint with a label, from the Overview's card.
    app.click("#nav-overview").await;
    let card = ".database-card[data-name='shop']";
    app.wait_text(card, "never").await;
    app.click(&format!("{card} .checkpoint-button")).await;
    app.fill("#checkpoint-label", LABEL).await;
    app.click("#checkpoint-ok").await;
    app.wait_text("#checkpoint-result", "Checkpoint").await;
    app.wait_text(card, LABEL).await;
    app.shot("db-03-checkpoint-taken").await;

    // 3. It is on the Timeline, flagged with its label.
    app.click(&format!("{card} .timeline-button")).await;
    app.wait_text("#timeline-list", LABEL).await;
    app.wait_text("#timeline-chart .checkpoint-flag", LABEL).await;
    app.shot("db-04-timeline").await;

    // 4. The wizard onto the fresh cluster: the rows are there.
    app.restore_source_and_target("shop", LABEL, &fresh, None).await;
    app.shot("db-05-restore-preflight").await;
    let rows = app.verify_and_restore().await;
    assert!(rows.contains("321"), "{rows}");
    assert_eq!(fresh.psql("shop", "SELECT count(*) FROM orders"), "321");
    app.shot("db-06-restored").await;

    // 5. Now the target has data of its own: refused until its name is typed exactly.
    fresh.psql("shop", "INSERT INTO orders (item) VALUES ('written after the restore')");
    app.click("#restore-again").await;
    app.restore_source_and_target("shop", LABEL, &fresh, None).await;
    app.wait("#restore-confirm-name").await;
    assert!(
        !app.is_enabled("#restore-next-target").await,
        "a non-empty target needs its name typed"
    );
    app.fill("#restore-confirm-name", "sho").await;
    assert!(
        !app.is_enabled("#restore-next-target").await,
        "a partial name is not a confirmation"
    );
    app.shot("db-07-non-empty-refused").await;
    app.fill("#restore-confirm-name", "shop").await;
    app.verify_and_restore().await;
    assert_eq!(fresh.psql("shop", "SELECT count(*) FROM orders"), "321");
    let kept = fresh.psql(
        "postgres",
        "SELECT count(*) FROM pg_database WHERE datname LIKE 'shop_before_lifeboat_%'",
    );
    assert_eq!(kept, "1", "the replaced database is kept, renamed");

    // 6. A bad UPDATE on the target: the one table comes back beside its
    // damaged copy, ticked in the wizard; nothing else there changes.
    fresh.psql("shop", "UPDATE orders SET item = 'oops'");
    app.click("#restore-again").await;
    app.restore_source("shop", LABEL).await;
    app.restore_target(&fresh, "shop", None).await;
    app.click("#restore-tables input[data-table='public.orders']").await;
    app.click("#restore-check").await;
    app.wait_text("#restore-preflight", "beside the originals").await;
    app.shot("db-08-one-table-beside").await;
    app.verify_and_restore().await;
    let placed = app.wait_text(".restore-placed-beside", "orders_restored_").await;
    let restored_table = placed.trim().strip_prefix("public.").unwrap().to_string();
    assert_eq!(
        fresh.psql(
            "shop",
            &format!("SELECT count(*) FROM public.\"{restored_table}\" WHERE item <> 'oops'")
        ),
        "321"
    );
    assert_eq!(
        fresh.psql("shop", "SELECT DISTINCT item FROM orders"),
        "oops",
        "the damaged table is untouched"
    );
    app.shot("db-09-one-table-restored").await;

    // 7. The whole server: the test lists what it would back up (a pattern
    // leaves one out), "Checkpoint server" on its card backs up each
    // database, and each has its own Timeline.
    source.psql("postgres", "CREATE DATABASE shop_staging");
    app.click("#nav-connections").await;
    app.click("#conn-kind-server").await;
    app.fill("#conn-name", "main").await;
    app.fill("#conn-url", &format!("postgres://postgres@127.0.0.1:{}", source.port))
        .await;
    app.fill("#conn-password", "e2e-shop-pw").await;
    app.fill("#conn-exclude", "*_staging").await;
    app.click("#conn-test").await;
    app.wait_text("#conn-discovered", "Backed up: shop").await;
    app.wait_text("#conn-discovered", "shop_staging").await;
    app.click_when_enabled("#conn-save").await;
    app.wait_text(
        "#connections-list .connection-row[data-name='main']",
        "whole server, except *_staging",
    )
    .await;
    app.click("#nav-overview").await;
    let server_card = ".database-card[data-name='main']";
    app.wait_text(server_card, "Whole server").await;
    app.click(&format!("{server_card} .checkpoint-button")).await;
    app.fill("#checkpoint-label", "before the server move").await;
    app.click("#checkpoint-ok").await;
    app.wait_text("#checkpoint-result", "Checkpoint of server main").await;
    app.wait_text(server_card, "Whole server: shop").await;
    app.shot("db-10-server-checkpoint").await;
    app.click(&format!("{server_card} .timeline-button")).await;
    app.choose("#timeline-database", "main/shop").await;
    app.wait_text("#timeline-list", "before the server move").await;

    // The whole server back onto a fresh one from the wizard: its
    // databases offered, restored without a preflight, each one reported.
    let server_target = PgCluster::start();
    app.click("#nav-restore").await;
    app.click("#restore-again").await;
    app.restore_source("main", "before the server move").await;
    app.wait("#restore-databases input[data-database='shop']").await;
    app.restore_target(&server_target, "postgres", None).await;
    app.click("#restore-next-target").await;
    app.click("#restore-start").await;
    app.wait_text("#restore-server-outcome", "1 database restored").await;
    assert_eq!(server_target.psql("shop", "SELECT count(*) FROM orders"), "321");
    app.shot("db-11-server-restored").await;

    // 8. A restore that fails with the target's password typed in: the
    // password reaches no file (log, catalog, events, repository).
    let guarded = PgCluster::start_with_password("hunter2");
    guarded.psql("postgres", "CREATE DATABASE shop");
    guarded.psql("shop", "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)");
    let mut session = guarded
        .psql_command("shop", "SELECT pg_sleep(600)")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sleeping = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()";
    while guarded.psql("postgres", sleeping) != "1" {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.click("#nav-restore").await;
    app.click("#restore-again").await;
    app.restore_source_and_target("shop", LABEL, &guarded, Some("hunter2")).await;
    app.fill("#restore-confirm-name", "shop").await;
    app.click_when_enabled("#restore-next-target").await;
    app.click("#restore-verify").await;
    app.click_when_enabled("#restore-next-verify").await;
    app.click("#restore-start").await;
    app.wait_text("#restore-error", "in use").await;
    app.shot("db-12-restore-failed").await;
    session.kill().unwrap();
    session.wait().unwrap();
    guarded.psql("postgres", &sleeping.replace("count(*)", "pg_terminate_backend(pid)"));
    app.quit().await;
    assert_eq!(guarded.psql("shop", "SELECT count(*) FROM kept"), "1");

    let workstation = dir.path().join("workstation");
    let log = workstation.join("logs/lifeboat.log");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("restore_snapshot"), "the failed restore is logged: {logged}");
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&log), 0o600);
    assert_eq!(mode(&workstation.join("logs")), 0o700);
    let files = lifeboat_testkit::files_under(dir.path());
    assert!(files.iter().any(|f| f.ends_with("catalog.sqlite")), "{files:?}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(7).any(|w| w == b"hunter2"),
            "the target's password is in {}",
            file.display()
        );
    }
}
