//! Verifying and restoring PostgreSQL snapshots.
//!
//! A restore never touches the target database until the very end: the
//! archive streams (every blob authenticated before a byte of it reaches
//! `pg_restore`) into a scratch database on the target server; only when
//! `pg_restore` succeeded, the whole stream's SHA-256 and size matched, the
//! extensions are in place and the row counts equal the manifest's, is the
//! scratch database renamed into place. Any failure drops the scratch
//! database and leaves the target as it was. The swap judges the target at
//! that instant, with new connections refused, and renames in one
//! transaction (see `swap_into_place`): a target that holds anything then
//! is never dropped (with `force` it is kept, renamed).
//!
//! `verify.rs` reads a snapshot back through `pg_restore --list`;
//! `preflight.rs` looks at the target without changing it; `swap.rs`
//! renames the scratch database into place and drops what Lifeboat
//! created; `roles.rs` creates the roles a dump needs from their recorded
//! definitions; `load.rs` is the `pg_restore` plumbing drills share.
//! `partial.rs` picks the archive entries of chosen tables or schemas;
//! into a database that holds data, `beside.rs` adds them as new tables
//! next to the originals instead of swapping.

mod beside;
mod load;
pub mod partial;
mod preflight;
mod roles;
mod swap;
mod verify;

pub use beside::PlacedBeside;
pub(crate) use load::{compare_counts, count_rows, ensure_extensions, load_archive, LoadOptions};
pub use preflight::{preflight, Preflight};
pub(crate) use roles::create_missing_roles;
pub(crate) use swap::{database_name, drop_database, execute};
pub use verify::{verify, VerifyReport};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Connection;

use super::spool;
use crate::error::{Error, Result};
use crate::pg::facts::PgFacts;
use crate::pg::inspect::{self, pg_error};
use crate::pg::{quote_ident, tools, ConnectionSpec};
use crate::progress::Progress;
use crate::repo::manifest::Snapshot;
use crate::repo::Repository;

use swap::swap_into_place;

/// How many `pg_restore` jobs a restore runs. Above 1 the archive is
/// first written (verified) to a private file under the data folder (see
/// `spool`), since parallel jobs need a seekable file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreJobs {
    /// Parallel when it pays: an archive of [`PARALLEL_FROM`] or more, with
    /// room for its copy, gets one job per core of this workstation, 2 to
    /// [`AUTO_JOBS_MAX`] (tables load and indexes build side by side);
    /// otherwise one job, streaming.
    Auto,
    Exactly(u32),
}

/// Smaller archives are streamed: writing them out first costs about what
/// parallel jobs would win.
pub const PARALLEL_FROM: u64 = 64 << 20;
/// The most jobs an automatic choice runs, so a restore never swamps a
/// server that others are using.
pub const AUTO_JOBS_MAX: u32 = 4;

