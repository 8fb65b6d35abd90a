// Restore drills: the probes editor's rows, the request Run now sends, and
// what a drill's report and history say. Pure functions, unit-tested.

import { STATUS_LABELS, statusTone, type Tone } from "./activity";
import type { DrillCheck, DrillHistoryEntry, DrillReport, DrillRequest, Probe, ServerInstall } from "./bindings";
import { formatDuration, plural, relativeAge } from "./format";
import { shortId } from "./reports";
import type { FieldError } from "./validation";

/** A probe as edited; `key` keeps a row's inputs in place while others are removed. */
export type ProbeRow = Probe & { key: number };

/** A probe input's id, which is also the field a validation problem names. */
export type ProbeField = `probe-${number}-${"name" | "sql" | "expect"}`;

export const probeInputId = (index: number, part: "name" | "sql" | "expect"): ProbeField => `probe-${index}-${part}`;

let lastKey = 0;

export function probeRows(probes: readonly Probe[]): ProbeRow[] {
  return probes.map((p) => ({ key: ++lastKey, name: p.name, sql: p.sql, expect: p.expect }));
}

/** A new, blank row at the end; its expectation starts as the common "at least one row". */
export function addProbe(rows: readonly ProbeRow[]): ProbeRow[] {
  return [...rows, { key: ++lastKey, name: "", sql: "", expect: ">= 1" }];
}

export function removeProbe(rows: readonly ProbeRow[], key: number): ProbeRow[] {
  return rows.filter((row) => row.key !== key);
}

const isBlank = (row: ProbeRow) => row.name.trim() === "" && row.sql.trim() === "";

/** The probes to send: rows left blank are dropped, the rest trimmed. */
export function probesOf(rows: readonly ProbeRow[]): Probe[] {
  return rows.filter((row) => !isBlank(row)).map((row) => ({ name: row.name.trim(), sql: row.sql.trim(), expect: row.expect.trim() }));
}

/** Null when every probe can be judged; the backend checks the values again. */
export function validateProbes(rows: readonly ProbeRow[]): FieldError<ProbeField> | null {
  for (const [index, row] of rows.entries()) {
    if (isBlank(row)) continue;
    const which = `Probe ${index + 1}`;
    if (row.name.trim() === "") return { field: probeInputId(index, "name"), message: `${which} needs a name, shown in the drill's report.` };
    if (row.sql.trim() === "") return { field: probeInputId(index, "sql"), message: `${which} needs a query that returns one value.` };
    if (/^(>=|<=|!=|=|>|<)?\s*$/.test(row.expect.trim())) {
      return { field: probeInputId(index, "expect"), message: `${which} needs the value to expect, as in ">= 1", "= 42" or "!= 0".` };
    }
  }
  return null;
}

/** The drill server that means a scratch cluster of this workstation. */
export const LOCAL_DRILL_SERVER = "local";

export function validateDrillServer(server: string): FieldError<"server"> | null {
  return server.trim() === ""
    ? { field: "server", message: "Name the server to drill on: a saved connection, or a postgres:// URL (or drill on this workstation)." }
    : null;
}

/** Run now: the connection's latest snapshot. */
export function drillRequest(connection: string, server: string, rows: readonly ProbeRow[]): DrillRequest {
  return { snapshot_id: `latest:${connection}`, server: server.trim(), probes: probesOf(rows), rehearse_major: null };
}

/** An upgrade rehearsal of one snapshot onto `major`, with the database's saved probes. */
export function rehearsalRequest(snapshotId: string, major: number, probes: readonly Probe[]): DrillRequest {
  return { snapshot_id: snapshotId, server: LOCAL_DRILL_SERVER, probes: [...probes], rehearse_major: major };
}

