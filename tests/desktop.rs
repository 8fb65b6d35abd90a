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
use lifeboat_testkit::put_random_stream;

const PASSPHRASE: &str = "sea shanty lighthouse anchor";

#[tokio::test(flavor = "multi_thread")]
async fn a_team_creates_reopens_shares_checks_and_manages_keys_in_the_window() {
    if !can_run() {
        return;
    }
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
