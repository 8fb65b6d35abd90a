//! What a repository location may be: a local folder or a mounted share
//! (a path or a `file://` URL), an S3-compatible bucket
//! (`s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path-style=true]`), or a
//! folder on an SFTP server (`sftp://[USER@]HOST[:PORT]/PATH`, the path
//! absolute, or under the login folder with `/~/PATH`). Anything else that
//! looks like a URL is refused with what is supported, never taken as a
//! folder name (`ftp://nas/x` would otherwise become a folder called `ftp:`).

use std::fmt;

use percent_encoding::utf8_percent_encode;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Backend, CachedBackend, LocalBackend, ObjectBackend, S3Settings, SftpBackend, SftpSettings};
use crate::crypto::keychain::{KeyStore, StorageCredentials};
use crate::error::{Error, Result};

const SUPPORTED: &str = "a local folder or a mounted share (a path, or file:///path), an S3-compatible bucket \
                         (s3://bucket/prefix), or a folder on an SFTP server (sftp://user@host/path)";

/// A parsed repository location. Its text form ([`fmt::Display`]) is
/// canonical: two spellings of one place give one text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    S3 {
        bucket: String,
        /// Without leading or trailing `/`; may be empty.
        prefix: String,
        /// Settings written into the location; the environment fills in
        /// the rest when the location is opened (see [`Location::open`]).
        endpoint: Option<String>,
        region: Option<String>,
        path_style: Option<bool>,
    },
    Sftp {
        user: Option<String>,
        host: String,
        port: Option<u16>,
        /// Absolute (`/srv/backups`), or relative to the login folder
        /// (`backups`, written `/~/backups`); no trailing `/`.
        path: String,
    },
}

impl Location {
    /// `text` as a process started elsewhere (a server's
    /// `restore_command`, run in its data directory) must give it: a
    /// folder by its absolute path, any other location as it is.
    pub fn absolute_text(text: &str) -> Result<String> {
        Ok(match Location::parse(text)? {
            Location::Local(path) => std::path::absolute(&path)
                .map_err(|e| Error::io("finding", &path, e))?
                .display()
                .to_string(),
            _ => text.to_owned(),
        })
    }

