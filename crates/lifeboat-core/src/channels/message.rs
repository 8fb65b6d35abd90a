//! What a channel sends: the desktop notification's title and text (with
//! the snapshot's facts and what to do), shaped for each format.

use serde_json::{json, Value};

use super::{this_host, WebhookFormat, WebhookUrl};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::notify::{notification_for, Urgency};

/// Discord refuses a message longer than this.
const DISCORD_LIMIT: usize = 2000;

/// One message for every channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub title: String,
    /// The event's line, the snapshot's facts (id, time, size, SHA-256
    /// prefix), what to do, and where it comes from.
    pub text: String,
    pub critical: bool,
    /// The event itself, for the generic JSON body.
    pub event: Option<Event>,
}

/// The message `event` sends, if it is one that notifies.
pub fn message_for(event: &Event) -> Option<Message> {
    let notification = notification_for(event)?;
    let mut text = notification.body;
    text.push_str(&format!(
        "\n\n{}{} · Lifeboat on {}",
        event.connection.as_deref().map(|c| format!("{c} · ")).unwrap_or_default(),
        event.time.format("%Y-%m-%d %H:%M:%S UTC"),
        this_host()
    ));
    Some(Message {
        title: notification.summary,
        text,
        critical: notification.urgency == Urgency::Critical,
        event: Some(event.clone()),
    })
}

/// What `notify test` sends.
pub fn test_message(channel: &str) -> Message {
    Message {
        title: "Lifeboat test message".into(),
        text: format!(
            "The channel `{channel}` reaches you: Lifeboat on {} will send its alerts here.",
            this_host()
        ),
        critical: false,
        event: None,
    }
}

/// A webhook call: where to POST and the JSON body.
pub struct WebhookRequest {
    pub url: reqwest::Url,
    pub body: Value,
}

/// Escapes what Slack's mrkdwn reads as markup or mentions (`<!channel>`).
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(limit - 1).collect();
    cut.push('…');
    cut
}

