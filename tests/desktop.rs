//! The real Lifeboat window under Xvfb, driven through tauri-driver +
//! WebKitWebDriver, with the real OS keychain (gnome-keyring in the test's
//! D-Bus session). `scripts/test` provides all of that; a screenshot of each
//! step lands in the artifacts folder (`target/e2e-artifacts/` by default).
//!
//! One scenario, in the order a team lives it: the first workstation creates
//! the repository; the app restarts and reopens it from the keychain; a fresh
//! workstation (a second app data folder) opens it with the passphrase after
//! a wrong one; a check with progress says healthy; a key is added and
//! removed; the activity lists all of it.

use lifeboat_e2e::*;
use lifeboat_testkit::{put_random_stream, put_random_stream_into};

const PASSPHRASE: &str = "sea shanty lighthouse anchor";

#[tokio::test(flavor = "multi_thread")]
async fn a_team_creates_reopens_shares_checks_and_manages_keys_in_the_window() {
    let Some(_turn) = window_turn().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("nas/lifeboat");
    let first_workstation = dir.path().join("first-workstation");
    let fresh_workstation = dir.path().join("fresh-workstation");

    // 1. First run: create a repository with a passphrase.
    let app = AppSession::start(&first_workstation).await;
    app.wait("#first-run").await;
    app.shot("01-first-run").await;
    app.fill("#create-location", &location.display().to_string()).await;
    app.fill("#create-label", "Team databases").await;
    app.fill("#create-passphrase", PASSPHRASE).await;
    app.fill("#create-passphrase-confirm", PASSPHRASE).await;
    app.click("#create-submit").await;
    app.wait_text("#current-repo", "Team databases").await;
    app.wait("#overview-empty").await;
    assert!(location.join("config").exists(), "the repository is on disk");
    app.shot("02-created").await;
    app.quit().await;

    // 2. Restart: reopened from the keychain, nothing asked.
    let app = AppSession::start(&first_workstation).await;
    app.wait_text("#current-repo", "Team databases").await;
    assert!(!app.is_present("#first-run").await, "no passphrase asked after a restart");
    app.click("#nav-repository").await;
    app.wait_text("#keychain-status", "cached in the OS keychain").await;
    app.shot("03-reopened-from-keychain").await;
    app.quit().await;

    // 3. A fresh workstation: wrong passphrase first, then the right one.
    put_random_stream(&location, PASSPHRASE, "app-db", 160 << 20);
    let app = AppSession::start(&fresh_workstation).await;
    app.wait("#first-run").await;
    app.click("#tab-open").await;
    app.fill("#open-location", &location.display().to_string()).await;
    app.fill("#open-passphrase", "not the passphrase").await;
    app.click("#open-submit").await;
    let error = app.wait_text("#form-error", "no key slot of this repository opens with it").await;
    assert!(error.to_lowercase().contains("passphrase"), "{error}");
    app.shot("04-wrong-passphrase").await;
    app.fill("#open-passphrase", PASSPHRASE).await;
    app.click("#open-submit").await;
    app.wait_text("#current-repo", "nas/lifeboat").await;
    app.wait(".tag-card").await;
    app.shot("05-opened-on-fresh-workstation").await;

    // 4. Check every byte, with progress, healthy.
    app.click("#nav-repository").await;
    app.wait_text("#repo-snapshots", "1").await;
    app.click("#check-read-data").await;
    app.click("#check-start").await;
    app.show("#check-progress").await;
    app.shot("06-check-in-progress").await;
    let result = app.wait_text("#check-result", "Healthy").await;
    assert!(result.contains("1 snapshot"), "{result}");
    app.show("#check-result").await;
    app.shot("07-check-healthy").await;

    // 5. Add a key for a colleague, then remove it.
    app.wait_count("#key-slots tr[data-key-id]", 1).await;
    app.fill("#key-add-label", "bob's laptop").await;
    app.fill("#key-add-passphrase", "bob has his own words").await;
    app.fill("#key-add-passphrase-confirm", "bob has his own words").await;
    app.click("#key-add-submit").await;
    let rows = app.wait_count("#key-slots tr[data-key-id]", 2).await;
    let mut bob = None;
    for row in rows {
        if row.text().await.unwrap().contains("bob's laptop") {
            bob = Some(row);
        }
    }
    let bob = bob.expect("the new key is listed");
    app.show("#key-slots").await;
    app.shot("08-key-added").await;
    bob.find(By::Css(".key-remove")).await.unwrap().click().await.unwrap();
    app.wait("#confirm-remove-key").await;
    app.click("#confirm-remove-key-ok").await;
    let rows = app.wait_count("#key-slots tr[data-key-id]", 1).await;
    assert!(!rows[0].text().await.unwrap().contains("bob's laptop"));
    app.shot("09-key-removed").await;

    // 6. Everything is in the activity.
    app.click("#nav-activity").await;
    app.wait(".activity-row[data-kind='check'][data-status='succeeded']").await;
    app.wait(".activity-row[data-kind='key_add'][data-status='succeeded']").await;
    app.wait(".activity-row[data-kind='key_remove'][data-status='succeeded']").await;
    app.wait(".activity-row[data-kind='open'][data-status='failed']").await;
    app.shot("10-activity").await;
    app.quit().await;
}

