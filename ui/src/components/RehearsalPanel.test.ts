import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { ServerInstall } from "../lib/bindings";
import { RehearsalJob } from "../lib/database-jobs.svelte";
import { deferred, mockCommands, rehearsalReport, salesSchedule } from "../test/fixtures";
import RehearsalPanel from "./RehearsalPanel.svelte";

const install = (major: number): ServerInstall => ({ major, version: `${major}.6`, bin_dir: `/pg/${major}/bin`, source: null });

/** The backend: PostgreSQL 15 and 18 installed; 17 installable. */
function mockBackend() {
  let installs = [install(15), install(18)];
  const rehearsal = deferred<ReturnType<typeof rehearsalReport>>();
  const sent = mockCommands((cmd, args) => {
    switch (cmd) {
      case "server_installs":
        return installs;
      case "install_server":
        installs = [...installs, install(args.major as number)];
        return install(args.major as number);
      case "schedules":
        return [salesSchedule()];
      case "drill_snapshot":
        return rehearsal.promise;
    }
    throw new Error(`unexpected ${cmd}`);
  });
  return { sent, rehearsal };
}

const majorSelect = () => screen.getByRole<HTMLSelectElement>("combobox", { name: "Upgrade to" });
const rehearseButton = () => screen.getByRole<HTMLButtonElement>("button", { name: /^(Rehearse upgrade|Rehearsing…)$/ });

describe("RehearsalPanel", () => {
  it("rehearses onto the major the checkpoint's label named, with the saved probes, and shows what to fix", async () => {
    const { sent, rehearsal } = mockBackend();
    render(RehearsalPanel, { job: new RehearsalJob(), snapshotId: "3333cccc4444dddd", tag: "sales", sourceMajor: 15, suggested: 18 });
    await screen.findByRole("option", { name: "PostgreSQL 18 (18.6 installed)" });
    expect([...majorSelect().options].map((o) => o.textContent)).toEqual([
      "PostgreSQL 16 (not installed)",
      "PostgreSQL 17 (not installed)",
      "PostgreSQL 18 (18.6 installed)",
    ]);
    expect(majorSelect().value).toBe("18");

    await fireEvent.click(rehearseButton());
    await waitFor(() => expect(sent("drill_snapshot")).toHaveLength(1));
    expect(sent("drill_snapshot")[0]).toMatchObject({
      request: { snapshot_id: "3333cccc4444dddd", server: "local", rehearse_major: 18, probes: salesSchedule().form.probes },
    });
    rehearsal.resolve(rehearsalReport());
    const result = await screen.findByRole("status");
    expect(within(result).getByText("Rehearsal onto PostgreSQL 18 FAILED: probe: checkpoints")).toBeTruthy();
    expect(within(result).getByText("What to do: read the release notes of 18")).toBeTruthy();
    const extensions = screen.getByRole("table");
    expect(within(extensions).getByText("pg_trgm")).toBeTruthy();
    expect(screen.getByText(/The restore took 8\.\d s here/)).toBeTruthy();
  });

  it("installs a major that is not there before it can be rehearsed onto", async () => {
    const { sent } = mockBackend();
    render(RehearsalPanel, { job: new RehearsalJob(), snapshotId: "3333cccc4444dddd", tag: "sales", sourceMajor: 15, suggested: 17 });
    await screen.findByRole("option", { name: "PostgreSQL 18 (18.6 installed)" });
    expect(rehearseButton().disabled).toBe(true);
    await fireEvent.click(screen.getByRole("button", { name: "Install PostgreSQL 17" }));
    await waitFor(() => expect(sent("install_server")).toEqual([{ major: 17 }]));
    await waitFor(() => expect(rehearseButton().disabled).toBe(false));
    expect(majorSelect().selectedOptions[0].textContent).toBe("PostgreSQL 17 (17.6 installed)");
  });
});
