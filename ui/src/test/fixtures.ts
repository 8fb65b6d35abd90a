// Shared test data and helpers for component tests.
import type { Channel } from "@tauri-apps/api/core";
import type { CheckResult, OpenRepository } from "../lib/bindings";

export const REPO_ID = "3f2a9c1be0d44a7f9a1c2b3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5";

export const openRepository: OpenRepository = {
  id: REPO_ID,
  location: "/mnt/nas/lifeboat",
  label: "Team NAS",
  opened_with: "passphrase",
  keychain_warning: null,
};

export const healthyResult: CheckResult = {
  healthy: true,
  read_data: true,
  errors: [],
  warnings: [],
  snapshots: 4,
  packs: 12,
  blobs: 3456,
  bytes_verified: 5 * 1024 * 1024,
  duration_ms: 2300,
};

/** A promise the test settles. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

type Internals = { runCallback(id: number, data: unknown): void };

/**
 * Sends a message through a Channel the way the Rust side does: the
 * channel's callback id, with an index that keeps the order.
 */
export function sendOnChannel<T>(channel: Channel<T>, index: number, message: T): void {
  const internals = (window as unknown as { __TAURI_INTERNALS__: Internals }).__TAURI_INTERNALS__;
  internals.runCallback(channel.id, { index, message });
}

/** Lets pending promises and Svelte's batched updates settle. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}
