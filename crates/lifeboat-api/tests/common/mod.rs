//! What the API suites share: an app with a profile and a new repository in a temp folder.

use std::path::Path;
use std::sync::Arc;

use lifeboat_api::{App, CreateRequest};
use lifeboat_core::crypto::keychain::KeyStore;
use lifeboat_core::paths::Paths;

/// Starts the app with its profile under `dir` and creates a repository in `dir/repo`.
pub async fn start_with_repository(dir: &Path, keychain: Option<Arc<dyn KeyStore>>) -> App {
    let paths = Paths {
        data_dir: dir.join("profile"),
        log_dir: dir.join("logs"),
    };
    let app = App::start(paths, keychain).await.unwrap();
    app.create_repository(CreateRequest {
        location: dir.join("repo").display().to_string(),
        passphrase: "correct horse battery staple".into(),
        key_label: "test".into(),
        repository_label: String::new(),
        access_key: None,
    })
    .await
    .unwrap();
    app
}
