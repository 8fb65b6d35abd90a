//! Importing a `pg_dump -Fc` file made elsewhere as a snapshot, so a team
//! brings its old dumps along: stored byte for byte (its SHA-256 is the
//! file's), with the facts a backup records as far as the archive tells
//! them: database, server and pg_dump versions, when it was dumped, row
//! counts per table (compressed archives are read through), extensions,
//! schemas and the roles owning objects.
//!
//! What only a live server knows (role attributes, the database's owner and
//! settings, its size) is absent, and a restore of the snapshot says so,
//! as for backups made before those were recorded.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local, TimeZone, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::pg::archive::{self, Compression, Contents};
use crate::pg::facts::{self, PgFacts};
use crate::pg::inspect::Extension;
use crate::progress::Progress;
use crate::repo::manifest::{self, SnapshotKind};
use crate::repo::store::{self, Provenance, PutOptions};
use crate::repo::Repository;

/// Metadata key: the file a snapshot was imported from.
pub const IMPORTED_FROM: &str = "imported_from";

#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The snapshot's name: `latest:NAME` finds it.
    pub name: String,
    pub label: Option<String>,
    pub lock_wait: Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct ImportReport {
    pub snapshot_id: String,
    pub name: String,
    pub database: String,
    pub server_version: String,
    pub pg_dump_version: String,
    /// When pg_dump made the file (its header, read in this workstation's time zone).
    pub dumped_at: DateTime<Utc>,
    pub size: u64,
    pub sha256: String,
    pub added_bytes: u64,
    pub tables: usize,
    pub rows: u64,
    /// Whether it became the newest snapshot of its name (an older dump
    /// takes its place in the history instead).
    pub latest: bool,
    pub seconds: f64,
    pub warnings: Vec<String>,
}

/// Imports the custom-format archive at `path` (see the module docs).
pub fn import(repo: &Repository, path: &Path, options: &ImportOptions, progress: &dyn Progress) -> Result<ImportReport> {
    let started = Instant::now();
    manifest::validate_tag(&options.name)?;
    if options.label.as_deref().is_some_and(|l| l.trim().is_empty()) {
        return Err(Error::InvalidInput(
            "the label is empty: leave it out or say what the dump was".into(),
        ));
    }
    let open = || {
        if path.is_dir() {
            return Err(Error::InvalidInput(format!("{} is a folder: name a pg_dump file", path.display())));
        }
        File::open(path)
            .map(|f| BufReader::with_capacity(1 << 20, f))
            .map_err(|e| Error::InvalidInput(format!("cannot read {}: {e}", path.display())))
    };
    let contents = archive::table_of_contents(open()?).map_err(|e| {
        Error::InvalidInput(format!(
            "{} is not a pg_dump custom-format archive Lifeboat can import ({}): import files made with \
             `pg_dump -Fc` by PostgreSQL 12 or newer; a plain SQL dump has to be restored with psql and backed up",
            path.display(),
            e.0
        ))
    })?;

    let mut warnings = Vec::new();
    progress.phase("counting rows", None);
    let row_counts = if contents.header.compression == Compression::Lz4 {
        warnings.push(
            "the dump is lz4-compressed, which this Lifeboat does not read through: its row counts are unknown, so \
             restores of it cannot compare them"
                .to_string(),
        );
        BTreeMap::new()
    } else {
        // Reads every byte: a truncated or damaged file is refused here.
        archive::count_rows(open()?).map_err(|e| {
            Error::InvalidInput(format!(
                "{} is damaged or incomplete ({}): nothing was imported; is the copy whole?",
                path.display(),
                e.0
            ))
        })?
    };
    let metadata = std::fs::metadata(path).map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))?;
    let written: Option<DateTime<Utc>> = metadata.modified().ok().map(DateTime::<Utc>::from);
    let dumped_at = dump_time(&contents, written);
    if contents.header.created.is_none() {
        warnings.push("the dump's header has no valid time: it is dated by the file's modification time".into());
    }
    let facts = facts_of(&contents, row_counts);
    warnings.push(
        "the file names the roles that own objects, not those that only hold grants: on a target that lacks one, \
         create it first or restore with --no-owner"
            .to_string(),
    );
    let uncounted = contents.entries.iter().filter(|e| e.desc == "TABLE DATA" && !e.copies).count();
    if uncounted > 0 && contents.header.compression != Compression::Lz4 {
        warnings.push(format!(
            "{uncounted} tables were dumped as INSERT statements (--inserts): their rows are not counted, so restores \
             cannot compare them"
        ));
    }

    let snapshots = manifest::list(repo)?.snapshots;
    let same_name: Vec<_> = snapshots.iter().filter(|s| s.manifest.tag == options.name).collect();
    // Its place in the name's history: after every snapshot taken before it.
    let generation = same_name
        .iter()
        .filter(|s| s.manifest.start <= dumped_at)
        .map(|s| s.manifest.generation)
        .max()
        .unwrap_or(0);
    let latest = same_name.iter().all(|s| s.manifest.recency() < (generation, dumped_at));
    let generation = if latest { generation + 1 } else { generation };
    if !latest {
        warnings.push(format!(
            "{} holds newer snapshots: the import takes its place in the history by its date and latest:{} is unchanged",
            options.name, options.name
        ));
    }

    let mut meta = facts.to_metadata();
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    meta.insert(IMPORTED_FROM.into(), file_name.into());
    let put_options = PutOptions {
        tag: options.name.clone(),
        kind: SnapshotKind::Manual,
        label: options.label.clone(),
        metadata: meta,
        lock_wait: options.lock_wait,
        allow_empty: false,
        provenance: Some(Provenance {
            start: dumped_at,
            end: written
                .filter(|w| *w >= dumped_at && *w - dumped_at < chrono::Duration::days(1))
                .unwrap_or(dumped_at),
            host: whoami::fallible::hostname().unwrap_or_else(|_| "unknown".into()),
            user: whoami::username(),
            generation,
        }),
    };
    let stored = store::put(repo, &mut open()?, &put_options, progress)?;
    Ok(ImportReport {
        snapshot_id: stored.snapshot_id,
        name: options.name.clone(),
        database: facts.database,
        server_version: facts.server_version,
        pg_dump_version: facts.pg_dump_version,
        dumped_at,
        size: stored.size,
        sha256: stored.sha256,
        added_bytes: stored.added_bytes,
        tables: facts.row_counts.len(),
        rows: facts.row_counts.values().sum(),
        latest,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    })
}

