//! What a server and a database hold: version, size, extensions, schemas,
//! the roles the database depends on, and whether it is empty.
//!
//! Plain runtime queries (not compile-checked): system catalogs differ
//! between major versions, and these stick to what every supported one has.

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Row};

use super::ConnectionSpec;
use crate::error::{Error, Result};

/// Schemas that belong to PostgreSQL itself.
const SYSTEM_SCHEMAS: &str =
    "nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp\\_%'";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Extension {
    pub name: String,
    pub version: String,
    pub schema: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatabaseInfo {
    /// `server_version_num`, e.g. 150018.
    pub server_version_num: u32,
    /// `server_version`, e.g. "15.18 (Debian 15.18-0+deb12u1)".
    pub server_version: String,
    pub database: String,
    pub size_bytes: u64,
    pub extensions: Vec<Extension>,
    /// Non-system schemas.
    pub schemas: Vec<String>,
    /// Roles that own objects in the database or were granted rights on them.
    pub roles: Vec<String>,
    /// What the database holds that a restore could destroy, one entry per
    /// kind found (see [`contents`]); empty for an empty database.
    pub contents: Vec<String>,
}

impl DatabaseInfo {
    pub fn server_major(&self) -> u32 {
        major_of(self.server_version_num)
    }

    pub fn is_empty(&self) -> bool {
        self.contents.is_empty()
    }
}

/// The major version in a `server_version_num` (150018 -> 15; 90624 -> 9).
pub fn major_of(version_num: u32) -> u32 {
    version_num / 10000
}

pub(crate) fn pg_error(action: &'static str, spec: &ConnectionSpec, e: impl std::fmt::Display) -> Error {
    Error::Postgres {
        action,
        target: spec.display_url(),
        detail: e.to_string(),
    }
}

/// Connects to `spec`, with an error that says which server and why.
pub async fn connect(spec: &ConnectionSpec) -> Result<PgConnection> {
    PgConnection::connect_with(&spec.connect_options()).await.map_err(|e| {
        let hint = match &e {
            sqlx::Error::Io(_) => ": is the server running and reachable from here (host, port, firewall)?",
            sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000") => ": the database does not exist",
            sqlx::Error::Database(db) if db.code().as_deref() == Some("28P01") => ": check the user name and password",
            _ => "",
        };
        pg_error("connecting to", spec, format!("{e}{hint}"))
    })
}

/// The server's version number without touching a particular database's objects.
pub async fn server_version(conn: &mut PgConnection, spec: &ConnectionSpec) -> Result<(u32, String)> {
    let row = sqlx::query("SELECT current_setting('server_version_num')::int4 AS num, current_setting('server_version') AS text")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error("reading the version of", spec, e))?;
    Ok((row.get::<i32, _>("num") as u32, row.get("text")))
}

/// Everything Lifeboat needs to know about one database.
pub async fn inspect(spec: &ConnectionSpec) -> Result<DatabaseInfo> {
    let mut conn = connect(spec).await?;
    let fail = |e: sqlx::Error| pg_error("inspecting", spec, e);
    let (server_version_num, server_version) = server_version(&mut conn, spec).await?;
    let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&mut conn)
        .await
        .map_err(fail)?;
    let extensions = sqlx::query(
        "SELECT e.extname, e.extversion, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname <> 'plpgsql' ORDER BY e.extname",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(fail)?
    .into_iter()
    .map(|row| Extension {
        name: row.get(0),
        version: row.get(1),
        schema: row.get(2),
    })
    .collect();
    let schemas: Vec<String> = sqlx::query_scalar(&format!("SELECT nspname::text FROM pg_namespace WHERE {SYSTEM_SCHEMAS} ORDER BY 1"))
        .fetch_all(&mut conn)
        .await
        .map_err(fail)?;
    let contents = contents(&mut conn, spec).await?;
    let roles: Vec<String> = sqlx::query_scalar(&format!(
        "WITH user_ns AS (SELECT oid, nspowner FROM pg_namespace WHERE {SYSTEM_SCHEMAS}),
              owners AS (
                SELECT nspowner AS role FROM user_ns
                UNION SELECT relowner FROM pg_class WHERE relnamespace IN (SELECT oid FROM user_ns)
                UNION SELECT proowner FROM pg_proc WHERE pronamespace IN (SELECT oid FROM user_ns)
                UNION SELECT typowner FROM pg_type WHERE typnamespace IN (SELECT oid FROM user_ns)
                UNION SELECT (aclexplode(relacl)).grantee FROM pg_class WHERE relnamespace IN (SELECT oid FROM user_ns) AND relacl IS NOT NULL
                UNION SELECT (aclexplode(nspacl)).grantee FROM pg_namespace WHERE oid IN (SELECT oid FROM user_ns) AND nspacl IS NOT NULL
                UNION SELECT datdba FROM pg_database WHERE datname = current_database())
         SELECT DISTINCT rolname::text FROM pg_roles WHERE oid IN (SELECT role FROM owners) ORDER BY 1"
    ))
    .fetch_all(&mut conn)
    .await
    .map_err(fail)?;
    let _ = conn.close().await;
    Ok(DatabaseInfo {
        server_version_num,
        server_version,
        database: spec.database.clone(),
        size_bytes: size.max(0) as u64,
        extensions,
        schemas,
        roles,
        contents,
    })
}

