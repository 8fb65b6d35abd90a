// The restore wizard's state, kept by the main frame so a restore keeps
// going (and its report stays) while the user looks at another screen.

import * as api from "./api";
import type {
  Connection,
  DatabaseCard,
  Preflight,
  RestoreReport,
  RestoreRequest,
  ServerRestoreReport,
  ServerRestoreRequest,
  TimelineEntry,
} from "./bindings";
import { connectionFields, emptyServerForm, validateServerForm, type ServerField, type ServerForm } from "./connections";
import { VerifyJob } from "./database-jobs.svelte";
import { FormState } from "./form.svelte";
import { JobRunner } from "./job.svelte";
import { restoreReportText } from "./reports";
import { Resource } from "./resource.svelte";
import { newestFirst, rowCounts, type RowCount } from "./timeline";

export const RESTORE_STEPS = [
  { id: "source", label: "Source" },
  { id: "target", label: "Target" },
  { id: "verify", label: "Verify" },
  { id: "restore", label: "Restore" },
  { id: "result", label: "Result" },
] as const;

export type RestoreStep = (typeof RESTORE_STEPS)[number]["id"];

/**
 * Whether the target may be restored into: a preflight ran for it, and found
 * nothing to refuse, or the user typed the database's name to go ahead anyway.
 */
export function targetAccepted(preflight: Preflight | null, confirmName: string, database: string): boolean {
  if (!preflight) return false;
  return preflight.refusal === null || (database !== "" && confirmName === database);
}

/**
 * Typing the name helps against a non-empty database or an older server, not
 * against missing extensions (those must be installed on the target first).
 */
export function confirmationHelps(preflight: Preflight): boolean {
  return preflight.refusal !== null && preflight.missing_extensions.length === 0;
}

export class RestoreWizard {
  step: RestoreStep = $state("source");
  readonly connections = new Resource<Connection[]>();
  /** The databases the repository holds backups of: all of them are restorable, saved connection or not (a fresh workstation has none). */
  readonly backedUp = new Resource<string[]>();
  /** The source: a database's name (its snapshots' tag), and one of its snapshots. */
  database = $state("");
  readonly snapshots = new Resource<TimelineEntry[]>();
  snapshotId = $state("");
  target: ServerForm = $state(emptyServerForm());
  /** The saved connection the target was filled from: its keychain password is used. */
  fillFrom = $state("");
  /** The target database's name, typed to replace it. */
  confirmName = $state("");
  /** A role to own everything restored; blank keeps the backup's owners. */
  owner = $state("");
  /** Leave out the backup's owners, grants and roles (a staging copy). */
  noOwner = $state(false);
  /** The chosen snapshot's tables with their rows, to restore only some. */
  readonly sourceTables = new Resource<RowCount[]>();
  /** Only these tables (`schema.table`); empty: the whole database. */
  tables: string[] = $state([]);
  /** A whole server backup's databases (empty for one database's snapshot). */
  serverDatabases: string[] = $state([]);
  /** Only these of them; empty: all. */
  chosenDatabases: string[] = $state([]);
  readonly checking = new FormState<ServerField>({
    host: "restore-host",
    port: "restore-port",
    database: "restore-target-db",
    user: "restore-user",
  });
  readonly verifyJob: VerifyJob;
  readonly restoreJob: JobRunner<RestoreReport>;
  readonly serverJob: JobRunner<ServerRestoreReport>;
  finishedAt: Date | null = $state(null);
  private checked: { key: string; preflight: Preflight } | null = $state(null);
  /** The target database name proposed for the current source. */
  private proposedDatabase = "";

  constructor(onJobFinished?: () => void) {
    this.verifyJob = new VerifyJob(onJobFinished);
    this.restoreJob = new JobRunner(onJobFinished);
    this.serverJob = new JobRunner(onJobFinished);
  }

  /** The snapshot chosen is a whole server's: its databases are restored onto a server. */
  get isServer(): boolean {
    return this.serverDatabases.length > 0;
  }

