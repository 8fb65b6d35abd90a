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

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnection;
use sqlx::Connection;

use super::spool;
use crate::error::{Error, Result};
use crate::pg::facts::PgFacts;
use crate::pg::inspect::{self, major_of, pg_error, Extension};
use crate::pg::{quote_ident, tools, ConnectionSpec};
use crate::progress::Progress;
use crate::repo::manifest::Snapshot;
use crate::repo::read::{self, ReadOptions};
use crate::repo::Repository;

/// Writes into a child's stdin until the child closes it, then swallows
/// the rest: the stream must still be read to its end to be verified.
struct IntoChild {
    stdin: Option<ChildStdin>,
}

impl Write for IntoChild {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(stdin) = &mut self.stdin {
            if let Err(e) = stdin.write_all(buf) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e);
                }
                self.stdin = None;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.stdin {
            Some(stdin) => stdin.flush().or_else(|e| {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    Ok(())
                } else {
                    Err(e)
                }
            }),
            None => Ok(()),
        }
    }
}

fn spawn_collecting(mut child: Child) -> (Child, std::thread::JoinHandle<(String, String)>) {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut err = String::new();
        let out_thread = std::thread::spawn(move || {
            let mut out = String::new();
            if let Some(s) = stdout.as_mut() {
                let _ = s.read_to_string(&mut out);
            }
            out
        });
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_string(&mut err);
        }
        (out_thread.join().unwrap_or_default(), err)
    });
    (child, reader)
}

/// What a client tool printed and how it exited.
struct ToolOutput {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Streams the snapshot into `child`'s stdin (verified), then waits for it.
/// Fails only when the stream did not verify or the child cannot be waited
/// for; the caller judges the child's own output.
fn feed(repo: &Repository, snapshot: &Snapshot, child: Child, progress: &dyn Progress, lock_wait: Duration) -> Result<ToolOutput> {
    let mut child = child;
    let stdin = child.stdin.take();
    let (mut child, output) = spawn_collecting(child);
    let mut sink = IntoChild { stdin };
    let streamed = read::cat(repo, snapshot, &mut sink, progress, ReadOptions { lock_wait });
    drop(sink);
    if let Err(e) = streamed {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    let status = child.wait().map_err(|e| Error::Internal(format!("waiting for pg_restore: {e}")))?;
    let (stdout, stderr) = output.join().unwrap_or_default();
    Ok(ToolOutput { status, stdout, stderr })
}

/// Errors `pg_restore` reports that do not make a restore incomplete: the
/// object already exists in a fresh database (older dumps create the
/// `public` schema), or belongs to the bootstrap superuser.
const BENIGN_RESTORE_ERRORS: &[&str] = &["schema \"public\" already exists", "must be owner of extension plpgsql"];

/// `pg_restore`'s errors sorted into benign ones (kept as warnings) and
/// real ones, each with the statement that failed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RestoreMessages {
    pub benign: Vec<String>,
    pub errors: Vec<String>,
}

impl RestoreMessages {
    pub(crate) fn from_stderr(stderr: &str) -> RestoreMessages {
        let mut messages = RestoreMessages::default();
        let mut lines = stderr.lines().peekable();
        while let Some(line) = lines.next() {
            // pg_restore 12-14 call a fatal error "fatal:", later ones "error:".
            let Some(at) = line.find("error: ").or_else(|| line.find("fatal: ")) else {
                continue;
            };
            let mut message = line[at + "error: ".len()..].trim().to_string();
            if let Some(command) = lines.peek().and_then(|next| next.strip_prefix("Command was: ")) {
                message = format!("{message} (in: {})", command.trim());
                lines.next();
            }
            if BENIGN_RESTORE_ERRORS.iter().any(|benign| message.contains(benign)) {
                messages.benign.push(message);
            } else {
                messages.errors.push(message);
            }
        }
        messages
    }

