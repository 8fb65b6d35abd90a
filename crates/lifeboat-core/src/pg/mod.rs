//! PostgreSQL: where a database is ([`ConnectionSpec`]), which client tools
//! can dump it ([`tools`]), and what it holds ([`inspect`]).
//!
//! Passwords reach `pg_dump` and friends through their environment
//! (`PGPASSWORD`) or libpq's own `.pgpass` / service files, never argv,
//! where every user of the machine could read them.

pub mod archive;
pub mod base_tar;
pub mod binaries;
pub mod cluster;
pub mod database_config;
pub mod facts;
pub mod inspect;
pub mod roles;
pub mod scratch;
pub mod service;
pub mod tools;
pub mod wal;

use std::collections::BTreeMap;
use std::path::Path;
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
    /// A host name or address, or (starting with `/`) the directory of the
    /// server's Unix socket, as libpq's `host`.
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
    /// Parses `postgres://user[:password]@host[:port]/database[?sslmode=...]`,
    /// and the forms libpq takes for a local server: a Unix socket's
    /// directory as `?host=/var/run/postgresql` or as a %-encoded host
    /// (`postgres://%2Fvar%2Frun%2Fpostgresql/db`), and no host at all
    /// (`postgres:///db`: the default socket directory). `port` and
    /// `user` may be given as parameters too, and `service=NAME` takes
    /// what the URL leaves out from libpq's service file ([`service`]).
    pub fn parse_url(text: &str) -> Result<ConnectionSpec> {
        Self::parse(text, None)
    }

    /// Parses a URL that names a whole server, `postgres://user@host:port`
    /// (the forms of [`ConnectionSpec::parse_url`]): its database, when
    /// one is given, is only where Lifeboat connects; else `postgres`.
    pub fn parse_server_url(text: &str) -> Result<ConnectionSpec> {
        Self::parse(text, Some("postgres"))
    }

    fn parse(text: &str, default_database: Option<&str>) -> Result<ConnectionSpec> {
        let bad = |why: &str| Error::InvalidInput(format!("`{}` is not a usable database URL: {why}", redact(text)));
        let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(bad("it must start with postgres://"));
        }
        let decode = |s: &str| percent_decode(s).map_err(|_| bad("bad %-escape"));
        // What the URL says, by libpq's names; a service fills in the rest.
        let mut given: BTreeMap<String, String> = BTreeMap::new();
        let host = decode(url.host_str().unwrap_or_default())?.trim_matches(['[', ']']).to_string();
        let port = url.port().map(|port| port.to_string()).unwrap_or_default();
        let password = url.password().map(decode).transpose()?.unwrap_or_default();
        let from_url = [
            ("dbname", decode(url.path().trim_start_matches('/'))?),
            ("host", host),
            ("port", port),
            ("user", decode(url.username())?),
            ("password", password),
        ];
        given.extend(from_url.into_iter().map(|(key, value)| (key.to_string(), value)));
        let mut service = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "host" | "port" | "user" | "sslmode" => {
                    given.insert(key.into_owned(), value.into_owned());
                }
                "service" => service = Some(value.into_owned()),
                other => {
                    return Err(bad(&format!(
                        "unsupported parameter `{other}` (host, port, user, sslmode and service are)"
                    )))
                }
            }
        }
        given.retain(|_, value| !value.is_empty());
        if let Some(service) = service {
            for (key, value) in service::lookup(&service)? {
                given.entry(key).or_insert(value);
            }
            given.retain(|_, value| !value.is_empty());
        }
        let database = given
            .remove("dbname")
            .or_else(|| default_database.map(str::to_owned))
            .ok_or_else(|| bad("name the database at the end, as in postgres://user@host:5432/mydb"))?;
        let tls = given
            .get("sslmode")
            .map(|mode| TlsMode::parse(mode))
            .transpose()?
            .unwrap_or_default();
        let port = match given.get("port") {
            Some(port) => port.parse().map_err(|_| bad(&format!("`{port}` is not a port number")))?,
            None => 5432,
        };
        let host = given.remove("host").unwrap_or_else(default_socket_directory);
        if host.starts_with('/') && !Path::new(&host).is_dir() {
            return Err(bad(&format!(
                "there is no socket directory {host}: name the folder holding the server's `.s.PGSQL.{port}`"
            )));
        }
        Ok(ConnectionSpec {
            host,
            port,
            database,
            user: given.remove("user").unwrap_or_else(whoami::username),
            password: given.remove("password").map(Zeroizing::new),
            tls,
        })
    }

    /// Whether the server is reached through a Unix socket.
    pub fn is_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// The URL without its password: safe for logs, manifests and the UI.
    pub fn display_url(&self) -> String {
        if self.is_socket() {
            // What a query value cannot hold as it is.
            const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
                .add(b' ')
                .add(b'&')
                .add(b'#')
                .add(b'%')
                .add(b'+')
                .add(b'=');
            // ... and what a path segment cannot.
            const RESERVED_IN_PATH: &percent_encoding::AsciiSet = &RESERVED.add(b'?').add(b'/');
            let encode = |text| percent_encoding::utf8_percent_encode(text, RESERVED);
            let path = percent_encoding::utf8_percent_encode(&self.database, RESERVED_IN_PATH);
            return format!(
                "postgres:///{path}?host={}&port={}&user={}",
                encode(&self.host),
                self.port,
                encode(&self.user)
            );
        }
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

    /// Gives `command` (a libpq tool) this connection's environment, and
    /// drops variables of the workstation's environment that libpq would
    /// let override it: a `PGSERVICE` or `PGHOSTADDR` could send the tool
    /// to another server than the one Lifeboat checked.
    pub fn set_libpq_env(&self, command: &mut std::process::Command) {
        for variable in ["PGSERVICE", "PGHOSTADDR"] {
            command.env_remove(variable);
        }
        command.envs(self.libpq_env());
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
        let options = PgConnectOptions::new().port(self.port);
        let mut options = if self.is_socket() {
            options.socket(&self.host)
        } else {
            options.host(&self.host)
        };
        options = options
            .database(&self.database)
            .username(&self.user)
            .application_name("lifeboat")
            // libpq ignores sslmode on a Unix socket; sqlx would ask the
            // server for TLS there and fail.
            .ssl_mode(if self.is_socket() {
                PgSslMode::Disable
            } else {
                PgSslMode::from_str(self.tls.as_libpq()).unwrap_or(PgSslMode::Prefer)
            })
            // Exact row counts of big tables take seconds by design: not worth a warning.
            .log_slow_statements(log::LevelFilter::Debug, std::time::Duration::from_secs(1));
        if let Some(password) = &self.password {
            options = options.password(password);
        }
        options
    }
}

