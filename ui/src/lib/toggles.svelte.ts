// A group of on/off settings saved as soon as each is changed (notification
// preferences, the app's own settings).

import { FormState } from "./form.svelte";
import { Resource } from "./resource.svelte";

export type Toggles = { [key: string]: boolean };

/** One checkbox: the setting it changes, its element id, and what it says. */
export type Toggle<T extends Toggles> = { key: keyof T & string; id: string; label: string; hint: string };

export class ToggleSettings<T extends Toggles> {
  readonly values = new Resource<T>();
  readonly saving = new FormState();

  constructor(
    private readonly fetch: () => Promise<T>,
    private readonly save: (values: T) => Promise<T>,
  ) {}

  load(): Promise<boolean> {
    return this.values.load(this.fetch);
  }

  /** Shows the choice at once, and takes it back when it could not be saved. One save at a time. */
  set(key: keyof T, on: boolean): Promise<void> {
    const before = this.values.value;
    if (!before || this.saving.submitting) return Promise.resolve();
    const wanted = { ...before, [key]: on };
    this.values.value = wanted;
    return this.saving.run(async () => {
      try {
        this.values.value = await this.save(wanted);
      } catch (e) {
        this.values.value = before;
        throw e;
      }
    });
  }
}
