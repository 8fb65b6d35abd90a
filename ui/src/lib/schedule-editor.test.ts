import { describe, expect, it } from "vitest";
import { mockCommands, salesCard, salesSchedule, salesTimeline, settle } from "../test/fixtures";
import type { ApiError, RetentionPolicy, RetentionPreviewEntry, ScheduleForm, ScheduleView } from "./bindings";
import { ScheduleEditor } from "./schedule-editor.svelte";
import { KEEP_EVERYTHING } from "./schedules";

const orders = { ...salesCard(), connection: { ...salesCard().connection, name: "orders" } };

/** What the backend stores for the presets these tests send. */
const EXPANDED: Record<string, string> = { hourly: "0 * * * *", "weekly mon 04:15": "15 4 * * 1", "daily 02:30": "30 2 * * *", "daily 03:00": "0 3 * * *" };

type Handlers = { save_schedule?: (form: ScheduleForm) => ScheduleView; schedules?: () => ScheduleView[] };

function mockBackend(handlers: Handlers = {}) {
  let views = [salesSchedule()];
  const sent = mockCommands((cmd, a) => {
    switch (cmd) {
      case "databases":
        return [salesCard(), orders];
      case "schedules":
        return handlers.schedules ? handlers.schedules() : views;
      case "save_schedule": {
        const form = a.form as ScheduleForm;
        if (handlers.save_schedule) return handlers.save_schedule(form);
        const expand = (cadence: string | null) => cadence && (EXPANDED[cadence] ?? cadence);
        const view = { ...salesSchedule(), form: { ...form, backup: expand(form.backup), base_backup: expand(form.base_backup) } };
        views = [...views.filter((v) => v.form.connection !== form.connection), view];
        return view;
      }
      case "remove_schedule":
        views = views.filter((v) => v.form.connection !== a.connection);
        return null;
      case "retention_preview": {
        const [older, newer] = salesTimeline();
        const policy = a.policy as RetentionPolicy;
        const entries: RetentionPreviewEntry[] = [
          { snapshot: newer.summary, keep: ["checkpoint"] },
          { snapshot: older.summary, keep: policy.keep_last > 1 ? ["last"] : [] },
        ];
        return entries;
      }
    }
    throw new Error(`unexpected ${cmd}`);
  });
  return { sent };
}

