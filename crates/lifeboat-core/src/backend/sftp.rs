//! A repository on an SFTP server (a Hetzner Storage Box, a NAS, any host
//! with OpenSSH), through the workstation's own `ssh`.
//!
//! Lifeboat starts `ssh -s HOST sftp` and speaks SFTP over its pipes
//! (`openssh-sftp-client`). The login is the user's own: keys from the SSH
//! agent or `~/.ssh`, the host key checked against `~/.ssh/known_hosts`,
//! `~/.ssh/config` applied (Port, User, IdentityFile, ProxyJump). ssh runs
//! in batch mode and never prompts: a key with a passphrase must be in the
//! agent, and an unknown host key is refused with what to do.
//! `LIFEBOAT_SSH_COMMAND` replaces `ssh`, as `GIT_SSH_COMMAND` does for git
//! (e.g. `ssh -F /etc/lifeboat/ssh_config`).
//!
//! Files are written as on a local disk: a temporary file beside the target,
//! synced (`fsync@openssh.com`), then renamed over it
//! (`posix-rename@openssh.com`); a file that must not replace anything is
//! hard-linked into place (`hardlink@openssh.com`). OpenSSH's sftp-server
//! has all three; a server without them gets the weaker fallbacks that
//! [`Backend::guarantees`] reports.
//!
//! Not OpenDAL's SFTP service (0.59): it writes files in place (a killed
//! upload leaves a torn file under its final name), never syncs, and starts
//! ssh control masters with `ControlPersist=yes`, which outlive a killed
//! Lifeboat. Here the one ssh process is Lifeboat's child and ends with it.

use std::future::Future;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use openssh_sftp_client::error::SftpErrorKind;
use openssh_sftp_client::file::File;
use openssh_sftp_client::{Error as SftpError, Sftp, SftpOptions};
use tokio::io::{AsyncBufReadExt, AsyncSeek};

use super::{Backend, FileInfo, StorageGuarantees};
use crate::crypto::random_bytes;
use crate::error::{Error, Result};

/// Marks a temporary file, as on a local disk: `.NAME.tmp-RANDOM` beside
/// its target, hidden from listings.
const TEMP_MARK: &str = ".tmp-";
/// Bytes per SFTP read or write request (OpenSSH allows up to 255 KiB).
const SEGMENT: usize = 128 << 10;
/// Requests of one file in flight at once, so a transfer is not one
/// round trip per segment.
const IN_FLIGHT: usize = 16;
/// Tries of one call when the connection drops (each on a new connection).
const TRIES: usize = 3;
/// What ssh printed last, kept for error messages.
const SSH_LOG_LIMIT: usize = 2048;

/// Where the repository is on an SFTP server.
#[derive(Clone, Debug)]
pub struct SftpSettings {
    /// None: ssh's default (`~/.ssh/config`, else the local user name).
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// The repository's folder: absolute, or relative to the login folder;
    /// without a trailing `/`.
    pub path: String,
}

pub struct SftpBackend {
    shared: Arc<Shared>,
}

struct Shared {
    settings: SftpSettings,
    location: String,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
}

/// One ssh process and the SFTP conversation over its pipes; the process
/// is killed when the session is dropped.
struct Session {
    sftp: Sftp,
    _ssh: tokio::process::Child,
    ssh_log: Arc<Mutex<String>>,
    posix_rename: bool,
    hard_link: bool,
    fsync: bool,
}

/// Why a call failed: the server's answer or the connection (worth a new
/// connection and another try), or Lifeboat's own verdict.
enum Failure {
    Sftp(SftpError),
    Verdict(Error),
}

impl From<SftpError> for Failure {
    fn from(e: SftpError) -> Self {
        Failure::Sftp(e)
    }
}

type Attempt<T> = std::result::Result<T, Failure>;

fn is_not_found(e: &SftpError) -> bool {
    matches!(e, SftpError::SftpError(SftpErrorKind::NoSuchFile, _))
}

