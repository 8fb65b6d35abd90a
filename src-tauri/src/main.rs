//! Lifeboat's desktop app: a thin Tauri shell. It wires the window to
//! `lifeboat_api::App` (commands in `commands/`), keeps one instance per
//! user, remembers the window's size, and logs to the OS log folder.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;

use std::sync::Arc;

use lifeboat_api::App;
use lifeboat_core::crypto::keychain::{KeyStore, OsKeychain};
use lifeboat_core::paths::{Paths, LOG_FILE};
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

/// Logs to `<log dir>/lifeboat.log` (0600 in a 0700 folder) and stderr;
/// the guard flushes on exit.
fn init_logging(paths: &Paths) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_env("LIFEBOAT_LOG").unwrap_or_else(|_| "info".into());
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let (file, guard) = match paths.prepare_log_file() {
        Ok(_) => {
            let (writer, guard) = tracing_appender::non_blocking(tracing_appender::rolling::never(&paths.log_dir, LOG_FILE));
            (
                Some(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(writer)),
                Some(guard),
            )
        }
        Err(e) => {
            eprintln!("{e}; logging to stderr only");
            (None, None)
        }
    };
    tracing_subscriber::registry().with(filter).with(stderr).with(file).init();
    guard
}

fn show_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// The tray icon: the app (and its scheduler) lives on there when the window closes.
fn build_tray(app: &tauri::App) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open Lifeboat", true, None::<&str>)?;
    let checkpoint = MenuItem::with_id(app, "checkpoint-all", "Checkpoint all databases", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Lifeboat", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &checkpoint, &quit])?;
    let mut tray = TrayIconBuilder::with_id("main")
        .tooltip("Lifeboat")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => show_window(app),
            "checkpoint-all" => {
                let state = app.state::<Arc<App>>().inner().clone();
                tauri::async_runtime::spawn(async move {
                    // Each outcome is an event too: failures are notified.
                    match state.checkpoint_all("checkpoint from the tray").await {
                        Ok(results) => tracing::info!("checkpoint all: {results:?}"),
                        Err(e) => tracing::warn!("checkpoint all: {e}"),
                    }
                });
            }
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

fn main() {
    let paths = match Paths::from_env() {
        Ok(paths) => paths,
        Err(e) => {
            eprintln!("lifeboat: {e}");
            std::process::exit(1);
        }
    };
    let _log_guard = init_logging(&paths);
    tracing::info!(data_dir = %paths.data_dir.display(), "Lifeboat {} starting", env!("CARGO_PKG_VERSION"));
    // LIFEBOAT_NO_KEYCHAIN=1: never read or write the OS keychain (shared
    // machines, or no Secret Service); the app then asks every time.
    let keychain: Option<Arc<dyn KeyStore>> = match std::env::var("LIFEBOAT_NO_KEYCHAIN").as_deref() {
        Ok("1" | "true" | "yes") => None,
        _ => Some(Arc::new(OsKeychain)),
    };

    tauri::Builder::default()
        // First, so a second launch hands over before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| show_window(app)))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .setup(move |app| {
            let state =
                tauri::async_runtime::block_on(App::start(paths, keychain)).inspect_err(|e| tracing::error!("cannot start: {e}"))?;
            let state = Arc::new(state);
            // The schedules run while the app does (unless `lifeboat daemon` runs them).
            tauri::async_runtime::spawn(state.clone().run_scheduler());
            // The checkpoint API, when the admin turned it on.
            tauri::async_runtime::spawn(state.clone().run_checkpoint_api());
            app.manage(state);
            // No tray on a desktop without one: the window then closes the app as usual.
            if let Err(e) = build_tray(app) {
                tracing::warn!("no tray icon: {e}");
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                let has_tray = window.app_handle().tray_by_id("main").is_some();
                if has_tray && window.state::<Arc<App>>().keeps_running_in_tray() {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::repository::app_status,
            commands::repository::create_repository,
            commands::repository::test_location,
            commands::repository::open_repository,
            commands::repository::close_repository,
            commands::repository::repository_overview,
            commands::repository::check_repository,
            commands::repository::cancel_job,
            commands::repository::prune_repository,
            commands::keys::key_slots,
            commands::keys::add_key,
            commands::keys::remove_key,
            commands::keys::save_recovery_kit,
            commands::keys::forget_keychain,
            commands::activity::activity,
            commands::activity::export_report,
            commands::databases::databases,
            commands::databases::test_connection,
            commands::databases::discover_databases,
            commands::databases::save_connection,
            commands::databases::remove_connection,
            commands::databases::backup_now,
            commands::databases::timeline,
            commands::databases::snapshot_detail,
            commands::databases::set_keep_forever,
            commands::databases::delete_snapshot,
            commands::databases::verify_snapshot,
            commands::databases::export_snapshot,
            commands::databases::restore_preflight,
            commands::databases::restore_snapshot,
            commands::databases::restore_server,
            commands::databases::pitr_archives,
            commands::databases::pitr_restore,
            commands::schedules::schedules,
            commands::schedules::save_schedule,
            commands::schedules::remove_schedule,
            commands::schedules::retention_preview,
            commands::schedules::drill_snapshot,
            commands::schedules::drill_history,
            commands::schedules::server_installs,
            commands::schedules::install_server,
            commands::schedules::notification_prefs,
            commands::schedules::set_notification_prefs,
            commands::schedules::channels,
            commands::schedules::save_channel,
            commands::schedules::test_channel,
            commands::schedules::remove_channel,
            commands::schedules::checkpoint_api,
            commands::schedules::set_checkpoint_api,
            commands::schedules::add_api_token,
            commands::schedules::revoke_api_token,
            commands::schedules::desktop_settings,
            commands::schedules::set_desktop_settings,
        ])
        .run(tauri::generate_context!())
        .expect("the Lifeboat window could not start");
}
