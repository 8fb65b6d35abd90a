//! Saving and forgetting a connection: the catalog row and its password
//! in the keychain, together.

use crate::catalog::Catalog;
use crate::connections::{validate_name, Connection};
use crate::crypto::keychain::KeyStore;
use crate::error::{Error, Result};
use crate::pg::tools;

/// Saves a new connection, and its password in the keychain when given.
/// An existing name is refused unless `replace`.
pub async fn save(
    catalog: &Catalog,
    keychain: Option<&dyn KeyStore>,
    mut connection: Connection,
    password: Option<&str>,
    replace: bool,
) -> Result<Connection> {
    validate_name(&connection.name)?;
    if let Some(dir) = &connection.pg_bin {
        if tools::probe(dir).is_none() {
            return Err(Error::InvalidInput(format!(
                "no pg_dump runs in {}: give the folder that holds the PostgreSQL client tools, or leave it empty to search",
                dir.display()
            )));
        }
    }
    let existing = catalog.connection(&connection.name).await?;
    if let Some(existing) = &existing {
        if !replace {
            return Err(Error::InvalidInput(format!(
                "a connection named `{}` exists already: choose another name, or edit it",
                connection.name
            )));
        }
        // One database and a whole server tag their snapshots differently:
        // the history under this name would mix the two.
        if existing.server.is_some() != connection.server.is_some() {
            let was = if existing.server.is_some() {
                "a whole server"
            } else {
                "one database"
            };
            return Err(Error::InvalidInput(format!(
                "`{}` is a connection to {was}, and stays one: save the other kind under a new name",
                connection.name
            )));
        }
        connection.created_at = existing.created_at;
        connection.password_in_keychain = existing.password_in_keychain;
    }
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        let keychain = keychain.ok_or_else(|| {
            Error::KeychainUnavailable(
                "the keychain is turned off, so the password cannot be saved: use PGPASSWORD or ~/.pgpass instead".into(),
            )
        })?;
        keychain.store_password(&connection.name, password)?;
        connection.password_in_keychain = true;
    }
    catalog.save_connection(&connection).await?;
    Ok(connection)
}

/// Forgets a connection and its saved password. Its snapshots stay.
pub async fn remove(catalog: &Catalog, keychain: Option<&dyn KeyStore>, name: &str) -> Result<Connection> {
    let connection = catalog.find_connection(name).await?;
    if connection.password_in_keychain {
        if let Some(keychain) = keychain {
            keychain.forget_password(name)?;
        }
    }
    catalog.remove_connection(name).await?;
    Ok(connection)
}
