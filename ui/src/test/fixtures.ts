// Shared test data and helpers for component tests.
import type { Channel } from "@tauri-apps/api/core";
import { mockIPC } from "@tauri-apps/api/mocks";
import type {
  CheckResult,
  Connection,
  DatabaseCard,
  DrillHistoryEntry,
  DrillReport,
  JobProgress,
  JobStatus,
  OpenRepository,
  PgFacts,
  ScheduleForm,
  ScheduleView,
  SnapshotDetail,
  TimelineEntry,
} from "../lib/bindings";
import { KEEP_EVERYTHING } from "../lib/schedules";

export const REPO_ID = "3f2a9c1be0d44a7f9a1c2b3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5";

export const openRepository: OpenRepository = {
  id: REPO_ID,
  location: "/mnt/nas/lifeboat",
  label: "Team NAS",
  opened_with: "passphrase",
  keychain_warning: null,
};

export const healthyResult: CheckResult = {
  healthy: true,
  read_data: true,
  errors: [],
  warnings: [],
  next_steps: [],
  snapshots: 4,
  packs: 12,
  blobs: 3456,
  bytes_verified: 5 * 1024 * 1024,
  duration_ms: 2300,
};

export const salesConnection: Connection = {
  name: "sales",
  host: "db1.example",
  port: 5432,
  database: "sales",
  user: "app",
  tls: "prefer",
  pg_bin: null,
  password_in_keychain: true,
  created_at: "2025-03-01T10:00:00Z",
  updated_at: "2025-03-01T10:00:00Z",
};

/** Snapshots of "sales", oldest first as the backend sends them: a manual backup, then a verified checkpoint. */
export function salesTimeline(now = Date.now()): TimelineEntry[] {
  const at = (hoursAgo: number) => new Date(now - hoursAgo * 3600_000).toISOString();
  return [
    {
      summary: { id: "1111aaaa2222bbbb", short_id: "1111aaaa", tag: "sales", kind: "manual", label: null, time: at(48), end: at(47.9), size: 4 * 1024 * 1024, sha256: "aa", host: "ws1", user: "ana", generation: 1 },
      duration_ms: 6000,
      verified: false,
      drilled: false,
      rows: 900,
      requested_by: null,
    },
    {
      summary: { id: "3333cccc4444dddd", short_id: "3333cccc", tag: "sales", kind: "checkpoint", label: "before 16 → 17 upgrade", time: at(2), end: at(1.9), size: 5 * 1024 * 1024, sha256: "bb", host: "ws1", user: "ana", generation: 2 },
      duration_ms: 7000,
      verified: true,
      drilled: true,
      rows: 1000,
      requested_by: "deploy-pipeline",
    },
  ];
}

export function salesCard(now = Date.now()): DatabaseCard {
  const timeline = salesTimeline(now);
  return {
    connection: salesConnection,
    url: "postgres://app@db1.example:5432/sales",
    last_backup: timeline[1].summary,
    snapshot_count: 2,
    freshness: "unscheduled",
    next_backup: null,
    last_drill: null,
    offsite: null,
    databases: [],
  };
}

const idleStatus: JobStatus = { cron: null, description: null, next_run: null, last_finished: null, last_succeeded: null, last_error: null };

/** The schedule of "sales": backups daily at 02:30 keeping 7 daily, drills weekly on "scratch" with one probe. */
export function salesSchedule(now = Date.now()): ScheduleView {
  return {
    form: {
      connection: "sales",
      backup: "30 2 * * *",
      retention: { ...KEEP_EVERYTHING, keep_daily: 7 },
      stale_after_seconds: null,
      drill: "0 3 * * 0",
      drill_server: "scratch",
      probes: [{ name: "orders exist", sql: "select count(*) from orders", expect: ">= 1" }],
      heartbeat: null,
      base_backup: null,
      wal_stream: false,
    },
    backup: {
      cron: "30 2 * * *",
      description: "At 02:30",
      next_run: new Date(now + 5 * 3600_000).toISOString(),
      last_finished: new Date(now - 19 * 3600_000).toISOString(),
      last_succeeded: true,
      last_error: null,
    },
    drill: { ...idleStatus, cron: "0 3 * * 0", description: "At 03:00, only on Sunday", next_run: new Date(now + 72 * 3600_000).toISOString() },
    base_backup: idleStatus,
    stale_since: null,
  };
}

/** A drill of the latest "sales" snapshot; failed, the row counts of public.audit differ. */
export function drillReport(passed: boolean, started_at = new Date().toISOString()): DrillReport {
  return {
    snapshot_id: "3333cccc4444dddd",
    name: "sales",
    server: "scratch",
    scratch_database: "lifeboat_drill_sales_20250302",
    started_at,
    seconds: 12.5,
    passed,
    checks: [
      { name: "extensions", passed: true, detail: "pg_trgm present" },
      { name: "row counts", passed, detail: passed ? "2 tables as in the backup" : "public.audit: 10 in the backup, 9 restored" },
      { name: "orders exist", passed: true, detail: "got 990, expected >= 1" },
    ],
    tables: [],
    roles_created: [],
    warnings: passed ? [] : ["role reporting was created"],
    leftovers_dropped: [],
    scratch_dropped: true,
    restore_seconds: 0,
  };
}

