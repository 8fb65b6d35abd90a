//! What a database is beyond its contents: its owner and its `ALTER
//! DATABASE ... SET` settings (for everyone, and per role). pg_dump's
//! archive of one database (made without `--create`) carries neither, so a
//! backup reads them from the catalog as data and a restore applies them to
//! its scratch database before the swap, with quoted identifiers and
//! literals: a hostile setting value stays one string.

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::inspect::pg_error;
use super::{quote_ident, ConnectionSpec};
use crate::error::Result;

/// A database's owner and settings, as the source server had them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DatabaseConfig {
    pub owner: String,
    pub settings: Vec<DatabaseSetting>,
}

/// One `ALTER [ROLE r IN] DATABASE d SET name = value`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DatabaseSetting {
    /// None: for every role.
    pub role: Option<String>,
    pub name: String,
    pub value: String,
}

/// Settings whose value is a list of names (PostgreSQL's GUC_LIST_QUOTE
/// ones): each element is set as its own literal, as pg_dump does.
const LIST_SETTINGS: &[&str] = &[
    "local_preload_libraries",
    "search_path",
    "session_preload_libraries",
    "shared_preload_libraries",
    "temp_tablespaces",
    "unix_socket_directories",
];

impl DatabaseSetting {
    /// The statement that sets it on `database`, or None when the name is
    /// not a setting name (then it is reported, never sent).
    pub fn statement(&self, database: &str) -> Option<String> {
        let name = setting_name(&self.name)?;
        let value = if LIST_SETTINGS.contains(&self.name.to_ascii_lowercase().as_str()) {
            split_list(&self.value).iter().map(|v| literal(v)).collect::<Vec<_>>().join(", ")
        } else {
            literal(&self.value)
        };
        let scope = match &self.role {
            Some(role) => format!("ROLE {} IN DATABASE {}", quote_ident(role), quote_ident(database)),
            None => format!("DATABASE {}", quote_ident(database)),
        };
        Some(format!("ALTER {scope} SET {name} TO {value}"))
    }
}

/// `name` as quoted identifiers (`"work_mem"`, `"myapp"."flag"`), when it
/// is made of plain identifier parts.
fn setting_name(name: &str) -> Option<String> {
    let part_ok = |p: &str| {
        p.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    };
    let parts: Vec<&str> = name.split('.').collect();
    parts.iter().all(|p| part_ok(p)).then(|| {
        parts
            .iter()
            .map(|p| quote_ident(&p.to_ascii_lowercase()))
            .collect::<Vec<_>>()
            .join(".")
    })
}

/// A string literal that means exactly `value` whatever
/// `standard_conforming_strings` says.
fn literal(value: &str) -> String {
    format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// A stored list value (`"$user", public`) as its elements (`$user`,
/// `public`): split at commas outside double quotes, quotes removed.
fn split_list(value: &str) -> Vec<String> {
    let mut elements = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => elements.push(std::mem::take(&mut current)),
            c if c.is_whitespace() && !quoted => {}
            c => current.push(c),
        }
    }
    elements.push(current);
    elements.retain(|e| !e.is_empty());
    elements
}

/// Reads the owner and settings of `conn`'s database.
pub async fn read(conn: &mut PgConnection, spec: &ConnectionSpec) -> Result<DatabaseConfig> {
    let fail = |e| pg_error("reading the settings of", spec, e);
    let owner: String = sqlx::query_scalar("SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()")
        .fetch_one(&mut *conn)
        .await
        .map_err(fail)?;
    let rows: Vec<(Option<String>, String)> = sqlx::query_as(
        "SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole)::text END, c.setting
           FROM pg_db_role_setting s CROSS JOIN LATERAL unnest(s.setconfig) AS c(setting)
          WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
          ORDER BY 1 NULLS FIRST, 2",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(fail)?;
    let settings = rows
        .into_iter()
        .filter_map(|(role, setting)| {
            let (name, value) = setting.split_once('=')?;
            Some(DatabaseSetting {
                role,
                name: name.to_string(),
                value: value.to_string(),
            })
        })
        .collect();
    Ok(DatabaseConfig { owner, settings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(name: &str, value: &str) -> DatabaseSetting {
        DatabaseSetting {
            role: None,
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn hostile_values_stay_one_literal_and_odd_names_are_never_sent() {
        assert_eq!(
            setting("application_name", "x'; DROP TABLE t; --\\").statement("shop").unwrap(),
            "ALTER DATABASE \"shop\" SET \"application_name\" TO E'x''; DROP TABLE t; --\\\\'"
        );
        assert_eq!(setting("work_mem; DROP TABLE t", "1").statement("shop"), None);
        assert_eq!(
            setting("myapp.Flag", "on").statement("shop").unwrap(),
            "ALTER DATABASE \"shop\" SET \"myapp\".\"flag\" TO E'on'"
        );
    }

    #[test]
    fn list_settings_are_set_element_by_element() {
        let mut search_path = setting("search_path", "\"$user\", public, \"odd,\"\"name\"");
        search_path.role = Some("app".into());
        assert_eq!(
            search_path.statement("shop").unwrap(),
            "ALTER ROLE \"app\" IN DATABASE \"shop\" SET \"search_path\" TO E'$user', E'public', E'odd,\"name'"
        );
    }
}
