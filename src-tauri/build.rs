// Declares the app's commands so each needs an explicit permission: the
// window may call exactly those listed in capabilities/main.json.
const COMMANDS: &[&str] = &[
    "app_status",
    "create_repository",
    "test_location",
    "open_repository",
    "close_repository",
    "repository_overview",
    "check_repository",
    "cancel_job",
    "prune_repository",
    "key_slots",
    "add_key",
    "remove_key",
    "save_recovery_kit",
    "forget_keychain",
    "activity",
    "export_report",
    "databases",
    "discover_databases",
    "test_connection",
    "save_connection",
    "remove_connection",
    "backup_now",
    "timeline",
    "snapshot_detail",
    "set_keep_forever",
    "delete_snapshot",
    "verify_snapshot",
    "restore_preflight",
    "restore_snapshot",
    "restore_server",
    "schedules",
    "save_schedule",
    "remove_schedule",
    "retention_preview",
    "drill_snapshot",
    "drill_history",
    "notification_prefs",
    "set_notification_prefs",
    "desktop_settings",
    "set_desktop_settings",
];

fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)))
        .expect("tauri build step failed");
}
