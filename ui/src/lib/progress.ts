// Progress of a long job (check, backup, verify, restore) as a pure reducer,
// so components only render a state, and the transitions are unit-tested.

import type { ApiError, JobProgress } from "./bindings";

/** Percentage done, 0–100 rounded down; null when the total is unknown (indeterminate). */
export function progressPercent(done: number, total: number | null | undefined): number | null {
  if (total == null || !Number.isFinite(total) || total < 0) return null;
  if (total === 0) return 100;
  const pct = Math.floor((Math.max(0, done) * 100) / total);
  return Math.min(100, pct);
}

/** The table a job is on, as "table 12: public.orders"; null when it names none. */
export function progressItem(progress: JobProgress | null): string | null {
  if (!progress?.item) return null;
  return progress.items_done > 0 ? `table ${progress.items_done}: ${progress.item}` : progress.item;
}

export type JobState<R> =
  | { status: "idle" }
  | { status: "running"; job: number; progress: JobProgress | null; cancelling: boolean }
  | { status: "done"; result: R }
  | { status: "cancelled" }
  | { status: "failed"; error: ApiError };

export type JobEvent<R> =
  | { type: "start"; job: number }
  | { type: "progress"; job: number; progress: JobProgress }
  | { type: "cancel-requested"; job: number }
  | { type: "cancel-failed"; job: number }
  | { type: "finished"; job: number; result: R }
  | { type: "failed"; job: number; error: ApiError };

export const idleJob: JobState<never> = { status: "idle" };

/** Events of another job than the running one (a stale channel) are ignored. */
export function jobReducer<R>(state: JobState<R>, event: JobEvent<R>): JobState<R> {
  if (event.type === "start") {
    if (state.status === "running") return state;
    return { status: "running", job: event.job, progress: null, cancelling: false };
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
