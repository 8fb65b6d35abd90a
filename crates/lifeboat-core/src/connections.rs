//! The team's PostgreSQL databases, by name: where each is, how to reach it,
//! which client tools dump it. Stored in the catalog; passwords live in
//! the OS keychain ([`KeyStore`]) or libpq's own `PGPASSWORD` / `.pgpass`.
//!
//! A connection's name is also the tag of its snapshots, so `latest:NAME`
//! is its newest backup.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::crypto::keychain::KeyStore;
use crate::error::{Error, Result};
use crate::pg::{inspect, tools, ConnectionSpec, TlsMode};
use crate::repo::manifest::validate_tag;

/// A saved connection (never its password).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Connection {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub tls: TlsMode,
    /// Client tools folder to use instead of searching.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub pg_bin: Option<PathBuf>,
    /// Whether the OS keychain holds this connection's password.
    pub password_in_keychain: bool,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub created_at: DateTime<Utc>,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub updated_at: DateTime<Utc>,
    /// Set when the connection names a whole server: `database` is then
    /// only where Lifeboat connects to list the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub server: Option<ServerScope>,
}

/// Which databases of a server connection are backed up: those matching
/// an include pattern (all when there is none) and no exclude pattern.
/// Patterns are shell-style: `*` any run of characters, `?` one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServerScope {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl ServerScope {
    /// Checks the patterns (a bad one would silently match nothing).
    pub fn new(include: Vec<String>, exclude: Vec<String>) -> Result<ServerScope> {
        for pattern in include.iter().chain(&exclude) {
            glob::Pattern::new(pattern).map_err(|e| Error::InvalidInput(format!("the database pattern {pattern:?} is not usable: {e}")))?;
        }
        Ok(ServerScope { include, exclude })
    }

    pub fn covers(&self, database: &str) -> bool {
        let matches = |patterns: &[String]| patterns.iter().any(|p| glob::Pattern::new(p).is_ok_and(|p| p.matches(database)));
        (self.include.is_empty() || matches(&self.include)) && !matches(&self.exclude)
    }
}

impl Connection {
    /// A new connection to the database `spec` names.
    pub fn new(name: &str, spec: &ConnectionSpec, pg_bin: Option<PathBuf>, now: DateTime<Utc>) -> Result<Connection> {
        validate_name(name)?;
        Ok(Connection {
            name: name.to_string(),
            host: spec.host.clone(),
            port: spec.port,
            database: spec.database.clone(),
            user: spec.user.clone(),
            tls: spec.tls,
            pg_bin,
            password_in_keychain: false,
            created_at: now,
            updated_at: now,
            server: None,
        })
    }

    /// Where to connect, with the keychain's password when one is saved
    /// (else libpq's environment and `.pgpass` apply).
    pub fn spec(&self, keychain: Option<&dyn KeyStore>) -> Result<ConnectionSpec> {
        let password = match (self.password_in_keychain, keychain) {
            (true, Some(keychain)) => keychain.load_password(&self.name)?,
            _ => None,
        };
        Ok(ConnectionSpec {
            host: self.host.clone(),
            port: self.port,
            database: self.database.clone(),
            user: self.user.clone(),
            password,
            tls: self.tls,
        })
    }

    pub fn display_url(&self) -> String {
        self.spec(None).map(|s| s.display_url()).unwrap_or_default()
    }
}

/// Names become snapshot tags and keychain accounts: keep them plain.
pub fn validate_name(name: &str) -> Result<()> {
    if name.len() > 64 {
        return Err(Error::InvalidInput(format!(
            "the connection name `{name}` is too long: use at most 64 characters"
        )));
    }
    // A `/` would read as one database of a server connection.
    if name.contains('/') || validate_tag(name).is_err() {
        return Err(Error::InvalidInput(format!(
            "`{name}` is not a usable connection name: use letters, digits and . _ - @ + (it also names the snapshots)"
        )));
    }
    Ok(())
}

/// What testing a connection found.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConnectionCheck {
    pub url: String,
    pub server_version: String,
    pub server_major: u32,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub database_size: u64,
    /// False when the database does not exist yet (a restore target may not).
    pub database_exists: bool,
    pub database_empty: bool,
    pub extensions: Vec<String>,
    /// "pg_dump 15.18 in /usr/lib/postgresql/15/bin", when a fitting one exists.
    pub pg_dump: Option<String>,
    /// Otherwise what to install.
    pub pg_dump_problem: Option<String>,
}

/// Connects, inspects the database and finds the `pg_dump` that fits.
pub async fn test(spec: &ConnectionSpec, pg_bin: Option<&Path>) -> Result<ConnectionCheck> {
    let exists = inspect::database_exists(spec).await?;
    let (major, version, size, empty, extensions) = if exists {
        let info = inspect::inspect(spec).await?;
        let extensions = info.extensions.iter().map(|e| e.name.clone()).collect();
        (
            info.server_major(),
            info.server_version.clone(),
            info.size_bytes,
            info.is_empty(),
            extensions,
        )
    } else {
        let mut conn = inspect::connect(&spec.with_database("postgres")).await?;
        let (num, version) = inspect::server_version(&mut conn, spec).await?;
        (inspect::major_of(num), version, 0, true, Vec::new())
    };
    let (pg_dump, pg_dump_problem) = match tools::find(major, pg_bin) {
        Ok(t) => (Some(format!("pg_dump {} in {}", t.version, t.bin_dir.display())), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(ConnectionCheck {
        url: spec.display_url(),
        server_version: version,
        server_major: major,
        database_size: size,
        database_exists: exists,
        database_empty: empty,
        extensions,
        pg_dump,
        pg_dump_problem,
    })
}