    pub fn parse(text: &str) -> Result<Location> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::InvalidInput(format!("no repository location given: {SUPPORTED}")));
        }
        let Some((scheme, rest)) = url_scheme(text) else {
            return Ok(Location::Local(PathBuf::from(text)));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "file" => match url::Url::parse(text).ok().and_then(|url| url.to_file_path().ok()) {
                Some(path) => Ok(Location::Local(path)),
                None => Err(Error::InvalidInput(format!(
                    "{text} is not a usable file:// URL: write file:///absolute/path, or just the path"
                ))),
            },
            "s3" => parse_s3(text),
            "sftp" => parse_sftp(text),
            _ => Err(Error::InvalidInput(format!(
                "{text}: Lifeboat does not know locations starting with `{scheme}:/{rest_hint}`; a repository is {SUPPORTED}",
                rest_hint = if rest.starts_with('/') { "/" } else { "" }
            ))),
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Location::Local(_))
    }

    /// `storage` behind this workstation's copies of its index files and
    /// manifests, in a cache folder of this location's own.
    fn cached(&self, storage: Arc<dyn Backend>) -> Arc<dyn Backend> {
        use sha2::{Digest, Sha256};
        let key = data_encoding::HEXLOWER.encode(&Sha256::digest(self.to_string().as_bytes())[..12]);
        match crate::paths::cache_dir() {
            Some(dir) => Arc::new(CachedBackend::new(storage, dir.join("repositories").join(key))),
            None => storage,
        }
    }

    /// The storage at this location. S3 settings not written in the location
    /// come from the environment, as the AWS tools read it: `AWS_ENDPOINT_URL`,
    /// `AWS_REGION` / `AWS_DEFAULT_REGION`, `LIFEBOAT_S3_PATH_STYLE`; the
    /// access key from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
    /// `AWS_SESSION_TOKEN`, else the one `keychain` keeps for this location
    /// (saved by the app), else `AWS_PROFILE` and the shared config files.
    pub fn open(&self, keychain: Option<&dyn KeyStore>) -> Result<Arc<dyn Backend>> {
        let env_has_key = std::env::var("AWS_ACCESS_KEY_ID").is_ok_and(|v| !v.trim().is_empty());
        let saved = match keychain {
            // Only S3 locations have access keys; an SFTP login is ssh's own.
            Some(keychain) if !env_has_key && matches!(self, Location::S3 { .. }) => {
                keychain.load_storage_credentials(&self.to_string()).unwrap_or_else(|e| {
                    tracing::warn!("could not read the access key of {self} from the keychain: {e}");
                    None
                })
            }
            _ => None,
        };
        self.open_with(saved)
    }

    /// The storage at this location with this access key (None: the
    /// environment's or the AWS profile's).
    pub fn open_with(&self, credentials: Option<StorageCredentials>) -> Result<Arc<dyn Backend>> {
        match self {
            Location::Local(path) => Ok(Arc::new(LocalBackend::new(path))),
            Location::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                path_style,
            } => {
                let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
                let endpoint = endpoint.clone().or_else(|| env("AWS_ENDPOINT_URL"));
                let region = region.clone().or_else(|| env("AWS_REGION")).or_else(|| env("AWS_DEFAULT_REGION"));
                if endpoint.is_none() && region.is_none() {
                    return Err(Error::InvalidInput(format!(
                        "{self}: which AWS region is the bucket in? Set AWS_REGION (or add ?region=... to the location); for \
                         another S3-compatible service set AWS_ENDPOINT_URL (or ?endpoint=https://...)"
                    )));
                }
                let path_style = path_style.unwrap_or_else(|| env("LIFEBOAT_S3_PATH_STYLE").is_some_and(|v| truthy(&v)));
                let settings = S3Settings {
                    bucket: bucket.clone(),
                    prefix: prefix.clone(),
                    endpoint,
                    region,
                    path_style,
                    credentials,
                };
                Ok(self.cached(Arc::new(ObjectBackend::s3(&settings, self.to_string())?)))
            }
            Location::Sftp { user, host, port, path } => {
                let settings = SftpSettings {
                    user: user.clone(),
                    host: host.clone(),
                    port: *port,
                    path: path.clone(),
                };
                Ok(self.cached(Arc::new(SftpBackend::new(settings, self.to_string()))))
            }
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(path) => write!(f, "{}", path.display()),
            Location::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                path_style,
            } => {
                write!(f, "s3://{bucket}")?;
                if !prefix.is_empty() {
                    write!(f, "/{prefix}")?;
                }
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                if let Some(endpoint) = endpoint {
                    query.append_pair("endpoint", endpoint);
                }
                if let Some(region) = region {
                    query.append_pair("region", region);
                }
                if let Some(path_style) = path_style {
                    query.append_pair("path-style", if *path_style { "true" } else { "false" });
                }
                let query = query.finish();
                if !query.is_empty() {
                    write!(f, "?{query}")?;
                }
                Ok(())
            }
            Location::Sftp { user, host, port, path } => {
                write!(f, "sftp://")?;
                if let Some(user) = user {
                    write!(f, "{}@", utf8_percent_encode(user, URL_PART))?;
                }
                if host.contains(':') {
                    write!(f, "[{host}]")?;
                } else {
                    write!(f, "{host}")?;
                }
                if let Some(port) = port {
                    write!(f, ":{port}")?;
                }
                let path_text = |path: &str| {
                    path.split('/')
                        .map(|segment| utf8_percent_encode(segment, URL_PART).to_string())
                        .collect::<Vec<_>>()
                        .join("/")
                };
                match path.strip_prefix('/') {
                    Some(absolute) => write!(f, "/{}", path_text(absolute)),
                    None => write!(f, "/~/{}", path_text(path)),
                }
            }
        }
    }
}

/// What a user name or path segment escapes in a location's text.
const URL_PART: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b']')
    .add(b'`')
    .add(b'{')
    .add(b'}');

