//! `lifeboat token ...`: who may trigger a checkpoint through the API
//! (`lifeboat daemon --listen`).

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Subcommand;
use lifeboat_core::tokens::TokenScope;
use lifeboat_core::trigger;
use secrecy::ExposeSecret;

use crate::commands::print_json;
use crate::context::{open_catalog, runtime};
use crate::schedule::local;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make a token for a person or a pipeline; it is printed once.
    Add {
        /// Who holds it ("deploy-pipeline", "alice"): recorded with each checkpoint it takes.
        name: String,
        /// What it may do: checkpoint (tokens never restore or delete).
        #[arg(long, value_name = "SCOPE")]
        can: String,
        /// Only checkpoints of this saved connection.
        #[arg(long, value_name = "NAME")]
        database: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the tokens (never the tokens themselves).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: it is refused from now on.
    Revoke { name: String },
}

pub fn token(command: &TokenCommand) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let catalog = open_catalog().await?;
        match command {
            TokenCommand::Add { name, can, database, json } => {
                let scope = TokenScope::parse(can)?;
                let (token, secret) = trigger::issue_token(&catalog, name, scope, database.as_deref()).await?;
                if *json {
                    let mut shown = serde_json::to_value(&token)?;
                    shown["token"] = secret.expose_secret().into();
                    print_json(&shown)?;
                } else {
                    println!("{}", secret.expose_secret());
                    eprintln!(
                        "token `{}` may take checkpoints of {}. It is shown only now: keep it in your pipeline's \
                         secrets. Revoke it with `lifeboat token revoke {}`.",
                        token.name,
                        token
                            .database
                            .as_deref()
                            .map_or("any saved connection".to_owned(), |d| format!("`{d}`")),
                        token.name
                    );
                }
            }
            TokenCommand::List { json } => {
                let tokens = catalog.tokens().await?;
                if *json {
                    print_json(&tokens)?;
                } else if tokens.is_empty() {
                    println!("no tokens: make one with `lifeboat token add NAME --can checkpoint [--database NAME]`");
                } else {
                    for t in tokens {
                        let used = t.last_used.map_or("never used".to_owned(), |at| format!("last used {}", local(at)));
                        println!(
                            "{:<24} {:<10} {:<20} {}  created {}, {used}",
                            t.name,
                            t.scope.as_str(),
                            t.database.as_deref().unwrap_or("(any database)"),
                            t.hint,
                            local(t.created_at)
                        );
                    }
                }
            }
            TokenCommand::Revoke { name } => {
                if !catalog.revoke_token(name).await? {
                    bail!("no token is named `{name}`: `lifeboat token list` shows them");
                }
                println!("revoked token {name}: requests with it are refused from now on");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