/// SFTP's "failure" answer: what OpenSSH gives when a name is taken.
fn is_failure(e: &SftpError) -> bool {
    matches!(e, SftpError::SftpError(SftpErrorKind::Failure, _))
}

/// An error that is not the server's answer to a request: the connection
/// broke (ssh exited, the network dropped).
fn is_connection_lost(e: &SftpError) -> bool {
    !matches!(e, SftpError::SftpError(..) | SftpError::UnsupportedExtension(_))
}

fn seek(file: &mut File, offset: u64) -> std::io::Result<()> {
    Pin::new(file).start_seek(SeekFrom::Start(offset))
}

impl SftpBackend {
    pub fn new(settings: SftpSettings, location: String) -> SftpBackend {
        SftpBackend {
            shared: Arc::new(Shared {
                settings,
                location,
                session: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// Runs `call` with a session, on a new connection when the last one
    /// broke; maps what failed to an error that says what to do.
    fn call<T, F, Fut>(&self, action: &'static str, path: &str, call: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(Arc<Session>, String) -> Fut + Send + 'static,
        Fut: Future<Output = Attempt<T>> + Send,
    {
        let shared = self.shared.clone();
        let rel = path.to_string();
        super::runtime::block_on(async move {
            let full = shared.full_path(&rel);
            let mut tries = 0;
            loop {
                tries += 1;
                let session = shared.session().await?;
                match call(session.clone(), full.clone()).await {
                    Ok(value) => return Ok(value),
                    Err(Failure::Verdict(e)) => return Err(e),
                    Err(Failure::Sftp(e)) if is_connection_lost(&e) => {
                        shared.drop_session(&session).await;
                        if tries >= TRIES {
                            let said = session.ssh_log.lock().expect("ssh log").trim().to_string();
                            return Err(shared.error(action, &rel, &connection_lost_detail(&e, &said)));
                        }
                        tracing::warn!("the connection to {} broke ({e}); connecting again", shared.location);
                        tokio::time::sleep(Duration::from_millis(500 * tries as u64)).await;
                    }
                    Err(Failure::Sftp(e)) => return Err(shared.answer_error(action, &rel, e)),
                }
            }
        })
        .unwrap_or_else(|| Err(Error::Internal("the storage call stopped unexpectedly".into())))
    }

    /// Writes `data` to a fresh temporary file beside `full`; returns its path.
    async fn write_temporary(session: &Session, full: &str, data: Arc<[u8]>) -> Attempt<String> {
        let (dir, name) = full.rsplit_once('/').unwrap_or(("", full));
        let tmp = format!(
            "{}.{name}{TEMP_MARK}{}",
            if dir.is_empty() { String::new() } else { format!("{dir}/") },
            data_encoding::HEXLOWER.encode(&random_bytes::<6>())
        );
        let file = match session.create_file(&tmp).await {
            Err(e) if is_not_found(&e) && !dir.is_empty() => {
                session.create_folders(dir).await;
                session.create_file(&tmp).await?
            }
            opened => opened?,
        };
        let written = async {
            write_segments(&file, data).await?;
            let mut file = file;
            if session.fsync {
                file.sync_all().await?;
            }
            file.close().await
        }
        .await;
        if let Err(e) = written {
            let _ = session.sftp.fs().remove_file(&tmp).await;
            return Err(e.into());
        }
        Ok(tmp)
    }
}

/// Writes `data` at the start of `file`, [`IN_FLIGHT`] segments at a time.
async fn write_segments(file: &File, data: Arc<[u8]>) -> std::result::Result<(), SftpError> {
    futures_util::stream::iter((0..data.len()).step_by(SEGMENT))
        .map(|start| {
            let mut file = file.clone();
            let data = data.clone();
            async move {
                seek(&mut file, start as u64)?;
                file.write_all(&data[start..data.len().min(start + SEGMENT)]).await
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
}

/// `len` bytes of `file` from `offset`, [`IN_FLIGHT`] segments at a time;
/// None if the file ends before.
async fn read_segments(file: &File, offset: u64, len: usize) -> std::result::Result<Option<Vec<u8>>, SftpError> {
    let segments: Vec<(u64, usize)> = (0..len)
        .step_by(SEGMENT)
        .map(|start| (offset + start as u64, SEGMENT.min(len - start)))
        .collect();
    let parts: Vec<Option<bytes::BytesMut>> = futures_util::stream::iter(segments)
        .map(|(at, n)| {
            let mut file = file.clone();
            async move {
                seek(&mut file, at)?;
                match file.read_all(n, bytes::BytesMut::with_capacity(n)).await {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(SftpError::IOError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
                    Err(e) => Err(e),
                }
            }
        })
        .buffered(IN_FLIGHT)
        .try_collect()
        .await?;
    let mut data = Vec::with_capacity(len);
    for part in parts {
        match part {
            Some(bytes) => data.extend_from_slice(&bytes),
            None => return Ok(None),
        }
    }
    Ok(Some(data))
}

impl Session {
    /// `full` opened for reading; [`Error::Missing`] (naming `rel`) if absent.
    async fn open(&self, full: &str, rel: &str) -> Attempt<File> {
        match self.sftp.open(full).await {
            Err(e) if is_not_found(&e) => Err(Failure::Verdict(Error::Missing(rel.to_string()))),
            opened => Ok(opened?),
        }
    }

    async fn create_file(&self, path: &str) -> std::result::Result<File, SftpError> {
        let mut options = self.sftp.options();
        options.write(true).create_new(true);
        options.open(path).await
    }

    /// Creates `dir` and the folders above it that are missing (0700);
    /// what cannot be created shows in the write that follows.
    async fn create_folders(&self, dir: &str) {
        let mut fs = self.sftp.fs();
        let mut builder = fs.dir_builder();
        builder.permissions(openssh_sftp_client::metadata::Permissions::from(0o700u16));
        let mut prefix = PathBuf::new();
        for component in Path::new(dir).components() {
            prefix.push(component);
            if matches!(component, std::path::Component::Normal(_)) {
                let _ = builder.create(&prefix).await;
            }
        }
    }
}

impl Shared {
    fn full_path(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.settings.path.clone()
        } else {
            format!("{}/{rel}", self.settings.path)
        }
    }

    async fn session(&self) -> Result<Arc<Session>> {
        let mut slot = self.session.lock().await;
        if let Some(session) = slot.as_ref() {
            return Ok(session.clone());
        }
        let session = Arc::new(self.connect().await?);
        *slot = Some(session.clone());
        Ok(session)
    }

    async fn drop_session(&self, broken: &Arc<Session>) {
        let mut slot = self.session.lock().await;
        if slot.as_ref().is_some_and(|current| Arc::ptr_eq(current, broken)) {
            *slot = None;
        }
    }

    async fn connect(&self) -> Result<Session> {
        let settings = &self.settings;
        let mut command = ssh_command();
        command.args([
            "-T",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=20",
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "ServerAliveCountMax=4",
        ]);
        if let Some(port) = settings.port {
            command.arg("-p").arg(port.to_string());
        }
        if let Some(user) = &settings.user {
            command.arg("-l").arg(user);
        }
        // Checked by `Location::parse`, and after `--` ssh takes nothing as an option.
        command.args(["-s", "--", &settings.host, "sftp"]);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut ssh = command.spawn().map_err(|e| {
            let detail = match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "SFTP repositories need OpenSSH's client: install it (Debian/Ubuntu: apt install openssh-client)".to_string()
                }
                _ => format!("could not start ssh: {e}"),
            };
            self.error("connecting to", "", &detail)
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (ssh.stdin.take(), ssh.stdout.take(), ssh.stderr.take()) else {
            return Err(Error::Internal("ssh started without its pipes".into()));
        };
        let ssh_log = Arc::new(Mutex::new(String::new()));
        let log_reader = tokio::spawn(keep_ssh_log(stderr, ssh_log.clone()));
        match Sftp::new(stdin, stdout, SftpOptions::new()).await {
            Ok(sftp) => Ok(Session {
                posix_rename: sftp.support_posix_rename(),
                hard_link: sftp.support_hardlink(),
                fsync: sftp.support_fsync(),
                sftp,
                _ssh: ssh,
                ssh_log,
            }),
            Err(e) => {
                // ssh gave up (host key, login, network): it says why on stderr.
                let _ = tokio::time::timeout(Duration::from_secs(5), ssh.wait()).await;
                let _ = tokio::time::timeout(Duration::from_secs(1), log_reader).await;
                let said = ssh_log.lock().expect("ssh log").trim().to_string();
                Err(self.error("connecting to", "", &connect_failure_detail(&e, &said, settings)))
            }
        }
    }

    fn error(&self, action: &str, rel: &str, detail: &str) -> Error {
        Error::Storage {
            action: action.to_string(),
            target: if rel.is_empty() {
                self.location.clone()
            } else {
                format!("{}/{rel}", self.location.trim_end_matches('/'))
            },
            detail: detail.to_string(),
        }
    }

    /// The server refused a request.
    fn answer_error(&self, action: &str, rel: &str, e: SftpError) -> Error {
        let detail = match &e {
            SftpError::SftpError(SftpErrorKind::PermDenied, _) => format!(
                "permission denied: the login user must be able to create, read, write and delete files under {} on the server",
                self.settings.path
            ),
            SftpError::SftpError(SftpErrorKind::NoSuchFile, _) => format!(
                "the folder does not exist on the server and could not be created (check the path {})",
                self.settings.path
            ),
            SftpError::SftpError(kind, message) => format!("the server refused it ({kind:?}: {message})"),
            other => other.to_string(),
        };
        self.error(action, rel, &detail)
    }
}

/// `ssh`, or the command in `LIFEBOAT_SSH_COMMAND` (run by `sh`, with
/// ssh's arguments after it).
fn ssh_command() -> tokio::process::Command {
    match std::env::var("LIFEBOAT_SSH_COMMAND").ok().filter(|c| !c.trim().is_empty()) {
        Some(custom) => {
            let mut command = tokio::process::Command::new("sh");
            command.arg("-c").arg(format!("{custom} \"$@\"")).arg("lifeboat-ssh");
            command
        }
        None => tokio::process::Command::new("ssh"),
    }
}

/// Keeps the last [`SSH_LOG_LIMIT`] bytes of what ssh prints.
async fn keep_ssh_log(stderr: tokio::process::ChildStderr, log: Arc<Mutex<String>>) {
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(target: "lifeboat::ssh", "{line}");
        let mut log = log.lock().expect("ssh log");
        log.push_str(&line);
        log.push('\n');
        if log.len() > SSH_LOG_LIMIT {
            let cut = log.len() - SSH_LOG_LIMIT;
            let cut = (cut..log.len()).find(|i| log.is_char_boundary(*i)).unwrap_or(0);
            log.drain(..cut);
        }
    }
}

/// What to do when ssh could not log in.
fn connect_failure_detail(e: &SftpError, said: &str, settings: &SftpSettings) -> String {
    let port = settings.port.map(|p| format!(" -p {p}")).unwrap_or_default();
    let user = settings.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
    let try_it = format!("ssh{port} {user}{}", settings.host);
    let hint = if said.contains("Host key verification failed") || said.contains("host key") {
        format!(
            "the server's host key is not in ~/.ssh/known_hosts, or it changed: run `{try_it}` once, check the fingerprint it \
             shows with the server's admin, and accept it"
        )
    } else if said.contains("Permission denied") {
        format!(
            "the server refused the login: Lifeboat logs in with SSH keys from your agent or ~/.ssh (never a password); add your \
             public key to the server's authorized_keys, or load a key with a passphrase into the agent (ssh-add), then try `{try_it}`"
        )
    } else if said.contains("Could not resolve")
        || said.contains("Connection refused")
        || said.contains("timed out")
        || said.contains("No route")
    {
        "the server could not be reached: check the host name and port, and that SSH is enabled on it".to_string()
    } else if said.contains("subsystem request failed") {
        "the server does not offer SFTP: enable its SFTP subsystem (OpenSSH: `Subsystem sftp internal-sftp`)".to_string()
    } else {
        format!("ssh could not open an SFTP session ({e}); try `{try_it} -s sftp`")
    };
    if said.is_empty() {
        hint
    } else {
        format!("{hint} (ssh said: {})", said.lines().last().unwrap_or(said))
    }
}

fn connection_lost_detail(e: &SftpError, said: &str) -> String {
    let mut detail = format!(
        "the connection to the server kept breaking ({e}): check the network and the server, then run the job again; what earlier \
         jobs stored is unchanged"
    );
    if let Some(last) = said.lines().last() {
        detail.push_str(&format!(" (ssh said: {last})"));
    }
    detail
}

impl Backend for SftpBackend {
    fn location(&self) -> String {
        self.shared.location.clone()
    }

    fn read(&self, path: &str, max: u64) -> Result<Vec<u8>> {
        let rel = path.to_string();
        self.call("reading", path, move |session, full| {
            let rel = rel.clone();
            async move {
                let mut file = session.open(&full, &rel).await?;
                let size = file.metadata().await?.len().unwrap_or(0);
                if size > max {
                    return Err(Failure::Verdict(Error::corrupt(
                        &rel,
                        format!("it is {size} bytes, more than such a file can hold ({max}): damaged or planted; see `lifeboat check`"),
                    )));
                }
                let data = read_segments(&file, 0, size as usize).await?;
                let _ = file.close().await;
                data.ok_or_else(|| Failure::Verdict(Error::corrupt(&rel, "it shrank while being read")))
            }
        })
    }

    fn read_at(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        let rel = path.to_string();
        self.call("reading", path, move |session, full| {
            let rel = rel.clone();
            async move {
                let file = session.open(&full, &rel).await?;
                let data = read_segments(&file, offset, len).await?;
                let _ = file.close().await;
                data.ok_or_else(|| Failure::Verdict(Error::corrupt(&rel, format!("the file ends before byte {}", offset + len as u64))))
            }
        })
    }

    fn write(&self, path: &str, data: &[u8]) -> Result<()> {
        let data: Arc<[u8]> = Arc::from(data);
        self.call("writing", path, move |session, full| {
            let data = data.clone();
            async move {
                let tmp = Self::write_temporary(&session, &full, data).await?;
                let mut fs = session.sftp.fs();
                let renamed = match fs.rename(&tmp, &full).await {
                    // Plain SFTP rename never replaces: remove, then rename
                    // (only the latest pointer is ever replaced, and it is a hint).
                    Err(SftpError::SftpError(SftpErrorKind::Failure, _)) if !session.posix_rename => {
                        let _ = fs.remove_file(&full).await;
                        fs.rename(&tmp, &full).await
                    }
                    renamed => renamed,
                };
                if let Err(e) = renamed {
                    let _ = fs.remove_file(&tmp).await;
                    return Err(e.into());
                }
                Ok(())
            }
        })
    }

    fn create_new(&self, path: &str, data: &[u8]) -> Result<bool> {
        let data: Arc<[u8]> = Arc::from(data);
        self.call("creating", path, move |session, full| {
            let data = data.clone();
            async move {
                let tmp = Self::write_temporary(&session, &full, data).await?;
                let mut fs = session.sftp.fs();
                // A hard link never replaces its target: one atomic create.
                // Without the extension: look, then rename.
                let created = if session.hard_link {
                    match fs.hard_link(&tmp, &full).await {
                        Ok(()) => Ok(true),
                        Err(e) if is_failure(&e) && fs.metadata(&full).await.is_ok() => Ok(false),
                        Err(e) => Err(e),
                    }
                } else {
                    match fs.metadata(&full).await {
                        Ok(_) => Ok(false),
                        Err(e) if is_not_found(&e) => fs.rename(&tmp, &full).await.map(|()| true),
                        Err(e) => Err(e),
                    }
                };
                let _ = fs.remove_file(&tmp).await;
                Ok(created?)
            }
        })
    }

    fn list(&self, dir: &str) -> Result<Vec<FileInfo>> {
        self.call("listing", dir, |session, full| async move {
            let mut fs = session.sftp.fs();
            let listing = match fs.open_dir(&full).await {
                Err(e) if is_not_found(&e) => return Ok(Vec::new()),
                opened => opened?,
            };
            let entries: Vec<_> = listing.read_dir().try_collect().await?;
            let mut files: Vec<FileInfo> = entries
                .into_iter()
                .filter_map(|entry| {
                    let name = entry.filename().to_str()?.to_string();
                    let meta = entry.metadata();
                    let is_file = entry.file_type().is_some_and(|t| t.is_file());
                    let size = meta.len().unwrap_or(0);
                    let modified = meta.modified().map(|t| t.as_system_time());
                    (is_file && !name.starts_with('.')).then(|| FileInfo {
                        name,
                        size,
                        modified,
                        // SFTP has no ETag; a rename over the file gives it a new time.
                        version: modified.map(|m| {
                            let seconds = m.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                            format!("s{size}t{seconds}")
                        }),
                    })
                })
                .collect();
            files.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(files)
        })
    }

    fn remove(&self, path: &str) -> Result<()> {
        self.call("removing", path, |session, full| async move {
            match session.sftp.fs().remove_file(&full).await {
                Err(e) if is_not_found(&e) => Ok(()),
                removed => Ok(removed?),
            }
        })
    }

    fn exists(&self, path: &str) -> Result<bool> {
        self.call("looking for", path, |session, full| async move {
            match session.sftp.fs().metadata(&full).await {
                Ok(_) => Ok(true),
                Err(e) if is_not_found(&e) => Ok(false),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn list_temporary(&self) -> Result<Vec<String>> {
        self.call("listing", "", |session, root| async move {
            let mut fs = session.sftp.fs();
            let mut found = Vec::new();
            let mut stack = vec![String::new()];
            while let Some(rel) = stack.pop() {
                let dir = if rel.is_empty() { root.clone() } else { format!("{root}/{rel}") };
                let listing = match fs.open_dir(&dir).await {
                    Err(e) if is_not_found(&e) => continue,
                    opened => opened?,
                };
                let entries: Vec<_> = listing.read_dir().try_collect().await?;
                for entry in entries {
                    let Some(name) = entry.filename().to_str().map(str::to_owned) else {
                        continue;
                    };
                    if name == "." || name == ".." {
                        continue;
                    }
                    let child = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
                    match entry.file_type() {
                        Some(t) if t.is_dir() => stack.push(child),
                        Some(t) if t.is_file() && name.starts_with('.') && name.contains(TEMP_MARK) => found.push(child),
                        _ => {}
                    }
                }
            }
            found.sort();
            Ok(found)
        })
    }

    fn guarantees(&self) -> Result<StorageGuarantees> {
        self.call("connecting to", "", |session, _| async move {
            Ok(StorageGuarantees {
                atomic_replace: session.posix_rename,
                conditional_create: session.hard_link,
            })
        })
    }

    fn parallel_transfers(&self) -> usize {
        4
    }
}