fn truthy(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

fn parse_s3(text: &str) -> Result<Location> {
    let invalid = |why: &str| Error::InvalidInput(format!("{text}: {why}; write s3://bucket/prefix"));
    let url = url::Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        // Not echoed: the text holds a secret.
        return Err(Error::InvalidInput(
            "credentials never go into a repository location (it is shown and stored): give them in AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, and write s3://bucket/prefix"
                .into(),
        ));
    }
    if url.port().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "a bucket has no port or fragment (a server's address goes in ?endpoint=...)",
        ));
    }
    let bucket = url.host_str().unwrap_or_default().to_string();
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !valid_bucket {
        return Err(invalid(
            "the bucket name must be 3-63 lower-case letters, digits, dots or hyphens, starting and ending with a letter or digit",
        ));
    }
    let mut segments = Vec::new();
    for segment in url.path().split('/').filter(|s| !s.is_empty()) {
        // `.` and `..` segments were already resolved by the URL parser.
        let segment = percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .map_err(|_| invalid("the prefix is not UTF-8"))?;
        segments.push(segment.into_owned());
    }
    let (mut endpoint, mut region, mut path_style) = (None, None, None);
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "endpoint" => {
                let parsed = url::Url::parse(&value).map_err(|_| invalid("the endpoint must be a URL like https://s3.example.com"))?;
                if !matches!(parsed.scheme(), "http" | "https") || !parsed.username().is_empty() || parsed.password().is_some() {
                    return Err(invalid("the endpoint must be an http:// or https:// URL without credentials"));
                }
                endpoint = Some(value.trim_end_matches('/').to_string());
            }
            "region" => region = Some(value.into_owned()),
            "path-style" => path_style = Some(truthy(&value)),
            other => return Err(invalid(&format!("unknown setting `{other}` (known: endpoint, region, path-style)"))),
        }
    }
    Ok(Location::S3 {
        bucket,
        prefix: segments.join("/"),
        endpoint,
        region,
        path_style,
    })
}

fn parse_sftp(text: &str) -> Result<Location> {
    let invalid = |why: &str| {
        Error::InvalidInput(format!(
            "{text}: {why}; write sftp://user@host/path (or sftp://user@host:port/path)"
        ))
    };
    let url = url::Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
    if url.password().is_some() {
        // Not echoed: the text holds a secret.
        return Err(Error::InvalidInput(
            "passwords never go into a repository location (it is shown and stored), and Lifeboat logs in to SFTP servers with SSH \
             keys (your agent or ~/.ssh): write sftp://user@host/path"
                .into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "an SFTP location has no settings after `?` or `#` (ssh's own settings go in ~/.ssh/config)",
        ));
    }
    let decode = |part: &str, what: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| invalid(&format!("the {what} is not UTF-8")))
    };
    let user = match url.username() {
        "" => None,
        user => Some(decode(user, "user name")?),
    };
    // Given to ssh as arguments: nothing that could read as an option.
    if let Some(user) = &user {
        if user.starts_with('-') || user.chars().any(|c| c.is_control() || c.is_whitespace() || c == '@') {
            return Err(invalid(
                "the user name may not start with `-` or hold spaces, control characters or `@`",
            ));
        }
    }
    let host = match url.host() {
        Some(url::Host::Domain(name)) => name.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(invalid("the server's name is missing")),
    };
    let host_ok = !host.starts_with('-')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !host_ok {
        return Err(invalid(
            "the server's name may hold only letters, digits, dots, hyphens and underscores",
        ));
    }
    let mut segments = Vec::new();
    for segment in url.path().split('/').filter(|s| !s.is_empty()) {
        segments.push(decode(segment, "path")?);
    }
    let path = match segments.first().map(String::as_str) {
        Some("~") if segments.len() > 1 => segments[1..].join("/"),
        Some("~") | None => {
            return Err(invalid(
                "which folder on the server? Give it after the host: /srv/lifeboat, or /~/lifeboat under the login folder",
            ))
        }
        Some(_) => format!("/{}", segments.join("/")),
    };
    if segments.iter().any(|s| s.chars().any(char::is_control)) {
        return Err(invalid("the path may not hold control characters"));
    }
    Ok(Location::Sftp {
        user,
        host,
        port: url.port(),
        path,
    })
}

