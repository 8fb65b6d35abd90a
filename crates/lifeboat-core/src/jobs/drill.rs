//! Restore drills: proof that a snapshot restores, on a schedule.
//!
//! A drill restores a snapshot exactly as a restore would (every blob
//! authenticated, the stream's SHA-256 and size checked, roles from the
//! backup created, pg_restore's errors judged) into a scratch database
//! `lifeboat_drill_<connection>_<time>` on the drill server, then runs the
//! smoke checks: every table's row count equal to the manifest's, every
//! extension present, and the admin's SQL probes. The scratch database is
//! dropped whatever happens; one left by a crash is dropped by the next
//! drill of the same connection.
//!
//! A failed check is a failed drill (a report with `passed: false` naming
//! the check); an error is returned only when the drill could not start
//! (server unreachable, no pg_restore, not a PostgreSQL snapshot).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnection;
use sqlx::Connection;

use super::restore::{self, LoadOptions, TableCount};
use crate::error::{Error, Result};
use crate::pg::facts::PgFacts;
use crate::pg::inspect::{self, pg_error};
use crate::pg::{quote_ident, tools, ConnectionSpec};
use crate::progress::Progress;
use crate::repo::manifest::Snapshot;
use crate::repo::Repository;

/// A user SQL check: `sql` returns one value, compared with `expect`
/// (`>= 1`, `= 42`, `!= 0`, `= active`; a bare value means `=`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Probe {
    pub name: String,
    pub sql: String,
    pub expect: String,
}

const OPERATORS: [&str; 6] = [">=", "<=", "!=", "=", ">", "<"];

impl Probe {
    /// Refuses a probe that could never be judged.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() || self.sql.trim().is_empty() {
            return Err(Error::InvalidInput("a probe needs a name and a query".into()));
        }
        let (op, value) = self.expectation();
        if value.is_empty() {
            return Err(Error::InvalidInput(format!(
                "probe {:?}: the expectation {:?} has no value: write it as \">= 1\", \"= 42\" or \"!= 0\"",
                self.name, self.expect
            )));
        }
        if !matches!(op, "=" | "!=") && value.parse::<f64>().is_err() {
            return Err(Error::InvalidInput(format!(
                "probe {:?}: {op} compares numbers, and {value:?} is not one",
                self.name
            )));
        }
        Ok(())
    }

    fn expectation(&self) -> (&'static str, &str) {
        let expect = self.expect.trim();
        for op in OPERATORS {
            if let Some(value) = expect.strip_prefix(op) {
                return (op, value.trim());
            }
        }
        ("=", expect)
    }

    /// Whether `got` meets the expectation.
    pub fn holds(&self, got: &str) -> bool {
        let (op, want) = self.expectation();
        let ordering = match (got.trim().parse::<f64>(), want.parse::<f64>()) {
            (Ok(g), Ok(w)) => g.partial_cmp(&w),
            _ => Some(got.trim().cmp(want)),
        };
        let Some(ordering) = ordering else { return false };
        match op {
            "=" => ordering.is_eq(),
            "!=" => ordering.is_ne(),
            ">=" => ordering.is_ge(),
            "<=" => ordering.is_le(),
            ">" => ordering.is_gt(),
            _ => ordering.is_lt(),
        }
    }
}

/// Reads probes from a JSON file: `[{"name": ..., "sql": ..., "expect": ...}]`.
pub fn read_probes(path: &std::path::Path) -> Result<Vec<Probe>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading the probe file", path, e))?;
    parse_probes(&text, &path.display().to_string())
}

/// Parses a probe file's text; `source` names it in errors.
pub fn parse_probes(text: &str, source: &str) -> Result<Vec<Probe>> {
    let probes: Vec<Probe> = serde_json::from_str(text).map_err(|e| {
        Error::InvalidInput(format!(
            "{source} is not a probe file: {e}; write a JSON list such as \
             [{{\"name\": \"users exist\", \"sql\": \"select count(*) from users\", \"expect\": \">= 1\"}}]"
        ))
    })?;
    for probe in &probes {
        probe.validate()?;
    }
    Ok(probes)
}

