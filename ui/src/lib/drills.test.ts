import { describe, expect, it } from "vitest";
import { drillEntry, drillReport, rehearsalReport } from "../test/fixtures";
import {
  addProbe,
  drillHeadline,
  drillOutcome,
  drillPassed,
  drillRequest,
  drillSummary,
  firstFailedCheck,
  isUpgradeLabel,
  lastDrillText,
  probeRows,
  probesOf,
  rehearsalMajors,
  rehearsalRequest,
  removeProbe,
  upgradeTarget,
  validateDrillServer,
  validateProbes,
  type ProbeRow,
} from "./drills";

const NOW = Date.now();

const row = (name: string, sql: string, expect: string): ProbeRow => probeRows([{ name, sql, expect }])[0];

describe("probe rows", () => {
  it("add a blank row expecting at least one, and remove a row by its key", () => {
    const rows = probeRows([{ name: "orders exist", sql: "select count(*) from orders", expect: ">= 1" }]);
    const added = addProbe(rows);
    expect(added).toHaveLength(2);
    expect(added[0]).toBe(rows[0]);
    expect(added[1]).toMatchObject({ name: "", sql: "", expect: ">= 1" });
    expect(new Set(added.map((r) => r.key)).size).toBe(2);
    expect(removeProbe(added, rows[0].key)).toEqual([added[1]]);
  });

  it("send the filled rows, trimmed, and drop the blank ones", () => {
    const rows = [row(" users ", " select count(*) from users ", " >= 1 "), row("", " ", ">= 1")];
    expect(probesOf(rows)).toEqual([{ name: "users", sql: "select count(*) from users", expect: ">= 1" }]);
    expect(validateProbes(rows)).toBeNull();
  });

  it("need a name, a query and a value to expect, naming the input", () => {
    expect(validateProbes([row("", "select 1", "= 1")])).toEqual({ field: "probe-0-name", message: expect.stringContaining("Probe 1") });
    expect(validateProbes([row("a", "select 1", "= 1"), row("b", "", "= 1")])?.field).toBe("probe-1-sql");
    expect(validateProbes([row("a", "select 1", ">=")])?.field).toBe("probe-0-expect");
    expect(validateProbes([row("a", "select 1", " ")])?.message).toContain('">= 1"');
    expect(validateProbes([row("a", "select status", "active")])).toBeNull();
  });
});

describe("Run now", () => {
  it("drills the latest snapshot on the server typed, with the probes", () => {
    expect(drillRequest("sales", " scratch ", [row("users", "select count(*) from users", ">= 1")])).toEqual({
      snapshot_id: "latest:sales",
      server: "scratch",
      probes: [{ name: "users", sql: "select count(*) from users", expect: ">= 1" }],
      rehearse_major: null,
    });
  });

  it("needs a server", () => {
    expect(validateDrillServer("  ")).toEqual({ field: "server", message: expect.stringContaining("postgres://") });
    expect(validateDrillServer("scratch")).toBeNull();
  });
});

describe("reports", () => {
  it("name the first failed check in the headline", () => {
    const failed = drillReport(false);
    failed.checks.push({ name: "users exist", passed: false, detail: "got 0" });
    expect(firstFailedCheck(failed)?.name).toBe("row counts");
    expect(drillHeadline(failed)).toBe("Drill FAILED: row counts");
    expect(drillHeadline(drillReport(true))).toBe("Drill passed");
    expect(firstFailedCheck(drillReport(true))).toBeNull();
    expect(drillHeadline({ ...failed, checks: [] })).toBe("Drill FAILED");
  });

  it("sum up what was restored where, and how many checks passed", () => {
    expect(drillSummary(drillReport(true))).toBe(
      "Snapshot 3333cccc of sales restored into lifeboat_drill_sales_20250302 on scratch in 12.5 s; all 3 checks passed.",
    );
    expect(drillSummary(drillReport(false))).toMatch(/; 2 of 3 checks passed\.$/);
    expect(drillSummary({ ...drillReport(true), checks: [] })).toMatch(/; no checks ran\.$/);
  });
});

