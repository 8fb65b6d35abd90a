import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type {
  ChannelRequest, NotificationPrefs, RetentionPolicy, RetentionPreviewEntry, ScheduleForm, ScheduleView } from "../lib/bindings";
import { mockCommands, salesCard, salesSchedule, salesTimeline } from "../test/fixtures";
import Schedules from "./Schedules.svelte";
import { KEEP_EVERYTHING } from "../lib/schedules";

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
      case "channels":
        return [];
      case "save_channel": {
        const request = a.request as ChannelRequest;
        return [{ name: request.name, kind: "webhook", destination: "slack webhook https://hooks.slack.com/…", format: request.format, routes: request.routes, last_delivery: null }];
      }
      case "test_channel":
        return { attempts: 3, error: "the service answered HTTP 503 Service Unavailable" };
    }
    throw new Error(`unexpected ${cmd}`);
  });
}

async function choose(select: HTMLElement, value: string) {
  await fireEvent.change(select, { target: { value } });
}

async function type(element: HTMLElement, value: string) {
  await fireEvent.input(element, { target: { value } });
}

const select = (name: string) => screen.getByRole<HTMLSelectElement>("combobox", { name });
// Number inputs are spinbuttons; the time input has no role and is found by its label.
const count = (name: string) => screen.getByRole<HTMLInputElement>("spinbutton", { name });
const previewList = () => screen.getByRole("list", { name: "Snapshots of sales, newest first" });
const rows = () =>
  within(previewList())
    .getAllByRole("listitem")
    .map((r) => [r.dataset.id, r.dataset.keep]);
/** What the schedule's status says for `term`: the <dd> after its <dt>. */
const fact = (term: string) => screen.getByText(term).nextElementSibling as HTMLElement;

/** Renders the screen once the retention preview of "sales" is listed. */
async function renderLoaded() {
  render(Schedules);
  await screen.findByRole("list", { name: "Snapshots of sales, newest first" });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("Schedules", () => {
  it("previews which snapshots the retention keeps, again as it is edited", async () => {
    const sent = mockBackend();
    await renderLoaded();
    expect(select("Database").value).toBe("sales");
    expect(count("Daily").value).toBe("7");

    expect(rows()).toEqual([
      ["3333cccc4444dddd", "true"],
      ["2222bbbb3333cccc", "false"],
      ["1111aaaa2222bbbb", "false"],
    ]);
    expect(screen.getByText("1 kept, 2 would be removed")).toBeTruthy();
    const [checkpoint, removed] = within(previewList()).getAllByRole("listitem");
    expect(checkpoint.textContent).toContain("Checkpoint");
    expect(checkpoint.textContent).toContain("before 16 → 17 upgrade");
    expect(checkpoint.textContent).toContain("3333cccc");
    expect(checkpoint.textContent).toContain("checkpoint");
    expect(removed.textContent).toContain("removed by this policy");

    // The preview asks again once typing pauses: the pause is on a fake clock.
    vi.useFakeTimers();
    await type(count("Newest"), "2");
    await vi.advanceTimersByTimeAsync(400);
    expect(sent("retention_preview").at(-1)).toEqual({ connection: "sales", policy: { ...KEEP_EVERYTHING, keep_last: 2, keep_daily: 7, keep_weekly: 0, keep_monthly: 0 } });
    expect(rows().map(([, keep]) => keep)).toEqual(["true", "true", "true"]);
    expect(screen.getByText("All 3 kept, none would be removed")).toBeTruthy();
    const oldest = within(previewList())
      .getAllByRole("listitem")
      .find((r) => r.dataset.id === "1111aaaa2222bbbb");
    expect(oldest?.textContent).toContain("newest");
  });

  it("shows the saved schedule's status and a raised alarm", async () => {
    mockBackend({ ...salesSchedule(), stale_since: "2025-03-02T02:30:00Z" });
    await renderLoaded();
    expect(select("Back up").value).toBe("daily");
    expect(screen.getByLabelText<HTMLInputElement>("At").value).toBe("02:30");
    expect(fact("Runs").textContent).toContain("At 02:30");
    expect(fact("Next backup").textContent).toContain("(in 5 hours)");
    expect(fact("Last scheduled backup").textContent).toContain("Succeeded 19 hours ago");
    expect(screen.getByRole("alert").textContent).toContain("No recent backup");
  });

  it("edits the preset with its own inputs and saves, keeping the drill", async () => {
    const sent = mockBackend();
    await renderLoaded();

    await choose(select("Back up"), "custom");
    expect(screen.getByRole<HTMLInputElement>("textbox", { name: "Cron fields" }).value).toBe("");
    expect(screen.queryByLabelText("At")).toBeNull();
    await choose(select("Back up"), "hourly");
    expect(screen.queryByRole("textbox", { name: "Cron fields" })).toBeNull();
    await choose(select("Back up"), "weekly");
    await choose(select("On"), "mon");
    await type(screen.getByLabelText("At"), "04:15");
    await type(count("Alarm after (hours) (optional)"), "200");

    await fireEvent.click(screen.getByRole("button", { name: "Save schedule" }));
    const saved = await screen.findByRole("status");
    expect(sent("save_schedule")).toEqual([
      { form: { ...salesSchedule().form, backup: "weekly mon 04:15", stale_after_seconds: 200 * 3600 } },
    ]);
    expect(saved.textContent).toMatch(/^Saved\. Next backup: .+\(in 5 hours\)\.$/);
    expect(select("Back up").value).toBe("weekly");
  });

  it("saves a notification choice when it is made", async () => {
    const sent = mockBackend();
    render(Schedules);
    // Its name is its label's text.
    const successes = await screen.findByRole<HTMLInputElement>("checkbox", { name: "Successes (off by default)" });
    expect(successes.checked).toBe(false);
    expect((document.getElementById("notify-failures") as HTMLInputElement).checked).toBe(true);
    await fireEvent.click(successes);
    await waitFor(() => expect(sent("set_notification_prefs")).toEqual([{ prefs: { ...PREFS, successes: true } }]));
    expect(successes.checked).toBe(true);
  });

  it("adds a chat channel and shows a test that did not get through", async () => {
    const sent = mockBackend();
    render(Schedules);
    await type(await screen.findByLabelText("Channel name"), "team-chat");
    await type(screen.getByLabelText("Webhook URL"), "https://hooks.slack.com/services/T0/B0/x");
    await fireEvent.click(document.getElementById("channel-route-success")!);
    await fireEvent.click(screen.getByRole("button", { name: "Add channel" }));
    await waitFor(() =>
      expect(sent("save_channel")).toEqual([
        {
          request: expect.objectContaining({
            name: "team-chat",
            webhook_url: "https://hooks.slack.com/services/T0/B0/x",
            format: "slack",
            routes: ["failure", "restore", "drill", "stale", "success"],
            smtp_url: null,
          }),
        },
      ]),
    );
    expect(await screen.findByText("slack webhook https://hooks.slack.com/…")).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "Send a test" }));
    expect((await screen.findByRole("status")).textContent).toContain("Not delivered after 3 tries: the service answered HTTP 503");
  });
});
