// Which events become desktop notifications: each choice is saved as soon
// as it is made.

import * as api from "./api";
import type { NotificationPrefs } from "./bindings";
import { FormState } from "./form.svelte";
import { Resource } from "./resource.svelte";

export type Topic = keyof NotificationPrefs;

// Keyed by the generated type: a topic added on the Rust side fails the type check here.
const TOPICS: Record<Topic, { label: string; hint: string }> = {
  failures: { label: "Failures", hint: "A backup, verify, drill or restore fails." },
  restores: { label: "Restores", hint: "A database is restored, also automatically." },
  staleness: { label: "Stale backups", hint: "A database goes too long without a successful backup." },
  successes: { label: "Successes (off by default)", hint: "Every backup, checkpoint, verify, passed drill and retention run." },
};

/** The checkboxes, in order; each one's id is `notify-${topic}`. */
export const NOTIFICATION_TOPICS = (Object.keys(TOPICS) as Topic[]).map((topic) => ({ topic, id: `notify-${topic}`, ...TOPICS[topic] }));

export class NotificationSettings {
  readonly prefs = new Resource<NotificationPrefs>();
  readonly saving = new FormState();

  load(): Promise<boolean> {
    return this.prefs.load(api.notificationPrefs);
  }

  /** Shows the choice at once, and takes it back when it could not be saved. One save at a time. */
  set(topic: Topic, on: boolean): Promise<void> {
    const before = this.prefs.value;
    if (!before || this.saving.submitting) return Promise.resolve();
    const wanted = { ...before, [topic]: on };
    this.prefs.value = wanted;
    return this.saving.run(async () => {
      try {
        this.prefs.value = await api.setNotificationPrefs(wanted);
      } catch (e) {
        this.prefs.value = before;
        throw e;
      }
    });
  }
}
