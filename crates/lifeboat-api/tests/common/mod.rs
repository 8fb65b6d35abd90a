//! What the API suites share: an app with a profile and a new repository in
//! a temp folder, and a connection to a test cluster's database.
#![allow(dead_code)] // each suite uses its own subset

use std::path::Path;
use std::sync::Arc;

use lifeboat_api::{App, ConnectionFields, CreateRequest, SaveConnectionRequest};
use lifeboat_core::crypto::keychain::KeyStore;
use lifeboat_core::paths::Paths;
use lifeboat_core::pg::TlsMode;
use lifeboat_testkit::PgCluster;

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

/// Saves `name`, a connection to `database` on `cluster` as its superuser.
pub async fn save_cluster_connection(app: &App, name: &str, cluster: &PgCluster, database: &str) {
    app.save_connection(SaveConnectionRequest {
        name: name.into(),
        fields: ConnectionFields {
            host: "127.0.0.1".into(),
            port: cluster.port,
            database: database.into(),
            user: "postgres".into(),
            tls: TlsMode::Prefer,
            password: None,
            saved_password_of: None,
            pg_bin: None,
        },
        replace: false,
        server: None,
    })
    .await
    .unwrap();
}
