import type { Channel } from "@tauri-apps/api/core";
import { mockIPC } from "@tauri-apps/api/mocks";
import { fireEvent, render } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { JobProgress, Preflight, RestoreReport, RestoreRequest, VerifyReport } from "../lib/bindings";
import { RestoreWizard } from "../lib/restore-wizard.svelte";
import { deferred, progress, salesCard, salesTimeline, sendOnChannel, settle } from "../test/fixtures";
import Restore from "./Restore.svelte";

const notEmpty: Preflight = {
  target_server_version: "17.2",
  database_exists: true,
  database_empty: false,
  missing_roles: ["reporting"],
  missing_extensions: [],
  refusal: "database sales on db2:5432 is not empty: restore into a new database name, or pass --force to replace it",
  warnings: ["the dump came from PostgreSQL 16"],
};

const report: RestoreReport = {
  snapshot_id: "3333cccc4444dddd",
  target: "postgres://app@db2:5432/sales",
  database: "sales",
  bytes: 5 * 1024 * 1024,
  seconds: 12.5,
  previous_database_kept_as: "sales_before_restore_20250302",
  roles_created: ["reporting"],
  tables: [
    { table: "public.orders", expected: 990, restored: 990 },
    { table: "public.audit", expected: 10, restored: 9 },
  ],
  warnings: [],
};

const verifyReport: VerifyReport = { snapshot_id: "3333cccc4444dddd", size: 5 * 1024 * 1024, sha256: "bb", archive_entries: 40, seconds: 1 };

function mockBackend() {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  const restore = deferred<RestoreReport>();
  const channels: Record<string, Channel<JobProgress>> = {};
  mockIPC((cmd, args) => {
    const a = args as Record<string, unknown>;
    calls.push({ cmd, args: a });
    switch (cmd) {
      case "databases":
        return [salesCard()];
      case "timeline":
        return salesTimeline();
      case "restore_preflight":
        return (a.request as RestoreRequest).confirm_database === "sales" ? { ...notEmpty, refusal: null } : notEmpty;
      case "verify_snapshot":
        return verifyReport;
      case "restore_snapshot":
        channels.restore = a.onProgress as Channel<JobProgress>;
        return restore.promise;
      case "cancel_job":
        return true;
    }
    throw new Error(`unexpected ${cmd}`);
  });
  return { calls, restore, channel: () => channels.restore };
}

function $<T extends HTMLElement = HTMLElement>(container: HTMLElement, selector: string) {
  const element = container.querySelector<T>(selector);
  if (!element) throw new Error(`${selector} not found`);
  return element;
}

const disabled = (container: HTMLElement, selector: string) => $<HTMLButtonElement>(container, selector).disabled;

async function type(container: HTMLElement, selector: string, value: string) {
  await fireEvent.input($(container, selector), { target: { value } });
}

async function toTarget(container: HTMLElement) {
  await settle();
  await fireEvent.click($(container, "#restore-next-source"));
  await settle();
}

