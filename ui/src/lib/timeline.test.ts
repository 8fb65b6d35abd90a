import { describe, expect, it } from "vitest";
import type { TimelineEntry } from "./bindings";
import { salesFacts } from "../test/fixtures";
import { barHeight, CHART_BOX, flagText, formatRows, layoutTimeline, linearScale, newestFirst, rowCounts, snapshotFacts } from "./timeline";

function entry(id: string, time: string, size: number, duration_ms = 1000, label: string | null = null, generation = 0): TimelineEntry {
  const kind = label === null ? "manual" : "checkpoint";
  return {
    summary: { id, short_id: id.slice(0, 8), tag: "sales", kind, label, time, end: time, size, sha256: "00", host: "ws1", user: "ana", generation },
    duration_ms,
    verified: false,
    drilled: false,
    rows: null,
    requested_by: null,
  };
}

const baseline = CHART_BOX.height - CHART_BOX.bottom;
const plotHeight = baseline - CHART_BOX.top;

describe("linearScale", () => {
  it("maps the domain onto the range", () => {
    const scale = linearScale(0, 10, 100, 200);
    expect(scale(0)).toBe(100);
    expect(scale(5)).toBe(150);
    expect(scale(10)).toBe(200);
  });

  it("maps a one-value domain to the middle", () => {
    expect(linearScale(7, 7, 100, 200)(7)).toBe(150);
    expect(linearScale(NaN, NaN, 0, 10)(3)).toBe(5);
  });
});

describe("barHeight", () => {
  it("is proportional, keeping small values visible", () => {
    expect(barHeight(50, 100, 200)).toBe(100);
    expect(barHeight(100, 100, 200)).toBe(200);
    expect(barHeight(0.001, 100, 200)).toBe(2);
  });

  it("is zero for zero values and an all-zero series", () => {
    expect(barHeight(0, 100, 200)).toBe(0);
    expect(barHeight(0, 0, 200)).toBe(0);
  });
});

describe("layoutTimeline", () => {
  it("centres a single snapshot at full height", () => {
    const layout = layoutTimeline([entry("a", "2025-03-01T10:00:00Z", 500)]);
    expect(layout.bars).toHaveLength(1);
    const [bar] = layout.bars;
    expect(bar.x).toBe((CHART_BOX.left + CHART_BOX.width - CHART_BOX.right) / 2);
    expect(bar.height).toBe(plotHeight);
    expect(bar.y).toBe(CHART_BOX.top);
    expect(bar.durationY).toBe(CHART_BOX.top);
    expect(bar.barX + bar.barWidth / 2).toBe(bar.x);
  });

  it("puts snapshots in time order, from the left edge to the right", () => {
    const layout = layoutTimeline([
      entry("late", "2025-03-03T00:00:00Z", 100, 4000),
      entry("early", "2025-03-01T00:00:00Z", 200, 2000),
      entry("mid", "2025-03-02T00:00:00Z", 50, 1000),
    ]);
    expect(layout.bars.map((b) => b.entry.summary.id)).toEqual(["early", "mid", "late"]);
    const [early, mid, late] = layout.bars;
    expect(early.x).toBeLessThan(mid.x);
    expect(mid.x).toBeLessThan(late.x);
    expect(early.barX).toBeGreaterThanOrEqual(CHART_BOX.left);
    expect(late.barX + late.barWidth).toBeLessThanOrEqual(CHART_BOX.width - CHART_BOX.right);
    expect(mid.x).toBeCloseTo((early.x + late.x) / 2);
    expect(early.height).toBe(plotHeight);
    expect(late.height).toBe(plotHeight / 2);
    expect(late.durationY).toBe(CHART_BOX.top);
    expect(layout.maxSize).toBe(200);
    expect(layout.maxDurationMs).toBe(4000);
    expect(layout.durationPoints.split(" ")).toHaveLength(3);
  });

  it("stacks snapshots taken at the same time in the middle", () => {
    const layout = layoutTimeline([entry("a", "2025-03-01T10:00:00Z", 1), entry("b", "2025-03-01T10:00:00Z", 2)]);
    const middle = (CHART_BOX.left + CHART_BOX.width - CHART_BOX.right) / 2;
    expect(layout.bars.map((b) => b.x)).toEqual([middle, middle]);
    expect(layout.bars.every((b) => Number.isFinite(b.y) && Number.isFinite(b.durationY))).toBe(true);
  });

  it("draws zero sizes and durations on the baseline", () => {
    const layout = layoutTimeline([entry("a", "2025-03-01T10:00:00Z", 0, 0), entry("b", "2025-03-02T10:00:00Z", 0, 0)]);
    for (const bar of layout.bars) {
      expect(bar.height).toBe(0);
      expect(bar.y).toBe(baseline);
      expect(bar.durationY).toBe(baseline);
    }
    expect(layout.durationPoints).not.toContain("NaN");
  });

  it("is empty without snapshots", () => {
    const layout = layoutTimeline([]);
    expect(layout.bars).toEqual([]);
    expect(layout.durationPoints).toBe("");
    expect(layout.maxSize).toBe(0);
  });
});

