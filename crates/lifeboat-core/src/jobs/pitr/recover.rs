//! Recovery to a point in time: a base backup unpacked into a fresh data
//! directory (every byte authenticated, the whole checked against its
//! manifest, then the server's own `backup_manifest` checked by
//! `pg_verifybackup`), recovery settings that fetch WAL from the repository,
//! and, when asked, the server started with the base backup's major on a
//! local port until it has replayed up to the target and promoted itself.
//!
//! A server Lifeboat starts gets its WAL from this process (`feeder.rs`);
//! one left for the admin to start runs `lifeboat wal-fetch` per file.
//!
//! The recovered cluster never archives (`archive_mode = off`): it must
//! not write a new timeline into the archive it came from.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::feeder::{shell_quote, WalFeeder};
use super::window::base_backups;
use super::{base_tag, BaseBackupFacts};
use crate::error::{Error, Result};
use crate::paths;
use crate::pg::cluster::{conf_quote, running_as_root, LocalCluster, ServerUser};
use crate::pg::scratch::ScratchCluster;
use crate::pg::tools::{self, PgServer};
use crate::pg::wal::Lsn;
use crate::progress::Progress;
use crate::repo::manifest::{self, Snapshot};
use crate::repo::read::{self, ReadOptions};
use crate::repo::{wal, Repository};

/// Where recovery stops.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum RecoveryTarget {
    Time(DateTime<Utc>),
    RestorePoint(String),
    Lsn(Lsn),
    /// The end of the archived WAL.
    Latest,
}

