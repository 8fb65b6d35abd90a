//! The desktop app's API against real repositories on disk, a real SQLite
//! catalog and, where a D-Bus session with a Secret Service exists (always
//! in `scripts/test`), the real OS keychain.

use std::path::Path;
use std::sync::{Arc, Mutex};

use lifeboat_api::*;
use lifeboat_core::catalog::{RunKind, RunStatus};
use lifeboat_core::crypto::keychain::{KeyStore, OsKeychain};
use lifeboat_core::paths::Paths;
use lifeboat_testkit::put_random_stream;

const PASSPHRASE: &str = "correct horse battery staple";

fn keychain() -> Option<Arc<dyn KeyStore>> {
    let present = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    if !present && std::env::var_os("LIFEBOAT_TEST_REQUIRE_KEYCHAIN").is_some() {
        panic!("LIFEBOAT_TEST_REQUIRE_KEYCHAIN is set but there is no D-Bus session bus with a Secret Service");
    }
    present.then(|| Arc::new(OsKeychain) as Arc<dyn KeyStore>)
}

fn paths(dir: &Path) -> Paths {
    Paths {
        data_dir: dir.to_owned(),
        log_dir: dir.join("logs"),
    }
}

async fn create(app: &App, location: &Path) -> OpenRepository {
    app.create_repository(CreateRequest {
        location: location.display().to_string(),
        passphrase: PASSPHRASE.into(),
        key_label: "alice's workstation".into(),
        repository_label: "team backups".into(),
        access_key: None,
    })
    .await
    .unwrap()
}

fn open_request(location: &Path, passphrase: Option<&str>, kit: Option<String>) -> OpenRequest {
    OpenRequest {
        location: location.display().to_string(),
        passphrase: passphrase.map(Into::into),
        recovery_kit: kit.map(Into::into),
        access_key: None,
    }
}

