// Light / dark / system theme, saved in localStorage. "system" follows
// prefers-color-scheme through CSS; light and dark set data-theme on <html>.

export type ThemePreference = "light" | "dark" | "system";

export const THEME_KEY = "lifeboat.theme";
const ORDER: ThemePreference[] = ["system", "light", "dark"];

export const THEME_LABELS: Record<ThemePreference, string> = {
  system: "System",
  light: "Light",
  dark: "Dark",
};

function isPreference(value: unknown): value is ThemePreference {
  return value === "light" || value === "dark" || value === "system";
}

export function loadTheme(storage: Pick<Storage, "getItem"> | undefined = globalThis.localStorage): ThemePreference {
  try {
    const value = storage?.getItem(THEME_KEY);
    return isPreference(value) ? value : "system";
  } catch {
    return "system";
  }
}

export function saveTheme(preference: ThemePreference, storage: Pick<Storage, "setItem"> | undefined = globalThis.localStorage): void {
  try {
    storage?.setItem(THEME_KEY, preference);
  } catch {
    // Storage unavailable: the choice lasts for this session only.
  }
}

export function applyTheme(preference: ThemePreference, root: HTMLElement = document.documentElement): void {
  if (preference === "system") delete root.dataset.theme;
  else root.dataset.theme = preference;
}

/** The toggle cycles system -> light -> dark -> system. */
export function nextTheme(preference: ThemePreference): ThemePreference {
  return ORDER[(ORDER.indexOf(preference) + 1) % ORDER.length];
}
