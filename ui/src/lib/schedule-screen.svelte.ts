// What the Schedules and Drills screens share: each edits its part of a
// database's saved schedule, so each lists the connections and the schedules
// and fills its form again when another database is chosen.

import * as api from "./api";
import type { DatabaseCard, ScheduleForm, ScheduleView } from "./bindings";
import { Resource } from "./resource.svelte";

export abstract class ScheduleScreen {
  readonly cards = new Resource<DatabaseCard[]>();
  readonly schedules = new Resource<ScheduleView[]>();
  /** The saved connection whose schedule is edited. */
  database = $state("");
  /** What the last save returned, to say so. */
  saved: ScheduleView | null = $state(null);
  /** What the times shown ("next in 3 hours") count from: taken at each load and save, so they do not tick. */
  now = $state(Date.now());

  get names(): string[] {
    return this.cards.value?.map((card) => card.connection.name) ?? [];
  }

  /** The chosen database's saved schedule, if it has one. */
  get current(): ScheduleView | null {
    return this.schedules.value?.find((view) => view.form.connection === this.database) ?? null;
  }

  /** The connections or the schedules load: Refresh waits, the picker says so. */
  get loading(): boolean {
    return this.cards.loading || this.schedules.loading;
  }

  /**
   * Saving needs the saved schedules: the other screen's fields are kept
   * from them, and must not be lost to a failed load.
   */
  get ready(): boolean {
    return this.database !== "" && this.schedules.value !== null;
  }

  /** Lists the connections and schedules, and fills the form from the saved schedule again. */
  async load(): Promise<void> {
    this.now = Date.now();
    await Promise.all([this.cards.load(api.databases), this.schedules.load(api.schedules)]);
    this.select(this.names.includes(this.database) ? this.database : (this.names[0] ?? ""));
  }

  select(name: string): void {
    this.database = name;
    this.saved = null;
    this.fill(this.current?.form ?? null);
  }

  /** The form's submit handler: saves what was typed; the times shown then count from the answer. */
  async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    await this.save();
    this.now = Date.now();
  }

  /** Saves the screen's part of the chosen database's schedule. */
  abstract save(): Promise<void>;

  /** Fills the form from the chosen database's saved schedule; null: it has none. */
  protected abstract fill(form: ScheduleForm | null): void;
}