    /// The count pg_restore reports in "errors ignored on restore: N".
    fn ignored(stderr: &str) -> Option<usize> {
        stderr
            .lines()
            .find_map(|l| l.split("errors ignored on restore: ").nth(1))
            .and_then(|n| n.trim().parse().ok())
    }
}

/// Judges a `pg_restore` run that continued past its errors: it passes
/// only when it succeeded, or when it exited with 1 (not a signal) after
/// exactly the benign errors it counted; those come back as warnings.
fn judge_restore(output: &ToolOutput) -> Result<Vec<String>> {
    let messages = RestoreMessages::from_stderr(&output.stderr);
    if !messages.errors.is_empty() {
        return Err(Error::RestoreFailed(format!(
            "pg_restore reported {} error(s): {}",
            messages.errors.len(),
            messages.errors.join("; ")
        )));
    }
    let only_benign = output.status.code() == Some(1)
        && !messages.benign.is_empty()
        && RestoreMessages::ignored(&output.stderr) == Some(messages.benign.len());
    if !output.status.success() && !only_benign {
        return Err(Error::RestoreFailed(format!(
            "pg_restore exited with {}: {}",
            output.status,
            output.stderr.trim()
        )));
    }
    Ok(messages
        .benign
        .into_iter()
        .map(|m| format!("ignored a harmless pg_restore error: {m}"))
        .collect())
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VerifyReport {
    pub snapshot_id: String,
    pub size: u64,
    pub sha256: String,
    /// Entries `pg_restore --list` read from the archive.
    pub archive_entries: usize,
    pub seconds: f64,
}

/// Every blob authenticated, the stream's SHA-256 and size compared with
/// the manifest, and the archive read by `pg_restore --list`.
pub fn verify(
    repo: &Repository,
    snapshot: &Snapshot,
    pg_bin: Option<&Path>,
    progress: &dyn Progress,
    lock_wait: Duration,
) -> Result<VerifyReport> {
    let started = Instant::now();
    let facts = PgFacts::of(snapshot)?;
    let pg = tools::find(facts.pg_dump_major(), pg_bin)?;
    let child = Command::new(pg.tool("pg_restore"))
        .arg("--list")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::RestoreFailed(format!("cannot run {}: {e}", pg.tool("pg_restore").display())))?;
    let output = feed(repo, snapshot, child, progress, lock_wait)?;
    if !output.status.success() {
        return Err(Error::corrupt(
            format!("the archive in snapshot {}", &snapshot.id[..8]),
            format!("pg_restore --list exited with {}: {}", output.status, output.stderr.trim()),
        ));
    }
    let entries = output
        .stdout
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .count();
    Ok(VerifyReport {
        snapshot_id: snapshot.id.clone(),
        size: snapshot.manifest.size,
        sha256: snapshot.manifest.sha256.clone(),
        archive_entries: entries,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[derive(Clone, Debug)]
pub struct RestoreOptions {
    /// Restore over a non-empty database (kept, renamed) or onto an older server.
    pub force: bool,
    /// Parallel `pg_restore` jobs; above 1 the archive is first written
    /// (verified) to a private file under the data folder (see `spool`).
    pub jobs: u32,
    pub pg_bin: Option<PathBuf>,
    pub lock_wait: Duration,
    pub now: DateTime<Utc>,
    /// Everything (objects and the database) owned by this role instead of
    /// the backup's owners (`pg_restore --no-owner --role`).
    pub owner: Option<String>,
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
    /// Where the database that was there before now is, when it was kept.
    pub previous_database_kept_as: Option<String>,
    pub roles_created: Vec<String>,
    pub tables: Vec<TableCount>,
    pub warnings: Vec<String>,
}

/// What a preflight found; `restore` refuses on `refusal`.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Preflight {
    pub target_server_version: String,
    pub database_exists: bool,
    pub database_empty: bool,
    pub missing_roles: Vec<String>,
    pub missing_extensions: Vec<String>,
    /// Why the restore would be refused (without `force`, where it helps).
    pub refusal: Option<String>,
    pub warnings: Vec<String>,
}

/// Checks the target without changing anything.
pub async fn preflight(snapshot: &Snapshot, target: &ConnectionSpec, force: bool, owner: Option<&str>) -> Result<Preflight> {
    let facts = PgFacts::of(snapshot)?;
    let admin = target.with_database("postgres");
    let mut conn = inspect::connect(&admin).await?;
    let (version_num, version) = inspect::server_version(&mut conn, &admin).await?;
    let existing_roles: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| pg_error("listing the roles of", &admin, e))?;
    let available: Vec<String> = sqlx::query_scalar("SELECT name::text FROM pg_available_extensions")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| pg_error("listing the extensions of", &admin, e))?;
    let _ = conn.close().await;

    let exists = inspect::database_exists(target).await?;
    let contents = if exists {
        inspect::inspect(target).await?.contents
    } else {
        Vec::new()
    };
    let empty = contents.is_empty();
    let missing_roles: Vec<String> = facts.roles.iter().filter(|r| !existing_roles.contains(r)).cloned().collect();
    let missing_extensions: Vec<String> = facts
        .extensions
        .iter()
        .map(|e| e.name.clone())
        .filter(|name| !available.contains(name))
        .collect();

    let mut warnings = Vec::new();
    let mut refusal = None;
    let target_major = major_of(version_num);
    if target_major < facts.server_major() {
        let message = format!(
            "the target runs PostgreSQL {target_major}, older than the server the dump came from ({}): a newer pg_dump writes \
             settings an older server may reject",
            facts.server_major()
        );
        if force {
            warnings.push(message);
        } else {
            refusal = Some(format!(
                "{message}; restore onto PostgreSQL {} or newer, or confirm to try anyway (--force; in the app, type the database's name)",
                facts.server_major()
            ));
        }
    }
    if exists && !empty && !force {
        refusal.get_or_insert(format!(
            "database {} on {}:{} is not empty (it holds {}): restore into a new database name, or confirm replacing it \
             (--force; in the app, type its name); the current one is kept, renamed",
            target.database,
            target.host,
            target.port,
            contents.join(", ")
        ));
    }
    if let Some(owner) = owner.filter(|o| !existing_roles.iter().any(|r| r == o)) {
        refusal = Some(format!(
            "the role {owner} that is to own everything does not exist on the target: create it first, or keep the backup's owners"
        ));
    }
    if !missing_extensions.is_empty() {
        refusal = Some(format!(
            "the target server lacks the extension(s) {}: install them there first (on Debian/Ubuntu: postgresql-contrib \
             or the extension's package)",
            missing_extensions.join(", ")
        ));
    }
    Ok(Preflight {
        target_server_version: version,
        database_exists: exists,
        database_empty: empty,
        missing_roles,
        missing_extensions,
        refusal,
        warnings,
    })
}

pub(crate) async fn execute(conn: &mut PgConnection, spec: &ConnectionSpec, action: &'static str, sql: &str) -> Result<()> {
    // Without arguments this is the simple-query protocol: several
    // statements may go at once. (`raw_sql` would make the future !Send.)
    sqlx::Executor::execute(&mut *conn, sql)
        .await
        .map_err(|e| pg_error(action, spec, e))?;
    Ok(())
}

/// What the swap did with the database that had the target's name.
struct Swapped {
    /// Where a database that held data now is (only with `force`).
    kept_as: Option<String>,
    warnings: Vec<String>,
}

/// Moves the restored scratch database to `target`'s name, on a fresh
/// connection (the one that began the restore may be hours old).
///
/// A database already there is judged at the instant of the swap, not at
/// the start: new connections to it are refused, nobody else may be
/// connected, and its contents are read on a session opened before the
/// door closed. Both renames then run in one transaction, so either the
/// restored database has the name or nothing changed. The old database is
/// dropped only when it was proven empty then; one holding data (allowed by
/// `force`) is kept under a new name, returned.
async fn swap_into_place(target: &ConnectionSpec, scratch: &str, force: bool, stamp: &str) -> Result<Swapped> {
    let admin = target.with_database("postgres");
    let mut conn = inspect::connect(&admin).await?;
    let allowed: Option<bool> = sqlx::query_scalar("SELECT datallowconn FROM pg_database WHERE datname = $1")
        .bind(&target.database)
        .fetch_optional(&mut conn)
        .await
        .map_err(|e| pg_error("listing the databases of", &admin, e))?;
    let Some(allowed) = allowed else {
        let sql = format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(scratch),
            quote_ident(&target.database)
        );
        execute(&mut conn, &admin, "renaming the restored database into place on", &sql).await?;
        let _ = conn.close().await;
        return Ok(Swapped {
            kept_as: None,
            warnings: Vec::new(),
        });
    };
    // The session that reads the contents is opened before the door closes.
    let mut inspector = inspect::connect(target).await?;
    let inspector_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut inspector)
        .await
        .map_err(|e| pg_error("inspecting", target, e))?;
    let database = quote_ident(&target.database);
    execute(
        &mut conn,
        &admin,
        "refusing new connections during the swap on",
        &format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS false"),
    )
    .await?;
    let swapped = swap_closed(&mut conn, &admin, inspector, inspector_pid, target, scratch, force, stamp, allowed).await;
    if swapped.is_err() {
        // The transaction rolled back: the database still has its name.
        let reopen = format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS {allowed}");
        if let Err(e) = execute(&mut conn, &admin, "accepting connections again on", &reopen).await {
            tracing::error!("{e}");
            return Err(Error::RestoreFailed(format!(
                "{}; and {} still refuses connections: run `{reopen}` as its owner",
                swapped.err().map(|e| e.to_string()).unwrap_or_default(),
                target.database
            )));
        }
    }
    let _ = conn.close().await;
    swapped
}