/// A repository in an S3 bucket (a real S3 server, moto, on 127.0.0.1),
/// from the first run's forms: the location and access key typed once, the
/// key kept in the OS keychain; a restart reopens it; a fresh workstation
/// opens it with the passphrase and sees what a backup put there; a check of
/// every byte says healthy.
#[tokio::test(flavor = "multi_thread")]
async fn a_team_keeps_its_repository_in_an_s3_bucket_from_the_window() {
    use lifeboat_core::backend::Location;
    use lifeboat_core::crypto::keychain::StorageCredentials;
    use lifeboat_testkit::s3::{S3Server, ACCESS_KEY_ID, SECRET_ACCESS_KEY};
    let Some(_turn) = window_turn().await else {
        return;
    };
    let server = S3Server::start("team-backups");
    let location = format!(
        "s3://team-backups/lifeboat?endpoint={}&region=us-east-1&path-style=true",
        server.endpoint()
    );
    let dir = tempfile::tempdir().unwrap();

    let app = AppSession::start(&dir.path().join("first-workstation")).await;
    app.wait("#first-run").await;
    app.fill("#create-location", &location).await;
    app.fill("#create-access-key-id", ACCESS_KEY_ID).await;
    app.fill("#create-access-key-secret", SECRET_ACCESS_KEY).await;
    app.fill("#create-label", "Team bucket").await;
    app.fill("#create-passphrase", PASSPHRASE).await;
    app.fill("#create-passphrase-confirm", PASSPHRASE).await;
    app.shot("s3-01-create").await;
    app.click("#create-submit").await;
    app.wait_text("#current-repo", "Team bucket").await;
    assert!(
        !server.list_keys("team-backups", "lifeboat/config").is_empty(),
        "the repository is in the bucket"
    );
    app.quit().await;

    let app = AppSession::start(&dir.path().join("first-workstation")).await;
    app.wait_text("#current-repo", "Team bucket").await;
    assert!(
        !app.is_present("#first-run").await,
        "reopened with the keychain's keys, nothing asked"
    );
    app.quit().await;

    let credentials = StorageCredentials {
        access_key_id: ACCESS_KEY_ID.into(),
        secret_access_key: SECRET_ACCESS_KEY.into(),
    };
    let backend = Location::parse(&location).unwrap().open_with(Some(credentials)).unwrap();
    put_random_stream_into(backend, PASSPHRASE, "app-db", 24 << 20);

    let app = AppSession::start(&dir.path().join("fresh-workstation")).await;
    app.wait("#first-run").await;
    app.click("#tab-open").await;
    app.fill("#open-location", &location).await;
    app.fill("#open-passphrase", PASSPHRASE).await;
    app.click("#open-submit").await;
    app.wait(".tag-card").await;
    app.shot("s3-02-opened-on-fresh-workstation").await;
    app.click("#nav-repository").await;
    app.click("#check-read-data").await;
    app.click("#check-start").await;
    let result = app.wait_text("#check-result", "Healthy").await;
    assert!(result.contains("1 snapshot"), "{result}");
    app.shot("s3-03-check-healthy").await;
    app.quit().await;
}

/// A repository on an SFTP server (a real sshd on 127.0.0.1, reached through
/// the real ssh): see [`checkpoint_then_restore_elsewhere_with_the_kit`].
#[tokio::test(flavor = "multi_thread")]
async fn a_team_keeps_its_repository_on_an_sftp_server_and_restores_from_it_with_the_kit() {
    use lifeboat_testkit::sftp::SftpServer;
    let Some(_turn) = window_turn().await else {
        return;
    };
    let server = SftpServer::start();
    let location = server.location("lifeboat");
    checkpoint_then_restore_elsewhere_with_the_kit("sftp", &location, &server.env(), None).await;
    assert!(server.files().join("lifeboat/config").exists(), "the repository is on the server");
}

