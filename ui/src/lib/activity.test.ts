import { describe, expect, it } from "vitest";
import { buildActivityFilter, entryDurationMs, formatDetail, RUN_KINDS, RUN_STATUSES, sortNewestFirst, statusTone } from "./activity";
import type { ActivityEntry } from "./bindings";

describe("buildActivityFilter", () => {
  it("leaves everything unfiltered for all", () => {
    expect(buildActivityFilter("all", "all")).toEqual({ kinds: [], statuses: [], limit: 200 });
    expect(buildActivityFilter(null, undefined)).toEqual({ kinds: [], statuses: [], limit: 200 });
  });

  it("filters by one kind and one status", () => {
    expect(buildActivityFilter("check", "all")).toEqual({ kinds: ["check"], statuses: [], limit: 200 });
    expect(buildActivityFilter("all", "failed")).toEqual({ kinds: [], statuses: ["failed"], limit: 200 });
    expect(buildActivityFilter("key_remove", "succeeded", null)).toEqual({ kinds: ["key_remove"], statuses: ["succeeded"], limit: null });
  });
});

describe("labels and tones", () => {
  it("lists every kind and status", () => {
    expect(RUN_KINDS).toEqual(["create", "open", "check", "prune", "key_add", "key_remove", "recovery_kit", "backup", "verify", "restore", "drill", "copy"]);
    expect(RUN_STATUSES).toEqual(["running", "succeeded", "failed", "cancelled", "interrupted"]);
  });

  it("colours statuses", () => {
    expect(statusTone("succeeded")).toBe("success");
    expect(statusTone("failed")).toBe("danger");
    expect(statusTone("cancelled")).toBe("warning");
    expect(statusTone("interrupted")).toBe("warning");
    expect(statusTone("running")).toBe("info");
  });
});

function entry(id: number, started_at: string, finished_at: string | null = null): ActivityEntry {
  return { id, kind: "check", status: "succeeded", repository_id: null, started_at, finished_at, summary: `run ${id}`, detail: null };
}

describe("entries", () => {
  it("sorts newest first, by id when times tie", () => {
    const sorted = sortNewestFirst([
      entry(1, "2025-03-01T10:00:00Z"),
      entry(3, "2025-03-02T10:00:00Z"),
      entry(2, "2025-03-01T10:00:00Z"),
    ]);
    expect(sorted.map((e) => e.id)).toEqual([3, 2, 1]);
  });

  it("formats details as indented JSON", () => {
    expect(formatDetail({ healthy: true, packs: 3 })).toBe('{\n  "healthy": true,\n  "packs": 3\n}');
    expect(formatDetail("wrong passphrase")).toBe("wrong passphrase");
    expect(formatDetail(null)).toBe("No details recorded.");
  });

  it("measures run time", () => {
    expect(entryDurationMs(entry(1, "2025-03-01T10:00:00Z", "2025-03-01T10:00:02.5Z"))).toBe(2500);
    expect(entryDurationMs(entry(1, "2025-03-01T10:00:00Z"))).toBeNull();
  });
});
