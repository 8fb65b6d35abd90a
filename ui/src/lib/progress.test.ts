import { describe, expect, it } from "vitest";
import type { CheckResult } from "./bindings";
import { idleJob, jobReducer, progressItem, progressPercent, type JobState } from "./progress";

describe("progressPercent", () => {
  it("is null while the total is unknown", () => {
    expect(progressPercent(123, null)).toBeNull();
    expect(progressPercent(123, undefined)).toBeNull();
  });

  it("rounds down and stays within 0–100", () => {
    expect(progressPercent(0, 100)).toBe(0);
    expect(progressPercent(1, 3)).toBe(33);
    expect(progressPercent(999, 1000)).toBe(99);
    expect(progressPercent(1000, 1000)).toBe(100);
    expect(progressPercent(1500, 1000)).toBe(100);
    expect(progressPercent(-5, 1000)).toBe(0);
  });

  it("calls an empty phase done", () => {
    expect(progressPercent(0, 0)).toBe(100);
  });
});

describe("progressItem", () => {
  const base = { phase: "dumping", done_bytes: 0, total_bytes: null };

  it("names the table and how many came before", () => {
    expect(progressItem({ ...base, item: "public.orders", items_done: 12 })).toBe("table 12: public.orders");
  });

  it("is null without an item, the bare name without a count", () => {
    expect(progressItem(null)).toBeNull();
    expect(progressItem({ ...base, item: null, items_done: 3 })).toBeNull();
    expect(progressItem({ ...base, item: "public.t", items_done: 0 })).toBe("public.t");
  });
});

const result: CheckResult = {
  healthy: true,
  read_data: false,
  errors: [],
  warnings: [],
  next_steps: [],
  snapshots: 1,
  packs: 1,
  blobs: 1,
  bytes_verified: 0,
  duration_ms: 5,
};

describe("jobReducer", () => {
  const running = jobReducer<CheckResult>(idleJob, { type: "start", job: 7 });

  it("starts a job without progress", () => {
    expect(running).toEqual({ status: "running", job: 7, progress: null, cancelling: false });
  });

  it("takes progress of its own job only", () => {
    const progress = { phase: "checking packs", done_bytes: 10, total_bytes: 100, item: null, items_done: 0 };
    const next = jobReducer(running, { type: "progress", job: 7, progress });
    expect(next).toMatchObject({ status: "running", progress });
    expect(jobReducer(next, { type: "progress", job: 8, progress: { ...progress, done_bytes: 99 } })).toBe(next);
  });

  it("does not start twice", () => {
    expect(jobReducer(running, { type: "start", job: 9 })).toBe(running);
  });

  it("ends with the result", () => {
    expect(jobReducer(running, { type: "finished", job: 7, result })).toEqual({ status: "done", result });
  });

  it("tells a cancelled job from a failed one", () => {
    const cancelling = jobReducer(running, { type: "cancel-requested", job: 7 });
    expect(cancelling).toMatchObject({ cancelling: true });
    expect(jobReducer(cancelling, { type: "failed", job: 7, error: { code: "cancelled", message: "cancelled" } })).toEqual({
      status: "cancelled",
    });
    const failed: JobState<CheckResult> = jobReducer(running, { type: "failed", job: 7, error: { code: "locked", message: "locked by x" } });
    expect(failed).toEqual({ status: "failed", error: { code: "locked", message: "locked by x" } });
  });

  it("ignores progress after the end", () => {
    const done = jobReducer(running, { type: "finished", job: 7, result });
    expect(jobReducer(done, { type: "progress", job: 7, progress: { phase: "x", done_bytes: 1, total_bytes: null, item: null, items_done: 0 } })).toBe(done);
  });
});
