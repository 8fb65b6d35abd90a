//! Drills of a base backup: proof that it recovers, on this workstation.
//!
//! The base backup is recovered exactly as `lifeboat recover` would (every
//! byte authenticated, `pg_verifybackup`, WAL replayed from the archive)
//! to the end of the archived WAL, into a scratch cluster (`scratch.rs`).
//! Then the smoke checks: the WAL chain reaches the newest archived file,
//! every table of every database reads in full, and the admin's probes
//! hold. The cluster is removed whatever happens.
//!
//! A physical copy has no row counts to compare with (the WAL replays to
//! a moment no dump saw), so the row check reads every table end to end:
//! that is where a damaged page shows.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::recover::{self, RecoveryTarget};
use super::window;
use super::BaseBackupFacts;
use crate::error::{Error, Result};
use crate::jobs::drill::{fail, pass, run_probe, DrillCheck, DrillReport, Probe};
use crate::jobs::local_drill::LocalRun;
use crate::pg::scratch::ScratchCluster;
use crate::pg::wal::{Lsn, Segment};
use crate::pg::{inspect, tools, ConnectionSpec};
use crate::progress::Progress;
use crate::repo::manifest::Snapshot;
use crate::repo::Repository;

#[derive(Clone, Debug)]
pub struct PhysicalDrillOptions {
    pub probes: Vec<Probe>,
    /// The database the probes run in.
    pub database: String,
    pub pg_bin: Option<PathBuf>,
    /// Where scratch clusters go: a private folder of this workstation's.
    pub scratch_root: PathBuf,
    pub lock_wait: Duration,
    pub now: DateTime<Utc>,
}

