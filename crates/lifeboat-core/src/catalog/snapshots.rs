//! What this workstation has seen of each repository's snapshots, so a
//! rolled-back `latest` or a snapshot deleted behind its back is noticed.

use super::{parse_time, timestamp, Catalog};
use crate::error::Result;
use crate::repo::manifest::{Accounting, Snapshot, SnapshotSummary};

impl Catalog {
    /// Remembers `snapshot`, just found to be the newest of its name in
    /// `repository_id` (a backup made it, or `latest:` resolved to it), and
    /// returns a warning when this workstation saw a newer one of that name
    /// before: it is gone, deleted or rolled back, and "latest" now means
    /// older data. The newer one stays remembered, so the warning repeats
    /// until a new backup is newer still.
    pub async fn check_newest_seen(&self, repository_id: &str, snapshot: &Snapshot) -> Result<Option<String>> {
        let tag = &snapshot.manifest.tag;
        let seen: Option<(String, String, i64)> =
            sqlx::query_as("SELECT snapshot_id, start, generation FROM newest_seen WHERE repository_id = ?1 AND tag = ?2")
                .bind(repository_id)
                .bind(tag)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.error(e))?;
        if let Some((seen_id, seen_start, seen_generation)) = seen {
            let seen_start = parse_time(&seen_start)?;
            let seen_recency = (u64::try_from(seen_generation).unwrap_or(0), seen_start);
            if seen_id != snapshot.id && seen_recency > snapshot.manifest.recency() {
                return Ok(Some(format!(
                    "WARNING: this workstation saw snapshot {} of `{tag}` taken {}, newer than anything the repository \
                     holds now (its newest is {} of {}): it was deleted, or the repository was put back to an older \
                     state. Find out why before trusting latest:{tag}",
                    &seen_id[..seen_id.len().min(8)],
                    seen_start.format("%Y-%m-%d %H:%M UTC"),
                    &snapshot.id[..8],
                    snapshot.manifest.start.format("%Y-%m-%d %H:%M UTC")
                )));
            }
        }
        sqlx::query(
            "INSERT INTO newest_seen (repository_id, tag, snapshot_id, start, generation) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (repository_id, tag) DO UPDATE SET snapshot_id = ?3, start = ?4, generation = ?5",
        )
        .bind(repository_id)
        .bind(tag)
        .bind(&snapshot.id)
        .bind(timestamp(snapshot.manifest.start))
        .bind(i64::try_from(snapshot.manifest.generation).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        self.remember_seen(repository_id, &[snapshot.summary()]).await?;
        Ok(None)
    }

    /// Compares what the repository accounts for now with the snapshots this
    /// workstation saw in it: one gone without an authentic forget record
    /// was deleted (or the repository put back to an older copy). Returns a
    /// sentence for each (once: it is then no longer remembered), and
    /// remembers the snapshots readable now.
    pub async fn vanished_snapshots(&self, repository_id: &str, accounting: &Accounting) -> Result<Vec<String>> {
        let seen: Vec<(String, String, String)> =
            sqlx::query_as("SELECT snapshot_id, tag, start FROM snapshots_seen WHERE repository_id = ?1 ORDER BY start")
                .bind(repository_id)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.error(e))?;
        let mut vanished = Vec::new();
        for (id, tag, start) in seen {
            if accounting.present.contains(&id) {
                continue;
            }
            if !accounting.forgotten.contains(&id) {
                vanished.push(format!(
                    "snapshot {} of `{tag}` taken {} is gone from the repository without a forget record: it was deleted, \
                     or the repository was put back to an older copy. Find out who removed it; another copy of the \
                     repository may still hold it",
                    &id[..id.len().min(8)],
                    parse_time(&start)?.format("%Y-%m-%d %H:%M UTC"),
                ));
            }
            sqlx::query("DELETE FROM snapshots_seen WHERE repository_id = ?1 AND snapshot_id = ?2")
                .bind(repository_id)
                .bind(&id)
                .execute(&self.pool)
                .await
                .map_err(|e| self.error(e))?;
        }
        self.remember_seen(repository_id, &accounting.readable).await?;
        Ok(vanished)
    }

    async fn remember_seen(&self, repository_id: &str, snapshots: &[SnapshotSummary]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        for snapshot in snapshots {
            sqlx::query("INSERT OR IGNORE INTO snapshots_seen (repository_id, snapshot_id, tag, start) VALUES (?1, ?2, ?3, ?4)")
                .bind(repository_id)
                .bind(&snapshot.id)
                .bind(&snapshot.tag)
                .bind(timestamp(snapshot.time))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
        }
        tx.commit().await.map_err(|e| self.error(e))
    }
}