  /** Either restore is running. */
  get restoring(): boolean {
    return this.restoreJob.running || this.serverJob.running;
  }

  get snapshot(): TimelineEntry | null {
    return this.snapshots.value?.find((e) => e.summary.id === this.snapshotId) ?? null;
  }

  private get sourceConnection(): Connection | null {
    return this.connections.value?.find((c) => c.name === this.database) ?? null;
  }

  /** The restore request for the form as it stands. */
  request(): RestoreRequest {
    return {
      snapshot_id: this.snapshotId,
      target: connectionFields(this.target, this.fillFrom || null),
      confirm_database: this.confirmName === "" ? null : this.confirmName,
      owner: this.owner.trim() === "" ? null : this.owner.trim(),
      no_owner: this.noOwner,
      tables: [...this.tables],
    };
  }

  /** What the preflight was run for: any change of target or snapshot makes it stale. */
  private preflightKey(): string {
    const { snapshot_id, target, owner, no_owner, tables } = this.request();
    return JSON.stringify({ snapshot_id, target, owner, no_owner, tables });
  }

  /** The preflight of the target as it stands, if one ran. */
  get preflight(): Preflight | null {
    return this.checked && this.checked.key === this.preflightKey() ? this.checked.preflight : null;
  }

  get targetReady(): boolean {
    // A server restore replaces nothing: a database there with data is left alone and reported.
    if (this.isServer) return validateServerForm(this.target) === null;
    return targetAccepted(this.preflight, this.confirmName, this.target.database.trim());
  }

  /** A verify of the chosen snapshot succeeded. */
  get verified(): boolean {
    return this.verifyJob.result?.snapshot_id === this.snapshotId;
  }

  /** Every database to choose from: the repository's and the saved connections', sorted. */
  get databaseNames(): string[] {
    const names = new Set([...(this.backedUp.value ?? []), ...(this.connections.value ?? []).map((c) => c.name)]);
    return [...names].sort();
  }

  /** Lists the databases and saved connections and, while the source is being chosen, the source's snapshots. */
  async load(): Promise<void> {
    const loaded = await Promise.all([
      this.connections.load(async () => (await api.databases()).map((card: DatabaseCard) => card.connection)),
      this.backedUp.load(async () => (await api.repositoryOverview()).tags.map((t) => t.tag)),
    ]);
    if (!loaded.some(Boolean) || this.step !== "source") return;
    const names = this.databaseNames;
    await this.selectDatabase(names.includes(this.database) ? this.database : (names[0] ?? ""), this.snapshotId);
  }

  /** Lists `name`'s snapshots and picks `snapshotId` if it is one of them, else the newest. */
  async selectDatabase(name: string, snapshotId = ""): Promise<void> {
    this.database = name;
    this.snapshotId = snapshotId;
    if (name === "") {
      this.snapshots.clear();
      return;
    }
    if (await this.snapshots.load(async () => newestFirst(await api.timeline(name)))) {
      const entries = this.snapshots.value ?? [];
      if (!entries.some((e) => e.summary.id === snapshotId)) this.snapshotId = entries[0]?.summary.id ?? "";
    }
  }

  /**
   * Starts over from a snapshot chosen elsewhere (the Timeline), not while a
   * restore runs; the next load() lists its database's snapshots.
   */
  preselect(database: string, snapshotId: string): void {
    if (this.restoring) return;
    this.restart();
    this.database = database;
    this.snapshotId = snapshotId;
    this.snapshots.clear();
  }

  nextFromSource(): void {
    const source = this.sourceConnection?.database ?? "";
    // Propose the source's database name, unless the user typed another.
    const database = this.target.database.trim();
    if (database === "" || database === this.proposedDatabase) this.target.database = source;
    this.proposedDatabase = source;
    this.step = "target";
    this.loadTables();
  }

