//! `lifeboat connection ...`: the catalog's saved connections, and how the
//! database commands find theirs (`--connection NAME` or `--db URL`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use chrono::Utc;
use clap::{Args, Subcommand};
use lifeboat_core::connections::{self, Connection, ServerScope};
use lifeboat_core::jobs::server;
use lifeboat_core::ops;
use lifeboat_core::pg::ConnectionSpec;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::commands::{human_bytes, print_json};
use crate::context::{open_catalog, runtime};
use crate::credentials::{can_prompt, keychain, prompt};
use crate::GlobalArgs;

/// Where the database is: a saved connection or a URL.
#[derive(Args)]
pub struct DatabaseArgs {
    /// postgres://user@host:port/database[?sslmode=...]. Keep passwords out
    /// of it: use PGPASSWORD or ~/.pgpass, which pg_dump reads too.
    #[arg(long, env = "LIFEBOAT_DB", required_unless_present = "connection")]
    db: Option<String>,
    /// A saved connection (see `lifeboat connection add`).
    #[arg(long, short = 'c', conflicts_with = "db")]
    connection: Option<String>,
    /// PostgreSQL client tools folder (pg_dump...), instead of searching.
    #[arg(long, env = "LIFEBOAT_PG_BIN")]
    pg_bin: Option<PathBuf>,
}

/// A database to work on, resolved.
pub struct Database {
    pub spec: ConnectionSpec,
    /// The saved connection it came from.
    pub connection: Option<String>,
    pub pg_bin: Option<PathBuf>,
    /// Set when the saved connection names a whole server.
    pub server: Option<ServerScope>,
}

impl DatabaseArgs {
    pub fn resolve(&self, g: &GlobalArgs) -> Result<Database> {
        if let Some(name) = &self.connection {
            let saved = runtime()?.block_on(async {
                let catalog = open_catalog().await?;
                anyhow::Ok(catalog.find_connection(name).await?)
            })?;
            return Ok(Database {
                spec: with_env_password(saved.spec(keychain(g))?),
                connection: Some(saved.name.clone()),
                pg_bin: self.pg_bin.clone().or(saved.pg_bin),
                server: saved.server,
            });
        }
        let Some(url) = &self.db else {
            bail!("say which database: --connection NAME or --db postgres://user@host:port/database");
        };
        Ok(Database {
            spec: url_spec(url)?,
            connection: None,
            pg_bin: self.pg_bin.clone(),
            server: None,
        })
    }
}

/// A URL's connection, with PGPASSWORD when the URL has no password.
pub fn url_spec(url: &str) -> Result<ConnectionSpec> {
    Ok(with_env_password(ConnectionSpec::parse_url(url)?))
}

pub fn with_env_password(mut spec: ConnectionSpec) -> ConnectionSpec {
    if spec.password.is_none() {
        if let Ok(password) = std::env::var("PGPASSWORD") {
            spec.password = Some(password.into());
        }
    }
    spec
}

#[derive(Subcommand)]
pub enum ConnectionCommand {
    /// Save a connection under a name (also the name of its snapshots).
    Add(AddArgs),
    /// List saved connections.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Forget a connection and its saved password (its snapshots stay).
    Remove { name: String },
    /// Connect, inspect the database, and find the pg_dump that fits.
    Test(TestArgs),
}

#[derive(Args)]
pub struct AddArgs {
    name: String,
    /// postgres://user@host:port/database[?sslmode=...]
    #[arg(long, required_unless_present = "server", conflicts_with = "server")]
    db: Option<String>,
    /// A whole server, postgres://user@host:port: every database on it is
    /// backed up (new ones from the next run on), each as NAME/DATABASE.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Only databases matching this pattern (* and ?; repeatable).
    #[arg(long, value_name = "PATTERN", requires = "server")]
    include: Vec<String>,
    /// Never databases matching this pattern (repeatable; wins over --include).
    #[arg(long, value_name = "PATTERN", requires = "server")]
    exclude: Vec<String>,
    /// PostgreSQL client tools folder to use instead of searching.
    #[arg(long)]
    pg_bin: Option<PathBuf>,
    /// Save a password in the OS keychain: PGPASSWORD's, or asked on the terminal.
    #[arg(long)]
    save_password: bool,
    /// Replace the connection of that name.
    #[arg(long)]
    replace: bool,
    /// Save without connecting first.
    #[arg(long)]
    no_test: bool,
}

