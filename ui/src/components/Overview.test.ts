import type { Channel } from "@tauri-apps/api/core";
import { mockIPC } from "@tauri-apps/api/mocks";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { BackupReport, DatabaseCard, JobProgress, RepositoryOverview, SavedBackup } from "../lib/bindings";
import { CheckpointJob } from "../lib/database-jobs.svelte";
import { deferred, drillEntry, drillReport, progress, REPO_ID, salesCard, sendOnChannel } from "../test/fixtures";
import Overview from "./Overview.svelte";

const overview: RepositoryOverview = {
  id: REPO_ID,
  location: "/mnt/nas/lifeboat",
  label: "",
  created: "2025-03-01T10:00:00Z",
  format_version: 1,
  snapshots: 0,
  damaged_snapshots: 0,
  tags: [],
  logical_bytes: 0,
  stored_bytes: 0,
  packs: 0,
  dedup_ratio: null,
  keychain: { state: "cached" },
};

const report: BackupReport = {
  snapshot_id: "abcdef0123456789",
  name: "sales",
  database: "sales",
  server_version: "16.4",
  pg_dump_version: "16.4",
  size: 5 * 1024 * 1024,
  sha256: "aa",
  added_bytes: 1024 * 1024,
  tables: 12,
  rows: 3456,
  seconds: 3,
  warnings: [],
};

type BackupArgs = { request: unknown; job: number; onProgress: Channel<JobProgress> };

function mockBackend(cards: () => DatabaseCard[]) {
  const backup = deferred<SavedBackup>();
  const calls: { cmd: string; args: unknown }[] = [];
  let backupArgs: BackupArgs | undefined;
  mockIPC((cmd, args) => {
    calls.push({ cmd, args });
    switch (cmd) {
      case "repository_overview":
        return overview;
      case "databases":
        return cards();
      case "backup_now":
        backupArgs = args as BackupArgs;
        return backup.promise;
      case "cancel_job":
        return true;
    }
    throw new Error(`unexpected ${cmd}`);
  });
  return { backup, calls, args: () => backupArgs! };
}

/** Renders the screen once it has loaded: the repository's part (no backups in it) comes last. */
async function renderOverview(job = new CheckpointJob()) {
  const ontimeline = vi.fn();
  const onaddconnection = vi.fn();
  const result = render(Overview, { checkpointJob: job, ontimeline, onaddconnection });
  await screen.findByRole("heading", { name: "No backups yet" });
  return { ...result, ontimeline, onaddconnection };
}

const cardsRegion = () => screen.getByRole("region", { name: "Databases" });
const cards = () => within(cardsRegion()).getAllByRole("listitem");

/** The card of a connection: the list item headed by its name. */
function card(name: string): HTMLElement {
  const item = cards().find((c) => within(c).queryByRole("heading", { name }) !== null);
  if (!item) throw new Error(`no card for ${name}`);
  return item;
}

/** What a card's facts say for `term`: the <dd> after its <dt>. */
const fact = (scope: HTMLElement, term: string) => within(scope).getByText(term).nextElementSibling as HTMLElement;

