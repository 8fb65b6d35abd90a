// The Schedules screen's state: the database chosen, its backup schedule
// and retention as edited, and the preview of what that retention keeps.

import * as api from "./api";
import type { DatabaseCard, RetentionPreviewEntry, ScheduleView } from "./bindings";
import { cadenceForm, cadenceText, validateCadence, type CadenceField, type CadenceForm } from "./cadence";
import { FormState } from "./form.svelte";
import { Resource } from "./resource.svelte";
import {
  KEEP_EVERYTHING,
  retentionForm,
  retentionPolicy,
  scheduleWith,
  validateRetention,
  validateStaleAfter,
  type RetentionForm,
  type RetentionKey,
} from "./schedules";

export type ScheduleField = CadenceField | RetentionKey | "stale";

const FIELD_IDS: Record<ScheduleField, string> = {
  time: "schedule-time",
  cron: "schedule-cron",
  keep_last: "keep-last",
  keep_daily: "keep-daily",
  keep_weekly: "keep-weekly",
  keep_monthly: "keep-monthly",
  stale: "stale-after-hours",
};

/** How long typing pauses before the preview asks again. */
const PREVIEW_DELAY_MS = 300;

export class ScheduleEditor {
  readonly cards = new Resource<DatabaseCard[]>();
  readonly schedules = new Resource<ScheduleView[]>();
  readonly preview = new Resource<RetentionPreviewEntry[]>();
  /** The saved connection whose schedule is edited. */
  database = $state("");
  cadence: CadenceForm = $state(cadenceForm(null));
  retention: RetentionForm = $state(retentionForm(KEEP_EVERYTHING));
  /** Null: twice the interval. */
  staleAfterHours: number | null = $state(null);
  /** What the last save returned, to say so. */
  saved: ScheduleView | null = $state(null);
  readonly saving = new FormState<ScheduleField>(FIELD_IDS);
  readonly removal = new FormState();
  private readonly previewDelayMs: number;
  private previewTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(previewDelayMs = PREVIEW_DELAY_MS) {
    this.previewDelayMs = previewDelayMs;
  }

  get names(): string[] {
    return this.cards.value?.map((card) => card.connection.name) ?? [];
  }

  /** The chosen database's saved schedule, if it has one. */
  get current(): ScheduleView | null {
    return this.schedules.value?.find((view) => view.form.connection === this.database) ?? null;
  }

  /**
   * Saving needs the saved schedules: the drill's fields are kept from them,
   * and must not be lost to a failed load.
   */
  get ready(): boolean {
    return this.database !== "" && this.schedules.value !== null;
  }

  /** Why the preview does not ask: a count that is not one. */
  get retentionProblem(): string | null {
    return validateRetention(this.retention)?.message ?? null;
  }

  /** Lists the connections and schedules, and fills the form from the saved schedule again. */
  async load(): Promise<void> {
    await Promise.all([this.cards.load(api.databases), this.schedules.load(api.schedules)]);
    this.select(this.names.includes(this.database) ? this.database : (this.names[0] ?? ""));
  }

  select(name: string): void {
    this.database = name;
    const form = this.current?.form ?? null;
    this.cadence = cadenceForm(form?.backup ?? null);
    this.retention = retentionForm(form?.retention ?? KEEP_EVERYTHING);
    this.staleAfterHours = form?.stale_after_hours ?? null;
    this.saved = null;
    this.saving.clear();
    this.previewNow();
  }

  /** Asks what the retention as typed would keep, unless a count is not one. */
  previewNow(): Promise<boolean> {
    clearTimeout(this.previewTimer);
    const name = this.database;
    if (name === "") {
      this.preview.clear();
      return Promise.resolve(false);
    }
    if (validateRetention(this.retention)) return Promise.resolve(false);
    const policy = retentionPolicy(this.retention);
    return this.preview.load(() => api.retentionPreview(name, policy));
  }

  /** After an edit of the retention: previews once typing pauses. */
  previewSoon(): void {
    clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(() => this.previewNow(), this.previewDelayMs);
  }

  save(): Promise<void> {
    const problem = validateCadence(this.cadence) ?? validateRetention(this.retention) ?? validateStaleAfter(this.staleAfterHours);
    this.saved = null;
    return this.saving.submit(
      problem,
      async () => {
        const form = scheduleWith(this.current?.form ?? null, this.database, {
          backup: cadenceText(this.cadence),
          retention: retentionPolicy(this.retention),
          stale_after_hours: this.staleAfterHours,
        });
        const view = await api.saveSchedule(form);
        await this.schedules.load(api.schedules);
        this.saved = view;
        // As stored: custom fields that match a preset show as that preset.
        this.cadence = cadenceForm(view.form.backup);
      },
      // The backend's invalid input here is the cron expression's.
      (error) => (error.code === "invalid_input" && this.cadence.preset === "custom" ? "cron" : null),
    );
  }

  /** Stops the chosen database's scheduled backups and drills. */
  remove(): Promise<void> {
    const name = this.database;
    return this.removal.run(async () => {
      await api.removeSchedule(name);
      await this.schedules.load(api.schedules);
      if (this.database === name) this.select(name);
    });
  }
}
