import { describe, expect, it } from "vitest";
import { cadenceForm, cadenceText, presetOptions, validateCadence, type CadenceForm } from "./cadence";

const form = (changes: Partial<CadenceForm>): CadenceForm => ({ ...cadenceForm(null), ...changes });

describe("cadenceForm", () => {
  it("is no schedule for none, with the backend's default time and day ready", () => {
    expect(cadenceForm(null)).toEqual({ preset: "none", time: "02:00", day: "sun", cron: "" });
    expect(cadenceForm("  ").preset).toBe("none");
  });

  it("recognises hourly", () => {
    expect(cadenceForm("0 * * * *").preset).toBe("hourly");
  });

  it("reads a daily time, zero-padded", () => {
    expect(cadenceForm("30 2 * * *")).toEqual({ preset: "daily", time: "02:30", day: "sun", cron: "" });
    expect(cadenceForm("5 23 * * *").time).toBe("23:05");
  });

  it("reads a weekly day and time, Sunday being 0", () => {
    expect(cadenceForm("0 3 * * 0")).toEqual({ preset: "weekly", time: "03:00", day: "sun", cron: "" });
    expect(cadenceForm("15 4 * * 1")).toMatchObject({ preset: "weekly", time: "04:15", day: "mon" });
    expect(cadenceForm("15 4 * * 6").day).toBe("sat");
  });

  it("falls back to custom, keeping the expression", () => {
    for (const cron of ["*/15 * * * *", "0 2 * * 1-5", "0 2 1 * *", "30 2 * 6 *", "0 2 * * 7", "0 2,14 * * *", "60 2 * * *", "0 24 * * *", "30 * * * *"]) {
      expect(cadenceForm(cron)).toEqual({ preset: "custom", time: "02:00", day: "sun", cron });
    }
    expect(cadenceForm(" 0 2 * * 1-5 ").cron).toBe("0 2 * * 1-5");
  });
});

describe("cadenceText", () => {
  it("sends presets in the backend's words", () => {
    expect(cadenceText(form({ preset: "none" }))).toBeNull();
    expect(cadenceText(form({ preset: "hourly" }))).toBe("hourly");
    expect(cadenceText(form({ preset: "daily", time: "02:30" }))).toBe("daily 02:30");
    expect(cadenceText(form({ preset: "weekly", day: "mon", time: "03:15" }))).toBe("weekly mon 03:15");
    expect(cadenceText(form({ preset: "custom", cron: " 0 2 * * 1-5 " }))).toBe("0 2 * * 1-5");
  });

  it("comes back as the form it was sent from", () => {
    const stored = { "daily 02:30": "30 2 * * *", "weekly mon 03:15": "15 3 * * 1" };
    for (const sent of [form({ preset: "daily", time: "02:30" }), form({ preset: "weekly", day: "mon", time: "03:15" })]) {
      const text = cadenceText(sent) as keyof typeof stored;
      expect(cadenceForm(stored[text])).toEqual(sent);
    }
  });
});

describe("validateCadence", () => {
  it("needs a time of day for daily and weekly", () => {
    expect(validateCadence(form({ preset: "daily", time: "" }))?.field).toBe("time");
    expect(validateCadence(form({ preset: "weekly", time: "24:00" }))?.field).toBe("time");
    expect(validateCadence(form({ preset: "daily", time: "23:59" }))).toBeNull();
    expect(validateCadence(form({ preset: "hourly", time: "" }))).toBeNull();
  });

  it("needs five cron fields for custom, saying what works", () => {
    const problem = validateCadence(form({ preset: "custom", cron: "0 2 * *" }));
    expect(problem).toEqual({ field: "cron", message: expect.stringContaining("30 2 * * *") });
    expect(validateCadence(form({ preset: "custom", cron: "" }))?.field).toBe("cron");
    expect(validateCadence(form({ preset: "custom", cron: "0 2 * * 1-5" }))).toBeNull();
  });

  it("lets no schedule through", () => {
    expect(validateCadence(form({ preset: "none", time: "" }))).toBeNull();
  });
});

describe("presetOptions", () => {
  it("names no schedule for the job", () => {
    expect(presetOptions("No scheduled drills").map((o) => [o.value, o.label])).toEqual([
      ["none", "No scheduled drills"],
      ["hourly", "Every hour"],
      ["daily", "Every day"],
      ["weekly", "Every week"],
      ["custom", "Custom (cron)"],
    ]);
  });
});
