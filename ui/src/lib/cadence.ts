// When a scheduled job runs, as the schedule forms edit it: a preset with
// its time and day, or five cron fields. The backend stores cron
// expressions only (presets expanded); these convert both ways. Pure
// functions, unit-tested.

import type { FieldError } from "./validation";

export type Preset = "none" | "hourly" | "daily" | "weekly" | "custom";

export const WEEKDAYS = [
  { value: "mon", label: "Monday" },
  { value: "tue", label: "Tuesday" },
  { value: "wed", label: "Wednesday" },
  { value: "thu", label: "Thursday" },
  { value: "fri", label: "Friday" },
  { value: "sat", label: "Saturday" },
  { value: "sun", label: "Sunday" },
] as const;

export type Weekday = (typeof WEEKDAYS)[number]["value"];

/** Cron numbers its days from Sunday = 0. */
const CRON_DAYS: readonly Weekday[] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/** The form's state; the time and day are kept while another preset is chosen. */
export type CadenceForm = {
  preset: Preset;
  /** HH:MM, for daily and weekly. */
  time: string;
  day: Weekday;
  /** Five cron fields, for custom. */
  cron: string;
};

export type CadenceField = "time" | "cron";

/** The preset select's options; `none` says what no schedule means for this job. */
export function presetOptions(none: string): { value: Preset; label: string }[] {
  return [
    { value: "none", label: none },
    { value: "hourly", label: "Every hour" },
    { value: "daily", label: "Every day" },
    { value: "weekly", label: "Every week" },
    { value: "custom", label: "Custom (cron)" },
  ];
}

// The backend's own defaults for "daily" and "weekly".
const DEFAULT_TIME = "02:00";
const DEFAULT_DAY: Weekday = "sun";

const pad = (n: number) => String(n).padStart(2, "0");

/** A cron field that is one plain number from `min` to `max`, else null. */
function number(field: string, min: number, max: number): number | null {
  if (!/^\d{1,2}$/.test(field)) return null;
  const n = Number(field);
  return n >= min && n <= max ? n : null;
}

/**
 * The form for a stored cron expression: hourly, daily and weekly when it is
 * one of theirs, else custom with the expression as it is.
 */
export function cadenceForm(cron: string | null): CadenceForm {
  const form: CadenceForm = { preset: "none", time: DEFAULT_TIME, day: DEFAULT_DAY, cron: "" };
  if (cron === null || cron.trim() === "") return form;
  const text = cron.trim();
  const fields = text.split(/\s+/);
  if (fields.join(" ") === "0 * * * *") return { ...form, preset: "hourly" };
  if (fields.length === 5 && fields[2] === "*" && fields[3] === "*") {
    const minute = number(fields[0], 0, 59);
    const hour = number(fields[1], 0, 23);
    const weekday = fields[4] === "*" ? null : number(fields[4], 0, 6);
    if (minute !== null && hour !== null) {
      const time = `${pad(hour)}:${pad(minute)}`;
      if (fields[4] === "*") return { ...form, preset: "daily", time };
      if (weekday !== null) return { ...form, preset: "weekly", time, day: CRON_DAYS[weekday] };
    }
  }
  return { ...form, preset: "custom", cron: text };
}

/** What the backend takes: a preset, five cron fields, or null for no schedule. */
export function cadenceText(form: CadenceForm): string | null {
  switch (form.preset) {
    case "none":
      return null;
    case "hourly":
      return "hourly";
    case "daily":
      return `daily ${form.time}`;
    case "weekly":
      return `weekly ${form.day} ${form.time}`;
    case "custom":
      return form.cron.trim();
  }
}

/** The field a backend error about this schedule belongs to. */
export function cadenceFieldOf(form: CadenceForm): CadenceField {
  return form.preset === "custom" ? "cron" : "time";
}

/** Null when the form can be sent; the backend checks the cron fields' values. */
export function validateCadence(form: CadenceForm): FieldError<CadenceField> | null {
  if ((form.preset === "daily" || form.preset === "weekly") && !/^([01]\d|2[0-3]):[0-5]\d$/.test(form.time)) {
    return { field: "time", message: "Pick the time of day it runs, as in 02:30." };
  }
  if (form.preset === "custom" && form.cron.trim().split(/\s+/).length !== 5) {
    return {
      field: "cron",
      message: "Enter five cron fields (minute hour day-of-month month day-of-week), as in 30 2 * * * for 02:30 every day.",
    };
  }
  return null;
}