/// `("s3", "//bucket")` for `s3://bucket`; `None` for a path, including a
/// Windows one (`C:\backups`, `C:/backups`), whose "scheme" is one letter.
fn url_scheme(location: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = location.split_once(':')?;
    let is_scheme = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    (is_scheme && rest.starts_with('/')).then_some((scheme, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(text: &str) -> PathBuf {
        match Location::parse(text).unwrap() {
            Location::Local(path) => path,
            other => panic!("{text} parsed as {other}"),
        }
    }

    #[test]
    fn paths_and_file_urls_are_folders() {
        assert_eq!(local("/mnt/nas/lifeboat"), PathBuf::from("/mnt/nas/lifeboat"));
        assert_eq!(local("  backups/team "), PathBuf::from("backups/team"));
        assert_eq!(local("C:\\backups"), PathBuf::from("C:\\backups"));
        assert_eq!(local("C:/backups"), PathBuf::from("C:/backups"));
        assert_eq!(local("a:b/c"), PathBuf::from("a:b/c"), "no slash after the colon: a name");
        #[cfg(unix)]
        assert_eq!(local("file:///srv/lifeboat"), PathBuf::from("/srv/lifeboat"));
    }

    #[test]
    fn s3_locations_parse_to_one_canonical_text() {
        let parsed = Location::parse("s3://team-backups/lifeboat/prod/").unwrap();
        assert_eq!(
            parsed,
            Location::S3 {
                bucket: "team-backups".into(),
                prefix: "lifeboat/prod".into(),
                endpoint: None,
                region: None,
                path_style: None,
            }
        );
        assert_eq!(parsed.to_string(), "s3://team-backups/lifeboat/prod");
        let with_settings = "S3://b-1//x?region=eu-west-1&endpoint=http://127.0.0.1:9000/&path-style=yes";
        let parsed = Location::parse(with_settings).unwrap();
        assert_eq!(
            parsed.to_string(),
            "s3://b-1/x?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=eu-west-1&path-style=true"
        );
        assert_eq!(
            Location::parse(&parsed.to_string()).unwrap(),
            parsed,
            "the canonical text parses back"
        );
        assert_eq!(Location::parse("s3://bucket").unwrap().to_string(), "s3://bucket");
    }

    #[test]
    fn sftp_locations_parse_to_one_canonical_text() {
        let parsed = Location::parse("sftp://backup@nas.lan:2222/srv/life%20boat/").unwrap();
        assert_eq!(
            parsed,
            Location::Sftp {
                user: Some("backup".into()),
                host: "nas.lan".into(),
                port: Some(2222),
                path: "/srv/life boat".into(),
            }
        );
        assert_eq!(parsed.to_string(), "sftp://backup@nas.lan:2222/srv/life%20boat");
        let home = Location::parse("SFTP://u123@u123.your-storagebox.de/~/lifeboat").unwrap();
        assert!(matches!(&home, Location::Sftp { path, .. } if path == "lifeboat"));
        assert_eq!(home.to_string(), "sftp://u123@u123.your-storagebox.de/~/lifeboat");
        let ipv6 = Location::parse("sftp://[::1]:22/x").unwrap();
        assert_eq!(ipv6.to_string(), "sftp://[::1]:22/x");
        for parsed in [parsed, home, ipv6] {
            assert_eq!(
                Location::parse(&parsed.to_string()).unwrap(),
                parsed,
                "the canonical text parses back"
            );
        }
    }

    #[test]
    fn bad_locations_are_refused_with_what_works() {
        for (location, expected) in [
            ("s3://AKIA:secret@bucket/x", "credentials never go into a repository location"),
            ("s3://Team_Backups/x", "bucket name must be"),
            ("s3://ab", "bucket name must be"),
            ("s3://bucket:9000/x", "no port"),
            ("s3://bucket/x?acl=public", "unknown setting `acl`"),
            ("s3://bucket/x?endpoint=ftp://host", "http:// or https://"),
            (
                "sftp://admin:hunter2secret@nas/backups",
                "passwords never go into a repository location",
            ),
            ("sftp://nas", "which folder on the server?"),
            ("sftp://nas/~/", "which folder on the server?"),
            ("sftp://-oProxyCommand=x/backups", "server's name may hold only"),
            ("sftp://-oProxyCommand=x@nas/backups", "user name may not start with `-`"),
            ("sftp://nas/backups?port=22", "no settings after `?`"),
            ("gs://bucket/x", "does not know locations starting with `gs://`"),
        ] {
            let err = Location::parse(location).unwrap_err().to_string();
            assert!(err.contains(expected), "{location}: {err}");
            assert!(!err.contains("secret") && !err.contains("hunter2"), "{err}");
        }
        assert!(Location::parse("file://host-name/x").is_err(), "a remote file URL");
        assert!(Location::parse("   ").is_err());
    }
}
