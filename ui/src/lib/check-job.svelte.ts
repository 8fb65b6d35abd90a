// The running check, kept outside the Repository screen so it keeps going
// (and its result stays) while the user looks at another screen.

import * as api from "./api";
import type { ApiError } from "./bindings";
import { checkReducer, idleCheck, type CheckEvent, type CheckState } from "./progress";

export class CheckJob {
  state: CheckState = $state(idleCheck);
  /** cancel_job itself failed (the check goes on). */
  cancelError: ApiError | null = $state(null);
  private readonly onFinished: (() => void) | undefined;

  constructor(onFinished?: () => void) {
    this.onFinished = onFinished;
  }

  get running(): boolean {
    return this.state.status === "running";
  }

  private dispatch(event: CheckEvent): void {
    this.state = checkReducer(this.state, event);
  }

  async start(readData: boolean): Promise<void> {
    if (this.running) return;
    const job = api.newJobId();
    this.cancelError = null;
    this.dispatch({ type: "start", job, readData });
    try {
      const result = await api.checkRepository(readData, job, (progress) => this.dispatch({ type: "progress", job, progress }));
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
      // false: the job already ended; its result arrives through start().
      await api.cancelJob(job);
    } catch (error) {
      this.cancelError = api.toApiError(error);
      this.dispatch({ type: "cancel-failed", job });
    }
  }
}
