//! The engine's error type. Every message says what happened and, where the
//! user can do something about it, what to do next.

use std::path::PathBuf;

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors the engine reports. Callers (CLI, desktop app) match on the variant
/// where they branch, and otherwise show the message as is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no Lifeboat repository at {0}: check the path, or create one with `lifeboat init`")]
    NotARepository(String),

    #[error("a repository already exists at {0}: open it instead of creating a new one")]
    AlreadyExists(String),

    #[error(
        "{location} holds a Lifeboat repository ({content} and more) but its `config` file is missing. Do not run \
         `lifeboat init` there: a new repository would make the backups unreadable. Run `lifeboat repair config` \
         (with the passphrase or recovery kit) to restore the config from the copies in the key slots"
    )]
    ConfigMissing { location: String, content: String },

    #[error(
        "the repository config does not belong to these key slots (it says repository {found}; the key slots were made \
         for {expected}): the config was damaged or replaced. Run `lifeboat repair config` to restore it"
    )]
    ConfigMismatch { found: String, expected: String },

    #[error(
        "the repository's `config` differs from the copy kept in key slot {slot}: it was damaged or edited. \
         Run `lifeboat repair config` (it restores the authenticated copy); nothing was read or changed"
    )]
    ConfigDamaged { slot: String },

    #[error(
        "repository format version {found} is not supported by this Lifeboat (it reads version {supported}): \
         upgrade Lifeboat to open it"
    )]
    UnsupportedVersion { found: u32, supported: u32 },

    #[error("wrong passphrase: no key slot of this repository opens with it")]
    WrongPassphrase,

    #[error(
        "no readable key slot opens with this passphrase, and {0}. If the passphrase is right, it belongs to that \
         slot: open the repository with another passphrase or the recovery kit, then replace the slot"
    )]
    DamagedKeySlot(String),

    #[error("this recovery kit does not open the repository: its key slot was removed or the kit belongs to another repository")]
    WrongRecoveryKit,

    #[error("not a valid recovery kit: {0}")]
    InvalidRecoveryKit(String),

    #[error(
        "the key cached in the OS keychain no longer opens this repository (its key slot was removed): \
         open it with a passphrase or a recovery kit"
    )]
    StaleKeychainEntry,

    #[error(
        "no passphrase given and none cached in the OS keychain: set LIFEBOAT_PASSWORD or LIFEBOAT_PASSWORD_FILE, \
         pass --password-file or --recovery-kit, or run in a terminal to be asked"
    )]
    NoCredentials,

    #[error("the OS keychain is not available: {0}")]
    KeychainUnavailable(String),

    #[error("cannot remove the last key slot: add another key first, or the repository could never be opened again")]
    LastKeySlot,

    #[error("{what} is damaged: {detail}")]
    Corrupt { what: String, detail: String },

    #[error(
        "snapshot {snapshot} does not match its manifest: {detail}. \
         The stored data is damaged; run `lifeboat check --read-data` and restore from another snapshot"
    )]
    IntegrityMismatch { snapshot: String, detail: String },

    #[error("no snapshot matches `{0}`: list them with `lifeboat snapshots`")]
    SnapshotNotFound(String),

    #[error("`{0}` matches several snapshots: give more characters of the id")]
    AmbiguousSnapshot(String),

    #[error("no key slot matches `{0}`: list them with `lifeboat key list`")]
    KeySlotNotFound(String),

    #[error(
        "the repository is locked by {holder}: wait for that job to finish; \
         if that process is gone, remove its lock with `lifeboat unlock`"
    )]
    Locked { holder: String },

    #[error(
        "this job's repository lock was lost ({detail}): another process may have judged the job dead and removed \
         data it wrote, so nothing was recorded. Run the job again"
    )]
    LockLost { detail: String },

    #[error("no space left on the device holding {path}: free some space and run the job again (nothing stored earlier was changed)")]
    NoSpace { path: PathBuf },

    #[error(
        "cannot write to {path} (a read-only file system, or no write permission): this job needs to write to the \
         repository; reading jobs (snapshots, cat, check, verify, restore) work without write access"
    )]
    ReadOnly { path: PathBuf },

    #[error("{0} is missing from the repository")]
    Missing(String),

    // The OS error is part of the message, not a `source`: a caller that
    // prints the chain would otherwise print it twice.
    #[error("{action} {path}: {cause}")]
    Io {
        action: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },

    /// A remote storage's failure, with what to do about it.
    #[error("{action} {target}: {detail}")]
    Storage { action: String, target: String, detail: String },

    #[error(
        "{path}: a part of this path is a file, not a folder (a repository location, --repo or LIFEBOAT_REPO, \
         must name the repository's folder)"
    )]
    NotAFolder { path: PathBuf },

    #[error("reading the input stream: {0}")]
    Input(std::io::Error),

    #[error("writing the output stream: {0}")]
    Output(std::io::Error),

    /// What the caller gave cannot be used: a value, a name, a file.
    #[error("{0}")]
    InvalidInput(String),

    /// Like `InvalidInput`, for one named field of a form or request (the
    /// name the request gives it), so a form can show the message there.
    #[error("{message}")]
    InvalidField { field: &'static str, message: String },

    /// A fault in Lifeboat itself (a job's thread died, a value would not
    /// encode): nothing the user typed is wrong.
    #[error("{0} (a fault in Lifeboat itself: please report it with the log file)")]
    Internal(String),

    #[error("another Lifeboat scheduler (the app or `lifeboat daemon`) already runs the schedules in {0}: stop it first")]
    SchedulerBusy(PathBuf),

    #[error("no desktop notification could be shown (is a notification server running?): {0}")]
    NotificationUnavailable(String),

    #[error("the app's catalog at {path} cannot be used: {detail}")]
    Catalog { path: PathBuf, detail: String },

    #[error(
        "the server runs PostgreSQL {needed}, so Lifeboat needs pg_dump {needed} or newer ({found}). Install the \
         PostgreSQL {needed} client tools (Debian/Ubuntu: `apt install postgresql-client-{needed}` from apt.postgresql.org; \
         macOS: `brew install postgresql@{needed}`), or point --pg-bin at their bin folder"
    )]
    PgToolsMissing { needed: u32, found: String },

    #[error(
        "this needs a PostgreSQL {needed} server on this workstation ({found}), since {why}. Install one: \
         `lifeboat pg-binaries install {needed}`, or its package (Debian/Ubuntu: `apt install postgresql-{needed}` from \
         apt.postgresql.org; RHEL: `postgresql{needed}-server`; macOS: `brew install postgresql@{needed}`), or point \
         --pg-bin at the bin folder holding its postgres and pg_ctl"
    )]
    PgServerMissing { needed: u32, found: String, why: String },

    #[error("{action} {target}: {detail}")]
    Postgres {
        action: &'static str,
        target: String,
        detail: String,
    },

    #[error("the backup of {target} failed, so no snapshot was made and nothing earlier changed: {detail}")]
    DumpFailed { target: String, detail: String },

    #[error("restore refused, nothing was changed: {0}")]
    RestoreRefused(String),

    #[error("the restore failed and the target database was left as it was: {0}")]
    RestoreFailed(String),

    #[error(
        "the input stream was empty (0 bytes): nothing was stored and latest:{tag} did not move. If the program \
         feeding Lifeboat failed (`pg_dump ... | lifeboat put` without `set -o pipefail`), fix that and run it again; \
         pass --allow-empty to store an empty snapshot on purpose"
    )]
    EmptyStream { tag: String },

    #[error("{file} of `{name}` is not in the repository's WAL archive")]
    WalNotFound { name: String, file: String },

    #[error(
        "{file} of `{name}` is archived already with other content (stored {size} bytes, SHA-256 {sha256}): nothing \
         was overwritten. Two servers may be archiving under one name: give each its own --name"
    )]
    WalConflict {
        name: String,
        file: String,
        size: u64,
        sha256: String,
    },

    #[error("cancelled")]
    Cancelled,
}

/// The actions of [`Error::io`] that change the repository.
const WRITING_ACTIONS: [&str; 4] = ["writing", "creating folder", "renaming into place", "removing"];

impl Error {
    /// This error, when it is invalid input, as the fault of `field`.
    pub fn in_field(self, field: &'static str) -> Self {
        match self {
            Error::InvalidInput(message) => Error::InvalidField { field, message },
            other => other,
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Corrupt {
            what: what.into(),
            detail: detail.into(),
        }
    }

    /// Maps an I/O error on `path` to the variant a user can act on.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        match source.raw_os_error() {
            Some(28) => Error::NoSpace { path },    // ENOSPC
            Some(30) => Error::ReadOnly { path },   // EROFS
            Some(20) => Error::NotAFolder { path }, // ENOTDIR
            _ if source.kind() == std::io::ErrorKind::StorageFull => Error::NoSpace { path },
            _ if source.kind() == std::io::ErrorKind::ReadOnlyFilesystem => Error::ReadOnly { path },
            _ if source.kind() == std::io::ErrorKind::PermissionDenied && WRITING_ACTIONS.contains(&action) => Error::ReadOnly { path },
            _ => Error::Io {
                action,
                path,
                cause: source,
            },
        }
    }
}
