//! Roles as data. A backup reads the roles its database depends on from the
//! catalog (`pg_roles`, `pg_auth_members`, in the dump's own snapshot) and
//! stores them typed in the manifest; a restore or drill creates the missing
//! ones with quoted identifiers and an explicit attribute list. No text of
//! `pg_dumpall` is ever executed: a role name or comment holding a newline
//! and SQL cannot plant a statement.
//!
//! Carried: LOGIN, INHERIT, CREATEDB, CREATEROLE, CONNECTION LIMIT, and
//! memberships in roles the target has. Recorded but never granted:
//! SUPERUSER, REPLICATION and BYPASSRLS (an admin grants those on purpose,
//! and never on a drill server). Not carried: passwords and VALID UNTIL
//! (a restored login role needs its password set on the new server).

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::inspect::pg_error;
use super::{quote_ident, ConnectionSpec};
use crate::error::Result;

/// One role as the source server had it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, sqlx::FromRow)]
pub struct RoleDefinition {
    pub name: String,
    pub login: bool,
    pub inherit: bool,
    pub create_db: bool,
    pub create_role: bool,
    pub superuser: bool,
    pub replication: bool,
    pub bypass_rls: bool,
    /// -1: no limit.
    pub connection_limit: i32,
    /// The roles this one is a member of.
    pub member_of: Vec<String>,
}

impl RoleDefinition {
    /// `CREATE ROLE` with every carried attribute spelled out, and the
    /// privileged ones explicitly off.
    pub fn create_statement(&self) -> String {
        let flag = |on: bool, name: &str| if on { name.to_string() } else { format!("NO{name}") };
        format!(
            "CREATE ROLE {} WITH {} {} {} {} NOSUPERUSER NOREPLICATION NOBYPASSRLS CONNECTION LIMIT {}",
            quote_ident(&self.name),
            flag(self.login, "LOGIN"),
            flag(self.inherit, "INHERIT"),
            flag(self.create_db, "CREATEDB"),
            flag(self.create_role, "CREATEROLE"),
            self.connection_limit.max(-1)
        )
    }

    /// The privileged attributes the source had and a restore does not grant.
    pub fn withheld(&self) -> Vec<&'static str> {
        [
            (self.superuser, "SUPERUSER"),
            (self.replication, "REPLICATION"),
            (self.bypass_rls, "BYPASSRLS"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

/// Reads the definitions of `names` (those that exist) from the server.
pub async fn read_roles(conn: &mut PgConnection, spec: &ConnectionSpec, names: &[String]) -> Result<Vec<RoleDefinition>> {
    sqlx::query_as(
        "SELECT r.rolname::text AS name, r.rolcanlogin AS login, r.rolinherit AS inherit, r.rolcreatedb AS create_db,
                r.rolcreaterole AS create_role, r.rolsuper AS superuser, r.rolreplication AS replication,
                r.rolbypassrls AS bypass_rls, r.rolconnlimit AS connection_limit,
                ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                      WHERE m.member = r.oid ORDER BY 1) AS member_of
         FROM pg_roles r WHERE r.rolname = ANY($1) ORDER BY 1",
    )
    .bind(names)
    .fetch_all(conn)
    .await
    .map_err(|e| pg_error("reading the roles of", spec, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_name_stays_one_quoted_identifier_and_privileges_stay_off() {
        let role = RoleDefinition {
            name: "x\";\nALTER ROLE app SUPERUSER; --".into(),
            login: true,
            inherit: true,
            create_db: false,
            create_role: false,
            superuser: true,
            replication: false,
            bypass_rls: true,
            connection_limit: 5,
            member_of: vec![],
        };
        assert_eq!(
            role.create_statement(),
            "CREATE ROLE \"x\"\";\nALTER ROLE app SUPERUSER; --\" WITH LOGIN INHERIT NOCREATEDB NOCREATEROLE \
             NOSUPERUSER NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 5"
        );
        assert_eq!(role.withheld(), vec!["SUPERUSER", "BYPASSRLS"]);
    }
}
