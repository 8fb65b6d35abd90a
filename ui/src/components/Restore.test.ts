import type { Channel } from "@tauri-apps/api/core";
import { mockIPC } from "@tauri-apps/api/mocks";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { JobProgress, Preflight, RestoreReport, RestoreRequest, VerifyReport } from "../lib/bindings";
import { RestoreWizard } from "../lib/restore-wizard.svelte";
import { deferred, progress, salesCard, salesDetail, salesTimeline, sendOnChannel } from "../test/fixtures";
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
  jobs: 1,
  previous_database_kept_as: "sales_before_restore_20250302",
  roles_created: ["reporting"],
  tables: [
    { table: "public.orders", expected: 990, restored: 990 },
    { table: "public.audit", expected: 10, restored: 9 },
  ],
  placed_beside: [],
  warnings: [],
};

const verifyReport: VerifyReport = { snapshot_id: "3333cccc4444dddd", size: 5 * 1024 * 1024, sha256: "bb", archive_entries: 40, seconds: 1 };

/** The databases the mocked repository holds backups of. */
let backedUpTags = ["sales"];

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
      case "repository_overview":
        return { tags: backedUpTags.map((tag) => ({ tag })) };
      case "timeline":
        return salesTimeline();
      case "snapshot_detail":
        return salesDetail(salesTimeline().find((e) => e.summary.id === a.id)!);
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

async function type(element: HTMLElement, value: string) {
  await fireEvent.input(element, { target: { value } });
}

const button = (name: string | RegExp) => screen.getByRole<HTMLButtonElement>("button", { name });
const textbox = (name: string) => screen.getByRole<HTMLInputElement>("textbox", { name });
const select = (name: string) => screen.getByRole<HTMLSelectElement>("combobox", { name });

/** Renders the wizard once the snapshots of the preselected database are listed. */
async function renderLoaded(wizard = new RestoreWizard()) {
  render(Restore, { wizard });
  await screen.findByRole("option", { name: /^latest: / });
}

async function toTarget(wizard = new RestoreWizard()) {
  await renderLoaded(wizard);
  await fireEvent.click(button("Next: target"));
  await screen.findByRole("form", { name: "Where to?" });
}

/** Checks the target and waits for the preflight's findings. */
async function checkTarget() {
  await fireEvent.click(button("Check the target"));
  return screen.findByRole("status");
}

