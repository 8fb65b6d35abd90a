import { fireEvent, render } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { NotificationPrefs, RetentionPolicy, RetentionPreviewEntry, ScheduleForm, ScheduleView } from "../lib/bindings";
import { mockCommands, salesCard, salesSchedule, salesTimeline, settle } from "../test/fixtures";
import Schedules from "./Schedules.svelte";

const PREFS: NotificationPrefs = { failures: true, restores: true, staleness: true, successes: false };

/** Three snapshots, newest first: a checkpoint (always kept), then two manual ones kept by keep_last. */
function preview(policy: RetentionPolicy): RetentionPreviewEntry[] {
  const [older, checkpoint] = salesTimeline();
  const middle = { ...older.summary, id: "2222bbbb3333cccc", short_id: "2222bbbb", time: new Date(Date.now() - 24 * 3600_000).toISOString() };
  return [
    { snapshot: checkpoint.summary, keep: ["checkpoint"] },
    { snapshot: middle, keep: policy.keep_last >= 1 ? ["last"] : [] },
    { snapshot: older.summary, keep: policy.keep_last >= 2 ? ["last", "daily"] : [] },
  ];
}

function mockBackend(view: ScheduleView = salesSchedule()) {
  return mockCommands((cmd, a) => {
    switch (cmd) {
      case "databases":
        return [salesCard()];
      case "schedules":
        return [view];
      case "retention_preview":
        return preview(a.policy as RetentionPolicy);
      case "save_schedule": {
        const form = a.form as ScheduleForm;
        return { ...view, form: { ...form, backup: "15 4 * * 1" }, backup: { ...view.backup, cron: "15 4 * * 1" } };
      }
      case "notification_prefs":
        return PREFS;
      case "set_notification_prefs":
        return (a as { prefs: NotificationPrefs }).prefs;
      case "desktop_settings":
        return { keep_running_in_tray: true, start_at_login: false };
    }
    throw new Error(`unexpected ${cmd}`);
  });
}

function $<T extends HTMLElement = HTMLElement>(container: HTMLElement, selector: string) {
  const element = container.querySelector<T>(selector);
  if (!element) throw new Error(`${selector} not found`);
  return element;
}

async function choose(container: HTMLElement, selector: string, value: string) {
  const select = $<HTMLSelectElement>(container, selector);
  select.value = value;
  await fireEvent.change(select);
}

async function type(container: HTMLElement, selector: string, value: string) {
  await fireEvent.input($(container, selector), { target: { value } });
}

const rows = (container: HTMLElement) =>
  Array.from(container.querySelectorAll<HTMLElement>("#retention-preview .preview-row")).map((r) => [r.dataset.id, r.dataset.keep]);

describe("Schedules", () => {
  it("previews which snapshots the retention keeps, again as it is edited", async () => {
    const sent = mockBackend();
    const { container } = render(Schedules);
    await settle();
    expect($<HTMLSelectElement>(container, "#schedule-database").value).toBe("sales");
    expect($<HTMLInputElement>(container, "#keep-daily").value).toBe("7");

    expect(rows(container)).toEqual([
      ["3333cccc4444dddd", "true"],
      ["2222bbbb3333cccc", "false"],
      ["1111aaaa2222bbbb", "false"],
    ]);
    expect($(container, "#retention-summary").textContent).toBe("1 kept, 2 would be removed");
    const [checkpoint, removed] = container.querySelectorAll(".preview-row");
    expect(checkpoint.textContent).toContain("Checkpoint");
    expect(checkpoint.textContent).toContain("before 16 → 17 upgrade");
    expect(checkpoint.textContent).toContain("3333cccc");
    expect(checkpoint.textContent).toContain("checkpoint");
    expect(removed.textContent).toContain("removed by this policy");

    await type(container, "#keep-last", "2");
    await new Promise((resolve) => setTimeout(resolve, 400));
    await settle();
    expect(sent("retention_preview").at(-1)).toEqual({ connection: "sales", policy: { keep_last: 2, keep_daily: 7, keep_weekly: 0, keep_monthly: 0 } });
    expect(rows(container).map(([, keep]) => keep)).toEqual(["true", "true", "true"]);
    expect($(container, "#retention-summary").textContent).toBe("All 3 kept, none would be removed");
    expect(container.querySelector('.preview-row[data-id="1111aaaa2222bbbb"]')?.textContent).toContain("newest");
  });

  it("shows the saved schedule's status and a raised alarm", async () => {
    mockBackend({ ...salesSchedule(), stale_since: "2025-03-02T02:30:00Z" });
    const { container } = render(Schedules);
    await settle();
    expect($<HTMLSelectElement>(container, "#schedule-preset").value).toBe("daily");
    expect($<HTMLInputElement>(container, "#schedule-time").value).toBe("02:30");
    expect($(container, "#schedule-status").textContent).toContain("At 02:30");
    expect($(container, "#schedule-status-next").textContent).toContain("(in 5 hours)");
    expect($(container, "#schedule-status-last").textContent).toContain("Succeeded 19 hours ago");
    expect($(container, "#schedule-stale").textContent).toContain("No recent backup");
  });

  it("edits the preset with its own inputs and saves, keeping the drill", async () => {
    const sent = mockBackend();
    const { container } = render(Schedules);
    await settle();

    await choose(container, "#schedule-preset", "custom");
    expect($<HTMLInputElement>(container, "#schedule-cron").value).toBe("");
    expect(container.querySelector("#schedule-time")).toBeNull();
    await choose(container, "#schedule-preset", "hourly");
    expect(container.querySelector("#schedule-cron")).toBeNull();
    await choose(container, "#schedule-preset", "weekly");
    await choose(container, "#schedule-day", "mon");
    await type(container, "#schedule-time", "04:15");
    await type(container, "#stale-after-hours", "200");

    await fireEvent.click($(container, "#schedule-save"));
    await settle();
    const saved = salesSchedule().form;
    expect(sent("save_schedule")).toEqual([
      { form: { ...saved, backup: "weekly mon 04:15", stale_after_hours: 200 } },
    ]);
    expect($(container, "#schedule-saved").textContent).toMatch(/^Saved\. Next backup: .+\(in 5 hours\)\.$/);
    expect($<HTMLSelectElement>(container, "#schedule-preset").value).toBe("weekly");
  });

  it("saves a notification choice when it is made", async () => {
    const sent = mockBackend();
    const { container } = render(Schedules);
    await settle();
    const successes = $<HTMLInputElement>(container, "#notify-successes");
    expect(successes.checked).toBe(false);
    expect(successes.closest("label")?.textContent).toContain("Successes (off by default)");
    expect($<HTMLInputElement>(container, "#notify-failures").checked).toBe(true);
    await fireEvent.click(successes);
    await settle();
    expect(sent("set_notification_prefs")).toEqual([{ prefs: { ...PREFS, successes: true } }]);
    expect(successes.checked).toBe(true);
  });
});
