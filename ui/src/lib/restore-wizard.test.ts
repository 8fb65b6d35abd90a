import type { Channel } from "@tauri-apps/api/core";
import { mockIPC } from "@tauri-apps/api/mocks";
import { describe, expect, it } from "vitest";
import { deferred, progress, salesCard, salesDetail, salesTimeline, sendOnChannel, settle } from "../test/fixtures";
import type { Connection, JobProgress, Preflight, RestoreReport, RestoreRequest } from "./bindings";
import { confirmationHelps, RestoreWizard, targetAccepted } from "./restore-wizard.svelte";

const clean: Preflight = {
  target_server_version: "17.2",
  database_exists: false,
  database_empty: true,
  missing_roles: ["app"],
  missing_extensions: [],
  refusal: null,
  warnings: [],
};

const notEmpty: Preflight = { ...clean, database_exists: true, database_empty: false, refusal: "database sales on db2:5432 is not empty" };

const report: RestoreReport = {
  snapshot_id: "3333cccc4444dddd",
  target: "postgres://app@db2:5432/sales",
  database: "sales",
  bytes: 1024,
  seconds: 3,
  jobs: 1,
  previous_database_kept_as: null,
  roles_created: ["app"],
  tables: [{ table: "public.orders", expected: 10, restored: 10 }],
  placed_beside: [],
  warnings: [],
};

const staging: Connection = { ...salesCard().connection, name: "staging", host: "db2", port: 6432, user: "admin", tls: "require", pg_bin: "/opt/pg17/bin" };

type Calls = { cmd: string; args: Record<string, unknown> }[];

/** The databases the mocked repository holds backups of. */
let backedUpTags = ["sales"];

function mockBackend(preflight: Preflight = clean) {
  const calls: Calls = [];
  const restore = deferred<RestoreReport>();
  let restoreChannel: Channel<JobProgress> | undefined;
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: args as Record<string, unknown> });
    switch (cmd) {
      case "databases":
        return [salesCard(), { ...salesCard(), connection: staging }];
      case "repository_overview":
        return { tags: backedUpTags.map((tag) => ({ tag })) };
      case "timeline":
        return salesTimeline();
      case "snapshot_detail":
        return salesDetail(salesTimeline().find((e) => e.summary.id === (args as { id: string }).id)!);
      case "restore_preflight":
        return preflight;
      case "restore_snapshot":
        restoreChannel = (args as { onProgress: Channel<JobProgress> }).onProgress;
        return restore.promise;
    }
    throw new Error(`unexpected ${cmd}`);
  });
  return { calls, restore, channel: () => restoreChannel! };
}

/** A loaded wizard, on the target step. */
async function atTarget(): Promise<RestoreWizard> {
  const wizard = new RestoreWizard();
  await wizard.load();
  wizard.nextFromSource();
  return wizard;
}

/** A loaded wizard whose target, app on db2, has been checked. */
async function checkedTarget(): Promise<RestoreWizard> {
  const wizard = await atTarget();
  wizard.target.host = "db2";
  wizard.target.user = "app";
  await wizard.check();
  return wizard;
}

describe("targetAccepted", () => {
  it("needs a preflight", () => {
    expect(targetAccepted(null, "sales", "sales")).toBe(false);
  });

  it("accepts a preflight without refusal", () => {
    expect(targetAccepted(clean, "", "sales")).toBe(true);
  });

  it("accepts a refusal only with the database's exact name typed", () => {
    expect(targetAccepted(notEmpty, "", "sales")).toBe(false);
    expect(targetAccepted(notEmpty, "Sales", "sales")).toBe(false);
    expect(targetAccepted(notEmpty, "sales ", "sales")).toBe(false);
    expect(targetAccepted(notEmpty, "sales", "sales")).toBe(true);
    expect(targetAccepted(notEmpty, "", "")).toBe(false);
  });

  it("knows typing the name does not install extensions", () => {
    expect(confirmationHelps(notEmpty)).toBe(true);
    expect(confirmationHelps({ ...notEmpty, missing_extensions: ["postgis"] })).toBe(false);
    expect(confirmationHelps(clean)).toBe(false);
  });
});

