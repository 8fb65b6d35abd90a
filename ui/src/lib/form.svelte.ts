// The submit flow every form (and confirmed action) shares: a busy flag, the
// error to show, and which field it is about.

import * as api from "./api";
import type { ApiError } from "./bindings";
import type { FieldError } from "./validation";

export class FormState<F extends string = never> {
  submitting = $state(false);
  error: ApiError | null = $state(null);
  invalidField: F | null = $state(null);
  /** Each field's element id, focused when validation finds a problem there. */
  private readonly fieldIds: Readonly<Record<F, string>>;

  constructor(fieldIds: Readonly<Record<F, string>> = {} as Record<F, string>) {
    this.fieldIds = fieldIds;
  }

  /**
   * Shows `problem` (client-side validation) and focuses its field, or runs
   * `action`. Ignored while a submission runs.
   */
  async submit(problem: FieldError<F> | null, action: () => Promise<void>, fieldOf?: (error: ApiError) => F | null): Promise<void> {
    if (this.submitting) return;
    if (problem) {
      this.error = { code: "invalid_input", message: problem.message };
      this.invalidField = problem.field;
      document.getElementById(this.fieldIds[problem.field])?.focus();
      return;
    }
    await this.run(action, fieldOf);
  }

  /**
   * Runs `action` with `submitting` set; what it throws becomes `error`, and
   * `fieldOf` (if given) names the field that error is about.
   */
  /** Forgets the error shown and the field it was about. */
  clear(): void {
    this.error = null;
    this.invalidField = null;
  }

  async run(action: () => Promise<void>, fieldOf?: (error: ApiError) => F | null): Promise<void> {
    if (this.submitting) return;
    this.clear();
    this.submitting = true;
    try {
      await action();
    } catch (e) {
      this.error = api.toApiError(e);
      this.invalidField = fieldOf?.(this.error) ?? null;
    } finally {
      this.submitting = false;
    }
  }
}