/// One smoke check's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DrillCheck {
    pub name: String,
    pub passed: bool,
    pub detail: String,
    /// For a failed check of a drill on this workstation or a rehearsal:
    /// what to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub advice: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DrillReport {
    pub snapshot_id: String,
    /// The snapshot's name (its connection).
    pub name: String,
    pub server: String,
    pub scratch_database: String,
    pub started_at: DateTime<Utc>,
    pub seconds: f64,
    pub passed: bool,
    /// In the order they ran; a check that could not run is not listed.
    pub checks: Vec<DrillCheck>,
    pub tables: Vec<TableCount>,
    pub roles_created: Vec<String>,
    pub warnings: Vec<String>,
    /// Scratch databases of earlier drills (a crash) dropped first.
    pub leftovers_dropped: Vec<String>,
    pub scratch_dropped: bool,
    /// How long the restore itself took (0 when it did not run).
    #[serde(default)]
    pub restore_seconds: f64,
    /// Set for a drill on a scratch cluster of this workstation (and an
    /// upgrade rehearsal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub local: Option<super::local_drill::LocalRun>,
}

impl DrillReport {
    /// The first failed check, for one-line messages.
    pub fn failed_check(&self) -> Option<&DrillCheck> {
        self.checks.iter().find(|c| !c.passed)
    }
}

#[derive(Clone, Debug)]
pub struct DrillOptions {
    pub probes: Vec<Probe>,
    pub pg_bin: Option<std::path::PathBuf>,
    pub lock_wait: Duration,
    pub now: DateTime<Utc>,
}

/// The scratch database prefix of a connection's drills.
fn scratch_prefix(name: &str) -> String {
    // One name, one prefix: lowercase letters and digits stay, anything else
    // becomes `_xx` (its bytes in hex), so `shop-db`, `shop.db`, `shop_db`
    // and `Shop` never drop each other's scratch databases. A name too long
    // for PostgreSQL's 63 bytes is cut and marked with a hash of the whole.
    let mut cleaned = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_lowercase() || byte.is_ascii_digit() {
            cleaned.push(char::from(byte));
        } else {
            cleaned.push_str(&format!("_{byte:02x}"));
        }
    }
    if cleaned.len() > 29 {
        cleaned.truncate(20);
        cleaned.push('_');
        cleaned.push_str(&blake3::hash(name.as_bytes()).to_hex()[..8]);
    }
    format!("lifeboat_drill_{cleaned}_")
}

