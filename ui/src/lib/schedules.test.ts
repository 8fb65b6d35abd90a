import { describe, expect, it } from "vitest";
import { salesSchedule, salesTimeline } from "../test/fixtures";
import type { JobStatus, KeepReason, RetentionPreviewEntry } from "./bindings";
import {
  emptySchedule,
  KEEP_EVERYTHING,
  lastRunText,
  retentionForm,
  retentionPolicy,
  retentionSummary,
  savedBackupsText,
  savedText,
  scheduleWith,
  validateRetention,
  staleAfterHours,
  staleAfterSeconds,
  validateStaleAfter,
} from "./schedules";

const NOW = Date.parse("2025-03-04T10:00:00Z");

describe("scheduleWith", () => {
  it("changes the backup, keeping the drill's fields as saved", () => {
    const saved = salesSchedule().form;
    const form = scheduleWith(saved, "sales", {
      backup: "hourly",
      retention: { ...KEEP_EVERYTHING, keep_last: 3 },
      stale_after_seconds: 18000,
      heartbeat: "https://hc.example/ping/abc",
      base_backup: "daily 03:00",
      wal_stream: true,
    });
    expect(form).toEqual({
      connection: "sales",
      backup: "hourly",
      retention: { ...KEEP_EVERYTHING, keep_last: 3, keep_daily: 0, keep_weekly: 0, keep_monthly: 0 },
      stale_after_seconds: 18000,
      drill: "0 3 * * 0",
      drill_server: "scratch",
      probes: saved.probes,
      heartbeat: "https://hc.example/ping/abc",
      base_backup: "daily 03:00",
      wal_stream: true,
    });
  });

  it("changes the drill, keeping the backup's fields as saved", () => {
    const saved = salesSchedule().form;
    const form = scheduleWith(saved, "sales", { drill: null, drill_server: "postgres://admin@db9/", probes: [] });
    expect(form).toEqual({ ...saved, drill: null, drill_server: "postgres://admin@db9/", probes: [] });
  });

  it("starts from no schedule: no backups, everything kept", () => {
    expect(scheduleWith(null, "orders", { drill: "weekly sun 03:00", drill_server: "scratch", probes: [] })).toEqual({
      connection: "orders",
      backup: null,
      retention: { ...KEEP_EVERYTHING, keep_last: 0, keep_daily: 0, keep_weekly: 0, keep_monthly: 0 },
      stale_after_seconds: null,
      drill: "weekly sun 03:00",
      drill_server: "scratch",
      probes: [],
      heartbeat: null,
      base_backup: null,
      wal_stream: false,
    });
    expect(emptySchedule("orders").retention).toEqual(KEEP_EVERYTHING);
  });
});

