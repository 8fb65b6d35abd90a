//! Saved database connections (passwords are in the keychain, not here).

use std::path::PathBuf;

use sqlx::Row;

use super::{parse_time, timestamp, Catalog};
use crate::connections::Connection;
use crate::error::{Error, Result};
use crate::pg::TlsMode;

impl Catalog {
    /// Inserts or replaces a saved connection.
    pub async fn save_connection(&self, c: &Connection) -> Result<()> {
        sqlx::query(
            "INSERT INTO connections (name, host, port, database, user_name, tls_mode, pg_bin, password_in_keychain, created_at, updated_at,
                                      server_scope)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (name) DO UPDATE SET host = ?2, port = ?3, database = ?4, user_name = ?5, tls_mode = ?6, pg_bin = ?7,
                 password_in_keychain = ?8, updated_at = ?10, server_scope = ?11",
        )
        .bind(&c.name)
        .bind(&c.host)
        .bind(i64::from(c.port))
        .bind(&c.database)
        .bind(&c.user)
        .bind(c.tls.as_libpq())
        .bind(c.pg_bin.as_ref().map(|p| p.display().to_string()))
        .bind(c.password_in_keychain)
        .bind(timestamp(c.created_at))
        .bind(timestamp(c.updated_at))
        .bind(c.server.as_ref().map(|s| serde_json::to_string(s).expect("patterns serialize")))
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Every saved connection, by name.
    pub async fn connections(&self) -> Result<Vec<Connection>> {
        let rows = sqlx::query(&format!("{CONNECTION_COLUMNS} ORDER BY name"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        rows.iter().map(connection_from_row).collect()
    }

    /// The saved connection called `name`, if any.
    pub async fn connection(&self, name: &str) -> Result<Option<Connection>> {
        let row = sqlx::query(&format!("{CONNECTION_COLUMNS} WHERE name = ?1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        row.as_ref().map(connection_from_row).transpose()
    }

    /// The saved connection called `name`, or an error listing the known ones.
    pub async fn find_connection(&self, name: &str) -> Result<Connection> {
        if let Some(connection) = self.connection(name).await? {
            return Ok(connection);
        }
        let known: Vec<String> = self.connections().await?.into_iter().map(|c| c.name).collect();
        Err(Error::InvalidInput(if known.is_empty() {
            format!("no connection is named `{name}`: add one with `lifeboat connection add {name} --db URL`")
        } else {
            format!("no connection is named `{name}`; known: {}", known.join(", "))
        }))
    }

    pub async fn remove_connection(&self, name: &str) -> Result<bool> {
        let result = sqlx::query("DELETE FROM connections WHERE name = ?1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(result.rows_affected() > 0)
    }
}

const CONNECTION_COLUMNS: &str =
    "SELECT name, host, port, database, user_name, tls_mode, pg_bin, password_in_keychain, created_at, updated_at, server_scope
     FROM connections";

fn connection_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Connection> {
    let port: i64 = row.get("port");
    let pg_bin: Option<String> = row.get("pg_bin");
    let server: Option<String> = row.get("server_scope");
    let server = server
        .map(|json| serde_json::from_str(&json))
        .transpose()
        .map_err(|e| Error::corrupt("the catalog", format!("a server connection's patterns: {e}")))?;
    Ok(Connection {
        name: row.get("name"),
        host: row.get("host"),
        port: u16::try_from(port).map_err(|_| Error::corrupt("the catalog", format!("bad port {port}")))?,
        database: row.get("database"),
        user: row.get("user_name"),
        tls: TlsMode::parse(row.get("tls_mode"))?,
        pg_bin: pg_bin.map(PathBuf::from),
        password_in_keychain: row.get("password_in_keychain"),
        created_at: parse_time(row.get("created_at"))?,
        updated_at: parse_time(row.get("updated_at"))?,
        server,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::at;

    #[tokio::test]
    async fn connections_are_saved_updated_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("catalog.sqlite")).await.unwrap();
        let spec = crate::pg::ConnectionSpec::parse_url("postgres://app@db.example:6543/shop?sslmode=verify-full").unwrap();
        let mut shop = Connection::new("shop", &spec, Some("/usr/lib/postgresql/15/bin".into()), at(1)).unwrap();
        catalog.save_connection(&shop).await.unwrap();
        let billing = Connection::new("billing", &spec.with_database("billing"), None, at(2)).unwrap();
        catalog.save_connection(&billing).await.unwrap();
        assert_eq!(catalog.connection("shop").await.unwrap().as_ref(), Some(&shop));

        shop.port = 5432;
        shop.password_in_keychain = true;
        shop.updated_at = at(3);
        catalog.save_connection(&shop).await.unwrap();
        let names: Vec<_> = catalog.connections().await.unwrap().into_iter().map(|c| (c.name, c.port)).collect();
        assert_eq!(names, [("billing".to_string(), 6543), ("shop".to_string(), 5432)]);
        assert_eq!(catalog.connection("shop").await.unwrap().unwrap().tls, TlsMode::VerifyFull);

        assert!(catalog.remove_connection("shop").await.unwrap());
        assert!(!catalog.remove_connection("shop").await.unwrap());
        assert_eq!(catalog.connection("shop").await.unwrap(), None);
        assert!(Connection::new("bad name", &spec, None, at(1)).is_err());
    }
}