/// Restores `snapshot` into a scratch database on `server`, runs the smoke
/// checks and drops the scratch database (see the module docs).
pub async fn drill(
    repo: Arc<Repository>,
    snapshot: &Snapshot,
    server: &ConnectionSpec,
    options: &DrillOptions,
    progress: Arc<dyn Progress>,
) -> Result<DrillReport> {
    let started = Instant::now();
    let facts = PgFacts::of(snapshot)?;
    for probe in &options.probes {
        probe.validate()?;
    }
    let pg = tools::find(facts.pg_dump_major(), options.pg_bin.as_deref())?;
    progress.phase("preparing the drill server", None);
    let admin = server.with_database("postgres");
    let mut conn = inspect::connect(&admin).await?;
    let prefix = scratch_prefix(&snapshot.manifest.tag);
    let leftovers_dropped = drop_leftovers(&mut conn, &admin, &prefix).await?;

    let preflight = restore::preflight(
        snapshot,
        &admin.with_database(&format!("{prefix}preflight")),
        true,
        &restore::Shape::default(),
    )
    .await?;
    if !preflight.missing_extensions.is_empty() {
        return Err(Error::RestoreRefused(format!(
            "the drill server lacks the extension(s) {}: install them there (on Debian/Ubuntu: postgresql-contrib or the \
             extension's package), or drill on another server",
            preflight.missing_extensions.join(", ")
        )));
    }
    let roles = restore::create_missing_roles(&mut conn, &admin, &facts.role_definitions, &preflight.missing_roles).await?;
    let scratch = format!("{prefix}{}", options.now.format("%Y%m%d%H%M%S"));
    restore::execute(
        &mut conn,
        &admin,
        "creating the drill's scratch database on",
        &format!("CREATE DATABASE {} TEMPLATE template0", quote_ident(&scratch)),
    )
    .await?;

    let scratch_spec = server.with_database(&scratch);
    let mut report = DrillReport {
        snapshot_id: snapshot.id.clone(),
        name: snapshot.manifest.tag.clone(),
        server: admin.display_url(),
        scratch_database: scratch.clone(),
        started_at: options.now,
        seconds: 0.0,
        passed: false,
        checks: Vec::new(),
        tables: Vec::new(),
        roles_created: roles.names,
        warnings: preflight.warnings.iter().chain(&roles.warnings).cloned().collect(),
        leftovers_dropped,
        scratch_dropped: false,
        restore_seconds: 0.0,
        local: None,
    };
    let checked = run_checks(&repo, snapshot, &facts, &scratch_spec, &pg, options, progress.clone(), &mut report).await;

    progress.phase("dropping the scratch database", None);
    let _ = conn.close().await;
    clean_up(&admin, &scratch, &mut report).await;
    checked?;
    report.passed = !report.checks.is_empty() && report.checks.iter().all(|c| c.passed);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn run_checks(
    repo: &Arc<Repository>,
    snapshot: &Snapshot,
    facts: &PgFacts,
    scratch: &ConnectionSpec,
    pg: &tools::PgTools,
    options: &DrillOptions,
    progress: Arc<dyn Progress>,
    report: &mut DrillReport,
) -> Result<()> {
    let (jobs, streamed_why) = restore::RestoreJobs::Auto.resolve(snapshot.manifest.size)?;
    report.warnings.extend(streamed_why);
    let load = LoadOptions {
        jobs,
        lock_wait: options.lock_wait,
        role: None,
        no_owner: false,
        list: None,
    };
    // Checked once the rows are in, beside the indexes' build.
    let checked = async { Ok((check_extensions(scratch, facts).await, restore::count_rows(scratch).await)) };
    let restore_started = Instant::now();
    let loaded = restore::load_archive(repo, snapshot, scratch, pg, &load, progress.clone(), checked).await;
    report.restore_seconds = restore_started.elapsed().as_secs_f64();
    let (extensions, counted) = match loaded {
        Ok((benign, checked)) => {
            let detail = format!(
                "{} restored, SHA-256 and size match the manifest{}",
                crate::units::human_bytes(snapshot.manifest.size, 1),
                if benign.is_empty() {
                    String::new()
                } else {
                    format!("; {} harmless pg_restore error(s) ignored", benign.len())
                }
            );
            report.warnings.extend(benign);
            report.checks.push(pass("restore", detail));
            checked
        }
        // Cancelled: no verdict, the caller drops the scratch database and says so.
        Err(Error::Cancelled) => return Err(Error::Cancelled),
        Err(e) => {
            let detail = match e {
                Error::RestoreFailed(detail) => detail,
                other => other.to_string(),
            };
            report.checks.push(fail("restore", detail));
            return Ok(());
        }
    };

    report.checks.push(match extensions {
        Ok(()) => pass("extensions", format!("{} extension(s) present", facts.extensions.len())),
        Err(e) => fail("extensions", e.to_string()),
    });
    match counted {
        Ok(restored) => {
            report.tables = restore::compare_counts(&facts.row_counts, &restored);
            report.checks.push(row_count_check(&report.tables));
        }
        Err(e) => report.checks.push(fail("row counts", e.to_string())),
    }

    if !options.probes.is_empty() {
        progress.phase("running probes", None);
        match inspect::connect(scratch).await {
            Ok(mut conn) => {
                for probe in &options.probes {
                    report.checks.push(run_probe(&mut conn, scratch, probe).await);
                }
                let _ = conn.close().await;
            }
            Err(e) => report.checks.push(fail("probes", e.to_string())),
        }
    }
    Ok(())
}

pub(crate) fn pass(name: &str, detail: String) -> DrillCheck {
    DrillCheck {
        name: name.to_owned(),
        passed: true,
        detail,
        advice: None,
    }
}

pub(crate) fn fail(name: &str, detail: String) -> DrillCheck {
    DrillCheck {
        name: name.to_owned(),
        passed: false,
        detail,
        advice: None,
    }
}

/// Every table's restored rows against the manifest's, naming each that differs.
pub(crate) fn row_count_check(tables: &[TableCount]) -> DrillCheck {
    let differing: Vec<String> = tables
        .iter()
        .filter(|t| t.restored != t.expected)
        .map(|t| format!("{}: {} rows restored, the backup had {}", t.table, t.restored, t.expected))
        .collect();
    if differing.is_empty() {
        let rows: u64 = tables.iter().map(|t| t.restored).sum();
        pass(
            "row counts",
            format!("{} table(s), {rows} rows, all equal to the manifest's", tables.len()),
        )
    } else {
        fail("row counts", differing.join("; "))
    }
}

async fn check_extensions(scratch: &ConnectionSpec, facts: &PgFacts) -> Result<()> {
    restore::ensure_extensions(scratch, &facts.extensions).await?;
    let mut conn = inspect::connect(scratch).await?;
    let present: Vec<String> = sqlx::query_scalar("SELECT extname::text FROM pg_extension")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| pg_error("listing the extensions of", scratch, e))?;
    let _ = conn.close().await;
    let missing: Vec<&str> = facts
        .extensions
        .iter()
        .map(|e| e.name.as_str())
        .filter(|name| !present.iter().any(|p| p == name))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::RestoreFailed(format!("missing after the restore: {}", missing.join(", "))))
    }
}

