import type { Channel } from "@tauri-apps/api/core";
import { mockIPC } from "@tauri-apps/api/mocks";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { CheckResult, JobProgress } from "../lib/bindings";
import { CheckJob } from "../lib/check-job.svelte";
import { deferred, healthyResult, sendOnChannel } from "../test/fixtures";
import CheckSection from "./CheckSection.svelte";

type CheckArgs = { readData: boolean; job: number; onProgress: Channel<JobProgress> };

// mockIPC hands the handler the Channel object itself; the test drives it
// through the same callback the Rust side would, message index included.
function mockCheck() {
  const outcome = deferred<CheckResult>();
  const calls: { cmd: string; args: unknown }[] = [];
  let check: CheckArgs | undefined;
  mockIPC((cmd, args) => {
    calls.push({ cmd, args });
    if (cmd === "check_repository") {
      check = args as CheckArgs;
      return outcome.promise;
    }
    if (cmd === "cancel_job") return true;
    throw new Error(`unexpected ${cmd}`);
  });
  return { outcome, calls, args: () => check! };
}

/** Renders the section and starts a check; resolves once the backend has the request. */
async function startCheck(args: () => CheckArgs | undefined) {
  render(CheckSection, { job: new CheckJob() });
  await fireEvent.click(screen.getByRole("button", { name: "Start check" }));
  await waitFor(() => expect(args()).toBeDefined());
}

const progressBar = () => screen.getByRole<HTMLProgressElement>("progressbar", { name: "Check progress" });

describe("Check section", () => {
  it("streams progress, then reports a healthy repository", async () => {
    const { outcome, args } = mockCheck();
    render(CheckSection, { job: new CheckJob() });
    const start = screen.getByRole<HTMLButtonElement>("button", { name: "Start check" });

    await fireEvent.click(screen.getByRole("checkbox", { name: "Read and verify every byte (slower)" }));
    await fireEvent.click(start);
    await waitFor(() => expect(args()).toBeDefined());

    expect(args().readData).toBe(true);
    expect(Number.isInteger(args().job)).toBe(true);
    expect(start.disabled).toBe(true);
    // Before any message: indeterminate.
    expect(progressBar().hasAttribute("value")).toBe(false);

    sendOnChannel(args().onProgress, 0, { phase: "checking structure", done_bytes: 0, total_bytes: null, item: null, items_done: 0 });
    await screen.findByText("checking structure");
    expect(progressBar().hasAttribute("value")).toBe(false);

    sendOnChannel(args().onProgress, 1, { phase: "checking packs", done_bytes: 256 * 1024, total_bytes: 1024 * 1024, item: null, items_done: 0 });
    await screen.findByText("checking packs");
    const bar = progressBar();
    expect(bar.max).toBe(1024 * 1024);
    expect(bar.value).toBe(256 * 1024);
    expect(document.body.textContent).toContain("256 KiB");
    expect(document.body.textContent).toContain("25 %");

    outcome.resolve(healthyResult);
    const result = await screen.findByRole("status");
    expect(screen.queryByRole("progressbar")).toBeNull();
    expect(result.textContent).toContain("Healthy");
    expect(result.textContent).toContain("4 snapshots");
    expect(result.textContent).toContain("12 packs");
    expect(result.textContent).toContain("3,456 blobs");
    expect(result.textContent).toContain("5.0 MiB verified");
    expect(result.textContent).toContain("2.3 s");
    expect(start.disabled).toBe(false);
  });

  it("lists problems and warnings of an unhealthy repository", async () => {
    const { outcome, args } = mockCheck();
    await startCheck(args);
    outcome.resolve({
      ...healthyResult,
      healthy: false,
      errors: ["pack 1a2b is missing from the repository", "snapshot 9f8e is damaged"],
      warnings: ["3 unreferenced packs: prune removes them"],
      next_steps: ["`lifeboat repair index` rebuilds the index", "run `lifeboat check --read-data` again"],
    });
    const result = await screen.findByRole("status");
    expect(result.textContent).not.toContain("Healthy");
    const [errors, nextSteps] = within(result).getAllByRole("list");
    expect(within(errors).getAllByRole("listitem")).toHaveLength(2);
    expect(within(nextSteps).getAllByRole("listitem")).toHaveLength(2);
    expect(screen.getByText("Warnings")).toBeTruthy();
    expect(screen.getByText("3 unreferenced packs: prune removes them")).toBeTruthy();
  });

  it("cancels the running job", async () => {
    const { outcome, calls, args } = mockCheck();
    await startCheck(args);
    const cancel = screen.getByRole("button", { name: "Cancel" });
    await fireEvent.click(cancel);
    await waitFor(() => expect(calls.find((c) => c.cmd === "cancel_job")?.args).toEqual({ job: args().job }));
    expect(cancel.textContent).toContain("Cancelling…");

    outcome.reject({ code: "cancelled", message: "cancelled" });
    expect((await screen.findByRole("status")).textContent).toContain("Check cancelled");
    expect(screen.queryByRole("button", { name: /^Cancel/ })).toBeNull();
  });

  it("shows why a check could not run", async () => {
    const { outcome, args } = mockCheck();
    await startCheck(args);
    outcome.reject({ code: "locked", message: "the repository is locked by prune on nas-host: wait for it to finish" });
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("locked by prune");
  });
});
