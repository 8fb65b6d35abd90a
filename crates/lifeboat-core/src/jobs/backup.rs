//! Backing up one PostgreSQL database: `pg_dump` (custom format,
//! uncompressed, so chunks deduplicate) streamed straight into the
//! repository, with the cluster globals, the extension list and exact row
//! counts taken in the same snapshot as the dump.
//!
//! A dump that fails in any way — `pg_dump` exiting non-zero, printing an
//! error, the server going away, a stream that is not a custom-format
//! archive — makes no snapshot and moves no pointer.

use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::Connection;

use crate::error::{Error, Result};
use crate::pg::archive;
use crate::pg::facts::{self, PgFacts};
use crate::pg::inspect::{self, pg_error};
use crate::pg::{database_config, roles, tools, ConnectionSpec};
use crate::progress::Progress;
use crate::repo::manifest::SnapshotKind;
use crate::repo::store::{self, PutOptions, StoredStream};
use crate::repo::Repository;

/// What every custom-format archive starts with.
const ARCHIVE_MAGIC: &[u8] = b"PGDMP";
/// Options the dump is taken with, recorded in the manifest.
const DUMP_OPTIONS: [&str; 2] = ["--format=custom", "--compress=0"];

#[derive(Clone, Debug, Default)]
pub struct BackupOptions {
    /// The snapshot's tag: the connection's name, or the database's.
    pub name: String,
    pub kind: SnapshotKind,
    pub label: Option<String>,
    /// The catalog connection this backup belongs to, if any.
    pub connection: Option<String>,
    /// Use the client tools in this folder instead of searching.
    pub pg_bin: Option<PathBuf>,
    /// Include role passwords (hashes) in the stored globals.
    pub role_passwords: bool,
    pub lock_wait: Duration,
    /// The API token that asked for it (see `PgFacts::requested_by`).
    pub requested_by: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BackupReport {
    pub snapshot_id: String,
    pub name: String,
    pub database: String,
    pub server_version: String,
    pub pg_dump_version: String,
    pub size: u64,
    pub sha256: String,
    /// Bytes of new packs this backup added to the repository.
    pub added_bytes: u64,
    pub tables: usize,
    pub rows: u64,
    pub seconds: f64,
    /// Things worth telling that did not stop the backup.
    pub warnings: Vec<String>,
}

/// Runs `tool` with the connection's environment and returns its stdout.
/// The cluster's globals as `pg_dumpall --globals-only` writes them (role
/// password hashes only with `role_passwords`), or why it could not.
pub(crate) fn globals_sql(
    pg_dumpall: &std::path::Path,
    spec: &ConnectionSpec,
    role_passwords: bool,
) -> std::result::Result<String, String> {
    let database = format!("--database={}", ConnectionSpec::database_conninfo(&spec.database));
    let mut args = vec!["--globals-only", "--no-password", database.as_str()];
    if !role_passwords {
        args.push("--no-role-passwords");
    }
    run_tool(pg_dumpall, &args, spec).map(|sql| String::from_utf8_lossy(&sql).into_owned())
}

fn run_tool(tool: &std::path::Path, args: &[&str], spec: &ConnectionSpec) -> std::result::Result<Vec<u8>, String> {
    let mut command = Command::new(tool);
    spec.set_libpq_env(&mut command);
    let output = command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", tool.display()))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

/// Lets `pg_dump` run ahead by 1 MiB instead of the default 64 KiB while
/// the stream is being chunked and hashed (best effort: Linux only).
fn enlarge_pipe(pipe: &std::process::ChildStdout) {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::pipe::fcntl_setpipe_size(pipe, 1 << 20) {
        tracing::debug!("could not enlarge the dump pipe: {e}");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = pipe;
}

/// Passes the stream through, keeping its first bytes and handing a copy
/// to the archive reader that counts rows (which it lets go at the end).
struct Tap<R> {
    inner: R,
    head: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
    copy: Option<crossbeam_channel::Sender<Vec<u8>>>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut head = self.head.borrow_mut();
        let wanted = ARCHIVE_MAGIC.len().saturating_sub(head.len()).min(n);
        head.extend_from_slice(&buf[..wanted]);
        if n == 0 {
            self.copy = None;
        } else if let Some(copy) = &self.copy {
            // A reader that gave up has dropped its end: nothing to do then.
            let _ = copy.send(buf[..n].to_vec());
        }
        Ok(n)
    }
}

/// The receiving end of a [`Tap`], as a reader.
struct Copied {
    chunks: crossbeam_channel::Receiver<Vec<u8>>,
    current: std::io::Cursor<Vec<u8>>,
}

impl Read for Copied {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.current.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            match self.chunks.recv() {
                Ok(chunk) => self.current = std::io::Cursor::new(chunk),
                Err(_) => return Ok(0),
            }
        }
    }
}

