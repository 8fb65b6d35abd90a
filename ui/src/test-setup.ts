// Vitest setup: Testing Library's wait limit, what jsdom lacks; after each test, unmount rendered components and remove the IPC mock.
import { clearMocks } from "@tauri-apps/api/mocks";
import { cleanup, configure } from "@testing-library/svelte";
import { afterEach } from "vitest";

// findBy* and waitFor give up after 5 s, not 1 s: a busy machine must not fail a test that only waits.
configure({ asyncUtilTimeout: 5000 });

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
