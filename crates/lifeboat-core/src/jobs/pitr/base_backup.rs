//! A base backup: `pg_basebackup` of a matching major writing one tar to
//! its stdout (`-D - -F tar -X fetch`: the data files, the WAL that makes
//! them consistent, and the server's `backup_manifest` last), streamed
//! straight into the repository as a snapshot tagged `NAME.base`.
//!
//! As with dumps, a base backup that fails in any way — `pg_basebackup`
//! exiting non-zero or printing an error, a stream that does not end as a
//! tar, a backup without its start in `backup_label` — makes no snapshot.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{base_tag, BaseBackupFacts, BASE_FACTS_VERSION};
use crate::error::{Error, Result};
use crate::pg::base_tar::{label_start, TarFacts, TarWatcher};
use crate::pg::facts::BASE_BACKUP_SOURCE;
use crate::pg::inspect::{self, pg_error};
use crate::pg::wal::{Lsn, Segment};
use crate::pg::{tools, ConnectionSpec};
use crate::progress::Progress;
use crate::repo::manifest::SnapshotKind;
use crate::repo::store::{self, PutOptions, StoredStream};
use crate::repo::{wal, Repository};

#[derive(Clone, Debug, Default)]
pub struct BaseBackupOptions {
    /// The archive's name: base backups are tagged `NAME.base`.
    pub name: String,
    pub kind: SnapshotKind,
    pub label: Option<String>,
    pub connection: Option<String>,
    pub pg_bin: Option<PathBuf>,
    pub lock_wait: Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct BaseBackupReport {
    pub snapshot_id: String,
    /// The archive's name.
    pub name: String,
    pub server_version: String,
    pub pg_basebackup_version: String,
    pub system_identifier: String,
    pub timeline: u32,
    pub start_lsn: Option<Lsn>,
    pub stop_lsn: Option<Lsn>,
    pub size: u64,
    pub sha256: String,
    pub added_bytes: u64,
    pub files: u64,
    pub seconds: f64,
    pub warnings: Vec<String>,
}

/// What the server says before the backup (or a WAL stream) starts.
pub(super) struct ServerFacts {
    pub version_num: u32,
    version: String,
    system_identifier: String,
    segment_size: u64,
    warnings: Vec<String>,
}

/// Refuses a server that cannot be recovered to a point in time, and warns
/// when it does not archive its WAL into Lifeboat.
pub(super) async fn server_facts(spec: &ConnectionSpec, name: &str) -> Result<ServerFacts> {
    let mut conn = inspect::connect(spec).await?;
    let fail = |e: sqlx::Error| pg_error("inspecting", spec, e);
    let (version_num, version): (i32, String) =
        sqlx::query_as("SELECT current_setting('server_version_num')::int, current_setting('server_version')")
            .fetch_one(&mut conn)
            .await
            .map_err(fail)?;
    let version_num = u32::try_from(version_num).unwrap_or_default();
    if inspect::major_of(version_num) < 12 {
        return Err(Error::InvalidInput(format!(
            "{} runs PostgreSQL {version}: point-in-time recovery needs PostgreSQL 12 or later",
            spec.display_url()
        )));
    }
    let (system_identifier, segment_size, wal_level, archive_mode, archive_command): (String, i64, String, String, String) =
        sqlx::query_as(
            "SELECT (SELECT system_identifier::text FROM pg_control_system()), \
                    (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'), \
                    current_setting('wal_level'), current_setting('archive_mode'), current_setting('archive_command')",
        )
        .fetch_one(&mut conn)
        .await
        .map_err(fail)?;
    if wal_level == "minimal" {
        return Err(Error::InvalidInput(format!(
            "{} has wal_level = minimal, which keeps too little WAL for a base backup or recovery: set wal_level = \
             replica in postgresql.conf and restart the server",
            spec.display_url()
        )));
    }
    // A `lifeboat wal stream` of this archive over its default slot archives too.
    let streaming: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_type = 'physical' AND active AND slot_name = $1)")
            .bind(super::stream::default_slot(name))
            .fetch_one(&mut conn)
            .await
            .map_err(fail)?;
    let mut warnings = Vec::new();
    if !streaming && (archive_mode == "off" || !archive_command.contains("wal-push")) {
        warnings.push(format!(
            "the server does not archive its WAL into Lifeboat (archive_mode = {archive_mode}, and no `lifeboat wal \
             stream` of `{name}` runs): this base backup recovers only to its own end. To recover to any moment \
             after it, stream the WAL (`lifeboat wal stream --name {name}`, or a schedule's --wal-stream), or set \
             archive_mode = on and archive_command = 'lifeboat wal-push %p --name {name}' (with LIFEBOAT_REPO and \
             the passphrase in the server's environment) and restart the server"
        ));
    }
    Ok(ServerFacts {
        version_num,
        version,
        system_identifier,
        segment_size: u64::try_from(segment_size).unwrap_or_default(),
        warnings,
    })
}

