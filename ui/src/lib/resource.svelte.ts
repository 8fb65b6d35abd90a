// Data a screen loads from the backend (lists, details): the value, the
// error, and whether a load runs. Of overlapping loads the last one started
// wins, so a quick change of selection never shows stale data.

import * as api from "./api";
import type { ApiError } from "./bindings";

export class Resource<T> {
  value: T | null = $state(null);
  error: ApiError | null = $state(null);
  loading = $state(false);
  private latest = 0;

  /** Loads with `fetch`; false when it failed or a later load overtook it. */
  async load(fetch: () => Promise<T>): Promise<boolean> {
    const mine = ++this.latest;
    this.loading = true;
    try {
      const value = await fetch();
      if (mine !== this.latest) return false;
      this.value = value;
      this.error = null;
      return true;
    } catch (e) {
      if (mine === this.latest) this.error = api.toApiError(e);
      return false;
    } finally {
      if (mine === this.latest) this.loading = false;
    }
  }

  /** Forgets the value; a load still running is ignored when it ends. */
  clear(): void {
    this.latest++;
    this.value = null;
    this.error = null;
    this.loading = false;
  }
}
