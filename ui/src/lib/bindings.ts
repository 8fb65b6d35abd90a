// Generated from the Rust types by crates/lifeboat-api/src/bindings.rs: do not edit.
// Regenerate with LIFEBOAT_UPDATE_BINDINGS=1 cargo test -p lifeboat-api bindings

export type ApiError = { code: ErrorCode, message: string, 
/**
 * The request field the message is about (`invalid_input` only), as
 * the request names it: the form shows the message beside that field.
 */
field?: string, };

export type PitrArchive = { name: string, 
/**
 * The newest base backup's server version.
 */
server_version: string | null, base_backups: number, wal_files: number, newest_wal_archived: string | null, 
/**
 * Oldest first: from the end of each base backup as far as its WAL runs.
 */
windows: Array<PitrWindow>, 
/**
 * WAL missing between files that are there, each said in words.
 */
gaps: Array<string>, };

export type PitrWindow = { base_backup: string, from: string, to: string, };

export type PitrRestoreRequest = { name: string, 
/**
 * The moment to recover to; null: the end of the archived WAL.
 */
time: string | null, 
/**
 * The server; its `database` is only where Lifeboat connects.
 */
target: ConnectionFields, 
/**
 * Only these databases; empty: all of them.
 */
databases: Array<string>, };

export type RecoverOntoReport = { name: string, 
/**
 * Where recovery stopped, as said ("latest" when the time asked for is
 * after the newest archived WAL: see `next_steps`).
 */
target: string, base_backup: string, server_version: string, 
/**
 * Seconds the recovery on the scratch cluster took.
 */
recovery_seconds: number, 
/**
 * The server checkpoint holding the recovered databases (`NAME.pitr`).
 */
snapshot_id: string, restore: ServerRestoreReport, seconds: number, warnings: Array<string>, };

export type ChannelRequest = { name: string, 
/**
 * smtps://USER@HOST:465 or smtp://USER@HOST:587.
 */
smtp_url: string | null, 
/**
 * Comma-separated addresses.
 */
to: string | null, 
/**
 * Empty: the SMTP user when it is an address.
 */
from: string | null, 
/**
 * Kept in the keychain; empty when editing: the saved one stays.
 */
smtp_password: string | null, webhook_url: string | null, format: WebhookFormat | null, routes: Array<Route>, replace: boolean, };

export type ChannelSummary = { name: string, 
/**
 * `email` or `webhook`.
 */
kind: string, destination: string, format: WebhookFormat | null, routes: Array<Route>, 
/**
 * The newest `notification_sent` or `notification_failed` event.
 */
last_delivery: Event | null, };

export type CheckpointApiView = { 
/**
 * The loopback port it is set to serve on; null when off.
 */
port: number | null, 
/**
 * "http://127.0.0.1:PORT" while it serves.
 */
url: string | null, 
/**
 * Why it cannot serve (the port is taken...).
 */
error: string | null, tokens: Array<ApiToken>, };

export type ApiTokenRequest = { 
/**
 * Who holds it: a person or a pipeline.
 */
name: string, 
/**
 * Only checkpoints of this saved connection; any when null or empty.
 */
database: string | null, };

export type NewApiToken = { name: string, token: string, api: CheckpointApiView, };

export type ApiToken = { 
/**
 * Who or what holds it ("deploy-pipeline", "alice"); recorded with
 * every checkpoint it triggers.
 */
name: string, scope: TokenScope, 
/**
 * The one saved connection it may checkpoint; any when None.
 */
database: string | null, 
/**
 * The token's first characters, to tell tokens apart in a list.
 */
hint: string, created_at: string, last_used: string | null, };

export type TokenScope = "checkpoint";

export type Delivery = { attempts: number, 
/**
 * Why the last attempt failed; `None` once delivered.
 */
error: string | null, };

export type Event = { time: string, kind: EventKind, 
/**
 * The saved connection (or snapshot name) it is about.
 */
connection: string | null, snapshot: SnapshotFacts | null, 
/**
 * Whether it went well: false for failures and staleness.
 */
ok: boolean, 
/**
 * One line for people.
 */
message: string, 
/**
 * The job's report or error, as JSON.
 */
detail: unknown, };

export type EventKind = "backup_succeeded" | "backup_failed" | "checkpoint" | "verify_succeeded" | "verify_failed" | "drill_start" | "drill_result" | "drill_complete" | "restore_succeeded" | "restore_failed" | "auto_restore" | "retention_applied" | "stale" | "copy_succeeded" | "copy_failed" | "offsite_stale" | "heartbeat_failed" | "wal_alarm" | "notification_sent" | "notification_failed";

