use lifeboat_api::{
    ApiError, ApiTokenRequest, ChannelRequest, CheckpointApiView, DesktopSettings, DrillHistoryEntry, DrillRequest, JobProgress,
    NewApiToken, RetentionPreviewEntry, ScheduleForm, ScheduleView,
};
use lifeboat_core::channels::Delivery;
use lifeboat_core::jobs::drill::DrillReport;
use lifeboat_core::notify::NotificationPrefs;
use lifeboat_core::ops::channel::ChannelSummary;
use lifeboat_core::pg::binaries::ServerInstall;
use lifeboat_core::repo::retention::RetentionPolicy;
use tauri::ipc::Channel;
use tauri_plugin_autostart::ManagerExt;

use super::databases::forward;
use super::AppState;

#[tauri::command]
pub async fn schedules(app: AppState<'_>) -> Result<Vec<ScheduleView>, ApiError> {
    app.schedules().await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(connection = %form.connection))]
pub async fn save_schedule(app: AppState<'_>, form: ScheduleForm) -> Result<ScheduleView, ApiError> {
    app.save_schedule(form).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(connection = %connection))]
pub async fn remove_schedule(app: AppState<'_>, connection: String) -> Result<(), ApiError> {
    app.remove_schedule(connection).await
}

#[tauri::command]
pub async fn retention_preview(
    app: AppState<'_>,
    connection: String,
    policy: RetentionPolicy,
) -> Result<Vec<RetentionPreviewEntry>, ApiError> {
    app.retention_preview(connection, policy).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(snapshot = %request.snapshot_id))]
pub async fn drill_snapshot(
    app: AppState<'_>,
    request: DrillRequest,
    job: u32,
    on_progress: Channel<JobProgress>,
) -> Result<DrillReport, ApiError> {
    app.drill(request, job, forward(on_progress)).await
}

#[tauri::command]
pub async fn server_installs(app: AppState<'_>) -> Result<Vec<ServerInstall>, ApiError> {
    app.server_installs().await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(major = major))]
pub async fn install_server(app: AppState<'_>, major: u32) -> Result<ServerInstall, ApiError> {
    app.install_server(major).await
}

#[tauri::command]
pub async fn drill_history(app: AppState<'_>, connection: String) -> Result<Vec<DrillHistoryEntry>, ApiError> {
    app.drill_history(connection).await
}

#[tauri::command]
pub async fn notification_prefs(app: AppState<'_>) -> Result<NotificationPrefs, ApiError> {
    app.notification_prefs().await
}

#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn set_notification_prefs(app: AppState<'_>, prefs: NotificationPrefs) -> Result<NotificationPrefs, ApiError> {
    app.set_notification_prefs(prefs).await
}

#[tauri::command]
pub async fn desktop_settings(app: AppState<'_>, window: tauri::Window) -> Result<DesktopSettings, ApiError> {
    let mut settings = app.desktop_settings().await?;
    settings.start_at_login = window.autolaunch().is_enabled().unwrap_or(false);
    Ok(settings)
}

/// Saves the settings and registers (or removes) the app with the OS's start-at-login list.
#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn set_desktop_settings(
    app: AppState<'_>,
    window: tauri::Window,
    settings: DesktopSettings,
) -> Result<DesktopSettings, ApiError> {
    let autolaunch = window.autolaunch();
    let changed = if settings.start_at_login {
        autolaunch.enable()
    } else {
        autolaunch.disable()
    };
    changed.map_err(|e| ApiError::invalid_input(format!("the start-at-login setting could not be changed: {e}")))?;
    app.set_desktop_settings(settings).await
}

#[tauri::command]
pub async fn channels(app: AppState<'_>) -> Result<Vec<ChannelSummary>, ApiError> {
    app.channels().await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(channel = %request.name))]
pub async fn save_channel(app: AppState<'_>, request: ChannelRequest) -> Result<Vec<ChannelSummary>, ApiError> {
    app.save_channel(request).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(channel = %name))]
pub async fn test_channel(app: AppState<'_>, name: String) -> Result<Delivery, ApiError> {
    app.test_channel(name).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(channel = %name))]
pub async fn remove_channel(app: AppState<'_>, name: String) -> Result<Vec<ChannelSummary>, ApiError> {
    app.remove_channel(name).await
}

#[tauri::command]
pub async fn checkpoint_api(app: AppState<'_>) -> Result<CheckpointApiView, ApiError> {
    app.checkpoint_api().await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(port = ?port))]
pub async fn set_checkpoint_api(app: AppState<'_>, port: Option<u16>) -> Result<CheckpointApiView, ApiError> {
    app.set_checkpoint_api(port).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(token = %request.name))]
pub async fn add_api_token(app: AppState<'_>, request: ApiTokenRequest) -> Result<NewApiToken, ApiError> {
    app.add_api_token(request).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(token = %name))]
pub async fn revoke_api_token(app: AppState<'_>, name: String) -> Result<CheckpointApiView, ApiError> {
    app.revoke_api_token(name).await
}
