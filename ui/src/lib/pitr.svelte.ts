// The point-in-time screen's state, kept by the main frame so a recovery
// keeps going (and its report stays) while the user looks at another screen.

import * as api from "./api";
import type { PitrArchive, PitrRestoreRequest, RecoverOntoReport } from "./bindings";
import { connectionFields, emptyServerForm, validateServerForm, type ServerField, type ServerForm } from "./connections";
import { FormState } from "./form.svelte";
import { JobRunner } from "./job.svelte";
import { fractionOf, fromLocalInput, momentAt, momentProblem, recoverableSpan, toLocalInput, type Span } from "./pitr-window";
import { Resource } from "./resource.svelte";

export class PitrRestore {
  readonly archives = new Resource<PitrArchive[]>();
  /** The archive chosen. */
  name = $state("");
  /** Recover everything archived instead of a moment. */
  latest = $state(false);
  /** The moment, as the `datetime-local` input holds it (this computer's zone). */
  moment = $state("");
  target: ServerForm = $state({ ...emptyServerForm(), database: "postgres" });
  /** Only these databases, separated by commas or spaces; blank: all. */
  databases = $state("");
  readonly checking = new FormState<ServerField>({
    host: "pitr-host",
    port: "pitr-port",
    database: "pitr-target-db",
    user: "pitr-user",
  });
  readonly job: JobRunner<RecoverOntoReport>;

  constructor(onJobFinished?: () => void) {
    this.job = new JobRunner(onJobFinished);
  }

  get archive(): PitrArchive | null {
    return this.archives.value?.find((a) => a.name === this.name) ?? null;
  }

  get span(): Span | null {
    const archive = this.archive;
    return archive ? recoverableSpan(archive) : null;
  }

  /** Where the moment sits on the timeline, 0 to 1. */
  get position(): number {
    const span = this.span;
    const time = fromLocalInput(this.moment);
    return span && time ? fractionOf(span, time) : 1;
  }

  /** Why the recovery cannot start as the form stands, or null. */
  get momentProblem(): string | null {
    const archive = this.archive;
    if (!archive) return "Choose an archive.";
    if (this.latest) return archive.windows.length === 0 ? momentProblem(archive, null) : null;
    return momentProblem(archive, fromLocalInput(this.moment));
  }

  async load(): Promise<void> {
    await this.archives.load(api.pitrArchives);
    const archives = this.archives.value ?? [];
    if (!archives.some((a) => a.name === this.name)) this.select(archives[0]?.name ?? "");
  }

  /** Chooses an archive; the moment starts at the end of what it can recover. */
  select(name: string): void {
    this.name = name;
    const span = this.span;
    this.moment = span ? toLocalInput(span.to) : "";
  }

  /** Moves the moment along the timeline. */
  slide(fraction: number): void {
    const span = this.span;
    if (span) this.moment = toLocalInput(momentAt(span, fraction));
  }

  request(): PitrRestoreRequest {
    const time = this.latest ? null : fromLocalInput(this.moment);
    return {
      name: this.name,
      time: time ? time.toISOString() : null,
      target: connectionFields(this.target),
      databases: this.databases.split(/[\s,]+/).filter((d) => d !== ""),
    };
  }

  async restore(): Promise<void> {
    if (this.momentProblem) return;
    const problem = validateServerForm(this.target);
    if (problem) {
      this.checking.invalid(problem);
      return;
    }
    this.checking.clear();
    const request = this.request();
    await this.job.run((job, onProgress) => api.pitrRestore(request, job, onProgress));
  }
}
