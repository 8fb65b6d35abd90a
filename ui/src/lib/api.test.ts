import { mockIPC } from "@tauri-apps/api/mocks";
import { describe, expect, it } from "vitest";
import * as api from "./api";

describe("toApiError", () => {
  it("keeps the backend's errors", () => {
    expect(api.toApiError({ code: "wrong_passphrase", message: "wrong passphrase: no key slot opens with it" })).toEqual({
      code: "wrong_passphrase",
      message: "wrong passphrase: no key slot opens with it",
    });
  });

  it("wraps Tauri's string errors and unknown codes", () => {
    expect(api.toApiError("command check_repository not found")).toEqual({ code: "other", message: "command check_repository not found" });
    expect(api.toApiError({ code: "brand_new", message: "m" })).toEqual({ code: "other", message: "m" });
    expect(api.toApiError(new Error("boom"))).toEqual({ code: "other", message: "boom" });
    expect(api.toApiError(undefined).code).toBe("other");
  });
});

describe("commands", () => {
  it("pass arguments by their camelCase names", async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return cmd === "cancel_job" ? true : null;
    });
    await api.removeKey("abc");
    await api.cancelJob(42);
    await api.activity({ kinds: ["check"], statuses: [], limit: 10 });
    await api.addKey({ label: "Maria", passphrase: "long enough" });
    expect(calls).toEqual([
      ["remove_key", { id: "abc" }],
      ["cancel_job", { job: 42 }],
      ["activity", { filter: { kinds: ["check"], statuses: [], limit: 10 } }],
      ["add_key", { request: { label: "Maria", passphrase: "long enough" } }],
    ]);
  });

  it("reject with an ApiError", async () => {
    mockIPC(() => {
      throw { code: "no_repository_open", message: "no repository is open" };
    });
    await expect(api.keySlots()).rejects.toEqual({ code: "no_repository_open", message: "no repository is open" });
  });

  it("job ids are u32", () => {
    const id = api.newJobId();
    expect(Number.isInteger(id) && id >= 0 && id <= 0xffffffff).toBe(true);
  });
});
