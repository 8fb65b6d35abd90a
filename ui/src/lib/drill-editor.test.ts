import { describe, expect, it } from "vitest";
import { drillEntry, drillReport, mockCommands, mockDrillBackend, progress, salesCard, salesSchedule, sendOnChannel, settle } from "../test/fixtures";
import type { ApiError } from "./bindings";
import { DrillJob } from "./database-jobs.svelte";
import { DrillEditor } from "./drill-editor.svelte";
import { KEEP_EVERYTHING } from "./schedules";

const mockBackend = () => mockDrillBackend("orders", [drillEntry(1, drillReport(true), 30)]);

describe("DrillEditor", () => {
  it("fills the form from the saved schedule and lists the drills", async () => {
    mockBackend();
    const editor = new DrillEditor(new DrillJob());
    await editor.load();
    await settle();
    expect(editor.database).toBe("sales");
    expect(editor.server).toBe("scratch");
    expect(editor.probes.map(({ name, sql, expect }) => ({ name, sql, expect }))).toEqual(salesSchedule().form.probes);
    expect(editor.cadence).toMatchObject({ preset: "weekly", day: "sun", time: "03:00" });
    expect(editor.history.value?.map((e) => e.run_id)).toEqual([1]);

    editor.select("orders");
    await settle();
    expect(editor.server).toBe("");
    expect(editor.probes).toEqual([]);
    expect(editor.cadence.preset).toBe("none");
    expect(editor.history.value).toEqual([]);
  });

  it("saves the drill's fields, keeping the backup's", async () => {
    const { sent } = mockBackend();
    const editor = new DrillEditor(new DrillJob());
    await editor.load();
    editor.server = " postgres://admin@db9:5432/ ";
    editor.addProbe();
    Object.assign(editor.probes[1], { name: "users exist", sql: "select count(*) from users" });
    editor.cadence = { ...editor.cadence, preset: "daily", time: "04:00" };
    await editor.save();
    const saved = salesSchedule().form;
    expect(sent("save_schedule")).toEqual([
      {
        form: {
          connection: "sales",
          backup: saved.backup,
          retention: saved.retention,
          stale_after_seconds: saved.stale_after_seconds,
          drill: "daily 04:00",
          drill_server: "postgres://admin@db9:5432/",
          probes: [...saved.probes, { name: "users exist", sql: "select count(*) from users", expect: ">= 1" }],
          heartbeat: saved.heartbeat,
          base_backup: saved.base_backup,
          wal_stream: saved.wal_stream,
        },
      },
    ]);
    expect(editor.saved?.form.drill).toBe("daily 04:00");
  });

  it("saves a first schedule with no backups and everything kept", async () => {
    const { sent } = mockBackend();
    const editor = new DrillEditor(new DrillJob());
    await editor.load();
    editor.select("orders");
    editor.server = "scratch";
    await editor.save();
    expect(sent("save_schedule")[0].form).toEqual({
      connection: "orders",
      backup: null,
      retention: { ...KEEP_EVERYTHING, keep_last: 0, keep_daily: 0, keep_weekly: 0, keep_monthly: 0 },
      stale_after_seconds: null,
      drill: null,
      drill_server: "scratch",
      probes: [],
      heartbeat: null,
      base_backup: null,
      wal_stream: false,
    });
  });

  it("needs a server for a scheduled drill, and complete probes", async () => {
    const { sent } = mockBackend();
    const editor = new DrillEditor(new DrillJob());
    await editor.load();
    editor.server = "";
    await editor.save();
    expect(editor.form.invalidField).toBe("server");

    editor.server = "scratch";
    editor.addProbe();
    editor.probes[1].name = "half a probe";
    await editor.save();
    expect(editor.form.invalidField).toBe("probe-1-sql");
    await editor.run();
    expect(editor.form.error?.message).toMatch(/^Probe 2 needs a query/);

    editor.removeProbe(editor.probes[1].key);
    await editor.save();
    expect(editor.form.error).toBeNull();
    expect(sent("save_schedule")).toHaveLength(1);
    expect(sent("drill_snapshot")).toEqual([]);
  });

  it("schedules drills without a server when base backups are scheduled: they are drilled here", async () => {
    const withBaseBackups = { ...salesSchedule(), form: { ...salesSchedule().form, base_backup: "0 3 * * *", wal_stream: true } };
    const { sent } = mockDrillBackend("orders", [], withBaseBackups);
    const editor = new DrillEditor(new DrillJob());
    await editor.load();
    expect(editor.drillsBaseBackups).toBe(true);
    editor.server = "";
    await editor.save();
    expect(editor.form.error).toBeNull();
    expect(sent("save_schedule")[0].form).toMatchObject({ drill: "weekly sun 03:00", drill_server: null, base_backup: "0 3 * * *" });

    editor.select("orders");
    expect(editor.drillsBaseBackups).toBe(false);
  });

  it("shows the backend's refusal beside the field it names", async () => {
    let refusal: ApiError = { code: "invalid_input", message: "the drill server URL holds a password", field: "drill_server" };
    mockCommands((cmd) => {
      if (cmd === "databases") return [salesCard()];
      if (cmd === "schedules") return [salesSchedule()];
      if (cmd === "drill_history") return [];
      if (cmd === "save_schedule") throw refusal;
      throw new Error(`unexpected ${cmd}`);
    });
    const editor = new DrillEditor(new DrillJob());
    await editor.load();
    await editor.save();
    expect(editor.form.error?.message).toContain("holds a password");
    expect(editor.form.invalidField).toBe("server");

    refusal = { code: "invalid_input", message: "not a valid cron expression", field: "drill" };
    editor.cadence = { ...editor.cadence, preset: "custom", cron: "0 2 * * 9" };
    await editor.save();
    expect(editor.form.invalidField).toBe("cron");

    refusal = { code: "invalid_input", message: "a probe is incomplete", field: "probes" };
    await editor.save();
    expect(editor.form.invalidField).toBeNull();
  });

  it("runs a drill of the latest snapshot with progress, then lists it", async () => {
    const { sent, drill, channel } = mockBackend();
    const job = new DrillJob();
    const editor = new DrillEditor(job);
    await editor.load();
    const run = editor.run();
    await settle();
    expect(sent("drill_snapshot")[0]).toMatchObject({
      request: { snapshot_id: "latest:sales", server: "scratch", probes: salesSchedule().form.probes },
    });
    expect(job.connection).toBe("sales");
    sendOnChannel(channel(), 0, progress("checking row counts"));
    await settle();
    expect(editor.outcome?.status === "running" && editor.outcome.progress?.phase).toBe("checking row counts");

    editor.select("orders");
    expect(editor.outcome).toBeNull();
    editor.select("sales");
    drill.resolve(drillReport(false));
    await run;
    expect(editor.outcome?.status === "done" && editor.outcome.result.passed).toBe(false);
    expect(editor.history.value?.map((e) => e.run_id)).toEqual([2, 1]);
  });
});