/// Kinds of content a restore must never drop, each counted by one query:
/// a database holding any of them is not empty.
const CONTENT_KINDS: &[(&str, &str)] = &[
    (
        "tables, views, sequences, functions or types",
        "WITH user_ns AS (SELECT oid FROM pg_namespace WHERE {SYSTEM_SCHEMAS}),
              ext AS (SELECT objid FROM pg_depend WHERE deptype = 'e')
         SELECT (SELECT count(*) FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM user_ns)
                   AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.oid NOT IN (SELECT objid FROM ext))
              + (SELECT count(*) FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM user_ns)
                   AND p.oid NOT IN (SELECT objid FROM ext))
              + (SELECT count(*) FROM pg_type t WHERE t.typnamespace IN (SELECT oid FROM user_ns)
                   AND t.typtype IN ('c', 'd', 'e', 'r') AND t.typrelid = 0 AND t.oid NOT IN (SELECT objid FROM ext))",
    ),
    (
        "schemas",
        "SELECT count(*) FROM pg_namespace n WHERE {SYSTEM_SCHEMAS} AND nspname <> 'public'
           AND n.oid NOT IN (SELECT objid FROM pg_depend WHERE deptype = 'e')",
    ),
    ("large objects", "SELECT count(*) FROM pg_largeobject_metadata"),
    (
        "foreign servers",
        "SELECT count(*) FROM pg_foreign_server s WHERE s.oid NOT IN (SELECT objid FROM pg_depend WHERE deptype = 'e')",
    ),
    (
        "database settings (ALTER DATABASE ... SET)",
        "SELECT count(*) FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())",
    ),
    (
        "event triggers",
        "SELECT count(*) FROM pg_event_trigger t WHERE t.oid NOT IN (SELECT objid FROM pg_depend WHERE deptype = 'e')",
    ),
    ("publications", "SELECT count(*) FROM pg_publication"),
];

/// What `conn`'s database holds that a restore could destroy: user objects,
/// schemas, large objects, foreign servers, database settings, event
/// triggers, publications, and rows in extension configuration tables that
/// the extension marks as wholly user data. (Tables registered with a
/// filter ship rows of their own; the filter is SQL text from the catalog,
/// which Lifeboat does not run, so their rows are not counted.)
pub async fn contents(conn: &mut PgConnection, spec: &ConnectionSpec) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for (kind, query) in CONTENT_KINDS {
        let count: i64 = sqlx::query_scalar(&query.replace("{SYSTEM_SCHEMAS}", SYSTEM_SCHEMAS))
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| pg_error("inspecting", spec, e))?;
        if count > 0 {
            found.push(format!("{count} {kind}"));
        }
    }
    let config_tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text
           FROM pg_extension e
           CROSS JOIN LATERAL unnest(e.extconfig, e.extcondition) AS t(relid, condition)
           JOIN pg_class c ON c.oid = t.relid AND c.relkind = 'r'
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE coalesce(t.condition, '') = ''",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("inspecting", spec, e))?;
    for (schema, table) in config_tables {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM ONLY {}.{})",
            super::quote_ident(&schema),
            super::quote_ident(&table)
        );
        let has_rows: bool = sqlx::query_scalar(&sql)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| pg_error("inspecting", spec, format!("{schema}.{table}: {e}")))?;
        if has_rows {
            found.push(format!("rows in the extension configuration table {schema}.{table}"));
        }
    }
    Ok(found)
}

/// Whether `spec`'s database exists, asked of the server's `postgres` database.
pub async fn database_exists(spec: &ConnectionSpec) -> Result<bool> {
    let admin = spec.with_database("postgres");
    let mut conn = connect(&admin).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&spec.database)
        .fetch_one(&mut conn)
        .await
        .map_err(|e| pg_error("listing the databases of", &admin, e))?;
    let _ = conn.close().await;
    Ok(exists)
}

/// The user tables whose rows are counted: ordinary tables and partitions
/// outside the system schemas and not owned by an extension.
async fn table_names(conn: &mut PgConnection, spec: &ConnectionSpec) -> Result<Vec<(String, String)>> {
    sqlx::query_as(&format!(
        "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'r' AND {SYSTEM_SCHEMAS}
           AND c.oid NOT IN (SELECT objid FROM pg_depend WHERE deptype = 'e') ORDER BY 1, 2"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("listing the tables of", spec, e))
}

/// [`row_counts`]' tables as `schema.table`, for counting them elsewhere.
pub async fn counted_tables(conn: &mut PgConnection, spec: &ConnectionSpec) -> Result<Vec<String>> {
    Ok(table_names(conn, spec)
        .await?
        .into_iter()
        .map(|(s, t)| format!("{s}.{t}"))
        .collect())
}

/// Exact row counts of every user table, read in `conn`'s transaction
/// (so they match a dump taken in the same snapshot).
pub async fn row_counts(conn: &mut PgConnection, spec: &ConnectionSpec) -> Result<std::collections::BTreeMap<String, u64>> {
    let tables = table_names(conn, spec).await?;
    let mut counts = std::collections::BTreeMap::new();
    for (schema, table) in tables {
        let sql = format!(
            "SELECT count(*) FROM ONLY {}.{}",
            super::quote_ident(&schema),
            super::quote_ident(&table)
        );
        let count: i64 = sqlx::query_scalar(&sql)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| pg_error("counting rows in", spec, format!("{schema}.{table}: {e}")))?;
        counts.insert(format!("{schema}.{table}"), count.max(0) as u64);
    }
    Ok(counts)
}
