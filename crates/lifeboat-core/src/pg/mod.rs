//! PostgreSQL: where a database is ([`ConnectionSpec`]), which client tools
//! can dump it ([`tools`]), and what it holds ([`inspect`]).
//!
//! Passwords reach `pg_dump` and friends through their environment
//! (`PGPASSWORD`) or libpq's own `.pgpass` / service files, never argv,
//! where every user of the machine could read them.

pub mod archive;
pub mod database_config;
pub mod facts;
pub mod inspect;
pub mod roles;
pub mod tools;

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::ConnectOptions;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// How the connection uses TLS: libpq's `sslmode` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    Disable,
    Allow,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl TlsMode {
    pub fn as_libpq(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Allow => "allow",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    pub fn parse(text: &str) -> Result<TlsMode> {
        Ok(match text {
            "disable" => TlsMode::Disable,
            "allow" => TlsMode::Allow,
            "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            other => {
                return Err(Error::InvalidInput(format!(
                    "unknown sslmode `{other}`: use disable, allow, prefer, require, verify-ca or verify-full"
                )))
            }
        })
    }
}

/// One database on one server.
#[derive(Clone)]
pub struct ConnectionSpec {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    /// None: libpq's `.pgpass` / `PGPASSWORD` of the environment apply.
    pub password: Option<Zeroizing<String>>,
    pub tls: TlsMode,
}

impl std::fmt::Debug for ConnectionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display_url())
    }
}

impl ConnectionSpec {
    /// Parses `postgres://user[:password]@host[:port]/database[?sslmode=...]`.
    pub fn parse_url(text: &str) -> Result<ConnectionSpec> {
        let bad = |why: &str| Error::InvalidInput(format!("`{}` is not a usable database URL: {why}", redact(text)));
        let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(bad("it must start with postgres://"));
        }
        let decode = |s: &str| percent_decode(s).map_err(|_| bad("bad %-escape"));
        let database = decode(url.path().trim_start_matches('/'))?;
        if database.is_empty() {
            return Err(bad("name the database at the end, as in postgres://user@host:5432/mydb"));
        }
        let mut tls = TlsMode::default();
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "sslmode" => tls = TlsMode::parse(&value)?,
                other => return Err(bad(&format!("unsupported parameter `{other}` (only sslmode is)"))),
            }
        }
        let user = if url.username().is_empty() {
            whoami::username()
        } else {
            decode(url.username())?
        };
        Ok(ConnectionSpec {
            host: url.host_str().unwrap_or("localhost").trim_matches(['[', ']']).to_string(),
            port: url.port().unwrap_or(5432),
            database,
            user,
            password: url.password().map(decode).transpose()?.map(Zeroizing::new),
            tls,
        })
    }

    /// The URL without its password: safe for logs, manifests and the UI.
    pub fn display_url(&self) -> String {
        // An IPv6 address goes in brackets, or its colons read as the port's.
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("postgres://{}@{host}:{}/{}", self.user, self.port, self.database)
    }

    /// The same server, another database (`postgres` for maintenance work).
    pub fn with_database(&self, database: &str) -> ConnectionSpec {
        ConnectionSpec {
            database: database.to_string(),
            ..self.clone()
        }
    }

    /// A database name as a libpq connection string (`dbname='...'`), for
    /// tools that need it in argv (`pg_restore --dbname`, `pg_dumpall
    /// --database`). libpq reads a bare name that contains `=` or starts
    /// with `postgres://` as a connection string, which could send the
    /// password to another server; quoted inside one, it is only a name.
    pub fn database_conninfo(database: &str) -> String {
        format!("dbname='{}'", database.replace('\\', "\\\\").replace('\'', "\\'"))
    }

    /// Environment for libpq tools (`pg_dump`, `pg_restore`, `psql`).
    pub fn libpq_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("PGHOST", self.host.clone()),
            ("PGPORT", self.port.to_string()),
            ("PGDATABASE", self.database.clone()),
            ("PGUSER", self.user.clone()),
            ("PGSSLMODE", self.tls.as_libpq().to_string()),
            ("PGAPPNAME", "lifeboat".to_string()),
            // Tools never stop to ask: a missing password is an error.
            ("PGCONNECT_TIMEOUT", "15".to_string()),
        ];
        if let Some(password) = &self.password {
            env.push(("PGPASSWORD", password.to_string()));
        }
        env
    }

    /// Options for a direct (sqlx) connection.
    pub fn connect_options(&self) -> PgConnectOptions {
        let mut options = PgConnectOptions::new()
            .host(&self.host)
            .port(self.port)
            .database(&self.database)
            .username(&self.user)
            .application_name("lifeboat")
            .ssl_mode(PgSslMode::from_str(self.tls.as_libpq()).unwrap_or(PgSslMode::Prefer))
            // Exact row counts of big tables take seconds by design: not worth a warning.
            .log_slow_statements(log::LevelFilter::Debug, std::time::Duration::from_secs(1));
        if let Some(password) = &self.password {
            options = options.password(password);
        }
        options
    }
}

fn percent_decode(text: &str) -> std::result::Result<String, std::str::Utf8Error> {
    percent_encoding::percent_decode_str(text).decode_utf8().map(|s| s.into_owned())
}

/// `text` with any password in a URL replaced, for error messages.
fn redact(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => text.to_string(),
    }
}

/// Quotes an identifier for SQL.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_never_show_their_password() {
        let spec = ConnectionSpec::parse_url("postgres://app%40corp:s%3Acret@db.example:6543/sales?sslmode=require").unwrap();
        assert_eq!(
            (spec.user.as_str(), spec.host.as_str(), spec.port),
            ("app@corp", "db.example", 6543)
        );
        assert_eq!((spec.database.as_str(), spec.tls), ("sales", TlsMode::Require));
        assert_eq!(spec.password.as_deref().map(String::as_str), Some("s:cret"));
        assert_eq!(spec.display_url(), "postgres://app@corp@db.example:6543/sales");
        assert!(!format!("{spec:?}").contains("s:cret"));
        let env = spec.libpq_env();
        assert!(env.contains(&("PGPASSWORD", "s:cret".into())));
        assert!(env.contains(&("PGSSLMODE", "require".into())));

        let err = ConnectionSpec::parse_url("postgres://u:hunter2@h/").unwrap_err().to_string();
        assert!(err.contains("name the database") && !err.contains("hunter2"), "{err}");
        assert!(ConnectionSpec::parse_url("mysql://u@h/db").is_err());
        assert!(ConnectionSpec::parse_url("postgres://u@h/db?sslmode=sometimes").is_err());
        let v6 = ConnectionSpec::parse_url("postgresql://u@[::1]/db").unwrap();
        assert_eq!((v6.host.as_str(), v6.display_url().as_str()), ("::1", "postgres://u@[::1]:5432/db"));
    }
}
