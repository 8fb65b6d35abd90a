// The recoverable time of a point-in-time archive, and the moments the
// admin picks in it: pure functions, so the screen only renders them.

import type { PitrArchive } from "./bindings";

export type Span = { from: Date; to: Date };

/** From the earliest moment any base backup recovers to, to the newest archived WAL. */
export function recoverableSpan(archive: PitrArchive): Span | null {
  if (archive.windows.length === 0) return null;
  const from = Math.min(...archive.windows.map((w) => Date.parse(w.from)));
  const to = Math.max(...archive.windows.map((w) => Date.parse(w.to)));
  return { from: new Date(from), to: new Date(to) };
}

/** Whether `time` is inside one of the archive's windows (a WAL gap can split them). */
export function recoverable(archive: PitrArchive, time: Date): boolean {
  const t = time.getTime();
  return archive.windows.some((w) => Date.parse(w.from) <= t && t <= Date.parse(w.to));
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** A moment as a `datetime-local` input shows it: this computer's time zone, to the second. */
export function toLocalInput(time: Date): string {
  return (
    `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())}` +
    `T${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}`
  );
}

/** What a `datetime-local` input holds, as a moment; null when it is not one. */
export function fromLocalInput(text: string): Date | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text.trim());
  if (!match) return null;
  const [year, month, day, hour, minute, second] = match.slice(1).map((part) => Number(part ?? 0));
  const time = new Date(year, month - 1, day, hour, minute, second);
  return Number.isNaN(time.getTime()) || time.getMonth() !== month - 1 ? null : time;
}

/** The moment at `fraction` (0 to 1) of the span, to the second. */
export function momentAt(span: Span, fraction: number): Date {
  const clamped = Math.min(1, Math.max(0, fraction));
  const ms = span.from.getTime() + clamped * (span.to.getTime() - span.from.getTime());
  return new Date(Math.floor(ms / 1000) * 1000);
}

/** Where `time` sits in the span, 0 to 1. */
export function fractionOf(span: Span, time: Date): number {
  const length = span.to.getTime() - span.from.getTime();
  if (length <= 0) return 1;
  return Math.min(1, Math.max(0, (time.getTime() - span.from.getTime()) / length));
}

/** Why the moment cannot be recovered, or null when it can. */
export function momentProblem(archive: PitrArchive, time: Date | null): string | null {
  if (archive.windows.length === 0) return `${archive.name} has no base backup yet: take one (lifeboat base-backup) before recovering.`;
  if (time === null) return "Enter a date and time (to the second).";
  if (!recoverable(archive, time)) {
    const span = recoverableSpan(archive)!;
    if (time < span.from) return "That is before the oldest base backup ended: pick a later moment.";
    if (time > span.to) return "That is after the newest archived WAL: pick an earlier moment, or recover everything archived.";
    return "That moment falls in a gap of the archived WAL: pick one inside a recoverable window.";
  }
  return null;
}