/// Passes the tar through, letting the watcher see it.
struct Watched<R> {
    inner: R,
    watcher: std::rc::Rc<std::cell::RefCell<TarWatcher>>,
}

impl<R: std::io::Read> std::io::Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.watcher.borrow_mut().feed(&buf[..n]);
        Ok(n)
    }
}

/// The end of the backup's WAL range in its `backup_manifest`.
fn manifest_end(manifest: &[u8], timeline: u32) -> Option<Lsn> {
    #[derive(serde::Deserialize)]
    struct Range {
        #[serde(rename = "Timeline")]
        timeline: u32,
        #[serde(rename = "End-LSN")]
        end: String,
    }
    #[derive(serde::Deserialize)]
    struct Manifest {
        #[serde(rename = "WAL-Ranges")]
        ranges: Vec<Range>,
    }
    let manifest: Manifest = serde_json::from_slice(manifest).ok()?;
    let range = manifest
        .ranges
        .iter()
        .filter(|r| r.timeline >= timeline)
        .max_by_key(|r| r.timeline)?;
    Lsn::parse(&range.end).ok()
}

/// Checks the tar and completes the facts from it.
fn complete_facts(facts: &mut BaseBackupFacts, tar: &TarFacts) -> std::result::Result<(), String> {
    let label = tar.backup_label.as_deref().ok_or("the tar holds no backup_label")?;
    let (start, timeline) = label_start(label).ok_or("its backup_label does not say where the backup starts")?;
    let start = Lsn::parse(&start).map_err(|e| e.to_string())?;
    facts.start_lsn = Some(start);
    facts.timeline = timeline;
    facts.files = tar.entries;
    facts.manifest = tar.backup_manifest.is_some();
    // Without a manifest (PostgreSQL 12), the end of the WAL it carries.
    let wal_end = (tar.wal_files.iter())
        .filter_map(|file| Segment::from_file_name(file, facts.wal_segment_size))
        .map(|segment| segment.end(facts.wal_segment_size))
        .max();
    facts.stop_lsn = tar.backup_manifest.as_deref().and_then(|m| manifest_end(m, timeline)).or(wal_end);
    if facts.stop_lsn.is_none() {
        return Err("the tar holds neither a backup_manifest nor the WAL that makes it consistent (pg_wal/)".into());
    }
    Ok(())
}