/** The major a checkpoint's label names as the upgrade's target: "before 15 -> 18" is 18. */
export function upgradeTarget(label: string | null | undefined): number | null {
  const found = /(\d{1,2})(?:\.\d+)?\s*(?:->|→|=>|\bto\b)\s*(?:postgres(?:ql)?\s*)?(\d{1,2})\b/i.exec(label ?? "");
  if (found) return Number(found[2]);
  const named = /\bupgrade\b.*?\b(?:to\s+)?(?:postgres(?:ql)?\s*)?(\d{2})\b/i.exec(label ?? "");
  return named ? Number(named[1]) : null;
}

/** Whether a checkpoint's label says it is taken before an upgrade. */
export const isUpgradeLabel = (label: string | null | undefined): boolean =>
  upgradeTarget(label) !== null || /\bupgrad/i.test(label ?? "");

/** A major a rehearsal can go to, and the install that would run it. */
export type RehearsalMajor = { major: number; install: ServerInstall | null };

/** Newer majors than the backup's: each installed one, and the others up to the newest known. */
export function rehearsalMajors(sourceMajor: number, installs: readonly ServerInstall[], newestKnown = 18): RehearsalMajor[] {
  const newest = Math.max(newestKnown, ...installs.map((i) => i.major));
  const majors: RehearsalMajor[] = [];
  for (let major = sourceMajor + 1; major <= newest; major++) {
    majors.push({ major, install: installs.find((i) => i.major === major) ?? null });
  }
  return majors;
}

export function firstFailedCheck(report: DrillReport): DrillCheck | null {
  return report.checks.find((check) => !check.passed) ?? null;
}

/** "Drill", or "Rehearsal onto PostgreSQL 18". */
function drillName(report: DrillReport): string {
  return report.local?.rehearsal ? `Rehearsal onto PostgreSQL ${report.local.major}` : "Drill";
}

export function drillHeadline(report: DrillReport): string {
  const name = drillName(report);
  if (report.passed) return `${name} passed`;
  const failed = firstFailedCheck(report);
  return failed ? `${name} FAILED: ${failed.name}` : `${name} FAILED`;
}

export function drillSummary(report: DrillReport): string {
  const into = report.local ? "" : ` into ${report.scratch_database}`;
  const restore = report.restore_seconds > 0 ? ` (the restore ${formatDuration(report.restore_seconds * 1000)})` : "";
  return (
    `Snapshot ${shortId(report.snapshot_id)} of ${report.name} restored${into} on ${report.server} ` +
    `in ${formatDuration(report.seconds * 1000)}${restore}; ${checksPassed(report.checks)}.`
  );
}

/** "all 3 checks passed", "its one check passed", "2 of 3 checks passed". */
function checksPassed(checks: readonly DrillCheck[]): string {
  const total = checks.length;
  const passed = checks.filter((check) => check.passed).length;
  if (total === 0) return "no checks ran";
  if (passed < total) return `${passed} of ${plural(total, "check")} passed`;
  return total === 1 ? "its one check passed" : `all ${plural(total, "check")} passed`;
}

/** Only a drill that ran every check without fault passed; one that could not run did not. */
export function drillPassed(entry: DrillHistoryEntry): boolean {
  return entry.report?.passed === true;
}

/** A history row's badge: the checks' verdict when they ran, else the run's status. */
export function drillOutcome(entry: DrillHistoryEntry): { label: string; tone: Tone } {
  if (entry.report) return entry.report.passed ? { label: "Passed", tone: "success" } : { label: "FAILED", tone: "danger" };
  return { label: STATUS_LABELS[entry.status], tone: statusTone(entry.status) };
}

/** The Overview card's line: "Drill passed 2 hours ago", "Drill FAILED 1 day ago: row counts". */
export function lastDrillText(entry: DrillHistoryEntry, now: number): string {
  if (entry.status === "running") return "Drill running";
  const age = relativeAge(entry.started_at, now);
  if (entry.report?.passed) return `Drill passed ${age}`;
  if (entry.report) {
    const failed = firstFailedCheck(entry.report);
    return `Drill FAILED ${age}${failed ? `: ${failed.name}` : ""}`;
  }
  return `Drill ${STATUS_LABELS[entry.status].toLowerCase()} ${age}`;
}
