//! The `pg_restore` plumbing restores and drills share: feeding it a
//! verified stream, judging its messages, loading an archive into a
//! scratch database, checking extensions and row counts.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;

use super::super::spool;
use crate::error::{Error, Result};
use crate::pg::inspect::{self, Extension};
use crate::pg::{quote_ident, tools, ConnectionSpec};
use crate::progress::Progress;
use crate::repo::manifest::Snapshot;
use crate::repo::read::{self, ReadOptions};
use crate::repo::Repository;

use super::swap::execute;
use super::TableCount;

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

pub(super) fn spawn_collecting(mut child: Child) -> (Child, std::thread::JoinHandle<(String, String)>) {
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
pub(super) struct ToolOutput {
    pub(super) status: std::process::ExitStatus,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

/// Streams the snapshot into `child`'s stdin (verified), then waits for it.
/// Fails only when the stream did not verify or the child cannot be waited
/// for; the caller judges the child's own output.
pub(super) fn feed(
    repo: &Repository,
    snapshot: &Snapshot,
    child: Child,
    progress: &dyn Progress,
    lock_wait: Duration,
) -> Result<ToolOutput> {
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
    let status = wait_cancellable(&mut child, progress)?;
    let (stdout, stderr) = output.join().unwrap_or_default();
    Ok(ToolOutput { status, stdout, stderr })
}

/// Waits for `child` (pg_restore building indexes can take long after its
/// input ended), killing it if the job is cancelled meanwhile.
fn wait_cancellable(child: &mut Child, progress: &dyn Progress) -> Result<std::process::ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if progress.cancelled() => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Cancelled);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => return Err(Error::Internal(format!("waiting for pg_restore: {e}"))),
        }
    }
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
pub(super) fn judge_restore(output: &ToolOutput) -> Result<Vec<String>> {
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

/// How `load_archive` runs pg_restore.
pub(crate) struct LoadOptions {
    pub jobs: u32,
    pub lock_wait: Duration,
    /// `--no-owner --role`: see [`super::Shape::role`].
    pub role: Option<String>,
    /// `--no-owner --no-privileges`: see [`super::Shape::no_owner`].
    pub no_owner: bool,
    /// A `--use-list` file: only its entries are restored.
    pub list: Option<PathBuf>,
}

/// Restores the snapshot (verified) with `pg_restore` into `scratch`, and
/// runs `beside_indexes` once every row is in. pg_restore goes on past
/// errors so that every one is seen and judged: real ones fail the load,
/// benign ones come back as warnings.
///
/// Streamed into one job, `beside_indexes` runs after it. With parallel
/// jobs the archive is restored in two runs, schema and rows first, then
/// indexes and constraints, and `beside_indexes` (the row counts of the
/// final check) runs beside the second: PostgreSQL builds each index on one
/// core, and the last, largest one leaves the other cores idle.
pub(crate) async fn load_archive<T>(
    repo: &Arc<Repository>,
    snapshot: &Snapshot,
    scratch: &ConnectionSpec,
    pg: &tools::PgTools,
    options: &LoadOptions,
    progress: Arc<dyn Progress>,
    beside_indexes: impl std::future::Future<Output = Result<T>>,
) -> Result<(Vec<String>, T)> {
    let jobs = options.jobs.max(1);
    let lock_wait = options.lock_wait;
    let command = pg_restore_command(scratch, pg, options);
    let blocking = |work: Box<dyn FnOnce() -> Result<Vec<String>> + Send>| async move {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| Error::RestoreFailed(format!("the restore stopped unexpectedly: {e}")))?
    };
    if jobs == 1 {
        let (repo, snapshot, progress) = (repo.clone(), snapshot.clone(), progress.clone());
        let warnings = blocking(Box::new(move || {
            let mut command = command();
            let child = command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| cannot_run(&command, e))?;
            judge_restore(&feed(&repo, &snapshot, child, progress.as_ref(), lock_wait)?)
        }))
        .await?;
        return Ok((warnings, beside_indexes.await?));
    }

    // Parallel restore needs a seekable file: materialise it, verified.
    let spooled = {
        let (repo, snapshot, progress) = (repo.clone(), snapshot.clone(), progress.clone());
        tokio::task::spawn_blocking(move || -> Result<tempfile::NamedTempFile> {
            let mut file = spool::create(&spool::folder()?)?;
            read::cat(&repo, &snapshot, file.as_file_mut(), progress.as_ref(), ReadOptions { lock_wait })?;
            Ok(file)
        })
        .await
        .map_err(|e| Error::RestoreFailed(format!("the restore stopped unexpectedly: {e}")))??
    };
    // Shared with the runs, so the file outlives every pg_restore reading it
    // even if this future is dropped.
    let spooled = Arc::new(spooled);
    let run_sections = |sections: &'static [&'static str], phase: String| {
        let (command, spooled, progress) = (command.clone(), spooled.clone(), progress.clone());
        blocking(Box::new(move || {
            progress.phase(&phase, None);
            let mut command = command();
            command.args(sections.iter().map(|section| format!("--section={section}")));
            let child = command
                .arg(format!("--jobs={jobs}"))
                .arg(spooled.path())
                .stdin(Stdio::null())
                .spawn()
                .map_err(|e| cannot_run(&command, e))?;
            let (mut child, output) = spawn_collecting(child);
            let status = wait_cancellable(&mut child, progress.as_ref())?;
            let (stdout, stderr) = output.join().unwrap_or_default();
            judge_restore(&ToolOutput { status, stdout, stderr })
        }))
    };
    let mut warnings = run_sections(&["pre-data", "data"], format!("restoring rows with {jobs} parallel jobs")).await?;
    let indexes = run_sections(&["post-data"], format!("building indexes with {jobs} parallel jobs, counting rows"));
    tokio::pin!(indexes, beside_indexes);
    // A failed or cancelled index build ends the load at once; the checks
    // beside it wait for it, since its error says more.
    let (indexes, beside) = tokio::select! {
        indexes = &mut indexes => (indexes?, beside_indexes.await),
        beside = &mut beside_indexes => (indexes.await?, beside),
    };
    warnings.extend(indexes);
    Ok((warnings, beside?))
}

