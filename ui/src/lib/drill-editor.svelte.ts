// The Drills screen's state: the database chosen, its drill settings as
// edited (server, probes, schedule), Run now, and the drills it had.

import * as api from "./api";
import type { DrillHistoryEntry, DrillReport, ScheduleForm } from "./bindings";
import { cadenceFieldOf, cadenceForm, cadenceText, validateCadence, type CadenceField, type CadenceForm } from "./cadence";
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
import { ScheduleScreen } from "./schedule-screen.svelte";
import { scheduleWith } from "./schedules";

export type DrillField = "server" | CadenceField | ProbeField;

/** The server and schedule inputs are `drill-…`; a probe field is its input's id. */
function fieldId(field: DrillField): string {
  return field === "server" || field === "time" || field === "cron" ? `drill-${field}` : field;
}

export class DrillEditor extends ScheduleScreen {
  readonly history = new Resource<DrillHistoryEntry[]>();
  /** A saved connection's name or a postgres:// URL. */
  server = $state("");
  probes: ProbeRow[] = $state([]);
  cadence: CadenceForm = $state(cadenceForm(null));
  readonly form = new FormState<DrillField>(fieldId);
  /** Kept by the main frame: a drill goes on while the user looks elsewhere. */
  readonly job: DrillJob;

  constructor(job: DrillJob) {
    super();
    this.job = job;
  }

  /** The drill job's state, when its last drill is of the database shown. */
  get outcome(): JobState<DrillReport> | null {
    return this.job.connection === this.database ? this.job.state : null;
  }

  protected fill(form: ScheduleForm | null): void {
    this.server = form?.drill_server ?? "";
    this.probes = probeRows(form?.probes ?? []);
    this.cadence = cadenceForm(form?.drill ?? null);
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

  /** Whether scheduled drills also drill the newest base backup (point-in-time recovery is scheduled). */
  get drillsBaseBackups(): boolean {
    return (this.current?.form.base_backup ?? null) !== null;
  }

  save(): Promise<void> {
    // Base backups are drilled on this workstation: only dumps need a server.
    const needsServer = this.cadence.preset !== "none" && !this.drillsBaseBackups;
    const problem = validateCadence(this.cadence) ?? (needsServer ? validateDrillServer(this.server) : null) ?? validateProbes(this.probes);
    this.saved = null;
    return this.form.submit(
      problem,
      async () => {
        const form = scheduleWith(this.current?.form ?? null, this.database, {
          drill: cadenceText(this.cadence),
          drill_server: this.server.trim() || null,
          probes: probesOf(this.probes),
        });
        const view = await api.saveSchedule(form);
        await this.schedules.load(api.schedules);
        this.saved = view;
        this.cadence = cadenceForm(view.form.drill);
      },
      (error) => (error.field === "drill" ? cadenceFieldOf(this.cadence) : error.field === "drill_server" ? "server" : null),
    );
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
