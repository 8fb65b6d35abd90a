// The activity list: labels, filters, ordering.

import type { ActivityEntry, ActivityFilter, RunKind, RunStatus, JsonValue } from "./bindings";

// Records keyed by the generated unions: a kind or status added on the Rust
// side fails the type check here until it has a label.
export const KIND_LABELS: Record<RunKind, string> = {
  create: "Create repository",
  open: "Open repository",
  check: "Check",
  prune: "Prune",
  key_add: "Add key",
  key_remove: "Remove key",
  recovery_kit: "Recovery kit",
  backup: "Backup",
  verify: "Verify",
  restore: "Restore",
  drill: "Drill",
  copy: "Copy",
};

export const STATUS_LABELS: Record<RunStatus, string> = {
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
  interrupted: "Interrupted",
};

export const RUN_KINDS = Object.keys(KIND_LABELS) as RunKind[];
export const RUN_STATUSES = Object.keys(STATUS_LABELS) as RunStatus[];

export type Tone = "success" | "danger" | "warning" | "info";

/** Badge colour: succeeded green, failed red, cancelled/interrupted amber, running blue. */
export function statusTone(status: RunStatus): Tone {
  switch (status) {
    case "succeeded":
      return "success";
    case "failed":
      return "danger";
    case "cancelled":
    case "interrupted":
      return "warning";
    case "running":
      return "info";
  }
}

export const DEFAULT_ACTIVITY_LIMIT = 200;

/** "all" (or nothing) leaves a dimension unfiltered: an empty list means every value. */
export function buildActivityFilter(
  kind: RunKind | "all" | null | undefined,
  status: RunStatus | "all" | null | undefined,
  limit: number | null = DEFAULT_ACTIVITY_LIMIT,
): ActivityFilter {
  return {
    kinds: kind && kind !== "all" ? [kind] : [],
    statuses: status && status !== "all" ? [status] : [],
    limit,
  };
}

/** Newest first (the backend already sorts so; this keeps the UI right regardless). */
export function sortNewestFirst(entries: ActivityEntry[]): ActivityEntry[] {
  return [...entries].sort((a, b) => {
    const byTime = Date.parse(b.started_at) - Date.parse(a.started_at);
    return byTime !== 0 && !Number.isNaN(byTime) ? byTime : b.id - a.id;
  });
}

/** The entry's detail for display: JSON, indented; strings as they are. */
export function formatDetail(detail: JsonValue | undefined): string {
  if (detail == null) return "No details recorded.";
  if (typeof detail === "string") return detail;
  return JSON.stringify(detail, null, 2);
}

/** Run time in ms, null while running. */
export function entryDurationMs(entry: ActivityEntry): number | null {
  if (!entry.finished_at) return null;
  const ms = Date.parse(entry.finished_at) - Date.parse(entry.started_at);
  return Number.isNaN(ms) ? null : Math.max(0, ms);
}