describe("ScheduleEditor", () => {
  it("fills the form from the first database's saved schedule and previews its retention", async () => {
    const { sent } = mockBackend();
    const editor = new ScheduleEditor(0);
    await editor.load();
    await settle();
    expect(editor.names).toEqual(["sales", "orders"]);
    expect(editor.database).toBe("sales");
    expect(editor.cadence).toMatchObject({ preset: "daily", time: "02:30" });
    expect(editor.retention).toEqual({ ...KEEP_EVERYTHING, keep_last: 0, keep_daily: 7, keep_weekly: 0, keep_monthly: 0 });
    expect(editor.staleAfterHours).toBeNull();
    expect(editor.ready).toBe(true);
    expect(sent("retention_preview")).toEqual([{ connection: "sales", policy: { ...KEEP_EVERYTHING, keep_last: 0, keep_daily: 7, keep_weekly: 0, keep_monthly: 0 } }]);
    expect(editor.preview.value?.map((e) => e.keep)).toEqual([["checkpoint"], []]);
  });

  it("saves the backup's fields, keeping the drill's, and shows the preset as stored", async () => {
    const { sent } = mockBackend();
    const editor = new ScheduleEditor(0);
    await editor.load();
    editor.cadence = { ...editor.cadence, preset: "weekly", day: "mon", time: "04:15" };
    editor.retention.keep_last = 3;
    editor.retention.keep_daily = null;
    editor.staleAfterHours = 48;
    await editor.save();

    const saved = salesSchedule().form;
    expect(sent("save_schedule")).toEqual([
      {
        form: {
          connection: "sales",
          backup: "weekly mon 04:15",
          retention: { ...KEEP_EVERYTHING, keep_last: 3, keep_daily: 0, keep_weekly: 0, keep_monthly: 0 },
          stale_after_seconds: 172800,
          drill: saved.drill,
          drill_server: saved.drill_server,
          probes: saved.probes,
          heartbeat: null,
          base_backup: null,
          wal_stream: false,
        },
      },
    ]);
    expect(editor.saved?.form.backup).toBe("15 4 * * 1");
    expect(editor.current?.form.backup).toBe("15 4 * * 1");
    expect(editor.cadence).toMatchObject({ preset: "weekly", day: "mon", time: "04:15" });
    expect(editor.saving.error).toBeNull();
  });

  it("saves a first schedule without drills", async () => {
    const { sent } = mockBackend();
    const editor = new ScheduleEditor(0);
    await editor.load();
    editor.select("orders");
    expect(editor.current).toBeNull();
    expect(editor.cadence.preset).toBe("none");
    editor.cadence.preset = "hourly";
    await editor.save();
    expect(sent("save_schedule")[0].form).toEqual({
      connection: "orders",
      backup: "hourly",
      retention: { ...KEEP_EVERYTHING, keep_last: 0, keep_daily: 0, keep_weekly: 0, keep_monthly: 0 },
      stale_after_seconds: null,
      drill: null,
      drill_server: null,
      probes: [],
      heartbeat: null,
      base_backup: null,
      wal_stream: false,
    });
  });

  it("schedules base backups and WAL streaming, and says what to fix in their cadence", async () => {
    const { sent } = mockBackend();
    const editor = new ScheduleEditor(0);
    await editor.load();
    expect(editor.baseCadence.preset).toBe("none");
    expect(editor.walStream).toBe(false);

    editor.baseCadence = { ...editor.baseCadence, preset: "custom", cron: "0 3 *" };
    editor.walStream = true;
    await editor.save();
    expect(editor.saving.invalidField).toBe("base_cron");
    expect(editor.saving.error?.message).toMatch(/^Base backups: .*five cron fields/);
    expect(sent("save_schedule")).toEqual([]);

    editor.baseCadence = { ...editor.baseCadence, preset: "daily", time: "03:00" };
    await editor.save();
    expect(sent("save_schedule")[0].form).toMatchObject({ backup: "daily 02:30", base_backup: "daily 03:00", wal_stream: true });
    expect(editor.saving.error).toBeNull();
    expect(editor.baseCadence).toMatchObject({ preset: "daily", time: "03:00" });

    // Loaded again, as stored.
    const reloaded = new ScheduleEditor(0);
    await reloaded.load();
    expect(reloaded.baseCadence).toMatchObject({ preset: "daily", time: "03:00" });
    expect(reloaded.walStream).toBe(true);
  });

  it("puts the backend's complaint about the base backups' cadence beside it", async () => {
    mockBackend({
      save_schedule: () => {
        throw { code: "invalid_input", message: "no cron expression: 61 3 * * *", field: "base_backup" };
      },
    });
    const editor = new ScheduleEditor(0);
    await editor.load();
    editor.baseCadence = { ...editor.baseCadence, preset: "custom", cron: "61 3 * * *" };
    await editor.save();
    expect(editor.saving.invalidField).toBe("base_cron");
    expect(editor.saving.error?.message).toMatch(/61 3/);
  });

  it("shows what to fix instead of saving or previewing", async () => {
    const { sent } = mockBackend();
    const editor = new ScheduleEditor(0);
    await editor.load();
    editor.cadence.preset = "custom";
    await editor.save();
    expect(editor.saving.invalidField).toBe("cron");
    expect(editor.saving.error?.message).toMatch(/five cron fields/);

    editor.cadence.preset = "daily";
    editor.retention.keep_weekly = -2;
    expect(editor.retentionProblem).toMatch(/whole numbers/);
    await editor.save();
    expect(editor.saving.invalidField).toBe("keep_weekly");
    expect(await editor.previewNow()).toBe(false);
    expect(sent("save_schedule")).toEqual([]);
    expect(sent("retention_preview")).toHaveLength(1);
  });

  it("points at the field the backend names, and only then", async () => {
    let refusal: ApiError = { code: "invalid_input", message: '"0 25 * * *" is not a valid cron expression', field: "backup" };
    mockBackend({
      save_schedule: () => {
        throw refusal;
      },
    });
    const editor = new ScheduleEditor(0);
    await editor.load();
    editor.cadence = { ...editor.cadence, preset: "custom", cron: "0 25 * * *" };
    await editor.save();
    expect(editor.saving.error?.message).toContain("not a valid cron expression");
    expect(editor.saving.invalidField).toBe("cron");
    expect(editor.saved).toBeNull();

    // A preset's time is the backup field as this form shows it.
    editor.cadence = { ...editor.cadence, preset: "daily", time: "02:30" };
    await editor.save();
    expect(editor.saving.invalidField).toBe("time");

    // Invalid input about no field of this form is the form's, not the cron's.
    refusal = { code: "invalid_input", message: "no connection is named `sales`" };
    editor.cadence = { ...editor.cadence, preset: "custom", cron: "0 2 * * *" };
    await editor.save();
    expect(editor.saving.error?.message).toContain("no connection");
    expect(editor.saving.invalidField).toBeNull();
  });

  it("keeps an alarm delay that is not whole hours as it was saved", async () => {
    const { sent } = mockBackend({
      schedules: () => [{ ...salesSchedule(), form: { ...salesSchedule().form, stale_after_seconds: 5400 } }],
    });
    const editor = new ScheduleEditor(0);
    await editor.load();
    expect(editor.staleAfterHours).toBe(1.5);
    await editor.save();
    expect(sent("save_schedule")[0].form).toMatchObject({ stale_after_seconds: 5400 });
  });

  it("shows the saved heartbeat, saves an edited one and clears an empty one", async () => {
    const { sent } = mockBackend({
      schedules: () => [{ ...salesSchedule(), form: { ...salesSchedule().form, heartbeat: "https://hc.example/ping/abc" } }],
    });
    const editor = new ScheduleEditor(0);
    await editor.load();
    expect(editor.heartbeat).toBe("https://hc.example/ping/abc");
    editor.heartbeat = " https://kuma.example/api/push/k1 ";
    await editor.save();
    expect(sent("save_schedule")[0].form).toMatchObject({ heartbeat: "https://kuma.example/api/push/k1" });
    editor.heartbeat = "  ";
    await editor.save();
    expect(sent("save_schedule")[1].form).toMatchObject({ heartbeat: null });
  });

  it("previews once, after typing pauses", async () => {
    const { sent } = mockBackend();
    const editor = new ScheduleEditor(0);
    await editor.load();
    editor.retention.keep_last = 1;
    editor.previewSoon();
    editor.retention.keep_last = 2;
    editor.previewSoon();
    await settle();
    expect(sent("retention_preview").map((a) => (a.policy as RetentionPolicy).keep_last)).toEqual([0, 2]);
    expect(editor.preview.value?.map((e) => e.keep)).toEqual([["checkpoint"], ["last"]]);
  });

  it("does not save before the saved schedules are known", async () => {
    mockBackend({
      schedules: () => {
        throw { code: "no_repository_open", message: "no repository is open" };
      },
    });
    const editor = new ScheduleEditor(0);
    await editor.load();
    expect(editor.database).toBe("sales");
    expect(editor.schedules.error?.code).toBe("no_repository_open");
    expect(editor.ready).toBe(false);
  });

  it("removes the schedule, leaving no backups scheduled", async () => {
    const { sent } = mockBackend();
    const editor = new ScheduleEditor(0);
    await editor.load();
    await editor.remove();
    expect(sent("remove_schedule")).toEqual([{ connection: "sales" }]);
    expect(editor.current).toBeNull();
    expect(editor.cadence.preset).toBe("none");
    expect(editor.retention.keep_daily).toBe(0);
  });
});
