//! The app with a repository in an S3 bucket (a real S3 server, moto, on
//! 127.0.0.1): the access key typed in the first run is kept in the real OS
//! keychain, never in the catalog, and a restart reopens from the keychain.

use std::path::Path;
use std::sync::Arc;

use lifeboat_api::*;
use lifeboat_core::crypto::keychain::{KeyStore, OsKeychain};
use lifeboat_core::paths::Paths;
use lifeboat_testkit::s3::{S3Server, ACCESS_KEY_ID, SECRET_ACCESS_KEY};

const PASSPHRASE: &str = "correct horse battery staple";

fn paths(dir: &Path) -> Paths {
    Paths {
        data_dir: dir.to_owned(),
        log_dir: dir.join("logs"),
    }
}

fn access_key() -> Option<AccessKey> {
    Some(AccessKey {
        access_key_id: ACCESS_KEY_ID.into(),
        secret_access_key: SECRET_ACCESS_KEY.into(),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_opens_with_the_access_key_typed_once() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(
            std::env::var_os("LIFEBOAT_TEST_REQUIRE_KEYCHAIN").is_none(),
            "LIFEBOAT_TEST_REQUIRE_KEYCHAIN is set but there is no D-Bus session bus"
        );
        eprintln!("skipped: no D-Bus session bus (run through scripts/test for a real Secret Service)");
        return;
    }
    let keychain: Arc<dyn KeyStore> = Arc::new(OsKeychain);
    let server = S3Server::start("lifeboat-test");
    let location = format!(
        "s3://lifeboat-test/app/?region=us-east-1&endpoint={}&path-style=true",
        server.endpoint()
    );
    let canonical = lifeboat_core::backend::Location::parse(&location).unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();

    let app = App::start(paths(&dir.path().join("profile")), Some(keychain.clone()))
        .await
        .unwrap();

    // "Test connection" tries the bucket with the key typed, and saves nothing.
    let test = |location: &str| {
        app.test_location(TestLocationRequest {
            location: location.to_string(),
            access_key: access_key(),
        })
    };
    let tested = test(&location).await.unwrap();
    assert_eq!(tested.location, canonical);
    assert!(
        !tested.holds_repository && tested.conditional_create && tested.atomic_replace,
        "{tested:?}"
    );
    assert!(
        keychain.load_storage_credentials(&canonical).unwrap().is_none(),
        "a test saves no key"
    );
    let missing = test(&location.replace("lifeboat-test", "no-such-bucket")).await.unwrap_err();
    assert!(missing.message.contains("the bucket does not exist"), "{missing:?}");
    let folder = test(dir.path().to_str().unwrap()).await.unwrap_err();
    assert_eq!(folder.field.as_deref(), Some("location"), "{folder:?}");

    let created = app
        .create_repository(CreateRequest {
            location: location.clone(),
            passphrase: PASSPHRASE.into(),
            key_label: "alice".into(),
            repository_label: "in the bucket".into(),
            access_key: access_key(),
        })
        .await
        .unwrap();
    let saved = keychain
        .load_storage_credentials(&canonical)
        .unwrap()
        .expect("the access key is in the keychain");
    assert_eq!(saved.access_key_id, ACCESS_KEY_ID);
    let catalog = std::fs::read(dir.path().join("profile/catalog.sqlite")).unwrap();
    assert!(
        !catalog.windows(SECRET_ACCESS_KEY.len()).any(|w| w == SECRET_ACCESS_KEY.as_bytes()),
        "the secret never reaches the catalog"
    );
    assert!(test(&location).await.unwrap().holds_repository);
    drop(app);

    // Restart: the repository key and the access key both come from the keychain.
    let app = App::start(paths(&dir.path().join("profile")), Some(keychain.clone()))
        .await
        .unwrap();
    let reopened = app.status().repository.expect("reopened from the keychain");
    assert_eq!(
        (reopened.id.as_str(), reopened.opened_with),
        (created.id.as_str(), Unlock::Keychain)
    );
    drop(app);

    // Half a key, or a key for a folder, is refused on its field.
    let fresh = App::start(paths(&dir.path().join("fresh")), Some(keychain.clone())).await.unwrap();
    let half = fresh
        .open_repository(OpenRequest {
            location: location.clone(),
            passphrase: Some(PASSPHRASE.into()),
            recovery_kit: None,
            access_key: Some(AccessKey {
                access_key_id: ACCESS_KEY_ID.into(),
                secret_access_key: "".into(),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(half.field.as_deref(), Some("access_key"), "{half:?}");
    let folder = fresh
        .open_repository(OpenRequest {
            location: dir.path().join("folder").display().to_string(),
            passphrase: Some(PASSPHRASE.into()),
            recovery_kit: None,
            access_key: access_key(),
        })
        .await
        .unwrap_err();
    assert_eq!(folder.field.as_deref(), Some("access_key"), "{folder:?}");

    // A second workstation opens it with the passphrase and the saved key.
    let opened = fresh
        .open_repository(OpenRequest {
            location,
            passphrase: Some(PASSPHRASE.into()),
            recovery_kit: None,
            access_key: None,
        })
        .await
        .unwrap();
    assert_eq!(opened.id, created.id);
    keychain.forget_storage_credentials(&canonical).unwrap();
    keychain.forget(&created.id).unwrap();
}
