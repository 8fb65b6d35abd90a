import { mockIPC } from "@tauri-apps/api/mocks";
import { describe, expect, it } from "vitest";
import type { PitrArchive, RecoverOntoReport } from "./bindings";
import { PitrRestore } from "./pitr.svelte";
import { toLocalInput } from "./pitr-window";

const archive: PitrArchive = {
  name: "prod",
  server_version: "15.18",
  base_backups: 1,
  wal_files: 9,
  newest_wal_archived: "2026-12-01T11:00:00Z",
  windows: [{ base_backup: "base1234", from: "2026-12-01T10:00:00Z", to: "2026-12-01T11:00:00Z" }],
  gaps: [],
};

const report: RecoverOntoReport = {
  name: "prod",
  target: "2026-12-01 10:30:00.000000 UTC",
  base_backup: "base1234",
  server_version: "15.18",
  recovery_seconds: 4,
  snapshot_id: "pitr5678",
  restore: { snapshot_id: "pitr5678", target: "db2:5432", roles_created: [], restored: [], failed: [], seconds: 2, warnings: [] },
  seconds: 9,
  warnings: [],
};

describe("the point-in-time screen", () => {
  it("starts at the end of the window, slides, and sends the moment and the server", async () => {
    const calls: { cmd: string; args: Record<string, unknown> }[] = [];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args: args as Record<string, unknown> });
      if (cmd === "pitr_archives") return [archive];
      if (cmd === "pitr_restore") return report;
      throw new Error(`unexpected ${cmd}`);
    });
    const pitr = new PitrRestore();
    await pitr.load();
    expect(pitr.name).toBe("prod");
    expect(pitr.moment).toBe(toLocalInput(new Date("2026-12-01T11:00:00Z")));
    expect(pitr.momentProblem).toBeNull();

    pitr.slide(0.5);
    expect(pitr.moment).toBe(toLocalInput(new Date("2026-12-01T10:30:00Z")));
    expect(pitr.position).toBeCloseTo(0.5);

    // No server yet: refused at its first field, nothing sent.
    await pitr.restore();
    expect(pitr.checking.invalidField).toBe("host");
    expect(calls.some((c) => c.cmd === "pitr_restore")).toBe(false);

    pitr.target.host = "db2";
    pitr.target.user = "admin";
    pitr.databases = "app, metrics";
    await pitr.restore();
    const sent = calls.find((c) => c.cmd === "pitr_restore")!.args;
    expect(sent.request).toMatchObject({
      name: "prod",
      time: "2026-12-01T10:30:00.000Z",
      databases: ["app", "metrics"],
      target: { host: "db2", user: "admin", database: "postgres" },
    });
    expect(pitr.job.result?.snapshot_id).toBe("pitr5678");
  });

  it("refuses a moment outside the window, and recovers everything when asked", async () => {
    mockIPC((cmd) => {
      if (cmd === "pitr_archives") return [archive];
      throw new Error(`unexpected ${cmd}`);
    });
    const pitr = new PitrRestore();
    await pitr.load();
    pitr.moment = toLocalInput(new Date("2026-12-01T12:00:00Z"));
    expect(pitr.momentProblem).toMatch(/after the newest archived WAL/);
    pitr.latest = true;
    expect(pitr.momentProblem).toBeNull();
    expect(pitr.request().time).toBeNull();
  });
});
