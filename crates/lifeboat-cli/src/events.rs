//! `lifeboat events`: what happened, from the event log.

use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Local, Utc};
use clap::Args;
use lifeboat_core::events::{Event, EventLog};
use lifeboat_core::paths::Paths;

use crate::schedule::{local, parse_duration};

#[derive(Args)]
pub struct EventsArgs {
    /// Only events since this time (2026-11-20, 2026-11-20T08:00:00Z) or this long ago (36h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// Only events of this connection.
    #[arg(long, short = 'c')]
    connection: Option<String>,
    /// JSON lines, as stored.
    #[arg(long)]
    json: bool,
}

fn parse_since(text: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
        return midnight
            .and_local_timezone(Local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .context("that day has no midnight here");
    }
    let ago = parse_duration(text).with_context(|| format!("--since {text:?}: use a date (2026-11-20), a time (RFC 3339) or 36h / 7d"))?;
    Ok(Utc::now() - chrono::Duration::from_std(ago)?)
}

pub fn events(a: &EventsArgs) -> Result<ExitCode> {
    let since = a.since.as_deref().map(parse_since).transpose()?;
    let log = EventLog::new(Paths::from_env()?.events());
    let events: Vec<Event> = log
        .read(since)?
        .into_iter()
        .filter(|e| a.connection.as_ref().is_none_or(|c| e.connection.as_ref() == Some(c)))
        .collect();
    for event in &events {
        if a.json {
            println!("{}", serde_json::to_string(event)?);
        } else {
            let kind = serde_json::to_value(event.kind)?.as_str().unwrap_or_default().to_string();
            println!(
                "{}  {:<17} {:<4} {}",
                local(event.time),
                kind,
                if event.ok { "ok" } else { "FAIL" },
                event.message
            );
        }
    }
    if events.is_empty() && !a.json {
        eprintln!("no events{}", if since.is_some() { " in that time" } else { " yet" });
    }
    Ok(ExitCode::SUCCESS)
}