/// The swap once `target` refuses new connections (see `swap_into_place`).
#[allow(clippy::too_many_arguments)]
async fn swap_closed(
    conn: &mut PgConnection,
    admin: &ConnectionSpec,
    mut inspector: PgConnection,
    inspector_pid: i32,
    target: &ConnectionSpec,
    scratch: &str,
    force: bool,
    stamp: &str,
    allowed: bool,
) -> Result<Swapped> {
    let sessions: Vec<String> = sqlx::query_scalar(
        "SELECT format('%s (%s)', usename, coalesce(nullif(application_name, ''), 'no application name'))
           FROM pg_stat_activity WHERE datname = $1 AND pid <> $2",
    )
    .bind(&target.database)
    .bind(inspector_pid)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("listing the sessions of", admin, e))?;
    if !sessions.is_empty() {
        let _ = inspector.close().await;
        return Err(Error::RestoreRefused(format!(
            "{} is in use by {} session(s): {}; a database cannot be replaced while anyone is connected. Stop the \
             application(s) and restore again",
            target.database,
            sessions.len(),
            sessions.join(", ")
        )));
    }
    let contents = inspect::contents(&mut inspector, target).await;
    let _ = inspector.close().await;
    let contents = contents?;
    if !contents.is_empty() && !force {
        return Err(Error::RestoreRefused(format!(
            "{} received data while the restore ran (it now holds {}); its data is untouched. \
             Restore into a new database name, or confirm replacing it (--force; in the app, type its name); the current \
             one is then kept, renamed",
            target.database,
            contents.join(", ")
        )));
    }
    let proven_empty = contents.is_empty();
    let aside = database_name(&target.database, &format!("_before_lifeboat_{stamp}"));
    let mut tx = conn.begin().await.map_err(|e| pg_error("starting the swap on", admin, e))?;
    execute(
        &mut tx,
        admin,
        "setting the current database aside on",
        &format!("ALTER DATABASE {} RENAME TO {}", quote_ident(&target.database), quote_ident(&aside)),
    )
    .await?;
    execute(
        &mut tx,
        admin,
        "renaming the restored database into place on",
        &format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(scratch),
            quote_ident(&target.database)
        ),
    )
    .await?;
    if !proven_empty {
        execute(
            &mut tx,
            admin,
            "reopening the kept database on",
            &format!("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allowed}", quote_ident(&aside)),
        )
        .await?;
    }
    tx.commit().await.map_err(|e| pg_error("committing the swap on", admin, e))?;
    if !proven_empty {
        return Ok(Swapped {
            kept_as: Some(aside),
            warnings: Vec::new(),
        });
    }
    // Nobody can connect to it, and it held nothing an instant ago.
    let mut warnings = Vec::new();
    if let Err(e) = execute(
        conn,
        admin,
        "dropping the empty database that was there before on",
        &format!("DROP DATABASE {}", quote_ident(&aside)),
    )
    .await
    {
        warnings.push(format!(
            "the empty database that was there before is kept as {aside} ({e}): drop it"
        ));
    }
    Ok(Swapped { kept_as: None, warnings })
}