describe("retention as typed", () => {
  it("counts an emptied input as an unused rule", () => {
    const policy = { ...KEEP_EVERYTHING, keep_last: 3, keep_daily: 7, keep_weekly: 4, keep_monthly: 12 };
    const form = { ...retentionForm(policy), keep_weekly: null };
    expect(retentionPolicy(form)).toEqual({ ...policy, keep_weekly: 0 });
    expect(validateRetention(form)).toBeNull();
  });

  it("shows periods in days and keeps them in hours", () => {
    const policy = { ...KEEP_EVERYTHING, keep_yearly: 5, keep_within_hours: 720, min_age_hours: 12, checkpoint_expiry_hours: 2160 };
    const form = retentionForm(policy);
    expect([form.keep_within_hours, form.min_age_hours, form.checkpoint_expiry_hours]).toEqual([30, 0.5, 90]);
    expect(retentionPolicy(form)).toEqual(policy);
    expect(validateRetention({ ...form, min_age_hours: -1 })?.field).toBe("min_age_hours");
    expect(validateRetention({ ...form, keep_yearly: 1.5 })?.field).toBe("keep_yearly");
    expect(validateRetention({ ...form, keep_within_hours: 1e12 })?.message).toMatch(/number of days/);
    expect(validateRetention({ ...form, min_age_hours: 0.01 })?.message).toMatch(/whole hours/);
  });

  it("takes whole numbers from 0 only", () => {
    const form = retentionForm(KEEP_EVERYTHING);
    expect(validateRetention({ ...form, keep_daily: -1 })?.field).toBe("keep_daily");
    expect(validateRetention({ ...form, keep_monthly: 1.5 })?.field).toBe("keep_monthly");
    expect(validateRetention({ ...form, keep_last: 0 })).toBeNull();
  });

  it("raises the alarm after hours down to a minute, or twice the interval", () => {
    expect(validateStaleAfter(null)).toBeNull();
    expect(validateStaleAfter(36)).toBeNull();
    expect(validateStaleAfter(2.5)).toBeNull();
    expect(validateStaleAfter(1 / 60)).toBeNull();
    expect(validateStaleAfter(0)?.field).toBe("stale");
    expect(validateStaleAfter(0.01)?.message).toMatch(/at least a minute/);
    expect(validateStaleAfter(Number.NaN)?.field).toBe("stale");
  });

  it("converts the alarm delay between the form's hours and the backend's seconds", () => {
    expect(staleAfterSeconds(1.5)).toBe(5400);
    expect(staleAfterHours(5400)).toBe(1.5);
    expect(staleAfterHours(60)).toBe(0.016667);
    for (const seconds of [60, 61, 3599, 5400, 86399]) expect(staleAfterSeconds(staleAfterHours(seconds)!)).toBe(seconds);
    expect(staleAfterSeconds(staleAfterHours(172800)!)).toBe(172800);
    expect(staleAfterHours(null)).toBeNull();
  });
});

function previewOf(verdicts: KeepReason[][]): RetentionPreviewEntry[] {
  const snapshot = salesTimeline()[0].summary;
  return verdicts.map((keep, i) => ({ snapshot: { ...snapshot, id: `s${i}` }, keep }));
}

describe("retentionSummary", () => {
  it("counts what is kept and what would be removed", () => {
    expect(retentionSummary(previewOf([["last"], ["daily", "weekly"], ["checkpoint"], [], []]))).toBe("3 kept, 2 would be removed");
  });

  it("says when nothing would be removed, or there is nothing", () => {
    expect(retentionSummary(previewOf([["last"], ["forever"]]))).toBe("All 2 kept, none would be removed");
    expect(retentionSummary([])).toMatch(/^No snapshots yet/);
  });
});

const status = (changes: Partial<JobStatus>): JobStatus => ({
  cron: "30 2 * * *",
  description: "At 02:30",
  next_run: null,
  last_finished: null,
  last_succeeded: null,
  last_error: null,
  ...changes,
});

describe("job status", () => {
  it("says how the last run went, and when", () => {
    expect(lastRunText(status({}), NOW)).toBeNull();
    expect(lastRunText(status({ last_finished: "2025-03-04T08:00:00Z", last_succeeded: true }), NOW)).toBe("Succeeded 2 hours ago");
    expect(lastRunText(status({ last_finished: "2025-03-03T10:00:00Z", last_succeeded: false }), NOW)).toBe("Failed 1 day ago");
  });

  it("says what a save scheduled", () => {
    const saved = savedText(status({ next_run: "2025-03-04T15:00:00Z" }), "backup", NOW);
    expect(saved).toMatch(/^Saved\. Next backup: .+ \(in 5 hours\)\.$/);
    expect(savedText(status({ cron: null }), "drill", NOW)).toBe("Saved. No scheduled drills.");
  });

  it("says when the next base backup runs when only those are scheduled", () => {
    const view = { ...salesSchedule(NOW), backup: status({ cron: null }), base_backup: status({ next_run: "2025-03-04T15:00:00Z" }) };
    expect(savedBackupsText(view, NOW)).toMatch(/^Saved\. Next base backup: .+ \(in 5 hours\)\.$/);
    const both = { ...view, backup: status({ next_run: "2025-03-04T12:00:00Z" }) };
    expect(savedBackupsText(both, NOW)).toMatch(/^Saved\. Next backup: .+ \(in 2 hours\)\.$/);
    expect(savedBackupsText({ ...view, base_backup: status({ cron: null }) }, NOW)).toBe("Saved. No scheduled backups.");
  });
});
