use lifeboat_api::{ActivityEntry, ActivityFilter, ApiError, ReportRequest, ReportSaved};

use super::AppState;

#[tauri::command]
pub async fn activity(app: AppState<'_>, filter: ActivityFilter) -> Result<Vec<ActivityEntry>, ApiError> {
    app.activity(filter).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn export_report(app: AppState<'_>, request: ReportRequest) -> Result<ReportSaved, ApiError> {
    app.export_report(request).await
}
