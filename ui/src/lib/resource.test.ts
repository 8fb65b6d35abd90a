import { describe, expect, it } from "vitest";
import { deferred } from "../test/fixtures";
import { Resource } from "./resource.svelte";

describe("Resource", () => {
  it("keeps the value, or the error, of a load", async () => {
    const resource = new Resource<number>();
    expect(await resource.load(async () => 1)).toBe(true);
    expect(resource.value).toBe(1);
    expect(await resource.load(() => Promise.reject({ code: "locked", message: "locked" }))).toBe(false);
    expect(resource.error).toEqual({ code: "locked", message: "locked" });
    expect(resource.value).toBe(1);
    await resource.load(async () => 2);
    expect(resource.error).toBeNull();
  });

  it("lets the last load started win", async () => {
    const resource = new Resource<string>();
    const slow = deferred<string>();
    const first = resource.load(() => slow.promise);
    expect(resource.loading).toBe(true);
    await resource.load(async () => "second");
    slow.resolve("first");
    expect(await first).toBe(false);
    expect(resource.value).toBe("second");
    expect(resource.loading).toBe(false);
  });

  it("ignores a load that ends after clear", async () => {
    const resource = new Resource<string>();
    const slow = deferred<string>();
    const load = resource.load(() => slow.promise);
    resource.clear();
    slow.resolve("late");
    await load;
    expect(resource.value).toBeNull();
    expect(resource.loading).toBe(false);
  });
});
