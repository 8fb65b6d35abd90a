//! What a PostgreSQL backup records about its dump: one versioned struct,
//! written by the backup, read by restores, drills, the app and (through
//! the generated TypeScript type) the UI. It is stored as the manifest's
//! metadata map, field by field, so manifests written before it read as
//! before (`facts_version` 0).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::database_config::DatabaseConfig;
use super::inspect::{major_of, Extension};
use super::roles::RoleDefinition;
use crate::error::{Error, Result};
use crate::repo::manifest::Snapshot;

/// The version of [`PgFacts`] this Lifeboat writes.
pub const FACTS_VERSION: u32 = 1;
/// `source` of every PostgreSQL backup; `lifeboat put` streams have none.
pub const SOURCE: &str = "postgresql";
/// `source` of a base backup of a whole cluster (`jobs::pitr`).
pub const BASE_BACKUP_SOURCE: &str = "postgresql-base-backup";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct PgFacts {
    /// Always "postgresql".
    pub source: String,
    /// 0 in manifests written before the facts were versioned.
    pub facts_version: u32,
    pub database: String,
    /// "host:port" of the server dumped.
    pub server: String,
    pub user: String,
    /// The saved connection it was taken through, if any.
    pub connection: Option<String>,
    /// As the server reports it: "16.4 (Debian 16.4-1)".
    pub server_version: String,
    /// `server_version_num`: 160004.
    pub server_version_num: u32,
    pub pg_dump_version: String,
    pub dump_options: Vec<String>,
    pub extensions: Vec<Extension>,
    /// Roles that own objects in the database or hold grants on it.
    pub roles: Vec<String>,
    /// Those roles as data, to create them on a restore target.
    #[cfg_attr(feature = "ts", ts(skip))]
    pub role_definitions: Vec<RoleDefinition>,
    /// None in backups made before it was recorded.
    #[cfg_attr(feature = "ts", ts(skip))]
    pub database_config: Option<DatabaseConfig>,
    pub schemas: Vec<String>,
    pub database_size: u64,
    /// Rows per table (`schema.table`) in the dump.
    pub row_counts: BTreeMap<String, u64>,
    /// The cluster's roles as `pg_dumpall --roles-only` wrote them: kept
    /// for people, never executed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub globals_sql: Option<String>,
    /// The API token whose holder asked for this backup (a pipeline's
    /// checkpoint); None when someone here or a schedule started it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub requested_by: Option<String>,
}

impl PgFacts {
    /// The facts in a manifest's metadata; None for a snapshot that is not
    /// a PostgreSQL backup.
    pub fn from_metadata(metadata: &BTreeMap<String, serde_json::Value>) -> Result<Option<PgFacts>> {
        if metadata.get("source").and_then(|v| v.as_str()) != Some(SOURCE) {
            return Ok(None);
        }
        let object = serde_json::Value::Object(metadata.clone().into_iter().collect());
        serde_json::from_value(object)
            .map(Some)
            .map_err(|e| Error::corrupt("the PostgreSQL facts of a snapshot", e.to_string()))
    }

    /// The facts of `snapshot`, which must be a PostgreSQL backup.
    pub fn of(snapshot: &Snapshot) -> Result<PgFacts> {
        Self::from_metadata(&snapshot.manifest.metadata)?.ok_or_else(|| {
            let source = snapshot.manifest.metadata.get("source").and_then(|v| v.as_str());
            if source == Some(BASE_BACKUP_SOURCE) {
                return Error::InvalidInput(format!(
                    "snapshot {} is a base backup of a whole cluster, not a dump: recover it with `lifeboat recover`",
                    &snapshot.id[..8]
                ));
            }
            Error::InvalidInput(format!(
                "snapshot {} is not a PostgreSQL backup (it was stored with `lifeboat put`): restore it with `lifeboat cat`",
                &snapshot.id[..8]
            ))
        })
    }

    /// The metadata map the manifest stores.
    pub fn to_metadata(&self) -> BTreeMap<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map.into_iter().collect(),
            _ => unreachable!("PgFacts serializes to an object"),
        }
    }

    pub fn server_major(&self) -> u32 {
        major_of(self.server_version_num)
    }

    /// The major of the `pg_dump` that wrote the archive (the server's when unknown).
    pub fn pg_dump_major(&self) -> u32 {
        self.pg_dump_version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or_else(|| self.server_major())
    }

    /// The facts without what is for restores, not for reading (role
    /// definitions, the database's settings, the roles' SQL).
    pub fn for_reading(mut self) -> PgFacts {
        self.role_definitions.clear();
        self.database_config = None;
        self.globals_sql = None;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_round_trip_through_the_metadata_map_and_old_manifests_still_read() {
        let facts = PgFacts {
            source: SOURCE.into(),
            facts_version: FACTS_VERSION,
            database: "shop".into(),
            server_version_num: 160004,
            pg_dump_version: "17.2".into(),
            row_counts: BTreeMap::from([("public.t".into(), 3)]),
            ..Default::default()
        };
        let metadata = facts.to_metadata();
        assert_eq!(metadata["row_counts"], serde_json::json!({ "public.t": 3 }));
        assert!(!metadata.contains_key("globals_sql"));
        assert_eq!(PgFacts::from_metadata(&metadata).unwrap(), Some(facts.clone()));
        assert_eq!((facts.server_major(), facts.pg_dump_major()), (16, 17));

        // A manifest from before the facts were versioned, with a key this version does not know.
        let old: BTreeMap<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
            "source": "postgresql", "database": "shop", "server_version_num": 150018,
            "pg_dump_version": "15.18", "row_counts": { "public.t": 1 }, "someday": true
        }))
        .unwrap();
        let read = PgFacts::from_metadata(&old).unwrap().unwrap();
        assert_eq!((read.facts_version, read.server_major(), read.row_counts.len()), (0, 15, 1));

        let stream: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        assert_eq!(PgFacts::from_metadata(&stream).unwrap(), None);
        let damaged = BTreeMap::from([
            ("source".to_string(), serde_json::json!("postgresql")),
            ("row_counts".to_string(), serde_json::json!("many")),
        ]);
        assert!(matches!(PgFacts::from_metadata(&damaged), Err(Error::Corrupt { .. })));
    }
}
