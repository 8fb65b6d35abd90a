//! Heartbeats: a schedule's dead-man's switch. Each scheduled backup pings
//! `URL/start` before it starts, then `URL` on success or `URL/fail` on
//! failure (the healthchecks.io convention, which self-hosted Healthchecks,
//! Uptime Kuma push monitors and Cronitor accept), so an outside service
//! raises the alarm when the pings stop: the workstation is off.
//!
//! A ping that cannot be delivered is tried again, then announced; it
//! never changes the backup's outcome.

use std::time::Duration;

use super::Runner;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};

const ATTEMPTS: u32 = 3;
const PAUSE: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_secs(10);

/// Which ping of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ping {
    Start,
    Success,
    Fail,
}

impl Ping {
    fn suffix(self) -> &'static str {
        match self {
            Ping::Start => "/start",
            Ping::Success => "",
            Ping::Fail => "/fail",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Ping::Start => "start",
            Ping::Success => "success",
            Ping::Fail => "failure",
        }
    }
}

/// Checks a heartbeat URL as typed: http or https, nothing after a `#`.
pub fn validate_url(text: &str) -> Result<()> {
    let bad = |why: &str| Error::InvalidInput(format!("the heartbeat URL is not usable: {why}"));
    let url = reqwest::Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("it must start with https:// (or http://)"));
    }
    if url.fragment().is_some() {
        return Err(bad("leave out the #fragment"));
    }
    Ok(())
}

/// `url` with the ping's suffix, kept before any query string.
fn ping_url(url: &str, ping: Ping) -> Result<reqwest::Url> {
    let mut url = reqwest::Url::parse(url.trim()).map_err(|e| Error::InvalidInput(format!("the heartbeat URL: {e}")))?;
    let path = format!("{}{}", url.path().trim_end_matches('/'), ping.suffix());
    url.set_path(&path);
    Ok(url)
}

impl Runner {
    /// Sends `ping` to `connection`'s heartbeat `url`, if it has one; tries
    /// again, then announces what went wrong. The URL (it often holds the
    /// monitor's secret) is never logged or announced.
    pub(crate) async fn heartbeat(&self, connection: &str, url: Option<&str>, ping: Ping) {
        let Some(url) = url else { return };
        let Err(why) = send(url, ping).await else { return };
        let message = format!(
            "the heartbeat's {} ping of {connection} was not delivered after {ATTEMPTS} tries ({why}); the backup itself is not affected",
            ping.what()
        );
        self.announce(Event::new(EventKind::HeartbeatFailed, Some(connection), false, message))
            .await;
    }
}

async fn send(url: &str, ping: Ping) -> std::result::Result<(), String> {
    let target = ping_url(url, ping).map_err(|e| e.to_string())?;
    crate::backend::install_tls_provider();
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))?;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match client.get(target.clone()).send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => last = format!("the monitor answered HTTP {}", response.status()),
            Err(e) => last = e.without_url().to_string(),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(PAUSE).await;
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_follow_the_healthchecks_convention() {
        let url = |u: &str, p| ping_url(u, p).unwrap().to_string();
        assert_eq!(url("https://hc.example/ping/abc", Ping::Start), "https://hc.example/ping/abc/start");
        assert_eq!(url("https://hc.example/ping/abc/", Ping::Success), "https://hc.example/ping/abc");
        assert_eq!(
            url("https://kuma.example/api/push/k1?status=up", Ping::Fail),
            "https://kuma.example/api/push/k1/fail?status=up"
        );
        assert!(validate_url("ftp://x/y").is_err());
        assert!(validate_url("not a url").is_err());
        assert!(validate_url("https://hc.example/ping/abc#x").is_err());
        assert!(validate_url("http://127.0.0.1:8000/ping/abc").is_ok());
    }
}
