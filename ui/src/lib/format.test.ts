import { describe, expect, it } from "vitest";
import { formatCount, formatDedup, formatDuration, humanBytes, plural, relativeAge } from "./format";

describe("humanBytes", () => {
  it("keeps small sizes in bytes", () => {
    expect(humanBytes(0)).toBe("0 B");
    expect(humanBytes(1)).toBe("1 B");
    expect(humanBytes(1023)).toBe("1023 B");
  });

  it("uses binary units with one decimal below 100", () => {
    expect(humanBytes(1024)).toBe("1.0 KiB");
    expect(humanBytes(1536)).toBe("1.5 KiB");
    expect(humanBytes(5 * 1024 * 1024)).toBe("5.0 MiB");
    expect(humanBytes(3.25 * 1024 ** 3)).toBe("3.3 GiB");
    expect(humanBytes(2 * 1024 ** 4)).toBe("2.0 TiB");
  });

  it("drops the decimal from 100 up", () => {
    expect(humanBytes(248.5 * 1024 * 1024)).toBe("249 MiB");
    expect(humanBytes(999 * 1024)).toBe("999 KiB");
  });

  it("carries into the next unit instead of printing 1024", () => {
    expect(humanBytes(1024 * 1024 - 1)).toBe("1.0 MiB");
  });

  it("says nothing useful for nonsense", () => {
    expect(humanBytes(-1)).toBe("—");
    expect(humanBytes(Number.NaN)).toBe("—");
  });
});

describe("relativeAge", () => {
  const now = Date.parse("2025-03-04T12:00:00Z");
  const ago = (seconds: number) => new Date(now - seconds * 1000).toISOString();

  it("reads just now under a minute", () => {
    expect(relativeAge(ago(0), now)).toBe("just now");
    expect(relativeAge(ago(59), now)).toBe("just now");
  });

  it("counts minutes, hours, days, months, years, rounding down", () => {
    expect(relativeAge(ago(60), now)).toBe("1 minute ago");
    expect(relativeAge(ago(5 * 60 + 30), now)).toBe("5 minutes ago");
    expect(relativeAge(ago(3600), now)).toBe("1 hour ago");
    expect(relativeAge(ago(3 * 3600 + 59 * 60), now)).toBe("3 hours ago");
    expect(relativeAge(ago(24 * 3600), now)).toBe("1 day ago");
    expect(relativeAge(ago(6 * 24 * 3600), now)).toBe("6 days ago");
    expect(relativeAge(ago(45 * 24 * 3600), now)).toBe("1 month ago");
    expect(relativeAge(ago(200 * 24 * 3600), now)).toBe("6 months ago");
    expect(relativeAge(ago(800 * 24 * 3600), now)).toBe("2 years ago");
  });

  it("accepts Date and epoch milliseconds", () => {
    expect(relativeAge(new Date(now - 7200_000), now)).toBe("2 hours ago");
    expect(relativeAge(now - 120_000, now)).toBe("2 minutes ago");
  });

  it("handles clock skew and the future", () => {
    expect(relativeAge(new Date(now + 20_000).toISOString(), now)).toBe("just now");
    expect(relativeAge(new Date(now + 2 * 3600_000).toISOString(), now)).toBe("in 2 hours");
  });

  it("survives an unparseable time", () => {
    expect(relativeAge("not a time", now)).toBe("unknown time");
  });
});

describe("formatDedup", () => {
  it("prints the ratio with one decimal and a times sign", () => {
    expect(formatDedup(3.24)).toBe("3.2×");
    expect(formatDedup(1)).toBe("1.0×");
    expect(formatDedup(12.345)).toBe("12.3×");
  });

  it("prints a dash when nothing is stored", () => {
    expect(formatDedup(null)).toBe("—");
    expect(formatDedup(undefined)).toBe("—");
    expect(formatDedup(Number.POSITIVE_INFINITY)).toBe("—");
  });
});

describe("formatDuration", () => {
  it("scales from ms to hours", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(3400)).toBe("3.4 s");
    expect(formatDuration(125_000)).toBe("2 min 5 s");
    expect(formatDuration(3_720_000)).toBe("1 h 2 min");
  });
});

describe("counts", () => {
  it("groups thousands and pluralises", () => {
    expect(formatCount(12345)).toBe("12,345");
    expect(plural(1, "pack")).toBe("1 pack");
    expect(plural(0, "pack")).toBe("0 packs");
    expect(plural(2, "snapshot is", "snapshots are")).toBe("2 snapshots are");
  });
});