/// A database name of at most 63 bytes: `base` shortened to fit `suffix`.
pub(crate) fn database_name(base: &str, suffix: &str) -> String {
    let room = 63 - suffix.len();
    let mut end = base.len().min(room);
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &base[..end])
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
    let check = preflight(&snapshot, target, options.force, options.owner.as_deref()).await?;
    if let Some(refusal) = &check.refusal {
        return Err(Error::RestoreRefused(refusal.clone()));
    }
    let pg = tools::find(facts.pg_dump_major(), options.pg_bin.as_deref())?;
    if options.jobs > 1 {
        spool::check_room(&spool::folder()?, snapshot.manifest.size)?;
    }
    let admin = target.with_database("postgres");
    let mut conn = inspect::connect(&admin).await?;

    let roles = create_missing_roles(&mut conn, &admin, &facts, &check.missing_roles).await?;

    let stamp = options.now.format("%Y%m%d%H%M%S").to_string();
    let scratch = database_name(&target.database, &format!("_lifeboat_restore_{stamp}"));
    execute(
        &mut conn,
        &admin,
        "creating the scratch database on",
        &format!("CREATE DATABASE {} TEMPLATE template0", quote_ident(&scratch)),
    )
    .await?;
    if let Some(owner) = &options.owner {
        // pg_restore --role loads as that role: it must own the database to create schemas in it.
        let sql = format!("ALTER DATABASE {} OWNER TO {}", quote_ident(&scratch), quote_ident(owner));
        if let Err(e) = execute(&mut conn, &admin, "giving the scratch database its owner on", &sql).await {
            drop_database(&admin, &scratch).await;
            return Err(e);
        }
    }
    let _ = conn.close().await;
    let scratch_spec = target.with_database(&scratch);

    let outcome = restore_into(&repo, &snapshot, &facts, &scratch_spec, &pg, options, progress.clone()).await;
    let (tables, restore_warnings) = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            drop_database(&admin, &scratch).await;
            return Err(e);
        }
    };

    let config_warnings = match configure(&admin, &scratch, &facts, options.owner.as_deref()).await {
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
    let kept_as = swapped.kept_as;
    let mut warnings = check.warnings;
    warnings.extend(roles.warnings);
    warnings.extend(restore_warnings);
    warnings.extend(config_warnings);
    warnings.extend(swapped.warnings);
    if let Some(aside) = &kept_as {
        warnings.push(format!(
            "the database that was there before is kept as {aside}: drop it once you are satisfied"
        ));
    }
    Ok(RestoreReport {
        snapshot_id: snapshot.id.clone(),
        target: target.display_url(),
        database: target.database.clone(),
        bytes: snapshot.manifest.size,
        seconds: started.elapsed().as_secs_f64(),
        previous_database_kept_as: kept_as,
        roles_created: roles.names,
        tables,
        warnings,
    })
}