describe("Database cards", () => {
  it("show each connection's last backup", async () => {
    mockBackend(() => [salesCard(), { ...salesCard(), connection: { ...salesCard().connection, name: "fresh" }, last_backup: null, snapshot_count: 0 }]);
    const { ontimeline } = await renderOverview();
    const sales = card("sales");
    expect(sales.textContent).toContain("postgres://app@db1.example:5432/sales");
    expect(sales.textContent).toContain("2 hours ago");
    expect(sales.textContent).toContain("Checkpoint");
    expect(sales.textContent).toContain("before 16 → 17 upgrade");
    expect(fact(sales, "Snapshots").textContent).toBe("2");
    expect(card("fresh").textContent).toContain("never backed up");

    await fireEvent.click(within(sales).getByRole("button", { name: "Timeline of sales" }));
    expect(ontimeline).toHaveBeenCalledWith("sales");
  });

  it("colour each card by its backups' freshness, with the next backup and the last drill", async () => {
    const entry = (name: string, changes: Partial<DatabaseCard>): DatabaseCard => ({ ...salesCard(), connection: { ...salesCard().connection, name }, ...changes });
    mockBackend(() => [
      entry("fresh", { freshness: "green", next_backup: new Date(Date.now() + 3 * 3600_000 + 60_000).toISOString(), last_drill: drillEntry(1, drillReport(true), 2) }),
      entry("late", { freshness: "amber", last_drill: drillEntry(2, drillReport(false), 26) }),
      entry("stale", { freshness: "red" }),
      entry("manual", {}),
    ]);
    await renderOverview();
    const expected = [
      ["fresh", "green", "On schedule"],
      ["late", "amber", "Backup overdue"],
      ["stale", "red", "No recent backup"],
      ["manual", "unscheduled", "No schedule"],
    ];
    expect(cards().map((c) => within(c).getByRole("heading").textContent)).toEqual(expected.map(([name]) => name));
    for (const [name, freshness, badge] of expected) {
      expect(card(name).dataset.freshness).toBe(freshness);
      expect(within(card(name)).getByText(badge)).toBeTruthy();
    }
    const fresh = within(card("fresh"));
    expect(fresh.getByText("in 3 hours")).toBeTruthy();
    // The drill's time is in a paragraph that says whether it passed.
    expect(fresh.getByText("Drill passed 2 hours ago").parentElement?.dataset.passed).toBe("true");
    const late = within(card("late"));
    expect(late.getByText("Drill FAILED 1 day ago: row counts").parentElement?.dataset.passed).toBe("false");
    expect(late.queryByText("Next backup")).toBeNull();
    expect(within(card("manual")).queryByText(/^Drill /)).toBeNull();
  });

  it("say where each database's off-site copy stands", async () => {
    const last = salesCard().last_backup!;
    const copy = (hoursAgo: number, id: string) => ({
      location: "/mnt/usb/lifeboat",
      snapshot_id: id,
      snapshot_time: new Date(Date.now() - hoursAgo * 3600_000).toISOString(),
      copied_at: new Date().toISOString(),
    });
    const entry = (name: string, changes: Partial<DatabaseCard>): DatabaseCard => ({ ...salesCard(), connection: { ...salesCard().connection, name }, ...changes });
    mockBackend(() => [
      entry("copied", { offsite: { location: "/mnt/usb/lifeboat", newest: { ...copy(2, last.id), snapshot_time: last.time }, behind: false } }),
      entry("behind", { offsite: { location: "/mnt/usb/lifeboat", newest: copy(50, "older"), behind: true } }),
      entry("never", { offsite: { location: "/mnt/usb/lifeboat", newest: null, behind: true } }),
      entry("local-only", {}),
    ]);
    await renderOverview();
    expect(within(card("copied")).getByText("Off-site: up to date in /mnt/usb/lifeboat (2 hours ago)").dataset.behind).toBe("false");
    expect(within(card("behind")).getByText("Off-site: behind: the newest copy in /mnt/usb/lifeboat is from 2 days ago").dataset.behind).toBe("true");
    expect(within(card("never")).getByText("Off-site: not copied to /mnt/usb/lifeboat yet")).toBeTruthy();
    expect(within(card("local-only")).queryByText(/^Off-site/)).toBeNull();
  });

  it("offer to add the first connection", async () => {
    mockBackend(() => []);
    const { onaddconnection } = await renderOverview();
    await fireEvent.click(screen.getByRole("button", { name: "Add a connection" }));
    expect(onaddconnection).toHaveBeenCalled();
  });

  it("take a labelled checkpoint, with progress, then reload", async () => {
    const { backup, calls, args } = mockBackend(() => [salesCard()]);
    await renderOverview();

    await fireEvent.click(within(card("sales")).getByRole("button", { name: "Checkpoint sales" }));
    const dialog = await screen.findByRole("dialog", { name: "Checkpoint sales" });
    const label = within(dialog).getByRole("textbox", { name: "What is it before?" });
    await waitFor(() => expect(document.activeElement).toBe(label));
    expect(label.getAttribute("placeholder")).toContain("before 16 → 17 upgrade");
    await fireEvent.click(within(dialog).getByRole("button", { name: "Take checkpoint" }));
    expect((await within(dialog).findByRole("alert")).textContent).toMatch(/what the checkpoint is for/);
    expect(calls.some((c) => c.cmd === "backup_now")).toBe(false);

    await fireEvent.input(label, { target: { value: " before the upgrade " } });
    await fireEvent.click(within(dialog).getByRole("button", { name: "Take checkpoint" }));
    await waitFor(() => expect(args()).toBeDefined());
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(args().request).toEqual({ connection: "sales", checkpoint_label: "before the upgrade" });

    sendOnChannel(args().onProgress, 0, progress("dumping", 2 * 1024 * 1024, null, "public.orders", 12));
    expect(await screen.findByText("dumping")).toBeTruthy();
    expect(document.body.textContent).toContain("2.0 MiB");
    expect(screen.getByText("table 12: public.orders")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Cancel" })).toBeTruthy();
    expect(screen.getByRole<HTMLButtonElement>("button", { name: "Checkpoint sales" }).disabled).toBe(true);

    const loadsBefore = calls.filter((c) => c.cmd === "databases").length;
    backup.resolve({ scope: "database", report });
    expect((await screen.findByRole("status")).textContent).toBe(
      "Checkpoint abcdef01 saved: 12 tables, 3,456 rows, 5.0 MiB stored (1.0 MiB new in the repository).",
    );
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
    await waitFor(() => expect(calls.filter((c) => c.cmd === "databases").length).toBeGreaterThan(loadsBefore));
  });

  it("cancel a checkpoint, and show a failed one's error", async () => {
    const { backup, calls, args } = mockBackend(() => [salesCard()]);
    const job = new CheckpointJob();
    await renderOverview(job);
    job.start("sales", "x");
    await fireEvent.click(await screen.findByRole("button", { name: "Cancel" }));
    await waitFor(() => expect(calls.find((c) => c.cmd === "cancel_job")?.args).toEqual({ job: args().job }));
    backup.reject({ code: "cancelled", message: "cancelled" });
    expect((await screen.findByRole("status")).textContent).toContain("cancelled");

    mockBackend(() => [salesCard()]).backup.reject({ code: "other", message: "pg_dump failed: permission denied for table orders" });
    await job.start("sales", "y");
    expect((await screen.findByRole("alert")).textContent).toContain("permission denied");
  });
});
