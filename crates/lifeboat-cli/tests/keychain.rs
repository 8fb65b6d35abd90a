//! The OS keychain cache against a real Secret Service (gnome-keyring in a
//! D-Bus session: `scripts/test` provides one). Without a session bus the
//! test says it was skipped, unless LIFEBOAT_TEST_REQUIRE_KEYCHAIN is set,
//! as it is in CI, where a missing keychain is a failure.

mod common;

use std::process::Command;

use common::*;

fn keychain_available() -> bool {
    let present = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    if !present && std::env::var_os("LIFEBOAT_TEST_REQUIRE_KEYCHAIN").is_some() {
        panic!("LIFEBOAT_TEST_REQUIRE_KEYCHAIN is set but there is no D-Bus session bus with a Secret Service");
    }
    present
}

/// `lifeboat ARGS` with the keychain on, no passphrase and no terminal.
fn from_keychain(repo: &std::path::Path, args: &[&str], password: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new("setsid");
    cmd.arg("-w")
        .arg(bin())
        .args(args)
        .env("LIFEBOAT_REPO", repo)
        .env_remove("LIFEBOAT_PASSWORD")
        .env_remove("LIFEBOAT_NO_KEYCHAIN");
    if let Some(p) = password {
        cmd.env("LIFEBOAT_PASSWORD", p);
    }
    common::run(cmd, None)
}

#[test]
fn keychain_reopens_without_passphrase_and_drops_revoked_keys() {
    if !keychain_available() {
        eprintln!("skipped: no D-Bus session bus (run through scripts/test for a real Secret Service)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let out = from_keychain(&repo, &["init", "--json"], Some(PASSWORD));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let init: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let repo_id = init["id"].as_str().unwrap();
    let first_slot = init["key_slot"].as_str().unwrap().to_string();

    // The entry is really in the Secret Service.
    let lookup = Command::new("secret-tool")
        .args(["lookup", "service", "lifeboat", "username", &format!("repository {repo_id}")])
        .output()
        .unwrap();
    assert!(lookup.status.success() && !lookup.stdout.is_empty(), "secret-tool found no entry");
    assert!(
        !String::from_utf8_lossy(&lookup.stdout).contains(PASSWORD),
        "the passphrase itself is never stored"
    );

    // Reopened from the keychain alone.
    let out = from_keychain(&repo, &["snapshots", "--json"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // --no-keychain really ignores it.
    let out = from_keychain(&repo, &["snapshots", "--no-keychain"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no passphrase given"));

    // The cached slot revoked elsewhere (here: opened with another
    // passphrase and no keychain): the entry stops working and is dropped.
    let add_key = |label: &str, passphrase: &str| {
        let mut add = Command::new("setsid");
        add.arg("-w")
            .arg(bin())
            .args(["key", "add", "--label", label])
            .env("LIFEBOAT_REPO", &repo)
            .env_remove("LIFEBOAT_PASSWORD")
            .env("LIFEBOAT_NEW_PASSWORD", passphrase);
        let out = common::run(add, None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).split_whitespace().nth(3).unwrap().to_string()
    };
    let second_slot = add_key("second", "second passphrase");
    let out = from_keychain(&repo, &["key", "remove", &first_slot, "--no-keychain"], Some("second passphrase"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = from_keychain(&repo, &["snapshots"], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("its key slot was removed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Opening with the remaining passphrase caches it again.
    assert!(from_keychain(&repo, &["snapshots"], Some("second passphrase")).status.success());
    assert!(from_keychain(&repo, &["snapshots"], None).status.success());

    // Removing the slot this very run opened with drops the entry at once,
    // as the app does: no stale entry is left behind.
    add_key("third", "third passphrase");
    let out = from_keychain(&repo, &["key", "remove", &second_slot], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lookup = Command::new("secret-tool")
        .args(["lookup", "service", "lifeboat", "username", &format!("repository {repo_id}")])
        .output()
        .unwrap();
    assert!(lookup.stdout.is_empty(), "the keychain entry of a removed slot is gone");
    assert!(from_keychain(&repo, &["snapshots"], Some("third passphrase")).status.success());
}

/// An e-mail channel's SMTP password lives in the keychain: saved by
/// `notify add`, used to send without any variable, gone with the channel.
#[test]
fn an_smtp_password_is_kept_in_the_keychain_and_removed_with_its_channel() {
    if !keychain_available() {
        eprintln!("skipped: no D-Bus session bus (run through scripts/test for a real Secret Service)");
        return;
    }
    let smtp = lifeboat_testkit::smtp::SmtpServer::start("alerts@team.example", "keychain smtp pass");
    let dir = tempfile::tempdir().unwrap();
    let lifeboat = |args: &[&str], password: Option<&str>| {
        let mut cmd = Command::new("setsid");
        cmd.arg("-w")
            .arg(bin())
            .args(args)
            .env("LIFEBOAT_DATA_DIR", dir.path())
            .env("SSL_CERT_FILE", smtp.ca_file())
            .env_remove("LIFEBOAT_NO_KEYCHAIN")
            .env_remove("LIFEBOAT_SMTP_PASSWORD");
        if let Some(p) = password {
            cmd.env("LIFEBOAT_SMTP_PASSWORD", p);
        }
        let out = common::run(cmd, None);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let url = format!("smtp://alerts%40team.example@127.0.0.1:{}", smtp.port);
    let out = lifeboat(
        &["notify", "add", "kc-mail", "--smtp", &url, "--to", "oncall@team.example"],
        Some("keychain smtp pass"),
    );
    assert!(out.contains("SMTP password in the OS keychain"), "{out}");
    let lookup = || {
        Command::new("secret-tool")
            .args(["lookup", "service", "lifeboat", "username", "notification channel kc-mail"])
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(lookup(), b"keychain smtp pass");

    lifeboat(&["notify", "test", "kc-mail"], None);
    assert_eq!(smtp.messages().len(), 1);
    assert!(smtp.messages()[0].authenticated);

    lifeboat(&["notify", "remove", "kc-mail"], None);
    assert!(lookup().is_empty(), "the password left with its channel");
}