  /** The chosen snapshot's tables, or a server backup's databases; a choice of another snapshot's goes. */
  private loadTables(): void {
    const id = this.snapshotId;
    this.serverDatabases = [];
    this.sourceTables
      .load(async () => {
        const detail = await api.snapshotDetail(id);
        // An answer for a snapshot chosen before does not decide this one's kind.
        if (this.snapshotId === id) this.serverDatabases = detail.server_databases;
        return rowCounts(detail.postgres);
      })
      .then(() => {
        const names = new Set((this.sourceTables.value ?? []).map((t) => t.table));
        this.tables = this.tables.filter((t) => names.has(t));
        this.chosenDatabases = this.chosenDatabases.filter((d) => this.serverDatabases.includes(d));
      });
  }

  /** Adds or removes one database of a server restore. */
  toggleDatabase(database: string, chosen: boolean): void {
    this.chosenDatabases = chosen ? [...new Set([...this.chosenDatabases, database])].sort() : this.chosenDatabases.filter((d) => d !== database);
  }

  /** The server restore request for the form as it stands. */
  serverRequest(): ServerRestoreRequest {
    const { snapshot_id, target, owner, no_owner } = this.request();
    return { snapshot_id, target, owner, no_owner, databases: [...this.chosenDatabases] };
  }

  /** Checks the server's fields, then goes to the last step (each database's snapshot is authenticated as it is read). */
  nextFromServerTarget(): void {
    const problem = validateServerForm(this.target);
    if (problem) this.checking.invalid(problem);
    else this.step = "restore";
  }

  async restoreServer(): Promise<void> {
    const request = this.serverRequest();
    await this.serverJob.run((job, onProgress) => api.restoreServer(request, job, onProgress));
    if (this.serverJob.result) {
      this.finishedAt = new Date();
      this.step = "result";
    }
  }

  /** Adds or removes one table of a partial restore. */
  toggleTable(table: string, chosen: boolean): void {
    this.tables = chosen ? [...new Set([...this.tables, table])].sort() : this.tables.filter((t) => t !== table);
  }

  /** Copies a saved connection's server, user and TLS mode; its keychain password is used. */
  fillFromConnection(name: string): void {
    this.fillFrom = name;
    const saved = this.connections.value?.find((c) => c.name === name);
    if (!saved) return;
    this.target = {
      ...this.target,
      host: saved.host,
      port: String(saved.port),
      user: saved.user,
      tls: saved.tls,
      password: "",
      pgBin: saved.pg_bin ?? "",
    };
  }

  check(): Promise<void> {
    return this.checking.submit(validateServerForm(this.target), async () => {
      const key = this.preflightKey();
      this.checked = { key, preflight: await api.restorePreflight(this.request()) };
    });
  }

  async restore(): Promise<void> {
    const request = this.request();
    await this.restoreJob.run((job, onProgress) => api.restoreSnapshot(request, job, onProgress));
    if (this.restoreJob.result) {
      this.finishedAt = new Date();
      this.step = "result";
    }
  }

  /** After a refusal: the target needs another look, and a new preflight. */
  backToTarget(): void {
    this.checked = null;
    this.step = "target";
  }

  get report(): string {
    const report = this.restoreJob.result;
    if (!report || !this.finishedAt) return "";
    return restoreReportText(report, { source: this.database, snapshot: this.snapshot?.summary ?? null, finishedAt: this.finishedAt });
  }

  /** Back to step 1 with a blank target; the source stays chosen. */
  restart(): void {
    if (this.restoring) return;
    this.step = "source";
    this.target = emptyServerForm();
    this.fillFrom = "";
    this.confirmName = "";
    this.noOwner = false;
    this.tables = [];
    this.serverDatabases = [];
    this.chosenDatabases = [];
    this.checked = null;
    this.proposedDatabase = "";
    this.finishedAt = null;
    this.checking.clear();
    this.verifyJob.reset();
    this.restoreJob.reset();
    this.serverJob.reset();
  }
}
