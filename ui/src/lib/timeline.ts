// A database's snapshots over time: labels, ordering and the chart's
// geometry. Pure functions, unit-tested; the component only draws.

import type { PgFacts, SnapshotKind, TimelineEntry } from "./bindings";
import { humanBytes, plural } from "./format";

export const SNAPSHOT_KIND_LABELS: Record<SnapshotKind, string> = {
  checkpoint: "Checkpoint",
  manual: "Manual",
  scheduled: "Scheduled",
};

/**
 * Newest first, whatever order they came in: by generation (what was
 * recorded last, whatever the writers' clocks said), then by time.
 */
export function newestFirst(entries: readonly TimelineEntry[]): TimelineEntry[] {
  return [...entries].sort(
    (a, b) => b.summary.generation - a.summary.generation || Date.parse(b.summary.time) - Date.parse(a.summary.time),
  );
}

/**
 * Maps [d0, d1] onto [r0, r1]. A domain of one value (one snapshot, or all
 * at the same time) maps to the middle of the range instead of dividing by zero.
 */
export function linearScale(d0: number, d1: number, r0: number, r1: number): (value: number) => number {
  if (!(d1 > d0)) return () => (r0 + r1) / 2;
  return (value) => r0 + ((value - d0) / (d1 - d0)) * (r1 - r0);
}

/** A bar's height from 0 up: `max` fills `full`; anything above zero stays visible. */
export function barHeight(value: number, max: number, full: number, minVisible = 2): number {
  if (!(max > 0) || !(value > 0)) return 0;
  return Math.max(minVisible, (Math.min(value, max) / max) * full);
}

export type ChartBox = { width: number; height: number; left: number; right: number; top: number; bottom: number };

/** Room for the size axis on the left, durations on the right, checkpoint flags above, dates below. */
export const CHART_BOX: ChartBox = { width: 720, height: 240, left: 64, right: 64, top: 44, bottom: 28 };

export type ChartBar = {
  entry: TimelineEntry;
  /** Centre of the bar. */
  x: number;
  /** Left edge and width of the size bar. */
  barX: number;
  barWidth: number;
  /** Top of the size bar; it reaches down to the baseline. */
  y: number;
  height: number;
  /** Where the duration series passes. */
  durationY: number;
};

/** A checkpoint's flag above its bar; neighbours alternate between two rows so labels overlap less. */
export type ChartFlag = { bar: ChartBar; label: string; row: 0 | 1; anchor: "start" | "end" };

export type TimelineLayout = {
  box: ChartBox;
  /** The baseline's y; the plot's top y. */
  baseline: number;
  plotTop: number;
  bars: ChartBar[];
  flags: ChartFlag[];
  /** SVG polyline points of the duration series, oldest to newest. */
  durationPoints: string;
  maxSize: number;
  maxDurationMs: number;
  /** Oldest and newest snapshot times (ms). */
  start: number;
  end: number;
};

const MAX_BAR_WIDTH = 24;
const MIN_BAR_WIDTH = 3;

export function layoutTimeline(entries: readonly TimelineEntry[], box: ChartBox = CHART_BOX): TimelineLayout {
  const oldestFirst = [...entries].sort((a, b) => Date.parse(a.summary.time) - Date.parse(b.summary.time));
  const times = oldestFirst.map((e) => Date.parse(e.summary.time));
  const start = times.length ? Math.min(...times) : 0;
  const end = times.length ? Math.max(...times) : 0;
  const maxSize = Math.max(0, ...oldestFirst.map((e) => e.summary.size));
  const maxDurationMs = Math.max(0, ...oldestFirst.map((e) => e.duration_ms));

  const plotLeft = box.left;
  const plotRight = box.width - box.right;
  const baseline = box.height - box.bottom;
  const plotHeight = baseline - box.top;
  const slot = (plotRight - plotLeft) / Math.max(1, oldestFirst.length);
  const barWidth = Math.min(MAX_BAR_WIDTH, Math.max(MIN_BAR_WIDTH, slot * 0.6));
  // Bars at either end stay inside the plot.
  const x = linearScale(start, end, plotLeft + barWidth, plotRight - barWidth);

  const bars = oldestFirst.map((entry, i) => {
    const height = barHeight(entry.summary.size, maxSize, plotHeight);
    const cx = x(times[i]);
    return {
      entry,
      x: cx,
      barX: cx - barWidth / 2,
      barWidth,
      y: baseline - height,
      height,
      durationY: baseline - barHeight(entry.duration_ms, maxDurationMs, plotHeight, 0),
    };
  });
  const flags = bars
    .filter((bar) => bar.entry.summary.kind === "checkpoint")
    .map((bar, i): ChartFlag => ({
      bar,
      label: bar.entry.summary.label ?? "",
      row: i % 2 === 0 ? 0 : 1,
      // Labels run away from the nearer edge.
      anchor: bar.x > box.width / 2 ? "end" : "start",
    }));
  const durationPoints = bars.map((b) => `${round(b.x)},${round(b.durationY)}`).join(" ");
  return { box, baseline, plotTop: box.top, bars, flags, durationPoints, maxSize, maxDurationMs, start, end };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** A checkpoint's label, short enough for its flag; the whole label goes in the tooltip. */
export function flagText(label: string, max = 24): string {
  const chars = Array.from(label);
  return chars.length <= max ? label : `${chars.slice(0, max - 1).join("")}…`;
}

export type Fact = { name: string; value: string };

/**
 * The facts a PostgreSQL backup recorded, for reading: versions, dump
 * options, extensions, size. Empty entries are left out; a stream stored
 * with `lifeboat put` (no facts) has none.
 */
export function snapshotFacts(facts: PgFacts | null): Fact[] {
  if (!facts) return [];
  const shown: Fact[] = [];
  const add = (name: string, value: string) => {
    if (value !== "") shown.push({ name, value });
  };
  add("Database", facts.database && facts.server ? `${facts.database} on ${facts.server}` : facts.database);
  add("Server version", facts.server_version);
  add("pg_dump version", facts.pg_dump_version);
  add("Dump options", facts.dump_options.join(" "));
  if (facts.database_size > 0) add("Database size", humanBytes(facts.database_size));
  const extensions = facts.extensions.map((e) => `${e.name}${e.version ? ` ${e.version}` : ""}${e.schema ? ` (${e.schema})` : ""}`);
  add("Extensions", extensions.length ? extensions.join(", ") : "none");
  add("Roles", facts.roles.join(", "));
  add("Schemas", facts.schemas.join(", "));
  return shown;
}

export type RowCount = { table: string; rows: number };

/** Rows per table at the time of the dump, by table name. */
export function rowCounts(facts: PgFacts | null): RowCount[] {
  if (!facts) return [];
  return Object.entries(facts.row_counts)
    .map(([table, rows]) => ({ table, rows }))
    .sort((a, b) => a.table.localeCompare(b.table));
}

/** "1,234 rows" or "—" when the backup did not count them. */
export function formatRows(rows: number | null): string {
  return rows === null ? "—" : plural(rows, "row");
}
