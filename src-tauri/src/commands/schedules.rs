use lifeboat_api::{ApiError, DrillHistoryEntry, DrillRequest, JobProgress, RetentionPreviewEntry, ScheduleForm, ScheduleView};
use lifeboat_core::jobs::drill::DrillReport;
use lifeboat_core::notify::NotificationPrefs;
use lifeboat_core::repo::retention::RetentionPolicy;
use tauri::ipc::Channel;

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
#[tracing::instrument(skip(app), err)]
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
#[tracing::instrument(skip(app, on_progress), err)]
pub async fn drill_snapshot(
    app: AppState<'_>,
    request: DrillRequest,
    job: u32,
    on_progress: Channel<JobProgress>,
) -> Result<DrillReport, ApiError> {
    app.drill(request, job, forward(on_progress)).await
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
#[tracing::instrument(skip(app), err)]
pub async fn set_notification_prefs(app: AppState<'_>, prefs: NotificationPrefs) -> Result<NotificationPrefs, ApiError> {
    app.set_notification_prefs(prefs).await
}
