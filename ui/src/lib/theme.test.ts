import { describe, expect, it } from "vitest";
import { applyTheme, loadTheme, nextTheme, saveTheme, THEME_KEY } from "./theme";

describe("theme", () => {
  it("follows the system until chosen", () => {
    expect(loadTheme()).toBe("system");
    localStorage.setItem(THEME_KEY, "nonsense");
    expect(loadTheme()).toBe("system");
  });

  it("saves and loads the choice", () => {
    saveTheme("dark");
    expect(localStorage.getItem(THEME_KEY)).toBe("dark");
    expect(loadTheme()).toBe("dark");
  });

  it("sets data-theme for light and dark only", () => {
    const root = document.createElement("html");
    applyTheme("dark", root);
    expect(root.dataset.theme).toBe("dark");
    applyTheme("system", root);
    expect(root.dataset.theme).toBeUndefined();
  });

  it("cycles system, light, dark", () => {
    expect(nextTheme("system")).toBe("light");
    expect(nextTheme("light")).toBe("dark");
    expect(nextTheme("dark")).toBe("system");
  });

  it("survives a storage that throws", () => {
    const broken = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("denied");
      },
    };
    expect(loadTheme(broken)).toBe("system");
    expect(() => saveTheme("light", broken)).not.toThrow();
  });
});
