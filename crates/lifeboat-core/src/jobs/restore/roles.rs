//! Roles a dump needs, created on the target from their recorded definitions.

use sqlx::postgres::PgConnection;

use crate::error::Result;
use crate::pg::inspect::pg_error;
use crate::pg::roles::RoleDefinition;
use crate::pg::{quote_ident, ConnectionSpec};

/// Roles a restore created, and what it could not carry.
#[derive(Default)]
pub(crate) struct CreatedRoles {
    pub names: Vec<String>,
    pub warnings: Vec<String>,
}

/// Creates `missing` roles on the server from the backup's typed role
/// definitions (see `pg::roles`): one quoted statement each, sent alone
/// (the extended protocol runs exactly one statement), then memberships in
/// roles the server has.
pub(crate) async fn create_missing_roles(
    conn: &mut PgConnection,
    admin: &ConnectionSpec,
    definitions: &[RoleDefinition],
    missing: &[String],
) -> Result<CreatedRoles> {
    let mut created = CreatedRoles {
        names: Vec::new(),
        warnings: Vec::new(),
    };
    for role in missing {
        let statement = match definitions.iter().find(|d| d.name == *role) {
            Some(definition) => {
                let withheld = definition.withheld();
                if !withheld.is_empty() {
                    created.warnings.push(format!(
                        "role {role} was {} on the source; it was created without that (grant it by hand if needed)",
                        withheld.join(", ")
                    ));
                }
                definition.create_statement()
            }
            None => {
                // A backup from before roles were stored typed: the name alone.
                created.warnings.push(format!(
                    "role {role} was created with no attributes (NOLOGIN): this backup predates saved role definitions"
                ));
                format!("CREATE ROLE {} NOLOGIN", quote_ident(role))
            }
        };
        sqlx::query(&statement)
            .execute(&mut *conn)
            .await
            .map_err(|e| pg_error("creating roles on", admin, e))?;
        created.names.push(role.clone());
    }
    let existing: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("listing the roles of", admin, e))?;
    for definition in definitions.iter().filter(|d| created.names.contains(&d.name)) {
        for group in &definition.member_of {
            if existing.contains(group) {
                let grant = format!("GRANT {} TO {}", quote_ident(group), quote_ident(&definition.name));
                sqlx::query(&grant)
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| pg_error("granting role memberships on", admin, e))?;
            } else {
                created.warnings.push(format!(
                    "role {} was a member of {group}, which the target does not have",
                    definition.name
                ));
            }
        }
    }
    Ok(created)
}