impl std::fmt::Display for RecoveryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecoveryTarget::Time(time) => write!(f, "{}", time.format("%Y-%m-%d %H:%M:%S%.6f UTC")),
            RecoveryTarget::RestorePoint(name) => write!(f, "restore point `{name}`"),
            RecoveryTarget::Lsn(lsn) => write!(f, "WAL position {lsn}"),
            RecoveryTarget::Latest => f.write_str("the end of the archived WAL"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RecoverOptions {
    /// The archive's name.
    pub name: String,
    pub target: RecoveryTarget,
    /// A fresh data directory: absent or empty.
    pub datadir: PathBuf,
    /// The server binaries' folder; searched for when None.
    pub pg_bin: Option<PathBuf>,
    /// Recover this base backup (an id or `latest:NAME.base`) instead of
    /// the newest that fits the target.
    pub base: Option<String>,
    /// Start the recovered server on this port and wait until it has
    /// recovered; leave it stopped when None.
    pub start_port: Option<u16>,
    /// The `lifeboat` binary whose `wal-fetch` a server left stopped runs
    /// as its `restore_command` (one Lifeboat starts is fed by this process).
    pub lifeboat: Option<PathBuf>,
    /// The repository's location, for that `restore_command`.
    pub repository: String,
    /// A throwaway copy (a drill): it listens on its socket in the data
    /// directory alone, which only this user can reach, and trusts
    /// connections there, whatever the original server's `pg_hba.conf` said.
    /// Run as root, it runs as an unprivileged user (`pg::cluster`).
    pub scratch: bool,
    pub lock_wait: Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct RecoverReport {
    pub name: String,
    pub base_backup: String,
    pub server_version: String,
    pub target: RecoveryTarget,
    pub datadir: PathBuf,
    /// `pg_verifybackup` checked the unpacked files against the server's manifest.
    pub manifest_verified: bool,
    /// The server runs, recovered and promoted, on this port.
    pub port: Option<u16>,
    /// The recovering server's log (in the data directory).
    pub log: Option<PathBuf>,
    pub seconds: f64,
    pub next_steps: Vec<String>,
}

/// Refuses what PostgreSQL would refuse later, before anything is written.
fn preflight(options: &RecoverOptions) -> Result<()> {
    wal::validate_name(&options.name)?;
    if options.start_port.is_none() && options.lifeboat.is_none() {
        return Err(Error::InvalidInput(
            "a recovered cluster left stopped fetches its WAL through the `lifeboat` command line, which is not \
             here: recover with --start, or from the command line"
                .into(),
        ));
    }
    if options.start_port.is_some() && !options.scratch && running_as_root() {
        return Err(Error::InvalidInput(
            "PostgreSQL refuses to run as root, so `recover --start` cannot either: run it as the user that will own \
             the recovered server (for example `sudo -u postgres lifeboat recover ...`, with the repository and \
             passphrase readable by that user)"
                .into(),
        ));
    }
    match std::fs::read_dir(&options.datadir).map(|mut entries| entries.next().is_none()) {
        Ok(false) => Err(Error::InvalidInput(format!(
            "{} is not empty: recover into a new or empty folder (nothing was changed)",
            options.datadir.display()
        ))),
        Ok(true) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("reading", &options.datadir, e)),
    }
}

/// The base backup to recover: the one asked for, else the newest that
/// ends before the target.
pub(super) fn choose_base(
    repo: &Repository,
    name: &str,
    target: &RecoveryTarget,
    base: Option<&str>,
) -> Result<(Snapshot, BaseBackupFacts)> {
    if let Some(spec) = base {
        let snapshot = manifest::resolve(repo, spec)?;
        let facts = BaseBackupFacts::of(&snapshot)?;
        if snapshot.manifest.tag != base_tag(name) {
            return Err(Error::InvalidInput(format!(
                "snapshot {} is a base backup of `{}`, not of `{}`",
                &snapshot.id[..8],
                facts.archive,
                name
            )));
        }
        return Ok((snapshot, facts));
    }
    let bases = base_backups(repo, name)?;
    let Some((oldest, _)) = bases.first() else {
        return Err(Error::InvalidInput(format!(
            "`{}` has no base backup in this repository: take one with `lifeboat base-backup --name {}`",
            name, name
        )));
    };
    let oldest_end = oldest.manifest.end;
    let fits = |snapshot: &Snapshot, facts: &BaseBackupFacts| match target {
        RecoveryTarget::Time(time) => snapshot.manifest.end <= *time,
        RecoveryTarget::Lsn(lsn) => facts.stop_lsn.is_some_and(|stop| stop <= *lsn),
        RecoveryTarget::RestorePoint(_) | RecoveryTarget::Latest => true,
    };
    bases.into_iter().rev().find(|(s, f)| fits(s, f)).ok_or_else(|| {
        Error::InvalidInput(format!(
            "{} is before the end of `{}`'s oldest base backup ({}): the recoverable window starts there \
             (`lifeboat pitr show {}`)",
            target,
            name,
            oldest_end.format("%Y-%m-%d %H:%M:%S UTC"),
            name
        ))
    })
}

/// A time at or after the newest archived WAL file was archived has no
/// change after it in the archive, and PostgreSQL would stop short of it
/// ("recovery ended before configured recovery target was reached"): such
/// a recovery is one to the latest WAL, which holds everything before that
/// time. Returns the target to use and, when it changed, why.
pub(super) fn settle_target(repo: &Repository, name: &str, target: &RecoveryTarget) -> Result<(RecoveryTarget, Option<String>)> {
    let RecoveryTarget::Time(time) = target else {
        return Ok((target.clone(), None));
    };
    let newest = super::window::status(repo, name)?.newest_wal_archived;
    match newest {
        Some(archived) if archived <= *time => Ok((
            RecoveryTarget::Latest,
            Some(format!(
                "recovered to the end of the archived WAL: its newest file was archived at {}, before {}, so everything \
                 archived is before the time asked for",
                archived.format("%Y-%m-%d %H:%M:%S UTC"),
                target
            )),
        )),
        _ => Ok((target.clone(), None)),
    }
}

impl ScratchCluster {
    /// How to recover base backup `base` to `target` into this cluster.
    pub fn recover_options(&self, base: &str, target: RecoveryTarget, lock_wait: Duration) -> RecoverOptions {
        RecoverOptions {
            name: self.group.clone(),
            target,
            datadir: self.datadir.clone(),
            pg_bin: Some(self.server.bin_dir.clone()),
            base: Some(base.to_owned()),
            start_port: Some(self.port),
            lifeboat: None,
            repository: String::new(),
            scratch: true,
            lock_wait,
        }
    }
}

/// Recovers archive `options.name` into `options.datadir`.
pub fn recover(repo: Arc<Repository>, options: &RecoverOptions, progress: &dyn Progress) -> Result<RecoverReport> {
    let started = Instant::now();
    preflight(options)?;
    let (target, settled) = settle_target(&repo, &options.name, &options.target)?;
    let options = &RecoverOptions { target, ..options.clone() };
    let (snapshot, facts) = choose_base(&repo, &options.name, &options.target, options.base.as_deref())?;
    let server = tools::find_server(facts.server_major(), options.pg_bin.as_deref(), super::RECOVERS)?;
    let user = if options.scratch { ServerUser::for_servers()? } else { None };
    let created = !options.datadir.exists();
    paths::create_private_dir(&options.datadir)?;
    let outcome = materialise(&repo, &snapshot, &facts, &server, options, progress).and_then(|verified| {
        if let Some(user) = &user {
            user.take(&options.datadir)?;
        }
        Ok(verified)
    });
    let manifest_verified = match outcome {
        Ok(verified) => verified,
        Err(e) => {
            remove_contents(&options.datadir, created);
            return Err(e);
        }
    };
    let log = options.datadir.join("lifeboat-recovery.log");
    let mut next_steps: Vec<String> = settled.into_iter().collect();
    let port = match options.start_port {
        Some(port) => {
            let cluster = LocalCluster {
                pg_ctl: server.tool("pg_ctl"),
                datadir: options.datadir.clone(),
                user,
            };
            run_recovery(&repo, &cluster, options, &log, progress)?;
            next_steps.push(format!(
                "the recovered server runs on port {port} (localhost; its socket in {}): check it, then dump what \
                 you need, or make it the new primary (set archive_mode and archive_command again first)",
                options.datadir.display()
            ));
            Some(port)
        }
        None => {
            next_steps.push(format!(
                "start it with `{} -D {} start`, with LIFEBOAT_REPO and the passphrase (LIFEBOAT_PASSWORD_FILE) in its \
                 environment: its restore_command fetches the WAL through Lifeboat",
                server.tool("pg_ctl").display(),
                options.datadir.display()
            ));
            None
        }
    };
    Ok(RecoverReport {
        name: options.name.clone(),
        base_backup: snapshot.id,
        server_version: facts.server_version,
        target: options.target.clone(),
        datadir: options.datadir.clone(),
        manifest_verified,
        port,
        log: port.map(|_| log),
        seconds: started.elapsed().as_secs_f64(),
        next_steps,
    })
}

/// Unpacks the base backup, checks it, and writes the recovery settings.
/// Returns whether `pg_verifybackup` checked it.
fn materialise(
    repo: &Repository,
    snapshot: &Snapshot,
    facts: &BaseBackupFacts,
    server: &PgServer,
    options: &RecoverOptions,
    progress: &dyn Progress,
) -> Result<bool> {
    unpack(repo, snapshot, &options.datadir, options.lock_wait, progress)?;
    let verified = verify_backup(server, facts, &options.datadir)?;
    write_recovery_settings(options)?;
    Ok(verified)
}

/// Streams the verified snapshot through a pipe into the tar reader.
fn unpack(repo: &Repository, snapshot: &Snapshot, datadir: &Path, lock_wait: Duration, progress: &dyn Progress) -> Result<()> {
    let (reader, mut writer) = std::io::pipe().map_err(|e| Error::Internal(format!("a pipe: {e}")))?;
    std::thread::scope(|scope| {
        let unpacking = scope.spawn(move || {
            let mut archive = tar::Archive::new(std::io::BufReader::with_capacity(1 << 20, reader));
            archive.set_preserve_permissions(true);
            archive.set_overwrite(false);
            let result = archive.unpack(datadir);
            // Drain what is left so the writer never blocks on a reader that gave up.
            let _ = std::io::copy(&mut archive.into_inner(), &mut std::io::sink());
            result
        });
        let streamed = read::cat(repo, snapshot, &mut writer, progress, ReadOptions { lock_wait });
        drop(writer);
        let unpacked = unpacking
            .join()
            .map_err(|_| Error::Internal("the unpacking thread stopped".into()))?;
        streamed?;
        unpacked.map_err(|e| Error::io("unpacking the base backup into", datadir, e))
    })
}

/// `pg_verifybackup` over the unpacked files, where the server wrote a
/// manifest and the major ships the tool (13 and later).
fn verify_backup(server: &PgServer, facts: &BaseBackupFacts, datadir: &Path) -> Result<bool> {
    let tool = server.tool("pg_verifybackup");
    if !facts.manifest || !tool.exists() {
        return Ok(false);
    }
    let mut command = Command::new(&tool);
    // WAL is checked by replay itself when pg_waldump is not there.
    if !server.tool("pg_waldump").exists() {
        command.arg("--no-parse-wal");
    }
    let output = command
        .arg("--quiet")
        .arg(datadir)
        .env("LC_MESSAGES", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("running", &tool, e))?;
    if !output.status.success() {
        return Err(Error::RestoreFailed(format!(
            "the unpacked base backup does not match the manifest its server wrote (pg_verifybackup: {}): it was \
             removed; recover from another base backup (--base)",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(true)
}

/// Debian and Ubuntu keep a cluster's `postgresql.conf` and `pg_hba.conf`
/// in /etc, outside the data directory a base backup copies: the recovered
/// cluster gets an empty `postgresql.conf` (the defaults, and the settings
/// recovery adds) and a `pg_hba.conf` for local connections. A scratch
/// copy always gets one that trusts its private socket.
fn write_missing_config(options: &RecoverOptions) -> Result<()> {
    let write = |name: &str, text: &str, replace: bool| {
        let path = options.datadir.join(name);
        if replace || !path.exists() {
            std::fs::write(&path, text).map_err(|e| Error::io("writing", &path, e))?;
        }
        Ok::<(), Error>(())
    };
    write(
        "postgresql.conf",
        "# Written by `lifeboat recover`: the base backup had no postgresql.conf (it was kept outside the data directory).\n",
        false,
    )?;
    write("pg_ident.conf", "", false)?;
    if options.scratch {
        write(
            "pg_hba.conf",
            "# Written by a Lifeboat drill: only the socket in this private data directory is open.\nlocal all all trust\n",
            true,
        )
    } else {
        write(
            "pg_hba.conf",
            "# Written by `lifeboat recover`: the base backup had no pg_hba.conf.\nlocal all all peer\n\
             host all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n",
            false,
        )
    }
}

/// A word quoted for the shell that runs `restore_command`.
/// Where a server Lifeboat starts asks this process for WAL files.
fn feed_dir(datadir: &Path) -> PathBuf {
    datadir.join("lifeboat-wal-feed")
}

fn restore_command(options: &RecoverOptions) -> String {
    match (&options.lifeboat, options.start_port) {
        (Some(lifeboat), None) => format!(
            "{} --repo {} wal-fetch %f %p --name {}",
            shell_quote(&lifeboat.display().to_string()),
            shell_quote(&options.repository),
            shell_quote(&options.name)
        ),
        _ => WalFeeder::restore_command(&feed_dir(&absolute(&options.datadir))),
    }
}

fn absolute(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

fn write_recovery_settings(options: &RecoverOptions) -> Result<()> {
    let restore_command = restore_command(options);
    let mut settings = vec![
        format!("restore_command = {}", conf_quote(&restore_command)),
        "recovery_target_action = 'promote'".to_string(),
        "recovery_target_timeline = 'latest'".to_string(),
        // A recovered copy must not archive a new timeline into the archive it came from.
        "archive_mode = 'off'".to_string(),
    ];
    match &options.target {
        RecoveryTarget::Time(time) => settings.push(format!(
            "recovery_target_time = {}",
            conf_quote(&time.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string())
        )),
        RecoveryTarget::RestorePoint(name) => settings.push(format!("recovery_target_name = {}", conf_quote(name))),
        RecoveryTarget::Lsn(lsn) => settings.push(format!("recovery_target_lsn = {}", conf_quote(&lsn.to_string()))),
        RecoveryTarget::Latest => {}
    }
    if let Some(port) = options.start_port {
        let socket_dir = absolute(&options.datadir);
        let listen = if options.scratch { "''" } else { "'localhost'" };
        settings.extend([
            format!("port = {port}"),
            format!("listen_addresses = {listen}"),
            format!("unix_socket_directories = {}", conf_quote(&socket_dir.display().to_string())),
        ]);
    }
    write_missing_config(options)?;
    let auto_conf = options.datadir.join("postgresql.auto.conf");
    let mut text = std::fs::read_to_string(&auto_conf).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# Added by `lifeboat recover`: recovery from the repository's WAL archive.\n");
    for line in settings {
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(&auto_conf, text).map_err(|e| Error::io("writing", &auto_conf, e))?;
    let _ = std::fs::remove_file(options.datadir.join("standby.signal"));
    let signal = options.datadir.join("recovery.signal");
    std::fs::write(&signal, b"").map_err(|e| Error::io("writing", &signal, e))
}

/// Starts the server, feeding it WAL, and waits until recovery ended and
/// it promoted itself (`recovery.signal` gone, the server running), or it
/// stopped. Then its `restore_command` goes: nothing feeds it any more.
fn run_recovery(
    repo: &Arc<Repository>,
    cluster: &LocalCluster,
    options: &RecoverOptions,
    log: &Path,
    progress: &dyn Progress,
) -> Result<()> {
    let datadir = &options.datadir;
    let feed = feed_dir(&absolute(datadir));
    let mut feeder = WalFeeder::start(repo.clone(), &options.name, &feed, cluster.user.as_ref(), options.lock_wait)?;
    let status = cluster.start(log)?;
    if !status.success() {
        feeder.close();
        return Err(recovery_failed(
            log,
            &feeder.damaged(),
            &format!("pg_ctl start exited with {status}"),
            options.scratch,
        ));
    }
    progress.phase("replaying WAL", None);
    let signal = datadir.join("recovery.signal");
    loop {
        std::thread::sleep(Duration::from_millis(250));
        if !cluster.running() {
            feeder.close();
            return Err(recovery_failed(
                log,
                &feeder.damaged(),
                "the server stopped during recovery",
                options.scratch,
            ));
        }
        // `recovery.signal` goes before the promotion ends: the server
        // still asks for timeline history then.
        if !signal.exists() && in_production(cluster) {
            break;
        }
        if progress.cancelled() {
            feeder.close();
            cluster.stop("fast");
            return Err(Error::Cancelled);
        }
    }
    feeder.close();
    // Promoted; a WAL file that failed to read back ended replay early.
    if let Some(damaged) = feeder.damaged().first() {
        cluster.stop("fast");
        return Err(Error::RestoreFailed(format!(
            "recovery stopped early, where a WAL file could not be read back ({damaged}); the server was stopped. \
             The archive is damaged from there: recover to an earlier point, and run `lifeboat check --read-data`"
        )));
    }
    drop(feeder);
    let _ = std::fs::remove_dir_all(&feed);
    forget_restore_command(datadir, &restore_command(options))
}

/// Whether the cluster finished recovery and runs as a primary
/// (`pg_controldata`: "in production"; taken as so where the install
/// lacks the tool).
fn in_production(cluster: &LocalCluster) -> bool {
    let tool = cluster
        .pg_ctl
        .with_file_name(format!("pg_controldata{}", std::env::consts::EXE_SUFFIX));
    if !tool.exists() {
        return true;
    }
    Command::new(tool)
        .arg(&cluster.datadir)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.starts_with("Database cluster state:") && l.ends_with("in production"))
        })
}

/// Comments out the `restore_command` recovery used, now that nothing
/// answers it.
fn forget_restore_command(datadir: &Path, command: &str) -> Result<()> {
    let auto_conf = datadir.join("postgresql.auto.conf");
    let text = std::fs::read_to_string(&auto_conf).map_err(|e| Error::io("reading", &auto_conf, e))?;
    let setting = format!("restore_command = {}", conf_quote(command));
    let text = text.replace(
        &setting,
        "# restore_command: recovery from Lifeboat's archive is over (set one to make this a standby)",
    );
    std::fs::write(&auto_conf, text).map_err(|e| Error::io("writing", &auto_conf, e))
}

/// Why recovery failed, from the server's log: its FATAL lines, any WAL
/// file that could not be read back, and the log's last lines (a scratch
/// cluster's log goes with it).
fn recovery_failed(log: &Path, damaged: &[String], what: &str, scratch: bool) -> Error {
    let text = std::fs::read(log)
        .map(|bytes| {
            // Only the end matters; a recovery can log for hours.
            let tail = &bytes[bytes.len().saturating_sub(64 * 1024)..];
            String::from_utf8_lossy(tail).into_owned()
        })
        .unwrap_or_default();
    let mut reasons = damaged.to_vec();
    reasons.extend(text.lines().filter(|l| l.contains("FATAL:") || l.contains("PANIC:")).map(|l| {
        l.split_once("FATAL:")
            .or_else(|| l.split_once("PANIC:"))
            .map_or(l, |(_, r)| r)
            .trim()
            .to_string()
    }));
    if text.contains("recovery ended before configured recovery target was reached") {
        reasons.push(
            "the archived WAL holds no change at or after the target, so PostgreSQL cannot tell it reached it: \
             recover with --latest (everything archived is before the target), or to an earlier moment"
                .into(),
        );
    }
    let reasons = if reasons.is_empty() {
        "see its log".to_string()
    } else {
        reasons.join("; ")
    };
    let mut last_lines: Vec<&str> = text.lines().rev().filter(|l| !l.trim().is_empty()).take(12).collect();
    last_lines.reverse();
    let last_lines: Vec<String> = last_lines
        .iter()
        .map(|l| format!("  {}", l.chars().take(300).collect::<String>()))
        .collect();
    let kept = if scratch {
        String::new()
    } else {
        format!(" (the log: {})", log.display())
    };
    Error::RestoreFailed(format!(
        "{what}: {reasons}{kept}\nthe server's last log lines:\n{}",
        last_lines.join("\n")
    ))
}

/// Removes what recovery wrote into `datadir` (and the folder, if it made it).
fn remove_contents(datadir: &Path, created: bool) {
    if created {
        let _ = std::fs::remove_dir_all(datadir);
        return;
    }
    if let Ok(entries) = std::fs::read_dir(datadir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}