/// A `pg_restore` command into `scratch`, without its input.
fn pg_restore_command(
    scratch: &ConnectionSpec,
    pg: &tools::PgTools,
    options: &LoadOptions,
) -> impl Fn() -> Command + Clone + Send + 'static {
    let scratch = scratch.clone();
    let dbname = format!("--dbname={}", ConnectionSpec::database_conninfo(&scratch.database));
    let pg_restore = pg.tool("pg_restore");
    let mut shaping: Vec<OsString> = Vec::new();
    if options.role.is_some() || options.no_owner {
        shaping.push("--no-owner".into());
    }
    if let Some(role) = &options.role {
        shaping.push(format!("--role={role}").into());
    }
    if options.no_owner {
        shaping.push("--no-privileges".into());
    }
    if let Some(list) = &options.list {
        let mut arg = OsString::from("--use-list=");
        arg.push(list);
        shaping.push(arg);
    }
    move || {
        let mut command = Command::new(&pg_restore);
        scratch.set_libpq_env(&mut command);
        command
            .args(["--no-password", dbname.as_str()])
            .args(&shaping)
            // English messages: they are parsed.
            .env("LC_ALL", "C")
            .env("LC_MESSAGES", "C")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    }
}

fn cannot_run(command: &Command, e: std::io::Error) -> Error {
    Error::RestoreFailed(format!("cannot run {}: {e}", command.get_program().to_string_lossy()))
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
/// Each count is its own statement, so it holds a table's lock only while
/// it counts that table (a restore may be adding constraints beside it).
pub(crate) async fn count_rows(database: &ConnectionSpec) -> Result<BTreeMap<String, u64>> {
    let mut conn = inspect::connect(database).await?;
    let counts = inspect::row_counts(&mut conn, database).await?;
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

    #[cfg(unix)]
    fn ran(exit_code: Option<i32>, stderr: &str) -> ToolOutput {
        use std::os::unix::process::ExitStatusExt;
        ToolOutput {
            // A wait status: the exit code in the high byte, or a signal (9) alone.
            status: std::process::ExitStatus::from_raw(exit_code.map_or(9, |code| code << 8)),
            stdout: String::new(),
            stderr: stderr.to_owned(),
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_restore_passes_only_clean_or_with_exactly_the_benign_errors_it_counted() {
        let benign = "pg_restore: error: could not execute query: ERROR:  schema \"public\" already exists\n\
                      Command was: CREATE SCHEMA public;\n";
        let counted = |n: usize| format!("{benign}pg_restore: warning: errors ignored on restore: {n}\n");

        assert_eq!(judge_restore(&ran(Some(0), "")).unwrap(), Vec::<String>::new());
        let warnings = judge_restore(&ran(Some(1), &counted(1))).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("ignored a harmless pg_restore error"), "{warnings:?}");

        // More errors ignored than recognised as benign: one was not understood.
        assert!(matches!(judge_restore(&ran(Some(1), &counted(2))), Err(Error::RestoreFailed(_))));
        // Killed: whatever it printed, the load did not finish.
        assert!(matches!(judge_restore(&ran(None, &counted(1))), Err(Error::RestoreFailed(_))));
        // Failed without saying why.
        let failed = judge_restore(&ran(Some(1), "pg_restore: fatal: out of memory\n")).unwrap_err();
        assert!(failed.to_string().contains("out of memory"), "{failed}");
        // A real error fails the load even when pg_restore exits 0.
        let real = "pg_restore: error: could not execute query: ERROR:  relation \"users\" does not exist\n\
                    Command was: COPY public.users (id) FROM stdin;\n";
        assert!(matches!(judge_restore(&ran(Some(0), real)), Err(Error::RestoreFailed(_))));
    }
}
