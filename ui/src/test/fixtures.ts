// Shared test data and helpers for component tests.
import type { Channel } from "@tauri-apps/api/core";
import type { CheckResult, Connection, DatabaseCard, JobProgress, OpenRepository, TimelineEntry } from "../lib/bindings";

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
      summary: { id: "1111aaaa2222bbbb", short_id: "1111aaaa", tag: "sales", kind: "manual", label: null, time: at(48), end: at(47.9), size: 4 * 1024 * 1024, sha256: "aa", host: "ws1", user: "ana" },
      duration_ms: 6000,
      verified: false,
      rows: 900,
    },
    {
      summary: { id: "3333cccc4444dddd", short_id: "3333cccc", tag: "sales", kind: "checkpoint", label: "before 16 → 17 upgrade", time: at(2), end: at(1.9), size: 5 * 1024 * 1024, sha256: "bb", host: "ws1", user: "ana" },
      duration_ms: 7000,
      verified: true,
      rows: 1000,
    },
  ];
}

export function salesCard(now = Date.now()): DatabaseCard {
  const timeline = salesTimeline(now);
  return { connection: salesConnection, url: "postgres://app@db1.example:5432/sales", last_backup: timeline[1].summary, snapshot_count: 2 };
}

export function progress(phase: string, done_bytes = 0, total_bytes: number | null = null, item: string | null = null, items_done = 0): JobProgress {
  return { phase, done_bytes, total_bytes, item, items_done };
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
