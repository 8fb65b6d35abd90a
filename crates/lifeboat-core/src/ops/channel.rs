//! Notification channels: saving and forgetting one (the catalog row and
//! its SMTP password in the keychain, together), sending a test, and
//! delivering each announced event to the channels whose routes it travels.
//! A delivery is recorded as an event (`notification_sent` or, after its
//! tries, `notification_failed`, which also reaches the desktop) and never
//! changes the job's outcome.

use std::sync::Arc;

use secrecy::SecretString;
use serde_json::json;

use super::Runner;
use crate::catalog::Catalog;
use crate::channels::{self, Channel, Delivery, Message, Route, WebhookFormat};
use crate::crypto::keychain::KeyStore;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind, EventLog};
use crate::notify::Announcer;

/// Where a headless sender without a keychain finds the SMTP password.
pub const SMTP_PASSWORD_ENV: &str = "LIFEBOAT_SMTP_PASSWORD";

/// Saves a new channel, and the SMTP password in the keychain when given.
/// An existing name is refused unless `replace`; replacing keeps the saved
/// password unless a new one is given. Returns whether a password is in the
/// keychain.
pub async fn save(
    catalog: &Catalog,
    keychain: Option<&dyn KeyStore>,
    mut channel: Channel,
    password: Option<&str>,
    replace: bool,
) -> Result<bool> {
    if let Some(existing) = catalog.channel(&channel.name).await? {
        if !replace {
            return Err(Error::InvalidInput(format!(
                "a channel named `{}` exists already: choose another name, or replace it",
                channel.name
            )));
        }
        channel.created_at = existing.created_at;
    }
    let mut in_keychain = false;
    match (password.filter(|p| !p.is_empty()), channel.smtp_user()) {
        (Some(_), None) => {
            return Err(Error::InvalidInput(
                "a password goes with an SMTP user: write smtp[s]://USER@HOST:PORT".into(),
            ))
        }
        (Some(password), Some(_)) => {
            let keychain = keychain.ok_or_else(|| {
                Error::KeychainUnavailable(format!(
                    "the keychain is turned off, so the SMTP password cannot be saved: set {SMTP_PASSWORD_ENV} for \
                     the processes that send alerts instead"
                ))
            })?;
            keychain.store_channel_password(&channel.name, password)?;
            in_keychain = true;
        }
        (None, Some(_)) => {
            in_keychain = match keychain {
                Some(k) => k.load_channel_password(&channel.name).ok().flatten().is_some(),
                None => false,
            }
        }
        (None, None) => {
            // A password left by an e-mail channel this one replaces.
            if let Some(k) = keychain.filter(|_| replace) {
                let _ = k.forget_channel_password(&channel.name);
            }
        }
    }
    catalog.save_channel(&channel).await?;
    Ok(in_keychain)
}

/// Forgets a channel and its saved password.
pub async fn remove(catalog: &Catalog, keychain: Option<&dyn KeyStore>, name: &str) -> Result<Channel> {
    let channel = find(catalog, name).await?;
    if channel.smtp_user().is_some() {
        if let Some(keychain) = keychain {
            keychain.forget_channel_password(name)?;
        }
    }
    catalog.remove_channel(name).await?;
    Ok(channel)
}

/// The channel called `name`, or an error that lists the others.
pub async fn find(catalog: &Catalog, name: &str) -> Result<Channel> {
    if let Some(channel) = catalog.channel(name).await? {
        return Ok(channel);
    }
    let names: Vec<String> = catalog.channels().await?.into_iter().map(|c| c.name).collect();
    Err(Error::InvalidInput(if names.is_empty() {
        format!("there is no channel `{name}`: add one with `lifeboat notify add`")
    } else {
        format!("there is no channel `{name}` (channels: {})", names.join(", "))
    }))
}

/// Sends the test message through `name`, with the usual tries.
pub async fn test(catalog: &Catalog, keychain: Option<&dyn KeyStore>, name: &str) -> Result<Delivery> {
    let channel = find(catalog, name).await?;
    let password = password(keychain, &channel);
    Ok(channels::send(&channel, password.as_ref(), &channels::test_message(&channel.name)).await)
}

