import { fireEvent, render } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { DrillJob } from "../lib/database-jobs.svelte";
import { drillEntry, drillReport, mockDrillBackend, progress, salesSchedule, sendOnChannel, settle } from "../test/fixtures";
import Drills from "./Drills.svelte";

const mockBackend = () => mockDrillBackend("scratch", [drillEntry(7, null, 48), drillEntry(6, drillReport(true), 72)]);

function $<T extends HTMLElement = HTMLElement>(container: HTMLElement, selector: string) {
  const element = container.querySelector<T>(selector);
  if (!element) throw new Error(`${selector} not found`);
  return element;
}

async function type(element: Element, value: string) {
  await fireEvent.input(element, { target: { value } });
}

const historyRows = (container: HTMLElement) =>
  Array.from(container.querySelectorAll<HTMLElement>("#drill-history .drill-history-row")).map((r) => [r.dataset.run, r.dataset.passed]);

describe("Drills", () => {
  it("runs a drill now, with progress, and shows the failed check", async () => {
    const { sent, drill, channel } = mockBackend();
    const { container } = render(Drills, { job: new DrillJob() });
    await settle();
    expect($<HTMLInputElement>(container, "#drill-server").value).toBe("scratch");
    expect($(container, "#drill-server").getAttribute("placeholder")).toBe("a saved connection or postgres://user@host:5432/");
    const options = Array.from(container.querySelectorAll<HTMLOptionElement>("#drill-server-options option")).map((o) => o.value);
    expect(options).toEqual(["sales", "scratch"]);

    await fireEvent.click($(container, "#drill-run"));
    await settle();
    expect(sent("drill_snapshot")[0]).toMatchObject({ request: { snapshot_id: "latest:sales", server: "scratch", probes: salesSchedule().form.probes } });
    expect($<HTMLButtonElement>(container, "#drill-run").disabled).toBe(true);
    sendOnChannel(channel(), 0, progress("restoring", 1024, 4096, "public.orders", 3));
    await settle();
    expect($(container, "#drill-phase").textContent).toBe("restoring");
    expect(container.querySelector("#drill-cancel-job")).not.toBeNull();

    drill.resolve(drillReport(false));
    await settle();
    const result = $(container, "#drill-result");
    expect(result.dataset.passed).toBe("false");
    expect($(container, "#drill-headline").textContent).toBe("Drill FAILED: row counts");
    const checks = Array.from(result.querySelectorAll<HTMLElement>(".drill-check")).map((c) => [c.dataset.passed, c.textContent]);
    expect(checks).toHaveLength(3);
    expect(checks[1][0]).toBe("false");
    expect(checks[1][1]).toContain("row counts");
    expect(checks[1][1]).toContain("public.audit: 10 in the backup, 9 restored");
    expect(checks[0][0]).toBe("true");
    expect($(container, "#drill-warnings").textContent).toContain("role reporting was created");
    expect($<HTMLButtonElement>(container, "#drill-run").disabled).toBe(false);
    expect(historyRows(container)[0]).toEqual(["8", "false"]);
  });

  it("lists the history, each drill's checks a click away", async () => {
    mockBackend();
    const { container } = render(Drills, { job: new DrillJob() });
    await settle();
    expect(historyRows(container)).toEqual([
      ["7", "false"],
      ["6", "true"],
    ]);
    const [failed, passed] = container.querySelectorAll<HTMLElement>(".drill-history-row");
    expect(failed.textContent).toContain("Failed");
    expect(passed.textContent).toContain("Passed");
    expect(passed.textContent).toContain("3333cccc");
    expect(passed.textContent).toContain("scratch");
    expect(passed.querySelector(".drill-check")).toBeNull();

    await fireEvent.click($(passed, ".drill-history-open"));
    expect(Array.from(passed.querySelectorAll<HTMLElement>(".drill-check")).map((c) => c.dataset.passed)).toEqual(["true", "true", "true"]);
    await fireEvent.click($(failed, ".drill-history-open"));
    expect(failed.textContent).toContain("cannot connect to scratch: connection refused");
  });

  it("edits the probes and the schedule, and saves them", async () => {
    const { sent } = mockBackend();
    const { container } = render(Drills, { job: new DrillJob() });
    await settle();
    expect(container.querySelectorAll(".probe-row")).toHaveLength(1);
    expect($<HTMLSelectElement>(container, "#drill-preset").value).toBe("weekly");
    expect($<HTMLSelectElement>(container, "#drill-day").value).toBe("sun");
    expect($<HTMLInputElement>(container, "#drill-time").value).toBe("03:00");

    await fireEvent.click($(container, "#probe-add"));
    const added = container.querySelectorAll<HTMLElement>(".probe-row")[1];
    expect($<HTMLInputElement>(added, ".probe-expect").value).toBe(">= 1");
    await type($(added, ".probe-name"), "users exist");
    await fireEvent.click($(container, "#drill-save"));
    await settle();
    expect($(container, "#drill-form-error").textContent).toContain("Probe 2 needs a query");
    expect(document.activeElement).toBe($(added, ".probe-sql"));

    await type($(added, ".probe-sql"), "select count(*) from users");
    await fireEvent.click($(container.querySelectorAll<HTMLElement>(".probe-row")[0], ".probe-remove"));
    const preset = $<HTMLSelectElement>(container, "#drill-preset");
    preset.value = "custom";
    await fireEvent.change(preset);
    await type($(container, "#drill-cron"), "0 4 * * 1-5");
    await fireEvent.click($(container, "#drill-save"));
    await settle();
    const saved = salesSchedule().form;
    expect(sent("save_schedule")).toEqual([
      {
        form: {
          ...saved,
          drill: "0 4 * * 1-5",
          probes: [{ name: "users exist", sql: "select count(*) from users", expect: ">= 1" }],
        },
      },
    ]);
    expect($(container, "#drill-saved").textContent).toContain("Saved. Next drill:");
  });

  it("needs a drill server to run now", async () => {
    mockBackend();
    const { container } = render(Drills, { job: new DrillJob() });
    await settle();
    await type($(container, "#drill-server"), " ");
    expect($<HTMLButtonElement>(container, "#drill-run").disabled).toBe(true);
    await type($(container, "#drill-server"), "postgres://admin@db9:5432/");
    expect($<HTMLButtonElement>(container, "#drill-run").disabled).toBe(false);
  });
});
