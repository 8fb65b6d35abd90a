import type { Channel } from "@tauri-apps/api/core";
import { mockIPC } from "@tauri-apps/api/mocks";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { JobProgress, SnapshotDetail, TimelineEntry, VerifyReport } from "../lib/bindings";
import { RehearsalJob, VerifyJob } from "../lib/database-jobs.svelte";
import { deferred, progress, salesCard, salesFacts, salesTimeline, sendOnChannel } from "../test/fixtures";
import Timeline from "./Timeline.svelte";

const other = { ...salesCard(), connection: { ...salesCard().connection, name: "orders" } };

function detailOf(entry: TimelineEntry, verified = entry.verified): SnapshotDetail {
  return {
    summary: entry.summary,
    verified,
    kept_forever: false,
    server_databases: [],
    chunks: 3,
    postgres: salesFacts({
      extensions: [{ name: "pg_trgm", version: "1.6", schema: "public" }],
      database_size: 8 * 1024 * 1024,
      row_counts: { "public.orders": 990, "public.customers": 10 },
    }),
  };
}

function mockBackend() {
  let entries = salesTimeline();
  const verify = deferred<VerifyReport>();
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  let channel: Channel<JobProgress> | undefined;
  mockIPC((cmd, args) => {
    const a = args as Record<string, unknown>;
    calls.push({ cmd, args: a });
    switch (cmd) {
      case "databases":
        return [salesCard(), other];
      case "timeline":
        return a.name === "sales" ? entries : [];
      case "snapshot_detail":
        return detailOf(entries.find((e) => e.summary.id === a.id)!);
      case "delete_snapshot": {
        const gone = entries.find((e) => e.summary.id === a.id)!;
        entries = entries.filter((e) => e !== gone);
        return gone.summary;
      }
      case "set_keep_forever":
        return { ...detailOf(entries.find((e) => e.summary.id === a.id)!), kept_forever: a.keep as boolean };
      case "verify_snapshot":
        channel = a.onProgress as Channel<JobProgress>;
        return verify.promise.then((report) => {
          entries = entries.map((e) => (e.summary.id === a.id ? { ...e, verified: true } : e));
          return report;
        });
    }
    throw new Error(`unexpected ${cmd}`);
  });
  return { calls, verify, channel: () => channel! };
}

const snapshotList = (database = "sales") => screen.getByRole("list", { name: `Snapshots of ${database}, newest first` });
const rows = () => within(snapshotList()).getAllByRole("listitem");
/** The row of a snapshot (its id is not shown: the rows are told apart by it in data-id). */
const row = (id: string) => rows().find((r) => r.dataset.id === id)!;

/** Renders the screen once the database's snapshots are listed. */
async function renderLoaded(database: string | null, onrestore = vi.fn()) {
  render(Timeline, { database, verifyJob: new VerifyJob(), rehearsalJob: new RehearsalJob(), onrestore, homeDir: "/home/ana" });
  await screen.findByRole("list", { name: "Snapshots of sales, newest first" });
}

/** Opens the older snapshot (the manual backup) and waits for its detail. */
async function openManual() {
  await fireEvent.click(within(snapshotList()).getByRole("button", { name: /Manual/ }));
  const detail = await screen.findByRole("region", { name: "Snapshot 1111aaaa" });
  await within(detail).findByText("1111aaaa2222bbbb");
  return detail;
}

