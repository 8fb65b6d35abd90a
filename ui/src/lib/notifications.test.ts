import { mockIPC } from "@tauri-apps/api/mocks";
import { describe, expect, it } from "vitest";
import { deferred } from "../test/fixtures";
import type { NotificationPrefs } from "./bindings";
import { NOTIFICATION_TOPICS, notificationSettings } from "./notifications.svelte";

const DEFAULTS: NotificationPrefs = { failures: true, restores: true, staleness: true, successes: false };

function mockBackend(set: (prefs: NotificationPrefs) => Promise<NotificationPrefs> | NotificationPrefs = (prefs) => prefs) {
  const saved: NotificationPrefs[] = [];
  mockIPC((cmd, args) => {
    if (cmd === "notification_prefs") return DEFAULTS;
    if (cmd === "set_notification_prefs") {
      const { prefs } = args as { prefs: NotificationPrefs };
      saved.push(prefs);
      return set(prefs);
    }
    throw new Error(`unexpected ${cmd}`);
  });
  return saved;
}

describe("notification settings", () => {
  it("has a checkbox per topic, successes saying they are off by default", () => {
    expect(NOTIFICATION_TOPICS.map((t) => t.id)).toEqual(["notify-failures", "notify-restores", "notify-staleness", "notify-successes"]);
    expect(NOTIFICATION_TOPICS[3].label).toBe("Successes (off by default)");
  });

  it("saves a choice as soon as it is made", async () => {
    const saved = mockBackend();
    const settings = notificationSettings();
    await settings.load();
    await settings.set("successes", true);
    expect(saved).toEqual([{ ...DEFAULTS, successes: true }]);
    expect(settings.values.value).toEqual({ ...DEFAULTS, successes: true });
  });

  it("shows the choice while it is saved, one save at a time", async () => {
    const reply = deferred<NotificationPrefs>();
    const saved = mockBackend(() => reply.promise);
    const settings = notificationSettings();
    await settings.load();
    const saving = settings.set("failures", false);
    expect(settings.values.value?.failures).toBe(false);
    await settings.set("restores", false);
    expect(settings.values.value?.restores).toBe(true);
    reply.resolve({ ...DEFAULTS, failures: false });
    await saving;
    expect(saved).toHaveLength(1);
    expect(settings.values.value).toEqual({ ...DEFAULTS, failures: false });
  });

  it("takes a choice back when it could not be saved", async () => {
    mockBackend(() => {
      throw { code: "other", message: "the catalog is read-only" };
    });
    const settings = notificationSettings();
    await settings.load();
    await settings.set("staleness", false);
    expect(settings.values.value).toEqual(DEFAULTS);
    expect(settings.saving.error?.message).toBe("the catalog is read-only");
  });
});