/// When the dump was made: its header's time, which pg_dump writes in its
/// machine's local time (taken as this workstation's zone), else the
/// file's modification time.
fn dump_time(contents: &Contents, written: Option<DateTime<Utc>>) -> DateTime<Utc> {
    contents
        .header
        .created
        .and_then(|local| Local.from_local_datetime(&local).earliest())
        .map(|t| t.with_timezone(&Utc))
        .or(written)
        .unwrap_or_else(Utc::now)
}

/// The facts a backup would record, as far as the archive tells them.
fn facts_of(contents: &Contents, row_counts: BTreeMap<String, u64>) -> PgFacts {
    let header = &contents.header;
    let by_id: HashMap<i64, &archive::TocEntry> = contents.entries.iter().map(|e| (e.dump_id, e)).collect();
    let extensions = contents
        .entries
        .iter()
        .filter(|e| e.desc == "EXTENSION")
        .map(|e| Extension {
            name: e.tag.clone(),
            version: String::new(),
            // The schema it depends on; public where the archive names none.
            schema: e
                .dependencies
                .iter()
                .filter_map(|d| by_id.get(d))
                .find(|d| d.desc == "SCHEMA")
                .map_or_else(|| "public".to_string(), |d| d.tag.clone()),
        })
        .collect();
    let roles: BTreeSet<String> = contents.entries.iter().map(|e| e.owner.clone()).filter(|o| !o.is_empty()).collect();
    let schemas: BTreeSet<String> = contents
        .entries
        .iter()
        .filter(|e| e.desc == "SCHEMA")
        .map(|e| e.tag.clone())
        .collect();
    let compression = match header.compression {
        Compression::None => "--compress=0",
        Compression::Gzip => "--compress=gzip",
        Compression::Lz4 => "--compress=lz4",
        Compression::Zstd => "--compress=zstd",
    };
    PgFacts {
        source: facts::SOURCE.into(),
        facts_version: facts::FACTS_VERSION,
        database: header.database.clone(),
        server: String::new(),
        user: String::new(),
        connection: None,
        server_version_num: version_num(&header.server_version),
        server_version: header.server_version.clone(),
        pg_dump_version: header.pg_dump_version.clone(),
        dump_options: vec!["--format=custom".into(), compression.into()],
        extensions,
        roles: roles.into_iter().collect(),
        role_definitions: Vec::new(),
        database_config: None,
        schemas: schemas.into_iter().collect(),
        database_size: 0,
        row_counts,
        globals_sql: None,
        requested_by: None,
    }
}

/// `server_version_num` from a version string: "16.4 (Debian 16.4-1)" is
/// 160004, "9.6.24" 90624; 0 when it is not a version.
fn version_num(version: &str) -> u32 {
    let digits: Vec<u32> = version
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()
        .unwrap_or("")
        .split('.')
        .map_while(|part| part.parse().ok())
        .collect();
    match digits.as_slice() {
        [major, minor, patch, ..] if *major < 10 => major * 10_000 + minor * 100 + patch,
        [major, minor, ..] if *major >= 10 => major * 10_000 + minor,
        [major] if *major >= 10 => major * 10_000,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_versions_read_as_postgres_numbers_them() {
        assert_eq!(version_num("16.4 (Debian 16.4-1.pgdg120+1)"), 160004);
        assert_eq!(version_num("17.2"), 170002);
        assert_eq!(version_num("18beta1"), 180000);
        assert_eq!(version_num("9.6.24"), 90624);
        assert_eq!(version_num(""), 0);
        assert_eq!(version_num("unknown"), 0);
    }
}
