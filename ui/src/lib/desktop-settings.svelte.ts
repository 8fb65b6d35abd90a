// The app's own settings: whether closing the window keeps Lifeboat (and its
// scheduler) in the tray, and whether it starts at login.

import * as api from "./api";
import type { DesktopSettings } from "./bindings";
import { ToggleSettings, type Toggle } from "./toggles.svelte";

const SETTINGS: Record<keyof DesktopSettings, { label: string; hint: string }> = {
  keep_running_in_tray: {
    label: "Keep running in the tray when the window closes",
    hint: "Schedules, drills and alarms go on; quit from the tray icon.",
  },
  start_at_login: {
    label: "Start Lifeboat at login",
    hint: "So scheduled backups run without anyone opening the app.",
  },
};

/** The checkboxes, in order; each one's id is `setting-${key}` with dashes. */
export const DESKTOP_TOGGLES: Toggle<DesktopSettings>[] = (Object.keys(SETTINGS) as (keyof DesktopSettings)[]).map((key) => ({
  key,
  id: `setting-${key.replaceAll("_", "-")}`,
  ...SETTINGS[key],
}));

export const desktopSettings = () => new ToggleSettings<DesktopSettings>(api.desktopSettings, api.setDesktopSettings);
