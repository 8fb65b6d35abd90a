// A cancellable job with a progress channel (check, checkpoint, verify,
// restore): one runner holds its state, so screens only render it.

import * as api from "./api";
import type { ApiError, JobProgress } from "./bindings";
import { idleJob, jobReducer, type JobEvent, type JobState } from "./progress";

/** Starts the command as `job`, streaming its progress to `onProgress`. */
export type JobWork<R> = (job: number, onProgress: (progress: JobProgress) => void) => Promise<R>;

export class JobRunner<R> {
  state: JobState<R> = $state(idleJob);
  /** cancel_job itself failed (the job goes on). */
  cancelError: ApiError | null = $state(null);
  private readonly onFinished: (() => void) | undefined;

  /** `onFinished` runs after every job, whatever its outcome. */
  constructor(onFinished?: () => void) {
    this.onFinished = onFinished;
  }

  get running(): boolean {
    return this.state.status === "running";
  }

  /** The result of the last job, if it succeeded. */
  get result(): R | null {
    return this.state.status === "done" ? this.state.result : null;
  }

  private dispatch(event: JobEvent<R>): void {
    this.state = jobReducer(this.state, event);
  }

  /** Runs `work` unless a job already runs; its outcome ends up in `state`. */
  async run(work: JobWork<R>): Promise<void> {
    if (this.running) return;
    const job = api.newJobId();
    this.cancelError = null;
    this.dispatch({ type: "start", job });
    try {
      const result = await work(job, (progress) => this.dispatch({ type: "progress", job, progress }));
      this.dispatch({ type: "finished", job, result });
    } catch (error) {
      this.dispatch({ type: "failed", job, error: api.toApiError(error) });
    } finally {
      this.onFinished?.();
    }
  }

  async cancel(): Promise<void> {
    if (this.state.status !== "running" || this.state.cancelling) return;
    const job = this.state.job;
    this.cancelError = null;
    this.dispatch({ type: "cancel-requested", job });
    try {
      // false: the job already ended; its result arrives through run().
      await api.cancelJob(job);
    } catch (error) {
      this.cancelError = api.toApiError(error);
      this.dispatch({ type: "cancel-failed", job });
    }
  }

  /** Forgets the last outcome (a wizard starting over); a running job is kept. */
  reset(): void {
    if (this.running) return;
    this.state = idleJob;
    this.cancelError = null;
  }
}