/// The same in an S3 bucket (moto on 127.0.0.1), the access key typed in
/// the forms.
#[tokio::test(flavor = "multi_thread")]
async fn a_team_checkpoints_into_an_s3_bucket_and_restores_from_it_with_the_kit() {
    use lifeboat_testkit::s3::{S3Server, ACCESS_KEY_ID, SECRET_ACCESS_KEY};
    let Some(_turn) = window_turn().await else {
        return;
    };
    let server = S3Server::start("team-backups");
    let location = format!(
        "s3://team-backups/drills?endpoint={}&region=us-east-1&path-style=true",
        server.endpoint()
    );
    checkpoint_then_restore_elsewhere_with_the_kit("s3", &location, &[], Some((ACCESS_KEY_ID, SECRET_ACCESS_KEY))).await;
    assert!(
        !server.list_keys("team-backups", "drills/config").is_empty(),
        "the repository is in the bucket"
    );
}

/// From the first run on a remote `location` (`env` for the app; an S3
/// `access_key` typed in the forms): the connection tested, the repository
/// created, a Checkpoint of a real database taken, the recovery kit saved;
/// then a fresh workstation opens the repository with the kit alone and
/// restores the database with the wizard onto a fresh server.
async fn checkpoint_then_restore_elsewhere_with_the_kit(
    name: &str,
    location: &str,
    env: &[(&str, String)],
    access_key: Option<(&str, &str)>,
) {
    use lifeboat_testkit::PgCluster;
    const LABEL: &str = "before the schema change";
    let source = PgCluster::start();
    source.psql("postgres", "CREATE DATABASE shop");
    source.psql(
        "shop",
        "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL);
         INSERT INTO orders (item) SELECT 'order ' || g FROM generate_series(1, 250) g;",
    );
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("recovery-kit.txt");

    let app = AppSession::start_with_env(&dir.path().join("first-workstation"), env).await;
    app.wait("#first-run").await;
    app.fill("#create-location", location).await;
    if let Some((id, secret)) = access_key {
        app.fill("#create-access-key-id", id).await;
        app.fill("#create-access-key-secret", secret).await;
    }
    app.click("#create-test-button").await;
    let tested = app.wait_text("#create-test-result", "Connected").await;
    assert!(tested.contains("No repository there yet"), "{tested}");
    app.fill("#create-label", "Off-site").await;
    app.fill("#create-passphrase", PASSPHRASE).await;
    app.fill("#create-passphrase-confirm", PASSPHRASE).await;
    app.shot(&format!("{name}-01-connection-tested")).await;
    app.click("#create-submit").await;
    app.wait_text("#current-repo", "Off-site").await;

    app.click("#nav-connections").await;
    app.fill("#conn-name", "shop").await;
    app.fill("#conn-url", &source.url("shop")).await;
    app.wait("#conn-host").await;
    app.click("#conn-test").await;
    app.wait_text("#conn-check", "pg_dump").await;
    app.click("#conn-save").await;
    app.wait("#connections-list .connection-row[data-name='shop']").await;
    app.click("#nav-overview").await;
    let card = ".database-card[data-name='shop']";
    app.click(&format!("{card} .checkpoint-button")).await;
    app.fill("#checkpoint-label", LABEL).await;
    app.click("#checkpoint-ok").await;
    app.wait_text("#checkpoint-result", "Checkpoint").await;
    app.wait_text(card, LABEL).await;

    app.click("#nav-repository").await;
    app.fill("#kit-path", &kit.display().to_string()).await;
    app.click("#kit-save").await;
    let saved = app.wait("#kit-result, #kit-error").await.text().await.unwrap();
    assert!(saved.contains("Recovery kit saved"), "{saved}");
    app.quit().await;

    // A fresh workstation: the location and the kit, nothing else.
    let fresh = PgCluster::start();
    let app = AppSession::start_with_env(&dir.path().join("fresh-workstation"), env).await;
    app.wait("#first-run").await;
    app.click("#tab-open").await;
    app.fill("#open-location", location).await;
    if let Some((id, secret)) = access_key {
        app.fill("#open-access-key-id", id).await;
        app.fill("#open-access-key-secret", secret).await;
    }
    app.click("#open-use-kit").await;
    app.paste("#open-recovery-kit", &std::fs::read_to_string(&kit).unwrap()).await;
    app.click("#open-submit").await;
    app.wait("#current-repo").await;
    app.shot(&format!("{name}-02-opened-with-the-kit")).await;

    app.restore_source_and_target("shop", LABEL, &fresh, None).await;
    let rows = app.verify_and_restore().await;
    assert!(rows.contains("250"), "{rows}");
    app.shot(&format!("{name}-03-restored")).await;
    assert_eq!(fresh.psql("shop", "SELECT count(*) FROM orders"), "250");
    app.quit().await;
}
