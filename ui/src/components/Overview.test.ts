import type { Channel } from "@tauri-apps/api/core";
import { mockIPC } from "@tauri-apps/api/mocks";
import { fireEvent, render } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { BackupReport, DatabaseCard, JobProgress, RepositoryOverview } from "../lib/bindings";
import { CheckpointJob } from "../lib/database-jobs.svelte";
import { deferred, drillEntry, drillReport, progress, REPO_ID, salesCard, sendOnChannel, settle } from "../test/fixtures";
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
  const backup = deferred<BackupReport>();
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

function $(container: HTMLElement, selector: string) {
  const element = container.querySelector<HTMLElement>(selector);
  if (!element) throw new Error(`${selector} not found`);
  return element;
}

function renderOverview(job = new CheckpointJob()) {
  const ontimeline = vi.fn();
  const onaddconnection = vi.fn();
  const result = render(Overview, { checkpointJob: job, ontimeline, onaddconnection });
  return { ...result, ontimeline, onaddconnection };
}

describe("Database cards", () => {
  it("show each connection's last backup", async () => {
    mockBackend(() => [salesCard(), { ...salesCard(), connection: { ...salesCard().connection, name: "fresh" }, last_backup: null, snapshot_count: 0 }]);
    const { container, ontimeline } = renderOverview();
    await settle();
    const card = $(container, '#database-cards .database-card[data-name="sales"]');
    expect(card.textContent).toContain("postgres://app@db1.example:5432/sales");
    expect(card.textContent).toContain("2 hours ago");
    expect(card.textContent).toContain("Checkpoint");
    expect(card.textContent).toContain("before 16 → 17 upgrade");
    expect($(card, ".database-count").textContent).toBe("2");
    expect($(container, '.database-card[data-name="fresh"]').textContent).toContain("never backed up");

    await fireEvent.click($(card, ".timeline-button"));
    expect(ontimeline).toHaveBeenCalledWith("sales");
  });

  it("colour each card by its backups' freshness, with the next backup and the last drill", async () => {
    const card = (name: string, changes: Partial<DatabaseCard>): DatabaseCard => ({ ...salesCard(), connection: { ...salesCard().connection, name }, ...changes });
    mockBackend(() => [
      card("fresh", { freshness: "green", next_backup: new Date(Date.now() + 3 * 3600_000 + 60_000).toISOString(), last_drill: drillEntry(1, drillReport(true), 2) }),
      card("late", { freshness: "amber", last_drill: drillEntry(2, drillReport(false), 26) }),
      card("stale", { freshness: "red" }),
      card("manual", {}),
    ]);
    const { container } = renderOverview();
    await settle();
    const freshness = Array.from(container.querySelectorAll<HTMLElement>(".database-card")).map((c) => [
      c.dataset.name,
      c.dataset.freshness,
      c.querySelector(".freshness-badge")?.textContent,
    ]);
    expect(freshness).toEqual([
      ["fresh", "green", "On schedule"],
      ["late", "amber", "Backup overdue"],
      ["stale", "red", "No recent backup"],
      ["manual", "unscheduled", "No schedule"],
    ]);
    const fresh = $(container, '.database-card[data-name="fresh"]');
    expect($(fresh, ".database-next").textContent).toBe("in 3 hours");
    expect($(fresh, ".database-drill").textContent).toBe("Drill passed 2 hours ago");
    expect($(fresh, ".database-drill").dataset.passed).toBe("true");
    const late = $(container, '.database-card[data-name="late"]');
    expect($(late, ".database-drill").textContent).toBe("Drill FAILED 1 day ago: row counts");
    expect($(late, ".database-drill").dataset.passed).toBe("false");
    expect(late.querySelector(".database-next")).toBeNull();
    expect($(container, '.database-card[data-name="manual"]').querySelector(".database-drill")).toBeNull();
  });

  it("offer to add the first connection", async () => {
    mockBackend(() => []);
    const { container, onaddconnection } = renderOverview();
    await settle();
    await fireEvent.click($(container, "#add-first-connection"));
    expect(onaddconnection).toHaveBeenCalled();
  });

  it("take a labelled checkpoint, with progress, then reload", async () => {
    const { backup, calls, args } = mockBackend(() => [salesCard()]);
    const { container } = renderOverview();
    await settle();

    await fireEvent.click($(container, '.database-card[data-name="sales"] .checkpoint-button'));
    await settle();
    expect(document.activeElement?.id).toBe("checkpoint-label");
    expect($(container, "#checkpoint-label").getAttribute("placeholder")).toContain("before 16 → 17 upgrade");
    await fireEvent.click($(container, "#checkpoint-ok"));
    await settle();
    expect($(container, "#checkpoint-label-error").textContent).toMatch(/what the checkpoint is for/);
    expect(calls.some((c) => c.cmd === "backup_now")).toBe(false);

    await fireEvent.input($(container, "#checkpoint-label"), { target: { value: " before the upgrade " } });
    await fireEvent.click($(container, "#checkpoint-ok"));
    await settle();
    expect(container.querySelector("#checkpoint")).toBeNull();
    expect(args().request).toEqual({ connection: "sales", checkpoint_label: "before the upgrade" });

    sendOnChannel(args().onProgress, 0, progress("dumping", 2 * 1024 * 1024, null, "public.orders", 12));
    await settle();
    expect($(container, "#checkpoint-phase").textContent).toBe("dumping");
    expect(container.textContent).toContain("2.0 MiB");
    expect($(container, "#checkpoint-item").textContent).toBe("table 12: public.orders");
    expect(container.querySelector("#checkpoint-cancel-job")).not.toBeNull();
    expect(($(container, ".checkpoint-button") as HTMLButtonElement).disabled).toBe(true);

    const loadsBefore = calls.filter((c) => c.cmd === "databases").length;
    backup.resolve(report);
    await settle();
    expect($(container, "#checkpoint-result").textContent).toBe(
      "Checkpoint abcdef01 saved: 12 tables, 3,456 rows, 5.0 MiB stored (1.0 MiB new in the repository).",
    );
    expect(container.querySelector("#checkpoint-cancel-job")).toBeNull();
    expect(calls.filter((c) => c.cmd === "databases").length).toBeGreaterThan(loadsBefore);
  });

  it("cancel a checkpoint, and show a failed one's error", async () => {
    const { backup, calls, args } = mockBackend(() => [salesCard()]);
    const job = new CheckpointJob();
    const { container } = renderOverview(job);
    await settle();
    job.start("sales", "x");
    await settle();
    await fireEvent.click($(container, "#checkpoint-cancel-job"));
    await settle();
    expect(calls.find((c) => c.cmd === "cancel_job")?.args).toEqual({ job: args().job });
    backup.reject({ code: "cancelled", message: "cancelled" });
    await settle();
    expect($(container, "#checkpoint-result").textContent).toContain("cancelled");

    mockBackend(() => [salesCard()]).backup.reject({ code: "other", message: "pg_dump failed: permission denied for table orders" });
    await job.start("sales", "y");
    await settle();
    expect($(container, "#checkpoint-error").textContent).toContain("permission denied");
  });
});