describe("RestoreWizard", () => {
  it("picks the first connection and its newest snapshot", async () => {
    mockBackend();
    const wizard = new RestoreWizard();
    await wizard.load();
    expect(wizard.database).toBe("sales");
    expect(wizard.snapshotId).toBe("3333cccc4444dddd");
    expect(wizard.snapshots.value?.map((e) => e.summary.id)).toEqual(["3333cccc4444dddd", "1111aaaa2222bbbb"]);
  });

  it("keeps a preselected snapshot", async () => {
    mockBackend();
    const wizard = new RestoreWizard();
    wizard.preselect("sales", "1111aaaa2222bbbb");
    await wizard.load();
    expect(wizard.snapshotId).toBe("1111aaaa2222bbbb");
    expect(wizard.snapshot?.summary.kind).toBe("manual");
  });

  it("proposes the source's database name, and keeps one typed", async () => {
    mockBackend();
    const wizard = await atTarget();
    expect(wizard.step).toBe("target");
    expect(wizard.target.database).toBe("sales");
    wizard.target.database = "sales_copy";
    wizard.step = "source";
    wizard.nextFromSource();
    expect(wizard.target.database).toBe("sales_copy");
  });

  it("fills the target from a saved connection and uses its keychain password", async () => {
    const { calls } = mockBackend();
    const wizard = await atTarget();
    wizard.fillFromConnection("staging");
    expect(wizard.target).toMatchObject({ host: "db2", port: "6432", user: "admin", tls: "require", database: "sales" });
    await wizard.check();
    const request = calls.find((c) => c.cmd === "restore_preflight")?.args.request as RestoreRequest;
    expect(request).toEqual({
      snapshot_id: "3333cccc4444dddd",
      target: { host: "db2", port: 6432, database: "sales", user: "admin", tls: "require", password: null, saved_password_of: "staging", pg_bin: "/opt/pg17/bin" },
      confirm_database: null,
      owner: null,
      no_owner: false,
      tables: [],
    });
  });

  it("offers the snapshot's tables, and a partial or staging restore needs a new preflight", async () => {
    const { calls } = mockBackend();
    const wizard = await checkedTarget();
    await settle();
    expect(wizard.sourceTables.value).toEqual([
      { table: "public.audit", rows: 0 },
      { table: "public.orders", rows: 1200 },
    ]);
    wizard.toggleTable("public.orders", true);
    expect(wizard.preflight).toBeNull();
    wizard.noOwner = true;
    await wizard.check();
    const sent = calls.filter((c) => c.cmd === "restore_preflight").at(-1)?.args.request as RestoreRequest;
    expect([sent.tables, sent.no_owner]).toEqual([["public.orders"], true]);
    wizard.toggleTable("public.orders", false);
    expect(wizard.request().tables).toEqual([]);
    wizard.restart();
    expect([wizard.tables, wizard.noOwner]).toEqual([[], false]);
  });

  it("sends a chosen owner, and a new owner needs a new preflight", async () => {
    const { calls } = mockBackend();
    const wizard = await checkedTarget();
    expect(wizard.preflight).not.toBeNull();
    wizard.owner = " reporting ";
    expect(wizard.preflight).toBeNull();
    await wizard.check();
    const requests = calls.filter((c) => c.cmd === "restore_preflight").map((c) => c.args.request as RestoreRequest);
    expect(requests.map((r) => r.owner)).toEqual([null, "reporting"]);
  });

  it("drops the preflight when the target changes", async () => {
    mockBackend();
    const wizard = await checkedTarget();
    expect(wizard.preflight).toEqual(clean);
    expect(wizard.targetReady).toBe(true);
    wizard.target.port = "5433";
    expect(wizard.preflight).toBeNull();
    expect(wizard.targetReady).toBe(false);
    wizard.target.port = "5432";
    expect(wizard.preflight).toEqual(clean);
  });

  it("does not ask the backend with an incomplete target", async () => {
    const { calls } = mockBackend();
    const wizard = await atTarget();
    await wizard.check();
    expect(wizard.checking.invalidField).toBe("host");
    expect(calls.some((c) => c.cmd === "restore_preflight")).toBe(false);
  });

  it("restores with the typed name, then shows the result and its report", async () => {
    const { calls, restore, channel } = mockBackend(notEmpty);
    const wizard = await checkedTarget();
    expect(wizard.targetReady).toBe(false);
    wizard.confirmName = "sales";
    expect(wizard.targetReady).toBe(true);

    wizard.step = "restore";
    const running = wizard.restore();
    await settle();
    expect(wizard.restoreJob.running).toBe(true);
    sendOnChannel(channel(), 0, progress("restoring", 512, 1024));
    await settle();
    expect(wizard.restoreJob.state).toMatchObject({ status: "running", progress: { done_bytes: 512 } });
    restore.resolve(report);
    await running;

    const request = calls.find((c) => c.cmd === "restore_snapshot")?.args.request as RestoreRequest;
    expect(request.confirm_database).toBe("sales");
    expect(wizard.step).toBe("result");
    expect(wizard.report).toContain("Restored snapshot 3333cccc into sales.");
    expect(wizard.report).toContain("checkpoint backup of");

    wizard.restart();
    expect(wizard.step).toBe("source");
    expect(wizard.restoreJob.state.status).toBe("idle");
    expect(wizard.target.host).toBe("");
    expect(wizard.database).toBe("sales");
  });

  it("stays on the restore step when the restore is refused", async () => {
    const { restore } = mockBackend();
    const wizard = new RestoreWizard();
    await wizard.load();
    wizard.step = "restore";
    const running = wizard.restore();
    restore.reject({ code: "restore_refused", message: "database sales is not empty" });
    await running;
    expect(wizard.step).toBe("restore");
    expect(wizard.restoreJob.state).toEqual({ status: "failed", error: { code: "restore_refused", message: "database sales is not empty" } });
    wizard.backToTarget();
    expect(wizard.step).toBe("target");
  });
});

