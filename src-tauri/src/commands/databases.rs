use lifeboat_api::{
    ApiError, BackupRequest, ConnectionFields, DatabaseCard, DiscoverRequest, ExportRequest, JobProgress, PitrArchive, PitrRestoreRequest,
    RestoreRequest, SaveConnectionRequest, ServerDatabases, ServerRestoreRequest, SnapshotDetail, TimelineEntry,
};
use lifeboat_core::connections::{Connection, ConnectionCheck};
use lifeboat_core::jobs::pitr::onto_server::RecoverOntoReport;
use lifeboat_core::jobs::restore::{Preflight, RestoreReport, VerifyReport};
use lifeboat_core::jobs::server::ServerRestoreReport;
use lifeboat_core::ops::SavedBackup;
use lifeboat_core::repo::manifest::SnapshotSummary;
use lifeboat_core::repo::read::CatReport;
use tauri::ipc::Channel;

use super::AppState;

/// Progress is best effort: the window may have gone away.
pub(super) fn forward(channel: Channel<JobProgress>) -> impl Fn(JobProgress) + Send + Sync + 'static {
    move |progress| {
        let _ = channel.send(progress);
    }
}

#[tauri::command]
pub async fn discover_databases(app: AppState<'_>, request: DiscoverRequest) -> Result<ServerDatabases, ApiError> {
    app.discover_databases(request).await
}

#[tauri::command]
pub async fn databases(app: AppState<'_>) -> Result<Vec<DatabaseCard>, ApiError> {
    app.databases().await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(host = %fields.host, database = %fields.database))]
pub async fn test_connection(app: AppState<'_>, fields: ConnectionFields) -> Result<ConnectionCheck, ApiError> {
    app.test_connection(fields).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(name = %request.name))]
pub async fn save_connection(app: AppState<'_>, request: SaveConnectionRequest) -> Result<Connection, ApiError> {
    app.save_connection(request).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(name = %name))]
pub async fn remove_connection(app: AppState<'_>, name: String) -> Result<Connection, ApiError> {
    app.remove_connection(name).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(connection = %request.connection, job = job))]
pub async fn backup_now(
    app: AppState<'_>,
    request: BackupRequest,
    job: u32,
    on_progress: Channel<JobProgress>,
) -> Result<SavedBackup, ApiError> {
    app.backup(request, job, forward(on_progress)).await
}

#[tauri::command]
pub async fn timeline(app: AppState<'_>, name: String) -> Result<Vec<TimelineEntry>, ApiError> {
    app.timeline(name).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(id = %id, keep = keep))]
pub async fn set_keep_forever(app: AppState<'_>, id: String, keep: bool) -> Result<SnapshotDetail, ApiError> {
    app.set_keep_forever(id, keep).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(id = %id))]
pub async fn delete_snapshot(app: AppState<'_>, id: String) -> Result<SnapshotSummary, ApiError> {
    app.delete_snapshot(id).await
}

#[tauri::command]
pub async fn snapshot_detail(app: AppState<'_>, id: String) -> Result<SnapshotDetail, ApiError> {
    app.snapshot_detail(id).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(id = %id, job = job))]
pub async fn verify_snapshot(app: AppState<'_>, id: String, job: u32, on_progress: Channel<JobProgress>) -> Result<VerifyReport, ApiError> {
    app.verify_snapshot(id, job, forward(on_progress)).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(snapshot = %request.snapshot_id, database = %request.target.database))]
pub async fn restore_preflight(app: AppState<'_>, request: RestoreRequest) -> Result<Preflight, ApiError> {
    app.restore_preflight(request).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(job = job, snapshot = %request.snapshot_id, database = %request.target.database))]
pub async fn restore_snapshot(
    app: AppState<'_>,
    request: RestoreRequest,
    job: u32,
    on_progress: Channel<JobProgress>,
) -> Result<RestoreReport, ApiError> {
    app.restore(request, job, forward(on_progress)).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(job = job, snapshot = %request.snapshot_id, host = %request.target.host))]
pub async fn restore_server(
    app: AppState<'_>,
    request: ServerRestoreRequest,
    job: u32,
    on_progress: Channel<JobProgress>,
) -> Result<ServerRestoreReport, ApiError> {
    app.restore_server(request, job, forward(on_progress)).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn pitr_archives(app: AppState<'_>) -> Result<Vec<PitrArchive>, ApiError> {
    app.pitr_archives().await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(job = job, archive = %request.name, host = %request.target.host))]
pub async fn pitr_restore(
    app: AppState<'_>,
    request: PitrRestoreRequest,
    job: u32,
    on_progress: Channel<JobProgress>,
) -> Result<RecoverOntoReport, ApiError> {
    app.pitr_restore(request, job, forward(on_progress)).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(job = job, snapshot = %request.snapshot_id))]
pub async fn export_snapshot(
    app: AppState<'_>,
    request: ExportRequest,
    job: u32,
    on_progress: Channel<JobProgress>,
) -> Result<CatReport, ApiError> {
    app.export_snapshot(request, job, forward(on_progress)).await
}