async fn runs(app: &App) -> Vec<ActivityEntry> {
    app.activity(ActivityFilter::default()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn first_run_creates_then_a_restart_reopens_from_the_keychain() {
    let Some(keychain) = keychain() else {
        eprintln!("skipped: no D-Bus session bus (run through scripts/test for a real Secret Service)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("nas/lifeboat");
    let app = App::start(paths(&dir.path().join("profile")), Some(keychain.clone()))
        .await
        .unwrap();
    let status = app.status();
    assert!(status.repository.is_none() && status.needs_unlock.is_none());

    let created = create(&app, &location).await;
    assert_eq!(created.opened_with, Unlock::Passphrase);
    assert_eq!(created.keychain_warning, None);
    let overview = app.overview().await.unwrap();
    assert!(matches!(overview.keychain, KeychainStatus::Cached));
    assert_eq!((overview.snapshots, overview.dedup_ratio), (0, None));
    drop(app);

    // Restart: reopened without asking.
    let app = App::start(paths(&dir.path().join("profile")), Some(keychain.clone()))
        .await
        .unwrap();
    let reopened = app.status().repository.expect("reopened from the keychain");
    assert_eq!(
        (reopened.id.as_str(), reopened.opened_with),
        (created.id.as_str(), Unlock::Keychain)
    );
    assert_eq!(reopened.label, "team backups");

    // Forgetting the key: the next start asks.
    assert!(matches!(app.forget_keychain().await.unwrap(), KeychainStatus::NotCached));
    drop(app);
    let app = App::start(paths(&dir.path().join("profile")), Some(keychain)).await.unwrap();
    let status = app.status();
    assert!(status.repository.is_none());
    assert_eq!(status.needs_unlock.unwrap().id, created.id);
    assert!(status.reopen_error.is_none(), "nothing cached is the normal case, not an error");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_workstation_opens_with_the_passphrase_or_a_recovery_kit() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("repo");
    let first = App::start(paths(&dir.path().join("first")), None).await.unwrap();
    let created = create(&first, &location).await;
    let kit_path = dir.path().join("kit.txt");
    let saved = first
        .save_recovery_kit(RecoveryKitRequest {
            path: kit_path.display().to_string(),
            label: "safe".into(),
        })
        .await
        .unwrap();
    assert_eq!(saved.slot.kind, KeyKind::RecoveryKit);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&kit_path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Never overwritten, and no key slot added for a refused export.
    let again = first
        .save_recovery_kit(RecoveryKitRequest {
            path: kit_path.display().to_string(),
            label: "again".into(),
        })
        .await
        .unwrap_err();
    assert!(again.message.contains("already exists"), "{again}");
    assert_eq!(first.key_slots().await.unwrap().len(), 2);

    let fresh = App::start(paths(&dir.path().join("fresh")), None).await.unwrap();
    let wrong = fresh
        .open_repository(open_request(&location, Some("not the passphrase"), None))
        .await
        .unwrap_err();
    assert_eq!(wrong.code, ErrorCode::WrongPassphrase);
    assert!(wrong.message.contains("wrong passphrase"), "{wrong}");
    assert!(fresh.status().repository.is_none());

    let opened = fresh
        .open_repository(open_request(&location, Some(PASSPHRASE), None))
        .await
        .unwrap();
    assert_eq!((opened.id.as_str(), opened.opened_with), (created.id.as_str(), Unlock::Passphrase));

    let other = App::start(paths(&dir.path().join("other")), None).await.unwrap();
    let kit = std::fs::read_to_string(&kit_path).unwrap();
    let opened = other.open_repository(open_request(&location, None, Some(kit))).await.unwrap();
    assert_eq!(opened.opened_with, Unlock::RecoveryKit);

    let kinds: Vec<_> = runs(&fresh).await.iter().map(|r| (r.kind, r.status)).collect();
    assert_eq!(kinds, [(RunKind::Open, RunStatus::Succeeded), (RunKind::Open, RunStatus::Failed)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_locations_and_secrets_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::start(paths(&dir.path().join("profile")), None).await.unwrap();
    let occupied = dir.path().join("occupied");
    std::fs::create_dir_all(&occupied).unwrap();
    std::fs::write(occupied.join("notes.txt"), "mine").unwrap();
    let attempt = |location: String, passphrase: &str| CreateRequest {
        location,
        passphrase: passphrase.into(),
        key_label: "me".into(),
        repository_label: String::new(),
        access_key: None,
    };

    let err = app
        .create_repository(attempt(occupied.display().to_string(), PASSPHRASE))
        .await
        .unwrap_err();
    assert!(err.message.contains("not empty"), "{err}");
    assert_eq!(std::fs::read_to_string(occupied.join("notes.txt")).unwrap(), "mine");
    let err = app
        .create_repository(attempt("relative/path".into(), PASSPHRASE))
        .await
        .unwrap_err();
    assert!(err.message.contains("full path"), "{err}");
    let err = app
        .create_repository(attempt(dir.path().join("new").display().to_string(), "short"))
        .await
        .unwrap_err();
    assert!(err.message.contains("too short"), "{err}");
    assert!(!dir.path().join("new").exists());

    let existing = dir.path().join("existing");
    create(&app, &existing).await;
    let err = app
        .create_repository(attempt(existing.display().to_string(), PASSPHRASE))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::AlreadyExists);

    let err = app
        .open_repository(open_request(&occupied, Some(PASSPHRASE), None))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotARepository);
    let err = app
        .open_repository(open_request(&existing, None, Some("not a kit".into())))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::WrongRecoveryKit);
    let err = app.open_repository(open_request(&existing, None, None)).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);

    app.close_repository().await.unwrap();
    let err = app.overview().await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NoRepositoryOpen);
}

#[tokio::test(flavor = "multi_thread")]
async fn key_slots_are_added_and_removed_but_never_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::start(paths(&dir.path().join("profile")), None).await.unwrap();
    let location = dir.path().join("repo");
    create(&app, &location).await;
    let slots = app.key_slots().await.unwrap();
    assert_eq!(slots.len(), 1);
    assert!(slots[0].in_use);
    assert_eq!(slots[0].label, "alice's workstation");

    let bob = app
        .add_key(AddKeyRequest {
            passphrase: "bob's own passphrase".into(),
            label: "bob".into(),
        })
        .await
        .unwrap();
    assert!(!bob.in_use);
    assert_eq!(app.key_slots().await.unwrap().len(), 2);
    let other = App::start(paths(&dir.path().join("bob")), None).await.unwrap();
    other
        .open_repository(open_request(&location, Some("bob's own passphrase"), None))
        .await
        .unwrap();

    app.remove_key(bob.id.clone()).await.unwrap();
    other.close_repository().await.unwrap();
    let err = other
        .open_repository(open_request(&location, Some("bob's own passphrase"), None))
        .await;
    assert_eq!(err.unwrap_err().code, ErrorCode::WrongPassphrase, "a removed slot no longer opens");

    let last = app.key_slots().await.unwrap().remove(0);
    let err = app.remove_key(last.id).await.unwrap_err();
    assert!(err.message.contains("last key slot"), "{err}");

    let history: Vec<_> = runs(&app).await.iter().map(|r| (r.kind, r.status)).collect();
    assert_eq!(
        history,
        [
            (RunKind::KeyRemove, RunStatus::Failed),
            (RunKind::KeyRemove, RunStatus::Succeeded),
            (RunKind::KeyAdd, RunStatus::Succeeded),
            (RunKind::Create, RunStatus::Succeeded),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_streams_progress_reports_health_and_can_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(App::start(paths(&dir.path().join("profile")), None).await.unwrap());
    let location = dir.path().join("repo");
    create(&app, &location).await;
    put_random_stream(&location, PASSPHRASE, "app-db", 24 << 20);
    put_random_stream(&location, PASSPHRASE, "app-db", 24 << 20);

    let overview = app.overview().await.unwrap();
    assert_eq!(overview.snapshots, 2);
    assert_eq!(overview.tags.len(), 1);
    assert_eq!((overview.tags[0].tag.as_str(), overview.tags[0].snapshots), ("app-db", 2));
    assert_eq!(overview.logical_bytes, 48 << 20);
    let ratio = overview.dedup_ratio.unwrap();
    assert!(ratio > 1.9, "the second identical stream is deduplicated: {ratio}");

    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let result = app.check(true, 7, move |p| sink.lock().unwrap().push(p)).await.unwrap();
    assert!(result.healthy && result.read_data, "{result:?}");
    assert_eq!(result.snapshots, 2);
    assert!(result.bytes_verified >= 48 << 20);
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(!seen.is_empty(), "progress was streamed");
    assert!(seen.iter().any(|p| p.total_bytes.is_some()), "{seen:?}");

    // Cancelled from "another window" as soon as the first progress arrives.
    let canceller = app.clone();
    let err = app
        .check(true, 8, move |_| {
            canceller.cancel_job(8);
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Cancelled);
    assert!(!app.cancel_job(8), "a finished job is gone");

    let checks: Vec<_> = app
        .activity(ActivityFilter {
            kinds: vec![RunKind::Check],
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(checks, [RunStatus::Cancelled, RunStatus::Succeeded]);

    let pruned = app.prune().await.unwrap();
    assert_eq!(pruned.bytes_freed, 0, "nothing is garbage: {pruned:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_cut_short_by_a_crash_shows_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile");
    {
        let catalog = lifeboat_core::catalog::Catalog::open(&paths(&profile).catalog()).await.unwrap();
        catalog
            .start_run(RunKind::Check, None, "Check (read all data)", chrono::Utc::now())
            .await
            .unwrap();
    }
    let app = App::start(paths(&profile), None).await.unwrap();
    let history = runs(&app).await;
    assert_eq!(history[0].status, RunStatus::Interrupted);
}
