// Which events become desktop notifications.

import * as api from "./api";
import type { NotificationPrefs } from "./bindings";
import { ToggleSettings, type Toggle } from "./toggles.svelte";

// Keyed by the generated type: a topic added on the Rust side fails the type check here.
const TOPICS: Record<keyof NotificationPrefs, { label: string; hint: string }> = {
  failures: { label: "Failures", hint: "A backup, verify, drill or restore fails." },
  restores: { label: "Restores", hint: "A database is restored, also automatically." },
  staleness: { label: "Stale backups", hint: "A database goes too long without a successful backup." },
  successes: { label: "Successes (off by default)", hint: "Every backup, checkpoint, verify, passed drill and retention run." },
};

/** The checkboxes, in order; each one's id is `notify-${topic}`. */
export const NOTIFICATION_TOPICS: Toggle<NotificationPrefs>[] = (Object.keys(TOPICS) as (keyof NotificationPrefs)[]).map((key) => ({
  key,
  id: `notify-${key}`,
  ...TOPICS[key],
}));

export const notificationSettings = () => new ToggleSettings<NotificationPrefs>(api.notificationPrefs, api.setNotificationPrefs);
