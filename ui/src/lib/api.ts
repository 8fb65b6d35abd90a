// The one typed door to the Rust side. Tauri 2 passes arguments by their
// camelCase names; every failure rejects with an ApiError {code, message}.

import { Channel, invoke, type InvokeArgs } from "@tauri-apps/api/core";
import type {
  ActivityEntry,
  ActivityFilter,
  AddKeyRequest,
  ApiError,
  ApiTokenRequest,
  AppStatus,
  BackupRequest,
  CatReport,
  ChannelRequest,
  ChannelSummary,
  CheckpointApiView,
  CheckResult,
  Connection,
  ConnectionCheck,
  ConnectionFields,
  CreateRequest,
  DatabaseCard,
  Delivery,
  DesktopSettings,
  DiscoverRequest,
  DrillHistoryEntry,
  DrillReport,
  DrillRequest,
  ErrorCode,
  ExportRequest,
  JobProgress,
  KeySlotInfo,
  KeychainStatus,
  LocationTest,
  NewApiToken,
  NotificationPrefs,
  OpenRepository,
  OpenRequest,
  PitrArchive,
  PitrRestoreRequest,
  Preflight,
  PruneResult,
  RecoveryKitRequest,
  RecoveryKitSaved,
  RecoverOntoReport,
  ReportRequest,
  ReportSaved,
  RepositoryOverview,
  RestoreReport,
  RestoreRequest,
  RetentionPolicy,
  RetentionPreviewEntry,
  SaveConnectionRequest,
  SavedBackup,
  ScheduleForm,
  ScheduleView,
  ServerDatabases,
  ServerRestoreReport,
  ServerInstall,
  ServerRestoreRequest,
  SnapshotDetail,
  SnapshotSummary,
  TestLocationRequest,
  TimelineEntry,
  VerifyReport,
} from "./bindings";

// Keyed by the generated union: a code added on the Rust side fails the type check here.
const CODES: Record<ErrorCode, true> = {
  wrong_passphrase: true,
  wrong_recovery_kit: true,
  not_a_repository: true,
  already_exists: true,
  no_repository_open: true,
  locked: true,
  cancelled: true,
  invalid_input: true,
  restore_refused: true,
  other: true,
};

/**
 * Whatever a command rejected with, as an ApiError. The backend's own errors
 * already are one; Tauri's (unknown command, bad arguments) are strings.
 */
export function toApiError(error: unknown): ApiError {
  if (error && typeof error === "object" && "message" in error && typeof error.message === "string") {
    const code = "code" in error && typeof error.code === "string" && Object.hasOwn(CODES, error.code) ? (error.code as ErrorCode) : "other";
    const field = "field" in error && typeof error.field === "string" ? error.field : undefined;
    return field === undefined ? { code, message: error.message } : { code, message: error.message, field };
  }
  if (typeof error === "string" && error !== "") return { code: "other", message: error };
  return { code: "other", message: "Something went wrong, and the app did not say what. See the log file." };
}

async function call<T>(command: string, args?: InvokeArgs): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toApiError(error);
  }
}

