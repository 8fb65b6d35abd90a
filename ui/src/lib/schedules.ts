// Schedules: the request a form saves, retention as typed, the retention
// preview's words, and what a scheduled job's status says. Pure functions,
// unit-tested.

import type { Tone } from "./activity";
import type { Freshness, JobStatus, KeepReason, OffsiteStatus, RetentionPolicy, RetentionPreviewEntry, ScheduleForm, ScheduleView } from "./bindings";
import { formatCount, formatDateTime, relativeAge } from "./format";
import type { FieldError } from "./validation";

/** Keeps every snapshot. */
export const KEEP_EVERYTHING: RetentionPolicy = {
  keep_last: 0,
  keep_daily: 0,
  keep_weekly: 0,
  keep_monthly: 0,
  keep_yearly: 0,
  keep_within_hours: 0,
  min_age_hours: 0,
  checkpoint_expiry_hours: 0,
};

/** A connection without a schedule: nothing runs by itself. */
export function emptySchedule(connection: string): ScheduleForm {
  return {
    connection,
    backup: null,
    retention: KEEP_EVERYTHING,
    stale_after_seconds: null,
    drill: null,
    drill_server: null,
    probes: [],
    heartbeat: null,
    base_backup: null,
    wal_stream: false,
  };
}

export type BackupFields = Pick<ScheduleForm, "backup" | "retention" | "stale_after_seconds" | "heartbeat" | "base_backup" | "wal_stream">;
export type DrillFields = Pick<ScheduleForm, "drill" | "drill_server" | "probes">;

/**
 * What to save: the connection's schedule (or an empty one) with one job's
 * fields changed. The other job's fields are kept as saved, since each
 * screen edits only its own job.
 */
export function scheduleWith(current: ScheduleForm | null, connection: string, changes: BackupFields | DrillFields): ScheduleForm {
  return { ...(current ?? emptySchedule(connection)), ...changes, connection };
}

export type RetentionKey = keyof RetentionPolicy;

/** Retention as typed: counts, and periods in days; an emptied input is null, and counts as 0 (rule unused). */
export type RetentionForm = Record<RetentionKey, number | null>;

type RetentionField = { key: RetentionKey; id: string; label: string };

/** The counted rules, in the form's order; each input's id is `id`. */
export const RETENTION_FIELDS: readonly RetentionField[] = [
  { key: "keep_last", id: "keep-last", label: "Newest" },
  { key: "keep_daily", id: "keep-daily", label: "Daily" },
  { key: "keep_weekly", id: "keep-weekly", label: "Weekly" },
  { key: "keep_monthly", id: "keep-monthly", label: "Monthly" },
  { key: "keep_yearly", id: "keep-yearly", label: "Yearly" },
];

/** The rules that are periods: typed in days, kept in hours. */
export const RETENTION_PERIODS: readonly RetentionField[] = [
  { key: "keep_within_hours", id: "keep-within-days", label: "Everything within (days)" },
  { key: "min_age_hours", id: "min-age-days", label: "Minimum age (days)" },
  { key: "checkpoint_expiry_hours", id: "checkpoint-expiry-days", label: "Checkpoints expire after (days)" },
];

const isPeriod = (key: RetentionKey) => RETENTION_PERIODS.some((f) => f.key === key);
const ALL_FIELDS = [...RETENTION_FIELDS, ...RETENTION_PERIODS];

export function retentionForm(policy: RetentionPolicy): RetentionForm {
  const form = { ...policy } as RetentionForm;
  // Six places: every whole number of hours comes back unchanged.
  for (const { key } of RETENTION_PERIODS) form[key] = Math.round((policy[key] / 24) * 1e6) / 1e6;
  return form;
}

export function retentionPolicy(form: RetentionForm): RetentionPolicy {
  const policy = { ...KEEP_EVERYTHING };
  for (const { key } of ALL_FIELDS) {
    const value = form[key] ?? 0;
    policy[key] = isPeriod(key) ? Math.round(value * 24) : value;
  }
  return policy;
}

/** The backend's limit: a u32. */
const MAX_RULE = 4294967295;
const isCount = (n: number | null) => n === null || (Number.isInteger(n) && n >= 0 && n <= MAX_RULE);
const isDays = (n: number | null) => n === null || (Number.isFinite(n) && n >= 0 && n * 24 <= MAX_RULE);