describe("Timeline", () => {
  it("charts and lists the preselected database's snapshots, newest first", async () => {
    const { calls } = mockBackend();
    await renderLoaded("sales");
    expect(screen.getByRole<HTMLSelectElement>("combobox", { name: "Database" }).value).toBe("sales");
    expect(calls.find((c) => c.cmd === "timeline")?.args).toEqual({ name: "sales" });

    // The chart is one image to assistive technology: its bars, flags and marks have no roles, so CSS selectors count them.
    const chart = screen.getByRole("img", { name: "Snapshots over time: size as bars, backup duration as a line" });
    expect(chart.querySelectorAll("rect.chart-bar")).toHaveLength(2);
    const flags = chart.querySelectorAll(".checkpoint-flag");
    expect(flags).toHaveLength(1);
    expect(flags[0].textContent).toContain("before 16 → 17 upgrade");
    expect(chart.querySelectorAll(".verified-mark")).toHaveLength(1);
    expect(chart.querySelectorAll(".drilled-mark")).toHaveLength(1);
    expect(chart.querySelector("rect.chart-bar-checkpoint title")?.textContent).toMatch(/verified · drilled$/);
    expect(chart.querySelector("rect.chart-bar-checkpoint title")?.textContent).toContain("took 7.0 s");

    const [newest, older] = rows();
    expect(rows().map((r) => r.dataset.id)).toEqual(["3333cccc4444dddd", "1111aaaa2222bbbb"]);
    expect(newest.textContent).toContain("Checkpoint");
    expect(newest.textContent).toContain("before 16 → 17 upgrade");
    expect(newest.textContent).toContain("5.0 MiB");
    expect(newest.textContent).toContain("7.0 s");
    expect(newest.textContent).toContain("1,000 rows");
    // Who asked for the checkpoint through the API; the older backup was taken here.
    expect(newest.querySelector(".snapshot-requested-by")?.textContent).toBe("by deploy-pipeline");
    expect(older.querySelector(".snapshot-requested-by")).toBeNull();
    expect(within(newest).queryByText("Verified")).not.toBeNull();
    expect(within(newest).getByText("Drilled").textContent).toBe("Drilled");
    expect(older.textContent).toContain("Manual");
    expect(within(older).queryByText("Verified")).toBeNull();
    expect(within(older).queryByText("Drilled")).toBeNull();
  });

  it("picks the first database without a preselection, and follows the select", async () => {
    mockBackend();
    await renderLoaded(null);
    expect(rows()).toHaveLength(2);
    await fireEvent.change(screen.getByRole("combobox", { name: "Database" }), { target: { value: "orders" } });
    expect(await screen.findByText(/^No snapshots of orders yet/)).toBeTruthy();
    expect(screen.queryByRole("list", { name: /^Snapshots of/ })).toBeNull();
  });

  it("opens a snapshot's detail, verifies it and offers to restore it", async () => {
    const { verify, channel } = mockBackend();
    const onrestore = vi.fn();
    await renderLoaded("sales", onrestore);
    const detail = await openManual();

    expect(detail.textContent).toContain("1111aaaa2222bbbb");
    expect(detail.textContent).toContain("4.0 MiB in 3 chunks");
    expect(detail.textContent).toContain("--format=custom --compress=0");
    expect(detail.textContent).toContain("pg_trgm 1.6 (public)");
    expect(detail.textContent).toContain("8.0 MiB");
    const table = within(detail).getByRole("table", { name: "Rows per table at the time of the backup" });
    const [, body] = within(table).getAllByRole("rowgroup");
    expect(within(body).getAllByRole("row").map((r) => r.textContent)).toEqual(["public.customers10", "public.orders990"]);

    await fireEvent.click(within(detail).getByRole("button", { name: "Verify" }));
    await waitFor(() => expect(channel()).toBeDefined());
    sendOnChannel(channel(), 0, progress("reading", 1024, 4096));
    expect(await within(detail).findByText("reading")).toBeTruthy();
    verify.resolve({ snapshot_id: "1111aaaa2222bbbb", size: 4 * 1024 * 1024, sha256: "aa", archive_entries: 42, seconds: 1 });
    expect((await within(detail).findByRole("status")).textContent).toBe("Intact: 4.0 MiB authenticated, SHA-256 matches, pg_restore read 42 entries.");
    expect(await within(row("1111aaaa2222bbbb")).findByText("Verified")).toBeTruthy();

    await fireEvent.click(within(detail).getByRole("button", { name: "Restore…" }));
    expect(onrestore).toHaveBeenCalledWith("sales", "1111aaaa2222bbbb");
  });

  it("keeps a snapshot forever, and returns it to retention", async () => {
    const { calls } = mockBackend();
    await renderLoaded("sales");
    const detail = await openManual();
    const keep = within(detail).getByRole("button", { name: "Keep forever" });

    await fireEvent.click(keep);
    expect((await within(detail).findByText("Kept forever")).textContent).toBe("Kept forever");
    expect(keep.textContent?.trim()).toBe("Return to retention");

    await fireEvent.click(keep);
    await waitFor(() => expect(within(detail).queryByText("Kept forever")).toBeNull());
    expect(calls.filter((c) => c.cmd === "set_keep_forever").map((c) => c.args)).toEqual([
      { id: "1111aaaa2222bbbb", keep: true },
      { id: "1111aaaa2222bbbb", keep: false },
    ]);
  });

  it("deletes one snapshot only once its id is typed out", async () => {
    const { calls } = mockBackend();
    await renderLoaded("sales");
    const detail = await openManual();
    await fireEvent.click(within(detail).getByRole("button", { name: "Delete…" }));
    const dialog = await screen.findByRole("dialog", { name: "Delete this snapshot?" });
    const confirm = within(dialog).getByRole("button", { name: "Delete snapshot" }) as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);
    const typed = within(dialog).getByRole("textbox", { name: "Type 1111aaaa to delete it" });
    await fireEvent.input(typed, { target: { value: "1111aaab" } });
    expect(confirm.disabled).toBe(true);
    await fireEvent.input(typed, { target: { value: "1111aaaa" } });
    expect(confirm.disabled).toBe(false);

    await fireEvent.click(confirm);
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(calls.filter((c) => c.cmd === "delete_snapshot").map((c) => c.args)).toEqual([{ id: "1111aaaa2222bbbb" }]);
    await waitFor(() => expect(rows().some((r) => r.dataset.id === "1111aaaa2222bbbb")).toBe(false));
    expect(screen.queryByRole("region", { name: "Snapshot 1111aaaa" })).toBeNull();
  });
});