describe("Restore wizard", () => {
  it("offers the newest snapshot first, as latest", async () => {
    mockBackend();
    const { container } = render(Restore, { wizard: new RestoreWizard() });
    await settle();
    expect($<HTMLSelectElement>(container, "#restore-database").value).toBe("sales");
    const snapshot = $<HTMLSelectElement>(container, "#restore-snapshot");
    expect(snapshot.value).toBe("3333cccc4444dddd");
    expect(snapshot.options[0].textContent).toMatch(/^latest: /);
    expect(snapshot.options[1].value).toBe("1111aaaa2222bbbb");
    expect($(container, '.wizard-step[aria-current="step"]').textContent).toContain("Source");
  });

  it("needs a preflight, and the typed name to replace a database with data", async () => {
    const { calls } = mockBackend();
    const { container } = render(Restore, { wizard: new RestoreWizard() });
    await toTarget(container);
    expect($<HTMLInputElement>(container, "#restore-target-db").value).toBe("sales");
    expect(disabled(container, "#restore-next-target")).toBe(true);

    await fireEvent.change($(container, "#restore-fill-from"), { target: { value: "sales" } });
    expect($<HTMLInputElement>(container, "#restore-host").value).toBe("db1.example");
    expect($<HTMLInputElement>(container, "#restore-user").value).toBe("app");
    await type(container, "#restore-host", "db2");
    await fireEvent.click($(container, "#restore-check"));
    await settle();

    expect(calls.find((c) => c.cmd === "restore_preflight")?.args.request).toEqual({
      snapshot_id: "3333cccc4444dddd",
      target: { host: "db2", port: 5432, database: "sales", user: "app", tls: "prefer", password: null, saved_password_of: "sales", pg_bin: null },
      confirm_database: null,
      owner: null,
    });
    const preflight = $(container, "#restore-preflight");
    expect(preflight.textContent).toContain("PostgreSQL 17.2");
    expect(preflight.textContent).toContain("has data");
    expect(preflight.textContent).toContain("reporting");
    expect(preflight.textContent).toContain("the dump came from PostgreSQL 16");
    expect(preflight.textContent).toContain("is not empty");
    expect($(container, "#restore-confirm-name-hint").textContent).toContain(
      "This database is not empty. Type its name to replace it; the current one is kept, renamed.",
    );
    expect(disabled(container, "#restore-next-target")).toBe(true);

    await type(container, "#restore-confirm-name", "sale");
    expect(disabled(container, "#restore-next-target")).toBe(true);
    await type(container, "#restore-confirm-name", "sales");
    expect(disabled(container, "#restore-next-target")).toBe(false);

    // Another target: the preflight no longer holds.
    await type(container, "#restore-port", "5433");
    expect(container.querySelector("#restore-preflight")).toBeNull();
    expect(disabled(container, "#restore-next-target")).toBe(true);
  });

  it("verifies, restores with progress, and reports", async () => {
    const { calls, restore, channel } = mockBackend();
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const wizard = new RestoreWizard();
    const { container } = render(Restore, { wizard });
    await toTarget(container);
    await type(container, "#restore-host", "db2");
    await type(container, "#restore-user", "app");
    await type(container, "#restore-password", "pw");
    await fireEvent.click($(container, "#restore-check"));
    await settle();
    await type(container, "#restore-confirm-name", "sales");
    await fireEvent.click($(container, "#restore-next-target"));
    await settle();

    expect(disabled(container, "#restore-next-verify")).toBe(true);
    await fireEvent.click($(container, "#restore-verify"));
    await settle();
    expect($(container, "#restore-verify-result").textContent).toContain("pg_restore read 40 entries");
    expect(calls.find((c) => c.cmd === "verify_snapshot")?.args.id).toBe("3333cccc4444dddd");
    await fireEvent.click($(container, "#restore-next-verify"));
    await settle();

    await fireEvent.click($(container, "#restore-start"));
    await settle();
    const request = calls.find((c) => c.cmd === "restore_snapshot")?.args.request as RestoreRequest;
    expect(request.confirm_database).toBe("sales");
    expect(request.target).toMatchObject({ host: "db2", password: "pw", saved_password_of: null });
    sendOnChannel(channel(), 0, progress("restoring", 1024 * 1024, 5 * 1024 * 1024));
    await settle();
    expect($(container, "#restore-phase").textContent).toBe("restoring");
    expect(container.querySelector("#restore-cancel-job")).not.toBeNull();

    restore.resolve(report);
    await settle();
    const result = $(container, "#restore-result");
    expect(result.textContent).toContain("Restored snapshot 3333cccc into sales");
    expect(result.textContent).toContain("12.5 s");
    expect(result.textContent).toContain("sales_before_restore_20250302");
    const rows = Array.from(container.querySelectorAll("#restore-rows tbody tr"));
    expect(rows).toHaveLength(2);
    expect(rows[1].querySelector(".rows-differ")).not.toBeNull();
    expect(rows[0].querySelector(".rows-differ")).toBeNull();
    expect($<HTMLTextAreaElement>(container, "#restore-report").value).toContain("- public.audit: 10 / 9  DIFFERS");
    expect($<HTMLTextAreaElement>(container, "#restore-report").readOnly).toBe(true);

    await fireEvent.click($(container, "#restore-copy"));
    await settle();
    expect(writeText).toHaveBeenCalledWith(wizard.report);
    expect($(container, "#restore-copied").textContent).toBe("Copied");

    await fireEvent.click($(container, "#restore-again"));
    await settle();
    expect(container.querySelector("#restore-next-source")).not.toBeNull();
  });

  it("offers to go back to the target when the restore is refused", async () => {
    const { restore } = mockBackend();
    const wizard = new RestoreWizard();
    const { container } = render(Restore, { wizard });
    await settle();
    wizard.step = "restore";
    await settle();
    await fireEvent.click($(container, "#restore-start"));
    restore.reject({ code: "restore_refused", message: "database sales on db2:5432 is not empty" });
    await settle();
    expect($(container, "#restore-error").dataset.code).toBe("restore_refused");
    await fireEvent.click($(container, "#restore-to-target"));
    await settle();
    expect(container.querySelector("#restore-check")).not.toBeNull();
  });
});
