//! The repositories this workstation has opened, and which one is current.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{parse_time, timestamp, Catalog};
use crate::error::Result;

/// A repository this workstation has opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryRecord {
    pub id: String,
    pub location: String,
    pub label: String,
    pub added_at: DateTime<Utc>,
    pub last_opened_at: DateTime<Utc>,
}

const CURRENT_REPOSITORY: &str = "current_repository";

impl Catalog {
    /// Records that `repo` was opened at `now` and makes it the current one.
    pub async fn remember_repository(&self, id: &str, location: &str, label: &str, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        sqlx::query(
            "INSERT INTO repositories (id, location, label, added_at, last_opened_at) VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (id) DO UPDATE SET location = ?2, label = CASE WHEN ?3 = '' THEN label ELSE ?3 END, last_opened_at = ?4",
        )
        .bind(id)
        .bind(location)
        .bind(label)
        .bind(timestamp(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        sqlx::query("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2")
            .bind(CURRENT_REPOSITORY)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))
    }

    /// The repository the app opened last, if any.
    pub async fn current_repository(&self) -> Result<Option<RepositoryRecord>> {
        let row = sqlx::query(
            "SELECT r.id, r.location, r.label, r.added_at, r.last_opened_at
             FROM settings s JOIN repositories r ON r.id = s.value WHERE s.key = ?1",
        )
        .bind(CURRENT_REPOSITORY)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        row.map(|row| repository_from_row(&row)).transpose()
    }

    /// Every repository this workstation knows, most recently opened first.
    pub async fn repositories(&self) -> Result<Vec<RepositoryRecord>> {
        let rows = sqlx::query("SELECT id, location, label, added_at, last_opened_at FROM repositories ORDER BY last_opened_at DESC")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        rows.iter().map(repository_from_row).collect()
    }

    /// Stops opening the current repository at start-up (its files are untouched).
    pub async fn clear_current_repository(&self) -> Result<()> {
        sqlx::query("DELETE FROM settings WHERE key = ?1")
            .bind(CURRENT_REPOSITORY)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }
}

fn repository_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<RepositoryRecord> {
    Ok(RepositoryRecord {
        id: row.get("id"),
        location: row.get("location"),
        label: row.get("label"),
        added_at: parse_time(row.get("added_at"))?,
        last_opened_at: parse_time(row.get("last_opened_at"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::at;

    #[tokio::test]
    async fn remembers_repositories_and_the_current_one_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/catalog.sqlite");
        let catalog = Catalog::open(&path).await.unwrap();
        assert_eq!(catalog.current_repository().await.unwrap(), None);
        catalog.remember_repository("r1", "/mnt/a", "team", at(1)).await.unwrap();
        catalog.remember_repository("r2", "/mnt/b", "", at(2)).await.unwrap();
        catalog.remember_repository("r1", "/mnt/a2", "", at(3)).await.unwrap();
        drop(catalog);

        let catalog = Catalog::open(&path).await.unwrap();
        let current = catalog.current_repository().await.unwrap().unwrap();
        assert_eq!(
            (current.id.as_str(), current.location.as_str(), current.label.as_str()),
            ("r1", "/mnt/a2", "team")
        );
        assert_eq!((current.added_at, current.last_opened_at), (at(1), at(3)));
        let ids: Vec<_> = catalog.repositories().await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["r1", "r2"]);
        catalog.clear_current_repository().await.unwrap();
        assert_eq!(catalog.current_repository().await.unwrap(), None);
    }
}