pub(crate) async fn run_probe(conn: &mut PgConnection, scratch: &ConnectionSpec, probe: &Probe) -> DrillCheck {
    let name = format!("probe: {}", probe.name);
    // One statement (a prepared one cannot hold two), in a read-only
    // transaction that is rolled back: a probe can only read. Its first
    // column comes back as text, whatever its type.
    let sql = format!(
        "SELECT (SELECT value FROM json_each_text(row_to_json(probe_row)) LIMIT 1) \
         FROM (SELECT * FROM ({}) AS probe_query LIMIT 1) AS probe_row",
        probe.sql.trim().trim_end_matches(';')
    );
    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => return fail(&name, pg_error("running probes on", scratch, e).to_string()),
    };
    let setup = "SET TRANSACTION READ ONLY";
    if let Err(e) = sqlx::Executor::execute(&mut *tx, setup).await {
        return fail(&name, pg_error("running probes on", scratch, e).to_string());
    }
    let _ = sqlx::Executor::execute(&mut *tx, "SET LOCAL statement_timeout = '60s'").await;
    let got: std::result::Result<Option<Option<String>>, _> = sqlx::query_scalar(&sql).fetch_optional(&mut *tx).await;
    let _ = tx.rollback().await;
    let got = match got {
        Ok(Some(value)) => value.unwrap_or_else(|| "NULL".into()),
        Ok(None) => return fail(&name, format!("the query returned no row; expected {}", probe.expect.trim())),
        Err(e) => return fail(&name, format!("the query failed: {e}")),
    };
    if probe.holds(&got) {
        pass(&name, format!("got {got}, expected {}", probe.expect.trim()))
    } else {
        fail(&name, format!("got {got}, expected {}", probe.expect.trim()))
    }
}

/// Drops scratch databases of this connection's earlier drills that nobody
/// is connected to (a crashed or killed drill left them).
async fn drop_leftovers(conn: &mut PgConnection, admin: &ConnectionSpec, prefix: &str) -> Result<Vec<String>> {
    // Exactly this connection's names: `shop`'s drills never touch `shop_eu`'s.
    let pattern = format!("^{prefix}[0-9]{{14}}$");
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database d WHERE datname ~ $1
           AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid)",
    )
    .bind(pattern)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("looking for earlier drills' scratch databases on", admin, e))?;
    let mut dropped = Vec::new();
    for name in names {
        let sql = format!("DROP DATABASE IF EXISTS {}", quote_ident(&name));
        match restore::execute(conn, admin, "dropping an earlier drill's scratch database on", &sql).await {
            Ok(()) => dropped.push(name),
            Err(e) => tracing::warn!("{e}"),
        }
    }
    Ok(dropped)
}