/// Rows per table, as the archive holds them.
type ArchiveCounts = archive::Parsed<BTreeMap<String, u64>>;

/// Counts the rows of the archive the tap copies, on its own thread.
fn spawn_row_counter() -> (crossbeam_channel::Sender<Vec<u8>>, std::thread::JoinHandle<ArchiveCounts>) {
    // Bounded: memory stays flat if counting ever falls behind.
    let (sender, chunks) = crossbeam_channel::bounded(64);
    let counter = std::thread::spawn(move || {
        let mut copied = Copied {
            chunks,
            current: std::io::Cursor::new(Vec::new()),
        };
        let counted = archive::count_rows(&mut copied);
        // Whatever happened, keep draining so the backup never waits on us.
        for _ in copied.chunks.iter() {}
        counted
    });
    (sender, counter)
}

/// The archive's counts for exactly the tables the server lists, or None
/// when one is missing (then the server counts them).
fn counts_for(listed: &[String], mut from_archive: BTreeMap<String, u64>) -> Option<BTreeMap<String, u64>> {
    listed.iter().map(|t| from_archive.remove(t).map(|n| (t.clone(), n))).collect()
}

/// Reads `pg_dump --verbose`'s stderr: reports each table whose data is
/// being dumped, and returns what is worth keeping for the error message
/// (everything but the verbose chatter).
fn read_verbose_stderr(pipe: impl Read, progress: &dyn Progress) -> String {
    const TABLE_DATA: &str = "dumping contents of table ";
    let mut kept = String::new();
    let mut tables = 0;
    for line in std::io::BufReader::new(pipe).lines().map_while(std::result::Result::ok) {
        if let Some(at) = line.find(TABLE_DATA) {
            tables += 1;
            progress.item(line[at + TABLE_DATA.len()..].trim_matches('"'), tables);
        } else if !is_chatter(&line) {
            kept.push_str(&line);
            kept.push('\n');
        }
    }
    kept
}

/// A verbose progress line ("pg_dump: reading extensions"), not a message.
fn is_chatter(line: &str) -> bool {
    line.strip_prefix("pg_dump: ")
        .is_some_and(|rest| !["error:", "warning:", "detail:", "hint:"].iter().any(|p| rest.starts_with(p)))
}

/// Lines of `pg_dump`'s stderr that report errors (warnings are not).
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("error:") || l.contains("FATAL:") || l.contains("ERROR:"))
        .collect()
}

/// Waits for `child`, returning why it failed, if it did.
fn dump_outcome(child: &mut Child, stderr: &str) -> std::result::Result<(), String> {
    let status = child.wait().map_err(|e| format!("waiting for pg_dump: {e}"))?;
    let errors = error_lines(stderr);
    if !status.success() {
        let detail = if errors.is_empty() {
            stderr.trim().to_string()
        } else {
            errors.join("; ")
        };
        return Err(format!("pg_dump exited with {status}: {detail}"));
    }
    if !errors.is_empty() {
        return Err(format!("pg_dump reported: {}", errors.join("; ")));
    }
    Ok(())
}