describe("Restore wizard", () => {
  it("lists every database the repository holds, saved connection or not (a fresh workstation has none)", async () => {
    backedUpTags = ["sales", "legacy_crm"];
    try {
      const { calls } = mockBackend();
      await renderLoaded();
      const names = within(select("Database")).getAllByRole<HTMLOptionElement>("option").map((o) => o.value);
      expect(names).toEqual(["legacy_crm", "sales"]);
      await fireEvent.change(select("Database"), { target: { value: "legacy_crm" } });
      await waitFor(() => expect(calls.some((c) => c.cmd === "timeline" && c.args.name === "legacy_crm")).toBe(true));
    } finally {
      backedUpTags = ["sales"];
    }
  });

  it("offers the newest snapshot first, as latest", async () => {
    mockBackend();
    await renderLoaded();
    expect(select("Database").value).toBe("sales");
    const snapshot = select("Snapshot");
    expect(snapshot.value).toBe("3333cccc4444dddd");
    const options = within(snapshot).getAllByRole<HTMLOptionElement>("option");
    expect(options[0].textContent).toMatch(/^latest: /);
    expect(options[1].value).toBe("1111aaaa2222bbbb");
    const steps = screen.getByRole("list", { name: "Steps" });
    expect(within(steps).getByRole("listitem", { current: "step" }).textContent).toContain("Source");
  });

  it("needs a preflight, and the typed name to replace a database with data", async () => {
    const { calls } = mockBackend();
    await toTarget();
    expect(textbox("Target database").value).toBe("sales");
    expect(button("Next: verify").disabled).toBe(true);

    await fireEvent.change(select("Fill from a saved connection (optional)"), { target: { value: "sales" } });
    expect(textbox("Host").value).toBe("db1.example");
    expect(textbox("User").value).toBe("app");
    await type(textbox("Host"), "db2");
    const preflight = await checkTarget();

    expect(calls.find((c) => c.cmd === "restore_preflight")?.args.request).toEqual({
      snapshot_id: "3333cccc4444dddd",
      target: { host: "db2", port: 5432, database: "sales", user: "app", tls: "prefer", password: null, saved_password_of: "sales", pg_bin: null },
      confirm_database: null,
      owner: null,
      no_owner: false,
      tables: [],
    });
    expect(preflight.textContent).toContain("PostgreSQL 17.2");
    expect(preflight.textContent).toContain("has data");
    expect(preflight.textContent).toContain("reporting");
    expect(preflight.textContent).toContain("the dump came from PostgreSQL 16");
    expect(preflight.textContent).toContain("is not empty");
    // The field's hint is its description.
    const confirmName = screen.getByRole("textbox", {
      name: "Type sales to go ahead",
      description: "This database is not empty. Type its name to replace it; the current one is kept, renamed.",
    });
    expect(button("Next: verify").disabled).toBe(true);

    await type(confirmName, "sale");
    expect(button("Next: verify").disabled).toBe(true);
    await type(confirmName, "sales");
    expect(button("Next: verify").disabled).toBe(false);

    // Another target: the preflight no longer holds.
    await type(textbox("Port"), "5433");
    expect(screen.queryByRole("status")).toBeNull();
    expect(button("Next: verify").disabled).toBe(true);
  });

  it("verifies, restores with progress, and reports", async () => {
    const { calls, restore, channel } = mockBackend();
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const wizard = new RestoreWizard();
    await toTarget(wizard);
    await type(textbox("Host"), "db2");
    await type(textbox("User"), "app");
    await type(screen.getByLabelText("Password"), "pw");
    await checkTarget();
    await type(textbox("Type sales to go ahead"), "sales");
    await fireEvent.click(button("Next: verify"));

    expect(button("Next: restore").disabled).toBe(true);
    await fireEvent.click(button("Verify"));
    expect((await screen.findByRole("status")).textContent).toContain("pg_restore read 40 entries");
    expect(calls.find((c) => c.cmd === "verify_snapshot")?.args.id).toBe("3333cccc4444dddd");
    await waitFor(() => expect(button("Next: restore").disabled).toBe(false));
    await fireEvent.click(button("Next: restore"));

    await fireEvent.click(button("Start restore"));
    await waitFor(() => expect(channel()).toBeDefined());
    const request = calls.find((c) => c.cmd === "restore_snapshot")?.args.request as RestoreRequest;
    expect(request.confirm_database).toBe("sales");
    expect(request.target).toMatchObject({ host: "db2", password: "pw", saved_password_of: null });
    sendOnChannel(channel(), 0, progress("restoring", 1024 * 1024, 5 * 1024 * 1024));
    expect(await screen.findByText("restoring")).toBeTruthy();
    expect(button("Cancel")).toBeTruthy();

    restore.resolve(report);
    const result = await screen.findByRole("region", { name: /^Restored snapshot/ });
    expect(result.textContent).toContain("Restored snapshot 3333cccc into sales");
    expect(result.textContent).toContain("12.5 s");
    expect(result.textContent).toContain("sales_before_restore_20250302");
    const [, body] = within(within(result).getByRole("table")).getAllByRole("rowgroup");
    const rows = within(body).getAllByRole("row");
    expect(rows).toHaveLength(2);
    expect(within(rows[1]).queryByText("differs")).not.toBeNull();
    expect(within(rows[0]).queryByText("differs")).toBeNull();
    const reportField = within(result).getByRole<HTMLTextAreaElement>("textbox", { name: "Report" });
    expect(reportField.value).toContain("- public.audit: 10 / 9  DIFFERS");
    expect(reportField.readOnly).toBe(true);

    await fireEvent.click(button("Copy report"));
    expect(await screen.findByText("Copied")).toBeTruthy();
    expect(writeText).toHaveBeenCalledWith(wizard.report);

    await fireEvent.click(button("Restore another"));
    expect(await screen.findByRole("button", { name: "Next: target" })).toBeTruthy();
  });

  it("offers to go back to the target when the restore is refused", async () => {
    const { restore } = mockBackend();
    const wizard = new RestoreWizard();
    await renderLoaded(wizard);
    wizard.step = "restore";
    await fireEvent.click(await screen.findByRole("button", { name: "Start restore" }));
    restore.reject({ code: "restore_refused", message: "database sales on db2:5432 is not empty" });
    expect((await screen.findByRole("alert")).dataset.code).toBe("restore_refused");
    await fireEvent.click(button("Back to the target"));
    expect(await screen.findByRole("button", { name: "Check the target" })).toBeTruthy();
  });
});