export type SnapshotFacts = { id: string, time: string, size: number, sha256: string, };

export type Route = "failure" | "restore" | "drill" | "stale" | "success";

export type WebhookFormat = "generic" | "slack" | "discord" | "teams" | "ntfy" | "gotify";

export type ErrorCode = "wrong_passphrase" | "wrong_recovery_kit" | "not_a_repository" | "already_exists" | "no_repository_open" | "locked" | "cancelled" | "invalid_input" | "restore_refused" | "other";

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

export type AccessKey = { access_key_id: string, secret_access_key: string, };

export type TestLocationRequest = { location: string, 
/**
 * For an S3 location: the access key typed (not saved by a test).
 */
access_key: AccessKey | null, };

export type LocationTest = { 
/**
 * The location's canonical text.
 */
location: string, 
/**
 * A repository is there already (open it; do not create one).
 */
holds_repository: boolean, 
/**
 * A file is replaced whole, never torn.
 */
atomic_replace: boolean, 
/**
 * Two workstations creating a repository here at once cannot both win.
 */
conditional_create: boolean, };

export type CreateRequest = { location: string, passphrase: string, 
/**
 * Names the first key slot: who or which device holds this passphrase.
 */
key_label: string, repository_label: string, 
/**
 * For an S3 location: the access key to use, saved in the keychain
 * once it works. None: the environment's, or one saved before.
 */
access_key: AccessKey | null, };

export type OpenRequest = { location: string, passphrase: string | null, 
/**
 * The recovery kit's text, pasted.
 */
recovery_kit: string | null, 
/**
 * As in [`CreateRequest::access_key`].
 */
access_key: AccessKey | null, };

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
time: string, end: string, size: number, sha256: string, host: string, user: string, 
/**
 * Orders snapshots of one name (see [`Manifest::generation`]).
 */
generation: number, };

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

export type CheckResult = { healthy: boolean, read_data: boolean, errors: Array<string>, warnings: Array<string>, 
/**
 * What to do about the errors, in order.
 */
next_steps: Array<string>, snapshots: number, packs: number, blobs: number, bytes_verified: number, duration_ms: number, };

export type PruneResult = { packs_before: number, packs_removed: number, packs_repacked: number, leftover_packs_removed: number, bytes_before: number, bytes_freed: number, };

export type JobProgress = { phase: string, done_bytes: number, 
/**
 * Null while the phase's total is unknown.
 */
total_bytes: number | null, 
/**
 * The item (table) the phase is on, and how many it has reached.
 */
item: string | null, items_done: number, };

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

export type ReportRequest = { since_days: number, 
/**
 * A `.pdf` or `.html` file.
 */
path: string, 
/**
 * Replace the file if it exists.
 */
replace: boolean, };

export type ReportSaved = { path: string, 
/**
 * Drills and restores in the period.
 */
entries: number, passed: number, };

export type RunKind = "create" | "open" | "check" | "prune" | "key_add" | "key_remove" | "recovery_kit" | "backup" | "verify" | "restore" | "drill" | "copy";

export type RunStatus = "running" | "succeeded" | "failed" | "cancelled" | "interrupted";

export type ConnectionFields = { host: string, port: number, database: string, user: string, tls: TlsMode, 
/**
 * Empty: the keychain's (see `saved_password_of`) or libpq's `.pgpass`.
 */
password: string | null, 
/**
 * Use the password saved for this connection when none is typed.
 */
saved_password_of: string | null, 
/**
 * Client tools folder; empty: search.
 */
pg_bin: string | null, };

export type TlsMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";

export type SaveConnectionRequest = { name: string, fields: ConnectionFields, 
/**
 * Edit the connection of that name instead of refusing it.
 */
replace: boolean, 
/**
 * Set for a whole server: which of its databases are backed up.
 * `fields.database` is then only where Lifeboat connects to list them.
 */
server: ServerScope | null, };

export type DiscoverRequest = { fields: ConnectionFields, scope: ServerScope, };

export type ServerDatabases = { backed_up: Array<string>, 
/**
 * On the server but left out by the patterns (or empty, for `postgres`).
 */
left_out: Array<string>, };