impl RestoreJobs {
    /// The jobs to run for an `archive_size`-byte archive on this
    /// workstation (see [`RestoreJobs::Auto`]), and why an automatic choice
    /// streamed; refuses before anything changes when a chosen parallel
    /// restore's copy cannot fit.
    pub(crate) fn resolve(self, archive_size: u64) -> Result<(u32, Option<String>)> {
        if self == RestoreJobs::Exactly(1) || (self == RestoreJobs::Auto && archive_size < PARALLEL_FROM) {
            return Ok((1, None));
        }
        let measured = spool::folder().and_then(|dir| Ok((spool::free_bytes(&dir)?, dir)));
        let (free, spool) = match measured {
            Ok(measured) => measured,
            // An automatic choice never fails a restore that can stream.
            Err(e) if self == RestoreJobs::Auto => return Ok((1, Some(format!("restored with one streaming pg_restore job: {e}")))),
            Err(e) => return Err(e),
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chosen = self.choose(archive_size, free, cores);
        if chosen.0 > 1 {
            spool::check_room(&spool, archive_size)?;
        }
        Ok(chosen)
    }

    /// The jobs to run for an `archive_size`-byte archive, with `free`
    /// bytes (None: unknown) where the copy would go and `cores` here; and,
    /// when an automatic choice had to stream for want of room, why.
    fn choose(self, archive_size: u64, free: Option<u64>, cores: usize) -> (u32, Option<String>) {
        match self {
            RestoreJobs::Exactly(jobs) => (jobs.max(1), None),
            RestoreJobs::Auto if archive_size < PARALLEL_FROM => (1, None),
            RestoreJobs::Auto if !spool::holds(free, archive_size) => (
                1,
                Some(format!(
                    "restored with one streaming pg_restore job: a parallel restore's copy of the {} dump does not fit in \
                     the free space of the data folder's disk",
                    crate::units::human_bytes(archive_size, 1)
                )),
            ),
            RestoreJobs::Auto => ((cores as u32).clamp(2, AUTO_JOBS_MAX), None),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RestoreOptions {
    /// Restore over a non-empty database (kept, renamed) or onto an older server.
    pub force: bool,
    pub jobs: RestoreJobs,
    pub pg_bin: Option<PathBuf>,
    pub lock_wait: Duration,
    pub now: DateTime<Utc>,
    pub shape: Shape,
}

/// What of the snapshot is restored, and who owns it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// Everything (objects and the database) owned by this role instead of
    /// the backup's owners (`pg_restore --no-owner --role`).
    pub role: Option<String>,
    /// The source's owners and grants are left out: everything is owned by
    /// the restoring user (or `role`), and the source's roles are not
    /// created (`pg_restore --no-owner --no-privileges`), for a staging
    /// server that has other roles.
    pub no_owner: bool,
    /// Only these tables and schemas (empty: the whole database). Into a
    /// database that holds data they are restored beside the originals.
    pub selection: partial::Selection,
}

impl Shape {
    /// Whether the source's roles are created where the target lacks them.
    pub(crate) fn carries_roles(&self) -> bool {
        !self.no_owner
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TableCount {
    pub table: String,
    pub expected: u64,
    pub restored: u64,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RestoreReport {
    pub snapshot_id: String,
    pub target: String,
    pub database: String,
    pub bytes: u64,
    pub seconds: f64,
    /// `pg_restore` jobs run (1: the dump streamed into one).
    pub jobs: u32,
    /// Where the database that was there before now is, when it was kept.
    pub previous_database_kept_as: Option<String>,
    pub roles_created: Vec<String>,
    pub tables: Vec<TableCount>,
    /// Tables restored as new tables beside the originals (a partial
    /// restore into a database that holds data); empty otherwise.
    pub placed_beside: Vec<PlacedBeside>,
    pub warnings: Vec<String>,
}

/// Restores `snapshot` into `target`'s database (see the module docs).
pub async fn restore(
    repo: Arc<Repository>,
    snapshot: Snapshot,
    target: &ConnectionSpec,
    options: &RestoreOptions,
    progress: Arc<dyn Progress>,
) -> Result<RestoreReport> {
    let started = Instant::now();
    let facts = PgFacts::of(&snapshot)?;
    let shape = &options.shape;
    let check = preflight(&snapshot, target, options.force, shape).await?;
    if let Some(refusal) = &check.refusal {
        return Err(Error::RestoreRefused(refusal.clone()));
    }
    let pg = tools::find(facts.pg_dump_major(), options.pg_bin.as_deref())?;
    let partial = if shape.selection.is_empty() {
        None
    } else {
        progress.phase("reading the snapshot's table of contents", None);
        let toc = partial::table_of_contents(repo.clone(), snapshot.clone(), options.lock_wait).await?;
        let plan = partial::plan(&toc, &shape.selection)?;
        let list = partial::list_file(&plan.entries)?;
        Some((plan, list))
    };
    // Chosen tables never replace a database that holds data: they go beside.
    let beside = partial.is_some() && check.database_exists && !check.database_empty;
    let expected: std::collections::BTreeMap<String, u64> = match &partial {
        None => facts.row_counts.clone(),
        Some((plan, _)) => plan
            .tables
            .iter()
            .filter_map(|t| facts.row_counts.get(&t.key()).map(|rows| (t.key(), *rows)))
            .collect(),
    };
    let (jobs, streamed_why) = options.jobs.resolve(snapshot.manifest.size)?;
    let admin = target.with_database("postgres");
    let mut conn = inspect::connect(&admin).await?;

    let roles = if shape.carries_roles() {
        create_missing_roles(&mut conn, &admin, &facts.role_definitions, &check.missing_roles).await?
    } else {
        roles::CreatedRoles::default()
    };

    let stamp = options.now.format("%Y%m%d%H%M%S").to_string();
    let scratch = database_name(&target.database, &format!("_lifeboat_restore_{stamp}"));
    execute(
        &mut conn,
        &admin,
        "creating the scratch database on",
        &format!("CREATE DATABASE {} TEMPLATE template0", quote_ident(&scratch)),
    )
    .await?;
    if let Some(role) = &shape.role {
        // pg_restore --role loads as that role: it must own the database to create schemas in it.
        let sql = format!("ALTER DATABASE {} OWNER TO {}", quote_ident(&scratch), quote_ident(role));
        if let Err(e) = execute(&mut conn, &admin, "giving the scratch database its owner on", &sql).await {
            drop_database(&admin, &scratch).await;
            return Err(e);
        }
    }
    let _ = conn.close().await;
    let scratch_spec = target.with_database(&scratch);

    let load = LoadOptions {
        jobs,
        lock_wait: options.lock_wait,
        role: shape.role.clone(),
        no_owner: shape.no_owner,
        list: partial.as_ref().map(|(_, list)| list.path().to_path_buf()),
    };
    let outcome = restore_into(&repo, &snapshot, &facts, &expected, &scratch_spec, &pg, &load, progress.clone()).await;
    let (tables, restore_warnings) = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            drop_database(&admin, &scratch).await;
            return Err(e);
        }
    };
    let mut warnings = check.warnings;
    warnings.extend(streamed_why);
    warnings.extend(roles.warnings);
    warnings.extend(restore_warnings);
    let mut report = RestoreReport {
        snapshot_id: snapshot.id.clone(),
        target: target.display_url(),
        database: target.database.clone(),
        bytes: snapshot.manifest.size,
        seconds: 0.0,
        jobs,
        previous_database_kept_as: None,
        roles_created: roles.names,
        tables,
        placed_beside: Vec::new(),
        warnings,
    };

    if let (true, Some((plan, _))) = (beside, &partial) {
        progress.phase("copying the restored tables beside the originals", None);
        let placed = beside::copy_beside(&scratch_spec, target, &plan.tables, &expected, &stamp, shape.role.as_deref()).await;
        drop_database(&admin, &scratch).await;
        report.placed_beside = placed?;
        report.warnings.push(
            "the tables were restored beside the originals with their columns and rows; indexes, constraints and \
             triggers stay on the originals"
                .to_string(),
        );
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }

    let config_warnings = match configure(&admin, &scratch, &facts, shape).await {
        Ok(warnings) => warnings,
        Err(e) => {
            drop_database(&admin, &scratch).await;
            return Err(e);
        }
    };

    // Swap: the only moment the target changes.
    let swapped = match swap_into_place(target, &scratch, options.force, &stamp).await {
        Ok(swapped) => swapped,
        Err(e) => {
            drop_database(&admin, &scratch).await;
            return Err(e);
        }
    };
    report.warnings.extend(config_warnings);
    report.warnings.extend(swapped.warnings);
    if let Some(aside) = &swapped.kept_as {
        report.warnings.push(format!(
            "the database that was there before is kept as {aside}: drop it once you are satisfied"
        ));
    }
    report.previous_database_kept_as = swapped.kept_as;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Gives the restored scratch database the backup's owner (or `owner`)
/// and its `ALTER DATABASE ... SET` settings, before the swap; what cannot
/// be carried (a role the target lacks) comes back as warnings.
async fn configure(admin: &ConnectionSpec, scratch: &str, facts: &PgFacts, shape: &Shape) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    let Some(config) = &facts.database_config else {
        warnings.push(
            "this backup predates saved database settings: the database's owner and ALTER DATABASE ... SET settings \
             were not carried"
                .to_string(),
        );
        return Ok(warnings);
    };
    let mut conn = inspect::connect(admin).await?;
    let existing: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| pg_error("listing the roles of", admin, e))?;
    let owner = match (&shape.role, shape.no_owner) {
        (Some(role), _) => Some(role.as_str()),
        // Owned by the restoring user, who created it.
        (None, true) => None,
        (None, false) => Some(config.owner.as_str()),
    };
    if let Some(owner) = owner.filter(|o| existing.iter().any(|r| r == o)) {
        let sql = format!("ALTER DATABASE {} OWNER TO {}", quote_ident(scratch), quote_ident(owner));
        execute(&mut conn, admin, "giving the restored database its owner on", &sql).await?;
    } else if let Some(owner) = owner {
        warnings.push(format!(
            "the database was owned by {owner}, which the target does not have: it is owned by the restoring user"
        ));
    }
    for setting in &config.settings {
        if let Some(role) = setting.role.as_ref().filter(|r| !existing.contains(r)) {
            warnings.push(format!(
                "the setting {} for role {role} was not carried: the target has no such role",
                setting.name
            ));
            continue;
        }
        let Some(sql) = setting.statement(scratch) else {
            warnings.push(format!(
                "the setting {:?} has a name Lifeboat does not send: set it by hand",
                setting.name
            ));
            continue;
        };
        // One statement per extended-protocol query.
        if let Err(e) = sqlx::query(&sql).execute(&mut conn).await {
            warnings.push(format!("the setting {} = {} was not carried: {e}", setting.name, setting.value));
        }
    }
    let _ = conn.close().await;
    Ok(warnings)
}

/// pg_restore into the scratch database, then extensions and row counts
/// (`expected`: the backup's, of the tables restored); returns the tables
/// and the warnings (benign pg_restore errors).
#[allow(clippy::too_many_arguments)]
async fn restore_into(
    repo: &Arc<Repository>,
    snapshot: &Snapshot,
    facts: &PgFacts,
    expected: &std::collections::BTreeMap<String, u64>,
    scratch: &ConnectionSpec,
    pg: &tools::PgTools,
    load: &LoadOptions,
    progress: Arc<dyn Progress>,
) -> Result<(Vec<TableCount>, Vec<String>)> {
    let counted = async {
        ensure_extensions(scratch, &facts.extensions).await?;
        count_rows(scratch).await
    };
    let (warnings, counted) = load_archive(repo, snapshot, scratch, pg, load, progress, counted).await?;
    let tables = compare_counts(expected, &counted);
    let mismatches: Vec<String> = tables
        .iter()
        .filter(|t| t.restored != t.expected)
        .map(|t| format!("{}: {} rows, the backup had {}", t.table, t.restored, t.expected))
        .collect();
    if !mismatches.is_empty() {
        return Err(Error::RestoreFailed(format!(
            "restored row counts differ from the backup's: {}",
            mismatches.join("; ")
        )));
    }
    Ok((tables, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_archives_restore_in_parallel_when_their_copy_fits() {
        let big = PARALLEL_FROM * 4;
        let room = Some(big * 2);
        assert_eq!(RestoreJobs::Auto.choose(PARALLEL_FROM - 1, room, 8), (1, None), "small: streamed");
        assert_eq!(RestoreJobs::Auto.choose(big, room, 1), (2, None), "at least two jobs");
        assert_eq!(RestoreJobs::Auto.choose(big, room, 3), (3, None));
        assert_eq!(RestoreJobs::Auto.choose(big, room, 64), (AUTO_JOBS_MAX, None));
        assert_eq!(RestoreJobs::Auto.choose(big, None, 2), (2, None), "unknown room: the write tells");

        let (jobs, why) = RestoreJobs::Auto.choose(big, Some(big / 2), 8);
        assert_eq!(jobs, 1, "no room for the copy: streamed");
        assert!(why.unwrap().contains("does not fit in the free space"));

        // A user's choice is kept (and its room checked by the restore).
        assert_eq!(RestoreJobs::Exactly(6).choose(1, Some(0), 1), (6, None));
        assert_eq!(RestoreJobs::Exactly(0).choose(big, room, 8), (1, None));
    }
}
