import type { Channel } from "@tauri-apps/api/core";
import { mockIPC } from "@tauri-apps/api/mocks";
import { fireEvent, render } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { JobProgress, SnapshotDetail, TimelineEntry, VerifyReport } from "../lib/bindings";
import { VerifyJob } from "../lib/database-jobs.svelte";
import { deferred, progress, salesCard, salesFacts, salesTimeline, sendOnChannel, settle } from "../test/fixtures";
import Timeline from "./Timeline.svelte";

const other = { ...salesCard(), connection: { ...salesCard().connection, name: "orders" } };

function detailOf(entry: TimelineEntry, verified = entry.verified): SnapshotDetail {
  return {
    summary: entry.summary,
    verified,
    kept_forever: false,
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

function $(container: HTMLElement, selector: string) {
  const element = container.querySelector<HTMLElement>(selector);
  if (!element) throw new Error(`${selector} not found`);
  return element;
}

describe("Timeline", () => {
  it("charts and lists the preselected database's snapshots, newest first", async () => {
    const { calls } = mockBackend();
    const { container } = render(Timeline, { database: "sales", verifyJob: new VerifyJob(), onrestore: vi.fn() });
    await settle();
    expect(($(container, "#timeline-database") as HTMLSelectElement).value).toBe("sales");
    expect(calls.find((c) => c.cmd === "timeline")?.args).toEqual({ name: "sales" });

    const chart = $(container, "svg#timeline-chart");
    expect(chart.querySelectorAll("rect.chart-bar")).toHaveLength(2);
    const flags = chart.querySelectorAll(".checkpoint-flag");
    expect(flags).toHaveLength(1);
    expect(flags[0].textContent).toContain("before 16 → 17 upgrade");
    expect(chart.querySelectorAll(".verified-mark")).toHaveLength(1);
    expect(chart.querySelectorAll(".drilled-mark")).toHaveLength(1);
    expect(chart.querySelector("rect.chart-bar-checkpoint title")?.textContent).toMatch(/verified · drilled$/);
    expect(chart.querySelector("rect.chart-bar-checkpoint title")?.textContent).toContain("took 7.0 s");

    const rows = Array.from(container.querySelectorAll<HTMLElement>("#timeline-list .snapshot-row"));
    expect(rows.map((r) => r.dataset.id)).toEqual(["3333cccc4444dddd", "1111aaaa2222bbbb"]);
    expect(rows[0].textContent).toContain("Checkpoint");
    expect(rows[0].textContent).toContain("before 16 → 17 upgrade");
    expect(rows[0].textContent).toContain("5.0 MiB");
    expect(rows[0].textContent).toContain("7.0 s");
    expect(rows[0].textContent).toContain("1,000 rows");
    expect(rows[0].querySelector(".verified-badge")).not.toBeNull();
    expect(rows[0].querySelector(".drilled-badge")?.textContent).toBe("Drilled");
    expect(rows[1].textContent).toContain("Manual");
    expect(rows[1].querySelector(".verified-badge")).toBeNull();
    expect(rows[1].querySelector(".drilled-badge")).toBeNull();
  });

  it("picks the first database without a preselection, and follows the select", async () => {
    mockBackend();
    const { container } = render(Timeline, { database: null, verifyJob: new VerifyJob(), onrestore: vi.fn() });
    await settle();
    expect(container.querySelectorAll(".snapshot-row")).toHaveLength(2);
    const select = $(container, "#timeline-database") as HTMLSelectElement;
    select.value = "orders";
    await fireEvent.change(select);
    await settle();
    expect(container.querySelector(".snapshot-row")).toBeNull();
    expect($(container, "#timeline-empty").textContent).toContain("orders");
  });

  it("opens a snapshot's detail, verifies it and offers to restore it", async () => {
    const { verify, channel } = mockBackend();
    const onrestore = vi.fn();
    const { container } = render(Timeline, { database: "sales", verifyJob: new VerifyJob(), onrestore });
    await settle();
    await fireEvent.click($(container, '.snapshot-row[data-id="1111aaaa2222bbbb"] button'));
    await settle();

    const detail = $(container, "#snapshot-detail");
    expect(detail.textContent).toContain("1111aaaa2222bbbb");
    expect(detail.textContent).toContain("4.0 MiB in 3 chunks");
    expect(detail.textContent).toContain("--format=custom --compress=0");
    expect(detail.textContent).toContain("pg_trgm 1.6 (public)");
    expect(detail.textContent).toContain("8.0 MiB");
    const counts = Array.from(detail.querySelectorAll("#snapshot-row-counts tbody tr")).map((r) => r.textContent);
    expect(counts).toEqual(["public.customers10", "public.orders990"]);

    await fireEvent.click($(container, "#snapshot-verify"));
    await settle();
    sendOnChannel(channel(), 0, progress("reading", 1024, 4096));
    await settle();
    expect($(container, "#snapshot-verify-phase").textContent).toBe("reading");
    verify.resolve({ snapshot_id: "1111aaaa2222bbbb", size: 4 * 1024 * 1024, sha256: "aa", archive_entries: 42, seconds: 1 });
    await settle();
    expect($(container, "#snapshot-verify-result").textContent).toBe(
      "Intact: 4.0 MiB authenticated, SHA-256 matches, pg_restore read 42 entries.",
    );
    expect($(container, '.snapshot-row[data-id="1111aaaa2222bbbb"]').querySelector(".verified-badge")).not.toBeNull();

    await fireEvent.click($(container, "#snapshot-restore"));
    expect(onrestore).toHaveBeenCalledWith("sales", "1111aaaa2222bbbb");
  });

  it("keeps a snapshot forever, and returns it to retention", async () => {
    const { calls } = mockBackend();
    const { container } = render(Timeline, { database: "sales", verifyJob: new VerifyJob(), onrestore: vi.fn() });
    await settle();
    await fireEvent.click($(container, '.snapshot-row[data-id="1111aaaa2222bbbb"] button'));
    await settle();
    expect($(container, "#snapshot-keep-forever").textContent?.trim()).toBe("Keep forever");

    await fireEvent.click($(container, "#snapshot-keep-forever"));
    await settle();
    expect($(container, "#snapshot-detail .kept-forever-badge").textContent).toBe("Kept forever");
    expect($(container, "#snapshot-keep-forever").textContent?.trim()).toBe("Return to retention");

    await fireEvent.click($(container, "#snapshot-keep-forever"));
    await settle();
    expect(container.querySelector("#snapshot-detail .kept-forever-badge")).toBeNull();
    expect(calls.filter((c) => c.cmd === "set_keep_forever").map((c) => c.args)).toEqual([
      { id: "1111aaaa2222bbbb", keep: true },
      { id: "1111aaaa2222bbbb", keep: false },
    ]);
  });
});