/// Gives the restored scratch database the backup's owner (or `owner`)
/// and its `ALTER DATABASE ... SET` settings, before the swap; what cannot
/// be carried (a role the target lacks) comes back as warnings.
async fn configure(admin: &ConnectionSpec, scratch: &str, facts: &PgFacts, owner: Option<&str>) -> Result<Vec<String>> {
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
    let owner = owner.unwrap_or(&config.owner);
    if existing.iter().any(|r| r == owner) {
        let sql = format!("ALTER DATABASE {} OWNER TO {}", quote_ident(scratch), quote_ident(owner));
        execute(&mut conn, admin, "giving the restored database its owner on", &sql).await?;
    } else {
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

/// Roles a restore created, and what it could not carry.
pub(crate) struct CreatedRoles {
    pub names: Vec<String>,
    pub warnings: Vec<String>,
}

/// Creates `missing` roles on the server from the backup's typed role
/// definitions (see `pg::roles`): one quoted statement each, sent alone
/// (the extended protocol runs exactly one statement), then memberships in
/// roles the server has.
pub(crate) async fn create_missing_roles(
    conn: &mut PgConnection,
    admin: &ConnectionSpec,
    facts: &PgFacts,
    missing: &[String],
) -> Result<CreatedRoles> {
    let mut created = CreatedRoles {
        names: Vec::new(),
        warnings: Vec::new(),
    };
    for role in missing {
        let statement = match facts.role_definitions.iter().find(|d| d.name == *role) {
            Some(definition) => {
                let withheld = definition.withheld();
                if !withheld.is_empty() {
                    created.warnings.push(format!(
                        "role {role} was {} on the source; it was created without that (grant it by hand if needed)",
                        withheld.join(", ")
                    ));
                }
                definition.create_statement()
            }
            None => {
                // A backup from before roles were stored typed: the name alone.
                created.warnings.push(format!(
                    "role {role} was created with no attributes (NOLOGIN): this backup predates saved role definitions"
                ));
                format!("CREATE ROLE {} NOLOGIN", quote_ident(role))
            }
        };
        sqlx::query(&statement)
            .execute(&mut *conn)
            .await
            .map_err(|e| pg_error("creating roles on", admin, e))?;
        created.names.push(role.clone());
    }
    let existing: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("listing the roles of", admin, e))?;
    for definition in facts.role_definitions.iter().filter(|d| created.names.contains(&d.name)) {
        for group in &definition.member_of {
            if existing.contains(group) {
                let grant = format!("GRANT {} TO {}", quote_ident(group), quote_ident(&definition.name));
                sqlx::query(&grant)
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| pg_error("granting role memberships on", admin, e))?;
            } else {
                created.warnings.push(format!(
                    "role {} was a member of {group}, which the target does not have",
                    definition.name
                ));
            }
        }
    }
    Ok(created)
}

