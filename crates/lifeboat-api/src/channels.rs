//! Alert channels in the app: e-mail and chat webhooks beside the desktop
//! notifications, the same ones `lifeboat notify` manages.

use lifeboat_core::channels::{Channel, Delivery, Destination, SmtpServer, WebhookUrl};
use lifeboat_core::ops::channel::{self, ChannelSummary};
use secrecy::ExposeSecret;

use crate::{dto::ChannelRequest, ApiError, ApiResult, App};

fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

impl App {
    /// Every channel with how its last delivery went.
    pub async fn channels(&self) -> ApiResult<Vec<ChannelSummary>> {
        Ok(channel::summaries(&self.catalog, self.announcer.log()).await?)
    }

    /// Saves a channel (the SMTP password in the keychain).
    pub async fn save_channel(&self, request: ChannelRequest) -> ApiResult<Vec<ChannelSummary>> {
        let destination = match (text(&request.smtp_url), text(&request.webhook_url)) {
            (Some(smtp), None) => Destination::email(
                SmtpServer::parse(smtp)?,
                &[request.to.clone().unwrap_or_default()],
                text(&request.from),
            )?,
            (None, Some(url)) => Destination::Webhook {
                url: WebhookUrl::parse(url)?,
                format: request.format.unwrap_or_default(),
            },
            _ => return Err(ApiError::invalid_input("give an SMTP server and addresses, or a webhook URL")),
        };
        if request.routes.is_empty() {
            return Err(ApiError::invalid_input("choose at least one kind of event for the channel"));
        }
        let mut routes = request.routes.clone();
        routes.sort();
        routes.dedup();
        let new = Channel::new(request.name.trim(), destination, routes)?;
        let password = request.smtp_password.as_ref().map(|p| p.expose_secret()).filter(|p| !p.is_empty());
        channel::save(&self.catalog, self.keychain_ref(), new, password, request.replace).await?;
        self.channels().await
    }

    /// Sends the test message through `name`.
    pub async fn test_channel(&self, name: String) -> ApiResult<Delivery> {
        Ok(channel::test(&self.catalog, self.keychain_ref(), &name).await?)
    }

    pub async fn remove_channel(&self, name: String) -> ApiResult<Vec<ChannelSummary>> {
        channel::remove(&self.catalog, self.keychain_ref(), &name).await?;
        self.channels().await
    }
}
