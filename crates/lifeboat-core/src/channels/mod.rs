//! Notification channels beside the desktop: e-mail over SMTP and chat
//! webhooks (a generic JSON body, Slack, Discord, Microsoft Teams, ntfy,
//! Gotify), so an alarm reaches the channel the team watches. Each channel
//! receives the events of the routes it chose (failures, restores, drills,
//! staleness, successes), with the facts the desktop notification carries.
//!
//! This module is the model, the messages and the sending; the catalog
//! stores channels and `ops::channel` routes events to them.

mod message;
mod send;

pub use message::{message_for, test_message, Message};
pub use send::{send, Delivery};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::events::{Event, EventKind};

/// The kinds of events a channel can receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Route {
    Failure,
    Restore,
    Drill,
    Stale,
    Success,
}

impl Route {
    pub const ALL: [Route; 5] = [Route::Failure, Route::Restore, Route::Drill, Route::Stale, Route::Success];

    pub fn as_str(self) -> &'static str {
        match self {
            Route::Failure => "failure",
            Route::Restore => "restore",
            Route::Drill => "drill",
            Route::Stale => "stale",
            Route::Success => "success",
        }
    }

    /// What a channel receives unless told otherwise: everything but successes.
    pub fn defaults() -> Vec<Route> {
        vec![Route::Failure, Route::Restore, Route::Drill, Route::Stale]
    }

    /// `failure,restore,...` as typed, sorted and without repeats.
    pub fn parse_list(text: &str) -> Result<Vec<Route>> {
        let mut routes = Vec::new();
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let route = Route::ALL
                .into_iter()
                .find(|r| r.as_str() == word.to_ascii_lowercase())
                .ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "`{word}` is not a kind of event: use failure, restore, drill, stale or success (comma-separated)"
                    ))
                })?;
            routes.push(route);
        }
        if routes.is_empty() {
            return Err(Error::InvalidInput(
                "say which events the channel receives: failure, restore, drill, stale, success".into(),
            ));
        }
        routes.sort();
        routes.dedup();
        Ok(routes)
    }

    pub fn join(routes: &[Route]) -> String {
        routes.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
    }

    /// The routes `event` travels: none for the steps of a job and for the
    /// channels' own deliveries (an alert about an alert would loop).
    pub fn of(event: &Event) -> Vec<Route> {
        use EventKind::*;
        let mut routes = match event.kind {
            DrillStart | DrillResult | NotificationSent | NotificationFailed => return Vec::new(),
            Stale | OffsiteStale => return vec![Route::Stale],
            DrillComplete => vec![Route::Drill],
            RestoreSucceeded | RestoreFailed | AutoRestore => vec![Route::Restore],
            _ => Vec::new(),
        };
        routes.push(if event.ok { Route::Success } else { Route::Failure });
        routes
    }
}

/// How a webhook's body is shaped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// Lifeboat's own JSON: title, text and the whole event.
    #[default]
    Generic,
    Slack,
    Discord,
    /// A Microsoft Teams Workflows webhook (an Adaptive Card).
    Teams,
    Ntfy,
    Gotify,
}

impl WebhookFormat {
    pub const ALL: [WebhookFormat; 6] = [
        WebhookFormat::Generic,
        WebhookFormat::Slack,
        WebhookFormat::Discord,
        WebhookFormat::Teams,
        WebhookFormat::Ntfy,
        WebhookFormat::Gotify,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Generic => "generic",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Discord => "discord",
            WebhookFormat::Teams => "teams",
            WebhookFormat::Ntfy => "ntfy",
            WebhookFormat::Gotify => "gotify",
        }
    }

    pub fn parse(text: &str) -> Result<WebhookFormat> {
        WebhookFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == text.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "`{text}` is not a webhook format: use generic, slack, discord, teams, ntfy or gotify"
                ))
            })
    }
}

/// How the connection to an SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte (port 465).
    Tls,
    /// `smtp://`: STARTTLS, required (port 587).
    StartTls,
    /// `smtp://` to this machine (a local relay): STARTTLS when offered.
    LocalStartTlsIfOffered,
}

/// What a user name cannot hold as is in a URL.
const USERINFO: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'@')
    .add(b':')
    .add(b'/')
    .add(b'%')
    .add(b'?')
    .add(b'#');

/// An SMTP server as `smtp[s]://[USER@]HOST[:PORT]`; the password is never
/// part of it (the keychain, or LIFEBOAT_SMTP_PASSWORD, holds it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub security: SmtpSecurity,
}

