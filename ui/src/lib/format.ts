// Formatting of figures for display. Pure functions, unit-tested.

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/** 1536 -> "1.5 KiB"; binary units, one decimal below 100, none above. */
export function humanBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  let digits = value < 100 ? 1 : 0;
  // 1023.97 KiB would print as "1024.0 KiB": carry into the next unit.
  if (Number(value.toFixed(digits)) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
    digits = 1;
  }
  return `${value.toFixed(digits)} ${BYTE_UNITS[unit]}`;
}

const countFormat = new Intl.NumberFormat("en-US");

/** 12345 -> "12,345". */
export function formatCount(n: number): string {
  return countFormat.format(n);
}

/** plural(1, "pack") -> "1 pack"; plural(3, "pack") -> "3 packs". */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return `${formatCount(n)} ${n === 1 ? singular : pluralForm}`;
}

/** Bytes protected per byte stored: 3.24 -> "3.2×"; null (nothing stored) -> "—". */
export function formatDedup(ratio: number | null | undefined): string {
  if (ratio == null || !Number.isFinite(ratio) || ratio <= 0) return "—";
  return `${ratio.toFixed(1)}×`;
}

function toMillis(time: string | Date | number): number {
  if (typeof time === "number") return time;
  if (time instanceof Date) return time.getTime();
  return Date.parse(time);
}

function unitAgo(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/**
 * How long ago `time` was, in words: "just now", "5 minutes ago",
 * "3 hours ago", "2 days ago". Units round down. Times slightly in the
 * future (clock skew between machines) read "just now".
 */
export function relativeAge(time: string | Date | number, now: number = Date.now()): string {
  const t = toMillis(time);
  if (Number.isNaN(t)) return "unknown time";
  const diffSeconds = Math.floor((now - t) / 1000);
  const future = diffSeconds < 0;
  const s = Math.abs(diffSeconds);
  if (s < 60) return "just now";
  let text: string;
  const minutes = Math.floor(s / 60);
  const hours = Math.floor(minutes / 60);
  const days = Math.floor(hours / 24);
  if (minutes < 60) text = unitAgo(minutes, "minute");
  else if (hours < 24) text = unitAgo(hours, "hour");
  else if (days < 30) text = unitAgo(days, "day");
  else if (days < 365) text = unitAgo(Math.floor(days / 30), "month");
  else text = unitAgo(Math.floor(days / 365), "year");
  return future ? `in ${text}` : `${text} ago`;
}

/** 850 -> "850 ms"; 3400 -> "3.4 s"; 125000 -> "2 min 5 s"; 3720000 -> "1 h 2 min". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const totalSeconds = Math.round(seconds);
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) return `${minutes} min ${totalSeconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

/** A timestamp in the user's locale, e.g. "Mar 4, 2025, 14:05". */
export function formatDateTime(time: string | Date | number): string {
  const t = toMillis(time);
  if (Number.isNaN(t)) return String(time);
  return new Date(t).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
