//! Notification channels.

use sqlx::Row;

use super::{parse_time, timestamp, Catalog};
use crate::channels::{Channel, Destination, Route};
use crate::error::{Error, Result};

impl Catalog {
    /// Inserts or replaces a channel.
    pub async fn save_channel(&self, c: &Channel) -> Result<()> {
        let destination = serde_json::to_string(&c.destination).map_err(|e| Error::Internal(format!("encoding a channel: {e}")))?;
        sqlx::query(
            "INSERT INTO channels (name, destination, routes, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET destination = ?2, routes = ?3",
        )
        .bind(&c.name)
        .bind(destination)
        .bind(Route::join(&c.routes))
        .bind(timestamp(c.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Every channel, by name.
    pub async fn channels(&self) -> Result<Vec<Channel>> {
        let rows = sqlx::query("SELECT name, destination, routes, created_at FROM channels ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        rows.iter()
            .map(|row| {
                let name: String = row.get("name");
                let damaged = |why: String| Error::corrupt("the catalog", format!("the channel {name}: {why}"));
                let destination: Destination = serde_json::from_str(row.get("destination")).map_err(|e| damaged(e.to_string()))?;
                let routes = Route::parse_list(row.get("routes")).map_err(|e| damaged(e.to_string()))?;
                Ok(Channel {
                    created_at: parse_time(row.get("created_at"))?,
                    name,
                    destination,
                    routes,
                })
            })
            .collect()
    }

    pub async fn channel(&self, name: &str) -> Result<Option<Channel>> {
        Ok(self.channels().await?.into_iter().find(|c| c.name == name))
    }

    /// Removes a channel; whether there was one.
    pub async fn remove_channel(&self, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM channels WHERE name = ?1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::{SmtpServer, WebhookFormat, WebhookUrl};

    #[tokio::test]
    async fn channels_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("c.sqlite")).await.unwrap();
        let mail = Channel::new(
            "ops-mail",
            Destination::email(
                SmtpServer::parse("smtps://ops@mail.example").unwrap(),
                &["oncall@team.example".into()],
                None,
            )
            .unwrap(),
            vec![Route::Failure, Route::Stale],
        )
        .unwrap();
        let chat = Channel::new(
            "chat",
            Destination::Webhook {
                url: WebhookUrl::parse("https://hooks.slack.com/services/x").unwrap(),
                format: WebhookFormat::Slack,
            },
            Route::defaults(),
        )
        .unwrap();
        catalog.save_channel(&mail).await.unwrap();
        catalog.save_channel(&chat).await.unwrap();
        let listed = catalog.channels().await.unwrap();
        assert_eq!(listed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["chat", "ops-mail"]);
        let back = catalog.channel("ops-mail").await.unwrap().unwrap();
        assert_eq!((back.destination, back.routes), (mail.destination, mail.routes));
        assert!(catalog.remove_channel("chat").await.unwrap());
        assert!(!catalog.remove_channel("chat").await.unwrap());
        assert_eq!(catalog.channels().await.unwrap().len(), 1);
    }
}
