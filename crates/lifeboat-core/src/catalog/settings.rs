//! Settings: small JSON values by key.

use serde::{Deserialize, Serialize};

use super::Catalog;
use crate::error::{Error, Result};
use crate::notify::NotificationPrefs;

const NOTIFICATIONS: &str = "notifications";

impl Catalog {
    /// A JSON setting (`None` until set, or when unreadable: a newer
    /// version's, say; the caller's defaults apply).
    pub async fn setting<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Result<Option<T>> {
        let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    pub async fn set_setting<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let value = serde_json::to_string(value).map_err(|e| Error::Internal(format!("encoding the setting {key}: {e}")))?;
        sqlx::query("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Which notifications the admin wants (the defaults until set).
    pub async fn notification_prefs(&self) -> Result<NotificationPrefs> {
        Ok(self.setting(NOTIFICATIONS).await?.unwrap_or_default())
    }

    pub async fn set_notification_prefs(&self, prefs: &NotificationPrefs) -> Result<()> {
        self.set_setting(NOTIFICATIONS, prefs).await
    }
}
