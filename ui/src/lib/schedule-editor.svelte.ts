// The Schedules screen's state: the database chosen, its backup schedule
// and retention as edited, and the preview of what that retention keeps.

import * as api from "./api";
import type { RetentionPreviewEntry, ScheduleForm } from "./bindings";
import { cadenceFieldOf, cadenceForm, cadenceText, validateCadence, type CadenceField, type CadenceForm } from "./cadence";
import { FormState } from "./form.svelte";
import type { FieldError } from "./validation";
import { Resource } from "./resource.svelte";
import { ScheduleScreen } from "./schedule-screen.svelte";
import {
  KEEP_EVERYTHING,
  retentionForm,
  retentionPolicy,
  scheduleWith,
  staleAfterHours,
  staleAfterSeconds,
  validateRetention,
  validateStaleAfter,
  type RetentionForm,
  type RetentionKey,
} from "./schedules";

/** The base backups' cadence inputs are `base_time` and `base_cron`. */
type BaseCadenceField = `base_${CadenceField}`;

export type ScheduleField = CadenceField | BaseCadenceField | RetentionKey | "stale" | "heartbeat";

const FIELD_IDS: Record<ScheduleField, string> = {
  time: "schedule-time",
  cron: "schedule-cron",
  base_time: "base-backup-time",
  base_cron: "base-backup-cron",
  keep_last: "keep-last",
  keep_daily: "keep-daily",
  keep_weekly: "keep-weekly",
  keep_monthly: "keep-monthly",
  keep_yearly: "keep-yearly",
  keep_within_hours: "keep-within-days",
  min_age_hours: "min-age-days",
  checkpoint_expiry_hours: "checkpoint-expiry-days",
  stale: "stale-after-hours",
  heartbeat: "schedule-heartbeat",
};

function baseCadenceError(error: FieldError<CadenceField> | null): FieldError<BaseCadenceField> | null {
  return error && { field: `base_${error.field}`, message: `Base backups: ${error.message}` };
}

/** How long typing pauses before the preview asks again. */
const PREVIEW_DELAY_MS = 300;

export class ScheduleEditor extends ScheduleScreen {
  readonly preview = new Resource<RetentionPreviewEntry[]>();
  cadence: CadenceForm = $state(cadenceForm(null));
  retention: RetentionForm = $state(retentionForm(KEEP_EVERYTHING));
  /** Null: twice the interval. */
  staleAfterHours: number | null = $state(null);
  /** Empty: no heartbeat. */
  heartbeat = $state("");
  /** Base backups for point-in-time recovery. */
  baseCadence: CadenceForm = $state(cadenceForm(null));
  walStream = $state(false);
  readonly saving = new FormState<ScheduleField>(FIELD_IDS);
  readonly removal = new FormState();
  private readonly previewDelayMs: number;
  private previewTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(previewDelayMs = PREVIEW_DELAY_MS) {
    super();
    this.previewDelayMs = previewDelayMs;
  }

  /** Why the preview does not ask: a count that is not one. */
  get retentionProblem(): string | null {
    return validateRetention(this.retention)?.message ?? null;
  }

  protected fill(form: ScheduleForm | null): void {
    this.cadence = cadenceForm(form?.backup ?? null);
    this.retention = retentionForm(form?.retention ?? KEEP_EVERYTHING);
    this.staleAfterHours = staleAfterHours(form?.stale_after_seconds ?? null);
    this.heartbeat = form?.heartbeat ?? "";
    this.baseCadence = cadenceForm(form?.base_backup ?? null);
    this.walStream = form?.wal_stream ?? false;
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
    const problem =
      validateCadence(this.cadence) ??
      validateRetention(this.retention) ??
      validateStaleAfter(this.staleAfterHours) ??
      baseCadenceError(validateCadence(this.baseCadence));
    this.saved = null;
    return this.saving.submit(
      problem,
      async () => {
        const form = scheduleWith(this.current?.form ?? null, this.database, {
          backup: cadenceText(this.cadence),
          retention: retentionPolicy(this.retention),
          stale_after_seconds: this.staleAfterHours === null ? null : staleAfterSeconds(this.staleAfterHours),
          heartbeat: this.heartbeat.trim() || null,
          base_backup: cadenceText(this.baseCadence),
          wal_stream: this.walStream,
        });
        const view = await api.saveSchedule(form);
        await this.schedules.load(api.schedules);
        this.saved = view;
        // As stored: custom fields that match a preset show as that preset.
        this.cadence = cadenceForm(view.form.backup);
        this.baseCadence = cadenceForm(view.form.base_backup);
      },
      (error) => {
        switch (error.field) {
          case "backup":
            return cadenceFieldOf(this.cadence);
          case "base_backup":
            return `base_${cadenceFieldOf(this.baseCadence)}`;
          case "heartbeat":
            return "heartbeat";
          default:
            return null;
        }
      },
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
