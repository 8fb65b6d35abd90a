import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { DrillJob } from "../lib/database-jobs.svelte";
import { drillEntry, drillReport, mockDrillBackend, progress, salesSchedule, sendOnChannel } from "../test/fixtures";
import Drills from "./Drills.svelte";

const mockBackend = () => mockDrillBackend("scratch", [drillEntry(7, null, 48), drillEntry(6, drillReport(true), 72)]);

/** Renders the screen once the drills of "sales" are listed. */
async function renderLoaded() {
  render(Drills, { job: new DrillJob(), homeDir: "/home/ana" });
  await screen.findByRole("list", { name: "Drills of sales, newest first" });
}

async function type(element: Element, value: string) {
  await fireEvent.input(element, { target: { value } });
}

// An input with a datalist is a combobox.
const serverField = () => screen.getByRole<HTMLInputElement>("combobox", { name: "Drill server" });
const runButton = () => screen.getByRole<HTMLButtonElement>("button", { name: /^(Run now|Drilling…)$/ });
/** The history's rows (not the checks listed inside an opened one). */
const historyRows = () => {
  const list = screen.getByRole("list", { name: "Drills of sales, newest first" });
  return within(list)
    .getAllByRole("listitem")
    .filter((item) => item.parentElement === list);
};
const historyIds = () => historyRows().map((r) => [r.dataset.run, r.dataset.passed]);
const probeRows = () => within(screen.getByRole("group", { name: "SQL probes (optional)" })).queryAllByRole("listitem");

