import { mockIPC } from "@tauri-apps/api/mocks";
import { describe, expect, it } from "vitest";
import type { DesktopSettings } from "./bindings";
import { DESKTOP_TOGGLES, desktopSettings } from "./desktop-settings.svelte";

describe("desktop settings", () => {
  it("has a checkbox per setting", () => {
    expect(DESKTOP_TOGGLES.map((t) => t.id)).toEqual(["setting-keep-running-in-tray", "setting-start-at-login"]);
  });

  it("saves start-at-login through its own command and keeps the rest", async () => {
    const saved: DesktopSettings[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "desktop_settings") return { keep_running_in_tray: true, start_at_login: false };
      if (cmd === "set_desktop_settings") {
        const { settings } = args as { settings: DesktopSettings };
        saved.push(settings);
        return settings;
      }
      throw new Error(`unexpected ${cmd}`);
    });
    const settings = desktopSettings();
    await settings.load();
    await settings.set("start_at_login", true);
    expect(saved).toEqual([{ keep_running_in_tray: true, start_at_login: true }]);
    expect(settings.values.value).toEqual({ keep_running_in_tray: true, start_at_login: true });
  });
});
