// Vitest setup: unmount rendered components and remove the IPC mock after each test.
import { clearMocks } from "@tauri-apps/api/mocks";
import { cleanup } from "@testing-library/svelte";
import { afterEach } from "vitest";

afterEach(() => {
  cleanup();
  clearMocks();
  localStorage.clear();
  delete document.documentElement.dataset.theme;
});
