//! Tauri commands: each a few lines over one `lifeboat_api::App` method.
//! Errors cross as `ApiError {code, message}`. Spans `skip_all` and name
//! their fields: a request may carry a password or passphrase.

pub mod activity;
pub mod databases;
pub mod keys;
pub mod repository;
pub mod schedules;

use std::sync::Arc;

/// The managed state every command reads.
pub type AppState<'a> = tauri::State<'a, Arc<lifeboat_api::App>>;