impl SmtpServer {
    pub fn parse(text: &str) -> Result<SmtpServer> {
        let bad = |why: &str| Error::InvalidInput(format!("the SMTP server is not usable: {why}"));
        let url = url::Url::parse(text.trim()).map_err(|e| bad(&format!("{e} (write smtps://USER@HOST:465 or smtp://USER@HOST:587)")))?;
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(bad("it names no host")),
        };
        if url.password().is_some() {
            return Err(bad(
                "leave the password out of the URL: Lifeboat asks for it and keeps it in the OS keychain \
                 (or reads LIFEBOAT_SMTP_PASSWORD)",
            ));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("give only smtp[s]://USER@HOST:PORT"));
        }
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let (security, default_port) = match url.scheme() {
            "smtps" => (SmtpSecurity::Tls, 465),
            "smtp" if loopback => (SmtpSecurity::LocalStartTlsIfOffered, 587),
            "smtp" => (SmtpSecurity::StartTls, 587),
            other => return Err(bad(&format!("`{other}://` is not SMTP: use smtps:// (TLS) or smtp:// (STARTTLS)"))),
        };
        let user = percent_encoding::percent_decode_str(url.username())
            .decode_utf8()
            .map_err(|_| bad("the user name is not UTF-8"))?
            .into_owned();
        Ok(SmtpServer {
            host,
            port: url.port().unwrap_or(default_port),
            user: (!user.is_empty()).then_some(user),
            security,
        })
    }

    /// `smtps://user@host:port`, as typed.
    pub fn url(&self) -> String {
        let scheme = if self.security == SmtpSecurity::Tls { "smtps" } else { "smtp" };
        let user = self
            .user
            .as_ref()
            .map(|u| format!("{}@", percent_encoding::utf8_percent_encode(u, USERINFO)))
            .unwrap_or_default();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{user}{host}:{}", self.port)
    }
}

/// A webhook URL. Chat webhooks carry their secret in the URL, so it is
/// never shown whole: not in `Debug`, logs, errors or listings.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn parse(text: &str) -> Result<WebhookUrl> {
        let bad = |why: &str| Error::InvalidInput(format!("the webhook URL is not usable: {why}"));
        let url = reqwest::Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("it must start with https:// (or http://)"));
        }
        if url.host().is_none() {
            return Err(bad("it names no host"));
        }
        Ok(WebhookUrl(url.to_string()))
    }

    /// The whole URL, for sending only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `https://hooks.slack.com/…`: enough to recognise, nothing secret.
    pub fn redacted(&self) -> String {
        match reqwest::Url::parse(&self.0) {
            Ok(url) => format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or_default()),
            Err(_) => "…".into(),
        }
    }
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookUrl({})", self.redacted())
    }
}

/// Where a channel's messages go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Destination {
    Email { server: SmtpServer, from: String, to: Vec<String> },
    Webhook { url: WebhookUrl, format: WebhookFormat },
}

impl Destination {
    /// An e-mail destination; `from` defaults to the SMTP user when that is
    /// an address, else to lifeboat@ this machine.
    pub fn email(server: SmtpServer, to: &[String], from: Option<&str>) -> Result<Destination> {
        let to: Vec<String> = to
            .iter()
            .flat_map(|t| t.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        if to.is_empty() {
            return Err(Error::InvalidInput("say who receives the e-mail: --to ADDRESS".into()));
        }
        for address in &to {
            send::check_mailbox(address)?;
        }
        let from = match from {
            Some(from) => from.trim().to_owned(),
            None => match &server.user {
                Some(user) if user.contains('@') => format!("Lifeboat <{user}>"),
                _ => format!("Lifeboat <lifeboat@{}>", this_host()),
            },
        };
        send::check_mailbox(&from)?;
        Ok(Destination::Email { server, from, to })
    }

    /// One line that says where messages go, without secrets.
    pub fn describe(&self) -> String {
        match self {
            Destination::Email { server, to, .. } => format!("e-mail to {} via {}", to.join(", "), server.url()),
            Destination::Webhook { url, format } => format!("{} webhook {}", format.as_str(), url.redacted()),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Destination::Email { .. } => "email",
            Destination::Webhook { .. } => "webhook",
        }
    }
}

/// A named channel and the events it receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    pub destination: Destination,
    pub routes: Vec<Route>,
    pub created_at: DateTime<Utc>,
}