/** A random u32 naming a job, so it can be cancelled. */
export function newJobId(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

export const appStatus = () => call<AppStatus>("app_status");

export const createRepository = (request: CreateRequest) => call<OpenRepository>("create_repository", { request });

export const testLocation = (request: TestLocationRequest) => call<LocationTest>("test_location", { request });

export const openRepository = (request: OpenRequest) => call<OpenRepository>("open_repository", { request });

export const closeRepository = () => call<null>("close_repository");

export const repositoryOverview = () => call<RepositoryOverview>("repository_overview");

type OnProgress = (progress: JobProgress) => void;

// Jobs stream progress to `onProgress` until they end; cancel them with cancelJob(job).

export function checkRepository(readData: boolean, job: number, onProgress: OnProgress): Promise<CheckResult> {
  return call<CheckResult>("check_repository", { readData, job, onProgress: new Channel<JobProgress>(onProgress) });
}

export const cancelJob = (job: number) => call<boolean>("cancel_job", { job });

export const pruneRepository = () => call<PruneResult>("prune_repository");

export const keySlots = () => call<KeySlotInfo[]>("key_slots");

export const addKey = (request: AddKeyRequest) => call<KeySlotInfo>("add_key", { request });

export const removeKey = (id: string) => call<KeySlotInfo>("remove_key", { id });

export const saveRecoveryKit = (request: RecoveryKitRequest) => call<RecoveryKitSaved>("save_recovery_kit", { request });

export const forgetKeychain = () => call<KeychainStatus>("forget_keychain");

export const activity = (filter: ActivityFilter) => call<ActivityEntry[]>("activity", { filter });

/** Writes the restore-test report of the last `since_days` days to `path` (.pdf or .html). */
export const exportReport = (request: ReportRequest) => call<ReportSaved>("export_report", { request });

export const databases = () => call<DatabaseCard[]>("databases");

/** Connects with `fields`; nothing is saved. */
export const testConnection = (fields: ConnectionFields) => call<ConnectionCheck>("test_connection", { fields });

export const saveConnection = (request: SaveConnectionRequest) => call<Connection>("save_connection", { request });

export const removeConnection = (name: string) => call<Connection>("remove_connection", { name });

/** The databases a server connection with `request.scope` would back up now, and those it leaves out. */
export const discoverDatabases = (request: DiscoverRequest) => call<ServerDatabases>("discover_databases", { request });

/** A backup of a saved connection (a server: every database it covers); with a `checkpoint_label`, a checkpoint. */
export function backupNow(request: BackupRequest, job: number, onProgress: OnProgress): Promise<SavedBackup> {
  return call<SavedBackup>("backup_now", { request, job, onProgress: new Channel<JobProgress>(onProgress) });
}

/** A connection's snapshots, oldest first. */
export const timeline = (name: string) => call<TimelineEntry[]>("timeline", { name });

export const snapshotDetail = (id: string) => call<SnapshotDetail>("snapshot_detail", { id });

/** Marks a snapshot keep-forever (`keep`) or returns it to retention; answers its detail anew. */
export const setKeepForever = (id: string, keep: boolean) => call<SnapshotDetail>("set_keep_forever", { id, keep });
export const deleteSnapshot = (id: string) => call<SnapshotSummary>("delete_snapshot", { id });

/** Writes a snapshot to a file once it verified (a database backup: a pg_restore archive). */
export function exportSnapshot(request: ExportRequest, job: number, onProgress: OnProgress): Promise<CatReport> {
  return call<CatReport>("export_snapshot", { request, job, onProgress: new Channel<JobProgress>(onProgress) });
}

export function verifySnapshot(id: string, job: number, onProgress: OnProgress): Promise<VerifyReport> {
  return call<VerifyReport>("verify_snapshot", { id, job, onProgress: new Channel<JobProgress>(onProgress) });
}

/** What restoring would meet on the target; nothing changes there. */
export const restorePreflight = (request: RestoreRequest) => call<Preflight>("restore_preflight", { request });

export function restoreSnapshot(request: RestoreRequest, job: number, onProgress: OnProgress): Promise<RestoreReport> {
  return call<RestoreReport>("restore_snapshot", { request, job, onProgress: new Channel<JobProgress>(onProgress) });
}

/** Restores a whole server backup's databases (or some) onto a server, roles first. */
export function restoreServer(request: ServerRestoreRequest, job: number, onProgress: OnProgress): Promise<ServerRestoreReport> {
  return call<ServerRestoreReport>("restore_server", { request, job, onProgress: new Channel<JobProgress>(onProgress) });
}

/** Every point-in-time archive of the repository, with the moments it can recover. */
export const pitrArchives = () => call<PitrArchive[]>("pitr_archives");

/** Recovers an archive to a moment on a scratch cluster here and restores its databases onto a server. */
export function pitrRestore(request: PitrRestoreRequest, job: number, onProgress: OnProgress): Promise<RecoverOntoReport> {
  return call<RecoverOntoReport>("pitr_restore", { request, job, onProgress: new Channel<JobProgress>(onProgress) });
}

export const schedules = () => call<ScheduleView[]>("schedules");

/** Creates or replaces a connection's schedule; presets come back as cron expressions. */
export const saveSchedule = (form: ScheduleForm) => call<ScheduleView>("save_schedule", { form });

/** Stops a connection's scheduled backups and drills; its snapshots stay. */
export const removeSchedule = (connection: string) => call<null>("remove_schedule", { connection });

/** What `policy` would keep and remove of a connection's snapshots now, newest first; nothing is removed. */
export const retentionPreview = (connection: string, policy: RetentionPolicy) =>
  call<RetentionPreviewEntry[]>("retention_preview", { connection, policy });

/** Restores a snapshot (or "latest:NAME") into a scratch database on `request.server` and runs the smoke checks. */
export function drillSnapshot(request: DrillRequest, job: number, onProgress: OnProgress): Promise<DrillReport> {
  return call<DrillReport>("drill_snapshot", { request, job, onProgress: new Channel<JobProgress>(onProgress) });
}

/** A connection's drills, newest first. */
export const drillHistory = (connection: string) => call<DrillHistoryEntry[]>("drill_history", { connection });

/** The PostgreSQL servers local drills and rehearsals can run on. */
export const serverInstalls = () => call<ServerInstall[]>("server_installs");

/** Downloads a PostgreSQL server of `major`, checked by SHA-256. */
export const installServer = (major: number) => call<ServerInstall>("install_server", { major });

export const notificationPrefs = () => call<NotificationPrefs>("notification_prefs");

export const setNotificationPrefs = (prefs: NotificationPrefs) => call<NotificationPrefs>("set_notification_prefs", { prefs });

/** E-mail and chat channels, each with its last delivery. */
export const channels = () => call<ChannelSummary[]>("channels");

/** Saves a channel (its SMTP password into the keychain); the channels after. */
export const saveChannel = (request: ChannelRequest) => call<ChannelSummary[]>("save_channel", { request });

/** Sends the test message through a channel, with the usual tries. */
export const testChannel = (name: string) => call<Delivery>("test_channel", { name });

export const removeChannel = (name: string) => call<ChannelSummary[]>("remove_channel", { name });

/** The checkpoint trigger API: whether the app serves it, and its tokens. */
export const checkpointApi = () => call<CheckpointApiView>("checkpoint_api");

/** Serves the API on 127.0.0.1:port, or stops it (null). */
export const setCheckpointApi = (port: number | null) => call<CheckpointApiView>("set_checkpoint_api", { port });

/** Makes a checkpoint token: its secret is in the answer, and nowhere else ever. */
export const addApiToken = (request: ApiTokenRequest) => call<NewApiToken>("add_api_token", { request });

export const revokeApiToken = (name: string) => call<CheckpointApiView>("revoke_api_token", { name });

export const desktopSettings = () => call<DesktopSettings>("desktop_settings");

export const setDesktopSettings = (settings: DesktopSettings) => call<DesktopSettings>("set_desktop_settings", { settings });
