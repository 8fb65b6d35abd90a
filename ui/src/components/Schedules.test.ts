import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type {
  ApiToken, ApiTokenRequest, ChannelRequest, CheckpointApiView, NotificationPrefs, RetentionPolicy, RetentionPreviewEntry, ScheduleForm, ScheduleView } from "../lib/bindings";
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
  let api: CheckpointApiView = { port: null, url: null, error: null, tokens: [] };
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
      case "checkpoint_api":
        return api;
      case "set_checkpoint_api": {
        const port = a.port as number | null;
        api = { ...api, port, url: port === null ? null : `http://127.0.0.1:${port}` };
        return api;
      }
      case "add_api_token": {
        const request = a.request as ApiTokenRequest;
        const token: ApiToken = { name: request.name, scope: "checkpoint", database: request.database, hint: "lbt_AbCdEf…", created_at: "2026-12-01T10:00:00Z", last_used: null };
        api = { ...api, tokens: [...api.tokens, token] };
        return { name: request.name, token: "lbt_AbCdEfsecret", api };
      }
      case "revoke_api_token":
        api = { ...api, tokens: api.tokens.filter((t) => t.name !== a.name) };
        return api;
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

  it("enables point-in-time recovery: base backups and the WAL stream, warned when WAL comes alone", async () => {
    const sent = mockBackend();
    await renderLoaded();
    const stream = screen.getByRole<HTMLInputElement>("checkbox", { name: /Stream the server’s WAL/ });
    expect(stream.checked).toBe(false);
    await fireEvent.click(stream);
    expect(screen.getByRole("status").textContent).toContain("WAL alone recovers nothing");

    await choose(select("Base backups"), "weekly");
    expect(screen.queryByText(/WAL alone recovers nothing/)).toBeNull();
    await fireEvent.click(screen.getByRole("button", { name: "Save schedule" }));
    await waitFor(() => expect(sent("save_schedule")).toHaveLength(1));
    expect(sent("save_schedule")[0].form).toMatchObject({ backup: "daily 02:30", base_backup: "weekly sun 02:00", wal_stream: true });
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

  it("serves the checkpoint API on a port, shows a new token once and revokes it", async () => {
    const sent = mockBackend();
    render(Schedules);
    const port = await screen.findByLabelText("Port on 127.0.0.1");
    expect((await screen.findByText("No tokens yet: nobody can trigger a checkpoint.")).id).toBe("api-tokens-empty");

    await type(port, "80a");
    await fireEvent.click(screen.getByRole("button", { name: "Serve the API" }));
    expect(port.getAttribute("aria-invalid")).toBe("true");
    expect(sent("set_checkpoint_api")).toEqual([]);
    await type(port, "8600");
    await fireEvent.click(screen.getByRole("button", { name: "Serve the API" }));
    expect((await screen.findByText("Serving on http://127.0.0.1:8600")).id).toBe("api-status");
    expect(sent("set_checkpoint_api")).toEqual([{ port: 8600 }]);

    await type(screen.getByLabelText("Who holds it"), "deploy-pipeline");
    await type(screen.getByLabelText(/Only for the connection/), "sales");
    await fireEvent.click(screen.getByRole("button", { name: "Make a token" }));
    const secret = await screen.findByLabelText<HTMLInputElement>("The new token");
    expect(secret.value).toBe("lbt_AbCdEfsecret");
    expect(sent("add_api_token")).toEqual([{ request: { name: "deploy-pipeline", database: "sales" } }]);
    const row = document.getElementById("api-token-deploy-pipeline")!;
    expect(row.textContent).toContain("checkpoints of sales");
    expect(row.textContent).toContain("never used");
    expect(row.textContent).not.toContain("secret");

    await fireEvent.click(screen.getByRole("button", { name: "Revoke" }));
    await fireEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Revoke" }));
    await waitFor(() => expect(document.getElementById("api-token-deploy-pipeline")).toBeNull());
    expect(sent("revoke_api_token")).toEqual([{ name: "deploy-pipeline" }]);
    expect(screen.queryByLabelText("The new token")).toBeNull();

    await fireEvent.click(screen.getByRole("button", { name: "Stop serving" }));
    expect((await screen.findByText("Not serving.")).id).toBe("api-status");
  });
});
