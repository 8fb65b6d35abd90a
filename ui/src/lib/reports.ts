// What finished jobs say: one-line summaries and the restore's plain-text
// report. Pure functions, unit-tested.

import type { RestoreReport, SavedBackup, SnapshotSummary, TableCount, VerifyReport } from "./bindings";
import { formatCount, formatDuration, humanBytes, plural } from "./format";
import { SNAPSHOT_KIND_LABELS } from "./timeline";

export function shortId(id: string): string {
  return id.slice(0, 8);
}

export function checkpointSummary(made: SavedBackup): string {
  if (made.scope === "database") {
    const report = made.report;
    return (
      `Checkpoint ${shortId(report.snapshot_id)} saved: ${plural(report.tables, "table")}, ${plural(report.rows, "row")}, ` +
      `${humanBytes(report.size)} stored (${humanBytes(report.added_bytes)} new in the repository).`
    );
  }
  const report = made.report;
  const size = report.databases.reduce((sum, d) => sum + d.size, 0);
  const added = report.databases.reduce((sum, d) => sum + d.added_bytes, 0);
  const names = report.databases.map((d) => d.database).join(", ");
  const failed = report.failed.length === 0 ? "" : ` ${report.failed.length} failed: ${report.failed.map((f) => `${f.database} (${f.error})`).join("; ")}.`;
  return (
    `Checkpoint of server ${report.name} saved as group ${shortId(report.snapshot_id)}: ` +
    `${plural(report.databases.length, "database")}${names ? ` (${names})` : ""}, ` +
    `${humanBytes(size)} stored (${humanBytes(added)} new in the repository).${failed}`
  );
}

/** Whether a checkpoint saved everything it was asked to. */
export function checkpointComplete(made: SavedBackup): boolean {
  return made.scope === "database" || made.report.failed.length === 0;
}

/** What a backup noticed without failing; a server's databases' notices name them. */
export function backupWarnings(made: SavedBackup): string[] {
  if (made.scope === "database") return made.report.warnings;
  return [...made.report.warnings, ...made.report.databases.flatMap((d) => d.warnings.map((w) => `${d.database}: ${w}`))];
}

export function verifySummary(report: VerifyReport): string {
  return (
    `Intact: ${humanBytes(report.size)} authenticated, SHA-256 matches, ` +
    `pg_restore read ${plural(report.archive_entries, "entry", "entries")}.`
  );
}

export function restoreHeadline(report: RestoreReport): string {
  return `Restored snapshot ${shortId(report.snapshot_id)} into ${report.database}`;
}

export function rowsDiffer(count: TableCount): boolean {
  return count.expected !== count.restored;
}

export type RestoreContext = {
  /** The saved connection the snapshot was taken of. */
  source: string;
  snapshot: SnapshotSummary | null;
  finishedAt: Date;
};

/** A plain-text record of a restore, to paste into a ticket or a change log. */
export function restoreReportText(report: RestoreReport, context: RestoreContext): string {
  const lines = [`Lifeboat restore report`, ``, `${restoreHeadline(report)}.`, ``];
  const fact = (name: string, value: string) => lines.push(`${name}: ${value}`);
  fact("Snapshot", report.snapshot_id);
  const snapshot = context.snapshot;
  if (snapshot) {
    const label = snapshot.label ? ` “${snapshot.label}”` : "";
    fact("Source", `${context.source}, ${SNAPSHOT_KIND_LABELS[snapshot.kind].toLowerCase()} backup of ${new Date(snapshot.time).toISOString()}${label}`);
  } else {
    fact("Source", context.source);
  }
  fact("Target", report.target);
  fact("Database", report.database);
  fact("Finished", context.finishedAt.toISOString());
  fact("Duration", formatDuration(report.seconds * 1000));
  fact("Size", humanBytes(report.bytes));
  fact("pg_restore jobs", report.jobs > 1 ? `${report.jobs} in parallel` : "1 (streamed)");
  if (report.previous_database_kept_as) fact("Previous database kept as", report.previous_database_kept_as);
  fact("Roles created", report.roles_created.length ? report.roles_created.join(", ") : "none");
  for (const placed of report.placed_beside) {
    fact(`${placed.table} restored beside it as`, `${placed.restored_as} (${plural(placed.rows, "row")})`);
  }
  if (report.warnings.length) {
    lines.push("", "Warnings:", ...report.warnings.map((w) => `- ${w}`));
  }
  const differing = report.tables.filter(rowsDiffer).length;
  lines.push(
    "",
    `Tables (rows in backup / rows restored): ${plural(report.tables.length, "table")}, ` +
      (differing ? plural(differing, "count differs", "counts differ") : "all counts equal"),
  );
  for (const count of report.tables) {
    const mark = rowsDiffer(count) ? "  DIFFERS" : "";
    lines.push(`- ${count.table}: ${formatCount(count.expected)} / ${formatCount(count.restored)}${mark}`);
  }
  return `${lines.join("\n")}\n`;
}