describe("newestFirst", () => {
  it("sorts by time, newest first, leaving the input alone", () => {
    const input = [entry("a", "2025-03-01T00:00:00Z", 1), entry("c", "2025-03-03T00:00:00Z", 1), entry("b", "2025-03-02T00:00:00Z", 1)];
    expect(newestFirst(input).map((e) => e.summary.id)).toEqual(["c", "b", "a"]);
    expect(input[0].summary.id).toBe("a");
  });

  it("puts what was recorded last first, whatever the writer's clock said", () => {
    // "fast" came from a workstation whose clock ran three hours ahead.
    const input = [entry("fast", "2025-03-02T15:00:00Z", 1, 1000, null, 1), entry("later", "2025-03-02T13:00:00Z", 1, 1000, null, 2)];
    expect(newestFirst(input).map((e) => e.summary.id)).toEqual(["later", "fast"]);
  });
});

describe("flagText", () => {
  it("shortens long labels", () => {
    expect(flagText("before upgrade")).toBe("before upgrade");
    expect(flagText("before the 16 → 17 upgrade of the cluster", 10)).toBe("before th…");
  });
});

describe("checkpoint flags", () => {
  it("flag checkpoints only, alternating rows, labels running inwards", () => {
    const layout = layoutTimeline([
      entry("a", "2025-03-01T00:00:00Z", 1, 1, "first"),
      entry("b", "2025-03-02T00:00:00Z", 1),
      entry("c", "2025-03-03T00:00:00Z", 1, 1, "second"),
    ]);
    expect(layout.flags.map((f) => [f.label, f.row, f.anchor])).toEqual([
      ["first", 0, "start"],
      ["second", 1, "end"],
    ]);
  });
});

describe("snapshotFacts", () => {
  it("reads the backup's facts", () => {
    expect(snapshotFacts(salesFacts())).toEqual([
      { name: "Database", value: "sales on db1:5432" },
      { name: "Server version", value: "16.4" },
      { name: "pg_dump version", value: "16.4" },
      { name: "Dump options", value: "--format=custom --compress=0" },
      { name: "Database size", value: "5.0 MiB" },
      { name: "Extensions", value: "plpgsql 1.0 (pg_catalog), pg_trgm 1.6 (public)" },
      { name: "Roles", value: "app" },
      { name: "Schemas", value: "public" },
    ]);
  });

  it("leaves out what an older backup did not record, and a plain stream has none", () => {
    expect(snapshotFacts(null)).toEqual([]);
    const old = salesFacts({ facts_version: 0, server: "", pg_dump_version: "", dump_options: [], extensions: [], roles: [], schemas: [], database_size: 0 });
    expect(snapshotFacts(old)).toEqual([
      { name: "Database", value: "sales" },
      { name: "Server version", value: "16.4" },
      { name: "Extensions", value: "none" },
    ]);
  });
});

describe("rowCounts", () => {
  it("lists tables by name", () => {
    expect(rowCounts(salesFacts())).toEqual([
      { table: "public.audit", rows: 0 },
      { table: "public.orders", rows: 1200 },
    ]);
    expect(rowCounts(null)).toEqual([]);
  });

  it("formats totals", () => {
    expect(formatRows(null)).toBe("—");
    expect(formatRows(1)).toBe("1 row");
    expect(formatRows(12345)).toBe("12,345 rows");
  });
});