describe("Drills", () => {
  it("runs a drill now, with progress, and shows the failed check", async () => {
    const { sent, drill, channel } = mockBackend();
    await renderLoaded();
    expect(serverField().value).toBe("scratch");
    expect(serverField().getAttribute("placeholder")).toBe("a saved connection or postgres://user@host:5432/");
    // The datalist's suggestions are not rendered, so not accessible: `hidden` includes them.
    const suggestions = within(screen.getByRole("listbox", { hidden: true })).getAllByRole<HTMLOptionElement>("option", { hidden: true });
    expect(suggestions.map((o) => o.value)).toEqual(["sales", "scratch"]);

    await fireEvent.click(runButton());
    await waitFor(() => expect(sent("drill_snapshot")).toHaveLength(1));
    expect(sent("drill_snapshot")[0]).toMatchObject({ request: { snapshot_id: "latest:sales", server: "scratch", probes: salesSchedule().form.probes } });
    expect(runButton().disabled).toBe(true);
    sendOnChannel(channel(), 0, progress("restoring", 1024, 4096, "public.orders", 3));
    expect(await screen.findByText("restoring")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Cancel" })).toBeTruthy();

    drill.resolve(drillReport(false));
    const result = await screen.findByRole("status");
    expect(result.dataset.passed).toBe("false");
    expect(within(result).getByText("Drill FAILED: row counts")).toBeTruthy();
    const checks = within(result)
      .getAllByRole("listitem")
      .map((c) => [c.dataset.passed, c.textContent]);
    expect(checks).toHaveLength(3);
    expect(checks[1][0]).toBe("false");
    expect(checks[1][1]).toContain("row counts");
    expect(checks[1][1]).toContain("public.audit: 10 in the backup, 9 restored");
    expect(checks[0][0]).toBe("true");
    expect(screen.getByText("role reporting was created")).toBeTruthy();
    expect(runButton().disabled).toBe(false);
    await waitFor(() => expect(historyIds()[0]).toEqual(["8", "false"]));
  });

  it("lists the history, each drill's checks a click away", async () => {
    mockBackend();
    await renderLoaded();
    expect(historyIds()).toEqual([
      ["7", "false"],
      ["6", "true"],
    ]);
    const [failed, passed] = historyRows();
    expect(failed.textContent).toContain("Failed");
    expect(passed.textContent).toContain("Passed");
    expect(passed.textContent).toContain("3333cccc");
    expect(passed.textContent).toContain("scratch");
    expect(within(passed).queryByRole("list")).toBeNull();

    await fireEvent.click(within(passed).getByRole("button"));
    expect(within(passed).getAllByRole("listitem").map((c) => c.dataset.passed)).toEqual(["true", "true", "true"]);
    await fireEvent.click(within(failed).getByRole("button"));
    expect(failed.textContent).toContain("cannot connect to scratch: connection refused");
  });

  it("edits the probes and the schedule, and saves them", async () => {
    const { sent } = mockBackend();
    await renderLoaded();
    expect(probeRows()).toHaveLength(1);
    expect(screen.getByRole<HTMLSelectElement>("combobox", { name: "Drill" }).value).toBe("weekly");
    expect(screen.getByRole<HTMLSelectElement>("combobox", { name: "On" }).value).toBe("sun");
    expect(screen.getByLabelText<HTMLInputElement>("At").value).toBe("03:00");

    await fireEvent.click(screen.getByRole("button", { name: "Add probe" }));
    const added = within(probeRows()[1]);
    expect(added.getByRole<HTMLInputElement>("textbox", { name: "Expect" }).value).toBe(">= 1");
    await type(added.getByRole("textbox", { name: "Name" }), "users exist");
    await fireEvent.click(screen.getByRole("button", { name: "Save drill settings" }));
    expect((await screen.findByRole("alert")).textContent).toContain("Probe 2 needs a query");
    expect(document.activeElement).toBe(added.getByRole("textbox", { name: "Query" }));

    await type(added.getByRole("textbox", { name: "Query" }), "select count(*) from users");
    await fireEvent.click(screen.getByRole("button", { name: "Remove probe 1" }));
    await fireEvent.change(screen.getByRole("combobox", { name: "Drill" }), { target: { value: "custom" } });
    await type(screen.getByRole("textbox", { name: "Cron fields" }), "0 4 * * 1-5");
    await fireEvent.click(screen.getByRole("button", { name: "Save drill settings" }));
    const saved = await screen.findByRole("status");
    expect(sent("save_schedule")).toEqual([
      {
        form: {
          ...salesSchedule().form,
          drill: "0 4 * * 1-5",
          probes: [{ name: "users exist", sql: "select count(*) from users", expect: ">= 1" }],
        },
      },
    ]);
    expect(saved.textContent).toContain("Saved. Next drill:");
  });

  it("needs a drill server to run now", async () => {
    mockBackend();
    await renderLoaded();
    await type(serverField(), " ");
    expect(runButton().disabled).toBe(true);
    await type(serverField(), "postgres://admin@db9:5432/");
    expect(runButton().disabled).toBe(false);
  });

  it("exports the restore-test report of a period to a .pdf or .html file", async () => {
    const { sent } = mockBackend();
    await renderLoaded();
    const path = screen.getByRole<HTMLInputElement>("textbox", { name: "Save to" });
    expect(path.value).toMatch(/^\/home\/ana\/lifeboat-restore-tests-\d{4}-\d{2}-\d{2}\.pdf$/);
    await type(path, "/home/ana/audit.docx");
    await fireEvent.click(screen.getByRole("button", { name: "Export report" }));
    expect((await screen.findByRole("alert")).textContent).toContain(".pdf or .html");
    expect(sent("export_report")).toEqual([]);

    await type(path, "/home/ana/audit.html");
    await fireEvent.change(screen.getByRole("combobox", { name: "Period" }), { target: { value: "90" } });
    await fireEvent.click(screen.getByRole("button", { name: "Export report" }));
    const saved = await screen.findByText(/drills and restores, 1 passed/);
    expect(saved.textContent).toContain("/home/ana/audit.html");
    expect(sent("export_report")).toEqual([{ request: { since_days: 90, path: "/home/ana/audit.html", replace: false } }]);
  });
});