export type Connection = { name: string, host: string, port: number, database: string, user: string, tls: TlsMode, 
/**
 * Client tools folder to use instead of searching.
 */
pg_bin: string | null, 
/**
 * Whether the OS keychain holds this connection's password.
 */
password_in_keychain: boolean, created_at: string, updated_at: string, 
/**
 * Set when the connection names a whole server: `database` is then
 * only where Lifeboat connects to list the others.
 */
server?: ServerScope, };

export type ServerScope = { include: Array<string>, exclude: Array<string>, };

export type ConnectionCheck = { url: string, server_version: string, server_major: number, database_size: number, 
/**
 * False when the database does not exist yet (a restore target may not).
 */
database_exists: boolean, database_empty: boolean, extensions: Array<string>, 
/**
 * "pg_dump 15.18 in /usr/lib/postgresql/15/bin", when a fitting one exists.
 */
pg_dump: string | null, 
/**
 * Otherwise what to install.
 */
pg_dump_problem: string | null, };

export type DatabaseCard = { connection: Connection, url: string, last_backup: SnapshotSummary | null, snapshot_count: number, 
/**
 * The card's colour: the last good backup's age against the schedule.
 */
freshness: Freshness, next_backup: string | null, 
/**
 * The newest drill of this connection, if any.
 */
last_drill: DrillHistoryEntry | null, 
/**
 * Its off-site copy, when its schedule has one.
 */
offsite: OffsiteStatus | null, 
/**
 * A server connection's databases with snapshots in the repository
 * (tagged `NAME/DATABASE`); empty for one database.
 */
databases: Array<string>, };

export type OffsiteStatus = { 
/**
 * The off-site repository, as the schedule names it.
 */
location: string, 
/**
 * The newest snapshot this workstation copied there; null: none yet.
 */
newest: OffsiteCopy | null, 
/**
 * The newest backup here is not there yet.
 */
behind: boolean, };

export type OffsiteCopy = { location: string, snapshot_id: string, 
/**
 * When the copied snapshot was taken.
 */
snapshot_time: string, copied_at: string, };

export type BackupRequest = { connection: string, 
/**
 * A label makes the backup a checkpoint ("before 16 -> 17 upgrade").
 */
checkpoint_label: string | null, };

export type BackupReport = { snapshot_id: string, name: string, database: string, server_version: string, pg_dump_version: string, size: number, sha256: string, 
/**
 * Bytes of new packs this backup added to the repository.
 */
added_bytes: number, tables: number, rows: number, seconds: number, 
/**
 * Things worth telling that did not stop the backup.
 */
warnings: Array<string>, };

export type SavedBackup = { "scope": "database", "report": BackupReport } | { "scope": "server", "report": ServerBackupReport };

export type ServerBackupReport = { name: string, 
/**
 * The globals snapshot that groups the run.
 */
snapshot_id: string, server_version: string, databases: Array<BackupReport>, failed: Array<DatabaseFailure>, 
/**
 * Databases on the server that the patterns leave out.
 */
skipped: Array<string>, removed: Array<string>, seconds: number, warnings: Array<string>, };

export type DatabaseFailure = { database: string, error: string, };

export type TimelineEntry = { summary: SnapshotSummary, duration_ms: number, 
/**
 * A verify or a restore read it end to end without fault.
 */
verified: boolean, 
/**
 * A drill restored it and every smoke check passed.
 */
drilled: boolean, 
/**
 * Rows in all tables at the time of the dump.
 */
rows: number | null, 
/**
 * The API token that asked for this checkpoint (a deploy pipeline).
 */
requested_by: string | null, };

export type SnapshotDetail = { summary: SnapshotSummary, verified: boolean, 
/**
 * Marked keep-forever: no retention policy removes it.
 */
kept_forever: boolean, chunks: number, 
/**
 * What a PostgreSQL backup recorded: versions, options, extensions, row
 * counts (without what is only for restores). Null for other streams.
 */
postgres: PgFacts | null, 
/**
 * For a server backup's group snapshot: the databases it holds.
 */
server_databases: Array<string>, };

