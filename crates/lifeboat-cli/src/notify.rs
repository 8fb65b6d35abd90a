//! `lifeboat notify ...`: notification channels beside the desktop
//! (e-mail over SMTP, chat webhooks), each with the events it receives.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{ArgGroup, Args, Subcommand};
use lifeboat_core::channels::{Channel, Destination, Route, SmtpServer, WebhookFormat, WebhookUrl};
use lifeboat_core::events::EventLog;
use lifeboat_core::ops::channel::{self, SMTP_PASSWORD_ENV};
use lifeboat_core::paths::Paths;
use secrecy::{ExposeSecret, SecretString};

use crate::commands::print_json;
use crate::context::{open_catalog, runtime};
use crate::credentials::{can_prompt, keychain, prompt};
use crate::schedule::local;
use crate::GlobalArgs;

#[derive(Subcommand)]
pub enum NotifyCommand {
    /// Add a channel: e-mail (--smtp, --to) or a webhook (--webhook, --format).
    Add(AddArgs),
    /// List the channels and how each one's last delivery went.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Send a test message through a channel.
    Test { name: String },
    /// Remove a channel and its saved SMTP password.
    Remove { name: String },
}

#[derive(Args)]
#[command(group(ArgGroup::new("destination").required(true).args(["smtp", "webhook"])))]
pub struct AddArgs {
    name: String,
    /// smtps://USER@HOST:465 (TLS) or smtp://USER@HOST:587 (STARTTLS); the
    /// password is asked for (or read from LIFEBOAT_SMTP_PASSWORD) and kept
    /// in the OS keychain.
    #[arg(long, value_name = "URL", requires = "to")]
    smtp: Option<String>,
    /// Who receives the e-mail (repeatable, or comma-separated).
    #[arg(long, value_name = "ADDRESS")]
    to: Vec<String>,
    /// The sender (default: the SMTP user when it is an address).
    #[arg(long, value_name = "ADDRESS", requires = "smtp")]
    from: Option<String>,
    /// The webhook's URL (it is kept, and never shown whole).
    #[arg(long, value_name = "URL", conflicts_with = "smtp")]
    webhook: Option<String>,
    /// The body the service reads: generic, slack, discord, teams, ntfy or gotify.
    #[arg(long, default_value = "generic", requires = "webhook")]
    format: String,
    /// Which events: failure, restore, drill, stale, success (comma-separated).
    #[arg(long, default_value = "failure,restore,drill,stale")]
    events: String,
    /// Replace the channel of that name.
    #[arg(long)]
    replace: bool,
}

pub fn notify(g: &GlobalArgs, command: &NotifyCommand) -> Result<ExitCode> {
    let runtime = runtime()?;
    let keychain = keychain(g);
    match command {
        NotifyCommand::Add(a) => {
            let routes = Route::parse_list(&a.events)?;
            let destination = match (&a.smtp, &a.webhook) {
                (Some(smtp), _) => Destination::email(SmtpServer::parse(smtp)?, &a.to, a.from.as_deref())?,
                (None, Some(url)) => Destination::Webhook {
                    url: WebhookUrl::parse(url)?,
                    format: WebhookFormat::parse(&a.format)?,
                },
                (None, None) => bail!("say where messages go: --smtp URL --to ADDRESS, or --webhook URL"),
            };
            let channel = Channel::new(&a.name, destination, routes)?;
            let password = smtp_password(&channel, keychain.is_some())?;
            let described = channel.destination.describe();
            let in_keychain = runtime.block_on(async {
                let catalog = open_catalog().await?;
                let password = password.as_ref().map(|p| p.expose_secret());
                anyhow::Ok(channel::save(&catalog, keychain, channel, password, a.replace).await?)
            })?;
            eprintln!("saved channel `{}`: {described}, for {}", a.name, a.events);
            if in_keychain {
                eprintln!("  SMTP password in the OS keychain");
            }
            eprintln!("send a test with `lifeboat notify test {}`", a.name);
        }
        NotifyCommand::List { json } => {
            let summaries = runtime.block_on(async {
                let catalog = open_catalog().await?;
                anyhow::Ok(channel::summaries(&catalog, &EventLog::new(Paths::from_env()?.events())).await?)
            })?;
            if *json {
                print_json(&summaries)?;
            } else if summaries.is_empty() {
                eprintln!(
                    "no channels yet: add one with `lifeboat notify add NAME --webhook URL --format slack` \
                     or `--smtp smtps://USER@HOST:465 --to ADDRESS`"
                );
            }
            for s in summaries.iter().filter(|_| !*json) {
                println!("{}  {}", s.name, s.destination);
                println!("  events: {}", Route::join(&s.routes));
                match &s.last_delivery {
                    Some(e) => println!(
                        "  last delivery: {} {}: {}",
                        local(e.time),
                        if e.ok { "sent" } else { "FAILED" },
                        e.message
                    ),
                    None => println!("  last delivery: none yet"),
                }
            }
        }
        NotifyCommand::Test { name } => {
            let delivery = runtime.block_on(async {
                let catalog = open_catalog().await?;
                anyhow::Ok(channel::test(&catalog, keychain, name).await?)
            })?;
            let tries = match delivery.attempts {
                1 => "1 try".to_string(),
                n => format!("{n} tries"),
            };
            match &delivery.error {
                None => eprintln!("sent a test message through `{name}` ({tries})"),
                Some(why) => bail!("the test message did not reach `{name}` after {tries}: {why}"),
            }
        }
        NotifyCommand::Remove { name } => {
            let removed = runtime.block_on(async {
                let catalog = open_catalog().await?;
                anyhow::Ok(channel::remove(&catalog, keychain, name).await?)
            })?;
            eprintln!("removed channel `{}` ({})", removed.name, removed.destination.describe());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The SMTP password to keep in the keychain: LIFEBOAT_SMTP_PASSWORD's, or
/// asked on the terminal. Without a keychain, senders read the variable.
fn smtp_password(channel: &Channel, keychain: bool) -> Result<Option<SecretString>> {
    let Some(user) = channel.smtp_user() else {
        return Ok(None);
    };
    if !keychain {
        eprintln!("note: without the keychain, every process that sends alerts needs {SMTP_PASSWORD_ENV} set");
        return Ok(None);
    }
    match std::env::var(SMTP_PASSWORD_ENV) {
        Ok(p) => Ok(Some(p.into())),
        Err(_) if can_prompt() => Ok(Some(prompt(&format!("SMTP password of {user}: "))?)),
        Err(_) => bail!("the SMTP password of {user}: set {SMTP_PASSWORD_ENV} or run in a terminal to be asked"),
    }
}
