// Generated from the Rust types by crates/lifeboat-api/src/bindings.rs: do not edit.
// Regenerate with LIFEBOAT_UPDATE_BINDINGS=1 cargo test -p lifeboat-api bindings

export type ApiError = { code: ErrorCode, message: string, };

export type ErrorCode = "wrong_passphrase" | "wrong_recovery_kit" | "not_a_repository" | "already_exists" | "no_repository_open" | "locked" | "cancelled" | "invalid_input" | "other";

export type AppStatus = { 
/**
 * The open repository, if any.
 */
repository: OpenRepository | null, 
/**
 * The repository opened last, when it could not be reopened on its own
 * (no keychain entry, keychain locked, folder gone): ask for its secret.
 */
needs_unlock: KnownRepository | null, 
/**
 * Why the last repository was not reopened, when that is worth saying.
 */
reopen_error: ApiError | null, data_dir: string, log_file: string, 
/**
 * The user's home folder, to suggest where files go.
 */
home_dir: string, };

export type OpenRepository = { id: string, location: string, label: string, opened_with: Unlock, 
/**
 * The key could not be cached in the OS keychain (the app will ask again next time).
 */
keychain_warning: string | null, };

export type KnownRepository = { id: string, location: string, label: string, last_opened_at: string, };

export type Unlock = "passphrase" | "recovery_kit" | "keychain";

export type CreateRequest = { location: string, passphrase: string, 
/**
 * Names the first key slot: who or which device holds this passphrase.
 */
key_label: string, repository_label: string, };

export type OpenRequest = { location: string, passphrase: string | null, 
/**
 * The recovery kit's text, pasted.
 */
recovery_kit: string | null, };

export type RepositoryOverview = { id: string, location: string, label: string, created: string, format_version: number, snapshots: number, damaged_snapshots: number, tags: Array<TagInfo>, logical_bytes: number, stored_bytes: number, packs: number, 
/**
 * Bytes protected per byte stored; null while nothing is stored.
 */
dedup_ratio: number | null, keychain: KeychainStatus, };

export type TagInfo = { tag: string, snapshots: number, latest: SnapshotSummary, };

export type SnapshotSummary = { id: string, short_id: string, tag: string, kind: SnapshotKind, label: string | null, 
/**
 * Start of the backup.
 */
time: string, end: string, size: number, sha256: string, host: string, user: string, };

export type SnapshotKind = "manual" | "scheduled" | "checkpoint";

export type KeychainStatus = { "state": "cached" } | { "state": "not_cached" } | { "state": "unavailable", reason: string, };

export type KeySlotInfo = { id: string, short_id: string, kind: KeyKind, label: string, host: string, user: string, created: string, 
/**
 * The slot this session opened the repository with.
 */
in_use: boolean, };

export type KeyKind = "passphrase" | "recovery_kit";

export type AddKeyRequest = { passphrase: string, label: string, };

export type RecoveryKitRequest = { 
/**
 * File to write the kit to; it must not exist yet.
 */
path: string, label: string, };

export type RecoveryKitSaved = { path: string, slot: KeySlotInfo, };

export type CheckResult = { healthy: boolean, read_data: boolean, errors: Array<string>, warnings: Array<string>, snapshots: number, packs: number, blobs: number, bytes_verified: number, duration_ms: number, };

export type PruneResult = { packs_before: number, packs_removed: number, packs_repacked: number, leftover_packs_removed: number, bytes_before: number, bytes_freed: number, };

export type JobProgress = { phase: string, done_bytes: number, 
/**
 * Null while the phase's total is unknown.
 */
total_bytes: number | null, };

export type ActivityFilter = { 
/**
 * Empty: every kind.
 */
kinds: Array<RunKind>, 
/**
 * Empty: every status.
 */
statuses: Array<RunStatus>, limit: number | null, };

export type ActivityEntry = { id: number, kind: RunKind, status: RunStatus, repository_id: string | null, started_at: string, finished_at: string | null, summary: string, 
/**
 * The job's report or error.
 */
detail: JsonValue, };

export type RunKind = "create" | "open" | "check" | "prune" | "key_add" | "key_remove" | "recovery_kit";

export type RunStatus = "running" | "succeeded" | "failed" | "cancelled" | "interrupted";

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;