export function validateRetention(form: RetentionForm): FieldError<RetentionKey> | null {
  const count = RETENTION_FIELDS.find((f) => !isCount(form[f.key]));
  if (count) return { field: count.key, message: "Retention counts are whole numbers: 0 leaves a rule unused." };
  const period = RETENTION_PERIODS.find((f) => !isDays(form[f.key]));
  if (period) return { field: period.key, message: "Periods are a number of days (as in 30, or 0.5 for twelve hours): 0 leaves the rule unused." };
  // Kept in whole hours: a period under half an hour would quietly turn the rule off.
  const tooShort = RETENTION_PERIODS.find((f) => (form[f.key] ?? 0) > 0 && Math.round((form[f.key] ?? 0) * 24) === 0);
  if (tooShort) return { field: tooShort.key, message: "Periods are kept in whole hours: give at least an hour (0.05 days), or 0 to leave the rule unused." };
  return null;
}

/** Hours before the staleness alarm; null (empty) is twice the interval. */
export function validateStaleAfter(hours: number | null): FieldError<"stale"> | null {
  if (hours === null || (Number.isFinite(hours) && staleAfterSeconds(hours) >= 60)) return null;
  return { field: "stale", message: "Raise the alarm after a number of hours (at least a minute, as in 0.5 or 36), or leave it empty for twice the interval." };
}

/** Hours as typed, in the whole seconds the backend keeps. */
export function staleAfterSeconds(hours: number): number {
  return Math.round(hours * 3600);
}

/** The backend's seconds as the hours the form shows (1.5 for 90 minutes). */
export function staleAfterHours(seconds: number | null): number | null {
  // Six places: every whole number of seconds comes back unchanged.
  return seconds === null ? null : Math.round((seconds / 3600) * 1e6) / 1e6;
}

export const KEEP_REASON_LABELS: Record<KeepReason, string> = {
  last: "newest",
  group: "in a kept server backup",
  daily: "daily",
  weekly: "weekly",
  monthly: "monthly",
  yearly: "yearly",
  within: "within the period",
  "min-age": "younger than the minimum age",
  checkpoint: "checkpoint",
  forever: "kept forever",
};

/** "3 kept, 2 would be removed", in one line. */
export function retentionSummary(entries: readonly RetentionPreviewEntry[]): string {
  if (entries.length === 0) return "No snapshots yet: nothing to keep or remove.";
  const removed = entries.filter((e) => e.keep.length === 0).length;
  const kept = formatCount(entries.length - removed);
  return removed === 0 ? `All ${kept} kept, none would be removed` : `${kept} kept, ${formatCount(removed)} would be removed`;
}

/** The job's last outcome, as "Succeeded 2 hours ago"; null before its first run. */
export function lastRunText(status: JobStatus, now: number): string | null {
  if (status.last_finished === null) return null;
  const outcome = status.last_succeeded === false ? "Failed" : "Succeeded";
  return `${outcome} ${relativeAge(status.last_finished, now)}`;
}

/** "Mar 4, 2025, 02:30 (in 5 hours)". */
export function nextRunText(nextRun: string, now: number): string {
  return `${formatDateTime(nextRun)} (${relativeAge(nextRun, now)})`;
}

/** What a save says: the job's next run, or that it does not run by itself. */
export function savedText(status: JobStatus, job: ScheduledJob, now: number): string {
  if (status.cron === null) return `Saved. No scheduled ${job}s.`;
  return status.next_run === null ? "Saved." : `Saved. Next ${job}: ${nextRunText(status.next_run, now)}.`;
}

/** What saving the Schedules form says: the next dump, else the next base backup. */
export function savedBackupsText(view: ScheduleView, now: number): string {
  return view.backup.cron === null && view.base_backup.cron !== null
    ? savedText(view.base_backup, "base backup", now)
    : savedText(view.backup, "backup", now);
}

/** A scheduled job, in the words the screens use. */
export type ScheduledJob = "backup" | "drill" | "base backup";

/** A database card's badge: its last good backup's age against its schedule. */
export const FRESHNESS_BADGES: Record<Freshness, { label: string; tone: Tone | "neutral" }> = {
  unscheduled: { label: "No schedule", tone: "neutral" },
  green: { label: "On schedule", tone: "success" },
  amber: { label: "Backup overdue", tone: "warning" },
  red: { label: "No recent backup", tone: "danger" },
};

/** What a database card says of its off-site copy, and in which tone. */
export function offsiteText(status: OffsiteStatus, now: number): { text: string; tone: Tone } {
  if (!status.newest) return { text: `not copied to ${status.location} yet`, tone: "warning" };
  const age = relativeAge(status.newest.snapshot_time, now);
  return status.behind
    ? { text: `behind: the newest copy in ${status.location} is from ${age}`, tone: "warning" }
    : { text: `up to date in ${status.location} (${age})`, tone: "success" };
}