/// Backs up `spec`'s database into `repo` as a new snapshot.
pub async fn backup(
    repo: Arc<Repository>,
    spec: &ConnectionSpec,
    options: &BackupOptions,
    progress: Arc<dyn Progress>,
) -> Result<BackupReport> {
    let started = Instant::now();
    let target = spec.display_url();
    let failed = |detail: String| Error::DumpFailed {
        target: target.clone(),
        detail,
    };
    let info = inspect::inspect(spec).await?;
    let pg = tools::find(info.server_major(), options.pg_bin.as_deref())?;
    // Globals alongside the dump (they are small, but a process start and a
    // round trip are worth hiding); a failure here is only a warning: a role
    // without superuser rights may not read them all.
    let globals_job = {
        let (tool, spec, passwords) = (pg.tool("pg_dumpall"), spec.clone(), options.role_passwords);
        std::thread::spawn(move || globals_sql(&tool, &spec, passwords))
    };

    // One snapshot for the dump and the row counts.
    let mut conn = inspect::connect(spec).await?;
    let mut tx = conn.begin().await.map_err(|e| pg_error("starting a transaction on", spec, e))?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(|e| pg_error("starting a snapshot on", spec, e))?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| pg_error("exporting a snapshot from", spec, e))?;
    let listed = inspect::counted_tables(&mut tx, spec).await?;
    // Roles as data, from the same snapshot: a restore creates them from
    // these, never from the globals dump's text.
    let role_definitions = roles::read_roles(&mut tx, spec, &info.roles).await?;
    let database_config = database_config::read(&mut tx, spec).await?;

    let snapshot_arg = format!("--snapshot={snapshot}");
    let mut command = Command::new(pg.tool("pg_dump"));
    spec.set_libpq_env(&mut command);
    let mut child = command
        .args(DUMP_OPTIONS)
        // --verbose names each table as its data is dumped: progress by table.
        .args(["--no-password", "--verbose", snapshot_arg.as_str()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot run {}: {e}", pg.tool("pg_dump").display())))?;
    let stdout = child.stdout.take().expect("piped stdout");
    enlarge_pipe(&stdout);
    let stderr_pipe = child.stderr.take().expect("piped stderr");
    let table_progress = progress.clone();
    let mut stderr_reader = Some(std::thread::spawn(move || {
        read_verbose_stderr(stderr_pipe, table_progress.as_ref())
    }));

    // The gate asks here for server-side counts (in the dump's snapshot)
    // when the archive could not be counted.
    let (ask_server, mut server_asked) = tokio::sync::mpsc::channel::<std::sync::mpsc::Sender<Result<BTreeMap<String, u64>>>>(1);
    let (copy, row_counter) = spawn_row_counter();
    let facts = PgFacts {
        source: facts::SOURCE.into(),
        facts_version: facts::FACTS_VERSION,
        database: spec.database.clone(),
        server: format!("{}:{}", spec.host, spec.port),
        user: spec.user.clone(),
        connection: options.connection.clone(),
        server_version: info.server_version.clone(),
        server_version_num: info.server_version_num,
        pg_dump_version: pg.version.clone(),
        dump_options: DUMP_OPTIONS.map(String::from).to_vec(),
        extensions: info.extensions.clone(),
        roles: info.roles.clone(),
        role_definitions,
        database_config: Some(database_config),
        schemas: info.schemas.clone(),
        database_size: info.size_bytes,
        // Known once the dump has streamed by: the gate fills them in.
        row_counts: BTreeMap::new(),
        globals_sql: None,
        requested_by: options.requested_by.clone(),
    };
    let metadata = facts.to_metadata();
    let put_options = PutOptions {
        tag: options.name.clone(),
        kind: options.kind,
        label: options.label.clone(),
        metadata,
        lock_wait: options.lock_wait,
        allow_empty: false,
        provenance: None,
    };

    let put_progress = progress.clone();
    let fail_target = target.clone();
    let storing = tokio::task::spawn_blocking(move || {
        let head = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut reader = Tap {
            inner: stdout,
            head: head.clone(),
            copy: Some(copy),
        };
        let mut row_counter = Some(row_counter);
        let mut counted = (0, 0);
        let mut globals_job = Some(globals_job);
        let mut globals_warning = None;
        let result = {
            let mut gate = |stream: &StoredStream| -> Result<BTreeMap<String, serde_json::Value>> {
                let failed = |detail: String| Error::DumpFailed {
                    target: fail_target.clone(),
                    detail,
                };
                let stderr = stderr_reader.take().map(|r| r.join().unwrap_or_default()).unwrap_or_default();
                dump_outcome(&mut child, &stderr).map_err(failed)?;
                if !head.borrow().starts_with(ARCHIVE_MAGIC) || stream.size < 64 {
                    return Err(failed(format!(
                        "pg_dump produced {} bytes that are not a custom-format archive",
                        stream.size
                    )));
                }
                let from_archive = match row_counter.take().map(|c| c.join()) {
                    Some(Ok(Ok(counts))) => counts_for(&listed, counts),
                    Some(Ok(Err(archive::Unreadable(why)))) => {
                        tracing::info!("counting rows on the server instead: {why}");
                        None
                    }
                    _ => None,
                };
                let counts = match from_archive {
                    Some(counts) => counts,
                    None => {
                        let (reply, answer) = std::sync::mpsc::channel();
                        ask_server
                            .blocking_send(reply)
                            .map_err(|_| failed("the row counts were not taken".into()))?;
                        answer
                            .recv()
                            .unwrap_or_else(|_| Err(failed("the row counts were not taken".into())))
                            .map_err(|e| failed(e.to_string()))?
                    }
                };
                counted = (counts.len(), counts.values().sum());
                let mut facts = facts.clone();
                facts.row_counts = counts;
                match globals_job.take().map(|job| job.join()) {
                    Some(Ok(Ok(sql))) => facts.globals_sql = Some(sql),
                    Some(Ok(Err(e))) => {
                        globals_warning = Some(format!(
                            "the cluster's roles could not be saved (restores will need them to exist): {e}"
                        ))
                    }
                    _ => globals_warning = Some("the cluster's roles could not be saved: pg_dumpall stopped unexpectedly".into()),
                }
                Ok(facts.to_metadata())
            };
            store::put_gated(&repo, &mut reader, &put_options, put_progress.as_ref(), &mut gate)
        };
        if result.is_err() {
            // Cancelled or failed while pg_dump may still run: stop it.
            let _ = child.kill();
            let _ = child.wait();
        }
        (result, globals_warning, counted)
    });

    let mut storing = storing;
    let joined = loop {
        tokio::select! {
            Some(reply) = server_asked.recv() => {
                let _ = reply.send(inspect::row_counts(&mut tx, spec).await);
            }
            joined = &mut storing => break joined,
        }
    };
    let (stored, globals_warning, (tables, rows)) = joined.map_err(|e| failed(format!("the backup stopped unexpectedly: {e}")))?;
    let _ = tx.commit().await;
    let report = stored?;
    let warnings = globals_warning.into_iter().collect();
    Ok(BackupReport {
        snapshot_id: report.snapshot_id,
        name: options.name.clone(),
        database: spec.database.clone(),
        server_version: info.server_version,
        pg_dump_version: pg.version,
        size: report.size,
        sha256: report.sha256,
        added_bytes: report.added_bytes,
        tables,
        rows,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Items(Mutex<Vec<(String, u64)>>);
    impl Progress for Items {
        fn item(&self, name: &str, number: u64) {
            self.0.lock().unwrap().push((name.to_string(), number));
        }
    }

    #[test]
    fn verbose_stderr_reports_tables_and_keeps_only_messages() {
        let stderr = "pg_dump: last built-in OID is 16383\n\
                      pg_dump: reading extensions\n\
                      pg_dump: dumping contents of table \"sales.customers\"\n\
                      pg_dump: warning: could not read something benign\n\
                      pg_dump: dumping contents of table \"public.events\"\n\
                      pg_dump: error: Dumping the contents of table \"events\" failed: PQgetResult() failed.\n\
                      pg_dump: detail: Error message from server: FATAL:  terminating connection\n";
        let items = Items::default();
        let kept = read_verbose_stderr(stderr.as_bytes(), &items);
        assert_eq!(
            *items.0.lock().unwrap(),
            [("sales.customers".to_string(), 1), ("public.events".to_string(), 2)]
        );
        assert_eq!(kept.lines().count(), 3, "{kept}");
        assert!(!kept.contains("reading extensions"));
        assert_eq!(error_lines(&kept).len(), 2);
    }
}
