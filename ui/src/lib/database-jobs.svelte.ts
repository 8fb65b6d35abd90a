// Jobs on a database's snapshots, kept by the main frame so they keep going
// (and their outcome stays) while the user looks at another screen.

import * as api from "./api";
import type { DrillReport, DrillRequest, SavedBackup, VerifyReport } from "./bindings";
import { JobRunner } from "./job.svelte";

/** A labelled backup (of a server: of its databases), taken before a risky change. */
export class CheckpointJob extends JobRunner<SavedBackup> {
  /** The saved connection the last checkpoint was of, and its label. */
  connection: string | null = $state(null);
  label: string | null = $state(null);

  start(connection: string, label: string): Promise<void> {
    if (this.running) return Promise.resolve();
    this.connection = connection;
    this.label = label.trim();
    return this.run((job, onProgress) => api.backupNow({ connection, checkpoint_label: label.trim() }, job, onProgress));
  }
}

/** Reads a snapshot end to end: blobs authenticated, SHA-256, pg_restore --list. */
export class VerifyJob extends JobRunner<VerifyReport> {
  /** The snapshot the last verify was of. */
  snapshotId: string | null = $state(null);

  start(snapshotId: string): Promise<void> {
    if (this.running) return Promise.resolve();
    this.snapshotId = snapshotId;
    return this.run((job, onProgress) => api.verifySnapshot(snapshotId, job, onProgress));
  }
}

/** Restores a snapshot into a scratch database and runs the smoke checks (Run now). */
export class DrillJob extends JobRunner<DrillReport> {
  /** The saved connection the last drill was of. */
  connection: string | null = $state(null);

  start(connection: string, request: DrillRequest): Promise<void> {
    if (this.running) return Promise.resolve();
    this.connection = connection;
    return this.run((job, onProgress) => api.drillSnapshot(request, job, onProgress));
  }
}

/** An upgrade rehearsal of one snapshot onto a newer major, on this workstation. */
export class RehearsalJob extends JobRunner<DrillReport> {
  /** The snapshot the last rehearsal was of. */
  snapshotId: string | null = $state(null);

  start(request: DrillRequest): Promise<void> {
    if (this.running) return Promise.resolve();
    this.snapshotId = request.snapshot_id;
    return this.run((job, onProgress) => api.drillSnapshot(request, job, onProgress));
  }
}
