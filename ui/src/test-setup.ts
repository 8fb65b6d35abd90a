// Vitest setup: what jsdom lacks; after each test, unmount rendered components and remove the IPC mock.
import { clearMocks } from "@tauri-apps/api/mocks";
import { cleanup } from "@testing-library/svelte";
import { afterEach } from "vitest";

// jsdom does no layout, so it has no ResizeObserver (bind:clientWidth needs one): sizes stay 0.
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
};

afterEach(() => {
  cleanup();
  clearMocks();
  localStorage.clear();
  delete document.documentElement.dataset.theme;
});