export type PgFacts = { 
/**
 * Always "postgresql".
 */
source: string, 
/**
 * 0 in manifests written before the facts were versioned.
 */
facts_version: number, database: string, 
/**
 * "host:port" of the server dumped.
 */
server: string, user: string, 
/**
 * The saved connection it was taken through, if any.
 */
connection: string | null, 
/**
 * As the server reports it: "16.4 (Debian 16.4-1)".
 */
server_version: string, 
/**
 * `server_version_num`: 160004.
 */
server_version_num: number, pg_dump_version: string, dump_options: Array<string>, extensions: Array<Extension>, 
/**
 * Roles that own objects in the database or hold grants on it.
 */
roles: Array<string>, schemas: Array<string>, database_size: number, 
/**
 * Rows per table (`schema.table`) in the dump.
 */
row_counts: { [key in string]: number }, 
/**
 * The API token whose holder asked for this backup (a pipeline's
 * checkpoint); None when someone here or a schedule started it.
 */
requested_by?: string, };

export type Extension = { name: string, version: string, schema: string, };

export type VerifyReport = { snapshot_id: string, size: number, sha256: string, 
/**
 * Entries `pg_restore --list` read from the archive.
 */
archive_entries: number, seconds: number, };

export type ExportRequest = { snapshot_id: string, path: string, 
/**
 * Replace the file if it exists.
 */
replace: boolean, };

export type CatReport = { snapshot_id: string, size: number, sha256: string, seconds: number, };

export type RestoreRequest = { snapshot_id: string, target: ConnectionFields, 
/**
 * The target database's name typed out: allows replacing a non-empty
 * database (kept, renamed) or restoring onto an older server.
 */
confirm_database: string | null, 
/**
 * A role to own everything restored; empty: the backup's owners.
 */
owner: string | null, 
/**
 * Leave out the backup's owners, grants and roles (a staging copy).
 */
no_owner: boolean, 
/**
 * Only these tables (`schema.table`, as the snapshot's row counts
 * name them); empty: the whole database. Into a database that holds
 * data they are restored beside the originals.
 */
tables: Array<string>, };

export type Preflight = { target_server_version: string, database_exists: boolean, database_empty: boolean, missing_roles: Array<string>, missing_extensions: Array<string>, 
/**
 * Why the restore would be refused (without `force`, where it helps).
 */
refusal: string | null, warnings: Array<string>, };

export type RestoreReport = { snapshot_id: string, target: string, database: string, bytes: number, seconds: number, 
/**
 * `pg_restore` jobs run (1: the dump streamed into one).
 */
jobs: number, 
/**
 * Where the database that was there before now is, when it was kept.
 */
previous_database_kept_as: string | null, roles_created: Array<string>, tables: Array<TableCount>, 
/**
 * Tables restored as new tables beside the originals (a partial
 * restore into a database that holds data); empty otherwise.
 */
placed_beside: Array<PlacedBeside>, warnings: Array<string>, };

export type ServerRestoreRequest = { 
/**
 * The group's snapshot: an id, a prefix or `latest:NAME`.
 */
snapshot_id: string, 
/**
 * The server; its `database` is only where Lifeboat connects.
 */
target: ConnectionFields, 
/**
 * Only these databases of the group; empty: all of them.
 */
databases: Array<string>, 
/**
 * A role to own everything restored; empty: the backup's owners.
 */
owner: string | null, 
/**
 * Leave out the backup's owners, grants and roles.
 */
no_owner: boolean, };

export type ServerRestoreReport = { 
/**
 * The group's globals snapshot.
 */
snapshot_id: string, target: string, roles_created: Array<string>, restored: Array<RestoreReport>, failed: Array<DatabaseFailure>, seconds: number, warnings: Array<string>, };

export type TableCount = { table: string, expected: number, restored: number, };

export type PlacedBeside = { 
/**
 * `schema.table` in the snapshot.
 */
table: string, 
/**
 * `schema.new_table` in the target.
 */
restored_as: string, rows: number, };

export type Freshness = "unscheduled" | "green" | "amber" | "red";

export type ScheduleForm = { connection: string, 
/**
 * A preset (hourly, daily, "daily 02:30", weekly, "weekly sun 03:00")
 * or five cron fields; null: no scheduled backups.
 */
backup: string | null, retention: RetentionPolicy, 
/**
 * Seconds without a successful backup before the alarm; null: twice the interval.
 */
stale_after_seconds: number | null, drill: string | null, 
/**
 * A saved connection's name or a postgres:// URL.
 */
drill_server: string | null, probes: Array<Probe>, 
/**
 * The dead-man's switch: a monitor's URL pinged URL/start, then URL or
 * URL/fail around each scheduled backup; null: none.
 */
heartbeat: string | null, 
/**
 * Base backups of the connection's server for point-in-time recovery,
 * as `backup`; null: none.
 */
base_backup: string | null, 
/**
 * Keep the server's WAL streaming into the repository over a
 * replication slot while the app or `lifeboat daemon` runs.
 */
wal_stream: boolean, };