/// Drops the scratch database and the roles the drill created, on a fresh
/// connection (the drill's own may be hours old); what it could not do
/// becomes a warning.
async fn clean_up(admin: &ConnectionSpec, scratch: &str, report: &mut DrillReport) {
    restore::drop_database(admin, scratch).await;
    let mut conn = match inspect::connect(admin).await {
        Ok(conn) => conn,
        Err(e) => {
            report.warnings.push(format!("could not clean up after the drill: {e}"));
            return;
        }
    };
    report.scratch_dropped = sqlx::query_scalar::<_, bool>("SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(scratch)
        .fetch_one(&mut conn)
        .await
        .unwrap_or(false);
    if !report.scratch_dropped {
        report.warnings.push(format!(
            "the scratch database {scratch} could not be dropped: the next drill of {} drops it",
            report.name
        ));
    } else {
        // A drill leaves no role behind: the ones it made go with the scratch database.
        for role in &report.roles_created {
            let drop = format!("DROP ROLE IF EXISTS {}", quote_ident(role));
            if let Err(e) = sqlx::query(&drop).execute(&mut conn).await {
                report
                    .warnings
                    .push(format!("the role {role} the drill created could not be dropped: {e}"));
            }
        }
    }
    let _ = conn.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(expect: &str) -> Probe {
        Probe {
            name: "p".into(),
            sql: "select 1".into(),
            expect: expect.into(),
        }
    }

    #[test]
    fn probes_compare_numbers_as_numbers_and_text_as_text() {
        assert!(probe(">= 1").holds("3"));
        assert!(!probe(">= 1").holds("0"));
        assert!(probe("= 10").holds("10.0"));
        assert!(probe("42").holds("42"));
        assert!(probe("!= 0").holds("7"));
        assert!(probe("< 2.5").holds("2"));
        assert!(probe("= active").holds("active"));
        assert!(!probe("= active").holds("NULL"));
        assert!(probe(">= 1").validate().is_ok());
        assert!(probe(">= lots").validate().unwrap_err().to_string().contains("not one"));
        assert!(probe(">=").validate().unwrap_err().to_string().contains("no value"));
    }

    #[test]
    fn a_row_count_that_differs_fails_the_check_naming_the_table() {
        let tables = vec![
            TableCount {
                table: "public.orders".into(),
                expected: 5,
                restored: 5,
            },
            TableCount {
                table: "public.users".into(),
                expected: 4,
                restored: 3,
            },
        ];
        let check = row_count_check(&tables);
        assert!(!check.passed);
        assert_eq!(check.detail, "public.users: 3 rows restored, the backup had 4");
        let check = row_count_check(&tables[..1]);
        assert!(check.passed, "{check:?}");
        assert_eq!(check.detail, "1 table(s), 5 rows, all equal to the manifest's");
    }

    #[test]
    fn scratch_names_are_per_connection_and_fit_postgres() {
        assert_eq!(scratch_prefix("shop"), "lifeboat_drill_shop_");
        let similar = ["shop-db", "shop.db", "shop_db", "Shop-db", "shopdb"].map(scratch_prefix);
        let distinct: std::collections::HashSet<&String> = similar.iter().collect();
        assert_eq!(distinct.len(), similar.len(), "{similar:?}");
        let long = [&"x".repeat(80), &format!("{}y", "x".repeat(79))].map(|n| scratch_prefix(n));
        assert_ne!(long[0], long[1]);
        for prefix in similar.iter().chain(&long) {
            assert!(prefix.len() + "20261123103000".len() <= 63, "{prefix}");
            assert!(prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        }
    }
}