/// Takes a base backup of the cluster `spec` reaches into `repo`.
pub async fn base_backup(
    repo: Arc<Repository>,
    spec: &ConnectionSpec,
    options: &BaseBackupOptions,
    progress: Arc<dyn Progress>,
) -> Result<BaseBackupReport> {
    let started = Instant::now();
    wal::validate_name(&options.name)?;
    if !repo.config().holds_wal() {
        return Err(Error::InvalidInput(format!(
            "this repository is at format {}, which cannot hold point-in-time recovery: run `lifeboat migrate` first",
            repo.config().version
        )));
    }
    let target = spec.display_url();
    let server = server_facts(spec, &options.name).await?;
    let pg = tools::find(inspect::major_of(server.version_num), options.pg_bin.as_deref())?;
    let facts = BaseBackupFacts {
        source: BASE_BACKUP_SOURCE.into(),
        facts_version: BASE_FACTS_VERSION,
        archive: options.name.clone(),
        server: format!("{}:{}", spec.host, spec.port),
        user: spec.user.clone(),
        connection: options.connection.clone(),
        server_version: server.version.clone(),
        server_version_num: server.version_num,
        pg_basebackup_version: pg.version.clone(),
        system_identifier: server.system_identifier.clone(),
        wal_segment_size: server.segment_size,
        ..Default::default()
    };
    let put_options = PutOptions {
        tag: base_tag(&options.name),
        kind: options.kind,
        label: options.label.clone(),
        metadata: facts.to_metadata(),
        lock_wait: options.lock_wait,
        allow_empty: false,
        provenance: None,
    };
    let tool = pg.tool("pg_basebackup");
    let mut command = Command::new(&tool);
    spec.set_libpq_env(&mut command);
    // Messages in English whatever the workstation's locale: they are checked.
    command.env("LC_MESSAGES", "C");
    let mut child = command
        .args([
            "--pgdata=-",
            "--format=tar",
            "--wal-method=fetch",
            "--checkpoint=fast",
            "--no-password",
        ])
        .arg("--label=lifeboat base backup")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::DumpFailed {
            target: target.clone(),
            detail: format!("cannot run {}: {e}", tool.display()),
        })?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr_pipe = child.stderr.take().expect("piped stderr");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr_pipe, &mut text);
        text
    });

    let stored = crate::jobs::blocking(move || {
        let watcher = std::rc::Rc::new(std::cell::RefCell::new(TarWatcher::default()));
        let mut reader = Watched {
            inner: stdout,
            watcher: watcher.clone(),
        };
        let mut stderr_reader = Some(stderr_reader);
        // Runs once the stream has ended: the watcher has seen every byte.
        let mut gate = |_: &StoredStream| -> Result<std::collections::BTreeMap<String, serde_json::Value>> {
            let failed = |detail: String| Error::DumpFailed {
                target: target.clone(),
                detail,
            };
            let stderr = stderr_reader.take().map(|r| r.join().unwrap_or_default()).unwrap_or_default();
            let status = child.wait().map_err(|e| failed(format!("waiting for pg_basebackup: {e}")))?;
            if !status.success() {
                return Err(failed(format!("pg_basebackup exited with {status}: {}", stderr.trim())));
            }
            if let Some(line) = stderr.lines().find(|l| l.contains("error:") || l.contains("FATAL:")) {
                return Err(failed(format!("pg_basebackup reported: {line}")));
            }
            let tar = watcher
                .take()
                .finish()
                .map_err(|why| failed(format!("pg_basebackup's output is not a whole tar: {why}")))?;
            let mut facts = facts.clone();
            complete_facts(&mut facts, &tar).map_err(|why| failed(format!("the base backup is not usable: {why}")))?;
            Ok(facts.to_metadata())
        };
        let result = store::put_gated(&repo, &mut reader, &put_options, progress.as_ref(), &mut gate);
        if result.is_err() {
            // Cancelled or failed while pg_basebackup may still run: stop it.
            let _ = child.kill();
            let _ = child.wait();
        }
        let report = result?;
        let snapshot = crate::repo::manifest::load(&repo, &report.snapshot_id)?;
        Ok((report, BaseBackupFacts::of(&snapshot)?))
    })
    .await?;
    let (report, facts) = stored;
    Ok(BaseBackupReport {
        snapshot_id: report.snapshot_id,
        name: options.name.clone(),
        server_version: server.version,
        pg_basebackup_version: pg.version,
        system_identifier: facts.system_identifier,
        timeline: facts.timeline,
        start_lsn: facts.start_lsn,
        stop_lsn: facts.stop_lsn,
        size: report.size,
        sha256: report.sha256,
        added_bytes: report.added_bytes,
        files: facts.files,
        seconds: started.elapsed().as_secs_f64(),
        warnings: server.warnings,
    })
}
