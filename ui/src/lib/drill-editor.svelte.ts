// The Drills screen's state: the database chosen, its drill settings as
// edited (server, probes, schedule), Run now, and the drills it had.

import * as api from "./api";
import type { DatabaseCard, DrillHistoryEntry, DrillReport, ScheduleView } from "./bindings";
import { cadenceForm, cadenceText, validateCadence, type CadenceField, type CadenceForm } from "./cadence";
import type { DrillJob } from "./database-jobs.svelte";
import {
  addProbe,
  drillRequest,
  probeRows,
  probesOf,
  removeProbe,
  validateDrillServer,
  validateProbes,
  type ProbeField,
  type ProbeRow,
} from "./drills";
import { FormState } from "./form.svelte";
import type { JobState } from "./progress";
import { Resource } from "./resource.svelte";
import { scheduleWith } from "./schedules";

export type DrillField = "server" | CadenceField | ProbeField;

/** The server and schedule inputs are `drill-…`; a probe field is its input's id. */
function fieldId(field: DrillField): string {
  return field === "server" || field === "time" || field === "cron" ? `drill-${field}` : field;
}

export class DrillEditor {
  readonly cards = new Resource<DatabaseCard[]>();
  readonly schedules = new Resource<ScheduleView[]>();
  readonly history = new Resource<DrillHistoryEntry[]>();
  /** The saved connection whose drills are shown. */
  database = $state("");
  /** A saved connection's name or a postgres:// URL. */
  server = $state("");
  probes: ProbeRow[] = $state([]);
  cadence: CadenceForm = $state(cadenceForm(null));
  /** What the last save returned, to say so. */
  saved: ScheduleView | null = $state(null);
  readonly form = new FormState<DrillField>(fieldId);
  /** Kept by the main frame: a drill goes on while the user looks elsewhere. */
  readonly job: DrillJob;

  constructor(job: DrillJob) {
    this.job = job;
  }

  get names(): string[] {
    return this.cards.value?.map((card) => card.connection.name) ?? [];
  }

  get current(): ScheduleView | null {
    return this.schedules.value?.find((view) => view.form.connection === this.database) ?? null;
  }

  /** Saving needs the saved schedules: the backup's fields are kept from them. */
  get ready(): boolean {
    return this.database !== "" && this.schedules.value !== null;
  }

  /** The drill job's state, when its last drill is of the database shown. */
  get outcome(): JobState<DrillReport> | null {
    return this.job.connection === this.database ? this.job.state : null;
  }

  /** Lists the connections and schedules, and fills the form from the saved schedule again. */
  async load(): Promise<void> {
    await Promise.all([this.cards.load(api.databases), this.schedules.load(api.schedules)]);
    this.select(this.names.includes(this.database) ? this.database : (this.names[0] ?? ""));
  }

  select(name: string): void {
    this.database = name;
    const form = this.current?.form ?? null;
    this.server = form?.drill_server ?? "";
    this.probes = probeRows(form?.probes ?? []);
    this.cadence = cadenceForm(form?.drill ?? null);
    this.saved = null;
    this.form.clear();
    this.loadHistory();
  }

  loadHistory(): Promise<boolean> {
    const name = this.database;
    if (name === "") {
      this.history.clear();
      return Promise.resolve(false);
    }
    return this.history.load(() => api.drillHistory(name));
  }

  addProbe(): void {
    this.probes = addProbe(this.probes);
  }

  removeProbe(key: number): void {
    this.probes = removeProbe(this.probes, key);
  }

  save(): Promise<void> {
    const scheduled = this.cadence.preset !== "none";
    const problem = validateCadence(this.cadence) ?? (scheduled ? validateDrillServer(this.server) : null) ?? validateProbes(this.probes);
    this.saved = null;
    return this.form.submit(problem, async () => {
      const form = scheduleWith(this.current?.form ?? null, this.database, {
        drill: cadenceText(this.cadence),
        drill_server: this.server.trim() || null,
        probes: probesOf(this.probes),
      });
      const view = await api.saveSchedule(form);
      await this.schedules.load(api.schedules);
      this.saved = view;
      this.cadence = cadenceForm(view.form.drill);
    });
  }

  /** Drills the latest snapshot now, on the server and with the probes as typed; then lists it. */
  async run(): Promise<void> {
    const problem = validateDrillServer(this.server) ?? validateProbes(this.probes);
    if (problem) {
      this.form.invalid(problem);
      return;
    }
    this.form.clear();
    await this.job.start(this.database, drillRequest(this.database, this.server, this.probes));
    await this.loadHistory();
  }
}