describe("history", () => {
  it("counts only a drill whose checks all passed as passed", () => {
    expect(drillPassed(drillEntry(1, drillReport(true), 2))).toBe(true);
    expect(drillPassed(drillEntry(2, drillReport(false), 2))).toBe(false);
    expect(drillPassed(drillEntry(3, null, 2))).toBe(false);
  });

  it("badges the checks' verdict, or the run's status when they did not run", () => {
    expect(drillOutcome(drillEntry(1, drillReport(true), 2))).toEqual({ label: "Passed", tone: "success" });
    expect(drillOutcome(drillEntry(2, drillReport(false), 2))).toEqual({ label: "FAILED", tone: "danger" });
    expect(drillOutcome({ ...drillEntry(3, null, 2), status: "cancelled" })).toEqual({ label: "Cancelled", tone: "warning" });
  });

  it("says on the card how the last drill went, and when", () => {
    expect(lastDrillText(drillEntry(1, drillReport(true), 2, NOW), NOW)).toBe("Drill passed 2 hours ago");
    expect(lastDrillText(drillEntry(2, drillReport(false), 26, NOW), NOW)).toBe("Drill FAILED 1 day ago: row counts");
    expect(lastDrillText(drillEntry(3, null, 3, NOW), NOW)).toBe("Drill failed 3 hours ago");
    expect(lastDrillText({ ...drillEntry(4, null, 0, NOW), status: "running" }, NOW)).toBe("Drill running");
  });
});

describe("upgrade rehearsals", () => {
  it("read the target major from a checkpoint's label", () => {
    expect(upgradeTarget("before 15 -> 18")).toBe(18);
    expect(upgradeTarget("before 16 → 17 upgrade")).toBe(17);
    expect(upgradeTarget("Before upgrading 15.4 to 17")).toBe(17);
    expect(upgradeTarget("before the upgrade to PostgreSQL 18")).toBe(18);
    expect(upgradeTarget("before schema migration 42")).toBeNull();
    expect(upgradeTarget(null)).toBeNull();
    expect(isUpgradeLabel("before the upgrade")).toBe(true);
    expect(isUpgradeLabel("before 15 -> 18")).toBe(true);
    expect(isUpgradeLabel("before deploy 2.3")).toBe(false);
  });

  it("offer each newer major, with the install that would run it", () => {
    const install = (major: number) => ({ major, version: `${major}.1`, bin_dir: `/pg/${major}/bin`, source: null });
    const majors = rehearsalMajors(15, [install(13), install(15), install(17), install(19)]);
    expect(majors.map((m) => [m.major, m.install?.version ?? null])).toEqual([
      [16, null],
      [17, "17.1"],
      [18, null],
      [19, "19.1"],
    ]);
    expect(rehearsalMajors(18, []).length).toBe(0);
  });

  it("rehearse one snapshot on this workstation with the saved probes", () => {
    const probes = [{ name: "users", sql: "select count(*) from users", expect: ">= 1" }];
    expect(rehearsalRequest("3333cccc4444dddd", 18, probes)).toEqual({
      snapshot_id: "3333cccc4444dddd",
      server: "local",
      probes,
      rehearse_major: 18,
    });
  });

  it("name the major in the headline and the restore's time in the summary", () => {
    const report = rehearsalReport();
    expect(drillHeadline(report)).toBe("Rehearsal onto PostgreSQL 18 FAILED: probe: checkpoints");
    expect(drillHeadline({ ...report, passed: true })).toBe("Rehearsal onto PostgreSQL 18 passed");
    expect(drillSummary(report)).toBe(
      "Snapshot 3333cccc of sales restored on this workstation (a scratch PostgreSQL 18.6 cluster) in 12.5 s (the restore 8.3 s); 2 of 3 checks passed.",
    );
  });
});