/// Recovers base backup `base` into a scratch cluster, runs the smoke
/// checks and removes the cluster (see the module docs). An error means
/// the drill could not run (no server binaries of the major, run as root);
/// a recovery that fails is a failed check.
pub async fn drill(
    repo: Arc<Repository>,
    base: &Snapshot,
    options: &PhysicalDrillOptions,
    progress: Arc<dyn Progress>,
) -> Result<DrillReport> {
    let started = Instant::now();
    let facts = BaseBackupFacts::of(base)?;
    for probe in &options.probes {
        probe.validate()?;
    }
    let server = tools::find_server(facts.server_major(), options.pg_bin.as_deref(), super::RECOVERS)?;
    let scratch = ScratchCluster::prepare(&options.scratch_root, &facts.archive, server, options.now)?;
    let mut report = DrillReport {
        snapshot_id: base.id.clone(),
        name: facts.archive.clone(),
        server: format!("a scratch PostgreSQL {} cluster on this workstation", scratch.server.version),
        scratch_database: scratch.datadir.display().to_string(),
        started_at: options.now,
        seconds: 0.0,
        passed: false,
        checks: Vec::new(),
        tables: Vec::new(),
        roles_created: Vec::new(),
        warnings: Vec::new(),
        leftovers_dropped: scratch.leftovers_dropped.clone(),
        scratch_dropped: false,
        restore_seconds: 0.0,
        local: Some(LocalRun::on(&scratch, facts.server_major(), false)),
    };

    let recovering = scratch.recover_options(&base.id, RecoveryTarget::Latest, options.lock_wait);
    let recovered = {
        let (repo, progress) = (repo.clone(), progress.clone());
        crate::jobs::blocking(move || recover::recover(repo, &recovering, progress.as_ref())).await
    };
    let checked = match recovered {
        Ok(recovered) => {
            report.restore_seconds = recovered.seconds;
            let verified = if recovered.manifest_verified {
                "pg_verifybackup passed"
            } else {
                "no server manifest to verify"
            };
            report.checks.push(pass(
                "recovery",
                format!(
                    "base backup {} recovered to the end of the archived WAL in {:.1}s; {verified}",
                    &base.id[..8],
                    recovered.seconds
                ),
            ));
            report.checks.push(wal_chain_check(&repo, &facts, &base.id).await);
            run_checks(&scratch, &facts, options, progress.as_ref(), &mut report).await
        }
        Err(e @ (Error::Cancelled | Error::InvalidInput(_) | Error::PgServerMissing { .. })) => Err(e),
        Err(e) => {
            report.checks.push(fail("recovery", e.to_string()));
            Ok(())
        }
    };

    progress.phase("removing the scratch cluster", None);
    report.scratch_dropped = scratch.remove();
    if !report.scratch_dropped {
        report.warnings.push(format!(
            "the scratch cluster {} could not be removed: the next drill of {} removes it",
            scratch.datadir.display(),
            facts.archive
        ));
    }
    checked?;
    report.passed = !report.checks.is_empty() && report.checks.iter().all(|c| c.passed);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Recovery to "latest" stops quietly at the first missing WAL file: the
/// check says whether the base backup's WAL runs on without a gap.
async fn wal_chain_check(repo: &Arc<Repository>, facts: &BaseBackupFacts, base: &str) -> DrillCheck {
    let repo = repo.clone();
    let name = facts.archive.clone();
    let status = crate::jobs::blocking(move || window::status(&repo, &name)).await;
    let status = match status {
        Ok(status) => status,
        Err(e) => return fail("WAL chain", e.to_string()),
    };
    let Some(window) = status.windows.iter().find(|w| w.base_backup == base) else {
        return fail("WAL chain", format!("base backup {} is not among the archive's", &base[..8]));
    };
    // Where this base backup's run of WAL ends: its last archived file, or
    // its own last segment when none follows.
    let own_end = facts
        .stop_lsn
        .map(|stop| Segment::of(Lsn(stop.0.saturating_sub(1)), facts.timeline, facts.wal_segment_size));
    let run_end = window
        .to_file
        .clone()
        .or_else(|| own_end.map(|s| s.file_name(facts.wal_segment_size)));
    match status.gaps.iter().find(|gap| Some(&gap.after) == run_end.as_ref()) {
        None => pass(
            "WAL chain",
            format!(
                "unbroken from the base backup to {}",
                window.to_file.as_deref().unwrap_or("its own WAL (nothing archived after it yet)")
            ),
        ),
        Some(gap) => fail(
            "WAL chain",
            format!(
                "recovery stops at {}: {} to {} are missing, and WAL after them is archived (`lifeboat pitr show {}`)",
                gap.after, gap.missing_from, gap.missing_to, status.name
            ),
        ),
    }
}

async fn run_checks(
    scratch: &ScratchCluster,
    facts: &BaseBackupFacts,
    options: &PhysicalDrillOptions,
    progress: &dyn Progress,
    report: &mut DrillReport,
) -> Result<()> {
    let admin = match scratch.superuser(&facts.user).await {
        Ok(admin) => admin,
        Err(e) => {
            report.checks.push(fail("connect", e.to_string()));
            return Ok(());
        }
    };
    progress.phase("reading every table", None);
    report.checks.push(match read_every_table(&admin, progress).await {
        Ok((databases, tables, rows)) => pass(
            "tables readable",
            format!("{tables} table(s) in {databases} database(s), {rows} rows, read in full"),
        ),
        Err(Error::Cancelled) => return Err(Error::Cancelled),
        Err(e) => fail("tables readable", e.to_string()),
    });
    if !options.probes.is_empty() {
        progress.phase("running probes", None);
        let database = admin.with_database(&options.database);
        match inspect::connect(&database).await {
            Ok(mut conn) => {
                for probe in &options.probes {
                    report.checks.push(run_probe(&mut conn, &database, probe).await);
                }
                let _ = sqlx::Connection::close(conn).await;
            }
            Err(e) => report.checks.push(fail("probes", e.to_string())),
        }
    }
    Ok(())
}

/// Counts every table's rows in every database that takes connections;
/// returns (databases, tables, rows).
async fn read_every_table(admin: &ConnectionSpec, progress: &dyn Progress) -> Result<(usize, usize, u64)> {
    let mut conn = inspect::connect(admin).await?;
    let databases: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datallowconn AND datname <> 'template0' ORDER BY 1")
            .fetch_all(&mut conn)
            .await
            .map_err(|e| inspect::pg_error("listing the databases of", admin, e))?;
    let _ = sqlx::Connection::close(conn).await;
    let (mut tables, mut rows) = (0, 0);
    for database in &databases {
        if progress.cancelled() {
            return Err(Error::Cancelled);
        }
        let spec = admin.with_database(database);
        let mut conn = inspect::connect(&spec).await?;
        let counts = inspect::row_counts(&mut conn, &spec).await?;
        let _ = sqlx::Connection::close(conn).await;
        tables += counts.len();
        rows += counts.values().sum::<u64>();
    }
    Ok((databases.len(), tables, rows))
}