/** An upgrade rehearsal of sales from 15 onto 18 whose probe failed on 18. */
export function rehearsalReport(): DrillReport {
  return {
    ...drillReport(true),
    server: "this workstation (a scratch PostgreSQL 18.6 cluster)",
    scratch_database: "/var/tmp/lifeboat-scratch/drills/20250302T101010000",
    passed: false,
    restore_seconds: 8.25,
    checks: [
      { name: "extensions available", passed: true, detail: "PostgreSQL 18.6 here has the backup's 1 extension(s)" },
      { name: "restore", passed: true, detail: "restored" },
      {
        name: "probe: checkpoints",
        passed: false,
        detail: "the query failed: column checkpoints_timed does not exist",
        advice: "read the release notes of 18",
      },
    ],
    local: {
      major: 18,
      version: "18.6",
      source_major: 15,
      run_as: null,
      rehearsal: true,
      extensions: [{ name: "pg_trgm", backup_version: "1.6", available: "1.6" }],
    },
  };
}

export function drillEntry(run_id: number, report: DrillReport | null, hoursAgo: number, now = Date.now()): DrillHistoryEntry {
  const started_at = new Date(now - hoursAgo * 3600_000).toISOString();
  return {
    run_id,
    started_at,
    status: report?.passed ? "succeeded" : "failed",
    summary: report
      ? `Drill of sales (3333cccc) ${report.passed ? "passed: 3 checks on scratch in 12.5s" : "failed the check row counts"}`
      : "Drill of sales (3333cccc) could not run: cannot connect to scratch",
    report: report && { ...report, started_at },
    error: report ? null : "cannot connect to scratch: connection refused",
  };
}

export function progress(phase: string, done_bytes = 0, total_bytes: number | null = null, item: string | null = null, items_done = 0): JobProgress {
  return { phase, done_bytes, total_bytes, item, items_done };
}

/** Mocks the backend with `handle`, and returns `sent`: the arguments of each call of a command. */
export function mockCommands(handle: (cmd: string, args: Record<string, unknown>) => unknown) {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  mockIPC((cmd, args) => {
    const a = args as Record<string, unknown>;
    calls.push({ cmd, args: a });
    return handle(cmd, a);
  });
  return (cmd: string) => calls.filter((c) => c.cmd === cmd).map((c) => c.args);
}

/**
 * The Drills screen's backend: "sales" with its schedule, and `other` with
 * none; `history` is the drills of "sales", newest first. A drill runs until
 * the test resolves `drill`, then is listed as the next run.
 */
export function mockDrillBackend(other: string, history: DrillHistoryEntry[], schedule: ScheduleView = salesSchedule()) {
  const drill = deferred<DrillReport>();
  let runs = history;
  let channel: Channel<JobProgress> | undefined;
  const sent = mockCommands((cmd, args) => {
    switch (cmd) {
      case "databases":
        return [salesCard(), { ...salesCard(), connection: { ...salesConnection, name: other } }];
      case "schedules":
        return [schedule];
      case "save_schedule":
        return { ...schedule, form: args.form as ScheduleForm };
      case "drill_history":
        return args.connection === "sales" ? runs : [];
      case "drill_snapshot":
        channel = args.onProgress as Channel<JobProgress>;
        return drill.promise.then((report) => {
          runs = [drillEntry((runs[0]?.run_id ?? 0) + 1, report, 0), ...runs];
          return report;
        });
      case "export_report": {
        const { request } = args as { request: { path: string } };
        return { path: request.path, entries: 2, passed: 1 };
      }
      case "cancel_job":
        return true;
    }
    throw new Error(`unexpected ${cmd}`);
  });
  return { sent, drill, channel: () => channel! };
}

/** A promise the test settles. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

type Internals = { runCallback(id: number, data: unknown): void };

/**
 * Sends a message through a Channel the way the Rust side does: the
 * channel's callback id, with an index that keeps the order.
 */
export function sendOnChannel<T>(channel: Channel<T>, index: number, message: T): void {
  const internals = (window as unknown as { __TAURI_INTERNALS__: Internals }).__TAURI_INTERNALS__;
  internals.runCallback(channel.id, { index, message });
}

/** Lets pending promises and Svelte's batched updates settle. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** What a PostgreSQL backup of "sales" recorded. */
export function salesFacts(overrides: Partial<PgFacts> = {}): PgFacts {
  return {
    source: "postgresql",
    facts_version: 1,
    database: "sales",
    server: "db1:5432",
    user: "app",
    connection: "sales",
    server_version: "16.4",
    server_version_num: 160004,
    pg_dump_version: "16.4",
    dump_options: ["--format=custom", "--compress=0"],
    extensions: [
      { name: "plpgsql", version: "1.0", schema: "pg_catalog" },
      { name: "pg_trgm", version: "1.6", schema: "public" },
    ],
    roles: ["app"],
    schemas: ["public"],
    database_size: 5 * 1024 * 1024,
    row_counts: { "public.orders": 1200, "public.audit": 0 },
    ...overrides,
  };
}

/** A snapshot's detail as the backend gives it, with the sales facts. */
export function salesDetail(entry: TimelineEntry): SnapshotDetail {
  return { summary: entry.summary, verified: entry.verified, kept_forever: false, chunks: 3, postgres: salesFacts(), server_databases: [] };
}
