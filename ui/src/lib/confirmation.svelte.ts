// Removing one item of a list behind a confirmation dialog: which item the
// dialog asks about, and (as a FormState) the busy flag and error of doing it.

import { FormState } from "./form.svelte";

export class Confirmation<T> extends FormState {
  /** The item the dialog asks about; null while it is closed. */
  subject: T | null = $state(null);

  /** Opens the dialog for `subject`; the error of an earlier attempt (maybe on another item) goes. */
  ask(subject: T): void {
    this.clear();
    this.subject = subject;
  }

  cancel(): void {
    this.subject = null;
  }

  /** Runs `action` on the subject, then closes the dialog: a failure shows beside the list, not in it. */
  async confirm(action: (subject: T) => Promise<void>): Promise<void> {
    const subject = this.subject;
    if (subject === null) return;
    await this.run(() => action(subject));
    this.subject = null;
  }
}
