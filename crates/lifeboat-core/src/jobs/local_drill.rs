//! Drills that need no server, and upgrade rehearsals.
//!
//! A local drill makes a scratch cluster on this workstation (`initdb` into
//! a private folder, a free port, its socket alone; see `pg::scratch`) of
//! the backup's major or a chosen one, and drills the snapshot on it as on
//! any drill server (`jobs::drill`: the verified restore, row counts,
//! extensions, probes). The cluster is stopped and removed whatever
//! happens; one a crash left is removed by the next local drill.
//!
//! A rehearsal is a local drill on a newer major: the restore an upgrade
//! by dump and restore would do, before the real one. Extensions are
//! checked against what that major's install has before anything is
//! restored, and every failed check says what to do about it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::drill::{self, fail, pass, DrillCheck, DrillOptions, DrillReport, Probe};
use crate::error::{Error, Result};
use crate::pg::facts::PgFacts;
use crate::pg::inspect::{self, pg_error};
use crate::pg::scratch::ScratchCluster;
use crate::pg::{tools, ConnectionSpec};
use crate::progress::Progress;
use crate::repo::manifest::Snapshot;
use crate::repo::Repository;

/// The scratch clusters' group (`pg::scratch`) of local drills.
const GROUP: &str = "drills";

/// Extensions PostgreSQL itself dropped, and the first major without them.
const REMOVED_EXTENSIONS: [(&str, u32); 4] = [("tsearch2", 10), ("chkpass", 11), ("adminpack", 17), ("old_snapshot", 17)];

/// Where a drill on this workstation ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LocalRun {
    /// The scratch cluster's major and version ("18.6").
    pub major: u32,
    pub version: String,
    /// The backup's server major.
    pub source_major: u32,
    /// The unprivileged user the cluster ran as (Lifeboat running as root).
    pub run_as: Option<String>,
    /// An upgrade rehearsal: a newer major than the backup's.
    pub rehearsal: bool,
    /// The backup's extensions, and whether that major's install has them.
    pub extensions: Vec<ExtensionOnTarget>,
}