/// The SMTP password: the keychain's, else LIFEBOAT_SMTP_PASSWORD.
fn password(keychain: Option<&dyn KeyStore>, channel: &Channel) -> Option<SecretString> {
    channel.smtp_user()?;
    let saved = keychain.and_then(|k| match k.load_channel_password(&channel.name) {
        Ok(p) => p.map(|p| SecretString::from(p.as_str())),
        Err(e) => {
            tracing::warn!("the SMTP password of the channel {}: {e}", channel.name);
            None
        }
    });
    saved.or_else(|| std::env::var(SMTP_PASSWORD_ENV).ok().map(SecretString::from))
}

/// A channel as lists show it: where it sends (no secrets) and how its
/// last delivery went.
#[derive(Clone, Debug, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChannelSummary {
    pub name: String,
    /// `email` or `webhook`.
    pub kind: String,
    pub destination: String,
    pub format: Option<WebhookFormat>,
    pub routes: Vec<Route>,
    /// The newest `notification_sent` or `notification_failed` event.
    pub last_delivery: Option<Event>,
}

/// Every channel with its last delivery, from the event log.
pub async fn summaries(catalog: &Catalog, log: &EventLog) -> Result<Vec<ChannelSummary>> {
    let channels = catalog.channels().await?;
    let log = log.clone();
    let deliveries = super::blocking(move || log.read(None)).await?;
    let last = |name: &str| {
        deliveries
            .iter()
            .rev()
            .find(|e| {
                matches!(e.kind, EventKind::NotificationSent | EventKind::NotificationFailed) && e.detail["channel"].as_str() == Some(name)
            })
            .cloned()
    };
    Ok(channels
        .into_iter()
        .map(|c| ChannelSummary {
            last_delivery: last(&c.name),
            kind: c.destination.kind().into(),
            destination: c.destination.describe(),
            format: match &c.destination {
                channels::Destination::Webhook { format, .. } => Some(*format),
                channels::Destination::Email { .. } => None,
            },
            routes: c.routes,
            name: c.name,
        })
        .collect())
}

/// Sends `event`'s message to every channel that wants it, at once, and
/// records each outcome.
pub async fn deliver(catalog: &Catalog, keychain: Option<Arc<dyn KeyStore>>, announcer: &Arc<Announcer>, event: &Event) {
    if channels::Route::of(event).is_empty() {
        return;
    }
    let wanted: Vec<Channel> = match catalog.channels().await {
        Ok(all) => all.into_iter().filter(|c| c.wants(event)).collect(),
        Err(e) => {
            tracing::warn!("could not read the notification channels: {e}");
            return;
        }
    };
    let Some(message) = channels::message_for(event) else { return };
    let mut sending = tokio::task::JoinSet::new();
    for channel in wanted {
        let password = password(keychain.as_deref(), &channel);
        let message = message.clone();
        sending.spawn(async move {
            let delivery = channels::send(&channel, password.as_ref(), &message).await;
            (channel, delivery)
        });
    }
    while let Some(joined) = sending.join_next().await {
        let Ok((channel, delivery)) = joined else { continue };
        announcer.emit_async(outcome(event, &message, &channel, &delivery)).await;
    }
}

/// The event that records one delivery.
fn outcome(event: &Event, message: &Message, channel: &Channel, delivery: &Delivery) -> Event {
    let connection = event.connection.as_deref();
    let detail = json!({
        "channel": channel.name,
        "destination": channel.destination.describe(),
        "about": event.kind,
        "attempts": delivery.attempts,
        "error": delivery.error,
    });
    let tries = if delivery.attempts == 1 {
        "1 try".to_string()
    } else {
        format!("{} tries", delivery.attempts)
    };
    match &delivery.error {
        None => Event::new(
            EventKind::NotificationSent,
            connection,
            true,
            format!(
                "sent \"{}\" to {} ({})",
                message.title,
                channel.name,
                channel.destination.describe()
            ),
        ),
        Some(why) => Event::new(
            EventKind::NotificationFailed,
            connection,
            false,
            format!(
                "\"{}\" did not reach {} after {tries}: {why}; the job itself is not affected",
                message.title, channel.name
            ),
        ),
    }
    .with_detail(detail)
}

impl Runner {
    /// Records `event`, raises its desktop notification and sends it to the
    /// channels that want it: the one way a job reports what happened.
    pub(crate) async fn announce(&self, event: Event) {
        self.announcer.emit_async(event.clone()).await;
        deliver(&self.catalog, self.keychain.clone(), &self.announcer, &event).await;
    }
}