/// Drops a database Lifeboat created, on a fresh connection, ending any
/// session still in it (`WITH (FORCE)` on PostgreSQL 13+, which 12 lacks);
/// logs what it could not do.
pub(crate) async fn drop_database(admin: &ConnectionSpec, name: &str) {
    if let Err(e) = try_drop_database(admin, name).await {
        tracing::error!("could not drop the scratch database {name}: {e}");
    }
}

async fn try_drop_database(admin: &ConnectionSpec, name: &str) -> Result<()> {
    let mut conn = inspect::connect(admin).await?;
    let (version_num, _) = inspect::server_version(&mut conn, admin).await?;
    let sql = if major_of(version_num) >= 13 {
        format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name))
    } else {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(name)
            .execute(&mut conn)
            .await
            .map_err(|e| pg_error("ending the scratch database's sessions on", admin, e))?;
        format!("DROP DATABASE IF EXISTS {}", quote_ident(name))
    };
    execute(&mut conn, admin, "dropping the scratch database on", &sql).await?;
    let _ = conn.close().await;
    Ok(())
}

/// pg_restore into the scratch database, then extensions and row counts;
/// returns the tables and the warnings (benign pg_restore errors).
async fn restore_into(
    repo: &Arc<Repository>,
    snapshot: &Snapshot,
    facts: &PgFacts,
    scratch: &ConnectionSpec,
    pg: &tools::PgTools,
    options: &RestoreOptions,
    progress: Arc<dyn Progress>,
) -> Result<(Vec<TableCount>, Vec<String>)> {
    let load = LoadOptions {
        jobs: options.jobs,
        lock_wait: options.lock_wait,
        owner: options.owner.clone(),
    };
    let warnings = load_archive(repo, snapshot, scratch, pg, &load, progress).await?;
    ensure_extensions(scratch, &facts.extensions).await?;
    let tables = compare_counts(&facts.row_counts, &count_rows(scratch).await?);
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

/// How `load_archive` runs pg_restore.
pub(crate) struct LoadOptions {
    pub jobs: u32,
    pub lock_wait: Duration,
    /// `--no-owner --role`: see [`RestoreOptions::owner`].
    pub owner: Option<String>,
}

/// Streams the snapshot (verified) through `pg_restore` into `scratch`.
/// pg_restore goes on past errors so that every one is seen and judged:
/// real ones fail the load, benign ones come back as warnings.
pub(crate) async fn load_archive(
    repo: &Arc<Repository>,
    snapshot: &Snapshot,
    scratch: &ConnectionSpec,
    pg: &tools::PgTools,
    options: &LoadOptions,
    progress: Arc<dyn Progress>,
) -> Result<Vec<String>> {
    let repo = repo.clone();
    let snapshot = snapshot.clone();
    let env = scratch.libpq_env();
    let dbname = format!("--dbname={}", ConnectionSpec::database_conninfo(&scratch.database));
    let pg_restore = pg.tool("pg_restore");
    let jobs = options.jobs.max(1);
    let lock_wait = options.lock_wait;
    let owner = options
        .owner
        .as_ref()
        .map(|role| ["--no-owner".to_string(), format!("--role={role}")]);
    tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
        let mut command = Command::new(&pg_restore);
        command
            .args(["--no-password", dbname.as_str()])
            .args(owner.iter().flatten())
            .envs(env)
            // English messages: they are parsed.
            .env("LC_ALL", "C")
            .env("LC_MESSAGES", "C")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let output = if jobs == 1 {
            let child = command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| Error::RestoreFailed(format!("cannot run {}: {e}", pg_restore.display())))?;
            feed(&repo, &snapshot, child, progress.as_ref(), lock_wait)?
        } else {
            // Parallel restore needs a seekable file: materialise it, verified.
            let mut file = spool::create(&spool::folder()?)?;
            read::cat(&repo, &snapshot, file.as_file_mut(), progress.as_ref(), ReadOptions { lock_wait })?;
            progress.phase("restoring in parallel", None);
            let output = command
                .arg(format!("--jobs={jobs}"))
                .arg(file.path())
                .stdin(Stdio::null())
                .output()
                .map_err(|e| Error::RestoreFailed(format!("cannot run {}: {e}", pg_restore.display())))?;
            ToolOutput {
                status: output.status,
                stdout: String::new(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            }
        };
        judge_restore(&output)
    })
    .await
    .map_err(|e| Error::RestoreFailed(format!("the restore stopped unexpectedly: {e}")))?
}

