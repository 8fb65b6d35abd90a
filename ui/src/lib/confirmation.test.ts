import { describe, expect, it, vi } from "vitest";
import { deferred } from "../test/fixtures";
import { Confirmation } from "./confirmation.svelte";

describe("Confirmation", () => {
  it("asks about an item, forgetting the last attempt's error", () => {
    const removal = new Confirmation<string>();
    removal.error = { code: "other", message: "earlier failure" };
    removal.ask("sales");
    expect(removal.subject).toBe("sales");
    expect(removal.error).toBeNull();
    removal.cancel();
    expect(removal.subject).toBeNull();
  });

  it("runs the action on the item, busy meanwhile, then closes", async () => {
    const removal = new Confirmation<string>();
    const done = deferred<void>();
    const action = vi.fn(() => done.promise);
    removal.ask("sales");

    const confirmed = removal.confirm(action);
    expect(action).toHaveBeenCalledWith("sales");
    expect(removal.submitting).toBe(true);
    expect(removal.subject).toBe("sales");
    done.resolve();
    await confirmed;

    expect(removal.submitting).toBe(false);
    expect(removal.subject).toBeNull();
  });

  it("closes on failure too, keeping the error to show", async () => {
    const removal = new Confirmation<string>();
    removal.ask("sales");
    await removal.confirm(async () => {
      throw { code: "other", message: "in use" };
    });
    expect(removal.subject).toBeNull();
    expect(removal.error).toEqual({ code: "other", message: "in use" });
  });

  it("does nothing when nothing was asked", async () => {
    const removal = new Confirmation<string>();
    const action = vi.fn(async () => {});
    await removal.confirm(action);
    expect(action).not.toHaveBeenCalled();
  });
});
