// Progress of a long job (the check) as a pure reducer, so the component only
// renders a state, and the state transitions are unit-tested.

import type { ApiError, CheckResult, JobProgress } from "./bindings";

/** Percentage done, 0–100 rounded down; null when the total is unknown (indeterminate). */
export function progressPercent(done: number, total: number | null | undefined): number | null {
  if (total == null || !Number.isFinite(total) || total < 0) return null;
  if (total === 0) return 100;
  const pct = Math.floor((Math.max(0, done) * 100) / total);
  return Math.min(100, pct);
}

export type CheckState =
  | { status: "idle" }
  | { status: "running"; job: number; readData: boolean; progress: JobProgress | null; cancelling: boolean }
  | { status: "done"; result: CheckResult }
  | { status: "cancelled" }
  | { status: "failed"; error: ApiError };

export type CheckEvent =
  | { type: "start"; job: number; readData: boolean }
  | { type: "progress"; job: number; progress: JobProgress }
  | { type: "cancel-requested"; job: number }
  | { type: "cancel-failed"; job: number }
  | { type: "finished"; job: number; result: CheckResult }
  | { type: "failed"; job: number; error: ApiError };

export const idleCheck: CheckState = { status: "idle" };

/** Events of another job than the running one (a stale channel) are ignored. */
export function checkReducer(state: CheckState, event: CheckEvent): CheckState {
  if (event.type === "start") {
    if (state.status === "running") return state;
    return { status: "running", job: event.job, readData: event.readData, progress: null, cancelling: false };
  }
  if (state.status !== "running" || state.job !== event.job) return state;
  switch (event.type) {
    case "progress":
      return { ...state, progress: event.progress };
    case "cancel-requested":
      return { ...state, cancelling: true };
    case "cancel-failed":
      return { ...state, cancelling: false };
    case "finished":
      return { status: "done", result: event.result };
    case "failed":
      return event.error.code === "cancelled" ? { status: "cancelled" } : { status: "failed", error: event.error };
  }
}
