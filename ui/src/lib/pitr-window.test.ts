import { describe, expect, it } from "vitest";
import type { PitrArchive } from "./bindings";
import { fractionOf, fromLocalInput, momentAt, momentProblem, recoverable, recoverableSpan, toLocalInput } from "./pitr-window";

function archive(windows: Array<[string, string]>): PitrArchive {
  return {
    name: "orders",
    server_version: "15.18",
    base_backups: windows.length,
    wal_files: 12,
    newest_wal_archived: windows.length ? windows[windows.length - 1][1] : null,
    windows: windows.map(([from, to], i) => ({ base_backup: `b${i}`, from, to })),
    gaps: [],
  };
}

describe("recoverable time", () => {
  const two = archive([
    ["2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z"],
    ["2026-12-01T12:00:00Z", "2026-12-01T13:30:00Z"],
  ]);

  it("spans from the oldest window's start to the newest's end", () => {
    const span = recoverableSpan(two)!;
    expect(span.from.toISOString()).toBe("2026-12-01T10:00:00.000Z");
    expect(span.to.toISOString()).toBe("2026-12-01T13:30:00.000Z");
    expect(recoverableSpan(archive([]))).toBeNull();
  });

  it("knows the moments between windows are not recoverable", () => {
    expect(recoverable(two, new Date("2026-12-01T10:30:00Z"))).toBe(true);
    expect(recoverable(two, new Date("2026-12-01T11:30:00Z"))).toBe(false);
    expect(momentProblem(two, new Date("2026-12-01T11:30:00Z"))).toMatch(/gap/);
    expect(momentProblem(two, new Date("2026-12-01T09:00:00Z"))).toMatch(/before the oldest base backup/);
    expect(momentProblem(two, new Date("2026-12-01T14:00:00Z"))).toMatch(/after the newest archived WAL/);
    expect(momentProblem(two, null)).toMatch(/Enter a date/);
    expect(momentProblem(two, new Date("2026-12-01T13:00:00Z"))).toBeNull();
    expect(momentProblem(archive([]), new Date())).toMatch(/no base backup/);
  });

  it("moves along the timeline to the second", () => {
    const span = recoverableSpan(two)!;
    expect(momentAt(span, 0).toISOString()).toBe("2026-12-01T10:00:00.000Z");
    expect(momentAt(span, 0.5).toISOString()).toBe("2026-12-01T11:45:00.000Z");
    expect(momentAt(span, 2).toISOString()).toBe("2026-12-01T13:30:00.000Z");
    expect(fractionOf(span, new Date("2026-12-01T11:45:00Z"))).toBeCloseTo(0.5);
    expect(fractionOf({ from: span.to, to: span.to }, span.to)).toBe(1);
  });
});

describe("datetime-local values", () => {
  it("round-trips a moment in this computer's zone", () => {
    const moment = new Date(2026, 11, 1, 9, 5, 7);
    expect(toLocalInput(moment)).toBe("2026-12-01T09:05:07");
    expect(fromLocalInput("2026-12-01T09:05:07")!.getTime()).toBe(moment.getTime());
    expect(fromLocalInput("2026-12-01T09:05")!.getTime()).toBe(new Date(2026, 11, 1, 9, 5, 0).getTime());
  });

  it("refuses what is not a moment", () => {
    expect(fromLocalInput("")).toBeNull();
    expect(fromLocalInput("yesterday")).toBeNull();
    expect(fromLocalInput("2026-02-31T10:00:00")).toBeNull();
  });
});
