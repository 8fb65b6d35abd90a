//! libpq's connection service file (`pg_service.conf`): named sets of
//! connection parameters, so `postgres:///?service=prod` reaches the server
//! the team's file describes, as `psql service=prod` does.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The parameters a service may set: those Lifeboat passes on to both
/// libpq's tools and its own connections.
const KNOWN: &[&str] = &["host", "port", "dbname", "user", "password", "sslmode"];
/// A service file larger than this is not a service file.
const FILE_MAX: u64 = 1 << 20;

/// The parameters of `service` from the first file that names it, in
/// libpq's order: `PGSERVICEFILE` (else `~/.pg_service.conf`), then
/// `pg_service.conf` in `PGSYSCONFDIR` (else Debian's and Ubuntu's
/// `/etc/postgresql-common`).
pub fn lookup(service: &str) -> Result<BTreeMap<String, String>> {
    let files = service_files();
    for file in &files {
        let unreadable = |e: &dyn std::fmt::Display| Error::InvalidInput(format!("reading the service file {}: {e}", file.display()));
        let text = match std::fs::File::open(file) {
            Ok(opened) => {
                let mut text = String::new();
                opened.take(FILE_MAX + 1).read_to_string(&mut text).map_err(|e| unreadable(&e))?;
                if text.len() as u64 > FILE_MAX {
                    return Err(unreadable(&"it is larger than 1 MiB, which no service file is"));
                }
                text
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(unreadable(&e)),
        };
        if let Some(parameters) = parse(&text, service, file)? {
            return Ok(parameters);
        }
    }
    let looked: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    Err(Error::InvalidInput(format!(
        "no service `{service}` in {}: add a [{service}] section, or point PGSERVICEFILE at the file that has it",
        looked.join(" or ")
    )))
}

fn service_files() -> Vec<PathBuf> {
    let user = std::env::var_os("PGSERVICEFILE")
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|dirs| dirs.home_dir().join(".pg_service.conf")));
    let system = std::env::var_os("PGSYSCONFDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/postgresql-common"))
        .join("pg_service.conf");
    user.into_iter().chain([system]).collect()
}

/// The parameters of the `[service]` section of `text`, if it has one.
/// Lines are `key=value`, `#` starts a comment, as libpq reads them.
pub(crate) fn parse(text: &str, service: &str, file: &Path) -> Result<Option<BTreeMap<String, String>>> {
    let mut found: Option<BTreeMap<String, String>> = None;
    let mut in_service = false;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            if found.is_some() && in_service {
                break;
            }
            in_service = name == service;
            if in_service {
                found = Some(BTreeMap::new());
            }
            continue;
        }
        if !in_service {
            continue;
        }
        let bad = |why: String| Error::InvalidInput(format!("{} line {}: {why}", file.display(), number + 1));
        // The line itself is not shown: it may hold a password.
        let (key, value) = line.split_once('=').ok_or_else(|| bad("this line is not key=value".to_string()))?;
        let key = key.trim();
        if !KNOWN.contains(&key) {
            return Err(bad(format!(
                "service parameter `{key}` is not supported (use {})",
                KNOWN.join(", ")
            )));
        }
        let parameters = found.as_mut().expect("inside a section");
        parameters.insert(key.to_string(), value.trim().to_string());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_section_gives_its_parameters_and_only_known_ones() {
        let file = Path::new("pg_service.conf");
        let text = "# the team's servers\n[staging]\nhost=db2\n\n[prod]\nhost = db1.internal\nport=6543\ndbname=shop\nuser=backup\n[other]\nhost=x\n";
        let prod = parse(text, "prod", file).unwrap().unwrap();
        assert_eq!(
            prod.into_iter().collect::<Vec<_>>(),
            [("dbname", "shop"), ("host", "db1.internal"), ("port", "6543"), ("user", "backup")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert!(parse(text, "missing", file).unwrap().is_none());
        let err = parse("[prod]\nhost=db1\nconnect_timeout=5\n", "prod", file)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 3") && err.contains("`connect_timeout` is not supported"),
            "{err}"
        );
        let err = parse("[prod]\nhost db1\n", "prod", file).unwrap_err().to_string();
        assert!(err.contains("line 2: this line is not key=value"), "{err}");
    }
}