/// Where libpq looks for a local server when no host is named: on Unix its
/// socket, in Debian's and Ubuntu's directory or else the upstream default;
/// elsewhere `localhost` over TCP.
fn default_socket_directory() -> String {
    if cfg!(unix) {
        ["/var/run/postgresql", "/tmp"]
            .into_iter()
            .find(|dir| Path::new(dir).is_dir())
            .unwrap_or("/tmp")
            .to_string()
    } else {
        "localhost".to_string()
    }
}

fn percent_decode(text: &str) -> std::result::Result<String, std::str::Utf8Error> {
    percent_encoding::percent_decode_str(text).decode_utf8().map(|s| s.into_owned())
}

/// `text` with any password in a URL replaced, for error messages: the
/// one before the host, and a `password=` parameter.
fn redact(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        return text.to_string();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    if url.query_pairs().any(|(key, _)| key == "password") {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                let value = if key == "password" { "***".into() } else { value.into_owned() };
                (key.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
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

    #[test]
    fn local_servers_are_reached_through_their_unix_socket_as_libpq_does() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("run & pg");
        std::fs::create_dir(&socket).unwrap();
        let socket = socket.to_str().unwrap();
        let encoded: String = url::form_urlencoded::byte_serialize(socket.as_bytes()).collect();
        for url in [
            format!("postgres://postgres@{}:5433/shop", encoded.replace('+', "%20")),
            format!("postgres:///shop?host={encoded}&port=5433&user=postgres"),
        ] {
            let spec = ConnectionSpec::parse_url(&url).unwrap();
            assert_eq!(
                (spec.host.as_str(), spec.port, spec.user.as_str()),
                (socket, 5433, "postgres"),
                "{url}"
            );
            assert!(spec.is_socket());
            assert!(spec.libpq_env().contains(&("PGHOST", socket.to_string())));
            // What the app shows parses back to the same server.
            let shown = ConnectionSpec::parse_url(&spec.display_url()).unwrap();
            assert_eq!(
                (shown.host, shown.port, shown.database),
                (spec.host.clone(), 5433, "shop".to_string())
            );
        }
        let default = ConnectionSpec::parse_url("postgres:///shop").unwrap();
        assert!(default.is_socket() && default.port == 5432, "{}", default.display_url());
        let err = ConnectionSpec::parse_url("postgres:///shop?host=/no/such/folder")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no socket directory /no/such/folder"), "{err}");
        let err = ConnectionSpec::parse_url("postgres:///shop?port=fifty").unwrap_err().to_string();
        assert!(err.contains("`fifty` is not a port number"), "{err}");
        let err = ConnectionSpec::parse_url("postgres:///shop?options=-cwork_mem%3D1GB")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unsupported parameter `options`"), "{err}");
        let err = ConnectionSpec::parse_url("postgres://u@h/shop?password=hunter2")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unsupported parameter `password`") && !err.contains("hunter2"),
            "{err}"
        );
    }
}
