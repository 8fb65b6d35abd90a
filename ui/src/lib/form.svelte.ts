// The submit flow every form (and confirmed action) shares: a busy flag, the
// error to show, and which field it is about.

import * as api from "./api";
import type { ApiError } from "./bindings";
import type { FieldError } from "./validation";

/** Each field's element id: a table, or a function for fields that come and go (rows of a list). */
export type FieldIds<F extends string> = Readonly<Record<F, string>> | ((field: F) => string);

export class FormState<F extends string = never> {
  submitting = $state(false);
  error: ApiError | null = $state(null);
  invalidField: F | null = $state(null);
  /** Focused when validation finds a problem in its field. */
  private readonly fieldIds: FieldIds<F>;

  constructor(fieldIds: FieldIds<F> = {} as Record<F, string>) {
    this.fieldIds = fieldIds;
  }

  /**
   * Shows `problem` (client-side validation) and focuses its field, or runs
   * `action`. Ignored while a submission runs.
   */
  async submit(problem: FieldError<F> | null, action: () => Promise<void>, fieldOf?: (error: ApiError) => F | null): Promise<void> {
    if (this.submitting) return;
    if (problem) {
      this.invalid(problem);
      return;
    }
    await this.run(action, fieldOf);
  }

  /** Shows a validation problem and focuses its field. */
  invalid(problem: FieldError<F>): void {
    this.error = { code: "invalid_input", message: problem.message };
    this.invalidField = problem.field;
    const id = typeof this.fieldIds === "function" ? this.fieldIds(problem.field) : this.fieldIds[problem.field];
    document.getElementById(id)?.focus();
  }

  /** Forgets the error shown and the field it was about. */
  clear(): void {
    this.error = null;
    this.invalidField = null;
  }

  /**
   * Runs `action` with `submitting` set; what it throws becomes `error`, and
   * `fieldOf` (if given) names the field that error is about.
   */
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
