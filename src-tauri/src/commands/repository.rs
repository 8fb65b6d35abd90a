use lifeboat_api::{
    ApiError, AppStatus, CheckResult, CreateRequest, JobProgress, LocationTest, OpenRepository, OpenRequest, PruneResult,
    RepositoryOverview, TestLocationRequest,
};
use tauri::ipc::Channel;

use super::AppState;

#[tauri::command]
pub async fn app_status(app: AppState<'_>) -> Result<AppStatus, ApiError> {
    Ok(app.status())
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(location = %request.location))]
pub async fn create_repository(app: AppState<'_>, request: CreateRequest) -> Result<OpenRepository, ApiError> {
    app.create_repository(request).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(location = %request.location))]
pub async fn test_location(app: AppState<'_>, request: TestLocationRequest) -> Result<LocationTest, ApiError> {
    app.test_location(request).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(location = %request.location))]
pub async fn open_repository(app: AppState<'_>, request: OpenRequest) -> Result<OpenRepository, ApiError> {
    app.open_repository(request).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn close_repository(app: AppState<'_>) -> Result<(), ApiError> {
    app.close_repository().await
}

#[tauri::command]
pub async fn repository_overview(app: AppState<'_>) -> Result<RepositoryOverview, ApiError> {
    app.overview().await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(read_data = read_data, job = job))]
pub async fn check_repository(
    app: AppState<'_>,
    read_data: bool,
    job: u32,
    on_progress: Channel<JobProgress>,
) -> Result<CheckResult, ApiError> {
    app.check(read_data, job, move |progress| {
        // The window may have gone away: progress is best effort.
        let _ = on_progress.send(progress);
    })
    .await
}

#[tauri::command]
pub async fn cancel_job(app: AppState<'_>, job: u32) -> Result<bool, ApiError> {
    Ok(app.cancel_job(job))
}

#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn prune_repository(app: AppState<'_>) -> Result<PruneResult, ApiError> {
    app.prune().await
}
