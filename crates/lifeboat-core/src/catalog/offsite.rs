//! The newest snapshot of each name copied to each off-site repository.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{parse_time, timestamp, Catalog};
use crate::backend::Location;
use crate::error::Result;

/// The newest copy of a database's snapshots in one off-site repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OffsiteCopy {
    pub location: String,
    pub snapshot_id: String,
    /// When the copied snapshot was taken.
    pub snapshot_time: DateTime<Utc>,
    pub copied_at: DateTime<Utc>,
}

impl Catalog {
    /// Remembers that snapshot `snapshot_id` of `tag`, taken at
    /// `snapshot_time`, is in the repository at `location`, unless a newer
    /// one of that name already is.
    pub async fn record_offsite_copy(
        &self,
        tag: &str,
        location: &str,
        snapshot_id: &str,
        snapshot_time: DateTime<Utc>,
        copied_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO offsite_copies (tag, location, snapshot_id, snapshot_time, copied_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tag, location) DO UPDATE SET snapshot_id = ?3, snapshot_time = ?4, copied_at = ?5
             WHERE ?4 >= offsite_copies.snapshot_time",
        )
        .bind(tag)
        .bind(location_key(location))
        .bind(snapshot_id)
        .bind(timestamp(snapshot_time))
        .bind(timestamp(copied_at))
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The newest copy of `tag`'s snapshots at `location`, if any was made here.
    pub async fn offsite_copy(&self, tag: &str, location: &str) -> Result<Option<OffsiteCopy>> {
        let row = sqlx::query("SELECT snapshot_id, snapshot_time, copied_at FROM offsite_copies WHERE tag = ?1 AND location = ?2")
            .bind(tag)
            .bind(location_key(location))
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        row.map(|row| {
            Ok(OffsiteCopy {
                location: location.to_owned(),
                snapshot_id: row.get("snapshot_id"),
                snapshot_time: parse_time(row.get("snapshot_time"))?,
                copied_at: parse_time(row.get("copied_at"))?,
            })
        })
        .transpose()
    }
}

/// One key per place however it was written (a path or a file:// URL, a
/// bucket with or without a trailing slash; as a schedule names it or as the
/// repository reports itself).
fn location_key(location: &str) -> String {
    Location::parse(location).map_or_else(|_| location.to_owned(), |parsed| parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::at;

    #[tokio::test]
    async fn the_newest_copy_per_name_and_location_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("catalog.sqlite")).await.unwrap();
        assert_eq!(catalog.offsite_copy("shop", "/mnt/usb").await.unwrap(), None);
        catalog.record_offsite_copy("shop", "/mnt/usb", "b", at(5), at(6)).await.unwrap();
        // An older snapshot copied later (a catch-up) does not hide the newer.
        catalog.record_offsite_copy("shop", "/mnt/usb", "a", at(1), at(7)).await.unwrap();
        catalog.record_offsite_copy("shop", "/mnt/other", "a", at(1), at(7)).await.unwrap();
        #[cfg(unix)]
        assert_eq!(
            catalog
                .offsite_copy("shop", "file:///mnt/other")
                .await
                .unwrap()
                .unwrap()
                .snapshot_id,
            "a"
        );
        let copy = catalog.offsite_copy("shop", "/mnt/usb").await.unwrap().unwrap();
        assert_eq!((copy.snapshot_id.as_str(), copy.snapshot_time, copy.copied_at), ("b", at(5), at(6)));
        assert_eq!(catalog.offsite_copy("shop", "/mnt/other").await.unwrap().unwrap().snapshot_id, "a");
        catalog.record_offsite_copy("shop", "/mnt/usb", "c", at(9), at(9)).await.unwrap();
        assert_eq!(catalog.offsite_copy("shop", "/mnt/usb").await.unwrap().unwrap().snapshot_id, "c");
    }
}