/// Creates the manifest's extensions that pg_restore did not (it skips
/// extension-owned objects whose extension exists elsewhere).
pub(crate) async fn ensure_extensions(scratch: &ConnectionSpec, extensions: &[Extension]) -> Result<()> {
    let mut conn = inspect::connect(scratch).await?;
    for extension in extensions {
        let sql = format!(
            "CREATE EXTENSION IF NOT EXISTS {} SCHEMA {}",
            quote_ident(&extension.name),
            quote_ident(&extension.schema)
        );
        execute(&mut conn, scratch, "ensuring extensions on", &sql).await?;
    }
    let _ = conn.close().await;
    Ok(())
}

/// Exact row counts of every table in `database`.
pub(crate) async fn count_rows(database: &ConnectionSpec) -> Result<BTreeMap<String, u64>> {
    let mut conn = inspect::connect(database).await?;
    let mut tx = conn.begin().await.map_err(|e| pg_error("counting rows on", database, e))?;
    let counts = inspect::row_counts(&mut tx, database).await?;
    let _ = tx.commit().await;
    let _ = conn.close().await;
    Ok(counts)
}

/// Every table the backup counted, with what the restored database holds.
pub(crate) fn compare_counts(expected: &BTreeMap<String, u64>, restored: &BTreeMap<String, u64>) -> Vec<TableCount> {
    expected
        .iter()
        .map(|(table, expected)| TableCount {
            table: table.clone(),
            expected: *expected,
            restored: restored.get(table).copied().unwrap_or(0),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benign_restore_errors_are_told_apart_from_real_ones() {
        let stderr = "pg_restore: error: could not execute query: ERROR:  schema \"public\" already exists\n\
                      Command was: CREATE SCHEMA public;\n\
                      pg_restore: error: could not execute query: ERROR:  relation \"users\" does not exist\n\
                      Command was: COPY public.users (id) FROM stdin;\n\
                      pg_restore: warning: errors ignored on restore: 2\n";
        let messages = RestoreMessages::from_stderr(stderr);
        assert_eq!(
            messages.benign,
            vec!["could not execute query: ERROR:  schema \"public\" already exists (in: CREATE SCHEMA public;)"]
        );
        assert_eq!(
            messages.errors,
            vec!["could not execute query: ERROR:  relation \"users\" does not exist (in: COPY public.users (id) FROM stdin;)"]
        );
        assert_eq!(
            RestoreMessages::from_stderr("pg_restore: warning: nothing\n"),
            RestoreMessages::default()
        );
    }
}