impl LocalRun {
    pub(crate) fn on(scratch: &ScratchCluster, source_major: u32, rehearsal: bool) -> LocalRun {
        LocalRun {
            major: scratch.server.major,
            version: scratch.server.version.clone(),
            source_major,
            run_as: scratch.run_as().map(|u| u.name.clone()),
            rehearsal,
            extensions: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExtensionOnTarget {
    pub name: String,
    /// Its version in the backup.
    pub backup_version: String,
    /// The version that major's install would create; None: it lacks it.
    pub available: Option<String>,
}

#[derive(Clone, Debug)]
pub struct LocalDrillOptions {
    pub probes: Vec<Probe>,
    /// The scratch cluster's major: the backup's when None.
    pub major: Option<u32>,
    /// An upgrade rehearsal (`major` must be newer than the backup's).
    pub rehearsal: bool,
    /// This user's scratch folder (see `pg::scratch` as root).
    pub scratch_root: PathBuf,
    pub lock_wait: Duration,
    pub now: DateTime<Utc>,
}

/// Drills `snapshot` on a scratch cluster of this workstation (see the
/// module docs). An error means it could not run (no server of that major,
/// not enough disk space, a rehearsal onto an older major); a check that
/// fails is a report with `passed: false`.
pub async fn drill_locally(
    repo: Arc<Repository>,
    snapshot: &Snapshot,
    options: &LocalDrillOptions,
    progress: Arc<dyn Progress>,
) -> Result<DrillReport> {
    let started = Instant::now();
    let facts = PgFacts::of(snapshot)?;
    for probe in &options.probes {
        probe.validate()?;
    }
    let source_major = facts.server_major();
    let major = options.major.unwrap_or(source_major);
    if options.rehearsal && major <= source_major {
        return Err(Error::InvalidInput(format!(
            "a rehearsal restores onto a newer major, and this backup is of PostgreSQL {source_major}: name a newer one \
             (--major {})",
            source_major + 1
        )));
    }
    let why = if options.rehearsal {
        format!("the rehearsal restores onto PostgreSQL {major}")
    } else {
        format!("the drill restores onto a scratch PostgreSQL {major} cluster here")
    };
    let server = tools::find_server(major, None, &why)?;
    // The restore's tools: at least the dump's major, and the target's
    // where installed, as the upgrade would use.
    let pg = tools::find(facts.pg_dump_major().max(major), None)?;
    let scratch = ScratchCluster::prepare(&options.scratch_root, GROUP, server, options.now)?;
    let outcome = on_scratch_cluster(&repo, snapshot, &facts, &scratch, &pg, options, progress.clone()).await;
    progress.phase("removing the scratch cluster", None);
    let removed = scratch.remove();
    let mut report = outcome?;
    report.scratch_dropped = removed;
    if !removed {
        report.warnings.push(format!(
            "the scratch cluster {} could not be removed: the next local drill removes it",
            scratch.datadir.display()
        ));
    }
    report.leftovers_dropped.extend(scratch.leftovers_dropped.iter().cloned());
    report.server = format!(
        "this workstation (a scratch PostgreSQL {} cluster{})",
        scratch.server.version,
        scratch.run_as().map(|u| format!(", run as {}", u.name)).unwrap_or_default()
    );
    report.scratch_database = scratch.datadir.display().to_string();
    let run = report
        .local
        .take()
        .unwrap_or_else(|| LocalRun::on(&scratch, source_major, options.rehearsal));
    for check in report.checks.iter_mut().filter(|c| !c.passed && c.advice.is_none()) {
        check.advice = advice(check, &run);
    }
    report.local = Some(run);
    report.passed = !report.checks.is_empty() && report.checks.iter().all(|c| c.passed);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Everything between making the scratch cluster and removing it.
async fn on_scratch_cluster(
    repo: &Arc<Repository>,
    snapshot: &Snapshot,
    facts: &PgFacts,
    scratch: &ScratchCluster,
    pg: &tools::PgTools,
    options: &LocalDrillOptions,
    progress: Arc<dyn Progress>,
) -> Result<DrillReport> {
    scratch.ensure_space(space_needed(facts, snapshot.manifest.size))?;
    progress.phase(&format!("starting a scratch PostgreSQL {} cluster", scratch.server.major), None);
    scratch.init()?;
    scratch.start()?;
    let admin = scratch.superuser("postgres").await?;
    let extensions = extensions_on(&admin, facts).await?;
    let missing: Vec<&ExtensionOnTarget> = extensions.iter().filter(|e| e.available.is_none()).collect();
    let availability = if missing.is_empty() {
        pass(
            "extensions available",
            format!(
                "PostgreSQL {} here has the backup's {} extension(s)",
                scratch.server.version,
                extensions.len()
            ),
        )
    } else {
        let names: Vec<String> = missing
            .iter()
            .map(|e| format!("{} ({} in the backup)", e.name, e.backup_version))
            .collect();
        let mut check = fail(
            "extensions available",
            format!(
                "PostgreSQL {} here lacks {}: the restore was not attempted",
                scratch.server.version,
                names.join(", ")
            ),
        );
        let advice: Vec<String> = missing
            .iter()
            .map(|e| extension_advice(&e.name, scratch.server.major, &scratch.server.bin_dir))
            .collect();
        check.advice = Some(advice.join(" "));
        check
    };
    let mut report = if missing.is_empty() {
        let drill_options = DrillOptions {
            probes: options.probes.clone(),
            pg_bin: Some(pg.bin_dir.clone()),
            lock_wait: options.lock_wait,
            now: options.now,
        };
        drill::drill(repo.clone(), snapshot, &admin, &drill_options, progress).await?
    } else {
        DrillReport {
            snapshot_id: snapshot.id.clone(),
            name: snapshot.manifest.tag.clone(),
            server: String::new(),
            scratch_database: String::new(),
            started_at: options.now,
            seconds: 0.0,
            passed: false,
            checks: Vec::new(),
            tables: Vec::new(),
            roles_created: Vec::new(),
            warnings: Vec::new(),
            leftovers_dropped: Vec::new(),
            scratch_dropped: false,
            restore_seconds: 0.0,
            local: None,
        }
    };
    report.checks.insert(0, availability);
    // Carried to the caller, which fills in the rest of the run.
    report.local = Some(LocalRun {
        extensions,
        ..LocalRun::on(scratch, facts.server_major(), options.rehearsal)
    });
    Ok(report)
}

/// Roughly what the restore writes: the database as it was at the backup
/// (the dump's size a few times over where that is unknown), WAL up to
/// the cluster's `max_wal_size`, and the empty cluster.
fn space_needed(facts: &PgFacts, dump_size: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    let data = if facts.database_size > 0 {
        facts.database_size
    } else {
        dump_size.saturating_mul(4)
    };
    data.saturating_add(data.min(1024 * MIB)).saturating_add(64 * MIB)
}

/// The backup's extensions, each with the version `admin`'s server has.
async fn extensions_on(admin: &ConnectionSpec, facts: &PgFacts) -> Result<Vec<ExtensionOnTarget>> {
    let mut conn = inspect::connect(admin).await?;
    let available: Vec<(String, Option<String>)> = sqlx::query_as("SELECT name::text, default_version::text FROM pg_available_extensions")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| pg_error("listing the extensions available on", admin, e))?;
    let _ = sqlx::Connection::close(conn).await;
    Ok(facts
        .extensions
        .iter()
        .map(|e| ExtensionOnTarget {
            name: e.name.clone(),
            backup_version: e.version.clone(),
            available: available
                .iter()
                .find(|(name, _)| *name == e.name)
                .map(|(_, version)| version.clone().unwrap_or_default()),
        })
        .collect())
}

/// What to do about an extension a major's install lacks.
fn extension_advice(name: &str, major: u32, bin_dir: &std::path::Path) -> String {
    match REMOVED_EXTENSIONS.iter().find(|(removed, _)| *removed == name) {
        Some((_, since)) if major >= *since => format!(
            "{name} was removed from PostgreSQL in {since}: move off what uses it, then `DROP EXTENSION {name}` on the \
             server before the upgrade."
        ),
        _ => format!(
            "{name}: install it for PostgreSQL {major} on the server you upgrade to (Debian/Ubuntu: the \
             postgresql-{major}-{name} package, or postgresql-contrib for a contrib module), and into the PostgreSQL {major} \
             of this workstation ({}) to rehearse again.",
            bin_dir.display()
        ),
    }
}

/// What to do about a failed check of a local drill or a rehearsal.
fn advice(check: &DrillCheck, run: &LocalRun) -> Option<String> {
    let major = run.major;
    let text = match check.name.as_str() {
        "restore" if run.rehearsal => format!(
            "the restore onto PostgreSQL {major} failed: the errors above name the objects; change them on the server \
             (or plan their fix as a step of the upgrade), take a new Checkpoint and rehearse again"
        ),
        "restore" => "the restore failed: the errors above name the objects; see whether the backup is whole with \
                      `lifeboat check --read-data`"
            .to_string(),
        "extensions" => format!("an extension did not come back after the restore: install it for PostgreSQL {major} where you restore"),
        "row counts" => "rows are missing after the restore: the restore's errors and warnings name the tables that did \
                         not load"
            .to_string(),
        name if name.starts_with("probe: ") && run.rehearsal => format!(
            "if this probe holds on the server today, something it uses changed in PostgreSQL {major} (a removed \
             function, a renamed column, a new default): read the release notes of {major} and change the query or the \
             application before the upgrade"
        ),
        name if name.starts_with("probe: ") => {
            "the probe does not hold on the restored copy: check the query, and the data it expects".to_string()
        }
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rehearsal: bool) -> LocalRun {
        LocalRun {
            major: 18,
            version: "18.6".into(),
            source_major: 15,
            run_as: None,
            rehearsal,
            extensions: Vec::new(),
        }
    }

    #[test]
    fn a_removed_extension_is_named_as_removed_and_others_as_packages_to_install() {
        let bin = std::path::Path::new("/opt/pg18/bin");
        let removed = extension_advice("adminpack", 18, bin);
        assert!(
            removed.contains("removed from PostgreSQL in 17") && removed.contains("DROP EXTENSION adminpack"),
            "{removed}"
        );
        let older = extension_advice("adminpack", 16, bin);
        assert!(older.contains("postgresql-16-adminpack"), "{older}");
        let other = extension_advice("postgis", 18, bin);
        assert!(
            other.contains("postgresql-18-postgis") && other.contains("/opt/pg18/bin"),
            "{other}"
        );
    }

    #[test]
    fn failed_probes_get_upgrade_advice_only_in_a_rehearsal() {
        let probe = fail("probe: checkpoints", "the query failed".into());
        assert!(advice(&probe, &run(true)).unwrap().contains("release notes of 18"));
        assert!(!advice(&probe, &run(false)).unwrap().contains("release notes"));
        assert!(advice(&fail("restore", String::new()), &run(true))
            .unwrap()
            .contains("PostgreSQL 18"));
        assert!(advice(&fail("something else", String::new()), &run(true)).is_none());
    }

    #[test]
    fn space_needed_counts_the_database_its_wal_and_the_cluster() {
        const MIB: u64 = 1 << 20;
        let mut facts: PgFacts = serde_json::from_value(serde_json::json!({
            "source": "pg_dump", "facts_version": 1, "database": "shop", "server": "h", "user": "u",
            "server_version": "15.1", "server_version_num": 150001, "pg_dump_version": "15.1",
            "dump_options": [], "extensions": [], "roles": [], "schemas": [], "database_size": 100 * MIB,
            "row_counts": {}
        }))
        .unwrap();
        assert_eq!(space_needed(&facts, 10 * MIB), 264 * MIB);
        facts.database_size = 0;
        assert_eq!(space_needed(&facts, 10 * MIB), 144 * MIB);
    }
}
