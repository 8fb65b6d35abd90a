//! What a restore would meet on its target, found without changing it.

use serde::Serialize;
use sqlx::Connection;

use crate::error::Result;
use crate::pg::facts::PgFacts;
use crate::pg::inspect::{self, major_of, pg_error};
use crate::pg::ConnectionSpec;
use crate::repo::manifest::Snapshot;

use super::Shape;

/// What a preflight found; `restore` refuses on `refusal`.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Preflight {
    pub target_server_version: String,
    pub database_exists: bool,
    pub database_empty: bool,
    pub missing_roles: Vec<String>,
    pub missing_extensions: Vec<String>,
    /// Why the restore would be refused (without `force`, where it helps).
    pub refusal: Option<String>,
    pub warnings: Vec<String>,
}

/// Checks the target without changing anything.
pub async fn preflight(snapshot: &Snapshot, target: &ConnectionSpec, force: bool, shape: &Shape) -> Result<Preflight> {
    let facts = PgFacts::of(snapshot)?;
    let admin = target.with_database("postgres");
    let mut conn = inspect::connect(&admin).await?;
    let (version_num, version) = inspect::server_version(&mut conn, &admin).await?;
    let existing_roles: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| pg_error("listing the roles of", &admin, e))?;
    let available: Vec<String> = sqlx::query_scalar("SELECT name::text FROM pg_available_extensions")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| pg_error("listing the extensions of", &admin, e))?;
    let _ = conn.close().await;

    let exists = inspect::database_exists(target).await?;
    let contents = if exists {
        inspect::inspect(target).await?.contents
    } else {
        Vec::new()
    };
    let empty = contents.is_empty();
    let missing_roles: Vec<String> = match shape.carries_roles() {
        true => facts.roles.iter().filter(|r| !existing_roles.contains(r)).cloned().collect(),
        false => Vec::new(),
    };
    let missing_extensions: Vec<String> = facts
        .extensions
        .iter()
        .map(|e| e.name.clone())
        .filter(|name| !available.contains(name))
        .collect();

    let mut warnings = Vec::new();
    let mut refusal = None;
    let target_major = major_of(version_num);
    if target_major < facts.server_major() {
        let message = format!(
            "the target runs PostgreSQL {target_major}, older than the server the dump came from ({}): a newer pg_dump writes \
             settings an older server may reject",
            facts.server_major()
        );
        if force {
            warnings.push(message);
        } else {
            refusal = Some(format!(
                "{message}; restore onto PostgreSQL {} or newer, or confirm to try anyway (--force; in the app, type the database's name)",
                facts.server_major()
            ));
        }
    }
    let partial = !shape.selection.is_empty();
    if exists && !empty && partial {
        warnings.push(format!(
            "database {} holds data: the chosen tables are restored beside the originals as new tables named \
             <table>_restored_<time>, and nothing in it is replaced",
            target.database
        ));
    } else if exists && !empty && !force {
        refusal.get_or_insert(format!(
            "database {} on {}:{} is not empty (it holds {}): restore into a new database name, or confirm replacing it \
             (--force; in the app, type its name); the current one is kept, renamed",
            target.database,
            target.host,
            target.port,
            contents.join(", ")
        ));
    }
    if let Some(owner) = shape.role.as_ref().filter(|o| !existing_roles.contains(o)) {
        refusal = Some(format!(
            "the role {owner} that is to own everything does not exist on the target: create it first, or keep the backup's owners"
        ));
    }
    if !missing_extensions.is_empty() {
        refusal = Some(format!(
            "the target server lacks the extension(s) {}: install them there first (on Debian/Ubuntu: postgresql-contrib \
             or the extension's package)",
            missing_extensions.join(", ")
        ));
    }
    Ok(Preflight {
        target_server_version: version,
        database_exists: exists,
        database_empty: empty,
        missing_roles,
        missing_extensions,
        refusal,
        warnings,
    })
}
