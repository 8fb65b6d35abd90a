// The running check, kept outside the Repository screen so it keeps going
// (and its result stays) while the user looks at another screen.

import * as api from "./api";
import type { CheckResult } from "./bindings";
import { JobRunner } from "./job.svelte";

export class CheckJob extends JobRunner<CheckResult> {
  start(readData: boolean): Promise<void> {
    return this.run((job, onProgress) => api.checkRepository(readData, job, onProgress));
  }
}