impl Channel {
    pub fn new(name: &str, destination: Destination, routes: Vec<Route>) -> Result<Channel> {
        let usable = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !usable {
            return Err(Error::InvalidInput(format!(
                "`{name}` is not a usable channel name: use up to 64 letters, digits and . _ -"
            )));
        }
        Ok(Channel {
            name: name.to_owned(),
            destination,
            routes,
            created_at: Utc::now(),
        })
    }

    /// Whether `event` is for this channel.
    pub fn wants(&self, event: &Event) -> bool {
        Route::of(event).iter().any(|r| self.routes.contains(r))
    }

    /// The SMTP user whose password the channel needs, if any.
    pub fn smtp_user(&self) -> Option<&str> {
        match &self.destination {
            Destination::Email { server, .. } => server.user.as_deref(),
            Destination::Webhook { .. } => None,
        }
    }
}

/// This machine's name, as messages sign off.
pub fn this_host() -> String {
    whoami::fallible::hostname().unwrap_or_else(|_| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_choose_their_protection_and_keep_passwords_out() {
        let s = SmtpServer::parse("smtps://alerts%40team.example@mail.example").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.user.as_deref(), s.security),
            ("mail.example", 465, Some("alerts@team.example"), SmtpSecurity::Tls)
        );
        assert_eq!(s.url(), "smtps://alerts%40team.example@mail.example:465");
        assert_eq!(SmtpServer::parse(&s.url()).unwrap(), s);
        let s = SmtpServer::parse("smtp://relay.example").unwrap();
        assert_eq!((s.port, s.user, s.security), (587, None, SmtpSecurity::StartTls));
        let local = SmtpServer::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(local.security, SmtpSecurity::LocalStartTlsIfOffered);
        for bad in [
            "smtp://u:secret@mail.example",
            "http://mail.example",
            "smtp://mail.example/x",
            "mail.example",
        ] {
            assert!(SmtpServer::parse(bad).is_err(), "{bad}");
        }
        assert!(!format!("{:?}", SmtpServer::parse("smtp://u:secret@m").err()).contains("secret"));
    }

    #[test]
    fn routes_parse_and_events_travel_their_routes() {
        assert_eq!(
            Route::parse_list("success, failure,failure").unwrap(),
            vec![Route::Failure, Route::Success]
        );
        assert!(Route::parse_list("failures").unwrap_err().to_string().contains("failure, restore"));
        assert!(Route::parse_list(" , ").is_err());
        let event = |kind, ok| Event::new(kind, Some("shop"), ok, "x");
        assert_eq!(Route::of(&event(EventKind::BackupFailed, false)), [Route::Failure]);
        assert_eq!(Route::of(&event(EventKind::Checkpoint, true)), [Route::Success]);
        assert_eq!(Route::of(&event(EventKind::DrillComplete, false)), [Route::Drill, Route::Failure]);
        assert_eq!(
            Route::of(&event(EventKind::RestoreSucceeded, true)),
            [Route::Restore, Route::Success]
        );
        assert_eq!(Route::of(&event(EventKind::Stale, false)), [Route::Stale]);
        assert!(Route::of(&event(EventKind::NotificationFailed, false)).is_empty());
        assert!(Route::of(&event(EventKind::DrillStart, true)).is_empty());
    }

    #[test]
    fn webhook_urls_are_never_shown_whole() {
        let url = WebhookUrl::parse("https://hooks.slack.com/services/T0/B0/secret").unwrap();
        assert_eq!(url.redacted(), "https://hooks.slack.com/…");
        assert!(!format!("{url:?}").contains("secret"));
        let channel = Channel::new(
            "team",
            Destination::Webhook {
                url,
                format: WebhookFormat::Slack,
            },
            Route::defaults(),
        )
        .unwrap();
        assert!(!format!("{channel:?}").contains("secret"));
        assert_eq!(channel.destination.describe(), "slack webhook https://hooks.slack.com/…");
        assert!(WebhookUrl::parse("ftp://x/y").is_err());
        assert!(WebhookFormat::parse("mattermost").is_err());
    }

    #[test]
    fn email_destinations_check_their_addresses() {
        let server = SmtpServer::parse("smtp://ops@team.example@mail.example").unwrap();
        let d = Destination::email(server.clone(), &["a@team.example, b@team.example".into()], None).unwrap();
        let Destination::Email { from, to, .. } = &d else { panic!() };
        assert_eq!(from, "Lifeboat <ops@team.example>");
        assert_eq!(to.len(), 2);
        assert!(Destination::email(server.clone(), &["not an address".into()], None).is_err());
        assert!(Destination::email(server, &[], None).is_err());
    }
}