#[derive(Args)]
pub struct TestArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[arg(long)]
    json: bool,
}

pub fn connection(g: &GlobalArgs, command: &ConnectionCommand) -> Result<ExitCode> {
    let runtime = runtime()?;
    match command {
        ConnectionCommand::Add(a) => {
            let spec = match (&a.db, &a.server) {
                (Some(db), _) => ConnectionSpec::parse_url(db)?,
                (None, Some(server)) => ConnectionSpec::parse_server_url(server)?,
                (None, None) => bail!("say what to connect to: --db URL for one database, --server URL for a whole server"),
            };
            let scope = match &a.server {
                Some(_) => Some(ServerScope::new(a.include.clone(), a.exclude.clone())?),
                None => None,
            };
            let mut password: Option<SecretString> = spec.password.as_ref().map(|p| p.as_str().into());
            if a.save_password && password.is_none() {
                password = match std::env::var("PGPASSWORD") {
                    Ok(p) => Some(p.into()),
                    Err(_) if can_prompt() => Some(prompt(&format!("Password of {}: ", spec.display_url()))?),
                    Err(_) => bail!("--save-password needs PGPASSWORD set or a terminal to ask on"),
                };
            }
            if !a.no_test {
                let mut tested = spec.clone();
                tested.password = password
                    .as_ref()
                    .map(|p| Zeroizing::new(p.expose_secret().to_string()))
                    .or(tested.password);
                let check = runtime.block_on(connections::test(&with_env_password(tested.clone()), a.pg_bin.as_deref()))?;
                print_check(&check);
                if let Some(scope) = &scope {
                    let (chosen, skipped) = runtime.block_on(server::discover(&with_env_password(tested), scope))?;
                    println!("  databases backed up: {}", list_or_none(&chosen));
                    println!("  left out: {}", list_or_none(&skipped));
                }
            }
            let mut new = Connection::new(&a.name, &spec, a.pg_bin.clone(), Utc::now())?;
            new.server = scope;
            let saved = runtime.block_on(async {
                let catalog = open_catalog().await?;
                anyhow::Ok(
                    ops::connection::save(&catalog, keychain(g), new, password.as_ref().map(|p| p.expose_secret()), a.replace).await?,
                )
            })?;
            eprintln!(
                "saved connection `{}` ({}){}",
                saved.name,
                saved.display_url(),
                if saved.password_in_keychain {
                    ", password in the OS keychain"
                } else {
                    ""
                }
            );
        }
        ConnectionCommand::List { json } => {
            let all = runtime.block_on(async { anyhow::Ok(open_catalog().await?.connections().await?) })?;
            if *json {
                print_json(&all)?;
            } else if all.is_empty() {
                eprintln!("no connections yet: add one with `lifeboat connection add NAME --db postgres://user@host:port/database`");
            } else {
                for c in &all {
                    let password = if c.password_in_keychain { "keychain" } else { "libpq" };
                    let what = if c.server.is_some() { "server" } else { "database" };
                    println!("{:<24} {what:<8} {:<56} password: {password}", c.name, c.display_url());
                }
            }
        }
        ConnectionCommand::Remove { name } => {
            let removed = runtime.block_on(async {
                let catalog = open_catalog().await?;
                anyhow::Ok(ops::connection::remove(&catalog, keychain(g), name).await?)
            })?;
            eprintln!("removed connection `{}`; its snapshots stay in the repository", removed.name);
        }
        ConnectionCommand::Test(a) => {
            let database = a.database.resolve(g)?;
            let check = runtime.block_on(connections::test(&database.spec, database.pg_bin.as_deref()))?;
            if a.json {
                print_json(&check)?;
            } else {
                print_check(&check);
            }
            if check.pg_dump.is_none() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn print_check(check: &connections::ConnectionCheck) {
    println!("{}: PostgreSQL {}", check.url, check.server_version);
    if !check.database_exists {
        println!("  the database does not exist yet");
    } else {
        println!(
            "  {}, {}{}",
            human_bytes(check.database_size),
            if check.database_empty { "empty" } else { "has data" },
            if check.extensions.is_empty() {
                String::new()
            } else {
                format!(", extensions: {}", check.extensions.join(", "))
            }
        );
    }
    match (&check.pg_dump, &check.pg_dump_problem) {
        (Some(tool), _) => println!("  backups will use {tool}"),
        (None, Some(problem)) => println!("  cannot back up yet: {problem}"),
        (None, None) => {}
    }
}