describe("RestoreWizard, a whole server backup", () => {
  it("offers the group's databases, restores the chosen ones onto a server without a preflight, and reports each", async () => {
    const calls: Calls = [];
    const restored = { ...report, database: "app" };
    mockIPC((cmd, args) => {
      calls.push({ cmd, args: args as Record<string, unknown> });
      switch (cmd) {
        case "databases":
          return [salesCard()];
        case "repository_overview":
          return { tags: [{ tag: "sales" }] };
        case "timeline":
          return salesTimeline();
        case "snapshot_detail":
          return { ...salesDetail(salesTimeline()[0]), postgres: null, server_databases: ["app", "metrics"] };
        case "restore_server":
          return { snapshot_id: "group1234", target: "db2:5432", roles_created: [], restored: [restored], failed: [], seconds: 2, warnings: [] };
      }
      throw new Error(`unexpected ${cmd}`);
    });
    const wizard = await atTarget();
    await settle();
    expect(wizard.isServer).toBe(true);
    expect(wizard.serverDatabases).toEqual(["app", "metrics"]);

    wizard.nextFromServerTarget();
    expect(wizard.step).toBe("target");
    expect(wizard.checking.invalidField).toBe("host");

    wizard.target.host = "db2";
    wizard.target.user = "admin";
    wizard.target.database = "postgres";
    wizard.toggleDatabase("app", true);
    wizard.nextFromServerTarget();
    expect(wizard.step).toBe("restore");
    await wizard.restoreServer();
    expect(wizard.step).toBe("result");
    expect(wizard.serverJob.result?.restored).toEqual([restored]);
    const sent = calls.find((c) => c.cmd === "restore_server")!.args;
    expect(sent.request).toMatchObject({ databases: ["app"], target: { host: "db2", user: "admin", database: "postgres" }, no_owner: false });
    expect(calls.some((c) => c.cmd === "restore_preflight")).toBe(false);

    wizard.restart();
    expect([wizard.isServer, wizard.chosenDatabases]).toEqual([false, []]);
  });
});