export type RetentionPolicy = { keep_last: number, keep_daily: number, keep_weekly: number, keep_monthly: number, keep_yearly: number, 
/**
 * Every snapshot within this many hours of the name's newest.
 */
keep_within_hours: number, 
/**
 * Nothing younger than this many hours is removed.
 */
min_age_hours: number, 
/**
 * Checkpoints older than this many hours follow the rules like any
 * snapshot (0: checkpoints are kept until deleted by hand).
 */
checkpoint_expiry_hours: number, };

export type Probe = { name: string, sql: string, expect: string, };

export type JobStatus = { 
/**
 * The cron expression (presets expanded), null when not scheduled.
 */
cron: string | null, description: string | null, next_run: string | null, last_finished: string | null, last_succeeded: boolean | null, last_error: string | null, };

export type ScheduleView = { form: ScheduleForm, backup: JobStatus, drill: JobStatus, base_backup: JobStatus, 
/**
 * Set while the staleness alarm is raised.
 */
stale_since: string | null, };

export type RetentionPreviewEntry = { snapshot: SnapshotSummary, 
/**
 * Empty: the policy would remove it.
 */
keep: Array<KeepReason>, };

export type KeepReason = "last" | "daily" | "weekly" | "monthly" | "yearly" | "within" | "min-age" | "checkpoint" | "forever" | "group";

export type DrillRequest = { 
/**
 * A snapshot id (or latest:NAME).
 */
snapshot_id: string, 
/**
 * A saved connection's name, a postgres:// URL, or `local` (a scratch
 * cluster of this workstation).
 */
server: string, probes: Array<Probe>, 
/**
 * An upgrade rehearsal onto this newer major, on this workstation
 * (`server` is then not used).
 */
rehearse_major: number | null, };

export type DrillReport = { snapshot_id: string, 
/**
 * The snapshot's name (its connection).
 */
name: string, server: string, scratch_database: string, started_at: string, seconds: number, passed: boolean, 
/**
 * In the order they ran; a check that could not run is not listed.
 */
checks: Array<DrillCheck>, tables: Array<TableCount>, roles_created: Array<string>, warnings: Array<string>, 
/**
 * Scratch databases of earlier drills (a crash) dropped first.
 */
leftovers_dropped: Array<string>, scratch_dropped: boolean, 
/**
 * How long the restore itself took (0 when it did not run).
 */
restore_seconds: number, 
/**
 * Set for a drill on a scratch cluster of this workstation (and an
 * upgrade rehearsal).
 */
local?: LocalRun, };

export type DrillCheck = { name: string, passed: boolean, detail: string, 
/**
 * For a failed check of a drill on this workstation or a rehearsal:
 * what to do about it.
 */
advice?: string, };

export type LocalRun = { 
/**
 * The scratch cluster's major and version ("18.6").
 */
major: number, version: string, 
/**
 * The backup's server major.
 */
source_major: number, 
/**
 * The unprivileged user the cluster ran as (Lifeboat running as root).
 */
run_as: string | null, 
/**
 * An upgrade rehearsal: a newer major than the backup's.
 */
rehearsal: boolean, 
/**
 * The backup's extensions, and whether that major's install has them.
 */
extensions: Array<ExtensionOnTarget>, };

export type ExtensionOnTarget = { name: string, 
/**
 * Its version in the backup.
 */
backup_version: string, 
/**
 * The version that major's install would create; None: it lacks it.
 */
available: string | null, };

export type ServerInstall = { major: number, version: string, bin_dir: string, 
/**
 * Set for the ones Lifeboat installed (and can remove).
 */
source: BinariesSource | null, };

export type BinariesSource = { 
/**
 * The version installed, as its `postgres` reports it: "18.6".
 */
release: string, url: string, sha256: string, installed_at: string, };

export type DrillHistoryEntry = { run_id: number, started_at: string, status: RunStatus, summary: string, 
/**
 * The full report, when the drill got to run its checks.
 */
report: DrillReport | null, error: string | null, };

export type NotificationPrefs = { failures: boolean, restores: boolean, staleness: boolean, successes: boolean, };

export type DesktopSettings = { 
/**
 * Closing the window keeps the app (and its scheduler) in the tray.
 */
keep_running_in_tray: boolean, start_at_login: boolean, };

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;