/// The call that posts `message` to `url` in `format`.
pub fn webhook_request(url: &WebhookUrl, format: WebhookFormat, message: &Message) -> Result<WebhookRequest> {
    let mut target =
        reqwest::Url::parse(url.expose()).map_err(|_| Error::InvalidInput(format!("the webhook URL {} is not usable", url.redacted())))?;
    let body = match format {
        WebhookFormat::Generic => json!({
            "source": "lifeboat",
            "title": message.title,
            "text": message.text,
            "critical": message.critical,
            "event": message.event,
        }),
        WebhookFormat::Slack => json!({
            "text": format!("*{}*\n{}", slack_escape(&message.title), slack_escape(&message.text)),
        }),
        // No mentions: a database's name cannot ping @everyone.
        WebhookFormat::Discord => json!({
            "content": truncate(&format!("**{}**\n{}", message.title, message.text), DISCORD_LIMIT),
            "allowed_mentions": { "parse": [] },
        }),
        WebhookFormat::Teams => json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": message.title,
                            "weight": "Bolder",
                            "size": "Medium",
                            "wrap": true,
                            "color": if message.critical { "Attention" } else { "Default" },
                        },
                        { "type": "TextBlock", "text": message.text, "wrap": true },
                    ],
                },
            }],
        }),
        // ntfy's JSON publishing goes to the server's root with the topic
        // in the body (UTF-8 titles, unlike its headers).
        WebhookFormat::Ntfy => {
            let no_topic = || Error::InvalidInput("an ntfy URL names its topic: https://ntfy.example/TOPIC".into());
            let (base, topic) = target.path().rsplit_once('/').ok_or_else(no_topic)?;
            if topic.is_empty() {
                return Err(no_topic());
            }
            let (base, topic) = (format!("{base}/"), topic.to_owned());
            target.set_path(&base);
            json!({
                "topic": topic,
                "title": message.title,
                "message": message.text,
                "priority": if message.critical { 5 } else { 3 },
                "tags": [if message.critical { "rotating_light" } else { "floppy_disk" }],
            })
        }
        WebhookFormat::Gotify => json!({
            "title": message.title,
            "message": message.text,
            "priority": if message.critical { 8 } else { 4 },
        }),
    };
    Ok(WebhookRequest { url: target, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventKind, SnapshotFacts};

    fn failed_backup() -> Event {
        let mut event = Event::new(
            EventKind::VerifyFailed,
            Some("<!channel> shop"),
            false,
            "snapshot 0123abcd did not verify",
        );
        event.snapshot = Some(SnapshotFacts {
            id: "0123abcdef".into(),
            time: "2026-12-01T03:00:00Z".parse().unwrap(),
            size: 5 << 20,
            sha256: "a1b2c3d4e5f6a7b8c9".into(),
        });
        event
    }

    #[test]
    fn a_message_carries_the_facts_and_what_to_do() {
        let m = message_for(&failed_backup()).unwrap();
        assert!(m.critical);
        assert_eq!(m.title, "Backup of <!channel> shop did not verify");
        for fact in [
            "Snapshot 0123abcd of 2026-12-01 03:00 UTC, 5.0 MiB, SHA-256 a1b2c3d4e5f6…",
            "lifeboat check",
            "<!channel> shop · ",
        ] {
            assert!(m.text.contains(fact), "{fact} in {}", m.text);
        }
        let drill_step = Event::new(EventKind::DrillStart, Some("shop"), true, "drill started");
        assert!(message_for(&drill_step).is_none());
    }

    #[test]
    fn each_format_is_shaped_as_its_service_reads_it() {
        let m = message_for(&failed_backup()).unwrap();
        let url = |u: &str| WebhookUrl::parse(u).unwrap();
        let hook = |u: &str, f| webhook_request(&url(u), f, &m).unwrap();

        let slack = hook("https://hooks.slack.com/services/x", WebhookFormat::Slack).body;
        let text = slack["text"].as_str().unwrap();
        assert!(text.starts_with("*Backup of &lt;!channel&gt; shop did not verify*\n"), "{text}");

        let discord = hook("https://discord.com/api/webhooks/1/x", WebhookFormat::Discord).body;
        assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
        let long = Message {
            text: "x".repeat(5000),
            ..m.clone()
        };
        let cut = webhook_request(&url("https://discord.com/api/webhooks/1/x"), WebhookFormat::Discord, &long).unwrap();
        assert_eq!(cut.body["content"].as_str().unwrap().chars().count(), DISCORD_LIMIT);

        let teams = hook("https://prod.logic.azure.com/workflows/x", WebhookFormat::Teams).body;
        let card = &teams["attachments"][0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["body"][0]["color"], "Attention");

        let ntfy = hook("https://ntfy.example/base/alerts?auth=k", WebhookFormat::Ntfy);
        assert_eq!(ntfy.url.as_str(), "https://ntfy.example/base/?auth=k");
        assert_eq!(
            (ntfy.body["topic"].as_str(), ntfy.body["priority"].as_i64()),
            (Some("alerts"), Some(5))
        );
        assert!(webhook_request(&url("https://ntfy.example/"), WebhookFormat::Ntfy, &m).is_err());
        let root = hook("https://ntfy.example/alerts", WebhookFormat::Ntfy);
        assert_eq!(root.url.as_str(), "https://ntfy.example/");

        let gotify = hook("https://gotify.example/message?token=t", WebhookFormat::Gotify);
        assert_eq!(gotify.url.as_str(), "https://gotify.example/message?token=t");
        assert_eq!(gotify.body["priority"], 8);

        let generic = hook("https://ops.example/hook", WebhookFormat::Generic).body;
        assert_eq!(generic["event"]["snapshot"]["sha256"], "a1b2c3d4e5f6a7b8c9");
        assert_eq!(generic["event"]["kind"], "verify_failed");
    }
}
