import { describe, expect, it } from "vitest";
import type { BackupReport, RestoreReport, SavedBackup, SnapshotSummary } from "./bindings";
import { backupWarnings, checkpointComplete, checkpointSummary, restoreHeadline, restoreReportText, rowsDiffer, verifySummary } from "./reports";

const MiB = 1024 * 1024;

const snapshot: SnapshotSummary = {
  id: "c0ffee11223344556677",
  short_id: "c0ffee11",
  tag: "sales",
  kind: "checkpoint",
  label: "before 16 → 17 upgrade",
  time: "2025-03-01T10:00:00Z",
  end: "2025-03-01T10:01:00Z",
  size: 5 * MiB,
  sha256: "ab",
  host: "ws1",
  user: "ana",
  generation: 3,
};

const report: RestoreReport = {
  snapshot_id: "c0ffee11223344556677",
  target: "postgres://app@db2:5432/sales",
  database: "sales",
  bytes: 5 * MiB,
  seconds: 12.34,
  jobs: 2,
  previous_database_kept_as: "sales_before_restore_20250301",
  roles_created: ["app", "reporting"],
  tables: [
    { table: "public.orders", expected: 1200, restored: 1200 },
    { table: "public.audit", expected: 5, restored: 4 },
  ],
  placed_beside: [],
  warnings: ["extension pg_trgm is 1.5 here, 1.6 in the backup"],
};

describe("summaries", () => {
  const database = (name: string, size: number, warnings: string[] = []): BackupReport => ({
    snapshot_id: "deadbeef99",
    name,
    database: name.split("/").pop() ?? name,
    server_version: "16.4",
    pg_dump_version: "16.4",
    size,
    sha256: "ab",
    added_bytes: MiB,
    tables: 12,
    rows: 3456,
    seconds: 2,
    warnings,
  });

  it("say what a checkpoint saved", () => {
    const made: SavedBackup = { scope: "database", report: database("sales", 5 * MiB) };
    expect(checkpointSummary(made)).toBe("Checkpoint deadbeef saved: 12 tables, 3,456 rows, 5.0 MiB stored (1.0 MiB new in the repository).");
    expect(checkpointComplete(made)).toBe(true);
  });

  it("say what a server checkpoint saved, and what failed", () => {
    const server = {
      name: "prod",
      snapshot_id: "feedface42",
      server_version: "16.4",
      databases: [database("prod/app", 2 * MiB, ["no primary key on t"]), database("prod/metrics", 3 * MiB)],
      failed: [],
      skipped: ["staging"],
      removed: [],
      seconds: 3,
      warnings: ["role passwords left out"],
    };
    const made: SavedBackup = { scope: "server", report: server };
    expect(checkpointSummary(made)).toBe(
      "Checkpoint of server prod saved as group feedface: 2 databases (app, metrics), 5.0 MiB stored (2.0 MiB new in the repository).",
    );
    expect(backupWarnings(made)).toEqual(["role passwords left out", "app: no primary key on t"]);
    const partial: SavedBackup = { scope: "server", report: { ...server, failed: [{ database: "reports", error: "permission denied" }] } };
    expect(checkpointSummary(partial)).toContain("1 failed: reports (permission denied).");
    expect(checkpointComplete(partial)).toBe(false);
  });

  it("say what a verify read", () => {
    expect(verifySummary({ snapshot_id: "x", size: 5 * MiB, sha256: "ab", archive_entries: 1, seconds: 1 })).toBe(
      "Intact: 5.0 MiB authenticated, SHA-256 matches, pg_restore read 1 entry.",
    );
    expect(verifySummary({ snapshot_id: "x", size: 0, sha256: "ab", archive_entries: 42, seconds: 1 })).toContain("read 42 entries");
  });

  it("name the restored snapshot and database", () => {
    expect(restoreHeadline(report)).toBe("Restored snapshot c0ffee11 into sales");
    expect(rowsDiffer(report.tables[0])).toBe(false);
    expect(rowsDiffer(report.tables[1])).toBe(true);
  });
});

describe("restoreReportText", () => {
  it("records everything about the restore", () => {
    const text = restoreReportText(report, { source: "sales-prod", snapshot, finishedAt: new Date("2025-03-02T08:30:00Z") });
    expect(text).toBe(
      [
        "Lifeboat restore report",
        "",
        "Restored snapshot c0ffee11 into sales.",
        "",
        "Snapshot: c0ffee11223344556677",
        "Source: sales-prod, checkpoint backup of 2025-03-01T10:00:00.000Z “before 16 → 17 upgrade”",
        "Target: postgres://app@db2:5432/sales",
        "Database: sales",
        "Finished: 2025-03-02T08:30:00.000Z",
        "Duration: 12.3 s",
        "Size: 5.0 MiB",
        "pg_restore jobs: 2 in parallel",
        "Previous database kept as: sales_before_restore_20250301",
        "Roles created: app, reporting",
        "",
        "Warnings:",
        "- extension pg_trgm is 1.5 here, 1.6 in the backup",
        "",
        "Tables (rows in backup / rows restored): 2 tables, 1 count differs",
        "- public.orders: 1,200 / 1,200",
        "- public.audit: 5 / 4  DIFFERS",
        "",
      ].join("\n"),
    );
  });

  it("leaves out what did not happen", () => {
    const text = restoreReportText(
      { ...report, previous_database_kept_as: null, roles_created: [], warnings: [], tables: [{ table: "t", expected: 1, restored: 1 }] },
      { source: "sales-prod", snapshot: null, finishedAt: new Date("2025-03-02T08:30:00Z") },
    );
    expect(text).toContain("Source: sales-prod\n");
    expect(text).toContain("Roles created: none");
    expect(text).toContain("1 table, all counts equal");
    expect(text).not.toContain("Previous database");
    expect(text).not.toContain("Warnings");
  });
});
