use lifeboat_api::{AddKeyRequest, ApiError, KeySlotInfo, KeychainStatus, RecoveryKitRequest, RecoveryKitSaved};

use super::AppState;

#[tauri::command]
pub async fn key_slots(app: AppState<'_>) -> Result<Vec<KeySlotInfo>, ApiError> {
    app.key_slots().await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(label = %request.label))]
pub async fn add_key(app: AppState<'_>, request: AddKeyRequest) -> Result<KeySlotInfo, ApiError> {
    app.add_key(request).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(id = %id))]
pub async fn remove_key(app: AppState<'_>, id: String) -> Result<KeySlotInfo, ApiError> {
    app.remove_key(id).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err, fields(path = %request.path))]
pub async fn save_recovery_kit(app: AppState<'_>, request: RecoveryKitRequest) -> Result<RecoveryKitSaved, ApiError> {
    app.save_recovery_kit(request).await
}

#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn forget_keychain(app: AppState<'_>) -> Result<KeychainStatus, ApiError> {
    app.forget_keychain().await
}
