import type { Channel } from "@tauri-apps/api/core";
import { mockIPC } from "@tauri-apps/api/mocks";
import { fireEvent, render } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { CheckResult, JobProgress } from "../lib/bindings";
import { CheckJob } from "../lib/check-job.svelte";
import { deferred, healthyResult, sendOnChannel, settle } from "../test/fixtures";
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

function $(container: HTMLElement, selector: string) {
  const element = container.querySelector<HTMLElement>(selector);
  if (!element) throw new Error(`${selector} not found`);
  return element;
}

describe("Check section", () => {
  it("streams progress, then reports a healthy repository", async () => {
    const { outcome, args } = mockCheck();
    const { container } = render(CheckSection, { job: new CheckJob() });

    await fireEvent.click($(container, "#check-read-data"));
    await fireEvent.click($(container, "#check-start"));
    await settle();

    expect(args().readData).toBe(true);
    expect(Number.isInteger(args().job)).toBe(true);
    expect(($(container, "#check-start") as HTMLButtonElement).disabled).toBe(true);
    // Before any message: indeterminate.
    expect($(container, "#check-progress").hasAttribute("value")).toBe(false);

    sendOnChannel(args().onProgress, 0, { phase: "checking structure", done_bytes: 0, total_bytes: null, item: null, items_done: 0 });
    await settle();
    expect($(container, "#check-phase").textContent).toBe("checking structure");
    expect($(container, "#check-progress").hasAttribute("value")).toBe(false);

    sendOnChannel(args().onProgress, 1, { phase: "checking packs", done_bytes: 256 * 1024, total_bytes: 1024 * 1024, item: null, items_done: 0 });
    await settle();
    const bar = $(container, "#check-progress") as HTMLProgressElement;
    expect(bar.max).toBe(1024 * 1024);
    expect(bar.value).toBe(256 * 1024);
    expect(container.textContent).toContain("checking packs");
    expect(container.textContent).toContain("256 KiB");
    expect(container.textContent).toContain("25 %");

    outcome.resolve(healthyResult);
    await settle();
    expect(container.querySelector("#check-progress")).toBeNull();
    const result = $(container, "#check-result");
    expect(result.textContent).toContain("Healthy");
    expect(result.textContent).toContain("4 snapshots");
    expect(result.textContent).toContain("12 packs");
    expect(result.textContent).toContain("3,456 blobs");
    expect(result.textContent).toContain("5.0 MiB verified");
    expect(result.textContent).toContain("2.3 s");
    expect(($(container, "#check-start") as HTMLButtonElement).disabled).toBe(false);
  });

  it("lists problems and warnings of an unhealthy repository", async () => {
    const { outcome } = mockCheck();
    const { container } = render(CheckSection, { job: new CheckJob() });
    await fireEvent.click($(container, "#check-start"));
    await settle();
    outcome.resolve({
      ...healthyResult,
      healthy: false,
      errors: ["pack 1a2b is missing from the repository", "snapshot 9f8e is damaged"],
      warnings: ["3 unreferenced packs: prune removes them"],
      next_steps: ["`lifeboat repair index` rebuilds the index", "run `lifeboat check --read-data` again"],
    });
    await settle();
    const result = $(container, "#check-result");
    expect(result.textContent).not.toContain("Healthy");
    expect(result.querySelectorAll(".check-errors li")).toHaveLength(2);
    expect(result.querySelectorAll(".check-next-steps li")).toHaveLength(2);
    expect($(container, "#check-warnings").textContent).toContain("3 unreferenced packs");
  });

  it("cancels the running job", async () => {
    const { outcome, calls, args } = mockCheck();
    const { container } = render(CheckSection, { job: new CheckJob() });
    await fireEvent.click($(container, "#check-start"));
    await settle();
    await fireEvent.click($(container, "#check-cancel"));
    await settle();
    expect(calls.find((c) => c.cmd === "cancel_job")?.args).toEqual({ job: args().job });
    expect($(container, "#check-cancel").textContent).toContain("Cancelling…");

    outcome.reject({ code: "cancelled", message: "cancelled" });
    await settle();
    expect($(container, "#check-result").textContent).toContain("Check cancelled");
    expect(container.querySelector("#check-cancel")).toBeNull();
  });

  it("shows why a check could not run", async () => {
    const { outcome } = mockCheck();
    const { container } = render(CheckSection, { job: new CheckJob() });
    await fireEvent.click($(container, "#check-start"));
    await settle();
    outcome.reject({ code: "locked", message: "the repository is locked by prune on nas-host: wait for it to finish" });
    await settle();
    const alert = $(container, "#check-error");
    expect(alert.getAttribute("role")).toBe("alert");
    expect(alert.textContent).toContain("locked by prune");
  });
});
