use lifeboat_api::{ActivityEntry, ActivityFilter, ApiError};

use super::AppState;

#[tauri::command]
pub async fn activity(app: AppState<'_>, filter: ActivityFilter) -> Result<Vec<ActivityEntry>, ApiError> {
    app.activity(filter).await
}
